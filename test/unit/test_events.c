/*-------------------------------------------------------------------------
 *
 * test_events.c
 *	  Event names, the outbox, the order of the bus, and the read model
 *	  against the write model over a long mixed sequence of commands.
 *
 * test/unit/test_events.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strcmp that a NULL (from a broken core) cannot crash. */
static bool
eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void
names_round_trip(fake_world *w)
{
	/* the outbox `type` values of the contract's events */
	static const struct
	{
		al_event_type type;
		const char *name;
	}			names[] = {
		{AL_EV_BATCH_CREATED, "BatchCreated"},
		{AL_EV_BATCH_QUANTITY_CHANGED, "BatchQuantityChanged"},
		{AL_EV_ALLOCATED, "Allocated"},
		{AL_EV_DEALLOCATED, "Deallocated"},
		{AL_EV_OUT_OF_STOCK, "OutOfStock"},
		{AL_EV_ORDER_CREATED, "OrderCreated"},
		{AL_EV_ORDER_STATUS_CHANGED, "OrderStatusChanged"},
	};
	al_event_type t;

	(void) w;
	is_int(sizeof(names) / sizeof(names[0]), AL_EV__COUNT,
		   "every event type is listed here");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
	{
		is_str(al_event_name(names[i].type), names[i].name,
			   "type %d is named %s", (int) names[i].type, names[i].name);
		t = AL_EV__COUNT;
		ok(al_event_type_from_name(names[i].name, &t) && t == names[i].type,
		   "%s parses back to its type", names[i].name);
	}
	t = AL_EV_ALLOCATED;
	ok(!al_event_type_from_name("allocated", &t),
	   "names are case-sensitive");
	is_int(t, AL_EV_ALLOCATED, "a failed parse leaves *type alone");
	ok(!al_event_type_from_name("", &t), "the empty name is unknown");
	ok(!al_event_type_from_name("Unknown", &t), "\"Unknown\" is unknown");
	ok(!al_event_type_from_name("Allocated ", &t), "no trailing space");
	is_str(al_event_name(AL_EV__COUNT), "Unknown",
		   "an out-of-range type is named Unknown");
	is_str(al_event_name((al_event_type) -1), "Unknown",
		   "a negative type too");
}

/* The core's event list: copies, in order, growing as needed. */
static void
event_list_keeps_order(fake_world *w)
{
	al_event_list list = {0};
	al_event	ev = {0};
	bool		in_order = true;
	al_product	p;
	al_event_list taken;

	for (int i = 0; i < 50; i++)
	{
		ev.qty = i;
		al_event_record(&w->call_mem, &list, &ev);
	}
	ev.qty = -1;				/* the list holds copies */
	is_int(list.count, 50, "50 events recorded");
	for (int i = 0; i < list.count; i++)
		in_order = in_order && list.items[i].qty == i;
	ok(in_order, "in the order they were recorded");

	al_product_init(&p, &w->call_mem, "SKU", 0, 0);
	al_product_add_batch(&p, "b1", 10, false, 0);
	al_product_add_batch(&p, "b2", 10, false, 0);
	taken = al_product_take_events(&p);
	is_int(taken.count, 2, "take_events hands over both events");
	is_int(p.events.count, 0, "and leaves the product with none");
	al_product_add_batch(&p, "b3", 10, false, 0);
	is_int(p.events.count, 1, "a later event starts a new list");
	is_str(taken.count >= 2 ? taken.items[1].batchref : NULL, "b2",
		   "the taken list is left intact");
}

/*
 * Every event of a command reaches the outbox, in order, as a product
 * event of its own SKU, and then the plugins, in the same order.
 */
