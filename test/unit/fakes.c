/*-------------------------------------------------------------------------
 *
 * fakes.c
 *	  In-memory fakes of the ports (see fakes.h).
 *
 * Notes:
 *	1) Each fake checks that the service uses its port as ports.h says
 *	   (saving a product it never got, inserting a batch twice, a read
 *	   model told of a deallocation it never saw allocated, ...).  A misuse
 *	   is counted in w->errors and fails the test's consistency check.
 *	2) load_batch_with_lines hands lines over in order id order: the SPI
 *	   adapter has no ORDER BY there, so the core must not rely on it
 *	   (rule 5 goes by allocation sequence).  The tests name their orders
 *	   so that order id order is not allocation order.  load_candidates
 *	   is the one load with an order, the contract's (rule 2), which the
 *	   fake sorts by with its own comparison, not the core's.
 *
 * test/unit/fakes.c
 *
 *-------------------------------------------------------------------------
 */
#include "fakes.h"

#include "tap.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------ */

struct fake_block
{
	fake_block *next;
	max_align_t data[];
};

void *
fake_arena_alloc(void *ctx, size_t size)
{
	fake_arena *a = ctx;
	fake_block *b = malloc(sizeof(fake_block) + (size ? size : 1));

	if (b == NULL)
	{
		fprintf(stderr, "fake_arena_alloc: out of memory\n");
		abort();
	}
	b->next = a->head;
	a->head = b;
	a->nblocks++;
	return b->data;
}

char *
fake_arena_strdup(fake_arena *a, const char *s)
{
	size_t		len;
	char	   *copy;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	copy = fake_arena_alloc(a, len + 1);
	memcpy(copy, s, len + 1);
	return copy;
}

void
fake_arena_free(fake_arena *a)
{
	while (a->head)
	{
		fake_block *next = a->head->next;

		free(a->head);
		a->head = next;
	}
	a->nblocks = 0;
}

void
fake_reserve(void **items, int *cap, int need, size_t elem)
{
	int			newcap;
	void	   *grown;

	if (need <= *cap)
		return;
	newcap = *cap > 0 ? *cap * 2 : 16;
	while (newcap < need)
		newcap *= 2;
	grown = realloc(*items, elem * (size_t) newcap);
	if (grown == NULL)
	{
		fprintf(stderr, "fake_reserve: out of memory\n");
		abort();
	}
	*items = grown;
	*cap = newcap;
}

/* ---- world helpers ---------------------------------------------------- */

static const char *
keep(fake_world *w, const char *s)
{
	return fake_arena_strdup(&w->store, s);
}

static void
fake_error(fake_world *w, const char *fmt,...)
{
	va_list		ap;
	char		msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->errors++ == 0)
		snprintf(w->first_error, sizeof(w->first_error), "%s", msg);
	diag("fake: %s", msg);
}

static void
logf_(fake_world *w, const char *fmt,...)
{
	va_list		ap;
	char		msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*FAKE_PUSH(w->log) = keep(w, msg);
}

static al_event
copy_event(fake_world *w, const al_event *ev)
{
	al_event	c = *ev;

	c.sku = keep(w, ev->sku);
	c.batchref = keep(w, ev->batchref);
	c.orderid = keep(w, ev->orderid);
	c.status = keep(w, ev->status);
	c.previous_status = keep(w, ev->previous_status);
	return c;
}

static bool
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static fake_product *
find_product(fake_world *w, const char *sku)
{
	for (int i = 0; i < w->products.count; i++)
		if (same(w->products.items[i].sku, sku))
			return &w->products.items[i];
	return NULL;
}

static fake_batch *
find_batch(fake_world *w, const char *ref)
{
	for (int i = 0; i < w->batches.count; i++)
		if (same(w->batches.items[i].ref, ref))
			return &w->batches.items[i];
	return NULL;
}

static int
find_line(const fake_world *w, const char *orderid, const char *sku)
{
	for (int i = 0; i < w->lines.count; i++)
		if (same(w->lines.items[i].orderid, orderid) &&
			same(w->lines.items[i].sku, sku))
			return i;
	return -1;
}

/* Bring a stored batch into p (the repository reading one row). */
static void
bring_batch(fake_world *w, al_product *p, const fake_batch *b)
{
	w->loads.batches++;
	if (b->purchased - b->allocated <= 0)
		w->loads.depleted++;
	al_product_load_batch(p, b->ref, b->purchased, b->allocated, b->has_eta,
						  b->eta);
}

static void
bring_line(fake_world *w, al_product *p, const fake_line *l)
{
	w->loads.lines++;
	al_product_load_line(p, l->orderid, l->qty, l->batchref, l->seq);
}

/* ---- repository ------------------------------------------------------- */

