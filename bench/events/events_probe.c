/*
 * bench/events/events_probe.c - latency probes and a peer consumer for
 * bench/events.sh (libpq and hiredis, as the relay).
 *
 *   events_probe roundtrip DSN REDIS_PORT PREFIX N
 *       the book's scenario N times: PUBLISH change_batch_quantity
 *       {"batchref": "PREFIX-old-i", "qty": 5} and wait for the
 *       line_allocated message of order PREFIX-o-i (set up beforehand);
 *       prints one latency in milliseconds a line
 *   events_probe commit DSN REDIS_PORT PREFIX N
 *       N times: SELECT allocation.allocate('PREFIX-c-i', 'PREFIX-SKU', 1)
 *       (autocommit) and wait for its line_allocated message; prints the
 *       time from the call to the message, in milliseconds
 *   events_probe peer-consumer DSN REDIS_PORT
 *       the PL/pgSQL peer's consumer: LISTEN allocation_events, read
 *       peer.outbox past its cursor (commit_key, position), PUBLISH each
 *       event; runs until killed
 *
 * Notes: the subscriber is a second Redis connection subscribed before
 * the first message is sent; a message is matched by its orderid.
 */
#define _GNU_SOURCE
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static redisContext *
redis_open(int port)
{
	struct timeval tv = {10, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (c == NULL || c->err)
	{
		fprintf(stderr, "events_probe: redis: %s\n", c ? c->errstr : "out of memory");
		exit(1);
	}
	redisSetTimeout(c, tv);
	return c;
}

static PGconn *
pg_open(const char *dsn)
{
	PGconn	   *conn = PQconnectdb(dsn);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "events_probe: postgres: %s", PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

/* Wait for a line_allocated message holding needle; 0, or -1 on timeout. */
static int
wait_message(redisContext *sub, const char *needle)
{
	for (;;)
	{
		redisReply *r = NULL;

		if (redisGetReply(sub, (void **) &r) != REDIS_OK || r == NULL)
			return -1;
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
			r->element[2]->type == REDIS_REPLY_STRING &&
			strstr(r->element[2]->str, needle) != NULL)
		{
			freeReplyObject(r);
			return 0;
		}
		freeReplyObject(r);
	}
}

static int
probe(const char *what, const char *dsn, int port, const char *prefix, int n)
{
	redisContext *sub = redis_open(port);
	redisContext *cmd = redis_open(port);
	PGconn	   *conn = strcmp(what, "commit") == 0 ? pg_open(dsn) : NULL;
	redisReply *r;
	int			i;

	r = redisCommand(sub, "SUBSCRIBE line_allocated");
	freeReplyObject(r);
	for (i = 0; i < n; i++)
	{
		char		needle[256];
		char		buf[512];
		double		t0;

		t0 = now_ms();
		if (conn)
		{
			PGresult   *res;

			snprintf(needle, sizeof needle, "\"orderid\": \"%s-c-%d\"", prefix, i);
			snprintf(buf, sizeof buf, "SELECT allocation.allocate('%s-c-%d', '%s-SKU', 1)",
					 prefix, i, prefix);
			res = PQexec(conn, buf);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
			{
				fprintf(stderr, "events_probe: %s", PQerrorMessage(conn));
				return 1;
			}
			PQclear(res);
		}
		else
		{
			snprintf(needle, sizeof needle, "\"orderid\": \"%s-o-%d\"", prefix, i);
			r = redisCommand(cmd, "PUBLISH change_batch_quantity {\"batchref\":\"%s-old-%d\",\"qty\":5}",
							 prefix, i);
			freeReplyObject(r);
		}
		if (wait_message(sub, needle) != 0)
		{
			fprintf(stderr, "events_probe: no message %s within 10 s\n", needle);
			return 1;
		}
		printf("%.3f\n", now_ms() - t0);
	}
	return 0;
}

/* The peer's consumer: LISTEN, read past the cursor, PUBLISH, repeat. */
static int
peer_consumer(const char *dsn, int port)
{
	PGconn	   *conn = pg_open(dsn);
	redisContext *cmd = redis_open(port);
	char		key[32] = "0",
				pos[32] = "0";
	PGresult   *res = PQexec(conn, "LISTEN allocation_events");

	PQclear(res);
	/* from the end: a consumer that keeps up, not one catching up */
	res = PQexec(conn, "SELECT commit_key::text, position::text FROM peer.outbox"
				 " ORDER BY commit_key DESC, position DESC LIMIT 1");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		snprintf(key, sizeof key, "%s", PQgetvalue(res, 0, 0));
		snprintf(pos, sizeof pos, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	for (;;)
	{
		const char *params[2] = {key, pos};
		int			rows,
					i;
		struct pollfd pfd = {PQsocket(conn), POLLIN, 0};
		PGnotify   *nt;

		res = PQexecParams(conn,
						   "SELECT commit_key::text, position::text, type, payload::text"
						   "  FROM peer.outbox WHERE (commit_key, position) > ($1::xid8, $2::bigint)"
						   "   AND commit_key < pg_snapshot_xmin(pg_current_snapshot())"
						   " ORDER BY commit_key, position LIMIT 1000",
						   2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "events_probe: %s", PQerrorMessage(conn));
			return 1;
		}
		rows = PQntuples(res);
		for (i = 0; i < rows; i++)
			redisAppendCommand(cmd, "PUBLISH peer.%s %s", PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
		for (i = 0; i < rows; i++)
		{
			redisReply *r = NULL;

			if (redisGetReply(cmd, (void **) &r) != REDIS_OK)
				return 1;
			freeReplyObject(r);
		}
		if (rows > 0)
		{
			snprintf(key, sizeof key, "%s", PQgetvalue(res, rows - 1, 0));
			snprintf(pos, sizeof pos, "%s", PQgetvalue(res, rows - 1, 1));
		}
		PQclear(res);
		if (rows == 1000)
			continue;
		PQconsumeInput(conn);
		if ((nt = PQnotifies(conn)) == NULL)
		{
			poll(&pfd, 1, 1000);
			PQconsumeInput(conn);
		}
		while ((nt = PQnotifies(conn)) != NULL)
			PQfreemem(nt);
	}
}

int
main(int argc, char **argv)
{
	if (argc == 6 && (strcmp(argv[1], "roundtrip") == 0 || strcmp(argv[1], "commit") == 0))
		return probe(argv[1], argv[2], atoi(argv[3]), argv[4], atoi(argv[5]));
	if (argc == 4 && strcmp(argv[1], "peer-consumer") == 0)
		return peer_consumer(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: events_probe roundtrip|commit DSN REDIS_PORT PREFIX N\n"
			"       events_probe peer-consumer DSN REDIS_PORT\n");
	return 2;
}
