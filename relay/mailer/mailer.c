/*
 * mailer.c - allocation-mailer: delivers allocation.notifications by SMTP.
 *
 * One thread, one ppoll() loop, as the relay: (re)connect to PostgreSQL
 * when it is down (LISTEN allocation_notifications), claim a batch of due
 * notifications with allocation.claim_notifications, send each through
 * libcurl and report it with mark_notification_sent or
 * mark_notification_failed; then wait for a notification, the poll
 * interval or a signal.
 *
 * Notes:
 *	1) The mailer writes nothing itself: the extension's functions decide
 *	   attempts, backoff and the dead state, so several mailers agree.
 *	2) A claim is a lease: a mailer killed between sending and marking
 *	   leaves the row claimed, and it is sent again when the lease runs
 *	   out, with the same Message-ID.  At least once, never lost.
 *	3) An SMTP server that is away (no connection, no answer, or a refusal
 *	   before the message's own commands: smtp.c, note 3) says nothing
 *	   about the message in hand: it and the rest of the batch are given
 *	   back untried with release_notifications (due again at once, no
 *	   attempt counted, the reason kept as last_error), and the mailer
 *	   waits with backoff before it claims again.  So an outage of any
 *	   length kills no notification, and the first claim after the
 *	   server came back delivers them.  A give-back names its claim (the
 *	   claim id claim_notifications returned): a row whose claim ran out
 *	   and which another mailer claimed since, or one reported since, is
 *	   not touched, so a late give-back cannot let a third mailer in.
 *	4) The SMTP password comes from a file or the environment, never from
 *	   the command line (where ps would show it), and is never logged.
 *	5) Shared with allocation-relay: log.c, backoff.c and link.c
 *	   (relay/src), the log format and the reconnection policy; pgwait.c
 *	   and bounded.c, its PostgreSQL waits.
 *	6) SIGTERM and SIGINT are blocked except while the mailer waits for
 *	   PostgreSQL (its connect, each query, the main loop's ppoll): libpq's
 *	   own waits would poll again on EINTR, and a frozen backend, a query
 *	   waiting on a lock or a silent network would hold the stop for as
 *	   long as they last.  A query that does not answer within
 *	   --pg-timeout, or within a few seconds of a stop, is cancelled on the
 *	   server and its connection dropped; a notification claimed but not
 *	   yet marked then stays claimed until its lease runs out (note 2).
 *	   libcurl's SMTP transaction runs with the signals blocked, bounded by
 *	   --timeout; a stop that came meanwhile is seen by its progress
 *	   callback (smtp.c), which gives the message in hand a few seconds
 *	   more (SMTP_STOP_GRACE_S) and then abandons it unmarked: whether the
 *	   server kept it is unknown, so it is sent again once its lease runs
 *	   out, with the same Message-ID (unless the stop came before the
 *	   message's own commands: then nothing of it was sent, and it is
 *	   given back with the rest).  The rest of the batch, not tried yet,
 *	   is given back (release_notifications), so that a restarted or
 *	   another mailer sends it at once, not after the lease; a stop
 *	   between two messages does the same.
 *	7) A batch is sent within its claim: once the claim has run out,
 *	   another mailer may claim the same rows and send them, so a message
 *	   whose turn comes later is not sent (nor the rest of the batch); the
 *	   rows are claimed again, by this mailer or another.  The clock starts
 *	   just before the claim query (the server's lease starts later), and
 *	   a send starts only while at least CLAIM_MARGIN_S of the claim is
 *	   left (half the lease when that is shorter, so that a batch always
 *	   gets somewhere): a send and its report take time, and a send begun
 *	   in the claim's last instant would end after it.  A send slower
 *	   than the margin is bounded by the claim as well (note 8).
 *	8) Nor does a send outlast its claim: its SMTP transaction must end
 *	   half a margin before the claim does, or it is given up unanswered
 *	   (a server that has not answered the message's end has not taken
 *	   it) and counted as a failed attempt, early enough for the report
 *	   to reach the row before another mailer may claim it.  A lease
 *	   shorter than the server's answers thus sends nothing twice, and
 *	   its rows end dead (after allocation.mail_max_attempts) with the
 *	   reason in last_error, not claimed again and again for ever.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "log.h"
#include "message.h"
#include "pgwait.h"
#include "smtp.h"
#include "stopsig.h"

#define MAILER_VERSION "0.1.0"
/* after a stop, the SMTP transaction in hand may run this much longer */
#define SMTP_STOP_GRACE_S 3.0
/* a send starts only while this much of its claim is left (note 7) */
#define CLAIM_MARGIN_S 1.0
#define ENV_PREFIX "ALLOCATION_MAILER_"

