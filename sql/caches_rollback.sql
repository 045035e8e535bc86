--
-- Backend caches against rollback.  Each cache of the extension is filled
-- inside a transaction that rolls back; the next transaction must behave
-- as if that one never ran.  (The outbox consumers' side of the clock
-- cache, with concurrent sessions, is the isolation spec
-- clock_offset_rollback.)  Names start with "cr_" / "CR-".
--
\set VERBOSITY terse

DROP EXTENSION allocation;
CREATE EXTENSION allocation;
SELECT allocation.add_batch('CR-B1', 'CR-SKU', 100);
CREATE ROLE cr_weak NOLOGIN;

-- a trigger on an extension table says whose rights the owner's
-- statements run with
CREATE FUNCTION cr_whoami() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'batches updated as %',
		CASE WHEN current_user = (SELECT extowner::regrole::name
									FROM pg_extension WHERE extname = 'allocation')
			 THEN 'the extension owner' ELSE current_user::text END;
	RETURN NEW;
END
$$;
CREATE TRIGGER cr_whoami BEFORE UPDATE ON allocation.batches
	FOR EACH ROW EXECUTE FUNCTION cr_whoami();

------------------------------------------------------------------------
-- The clock offset (outbox.c): a restore into another cluster leaves
-- keys above this cluster's transaction ids and no clock of this cluster.
-- The first command of a backend sets the clock and rolls back: the
-- offset it computed was never stored, and the next command must not use
-- it (it stores and uses one of its own).
------------------------------------------------------------------------
UPDATE allocation.outbox SET commit_key = commit_key + 1000000;
UPDATE allocation.product_state SET event_key = event_key + 1000000;
DELETE FROM allocation.outbox_clock;
\c
\set VERBOSITY terse
BEGIN;
SELECT allocation.allocate('CR-o1', 'CR-SKU', 1);
SELECT count(*) AS clock_rows FROM allocation.outbox_clock;
ROLLBACK;
SELECT count(*) AS clock_rows FROM allocation.outbox_clock;
-- transaction ids go by, as they do when other sessions work
SELECT pg_current_xact_id() IS NOT NULL AS xid_used;
SELECT pg_current_xact_id() IS NOT NULL AS xid_used;
SELECT allocation.allocate('CR-o2', 'CR-SKU', 1);
-- the offset in use is the one stored, and the event's key was made with it
SELECT allocation._clock_offset() = key_offset AS offset_is_stored
  FROM allocation.outbox_clock;
SELECT o.commit_key >= c.key_offset + o.xmin::text::bigint AS key_made_with_it
  FROM allocation.outbox o, allocation.outbox_clock c
 WHERE o.type = 'Allocated' AND o.payload->>'orderid' = 'CR-o2';
-- the same in a savepoint rolled back inside a transaction that commits
DELETE FROM allocation.outbox_clock;
\c
\set VERBOSITY terse
BEGIN;
SAVEPOINT s;
SELECT allocation.allocate('CR-o3', 'CR-SKU', 1);
ROLLBACK TO s;
SELECT allocation.allocate('CR-o4', 'CR-SKU', 1);
COMMIT;
SELECT allocation._clock_offset() = key_offset AS offset_is_stored
  FROM allocation.outbox_clock;

------------------------------------------------------------------------
-- The extension owner (session.c): a change of pg_extension.extowner
-- seen by a command of a transaction that rolls back
------------------------------------------------------------------------
SELECT allocation.change_batch_quantity('CR-B1', 101);
BEGIN;
UPDATE pg_extension SET extowner = 'cr_weak'::regrole WHERE extname = 'allocation';
-- cr_weak has no right on the tables
SELECT allocation.change_batch_quantity('CR-B1', 102);
ROLLBACK;
SELECT allocation.change_batch_quantity('CR-B1', 103);

------------------------------------------------------------------------
-- The kept plans (spi.c): prepared against the tables of an
-- extension created by a transaction that rolls back
------------------------------------------------------------------------
DROP TRIGGER cr_whoami ON allocation.batches;
BEGIN;
DROP EXTENSION allocation;
CREATE EXTENSION allocation;
SELECT allocation.add_batch('CR-B2', 'CR-SKU', 5);
SELECT allocation.allocate('CR-o5', 'CR-SKU', 1);
ROLLBACK;
SELECT allocation.allocate('CR-o6', 'CR-SKU', 1);
SELECT reference, allocated FROM allocation.stock ORDER BY reference;

------------------------------------------------------------------------
-- The plugin list (isolation.c): loaded with a subscription that rolls
-- back
------------------------------------------------------------------------
CREATE FUNCTION cr_plugin(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'cr_plugin: % of %', event->>'type', event->'payload'->>'orderid';
END
$$;
BEGIN;
SELECT allocation.subscribe('Allocated', 'cr_plugin(jsonb)');
SELECT allocation.allocate('CR-o7', 'CR-SKU', 1);
ROLLBACK;
-- no plugin: no notice
SELECT allocation.allocate('CR-o8', 'CR-SKU', 1);

------------------------------------------------------------------------
-- The "any order at all?" answer (order_repository.c): filled by a transaction
-- whose order rolls back
------------------------------------------------------------------------
BEGIN;
SELECT allocation.create_order('CR-100');
SELECT allocation.allocate('CR-100', 'CR-SKU', 1);
SELECT allocation.order_status('CR-100');
ROLLBACK;
SELECT allocation.create_order('CR-101');
SELECT allocation.allocate('CR-101', 'CR-SKU', 1);
SELECT allocation.order_status('CR-101');

SELECT * FROM allocation.check_invariants();

-- clean up
DROP FUNCTION cr_whoami();
DROP FUNCTION cr_plugin(jsonb);
DROP ROLE cr_weak;
