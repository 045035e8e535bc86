/*-------------------------------------------------------------------------
 *
 * product_repository.c
 *	  The SPI product repository (port al_repository).
 *
 * Notes:
 *	1) Memory: see session.c.  Strings read from SPI are copied into
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
 *	6) Allocate's reads (the product row it locks, its line with the
 *	   line's batch, the candidates) go through the indexes directly (index_read.c), with a statement's
 *	   snapshot, locks and privilege check: at one client, running them
 *	   as statements cost more than the reads.  Where an index cannot be
 *	   read that way (index_read.c, Note 3) the statements below run,
 *	   with the same rows.
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

#include "errors.h"
#include "index_read.h"
#include "product_repository.h"

#define TEXT(s) CStringGetTextDatum(s)
#define EQ AL_EQ

/*
 * The repository's state in one SQL call: where the rows read under the
 * product lock are (Note 4), the product row locked last and the batches
 * loaded since.  Saves update them by TID instead of descending the
 * primary key again.
 */
typedef struct batch_tid_entry
{
	const char *ref;
	ItemPointerData tid;
} batch_tid_entry;

typedef struct repo_state
{
	const char *tid_sku;		/* NULL: no product row TID */
	ItemPointerData product_tid;
	int			nbatch_tids;
	int			batch_tids_cap;
	batch_tid_entry *batch_tids;
} repo_state;

/* The repository's registration (al_pg_repository_init) and state slot. */
static const al_pg_adapter repo_adapter = {.name = "repository"};
static int	repo_slot;

static repo_state *
state_of(al_pg_session *s)
{
	return al_pg_state(s, repo_slot, sizeof(repo_state));
}

/*
 * The *_MANY statements take one array per column and unnest them in the
 * select list ("SELECT unnest($1), unnest($2), ..."), where the set-
 * returning functions advance in lockstep, row by row, in array order.
 * ROWS FROM (unnest($1), ...) would first copy every array into a
 * tuplestore of its own.
 */

