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

/* allocation.stock_alert_recipient: who gets OutOfStock e-mails (or none) */
extern char *al_stock_alert_recipient;
/* allocation.notify_events: NOTIFY allocation_events at commit */
/* allocation.notify_events: when to NOTIFY allocation_events (listeners.c) */
typedef enum al_notify_mode
{
	AL_NOTIFY_OFF,
	AL_NOTIFY_AUTO,				/* when a session of the cluster listens */
	AL_NOTIFY_ON
} al_notify_mode;
extern int	al_notify_events;

#endif							/* AL_SETTINGS_H */
