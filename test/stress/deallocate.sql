-- deallocate one of this client's earlier lines, chosen at random (it may
-- already be gone, or have been out of stock: then NULL comes back)
\set l random(0, :n)
\set h abs(hash(:client_id * 100000000 + :l)) % 1000
\set sku CASE WHEN :h < 600 THEN 1 + :h % 3 ELSE 4 + :h % 200 END
SELECT allocation.deallocate('c' || :client_id || '-' || :l, stress.sku(:sku));
