/*-------------------------------------------------------------------------
 *
 * wal_events.c
 *	  Events as transactional logical messages in the WAL, for consumers
 *	  that read a logical replication slot (allocation-relay --source wal).
 *
 * Notes:
 *	1) allocation.outbox_mode (superuser): table (the default) writes the
 *	   outbox table only; wal writes a logical message per event and no
 *	   outbox row (no NOTIFY either: WAL readers are woken by the
 *	   walsender at commit); both writes the two.  The messages are
 *	   transactional (LogLogicalMessage with transactional = true): a
 *	   reader gets them at commit, in commit order, and never those of a
 *	   rolled-back transaction or subtransaction.
 *	2) Prefix "allocation:<token>" (Note 5); content
 *	   "<event id>\n<type>\n<envelope>", the
 *	   envelope being the JSON the relay publishes on envelope channels
 *	   (id, type, aggregatetype, aggregateid, aggregate_seq, occurred_at in
 *	   UTC, payload), with "payload" last, so that a reader can cut the
 *	   payload out without parsing: the first "\"payload\": " is the key,
 *	   since a string value holds a quote only escaped.
 *	3) Without wal_level = logical nobody can decode the messages: the
 *	   modes that rely on them fail the command (55000) rather than lose
 *	   its events.
 *	4) Memory: the message is built in the caller's (the command's)
 *	   memory context and freed with it.
 *	5) Signature: pg_logical_emit_message is executable by every role, so
 *	   a reader cannot trust a message for its prefix "allocation" alone.
 *	   The prefix carries a secret of the database instead: 128 bits in
 *	   hex, in allocation.wal_secret (one row, read by the extension's
 *	   owner only: row level security without a policy keeps out
 *	   pg_read_all_data and pg_write_all_data; left out of pg_dump).  The
 *	   first event of a database draws it; a restored database draws its
 *	   own.  The draw is made inside the INSERT (SHA-256 of two
 *	   gen_random_uuid(), the server's strong random source: 244 random
 *	   bits in), so that the token is never a parameter or a constant of
 *	   a plan: debug_print_plan and auto_explain print those, not the
 *	   rows RETURNING gives back.  Concurrent first uses meet on the
 *	   row's primary key (ON CONFLICT DO UPDATE returns the winner's
 *	   token).  It never enters an error message, a log line or a query
 *	   text: it is read as a result and passed to LogLogicalMessage
 *	   only.
 *	6) Cache: the prefix is kept for the backend's life, as the outbox's
 *	   clock offset is (outbox.c), with the same two guards.  It belongs
 *	   to one wal_secret table (its OID, looked up at each use: a dropped
 *	   and re-created extension has a new table and a new token).  And a
 *	   token this transaction wrote (xmin is current) may yet roll back,
 *	   with a subtransaction or the whole transaction: it is used only
 *	   while TransactionIdIsCurrentTransactionId(xmin) holds, and read
 *	   again otherwise.  So the cache never outlives the row it was read
 *	   from, and needs no transaction callback.  The row is never
 *	   changed once drawn; a superuser who deletes it must restart the
 *	   backends and the relay (the extension never does).
 *
 * src/adapters/wal_events.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "pg_compat.h"
#include "settings.h"
#include "wal_events.h"

/* Does allocation.outbox_mode write outbox rows? */
bool
al_pg_outbox_mode_table(void)
{
	return al_outbox_mode != AL_OUTBOX_WAL;
}

/* Does allocation.outbox_mode write logical messages? */
bool
al_pg_outbox_mode_wal(void)
{
	return al_outbox_mode != AL_OUTBOX_TABLE;
}

/* "allocation:" and 32 hex digits */
#define AL_WAL_PREFIX_LEN (sizeof("allocation:") - 1 + 32)

static al_pg_statement secret_get_stmt = {
	.sql = "SELECT token, xmin FROM allocation.wal_secret",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_SELECT
};

/*
 * The first use: a concurrent one may win, and its token is returned.
 * The token is drawn by the statement itself (Note 5), never passed in:
 * a parameter's value is inlined into the custom plan, which
 * debug_print_plan (settable by any role) and auto_explain print.
 */
