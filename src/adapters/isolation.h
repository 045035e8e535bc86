/*-------------------------------------------------------------------------
 *
 * isolation.h
 *	  Event handlers and plugins in their own subtransaction (ports al_isolation, al_plugins), and the subscriptions.
 *
 * src/adapters/isolation.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_ISOLATION_H
#define AL_ISOLATION_H

#include "spi.h"
#include "service.h"

/* Called once by _PG_init, through al_pg_session_init. */
extern void al_pg_isolation_init(void);
/* The ports, bound to session s. */
extern void al_pg_isolation(al_isolation *isolation, al_plugins *plugins,
							al_pg_session *s);
/* Is this error the caller's, never a handler's WARNING? */
extern bool al_pg_error_belongs_to_caller(int sqlerrcode);
/* May handler run as a plugin of subscriber?  42501 if not. */
extern void al_pg_check_plugin_owner(Oid handler, Oid subscriber);
/* Store or drop a subscription (unsubscribe returns the rows changed). */
extern void al_pg_subscribe(al_pg_session *s, const char *event_type,
							Oid handler, Oid subscriber,
							const char *search_path);
extern uint64 al_pg_unsubscribe(al_pg_session *s, const char *event_type,
								Datum handler);
extern uint64 al_pg_unsubscribe_stored(al_pg_session *s, const char *event_type,
									   const char *handler);

#endif							/* AL_ISOLATION_H */
