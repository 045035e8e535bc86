/*-------------------------------------------------------------------------
 *
 * events.c
 *	  Names of the domain events and the event list.
 *
 * src/core/events.c
 *
 *-------------------------------------------------------------------------
 */
#include "events.h"

#include <string.h>

/* The outbox `type` of each event, indexed by al_event_type. */
static const char *const event_names[AL_EV__COUNT] = {
	[AL_EV_BATCH_CREATED] = "BatchCreated",
	[AL_EV_BATCH_QUANTITY_CHANGED] = "BatchQuantityChanged",
	[AL_EV_ALLOCATED] = "Allocated",
	[AL_EV_DEALLOCATED] = "Deallocated",
	[AL_EV_OUT_OF_STOCK] = "OutOfStock",
	[AL_EV_ORDER_CREATED] = "OrderCreated",
	[AL_EV_ORDER_STATUS_CHANGED] = "OrderStatusChanged",
};

const char *
al_event_name(al_event_type type)
{
	if ((int) type < 0 || type >= AL_EV__COUNT)
		return "Unknown";
	return event_names[type];
}

bool
al_event_type_from_name(const char *name, al_event_type *type)
{
	for (int i = 0; i < AL_EV__COUNT; i++)
	{
		if (strcmp(event_names[i], name) == 0)
		{
			*type = (al_event_type) i;
			return true;
		}
	}
	return false;
}

al_event *
al_event_record(const al_allocator *mem, al_event_list *list,
				const al_event *ev)
{
	al_grow(mem, (void **) &list->items, sizeof(al_event), &list->cap,
			list->count + 1);
	list->items[list->count] = *ev;
	return &list->items[list->count++];
}
