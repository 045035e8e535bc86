-- two lines of one new order, usually on two nodes
\set n :n + 1
\set s 1 + abs(hash(:client_id * 1000003 + :n)) % 48
\set t 1 + (:s + 7) % 48
SELECT * FROM allocation.allocate_many(ARRAY[('c' || :client_id || '-' || :n, 'W-' || :s, 1),
	('c' || :client_id || '-' || :n, 'W-' || :t, 1)]::allocation.order_line[]);
