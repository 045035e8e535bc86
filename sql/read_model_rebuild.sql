--
-- The CQRS read model (the contract: allocation rules, SQL interface and events): allocation.allocations_view
-- equals the write model (allocation.order_lines) after every command, and
-- allocation.rebuild_read_model() recreates it from the write model after
-- it was damaged (read models are disposable).  SKUs, references and order
-- ids of this file start with "RR-"; roles start with "rr_".
--
\set VERBOSITY terse

-- Does the read model equal the write model for this file's SKUs?  Both
-- directions of EXCEPT must be empty.
PREPARE rr_same AS
SELECT NOT EXISTS (SELECT orderid, sku, batchref, qty FROM allocation.allocations_view WHERE sku LIKE 'RR-%'
                   EXCEPT
                   SELECT orderid, sku, batchref, qty FROM allocation.order_lines WHERE sku LIKE 'RR-%')
   AND NOT EXISTS (SELECT orderid, sku, batchref, qty FROM allocation.order_lines WHERE sku LIKE 'RR-%'
                   EXCEPT
                   SELECT orderid, sku, batchref, qty FROM allocation.allocations_view WHERE sku LIKE 'RR-%')
       AS read_model_equals_write_model;

-- The same over the whole database (after a rebuild, everything matches).
PREPARE rr_same_everywhere AS
SELECT NOT EXISTS (SELECT orderid, sku, batchref, qty FROM allocation.allocations_view
                   EXCEPT
                   SELECT orderid, sku, batchref, qty FROM allocation.order_lines)
   AND NOT EXISTS (SELECT orderid, sku, batchref, qty FROM allocation.order_lines
                   EXCEPT
                   SELECT orderid, sku, batchref, qty FROM allocation.allocations_view)
       AS equal_everywhere;

------------------------------------------------------------------------
-- The read model follows every command
------------------------------------------------------------------------

-- batches: no line yet, nothing in the view
SELECT allocation.add_batch('RR-B1', 'RR-LAMP', 10);
SELECT allocation.add_batch('RR-B2', 'RR-LAMP', 10, '2031-03-01');
SELECT allocation.add_batch('RR-B3', 'RR-RUG', 5);
EXECUTE rr_same;

-- allocate: one row a line
SELECT allocation.allocate('RR-o1', 'RR-LAMP', 6);
SELECT allocation.allocate('RR-o2', 'RR-LAMP', 3);
SELECT allocation.allocate('RR-o1', 'RR-RUG', 2);
EXECUTE rr_same;
SELECT orderid, sku, batchref, qty FROM allocation.allocations_view
 WHERE sku LIKE 'RR-%' ORDER BY orderid, sku;

-- an idempotent allocate and an OutOfStock change nothing in it
SELECT allocation.allocate('RR-o1', 'RR-LAMP', 6);
SELECT allocation.allocate('RR-o3', 'RR-RUG', 9) IS NULL AS out_of_stock;
EXECUTE rr_same;

-- deallocate removes the row
SELECT allocation.deallocate('RR-o2', 'RR-LAMP');
EXECUTE rr_same;
SELECT count(*) = 0 AS rr_o2_gone FROM allocation.allocations_view WHERE orderid = 'RR-o2';

-- rule 5: a displaced line moves to another batch, in the view too
SELECT allocation.allocate('RR-o4', 'RR-LAMP', 4);
SELECT allocation.change_batch_quantity('RR-B1', 5);
EXECUTE rr_same;
SELECT orderid, sku, batchref, qty FROM allocation.allocations_view
 WHERE sku = 'RR-LAMP' ORDER BY orderid;

-- a displaced line that finds no batch leaves the view
SELECT allocation.change_batch_quantity('RR-B3', 1);
EXECUTE rr_same;
SELECT count(*) = 0 AS rr_rug_gone FROM allocation.allocations_view WHERE sku = 'RR-RUG';

-- allocate_many and handle feed the view like allocate
SELECT * FROM allocation.allocate_many(ARRAY[('RR-o5', 'RR-LAMP', 1), ('RR-o6', 'RR-RUG', 1)]::allocation.order_line[]);
SELECT allocation.handle('{"type": "Allocate", "orderid": "RR-o7", "sku": "RR-LAMP", "qty": 2}');
EXECUTE rr_same;

