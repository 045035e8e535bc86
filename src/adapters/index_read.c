/*-------------------------------------------------------------------------
 *
 * index_read.c
 *	  Rows read through one btree index without a statement.
 *
 * Notes:
 *	1) Why: allocate's reads (the product row it locks, the line, the
 *	   candidates) return a row or two from one index each, and running them as a statement costs
 *	   more than the reads themselves: the plan's revalidation and locks,
 *	   the executor's set-up and tear-down, the planner setting that
 *	   keeps the ordered scan (product_repository.c, Note 5).  At one
 *	   client that overhead is a tenth of the call's time.
 *	2) What a statement would do is done here, in the same order as SPI
 *	   does it: a snapshot (GetTransactionSnapshot: a new one under READ
 *	   COMMITTED, the transaction's under REPEATABLE READ and
 *	   SERIALIZABLE), then CommandCounterIncrement, so the command's own
 *	   earlier writes are seen; AccessShareLock on the table and the
 *	   index (RowShareLock on both for a read that locks its row: the
 *	   planner and the executor lock a table's indexes in the table's mode);
 *	   visibility, HOT chains and SERIALIZABLE's predicate locks by the
 *	   access methods themselves (index_getnext_slot), row locks as the
 *	   executor takes them (al_pg_index_lock).  A read-only session reads
 *	   with the caller's snapshot, as its statements do.
 *	3) Where a statement could behave differently the read is refused and
 *	   the caller runs its statement instead: the index missing or not
 *	   shaped as the schema creates it (another column list, order,
 *	   collation, operator class or predicate, or not unique where the
 *	   schema's is: a DBA's rebuild under the
 *	   same name; a narrower predicate would hide rows, another operator
 *	   class order them otherwise), not valid or not ready (CREATE INDEX
 *	   CONCURRENTLY, REINDEX), built over broken HOT chains after the
 *	   transaction's oldest snapshot (pg_index.indcheckxmin: that snapshot
 *	   may see row versions the index has no entry for; the planner does
 *	   not use it either), a table that is not a plain table, the
 *	   current role (the extension owner) lacking SELECT on it (and
 *	   UPDATE, to lock a row), or row level security applying to it, or
 *	   a row to lock in a read-only transaction (READ ONLY, or a hot
 *	   standby: the statement refuses with 25006 before it locks
 *	   anything; a row lock would need a transaction id).  The
 *	   statement then
 *	   gives the same rows, or the error a statement gives.
 *	4) Keys are texts compared for equality in the C collation, the
 *	   collation of our key columns (checked with the shape).
 *	5) The table and the index are found by name and locked as a
 *	   statement finds and locks them (RangeVarGetRelidExtended): a DBA
 *	   dropping and creating the index again in one transaction makes the
 *	   read wait, then read the index that has the name after the commit.
 *	   A relation refused stays locked to the end of the transaction, as
 *	   the statement run instead locks it anyway.
 *
 * src/adapters/index_read.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/primnodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "index_read.h"
#include "pg_compat.h"

/* The schema of the extension's tables, fixed (the extension is not relocatable). */
#define AL_TABLES_SCHEMA "allocation"

/*
 * The relation name of our schema, locked in mode, or InvalidOid.  Locked
 * as a statement locks it: the name looked up again after the wait, so a
 * relation dropped (or replaced under the name) by the transaction that
 * held the lock is not opened by its old OID.
 */
static Oid
lock_relation(const char *name, LOCKMODE mode)
{
	RangeVar   *rv = makeRangeVar(AL_TABLES_SCHEMA, (char *) name, -1);

	return RangeVarGetRelidExtended(rv, mode, RVR_MISSING_OK,
									NULL, NULL);
}

/*
 * Is index's predicate exactly the boolean column named (none if NULL)?
 * A predicate the rows are not checked against could hide rows (Note 3).
 */
