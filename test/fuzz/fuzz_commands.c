/*-------------------------------------------------------------------------
 *
 * fuzz_commands.c
 *	  libFuzzer target: random command sequences through the service layer
 *	  and the in-memory fakes of test/unit, checked after every step
 *	  against a small reference model of the contract's allocation rules, SQL interface and order tracking.
 *
 * Notes:
 *	1) The input is a byte stream decoded into at most MAX_STEPS commands:
 *	   add_batch, allocate, deallocate, change_batch_quantity, a replay of
 *	   the last allocate, allocate_many (lock + allocate each line, one
 *	   call), create_order, change_order_status, subscribe_to_order.
 *	   Identifiers come from a small pool (so that they collide) or are
 *	   built from tokens: odd Unicode, spaces, controls, ill-formed UTF-8,
 *	   long runs.  Quantities from a table with 0, negatives, INT32_MIN and
 *	   INT32_MAX, or four raw bytes.  See decode_* below.
 *	2) Each command byte also says whether the command goes through the
 *	   entry points' argument checks (as SQL would) or straight to the
 *	   service ("bypass", to prove the core refuses bad quantities on its
 *	   own), and whether another transaction commits a change to the
 *	   product right after the command reads it (the fakes' bump_on_get:
 *	   the command must then fail with 40001 exactly when it would write,
 *	   rule 7).
 *	3) The server rolls a failed command back.  The fakes cannot, so the
 *	   driver does: it snapshots the stored state before each call and puts
 *	   it back when the call failed (snapshot_*).
 *	4) After every step: the status and the returned batch equal the
 *	   reference's; the outbox rows of the call equal the events the
 *	   reference expects (same order per aggregate type, same fields);
 *	   every event went to the plugins once, in outbox order; stock alerts
 *	   and order mails are the expected ones; the stored batches, lines,
 *	   orders and subscriptions equal the reference's; versions moved
 *	   exactly for the products that changed; and fake_world_consistent()
 *	   holds.  Any difference aborts, after printing the commands that led
 *	   there (the input is run a second time, verbosely).
 *	5) FUZZ_TRACE=1 in the environment prints every step of every input
 *	   (for reading what a crash file does).
 *
 * test/fuzz/fuzz_commands.c
 *
 *-------------------------------------------------------------------------
 */
#include "fakes.h"

#include "fuzz_ref.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS	64
#define MAX_TOKENS	7
#define ID_BUF		(MAX_TOKENS * 200 + 600)
#define MAX_BULK	4

/* ---- failure reporting -------------------------------------------------- */

static bool verbose;			/* print every step */
static bool replaying;			/* running a failed input again */
static const uint8_t *cur_data;
static size_t cur_size;

/* Arguments are only evaluated when tracing. */
#define trace(...) \
	do { if (verbose) fprintf(stderr, __VA_ARGS__); } while (0)

#define CHECK(cond, ...) \
	do { if (!(cond)) fail_at(__LINE__, __VA_ARGS__); } while (0)

