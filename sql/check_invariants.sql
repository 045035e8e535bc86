--
-- allocation.check_invariants(): one row per violation of the allocation rules'
-- invariants (invariant, object, detail), nothing when healthy.  Normal
-- commands leave it empty; each corruption below (made as superuser in a
-- transaction that is rolled back, dropping a constraint where the
-- database itself would refuse it) is reported under its invariant's
-- name.  SKUs, references and order ids of this file start with "CI-".
--
\set VERBOSITY terse

-- The violations about this file's objects.
PREPARE ci_check AS
SELECT invariant, object, detail FROM allocation.check_invariants()
 WHERE object LIKE 'CI-%' ORDER BY invariant, object;

------------------------------------------------------------------------
-- Healthy after every kind of command
------------------------------------------------------------------------
SELECT allocation.add_batch('CI-B1', 'CI-LAMP', 10);			-- seq 1
SELECT allocation.add_batch('CI-B2', 'CI-LAMP', 10, '2031-01-01');	-- seq 2
SELECT allocation.allocate('CI-o1', 'CI-LAMP', 3);				-- seq 3
SELECT allocation.allocate('CI-o2', 'CI-LAMP', 4);				-- seq 4
SELECT allocation.allocate('CI-o3', 'CI-LAMP', 2);				-- seq 5
SELECT allocation.allocate('CI-o4', 'CI-LAMP', 1);				-- seq 6
SELECT allocation.deallocate('CI-o4', 'CI-LAMP');				-- seq 7
SELECT allocation.allocate('CI-o5', 'CI-LAMP', 50) IS NULL AS out_of_stock;	-- seq 8
SELECT allocation.change_batch_quantity('CI-B2', 12);			-- seq 9
SELECT allocation.add_batch('CI-R1', 'CI-RUG', 2);
SELECT allocation.allocate('CI-o1', 'CI-RUG', 2);
-- rule 5: CI-o1 is displaced from CI-R1 and finds no other batch
SELECT allocation.change_batch_quantity('CI-R1', 1);
SELECT reference, purchased, allocated FROM allocation.stock WHERE sku LIKE 'CI-%' ORDER BY reference;
SELECT sku, version_number FROM allocation.products WHERE sku LIKE 'CI-%' ORDER BY sku;
EXECUTE ci_check;

------------------------------------------------------------------------
-- No batch has a negative available quantity
------------------------------------------------------------------------

-- an oversold batch (the CHECK constraint is dropped to let it happen)
BEGIN;
ALTER TABLE allocation.batches DROP CONSTRAINT batches_not_oversold;
UPDATE allocation.batches SET purchased_quantity = 5 WHERE reference = 'CI-B1';
EXECUTE ci_check;
ROLLBACK;

-- a batch counter that disagrees with its lines
BEGIN;
UPDATE allocation.batches SET allocated_quantity = allocated_quantity + 1 WHERE reference = 'CI-B1';
EXECUTE ci_check;
ROLLBACK;

------------------------------------------------------------------------
-- Each (orderid, sku) is allocated at most once, to a batch of its SKU
------------------------------------------------------------------------

-- a line allocated twice (the primary key is dropped to let it happen)
BEGIN;
ALTER TABLE allocation.order_lines DROP CONSTRAINT order_lines_pkey;
INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)
SELECT sku, orderid, qty, batchref, seq + 100 FROM allocation.order_lines
 WHERE sku = 'CI-LAMP' AND orderid = 'CI-o1';
EXECUTE ci_check;
ROLLBACK;

-- a line pointing at a batch that does not exist
BEGIN;
UPDATE allocation.order_lines SET batchref = 'CI-GONE' WHERE sku = 'CI-LAMP' AND orderid = 'CI-o2';
EXECUTE ci_check;
ROLLBACK;

-- a line pointing at a batch of another SKU
BEGIN;
UPDATE allocation.order_lines SET batchref = 'CI-R1' WHERE sku = 'CI-LAMP' AND orderid = 'CI-o3';
EXECUTE ci_check;
ROLLBACK;

