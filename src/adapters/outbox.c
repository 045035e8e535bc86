/*-------------------------------------------------------------------------
 *
 * outbox.c
 *	  Adapters that write beside the change: the transactional outbox
 *	  (al_outbox), the allocations_view read model (al_read_model) and the
 *	  e-mail notifications (al_notifier).
 *
 * Notes:
 *	1) Memory: payloads and held-back rows live in the command's arena.
 *	2) Each event row gets its product's next aggregate_seq (gapless: the
 *	   counter lives in the locked product row and rolls back with it) and
 *	   a commit_key = GREATEST(own xid + clock offset, the aggregate's
 *	   previous key).  The consumer API orders and pages by (commit_key,
 *	   position): see src/sql/allocation.sql, allocation._read_events.
 *	   The clock offset is 0 in the cluster where the data was born; after
 *	   a restore into another cluster it lifts the keys above the restored
 *	   ones (al_pg_clock_offset), as transaction ids start over there.
 *	3) Event ids are time-ordered UUIDs (version 7, RFC 9562) made here:
 *	   no call of gen_random_uuid() and its strong random source per
 *	   event, and the outbox primary key grows at its right-most leaf
 *	   instead of a random one.
 *	4) NOTIFY allocation_events is sent once per transaction at commit,
 *	   when it can wake someone: see listeners.c.
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

#include "pg_session.h"
#include "settings.h"

#define TEXT(s) CStringGetTextDatum(s)

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
 * The payload of SPEC section 5's table, pushed as one object into st
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
new_event_id(void)
{
	static uint64 last_ms = 0;
	static uint32 counter = 0;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	uint64		ms;
	uint64		rnd;

	ms = (uint64) (GetCurrentTimestamp() / 1000) +
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

	/* once per SQL call: the catalog lookups are not free per event */
	if (s->clock_checked)
		return s->clock_offset;
	relid = get_relname_relid("outbox_clock",
							  get_namespace_oid("allocation", false));
	sysid = (int64) GetSystemIdentifier();
	s->clock_checked = true;
	if (OidIsValid(clock_relid) && relid == clock_relid)
		return s->clock_offset = clock_offset;
	for (;;)
	{
		Datum		args[1] = {Int64GetDatum(sysid)};

		if (al_pg_exec(s, Q_CLOCK_GET, NULL, NULL) == 1 &&
			al_pg_int8(0, 1) == sysid)
		{
			TransactionId xmin = DatumGetTransactionId(al_pg_datum(0, 3));

			s->clock_offset = al_pg_int8(0, 2);
			if (!TransactionIdIsCurrentTransactionId(xmin))
			{
				clock_offset = s->clock_offset;
				clock_relid = relid;
			}
			return s->clock_offset;
		}
		/* ours now; a concurrent first use may win: read it again */
		al_pg_exec(s, Q_CLOCK_RESET, args, NULL);
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
	Datum		row[7];
	uint64		key;

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
	row[6] = new_event_id();
	/* allocation.outbox_mode: the WAL's readers (wal_events.c), the table's */
	if (al_pg_outbox_mode_wal())
		al_pg_wal_event(row[6], al_event_name(ev->type), aggregatetype, aggregateid,
						seq, DatumGetJsonbP(row[3]));
	if (al_pg_outbox_mode_table())
	{
		al_pg_rows_add(s, &s->outbox_rows, 7, row);
		al_pg_events_recorded(s);
	}
	return key;
}

/* Write the outbox rows held back, in the order they were recorded. */
void
al_pg_flush_outbox(al_pg_session *s)
{
	al_pg_rows *rows = &s->outbox_rows;

	if (rows->n == 1)
	{
		Datum		args[7];

		for (int c = 0; c < 7; c++)
			args[c] = rows->cols[c][0];
		al_pg_exec(s, Q_OUTBOX_INSERT, args, NULL);
	}
	else if (rows->n > 1)
	{
		Datum		args[7];
		static const Oid types[7] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID,
		INT8OID, INT8OID, UUIDOID};

		for (int c = 0; c < 7; c++)
			args[c] = al_pg_rows_array(rows, c, types[c]);
		al_pg_exec(s, Q_OUTBOX_INSERT_MANY, args, NULL);
	}
	rows->n = 0;
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
}

