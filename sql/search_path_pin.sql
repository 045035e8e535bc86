--
-- The owner's statements never run an object of the caller's search_path.
-- The commands switch to the extension owner's rights for their SQL; a
-- kept plan is analysed again under the search_path of the moment, so an
-- unqualified name there (the clock reset's max() was one) would run a
-- caller's function, aggregate or operator as the owner.  The commands pin
-- search_path while the owner's statements run, and give the caller's back
-- on every way out.
--
-- A hostile schema holds shadows of what the statements use; each shadow
-- counts its calls in a sequence (nextval survives a rollback, so no error
-- can hide a call).  The clock reset runs right after CREATE EXTENSION and
-- whenever the clock is empty or belongs to another cluster (a restore,
-- simulated by deleting the row as superuser), in a new backend.
-- Names start with "sp_" / "SP-".
--
\set VERBOSITY terse

CREATE ROLE sp_admin NOLOGIN;
GRANT allocation_admin TO sp_admin;
CREATE ROLE sp_user NOLOGIN;
GRANT allocation_user TO sp_user;

CREATE SCHEMA sp_evil;
GRANT USAGE ON SCHEMA sp_evil TO PUBLIC;
CREATE SEQUENCE sp_evil.hits;
GRANT USAGE, SELECT ON SEQUENCE sp_evil.hits TO PUBLIC;
-- one call counted; every name in the shadows is qualified (no recursion)
CREATE FUNCTION sp_evil.hit() RETURNS bigint LANGUAGE sql
	AS $$ SELECT pg_catalog.nextval('sp_evil.hits') $$;

-- aggregates: max(bigint) (the clock reset's), count(*), min(bigint); the
-- final function runs even over no row (a fresh install's empty tables)
CREATE FUNCTION sp_evil.agg_step(s bigint, v bigint) RETURNS bigint
	LANGUAGE sql AS $$ SELECT pg_catalog.int8larger(s, v) $$;
CREATE FUNCTION sp_evil.agg_final(s bigint) RETURNS bigint
	LANGUAGE sql AS $$ SELECT s FROM sp_evil.hit() $$;
CREATE AGGREGATE sp_evil.max(bigint) (SFUNC = sp_evil.agg_step, STYPE = bigint,
	FINALFUNC = sp_evil.agg_final);
CREATE AGGREGATE sp_evil.min(bigint) (SFUNC = sp_evil.agg_step, STYPE = bigint,
	FINALFUNC = sp_evil.agg_final);
CREATE FUNCTION sp_evil.count_step(s bigint) RETURNS bigint
	LANGUAGE sql AS $$ SELECT s $$;
CREATE AGGREGATE sp_evil.count(*) (SFUNC = sp_evil.count_step, STYPE = bigint,
	INITCOND = '0', FINALFUNC = sp_evil.agg_final);
-- functions
CREATE FUNCTION sp_evil.clock_timestamp() RETURNS timestamptz LANGUAGE sql
	AS $$ SELECT pg_catalog.clock_timestamp() FROM sp_evil.hit() $$;
CREATE FUNCTION sp_evil.unnest(a anyarray) RETURNS SETOF anyelement LANGUAGE sql
	AS $$ SELECT pg_catalog.unnest(a) FROM sp_evil.hit() $$;
CREATE FUNCTION sp_evil.btrim(t text) RETURNS text LANGUAGE sql
	AS $$ SELECT pg_catalog.btrim(t) FROM sp_evil.hit() $$;
CREATE FUNCTION sp_evil.length(t text) RETURNS integer LANGUAGE sql
	AS $$ SELECT pg_catalog.length(t) FROM sp_evil.hit() $$;
CREATE FUNCTION sp_evil.pg_current_snapshot() RETURNS pg_snapshot LANGUAGE sql
	AS $$ SELECT pg_catalog.pg_current_snapshot() FROM sp_evil.hit() $$;
CREATE FUNCTION sp_evil.pg_snapshot_xmin(s pg_snapshot) RETURNS xid8 LANGUAGE sql
	AS $$ SELECT pg_catalog.pg_snapshot_xmin(s) FROM sp_evil.hit() $$;
-- operators
CREATE FUNCTION sp_evil.text_eq(a text, b text) RETURNS boolean LANGUAGE sql
	AS $$ SELECT pg_catalog.texteq(a, b) FROM sp_evil.hit() $$;
CREATE OPERATOR sp_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sp_evil.text_eq);
CREATE FUNCTION sp_evil.int8_mi(a bigint, b bigint) RETURNS bigint LANGUAGE sql
	AS $$ SELECT pg_catalog.int8mi(a, b) FROM sp_evil.hit() $$;
CREATE OPERATOR sp_evil.- (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = sp_evil.int8_mi);
CREATE FUNCTION sp_evil.int8_pl(a bigint, b bigint) RETURNS bigint LANGUAGE sql
	AS $$ SELECT pg_catalog.int8pl(a, b) FROM sp_evil.hit() $$;
CREATE OPERATOR sp_evil.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = sp_evil.int8_pl);
CREATE FUNCTION sp_evil.int8_lt(a bigint, b bigint) RETURNS boolean LANGUAGE sql
	AS $$ SELECT pg_catalog.int8lt(a, b) FROM sp_evil.hit() $$;
CREATE OPERATOR sp_evil.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = sp_evil.int8_lt);
CREATE FUNCTION sp_evil.int8_ge(a bigint, b bigint) RETURNS boolean LANGUAGE sql
	AS $$ SELECT pg_catalog.int8ge(a, b) FROM sp_evil.hit() $$;
