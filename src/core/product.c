/*-------------------------------------------------------------------------
 *
 * product.c
 *	  The Product aggregate and the allocation rules of SPEC section 2.
 *
 * Notes:
 *	1) Each rule is enforced in exactly one place below and the comment
 *	   next to the code names it ("rule 2").  Rule 7 (versions) is shared
 *	   with the repository: this file says *whether* a command changed the
 *	   product (p->changed), the repository bumps version_number with a
 *	   compare-and-set on the stored one.
 *	2) Reallocation of displaced lines (the second half of rule 5) is not
 *	   done here: the Deallocated event says reallocate = true and the
 *	   message bus answers it with an Allocate (src/service/bus.c), as in
 *	   the book.
 *
 * src/core/product.c
 *
 *-------------------------------------------------------------------------
 */
#include "product.h"

#include <string.h>

void
al_product_init(al_product *p, const al_allocator *mem, const char *sku,
				int64_t version, int64_t line_seq)
{
	memset(p, 0, sizeof(*p));
	p->mem = mem;
	p->sku = al_strdup(mem, sku);
	p->version = version;
	p->line_seq = line_seq;
}

int
al_product_find_batch(const al_product *p, const char *ref)
{
	for (int i = 0; i < p->nbatches; i++)
		if (strcmp(p->batches[i].ref, ref) == 0)
			return i;
	return -1;
}

int
al_product_find_line(const al_product *p, const char *orderid)
{
	for (int i = 0; i < p->nlines; i++)
		if (strcmp(p->lines[i].orderid, orderid) == 0)
			return i;
	return -1;
}

static int
append_batch(al_product *p, const char *ref, int32_t purchased,
			 int32_t allocated, bool has_eta, int32_t eta)
{
	al_batch   *b;

	al_grow(p->mem, (void **) &p->batches, sizeof(al_batch),
			&p->batches_cap, p->nbatches + 1);
	b = &p->batches[p->nbatches];
	memset(b, 0, sizeof(*b));
	b->ref = al_strdup(p->mem, ref);
	b->purchased = purchased;
	b->allocated = allocated;
	b->has_eta = has_eta;
	b->eta = has_eta ? eta : 0;
	return p->nbatches++;
}

int
al_product_load_batch(al_product *p, const char *ref, int32_t purchased,
					  int32_t allocated, bool has_eta, int32_t eta)
{
	int			i = al_product_find_batch(p, ref);

	if (i >= 0)
		return i;
	return append_batch(p, ref, purchased, allocated, has_eta, eta);
}

int
al_product_load_line(al_product *p, const char *orderid, int32_t qty,
					 const char *batchref, int64_t seq)
{
	int			i = al_product_find_line(p, orderid);
	al_line    *l;

	if (i >= 0)
		return i;
	al_grow(p->mem, (void **) &p->lines, sizeof(al_line), &p->lines_cap,
			p->nlines + 1);
	l = &p->lines[p->nlines];
	l->orderid = al_strdup(p->mem, orderid);
	l->qty = qty;
	l->batch = batchref ? al_product_find_batch(p, batchref) : -1;
	/* a line whose batch is not in memory is loaded together with it */
	if (batchref && l->batch < 0)
		l->batch = append_batch(p, batchref, 0, 0, false, 0);
	l->seq = seq;
	l->stored_batch = l->batch;
	l->stored_seq = seq;
	return p->nlines++;
}

/*
 * Rule 2: warehouse stock (no eta) first, then shipments by earliest eta,
 * ties broken by reference in byte order (PostgreSQL's C collation, which
 * is what strcmp compares: unsigned bytes).
 */
int
al_batch_preference(const al_batch *a, const al_batch *b)
{
	if (a->has_eta != b->has_eta)
		return a->has_eta ? 1 : -1;
	if (a->has_eta && a->eta != b->eta)
		return a->eta < b->eta ? -1 : 1;
	return strcmp(a->ref, b->ref);
}

al_status
al_product_add_batch(al_product *p, const char *ref, int32_t qty,
					 bool has_eta, int32_t eta)
{
	int			i;
	al_event	ev = {0};

	if (!al_batch_qty_valid(qty))
		return AL_INVALID_ARGUMENT;
	if (al_product_find_batch(p, ref) >= 0)
		return AL_DUPLICATE_BATCH;
	i = append_batch(p, ref, qty, 0, has_eta, eta);
	p->batches[i].is_new = true;
	p->batches[i].lines_loaded = true;	/* a new batch has no lines */
	p->changed = true;

	ev.type = AL_EV_BATCH_CREATED;
	ev.sku = p->sku;
	ev.batchref = p->batches[i].ref;
	ev.qty = qty;
	ev.has_eta = has_eta;
	ev.eta = eta;
	al_event_record(p->mem, &p->events, &ev);
	return AL_OK;
}

/* Rules 1 and 2: the preferred batch that can hold qty, or -1. */
static int
choose_batch(const al_product *p, int32_t qty, const char *exclude_ref)
{
	int			best = -1;

	for (int i = 0; i < p->nbatches; i++)
	{
		const al_batch *b = &p->batches[i];

		/* rule 1: a line is never split, the batch must hold all of it */
		if (al_batch_available(b) < qty)
			continue;
		/* rule 5: a displaced line goes to the product's other batches */
		if (exclude_ref && strcmp(b->ref, exclude_ref) == 0)
			continue;
		if (best < 0 || al_batch_preference(b, &p->batches[best]) < 0)
			best = i;
	}
	return best;
}

