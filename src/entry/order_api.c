/*-------------------------------------------------------------------------
 *
 * order_api.c
 *	  SQL-callable functions of the order-tracking context.
 *
 * src/entry/order_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(allocation_create_order);
PG_FUNCTION_INFO_V1(allocation_order_status);
PG_FUNCTION_INFO_V1(allocation_change_order_status);
PG_FUNCTION_INFO_V1(allocation_subscribe_to_order);

static al_order_status
status_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	al_order_status status;

	if (!al_order_status_from_name(name, &status))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order status %s", al_shown_value(name, strlen(name))),
				 errhint("Statuses: created, allocated, backordered, shipped, delivered, cancelled.")));
	return status;
}

/* create_order(orderid text) */
Datum
allocation_create_order(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.create_order"};
	al_pg_session s;
	al_service	svc;
	al_result	r;

	al_require_role(AL_ADMIN_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "orderid");
	ec.orderid = al_identifier_arg(fcinfo, 0, "orderid");
	if (!al_order_id_valid(ec.orderid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid order id %s", al_shown_value(ec.orderid, strlen(ec.orderid))),
				 errdetail("An order id has the form PREFIX-NUMBER: a \"-\" with characters on both sides, not only spaces.")));

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_create_order(&svc, ec.orderid);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
	PG_RETURN_VOID();
}

/* order_status(orderid text) RETURNS text: NULL for an untracked order */
Datum
allocation_order_status(PG_FUNCTION_ARGS)
{
	const char *orderid;
	al_pg_session s;
	char	   *status;

	al_require_role(AL_USER_ROLE, "allocation.order_status");
	al_check_not_null(fcinfo, 0, "orderid");
	orderid = al_identifier_arg(fcinfo, 0, "orderid");
	al_pg_begin(&s, true);
	status = al_pg_order_status(&s, orderid);
	al_pg_end(&s);
	if (status == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(status));
}

/* change_order_status(orderid text, status text) */
Datum
allocation_change_order_status(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.change_order_status"};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	al_order_status status;

	al_require_role(AL_ADMIN_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "orderid");
	al_check_not_null(fcinfo, 1, "status");
	ec.orderid = al_identifier_arg(fcinfo, 0, "orderid");
	status = status_arg(fcinfo, 1);
	ec.status = al_order_status_name(status);

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_change_order_status(&svc, ec.orderid, status);
	/* al_pg_end deletes the arena (the current context): copy it out */
	if (r.previous_status)
		ec.previous_status = MemoryContextStrdup(s.caller_cxt,
												 r.previous_status);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
	PG_RETURN_VOID();
}

/* subscribe_to_order(orderid text, email text) */
Datum
allocation_subscribe_to_order(PG_FUNCTION_ARGS)
{
	al_error_context ec = {.function = "allocation.subscribe_to_order"};
	al_pg_session s;
	al_service	svc;
	al_result	r;
	char	   *email;

	al_require_role(AL_USER_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "orderid");
	al_check_not_null(fcinfo, 1, "email");
	ec.orderid = al_identifier_arg(fcinfo, 0, "orderid");
	email = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!al_email_valid(email))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid e-mail address %s", al_shown_value(email, strlen(email))),
				 errdetail("An address has the form local@domain.tld, without spaces.")));

	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	r = al_svc_subscribe_to_order(&svc, ec.orderid, email);
	al_pg_end(&s);
	al_check_status(r.status, &ec);
	PG_RETURN_VOID();
}