static al_pg_statement secret_draw_stmt = {
	.sql = "INSERT INTO allocation.wal_secret (token)"
	" VALUES (pg_catalog.\"left\"(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to("
	"pg_catalog.gen_random_uuid()::pg_catalog.text OPERATOR(pg_catalog.||)"
	" pg_catalog.gen_random_uuid()::pg_catalog.text, 'UTF8')), 'hex'), 32))"
	" ON CONFLICT (id) DO UPDATE SET id = excluded.id"
	" RETURNING token, xmin",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_INSERT_RETURNING
};

/* columns of secret_get_stmt and secret_draw_stmt */
enum
{
	SECRET_TOKEN = 1,
	SECRET_XMIN
};

/* The cache of Note 6. */
static Oid	prefix_relid = InvalidOid;
static TransactionId prefix_xmin = InvalidTransactionId;
static bool prefix_committed = false;
static char prefix_cache[AL_WAL_PREFIX_LEN + 1];

/*
 * The prefix of the extension's messages in this database (Notes 5, 6):
 * "allocation:<token>", drawn on first use.  Runs in session s, with the
 * extension owner's rights.
 */
const char *
al_pg_wal_prefix(al_pg_session *s)
{
	Oid			relid;
	char	   *token;
	uint64		n;

	relid = get_relname_relid("wal_secret", get_namespace_oid("allocation", false));
	if (OidIsValid(relid) && relid == prefix_relid &&
		(prefix_committed || TransactionIdIsCurrentTransactionId(prefix_xmin)))
		return prefix_cache;
	prefix_relid = InvalidOid;
	n = al_pg_run(s, &secret_get_stmt, NULL, NULL);
	if (n == 0)
		n = al_pg_run(s, &secret_draw_stmt, NULL, NULL);
	if (n != 1 || al_pg_isnull(0, SECRET_TOKEN))
		elog(ERROR, "allocation.wal_secret holds no token");
	token = al_pg_text(s, 0, SECRET_TOKEN);
	if (strlen(token) != 32)
		elog(ERROR, "allocation.wal_secret holds a token of the wrong length");
	prefix_xmin = DatumGetTransactionId(al_pg_datum(0, SECRET_XMIN));
	prefix_committed = !TransactionIdIsCurrentTransactionId(prefix_xmin);
	snprintf(prefix_cache, sizeof prefix_cache, "allocation:%s", token);
	explicit_bzero(token, 32);
	prefix_relid = relid;
	return prefix_cache;
}

/*
 * Write one event as a transactional logical message (Notes 1-3, 5), in
 * session s.  id is the event's uuid Datum, occurred_at the time its
 * outbox row has too (outbox.c, Note 5), payload its jsonb.
 */
void
al_pg_wal_event(al_pg_session *s, Datum id, const char *type, const char *aggregatetype,
				const char *aggregateid, int64 seq, TimestampTz occurred_at,
				Jsonb *payload)
{
	StringInfoData buf;
	char	   *idtext;
	char		when[MAXDATELEN + 1];
	const int	utc = 0;
	const char *prefix;

	if (!XLogLogicalInfoActive())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("allocation.outbox_mode = %s needs wal_level = logical",
						al_outbox_mode == AL_OUTBOX_WAL ? "wal" : "both"),
				 errdetail("wal_level is \"%s\": no reader could decode the events.",
						   GetConfigOption("wal_level", false, false)),
				 errhint("Set wal_level = logical and restart, or set allocation.outbox_mode = table.")));

	prefix = al_pg_wal_prefix(s);
	idtext = DatumGetCString(DirectFunctionCall1(uuid_out, id));
	JsonEncodeDateTime(when, TimestampTzGetDatum(occurred_at),
					   TIMESTAMPTZOID, &utc);
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s\n%s\n{\"id\" : \"%s\", \"type\" : ", idtext, type, idtext);
	escape_json(&buf, type);
	appendStringInfoString(&buf, ", \"aggregatetype\" : ");
	escape_json(&buf, aggregatetype);
	appendStringInfoString(&buf, ", \"aggregateid\" : ");
	escape_json(&buf, aggregateid);
	appendStringInfo(&buf, ", \"aggregate_seq\" : " INT64_FORMAT ", \"occurred_at\" : \"%s\", \"payload\" : ",
					 seq, when);
	(void) JsonbToCString(&buf, &payload->root, VARSIZE(payload));
	appendStringInfoChar(&buf, '}');
	al_log_logical_message(prefix, buf.data, buf.len, true);
	pfree(buf.data);
	pfree(idtext);
}
