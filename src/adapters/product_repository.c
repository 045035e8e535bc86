/*-------------------------------------------------------------------------
 *
 * product_repository.c
 *	  The SPI product repository (port al_repository).
 *
 * Notes:
 *	1) Memory: see pg_session.c.  Strings read from SPI are copied into
 *	   the command's arena by al_pg_text before the core keeps them.
 *	2) Loads only what a command needs: the product row, one order line
 *	   with its batch, candidates a page at a time in preference order (a
 *	   partial index, batches_available, holds the batches with stock in
 *	   that order, so a page stops the scan), or one batch with its lines.
 *	   Depleted batches, other orders' lines and the batches with stock
 *	   after the one that takes the line are never read, so allocate costs
 *	   the same on a SKU with a long history or many batches in stock.
 *	   Which batch takes a line is decided by the core (product.h, Note 4),
 *	   which asks for further pages when it needs them.
 *	5) Candidates must come from an ordered scan of batches_available that
 *	   stops after the page: sorting every batch with stock of the SKU
 *	   would read them all.  The planner may prefer that sort (a generic
 *	   plan assumes a few batches a SKU), so candidate statements run with
 *	   enable_sort off, set and restored around them as a function's SET
 *	   clause is (an ERROR restores it with the transaction).
 *	3) Concurrency: get() locks the product row FOR NO KEY UPDATE.  Under
 *	   READ COMMITTED every later statement of the command takes a fresh
 *	   snapshot, so it sees what the previous lock holder committed; under
 *	   REPEATABLE READ / SERIALIZABLE, locking a row changed after the
 *	   snapshot raises 40001 by itself.  save() still compares versions
 *	   (rule 7), a guard that cannot fire while the lock is held.
 *	4) The product row and the batches are read with their TIDs; save()
 *	   updates them by TID (key checked too) instead of descending the
 *	   primary keys again: on a million SKUs those descents are cache
 *	   misses.  The product lock keeps the rows where they are; a row this
 *	   transaction has updated since has moved, is not found by its old
 *	   TID, and is then updated by key.
 *
 * src/adapters/product_repository.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"

#include "pg_session.h"

#define TEXT(s) CStringGetTextDatum(s)

/* Remember where batch ref is: SPI row i, column col is its ctid. */
static void
remember_batch_tid(al_pg_session *s, const char *ref, uint64 i, int col)
{
	if (s->nbatch_tids == s->batch_tids_cap)
	{
		int			cap = s->batch_tids_cap > 0 ? s->batch_tids_cap * 2 : 16;
		struct al_pg_batch_tid *a = MemoryContextAlloc(s->arena_cxt,
													   sizeof(*a) * cap);

		if (s->nbatch_tids > 0)
			memcpy(a, s->batch_tids, sizeof(*a) * s->nbatch_tids);
		s->batch_tids = a;
		s->batch_tids_cap = cap;
	}
	s->batch_tids[s->nbatch_tids].ref = ref;
	ItemPointerCopy((ItemPointer) DatumGetPointer(al_pg_datum(i, col)),
					&s->batch_tids[s->nbatch_tids].tid);
	s->nbatch_tids++;
}

/* The TID remembered for batch ref, or NULL. */
static ItemPointer
batch_tid(al_pg_session *s, const char *ref)
{
	/* the latest first: a batch read twice was read last with its TID now */
	for (int i = s->nbatch_tids - 1; i >= 0; i--)
		if (strcmp(s->batch_tids[i].ref, ref) == 0)
			return &s->batch_tids[i].tid;
	return NULL;
}

static al_status
repo_get(void *ctx, const char *sku, bool create, al_product *p)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(sku)};

	s->tid_sku = NULL;
	s->nbatch_tids = 0;
	if (create)
		al_pg_exec(s, Q_PRODUCT_CREATE, args, NULL);
	if (al_pg_exec(s, Q_PRODUCT_LOCK, args, NULL) == 0)
		return AL_UNKNOWN_SKU;
	al_product_init(p, &s->mem, sku, al_pg_int8(0, 1), al_pg_int8(0, 2));
	p->event_seq = al_pg_int8(0, 3);
	p->event_key = (uint64) al_pg_int8(0, 4);
	ItemPointerCopy((ItemPointer) DatumGetPointer(al_pg_datum(0, 5)), &s->product_tid);
	s->tid_sku = p->sku;
	return AL_OK;
}