al_status
al_product_allocate(al_product *p, const char *orderid, int32_t qty,
					const char *exclude_ref, const char **batchref,
					int32_t *existing_qty)
{
	int			li = al_product_find_line(p, orderid);
	int			bi;
	al_line    *l;
	al_event	ev = {0};

	*batchref = NULL;
	if (!al_line_qty_valid(qty))
		return AL_INVALID_ARGUMENT;

	/* rule 4: an allocated line is allocated at most once */
	if (li >= 0 && p->lines[li].batch >= 0)
	{
		l = &p->lines[li];
		if (l->qty != qty)
		{
			*existing_qty = l->qty;
			*batchref = p->batches[l->batch].ref;
			return AL_QTY_MISMATCH;
		}
		*batchref = p->batches[l->batch].ref;
		return AL_OK;			/* idempotent: no event, no new version */
	}

	bi = choose_batch(p, qty, exclude_ref);
	if (bi < 0)
	{
		/* rule 3: nothing allocated, the fact is recorded */
		ev.type = AL_EV_OUT_OF_STOCK;
		ev.sku = p->sku;
		ev.orderid = al_strdup(p->mem, orderid);
		ev.qty = qty;
		al_event_record(p->mem, &p->events, &ev);
		return AL_OUT_OF_STOCK;
	}

	if (li < 0)
	{
		al_grow(p->mem, (void **) &p->lines, sizeof(al_line), &p->lines_cap,
				p->nlines + 1);
		li = p->nlines++;
		l = &p->lines[li];
		l->orderid = al_strdup(p->mem, orderid);
		l->stored_batch = -1;
		l->stored_seq = 0;
	}
	l = &p->lines[li];
	l->qty = qty;
	l->batch = bi;
	l->seq = ++p->line_seq;
	p->batches[bi].allocated += qty;
	p->batches[bi].dirty = true;
	p->changed = true;

	ev.type = AL_EV_ALLOCATED;
	ev.sku = p->sku;
	ev.orderid = l->orderid;
	ev.qty = qty;
	ev.batchref = p->batches[bi].ref;
	al_event_record(p->mem, &p->events, &ev);
	*batchref = p->batches[bi].ref;
	return AL_OK;
}

/* Free line li from its batch and record Deallocated. */
static void
deallocate_line(al_product *p, int li, bool reallocate)
{
	al_line    *l = &p->lines[li];
	al_batch   *b = &p->batches[l->batch];
	al_event	ev = {0};

	b->allocated -= l->qty;
	b->dirty = true;
	ev.type = AL_EV_DEALLOCATED;
	ev.sku = p->sku;
	ev.orderid = l->orderid;
	ev.qty = l->qty;
	ev.batchref = b->ref;
	ev.reallocate = reallocate;
	al_event_record(p->mem, &p->events, &ev);
	l->batch = -1;
	p->changed = true;
}

al_status
al_product_deallocate(al_product *p, const char *orderid, bool reallocate,
					  const char **batchref)
{
	int			li = al_product_find_line(p, orderid);

	*batchref = NULL;
	if (li < 0 || p->lines[li].batch < 0)
		return AL_OK;			/* not allocated: nothing to undo */
	*batchref = p->batches[p->lines[li].batch].ref;
	/* rule 6: freed on request, not reallocated unless the caller says */
	deallocate_line(p, li, reallocate);
	return AL_OK;
}

al_status
al_product_change_batch_quantity(al_product *p, const char *ref, int32_t qty)
{
	int			bi = al_product_find_batch(p, ref);
	al_batch   *b;
	al_event	ev = {0};

	if (!al_batch_qty_valid(qty))
		return AL_INVALID_ARGUMENT;
	if (bi < 0)
		return AL_UNKNOWN_BATCH;
	b = &p->batches[bi];

	ev.type = AL_EV_BATCH_QUANTITY_CHANGED;
	ev.sku = p->sku;
	ev.batchref = b->ref;
	ev.qty = qty;
	ev.previous_qty = b->purchased;
	al_event_record(p->mem, &p->events, &ev);
	b->purchased = qty;
	b->dirty = true;
	p->changed = true;

	/*
	 * Rule 5: while the batch is over-allocated, free its most recently
	 * allocated line; the bus reallocates each one to the other batches.
	 */
	while (al_batch_available(b) < 0)
	{
		int			newest = -1;

		for (int i = 0; i < p->nlines; i++)
			if (p->lines[i].batch == bi &&
				(newest < 0 || p->lines[i].seq > p->lines[newest].seq))
				newest = i;
		if (newest < 0)
			break;				/* lines not loaded: the repository's bug */
		deallocate_line(p, newest, true);
	}
	return AL_OK;
}

void
al_product_end_command(al_product *p)
{
	if (p->changed)
		p->commands_done++;
	p->changed = false;
}

int64_t
al_product_next_version(const al_product *p)
{
	return p->version + p->commands_done + (p->changed ? 1 : 0);
}

void
al_product_mark_saved(al_product *p)
{
	for (int i = 0; i < p->nbatches; i++)
	{
		p->batches[i].is_new = false;
		p->batches[i].dirty = false;
	}
	for (int i = 0; i < p->nlines; i++)
	{
		p->lines[i].stored_batch = p->lines[i].batch;
		p->lines[i].stored_seq = p->lines[i].seq;
	}
	p->version = al_product_next_version(p);
	p->changed = false;
	p->commands_done = 0;
}

al_event_list
al_product_take_events(al_product *p)
{
	al_event_list taken = p->events;

	p->events.items = NULL;
	p->events.count = 0;
	p->events.cap = 0;
	return taken;
}
