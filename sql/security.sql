--
-- Security (the contract: security model): the roles allocation_admin and
-- allocation_user, who may call which function and read which relation,
-- nobody writing the tables directly, nothing granted to PUBLIC, and
-- functions that cannot be tricked by objects in the caller's search_path.
-- SKUs, references and order ids of this file start with "SE-"; roles,
-- schemas and helper functions start with "se_" (roles are cluster-wide).
--
\set VERBOSITY terse

------------------------------------------------------------------------
-- The roles
------------------------------------------------------------------------

-- both roles exist, cannot log in, are no superusers; admin is a member
-- of user (and not the other way round)
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit
  FROM pg_roles WHERE rolname IN ('allocation_admin', 'allocation_user') ORDER BY rolname;
SELECT pg_has_role('allocation_admin', 'allocation_user', 'MEMBER') AS admin_is_user,
       pg_has_role('allocation_user', 'allocation_admin', 'MEMBER') AS user_is_admin;

-- the people of this file: login roles, one per group and one in neither
CREATE ROLE se_admin LOGIN;
GRANT allocation_admin TO se_admin;
CREATE ROLE se_user LOGIN;
GRANT allocation_user TO se_user;
CREATE ROLE se_nobody LOGIN;

------------------------------------------------------------------------
-- Nothing is granted to PUBLIC
------------------------------------------------------------------------

-- the schema, its relations and its functions have no PUBLIC entry (a
-- function with a NULL ACL would be executable by PUBLIC)
SELECT count(*) AS public_grants_on_schema
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'allocation' AND a.grantee = 0;
SELECT count(*) AS public_grants_on_relations
  FROM pg_class c, aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
 WHERE c.relnamespace = 'allocation'::regnamespace AND a.grantee = 0;
SELECT count(*) AS public_grants_on_functions
  FROM pg_proc p, aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'allocation'::regnamespace AND a.grantee = 0;

-- nor its types that are not a relation's row type (those follow their
-- relation; an array type follows its element)
SELECT t.oid::regtype AS public_usage_on_type
  FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid,
	   aclexplode(COALESCE(t.typacl, acldefault('T', t.typowner))) a
 WHERE t.typnamespace = 'allocation'::regnamespace AND t.typelem = 0
   AND (c.relkind IS NULL OR c.relkind = 'c') AND a.grantee = 0
 ORDER BY 1;

-- functions that run with the owner's rights pin search_path
SELECT p.oid::regprocedure AS security_definer_without_search_path
  FROM pg_proc p
 WHERE p.pronamespace = 'allocation'::regnamespace AND p.prosecdef
   AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
 ORDER BY 1;

------------------------------------------------------------------------
-- A fixture every function can be called on
------------------------------------------------------------------------
SELECT allocation.add_batch('SE-B1', 'SE-SKU', 100);
SELECT allocation.allocate('SE-o0', 'SE-SKU', 1);
SELECT allocation.create_order('SE-100');
SELECT allocation.register_consumer('se-consumer');
CREATE FUNCTION se_plugin(event jsonb) RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$;
SELECT id AS se_event FROM allocation.outbox
 WHERE aggregateid = 'SE-SKU' ORDER BY aggregate_seq LIMIT 1 \gset

