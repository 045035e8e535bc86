-- router/test/scenarios.sql - the contract's scenarios through the router.
--
-- Run by scripts/extra-tests/router.sh with psql -At -v ON_ERROR_STOP=1
-- on a router database whose cluster has 4 empty nodes.  Every check
-- prints "ok - <what>"; a failed check raises an error (psql stops).

SET client_min_messages = warning;	-- PL/Proxy's "dropping stale conn" after each remote error

\ir is.sql

-- expect_error(command, sqlstate, part of the message): the node's error
-- must reach the router's caller with its SQLSTATE and its message.
CREATE FUNCTION pg_temp.expect_error(cmd text, state text, msg text, what text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s	text;
	m	text;
BEGIN
	BEGIN
		EXECUTE cmd;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
	END;
	IF s IS DISTINCT FROM state OR pg_catalog.strpos(m, msg) = 0 THEN
		RAISE EXCEPTION 'not ok - %: % gave % "%", expected % "...%..."', what, cmd, s, m, state, msg;
	END IF;
	RETURN 'ok - ' || what || ' (' || s || ')';
END $$;

-- the node (number) of a SKU or order id
CREATE FUNCTION pg_temp.node_of(key text) RETURNS integer LANGUAGE sql AS $$
	SELECT n.node FROM allocation.nodes() n WHERE allocation.partition_of(key) = ANY (n.partitions)
$$;

SELECT pg_temp.is((SELECT count(*) FROM allocation.nodes()), 4::bigint, 'four nodes');
SELECT pg_temp.is((SELECT count(*) FROM allocation.cluster_partitions()), 16::bigint, 'sixteen partitions');

-- SKUs on four different nodes, found among candidate names
CREATE TEMP TABLE sku_on AS
SELECT DISTINCT ON (pg_temp.node_of(s)) pg_temp.node_of(s) AS node, s AS sku
  FROM (SELECT 'LAMP-' || i AS s FROM generate_series(1, 100) i) c
 ORDER BY pg_temp.node_of(s), s;
SELECT pg_temp.is((SELECT count(*) FROM sku_on), 4::bigint, 'candidate SKUs cover every node');

--------------------------------------------------------------------------
-- Allocation rules
--------------------------------------------------------------------------

-- prefers warehouse batches to shipments
SELECT allocation.add_batch('in-stock-batch', 'RETRO-CLOCK', 100);
SELECT allocation.add_batch('shipment-batch', 'RETRO-CLOCK', 100, current_date + 1);
SELECT pg_temp.is(allocation.allocate('oref', 'RETRO-CLOCK', 10), 'in-stock-batch', 'prefers warehouse batches to shipments');
SELECT pg_temp.is((SELECT available FROM allocation.stock WHERE reference = 'in-stock-batch'), 90, 'available quantity drops');
SELECT pg_temp.is((SELECT available FROM allocation.stock WHERE reference = 'shipment-batch'), 100, 'the shipment is untouched');

-- prefers earlier batches
SELECT allocation.add_batch('speedy-batch', 'MINIMALIST-SPOON', 100, current_date);
SELECT allocation.add_batch('normal-batch', 'MINIMALIST-SPOON', 100, current_date + 1);
SELECT allocation.add_batch('slow-batch', 'MINIMALIST-SPOON', 100, current_date + 30);
SELECT pg_temp.is(allocation.allocate('order1', 'MINIMALIST-SPOON', 10), 'speedy-batch', 'prefers earlier batches');

-- ties broken by reference in C order
SELECT allocation.add_batch('tie-a', 'TIE-LAMP', 5);
SELECT allocation.add_batch('tie-B', 'TIE-LAMP', 5);
SELECT pg_temp.is(allocation.allocate('order-t', 'TIE-LAMP', 1), 'tie-B', 'ties by reference in C order');

-- out of stock: NULL, an OutOfStock event, not an error
SELECT allocation.add_batch('small-batch', 'SMALL-FORK', 10);
SELECT pg_temp.is(allocation.allocate('order-oos', 'SMALL-FORK', 11), NULL::text, 'out of stock returns NULL');
SELECT pg_temp.is((SELECT count(*) FROM allocation.outbox
					WHERE type = 'OutOfStock' AND payload->>'orderid' = 'order-oos'), 1::bigint,
				  'OutOfStock recorded on the node');
SELECT pg_temp.is(allocation.allocate('order-ok', 'SMALL-FORK', 10), 'small-batch', 'the next allocation works');

-- idempotent allocate, ZA003 with another quantity
SELECT pg_temp.is((SELECT version_number FROM allocation.products WHERE sku = 'SMALL-FORK'), 2::bigint, 'version: batch and allocation (OutOfStock changes nothing)');
SELECT pg_temp.is(allocation.allocate('order-ok', 'SMALL-FORK', 10), 'small-batch', 'same line again: same batch');
SELECT pg_temp.is((SELECT version_number FROM allocation.products WHERE sku = 'SMALL-FORK'), 2::bigint, 'idempotent: version unchanged');
SELECT pg_temp.expect_error($$SELECT allocation.allocate('order-ok', 'SMALL-FORK', 3)$$, 'ZA003',
	'order line "order-ok" of sku "SMALL-FORK" is already allocated with quantity 10', 'ZA003 same line, other quantity');

-- rule 5: a batch shrinks, its newest line moves to another batch
SELECT allocation.add_batch('warehouse-1', 'RED-CHAIR', 20);
SELECT allocation.add_batch('shipment-1', 'RED-CHAIR', 100, DATE '2030-12-15');
SELECT pg_temp.is(allocation.allocate('order-1', 'RED-CHAIR', 10), 'warehouse-1', 'order-1 in the warehouse');
SELECT pg_temp.is(allocation.allocate('order-2', 'RED-CHAIR', 8), 'warehouse-1', 'order-2 in the warehouse');
SELECT allocation.change_batch_quantity('warehouse-1', 12);
SELECT pg_temp.is((SELECT batchref FROM allocation.allocations('order-2')), 'shipment-1', 'order-2 reallocated to the shipment');
SELECT pg_temp.is((SELECT batchref FROM allocation.allocations('order-1')), 'warehouse-1', 'order-1 stays');
SELECT pg_temp.is((SELECT string_agg(type || CASE WHEN type = 'Deallocated' THEN ':' || (payload->>'reallocate') ELSE '' END, ',' ORDER BY aggregate_seq)
					 FROM allocation.outbox WHERE aggregateid = 'RED-CHAIR'),
				  'BatchCreated,BatchCreated,Allocated,Allocated,BatchQuantityChanged,Deallocated:true,Allocated',
				  'rule 5 events, in order');
SELECT pg_temp.is((SELECT format('%s/%s', allocated, available) FROM allocation.stock WHERE reference = 'warehouse-1'),
				  '10/2', 'warehouse-1 after the change');

-- deallocate
SELECT pg_temp.is(allocation.deallocate('order-1', 'RED-CHAIR'), 'warehouse-1', 'deallocate returns the batch');
SELECT pg_temp.is(allocation.deallocate('order-1', 'RED-CHAIR'), NULL::text, 'deallocate again returns NULL');

--------------------------------------------------------------------------
-- Queries merged from several nodes
--------------------------------------------------------------------------
SELECT allocation.add_batch('q-' || node, sku, 50) FROM sku_on;
SELECT allocation.allocate('order-multi', sku, node) FROM sku_on;
SELECT pg_temp.is((SELECT string_agg(a.sku || '=' || a.batchref, ',') FROM allocation.allocations('order-multi') a),
				  (SELECT string_agg(sku || '=q-' || node, ',' ORDER BY sku COLLATE "C") FROM sku_on),
				  'allocations(orderid) merges 4 nodes, ordered by sku');
SELECT pg_temp.is((SELECT count(DISTINCT pg_temp.node_of(sku)) FROM allocation.allocations_view WHERE orderid = 'order-multi'),
				  4::bigint, 'the read model of every node');
SELECT pg_temp.is((SELECT count(*) FROM allocation.stock), 14::bigint, 'stock: every batch of every node');
SELECT pg_temp.is((SELECT count(*) FROM allocation.products), 9::bigint, 'products: every product of every node');

-- allocate_many across nodes: each node its lines; results in input order
SELECT pg_temp.is((SELECT string_agg(r.sku || '=' || r.batchref, ',')
					 FROM allocation.allocate_many(ARRAY(
						SELECT ('order-many', sku, 1)::allocation.order_line FROM sku_on ORDER BY node DESC)) r),
				  (SELECT string_agg(sku || '=q-' || node, ',' ORDER BY node DESC) FROM sku_on),
				  'allocate_many across 4 nodes, in the order of the lines');
SELECT pg_temp.expect_error($$SELECT * FROM allocation.allocate_many(ARRAY[('o-x', 'LAMP-1', 1), ('o-x', NULL, 1)]::allocation.order_line[])$$,
	'22004', 'sku of line 2 must not be null', 'allocate_many: 22004 from a node');
SELECT pg_temp.is((SELECT count(*) FROM allocation.allocations('o-x')), 0::bigint, 'allocate_many: a rejected call changed nothing');

--------------------------------------------------------------------------
-- Every error, with the node's SQLSTATE and message
--------------------------------------------------------------------------
SELECT pg_temp.expect_error($$SELECT allocation.allocate('o', 'NOPE', 1)$$, 'ZA001', 'invalid sku "NOPE"', 'ZA001 allocate');
SELECT pg_temp.expect_error($$SELECT allocation.deallocate('o', 'NOPE')$$, 'ZA001', 'invalid sku "NOPE"', 'ZA001 deallocate');
SELECT pg_temp.expect_error($$SELECT allocation.change_batch_quantity('no-such-batch', 5)$$, 'ZA002',
	'unknown batch reference "no-such-batch"', 'ZA002 change_batch_quantity asked every node');
SELECT pg_temp.is(allocation.change_batch_quantity_here('no-such-batch', 5), false, 'change_batch_quantity_here: false');
SELECT pg_temp.expect_error($$SELECT allocation.allocate(NULL, 'RED-CHAIR', 1)$$, '22004', 'argument "orderid" must not be null', '22004 orderid');
SELECT pg_temp.expect_error($$SELECT allocation.allocate('o', NULL, 1)$$, '22004', 'argument "sku" must not be null', '22004 sku');
SELECT pg_temp.expect_error($$SELECT allocation.add_batch(NULL, 'RED-CHAIR', 1)$$, '22004', 'argument "ref" must not be null', '22004 ref');
SELECT pg_temp.expect_error($$SELECT allocation.change_batch_quantity(NULL, 1)$$, '22004', 'argument "ref" must not be null', '22004 change_batch_quantity');
SELECT pg_temp.expect_error($$SELECT allocation.shard_key(NULL)$$, '22004', 'argument "sku" must not be null', '22004 shard_key on the router');
SELECT pg_temp.expect_error($$SELECT allocation.allocate('o', 'RED-CHAIR', 0)$$, '22023', 'invalid quantity 0 for an order line', '22023 qty 0');
SELECT pg_temp.expect_error($$SELECT allocation.allocate('o', '   ', 1)$$, '22023', 'must not be blank', '22023 blank sku');
SELECT pg_temp.expect_error($$SELECT allocation.add_batch('neg', 'RED-CHAIR', -1)$$, '22023', 'invalid quantity -1 for a batch', '22023 batch qty');
SELECT pg_temp.expect_error($$SELECT allocation.allocate('o', repeat('x', 256), 1)$$, '22023', 'is too long', '22023 long sku');
SELECT pg_temp.expect_error($$SELECT allocation.add_batch('warehouse-1', 'RED-CHAIR', 5)$$, '23505',
	'batch reference "warehouse-1" already exists', '23505 same SKU');
SELECT pg_temp.expect_error(format($$SELECT allocation.add_batch('q-1', %L, 5)$$, (SELECT sku FROM sku_on WHERE node = 2)), '23505',
	'batch reference "q-1" already exists', '23505 reference taken on another node');
SELECT pg_temp.is((SELECT count(*) FROM allocation.stock WHERE reference = 'q-1'), 1::bigint, 'no duplicate reference');
SELECT allocation.create_order('ORD-1');
SELECT pg_temp.expect_error($$SELECT allocation.change_order_status('ORD-1', 'delivered')$$, 'ZA004',
	'order "ORD-1" cannot change from status "created" to "delivered"', 'ZA004 forbidden status change');
SELECT pg_temp.expect_error($$SELECT allocation.change_order_status('ORD-404', 'cancelled')$$, 'ZA005', 'unknown order "ORD-404"', 'ZA005 unknown order');
SELECT pg_temp.expect_error($$SELECT allocation.create_order('ORD-1')$$, '23505', 'order "ORD-1" already exists', '23505 order');
SELECT pg_temp.expect_error($$SELECT allocation.handle('{"type": "Nope"}')$$, '22023', '', '22023 unknown message type');
SELECT pg_temp.is(allocation.allocate('after-errors', 'RED-CHAIR', 1), 'warehouse-1', 'the session still works after remote errors');

--------------------------------------------------------------------------
-- Messages
--------------------------------------------------------------------------
SELECT pg_temp.is(allocation.handle('{"type": "CreateBatch", "ref": "m-b1", "sku": "MSG-SKU", "qty": 10}')->>'type', 'CreateBatch', 'CreateBatch message');
SELECT pg_temp.is(allocation.handle('{"type": "Allocate", "orderid": "m-o1", "sku": "MSG-SKU", "qty": 4, "message_id": "m-1"}')->>'batchref',
				  'm-b1', 'Allocate message');
SELECT pg_temp.is(allocation.handle('{"type": "Allocate", "orderid": "m-o1", "sku": "MSG-SKU", "qty": 4, "message_id": "m-1"}')->>'batchref',
				  'm-b1', 'repeated message_id: first result');
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "m-b1", "qty": 20}');
SELECT pg_temp.is((SELECT purchased FROM allocation.stock WHERE reference = 'm-b1'), 20, 'ChangeBatchQuantity routed by its batch');
SELECT pg_temp.expect_error($$SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "m-none", "qty": 20}')$$, 'ZA002',
	'unknown batch reference "m-none"', 'ZA002 from a message');
