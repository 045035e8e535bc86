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
 *	2) Prefix "allocation"; content "<event id>\n<type>\n<envelope>", the
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
 *
 * src/adapters/wal_events.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
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

/*
 * Write one event as a transactional logical message (Notes 1-3).  id is
 * the event's uuid Datum, payload its jsonb.
 */
void
al_pg_wal_event(Datum id, const char *type, const char *aggregatetype,
				const char *aggregateid, int64 seq, Jsonb *payload)
{
	StringInfoData buf;
	char	   *idtext;
	char		when[MAXDATELEN + 1];
	const int	utc = 0;

	if (!XLogLogicalInfoActive())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("allocation.outbox_mode = %s needs wal_level = logical",
						al_outbox_mode == AL_OUTBOX_WAL ? "wal" : "both"),
				 errdetail("wal_level is \"%s\": no reader could decode the events.",
						   GetConfigOption("wal_level", false, false)),
				 errhint("Set wal_level = logical and restart, or set allocation.outbox_mode = table.")));

	idtext = DatumGetCString(DirectFunctionCall1(uuid_out, id));
	JsonEncodeDateTime(when, TimestampTzGetDatum(GetCurrentTimestamp()),
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
	al_log_logical_message("allocation", buf.data, buf.len, true);
	pfree(buf.data);
	pfree(idtext);
}