-- se_try(role, statement): run statement as role and undo all it did;
-- returns 'ok' or the SQLSTATE, and the error message.
CREATE FUNCTION se_try(r text, q text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		EXECUTE format('SET LOCAL ROLE %I', r);
		EXECUTE q;
		RAISE EXCEPTION 'ok' USING ERRCODE = 'SE000';	-- undo the call's work
	EXCEPTION WHEN OTHERS THEN
		state := CASE SQLSTATE WHEN 'SE000' THEN 'ok' ELSE SQLSTATE END;
		message := CASE SQLSTATE WHEN 'SE000' THEN NULL ELSE SQLERRM END;
	END;
END
$$;

-- one valid call of every function of the schema
-- a notification for the mailer's functions
INSERT INTO allocation.notifications (recipient, subject, body)
VALUES ('mail@se.example.com', 'SE', 'SE') RETURNING id AS se_mail \gset
CREATE TABLE se_calls (fn regprocedure PRIMARY KEY, call text NOT NULL);
INSERT INTO se_calls VALUES
	('allocation.add_batch(text, text, integer, date)', $$SELECT allocation.add_batch('SE-B2', 'SE-SKU', 5)$$),
	('allocation.allocate(text, text, integer)', $$SELECT allocation.allocate('SE-o1', 'SE-SKU', 1)$$),
	('allocation.deallocate(text, text)', $$SELECT allocation.deallocate('SE-o0', 'SE-SKU')$$),
	('allocation.change_batch_quantity(text, integer)', $$SELECT allocation.change_batch_quantity('SE-B1', 50)$$),
	('allocation.allocations(text)', $$SELECT * FROM allocation.allocations('SE-o0')$$),
	('allocation.allocate_many(allocation.order_line[])', $$SELECT * FROM allocation.allocate_many(ARRAY[('SE-o2', 'SE-SKU', 1)]::allocation.order_line[])$$),
	('allocation.handle(jsonb)', $$SELECT allocation.handle('{"type": "Allocate", "orderid": "SE-o3", "sku": "SE-SKU", "qty": 1}')$$),
	('allocation.create_order(text)', $$SELECT allocation.create_order('SE-200')$$),
	('allocation.order_status(text)', $$SELECT allocation.order_status('SE-100')$$),
	('allocation.change_order_status(text, text)', $$SELECT allocation.change_order_status('SE-100', 'cancelled')$$),
	('allocation.subscribe_to_order(text, text)', $$SELECT allocation.subscribe_to_order('SE-100', 'x@se.example.com')$$),
	('allocation.subscribe(text, regprocedure)', $$SELECT allocation.subscribe('Allocated', 'public.se_plugin(jsonb)')$$),
	('allocation.unsubscribe(text, regprocedure)', $$SELECT allocation.unsubscribe('Allocated', 'public.se_plugin(jsonb)'::pg_catalog.regprocedure)$$),
	('allocation.unsubscribe(text, text)', $$SELECT allocation.unsubscribe('Allocated', 'public.se_plugin(jsonb)')$$),
	('allocation.rebuild_read_model()', $$SELECT allocation.rebuild_read_model()$$),
	('allocation.register_consumer(text, boolean)', $$SELECT allocation.register_consumer('se-other')$$),
	('allocation.unregister_consumer(text)', $$SELECT allocation.unregister_consumer('se-consumer')$$),
	('allocation.read_events(text, integer)', $$SELECT * FROM allocation.read_events('se-consumer', 1)$$),
	('allocation.ack_events(text, uuid)', format($$SELECT allocation.ack_events('se-consumer', %L)$$, :'se_event')),
	('allocation.purge_outbox()', $$SELECT allocation.purge_outbox()$$),
	('allocation.check_invariants()', $$SELECT * FROM allocation.check_invariants()$$),
	('allocation.stock_alert_recipient()', $$SELECT allocation.stock_alert_recipient()$$),
	('allocation.set_stock_alert_recipient(text)', $$SELECT allocation.set_stock_alert_recipient(NULL)$$),
	('allocation.shard_key(text)', $$SELECT allocation.shard_key('SE-SKU')$$),
	('allocation.change_batch_quantity_here(text, integer)', $$SELECT allocation.change_batch_quantity_here('SE-B1', 50)$$),
	-- the implementations behind the administrators' PL/pgSQL functions:
	-- granted to nobody, only the owner (here the superuser) runs them
	('allocation._register_consumer(text, boolean)', $$SELECT allocation._register_consumer('se-other2', true)$$),
	('allocation._unregister_consumer(text)', $$SELECT allocation._unregister_consumer('se-consumer')$$),
	('allocation._read_events(text, integer)', $$SELECT * FROM allocation._read_events('se-consumer', 1)$$),
	('allocation._ack_events(text, uuid)', format($$SELECT allocation._ack_events('se-consumer', %L)$$, :'se_event')),
	('allocation._purge_outbox()', $$SELECT allocation._purge_outbox()$$),
	('allocation._check_invariants()', $$SELECT * FROM allocation._check_invariants()$$),
	('allocation._clock_offset()', $$SELECT allocation._clock_offset()$$),
	-- the mailer's functions (members of allocation_mailer or allocation_admin)
	('allocation.claim_notifications(integer, interval)', $$SELECT * FROM allocation.claim_notifications(1)$$),
	('allocation.mark_notification_sent(bigint)', format($$SELECT allocation.mark_notification_sent(%s)$$, :se_mail)),
	('allocation.mark_notification_failed(bigint, text, boolean, uuid)', format($$SELECT allocation.mark_notification_failed(%s, 'test')$$, :se_mail)),
	('allocation.release_notifications(bigint[], uuid, text)', format($$SELECT allocation.release_notifications(ARRAY[%s]::bigint[], gen_random_uuid(), 'test')$$, :se_mail)),
	('allocation.retry_notification(bigint)', format($$SELECT allocation.retry_notification(%s)$$, :se_mail)),
	('allocation._claim_notifications(integer, interval)', $$SELECT * FROM allocation._claim_notifications(1)$$),
	('allocation._notification_row(bigint)', format($$SELECT allocation._notification_row(%s)$$, :se_mail)),
	('allocation._mark_notification_sent(bigint)', format($$SELECT allocation._mark_notification_sent(%s)$$, :se_mail)),
	('allocation._mark_notification_failed(bigint, text, boolean, uuid)', format($$SELECT allocation._mark_notification_failed(%s, 'test', false)$$, :se_mail)),
	('allocation._release_notifications(bigint[], uuid, text)', format($$SELECT allocation._release_notifications(ARRAY[%s]::bigint[], gen_random_uuid(), 'test')$$, :se_mail)),
	('allocation._retry_notification(bigint)', format($$SELECT allocation._retry_notification(%s)$$, :se_mail)),
	-- retention and monitoring (administrators), and their implementations
	('allocation.purge_inbox(interval)', $$SELECT allocation.purge_inbox()$$),
	('allocation.purge_notifications(interval)', $$SELECT allocation.purge_notifications()$$),
	('allocation.purge_outbox(interval)', $$SELECT allocation.purge_outbox('1 day')$$),
	('allocation.consumer_status()', $$SELECT * FROM allocation.consumer_status()$$),
	('allocation.metrics()', $$SELECT * FROM allocation.metrics()$$),
	('allocation._purge_cutoff(interval, timestamptz)', $$SELECT allocation._purge_cutoff('1 day')$$),
	('allocation._shown_value(text)', $$SELECT allocation._shown_value('x')$$),
	('allocation._allocations(text)', $$SELECT * FROM allocation._allocations('SE-o1')$$),
	('allocation._purge_inbox(interval)', $$SELECT allocation._purge_inbox('1 day')$$),
	('allocation._purge_notifications(interval)', $$SELECT allocation._purge_notifications('1 day')$$),
	('allocation._purge_outbox(interval)', $$SELECT allocation._purge_outbox('1 day')$$),
	('allocation._consumer_status()', $$SELECT * FROM allocation._consumer_status()$$),
	('allocation._metrics()', $$SELECT * FROM allocation._metrics()$$),
	-- the prefix of the events in the WAL: also needs REPLICATION (42501 for
	-- an admin without it), which the superuser has
	('allocation.wal_message_prefix()', $$SELECT allocation.wal_message_prefix() IS NOT NULL$$),
	-- a trigger function: no role can call it directly (0A000 for the superuser)
	('allocation._check_notification()', $$SELECT allocation._check_notification()$$);

------------------------------------------------------------------------
-- Function x role: who may call what
------------------------------------------------------------------------

-- 'ok' or the SQLSTATE of the call, for a member of allocation_admin, a
-- member of allocation_user, a role in neither, and a superuser.  Every
-- function of the schema is listed (one without a sample call here would
-- show "no call").  The contract's security model: admin may do everything; user may allocate,
-- deallocate, query and subscribe to orders; neither may do nothing.
SELECT p.oid::regprocedure AS function,
       CASE WHEN c.call IS NULL THEN 'no call' ELSE (se_try('se_admin', c.call)).state END AS admin,
       CASE WHEN c.call IS NULL THEN 'no call' ELSE (se_try('se_user', c.call)).state END AS "user",
       CASE WHEN c.call IS NULL THEN 'no call' ELSE (se_try('se_nobody', c.call)).state END AS neither,
       CASE WHEN c.call IS NULL THEN 'no call' ELSE (se_try('postgres', c.call)).state END AS superuser
  FROM pg_proc p LEFT JOIN se_calls c ON c.fn = p.oid
 WHERE p.pronamespace = 'allocation'::regnamespace
 ORDER BY p.oid::regprocedure::text;

-- a member of allocation_user refused an admin-only function gets 42501
-- with a message naming allocation_admin (the role it needs)
SELECT c.fn AS function, t.state, t.message LIKE '%"allocation_admin"%' AS names_allocation_admin
  FROM se_calls c, se_try('se_user', c.call) t
 WHERE t.state <> 'ok' ORDER BY c.fn::text;
-- for example
SET ROLE se_user;
SELECT allocation.add_batch('SE-B3', 'SE-SKU', 1);
SELECT allocation.change_order_status('SE-100', 'cancelled');
RESET ROLE;

-- a role in neither group gets 42501 for every function
SELECT count(*) AS functions, count(*) FILTER (WHERE t.state = '42501') AS refused_42501
  FROM se_calls c, se_try('se_nobody', c.call) t;
SET ROLE se_nobody;
SELECT allocation.allocate('SE-o4', 'SE-SKU', 1);
SELECT allocation.order_status('SE-100');
RESET ROLE;

-- superusers may do everything, as members of no role (but call a
-- trigger function directly: nobody can)
SELECT bool_and(t.state = 'ok') AS superuser_may_call_all
  FROM se_calls c, se_try('postgres', c.call) t
 WHERE c.fn <> 'allocation._check_notification()'::regprocedure;

-- the calls above were undone: the fixture is as it was
SELECT reference, purchased, allocated FROM allocation.stock WHERE sku = 'SE-SKU';
SELECT allocation.order_status('SE-100');

------------------------------------------------------------------------
-- Relation x role: who may read what; nobody writes directly
------------------------------------------------------------------------

-- SELECT as each role ('ok' or the SQLSTATE)
SELECT c.oid::regclass AS relation, c.relkind,
       (se_try('se_admin', format('SELECT FROM %s LIMIT 1', c.oid::regclass))).state AS admin,
       (se_try('se_user', format('SELECT FROM %s LIMIT 1', c.oid::regclass))).state AS "user",
       (se_try('se_nobody', format('SELECT FROM %s LIMIT 1', c.oid::regclass))).state AS neither
  FROM pg_class c
 WHERE c.relnamespace = 'allocation'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
 ORDER BY c.oid::regclass::text;

-- INSERT, UPDATE, DELETE and TRUNCATE of every table and view, as every
-- role: each one 42501 (the owner alone writes, through the functions);
-- the views mail_backlog (an aggregate) and consumer_status (over a
-- function) cannot be written by anyone (55000)
SELECT c.oid::regclass AS relation, r.role,
       string_agg(DISTINCT (se_try(r.role, s.stmt)).state, ', ') AS states
  FROM pg_class c
 CROSS JOIN (VALUES ('se_admin'), ('se_user'), ('se_nobody')) AS r(role)
 CROSS JOIN LATERAL (
	SELECT format('INSERT INTO %s DEFAULT VALUES', c.oid::regclass)
	UNION ALL
	(SELECT format('UPDATE %s SET %I = %I', c.oid::regclass, a.attname, a.attname)
	   FROM pg_attribute a
	  WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	    AND a.attidentity = '' AND a.attgenerated = ''
	    AND pg_column_is_updatable(c.oid, a.attnum, false)
	  ORDER BY a.attnum LIMIT 1)
	UNION ALL
	SELECT format('DELETE FROM %s', c.oid::regclass)
	UNION ALL
	SELECT format('TRUNCATE %s', c.oid::regclass) WHERE c.relkind = 'r') AS s(stmt)
 WHERE c.relnamespace = 'allocation'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
 GROUP BY 1, 2
HAVING string_agg(DISTINCT (se_try(r.role, s.stmt)).state, ', ') <> '42501'
 ORDER BY c.oid::regclass::text, 2;
SELECT count(*) AS write_attempts, count(*) FILTER (WHERE t.state = '42501') AS refused_42501
  FROM pg_class c
 CROSS JOIN (VALUES ('se_admin'), ('se_user'), ('se_nobody')) AS r(role)
 CROSS JOIN LATERAL (VALUES (format('INSERT INTO %s DEFAULT VALUES', c.oid::regclass)),
                            (format('DELETE FROM %s', c.oid::regclass))) AS s(stmt)
 CROSS JOIN LATERAL se_try(r.role, s.stmt) t
 WHERE c.relnamespace = 'allocation'::regnamespace AND c.relkind IN ('r', 'v');

-- for example: an administrator cannot add stock behind the model's back
SET ROLE se_admin;
UPDATE allocation.batches SET purchased_quantity = 1000 WHERE reference = 'SE-B1';
INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type, payload, occurred_at, aggregate_seq, commit_key)
VALUES (gen_random_uuid(), 'product', 'SE-SKU', 'Allocated', '{}', now(), 99, '1');
DELETE FROM allocation.allocations_view;
RESET ROLE;
SET ROLE se_user;
DELETE FROM allocation.order_lines;
UPDATE allocation.stock SET purchased = 0;
RESET ROLE;