typedef struct
{
	char	   *dsn;
	char	   *smtp_url;
	smtp_tls	tls;
	int			tls_set;
	char	   *from;
	char	   *user;
	char	   *password;
	char	   *credentials_file;
	int			batch_size;
	double		poll_interval;
	int			lease;			/* seconds */
	double		backoff_max;
	long		timeout;
	double		pg_timeout;		/* seconds: a query's answer, at most */
	int			verbose;
} mailer_config;

static void
usage(FILE *out)
{
	fputs("Usage: allocation-mailer [OPTION]...\n"
		  "Deliver allocation.notifications by SMTP (libcurl).\n\n"
		  "  -d, --dsn CONNINFO        PostgreSQL (default: libpq's PG* variables)\n"
		  "  -s, --smtp-url URL        smtp://host[:port] or smtps://host[:port] (default smtp://127.0.0.1:25)\n"
		  "      --tls MODE            none, starttls (required) or smtps (default: smtps for an\n"
		  "                            smtps:// URL, else starttls)\n"
		  "  -f, --from ADDRESS        sender address (required)\n"
		  "      --credentials-file F  SMTP login: lines user=NAME and password=SECRET\n"
		  "  -b, --batch-size N        notifications per claim, 1-1000 (default 20)\n"
		  "      --lease SECONDS       how long a claim holds (default 300)\n"
		  "      --poll-interval S     seconds between polls without NOTIFY (default 5)\n"
		  "      --backoff-max S       longest wait between reconnections (default 30)\n"
		  "      --timeout S           seconds for one SMTP transaction (default 60)\n"
		  "      --pg-timeout S        seconds a PostgreSQL query may take, 0.5-86400, before\n"
		  "                            it is cancelled and the connection dropped (default 60)\n"
		  "  -v, --verbose             one line per message (twice: libcurl's dialogue)\n"
		  "      --help, --version\n\n"
		  "Environment: ALLOCATION_MAILER_DSN, _SMTP_URL, _TLS, _FROM, _CREDENTIALS_FILE,\n"
		  "_SMTP_USER, _SMTP_PASSWORD, _BATCH_SIZE, _LEASE, _POLL_INTERVAL, _BACKOFF_MAX,\n"
		  "_TIMEOUT, _PG_TIMEOUT (flags win).  The password is never taken from the\n"
		  "command line.\n", out);
}