static al_status
repo_sku_of_batch(void *ctx, const char *ref, const char **sku)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(ref)};

	if (al_pg_exec(s, Q_BATCH_SKU, args, NULL) == 0)
		return AL_UNKNOWN_BATCH;
	*sku = al_pg_text(s, 0, 1);
	return AL_OK;
}

static bool
repo_batch_exists(void *ctx, const char *ref)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(ref)};

	return al_pg_exec(s, Q_BATCH_SKU, args, NULL) > 0;
}

/* Load SPI row i, columns (ref?, purchased, allocated, eta) from col. */
static int
load_batch_row(al_pg_session *s, al_product *p, const char *ref, uint64 i,
			   int col)
{
	bool		has_eta = !al_pg_isnull(i, col + 2);

	return al_product_load_batch(p, ref, al_pg_int4(i, col),
								 al_pg_int4(i, col + 1), has_eta,
								 has_eta ? DatumGetDateADT(al_pg_datum(i, col + 2)) : 0);
}

/* Run a candidate statement with the ordered index scan (Note 5). */
static uint64
exec_ordered(al_pg_session *s, al_query q, Datum *args)
{
	int			nest = NewGUCNestLevel();
	uint64		n;

	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	n = al_pg_exec(s, q, args, NULL);
	AtEOXact_GUC(true, nest);
	return n;
}

/*
 * The line of orderid with its batch; with_candidates: in the same
 * statement, the first page of candidates (allocate needs both, so one
 * round trip through the executor instead of two).
 */
static void
repo_load_line(void *ctx, al_product *p, const char *orderid,
			   bool with_candidates)
{
	al_pg_session *s = ctx;
	Datum		args[4] = {TEXT(p->sku), TEXT(orderid),
		Int32GetDatum(p->cand.min_qty), Int64GetDatum(p->cand.limit)};
	uint64		n = with_candidates ? exec_ordered(s, Q_LINE_AND_CANDIDATES, args)
		: al_pg_exec(s, Q_LINE_GET, args, NULL);
	int			rows = 0;

	for (uint64 i = 0; i < n; i++)
	{
		char	   *ref = al_pg_text(s, i, 1);
		bool		has_eta = !al_pg_isnull(i, 6);
		int32		eta = has_eta ? DatumGetDateADT(al_pg_datum(i, 6)) : 0;

		remember_batch_tid(s, ref, i, 7);
		if (al_pg_isnull(i, 2))
		{
			/* a candidate, in preference order */
			al_product_load_candidate(p, ref, al_pg_int4(i, 4),
									  al_pg_int4(i, 5), has_eta, eta);
			rows++;
			continue;
		}
		/* the batch first: a line's batch must be loaded before the line */
		load_batch_row(s, p, ref, i, 4);
		al_product_load_line(p, orderid, al_pg_int4(i, 2), ref,
							 al_pg_int8(i, 3));
	}
	if (with_candidates)
		al_product_candidates_read(p, rows);
}

/* The next page of candidates of p (port al_repository.load_candidates). */
static void
repo_load_candidates(void *ctx, al_product *p)
{
	al_pg_session *s = ctx;
	Datum		args[4] = {TEXT(p->sku), Int32GetDatum(p->cand.min_qty),
		Int64GetDatum(p->cand.limit), Int64GetDatum(p->cand.offset)};
	uint64		n = exec_ordered(s, Q_CANDIDATES, args);

	for (uint64 i = 0; i < n; i++)
	{
		char	   *ref = al_pg_text(s, i, 1);
		bool		has_eta = !al_pg_isnull(i, 4);

		al_product_load_candidate(p, ref, al_pg_int4(i, 2), al_pg_int4(i, 3),
								  has_eta,
								  has_eta ? DatumGetDateADT(al_pg_datum(i, 4)) : 0);
		remember_batch_tid(s, ref, i, 5);
	}
	al_product_candidates_read(p, (int) n);
}

static al_status
repo_load_batch_with_lines(void *ctx, al_product *p, const char *ref)
{
	al_pg_session *s = ctx;
	Datum		args[2] = {TEXT(ref), TEXT(p->sku)};
	int			bi;
	uint64		n;

	if (al_pg_exec(s, Q_BATCH_GET, args, NULL) == 0)
		return AL_UNKNOWN_BATCH;
	bi = load_batch_row(s, p, ref, 0, 1);
	remember_batch_tid(s, p->batches[bi].ref, 0, 4);
	n = al_pg_exec(s, Q_BATCH_LINES, args, NULL);
	for (uint64 i = 0; i < n; i++)
		al_product_load_line(p, al_pg_text(s, i, 1), al_pg_int4(i, 2), ref,
							 al_pg_int8(i, 3));
	p->batches[bi].lines_loaded = true;
	return AL_OK;
}

