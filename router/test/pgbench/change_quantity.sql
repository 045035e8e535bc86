-- change a warehouse batch (every node is asked); below what is
-- allocated, lines are displaced and reallocated (rule 5)
\set s random(1, 48)
\set q random(60, 400)
SELECT allocation.change_batch_quantity('WB-' || :s || '-a', :q);
