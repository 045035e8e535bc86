/*-------------------------------------------------------------------------
 *
 * orders.c
 *	  The SPI order repository (port al_order_repository).
 *
 * Notes:
 *	1) Memory: see pg_session.c; strings are copied into the arena.
 *	2) get() locks the order row FOR NO KEY UPDATE, so status changes of
 *	   one order are serialized like commands on one product.
 *
 * src/adapters/orders.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "pg_session.h"

#define TEXT(s) CStringGetTextDatum(s)

static al_status
order_get(void *ctx, const char *orderid, al_order *o)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(orderid)};
	al_order_status status;

	if (al_pg_exec(s, Q_ORDER_GET, args, NULL) == 0)
		return AL_UNKNOWN_ORDER;
	if (!al_order_status_from_name(al_pg_text(s, 0, 1), &status))
		elog(ERROR, "order \"%s\" has an unknown status", orderid);
	al_order_init(o, &s->mem, orderid, status, al_pg_int8(0, 2));
	o->event_seq = al_pg_int8(0, 3);
	o->event_key = (uint64) al_pg_int8(0, 4);
	return AL_OK;
}

static bool
order_is_tracked(void *ctx, const char *orderid)
{
	Datum		args[1] = {TEXT(orderid)};

	return al_pg_exec(ctx, Q_ORDER_STATUS, args, NULL) > 0;
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
		if (al_pg_exec(s, Q_ORDER_INSERT, args, NULL) == 0)
			return AL_DUPLICATE_ORDER;
	}
	else if (al_pg_exec(s, Q_ORDER_UPDATE, args, NULL) != 1)
		return AL_CONCURRENT_UPDATE;
	if (o->new_subscriber)
	{
		Datum		sargs[2] = {TEXT(o->orderid), TEXT(o->new_subscriber)};

		al_pg_exec(s, Q_ORDER_SUBSCRIBE, sargs, NULL);
	}
	return AL_OK;
}

static const char **
order_subscribers(void *ctx, const char *orderid, int *n)
{
	al_pg_session *s = ctx;
	Datum		args[1] = {TEXT(orderid)};
	uint64		rows = al_pg_exec(s, Q_ORDER_SUBSCRIBERS, args, NULL);
	const char **emails = MemoryContextAlloc(s->arena_cxt,
											 sizeof(char *) * (rows + 1));

	for (uint64 i = 0; i < rows; i++)
		emails[i] = al_pg_text(s, i, 1);
	*n = (int) rows;
	return emails;
}

void
al_pg_order_repository(al_order_repository *repo, al_pg_session *s)
{
	repo->ctx = s;
	repo->is_tracked = order_is_tracked;
	repo->get = order_get;
	repo->save = order_save;
	repo->subscribers = order_subscribers;
}
