/*-------------------------------------------------------------------------
 *
 * index_read.h
 *	  Rows of one of the extension's tables read through one of its btree
 *	  indexes by equality on the index's leading columns, without planning
 *	  and running a statement (index_read.c says when and why).
 *
 * src/adapters/index_read.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_INDEX_READ_H
#define AL_INDEX_READ_H

#include "postgres.h"

#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"

#include "spi.h"

/*
 * The index a read goes through, as the schema creates it: its name, its
 * table, its key columns in order and whether each sorts NULLs first, and
 * the boolean column that is its whole predicate (NULL: not partial).
 */
#define AL_PG_INDEX_MAX_COLS 4
typedef struct al_pg_index_shape
{
	const char *table;
	const char *index;
	int			ncols;
	const char *cols[AL_PG_INDEX_MAX_COLS];
	bool		nulls_first[AL_PG_INDEX_MAX_COLS];
	const char *predicate;
	bool		unique;			/* a read by its whole key finds one row */
} al_pg_index_shape;

typedef struct al_pg_index_read
{
	Relation	heap;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* the current row, after al_pg_index_next */
	bool		pushed_snapshot;
	bool		for_update;
	int			nkeys;
	Datum		keys[AL_PG_INDEX_MAX_COLS];
} al_pg_index_read;

/*
 * Begin a read of the rows whose first nkeys index columns equal keys
 * (texts).  False, with nothing begun: this index cannot be read here
 * (index_read.c, Note 2) and the caller runs its statement instead.
 */
extern bool al_pg_index_begin(al_pg_session *s, al_pg_index_read *r,
							  const al_pg_index_shape *shape, int nkeys,
							  const Datum *keys);
/*
 * The same, to lock rows as SELECT ... FOR NO KEY UPDATE does: the table
 * locked as that statement locks it, its UPDATE right checked too.
 */
extern bool al_pg_index_begin_for_update(al_pg_session *s, al_pg_index_read *r,
										 const al_pg_index_shape *shape,
										 int nkeys, const Datum *keys);
/* The next row visible to the read's snapshot, in index order, or false. */
extern bool al_pg_index_next(al_pg_index_read *r);
/*
 * Lock the current row FOR NO KEY UPDATE (a read begun for update),
 * waiting for the transaction that holds it; the row is then its newest
 * version.  False: the row is gone, or its newest version no longer has
 * the keys (READ COMMITTED); under REPEATABLE READ or SERIALIZABLE a row
 * changed since the snapshot raises 40001, as the statement does.
 */
extern bool al_pg_index_lock(al_pg_index_read *r);
extern void al_pg_index_end(al_pg_index_read *r);

/* Column helpers over the current row; attnum counts from 1 in the table. */
extern AttrNumber al_pg_index_attnum(al_pg_index_read *r, const char *column);
extern bool al_pg_index_isnull(al_pg_index_read *r, AttrNumber attnum);
extern Datum al_pg_index_datum(al_pg_index_read *r, AttrNumber attnum);
/* A text column copied into the session's arena, NULL if null. */
extern char *al_pg_index_text(al_pg_session *s, al_pg_index_read *r,
							  AttrNumber attnum);

#endif							/* AL_INDEX_READ_H */
