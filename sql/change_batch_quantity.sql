--
-- change_batch_quantity(ref text, qty integer): rule 5.  Lowering a batch's
-- purchased quantity below what is allocated to it deallocates its lines,
-- most recently allocated first, until its available quantity is no longer
-- negative; each displaced line is recorded as Deallocated (reallocate
-- true) and then reallocated to the product's other batches (Allocated or
-- OutOfStock), never to the batch it left.  SKUs, references and order ids
-- of this file start with "CQ-".
--
\set VERBOSITY terse

-- The events of a SKU after a given aggregate_seq, grouped by order line
-- (the quantity change itself, which has no orderid, first) and in the
-- order they were recorded within each line.
PREPARE events_after(text, bigint) AS
SELECT payload ->> 'orderid' AS orderid, type, payload ->> 'batchref' AS batchref,
       (payload ->> 'qty')::int AS qty, payload -> 'reallocate' AS reallocate
  FROM allocation.outbox
 WHERE aggregateid = $1 AND aggregate_seq > $2
 ORDER BY payload ->> 'orderid' COLLATE "C" NULLS FIRST, aggregate_seq;

-- The order in which lines were displaced (Deallocated events).
PREPARE displaced_after(text, bigint) AS
SELECT string_agg(payload ->> 'orderid', ', ' ORDER BY aggregate_seq) AS displaced
  FROM allocation.outbox
 WHERE aggregateid = $1 AND aggregate_seq > $2 AND type = 'Deallocated';

-- Every line displaced after a given aggregate_seq was recorded as
-- Deallocated before it was recorded as Allocated or OutOfStock.
PREPARE deallocated_first(text, bigint) AS
SELECT d.payload ->> 'orderid' AS orderid,
       (SELECT min(r.aggregate_seq) FROM allocation.outbox r
         WHERE r.aggregateid = $1 AND r.aggregate_seq > d.aggregate_seq
           AND r.type IN ('Allocated', 'OutOfStock')
           AND r.payload ->> 'orderid' = d.payload ->> 'orderid') IS NOT NULL AS then_reallocated
  FROM allocation.outbox d
 WHERE d.aggregateid = $1 AND d.aggregate_seq > $2 AND d.type = 'Deallocated'
 ORDER BY d.aggregate_seq;

--
-- CQ-DESK: a warehouse batch CQ-B1 and a shipment CQ-B2 of 10 each; three
-- lines on CQ-B1, allocated in the order CQ-z, CQ-m, CQ-a (the reverse of
-- their names, so that "most recent" cannot be confused with "last name")
--
SELECT allocation.add_batch('CQ-B1', 'CQ-DESK', 10);
SELECT allocation.add_batch('CQ-B2', 'CQ-DESK', 10, '2031-01-01');
SELECT allocation.allocate('CQ-z', 'CQ-DESK', 2);
SELECT allocation.allocate('CQ-m', 'CQ-DESK', 3);
SELECT allocation.allocate('CQ-a', 'CQ-DESK', 4);
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-DESK' \gset

-- change_batch_quantity returns void
SELECT allocation.change_batch_quantity('CQ-B1', 5);

-- BatchQuantityChanged: ref, sku, the new qty and the previous one
SELECT type, payload FROM allocation.outbox
 WHERE aggregateid = 'CQ-DESK' AND aggregate_seq > :seq AND type = 'BatchQuantityChanged';

-- 9 allocated, 5 purchased: only the most recent line, CQ-a (4), has to go;
-- it is Deallocated from CQ-B1 with reallocate true, then Allocated to CQ-B2
EXECUTE events_after('CQ-DESK', :seq);
EXECUTE deallocated_first('CQ-DESK', :seq);

SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-DESK' ORDER BY reference;
SELECT 'CQ-' || o AS orderid, a.batchref
  FROM unnest(ARRAY['a', 'm', 'z']) o, allocation.allocations('CQ-' || o) a
 ORDER BY 1;

-- down to 1: 5 allocated (CQ-z 2, CQ-m 3).  CQ-m, the more recent, goes
-- first, still 2 > 1, so CQ-z goes too; both are reallocated to CQ-B2
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-DESK' \gset
SELECT allocation.change_batch_quantity('CQ-B1', 1);
EXECUTE displaced_after('CQ-DESK', :seq);
EXECUTE events_after('CQ-DESK', :seq);
EXECUTE deallocated_first('CQ-DESK', :seq);
SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-DESK' ORDER BY reference;

-- raising a quantity displaces nothing and brings no line back: one
-- BatchQuantityChanged event, no Deallocated, the lines stay on CQ-B2
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-DESK' \gset
SELECT allocation.change_batch_quantity('CQ-B1', 20);
EXECUTE events_after('CQ-DESK', :seq);
SELECT payload FROM allocation.outbox
 WHERE aggregateid = 'CQ-DESK' AND aggregate_seq > :seq;
SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-DESK' ORDER BY reference;

-- "most recently allocated" counts the reallocation: on CQ-B2 the lines
-- arrived as CQ-a, CQ-m, CQ-z, so lowering CQ-B2 from 10 to 6 (9 allocated)
-- displaces CQ-z and then CQ-m, which go to the warehouse batch CQ-B1
-- (a line may go to a batch it was on before, only not to the one it left)
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-DESK' \gset
SELECT allocation.change_batch_quantity('CQ-B2', 6);
EXECUTE displaced_after('CQ-DESK', :seq);
EXECUTE events_after('CQ-DESK', :seq);
SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-DESK' ORDER BY reference;

