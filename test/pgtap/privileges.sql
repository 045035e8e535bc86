-- test/pgtap/privileges.sql: the security model - the two NOLOGIN roles, the grants in the catalog (schema,
-- every function, every relation, every sequence, nothing to PUBLIC), and
-- what a member of allocation_admin, a member of allocation_user and a
-- role in neither may really do, tried with SET ROLE for every function of
-- the schema.  A refused call is 42501 with a message naming the role
-- that is needed.
--
-- Run with: pg_prove -d tap_bus test/pgtap/privileges.sql
-- (a database with CREATE EXTENSION pgtap and CREATE EXTENSION allocation)
BEGIN;
SELECT plan(352);

------------------------------------------------------------------------
-- The roles (8)
------------------------------------------------------------------------
SELECT has_role('allocation_admin', 'role allocation_admin exists');
SELECT has_role('allocation_user', 'role allocation_user exists');
SELECT ok(NOT rolcanlogin, rolname || ' is NOLOGIN')
  FROM pg_roles WHERE rolname IN ('allocation_admin', 'allocation_user') ORDER BY rolname;
SELECT isnt_superuser('allocation_admin', 'allocation_admin is no superuser');
SELECT isnt_superuser('allocation_user', 'allocation_user is no superuser');
SELECT is_member_of('allocation_user', ARRAY['allocation_admin'],
	'allocation_admin is a member of allocation_user');
SELECT ok(NOT pg_has_role('allocation_user', 'allocation_admin', 'MEMBER'),
	'allocation_user is not a member of allocation_admin');

-- the people of this file (rolled back with the transaction)
CREATE ROLE pv_admin LOGIN;
GRANT allocation_admin TO pv_admin;
CREATE ROLE pv_user LOGIN;
GRANT allocation_user TO pv_user;
CREATE ROLE pv_nobody LOGIN;

------------------------------------------------------------------------
-- Nothing for PUBLIC; elevated functions pin search_path (5)
------------------------------------------------------------------------
SELECT is_empty($$SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
                   WHERE n.nspname = 'allocation' AND a.grantee = 0$$,
	'nothing on schema allocation is granted to PUBLIC');
SELECT is_empty($$SELECT c.relname FROM pg_class c,
                         aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
                   WHERE c.relnamespace = 'allocation'::regnamespace AND a.grantee = 0$$,
	'no relation of schema allocation is granted to PUBLIC');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p,
                         aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a
                   WHERE p.pronamespace = 'allocation'::regnamespace AND a.grantee = 0$$,
	'no function of schema allocation is executable by PUBLIC');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'allocation'::regnamespace AND p.prosecdef
                     AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')$$,
	'every SECURITY DEFINER function of the schema pins search_path');
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
                   WHERE p.pronamespace = 'allocation'::regnamespace AND p.prosecdef
                     AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c
                                      WHERE c IN ('search_path=pg_catalog, pg_temp', 'search_path=pg_catalog,pg_temp'))$$,
	'... to pg_catalog with pg_temp last');

------------------------------------------------------------------------
-- Schema and relations in the catalog (3 + 1 + 48 + 9)
------------------------------------------------------------------------
SELECT schema_privs_are('allocation', 'allocation_user', ARRAY['USAGE'],
	'allocation_user may use schema allocation');
SELECT schema_privs_are('allocation', 'allocation_admin', ARRAY['USAGE'],
	'allocation_admin may use schema allocation (as a member of allocation_user)');
SELECT schema_privs_are('allocation', 'pv_nobody', ARRAY[]::name[],
	'a role in neither group may not use schema allocation');

-- the relations this file knows; a new one must be added here
SELECT set_eq($$SELECT c.relname::text FROM pg_class c
                WHERE c.relnamespace = 'allocation'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')$$,
	ARRAY['allocations_view', 'batches', 'consumer_status', 'consumers', 'inbox', 'mail_backlog', 'mail_dead',
	      'mail_identity', 'notifications', 'order_lines',
	      'order_subscriptions', 'orders', 'outbox', 'outbox_clock', 'product_state', 'products',
	      'settings', 'stock', 'subscriptions', 'wal_secret'],
	'the relations of schema allocation are the known ones');

