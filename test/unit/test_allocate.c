/*-------------------------------------------------------------------------
 *
 * test_allocate.c
 *	  allocate: rules 1 to 4 and 7 of the contract's allocation rules, and what the
 *	  repository has to load for it (the contract: performance rules).
 *
 * Notes:
 *	1) Batches are added in an order that is not their preference order,
 *	   and with references that do not sort like their preference, so that
 *	   neither insertion order nor reference order alone passes.
 *
 * test/unit/test_allocate.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

/* Rule 2: warehouse stock before shipments. */
static void
prefers_warehouse_batches_to_shipments(fake_world *w)
{
	al_result	r;

	/* the shipment comes first both in time and in reference order */
	fx_add_batch(w, "A-SHIPMENT", "RETRO-CLOCK", 100, TOMORROW);
	fx_add_batch(w, "Z-IN-STOCK", "RETRO-CLOCK", 100, NO_ETA);
	r = fx_allocate(w, "oref", "RETRO-CLOCK", 10);
	is_int(r.status, AL_OK, "allocate succeeds");
	is_str(r.batchref, "Z-IN-STOCK", "the warehouse batch is chosen");
	is_int(fake_available(w, "Z-IN-STOCK"), 90,
		   "the warehouse batch lost 10 units");
	is_int(fake_available(w, "A-SHIPMENT"), 100,
		   "the shipment is untouched");
}

/* eta 0 is 2000-01-01, a real date: has_eta decides, not eta != 0. */
static void
shipment_due_on_day_zero_is_still_a_shipment(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "A-EPOCH", "CLOCK", 10, 0);
	fx_add_batch(w, "B-PAST", "CLOCK", 10, -400);
	fx_add_batch(w, "C-WAREHOUSE", "CLOCK", 10, NO_ETA);
	r = fx_allocate(w, "o1", "CLOCK", 1);
	is_str(r.batchref, "C-WAREHOUSE",
		   "warehouse beats shipments due on day 0 and before 2000");
	r = fx_allocate(w, "o2", "CLOCK", 10);
	is_str(r.batchref, "B-PAST",
		   "then the shipment due before 2000 (negative eta) comes first");
	r = fx_allocate(w, "o3", "CLOCK", 10);
	is_str(r.batchref, "A-EPOCH", "then the one due on day 0");
}

/* Rule 2: among shipments, the earliest eta. */
static void
prefers_earlier_batches(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "A-SLOW", "MINIMALIST-SPOON", 100, LATER);
	fx_add_batch(w, "C-SPEEDY", "MINIMALIST-SPOON", 100, TODAY);
	fx_add_batch(w, "B-NORMAL", "MINIMALIST-SPOON", 100, TOMORROW);
	r = fx_allocate(w, "order1", "MINIMALIST-SPOON", 10);
	is_int(r.status, AL_OK, "allocate succeeds");
	is_str(r.batchref, "C-SPEEDY", "the earliest shipment is chosen");
	is_int(fake_available(w, "C-SPEEDY"), 90, "it lost 10 units");
	is_int(fake_available(w, "B-NORMAL") + fake_available(w, "A-SLOW"), 200,
		   "the later shipments are untouched");

	/* once the earliest cannot hold a line, the next one by eta */
	r = fx_allocate(w, "order2", "MINIMALIST-SPOON", 95);
	is_str(r.batchref, "B-NORMAL",
		   "a line too big for the earliest goes to the next eta");
}

/* Rule 2: ties broken by reference in C (byte) order. */
static void
ties_broken_by_reference_in_byte_order(fake_world *w)
{
	al_result	r;

	/* "B-10" < "B-9" byte-wise ('1' < '9'), not numerically */
	fx_add_batch(w, "B-9", "DESK", 10, NO_ETA);
	fx_add_batch(w, "B-10", "DESK", 10, NO_ETA);
	r = fx_allocate(w, "o1", "DESK", 1);
	is_str(r.batchref, "B-10", "warehouse tie: \"B-10\" before \"B-9\"");

	/* upper case before lower case in C collation, unlike most locales */
	fx_add_batch(w, "b-1", "LAMP", 10, TODAY);
	fx_add_batch(w, "B-2", "LAMP", 10, TODAY);
	r = fx_allocate(w, "o1", "LAMP", 1);
	is_str(r.batchref, "B-2", "same-eta tie: \"B-2\" before \"b-1\"");

	/* non-ASCII bytes (0xC3...) after every ASCII letter */
	fx_add_batch(w, "\xc3\xa9-1", "VASE", 10, NO_ETA);
	fx_add_batch(w, "z-1", "VASE", 10, NO_ETA);
	r = fx_allocate(w, "o1", "VASE", 1);
	is_str(r.batchref, "z-1", "\"z-1\" before \"\xc3\xa9-1\" byte-wise");

	/* a prefix sorts first */
	fx_add_batch(w, "REF-1", "RUG", 10, NO_ETA);
	fx_add_batch(w, "REF", "RUG", 10, NO_ETA);
	r = fx_allocate(w, "o1", "RUG", 1);
	is_str(r.batchref, "REF", "\"REF\" before \"REF-1\"");
}

