/*-------------------------------------------------------------------------
 *
 * notifier.h
 *	  The e-mail notifications (port al_notifier).
 *
 * src/adapters/notifier.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_NOTIFIER_H
#define AL_NOTIFIER_H

#include "spi.h"
#include "ports.h"

/* The port, bound to session s. */
extern void al_pg_notifier(al_notifier *notifier, al_pg_session *s);
/* Write one e-mail and wake the mailer when the transaction commits. */
extern void al_pg_notification(al_pg_session *s, const char *recipient,
							   const char *subject, const char *body);

#endif							/* AL_NOTIFIER_H */
