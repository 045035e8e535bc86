/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Storage of the extension's settings; see settings.h.
 *
 * src/adapters/settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "settings.h"

char	   *al_stock_alert_recipient = NULL;
int			al_notify_events = AL_NOTIFY_AUTO;
