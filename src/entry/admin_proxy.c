/*-------------------------------------------------------------------------
 *
 * admin_proxy.c
 *	  The administrators' SQL-level functions (outbox consumers,
 *	  check_invariants), and the users' allocations(), are written in
 *	  PL/pgSQL or SQL as allocation._<name>, granted to nobody.
 *	  allocation.<name> is a C function here: it checks the caller's role,
 *	  so a refusal names the role like every other refusal, and its
 *	  arguments, then runs allocation._<name> with the owner's rights and
 *	  hands back its result.
 *
 * Notes:
 *	1) Not a hot path: the query is planned on each call.
 *	2) The implementations pin search_path themselves (SET clause), so the
 *	   caller's search_path reaches nothing while they run as the owner.
 *	3) Memory: a set result is copied into the tuplestore (per-query
 *	   memory) and a scalar into the caller's context before SPI_finish.
 *
 * src/entry/admin_proxy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"

PG_FUNCTION_INFO_V1(allocation_admin_proxy);
PG_FUNCTION_INFO_V1(allocation_allocations);

/*
 * allocation.<name> for administrators: allocation._<name> as the owner.
 * A consumer's name is an identifier like any other (register_consumer:
 * it reaches views, metrics labels and the relay's logs); checked once
 * every argument is known not to be NULL, which the implementation
 * reports first (22004, then 22023).
 */
Datum
allocation_admin_proxy(PG_FUNCTION_ARGS)
{
	char	   *name = get_func_name(fcinfo->flinfo->fn_oid);
	bool		any_null = false;

	al_require_role(AL_ADMIN_ROLE, psprintf("allocation.%s", name));
	for (int i = 0; i < PG_NARGS(); i++)
		any_null |= PG_ARGISNULL(i);
	if (strcmp(name, "register_consumer") == 0 && !any_null)
		(void) al_identifier_arg(fcinfo, 0, "consumer");
	return al_run_implementation(fcinfo);
}

/*
 * allocations(orderid) for users: the order id checked as every command
 * checks it (22004, 22023), then the read model (allocation._allocations).
 */
Datum
allocation_allocations(PG_FUNCTION_ARGS)
{
	al_require_role(AL_USER_ROLE, "allocation.allocations");
	al_check_not_null(fcinfo, 0, "orderid");
	(void) al_identifier_arg(fcinfo, 0, "orderid");
	return al_run_implementation(fcinfo);
}

/*
 * Run allocation._<name> with the owner's rights, where <name> is the name
 * of the calling SQL function, with its arguments; the caller has checked
 * the role.
 */
Datum
al_run_implementation(FunctionCallInfo fcinfo)
{
	Oid			fn = fcinfo->flinfo->fn_oid;
	char	   *name = get_func_name(fn);
	Oid			rettype = get_func_rettype(fn);
	bool		retset = get_func_retset(fn);
	Oid		   *argtypes;
	int			nargs;
	StringInfoData sql;
	Datum	   *values;
	char	   *nulls;
	al_pg_session s;
	int			rc;
	Datum		result = (Datum) 0;
	bool		result_null = true;
	bool		read_only;

	get_func_signature(fn, &argtypes, &nargs);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT * FROM allocation.%s(",
					 quote_identifier(psprintf("_%s", name)));
	values = palloc(sizeof(Datum) * (nargs > 0 ? nargs : 1));
	nulls = palloc(nargs + 1);
	for (int i = 0; i < nargs; i++)
	{
		appendStringInfo(&sql, "%s$%d", i > 0 ? ", " : "", i + 1);
		values[i] = PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	nulls[nargs] = '\0';
	appendStringInfoChar(&sql, ')');

	if (retset)
		InitMaterializedSRF(fcinfo, 0);
	/*
	 * A STABLE or IMMUTABLE function reads in its caller's snapshot, as
	 * its implementation called directly would: no new snapshot, no
	 * command counter increment (allocations() in the same statement as
	 * an allocate does not see that allocate).
	 */
	read_only = func_volatile(fn) != PROVOLATILE_VOLATILE;
	al_pg_begin(&s, read_only);
	rc = SPI_execute_with_args(sql.data, nargs, argtypes, values, nulls,
							   read_only, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s",
			 SPI_result_code_string(rc));
	if (retset)
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

		for (uint64 i = 0; i < SPI_processed; i++)
			tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	}
	else if (SPI_processed > 0 && rettype != VOIDOID)
	{
		int16		typlen;
		bool		typbyval;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &result_null);

		get_typlenbyval(rettype, &typlen, &typbyval);
		if (!result_null)
		{
			MemoryContext old = MemoryContextSwitchTo(s.caller_cxt);

			result = datumCopy(d, typbyval, typlen);
			MemoryContextSwitchTo(old);
		}
	}
	al_pg_end(&s);

	if (retset)
		return (Datum) 0;
	if (rettype == VOIDOID)
		PG_RETURN_VOID();
	if (result_null)
		PG_RETURN_NULL();
	return result;
}

PG_FUNCTION_INFO_V1(allocation_clock_offset);

/* _clock_offset() RETURNS bigint: for the consumer API's frontier */
Datum
allocation_clock_offset(PG_FUNCTION_ARGS)
{
	al_pg_session s;
	int64		offset;

	al_pg_begin(&s, false);
	offset = al_pg_clock_offset(&s);
	al_pg_end(&s);
	PG_RETURN_INT64(offset);
}
