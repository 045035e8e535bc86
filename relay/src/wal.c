/*
 * wal.c - events from a logical replication slot (see wal.h).
 *
 * The protocol (PostgreSQL's "Streaming Replication Protocol" and
 * "Logical Replication Message Formats"): START_REPLICATION SLOT s LOGICAL
 * 0/0 (proto_version '1', publication_names '"p"', messages 'true') turns
 * the connection into a COPY BOTH stream.  The server sends XLogData
 * ('w': start, end, time, then one pgoutput message) and keepalives ('k':
 * end, time, reply requested); the client sends standby status updates
 * ('r': written, flushed, applied, time, reply requested).  Of pgoutput's
 * messages only Begin ('B'), logical Message ('M', prefix
 * "allocation:<token>", see wal.h) and Commit ('C') matter here; the
 * publication holds no table, so no row changes come.  The flushed position is the end of the last transaction
 * all of whose events Redis accepted: after a crash the server sends
 * again from there (at least once).
 */
#define _GNU_SOURCE
#include "wal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "pg.h"
#include "pgwait.h"

/* a status update at least this often, so that wal_sender_timeout never hits */
#define WAL_STATUS_EVERY_S 10.0
/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01) */
#define PG_EPOCH_OFFSET_US 946684800000000LL

void
wal_init(wal_side *w, const relay_config *cfg, wal_prefix_fn fetch, void *fetch_arg)
{
	memset(w, 0, sizeof *w);
	w->cfg = cfg;
	w->fetch = fetch;
	w->fetch_arg = fetch_arg;
	link_init(&w->link, "wal", cfg->backoff_max);
}

void
wal_set_wait_hook(wal_side *w, const pg_wait_hook *hook)
{
	w->hook = hook;
}

void
wal_set_signals(wal_side *w, volatile sig_atomic_t *stop, const sigset_t *waitmask)
{
	w->stop = stop;
	w->waitmask = waitmask;
}

static void
forget_events(wal_side *w)
{
	size_t		i;

	for (i = 0; i < w->nevents; i++)
		free(w->events[i].data);
	w->nevents = 0;
	w->ncommits = 0;
	w->in_xact = 0;
}

void
wal_close(wal_side *w)
{
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	/* the server sends again from the confirmed position */
	forget_events(w);
}

int
wal_socket(const wal_side *w)
{
	return w->conn ? PQsocket(w->conn) : -1;
}

static void
lost(wal_side *w, const char *why)
{
	wal_close(w);
	link_lost(&w->link, now_mono(), why);
}

static uint64_t
get64(const char *p)
{
	uint64_t	v = 0;
	int			i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | (unsigned char) p[i];
	return v;
}

static uint32_t
get32(const char *p)
{
	return ((uint32_t) (unsigned char) p[0] << 24) | ((uint32_t) (unsigned char) p[1] << 16) |
		((uint32_t) (unsigned char) p[2] << 8) | (uint32_t) (unsigned char) p[3];
}

static void
put64(char *p, uint64_t v)
{
	int			i;

	for (i = 7; i >= 0; i--)
	{
		p[i] = (char) (v & 0xff);
		v >>= 8;
	}
}

/* A set-up command given up (a stop signal, --pg-timeout, the link): retry later. */
static int
given_up(wal_side *w, double now, const char *why)
{
	PQfinish(w->conn);
	w->conn = NULL;
	link_failed(&w->link, now, why);
	return -1;
}

/* Quote a name for a replication command (double quotes doubled). */
static void
quote_ident(const char *s, char *buf, size_t buflen)
{
	size_t		j = 0;

	if (buflen < 3)
		return;
	buf[j++] = '"';
	for (; *s && j + 3 < buflen; s++)
	{
		if (*s == '"')
			buf[j++] = '"';
		buf[j++] = *s;
	}
	buf[j++] = '"';
	buf[j] = '\0';
}

