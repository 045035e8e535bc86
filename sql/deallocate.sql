--
-- deallocate(orderid text, sku text) RETURNS text: returns the batch the
-- line was freed from, frees its stock, records Deallocated with
-- reallocate false, and does not reallocate the line (rule 6).  NULL and no
-- event when the line is not allocated.  SKUs, references and order ids of
-- this file start with "DE-".
--
\set VERBOSITY terse

SELECT allocation.add_batch('DE-B1', 'DE-SOFA', 10);
SELECT allocation.add_batch('DE-B2', 'DE-SOFA', 10, '2031-01-01');
SELECT allocation.allocate('DE-o1', 'DE-SOFA', 4);
SELECT allocation.allocate('DE-o2', 'DE-SOFA', 6);
SELECT version_number AS version_before FROM allocation.products WHERE sku = 'DE-SOFA' \gset
SELECT count(*) AS events_before FROM allocation.outbox WHERE aggregateid = 'DE-SOFA' \gset

-- deallocate returns the batch the line was allocated to
SELECT allocation.deallocate('DE-o1', 'DE-SOFA');

-- its stock is free again
SELECT reference, allocated, available FROM allocation.stock
 WHERE sku = 'DE-SOFA' ORDER BY reference;

-- exactly one new event: Deallocated, with reallocate false
SELECT type, payload FROM allocation.outbox
 WHERE aggregateid = 'DE-SOFA' ORDER BY aggregate_seq OFFSET :events_before;

-- rule 6: the line is not reallocated, although DE-B2 could take it
SELECT count(*) AS lines FROM allocation.allocations('DE-o1');
SELECT count(*) AS allocated_events_after
  FROM allocation.outbox
 WHERE aggregateid = 'DE-SOFA' AND type = 'Allocated' AND aggregate_seq > :events_before;

-- the version increased by one
SELECT version_number - :version_before AS version_delta
  FROM allocation.products WHERE sku = 'DE-SOFA';

-- the other line of the batch is untouched
SELECT * FROM allocation.allocations('DE-o2');

-- deallocating it again: NULL, no event, same version
SELECT allocation.deallocate('DE-o1', 'DE-SOFA') IS NULL AS not_allocated;
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'DE-SOFA') = :events_before + 1 AS no_new_event,
       (SELECT version_number FROM allocation.products WHERE sku = 'DE-SOFA') = :version_before + 1 AS same_version;

-- a line never allocated on a known SKU: NULL, no event, same version
SELECT allocation.deallocate('DE-never', 'DE-SOFA') IS NULL AS not_allocated;
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'DE-SOFA') = :events_before + 1 AS no_new_event,
       (SELECT version_number FROM allocation.products WHERE sku = 'DE-SOFA') = :version_before + 1 AS same_version;

-- a line that went out of stock was never allocated: NULL as well
SELECT allocation.allocate('DE-o3', 'DE-SOFA', 100) IS NULL AS out_of_stock;
SELECT allocation.deallocate('DE-o3', 'DE-SOFA') IS NULL AS not_allocated;
SELECT count(*) AS deallocated_events
  FROM allocation.outbox WHERE aggregateid = 'DE-SOFA' AND type = 'Deallocated';

-- a freed line can be allocated again, with another quantity too (it is a
-- new allocation, not a ZA003 conflict); rule 2 picks DE-B1 again
SELECT allocation.allocate('DE-o1', 'DE-SOFA', 2);
SELECT * FROM allocation.allocations('DE-o1');

-- deallocate frees only the line of that SKU: the same order id on another
-- SKU keeps its allocation
SELECT allocation.add_batch('DE-C1', 'DE-CHAIR', 3);
SELECT allocation.allocate('DE-o1', 'DE-CHAIR', 1);
SELECT allocation.deallocate('DE-o1', 'DE-CHAIR');
SELECT * FROM allocation.allocations('DE-o1');
SELECT reference, allocated FROM allocation.stock
 WHERE sku IN ('DE-SOFA', 'DE-CHAIR') ORDER BY reference;

-- a deallocation in a rolled-back transaction vanishes: the line is still
-- allocated, no Deallocated event was kept
SELECT count(*) AS events_before FROM allocation.outbox WHERE aggregateid = 'DE-SOFA' \gset
BEGIN;
SELECT allocation.deallocate('DE-o2', 'DE-SOFA');
SELECT count(*) AS lines_inside FROM allocation.allocations('DE-o2');
ROLLBACK;
SELECT * FROM allocation.allocations('DE-o2');
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'DE-SOFA') = :events_before AS no_new_event,
       (SELECT allocated FROM allocation.stock WHERE reference = 'DE-B1') AS b1_allocated;

-- the arguments have the contract's names: named notation works
SELECT allocation.deallocate(orderid => 'DE-o2', sku => 'DE-SOFA');

-- order ids are case-sensitive: "de-o1" was never allocated
SELECT allocation.deallocate('de-o1', 'DE-SOFA') IS NULL AS not_allocated;
SELECT * FROM allocation.allocations('DE-o1');
