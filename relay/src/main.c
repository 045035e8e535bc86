/*
 * allocation-relay - the bridge between the allocation extension and Redis.
 *
 *   outbox --read_events--> relay --PUBLISH/XADD--> Redis --> other systems
 *   other systems --> Redis --SUBSCRIBE/XREADGROUP--> relay --> allocation.handle
 *
 * One thread, one poll() loop.  Each round: (re)connect what is down when
 * its backoff has passed; execute the commands in hand; read a batch of
 * events, publish them, and acknowledge them in PostgreSQL once Redis has
 * accepted them; then wait for a NOTIFY, a Redis message, the poll
 * interval or a signal.  SIGTERM and SIGINT end the loop after the work in
 * hand.  See relay/README.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "inbound.h"
#include "link.h"
#include "log.h"
#include "pg.h"
#include "pgwait.h"
#include "redis.h"
#include "stopsig.h"
#include "text.h"
#include "wal.h"

/* inbound commands executed in one round before the outbox gets a turn */
#define INBOUND_PER_ROUND 50
/* the longest single wait, so that nothing depends on exact deadlines */
#define MAX_WAIT_S 1.0

typedef struct
{
	char	   *type;
	char	   *target;		/* NULL: not published */
	int			book;		/* publish the payload alone (the book's message) */
} route_entry;

typedef struct
{
	relay_config cfg;
	pg_side		pg;
	wal_side	wal;			/* --source wal */
	redis_side	rs;
	inbound_queue q;

	pg_event   *events;
	outbound_event *out;
	route_entry *routes;	/* cache of config_route by event type */
	size_t		nroutes;

	int			outbound_due;	/* read the outbox now */
	double		next_poll;
	backoff		query_bo;		/* PostgreSQL failed a read or ack for now */
	char		query_err[640];	/* ... with this error (logged once) */
	backoff		refused_bo;		/* Redis refused a PUBLISH/XADD */
	char		refusal[512];	/* ... with this error (logged once) */
	double		out_retry_at;
	backoff		inbound_bo;		/* a command failed transiently */
	backoff		lock_bo;		/* a command refused a lock at once (55P03) */
	double		in_retry_at;
	double		wait_since;		/* the command in hand waits for a lock since
								 * then (monotonic); 0: it does not */
	char		wait_since_utc[32];	/* ... the same, for the log */
	double		wait_logged;	/* ... last said so */
	double		next_lag_check;	/* --source wal: the slot's retained WAL */
	char	   *stream_prefix;	/* stream message ids */

	unsigned long published;
	unsigned long handled;
	unsigned long skipped;
} relay;

static void *
xcalloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size);

	if (p == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

/* a + b + c in a new string */
static char *
xconcat(const char *a, const char *b, const char *c)
{
	size_t		la = strlen(a),
				lb = strlen(b),
				lc = strlen(c);
	char	   *s = xcalloc(la + lb + lc + 1, 1);

	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc);
	return s;
}

/*
 * The route of an event type: its channel (stream), NULL when it is not
 * published, and whether it carries the book's message (the payload
 * alone) or the envelope.
 */
