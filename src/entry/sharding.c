/*-------------------------------------------------------------------------
 *
 * sharding.c
 *	  Hooks for a router that shards products by SKU across nodes, each of
 *	  which runs the ordinary single-node extension.
 *
 * src/entry/sharding.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"
#include "shard.h"

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(allocation_shard_key);
PG_FUNCTION_INFO_V1(allocation_change_batch_quantity_here);

/* shard_key(sku text) RETURNS integer: stable across versions and platforms */
Datum
allocation_shard_key(PG_FUNCTION_ARGS)
{
	text	   *sku;

	al_check_not_null(fcinfo, 0, "sku");
	sku = PG_GETARG_TEXT_PP(0);
	PG_RETURN_INT32((int32) al_shard_hash(VARDATA_ANY(sku),
										  VARSIZE_ANY_EXHDR(sku)));
}

/*
 * change_batch_quantity_here(ref text, qty integer) RETURNS boolean: like
 * change_batch_quantity, but a batch this node does not have is "false"
 * instead of ZA002, so a router can ask every node.
 */
Datum
allocation_change_batch_quantity_here(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.change_batch_quantity_here"};
	al_pg_session s;
	al_service	svc;
	al_result	r;

	al_require_role(AL_ADMIN_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "ref");
	al_check_not_null(fcinfo, 1, "qty");
	ec.ref = al_identifier_arg(fcinfo, 0, "ref");
	ec.qty = al_batch_qty_arg(fcinfo, 1);

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_change_batch_quantity(&svc, ec.ref, ec.qty);
	al_pg_end(&s);
	if (r.status == AL_UNKNOWN_BATCH)
		PG_RETURN_BOOL(false);
	al_check_status(r.status, &ec);
	PG_RETURN_BOOL(true);
}
