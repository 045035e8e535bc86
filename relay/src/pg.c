/*
 * pg.c - the PostgreSQL side of the relay (see pg.h).
 */
#define _GNU_SOURCE
#include "pg.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounded.h"
#include "log.h"

/* after a stop signal, the query in hand gets this long to finish */
#define PG_STOP_GRACE_S 3.0

static const char SQL_READ[] =
	"SELECT o.id::text, o.type,"
	"       pg_catalog.json_build_object("
	"           'id', o.id, 'type', o.type,"
	"           'aggregatetype', o.aggregatetype, 'aggregateid', o.aggregateid,"
	"           'aggregate_seq', o.aggregate_seq, 'occurred_at', o.occurred_at,"
	"           'payload', o.payload)::text,"
	"       o.payload::text"
	"  FROM allocation.read_events($1, $2) AS o";

static const char SQL_ACK[] =
	"SELECT allocation.ack_events($1, $2::uuid)";

/*
 * The inbound command.  The checks come first (CASE evaluates lazily), so
 * that a message without batchref or qty is named as such; JSON that does
 * not parse fails the cast (22P02), wrong field types fail in handle
 * (22023/22004).  The message_id is the message's own, else the stream
 * entry's ($2), else none: pub/sub has no ids, and a message repeated on
 * purpose must run again.  A message with an id asks handle to report
 * whether it was a duplicate ("report_duplicate"): the node that owns the
 * inbox says so, directly or behind a router (whose gates give every
 * transaction a transaction id, so the relay's own transaction cannot
 * tell).  An extension without that answer leaves the field out; then,
 * directly connected, a transaction that got no transaction id ran
 * nothing (read after handle ran: the CTE is materialized first).  A
 * duplicate whose first handling kept no result answers the flag alone:
 * with the flag taken out, nothing is left, and the result column is NULL
 * as for an answer of SQL NULL (a result of handle is never an empty
 * object).
 */
static const char SQL_HANDLE[] =
	"WITH h AS MATERIALIZED ("
	"  SELECT CASE"
	"           WHEN pg_catalog.jsonb_typeof(s.m) <> 'object' THEN 'not a JSON object'"
	"           WHEN NOT s.m ? 'batchref' THEN 'no \"batchref\" field'"
	"           WHEN NOT s.m ? 'qty' THEN 'no \"qty\" field'"
	"         END AS problem,"
	"         s.id #>> '{}' AS id,"
	"         CASE WHEN pg_catalog.jsonb_typeof(s.m) = 'object'"
	"                   AND s.m ? 'batchref' AND s.m ? 'qty' THEN"
	"           allocation.handle(pg_catalog.jsonb_build_object("
	"                 'type', 'ChangeBatchQuantity',"
	"                 'ref', s.m -> 'batchref',"
	"                 'qty', s.m -> 'qty')"
	"             || CASE WHEN s.id IS NULL THEN '{}'::jsonb"
	"                     ELSE pg_catalog.jsonb_build_object('message_id', s.id,"
	"                                                        'report_duplicate', true) END)"
	"         END AS answer"
	"    FROM (SELECT r.m,"
	"                 COALESCE(NULLIF(r.m -> 'message_id', 'null'::jsonb),"
	"                          pg_catalog.to_jsonb($2::text)) AS id"
	"            FROM (SELECT $1::jsonb AS m) AS r) AS s)"
	"SELECT h.problem, h.id, NULLIF(h.answer - 'duplicate', '{}'::jsonb)::text,"
	"       h.id IS NOT NULL AND h.answer IS NOT NULL"
	"       AND CASE WHEN pg_catalog.jsonb_typeof(h.answer -> 'duplicate') = 'boolean'"
	"                THEN (h.answer ->> 'duplicate')::boolean"
	"                ELSE pg_catalog.pg_current_xact_id_if_assigned() IS NULL END"
	"  FROM h";

void
pg_init(pg_side *pg, const relay_config *cfg)
{
	pg->conn = NULL;
	pg->cfg = cfg;
	pg->fatal[0] = '\0';
	pg->query_err[0] = '\0';
	pg->stop = NULL;
	pg->waitmask = NULL;
	link_init(&pg->link, "postgres", cfg->backoff_max);
}

void
pg_set_signals(pg_side *pg, volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	pg->stop = stop;
	pg->waitmask = waitmask;
}

