-- bench/sql/load_large.sql (psql variable large_skus): SKUs L1..L<large_skus>,
-- ten batches each, written straight into the extension's tables (as
-- superuser; add_batch would take too long for ten million batches).  The
-- rows are what ten add_batch calls make (version 10, ten events), as if
-- their BatchCreated events had been delivered and purged from the outbox:
-- allocation.check_invariants() checks events only for aggregates whose
-- outbox history is complete (starts at event 1), so it reports nothing
-- for these, before or after the runs.  The foreign key from batches to
-- products holds by construction, so its per-row triggers are skipped.
SET session_replication_role = replica;
INSERT INTO allocation.product_state (sku, version_number, event_seq)
SELECT 'L' || s, 10, 10 FROM generate_series(1, :large_skus) s;
INSERT INTO allocation.batches (reference, sku, purchased_quantity, eta)
SELECT format('L%s-F%s', s, lpad(b::text, 2, '0')), 'L' || s, 1000000,
	   CASE WHEN b <= 3 THEN NULL ELSE DATE '2031-01-01' + b END
  FROM generate_series(1, :large_skus) s, generate_series(1, 10) b
 -- SKU by SKU, as the cold set's add_batch calls lay them out: without the
 -- ORDER BY the planner may run the ten batch numbers as the outer loop,
 -- which puts each SKU's ten batches on ten heap pages far apart
 ORDER BY s, b;
RESET session_replication_role;
