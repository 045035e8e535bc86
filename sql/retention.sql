--
-- Retention: purge_inbox, purge_notifications and purge_outbox(older_than)
-- remove what is older than an age, and only what may go: never a
-- notification still to be sent, never an event a consumer has not
-- acknowledged, never a hole in an aggregate's events.  Administrators
-- only; NULL age 22004, negative 22023; each returns how many rows went.
-- Ages are made by moving timestamps back (as a superuser), so the
-- output holds no time.  Runs in a database of its own (rt_db), so that
-- the consumers and messages of the other files play no part.
--
\set VERBOSITY terse
\set rt_home :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS rt_db;
RESET client_min_messages;
CREATE DATABASE rt_db;
\c rt_db
\set VERBOSITY terse
CREATE EXTENSION allocation;
CREATE ROLE rt_admin;
GRANT allocation_admin TO rt_admin;
CREATE ROLE rt_user;
GRANT allocation_user TO rt_user;

-- the SQLSTATE of a call as a role, or 'ok'
CREATE FUNCTION rt_try(who text, call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SET LOCAL ROLE %I', who);
	EXECUTE call;
	RESET ROLE;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

------------------------------------------------------------------------
-- purge_inbox
------------------------------------------------------------------------

-- four messages handled; two of them 40 days ago, one 20 days ago
SELECT allocation.add_batch('RT-B1', 'RT-SKU', 100);
SELECT allocation.handle(format('{"type": "Allocate", "orderid": "RT-m%s", "sku": "RT-SKU", "qty": 1, "message_id": "rt-%s"}', i, i)::jsonb) IS NOT NULL AS handled
  FROM generate_series(1, 4) i;
UPDATE allocation.inbox SET handled_at = handled_at - interval '40 days' WHERE message_id IN ('"rt-1"', '"rt-2"');
UPDATE allocation.inbox SET handled_at = handled_at - interval '20 days' WHERE message_id = '"rt-3"';

-- the default age, 30 days: the two old ones go
SELECT allocation.purge_inbox() AS purged;
SELECT message_id FROM allocation.inbox ORDER BY message_id;
-- again: nothing left that old
SELECT allocation.purge_inbox() AS purged;
-- a younger age takes the 20-day-old one
SELECT allocation.purge_inbox('10 days') AS purged;
SELECT message_id FROM allocation.inbox ORDER BY message_id;
-- a message still remembered is not run again; a forgotten one is (the
-- reason the default age is far beyond any redelivery window)
SELECT allocation.handle('{"type": "Allocate", "orderid": "RT-m4", "sku": "RT-SKU", "qty": 1, "message_id": "rt-4"}') AS again_4;
SELECT count(*) AS lines_of_rt_m4 FROM allocation.order_lines WHERE orderid = 'RT-m4';
-- an age of zero: everything handled before this statement
SELECT allocation.purge_inbox('0') AS purged;
SELECT count(*) AS inbox_rows FROM allocation.inbox;

------------------------------------------------------------------------
-- purge_notifications: sent or dead, never one still to be sent
------------------------------------------------------------------------

-- generated: every combination of sent_at and dead_at (none, 100 days
-- ago, 10 days ago), each for a fresh and a retried notification
CREATE TABLE rt_mail_case (id bigint, sent text, dead text, attempts integer);
WITH ages(label, age) AS (VALUES ('none', NULL), ('old', interval '100 days'), ('young', interval '10 days')),
cases AS (
	SELECT s.label AS sent, s.age AS sent_age, d.label AS dead, d.age AS dead_age, a.attempts
	  FROM ages s, ages d, (VALUES (0), (3)) a(attempts)
	 WHERE NOT (s.label <> 'none' AND d.label <> 'none')	-- a row is sent or dead, never both
), ins AS (
	INSERT INTO allocation.notifications (recipient, subject, body)
	SELECT 'rt@rt.example.com', format('%s/%s/%s', sent, dead, attempts), 'body' FROM cases
	RETURNING id, subject
)
INSERT INTO rt_mail_case
SELECT i.id, c.sent, c.dead, c.attempts
  FROM ins i JOIN cases c ON i.subject = format('%s/%s/%s', c.sent, c.dead, c.attempts);
UPDATE allocation.notifications n
   SET sent_at = CASE c.sent WHEN 'old' THEN now() - interval '100 days' WHEN 'young' THEN now() - interval '10 days' END,
       dead_at = CASE c.dead WHEN 'old' THEN now() - interval '100 days' WHEN 'young' THEN now() - interval '10 days' END,
       attempts = c.attempts,
       created_at = now() - interval '200 days',
       next_attempt_at = CASE WHEN c.attempts > 0 THEN now() - interval '150 days' ELSE n.next_attempt_at END,
       claimed_until = CASE WHEN c.attempts > 0 AND c.sent = 'none' AND c.dead = 'none' THEN now() + interval '1 hour' END
  FROM rt_mail_case c WHERE c.id = n.id;
SELECT count(*) AS cases FROM rt_mail_case;

-- the default, 90 days: the old sent and the old dead ones go
SELECT allocation.purge_notifications() AS purged;
SELECT c.sent, c.dead, c.attempts, EXISTS (SELECT FROM allocation.notifications n WHERE n.id = c.id) AS kept
  FROM rt_mail_case c ORDER BY 1, 2, 3;
-- an age of zero: every sent or dead one; the ones still to be sent stay
SELECT allocation.purge_notifications('0') AS purged;
SELECT bool_and(EXISTS (SELECT FROM allocation.notifications n WHERE n.id = c.id) = (c.sent = 'none' AND c.dead = 'none')) AS only_pending_kept
  FROM rt_mail_case c;
SELECT unsent, dead FROM allocation.mail_backlog;

------------------------------------------------------------------------
-- purge_outbox(older_than): acknowledged by every consumer, and old
------------------------------------------------------------------------

-- generated: the events so far (the inbox part's 5 and 27 batches of
-- three products), numbered in delivery order; the n-th occurred (30 - n)
-- days and an hour ago, except the 16th, which is an hour old; consumer
-- rt-fast acknowledges the 25th, rt-slow the 20th
SELECT allocation.register_consumer('rt-fast');
SELECT allocation.register_consumer('rt-slow');
DO $$
BEGIN
	FOR i IN 1..27 LOOP
		PERFORM allocation.add_batch('RT-E' || i, 'RT-P' || (i % 3), 1);
	END LOOP;
END
$$;
-- nothing acknowledged yet: nothing goes, whatever the age
SELECT allocation.purge_outbox('0') AS purged, allocation.purge_outbox() AS purged_all;
CREATE TABLE rt_event AS
SELECT row_number() OVER (ORDER BY commit_key, position) AS n, id, aggregateid, aggregate_seq
  FROM allocation.outbox;
SELECT count(*) AS events FROM rt_event;
UPDATE allocation.outbox o
   SET occurred_at = CASE WHEN e.n = 16 THEN now() - interval '1 hour'
                          ELSE now() - (30 - e.n) * interval '1 day' - interval '1 hour' END
  FROM rt_event e WHERE e.id = o.id;
SELECT id AS rt_ack_fast FROM rt_event WHERE n = 25 \gset
SELECT id AS rt_ack_slow FROM rt_event WHERE n = 20 \gset
SELECT allocation.ack_events('rt-fast', :'rt_ack_fast');
SELECT allocation.ack_events('rt-slow', :'rt_ack_slow');

-- for each age, in a transaction rolled back: what goes is exactly the
-- events before the first one that some consumer has not acknowledged or
-- that is younger than the age, in delivery order (a prefix, so no
-- product's events get a hole: check_invariants stays quiet)
CREATE FUNCTION rt_outbox_case(age interval) RETURNS TABLE (purged bigint, expected bigint, kept_is_the_rest boolean, healthy boolean)
LANGUAGE plpgsql AS $$
DECLARE
	first_kept bigint;
BEGIN
	SELECT min(e.n) INTO first_kept
	  FROM rt_event e JOIN allocation.outbox o ON o.id = e.id
	 WHERE e.n > 20 OR now() - o.occurred_at <= age;
	purged := allocation.purge_outbox(age);
	expected := first_kept - 1;
	SELECT bool_and((o.id IS NOT NULL) = (e.n > expected)) INTO kept_is_the_rest
	  FROM rt_event e LEFT JOIN allocation.outbox o ON o.id = e.id;
	SELECT count(*) = 0 INTO healthy FROM allocation.check_invariants();
	RETURN NEXT;
END
$$;
SELECT unnest(ARRAY['BEGIN',
                    format('SELECT %L::interval AS age, * FROM rt_outbox_case(%L)', a, a),
                    'ROLLBACK'])
  FROM unnest(ARRAY['0', '30 minutes', '2 hours', '12 days', '16 days', '40 days', '1000000 years']) WITH ORDINALITY AS t(a, i)
 ORDER BY i \gexec

-- the old signature is still there: every acknowledged event goes
SELECT allocation.purge_outbox() AS purged;
SELECT min(n) AS first_kept, count(*) AS kept FROM rt_event e JOIN allocation.outbox o ON o.id = e.id;
SELECT count(*) = 0 AS healthy FROM allocation.check_invariants();

------------------------------------------------------------------------
-- Bad ages: 22004 and 22023, and nothing changed
------------------------------------------------------------------------
SELECT allocation.add_batch('RT-LAST', 'RT-SKU', 1);
SELECT allocation.handle('{"type": "Allocate", "orderid": "RT-last", "sku": "RT-SKU", "qty": 1, "message_id": "rt-last"}') IS NOT NULL AS handled;
UPDATE allocation.inbox SET handled_at = handled_at - interval '100 days';
UPDATE allocation.notifications SET sent_at = now() - interval '100 days' WHERE sent_at IS NULL AND dead_at IS NULL;
SELECT (SELECT count(*) FROM allocation.inbox) AS inbox, (SELECT count(*) FROM allocation.notifications) AS notifications,
       (SELECT count(*) FROM allocation.outbox) AS outbox \gset rt_before_
SELECT allocation.purge_inbox(NULL);
SELECT allocation.purge_inbox('-1 second');
SELECT allocation.purge_notifications(NULL);
SELECT allocation.purge_notifications('-1 day');
SELECT allocation.purge_outbox(NULL);
SELECT allocation.purge_outbox('-1 mon 29 days');
SELECT (SELECT count(*) FROM allocation.inbox) = :rt_before_inbox AS inbox_unchanged,
       (SELECT count(*) FROM allocation.notifications) = :rt_before_notifications AS notifications_unchanged,
       (SELECT count(*) FROM allocation.outbox) = :rt_before_outbox AS outbox_unchanged;
-- an age beyond any timestamp: nothing is that old
SELECT allocation.purge_inbox('1000000 years') AS purged, allocation.purge_notifications('1000000 years') AS purged;

------------------------------------------------------------------------
-- Generated ages: counted back from any moment, in any time zone, a
-- purge's cut-off never lies after that moment (an interval of mixed
-- signs that compares as positive can reach into the future across a
-- short month or a daylight-saving change), an age that compares as
-- positive never cuts at that very moment either ('-1 mon 31 days', a
-- day, counts back to exactly now on the 1st of August, and '1 day -23
-- hours', an hour, on a spring-forward day: a purge would take what was
-- handled a moment before, as with an age of zero), and an age with no
-- negative part is always taken.  20,000 cases: interval parts around
-- the month and day boundaries, moments over two years (one leap), three
-- zones.
------------------------------------------------------------------------
CREATE FUNCTION rt_cutoff_cases(n integer)
RETURNS TABLE (cases bigint, rejected bigint, in_future bigint, at_now bigint, wrong bigint, good_refused bigint)
LANGUAGE plpgsql AS $$
DECLARE
	months int[] := '{-1,0,1,2,12}';
	days int[] := '{-366,-59,-31,-30,-29,-28,-27,-1,0,1,29,30,31}';
	hours int[] := '{-25,-24,-23,-1,0,1,23}';
	mins int[] := '{-30,0,30}';
	zones text[] := '{UTC,America/New_York,Australia/Lord_Howe}';
	age interval;
	at timestamptz;
	got timestamptz;
	refused boolean;
BEGIN
	cases := 0; rejected := 0; in_future := 0; at_now := 0; wrong := 0; good_refused := 0;
	PERFORM setseed(0.25);
	FOR i IN 1 .. n LOOP
		PERFORM set_config('TimeZone', zones[1 + floor(random() * 3)::int], true);
		age := make_interval(months => months[1 + floor(random() * 5)::int],
							 days => days[1 + floor(random() * 13)::int],
							 hours => hours[1 + floor(random() * 7)::int],
							 mins => mins[1 + floor(random() * 3)::int]);
		at := timestamp '2027-01-01 00:00' + floor(random() * 731 * 48) * interval '30 minutes';
		refused := false;
		BEGIN
			got := allocation._purge_cutoff(age, at);
		EXCEPTION WHEN invalid_parameter_value THEN
			refused := true;
		END;
		cases := cases + 1;
		IF refused THEN
			rejected := rejected + 1;
			IF extract(month FROM age) >= 0 AND extract(day FROM age) >= 0
			   AND extract(epoch FROM age - date_trunc('day', age)) >= 0 THEN
				good_refused := good_refused + 1;
			END IF;
		ELSIF got > at THEN
			in_future := in_future + 1;
		ELSIF got = at AND age > interval '0' THEN
			at_now := at_now + 1;
		ELSIF got IS DISTINCT FROM at - age THEN
			wrong := wrong + 1;
		END IF;
	END LOOP;
	RETURN NEXT;
END
$$;
SELECT cases, rejected > 1000 AS many_rejected, in_future, at_now, wrong, good_refused FROM rt_cutoff_cases(20000);
RESET TimeZone;
-- for example: a day that counts back to exactly now, 22023; an hour that
-- does on New York's spring-forward day, 22023; an age comparing as zero
-- that does, taken (as '0' is)
SELECT allocation._purge_cutoff('-1 mon 31 days', '2027-08-01 00:00 UTC');
SET TimeZone = 'America/New_York';
SELECT allocation._purge_cutoff('1 day -23 hours', '2027-03-14 12:00');
SELECT allocation._purge_cutoff('1 mon -30 days', '2027-07-01 00:00') AS cutoff;
RESET TimeZone;

------------------------------------------------------------------------
-- Administrators only: a user gets 42501 naming allocation_admin
------------------------------------------------------------------------
SELECT c AS call, rt_try('rt_user', c) AS "user", rt_try('rt_admin', c) AS admin
  FROM unnest(ARRAY['SELECT allocation.purge_inbox()', 'SELECT allocation.purge_inbox(''1 day'')',
                    'SELECT allocation.purge_notifications()', 'SELECT allocation.purge_notifications(''1 day'')',
                    'SELECT allocation.purge_outbox(''1 day'')', 'SELECT allocation.purge_outbox()']) c;
SET ROLE rt_user;
SELECT allocation.purge_inbox();
SELECT allocation.purge_outbox('1 day');
RESET ROLE;
-- and the administrator's purge did its work
SELECT (SELECT count(*) FROM allocation.inbox) AS inbox, (SELECT count(*) FROM allocation.notifications) AS notifications;

\c :rt_home
\set VERBOSITY terse
DROP DATABASE rt_db;
DROP ROLE rt_admin;
DROP ROLE rt_user;
