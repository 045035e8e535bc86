-- a new order line (needs -D n=0): line n of client c is order "c<c>-<n>",
-- its SKU is a function of (c, n), so deallocate.sql can name it again
\set n :n + 1
\set s 1 + abs(hash(:client_id * 1000003 + :n)) % 48
\set qty 1 + :n % 3
SELECT allocation.allocate('c' || :client_id || '-' || :n, 'W-' || :s, :qty);
