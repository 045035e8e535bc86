-- test/stress/crash_verify.sql - after a crash and restart: one row per
-- thing the clients saw committed that is not there, or per trace of a
-- transaction that no client saw commit beyond the one each client may
-- have had in flight.  No row: the crash lost nothing and left nothing
-- half-done.  (check_invariants() runs separately.)
WITH seen_alloc AS (
	SELECT id AS orderid, stress.sku(sku) AS sku, qty, ref
	  FROM stress.seen WHERE kind = 'A'
), seen_batch AS (
	SELECT id AS ref, stress.sku(sku) AS sku, qty
	  FROM stress.seen WHERE kind = 'B'
), ev AS (
	SELECT o.type, o.aggregateid AS sku, o.payload->>'orderid' AS orderid,
		   o.payload->>'batchref' AS batchref, o.payload->>'ref' AS ref,
		   (o.payload->>'qty')::integer AS qty
	  FROM allocation.outbox o
	 WHERE o.aggregatetype = 'product'
), client_last AS (
	-- per round and client, the last line / batch it saw committed
	SELECT kind, split_part(id, '-', 1) AS round, split_part(id, '-', 2) AS client,
		   max(split_part(id, '-', 3)::integer) AS last
	  FROM stress.seen GROUP BY 1, 2, 3
), traces AS (
	-- every order id and batch reference of the recorded workload that
	-- the database holds, in any table
	SELECT 'A' AS kind, orderid AS id FROM allocation.order_lines WHERE orderid LIKE 'k%'
	UNION SELECT 'A', orderid FROM allocation.allocations_view WHERE orderid LIKE 'k%'
	UNION SELECT 'A', orderid FROM ev WHERE orderid LIKE 'k%'
	UNION SELECT 'B', reference FROM allocation.batches WHERE reference LIKE 'kb%'
	UNION SELECT 'B', ref FROM ev WHERE ref LIKE 'kb%'
)
-- an allocation a client saw committed is in the write model, as seen
SELECT 'committed line lost or changed' AS problem, s.orderid AS id,
	   format('client saw %s x%s on %s; order_lines has %s', s.sku, s.qty, s.ref,
			  COALESCE(l.batchref || ' x' || l.qty, 'nothing')) AS detail
  FROM seen_alloc s
  LEFT JOIN allocation.order_lines l ON l.orderid = s.orderid AND l.sku = s.sku
 WHERE s.ref <> '-' AND (l.batchref IS DISTINCT FROM s.ref OR l.qty <> s.qty)
UNION ALL
-- ... and in the read model
SELECT 'committed line missing from allocations_view', s.orderid,
	   format('client saw %s on %s; view has %s', s.sku, s.ref, COALESCE(v.batchref, 'nothing'))
  FROM seen_alloc s
  LEFT JOIN allocation.allocations_view v ON v.orderid = s.orderid AND v.sku = s.sku
 WHERE s.ref <> '-' AND v.batchref IS DISTINCT FROM s.ref
UNION ALL
-- ... with its Allocated event
SELECT 'committed line without its Allocated event', s.orderid, s.sku || ' ' || s.ref
  FROM seen_alloc s
 WHERE s.ref <> '-'
   AND NOT EXISTS (SELECT FROM ev e WHERE e.type = 'Allocated' AND e.sku = s.sku
					  AND e.orderid = s.orderid AND e.batchref = s.ref AND e.qty = s.qty)
UNION ALL
-- an out-of-stock answer a client saw committed: no line, an OutOfStock event
SELECT 'committed out-of-stock answer not kept', s.orderid,
	   format('line: %s, OutOfStock events: %s',
			  COALESCE((SELECT l.batchref FROM allocation.order_lines l
						 WHERE l.orderid = s.orderid AND l.sku = s.sku), 'none'),
			  (SELECT count(*) FROM ev e WHERE e.type = 'OutOfStock'
				  AND e.sku = s.sku AND e.orderid = s.orderid))
  FROM seen_alloc s
 WHERE s.ref = '-'
   AND (EXISTS (SELECT FROM allocation.order_lines l WHERE l.orderid = s.orderid AND l.sku = s.sku)
		OR NOT EXISTS (SELECT FROM ev e WHERE e.type = 'OutOfStock'
						  AND e.sku = s.sku AND e.orderid = s.orderid))
UNION ALL
-- a batch a client saw committed exists, unchanged, with its BatchCreated event
SELECT 'committed batch lost or without its event', s.ref,
	   format('client saw %s x%s; batches has %s; BatchCreated events: %s', s.sku, s.qty,
			  COALESCE(b.sku || ' x' || b.purchased_quantity, 'nothing'),
			  (SELECT count(*) FROM ev e WHERE e.type = 'BatchCreated' AND e.ref = s.ref))
  FROM seen_batch s
  LEFT JOIN allocation.batches b ON b.reference = s.ref
 WHERE b.sku IS DISTINCT FROM s.sku OR b.purchased_quantity <> s.qty
	OR (SELECT count(*) FROM ev e WHERE e.type = 'BatchCreated' AND e.ref = s.ref
		   AND e.sku = s.sku) <> 1
UNION ALL
-- a trace of a transaction that no client saw commit: allowed only for the
-- one transaction each client may have had in flight at the crash (its
-- COMMIT may have been durable without the client hearing of it)
SELECT 'trace of a transaction no client saw commit', t.id,
	   format('client %s of round %s had seen up to number %s', split_part(t.id, '-', 2),
			  split_part(t.id, '-', 1), COALESCE(c.last, 0))
  FROM traces t
  LEFT JOIN client_last c ON c.kind = t.kind AND c.round = split_part(t.id, '-', 1)
						 AND c.client = split_part(t.id, '-', 2)
 WHERE NOT EXISTS (SELECT FROM stress.seen s WHERE s.kind = t.kind AND s.id = t.id)
   AND split_part(t.id, '-', 3)::integer <> COALESCE(c.last, 0) + 1
ORDER BY 1, 2;
