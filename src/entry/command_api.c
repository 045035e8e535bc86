/*-------------------------------------------------------------------------
 *
 * command_api.c
 *	  SQL-callable commands of the allocation context.
 *
 * Notes:
 *	1) The functions are VOLATILE and not STRICT: a NULL argument is a
 *	   22004 error, not a silent NULL result.
 *	2) Order of checks: the caller's role (42501), then the arguments
 *	   (22004, 22023), then a read-only transaction (25006,
 *	   al_require_writable), then the service, which looks things up.  The
 *	   al_cmd_* functions leave the role to their callers (the SQL
 *	   functions below, and handle(), which checks the message's command).
 *
 * src/entry/command_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(allocation_add_batch);
PG_FUNCTION_INFO_V1(allocation_allocate);
PG_FUNCTION_INFO_V1(allocation_deallocate);
PG_FUNCTION_INFO_V1(allocation_change_batch_quantity);

/* Copy a core string out before the session's arena is freed. */
static char *
copy_out(al_pg_session *s, const char *str)
{
	return str ? MemoryContextStrdup(s->caller_cxt, str) : NULL;
}

void
al_cmd_add_batch(const char *ref, const char *sku, int32 qty, bool has_eta,
				 DateADT eta)
{
	al_error_context ec = {.function = "allocation.add_batch",
	.ref = ref,.sku = sku,.qty = qty};
	al_pg_session s;
	al_service	svc;
	al_result	r;

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_add_batch(&svc, ref, sku, qty, has_eta, eta);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
}

char *
al_cmd_allocate(const char *orderid, const char *sku, int32 qty)
{
	al_error_context ec = {.function = "allocation.allocate",
	.orderid = orderid,.sku = sku,.qty = qty};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	char	   *batchref;

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_allocate(&svc, orderid, sku, qty);
	ec.existing_qty = r.existing_qty;
	batchref = copy_out(&s, r.batchref);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
	/* rule 3: out of stock is not an error, the answer is NULL */
	return r.status == AL_OK ? batchref : NULL;
}

char *
al_cmd_deallocate(const char *orderid, const char *sku)
{
	al_error_context ec = {.function = "allocation.deallocate",
	.orderid = orderid,.sku = sku};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	char	   *batchref;

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_deallocate(&svc, orderid, sku);
	batchref = copy_out(&s, r.batchref);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
	return batchref;
}

void
al_cmd_change_batch_quantity(const char *ref, int32 qty)
{
	al_error_context ec = {.function = "allocation.change_batch_quantity",
	.ref = ref,.qty = qty};
	al_pg_session s;
	al_service	svc;
	al_result	r;

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_change_batch_quantity(&svc, ref, qty);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
}

static Datum
text_or_null(FunctionCallInfo fcinfo, char *s)
{
	if (s == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(s));
}

/* add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL) */
Datum
allocation_add_batch(PG_FUNCTION_ARGS)
{
	const char *ref;
	const char *sku;
	int32		qty;

	al_require_role(AL_ADMIN_ROLE, "allocation.add_batch");
	al_check_not_null(fcinfo, 0, "ref");
	al_check_not_null(fcinfo, 1, "sku");
	al_check_not_null(fcinfo, 2, "qty");
	ref = al_identifier_arg(fcinfo, 0, "ref");
	sku = al_identifier_arg(fcinfo, 1, "sku");
	qty = al_batch_qty_arg(fcinfo, 2);
	if (!PG_ARGISNULL(3))
		al_check_eta(PG_GETARG_DATEADT(3), "eta");
	al_cmd_add_batch(ref, sku, qty, !PG_ARGISNULL(3),
					 PG_ARGISNULL(3) ? 0 : PG_GETARG_DATEADT(3));
	PG_RETURN_VOID();
}

/* allocate(orderid text, sku text, qty integer) RETURNS text */
Datum
allocation_allocate(PG_FUNCTION_ARGS)
{
	const char *orderid;
	const char *sku;
	int32		qty;

	al_require_role(AL_USER_ROLE, "allocation.allocate");
	al_check_not_null(fcinfo, 0, "orderid");
	al_check_not_null(fcinfo, 1, "sku");
	al_check_not_null(fcinfo, 2, "qty");
	orderid = al_identifier_arg(fcinfo, 0, "orderid");
	sku = al_identifier_arg(fcinfo, 1, "sku");
	qty = al_line_qty_arg(fcinfo, 2);
	return text_or_null(fcinfo, al_cmd_allocate(orderid, sku, qty));
}

/* deallocate(orderid text, sku text) RETURNS text */
Datum
allocation_deallocate(PG_FUNCTION_ARGS)
{
	const char *orderid;
	const char *sku;

	al_require_role(AL_USER_ROLE, "allocation.deallocate");
	al_check_not_null(fcinfo, 0, "orderid");
	al_check_not_null(fcinfo, 1, "sku");
	orderid = al_identifier_arg(fcinfo, 0, "orderid");
	sku = al_identifier_arg(fcinfo, 1, "sku");
	return text_or_null(fcinfo, al_cmd_deallocate(orderid, sku));
}

/* change_batch_quantity(ref text, qty integer) */
Datum
allocation_change_batch_quantity(PG_FUNCTION_ARGS)
{
	const char *ref;
	int32		qty;

	al_require_role(AL_ADMIN_ROLE, "allocation.change_batch_quantity");
	al_check_not_null(fcinfo, 0, "ref");
	al_check_not_null(fcinfo, 1, "qty");
	ref = al_identifier_arg(fcinfo, 0, "ref");
	qty = al_batch_qty_arg(fcinfo, 1);
	al_cmd_change_batch_quantity(ref, qty);
	PG_RETURN_VOID();
}