/* libpq's multi-line messages as one line, without the trailing newline */
static void
one_line(const char *msg, char *buf, size_t buflen)
{
	size_t		j = 0;
	const char *p;

	for (p = msg; *p && j + 1 < buflen; p++)
	{
		if (*p == '\n')
		{
			while (p[1] == ' ' || p[1] == '\t')
				p++;
			if (p[1] == '\0' || p[1] == '\n')
				continue;
			if (j + 2 >= buflen)
				break;
			buf[j++] = ';';
			buf[j++] = ' ';
		}
		else
			buf[j++] = *p == '\t' ? ' ' : *p;
	}
	buf[j] = '\0';
	while (j > 0 && (buf[j - 1] == ' ' || buf[j - 1] == ';'))
		buf[--j] = '\0';
}

/*
 * Messages the server sends outside a query result: a FATAL before it
 * closes the connection (kept for the "connection lost" line), WARNINGs
 * (a plugin that failed during allocation.handle) and the rest.
 */
static void
notice_processor(void *arg, const char *message)
{
	pg_side    *pg = arg;
	char		line[512];

	one_line(message, line, sizeof line);
	if (strncmp(line, "FATAL:", 6) == 0 || strncmp(line, "PANIC:", 6) == 0)
	{
		const char *text = line + 6;

		while (*text == ' ')
			text++;
		snprintf(pg->fatal, sizeof pg->fatal, "%s", text);
	}
	else if (strncmp(line, "WARNING:", 8) == 0)
		log_warn("postgres: %s", line);
	else
		log_debug("postgres: %s", line);
}

char *
pg_check_dsn(const char *dsn)
{
	char	   *errmsg = NULL;
	PQconninfoOption *opts;

	if (dsn == NULL || *dsn == '\0')
		return NULL;
	opts = PQconninfoParse(dsn, &errmsg);
	if (opts == NULL)
	{
		char		buf[512];
		char	   *copy;

		one_line(errmsg ? errmsg : "out of memory", buf, sizeof buf);
		PQfreemem(errmsg);
		copy = strdup(buf);
		return copy ? copy : strdup("invalid connection string");
	}
	PQconninfoFree(opts);
	return NULL;
}

typedef enum
{
	ERR_LOST,			/* the connection is gone */
	ERR_TRANSIENT,		/* may work later: anything not known to be final */
	ERR_FATAL,			/* configuration: rights, missing objects */
	ERR_REJECTED		/* this statement's input: data, domain errors */
} err_class;

/*
 * What an error means for the statement that raised it.  Only the classes
 * that say "this input is bad" drop a message: data exceptions (22), the
 * integrity rules (23) and the domain's own refusals (ZA).  Missing rights
 * and objects stop the relay.  Everything else, known or not (a read-only
 * fence 25006 during a switchover, an operator intervention, a class a
 * later PostgreSQL adds), is retried: an unknown error must never
 * acknowledge a valid command unexecuted.
 */
static err_class
classify(PGconn *conn, const PGresult *res)
{
	const char *st;

	if (PQstatus(conn) != CONNECTION_OK)
		return ERR_LOST;
	st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (st == NULL || strlen(st) != 5)
		return ERR_TRANSIENT;
	if (strncmp(st, "08", 2) == 0)
		return ERR_LOST;
	if (strncmp(st, "22", 2) == 0 ||	/* data exception: a malformed message */
		strncmp(st, "23", 2) == 0 ||	/* integrity constraint */
		strncmp(st, "ZA", 2) == 0)		/* refused by the domain */
		return ERR_REJECTED;
	if (strncmp(st, "42", 2) == 0 ||	/* no rights, no such function */
		strncmp(st, "3F", 2) == 0 ||	/* no such schema */
		strncmp(st, "28", 2) == 0 ||	/* authorization */
		strncmp(st, "3D", 2) == 0)		/* no such database */
		return ERR_FATAL;
	return ERR_TRANSIENT;
}

static void
result_error(PGconn *conn, const PGresult *res, char *buf, size_t buflen)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (msg && st)
		snprintf(buf, buflen, "%s (SQLSTATE %s)", msg, st);
	else
		one_line(res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
				 : PQerrorMessage(conn), buf, buflen);
}

static void
fatal_hint(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (st == NULL)
		return;
	if (strcmp(st, "42501") == 0)
		log_error("hint: the relay's role must be a member of allocation_admin "
				  "(GRANT allocation_admin TO <role>)");
	else if (strcmp(st, "42883") == 0 || strncmp(st, "3F", 2) == 0)
		log_error("hint: CREATE EXTENSION allocation in this database "
				  "(a version with the consumer API)");
}

void
pg_close(pg_side *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
}

/* The connection failed under us: one log line, then reconnect later. */
static pg_status
lost(pg_side *pg, const char *why)
{
	char		reason[1100];

	/* "terminating connection due to administrator command" says more */
	if (pg->fatal[0])
		snprintf(reason, sizeof reason, "%s", pg->fatal);
	else
		snprintf(reason, sizeof reason, "%s", why);
	pg->fatal[0] = '\0';
	pg_close(pg);
	link_lost(&pg->link, now_mono(), reason);
	return PG_LOST;
}

