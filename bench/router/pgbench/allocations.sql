-- the lines of an order of run :src (every node is asked through the router)
\set k random(1, 1000)
SELECT * FROM allocation.allocations('r' || :src || '-c' || :client_id || '-' || :k);
