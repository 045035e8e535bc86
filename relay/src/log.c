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

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%ld] %s: ", stamp, ts.tv_nsec / 1000000L,
			log_program, (long) getpid(), level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
