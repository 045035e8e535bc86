/*-------------------------------------------------------------------------
 *
 * test_orders.c
 *	  The order-tracking context (the contract: order tracking): the state machine, the
 *	  business id, e-mail addresses, and the integration with allocation
 *	  by events.
 *
 * test/unit/test_orders.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

static void
state_machine(fake_world *w)
{
	/* the contract's order tracking, and nothing else */
	static const char *const allowed[] = {
		"created>allocated", "created>backordered", "created>cancelled",
		"backordered>allocated", "backordered>cancelled",
		"allocated>shipped", "allocated>cancelled",
		"shipped>delivered",
	};

	(void) w;
	for (int from = 0; from < AL_ORDER__COUNT; from++)
	{
		for (int to = 0; to < AL_ORDER__COUNT; to++)
		{
			char		move[64];
			bool		want = false;

			snprintf(move, sizeof(move), "%s>%s",
					 al_order_status_name((al_order_status) from),
					 al_order_status_name((al_order_status) to));
			for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
				want = want || strcmp(allowed[i], move) == 0;
			is_int(al_order_can_move((al_order_status) from,
									 (al_order_status) to), want,
				   "%s is %s", move, want ? "allowed" : "forbidden");
		}
	}
	ok(!al_order_can_move(AL_ORDER__COUNT, AL_ORDER_CREATED) &&
	   !al_order_can_move(AL_ORDER_CREATED, AL_ORDER__COUNT),
	   "out-of-range statuses move nowhere");
}

static void
status_names(fake_world *w)
{
	static const char *const names[] = {
		"created", "allocated", "backordered", "shipped", "delivered",
		"cancelled",
	};
	al_order_status s;
	bool		round_trip = true;

	(void) w;
	for (int i = 0; i < AL_ORDER__COUNT; i++)
		round_trip = round_trip &&
			strcmp(al_order_status_name((al_order_status) i), names[i]) == 0 &&
			al_order_status_from_name(names[i], &s) && (int) s == i;
	ok(round_trip, "the six status names round-trip");
	ok(!al_order_status_from_name("Created", &s), "names are lower case");
	ok(!al_order_status_from_name("", &s), "'' is no status");
	is_str(al_order_status_name(AL_ORDER__COUNT), "unknown",
		   "an out-of-range status is named unknown");
}

static void
order_id_format(fake_world *w)
{
	(void) w;
	ok(al_order_id_valid("ORD-1"), "ORD-1");
	ok(al_order_id_valid("a-b"), "a-b");
	ok(al_order_id_valid("web-2024-0001"), "several dashes");
	ok(al_order_id_valid("-x-1"), "a leading dash, then a good one");
	ok(!al_order_id_valid("ORD1"), "no dash");
	ok(!al_order_id_valid("-1"), "nothing before the dash");
	ok(!al_order_id_valid("ORD-"), "nothing after the dash");
	ok(!al_order_id_valid("-"), "a dash alone");
	ok(!al_order_id_valid(""), "empty");

	/*
	 * A part of spaces alone is no part: every space an identifier may not
	 * consist of, before the dash, after it, and on both sides; a space
	 * inside a part is text.
	 */
	{
		static const char *const spaces[] = {
			" ", "\u00a0", "\u1680", "\u2000", "\u2007", "\u200b", "\u2028",
			"\u2029", "\u202f", "\u205f", "\u3000", "\ufeff", "  \u3000 ",
		};
		char		id[64];
		int			refused = 0;
		int			accepted = 0;
		int			n = (int) (sizeof spaces / sizeof spaces[0]);

		for (int i = 0; i < n; i++)
		{
			snprintf(id, sizeof id, "%s-1", spaces[i]);
			refused += !al_order_id_valid(id);
			snprintf(id, sizeof id, "ORD-%s", spaces[i]);
			refused += !al_order_id_valid(id);
			snprintf(id, sizeof id, "%s-%s", spaces[i], spaces[i]);
			refused += !al_order_id_valid(id);
			snprintf(id, sizeof id, "O%sRD-1", spaces[i]);
			accepted += al_order_id_valid(id);
			snprintf(id, sizeof id, "%s-%s-%s", spaces[i], spaces[i], spaces[i]);
			accepted += !al_order_id_valid(id);	/* no good dash: refused */
		}
		ok(refused == 3 * n, "a blank part, before, after or on both sides of the dash: refused");
		ok(accepted == 2 * n, "a space inside a part is text; blank parts around every dash: refused");
	}
}

