--
-- check_invariants() across switches of allocation.outbox_mode.  An event
-- written in mode wal has no outbox row, so the outbox table is not a
-- product's whole history once it had one: product_state.wal_only_seq
-- keeps the last such event, the sequence check looks at the rows after
-- it, and the history checks skip the product (as after a purge).  No
-- false violation after a switch in any direction, with commands in
-- between; a real violation made after a switch is still reported.  SKUs,
-- references and order ids of this file start with "OS-".
--
\set VERBOSITY terse
LOAD '$libdir/allocation';

-- the violations about this file's objects (a variable: it outlives \c)
\set os_check 'SELECT invariant, object, detail FROM allocation.check_invariants() WHERE object LIKE ''OS-%'' ORDER BY invariant, object'

------------------------------------------------------------------------
-- The documented switch: ALTER DATABASE, then a new session
------------------------------------------------------------------------
SELECT allocation.add_batch('OS-b1', 'OS-DOC', 10);
SELECT allocation.allocate('OS-1', 'OS-DOC', 1);
SELECT format('ALTER DATABASE %I SET allocation.outbox_mode = wal', current_database()) \gexec
\c
SELECT allocation.allocate('OS-2', 'OS-DOC', 1);
SHOW allocation.outbox_mode;
SELECT allocation.deallocate('OS-1', 'OS-DOC');
SELECT allocation.add_batch('OS-b2', 'OS-DOC', 5);
:os_check;
-- and back to the table
SELECT format('ALTER DATABASE %I RESET allocation.outbox_mode', current_database()) \gexec
\c
SELECT allocation.allocate('OS-3', 'OS-DOC', 1);
SHOW allocation.outbox_mode;
SELECT allocation.change_batch_quantity('OS-b1', 1);
SELECT sku, event_seq, wal_only_seq FROM allocation.product_state WHERE sku = 'OS-DOC';
SELECT aggregate_seq, type FROM allocation.outbox WHERE aggregateid = 'OS-DOC' ORDER BY aggregate_seq;
:os_check;

------------------------------------------------------------------------
-- Generated: rounds of commands, each round in a mode drawn at random
-- (table, wal, both), check_invariants() after each
------------------------------------------------------------------------
CREATE TEMP TABLE os_rounds (round int, mode text, violations int);
SELECT setseed(0.5);
DO $gen$
DECLARE
	skus constant text[] := ARRAY['OS-A', 'OS-B', 'OS-C', 'OS-D'];
	modes constant text[] := ARRAY['table', 'wal', 'both'];
	mode text;
	sku text;
	ref text;
	oid text;
BEGIN
	FOR r IN 1..60 LOOP
		mode := modes[1 + floor(random() * 3)::int];
		PERFORM set_config('allocation.outbox_mode', mode, false);
		FOR c IN 1..6 LOOP
			sku := skus[1 + floor(random() * 4)::int];
			oid := 'OS-o' || (1 + floor(random() * 30)::int);
			BEGIN
				CASE floor(random() * 6)::int
				WHEN 0 THEN
					PERFORM allocation.add_batch('OS-b' || r || '-' || c, sku,
												 1 + floor(random() * 8)::int);
				WHEN 1, 2 THEN
					PERFORM allocation.allocate(oid, sku, 1 + floor(random() * 3)::int);
				WHEN 3 THEN
					PERFORM * FROM allocation.allocate_many(ARRAY(
						SELECT ROW('OS-o' || (1 + floor(random() * 30)::int),
								   skus[1 + floor(random() * 4)::int], 1)::allocation.order_line
						  FROM generate_series(1, 3)));
				WHEN 4 THEN
					SELECT b.reference INTO ref FROM allocation.batches b
					 WHERE b.sku LIKE 'OS-%' AND b.sku <> 'OS-DOC' ORDER BY random() LIMIT 1;
					PERFORM allocation.change_batch_quantity(ref, floor(random() * 5)::int);
				ELSE
					PERFORM allocation.deallocate(oid, sku);
				END CASE;
			EXCEPTION WHEN OTHERS THEN
				NULL;			-- unknown SKU or line: no event
			END;
		END LOOP;
		COMMIT;
		INSERT INTO os_rounds
		SELECT r, mode, count(*) FROM allocation.check_invariants() WHERE object LIKE 'OS-%';
		COMMIT;
	END LOOP;
