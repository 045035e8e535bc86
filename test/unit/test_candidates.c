/*-------------------------------------------------------------------------
 *
 * test_candidates.c
 *	  Candidates read a page at a time in preference order: allocate
 *	  reads what the decision needs and nothing more, and decides as if
 *	  every batch were in memory (checked against a brute-force choice on
 *	  generated products).
 *
 * test/unit/test_candidates.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A malloc'ed copy of s (strdup is not C11). */
static char *
copy_of(const char *s)
{
	char	   *c = malloc(strlen(s) + 1);

	memcpy(c, s, strlen(s) + 1);
	return c;
}

/* Rule 2 over the stored batches, independently of the core. */
static int
oracle_pref(const fake_batch *a, const fake_batch *b)
{
	if (a->has_eta != b->has_eta)
		return a->has_eta ? 1 : -1;
	if (a->has_eta && a->eta != b->eta)
		return a->eta < b->eta ? -1 : 1;
	return strcmp(a->ref, b->ref);
}

/*
 * Index in w->batches of the batch rules 1 and 2 choose for qty on sku,
 * given the available quantities avail[] (one per stored batch), leaving
 * out exclude; -1 when none can.
 */
static int
oracle_choose(const fake_world *w, const int32_t *avail, const char *sku,
			  int32_t qty, const char *exclude)
{
	int			best = -1;

	for (int i = 0; i < w->batches.count; i++)
	{
		const fake_batch *b = &w->batches.items[i];

		if (strcmp(b->sku, sku) != 0 || avail[i] < qty ||
			(exclude && strcmp(b->ref, exclude) == 0))
			continue;
		if (best < 0 || oracle_pref(b, &w->batches.items[best]) < 0)
			best = i;
	}
	return best;
}

/* One row read on a SKU with a thousand batches with stock. */
static void
one_row_of_a_thousand(fake_world *w)
{
	char		ref[32];
	al_result	r;

	for (int i = 0; i < 1000; i++)
	{
		snprintf(ref, sizeof(ref), "W-%04d", 999 - i);
		fx_add_batch(w, ref, "WIDE", 10, i < 3 ? NO_ETA : TODAY + i);
	}
	r = fx_allocate(w, "o1", "WIDE", 1);
	is_str(r.batchref, "W-0997", "the preferred batch: in the warehouse, first reference");
	is_int(w->loads.batches, 1, "one batch row read of 1,000 with stock");
	is_int(w->loads.load_candidates_calls, 0, "in the statement that read the line");
	r = fx_allocate(w, "o2", "WIDE", 10);
	is_str(r.batchref, "W-0998", "a line the first cannot hold goes to the next");
	is_int(w->loads.batches, 1, "still one row: the floor leaves out the short one");
}

/* allocate_many uses up batch after batch, reading further pages. */
static void
many_lines_across_pages(fake_world *w)
{
	al_service	svc;
	al_line_request lines[700];
	char		ref[32];
	char	   *orders[700];
	int			failed;
	int32_t		existing;
	bool		all = true;

	for (int i = 0; i < 400; i++)
	{
		snprintf(ref, sizeof(ref), "P-%03d", i);
		fx_add_batch(w, ref, "PAGED", 2, TODAY + i / 7);
	}
	for (int i = 0; i < 700; i++)
	{
		char		order[32];

		snprintf(order, sizeof(order), "m%d", i);
		orders[i] = copy_of(order);
		lines[i] = (al_line_request) {.orderid = orders[i], .sku = "PAGED", .qty = 1};
	}
	fake_service(&svc, w);
	is_int(al_svc_allocate_many(&svc, lines, 700, &failed, &existing), AL_OK,
		   "700 lines allocated in one call");
	for (int i = 0; i < 700; i++)
	{
		snprintf(ref, sizeof(ref), "P-%03d", i / 2);
		all &= lines[i].batchref && strcmp(lines[i].batchref, ref) == 0;
	}
	ok(all, "two lines a batch, in preference order");
	ok(w->loads.batches <= 400, "no batch row read twice (%d rows)", w->loads.batches);
	ok(w->loads.load_candidates_calls <= 4,
	   "pages grow: %d more reads for 350 batches", w->loads.load_candidates_calls);
	for (int i = 0; i < 700; i++)
		free(orders[i]);
}