static const route_entry *
route_for(relay *r, const char *type)
{
	size_t		i;
	char		buf[2048];
	const char *target;
	route_entry *grown;

	for (i = 0; i < r->nroutes; i++)
		if (strcmp(r->routes[i].type, type) == 0)
			return &r->routes[i];
	target = config_route(&r->cfg, type, buf, sizeof buf);
	grown = realloc(r->routes, (r->nroutes + 1) * sizeof *grown);
	if (grown == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	r->routes = grown;
	r->routes[r->nroutes].type = strdup(type);
	r->routes[r->nroutes].target = target ? strdup(target) : NULL;
	/* the book's channels carry the book's messages; streams the envelope */
	r->routes[r->nroutes].book = r->cfg.mode == RELAY_PUBSUB && !r->cfg.envelope &&
		config_route_named(&r->cfg, type);
	if (r->routes[r->nroutes].type == NULL || (target && r->routes[r->nroutes].target == NULL))
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	if (target)
		log_info("outbound: %s events go to %s %s (%s)", type,
				 r->cfg.mode == RELAY_STREAMS ? "stream" : "channel", target,
				 r->routes[r->nroutes].book ? "the payload alone" : "the envelope");
	else
		log_info("outbound: %s events are not published (--channel %s=-)", type, type);
	return &r->routes[r->nroutes++];
}

/*
 * A read or an acknowledgement failed for now (PG_RETRY): try again with
 * backoff on the same connection, one log line per new error.
 */
static int
query_retry_later(relay *r, double now)
{
	double		delay = backoff_next(&r->query_bo);

	if (strcmp(r->pg.query_err, r->query_err) != 0)
		log_warn("outbound: postgres: %s; retrying with backoff (at most every %gs)",
				 r->pg.query_err, r->query_bo.max);
	snprintf(r->query_err, sizeof r->query_err, "%s", r->pg.query_err);
	r->out_retry_at = now + delay;
	r->outbound_due = 1;
	return 0;
}

/*
 * One batch: read, publish, acknowledge what Redis accepted.
 * 0: done (or retry later), -1: a connection was lost, -2: fatal.
 */
static int
outbound_round(relay *r, double now)
{
	PGresult   *res;
	int			n,
				i,
				accepted;
	pg_status	st;
	pub_status rst;
	char		err[512];

	st = pg_read_events(&r->pg, &res, r->events, &n);
	if (st == PG_FATAL)
		return -2;
	if (st == PG_RETRY)
		return query_retry_later(r, now);
	if (st != PG_OK)
		return -1;
	if (n == 0)
	{
		PQclear(res);
		r->outbound_due = 0;
		return 0;
	}
	for (i = 0; i < n; i++)
	{
		const route_entry *route = route_for(r, r->events[i].type);

		r->out[i].target = route->target;
		r->out[i].id = r->events[i].id;
		r->out[i].type = r->events[i].type;
		r->out[i].json = route->book ? r->events[i].payload : r->events[i].json;
		r->out[i].jsonlen = route->book ? r->events[i].payloadlen : r->events[i].jsonlen;
	}
	err[0] = '\0';
	/*
	 * After a refusal, probe with one event at a time: the events behind a
	 * refused one are not acknowledged, so publishing them would only make
	 * copies on every retry.
	 */
	rst = redis_publish(&r->rs, r->out, r->refusal[0] ? 1 : n, &accepted, err, sizeof err);
	if (accepted > 0)
	{
		/* at least once: acknowledged only after Redis accepted them */
		st = pg_ack(&r->pg, r->events[accepted - 1].id);
		if (st == PG_RETRY)
		{
			PQclear(res);
			return query_retry_later(r, now);
		}
		if (st != PG_OK)
		{
			PQclear(res);
			return st == PG_FATAL ? -2 : -1;
		}
		if (r->query_err[0])
		{
			log_info("outbound: postgres acknowledges again");
			r->query_err[0] = '\0';
		}
		backoff_reset(&r->query_bo);
		r->published += (unsigned long) accepted;
		log_debug("outbound: acknowledged %d event%s up to %s", accepted,
				  accepted == 1 ? "" : "s", r->events[accepted - 1].id);
	}
	PQclear(res);
	if (rst == PUB_LOST)
		return -1;
	if (rst == PUB_REFUSED)
	{
		double		delay = backoff_next(&r->refused_bo);

		/* one line per new error, not one per retry */
		if (strcmp(err, r->refusal) != 0)
			log_warn("outbound: redis refused event %s (%s); it and the events after it wait, retrying with backoff (at most every %gs)",
					 r->events[accepted].id, err, r->refused_bo.max);
		snprintf(r->refusal, sizeof r->refusal, "%s", err);
		r->out_retry_at = now + delay;
		r->outbound_due = 1;
		return 0;
	}
	backoff_reset(&r->refused_bo);
	/* a full batch, or a probe of one event: there may be more right away */
	r->outbound_due = (n == r->cfg.batch_size) || r->refusal[0];
	if (r->refusal[0])
	{
		log_info("outbound: redis accepts events again");
		r->refusal[0] = '\0';
	}
	return 0;
}

/*
 * --source wal: the extension's prefix, read on the regular connection
 * (wal.h, wal_prefix_fn): with --pg-timeout, and SIGTERM let through.
 */
static int
read_wal_prefix(void *arg, char *buf, size_t buflen, char *err, size_t errlen)
{
	relay	   *r = arg;

	switch (pg_wal_prefix(&r->pg, buf, buflen))
	{
		case PG_OK:
			return 0;
		case PG_FATAL:
			return -2;
		case PG_RETRY:
			snprintf(err, errlen, "%s", r->pg.query_err);
			return -1;
		case PG_LOST:
		default:
			snprintf(err, errlen, "the postgres connection is down");
			return -1;
	}
}

/*
 * --source wal: take in what the slot sent, publish a batch of it, confirm
 * what Redis accepted.  0, or -2: fatal.
 */
static int
wal_round(relay *r, double now)
{
	size_t		n,
				i;
	int			accepted = 0;
	pub_status	rst;
	char		err[512];

	if (wal_read(&r->wal, now) != 0)
		return 0;
	n = r->wal.nevents;
	if (n > (size_t) r->cfg.batch_size)
		n = (size_t) r->cfg.batch_size;
	if (n > 0 && r->rs.link.up && now >= r->out_retry_at)
	{
		for (i = 0; i < n; i++)
		{
			const wal_event *e = &r->wal.events[i];
			const route_entry *route = route_for(r, e->type);

			r->out[i].target = route->target;
			r->out[i].id = e->id;
			r->out[i].type = e->type;
			r->out[i].json = route->book ? e->payload : e->envelope;
			r->out[i].jsonlen = route->book ? e->payloadlen : e->envelopelen;
		}
		err[0] = '\0';
		rst = redis_publish(&r->rs, r->out, r->refusal[0] ? 1 : (int) n, &accepted, err, sizeof err);
		if (accepted > 0)
		{
			r->published += (unsigned long) accepted;
			wal_accepted(&r->wal, (size_t) accepted);
		}
		if (rst == PUB_REFUSED)
		{
			double		delay = backoff_next(&r->refused_bo);

			if (strcmp(err, r->refusal) != 0)
				log_warn("outbound: redis refused event %s (%s); it and the events after it wait, retrying with backoff (at most every %gs)",
						 r->wal.events[0].id, err, r->refused_bo.max);
			snprintf(r->refusal, sizeof r->refusal, "%s", err);
			r->out_retry_at = now + delay;
		}
		else if (rst == PUB_OK)
		{
			backoff_reset(&r->refused_bo);
			if (r->refusal[0])
			{
				log_info("outbound: redis accepts events again");
				r->refusal[0] = '\0';
			}
		}
	}
	if (r->wal.conn && wal_status(&r->wal, now, 0) != 0)
		return 0;
	/* more in hand, or more in libpq's buffer: no sleeping */
	r->outbound_due = r->wal.nevents > 0 || accepted > 0;
	return 0;
}

/*
 * --source wal: warn when the slot retains more WAL than --slot-lag-warn
 * (checked every --slot-lag-interval, so warned at most that often).  A
 * slot keeps WAL from its restart_lsn until the relay confirms it: while
 * Redis is down, or the relay falls behind, the server's disk fills.
 */
static void
slot_lag_check(relay *r)
{
	long long	retained,
				unconfirmed;
	const long long mb = 1024 * 1024;

	if (pg_slot_lag(&r->pg, r->cfg.slot, &retained, &unconfirmed) != PG_OK)
		return;
	if (retained > (long long) r->cfg.slot_lag_warn * mb)
		log_warn("wal: the slot %s retains %lld MB of WAL (%lld MB not yet confirmed), more than "
				 "--slot-lag-warn %d MB: events wait for Redis or the relay falls behind, and the "
				 "server keeps this WAL until the relay confirms it",
				 r->cfg.slot, retained / mb, unconfirmed > 0 ? unconfirmed / mb : 0,
				 r->cfg.slot_lag_warn);
}

/* a command that waited --command-lock-timeout for a lock: tried again after */
#define LOCK_WAIT_RETRY_S 0.25
/* ... and the log says that it still waits this often */
#define LOCK_WAIT_LOG_EVERY_S 30.0

static void
utc_now(char *buf, size_t buflen)
{
	struct timespec ts;
	struct tm	tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The command in hand waited --command-lock-timeout for a lock and was
 * rolled back: it stays at the head of the queue (the commands after it
 * wait: a later change of the same batch must not overtake it) and is
 * tried again after LOCK_WAIT_RETRY_S, events relayed meanwhile.  The log
 * says so once, then every LOCK_WAIT_LOG_EVERY_S.
 */
static void
command_waits(relay *r, double tried_at, double now, const char *excerpt, const char *why)
{
	/*
	 * A 55P03 well before --command-lock-timeout is not the relay's limit
	 * (NOWAIT in a plugin, say): such a command is tried again with
	 * backoff, not four times a second.
	 */
	double		retry = r->cfg.command_lock_timeout == 0 ||
		now - tried_at < r->cfg.command_lock_timeout / 2 ?
		backoff_next(&r->lock_bo) : LOCK_WAIT_RETRY_S;

	if (r->wait_since == 0)
	{
		r->wait_since = now;
		utc_now(r->wait_since_utc, sizeof r->wait_since_utc);
		r->wait_logged = now;
		log_warn("inbound: %s waits for a lock (%s); tried again until it runs, "
				 "the %zu command%s received after it wait behind it, events keep flowing",
				 excerpt, why, r->q.count - 1, r->q.count - 1 == 1 ? "" : "s");
	}
	else if (now - r->wait_logged >= LOCK_WAIT_LOG_EVERY_S)
	{
		r->wait_logged = now;
		log_warn("inbound: %s still waits for a lock, since %s (%.0fs); %zu command%s behind it",
				 excerpt, r->wait_since_utc, now - r->wait_since,
				 r->q.count - 1, r->q.count - 1 == 1 ? "" : "s");
	}
	r->in_retry_at = now + retry;
}

/* A command message is flat; this leaves room for any sender's extras. */
#define MAX_MESSAGE_DEPTH 64

/*
 * The message in hand.  0: done with it (or retry later), -1: a
 * connection was lost (kept), -2: fatal.
 */
static int
inbound_one(relay *r)
{
	inbound_msg *m = iq_peek(&r->q);
	handle_outcome out;
	handle_status hs;
	char	   *fixed_id = NULL;
	char		excerpt[256];
	double		tried_at = now_mono();

	text_excerpt(m->body, m->len, 200, excerpt, sizeof excerpt);
	if (memchr(m->body, '\0', m->len) != NULL)
	{
		/* as a C string it would be cut at the NUL and its prefix run */
		memset(&out, 0, sizeof out);
		snprintf(out.result, sizeof out.result, "the message contains a NUL byte");
		snprintf(out.sqlstate, sizeof out.sqlstate, "22023");
		hs = HANDLE_REJECTED;
	}
	else if (json_nests_deeper(m->body, m->len, MAX_MESSAGE_DEPTH))
	{
		/*
		 * The server's JSON parser would stop at its stack depth limit
		 * (54001), a class of errors that is not the message's as a rule
		 * (54000 is also the server refusing every command near a
		 * transaction id wraparound), so it would be retried for ever,
		 * and block every message behind it.
		 */
		memset(&out, 0, sizeof out);
		snprintf(out.result, sizeof out.result,
				 "the message nests arrays or objects deeper than %d levels", MAX_MESSAGE_DEPTH);
		snprintf(out.sqlstate, sizeof out.sqlstate, "22023");
		hs = HANDLE_REJECTED;
	}
	else
	{
		if (m->entry_id)
			fixed_id = xconcat(r->stream_prefix, m->entry_id, "");
		hs = pg_handle(&r->pg, m->body, fixed_id, &out);
		free(fixed_id);
		/* messages read meanwhile (pgwait's hook) may have moved the queue */
		m = iq_peek(&r->q);
	}
	if (hs == HANDLE_WAITING)
	{
		command_waits(r, tried_at, now_mono(), excerpt, out.result);
		return 0;
	}
	backoff_reset(&r->lock_bo);
	if (r->wait_since > 0 && hs != HANDLE_LOST && hs != HANDLE_RETRY)
	{
		log_info("inbound: %s no longer waits for a lock (it waited since %s, %.1fs)",
				 excerpt, r->wait_since_utc, now_mono() - r->wait_since);
		r->wait_since = 0;
	}
	switch (hs)
	{
		case HANDLE_DONE:
			if (out.duplicate)
			{
				r->skipped++;
				/*
				 * No result kept (its first handling still running, or the
				 * inbox record edited): "first result {}" would read as if
				 * the first run had returned nothing.
				 */
				if (out.no_result)
					log_info("inbound: skipped a duplicate: message_id %s was handled before (its result was not kept): %s",
							 out.message_id, excerpt);
				else
					log_info("inbound: skipped a duplicate: message_id %s was handled before (first result %s): %s",
							 out.message_id, out.result, excerpt);
				break;
			}
			r->handled++;
			/* its events are readable now: publish them without waiting */
			r->outbound_due = 1;
			log_info("inbound: ChangeBatchQuantity %s (message_id %s): %s",
					 excerpt, out.message_id[0] ? out.message_id : "none", out.result);
			break;
		case HANDLE_REJECTED:
			r->skipped++;
			log_warn("inbound: skipped %s message on %s: %s: %s",
					 strncmp(out.sqlstate, "22", 2) == 0 ? "a malformed" : "a rejected",
					 r->cfg.inbound, out.result, excerpt);
			break;
		case HANDLE_RETRY:
			{
				double		delay = backoff_next(&r->inbound_bo);

				log_warn("inbound: %s failed for now (%s); retrying in %.1fs",
						 excerpt, out.result, delay);
				r->in_retry_at = now_mono() + delay;
				return 0;
			}
		case HANDLE_WAITING:	/* above */
		case HANDLE_LOST:
			return -1;
		case HANDLE_FATAL:
			log_error("inbound: cannot execute commands: %s", out.result);
			return -2;
	}
	backoff_reset(&r->inbound_bo);
	/* streams: acknowledged only after the command committed */
	if (m->entry_id && r->rs.link.up && redis_xack(&r->rs, m->entry_id) != 0)
	{
		/* redelivered from the pending list later, and de-duplicated */
		iq_pop(&r->q);
		return -1;
	}
	iq_pop(&r->q);
	return 0;
}

/*
 * While a query waits (pgwait.h's hook): go on reading the Redis
 * subscription into the bounded queue, so that Redis does not disconnect
 * a subscriber that stopped reading (client-output-buffer-limit pubsub),
 * with every message in its buffer.  Not once stopping, as the main loop.
 */
static int
wait_watch(void *arg, struct pollfd *fds, int max)
{
	relay	   *r = arg;
	int			fd;

	if (max < 1 || stop_requested() || !r->rs.link.up || (fd = redis_sub_socket(&r->rs)) < 0)
		return 0;
	fds[0] = (struct pollfd) {.fd = fd, .events = POLLIN};
	return 1;
}

static void
wait_ready(void *arg, const struct pollfd *fds, int n)
{
	relay	   *r = arg;

	if (n >= 1 && fds[0].revents != 0 && r->rs.link.up &&
		redis_sub_socket(&r->rs) == fds[0].fd)
		redis_sub_read(&r->rs, &r->q, now_mono());
}

/*
 * Hide the passwords given on the command line (--redis, --dsn) from ps and
 * /proc/PID/cmdline (there is a window between exec and this; the
 * environment or --redis-password-file has none).
 */
static void
scrub_argv(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
	{
		/* the PostgreSQL password of --dsn (key/value or URI), -dDSN too */
		text_mask_dsn_password(argv[i]);
		if (strncmp(argv[i], "-d", 2) == 0)
			text_mask_dsn_password(argv[i] + 2);
		/* the Redis password, where the URL has it (as written) */
		text_mask_redis_password(argv[i]);
	}
}

static double
min_d(double a, double b)
{
	return a < b ? a : b;
}

static int
run(relay *r, const sigset_t *waitmask)
{
	const relay_config *cfg = &r->cfg;

	while (!stop_requested())
	{
		double		now = now_mono();
		double		deadline;
		struct pollfd fds[3];
		nfds_t		nfds = 0;
		int			pg_fd,
					sub_fd,
					rc;
		struct timespec ts;

		/*
		 * The senders of cancel requests that ended (each on its own bound):
		 * reaped here too, not only before a query, as against a server
		 * that stays silent no query runs, and one given up would be
		 * logged only once the server is back.
		 */
		pg_reap_cancels(0);
		/* (re)connect */
		if (!r->pg.link.up && now >= r->pg.link.next_try)
		{
			pg_status st = pg_connect(&r->pg, now);

			if (st == PG_FATAL)
				return 1;
			if (st == PG_OK)
				r->outbound_due = 1;
		}
		/* Stream entries in hand come back from the pending list. */
		if (!r->rs.link.up && cfg->mode == RELAY_STREAMS && r->q.count > 0)
		{
			r->wait_since = 0;
			log_info("inbound: %zu stream entr%s in hand will be read again from the pending list",
					 r->q.count, r->q.count == 1 ? "y" : "ies");
			iq_clear(&r->q);
		}
		if (!r->rs.link.up && now >= r->rs.link.next_try)
		{
			if (redis_connect(&r->rs, now) == 0)
				r->outbound_due = 1;
		}
		if (r->pg.link.up && pg_consume(&r->pg) > 0)
			r->outbound_due = 1;

		/* commands first: they are few and someone waits for them */
		{
			int			done = 0;

			while (r->q.count > 0 && r->pg.link.up && now >= r->in_retry_at &&
				   done < INBOUND_PER_ROUND && !stop_requested())
			{
				rc = inbound_one(r);
				if (rc == -2)
					return 1;
				if (rc != 0)
					break;
				done++;
			}
			/* a flood that ended while the queue was full: its count */
			if (r->q.count == 0)
				redis_log_drops(&r->rs);
		}

		/*
		 * A notification that came with a query's result (our own command's
		 * NOTIFY) is already in libpq's buffer: poll() would not see it.
		 */
		if (r->pg.link.up && pg_consume(&r->pg) > 0)
			r->outbound_due = 1;

		/* events from the WAL: connected once the publication is there */
		if (cfg->source == RELAY_SOURCE_WAL)
		{
			if (!r->wal.link.up && r->pg.link.ever_up && now >= r->wal.link.next_try)
			{
				rc = wal_connect(&r->wal, now);
				if (rc == -2)
					return 1;
			}
			if (r->wal.link.up && !stop_requested())
				wal_round(r, now);
			if (cfg->slot_lag_warn > 0 && r->pg.link.up && now >= r->next_lag_check &&
				!stop_requested())
			{
				r->next_lag_check = now + cfg->slot_lag_interval;
				slot_lag_check(r);
			}
		}
		/* events from the outbox */
		else if (cfg->outbound && !stop_requested() && r->pg.link.up && r->rs.link.up && now >= r->out_retry_at &&
				 (r->outbound_due || now >= r->next_poll))
		{
			r->next_poll = now + cfg->poll_interval;
			rc = outbound_round(r, now);
			if (rc == -2)
				return 1;
		}

		/* no new stream entries once stopping: they would wait as pending */
		if (r->rs.link.up && !stop_requested())
			redis_sub_tick(&r->rs, &r->q, now);

		/* notifications that came with the queries above: no sleeping on them */
		if (r->pg.link.up && pg_consume(&r->pg) > 0)
			r->outbound_due = 1;

		/* --no-outbound: no events to read, whatever a command recorded */
		if (!cfg->outbound)
			r->outbound_due = 0;

		/* how long to wait */
		now = now_mono();
		deadline = cfg->outbound && r->pg.link.up && r->rs.link.up && cfg->source == RELAY_SOURCE_OUTBOX
			? r->next_poll : now + MAX_WAIT_S;
		if (cfg->source == RELAY_SOURCE_WAL)
		{
			if (cfg->slot_lag_warn > 0)
				deadline = min_d(deadline, r->next_lag_check);
			if (!r->wal.link.up)
				deadline = min_d(deadline, r->wal.link.next_try);
			else if (r->outbound_due)
				deadline = min_d(deadline, r->rs.link.up ? r->out_retry_at : now + MAX_WAIT_S);
		}
		if (r->outbound_due && r->pg.link.up && r->rs.link.up)
			deadline = min_d(deadline, r->out_retry_at);
		if (r->q.count > 0 && r->pg.link.up)
			deadline = min_d(deadline, r->in_retry_at);
		if (!r->pg.link.up)
			deadline = min_d(deadline, r->pg.link.next_try);
		if (!r->rs.link.up)
			deadline = min_d(deadline, r->rs.link.next_try);
		else
			deadline = min_d(deadline, redis_sub_deadline(&r->rs, &r->q, now));
		deadline = min_d(deadline, now + MAX_WAIT_S);
		if (deadline < now)
			deadline = now;
		ts.tv_sec = (time_t) (deadline - now);
		ts.tv_nsec = (long) ((deadline - now - (double) ts.tv_sec) * 1e9);

		pg_fd = pg_socket(&r->pg);
		sub_fd = r->rs.link.up ? redis_sub_socket(&r->rs) : -1;
		if (pg_fd >= 0)
			fds[nfds++] = (struct pollfd) {.fd = pg_fd, .events = POLLIN};
		if (wal_socket(&r->wal) >= 0 && r->wal.nevents < (size_t) cfg->batch_size * 2)
			fds[nfds++] = (struct pollfd) {.fd = wal_socket(&r->wal), .events = POLLIN};
		if (sub_fd >= 0)		/* last: read below */
			fds[nfds++] = (struct pollfd) {.fd = sub_fd, .events = POLLIN};
		rc = ppoll(fds, nfds, &ts, waitmask);
		if (rc < 0)
		{
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			return 1;
		}
		if (rc > 0 && sub_fd >= 0 && fds[nfds - 1].revents != 0)
			redis_sub_read(&r->rs, &r->q, now_mono());
		/* the PostgreSQL socket is read at the top of the loop */
	}
	return 0;
}

/*
 * After a stop signal: run the pub/sub messages already received, in
 * order, for at most the stop's grace (PG_STOP_GRACE_S, the time the
 * queries still run get): one that waits for a lock is tried again
 * meanwhile, as the commands behind it cannot overtake it.  What is left
 * then (PostgreSQL away, a lock still held, more than the grace allows)
 * is dropped and counted: pub/sub keeps no copy.
 */
static void
finish_in_hand(relay *r)
{
	double		until = now_mono() + PG_STOP_GRACE_S;
	unsigned long ran = r->handled + r->skipped;

	redis_log_drops(&r->rs);
	if (r->q.count == 0)
		return;
	if (r->cfg.mode == RELAY_STREAMS)
	{
		log_info("inbound: %zu stream entr%s not executed stay pending in group %s",
				 r->q.count, r->q.count == 1 ? "y" : "ies", r->cfg.group);
		return;
	}
	log_info("inbound: executing the %zu received message%s in hand (pub/sub keeps no copy), for at most %gs",
			 r->q.count, r->q.count == 1 ? "" : "s", PG_STOP_GRACE_S);
	while (r->q.count > 0 && r->pg.link.up)
	{
		double		now = now_mono();

		if (now >= until)
			break;
		if (r->in_retry_at > now)
		{
			double		pause = (r->in_retry_at < until ? r->in_retry_at : until) - now;
			struct timespec ts = {(time_t) pause, (long) ((pause - (double) (time_t) pause) * 1e9)};

			nanosleep(&ts, NULL);
			continue;
		}
		if (inbound_one(r) != 0)
			break;
	}
	if (r->q.count == 0)
	{
		log_info("inbound: executed the %lu message%s in hand", r->handled + r->skipped - ran,
				 r->handled + r->skipped - ran == 1 ? "" : "s");
		return;
	}
	if (r->wait_since > 0)
		log_warn("inbound: dropping %zu received message%s not executed (pub/sub keeps no copy): "
				 "the first waits for a lock since %s, the others behind it",
				 r->q.count, r->q.count == 1 ? "" : "s", r->wait_since_utc);
	else
		log_warn("inbound: dropping %zu received message%s not executed (pub/sub keeps no copy): %s",
				 r->q.count, r->q.count == 1 ? "" : "s",
				 !r->pg.link.up ? "postgres is not connected"
				 : now_mono() >= until ? "the stop's grace ran out" : "a command failed for now");
}

int
main(int argc, char **argv)
{
	relay		r;
	char		err[1024];
	char		url[512];
	char		forged_note[80];
	char	   *dsn_err;
	sigset_t	waitmask;
	pg_wait_hook wait_hook = {wait_watch, wait_ready, &r};
	int			status;
	size_t		i;

	memset(&r, 0, sizeof r);
	switch (config_load(&r.cfg, argc, argv, err, sizeof err))
	{
		case CONFIG_OK:
			break;
		case CONFIG_HELP:
			config_usage(stdout);
			config_free(&r.cfg);
			return 0;
		case CONFIG_VERSION:
			printf("allocation-relay %s (hiredis %d.%d, libpq %d)\n", RELAY_VERSION,
				   HIREDIS_MAJOR, HIREDIS_MINOR, PQlibVersion());
			config_free(&r.cfg);
			return 0;
		case CONFIG_ERROR:
			fprintf(stderr, "allocation-relay: error: %s\n"
					"Try \"allocation-relay --help\" for more information.\n", err);
			config_free(&r.cfg);
			return 2;
	}
	if ((dsn_err = pg_check_dsn(r.cfg.dsn)) != NULL)
	{
		fprintf(stderr, "allocation-relay: error: bad --dsn: %s\n", dsn_err);
		free(dsn_err);
		config_free(&r.cfg);
		return 2;
	}
	scrub_argv(argc, argv);
	log_init("allocation-relay", r.cfg.verbose);

	/* Signals are blocked except while waiting in ppoll: no lost wake-up. */
	stop_signals_init(&waitmask);

	pg_init(&r.pg, &r.cfg);
	wal_init(&r.wal, &r.cfg, read_wal_prefix, &r);
	pg_set_signals(&r.pg, &stop_signal, &waitmask);
	pg_set_wait_hook(&r.pg, &wait_hook);
	wal_set_wait_hook(&r.wal, &wait_hook);
	wal_set_signals(&r.wal, &stop_signal, &waitmask);
	redis_init(&r.rs, &r.cfg);
	redis_set_signals(&r.rs, &stop_signal, &waitmask);
	iq_init(&r.q);
	iq_set_limits(&r.q, (size_t) r.cfg.inbound_max, (size_t) r.cfg.inbound_max_bytes);
	r.events = xcalloc((size_t) r.cfg.batch_size, sizeof *r.events);
	r.out = xcalloc((size_t) r.cfg.batch_size, sizeof *r.out);
	backoff_init(&r.refused_bo, 0.25, r.cfg.backoff_max);
	backoff_init(&r.query_bo, 0.25, r.cfg.backoff_max);
	backoff_init(&r.inbound_bo, 0.25, r.cfg.backoff_max);
	backoff_init(&r.lock_bo, LOCK_WAIT_RETRY_S, r.cfg.backoff_max);
	if (r.cfg.inbound)
	{
		r.stream_prefix = xconcat("redis-stream:", r.cfg.inbound, ":");
	}

	redis_url_display(&r.cfg.redis, url, sizeof url);
	log_info("allocation-relay %s starting: consumer \"%s\", %s mode, redis %s, batch %d, poll every %gs",
			 RELAY_VERSION, r.cfg.consumer, config_mode_name(r.cfg.mode), url,
			 r.cfg.batch_size, r.cfg.poll_interval);
	if (!r.cfg.outbound)
		log_info("outbound: off (--no-outbound): no events are read or published");
	if (r.cfg.inbound)
		log_info("inbound: ChangeBatchQuantity commands from %s %s%s",
				 r.cfg.mode == RELAY_STREAMS ? "stream" : "channel", r.cfg.inbound,
				 r.cfg.mode == RELAY_PUBSUB
				 ? " (de-duplicated by their own message_id only)" : "");
	if (r.cfg.inbound && r.cfg.mode == RELAY_STREAMS)
	{
		if (r.cfg.claim_idle > 0)
			log_info("inbound: entries of group %s pending for more than %gs under any consumer are claimed and run (--claim-idle)",
					 r.cfg.group, r.cfg.claim_idle);
		else
			log_info("inbound: --claim-idle 0: entries left pending by other consumers of group %s are not run",
					 r.cfg.group);
	}

	status = run(&r, &waitmask);
	if (status == 0)
	{
		log_info("stopping (%s): finishing the work in hand",
				 stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
		finish_in_hand(&r);
	}
	if (r.wal.conn && r.wal.link.up)
		wal_status(&r.wal, now_mono(), 1);	/* what Redis took, confirmed */
	wal_close(&r.wal);
	free(r.wal.events);
	free(r.wal.commits);
	pg_close(&r.pg);
	redis_close(&r.rs);
	/* a cancel sent just now goes out before a container ends with us */
	pg_reap_cancels(2.0);
	snprintf(forged_note, sizeof forged_note, ", %lu forged message%s ignored",
			 r.wal.forged, r.wal.forged == 1 ? "" : "s");
	log_info("%s: %lu event%s published, %lu command%s executed, %lu skipped%s",
			 status == 0 ? "stopped" : "stopped on a fatal error",
			 r.published, r.published == 1 ? "" : "s",
			 r.handled, r.handled == 1 ? "" : "s", r.skipped,
			 r.cfg.source == RELAY_SOURCE_WAL ? forged_note : "");

	for (i = 0; i < r.nroutes; i++)
	{
		free(r.routes[i].type);
		free(r.routes[i].target);
	}
	free(r.routes);
	free(r.events);
	free(r.out);
	free(r.stream_prefix);
	iq_free(&r.q);
	config_free(&r.cfg);
	return status;
}