/*
 * The children that send cancel requests (cancel_query).  Each one gets
 * at most the --pg-timeout of the query it cancels, and never more than
 * PG_CANCEL_MAX_S (the connect_timeout the relay gives its connections:
 * a server that does not answer a connection within it is taken for
 * unreachable).  A cancel request is one connection and 16 bytes, so a
 * server that answers queries at all answers it well within that.  As
 * the next query is given up at the earliest --pg-timeout after this
 * one, the previous child has ended by then: however often queries are
 * given up, about one child runs at a time instead of one more per
 * give-up for as long as the server stays silent.
 */
#define PG_CANCEL_MAX_S 10.0

static pid_t cancel_pids[64];	/* the running children (a few at most) */
static int	ncancels;
static double cancel_bound;		/* the last child's bound, in seconds */

/* how a child that sends a cancel request ends, when it is not SIGALRM */
#define CANCEL_SENT		0		/* the server took the request */
#define CANCEL_FAILED	1		/* PQcancel's error, logged by the child */
#define CANCEL_NO_TIMER 2		/* no timer to bound it: nothing sent */

/*
 * A child is gone: forget it, and say what became of its request, from
 * how it ended only.  Its timer is off once PQcancel returned
 * (bounded_call), so SIGALRM means that PQcancel itself got no answer.
 */
static void
cancel_done(pid_t pid, int status)
{
	int			i;

	for (i = 0; i < ncancels; i++)
	{
		if (cancel_pids[i] != pid)
			continue;
		cancel_pids[i] = cancel_pids[--ncancels];
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			log_warn("postgres: the cancel request of an abandoned query got no answer within %gs; given up",
					 cancel_bound);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == CANCEL_NO_TIMER)
			log_warn("postgres: could not cancel the abandoned query: no timer to bound the request");
		return;
	}
}

/* what the child bounds: PQcancel, CANCEL_SENT or CANCEL_FAILED */
typedef struct
{
	PGcancel   *cancel;
	char		errbuf[256];
} cancel_call;

static int
send_cancel(void *arg)
{
	cancel_call *c = arg;

	return PQcancel(c->cancel, c->errbuf, sizeof c->errbuf) ? CANCEL_SENT : CANCEL_FAILED;
}

/*
 * Reap the children that sent cancel requests (cancel_query), waiting at
 * most "seconds" for those still running.  Any child is reaped, not only
 * ours: run as the first process of a container the relay is also the
 * parent of every orphan there, and a child nobody reaps stays a zombie
 * for as long as the relay runs.
 */
void
pg_reap_cancels(double seconds)
{
	double		until = now_mono() + seconds;

	for (;;)
	{
		int			status = 0;
		pid_t		pid = waitpid(-1, &status, WNOHANG);
		struct timespec pause = {0, 10 * 1000 * 1000};

		if (pid > 0)
		{
			cancel_done(pid, status);
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 || now_mono() >= until)
			return;				/* no child left (ECHILD), or time is up */
		nanosleep(&pause, NULL);
	}
}

/*
 * Ask the server to cancel the query in hand, without waiting for it.
 * Closing the connection is not enough: a backend that waits (for a row
 * lock, say) notices that its client left only when its statement ends,
 * and until then it holds its place in the lock queue.  libpq 15's
 * PQcancel blocks with no timeout of its own (its connect waits for the
 * kernel's, about two minutes; then it waits for the server's answer for
 * ever, and a frozen postmaster or a proxy that accepts and forwards
 * nothing never answers), so a child process sends the request, under a
 * timer: SIGALRM, at its default action, ends it after "bound" seconds
 * (see cancel_bound above).  The timer is disarmed as soon as PQcancel
 * returns (bounded_call), so that the parent tells "no answer" from
 * PQcancel's own result by how the child ended, and by nothing else.
 * The relay does not wait on an unreachable
 * server, and the request goes out even when the relay stops right away.
 * The relay reaps its children itself (pg_reap_cancels: before each
 * query, and for a moment at exit) rather than leaving them to init by
 * forking twice: as a container's first process the relay is that init,
 * and each given-up query would leave a zombie behind.
 */
