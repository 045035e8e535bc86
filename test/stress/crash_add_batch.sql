-- crash test: add a batch in its own transaction; record it once COMMIT
-- has returned (needs -D run=R -D a=0)
\set a :a + 1
\set r random(1, 1000)
\set sku CASE WHEN :r <= 500 THEN 1 + :r % 3 ELSE 4 + :r % 200 END
\set qty random(5, 60)
BEGIN;
SELECT allocation.add_batch('kb' || :run || '-' || :client_id || '-' || :a,
							stress.sku(:sku), :qty);
COMMIT;
\shell printf 'B kb%s-%s-%s %s %s -\n' :run :client_id :a :sku :qty >> "$CRASH_LOG"
