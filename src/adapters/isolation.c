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
 *	   and resource owner, and report a WARNING, unless the error belongs
 *	   to the caller's transaction (al_pg_error_belongs_to_caller: one
 *	   table of SQLSTATE classes for every isolated handler and plugin),
 *	   which is re-thrown after the rollback.  The SPI connection was
 *	   opened outside the subtransaction, so the abort leaves it usable.
 *	2) A plugin runs with the rights of the role that subscribed it
 *	   (the contract: events), never with the extension owner's: the user id is
 *	   switched for the call and restored by the subtransaction's end.
 *	3) The subscriptions are cached per backend in CacheMemoryContext and
 *	   dropped by a relcache callback: subscribe()/unsubscribe() send a
 *	   relcache invalidation for allocation.subscriptions, which reaches
 *	   every backend at commit.  A command with no plugin subscribed thus
 *	   runs no query for plugins.  A rolled-back subscribe/unsubscribe
 *	   drops the cache too: PostgreSQL replays a transaction's (or
 *	   subtransaction's) own invalidations locally when it aborts.  An
 *	   event reaches the plugins subscribed when it is dispatched: they
 *	   are copied out of the cache before the first call.
 *	   The cache holds the handlers' OIDs, so it is dropped as well when
 *	   any function changes (a syscache callback on pg_proc): a handler
 *	   dropped and created again is found again by its name.
 *	4) The owner of a plugin must have its subscriber's privileges
 *	   (al_pg_check_plugin_owner), at subscribe() and at every call; and
 *	   the subscriber must still be an administrator at every call: a role
 *	   whose allocation_admin membership was revoked may read no event, so
 *	   its plugins receive none (each call is refused with a WARNING until
 *	   an administrator unsubscribes them).
 *
 * src/adapters/isolation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
#include "utils/jsonb.h"
#include "utils/regproc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "errors.h"
#include "pg_compat.h"
#include "isolation.h"
#include "outbox.h"

#define EQ AL_EQ

typedef struct al_plugin
{
	al_event_type type;
	Oid			handler;
	Oid			owner;
	char	   *search_path;	/* in CacheMemoryContext */
	char	   *name;			/* as subscribed: named even once dropped */
} al_plugin;

static al_plugin *plugin_cache = NULL;
static int	plugin_count = 0;
static bool plugin_cache_valid = false;
static uint64 plugin_cache_resets = 0;	/* invalidations seen, for a load */
static Oid	subscriptions_relid = InvalidOid;

static al_pg_statement plugins_all_stmt = {
	.sql = "SELECT event_type,"
	" COALESCE(pg_catalog.to_regprocedure(handler)::pg_catalog.oid, 0),"
	" owner::pg_catalog.oid,"
	" search_path,"
	" handler::pg_catalog.text"
	" FROM allocation.subscriptions ORDER BY id",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_SELECT
};

/* columns of plugins_all_stmt */
enum
{
	PLUGINS_EVENT_TYPE = 1,
	PLUGINS_HANDLER,
	PLUGINS_OWNER,
	PLUGINS_SEARCH_PATH,
	PLUGINS_NAME
};

/* Relcache callback: drop the cache when allocation.subscriptions changed. */
static void
plugin_cache_reset(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == subscriptions_relid)
	{
		plugin_cache_valid = false;
		plugin_cache_resets++;
	}
}

/* Syscache callback: a function changed, maybe a handler (Note 3). */
static void
plugin_cache_reset_proc(Datum arg, int cacheid, uint32 hashvalue)
{
	plugin_cache_valid = false;
	plugin_cache_resets++;
}

/*
 * The errors that belong to the caller's transaction, by SQLSTATE class or
 * code.  An isolated handler or plugin that raises one of them does not
 * get it turned into a WARNING: its subtransaction is rolled back and the
 * error goes on to the caller, as PL/pgSQL's WHEN OTHERS lets a cancel
 * through.  They say something about the transaction or the server, not
 * about the handler: swallowing a serialization failure or a deadlock
 * would commit work that must be retried, swallowing a cancel or a
 * statement_timeout would let a statement outlive its limit, and after an
 * out-of-memory, I/O or internal error nothing should commit as if all
 * were well.  A row with a zero code covers its whole class.
 */