static al_status
repo_get(void *ctx, const char *sku, bool create, al_product *p)
{
	fake_world *w = ctx;
	fake_product *fp = find_product(w, sku);

	w->loads.get_calls++;
	if (fp == NULL)
	{
		if (!create)
		{
			logf_(w, "get %s (unknown)", sku);
			return AL_UNKNOWN_SKU;
		}
		fp = FAKE_PUSH(w->products);
		memset(fp, 0, sizeof(*fp));
		fp->sku = keep(w, sku);
		logf_(w, "get %s (created)", sku);
	}
	else
		logf_(w, "get %s", sku);
	al_product_init(p, &w->call_mem, sku, fp->version, fp->line_seq);
	p->event_seq = fp->event_seq;
	p->event_key = fp->event_key;
	if (w->bump_on_get > 0 && --w->bump_on_get == 0)
	{
		/* another transaction commits a change to this product now */
		fp->version++;
		logf_(w, "race %s", sku);
	}
	return AL_OK;
}

static al_status
repo_sku_of_batch(void *ctx, const char *ref, const char **sku)
{
	fake_world *w = ctx;
	fake_batch *b = find_batch(w, ref);

	logf_(w, "sku_of_batch %s", ref);
	if (b == NULL)
		return AL_UNKNOWN_BATCH;
	*sku = al_strdup(&w->call_mem, b->sku);
	return AL_OK;
}

static bool
repo_batch_exists(void *ctx, const char *ref)
{
	fake_world *w = ctx;

	logf_(w, "batch_exists %s", ref);
	return find_batch(w, ref) != NULL;
}

static void repo_load_candidates(void *ctx, al_product *p);
static void repo_load_candidates_port(void *ctx, al_product *p);

static void
repo_load_line(void *ctx, al_product *p, const char *orderid,
			   bool with_candidates)
{
	fake_world *w = ctx;
	int			li = find_line(w, orderid, p->sku);
	const fake_batch *b;

	w->loads.load_line_calls++;
	logf_(w, "load_line %s", orderid);
	if (find_product(w, p->sku) == NULL)
		fake_error(w, "load_line for product \"%s\" that is not stored",
				   p->sku);
	if (li >= 0)
	{
		b = find_batch(w, w->lines.items[li].batchref);
		if (b == NULL)
			fake_error(w, "line \"%s\" stored in a missing batch", orderid);
		else
		{
			/* its batch first, so that the line finds it with its quantities */
			bring_batch(w, p, b);
			bring_line(w, p, &w->lines.items[li]);
		}
	}
	/* the SPI adapter reads them in the same statement */
	if (with_candidates)
		repo_load_candidates(ctx, p);
}

/* The bulk ports, as the single ones one after the other. */
static al_status
repo_get_many(void *ctx, const char **skus, int n, al_product *products,
			  int *missing)
{
	for (int i = 0; i < n; i++)
	{
		al_status	st = repo_get(ctx, skus[i], false, &products[i]);

		if (st != AL_OK)
		{
			*missing = i;
			return st;
		}
	}
	return AL_OK;
}

static void
repo_load_many(void *ctx, al_product *products, int nproducts,
			   const char **orderids, const char **skus, int n)
{
	for (int k = 0; k < nproducts; k++)
	{
		for (int i = 0; i < n; i++)
			if (strcmp(skus[i], products[k].sku) == 0)
				repo_load_line(ctx, &products[k], orderids[i], false);
		repo_load_candidates(ctx, &products[k]);
	}
}

static void
repo_load_candidates_port(void *ctx, al_product *p)
{
	fake_world *w = ctx;

	w->loads.load_candidates_calls++;
	repo_load_candidates(ctx, p);
}

/* Rule 2 as the contract states it, written apart from the core's. */
static int
fake_preference(const fake_batch *a, const fake_batch *b)
{
	if (a->has_eta != b->has_eta)
		return a->has_eta ? 1 : -1;
	if (a->has_eta && a->eta != b->eta)
		return a->eta < b->eta ? -1 : 1;
	return strcmp(a->ref, b->ref);
}

static void
repo_load_candidates(void *ctx, al_product *p)
{
	fake_world *w = ctx;
	const fake_batch **cands;
	int			n = 0;
	int			rows = 0;

	logf_(w, "load_candidates %s from %d", p->sku, (int) p->cand.offset);
	if (!p->cand.started || p->cand.done)
		fake_error(w, "load_candidates for %s, which needs none", p->sku);
	cands = al_alloc(&w->call_mem, sizeof(*cands) * (size_t) (w->batches.count + 1));
	/* the stored batches with at least min_qty available, in rule 2's order */
	for (int i = 0; i < w->batches.count; i++)
	{
		const fake_batch *b = &w->batches.items[i];
		int			j = n++;

		if (!same(b->sku, p->sku) || b->purchased - b->allocated < p->cand.min_qty)
		{
			n--;
			continue;
		}
		while (j > 0 && fake_preference(cands[j - 1], b) > 0)
		{
			cands[j] = cands[j - 1];
			j--;
		}
		cands[j] = b;
	}
	for (int i = (int) p->cand.offset; i < n && rows < p->cand.limit; i++, rows++)
	{
		const fake_batch *b = cands[i];

		w->loads.batches++;
		al_product_load_candidate(p, b->ref, b->purchased, b->allocated,
								  b->has_eta, b->eta);
	}
	al_product_candidates_read(p, rows);
}

