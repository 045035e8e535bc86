/*
 * config.c - flags, environment variables and defaults (see config.h).
 */
#define _GNU_SOURCE
#include "config.h"

#include "al_core.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ENV_PREFIX "ALLOCATION_RELAY_"

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list		ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static char *
xstrdup(const char *s)
{
	char	   *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	return d;
}

static char *
xstrndup(const char *s, size_t n)
{
	char	   *d = strndup(s, n);

	if (d == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	return d;
}

static void
replace(char **slot, const char *value)
{
	free(*slot);
	*slot = xstrdup(value);
}

const char *
config_mode_name(relay_mode mode)
{
	return mode == RELAY_STREAMS ? "streams" : "pubsub";
}

/* --- Redis URLs ------------------------------------------------------------ */

/* appending into a fixed buffer, cut when full */
typedef struct
{
	char	   *buf;
	size_t		len;
	size_t		cap;
} strbuf_lite;

static void
lite_append(strbuf_lite *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
		n = b->cap - b->len - 1;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void
redis_target_free(redis_target *t)
{
	free(t->host);
	free(t->path);
	free(t->user);
	free(t->password);
	memset(t, 0, sizeof *t);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode s[0..n) into a new string; NULL when an escape is bad. */
static char *
percent_decode(const char *s, size_t n)
{
	char	   *out = xstrndup(s, n);
	size_t		i,
				j = 0;

	for (i = 0; i < n; i++)
	{
		if (s[i] == '%')
		{
			int			hi,
						lo;

			if (i + 2 >= n)
			{
				free(out);
				return NULL;
			}
			hi = hexval((unsigned char) s[i + 1]);
			lo = hexval((unsigned char) s[i + 2]);
			if (hi < 0 || lo < 0)
			{
				free(out);
				return NULL;
			}
			out[j++] = (char) (hi * 16 + lo);
			i += 2;
		}
		else
			out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

/* A whole decimal number in [min, max]; 0 or -1. */
static int
parse_long(const char *s, size_t n, long min, long max, long *out)
{
	char		buf[32];
	char	   *end;
	long		v;

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!isdigit((unsigned char) buf[0]) && buf[0] != '-')
		return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_unix_query(const char *q, redis_target *t, char *err, size_t errlen)
{
	while (*q)
	{
		const char *amp = strchr(q, '&');
		size_t		len = amp ? (size_t) (amp - q) : strlen(q);
		long		db;

		if (len > 3 && strncmp(q, "db=", 3) == 0 &&
			parse_long(q + 3, len - 3, 0, 1000000, &db) == 0)
			t->db = (int) db;
		else if (len > 9 && strncmp(q, "password=", 9) == 0)
		{
			free(t->password);
			t->password = percent_decode(q + 9, len - 9);
			if (t->password == NULL)
			{
				set_err(err, errlen, "bad %%-escape in the password");
				return -1;
			}
		}
		else
		{
			set_err(err, errlen, "unknown parameter \"%.*s\" (known: db=N, password=...)",
					(int) len, q);
			return -1;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

int
redis_url_parse(const char *url, redis_target *t, char *err, size_t errlen)
{
	const char *p,
			   *at,
			   *slash,
			   *hostend,
			   *portsep;
	long		v;

	memset(t, 0, sizeof *t);
	t->port = 6379;

	if (strncmp(url, "rediss://", 9) == 0)
	{
		set_err(err, errlen, "TLS (rediss://) is not supported; use redis:// or unix://");
		return -1;
	}
	if (strncmp(url, "unix:", 5) == 0)
	{
		const char *q;

		p = url + 5;
		if (strncmp(p, "//", 2) == 0)
			p += 2;
		if (*p != '/')
		{
			set_err(err, errlen, "a unix: URL needs an absolute socket path (unix:///run/redis/redis.sock)");
			return -1;
		}
		q = strchr(p, '?');
		t->path = q ? xstrndup(p, (size_t) (q - p)) : xstrdup(p);
		if (q && parse_unix_query(q + 1, t, err, errlen) != 0)
		{
			redis_target_free(t);
			return -1;
		}
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
	{
		set_err(err, errlen, "expected redis://[[user]:password@]host[:port][/db] or unix:///path/to/redis.sock");
		return -1;
	}
	p = url + 8;
	slash = strchr(p, '/');
	at = memchr(p, '@', slash ? (size_t) (slash - p) : strlen(p));
	if (at)
	{
		const char *colon = memchr(p, ':', (size_t) (at - p));

		if (colon == NULL)
		{
			set_err(err, errlen, "user \"%.*s\" without a password; write redis://:password@host for a password alone",
					(int) (at - p), p);
			return -1;
		}
		if (colon > p)
			t->user = percent_decode(p, (size_t) (colon - p));
		t->password = percent_decode(colon + 1, (size_t) (at - colon - 1));
		if ((colon > p && t->user == NULL) || t->password == NULL)
		{
			set_err(err, errlen, "bad %%-escape in the user or password");
			redis_target_free(t);
			return -1;
		}
		p = at + 1;
	}
	hostend = slash ? slash : p + strlen(p);
	if (*p == '[')
	{
		const char *close = memchr(p, ']', (size_t) (hostend - p));

		if (close == NULL)
		{
			set_err(err, errlen, "unclosed [ in the host");
			redis_target_free(t);
			return -1;
		}
		t->host = xstrndup(p + 1, (size_t) (close - p - 1));
		portsep = close + 1 < hostend ? close + 1 : NULL;
		if (portsep && *portsep != ':')
		{
			set_err(err, errlen, "unexpected text after the IPv6 address");
			redis_target_free(t);
			return -1;
		}
	}
	else
	{
		portsep = memchr(p, ':', (size_t) (hostend - p));
		t->host = xstrndup(p, (size_t) ((portsep ? portsep : hostend) - p));
	}
	if (t->host[0] == '\0')
	{
		free(t->host);
		t->host = xstrdup("127.0.0.1");
	}
	if (portsep)
	{
		if (parse_long(portsep + 1, (size_t) (hostend - portsep - 1), 1, 65535, &v) != 0)
		{
			set_err(err, errlen, "bad port \"%.*s\" (1-65535)",
					(int) (hostend - portsep - 1), portsep + 1);
			redis_target_free(t);
			return -1;
		}
		t->port = (int) v;
	}
	if (slash && slash[1] != '\0')
	{
		if (strchr(slash + 1, '?') != NULL)
		{
			set_err(err, errlen, "URL parameters (?...) are not supported");
			redis_target_free(t);
			return -1;
		}
		if (parse_long(slash + 1, strlen(slash + 1), 0, 1000000, &v) != 0)
		{
			set_err(err, errlen, "bad database number \"%s\"", slash + 1);
			redis_target_free(t);
			return -1;
		}
		t->db = (int) v;
	}
	return 0;
}

char *
redis_url_redact(const char *url, char *buf, size_t buflen)
{
	const char *host = strstr(url, "://");
	const char *at = NULL,
			   *colon = NULL,
			   *p;
	strbuf_lite out = {buf, 0, buflen};

	if (buflen == 0)
		return buf;
	buf[0] = '\0';
	if (host)
	{
		size_t		hostlen;

		host += 3;
		/* to the end: a password written with a raw '/' or '?' stays hidden */
		hostlen = strlen(host);
		at = memchr(host, '@', hostlen);
		if (at)
		{
			/* the last '@' of the authority: a password may hold one */
			const char *q;

			for (q = host; q < host + hostlen; q++)
				if (*q == '@')
					at = q;
			colon = memchr(host, ':', (size_t) (at - host));
		}
	}
	for (p = url; *p;)
	{
		if (colon && p == colon)
		{
			lite_append(&out, ":***", 4);
			p = at;
			continue;
		}
		if (strncmp(p, "password=", 9) == 0 && p > url && (p[-1] == '?' || p[-1] == '&'))
		{
			lite_append(&out, "password=***", 12);
			p += 9 + strcspn(p + 9, "&");
			continue;
		}
		lite_append(&out, p, 1);
		p++;
	}
	return buf;
}

/* The first line of a file, without its newline: a malloc'ed string or NULL. */
static char *
read_first_line(const char *path, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char		line[1024];
	size_t		n;

	if (f == NULL)
	{
		set_err(err, errlen, "cannot read --redis-password-file \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof line, f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n == 0)
	{
		set_err(err, errlen, "--redis-password-file \"%s\" is empty", path);
		return NULL;
	}
	return xstrdup(line);
}

void
redis_url_display(const redis_target *t, char *buf, size_t buflen)
{
	const char *auth = t->password ? (t->user ? "user:***@" : ":***@") : "";
	char		db[24] = "";

	if (t->db > 0)
		snprintf(db, sizeof db, "/%d", t->db);
	if (t->path)
		snprintf(buf, buflen, "unix://%s%s%s", t->path,
				 t->db > 0 ? "?db=" : "", t->db > 0 ? db + 1 : "");
	else if (strchr(t->host, ':'))
		snprintf(buf, buflen, "redis://%s[%s]:%d%s", auth, t->host, t->port, db);
	else
		snprintf(buf, buflen, "redis://%s%s:%d%s", auth, t->host, t->port, db);
}

/* --- routes ------------------------------------------------------------------ */

static void
add_route(relay_config *cfg, const char *type, size_t typelen, const char *target)
{
	relay_route *r = realloc(cfg->routes, (cfg->nroutes + 1) * sizeof *r);

	if (r == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	cfg->routes = r;
	r[cfg->nroutes].type = xstrndup(type, typelen);
	r[cfg->nroutes].target = strcmp(target, "-") == 0 ? NULL : xstrdup(target);
	cfg->nroutes++;
}

/* "Type=name" (name "-": not published); s[0..n) */
static int
parse_route(relay_config *cfg, const char *s, size_t n, char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', n);
	char	   *target;

	if (eq == NULL || eq == s || eq + 1 == s + n)
	{
		set_err(err, errlen, "bad --channel \"%.*s\": expected EventType=channel (channel \"-\": do not publish)",
				(int) n, s);
		return -1;
	}
	target = xstrndup(eq + 1, (size_t) (s + n - eq - 1));
	add_route(cfg, s, (size_t) (eq - s), target);
	free(target);
	return 0;
}

/* a comma-separated list of routes (the environment variable) */
static int
parse_route_list(relay_config *cfg, const char *list, char *err, size_t errlen)
{
	const char *p = list;

	while (*p)
	{
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		const char *s = p,
				   *e = end;

		while (s < e && isspace((unsigned char) *s))
			s++;
		while (e > s && isspace((unsigned char) e[-1]))
			e--;
		if (e > s && parse_route(cfg, s, (size_t) (e - s), err, errlen) != 0)
			return -1;
		p = comma ? comma + 1 : end;
	}
	return 0;
}

const char *
config_route(const relay_config *cfg, const char *type, char *buf, size_t buflen)
{
	size_t		i;

	/* the last route given for a type wins (flags come after the environment) */
	for (i = cfg->nroutes; i-- > 0;)
		if (strcmp(cfg->routes[i].type, type) == 0)
			return cfg->routes[i].target;
	snprintf(buf, buflen, "%s%s", cfg->prefix, type);
	return buf;
}

int
config_route_named(const relay_config *cfg, const char *type)
{
	size_t		i;

	for (i = 0; i < cfg->nroutes; i++)
		if (strcmp(cfg->routes[i].type, type) == 0)
			return 1;
	return 0;
}

/* --- options ----------------------------------------------------------------- */

void
config_usage(FILE *out)
{
	fputs(
"Usage: allocation-relay [OPTION]...\n"
"Relay the allocation extension's outbox to Redis and Redis commands to\n"
"allocation.handle.\n"
"\n"
"  -d, --dsn=CONNINFO       PostgreSQL conninfo or URI (env ALLOCATION_RELAY_DSN;\n"
"                           default: libpq's PGHOST, PGPORT, PGUSER, PGDATABASE...)\n"
"  -r, --redis=URL          redis://[[user]:password@]host[:port][/db] or\n"
"                           unix:///path/redis.sock[?db=N] (env ALLOCATION_RELAY_REDIS,\n"
"                           REDIS_URL; default " RELAY_DEFAULT_REDIS ")\n"
"      --redis-password-file=FILE  the Redis password: the file's first line (or\n"
"                           env ALLOCATION_RELAY_REDIS_PASSWORD); keeps it out of ps\n"
"  -c, --consumer=NAME      outbox consumer name, also the Redis group consumer\n"
"                           (env ALLOCATION_RELAY_CONSUMER; default " RELAY_DEFAULT_CONSUMER ")\n"
"  -b, --batch-size=N       events read per round, 1-10000 (env\n"
"                           ALLOCATION_RELAY_BATCH_SIZE; default 100)\n"
"  -m, --mode=MODE          pubsub (PUBLISH/SUBSCRIBE) or streams (XADD/XREADGROUP\n"
"                           + XACK) (env ALLOCATION_RELAY_MODE; default pubsub)\n"
"      --channel=TYPE=NAME  publish events of TYPE to channel (stream) NAME; NAME \"-\"\n"
"                           does not publish them; repeatable (env\n"
"                           ALLOCATION_RELAY_CHANNELS, comma-separated); built in:\n"
"                           Allocated=line_allocated\n"
"      --channel-prefix=P   channel of the other types: P<Type> (env\n"
"                           ALLOCATION_RELAY_CHANNEL_PREFIX; default \"" RELAY_DEFAULT_PREFIX "\")\n"
"      --envelope           pub/sub: named channels carry the envelope (id, type,\n"
"                           aggregate, payload) too, not the book's message alone\n"
"      --source=SOURCE      outbox (the consumer API, woken by NOTIFY) or wal (a\n"
"                           logical replication slot: no NOTIFY; needs wal_level =\n"
"                           logical, REPLICATION and allocation.outbox_mode = wal or\n"
"                           both) (env ALLOCATION_RELAY_SOURCE; default outbox)\n"
"      --slot=NAME          --source wal: the replication slot, created when missing\n"
"                           (env ALLOCATION_RELAY_SLOT; default " RELAY_DEFAULT_SLOT ")\n"
"      --publication=NAME   --source wal: the publication (no tables), created when\n"
"                           missing (env ALLOCATION_RELAY_PUBLICATION; default\n"
"                           " RELAY_DEFAULT_PUBLICATION ")\n"
"      --inbound=NAME       inbound channel (stream) of ChangeBatchQuantity commands\n"
"                           (env ALLOCATION_RELAY_INBOUND; default " RELAY_DEFAULT_INBOUND ")\n"
"      --no-inbound         relay events only; take no commands (a node of a\n"
"                           router cluster: its commands come through the router)\n"
"      --no-outbound        take commands only; relay no events (the one inbound\n"
"                           relay of a router cluster, connected to the router)\n"
"      --inbound-max=N      pub/sub: commands received and not yet executed, at\n"
"                           most (default 10000); more are dropped and logged\n"
"      --inbound-max-bytes=N  ... and their bytes (default 16 MiB)\n"
"      --group=NAME         consumer group of the inbound stream (streams mode;\n"
"                           env ALLOCATION_RELAY_GROUP; default " RELAY_DEFAULT_GROUP ")\n"
"      --claim-idle=SEC     streams: run the group's entries left pending this long\n"
"                           by any consumer (one that crashed, or a former\n"
"                           --consumer name): claimed with XAUTOCLAIM (env\n"
"                           ALLOCATION_RELAY_CLAIM_IDLE; default 60; 0: never)\n"
"      --from-now           a consumer registered now starts after the existing events\n"
"      --poll-interval=SEC  read the outbox this often without a NOTIFY (env\n"
"                           ALLOCATION_RELAY_POLL_INTERVAL; default 1)\n"
"      --backoff-max=SEC    longest wait between reconnection attempts (env\n"
"                           ALLOCATION_RELAY_BACKOFF_MAX; default 30)\n"
"      --pg-timeout=SEC     a PostgreSQL query must answer within this, or the\n"
"                           connection is given up (env ALLOCATION_RELAY_PG_TIMEOUT;\n"
"                           default 60)\n"
"      --command-lock-timeout=SEC  a command waits this long for a lock (another\n"
"                           transaction holds its batch), then it is tried again\n"
"                           shortly after, events relayed meanwhile; the commands\n"
"                           after it wait (env ALLOCATION_RELAY_COMMAND_LOCK_TIMEOUT;\n"
"                           default 1; 0: no limit but --pg-timeout)\n"
"      --slot-lag-warn=MB   --source wal: warn when the slot retains more WAL than\n"
"                           this (env ALLOCATION_RELAY_SLOT_LAG_WARN; default 1024;\n"
"                           0: never)\n"
"      --slot-lag-interval=SEC  check the slot's retained WAL this often, and warn\n"
"                           at most this often (env ALLOCATION_RELAY_SLOT_LAG_INTERVAL;\n"
"                           default 60)\n"
"  -v, --verbose            log every event and message\n"
"  -h, --help               show this help and exit\n"
"      --version            show the version and exit\n"
"\n"
"The PostgreSQL role must be a member of allocation_admin.  SIGTERM or SIGINT\n"
"stops the relay after the message in hand (exit status 0).  Exit status 2:\n"
"bad configuration; 1: a fatal error (for example missing rights).\n",
		  out);
}

enum
{
	OPT_CHANNEL = 1000,
	OPT_PREFIX,
	OPT_ENVELOPE,
	OPT_SOURCE,
	OPT_SLOT,
	OPT_PUBLICATION,
	OPT_INBOUND_MAX,
	OPT_INBOUND_MAX_BYTES,
	OPT_INBOUND,
	OPT_NO_INBOUND,
	OPT_NO_OUTBOUND,
	OPT_GROUP,
	OPT_FROM_NOW,
	OPT_CLAIM_IDLE,
	OPT_POLL,
	OPT_BACKOFF,
	OPT_PG_TIMEOUT,
	OPT_COMMAND_LOCK_TIMEOUT,
	OPT_SLOT_LAG_WARN,
	OPT_SLOT_LAG_INTERVAL,
	OPT_REDIS_PASSWORD_FILE,
	OPT_VERSION
};

static int
parse_int_setting(const char *name, const char *s, long min, long max,
				  int *out, char *err, size_t errlen)
{
	long		v;

	if (parse_long(s, strlen(s), min, max, &v) != 0)
	{
		set_err(err, errlen, "%s must be a whole number from %ld to %ld, not \"%s\"",
				name, min, max, s);
		return -1;
	}
	*out = (int) v;
	return 0;
}

static int
parse_seconds(const char *name, const char *s, double min, double max,
			  double *out, char *err, size_t errlen)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max)
	{
		set_err(err, errlen, "%s must be a number of seconds from %g to %g, not \"%s\"",
				name, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* --claim-idle: 0 (never), or RELAY_MIN_CLAIM_IDLE to a day */
static int
parse_claim_idle(const char *name, const char *s, double *out, char *err, size_t errlen)
{
	double		v;

	if (parse_seconds(name, s, 0, 86400, &v, err, errlen) != 0)
		return -1;
	if (v != 0 && v < RELAY_MIN_CLAIM_IDLE)
	{
		set_err(err, errlen, "%s must be 0 (never) or a number of seconds from %g to 86400, not \"%s\"",
				name, RELAY_MIN_CLAIM_IDLE, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_mode(const char *s, relay_mode *mode, char *err, size_t errlen)
{
	if (strcmp(s, "pubsub") == 0 || strcmp(s, "pub/sub") == 0)
		*mode = RELAY_PUBSUB;
	else if (strcmp(s, "streams") == 0 || strcmp(s, "stream") == 0)
		*mode = RELAY_STREAMS;
	else
	{
		set_err(err, errlen, "--mode must be pubsub or streams, not \"%s\"", s);
		return -1;
	}
	return 0;
}

static int
parse_source(const char *s, relay_source *source, char *err, size_t errlen)
{
	if (strcmp(s, "outbox") == 0)
		*source = RELAY_SOURCE_OUTBOX;
	else if (strcmp(s, "wal") == 0)
		*source = RELAY_SOURCE_WAL;
	else
	{
		set_err(err, errlen, "--source must be outbox or wal, not \"%s\"", s);
		return -1;
	}
	return 0;
}

static int
check_name(const char *what, const char *s, size_t maxlen, char *err, size_t errlen)
{
	const char *p;
	int			blank = 1;

	for (p = s; *p; p++)
	{
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
		{
			set_err(err, errlen, "%s must not contain control characters", what);
			return -1;
		}
		if (!isspace((unsigned char) *p))
			blank = 0;
	}
	if (blank)
	{
		set_err(err, errlen, "%s must not be empty", what);
		return -1;
	}
	if (strlen(s) > maxlen)
	{
		set_err(err, errlen, "%s is longer than %zu bytes", what, maxlen);
		return -1;
	}
	return 0;
}

/*
 * A consumer's name, which the server checks as an identifier (1-255
 * characters of UTF-8, not only spaces, no control characters, C1
 * included): refused here, at start, rather than at every connection.
 */
static int
check_consumer(const char *s, char *err, size_t errlen)
{
	switch (al_check_identifier(s, strlen(s)))
	{
		case AL_IDENT_OK:
			return 0;
		case AL_IDENT_EMPTY:
		case AL_IDENT_BLANK:
			set_err(err, errlen, "--consumer must not be empty or only spaces");
			break;
		case AL_IDENT_TOO_LONG:
			set_err(err, errlen, "--consumer is longer than %d characters", AL_IDENTIFIER_MAX_CHARS);
			break;
		case AL_IDENT_CONTROL_CHAR:
			set_err(err, errlen, "--consumer must not contain control characters");
			break;
		case AL_IDENT_BAD_ENCODING:
			set_err(err, errlen, "--consumer must be valid UTF-8");
			break;
	}
	return -1;
}

/* Settings from the environment: the defaults that flags override. */
static int
load_env(relay_config *cfg, char *err, size_t errlen)
{
	const char *v;

	if ((v = getenv(ENV_PREFIX "DSN")) && *v)
		replace(&cfg->dsn, v);
	if ((v = getenv(ENV_PREFIX "REDIS")) && *v)
		replace(&cfg->redis_url, v);
	else if ((v = getenv("REDIS_URL")) && *v)
		replace(&cfg->redis_url, v);
	if ((v = getenv(ENV_PREFIX "CONSUMER")) && *v)
		replace(&cfg->consumer, v);
	if ((v = getenv(ENV_PREFIX "BATCH_SIZE")) && *v &&
		parse_int_setting(ENV_PREFIX "BATCH_SIZE", v, 1, RELAY_MAX_BATCH,
						  &cfg->batch_size, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "MODE")) && *v &&
		parse_mode(v, &cfg->mode, err, errlen) != 0)
	{
		set_err(err, errlen, ENV_PREFIX "MODE must be pubsub or streams, not \"%s\"", v);
		return -1;
	}
	if ((v = getenv(ENV_PREFIX "CHANNELS")) && *v &&
		parse_route_list(cfg, v, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "CHANNEL_PREFIX")))
		replace(&cfg->prefix, v);
	if ((v = getenv(ENV_PREFIX "INBOUND")) && *v)
		replace(&cfg->inbound, v);
	if ((v = getenv(ENV_PREFIX "SOURCE")) && *v &&
		parse_source(v, &cfg->source, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "SLOT")) && *v)
		replace(&cfg->slot, v);
	if ((v = getenv(ENV_PREFIX "PUBLICATION")) && *v)
		replace(&cfg->publication, v);
	if ((v = getenv(ENV_PREFIX "GROUP")) && *v)
		replace(&cfg->group, v);
	if ((v = getenv(ENV_PREFIX "CLAIM_IDLE")) && *v &&
		parse_claim_idle(ENV_PREFIX "CLAIM_IDLE", v, &cfg->claim_idle, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "POLL_INTERVAL")) && *v &&
		parse_seconds(ENV_PREFIX "POLL_INTERVAL", v, 0.01, 3600,
					  &cfg->poll_interval, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "PG_TIMEOUT")) && *v &&
		parse_seconds(ENV_PREFIX "PG_TIMEOUT", v, 0.5, 86400,
					  &cfg->pg_timeout, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "COMMAND_LOCK_TIMEOUT")) && *v &&
		parse_seconds(ENV_PREFIX "COMMAND_LOCK_TIMEOUT", v, 0, 3600,
					  &cfg->command_lock_timeout, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "SLOT_LAG_WARN")) && *v &&
		parse_int_setting(ENV_PREFIX "SLOT_LAG_WARN", v, 0, 1048576,
						  &cfg->slot_lag_warn, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "SLOT_LAG_INTERVAL")) && *v &&
		parse_seconds(ENV_PREFIX "SLOT_LAG_INTERVAL", v, 0.1, 86400,
					  &cfg->slot_lag_interval, err, errlen) != 0)
		return -1;
	if ((v = getenv(ENV_PREFIX "BACKOFF_MAX")) && *v &&
		parse_seconds(ENV_PREFIX "BACKOFF_MAX", v, 0.1, 3600,
					  &cfg->backoff_max, err, errlen) != 0)
		return -1;
	return 0;
}

config_result
config_load(relay_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	static const struct option longopts[] = {
		{"dsn", required_argument, NULL, 'd'},
		{"redis", required_argument, NULL, 'r'},
		{"consumer", required_argument, NULL, 'c'},
		{"batch-size", required_argument, NULL, 'b'},
		{"mode", required_argument, NULL, 'm'},
		{"channel", required_argument, NULL, OPT_CHANNEL},
		{"channel-prefix", required_argument, NULL, OPT_PREFIX},
		{"envelope", no_argument, NULL, OPT_ENVELOPE},
		{"source", required_argument, NULL, OPT_SOURCE},
		{"slot", required_argument, NULL, OPT_SLOT},
		{"publication", required_argument, NULL, OPT_PUBLICATION},
		{"inbound-max", required_argument, NULL, OPT_INBOUND_MAX},
		{"inbound-max-bytes", required_argument, NULL, OPT_INBOUND_MAX_BYTES},
		{"inbound", required_argument, NULL, OPT_INBOUND},
		{"no-inbound", no_argument, NULL, OPT_NO_INBOUND},
		{"no-outbound", no_argument, NULL, OPT_NO_OUTBOUND},
		{"group", required_argument, NULL, OPT_GROUP},
		{"from-now", no_argument, NULL, OPT_FROM_NOW},
		{"claim-idle", required_argument, NULL, OPT_CLAIM_IDLE},
		{"poll-interval", required_argument, NULL, OPT_POLL},
		{"backoff-max", required_argument, NULL, OPT_BACKOFF},
		{"pg-timeout", required_argument, NULL, OPT_PG_TIMEOUT},
		{"command-lock-timeout", required_argument, NULL, OPT_COMMAND_LOCK_TIMEOUT},
		{"slot-lag-warn", required_argument, NULL, OPT_SLOT_LAG_WARN},
		{"slot-lag-interval", required_argument, NULL, OPT_SLOT_LAG_INTERVAL},
		{"redis-password-file", required_argument, NULL, OPT_REDIS_PASSWORD_FILE},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0}
	};
	int			no_inbound = 0;
	int			opt;

	memset(cfg, 0, sizeof *cfg);
	cfg->redis_url = xstrdup(RELAY_DEFAULT_REDIS);
	cfg->consumer = xstrdup(RELAY_DEFAULT_CONSUMER);
	cfg->batch_size = 100;
	cfg->mode = RELAY_PUBSUB;
	cfg->inbound = xstrdup(RELAY_DEFAULT_INBOUND);
	cfg->outbound = 1;
	cfg->group = xstrdup(RELAY_DEFAULT_GROUP);
	cfg->prefix = xstrdup(RELAY_DEFAULT_PREFIX);
	cfg->slot = xstrdup(RELAY_DEFAULT_SLOT);
	cfg->publication = xstrdup(RELAY_DEFAULT_PUBLICATION);
	cfg->poll_interval = 1.0;
	cfg->inbound_max = RELAY_DEFAULT_INBOUND_MAX;
	cfg->inbound_max_bytes = RELAY_DEFAULT_INBOUND_MAX_BYTES;
	cfg->backoff_max = 30.0;
	cfg->pg_timeout = 60.0;
	cfg->command_lock_timeout = -1;	/* not given: see config_parse's end */
	cfg->slot_lag_warn = 1024;
	cfg->slot_lag_interval = 60.0;
	cfg->claim_idle = RELAY_DEFAULT_CLAIM_IDLE;
	/* the book's channel; the environment and flags may override it */
	add_route(cfg, "Allocated", strlen("Allocated"), "line_allocated");

	if (load_env(cfg, err, errlen) != 0)
		return CONFIG_ERROR;

	optind = 0;					/* glibc: start over (the unit tests parse many times) */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":d:r:c:b:m:vh", longopts, NULL)) != -1)
	{
		switch (opt)
		{
			case 'd':
				replace(&cfg->dsn, optarg);
				break;
			case 'r':
				replace(&cfg->redis_url, optarg);
				break;
			case 'c':
				replace(&cfg->consumer, optarg);
				break;
			case 'b':
				if (parse_int_setting("--batch-size", optarg, 1, RELAY_MAX_BATCH,
									  &cfg->batch_size, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case 'm':
				if (parse_mode(optarg, &cfg->mode, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_CHANNEL:
				if (parse_route(cfg, optarg, strlen(optarg), err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_PREFIX:
				replace(&cfg->prefix, optarg);
				break;
			case OPT_ENVELOPE:
				cfg->envelope = 1;
				break;
			case OPT_SOURCE:
				if (parse_source(optarg, &cfg->source, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_SLOT:
				replace(&cfg->slot, optarg);
				break;
			case OPT_PUBLICATION:
				replace(&cfg->publication, optarg);
				break;
			case OPT_INBOUND_MAX:
				if (parse_int_setting("--inbound-max", optarg, 1, 10000000,
									  &cfg->inbound_max, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_INBOUND_MAX_BYTES:
				if (parse_int_setting("--inbound-max-bytes", optarg, 1024, 1073741824,
									  &cfg->inbound_max_bytes, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_INBOUND:
				replace(&cfg->inbound, optarg);
				no_inbound = 0;
				break;
			case OPT_NO_INBOUND:
				no_inbound = 1;
				break;
			case OPT_NO_OUTBOUND:
				cfg->outbound = 0;
				break;
			case OPT_GROUP:
				replace(&cfg->group, optarg);
				break;
			case OPT_FROM_NOW:
				cfg->from_now = 1;
				break;
			case OPT_CLAIM_IDLE:
				if (parse_claim_idle("--claim-idle", optarg, &cfg->claim_idle, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_POLL:
				if (parse_seconds("--poll-interval", optarg, 0.01, 3600,
								  &cfg->poll_interval, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_BACKOFF:
				if (parse_seconds("--backoff-max", optarg, 0.1, 3600,
								  &cfg->backoff_max, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_REDIS_PASSWORD_FILE:
				replace(&cfg->redis_password_file, optarg);
				break;
			case OPT_PG_TIMEOUT:
				if (parse_seconds("--pg-timeout", optarg, 0.5, 86400,
								  &cfg->pg_timeout, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_COMMAND_LOCK_TIMEOUT:
				if (parse_seconds("--command-lock-timeout", optarg, 0, 3600,
								  &cfg->command_lock_timeout, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_SLOT_LAG_WARN:
				if (parse_int_setting("--slot-lag-warn", optarg, 0, 1048576,
									  &cfg->slot_lag_warn, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case OPT_SLOT_LAG_INTERVAL:
				if (parse_seconds("--slot-lag-interval", optarg, 0.1, 86400,
								  &cfg->slot_lag_interval, err, errlen) != 0)
					return CONFIG_ERROR;
				break;
			case 'v':
				cfg->verbose = 1;
				break;
			case 'h':
				return CONFIG_HELP;
			case OPT_VERSION:
				return CONFIG_VERSION;
			case ':':
				set_err(err, errlen, "option %s needs a value", argv[optind - 1]);
				return CONFIG_ERROR;
			default:
				if (optopt != 0 && optopt < 256)
					set_err(err, errlen, "unknown option -%c", optopt);
				else
					set_err(err, errlen, "unknown option %s", argv[optind - 1]);
				return CONFIG_ERROR;
		}
	}
	if (optind < argc)
	{
		set_err(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return CONFIG_ERROR;
	}
	if (no_inbound)
	{
		free(cfg->inbound);
		cfg->inbound = NULL;
	}
	if (!cfg->outbound && cfg->inbound == NULL)
	{
		set_err(err, errlen, "--no-outbound and --no-inbound together leave nothing to relay");
		return CONFIG_ERROR;
	}
	if (!cfg->outbound && cfg->source == RELAY_SOURCE_WAL)
	{
		set_err(err, errlen, "--source wal reads events: it cannot go with --no-outbound");
		return CONFIG_ERROR;
	}

	if (cfg->inbound && cfg->mode == RELAY_STREAMS && strlen(cfg->inbound) > RELAY_MAX_STREAM_NAME)
	{
		set_err(err, errlen, "--inbound is longer than %d bytes: in streams mode a command's message_id is "
				"redis-stream:<stream>:<entry id>, at most 255 characters", RELAY_MAX_STREAM_NAME);
		return CONFIG_ERROR;
	}
	/*
	 * lock_timeout is set in whole milliseconds (0 would mean no limit),
	 * and a command given up by --pg-timeout first would never be seen to
	 * wait for a lock
	 */
	/* not given: 1 s, or half of a --pg-timeout shorter than 2 s */
	if (cfg->command_lock_timeout < 0)
		cfg->command_lock_timeout = cfg->pg_timeout / 2 < RELAY_DEFAULT_COMMAND_LOCK_TIMEOUT ?
			cfg->pg_timeout / 2 : RELAY_DEFAULT_COMMAND_LOCK_TIMEOUT;
	if (cfg->command_lock_timeout > 0 && cfg->command_lock_timeout < 0.001)
	{
		set_err(err, errlen, "--command-lock-timeout must be 0 (no limit) or at least 0.001 s, not %g",
				cfg->command_lock_timeout);
		return CONFIG_ERROR;
	}
	if (cfg->command_lock_timeout >= cfg->pg_timeout)
	{
		set_err(err, errlen, "--command-lock-timeout (%gs) must be shorter than --pg-timeout (%gs)",
				cfg->command_lock_timeout, cfg->pg_timeout);
		return CONFIG_ERROR;
	}
	/* a replication slot's name: lower-case letters, digits, underscores */
	if (strlen(cfg->slot) == 0 || strlen(cfg->slot) > 63 ||
		strspn(cfg->slot, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(cfg->slot))
	{
		set_err(err, errlen, "--slot must be 1 to 63 lower-case letters, digits or underscores, not \"%s\"",
				cfg->slot);
		return CONFIG_ERROR;
	}
	if (check_name("--publication", cfg->publication, 63, err, errlen) != 0)
		return CONFIG_ERROR;
	/* the rule of allocation.register_consumer, the core's own */
	if (check_consumer(cfg->consumer, err, errlen) != 0 ||
		(cfg->inbound && check_name("--inbound", cfg->inbound, 1024, err, errlen) != 0) ||
		check_name("--group", cfg->group, 1024, err, errlen) != 0)
		return CONFIG_ERROR;
	if (strlen(cfg->prefix) > 1024)
	{
		set_err(err, errlen, "--channel-prefix is longer than 1024 bytes");
		return CONFIG_ERROR;
	}
	{
		char		uerr[256];

		char		shown[1024];
		const char *pw;

		if (redis_url_parse(cfg->redis_url, &cfg->redis, uerr, sizeof uerr) != 0)
		{
			/* never the password: it would land in logs and journals */
			set_err(err, errlen, "bad --redis URL \"%s\": %s",
					redis_url_redact(cfg->redis_url, shown, sizeof shown), uerr);
			return CONFIG_ERROR;
		}
		/* secrets from the environment or a file, not the command line */
		if ((pw = getenv(ENV_PREFIX "REDIS_PASSWORD")) && *pw)
			replace(&cfg->redis.password, pw);
		if (cfg->redis_password_file)
		{
			char	   *filepw = read_first_line(cfg->redis_password_file, err, errlen);

			if (filepw == NULL)
				return CONFIG_ERROR;
			free(cfg->redis.password);
			cfg->redis.password = filepw;
		}
	}
	return CONFIG_OK;
}

void
config_free(relay_config *cfg)
{
	size_t		i;

	free(cfg->dsn);
	free(cfg->redis_url);
	free(cfg->redis_password_file);
	redis_target_free(&cfg->redis);
	free(cfg->consumer);
	free(cfg->inbound);
	free(cfg->group);
	free(cfg->prefix);
	free(cfg->slot);
	free(cfg->publication);
	for (i = 0; i < cfg->nroutes; i++)
	{
		free(cfg->routes[i].type);
		free(cfg->routes[i].target);
	}
	free(cfg->routes);
	memset(cfg, 0, sizeof *cfg);
}