static bool
has_predicate(Relation heap, Relation index, const char *column)
{
	List	   *pred;
	Var		   *var;
	TupleDesc	desc = RelationGetDescr(heap);

	if (heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL))
		return column == NULL;
	if (column == NULL)
		return false;
	pred = RelationGetIndexPredicate(index);
	if (list_length(pred) != 1 || !IsA(linitial(pred), Var))
		return false;
	var = linitial_node(Var, pred);
	if (var->varattno <= 0 || var->varattno > desc->natts)
		return false;
	return !TupleDescAttr(desc, var->varattno - 1)->attisdropped &&
		strcmp(NameStr(TupleDescAttr(desc, var->varattno - 1)->attname), column) == 0;
}

/* Is index the index shape names, usable now? (Note 3) */
static bool
has_shape(Relation heap, Relation index, const al_pg_index_shape *shape)
{
	Form_pg_index ix = index->rd_index;
	TupleDesc	desc = RelationGetDescr(heap);

	if (ix->indrelid != RelationGetRelid(heap) ||
		index->rd_rel->relam != BTREE_AM_OID ||
		!ix->indisvalid || !ix->indisready || !ix->indislive ||
		(shape->unique && !ix->indisunique) ||
		ix->indnkeyatts != shape->ncols)
		return false;
	/* built over broken HOT chains, after our oldest snapshot (Note 3) */
	if (ix->indcheckxmin &&
		!TransactionIdPrecedes(HeapTupleHeaderGetXmin(index->rd_indextuple->t_data),
							   TransactionXmin))
		return false;
	for (int i = 0; i < shape->ncols; i++)
	{
		AttrNumber	attnum = ix->indkey.values[i];
		Form_pg_attribute att;

		if (attnum <= 0 || attnum > desc->natts)
			return false;		/* an expression */
		att = TupleDescAttr(desc, attnum - 1);
		if (att->attisdropped || strcmp(NameStr(att->attname), shape->cols[i]) != 0)
			return false;
		if ((index->rd_indoption[i] & INDOPTION_DESC) != 0 ||
			((index->rd_indoption[i] & INDOPTION_NULLS_FIRST) != 0) != shape->nulls_first[i])
			return false;
		if (att->atttypid == TEXTOID && index->rd_indcollation[i] != C_COLLATION_OID)
			return false;
		if (index->rd_opcintype[i] != att->atttypid ||
			index->rd_opfamily[i] !=
			lookup_type_cache(att->atttypid, TYPECACHE_BTREE_OPFAMILY)->btree_opf)
			return false;		/* another operator class, another order */
	}
	return has_predicate(heap, index, shape->predicate);
}

/* The lock a read takes on its table, as its statement would. */
#define TABLE_LOCK(r) ((r)->for_update ? RowShareLock : AccessShareLock)

static bool
begin(al_pg_session *s, al_pg_index_read *r, const al_pg_index_shape *shape,
	  int nkeys, const Datum *keys, bool for_update)
{
	Oid			relid;
	Oid			indexid;
	ScanKeyData sk[AL_PG_INDEX_MAX_COLS];

	Assert(nkeys >= 1 && nkeys <= shape->ncols);
	memset(r, 0, sizeof(*r));
	r->for_update = for_update;
	/*
	 * no row lock in a read-only transaction: the statement's error (Note
	 * 3); the commands refuse such a transaction before they read
	 * (al_require_writable), this guards any other caller
	 */
	if (for_update && XactReadOnly)
		return false;
	/* the table, then its index, in its mode, as the executor locks them (Note 5) */
	relid = lock_relation(shape->table, TABLE_LOCK(r));
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		return false;
	indexid = lock_relation(shape->index, TABLE_LOCK(r));
	if (!OidIsValid(indexid) || get_rel_relkind(indexid) != RELKIND_INDEX ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		(for_update &&
		 pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK) ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return false;
	r->heap = table_open(relid, NoLock);
	r->index = index_open(indexid, NoLock);
	if (!has_shape(r->heap, r->index, shape))
	{
		index_close(r->index, NoLock);
		table_close(r->heap, NoLock);
		return false;
	}
	r->nkeys = nkeys;
	for (int i = 0; i < nkeys; i++)
	{
		r->keys[i] = keys[i];
		ScanKeyEntryInitialize(&sk[i], 0, i + 1, BTEqualStrategyNumber,
							   InvalidOid, C_COLLATION_OID, F_TEXTEQ, keys[i]);
	}

	/* a statement's snapshot (Note 2) */
	if (!(s->read_only && ActiveSnapshotSet()))
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		r->pushed_snapshot = true;
		if (!s->read_only)
		{
			CommandCounterIncrement();
			UpdateActiveSnapshotCommandId();
		}
	}
	r->slot = table_slot_create(r->heap, NULL);
	r->scan = al_index_beginscan(r->heap, r->index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(r->scan, sk, nkeys, NULL, 0);
	return true;
}

bool
al_pg_index_begin(al_pg_session *s, al_pg_index_read *r,
				  const al_pg_index_shape *shape, int nkeys, const Datum *keys)
{
	return begin(s, r, shape, nkeys, keys, false);
}

bool
al_pg_index_begin_for_update(al_pg_session *s, al_pg_index_read *r,
							 const al_pg_index_shape *shape, int nkeys,
							 const Datum *keys)
{
	return begin(s, r, shape, nkeys, keys, true);
}

bool
al_pg_index_next(al_pg_index_read *r)
{
	CHECK_FOR_INTERRUPTS();
	return index_getnext_slot(r->scan, ForwardScanDirection, r->slot);
}

/* Has the current row still the read's keys? */
static bool
keys_match(al_pg_index_read *r)
{
	for (int i = 0; i < r->nkeys; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(r->slot, r->index->rd_index->indkey.values[i],
									 &isnull);

		if (isnull ||
			!DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, d,
												  r->keys[i])))
			return false;
	}
	return true;
}