CREATE OPERATOR sp_evil.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = sp_evil.int8_ge);
CREATE FUNCTION sp_evil.int8_ne(a bigint, b bigint) RETURNS boolean LANGUAGE sql
	AS $$ SELECT pg_catalog.int8ne(a, b) FROM sp_evil.hit() $$;
CREATE OPERATOR sp_evil.<> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = sp_evil.int8_ne);

-- calls of the shadows since the last restart of the counter
CREATE VIEW sp_shadow_calls AS
	SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS shadow_calls
	  FROM sp_evil.hits;

-- the shadows work: the caller's own query runs them (as the caller)
SET search_path = sp_evil, pg_catalog;
SELECT max(x) FROM (VALUES (1::bigint), (2::bigint)) v(x);
RESET search_path;
SELECT * FROM sp_shadow_calls;
ALTER SEQUENCE sp_evil.hits RESTART;

------------------------------------------------------------------------
-- 1. Right after CREATE EXTENSION, as allocation_admin: the first event
--    sets the clock (its reset statement aggregates with max)
------------------------------------------------------------------------
DROP EXTENSION allocation;
CREATE EXTENSION allocation;
SET ROLE sp_admin;
SET search_path = sp_evil, pg_catalog;
SELECT allocation.add_batch('SP-B1', 'SP-SKU', 100);
RESET search_path;
RESET ROLE;
SELECT * FROM sp_shadow_calls;
SELECT count(*) AS clock_rows FROM allocation.outbox_clock;

------------------------------------------------------------------------
-- 2. An empty clock (a restore into another cluster), as allocation_user,
--    in a new backend (the clock offset is cached per backend)
------------------------------------------------------------------------
ALTER SEQUENCE sp_evil.hits RESTART;
DELETE FROM allocation.outbox_clock;
\c
\set VERBOSITY terse
SET ROLE sp_user;
SET search_path = sp_evil, pg_catalog;
SELECT allocation.allocate('SP-o1', 'SP-SKU', 1);
RESET search_path;
RESET ROLE;
SELECT * FROM sp_shadow_calls;
SELECT count(*) AS clock_rows FROM allocation.outbox_clock;

------------------------------------------------------------------------
-- 3. The same as allocation_admin, through the consumer API (whose
--    frontier reads the clock from a function with a SET search_path
--    clause of its own: a guard that this stays so)
------------------------------------------------------------------------
ALTER SEQUENCE sp_evil.hits RESTART;
DELETE FROM allocation.outbox_clock;
\c
\set VERBOSITY terse
SET ROLE sp_admin;
SET search_path = sp_evil, pg_catalog;
SELECT allocation.register_consumer('sp-consumer', false);
RESET search_path;
RESET ROLE;
SELECT * FROM sp_shadow_calls;
SELECT count(*) AS clock_rows FROM allocation.outbox_clock;

------------------------------------------------------------------------
-- 4. A clock of another cluster (the row is there, another system id)
------------------------------------------------------------------------
ALTER SEQUENCE sp_evil.hits RESTART;
UPDATE allocation.outbox_clock SET system_identifier = system_identifier + 1;
\c
\set VERBOSITY terse
SET ROLE sp_user;
SET search_path = sp_evil, pg_catalog;
SELECT allocation.allocate('SP-o2', 'SP-SKU', 1);
RESET search_path;
RESET ROLE;
SELECT * FROM sp_shadow_calls;
SELECT system_identifier = (SELECT system_identifier FROM pg_control_system())
	AS clock_is_ours FROM allocation.outbox_clock;

