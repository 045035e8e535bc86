-- test/stress/setup.sql - the products of the stress and crash workloads.
--
--   3 hot SKUs  (HOT-1 .. HOT-3),   4 batches each: HB-1 .. HB-12
--                                   (batch i belongs to HOT-<1 + (i-1) % 3>;
--                                   one in the warehouse, three shipments)
--   200 cold SKUs (COLD-1 .. COLD-200), 1 batch each: CB-1 .. CB-200
--
-- psql variables (optional): hot_qty (default 300), cold_qty (default 50),
-- the purchased quantity of each hot and cold batch.
--
-- stress.sku(i) names SKU number i: 1..3 hot, 4..203 cold; the pgbench
-- scripts draw numbers and let the server build the names.
\if :{?hot_qty}
\else
\set hot_qty 300
\endif
\if :{?cold_qty}
\else
\set cold_qty 50
\endif

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS stress CASCADE;
CREATE SCHEMA stress;

CREATE FUNCTION stress.sku(i integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT CASE WHEN i <= 3 THEN 'HOT-' || i ELSE 'COLD-' || (i - 3) END $$;

SELECT count(allocation.add_batch('HB-' || i, stress.sku(1 + (i - 1) % 3),
								  :hot_qty,
								  CASE WHEN i <= 3 THEN NULL
									   ELSE DATE '2030-01-01' + i END))
  FROM generate_series(1, 12) AS i;

SELECT count(allocation.add_batch('CB-' || i, stress.sku(3 + i), :cold_qty,
								  CASE WHEN i % 2 = 0 THEN NULL
									   ELSE DATE '2030-02-01' + i END))
  FROM generate_series(1, 200) AS i;
