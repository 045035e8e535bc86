/*-------------------------------------------------------------------------
 *
 * pg_session.c
 *	  One SQL call's session with the server, and the kept SPI plans.
 *
 * Notes (memory and lifetimes):
 *	1) Plans: one SPIPlanPtr per al_query, prepared on first use and kept
 *	   with SPI_keepplan (under CacheMemoryContext, for the backend's
 *	   life).  The plan cache re-analyses them after DDL, so a DROP and
 *	   CREATE EXTENSION in the same backend is safe.  Every name in them is
 *	   schema-qualified and every operator is OPERATOR(pg_catalog.x), so a
 *	   re-analysis under a hostile search_path finds only our objects.
 *	2) Arena: the core's memory (products, events) lives in arena_cxt, a
 *	   child of the caller's context created by al_pg_begin and deleted by
 *	   al_pg_end; an ERROR frees it with its parent.  Anything returned to
 *	   the caller is copied into caller_cxt first.
 *	3) SPI memory: the session runs with the arena as CurrentMemoryContext,
 *	   so arguments built by the adapters go with it.  A statement's
 *	   SPI_tuptable is freed when the next statement runs (al_pg_exec): the
 *	   adapters copy what they keep into the arena first.  A long
 *	   allocate_many thus stays flat: it resets the arena after each line.
 *	4) Rights: the functions are not SECURITY DEFINER.  Instead the
 *	   session switches to the owner of extension allocation with
 *	   SECURITY_LOCAL_USERID_CHANGE, as ri_triggers.c does for its checks,
 *	   and pins search_path to pg_catalog, pg_temp at a GUC nest level of
 *	   its own, as a SET clause does (fmgr_security_definer); an ERROR
 *	   restores both with the (sub)transaction.  The pin is defence in
 *	   depth: a kept plan is re-analysed under the search_path of the
 *	   moment, so one unqualified name would otherwise resolve in the
 *	   caller's schemas with the owner's rights.  Plugins set their
 *	   subscriber's search_path on top of it (isolation.c).
 *
 * src/adapters/pg_session.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "pg_session.h"
#include "settings.h"

#define EQ AL_EQ

/*
 * The *_MANY statements take one array per column and unnest them in the
 * select list ("SELECT unnest($1), unnest($2), ..."), where the set-
 * returning functions advance in lockstep, row by row, in array order.
 * ROWS FROM (unnest($1), ...) would first copy every array into a
 * tuplestore of its own.  Rows are inserted in array order, which gives
 * the outbox's identity column (position) the order the events were
 * recorded in.
 */

