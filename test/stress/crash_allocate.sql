-- crash test: allocate a new line in its own transaction and, once COMMIT
-- has returned, append what was committed to the file $CRASH_LOG
-- (needs -D run=R -D n=0).  Line n of client c in round R is order
-- "k<R>-<c>-<n>"; nobody deallocates or displaces these lines.
\set n :n + 1
\set h abs(hash(:client_id * 100000000 + :n)) % 1000
\set sku CASE WHEN :h < 700 THEN 1 + :h % 3 ELSE 4 + :h % 200 END
\set qty 1 + (:h / 10) % 4
BEGIN;
SELECT COALESCE(allocation.allocate('k' || :run || '-' || :client_id || '-' || :n,
									stress.sku(:sku), :qty), '-') AS ref \gset
COMMIT;
\shell printf 'A k%s-%s-%s %s %s %s\n' :run :client_id :n :sku :qty :ref >> "$CRASH_LOG"