/* The core's comparison on its own, for the orders the tests rely on. */
static void
batch_preference_compares_like_strcmp(fake_world *w)
{
	al_batch	wh = {.ref = "Z", .has_eta = false};
	al_batch	early = {.ref = "A", .has_eta = true, .eta = 5};
	al_batch	late = {.ref = "A", .has_eta = true, .eta = 6};
	al_batch	wh2 = {.ref = "Z", .has_eta = false, .eta = 3};

	(void) w;
	ok(al_batch_preference(&wh, &early) < 0, "warehouse < shipment");
	ok(al_batch_preference(&early, &wh) > 0, "shipment > warehouse");
	ok(al_batch_preference(&early, &late) < 0, "earlier < later");
	ok(al_batch_preference(&late, &early) > 0, "later > earlier");
	is_int(al_batch_preference(&wh, &wh2), 0,
		   "two warehouse batches of one reference tie, whatever eta holds");
}

static void
returns_allocated_batch_ref(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "in-stock-batch-ref", "HIGHBROW-POSTER", 100, NO_ETA);
	fx_add_batch(w, "shipment-batch-ref", "HIGHBROW-POSTER", 100, TOMORROW);
	r = fx_allocate(w, "oref", "HIGHBROW-POSTER", 10);
	is_int(r.status, AL_OK, "allocate succeeds");
	is_str(r.batchref, "in-stock-batch-ref", "the batch reference comes back");
	is_str(fake_line_batch(w, "oref", "HIGHBROW-POSTER"), "in-stock-batch-ref",
		   "the line is stored in that batch");
	is_str(fake_view_batch(w, "oref", "HIGHBROW-POSTER"), "in-stock-batch-ref",
		   "the read model says the same");
}

static void
allocating_reduces_available_quantity(fake_world *w)
{
	al_result	r;
	const fake_line *l;

	fx_add_batch(w, "batch-001", "SMALL-TABLE", 20, NO_ETA);
	r = fx_allocate(w, "order-ref", "SMALL-TABLE", 2);
	is_int(r.status, AL_OK, "allocate succeeds");
	is_int(fake_available(w, "batch-001"), 18, "available 20 - 2 = 18");
	is_int(fake_purchased(w, "batch-001"), 20,
		   "the purchased quantity does not change");
	l = fake_line_of(w, "order-ref", "SMALL-TABLE");
	ok(l != NULL, "the line is stored");
	if (l)
		is_int(l->qty, 2, "with its quantity");
	r = fx_allocate(w, "order-2", "SMALL-TABLE", 18);
	is_int(fake_available(w, "batch-001"), 0, "a second line takes the rest");
}

static void
cannot_allocate_if_available_smaller_than_required(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "batch-001", "ELEGANT-LAMP", 1, NO_ETA);
	r = fx_allocate(w, "order-ref", "ELEGANT-LAMP", 2);
	is_int(r.status, AL_OUT_OF_STOCK, "1 available, 2 required: out of stock");
	is_str(r.batchref, NULL, "no batch comes back");
	is_int(fake_available(w, "batch-001"), 1, "the batch keeps its unit");
	ok(fake_line_of(w, "order-ref", "ELEGANT-LAMP") == NULL,
	   "no line is stored");
}

static void
can_allocate_if_available_equal_to_required(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "batch-001", "ELEGANT-LAMP", 2, NO_ETA);
	r = fx_allocate(w, "order-ref", "ELEGANT-LAMP", 2);
	is_int(r.status, AL_OK, "2 available, 2 required: allocated");
	is_str(r.batchref, "batch-001", "to the batch");
	is_int(fake_available(w, "batch-001"), 0, "nothing left");
}