/*
 * As the executor locks a row of SELECT ... FOR NO KEY UPDATE
 * (ExecLockRows): under READ COMMITTED the newest version of the row is
 * locked, and checked again against the keys (what EvalPlanQual does for
 * the statement's condition); under the snapshot isolation levels a row
 * changed since the snapshot is a serialization failure.
 */
bool
al_pg_index_lock(al_pg_index_read *r)
{
	ItemPointerData tid = r->slot->tts_tid;
	TM_FailureData tmfd;
	TM_Result	result;

	Assert(r->for_update);
	result = table_tuple_lock(r->heap, &tid, GetActiveSnapshot(), r->slot,
							  GetCurrentCommandId(true),
							  LockTupleNoKeyExclusive, LockWaitBlock,
							  IsolationUsesXactSnapshot() ? 0 :
							  TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &tmfd);
	switch (result)
	{
		case TM_Ok:
			return !tmfd.traversed || keys_match(r);
		case TM_SelfModified:
			/* changed by a later command of this transaction: not returned */
			return false;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			if (result == TM_Deleted)
				return false;
			elog(ERROR, "unexpected table_tuple_lock status: %u", result);
			break;
		default:
			elog(ERROR, "unexpected table_tuple_lock status: %u", result);
	}
	return false;				/* not reached */
}

void
al_pg_index_end(al_pg_index_read *r)
{
	index_endscan(r->scan);
	ExecDropSingleTupleTableSlot(r->slot);
	if (r->pushed_snapshot)
		PopActiveSnapshot();
	/* the locks are kept to the end of the transaction, as a statement's */
	index_close(r->index, NoLock);
	table_close(r->heap, NoLock);
	memset(r, 0, sizeof(*r));
}

AttrNumber
al_pg_index_attnum(al_pg_index_read *r, const char *column)
{
	TupleDesc	desc = RelationGetDescr(r->heap);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), column) == 0)
			return (AttrNumber) (i + 1);
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" of table %s.%s does not exist",
					column, AL_TABLES_SCHEMA, RelationGetRelationName(r->heap))));
	return InvalidAttrNumber;	/* not reached */
}

bool
al_pg_index_isnull(al_pg_index_read *r, AttrNumber attnum)
{
	bool		isnull;

	(void) slot_getattr(r->slot, attnum, &isnull);
	return isnull;
}

Datum
al_pg_index_datum(al_pg_index_read *r, AttrNumber attnum)
{
	bool		isnull;

	return slot_getattr(r->slot, attnum, &isnull);
}

char *
al_pg_index_text(al_pg_session *s, al_pg_index_read *r, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(r->slot, attnum, &isnull);

	return isnull ? NULL : al_pg_arena_text(s, d);
}
