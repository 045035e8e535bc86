/*-------------------------------------------------------------------------
 *
 * bus.c
 *	  The message bus: which handler answers which event (the book's
 *	  bootstrap), and the loop that publishes queued events.
 *
 * Notes:
 *	1) Events are handled first in, first out: the events an event handler
 *	   records are queued behind those already waiting, as in the book's
 *	   handle() loop.
 *	2) The read-model projection runs inside the command's own work: the contract's
 *	   section 2 requires the read model to equal the write model after
 *	   every commit, so a failure there must fail the command.  Every other
 *	   handler is isolated (a subtransaction in the server): its failure is
 *	   a WARNING and undoes only its own work.
 *	3) User plugins (allocation.subscribe) run once the built-in handlers
 *	   have handled every event of the command, including the events those
 *	   handlers recorded; then each plugin gets the events in the order
 *	   they were recorded, each call isolated by the plugin adapter.  A
 *	   plugin may run a command of its own, which changes the model: had
 *	   the projection of the command's later events waited behind it, it
 *	   would write rows that were true before that command and are not
 *	   after it, and the read model would differ from the write model.
 *
 * src/service/bus.c
 *
 *-------------------------------------------------------------------------
 */
#include "service.h"

typedef struct al_subscription
{
	al_event_type type;
	const char *name;
	al_event_handler_fn fn;
	bool		isolated;
	/* NULL, or a cheap test outside the subtransaction: is it for us? */
	bool		(*wanted) (al_service *svc, const al_event *ev);
} al_subscription;

/* Only events about a tracked order concern order tracking. */
static bool
order_is_tracked(al_service *svc, const al_event *ev)
{
	return svc->orders.is_tracked(svc->orders.ctx, ev->orderid, NULL);
}

/* Every built-in event handler, in the order they run for one event. */
static const al_subscription EVENT_HANDLERS[] = {
	{AL_EV_ALLOCATED, "update_allocations_view", al_handle_update_view, false, NULL},
	{AL_EV_DEALLOCATED, "update_allocations_view", al_handle_update_view, false, NULL},
	{AL_EV_DEALLOCATED, "reallocate", al_handle_reallocate, true, NULL},
	{AL_EV_OUT_OF_STOCK, "send_stock_alert", al_handle_stock_alert, true, NULL},
	/* order tracking learns of allocations by events (the contract: order tracking) */
	{AL_EV_ALLOCATED, "track_order_allocated", al_handle_track_allocated, true,
	order_is_tracked},
	{AL_EV_OUT_OF_STOCK, "track_order_backordered", al_handle_track_out_of_stock, true,
	order_is_tracked},
	{AL_EV_ORDER_STATUS_CHANGED, "notify_order_subscribers", al_handle_notify_subscribers, true, NULL},
};

#define N_EVENT_HANDLERS (sizeof(EVENT_HANDLERS) / sizeof(EVENT_HANDLERS[0]))

static const char *
aggregate_type(al_event_type type)
{
	return (type == AL_EV_ORDER_CREATED || type == AL_EV_ORDER_STATUS_CHANGED)
		? "order" : "product";
}

/* Every built-in handler of bus.c's table that answers ev. */
static void
run_handlers(al_service *svc, const al_event *ev)
{
	for (size_t i = 0; i < N_EVENT_HANDLERS; i++)
	{
		const al_subscription *h = &EVENT_HANDLERS[i];

		if (h->type != ev->type)
			continue;
		/* e.g. an order nobody tracks: no subtransaction is spent on it */
		if (h->wanted && !h->wanted(svc, ev))
			continue;
		if (h->isolated)
		{
			/* it may read the read model: write what is held back */
			svc->views.flush(svc->views.ctx);
			svc->isolation.run(svc->isolation.ctx, h->name, h->fn, svc, ev);
		}
		else
			(void) h->fn(svc, ev);	/* raises or succeeds */
	}
}

void
al_bus_drain(al_service *svc)
{
	int			first = svc->queue_head;

	/* the built-in handlers: the command's whole work (Note 3) */
	while (svc->queue_head < svc->queue.count)
	{
		/* a copy: handlers may queue more events and move the array */
		al_event	ev = svc->queue.items[svc->queue_head++];

		/* the events of a huge allocate_many: cancel stops them too */
		al_svc_check_interrupts(svc);
		run_handlers(svc, &ev);
	}
	/* plugins may read the read model */
	svc->views.flush(svc->views.ctx);

	/* then the plugins, given the events in the order they were recorded */
	for (int i = first; i < svc->queue.count; i++)
	{
		al_event	ev = svc->queue.items[i];

		al_svc_check_interrupts(svc);
		svc->plugins.dispatch(svc->plugins.ctx, aggregate_type(ev.type), &ev);
	}
}