static al_status
repo_load_batch_with_lines(void *ctx, al_product *p, const char *ref)
{
	fake_world *w = ctx;
	fake_batch *b = find_batch(w, ref);
	int			bi;
	int		   *order;
	int			n = 0;

	w->loads.load_batch_calls++;
	logf_(w, "load_batch %s", ref);
	if (b == NULL || !same(b->sku, p->sku))
		return AL_UNKNOWN_BATCH;
	bring_batch(w, p, b);
	/* its lines, by order id: neither allocation nor storage order */
	order = malloc(sizeof(int) * (size_t) (w->lines.count + 1));
	if (order == NULL)
		abort();
	for (int i = 0; i < w->lines.count; i++)
	{
		int			j = n++;

		if (!same(w->lines.items[i].batchref, ref))
		{
			n--;
			continue;
		}
		while (j > 0 && strcmp(w->lines.items[order[j - 1]].orderid,
							   w->lines.items[i].orderid) > 0)
		{
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (int k = 0; k < n; k++)
		bring_line(w, p, &w->lines.items[order[k]]);
	free(order);
	bi = al_product_find_batch(p, ref);
	p->batches[bi].lines_loaded = true;
	return AL_OK;
}

static al_status repo_save(void *ctx, al_product *p);

static al_status
repo_save_many(void *ctx, al_product *products, int n)
{
	for (int i = 0; i < n; i++)
	{
		al_status	st = repo_save(ctx, &products[i]);

		if (st != AL_OK)
			return st;
	}
	return AL_OK;
}

/* The fakes write at once: there is nothing held back to flush. */
static void
nothing_to_flush(void *ctx)
{
	(void) ctx;
}

static al_status
repo_save(void *ctx, al_product *p)
{
	fake_world *w = ctx;
	fake_product *fp = find_product(w, p->sku);

	w->writes.save_calls++;
	if (fp == NULL)
	{
		fake_error(w, "save of product \"%s\" that is not stored", p->sku);
		return AL_OK;
	}
	/* nothing to write at all: an idempotent allocate, for example */
	if (!al_product_dirty(p) && p->event_seq == fp->event_seq &&
		p->event_key == fp->event_key)
	{
		logf_(w, "save %s (nothing)", p->sku);
		return AL_OK;
	}
	/* rule 7: compare-and-set on the version read by get */
	if (fp->version != p->version)
	{
		w->writes.conflicts++;
		logf_(w, "conflict %s", p->sku);
		return AL_CONCURRENT_UPDATE;
	}
	logf_(w, "save %s", p->sku);

	for (int i = 0; i < p->nbatches; i++)
	{
		const al_batch *b = &p->batches[i];
		fake_batch *stored = find_batch(w, b->ref);

		if (b->is_new)
		{
			if (stored)
			{
				fake_error(w, "batch \"%s\" inserted twice", b->ref);
				continue;
			}
			stored = FAKE_PUSH(w->batches);
			stored->ref = keep(w, b->ref);
			stored->sku = keep(w, p->sku);
			stored->has_eta = b->has_eta;
			stored->eta = b->eta;
		}
		else if (!b->dirty)
			continue;
		else if (stored == NULL)
		{
			fake_error(w, "update of batch \"%s\" that is not stored", b->ref);
			continue;
		}
		stored->purchased = b->purchased;
		stored->allocated = b->allocated;
		w->writes.batches++;
	}

	for (int i = 0; i < p->nlines; i++)
	{
		const al_line *l = &p->lines[i];
		int			si = find_line(w, l->orderid, p->sku);

		if (l->batch == l->stored_batch && l->seq == l->stored_seq)
			continue;
		if (l->batch < 0)
		{
			/* deallocated: the row goes */
			if (si < 0)
			{
				if (l->stored_batch >= 0)
					fake_error(w, "delete of line \"%s\" that is not stored",
							   l->orderid);
				continue;
			}
			w->writes.lines++;
			memmove(&w->lines.items[si], &w->lines.items[si + 1],
					sizeof(fake_line) * (size_t) (w->lines.count - si - 1));
			w->lines.count--;
			continue;
		}
		if (si < 0)
		{
			fake_line  *nl;

			if (l->stored_batch >= 0)
				fake_error(w, "move of line \"%s\" that is not stored",
						   l->orderid);
			nl = FAKE_PUSH(w->lines);
			nl->orderid = keep(w, l->orderid);
			nl->sku = keep(w, p->sku);
			si = w->lines.count - 1;
		}
		else if (l->stored_batch < 0)
			fake_error(w, "line \"%s\" of \"%s\" inserted twice", l->orderid,
					   p->sku);
		w->writes.lines++;
		w->lines.items[si].qty = l->qty;
		w->lines.items[si].batchref = keep(w, p->batches[l->batch].ref);
		w->lines.items[si].seq = l->seq;
	}

	if (al_product_dirty(p))
	{
		fp->version = al_product_next_version(p);
		w->writes.versions++;
	}
	fp->line_seq = p->line_seq;
	fp->event_seq = p->event_seq;
	fp->event_key = p->event_key;
	return AL_OK;
}

/* ---- outbox, read model, notifier, plugins, isolation ----------------- */

static bool
is_order_event(al_event_type t)
{
	return t == AL_EV_ORDER_CREATED || t == AL_EV_ORDER_STATUS_CHANGED;
}

static fake_outbox_row *
outbox_row(fake_world *w, const char *aggregatetype, const char *aggregateid,
		   const al_event *ev)
{
	fake_outbox_row *row = FAKE_PUSH(w->outbox);

	row->aggregatetype = aggregatetype;
	row->aggregateid = keep(w, aggregateid);
	row->type = keep(w, al_event_name(ev->type));
	row->ev = copy_event(w, ev);
	logf_(w, "outbox %s", row->type);
	return row;
}

static void
outbox_append(void *ctx, al_product *p, const al_event *ev)
{
	fake_world *w = ctx;

	if (is_order_event(ev->type) || !same(ev->sku, p->sku))
		fake_error(w, "%s event of sku \"%s\" appended with product \"%s\"",
				   al_event_name(ev->type), ev->sku ? ev->sku : "(null)",
				   p->sku);
	outbox_row(w, "product", p->sku, ev);
	p->event_seq++;
	p->event_key = (uint64_t) p->event_seq * 2654435761u;
}

static void
outbox_append_order(void *ctx, al_order *o, const al_event *ev)
{
	fake_world *w = ctx;

	if (!is_order_event(ev->type) || !same(ev->orderid, o->orderid))
		fake_error(w, "%s event of order \"%s\" appended with order \"%s\"",
				   al_event_name(ev->type),
				   ev->orderid ? ev->orderid : "(null)", o->orderid);
	outbox_row(w, "order", o->orderid, ev);
	o->event_seq++;
	o->event_key = (uint64_t) o->event_seq * 40503u;
}

static int
find_view(const fake_world *w, const char *orderid, const char *sku)
{
	for (int i = 0; i < w->view.count; i++)
		if (same(w->view.items[i].orderid, orderid) &&
			same(w->view.items[i].sku, sku))
			return i;
	return -1;
}

static void
view_allocated(void *ctx, const al_event *ev)
{
	fake_world *w = ctx;
	fake_view_row *row;

	logf_(w, "view+ %s", ev->orderid);
	if (find_view(w, ev->orderid, ev->sku) >= 0)
	{
		fake_error(w, "read model: (\"%s\", \"%s\") allocated twice",
				   ev->orderid, ev->sku);
		return;
	}
	row = FAKE_PUSH(w->view);
	row->orderid = keep(w, ev->orderid);
	row->sku = keep(w, ev->sku);
	row->batchref = keep(w, ev->batchref);
}

static void
view_deallocated(void *ctx, const al_event *ev)
{
	fake_world *w = ctx;
	int			i = find_view(w, ev->orderid, ev->sku);

	logf_(w, "view- %s", ev->orderid);
	if (i < 0 || !same(w->view.items[i].batchref, ev->batchref))
	{
		fake_error(w, "read model: (\"%s\", \"%s\") deallocated from \"%s\" "
				   "but not allocated there", ev->orderid, ev->sku,
				   ev->batchref);
		return;
	}
	w->view.items[i] = w->view.items[--w->view.count];
}

static void
notifier_stock_alert(void *ctx, const al_event *ev)
{
	fake_world *w = ctx;

	if (ev->type != AL_EV_OUT_OF_STOCK)
		fake_error(w, "stock alert for a %s event", al_event_name(ev->type));
	w->stock_alerts++;
	logf_(w, "alert %s", ev->orderid);
}

static void
plugins_dispatch(void *ctx, const char *aggregatetype, const al_event *ev)
{
	fake_world *w = ctx;
	fake_dispatch *d = FAKE_PUSH(w->plugins);

	d->aggregatetype = keep(w, aggregatetype);
	d->type = keep(w, al_event_name(ev->type));
	d->ev = copy_event(w, ev);
	logf_(w, "plugin %s", d->type);
}

static bool
isolation_run(void *ctx, const char *handler_name, al_event_handler_fn fn,
			  al_service *svc, const al_event *ev)
{
	fake_world *w = ctx;

	int			mark = w->outbox.count;

	w->isolated_runs++;
	logf_(w, "isolated %s", handler_name);
	if (fn(svc, ev) != AL_OK)
	{
		/* the subtransaction's rollback: a failed save wrote nothing else */
		w->outbox.count = mark;
		logf_(w, "rollback %s", handler_name);
		return false;
	}
	return true;
}

/* ---- order tracking ---------------------------------------------------- */

static fake_order *
find_order(fake_world *w, const char *orderid)
{
	for (int i = 0; i < w->orders.count; i++)
		if (same(w->orders.items[i].orderid, orderid))
			return &w->orders.items[i];
	return NULL;
}

static bool
orders_is_tracked(void *ctx, const char *orderid, al_order_status *status)
{
	fake_world *w = ctx;
	fake_order *fo = find_order(w, orderid);

	if (fo != NULL && status != NULL)
		*status = fo->status;
	return fo != NULL;
}

static al_status
orders_get(void *ctx, const char *orderid, al_order *o)
{
	fake_world *w = ctx;
	fake_order *fo = find_order(w, orderid);

	if (fo == NULL)
	{
		logf_(w, "order_get %s (unknown)", orderid);
		return AL_UNKNOWN_ORDER;
	}
	logf_(w, "order_get %s", orderid);
	al_order_init(o, &w->call_mem, orderid, fo->status, fo->version);
	o->event_seq = fo->event_seq;
	o->event_key = fo->event_key;
	return AL_OK;
}

static al_status
orders_save(void *ctx, al_order *o)
{
	fake_world *w = ctx;
	fake_order *fo = find_order(w, o->orderid);

	if (o->is_new)
	{
		if (fo != NULL)
		{
			logf_(w, "order_save %s (duplicate)", o->orderid);
			return AL_DUPLICATE_ORDER;
		}
		fo = FAKE_PUSH(w->orders);
		memset(fo, 0, sizeof(*fo));
		fo->orderid = keep(w, o->orderid);
		fo->version = o->version;
	}
	else if (fo == NULL)
	{
		fake_error(w, "save of order \"%s\" that is not stored", o->orderid);
		return AL_OK;
	}
	else if (fo->version != o->version)
	{
		w->writes.conflicts++;
		logf_(w, "order_conflict %s", o->orderid);
		return AL_CONCURRENT_UPDATE;
	}
	logf_(w, "order_save %s", o->orderid);
	fo->status = o->status;
	if (o->changed)
		fo->version = o->version + 1;
	fo->event_seq = o->event_seq;
	fo->event_key = o->event_key;
	if (o->new_subscriber)
	{
		bool		known = false;

		for (int i = 0; i < w->subscriptions.count; i++)
			known = known ||
				(same(w->subscriptions.items[i].orderid, o->orderid) &&
				 same(w->subscriptions.items[i].email, o->new_subscriber));
		if (!known)
		{
			fake_subscription *sub = FAKE_PUSH(w->subscriptions);

			sub->orderid = keep(w, o->orderid);
			sub->email = keep(w, o->new_subscriber);
		}
	}
	return AL_OK;
}

static const char **
orders_subscribers(void *ctx, const char *orderid, int *n)
{
	fake_world *w = ctx;
	const char **emails;

	*n = 0;
	emails = al_alloc(&w->call_mem,
					  sizeof(char *) * (size_t) (w->subscriptions.count + 1));
	for (int i = 0; i < w->subscriptions.count; i++)
		if (same(w->subscriptions.items[i].orderid, orderid))
			emails[(*n)++] = al_strdup(&w->call_mem,
									   w->subscriptions.items[i].email);
	logf_(w, "subscribers %s", orderid);
	return emails;
}

static void
notifier_order_status(void *ctx, const char *recipient, const al_event *ev)
{
	fake_world *w = ctx;
	fake_order_mail *m = FAKE_PUSH(w->order_mails);

	if (ev->type != AL_EV_ORDER_STATUS_CHANGED)
		fake_error(w, "order mail for a %s event", al_event_name(ev->type));
	m->recipient = keep(w, recipient);
	m->orderid = keep(w, ev->orderid);
	m->status = keep(w, ev->status);
	m->previous_status = keep(w, ev->previous_status);
	logf_(w, "mail %s %s", recipient, ev->orderid);
}

/* ---- world ------------------------------------------------------------ */

void
fake_world_init(fake_world *w)
{
	memset(w, 0, sizeof(*w));
	w->call_mem.alloc = fake_arena_alloc;
	w->call_mem.ctx = &w->call_arena;
}

void
fake_world_free(fake_world *w)
{
	fake_arena_free(&w->call_arena);
	fake_arena_free(&w->store);
	free(w->products.items);
	free(w->orders.items);
	free(w->subscriptions.items);
	free(w->order_mails.items);
	free(w->batches.items);
	free(w->lines.items);
	free(w->outbox.items);
	free(w->view.items);
	free(w->plugins.items);
	free(w->log.items);
	memset(w, 0, sizeof(*w));
}

/* The port al_interrupts (fakes.h, interrupt_checks and cancel_at). */
static void
interrupts_check(void *ctx)
{
	fake_world *w = ctx;

	w->interrupt_checks++;
	if (w->cancel_at > 0 && w->interrupt_checks == w->cancel_at &&
		w->cancel_jump != NULL)
		longjmp(*w->cancel_jump, 1);
}

void
fake_service(al_service *svc, fake_world *w)
{
	/* the previous call is over: PostgreSQL frees its memory context */
	fake_arena_free(&w->call_arena);
	memset(&w->loads, 0, sizeof(w->loads));
	memset(&w->writes, 0, sizeof(w->writes));
	w->call_outbox_mark = w->outbox.count;

	memset(svc, 0, sizeof(*svc));
	svc->mem = w->call_mem;
	svc->repo.ctx = w;
	svc->repo.get = repo_get;
	svc->repo.sku_of_batch = repo_sku_of_batch;
	svc->repo.batch_exists = repo_batch_exists;
	svc->repo.load_line = repo_load_line;
	svc->repo.get_many = repo_get_many;
	svc->repo.load_many = repo_load_many;
	svc->repo.save_many = repo_save_many;
	svc->repo.load_candidates = repo_load_candidates_port;
	svc->repo.load_batch_with_lines = repo_load_batch_with_lines;
	svc->repo.save = repo_save;
	svc->outbox.ctx = w;
	svc->outbox.append = outbox_append;
	svc->outbox.append_order = outbox_append_order;
	svc->outbox.flush = nothing_to_flush;
	svc->orders.ctx = w;
	svc->orders.is_tracked = orders_is_tracked;
	svc->orders.get = orders_get;
	svc->orders.save = orders_save;
	svc->orders.subscribers = orders_subscribers;
	svc->views.ctx = w;
	svc->views.allocated = view_allocated;
	svc->views.deallocated = view_deallocated;
	svc->views.flush = nothing_to_flush;
	svc->notifier.ctx = w;
	svc->notifier.stock_alert = notifier_stock_alert;
	svc->notifier.order_status = notifier_order_status;
	svc->plugins.ctx = w;
	svc->plugins.dispatch = plugins_dispatch;
	svc->isolation.ctx = w;
	svc->isolation.run = isolation_run;
	svc->interrupts.ctx = w;
	svc->interrupts.check = interrupts_check;
}

void
fake_abort_call(fake_world *w)
{
	w->outbox.count = w->call_outbox_mark;
	logf_(w, "rollback");
}

bool
fake_world_consistent(const fake_world *w, char *why, size_t size)
{
	snprintf(why, size, "ok");
	if (w->errors)
	{
		snprintf(why, size, "%d port misuse(s), first: %s", w->errors,
				 w->first_error);
		return false;
	}
	for (int i = 0; i < w->batches.count; i++)
	{
		const fake_batch *b = &w->batches.items[i];
		int32_t		sum = 0;

		for (int j = 0; j < i; j++)
			if (same(w->batches.items[j].ref, b->ref))
			{
				snprintf(why, size, "batch \"%s\" stored twice", b->ref);
				return false;
			}
		if (find_product((fake_world *) w, b->sku) == NULL)
		{
			snprintf(why, size, "batch \"%s\" of unknown product \"%s\"",
					 b->ref, b->sku);
			return false;
		}
		for (int j = 0; j < w->lines.count; j++)
			if (same(w->lines.items[j].batchref, b->ref))
				sum += w->lines.items[j].qty;
		if (sum != b->allocated)
		{
			snprintf(why, size, "batch \"%s\": allocated %d, lines sum to %d",
					 b->ref, b->allocated, sum);
			return false;
		}
		if (b->purchased - b->allocated < 0)
		{
			snprintf(why, size, "batch \"%s\": available %d < 0", b->ref,
					 b->purchased - b->allocated);
			return false;
		}
	}
	for (int i = 0; i < w->lines.count; i++)
	{
		const fake_line *l = &w->lines.items[i];
		const fake_batch *b = find_batch((fake_world *) w, l->batchref);
		const fake_product *p = find_product((fake_world *) w, l->sku);
		int			v = find_view(w, l->orderid, l->sku);

		if (b == NULL || !same(b->sku, l->sku))
		{
			snprintf(why, size, "line (\"%s\", \"%s\") in batch \"%s\" of "
					 "another product", l->orderid, l->sku, l->batchref);
			return false;
		}
		if (p == NULL || l->seq <= 0 || l->seq > p->line_seq)
		{
			snprintf(why, size, "line (\"%s\", \"%s\"): seq %lld out of range",
					 l->orderid, l->sku, (long long) l->seq);
			return false;
		}
		for (int j = 0; j < i; j++)
		{
			const fake_line *o = &w->lines.items[j];

			if (same(o->sku, l->sku) &&
				(same(o->orderid, l->orderid) || o->seq == l->seq))
			{
				snprintf(why, size, "lines \"%s\" and \"%s\" of \"%s\" share "
						 "an order id or a seq", o->orderid, l->orderid,
						 l->sku);
				return false;
			}
		}
		if (v < 0 || !same(w->view.items[v].batchref, l->batchref))
		{
			snprintf(why, size, "read model: (\"%s\", \"%s\") is in \"%s\", "
					 "the read model says \"%s\"", l->orderid, l->sku,
					 l->batchref, v < 0 ? "nothing" : w->view.items[v].batchref);
			return false;
		}
	}
	if (w->view.count != w->lines.count)
	{
		snprintf(why, size, "read model has %d rows, the write model %d lines",
				 w->view.count, w->lines.count);
		return false;
	}
	for (int i = 0; i < w->products.count; i++)
	{
		const fake_product *p = &w->products.items[i];
		int64_t		n = 0;

		for (int j = 0; j < w->outbox.count; j++)
			if (same(w->outbox.items[j].aggregatetype, "product") &&
				same(w->outbox.items[j].aggregateid, p->sku))
				n++;
		if (n != p->event_seq)
		{
			snprintf(why, size, "product \"%s\": event_seq %lld but %lld "
					 "outbox rows", p->sku, (long long) p->event_seq,
					 (long long) n);
			return false;
		}
	}
	for (int i = 0; i < w->orders.count; i++)
	{
		const fake_order *o = &w->orders.items[i];
		int64_t		n = 0;

		for (int j = 0; j < w->outbox.count; j++)
			if (same(w->outbox.items[j].aggregatetype, "order") &&
				same(w->outbox.items[j].aggregateid, o->orderid))
				n++;
		if (n != o->event_seq)
		{
			snprintf(why, size, "order \"%s\": event_seq %lld but %lld "
					 "outbox rows", o->orderid, (long long) o->event_seq,
					 (long long) n);
			return false;
		}
	}
	return true;
}

void
fake_run(const char *name, void (*test) (fake_world *w))
{
	fake_world	w;
	char		why[512];

	note("%s", name);
	fake_world_init(&w);
	test(&w);
	/* a test of pure functions leaves no state: nothing to check then */
	if (w.log.count > 0 &&
		!ok(fake_world_consistent(&w, why, sizeof(why)),
			"%s: the stored state is consistent afterwards", name))
		diag("%s", why);
	fake_world_free(&w);
}

/* ---- commands as SQL calls -------------------------------------------- */

al_result
fx_add_batch(fake_world *w, const char *ref, const char *sku, int32_t qty,
			 int32_t eta)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_add_batch(&svc, ref, sku, qty, eta != NO_ETA,
							eta != NO_ETA ? eta : 0);
}

al_result
fx_allocate(fake_world *w, const char *orderid, const char *sku, int32_t qty)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_allocate(&svc, orderid, sku, qty);
}

