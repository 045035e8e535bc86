--
-- The transactional outbox (the contract: events): the relay's column names and
-- types, aggregatetype/aggregateid, one event for every change, nothing
-- for a change that did not commit, and aggregate_seq 1..n without gaps
-- per SKU.  SKUs, references and order ids of this file start with "OB-".
--
\set VERBOSITY terse

-- the columns of the contract's events exist with their types
SELECT a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type
  FROM pg_attribute a
 WHERE a.attrelid = 'allocation.outbox'::regclass
   AND a.attname IN ('id', 'aggregatetype', 'aggregateid', 'type', 'payload', 'occurred_at')
   AND NOT a.attisdropped
 ORDER BY a.attnum;

-- Is aggregate_seq 1, 2, ..., n for a SKU?
PREPARE seq_gapless(text) AS
SELECT count(*) AS events,
       min(aggregate_seq) = 1 AND max(aggregate_seq) = count(*)
       AND count(DISTINCT aggregate_seq) = count(*) AS gapless
  FROM allocation.outbox WHERE aggregateid = $1;

-- one of each command on OB-KETTLE; every change has its event, in the order
-- of the changes, with aggregatetype product and aggregateid the SKU
SELECT allocation.add_batch('OB-K1', 'OB-KETTLE', 5);
SELECT allocation.add_batch('OB-K2', 'OB-KETTLE', 5, '2031-01-01');
SELECT allocation.allocate('OB-o1', 'OB-KETTLE', 2);
SELECT allocation.allocate('OB-o2', 'OB-KETTLE', 3);
SELECT allocation.allocate('OB-o3', 'OB-KETTLE', 6) IS NULL AS out_of_stock;
SELECT allocation.deallocate('OB-o1', 'OB-KETTLE');
SELECT allocation.change_batch_quantity('OB-K1', 2);
SELECT aggregate_seq, aggregatetype, aggregateid, type, payload
  FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE' ORDER BY aggregate_seq;
EXECUTE seq_gapless('OB-KETTLE');

-- the payload keys of each event type are those of the contract's events
SELECT type, array_agg(DISTINCT k ORDER BY k) AS payload_keys
  FROM allocation.outbox, jsonb_object_keys(payload) k
 WHERE aggregateid = 'OB-KETTLE' GROUP BY type ORDER BY type;

-- commands that change nothing record nothing: an idempotent allocate and
-- deallocating a line that is not allocated
SELECT count(*) AS n FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE' \gset
SELECT allocation.allocate('OB-o2', 'OB-KETTLE', 3);
SELECT allocation.deallocate('OB-o1', 'OB-KETTLE') IS NULL AS not_allocated;
SELECT count(*) - :n AS new_events FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE';

-- every event has a distinct uuid id and an occurred_at
SELECT count(*) = count(DISTINCT id) AS ids_distinct,
       bool_and(id IS NOT NULL) AS ids_set,
       bool_and(occurred_at IS NOT NULL AND occurred_at <= clock_timestamp()) AS occurred_at_set
  FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE';

