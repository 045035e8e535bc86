/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  The transactional outbox (port al_outbox), written beside the change,
 *	  its clock, and the events' JSON payloads (used by the plugins too).
 *
 * Notes:
 *	1) Memory: payloads and held-back rows live in the command's arena;
 *	   the rows are written by one statement when the service flushes
 *	   the outbox, when a chunk is full (spi.h, AL_PG_ROWS_CHUNK), and by
 *	   the session's flush hook before the call ends.
 *	2) Each event row gets its product's next aggregate_seq (gapless: the
 *	   counter lives in the locked product row and rolls back with it) and
 *	   a commit_key = GREATEST(own xid + clock offset, the aggregate's
 *	   previous key).  The consumer API orders and pages by (commit_key,
 *	   position): see src/sql/functions.sql, allocation._read_events.
 *	   The clock offset is 0 in the cluster where the data was born; after
 *	   a restore into another cluster it lifts the keys above the restored
 *	   ones (al_pg_clock_offset), as transaction ids start over there.
 *	3) Event ids are time-ordered UUIDs (version 7, RFC 9562) made here:
 *	   no call of gen_random_uuid() and its strong random source per
 *	   event, and the outbox primary key grows at its right-most leaf
 *	   instead of a random one.
 *	4) NOTIFY allocation_events is sent once per transaction at commit,
 *	   when it can wake someone: see listeners.c.
 *	5) occurred_at is read from the clock once per event, when the event
 *	   is recorded, and that one value goes into the outbox row and into
 *	   the WAL's copy (outbox_mode both): the two copies of an event have
 *	   the same id and the same body.  The id's time is that reading too.
 *
 * src/adapters/outbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "common/pg_prng.h"

#include "listeners.h"
#include "outbox.h"
#include "wal_events.h"

#define TEXT(s) CStringGetTextDatum(s)
#define EQ AL_EQ

/* The outbox's state in one SQL call. */
typedef struct outbox_state
{
	al_pg_rows	rows;			/* events appended, not yet inserted */
	bool		events_recorded;	/* NOTIFY allocation_events at commit */
	bool		clock_checked;	/* clock offset validated in this call */
	int64		clock_offset;
} outbox_state;

static int	outbox_slot;

static outbox_state *
state_of(al_pg_session *s)
{
	return al_pg_state(s, outbox_slot, sizeof(outbox_state));
}

/*
 * outbox_insert_many_stmt unnests its arrays in the select list, where
 * they advance in lockstep, row by row, in array order: rows go in in the
 * order the events were recorded, which gives the identity column
 * (position) that order.
 */
static al_pg_statement outbox_insert_stmt = {
	.sql = "INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type,"
	" payload, occurred_at, aggregate_seq, commit_key)"
	" VALUES ($7, $1, $2, $3, $4, $8, $5, $6)",
	.nargs = 8,
	.argtypes = {TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID, INT8OID, UUIDOID, TIMESTAMPTZOID},
	.expected = SPI_OK_INSERT
};

static al_pg_statement outbox_insert_many_stmt = {
	.sql = "INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type,"
	" payload, occurred_at, aggregate_seq, commit_key)"
	" SELECT pg_catalog.unnest($7::pg_catalog.uuid[]),"
	" pg_catalog.unnest($1::pg_catalog.text[]),"
	" pg_catalog.unnest($2::pg_catalog.text[]),"
	" pg_catalog.unnest($3::pg_catalog.text[]),"
	" pg_catalog.unnest($4::pg_catalog.jsonb[]),"
	" pg_catalog.unnest($8::pg_catalog.timestamptz[]),"
	" pg_catalog.unnest($5::pg_catalog.int8[]),"
	" pg_catalog.unnest($6::pg_catalog.int8[])",
	.nargs = 8,
	.argtypes = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, INT8ARRAYOID, INT8ARRAYOID, UUIDARRAYOID, TIMESTAMPTZARRAYOID},
	.expected = SPI_OK_INSERT
};

/* xmin: was the row written by this transaction? */
static al_pg_statement clock_get_stmt = {
	.sql = "SELECT system_identifier, key_offset, xmin"
	" FROM allocation.outbox_clock",
	.nargs = 0,
	.argtypes = {InvalidOid},
	.expected = SPI_OK_SELECT
};
/* columns of clock_get_stmt */
enum
{
	CLOCK_SYSTEM_IDENTIFIER = 1,
	CLOCK_KEY_OFFSET,
	CLOCK_XMIN
};

