-- allocate three lines of one order, on a hot SKU and two cold ones, in
-- one call (allocate_many locks products in SKU order: no deadlock)
\set m :m + 1
\set hot random(1, 3)
\set cold1 random(4, 203)
\set cold2 random(4, 203)
\set qty random(1, 3)
SELECT count(*) FROM allocation.allocate_many(ARRAY[
	('m' || :client_id || '-' || :m, stress.sku(:hot), :qty),
	('m' || :client_id || '-' || :m, stress.sku(:cold1), :qty),
	('m' || :client_id || '-' || :m || '-2', stress.sku(:cold2), 1)
]::allocation.order_line[]);