-- occurred_at follows the order of the events of a SKU
SELECT bool_and(occurred_at >= prev) AS in_order
  FROM (SELECT occurred_at, lag(occurred_at) OVER (ORDER BY aggregate_seq) AS prev
          FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE') e;

-- the events of a rolled-back transaction vanish, whatever the command
SELECT count(*) AS n FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE' \gset
BEGIN;
SELECT allocation.add_batch('OB-K3', 'OB-KETTLE', 5);
SELECT allocation.allocate('OB-o4', 'OB-KETTLE', 1);
SELECT allocation.allocate('OB-o5', 'OB-KETTLE', 100) IS NULL AS out_of_stock;
SELECT allocation.deallocate('OB-o2', 'OB-KETTLE');
SELECT allocation.change_batch_quantity('OB-K2', 0);
SELECT count(*) - :n AS new_events_inside FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE';
ROLLBACK;
SELECT count(*) - :n AS new_events FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE';

-- ... and so do those of a product created in a rolled-back transaction
BEGIN;
SELECT allocation.add_batch('OB-T1', 'OB-TOASTER', 5);
ROLLBACK;
SELECT count(*) AS toaster_events FROM allocation.outbox WHERE aggregateid = 'OB-TOASTER';

-- ... and so do those of a transaction that failed after the command
BEGIN;
SELECT allocation.allocate('OB-o6', 'OB-KETTLE', 1);
SELECT 1 / 0;
COMMIT;
SELECT count(*) - :n AS new_events FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE';

-- aggregate_seq stays gapless across those rollbacks: the next event
-- continues the sequence
SELECT allocation.allocate('OB-o7', 'OB-KETTLE', 1);
EXECUTE seq_gapless('OB-KETTLE');

-- a rollback to a savepoint removes the events of the undone commands only,
-- and the sequence still has no gap
SELECT count(*) AS n FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE' \gset
BEGIN;
SELECT allocation.allocate('OB-o8', 'OB-KETTLE', 1);
SAVEPOINT s1;
SELECT allocation.allocate('OB-o9', 'OB-KETTLE', 1);
ROLLBACK TO SAVEPOINT s1;
SELECT allocation.allocate('OB-o10', 'OB-KETTLE', 1);
COMMIT;
SELECT aggregate_seq - :n AS seq, type, payload ->> 'orderid' AS orderid
  FROM allocation.outbox WHERE aggregateid = 'OB-KETTLE' AND aggregate_seq > :n
 ORDER BY aggregate_seq;
EXECUTE seq_gapless('OB-KETTLE');

-- the sequence is per SKU: a second product starts at 1 and interleaved
-- commands on two SKUs keep both gapless
SELECT allocation.add_batch('OB-M1', 'OB-MUG', 5);
SELECT allocation.allocate('OB-o11', 'OB-MUG', 1);
SELECT allocation.allocate('OB-o11', 'OB-KETTLE', 1);
SELECT allocation.allocate('OB-o12', 'OB-MUG', 1);
SELECT aggregate_seq, type FROM allocation.outbox
 WHERE aggregateid = 'OB-MUG' ORDER BY aggregate_seq;
EXECUTE seq_gapless('OB-MUG');
EXECUTE seq_gapless('OB-KETTLE');

-- every product event says aggregatetype product and names its SKU as
-- aggregateid (and the SKU in the payload agrees)
SELECT aggregatetype, count(*) > 0 AS has_events,
       bool_and(aggregateid = payload ->> 'sku') AS aggregateid_is_sku
  FROM allocation.outbox WHERE aggregateid LIKE 'OB-%' GROUP BY aggregatetype;

-- an event for every change: each allocated line of OB-KETTLE has an
-- Allocated event naming its batch that no later Deallocated undid, and
-- each batch's allocated quantity is the sum of those lines
WITH ev AS (
  SELECT payload ->> 'orderid' AS orderid, payload ->> 'batchref' AS batchref,
         (payload ->> 'qty')::int AS qty, type,
         row_number() OVER (PARTITION BY payload ->> 'orderid' ORDER BY aggregate_seq DESC) AS rn
    FROM allocation.outbox
   WHERE aggregateid = 'OB-KETTLE' AND type IN ('Allocated', 'Deallocated')),
live AS (SELECT * FROM ev WHERE rn = 1 AND type = 'Allocated')
SELECT s.reference, s.allocated,
       (SELECT coalesce(sum(qty), 0) FROM live WHERE live.batchref = s.reference) AS from_events
  FROM allocation.stock s WHERE s.sku = 'OB-KETTLE' ORDER BY s.reference;

DEALLOCATE seq_gapless;

-- event ids are time-ordered UUIDs (version 7, RFC 9562): the version and
-- variant bits are set, the first 48 bits are the Unix time in ms of the
-- event (within a second of occurred_at), and the ids one session makes
-- follow each other in the order of the events
SELECT count(*) > 0 AS some_events,
       bool_and(substr(id::text, 15, 1) = '7') AS version_7,
       bool_and(substr(id::text, 20, 1) IN ('8', '9', 'a', 'b')) AS variant_rfc,
       bool_and(abs(('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
                    - (extract(epoch FROM occurred_at) * 1000)::bigint) < 1000) AS time_in_id
  FROM allocation.outbox WHERE aggregateid LIKE 'OB-%';
SELECT count(*) AS out_of_order
  FROM (SELECT id, lag(id) OVER (ORDER BY position) AS prev
          FROM allocation.outbox WHERE aggregateid LIKE 'OB-%') o
 WHERE id <= prev;
