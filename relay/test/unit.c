/*
 * relay/test/unit.c - TAP tests of the relay's pure-C parts: settings
 * (flags, environment, Redis URLs, channel routes), the backoff, JSON
 * text, the inbound queue and the timer-bounded call.  No server; "make
 * unit" runs them.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "backoff.h"
#include "bounded.h"
#include "config.h"
#include "inbound.h"
#include "link.h"
#include "log.h"
#include "text.h"

static void test_json_depth(void);
static void test_masking_generated(void);

static int	test_count;
static int	test_failed;

static void
ok(int cond, const char *fmt, ...)
{
	va_list		ap;

	test_count++;
	if (!cond)
		test_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", test_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
is_str(const char *got, const char *want, const char *what)
{
	int			same = (got == NULL && want == NULL) ||
		(got != NULL && want != NULL && strcmp(got, want) == 0);

	ok(same, "%s", what);
	if (!same)
		printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)", want ? want : "(null)");
}

static void
clear_env(void)
{
	static const char *vars[] = {
		"ALLOCATION_RELAY_DSN", "ALLOCATION_RELAY_REDIS", "REDIS_URL",
		"ALLOCATION_RELAY_CONSUMER", "ALLOCATION_RELAY_BATCH_SIZE",
		"ALLOCATION_RELAY_MODE", "ALLOCATION_RELAY_CHANNELS",
		"ALLOCATION_RELAY_CHANNEL_PREFIX", "ALLOCATION_RELAY_INBOUND",
		"ALLOCATION_RELAY_GROUP", "ALLOCATION_RELAY_POLL_INTERVAL",
		"ALLOCATION_RELAY_BACKOFF_MAX", "ALLOCATION_RELAY_PG_TIMEOUT",
		"ALLOCATION_RELAY_SLOT_LAG_WARN", "ALLOCATION_RELAY_SLOT_LAG_INTERVAL",
		"ALLOCATION_RELAY_REDIS_PASSWORD", "ALLOCATION_RELAY_CLAIM_IDLE", NULL
	};
	int			i;

	for (i = 0; vars[i]; i++)
		unsetenv(vars[i]);
}

/* parse a NULL-terminated argument list (the program name is added) */
static config_result
parse(relay_config *cfg, char *err, size_t errlen, ...)
{
	char	   *argv[32];
	int			argc = 0;
	va_list		ap;
	char	   *a;

	argv[argc++] = "allocation-relay";
	va_start(ap, errlen);
	while ((a = va_arg(ap, char *)) != NULL && argc < 31)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return config_load(cfg, argc, argv, err, errlen);
}

static void
test_defaults(void)
{
	relay_config cfg;
	char		err[512];
	char		buf[256];

	clear_env();
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_OK, "no flags: defaults");
	ok(cfg.dsn == NULL, "default dsn: libpq's environment");
	is_str(cfg.consumer, "allocation-relay", "default consumer");
	ok(cfg.batch_size == 100, "default batch size 100");
	ok(cfg.mode == RELAY_PUBSUB, "default mode pubsub");
	is_str(cfg.inbound, "change_batch_quantity", "default inbound channel (the book's)");
	ok(cfg.redis.host && strcmp(cfg.redis.host, "127.0.0.1") == 0 && cfg.redis.port == 6379,
	   "default redis 127.0.0.1:6379");
	is_str(config_route(&cfg, "Allocated", buf, sizeof buf), "line_allocated",
		   "Allocated -> line_allocated (the book's channel)");
	is_str(config_route(&cfg, "OutOfStock", buf, sizeof buf), "allocation.OutOfStock",
		   "other types -> allocation.<Type>");
	ok(config_route_named(&cfg, "Allocated") && !config_route_named(&cfg, "OutOfStock"),
	   "line_allocated is a named channel (the book's message), allocation.<Type> is not");
	ok(cfg.pg_timeout == 60.0, "a query answers within 60 s by default");
	ok(cfg.envelope == 0, "the book's message on named channels by default");
	ok(cfg.inbound_max == 10000 && cfg.inbound_max_bytes == 16 * 1024 * 1024,
	   "inbound queue bounded by default: 10000 messages, 16 MiB");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--pg-timeout", "2.5", NULL) == CONFIG_OK && cfg.pg_timeout == 2.5,
	   "--pg-timeout");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--pg-timeout", "0", NULL) == CONFIG_ERROR && strstr(err, "--pg-timeout"),
	   "--pg-timeout 0 is refused");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_OK && cfg.slot_lag_warn == 1024 &&
	   cfg.slot_lag_interval == 60.0, "the slot's retained WAL: a warning above 1024 MB, checked every 60 s");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--slot-lag-warn", "0", "--slot-lag-interval", "0.5", NULL) == CONFIG_OK &&
	   cfg.slot_lag_warn == 0 && cfg.slot_lag_interval == 0.5, "--slot-lag-warn 0 (never), --slot-lag-interval");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--slot-lag-warn", "-1", NULL) == CONFIG_ERROR && strstr(err, "--slot-lag-warn"),
	   "--slot-lag-warn -1 is refused");
	config_free(&cfg);
	setenv("ALLOCATION_RELAY_SLOT_LAG_WARN", "lots", 1);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_ERROR && strstr(err, "ALLOCATION_RELAY_SLOT_LAG_WARN"),
	   "a bad ALLOCATION_RELAY_SLOT_LAG_WARN is refused, named");
	unsetenv("ALLOCATION_RELAY_SLOT_LAG_WARN");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--envelope", "--channel", "OutOfStock=oos", NULL) == CONFIG_OK &&
	   cfg.envelope == 1 && config_route_named(&cfg, "OutOfStock"), "--envelope; --channel names a channel");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_OK && cfg.claim_idle == 60.0,
	   "streams: entries idle in the group for 60 s are claimed by default");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--claim-idle", "0", NULL) == CONFIG_OK && cfg.claim_idle == 0,
	   "--claim-idle 0: never");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--claim-idle", "2.5", NULL) == CONFIG_OK && cfg.claim_idle == 2.5,
	   "--claim-idle 2.5");
	config_free(&cfg);
	{
		static const char *bad[] = {"0.5", "-1", "86401", "nan", "inf", "1e400", "5s", "", NULL};
		int			i,
					refused = 1;

		for (i = 0; bad[i]; i++)
		{
			if (parse(&cfg, err, sizeof err, "--claim-idle", bad[i], NULL) != CONFIG_ERROR ||
				strstr(err, "--claim-idle") == NULL)
			{
				printf("# --claim-idle \"%s\" was not refused\n", bad[i]);
				refused = 0;
			}
			config_free(&cfg);
		}
		ok(refused, "--claim-idle below 1 s (but 0), negative, above a day or not a number is refused, named");
	}
	setenv("ALLOCATION_RELAY_CLAIM_IDLE", "5", 1);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_OK && cfg.claim_idle == 5.0,
	   "ALLOCATION_RELAY_CLAIM_IDLE");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--claim-idle", "0", NULL) == CONFIG_OK && cfg.claim_idle == 0,
	   "--claim-idle over ALLOCATION_RELAY_CLAIM_IDLE");
	config_free(&cfg);
	setenv("ALLOCATION_RELAY_CLAIM_IDLE", "0.2", 1);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_ERROR && strstr(err, "ALLOCATION_RELAY_CLAIM_IDLE"),
	   "a bad ALLOCATION_RELAY_CLAIM_IDLE is refused, named");
	unsetenv("ALLOCATION_RELAY_CLAIM_IDLE");
	config_free(&cfg);
}

