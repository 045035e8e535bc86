/*-------------------------------------------------------------------------
 *
 * inbox.c
 *	  The inbox of allocation.handle: a message with a message_id is
 *	  handled once per (type, sender, message_id); a repeat gets the
 *	  result stored by the first handling, and never runs again.
 *
 * Notes:
 *	1) Memory: the statements' results live in SPI memory until the next
 *	   statement; a stored result is copied into the session's caller_cxt
 *	   (session.c) before the session ends.
 *	2) The claim is an INSERT ... ON CONFLICT DO NOTHING: of two sessions
 *	   handling the same message at once, the second waits for the first
 *	   and then reads its result (or claims it, if the first rolled back).
 *	3) A key found without a result is claimed all the same: the result is
 *	   NULL from the claim until the store, while the first handling runs
 *	   in this very transaction (a plugin or a trigger that handles the
 *	   same message again, re-entrantly).  Only a row written by hand is
 *	   left NULL after commit, and a row purged between the claim and the
 *	   read is not found at all.  Each time the message was claimed before,
 *	   so it is a duplicate with no result to give back, never a new one.
 *
 * src/adapters/inbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "inbox.h"

#define EQ AL_EQ

/* Claim the key ($1, $2, $3) for message $4; 0 rows: claimed before. */
static al_pg_statement inbox_claim = {
	.sql = "INSERT INTO allocation.inbox (message_type, sender, message_id,"
	" message, handled_at)"
	" VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp())"
	" ON CONFLICT (message_type, sender, message_id) DO NOTHING",
	.nargs = 4,
	.argtypes = {TEXTOID, REGROLEOID, JSONBOID, JSONBOID},
	.expected = SPI_OK_INSERT
};

/* The result stored for a key; columns: */
enum
{
	INBOX_GET_RESULT = 1
};
static al_pg_statement inbox_get = {
	.sql = "SELECT result FROM allocation.inbox WHERE message_type" EQ "$1"
	" AND sender" EQ "$2 AND message_id" EQ "$3",
	.nargs = 3,
	.argtypes = {TEXTOID, REGROLEOID, JSONBOID},
	.expected = SPI_OK_SELECT
};

static al_pg_statement inbox_store = {
	.sql = "UPDATE allocation.inbox SET result = $4 WHERE message_type" EQ "$1"
	" AND sender" EQ "$2 AND message_id" EQ "$3",
	.nargs = 4,
	.argtypes = {TEXTOID, REGROLEOID, JSONBOID, JSONBOID},
	.expected = SPI_OK_UPDATE
};

/*
 * Claim (type, sender, message_id) for message.  Returns true when it is
 * new (claimed now): run it, then store its result.  Returns false when it
 * was claimed before; *result is then the result stored by its first
 * handling, in the session's caller_cxt, or NULL when none is stored (note
 * 3): a duplicate all the same.
 */
bool
al_pg_inbox_claim(al_pg_session *s, const char *type, Oid sender,
				  Jsonb *message_id, Jsonb *message, Jsonb **result)
{
	Datum		args[4] = {CStringGetTextDatum(type),
		ObjectIdGetDatum(sender),
		JsonbPGetDatum(message_id),
	JsonbPGetDatum(message)};

	*result = NULL;
	if (al_pg_run(s, &inbox_claim, args, NULL) == 1)
		return true;
	if (al_pg_run(s, &inbox_get, args, NULL) == 1 &&
		!al_pg_isnull(0, INBOX_GET_RESULT))
	{
		MemoryContext old = MemoryContextSwitchTo(s->caller_cxt);

		*result = DatumGetJsonbPCopy(al_pg_datum(0, INBOX_GET_RESULT));
		MemoryContextSwitchTo(old);
	}
	return false;
}

/* Store the result of a claimed message beside its key. */
void
al_pg_inbox_store(al_pg_session *s, const char *type, Oid sender,
				  Jsonb *message_id, Jsonb *result)
{
	Datum		args[4] = {CStringGetTextDatum(type),
		ObjectIdGetDatum(sender),
		JsonbPGetDatum(message_id),
	JsonbPGetDatum(result)};

	al_pg_run(s, &inbox_store, args, NULL);
}