static al_pg_statement product_create_stmt = {
	.sql = "INSERT INTO allocation.product_state (sku) VALUES ($1)"
	" ON CONFLICT (sku) DO NOTHING",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement product_lock_stmt = {
	.sql = "SELECT version_number, line_seq, event_seq, event_key, wal_only_seq, ctid"
	" FROM allocation.product_state WHERE sku" EQ "$1"
	" FOR NO KEY UPDATE",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};
/* columns of product_lock_stmt */
enum
{
	PRODUCT_LOCK_VERSION = 1,
	PRODUCT_LOCK_LINE_SEQ,
	PRODUCT_LOCK_EVENT_SEQ,
	PRODUCT_LOCK_EVENT_KEY,
	PRODUCT_LOCK_WAL_ONLY_SEQ,
	PRODUCT_LOCK_CTID
};

static al_pg_statement product_save_stmt = {
	.sql = "UPDATE allocation.product_state SET version_number = $2,"
	" line_seq = $3, event_seq = $4, event_key = $5, wal_only_seq = $7"
	" WHERE sku" EQ "$1 AND version_number" EQ "$6",
	.nargs = 7,
	.argtypes = {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID},
	.expected = SPI_OK_UPDATE
};

/*
 * The same by the TID read under the product lock: no second descent of
 * the primary key.  The key is checked too; a row that moved (updated
 * again in this transaction) is not found, and the caller falls back to
 * the statement by key.
 */
static al_pg_statement product_save_tid_stmt = {
	.sql = "UPDATE allocation.product_state SET version_number = $2,"
	" line_seq = $3, event_seq = $4, event_key = $5, wal_only_seq = $7"
	" WHERE ctid" EQ "$8 AND sku" EQ "$1 AND version_number" EQ "$6",
	.nargs = 8,
	.argtypes = {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TIDOID},
	.expected = SPI_OK_UPDATE
};

static al_pg_statement batch_sku_stmt = {
	.sql = "SELECT sku FROM allocation.batches WHERE reference" EQ "$1",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};
/* columns of batch_sku_stmt */
enum
{
	BATCH_SKU_SKU = 1
};

static al_pg_statement batch_get_stmt = {
	.sql = "SELECT purchased_quantity, allocated_quantity, eta, ctid"
	" FROM allocation.batches WHERE reference" EQ "$1 AND sku" EQ "$2",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expected = SPI_OK_SELECT
};
/* columns of batch_get_stmt: a batch row (load_batch_row) from BATCH_GET_PURCHASED */
enum
{
	BATCH_GET_PURCHASED = 1,
	BATCH_GET_ALLOCATED,
	BATCH_GET_ETA,
	BATCH_GET_CTID
};

static al_pg_statement batch_lines_stmt = {
	.sql = "SELECT orderid, qty, seq FROM allocation.order_lines"
	" WHERE batchref" EQ "$1",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};
/* columns of batch_lines_stmt */
enum
{
	BATCH_LINES_ORDERID = 1,
	BATCH_LINES_QTY,
	BATCH_LINES_SEQ
};

/*
 * ON CONFLICT DO NOTHING: a batch of the same reference inserted by a
 * transaction still running is waited for; if it commits, no row is
 * inserted here and save_batch refuses with the domain's 23505 (under
 * REPEATABLE READ a row committed after the snapshot is 40001 by
 * itself).
 */
static al_pg_statement batch_insert_stmt = {
	.sql = "INSERT INTO allocation.batches (reference, sku, purchased_quantity,"
	" allocated_quantity, eta) VALUES ($1, $2, $3, $4, $5)"
	" ON CONFLICT (reference) DO NOTHING",
	.nargs = 5,
	.argtypes = {TEXTOID, TEXTOID, INT4OID, INT4OID, DATEOID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement batch_update_stmt = {
	.sql = "UPDATE allocation.batches SET purchased_quantity = $2,"
	" allocated_quantity = $3 WHERE reference" EQ "$1",
	.nargs = 3,
	.argtypes = {TEXTOID, INT4OID, INT4OID},
	.expected = SPI_OK_UPDATE
};

/* by the TID read under the product lock, as product_save_tid_stmt */
static al_pg_statement batch_update_tid_stmt = {
	.sql = "UPDATE allocation.batches SET purchased_quantity = $2,"
	" allocated_quantity = $3 WHERE ctid" EQ "$4 AND reference" EQ "$1",
	.nargs = 4,
	.argtypes = {TEXTOID, INT4OID, INT4OID, TIDOID},
	.expected = SPI_OK_UPDATE
};

/*
 * Candidates (product.h, Note 4): the batches of a SKU with at least
 * $2 available, in the core's preference order (al_batch_preference:
 * warehouse first, then eta, then reference in byte order, the C
 * collation of the column), a page of $3 after the $4 read before.
 * batches_available holds the batches with stock in that order, so
 * the scan stops after the page.  One generic plan, planned once (with
 * the ordered scan, product_repository.c Note 5), not a custom plan per call.
 */
static al_pg_statement candidates_stmt = {
	.sql = "SELECT reference, purchased_quantity, allocated_quantity, eta, ctid"
	" FROM allocation.batches WHERE sku" EQ "$1 AND has_stock"
	" AND allocated_quantity OPERATOR(pg_catalog.<=)"
	" (purchased_quantity OPERATOR(pg_catalog.-) $2)"
	" ORDER BY eta NULLS FIRST, reference LIMIT $3 OFFSET $4",
	.nargs = 4,
	.argtypes = {TEXTOID, INT4OID, INT8OID, INT8OID},
	.expected = SPI_OK_SELECT,
	.cursor_options = CURSOR_OPT_GENERIC_PLAN
};
/* columns of candidates_stmt */
enum
{
	CAND_REF = 1,
	CAND_PURCHASED,
	CAND_ALLOCATED,
	CAND_ETA,
	CAND_CTID
};

static al_pg_statement line_get_stmt = {
	.sql = "SELECT l.batchref, l.qty, l.seq, b.purchased_quantity,"
	" b.allocated_quantity, b.eta, b.ctid"
	" FROM allocation.order_lines l JOIN allocation.batches b"
	" ON b.reference" EQ "l.batchref"
	" WHERE l.sku" EQ "$1 AND l.orderid" EQ "$2",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expected = SPI_OK_SELECT
};
/*
 * columns of line_get_stmt and line_and_candidates_stmt (a candidate row
 * has LINE_QTY and LINE_SEQ null)
 */
enum
{
	LINE_BATCHREF = 1,
	LINE_QTY,
	LINE_SEQ,
	LINE_PURCHASED,
	LINE_ALLOCATED,
	LINE_ETA,
	LINE_CTID
};

/* line_get_stmt, then the first page of candidates_stmt: one round trip */
static al_pg_statement line_and_candidates_stmt = {
	.sql = "SELECT l.batchref, l.qty, l.seq, b.purchased_quantity,"
	" b.allocated_quantity, b.eta, b.ctid"
	" FROM allocation.order_lines l JOIN allocation.batches b"
	" ON b.reference" EQ "l.batchref"
	" WHERE l.sku" EQ "$1 AND l.orderid" EQ "$2"
	" UNION ALL"
	" (SELECT reference, NULL, NULL, purchased_quantity, allocated_quantity,"
	" eta, ctid FROM allocation.batches WHERE sku" EQ "$1 AND has_stock"
	" AND allocated_quantity OPERATOR(pg_catalog.<=)"
	" (purchased_quantity OPERATOR(pg_catalog.-) $3)"
	" ORDER BY eta NULLS FIRST, reference LIMIT $4)",
	.nargs = 4,
	.argtypes = {TEXTOID, TEXTOID, INT4OID, INT8OID},
	.expected = SPI_OK_SELECT,
	.cursor_options = CURSOR_OPT_GENERIC_PLAN
};

static al_pg_statement line_insert_stmt = {
	.sql = "INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)"
	" VALUES ($1, $2, $3, $4, $5)",
	.nargs = 5,
	.argtypes = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement line_insert_many_stmt = {
	.sql = "INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)"
	" SELECT $1, pg_catalog.unnest($2::pg_catalog.text[]),"
	" pg_catalog.unnest($3::pg_catalog.int4[]),"
	" pg_catalog.unnest($4::pg_catalog.text[]),"
	" pg_catalog.unnest($5::pg_catalog.int8[])",
	.nargs = 5,
	.argtypes = {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT8ARRAYOID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement line_update_stmt = {
	.sql = "UPDATE allocation.order_lines SET qty = $3, batchref = $4, seq = $5"
	" WHERE sku" EQ "$1 AND orderid" EQ "$2",
	.nargs = 5,
	.argtypes = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID},
	.expected = SPI_OK_UPDATE
};

static al_pg_statement line_delete_stmt = {
	.sql = "DELETE FROM allocation.order_lines WHERE sku" EQ "$1"
	" AND orderid" EQ "$2",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expected = SPI_OK_DELETE
};

static al_pg_statement products_lock_stmt = {
	.sql = "SELECT sku, version_number, line_seq, event_seq, event_key, wal_only_seq"
	" FROM allocation.product_state WHERE sku" EQ "ANY ($1)"
	" ORDER BY sku FOR NO KEY UPDATE",
	.nargs = 1,
	.argtypes = {TEXTARRAYOID},
	.expected = SPI_OK_SELECT
};
/* columns of products_lock_stmt */
enum
{
	PRODUCTS_LOCK_SKU = 1,
	PRODUCTS_LOCK_VERSION,
	PRODUCTS_LOCK_LINE_SEQ,
	PRODUCTS_LOCK_EVENT_SEQ,
	PRODUCTS_LOCK_EVENT_KEY,
	PRODUCTS_LOCK_WAL_ONLY_SEQ
};

static al_pg_statement products_save_stmt = {
	.sql = "UPDATE allocation.product_state p SET version_number = u.v,"
	" line_seq = u.l, event_seq = u.e, event_key = u.k, wal_only_seq = u.w"
	" FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS s,"
	" pg_catalog.unnest($2::pg_catalog.int8[]) AS v,"
	" pg_catalog.unnest($3::pg_catalog.int8[]) AS l,"
	" pg_catalog.unnest($4::pg_catalog.int8[]) AS e,"
	" pg_catalog.unnest($5::pg_catalog.int8[]) AS k,"
	" pg_catalog.unnest($6::pg_catalog.int8[]) AS o,"
	" pg_catalog.unnest($7::pg_catalog.int8[]) AS w) u"
	" WHERE p.sku" EQ "u.s AND p.version_number" EQ "u.o",
	.nargs = 7,
	.argtypes = {TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID},
	.expected = SPI_OK_UPDATE
};

/*
 * One primary-key probe per line, whatever the planner thinks of the
 * table: OFFSET 0 keeps each LATERAL subquery a parameterized index
 * scan (as a plain join, a large call was planned as a hash join over
 * every order line, its cost growing with the history).
 */
static al_pg_statement lines_of_orders_stmt = {
	.sql = "SELECT l.sku, l.orderid, l.batchref, l.qty, l.seq,"
	" b.purchased_quantity, b.allocated_quantity, b.eta"
	" FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS s,"
	" pg_catalog.unnest($2::pg_catalog.text[]) AS o) r,"
	" LATERAL (SELECT l.sku, l.orderid, l.batchref, l.qty, l.seq"
	"  FROM allocation.order_lines l"
	"  WHERE l.sku" EQ "r.s AND l.orderid" EQ "r.o OFFSET 0) l,"
	" LATERAL (SELECT b.purchased_quantity, b.allocated_quantity, b.eta"
	"  FROM allocation.batches b"
	"  WHERE b.reference" EQ "l.batchref OFFSET 0) b",
	.nargs = 2,
	.argtypes = {TEXTARRAYOID, TEXTARRAYOID},
	.expected = SPI_OK_SELECT
};
/* columns of lines_of_orders_stmt */
enum
{
	LOO_SKU = 1,
	LOO_ORDERID,
	LOO_BATCHREF,
	LOO_QTY,
	LOO_SEQ,
	LOO_PURCHASED,
	LOO_ALLOCATED,
	LOO_ETA
};

/* the first page of candidates_stmt of every SKU of $1, floors in $2 */
static al_pg_statement candidates_many_stmt = {
	.sql = "SELECT r.s, b.reference, b.purchased_quantity, b.allocated_quantity,"
	" b.eta FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS s,"
	" pg_catalog.unnest($2::pg_catalog.int4[]) AS q) r,"
	" LATERAL (SELECT b.reference, b.purchased_quantity,"
	"  b.allocated_quantity, b.eta FROM allocation.batches b"
	"  WHERE b.sku" EQ "r.s AND b.has_stock"
	"  AND b.allocated_quantity OPERATOR(pg_catalog.<=)"
	"  (b.purchased_quantity OPERATOR(pg_catalog.-) r.q)"
	"  ORDER BY b.eta NULLS FIRST, b.reference LIMIT $3) b",
	.nargs = 3,
	.argtypes = {TEXTARRAYOID, INT4ARRAYOID, INT8OID},
	.expected = SPI_OK_SELECT,
	.cursor_options = CURSOR_OPT_GENERIC_PLAN
};
/* columns of candidates_many_stmt */
enum
{
	CM_SKU = 1,
	CM_REF,
	CM_PURCHASED,
	CM_ALLOCATED,
	CM_ETA
};

static al_pg_statement batches_update_stmt = {
	.sql = "UPDATE allocation.batches b SET purchased_quantity = u.p,"
	" allocated_quantity = u.a"
	" FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS r,"
	" pg_catalog.unnest($2::pg_catalog.int4[]) AS p,"
	" pg_catalog.unnest($3::pg_catalog.int4[]) AS a) u"
	" WHERE b.reference" EQ "u.r",
	.nargs = 3,
	.argtypes = {TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID},
	.expected = SPI_OK_UPDATE
};

static al_pg_statement line_insert_any_sku_stmt = {
	.sql = "INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)"
	" SELECT pg_catalog.unnest($1::pg_catalog.text[]),"
	" pg_catalog.unnest($2::pg_catalog.text[]),"
	" pg_catalog.unnest($3::pg_catalog.int4[]),"
	" pg_catalog.unnest($4::pg_catalog.text[]),"
	" pg_catalog.unnest($5::pg_catalog.int8[])",
	.nargs = 5,
	.argtypes = {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT8ARRAYOID},
	.expected = SPI_OK_INSERT
};



/* Remember where batch ref is. */
static void
remember_batch_tid(al_pg_session *s, const char *ref, ItemPointer tid)
{
	repo_state *rs = state_of(s);

	if (rs->nbatch_tids == rs->batch_tids_cap)
	{
		int			cap = rs->batch_tids_cap > 0 ? rs->batch_tids_cap * 2 : 16;
		batch_tid_entry *a = MemoryContextAlloc(s->arena_cxt,
													   sizeof(*a) * cap);

		if (rs->nbatch_tids > 0)
			memcpy(a, rs->batch_tids, sizeof(*a) * rs->nbatch_tids);
		rs->batch_tids = a;
		rs->batch_tids_cap = cap;
	}
	rs->batch_tids[rs->nbatch_tids].ref = ref;
	ItemPointerCopy(tid, &rs->batch_tids[rs->nbatch_tids].tid);
	rs->nbatch_tids++;
}

/* The same, SPI row i's column col being its ctid. */
static void
remember_batch_ctid(al_pg_session *s, const char *ref, uint64 i, int col)
{
	remember_batch_tid(s, ref, (ItemPointer) DatumGetPointer(al_pg_datum(i, col)));
}

/* The TID remembered for batch ref, or NULL. */
static ItemPointer
batch_tid(al_pg_session *s, const char *ref)
{
	repo_state *rs = state_of(s);

	/* the latest first: a batch read twice was read last with its TID now */
	for (int i = rs->nbatch_tids - 1; i >= 0; i--)
		if (strcmp(rs->batch_tids[i].ref, ref) == 0)
			return &rs->batch_tids[i].tid;
	return NULL;
}

static const al_pg_index_shape product_state_pkey = {
	.table = "product_state", .index = "product_state_pkey",
	.ncols = 1, .cols = {"sku"},
	.unique = true
};

/*
 * product_lock_stmt by index (Note 6): *found says whether the row was
 * there and is now locked; p is loaded from it.  False: the index cannot
 * be read here, nothing done.
 */
static bool
lock_product(al_pg_session *s, const char *sku, al_product *p, bool *found)
{
	repo_state *rs = state_of(s);
	al_pg_index_read r;
	Datum		keys[1] = {TEXT(sku)};

	if (!al_pg_index_begin_for_update(s, &r, &product_state_pkey, 1, keys))
		return false;
	*found = al_pg_index_next(&r) && al_pg_index_lock(&r);
	if (*found)
	{
		al_product_init(p, &s->mem, sku,
						DatumGetInt64(al_pg_index_datum(&r, al_pg_index_attnum(&r, "version_number"))),
						DatumGetInt64(al_pg_index_datum(&r, al_pg_index_attnum(&r, "line_seq"))));
		p->event_seq = DatumGetInt64(al_pg_index_datum(&r, al_pg_index_attnum(&r, "event_seq")));
		p->event_key = (uint64) DatumGetInt64(al_pg_index_datum(&r, al_pg_index_attnum(&r, "event_key")));
		p->wal_only_seq = DatumGetInt64(al_pg_index_datum(&r, al_pg_index_attnum(&r, "wal_only_seq")));
		ItemPointerCopy(&r.slot->tts_tid, &rs->product_tid);
		rs->tid_sku = p->sku;
	}
	al_pg_index_end(&r);
	return true;
}

/*
 * A product this transaction cannot see may have been created after its
 * snapshot: under REPEATABLE READ and SERIALIZABLE that is a concurrency
 * conflict (40001, which a retry loop retries and which then finds it),
 * not an unknown SKU (ZA001, which a client would not retry).  Under READ
 * COMMITTED the statements saw the latest state already.
 */
static al_pg_statement product_exists_stmt = {
	.sql = "SELECT 1 FROM allocation.product_state WHERE sku" EQ "$1",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};

static al_status
unknown_sku(al_pg_session *s, const char *sku)
{
	Datum		args[1] = {TEXT(sku)};

	if (IsolationUsesXactSnapshot() &&
		al_pg_run_latest(s, &product_exists_stmt, args, NULL) > 0)
		return AL_CONCURRENT_UPDATE;
	return AL_UNKNOWN_SKU;
}

static al_status
repo_get(void *ctx, const char *sku, bool create, al_product *p)
{
	al_pg_session *s = ctx;
	repo_state *rs = state_of(s);
	Datum		args[1] = {TEXT(sku)};
	bool		found;

	rs->tid_sku = NULL;
	rs->nbatch_tids = 0;
	if (create)
		al_pg_run(s, &product_create_stmt, args, NULL);
	if (lock_product(s, sku, p, &found))
		return found ? AL_OK : unknown_sku(s, sku);
	if (al_pg_run(s, &product_lock_stmt, args, NULL) == 0)
		return unknown_sku(s, sku);
	al_product_init(p, &s->mem, sku, al_pg_int8(0, PRODUCT_LOCK_VERSION),
					al_pg_int8(0, PRODUCT_LOCK_LINE_SEQ));
	p->event_seq = al_pg_int8(0, PRODUCT_LOCK_EVENT_SEQ);
	p->event_key = (uint64) al_pg_int8(0, PRODUCT_LOCK_EVENT_KEY);
	p->wal_only_seq = al_pg_int8(0, PRODUCT_LOCK_WAL_ONLY_SEQ);
	ItemPointerCopy((ItemPointer) DatumGetPointer(al_pg_datum(0, PRODUCT_LOCK_CTID)),
					&rs->product_tid);
	rs->tid_sku = p->sku;
	return AL_OK;
}

static al_status
repo_sku_of_batch(void *ctx, const char *ref, const char **sku)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(ref)};

	if (al_pg_run(s, &batch_sku_stmt, args, NULL) == 0)
	{
		/* as unknown_sku(): made after the snapshot is a conflict */
		if (IsolationUsesXactSnapshot() &&
			al_pg_run_latest(s, &batch_sku_stmt, args, NULL) > 0)
			return AL_CONCURRENT_UPDATE;
		return AL_UNKNOWN_BATCH;
	}
	*sku = al_pg_text(s, 0, BATCH_SKU_SKU);
	return AL_OK;
}

/*
 * Under REPEATABLE READ the batch may have been made after the snapshot:
 * the insert would then fail on the primary key, so it is looked for in
 * the latest state too, and refused with the domain's message (23505).
 */
static bool
repo_batch_exists(void *ctx, const char *ref)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(ref)};

	return al_pg_run(s, &batch_sku_stmt, args, NULL) > 0 ||
		(IsolationUsesXactSnapshot() &&
		 al_pg_run_latest(s, &batch_sku_stmt, args, NULL) > 0);
}

/* Load SPI row i, columns (purchased, allocated, eta) from col. */
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
exec_ordered(al_pg_session *s, al_pg_statement *stmt, Datum *args)
{
	int			nest = NewGUCNestLevel();
	uint64		n;

	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	n = al_pg_run(s, stmt, args, NULL);
	AtEOXact_GUC(true, nest);
	return n;
}

/*
 * The indexes allocate's reads go through without a statement (Note 6),
 * as the schema creates them.
 */
static const al_pg_index_shape order_lines_pkey = {
	.table = "order_lines", .index = "order_lines_pkey",
	.ncols = 2, .cols = {"sku", "orderid"},
	.unique = true
};
static const al_pg_index_shape batches_pkey = {
	.table = "batches", .index = "batches_pkey",
	.ncols = 1, .cols = {"reference"},
	.unique = true
};
static const al_pg_index_shape batches_available = {
	.table = "batches", .index = "batches_available",
	.ncols = 3, .cols = {"sku", "eta", "reference"},
	.nulls_first = {false, true, false},
	.predicate = "has_stock"
};

/* Load the batch row r is on, remembering its TID; its index in p. */
static int
load_indexed_batch(al_pg_session *s, al_product *p, al_pg_index_read *r,
				   const char *ref, bool candidate)
{
	AttrNumber	eta = al_pg_index_attnum(r, "eta");
	int32		purchased = DatumGetInt32(al_pg_index_datum(r, al_pg_index_attnum(r, "purchased_quantity")));
	int32		allocated = DatumGetInt32(al_pg_index_datum(r, al_pg_index_attnum(r, "allocated_quantity")));
	bool		has_eta = !al_pg_index_isnull(r, eta);
	int32		eta_day = has_eta ? DatumGetDateADT(al_pg_index_datum(r, eta)) : 0;

	remember_batch_tid(s, ref, &r->slot->tts_tid);
	return candidate ?
		al_product_load_candidate(p, ref, purchased, allocated, has_eta, eta_day) :
		al_product_load_batch(p, ref, purchased, allocated, has_eta, eta_day);
}

/*
 * line_get_stmt by index: the line of orderid, then its batch.  False:
 * an index cannot be read here (index_read.c, Note 3); nothing loaded.
 */
static bool
read_line(al_pg_session *s, al_product *p, const char *orderid)
{
	al_pg_index_read r;
	Datum		keys[2] = {TEXT(p->sku), TEXT(orderid)};
	char	   *ref = NULL;
	int32		qty = 0;
	int64		seq = 0;
	bool		found = false;

	if (!al_pg_index_begin(s, &r, &order_lines_pkey, 2, keys))
		return false;
	if (al_pg_index_next(&r))
	{
		ref = al_pg_index_text(s, &r, al_pg_index_attnum(&r, "batchref"));
		qty = DatumGetInt32(al_pg_index_datum(&r, al_pg_index_attnum(&r, "qty")));
		seq = DatumGetInt64(al_pg_index_datum(&r, al_pg_index_attnum(&r, "seq")));
	}
	al_pg_index_end(&r);
	if (ref == NULL)
		return true;
	keys[0] = TEXT(ref);
	if (!al_pg_index_begin(s, &r, &batches_pkey, 1, keys))
		return false;
	if (al_pg_index_next(&r))
	{
		/* the batch first: a line's batch must be loaded before the line */
		load_indexed_batch(s, p, &r, ref, false);
		found = true;
	}
	al_pg_index_end(&r);
	if (found)
		al_product_load_line(p, orderid, qty, ref, seq);
	return true;
}

/*
 * candidates_stmt by index: a page of p->cand.limit candidates after the
 * first offset.  False: the index cannot be read here; nothing loaded.
 */
static bool
read_candidates(al_pg_session *s, al_product *p, int64 offset)
{
	al_pg_index_read r;
	Datum		keys[1] = {TEXT(p->sku)};
	AttrNumber	has_stock,
				purchased,
				allocated;
	int			rows = 0;

	if (!al_pg_index_begin(s, &r, &batches_available, 1, keys))
		return false;
	has_stock = al_pg_index_attnum(&r, "has_stock");
	purchased = al_pg_index_attnum(&r, "purchased_quantity");
	allocated = al_pg_index_attnum(&r, "allocated_quantity");
	while (rows < p->cand.limit && al_pg_index_next(&r))
	{
		/* the statement's conditions; has_stock is the index's predicate */
		if (al_pg_index_isnull(&r, has_stock) ||
			!DatumGetBool(al_pg_index_datum(&r, has_stock)) ||
			(int64) DatumGetInt32(al_pg_index_datum(&r, allocated)) >
			(int64) DatumGetInt32(al_pg_index_datum(&r, purchased)) - p->cand.min_qty)
			continue;
		if (offset > 0)
		{
			offset--;
			continue;
		}
		load_indexed_batch(s, p, &r,
						   al_pg_index_text(s, &r, al_pg_index_attnum(&r, "reference")),
						   true);
		rows++;
	}
	al_pg_index_end(&r);
	al_product_candidates_read(p, rows);
	return true;
}

static void repo_load_candidates(void *ctx, al_product *p);

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
	Datum		args[4];
	uint64		n;
	int			rows = 0;

	/* by index (Note 6), the first page of candidates as any other */
	if (read_line(s, p, orderid))
	{
		if (with_candidates)
			repo_load_candidates(s, p);
		return;
	}
	args[0] = TEXT(p->sku);
	args[1] = TEXT(orderid);
	args[2] = Int32GetDatum(p->cand.min_qty);
	args[3] = Int64GetDatum(p->cand.limit);
	n = with_candidates ? exec_ordered(s, &line_and_candidates_stmt, args)
		: al_pg_run(s, &line_get_stmt, args, NULL);

	for (uint64 i = 0; i < n; i++)
	{
		char	   *ref = al_pg_text(s, i, LINE_BATCHREF);
		bool		has_eta = !al_pg_isnull(i, LINE_ETA);
		int32		eta = has_eta ? DatumGetDateADT(al_pg_datum(i, LINE_ETA)) : 0;

		remember_batch_ctid(s, ref, i, LINE_CTID);
		if (al_pg_isnull(i, LINE_QTY))
		{
			/* a candidate, in preference order */
			al_product_load_candidate(p, ref, al_pg_int4(i, LINE_PURCHASED),
									  al_pg_int4(i, LINE_ALLOCATED), has_eta,
									  eta);
			rows++;
			continue;
		}
		/* the batch first: a line's batch must be loaded before the line */
		load_batch_row(s, p, ref, i, LINE_PURCHASED);
		al_product_load_line(p, orderid, al_pg_int4(i, LINE_QTY), ref,
							 al_pg_int8(i, LINE_SEQ));
	}
	if (with_candidates)
		al_product_candidates_read(p, rows);
}

