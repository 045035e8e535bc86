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
 * If p starts a measurement, a number with a unit of time or size ("10000
 * ms", "1.5s", "42 bytes") that ends there, the length of the number, its
 * unit at *unit (*unitlen long); otherwise 0.
 */
static size_t
measurement(const char *p, const char **unit, size_t *unitlen)
{
	static const char *const units[] = {"milliseconds", "ms", "seconds", "s", "bytes"};
	const char *q = p;
	size_t		numlen;

	while (isdigit((unsigned char) *q))
		q++;
	if (*q == '.' && isdigit((unsigned char) q[1]))
		for (q++; isdigit((unsigned char) *q); q++)
			;
	numlen = (size_t) (q - p);
	if (*q == ' ')
		q++;
	for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
	{
		size_t		n = strlen(units[k]);

		if (strncmp(q, units[k], n) == 0 && !isalpha((unsigned char) q[n]))
		{
			*unit = q;
			*unitlen = n;
			return numlen;
		}
	}
	return 0;
}

/*
 * Is why the reason already logged?  A measurement's number does not count
 * (libcurl's "after 10000 ms" and "after 10001 ms" are one reason, said
 * once); every other digit does: a port, an address, an SMTP reply code,
 * a SQLSTATE or a name that changes is a new reason.
 */
static int
same_reason(const char *a, const char *b)
{
	int			in_word = 0;	/* a number inside a word ("relay1") is a name */

	while (*a && *b)
	{
		const char *ua,
				   *ub;
		size_t		la,
					lb,
					ula,
					ulb;

		if (!in_word && isdigit((unsigned char) *a) && isdigit((unsigned char) *b) &&
			(la = measurement(a, &ua, &ula)) > 0 && (lb = measurement(b, &ub, &ulb)) > 0 &&
			ula == ulb && strncmp(ua, ub, ula) == 0)
		{
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return 0;
		in_word = isalnum((unsigned char) *a) || *a == '.' || *a == '_';
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
