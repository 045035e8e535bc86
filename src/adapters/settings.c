/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Storage of the extension's settings; see settings.h.
 *
 * Notes:
 *	1) The stock-alert recipient is decided by a superuser (the setting,
 *	   PGC_SUSET: SET, ALTER DATABASE/ROLE ... SET) or else by an
 *	   administrator (one row of allocation.settings, written by
 *	   allocation.set_stock_alert_recipient), else it is the default.  A
 *	   user may not SET it, so it cannot steer alerts to its own address.
 *
 * src/adapters/settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "order.h"
#include "settings.h"

char	   *al_stock_alert_recipient = NULL;
int			al_notify_events = AL_NOTIFY_AUTO;
int			al_outbox_mode = AL_OUTBOX_TABLE;

bool
al_stock_alert_address_valid(const char *address)
{
	const char *at;

	if (address[0] == '\0' || al_email_valid(address))
		return true;
	/* a local mailbox: local@localhost, the local part as an e-mail's */
	at = strchr(address, '@');
	return at != NULL && strcmp(at, "@localhost") == 0 &&
		al_email_valid(psprintf("%.*s@localhost.localdomain",
								(int) (at - address), address));
}

/*
 * The recipient a superuser stored with ALTER DATABASE/ROLE ... SET, for
 * this database and the session's login role, in PostgreSQL's order of
 * precedence (database and role, role, database, all); NULL if none.
 *
 * The session's setting normally carries it.  But when the library is
 * loaded after the session started, a user's connection option for the
 * same name (PGOPTIONS="-c allocation.stock_alert_recipient=...") has
 * replaced the stored value before the setting was defined, and is then
 * refused as superuser-only: the setting falls back to unset and the
 * superuser's choice would be lost for that session.  Reading the catalog
 * here keeps it.
 */
static const char *
stored_superuser_choice(void)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2] = {ObjectIdGetDatum(MyDatabaseId),
							 ObjectIdGetDatum(GetSessionUserId())};
	const char *result = NULL;
	int			rc;

	rc = SPI_execute_with_args(
		"SELECT pg_catalog.substr(c, 34)"
		" FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c"
		" WHERE s.setdatabase OPERATOR(pg_catalog.=) ANY (ARRAY[$1, 0::pg_catalog.oid])"
		" AND s.setrole OPERATOR(pg_catalog.=) ANY (ARRAY[$2, 0::pg_catalog.oid])"
		" AND pg_catalog.starts_with(pg_catalog.lower(c),"
		"  'allocation.stock_alert_recipient=')"
		" ORDER BY s.setrole OPERATOR(pg_catalog.<>) 0::pg_catalog.oid DESC,"
		"  s.setdatabase OPERATOR(pg_catalog.<>) 0::pg_catalog.oid DESC"
		" LIMIT 1",
		2, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
	SPI_tuptable = NULL;
	return result;
}

const char *
al_stock_alert_recipient_get(void)
{
	const char *recipient;
	int			rc;

	if (al_stock_alert_recipient != NULL)
		return al_stock_alert_recipient;	/* a superuser's choice */
	if ((recipient = stored_superuser_choice()) != NULL)
		return recipient;
	recipient = AL_STOCK_ALERT_DEFAULT;
	rc = SPI_execute("SELECT stock_alert_recipient FROM allocation.settings",
					 true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		recipient = SPI_getvalue(SPI_tuptable->vals[0],
								 SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
	SPI_tuptable = NULL;
	return recipient ? recipient : "";
}

/*
 * allocation.set_stock_alert_recipient: store an administrator's choice
 * (NULL: none, the default again).  Beside its reader above; call it
 * inside an SPI session with the extension owner's rights.
 */
void
al_stock_alert_recipient_set(const char *recipient)
{
	int			rc;

	if (recipient == NULL)
		rc = SPI_execute("DELETE FROM allocation.settings", false, 0);
	else
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(recipient)};

		rc = SPI_execute_with_args("INSERT INTO allocation.settings (stock_alert_recipient)"
								   " VALUES ($1) ON CONFLICT (id) DO UPDATE"
								   " SET stock_alert_recipient = excluded.stock_alert_recipient",
								   1, argtypes, values, NULL, false, 0);
	}
	if (rc < 0)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
}
