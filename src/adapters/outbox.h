/*-------------------------------------------------------------------------
 *
 * outbox.h
 *	  The transactional outbox (port al_outbox), its clock, and the events' JSON payloads.
 *
 * src/adapters/outbox.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_OUTBOX_H
#define AL_OUTBOX_H

#include "spi.h"
#include "ports.h"

struct JsonbParseState;
struct JsonbValue;

/* Called once by _PG_init, through al_pg_session_init. */
extern void al_pg_outbox_init(void);
/* The port, bound to session s. */
extern void al_pg_outbox(al_outbox *outbox, al_pg_session *s);

/*
 * The payload of an event pushed as one object into st; returns the
 * finished object when st holds nothing else.
 */
extern struct JsonbValue *al_pg_push_event_payload(struct JsonbParseState **st,
												   const al_event *ev);
/* Push "key": value (a JSON null when value is NULL) into an object. */
extern void al_pg_push_text(struct JsonbParseState **st, const char *key,
							const char *value);
/* Hold back one outbox row; returns its commit_key. */
extern uint64 al_pg_outbox_insert(al_pg_session *s, const char *aggregatetype,
								  const char *aggregateid, const al_event *ev,
								  int64 seq, uint64 prev_key);
/* The clock offset of this cluster (outbox.c, Note 2). */
extern int64 al_pg_clock_offset(al_pg_session *s);
/* Write the outbox rows held back. */
extern void al_pg_flush_outbox(al_pg_session *s);

#endif							/* AL_OUTBOX_H */
