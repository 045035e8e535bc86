-- test/pgtap/order_state_machine.sql: the order-tracking state machine of
-- the contract's order tracking, pair by pair.  For each of the 6 x 6 pairs (from, to), a
-- fresh order is brought to "from" by allowed moves and change_order_status
-- to "to" is tried: an allowed move succeeds, sets the status and records
-- one OrderStatusChanged with the previous status; every other pair is
-- ZA004 with a message naming both states, and changes nothing.  Then the
-- moves made by allocation events, creation (OrderCreated only), and the
-- errors of the order commands.
--
-- Run with: pg_prove -d tap_bus test/pgtap/order_state_machine.sql
-- (a database with CREATE EXTENSION pgtap and CREATE EXTENSION allocation)
BEGIN;
SELECT plan(151);

-- the six states, in the contract's order
CREATE TEMP TABLE states (i int, s text);
INSERT INTO states VALUES (1, 'created'), (2, 'allocated'), (3, 'backordered'),
                          (4, 'shipped'), (5, 'delivered'), (6, 'cancelled');

-- the allowed moves of the contract's order tracking, and only those
CREATE TEMP TABLE allowed (f text, t text);
INSERT INTO allowed VALUES
	('created', 'allocated'), ('created', 'backordered'), ('created', 'cancelled'),
	('backordered', 'allocated'), ('backordered', 'cancelled'),
	('allocated', 'shipped'), ('allocated', 'cancelled'),
	('shipped', 'delivered');

-- the allowed path from created to each state
CREATE TEMP TABLE paths (s text, path text[]);
INSERT INTO paths VALUES
	('created', '{}'), ('allocated', '{allocated}'), ('backordered', '{backordered}'),
	('shipped', '{allocated,shipped}'), ('delivered', '{allocated,shipped,delivered}'),
	('cancelled', '{cancelled}');

-- every pair, with its order id
CREATE TEMP TABLE pairs AS
SELECT a.i * 10 + b.i AS ord, a.s AS f, b.s AS t,
       format('SM-%s-%s', a.s, b.s) AS orderid,
       EXISTS (SELECT FROM allowed w WHERE w.f = a.s AND w.t = b.s) AS ok
  FROM states a, states b;

