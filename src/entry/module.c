/*-------------------------------------------------------------------------
 *
 * module.c
 *	  Module magic and the extension's settings.
 *
 * src/entry/module.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "mailer_api.h"
#include "settings.h"

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

void
_PG_init(void)
{
	DefineCustomStringVariable("allocation.stock_alert_recipient",
							   "E-mail address that receives out-of-stock alerts.",
							   "Empty: no alert is written.",
							   &al_stock_alert_recipient,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);
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
	MarkGUCPrefixReserved("allocation");
}
