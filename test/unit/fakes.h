/*-------------------------------------------------------------------------
 *
 * fakes.h
 *	  In-memory fakes of every port of src/service/ports.h, a malloc-based
 *	  arena for al_allocator, and the helpers the unit tests share.
 *
 * Notes:
 *	1) A fake_world is the whole "database" of one test: products, batches
 *	   and lines (the write model), orders and their subscribers, the
 *	   outbox, the read model, the notifications and what the plugins
 *	   received.  Every test gets a
 *	   fresh one (fake_run).
 *	2) The fakes behave like the SPI adapters are specified to: the
 *	   repository loads only what it is asked for (and counts what it
 *	   brought in, the contract's performance rules), writes only what changed, and saves
 *	   with a compare-and-set on the version (rule 7).
 *	3) One call of fake_service() is one SQL call: it frees the previous
 *	   call's arena, as PostgreSQL frees the per-call memory context.  So
 *	   an al_result is valid until the next call; the fakes copy whatever
 *	   they keep into storage of their own, and valgrind or ASan would see
 *	   a fake that kept a pointer into a finished call.
 *	4) What the fakes cannot do is roll back: the server rolls back the
 *	   whole transaction when the entry point raises the error of a failed
 *	   command.  fake_abort_call() does the one part of that the tests need
 *	   (outbox rows appended before a failed save).
 *
 * test/unit/fakes.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNIT_FAKES_H
#define UNIT_FAKES_H

#include <setjmp.h>

#include "service.h"

/* A malloc-based arena: every block is freed by fake_arena_free. */
typedef struct fake_block fake_block;
typedef struct fake_arena
{
	fake_block *head;
	size_t		nblocks;
} fake_arena;

extern void *fake_arena_alloc(void *ctx, size_t size);	/* al_allocator */
extern char *fake_arena_strdup(fake_arena *a, const char *s);	/* NULL-safe */
extern void fake_arena_free(fake_arena *a);

/* A growable array of T; push with FAKE_PUSH. */
#define FAKE_ARRAY(T) struct { T *items; int count; int cap; }
extern void fake_reserve(void **items, int *cap, int need, size_t elem);
#define FAKE_PUSH(arr) \
	(fake_reserve((void **) &(arr).items, &(arr).cap, (arr).count + 1, \
				  sizeof(*(arr).items)), \
	 &(arr).items[(arr).count++])

/* Stored rows.  Strings live in fake_world.store. */
typedef struct fake_product
{
	const char *sku;
	int64_t		version;
	int64_t		line_seq;
	int64_t		event_seq;
	uint64_t	event_key;
} fake_product;

typedef struct fake_batch
{
	const char *ref;
	const char *sku;
	int32_t		purchased;
	int32_t		allocated;
	bool		has_eta;
	int32_t		eta;
} fake_batch;

typedef struct fake_line
{
	const char *orderid;
	const char *sku;
	int32_t		qty;
	const char *batchref;
	int64_t		seq;
} fake_line;

typedef struct fake_order
{
	const char *orderid;
	al_order_status status;
	int64_t		version;
	int64_t		event_seq;
	uint64_t	event_key;
} fake_order;

typedef struct fake_subscription
{
	const char *orderid;
	const char *email;
} fake_subscription;

/* One e-mail written by notifier.order_status. */
typedef struct fake_order_mail
{
	const char *recipient;
	const char *orderid;
	const char *status;
	const char *previous_status;
} fake_order_mail;

typedef struct fake_outbox_row
{
	const char *aggregatetype;
	const char *aggregateid;
	const char *type;
	al_event	ev;				/* deep copy */
} fake_outbox_row;

typedef struct fake_view_row
{
	const char *orderid;
	const char *sku;
	const char *batchref;
} fake_view_row;

typedef struct fake_dispatch
{
	const char *aggregatetype;
	const char *type;
	al_event	ev;				/* deep copy */
} fake_dispatch;

/* What the repository read, since the last fake_service() call. */
typedef struct fake_loads
{
	int			get_calls;
	int			load_line_calls;
	int			load_candidates_calls;
	int			load_batch_calls;	/* load_batch_with_lines */
	int			batches;		/* batch rows brought in, by any load */
	int			lines;			/* line rows brought in, by any load */
	int			depleted;		/* of those batches, how many had no stock */
} fake_loads;

/* What the repository wrote, since the last fake_service() call. */
typedef struct fake_writes
{
	int			save_calls;
	int			conflicts;		/* saves refused by the version check */
	int			batches;		/* batch rows inserted or updated */
	int			lines;			/* line rows inserted, moved or deleted */
	int			versions;		/* version bumps */
} fake_writes;