-- a rolled-back command leaves no row behind
BEGIN;
SELECT allocation.allocate('RR-o8', 'RR-LAMP', 1);
ROLLBACK;
EXECUTE rr_same;

-- allocations() reads the view: the lines of RR-o1 ordered by sku
SELECT * FROM allocation.allocations('RR-o1');

------------------------------------------------------------------------
-- Damage the read model (as superuser), then rebuild it
------------------------------------------------------------------------

-- delete a row, point another at a wrong batch, add a phantom row
DELETE FROM allocation.allocations_view WHERE orderid = 'RR-o5';
UPDATE allocation.allocations_view SET batchref = 'RR-B1', qty = 99 WHERE orderid = 'RR-o1' AND sku = 'RR-LAMP';
INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty, updated_at)
VALUES ('RR-ghost', 'RR-LAMP', 'RR-B2', 1, now());
EXECUTE rr_same;
-- allocations() now tells lies ...
SELECT * FROM allocation.allocations('RR-ghost');
SELECT count(*) AS lines_of_rr_o5 FROM allocation.allocations('RR-o5');
-- ... and check_invariants() names each difference
SELECT invariant, object, detail FROM allocation.check_invariants()
 WHERE object LIKE 'RR-%' ORDER BY object;

-- rebuild returns the number of rows, one per allocated line in the database
SELECT allocation.rebuild_read_model() = (SELECT count(*) FROM allocation.order_lines) AS returns_line_count;
EXECUTE rr_same;
EXECUTE rr_same_everywhere;
SELECT * FROM allocation.allocations('RR-ghost');
SELECT * FROM allocation.allocations('RR-o5');
SELECT count(*) = 0 AS healthy FROM allocation.check_invariants() WHERE object LIKE 'RR-%';
-- every rebuilt row has its updated_at
SELECT bool_and(updated_at IS NOT NULL) AS updated_at_set FROM allocation.allocations_view WHERE sku LIKE 'RR-%';

-- an emptied read model comes back whole
TRUNCATE allocation.allocations_view;
SELECT count(*) AS rows_left FROM allocation.allocations_view;
SELECT allocation.rebuild_read_model() = (SELECT count(*) FROM allocation.order_lines) AS returns_line_count;
EXECUTE rr_same_everywhere;

-- rebuilding a healthy read model changes nothing
SELECT allocation.rebuild_read_model() = (SELECT count(*) FROM allocation.order_lines) AS returns_line_count;
EXECUTE rr_same_everywhere;

-- a rebuild in a transaction that rolls back leaves the damage as it was
DELETE FROM allocation.allocations_view WHERE orderid = 'RR-o7';
BEGIN;
SELECT allocation.rebuild_read_model() > 0 AS rebuilt;
EXECUTE rr_same;
ROLLBACK;
EXECUTE rr_same;
SELECT allocation.rebuild_read_model() > 0 AS rebuilt;
EXECUTE rr_same;

-- commands after a rebuild keep the view in step
SELECT allocation.deallocate('RR-o7', 'RR-LAMP');
SELECT allocation.allocate('RR-o9', 'RR-LAMP', 1);
EXECUTE rr_same;

------------------------------------------------------------------------
-- Rights: administrators only
------------------------------------------------------------------------
CREATE ROLE rr_clerk LOGIN;
GRANT allocation_user TO rr_clerk;
CREATE ROLE rr_admin LOGIN;
GRANT allocation_admin TO rr_admin;
SET ROLE rr_clerk;
SELECT allocation.rebuild_read_model();
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- the user may read the view (allocations() reads it)
SELECT count(*) > 0 AS can_read FROM allocation.allocations_view WHERE sku LIKE 'RR-%';
-- but not write it
DELETE FROM allocation.allocations_view WHERE sku LIKE 'RR-%';
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;
SET ROLE rr_admin;
SELECT allocation.rebuild_read_model() > 0 AS rebuilt_by_admin;
RESET ROLE;
EXECUTE rr_same;

DROP ROLE rr_clerk;
DROP ROLE rr_admin;
DEALLOCATE rr_same;
DEALLOCATE rr_same_everywhere;