static const struct
{
	int			sqlstate;
	bool		whole_class;
}			CALLER_ERRORS[] = {
	/* 40: serialization failure 40001, deadlock 40P01, ... */
	{ERRCODE_TRANSACTION_ROLLBACK, true},
	/* 53: out of memory 53200, disk full 53100, too many connections ... */
	{ERRCODE_INSUFFICIENT_RESOURCES, true},
	/* 55P03: lock_timeout, NOWAIT */
	{ERRCODE_LOCK_NOT_AVAILABLE, false},
	/* 57: cancel and statement_timeout 57014, shutdowns 57P0x ... */
	{ERRCODE_OPERATOR_INTERVENTION, true},
	/* 58: I/O errors of the server */
	{ERRCODE_SYSTEM_ERROR, true},
	/* XX: internal errors, data or index corruption */
	{ERRCODE_INTERNAL_ERROR, true},
};

/*
 * Does an error of this SQLSTATE belong to the caller's transaction rather
 * than to the isolated handler that raised it?  The one place that decides
 * it, for every isolated path (event handlers and plugins).
 */
bool
al_pg_error_belongs_to_caller(int sqlerrcode)
{
	for (size_t i = 0; i < lengthof(CALLER_ERRORS); i++)
	{
		if (CALLER_ERRORS[i].whole_class ?
			ERRCODE_TO_CATEGORY(sqlerrcode) == CALLER_ERRORS[i].sqlstate :
			sqlerrcode == CALLER_ERRORS[i].sqlstate)
			return true;
	}
	return false;
}

/* The error a handler's status stands for, raised through al_raise. */
static void
raise_handler_status(al_status st, const al_event *ev)
{
	al_error_context ec = {.function = "event handler"};

	ec.sku = ev->sku;
	ec.ref = ev->batchref;
	ec.orderid = ev->orderid;
	ec.qty = ev->qty;
	ec.status = ev->status;
	ec.previous_status = ev->previous_status;
	/* the status's own error, from the one table (errors.c) */
	if (al_status_sqlstate(st) != 0)
		al_raise(st, &ec);
	/* a status that is no failure (AL_OUT_OF_STOCK): the handler gave up */
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
			 errmsg("event handler gave up: %s", al_status_name(st))));
}

/* What runs isolated: body(arg), on behalf of event ev. */
typedef al_status (*isolated_fn) (void *arg);

/*
 * Run body(arg) in a subtransaction.  Its own failure becomes a WARNING
 * naming the handler, with the error's own SQLSTATE, and undoes only its
 * work (and what the adapters held back meanwhile); an error of the
 * caller's transaction (al_pg_error_belongs_to_caller) is re-thrown once
 * the subtransaction is rolled back.  A body that returns a status other
 * than AL_OK fails with the error that status maps to, by the same rule.
 * Returns false when it failed.
 */
static bool
run_isolated(al_pg_session *s, const char *name, isolated_fn body, void *arg,
			 const al_event *ev)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		al_status	st = body(arg);

		/* it gave up: undo its work as if it had raised */
		if (st != AL_OK)
			raise_handler_status(st, ev);
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
		al_pg_forget_held(s);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		if (al_pg_error_belongs_to_caller(edata->sqlerrcode))
			ReThrowError(edata);
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("event handler %s failed on %s: %s", name,
						al_event_name(ev->type), edata->message),
				 errdetail("Only the handler's own work was undone; the command stands."),
				 edata->hint ? errhint("%s", edata->hint) : 0));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* One event handler's call, for run_isolated. */
typedef struct handler_call
{
	al_event_handler_fn fn;
	al_service *svc;
	const al_event *ev;
} handler_call;

static al_status
call_handler(void *arg)
{
	handler_call *call = arg;

	return call->fn(call->svc, call->ev);
}

/* Port al_isolation: run handler fn(svc, ev) isolated (run_isolated). */
static bool
isolation_run(void *ctx, const char *name, al_event_handler_fn fn,
			  al_service *svc, const al_event *ev)
{
	handler_call call = {fn, svc, ev};

	return run_isolated(ctx, name, call_handler, &call, ev);
}