static al_pg_statement QUERIES[Q__COUNT] = {
	[Q_PRODUCT_CREATE] = {
		"INSERT INTO allocation.product_state (sku) VALUES ($1)"
		" ON CONFLICT (sku) DO NOTHING",
		1, {TEXTOID}, SPI_OK_INSERT},
	[Q_PRODUCT_LOCK] = {
		"SELECT version_number, line_seq, event_seq, event_key, ctid"
		" FROM allocation.product_state WHERE sku" EQ "$1"
		" FOR NO KEY UPDATE",
		1, {TEXTOID}, SPI_OK_SELECT},
	[Q_PRODUCT_SAVE] = {
		"UPDATE allocation.product_state SET version_number = $2,"
		" line_seq = $3, event_seq = $4, event_key = $5"
		" WHERE sku" EQ "$1 AND version_number" EQ "$6",
		6, {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID},
		SPI_OK_UPDATE},
	/*
	 * The same by the TID read under the product lock: no second descent of
	 * the primary key.  The key is checked too; a row that moved (updated
	 * again in this transaction) is not found, and the caller falls back to
	 * the statement by key.
	 */
	[Q_PRODUCT_SAVE_TID] = {
		"UPDATE allocation.product_state SET version_number = $2,"
		" line_seq = $3, event_seq = $4, event_key = $5"
		" WHERE ctid" EQ "$7 AND sku" EQ "$1 AND version_number" EQ "$6",
		7, {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TIDOID},
		SPI_OK_UPDATE},
	[Q_BATCH_SKU] = {
		"SELECT sku FROM allocation.batches WHERE reference" EQ "$1",
		1, {TEXTOID}, SPI_OK_SELECT},
	[Q_BATCH_GET] = {
		"SELECT purchased_quantity, allocated_quantity, eta, ctid"
		" FROM allocation.batches WHERE reference" EQ "$1 AND sku" EQ "$2",
		2, {TEXTOID, TEXTOID}, SPI_OK_SELECT},
	[Q_BATCH_LINES] = {
		"SELECT orderid, qty, seq FROM allocation.order_lines"
		" WHERE batchref" EQ "$1",
		1, {TEXTOID}, SPI_OK_SELECT},
	[Q_BATCH_INSERT] = {
		"INSERT INTO allocation.batches (reference, sku, purchased_quantity,"
		" allocated_quantity, eta) VALUES ($1, $2, $3, $4, $5)",
		5, {TEXTOID, TEXTOID, INT4OID, INT4OID, DATEOID}, SPI_OK_INSERT},
	[Q_BATCH_UPDATE] = {
		"UPDATE allocation.batches SET purchased_quantity = $2,"
		" allocated_quantity = $3 WHERE reference" EQ "$1",
		3, {TEXTOID, INT4OID, INT4OID}, SPI_OK_UPDATE},
	/* by the TID read under the product lock, as Q_PRODUCT_SAVE_TID */
	[Q_BATCH_UPDATE_TID] = {
		"UPDATE allocation.batches SET purchased_quantity = $2,"
		" allocated_quantity = $3 WHERE ctid" EQ "$4 AND reference" EQ "$1",
		4, {TEXTOID, INT4OID, INT4OID, TIDOID}, SPI_OK_UPDATE},
	/*
	 * Candidates (product.h, Note 4): the batches of a SKU with at least
	 * $2 available, in the core's preference order (al_batch_preference:
	 * warehouse first, then eta, then reference in byte order, the C
	 * collation of the column), a page of $3 after the $4 read before.
	 * batches_available holds the batches with stock in that order, so
	 * the scan stops after the page.  One generic plan, planned once (with
	 * the ordered scan, product_repository.c Note 5), not a custom plan per call.
	 */
	[Q_CANDIDATES] = {
		"SELECT reference, purchased_quantity, allocated_quantity, eta, ctid"
		" FROM allocation.batches WHERE sku" EQ "$1 AND has_stock"
		" AND allocated_quantity OPERATOR(pg_catalog.<=)"
		" (purchased_quantity OPERATOR(pg_catalog.-) $2)"
		" ORDER BY eta NULLS FIRST, reference LIMIT $3 OFFSET $4",
		4, {TEXTOID, INT4OID, INT8OID, INT8OID}, SPI_OK_SELECT,
		CURSOR_OPT_GENERIC_PLAN},
	[Q_LINE_GET] = {
		"SELECT l.batchref, l.qty, l.seq, b.purchased_quantity,"
		" b.allocated_quantity, b.eta, b.ctid"
		" FROM allocation.order_lines l JOIN allocation.batches b"
		" ON b.reference" EQ "l.batchref"
		" WHERE l.sku" EQ "$1 AND l.orderid" EQ "$2",
		2, {TEXTOID, TEXTOID}, SPI_OK_SELECT},
	/* Q_LINE_GET, then the first page of Q_CANDIDATES: one round trip */
	[Q_LINE_AND_CANDIDATES] = {
		"SELECT l.batchref, l.qty, l.seq, b.purchased_quantity,"
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
		4, {TEXTOID, TEXTOID, INT4OID, INT8OID}, SPI_OK_SELECT,
		CURSOR_OPT_GENERIC_PLAN},
	[Q_LINE_INSERT_MANY] = {
		"INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)"
		" SELECT $1, pg_catalog.unnest($2::pg_catalog.text[]),"
		" pg_catalog.unnest($3::pg_catalog.int4[]),"
		" pg_catalog.unnest($4::pg_catalog.text[]),"
		" pg_catalog.unnest($5::pg_catalog.int8[])",
		5, {TEXTOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT8ARRAYOID},
		SPI_OK_INSERT},
	[Q_PRODUCTS_LOCK] = {
		"SELECT sku, version_number, line_seq, event_seq, event_key"
		" FROM allocation.product_state WHERE sku" EQ "ANY ($1)"
		" ORDER BY sku FOR NO KEY UPDATE",
		1, {TEXTARRAYOID}, SPI_OK_SELECT},
	[Q_PRODUCTS_SAVE] = {
		"UPDATE allocation.product_state p SET version_number = u.v,"
		" line_seq = u.l, event_seq = u.e, event_key = u.k"
		" FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS s,"
		" pg_catalog.unnest($2::pg_catalog.int8[]) AS v,"
		" pg_catalog.unnest($3::pg_catalog.int8[]) AS l,"
		" pg_catalog.unnest($4::pg_catalog.int8[]) AS e,"
		" pg_catalog.unnest($5::pg_catalog.int8[]) AS k,"
		" pg_catalog.unnest($6::pg_catalog.int8[]) AS o) u"
		" WHERE p.sku" EQ "u.s AND p.version_number" EQ "u.o",
		6, {TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
		INT8ARRAYOID, INT8ARRAYOID}, SPI_OK_UPDATE},
	/*
	 * One primary-key probe per line, whatever the planner thinks of the
	 * table: OFFSET 0 keeps each LATERAL subquery a parameterized index
	 * scan (as a plain join, a large call was planned as a hash join over
	 * every order line, its cost growing with the history).
	 */
	[Q_LINES_OF_ORDERS] = {
		"SELECT l.sku, l.orderid, l.batchref, l.qty, l.seq,"
		" b.purchased_quantity, b.allocated_quantity, b.eta"
		" FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS s,"
		" pg_catalog.unnest($2::pg_catalog.text[]) AS o) r,"
		" LATERAL (SELECT l.sku, l.orderid, l.batchref, l.qty, l.seq"
		"  FROM allocation.order_lines l"
		"  WHERE l.sku" EQ "r.s AND l.orderid" EQ "r.o OFFSET 0) l,"
		" LATERAL (SELECT b.purchased_quantity, b.allocated_quantity, b.eta"
		"  FROM allocation.batches b"
		"  WHERE b.reference" EQ "l.batchref OFFSET 0) b",
		2, {TEXTARRAYOID, TEXTARRAYOID}, SPI_OK_SELECT},
	/* the first page of Q_CANDIDATES of every SKU of $1, floors in $2 */
	[Q_CANDIDATES_MANY] = {
		"SELECT r.s, b.reference, b.purchased_quantity, b.allocated_quantity,"
		" b.eta FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS s,"
		" pg_catalog.unnest($2::pg_catalog.int4[]) AS q) r,"
		" LATERAL (SELECT b.reference, b.purchased_quantity,"
		"  b.allocated_quantity, b.eta FROM allocation.batches b"
		"  WHERE b.sku" EQ "r.s AND b.has_stock"
		"  AND b.allocated_quantity OPERATOR(pg_catalog.<=)"
		"  (b.purchased_quantity OPERATOR(pg_catalog.-) r.q)"
		"  ORDER BY b.eta NULLS FIRST, b.reference LIMIT $3) b",
		3, {TEXTARRAYOID, INT4ARRAYOID, INT8OID}, SPI_OK_SELECT,
		CURSOR_OPT_GENERIC_PLAN},
	[Q_BATCHES_UPDATE] = {
		"UPDATE allocation.batches b SET purchased_quantity = u.p,"
		" allocated_quantity = u.a"
		" FROM (SELECT pg_catalog.unnest($1::pg_catalog.text[]) AS r,"
		" pg_catalog.unnest($2::pg_catalog.int4[]) AS p,"
		" pg_catalog.unnest($3::pg_catalog.int4[]) AS a) u"
		" WHERE b.reference" EQ "u.r",
		3, {TEXTARRAYOID, INT4ARRAYOID, INT4ARRAYOID}, SPI_OK_UPDATE},
	[Q_LINE_INSERT_ANY_SKU] = {
		"INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)"
		" SELECT pg_catalog.unnest($1::pg_catalog.text[]),"
		" pg_catalog.unnest($2::pg_catalog.text[]),"
		" pg_catalog.unnest($3::pg_catalog.int4[]),"
		" pg_catalog.unnest($4::pg_catalog.text[]),"
		" pg_catalog.unnest($5::pg_catalog.int8[])",
		5, {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		INT8ARRAYOID}, SPI_OK_INSERT},
	[Q_LINE_INSERT] = {
		"INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)"
		" VALUES ($1, $2, $3, $4, $5)",
		5, {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID}, SPI_OK_INSERT},
	[Q_LINE_UPDATE] = {
		"UPDATE allocation.order_lines SET qty = $3, batchref = $4, seq = $5"
		" WHERE sku" EQ "$1 AND orderid" EQ "$2",
		5, {TEXTOID, TEXTOID, INT4OID, TEXTOID, INT8OID}, SPI_OK_UPDATE},
	[Q_LINE_DELETE] = {
		"DELETE FROM allocation.order_lines WHERE sku" EQ "$1"
		" AND orderid" EQ "$2",
		2, {TEXTOID, TEXTOID}, SPI_OK_DELETE},
	[Q_OUTBOX_INSERT] = {
		"INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type,"
		" payload, occurred_at, aggregate_seq, commit_key)"
		" VALUES ($7, $1, $2, $3, $4, pg_catalog.clock_timestamp(), $5, $6)",
		7, {TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID, INT8OID, UUIDOID},
		SPI_OK_INSERT},
	[Q_OUTBOX_INSERT_MANY] = {
		"INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type,"
		" payload, occurred_at, aggregate_seq, commit_key)"
		" SELECT pg_catalog.unnest($7::pg_catalog.uuid[]),"
		" pg_catalog.unnest($1::pg_catalog.text[]),"
		" pg_catalog.unnest($2::pg_catalog.text[]),"
		" pg_catalog.unnest($3::pg_catalog.text[]),"
		" pg_catalog.unnest($4::pg_catalog.jsonb[]),"
		" pg_catalog.clock_timestamp(),"
		" pg_catalog.unnest($5::pg_catalog.int8[]),"
		" pg_catalog.unnest($6::pg_catalog.int8[])",
		7, {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID,
		INT8ARRAYOID, INT8ARRAYOID, UUIDARRAYOID}, SPI_OK_INSERT},
	/*
	 * A plain INSERT, no ON CONFLICT: an Allocated event is of a line that
	 * had no allocation (rule 4 found none, or Deallocated removed the row
	 * first), and the read model equals the write model, so there is
	 * nothing to conflict with.  A conflict would mean the read model
	 * drifted (check_invariants reports it, rebuild_read_model repairs it):
	 * the unique violation then stops the command rather than hide it.
	 * Rows come sorted by the primary key (orderid, sku), so that a bulk
	 * insert walks the index leaves in order.
	 */
	[Q_VIEW_INSERT_MANY] = {
		"INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty,"
		" updated_at) SELECT pg_catalog.unnest($1::pg_catalog.text[]),"
		" pg_catalog.unnest($2::pg_catalog.text[]),"
		" pg_catalog.unnest($3::pg_catalog.text[]),"
		" pg_catalog.unnest($4::pg_catalog.int4[]),"
		" pg_catalog.clock_timestamp()",
		4, {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID},
		SPI_OK_INSERT},
	[Q_VIEW_INSERT] = {
		"INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty,"
		" updated_at) VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp())",
		4, {TEXTOID, TEXTOID, TEXTOID, INT4OID}, SPI_OK_INSERT},
	[Q_VIEW_DELETE] = {
		"DELETE FROM allocation.allocations_view WHERE orderid" EQ "$1"
		" AND sku" EQ "$2",
		2, {TEXTOID, TEXTOID}, SPI_OK_DELETE},
	[Q_NOTIFICATION_INSERT] = {
		"INSERT INTO allocation.notifications (recipient, subject, body)"
		" VALUES ($1, $2, $3)",
		3, {TEXTOID, TEXTOID, TEXTOID}, SPI_OK_INSERT},
	[Q_PLUGINS_ALL] = {
		"SELECT event_type,"
		" COALESCE(pg_catalog.to_regprocedure(handler)::pg_catalog.oid, 0),"
		" owner::pg_catalog.oid,"
		" search_path"
		" FROM allocation.subscriptions ORDER BY id",
		0, {InvalidOid}, SPI_OK_SELECT},
	[Q_ORDER_GET] = {
		"SELECT status, version_number, event_seq, event_key"
		" FROM allocation.orders WHERE orderid" EQ "$1 FOR NO KEY UPDATE",
		1, {TEXTOID}, SPI_OK_SELECT},
	[Q_ORDER_INSERT] = {
		"INSERT INTO allocation.orders (orderid, status, version_number,"
		" event_seq, event_key, updated_at)"
		" VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp())"
		" ON CONFLICT (orderid) DO NOTHING",
		5, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID}, SPI_OK_INSERT},
	[Q_ORDER_UPDATE] = {
		"UPDATE allocation.orders SET status = $2, version_number = $3,"
		" event_seq = $4, event_key = $5,"
		" updated_at = pg_catalog.clock_timestamp()"
		" WHERE orderid" EQ "$1 AND version_number" EQ "$6",
		6, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID},
		SPI_OK_UPDATE},
	[Q_ORDER_SUBSCRIBE] = {
		"INSERT INTO allocation.order_subscriptions (orderid, email)"
		" VALUES ($1, $2) ON CONFLICT (orderid, email) DO NOTHING",
		2, {TEXTOID, TEXTOID}, SPI_OK_INSERT},
	[Q_ORDER_SUBSCRIBERS] = {
		"SELECT email FROM allocation.order_subscriptions"
		" WHERE orderid" EQ "$1 ORDER BY subscribed_at, email",
		1, {TEXTOID}, SPI_OK_SELECT},
	[Q_ORDER_ANY] = {
		"SELECT FROM allocation.orders LIMIT 1",
		0, {InvalidOid}, SPI_OK_SELECT},
	/* xmin: was the row written by this transaction (outbox.c)? */
	[Q_CLOCK_GET] = {
		"SELECT system_identifier, key_offset, xmin"
		" FROM allocation.outbox_clock",
		0, {InvalidOid}, SPI_OK_SELECT},
	[Q_CLOCK_RESET] = {
		"INSERT INTO allocation.outbox_clock (system_identifier, key_offset)"
		" SELECT $1, GREATEST(0, GREATEST("
		"  (SELECT pg_catalog.max(commit_key) FROM allocation.outbox),"
		"  (SELECT pg_catalog.max(event_key) FROM allocation.product_state),"
		"  (SELECT pg_catalog.max(event_key) FROM allocation.orders),"
		"  (SELECT pg_catalog.max(last_key) FROM allocation.consumers))"
		"  OPERATOR(pg_catalog.-)"
		"  pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())"
		"   ::pg_catalog.text::pg_catalog.int8 OPERATOR(pg_catalog.+) 1)"
		" ON CONFLICT (id) DO UPDATE SET"
		"  system_identifier = excluded.system_identifier,"
		"  key_offset = GREATEST(allocation.outbox_clock.key_offset,"
		"                        excluded.key_offset)"
		" WHERE allocation.outbox_clock.system_identifier"
		"  OPERATOR(pg_catalog.<>) excluded.system_identifier",
		1, {INT8OID}, SPI_OK_INSERT},
};


