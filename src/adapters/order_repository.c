/*-------------------------------------------------------------------------
 *
 * order_repository.c
 *	  The SPI order repository (port al_order_repository).
 *
 * Notes:
 *	1) Memory: see session.c; strings are copied into the arena.
 *	2) get() locks the order row FOR NO KEY UPDATE, so status changes of
 *	   one order are serialized like commands on one product.
 *	3) is_tracked() runs on every Allocated and OutOfStock event; a
 *	   per-backend "any order at all?" answer, dropped by a relcache
 *	   invalidation that create_order sends, spares that query while
 *	   order tracking is not in use.
 *
 * src/adapters/order_repository.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "order_repository.h"

#define EQ AL_EQ

/* The repository's state in one SQL call. */
typedef struct order_state
{
	int			orders_checked; /* 0: not yet; 1: no order; 2: orders */
} order_state;

static int	order_slot;

/* One order's status: allocation.order_status, and is_tracked() */
enum
{
	ORDER_STATUS_STATUS = 1
};
static al_pg_statement order_status = {
	.sql = "SELECT status FROM allocation.orders WHERE orderid" AL_EQ "$1",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};

static al_pg_statement order_get_stmt = {
	.sql = "SELECT status, version_number, event_seq, event_key"
	" FROM allocation.orders WHERE orderid" EQ "$1 FOR NO KEY UPDATE",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};
/* columns of order_get_stmt */
enum
{
	ORDER_GET_STATUS = 1,
	ORDER_GET_VERSION,
	ORDER_GET_EVENT_SEQ,
	ORDER_GET_EVENT_KEY
};

static al_pg_statement order_insert_stmt = {
	.sql = "INSERT INTO allocation.orders (orderid, status, version_number,"
	" event_seq, event_key, updated_at)"
	" VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp())"
	" ON CONFLICT (orderid) DO NOTHING",
	.nargs = 5,
	.argtypes = {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement order_update_stmt = {
	.sql = "UPDATE allocation.orders SET status = $2, version_number = $3,"
	" event_seq = $4, event_key = $5,"
	" updated_at = pg_catalog.clock_timestamp()"
	" WHERE orderid" EQ "$1 AND version_number" EQ "$6",
	.nargs = 6,
	.argtypes = {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID},
	.expected = SPI_OK_UPDATE
};

static al_pg_statement order_subscribe_stmt = {
	.sql = "INSERT INTO allocation.order_subscriptions (orderid, email)"
	" VALUES ($1, $2) ON CONFLICT (orderid, email) DO NOTHING",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement order_subscribers_stmt = {
	.sql = "SELECT email FROM allocation.order_subscriptions"
	" WHERE orderid" EQ "$1 ORDER BY subscribed_at, email",
	.nargs = 1,
	.argtypes = {TEXTOID},
	.expected = SPI_OK_SELECT
};
/* columns of order_subscribers_stmt */
enum
{
	ORDER_SUBSCRIBERS_EMAIL = 1
};

static al_pg_statement order_any_stmt = {
	.sql = "SELECT FROM allocation.orders LIMIT 1",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_SELECT
};


#define TEXT(s) CStringGetTextDatum(s)

static al_status
order_get(void *ctx, const char *orderid, al_order *o)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(orderid)};
	al_order_status status;

	if (al_pg_run(s, &order_get_stmt, args, NULL) == 0)
		return AL_UNKNOWN_ORDER;
	if (!al_order_status_from_name(al_pg_text(s, 0, ORDER_GET_STATUS), &status))
		elog(ERROR, "order \"%s\" has an unknown status", orderid);
	al_order_init(o, &s->mem, orderid, status,
				  al_pg_int8(0, ORDER_GET_VERSION));
	o->event_seq = al_pg_int8(0, ORDER_GET_EVENT_SEQ);
	o->event_key = (uint64) al_pg_int8(0, ORDER_GET_EVENT_KEY);
	return AL_OK;
}

/*
 * Does any order exist?  Cached per backend: while order tracking is not
 * in use, allocations pay nothing for it.  create_order sends a relcache
 * invalidation of allocation.orders, which drops every backend's answer.
 * Only an answer read under a fresh statement snapshot is kept.
 */
static Oid	orders_relid = InvalidOid;
static bool orders_known = false;
static bool orders_exist = false;
static uint64 orders_resets = 0;	/* invalidations seen, for a load */

static void
orders_cache_reset(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == orders_relid)
	{
		orders_known = false;
		orders_resets++;
	}
}