/* (Re)load the subscriptions into the backend cache. */
static void
plugin_cache_load(al_pg_session *s)
{
	uint64		n;
	uint64		resets_before = plugin_cache_resets;

	subscriptions_relid = get_relname_relid("subscriptions",
											get_namespace_oid("allocation", false));
	n = al_pg_run(s, &plugins_all_stmt, NULL, NULL);
	if (plugin_cache)
	{
		for (int i = 0; i < plugin_count; i++)
		{
			pfree(plugin_cache[i].search_path);
			pfree(plugin_cache[i].name);
		}
		pfree(plugin_cache);
	}
	plugin_cache = MemoryContextAlloc(CacheMemoryContext,
									  sizeof(al_plugin) * (n > 0 ? n : 1));
	plugin_count = 0;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *type = al_pg_text(s, i, PLUGINS_EVENT_TYPE);
		al_plugin  *pl = &plugin_cache[plugin_count];

		if (!al_event_type_from_name(type, &pl->type))
			continue;
		pl->handler = DatumGetObjectId(al_pg_datum(i, PLUGINS_HANDLER));
		pl->owner = DatumGetObjectId(al_pg_datum(i, PLUGINS_OWNER));
		pl->search_path = MemoryContextStrdup(CacheMemoryContext,
											  al_pg_text(s, i, PLUGINS_SEARCH_PATH));
		pl->name = MemoryContextStrdup(CacheMemoryContext,
									   al_pg_text(s, i, PLUGINS_NAME));
		plugin_count++;
	}
	/* as order_repository.c's cache: a list read under an old snapshot is not kept */
	/*
	 * An invalidation accepted while the query ran (after its snapshot was
	 * taken) makes the list one for this dispatch only: it is read again
	 * for the next.
	 */
	plugin_cache_valid = plugin_cache_resets == resets_before &&
		!IsolationUsesXactSnapshot();
}

/* Does pl's function (still) exist?  It may be dropped during a dispatch. */
static bool
plugin_exists(const al_plugin *pl)
{
	return OidIsValid(pl->handler) &&
		SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(pl->handler));
}

/* A plugin's name for a message: its function's, or as subscribed once gone. */
static char *
plugin_name(const al_plugin *pl)
{
	return plugin_exists(pl) ? format_procedure(pl->handler) : pstrdup(pl->name);
}

/*
 * May handler run as a plugin with subscriber's rights?  Only if whoever
 * can change it already has those rights: its owner must be the subscriber
 * or a role with the subscriber's privileges (a superuser, a member that
 * inherits it).  Otherwise the owner could CREATE OR REPLACE its body and
 * have its own code run with the subscriber's rights.  Checked by
 * subscribe() and again at every call (an ALTER FUNCTION ... OWNER TO
 * after subscribing is caught there); 42501 when not.
 */
void
al_pg_check_plugin_owner(Oid handler, Oid subscriber)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(handler));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function with OID %u does not exist", handler)));
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	if (!has_privs_of_role(owner, subscriber))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("function %s cannot run with the rights of role \"%s\"",
						format_procedure(handler),
						GetUserNameFromId(subscriber, false)),
				 errdetail("Its owner \"%s\" does not have the privileges of that role and could change what the function does.",
						   GetUserNameFromId(owner, false)),
				 errhint("A plugin must be owned by the subscribing role, by a role that has its privileges, or by a superuser.")));
}

/*
 * 42501 unless pl's subscriber is still a superuser or has the privileges
 * of allocation_admin, as subscribe() required (Note 4).
 */
static void
check_subscriber_is_admin(const al_plugin *pl)
{
	Oid			admin = get_role_oid(AL_ADMIN_ROLE, true);
	char	   *subscriber = GetUserNameFromId(pl->owner, true);

	if (subscriber == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that subscribed plugin %s no longer exists", plugin_name(pl)),
				 errdetail("The plugin did not run."),
				 errhint("Unsubscribe it (allocation.unsubscribe, as an administrator).")));
	if (superuser_arg(pl->owner) ||
		(OidIsValid(admin) && has_privs_of_role(pl->owner, admin)))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("role \"%s\", which subscribed plugin %s, is no longer a member of role \"%s\"",
					subscriber, plugin_name(pl), AL_ADMIN_ROLE),
			 errdetail("The plugin did not run."),
			 errhint("Unsubscribe it (allocation.unsubscribe), or grant %s to that role again.",
					 AL_ADMIN_ROLE)));
}

/* One plugin's call, for run_isolated. */
typedef struct plugin_call
{
	al_pg_session *session;
	const al_plugin *plugin;
	Datum		event;
} plugin_call;

/* The cursors open in the session, by name (PostgreSQL's pg_cursors). */
static al_pg_statement open_cursors_stmt = {
	.sql = "SELECT name FROM pg_catalog.pg_cursors",
	.nargs = 0,
	.expected = SPI_OK_SELECT
};

