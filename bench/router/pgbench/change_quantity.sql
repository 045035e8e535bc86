-- change a batch's quantity (every node is asked through the router)
\set s random(1, 64)
\set q random(100, 1000)
SELECT allocation.change_batch_quantity('CB-' || :s, :q);
