/*-------------------------------------------------------------------------
 *
 * session.h
 *	  One SQL call's session with the server (begin, end) and the wiring
 *	  of the service's ports to the adapters.  The entry points include
 *	  this header only: it brings the adapters they call.
 *
 *	  Layers: entry -> session -> adapters -> spi (spi.h, the leaf).
 *
 * src/adapters/session.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_SESSION_H
#define AL_SESSION_H

#include "postgres.h"

#include "service.h"
#include "spi.h"

#include "inbox.h"
#include "isolation.h"
#include "listeners.h"
#include "notifier.h"
#include "order_repository.h"
#include "outbox.h"
#include "product_repository.h"
#include "read_model.h"

/*
 * Called once by _PG_init: registers every adapter's hooks and the
 * caches' invalidation callbacks, before any use.
 */
extern void al_pg_session_init(void);

/*
 * Open the session: SPI_connect, pin search_path, switch to the extension
 * owner's rights (no role may touch the tables directly).
 */
extern void al_pg_begin(al_pg_session *s, bool read_only);
/*
 * Close it: write what the adapters hold back (their flush hooks),
 * restore the caller's rights and search_path, SPI_finish, free the
 * arena.
 */
extern void al_pg_end(al_pg_session *s);

/* The ports of svc, bound to the adapters of session s. */
extern void al_pg_service(al_service *svc, al_pg_session *s);

#endif							/* AL_SESSION_H */
