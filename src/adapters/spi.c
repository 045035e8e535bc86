/*-------------------------------------------------------------------------
 *
 * spi.c
 *	  The SPI leaf of the adapters: kept plans, column getters, row
 *	  buffers, and the registry of the adapters' session hooks.
 *
 * Notes (memory and lifetimes):
 *	1) Plans: one SPIPlanPtr per al_pg_statement, prepared on first use
 *	   and kept with SPI_keepplan (under CacheMemoryContext, for the
 *	   backend's life).  The plan cache re-analyses them after DDL, so a
 *	   DROP and CREATE EXTENSION in the same backend is safe.  Every name
 *	   in them is schema-qualified and every operator is
 *	   OPERATOR(pg_catalog.x), so a re-analysis under a hostile search_path
 *	   finds only our objects.
 *	2) SPI memory: a statement's SPI_tuptable is freed when the next
 *	   statement runs (al_pg_run): the adapters copy what they keep into
 *	   the arena first (al_pg_text does).
 *	3) Row buffers and adapters' state live in the session's arena and go
 *	   with it.  A buffer's values are freed as soon as they are written,
 *	   a chunk at a time (spi.h, AL_PG_ROWS_CHUNK), so that a large call
 *	   keeps reusing the same, cache-warm memory.
 *	4) The registry of adapters is filled by _PG_init (session.c calls
 *	   each adapter's init) and never changes after: no lazy registration.
 *
 * src/adapters/spi.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "spi.h"

/* The kept plan of stmt, prepared on first use. */
static SPIPlanPtr
get_plan(al_pg_statement *stmt)
{
	if (stmt->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(stmt->sql, stmt->nargs,
											  stmt->argtypes,
											  stmt->cursor_options);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", stmt->sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		stmt->plan = plan;
	}
	return stmt->plan;
}

/*
 * Statement stmt with its parameters: in the transaction's snapshot, or
 * (latest) in a fresh one, read-only.  Callers copy what they keep of a
 * result before the next statement, which frees it.
 */
static uint64
run_plan(al_pg_session *s, al_pg_statement *stmt, Datum *values,
		 const char *nulls, bool latest)
{
	int			rc;

	if (SPI_tuptable != NULL)
	{
		SPI_freetuptable(SPI_tuptable);
		SPI_tuptable = NULL;
	}
	if (latest)
		rc = SPI_execute_snapshot(get_plan(stmt), values, nulls,
								  GetLatestSnapshot(), InvalidSnapshot, true,
								  false, 0);
	else
		rc = SPI_execute_plan(get_plan(stmt), values, nulls, s->read_only, 0);
	if (rc != stmt->expected)
		elog(ERROR, "SPI failed for \"%s\": %s", stmt->sql,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/* Run stmt's kept plan; see spi.h. */
uint64
al_pg_run(al_pg_session *s, al_pg_statement *stmt, Datum *values,
		  const char *nulls)
{
	return run_plan(s, stmt, values, nulls, false);
}

/*
 * The same with the latest committed state instead of the transaction's
 * snapshot: under REPEATABLE READ, what a retry of the transaction would
 * see.  For reads only.
 */
uint64
al_pg_run_latest(al_pg_session *s, al_pg_statement *stmt, Datum *values,
				 const char *nulls)
{
	return run_plan(s, stmt, values, nulls, true);
}

/* A text datum copied into the arena as a C string. */
char *
al_pg_arena_text(al_pg_session *s, Datum d)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = VARSIZE_ANY_EXHDR(t);
	char	   *result = MemoryContextAlloc(s->arena_cxt, len + 1);

	memcpy(result, VARDATA_ANY(t), len);
	result[len] = '\0';
	if ((Pointer) t != DatumGetPointer(d))
		pfree(t);
	return result;
}

/* Text column col of row, copied into the arena; NULL for a SQL null. */
char *
al_pg_text(al_pg_session *s, uint64 row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);

	return isnull ? NULL : al_pg_arena_text(s, d);
}

/* Column col of row as it is (in SPI memory: copy it to keep it). */
Datum
al_pg_datum(uint64 row, int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 &isnull);
}

/* Is column col of row NULL? */
bool
al_pg_isnull(uint64 row, int col)
{
	bool		isnull;

	(void) SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 &isnull);
	return isnull;
}

/* An int4 column. */
int32
al_pg_int4(uint64 row, int col)
{
	return DatumGetInt32(al_pg_datum(row, col));
}

/* An int8 column. */
int64
al_pg_int8(uint64 row, int col)
{
	return DatumGetInt64(al_pg_datum(row, col));
}

/* Hold back one row; the columns double in the arena when full. */
void
al_pg_rows_add(al_pg_session *s, al_pg_rows *rows, int ncols,
			   const Datum *values)
{
	Assert(ncols <= AL_PG_ROWS_MAX_COLS);
	if (rows->n == rows->cap)
	{
		int			cap = rows->cap > 0 ? rows->cap * 2 : 16;

		for (int c = 0; c < ncols; c++)
		{
			Datum	   *col = MemoryContextAlloc(s->arena_cxt, sizeof(Datum) * cap);

			if (rows->n > 0)
				memcpy(col, rows->cols[c], sizeof(Datum) * rows->n);
			rows->cols[c] = col;
		}
		rows->cap = cap;
	}
	for (int c = 0; c < ncols; c++)
		rows->cols[c][rows->n] = values[c];
	rows->n++;
}

