/*-------------------------------------------------------------------------
 *
 * ports.h
 *	  The ports the service layer is written against.  The server plugs in
 *	  the SPI adapters (src/adapters), the unit tests plug in in-memory
 *	  fakes (test/unit/fakes.c).
 *
 * Notes:
 *	1) Each port is a struct of function pointers plus an opaque ctx.
 *	2) Adapters may raise PostgreSQL errors (they longjmp out of the
 *	   service); everything the caller must be able to tell apart comes
 *	   back as an al_status instead.
 *
 * src/service/ports.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_PORTS_H
#define AL_PORTS_H

#include "al_core.h"
#include "events.h"
#include "order.h"
#include "product.h"

/* The product repository: loads only what a command needs (the contract: performance rules). */
typedef struct al_repository
{
	void	   *ctx;

	/*
	 * Lock the product of sku for the rest of the transaction and initialise
	 * *p with its header (al_product_init).  When it does not exist: create
	 * it if create, else AL_UNKNOWN_SKU.  Under REPEATABLE READ or
	 * SERIALIZABLE a product changed since the snapshot is a 40001 error.
	 */
	al_status	(*get) (void *ctx, const char *sku, bool create, al_product *p);
	/* *sku = the SKU of batch ref, or AL_UNKNOWN_BATCH.  Takes no lock. */
	al_status	(*sku_of_batch) (void *ctx, const char *ref, const char **sku);
	/* Is the batch reference taken, by any product? */
	bool		(*batch_exists) (void *ctx, const char *ref);
	/*
	 * Load the line (orderid, p->sku), if stored, and its batch; and, when
	 * with_candidates, in the same round trip the first page that
	 * load_candidates would read.
	 */
	void		(*load_line) (void *ctx, al_product *p, const char *orderid,
							  bool with_candidates);
	/*
	 * Bulk (allocate_many): lock the products of skus[0..n-1] (distinct, in
	 * byte order: the order the locks are taken in) and initialise
	 * products[i] for skus[i]; AL_UNKNOWN_SKU with *missing = its index.
	 */
	al_status	(*get_many) (void *ctx, const char **skus, int n,
							 al_product *products, int *missing);
	/*
	 * Bulk: load into products[0..nproducts-1] (sorted by SKU) the stored
	 * lines of (orderids[i], skus[i]) for i < n, and the first page of
	 * candidates of every product, as load_candidates would.
	 */
	void		(*load_many) (void *ctx, al_product *products, int nproducts,
							  const char **orderids, const char **skus, int n);
	/*
	 * Read the next page of candidates of p (product.h, Note 4): the
	 * stored batches of p->sku with at least p->cand.min_qty available, in
	 * rule 2's order (eta NULL first, then eta, then reference in byte
	 * order), skipping the p->cand.offset first ones, at most
	 * p->cand.limit of them, each through al_product_load_candidate, then
	 * al_product_candidates_read.  The decision stays with the core.
	 */
	void		(*load_candidates) (void *ctx, al_product *p);
	/* Load batch ref of p with all its lines; AL_UNKNOWN_BATCH if none. */
	al_status	(*load_batch_with_lines) (void *ctx, al_product *p,
										  const char *ref);
	/*
	 * Write what changed (new and dirty batches, moved lines), the
	 * counters and the version: compare-and-set from p->version to
	 * p->version + 1 when p->changed (else the version stays), so two
	 * transactions can never both commit a change made from one version
	 * (rule 7).  AL_CONCURRENT_UPDATE when the stored version moved.
	 */
	al_status	(*save) (void *ctx, al_product *p);
	/* Bulk: save products[0..n-1] as save() would, together. */
	al_status	(*save_many) (void *ctx, al_product *products, int n);
} al_repository;

