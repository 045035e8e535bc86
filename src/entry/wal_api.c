/*-------------------------------------------------------------------------
 *
 * wal_api.c
 *	  SQL-callable function for readers of the events in the WAL.
 *
 * Notes:
 *	1) wal_message_prefix() hands out the prefix that signs the
 *	   extension's logical messages (src/adapters/wal_events.c, Note 5).
 *	   Beyond allocation_admin (EXECUTE is granted to allocation_user too,
 *	   so that the refusal names the role), the caller needs what reading
 *	   the WAL needs, REPLICATION (or superuser): a role that can read the
 *	   messages sees the prefix in each of them, so the function tells no
 *	   one anything new.  The refusal names the attribute, never the
 *	   prefix.
 *
 * src/entry/wal_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"
#include "wal_events.h"

/* SQL-callable functions */
PG_FUNCTION_INFO_V1(allocation_wal_message_prefix);

/* wal_message_prefix(): "allocation:<token>", for roles that read the WAL */
Datum
allocation_wal_message_prefix(PG_FUNCTION_ARGS)
{
	al_pg_session s;
	const char *prefix;

	al_require_role(AL_ADMIN_ROLE, "allocation.wal_message_prefix");
	if (!has_rolreplication(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function wal_message_prefix"),
				 errdetail("Only roles with the REPLICATION attribute, which can read the events in the WAL, may have the prefix of their messages."),
				 errhint("ALTER ROLE <the relay's role> REPLICATION.")));
	al_pg_begin(&s, false);
	prefix = al_pg_wal_prefix(&s);	/* the backend's cache: outlives s */
	al_pg_end(&s);
	PG_RETURN_TEXT_P(cstring_to_text(prefix));
}
