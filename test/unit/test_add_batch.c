/*-------------------------------------------------------------------------
 *
 * test_add_batch.c
 *	  add_batch: creates the product on first use, records BatchCreated,
 *	  refuses a reference that exists for any SKU.
 *
 * test/unit/test_add_batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

static void
creates_product_on_first_use(fake_world *w)
{
	al_result	r;
	const fake_batch *b;

	ok(fake_product_of(w, "NEW-SKU") == NULL, "no product before");
	r = fx_add_batch(w, "b1", "NEW-SKU", 100, NO_ETA);
	is_int(r.status, AL_OK, "add_batch succeeds");
	ok(fake_product_of(w, "NEW-SKU") != NULL, "the product exists after");
	is_int(fake_version(w, "NEW-SKU"), 1,
		   "created at version 0, add_batch makes it 1");
	b = fake_batch_of(w, "b1");
	ok(b != NULL, "the batch is stored");
	if (b)
	{
		is_str(b->sku, "NEW-SKU", "with its sku");
		is_int(b->purchased, 100, "its purchased quantity");
		is_int(b->allocated, 0, "nothing allocated");
		ok(!b->has_eta, "and no eta: in the warehouse");
	}
	is_int(w->loads.batches + w->loads.lines, 0,
		   "add_batch loads no batch and no line");
}

static void
version_increments(fake_world *w)
{
	const fake_batch *b;

	fx_add_batch(w, "b1", "SKU", 10, NO_ETA);
	fx_add_batch(w, "b2", "SKU", 20, TOMORROW);
	is_int(fake_version(w, "SKU"), 2, "a second batch: version 2");
	is_int(w->products.count, 1, "still one product");
	b = fake_batch_of(w, "b2");
	ok(b && b->has_eta && b->eta == TOMORROW, "the shipment keeps its eta");
}

static void
batch_created_payload(fake_world *w)
{
	const fake_outbox_row *row;

	fx_add_batch(w, "ship-1", "CHAIR", 40, LATER);
	is_int(w->outbox.count, 1, "one event");
	row = fake_outbox_at(w, 0);
	is_str(row->type, "BatchCreated", "BatchCreated");
	is_str(row->aggregatetype, "product", "aggregatetype product");
	is_str(row->aggregateid, "CHAIR", "aggregateid is the sku");
	is_str(row->ev.batchref, "ship-1", "ref");
	is_str(row->ev.sku, "CHAIR", "sku");
	is_int(row->ev.qty, 40, "qty");
	ok(row->ev.has_eta, "has an eta");
	is_int(row->ev.eta, LATER, "the eta");

	fx_add_batch(w, "stock-1", "CHAIR", 5, NO_ETA);
	row = fake_outbox_at(w, 1);
	ok(!row->ev.has_eta, "a warehouse batch's BatchCreated has no eta");
	is_str(fake_plugins_summary(w, 0),
		   "BatchCreated(ship-1:40) BatchCreated(stock-1:5)",
		   "the plugins receive both");
	is_str(fake_plugin_at(w, 0)->aggregatetype, "product",
		   "as product events");
}

static void
duplicate_reference(fake_world *w)
{
	al_result	r;
	int64_t		v;

	fx_add_batch(w, "b1", "SKU", 10, NO_ETA);
	v = fake_version(w, "SKU");
	r = fx_add_batch(w, "b1", "SKU", 99, TOMORROW);
	is_int(r.status, AL_DUPLICATE_BATCH, "the same ref twice: duplicate");
	is_int(fake_purchased(w, "b1"), 10, "the batch is not changed");
	ok(fake_batch_of(w, "b1") && !fake_batch_of(w, "b1")->has_eta,
	   "nor its eta");
	is_int(w->outbox.count, 1, "no second BatchCreated");
	is_int(fake_version(w, "SKU"), v, "no version change");
	is_int(w->batches.count, 1, "one batch stored");
}

static void
duplicate_reference_across_skus(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "b1", "SKU-A", 10, NO_ETA);
	r = fx_add_batch(w, "b1", "SKU-B", 10, NO_ETA);
	is_int(r.status, AL_DUPLICATE_BATCH,
		   "a reference is unique across SKUs");
	ok(fake_product_of(w, "SKU-B") == NULL, "SKU-B is not created");
	is_str(fake_batch_sku(w, "b1"), "SKU-A", "b1 still belongs to SKU-A");
	is_int(w->outbox.count, 1, "no event for the refused batch");
}

static void
references_are_case_sensitive(fake_world *w)
{
	al_result	r;

	fx_add_batch(w, "b1", "SKU", 10, NO_ETA);
	r = fx_add_batch(w, "B1", "SKU", 10, NO_ETA);
	is_int(r.status, AL_OK, "\"B1\" is not \"b1\"");
	r = fx_add_batch(w, "x", "sku", 10, NO_ETA);
	is_int(r.status, AL_OK, "\"sku\" is another product than \"SKU\"");
	is_int(w->products.count, 2, "two products");
}

static void
empty_batch(fake_world *w)
{
	al_result	r;

	r = fx_add_batch(w, "b0", "SKU", 0, NO_ETA);
	is_int(r.status, AL_OK, "a batch of 0 is allowed");
	r = fx_allocate(w, "o1", "SKU", 1);
	is_int(r.status, AL_OUT_OF_STOCK, "and holds nothing");
}

void
test_add_batch(void)
{
	fake_run("add_batch: creates the product on first use",
			 creates_product_on_first_use);
	fake_run("add_batch: the version increments", version_increments);
	fake_run("add_batch: BatchCreated payload", batch_created_payload);
	fake_run("add_batch: duplicate reference", duplicate_reference);
	fake_run("add_batch: duplicate reference across SKUs",
			 duplicate_reference_across_skus);
	fake_run("add_batch: references and SKUs are case-sensitive",
			 references_are_case_sensitive);
	fake_run("add_batch: an empty batch", empty_batch);
}
