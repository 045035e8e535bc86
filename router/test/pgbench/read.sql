-- the lines of one of this client's orders, from every node
\set k random(1, :n + 1)
SELECT * FROM allocation.allocations('c' || :client_id || '-' || :k);
