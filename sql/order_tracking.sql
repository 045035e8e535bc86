--
-- Order tracking (the contract: order tracking), told as the article's story: "As a
-- customer I want to register my order number and e-mail, in order to
-- receive updates about the status of my order."  An administrator
-- creates an order, a customer subscribes, the status changes, the
-- customer's notification appears.  Then the rules one by one: the order
-- id format, the state machine, unknown orders, e-mail classes and the
-- integration with allocation by events.  Order ids, SKUs and references
-- of this file start with "OT-"; roles start with "ot_"; e-mail addresses
-- end in "ot.example.com".
--
\set VERBOSITY terse

-- the people of the story
CREATE ROLE ot_alice LOGIN;			-- works in the shop's back office
GRANT allocation_admin TO ot_alice;
CREATE ROLE ot_carol LOGIN;			-- a customer (through the shop's web site)
GRANT allocation_user TO ot_carol;

------------------------------------------------------------------------
-- The story
------------------------------------------------------------------------

-- Alice, an administrator, creates order OT-1001: it is "created"
SET ROLE ot_alice;
SELECT allocation.create_order('OT-1001');
SELECT allocation.order_status('OT-1001');
RESET ROLE;

-- Carol, a customer, registers her order number and e-mail ...
SET ROLE ot_carol;
SELECT allocation.subscribe_to_order('OT-1001', 'Carol@OT.Example.com');
-- ... and may look at the status
SELECT allocation.order_status('OT-1001');
-- she may not change it, nor create orders: 42501 naming allocation_admin
SELECT allocation.change_order_status('OT-1001', 'cancelled');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order('OT-1002');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;

-- Alice moves the order along: allocated, then shipped
SET ROLE ot_alice;
SELECT allocation.change_order_status('OT-1001', 'allocated');
SELECT allocation.change_order_status('OT-1001', 'shipped');
SELECT allocation.order_status('OT-1001');
-- Carol's notifications appear, one per change, addressed in lower case
SELECT recipient, subject, body FROM allocation.notifications
 WHERE recipient LIKE '%ot.example.com' ORDER BY id;
RESET ROLE;

-- Carol sees the new status
SET ROLE ot_carol;
SELECT allocation.order_status('OT-1001');
RESET ROLE;

-- the order's history in the outbox: OrderCreated, then one
-- OrderStatusChanged per change with the previous status
SELECT aggregate_seq, aggregatetype, aggregateid, type, payload
  FROM allocation.outbox WHERE aggregatetype = 'order' AND aggregateid = 'OT-1001'
 ORDER BY aggregate_seq;

------------------------------------------------------------------------
-- create_order: the business format PREFIX-NUMBER
------------------------------------------------------------------------

-- a "-" with characters on both sides is accepted, whatever they are
SELECT allocation.create_order('OT-2001');
SELECT allocation.create_order('A-B');
SELECT allocation.create_order('OT-2002-X');
SELECT allocation.create_order('OTé-2003');
SELECT orderid, status FROM allocation.orders
 WHERE orderid IN ('OT-2001', 'A-B', 'OT-2002-X', 'OTé-2003') ORDER BY orderid;

-- anything else is 22023: no dash, dash first, dash last, a lone dash
SELECT allocation.create_order('ABC');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order('-1');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order('1-');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order('-');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- ... and the identifier rules: empty, blank, control character, too long
SELECT allocation.create_order('');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order('   ');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a part of spaces alone, before or after the dash
SELECT allocation.create_order(' - ');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order(U&'OT-\3000');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order(E'OT-\n2004');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.create_order('OT-' || repeat('9', 253));
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- 255 characters is still an order id
SELECT allocation.create_order('OT-' || repeat('9', 252));
-- NULL: 22004
SELECT allocation.create_order(NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- an order that exists already: 23505
SELECT allocation.create_order('OT-2001');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- the refused orders do not exist and recorded nothing
SELECT count(*) = 0 AS no_refused_order FROM allocation.orders
 WHERE orderid IN ('ABC', '-1', '1-', '-', '') OR length(orderid) > 255;
SELECT count(*) = 0 AS no_refused_event FROM allocation.outbox
 WHERE aggregatetype = 'order' AND aggregateid IN ('ABC', '-1', '1-', '-', '');
-- a duplicate recorded no second OrderCreated
SELECT count(*) AS order_created_events FROM allocation.outbox
 WHERE aggregatetype = 'order' AND aggregateid = 'OT-2001';

-- creation records OrderCreated and nothing else
SELECT type, payload FROM allocation.outbox
 WHERE aggregatetype = 'order' AND aggregateid = 'OT-2002-X' ORDER BY aggregate_seq;

------------------------------------------------------------------------
-- The state machine: every pair (from, to) of the six states
------------------------------------------------------------------------

-- ot_try(from, to): make a fresh order, bring it to "from" by allowed
-- moves, then try "to"; returns 'allowed' or the SQLSTATE and message.
CREATE FUNCTION ot_try(from_status text, to_status text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	id text := format('OT-SM-%s-%s', from_status, to_status);
	path text[] := CASE from_status
		WHEN 'created' THEN '{}'::text[]
		WHEN 'allocated' THEN '{allocated}'
		WHEN 'backordered' THEN '{backordered}'
		WHEN 'shipped' THEN '{allocated,shipped}'
		WHEN 'delivered' THEN '{allocated,shipped,delivered}'
		WHEN 'cancelled' THEN '{cancelled}' END;
	step text;
BEGIN
	PERFORM allocation.create_order(id);
	FOREACH step IN ARRAY path LOOP
		PERFORM allocation.change_order_status(id, step);
	END LOOP;
	BEGIN
		PERFORM allocation.change_order_status(id, to_status);
		RETURN 'allowed';
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE || ': ' || SQLERRM;
	END;
END
$$;

-- allowed: created -> allocated | backordered | cancelled; backordered ->
-- allocated | cancelled; allocated -> shipped | cancelled; shipped ->
-- delivered.  Every other move, staying put included, is ZA004.
SELECT f AS from_status, t AS to_status, ot_try(f, t) AS result
  FROM unnest(ARRAY['created', 'allocated', 'backordered', 'shipped', 'delivered', 'cancelled'])
       WITH ORDINALITY AS a(f, i),
       unnest(ARRAY['created', 'allocated', 'backordered', 'shipped', 'delivered', 'cancelled'])
       WITH ORDINALITY AS b(t, j)
 ORDER BY i, j;

-- every allowed move recorded one OrderStatusChanged with the previous
-- status; a refused one recorded nothing and left the status as it was
SELECT o.orderid, o.status,
       (SELECT string_agg(format('%s->%s', e.payload->>'previous_status', e.payload->>'status'), ' '
                          ORDER BY e.aggregate_seq)
          FROM allocation.outbox e
         WHERE e.aggregatetype = 'order' AND e.aggregateid = o.orderid
           AND e.type = 'OrderStatusChanged') AS changes
  FROM allocation.orders o
 WHERE o.orderid LIKE 'OT-SM-%' ORDER BY o.orderid;
-- no order was created with anything but one OrderCreated
SELECT bool_and(n = 1) AS one_order_created_each
  FROM (SELECT aggregateid, count(*) FILTER (WHERE type = 'OrderCreated') AS n
          FROM allocation.outbox WHERE aggregatetype = 'order' AND aggregateid LIKE 'OT-SM-%'
         GROUP BY aggregateid) s;

-- an unknown status is 22023; NULLs are 22004
SELECT allocation.change_order_status('OT-2001', 'lost');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.change_order_status('OT-2001', 'Allocated');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.change_order_status('OT-2001', NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.change_order_status(NULL, 'allocated');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

------------------------------------------------------------------------
-- Unknown orders: ZA005 for commands, NULL status
------------------------------------------------------------------------
SELECT allocation.change_order_status('OT-9999', 'allocated');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe_to_order('OT-9999', 'dan@ot.example.com');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- order_status of an untracked order is NULL, also for an id that is not
-- in the business format (it is only looked up)
SELECT allocation.order_status('OT-9999') IS NULL AS untracked;
SELECT allocation.order_status('untracked') IS NULL AS untracked;
-- but its argument is still checked
SELECT allocation.order_status('');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.order_status(NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) = 0 AS no_subscription_for_unknown FROM allocation.order_subscriptions WHERE orderid = 'OT-9999';

------------------------------------------------------------------------
-- Subscriptions: e-mail classes
------------------------------------------------------------------------
SELECT allocation.create_order('OT-3001');

-- valid: simple, plus-tag, dots in the local part, subdomains, digits and
-- hyphens in labels, upper case (stored in lower case)
SELECT allocation.subscribe_to_order('OT-3001', e)
  FROM unnest(ARRAY['simple@ot.example.com',
                    'first+tag@ot.example.com',
                    'first.last@ot.example.com',
                    'x@mail.eu.ot.example.com',
                    'o''hara_99@mx-1.ot.example.com',
                    'UPPER.Case@OT.EXAMPLE.COM']) e;
-- the same addresses again, in other cases: no second subscription
SELECT allocation.subscribe_to_order('OT-3001', 'SIMPLE@ot.example.com');
SELECT allocation.subscribe_to_order('OT-3001', 'upper.case@ot.example.com');
SELECT email FROM allocation.order_subscriptions WHERE orderid = 'OT-3001' ORDER BY email;

-- ot_sub(email): the SQLSTATE and message of subscribing email to OT-3001
CREATE FUNCTION ot_sub(email text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM allocation.subscribe_to_order('OT-3001', email);
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

-- invalid, each 22023
SELECT c AS class, ot_sub(e) AS result
  FROM (VALUES
	('no @',                  'nobody.ot.example.com'),
	('two @',                 'a@b@ot.example.com'),
	('empty local part',      '@ot.example.com'),
	('empty domain',          'a@'),
	('no dot in domain',      'a@localhost'),
	('leading dot (local)',   '.a@ot.example.com'),
	('trailing dot (local)',  'a.@ot.example.com'),
	('double dot (local)',    'a..b@ot.example.com'),
	('leading dot (domain)',  'a@.ot.example.com'),
	('trailing dot (domain)', 'a@ot.example.com.'),
	('empty label',           'a@ot..example.com'),
	('hyphen at label edge',  'a@-ot.example.com'),
	('space in local part',   'a b@ot.example.com'),
	('space in domain',       'a@ot example.com'),
	('leading space',         ' a@ot.example.com'),
	('trailing space',        'a@ot.example.com '),
	('tab',                   E'a\tb@ot.example.com'),
	('newline',               E'a@ot.example.com\n'),
	('one-letter TLD',        'a@ot.example.c'),
	('digit TLD',             'a@ot.example.123'),
	('mixed TLD',             'a@ot.example.c0m'),
	('local part > 64',       repeat('l', 65) || '@ot.example.com'),
	('label > 63',            'a@' || repeat('d', 64) || '.example.com'),
	('address > 254',         'a@' || repeat(repeat('d', 60) || '.', 4) || 'ot.example.com'),
	('empty string',          '')) AS v(c, e);
-- the longest valid forms are accepted
SELECT ot_sub(repeat('l', 64) || '@ot.example.com') AS local_64,
       ot_sub('a@' || repeat('d', 63) || '.example.com') AS label_63;
-- the message names the address
SELECT allocation.subscribe_to_order('OT-3001', 'a@b@ot.example.com');
-- NULL: 22004
SELECT allocation.subscribe_to_order('OT-3001', NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe_to_order(NULL, 'a@ot.example.com');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- only the valid addresses were stored
SELECT count(*) AS subscriptions FROM allocation.order_subscriptions WHERE orderid = 'OT-3001';

------------------------------------------------------------------------
-- Integration by events: allocation moves tracked orders
------------------------------------------------------------------------
SELECT allocation.add_batch('OT-B1', 'OT-LAMP', 10);
SELECT allocation.add_batch('OT-B2', 'OT-SHADE', 2);

-- an Allocated line of a tracked "created" order makes it "allocated"
SELECT allocation.create_order('OT-4001');
SELECT allocation.allocate('OT-4001', 'OT-LAMP', 1);
SELECT allocation.order_status('OT-4001');

-- an OutOfStock line of a tracked "created" order makes it "backordered" ...
SELECT allocation.create_order('OT-4002');
SELECT allocation.allocate('OT-4002', 'OT-SHADE', 5) IS NULL AS out_of_stock;
SELECT allocation.order_status('OT-4002');
-- ... and a later allocation makes it "allocated"
SELECT allocation.add_batch('OT-B3', 'OT-SHADE', 10);
SELECT allocation.allocate('OT-4002', 'OT-SHADE', 5);
SELECT allocation.order_status('OT-4002');
-- the order's history: the moves were made by events, with previous statuses
SELECT type, payload->>'previous_status' AS previous_status, payload->>'status' AS status
  FROM allocation.outbox WHERE aggregatetype = 'order' AND aggregateid = 'OT-4002'
 ORDER BY aggregate_seq;

-- an allocated order does not go back to backordered when another of its
-- lines is out of stock
SELECT allocation.allocate('OT-4001', 'OT-SHADE', 50) IS NULL AS out_of_stock;
SELECT allocation.order_status('OT-4001');

-- a shipped order is not moved back by an allocation or an OutOfStock
SELECT allocation.create_order('OT-4003');
SELECT allocation.change_order_status('OT-4003', 'allocated');
SELECT allocation.change_order_status('OT-4003', 'shipped');
SELECT allocation.allocate('OT-4003', 'OT-LAMP', 1);
SELECT allocation.allocate('OT-4003', 'OT-SHADE', 50) IS NULL AS out_of_stock;
SELECT allocation.order_status('OT-4003');

-- nor is a cancelled order
SELECT allocation.create_order('OT-4004');
SELECT allocation.change_order_status('OT-4004', 'cancelled');
SELECT allocation.allocate('OT-4004', 'OT-LAMP', 1);
SELECT allocation.order_status('OT-4004');

-- a line allocated again with the same qty (rule 4: no event) changes nothing
SELECT count(*) AS n FROM allocation.outbox WHERE aggregatetype = 'order' \gset
SELECT allocation.allocate('OT-4001', 'OT-LAMP', 1);
SELECT count(*) = :n AS no_order_event FROM allocation.outbox WHERE aggregatetype = 'order';

-- an order id nobody tracks is ignored: no order appears, no order event
SELECT allocation.allocate('OT-5001', 'OT-LAMP', 1);
SELECT allocation.allocate('OT-5002', 'OT-SHADE', 50) IS NULL AS out_of_stock;
SELECT allocation.order_status('OT-5001') IS NULL AS untracked,
       allocation.order_status('OT-5002') IS NULL AS untracked;
SELECT count(*) = 0 AS no_order_rows FROM allocation.orders WHERE orderid IN ('OT-5001', 'OT-5002');
SELECT count(*) = 0 AS no_order_events FROM allocation.outbox
 WHERE aggregatetype = 'order' AND aggregateid IN ('OT-5001', 'OT-5002');

-- a move made by an event is a command of the order: rolled back with the
-- allocation
SELECT allocation.create_order('OT-4005');
BEGIN;
SELECT allocation.allocate('OT-4005', 'OT-LAMP', 1);
SELECT allocation.order_status('OT-4005');
ROLLBACK;
SELECT allocation.order_status('OT-4005');

-- the allocation events themselves are unchanged by tracking: product
-- aggregate, one Allocated per line
SELECT type, payload->>'orderid' AS orderid FROM allocation.outbox
 WHERE aggregatetype = 'product' AND aggregateid = 'OT-SHADE' ORDER BY aggregate_seq;

DROP FUNCTION ot_try(text, text);
DROP FUNCTION ot_sub(text);
DROP ROLE ot_alice;
DROP ROLE ot_carol;