-- bring every order to its "from" state
CREATE FUNCTION pg_temp.reach(orderid text, status text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	step text;
BEGIN
	PERFORM allocation.create_order(orderid);
	FOREACH step IN ARRAY (SELECT path FROM paths WHERE s = status) LOOP
		PERFORM allocation.change_order_status(orderid, step);
	END LOOP;
END
$$;
SELECT count(pg_temp.reach(orderid, f)) FROM pairs \g /dev/null

-- the number of events of an order
CREATE FUNCTION pg_temp.events(orderid text) RETURNS bigint
LANGUAGE sql AS $$
	SELECT count(*) FROM allocation.outbox
	 WHERE aggregatetype = 'order' AND aggregateid = orderid
$$;
CREATE TEMP TABLE before AS SELECT orderid, pg_temp.events(orderid) AS n FROM pairs;

------------------------------------------------------------------------
-- The 36 pairs: allowed (lives) or ZA004 naming both states (36)
------------------------------------------------------------------------
SELECT CASE WHEN p.ok
            THEN lives_ok(format('SELECT allocation.change_order_status(%L, %L)', p.orderid, p.t),
                          format('%s -> %s is allowed', p.f, p.t))
            ELSE throws_ok(format('SELECT allocation.change_order_status(%L, %L)', p.orderid, p.t),
                           'ZA004',
                           format('order "%s" cannot change from status "%s" to "%s"', p.orderid, p.f, p.t),
                           format('%s -> %s is ZA004 naming both states', p.f, p.t)) END
  FROM (SELECT * FROM pairs ORDER BY ord) p;

------------------------------------------------------------------------
-- The status afterwards: "to" when allowed, "from" otherwise (36)
------------------------------------------------------------------------
SELECT is(allocation.order_status(p.orderid), CASE WHEN p.ok THEN p.t ELSE p.f END,
          format('after %s -> %s the status is %s', p.f, p.t, CASE WHEN p.ok THEN p.t ELSE p.f END))
  FROM (SELECT * FROM pairs ORDER BY ord) p;

------------------------------------------------------------------------
-- Events: one OrderStatusChanged per allowed move, none otherwise (36 + 8)
------------------------------------------------------------------------
SELECT is(pg_temp.events(p.orderid) - b.n, CASE WHEN p.ok THEN 1::bigint ELSE 0::bigint END,
          format('%s -> %s recorded %s event', p.f, p.t, CASE WHEN p.ok THEN 'one' ELSE 'no' END))
  FROM (SELECT * FROM pairs ORDER BY ord) p JOIN before b USING (orderid)
 ORDER BY p.ord;

-- the event of an allowed move: OrderStatusChanged of aggregate order,
-- with the order id, the new and the previous status
SELECT results_eq(
	format($$SELECT type, payload FROM allocation.outbox
	          WHERE aggregatetype = 'order' AND aggregateid = %L
	          ORDER BY aggregate_seq DESC LIMIT 1$$, p.orderid),
	format($$VALUES ('OrderStatusChanged', %L::jsonb)$$,
	       jsonb_build_object('orderid', p.orderid, 'status', p.t, 'previous_status', p.f)),
	format('%s -> %s: OrderStatusChanged with previous_status %s', p.f, p.t, p.f))
  FROM (SELECT * FROM pairs WHERE ok ORDER BY ord) p;

------------------------------------------------------------------------
-- Creation: status created, OrderCreated and nothing else (4)
------------------------------------------------------------------------
SELECT lives_ok($$SELECT allocation.create_order('SM-NEW-1')$$, 'create_order SM-NEW-1');
SELECT is(allocation.order_status('SM-NEW-1'), 'created', 'a new order is created');
SELECT results_eq(
	$$SELECT aggregate_seq, type, payload FROM allocation.outbox
	   WHERE aggregatetype = 'order' AND aggregateid = 'SM-NEW-1' ORDER BY aggregate_seq$$,
	$$VALUES (1::bigint, 'OrderCreated', '{"orderid": "SM-NEW-1", "status": "created"}'::jsonb)$$,
	'creation records exactly one event: OrderCreated');
SELECT is_empty(
	$$SELECT 1 FROM allocation.outbox o JOIN pairs p ON p.orderid = o.aggregateid
	   WHERE o.aggregatetype = 'order' AND o.type = 'OrderCreated'
	   GROUP BY o.aggregateid HAVING count(*) <> 1$$,
	'every order of the table has exactly one OrderCreated');

------------------------------------------------------------------------
-- Moves made by allocation events (12 + 3)
------------------------------------------------------------------------
-- one order per state; AL-OK has stock, AL-OOS has none
SELECT allocation.add_batch('SM-B1', 'SM-OK', 100) \g /dev/null
SELECT allocation.add_batch('SM-B2', 'SM-OOS', 1) \g /dev/null
SELECT count(pg_temp.reach('SM-EV-A-' || s, s)) + count(pg_temp.reach('SM-EV-O-' || s, s))
  FROM states \g /dev/null
SELECT count(allocation.allocate('SM-EV-A-' || s, 'SM-OK', 1)) + count(allocation.allocate('SM-EV-O-' || s, 'SM-OOS', 5))
  FROM states \g /dev/null

-- Allocated: created and backordered become allocated, the others stay
SELECT is(allocation.order_status('SM-EV-A-' || s),
          CASE WHEN s IN ('created', 'backordered') THEN 'allocated' ELSE s END,
          format('an Allocated line of a %s order leaves it %s', s,
                 CASE WHEN s IN ('created', 'backordered') THEN 'allocated' ELSE s END))
  FROM (SELECT * FROM states ORDER BY i) st;
-- OutOfStock: created becomes backordered, the others stay
SELECT is(allocation.order_status('SM-EV-O-' || s),
          CASE WHEN s = 'created' THEN 'backordered' ELSE s END,
          format('an OutOfStock line of a %s order leaves it %s', s,
                 CASE WHEN s = 'created' THEN 'backordered' ELSE s END))
  FROM (SELECT * FROM states ORDER BY i) st;

-- the event of a move made by an event names the previous status too
SELECT results_eq(
	$$SELECT type, payload->>'previous_status', payload->>'status' FROM allocation.outbox
	   WHERE aggregatetype = 'order' AND aggregateid = 'SM-EV-A-backordered'
	   ORDER BY aggregate_seq DESC LIMIT 1$$,
	$$VALUES ('OrderStatusChanged', 'backordered', 'allocated')$$,
	'backordered -> allocated by an Allocated event is recorded with its previous status');
-- an untracked order id is ignored
SELECT is(allocation.allocate('SM-untracked-1', 'SM-OK', 1), 'SM-B1', 'an untracked order allocates as usual');
SELECT ok(allocation.order_status('SM-untracked-1') IS NULL
          AND NOT EXISTS (SELECT FROM allocation.outbox WHERE aggregatetype = 'order' AND aggregateid = 'SM-untracked-1'),
          'an untracked order id is ignored by order tracking');

------------------------------------------------------------------------
-- Errors of the order commands (16)
------------------------------------------------------------------------
SELECT throws_ok($$SELECT allocation.create_order('ABC')$$, '22023', 'invalid order id "ABC"',
	'create_order: no dash is 22023');
SELECT throws_ok($$SELECT allocation.create_order('-1')$$, '22023', 'invalid order id "-1"',
	'create_order: nothing before the dash is 22023');
SELECT throws_ok($$SELECT allocation.create_order('1-')$$, '22023', 'invalid order id "1-"',
	'create_order: nothing after the dash is 22023');
SELECT throws_ok($$SELECT allocation.create_order('')$$, '22023', 'orderid must not be empty',
	'create_order: empty is 22023');
SELECT throws_ok($$SELECT allocation.create_order(NULL)$$, '22004', 'argument "orderid" must not be null',
	'create_order: NULL is 22004');
SELECT throws_ok($$SELECT allocation.create_order('SM-NEW-1')$$, '23505', 'order "SM-NEW-1" already exists',
	'create_order: an existing order is 23505');
SELECT throws_ok($$SELECT allocation.change_order_status('SM-NOPE-1', 'allocated')$$, 'ZA005',
	'unknown order "SM-NOPE-1"', 'change_order_status: an unknown order is ZA005');
SELECT throws_ok($$SELECT allocation.subscribe_to_order('SM-NOPE-1', 'a@sm.example.com')$$, 'ZA005',
	'unknown order "SM-NOPE-1"', 'subscribe_to_order: an unknown order is ZA005');
SELECT ok(allocation.order_status('SM-NOPE-1') IS NULL, 'order_status of an untracked order is NULL');
SELECT throws_ok($$SELECT allocation.change_order_status('SM-NEW-1', 'lost')$$, '22023',
	'invalid order status "lost"', 'change_order_status: an unknown status is 22023');
SELECT throws_ok($$SELECT allocation.change_order_status('SM-NEW-1', NULL)$$, '22004',
	'argument "status" must not be null', 'change_order_status: a NULL status is 22004');
SELECT throws_ok($$SELECT allocation.change_order_status(NULL, 'allocated')$$, '22004',
	'argument "orderid" must not be null', 'change_order_status: a NULL order is 22004');
SELECT is(allocation.order_status('SM-NEW-1'), 'created', 'the refused calls left SM-NEW-1 created');
SELECT is(pg_temp.events('SM-NEW-1'), 1::bigint, 'and recorded nothing for it');

-- administrators only
CREATE ROLE sm_user LOGIN;
GRANT allocation_user TO sm_user;
SET ROLE sm_user;
SELECT throws_ok($$SELECT allocation.change_order_status('SM-NEW-1', 'cancelled')$$, '42501',
	'must be a member of role "allocation_admin" to call allocation.change_order_status',
	'change_order_status by a member of allocation_user is 42501 naming allocation_admin');
SELECT throws_ok($$SELECT allocation.create_order('SM-NEW-2')$$, '42501',
	'must be a member of role "allocation_admin" to call allocation.create_order',
	'create_order by a member of allocation_user is 42501 naming allocation_admin');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