static void
outbox_append_order(void *ctx, al_order *o, const al_event *ev)
{
	o->event_seq++;
	o->event_key = al_pg_outbox_insert(ctx, "order", o->orderid, ev,
									   o->event_seq, o->event_key);
}

/* The read model: new rows are held back and written together. */
static void
view_allocated(void *ctx, const al_event *ev)
{
	al_pg_session *s = ctx;
	Datum		row[4] = {TEXT(ev->orderid), TEXT(ev->sku), TEXT(ev->batchref),
	Int32GetDatum(ev->qty)};

	al_pg_rows_add(s, &s->view_rows, 4, row);
}

static void
view_deallocated(void *ctx, const al_event *ev)
{
	Datum		args[2] = {TEXT(ev->orderid), TEXT(ev->sku)};

	/* a row held back for this line must not come after the delete */
	al_pg_flush_views(ctx);
	al_pg_exec(ctx, Q_VIEW_DELETE, args, NULL);
}

void
al_pg_flush_views(al_pg_session *s)
{
	al_pg_rows *rows = &s->view_rows;

	if (rows->n == 1)
	{
		Datum		args[4];

		for (int c = 0; c < 4; c++)
			args[c] = rows->cols[c][0];
		al_pg_exec(s, Q_VIEW_INSERT, args, NULL);
	}
	else if (rows->n > 1)
	{
		Datum		args[4];
		static const Oid types[4] = {TEXTOID, TEXTOID, TEXTOID, INT4OID};

		al_pg_rows_sort(rows, 4, 0, 1); /* (orderid, sku): the primary key */
		for (int c = 0; c < 4; c++)
			args[c] = al_pg_rows_array(rows, c, types[c]);
		al_pg_exec(s, Q_VIEW_INSERT_MANY, args, NULL);
	}
	rows->n = 0;
}

static void
views_flush(void *ctx)
{
	al_pg_flush_views(ctx);
}

/* Write one e-mail and wake the mailer when the transaction commits. */
void
al_pg_notification(al_pg_session *s, const char *recipient,
				   const char *subject, const char *body)
{
	Datum		args[3] = {TEXT(recipient), TEXT(subject), TEXT(body)};

	al_pg_exec(s, Q_NOTIFICATION_INSERT, args, NULL);
	al_pg_notify_mailer_at_commit();
}

static void
notify_stock_alert(void *ctx, const al_event *ev)
{
	const char *recipient = al_stock_alert_recipient_get();

	if (recipient[0] == '\0')
		return;
	al_pg_notification(ctx, recipient,
					   psprintf("Out of stock: %s", ev->sku),
					   psprintf("Order %s asked for %d of %s and no batch can take it.",
								ev->orderid, ev->qty, ev->sku));
}

/* A status change, told to one subscriber. */
static void
notify_order_status(void *ctx, const char *recipient, const al_event *ev)
{
	al_pg_notification(ctx, recipient,
					   psprintf("Order %s is now %s", ev->orderid, ev->status),
					   psprintf("The status of order %s changed from %s to %s.",
								ev->orderid, ev->previous_status, ev->status));
}

void
al_pg_outbox(al_outbox *outbox, al_read_model *views, al_notifier *notifier,
			 al_pg_session *s)
{
	outbox->ctx = s;
	outbox->append = outbox_append;
	outbox->append_order = outbox_append_order;
	outbox->flush = outbox_flush;
	views->ctx = s;
	views->allocated = view_allocated;
	views->deallocated = view_deallocated;
	views->flush = views_flush;
	notifier->ctx = s;
	notifier->stock_alert = notify_stock_alert;
	notifier->order_status = notify_order_status;
}
