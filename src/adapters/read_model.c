/*-------------------------------------------------------------------------
 *
 * read_model.c
 *	  The allocations_view read model (port al_read_model): projected from
 *	  the events as they happen, and rebuilt from the write model on
 *	  demand.
 *
 * Notes:
 *	1) New rows are held back in the call's arena and written by one
 *	   statement, sorted by the primary key (orderid, sku), when the
 *	   service flushes the read model, before a plugin runs (it may read
 *	   the view), when a chunk is full (spi.h, AL_PG_ROWS_CHUNK) and by
 *	   the session's flush hook before the call ends.
 *	2) A deallocation first writes what is held back: a row held back for
 *	   its line must not come after the delete.
 *
 * src/adapters/read_model.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "read_model.h"

#define TEXT(s) CStringGetTextDatum(s)
#define EQ AL_EQ

/* The read model's state in one SQL call: rows not yet written. */
typedef struct view_state
{
	al_pg_rows	rows;			/* (orderid, sku, batchref, qty) */
} view_state;

static int	view_slot;

static al_pg_statement view_insert_stmt = {
	.sql = "INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty,"
	" updated_at) VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp())",
	.nargs = 4,
	.argtypes = {TEXTOID, TEXTOID, TEXTOID, INT4OID},
	.expected = SPI_OK_INSERT
};

/*
 * view_insert_many_stmt: a plain INSERT, no ON CONFLICT: an Allocated event is of a line that
 * had no allocation (rule 4 found none, or Deallocated removed the row
 * first), and the read model equals the write model, so there is
 * nothing to conflict with.  A conflict would mean the read model
 * drifted (check_invariants reports it, rebuild_read_model repairs it):
 * the unique violation then stops the command rather than hide it.
 * Rows come sorted by the primary key (orderid, sku), so that a bulk
 * insert walks the index leaves in order.
 */
static al_pg_statement view_insert_many_stmt = {
	.sql = "INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty,"
	" updated_at) SELECT pg_catalog.unnest($1::pg_catalog.text[]),"
	" pg_catalog.unnest($2::pg_catalog.text[]),"
	" pg_catalog.unnest($3::pg_catalog.text[]),"
	" pg_catalog.unnest($4::pg_catalog.int4[]),"
	" pg_catalog.clock_timestamp()",
	.nargs = 4,
	.argtypes = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement view_delete_stmt = {
	.sql = "DELETE FROM allocation.allocations_view WHERE orderid" EQ "$1"
	" AND sku" EQ "$2",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expected = SPI_OK_DELETE
};

/* Allocated: hold the new row back. */
static void
view_allocated(void *ctx, const al_event *ev)
{
	al_pg_session *s = ctx;
	view_state *vs = al_pg_state(s, view_slot, sizeof(view_state));
	Datum		row[4] = {TEXT(ev->orderid), TEXT(ev->sku), TEXT(ev->batchref),
	Int32GetDatum(ev->qty)};

	al_pg_rows_add(s, &vs->rows, 4, row);
	/* a chunk at a time (spi.h), each sorted by the primary key */
	if (al_pg_rows_full(&vs->rows))
		al_pg_flush_views(s);
}

/* Deallocated: delete the row, after writing those held back (Note 2). */
static void
view_deallocated(void *ctx, const al_event *ev)
{
	Datum		args[2] = {TEXT(ev->orderid), TEXT(ev->sku)};

	al_pg_flush_views(ctx);
	al_pg_run(ctx, &view_delete_stmt, args, NULL);
}

/* Write the rows held back, sorted by the primary key. */
void
al_pg_flush_views(al_pg_session *s)
{
	static const Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};
	view_state *vs = s->state[view_slot];

	if (vs == NULL || vs->rows.n == 0)
		return;
	al_pg_rows_sort(&vs->rows, 4, 0, 1);	/* (orderid, sku): the primary key */
	al_pg_rows_flush(s, &vs->rows, 4, types, &view_insert_stmt,
					 &view_insert_many_stmt, 0, NULL);
}

static void
views_flush(void *ctx)
{
	al_pg_flush_views(ctx);
}

/* A rolled-back subtransaction takes its rows back. */
static void
views_forget(al_pg_session *s)
{
	view_state *vs = s->state[view_slot];

	if (vs != NULL)
		vs->rows.n = 0;
}

static const al_pg_adapter view_adapter = {
	.name = "read model",
	.flush = al_pg_flush_views,
	.forget = views_forget,
	.before_user_code = al_pg_flush_views,
};

/* Called once by _PG_init (through al_pg_session_init). */
void
al_pg_read_model_init(void)
{
	view_slot = al_pg_register(&view_adapter);
}

/* The port al_read_model, bound to session s. */
void
al_pg_read_model(al_read_model *views, al_pg_session *s)
{
	views->ctx = s;
	views->allocated = view_allocated;
	views->deallocated = view_deallocated;
	views->flush = views_flush;
}

/*
 * rebuild_read_model: the read model made again from the write model (read
 * models are disposable).  The EXCLUSIVE lock makes concurrent commands
 * wait at their projection, so none is lost between the clear and the
 * copy.
 */
static al_pg_statement view_lock_stmt = {
	.sql = "LOCK TABLE allocation.allocations_view IN EXCLUSIVE MODE",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_UTILITY
};
static al_pg_statement view_clear_stmt = {
	.sql = "DELETE FROM allocation.allocations_view",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_DELETE
};
static al_pg_statement view_rebuild_stmt = {
	.sql = "INSERT INTO allocation.allocations_view"
	" (orderid, sku, batchref, qty, updated_at)"
	" SELECT orderid, sku, batchref, qty, pg_catalog.clock_timestamp()"
	" FROM allocation.order_lines",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_INSERT
};

/* Rebuild allocations_view; returns the rows written. */
uint64
al_pg_rebuild_read_model(al_pg_session *s)
{
	al_pg_run(s, &view_lock_stmt, NULL, NULL);
	al_pg_run(s, &view_clear_stmt, NULL, NULL);
	return al_pg_run(s, &view_rebuild_stmt, NULL, NULL);
}
