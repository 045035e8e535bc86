/*-------------------------------------------------------------------------
 *
 * inbox.h
 *	  The inbox of allocation.handle: a message handled once per key.
 *
 * src/adapters/inbox.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_INBOX_H
#define AL_INBOX_H

#include "spi.h"
#include "utils/jsonb.h"

/*
 * Claim a key: true if new, false if claimed before, with the stored result
 * (in caller_cxt) or NULL when none is stored yet.
 */
extern bool al_pg_inbox_claim(al_pg_session *s, const char *type,
							  Oid sender, Jsonb *message_id, Jsonb *message,
							  Jsonb **result);
/* Store the result of a claimed message beside its key. */
extern void al_pg_inbox_store(al_pg_session *s, const char *type, Oid sender,
							  Jsonb *message_id, Jsonb *result);

#endif							/* AL_INBOX_H */