static void
cancel_query(PGconn *conn, double bound)
{
	PGcancel   *cancel;
	pid_t		child;

	pg_reap_cancels(0);
	cancel = PQgetCancel(conn);
	if (cancel == NULL)
		return;
	if (bound > PG_CANCEL_MAX_S)
		bound = PG_CANCEL_MAX_S;
	cancel_bound = bound;
	fflush(stderr);
	child = fork();
	if (child == 0)
	{
		cancel_call call;
		char		line[256];
		sigset_t	none;
		int			rc;

		/* none of the relay's sockets, its signals as by default */
		close_range(3, ~0U, 0);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* PQcancel retries on EINTR: only SIGALRM's default action stops it */
		call.cancel = cancel;
		call.errbuf[0] = '\0';
		rc = bounded_call(bound, send_cancel, &call);
		if (rc < 0)
			_exit(CANCEL_NO_TIMER);	/* an unbounded child is worse than no cancel */
		if (rc == CANCEL_FAILED)
		{
			one_line(call.errbuf, line, sizeof line);
			log_warn("postgres: could not cancel the abandoned query: %s", line);
		}
		_exit(rc);
	}
	if (child < 0)
		log_warn("postgres: could not cancel the abandoned query: fork: %s", strerror(errno));
	else if (ncancels < (int) (sizeof cancel_pids / sizeof cancel_pids[0]))
		cancel_pids[ncancels++] = child;	/* else reaped, just not named */
	PQfreeCancel(cancel);
}

/*
 * Run a query and wait for its result at most --pg-timeout seconds, with
 * the stop signals let through: a frozen backend or a silent network must
 * neither hang the relay nor keep it from stopping.  NULL with pg->conn
 * NULL: the connection was given up (logged as lost); otherwise the last
 * result (PQclear it).
 */
static PGresult *
exec_wait(pg_side *pg, const char *sql, int nparams, const char *const *params)
{
	PGconn	   *conn = pg->conn;
	PGresult   *res,
			   *last = NULL;
	double		deadline = now_mono() + pg->cfg->pg_timeout;
	double		stop_deadline = 0;
	char		why[256];

	pg_reap_cancels(0);			/* the senders of earlier cancels */
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
	{
		one_line(PQerrorMessage(conn), why, sizeof why);
		lost(pg, why);
		return NULL;
	}
	for (;;)
	{
		int			flush = PQflush(conn);
		struct pollfd pfd;
		struct timespec ts;
		double		now,
					until;
		int			rc;

		if (flush < 0)
		{
			one_line(PQerrorMessage(conn), why, sizeof why);
			lost(pg, why);
			return NULL;
		}
		if (flush == 0 && !PQisBusy(conn))
			break;
		now = now_mono();
		if (pg->stop && *pg->stop && stop_deadline == 0)
			stop_deadline = now + PG_STOP_GRACE_S;
		until = stop_deadline > 0 && stop_deadline < deadline ? stop_deadline : deadline;
		if (now >= until)
		{
			if (until == stop_deadline)
				snprintf(why, sizeof why, "no answer within %.0fs of the stop signal; query cancelled, connection given up",
						 PG_STOP_GRACE_S);
			else
				snprintf(why, sizeof why, "no answer within %gs (--pg-timeout); query cancelled", pg->cfg->pg_timeout);
			/* the backend must not go on (or wait on) for nobody */
			cancel_query(conn, pg->cfg->pg_timeout);
			lost(pg, why);
			return NULL;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN | (flush == 1 ? POLLOUT : 0);
		pfd.revents = 0;
		ts.tv_sec = (time_t) (until - now);
		ts.tv_nsec = (long) ((until - now - (double) ts.tv_sec) * 1e9);
		rc = ppoll(&pfd, 1, &ts, pg->waitmask);
		if (rc < 0 && errno != EINTR)
		{
			snprintf(why, sizeof why, "poll: %s", strerror(errno));
			lost(pg, why);
			return NULL;
		}
		if (rc > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn))
		{
			one_line(PQerrorMessage(conn), why, sizeof why);
			lost(pg, why);
			return NULL;
		}
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		PQclear(last);
		last = res;
	}
	return last;
}

/*
 * --source wal: this connection only runs inbound commands; no LISTEN (the
 * walsender wakes the relay, and a listening session would make every
 * commit send a NOTIFY), no consumer.  The publication the slot is read
 * with must exist before the slot decodes anything, so it is made here,
 * before the replication connection (wal.c) creates the slot.
 */
