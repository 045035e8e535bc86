/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  allocation.allocate_many(lines allocation.order_line[]): many lines
 *	  in one call, with the rules and events of allocate for each.
 *
 * Notes:
 *	1) Every line is checked before anything is looked up; then the
 *	   service locks the products in byte order of their SKUs
 *	   (deadlock-free against other bulk calls), loads each once, decides
 *	   the lines in the order given, exactly as consecutive allocate calls
 *	   would, and writes them as one unit of work (al_svc_allocate_many).
 *	2) One SPI session serves the whole call, and the adapters write the
 *	   lines, events and read-model rows of all lines with a few
 *	   array-based statements: that is where the bulk call's speed comes
 *	   from.  Memory grows with the number of lines (the arena holds them
 *	   all until the call ends).
 *
 * src/entry/bulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"

PG_FUNCTION_INFO_V1(allocation_allocate_many);

typedef struct bulk_line
{
	char	   *orderid;
	char	   *sku;
	int32		qty;
} bulk_line;

/* Field attno of line i, checked for NULL (22004). */
static Datum
line_field(HeapTupleHeader tup, int attno, const char *name, int i)
{
	bool		isnull;
	Datum		d = GetAttributeByNum(tup, attno, &isnull);

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s of line %d must not be null", name, i + 1)));
	return d;
}

static void
check_identifier(Datum d, const char *name)
{
	text	   *t = DatumGetTextPP(d);

	al_check_identifier_value(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), name);
}

/* allocate_many(lines order_line[]) RETURNS TABLE (orderid, sku, batchref) */
Datum
allocation_allocate_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bulk_line  *lines;
	al_line_request *requests;
	int			failed = -1;
	al_pg_session s;
	al_service	svc;
	al_error_context ec = {.function = "allocation.allocate_many"};
	al_status	st;
	char	  **refs;

	al_require_role(AL_USER_ROLE, ec.function);
	al_check_not_null(fcinfo, 0, "lines");
	arr = PG_GETARG_ARRAYTYPE_P(0);
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
					  &elems, &elem_nulls, &n);

	/*
	 * Every argument is checked before anything is looked up: NULLs in any
	 * line first (22004), then the values (22023), as a function's
	 * arguments are.
	 */
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("line %d must not be null", i + 1)));
		for (int attno = 1; attno <= 3; attno++)
			(void) line_field(DatumGetHeapTupleHeader(elems[i]), attno,
							  attno == 1 ? "orderid" : attno == 2 ? "sku" : "qty", i);
	}
	lines = palloc(sizeof(bulk_line) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
	{
		HeapTupleHeader tup;
		Datum		d;

		CHECK_FOR_INTERRUPTS();
		tup = DatumGetHeapTupleHeader(elems[i]);
		d = line_field(tup, 1, "orderid", i);
		check_identifier(d, "orderid");
		lines[i].orderid = TextDatumGetCString(d);
		d = line_field(tup, 2, "sku", i);
		check_identifier(d, "sku");
		lines[i].sku = TextDatumGetCString(d);
		lines[i].qty = DatumGetInt32(line_field(tup, 3, "qty", i));
		al_check_qty(lines[i].qty, AL_QTY_LINE, AL_QTY_FROM_ARRAY, i + 1,
					 "qty");
	}

	InitMaterializedSRF(fcinfo, 0);
	requests = palloc0(sizeof(al_line_request) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
	{
		requests[i].orderid = lines[i].orderid;
		requests[i].sku = lines[i].sku;
		requests[i].qty = lines[i].qty;
	}
	refs = palloc0(sizeof(char *) * (n > 0 ? n : 1));
	al_require_writable(ec.function);
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	st = al_svc_allocate_many(&svc, requests, n, &failed, &ec.existing_qty);
	for (int i = 0; st == AL_OK && i < n; i++)
		if (requests[i].status == AL_OK)
			refs[i] = MemoryContextStrdup(s.caller_cxt, requests[i].batchref);
	al_pg_end(&s);
	if (st != AL_OK)
	{
		if (failed >= 0)
		{
			ec.orderid = lines[failed].orderid;
			ec.sku = lines[failed].sku;
			ec.qty = lines[failed].qty;
		}
		al_check_status(st, &ec);
	}

	for (int i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, refs[i] == NULL};

		values[0] = CStringGetTextDatum(lines[i].orderid);
		values[1] = CStringGetTextDatum(lines[i].sku);
		values[2] = refs[i] ? CStringGetTextDatum(refs[i]) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
