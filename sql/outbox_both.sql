--
-- allocation.outbox_mode = both: every event is written twice, as an
-- outbox row and as a logical message in the WAL.  The two copies are one
-- event: the same id, type, aggregate, aggregate_seq, payload and
-- occurred_at, for events of every type, made by a generated run of
-- commands (add_batch, allocate, allocate_many, change_batch_quantity
-- with reallocation, deallocate, order tracking), many transactions and
-- chunks of rows long.  The messages are read from a logical slot with
-- pgoutput, as allocation-relay --source wal does.  Order ids, SKUs and
-- references of this file start with "BM-".
--
\set VERBOSITY terse
LOAD '$libdir/allocation';

CREATE PUBLICATION ob_pub;
SELECT 'ok' FROM pg_create_logical_replication_slot('ob_slot', 'pgoutput');

SET allocation.outbox_mode = 'both';
SELECT setseed(0.25);
DO $gen$
DECLARE
	skus constant text[] := ARRAY['BM-A', 'BM-B', 'BM-C'];
	sku text;
	ref text;
	oid text;
	lines allocation.order_line[];
BEGIN
	FOR i IN 1..9 LOOP
		PERFORM allocation.add_batch('BM-b' || i, skus[1 + i % 3], 4 + i,
									 CASE WHEN i % 2 = 0 THEN DATE '2027-01-01' + i END);
	END LOOP;
	FOR i IN 1..40 LOOP
		PERFORM allocation.create_order('BM-' || i);
	END LOOP;
	COMMIT;
	FOR i IN 1..400 LOOP
		sku := skus[1 + floor(random() * 3)::int];
		oid := 'BM-' || (1 + floor(random() * 50)::int);
		BEGIN
			CASE floor(random() * 8)::int
			WHEN 0 THEN
				PERFORM allocation.add_batch('BM-b' || (100 + i), sku,
											 1 + floor(random() * 12)::int,
											 CASE WHEN random() < 0.5 THEN DATE '2027-02-01' + i END);
			WHEN 1, 2 THEN
				PERFORM allocation.allocate(oid, sku, 1 + floor(random() * 4)::int);
			WHEN 3 THEN
				lines := ARRAY(SELECT ROW('BM-' || (1 + floor(random() * 50)::int),
										  skus[1 + floor(random() * 3)::int],
										  1 + floor(random() * 3)::int)::allocation.order_line
								 FROM generate_series(1, 1 + floor(random() * 6)::int));
				PERFORM * FROM allocation.allocate_many(lines);
			WHEN 4, 5 THEN
				-- often below what is allocated: lines move or run out of stock
				SELECT b.reference INTO ref FROM allocation.batches b
				 WHERE b.sku LIKE 'BM-%' ORDER BY random() LIMIT 1;
				PERFORM allocation.change_batch_quantity(ref, floor(random() * 8)::int);
			WHEN 6 THEN
				PERFORM allocation.deallocate(oid, sku);
			ELSE
				PERFORM allocation.change_order_status(oid,
					(ARRAY['allocated', 'backordered', 'shipped', 'delivered', 'cancelled'])
					[1 + floor(random() * 5)::int]);
			END CASE;
		EXCEPTION WHEN OTHERS THEN
			NULL;				-- an unknown order, a wrong status: no event
		END;
		IF i % 7 = 0 THEN
			COMMIT;
		END IF;
	END LOOP;
	-- one call with more events than a chunk of held-back rows
	SELECT ARRAY(SELECT ROW('BM-m' || g, 'BM-M', 1)::allocation.order_line
				   FROM generate_series(1, 1500) g) INTO lines;
	PERFORM allocation.add_batch('BM-bm', 'BM-M', 1200);
	PERFORM * FROM allocation.allocate_many(lines);
END
$gen$;
RESET allocation.outbox_mode;

-- the envelopes of the messages ("<id>\n<type>\n<envelope>", after the prefix)
CREATE TEMP TABLE ob_wal AS
SELECT convert_from(substring(data FROM position(convert_to('{"id" : ', 'UTF8') IN data)),
					'UTF8')::jsonb AS env
  FROM pg_logical_slot_get_binary_changes('ob_slot', NULL, NULL, 'proto_version', '1',
										  'publication_names', 'ob_pub', 'messages', 'true')
 WHERE get_byte(data, 0) = ascii('M');

-- every event of the run has both copies, and they are equal: the envelope
-- is the one the relay publishes from the outbox row (occurred_at in UTC)
SET TimeZone = 'UTC';
SELECT count(*) > 1800 AS many_events,
	   count(*) = count(w.env) AS each_in_wal,
	   count(*) FILTER (WHERE w.env = jsonb_build_object(
			'id', o.id, 'type', o.type, 'aggregatetype', o.aggregatetype,
			'aggregateid', o.aggregateid, 'aggregate_seq', o.aggregate_seq,
			'occurred_at', o.occurred_at, 'payload', o.payload)) = count(*) AS identical,
	   count(*) FILTER (WHERE (w.env->>'occurred_at')::timestamptz = o.occurred_at)
		 = count(*) AS same_occurred_at,
	   array_agg(DISTINCT o.type ORDER BY o.type) AS types
  FROM allocation.outbox o
  LEFT JOIN ob_wal w ON (w.env->>'id')::uuid = o.id
 WHERE o.aggregateid LIKE 'BM-%';
-- and no message without its row
SELECT count(*) AS messages_without_row
  FROM ob_wal w
 WHERE NOT EXISTS (SELECT FROM allocation.outbox o WHERE o.id = (w.env->>'id')::uuid);
-- a pair that differs, if any, to see how
SELECT o.id, o.occurred_at, w.env->>'occurred_at' AS wal_occurred_at
  FROM allocation.outbox o JOIN ob_wal w ON (w.env->>'id')::uuid = o.id
 WHERE (w.env->>'occurred_at')::timestamptz <> o.occurred_at
 LIMIT 1;
RESET TimeZone;

SELECT count(*) AS broken_invariants FROM allocation.check_invariants()
 WHERE object LIKE 'BM-%';

SELECT pg_drop_replication_slot('ob_slot');
DROP PUBLICATION ob_pub;