static pg_status
connect_for_wal(pg_side *pg, double now)
{
	const char *params[1] = {pg->cfg->publication};
	PGresult   *res;
	char		err[512];
	char		detail[512];

	res = PQexecParams(pg->conn, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0)
	{
		char	   *ident = PQescapeIdentifier(pg->conn, pg->cfg->publication,
											   strlen(pg->cfg->publication));
		char		sql[600];

		PQclear(res);
		snprintf(sql, sizeof sql, "CREATE PUBLICATION %s", ident ? ident : "\"\"");
		PQfreemem(ident);
		res = PQexec(pg->conn, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			log_info("postgres: created the publication %s (no tables: the relay reads the extension's logical messages)",
					 pg->cfg->publication);
		else
		{
			const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			result_error(pg->conn, res, err, sizeof err);
			if (st && strcmp(st, "42710") != 0)	/* made meanwhile: fine */
			{
				log_error("postgres: cannot create the publication %s: %s", pg->cfg->publication, err);
				log_error("hint: CREATE PUBLICATION %s; as a role with CREATE on the database, then start the relay again",
						  pg->cfg->publication);
				PQclear(res);
				pg_close(pg);
				return PG_FATAL;
			}
		}
	}
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		result_error(pg->conn, res, err, sizeof err);
		PQclear(res);
		pg_close(pg);
		link_failed(&pg->link, now, err);
		return PG_LOST;
	}
	PQclear(res);
	snprintf(detail, sizeof detail, "database %s as %s on %s port %s; commands only, events from the WAL",
			 PQdb(pg->conn), PQuser(pg->conn),
			 PQhost(pg->conn) ? PQhost(pg->conn) : "?", PQport(pg->conn));
	link_connected(&pg->link, now, detail);
	return PG_OK;
}

/*
 * Is this database the router of a cluster (allocation_router)?  A router
 * has no outbox of its own: each node's outbox is read on the node, by
 * that node's outbound relay.  Commands, on the contrary, belong here:
 * the router's allocation.handle waits for a paused partition and runs
 * the command once, on the node that holds the batch.  So a relay that
 * would read events from a router is refused (exit 1) with the topology
 * as a hint.  A node cannot tell that a router stands in front of it, so
 * the opposite mistake (commands taken on a node) is prevented by the
 * documented start commands (--no-inbound on the nodes), not here.
 */
static pg_status
check_router(pg_side *pg, double now)
{
	PGresult   *res;
	char		err[512];
	int			router;

	res = PQexec(pg->conn, "SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension"
				 " WHERE extname OPERATOR(pg_catalog.=) 'allocation_router'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		result_error(pg->conn, res, err, sizeof err);
		PQclear(res);
		pg_close(pg);
		link_failed(&pg->link, now, err);
		return PG_LOST;
	}
	router = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	pg->router = router;
	if (router && pg->cfg->outbound)
	{
		log_error("postgres: database %s is the router of a cluster (extension allocation_router): "
				  "its events are read on each node, not here", PQdb(pg->conn));
		log_error("hint: run one relay with --no-outbound against the router (the commands) and "
				  "one relay with --no-inbound on each node (the events); see router/README.md");
		pg_close(pg);
		return PG_FATAL;
	}
	return PG_OK;
}

/*
 * --no-outbound: this connection runs inbound commands only; no LISTEN,
 * no consumer (on a router, register_consumer would register one on
 * every node, which nothing would ever read).
 */
static pg_status
connect_for_commands(pg_side *pg, double now)
{
	PGresult   *res;
	char		err[512];
	char		detail[512];

	res = PQexec(pg->conn, "SET TimeZone = 'UTC'");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		result_error(pg->conn, res, err, sizeof err);
		PQclear(res);
		pg_close(pg);
		link_failed(&pg->link, now, err);
		return PG_LOST;
	}
	PQclear(res);
	snprintf(detail, sizeof detail, "database %s as %s on %s port %s; commands only (--no-outbound)%s",
			 PQdb(pg->conn), PQuser(pg->conn),
			 PQhost(pg->conn) ? PQhost(pg->conn) : "?", PQport(pg->conn),
			 pg->router ? ", through the router's gates" : "");
	link_connected(&pg->link, now, detail);
	return PG_OK;
}

/*
 * connect_timeout read as libpq reads it (strtol, a value that fits an int,
 * nothing but white space after it): none or at most 0, no limit; else at
 * least 2 s.  0 when libpq would refuse the value: its own connect then
 * says so, in its own words.
 */
static int
connect_timeout_of(PGconn *conn, double *seconds)
{
	PQconninfoOption *opts = PQconninfo(conn);
	PQconninfoOption *o;
	int			ok = 1;

	*seconds = 0;
	for (o = opts; o && o->keyword; o++)
	{
		char	   *end;
		long		v;

		if (strcmp(o->keyword, "connect_timeout") != 0 || o->val == NULL)
			continue;
		errno = 0;
		v = strtol(o->val, &end, 10);
		if (end == o->val || errno != 0 || v != (long) (int) v)
		{
			ok = 0;
			continue;
		}
		while (*end != '\0' && isspace((unsigned char) *end))
			end++;
		if (*end != '\0')
			ok = 0;
		else if (v > 0)
			*seconds = v < 2 ? 2 : (double) v;
	}
	PQconninfoFree(opts);
	return ok;
}

