/*-------------------------------------------------------------------------
 *
 * test_change_quantity.c
 *	  change_batch_quantity: rule 5 of the contract's allocation rules.
 *
 * Notes:
 *	1) The fake repository hands a batch's lines over in order id order,
 *	   so the orders are named against their allocation order: the oldest
 *	   is "a-first", then "c-big", the newest "b-last".  Neither the first
 *	   nor the last line handed over is the newest one.
 *
 * test/unit/test_change_quantity.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <string.h>

/* B1 (12, warehouse): a-first = 1, c-big = 10, b-last = 1, in that order. */
static void
setup_three_lines(fake_world *w)
{
	fx_add_batch(w, "B1", "SOFA", 12, NO_ETA);
	fx_allocate(w, "a-first", "SOFA", 1);
	fx_allocate(w, "c-big", "SOFA", 10);
	fx_allocate(w, "b-last", "SOFA", 1);
}

/*
 * 12 -> 3: b-last (newest) goes, available -8; c-big goes, available 2.
 * b-last would fit back into B1 but is displaced from it: out of stock.
 */
static void
displaced_line_is_never_put_back(fake_world *w)
{
	al_result	r;
	int64_t		v;
	int			mark;

	setup_three_lines(w);
	v = fake_version(w, "SOFA");
	mark = w->outbox.count;
	r = fx_change_qty(w, "B1", 3);
	is_int(r.status, AL_OK, "change_batch_quantity succeeds");
	is_int(fake_purchased(w, "B1"), 3, "B1 now has 3 purchased");
	is_int(fake_allocated(w, "B1"), 1, "only a-first is left in it");
	is_int(fake_available(w, "B1"), 2, "available 2, no longer negative");
	is_str(fake_line_batch(w, "a-first", "SOFA"), "B1",
		   "the oldest line stays");
	is_str(fake_line_batch(w, "b-last", "SOFA"), NULL,
		   "b-last is not put back into B1 though it would fit");
	is_str(fake_line_batch(w, "c-big", "SOFA"), NULL, "c-big is out");
	is_str(fake_outbox_summary(w, mark),
		   "BatchQuantityChanged(B1:12->3) "
		   "Deallocated(b-last:1@B1+realloc) Deallocated(c-big:10@B1+realloc) "
		   "OutOfStock(b-last:1) OutOfStock(c-big:10)",
		   "newest first, each Deallocated then its OutOfStock");
	is_int(w->stock_alerts, 2, "two stock alerts");
	is_int(fake_version(w, "SOFA"), v + 1,
		   "one version for the change, none for failed reallocations");
}

/* Same, with another batch added later: b-last goes there, c-big cannot. */
static void
displaced_lines_go_to_other_batches(fake_world *w)
{
	int64_t		v;
	int			mark;

	setup_three_lines(w);
	fx_add_batch(w, "B2", "SOFA", 5, TOMORROW);
	v = fake_version(w, "SOFA");
	mark = w->outbox.count;
	fx_change_qty(w, "B1", 3);
	is_str(fake_line_batch(w, "b-last", "SOFA"), "B2",
		   "b-last is reallocated to B2");
	is_str(fake_view_batch(w, "b-last", "SOFA"), "B2",
		   "and the read model says so");
	is_str(fake_line_batch(w, "c-big", "SOFA"), NULL,
		   "c-big (10) fits nowhere");
	is_int(fake_available(w, "B2"), 4, "B2 lost one unit");
	is_str(fake_outbox_summary(w, mark),
		   "BatchQuantityChanged(B1:12->3) "
		   "Deallocated(b-last:1@B1+realloc) Deallocated(c-big:10@B1+realloc) "
		   "Allocated(b-last:1@B2) OutOfStock(c-big:10)",
		   "the bus's FIFO order: change, deallocations, then reallocations");
	is_str(fake_plugins_summary(w, w->plugins.count - 5),
		   "BatchQuantityChanged(B1:12->3) "
		   "Deallocated(b-last:1@B1+realloc) Deallocated(c-big:10@B1+realloc) "
		   "Allocated(b-last:1@B2) OutOfStock(c-big:10)",
		   "the plugins receive the same events in the same order");
	is_int(fake_version(w, "SOFA"), v + 2,
		   "one version for the change, one for the reallocation");
	ok(fake_line_seq(w, "b-last", "SOFA") >
	   fake_line_seq(w, "a-first", "SOFA"),
	   "the reallocated line is now the most recently allocated");
}

/* Most recent first, even when the newest line is the smallest. */
static void
most_recent_first_not_largest(fake_world *w)
{
	int			mark;

	fx_add_batch(w, "B1", "BED", 10, NO_ETA);
	fx_allocate(w, "z-old", "BED", 5);
	fx_allocate(w, "a-new", "BED", 2);
	fx_add_batch(w, "B-OTHER", "BED", 10, LATER);
	mark = w->outbox.count;
	fx_change_qty(w, "B1", 6);
	is_str(fake_line_batch(w, "z-old", "BED"), "B1",
		   "the older (larger) line stays");
	is_str(fake_line_batch(w, "a-new", "BED"), "B-OTHER",
		   "the newer (smaller) line moves to the other batch");
	is_int(fake_available(w, "B1"), 1, "B1: 6 - 5 = 1");
	is_str(fake_outbox_summary(w, mark),
		   "BatchQuantityChanged(B1:10->6) Deallocated(a-new:2@B1+realloc) "
		   "Allocated(a-new:2@B-OTHER)",
		   "only the newest line is displaced");
}