------------------------------------------------------------------------
-- 5. Every command, in a new backend (every plan analysed under the
--    hostile path the first time it runs)
------------------------------------------------------------------------
ALTER SEQUENCE sp_evil.hits RESTART;
\c
\set VERBOSITY terse
-- a plugin: it runs with its subscriber's search_path, not the pinned one
CREATE SCHEMA sp_plug;
GRANT USAGE ON SCHEMA sp_plug TO PUBLIC;
CREATE FUNCTION sp_plug.where_am_i() RETURNS text LANGUAGE sql
	AS $$ SELECT 'sp_plug' $$;
CREATE FUNCTION public.sp_plugin(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'sp_plugin: % in % (search_path %)', event->>'type', where_am_i(),
		current_setting('search_path');
END
$$;
SET ROLE sp_admin;
SET search_path = sp_plug, public;
SELECT allocation.subscribe('Allocated', 'sp_plugin(jsonb)');
SET search_path = sp_evil, pg_catalog;
SELECT allocation.add_batch('SP-B2', 'SP-SKU', 10, '2030-01-01');
SELECT allocation.allocate('SP-o3', 'SP-SKU', 2);
SELECT allocation.deallocate('SP-o3', 'SP-SKU');
SELECT allocation.change_batch_quantity('SP-B2', 5);
SELECT allocation.allocate_many(ARRAY[('SP-o4', 'SP-SKU', 1)]::allocation.order_line[]);
SELECT allocation.handle('{"type": "Allocate", "orderid": "SP-o5", "sku": "SP-SKU", "qty": 1, "message_id": "sp-m1"}');
SELECT allocation.create_order('SP-100');
SELECT allocation.subscribe_to_order('SP-100', 'sp@example.com');
SELECT allocation.change_order_status('SP-100', 'cancelled');
SELECT allocation.order_status('SP-100');
SELECT sku, batchref FROM allocation.allocations('SP-o1');
SELECT allocation.rebuild_read_model();
SELECT type FROM allocation.read_events('sp-consumer', 1);
SELECT allocation.register_consumer('sp-consumer-2');
SELECT allocation.unregister_consumer('sp-consumer-2');
SELECT allocation.purge_outbox();
SELECT allocation.unsubscribe('Allocated', 'public.sp_plugin(jsonb)');
SELECT allocation.check_invariants();
RESET search_path;
RESET ROLE;
SELECT * FROM sp_shadow_calls;

------------------------------------------------------------------------
-- 6. The pin is undone on every way out
------------------------------------------------------------------------
-- a trigger on an extension table shows the path the owner's statements
-- run with, and raises when asked to (an error in the middle of a command)
CREATE FUNCTION sp_show_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'statement of the owner runs with search_path %',
		current_setting('search_path');
	IF NEW.purchased_quantity = 13 THEN
		RAISE EXCEPTION 'unlucky quantity' USING ERRCODE = 'P0013';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER sp_show_path BEFORE UPDATE ON allocation.batches
	FOR EACH ROW EXECUTE FUNCTION sp_show_path();
SET search_path = public, sp_plug;
-- after a command that succeeds
SELECT allocation.change_batch_quantity('SP-B2', 6);
SHOW search_path;
-- after a domain error (raised once the session is closed)
SELECT allocation.allocate('SP-o7', 'SP-NOPE', 1);
SHOW search_path;
-- after an error in the middle of the command
SELECT allocation.change_batch_quantity('SP-B2', 13);
SHOW search_path;
-- the same inside a subtransaction the caller goes on from
DO $$
BEGIN
	PERFORM allocation.change_batch_quantity('SP-B2', 13);
EXCEPTION WHEN others THEN
	RAISE NOTICE 'caught %, search_path %', SQLSTATE, current_setting('search_path');
END
$$;
BEGIN;
SAVEPOINT a;
SELECT allocation.change_batch_quantity('SP-B2', 13);
ROLLBACK TO a;
SHOW search_path;
-- a SET LOCAL of the caller survives the commands of its transaction
SET LOCAL search_path = sp_plug;
SELECT allocation.change_batch_quantity('SP-B2', 7);
SHOW search_path;
COMMIT;
SHOW search_path;
DROP TRIGGER sp_show_path ON allocation.batches;
RESET search_path;

------------------------------------------------------------------------
-- Clean up
------------------------------------------------------------------------
DROP FUNCTION sp_show_path();
DROP VIEW sp_shadow_calls;
DROP SCHEMA sp_evil CASCADE;
DROP FUNCTION public.sp_plugin(jsonb);
DROP SCHEMA sp_plug CASCADE;
DROP ROLE sp_admin, sp_user;