/* Rule 1: a line is never split across batches. */
static void
never_splits_a_line(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "B1", "CHAIR", 5, NO_ETA);
	fx_add_batch(w, "B2", "CHAIR", 5, NO_ETA);
	r = fx_allocate(w, "o-8", "CHAIR", 8);
	is_int(r.status, AL_OUT_OF_STOCK,
		   "8 units, two batches of 5: out of stock, not split");
	is_int(fake_available(w, "B1") * 100 + fake_available(w, "B2"), 505,
		   "both batches keep their 5 units");

	/* the preferred batch cannot hold the line: a batch that can is used */
	fx_add_batch(w, "B3", "CHAIR", 10, LATER);
	r = fx_allocate(w, "o-6", "CHAIR", 6);
	is_str(r.batchref, "B3", "6 units go whole to the only batch holding 6");
	is_int(fake_available(w, "B1") * 100 + fake_available(w, "B2"), 505,
		   "the warehouse batches are untouched");
}

/* Rule 3: out of stock records OutOfStock and changes nothing else. */
static void
out_of_stock_records_event_and_changes_nothing(fake_world *w)
{
	al_result	r;
	int64_t		v;
	int			mark;
	const fake_outbox_row *row;

	fx_add_batch(w, "batch1", "SMALL-FORK", 10, NO_ETA);
	fx_allocate(w, "order1", "SMALL-FORK", 10);
	v = fake_version(w, "SMALL-FORK");
	mark = w->outbox.count;

	r = fx_allocate(w, "order2", "SMALL-FORK", 1);
	is_int(r.status, AL_OUT_OF_STOCK, "out of stock is its own status");
	is_str(r.batchref, NULL, "the result is NULL");
	is_int(fake_version(w, "SMALL-FORK"), v, "the version does not change");
	ok(fake_line_of(w, "order2", "SMALL-FORK") == NULL, "no line is stored");
	ok(fake_view_batch(w, "order2", "SMALL-FORK") == NULL,
	   "the read model has no row for it");
	is_int(w->writes.batches + w->writes.lines, 0, "no batch or line written");
	is_int(fake_allocated(w, "batch1"), 10, "the batch is as it was");
	is_str(fake_outbox_summary(w, mark), "OutOfStock(order2:1)",
		   "exactly one OutOfStock is recorded");
	row = fake_outbox_at(w, -1);
	is_str(row->ev.sku, "SMALL-FORK", "OutOfStock carries the sku");
	is_str(row->ev.batchref, NULL, "and no batch");
	is_int(w->stock_alerts, 1, "a stock alert is written");
	is_str(fake_plugins_summary(w, w->plugins.count - 1),
		   "OutOfStock(order2:1)", "the plugins receive the OutOfStock");
}

/* Rule 7. */
static void
increments_version_number(fake_world *w)
{
	fx_add_batch(w, "b1", "TOASTER", 10, NO_ETA);
	is_int(fake_version(w, "TOASTER"), 1, "version 1 after add_batch");
	fx_allocate(w, "o1", "TOASTER", 1);
	is_int(fake_version(w, "TOASTER"), 2, "version 2 after an allocation");
	fx_allocate(w, "o2", "TOASTER", 1);
	is_int(fake_version(w, "TOASTER"), 3, "version 3 after another");
	is_int(w->writes.versions, 1, "one version bump per command");
}

/* Rule 4: same line, same qty: same batch, no event, no version change. */
static void
allocation_is_idempotent(fake_world *w)
{
	al_result	r;
	int64_t		v;
	int			mark;
	int			plugins;

	fx_add_batch(w, "B-WAREHOUSE", "MIRROR", 20, NO_ETA);
	r = fx_allocate(w, "o1", "MIRROR", 10);
	is_str(r.batchref, "B-WAREHOUSE", "first allocation");
	/* a batch that would now be preferred does not move the line */
	fx_add_batch(w, "A-WAREHOUSE", "MIRROR", 20, NO_ETA);
	v = fake_version(w, "MIRROR");
	mark = w->outbox.count;
	plugins = w->plugins.count;

	r = fx_allocate(w, "o1", "MIRROR", 10);
	is_int(r.status, AL_OK, "allocating it again succeeds");
	is_str(r.batchref, "B-WAREHOUSE", "with the same batch");
	is_int(w->outbox.count, mark, "no event is recorded");
	is_int(w->plugins.count, plugins, "nothing reaches the plugins");
	is_int(fake_version(w, "MIRROR"), v, "the version does not change");
	is_int(fake_allocated(w, "B-WAREHOUSE"), 10,
		   "the quantity is not taken twice");
	is_int(fake_allocated(w, "A-WAREHOUSE"), 0, "the other batch is untouched");
	is_int(w->loads.load_candidates_calls, 0,
		   "an allocated line is answered without reading more candidates");
}