-- SELECT only, and only these: users read the query side, admins also
-- the outbox and the notifications; nobody may write
SELECT table_privs_are('allocation', r.relname, g.role,
                       CASE WHEN r.relname = ANY (g.readable) THEN ARRAY['SELECT'] ELSE ARRAY[]::name[] END,
                       format('%s: %s on allocation.%s', g.role,
                              CASE WHEN r.relname = ANY (g.readable) THEN 'SELECT only' ELSE 'no right' END,
                              r.relname))
  FROM (VALUES (1, 'allocation_admin', ARRAY['products', 'stock', 'allocations_view', 'outbox', 'notifications', 'consumer_status']::name[]),
               (2, 'allocation_user', ARRAY['products', 'stock', 'allocations_view']::name[]),
               (3, 'pv_nobody', ARRAY[]::name[])) AS g(ord, role, readable),
       unnest(ARRAY['allocations_view', 'batches', 'consumer_status', 'consumers', 'inbox', 'notifications', 'order_lines',
                    'order_subscriptions', 'orders', 'outbox', 'outbox_clock', 'product_state',
                    'products', 'settings', 'stock', 'subscriptions', 'wal_secret']::name[]) AS r(relname)
 ORDER BY g.ord, r.relname;

SELECT sequence_privs_are('allocation', s.seq, g.role, ARRAY[]::name[],
                          format('%s: no right on sequence allocation.%s', g.role, s.seq))
  FROM (VALUES (1, 'allocation_admin'), (2, 'allocation_user'), (3, 'pv_nobody')) AS g(ord, role),
       unnest(ARRAY['notifications_id_seq', 'outbox_position_seq', 'subscriptions_id_seq']::name[]) AS s(seq)
 ORDER BY g.ord, s.seq;

------------------------------------------------------------------------
-- Functions in the catalog (1 + 39 + 87)
------------------------------------------------------------------------