static al_pg_statement clock_reset_stmt = {
	.sql = "INSERT INTO allocation.outbox_clock (system_identifier, key_offset)"
	" SELECT $1, GREATEST(0, GREATEST("
	"  (SELECT pg_catalog.max(commit_key) FROM allocation.outbox),"
	"  (SELECT pg_catalog.max(event_key) FROM allocation.product_state),"
	"  (SELECT pg_catalog.max(event_key) FROM allocation.orders),"
	"  (SELECT pg_catalog.max(last_key) FROM allocation.consumers))"
	"  OPERATOR(pg_catalog.-)"
	"  pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())"
	"   ::pg_catalog.text::pg_catalog.int8 OPERATOR(pg_catalog.+) 1)"
	" ON CONFLICT (id) DO UPDATE SET"
	"  system_identifier = excluded.system_identifier,"
	"  key_offset = GREATEST(allocation.outbox_clock.key_offset,"
	"                        excluded.key_offset)"
	" WHERE allocation.outbox_clock.system_identifier"
	"  OPERATOR(pg_catalog.<>) excluded.system_identifier",
	.nargs = 1,
	.argtypes = {INT8OID},
	.expected = SPI_OK_INSERT
};



/* Push "key": value pairs into a jsonb object under construction. */
static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

void
al_pg_push_text(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	push_key(st, key);
	if (value == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) value;
		v.val.string.len = strlen(value);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_int(JsonbParseState **st, const char *key, int32 value)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(value);
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_bool(JsonbParseState **st, const char *key, bool value)
{
	JsonbValue	v;

	push_key(st, key);
	v.type = jbvBool;
	v.val.boolean = value;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* A date as ISO 8601 (YYYY-MM-DD) whatever the session's DateStyle. */
static char *
iso_date(DateADT date)
{
	int			y,
				m,
				d;

	if (DATE_NOT_FINITE(date))
		return pstrdup(DATE_IS_NOBEGIN(date) ? "-infinity" : "infinity");
	j2date(date + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	if (y <= 0)
		return psprintf("%04d-%02d-%02d BC", 1 - y, m, d);
	return psprintf("%04d-%02d-%02d", y, m, d);
}

/*
 * The payload of the contract's events table, pushed as one object into st
 * (built as jsonb directly: no JSON text to print and parse back).
 * Returns the finished object when st holds nothing else.
 */
JsonbValue *
al_pg_push_event_payload(JsonbParseState **st, const al_event *ev)
{
	pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
	switch (ev->type)
	{
		case AL_EV_BATCH_CREATED:
			al_pg_push_text(st, "ref", ev->batchref);
			al_pg_push_text(st, "sku", ev->sku);
			push_int(st, "qty", ev->qty);
			al_pg_push_text(st, "eta", ev->has_eta ? iso_date(ev->eta) : NULL);
			break;
		case AL_EV_BATCH_QUANTITY_CHANGED:
			al_pg_push_text(st, "ref", ev->batchref);
			al_pg_push_text(st, "sku", ev->sku);
			push_int(st, "qty", ev->qty);
			push_int(st, "previous_qty", ev->previous_qty);
			break;
		case AL_EV_ALLOCATED:
			al_pg_push_text(st, "orderid", ev->orderid);
			al_pg_push_text(st, "sku", ev->sku);
			push_int(st, "qty", ev->qty);
			al_pg_push_text(st, "batchref", ev->batchref);
			break;
		case AL_EV_DEALLOCATED:
			al_pg_push_text(st, "orderid", ev->orderid);
			al_pg_push_text(st, "sku", ev->sku);
			push_int(st, "qty", ev->qty);
			al_pg_push_text(st, "batchref", ev->batchref);
			push_bool(st, "reallocate", ev->reallocate);
			break;
		case AL_EV_OUT_OF_STOCK:
			al_pg_push_text(st, "sku", ev->sku);
			al_pg_push_text(st, "orderid", ev->orderid);
			push_int(st, "qty", ev->qty);
			break;
		case AL_EV_ORDER_CREATED:
			al_pg_push_text(st, "orderid", ev->orderid);
			al_pg_push_text(st, "status", ev->status);
			break;
		case AL_EV_ORDER_STATUS_CHANGED:
			al_pg_push_text(st, "orderid", ev->orderid);
			al_pg_push_text(st, "status", ev->status);
			al_pg_push_text(st, "previous_status", ev->previous_status);
			break;
		case AL_EV__COUNT:
			elog(ERROR, "unknown event type %d", (int) ev->type);
	}
	return pushJsonbValue(st, WJB_END_OBJECT, NULL);
}

/*
 * A new event id: a UUIDv7.  48 bits of Unix time in milliseconds, then
 * 12 bits that count the ids this backend made in that millisecond
 * (starting from a random value, so that they stay in order within a
 * backend: RFC 9562, method 3), then 62 random bits.  The random bits
 * come from the backend's PRNG, seeded from a strong source when the
 * backend started; uniqueness is still checked by the primary key.
 */
static Datum
new_event_id(TimestampTz now)
{
	static uint64 last_ms = 0;
	static uint32 counter = 0;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	uint64		ms;
	uint64		rnd;

	ms = (uint64) (now / 1000) +
		(uint64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	if (ms > last_ms)
	{
		last_ms = ms;
		counter = (uint32) pg_prng_uint64(&pg_global_prng_state) & 0x3FF;
	}
	else if (++counter > 0xFFF)
	{
		/* 4096 ids in one millisecond: borrow from the next one */
		last_ms++;
		counter = 0;
	}
	rnd = pg_prng_uint64(&pg_global_prng_state);
	for (int i = 0; i < 6; i++)
		id->data[i] = (uint8) (last_ms >> (40 - 8 * i));
	id->data[6] = (uint8) (0x70 | (counter >> 8));
	id->data[7] = (uint8) counter;
	id->data[8] = (uint8) (0x80 | (rnd & 0x3F));
	for (int i = 9; i < 16; i++)
		id->data[i] = (uint8) (rnd >> (8 * (i - 8)));
	return UUIDPGetDatum(id);
}

/*
 * Cache of the clock offset: valid for one outbox_clock table.  Only an
 * offset read from a row some other, committed transaction wrote is kept
 * here; one this transaction wrote (the first use after a restore) may yet
 * roll back, so it serves the current SQL call only and is read again by
 * the next.  The cache is thus valid across aborts by construction: a
 * backend never goes on with an offset that was not stored.
 */
static Oid	clock_relid = InvalidOid;
static int64 clock_offset = 0;

/*
 * The clock offset of this cluster.  Read once per backend; when the stored
 * row belongs to another cluster (a restored dump) or is missing, set it so
 * that xmin + offset lies above every stored key: then no event and no
 * consumer cursor of the old cluster can hide a new event, nor a new one
 * fall behind a cursor.
 */
int64
al_pg_clock_offset(al_pg_session *s)
{
	Oid			relid;
	int64		sysid;

	outbox_state *os = state_of(s);

	/* once per SQL call: the catalog lookups are not free per event */
	if (os->clock_checked)
		return os->clock_offset;
	relid = get_relname_relid("outbox_clock",
							  get_namespace_oid("allocation", false));
	sysid = (int64) GetSystemIdentifier();
	os->clock_checked = true;
	if (OidIsValid(clock_relid) && relid == clock_relid)
		return os->clock_offset = clock_offset;
	for (;;)
	{
		Datum		args[1] = {Int64GetDatum(sysid)};

		if (al_pg_run(s, &clock_get_stmt, NULL, NULL) == 1 &&
			al_pg_int8(0, CLOCK_SYSTEM_IDENTIFIER) == sysid)
		{
			TransactionId xmin = DatumGetTransactionId(al_pg_datum(0, CLOCK_XMIN));

			os->clock_offset = al_pg_int8(0, CLOCK_KEY_OFFSET);
			if (!TransactionIdIsCurrentTransactionId(xmin))
			{
				clock_offset = os->clock_offset;
				clock_relid = relid;
			}
			return os->clock_offset;
		}
		/* ours now; a concurrent first use may win: read it again */
		al_pg_run(s, &clock_reset_stmt, args, NULL);
	}
}

/*
 * Record one outbox row; returns its commit_key.  The row is held back in
 * the session and written by al_pg_flush_outbox, so that the events of a
 * unit of work (many, for allocate_many) go in with one statement.
 */
uint64
al_pg_outbox_insert(al_pg_session *s, const char *aggregatetype,
					const char *aggregateid, const al_event *ev, int64 seq,
					uint64 prev_key)
{
	Datum		row[8];
	uint64		key;
	/* one clock reading: the id's time, and occurred_at of both copies */
	TimestampTz now = GetCurrentTimestamp();

	/* never below the aggregate's previous key: its commit order */
	key = U64FromFullTransactionId(GetTopFullTransactionId()) +
		(uint64) al_pg_clock_offset(s);
	if (key < prev_key)
		key = prev_key;

	row[0] = TEXT(aggregatetype);
	row[1] = TEXT(aggregateid);
	row[2] = TEXT(al_event_name(ev->type));
	{
		JsonbParseState *st = NULL;

		row[3] = JsonbPGetDatum(JsonbValueToJsonb(al_pg_push_event_payload(&st, ev)));
	}
	row[4] = Int64GetDatum(seq);
	row[5] = Int64GetDatum((int64) key);
	row[6] = new_event_id(now);
	row[7] = TimestampTzGetDatum(now);
	/* allocation.outbox_mode: the WAL's readers (wal_events.c), the table's */
	if (al_pg_outbox_mode_wal())
		al_pg_wal_event(s, row[6], al_event_name(ev->type), aggregatetype, aggregateid,
						seq, now, DatumGetJsonbP(row[3]));
	if (al_pg_outbox_mode_table())
	{
		outbox_state *os = state_of(s);

		al_pg_rows_add(s, &os->rows, 8, row);
		os->events_recorded = true;
		/* a chunk at a time, in the order recorded (spi.h) */
		if (al_pg_rows_full(&os->rows))
			al_pg_flush_outbox(s);
	}
	return key;
}

/* Write the outbox rows held back, in the order they were recorded. */
void
al_pg_flush_outbox(al_pg_session *s)
{
	static const Oid types[8] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID,
	INT8OID, INT8OID, UUIDOID, TIMESTAMPTZOID};
	outbox_state *os = s->state[outbox_slot];

	if (os != NULL)
		al_pg_rows_flush(s, &os->rows, 8, types, &outbox_insert_stmt,
						 &outbox_insert_many_stmt, 0, NULL);
}

static void
outbox_flush(void *ctx)
{
	al_pg_flush_outbox(ctx);
}

static void
outbox_append(void *ctx, al_product *p, const al_event *ev)
{
	p->event_seq++;
	p->event_key = al_pg_outbox_insert(ctx, "product", p->sku, ev,
									   p->event_seq, p->event_key);
	/* no row: check_invariants must not take the table for the history */
	if (!al_pg_outbox_mode_table())
		p->wal_only_seq = p->event_seq;
}

static void
outbox_append_order(void *ctx, al_order *o, const al_event *ev)
{
	o->event_seq++;
	o->event_key = al_pg_outbox_insert(ctx, "order", o->orderid, ev,
									   o->event_seq, o->event_key);
}

/*
 * The outbox's hooks (al_pg_outbox_init): at the end of the call write
 * what is held back and ask for the NOTIFY; a rolled-back subtransaction
 * takes its rows back, and the clock row it may have written.
 */
static void
outbox_session_flush(al_pg_session *s)
{
	outbox_state *os = s->state[outbox_slot];

	if (os == NULL)
		return;
	al_pg_flush_outbox(s);
	/* a wake-up hint for outbox consumers, sent at commit (listeners.c) */
	if (os->events_recorded)
		al_pg_notify_at_commit();
}

static void
outbox_session_forget(al_pg_session *s)
{
	outbox_state *os = s->state[outbox_slot];

	if (os == NULL)
		return;
	os->rows.n = 0;
	/* the clock row may have been written by the rolled-back part: re-read */
	os->clock_checked = false;
}

static const al_pg_adapter outbox_adapter = {
	.name = "outbox",
	.flush = outbox_session_flush,
	.forget = outbox_session_forget,
};

/* Called once by _PG_init (through al_pg_session_init). */
void
al_pg_outbox_init(void)
{
	outbox_slot = al_pg_register(&outbox_adapter);
}

/* The port al_outbox, bound to session s. */
void
al_pg_outbox(al_outbox *outbox, al_pg_session *s)
{
	outbox->ctx = s;
	outbox->append = outbox_append;
	outbox->append_order = outbox_append_order;
	outbox->flush = outbox_flush;
}