static void
save_batch(al_pg_session *s, al_product *p, const al_batch *b)
{
	if (b->is_new)
	{
		Datum		args[5] = {TEXT(b->ref), TEXT(p->sku),
			Int32GetDatum(b->purchased), Int32GetDatum(b->allocated),
		DateADTGetDatum(b->eta)};
		char		nulls[6] = "     ";

		if (!b->has_eta)
			nulls[4] = 'n';
		al_pg_exec(s, Q_BATCH_INSERT, args, nulls);
	}
	else if (b->dirty)
	{
		Datum		args[4] = {TEXT(b->ref), Int32GetDatum(b->purchased),
		Int32GetDatum(b->allocated)};
		ItemPointer tid = batch_tid(s, b->ref);

		if (tid != NULL)
		{
			args[3] = PointerGetDatum(tid);
			if (al_pg_exec(s, Q_BATCH_UPDATE_TID, args, NULL) == 1)
				return;
		}
		al_pg_exec(s, Q_BATCH_UPDATE, args, NULL);
	}
}

static void
save_line(al_pg_session *s, al_product *p, const al_line *l,
		  al_pg_rows *inserts)
{
	Datum		args[5];

	if (l->batch == l->stored_batch && l->seq == l->stored_seq)
		return;
	if (l->batch >= 0 && l->stored_batch < 0 && inserts != NULL)
	{
		/* new lines go in together, after the loop */
		Datum		row[4] = {TEXT(l->orderid), Int32GetDatum(l->qty),
			TEXT(p->batches[l->batch].ref), Int64GetDatum(l->seq)};

		al_pg_rows_add(s, inserts, 4, row);
		return;
	}
	args[0] = TEXT(p->sku);
	args[1] = TEXT(l->orderid);
	if (l->batch < 0)
	{
		al_pg_exec(s, Q_LINE_DELETE, args, NULL);
		return;
	}
	args[2] = Int32GetDatum(l->qty);
	args[3] = TEXT(p->batches[l->batch].ref);
	args[4] = Int64GetDatum(l->seq);
	al_pg_exec(s, l->stored_batch < 0 ? Q_LINE_INSERT : Q_LINE_UPDATE,
			   args, NULL);
}

static al_status
repo_save(void *ctx, al_product *p)
{
	al_pg_session *s = ctx;
	Datum		args[7];

	al_pg_rows	inserts = {0};

	/* lines before batches: a batch's new quantities hold only with them */
	for (int i = 0; i < p->nlines; i++)
		save_line(s, p, &p->lines[i], &inserts);
	if (inserts.n == 1)
	{
		Datum		args[5] = {TEXT(p->sku), inserts.cols[0][0],
			inserts.cols[1][0], inserts.cols[2][0], inserts.cols[3][0]};

		al_pg_exec(s, Q_LINE_INSERT, args, NULL);
	}
	else if (inserts.n > 1)
	{
		Datum		args[5] = {TEXT(p->sku),
			al_pg_rows_array(&inserts, 0, TEXTOID),
			al_pg_rows_array(&inserts, 1, INT4OID),
			al_pg_rows_array(&inserts, 2, TEXTOID),
		al_pg_rows_array(&inserts, 3, INT8OID)};

		al_pg_exec(s, Q_LINE_INSERT_MANY, args, NULL);
	}
	for (int i = 0; i < p->nbatches; i++)
		save_batch(s, p, &p->batches[i]);

	/* rule 7: compare-and-set from the version this command started from */
	args[0] = TEXT(p->sku);
	args[1] = Int64GetDatum(al_product_next_version(p));
	args[2] = Int64GetDatum(p->line_seq);
	args[3] = Int64GetDatum(p->event_seq);
	args[4] = Int64GetDatum((int64) p->event_key);
	args[5] = Int64GetDatum(p->version);
	if (s->tid_sku != NULL && strcmp(s->tid_sku, p->sku) == 0)
	{
		args[6] = PointerGetDatum(&s->product_tid);
		s->tid_sku = NULL;		/* the row moves now */
		if (al_pg_exec(s, Q_PRODUCT_SAVE_TID, args, NULL) == 1)
			return AL_OK;
	}
	if (al_pg_exec(s, Q_PRODUCT_SAVE, args, NULL) != 1)
		return AL_CONCURRENT_UPDATE;
	return AL_OK;
}