/*
 * PostgreSQL's TopPortalContext (private to portalmem.c): every portal's
 * memory context is its child, the newest first.  NULL if not found.
 */
static MemoryContext
top_portal_context(void)
{
	static MemoryContext found = NULL;

	if (found == NULL)
		for (MemoryContext c = TopMemoryContext->firstchild; c != NULL; c = c->nextchild)
			if (strcmp(c->name, "TopPortalContext") == 0)
			{
				found = c;
				break;
			}
	return found;
}

/*
 * Close the cursors opened in the current subtransaction, a plugin's:
 * each holds rows read with the subscriber's rights, and would stay open
 * in the caller's transaction for the caller to FETCH from (a PL/pgSQL
 * OPEN without CLOSE, a bound cursor named after its variable, a portal
 * reopened under the name of a caller's cursor that the plugin closed).
 * The caller's own cursors were created in an enclosing (sub)transaction
 * and are left as they are.
 *
 * Every portal's memory context is a child of TopPortalContext, the
 * newest first, and the plugin's portals are newer than any other that
 * is still open: they are the portals at the head of that list, up to the
 * first one that is not the plugin's (contexts that are not a portal's,
 * such as a held cursor's store, are passed over).  So a plugin that left
 * nothing costs one look, whatever the caller holds.  Where that context
 * cannot be found, every cursor is looked at (pg_cursors).
 */
static void
close_plugin_cursors(al_pg_session *s)
{
	SubTransactionId mine = GetCurrentSubTransactionId();
	MemoryContext portals = top_portal_context();
	List	   *drop = NIL;
	ListCell   *lc;

	if (portals != NULL)
	{
		for (MemoryContext c = portals->firstchild; c != NULL; c = c->nextchild)
		{
			Portal		portal = c->ident ? GetPortalByName(c->ident) : NULL;

			if (!PortalIsValid(portal) || portal->portalContext != c)
				continue;
			if (portal->createSubid != mine)
				break;
			drop = lappend(drop, portal);
		}
	}
	else
	{
		uint64		n = al_pg_run(s, &open_cursors_stmt, NULL, NULL);

		for (uint64 i = 0; i < n; i++)
		{
			Portal		portal = GetPortalByName(al_pg_text(s, i, 1));

			if (PortalIsValid(portal) && portal->createSubid == mine)
				drop = lappend(drop, portal);
		}
	}
	foreach(lc, drop)
		PortalDrop((Portal) lfirst(lc), false);
	list_free(drop);
}

/*
 * Body of one isolated plugin call.  The plugin runs as its subscriber,
 * with the subscriber's search_path, as a security-restricted operation,
 * every setting it changes is undone when it returns (as PostgreSQL does
 * for index expressions), and the cursors it left open are closed: it
 * can neither act with the caller's rights nor hand the caller rows read
 * with its own.
 */
static al_status
call_plugin(void *arg)
{
	const plugin_call *call = arg;
	const al_plugin *pl = call->plugin;
	Oid			saved_user;
	int			saved_sec;
	int			nestlevel;
	FmgrInfo	flinfo;

	LOCAL_FCINFO(fcinfo, 1);

	/* dropped, or renamed, since it was subscribed (or during this dispatch) */
	if (!plugin_exists(pl))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("plugin %s does not exist", pl->name),
				 errhint("It was dropped, renamed or moved after it was subscribed: allocation.unsubscribe(%s, %s) unsubscribes it.",
						 quote_literal_cstr(al_event_name(pl->type)),
						 quote_literal_cstr(pl->name))));
	/* its subscriber may have lost the right to subscribe (Note 4) */
	check_subscriber_is_admin(pl);
	/* its owner may have changed since subscribe() checked it */
	al_pg_check_plugin_owner(pl->handler, pl->owner);
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
	fcinfo->args[0].value = call->event;
	fcinfo->args[0].isnull = false;
	(void) FunctionCallInvoke(fcinfo);

	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(saved_user, saved_sec);
	close_plugin_cursors(call->session);
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

/*
 * Call every plugin subscribed to ev's type, each isolated.  The set of
 * plugins is the one subscribed when the event is dispatched: a plugin
 * that subscribes or unsubscribes plugins (itself included) changes what
 * the next events see, never who else gets this one.  So the matching
 * subscriptions are copied before the first call, since the cache may be
 * reloaded under our feet by the calls.
 */