static int
parse_num(const char *name, const char *s, double min, double max, double *out)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	/* NaN passes both comparisons: refused by name */
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min || v > max)
	{
		fprintf(stderr, "allocation-mailer: invalid %s \"%s\" (%g to %g)\n", name, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_tls(const char *s, mailer_config *cfg)
{
	if (strcmp(s, "none") == 0)
		cfg->tls = SMTP_TLS_NONE;
	else if (strcmp(s, "starttls") == 0)
		cfg->tls = SMTP_TLS_STARTTLS;
	else if (strcmp(s, "smtps") == 0)
		cfg->tls = SMTP_TLS_IMPLICIT;
	else
	{
		fprintf(stderr, "allocation-mailer: invalid --tls \"%s\" (none, starttls or smtps)\n", s);
		return -1;
	}
	cfg->tls_set = 1;
	return 0;
}

/*
 * Whether url (smtp:// or smtps://, checked before) names a server and
 * nothing else: host[:port], the host a name (letters, digits, "-", "."
 * and "_") or an address ([IPv6] in brackets), the port 1 to 65535.
 * libcurl would take a path as the EHLO name, and anything else means a
 * mistake.  A lone trailing "/" is allowed.
 */
static int
smtp_url_plain(const char *url)
{
	const char *p = strstr(url, "://") + 3;
	const char *host = p;
	size_t		hostlen;

	if (*p == '[')
	{
		p += 1 + strspn(p + 1, "0123456789abcdefABCDEF:.");
		if (*p != ']' || p == host + 1)
			return 0;
		p++;
	}
	else
		p += strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._");
	hostlen = (size_t) (p - host);
	if (hostlen == 0)
		return 0;
	if (*p == ':')
	{
		size_t		digits = strspn(p + 1, "0123456789");
		long		port = digits > 0 && digits <= 5 ? strtol(p + 1, NULL, 10) : 0;

		if (port < 1 || port > 65535)
			return 0;
		p += 1 + digits;
	}
	return *p == '\0' || strcmp(p, "/") == 0;
}

static void
set(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? strdup(v) : NULL;
}

/* user= and password= lines of a credentials file; 0 or -1. */
static int
read_credentials(mailer_config *cfg)
{
	FILE	   *f = fopen(cfg->credentials_file, "r");
	char		line[1024];

	if (f == NULL)
	{
		fprintf(stderr, "allocation-mailer: cannot read credentials file \"%s\": %s\n",
				cfg->credentials_file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f))
	{
		size_t		n = strcspn(line, "\r\n");

		line[n] = '\0';
		if (strncmp(line, "user=", 5) == 0)
			set(&cfg->user, line + 5);
		else if (strncmp(line, "password=", 9) == 0)
			set(&cfg->password, line + 9);
		else if (line[0] != '\0' && line[0] != '#')
		{
			fprintf(stderr, "allocation-mailer: credentials file \"%s\": expected user=... or password=... lines\n",
					cfg->credentials_file);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* Flags over environment over defaults; 0, 1 (help/version done) or 2. */
static int
load_config(mailer_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{"dsn", required_argument, NULL, 'd'},
		{"smtp-url", required_argument, NULL, 's'},
		{"tls", required_argument, NULL, 't'},
		{"from", required_argument, NULL, 'f'},
		{"credentials-file", required_argument, NULL, 'c'},
		{"batch-size", required_argument, NULL, 'b'},
		{"lease", required_argument, NULL, 'l'},
		{"poll-interval", required_argument, NULL, 'p'},
		{"backoff-max", required_argument, NULL, 'm'},
		{"timeout", required_argument, NULL, 'T'},
		{"pg-timeout", required_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	static const struct
	{
		const char *env;
		int			opt;
	}			envs[] = {
		{"DSN", 'd'}, {"SMTP_URL", 's'}, {"TLS", 't'}, {"FROM", 'f'},
		{"CREDENTIALS_FILE", 'c'}, {"BATCH_SIZE", 'b'}, {"LEASE", 'l'},
		{"POLL_INTERVAL", 'p'}, {"BACKOFF_MAX", 'm'}, {"TIMEOUT", 'T'},
		{"PG_TIMEOUT", 'P'}, {NULL, 0}
	};
	double		v;
	int			opt;
	const char *why;

	memset(cfg, 0, sizeof *cfg);
	set(&cfg->smtp_url, "smtp://127.0.0.1:25");
	cfg->batch_size = 20;
	cfg->poll_interval = 5;
	cfg->lease = 300;
	cfg->backoff_max = 30;
	cfg->timeout = 60;
	cfg->pg_timeout = 60;

	/* the environment first, through the same switch as the flags */
	for (int pass = 0; pass < 2; pass++)
	{
		int			i = 0;

		optind = 1;
		opterr = 0;
		for (;;)
		{
			const char *arg;

			if (pass == 0)
			{
				char		name[64];

				if (envs[i].env == NULL)
					break;
				snprintf(name, sizeof name, ENV_PREFIX "%s", envs[i].env);
				opt = envs[i++].opt;
				arg = getenv(name);
				if (arg == NULL || arg[0] == '\0')
					continue;
			}
			else
			{
				opt = getopt_long(argc, argv, ":d:s:f:b:v", opts, NULL);
				if (opt == -1)
					break;
				arg = optarg;
			}
			switch (opt)
			{
				case 'd':
					set(&cfg->dsn, arg);
					break;
				case 's':
					set(&cfg->smtp_url, arg);
					break;
				case 't':
					if (parse_tls(arg, cfg) != 0)
						return 2;
					break;
				case 'f':
					set(&cfg->from, arg);
					break;
				case 'c':
					set(&cfg->credentials_file, arg);
					break;
				case 'b':
					if (parse_num("batch size", arg, 1, 1000, &v) != 0 || v != (int) v)
						return 2;
					cfg->batch_size = (int) v;
					break;
				case 'l':
					if (parse_num("lease", arg, 1, 86400, &v) != 0)
						return 2;
					cfg->lease = (int) v;
					break;
				case 'p':
					if (parse_num("poll interval", arg, 0.05, 3600, &v) != 0)
						return 2;
					cfg->poll_interval = v;
					break;
				case 'm':
					if (parse_num("backoff max", arg, 0.1, 3600, &v) != 0)
						return 2;
					cfg->backoff_max = v;
					break;
				case 'T':
					if (parse_num("timeout", arg, 1, 3600, &v) != 0)
						return 2;
					cfg->timeout = (long) v;
					break;
				case 'P':
					/* as allocation-relay's --pg-timeout */
					if (parse_num("pg timeout", arg, 0.5, 86400, &v) != 0)
						return 2;
					cfg->pg_timeout = v;
					break;
				case 'v':
					cfg->verbose++;
					break;
				case 'h':
					usage(stdout);
					return 1;
				case 'V':
					puts("allocation-mailer " MAILER_VERSION);
					return 1;
				case ':':
					fprintf(stderr, "allocation-mailer: option %s needs a value\n", argv[optind - 1]);
					return 2;
				default:
					fprintf(stderr, "allocation-mailer: unknown option %s (--help lists them)\n",
							argv[optind - 1]);
					return 2;
			}
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "allocation-mailer: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (strncmp(cfg->smtp_url, "smtp://", 7) != 0 && strncmp(cfg->smtp_url, "smtps://", 8) != 0)
	{
		fprintf(stderr, "allocation-mailer: invalid SMTP URL \"%s\" (smtp://host[:port] or smtps://host[:port])\n",
				cfg->smtp_url);
		return 2;
	}
	if (!smtp_url_plain(cfg->smtp_url))
	{
		fprintf(stderr, "allocation-mailer: invalid SMTP URL \"%s\" (smtp://host[:port] or smtps://host[:port]: "
				"a host name or [IPv6] address, a port from 1 to 65535, no path, query or fragment)\n",
				cfg->smtp_url);
		return 2;
	}
	if (strchr(cfg->smtp_url, '@') != NULL)
	{
		fprintf(stderr, "allocation-mailer: the SMTP URL must not carry credentials (use --credentials-file or the environment)\n");
		return 2;
	}
	if (!cfg->tls_set)
		cfg->tls = strncmp(cfg->smtp_url, "smtps://", 8) == 0 ? SMTP_TLS_IMPLICIT : SMTP_TLS_STARTTLS;
	if ((cfg->tls == SMTP_TLS_IMPLICIT) != (strncmp(cfg->smtp_url, "smtps://", 8) == 0))
	{
		fprintf(stderr, "allocation-mailer: --tls smtps goes with an smtps:// URL, and only it\n");
		return 2;
	}
	if (cfg->from == NULL)
	{
		fprintf(stderr, "allocation-mailer: no sender address (--from or ALLOCATION_MAILER_FROM)\n");
		return 2;
	}
	if (!mail_address_valid(cfg->from, &why))
	{
		fprintf(stderr, "allocation-mailer: invalid sender address \"%s\": %s\n", cfg->from, why);
		return 2;
	}
	if (getenv(ENV_PREFIX "SMTP_USER") && getenv(ENV_PREFIX "SMTP_USER")[0])
		set(&cfg->user, getenv(ENV_PREFIX "SMTP_USER"));
	if (getenv(ENV_PREFIX "SMTP_PASSWORD") && getenv(ENV_PREFIX "SMTP_PASSWORD")[0])
		set(&cfg->password, getenv(ENV_PREFIX "SMTP_PASSWORD"));
	if (cfg->credentials_file && read_credentials(cfg) != 0)
		return 2;
	if (cfg->password && cfg->user == NULL)
	{
		fprintf(stderr, "allocation-mailer: an SMTP password without a user name\n");
		return 2;
	}
	/* AUTH PLAIN and LOGIN carry the login as it is: never unencrypted */
	if ((cfg->user || cfg->password) && cfg->tls == SMTP_TLS_NONE)
	{
		fprintf(stderr, "allocation-mailer: --tls none would send the SMTP login unencrypted: use starttls or smtps, or no login\n");
		return 2;
	}
	return 0;
}

typedef struct
{
	PGconn	   *conn;
	link_state	link;
	pg_wait		wait;			/* --pg-timeout, the stop flag, the wait mask */
} pg_link;

static const char *
conn_error(PGconn *conn, const PGresult *res, char *buf, size_t buflen)
{
	const char *m = res ? PQresultErrorMessage(res) : "";

	pg_one_line(m && m[0] ? m : PQerrorMessage(conn), buf, buflen);
	return buf;
}

static void
pg_drop(pg_link *pg, const char *why)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	link_lost(&pg->link, now_mono(), why);
}

/*
 * A query through pg_exec_wait: its last result, or NULL when it was
 * given up (--pg-timeout, a stop, the connection gone), the connection
 * then dropped with why.
 */
static PGresult *
pg_query(pg_link *pg, const char *sql, int nparams, const char *const *params)
{
	char		why[512];
	PGresult   *res = pg_exec_wait(pg->conn, sql, nparams, params, &pg->wait,
								   why, sizeof why);

	if (res == NULL)
		pg_drop(pg, why);
	return res;
}

/* Connect and LISTEN; 0, -1 (retry later) or -2 (fatal). */
static int
pg_open(pg_link *pg, const mailer_config *cfg)
{
	/*
	 * A dead peer is noticed by TCP too; the DSN may override these.  Not
	 * the client encoding (after the DSN): names and messages travel as
	 * UTF-8, as they are checked here, whatever PGCLIENTENCODING says.
	 */
	const char *keys[] = {"fallback_application_name", "connect_timeout", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
	"tcp_user_timeout", "dbname", "client_encoding", NULL};
	const char *vals[] = {"allocation-mailer", "10", "1", "30", "10", "3", "60000",
	cfg->dsn ? cfg->dsn : "", "UTF8", NULL};
	PGresult   *res;
	char		err[512];
	char		detail[512];

	pg->conn = pg_connect_wait(keys, vals, pg->wait.stop, pg->wait.waitmask, err, sizeof err);
	if (pg->conn == NULL)
	{
		if (err[0])				/* else stopped by a signal: nothing to say */
			link_failed(&pg->link, now_mono(), err);
		return -1;
	}
	res = pg_exec_wait(pg->conn, "LISTEN allocation_notifications", 0, NULL, &pg->wait,
					   err, sizeof err);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		if (res != NULL)
			conn_error(pg->conn, res, err, sizeof err);
		PQclear(res);
		PQfinish(pg->conn);
		pg->conn = NULL;
		link_failed(&pg->link, now_mono(), err);
		return -1;
	}
	PQclear(res);
	snprintf(detail, sizeof detail, "database %s as %s; LISTEN allocation_notifications",
			 PQdb(pg->conn), PQuser(pg->conn));
	link_connected(&pg->link, now_mono(), detail);
	return 0;
}

/* A failed statement: connection gone (-1) or a fatal error (-2). */
static int
pg_failed(pg_link *pg, PGresult *res, const char *what)
{
	char		err[512];
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	conn_error(pg->conn, res, err, sizeof err);
	PQclear(res);
	if (PQstatus(pg->conn) != CONNECTION_OK || st == NULL ||
		strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 ||
		strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0)
	{
		pg_drop(pg, err);
		return -1;
	}
	log_error("postgres: %s failed: %s", what, err);
	if (strcmp(st, "42501") == 0)
		log_error("hint: the mailer's role must be a member of allocation_mailer "
				  "(GRANT allocation_mailer TO <role>)");
	else if (strcmp(st, "42883") == 0 || strncmp(st, "3F", 2) == 0)
		log_error("hint: CREATE EXTENSION allocation (a version with claim_notifications) in this database");
	return -2;
}

/* Report one notification; 0, -1 or -2 as pg_failed. */
static int
pg_mark(pg_link *pg, const char *id, const char *claim, const char *error, int permanent,
		char *state, size_t statelen)
{
	PGresult   *res;
	const char *params[4] = {id, error, permanent ? "true" : "false", claim};

	if (error == NULL)
		res = pg_query(pg, "SELECT allocation.mark_notification_sent($1::bigint)::text", 1, params);
	else						/* with its claim: it ends, if it is still this mailer's */
		res = pg_query(pg, "SELECT allocation.mark_notification_failed($1::bigint, $2, $3::boolean, $4::uuid)",
					   4, params);
	if (res == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_failed(pg, res, error ? "mark_notification_failed" : "mark_notification_sent");
	snprintf(state, statelen, "%s", PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* totals for the last log line */
static unsigned long n_sent,
			n_retry,
			n_dead,
			n_away_backs,		/* give-backs while the server was away (a row
								 * tried again and again counts each time) */
			n_stop_back;		/* rows given back at the stop */

/*
 * Give rows first..n-1 of a claim back untried (the SMTP server is away,
 * note 3, or the mailer stops): those this claim still holds are due again
 * at once, no attempt counted; a row whose claim ran out and which another
 * mailer claimed since is not this claim's any more, and stays as it is.
 * The number given back, or -1, -2 as pg_failed.
 */
static int
pg_release(pg_link *pg, PGresult *claim, int first, const char *error)
{
	int			n = PQntuples(claim);
	size_t		len = 3;
	char	   *ids;
	char	   *p;
	const char *params[3];
	PGresult   *res;
	int			released;

	if (first >= n)
		return 0;
	for (int i = first; i < n; i++)
		len += strlen(PQgetvalue(claim, i, 0)) + 1;
	ids = malloc(len);
	if (ids == NULL)
		return 0;				/* left to the lease */
	p = ids;
	*p++ = '{';
	for (int i = first; i < n; i++)
		p += sprintf(p, "%s%s", i > first ? "," : "", PQgetvalue(claim, i, 0));
	*p++ = '}';
	*p = '\0';
	params[0] = ids;
	params[1] = PQgetvalue(claim, first, 5);	/* the claim: the same on every row */
	params[2] = error;
	res = pg_query(pg, "SELECT allocation.release_notifications($1::bigint[], $2::uuid, $3)",
				   3, params);
	free(ids);
	if (res == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_failed(pg, res, "release_notifications");
	released = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return released;
}

/*
 * On a stop, rows first..n-1 of the claim, not tried yet: given back, so
 * that another mailer (or this one restarted) sends them at once rather
 * than after the lease; when PostgreSQL does not answer, left to the lease
 * as after a crash (note 2).
 */
static void
give_back_on_stop(pg_link *pg, PGresult *claim, int first)
{
	int			left = PQntuples(claim) - first;
	int			back;

	if (left <= 0)
		return;
	/* (an empty reason keeps the row's last error: a stop says nothing of it) */
	back = pg_release(pg, claim, first, "");
	if (back < 0)
		back = 0;				/* PostgreSQL did not answer: their lease */
	n_stop_back += (unsigned long) back;
	if (back == left)
		log_info("stopping: %d claimed notification%s given back untried", left, left == 1 ? "" : "s");
	else
		log_info("stopping: %d claimed notification%s given back untried, %d left to %s lease",
				 back, back == 1 ? "" : "s", left - back, left - back == 1 ? "its" : "their");
}

/*
 * Claim one batch and deliver it.  1 when the caller should claim again at
 * once (the batch was full, or its claim ran out before its end: note 7),
 * 0 when not, -1 (PostgreSQL lost) or -2 (fatal).  A stop ends the batch
 * after the message in hand: the rest stays claimed until its lease runs
 * out, as after a crash (note 2).
 */
static int
deliver_batch(pg_link *pg, smtp_client *smtp, link_state *smtp_link,
			  const mailer_config *cfg)
{
	PGresult   *res;
	char		max[16],
				lease[32];
	const char *params[2] = {max, lease};
	int			n;
	int			max_rows;
	int			away = 0;
	int			ran_out = 0;
	double		claimed_at;
	double		margin = cfg->lease < 2 * CLAIM_MARGIN_S ? cfg->lease / 2.0 : CLAIM_MARGIN_S;

	/* while the server is away, one row tells whether it is back */
	max_rows = smtp_link->up ? cfg->batch_size : 1;
	snprintf(max, sizeof max, "%d", max_rows);
	snprintf(lease, sizeof lease, "%d seconds", cfg->lease);
	/* before the query: the server's lease starts after this (note 7) */
	claimed_at = now_mono();
	res = pg_query(pg, "SELECT id::text, recipient, subject, body, message_token, claim::text"
				   "  FROM allocation.claim_notifications($1::integer, $2::interval)",
				   2, params);
	if (res == NULL)
		return -1;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return pg_failed(pg, res, "claim_notifications");
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		const char *id = PQgetvalue(res, i, 0);
		mail_input in;
		char	   *msg;
		char		err[600];
		char		state[32];
		smtp_result r;
		int			rc;

		if (stop_requested())
		{
			give_back_on_stop(pg, res, i);
			break;
		}
		if (now_mono() - claimed_at + margin >= cfg->lease)
		{
			/* another mailer may claim these rows now: none is sent here */
			log_info("notification %s: its claim ran out before its turn (--lease %ds, "
					 "a send needs %gs of it left); it and %d more left for the next claim",
					 id, cfg->lease, margin, n - i - 1);
			ran_out = 1;
			break;
		}
		in.id = atoll(id);
		in.to = PQgetvalue(res, i, 1);
		in.subject = PQgetvalue(res, i, 2);
		in.body = PQgetvalue(res, i, 3);
		in.token = PQgetvalue(res, i, 4);
		in.from = cfg->from;
		in.date = time(NULL);

		if (mail_build(&in, &msg, err, sizeof err) != 0)
		{
			log_warn("notification %s: %s; marked dead", id, err);
			r = SMTP_PERMANENT;
		}
		else
		{
			r = smtp_send(smtp, in.to, msg, claimed_at + cfg->lease - margin / 2,
						  err, sizeof err);
			free(msg);
			if (r == SMTP_EXPIRED)
			{
				/* another mailer may claim it soon: report it now (note 8) */
				char		why[sizeof err];

				snprintf(why, sizeof why, "its claim ran out during the SMTP transaction "
						 "(--lease %ds): %.500s", cfg->lease, err);
				snprintf(err, sizeof err, "%s", why);
				log_warn("notification %s: %s; a lease longer than the server's answers "
						 "is needed", id, err);
				r = SMTP_TEMPORARY;
			}
			if (r == SMTP_STOPPED)
			{
				/* neither sent nor failed: left to its lease (note 6) */
				log_info("stopping: notification %s %s; left to its lease", id, err);
				give_back_on_stop(pg, res, i + 1);
				break;
			}
			if (r == SMTP_STOPPED_UNSENT)
			{
				/* not sent: given back with the rest */
				log_info("stopping: notification %s %s, before the message was sent", id, err);
				give_back_on_stop(pg, res, i);
				break;
			}
			if (r == SMTP_UNREACHABLE || r == SMTP_REFUSED)
			{
				/*
				 * Away before the message's own commands: so would every
				 * other message be.  This one and the rest go back untried
				 * (no attempt counted, note 3).  The first failure after
				 * the server was up is a lost link: its backoff starts over
				 * when the link had lasted.
				 */
				if (smtp_link->up && smtp_link->ever_up)
				{
					link_lost(smtp_link, now_mono(), err);
					smtp_link->attempts = 1;	/* this one: "after ..., 1 failed attempt" */
				}
				else
				{
					smtp_link->up = 0;
					link_failed(smtp_link, now_mono(), err);
				}
				away = 1;
				rc = pg_release(pg, res, i, err);
				if (rc < 0)
				{
					PQclear(res);
					return rc;
				}
				n_away_backs += (unsigned long) rc;
				log_debug("SMTP server away: %d of %d claimed notification%s given back untried (from %s)",
						  rc, n - i, n - i == 1 ? "" : "s", id);
				break;
			}
			if (!smtp_link->up || !smtp_link->ever_up)
				link_connected(smtp_link, now_mono(), cfg->smtp_url);
		}
		rc = pg_mark(pg, id, PQgetvalue(res, i, 5), r == SMTP_SENT ? NULL : err, r == SMTP_PERMANENT,
					 state, sizeof state);
		if (rc != 0)
		{
			PQclear(res);
			return rc;
		}
		if (r == SMTP_SENT)
		{
			n_sent++;
			log_debug("notification %s sent to %s", id, in.to);
		}
		else if (strcmp(state, "dead") == 0)
		{
			n_dead++;
			log_warn("notification %s is dead: %s", id, err);
		}
		else
		{
			n_retry++;
			log_info("notification %s: %s; will retry", id, err);
		}
	}
	PQclear(res);
	if (away)
		return 0;
	return ran_out || n == max_rows;
}

int
main(int argc, char **argv)
{
	mailer_config cfg;
	smtp_settings ss;
	smtp_client *smtp;
	pg_link		pg = {0};
	link_state	smtp_link;
	sigset_t	waitmask;
	char		err[512];
	int			rc;
	int			status = 0;

	rc = load_config(&cfg, argc, argv);
	if (rc == 1)
		return 0;
	if (rc != 0)
		return 2;
	log_init("allocation-mailer", cfg.verbose);

	ss.url = cfg.smtp_url;
	ss.tls = cfg.tls;
	ss.user = cfg.user;
	ss.password = cfg.password;
	ss.from = cfg.from;
	ss.timeout = cfg.timeout;
	ss.verbose = cfg.verbose;
	ss.stop = stop_requested;
	ss.stop_grace = SMTP_STOP_GRACE_S;
	smtp = smtp_open(&ss, err, sizeof err);
	if (smtp == NULL)
	{
		log_error("%s", err);
		return 1;
	}

	/* Signals are blocked except while waiting for PostgreSQL (note 6). */
	stop_signals_init(&waitmask);

	pg.wait.timeout = cfg.pg_timeout;
	pg.wait.stop = &stop_signal;
	pg.wait.waitmask = &waitmask;
	link_init(&pg.link, "postgres", cfg.backoff_max);
	link_init(&smtp_link, "smtp", cfg.backoff_max);
	smtp_link.up = 1;			/* until a send says otherwise */
	log_info("starting: SMTP %s (TLS %s%s), from %s, batches of %d, lease %ds",
			 cfg.smtp_url, cfg.tls == SMTP_TLS_NONE ? "none" :
			 cfg.tls == SMTP_TLS_STARTTLS ? "starttls" : "smtps",
			 cfg.user ? ", with login" : "", cfg.from, cfg.batch_size, cfg.lease);

	while (!stop_requested())
	{
		double		now = now_mono();
		double		wait = cfg.poll_interval;
		struct pollfd pfd;
		struct timespec ts;

		pg_reap_cancels(0);
		if (pg.conn == NULL && now >= pg.link.next_try)
		{
			if (pg_open(&pg, &cfg) == -2)
			{
				status = 1;
				break;
			}
		}
		if (pg.conn != NULL && (smtp_link.up || now >= smtp_link.next_try) &&
			!stop_requested())
		{
			int			n;

			/* full batches, or cut short by their claim: claim again at once */
			do
			{
				n = deliver_batch(&pg, smtp, &smtp_link, &cfg);
			} while (n == 1 && !stop_requested());
			if (n == -2)
			{
				status = 1;
				break;
			}
			if (smtp_link.up == 0 || smtp_link.attempts > 0)
				smtp_link.up = 0;
		}
		if (pg.conn == NULL)
			wait = pg.link.next_try - now_mono();
		else if (!smtp_link.up)
			wait = smtp_link.next_try - now_mono();
		if (wait > cfg.poll_interval)
			wait = cfg.poll_interval;
		if (wait < 0.01)
			wait = 0.01;
		if (stop_requested())
			break;
		pfd.fd = pg.conn ? PQsocket(pg.conn) : -1;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ts.tv_sec = (time_t) wait;
		ts.tv_nsec = (long) ((wait - (double) ts.tv_sec) * 1e9);
		/* the only place besides pgwait.c where a stop signal comes in */
		if (ppoll(&pfd, pg.conn ? 1 : 0, &ts, &waitmask) > 0 && pg.conn)
		{
			PGnotify   *note;

			if (!PQconsumeInput(pg.conn))
			{
				pg_one_line(PQerrorMessage(pg.conn), err, sizeof err);
				pg_drop(&pg, err);
				continue;
			}
			while ((note = PQnotifies(pg.conn)) != NULL)
				PQfreemem(note);
		}
	}
	if (status == 0)
		log_info("stopping on %s: %lu sent, %lu to retry, %lu dead; %lu given back untried "
				 "while the SMTP server was away (each time), %lu at the stop",
				 stop_signal == SIGINT ? "SIGINT" : "SIGTERM", n_sent, n_retry, n_dead,
				 n_away_backs, n_stop_back);
	if (pg.conn)
		PQfinish(pg.conn);
	smtp_close(smtp);
	/* a cancel sent just now goes out before a container ends with us */
	pg_reap_cancels(2.0);
	return status;
}
