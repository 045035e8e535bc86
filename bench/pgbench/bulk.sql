-- T5: allocation.allocate_many of :lines lines over the cold SKUs, in one
-- transaction (the array is built by the statement itself).
\set r random(1, 1000000000)
SELECT count(batchref) FROM allocation.allocate_many(ARRAY(
	SELECT ROW('m' || :r::text || '-' || g, :prefix || (1 + (g * 7919 + :r::int) % :hi::int),
			   1)::allocation.order_line
	  FROM generate_series(1, :lines::int) g));
