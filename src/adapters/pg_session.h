/*-------------------------------------------------------------------------
 *
 * pg_session.h
 *	  SPI plumbing shared by the adapters: one call's session (SPI
 *	  connection, the extension owner's rights, the core's arena) and the
 *	  table of kept plans.
 *
 * src/adapters/pg_session.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_PG_SESSION_H
#define AL_PG_SESSION_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/jsonb.h"

#include "service.h"

/* Every SQL statement the adapters run, prepared once per backend. */
typedef enum al_query
{
	Q_PRODUCT_CREATE,
	Q_PRODUCT_LOCK,
	Q_PRODUCT_SAVE,
	Q_PRODUCT_SAVE_TID,
	Q_BATCH_SKU,
	Q_BATCH_GET,
	Q_BATCH_LINES,
	Q_BATCH_INSERT,
	Q_BATCH_UPDATE,
	Q_BATCH_UPDATE_TID,
	Q_AVAILABLE,
	Q_LINE_AND_STOCK,
	Q_LINE_INSERT,
	Q_LINE_INSERT_MANY,
	Q_PRODUCTS_LOCK,
	Q_PRODUCTS_SAVE,
	Q_LINES_OF_ORDERS,
	Q_AVAILABLE_MANY,
	Q_BATCHES_UPDATE,
	Q_LINE_INSERT_ANY_SKU,
	Q_LINE_UPDATE,
	Q_LINE_DELETE,
	Q_OUTBOX_INSERT,
	Q_OUTBOX_INSERT_MANY,
	Q_VIEW_INSERT,
	Q_VIEW_INSERT_MANY,
	Q_VIEW_DELETE,
	Q_NOTIFICATION_INSERT,
	Q_PLUGINS_ALL,
	Q_SUBSCRIBE,
	Q_UNSUBSCRIBE,
	Q_INBOX_CLAIM,
	Q_INBOX_GET,
	Q_INBOX_STORE,
	Q_VIEW_LOCK,
	Q_VIEW_CLEAR,
	Q_VIEW_REBUILD,
	Q_ORDER_GET,
	Q_ORDER_INSERT,
	Q_ORDER_UPDATE,
	Q_ORDER_SUBSCRIBE,
	Q_ORDER_SUBSCRIBERS,
	Q_ORDER_STATUS,
	Q_ORDER_ANY,
	Q_CLOCK_GET,
	Q_CLOCK_RESET,
	Q__COUNT
} al_query;

/* Rows held back to be written by one statement (outbox.c). */
typedef struct al_pg_rows
{
	int			n;
	int			cap;
	Datum	   *cols[7];		/* column c of row i: cols[c][i] */
} al_pg_rows;

/* One SQL call's connection to the server. */
typedef struct al_pg_session
{
	MemoryContext caller_cxt;	/* where results for the caller go */
	MemoryContext arena_cxt;	/* the core's arena, deleted at the end */
	al_allocator mem;
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nestlevel;	/* search_path pinned at this level */
	bool		read_only;
	bool		events_recorded;	/* NOTIFY allocation_events at commit */
	/* load_line also brought the batches with stock of this product */
	const al_product *stock_loaded;
	al_pg_rows	outbox_rows;	/* events appended, not yet inserted */
	bool		clock_checked;	/* clock offset validated in this session */
	int64		clock_offset;
	int			orders_checked; /* 0: not yet; 1: no order; 2: orders */
	al_pg_rows	view_rows;		/* allocations_view rows, not yet written */

	/*
	 * Where the rows read under the product lock are (repository.c): the
	 * product row locked last, and the batches loaded since.  Saves update
	 * them by TID instead of descending the primary key again.
	 */
	const char *tid_sku;		/* NULL: no product row TID */
	ItemPointerData product_tid;
	int			nbatch_tids;
	int			batch_tids_cap;
	struct al_pg_batch_tid
	{
		const char *ref;
		ItemPointerData tid;
	}		   *batch_tids;
} al_pg_session;

/* Called once by _PG_init: registers the caches' invalidation callbacks. */
extern void al_pg_session_init(void);