al_result
fx_deallocate(fake_world *w, const char *orderid, const char *sku)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_deallocate(&svc, orderid, sku);
}

al_result
fx_change_qty(fake_world *w, const char *ref, int32_t qty)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_change_batch_quantity(&svc, ref, qty);
}

al_result
fx_create_order(fake_world *w, const char *orderid)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_create_order(&svc, orderid);
}

al_result
fx_change_order_status(fake_world *w, const char *orderid,
					   al_order_status status)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_change_order_status(&svc, orderid, status);
}

al_result
fx_subscribe(fake_world *w, const char *orderid, const char *email)
{
	al_service	svc;

	fake_service(&svc, w);
	return al_svc_subscribe_to_order(&svc, orderid, email);
}

/* ---- reading the stored state ----------------------------------------- */

const fake_order *
fake_order_of(const fake_world *w, const char *orderid)
{
	return find_order((fake_world *) w, orderid);
}

const char *
fake_order_status(const fake_world *w, const char *orderid)
{
	const fake_order *o = fake_order_of(w, orderid);

	return o ? al_order_status_name(o->status) : NULL;
}

const fake_product *
fake_product_of(const fake_world *w, const char *sku)
{
	return find_product((fake_world *) w, sku);
}

const fake_batch *
fake_batch_of(const fake_world *w, const char *ref)
{
	return find_batch((fake_world *) w, ref);
}