/* Rule 4: same (orderid, sku), other qty: ZA003, nothing changes. */
static void
different_quantity_is_a_mismatch(fake_world *w)
{
	al_result	r;
	int64_t		v;
	int			mark;

	fx_add_batch(w, "b1", "BENCH", 20, NO_ETA);
	fx_add_batch(w, "b2", "BENCH", 20, NO_ETA);
	fx_allocate(w, "o1", "BENCH", 10);
	v = fake_version(w, "BENCH");
	mark = w->outbox.count;

	r = fx_allocate(w, "o1", "BENCH", 5);
	is_int(r.status, AL_QTY_MISMATCH, "another quantity is AL_QTY_MISMATCH");
	is_int(r.existing_qty, 10, "existing_qty is the stored quantity");
	is_int(w->outbox.count, mark, "no event is recorded");
	is_int(fake_version(w, "BENCH"), v, "the version does not change");
	is_int(fake_line_qty(w, "o1", "BENCH"), 10, "the line keeps its qty");
	is_int(fake_allocated(w, "b1") + fake_allocated(w, "b2"), 10,
		   "nothing else is allocated");
	is_int(w->writes.save_calls, 0, "nothing is saved");
}

/* A line is (orderid, sku): one order id on two SKUs is two lines. */
static void
same_order_on_two_skus_is_two_lines(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "chair-1", "CHAIR", 10, NO_ETA);
	fx_add_batch(w, "table-1", "TABLE", 10, NO_ETA);
	r = fx_allocate(w, "order-1", "CHAIR", 3);
	is_str(r.batchref, "chair-1", "order-1 on CHAIR");
	r = fx_allocate(w, "order-1", "TABLE", 4);
	is_int(r.status, AL_OK, "order-1 on TABLE is not a quantity mismatch");
	is_str(r.batchref, "table-1", "and goes to TABLE's batch");
	is_int(fake_allocated(w, "chair-1") * 100 + fake_allocated(w, "table-1"),
		   304, "each batch holds its own line");
}

static void
unknown_sku(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "b1", "REAL-SKU", 10, NO_ETA);
	r = fx_allocate(w, "o1", "NONEXISTENT-SKU", 10);
	is_int(r.status, AL_UNKNOWN_SKU, "an unknown sku is AL_UNKNOWN_SKU");
	is_str(r.batchref, NULL, "no batch comes back");
	ok(fake_product_of(w, "NONEXISTENT-SKU") == NULL,
	   "allocate does not create the product");
	is_int(w->outbox.count, 1, "no event besides the BatchCreated");
	is_int(w->stock_alerts, 0, "and no stock alert");
	r = fx_allocate(w, "o1", "real-sku", 1);
	is_int(r.status, AL_UNKNOWN_SKU, "SKUs are case-sensitive");
}

/* A deallocated line can be allocated again; it is then the newest. */
static void
allocate_again_after_deallocate(fake_world *w)
{
	al_result	r;
	int64_t		seq;

	fx_add_batch(w, "b1", "STOOL", 10, NO_ETA);
	fx_allocate(w, "o1", "STOOL", 2);
	fx_allocate(w, "o2", "STOOL", 2);
	seq = fake_line_seq(w, "o2", "STOOL");
	fx_deallocate(w, "o1", "STOOL");
	r = fx_allocate(w, "o1", "STOOL", 5);
	is_int(r.status, AL_OK, "a freed line may come back with another qty");
	is_str(r.batchref, "b1", "to the batch");
	ok(fake_line_seq(w, "o1", "STOOL") > seq,
	   "it is now the most recently allocated line");
	is_int(fake_allocated(w, "b1"), 7, "b1 holds 2 + 5");
}

/*
 * Allocate loads the order's own line and the first batch, in preference
 * order, that can hold it; nothing else: not the other batches with stock,
 * not the depleted batches, not the other orders' lines.
 */