/* The order repository of the order-tracking context. */
typedef struct al_order_repository
{
	void	   *ctx;

	/*
	 * Is the order tracked?  A plain read, no lock; when it is and status
	 * is not NULL, *status is its status as the statement sees it.
	 */
	bool		(*is_tracked) (void *ctx, const char *orderid,
							   al_order_status *status);
	/* Lock the order and initialise *o (al_order_init); AL_UNKNOWN_ORDER. */
	al_status	(*get) (void *ctx, const char *orderid, al_order *o);

	/*
	 * Write the order: insert it when o->is_new (AL_DUPLICATE_ORDER when the
	 * id is taken), else its status with a version compare-and-set; and
	 * o->new_subscriber, if any (a repeated subscription is kept once).
	 */
	al_status	(*save) (void *ctx, al_order *o);
	/* The e-mails following orderid, oldest first; *n is their number. */
	const char **(*subscribers) (void *ctx, const char *orderid, int *n);
} al_order_repository;

/* The transactional outbox (the contract: events). */
typedef struct al_outbox
{
	void	   *ctx;

	/*
	 * Record one event of product p in the outbox, in the caller's
	 * transaction.  The adapter keeps p->event_seq / p->event_key, which the
	 * repository then saves with the product.
	 */
	void		(*append) (void *ctx, al_product *p, const al_event *ev);
	/*
	 * Write what append recorded, if the adapter holds rows back to write
	 * them together (one statement for many events).  Called by the unit
	 * of work after its appends, before the aggregates are saved.
	 */
	void		(*flush) (void *ctx);
	/* The same for an event of order o (aggregatetype "order"). */
	void		(*append_order) (void *ctx, al_order *o, const al_event *ev);
} al_outbox;

/* The CQRS read model, maintained from events (allocations_view). */
typedef struct al_read_model
{
	void	   *ctx;
	void		(*allocated) (void *ctx, const al_event *ev);
	void		(*deallocated) (void *ctx, const al_event *ev);
	/* Write what is held back; the bus calls it before anything that might
	 * read the view (an isolated handler, a plugin) and when it is done. */
	void		(*flush) (void *ctx);
} al_read_model;

/* E-mail notifications (table allocation.notifications). */
typedef struct al_notifier
{
	void	   *ctx;
	/* Write a stock alert for an OutOfStock event, if a recipient is set. */
	void		(*stock_alert) (void *ctx, const al_event *ev);
	/* Tell one subscriber of an OrderStatusChanged event. */
	void		(*order_status) (void *ctx, const char *recipient,
								 const al_event *ev);
} al_notifier;

/* User plugins subscribed to event types (allocation.subscribe). */
typedef struct al_plugins
{
	void	   *ctx;
	/* Call every plugin subscribed to ev's type, each isolated. */
	void		(*dispatch) (void *ctx, const char *aggregatetype,
							 const al_event *ev);
} al_plugins;

struct al_service;

/*
 * An event handler.  It returns AL_OK, or the status that made it give up:
 * its work is then undone like that of a handler that raised an error.
 */
typedef al_status (*al_event_handler_fn) (struct al_service *svc,
										  const al_event *ev);

/*
 * Run one event handler so that its failure undoes only its own work and
 * never the command (a subtransaction in the server; a plain call in the
 * fakes).  Returns false when the handler failed: it raised an error or
 * returned a status other than AL_OK; its work is undone either way.  An
 * error that belongs to the caller's transaction (serialization failure,
 * deadlock, cancel, ...) is not the handler's: it reaches the caller.
 */
typedef struct al_isolation
{
	void	   *ctx;
	bool		(*run) (void *ctx, const char *handler_name,
						al_event_handler_fn fn, struct al_service *svc,
						const al_event *ev);
} al_isolation;

/*
 * Interrupts: the service calls check() in every loop whose length the
 * caller chooses (the lines of allocate_many, the events of the bus), so
 * that a cancel request or a statement timeout stops a long command
 * without waiting for its next statement.  In the server it is
 * CHECK_FOR_INTERRUPTS: it raises the cancel error (57014) and longjmps
 * out of the service like any adapter error (Note 2), and the caller's
 * transaction undoes what was written.  NULL: nothing can interrupt the
 * caller (the CSV tool).
 */
typedef struct al_interrupts
{
	void	   *ctx;
	void		(*check) (void *ctx);
} al_interrupts;

#endif							/* AL_PORTS_H */