SELECT pg_temp.expect_error(format($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "q-1", "sku": %s, "qty": 1}')$$,
		to_jsonb((SELECT sku FROM sku_on WHERE node = 3))), '23505', 'batch reference "q-1" already exists', '23505 from a message');

--------------------------------------------------------------------------
-- Transaction semantics: each call commits on its node
--------------------------------------------------------------------------
BEGIN;
SELECT allocation.allocate('rolled-back', 'RED-CHAIR', 1);
ROLLBACK;
SELECT pg_temp.is((SELECT batchref FROM allocation.allocations('rolled-back')), 'warehouse-1',
				  'a router ROLLBACK does not undo a call (documented)');

-- session settings do not travel: the router's SET is not the node's
SET allocation.stock_alert_recipient = 'router-session@example.com';
SELECT pg_temp.is(allocation.allocate('no-alert', 'SMALL-FORK', 1000), NULL::text, 'out of stock with a router setting');
SELECT pg_temp.is((SELECT count(*) FROM allocation.notifications WHERE recipient = 'router-session@example.com'),
				  0::bigint, 'a router SET does not reach the node (documented)');
RESET allocation.stock_alert_recipient;

--------------------------------------------------------------------------
-- Order tracking across nodes
--------------------------------------------------------------------------
-- an order on another node than its SKU, and one on the same node
CREATE TEMP TABLE ord AS
SELECT (SELECT o FROM (SELECT 'ORD-' || i AS o FROM generate_series(100, 400) i) c
		 WHERE pg_temp.node_of(o) <> pg_temp.node_of('RED-CHAIR') ORDER BY o LIMIT 1) AS remote,
	   (SELECT o FROM (SELECT 'ORD-' || i AS o FROM generate_series(100, 400) i) c
		 WHERE pg_temp.node_of(o) = pg_temp.node_of('RED-CHAIR') ORDER BY o LIMIT 1) AS local;
