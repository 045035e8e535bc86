/*
 * backoff.h - capped exponential backoff between reconnection attempts:
 * initial, 2 x initial, 4 x initial, ... never more than max.
 */
#ifndef RELAY_BACKOFF_H
#define RELAY_BACKOFF_H

typedef struct
{
	double		initial;	/* seconds */
	double		max;		/* seconds */
	double		current;	/* the next delay */
	unsigned	failures;	/* since the last reset */
} backoff;

void		backoff_init(backoff *b, double initial, double max);
/* The delay before the next attempt; doubles the one after it. */
double		backoff_next(backoff *b);
void		backoff_reset(backoff *b);

#endif
