/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The extension's settings (GUCs), defined by _PG_init in
 *	  src/entry/module.c and read by the adapters.
 *
 * src/adapters/settings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_SETTINGS_H
#define AL_SETTINGS_H

/*
 * allocation.stock_alert_recipient: who gets OutOfStock e-mails.  NULL when
 * no superuser set it; then the recipient an administrator chose with
 * allocation.set_stock_alert_recipient applies, else the default.  An
 * empty string turns alerts off.
 */
extern char *al_stock_alert_recipient;

/* The recipient of a fresh install: the mailbox every mail host has. */
#define AL_STOCK_ALERT_DEFAULT "postmaster@localhost"

/* An address the setting accepts: "", an e-mail, or local@localhost. */
extern bool al_stock_alert_address_valid(const char *address);

/*
 * The recipient in force ("" = no alerts).  Reads allocation.settings:
 * call it inside an SPI session with the extension owner's rights.
 */
extern const char *al_stock_alert_recipient_get(void);
/* Store an administrator's choice (NULL: none), in such a session too. */
extern void al_stock_alert_recipient_set(const char *recipient);
/* allocation.notify_events: NOTIFY allocation_events at commit */
/* allocation.notify_events: when to NOTIFY allocation_events (listeners.c) */
typedef enum al_notify_mode
{
	AL_NOTIFY_OFF,
	AL_NOTIFY_AUTO,				/* when a session of the cluster listens */
	AL_NOTIFY_ON
} al_notify_mode;
extern int	al_notify_events;

/* allocation.outbox_mode: where events go (wal_events.c) */
typedef enum al_outbox_where
{
	AL_OUTBOX_TABLE,			/* the outbox table (the consumer API) */
	AL_OUTBOX_WAL,				/* logical messages in the WAL only */
	AL_OUTBOX_BOTH
} al_outbox_where;
extern int	al_outbox_mode;

#endif							/* AL_SETTINGS_H */