SELECT allocation.create_order(remote), allocation.create_order(local) FROM ord;
SELECT allocation.subscribe_to_order(remote, 'buyer@example.com') FROM ord;
SELECT allocation.allocate(remote, 'RED-CHAIR', 1), allocation.allocate(local, 'RED-CHAIR', 1) FROM ord;
SELECT pg_temp.is((SELECT allocation.order_status(local) FROM ord), 'allocated', 'order on the SKU''s node: allocated at once (node-local)');
SELECT pg_temp.is((SELECT allocation.order_status(remote) FROM ord), 'created', 'order on another node: not yet');
SELECT allocation.register_consumer('order_tracking', true);
SELECT pg_temp.is(allocation.sync_order_tracking() >= 1, true, 'sync_order_tracking applied the event');
SELECT pg_temp.is((SELECT allocation.order_status(remote) FROM ord), 'allocated', 'order on another node: allocated after the sync');
SELECT pg_temp.is(allocation.sync_order_tracking(), 0, 'a second sync changes nothing');
SELECT pg_temp.is((SELECT count(*) FROM allocation.outbox o, ord
					WHERE o.aggregatetype = 'order' AND o.aggregateid = ord.remote AND o.type = 'OrderStatusChanged'),
				  1::bigint, 'OrderStatusChanged on the order''s node');
