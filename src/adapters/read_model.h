/*-------------------------------------------------------------------------
 *
 * read_model.h
 *	  The allocations_view read model (port al_read_model).
 *
 * src/adapters/read_model.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_READ_MODEL_H
#define AL_READ_MODEL_H

#include "spi.h"
#include "ports.h"

/* Called once by _PG_init, through al_pg_session_init. */
extern void al_pg_read_model_init(void);
/* The port, bound to session s. */
extern void al_pg_read_model(al_read_model *views, al_pg_session *s);
/* Write the rows held back. */
extern void al_pg_flush_views(al_pg_session *s);
/* The read model made again from the write model; returns its rows. */
extern uint64 al_pg_rebuild_read_model(al_pg_session *s);

#endif							/* AL_READ_MODEL_H */
