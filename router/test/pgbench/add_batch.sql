-- a new batch with a reference unique to this client (needs -D m=0)
\set m :m + 1
\set s random(1, 48)
SELECT allocation.add_batch('c' || :client_id || '-b' || :m, 'W-' || :s, 50);