-- nor can anyone use the sequences behind the tables
SELECT c.oid::regclass AS sequence,
       (se_try('se_admin', format('SELECT nextval(%L)', c.oid::regclass))).state AS admin,
       (se_try('se_user', format('SELECT nextval(%L)', c.oid::regclass))).state AS "user"
  FROM pg_class c
 WHERE c.relnamespace = 'allocation'::regnamespace AND c.relkind = 'S'
 ORDER BY c.oid::regclass::text;

------------------------------------------------------------------------
-- A malicious object in the caller's search_path is not picked up
------------------------------------------------------------------------

-- schema se_evil shadows operators and functions the extension uses; each
-- records who called it (and says so) and then behaves normally, the way
-- a real attacker would hide
CREATE SCHEMA se_evil;
GRANT USAGE ON SCHEMA se_evil TO PUBLIC;
CREATE TABLE public.se_evil_log (what text, who text);
GRANT INSERT ON public.se_evil_log TO PUBLIC;
CREATE FUNCTION se_evil.note(what text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'se_evil.% called by %', what, current_user;
	INSERT INTO public.se_evil_log VALUES (what, current_user);
END
$$;
CREATE FUNCTION se_evil.texteq(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('texteq'); RETURN pg_catalog.texteq(a, b); END $$;
CREATE FUNCTION se_evil.textlt(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('textlt'); RETURN pg_catalog.text_lt(a, b); END $$;
CREATE FUNCTION se_evil.textcat(a text, b text) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('textcat'); RETURN pg_catalog.textcat(a, b); END $$;
CREATE FUNCTION se_evil.int4eq(a integer, b integer) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('int4eq'); RETURN pg_catalog.int4eq(a, b); END $$;
CREATE FUNCTION se_evil.int4lt(a integer, b integer) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('int4lt'); RETURN pg_catalog.int4lt(a, b); END $$;
CREATE FUNCTION se_evil.int8eq(a bigint, b bigint) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('int8eq'); RETURN pg_catalog.int8eq(a, b); END $$;
CREATE OPERATOR se_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = se_evil.texteq);
CREATE OPERATOR se_evil.< (LEFTARG = text, RIGHTARG = text, FUNCTION = se_evil.textlt);
CREATE OPERATOR se_evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = se_evil.textcat);
CREATE OPERATOR se_evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = se_evil.int4eq);
CREATE OPERATOR se_evil.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = se_evil.int4lt);
CREATE OPERATOR se_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = se_evil.int8eq);
CREATE FUNCTION se_evil.lower(t text) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('lower'); RETURN pg_catalog.lower(t); END $$;
CREATE FUNCTION se_evil.length(t text) RETURNS integer
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('length'); RETURN pg_catalog.length(t); END $$;
CREATE FUNCTION se_evil.btrim(t text) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('btrim'); RETURN pg_catalog.btrim(t); END $$;
CREATE FUNCTION se_evil.now() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION se_evil.clock_timestamp() RETURNS timestamptz
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION se_evil.gen_random_uuid() RETURNS uuid
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('gen_random_uuid'); RETURN pg_catalog.gen_random_uuid(); END $$;
CREATE FUNCTION se_evil.pg_current_xact_id() RETURNS xid8
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('pg_current_xact_id'); RETURN pg_catalog.pg_current_xact_id(); END $$;
CREATE FUNCTION se_evil.pg_current_snapshot() RETURNS pg_snapshot
LANGUAGE plpgsql AS $$ BEGIN PERFORM se_evil.note('pg_current_snapshot'); RETURN pg_catalog.pg_current_snapshot(); END $$;