const fake_line *
fake_line_of(const fake_world *w, const char *orderid, const char *sku)
{
	int			i = find_line(w, orderid, sku);

	return i < 0 ? NULL : &w->lines.items[i];
}

int64_t
fake_version(const fake_world *w, const char *sku)
{
	const fake_product *p = fake_product_of(w, sku);

	return p ? p->version : -1;
}

int32_t
fake_available(const fake_world *w, const char *ref)
{
	const fake_batch *b = fake_batch_of(w, ref);

	return b ? b->purchased - b->allocated : INT32_MIN;
}

int32_t
fake_allocated(const fake_world *w, const char *ref)
{
	const fake_batch *b = fake_batch_of(w, ref);

	return b ? b->allocated : INT32_MIN;
}

const char *
fake_line_batch(const fake_world *w, const char *orderid, const char *sku)
{
	const fake_line *l = fake_line_of(w, orderid, sku);

	return l ? l->batchref : NULL;
}

const char *
fake_view_batch(const fake_world *w, const char *orderid, const char *sku)
{
	int			i = find_view(w, orderid, sku);

	return i < 0 ? NULL : w->view.items[i].batchref;
}

#define AT(arr, i) \
	((i) < 0 ? ((arr).count + (i) >= 0 ? &(arr).items[(arr).count + (i)] : NULL) \
	 : ((i) < (arr).count ? &(arr).items[(i)] : NULL))

