-- a new order line on one of 64 SKUs (needs -D n=0 -D run=<k>)
\set n :n + 1
\set s random(1, 64)
SELECT allocation.allocate('r' || :run || '-c' || :client_id || '-' || :n, 'BS-' || :s, 1);