static void
allocate_loads_only_what_it_needs(fake_world *w)
{
	al_result	r;
	char		ref[32];
	char		order[32];
	int			flat_batches;

	/* history: 5 depleted batches, each with 2 lines */
	for (int i = 0; i < 5; i++)
	{
		snprintf(ref, sizeof(ref), "OLD-%d", i);
		fx_add_batch(w, ref, "LAMP", 2, NO_ETA);
		for (int j = 0; j < 2; j++)
		{
			snprintf(order, sizeof(order), "old-%d-%d", i, j);
			fx_allocate(w, order, "LAMP", 1);
		}
	}
	fx_add_batch(w, "STOCK", "LAMP", 100, NO_ETA);
	fx_allocate(w, "other-1", "LAMP", 1);
	fx_allocate(w, "other-2", "LAMP", 1);
	fx_add_batch(w, "SHIP", "LAMP", 50, LATER);
	/* another SKU's batch with stock is not LAMP's business */
	fx_add_batch(w, "DESK-1", "DESK", 50, NO_ETA);

	r = fx_allocate(w, "new-order", "LAMP", 1);
	is_str(r.batchref, "STOCK", "the new order is allocated");
	is_int(w->loads.batches, 1, "one batch row loaded: the first that fits");
	is_int(w->loads.depleted, 0, "no depleted batch loaded");
	is_int(w->loads.lines, 0, "no line of another order loaded");
	is_int(w->writes.batches, 1, "one batch row written");
	is_int(w->writes.lines, 1, "one line row written");
	flat_batches = w->loads.batches;

	/* more history changes nothing */
	for (int i = 5; i < 25; i++)
	{
		snprintf(ref, sizeof(ref), "OLD-%d", i);
		fx_add_batch(w, ref, "LAMP", 1, NO_ETA);
		snprintf(order, sizeof(order), "old-%d", i);
		/* OLD-i is preferred to STOCK ("O" < "S"), and takes the line */
		fx_allocate(w, order, "LAMP", 1);
	}
	r = fx_allocate(w, "newer-order", "LAMP", 1);
	is_str(r.batchref, "STOCK", "after 20 more depleted batches");
	is_int(w->loads.batches, flat_batches, "the same number of batch rows");
	is_int(w->loads.lines + w->loads.depleted, 0,
		   "still no line and no depleted batch");

	/* an allocated line brings only itself and its batch */
	r = fx_allocate(w, "old-0-0", "LAMP", 1);
	is_str(r.batchref, "OLD-0", "the allocated line answers from itself");
	is_int(w->loads.lines, 1, "one line loaded: its own");
	is_int(w->loads.batches, 2,
		   "two batch rows: its own, and the first candidate read with it");
}

/* Bulk allocation locks every product once, in byte order (no deadlock). */
static void
lock_products_in_byte_order(fake_world *w)
{
	const char *skus[] = {"b-sku", "B-SKU", "a-sku", "b-sku", "B-SKU"};
	const char *unknown[] = {"a-sku", "ZZ-NONE", "B-SKU", "AA-NONE"};
	al_line_request lines[5];
	al_service	svc;
	int			failed;
	int32_t		existing = 0;
	int			start;
	int			at_B;
	int			at_a;
	int			at_b;

	fx_add_batch(w, "1", "a-sku", 10, NO_ETA);
	fx_add_batch(w, "2", "b-sku", 10, NO_ETA);
	fx_add_batch(w, "3", "B-SKU", 10, NO_ETA);
	memset(lines, 0, sizeof(lines));
	for (int i = 0; i < 5; i++)
	{
		lines[i].orderid = i < 3 ? "o1" : "o2";
		lines[i].sku = skus[i];
		lines[i].qty = 1;
	}
	fake_service(&svc, w);
	start = w->log.count;
	w->loads.get_calls = 0;
	is_int(al_svc_allocate_many(&svc, lines, 5, &failed, &existing), AL_OK,
		   "allocating lines of known SKUs succeeds");
	is_int(w->loads.get_calls, 3, "each product is locked once");
	at_B = fake_log_find(w, "get B-SKU", start);
	at_a = fake_log_find(w, "get a-sku", start);
	at_b = fake_log_find(w, "get b-sku", start);
	ok(at_B >= 0 && at_B < at_a && at_a < at_b,
	   "in byte order: B-SKU, a-sku, b-sku");
	is_str(lines[0].sku, "b-sku", "the caller's lines are left in order");

	for (int i = 0; i < 4; i++)
		lines[i].sku = unknown[i];
	fake_service(&svc, w);
	is_int(al_svc_allocate_many(&svc, lines, 4, &failed, &existing),
		   AL_UNKNOWN_SKU, "an unknown SKU is AL_UNKNOWN_SKU");
	is_int(failed, 3, "naming the line of the first unknown one in byte order");
	ok(fake_product_of(w, "AA-NONE") == NULL, "which is not created");
	is_int(al_svc_allocate_many(&svc, lines, 0, &failed, &existing), AL_OK,
		   "no line at all: nothing to lock");
}