const fake_outbox_row *
fake_outbox_at(const fake_world *w, int i)
{
	static const fake_outbox_row none;
	const fake_outbox_row *row = AT(w->outbox, i);

	return row ? row : &none;
}

const fake_dispatch *
fake_plugin_at(const fake_world *w, int i)
{
	static const fake_dispatch none;
	const fake_dispatch *d = AT(w->plugins, i);

	return d ? d : &none;
}

const fake_order_mail *
fake_mail_at(const fake_world *w, int i)
{
	static const fake_order_mail none;
	const fake_order_mail *m = AT(w->order_mails, i);

	return m ? m : &none;
}

const fake_subscription *
fake_subscription_at(const fake_world *w, int i)
{
	static const fake_subscription none;
	const fake_subscription *sub = AT(w->subscriptions, i);

	return sub ? sub : &none;
}

int32_t
fake_purchased(const fake_world *w, const char *ref)
{
	const fake_batch *b = fake_batch_of(w, ref);

	return b ? b->purchased : INT32_MIN;
}

const char *
fake_batch_sku(const fake_world *w, const char *ref)
{
	const fake_batch *b = fake_batch_of(w, ref);

	return b ? b->sku : NULL;
}

int64_t
fake_line_seq(const fake_world *w, const char *orderid, const char *sku)
{
	const fake_line *l = fake_line_of(w, orderid, sku);

	return l ? l->seq : -1;
}

