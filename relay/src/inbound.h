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
} inbound_queue;

void		iq_init(inbound_queue *q);
void		iq_push(inbound_queue *q, const char *body, size_t len, const char *entry_id);
/* the oldest message, or NULL */
inbound_msg *iq_peek(inbound_queue *q);
/* drop the oldest message */
void		iq_pop(inbound_queue *q);
void		iq_clear(inbound_queue *q);
void		iq_free(inbound_queue *q);

#endif
