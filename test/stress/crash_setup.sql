-- test/stress/crash_setup.sql - products of the crash test (after setup.sql)
--
-- The recorded allocations (crash_allocate.sql) go to HOT-*/COLD-*, whose
-- batches are never changed, so a line a client saw committed must stay
-- exactly as it was.  The churn (crash_churn.sql: deallocate,
-- change_batch_quantity, reallocation) happens on CHURN-1 and CHURN-2
-- (batches CH-1 .. CH-4) and is checked by check_invariants() only.
SELECT count(allocation.add_batch('CH-' || i, 'CHURN-' || (1 + i % 2), 40,
								  CASE WHEN i <= 2 THEN NULL ELSE DATE '2030-03-01' + i END))
  FROM generate_series(1, 4) AS i;

-- what the clients saw committed, loaded by crash.sh from their records:
--   kind 'A': id = orderid, sku = SKU number, qty, ref = batch or '-' (out of stock)
--   kind 'B': id = batch reference, sku = SKU number, qty, ref = '-'
CREATE TABLE stress.seen (
	kind	text NOT NULL,
	id		text NOT NULL,
	sku		integer NOT NULL,
	qty		integer NOT NULL,
	ref		text NOT NULL
);