-- every function of the schema, the level the contract's security model gives it, and a valid
-- call (%s: a tag per role, so that repeated calls stay valid)
CREATE TEMP TABLE calls (ord int, fn name, args name[], level text, c_checked boolean, call text);
INSERT INTO calls VALUES
 (1, 'ack_events', '{text,uuid}', 'admin', true, $$SELECT allocation.ack_events('pv-c', %2$L)$$),
 (2, 'add_batch', '{text,text,integer,date}', 'admin', true, $$SELECT allocation.add_batch('PV-B-%1$s', 'PV-SKU', 5)$$),
 (3, 'allocate', '{text,text,integer}', 'user', true, $$SELECT allocation.allocate('PV-o-%1$s', 'PV-SKU', 1)$$),
 (4, 'allocate_many', '{allocation.order_line[]}', 'user', true, $$SELECT * FROM allocation.allocate_many(ARRAY[('PV-m-%1$s', 'PV-SKU', 1)]::allocation.order_line[])$$),
 (5, 'allocations', '{text}', 'user', false, $$SELECT * FROM allocation.allocations('PV-o0')$$),
 (6, 'change_batch_quantity', '{text,integer}', 'admin', true, $$SELECT allocation.change_batch_quantity('PV-B1', 90)$$),
 (7, 'change_batch_quantity_here', '{text,integer}', 'admin', true, $$SELECT allocation.change_batch_quantity_here('PV-B1', 80)$$),
 (8, 'change_order_status', '{text,text}', 'admin', true, $$SELECT allocation.change_order_status('PV-%1$s-1', 'cancelled')$$),
 (9, 'check_invariants', '{}', 'admin', true, $$SELECT * FROM allocation.check_invariants()$$),
 (10, 'create_order', '{text}', 'admin', true, $$SELECT allocation.create_order('PV-new-%1$s')$$),
 (11, 'deallocate', '{text,text}', 'user', true, $$SELECT allocation.deallocate('PV-o0', 'PV-SKU')$$),
 (12, 'handle', '{jsonb}', 'user', true, $$SELECT allocation.handle('{"type": "Allocate", "orderid": "PV-h-%1$s", "sku": "PV-SKU", "qty": 1}')$$),
 (13, 'order_status', '{text}', 'user', true, $$SELECT allocation.order_status('PV-admin-1')$$),
 (14, 'purge_outbox', '{}', 'admin', true, $$SELECT allocation.purge_outbox()$$),
 (15, 'read_events', '{text,integer}', 'admin', true, $$SELECT * FROM allocation.read_events('pv-c', 1)$$),
 (16, 'rebuild_read_model', '{}', 'admin', true, $$SELECT allocation.rebuild_read_model()$$),
 (17, 'register_consumer', '{text,boolean}', 'admin', true, $$SELECT allocation.register_consumer('pv-%1$s')$$),
 (18, 'shard_key', '{text}', 'user', true, $$SELECT allocation.shard_key('PV-SKU')$$),
 (19, 'subscribe', '{text,regprocedure}', 'admin', true, $$SELECT allocation.subscribe('Allocated', 'public.pv_plugin(jsonb)')$$),
 (20, 'subscribe_to_order', '{text,text}', 'user', true, $$SELECT allocation.subscribe_to_order('PV-admin-1', '%1$s@pv.example.com')$$),
 (21, 'unregister_consumer', '{text}', 'admin', true, $$SELECT allocation.unregister_consumer('pv-gone')$$),
 (22, 'unsubscribe', '{text,regprocedure}', 'admin', true, $$SELECT allocation.unsubscribe('Allocated', 'public.pv_plugin(jsonb)'::pg_catalog.regprocedure)$$),
 (23, 'set_stock_alert_recipient', '{text}', 'admin', true, $$SELECT allocation.set_stock_alert_recipient(NULL)$$),
 (24, 'stock_alert_recipient', '{}', 'user', true, $$SELECT allocation.stock_alert_recipient()$$),
 (25, 'purge_inbox', '{interval}', 'admin', true, $$SELECT allocation.purge_inbox()$$),
 (26, 'purge_notifications', '{interval}', 'admin', true, $$SELECT allocation.purge_notifications()$$),
 (27, 'purge_outbox', '{interval}', 'admin', true, $$SELECT allocation.purge_outbox('1 day')$$),
 (28, 'consumer_status', '{}', 'admin', true, $$SELECT * FROM allocation.consumer_status()$$),
 (29, 'metrics', '{}', 'admin', true, $$SELECT * FROM allocation.metrics()$$),
 (30, 'unsubscribe', '{text,text}', 'admin', true, $$SELECT allocation.unsubscribe('Allocated', 'public.pv_plugin(jsonb)')$$);
GRANT SELECT ON calls TO PUBLIC;

-- the PL/pgSQL implementations behind the administrators' functions
CREATE TEMP TABLE internals (fn name, args name[]);
INSERT INTO internals VALUES
 ('_ack_events', '{text,uuid}'), ('_check_invariants', '{}'), ('_clock_offset', '{}'),
 ('_purge_outbox', '{}'), ('_read_events', '{text,integer}'),
 ('_register_consumer', '{text,boolean}'), ('_unregister_consumer', '{text}'),
 ('_purge_cutoff', '{interval,timestamptz}'), ('_purge_inbox', '{interval}'),
 ('_purge_notifications', '{interval}'), ('_purge_outbox', '{interval}'),
 ('_consumer_status', '{}'), ('_metrics', '{}'), ('_allocations', '{text}'), ('_shown_value', '{text}');

-- the mailer's functions (allocation_mailer or allocation_admin) and their
-- implementations; who may call them: sql/security.sql
CREATE TEMP TABLE mailer_functions (fn name);
INSERT INTO mailer_functions VALUES
 ('claim_notifications'), ('mark_notification_sent'), ('mark_notification_failed'),
 ('release_notifications'), ('retry_notification'), ('_claim_notifications'),
 ('_mark_notification_sent'), ('_mark_notification_failed'), ('_release_notifications'),
 ('_retry_notification'), ('_notification_row'),
 ('_check_notification');

SELECT functions_are('allocation',
	ARRAY(SELECT fn FROM calls UNION ALL SELECT fn FROM internals
	      UNION ALL SELECT fn FROM mailer_functions
	      UNION ALL SELECT 'wal_message_prefix'),
	'the functions of schema allocation are the known ones');

