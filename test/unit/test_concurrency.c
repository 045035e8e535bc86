/*-------------------------------------------------------------------------
 *
 * test_concurrency.c
 *	  Rule 7: a change made from a version that another transaction has
 *	  moved on is refused (AL_CONCURRENT_UPDATE, 40001) and writes nothing.
 *
 * Notes:
 *	1) The fake's bump_on_get plays the other transaction: it commits a
 *	   change (bumps the stored version) right after the service read the
 *	   product.  In the server, READ COMMITTED never gets there (get locks
 *	   the product row); this is the compare-and-set that backs it.
 *	2) The service writes the outbox rows before saving (the outbox adapter
 *	   keeps the product's event_seq, which save stores), so a refused save
 *	   leaves them to the rollback that the entry point's 40001 error
 *	   causes: fake_abort_call plays that part.  What is asserted before
 *	   it: nothing in the repository moved and the bus did not run.
 *
 * test/unit/test_concurrency.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

/* What a refused command must not have done. */
typedef struct snapshot
{
	int64_t		version;
	int64_t		event_seq;
	int64_t		line_seq;
	int			nbatches;
	int			nlines;
	int			nview;
	int			nplugins;
	int			alerts;
} snapshot;

static snapshot
take(const fake_world *w, const char *sku)
{
	snapshot	s;
	const fake_product *p = fake_product_of(w, sku);

	s.version = p ? p->version : -1;
	s.event_seq = p ? p->event_seq : -1;
	s.line_seq = p ? p->line_seq : -1;
	s.nbatches = w->batches.count;
	s.nlines = w->lines.count;
	s.nview = w->view.count;
	s.nplugins = w->plugins.count;
	s.alerts = w->stock_alerts;
	return s;
}

/* The version moved by exactly the other transaction's bump. */
static void
nothing_written(fake_world *w, const char *sku, snapshot before,
				const char *what)
{
	snapshot	after = take(w, sku);

	is_int(after.version, before.version + 1,
		   "%s: the version is the other transaction's", what);
	is_int(w->writes.batches + w->writes.lines, 0,
		   "%s: no batch or line written", what);
	ok(after.event_seq == before.event_seq &&
	   after.line_seq == before.line_seq,
	   "%s: the product's sequences did not move", what);
	ok(after.nbatches == before.nbatches && after.nlines == before.nlines,
	   "%s: as many batches and lines as before", what);
	ok(after.nview == before.nview && after.nplugins == before.nplugins &&
	   after.alerts == before.alerts,
	   "%s: the bus did not run (read model, plugins, alerts)", what);
	is_int(w->writes.conflicts, 1, "%s: the save was refused once", what);
}

static void
allocate_conflict(fake_world *w)
{
	al_result	r;
	snapshot	before;

	fx_add_batch(w, "B1", "CHAIR", 10, NO_ETA);
	before = take(w, "CHAIR");
	w->bump_on_get = 1;
	r = fx_allocate(w, "o1", "CHAIR", 3);
	is_int(r.status, AL_CONCURRENT_UPDATE, "allocate: AL_CONCURRENT_UPDATE");
	nothing_written(w, "CHAIR", before, "allocate");
	is_int(fake_allocated(w, "B1"), 0, "allocate: B1 holds nothing");
	ok(fake_line_of(w, "o1", "CHAIR") == NULL, "allocate: no line stored");
	fake_abort_call(w);

	/* the retry, from the new version, goes through */
	r = fx_allocate(w, "o1", "CHAIR", 3);
	is_int(r.status, AL_OK, "the retry succeeds");
	is_int(fake_version(w, "CHAIR"), before.version + 2,
		   "from the version the other transaction left");
}

static void
out_of_stock_conflict(fake_world *w)
{
	al_result	r;
	snapshot	before;

	fx_add_batch(w, "B1", "CHAIR", 1, NO_ETA);
	before = take(w, "CHAIR");
	w->bump_on_get = 1;
	r = fx_allocate(w, "o1", "CHAIR", 3);
	is_int(r.status, AL_CONCURRENT_UPDATE,
		   "out of stock decided on a stale version: conflict too");
	is_int(w->stock_alerts, before.alerts, "no stock alert");
	fake_abort_call(w);
}

static void
deallocate_conflict(fake_world *w)
{
	al_result	r;
	snapshot	before;

	fx_add_batch(w, "B1", "CHAIR", 10, NO_ETA);
	fx_allocate(w, "o1", "CHAIR", 3);
	before = take(w, "CHAIR");
	w->bump_on_get = 1;
	r = fx_deallocate(w, "o1", "CHAIR");
	is_int(r.status, AL_CONCURRENT_UPDATE, "deallocate: AL_CONCURRENT_UPDATE");
	nothing_written(w, "CHAIR", before, "deallocate");
	is_str(fake_line_batch(w, "o1", "CHAIR"), "B1", "deallocate: o1 stays");
	fake_abort_call(w);
}