int32_t
fake_line_qty(const fake_world *w, const char *orderid, const char *sku)
{
	const fake_line *l = fake_line_of(w, orderid, sku);

	return l ? l->qty : INT32_MIN;
}

int64_t
fake_event_seq(const fake_world *w, const char *sku)
{
	const fake_product *p = fake_product_of(w, sku);

	return p ? p->event_seq : -1;
}

int64_t
fake_order_version(const fake_world *w, const char *orderid)
{
	const fake_order *o = fake_order_of(w, orderid);

	return o ? o->version : -1;
}

static void
describe(char *buf, size_t size, const al_event *ev)
{
	const char *name = al_event_name(ev->type);

	switch (ev->type)
	{
		case AL_EV_BATCH_CREATED:
			snprintf(buf, size, "%s(%s:%d)", name, ev->batchref, ev->qty);
			break;
		case AL_EV_BATCH_QUANTITY_CHANGED:
			snprintf(buf, size, "%s(%s:%d->%d)", name, ev->batchref,
					 ev->previous_qty, ev->qty);
			break;
		case AL_EV_ALLOCATED:
			snprintf(buf, size, "%s(%s:%d@%s)", name, ev->orderid, ev->qty,
					 ev->batchref);
			break;
		case AL_EV_DEALLOCATED:
			snprintf(buf, size, "%s(%s:%d@%s%s)", name, ev->orderid, ev->qty,
					 ev->batchref, ev->reallocate ? "+realloc" : "");
			break;
		case AL_EV_OUT_OF_STOCK:
			snprintf(buf, size, "%s(%s:%d)", name, ev->orderid, ev->qty);
			break;
		default:
			snprintf(buf, size, "%s", name);
			break;
	}
}