-- the prefix of the events in the WAL: EXECUTE for allocation_user too (the
-- C function checks allocation_admin, and REPLICATION; below), none for others
SELECT function_privs_are('allocation', 'wal_message_prefix', ARRAY[]::name[], g.role, g.privs,
                          format('%s: %s wal_message_prefix()', g.role, g.what))
  FROM (VALUES (1, 'allocation_admin', ARRAY['EXECUTE']::name[], 'EXECUTE on'),
               (2, 'allocation_user', ARRAY['EXECUTE']::name[], 'EXECUTE on'),
               (3, 'pv_nobody', ARRAY[]::name[], 'no EXECUTE on')) AS g(ord, role, privs, what)
 ORDER BY g.ord;

-- the implementations are granted to nobody: only the owner runs them,
-- on behalf of the C function that checked the caller's role
SELECT function_privs_are('allocation', i.fn, i.args, g.role, ARRAY[]::name[],
                          format('%s: no EXECUTE on %s(%s)', g.role, i.fn,
                                 array_to_string(i.args, ', ')))
  FROM internals i,
       (VALUES ('allocation_admin'), ('allocation_user'), ('pv_nobody')) AS g(role)
 ORDER BY g.role, i.fn;

-- EXECUTE in the catalog.  The admin functions are C (the PL/pgSQL ones
-- sit behind a C proxy) and check allocation_admin themselves, so that the
-- refusal can name the role: allocation_user holds EXECUTE on them.  A
-- role in neither has no EXECUTE at all.
SELECT function_privs_are('allocation', c.fn, c.args, g.role,
                          CASE WHEN g.role = 'pv_nobody' THEN ARRAY[]::name[]
                               WHEN g.role = 'allocation_user' AND c.level = 'admin' AND NOT c.c_checked
                               THEN ARRAY[]::name[]
                               ELSE ARRAY['EXECUTE'] END,
                          format('%s: %s %s(%s)', g.role,
                                 CASE WHEN g.role = 'pv_nobody' THEN 'no EXECUTE on'
                                      WHEN g.role = 'allocation_user' AND c.level = 'admin' AND NOT c.c_checked
                                      THEN 'no EXECUTE on' ELSE 'EXECUTE on' END,
                                 c.fn, array_to_string(c.args, ', ')))
  FROM (SELECT * FROM calls ORDER BY ord) c,
       (VALUES (1, 'allocation_admin'), (2, 'allocation_user'), (3, 'pv_nobody')) AS g(ord, role)
 ORDER BY g.ord, c.ord;

------------------------------------------------------------------------
-- What each role may really do, with SET ROLE (29 + 29 + 20 + 1 + 29 + 14)
------------------------------------------------------------------------

-- a fixture every call can work on
DO $$
BEGIN
	PERFORM allocation.add_batch('PV-B1', 'PV-SKU', 100);
	PERFORM allocation.allocate('PV-o0', 'PV-SKU', 1);
	PERFORM allocation.create_order('PV-admin-1');
	PERFORM allocation.create_order('PV-user-1');
	PERFORM allocation.create_order('PV-nobody-1');
	PERFORM allocation.register_consumer('pv-c');
END
$$;
CREATE FUNCTION public.pv_plugin(event jsonb) RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$;
-- an event to acknowledge.  This file runs in one transaction, so every
-- event it recorded lies beyond the consumer's frontier, and ack_events
-- refuses those (22023); the fixture's first event is given the key of an
-- event committed long ago, as one that read_events could deliver.
CREATE TEMP TABLE pv_event AS
SELECT id FROM allocation.outbox WHERE aggregateid = 'PV-SKU' ORDER BY aggregate_seq LIMIT 1;
UPDATE allocation.outbox SET commit_key = 1 WHERE id = (SELECT id FROM pv_event);
GRANT SELECT ON pv_event TO PUBLIC;

-- a member of allocation_admin may call every function
SET ROLE pv_admin;
SELECT throws_ok($$SELECT allocation.wal_message_prefix()$$, '42501', NULL,
	'a member of allocation_admin without REPLICATION may not have the prefix of the events in the WAL');
SELECT lives_ok(format(c.call, 'admin', (SELECT id FROM pv_event)),
                format('a member of allocation_admin may call %s', c.fn))
  FROM (SELECT * FROM calls ORDER BY ord) c;
