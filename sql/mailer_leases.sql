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