static void
outbox_receives_every_event_in_order(fake_world *w)
{
	int			mark;
	int			pmark;
	bool		all_product = true;
	bool		own_sku = true;
	bool		names_match = true;

	fx_add_batch(w, "B1", "SOFA", 12, NO_ETA);
	fx_add_batch(w, "OTHER", "TABLE", 12, NO_ETA);
	fx_allocate(w, "a-first", "SOFA", 1);
	fx_allocate(w, "c-big", "SOFA", 10);
	fx_allocate(w, "b-last", "SOFA", 1);
	fx_add_batch(w, "B2", "SOFA", 5, TOMORROW);
	mark = w->outbox.count;
	pmark = w->plugins.count;
	fx_change_qty(w, "B1", 3);

	is_int(w->outbox.count - mark, 5, "five events from one command");
	for (int i = mark; i < w->outbox.count; i++)
	{
		const fake_outbox_row *row = &w->outbox.items[i];

		all_product = all_product && eq(row->aggregatetype, "product");
		own_sku = own_sku && eq(row->aggregateid, "SOFA") &&
			eq(row->ev.sku, "SOFA");
		names_match = names_match &&
			eq(row->type, al_event_name(row->ev.type));
	}
	ok(all_product, "each row has aggregatetype product");
	ok(own_sku, "each row has aggregateid and sku SOFA");
	ok(names_match, "each row's type is its event's name");
	is_str(fake_outbox_summary(w, mark), fake_plugins_summary(w, pmark),
		   "the plugins receive the same events in the same order");
	all_product = true;
	for (int i = pmark; i < w->plugins.count; i++)
		all_product = all_product &&
			eq(w->plugins.items[i].aggregatetype, "product");
	ok(all_product, "the bus dispatches them as product events");
	is_int(fake_event_seq(w, "SOFA"), w->outbox.count - 1,
		   "SOFA's event_seq counts its outbox rows (all but TABLE's)");
	is_int(fake_event_seq(w, "TABLE"), 1,
		   "TABLE's counts its one BatchCreated");
}

/* Events are stored before the bus runs; plugins run after built-ins. */
static void
bus_runs_after_the_unit_of_work(fake_world *w)
{
	int			start;
	int			outbox;
	int			save;
	int			view;
	int			plugin;

	fx_add_batch(w, "B1", "LAMP", 1, NO_ETA);
	start = w->log.count;
	fx_allocate(w, "o1", "LAMP", 1);
	outbox = fake_log_find(w, "outbox Allocated", start);
	save = fake_log_find(w, "save LAMP", start);
	view = fake_log_find(w, "view+ o1", start);
	plugin = fake_log_find(w, "plugin Allocated", start);
	ok(outbox >= 0 && save > outbox,
	   "the event is in the outbox before the product is saved");
	ok(view > save, "the read model is updated after the save");
	ok(plugin > view, "the plugins run after the read model");

	start = w->log.count;
	fx_allocate(w, "o2", "LAMP", 1);
	ok(fake_log_find(w, "isolated send_stock_alert", start) >= 0,
	   "the stock alert runs isolated");
	ok(fake_log_find(w, "plugin OutOfStock", start) >
	   fake_log_find(w, "alert o2", start),
	   "the plugins run after the stock alert");

	start = w->log.count;
	fx_deallocate(w, "o1", "LAMP");
	view = fake_log_find(w, "view- o1", start);
	ok(view >= 0 && fake_log_find(w, "isolated reallocate", start) > view,
	   "Deallocated: the read model, then the isolated reallocation");
	ok(fake_log_find(w, "plugin Deallocated", start) >
	   fake_log_find(w, "isolated reallocate", start),
	   "then the plugins");
}

/* A replay of the outbox rebuilds the stored state (no change without its
 * event, no event without its change). */
typedef struct replay_batch
{
	const char *ref;
	int32_t		purchased;
	int32_t		allocated;
} replay_batch;

typedef struct replay_line
{
	const char *orderid;
	const char *sku;
	const char *batchref;
	int32_t		qty;
} replay_line;