static void
test_flags(void)
{
	relay_config cfg;
	char		err[512];
	char		buf[256];

	clear_env();
	ok(parse(&cfg, err, sizeof err, "--dsn", "dbname=shop", "--redis", "redis://:s3cret@cache:6380/2",
			 "--consumer", "redis-bridge", "--batch-size", "500", "--mode", "streams",
			 "--channel", "Allocated=alloc", "--channel", "OutOfStock=-",
			 "--channel-prefix", "shop.", "--group", "g1", "--from-now",
			 "--poll-interval", "0.5", "--backoff-max", "2", "-v",
			 NULL) == CONFIG_OK, "all flags parse");
	is_str(cfg.dsn, "dbname=shop", "--dsn");
	is_str(cfg.redis.host, "cache", "--redis host");
	ok(cfg.redis.port == 6380 && cfg.redis.db == 2, "--redis port and db");
	is_str(cfg.redis.password, "s3cret", "--redis password");
	ok(cfg.redis.user == NULL, "no ACL user");
	is_str(cfg.consumer, "redis-bridge", "--consumer");
	ok(cfg.batch_size == 500, "--batch-size");
	ok(cfg.mode == RELAY_STREAMS, "--mode streams");
	is_str(config_route(&cfg, "Allocated", buf, sizeof buf), "alloc", "--channel overrides the built-in route");
	ok(config_route(&cfg, "OutOfStock", buf, sizeof buf) == NULL, "--channel Type=- : not published");
	is_str(config_route(&cfg, "BatchCreated", buf, sizeof buf), "shop.BatchCreated", "--channel-prefix");
	is_str(cfg.group, "g1", "--group");
	ok(cfg.from_now && cfg.verbose, "--from-now -v");
	ok(cfg.poll_interval == 0.5 && cfg.backoff_max == 2.0, "--poll-interval --backoff-max");
	config_free(&cfg);

	ok(parse(&cfg, err, sizeof err, "--no-inbound", NULL) == CONFIG_OK && cfg.inbound == NULL,
	   "--no-inbound");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_OK && cfg.outbound == 1,
	   "outbound by default");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--no-outbound", "--mode", "streams", NULL) == CONFIG_OK &&
	   cfg.outbound == 0 && cfg.inbound != NULL, "--no-outbound: commands only");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--no-outbound", "--no-inbound", NULL) == CONFIG_ERROR &&
	   strstr(err, "nothing to relay") != NULL, "--no-outbound --no-inbound: refused");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--no-outbound", "--source", "wal", NULL) == CONFIG_ERROR &&
	   strstr(err, "--no-outbound") != NULL, "--no-outbound --source wal: refused");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--batch-size=7", "-m", "pubsub", NULL) == CONFIG_OK &&
	   cfg.batch_size == 7 && cfg.mode == RELAY_PUBSUB, "--flag=value and short flags");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--help", NULL) == CONFIG_HELP, "--help");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "-h", NULL) == CONFIG_HELP, "-h");
	config_free(&cfg);
}

static void
test_env(void)
{
	relay_config cfg;
	char		err[512];
	char		buf[256];

	clear_env();
	setenv("ALLOCATION_RELAY_CONSUMER", "from-env", 1);
	setenv("ALLOCATION_RELAY_BATCH_SIZE", "42", 1);
	setenv("ALLOCATION_RELAY_MODE", "streams", 1);
	setenv("REDIS_URL", "redis://envhost:7000", 1);
	setenv("ALLOCATION_RELAY_CHANNELS", " Deallocated=line_deallocated , OrderCreated=- ", 1);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_OK, "environment parses");
	is_str(cfg.consumer, "from-env", "ALLOCATION_RELAY_CONSUMER");
	ok(cfg.batch_size == 42, "ALLOCATION_RELAY_BATCH_SIZE");
	ok(cfg.mode == RELAY_STREAMS, "ALLOCATION_RELAY_MODE");
	ok(strcmp(cfg.redis.host, "envhost") == 0 && cfg.redis.port == 7000, "REDIS_URL");
	is_str(config_route(&cfg, "Deallocated", buf, sizeof buf), "line_deallocated",
		   "ALLOCATION_RELAY_CHANNELS, spaces trimmed");
	ok(config_route(&cfg, "OrderCreated", buf, sizeof buf) == NULL, "ALLOCATION_RELAY_CHANNELS Type=-");
	config_free(&cfg);

	setenv("ALLOCATION_RELAY_REDIS", "redis://relayhost", 1);
	ok(parse(&cfg, err, sizeof err, "--consumer", "from-flag", "--batch-size", "9", NULL) == CONFIG_OK,
	   "flags with environment");
	is_str(cfg.consumer, "from-flag", "a flag beats the environment");
	ok(cfg.batch_size == 9, "a flag beats the environment (batch size)");
	is_str(cfg.redis.host, "relayhost", "ALLOCATION_RELAY_REDIS beats REDIS_URL");
	config_free(&cfg);

	clear_env();
	setenv("ALLOCATION_RELAY_BATCH_SIZE", "lots", 1);
	ok(parse(&cfg, err, sizeof err, NULL) == CONFIG_ERROR && strstr(err, "ALLOCATION_RELAY_BATCH_SIZE"),
	   "a bad environment value is an error naming the variable");
	config_free(&cfg);
	clear_env();
}

