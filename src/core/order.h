/*-------------------------------------------------------------------------
 *
 * order.h
 *	  The Order aggregate of the order-tracking context (the contract: order tracking):
 *	  an order id in the business format, a status that moves by a state
 *	  machine, and the e-mail addresses that follow it.
 *
 * Notes:
 *	1) The context shares no table with allocation: it learns of
 *	   allocations through the Allocated and OutOfStock events (handlers in
 *	   src/service/order_handlers.c), as a context map says, by order id.
 *	2) Loaded partially, like the product: the repository brings the
 *	   subscribers only when a command needs them.
 *
 * src/core/order.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_ORDER_H
#define AL_ORDER_H

#include "al_core.h"
#include "events.h"

typedef enum al_order_status
{
	AL_ORDER_CREATED = 0,
	AL_ORDER_ALLOCATED,
	AL_ORDER_BACKORDERED,
	AL_ORDER_SHIPPED,
	AL_ORDER_DELIVERED,
	AL_ORDER_CANCELLED,
	AL_ORDER__COUNT
} al_order_status;

/* Longest e-mail address accepted (RFC 5321's path limit, less brackets). */
#define AL_EMAIL_MAX 254

typedef struct al_order
{
	const al_allocator *mem;
	const char *orderid;
	al_order_status status;
	int64_t		version;
	bool		is_new;			/* created by this command */
	bool		changed;		/* bump the version on save */
	const char *new_subscriber; /* e-mail to store, or NULL */
	al_event_list events;
	/* opaque to the core: kept by the outbox adapter */
	int64_t		event_seq;
	uint64_t	event_key;
} al_order;

extern const char *al_order_status_name(al_order_status status);
extern bool al_order_status_from_name(const char *name,
									  al_order_status *status);

/* The state machine of the contract's order tracking: may an order move from -> to? */
extern bool al_order_can_move(al_order_status from, al_order_status to);

/* PREFIX-NUMBER: a '-' with a part on both sides that is not blank. */
extern bool al_order_id_valid(const char *orderid);

/* A plausible address: local@domain.tld, no spaces or control chars. */
extern bool al_email_valid(const char *email);

/* Normalise an e-mail (lower case) into the arena. */
extern char *al_email_normalise(const al_allocator *mem, const char *email);

/* An order as stored; the repository fills it. */
extern void al_order_init(al_order *o, const al_allocator *mem,
						  const char *orderid, al_order_status status,
						  int64_t version);

/* Create a new order in status created; records OrderCreated. */
extern al_status al_order_create(al_order *o, const al_allocator *mem,
								 const char *orderid);

/*
 * Move to status to; records OrderStatusChanged, or AL_INVALID_TRANSITION
 * when the state machine forbids it (nothing changes then).
 */
extern al_status al_order_change_status(al_order *o, al_order_status to);

/* Follow the order by e-mail (the caller validated the address). */
extern void al_order_subscribe(al_order *o, const char *email);

extern void al_order_mark_saved(al_order *o);
extern al_event_list al_order_take_events(al_order *o);

#endif							/* AL_ORDER_H */