static bool
replay_matches(const fake_world *w, char *why, size_t size)
{
	replay_batch *batches = calloc((size_t) w->outbox.count + 1,
								   sizeof(replay_batch));
	replay_line *lines = calloc((size_t) w->outbox.count + 1,
								sizeof(replay_line));
	int			nb = 0;
	int			nl = 0;
	bool		result = true;

	if (batches == NULL || lines == NULL)
		abort();
	snprintf(why, size, "ok");
	for (int i = 0; i < w->outbox.count && result; i++)
	{
		const al_event *ev = &w->outbox.items[i].ev;
		int			b = -1;
		int			l = -1;

		for (int j = 0; j < nb; j++)
			if (eq(batches[j].ref, ev->batchref))
				b = j;
		for (int j = 0; j < nl; j++)
			if (eq(lines[j].orderid, ev->orderid) && eq(lines[j].sku, ev->sku))
				l = j;
		switch (ev->type)
		{
			case AL_EV_BATCH_CREATED:
				batches[nb].ref = ev->batchref;
				batches[nb++].purchased = ev->qty;
				break;
			case AL_EV_BATCH_QUANTITY_CHANGED:
				if (b < 0 || batches[b].purchased != ev->previous_qty)
				{
					snprintf(why, size, "event %d: previous_qty %d, replay "
							 "has %d", i, ev->previous_qty,
							 b < 0 ? -1 : batches[b].purchased);
					result = false;
					break;
				}
				batches[b].purchased = ev->qty;
				break;
			case AL_EV_ALLOCATED:
				if (b < 0 || l >= 0)
				{
					snprintf(why, size, "event %d: Allocated %s twice or to "
							 "an unknown batch", i, ev->orderid);
					result = false;
					break;
				}
				lines[nl].orderid = ev->orderid;
				lines[nl].sku = ev->sku;
				lines[nl].batchref = ev->batchref;
				lines[nl++].qty = ev->qty;
				batches[b].allocated += ev->qty;
				break;
			case AL_EV_DEALLOCATED:
				if (b < 0 || l < 0 ||
					!eq(lines[l].batchref, ev->batchref))
				{
					snprintf(why, size, "event %d: Deallocated %s from a batch "
							 "it was not in", i, ev->orderid);
					result = false;
					break;
				}
				batches[b].allocated -= ev->qty;
				lines[l] = lines[--nl];
				break;
			default:
				break;
		}
	}
	if (result && (nb != w->batches.count || nl != w->lines.count))
	{
		snprintf(why, size, "replay: %d batches, %d lines; stored: %d, %d",
				 nb, nl, w->batches.count, w->lines.count);
		result = false;
	}
	for (int j = 0; j < nb && result; j++)
	{
		const fake_batch *s = fake_batch_of(w, batches[j].ref);

		if (s == NULL || s->purchased != batches[j].purchased ||
			s->allocated != batches[j].allocated)
		{
			snprintf(why, size, "batch %s: replay %d/%d, stored %d/%d",
					 batches[j].ref, batches[j].purchased,
					 batches[j].allocated, s ? s->purchased : -1,
					 s ? s->allocated : -1);
			result = false;
		}
	}
	for (int j = 0; j < nl && result; j++)
	{
		const char *stored = fake_line_batch(w, lines[j].orderid,
											 lines[j].sku);

		if (!eq(stored, lines[j].batchref))
		{
			snprintf(why, size, "line %s/%s: replay %s, stored %s",
					 lines[j].orderid, lines[j].sku, lines[j].batchref,
					 stored ? stored : "nothing");
			result = false;
		}
	}
	free(batches);
	free(lines);
	return result;
}

/* A small deterministic generator (numerical recipes' LCG). */
static uint32_t
next_random(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return *state >> 8;
}

/*
 * A long mixed sequence of commands on two SKUs: after every command the
 * read model equals the stored lines (and the other invariants of
 * fake_world_consistent hold), and at the end a replay of the outbox
 * rebuilds the stored state.
 */
