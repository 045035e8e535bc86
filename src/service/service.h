/*-------------------------------------------------------------------------
 *
 * service.h
 *	  The service layer: command handlers and the message bus, written
 *	  against the ports of ports.h only.
 *
 * Notes:
 *	1) One al_service serves one SQL call.  The entry point fills in the
 *	   ports, calls one al_svc_* command, and maps the result's status to a
 *	   SQLSTATE.
 *	2) Commands go to exactly one handler and their failure reaches the
 *	   caller.  The events they record are published in the same
 *	   transaction: written to the outbox with the change (unit of work),
 *	   then handed to every handler subscribed to them (bus.c's table).
 *
 * src/service/service.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_SERVICE_H
#define AL_SERVICE_H

#include "ports.h"

typedef struct al_service
{
	al_allocator mem;
	al_repository repo;
	al_order_repository orders;
	al_outbox	outbox;
	al_read_model views;
	al_notifier notifier;
	al_plugins	plugins;
	al_isolation isolation;
	al_interrupts interrupts;
	/* events published and not yet handled, first in first out */
	al_event_list queue;
	int			queue_head;
} al_service;

/* What a command answers. */
typedef struct al_result
{
	al_status	status;
	const char *batchref;		/* allocate, deallocate */
	int32_t		existing_qty;	/* AL_QTY_MISMATCH: the stored quantity */
	const char *previous_status;	/* AL_INVALID_TRANSITION: the order's */
} al_result;

/* Commands of the contract's SQL interface.  Arguments are already validated. */
extern al_result al_svc_add_batch(al_service *svc, const char *ref,
								  const char *sku, int32_t qty, bool has_eta,
								  int32_t eta);
extern al_result al_svc_allocate(al_service *svc, const char *orderid,
								 const char *sku, int32_t qty);
/* One line of allocate_many and what became of it. */
typedef struct al_line_request
{
	const char *orderid;
	const char *sku;
	int32_t		qty;
	/* out */
	al_status	status;			/* AL_OK or AL_OUT_OF_STOCK */
	const char *batchref;
} al_line_request;

/*
 * allocate_many: the rules and events of allocate for each line, in the
 * order given, as one unit of work: every product is locked (in byte order
 * of the SKUs, so concurrent calls cannot deadlock) and loaded once, the
 * lines are allocated in memory, then everything is written together.
 * Each line that changes its product counts as one command (rule 7).
 * On failure *failed is the index of the line at fault (or -1) and nothing
 * was written.
 */
extern al_status al_svc_allocate_many(al_service *svc, al_line_request *lines,
									  int n, int *failed,
									  int32_t *existing_qty);

extern al_result al_svc_deallocate(al_service *svc, const char *orderid,
								   const char *sku);
extern al_result al_svc_change_batch_quantity(al_service *svc,
											  const char *ref, int32_t qty);

/* Commands of the order-tracking context (the contract: order tracking). */
extern al_result al_svc_create_order(al_service *svc, const char *orderid);
extern al_result al_svc_change_order_status(al_service *svc,
											const char *orderid,
											al_order_status status);
extern al_result al_svc_subscribe_to_order(al_service *svc,
										   const char *orderid,
										   const char *email);

/*
 * Unit of work: write p's changes and recorded events, then queue the
 * events for the bus.  Used by the command handlers and by event handlers
 * that change a product (reallocation).
 */
extern al_status al_uow_commit(al_service *svc, al_product *p);

/*
 * Read candidates of p from the repository until the core can decide for
 * (orderid, qty) leaving out exclude_ref (product.h, Note 4).
 */
extern void al_svc_read_candidates(al_service *svc, al_product *p,
								   const char *orderid, int32_t qty,
								   const char *exclude_ref);

/* The same for an order. */
extern al_status al_order_commit(al_service *svc, al_order *o);

/* Stop here if the caller was interrupted (ports.h, al_interrupts). */
static inline void
al_svc_check_interrupts(al_service *svc)
{
	if (svc->interrupts.check != NULL)
		svc->interrupts.check(svc->interrupts.ctx);
}

/* Message bus: hand every queued event to its handlers (bus.c). */
extern void al_bus_drain(al_service *svc);

/* Event handlers of the allocation context (handlers.c). */
extern al_status al_handle_reallocate(al_service *svc, const al_event *ev);
extern al_status al_handle_update_view(al_service *svc, const al_event *ev);
extern al_status al_handle_stock_alert(al_service *svc, const al_event *ev);

/* Event handlers of the order-tracking context (order_handlers.c). */
extern al_status al_handle_track_allocated(al_service *svc, const al_event *ev);
extern al_status al_handle_track_out_of_stock(al_service *svc, const al_event *ev);
extern al_status al_handle_notify_subscribers(al_service *svc, const al_event *ev);

#endif							/* AL_SERVICE_H */
