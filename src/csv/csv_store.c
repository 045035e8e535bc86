/*-------------------------------------------------------------------------
 *
 * csv_store.c
 *	  In-memory repository, unit of work and read model behind
 *	  allocate-from-csv (see csv_store.h).
 *
 * Notes:
 *	1) The ports behave as ports.h specifies for the server's adapters:
 *	   get initialises a partial product, the load_* functions bring in
 *	   only what they are asked for, save writes what changed with a
 *	   compare-and-set on the version (rule 7; one process never conflicts
 *	   with itself, but the check costs nothing and keeps the contract).
 *	2) A batch leaves its product's stock list lazily, the next time
 *	   load_candidates meets it depleted; save puts it back when a change
 *	   gives it stock again.  So the list never holds a batch without
 *	   stock for longer than one load, and is never scanned for one.
 *	3) Event handlers run in place (isolation.run is a plain call): the
 *	   only way a handler fails here is a version conflict, which a single
 *	   process cannot cause.
 *
 * src/csv/csv_store.c
 *
 *-------------------------------------------------------------------------
 */
#include "csv_store.h"

#include "csv_reader.h"

#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------- */

struct csv_chunk
{
	csv_chunk  *next;
	size_t		size;
	max_align_t data[];
};

#define CSV_CHUNK_SIZE ((size_t) 1 << 20)

void *
csv_arena_alloc(void *ctx, size_t size)
{
	csv_arena  *a = ctx;
	size_t		need = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	char	   *p;

	if (a->head == NULL || a->used + need > a->size)
	{
		size_t		sz = need > CSV_CHUNK_SIZE ? need : CSV_CHUNK_SIZE;
		csv_chunk  *c = malloc(sizeof(csv_chunk) + sz);

		if (c == NULL)
			csv_out_of_memory();
		c->size = sz;
		c->next = a->head;
		a->head = c;
		a->used = 0;
		a->size = sz;
	}
	p = (char *) a->head->data + a->used;
	a->used += need;
	return p;
}

