/*-------------------------------------------------------------------------
 *
 * isolation.c
 *	  Event handlers and plugins in their own subtransaction (port
 *	  al_isolation), and the plugin dispatcher (port al_plugins).
 *
 * Notes:
 *	1) The pattern is the PL handlers' one: BeginInternalSubTransaction,
 *	   call, ReleaseCurrentSubTransaction; on error copy the error data,
 *	   flush it, roll the subtransaction back, restore the memory context
 *	   and resource owner, and report a WARNING.  The SPI connection was
 *	   opened outside the subtransaction, so the abort leaves it usable.
 *	2) A plugin runs with the rights of the role that subscribed it
 *	   (SPEC section 5), never with the extension owner's: the user id is
 *	   switched for the call and restored by the subtransaction's end.
 *	3) The subscriptions are cached per backend in CacheMemoryContext and
 *	   dropped by a relcache callback: subscribe()/unsubscribe() send a
 *	   relcache invalidation for allocation.subscriptions, which reaches
 *	   every backend at commit.  A command with no plugin subscribed thus
 *	   runs no query for plugins.
 *
 * src/adapters/isolation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "pg_session.h"

typedef struct al_plugin
{
	al_event_type type;
	Oid			handler;
	Oid			owner;
	char	   *search_path;	/* in CacheMemoryContext */
} al_plugin;

static al_plugin *plugin_cache = NULL;
static int	plugin_count = 0;
static bool plugin_cache_valid = false;
static bool plugin_callback_registered = false;
static Oid	subscriptions_relid = InvalidOid;

/* Relcache callback: drop the cache when allocation.subscriptions changed. */
static void
plugin_cache_reset(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == subscriptions_relid)
		plugin_cache_valid = false;
}

/*
 * Run fn(svc, ev) in a subtransaction; its error becomes a WARNING naming
 * the handler.  Returns false when it failed.
 */
static bool
isolation_run(void *ctx, const char *name, al_event_handler_fn fn,
			  al_service *svc, const al_event *ev)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		al_status	st = fn(svc, ev);

		if (st != AL_OK)
		{
			/* it gave up: undo its work as if it had raised */
			al_pg_forget_rows(ctx);
			RollbackAndReleaseCurrentSubTransaction();
			ereport(WARNING,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("event handler %s failed on %s: %s", name,
							al_event_name(ev->type), al_status_name(st)),
					 errdetail("Only the handler's own work was undone; the command stands.")));
			ok = false;
		}
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		al_pg_forget_rows(ctx);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("event handler %s failed on %s: %s", name,
						al_event_name(ev->type), edata->message),
				 errdetail("Only the handler's own work was undone; the command stands.")));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* (Re)load the subscriptions into the backend cache. */
static void
plugin_cache_load(al_pg_session *s)
{
	uint64		n;

	if (!plugin_callback_registered)
	{
		CacheRegisterRelcacheCallback(plugin_cache_reset, (Datum) 0);
		plugin_callback_registered = true;
	}
	subscriptions_relid = get_relname_relid("subscriptions",
											get_namespace_oid("allocation", false));
	n = al_pg_exec(s, Q_PLUGINS_ALL, NULL, NULL);
	if (plugin_cache)
	{
		for (int i = 0; i < plugin_count; i++)
			pfree(plugin_cache[i].search_path);
		pfree(plugin_cache);
	}
	plugin_cache = MemoryContextAlloc(CacheMemoryContext,
									  sizeof(al_plugin) * (n > 0 ? n : 1));
	plugin_count = 0;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *type = al_pg_text(s, i, 1);
		al_plugin  *pl = &plugin_cache[plugin_count];

		if (!al_event_type_from_name(type, &pl->type))
			continue;
		pl->handler = DatumGetObjectId(al_pg_datum(i, 2));
		pl->owner = DatumGetObjectId(al_pg_datum(i, 3));
		pl->search_path = MemoryContextStrdup(CacheMemoryContext,
											  al_pg_text(s, i, 4));
		plugin_count++;
	}
	plugin_cache_valid = true;
}

typedef struct plugin_call
{
	const al_plugin *plugin;
	Datum		event;
} plugin_call;

static plugin_call *current_call;

/*
 * Body of one isolated plugin call.  The plugin runs as its subscriber,
 * with the subscriber's search_path, as a security-restricted operation,
 * and every setting it changes is undone when it returns (as PostgreSQL
 * does for index expressions): it can neither act with the caller's
 * rights nor leave anything behind in the caller's session.
 */
static al_status
call_plugin(al_service *svc, const al_event *ev)
{
	const al_plugin *pl = current_call->plugin;
	Oid			saved_user;
	int			saved_sec;
	int			nestlevel;
	FmgrInfo	flinfo;

	LOCAL_FCINFO(fcinfo, 1);

	/* fmgr does not check rights: do it as the executor would */
	if (pg_proc_aclcheck(pl->handler, pl->owner, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s",
						format_procedure(pl->handler))));
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(pl->owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", pl->search_path, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/* a (jsonb) RETURNS void function may return NULL (SQL ones do) */
	fmgr_info(pl->handler, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = current_call->event;
	fcinfo->args[0].isnull = false;
	(void) FunctionCallInvoke(fcinfo);

	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(saved_user, saved_sec);
	return AL_OK;
}

/* The jsonb a plugin receives: type, aggregate and payload. */
static Datum
plugin_event_json(const char *aggregatetype, const al_event *ev)
{
	JsonbParseState *st = NULL;
	JsonbValue	key;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	al_pg_push_text(&st, "type", al_event_name(ev->type));
	al_pg_push_text(&st, "aggregatetype", aggregatetype);
	al_pg_push_text(&st, "aggregateid",
					strcmp(aggregatetype, "order") == 0 ? ev->orderid : ev->sku);
	key.type = jbvString;
	key.val.string.val = "payload";
	key.val.string.len = strlen("payload");
	pushJsonbValue(&st, WJB_KEY, &key);
	al_pg_push_event_payload(&st, ev);
	return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL)));
}

static void
plugins_dispatch(void *ctx, const char *aggregatetype, const al_event *ev)
{
	al_pg_session *s = ctx;
	Datum		json = (Datum) 0;

	if (!plugin_cache_valid)
		plugin_cache_load(s);
	for (int i = 0; i < plugin_count; i++)
	{
		plugin_call call;
		al_plugin	pl;
		char	   *name;

		if (!plugin_cache_valid)
			plugin_cache_load(s);	/* a plugin changed the subscriptions */
		if (i >= plugin_count || plugin_cache[i].type != ev->type)
			continue;
		pl = plugin_cache[i];
		if (json == (Datum) 0)
		{
			json = plugin_event_json(aggregatetype, ev);
			/* a plugin may read the read model: write what is held back */
			al_pg_flush_views(s);
		}
		call.plugin = &pl;
		call.event = json;
		current_call = &call;
		name = format_procedure(pl.handler);
		isolation_run(s, name, call_plugin, NULL, ev);
	}
}

void
al_pg_isolation(al_isolation *isolation, al_plugins *plugins,
				al_pg_session *s)
{
	isolation->ctx = s;
	isolation->run = isolation_run;
	plugins->ctx = s;
	plugins->dispatch = plugins_dispatch;
}
