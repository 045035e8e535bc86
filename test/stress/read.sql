-- the read side: an order's allocations, a product's stock, its version
\set l random(0, :n)
SELECT * FROM allocation.allocations('c' || :client_id || '-' || :l);
\set sku random(1, 203)
SELECT sum(available), count(*) FROM allocation.stock WHERE sku = stress.sku(:sku);
SELECT version_number FROM allocation.products WHERE sku = stress.sku(:sku);