--
-- CQ-BACK: a displaced line never returns to the batch it left.  CQ-p (2),
-- CQ-q (6), CQ-r (1) on warehouse batch CQ-K1, lowered from 10 to 3: CQ-r
-- and then CQ-q are displaced, which leaves CQ-K1 with 1 available.  CQ-r
-- (qty 1) would fit there and CQ-K1 is the preferred batch, but it goes to
-- the shipment CQ-K2.
--
SELECT allocation.add_batch('CQ-K1', 'CQ-BACK', 10);
SELECT allocation.add_batch('CQ-K2', 'CQ-BACK', 10, '2031-01-01');
SELECT allocation.allocate('CQ-p', 'CQ-BACK', 2);
SELECT allocation.allocate('CQ-q', 'CQ-BACK', 6);
SELECT allocation.allocate('CQ-r', 'CQ-BACK', 1);
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-BACK' \gset
SELECT allocation.change_batch_quantity('CQ-K1', 3);
EXECUTE displaced_after('CQ-BACK', :seq);
EXECUTE events_after('CQ-BACK', :seq);
SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-BACK' ORDER BY reference;
SELECT 'CQ-' || o AS orderid, a.batchref
  FROM unnest(ARRAY['p', 'q', 'r']) o, allocation.allocations('CQ-' || o) a
 ORDER BY 1;

--
-- CQ-ALONE: with no other batch, displaced lines are OutOfStock, even the
-- one that would fit back into the batch it left
--
SELECT allocation.add_batch('CQ-L1', 'CQ-ALONE', 10);
SELECT allocation.allocate('CQ-s', 'CQ-ALONE', 2);
SELECT allocation.allocate('CQ-t', 'CQ-ALONE', 6);
SELECT allocation.allocate('CQ-u', 'CQ-ALONE', 1);
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-ALONE' \gset
SELECT allocation.change_batch_quantity('CQ-L1', 3);
EXECUTE displaced_after('CQ-ALONE', :seq);
EXECUTE events_after('CQ-ALONE', :seq);
EXECUTE deallocated_first('CQ-ALONE', :seq);
SELECT reference, purchased, allocated, available FROM allocation.stock WHERE sku = 'CQ-ALONE';
-- the read model no longer has the displaced lines, and still has CQ-s
SELECT 'CQ-' || o AS orderid, a.batchref
  FROM unnest(ARRAY['s', 't', 'u']) o, allocation.allocations('CQ-' || o) a
 ORDER BY 1;

--
-- CQ-ZERO: 0 is a valid quantity; every line of the batch is displaced,
-- the most recent first; CQ-y fits into the shipment, CQ-x then does not
--
SELECT allocation.add_batch('CQ-Z1', 'CQ-ZERO', 10);
SELECT allocation.add_batch('CQ-Z2', 'CQ-ZERO', 5, '2031-01-01');
SELECT allocation.allocate('CQ-x', 'CQ-ZERO', 3);
SELECT allocation.allocate('CQ-y', 'CQ-ZERO', 4);
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-ZERO' \gset
SELECT allocation.change_batch_quantity('CQ-Z1', 0);
EXECUTE displaced_after('CQ-ZERO', :seq);
EXECUTE events_after('CQ-ZERO', :seq);
SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-ZERO' ORDER BY reference;

--
-- CQ-EXACT: lowering to exactly the allocated quantity displaces nothing,
-- and neither does a change on a batch without lines
--
SELECT allocation.add_batch('CQ-E1', 'CQ-EXACT', 10);
SELECT allocation.add_batch('CQ-E2', 'CQ-EXACT', 10, '2031-01-01');
SELECT allocation.allocate('CQ-w', 'CQ-EXACT', 4);
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-EXACT' \gset
SELECT allocation.change_batch_quantity('CQ-E1', 4);
SELECT allocation.change_batch_quantity('CQ-E2', 1);
EXECUTE events_after('CQ-EXACT', :seq);
SELECT payload FROM allocation.outbox
 WHERE aggregateid = 'CQ-EXACT' AND aggregate_seq > :seq ORDER BY aggregate_seq;
SELECT reference, purchased, allocated, available FROM allocation.stock
 WHERE sku = 'CQ-EXACT' ORDER BY reference;

-- a change in a rolled-back transaction vanishes with its displacements
SELECT max(aggregate_seq) AS seq FROM allocation.outbox WHERE aggregateid = 'CQ-EXACT' \gset
BEGIN;
SELECT allocation.change_batch_quantity('CQ-E1', 0);
SELECT count(*) AS lines_inside FROM allocation.allocations('CQ-w');
ROLLBACK;
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'CQ-EXACT' AND aggregate_seq > :seq) AS new_events,
       (SELECT purchased FROM allocation.stock WHERE reference = 'CQ-E1') AS e1_purchased;
SELECT * FROM allocation.allocations('CQ-w');

-- the arguments have the contract's names: named notation works
SELECT allocation.change_batch_quantity(ref => 'CQ-E2', qty => 2);
SELECT purchased FROM allocation.stock WHERE reference = 'CQ-E2';

DEALLOCATE events_after;
DEALLOCATE displaced_after;
DEALLOCATE deallocated_first;
