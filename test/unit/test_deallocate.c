/*-------------------------------------------------------------------------
 *
 * test_deallocate.c
 *	  deallocate: undo an allocation on request (rule 6: no reallocation).
 *
 * test/unit/test_deallocate.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

/* Two warehouse batches of 20; o1 (5) in B1. */
static void
setup(fake_world *w)
{
	fx_add_batch(w, "B1", "TABLE", 20, NO_ETA);
	fx_add_batch(w, "B2", "TABLE", 20, NO_ETA);
	fx_allocate(w, "o1", "TABLE", 5);
}

static void
returns_the_batch_freed(fake_world *w)
{
	al_result	r;

	setup(w);
	r = fx_deallocate(w, "o1", "TABLE");
	is_int(r.status, AL_OK, "deallocate succeeds");
	is_str(r.batchref, "B1", "it returns the batch the line was in");
}

static void
frees_the_quantity(fake_world *w)
{
	setup(w);
	fx_allocate(w, "o2", "TABLE", 3);
	is_int(fake_available(w, "B1"), 12, "B1 holds o1 and o2 before");
	fx_deallocate(w, "o1", "TABLE");
	is_int(fake_available(w, "B1"), 17, "o1's 5 units are available again");
	ok(fake_line_of(w, "o1", "TABLE") == NULL, "o1's line is gone");
	ok(fake_view_batch(w, "o1", "TABLE") == NULL,
	   "and so is its read-model row");
	is_str(fake_line_batch(w, "o2", "TABLE"), "B1", "o2 stays in B1");
}

static void
records_deallocated_not_to_reallocate(fake_world *w)
{
	int			mark;
	const fake_outbox_row *row;

	setup(w);
	mark = w->outbox.count;
	fx_deallocate(w, "o1", "TABLE");
	is_str(fake_outbox_summary(w, mark), "Deallocated(o1:5@B1)",
		   "one Deallocated, reallocate = false");
	row = fake_outbox_at(w, -1);
	ok(!row->ev.reallocate, "the event says it will not be reallocated");
	is_str(row->ev.sku, "TABLE", "it carries the sku");
	is_str(fake_plugins_summary(w, w->plugins.count - 1),
		   "Deallocated(o1:5@B1)", "the plugins receive it");
}

/* Rule 6: freed on request, so not placed again, though B2 has room. */
static void
is_not_reallocated(fake_world *w)
{
	int			mark;

	setup(w);
	mark = w->outbox.count;
	fx_deallocate(w, "o1", "TABLE");
	is_int(w->outbox.count, mark + 1, "no event after the Deallocated");
	ok(fake_line_of(w, "o1", "TABLE") == NULL, "o1 is in no batch");
	is_int(fake_allocated(w, "B1") + fake_allocated(w, "B2"), 0,
		   "nothing is allocated anywhere");
	is_int(w->loads.load_candidates_calls, 0,
		   "no reallocation was attempted (no batches loaded)");
	is_int(w->loads.get_calls, 1, "the product was read once");
}

static void
null_when_not_allocated(fake_world *w)
{
	al_result	r;
	int64_t		v;
	int			mark;

	setup(w);
	v = fake_version(w, "TABLE");
	mark = w->outbox.count;
	r = fx_deallocate(w, "never-allocated", "TABLE");
	is_int(r.status, AL_OK, "deallocating a line that is not allocated is ok");
	is_str(r.batchref, NULL, "and returns NULL");
	is_int(w->outbox.count, mark, "no event");
	is_int(fake_version(w, "TABLE"), v, "no version change");
	is_int(w->writes.save_calls, 0, "nothing saved");

	fx_deallocate(w, "o1", "TABLE");
	v = fake_version(w, "TABLE");
	mark = w->outbox.count;
	r = fx_deallocate(w, "o1", "TABLE");
	is_str(r.batchref, NULL, "a second deallocate returns NULL");
	is_int(w->outbox.count, mark, "and records nothing");
	is_int(fake_version(w, "TABLE"), v, "nor changes the version");
}

static void
unknown_sku(fake_world *w)
{
	al_result	r;

	setup(w);
	r = fx_deallocate(w, "o1", "NO-SUCH-SKU");
	is_int(r.status, AL_UNKNOWN_SKU, "an unknown sku is AL_UNKNOWN_SKU");
	is_str(r.batchref, NULL, "no batch comes back");
	ok(fake_product_of(w, "NO-SUCH-SKU") == NULL, "no product is created");
	is_str(fake_line_batch(w, "o1", "TABLE"), "B1",
		   "o1 on TABLE is untouched");
}

/* Rule 7, and the contract's performance rules: only the order's own line is loaded. */
static void
increments_version_and_loads_only_the_line(fake_world *w)
{
	int64_t		v;

	setup(w);
	fx_allocate(w, "o2", "TABLE", 1);
	fx_allocate(w, "o3", "TABLE", 1);
	v = fake_version(w, "TABLE");
	fx_deallocate(w, "o2", "TABLE");
	is_int(fake_version(w, "TABLE"), v + 1, "the version goes up by one");
	is_int(w->loads.lines, 1, "one line loaded");
	is_int(w->loads.batches, 1, "one batch loaded: the line's");
	is_int(w->writes.lines, 1, "one line row written");
	is_int(w->writes.batches, 1, "one batch row written");
	is_int(fake_allocated(w, "B1"), 6, "o1 and o3 remain in B1");
}

void
test_deallocate(void)
{
	fake_run("deallocate: returns the batch freed", returns_the_batch_freed);
	fake_run("deallocate: frees the quantity", frees_the_quantity);
	fake_run("deallocate: records Deallocated, reallocate = false",
			 records_deallocated_not_to_reallocate);
	fake_run("deallocate: is not reallocated (rule 6)", is_not_reallocated);
	fake_run("deallocate: NULL when not allocated", null_when_not_allocated);
	fake_run("deallocate: unknown sku", unknown_sku);
	fake_run("deallocate: version, and loads only the line",
			 increments_version_and_loads_only_the_line);
}
