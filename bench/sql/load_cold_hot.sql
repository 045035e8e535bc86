-- bench/sql/load_cold_hot.sql (psql variable cold_skus)
-- cold: SKUs C1..C<cold_skus>, ten batches each; hot: SKU H1, ten batches.
-- Through each side's own add_batch, so both have their BatchCreated events.
SELECT count(bench.fresh_batches('allocation', 'C' || s, 1000000))
  FROM generate_series(1, :cold_skus) s;
SELECT count(bench.fresh_batches('peer', 'C' || s, 1000000))
  FROM generate_series(1, :cold_skus) s;
SELECT bench.fresh_batches('allocation', 'H1', 100000000);
SELECT bench.fresh_batches('peer', 'H1', 100000000);
-- the floor starts from the same rows as ours (it has no history to keep)
INSERT INTO floor.product_state SELECT * FROM allocation.product_state;
INSERT INTO floor.batches (reference, sku, purchased_quantity, allocated_quantity, eta)
SELECT reference, sku, purchased_quantity, allocated_quantity, eta FROM allocation.batches;