int
wal_connect(wal_side *w, double now)
{
	/* UTF-8 whatever the environment says, as pg.c's connection */
	const char *keys[] = {"fallback_application_name", "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
	"dbname", "replication", "client_encoding", NULL};
	const char *vals[] = {"allocation-relay", "10", "1", "30", "10", "3",
	w->cfg->dsn ? w->cfg->dsn : "", "database", "UTF8", NULL};
	char		err[512];
	char		slot[300],
				pub[300],
				pubq[600],
				sql[1400];
	char		note[500];
	pg_wait		wait = {.stop = w->stop, .waitmask = w->waitmask, .hook = w->hook};
	PGresult   *res;
	const char *st;
	int			rc;

	w->conn = pg_connect_wait(keys, vals, w->stop, w->waitmask, err, sizeof err);
	if (w->conn == NULL)
	{
		if (err[0] == '\0')
			return -1;			/* stopped by a signal: nothing to say */
		if (strstr(err, "replication role") != NULL || strstr(err, "REPLICATION attribute") != NULL)
		{
			log_error("wal: cannot connect for replication: %s", err);
			log_error("hint: the relay's role needs REPLICATION (ALTER ROLE <role> REPLICATION), "
					  "and pg_hba.conf a \"replication\" line for it");
			return -2;
		}
		link_failed(&w->link, now, err);
		return -1;
	}
	/*
	 * The prefix of the extension's messages, read again at every
	 * connection (a restored database has its own), through the regular
	 * connection: with --pg-timeout and the stop signals, since it waits
	 * for a transaction that draws the token and has not ended.
	 */
	rc = w->fetch(w->fetch_arg, w->prefix, sizeof w->prefix, err, sizeof err);
	if (rc != 0)
	{
		char		why[600];

		PQfinish(w->conn);
		w->conn = NULL;
		if (rc == -2)
			return -2;
		snprintf(why, sizeof why, "cannot read the prefix of the extension's messages: %s", err);
		link_failed(&w->link, now, why);
		return -1;
	}

	quote_ident(w->cfg->slot, slot, sizeof slot);
	snprintf(sql, sizeof sql, "CREATE_REPLICATION_SLOT %s LOGICAL pgoutput NOEXPORT_SNAPSHOT", slot);
	/*
	 * A new slot waits for every transaction that holds a transaction id
	 * when it starts (its first consistent point), however long: no
	 * timeout here, since an attempt given up would wait again.  What it
	 * waits for is said once, and a stop signal still ends the wait.
	 */
	snprintf(note, sizeof note,
			 "wal: creating the replication slot %s waits for the transactions open when it began to end "
			 "(pg_stat_activity: backend_xid set, state idle in transaction?)", w->cfg->slot);
	wait.timeout = 0;
	wait.note_after = w->cfg->pg_timeout < 5 ? w->cfg->pg_timeout : 5;
	wait.note = note;
	res = pg_exec_wait(w->conn, sql, 0, NULL, &wait, err, sizeof err);
	if (res == NULL)
		return given_up(w, now, err);
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		log_info("wal: created the replication slot %s (it keeps WAL until the relay confirms it; "
				 "a slot nobody reads fills the disk: SELECT pg_drop_replication_slot('%s') when the relay is retired)",
				 w->cfg->slot, w->cfg->slot);
	else if (st == NULL || strcmp(st, "42710") != 0)	/* 42710: it exists */
	{
		pg_one_line(PQresultErrorMessage(res), err, sizeof err);
		PQclear(res);
		PQfinish(w->conn);
		w->conn = NULL;
		if (st && (strcmp(st, "55000") == 0 || strncmp(st, "42", 2) == 0 ||
				   strncmp(st, "53", 2) == 0))
		{
			log_error("wal: cannot create the replication slot %s: %s", w->cfg->slot, err);
			if (strcmp(st, "55000") == 0)
				log_error("hint: --source wal needs wal_level = logical (postgresql.conf, then restart)");
			else if (strncmp(st, "42", 2) == 0)
				log_error("hint: the relay's role needs REPLICATION (ALTER ROLE <role> REPLICATION)");
			else
				log_error("hint: raise max_replication_slots, or drop an unused slot");
			return -2;
		}
		link_failed(&w->link, now, err);
		return -1;
	}
	PQclear(res);

	/* the publication names no table: only the logical messages come */
	snprintf(pub, sizeof pub, "%s", w->cfg->publication);
	quote_ident(pub, pubq, sizeof pubq);
	{
		/* publication_names is a list of identifiers inside a string literal */
		char		lit[700];
		size_t		i,
					j = 0;

		for (i = 0; pubq[i] && j + 2 < sizeof lit; i++)
		{
			if (pubq[i] == '\'')
				lit[j++] = '\'';
			lit[j++] = pubq[i];
		}
		lit[j] = '\0';
		snprintf(sql, sizeof sql,
				 "START_REPLICATION SLOT %s LOGICAL 0/0 (proto_version '1', publication_names '%s', messages 'true')",
				 slot, lit);
	}
	wait.timeout = w->cfg->pg_timeout;
	wait.note = NULL;
	res = pg_exec_wait(w->conn, sql, 0, NULL, &wait, err, sizeof err);
	if (res == NULL)
		return given_up(w, now, err);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
	{
		pg_one_line(PQresultErrorMessage(res), err, sizeof err);
		PQclear(res);
		PQfinish(w->conn);
		w->conn = NULL;
		link_failed(&w->link, now, err);
		return -1;
	}
	PQclear(res);
	w->in_xact = 0;
	w->reported = 0;
	w->last_status = 0;
	snprintf(err, sizeof err, "slot %s, publication %s, pgoutput messages", w->cfg->slot, w->cfg->publication);
	link_connected(&w->link, now, err);
	return 0;
}

