/*
 * redis.c - the Redis side of the relay (see redis.h).
 */
#define _GNU_SOURCE
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "text.h"

#define CONNECT_TIMEOUT_S 5
#define COMMAND_TIMEOUT_S 10
#define PUBSUB_PING_AFTER_S 30.0	/* ping a silent subscription after this */
#define REPLY_TIMEOUT_S 10.0		/* a reply must come within this (plus BLOCK) */
#define STREAM_COUNT 10				/* entries per XREADGROUP */
#define CLAIM_COUNT 100				/* entries per XAUTOCLAIM */
#define CLAIM_CALLS 10				/* XAUTOCLAIMs per tick, at most */
#define CLAIM_LOG_IDS 10			/* entry ids named in the log line */

void
redis_init(redis_side *rs, const relay_config *cfg)
{
	memset(rs, 0, sizeof *rs);
	rs->cfg = cfg;
	link_init(&rs->link, "redis", cfg->backoff_max);
}

void
redis_set_signals(redis_side *rs, volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	rs->stop = stop;
	rs->waitmask = waitmask;
}

void
redis_close(redis_side *rs)
{
	if (rs->cmd)
		redisFree(rs->cmd);
	if (rs->sub)
		redisFree(rs->sub);
	rs->cmd = NULL;
	rs->sub = NULL;
	rs->waiting = 0;
}

/*
 * What a context's error says: a blocking command that ran into its
 * timeout (a hung server, SIGSTOP'd) is "no reply within 10s", not the
 * socket's "Resource temporarily unavailable".
 */
static const char *
context_error(const redisContext *c, char *buf, size_t buflen)
{
	int			timeout = 0;

#ifdef REDIS_ERR_TIMEOUT
	timeout = c->err == REDIS_ERR_TIMEOUT;
#endif
	if (c->err == REDIS_ERR_IO &&
		(strcmp(c->errstr, strerror(EAGAIN)) == 0 || strcmp(c->errstr, strerror(EWOULDBLOCK)) == 0 ||
		 strcmp(c->errstr, strerror(ETIMEDOUT)) == 0))
		timeout = 1;
	if (timeout)
		snprintf(buf, buflen, "no reply within %ds", COMMAND_TIMEOUT_S);
	else
		snprintf(buf, buflen, "%s", c->errstr[0] ? c->errstr : "no reply");
	return buf;
}

static void
lost(redis_side *rs, const char *why)
{
	redis_close(rs);
	link_lost(&rs->link, now_mono(), why);
}

/*
 * Wait until fd is ready for "events" or until deadline, with the stop
 * signals let through: 1 ready, 0 time is up, -1 a stop signal came.
 */
static int
wait_fd(redis_side *rs, int fd, short events, double deadline)
{
	for (;;)
	{
		struct pollfd pfd = {.fd = fd, .events = events};
		struct timespec ts;
		double		now = now_mono(),
					left = deadline - now;
		int			rc;

		if (rs->stop && *rs->stop)
			return -1;
		if (left <= 0)
			return 0;
		ts.tv_sec = (time_t) left;
		ts.tv_nsec = (long) ((left - (double) ts.tv_sec) * 1e9);
		rc = ppoll(&pfd, 1, &ts, rs->waitmask);
		if (rs->stop && *rs->stop)
			return -1;
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return 1;			/* let the read or write report the error */
	}
}

/*
 * A command of the connection's set-up, its reply awaited in wait_fd (a
 * blocking redisCommand would hold a stop signal for the whole reply
 * timeout): the reply, or NULL with err set, or NULL with err empty when
 * a stop signal came.
 */