/* The next page of candidates of p (port al_repository.load_candidates). */
static void
repo_load_candidates(void *ctx, al_product *p)
{
	al_pg_session *s = ctx;
	Datum		args[4];
	uint64		n;

	if (read_candidates(s, p, p->cand.offset))
		return;
	args[0] = TEXT(p->sku);
	args[1] = Int32GetDatum(p->cand.min_qty);
	args[2] = Int64GetDatum(p->cand.limit);
	args[3] = Int64GetDatum(p->cand.offset);
	n = exec_ordered(s, &candidates_stmt, args);

	for (uint64 i = 0; i < n; i++)
	{
		char	   *ref = al_pg_text(s, i, CAND_REF);
		bool		has_eta = !al_pg_isnull(i, CAND_ETA);

		al_product_load_candidate(p, ref, al_pg_int4(i, CAND_PURCHASED),
								  al_pg_int4(i, CAND_ALLOCATED), has_eta,
								  has_eta ? DatumGetDateADT(al_pg_datum(i, CAND_ETA)) : 0);
		remember_batch_ctid(s, ref, i, CAND_CTID);
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

	if (al_pg_run(s, &batch_get_stmt, args, NULL) == 0)
		return AL_UNKNOWN_BATCH;
	bi = load_batch_row(s, p, ref, 0, BATCH_GET_PURCHASED);
	remember_batch_ctid(s, p->batches[bi].ref, 0, BATCH_GET_CTID);
	n = al_pg_run(s, &batch_lines_stmt, args, NULL);
	for (uint64 i = 0; i < n; i++)
		al_product_load_line(p, al_pg_text(s, i, BATCH_LINES_ORDERID),
							 al_pg_int4(i, BATCH_LINES_QTY), ref,
							 al_pg_int8(i, BATCH_LINES_SEQ));
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
		if (al_pg_run(s, &batch_insert_stmt, args, nulls) == 0)
		{
			al_error_context ec = {.function = "allocation.add_batch"};

			ec.ref = b->ref;
			ec.sku = p->sku;
			al_raise(AL_DUPLICATE_BATCH, &ec);
		}
	}
	else if (b->dirty)
	{
		Datum		args[4] = {TEXT(b->ref), Int32GetDatum(b->purchased),
		Int32GetDatum(b->allocated)};
		ItemPointer tid = batch_tid(s, b->ref);

		if (tid != NULL)
		{
			args[3] = PointerGetDatum(tid);
			if (al_pg_run(s, &batch_update_tid_stmt, args, NULL) == 1)
				return;
		}
		al_pg_run(s, &batch_update_stmt, args, NULL);
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
		al_pg_run(s, &line_delete_stmt, args, NULL);
		return;
	}
	args[2] = Int32GetDatum(l->qty);
	args[3] = TEXT(p->batches[l->batch].ref);
	args[4] = Int64GetDatum(l->seq);
	al_pg_run(s, l->stored_batch < 0 ? &line_insert_stmt : &line_update_stmt,
			  args, NULL);
}

