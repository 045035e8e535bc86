/*-------------------------------------------------------------------------
 *
 * order_handlers.c
 *	  Command and event handlers of the order-tracking context.
 *
 * Notes:
 *	1) Integration by events: the tracking handlers listen to the
 *	   allocation context's Allocated and OutOfStock and move a tracked
 *	   order; an order id nobody tracks is ignored.  No table is shared.
 *	2) Status notifications are a handler of OrderStatusChanged, so every
 *	   change, whoever made it, tells every subscriber once.
 *	3) An allocation event locks the order only when it may move it: a
 *	   status is first read without a lock, and an order already past the
 *	   statuses the event moves from is left alone.  Statuses only move
 *	   forward (al_order_can_move: nothing leads back to created, and
 *	   only created leads to backordered), so an order seen past them is
 *	   past them in every later state too.  Lines of one tracked order on
 *	   different SKUs therefore wait for each other only while the order
 *	   is created or backordered, when one of them moves it.
 *
 * src/service/order_handlers.c
 *
 *-------------------------------------------------------------------------
 */
#include "service.h"

al_status
al_order_commit(al_service *svc, al_order *o)
{
	al_event_list events;
	al_status	st;

	if (!o->changed && o->events.count == 0 && o->new_subscriber == NULL)
		return AL_OK;
	events = al_order_take_events(o);
	/* a failed save is an ERROR for the caller: the rows go with it */
	for (int i = 0; i < events.count; i++)
		svc->outbox.append_order(svc->outbox.ctx, o, &events.items[i]);
	svc->outbox.flush(svc->outbox.ctx);
	st = svc->orders.save(svc->orders.ctx, o);
	if (st != AL_OK)
		return st;
	al_order_mark_saved(o);
	for (int i = 0; i < events.count; i++)
		al_event_record(&svc->mem, &svc->queue, &events.items[i]);
	return AL_OK;
}

static al_result
result_of(al_status status)
{
	al_result	r = {0};

	r.status = status;
	return r;
}

al_result
al_svc_create_order(al_service *svc, const char *orderid)
{
	al_order	o;
	al_status	st = al_order_create(&o, &svc->mem, orderid);

	if (st == AL_OK)
		st = al_order_commit(svc, &o);
	if (st == AL_OK)
		al_bus_drain(svc);
	return result_of(st);
}

al_result
al_svc_change_order_status(al_service *svc, const char *orderid,
						   al_order_status status)
{
	al_order	o;
	al_result	r = {0};

	r.status = svc->orders.get(svc->orders.ctx, orderid, &o);
	if (r.status != AL_OK)
		return r;
	r.previous_status = al_order_status_name(o.status);
	r.status = al_order_change_status(&o, status);
	if (r.status == AL_OK)
		r.status = al_order_commit(svc, &o);
	if (r.status == AL_OK)
		al_bus_drain(svc);
	return r;
}

al_result
al_svc_subscribe_to_order(al_service *svc, const char *orderid,
						  const char *email)
{
	al_order	o;
	al_status	st;

	if (!al_email_valid(email))
		return result_of(AL_INVALID_ARGUMENT);
	st = svc->orders.get(svc->orders.ctx, orderid, &o);
	if (st != AL_OK)
		return result_of(st);
	al_order_subscribe(&o, email);
	return result_of(al_order_commit(svc, &o));
}

/*
 * Move a tracked order on an allocation event; ignore untracked ones, and
 * those the event does not move (note 3).
 */
static al_status
track(al_service *svc, const char *orderid, al_order_status from_a,
	  al_order_status from_b, al_order_status to)
{
	al_order	o;
	al_order_status seen;
	al_status	st;

	if (!svc->orders.is_tracked(svc->orders.ctx, orderid, &seen) ||
		(seen != from_a && seen != from_b))
		return AL_OK;
	st = svc->orders.get(svc->orders.ctx, orderid, &o);

	if (st == AL_UNKNOWN_ORDER)
		return AL_OK;			/* not a tracked order */
	if (st != AL_OK)
		return st;
	if (o.status != from_a && o.status != from_b)
		return AL_OK;
	st = al_order_change_status(&o, to);
	if (st == AL_OK)
		st = al_order_commit(svc, &o);
	return st;
}

/* Allocated: a created or backordered order becomes allocated. */
al_status
al_handle_track_allocated(al_service *svc, const al_event *ev)
{
	return track(svc, ev->orderid, AL_ORDER_CREATED, AL_ORDER_BACKORDERED,
		  AL_ORDER_ALLOCATED);
}

/* OutOfStock: a created order becomes backordered. */
al_status
al_handle_track_out_of_stock(al_service *svc, const al_event *ev)
{
	return track(svc, ev->orderid, AL_ORDER_CREATED, AL_ORDER_CREATED,
		  AL_ORDER_BACKORDERED);
}

/* OrderStatusChanged: one notification per subscriber. */
al_status
al_handle_notify_subscribers(al_service *svc, const al_event *ev)
{
	int			n = 0;
	const char **emails = svc->orders.subscribers(svc->orders.ctx,
												  ev->orderid, &n);

	for (int i = 0; i < n; i++)
		svc->notifier.order_status(svc->notifier.ctx, emails[i], ev);
	return AL_OK;
}