static void
fail_at(int line, const char *fmt,...)
{
	va_list		ap;

	if (!replaying)
	{
		/* run the input again, printing its steps, to the same failure */
		replaying = true;
		verbose = true;
		fprintf(stderr, "fuzz_commands: invariant broken; the steps were:\n");
		LLVMFuzzerTestOneInput(cur_data, cur_size);
		fprintf(stderr, "fuzz_commands: the failure did not repeat\n");
		abort();
	}
	fprintf(stderr, "fuzz_commands: FAILED (fuzz_commands.c:%d): ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* Printable form of an identifier for traces (static ring of buffers). */
static const char *
show(const char *s)
{
	static char bufs[12][200];
	static int	next;
	char	   *out = bufs[next++ % 12];
	size_t		size = sizeof(bufs[0]);
	size_t		n = 0;
	size_t		len;
	size_t		i;

	if (s == NULL)
		return "NULL";
	len = strlen(s);
	out[n++] = '"';
	for (i = 0; i < len && n < 120; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
			out[n++] = (char) c;
		else
			n += (size_t) snprintf(out + n, size - n, "\\x%02x", c);
	}
	if (i < len)
		n += (size_t) snprintf(out + n, size - n, "...(%zu bytes)", len);
	snprintf(out + n, size - n, "\"");
	return out;
}

static const char *
status_str(al_status st)
{
	return al_status_name(st);
}

/* ---- input decoding ----------------------------------------------------- */

typedef struct reader
{
	const uint8_t *p;
	size_t		n;
} reader;

static uint8_t
next_byte(reader *r)
{
	if (r->n == 0)
		return 0;
	r->n--;
	return *r->p++;
}

/* Valid, odd-but-legal identifiers: they collide across kinds on purpose. */
static const char *const POOL[] = {
	"A", "B", "a", "RED-CHAIR", "b1", "b2", "b3", "o-1", "o-2", "x-9",
	"\xc3\xa9-1",				/* é-1 */
	"a b",
	"\xc2\xa0x",				/* NBSP x */
	"Z\xf0\x9f\x98\x80",		/* Z😀 */
	"O'Brien-7",
	NULL,						/* 255 x é, built at start */
};
#define NPOOL (sizeof(POOL) / sizeof(POOL[0]))
static char long_id[255 * 2 + 1];

static const char *const TOKENS[] = {
	/* ordinary characters */
	"a", "Z", "-", "1", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "'",
	"%", "\\",
	/* spaces: SP, NBSP, ideographic space, ZWSP, BOM */
	" ", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\x8b", "\xef\xbb\xbf",
	/* controls: TAB, SOH, DEL, NEL (C1), ESC */
	"\t", "\x01", "\x7f", "\xc2\x85", "\x1b",
	/* ill-formed UTF-8: never valid, overlong, surrogate, lone
	 * continuation, above U+10FFFF, truncated */
	"\xff", "\xc0\xaf", "\xed\xa0\x80", "\x80", "\xf4\x90\x80\x80", "\xe2\x82",
	/* long runs (64 characters), filled in at start */
	NULL, NULL, NULL,
};
#define NTOKENS (sizeof(TOKENS) / sizeof(TOKENS[0]))
static char long_tokens[3][64 * 3 + 1];
static const char *tokens[NTOKENS];
static const char *pool[NPOOL];

static const int32_t QTYS[] = {
	1, 2, 3, 5, 10, 0, 1, 2, 4, 7, 100, -1,
	INT32_MAX, INT32_MIN, INT32_MAX - 1, 20,
};
#define NQTYS (sizeof(QTYS) / sizeof(QTYS[0]))

static const char *const EMAILS[] = {
	"a@b.co", "A@B.CO", "x.y+z@ex-ample.org", "first.last@sub.example.com",
	"", "a@b", "a b@c.de", "@b.co", "a@-b.co", "a@b.c", "\xc3\xa9@b.co",
	"a..b@c.de", "a@b..co", "a@b.c0",
};
#define NEMAILS (sizeof(EMAILS) / sizeof(EMAILS[0]))
static const char *const EMAIL_TOKENS[] = {
	"a", "Z", ".", "@", "-", "co", "b", "+", " ", "\xc3\xa9", "9", "_",
};
#define NEMAIL_TOKENS (sizeof(EMAIL_TOKENS) / sizeof(EMAIL_TOKENS[0]))

static const char *const STATUSES[] = {
	"created", "allocated", "backordered", "shipped", "delivered",
	"cancelled", "", "Shipped", "shipped ", "\xff", "cancel",
};
#define NSTATUSES (sizeof(STATUSES) / sizeof(STATUSES[0]))

static void
init_tables(void)
{
	static bool done;

	if (done)
		return;
	for (int i = 0; i < 255; i++)
		memcpy(long_id + 2 * i, "\xc3\xa9", 2);
	for (int i = 0; i < 64; i++)
	{
		long_tokens[0][i] = 'x';
		memcpy(long_tokens[1] + 2 * i, "\xc3\xa9", 2);
		memcpy(long_tokens[2] + 3 * i, "\xe3\x80\x80", 3);
	}
	for (size_t i = 0; i < NPOOL; i++)
		pool[i] = POOL[i] ? POOL[i] : long_id;
	for (size_t i = 0, l = 0; i < NTOKENS; i++)
		tokens[i] = TOKENS[i] ? TOKENS[i] : long_tokens[l++];
	done = true;
}

/* An identifier into buf: mostly from the pool, else built of tokens. */
static const char *
decode_id(reader *r, char *buf)
{
	uint8_t		k = next_byte(r);
	int			ntok;
	size_t		n = 0;

	if (k < 0xE0)
		return pool[k % NPOOL];
	ntok = k & 0x07;			/* 0: the empty string */
	for (int i = 0; i < ntok; i++)
	{
		const char *t = tokens[next_byte(r) % NTOKENS];
		size_t		tl = strlen(t);

		memcpy(buf + n, t, tl);
		n += tl;
	}
	buf[n] = '\0';
	return buf;
}

static int32_t
decode_qty(reader *r)
{
	uint8_t		q = next_byte(r);
	uint32_t	raw = 0;

	if (q < 0xF8)
		return QTYS[q % NQTYS];
	for (int i = 0; i < 4; i++)
		raw = (raw << 8) | next_byte(r);
	return (int32_t) raw;
}

static void
decode_eta(reader *r, bool *has_eta, int32_t *eta)
{
	static const int32_t ETAS[] = {0, 1, -1, 9000, 9001, INT32_MIN, INT32_MAX};
	uint8_t		e = next_byte(r);

	*has_eta = (e % 11) >= 4;
	*eta = *has_eta ? ETAS[(e % 11) - 4] : 0;
}

static const char *
decode_email(reader *r, char *buf)
{
	uint8_t		k = next_byte(r);
	int			ntok;
	size_t		n = 0;

	if (k < 0xD0)
		return EMAILS[k % NEMAILS];
	ntok = 1 + (k & 0x0F);
	for (int i = 0; i < ntok; i++)
	{
		const char *t = EMAIL_TOKENS[next_byte(r) % NEMAIL_TOKENS];
		size_t		tl = strlen(t);

		memcpy(buf + n, t, tl);
		n += tl;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- the reference model ------------------------------------------------ */

typedef struct r_product
{
	const char *sku;
	int64_t		line_seq;		/* allocations made, for rule 5's order */
} r_product;

typedef struct r_batch
{
	const char *ref;
	const char *sku;
	int32_t		purchased;
	bool		has_eta;
	int32_t		eta;
} r_batch;

typedef struct r_line
{
	const char *orderid;
	const char *sku;
	int32_t		qty;
	const char *batchref;
	int64_t		seq;
} r_line;

typedef struct r_order
{
	const char *orderid;
	int			status;			/* al_order_status numbering (the contract's order) */
} r_order;

typedef struct r_sub
{
	const char *orderid;
	const char *email;
} r_sub;

typedef struct r_mail
{
	const char *recipient;
	const char *orderid;
	const char *status;
	const char *previous_status;
} r_mail;

typedef struct r_model
{
	fake_arena	strings;		/* every string the model keeps */
	FAKE_ARRAY(r_product) products;
	FAKE_ARRAY(r_batch) batches;
	FAKE_ARRAY(r_line) lines;
	FAKE_ARRAY(r_order) orders;
	FAKE_ARRAY(r_sub) subs;

	/* what the current call is expected to produce */
	FAKE_ARRAY(al_event) events;	/* outbox rows, in order */
	FAKE_ARRAY(al_event) queue;		/* the reference's own bus */
	int			queue_head;
	FAKE_ARRAY(r_mail) mails;
	int			alerts;
	FAKE_ARRAY(const char *) changed;	/* SKUs whose product changed */
} r_model;

static const char *const STATUS_NAMES[] = {
	"created", "allocated", "backordered", "shipped", "delivered",
	"cancelled",
};

/* the order tracking' allowed moves. */
static bool
ref_can_move(int from, int to)
{
	static const char *const moves[] = {
		"created>allocated", "created>backordered", "created>cancelled",
		"backordered>allocated", "backordered>cancelled",
		"allocated>shipped", "allocated>cancelled", "shipped>delivered",
	};
	char		m[64];

	snprintf(m, sizeof(m), "%s>%s", STATUS_NAMES[from], STATUS_NAMES[to]);
	for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (strcmp(moves[i], m) == 0)
			return true;
	return false;
}

static const char *
keep(r_model *m, const char *s)
{
	return fake_arena_strdup(&m->strings, s);
}

static r_product *
r_find_product(r_model *m, const char *sku)
{
	for (int i = 0; i < m->products.count; i++)
		if (strcmp(m->products.items[i].sku, sku) == 0)
			return &m->products.items[i];
	return NULL;
}

static r_batch *
r_find_batch(r_model *m, const char *ref)
{
	for (int i = 0; i < m->batches.count; i++)
		if (strcmp(m->batches.items[i].ref, ref) == 0)
			return &m->batches.items[i];
	return NULL;
}

static int
r_find_line(r_model *m, const char *orderid, const char *sku)
{
	for (int i = 0; i < m->lines.count; i++)
		if (strcmp(m->lines.items[i].orderid, orderid) == 0 &&
			strcmp(m->lines.items[i].sku, sku) == 0)
			return i;
	return -1;
}

static r_order *
r_find_order(r_model *m, const char *orderid)
{
	for (int i = 0; i < m->orders.count; i++)
		if (strcmp(m->orders.items[i].orderid, orderid) == 0)
			return &m->orders.items[i];
	return NULL;
}

static int32_t
r_allocated(r_model *m, const char *ref)
{
	int64_t		sum = 0;

	for (int i = 0; i < m->lines.count; i++)
		if (strcmp(m->lines.items[i].batchref, ref) == 0)
			sum += m->lines.items[i].qty;
	CHECK(sum <= INT32_MAX, "reference: batch %s over-allocated", show(ref));
	return (int32_t) sum;
}

static void
r_mark_changed(r_model *m, const char *sku)
{
	for (int i = 0; i < m->changed.count; i++)
		if (strcmp(m->changed.items[i], sku) == 0)
			return;
	*FAKE_PUSH(m->changed) = keep(m, sku);
}

static void
r_emit(r_model *m, const al_event *ev)
{
	*FAKE_PUSH(m->events) = *ev;
	*FAKE_PUSH(m->queue) = *ev;
}

/*
 * Rules 1 and 2: the batch of sku that takes qty, warehouse stock first,
 * then the earliest eta, ties by reference in byte order; none: NULL.
 */
static r_batch *
r_choose(r_model *m, const char *sku, int32_t qty, const char *exclude)
{
	r_batch    *best = NULL;

	for (int i = 0; i < m->batches.count; i++)
	{
		r_batch    *b = &m->batches.items[i];

		if (strcmp(b->sku, sku) != 0)
			continue;
		if (exclude && strcmp(b->ref, exclude) == 0)
			continue;
		if ((int64_t) b->purchased - r_allocated(m, b->ref) < qty)
			continue;
		if (best == NULL)
		{
			best = b;
			continue;
		}
		if (b->has_eta != best->has_eta)
		{
			if (!b->has_eta)
				best = b;
			continue;
		}
		if (b->has_eta && b->eta != best->eta)
		{
			if (b->eta < best->eta)
				best = b;
			continue;
		}
		if (ref_bytecmp(b->ref, best->ref) < 0)
			best = b;
	}
	return best;
}

/* Allocate a line that is not allocated: Allocated or OutOfStock. */
static al_status
r_place(r_model *m, const char *orderid, const char *sku, int32_t qty,
		const char *exclude, const char **batchref)
{
	r_batch    *b = r_choose(m, sku, qty, exclude);
	al_event	ev = {0};
	r_line	   *l;

	ev.sku = keep(m, sku);
	ev.orderid = keep(m, orderid);
	ev.qty = qty;
	if (b == NULL)
	{
		ev.type = AL_EV_OUT_OF_STOCK;
		r_emit(m, &ev);
		*batchref = NULL;
		return AL_OUT_OF_STOCK;
	}
	l = FAKE_PUSH(m->lines);
	l->orderid = ev.orderid;
	l->sku = ev.sku;
	l->qty = qty;
	l->batchref = b->ref;
	l->seq = ++r_find_product(m, sku)->line_seq;
	r_mark_changed(m, sku);
	ev.type = AL_EV_ALLOCATED;
	ev.batchref = b->ref;
	r_emit(m, &ev);
	*batchref = b->ref;
	return AL_OK;
}

static void
r_remove_line(r_model *m, int li)
{
	memmove(&m->lines.items[li], &m->lines.items[li + 1],
			sizeof(r_line) * (size_t) (m->lines.count - li - 1));
	m->lines.count--;
}

static void
r_deallocate_line(r_model *m, int li, bool reallocate)
{
	r_line		l = m->lines.items[li];
	al_event	ev = {0};

	ev.type = AL_EV_DEALLOCATED;
	ev.sku = l.sku;
	ev.orderid = l.orderid;
	ev.qty = l.qty;
	ev.batchref = l.batchref;
	ev.reallocate = reallocate;
	r_remove_line(m, li);
	r_mark_changed(m, l.sku);
	r_emit(m, &ev);
}

/* Order tracking follows allocation by events (the contract: order tracking). */
static void
r_track(r_model *m, const char *orderid, int from_a, int from_b, int to)
{
	r_order    *o = r_find_order(m, orderid);
	al_event	ev = {0};

	if (o == NULL || (o->status != from_a && o->status != from_b))
		return;
	ev.type = AL_EV_ORDER_STATUS_CHANGED;
	ev.orderid = o->orderid;
	ev.status = STATUS_NAMES[to];
	ev.previous_status = STATUS_NAMES[o->status];
	o->status = to;
	r_emit(m, &ev);
}

/* The reference's message bus: what each event leads to, first in first out. */
static void
r_drain(r_model *m)
{
	while (m->queue_head < m->queue.count)
	{
		al_event	ev = m->queue.items[m->queue_head++];
		const char *batchref;

		switch (ev.type)
		{
			case AL_EV_ALLOCATED:
				r_track(m, ev.orderid, AL_ORDER_CREATED, AL_ORDER_BACKORDERED,
						AL_ORDER_ALLOCATED);
				break;
			case AL_EV_OUT_OF_STOCK:
				m->alerts++;
				r_track(m, ev.orderid, AL_ORDER_CREATED, AL_ORDER_CREATED,
						AL_ORDER_BACKORDERED);
				break;
			case AL_EV_DEALLOCATED:
				/* rule 5: displaced lines go to the other batches; rule 6 */
				if (ev.reallocate && r_find_line(m, ev.orderid, ev.sku) < 0)
					(void) r_place(m, ev.orderid, ev.sku, ev.qty, ev.batchref,
								   &batchref);
				break;
			case AL_EV_ORDER_STATUS_CHANGED:
				for (int i = 0; i < m->subs.count; i++)
					if (strcmp(m->subs.items[i].orderid, ev.orderid) == 0)
					{
						r_mail	   *mail = FAKE_PUSH(m->mails);

						mail->recipient = m->subs.items[i].email;
						mail->orderid = ev.orderid;
						mail->status = ev.status;
						mail->previous_status = ev.previous_status;
					}
				break;
			default:
				break;
		}
	}
}

/* Reference snapshots, for commands that fail as a whole. */
typedef struct r_snapshot
{
	FAKE_ARRAY(r_product) products;
	FAKE_ARRAY(r_batch) batches;
	FAKE_ARRAY(r_line) lines;
	FAKE_ARRAY(r_order) orders;
	FAKE_ARRAY(r_sub) subs;
} r_snapshot;

#define COPY_ARRAY(dst, src) \
	do { \
		fake_reserve((void **) &(dst).items, &(dst).cap, (src).count + 1, \
					 sizeof(*(src).items)); \
		if ((src).count > 0) \
			memcpy((dst).items, (src).items, \
				   sizeof(*(src).items) * (size_t) (src).count); \
		(dst).count = (src).count; \
	} while (0)

static void
r_save(r_snapshot *s, const r_model *m)
{
	COPY_ARRAY(s->products, m->products);
	COPY_ARRAY(s->batches, m->batches);
	COPY_ARRAY(s->lines, m->lines);
	COPY_ARRAY(s->orders, m->orders);
	COPY_ARRAY(s->subs, m->subs);
}

static void
r_restore(r_model *m, const r_snapshot *s)
{
	COPY_ARRAY(m->products, s->products);
	COPY_ARRAY(m->batches, s->batches);
	COPY_ARRAY(m->lines, s->lines);
	COPY_ARRAY(m->orders, s->orders);
	COPY_ARRAY(m->subs, s->subs);
	m->events.count = 0;
	m->queue.count = 0;
	m->queue_head = 0;
	m->mails.count = 0;
	m->alerts = 0;
	m->changed.count = 0;
}

/* ---- the fakes' stored state: snapshot and rollback --------------------- */

typedef struct w_snapshot
{
	FAKE_ARRAY(fake_product) products;
	FAKE_ARRAY(fake_batch) batches;
	FAKE_ARRAY(fake_line) lines;
	FAKE_ARRAY(fake_order) orders;
	FAKE_ARRAY(fake_view_row) view;
	/* append-only within a call: their length is enough */
	int			subscriptions;
	int			order_mails;
	int			outbox;
	int			plugins;
	int			stock_alerts;
} w_snapshot;

static void
w_save(w_snapshot *s, const fake_world *w)
{
	COPY_ARRAY(s->products, w->products);
	COPY_ARRAY(s->batches, w->batches);
	COPY_ARRAY(s->lines, w->lines);
	COPY_ARRAY(s->orders, w->orders);
	COPY_ARRAY(s->view, w->view);
	s->subscriptions = w->subscriptions.count;
	s->order_mails = w->order_mails.count;
	s->outbox = w->outbox.count;
	s->plugins = w->plugins.count;
	s->stock_alerts = w->stock_alerts;
}

/* The server's rollback of a failed call. */
static void
w_restore(fake_world *w, const w_snapshot *s)
{
	fake_abort_call(w);
	COPY_ARRAY(w->products, s->products);
	COPY_ARRAY(w->batches, s->batches);
	COPY_ARRAY(w->lines, s->lines);
	COPY_ARRAY(w->orders, s->orders);
	COPY_ARRAY(w->view, s->view);
	w->subscriptions.count = s->subscriptions;
	w->order_mails.count = s->order_mails;
	w->outbox.count = s->outbox;
	w->plugins.count = s->plugins;
	w->stock_alerts = s->stock_alerts;
}

/* ---- comparing the fakes with the model --------------------------------- */

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static const char *const EVENT_NAMES[] = {
	[AL_EV_BATCH_CREATED] = "BatchCreated",
	[AL_EV_BATCH_QUANTITY_CHANGED] = "BatchQuantityChanged",
	[AL_EV_ALLOCATED] = "Allocated",
	[AL_EV_DEALLOCATED] = "Deallocated",
	[AL_EV_OUT_OF_STOCK] = "OutOfStock",
	[AL_EV_ORDER_CREATED] = "OrderCreated",
	[AL_EV_ORDER_STATUS_CHANGED] = "OrderStatusChanged",
};

static bool
is_order_event(al_event_type t)
{
	return t == AL_EV_ORDER_CREATED || t == AL_EV_ORDER_STATUS_CHANGED;
}

/* The fields each event carries (the contract: events), compared. */
static void
check_event(const fake_outbox_row *row, const al_event *want, int i)
{
	const al_event *got = &row->ev;
	const char *name = EVENT_NAMES[want->type];

	CHECK(same_str(row->type, name), "outbox row %d is %s, expected %s", i,
		  row->type, name);
	CHECK(same_str(row->aggregatetype, is_order_event(want->type) ?
				   "order" : "product"),
		  "outbox row %d (%s): aggregatetype %s", i, name, row->aggregatetype);
	CHECK(same_str(row->aggregateid, is_order_event(want->type) ?
				   want->orderid : want->sku),
		  "outbox row %d (%s): aggregateid %s", i, name,
		  show(row->aggregateid));
	switch (want->type)
	{
		case AL_EV_BATCH_CREATED:
			CHECK(same_str(got->batchref, want->batchref) &&
				  same_str(got->sku, want->sku) && got->qty == want->qty &&
				  got->has_eta == want->has_eta &&
				  (!want->has_eta || got->eta == want->eta),
				  "BatchCreated row %d: %s %s %d eta %d/%d, expected %s %s %d "
				  "eta %d/%d", i, show(got->batchref), show(got->sku),
				  got->qty, got->has_eta, got->eta, show(want->batchref),
				  show(want->sku), want->qty, want->has_eta, want->eta);
			break;
		case AL_EV_BATCH_QUANTITY_CHANGED:
			CHECK(same_str(got->batchref, want->batchref) &&
				  same_str(got->sku, want->sku) && got->qty == want->qty &&
				  got->previous_qty == want->previous_qty,
				  "BatchQuantityChanged row %d: %s %d->%d, expected %s %d->%d",
				  i, show(got->batchref), got->previous_qty, got->qty,
				  show(want->batchref), want->previous_qty, want->qty);
			break;
		case AL_EV_ALLOCATED:
		case AL_EV_DEALLOCATED:
		case AL_EV_OUT_OF_STOCK:
			CHECK(same_str(got->orderid, want->orderid) &&
				  same_str(got->sku, want->sku) && got->qty == want->qty &&
				  (want->type == AL_EV_OUT_OF_STOCK ||
				   same_str(got->batchref, want->batchref)) &&
				  (want->type != AL_EV_DEALLOCATED ||
				   got->reallocate == want->reallocate),
				  "%s row %d: (%s, %s, %d) @%s realloc=%d, expected (%s, %s, "
				  "%d) @%s realloc=%d", name, i, show(got->orderid),
				  show(got->sku), got->qty, show(got->batchref),
				  got->reallocate, show(want->orderid), show(want->sku),
				  want->qty, show(want->batchref), want->reallocate);
			break;
		case AL_EV_ORDER_CREATED:
			CHECK(same_str(got->orderid, want->orderid) &&
				  same_str(got->status, "created"),
				  "OrderCreated row %d: %s %s", i, show(got->orderid),
				  show(got->status));
			break;
		case AL_EV_ORDER_STATUS_CHANGED:
			CHECK(same_str(got->orderid, want->orderid) &&
				  same_str(got->status, want->status) &&
				  same_str(got->previous_status, want->previous_status),
				  "OrderStatusChanged row %d: %s %s->%s, expected %s %s->%s",
				  i, show(got->orderid), show(got->previous_status),
				  show(got->status), show(want->orderid),
				  want->previous_status, want->status);
			break;
		default:
			CHECK(false, "unexpected event type %d", (int) want->type);
	}
}

/*
 * The outbox rows of the call against the expected events: the same
 * sequence for each aggregate type (products, orders); every row went to
 * the plugins, in outbox order; the alerts and mails expected.
 */
static void
check_call_output(fake_world *w, const r_model *m, const w_snapshot *before)
{
	int			nrows = w->outbox.count - before->outbox;
	int			nmails = w->order_mails.count - before->order_mails;

	CHECK(nrows == m->events.count, "the call wrote %d outbox rows, "
		  "expected %d", nrows, m->events.count);
	for (int kind = 0; kind < 2; kind++)
	{
		int			j = 0;

		for (int i = before->outbox; i < w->outbox.count; i++)
		{
			const fake_outbox_row *row = &w->outbox.items[i];
			bool		order_row = same_str(row->aggregatetype, "order");

			if (order_row != (kind == 1))
				continue;
			while (j < m->events.count &&
				   is_order_event(m->events.items[j].type) != (kind == 1))
				j++;
			CHECK(j < m->events.count, "outbox row %d (%s) was not expected",
				  i, row->type);
			check_event(row, &m->events.items[j], i);
			j++;
		}
	}
	CHECK(w->plugins.count - before->plugins == nrows,
		  "%d events went to the plugins, %d to the outbox",
		  w->plugins.count - before->plugins, nrows);
	for (int i = 0; i < nrows; i++)
		CHECK(same_str(w->plugins.items[before->plugins + i].type,
					   w->outbox.items[before->outbox + i].type),
			  "plugin call %d got %s, outbox row is %s", i,
			  w->plugins.items[before->plugins + i].type,
			  w->outbox.items[before->outbox + i].type);
	CHECK(w->stock_alerts - before->stock_alerts == m->alerts,
		  "%d stock alerts, expected %d", w->stock_alerts - before->stock_alerts,
		  m->alerts);
	CHECK(nmails == m->mails.count, "%d order mails, expected %d", nmails,
		  m->mails.count);
	for (int i = 0; i < nmails; i++)
	{
		const fake_order_mail *got = &w->order_mails.items[before->order_mails + i];
		const r_mail *want = &m->mails.items[i];

		CHECK(same_str(got->recipient, want->recipient) &&
			  same_str(got->orderid, want->orderid) &&
			  same_str(got->status, want->status) &&
			  same_str(got->previous_status, want->previous_status),
			  "mail %d: to %s about %s %s->%s, expected to %s about %s %s->%s",
			  i, show(got->recipient), show(got->orderid),
			  show(got->previous_status), show(got->status),
			  show(want->recipient), show(want->orderid),
			  want->previous_status, want->status);
	}
}

/* The whole stored state against the model, and the fakes' own check. */
static void
check_state(fake_world *w, r_model *m, const w_snapshot *before,
			const char *raced_sku)
{
	char		why[512];

	CHECK(w->products.count == m->products.count, "%d products stored, "
		  "expected %d", w->products.count, m->products.count);
	for (int i = 0; i < m->products.count; i++)
	{
		const char *sku = m->products.items[i].sku;
		const fake_product *p = fake_product_of(w, sku);
		int64_t		v0 = -1;
		bool		changed = false;

		CHECK(p != NULL, "product %s is not stored", show(sku));
		for (int j = 0; j < before->products.count; j++)
			if (same_str(before->products.items[j].sku, sku))
				v0 = before->products.items[j].version;
		for (int j = 0; j < m->changed.count; j++)
			changed = changed || same_str(m->changed.items[j], sku);
		if (raced_sku && same_str(raced_sku, sku))
			v0++;				/* the other transaction's commit */
		/* rule 7: a change moves the version, nothing else does */
		if (v0 < 0)
			CHECK(p->version >= 1, "new product %s has version %lld",
				  show(sku), (long long) p->version);
		else if (changed)
			CHECK(p->version > v0, "product %s changed but its version "
				  "stayed %lld", show(sku), (long long) v0);
		else
			CHECK(p->version == v0, "product %s did not change but its "
				  "version moved from %lld to %lld", show(sku),
				  (long long) v0, (long long) p->version);
	}

	CHECK(w->batches.count == m->batches.count, "%d batches stored, "
		  "expected %d", w->batches.count, m->batches.count);
	for (int i = 0; i < m->batches.count; i++)
	{
		const r_batch *rb = &m->batches.items[i];
		const fake_batch *b = fake_batch_of(w, rb->ref);

		CHECK(b != NULL, "batch %s is not stored", show(rb->ref));
		CHECK(same_str(b->sku, rb->sku) && b->purchased == rb->purchased &&
			  b->has_eta == rb->has_eta &&
			  (!rb->has_eta || b->eta == rb->eta),
			  "batch %s: sku %s purchased %d eta %d/%d, expected sku %s "
			  "purchased %d eta %d/%d", show(rb->ref), show(b->sku),
			  b->purchased, b->has_eta, b->eta, show(rb->sku), rb->purchased,
			  rb->has_eta, rb->eta);
		CHECK(b->allocated == r_allocated(m, rb->ref),
			  "batch %s: allocated %d, expected %d", show(rb->ref),
			  b->allocated, r_allocated(m, rb->ref));
		/* the invariant itself, whatever the model says */
		CHECK(b->purchased >= b->allocated && b->allocated >= 0,
			  "batch %s oversold: purchased %d, allocated %d", show(rb->ref),
			  b->purchased, b->allocated);
	}

	CHECK(w->lines.count == m->lines.count, "%d lines stored, expected %d",
		  w->lines.count, m->lines.count);
	for (int i = 0; i < m->lines.count; i++)
	{
		const r_line *rl = &m->lines.items[i];
		const fake_line *l = fake_line_of(w, rl->orderid, rl->sku);

		CHECK(l != NULL, "line (%s, %s) is not stored", show(rl->orderid),
			  show(rl->sku));
		CHECK(l->qty == rl->qty && same_str(l->batchref, rl->batchref),
			  "line (%s, %s): %d in %s, expected %d in %s", show(rl->orderid),
			  show(rl->sku), l->qty, show(l->batchref), rl->qty,
			  show(rl->batchref));
		CHECK(same_str(fake_view_batch(w, rl->orderid, rl->sku), rl->batchref),
			  "read model: (%s, %s) in %s, expected %s", show(rl->orderid),
			  show(rl->sku), show(fake_view_batch(w, rl->orderid, rl->sku)),
			  show(rl->batchref));
	}

	CHECK(w->orders.count == m->orders.count, "%d orders stored, expected %d",
		  w->orders.count, m->orders.count);
	for (int i = 0; i < m->orders.count; i++)
	{
		const r_order *ro = &m->orders.items[i];

		CHECK(same_str(fake_order_status(w, ro->orderid),
					   STATUS_NAMES[ro->status]),
			  "order %s is %s, expected %s", show(ro->orderid),
			  show(fake_order_status(w, ro->orderid)),
			  STATUS_NAMES[ro->status]);
	}
	CHECK(w->subscriptions.count == m->subs.count, "%d subscriptions, "
		  "expected %d", w->subscriptions.count, m->subs.count);
	for (int i = 0; i < m->subs.count; i++)
		CHECK(same_str(w->subscriptions.items[i].orderid,
					   m->subs.items[i].orderid) &&
			  same_str(w->subscriptions.items[i].email, m->subs.items[i].email),
			  "subscription %d: %s follows %s, expected %s follows %s", i,
			  show(w->subscriptions.items[i].email),
			  show(w->subscriptions.items[i].orderid),
			  show(m->subs.items[i].email), show(m->subs.items[i].orderid));

	CHECK(fake_world_consistent(w, why, sizeof(why)),
		  "fake_world_consistent: %s", why);
}

/* ---- entry-point checks (SQL's argument checking) ----------------------- */

/* Is s a valid identifier?  Compares the core's answer with the reference. */
static bool
ident_ok(const char *s)
{
	size_t		len = strlen(s);
	ref_ident	r = ref_check_identifier((const unsigned char *) s, len);
	al_ident_problem p = al_check_identifier(s, len);
	const char *why = ref_ident_disagreement(&r, (int) p,
											 p == AL_IDENT_OK ?
											 al_utf8_length(s, len) : 0);

	CHECK(why == NULL, "al_check_identifier(%s) = %d: %s", show(s), (int) p,
		  why);
	return p == AL_IDENT_OK;
}

/* ---- one step ----------------------------------------------------------- */

enum op
{
	OP_ADD_BATCH,
	OP_ALLOCATE,
	OP_DEALLOCATE,
	OP_CHANGE_QTY,
	OP_REPLAY,
	OP_ALLOCATE_MANY,
	OP_CREATE_ORDER,
	OP_CHANGE_STATUS,
	OP_SUBSCRIBE,
};

/* 16 slots: allocation commands are the most frequent */
static const enum op OPS[16] = {
	OP_ADD_BATCH, OP_ADD_BATCH, OP_ADD_BATCH,
	OP_ALLOCATE, OP_ALLOCATE, OP_ALLOCATE, OP_ALLOCATE,
	OP_DEALLOCATE, OP_DEALLOCATE,
	OP_CHANGE_QTY, OP_CHANGE_QTY,
	OP_REPLAY, OP_ALLOCATE_MANY,
	OP_CREATE_ORDER, OP_CHANGE_STATUS, OP_SUBSCRIBE,
};

typedef struct driver
{
	fake_world	w;
	r_model		m;
	w_snapshot	wsnap;
	r_snapshot	rsnap;
	/* the last allocate, for OP_REPLAY */
	bool		have_last;
	char		last_orderid[ID_BUF];
	char		last_sku[ID_BUF];
	int32_t		last_qty;
} driver;

/* What the model expects of one call. */
typedef struct expect
{
	al_status	status;
	const char *batchref;		/* allocate, deallocate */
	bool		check_batchref;
	int32_t		existing_qty;	/* AL_QTY_MISMATCH */
	const char *previous_status;	/* change_order_status */
	const char *raced_sku;		/* its version moved behind our back */
} expect;

static bool
is_error(al_status st)
{
	return st != AL_OK && st != AL_OUT_OF_STOCK;
}

static void
begin_call(driver *d)
{
	r_save(&d->rsnap, &d->m);
	w_save(&d->wsnap, &d->w);
	d->m.events.count = 0;
	d->m.queue.count = 0;
	d->m.queue_head = 0;
	d->m.mails.count = 0;
	d->m.alerts = 0;
	d->m.changed.count = 0;
}

/* After the service answered: roll back on failure, then compare all. */
static void
end_call(driver *d, const expect *e, const al_result *r)
{
	CHECK(r->status == e->status, "status %s, expected %s",
		  status_str(r->status), status_str(e->status));
	if (e->check_batchref)
		CHECK(same_str(r->batchref, e->batchref), "returned batch %s, "
			  "expected %s", show(r->batchref), show(e->batchref));
	if (e->status == AL_QTY_MISMATCH)
		CHECK(r->existing_qty == e->existing_qty, "existing quantity %d, "
			  "expected %d", r->existing_qty, e->existing_qty);
	if (e->previous_status)
		CHECK(same_str(r->previous_status, e->previous_status),
			  "previous status %s, expected %s", show(r->previous_status),
			  e->previous_status);
	if (is_error(r->status))
	{
		w_restore(&d->w, &d->wsnap);
		r_restore(&d->m, &d->rsnap);
		/* another transaction's commit is not rolled back with ours */
		if (e->raced_sku)
			for (int i = 0; i < d->w.products.count; i++)
				if (same_str(d->w.products.items[i].sku, e->raced_sku))
					d->w.products.items[i].version++;
	}
	check_call_output(&d->w, &d->m, &d->wsnap);
	check_state(&d->w, &d->m, &d->wsnap, e->raced_sku);
	trace("      -> %s%s%s (%d event%s)\n", status_str(r->status),
		  e->check_batchref ? " " : "", e->check_batchref ? show(r->batchref) : "",
		  d->m.events.count, d->m.events.count == 1 ? "" : "s");
}

/*
 * The model's answer to a product command under a race: another
 * transaction bumps the version right after the command read the product,
 * so a command that writes fails with 40001 and changes nothing.
 */
static bool
race_conflict(driver *d, expect *e, bool race, bool product_existed,
			  const char *sku, bool writes)
{
	if (!race)
		return false;
	if (product_existed)
		e->raced_sku = keep(&d->m, sku);
	if (!writes)
		return false;
	e->status = AL_CONCURRENT_UPDATE;
	e->check_batchref = false;
	return true;
}

static void
step_add_batch(driver *d, reader *rd, bool bypass, bool race)
{
	char		b1[ID_BUF], b2[ID_BUF];
	const char *ref = decode_id(rd, b1);
	const char *sku = decode_id(rd, b2);
	int32_t		qty = decode_qty(rd);
	bool		has_eta;
	int32_t		eta;
	expect		e = {0};
	al_service	svc;
	al_result	r;
	al_event	ev = {0};

	decode_eta(rd, &has_eta, &eta);
	trace("add_batch(%s, %s, %d, %s%d)%s%s\n", show(ref), show(sku), qty,
		  has_eta ? "eta " : "no eta ", eta, bypass ? " bypass" : "",
		  race ? " race" : "");
	if (!bypass && !(ident_ok(ref) && ident_ok(sku) && qty >= 0))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	begin_call(d);
	if (r_find_batch(&d->m, ref))
		e.status = AL_DUPLICATE_BATCH;
	else if (!race_conflict(d, &e, race, r_find_product(&d->m, sku) != NULL,
							sku, qty >= 0))
	{
		if (qty < 0)
			e.status = AL_INVALID_ARGUMENT;
		else
		{
			r_batch    *b;

			if (r_find_product(&d->m, sku) == NULL)
			{
				r_product  *p = FAKE_PUSH(d->m.products);

				p->sku = keep(&d->m, sku);
				p->line_seq = 0;
			}
			b = FAKE_PUSH(d->m.batches);
			b->ref = keep(&d->m, ref);
			b->sku = keep(&d->m, sku);
			b->purchased = qty;
			b->has_eta = has_eta;
			b->eta = eta;
			r_mark_changed(&d->m, sku);
			ev.type = AL_EV_BATCH_CREATED;
			ev.sku = b->sku;
			ev.batchref = b->ref;
			ev.qty = qty;
			ev.has_eta = has_eta;
			ev.eta = eta;
			r_emit(&d->m, &ev);
			r_drain(&d->m);
		}
	}
	fake_service(&svc, &d->w);
	d->w.bump_on_get = race ? 1 : 0;
	r = al_svc_add_batch(&svc, ref, sku, qty, has_eta, eta);
	d->w.bump_on_get = 0;
	end_call(d, &e, &r);
}

/* The model's allocate: e gets the status and batch (no race here). */
static void
model_allocate(driver *d, expect *e, const char *orderid, const char *sku,
			   int32_t qty)
{
	int			li;

	e->check_batchref = true;
	e->batchref = NULL;
	if (r_find_product(&d->m, sku) == NULL)
	{
		e->status = AL_UNKNOWN_SKU;
		e->check_batchref = false;
		return;
	}
	if (qty <= 0)
	{
		e->status = AL_INVALID_ARGUMENT;
		return;
	}
	li = r_find_line(&d->m, orderid, sku);
	if (li >= 0)
	{
		/* rule 4 */
		e->batchref = d->m.lines.items[li].batchref;
		if (d->m.lines.items[li].qty != qty)
		{
			e->status = AL_QTY_MISMATCH;
			e->existing_qty = d->m.lines.items[li].qty;
		}
		else
			e->status = AL_OK;
		return;
	}
	e->status = r_place(&d->m, orderid, sku, qty, NULL, &e->batchref);
	r_drain(&d->m);
}

static void
step_allocate(driver *d, reader *rd, bool bypass, bool race, bool replay)
{
	char		b1[ID_BUF], b2[ID_BUF];
	const char *orderid;
	const char *sku;
	int32_t		qty;
	expect		e = {0};
	al_service	svc;
	al_result	r;
	bool		known;
	int			li;

	if (replay)
	{
		if (!d->have_last)
			return;
		orderid = strcpy(b1, d->last_orderid);
		sku = strcpy(b2, d->last_sku);
		qty = d->last_qty;
	}
	else
	{
		orderid = decode_id(rd, b1);
		sku = decode_id(rd, b2);
		qty = decode_qty(rd);
	}
	trace("%sallocate(%s, %s, %d)%s%s\n", replay ? "again: " : "",
		  show(orderid), show(sku), qty, bypass ? " bypass" : "",
		  race ? " race" : "");
	if (!bypass && !(ident_ok(orderid) && ident_ok(sku) && qty > 0))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	if (!replay && strlen(orderid) < ID_BUF && strlen(sku) < ID_BUF)
	{
		strcpy(d->last_orderid, orderid);
		strcpy(d->last_sku, sku);
		d->last_qty = qty;
		d->have_last = true;
	}
	begin_call(d);
	known = r_find_product(&d->m, sku) != NULL;
	li = known ? r_find_line(&d->m, orderid, sku) : -1;
	/* it writes unless refused or an allocated line answered (rule 4) */
	if (!known ||
		!race_conflict(d, &e, race, true, sku,
					   qty > 0 && li < 0))
		model_allocate(d, &e, orderid, sku, qty);
	fake_service(&svc, &d->w);
	d->w.bump_on_get = race ? 1 : 0;
	r = al_svc_allocate(&svc, orderid, sku, qty);
	d->w.bump_on_get = 0;
	end_call(d, &e, &r);
}

static void
step_deallocate(driver *d, reader *rd, bool bypass, bool race)
{
	char		b1[ID_BUF], b2[ID_BUF];
	const char *orderid = decode_id(rd, b1);
	const char *sku = decode_id(rd, b2);
	expect		e = {0};
	al_service	svc;
	al_result	r;
	int			li;

	trace("deallocate(%s, %s)%s%s\n", show(orderid), show(sku),
		  bypass ? " bypass" : "", race ? " race" : "");
	if (!bypass && !(ident_ok(orderid) && ident_ok(sku)))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	begin_call(d);
	li = r_find_line(&d->m, orderid, sku);
	if (r_find_product(&d->m, sku) == NULL)
		e.status = AL_UNKNOWN_SKU;
	else if (!race_conflict(d, &e, race, true, sku, li >= 0))
	{
		e.status = AL_OK;
		e.check_batchref = true;
		if (li >= 0)
		{
			/* rule 6: freed on request, not reallocated */
			e.batchref = d->m.lines.items[li].batchref;
			r_deallocate_line(&d->m, li, false);
			r_drain(&d->m);
		}
	}
	fake_service(&svc, &d->w);
	d->w.bump_on_get = race ? 1 : 0;
	r = al_svc_deallocate(&svc, orderid, sku);
	d->w.bump_on_get = 0;
	end_call(d, &e, &r);
}

static void
step_change_qty(driver *d, reader *rd, bool bypass, bool race)
{
	char		b1[ID_BUF];
	const char *ref = decode_id(rd, b1);
	int32_t		qty = decode_qty(rd);
	expect		e = {0};
	al_service	svc;
	al_result	r;
	r_batch    *b;

	trace("change_batch_quantity(%s, %d)%s%s\n", show(ref), qty,
		  bypass ? " bypass" : "", race ? " race" : "");
	if (!bypass && !(ident_ok(ref) && qty >= 0))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	begin_call(d);
	b = r_find_batch(&d->m, ref);
	if (b == NULL)
		e.status = AL_UNKNOWN_BATCH;
	else if (!race_conflict(d, &e, race, true, b->sku, qty >= 0))
	{
		if (qty < 0)
			e.status = AL_INVALID_ARGUMENT;
		else
		{
			al_event	ev = {0};
			const char *bref = b->ref;

			e.status = AL_OK;
			ev.type = AL_EV_BATCH_QUANTITY_CHANGED;
			ev.sku = b->sku;
			ev.batchref = b->ref;
			ev.qty = qty;
			ev.previous_qty = b->purchased;
			b->purchased = qty;
			r_mark_changed(&d->m, b->sku);
			r_emit(&d->m, &ev);
			/* rule 5: newest lines out until the batch is not oversold */
			while (r_allocated(&d->m, bref) > r_find_batch(&d->m, bref)->purchased)
			{
				int			newest = -1;

				for (int i = 0; i < d->m.lines.count; i++)
					if (strcmp(d->m.lines.items[i].batchref, bref) == 0 &&
						(newest < 0 ||
						 d->m.lines.items[i].seq > d->m.lines.items[newest].seq))
						newest = i;
				r_deallocate_line(&d->m, newest, true);
			}
			r_drain(&d->m);
		}
	}
	fake_service(&svc, &d->w);
	d->w.bump_on_get = race ? 1 : 0;
	r = al_svc_change_batch_quantity(&svc, ref, qty);
	d->w.bump_on_get = 0;
	end_call(d, &e, &r);
}

/*
 * allocate_many as src/entry/bulk.c runs it: every line checked, then
 * al_svc_allocate_many, one unit of work: the products locked in byte
 * order of their SKUs, the lines allocated in the order given; any
 * line's error fails the whole call and names the line.  The model runs
 * the lines one by one: an unknown SKU fails the call before any line.
 */
static void
step_allocate_many(driver *d, reader *rd, bool bypass)
{
	char		bufs[MAX_BULK * 2][ID_BUF];
	al_line_request lines[MAX_BULK];
	int			n = 1 + next_byte(rd) % MAX_BULK;
	expect		e = {0};
	al_service	svc;
	al_result	r = {0};
	int			failed = -1;
	int			unknown_at = -1;
	int			failed_at = -1;
	const char *unknown = NULL;

	memset(lines, 0, sizeof(lines));
	for (int i = 0; i < n; i++)
	{
		lines[i].orderid = decode_id(rd, bufs[2 * i]);
		lines[i].sku = decode_id(rd, bufs[2 * i + 1]);
		lines[i].qty = decode_qty(rd);
	}
	trace("allocate_many(%d lines)%s\n", n, bypass ? " bypass" : "");
	for (int i = 0; i < n; i++)
		trace("    (%s, %s, %d)\n", show(lines[i].orderid), show(lines[i].sku),
			  lines[i].qty);
	if (!bypass)
		for (int i = 0; i < n; i++)
			if (!(ident_ok(lines[i].orderid) && ident_ok(lines[i].sku) &&
				  lines[i].qty > 0))
			{
				trace("      -> 22023 at the entry point\n");
				return;
			}
	begin_call(d);
	/* the unknown SKU first in byte order, and its first line */
	for (int i = 0; i < n; i++)
		if (r_find_product(&d->m, lines[i].sku) == NULL &&
			(unknown == NULL || strcmp(lines[i].sku, unknown) < 0))
			unknown = lines[i].sku;
	for (int i = 0; unknown != NULL && i < n; i++)
		if (strcmp(lines[i].sku, unknown) == 0)
		{
			unknown_at = i;
			break;
		}

	fake_service(&svc, &d->w);
	r.status = al_svc_allocate_many(&svc, lines, n, &failed, &r.existing_qty);
	trace("    -> %s, line %d\n", status_str(r.status), failed + 1);
	if (unknown != NULL)
	{
		e.status = AL_UNKNOWN_SKU;
		CHECK(failed == unknown_at, "allocate_many: line %d named for the "
			  "unknown sku %s, expected %d", failed + 1, show(unknown),
			  unknown_at + 1);
		end_call(d, &e, &r);
		return;
	}
	for (int i = 0; i < n; i++)
	{
		e = (expect) {0};
		model_allocate(d, &e, lines[i].orderid, lines[i].sku, lines[i].qty);
		if (is_error(e.status))
		{
			failed_at = i;
			break;
		}
		if (!is_error(r.status))
		{
			CHECK(lines[i].status == e.status, "allocate_many line %d: %s, "
				  "expected %s", i + 1, status_str(lines[i].status),
				  status_str(e.status));
			CHECK(same_str(lines[i].batchref, e.batchref),
				  "allocate_many line %d: batch %s, expected %s", i + 1,
				  show(lines[i].batchref), show(e.batchref));
		}
	}
	if (failed_at >= 0)
		CHECK(failed == failed_at, "allocate_many: line %d named, expected %d",
			  failed + 1, failed_at + 1);
	else
		e = (expect) {0};
	e.check_batchref = false;
	end_call(d, &e, &r);
}

static void
step_create_order(driver *d, reader *rd, bool bypass)
{
	char		b1[ID_BUF];
	const char *orderid = decode_id(rd, b1);
	expect		e = {0};
	al_service	svc;
	al_result	r;
	bool		shaped = ref_order_id_valid(orderid);

	trace("create_order(%s)%s\n", show(orderid), bypass ? " bypass" : "");
	CHECK(al_order_id_valid(orderid) == shaped,
		  "al_order_id_valid(%s) = %d, the reference says %d", show(orderid),
		  al_order_id_valid(orderid), shaped);
	if (!bypass && !(ident_ok(orderid) && shaped))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	begin_call(d);
	if (!shaped)
		e.status = AL_INVALID_ARGUMENT;
	else if (r_find_order(&d->m, orderid))
		e.status = AL_DUPLICATE_ORDER;
	else
	{
		r_order    *o = FAKE_PUSH(d->m.orders);
		al_event	ev = {0};

		o->orderid = keep(&d->m, orderid);
		o->status = AL_ORDER_CREATED;
		ev.type = AL_EV_ORDER_CREATED;
		ev.orderid = o->orderid;
		ev.status = "created";
		r_emit(&d->m, &ev);
		r_drain(&d->m);
	}
	fake_service(&svc, &d->w);
	r = al_svc_create_order(&svc, orderid);
	end_call(d, &e, &r);
}

static void
step_change_status(driver *d, reader *rd, bool bypass)
{
	char		b1[ID_BUF];
	const char *orderid = decode_id(rd, b1);
	const char *name = STATUSES[next_byte(rd) % NSTATUSES];
	al_order_status status = AL_ORDER__COUNT;
	int			ref_status = -1;
	bool		known_name = ref_status_from_name(name, &ref_status);
	expect		e = {0};
	al_service	svc;
	al_result	r;
	r_order    *o;

	trace("change_order_status(%s, %s)%s\n", show(orderid), show(name),
		  bypass ? " bypass" : "");
	CHECK(al_order_status_from_name(name, &status) == known_name &&
		  (!known_name || (int) status == ref_status),
		  "al_order_status_from_name(%s) disagrees with the contract", show(name));
	/* an unknown status name cannot even be passed to the service */
	if (!known_name || (!bypass && !ident_ok(orderid)))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	begin_call(d);
	o = r_find_order(&d->m, orderid);
	if (o == NULL)
		e.status = AL_UNKNOWN_ORDER;
	else
	{
		e.previous_status = STATUS_NAMES[o->status];
		if (!ref_can_move(o->status, ref_status))
			e.status = AL_INVALID_TRANSITION;
		else
		{
			al_event	ev = {0};

			ev.type = AL_EV_ORDER_STATUS_CHANGED;
			ev.orderid = o->orderid;
			ev.status = STATUS_NAMES[ref_status];
			ev.previous_status = STATUS_NAMES[o->status];
			o->status = ref_status;
			r_emit(&d->m, &ev);
			r_drain(&d->m);
		}
	}
	fake_service(&svc, &d->w);
	r = al_svc_change_order_status(&svc, orderid, status);
	end_call(d, &e, &r);
}

static void
step_subscribe(driver *d, reader *rd, bool bypass)
{
	char		b1[ID_BUF], b2[ID_BUF];
	const char *orderid = decode_id(rd, b1);
	const char *email = decode_email(rd, b2);
	bool		email_ok = ref_email_valid(email);
	expect		e = {0};
	al_service	svc;
	al_result	r;

	trace("subscribe_to_order(%s, %s)%s\n", show(orderid), show(email),
		  bypass ? " bypass" : "");
	CHECK(al_email_valid(email) == email_ok,
		  "al_email_valid(%s) = %d, the reference says %d", show(email),
		  al_email_valid(email), email_ok);
	if (!bypass && !(ident_ok(orderid) && email_ok))
	{
		trace("      -> 22023 at the entry point\n");
		return;
	}
	begin_call(d);
	if (!email_ok)
		e.status = AL_INVALID_ARGUMENT;
	else if (r_find_order(&d->m, orderid) == NULL)
		e.status = AL_UNKNOWN_ORDER;
	else
	{
		/* addresses are kept in lower case, each once per order */
		char		lower[ID_BUF];
		bool		known = false;
		size_t		i;

		for (i = 0; email[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (email[i] >= 'A' && email[i] <= 'Z') ?
				(char) (email[i] - 'A' + 'a') : email[i];
		lower[i] = '\0';
		for (int j = 0; j < d->m.subs.count; j++)
			known = known ||
				(strcmp(d->m.subs.items[j].orderid, orderid) == 0 &&
				 strcmp(d->m.subs.items[j].email, lower) == 0);
		if (!known)
		{
			r_sub	   *s = FAKE_PUSH(d->m.subs);

			s->orderid = keep(&d->m, orderid);
			s->email = keep(&d->m, lower);
		}
	}
	fake_service(&svc, &d->w);
	r = al_svc_subscribe_to_order(&svc, orderid, email);
	end_call(d, &e, &r);
}

/* ---- the target ---------------------------------------------------------- */

static void
free_model(r_model *m)
{
	fake_arena_free(&m->strings);
	free(m->products.items);
	free(m->batches.items);
	free(m->lines.items);
	free(m->orders.items);
	free(m->subs.items);
	free(m->events.items);
	free(m->queue.items);
	free(m->mails.items);
	free(m->changed.items);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static driver *d;
	reader		rd = {data, size};

	init_tables();
	if (!replaying)
	{
		const char *t = getenv("FUZZ_TRACE");

		verbose = (t != NULL && *t != '\0' && *t != '0');
		cur_data = data;
		cur_size = size;
	}
	/* a driver per run (a replay after a failure gets a fresh one) */
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		abort();
	fake_world_init(&d->w);
	trace("--- input of %zu bytes\n", size);

	for (int step = 0; step < MAX_STEPS && rd.n > 0; step++)
	{
		uint8_t		c = next_byte(&rd);
		bool		bypass = (c & 0x80) != 0;
		bool		race = (c & 0x60) == 0x60;

		trace("%2d  ", step + 1);
		switch (OPS[c & 0x0F])
		{
			case OP_ADD_BATCH:
				step_add_batch(d, &rd, bypass, race);
				break;
			case OP_ALLOCATE:
				step_allocate(d, &rd, bypass, race, false);
				break;
			case OP_REPLAY:
				step_allocate(d, &rd, bypass, race, true);
				break;
			case OP_DEALLOCATE:
				step_deallocate(d, &rd, bypass, race);
				break;
			case OP_CHANGE_QTY:
				step_change_qty(d, &rd, bypass, race);
				break;
			case OP_ALLOCATE_MANY:
				step_allocate_many(d, &rd, bypass);
				break;
			case OP_CREATE_ORDER:
				step_create_order(d, &rd, bypass);
				break;
			case OP_CHANGE_STATUS:
				step_change_status(d, &rd, bypass);
				break;
			case OP_SUBSCRIBE:
				step_subscribe(d, &rd, bypass);
				break;
		}
	}

	fake_world_free(&d->w);
	free_model(&d->m);
	free(d->wsnap.products.items);
	free(d->wsnap.batches.items);
	free(d->wsnap.lines.items);
	free(d->wsnap.orders.items);
	free(d->wsnap.view.items);
	free(d->rsnap.products.items);
	free(d->rsnap.batches.items);
	free(d->rsnap.lines.items);
	free(d->rsnap.orders.items);
	free(d->rsnap.subs.items);
	free(d);
	d = NULL;
	return 0;
}