static void *
arena_alloc(void *ctx, size_t size)
{
	return MemoryContextAlloc((MemoryContext) ctx, size);
}

/*
 * The owner of extension allocation and the extension's OID, cached until
 * pg_extension changes.  The callback is registered by _PG_init, so no
 * change can slip by before the first use.  A change made by a transaction
 * that rolls back is undone with a local invalidation at the abort, which
 * runs the callback too: the cache never outlives the row it was read from.
 */
static Oid	cached_owner = InvalidOid;

static void
owner_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	cached_owner = InvalidOid;
}

void
al_pg_session_init(void)
{
	CacheRegisterSyscacheCallback(EXTENSIONOID, owner_cache_reset, (Datum) 0);
}

/*
 * Owner of extension allocation: the role whose rights the adapters use.
 * The extension's owner, not the schema's: ALTER SCHEMA ... OWNER TO must
 * not change whose rights the commands run with.
 *
 * The same catalog row says which version of the SQL objects the database
 * has.  This library serves only AL_EXTVERSION (older versions' C symbols
 * are not kept when their tables change), so a database that was not
 * updated after the library was installed gets one clear error naming the
 * cure, instead of a missing relation in the middle of a command.  The
 * check costs nothing after the first call of the backend: it is made
 * when the owner is read, and a mismatch is never cached, so the command
 * after ALTER EXTENSION ... UPDATE (which invalidates the row) runs.
 */
