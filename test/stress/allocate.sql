-- allocate a new order line (pgbench script; needs -D n=0 -D m=0)
--
-- Each client numbers its lines 1, 2, 3... (:n); line n of client c is
-- order "c<c>-<n>", and its SKU and quantity are a function of (c, n), so
-- that deallocate.sql can name the line again.  Order ids are never
-- reused: no ZA003 can happen.  60 % of lines go to the 3 hot SKUs.
\set n :n + 1
\set h abs(hash(:client_id * 100000000 + :n)) % 1000
\set sku CASE WHEN :h < 600 THEN 1 + :h % 3 ELSE 4 + :h % 200 END
\set qty 1 + (:h / 10) % 4
SELECT allocation.allocate('c' || :client_id || '-' || :n, stress.sku(:sku), :qty);
