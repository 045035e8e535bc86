/*-------------------------------------------------------------------------
 *
 * notifier.c
 *	  The e-mail notifications (port al_notifier): rows of
 *	  allocation.notifications that the mailer delivers.
 *
 * Notes:
 *	1) A notification is written at once, in the command's transaction,
 *	   and NOTIFY allocation_notifications wakes the mailer at commit
 *	   (listeners.c).
 *
 * src/adapters/notifier.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "listeners.h"
#include "notifier.h"
#include "settings.h"

#define TEXT(s) CStringGetTextDatum(s)

static al_pg_statement notification_insert_stmt = {
	.sql = "INSERT INTO allocation.notifications (recipient, subject, body)"
	" VALUES ($1, $2, $3)",
	.nargs = 3,
	.argtypes = {TEXTOID, TEXTOID, TEXTOID},
	.expected = SPI_OK_INSERT
};

/* Write one e-mail and wake the mailer when the transaction commits. */
void
al_pg_notification(al_pg_session *s, const char *recipient,
				   const char *subject, const char *body)
{
	Datum		args[3] = {TEXT(recipient), TEXT(subject), TEXT(body)};

	al_pg_run(s, &notification_insert_stmt, args, NULL);
	al_pg_notify_mailer_at_commit();
}

static void
notify_stock_alert(void *ctx, const al_event *ev)
{
	const char *recipient = al_stock_alert_recipient_get();

	if (recipient[0] == '\0')
		return;
	al_pg_notification(ctx, recipient,
					   psprintf("Out of stock for %s", ev->sku),
					   psprintf("Order %s asked for %d of %s and no batch can take it.",
								ev->orderid, ev->qty, ev->sku));
}

/* A status change, told to one subscriber. */
static void
notify_order_status(void *ctx, const char *recipient, const al_event *ev)
{
	al_pg_notification(ctx, recipient,
					   psprintf("Order %s is now %s", ev->orderid, ev->status),
					   psprintf("The status of order %s changed from %s to %s.",
								ev->orderid, ev->previous_status, ev->status));
}

/* The port al_notifier, bound to session s. */
void
al_pg_notifier(al_notifier *notifier, al_pg_session *s)
{
	notifier->ctx = s;
	notifier->stock_alert = notify_stock_alert;
	notifier->order_status = notify_order_status;
}
