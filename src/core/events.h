/*-------------------------------------------------------------------------
 *
 * events.h
 *	  Domain events: past-tense facts recorded by the aggregates.
 *
 * Notes:
 *	1) An event is a plain struct whose strings point into the command's
 *	   arena (see al_core.h), so it lives exactly as long as the command.
 *	2) The names returned by al_event_name() are the outbox's `type` values
 *	   (the contract: events) and the keys of the message bus's handler table.
 *
 * src/core/events.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_EVENTS_H
#define AL_EVENTS_H

#include "al_core.h"

typedef enum al_event_type
{
	AL_EV_BATCH_CREATED = 0,
	AL_EV_BATCH_QUANTITY_CHANGED,
	AL_EV_ALLOCATED,
	AL_EV_DEALLOCATED,
	AL_EV_OUT_OF_STOCK,
	AL_EV_ORDER_CREATED,
	AL_EV_ORDER_STATUS_CHANGED,
	AL_EV__COUNT
} al_event_type;

typedef struct al_event
{
	al_event_type type;
	const char *sku;
	const char *batchref;
	const char *orderid;
	int32_t		qty;
	int32_t		previous_qty;	/* BatchQuantityChanged */
	bool		has_eta;		/* BatchCreated */
	int32_t		eta;			/* days since 2000-01-01, as PostgreSQL */
	bool		reallocate;		/* Deallocated: will the bus reallocate it? */
	const char *status;			/* order events */
	const char *previous_status;	/* OrderStatusChanged */
} al_event;

/* A growable list of events, in the order they were recorded. */
typedef struct al_event_list
{
	al_event   *items;
	int			count;
	int			cap;
} al_event_list;

extern const char *al_event_name(al_event_type type);
/* Parse an outbox type name; returns false when unknown. */
extern bool al_event_type_from_name(const char *name, al_event_type *type);
/* Append a copy of *ev (shallow: strings are shared) and return it. */
extern al_event *al_event_record(const al_allocator *mem, al_event_list *list,
								 const al_event *ev);

#endif							/* AL_EVENTS_H */