static redisReply *
setup_commandv(redis_side *rs, redisContext *c, char *err, size_t errlen,
			   const char *fmt, va_list ap)
{
	int			done = 0;
	double		deadline = now_mono() + COMMAND_TIMEOUT_S;

	err[0] = '\0';
	if (redisvAppendCommand(c, fmt, ap) != REDIS_OK)
	{
		snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "out of memory");
		return NULL;
	}
	/* a short command into an empty socket buffer: this write does not wait */
	while (!done)
		if (redisBufferWrite(c, &done) != REDIS_OK)
		{
			context_error(c, err, errlen);
			return NULL;
		}
	for (;;)
	{
		void	   *reply = NULL;

		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
		{
			context_error(c, err, errlen);
			return NULL;
		}
		if (reply)
			return reply;
		switch (wait_fd(rs, c->fd, POLLIN, deadline))
		{
			case -1:
				return NULL;	/* stopped: err stays empty */
			case 0:
				snprintf(err, errlen, "no reply within %ds", COMMAND_TIMEOUT_S);
				return NULL;
			default:
				break;
		}
		if (redisBufferRead(c) != REDIS_OK)
		{
			context_error(c, err, errlen);
			return NULL;
		}
	}
}

static redisReply *
setup_command(redis_side *rs, redisContext *c, char *err, size_t errlen,
			  const char *fmt, ...)
{
	va_list		ap;
	redisReply *r;

	va_start(ap, fmt);
	r = setup_commandv(rs, c, err, errlen, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * Run a set-up command expecting a status/ok reply; 0, or -1 with err
 * (empty: stopped by a signal).
 */
static int
simple_command(redis_side *rs, redisContext *c, char *err, size_t errlen, const char *fmt, ...)
{
	va_list		ap;
	redisReply *r;
	int			rc = 0;

	va_start(ap, fmt);
	r = setup_commandv(rs, c, err, errlen, fmt, ap);
	va_end(ap);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR)
	{
		snprintf(err, errlen, "%s", r->str);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

/*
 * A connection, set up (AUTH, SELECT): NULL with err set when it failed,
 * NULL with err empty when a stop signal came.  The connect is made
 * without blocking and awaited in wait_fd, for CONNECT_TIMEOUT_S as
 * before (hiredis's blocking connect would hold a stop signal for all of
 * it); then the socket blocks again, with the command timeout, as the
 * rest of this file expects.
 */
static redisContext *
open_context(redis_side *rs, const redis_target *t, char *err, size_t errlen)
{
	struct timeval tv = {COMMAND_TIMEOUT_S, 0};
	redisContext *c;
	char		e[256];
	int			so_error = 0,
				flags;
	socklen_t	len = sizeof so_error;

	err[0] = '\0';
	c = t->path ? redisConnectUnixNonBlock(t->path)
		: redisConnectNonBlock(t->host, t->port);
	if (c == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (c->err)
	{
		snprintf(err, errlen, "%s", c->errstr);
		redisFree(c);
		return NULL;
	}
	switch (wait_fd(rs, c->fd, POLLOUT, now_mono() + CONNECT_TIMEOUT_S))
	{
		case -1:
			redisFree(c);		/* stopped: err stays empty */
			return NULL;
		case 0:
			snprintf(err, errlen, "%s", strerror(ETIMEDOUT));
			redisFree(c);
			return NULL;
		default:
			break;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
		so_error = errno;
	if (so_error != 0)
	{
		snprintf(err, errlen, "%s", strerror(so_error));
		redisFree(c);
		return NULL;
	}
	/* connected: a blocking context again, as redisConnectWithTimeout makes */
	flags = fcntl(c->fd, F_GETFL);
	if (flags < 0 || fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
	{
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		redisFree(c);
		return NULL;
	}
	c->flags |= REDIS_BLOCK;
	redisSetTimeout(c, tv);
	if (t->path == NULL)
		redisEnableKeepAlive(c);
	if (t->password)
	{
		int			rc = t->user
			? simple_command(rs, c, e, sizeof e, "AUTH %s %s", t->user, t->password)
			: simple_command(rs, c, e, sizeof e, "AUTH %s", t->password);

		if (rc != 0)
		{
			if (e[0])
				snprintf(err, errlen, "AUTH: %s", e);
			redisFree(c);
			return NULL;
		}
	}
	if (t->db > 0 && simple_command(rs, c, e, sizeof e, "SELECT %d", t->db) != 0)
	{
		if (e[0])
			snprintf(err, errlen, "SELECT %d: %s", t->db, e);
		redisFree(c);
		return NULL;
	}
	return c;
}

int
redis_connect(redis_side *rs, double now)
{
	const relay_config *cfg = rs->cfg;
	char		err[512];
	char		url[512];
	char		detail[1024];

	rs->cmd = open_context(rs, &cfg->redis, err, sizeof err);
	if (rs->cmd == NULL)
		goto failed;

	if (cfg->inbound)
	{
		if (cfg->mode == RELAY_STREAMS)
		{
			char		e[256];

			/*
			 * From the start of the stream: commands sent before the relay
			 * first ran are executed too.  The group survives restarts.
			 */
			if (simple_command(rs, rs->cmd, e, sizeof e, "XGROUP CREATE %s %s 0 MKSTREAM",
							   cfg->inbound, cfg->group) != 0 &&
				strncmp(e, "BUSYGROUP", 9) != 0)
			{
				if (e[0])		/* else stopped */
					snprintf(err, sizeof err, "XGROUP CREATE %s %s: %s", cfg->inbound, cfg->group, e);
				goto failed;
			}
		}
		rs->sub = open_context(rs, &cfg->redis, err, sizeof err);
		if (rs->sub == NULL)
			goto failed;
		if (cfg->mode == RELAY_PUBSUB)
		{
			char		e[256];
			redisReply *r = setup_command(rs, rs->sub, e, sizeof e, "SUBSCRIBE %s", cfg->inbound);

			if (r == NULL && e[0] == '\0')
				goto failed;	/* stopped */
			if (r == NULL || r->type != REDIS_REPLY_ARRAY)
			{
				snprintf(err, sizeof err, "SUBSCRIBE %s: %s", cfg->inbound,
						 r == NULL ? e
						 : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
				if (r)
					freeReplyObject(r);
				goto failed;
			}
			freeReplyObject(r);
		}
	}
	rs->waiting = 0;
	rs->pending_phase = 1;
	rs->next_claim = now;		/* once our own pending entries are done */
	snprintf(rs->claim_cursor, sizeof rs->claim_cursor, "0-0");
	rs->last_rx = now;

	redis_url_display(&cfg->redis, url, sizeof url);
	if (cfg->inbound == NULL)
		snprintf(detail, sizeof detail, "%s, %s mode, no inbound", url,
				 config_mode_name(cfg->mode));
	else if (cfg->mode == RELAY_PUBSUB)
		snprintf(detail, sizeof detail, "%s, pubsub mode, SUBSCRIBE %s", url, cfg->inbound);
	else
		snprintf(detail, sizeof detail, "%s, streams mode, XREADGROUP %s on stream %s as %s",
				 url, cfg->group, cfg->inbound, cfg->consumer);
	link_connected(&rs->link, now, detail);
	return 0;

failed:
	redis_close(rs);
	if (err[0])					/* else stopped by a signal: nothing to say */
		link_failed(&rs->link, now, err);
	return -1;
}

int
redis_sub_socket(const redis_side *rs)
{
	return rs->sub ? rs->sub->fd : -1;
}

/*
 * The batch is published by one server-side script that stops at the first
 * refusal, so that nothing after a refused event reaches Redis before it
 * (pipelined commands would all run: a receiver would get an aggregate's
 * event 2 before 1, then 2 again).  It answers {published, error}.
 */
static const char PUBLISH_SCRIPT[] =
	"for i = 1, #ARGV, 2 do "
	"local r = redis.pcall('PUBLISH', ARGV[i], ARGV[i + 1]) "
	"if type(r) == 'table' and r.err then return {(i - 1) / 2, r.err} end "
	"end "
	"return {#ARGV / 2, ''}";

static const char XADD_SCRIPT[] =
	"for i = 1, #KEYS do "
	"local r = redis.pcall('XADD', KEYS[i], '*', 'event_id', ARGV[3 * i - 2],"
	" 'type', ARGV[3 * i - 1], 'data', ARGV[3 * i]) "
	"if type(r) == 'table' and r.err then return {i - 1, r.err} end "
	"end "
	"return {#KEYS, ''}";

pub_status
redis_publish(redis_side *rs, const outbound_event *events, int n,
			  int *accepted, char *err, size_t errlen)
{
	int			streams = rs->cfg->mode == RELAY_STREAMS;
	int			i,
				m = 0,
				argc = 3;
	const char **argv;
	size_t	   *argvlen;
	int		   *index;			/* script position -> event */
	char		nkeys[16];
	redisReply *r;
	long long	done;
	pub_status	st;

	*accepted = 0;
	argv = calloc((size_t) n * 4 + 4, sizeof *argv);
	argvlen = calloc((size_t) n * 4 + 4, sizeof *argvlen);
	index = calloc((size_t) n + 1, sizeof *index);
	if (argv == NULL || argvlen == NULL || index == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	for (i = 0; i < n; i++)
		if (events[i].target != NULL)
			index[m++] = i;
		else
			log_debug("event %s %s is not published (no channel)", events[i].type, events[i].id);
	if (m == 0)
	{
		*accepted = n;
		st = PUB_OK;
		goto done;
	}
	argv[0] = "EVAL";
	argv[1] = streams ? XADD_SCRIPT : PUBLISH_SCRIPT;
	snprintf(nkeys, sizeof nkeys, "%d", streams ? m : 0);
	argv[2] = nkeys;
	if (streams)
		for (i = 0; i < m; i++)
			argv[argc++] = events[index[i]].target;
	for (i = 0; i < m; i++)
	{
		const outbound_event *e = &events[index[i]];

		if (streams)
		{
			argv[argc++] = e->id;
			argv[argc++] = e->type;
		}
		else
			argv[argc++] = e->target;
		argv[argc] = e->json;
		argvlen[argc++] = e->jsonlen;
	}
	for (i = 0; i < argc; i++)
		if (argvlen[i] == 0 && argv[i] != NULL)
			argvlen[i] = strlen(argv[i]);
	/* the JSON may be empty only in theory; its length is set above */
	r = redisCommandArgv(rs->cmd, argc, argv, argvlen);
	if (r == NULL)
	{
		context_error(rs->cmd, err, errlen);
		lost(rs, err);
		st = PUB_LOST;
		goto done;
	}
	if (r->type == REDIS_REPLY_ERROR)
	{
		/* the script itself was refused (no EVAL right, BUSY...) */
		snprintf(err, errlen, "EVAL: %s", r->str);
		done = 0;
		st = PUB_REFUSED;
	}
	else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
			 r->element[0]->type == REDIS_REPLY_INTEGER &&
			 r->element[0]->integer >= 0 && r->element[0]->integer <= m)
	{
		done = r->element[0]->integer;
		if (done < m)
		{
			const outbound_event *e = &events[index[done]];

			snprintf(err, errlen, "%s %s: %s", streams ? "XADD" : "PUBLISH", e->target,
					 r->element[1]->type == REDIS_REPLY_STRING ||
					 r->element[1]->type == REDIS_REPLY_STATUS ? r->element[1]->str : "refused");
			st = PUB_REFUSED;
		}
		else
			st = PUB_OK;
	}
	else
	{
		snprintf(err, errlen, "EVAL: unexpected reply");
		done = 0;
		st = PUB_REFUSED;
	}
	freeReplyObject(r);
	for (i = 0; i < (int) done; i++)
		log_debug("published %s %s to %s", events[index[i]].type, events[index[i]].id,
				  events[index[i]].target);
	/* accepted: every event before the first refused one */
	*accepted = done < m ? index[done] : n;

done:
	free(argv);
	free(argvlen);
	free(index);
	return st;
}

/* --- the subscription ----------------------------------------------------- */

static int
send_request(redis_side *rs, double now, const char *fmt, ...)
{
	va_list		ap;
	int			rc,
				done = 0;

	va_start(ap, fmt);
	rc = redisvAppendCommand(rs->sub, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK)
		goto failed;
	do
	{
		if (redisBufferWrite(rs->sub, &done) != REDIS_OK)
			goto failed;
	} while (!done);
	rs->waiting = 1;
	rs->sent_at = now;
	return 0;

failed:
	{
		char		why[512];

		context_error(rs->sub, why, sizeof why);
		lost(rs, why);
	}
	return -1;
}

static int
is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

void
redis_log_drops(redis_side *rs)
{
	if (rs->dropped > rs->dropped_logged)
	{
		log_warn("inbound: %lu message%s dropped while the queue was full",
				 rs->dropped - rs->dropped_logged,
				 rs->dropped - rs->dropped_logged == 1 ? "" : "s");
		rs->dropped_logged = rs->dropped;
	}
}

/* A pub/sub push: ["message", channel, payload], or ["pong", ""]. */
static void
pubsub_reply(redis_side *rs, redisReply *r, inbound_queue *q)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_str(r->element[0]))
		return;
	if (strcasecmp(r->element[0]->str, "message") == 0 && r->elements == 3 &&
		is_str(r->element[2]))
	{
		if (iq_offer(q, r->element[2]->str, r->element[2]->len) != 0)
		{
			/* bounded memory: pub/sub keeps no copy, so this one is gone */
			if (rs->dropped++ == rs->dropped_logged)
				log_warn("inbound: dropped a %zu-byte message on %s: %zu messages (%zu bytes) in hand, at most %zu (%zu bytes); pub/sub keeps no copy",
						 r->element[2]->len, rs->cfg->inbound, q->count, q->bytes,
						 q->max_count, q->max_bytes);
			return;
		}
		redis_log_drops(rs);
		log_debug("received on %s: %zu bytes", rs->cfg->inbound, r->element[2]->len);
	}
	else if (strcasecmp(r->element[0]->str, "pong") == 0)
		rs->waiting = 0;
}

/* The reply to XREADGROUP; -1: the connection must be restarted. */
static int
stream_reply(redis_side *rs, redisReply *r, inbound_queue *q)
{
	size_t		s,
				i;
	size_t		received = 0;

	rs->waiting = 0;
	if (r->type == REDIS_REPLY_NIL)
	{
		rs->pending_phase = 0;
		return 0;
	}
	if (r->type == REDIS_REPLY_ERROR)
	{
		char		why[512];

		/* NOGROUP: the stream or the group went away (FLUSHALL, no persistence) */
		snprintf(why, sizeof why, "XREADGROUP: %s", r->str);
		lost(rs, why);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY)
		return 0;
	for (s = 0; s < r->elements; s++)
	{
		redisReply *stream = r->element[s];
		redisReply *entries;

		if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
			stream->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		entries = stream->element[1];
		for (i = 0; i < entries->elements; i++)
		{
			redisReply *e = entries->element[i];
			redisReply *f;
			const char **names;
			const char **values;
			size_t	   *nlens,
					   *vlens;
			size_t		k,
						nf;
			strbuf		json;

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !is_str(e->element[0]))
				continue;
			received++;
			f = e->element[1];
			if (f->type != REDIS_REPLY_ARRAY)
			{
				/* deleted from the stream while pending: nothing to run */
				log_warn("inbound: stream entry %s is gone (deleted while pending); acknowledging it",
						 e->element[0]->str);
				if (redis_xack(rs, e->element[0]->str) != 0)
					return -1;
				continue;
			}
			nf = f->elements / 2;
			names = calloc(nf + 1, sizeof *names);
			values = calloc(nf + 1, sizeof *values);
			nlens = calloc(nf + 1, sizeof *nlens);
			vlens = calloc(nf + 1, sizeof *vlens);
			if (!names || !values || !nlens || !vlens)
			{
				fputs("allocation-relay: out of memory\n", stderr);
				exit(1);
			}
			for (k = 0; k < nf; k++)
			{
				redisReply *kn = f->element[2 * k];
				redisReply *kv = f->element[2 * k + 1];

				names[k] = is_str(kn) ? kn->str : "";
				nlens[k] = is_str(kn) ? kn->len : 0;
				values[k] = is_str(kv) ? kv->str : "";
				vlens[k] = is_str(kv) ? kv->len : 0;
			}
			sb_init(&json);
			stream_fields_to_json(&json, names, nlens, values, vlens, nf);
			iq_push(q, json.data ? json.data : "", json.len, e->element[0]->str);
			if (log_verbose())
			{
				char		excerpt[256];

				text_excerpt(json.data ? json.data : "", json.len, 200, excerpt, sizeof excerpt);
				log_debug("received stream entry %s: %s", e->element[0]->str, excerpt);
			}
			sb_free(&json);
			free(names);
			free(values);
			free(nlens);
			free(vlens);
		}
	}
	if (rs->pending_phase && received == 0)
		rs->pending_phase = 0;
	return 0;
}

int
redis_sub_read(redis_side *rs, inbound_queue *q, double now)
{
	void	   *reply;

	if (rs->sub == NULL)
		return 0;
	if (redisBufferRead(rs->sub) != REDIS_OK)
	{
		char		why[512];

		context_error(rs->sub, why, sizeof why);
		lost(rs, why);
		return -1;
	}
	rs->last_rx = now;
	for (;;)
	{
		reply = NULL;
		if (redisReaderGetReply(rs->sub->reader, &reply) != REDIS_OK)
		{
			lost(rs, "protocol error on the subscription");
			return -1;
		}
		if (reply == NULL)
			break;
		if (rs->cfg->mode == RELAY_PUBSUB)
			pubsub_reply(rs, reply, q);
		else if (stream_reply(rs, reply, q) != 0)
		{
			freeReplyObject(reply);
			return -1;
		}
		freeReplyObject(reply);
	}
	return 0;
}

/*
 * --claim-idle: claim the group's entries pending for longer than the
 * threshold, whoever holds them (a relay killed before its XACK, under a
 * --consumer name no relay uses any more), with XAUTOCLAIM ... JUSTID on
 * the command connection.  They become our pending entries: the next
 * XREADGROUP reads them with "0", in the stream's order, and each runs
 * with the message_id of its entry id, as our own would after a restart
 * (one that ran before the crash is skipped as a duplicate).  One sweep
 * goes through the whole pending list, CLAIM_CALLS calls per tick; the
 * next starts --claim-idle later.  0, or -1: the connection was lost.
 */
static int
claim_idle_entries(redis_side *rs, double now)
{
	const relay_config *cfg = rs->cfg;
	long long	min_idle_ms = (long long) (cfg->claim_idle * 1000.0);
	size_t		claimed = 0,
				deleted = 0;
	strbuf		ids;
	int			calls;

	sb_init(&ids);
	for (calls = 0; calls < CLAIM_CALLS; calls++)
	{
		redisReply *r = redisCommand(rs->cmd, "XAUTOCLAIM %s %s %s %lld %s COUNT %d JUSTID",
									 cfg->inbound, cfg->group, cfg->consumer, min_idle_ms,
									 rs->claim_cursor, CLAIM_COUNT);
		size_t		i;

		if (r == NULL)
		{
			char		why[512],
						e[300];

			snprintf(why, sizeof why, "XAUTOCLAIM: %s", context_error(rs->cmd, e, sizeof e));
			sb_free(&ids);
			lost(rs, why);
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR ||
			r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_str(r->element[0]) ||
			r->element[1]->type != REDIS_REPLY_ARRAY)
		{
			char		e[256];

			/* Redis before 6.2, an ACL without +xautoclaim: try again later */
			snprintf(e, sizeof e, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			if (strcmp(e, rs->claim_err) != 0)
				log_warn("inbound: cannot claim the idle entries of group %s (XAUTOCLAIM %s: %s); "
						 "entries left pending by other consumers are not run; trying again every %gs",
						 cfg->group, cfg->inbound, e, cfg->claim_idle);
			snprintf(rs->claim_err, sizeof rs->claim_err, "%s", e);
			freeReplyObject(r);
			snprintf(rs->claim_cursor, sizeof rs->claim_cursor, "0-0");
			rs->next_claim = now + cfg->claim_idle;
			sb_free(&ids);
			return 0;
		}
		if (rs->claim_err[0])
		{
			log_info("inbound: XAUTOCLAIM works again");
			rs->claim_err[0] = '\0';
		}
		for (i = 0; i < r->element[1]->elements; i++)
		{
			redisReply *id = r->element[1]->element[i];

			if (!is_str(id))
				continue;
			if (claimed++ < CLAIM_LOG_IDS)
			{
				sb_appends(&ids, " ");
				sb_appends(&ids, id->str);
			}
			else if (claimed == CLAIM_LOG_IDS + 1)
				sb_appends(&ids, " ...");
		}
		/* Redis 7: entries deleted from the stream, dropped from the list */
		if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY)
			deleted += r->element[2]->elements;
		snprintf(rs->claim_cursor, sizeof rs->claim_cursor, "%s", r->element[0]->str);
		freeReplyObject(r);
		if (strcmp(rs->claim_cursor, "0-0") == 0)
			break;
	}
	if (claimed > 0)
	{
		log_warn("inbound: claimed %zu stream entr%s of group %s pending for more than %gs "
				 "(a consumer that stopped before XACK, or one that is stuck); running %s:%s",
				 claimed, claimed == 1 ? "y" : "ies", cfg->group, cfg->claim_idle,
				 claimed == 1 ? "it" : "them", ids.data ? ids.data : "");
		/* read them as our own pending entries, in the stream's order */
		rs->pending_phase = 1;
	}
	if (deleted > 0)
		log_warn("inbound: %zu idle pending entr%s of group %s had been deleted from stream %s: nothing to run",
				 deleted, deleted == 1 ? "y" : "ies", cfg->group, cfg->inbound);
	sb_free(&ids);
	/* the sweep is done: the next one after --claim-idle */
	if (strcmp(rs->claim_cursor, "0-0") == 0)
		rs->next_claim = now + cfg->claim_idle;
	return 0;
}

int
redis_sub_tick(redis_side *rs, const inbound_queue *q, double now)
{
	if (rs->sub == NULL)
		return 0;
	if (rs->waiting)
	{
		double		limit = REPLY_TIMEOUT_S +
			(rs->cfg->mode == RELAY_STREAMS ? REDIS_BLOCK_MS / 1000.0 : 0);

		if (now - rs->sent_at > limit)
		{
			char		why[128];

			snprintf(why, sizeof why, "no reply from the server within %.0fs", limit);
			lost(rs, why);
			return -1;
		}
		return 0;
	}
	if (rs->cfg->mode == RELAY_STREAMS)
	{
		/* one batch in hand at a time: the rest waits in the stream */
		if (q->count > 0)
			return 0;
		/* our own pending entries first, then those others left idle */
		if (rs->cfg->claim_idle > 0 && !rs->pending_phase && now >= rs->next_claim &&
			claim_idle_entries(rs, now) != 0)
			return -1;
		return send_request(rs, now,
							"XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s %s",
							rs->cfg->group, rs->cfg->consumer, STREAM_COUNT,
							REDIS_BLOCK_MS, rs->cfg->inbound,
							rs->pending_phase ? "0" : ">");
	}
	if (now - rs->last_rx >= PUBSUB_PING_AFTER_S)
		return send_request(rs, now, "PING");
	return 0;
}

double
redis_sub_deadline(const redis_side *rs, const inbound_queue *q, double now)
{
	if (rs->sub == NULL)
		return now + 3600;
	if (rs->waiting)
		return rs->sent_at + REPLY_TIMEOUT_S +
			(rs->cfg->mode == RELAY_STREAMS ? REDIS_BLOCK_MS / 1000.0 : 0) + 0.01;
	if (rs->cfg->mode == RELAY_STREAMS)
		/* a new XREADGROUP is due once the entries in hand are done */
		return q->count == 0 ? now : now + 3600;
	return rs->last_rx + PUBSUB_PING_AFTER_S;
}

int
redis_xack(redis_side *rs, const char *entry_id)
{
	redisReply *r;

	if (rs->cmd == NULL)
		return -1;
	r = redisCommand(rs->cmd, "XACK %s %s %s", rs->cfg->inbound, rs->cfg->group, entry_id);
	if (r == NULL)
	{
		char		why[512],
					e[300];

		snprintf(why, sizeof why, "XACK: %s", context_error(rs->cmd, e, sizeof e));
		lost(rs, why);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR)
	{
		log_warn("redis: XACK %s %s %s: %s", rs->cfg->inbound, rs->cfg->group, entry_id, r->str);
		/*
		 * The entry stays pending: reading our pending entries again now
		 * would return it at once, and run it (as a duplicate) in a tight
		 * loop.  It comes back after a reconnection, or with a claim.
		 */
		rs->pending_phase = 0;
	}
	freeReplyObject(r);
	return 0;
}
