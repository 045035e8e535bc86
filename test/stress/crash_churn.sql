-- crash test: churn on CHURN-1/2 (needs -D run=R -D z=0): allocate a line,
-- deallocate an earlier one, change a batch's quantity (rule 5 displaces
-- and reallocates lines).  Checked by check_invariants() only.
\set z :z + 1
SELECT allocation.allocate('z' || :run || '-' || :client_id || '-' || :z,
						   'CHURN-' || (1 + :z % 2), 1 + :z % 3);
\set l random(1, :z)
SELECT allocation.deallocate('z' || :run || '-' || :client_id || '-' || :l,
							 'CHURN-' || (1 + :l % 2));
\set b random(1, 4)
\set q random(0, 60)
SELECT allocation.change_batch_quantity('CH-' || :b, :q);
