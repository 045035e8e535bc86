/*-------------------------------------------------------------------------
 *
 * order_repository.h
 *	  The SPI order repository (port al_order_repository).
 *
 * src/adapters/order_repository.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_ORDER_REPOSITORY_H
#define AL_ORDER_REPOSITORY_H

#include "spi.h"
#include "ports.h"

/* Called once by _PG_init, through al_pg_session_init. */
extern void al_pg_order_repository_init(void);
/* The port, bound to session s. */
extern void al_pg_order_repository(al_order_repository *repo,
								   al_pg_session *s);
/* An order's status in the session's caller_cxt, or NULL. */
extern char *al_pg_order_status(al_pg_session *s, const char *orderid);

#endif							/* AL_ORDER_REPOSITORY_H */
