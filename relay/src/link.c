/*
 * link.c - connection states and their log lines (see link.h).
 */
#define _GNU_SOURCE
#include "link.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* the first retry comes this soon; then 2x, 4x ... up to --backoff-max */
#define LINK_INITIAL_BACKOFF 0.25

double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
link_init(link_state *l, const char *name, double backoff_max)
{
	memset(l, 0, sizeof *l);
	l->name = name;
	backoff_init(&l->bo, LINK_INITIAL_BACKOFF, backoff_max);
}

void
link_lost(link_state *l, double now, const char *why)
{
	if (!l->up)
		return;
	l->up = 0;
	l->down_since = now;
	l->attempts = 0;
	/* a connection that lasted starts over; a short-lived one backs off */
	if (now - l->up_since >= l->bo.max)
		backoff_reset(&l->bo);
	log_warn("%s: connection lost (%s); reconnecting", l->name, why);
	snprintf(l->last_err, sizeof l->last_err, "%s", why);
	l->next_try = now + backoff_next(&l->bo);
}

/*
 * Is why the reason already logged?  Runs of digits do not count: "after
 * 10000 ms" and "after 10001 ms" are one reason, said once.
 */
static int
same_reason(const char *a, const char *b)
{
	while (*a && *b)
	{
		if (isdigit((unsigned char) *a) && isdigit((unsigned char) *b))
		{
			while (isdigit((unsigned char) *a))
				a++;
			while (isdigit((unsigned char) *b))
				b++;
			continue;
		}
		if (*a != *b)
			return 0;
		a++;
		b++;
	}
	return *a == *b;
}

void
link_failed(link_state *l, double now, const char *why)
{
	double		delay = backoff_next(&l->bo);

	if (l->attempts == 0 && !l->ever_up)
		l->down_since = now;
	l->attempts++;
	/* one line per new reason, not one per attempt */
	if (!same_reason(why, l->last_err))
	{
		log_warn("%s: cannot connect (%s); retrying with backoff (at most every %gs)",
				 l->name, why, l->bo.max);
		snprintf(l->last_err, sizeof l->last_err, "%s", why);
	}
	l->next_try = now + delay;
}

void
link_connected(link_state *l, double now, const char *detail)
{
	if (l->attempts > 0 || l->ever_up)
		log_info("%s: connected (%s) after %.1fs down, %u failed attempt%s",
				 l->name, detail, now - l->down_since, l->attempts,
				 l->attempts == 1 ? "" : "s");
	else
		log_info("%s: connected (%s)", l->name, detail);
	l->up = 1;
	l->ever_up = 1;
	l->up_since = now;
	l->attempts = 0;
	l->last_err[0] = '\0';
}
