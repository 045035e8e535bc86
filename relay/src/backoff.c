/*
 * backoff.c - capped exponential backoff (see backoff.h).
 */
#include "backoff.h"

void
backoff_init(backoff *b, double initial, double max)
{
	b->initial = initial < max ? initial : max;
	b->max = max;
	backoff_reset(b);
}

double
backoff_next(backoff *b)
{
	double		delay = b->current;

	b->failures++;
	b->current *= 2;
	if (b->current > b->max)
		b->current = b->max;
	return delay;
}

void
backoff_reset(backoff *b)
{
	b->current = b->initial;
	b->failures = 0;
}
