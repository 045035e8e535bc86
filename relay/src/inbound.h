/*
 * inbound.h - commands received from Redis and not yet executed, oldest
 * first.  The head is "the message in hand".
 */
#ifndef RELAY_INBOUND_H
#define RELAY_INBOUND_H

#include <stddef.h>

typedef struct
{
	char	   *body;		/* the JSON message */
	size_t		len;
	char	   *entry_id;	/* stream entry id (XACK), NULL for pub/sub */
} inbound_msg;

typedef struct
{
	inbound_msg *items;
	size_t		head;
	size_t		count;
	size_t		cap;
	size_t		bytes;		/* bodies in hand */
	size_t		max_count;	/* iq_offer's bounds; 0: none */
	size_t		max_bytes;
} inbound_queue;

void		iq_init(inbound_queue *q);
/* Bound what iq_offer accepts (pub/sub: Redis pushes without limit). */
void		iq_set_limits(inbound_queue *q, size_t max_count, size_t max_bytes);
void		iq_push(inbound_queue *q, const char *body, size_t len, const char *entry_id);
/*
 * iq_push within the limits: 0, or -1 when the message would pass one
 * (it is not queued; the caller logs the drop).
 */
int			iq_offer(inbound_queue *q, const char *body, size_t len);
/* the oldest message, or NULL */
inbound_msg *iq_peek(inbound_queue *q);
/* drop the oldest message */
void		iq_pop(inbound_queue *q);
void		iq_clear(inbound_queue *q);
void		iq_free(inbound_queue *q);

#endif