/*
 * Whether libpq may try more than one address: several hosts (or host
 * addresses), or one host name that resolves to several addresses.  A
 * socket directory, an address, or a name with one address is one.
 */
static int
several_addresses(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	PQconninfoOption *o;
	const char *host = NULL,
			   *hostaddr = NULL;
	int			several = 0;

	for (o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	if ((host && strchr(host, ',')) || (hostaddr && strchr(hostaddr, ',')))
		several = 1;
	else if ((hostaddr == NULL || hostaddr[0] == '\0') && host && host[0] &&
			 host[0] != '/' && host[0] != '@')
	{
		struct addrinfo hints,
				   *res = NULL,
				   *a;
		int			n = 0;

		/* as libpq looks the name up */
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &res) == 0)
		{
			for (a = res; a; a = a->ai_next)
				n++;
			freeaddrinfo(res);
		}
		several = n > 1;
	}
	PQconninfoFree(opts);
	return several;
}

/*
 * libpq's own connect, its wait included (a stop signal waits for it):
 * the connection, or NULL with err set.
 */
static PGconn *
connect_blocking(const char *const *keys, const char *const *vals,
				 char *err, size_t errlen)
{
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	one_line(PQerrorMessage(conn), err, errlen);
	if (err[0] == '\0')
		snprintf(err, errlen, "could not connect");
	PQfinish(conn);
	return NULL;
}

/*
 * pg.h.  libpq's own wait (PQconnectdbParams) polls again on EINTR, so a
 * SIGTERM would wait for the server, or for connect_timeout (10 s), for
 * every attempt: here libpq's state machine (PQconnectPoll) is driven from
 * a ppoll that lets the stop signals through, as the main loop's does.
 * When connect_timeout runs out the attempt ends; the message is libpq's.
 * libpq counts the timeout once for each address, however many sockets it
 * opens to it (a retry without SSL when the handshake fails), and so does
 * this wait, which serves one address.
 * On a timeout libpq alone goes on to the next address, and no public
 * libpq call asks it to: so when there may be one (several hosts listed,
 * or a host name with several addresses, an unreachable IPv6 one first,
 * say) the connect is libpq's own wait, and a stop signal waits for it.
 * So it is with a connect_timeout that libpq refuses: its connect then
 * says why in its own words.  Without a timeout there is nothing to tell
 * apart: libpq moves on only when an address fails.
 */
PGconn *
pg_connect_wait(const char *const *keys, const char *const *vals,
				volatile sig_atomic_t *stop, const sigset_t *waitmask,
				char *err, size_t errlen)
{
	PGconn	   *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	double		timeout,
				deadline = 0;

	err[0] = '\0';
	conn = PQconnectStartParams(keys, vals, 1);
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_BAD)
		goto failed;
	if (!connect_timeout_of(conn, &timeout) || (timeout > 0 && several_addresses(conn)))
	{
		PQfinish(conn);
		return connect_blocking(keys, vals, err, errlen);
	}
	deadline = now_mono() + timeout;
	for (;;)
	{
		struct pollfd pfd;
		struct timespec ts;
		double		now = now_mono();
		int			rc;

		if (st == PGRES_POLLING_OK)
			return conn;
		if (st == PGRES_POLLING_FAILED)
			goto failed;
		if (timeout > 0 && now >= deadline)
		{
			char		msg[1024];

			/*
			 * What libpq's own wait adds to the attempt's message, which
			 * begins with the server's name ("connection to server ...
			 * failed: "), however it ends.
			 */
			snprintf(msg, sizeof msg, "%stimeout expired", PQerrorMessage(conn));
			one_line(msg, err, errlen);
			PQfinish(conn);
			return NULL;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		/* at most 1 s at a time: the deadline is checked at the top */
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		if (timeout > 0 && deadline - now < 1.0)
		{
			ts.tv_sec = 0;
			ts.tv_nsec = (long) ((deadline - now) * 1e9);
		}
		/* a stop that came before (or during PQconnectPoll) waits for nothing */
		rc = (stop && *stop) ? 0 : ppoll(&pfd, 1, &ts, waitmask);
		if (stop && *stop)
		{
			PQfinish(conn);		/* err stays empty: stopped, not failed */
			return NULL;
		}
		if (rc < 0 && errno != EINTR)
		{
			snprintf(err, errlen, "poll: %s", strerror(errno));
			PQfinish(conn);
			return NULL;
		}
		if (rc > 0)
			st = PQconnectPoll(conn);
	}

failed:
	one_line(PQerrorMessage(conn), err, errlen);
	if (err[0] == '\0')
		snprintf(err, errlen, "could not connect");
	PQfinish(conn);
	return NULL;
}

