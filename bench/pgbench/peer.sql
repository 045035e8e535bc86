-- peer.allocate, the PL/pgSQL peer (bench/peers/plpgsql_allocation.sql).
\set n random(:lo, :hi)
\set oid random(1, 1000000000000)
SELECT peer.allocate(:oid, :prefix || :n, 1);