static void
change_quantity_conflict(fake_world *w)
{
	al_result	r;
	snapshot	before;

	fx_add_batch(w, "B1", "CHAIR", 10, NO_ETA);
	fx_allocate(w, "o1", "CHAIR", 3);
	fx_allocate(w, "o2", "CHAIR", 3);
	before = take(w, "CHAIR");
	w->bump_on_get = 1;
	r = fx_change_qty(w, "B1", 4);
	is_int(r.status, AL_CONCURRENT_UPDATE,
		   "change_batch_quantity: AL_CONCURRENT_UPDATE");
	nothing_written(w, "CHAIR", before, "change_batch_quantity");
	is_int(fake_purchased(w, "B1"), 10,
		   "change_batch_quantity: the quantity is unchanged");
	is_int(fake_allocated(w, "B1"), 6,
		   "change_batch_quantity: no line displaced");
	fake_abort_call(w);
}

static void
add_batch_conflict(fake_world *w)
{
	al_result	r;
	snapshot	before;

	fx_add_batch(w, "B1", "CHAIR", 10, NO_ETA);
	before = take(w, "CHAIR");
	w->bump_on_get = 1;
	r = fx_add_batch(w, "B2", "CHAIR", 10, NO_ETA);
	is_int(r.status, AL_CONCURRENT_UPDATE, "add_batch: AL_CONCURRENT_UPDATE");
	nothing_written(w, "CHAIR", before, "add_batch");
	ok(fake_batch_of(w, "B2") == NULL, "add_batch: B2 is not stored");
	fake_abort_call(w);
}

/* The same commands without the other transaction: the control case. */
static void
no_conflict_without_a_race(fake_world *w)
{
	fx_add_batch(w, "B1", "CHAIR", 10, NO_ETA);
	is_int(fx_allocate(w, "o1", "CHAIR", 3).status, AL_OK, "allocate");
	is_int(fx_change_qty(w, "B1", 4).status, AL_OK, "change_batch_quantity");
	is_int(fx_deallocate(w, "o1", "CHAIR").status, AL_OK, "deallocate");
	is_int(fx_add_batch(w, "B2", "CHAIR", 1, NO_ETA).status, AL_OK,
		   "add_batch");
	is_int(fake_version(w, "CHAIR"), 5, "five commands, five versions");
}

/*
 * The core's half of rule 7: after a save, the in-memory product is at
 * the version save wrote, which is one more only when it changed.
 */
static void
mark_saved_follows_the_change(fake_world *w)
{
	al_product	p;
	const char *ref = NULL;
	int32_t		existing = 0;

	al_product_init(&p, &w->call_mem, "SKU", 5, 0);
	al_product_mark_saved(&p);
	is_int(p.version, 5, "nothing changed: the version stays");
	al_product_add_batch(&p, "b1", 10, false, 0);
	ok(p.changed && p.batches[0].is_new, "add_batch: changed, a new batch");
	al_product_mark_saved(&p);
	is_int(p.version, 6, "a change: one more");
	ok(!p.changed && !p.batches[0].is_new && !p.batches[0].dirty,
	   "and nothing is left to write");
	al_product_allocate(&p, "o1", 2, NULL, &ref, &existing);
	al_product_mark_saved(&p);
	ok(p.nlines == 1 && p.lines[0].stored_batch == 0 &&
	   p.lines[0].stored_seq == p.lines[0].seq,
	   "a saved line is as stored");
	is_int(p.version, 7, "an allocation: one more");
	al_product_allocate(&p, "o2", 99, NULL, &ref, &existing);
	al_product_mark_saved(&p);
	is_int(p.version, 7, "out of stock: the version stays");
}

void
test_concurrency(void)
{
	fake_run("concurrency: allocate on a moved version",
			 allocate_conflict);
	fake_run("concurrency: out of stock on a moved version",
			 out_of_stock_conflict);
	fake_run("concurrency: deallocate on a moved version",
			 deallocate_conflict);
	fake_run("concurrency: change_batch_quantity on a moved version",
			 change_quantity_conflict);
	fake_run("concurrency: add_batch on a moved version", add_batch_conflict);
	fake_run("concurrency: no conflict without a race",
			 no_conflict_without_a_race);
	fake_run("concurrency: mark_saved follows the change",
			 mark_saved_follows_the_change);
}
