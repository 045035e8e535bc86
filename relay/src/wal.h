/*
 * wal.h - events from the WAL (--source wal): a logical replication slot
 * read with the built-in pgoutput plugin over libpq's replication
 * protocol.  The extension writes each event as a transactional logical
 * message (allocation.outbox_mode = wal or both); the walsender sends them
 * at commit, in commit order, without NOTIFY.  The slot's position is
 * confirmed only up to transactions whose events Redis accepted.
 *
 * Only messages whose prefix is the database's secret prefix
 * (allocation.wal_message_prefix(), read at every connection) are events:
 * any role may write a message with pg_logical_emit_message, and one
 * with the prefix "allocation", or "allocation:" and another token, or a
 * non-transactional one, is ignored, logged once and counted (forged).
 * A transactional one with another token of the right length makes the
 * relay read the prefix again first (the extension may have been created
 * again, with a new token); the slot is not confirmed past it meanwhile.
 * The prefix is never logged.
 */
#ifndef RELAY_WAL_H
#define RELAY_WAL_H

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "link.h"
#include "pgwait.h"

/* An event received and not yet accepted by Redis (malloc'ed copies). */
typedef struct
{
	char	   *data;			/* "<id>\n<type>\n<envelope>", NUL-terminated */
	const char *id;				/* into data */
	const char *type;
	const char *envelope;
	size_t		envelopelen;
	const char *payload;		/* into the envelope: its "payload" value */
	size_t		payloadlen;
} wal_event;

/* Where a transaction ends: confirmable once events[0..upto) are done. */
typedef struct
{
	size_t		upto;
	uint64_t	end_lsn;
} wal_commit;

/*
 * Reads the extension's current prefix, allocation.wal_message_prefix(),
 * into buf (main.c: on the regular connection, with --pg-timeout and the
 * stop signals).  0; -1: not now, err says why (try again later); -2:
 * fatal (logged).
 */
typedef int (*wal_prefix_fn) (void *arg, char *buf, size_t buflen, char *err, size_t errlen);

typedef struct
{
	PGconn	   *conn;
	link_state	link;
	wal_prefix_fn fetch;
	void	   *fetch_arg;
	const relay_config *cfg;
	wal_event  *events;			/* received, not yet accepted, in order */
	size_t		nevents;
	size_t		cap;
	wal_commit *commits;
	size_t		ncommits;
	size_t		ccap;
	int			in_xact;		/* between Begin and Commit */
	uint64_t	confirmed;		/* flush position told to the server */
	uint64_t	reported;		/* ... last sent */
	uint64_t	idle_end;		/* a keepalive's WAL end, nothing in flight */
	double		last_status;
	char		prefix[80];		/* "allocation:<token>": the extension's messages */
	unsigned long forged;		/* messages "allocation..." without that prefix */
	unsigned long rechecks;		/* prefixes read again for a token not in hand */
	volatile sig_atomic_t *stop;	/* set by the SIGTERM/SIGINT handler */
	const sigset_t *waitmask;	/* signal mask while connecting */
	const pg_wait_hook *hook;	/* other sockets served while a set-up
								 * command waits (a new slot), or NULL */
} wal_side;

void		wal_init(wal_side *w, const relay_config *cfg, wal_prefix_fn fetch, void *fetch_arg);
/* A stop signal (let through by waitmask, noted in *stop) ends a connect. */
void		wal_set_signals(wal_side *w, volatile sig_atomic_t *stop, const sigset_t *waitmask);
void		wal_set_wait_hook(wal_side *w, const pg_wait_hook *hook);
/*
 * Connect for replication, create the slot when it is missing and start
 * streaming.  0; -1: failed (logged, retried with backoff); -2: fatal (a
 * configuration the relay cannot fix: wal_level, rights).
 */
int			wal_connect(wal_side *w, double now);
void		wal_close(wal_side *w);
int			wal_socket(const wal_side *w);
/* Take in what the server sent; 0, or -1: connection lost. */
int			wal_read(wal_side *w, double now);
/* The first n events were accepted by Redis: forget them, confirm what is whole. */
void		wal_accepted(wal_side *w, size_t n);
/* Send a status update when due (or force); -1: connection lost. */
int			wal_status(wal_side *w, double now, int force);

#endif