/* --- bulk: allocate_many ------------------------------------------------ */

/* A text[] of n C strings. */
static Datum
text_array(const char **strs, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n > 0 ? n : 1));

	for (int i = 0; i < n; i++)
		d[i] = TEXT(strs[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/* Index of the product of sku in products[0..n-1], sorted by SKU. */
static int
product_index(al_product *products, int n, const char *sku)
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
	elog(ERROR, "product \"%s\" was not locked", sku);
	return -1;
}

/*
 * Lock every product in one statement.  ORDER BY puts the sort below the
 * row locks, so they are taken in byte order of the SKUs (the C collation
 * of the column), like al_svc_allocate_many's order: deadlock-free.
 */
static al_status
repo_get_many(void *ctx, const char **skus, int n, al_product *products,
			  int *missing)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {text_array(skus, n)};
	uint64		rows = al_pg_exec(s, Q_PRODUCTS_LOCK, args, NULL);
	uint64		r = 0;

	for (int i = 0; i < n; i++)
	{
		char	   *sku = r < rows ? al_pg_text(s, r, 1) : NULL;

		if (sku == NULL || strcmp(sku, skus[i]) != 0)
		{
			*missing = i;
			return AL_UNKNOWN_SKU;
		}
		al_product_init(&products[i], &s->mem, skus[i], al_pg_int8(r, 2),
						al_pg_int8(r, 3));
		products[i].event_seq = al_pg_int8(r, 4);
		products[i].event_key = (uint64) al_pg_int8(r, 5);
		r++;
	}
	return AL_OK;
}

/* The lines of the requested orders and the batches with stock, twice one
 * statement for every product. */
static void
repo_load_many(void *ctx, al_product *products, int nproducts,
			   const char **orderids, const char **skus, int n)
{
	al_pg_session *s = ctx;
	Datum		args[2];
	const char **psku = palloc(sizeof(char *) * (nproducts > 0 ? nproducts : 1));
	uint64		rows;

	/* probe in (sku, orderid) order: the probes walk order_lines_pkey */
	{
		al_pg_rows	probes = {0};

		for (int i = 0; i < n; i++)
		{
			Datum		row[2] = {TEXT(skus[i]), TEXT(orderids[i])};

			al_pg_rows_add(s, &probes, 2, row);
		}
		al_pg_rows_sort(&probes, 2, 0, 1);
		args[0] = al_pg_rows_array(&probes, 0, TEXTOID);
		args[1] = al_pg_rows_array(&probes, 1, TEXTOID);
	}
	rows = al_pg_exec(s, Q_LINES_OF_ORDERS, args, NULL);
	for (uint64 i = 0; i < rows; i++)
	{
		al_product *p = &products[product_index(products, nproducts,
												al_pg_text(s, i, 1))];
		char	   *ref = al_pg_text(s, i, 3);

		load_batch_row(s, p, ref, i, 6);
		al_product_load_line(p, al_pg_text(s, i, 2), al_pg_int4(i, 4), ref,
							 al_pg_int8(i, 5));
	}
	for (int k = 0; k < nproducts; k++)
		psku[k] = products[k].sku;
	args[0] = text_array(psku, nproducts);
	{
		Datum	   *q = palloc(sizeof(Datum) * (nproducts > 0 ? nproducts : 1));
		int		   *read = palloc0(sizeof(int) * (nproducts > 0 ? nproducts : 1));
		Datum		margs[3];

		for (int k = 0; k < nproducts; k++)
			q[k] = Int32GetDatum(products[k].cand.min_qty);
		margs[0] = args[0];
		margs[1] = PointerGetDatum(construct_array(q, nproducts, INT4OID, 4,
												   true, TYPALIGN_INT));
		/* every product starts with the same page size */
		margs[2] = Int64GetDatum(nproducts > 0 ? products[0].cand.limit : 1);
		rows = exec_ordered(s, Q_CANDIDATES_MANY, margs);
		/* each SKU's rows come together, in preference order (LATERAL) */
		for (uint64 i = 0; i < rows; i++)
		{
			int			k = product_index(products, nproducts,
										  al_pg_text(s, i, 1));
			bool		has_eta = !al_pg_isnull(i, 5);

			al_product_load_candidate(&products[k], al_pg_text(s, i, 2),
									  al_pg_int4(i, 3), al_pg_int4(i, 4),
									  has_eta,
									  has_eta ? DatumGetDateADT(al_pg_datum(i, 5)) : 0);
			read[k]++;
		}
		for (int k = 0; k < nproducts; k++)
			al_product_candidates_read(&products[k], read[k]);
	}
}

