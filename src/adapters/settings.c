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

#include "executor/spi.h"

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

const char *
al_stock_alert_recipient_get(void)
{
	const char *recipient = AL_STOCK_ALERT_DEFAULT;
	int			rc;

	if (al_stock_alert_recipient != NULL)
		return al_stock_alert_recipient;	/* a superuser's choice */
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
