/*
 * log.c - timestamped log lines on standard error (see log.h).
 */
#define _GNU_SOURCE
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "text.h"

static const char *log_program = "allocation-relay";
static int log_is_verbose;

void
log_init(const char *program, int verbose)
{
	log_program = program;
	log_is_verbose = verbose;
	/* Line-buffered even when stderr is a file or a pipe (systemd). */
	setvbuf(stderr, NULL, _IOLBF, 0);
}

int
log_verbose(void)
{
	return log_is_verbose;
}

static void
log_line(const char *level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char		msg[8192];
	char		shown[16384];
	int			len;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	/*
	 * One line, whatever the values in it say: a line break, a terminal
	 * escape or a bidirectional override from a message, a server's reply
	 * or a configuration value is shown escaped (text_excerpt), not obeyed.
	 */
	len = vsnprintf(msg, sizeof msg, fmt, ap);
	if (len < 0)
		len = 0;
	text_excerpt(msg, (size_t) len < sizeof msg ? (size_t) len : sizeof msg - 1,
				 sizeof msg, shown, sizeof shown);
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: %s%s\n", stamp, ts.tv_nsec / 1000000L,
			log_program, (long) getpid(), level, shown,
			(size_t) len >= sizeof msg ? "..." : "");
}

#define LOG_FUNCTION(name, level, condition) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
		if (!(condition)) \
			return; \
		va_start(ap, fmt); \
		log_line(level, fmt, ap); \
		va_end(ap); \
	}

LOG_FUNCTION(log_debug, "debug", log_is_verbose)
LOG_FUNCTION(log_info, "info", 1)
LOG_FUNCTION(log_warn, "warning", 1)
LOG_FUNCTION(log_error, "error", 1)
