/*-------------------------------------------------------------------------
 *
 * product.h
 *	  The Product aggregate: the batches of one SKU and the order lines
 *	  allocated to them.  Every allocation rule of the contract lives in
 *	  product.c.
 *
 * Notes:
 *	1) A product in memory is a *partial* aggregate: the repository loads
 *	   only what a command needs (the contract: performance rules).  For allocate that is the
 *	   batches that still have stock and the line of the order being
 *	   allocated; for change_batch_quantity it is the changed batch with all
 *	   its lines.  Each operation below states what it needs loaded.  A
 *	   depleted batch can never take a line, so leaving it out does not
 *	   change any decision: that is what keeps allocate flat as history
 *	   grows.
 *	2) The product tracks what changed since it was loaded (new batches,
 *	   dirty batches, lines whose batch changed), so the repository writes
 *	   only those rows.
 *	3) batch.allocated is the sum of the quantities of the lines allocated
 *	   to the batch, kept up to date by this file alone, so the available
 *	   quantity is known without loading lines.
 *	4) Candidates.  Where the rules live: rules 1 and 2 (the batch must
 *	   hold the whole line; preference order) are decided here, on the
 *	   batches in memory.  The repository only *reads* stored batches in
 *	   rule 2's order (warehouse first, then earliest eta, then reference
 *	   in byte order), leaving out those whose stored available quantity
 *	   is below a floor, a page at a time after the ones it read before.
 *	   al_product_needs_candidates says whether the batches in memory are
 *	   enough to decide: they are when the best batch in memory that can
 *	   hold the line comes, in rule 2's order, no later than the last
 *	   candidate read (every stored batch before it that could hold the
 *	   line is then in memory), or when there is nothing left to read.  A
 *	   batch already in memory keeps its in-memory quantities (this
 *	   command may have changed them); the stored ones of a batch not in
 *	   memory are its real ones.  So allocate reads one row on a SKU with
 *	   a thousand batches with stock, and allocate_many reads further
 *	   pages only as its lines use the batches up.
 *	5) Lookups by order id and by reference go through hash maps, and the
 *	   candidates in rule 2's order are scanned from the first one that
 *	   can still hold a line, so that each line of allocate_many costs the
 *	   same whatever the number of lines of its SKU in the call.
 *
 * src/core/product.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_PRODUCT_H
#define AL_PRODUCT_H

#include "al_core.h"
#include "events.h"
#include "strmap.h"

typedef struct al_batch
{
	const char *ref;
	int32_t		purchased;		/* purchased quantity */
	int32_t		allocated;		/* sum of the quantities allocated to it */
	bool		has_eta;		/* false: already in the warehouse */
	int32_t		eta;			/* days since 2000-01-01 */
	bool		lines_loaded;	/* all its lines are in product.lines */
	bool		is_new;			/* created by this command */
	bool		dirty;			/* quantities changed by this command */
	bool		in_order;		/* in product.cand.order */
	bool		in_extra;		/* in product.cand.extra */
} al_batch;

/*
 * The candidates read so far (Note 4).  Invariant: every stored batch
 * whose stored available quantity is at least min_qty and that comes no
 * later than order[n - 1] in rule 2's order is in memory, and in order[].
 */
typedef struct al_candidates
{
	bool		started;		/* false: nothing read yet */
	bool		done;			/* every stored candidate has been read */
	int32_t		min_qty;		/* the floor of the stored quantity read */
	int64_t		offset;			/* candidates read so far */
	int32_t		limit;			/* size of the next page to read */
	int		   *order;			/* batch indexes, in rule 2's order */
	int			n;
	int			cap;
	int			skip;			/* order[0..skip) have less than min_qty */
	/* batches in memory not in order[] (loaded for another reason) */
	int		   *extra;
	int			nextra;
	int			extra_cap;
} al_candidates;

typedef struct al_line
{
	const char *orderid;
	int32_t		qty;
	int			batch;			/* index in product.batches, -1: none */
	int64_t		seq;			/* allocation order within the product */
	/* as stored when loaded, to compute what to write */
	int			stored_batch;	/* -1: no row stored */
	int64_t		stored_seq;
} al_line;

typedef struct al_product
{
	const al_allocator *mem;
	const char *sku;
	int64_t		version;		/* version_number as loaded */
	int64_t		line_seq;		/* last allocation sequence number used */
	bool		changed;		/* the current command changed it */
	int32_t		commands_done;	/* earlier changing commands, not saved yet */
	al_batch   *batches;
	int			nbatches;
	int			batches_cap;
	al_line    *lines;
	int			nlines;
	int			lines_cap;
	al_strmap	batch_index;	/* reference -> index in batches */
	al_strmap	line_index;		/* order id -> index in lines */
	al_candidates cand;
	al_event_list events;		/* recorded, not yet published */
	/* opaque to the core: kept by the outbox adapter (the contract: events) */
	int64_t		event_seq;
	uint64_t	event_key;
	int64_t		wal_only_seq;	/* last event_seq not in the outbox table */
} al_product;

