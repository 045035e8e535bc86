/*
 * link.h - the state of a connection (PostgreSQL or Redis) and its log
 * lines: one line when it is lost, one when an attempt fails for a new
 * reason, one when it is up again.  Attempts are spaced by a capped
 * exponential backoff.
 */
#ifndef RELAY_LINK_H
#define RELAY_LINK_H

#include "backoff.h"

typedef struct
{
	const char *name;		/* "postgres", "redis" */
	int			up;
	int			ever_up;
	backoff		bo;
	double		next_try;	/* monotonic seconds: the next attempt */
	double		down_since;
	double		up_since;	/* when it last connected */
	unsigned	attempts;	/* failed attempts since it went down */
	char		last_err[512];
} link_state;

/* seconds on a monotonic clock */
double		now_mono(void);

void		link_init(link_state *l, const char *name, double backoff_max);
/*
 * It was up and is not any more.  The backoff starts over only when the
 * connection had lasted at least the longest backoff: a failure that
 * recurs right after connecting keeps backing off exponentially.
 */
void		link_lost(link_state *l, double now, const char *why);
/* An attempt to connect failed. */
void		link_failed(link_state *l, double now, const char *why);
/* An attempt succeeded; detail says where.  The backoff is kept (above). */
void		link_connected(link_state *l, double now, const char *detail);

#endif