static void
read_model_follows_random_commands(fake_world *w)
{
	static const char *const skus[] = {"RED-CHAIR", "BLUE-TABLE"};
	uint32_t	state = 20240601;
	int			nbatches = 0;
	int			first_bad = -1;
	char		why[512] = "ok";
	int			counts[AL_EV__COUNT] = {0};
	int			mismatches = 0;
	char		ref[32];
	char		order[32];

	for (int step = 0; step < 600; step++)
	{
		uint32_t	roll = next_random(&state) % 100;
		const char *sku = skus[next_random(&state) % 2];
		al_result	r;

		if (nbatches < 4 || roll < 8)
		{
			if (nbatches < 4)
				sku = skus[nbatches % 2];	/* both SKUs exist from the start */
			int32_t		eta = next_random(&state) % 3 == 0 ? NO_ETA :
				(int32_t) (TODAY + next_random(&state) % 5);

			snprintf(ref, sizeof(ref), "batch-%02d", nbatches++);
			r = fx_add_batch(w, ref, sku, (int32_t) (next_random(&state) % 12),
							 eta);
		}
		else if (roll < 60)
		{
			int			o = (int) (next_random(&state) % 40);

			snprintf(order, sizeof(order), "order-%d", o);
			/* mostly the order's usual qty, sometimes another one */
			r = fx_allocate(w, order, sku,
							next_random(&state) % 10 == 0 ? 7 : 1 + o % 4);
			if (r.status == AL_QTY_MISMATCH)
				mismatches++;
		}
		else if (roll < 75)
		{
			snprintf(order, sizeof(order), "order-%d",
					 (int) (next_random(&state) % 40));
			r = fx_deallocate(w, order, sku);
		}
		else
		{
			snprintf(ref, sizeof(ref), "batch-%02d",
					 (int) (next_random(&state) % (uint32_t) nbatches));
			r = fx_change_qty(w, ref, (int32_t) (next_random(&state) % 14));
		}
		if (r.status != AL_OK && r.status != AL_OUT_OF_STOCK &&
			r.status != AL_QTY_MISMATCH)
		{
			snprintf(why, sizeof(why), "step %d: status %d", step, r.status);
			first_bad = step;
			break;
		}
		if (!fake_world_consistent(w, why, sizeof(why)))
		{
			first_bad = step;
			break;
		}
	}
	if (!ok(first_bad < 0, "600 mixed commands keep the read model equal to "
			"the write model"))
		diag("first failure at step %d: %s", first_bad, why);

	for (int i = 0; i < w->outbox.count; i++)
		counts[w->outbox.items[i].ev.type]++;
	ok(counts[AL_EV_ALLOCATED] > 50 && counts[AL_EV_DEALLOCATED] > 20 &&
	   counts[AL_EV_OUT_OF_STOCK] > 20 &&
	   counts[AL_EV_BATCH_QUANTITY_CHANGED] > 20 && mismatches > 0,
	   "the sequence exercised every command and outcome "
	   "(%d Allocated, %d Deallocated, %d OutOfStock, %d changes, "
	   "%d mismatches)", counts[AL_EV_ALLOCATED], counts[AL_EV_DEALLOCATED],
	   counts[AL_EV_OUT_OF_STOCK], counts[AL_EV_BATCH_QUANTITY_CHANGED],
	   mismatches);
	{
		int			displaced = 0;

		for (int i = 0; i < w->outbox.count; i++)
			if (w->outbox.items[i].ev.type == AL_EV_DEALLOCATED &&
				w->outbox.items[i].ev.reallocate)
				displaced++;
		ok(displaced > 10, "including %d displaced lines", displaced);
	}
	if (!ok(replay_matches(w, why, sizeof(why)),
			"replaying the outbox rebuilds the stored batches and lines"))
		diag("%s", why);
}

void
test_events(void)
{
	fake_run("events: names round-trip", names_round_trip);
	fake_run("events: the event list keeps order", event_list_keeps_order);
	fake_run("events: the outbox receives every event in order",
			 outbox_receives_every_event_in_order);
	fake_run("events: the bus runs after the unit of work",
			 bus_runs_after_the_unit_of_work);
	fake_run("events: the read model follows a long sequence of commands",
			 read_model_follows_random_commands);
}