SELECT pg_temp.is((SELECT count(*) FROM allocation.notifications WHERE recipient = 'buyer@example.com'),
				  1::bigint, 'the subscriber is told');
-- OutOfStock across nodes: created -> backordered
CREATE TEMP TABLE ord2 AS
SELECT (SELECT o FROM (SELECT 'BO-' || i AS o FROM generate_series(1, 300) i) c
		 WHERE pg_temp.node_of(o) <> pg_temp.node_of('SMALL-FORK') ORDER BY o LIMIT 1) AS remote;
SELECT allocation.create_order(remote) FROM ord2;
SELECT pg_temp.is((SELECT allocation.allocate(remote, 'SMALL-FORK', 500) FROM ord2), NULL::text, 'out of stock for a remote order');
SELECT allocation.sync_order_tracking();
SELECT pg_temp.is((SELECT allocation.order_status(remote) FROM ord2), 'backordered', 'remote order backordered after the sync');

--------------------------------------------------------------------------
-- Outbox consumers through the router: every event of every node, once
--------------------------------------------------------------------------
SELECT allocation.register_consumer('it-relay');
CREATE TEMP TABLE delivered (id uuid, aggregateid text, aggregate_seq bigint);
CREATE FUNCTION pg_temp.consume(consumer text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	got		integer;
	last	uuid;
	total	integer := 0;
BEGIN
	LOOP
		WITH batch AS (SELECT * FROM allocation.read_events(consumer, 7)),
			 ins AS (INSERT INTO delivered SELECT b.id, b.aggregateid, b.aggregate_seq FROM batch b RETURNING 1)
		SELECT count(*), (SELECT b.id FROM batch b ORDER BY b.commit_key DESC, b."position" DESC LIMIT 1)
		  INTO got, last FROM ins;
		EXIT WHEN got = 0;
		PERFORM allocation.ack_events(consumer, last);
		total := total + got;
	END LOOP;
	RETURN total;
END $$;
SELECT pg_temp.is(pg_temp.consume('it-relay')::bigint, (SELECT count(*) FROM allocation.outbox), 'a consumer gets every event of every node');
SELECT pg_temp.is((SELECT count(DISTINCT id) FROM delivered), (SELECT count(*) FROM delivered), 'each event once (no failure, no repeat)');
SELECT pg_temp.is((SELECT bool_and(n = m) FROM (SELECT aggregateid, count(*) n, max(aggregate_seq) - min(aggregate_seq) + 1 m
												  FROM delivered GROUP BY aggregateid) x), true, 'no gap in any aggregate');
SELECT allocation.allocate('late', 'RED-CHAIR', 1);
SELECT pg_temp.is(pg_temp.consume('it-relay'), 1, 'a new event is delivered next');
SELECT pg_temp.expect_error($$SELECT allocation.ack_events('it-relay', gen_random_uuid())$$, '22023', 'unknown event', 'ack of an unknown event');
SELECT pg_temp.expect_error($$SELECT * FROM allocation.read_events('nobody-registered')$$, '22023', 'unknown consumer', 'read_events: unknown consumer');
SELECT pg_temp.is(allocation.unregister_consumer('it-relay'), true, 'unregister on every node');

--------------------------------------------------------------------------
-- Health
--------------------------------------------------------------------------
SELECT pg_temp.is((SELECT count(*) FROM allocation.check_invariants()), 0::bigint, 'check_invariants() of the cluster is empty');
SELECT pg_temp.is(allocation.rebuild_read_model() > 0, true, 'rebuild_read_model on every node');
SELECT pg_temp.is((SELECT count(*) FROM allocation.check_invariants()), 0::bigint, 'still healthy after the rebuild');
