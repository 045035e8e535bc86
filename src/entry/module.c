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

#include "settings.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

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
	DefineCustomBoolVariable("allocation.notify_events",
							 "Send NOTIFY allocation_events when a transaction records events.",
							 "Only a wake-up hint for outbox consumers; they poll as well.",
							 &al_notify_events,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("allocation");
}