/* Start an empty in-memory product; the repository fills it. */
extern void al_product_init(al_product *p, const al_allocator *mem,
							const char *sku, int64_t version, int64_t line_seq);

/*
 * Loading (repository side).  Each is idempotent: a batch or line already
 * in memory is kept as it is, because this command may have changed it.
 * Returns the index of the batch or line.
 */
extern int	al_product_load_batch(al_product *p, const char *ref,
								  int32_t purchased, int32_t allocated,
								  bool has_eta, int32_t eta);
extern int	al_product_load_line(al_product *p, const char *orderid,
								 int32_t qty, const char *batchref, int64_t seq);

extern int	al_product_find_batch(const al_product *p, const char *ref);
extern int	al_product_find_line(const al_product *p, const char *orderid);

static inline int32_t
al_batch_available(const al_batch *b)
{
	return b->purchased - b->allocated;
}

/*
 * Candidates (Note 4), the repository's side.  Start reading candidates
 * afresh for lines of at least min_qty: the first page reads the stored
 * batches with at least min_qty available in rule 2's order.
 */
extern void al_product_candidates_reset(al_product *p, int32_t min_qty);
/* One row of a page, in rule 2's order (loaded like al_product_load_batch). */
extern int	al_product_load_candidate(al_product *p, const char *ref,
									  int32_t purchased, int32_t allocated,
									  bool has_eta, int32_t eta);
/* A page ended after rows rows (fewer than p->cand.limit: the last one). */
extern void al_product_candidates_read(al_product *p, int rows);

/*
 * Must more candidates be read before al_product_allocate can decide for
 * (orderid, qty), leaving out exclude_ref?  False when the line is
 * allocated already (rule 4).  Restarts the reading when qty is below
 * the floor read so far.
 */
extern bool al_product_needs_candidates(al_product *p, const char *orderid,
										int32_t qty, const char *exclude_ref);

/*
 * Rule 2: does batch a come before batch b in allocation preference?
 * Returns <0, 0, >0 like strcmp.
 */
extern int	al_batch_preference(const al_batch *a, const al_batch *b);

/*
 * Commands.  Each records its events in p->events and sets p->changed when
 * the product changed.
 */

/*
 * Add a new batch (the caller checked that the reference is free).
 * Records BatchCreated.
 */
extern al_status al_product_add_batch(al_product *p, const char *ref,
									  int32_t qty, bool has_eta, int32_t eta);

/*
 * Allocate (orderid, qty) to the preferred batch that can hold it, leaving
 * out the batch exclude_ref (NULL: none; used by reallocation).
 * Needs loaded: the line of orderid if it exists, and candidates until
 * al_product_needs_candidates says they are enough.
 * Returns AL_OK and *batchref, AL_OUT_OF_STOCK (records OutOfStock, nothing
 * else changes), or AL_QTY_MISMATCH with *existing_qty set.
 */
extern al_status al_product_allocate(al_product *p, const char *orderid,
									 int32_t qty, const char *exclude_ref,
									 const char **batchref,
									 int32_t *existing_qty);

/*
 * Free the line of orderid.  reallocate says whether the message bus will
 * place it again (rule 5) or not (rule 6: on request).
 * Needs loaded: the line of orderid and its batch.
 * *batchref = the batch it was freed from, or NULL when not allocated.
 */
extern al_status al_product_deallocate(al_product *p, const char *orderid,
									   bool reallocate, const char **batchref);

/*
 * Rule 5: set a batch's purchased quantity, deallocating its most recently
 * allocated lines while its available quantity is negative.
 * Needs loaded: the batch with all its lines (lines_loaded).
 */
extern al_status al_product_change_batch_quantity(al_product *p,
												  const char *ref,
												  int32_t qty);

/*
 * End one command on a product that will run more before it is saved
 * (allocate_many): a command that changed it counts for one version.
 */
extern void al_product_end_command(al_product *p);

/* The version_number to store: one more per changing command (rule 7). */
extern int64_t al_product_next_version(const al_product *p);

/* Has anything changed since the product was loaded? */
static inline bool
al_product_dirty(const al_product *p)
{
	return p->changed || p->commands_done > 0;
}

/* After the repository saved it: what is in memory is now what is stored. */
extern void al_product_mark_saved(al_product *p);

/* Hand over the recorded events (the book's collect_new_events). */
extern al_event_list al_product_take_events(al_product *p);

#endif							/* AL_PRODUCT_H */
