/*-------------------------------------------------------------------------
 *
 * product.c
 *	  The Product aggregate and the allocation rules of the contract.
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
 *	3) Choosing a batch (rules 1, 2 and 5's "other batches") looks at
 *	   the candidates in rule 2's order from the first one that can still
 *	   hold a line (cand.skip), then at the few batches in memory that are
 *	   not candidates (cand.extra), dropping from that list those that
 *	   became candidates or cannot hold any line of this command.  A batch
 *	   whose available quantity grows again (a deallocation, a new
 *	   purchased quantity) is looked at again (available_grew).
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
	return al_strmap_get(&p->batch_index, ref);
}

int
al_product_find_line(const al_product *p, const char *orderid)
{
	return al_strmap_get(&p->line_index, orderid);
}

/* The smallest quantity a line of this command may have. */
static int32_t
qty_floor(const al_product *p)
{
	return p->cand.min_qty > 0 ? p->cand.min_qty : 1;
}

/* Look at batch bi when choosing, though it is not a candidate. */
static void
push_extra(al_product *p, int bi)
{
	al_candidates *c = &p->cand;

	if (p->batches[bi].in_extra)
		return;
	al_grow(p->mem, (void **) &c->extra, sizeof(int), &c->extra_cap,
			c->nextra + 1);
	c->extra[c->nextra++] = bi;
	p->batches[bi].in_extra = true;
}

/* Batch bi may hold more than before: look at it again when choosing. */
static void
available_grew(al_product *p, int bi)
{
	if (p->batches[bi].in_order)
		p->cand.skip = 0;
	else
		push_extra(p, bi);
}

/* A new line of orderid at the end of p->lines; returns its index. */
static int
append_line(al_product *p, const char *orderid)
{
	al_line    *l;

	al_grow(p->mem, (void **) &p->lines, sizeof(al_line), &p->lines_cap,
			p->nlines + 1);
	l = &p->lines[p->nlines];
	memset(l, 0, sizeof(*l));
	l->orderid = al_strdup(p->mem, orderid);
	al_strmap_put(p->mem, &p->line_index, l->orderid, p->nlines);
	return p->nlines++;
}

/* A new batch at the end of p->batches, not yet looked at when choosing. */
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
	al_strmap_put(p->mem, &p->batch_index, b->ref, p->nbatches);
	return p->nbatches++;
}

int
al_product_load_batch(al_product *p, const char *ref, int32_t purchased,
					  int32_t allocated, bool has_eta, int32_t eta)
{
	int			i = al_product_find_batch(p, ref);

	if (i >= 0)
		return i;
	i = append_batch(p, ref, purchased, allocated, has_eta, eta);
	push_extra(p, i);
	return i;
}

int
al_product_load_line(al_product *p, const char *orderid, int32_t qty,
					 const char *batchref, int64_t seq)
{
	int			i = al_product_find_line(p, orderid);
	int			bi = -1;
	al_line    *l;

	if (i >= 0)
		return i;
	if (batchref)
	{
		bi = al_product_find_batch(p, batchref);
		/* a line whose batch is not in memory is loaded together with it */
		if (bi < 0)
			bi = al_product_load_batch(p, batchref, 0, 0, false, 0);
	}
	i = append_line(p, orderid);
	l = &p->lines[i];
	l->qty = qty;
	l->batch = bi;
	l->seq = seq;
	l->stored_batch = l->batch;
	l->stored_seq = seq;
	return i;
}

void
al_product_candidates_reset(al_product *p, int32_t min_qty)
{
	al_candidates *c = &p->cand;

	c->started = true;
	c->done = false;
	c->min_qty = min_qty > 0 ? min_qty : 1;
	c->offset = 0;
	c->limit = 1;				/* allocate needs the first one only */
	c->n = 0;
	c->skip = 0;
	/* what was read for another floor is looked at like any other batch */
	c->nextra = 0;
	for (int i = 0; i < p->nbatches; i++)
	{
		p->batches[i].in_order = false;
		p->batches[i].in_extra = false;
		push_extra(p, i);
	}
}