static Oid
extension_owner(void)
{
	Oid			ext;
	HeapTuple	tup;
	Datum		d;
	bool		isnull;
	char	   *version;
	Oid			owner;

	if (OidIsValid(cached_owner))
		return cached_owner;
	ext = get_extension_oid("allocation", false);
	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(ext));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for extension %u", ext);
	owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	d = SysCacheGetAttr(EXTENSIONOID, tup, Anum_pg_extension_extversion, &isnull);
	version = isnull ? pstrdup("(null)") : TextDatumGetCString(d);
	ReleaseSysCache(tup);
	if (strcmp(version, AL_EXTVERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"allocation\" is at version %s in this database, but its installed library is version %s",
						version, AL_EXTVERSION),
				 errhint("Run ALTER EXTENSION allocation UPDATE in this database.")));
	pfree(version);
	cached_owner = owner;
	return cached_owner;
}

/* What search_path is while the owner's statements run. */
#define AL_PINNED_SEARCH_PATH "pg_catalog, pg_temp"

void
al_pg_begin(al_pg_session *s, bool read_only)
{
	int			rc;

	memset(s, 0, sizeof(*s));
	s->read_only = read_only;
	s->caller_cxt = CurrentMemoryContext;
	s->arena_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "allocation command",
										 ALLOCSET_DEFAULT_SIZES);
	s->mem.alloc = arena_alloc;
	s->mem.ctx = s->arena_cxt;
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	/* what the adapters palloc (arguments, copies) goes with the arena */
	MemoryContextSwitchTo(s->arena_cxt);

	/*
	 * Pin search_path for as long as the owner's statements run, as a SET
	 * clause would: a kept plan is re-analysed under the path of the
	 * moment, and must never see the caller's.  al_pg_end pops the level;
	 * an ERROR pops it with the (sub)transaction.
	 */
	s->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", AL_PINNED_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	GetUserIdAndSecContext(&s->saved_userid, &s->saved_sec_context);
	SetUserIdAndSecContext(extension_owner(),
						   s->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
al_pg_end(al_pg_session *s)
{
	int			rc;

	/* nothing held back may be lost (the service flushes; this is a guard) */
	al_pg_flush_outbox(s);
	al_pg_flush_views(s);
	SetUserIdAndSecContext(s->saved_userid, s->saved_sec_context);
	/* the caller's search_path again */
	AtEOXact_GUC(false, s->guc_nestlevel);
	/* a wake-up hint for outbox consumers, sent at commit (listeners.c) */
	if (s->events_recorded)
		al_pg_notify_at_commit();
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));
	MemoryContextSwitchTo(s->caller_cxt);
	MemoryContextDelete(s->arena_cxt);
}

