/*
 * pg.h - the PostgreSQL side: one libpq connection that LISTENs on
 * allocation_events, reads and acknowledges the outbox as a named consumer
 * (allocation.read_events / ack_events) and runs inbound commands through
 * allocation.handle.
 */
#ifndef RELAY_PG_H
#define RELAY_PG_H

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "link.h"
#include "pgwait.h"

typedef enum
{
	PG_OK = 0,
	PG_LOST,			/* connection gone or unusable: reconnect */
	PG_RETRY,			/* a transient error (pg_side.query_err): the
						 * connection is kept, try again later */
	PG_FATAL			/* rights, missing extension...: stop the relay */
} pg_status;

typedef struct
{
	PGconn	   *conn;
	link_state	link;
	const relay_config *cfg;
	char		fatal[512];		/* the server's FATAL message, if it sent one */
	char		query_err[640];	/* the last PG_RETRY's error */
	volatile sig_atomic_t *stop;	/* set by the SIGTERM/SIGINT handler */
	const sigset_t *waitmask;	/* signal mask while waiting for the server */
	const pg_wait_hook *hook;	/* other work while a query waits, or NULL */
	int			router;			/* the database is a router (allocation_router) */
} pg_side;

/* One outbox event, as read: pointers into the PGresult. */
typedef struct
{
	const char *id;
	const char *type;
	const char *json;		/* the envelope: id, type, aggregate, payload */
	size_t		jsonlen;
	const char *payload;	/* the payload alone: the book's message */
	size_t		payloadlen;
} pg_event;

typedef enum
{
	HANDLE_DONE,		/* committed (or a duplicate: the first result) */
	HANDLE_REJECTED,	/* malformed or refused for good: log and skip */
	HANDLE_RETRY,		/* transient: keep the message, try again */
	HANDLE_WAITING,		/* it waited --command-lock-timeout for a lock
						 * (55P03), rolled back: keep it, try again soon */
	HANDLE_LOST,		/* connection lost: keep the message */
	HANDLE_FATAL		/* stop the relay */
} handle_status;

typedef struct
{
	char		message_id[512];	/* as JSON: "1" (a string) is not 1 */
	char		result[512];	/* handle's JSON result, or the error */
	char		sqlstate[6];
	int			duplicate;		/* its message_id was handled before: not run */
	int			no_result;		/* handle answered no result (SQL NULL, or a
								 * duplicate whose first result was not kept) */
} handle_outcome;

void		pg_init(pg_side *pg, const relay_config *cfg);
/*
 * While waiting for the server, the stop signals are let through
 * (waitmask) and *stop tells that one came: the query in hand gets a few
 * seconds more, then the connection is given up.
 */
void		pg_set_signals(pg_side *pg, volatile sig_atomic_t *stop, const sigset_t *waitmask);
/* While a query waits, hook (kept) watches and serves other sockets too. */
void		pg_set_wait_hook(pg_side *pg, const pg_wait_hook *hook);
/* Check a conninfo string without connecting: NULL or a malloc'ed error. */
char	   *pg_check_dsn(const char *dsn);
pg_status	pg_connect(pg_side *pg, double now);
void		pg_close(pg_side *pg);

/* The socket to wait on, -1 when down. */
int			pg_socket(const pg_side *pg);
/* Read what arrived; the number of notifications, or -1: connection lost. */
int			pg_consume(pg_side *pg);

/*
 * The next events of the consumer.  On PG_OK *res holds them (PQclear it)
 * and events[0..*n) point into it; events must hold batch_size entries.
 */
pg_status	pg_read_events(pg_side *pg, PGresult **res, pg_event *events, int *n);
/* Everything up to and including event id is done. */
pg_status	pg_ack(pg_side *pg, const char *id);
/*
 * --source wal: bytes of WAL the slot retains (from its restart_lsn) and
 * not yet confirmed (from confirmed_flush_lsn), up to the server's
 * current position.  PG_OK; PG_RETRY when the slot does not exist (yet).
 */
pg_status	pg_slot_lag(pg_side *pg, const char *slot, long long *retained,
						long long *unconfirmed);

/*
 * --source wal: allocation.wal_message_prefix() into buf (a secret: never
 * logged), with --pg-timeout and the stop signals as every query here.
 * It may wait for the transaction that draws the database's token.
 * PG_OK; PG_FATAL (logged: rights, no extension); PG_RETRY
 * (pg_side.query_err) or PG_LOST: try again later.
 */
pg_status	pg_wal_prefix(pg_side *pg, char *buf, size_t buflen);

/*
 * Execute an inbound ChangeBatchQuantity message (JSON text from Redis):
 * message_id is the message's own "message_id", else fixed_id (a stream
 * entry), else none (pub/sub has no ids: the message runs).  It runs in
 * a transaction of its own with SET LOCAL lock_timeout =
 * --command-lock-timeout: a lock held elsewhere makes it HANDLE_WAITING
 * after that long instead of holding the connection.
 */
handle_status pg_handle(pg_side *pg, const char *json, const char *fixed_id,
						handle_outcome *out);

#endif