int
al_product_load_candidate(al_product *p, const char *ref, int32_t purchased,
						  int32_t allocated, bool has_eta, int32_t eta)
{
	al_candidates *c = &p->cand;
	int			i = al_product_find_batch(p, ref);

	/* a batch already in memory keeps its quantities: this command's */
	if (i < 0)
		i = append_batch(p, ref, purchased, allocated, has_eta, eta);
	if (!p->batches[i].in_order)
	{
		al_grow(p->mem, (void **) &c->order, sizeof(int), &c->cap, c->n + 1);
		c->order[c->n++] = i;
		p->batches[i].in_order = true;
	}
	return i;
}

void
al_product_candidates_read(al_product *p, int rows)
{
	al_candidates *c = &p->cand;

	c->offset += rows;
	if (rows < c->limit)
		c->done = true;
	/* further pages grow, so that reading n candidates takes O(log n) reads */
	if (c->limit < 1024)
		c->limit = c->limit < 16 ? 16 : c->limit * 16;
	if (c->limit > 1024)
		c->limit = 1024;
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
	push_extra(p, i);
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

/*
 * Rules 1 and 2: the preferred batch in memory that can hold qty, or -1
 * (Note 3 for how it avoids looking at every batch in memory).
 */
static int
choose_batch(al_product *p, int32_t qty, const char *exclude_ref)
{
	al_candidates *c = &p->cand;
	int32_t		floor = qty_floor(p);
	int			best = -1;

	/* candidates that cannot hold any line of this command: never again */
	while (c->skip < c->n &&
		   al_batch_available(&p->batches[c->order[c->skip]]) < floor)
		c->skip++;
	/* the candidates are in rule 2's order: the first that fits is best */
	for (int k = c->skip; k < c->n; k++)
	{
		const al_batch *b = &p->batches[c->order[k]];

		/* rule 1: a line is never split, the batch must hold all of it */
		if (al_batch_available(b) < qty)
			continue;
		/* rule 5: a displaced line goes to the product's other batches */
		if (exclude_ref && strcmp(b->ref, exclude_ref) == 0)
			continue;
		best = c->order[k];
		break;
	}
	for (int k = 0; k < c->nextra;)
	{
		int			i = c->extra[k];
		al_batch   *b = &p->batches[i];

		if (b->in_order || al_batch_available(b) < floor)
		{
			/* covered by the candidates, or of no use to this command */
			b->in_extra = false;
			c->extra[k] = c->extra[--c->nextra];
			continue;
		}
		k++;
		if (al_batch_available(b) < qty)
			continue;			/* rule 1 */
		if (exclude_ref && strcmp(b->ref, exclude_ref) == 0)
			continue;			/* rule 5 */
		/* rule 2 */
		if (best < 0 || al_batch_preference(b, &p->batches[best]) < 0)
			best = i;
	}
	return best;
}

bool
al_product_needs_candidates(al_product *p, const char *orderid, int32_t qty,
							const char *exclude_ref)
{
	al_candidates *c = &p->cand;
	int			li = al_product_find_line(p, orderid);
	int			best;

	if (li >= 0 && p->lines[li].batch >= 0)
		return false;			/* rule 4: answered from the line itself */
	if (!al_line_qty_valid(qty))
		return false;			/* al_product_allocate refuses it */
	if (!c->started || qty < c->min_qty)
	{
		/* what was read left out stored batches that could hold qty */
		al_product_candidates_reset(p, qty);
		return true;
	}
	if (c->done)
		return false;
	best = choose_batch(p, qty, exclude_ref);
	if (best < 0)
		return true;
	/* a candidate: every stored batch before it was read */
	if (p->batches[best].in_order)
		return false;
	/* another batch in memory: decided only if no unread one can beat it */
	return c->n == 0 ||
		al_batch_preference(&p->batches[best],
							&p->batches[c->order[c->n - 1]]) > 0;
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
		li = append_line(p, orderid);
		p->lines[li].stored_batch = -1;
		p->lines[li].stored_seq = 0;
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
	available_grew(p, l->batch);
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
	available_grew(p, bi);

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
