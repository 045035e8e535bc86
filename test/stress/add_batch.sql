-- a new batch with a reference unique to this client (needs -D a=0);
-- 70 % on hot SKUs, a third of them in the warehouse, the others shipments
\set a :a + 1
\set r random(1, 1000)
\set sku CASE WHEN :r <= 700 THEN 1 + :r % 3 ELSE 4 + :r % 200 END
\set qty random(5, 60)
\set eta random(-15, 30)
SELECT allocation.add_batch('nb-' || :client_id || '-' || :a, stress.sku(:sku), :qty,
	CASE WHEN :eta < 0 THEN NULL ELSE DATE '2030-01-01' + :eta END);
