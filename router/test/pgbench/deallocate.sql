-- free one of this client's earlier lines (NULL if it is not allocated)
\set k random(1, :n + 1)
\set s 1 + abs(hash(:client_id * 1000003 + :k)) % 48
SELECT allocation.deallocate('c' || :client_id || '-' || :k, 'W-' || :s);