typedef struct fake_world
{
	fake_arena	call_arena;		/* the current SQL call's memory */
	al_allocator call_mem;
	fake_arena	store;			/* strings kept by the fakes */

	FAKE_ARRAY(fake_product) products;
	FAKE_ARRAY(fake_batch) batches;
	FAKE_ARRAY(fake_line) lines;
	FAKE_ARRAY(fake_order) orders;
	FAKE_ARRAY(fake_subscription) subscriptions;
	FAKE_ARRAY(fake_order_mail) order_mails;
	FAKE_ARRAY(fake_outbox_row) outbox;
	FAKE_ARRAY(fake_view_row) view;
	FAKE_ARRAY(fake_dispatch) plugins;
	FAKE_ARRAY(const char *) log;	/* every port call, in order */
	int			stock_alerts;
	int			isolated_runs;

	/*
	 * The port al_interrupts: interrupt_checks counts the calls; when
	 * cancel_at > 0, the call that brings interrupt_checks to it plays a
	 * cancel request: it longjmps to *cancel_jump, as the server's
	 * CHECK_FOR_INTERRUPTS raises its error out of the service.
	 */
	int			interrupt_checks;
	int			cancel_at;
	jmp_buf    *cancel_jump;

	fake_loads	loads;
	fake_writes writes;
	int			call_outbox_mark;	/* outbox rows when the call began */

	/*
	 * Rule 7: when > 0, counts get() calls down; the get() that brings it
	 * to 0 bumps the stored version right after reading it, as another
	 * transaction committing a change behind the service's back.
	 */
	int			bump_on_get;

	/* misuse of a port by the service (written to the fakes' stderr) */
	int			errors;
	char		first_error[256];
} fake_world;

extern void fake_world_init(fake_world *w);
extern void fake_world_free(fake_world *w);

/* Begin one SQL call: a fresh al_service wired to w's fakes. */
extern void fake_service(al_service *svc, fake_world *w);
/* The entry point raised the failed call's error: roll its outbox rows back. */
extern void fake_abort_call(fake_world *w);

/*
 * Check the invariants of the contract's allocation rules on the stored state: available
 * never negative, batch.allocated = sum of its lines, (orderid, sku)
 * allocated at most once, read model = write model, every event counted
 * by its product's or order's event_seq, no port misused.  On failure why
 * says what.
 */
extern bool fake_world_consistent(const fake_world *w, char *why, size_t size);

/* Run one test on a fresh world, then assert that world is consistent. */
extern void fake_run(const char *name, void (*test) (fake_world *w));

/* Commands, each as one SQL call (results valid until the next call). */
#define NO_ETA INT32_MIN
extern al_result fx_add_batch(fake_world *w, const char *ref, const char *sku,
							  int32_t qty, int32_t eta);
extern al_result fx_allocate(fake_world *w, const char *orderid,
							 const char *sku, int32_t qty);
extern al_result fx_deallocate(fake_world *w, const char *orderid,
							   const char *sku);
extern al_result fx_change_qty(fake_world *w, const char *ref, int32_t qty);
extern al_result fx_create_order(fake_world *w, const char *orderid);
extern al_result fx_change_order_status(fake_world *w, const char *orderid,
										al_order_status status);
extern al_result fx_subscribe(fake_world *w, const char *orderid,
							  const char *email);

/* Reading the stored state. */
extern const fake_product *fake_product_of(const fake_world *w,
										   const char *sku);
extern const fake_batch *fake_batch_of(const fake_world *w, const char *ref);
extern const fake_line *fake_line_of(const fake_world *w, const char *orderid,
									 const char *sku);
extern const fake_order *fake_order_of(const fake_world *w,
									   const char *orderid);
/* The stored status name of an order, or NULL. */
extern const char *fake_order_status(const fake_world *w, const char *orderid);
/* -1 when the product does not exist. */
extern int64_t fake_version(const fake_world *w, const char *sku);
/* INT32_MIN when the batch does not exist. */
extern int32_t fake_available(const fake_world *w, const char *ref);
extern int32_t fake_allocated(const fake_world *w, const char *ref);
/* The batch a line is stored in, or NULL. */
extern const char *fake_line_batch(const fake_world *w, const char *orderid,
								   const char *sku);
/* The read model's batch of (orderid, sku), or NULL. */
extern const char *fake_view_batch(const fake_world *w, const char *orderid,
								   const char *sku);

/*
 * Safe accessors: a missing row or value gives a zeroed row (NULL
 * strings) or the sentinel named, so that a failing test reports a
 * failure instead of crashing the run.  Negative indexes count from the
 * end (-1: the last).
 */
extern const fake_outbox_row *fake_outbox_at(const fake_world *w, int i);
extern const fake_dispatch *fake_plugin_at(const fake_world *w, int i);
extern const fake_order_mail *fake_mail_at(const fake_world *w, int i);
extern const fake_subscription *fake_subscription_at(const fake_world *w,
													 int i);
/* INT32_MIN when the batch does not exist. */
extern int32_t fake_purchased(const fake_world *w, const char *ref);
/* The SKU of a stored batch, or NULL. */
extern const char *fake_batch_sku(const fake_world *w, const char *ref);
/* -1 when the line does not exist. */
extern int64_t fake_line_seq(const fake_world *w, const char *orderid,
							 const char *sku);
extern int32_t fake_line_qty(const fake_world *w, const char *orderid,
							 const char *sku);
/* -1 when the product or order does not exist. */
extern int64_t fake_event_seq(const fake_world *w, const char *sku);
extern int64_t fake_order_version(const fake_world *w, const char *orderid);

/*
 * "Type(orderid@batchref),..." of the outbox rows from index from on, for
 * compact comparisons; only the fields the type carries are shown.
 */
extern const char *fake_outbox_summary(fake_world *w, int from);
/* Same for what the plugins received. */
extern const char *fake_plugins_summary(fake_world *w, int from);
/* Index of the first log entry equal to entry at or after from, or -1. */
extern int	fake_log_find(const fake_world *w, const char *entry, int from);

#endif							/* UNIT_FAKES_H */