static void
test_bad_config(void)
{
	static const struct
	{
		const char *a1,
				   *a2,
				   *needle;
	}			cases[] = {
		{"--batch-size", "0", "--batch-size"},
		{"--batch-size", "10001", "--batch-size"},
		{"--batch-size", "12x", "--batch-size"},
		{"--mode", "kafka", "--mode"},
		{"--redis", "http://localhost", "redis://"},
		{"--redis", "rediss://localhost", "TLS"},
		{"--redis", "redis://host:0", "port"},
		{"--redis", "redis://host:99999", "port"},
		{"--redis", "redis://host/x", "database"},
		{"--redis", "redis://user@host", "password"},
		{"--redis", "unix:relative.sock", "absolute"},
		{"--consumer", "", "--consumer"},
		{"--consumer", "   ", "--consumer"},
		/* the server's rule: C1 controls, and Unicode spaces alone, too */
		{"--consumer", "x\xc2\x85y", "--consumer"},
		{"--consumer", "\xc2\xa0", "--consumer"},
		{"--consumer", "\xe3\x80\x80\xe2\x80\x83", "--consumer"},
		{"--consumer", "tab\there", "--consumer"},
		{"--consumer", "\xff\xfe", "--consumer"},
		{"--channel", "Allocated", "--channel"},
		{"--channel", "=x", "--channel"},
		{"--channel", "Allocated=", "--channel"},
		{"--poll-interval", "0", "--poll-interval"},
		{"--backoff-max", "nan", "--backoff-max"},
		{"--command-lock-timeout", "0.0004", "at least 0.001"},
		{"--command-lock-timeout", "60", "shorter than --pg-timeout"},
		{"--bogus", NULL, "unknown option"},
		{"stray", NULL, "unexpected argument"},
	};
	size_t		i;

	clear_env();
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
	{
		relay_config cfg;
		char		err[512];
		config_result r = parse(&cfg, err, sizeof err, cases[i].a1, cases[i].a2, NULL);

		ok(r == CONFIG_ERROR && strstr(err, cases[i].needle) != NULL,
		   "bad config %s %s: error mentions %s", cases[i].a1,
		   cases[i].a2 ? cases[i].a2 : "", cases[i].needle);
		if (r != CONFIG_ERROR || strstr(err, cases[i].needle) == NULL)
			printf("#   error: %s\n", err);
		config_free(&cfg);
	}
	{
		relay_config cfg;
		char		err[512];
		char		longname[300];

		memset(longname, 'c', sizeof longname - 1);
		longname[sizeof longname - 1] = '\0';
		ok(parse(&cfg, err, sizeof err, "--consumer", longname, NULL) == CONFIG_ERROR,
		   "a consumer name over 255 characters");
		config_free(&cfg);
		/* 255 characters of two bytes each: the server takes it, so does the relay */
		{
			char		wide[255 * 2 + 1];

			for (int k = 0; k < 255; k++)
				memcpy(wide + 2 * k, "\xc3\xa9", 2);
			wide[255 * 2] = '\0';
			ok(parse(&cfg, err, sizeof err, "--consumer", wide, NULL) == CONFIG_OK,
			   "a consumer name of 255 characters (510 bytes) is taken");
			config_free(&cfg);
		}
		ok(parse(&cfg, err, sizeof err, "--dsn", NULL) == CONFIG_ERROR && strstr(err, "needs a value"),
		   "a flag without its value");
		config_free(&cfg);
	}
}

static void
test_urls(void)
{
	redis_target t;
	char		err[256];
	char		disp[256];

	ok(redis_url_parse("redis://localhost", &t, err, sizeof err) == 0 &&
	   strcmp(t.host, "localhost") == 0 && t.port == 6379 && t.db == 0 && t.password == NULL,
	   "redis://localhost");
	redis_target_free(&t);
	ok(redis_url_parse("redis://[::1]:6390/3", &t, err, sizeof err) == 0 &&
	   strcmp(t.host, "::1") == 0 && t.port == 6390 && t.db == 3, "IPv6 host, port, db");
	redis_url_display(&t, disp, sizeof disp);
	is_str(disp, "redis://[::1]:6390/3", "IPv6 display");
	redis_target_free(&t);
	ok(redis_url_parse("redis://app:p%40ss@h:1/", &t, err, sizeof err) == 0 &&
	   strcmp(t.user, "app") == 0 && strcmp(t.password, "p@ss") == 0 && t.port == 1,
	   "ACL user and a %%-escaped password");
	redis_url_display(&t, disp, sizeof disp);
	ok(strstr(disp, "p@ss") == NULL && strstr(disp, "***") != NULL, "the display hides the password");
	redis_target_free(&t);
	ok(redis_url_parse("redis://:%zz@h", &t, err, sizeof err) != 0, "a bad %%-escape");
	ok(redis_url_parse("redis://:%4@h", &t, err, sizeof err) != 0, "a cut %%-escape");
	ok(redis_url_parse("unix:///run/redis/redis.sock?db=4", &t, err, sizeof err) == 0 &&
	   strcmp(t.path, "/run/redis/redis.sock") == 0 && t.db == 4 && t.host == NULL,
	   "unix:///path?db=N");
	redis_url_display(&t, disp, sizeof disp);
	is_str(disp, "unix:///run/redis/redis.sock?db=4", "unix display");
	redis_target_free(&t);
	ok(redis_url_parse("unix:/tmp/r.sock", &t, err, sizeof err) == 0 &&
	   strcmp(t.path, "/tmp/r.sock") == 0, "unix:/path");
	redis_target_free(&t);
	ok(redis_url_parse("unix:///tmp/r.sock?color=red", &t, err, sizeof err) != 0 &&
	   strstr(err, "color") != NULL, "an unknown unix parameter");
	ok(redis_url_parse("redis://h:6379?x=1", &t, err, sizeof err) != 0, "redis:// with ?parameters");
}

