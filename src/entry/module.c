/*-------------------------------------------------------------------------
 *
 * module.c
 *	  Module magic, the extension's settings and the registration of the
 *	  backend caches' invalidation callbacks.
 *
 * Notes:
 *	1) allocation.stock_alert_recipient is PGC_SUSET: only a superuser
 *	   sets it (SET, ALTER DATABASE/ROLE ... SET).  A user's SET made
 *	   before the library was loaded is a placeholder that PostgreSQL drops
 *	   with a WARNING when the setting is defined here.  Its boot value is
 *	   NULL, "not set": administrators then decide in allocation.settings
 *	   (settings.c).  The check hook refuses what is not an address.
 *
 * src/entry/module.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "mailer_api.h"
#include "session.h"
#include "settings.h"

static bool check_stock_alert_recipient(char **newval, void **extra,
										GucSource source);

PG_MODULE_MAGIC;

void		_PG_init(void);

static const struct config_enum_entry notify_options[] = {
	{"auto", AL_NOTIFY_AUTO, false},
	{"on", AL_NOTIFY_ON, false},
	{"off", AL_NOTIFY_OFF, false},
	{"true", AL_NOTIFY_ON, true},
	{"false", AL_NOTIFY_OFF, true},
	{"yes", AL_NOTIFY_ON, true},
	{"no", AL_NOTIFY_OFF, true},
	{"1", AL_NOTIFY_ON, true},
	{"0", AL_NOTIFY_OFF, true},
	{NULL, 0, false}
};

static const struct config_enum_entry outbox_mode_options[] = {
	{"table", AL_OUTBOX_TABLE, false},
	{"wal", AL_OUTBOX_WAL, false},
	{"both", AL_OUTBOX_BOTH, false},
	{NULL, 0, false}
};

/* Define the settings; reserve the prefix "allocation". */
void
_PG_init(void)
{
	/* before any use: a cache must not miss an invalidation */
	al_pg_session_init();
	DefineCustomStringVariable("allocation.stock_alert_recipient",
							   "E-mail address that receives out-of-stock alerts (superusers only).",
							   "Not set: the address chosen with allocation.set_stock_alert_recipient, "
							   "else " AL_STOCK_ALERT_DEFAULT ".  Empty: no alert is written.",
							   &al_stock_alert_recipient,
							   NULL,
							   PGC_SUSET,
							   0,
							   check_stock_alert_recipient, NULL, NULL);
	DefineCustomEnumVariable("allocation.notify_events",
							 "When a transaction that recorded events sends NOTIFY allocation_events.",
							 "auto: when some session of the cluster is listening; on: always; off: never.  "
							 "Only a wake-up hint for outbox consumers; they poll as well.",
							 &al_notify_events,
							 AL_NOTIFY_AUTO,
							 notify_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	al_mailer_define_settings();
	DefineCustomEnumVariable("allocation.outbox_mode",
							 "Where events are recorded: the outbox table, the WAL, or both (superusers only).",
							 "table: rows of allocation.outbox (the consumer API); wal: transactional logical "
							 "messages for readers of a logical replication slot (needs wal_level = logical); "
							 "both: the two.",
							 &al_outbox_mode,
							 AL_OUTBOX_TABLE,
							 outbox_mode_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("allocation");
}

/* The setting holds "" or an address (settings.c), like subscribe_to_order. */
static bool
check_stock_alert_recipient(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || al_stock_alert_address_valid(*newval))
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errdetail("An address has the form local@domain.tld or local@localhost, without spaces; empty turns alerts off.");
	return false;
}