/*
 * Save every product: new lines, batch quantities and product rows each
 * with one array statement (the rare moved or deleted line, or new batch,
 * with the single statements).
 */
static al_status
repo_save_many(void *ctx, al_product *products, int n)
{
	al_pg_session *s = ctx;
	al_pg_rows	lines = {0};
	al_pg_rows	batches = {0};
	al_pg_rows	prods = {0};
	uint64		written;

	for (int k = 0; k < n; k++)
	{
		al_product *p = &products[k];

		if (!al_product_dirty(p) && p->events.count == 0)
			continue;			/* idempotent lines only: nothing to write */
		for (int i = 0; i < p->nlines; i++)
		{
			al_line    *l = &p->lines[i];

			if (l->batch >= 0 && l->stored_batch < 0)
			{
				Datum		row[5] = {TEXT(p->sku), TEXT(l->orderid),
					Int32GetDatum(l->qty), TEXT(p->batches[l->batch].ref),
				Int64GetDatum(l->seq)};

				al_pg_rows_add(s, &lines, 5, row);
			}
			else
				save_line(s, p, l, NULL);
		}
		for (int i = 0; i < p->nbatches; i++)
		{
			al_batch   *b = &p->batches[i];

			if (b->is_new)
				save_batch(s, p, b);
			else if (b->dirty)
			{
				Datum		row[3] = {TEXT(b->ref), Int32GetDatum(b->purchased),
				Int32GetDatum(b->allocated)};

				al_pg_rows_add(s, &batches, 3, row);
			}
		}
		{
			Datum		row[6] = {TEXT(p->sku),
				Int64GetDatum(al_product_next_version(p)),
				Int64GetDatum(p->line_seq), Int64GetDatum(p->event_seq),
				Int64GetDatum((int64) p->event_key),
			Int64GetDatum(p->version)};

			al_pg_rows_add(s, &prods, 6, row);
		}
	}
	if (lines.n > 0)
	{
		Datum		args[5];
		static const Oid types[5] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID};

		al_pg_rows_sort(&lines, 5, 0, 1);	/* (sku, orderid): the primary key */
		for (int c = 0; c < 5; c++)
			args[c] = al_pg_rows_array(&lines, c, types[c]);
		al_pg_exec(s, Q_LINE_INSERT_ANY_SKU, args, NULL);
	}
	if (batches.n > 0)
	{
		Datum		args[3];
		static const Oid types[3] = {TEXTOID, INT4OID, INT4OID};

		al_pg_rows_sort(&batches, 3, 0, 0); /* by reference: the primary key */
		for (int c = 0; c < 3; c++)
			args[c] = al_pg_rows_array(&batches, c, types[c]);
		al_pg_exec(s, Q_BATCHES_UPDATE, args, NULL);
	}
	if (prods.n > 0)
	{
		Datum		args[6];

		args[0] = al_pg_rows_array(&prods, 0, TEXTOID);
		for (int c = 1; c < 6; c++)
			args[c] = al_pg_rows_array(&prods, c, INT8OID);
		/* rule 7: every product from the version it was loaded at */
		written = al_pg_exec(s, Q_PRODUCTS_SAVE, args, NULL);
		if (written != (uint64) prods.n)
			return AL_CONCURRENT_UPDATE;
	}
	return AL_OK;
}

void
al_pg_repository(al_repository *repo, al_pg_session *s)
{
	repo->ctx = s;
	repo->get = repo_get;
	repo->sku_of_batch = repo_sku_of_batch;
	repo->batch_exists = repo_batch_exists;
	repo->load_line = repo_load_line;
	repo->get_many = repo_get_many;
	repo->load_many = repo_load_many;
	repo->save_many = repo_save_many;
	repo->load_candidates = repo_load_candidates;
	repo->load_batch_with_lines = repo_load_batch_with_lines;
	repo->save = repo_save;
}
