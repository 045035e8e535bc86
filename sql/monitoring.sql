--
-- What an operator watches: the view consumer_status (one row an outbox
-- consumer: pending and deliverable events, the oldest one's age, the last
-- acknowledgement, the transaction that holds delivery back) and
-- metrics() (name, value, labels).  Administrators only.  Boolean and
-- count assertions, no time in the output.  A prepared transaction plays
-- the one that holds delivery back (a session doing so is
-- test/isolation/specs/consumer_holder.spec).  Runs in a database of its
-- own (mo_db), so that the other files' consumers play no part.
--
\set VERBOSITY terse
\set mo_home :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS mo_db;
RESET client_min_messages;
CREATE DATABASE mo_db;
\c mo_db
\set VERBOSITY terse
CREATE EXTENSION allocation;
CREATE ROLE mo_admin;
GRANT allocation_admin TO mo_admin;
CREATE ROLE mo_user;
GRANT allocation_user TO mo_user;
CREATE ROLE mo_nobody;

-- the SQLSTATE of a statement as a role, or 'ok'
CREATE FUNCTION mo_try(who text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', who);
	EXECUTE stmt;
	RESET ROLE;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
GRANT EXECUTE ON FUNCTION mo_try(text, text) TO PUBLIC;

------------------------------------------------------------------------
-- consumer_status
------------------------------------------------------------------------

-- no consumer: no row
SELECT count(*) AS consumers FROM allocation.consumer_status;

-- two consumers, three events; "mo-late" registered from now on
SELECT allocation.add_batch('MO-B1', 'MO-SKU', 10);
SELECT allocation.register_consumer('mo-early');
SELECT allocation.register_consumer('mo-late', false);
SELECT allocation.add_batch('MO-B2', 'MO-SKU', 10);
SELECT allocation.allocate('MO-o1', 'MO-SKU', 1);
SELECT consumer, pending_events, deliverable_events,
       last_ack_at IS NULL AS never_acked,
       oldest_pending_age >= interval '0' AS has_age,
       oldest_pending_at = (SELECT min(occurred_at) FROM allocation.outbox) AS oldest_is_first_event,
       holder_pid IS NULL AND holder_prepared_gid IS NULL AND holder_state IS NULL AS nothing_held
  FROM allocation.consumer_status ORDER BY consumer;

-- mo-early acknowledges what it read: nothing pending, last_ack_at set
SELECT allocation.ack_events('mo-early', (SELECT id FROM allocation.read_events('mo-early') ORDER BY commit_key DESC, position DESC LIMIT 1));
SELECT consumer, pending_events, deliverable_events, last_ack_at IS NOT NULL AS acked,
       oldest_pending_at IS NULL AND oldest_pending_age IS NULL AS no_age
  FROM allocation.consumer_status ORDER BY consumer;

-- a prepared transaction that recorded an event holds back every event
-- committed after it began: one event waits, named with its holder
BEGIN;
SELECT allocation.add_batch('MO-P1', 'MO-PREPARED', 1);
PREPARE TRANSACTION 'mo-holder';
-- as long as no event waits for it, it is named nowhere
SELECT count(*) FILTER (WHERE holder_prepared_gid IS NOT NULL OR holder_state IS NOT NULL) AS named
  FROM allocation.consumer_status;
SELECT allocation.add_batch('MO-B3', 'MO-SKU', 10);
SELECT consumer, pending_events, deliverable_events,
       holder_pid IS NULL AS no_pid, holder_prepared_gid, holder_database = current_database() AS here,
       holder_state, holder_xact_age >= interval '0' AS has_age
  FROM allocation.consumer_status ORDER BY consumer;
-- read_events agrees: the waiting event is not delivered yet
SELECT count(*) AS readable FROM allocation.read_events('mo-early');
COMMIT PREPARED 'mo-holder';
-- released: both events deliverable, nobody holds anything
SELECT consumer, pending_events, deliverable_events, holder_prepared_gid IS NULL AS nothing_held
  FROM allocation.consumer_status ORDER BY consumer;

------------------------------------------------------------------------
-- metrics()
------------------------------------------------------------------------

-- two dead notifications, one waiting, a handled message
INSERT INTO allocation.notifications (recipient, subject, body)
VALUES ('mo@mo.example.com', 'MO dead', 'x'), ('mo@mo.example.com', 'MO dead', 'y'),
       ('mo@mo.example.com', 'MO waiting', 'x');
UPDATE allocation.notifications SET dead_at = now(), attempts = 10 WHERE subject = 'MO dead';
SELECT allocation.handle('{"type": "Allocate", "orderid": "MO-m1", "sku": "MO-SKU", "qty": 1, "message_id": "mo-1"}') IS NOT NULL AS handled;

-- every figure, by name and labels: the value as it should be
SELECT m.name, m.labels,
       CASE m.name
	   WHEN 'consumers' THEN m.value = (SELECT count(*) FROM allocation.consumers)
	   WHEN 'outbox_events' THEN m.value = (SELECT count(*) FROM allocation.outbox)
	   WHEN 'inbox_messages' THEN m.value = 1
	   WHEN 'notifications' THEN m.value = (SELECT count(*) FROM allocation.notifications)
	   WHEN 'mail_unsent' THEN m.value = 1
	   WHEN 'mail_dead' THEN m.value = 2
	   WHEN 'mail_retrying' THEN m.value = 0
	   WHEN 'mail_claimed' THEN m.value = 0
	   WHEN 'consumer_pending_events' THEN m.value = (SELECT s.pending_events FROM allocation.consumer_status s WHERE s.consumer = m.labels->>'consumer')
	   WHEN 'consumer_deliverable_events' THEN m.value = (SELECT s.deliverable_events FROM allocation.consumer_status s WHERE s.consumer = m.labels->>'consumer')
	   WHEN 'consumer_holder_xact_age_seconds' THEN m.value = 0
	   ELSE m.value >= 0 END AS right_value
  FROM allocation.metrics() m
 ORDER BY m.name, m.labels::text;
-- ages are in seconds: the oldest event's, for example
SELECT bool_and(m.value BETWEEN extract(epoch FROM now() - (SELECT min(occurred_at) FROM allocation.outbox)) - 60
                            AND extract(epoch FROM clock_timestamp() - (SELECT min(occurred_at) FROM allocation.outbox)) + 60) AS seconds
  FROM allocation.metrics() m WHERE m.name = 'outbox_oldest_event_age_seconds';
-- a held consumer shows the holder's age
BEGIN;
SELECT allocation.add_batch('MO-P2', 'MO-PREPARED', 1);
PREPARE TRANSACTION 'mo-holder-2';
SELECT allocation.add_batch('MO-B4', 'MO-SKU', 10);
SELECT m.labels->>'consumer' AS consumer, m.value > 0 AS held_seconds
  FROM allocation.metrics() m WHERE m.name = 'consumer_holder_xact_age_seconds' ORDER BY 1;
ROLLBACK PREPARED 'mo-holder-2';
-- a logical slot of the database (allocation-relay --source wal): the WAL
-- it retains grows while nobody reads it
SELECT 'ok' FROM pg_create_logical_replication_slot('mo_slot', 'pgoutput');
SELECT pg_logical_emit_message(true, 'mo', repeat('x', 100000)) IS NOT NULL AS wal_written;
SELECT m.name, m.labels, m.value > 0 AS positive
  FROM allocation.metrics() m WHERE m.name LIKE 'wal_slot%' ORDER BY 1;
SELECT pg_drop_replication_slot('mo_slot');
SELECT count(*) AS slot_rows FROM allocation.metrics() m WHERE m.name LIKE 'wal_slot%';

------------------------------------------------------------------------
-- Administrators only
------------------------------------------------------------------------
SELECT s AS statement, mo_try('mo_admin', s) AS admin, mo_try('mo_user', s) AS "user", mo_try('mo_nobody', s) AS neither
  FROM unnest(ARRAY['SELECT * FROM allocation.consumer_status',
                    'SELECT * FROM allocation.consumer_status()',
                    'SELECT * FROM allocation.metrics()',
                    'SELECT * FROM allocation.mail_backlog']) s;
SET ROLE mo_user;
SELECT * FROM allocation.metrics();
SELECT * FROM allocation.consumer_status;
RESET ROLE;

\c :mo_home
\set VERBOSITY terse
DROP DATABASE mo_db;
DROP ROLE mo_admin;
DROP ROLE mo_user;
DROP ROLE mo_nobody;
