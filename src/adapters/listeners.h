/*-------------------------------------------------------------------------
 *
 * listeners.h
 *	  NOTIFY allocation_events and allocation_notifications at commit.
 *	  A leaf of the adapters: it runs no statement.
 *
 * src/adapters/listeners.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_LISTENERS_H
#define AL_LISTENERS_H

#include "postgres.h"

/* Called once by _PG_init, through al_pg_session_init. */
extern void al_pg_listeners_init(void);
/* The command recorded events: wake the consumers when it commits. */
extern void al_pg_notify_at_commit(void);
/* An e-mail was written: wake the mailer when the transaction commits. */
extern void al_pg_notify_mailer_at_commit(void);

#endif							/* AL_LISTENERS_H */
