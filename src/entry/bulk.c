/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  allocation.allocate_many(lines allocation.order_line[]): many lines
 *	  in one call, with the rules and events of allocate for each.
 *
 * Notes:
 *	1) Every line is checked before anything is looked up; then the
 *	   products are locked in byte order of their SKUs (deadlock-free
 *	   against other bulk calls), then the lines are allocated in the
 *	   order given, exactly as consecutive allocate calls would.
 *	2) One SPI session serves the whole call: the per-call set-up of
 *	   allocate is paid once.  The core's arena is reset after each line
 *	   so memory stays flat for long arrays.
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "commands.h"
#include "errors.h"
#include "pg_session.h"

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
	const char **skus;
	const char *unknown = NULL;
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

	/* every argument is checked before anything is looked up */
	lines = palloc(sizeof(bulk_line) * (n > 0 ? n : 1));
	skus = palloc(sizeof(char *) * (n > 0 ? n : 1));
	for (int i = 0; i < n; i++)
	{
		HeapTupleHeader tup;
		Datum		d;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("line %d must not be null", i + 1)));
		tup = DatumGetHeapTupleHeader(elems[i]);
		d = line_field(tup, 1, "orderid", i);
		check_identifier(d, "orderid");
		lines[i].orderid = TextDatumGetCString(d);
		d = line_field(tup, 2, "sku", i);
		check_identifier(d, "sku");
		lines[i].sku = TextDatumGetCString(d);
		lines[i].qty = DatumGetInt32(line_field(tup, 3, "qty", i));
		if (!al_line_qty_valid(lines[i].qty))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid quantity %d for line %d", lines[i].qty, i + 1),
					 errdetail("An order line's quantity must be greater than zero.")));
		skus[i] = lines[i].sku;
	}

	InitMaterializedSRF(fcinfo, 0);
	refs = palloc0(sizeof(char *) * (n > 0 ? n : 1));
	al_pg_begin(&s, false);
	al_pg_service(&svc, &s);
	st = al_svc_lock_products(&svc, skus, n, &unknown);
	if (st != AL_OK)
	{
		ec.sku = pstrdup(unknown);
		al_pg_end(&s);
		al_raise(st, &ec);
	}
	for (int i = 0; i < n; i++)
	{
		al_result	r = al_svc_allocate(&svc, lines[i].orderid, lines[i].sku,
										lines[i].qty);

		if (r.status != AL_OK && r.status != AL_OUT_OF_STOCK)
		{
			ec.orderid = lines[i].orderid;
			ec.sku = lines[i].sku;
			ec.qty = lines[i].qty;
			ec.existing_qty = r.existing_qty;
			al_pg_end(&s);
			al_raise(r.status, &ec);
		}
		if (r.status == AL_OK)
			refs[i] = MemoryContextStrdup(s.caller_cxt, r.batchref);
		/* the line's core objects are done with: keep memory flat */
		svc.queue.count = 0;
		svc.queue.cap = 0;
		svc.queue.items = NULL;
		svc.queue_head = 0;
		MemoryContextReset(s.arena_cxt);
	}
	al_pg_end(&s);

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