static void
test_backoff(void)
{
	backoff		b;
	double		d[8];
	int			i;

	backoff_init(&b, 0.25, 2.0);
	for (i = 0; i < 8; i++)
		d[i] = backoff_next(&b);
	ok(d[0] == 0.25 && d[1] == 0.5 && d[2] == 1.0 && d[3] == 2.0, "doubles: 0.25 0.5 1 2");
	ok(d[4] == 2.0 && d[7] == 2.0, "capped at the maximum");
	ok(b.failures == 8, "counts failures");
	backoff_reset(&b);
	ok(backoff_next(&b) == 0.25 && b.failures == 1, "reset starts over");
	backoff_init(&b, 5, 1);
	ok(backoff_next(&b) == 1, "an initial delay above the cap is capped");
}

/*
 * A failure that recurs right after every connection (a lock timeout on
 * the first query, a Redis ACL that refuses XREADGROUP) must back off to
 * the maximum, not reconnect at the first delay for ever; a connection
 * that lasted starts over at the first delay.
 */
static void test_link_reasons(void);

static void
test_link_backoff(void)
{
	link_state	l;
	double		now = 1000.0;
	double		delays[8];
	int			i,
				grows = 1;
	FILE	   *saved = stderr;

	stderr = fopen("/dev/null", "w");	/* the link's log lines */
	if (stderr == NULL)
		stderr = saved;
	link_init(&l, "test", 4.0);
	link_connected(&l, now, "first");
	for (i = 0; i < 8; i++)
	{
		now += 0.01;			/* fails right after connecting */
		link_lost(&l, now, "lock timeout");
		delays[i] = l.next_try - now;
		now = l.next_try;
		link_connected(&l, now, "again");
	}
	for (i = 1; i < 8; i++)
		if (delays[i] < delays[i - 1] || (delays[i - 1] < 4.0 && delays[i] <= delays[i - 1]))
			grows = 0;
	ok(delays[0] == 0.25 && grows && delays[7] == 4.0,
	   "a connection lost right after connecting backs off 0.25, 0.5, ... up to the maximum (got %g, %g, %g ... %g)",
	   delays[0], delays[1], delays[2], delays[7]);
	now += 10.0;				/* this one lasted */
	link_lost(&l, now, "server restart");
	ok(l.next_try - now == 0.25, "a connection that lasted starts over at the first delay");
	for (i = 0; i < 6; i++)
		link_failed(&l, now, "refused");
	if (stderr != saved)
		fclose(stderr);
	stderr = saved;
	ok(l.bo.current == 4.0, "failed attempts back off to the maximum too");
	test_link_reasons();
}

/*
 * One warning per change of reason.  Generated: in templates whose only
 * number is a measurement (libcurl's "after N ms", "after N milliseconds
 * with N bytes received", the mailer's "N.Ns into it"), twenty random
 * numbers make one reason; in templates whose number names something (a
 * port, an address, an SMTP code, a SQLSTATE, a role "relayN"), every
 * change of number is a new reason, logged.
 */
static int
count_reason_lines(const char *tmpl, int measured)
{
	char		path[] = "/tmp/relay-unit-link.XXXXXX";
	int			fd = mkstemp(path);
	FILE	   *saved = stderr;
	FILE	   *f;
	link_state	l;
	char		why[200];
	char		line[600];
	int			lines = 0;

	if (fd < 0 || (stderr = fdopen(fd, "w")) == NULL)
	{
		stderr = saved;
		return -1;
	}
	link_init(&l, "test", 4.0);
	for (int k = 0; k < 20; k++)
	{
		/* a different number each time, wherever it is */
		int			v = measured ? 100 + rand() % 100000 : 100 + k * 7;

		snprintf(why, sizeof why, tmpl, v, v % 10);
		link_failed(&l, 1000.0 + k, why);
	}
	fclose(stderr);
	stderr = saved;
	f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		lines++;
	if (f)
		fclose(f);
	unlink(path);
	return lines;
}

static void
test_link_reasons(void)
{
	static const char *const measured[] = {
		"Failed to connect to 10.255.255.1 port 25 after %d ms: Timeout was reached",
		"Operation timed out after %d milliseconds with %d bytes received",
		"no answer before the end of the claim, %d.%ds into it (SMTP 0)",
		"given up unanswered at its deadline, %d.%ds into it",
	};
	static const char *const named[] = {
		"could not connect to server: Connection refused (port %d)",
		"connection to server at \"10.0.%d.%d\", port 5432 failed",
		"Weird server reply: Got unexpected smtp-server response: %d (SMTP %d)",
		"FATAL: terminating connection (SQLSTATE 57P%02d)",
		"password authentication failed for user \"relay%d\"",
		"no reply within %ds from host%d",
	};
	int			wrong = 0;

	srand(7);
	for (size_t t = 0; t < sizeof measured / sizeof measured[0]; t++)
		if (count_reason_lines(measured[t], 1) != 1)
		{
			wrong++;
			fprintf(stderr, "# measured: %s: not one line\n", measured[t]);
		}
	for (size_t t = 0; t < sizeof named / sizeof named[0]; t++)
		if (count_reason_lines(named[t], 0) != 20)
		{
			wrong++;
			fprintf(stderr, "# named: %s: not 20 lines\n", named[t]);
		}
	ok(wrong == 0, "link: a reason is logged once whatever its measurements, again when a number naming something changes (generated)");
}

/*
 * Secrets and limits: a Redis password never appears in a configuration
 * error, whatever the URL's other faults; it may come from the
 * environment or a file; a streams --inbound name leaves room for the
 * message ids of its entries.
 */
