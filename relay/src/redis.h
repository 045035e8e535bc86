/*
 * redis.h - the Redis side: a command connection (PUBLISH / XADD / XACK)
 * and a subscription connection (SUBSCRIBE, or XREADGROUP sent without
 * waiting for the reply), both watched with poll().
 */
#ifndef RELAY_REDIS_H
#define RELAY_REDIS_H

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stddef.h>

#include "config.h"
#include "inbound.h"
#include "link.h"

/* XREADGROUP waits at most this long on the server */
#define REDIS_BLOCK_MS 5000

typedef struct
{
	redisContext *cmd;
	redisContext *sub;			/* NULL without inbound */
	link_state	link;
	const relay_config *cfg;
	int			waiting;		/* a request is outstanding on sub */
	double		sent_at;		/* ... sent then */
	int			pending_phase;	/* streams: read our pending entries ("0") first */
	double		next_claim;		/* streams: when to look for idle entries of the
								 * group's other consumers (--claim-idle) */
	char		claim_cursor[64];	/* ... where the sweep in progress goes on */
	char		claim_err[256];	/* ... the last XAUTOCLAIM error (logged once) */
	double		last_rx;		/* pub/sub: last data on sub */
	unsigned long dropped;		/* pub/sub: messages over the queue's bounds */
	unsigned long dropped_logged;	/* ... of which the log told */
	volatile sig_atomic_t *stop;	/* set by the SIGTERM/SIGINT handler */
	const sigset_t *waitmask;	/* signal mask while connecting */
} redis_side;

typedef struct
{
	const char *target;		/* channel or stream; NULL: not published */
	const char *id;
	const char *type;
	const char *json;
	size_t		jsonlen;
} outbound_event;

typedef enum
{
	PUB_OK = 0,
	PUB_LOST,				/* the connection is gone: reconnect */
	PUB_REFUSED			/* an error reply (OOM, WRONGTYPE...): retry later */
} pub_status;

void		redis_init(redis_side *rs, const relay_config *cfg);
/*
 * While connecting (the connection and the commands that set it up), the
 * stop signals are let through (waitmask), and one that came (*stop) ends
 * the attempt at once.
 */
void		redis_set_signals(redis_side *rs, volatile sig_atomic_t *stop, const sigset_t *waitmask);
/* 0, or -1 after a failed attempt (logged, retried later) */
int			redis_connect(redis_side *rs, double now);
void		redis_close(redis_side *rs);
/* the subscription socket to wait on, or -1 */
int			redis_sub_socket(const redis_side *rs);

/*
 * Publish events[0..n) in one round trip, in order, stopping at the first
 * one Redis refuses: nothing after it is published.  *accepted is how
 * many leading events Redis accepted (those without a target count as
 * accepted): only they may be acknowledged in PostgreSQL.  Needs EVAL.
 */
pub_status redis_publish(redis_side *rs, const outbound_event *events, int n,
						   int *accepted, char *err, size_t errlen);

/* Read what arrived on the subscription into q; -1: connection lost. */
int			redis_sub_read(redis_side *rs, inbound_queue *q, double now);
/*
 * Keep the subscription going: ask for more stream entries when q is
 * empty, ping an idle pub/sub connection, notice a silent one.  -1: lost.
 * Streams with --claim-idle: once our own pending entries are done, after
 * each (re)connection and then every --claim-idle seconds, the group's
 * entries idle that long are claimed (XAUTOCLAIM) and read as our own
 * pending entries.
 */
int			redis_sub_tick(redis_side *rs, const inbound_queue *q, double now);
/* When redis_sub_tick next has something to do (monotonic seconds). */
double		redis_sub_deadline(const redis_side *rs, const inbound_queue *q, double now);

/* XACK a stream entry; -1: connection lost. */
int			redis_xack(redis_side *rs, const char *entry_id);

/*
 * Pub/sub messages dropped over the queue's bounds that the log has not
 * counted yet: counted now (when the queue has room again, and at a stop).
 */
void		redis_log_drops(redis_side *rs);

#endif