-- the trap works: an unqualified "=" of the caller's own query finds it
SET search_path = se_evil, pg_catalog;
SELECT 'a' = 'a'::text AS trap_works;
RESET search_path;
TRUNCATE public.se_evil_log;

-- every command and query, as an administrator in a fresh session (no
-- plan prepared yet), with se_evil first and pg_catalog after it
\c
\set VERBOSITY terse
SET ROLE se_admin;
SET search_path = se_evil, pg_catalog;
SELECT allocation.add_batch('SE-E1', 'SE-EVIL', 10);
SELECT allocation.add_batch('SE-E2', 'SE-EVIL', 10, '2031-01-01');
SELECT allocation.allocate('SE-e1', 'SE-EVIL', 4);
SELECT allocation.allocate('SE-e1', 'SE-EVIL', 4);
SELECT allocation.allocate('SE-e2', 'SE-EVIL', 50) IS NULL AS out_of_stock;
SELECT allocation.allocate('SE-e3', 'SE-EVIL', 5);
SELECT allocation.change_batch_quantity('SE-E1', 5);
SELECT allocation.deallocate('SE-e3', 'SE-EVIL');
SELECT * FROM allocation.allocations('SE-e1');
SELECT * FROM allocation.allocate_many(ARRAY[('SE-e4', 'SE-EVIL', 1), ('SE-e5', 'SE-EVIL', 1)]::allocation.order_line[]);
SELECT allocation.handle('{"type": "Allocate", "orderid": "SE-e6", "sku": "SE-EVIL", "qty": 1, "message_id": "se-evil-1"}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "SE-e6", "sku": "SE-EVIL", "qty": 1, "message_id": "se-evil-1"}');
SELECT allocation.create_order('SE-300');
SELECT allocation.subscribe_to_order('SE-300', 'Evil.Watcher@se.example.com');
SELECT allocation.change_order_status('SE-300', 'backordered');
SELECT allocation.order_status('SE-300');
SELECT allocation.subscribe('Allocated', 'public.se_plugin(jsonb)');
SELECT allocation.allocate('SE-e7', 'SE-EVIL', 1);
SELECT allocation.unsubscribe('Allocated', 'public.se_plugin(jsonb)');
SELECT allocation.rebuild_read_model() > 0 AS rebuilt;
SELECT allocation.register_consumer('se-evil-consumer');
SELECT count(*) > 0 AS read_some FROM allocation.read_events('se-evil-consumer', 1000);
SELECT allocation.unregister_consumer('se-evil-consumer');
SELECT count(*) AS violations FROM allocation.check_invariants() WHERE starts_with(object, 'SE-');
SELECT count(*) > 0 AS stock_readable FROM allocation.stock;
RESET ROLE;