char *
csv_arena_strndup(csv_arena *a, const char *s, size_t len)
{
	char	   *copy = csv_arena_alloc(a, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

void
csv_arena_reset(csv_arena *a)
{
	/* keep the oldest chunk, free the others */
	while (a->head && a->head->next)
	{
		csv_chunk  *next = a->head->next;

		free(a->head);
		a->head = next;
	}
	a->used = 0;
	a->size = a->head ? a->head->size : 0;
}

void
csv_arena_free(csv_arena *a)
{
	while (a->head)
	{
		csv_chunk  *next = a->head->next;

		free(a->head);
		a->head = next;
	}
	a->used = a->size = 0;
}

/* ---- growable arrays ---------------------------------------------------- */

static void
reserve(void **items, int *cap, int need, size_t elem)
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
		csv_out_of_memory();
	*items = grown;
	*cap = newcap;
}

#define CSV_PUSH(arr) \
	(reserve((void **) &(arr).items, &(arr).cap, (arr).count + 1, \
			 sizeof(*(arr).items)), \
	 &(arr).items[(arr).count++])

static void
push_int(int **items, int *n, int *cap, int v)
{
	reserve((void **) items, cap, *n + 1, sizeof(int));
	(*items)[(*n)++] = v;
}

/* ---- hash index --------------------------------------------------------- */

static uint32_t
hash_str(const char *s)
{
	uint64_t	h = 1469598103934665603u;	/* FNV-1a */

	for (; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= 1099511628211u;
	}
	return (uint32_t) (h ^ (h >> 32));
}

static uint32_t
hash_mix(uint32_t a, uint32_t b)
{
	return a ^ (b * 0x9E3779B1u + 0x7F4A7C15u + (a << 6) + (a >> 2));
}

/* Does id hold the key? */
typedef bool (*key_eq_fn) (const csv_store *st, int id, const void *key);

static void
index_insert_raw(csv_index *ix, uint32_t h, int id)
{
	size_t		i = h & ix->mask;

	while (ix->slots[i] != 0)
		i = (i + 1) & ix->mask;
	ix->slots[i] = id + 1;
	ix->hashes[i] = h;
	ix->count++;
}

static void
index_grow(csv_index *ix)
{
	size_t		oldsize = ix->slots ? ix->mask + 1 : 0;
	int		   *oldslots = ix->slots;
	uint32_t   *oldhashes = ix->hashes;
	size_t		newsize = oldsize ? oldsize * 2 : 1024;

	ix->slots = calloc(newsize, sizeof(int));
	ix->hashes = calloc(newsize, sizeof(uint32_t));
	if (ix->slots == NULL || ix->hashes == NULL)
		csv_out_of_memory();
	ix->mask = newsize - 1;
	ix->count = 0;
	for (size_t i = 0; i < oldsize; i++)
		if (oldslots[i] != 0)
			index_insert_raw(ix, oldhashes[i], oldslots[i] - 1);
	free(oldslots);
	free(oldhashes);
}

/* The slot holding key, or -1. */
static long
index_slot(const csv_index *ix, const csv_store *st, uint32_t h,
		   key_eq_fn eq, const void *key)
{
	size_t		i;

	if (ix->slots == NULL)
		return -1;
	for (i = h & ix->mask; ix->slots[i] != 0; i = (i + 1) & ix->mask)
		if (ix->hashes[i] == h && eq(st, ix->slots[i] - 1, key))
			return (long) i;
	return -1;
}

static int
index_find(const csv_index *ix, const csv_store *st, uint32_t h,
		   key_eq_fn eq, const void *key)
{
	long		slot = index_slot(ix, st, h, eq, key);

	return slot < 0 ? -1 : ix->slots[slot] - 1;
}

/* Add id under h; the caller checked that its key is not there yet. */
static void
index_add(csv_index *ix, uint32_t h, int id)
{
	/* at most half full, so probes stay short */
	if (ix->slots == NULL || (ix->count + 1) * 2 > ix->mask + 1)
		index_grow(ix);
	index_insert_raw(ix, h, id);
}

static void
index_free(csv_index *ix)
{
	free(ix->slots);
	free(ix->hashes);
	memset(ix, 0, sizeof(*ix));
}

static bool
product_eq(const csv_store *st, int id, const void *key)
{
	return strcmp(st->products.items[id].sku, key) == 0;
}

static bool
batch_eq(const csv_store *st, int id, const void *key)
{
	return strcmp(st->batches.items[id].ref, key) == 0;
}

typedef struct line_key
{
	const char *orderid;
	int			product;
} line_key;

static bool
line_eq(const csv_store *st, int id, const void *key)
{
	const line_key *k = key;
	const csv_line *l = &st->lines.items[id];

	return l->product == k->product && strcmp(l->orderid, k->orderid) == 0;
}

typedef struct row_key
{
	const char *orderid;
	const char *sku;
} row_key;

static bool
row_eq(const csv_store *st, int id, const void *key)
{
	const row_key *k = key;
	const csv_alloc_row *r = &st->rows.items[id];

	return strcmp(r->orderid, k->orderid) == 0 && strcmp(r->sku, k->sku) == 0;
}

static uint32_t
line_hash(const char *orderid, int product)
{
	return hash_mix(hash_str(orderid), (uint32_t) product);
}

static uint32_t
row_hash(const char *orderid, const char *sku)
{
	return hash_mix(hash_str(orderid), hash_str(sku));
}

int
csv_store_product(const csv_store *st, const char *sku)
{
	return index_find(&st->product_index, st, hash_str(sku), product_eq, sku);
}

int
csv_store_batch(const csv_store *st, const char *ref)
{
	return index_find(&st->batch_index, st, hash_str(ref), batch_eq, ref);
}

static int
find_line(const csv_store *st, const char *orderid, int product)
{
	line_key	k = {orderid, product};

	return index_find(&st->line_index, st, line_hash(orderid, product),
					  line_eq, &k);
}

int
csv_store_line(const csv_store *st, const char *orderid, const char *sku)
{
	int			pi = csv_store_product(st, sku);

	return pi < 0 ? -1 : find_line(st, orderid, pi);
}

/* ---- store bookkeeping ---------------------------------------------------- */

void
csv_store_init(csv_store *st)
{
	memset(st, 0, sizeof(*st));
	st->call_mem.alloc = csv_arena_alloc;
	st->call_mem.ctx = &st->call;
}

void
csv_store_free(csv_store *st)
{
	for (int i = 0; i < st->products.count; i++)
		free(st->products.items[i].stock);
	for (int i = 0; i < st->batches.count; i++)
		free(st->batches.items[i].lines);
	free(st->products.items);
	free(st->batches.items);
	free(st->lines.items);
	free(st->rows.items);
	index_free(&st->product_index);
	index_free(&st->batch_index);
	index_free(&st->line_index);
	index_free(&st->row_index);
	csv_arena_free(&st->keep);
	csv_arena_free(&st->call);
}

static const char *
keep(csv_store *st, const char *s)
{
	return csv_arena_strndup(&st->keep, s, strlen(s));
}

/* Put batch bi in its product's stock list, if it has stock and is not. */
static void
stock_add(csv_store *st, int bi)
{
	csv_batch  *b = &st->batches.items[bi];
	csv_product *p = &st->products.items[b->product];

	if (b->stock_pos >= 0 || b->purchased - b->allocated <= 0)
		return;
	b->stock_pos = p->nstock;
	push_int(&p->stock, &p->nstock, &p->stock_cap, bi);
}

static void
batch_add_line(csv_store *st, int bi, int li)
{
	csv_batch  *b = &st->batches.items[bi];

	st->lines.items[li].batch = bi;
	st->lines.items[li].batch_pos = b->nlines;
	push_int(&b->lines, &b->nlines, &b->lines_cap, li);
}

static void
batch_remove_line(csv_store *st, int li)
{
	csv_line   *l = &st->lines.items[li];
	csv_batch  *b = &st->batches.items[l->batch];
	int			last = b->lines[--b->nlines];

	/* swap the last line into its place */
	b->lines[l->batch_pos] = last;
	st->lines.items[last].batch_pos = l->batch_pos;
	l->batch = -1;
	l->batch_pos = -1;
}

static int
new_line(csv_store *st, const char *orderid, int pi)
{
	csv_line   *l = CSV_PUSH(st->lines);
	int			li = st->lines.count - 1;

	memset(l, 0, sizeof(*l));
	l->orderid = keep(st, orderid);
	l->product = pi;
	l->batch = -1;
	l->batch_pos = -1;
	index_add(&st->line_index, line_hash(orderid, pi), li);
	return li;
}

/* Append a read-model row; it replaces any earlier row of its key. */
static void
add_row(csv_store *st, const char *orderid, const char *sku, int32_t qty,
		const char *batchref, bool existing)
{
	row_key		k = {orderid, sku};
	uint32_t	h = row_hash(orderid, sku);
	long		slot = index_slot(&st->row_index, st, h, row_eq, &k);
	csv_alloc_row *r = CSV_PUSH(st->rows);
	int			id = st->rows.count - 1;

	r->orderid = orderid;
	r->sku = sku;
	r->qty = qty;
	r->batchref = batchref;
	r->existing = existing;
	r->deleted = false;
	if (slot >= 0)
		st->row_index.slots[slot] = id + 1;
	else
		index_add(&st->row_index, h, id);
}

void
csv_store_restore(csv_store *st, const char *orderid, int bi, int32_t qty)
{
	csv_batch  *b = &st->batches.items[bi];
	csv_product *p = &st->products.items[b->product];
	int			li = find_line(st, orderid, b->product);

	if (li < 0)
		li = new_line(st, orderid, b->product);
	st->lines.items[li].qty = qty;
	st->lines.items[li].seq = ++p->line_seq;
	batch_add_line(st, bi, li);
	b->allocated += qty;
	add_row(st, st->lines.items[li].orderid, p->sku, qty, b->ref, true);
}

/* ---- repository -------------------------------------------------------- */

static void
bring_batch(csv_store *st, al_product *p, int bi)
{
	const csv_batch *b = &st->batches.items[bi];

	al_product_load_batch(p, b->ref, b->purchased, b->allocated, b->has_eta,
						  b->eta);
}

static al_status
repo_get(void *ctx, const char *sku, bool create, al_product *p)
{
	csv_store  *st = ctx;
	int			pi = csv_store_product(st, sku);
	csv_product *cp;

	if (pi < 0)
	{
		if (!create)
			return AL_UNKNOWN_SKU;
		cp = CSV_PUSH(st->products);
		memset(cp, 0, sizeof(*cp));
		cp->sku = keep(st, sku);
		pi = st->products.count - 1;
		index_add(&st->product_index, hash_str(sku), pi);
	}
	cp = &st->products.items[pi];
	al_product_init(p, &st->call_mem, sku, cp->version, cp->line_seq);
	p->event_seq = cp->event_seq;
	p->event_key = cp->event_key;
	return AL_OK;
}

static al_status
repo_sku_of_batch(void *ctx, const char *ref, const char **sku)
{
	csv_store  *st = ctx;
	int			bi = csv_store_batch(st, ref);

	if (bi < 0)
		return AL_UNKNOWN_BATCH;
	*sku = st->products.items[st->batches.items[bi].product].sku;
	return AL_OK;
}

static bool
repo_batch_exists(void *ctx, const char *ref)
{
	return csv_store_batch(ctx, ref) >= 0;
}

/* Rule 2's order, for sorting the candidates of one product. */
static int
candidate_cmp(const void *a, const void *b)
{
	const csv_batch *x = *(const csv_batch *const *) a;
	const csv_batch *y = *(const csv_batch *const *) b;

	if (x->has_eta != y->has_eta)
		return x->has_eta ? 1 : -1;
	if (x->has_eta && x->eta != y->eta)
		return x->eta < y->eta ? -1 : 1;
	return strcmp(x->ref, y->ref);
}

/*
 * A page of candidates (ports.h): the product's batches with stock (its
 * stock list, note 2) that have at least p->cand.min_qty available, in
 * rule 2's order, from p->cand.offset, at most p->cand.limit.  Depleted
 * batches leave the stock list on the way.
 */
static void
repo_load_candidates(void *ctx, al_product *p)
{
	csv_store  *st = ctx;
	int			pi = csv_store_product(st, p->sku);
	csv_product *cp;
	const csv_batch **order;
	int			n = 0;
	int			rows = 0;

	if (pi < 0)
	{
		al_product_candidates_read(p, 0);
		return;
	}
	cp = &st->products.items[pi];
	order = al_alloc(&st->call_mem, sizeof(*order) * (size_t) (cp->nstock + 1));
	for (int i = 0; i < cp->nstock;)
	{
		int			bi = cp->stock[i];
		csv_batch  *b = &st->batches.items[bi];

		if (b->purchased - b->allocated <= 0)
		{
			/* depleted: it leaves the list (note 2), the last one moves here */
			b->stock_pos = -1;
			cp->stock[i] = cp->stock[--cp->nstock];
			if (i < cp->nstock)
				st->batches.items[cp->stock[i]].stock_pos = i;
			continue;
		}
		if (b->purchased - b->allocated >= p->cand.min_qty)
			order[n++] = b;
		i++;
	}
	qsort(order, (size_t) n, sizeof(*order), candidate_cmp);
	for (int64_t i = p->cand.offset; i < n && rows < p->cand.limit; i++, rows++)
	{
		const csv_batch *b = order[i];

		al_product_load_candidate(p, b->ref, b->purchased, b->allocated,
								  b->has_eta, b->eta);
	}
	al_product_candidates_read(p, rows);
}

static void
repo_load_line(void *ctx, al_product *p, const char *orderid,
			   bool with_candidates)
{
	csv_store  *st = ctx;
	int			li = csv_store_line(st, orderid, p->sku);
	const csv_line *l;

	if (li >= 0 && st->lines.items[li].batch >= 0)
	{
		l = &st->lines.items[li];
		/* its batch first, so that the line finds it with its quantities */
		bring_batch(st, p, l->batch);
		al_product_load_line(p, l->orderid, l->qty,
							 st->batches.items[l->batch].ref, l->seq);
	}
	/* the SPI adapter reads them in the same round trip */
	if (with_candidates)
		repo_load_candidates(ctx, p);
}

static al_status
repo_get_many(void *ctx, const char **skus, int n, al_product *products,
			  int *missing)
{
	for (int i = 0; i < n; i++)
	{
		al_status	s = repo_get(ctx, skus[i], false, &products[i]);

		if (s != AL_OK)
		{
			*missing = i;
			return s;
		}
	}
	return AL_OK;
}

/* Index of sku in products[0..n-1], sorted by SKU; -1 if absent. */
static int
product_in(const al_product *products, int n, const char *sku)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(products[mid].sku, sku);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void
repo_load_many(void *ctx, al_product *products, int nproducts,
			   const char **orderids, const char **skus, int n)
{
	for (int i = 0; i < n; i++)
	{
		int			k = product_in(products, nproducts, skus[i]);

		if (k >= 0)
			repo_load_line(ctx, &products[k], orderids[i], false);
	}
	for (int k = 0; k < nproducts; k++)
		repo_load_candidates(ctx, &products[k]);
}

static al_status
repo_load_batch_with_lines(void *ctx, al_product *p, const char *ref)
{
	csv_store  *st = ctx;
	int			bi = csv_store_batch(st, ref);
	const csv_batch *b;
	int			pbi;

	if (bi < 0 || strcmp(st->products.items[st->batches.items[bi].product].sku,
						 p->sku) != 0)
		return AL_UNKNOWN_BATCH;
	b = &st->batches.items[bi];
	bring_batch(st, p, bi);
	for (int i = 0; i < b->nlines; i++)
	{
		const csv_line *l = &st->lines.items[b->lines[i]];

		al_product_load_line(p, l->orderid, l->qty, b->ref, l->seq);
	}
	pbi = al_product_find_batch(p, ref);
	p->batches[pbi].lines_loaded = true;
	return AL_OK;
}

static al_status
repo_save(void *ctx, al_product *p)
{
	csv_store  *st = ctx;
	int			pi = csv_store_product(st, p->sku);
	csv_product *cp;

	if (pi < 0)
		return AL_UNKNOWN_SKU;	/* get() creates it: cannot happen */
	cp = &st->products.items[pi];
	if (!al_product_dirty(p) && p->event_seq == cp->event_seq)
		return AL_OK;
	/* rule 7: compare-and-set on the version read by get */
	if (cp->version != p->version)
		return AL_CONCURRENT_UPDATE;

	for (int i = 0; i < p->nbatches; i++)
	{
		const al_batch *b = &p->batches[i];
		int			bi;
		csv_batch  *sb;

		if (b->is_new)
		{
			sb = CSV_PUSH(st->batches);
			bi = st->batches.count - 1;
			memset(sb, 0, sizeof(*sb));
			sb->ref = keep(st, b->ref);
			sb->product = pi;
			sb->has_eta = b->has_eta;
			sb->eta = b->eta;
			sb->stock_pos = -1;
			index_add(&st->batch_index, hash_str(b->ref), bi);
		}
		else if (!b->dirty)
			continue;
		else if ((bi = csv_store_batch(st, b->ref)) < 0)
			continue;			/* dirty but never stored: cannot happen */
		sb = &st->batches.items[bi];
		sb->purchased = b->purchased;
		sb->allocated = b->allocated;
		stock_add(st, bi);
	}

	for (int i = 0; i < p->nlines; i++)
	{
		const al_line *l = &p->lines[i];
		int			li;

		if (l->batch == l->stored_batch && l->seq == l->stored_seq)
			continue;
		li = find_line(st, l->orderid, pi);
		if (l->batch < 0)
		{
			/* deallocated */
			if (li >= 0 && st->lines.items[li].batch >= 0)
				batch_remove_line(st, li);
			continue;
		}
		if (li < 0)
			li = new_line(st, l->orderid, pi);
		if (st->lines.items[li].batch >= 0)
			batch_remove_line(st, li);
		batch_add_line(st, csv_store_batch(st, p->batches[l->batch].ref), li);
		st->lines.items[li].qty = l->qty;
		st->lines.items[li].seq = l->seq;
	}

	if (al_product_dirty(p))
		cp->version = al_product_next_version(p);
	cp->line_seq = p->line_seq;
	cp->event_seq = p->event_seq;
	cp->event_key = p->event_key;
	return AL_OK;
}

static al_status
repo_save_many(void *ctx, al_product *products, int n)
{
	for (int i = 0; i < n; i++)
	{
		al_status	s = repo_save(ctx, &products[i]);

		if (s != AL_OK)
			return s;
	}
	return AL_OK;
}

/* ---- outbox, read model, notifier, plugins, isolation ------------------- */

static void
outbox_append(void *ctx, al_product *p, const al_event *ev)
{
	csv_store  *st = ctx;

	(void) ev;
	/* no outbox table: count the event, as the port's contract asks */
	p->event_seq++;
	p->event_key = (uint64_t) p->event_seq;
	st->events++;
}

static void
outbox_flush(void *ctx)
{
	(void) ctx;
}

static void
outbox_append_order(void *ctx, al_order *o, const al_event *ev)
{
	(void) ev;
	((csv_store *) ctx)->events++;
	o->event_seq++;
}

static void
view_allocated(void *ctx, const al_event *ev)
{
	csv_store  *st = ctx;
	int			pi = csv_store_product(st, ev->sku);
	int			li = pi < 0 ? -1 : find_line(st, ev->orderid, pi);
	int			bi = csv_store_batch(st, ev->batchref);

	/* the strings of the store, which live as long as the rows */
	add_row(st, li >= 0 ? st->lines.items[li].orderid : keep(st, ev->orderid),
			pi >= 0 ? st->products.items[pi].sku : keep(st, ev->sku),
			ev->qty,
			bi >= 0 ? st->batches.items[bi].ref : keep(st, ev->batchref),
			false);
}

static void
view_deallocated(void *ctx, const al_event *ev)
{
	csv_store  *st = ctx;
	row_key		k = {ev->orderid, ev->sku};
	int			id = index_find(&st->row_index, st,
								row_hash(ev->orderid, ev->sku), row_eq, &k);

	if (id >= 0 && strcmp(st->rows.items[id].batchref, ev->batchref) == 0)
		st->rows.items[id].deleted = true;
}

static void
views_flush(void *ctx)
{
	(void) ctx;
}

static void
notifier_stock_alert(void *ctx, const al_event *ev)
{
	csv_store  *st = ctx;
	int			pi = csv_store_product(st, ev->sku);

	if (pi < 0)
		return;
	st->products.items[pi].out_of_stock_lines++;
	st->products.items[pi].out_of_stock_qty += ev->qty;
}

static void
notifier_order_status(void *ctx, const char *recipient, const al_event *ev)
{
	(void) ctx;
	(void) recipient;
	(void) ev;
}

static void
plugins_dispatch(void *ctx, const char *aggregatetype, const al_event *ev)
{
	(void) ctx;
	(void) aggregatetype;
	(void) ev;
}

static bool
isolation_run(void *ctx, const char *handler_name, al_event_handler_fn fn,
			  al_service *svc, const al_event *ev)
{
	(void) ctx;
	(void) handler_name;
	return fn(svc, ev) == AL_OK;
}

/* ---- order tracking: not a concern of the CSV program ------------------- */

static bool
orders_is_tracked(void *ctx, const char *orderid, al_order_status *status)
{
	(void) ctx;
	(void) orderid;
	(void) status;
	return false;
}

static al_status
orders_get(void *ctx, const char *orderid, al_order *o)
{
	(void) ctx;
	(void) orderid;
	(void) o;
	return AL_UNKNOWN_ORDER;
}

static al_status
orders_save(void *ctx, al_order *o)
{
	(void) ctx;
	(void) o;
	return AL_OK;
}

static const char **
orders_subscribers(void *ctx, const char *orderid, int *n)
{
	csv_store  *st = ctx;

	(void) orderid;
	*n = 0;
	return al_alloc(&st->call_mem, sizeof(char *));
}

void
csv_store_service(al_service *svc, csv_store *st)
{
	csv_arena_reset(&st->call);
	memset(svc, 0, sizeof(*svc));
	svc->mem = st->call_mem;

	svc->repo.ctx = st;
	svc->repo.get = repo_get;
	svc->repo.sku_of_batch = repo_sku_of_batch;
	svc->repo.batch_exists = repo_batch_exists;
	svc->repo.load_line = repo_load_line;
	svc->repo.get_many = repo_get_many;
	svc->repo.load_many = repo_load_many;
	svc->repo.load_candidates = repo_load_candidates;
	svc->repo.load_batch_with_lines = repo_load_batch_with_lines;
	svc->repo.save = repo_save;
	svc->repo.save_many = repo_save_many;

	svc->orders.ctx = st;
	svc->orders.is_tracked = orders_is_tracked;
	svc->orders.get = orders_get;
	svc->orders.save = orders_save;
	svc->orders.subscribers = orders_subscribers;

	svc->outbox.ctx = st;
	svc->outbox.append = outbox_append;
	svc->outbox.flush = outbox_flush;
	svc->outbox.append_order = outbox_append_order;

	svc->views.ctx = st;
	svc->views.allocated = view_allocated;
	svc->views.deallocated = view_deallocated;
	svc->views.flush = views_flush;

	svc->notifier.ctx = st;
	svc->notifier.stock_alert = notifier_stock_alert;
	svc->notifier.order_status = notifier_order_status;

	svc->plugins.ctx = st;
	svc->plugins.dispatch = plugins_dispatch;

	svc->isolation.ctx = st;
	svc->isolation.run = isolation_run;
}