static const char *
summary(fake_world *w, const al_event *evs, size_t stride, int from, int count)
{
	size_t		size = 64;
	char	   *out;
	size_t		n = 0;

	size += (size_t) (count > from ? count - from : 0) * 128;
	out = fake_arena_alloc(&w->store, size);
	out[0] = '\0';
	for (int i = from; i < count; i++)
	{
		const al_event *ev = (const al_event *)
			((const char *) evs + stride * (size_t) i);
		char		one[120];

		describe(one, sizeof(one), ev);
		n += (size_t) snprintf(out + n, size - n, "%s%s", i > from ? " " : "",
							   one);
	}
	return out;
}

const char *
fake_outbox_summary(fake_world *w, int from)
{
	if (w->outbox.count == 0)
		return "";
	return summary(w, &w->outbox.items[0].ev, sizeof(fake_outbox_row), from,
				   w->outbox.count);
}

const char *
fake_plugins_summary(fake_world *w, int from)
{
	if (w->plugins.count == 0)
		return "";
	return summary(w, &w->plugins.items[0].ev, sizeof(fake_dispatch), from,
				   w->plugins.count);
}

int
fake_log_find(const fake_world *w, const char *entry, int from)
{
	for (int i = from < 0 ? 0 : from; i < w->log.count; i++)
		if (strcmp(w->log.items[i], entry) == 0)
			return i;
	return -1;
}