/* Rule 5: a displaced line goes to the other batches, read as needed. */
static void
reallocation_skips_the_changed_batch(fake_world *w)
{
	fx_add_batch(w, "A", "MOVE", 10, NO_ETA);
	fx_add_batch(w, "B", "MOVE", 10, TODAY);
	fx_add_batch(w, "C", "MOVE", 10, LATER);
	fx_allocate(w, "o1", "MOVE", 4);
	fx_allocate(w, "o2", "MOVE", 4);
	is_str(fake_line_batch(w, "o2", "MOVE"), "A", "both lines in A");
	is_int(fx_change_qty(w, "A", 5).status, AL_OK, "A shrinks to 5");
	is_str(fake_line_batch(w, "o1", "MOVE"), "A", "the older line stays");
	is_str(fake_line_batch(w, "o2", "MOVE"), "B",
		   "the newer one goes to B, though A (first in order) has stock");
}

/*
 * A batch in memory for another reason (the batch of a line repeated in
 * the call) is not chosen before the unread batches that come first.
 */
static void
batch_of_a_repeated_line_waits_its_turn(fake_world *w)
{
	al_service	svc;
	al_line_request lines[2] = {
		{.orderid = "o1", .sku = "TURN", .qty = 1},
		{.orderid = "o2", .sku = "TURN", .qty = 5},
	};
	int			failed;
	int32_t		existing;

	fx_add_batch(w, "X", "TURN", 10, LATER);
	fx_allocate(w, "o1", "TURN", 1);
	fx_add_batch(w, "A", "TURN", 1, NO_ETA);
	fx_add_batch(w, "Y", "TURN", 10, NO_ETA);
	fake_service(&svc, w);
	is_int(al_svc_allocate_many(&svc, lines, 2, &failed, &existing), AL_OK,
		   "allocate_many succeeds");
	is_str(lines[0].batchref, "X", "o1 stays in X (rule 4)");
	is_str(lines[1].batchref, "Y", "o2 goes to Y, before X in preference order");
}

/* A smaller line than the floor read so far starts reading afresh. */
static void
smaller_line_reads_again(fake_world *w)
{
	al_service	svc;
	al_product	p;

	fx_add_batch(w, "S1", "FLOOR", 2, NO_ETA);
	fx_add_batch(w, "S2", "FLOOR", 10, LATER);
	fake_service(&svc, w);
	svc.repo.get(svc.repo.ctx, "FLOOR", false, &p);
	al_product_candidates_reset(&p, 5);
	svc.repo.load_candidates(svc.repo.ctx, &p);
	is_int(p.cand.n, 1, "a floor of 5 reads S2 only");
	ok(!al_product_needs_candidates(&p, "x", 5, NULL), "enough for 5");
	ok(al_product_needs_candidates(&p, "x", 2, NULL), "not for 2: S1 was left out");
	is_int(p.cand.min_qty, 2, "the floor is now 2");
	svc.repo.load_candidates(svc.repo.ctx, &p);
	is_int(p.batches[p.cand.order[0]].ref[1], '1', "S1 comes first now");
	ok(!al_product_needs_candidates(&p, "x", 2, NULL), "enough for 2");
	fake_abort_call(w);
}

/*
 * Generated products: random etas (with ties), references, quantities,
 * past allocations, then allocate and allocate_many calls (some lines
 * repeated, rule 4) whose choices must equal the brute-force ones.
 */