pg_status
pg_connect(pg_side *pg, double now)
{
	/* a dead peer is noticed by TCP too; the DSN (last) may override these */
	const char *keys[] = {"fallback_application_name", "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
	"tcp_user_timeout", "dbname", NULL};
	const char *vals[] = {"allocation-relay", "10", "1", "30", "10", "3", "60000",
	pg->cfg->dsn ? pg->cfg->dsn : "", NULL};
	const char *params[2];
	PGresult   *res;
	pg_status	st;
	char		err[512];
	char		detail[512];

	pg->fatal[0] = '\0';
	pg->conn = pg_connect_wait(keys, vals, pg->stop, pg->waitmask, err, sizeof err);
	if (pg->conn == NULL)
	{
		if (err[0])				/* else stopped by a signal: nothing to say */
			link_failed(&pg->link, now, err);
		return PG_LOST;
	}

	PQsetNoticeProcessor(pg->conn, notice_processor, pg);
	st = check_router(pg, now);
	if (st != PG_OK)
		return st;
	if (!pg->cfg->outbound)
		return connect_for_commands(pg, now);
	if (pg->cfg->source == RELAY_SOURCE_WAL)
		return connect_for_wal(pg, now);
	/* occurred_at in the JSON messages: always UTC */
	res = PQexec(pg->conn, "SET TimeZone = 'UTC'; LISTEN allocation_events");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto failed;
	PQclear(res);

	params[0] = pg->cfg->consumer;
	params[1] = pg->cfg->from_now ? "false" : "true";
	res = PQexecParams(pg->conn, "SELECT allocation.register_consumer($1, $2::boolean)",
					   2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto failed;
	PQclear(res);

	snprintf(detail, sizeof detail, "database %s as %s on %s port %s; consumer \"%s\", LISTEN allocation_events",
			 PQdb(pg->conn), PQuser(pg->conn),
			 PQhost(pg->conn) ? PQhost(pg->conn) : "?", PQport(pg->conn),
			 pg->cfg->consumer);
	link_connected(&pg->link, now, detail);
	return PG_OK;

failed:
	result_error(pg->conn, res, err, sizeof err);
	if (classify(pg->conn, res) == ERR_FATAL ||
		classify(pg->conn, res) == ERR_REJECTED)
	{
		log_error("postgres: cannot set up consumer \"%s\": %s", pg->cfg->consumer, err);
		fatal_hint(res);
		PQclear(res);
		pg_close(pg);
		return PG_FATAL;
	}
	PQclear(res);
	pg_close(pg);
	link_failed(&pg->link, now, err);
	return PG_LOST;
}

int
pg_socket(const pg_side *pg)
{
	return pg->conn ? PQsocket(pg->conn) : -1;
}

int
pg_consume(pg_side *pg)
{
	PGnotify   *n;
	int			count = 0;
	char		err[512];

	if (pg->conn == NULL)
		return -1;
	if (!PQconsumeInput(pg->conn))
	{
		one_line(PQerrorMessage(pg->conn), err, sizeof err);
		lost(pg, err);
		return -1;
	}
	while ((n = PQnotifies(pg->conn)) != NULL)
	{
		count++;
		PQfreemem(n);
	}
	return count;
}

/* An error of a query the relay itself runs (read, ack). */
static pg_status
query_failed(pg_side *pg, PGresult *res, const char *what)
{
	char		err[512];
	err_class	c = classify(pg->conn, res);

	result_error(pg->conn, res, err, sizeof err);
	if (c == ERR_FATAL)
	{
		log_error("postgres: %s failed: %s", what, err);
		fatal_hint(res);
		PQclear(res);
		return PG_FATAL;
	}
	if (c == ERR_TRANSIENT)
	{
		/* a lock timeout, a serialization failure...: keep the connection */
		snprintf(pg->query_err, sizeof pg->query_err, "%s failed: %s", what, err);
		PQclear(res);
		return PG_RETRY;
	}
	PQclear(res);
	/*
	 * Anything else (an unregistered consumer): start over with a new
	 * connection, which registers the consumer again.
	 */
	{
		char		why[600];

		snprintf(why, sizeof why, "%s failed: %s", what, err);
		return lost(pg, why);
	}
}

pg_status
pg_read_events(pg_side *pg, PGresult **resp, pg_event *events, int *n)
{
	const char *params[2];
	char		batch[16];
	PGresult   *res;
	int			i,
				rows;

	*resp = NULL;
	*n = 0;
	snprintf(batch, sizeof batch, "%d", pg->cfg->batch_size);
	params[0] = pg->cfg->consumer;
	params[1] = batch;
	res = exec_wait(pg, SQL_READ, 2, params);
	if (pg->conn == NULL)
		return PG_LOST;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(pg, res, "read_events");
	rows = PQntuples(res);
	for (i = 0; i < rows && i < pg->cfg->batch_size; i++)
	{
		events[i].id = PQgetvalue(res, i, 0);
		events[i].type = PQgetvalue(res, i, 1);
		events[i].json = PQgetvalue(res, i, 2);
		events[i].jsonlen = (size_t) PQgetlength(res, i, 2);
		events[i].payload = PQgetvalue(res, i, 3);
		events[i].payloadlen = (size_t) PQgetlength(res, i, 3);
	}
	*n = i;
	*resp = res;
	return PG_OK;
}

pg_status
pg_ack(pg_side *pg, const char *id)
{
	const char *params[2] = {pg->cfg->consumer, id};
	PGresult   *res;

	res = exec_wait(pg, SQL_ACK, 2, params);
	if (pg->conn == NULL)
		return PG_LOST;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(pg, res, "ack_events");
	PQclear(res);
	return PG_OK;
}

pg_status
pg_wal_prefix(pg_side *pg, char *buf, size_t buflen)
{
	PGresult   *res;
	const char *v;

	if (pg->conn == NULL)
		return PG_LOST;
	res = exec_wait(pg, "SELECT allocation.wal_message_prefix()", 0, NULL);
	if (pg->conn == NULL)
		return PG_LOST;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (st && (strncmp(st, "42", 2) == 0 || strcmp(st, "3F000") == 0))
		{
			char		err[512];

			result_error(pg->conn, res, err, sizeof err);
			log_error("wal: cannot read the prefix of the extension's messages: %s", err);
			log_error("hint: the relay's role needs REPLICATION and membership in allocation_admin, "
					  "and the database extension allocation 0.2.0 or later");
			PQclear(res);
			return PG_FATAL;
		}
		return query_failed(pg, res, "reading the prefix of the extension's messages");
	}
	v = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "";
	if (strncmp(v, "allocation:", 11) != 0 || strlen(v) >= buflen)
	{
		snprintf(pg->query_err, sizeof pg->query_err,
				 "reading the prefix of the extension's messages: unexpected answer");
		PQclear(res);
		return PG_RETRY;
	}
	/* the prefix is a secret: never logged */
	snprintf(buf, buflen, "%s", v);
	PQclear(res);
	return PG_OK;
}