/*
 * Open the session: SPI_connect, pin search_path, switch to the extension
 * owner's rights (no role may touch the tables directly).
 */
extern void al_pg_begin(al_pg_session *s, bool read_only);
/*
 * Close it: restore the caller's rights and search_path, SPI_finish, free
 * the arena.
 */
extern void al_pg_end(al_pg_session *s);

/*
 * Run kept plan q with the given arguments (NULL nulls: none is NULL) and
 * check the SPI result; returns SPI_processed.
 */
extern uint64 al_pg_exec(al_pg_session *s, al_query q, Datum *values,
						 const char *nulls);

/* Column helpers over SPI_tuptable's row i. */
extern char *al_pg_text(al_pg_session *s, uint64 row, int col);
extern int32 al_pg_int4(uint64 row, int col);
extern int64 al_pg_int8(uint64 row, int col);
extern bool al_pg_isnull(uint64 row, int col);
extern Datum al_pg_datum(uint64 row, int col);

/* Ports implemented by the adapters, bound to a session. */
extern void al_pg_service(al_service *svc, al_pg_session *s);

/* Called by the adapters that record an event: NOTIFY at commit. */
extern void al_pg_events_recorded(al_pg_session *s);

/* listeners.c */
extern void al_pg_notify_at_commit(void);
extern void al_pg_notify_mailer_at_commit(void);

/* isolation.c: is this error the caller's, never a handler's WARNING? */
extern bool al_pg_error_belongs_to_caller(int sqlerrcode);
/* isolation.c: may handler run as a plugin of subscriber?  42501 if not */
extern void al_pg_check_plugin_owner(Oid handler, Oid subscriber);

/* repository.c */
extern void al_pg_repository(al_repository *repo, al_pg_session *s);

/* outbox.c */
extern void al_pg_outbox(al_outbox *outbox, al_read_model *views,
						 al_notifier *notifier, al_pg_session *s);
struct JsonbParseState;
struct JsonbValue;
extern struct JsonbValue *al_pg_push_event_payload(struct JsonbParseState **st,
												   const al_event *ev);
/* Push "key": value (a JSON null when value is NULL) into an object. */
extern void al_pg_push_text(struct JsonbParseState **st, const char *key,
							const char *value);
extern uint64 al_pg_outbox_insert(al_pg_session *s, const char *aggregatetype,
								  const char *aggregateid, const al_event *ev,
								  int64 seq, uint64 prev_key);
extern int64 al_pg_clock_offset(al_pg_session *s);
extern void al_pg_flush_outbox(al_pg_session *s);

/* wal_events.c: events as logical messages (allocation.outbox_mode) */
extern bool al_pg_outbox_mode_table(void);
extern bool al_pg_outbox_mode_wal(void);
extern void al_pg_wal_event(Datum id, const char *type, const char *aggregatetype,
							const char *aggregateid, int64 seq, Jsonb *payload);
extern void al_pg_flush_views(al_pg_session *s);
/* Forget rows held back (their subtransaction was rolled back). */
extern void al_pg_forget_rows(al_pg_session *s);
/* Hold back one row of ncols values in rows; see al_pg_rows. */
extern void al_pg_rows_add(al_pg_session *s, al_pg_rows *rows, int ncols,
						   const Datum *values);
/*
 * Sort the rows by their text columns key0, then key1 (byte order, the
 * "C" collation of our keys), so that an INSERT ... unnest of them walks
 * the leaves of the index on those columns in order.
 */
extern void al_pg_rows_sort(al_pg_rows *rows, int ncols, int key0, int key1);
/* Column c of rows as an array of type elemtype. */
extern Datum al_pg_rows_array(al_pg_rows *rows, int c, Oid elemtype);
extern void al_pg_notification(al_pg_session *s, const char *recipient,
							   const char *subject, const char *body);

/* orders.c */
extern void al_pg_order_repository(al_order_repository *repo,
								   al_pg_session *s);

/* isolation.c */
extern void al_pg_isolation(al_isolation *isolation, al_plugins *plugins,
							al_pg_session *s);

#endif							/* AL_PG_SESSION_H */