static void
test_secrets_and_limits(void)
{
	static const char *const passwords[] = {"s3cret", "p@ss:w/rd", "a%40b", "x&y=z", "longer-secret-123",
	"pa/ss", "pa?ss"};
	static const char *const shapes[] = {
		"redis://:%s@host:notaport", "redis://user:%s@host/notadb",
		"redis://:%s@host:6379/1?x=1", "unix:///r.sock?password=%s&bogus=1",
		"redis://u:%s@[::1:6379", "unix:///r.sock?db=x&password=%s"
	};
	relay_config cfg;
	char		err[1024];
	char		url[256];
	char		inbound[260];
	char		path[] = "/tmp/relay-unit-pw.XXXXXX";
	size_t		i,
				j;
	int			leaks = 0,
				errors = 0;
	FILE	   *f;
	int			fd;

	clear_env();
	for (i = 0; i < sizeof passwords / sizeof *passwords; i++)
		for (j = 0; j < sizeof shapes / sizeof *shapes; j++)
		{
			snprintf(url, sizeof url, shapes[j], passwords[i]);
			if (parse(&cfg, err, sizeof err, "--redis", url, NULL) == CONFIG_ERROR)
				errors++;
			if (strstr(err, passwords[i]) != NULL)
			{
				leaks++;
				printf("#   leaked: %s\n", err);
			}
			config_free(&cfg);
		}
	ok(errors == (int) (i * j) && leaks == 0,
	   "%d bad URLs with a password (a raw / or ? in it too): every error hides it (%d errors, %d leaks)",
	   (int) (i * j), errors, leaks);

	setenv("ALLOCATION_RELAY_REDIS_PASSWORD", "from-env", 1);
	ok(parse(&cfg, err, sizeof err, "--redis", "redis://:in-url@h", NULL) == CONFIG_OK &&
	   cfg.redis.password && strcmp(cfg.redis.password, "from-env") == 0,
	   "ALLOCATION_RELAY_REDIS_PASSWORD gives the password");
	config_free(&cfg);
	unsetenv("ALLOCATION_RELAY_REDIS_PASSWORD");
	fd = mkstemp(path);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f)
	{
		fputs("from-file\n", f);
		fclose(f);
	}
	ok(parse(&cfg, err, sizeof err, "--redis-password-file", path, NULL) == CONFIG_OK &&
	   cfg.redis.password && strcmp(cfg.redis.password, "from-file") == 0,
	   "--redis-password-file gives the password (first line)");
	config_free(&cfg);
	unlink(path);
	ok(parse(&cfg, err, sizeof err, "--redis-password-file", path, NULL) == CONFIG_ERROR &&
	   strstr(err, "--redis-password-file"), "a missing password file is a configuration error");
	config_free(&cfg);

	memset(inbound, 'q', sizeof inbound);
	inbound[200] = '\0';
	ok(parse(&cfg, err, sizeof err, "--mode", "streams", "--inbound", inbound, NULL) == CONFIG_OK,
	   "streams: a 200-byte --inbound fits (message ids of 255)");
	config_free(&cfg);
	inbound[200] = 'q';
	inbound[201] = '\0';
	ok(parse(&cfg, err, sizeof err, "--mode", "streams", "--inbound", inbound, NULL) == CONFIG_ERROR &&
	   strstr(err, "message_id"), "streams: a 201-byte --inbound is refused, naming the message ids");
	config_free(&cfg);
	ok(parse(&cfg, err, sizeof err, "--inbound", inbound, NULL) == CONFIG_OK,
	   "pub/sub: the channel name is not part of any id");
	config_free(&cfg);
}

static void test_excerpt_hidden(void);
static void test_log_one_line(void);

static void
test_text(void)
{
	strbuf		sb;
	char		buf[64];
	const char *names[] = {"batchref", "qty", "note", "zip"};
	size_t		nlens[] = {8, 3, 4, 3};
	const char *values[] = {"b\"1", "12", "say \\hi\n", "007"};
	size_t		vlens[] = {3, 2, 8, 3};
	const char *dnames[] = {"message_id", "data"};
	size_t		dnlens[] = {10, 4};
	const char *dvalues[] = {"m-1", "{\"batchref\": \"b1\", \"qty\": 3}"};
	size_t		dvlens[] = {3, 28};

	sb_init(&sb);
	sb_json_string(&sb, "a\"b\\c\x01\t", 7);
	is_str(sb.data, "\"a\\\"b\\\\c\\u0001\\t\"", "JSON string escapes");
	stream_fields_to_json(&sb, names, nlens, values, vlens, 4);
	is_str(sb.data, "{\"batchref\": \"b\\\"1\", \"qty\": 12, \"note\": \"say \\\\hi\\n\", \"zip\": \"007\"}",
		   "stream fields -> JSON object; whole numbers become numbers, 007 stays a string");
	stream_fields_to_json(&sb, dnames, dnlens, dvalues, dvlens, 2);
	is_str(sb.data, "{\"batchref\": \"b1\", \"qty\": 3}", "a data field is the whole message");
	stream_fields_to_json(&sb, NULL, NULL, NULL, NULL, 0);
	is_str(sb.data, "{}", "an entry without fields: {}");
	sb_free(&sb);

	ok(text_is_integer("-5", 2) && text_is_integer("0", 1) && !text_is_integer("-", 1) &&
	   !text_is_integer("1e3", 3) && !text_is_integer("1234567890123456789", 19) &&
	   !text_is_integer("", 0), "text_is_integer");
	is_str(text_excerpt("ab\ncd", 5, 100, buf, sizeof buf), "ab\\x0acd", "excerpt escapes control characters");
	is_str(text_excerpt("abcdefgh", 8, 4, buf, sizeof buf), "abcd...", "excerpt cuts long text");
	is_str(text_excerpt("a\xff\xfe b", 5, 100, buf, sizeof buf), "a\\xff\\xfe b",
		   "excerpt escapes bytes that are not UTF-8");
	is_str(text_excerpt("\xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80", 14, 100, buf, sizeof buf),
		   "\xc3\xa9t\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80", "excerpt keeps valid UTF-8");
	is_str(text_excerpt("\xc3(\xe2\x82\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80", 13, 100, buf, sizeof buf),
		   "\\xc3(\\xe2\\x82\\xed\\xa0\\x80\\xc0\\xaf\\xf4\\x90\\x80\\x80",
		   "excerpt escapes truncated, surrogate, overlong and too large sequences");
	is_str(text_excerpt("ab\xe2\x80\xa6", 5, 3, buf, sizeof buf), "ab...",
		   "excerpt cuts before a character, not inside it");
	is_str(text_excerpt("ab\xe2\x80", 4, 100, buf, sizeof buf), "ab\\xe2\\x80",
		   "excerpt escapes a sequence cut at the end");
	test_excerpt_hidden();
	test_log_one_line();
	{
		char		d1[] = "host=h password=s3cret user=u";
		char		d2[] = "password = 'a b\\' c' dbname=x";
		char		d3[] = "postgresql://alice:pw@x@db.example:5432/app?sslmode=require&password=two";
		char		d4[] = "--dsn=postgres://bob:p%40ss@h/db";
		char		d5[] = "dbname=x sslpassword=k mypassword=y";
		char		d6[] = "redis://:pw@host dbname=password";

		text_mask_dsn_password(d1);
		text_mask_dsn_password(d2);
		text_mask_dsn_password(d3);
		text_mask_dsn_password(d4);
		text_mask_dsn_password(d5);
		text_mask_dsn_password(d6);
		is_str(d1, "host=h password=****** user=u", "the --dsn password masked (key/value)");
		is_str(d2, "password = '*******' dbname=x", "... quoted, with an escaped quote");
		is_str(d3, "postgresql://alice:****@db.example:5432/app?sslmode=require&password=***",
			   "... in a URI, before the last @, and as a URI parameter");
		is_str(d4, "--dsn=postgres://bob:******@h/db", "... postgres:// in --dsn=");
		is_str(d5, "dbname=x sslpassword=* mypassword=y", "... sslpassword, not another key's tail");
		is_str(d6, "redis://:pw@host dbname=password", "... nothing else");
	}
	test_json_depth();
}