/* One logical message of ours: keep a copy, cut into id, type, envelope, payload. */
static int
add_event(wal_side *w, const char *content, size_t len)
{
	wal_event  *e;
	char	   *nl1,
			   *nl2,
			   *p;
	static const char key[] = "\"payload\" : ";

	if (w->nevents == w->cap)
	{
		size_t		cap = w->cap ? w->cap * 2 : 256;
		wal_event  *grown = realloc(w->events, cap * sizeof *grown);

		if (grown == NULL)
		{
			fputs("allocation-relay: out of memory\n", stderr);
			exit(1);
		}
		w->events = grown;
		w->cap = cap;
	}
	e = &w->events[w->nevents];
	e->data = malloc(len + 1);
	if (e->data == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	memcpy(e->data, content, len);
	e->data[len] = '\0';
	nl1 = memchr(e->data, '\n', len);
	nl2 = nl1 ? memchr(nl1 + 1, '\n', len - (size_t) (nl1 + 1 - e->data)) : NULL;
	p = nl2 ? strstr(nl2 + 1, key) : NULL;
	if (p == NULL || e->data[len - 1] != '}')
	{
		log_warn("wal: ignoring a malformed allocation message at the slot's position");
		free(e->data);
		return 0;
	}
	*nl1 = '\0';
	*nl2 = '\0';
	e->id = e->data;
	e->type = nl1 + 1;
	e->envelope = nl2 + 1;
	e->envelopelen = len - (size_t) (nl2 + 1 - e->data);
	e->payload = p + sizeof key - 1;
	e->payloadlen = (size_t) (e->data + len - 1 - e->payload);
	w->nevents++;
	return 0;
}

static void
add_commit(wal_side *w, uint64_t end_lsn)
{
	if (w->ncommits == w->ccap)
	{
		size_t		cap = w->ccap ? w->ccap * 2 : 64;
		wal_commit *grown = realloc(w->commits, cap * sizeof *grown);

		if (grown == NULL)
		{
			fputs("allocation-relay: out of memory\n", stderr);
			exit(1);
		}
		w->commits = grown;
		w->ccap = cap;
	}
	w->commits[w->ncommits].upto = w->nevents;
	w->commits[w->ncommits].end_lsn = end_lsn;
	w->ncommits++;
}

/* Equal strings, in a time that does not depend on where they differ. */
static int
same_secret(const char *a, const char *b)
{
	size_t		la = strlen(a),
				lb = strlen(b),
				i;
	unsigned char diff = la != lb;

	for (i = 0; i < la && i < lb; i++)
		diff |= (unsigned char) (a[i] ^ b[i]);
	return diff == 0;
}

/*
 * A message with the prefix "allocation" or "allocation:..." that the
 * extension did not write (wal.h): logged once, counted.  Neither its
 * prefix nor its content is printed.
 */
static void
forged(wal_side *w, const char *why)
{
	if (w->forged++ == 0)
		log_warn("wal: ignored a logical message with an \"allocation\" prefix that the extension did not write (%s): "
				 "any role may call pg_logical_emit_message; such messages are counted in the summary, "
				 "and this is logged once", why);
}

/*
 * A message signed "allocation:<token>" with a token that is not the one
 * in hand: the extension may have been dropped and created again, or the
 * database restored into (pg_restore --clean), under the relay, and the
 * new extension signs with a new token.  The prefix is read again before
 * the message is judged; nothing after it is read meanwhile, so the slot
 * is never confirmed past it.  1: ours (the new prefix is taken); 0:
 * forged; -1: the prefix could not be read, the connection is given up
 * (lost) and the server sends again from the confirmed position.  A
 * forger can so make the relay run one query per message (README).
 */
static int
recheck_prefix(wal_side *w, const char *prefix)
{
	char		fresh[sizeof w->prefix];
	char		err[512];
	char		why[700];
	int			ours;

	w->rechecks++;
	if (w->fetch(w->fetch_arg, fresh, sizeof fresh, err, sizeof err) != 0)
	{
		snprintf(why, sizeof why, "cannot check a message's prefix against the extension's (%s)", err);
		lost(w, why);
		return -1;
	}
	if (!same_secret(fresh, w->prefix))
	{
		log_info("wal: the extension's prefix changed (the extension was created again, or the database restored into): "
				 "messages with the new one are taken, those with the old one no longer");
		memcpy(w->prefix, fresh, sizeof w->prefix);
	}
	explicit_bzero(fresh, sizeof fresh);
	ours = same_secret(prefix, w->prefix);
	return ours;
}

/* A pgoutput message (the payload of an XLogData); -1: connection lost. */
static int
pgoutput_message(wal_side *w, const char *m, size_t len)
{
	if (len < 1)
		return 0;
	switch (m[0])
	{
		case 'B':
			w->in_xact = 1;
			break;
		case 'C':
			/* flags(1) commit lsn(8) end lsn(8) time(8) */
			if (len >= 26)
				add_commit(w, get64(m + 10));
			w->in_xact = 0;
			break;
		case 'M':
			{
				/*
				 * flags(1) lsn(8) prefix\0 length(4) content.  Ours are
				 * transactional (flags bit 1): a non-transactional one is
				 * sent at once, even if its transaction then rolls back.
				 */
				const char *prefix = m + 10;
				const char *end = len > 10 ? memchr(prefix, '\0', len - 10) : NULL;
				uint32_t	clen;

				if (end == NULL || (size_t) (end + 5 - m) > len)
					return 0;
				/* not ours: another application's messages */
				if (strncmp(prefix, "allocation", 10) != 0 ||
					(prefix[10] != '\0' && prefix[10] != ':'))
					return 0;
				if (prefix[10] == '\0')
				{
					forged(w, "the plain prefix");
					return 0;
				}
				if ((m[1] & 1) == 0)
				{
					forged(w, "not transactional");
					return 0;
				}
				if (!same_secret(prefix, w->prefix))
				{
					/* a token of the right length may be a new one of ours */
					int			ours = (size_t) (end - prefix) == strlen(w->prefix) ?
						recheck_prefix(w, prefix) : 0;

					if (ours < 0)
						return -1;
					if (!ours)
					{
						forged(w, "a wrong token");
						return 0;
					}
				}
				clen = get32(end + 1);
				if ((size_t) (end + 5 - m) + clen > len)
					return 0;
				add_event(w, end + 5, clen);
			}
			break;
		default:
			break;				/* relations, rows: none are published */
	}
	return 0;
}

int
wal_read(wal_side *w, double now)
{
	char		err[512];

	if (w->conn == NULL)
		return -1;
	/* two batches in hand: leave the rest in the socket (TCP holds the walsender back) */
	if (w->nevents >= (size_t) w->cfg->batch_size * 2)
		return 0;
	if (!PQconsumeInput(w->conn))
	{
		pg_one_line(PQerrorMessage(w->conn), err, sizeof err);
		lost(w, err);
		return -1;
	}
	/* at most a batch in hand beyond what waits for Redis: bounded memory */
	while (w->nevents < (size_t) w->cfg->batch_size * 2)
	{
		char	   *buf = NULL;
		int			n = PQgetCopyData(w->conn, &buf, 1);

		if (n == 0)
			break;
		if (n < 0)
		{
			PGresult   *res = PQgetResult(w->conn);

			pg_one_line(res ? PQresultErrorMessage(res) : PQerrorMessage(w->conn), err, sizeof err);
			PQclear(res);
			lost(w, err[0] ? err : "the replication stream ended");
			return -1;
		}
		if (buf[0] == 'w' && n >= 25)
		{
			if (pgoutput_message(w, buf + 25, (size_t) n - 25) != 0)
			{
				PQfreemem(buf);
				return -1;
			}
		}
		else if (buf[0] == 'k' && n >= 18)
		{
			int			reply = buf[17];

			/*
			 * Nothing in flight: every transaction that committed before
			 * the server's end was sent and published (or had no event of
			 * ours), so the slot may move there and keep no WAL for us.
			 */
			if (!w->in_xact && w->nevents == 0)
			{
				w->idle_end = get64(buf + 1);
				if (w->idle_end > w->confirmed)
					w->confirmed = w->idle_end;
			}
			PQfreemem(buf);
			if (wal_status(w, now, reply) != 0)
				return -1;
			continue;
		}
		PQfreemem(buf);
	}
	return 0;
}

void
wal_accepted(wal_side *w, size_t n)
{
	size_t		i,
				c = 0;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		free(w->events[i].data);
	memmove(w->events, w->events + n, (w->nevents - n) * sizeof *w->events);
	w->nevents -= n;
	/* transactions wholly accepted: their end is confirmed */
	while (c < w->ncommits && w->commits[c].upto <= n)
	{
		if (w->commits[c].end_lsn > w->confirmed)
			w->confirmed = w->commits[c].end_lsn;
		c++;
	}
	memmove(w->commits, w->commits + c, (w->ncommits - c) * sizeof *w->commits);
	w->ncommits -= c;
	for (i = 0; i < w->ncommits; i++)
		w->commits[i].upto -= n;
}

int
wal_status(wal_side *w, double now, int force)
{
	char		msg[34];
	struct timeval tv;
	int64_t		pgnow;
	char		err[512];

	if (w->conn == NULL)
		return -1;
	/* transactions without events of ours, all sent: confirm them too */
	if (w->nevents == 0 && w->ncommits > 0)
	{
		if (w->commits[w->ncommits - 1].end_lsn > w->confirmed)
			w->confirmed = w->commits[w->ncommits - 1].end_lsn;
		w->ncommits = 0;
	}
	if (!force && w->confirmed == w->reported && now - w->last_status < WAL_STATUS_EVERY_S)
		return 0;
	gettimeofday(&tv, NULL);
	pgnow = (int64_t) tv.tv_sec * 1000000 + tv.tv_usec - PG_EPOCH_OFFSET_US;
	msg[0] = 'r';
	put64(msg + 1, w->confirmed);
	put64(msg + 9, w->confirmed);
	put64(msg + 17, w->confirmed);
	put64(msg + 25, (uint64_t) pgnow);
	msg[33] = 0;
	if (PQputCopyData(w->conn, msg, sizeof msg) <= 0 || PQflush(w->conn) < 0)
	{
		pg_one_line(PQerrorMessage(w->conn), err, sizeof err);
		lost(w, err);
		return -1;
	}
	w->reported = w->confirmed;
	w->last_status = now;
	return 0;
}
