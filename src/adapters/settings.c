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
bool		al_notify_events = true;