/* UTF-8 of code point cp into out; its length */
static size_t
utf8_encode(unsigned int cp, char *out)
{
	if (cp < 0x80)
		return out[0] = (char) cp, 1;
	if (cp < 0x800)
		return out[0] = (char) (0xc0 | (cp >> 6)), out[1] = (char) (0x80 | (cp & 0x3f)), 2;
	if (cp < 0x10000)
		return out[0] = (char) (0xe0 | (cp >> 12)), out[1] = (char) (0x80 | ((cp >> 6) & 0x3f)),
			out[2] = (char) (0x80 | (cp & 0x3f)), 3;
	return out[0] = (char) (0xf0 | (cp >> 18)), out[1] = (char) (0x80 | ((cp >> 12) & 0x3f)),
		out[2] = (char) (0x80 | ((cp >> 6) & 0x3f)), out[3] = (char) (0x80 | (cp & 0x3f)), 4;
}

/*
 * text_excerpt, generated over code points: every character that would
 * rearrange a terminal's line (C1 controls U+0080-U+009F, the bidi marks
 * U+061C, U+200E, U+200F, the separators and embeddings/overrides
 * U+2028-U+202E, the isolates U+2066-U+2069) comes out as \uXXXX between
 * two letters; every other character of U+0080-U+2FFF and a sample above
 * comes out as itself.
 */