static void
generated_products(fake_world *w)
{
	int			mismatches = 0;
	int			calls = 0;

	srand(20261122);
	for (int round = 0; round < 60; round++)
	{
		char		sku[32];
		int			nb = 1 + rand() % 40;
		int32_t    *avail;
		al_service	svc;

		snprintf(sku, sizeof(sku), "G%d", round);
		for (int i = 0; i < nb; i++)
		{
			char		ref[32];

			snprintf(ref, sizeof(ref), "%c%d-%d", 'a' + rand() % 3, round, rand() % 1000);
			fx_add_batch(w, ref, sku, rand() % 6, rand() % 3 == 0 ? NO_ETA : TODAY + rand() % 4);
		}
		for (int c = 0; c < 12; c++)
		{
			int			n = 1 + rand() % 30;
			al_line_request *lines = calloc((size_t) n, sizeof(*lines));
			char	  **orders = calloc((size_t) n, sizeof(char *));
			const char *expect[30];
			int			failed;
			int32_t		existing;

			avail = calloc((size_t) w->batches.count, sizeof(int32_t));
			for (int i = 0; i < w->batches.count; i++)
				avail[i] = w->batches.items[i].purchased - w->batches.items[i].allocated;
			for (int i = 0; i < n; i++)
			{
				char		order[32];
				int32_t		qty = 1 + rand() % 4;

				snprintf(order, sizeof(order), "g%d-%d-%d", round, c, i);
				/* a line of an earlier call again (rule 4), its batch in memory */
				if (c > 0 && rand() % 3 == 0)
				{
					int			pc = rand() % c,
								pi = rand() % 30;

					snprintf(order, sizeof(order), "g%d-%d-%d", round, pc, pi);
					if (fake_line_of(w, order, sku) != NULL)
						qty = fake_line_qty(w, order, sku);
					else
						snprintf(order, sizeof(order), "g%d-%d-%d", round, c, i);
					for (int k = 0; k < i; k++)
						if (strcmp(orders[k], order) == 0)
							snprintf(order, sizeof(order), "g%d-%d-%d", round, c, i);
				}
				orders[i] = copy_of(order);
				lines[i] = (al_line_request) {.orderid = orders[i], .sku = sku,
				.qty = qty};
			}
			calls++;
			for (int i = 0; i < n; i++)
				expect[i] = fake_line_of(w, orders[i], sku) ?
					fake_line_batch(w, orders[i], sku) : NULL;
			if (n == 1 && expect[0] != NULL)
			{
				al_result	r = fx_allocate(w, orders[0], sku, lines[0].qty);

				if (r.batchref == NULL || strcmp(r.batchref, expect[0]) != 0)
					mismatches++;
			}
			else if (n == 1)
			{
				int			want = oracle_choose(w, avail, sku, lines[0].qty, NULL);
				al_result	r = fx_allocate(w, orders[0], sku, lines[0].qty);

				if ((want < 0) != (r.batchref == NULL) ||
					(want >= 0 && strcmp(r.batchref, w->batches.items[want].ref) != 0))
					mismatches++;
			}
			else
			{
				fake_service(&svc, w);
				if (al_svc_allocate_many(&svc, lines, n, &failed, &existing) != AL_OK)
					mismatches++;
				for (int i = 0; i < n; i++)
				{
					int			want;

					if (expect[i] != NULL)
					{
						/* rule 4: answered from the line itself */
						if (lines[i].batchref == NULL ||
							strcmp(lines[i].batchref, expect[i]) != 0)
							mismatches++;
						continue;
					}
					want = oracle_choose(w, avail, sku, lines[i].qty, NULL);
					if (want >= 0)
						avail[want] -= lines[i].qty;
					if ((want < 0) != (lines[i].batchref == NULL) ||
						(want >= 0 && strcmp(lines[i].batchref, w->batches.items[want].ref) != 0))
						mismatches++;
				}
			}
			for (int i = 0; i < n; i++)
				free(orders[i]);
			free(orders);
			free(lines);
			free(avail);
		}
	}
	is_int(mismatches, 0, "%d generated calls: every choice is the brute-force one", calls);
}

void
test_candidates(void)
{
	fake_run("candidates: one row of a thousand", one_row_of_a_thousand);
	fake_run("candidates: allocate_many across pages", many_lines_across_pages);
	fake_run("candidates: reallocation skips the changed batch",
			 reallocation_skips_the_changed_batch);
	fake_run("candidates: a repeated line's batch waits its turn",
			 batch_of_a_repeated_line_waits_its_turn);
	fake_run("candidates: a smaller line reads again", smaller_line_reads_again);
	fake_run("candidates: generated products", generated_products);
}