-- the same as an allocation_user, with se_evil before an implicit pg_catalog
\c
\set VERBOSITY terse
SET ROLE se_user;
SET search_path = se_evil, public;
SELECT allocation.allocate('SE-e8', 'SE-EVIL', 1);
SELECT allocation.deallocate('SE-e8', 'SE-EVIL');
SELECT * FROM allocation.allocations('SE-e1');
SELECT allocation.order_status('SE-300');
SELECT allocation.subscribe_to_order('SE-300', 'user@se.example.com');
RESET ROLE;
RESET search_path;

-- nothing of se_evil ran, and the results are the right ones
SELECT count(*) AS evil_calls FROM public.se_evil_log;
SELECT reference, purchased, allocated, available FROM allocation.stock WHERE sku = 'SE-EVIL' ORDER BY reference;
SELECT sku, version_number FROM allocation.products WHERE sku = 'SE-EVIL';
SELECT orderid, batchref, qty FROM allocation.order_lines WHERE sku = 'SE-EVIL' ORDER BY orderid;
SELECT count(*) = 0 AS healthy FROM allocation.check_invariants() WHERE object LIKE 'SE-%';
SELECT email FROM allocation.order_subscriptions WHERE orderid = 'SE-300' ORDER BY email;

------------------------------------------------------------------------
-- CREATE EXTENSION reuses existing roles, DROP EXTENSION leaves them
------------------------------------------------------------------------
\set se_home :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS se_db;
RESET client_min_messages;
CREATE DATABASE se_db;
\c se_db
\set VERBOSITY terse
CREATE EXTENSION allocation;
-- the roles of the cluster were reused and given their rights here too
SELECT has_function_privilege('allocation_user', 'allocation.allocate(text, text, integer)', 'EXECUTE') AS user_may_allocate,
       has_function_privilege('allocation_admin', 'allocation.purge_outbox()', 'EXECUTE') AS admin_may_purge,
       has_schema_privilege('allocation_user', 'allocation', 'USAGE') AS user_has_schema;
DROP EXTENSION allocation;
-- the roles are still there, as they were
SELECT rolname, rolcanlogin FROM pg_roles
 WHERE rolname IN ('allocation_admin', 'allocation_user') ORDER BY rolname;
SELECT pg_has_role('allocation_admin', 'allocation_user', 'MEMBER') AS admin_is_user;
\c :se_home
\set VERBOSITY terse
DROP DATABASE se_db;

------------------------------------------------------------------------
-- Clean up
------------------------------------------------------------------------
DROP SCHEMA se_evil CASCADE;
DROP TABLE public.se_evil_log, se_calls;
DROP FUNCTION se_try(text, text), se_plugin(jsonb);
SELECT allocation.unregister_consumer('se-consumer');
DROP ROLE se_admin;
DROP ROLE se_user;
DROP ROLE se_nobody;
