/*-------------------------------------------------------------------------
 *
 * csv_store.h
 *	  The ports of src/service/ports.h over memory, for allocate-from-csv:
 *	  a repository and unit of work whose state is read from and written
 *	  to CSV files by the program (allocate_from_csv.c).
 *
 * Notes:
 *	1) A csv_store is the whole state of one run: products, batches and
 *	   allocated lines (the write model), the rows of allocations.csv (the
 *	   read model, kept from Allocated and Deallocated events as in the
 *	   server) and the out-of-stock tally (the notifier).
 *	2) Every lookup is a hash table probe: products by SKU, batches by
 *	   reference, lines by (orderid, SKU), read-model rows by (orderid,
 *	   SKU).  Each product keeps the list of its batches that have stock,
 *	   so load_available costs the batches with stock, never the depleted
 *	   ones, and each batch keeps its lines for load_batch_with_lines.
 *	   Nothing is found by scanning.
 *	3) Memory: what the store keeps (strings, rows) lives until
 *	   csv_store_free; what one command needs (the partial al_product, its
 *	   events) comes from a per-call arena that csv_store_service resets,
 *	   as the server frees its per-call memory context.  So a run of a
 *	   million commands needs the memory of its data, not of its history.
 *	4) There is no outbox: the program's output is allocations.csv, which
 *	   is the read model.  outbox.append only counts the product's events,
 *	   as the port asks.  No order is tracked (order tracking is a
 *	   context of the server).
 *
 * src/csv/csv_store.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef CSV_STORE_H
#define CSV_STORE_H

#include "service.h"

/* A chunked bump allocator; csv_arena_reset keeps its first chunk. */
typedef struct csv_chunk csv_chunk;
typedef struct csv_arena
{
	csv_chunk  *head;
	size_t		used;			/* in head */
	size_t		size;			/* of head */
} csv_arena;

extern void *csv_arena_alloc(void *ctx, size_t size);	/* al_allocator */
extern char *csv_arena_strndup(csv_arena *a, const char *s, size_t len);
extern void csv_arena_reset(csv_arena *a);
extern void csv_arena_free(csv_arena *a);

/* An open-addressing hash table of int ids (the rows of an array). */
typedef struct csv_index
{
	int		   *slots;			/* id + 1, 0 = empty */
	uint32_t   *hashes;
	size_t		mask;
	size_t		count;
} csv_index;

typedef struct csv_product
{
	const char *sku;
	int64_t		version;
	int64_t		line_seq;
	int64_t		event_seq;
	uint64_t	event_key;
	int		   *stock;			/* its batches with available stock */
	int			nstock;
	int			stock_cap;
	/* the notifier's tally (--summary) */
	int			out_of_stock_lines;
	int64_t		out_of_stock_qty;
} csv_product;

typedef struct csv_batch
{
	const char *ref;
	int			product;
	int32_t		purchased;
	int32_t		allocated;
	bool		has_eta;
	int32_t		eta;
	int			stock_pos;		/* index in its product's stock, -1 */
	int		   *lines;			/* its allocated lines */
	int			nlines;
	int			lines_cap;
	int			file_line;		/* where batches.csv defines it */
} csv_batch;

typedef struct csv_line
{
	const char *orderid;
	int			product;
	int32_t		qty;
	int			batch;			/* -1: not allocated */
	int64_t		seq;
	int			batch_pos;		/* index in its batch's lines */
} csv_line;

/* One row of allocations.csv. */
typedef struct csv_alloc_row
{
	const char *orderid;
	const char *sku;
	int32_t		qty;
	const char *batchref;
	bool		existing;		/* read from allocations.csv */
	bool		deleted;		/* deallocated since */
} csv_alloc_row;

#define CSV_ARRAY(T) struct { T *items; int count; int cap; }

typedef struct csv_store
{
	csv_arena	keep;			/* strings of the store */
	csv_arena	call;			/* one command's memory */
	al_allocator call_mem;

	CSV_ARRAY(csv_product) products;
	CSV_ARRAY(csv_batch) batches;
	CSV_ARRAY(csv_line) lines;
	CSV_ARRAY(csv_alloc_row) rows;
	csv_index	product_index;	/* sku */
	csv_index	batch_index;	/* ref */
	csv_index	line_index;		/* (orderid, product) */
	csv_index	row_index;		/* (orderid, sku) of live rows */
	int64_t		events;			/* counted by outbox.append */
} csv_store;

extern void csv_store_init(csv_store *st);
extern void csv_store_free(csv_store *st);

/* Begin one command: reset the call arena and wire svc to st's ports. */
extern void csv_store_service(al_service *svc, csv_store *st);

/* Lookups (-1 when absent). */
extern int	csv_store_product(const csv_store *st, const char *sku);
extern int	csv_store_batch(const csv_store *st, const char *ref);
extern int	csv_store_line(const csv_store *st, const char *orderid,
						   const char *sku);

/*
 * Restore one stored allocation (a row of an existing allocations.csv):
 * the line (orderid, sku) of qty in batch bi, allocated after every line
 * restored before it, and its read-model row.  The caller checked that
 * the batch is of sku and the line is not allocated yet.
 */
extern void csv_store_restore(csv_store *st, const char *orderid, int bi,
							  int32_t qty);

#endif							/* CSV_STORE_H */
