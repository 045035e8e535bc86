/*-------------------------------------------------------------------------
 *
 * handlers.c
 *	  Event handlers of the allocation context.  Which event reaches which
 *	  handler is decided in one place, the table of bus.c.
 *
 * src/service/handlers.c
 *
 *-------------------------------------------------------------------------
 */
#include "service.h"

/* CQRS: keep allocations_view equal to the write model. */
al_status
al_handle_update_view(al_service *svc, const al_event *ev)
{
	if (ev->type == AL_EV_ALLOCATED)
		svc->views.allocated(svc->views.ctx, ev);
	else if (ev->type == AL_EV_DEALLOCATED)
		svc->views.deallocated(svc->views.ctx, ev);
	return AL_OK;
}

/*
 * Rule 5, second half: a line displaced by a quantity change is allocated
 * again, by the normal rules, to the product's other batches.  Loads the
 * product afresh: this handler is its own unit of work, so that its failure
 * (rolled back on its own) leaves nothing stale behind.
 */
al_status
al_handle_reallocate(al_service *svc, const al_event *ev)
{
	al_product	p;
	const char *batchref;
	int32_t		existing_qty;
	al_status	st;

	if (!ev->reallocate)
		return AL_OK;			/* rule 6 */
	st = svc->repo.get(svc->repo.ctx, ev->sku, false, &p);
	if (st != AL_OK)
		return st;
	al_product_candidates_reset(&p, ev->qty);
	svc->repo.load_line(svc->repo.ctx, &p, ev->orderid, true);
	/* rule 5: to the product's other batches */
	al_svc_read_candidates(svc, &p, ev->orderid, ev->qty, ev->batchref);
	st = al_product_allocate(&p, ev->orderid, ev->qty, ev->batchref,
							 &batchref, &existing_qty);
	if (st == AL_OK || st == AL_OUT_OF_STOCK)
		st = al_uow_commit(svc, &p);
	return st;
}

/* An OutOfStock event writes an e-mail to the stock-alert recipient. */
al_status
al_handle_stock_alert(al_service *svc, const al_event *ev)
{
	svc->notifier.stock_alert(svc->notifier.ctx, ev);
	return AL_OK;
}