/* The displaced line goes to the preferred of the other batches (rule 2). */
static void
reallocation_follows_preference(fake_world *w)
{
	fx_add_batch(w, "B1", "RUG", 10, NO_ETA);
	fx_allocate(w, "o1", "RUG", 4);
	fx_add_batch(w, "A-LATE", "RUG", 10, LATER);
	fx_add_batch(w, "Z-SOON", "RUG", 10, TOMORROW);
	fx_add_batch(w, "Y-WAREHOUSE", "RUG", 3, NO_ETA);
	fx_change_qty(w, "B1", 0);
	is_str(fake_line_batch(w, "o1", "RUG"), "Z-SOON",
		   "to the earliest shipment, the warehouse batch being too small");
	is_int(fake_available(w, "B1"), 0, "B1 is empty");
}

/* Quantity 0: every line goes, newest first. */
static void
change_to_zero_displaces_all_newest_first(fake_world *w)
{
	int			mark;

	fx_add_batch(w, "B1", "CUP", 10, NO_ETA);
	fx_allocate(w, "m", "CUP", 1);
	fx_allocate(w, "z", "CUP", 1);
	fx_allocate(w, "a", "CUP", 1);
	mark = w->outbox.count;
	fx_change_qty(w, "B1", 0);
	is_str(fake_outbox_summary(w, mark),
		   "BatchQuantityChanged(B1:10->0) Deallocated(a:1@B1+realloc) "
		   "Deallocated(z:1@B1+realloc) Deallocated(m:1@B1+realloc) "
		   "OutOfStock(a:1) OutOfStock(z:1) OutOfStock(m:1)",
		   "all three, newest first, none put back");
	is_int(fake_allocated(w, "B1"), 0, "B1 holds nothing");
}

static void
batch_quantity_changed_payload(fake_world *w)
{
	const fake_outbox_row *row;
	int			mark;

	fx_add_batch(w, "B1", "SHELF", 10, TODAY);
	mark = w->outbox.count;
	fx_change_qty(w, "B1", 25);
	is_int(w->outbox.count, mark + 1, "one event");
	row = fake_outbox_at(w, mark);
	is_str(row->type, "BatchQuantityChanged", "it is BatchQuantityChanged");
	is_str(row->ev.batchref, "B1", "ref");
	is_str(row->ev.sku, "SHELF", "sku");
	is_int(row->ev.qty, 25, "qty is the new quantity");
	is_int(row->ev.previous_qty, 10, "previous_qty is the old one");
	is_str(row->aggregateid, "SHELF", "aggregateid is the sku");
}

static void
raising_quantity_displaces_nothing(fake_world *w)
{
	int64_t		v;
	int			mark;

	fx_add_batch(w, "B1", "LAMP", 10, NO_ETA);
	fx_allocate(w, "o1", "LAMP", 4);
	fx_allocate(w, "o2", "LAMP", 4);
	v = fake_version(w, "LAMP");
	mark = w->outbox.count;
	fx_change_qty(w, "B1", 20);
	is_str(fake_outbox_summary(w, mark), "BatchQuantityChanged(B1:10->20)",
		   "only BatchQuantityChanged");
	is_int(fake_available(w, "B1"), 12, "available 20 - 8");
	is_str(fake_line_batch(w, "o1", "LAMP"), "B1", "o1 stays");
	is_str(fake_line_batch(w, "o2", "LAMP"), "B1", "o2 stays");
	is_int(fake_version(w, "LAMP"), v + 1, "the version goes up by one");
	is_int(w->loads.load_batch_calls, 1, "the batch was loaded with lines");
	is_int(w->loads.batches, 1, "one batch loaded");
	is_int(w->loads.lines, 2, "its two lines");
	is_int(w->loads.load_candidates_calls, 0, "nothing else");
	is_int(w->writes.lines, 0, "no line written");

	/* down to exactly what is allocated: still nothing displaced */
	mark = w->outbox.count;
	fx_change_qty(w, "B1", 8);
	is_str(fake_outbox_summary(w, mark), "BatchQuantityChanged(B1:20->8)",
		   "lowering to the allocated quantity displaces nothing");
	is_int(fake_available(w, "B1"), 0, "available 0");
}

static void
unknown_batch(fake_world *w)
{
	al_result	r;
	int			mark;

	fx_add_batch(w, "B1", "LAMP", 10, NO_ETA);
	mark = w->outbox.count;
	r = fx_change_qty(w, "NO-SUCH-BATCH", 5);
	is_int(r.status, AL_UNKNOWN_BATCH, "an unknown ref is AL_UNKNOWN_BATCH");
	is_int(w->outbox.count, mark, "no event");
	r = fx_change_qty(w, "b1", 5);
	is_int(r.status, AL_UNKNOWN_BATCH, "references are case-sensitive");
	is_int(fake_purchased(w, "B1"), 10, "B1 is untouched");
}

void
test_change_quantity(void)
{
	fake_run("change_batch_quantity: a displaced line is never put back",
			 displaced_line_is_never_put_back);
	fake_run("change_batch_quantity: displaced lines go to other batches",
			 displaced_lines_go_to_other_batches);
	fake_run("change_batch_quantity: most recent first, not largest",
			 most_recent_first_not_largest);
	fake_run("change_batch_quantity: reallocation follows rule 2",
			 reallocation_follows_preference);
	fake_run("change_batch_quantity: to 0 displaces all, newest first",
			 change_to_zero_displaces_all_newest_first);
	fake_run("change_batch_quantity: BatchQuantityChanged payload",
			 batch_quantity_changed_payload);
	fake_run("change_batch_quantity: raising displaces nothing",
			 raising_quantity_displaces_nothing);
	fake_run("change_batch_quantity: unknown batch", unknown_batch);
}
