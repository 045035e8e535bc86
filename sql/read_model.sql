--
-- The CQRS read model: allocations(orderid) returns (sku, batchref) of an
-- order's allocated lines, ordered by sku, and follows allocate,
-- deallocate and the reallocations of change_batch_quantity.  SKUs,
-- references and order ids of this file start with "RM-".
--
\set VERBOSITY terse

-- Is the read model equal to the write model for the RM- SKUs?  Every
-- allocated line (order_lines) has its row in the read model with the same
-- batch and quantity and vice versa, and each batch's allocated quantity
-- is the sum of its lines.
PREPARE read_model_consistent AS
SELECT NOT EXISTS (
         (SELECT orderid, sku, batchref, qty FROM allocation.order_lines WHERE sku LIKE 'RM-%'
          EXCEPT
          SELECT orderid, sku, batchref, qty FROM allocation.allocations_view WHERE sku LIKE 'RM-%')
         UNION ALL
         (SELECT orderid, sku, batchref, qty FROM allocation.allocations_view WHERE sku LIKE 'RM-%'
          EXCEPT
          SELECT orderid, sku, batchref, qty FROM allocation.order_lines WHERE sku LIKE 'RM-%'))
   AND NOT EXISTS (
         SELECT FROM allocation.stock s
          WHERE s.sku LIKE 'RM-%'
            AND s.allocated <> (SELECT coalesce(sum(v.qty), 0) FROM allocation.allocations_view v
                                 WHERE v.batchref = s.reference)) AS consistent;

SELECT allocation.add_batch('RM-A1', 'RM-APPLE', 10);
SELECT allocation.add_batch('RM-B1', 'RM-BANANA', 10);
SELECT allocation.add_batch('RM-B2', 'RM-BANANA', 10, '2031-01-01');
SELECT allocation.add_batch('RM-C1', 'RM-CHERRY', 10);

-- an order nobody allocated: no rows
SELECT * FROM allocation.allocations('RM-nobody');

-- the result columns are sku and batchref
SELECT sku, batchref FROM allocation.allocations('RM-nobody');

-- lines allocated in the order cherry, apple, banana come back ordered by sku
SELECT allocation.allocate('RM-o1', 'RM-CHERRY', 1);
SELECT allocation.allocate('RM-o1', 'RM-APPLE', 2);
SELECT allocation.allocate('RM-o1', 'RM-BANANA', 3);
SELECT * FROM allocation.allocations('RM-o1');
EXECUTE read_model_consistent;

-- other orders' lines are not in an order's result
SELECT allocation.allocate('RM-o2', 'RM-BANANA', 4);
SELECT * FROM allocation.allocations('RM-o2');
SELECT * FROM allocation.allocations('RM-o1');

-- an out-of-stock line is not in the read model
SELECT allocation.allocate('RM-o2', 'RM-APPLE', 50) IS NULL AS out_of_stock;
SELECT * FROM allocation.allocations('RM-o2');
EXECUTE read_model_consistent;

-- deallocate removes the line from the read model
SELECT allocation.deallocate('RM-o1', 'RM-APPLE');
SELECT * FROM allocation.allocations('RM-o1');
EXECUTE read_model_consistent;

-- a reallocation by change_batch_quantity moves the line to its new batch:
-- RM-o2 (4, the most recent on RM-B1) goes to RM-B2
SELECT allocation.change_batch_quantity('RM-B1', 3);
SELECT * FROM allocation.allocations('RM-o2');
SELECT * FROM allocation.allocations('RM-o1');
EXECUTE read_model_consistent;

-- a displaced line that goes out of stock leaves the read model
SELECT allocation.change_batch_quantity('RM-C1', 0);
SELECT * FROM allocation.allocations('RM-o1');
EXECUTE read_model_consistent;

-- the read model follows the transaction: a rolled-back allocation is not
-- in it, a committed one is
BEGIN;
SELECT allocation.allocate('RM-o3', 'RM-APPLE', 1);
SELECT * FROM allocation.allocations('RM-o3');
ROLLBACK;
SELECT * FROM allocation.allocations('RM-o3');
BEGIN;
SELECT allocation.allocate('RM-o3', 'RM-APPLE', 1);
COMMIT;
SELECT * FROM allocation.allocations('RM-o3');
EXECUTE read_model_consistent;

-- order ids are case-sensitive in the query too
SELECT count(*) AS rows FROM allocation.allocations('rm-o3');

-- the argument is named orderid: named notation works
SELECT * FROM allocation.allocations(orderid => 'RM-o3');

-- a read model that drifted from the write model (a stray row written by
-- hand, for a line that does not exist) is not papered over: allocating
-- that line fails with the unique violation and changes nothing, and
-- rebuild_read_model() repairs the read model, after which it works
INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty, updated_at)
VALUES ('RM-o9', 'RM-APPLE', 'RM-A1', 1, now());
SELECT allocation.allocate('RM-o9', 'RM-APPLE', 2);
SELECT count(*) AS lines FROM allocation.order_lines WHERE orderid = 'RM-o9';
SELECT allocated FROM allocation.stock WHERE reference = 'RM-A1';
SELECT allocation.rebuild_read_model() IS NOT NULL AS rebuilt;
SELECT allocation.allocate('RM-o9', 'RM-APPLE', 2);
SELECT * FROM allocation.allocations('RM-o9');
SELECT allocated FROM allocation.stock WHERE reference = 'RM-A1';
EXECUTE read_model_consistent;

DEALLOCATE read_model_consistent;

-- allocations() is STABLE and reads in its caller's snapshot, as a query
-- does: in the statement of an allocate it does not see that allocate,
-- in the next one it does; and it runs in a read-only transaction, as do
-- the administrators' reading functions.
SELECT allocation.allocate('RM-snap', 'RM-APPLE', 1) AS batch,
       (SELECT count(*) FROM allocation.allocations('RM-snap')) AS seen_in_same_statement;
SELECT count(*) AS seen_next FROM allocation.allocations('RM-snap');
BEGIN READ ONLY;
SELECT * FROM allocation.allocations('RM-snap');
SELECT count(*) >= 0 AS readable FROM allocation.consumer_status;
SELECT count(*) > 0 AS metrics FROM allocation.metrics();
COMMIT;
-- an order id is checked as every command checks it: 22023, not no row
SELECT * FROM allocation.allocations('');
SELECT * FROM allocation.allocations(E'RM\n');
SELECT * FROM allocation.allocations(repeat('x', 256));
