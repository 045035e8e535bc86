/*
 * inbound.c - the queue of received commands (see inbound.h).
 */
#include "inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	return p;
}

void
iq_init(inbound_queue *q)
{
	memset(q, 0, sizeof *q);
}

void
iq_set_limits(inbound_queue *q, size_t max_count, size_t max_bytes)
{
	q->max_count = max_count;
	q->max_bytes = max_bytes;
}

int
iq_offer(inbound_queue *q, const char *body, size_t len)
{
	if ((q->max_count > 0 && q->count >= q->max_count) ||
		(q->max_bytes > 0 && (len > q->max_bytes || q->bytes > q->max_bytes - len)))
		return -1;
	iq_push(q, body, len, NULL);
	return 0;
}

void
iq_push(inbound_queue *q, const char *body, size_t len, const char *entry_id)
{
	inbound_msg *m;

	if (q->head > 0 && q->head + q->count == q->cap)
	{
		/* slide the live part to the front before growing */
		memmove(q->items, q->items + q->head, q->count * sizeof *q->items);
		q->head = 0;
	}
	if (q->head + q->count == q->cap)
	{
		size_t		cap = q->cap ? q->cap * 2 : 16;
		inbound_msg *items = realloc(q->items, cap * sizeof *items);

		if (items == NULL)
		{
			fputs("allocation-relay: out of memory\n", stderr);
			exit(1);
		}
		q->items = items;
		q->cap = cap;
	}
	m = &q->items[q->head + q->count];
	m->body = xmalloc(len + 1);
	memcpy(m->body, body, len);
	m->body[len] = '\0';
	m->len = len;
	q->bytes += len;
	m->entry_id = NULL;
	if (entry_id)
	{
		size_t		n = strlen(entry_id);

		m->entry_id = xmalloc(n + 1);
		memcpy(m->entry_id, entry_id, n + 1);
	}
	q->count++;
}

inbound_msg *
iq_peek(inbound_queue *q)
{
	return q->count ? &q->items[q->head] : NULL;
}

void
iq_pop(inbound_queue *q)
{
	inbound_msg *m = iq_peek(q);

	if (m == NULL)
		return;
	q->bytes -= m->len;
	free(m->body);
	free(m->entry_id);
	q->head++;
	q->count--;
	if (q->count == 0)
		q->head = 0;
}

void
iq_clear(inbound_queue *q)
{
	while (q->count)
		iq_pop(q);
}

void
iq_free(inbound_queue *q)
{
	size_t		max_count = q->max_count,
				max_bytes = q->max_bytes;

	iq_clear(q);
	free(q->items);
	iq_init(q);
	iq_set_limits(q, max_count, max_bytes);
}
