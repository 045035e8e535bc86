/*-------------------------------------------------------------------------
 *
 * bus_api.c
 *	  SQL-callable functions around the message bus: plugin subscriptions
 *	  and the rebuild of the read model (the contract: events).
 *
 * src/entry/bus_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "command_api.h"
#include "errors.h"
#include "isolation.h"
#include "pg_compat.h"
#include "session.h"

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(allocation_subscribe);
PG_FUNCTION_INFO_V1(allocation_unsubscribe);
PG_FUNCTION_INFO_V1(allocation_unsubscribe_named);
PG_FUNCTION_INFO_V1(allocation_rebuild_read_model);

/* An event type name of the contract's events table, else 22023. */
static char *
event_type_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	al_event_type type;

	if (!al_event_type_from_name(name, &type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown event type %s", al_shown_value(name, strlen(name))),
				 errhint("Known types: BatchCreated, BatchQuantityChanged, Allocated, Deallocated, OutOfStock, OrderCreated, OrderStatusChanged.")));
	return name;
}

/* A plugin is a function (event jsonb) RETURNS void. */
static void
check_handler_signature(Oid handler)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	Form_pg_proc proc;
	bool		fits;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function with OID %u does not exist", handler),
				 errdetail("A handler must be an existing function (event jsonb) RETURNS void.")));
	proc = (Form_pg_proc) GETSTRUCT(tup);
	fits = proc->pronargs == 1 && proc->proargtypes.values[0] == JSONBOID &&
		proc->prorettype == VOIDOID && proc->prokind == PROKIND_FUNCTION &&
		!proc->proretset;
	ReleaseSysCache(tup);
	if (!fits)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function %s cannot be an event handler",
						format_procedure(handler)),
				 errdetail("A handler must be a function (event jsonb) RETURNS void.")));
}

/*
 * The search_path a plugin runs with: the subscriber's, without any
 * temporary schema, then pg_temp last.  A pg_temp the subscriber named
 * earlier would be the temporary schema of whoever's command runs the
 * plugin, who could then put a table or a function of its own before the
 * ones the plugin means.
 */
static char *
plugin_search_path(void)
{
	char	   *raw = pstrdup(GetConfigOption("search_path", false, false));
	List	   *names;
	ListCell   *lc;
	StringInfoData path;

	if (!SplitIdentifierString(raw, ',', &names))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in search_path")));
	initStringInfo(&path);
	foreach(lc, names)
	{
		const char *name = lfirst(lc);

		if (strcmp(name, "pg_temp") == 0 || strncmp(name, "pg_temp_", 8) == 0)
			continue;
		appendStringInfo(&path, "%s, ", quote_identifier(name));
	}
	appendStringInfoString(&path, "pg_temp");
	return path.data;
}

/* Tell every backend's plugin cache that the subscriptions changed. */
static void
invalidate_subscriptions(void)
{
	Oid			relid = get_relname_relid("subscriptions",
										  get_namespace_oid("allocation", false));

	CacheInvalidateRelcacheByRelid(relid);
}

/* subscribe(event_type text, handler regprocedure) */
Datum
allocation_subscribe(PG_FUNCTION_ARGS)
{
	char	   *type;
	Oid			handler;
	Oid			subscriber = GetUserId();
	al_pg_session s;
	char	   *search_path;

	al_require_role(AL_ADMIN_ROLE, "allocation.subscribe");
	al_check_not_null(fcinfo, 0, "event_type");
	al_check_not_null(fcinfo, 1, "handler");
	type = event_type_arg(fcinfo, 0);
	handler = PG_GETARG_OID(1);
	check_handler_signature(handler);
	/* the plugin runs with the subscriber's rights: it must be callable */
	if (pg_proc_aclcheck(handler, subscriber, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s",
						format_procedure(handler))));
	/* nobody else may be able to change what runs with our rights */
	al_pg_check_plugin_owner(handler, subscriber);

	/* the plugin resolves names as its subscriber did, pg_temp last */
	search_path = plugin_search_path();
	al_pg_begin(&s, false);
	al_pg_subscribe(&s, type, handler, subscriber, search_path);
	al_pg_end(&s);
	invalidate_subscriptions();
	PG_RETURN_VOID();
}

