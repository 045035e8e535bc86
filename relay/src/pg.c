/*
 * pg.c - the PostgreSQL side of the relay (see pg.h).
 */
#define _GNU_SOURCE
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgwait.h"
#include "text.h"

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
	"         s.id::text AS id,"
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
	pg->hook = NULL;
	link_init(&pg->link, "postgres", cfg->backoff_max);
}

void
pg_set_signals(pg_side *pg, volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	pg->stop = stop;
	pg->waitmask = waitmask;
}

void
pg_set_wait_hook(pg_side *pg, const pg_wait_hook *hook)
{
	pg->hook = hook;
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

	pg_one_line(message, line, sizeof line);
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

/*
 * libpq's message about a DSN it cannot parse quotes parts of it, the
 * password among them: a quoted part that overlaps what
 * text_mask_dsn_password hides is shown masked.
 */
static void
mask_quoted_password(char *msg, const char *dsn)
{
	char	   *masked = strdup(dsn);
	size_t		dsnlen = strlen(dsn);
	char	   *open = msg;

	if (masked == NULL)
	{
		*msg = '\0';
		return;
	}
	text_mask_dsn_password(masked);
	while ((open = strchr(open, '"')) != NULL)
	{
		char	   *close = strchr(open + 1, '"');
		/* a part cut off with the message: to its end */
		size_t		len = close ? (size_t) (close - open - 1) : strlen(open + 1);

		for (size_t p = 0; len > 0 && p + len <= dsnlen; p++)
			if (memcmp(dsn + p, open + 1, len) == 0 &&
				memcmp(masked + p, dsn + p, len) != 0)
				memcpy(open + 1, masked + p, len);
		if (close == NULL)
			break;
		open = close + 1;
	}
	free(masked);
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

		pg_one_line(errmsg ? errmsg : "out of memory", buf, sizeof buf);
		PQfreemem(errmsg);
		mask_quoted_password(buf, dsn);
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
		pg_one_line(res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
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

/*
 * The connection failed under us: one log line, then reconnect later.
 * While it is being set up (not connected yet) that is a failed attempt,
 * with the attempts' backoff.
 */
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
	if (pg->link.up)
		link_lost(&pg->link, now_mono(), reason);
	else
		link_failed(&pg->link, now_mono(), reason);
	return PG_LOST;
}

/*
 * A query of the connection in hand, at most --pg-timeout seconds, the stop
 * signals let through: a frozen backend or a silent network must neither
 * hang the relay nor keep it from stopping.  NULL with pg->conn NULL: the
 * connection was given up (logged: as lost once connected, as a failed
 * attempt while setting up); otherwise the last result (PQclear it).
 */
static PGresult *
exec_wait(pg_side *pg, const char *sql, int nparams, const char *const *params)
{
	pg_wait		w = {.timeout = pg->cfg->pg_timeout, .stop = pg->stop,
	.waitmask = pg->waitmask, .hook = pg->hook};
	char		why[256];
	PGresult   *res = pg_exec_wait(pg->conn, sql, nparams, params, &w, why, sizeof why);

	if (res == NULL)
		lost(pg, why);
	return res;
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

	res = exec_wait(pg, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1", 1, params);
	if (res == NULL)
		return PG_LOST;
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0)
	{
		char	   *ident = PQescapeIdentifier(pg->conn, pg->cfg->publication,
											   strlen(pg->cfg->publication));
		char		sql[600];

		PQclear(res);
		snprintf(sql, sizeof sql, "CREATE PUBLICATION %s", ident ? ident : "\"\"");
		PQfreemem(ident);
		res = exec_wait(pg, sql, 0, NULL);
		if (res == NULL)
			return PG_LOST;
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
 * Does allocation.outbox_mode, as this connection sees it (the database's
 * and the role's settings), write the events where this relay reads them?
 * A relay reading the WAL of a database in 'table' mode, or the outbox of
 * one in 'wal' mode, would publish nothing and say nothing: a warning at
 * every connection says so.  Only a warning: the writers' roles may have
 * settings of their own, which this connection cannot see.
 */
static void
warn_mode_mismatch(pg_side *pg)
{
	PGresult   *res = exec_wait(pg, "SELECT pg_catalog.current_setting('allocation.outbox_mode', true)",
								0, NULL);
	const char *mode;
	int			wal;

	if (res == NULL)
		return;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		PQclear(res);
		return;
	}
	/* not set anywhere, the library not loaded yet: its default */
	mode = PQgetisnull(res, 0, 0) || PQgetvalue(res, 0, 0)[0] == '\0' ? "table" : PQgetvalue(res, 0, 0);
	wal = pg->cfg->source == RELAY_SOURCE_WAL;
	if (wal ? strcmp(mode, "table") == 0 : strcmp(mode, "wal") == 0)
		log_warn("postgres: allocation.outbox_mode is '%s' for this connection: events are written %s, "
				 "and this relay (--source %s) reads %s, so it publishes none of them; "
				 "set the mode to '%s' or 'both' (ALTER DATABASE ... SET allocation.outbox_mode), "
				 "or start the relay with --source %s",
				 mode, wal ? "to the outbox table only" : "to the WAL only",
				 wal ? "wal" : "outbox", wal ? "the WAL" : "the outbox table",
				 wal ? "wal" : "table", wal ? "outbox" : "wal");
	PQclear(res);
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

	res = exec_wait(pg, "SELECT pg_catalog.count(*) FROM pg_catalog.pg_extension"
					" WHERE extname OPERATOR(pg_catalog.=) 'allocation_router'", 0, NULL);
	if (res == NULL)
		return PG_LOST;
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

	res = exec_wait(pg, "SET TimeZone = 'UTC'", 0, NULL);
	if (res == NULL)
		return PG_LOST;
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

pg_status
pg_connect(pg_side *pg, double now)
{
	/*
	 * A dead peer is noticed by TCP too; the DSN may override these.  Not
	 * the client encoding (after the DSN): names and messages travel as
	 * UTF-8, as they are checked here, whatever PGCLIENTENCODING says.
	 */
	const char *keys[] = {"fallback_application_name", "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
	"tcp_user_timeout", "dbname", "client_encoding", NULL};
	const char *vals[] = {"allocation-relay", "10", "1", "30", "10", "3", "60000",
	pg->cfg->dsn ? pg->cfg->dsn : "", "UTF8", NULL};
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
	warn_mode_mismatch(pg);
	if (pg->conn == NULL)
		return PG_LOST;
	if (pg->cfg->source == RELAY_SOURCE_WAL)
		return connect_for_wal(pg, now);
	/* occurred_at in the JSON messages: always UTC */
	res = exec_wait(pg, "SET TimeZone = 'UTC'; LISTEN allocation_events", 0, NULL);
	if (res == NULL)
		return PG_LOST;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto failed;
	PQclear(res);

	params[0] = pg->cfg->consumer;
	params[1] = pg->cfg->from_now ? "false" : "true";
	res = exec_wait(pg, "SELECT allocation.register_consumer($1, $2::boolean)", 2, params);
	if (res == NULL)
		return PG_LOST;
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
		pg_one_line(PQerrorMessage(pg->conn), err, sizeof err);
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

/*
 * A statement of the command's transaction (BEGIN, COMMIT, ROLLBACK)
 * failed: HANDLE_LOST when the connection went with it, else the class of
 * its error, as for the command itself.
 */
static handle_status
handle_failed(pg_side *pg, PGresult *res, handle_outcome *out)
{
	err_class	c = classify(pg->conn, res);
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

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
			/* a lock held elsewhere past --command-lock-timeout */
			return st && strcmp(st, "55P03") == 0 ? HANDLE_WAITING : HANDLE_RETRY;
		case ERR_FATAL:
			return HANDLE_FATAL;
		case ERR_REJECTED:
			return HANDLE_REJECTED;
	}
	return HANDLE_RETRY;
}

/* Run sql (no parameters, no rows); 0, or -1 with *hs set. */
static int
handle_step(pg_side *pg, const char *sql, handle_outcome *out, handle_status *hs)
{
	PGresult   *res = exec_wait(pg, sql, 0, NULL);

	if (pg->conn == NULL)
	{
		snprintf(out->result, sizeof out->result, "%s", pg->link.last_err);
		*hs = HANDLE_LOST;
		return -1;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		*hs = handle_failed(pg, res, out);
		return -1;
	}
	PQclear(res);
	return 0;
}

/*
 * After a failed command: end its transaction.  The connection is given
 * up when that fails too (a connection in an aborted transaction would
 * refuse everything after).
 */
static void
handle_rollback(pg_side *pg)
{
	PGresult   *res;

	if (pg->conn == NULL || PQtransactionStatus(pg->conn) == PQTRANS_IDLE)
		return;
	res = exec_wait(pg, "ROLLBACK", 0, NULL);
	if (pg->conn == NULL)
		return;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		char		err[512];

		result_error(pg->conn, res, err, sizeof err);
		PQclear(res);
		lost(pg, err);
		return;
	}
	PQclear(res);
}

handle_status
pg_handle(pg_side *pg, const char *json, const char *fixed_id,
		  handle_outcome *out)
{
	const char *params[2] = {json, fixed_id};
	PGresult   *res;
	handle_status hs;
	int			own_xact = pg->cfg->command_lock_timeout > 0;

	memset(out, 0, sizeof *out);
	if (own_xact)
	{
		char		begin[96];

		/*
		 * A lock held elsewhere (a transaction on the batch's product,
		 * idle for minutes) must not hold the connection: the command
		 * gives up its place after this long and is tried again later.
		 */
		snprintf(begin, sizeof begin, "BEGIN; SET LOCAL lock_timeout = %ld",
				 (long) (pg->cfg->command_lock_timeout * 1000.0 + 0.5));
		if (handle_step(pg, begin, out, &hs) != 0)
		{
			handle_rollback(pg);
			return pg->conn == NULL && hs != HANDLE_FATAL ? HANDLE_LOST : hs;
		}
	}
	res = exec_wait(pg, SQL_HANDLE, 2, params);
	if (pg->conn == NULL)
	{
		snprintf(out->result, sizeof out->result, "%s", pg->link.last_err);
		return HANDLE_LOST;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		hs = handle_failed(pg, res, out);
		if (own_xact)
			handle_rollback(pg);
		if (pg->conn == NULL && hs != HANDLE_FATAL)
			return HANDLE_LOST;
		return hs;
	}
	if (!PQgetisnull(res, 0, 1))
		snprintf(out->message_id, sizeof out->message_id, "%s", PQgetvalue(res, 0, 1));
	if (!PQgetisnull(res, 0, 0))
	{
		/* the message lacks batchref or qty */
		snprintf(out->result, sizeof out->result, "%s", PQgetvalue(res, 0, 0));
		snprintf(out->sqlstate, sizeof out->sqlstate, "22023");
		PQclear(res);
		if (own_xact)
			handle_rollback(pg);
		return pg->conn == NULL ? HANDLE_LOST : HANDLE_REJECTED;
	}
	out->no_result = PQgetisnull(res, 0, 2);
	snprintf(out->result, sizeof out->result, "%s",
			 out->no_result ? "null" : PQgetvalue(res, 0, 2));
	out->duplicate = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
	PQclear(res);
	if (own_xact)
	{
		handle_outcome done = *out;

		/* a COMMIT may fail too (a deferred check, a serialization failure) */
		if (handle_step(pg, "COMMIT", out, &hs) != 0)
		{
			handle_rollback(pg);
			return pg->conn == NULL && hs != HANDLE_FATAL ? HANDLE_LOST : hs;
		}
		*out = done;
	}
	return HANDLE_DONE;
}