pg_status
pg_slot_lag(pg_side *pg, const char *slot, long long *retained, long long *unconfirmed)
{
	const char *params[1] = {slot};
	PGresult   *res;

	res = exec_wait(pg, "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), restart_lsn)::pg_catalog.int8,"
					" pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::pg_catalog.int8"
					" FROM pg_catalog.pg_replication_slots WHERE slot_name OPERATOR(pg_catalog.=) $1",
					1, params);
	if (pg->conn == NULL)
		return PG_LOST;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return query_failed(pg, res, "reading the slot's lag");
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		return PG_RETRY;
	}
	*retained = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*unconfirmed = PQgetisnull(res, 0, 1) ? *retained : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return PG_OK;
}

handle_status
pg_handle(pg_side *pg, const char *json, const char *fixed_id,
		  handle_outcome *out)
{
	const char *params[2] = {json, fixed_id};
	PGresult   *res;

	memset(out, 0, sizeof *out);
	res = exec_wait(pg, SQL_HANDLE, 2, params);
	if (pg->conn == NULL)
	{
		snprintf(out->result, sizeof out->result, "%s", pg->link.last_err);
		return HANDLE_LOST;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		err_class	c = classify(pg->conn, res);
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		result_error(pg->conn, res, out->result, sizeof out->result);
		snprintf(out->sqlstate, sizeof out->sqlstate, "%s", st ? st : "");
		if (c == ERR_FATAL)
			fatal_hint(res);
		PQclear(res);
		switch (c)
		{
			case ERR_LOST:
				lost(pg, out->result);
				return HANDLE_LOST;
			case ERR_TRANSIENT:
				return HANDLE_RETRY;
			case ERR_FATAL:
				return HANDLE_FATAL;
			case ERR_REJECTED:
				return HANDLE_REJECTED;
		}
		return HANDLE_RETRY;
	}
	if (!PQgetisnull(res, 0, 1))
		snprintf(out->message_id, sizeof out->message_id, "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 0))
	{
		/* the message lacks batchref or qty */
		snprintf(out->result, sizeof out->result, "%s", PQgetvalue(res, 0, 0));
		snprintf(out->sqlstate, sizeof out->sqlstate, "22023");
		PQclear(res);
		return HANDLE_REJECTED;
	}
	out->no_result = PQgetisnull(res, 0, 2);
	snprintf(out->result, sizeof out->result, "%s",
			 out->no_result ? "null" : PQgetvalue(res, 0, 2));
	out->duplicate = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	return HANDLE_DONE;
}