------------------------------------------------------------------------
-- The read model equals the write model
------------------------------------------------------------------------

-- a row missing, a row wrong, a row too many
BEGIN;
DELETE FROM allocation.allocations_view WHERE orderid = 'CI-o1' AND sku = 'CI-LAMP';
UPDATE allocation.allocations_view SET qty = 40 WHERE orderid = 'CI-o2' AND sku = 'CI-LAMP';
INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty, updated_at)
VALUES ('CI-ghost', 'CI-LAMP', 'CI-B2', 1, now());
EXECUTE ci_check;
ROLLBACK;

------------------------------------------------------------------------
-- Every state change has its events, and no event lacks its change
------------------------------------------------------------------------

-- an event deleted in the middle of a product's history (the Allocated
-- of CI-o2): a gap, and a line without its event
BEGIN;
DELETE FROM allocation.outbox WHERE aggregateid = 'CI-LAMP' AND aggregate_seq = 4;
EXECUTE ci_check;
ROLLBACK;

-- the BatchCreated of CI-B2 deleted: a gap, and a batch without its event
BEGIN;
DELETE FROM allocation.outbox WHERE aggregateid = 'CI-LAMP' AND aggregate_seq = 2;
EXECUTE ci_check;
ROLLBACK;

-- the product's event counter ahead of its outbox
BEGIN;
UPDATE allocation.product_state SET event_seq = event_seq + 1 WHERE sku = 'CI-LAMP';
EXECUTE ci_check;
ROLLBACK;

-- a version made without any event
BEGIN;
UPDATE allocation.product_state SET version_number = event_seq + 1 WHERE sku = 'CI-LAMP';
EXECUTE ci_check;
ROLLBACK;

-- a change lost but its event kept: CI-o3's line vanished
BEGIN;
DELETE FROM allocation.order_lines WHERE sku = 'CI-LAMP' AND orderid = 'CI-o3';
DELETE FROM allocation.allocations_view WHERE sku = 'CI-LAMP' AND orderid = 'CI-o3';
UPDATE allocation.batches SET allocated_quantity = allocated_quantity - 2 WHERE reference = 'CI-B1';
EXECUTE ci_check;
ROLLBACK;

-- an event for a change that never happened, numbered in sequence
BEGIN;
INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type, payload, occurred_at, aggregate_seq, commit_key)
SELECT gen_random_uuid(), 'product', 'CI-LAMP', 'Allocated',
       '{"orderid": "CI-ghost", "sku": "CI-LAMP", "qty": 1, "batchref": "CI-B1"}',
       now(), event_seq + 1, pg_current_xact_id()::text::bigint
  FROM allocation.product_state WHERE sku = 'CI-LAMP';
UPDATE allocation.product_state SET event_seq = event_seq + 1 WHERE sku = 'CI-LAMP';
EXECUTE ci_check;
ROLLBACK;

-- several at once: each is reported
BEGIN;
ALTER TABLE allocation.batches DROP CONSTRAINT batches_not_oversold;
UPDATE allocation.batches SET purchased_quantity = 1 WHERE reference = 'CI-B1';
DELETE FROM allocation.allocations_view WHERE orderid = 'CI-o1' AND sku = 'CI-LAMP';
UPDATE allocation.product_state SET version_number = version_number + 100 WHERE sku = 'CI-RUG';
EXECUTE ci_check;
ROLLBACK;

------------------------------------------------------------------------
-- A purged history is not mistaken for a broken one
------------------------------------------------------------------------

-- the first events gone, as purge_outbox removes them: no event check
-- reports anything for that product
BEGIN;
DELETE FROM allocation.outbox WHERE aggregateid = 'CI-LAMP' AND aggregate_seq <= 3;
EXECUTE ci_check;
ROLLBACK;

-- every corruption was rolled back: healthy again
EXECUTE ci_check;

DEALLOCATE ci_check;