RESET ROLE;

-- a member of allocation_user may call the user functions, and gets 42501
-- for the others
SET ROLE pv_user;
SELECT CASE WHEN c.level = 'user'
            THEN lives_ok(format(c.call, 'user', (SELECT id FROM pv_event)),
                          format('a member of allocation_user may call %s', c.fn))
            ELSE throws_ok(format(c.call, 'user', (SELECT id FROM pv_event)), '42501', NULL,
                           format('a member of allocation_user may not call %s: 42501', c.fn)) END
  FROM (SELECT * FROM calls ORDER BY ord) c;
-- ... and the refusal names the role that is needed
SELECT throws_like(format(c.call, 'user', (SELECT id FROM pv_event)), '%"allocation_admin"%',
                   format('refusing %s to a member of allocation_user names allocation_admin', c.fn))
  FROM (SELECT * FROM calls ORDER BY ord) c WHERE c.level = 'admin';
-- the prefix of the events in the WAL: administrators with REPLICATION only
SELECT throws_like($$SELECT allocation.wal_message_prefix()$$, '%"allocation_admin"%',
	'wal_message_prefix by a member of allocation_user: 42501 naming allocation_admin');
-- the exact wording of the C commands' refusal
SELECT throws_ok($$SELECT allocation.add_batch('PV-B9', 'PV-SKU', 5)$$, '42501',
	'must be a member of role "allocation_admin" to call allocation.add_batch',
	'add_batch by a member of allocation_user: 42501 and its message');
RESET ROLE;

-- a role in neither group gets 42501 for every function
SET ROLE pv_nobody;
SELECT throws_ok(format(c.call, 'nobody', (SELECT id FROM pv_event)), '42501', NULL,
                 format('a role in neither group may not call %s: 42501', c.fn))
  FROM (SELECT * FROM calls ORDER BY ord) c;
-- ... and may read no relation of the schema
SELECT throws_ok(format('SELECT 1 FROM allocation.%I LIMIT 1', r), '42501', NULL,
                 format('a role in neither group may not read allocation.%s', r))
  FROM unnest(ARRAY['allocations_view', 'batches', 'consumer_status', 'consumers', 'inbox', 'notifications', 'order_lines',
                    'order_subscriptions', 'orders', 'outbox', 'product_state', 'products', 'stock',
                    'subscriptions']) AS r
 ORDER BY r;
RESET ROLE;

------------------------------------------------------------------------
-- Nobody writes the tables directly (8)
------------------------------------------------------------------------
SET ROLE pv_admin;
SELECT throws_ok($$UPDATE allocation.batches SET purchased_quantity = 1000 WHERE reference = 'PV-B1'$$,
	'42501', 'permission denied for table batches', 'an admin may not UPDATE batches');
SELECT throws_ok($$INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq) VALUES ('PV-SKU', 'PV-x', 1, 'PV-B1', 99)$$,
	'42501', 'permission denied for table order_lines', 'an admin may not INSERT order lines');
SELECT throws_ok($$DELETE FROM allocation.outbox$$,
	'42501', 'permission denied for table outbox', 'an admin may not DELETE events');
SELECT throws_ok($$UPDATE allocation.orders SET status = 'delivered'$$,
	'42501', 'permission denied for table orders', 'an admin may not UPDATE orders');
RESET ROLE;
SET ROLE pv_user;
SELECT throws_ok($$DELETE FROM allocation.allocations_view$$,
	'42501', 'permission denied for table allocations_view', 'a user may not DELETE from the read model');
SELECT throws_ok($$UPDATE allocation.stock SET purchased = 0$$,
	'42501', 'permission denied for view stock', 'a user may not UPDATE the stock view');
SELECT throws_ok($$INSERT INTO allocation.order_subscriptions (orderid, email) VALUES ('PV-admin-1', 'x@pv.example.com')$$,
	'42501', 'permission denied for table order_subscriptions', 'a user may not INSERT subscriptions');
SELECT throws_ok($$TRUNCATE allocation.product_state$$,
	'42501', 'permission denied for table product_state', 'a user may not TRUNCATE product_state');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