static Oid
orders_table(void)
{
	return get_relname_relid("orders", get_namespace_oid("allocation", false));
}

static bool
any_order_exists(al_pg_session *s)
{
	Oid			relid = orders_table();

	if (!orders_known || relid != orders_relid)
	{
		uint64		resets_before = orders_resets;

		orders_relid = relid;
		orders_exist = al_pg_run(s, &order_any_stmt, NULL, NULL) > 0;
		/*
		 * An answer read under a transaction snapshot (REPEATABLE READ,
		 * SERIALIZABLE), or by a query during which this backend accepted
		 * an invalidation (after its snapshot was taken), may be older
		 * than that invalidation: keep it for this call only.
		 */
		orders_known = orders_resets == resets_before &&
			!IsolationUsesXactSnapshot();
	}
	return orders_exist;
}

static bool
order_is_tracked(void *ctx, const char *orderid, al_order_status *status)
{
	al_pg_session *s = ctx;
	order_state *os = al_pg_state(s, order_slot, sizeof(order_state));
	Datum		args[1];

	/* asked once per SQL call, not per event */
	if (os->orders_checked == 0)
		os->orders_checked = any_order_exists(s) ? 2 : 1;
	if (os->orders_checked == 1)
		return false;
	args[0] = TEXT(orderid);
	if (al_pg_run(ctx, &order_status, args, NULL) == 0)
		return false;
	if (status != NULL &&
		!al_order_status_from_name(al_pg_text(s, 0, ORDER_STATUS_STATUS), status))
		elog(ERROR, "order \"%s\" has an unknown status", orderid);
	return true;
}

static al_status
order_save(void *ctx, al_order *o)
{
	al_pg_session *s = ctx;
	Datum		args[6];

	args[0] = TEXT(o->orderid);
	args[1] = TEXT(al_order_status_name(o->status));
	args[2] = Int64GetDatum(o->changed ? o->version + 1 : o->version);
	args[3] = Int64GetDatum(o->event_seq);
	args[4] = Int64GetDatum((int64) o->event_key);
	args[5] = Int64GetDatum(o->version);
	if (o->is_new)
	{
		if (al_pg_run(s, &order_insert_stmt, args, NULL) == 0)
			return AL_DUPLICATE_ORDER;
		/* tell every backend that order tracking is in use (at commit) */
		CacheInvalidateRelcacheByRelid(orders_table());
	}
	else if (al_pg_run(s, &order_update_stmt, args, NULL) != 1)
		return AL_CONCURRENT_UPDATE;
	if (o->new_subscriber)
	{
		Datum		sargs[2] = {TEXT(o->orderid), TEXT(o->new_subscriber)};

		al_pg_run(s, &order_subscribe_stmt, sargs, NULL);
	}
	return AL_OK;
}

static const char **
order_subscribers(void *ctx, const char *orderid, int *n)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(orderid)};
	uint64		rows = al_pg_run(s, &order_subscribers_stmt, args, NULL);
	const char **emails = MemoryContextAlloc(s->arena_cxt,
											 sizeof(char *) * (rows + 1));

	for (uint64 i = 0; i < rows; i++)
		emails[i] = al_pg_text(s, i, ORDER_SUBSCRIBERS_EMAIL);
	*n = (int) rows;
	return emails;
}

static const al_pg_adapter order_adapter = {.name = "order repository"};

/*
 * Called once by _PG_init (through al_pg_session_init): the state slot,
 * and the callback of the "any order?" cache, registered before any use
 * so that no invalidation can slip by.
 */
void
al_pg_order_repository_init(void)
{
	order_slot = al_pg_register(&order_adapter);
	CacheRegisterRelcacheCallback(orders_cache_reset, (Datum) 0);
}

/* The port al_order_repository, bound to session s. */
void
al_pg_order_repository(al_order_repository *repo, al_pg_session *s)
{
	repo->ctx = s;
	repo->is_tracked = order_is_tracked;
	repo->get = order_get;
	repo->save = order_save;
	repo->subscribers = order_subscribers;
}

/* The status of order orderid in the session's caller_cxt, or NULL. */
char *
al_pg_order_status(al_pg_session *s, const char *orderid)
{
	Datum		args[1] = {CStringGetTextDatum(orderid)};

	if (al_pg_run(s, &order_status, args, NULL) != 1)
		return NULL;
	return MemoryContextStrdup(s->caller_cxt,
							   al_pg_text(s, 0, ORDER_STATUS_STATUS));
}