static void
test_excerpt_hidden(void)
{
	int			wrong = 0,
				hidden = 0;
	char		buf[64];

	for (unsigned int cp = 0x80; cp < 0x11000; cp += cp < 0x3000 ? 1 : 97)
	{
		char		in[8],
					want[16];
		size_t		len;
		int			hide;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		hide = (cp >= 0x80 && cp <= 0x9f) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
			(cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
		in[0] = 'a';
		len = 1 + utf8_encode(cp, in + 1);
		in[len++] = 'b';
		if (hide)
		{
			hidden++;
			snprintf(want, sizeof want, "a\\u%04xb", cp);
		}
		else
		{
			memcpy(want, in, len);
			want[len] = '\0';
		}
		if (strcmp(text_excerpt(in, len, 100, buf, sizeof buf), want) != 0)
		{
			if (wrong++ < 5)
				fprintf(stderr, "# U+%04X: got \"%s\"\n", cp, buf);
		}
	}
	ok(wrong == 0 && hidden == 32 + 3 + 7 + 4,
	   "excerpt escapes exactly the characters that rearrange a terminal's line (generated over code points)");
}

/*
 * Every log line stays one line that shows what it says: a value holding
 * any C0 control (line breaks, a terminal's escape), DEL, or a character
 * that rearranges a terminal's line, logged through log_warn, comes out
 * on exactly one line with that character escaped.  Generated over all of
 * them; stderr goes to a file meanwhile.
 */
static void
test_log_one_line(void)
{
	static const unsigned int wide[] = {0x85, 0x9b, 0x61c, 0x200e, 0x200f, 0x2028, 0x2029,
	0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069};
	char		path[] = "/tmp/relay-unit-log.XXXXXX";
	int			fd = mkstemp(path);
	int			saved = dup(2);
	int			cases = 0,
				wrong = 0;
	FILE	   *f;
	char		line[512];

	if (fd < 0 || saved < 0)
	{
		ok(0, "log: a temporary file for stderr");
		return;
	}
	fflush(stderr);
	dup2(fd, 2);
	for (unsigned int c = 1; c < 0x20 + 1 + sizeof wide / sizeof wide[0]; c++)
	{
		char		v[16];
		size_t		n = 0;

		if (c < 0x20)
			v[n++] = (char) c;
		else if (c == 0x20)
			v[n++] = 0x7f;
		else
			n += utf8_encode(wide[c - 0x21], v);
		v[n] = '\0';
		log_warn("case %u: [%s] end", c, v);
		cases++;
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	for (int k = 0; f && fgets(line, sizeof line, f); k++)
	{
		/* one line each, in order, with the value escaped and the end intact */
		unsigned int c = (unsigned int) k + 1;
		char		want[64];

		if (c < 0x20 || c == 0x20)
			snprintf(want, sizeof want, "case %u: [\\x%02x] end\n", c, c < 0x20 ? c : 0x7f);
		else
			snprintf(want, sizeof want, "case %u: [\\u%04x] end\n", c, wide[c - 0x21]);
		if (strstr(line, want) == NULL)
		{
			if (wrong++ < 3)
				fprintf(stderr, "# log line %d: %s", k + 1, line);
		}
		cases--;
	}
	if (f)
		fclose(f);
	close(fd);
	unlink(path);
	ok(wrong == 0 && cases == 0,
	   "log: a value with a control or line-rearranging character stays on its one line, escaped (generated)");
}

/*
 * json_nests_deeper, generated: documents nested exactly d levels deep
 * (arrays and objects mixed at random), with strings that hold brackets,
 * escaped quotes and backslashes between the levels, which must not count.
 */
static void
test_json_depth(void)
{
	static const char *const fillers[] = {"", "1, ", "\"[[{{\", ", "\"\\\"[\", ",
	"\"\\\\\", ", "\"]}\", "};
	int			wrong = 0;
	int			cases = 0;
	strbuf		sb;

	srand(42);
	sb_init(&sb);
	for (int d = 0; d <= 140; d++)
	{
		for (int k = 0; k < 20; k++)
		{
			char		closers[200];

			sb_reset(&sb);
			for (int i = 0; i < d; i++)
			{
				int			object = rand() % 2;

				sb_appends(&sb, object ? "{\"k\": " : "[");
				if (!object)
					sb_appends(&sb, fillers[rand() % 5]);
				closers[i] = object ? '}' : ']';
			}
			sb_appends(&sb, fillers[rand() % 5]);
			sb_appends(&sb, "0");
			for (int i = d - 1; i >= 0; i--)
				sb_append(&sb, &closers[i], 1);
			for (int max = d - 2; max <= d + 1; max++)
			{
				if (max < 0)
					continue;
				cases++;
				if (json_nests_deeper(sb.data ? sb.data : "", sb.len, max) != (d > max))
					wrong++;
			}
		}
	}
	sb_free(&sb);
	ok(wrong == 0, "json_nests_deeper: %d generated documents and limits, %d wrong", cases, wrong);
	ok(!json_nests_deeper("\"[[[[[[\"", 8, 1) && json_nests_deeper("[[[", 3, 2) &&
	   !json_nests_deeper("]]]][", 5, 1), "json_nests_deeper: brackets in strings, stray closers");
}

static void
test_queue(void)
{
	inbound_queue q;
	int			i;
	int			order_ok = 1;
	char		body[16];

	iq_init(&q);
	ok(iq_peek(&q) == NULL, "an empty queue");
	for (i = 0; i < 40; i++)
	{
		snprintf(body, sizeof body, "m%d", i);
		iq_push(&q, body, strlen(body), i % 2 ? "1-1" : NULL);
		if (i % 3 == 0)
		{
			/* pop some along the way, so that the queue slides and grows */
			iq_pop(&q);
		}
	}
	ok(q.count == 26, "40 pushed, 14 popped: 26 left");
	for (i = 14; i < 40; i++)
	{
		inbound_msg *m = iq_peek(&q);

		snprintf(body, sizeof body, "m%d", i);
		if (m == NULL || strcmp(m->body, body) != 0 || (m->entry_id != NULL) != (i % 2))
			order_ok = 0;
		iq_pop(&q);
	}
	ok(order_ok, "first in, first out, entry ids kept");
	ok(iq_peek(&q) == NULL && q.count == 0, "empty again");
	iq_push(&q, "x", 1, NULL);
	iq_free(&q);
	ok(q.count == 0 && q.items == NULL, "iq_free");

	/* bounded: by count and by bytes, whatever Redis pushes */
	{
		char		big[1000];
		int			i,
					taken = 0;

		memset(big, 'x', sizeof big);
		iq_set_limits(&q, 5, 100000);
		for (i = 0; i < 20; i++)
			taken += iq_offer(&q, "m", 1) == 0;
		ok(taken == 5 && q.count == 5, "iq_offer takes at most max_count messages (took %d)", taken);
		iq_pop(&q);
		ok(iq_offer(&q, "m", 1) == 0, "... and takes one again when one is done");
		iq_free(&q);
		iq_set_limits(&q, 1000, 4500);
		taken = 0;
		for (i = 0; i < 20; i++)
			taken += iq_offer(&q, big, sizeof big) == 0;
		ok(taken == 4 && q.bytes == 4000, "iq_offer takes at most max_bytes (took %d, %zu bytes)", taken, q.bytes);
		ok(iq_offer(&q, "small", 5) == 0, "a small message still fits");
		iq_free(&q);
		iq_set_limits(&q, 1000, 500);
		ok(iq_offer(&q, big, sizeof big) != 0 && q.count == 0, "a message larger than max_bytes is refused");
		iq_set_limits(&q, 0, 0);
		iq_free(&q);
	}
}

/* bounded_call's callees: note the timer, return at once or block */
static int	armed_inside;

static int
quick_call(void *arg)
{
	struct itimerval t;

	armed_inside = getitimer(ITIMER_REAL, &t) == 0 &&
		(t.it_value.tv_sec > 0 || t.it_value.tv_usec > 0);
	return *(int *) arg;
}

static int
blocking_call(void *arg)
{
	(void) arg;
	for (;;)
		pause();
	return 0;
}

/* how a child that ran body() ended: its exit status or the signal */
static int
child_end(void (*body) (void), int *signo)
{
	pid_t		pid;
	int			status = 0;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
	{
		body();
		_exit(0);
	}
	*signo = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
	{
		*signo = WTERMSIG(status);
		return -1;
	}
	return WEXITSTATUS(status);
}

/* the call returns well within its bound, then the child goes on a while */
static void
returns_in_time(void)
{
	int			v = 0;
	struct timespec pause_ts = {0, 300 * 1000 * 1000};

	bounded_call(0.05, quick_call, &v);
	nanosleep(&pause_ts, NULL);	/* longer than the bound */
	_exit(7);
}

/* the call never returns */
static void
never_returns(void)
{
	bounded_call(0.05, blocking_call, NULL);
	_exit(0);
}

/*
 * bounded_call (the sender of a cancel request): the timer bounds the
 * call, and only the call.  Once it returned the timer is off, so that a
 * child that ends by SIGALRM is always one whose call got no answer.
 */
static void
test_bounded_call(void)
{
	int			v = 42,
				rc,
				signo;
	struct itimerval t;

	rc = bounded_call(5.0, quick_call, &v);
	ok(rc == 42, "bounded_call returns the call's result");
	ok(armed_inside, "... the timer runs during the call");
	ok(getitimer(ITIMER_REAL, &t) == 0 && t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0,
	   "... and is disarmed as soon as the call returned");
	rc = child_end(returns_in_time, &signo);
	ok(rc == 7 && signo == 0,
	   "a child whose call returned in time is not ended by the timer afterwards (exit %d, signal %d)",
	   rc, signo);
	rc = child_end(never_returns, &signo);
	ok(signo == SIGALRM, "a call that does not return within the bound ends the child by SIGALRM (signal %d)",
	   signo);
}

/* Append c to s as a URI %-escape when it is one of escape (or not printable). */
static void
uri_char(char *s, char c, const char *escape)
{
	size_t		n = strlen(s);

	if ((unsigned char) c <= ' ' || (unsigned char) c >= 0x7f || strchr(escape, c))
		sprintf(s + n, "%%%02X", (unsigned char) c);
	else
	{
		s[n] = c;
		s[n + 1] = '\0';
	}
}

/*
 * The password maskers, generated: passwords of random characters (spaces
 * of every kind, quotes, backslashes, '@', '?', '&', '=', '/', '%', ...)
 * behind a marker, written in every form libpq takes (key/value quoted
 * and not, after any whitespace separator, the user information of a URI,
 * a URI parameter) and Redis takes; libpq's own parser confirms what
 * each DSN's password is, and the marker must be gone after masking.
 */
static void
test_masking_generated(void)
{
	static const char alphabet[] = "aZ9 \t\r\f\v\n?@:&='\\/#%+;,";
	static const char *const seps[] = {" ", "\t", "\n", "\r", "\f", "\v", "  \r\n"};
	int			cases = 0,
				parsed = 0,
				masked = 0,
				redis_cases = 0,
				redis_masked = 0;

	srand(7);
	for (int i = 0; i < 400; i++)
	{
		char		pw[40];
		char		marker[16];
		char		written[200] = "";
		char		dsn[400];
		int			len = 1 + rand() % 12;
		int			form = i % 4;
		const char *sep = seps[rand() % 7];

		snprintf(marker, sizeof marker, "Mk%dq", i);
		snprintf(pw, sizeof pw, "%s", marker);
		for (int k = 0; k < len; k++)
			pw[strlen(marker) + k] = alphabet[rand() % (sizeof alphabet - 1)];
		pw[strlen(marker) + len] = '\0';
		for (const char *c = pw; *c; c++)
		{
			size_t		n = strlen(written);

			if (form == 0 && (*c == '\'' || *c == '\\'))
				sprintf(written + n, "\\%c", *c);
			else if (form == 1 && (*c == '\'' || *c == '\\' || isspace((unsigned char) *c)))
				sprintf(written + n, "\\%c", *c);
			else if (form == 2)
				uri_char(written, *c, "@/%#");
			else if (form == 3)
				uri_char(written, *c, "&=%#+");
			else
				sprintf(written + n, "%c", *c);
		}
		if (form == 0)
			snprintf(dsn, sizeof dsn, "host=h%spassword = '%s'%suser=u", sep, written, sep);
		else if (form == 1)
			snprintf(dsn, sizeof dsn, "dbname=d%spassword=%s%sport=5", sep, written, sep);
		else if (form == 2)
			snprintf(dsn, sizeof dsn, "postgresql://u:%s@h:5/db?sslmode=disable", written);
		else
			snprintf(dsn, sizeof dsn, "postgres://u@h/db?application_name=x&password=%s", written);
		cases++;
		{
			char	   *errmsg = NULL;
			PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);

			for (PQconninfoOption *o = opts; o && o->keyword; o++)
				if (strcmp(o->keyword, "password") == 0 && o->val && strcmp(o->val, pw) == 0)
					parsed++;
			PQconninfoFree(opts);
			PQfreemem(errmsg);
		}
		text_mask_dsn_password(dsn);
		masked += strstr(dsn, marker) == NULL;

		/* Redis: redis://user:password@host and unix:...?password= */
		{
			char		url[400];

			redis_cases += 2;
			written[0] = '\0';
			for (const char *c = pw; *c; c++)
				uri_char(written, *c, "@/%");
			snprintf(url, sizeof url, "--redis=redis://u:%s@host:6379/1", written);
			text_mask_redis_password(url);
			redis_masked += strstr(url, marker) == NULL;
			written[0] = '\0';
			for (const char *c = pw; *c; c++)
				uri_char(written, *c, "&%");
			snprintf(url, sizeof url, "unix:///run/redis.sock?db=1&password=%s&x=y", written);
			text_mask_redis_password(url);
			redis_masked += strstr(url, marker) == NULL;
		}
	}
	ok(parsed == cases, "generated DSNs: libpq reads each one's password as written (%d/%d)", parsed, cases);
	ok(masked == cases, "generated DSNs: every password masked, in every form and after any separator (%d/%d)",
	   masked, cases);
	ok(redis_masked == redis_cases, "generated Redis URLs: every password masked (%d/%d)",
	   redis_masked, redis_cases);
	{
		char		r1[] = "--redis=redis://:redis@redis-host";
		char		r2[] = "-dpassword=Glued1 host=h";

		text_mask_redis_password(r1);
		is_str(r1, "--redis=redis://:*****@redis-host", "a Redis password that is the word redis: itself masked, not the option");
		text_mask_dsn_password(r2 + 2);
		is_str(r2, "-dpassword=****** host=h", "a DSN glued to -d");
	}
}

int
main(void)
{
	test_defaults();
	test_flags();
	test_env();
	test_bad_config();
	test_urls();
	test_backoff();
	test_link_backoff();
	test_secrets_and_limits();
	test_text();
	test_queue();
	test_bounded_call();
	test_masking_generated();
	printf("1..%d\n", test_count);
	return test_failed ? 1 : 0;
}