END
$gen$;
RESET allocation.outbox_mode;

-- every switch was made (from each mode to each other), and no round
-- left a violation
SELECT count(DISTINCT (p.mode, n.mode)) FILTER (WHERE p.mode <> n.mode) AS switches,
	   sum(n.violations) AS violations
  FROM os_rounds p JOIN os_rounds n ON n.round = p.round + 1;
-- products with events in the WAL only and events in the table
SELECT count(*) FILTER (WHERE p.wal_only_seq > 0
						 AND EXISTS (SELECT FROM allocation.outbox o
									  WHERE o.aggregateid = p.sku)) > 0 AS mixed_history
  FROM allocation.product_state p WHERE p.sku LIKE 'OS-%';
:os_check;

------------------------------------------------------------------------
-- Real violations after a switch are still reported
------------------------------------------------------------------------
-- OS-X: events in the table, then in the WAL only, then in the table
SELECT allocation.add_batch('OS-x1', 'OS-X', 10);
SELECT allocation.allocate('OS-x-o1', 'OS-X', 2);
SET allocation.outbox_mode = wal;
SELECT allocation.allocate('OS-x-o2', 'OS-X', 2);
SET allocation.outbox_mode = 'both';
SELECT allocation.allocate('OS-x-o3', 'OS-X', 2);
RESET allocation.outbox_mode;
SELECT allocation.allocate('OS-x-o4', 'OS-X', 2);
SELECT allocation.allocate('OS-x-o5', 'OS-X', 2);
-- OS-Y: born in the WAL only, then in the table
SET allocation.outbox_mode = wal;
SELECT allocation.add_batch('OS-y1', 'OS-Y', 10);
RESET allocation.outbox_mode;
SELECT allocation.allocate('OS-y-o1', 'OS-Y', 1);
SELECT allocation.allocate('OS-y-o2', 'OS-Y', 1);
SELECT allocation.allocate('OS-y-o3', 'OS-Y', 1);
-- OS-Z: in the table only, beside them: its history is checked whole
SELECT allocation.add_batch('OS-z1', 'OS-Z', 10);
SELECT allocation.allocate('OS-z-o1', 'OS-Z', 1);
SELECT sku, event_seq, wal_only_seq FROM allocation.product_state
 WHERE sku IN ('OS-X', 'OS-Y', 'OS-Z') ORDER BY sku;
:os_check;

-- an event after the switch deleted: a gap
BEGIN;
DELETE FROM allocation.outbox WHERE aggregateid = 'OS-X' AND aggregate_seq = 5;
DELETE FROM allocation.outbox WHERE aggregateid = 'OS-Y' AND aggregate_seq = 3;
DELETE FROM allocation.outbox WHERE aggregateid = 'OS-Z' AND aggregate_seq = 2;
:os_check;
ROLLBACK;

-- the last event deleted, and the counter ahead of the outbox
BEGIN;
DELETE FROM allocation.outbox WHERE aggregateid = 'OS-X' AND aggregate_seq = 6;
UPDATE allocation.product_state SET event_seq = event_seq + 1 WHERE sku = 'OS-Y';
:os_check;
ROLLBACK;

-- the rest holds as before: a batch counter, the read model, a version
BEGIN;
UPDATE allocation.batches SET allocated_quantity = allocated_quantity - 1 WHERE reference = 'OS-x1';
DELETE FROM allocation.allocations_view WHERE orderid = 'OS-y-o1';
UPDATE allocation.product_state SET version_number = event_seq + 1 WHERE sku = 'OS-Y';
:os_check;
ROLLBACK;

:os_check;
