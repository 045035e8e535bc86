-- router/test/pgbench/setup.sql - products of the router workload, added
-- through the router: 48 SKUs W-1..W-48, each with a warehouse batch
-- WB-<i>-a and a shipment WB-<i>-b.
SET client_min_messages = warning;
SELECT count(allocation.add_batch('WB-' || i || '-a', 'W-' || i, 400)) FROM generate_series(1, 48) i;
SELECT count(allocation.add_batch('WB-' || i || '-b', 'W-' || i, 400, DATE '2031-01-01' + i)) FROM generate_series(1, 48) i;