/* Byte order of two text datums (the C collation of our keys). */
static int
text_cmp(Datum a, Datum b)
{
	text	   *ta = (text *) DatumGetPointer(a);
	text	   *tb = (text *) DatumGetPointer(b);
	int			la = VARSIZE_ANY_EXHDR(ta);
	int			lb = VARSIZE_ANY_EXHDR(tb);
	int			r = memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), Min(la, lb));

	return r != 0 ? r : (la > lb) - (la < lb);
}

/* The sort keys of one al_pg_rows_sort, passed to qsort_arg. */
typedef struct rows_sort_keys
{
	const Datum *key0;
	const Datum *key1;
} rows_sort_keys;

/* Compare two row numbers by their keys; ties by number (a stable sort). */
static int
row_cmp(const void *a, const void *b, void *arg)
{
	const rows_sort_keys *k = arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;
	int			r = text_cmp(k->key0[i], k->key0[j]);

	if (r == 0)
		r = text_cmp(k->key1[i], k->key1[j]);
	return r != 0 ? r : (i > j) - (i < j);
}

/* Sort the rows by two text columns; see spi.h. */
void
al_pg_rows_sort(al_pg_rows *rows, int ncols, int key0, int key1)
{
	rows_sort_keys keys;
	int		   *perm;
	Datum	   *tmp;

	if (rows->n < 2)
		return;
	perm = palloc(sizeof(int) * rows->n);
	tmp = palloc(sizeof(Datum) * rows->n);
	for (int i = 0; i < rows->n; i++)
		perm[i] = i;
	keys.key0 = rows->cols[key0];
	keys.key1 = rows->cols[key1];
	qsort_arg(perm, rows->n, sizeof(int), row_cmp, &keys);
	for (int c = 0; c < ncols; c++)
	{
		for (int i = 0; i < rows->n; i++)
			tmp[i] = rows->cols[c][perm[i]];
		memcpy(rows->cols[c], tmp, sizeof(Datum) * rows->n);
	}
	pfree(perm);
	pfree(tmp);
}

/* Column c of rows as an array of elemtype. */
Datum
al_pg_rows_array(al_pg_rows *rows, int c, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(rows->cols[c], rows->n, elemtype,
										   typlen, typbyval, typalign));
}

/* Free the rows' by-reference values and empty the buffer; see spi.h. */
void
al_pg_rows_clear(al_pg_rows *rows, int ncols, const Oid *types)
{
	for (int c = 0; c < ncols; c++)
	{
		int16		typlen;
		bool		typbyval;

		get_typlenbyval(types[c], &typlen, &typbyval);
		if (typbyval)
			continue;
		for (int i = 0; i < rows->n; i++)
			pfree(DatumGetPointer(rows->cols[c][i]));
	}
	rows->n = 0;
}

/* One row -> one's VALUES, many -> many's unnest; see spi.h. */
void
al_pg_rows_flush(al_pg_session *s, al_pg_rows *rows, int ncols,
				 const Oid *types, al_pg_statement *one,
				 al_pg_statement *many, int nfixed, const Datum *fixed)
{
	Datum		args[8];

	Assert(nfixed + ncols <= (int) lengthof(args));
	if (rows->n == 0)
		return;
	for (int c = 0; c < nfixed; c++)
		args[c] = fixed[c];
	for (int c = 0; c < ncols; c++)
		args[nfixed + c] = rows->n == 1 ? rows->cols[c][0] :
			al_pg_rows_array(rows, c, types[c]);
	al_pg_run(s, rows->n == 1 ? one : many, args, NULL);
	/* the statement ran: the arrays and values can go (spi.h) */
	if (rows->n > 1)
		for (int c = 0; c < ncols; c++)
			pfree(DatumGetPointer(args[nfixed + c]));
	al_pg_rows_clear(rows, ncols, types);
}

/* The adapters that registered, in registration order. */
static const al_pg_adapter *adapters[AL_PG_MAX_ADAPTERS];
static int	nadapters = 0;

/* Register an adapter's hooks; see spi.h. */
int
al_pg_register(const al_pg_adapter *adapter)
{
	if (nadapters == AL_PG_MAX_ADAPTERS)
		elog(ERROR, "too many adapters registered (adapter \"%s\")",
			 adapter->name);
	adapters[nadapters] = adapter;
	return nadapters++;
}

/* Write what every adapter holds back. */
void
al_pg_flush_held(al_pg_session *s)
{
	for (int i = 0; i < nadapters; i++)
		if (adapters[i]->flush)
			adapters[i]->flush(s);
}

/* Drop what every adapter holds back (a rolled-back subtransaction). */
void
al_pg_forget_held(al_pg_session *s)
{
	for (int i = 0; i < nadapters; i++)
		if (adapters[i]->forget)
			adapters[i]->forget(s);
}

/* Make what is held back visible to a plugin about to run. */
void
al_pg_before_user_code(al_pg_session *s)
{
	for (int i = 0; i < nadapters; i++)
		if (adapters[i]->before_user_code)
			adapters[i]->before_user_code(s);
}
