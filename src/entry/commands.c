/*-------------------------------------------------------------------------
 *
 * commands.c
 *	  SQL-callable commands of the allocation context (SPEC section 3):
 *	  role check, argument checks, one service call, error mapping.
 *
 * Notes:
 *	1) The functions are VOLATILE and not STRICT: a NULL argument is a
 *	   22004 error, not a silent NULL result.
 *	2) Arguments are checked (22004, 22023) before anything is looked up.
 *
 * src/entry/commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "errors.h"
#include "pg_session.h"

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(allocation_add_batch);
PG_FUNCTION_INFO_V1(allocation_allocate);
PG_FUNCTION_INFO_V1(allocation_deallocate);
PG_FUNCTION_INFO_V1(allocation_change_batch_quantity);

#define ADMIN_ROLE "allocation_admin"
#define USER_ROLE "allocation_user"

/* add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL) */
Datum
allocation_add_batch(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.add_batch"};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	bool		has_eta = !PG_ARGISNULL(3);
	DateADT		eta = has_eta ? PG_GETARG_DATEADT(3) : 0;

	al_require_role(ADMIN_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "ref");
	al_check_not_null(fcinfo, 1, "sku");
	al_check_not_null(fcinfo, 2, "qty");
	ec.ref = al_identifier_arg(fcinfo, 0, "ref");
	ec.sku = al_identifier_arg(fcinfo, 1, "sku");
	ec.qty = al_batch_qty_arg(fcinfo, 2);

	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_add_batch(&svc, ec.ref, ec.sku, ec.qty, has_eta, eta);
	al_pg_end(&s);
	al_raise(r.status, &ec);
	PG_RETURN_VOID();
}

/* allocate(orderid text, sku text, qty integer) RETURNS text */
Datum
allocation_allocate(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.allocate"};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	text	   *batchref = NULL;

	al_require_role(USER_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "orderid");
	al_check_not_null(fcinfo, 1, "sku");
	al_check_not_null(fcinfo, 2, "qty");
	ec.orderid = al_identifier_arg(fcinfo, 0, "orderid");
	ec.sku = al_identifier_arg(fcinfo, 1, "sku");
	ec.qty = al_line_qty_arg(fcinfo, 2);

	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_allocate(&svc, ec.orderid, ec.sku, ec.qty);
	ec.existing_qty = r.existing_qty;
	if (r.batchref)				/* copied out before the arena goes */
		batchref = cstring_to_text(r.batchref);
	al_pg_end(&s);
	al_raise(r.status, &ec);
	if (batchref == NULL)
		PG_RETURN_NULL();		/* rule 3: out of stock is not an error */
	PG_RETURN_TEXT_P(batchref);
}

/* deallocate(orderid text, sku text) RETURNS text */
Datum
allocation_deallocate(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.deallocate"};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	text	   *batchref = NULL;

	al_require_role(USER_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "orderid");
	al_check_not_null(fcinfo, 1, "sku");
	ec.orderid = al_identifier_arg(fcinfo, 0, "orderid");
	ec.sku = al_identifier_arg(fcinfo, 1, "sku");

	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_deallocate(&svc, ec.orderid, ec.sku);
	if (r.batchref)
		batchref = cstring_to_text(r.batchref);
	al_pg_end(&s);
	al_raise(r.status, &ec);
	if (batchref == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(batchref);
}

/* change_batch_quantity(ref text, qty integer) */
Datum
allocation_change_batch_quantity(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.change_batch_quantity"};
	al_pg_session s;
	al_service	svc;
	al_result	r;

	al_require_role(ADMIN_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "ref");
	al_check_not_null(fcinfo, 1, "qty");
	ec.ref = al_identifier_arg(fcinfo, 0, "ref");
	ec.qty = al_batch_qty_arg(fcinfo, 1);

	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_change_batch_quantity(&svc, ec.ref, ec.qty);
	al_pg_end(&s);
	al_raise(r.status, &ec);
	PG_RETURN_VOID();
}
