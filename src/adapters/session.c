/*-------------------------------------------------------------------------
 *
 * session.c
 *	  One SQL call's session with the server, and the wiring of the
 *	  service's ports to the adapters.
 *
 * Notes (memory and lifetimes):
 *	1) Plans, column getters and row buffers are the SPI leaf's (spi.c).
 *	   This module names the adapters; none of them names it: they
 *	   register flush/forget hooks with the leaf at _PG_init, and
 *	   al_pg_end runs the flush hooks.
 *	2) Arena: the core's memory (products, events) lives in arena_cxt, a
 *	   child of the caller's context created by al_pg_begin and deleted by
 *	   al_pg_end; an ERROR frees it with its parent.  Anything returned to
 *	   the caller is copied into caller_cxt first.
 *	3) SPI memory: the session runs with the arena as CurrentMemoryContext,
 *	   so arguments built by the adapters go with it.  A statement's
 *	   SPI_tuptable is freed when the next statement runs (al_pg_run): the
 *	   adapters copy what they keep into the arena first.  A long
 *	   allocate_many thus stays flat: it resets the arena after each line.
 *	4) Rights: the functions are not SECURITY DEFINER.  Instead the
 *	   session switches to the owner of extension allocation with
 *	   SECURITY_LOCAL_USERID_CHANGE, as ri_triggers.c does for its checks,
 *	   and pins search_path to pg_catalog, pg_temp at a GUC nest level of
 *	   its own, as a SET clause does (fmgr_security_definer); an ERROR
 *	   restores both with the (sub)transaction.  The pin is defence in
 *	   depth: a kept plan is re-analysed under the search_path of the
 *	   moment, so one unqualified name would otherwise resolve in the
 *	   caller's schemas with the owner's rights.  Plugins set their
 *	   subscriber's search_path on top of it (isolation.c).
 *
 * src/adapters/session.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "session.h"

/* The core's allocator: memory from the session's arena. */
static void *
arena_alloc(void *ctx, size_t size)
{
	return MemoryContextAlloc((MemoryContext) ctx, size);
}

/*
 * The owner of extension allocation and the extension's OID, cached until
 * pg_extension changes.  The callback is registered by _PG_init, so no
 * change can slip by before the first use.  A change made by a transaction
 * that rolls back is undone with a local invalidation at the abort, which
 * runs the callback too: the cache never outlives the row it was read from.
 */
static Oid	cached_owner = InvalidOid;

static void
owner_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	cached_owner = InvalidOid;
}

/*
 * Called once by _PG_init.  The adapters register in the order their
 * flush hooks must run at the end of a call: the outbox, then the read
 * model.
 */
void
al_pg_session_init(void)
{
	CacheRegisterSyscacheCallback(EXTENSIONOID, owner_cache_reset, (Datum) 0);
	al_pg_listeners_init();
	al_pg_repository_init();
	al_pg_order_repository_init();
	al_pg_outbox_init();
	al_pg_read_model_init();
	al_pg_isolation_init();
}

/*
 * Owner of extension allocation: the role whose rights the adapters use.
 * The extension's owner, not the schema's: ALTER SCHEMA ... OWNER TO must
 * not change whose rights the commands run with.
 *
 * The same catalog row says which version of the SQL objects the database
 * has.  This library serves only AL_EXTVERSION (older versions' C symbols
 * are not kept when their tables change), so a database that was not
 * updated after the library was installed gets one clear error naming the
 * cure, instead of a missing relation in the middle of a command.  The
 * check costs nothing after the first call of the backend: it is made
 * when the owner is read, and a mismatch is never cached, so the command
 * after ALTER EXTENSION ... UPDATE (which invalidates the row) runs.
 */
static Oid
extension_owner(void)
{
	Oid			ext;
	HeapTuple	tup;
	Datum		d;
	bool		isnull;
	char	   *version;
	Oid			owner;

	if (OidIsValid(cached_owner))
		return cached_owner;
	ext = get_extension_oid("allocation", false);
	tup = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(ext));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for extension %u", ext);
	owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
	d = SysCacheGetAttr(EXTENSIONOID, tup, Anum_pg_extension_extversion, &isnull);
	version = isnull ? pstrdup("(null)") : TextDatumGetCString(d);
	ReleaseSysCache(tup);
	if (strcmp(version, AL_EXTVERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"allocation\" is at version %s in this database, but its installed library is version %s",
						version, AL_EXTVERSION),
				 errhint("Run ALTER EXTENSION allocation UPDATE in this database.")));
	pfree(version);
	cached_owner = owner;
	return cached_owner;
}

/* What search_path is while the owner's statements run. */
#define AL_PINNED_SEARCH_PATH "pg_catalog, pg_temp"

/* Open the session; see session.h. */
void
al_pg_begin(al_pg_session *s, bool read_only)
{
	int			rc;

	memset(s, 0, sizeof(*s));
	s->read_only = read_only;
	s->caller_cxt = CurrentMemoryContext;
	s->arena_cxt = AllocSetContextCreate(CurrentMemoryContext,
										 "allocation command",
										 ALLOCSET_DEFAULT_SIZES);
	s->mem.alloc = arena_alloc;
	s->mem.ctx = s->arena_cxt;
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	/* what the adapters palloc (arguments, copies) goes with the arena */
	MemoryContextSwitchTo(s->arena_cxt);

	/*
	 * Pin search_path for as long as the owner's statements run, as a SET
	 * clause would: a kept plan is re-analysed under the path of the
	 * moment, and must never see the caller's.  al_pg_end pops the level;
	 * an ERROR pops it with the (sub)transaction.
	 */
	s->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", AL_PINNED_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	GetUserIdAndSecContext(&s->saved_userid, &s->saved_sec_context);
	SetUserIdAndSecContext(extension_owner(),
						   s->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* Close the session; see session.h. */
void
al_pg_end(al_pg_session *s)
{
	int			rc;

	/*
	 * nothing held back may be lost (the service flushes; this is a
	 * guard), and the outbox asks for its NOTIFY here
	 */
	al_pg_flush_held(s);
	SetUserIdAndSecContext(s->saved_userid, s->saved_sec_context);
	/* the caller's search_path again */
	AtEOXact_GUC(false, s->guc_nestlevel);
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));
	MemoryContextSwitchTo(s->caller_cxt);
	MemoryContextDelete(s->arena_cxt);
}

/*
 * The port al_interrupts: a cancel request or statement_timeout raises
 * 57014 here, between two lines or events of a long command.
 */
static void
check_interrupts(void *ctx)
{
	CHECK_FOR_INTERRUPTS();
}

/* The ports of svc, bound to the adapters of session s. */
void
al_pg_service(al_service *svc, al_pg_session *s)
{
	memset(svc, 0, sizeof(*svc));
	svc->mem = s->mem;
	al_pg_repository(&svc->repo, s);
	al_pg_order_repository(&svc->orders, s);
	al_pg_outbox(&svc->outbox, s);
	al_pg_read_model(&svc->views, s);
	al_pg_notifier(&svc->notifier, s);
	al_pg_isolation(&svc->isolation, &svc->plugins, s);
	svc->interrupts.ctx = s;
	svc->interrupts.check = check_interrupts;
}
