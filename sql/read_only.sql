--
-- Every function of the extension that may write, called in a read-only
-- transaction (SET TRANSACTION READ ONLY; on a hot standby every
-- transaction is one).  The commands fail with 25006 before their first
-- statement, naming themselves as PostgreSQL names nextval(), with no
-- CONTEXT of our SQL; the others fail (or succeed without writing) as
-- their own statements decide.  The list is checked against the catalog:
-- a VOLATILE function of the schema that is not listed shows up below.
-- SKUs, references and order ids start with "RO-".
--
\set VERBOSITY default
SELECT allocation.add_batch('RO-B1', 'RO-LAMP', 10);
SELECT allocation.allocate('RO-o1', 'RO-LAMP', 1);
SELECT allocation.create_order('RO-1');
-- (made once: read from then on, in any transaction)
SELECT allocation.wal_message_prefix() IS NOT NULL AS prefix_made;
-- (a consumer, so that purge_outbox has rows to consider whatever ran before)
SELECT allocation.register_consumer('ro-c', true);
CREATE FUNCTION public.ro_plugin(event jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT $$;

CREATE TEMP TABLE ro_calls (fn text, command boolean, call text);
INSERT INTO ro_calls VALUES
  ('ack_events', false, $$SELECT allocation.ack_events('ro-none', '00000000-0000-0000-0000-000000000000')$$),
  ('add_batch', true, $$SELECT allocation.add_batch('RO-B2', 'RO-LAMP', 5)$$),
  ('allocate', true, $$SELECT allocation.allocate('RO-o2', 'RO-LAMP', 1)$$),
  ('allocate_many', true, $$SELECT * FROM allocation.allocate_many(ARRAY[ROW('RO-o3', 'RO-LAMP', 1)]::allocation.order_line[])$$),
  ('change_batch_quantity', true, $$SELECT allocation.change_batch_quantity('RO-B1', 4)$$),
  ('change_batch_quantity_here', true, $$SELECT allocation.change_batch_quantity_here('RO-B1', 4)$$),
  ('change_order_status', true, $$SELECT allocation.change_order_status('RO-1', 'cancelled')$$),
  ('claim_notifications', false, $$SELECT * FROM allocation.claim_notifications(10, '1 minute')$$),
  ('create_order', true, $$SELECT allocation.create_order('RO-2')$$),
  ('deallocate', true, $$SELECT allocation.deallocate('RO-o1', 'RO-LAMP')$$),
  ('handle', true, $$SELECT allocation.handle('{"type": "Allocate", "orderid": "RO-o4", "sku": "RO-LAMP", "qty": 1}')$$),
  ('handle', true, $$SELECT allocation.handle('{"type": "Allocate", "orderid": "RO-o4", "sku": "RO-LAMP", "qty": 1, "message_id": "ro-m1"}')$$),
  ('mark_notification_failed', false, $$SELECT allocation.mark_notification_failed(0, 'x', false)$$),
  ('mark_notification_sent', false, $$SELECT allocation.mark_notification_sent(0)$$),
  ('purge_inbox', false, $$SELECT allocation.purge_inbox('1 day')$$),
  ('purge_notifications', false, $$SELECT allocation.purge_notifications('1 day')$$),
  ('purge_outbox', false, $$SELECT allocation.purge_outbox()$$),
  ('purge_outbox', false, $$SELECT allocation.purge_outbox('1 day')$$),
  ('rebuild_read_model', false, $$SELECT allocation.rebuild_read_model()$$),
  ('release_notifications', false, $$SELECT allocation.release_notifications('{0}', gen_random_uuid(), 'x')$$),
  ('register_consumer', false, $$SELECT allocation.register_consumer('ro-new', true)$$),
  ('retry_notification', false, $$SELECT allocation.retry_notification(0)$$),
  ('set_stock_alert_recipient', false, $$SELECT allocation.set_stock_alert_recipient('ops@example.com')$$),
  ('subscribe', false, $$SELECT allocation.subscribe('Allocated', 'public.ro_plugin(jsonb)')$$),
  ('subscribe_to_order', true, $$SELECT allocation.subscribe_to_order('RO-1', 'ann@example.com')$$),
  ('unregister_consumer', false, $$SELECT allocation.unregister_consumer('ro-none')$$),
  ('unsubscribe', false, $$SELECT allocation.unsubscribe('Allocated', 'public.ro_plugin(jsonb)'::regprocedure)$$),
  ('unsubscribe', false, $$SELECT allocation.unsubscribe('Allocated', 'public.ro_plugin(jsonb)'::text)$$),
  ('wal_message_prefix', false, $$SELECT allocation.wal_message_prefix()$$);

-- Every VOLATILE function of the schema is listed (none below).
SELECT p.proname AS not_listed
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'allocation'::regnamespace
   AND p.provolatile = 'v' AND p.proname !~ '^_'
   AND p.proname NOT IN (SELECT fn FROM ro_calls)
 ORDER BY 1;

-- cmd in a subtransaction of the caller's (read-only) transaction: "ok",
-- or its SQLSTATE, its message and whether it has a CONTEXT.
CREATE FUNCTION pg_temp.outcome(cmd text, OUT state text, OUT message text, OUT has_context boolean)
LANGUAGE plpgsql AS $$
DECLARE
  ctx text;
BEGIN
  EXECUTE cmd;
  state := 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          ctx = PG_EXCEPTION_CONTEXT;
  -- the lines PL/pgSQL adds for this function are not the command's
  has_context := ctx ~ 'SQL statement "(?!SELECT allocation\.|SELECT \* FROM allocation\.)';
END
$$;

BEGIN READ ONLY;
-- The commands: 25006, naming themselves, no CONTEXT of our SQL.
SELECT c.fn, o.state,
       o.message = format('cannot execute allocation.%s() in a read-only transaction', c.fn) AS names_itself,
       o.has_context
  FROM ro_calls c, LATERAL pg_temp.outcome(c.call) o
 WHERE c.command
 ORDER BY c.fn, c.call;
-- The other functions: what their statements decide; never a change.
SELECT c.fn, o.state
  FROM ro_calls c, LATERAL pg_temp.outcome(c.call) o
 WHERE NOT c.command
 ORDER BY c.fn, c.call;
ROLLBACK;

-- The role and the arguments are checked first, as in a writable
-- transaction.  Every command with all its arguments NULL: 22004.
BEGIN READ ONLY;
SELECT p.proname, o.state
  FROM (SELECT DISTINCT fn FROM ro_calls WHERE command) c
  JOIN pg_catalog.pg_proc p
    ON p.proname = c.fn AND p.pronamespace = 'allocation'::regnamespace,
       LATERAL pg_temp.outcome(format('SELECT allocation.%I(%s)', p.proname,
                 array_to_string(array_fill('NULL'::text, ARRAY[p.pronargs]), ', '))) o
 ORDER BY 1;
-- 22023 for a bad value or a malformed message
SELECT (pg_temp.outcome($$SELECT allocation.allocate('RO-o2', 'RO-LAMP', 0)$$)).state AS qty_0,
       (pg_temp.outcome($$SELECT allocation.handle('{"type": "Nope"}')$$)).state AS bad_message;
ROLLBACK;
-- 42501 for a member of allocation_user calling an administrator's command
CREATE ROLE ro_user IN ROLE allocation_user;
BEGIN READ ONLY;
SET LOCAL ROLE ro_user;
SELECT (pg_temp.outcome($$SELECT allocation.add_batch('RO-B3', 'RO-LAMP', 1)$$)).state AS add_batch,
       (pg_temp.outcome($$SELECT allocation.change_batch_quantity_here('RO-B1', 4)$$)).state AS here,
       (pg_temp.outcome($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "RO-B3", "sku": "RO-LAMP", "qty": 1}')$$)).state AS handle_create_batch,
       (pg_temp.outcome($$SELECT allocation.allocate('RO-o2', 'RO-LAMP', 1)$$)).state AS allocate;
ROLLBACK;
DROP ROLE ro_user;

-- The same calls in a writable transaction still work.
BEGIN;
SELECT allocation.allocate('RO-o2', 'RO-LAMP', 1);
SELECT allocation.handle('{"type": "Allocate", "orderid": "RO-o4", "sku": "RO-LAMP", "qty": 1, "message_id": "ro-m1"}');
ROLLBACK;

SELECT allocation.unregister_consumer('ro-c');
DROP FUNCTION public.ro_plugin(jsonb);
