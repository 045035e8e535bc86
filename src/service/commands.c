/*-------------------------------------------------------------------------
 *
 * commands.c
 *	  Command handlers of the allocation context and the unit of work.
 *
 * Notes:
 *	1) Each handler loads only what its command needs (SPEC section 8),
 *	   lets the Product aggregate decide, commits the unit of work, and
 *	   lets the bus publish the events.
 *	2) The product is locked by repo.get for the rest of the transaction:
 *	   that is what serializes concurrent commands on one SKU under READ
 *	   COMMITTED while commands on other SKUs run in parallel (SPEC
 *	   section 4).
 *
 * src/service/commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "service.h"

#include <stdlib.h>
#include <string.h>

al_status
al_uow_commit(al_service *svc, al_product *p)
{
	al_event_list events;
	al_status	st;

	if (!p->changed && p->events.count == 0)
		return AL_OK;			/* e.g. an idempotent allocate: no write */
	events = al_product_take_events(p);

	/* the events are stored beside the change, in the same transaction */
	for (int i = 0; i < events.count; i++)
		svc->outbox.append(svc->outbox.ctx, p, &events.items[i]);
	st = svc->repo.save(svc->repo.ctx, p);
	if (st != AL_OK)
		return st;
	al_product_mark_saved(p);
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
al_svc_add_batch(al_service *svc, const char *ref, const char *sku,
				 int32_t qty, bool has_eta, int32_t eta)
{
	al_product	p;
	al_status	st;

	if (svc->repo.batch_exists(svc->repo.ctx, ref))
		return result_of(AL_DUPLICATE_BATCH);
	st = svc->repo.get(svc->repo.ctx, sku, true, &p);
	if (st != AL_OK)
		return result_of(st);
	st = al_product_add_batch(&p, ref, qty, has_eta, eta);
	if (st == AL_OK)
		st = al_uow_commit(svc, &p);
	if (st == AL_OK)
		al_bus_drain(svc);
	return result_of(st);
}

al_result
al_svc_allocate(al_service *svc, const char *orderid, const char *sku,
				int32_t qty)
{
	al_product	p;
	al_result	r = {0};
	int			li;

	r.status = svc->repo.get(svc->repo.ctx, sku, false, &p);
	if (r.status != AL_OK)
		return r;
	svc->repo.load_line(svc->repo.ctx, &p, orderid);
	li = al_product_find_line(&p, orderid);
	/* an allocated line is answered from itself (rule 4): no batch needed */
	if (li < 0 || p.lines[li].batch < 0)
		svc->repo.load_available(svc->repo.ctx, &p);
	r.status = al_product_allocate(&p, orderid, qty, NULL, &r.batchref,
								   &r.existing_qty);
	if (r.status == AL_OK || r.status == AL_OUT_OF_STOCK)
	{
		al_status	st = al_uow_commit(svc, &p);

		if (st != AL_OK)
			return result_of(st);
		al_bus_drain(svc);
	}
	return r;
}

static int
compare_skus(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

al_status
al_svc_lock_products(al_service *svc, const char **skus, int n,
					 const char **unknown_sku)
{
	const char **sorted = al_alloc(&svc->mem, sizeof(char *) * (size_t) (n > 0 ? n : 1));

	memcpy(sorted, skus, sizeof(char *) * (size_t) n);
	qsort(sorted, (size_t) n, sizeof(char *), compare_skus);
	for (int i = 0; i < n; i++)
	{
		al_product	p;
		al_status	st;

		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		st = svc->repo.get(svc->repo.ctx, sorted[i], false, &p);
		if (st != AL_OK)
		{
			*unknown_sku = sorted[i];
			return st;
		}
	}
	return AL_OK;
}

al_result
al_svc_deallocate(al_service *svc, const char *orderid, const char *sku)
{
	al_product	p;
	al_result	r = {0};

	r.status = svc->repo.get(svc->repo.ctx, sku, false, &p);
	if (r.status != AL_OK)
		return r;
	svc->repo.load_line(svc->repo.ctx, &p, orderid);
	/* rule 6: freed on request, so not reallocated */
	r.status = al_product_deallocate(&p, orderid, false, &r.batchref);
	if (r.status == AL_OK && p.changed)
	{
		r.status = al_uow_commit(svc, &p);
		if (r.status == AL_OK)
			al_bus_drain(svc);
	}
	return r;
}

al_result
al_svc_change_batch_quantity(al_service *svc, const char *ref, int32_t qty)
{
	al_product	p;
	const char *sku;
	al_status	st;

	st = svc->repo.sku_of_batch(svc->repo.ctx, ref, &sku);
	if (st != AL_OK)
		return result_of(st);
	st = svc->repo.get(svc->repo.ctx, sku, false, &p);
	if (st == AL_UNKNOWN_SKU)
		st = AL_UNKNOWN_BATCH;
	if (st == AL_OK)
		st = svc->repo.load_batch_with_lines(svc->repo.ctx, &p, ref);
	if (st == AL_OK)
		st = al_product_change_batch_quantity(&p, ref, qty);
	if (st == AL_OK)
		st = al_uow_commit(svc, &p);
	if (st == AL_OK)
		al_bus_drain(svc);
	return result_of(st);
}
