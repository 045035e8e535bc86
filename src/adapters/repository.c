/*-------------------------------------------------------------------------
 *
 * repository.c
 *	  The SPI product repository (port al_repository).
 *
 * Notes:
 *	1) Memory: see pg_session.c.  Strings read from SPI are copied into
 *	   the command's arena by al_pg_text before the core keeps them.
 *	2) Loads only what a command needs (SPEC section 8): the product row,
 *	   one order line with its batch, the batches that still have stock
 *	   (a partial index, batches_available, holds exactly those), or one
 *	   batch with its lines.  Depleted batches and other orders' lines are
 *	   never read, so allocate costs the same on a SKU with a long history.
 *	3) Concurrency: get() locks the product row FOR NO KEY UPDATE.  Under
 *	   READ COMMITTED every later statement of the command takes a fresh
 *	   snapshot, so it sees what the previous lock holder committed; under
 *	   REPEATABLE READ / SERIALIZABLE, locking a row changed after the
 *	   snapshot raises 40001 by itself.  save() still compares versions
 *	   (rule 7), a guard that cannot fire while the lock is held.
 *
 * src/adapters/repository.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "pg_session.h"

#define TEXT(s) CStringGetTextDatum(s)

static al_status
repo_get(void *ctx, const char *sku, bool create, al_product *p)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(sku)};

	s->stock_loaded = NULL;
	if (create)
		al_pg_exec(s, Q_PRODUCT_CREATE, args, NULL);
	if (al_pg_exec(s, Q_PRODUCT_LOCK, args, NULL) == 0)
		return AL_UNKNOWN_SKU;
	al_product_init(p, &s->mem, sku, al_pg_int8(0, 1), al_pg_int8(0, 2));
	p->event_seq = al_pg_int8(0, 3);
	p->event_key = (uint64) al_pg_int8(0, 4);
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

/*
 * The line of orderid with its batch, and in the same statement the
 * batches with stock: allocate needs both, so one round trip through the
 * executor instead of two.  load_available then has nothing left to do.
 */
static void
repo_load_line(void *ctx, al_product *p, const char *orderid)
{
	al_pg_session *s = ctx;
	Datum		args[2] = {TEXT(p->sku), TEXT(orderid)};
	uint64		n = al_pg_exec(s, Q_LINE_AND_STOCK, args, NULL);

	for (uint64 i = 0; i < n; i++)
	{
		char	   *ref = al_pg_text(s, i, 1);

		/* the batch first: a line's batch must be loaded before the line */
		load_batch_row(s, p, ref, i, 4);
		if (!al_pg_isnull(i, 2))
			al_product_load_line(p, orderid, al_pg_int4(i, 2), ref,
								 al_pg_int8(i, 3));
	}
	s->stock_loaded = p;
}

static void
repo_load_available(void *ctx, al_product *p)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(p->sku)};
	uint64		n;

	if (s->stock_loaded == p)
		return;					/* load_line brought them */
	n = al_pg_exec(s, Q_AVAILABLE, args, NULL);

	for (uint64 i = 0; i < n; i++)
		load_batch_row(s, p, al_pg_text(s, i, 1), i, 2);
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
		Datum		args[3] = {TEXT(b->ref), Int32GetDatum(b->purchased),
		Int32GetDatum(b->allocated)};

		al_pg_exec(s, Q_BATCH_UPDATE, args, NULL);
	}
}

static void
save_line(al_pg_session *s, al_product *p, const al_line *l)
{
	Datum		args[5];

	if (l->batch == l->stored_batch && l->seq == l->stored_seq)
		return;
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
	Datum		args[6];

	/* lines before batches: a batch's new quantities hold only with them */
	for (int i = 0; i < p->nlines; i++)
		save_line(s, p, &p->lines[i]);
	for (int i = 0; i < p->nbatches; i++)
		save_batch(s, p, &p->batches[i]);

	/* rule 7: compare-and-set from the version this command started from */
	args[0] = TEXT(p->sku);
	args[1] = Int64GetDatum(p->changed ? p->version + 1 : p->version);
	args[2] = Int64GetDatum(p->line_seq);
	args[3] = Int64GetDatum(p->event_seq);
	args[4] = Int64GetDatum((int64) p->event_key);
	args[5] = Int64GetDatum(p->version);
	if (al_pg_exec(s, Q_PRODUCT_SAVE, args, NULL) != 1)
		return AL_CONCURRENT_UPDATE;
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
	repo->load_available = repo_load_available;
	repo->load_batch_with_lines = repo_load_batch_with_lines;
	repo->save = repo_save;
}
