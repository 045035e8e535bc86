/*-------------------------------------------------------------------------
 *
 * wal_events.h
 *	  Events as transactional logical messages in the WAL, for readers of a
 *	  logical replication slot (allocation.outbox_mode).
 *
 * src/adapters/wal_events.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_WAL_EVENTS_H
#define AL_WAL_EVENTS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "spi.h"

/* Does allocation.outbox_mode write rows of allocation.outbox? */
extern bool al_pg_outbox_mode_table(void);
/* Does it write logical messages? */
extern bool al_pg_outbox_mode_wal(void);
/* The prefix "allocation:<secret token>" of this database's messages. */
extern const char *al_pg_wal_prefix(al_pg_session *s);
/* One event as a transactional logical message with that prefix. */
extern void al_pg_wal_event(al_pg_session *s, Datum id, const char *type, const char *aggregatetype,
							const char *aggregateid, int64 seq, TimestampTz occurred_at,
							Jsonb *payload);

#endif							/* AL_WAL_EVENTS_H */