/* unsubscribe(event_type text, handler regprocedure) RETURNS boolean */
Datum
allocation_unsubscribe(PG_FUNCTION_ARGS)
{
	char	   *type;
	al_pg_session s;
	uint64		n;

	al_require_role(AL_ADMIN_ROLE, "allocation.unsubscribe");
	al_check_not_null(fcinfo, 0, "event_type");
	al_check_not_null(fcinfo, 1, "handler");
	type = event_type_arg(fcinfo, 0);
	al_pg_begin(&s, false);
	n = al_pg_unsubscribe(&s, type, PG_GETARG_DATUM(1));
	al_pg_end(&s);
	invalidate_subscriptions();
	PG_RETURN_BOOL(n > 0);
}

/* The longest text unsubscribe looks up as a function's signature. */
#define AL_HANDLER_NAME_MAX (100 * (2 * NAMEDATALEN + 8) + 2 * NAMEDATALEN)

/*
 * The function named name, as regprocedure input would find it in the
 * caller's search_path, or InvalidOid when there is none, or the name is
 * malformed, or names a schema the caller may not use: each of those is a
 * name no subscription was made with that can be looked up.  An error
 * that belongs to the caller's transaction (a cancel, say) is raised.
 */
static Oid
handler_by_name(text *name)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile Oid handler = InvalidOid;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		LOCAL_FCINFO(lookup, 1);
		Datum		oid;

		InitFunctionCallInfoData(*lookup, NULL, 1, InvalidOid, NULL, NULL);
		lookup->args[0].value = PointerGetDatum(name);
		lookup->args[0].isnull = false;
		oid = to_regprocedure(lookup);
		if (!lookup->isnull)
			handler = DatumGetObjectId(oid);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (al_pg_error_belongs_to_caller(edata->sqlerrcode))
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return handler;
}

/*
 * unsubscribe(event_type text, handler text) RETURNS boolean: the handler
 * as its subscription stores it (schema.name(argument types), as the
 * WARNING of a plugin that no longer exists names it), whether or not a
 * function of that name exists, or else as regprocedure input names it,
 * in the caller's search_path.  A name that is neither is 42883, however
 * it is malformed.  A literal handler argument comes here, not to the
 * regprocedure variant (PostgreSQL prefers text for an unknown).
 */
Datum
allocation_unsubscribe_named(PG_FUNCTION_ARGS)
{
	char	   *type;
	char	   *name;
	Oid			handler = InvalidOid;
	al_pg_session s;
	uint64		n;

	al_require_role(AL_ADMIN_ROLE, "allocation.unsubscribe");
	al_check_not_null(fcinfo, 0, "event_type");
	al_check_not_null(fcinfo, 1, "handler");
	type = event_type_arg(fcinfo, 0);
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	al_pg_begin(&s, false);
	n = al_pg_unsubscribe_stored(&s, type, name);
	al_pg_end(&s);
	if (n == 0)
	{
		/*
		 * Looked up as the caller, not as the owner the session runs as.
		 * No signature is longer than 100 arguments of qualified type
		 * names: a longer text names nothing, and is not parsed (a
		 * parser's NOTICE would repeat all of it).  A cancel that came
		 * during the lookup is reported as itself, not as 42883.
		 */
		if (VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(1)) <= AL_HANDLER_NAME_MAX)
			handler = handler_by_name(PG_GETARG_TEXT_PP(1));
		CHECK_FOR_INTERRUPTS();
		if (!OidIsValid(handler))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("function %s does not exist", al_shown_value(name, strlen(name))),
					 errdetail("No subscription of %s names it either.", type),
					 errhint("A handler that no longer exists is named as its subscription stores it: with its schema and argument types, as in \"public.audit(jsonb)\".")));
		al_pg_begin(&s, false);
		n = al_pg_unsubscribe(&s, type, ObjectIdGetDatum(handler));
		al_pg_end(&s);
	}
	invalidate_subscriptions();
	PG_RETURN_BOOL(n > 0);
}

/*
 * rebuild_read_model() RETURNS bigint: recreate allocations_view from the
 * write model (read models are disposable).  The EXCLUSIVE lock makes
 * concurrent commands wait at their projection, so none is lost between
 * the clear and the copy.
 */
Datum
allocation_rebuild_read_model(PG_FUNCTION_ARGS)
{
	al_pg_session s;
	uint64		n;

	al_require_role(AL_ADMIN_ROLE, "allocation.rebuild_read_model");
	al_pg_begin(&s, false);
	n = al_pg_rebuild_read_model(&s);
	al_pg_end(&s);
	PG_RETURN_INT64((int64) n);
}