/*
 * A huge allocate_many can be stopped: the service asks the port
 * al_interrupts between lines, and a cancel raised there (a longjmp here,
 * an ERROR in the server) leaves nothing written.
 */
static void
bulk_checks_for_interrupts(fake_world *w)
{
	enum
	{
		NLINES = 400
	};
	static al_line_request lines[NLINES];
	static char orderids[NLINES][16];
	al_service	svc;
	int			failed;
	int32_t		existing = 0;
	jmp_buf		cancel;
	int			outbox_before;
	int			lines_before;

	fx_add_batch(w, "1", "c-sku", 10 * NLINES, NO_ETA);
	for (int i = 0; i < NLINES; i++)
	{
		snprintf(orderids[i], sizeof(orderids[i]), "o%d", i);
		memset(&lines[i], 0, sizeof(lines[i]));
		lines[i].orderid = orderids[i];
		lines[i].sku = "c-sku";
		lines[i].qty = 1;
	}

	/* cancelled in the middle of the lines: nothing is written */
	fake_service(&svc, w);
	outbox_before = w->outbox.count;
	lines_before = w->lines.count;
	w->interrupt_checks = 0;
	w->cancel_at = NLINES / 2;
	w->cancel_jump = &cancel;
	if (setjmp(cancel) == 0)
	{
		(void) al_svc_allocate_many(&svc, lines, NLINES, &failed, &existing);
		ok(false, "the cancel request stopped the call");
	}
	else
	{
		ok(true, "the cancel request stopped the call");
		fake_abort_call(w);
	}
	w->cancel_at = 0;
	w->cancel_jump = NULL;
	is_int(w->writes.save_calls + w->writes.lines + w->writes.batches, 0,
		   "no product, line or batch was written before it");
	is_int(w->lines.count, lines_before, "no line is stored");
	is_int(w->outbox.count, outbox_before, "no event is stored");

	/* not cancelled: it asks at least once a line */
	fake_service(&svc, w);
	w->interrupt_checks = 0;
	is_int(al_svc_allocate_many(&svc, lines, NLINES, &failed, &existing), AL_OK,
		   "the same call, not cancelled, succeeds");
	ok(w->interrupt_checks >= NLINES,
	   "and asked whether it was interrupted at least once a line");
	is_int(w->lines.count, lines_before + NLINES, "storing every line");
}

void
test_allocate(void)
{
	fake_run("allocate: prefers warehouse batches to shipments",
			 prefers_warehouse_batches_to_shipments);
	fake_run("allocate: a shipment due on day 0 is still a shipment",
			 shipment_due_on_day_zero_is_still_a_shipment);
	fake_run("allocate: prefers earlier batches", prefers_earlier_batches);
	fake_run("allocate: ties broken by reference in byte order",
			 ties_broken_by_reference_in_byte_order);
	fake_run("allocate: batch preference compares like strcmp",
			 batch_preference_compares_like_strcmp);
	fake_run("allocate: returns the allocated batch reference",
			 returns_allocated_batch_ref);
	fake_run("allocate: reduces the available quantity",
			 allocating_reduces_available_quantity);
	fake_run("allocate: cannot allocate if available < required",
			 cannot_allocate_if_available_smaller_than_required);
	fake_run("allocate: can allocate if available = required",
			 can_allocate_if_available_equal_to_required);
	fake_run("allocate: never splits a line", never_splits_a_line);
	fake_run("allocate: out of stock records OutOfStock, changes nothing",
			 out_of_stock_records_event_and_changes_nothing);
	fake_run("allocate: increments the version number",
			 increments_version_number);
	fake_run("allocate: is idempotent", allocation_is_idempotent);
	fake_run("allocate: another quantity is a mismatch",
			 different_quantity_is_a_mismatch);
	fake_run("allocate: one order id on two SKUs is two lines",
			 same_order_on_two_skus_is_two_lines);
	fake_run("allocate: unknown sku", unknown_sku);
	fake_run("allocate: again after deallocate",
			 allocate_again_after_deallocate);
	fake_run("allocate: loads only what it needs",
			 allocate_loads_only_what_it_needs);
	fake_run("allocate: bulk locks products in byte order",
			 lock_products_in_byte_order);
	fake_run("allocate: bulk can be cancelled between lines",
			 bulk_checks_for_interrupts);
}
