/*-------------------------------------------------------------------------
 *
 * product_repository.h
 *	  The SPI product repository (port al_repository).
 *
 * src/adapters/product_repository.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_PRODUCT_REPOSITORY_H
#define AL_PRODUCT_REPOSITORY_H

#include "spi.h"
#include "ports.h"

/* Called once by _PG_init, through al_pg_session_init. */
extern void al_pg_repository_init(void);
/* The port, bound to session s. */
extern void al_pg_repository(al_repository *repo, al_pg_session *s);

#endif							/* AL_PRODUCT_REPOSITORY_H */
