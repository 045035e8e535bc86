/*-------------------------------------------------------------------------
 *
 * spi.h
 *	  The SPI leaf of the adapters: one call's connection (its arena and
 *	  each adapter's state), statements with kept plans, typed column
 *	  getters, row buffers written by one statement, and the hooks through
 *	  which the session flushes or forgets what adapters hold back.
 *
 *	  Nothing here names an adapter: adapters include this header, the
 *	  session (session.h) includes the adapters.
 *
 * src/adapters/spi.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_SPI_H
#define AL_SPI_H

#include "postgres.h"

#include "executor/spi.h"

#include "al_core.h"

/* The equality operator, schema-qualified, for statements' text. */
#define AL_EQ " OPERATOR(pg_catalog.=) "

/* How many adapters may register hooks and state (al_pg_register). */
#define AL_PG_MAX_ADAPTERS 8

/*
 * One SQL call's connection to the server.  Begun and ended by the
 * session (session.c); the adapters see it as the ctx of their ports.
 */
typedef struct al_pg_session
{
	MemoryContext caller_cxt;	/* where results for the caller go */
	MemoryContext arena_cxt;	/* the core's arena, deleted at the end */
	al_allocator mem;
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nestlevel;	/* search_path pinned at this level */
	bool		read_only;
	/* each registered adapter's state for this call (al_pg_state) */
	void	   *state[AL_PG_MAX_ADAPTERS];
} al_pg_session;

/*
 * One SQL statement with its kept plan, owned by the adapter that reads
 * its result (and names its columns in an enum beside it).  plan starts
 * NULL: al_pg_run prepares it on first use and keeps it for the backend's
 * life.
 */
typedef struct al_pg_statement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
	int			expected;		/* SPI_OK_* */
	int			cursor_options; /* 0, or CURSOR_OPT_GENERIC_PLAN */
	SPIPlanPtr	plan;
} al_pg_statement;

/*
 * Run stmt with the given arguments (NULL nulls: none is NULL) and check
 * the SPI result; returns SPI_processed.  The previous statement's rows
 * are freed first: copy what you keep before the next statement.
 */
extern uint64 al_pg_run(al_pg_session *s, al_pg_statement *stmt,
						Datum *values, const char *nulls);

/* The same, read (only) with the latest committed state: no snapshot's. */
extern uint64 al_pg_run_latest(al_pg_session *s, al_pg_statement *stmt,
							   Datum *values, const char *nulls);

/* A text datum copied into the session's arena as a C string. */
extern char *al_pg_arena_text(al_pg_session *s, Datum d);

/* Column helpers over SPI_tuptable's row i (columns count from 1). */
extern char *al_pg_text(al_pg_session *s, uint64 row, int col);
extern int32 al_pg_int4(uint64 row, int col);
extern int64 al_pg_int8(uint64 row, int col);
extern bool al_pg_isnull(uint64 row, int col);
extern Datum al_pg_datum(uint64 row, int col);

/*
 * Rows held back to be written by one statement: column c of row i is
 * cols[c][i].  Zero-initialise; the columns live in the session's arena.
 * The by-reference values of the rows (texts, jsonb, uuids) belong to the
 * buffer: made for it by the adapter, freed by al_pg_rows_flush and
 * al_pg_rows_clear.
 *
 * A buffer is written AL_PG_ROWS_CHUNK rows at a time (al_pg_rows_full):
 * the values of one chunk are still in the CPU's caches when the arrays
 * are built and unnested, and the next chunk reuses their memory.  One
 * statement for a whole large call would read every value back from main
 * memory, and its cost per row would grow with the call.
 */
#define AL_PG_ROWS_CHUNK 1024
#define AL_PG_ROWS_MAX_COLS 8
typedef struct al_pg_rows
{
	int			n;
	int			cap;
	Datum	   *cols[AL_PG_ROWS_MAX_COLS];
} al_pg_rows;

/* Hold back one row of ncols values. */
extern void al_pg_rows_add(al_pg_session *s, al_pg_rows *rows, int ncols,
						   const Datum *values);
/*
 * Sort the rows by their text columns key0, then key1 (byte order, the
 * "C" collation of our keys; ties keep their order), so that an INSERT
 * ... unnest of them walks the leaves of the index on those columns in
 * order.
 */
extern void al_pg_rows_sort(al_pg_rows *rows, int ncols, int key0, int key1);
/* Column c of rows as an array of type elemtype. */
extern Datum al_pg_rows_array(al_pg_rows *rows, int c, Oid elemtype);
/* Has the buffer a chunk's worth of rows, to be written now? */
static inline bool
al_pg_rows_full(const al_pg_rows *rows)
{
	return rows->n >= AL_PG_ROWS_CHUNK;
}
/* Free the rows' by-reference values (column c of type types[c]); empty it. */
extern void al_pg_rows_clear(al_pg_rows *rows, int ncols, const Oid *types);

/*
 * Write the rows held back and empty the buffer: one row with one (its
 * arguments: fixed[0..nfixed-1], then the row's columns), more with many
 * (the same, each column as an array of types[c]); none: nothing runs.
 * The rows' values and the arrays are freed once the statement ran.
 */
extern void al_pg_rows_flush(al_pg_session *s, al_pg_rows *rows, int ncols,
							 const Oid *types, al_pg_statement *one,
							 al_pg_statement *many, int nfixed,
							 const Datum *fixed);

/*
 * What an adapter asks of the session, registered once by _PG_init
 * (every function may be NULL):
 *	flush: write what is held back; the session runs it before it ends,
 *	   in registration order, still with the extension owner's rights.
 *	forget: drop what is held back, its subtransaction rolled back.
 *	before_user_code: make what is held back visible to code the caller
 *	   does not control (a plugin) that is about to run.
 * Its per-call state, if any, it gets with al_pg_state.
 */
typedef struct al_pg_adapter
{
	const char *name;
	void		(*flush) (al_pg_session *s);
	void		(*forget) (al_pg_session *s);
	void		(*before_user_code) (al_pg_session *s);
} al_pg_adapter;

/* Register adapter (kept by address); returns its state slot. */
extern int	al_pg_register(const al_pg_adapter *adapter);

/* The state of the adapter of slot in this call, zeroed at first use. */
static inline void *
al_pg_state(al_pg_session *s, int slot, size_t size)
{
	if (unlikely(s->state[slot] == NULL))
		s->state[slot] = MemoryContextAllocZero(s->arena_cxt, size);
	return s->state[slot];
}

/* Run the registered hooks of every adapter, in registration order. */
extern void al_pg_flush_held(al_pg_session *s);
extern void al_pg_forget_held(al_pg_session *s);
extern void al_pg_before_user_code(al_pg_session *s);

#endif							/* AL_SPI_H */
