--
-- The mailer's leases.  A mailer whose lease ran out while it was still
-- sending reports its outcome late; by then another mailer may hold the
-- row under a lease of its own.  The late report must not end that other
-- lease: the row would be claimed a third time while the second mailer
-- may still be sending it (one e-mail, two deliveries within one lease).
-- And a lease too long for a timestamp is an argument out of its domain
-- (22023), not a datetime overflow.  Each case in a transaction rolled
-- back, so that other tests' notifications are left as they were.
--
\set VERBOSITY terse

BEGIN;
INSERT INTO allocation.notifications (recipient, subject, body)
VALUES ('lease@example.com', 'Lease', 'body') RETURNING id AS ml_id \gset
-- mailer A claims it, with a lease that runs out at once
SELECT count(*) AS a_claimed
  FROM allocation.claim_notifications(10000, interval '1 microsecond') WHERE id = :ml_id;
SELECT pg_sleep(0.01);
-- mailer B takes it over, for five minutes
SELECT count(*) AS b_claimed
  FROM allocation.claim_notifications(10000, interval '5 minutes') WHERE id = :ml_id;
-- A's attempt failed; it says so late
SELECT allocation.mark_notification_failed(:ml_id, 'A: timeout') IS NOT NULL AS reported;
-- B's lease still holds: no third mailer may get the row before it ends
SELECT claimed_until > clock_timestamp() AS b_lease_holds
  FROM allocation.notifications WHERE id = :ml_id;
ROLLBACK;

BEGIN;
INSERT INTO allocation.notifications (recipient, subject, body)
VALUES ('lease@example.com', 'Lease', 'body');
SELECT count(*) FROM allocation.claim_notifications(1, interval '100000000 years');
ROLLBACK;

-- An error text is kept without its control characters (the SMTP server's
-- words reach administrators' terminals through mail_dead): each of the
-- C0 controls and DEL, generated, in the middle of a text, becomes a blank.
BEGIN;
INSERT INTO allocation.notifications (recipient, subject, body)
SELECT 'ctl' || c || '@example.com', 'Ctl', 'body' FROM generate_series(1, 127) c
 WHERE c < 32 OR c = 127;
SELECT count(allocation.mark_notification_failed(n.id, 'bad' || chr(split_part(n.recipient, '@', 1)::text::int) || 'reply' || chr(27) || '[31m', true))
  FROM (SELECT id, substr(recipient, 4) AS recipient FROM allocation.notifications WHERE subject = 'Ctl') n;
SELECT count(*) AS kept,
       count(*) FILTER (WHERE last_error ~ '[[:cntrl:]]') AS with_control,
       count(*) FILTER (WHERE last_error = 'bad reply [31m') AS as_expected
  FROM allocation.notifications WHERE subject = 'Ctl';
ROLLBACK;

-- release_notifications: rows claimed and not tried (the SMTP server was
-- away) are due again at once, with no attempt counted and the reason
-- kept.  Generated over the states a row can be in when the mailer gives
-- it back: only a row still under a claim changes; one whose claim ran
-- out, one never claimed, one sent and one dead stay exactly as they were.
BEGIN;
CREATE TEMP TABLE ml_states (state text, id bigint);
CREATE FUNCTION pg_temp.ml_row(state text) RETURNS void LANGUAGE sql AS $$
	WITH made AS (
		INSERT INTO allocation.notifications (recipient, subject, body)
		VALUES ('rel-' || state || '@example.com', 'Release', 'body') RETURNING id)
	INSERT INTO ml_states SELECT state, id FROM made $$;
-- claimed for five minutes (the sent and the dead rows too, then reported)
SELECT pg_temp.ml_row(s) FROM unnest(ARRAY['claimed', 'sent', 'dead']) s;
SELECT count(*) AS claimed FROM allocation.claim_notifications(10000, interval '5 minutes') c
  JOIN ml_states s ON s.id = c.id;
SELECT allocation.mark_notification_sent(id) FROM ml_states WHERE state = 'sent';
SELECT allocation.mark_notification_failed(id, '550 no', true) FROM ml_states WHERE state = 'dead';
-- claimed for a microsecond: its claim has run out
SELECT pg_temp.ml_row('ran-out');
SELECT count(*) AS claimed_briefly FROM allocation.claim_notifications(10000, interval '1 microsecond') c
  JOIN ml_states s ON s.id = c.id AND s.state = 'ran-out';
SELECT pg_sleep(0.01);
SELECT pg_temp.ml_row('never-claimed');
CREATE TEMP TABLE ml_before AS
SELECT n.* FROM allocation.notifications n JOIN ml_states s USING (id);
SELECT allocation.release_notifications(array_agg(id ORDER BY id), 'server away' || chr(13) || chr(10) || '421')
    AS released
  FROM ml_states;
SELECT s.state,
       n.claimed_until IS NULL AS unclaimed,
       n.attempts,
       n.last_error,
       (n.*)::text = (b.*)::text AS unchanged
  FROM ml_states s
  JOIN allocation.notifications n USING (id)
  JOIN ml_before b USING (id)
 ORDER BY s.id;
-- given back, the row is claimed again at once
SELECT count(*) AS claimed_again FROM allocation.claim_notifications(10000, interval '5 minutes') c
  JOIN ml_states s ON s.id = c.id AND s.state = 'claimed';
ROLLBACK;

-- its arguments: NULLs 22004, more than 10000 ids 22023, an empty array
-- and unknown or NULL ids give back nothing
\set VERBOSITY sqlstate
SELECT allocation.release_notifications(NULL, 'x');
SELECT allocation.release_notifications('{1}', NULL);
SELECT allocation.release_notifications(array_agg(g::bigint), 'x') FROM generate_series(1, 10001) g;
SELECT allocation.release_notifications('{}', 'x') AS empty,
       allocation.release_notifications('{-1,NULL}', 'x') AS unknown;
\set VERBOSITY terse