void
al_pg_events_recorded(al_pg_session *s)
{
	s->events_recorded = true;
}

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

uint64
al_pg_run(al_pg_session *s, al_pg_statement *stmt, Datum *values,
		  const char *nulls)
{
	int			rc;

	/* callers copy what they keep before the next statement */
	if (SPI_tuptable != NULL)
	{
		SPI_freetuptable(SPI_tuptable);
		SPI_tuptable = NULL;
	}
	rc = SPI_execute_plan(get_plan(stmt), values, nulls, s->read_only, 0);

	if (rc != stmt->expected)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", stmt->sql,
			 SPI_result_code_string(rc));
	return SPI_processed;
}

uint64
al_pg_exec(al_pg_session *s, al_query q, Datum *values, const char *nulls)
{
	return al_pg_run(s, &QUERIES[q], values, nulls);
}

char *
al_pg_text(al_pg_session *s, uint64 row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &isnull);
	text	   *t;
	char	   *result;
	size_t		len;

	if (isnull)
		return NULL;
	t = DatumGetTextPP(d);
	len = VARSIZE_ANY_EXHDR(t);
	result = MemoryContextAlloc(s->arena_cxt, len + 1);
	memcpy(result, VARDATA_ANY(t), len);
	result[len] = '\0';
	return result;
}