static void
plugins_dispatch(void *ctx, const char *aggregatetype, const al_event *ev)
{
	al_pg_session *s = ctx;
	Datum		json = (Datum) 0;
	al_plugin  *calls;
	int			ncalls = 0;

	if (!plugin_cache_valid)
		plugin_cache_load(s);
	if (plugin_count == 0)
		return;
	calls = palloc(sizeof(al_plugin) * plugin_count);
	for (int i = 0; i < plugin_count; i++)
	{
		if (plugin_cache[i].type != ev->type)
			continue;
		calls[ncalls] = plugin_cache[i];
		calls[ncalls].search_path = pstrdup(plugin_cache[i].search_path);
		calls[ncalls].name = pstrdup(plugin_cache[i].name);
		ncalls++;
	}
	for (int i = 0; i < ncalls; i++)
	{
		plugin_call call;

		if (json == (Datum) 0)
		{
			json = plugin_event_json(aggregatetype, ev);
			/* a plugin may read the read model: write what is held back */
			al_pg_before_user_code(s);
		}
		call.session = s;
		call.plugin = &calls[i];
		call.event = json;
		run_isolated(s, plugin_name(&calls[i]), call_plugin, &call, ev);
	}
}

/*
 * Called once by _PG_init (through al_pg_session_init): the callback of
 * the subscriptions' cache, before any use (Note 3).
 */
void
al_pg_isolation_init(void)
{
	CacheRegisterRelcacheCallback(plugin_cache_reset, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, plugin_cache_reset_proc, (Datum) 0);
}

/* The ports al_isolation and al_plugins, bound to session s. */
void
al_pg_isolation(al_isolation *isolation, al_plugins *plugins,
				al_pg_session *s)
{
	isolation->ctx = s;
	isolation->run = isolation_run;
	plugins->ctx = s;
	plugins->dispatch = plugins_dispatch;
}

/* allocation.subscribe and allocation.unsubscribe */
static al_pg_statement subscribe_stmt = {
	.sql = "INSERT INTO allocation.subscriptions (event_type, handler, owner,"
	" search_path) VALUES ($1, $2::pg_catalog.text, $3, $4)"
	" ON CONFLICT (event_type, handler)"
	" DO UPDATE SET owner = excluded.owner, search_path = excluded.search_path",
	.nargs = 4,
	.argtypes = {TEXTOID, REGPROCEDUREOID, REGROLEOID, TEXTOID},
	.expected = SPI_OK_INSERT
};
static al_pg_statement unsubscribe_stmt = {
	.sql = "DELETE FROM allocation.subscriptions WHERE event_type" AL_EQ "$1"
	" AND handler" AL_EQ "$2::pg_catalog.text",
	.nargs = 2,
	.argtypes = {TEXTOID, REGPROCEDUREOID},
	.expected = SPI_OK_DELETE
};
static al_pg_statement unsubscribe_stored_stmt = {
	.sql = "DELETE FROM allocation.subscriptions WHERE event_type" AL_EQ "$1"
	" AND handler" AL_EQ "$2",
	.nargs = 2,
	.argtypes = {TEXTOID, TEXTOID},
	.expected = SPI_OK_DELETE
};

/* Store the subscription of handler to event_type, run as subscriber. */
void
al_pg_subscribe(al_pg_session *s, const char *event_type, Oid handler,
				Oid subscriber, const char *search_path)
{
	Datum		args[4] = {CStringGetTextDatum(event_type),
		ObjectIdGetDatum(handler),
		ObjectIdGetDatum(subscriber),
	CStringGetTextDatum(search_path)};

	al_pg_run(s, &subscribe_stmt, args, NULL);
}

/* Drop the subscription of handler to event_type; 1 if there was one. */
uint64
al_pg_unsubscribe(al_pg_session *s, const char *event_type, Datum handler)
{
	Datum		args[2] = {CStringGetTextDatum(event_type), handler};

	return al_pg_run(s, &unsubscribe_stmt, args, NULL);
}

/*
 * Drop the subscription of the handler stored as handler (its signature
 * with its schema, as subscriptions keep it), whether or not a function of
 * that name exists now; 1 if there was one.
 */
uint64
al_pg_unsubscribe_stored(al_pg_session *s, const char *event_type,
						 const char *handler)
{
	Datum		args[2] = {CStringGetTextDatum(event_type),
	CStringGetTextDatum(handler)};

	return al_pg_run(s, &unsubscribe_stored_stmt, args, NULL);
}