static void
email_addresses(fake_world *w)
{
	static const char *const good[] = {
		"a@b.co", "first.last+tag@example.org", "x_y-z@mail.example-host.de",
		"UPPER@EXAMPLE.COM", "a@example.xn--p1ai", "a@xn--bcher-kva.xn--3e0b707e", "a@b.Xn--P1AI",
	};
	static const char *const bad[] = {
		"", "plain", "a@b", "@b.co", "a@", "a@.co", "a..b@c.co", ".a@b.co",
		"a.@b.co", "a@b.c", "a@b.c0", "a b@c.co", "a@b@c.co", "a@-b.co",
		"a@b-.co", "a@b..co", "a\n@b.co", "a@b.co\n", "<a@b.co>",
		"a@b.xn--", "a@b.xn--p1ai-", "a@b.xn--p_1ai",
	};
	char		local65[80];
	char		long_address[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(al_email_valid(good[i]), "valid: %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!al_email_valid(bad[i]), "invalid: '%s'", bad[i]);
	memset(local65, 'a', 65);
	strcpy(local65 + 65, "@b.co");
	ok(!al_email_valid(local65), "a local part of 65 characters");
	memset(long_address, 'a', 60);
	long_address[60] = '@';
	for (int i = 61; i < 257; i += 4)
		memcpy(long_address + i, "bcd.", 4);
	strcpy(long_address + 257, "com");
	ok(!al_email_valid(long_address), "an address over 254 characters");
	is_str(al_email_normalise(&w->call_mem, "Ann.Smith@Example.COM"),
		   "ann.smith@example.com", "normalised to lower case");
}

static void
create_order(fake_world *w)
{
	al_result	r;
	const fake_outbox_row *row;

	r = fx_create_order(w, "ORD-1");
	is_int(r.status, AL_OK, "create_order succeeds");
	is_str(fake_order_status(w, "ORD-1"), "created", "the order is created");
	is_int(fake_order_version(w, "ORD-1"), 1, "at version 1");
	is_int(w->outbox.count, 1, "one event");
	row = fake_outbox_at(w, 0);
	is_str(row->type, "OrderCreated", "OrderCreated, not OrderStatusChanged");
	is_str(row->aggregatetype, "order", "aggregatetype order");
	is_str(row->aggregateid, "ORD-1", "aggregateid is the order id");
	is_str(row->ev.status, "created", "its status");
	is_str(fake_plugin_at(w, 0)->aggregatetype, "order",
		   "the plugins receive it as an order event");

	r = fx_create_order(w, "ORD-1");
	is_int(r.status, AL_DUPLICATE_ORDER, "the same order twice: duplicate");
	fake_abort_call(w);
	r = fx_create_order(w, "ORD1");
	is_int(r.status, AL_INVALID_ARGUMENT, "an id without PREFIX-NUMBER");
	ok(fake_order_of(w, "ORD1") == NULL, "is not stored");
	is_int(w->outbox.count, 1, "no further event");
}

static void
change_order_status(fake_world *w)
{
	al_result	r;
	const fake_outbox_row *row;
	int			mark;

	fx_create_order(w, "ORD-1");
	r = fx_change_order_status(w, "ORD-1", AL_ORDER_CANCELLED);
	is_int(r.status, AL_OK, "created -> cancelled");
	is_str(fake_order_status(w, "ORD-1"), "cancelled", "stored");
	is_int(fake_order_version(w, "ORD-1"), 2, "version 2");
	row = fake_outbox_at(w, -1);
	is_str(row->type, "OrderStatusChanged", "OrderStatusChanged");
	is_str(row->ev.status, "cancelled", "status");
	is_str(row->ev.previous_status, "created", "previous status");

	mark = w->outbox.count;
	r = fx_change_order_status(w, "ORD-1", AL_ORDER_ALLOCATED);
	is_int(r.status, AL_INVALID_TRANSITION, "cancelled is final");
	is_str(r.previous_status, "cancelled", "the result names the status");
	is_int(w->outbox.count, mark, "no event");
	is_int(fake_order_version(w, "ORD-1"), 2, "no version change");

	r = fx_change_order_status(w, "ORD-404", AL_ORDER_SHIPPED);
	is_int(r.status, AL_UNKNOWN_ORDER, "an unknown order");
}

/* Integration by events: Allocated and OutOfStock move tracked orders. */
static void
tracking_follows_allocation(fake_world *w)
{
	int			mark;

	fx_add_batch(w, "B1", "CHAIR", 5, NO_ETA);
	fx_create_order(w, "ORD-1");
	fx_create_order(w, "ORD-2");
	mark = w->outbox.count;
	fx_allocate(w, "ORD-1", "CHAIR", 5);
	is_str(fake_order_status(w, "ORD-1"), "allocated",
		   "Allocated: created -> allocated");
	is_str(fake_outbox_at(w, mark)->type, "Allocated", "Allocated first");
	is_str(fake_outbox_at(w, mark + 1)->type, "OrderStatusChanged",
		   "then the order's OrderStatusChanged");
	is_str(fake_outbox_at(w, mark + 1)->aggregatetype, "order", "as an order");

	fx_allocate(w, "ORD-2", "CHAIR", 1);
	is_str(fake_order_status(w, "ORD-2"), "backordered",
		   "OutOfStock: created -> backordered");
	fx_add_batch(w, "B2", "CHAIR", 5, NO_ETA);
	fx_allocate(w, "ORD-2", "CHAIR", 1);
	is_str(fake_order_status(w, "ORD-2"), "allocated",
		   "Allocated: backordered -> allocated");

	/* a displaced line of an allocated order: OutOfStock does not move it */
	fx_change_qty(w, "B1", 0);
	is_str(fake_line_batch(w, "ORD-1", "CHAIR"), NULL, "ORD-1 lost its stock");
	is_str(fake_order_status(w, "ORD-1"), "allocated",
		   "an allocated order is not backordered");

	mark = w->orders.count;
	fx_allocate(w, "UNTRACKED-1", "CHAIR", 1);
	is_int(w->orders.count, mark, "an untracked order id stays untracked");
}

static void
subscribers_are_told(fake_world *w)
{
	al_result	r;
	int64_t		v;
	int			mark;

	fx_create_order(w, "ORD-1");
	v = fake_order_version(w, "ORD-1");
	mark = w->outbox.count;
	r = fx_subscribe(w, "ORD-1", "Ann@Example.com");
	is_int(r.status, AL_OK, "subscribe succeeds");
	fx_subscribe(w, "ORD-1", "bob@example.org");
	is_int(w->outbox.count, mark, "subscribing records no event");
	is_int(fake_order_version(w, "ORD-1"), v, "nor changes the version");
	is_int(w->subscriptions.count, 2, "two subscribers stored");
	is_str(fake_subscription_at(w, 0)->email, "ann@example.com",
		   "normalised to lower case");
	is_int(w->order_mails.count, 0, "nobody is told of the creation");

	fx_change_order_status(w, "ORD-1", AL_ORDER_BACKORDERED);
	is_int(w->order_mails.count, 2, "a status change: one mail each");
	is_str(fake_mail_at(w, 0)->recipient, "ann@example.com",
		   "to the first subscriber");
	is_str(fake_mail_at(w, 1)->recipient, "bob@example.org",
		   "and the second");
	is_str(fake_mail_at(w, 1)->status, "backordered", "with the status");
	is_str(fake_mail_at(w, 1)->previous_status, "created",
		   "and the previous one");

	r = fx_subscribe(w, "ORD-1", "not an address");
	is_int(r.status, AL_INVALID_ARGUMENT, "an invalid address is refused");
	r = fx_subscribe(w, "ORD-404", "c@example.com");
	is_int(r.status, AL_UNKNOWN_ORDER, "an unknown order is refused");
	is_int(w->subscriptions.count, 2, "nothing more stored");
}

void
test_orders(void)
{
	fake_run("orders: the state machine", state_machine);
	fake_run("orders: status names", status_names);
	fake_run("orders: the order id format", order_id_format);
	fake_run("orders: e-mail addresses", email_addresses);
	fake_run("orders: create_order", create_order);
	fake_run("orders: change_order_status", change_order_status);
	fake_run("orders: tracking follows allocation by events",
			 tracking_follows_allocation);
	fake_run("orders: subscribers are told of status changes",
			 subscribers_are_told);
}
