-- bench/sql/copy_depth_to_peer.sql
-- The peer's history SKUs (D...) are copies of ours: the same batches,
-- lines, read model and events that peer.allocate would have produced
-- (the rules are the same).  Making them through peer.allocate takes
-- quadratic time, since its preference-order scan steps over every
-- depleted batch, which is what the depth scenario measures.
INSERT INTO peer.products (sku, version_number, line_seq, event_seq, event_key)
SELECT sku, version_number, line_seq, event_seq, event_key::text::xid8
  FROM allocation.product_state WHERE sku LIKE 'D%';
INSERT INTO peer.batches (reference, sku, purchased_quantity, allocated_quantity, eta)
SELECT reference, sku, purchased_quantity, allocated_quantity, eta
  FROM allocation.batches WHERE sku LIKE 'D%';
INSERT INTO peer.order_lines (sku, orderid, qty, batchref, seq)
SELECT sku, orderid, qty, batchref, seq FROM allocation.order_lines WHERE sku LIKE 'D%';
INSERT INTO peer.allocations_view (orderid, sku, batchref, qty, updated_at)
SELECT orderid, sku, batchref, qty, updated_at
  FROM allocation.allocations_view WHERE sku LIKE 'D%';
INSERT INTO peer.outbox (id, aggregatetype, aggregateid, type, payload, occurred_at,
						 aggregate_seq, commit_key)
SELECT gen_random_uuid(), aggregatetype, aggregateid, type, payload, occurred_at,
	   aggregate_seq, commit_key::text::xid8
  FROM allocation.outbox
 WHERE aggregatetype = 'product' AND aggregateid LIKE 'D%'
 ORDER BY position;