static al_status
repo_save(void *ctx, al_product *p)
{
	al_pg_session *s = ctx;
	repo_state *rs = state_of(s);
	Datum		args[8];

	al_pg_rows	inserts = {0};

	/* lines before batches: a batch's new quantities hold only with them */
	for (int i = 0; i < p->nlines; i++)
		save_line(s, p, &p->lines[i], &inserts);
	if (inserts.n > 0)
	{
		static const Oid types[4] = {TEXTOID, INT4OID, TEXTOID, INT8OID};
		Datum		sku = TEXT(p->sku);

		al_pg_rows_flush(s, &inserts, 4, types, &line_insert_stmt,
						 &line_insert_many_stmt, 1, &sku);
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
	args[6] = Int64GetDatum(p->wal_only_seq);
	if (rs->tid_sku != NULL && strcmp(rs->tid_sku, p->sku) == 0)
	{
		args[7] = PointerGetDatum(&rs->product_tid);
		rs->tid_sku = NULL;		/* the row moves now */
		if (al_pg_run(s, &product_save_tid_stmt, args, NULL) == 1)
			return AL_OK;
	}
	if (al_pg_run(s, &product_save_stmt, args, NULL) != 1)
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
	uint64		rows = al_pg_run(s, &products_lock_stmt, args, NULL);
	uint64		r = 0;

	for (int i = 0; i < n; i++)
	{
		char	   *sku = r < rows ? al_pg_text(s, r, PRODUCTS_LOCK_SKU) : NULL;

		if (sku == NULL || strcmp(sku, skus[i]) != 0)
		{
			*missing = i;
			return unknown_sku(s, skus[i]);
		}
		al_product_init(&products[i], &s->mem, skus[i],
						al_pg_int8(r, PRODUCTS_LOCK_VERSION),
						al_pg_int8(r, PRODUCTS_LOCK_LINE_SEQ));
		products[i].event_seq = al_pg_int8(r, PRODUCTS_LOCK_EVENT_SEQ);
		products[i].event_key = (uint64) al_pg_int8(r, PRODUCTS_LOCK_EVENT_KEY);
		products[i].wal_only_seq = al_pg_int8(r, PRODUCTS_LOCK_WAL_ONLY_SEQ);
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
	al_pg_rows	probes = {0};

	/*
	 * A chunk of lines at a time (spi.h, AL_PG_ROWS_CHUNK), each probed in
	 * (sku, orderid) order: the probes walk order_lines_pkey.
	 */
	for (int from = 0; from < n; from += AL_PG_ROWS_CHUNK)
	{
		static const Oid types[2] = {TEXTOID, TEXTOID};
		int			to = Min(n, from + AL_PG_ROWS_CHUNK);

		for (int i = from; i < to; i++)
		{
			Datum		row[2] = {TEXT(skus[i]), TEXT(orderids[i])};

			al_pg_rows_add(s, &probes, 2, row);
		}
		al_pg_rows_sort(&probes, 2, 0, 1);
		args[0] = al_pg_rows_array(&probes, 0, TEXTOID);
		args[1] = al_pg_rows_array(&probes, 1, TEXTOID);
		rows = al_pg_run(s, &lines_of_orders_stmt, args, NULL);
		pfree(DatumGetPointer(args[0]));
		pfree(DatumGetPointer(args[1]));
		al_pg_rows_clear(&probes, 2, types);
		for (uint64 i = 0; i < rows; i++)
		{
			al_product *p = &products[product_index(products, nproducts,
													al_pg_text(s, i, LOO_SKU))];
			char	   *ref = al_pg_text(s, i, LOO_BATCHREF);

			load_batch_row(s, p, ref, i, LOO_PURCHASED);
			al_product_load_line(p, al_pg_text(s, i, LOO_ORDERID),
								 al_pg_int4(i, LOO_QTY), ref,
								 al_pg_int8(i, LOO_SEQ));
		}
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
		rows = exec_ordered(s, &candidates_many_stmt, margs);
		/* each SKU's rows come together, in preference order (LATERAL) */
		for (uint64 i = 0; i < rows; i++)
		{
			int			k = product_index(products, nproducts,
										  al_pg_text(s, i, CM_SKU));
			bool		has_eta = !al_pg_isnull(i, CM_ETA);

			al_product_load_candidate(&products[k], al_pg_text(s, i, CM_REF),
									  al_pg_int4(i, CM_PURCHASED),
									  al_pg_int4(i, CM_ALLOCATED), has_eta,
									  has_eta ? DatumGetDateADT(al_pg_datum(i, CM_ETA)) : 0);
			read[k]++;
		}
		for (int k = 0; k < nproducts; k++)
			al_product_candidates_read(&products[k], read[k]);
	}
}

/*
 * Insert the new lines held in rows, of any SKU, sorted by the primary key
 * (sku, orderid), and empty the buffer.  save_many calls it for each
 * chunk (spi.h, AL_PG_ROWS_CHUNK) and for the rest.
 */
static void
insert_lines(al_pg_session *s, al_pg_rows *lines)
{
	static const Oid types[5] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID};

	al_pg_rows_sort(lines, 5, 0, 1);
	al_pg_rows_flush(s, lines, 5, types, &line_insert_stmt,
					 &line_insert_any_sku_stmt, 0, NULL);
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
				if (al_pg_rows_full(&lines))
					insert_lines(s, &lines);
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
			Datum		row[7] = {TEXT(p->sku),
				Int64GetDatum(al_product_next_version(p)),
				Int64GetDatum(p->line_seq), Int64GetDatum(p->event_seq),
				Int64GetDatum((int64) p->event_key),
				Int64GetDatum(p->version),
			Int64GetDatum(p->wal_only_seq)};

			al_pg_rows_add(s, &prods, 7, row);
		}
	}
	insert_lines(s, &lines);
	if (batches.n > 0)
	{
		Datum		args[3];
		static const Oid types[3] = {TEXTOID, INT4OID, INT4OID};

		al_pg_rows_sort(&batches, 3, 0, 0); /* by reference: the primary key */
		for (int c = 0; c < 3; c++)
			args[c] = al_pg_rows_array(&batches, c, types[c]);
		al_pg_run(s, &batches_update_stmt, args, NULL);
	}
	if (prods.n > 0)
	{
		Datum		args[7];

		args[0] = al_pg_rows_array(&prods, 0, TEXTOID);
		for (int c = 1; c < 7; c++)
			args[c] = al_pg_rows_array(&prods, c, INT8OID);
		/* rule 7: every product from the version it was loaded at */
		written = al_pg_run(s, &products_save_stmt, args, NULL);
		if (written != (uint64) prods.n)
			return AL_CONCURRENT_UPDATE;
	}
	return AL_OK;
}

/* Called once by _PG_init (through al_pg_session_init): the state slot. */
void
al_pg_repository_init(void)
{
	repo_slot = al_pg_register(&repo_adapter);
}

/* The port al_repository, bound to session s. */
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