Datum
al_pg_datum(uint64 row, int col)
{
	bool		isnull;

	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 &isnull);
}

bool
al_pg_isnull(uint64 row, int col)
{
	bool		isnull;

	(void) SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 &isnull);
	return isnull;
}

int32
al_pg_int4(uint64 row, int col)
{
	return DatumGetInt32(al_pg_datum(row, col));
}

int64
al_pg_int8(uint64 row, int col)
{
	return DatumGetInt64(al_pg_datum(row, col));
}

void
al_pg_service(al_service *svc, al_pg_session *s)
{
	memset(svc, 0, sizeof(*svc));
	svc->mem = s->mem;
	al_pg_repository(&svc->repo, s);
	al_pg_order_repository(&svc->orders, s);
	al_pg_outbox(&svc->outbox, &svc->views, &svc->notifier, s);
	al_pg_isolation(&svc->isolation, &svc->plugins, s);
}

void
al_pg_rows_add(al_pg_session *s, al_pg_rows *rows, int ncols,
			   const Datum *values)
{
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

/* qsort has no context argument: the keys of the sort under way */
static const Datum *sort_key0;
static const Datum *sort_key1;

static int
row_cmp(const void *a, const void *b)
{
	int			i = *(const int *) a;
	int			j = *(const int *) b;
	int			r = text_cmp(sort_key0[i], sort_key0[j]);

	if (r == 0)
		r = text_cmp(sort_key1[i], sort_key1[j]);
	/* ties keep their order: the sort is stable */
	return r != 0 ? r : (i > j) - (i < j);
}

void
al_pg_rows_sort(al_pg_rows *rows, int ncols, int key0, int key1)
{
	int		   *perm;
	Datum	   *tmp;

	if (rows->n < 2)
		return;
	perm = palloc(sizeof(int) * rows->n);
	tmp = palloc(sizeof(Datum) * rows->n);
	for (int i = 0; i < rows->n; i++)
		perm[i] = i;
	sort_key0 = rows->cols[key0];
	sort_key1 = rows->cols[key1];
	qsort(perm, rows->n, sizeof(int), row_cmp);
	for (int c = 0; c < ncols; c++)
	{
		for (int i = 0; i < rows->n; i++)
			tmp[i] = rows->cols[c][perm[i]];
		memcpy(rows->cols[c], tmp, sizeof(Datum) * rows->n);
	}
	pfree(perm);
	pfree(tmp);
}

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

void
al_pg_forget_rows(al_pg_session *s)
{
	s->outbox_rows.n = 0;
	s->view_rows.n = 0;
	/* the clock row may have been written by the rolled-back part: re-read */
	s->clock_checked = false;
}
