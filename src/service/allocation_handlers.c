/*-------------------------------------------------------------------------
 *
 * allocation_handlers.c
 *	  Command handlers of the allocation context and the unit of work.
 *
 * Notes:
 *	1) Each handler loads only what its command needs (the contract: performance rules),
 *	   lets the Product aggregate decide, commits the unit of work, and
 *	   lets the bus publish the events.
 *	2) The product is locked by repo.get for the rest of the transaction:
 *	   that is what serializes concurrent commands on one SKU under READ
 *	   COMMITTED while commands on other SKUs run in parallel (the contract's
 *	   section 4).
 *
 * src/service/allocation_handlers.c
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

	if (!al_product_dirty(p) && p->events.count == 0)
		return AL_OK;			/* e.g. an idempotent allocate: no write */
	events = al_product_take_events(p);

	/* the events are stored beside the change, in the same transaction */
	for (int i = 0; i < events.count; i++)
		svc->outbox.append(svc->outbox.ctx, p, &events.items[i]);
	svc->outbox.flush(svc->outbox.ctx);
	st = svc->repo.save(svc->repo.ctx, p);
	if (st != AL_OK)
		return st;
	al_product_mark_saved(p);
	for (int i = 0; i < events.count; i++)
		al_event_record(&svc->mem, &svc->queue, &events.items[i]);
	return AL_OK;
}

void
al_svc_read_candidates(al_service *svc, al_product *p, const char *orderid,
					   int32_t qty, const char *exclude_ref)
{
	/* the core decides when it has read enough (product.h, Note 4) */
	while (al_product_needs_candidates(p, orderid, qty, exclude_ref))
		svc->repo.load_candidates(svc->repo.ctx, p);
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

	r.status = svc->repo.get(svc->repo.ctx, sku, false, &p);
	if (r.status != AL_OK)
		return r;
	/* the line and the first candidate for qty, in one round trip */
	al_product_candidates_reset(&p, qty);
	svc->repo.load_line(svc->repo.ctx, &p, orderid, true);
	al_svc_read_candidates(svc, &p, orderid, qty, NULL);
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

/* qsort: SKUs in byte order, the order product locks are taken in. */
static int
compare_skus(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

al_result
al_svc_deallocate(al_service *svc, const char *orderid, const char *sku)
{
	al_product	p;
	al_result	r = {0};

	r.status = svc->repo.get(svc->repo.ctx, sku, false, &p);
	if (r.status != AL_OK)
		return r;
	svc->repo.load_line(svc->repo.ctx, &p, orderid, false);
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

/* Index of sku in the sorted, distinct skus[0..n-1], or -1. */
static int
find_sku(const char **skus, int n, const char *sku)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(skus[mid], sku);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

al_status
al_svc_allocate_many(al_service *svc, al_line_request *lines, int n,
					 int *failed, int32_t *existing_qty)
{
	const al_allocator *mem = &svc->mem;
	const char **skus = al_alloc(mem, sizeof(char *) * (size_t) (n > 0 ? n : 1));
	int			nskus = 0;
	al_product *products;
	int		   *line_product = al_alloc(mem, sizeof(int) * (size_t) (n > 0 ? n : 1));
	int		   *first_event = al_alloc(mem, sizeof(int) * (size_t) (n + 1));
	int		   *end_event = al_alloc(mem, sizeof(int) * (size_t) (n + 1));
	int		   *last_line;
	const char **orderids = al_alloc(mem, sizeof(char *) * (size_t) (n > 0 ? n : 1));
	const char **line_skus = al_alloc(mem, sizeof(char *) * (size_t) (n > 0 ? n : 1));
	int			missing = -1;
	al_status	st;

	*failed = -1;
	/* the distinct SKUs in byte order: the order the locks are taken in */
	for (int i = 0; i < n; i++)
		skus[i] = lines[i].sku;
	qsort(skus, (size_t) n, sizeof(char *), compare_skus);
	for (int i = 0; i < n; i++)
		if (nskus == 0 || strcmp(skus[nskus - 1], skus[i]) != 0)
			skus[nskus++] = skus[i];
	products = al_alloc(mem, sizeof(al_product) * (size_t) (nskus > 0 ? nskus : 1));
	last_line = al_alloc(mem, sizeof(int) * (size_t) (nskus > 0 ? nskus : 1));
	st = svc->repo.get_many(svc->repo.ctx, skus, nskus, products, &missing);
	if (st != AL_OK)
	{
		for (int i = 0; i < n; i++)
			if (strcmp(lines[i].sku, skus[missing]) == 0)
			{
				*failed = i;
				break;
			}
		return st;
	}
	/* load only what these lines need: their own lines, and candidates */
	for (int i = 0; i < n; i++)
	{
		orderids[i] = lines[i].orderid;
		line_skus[i] = lines[i].sku;
	}
	/* read candidates for the smallest line of each product, once */
	for (int k = 0; k < nskus; k++)
		last_line[k] = 0;
	for (int i = 0; i < n; i++)
	{
		int			k = find_sku(skus, nskus, lines[i].sku);

		if (last_line[k] == 0 || lines[i].qty < last_line[k])
			last_line[k] = lines[i].qty;
	}
	for (int k = 0; k < nskus; k++)
		al_product_candidates_reset(&products[k], last_line[k]);
	svc->repo.load_many(svc->repo.ctx, products, nskus, orderids, line_skus, n);

	/* each line is one allocate command, decided in the order given */
	for (int i = 0; i < n; i++)
	{
		al_product *p;
		int32_t		existing = 0;

		/* a huge call stops here on cancel or statement_timeout */
		al_svc_check_interrupts(svc);
		line_product[i] = find_sku(skus, nskus, lines[i].sku);
		p = &products[line_product[i]];
		first_event[i] = p->events.count;
		al_svc_read_candidates(svc, p, lines[i].orderid, lines[i].qty, NULL);
		st = al_product_allocate(p, lines[i].orderid, lines[i].qty, NULL,
								 &lines[i].batchref, &existing);
		if (st != AL_OK && st != AL_OUT_OF_STOCK)
		{
			*failed = i;
			*existing_qty = existing;
			return st;
		}
		lines[i].status = st;
		al_product_end_command(p);
	}

	/* the events of line i are first_event[i] up to the next line's */
	for (int k = 0; k < nskus; k++)
		last_line[k] = -1;
	for (int i = n - 1; i >= 0; i--)
	{
		int			next = last_line[line_product[i]];

		end_event[i] = next >= 0 ? first_event[next]
			: products[line_product[i]].events.count;
		last_line[line_product[i]] = i;
	}

	/* one unit of work: the events in line order, then every product */
	for (int i = 0; i < n; i++)
	{
		al_product *p = &products[line_product[i]];

		for (int e = first_event[i]; e < end_event[i]; e++)
			svc->outbox.append(svc->outbox.ctx, p, &p->events.items[e]);
	}
	svc->outbox.flush(svc->outbox.ctx);
	st = svc->repo.save_many(svc->repo.ctx, products, nskus);
	if (st != AL_OK)
		return st;
	for (int i = 0; i < n; i++)
	{
		al_product *p = &products[line_product[i]];

		for (int e = first_event[i]; e < end_event[i]; e++)
			al_event_record(mem, &svc->queue, &p->events.items[e]);
	}
	for (int k = 0; k < nskus; k++)
	{
		(void) al_product_take_events(&products[k]);
		al_product_mark_saved(&products[k]);
	}
	al_bus_drain(svc);
	return AL_OK;
}
