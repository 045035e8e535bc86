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
-- away, or the mailer stops) are due again at once, with no attempt
-- counted and the reason kept.  Generated over the states a row can be in
-- when a mailer gives its claim back: only a row still held by that claim
-- changes.  One whose claim ran out and which another mailer claimed since
-- stays claimed by that one (else a third mailer would send it too), and
-- one never claimed, one sent and one dead stay exactly as they were.
BEGIN;
CREATE TEMP TABLE ml_states (state text, id bigint);
CREATE FUNCTION pg_temp.ml_row(state text) RETURNS void LANGUAGE sql AS $$
	WITH made AS (
		INSERT INTO allocation.notifications (recipient, subject, body)
		VALUES ('rel-' || state || '@example.com', 'Release', 'body') RETURNING id)
	INSERT INTO ml_states SELECT state, id FROM made $$;
-- mailer A claims three for five minutes, then reports two of them
SELECT pg_temp.ml_row(s) FROM unnest(ARRAY['claimed', 'sent', 'dead']) s;
SELECT count(*) AS a_claimed, count(DISTINCT c.claim) AS claims, min(c.claim::text) AS claim_a
  FROM allocation.claim_notifications(10000, interval '5 minutes') c
  JOIN ml_states s ON s.id = c.id \gset
SELECT :a_claimed AS a_claimed, :claims AS claims;
SELECT allocation.mark_notification_sent(id) FROM ml_states WHERE state = 'sent';
SELECT allocation.mark_notification_failed(id, '550 no', true) FROM ml_states WHERE state = 'dead';
-- mailer X claims one for a microsecond; once that ran out, mailer B takes it
SELECT pg_temp.ml_row('taken-over');
SELECT min(c.claim::text) AS claim_x
  FROM allocation.claim_notifications(10000, interval '1 microsecond') c
  JOIN ml_states s ON s.id = c.id AND s.state = 'taken-over' \gset
SELECT pg_sleep(0.01);
SELECT count(*) AS b_claimed FROM allocation.claim_notifications(10000, interval '5 minutes') c
  JOIN ml_states s ON s.id = c.id AND s.state = 'taken-over';
SELECT pg_temp.ml_row('never-claimed');
CREATE TEMP TABLE ml_before AS
SELECT n.* FROM allocation.notifications n JOIN ml_states s USING (id);
-- X gives its claim back late, then A gives its own back
SELECT allocation.release_notifications(array_agg(id ORDER BY id), :'claim_x', 'X: server away')
    AS x_released
  FROM ml_states;
SELECT allocation.release_notifications(array_agg(id ORDER BY id), :'claim_a', 'server away' || chr(13) || chr(10) || '421')
    AS a_released
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
-- given back, the row is claimed again at once; B's still holds
SELECT s.state, count(*) AS claimed_again
  FROM allocation.claim_notifications(10000, interval '5 minutes') c
  JOIN ml_states s ON s.id = c.id
 GROUP BY s.state ORDER BY s.state;
ROLLBACK;

-- A report with the reporter's claim ends that claim: the row is due
-- again after its backoff (not after the lease), and it is no claim's to
-- give back as untried (its attempt was counted, its error is the real
-- one).  An empty error gives a row back keeping its last one.
BEGIN;
SET LOCAL allocation.mail_retry_delay = 1;
INSERT INTO allocation.notifications (recipient, subject, body, last_error)
SELECT 'rep' || g || '@example.com', 'Reported', 'body', CASE WHEN g = 3 THEN 'earlier: 451 busy' END
  FROM generate_series(1, 3) g;
SELECT min(c.claim::text) AS claim_r
  FROM allocation.claim_notifications(10000, interval '1 hour') c
 WHERE c.subject = 'Reported' \gset
SELECT allocation.mark_notification_failed(id, '452 full', false, :'claim_r') AS failed
  FROM allocation.notifications WHERE recipient = 'rep1@example.com';
SELECT allocation.release_notifications(array_agg(id), :'claim_r', '') AS released
  FROM allocation.notifications WHERE subject = 'Reported';
SELECT recipient, attempts, last_error, claimed_until IS NULL AS unclaimed, claim IS NULL AS no_claim
  FROM allocation.notifications WHERE subject = 'Reported' ORDER BY id;
SELECT pg_sleep(1.1);
SELECT c.recipient AS claimed_after_its_backoff
  FROM allocation.claim_notifications(10000, interval '1 hour') c
 WHERE c.recipient = 'rep1@example.com';
ROLLBACK;

-- A late report (its claim ran out, another mailer claimed the row since)
-- leaves that other claim alone: the other mailer may still give the row
-- back, and a revival by an administrator keeps its lease, so no third
-- mailer may claim the row while it is being sent.  A row that its own
-- mailer reported dead is claimable at once after a revival.
BEGIN;
INSERT INTO allocation.notifications (recipient, subject, body)
VALUES ('revive@example.com', 'Revive', 'body') RETURNING id AS rv_id \gset
SELECT min(claim::text) AS claim_a
  FROM allocation.claim_notifications(10000, interval '1 microsecond') WHERE id = :rv_id \gset
SELECT pg_sleep(0.01);
SELECT min(claim::text) AS claim_b
  FROM allocation.claim_notifications(10000, interval '1 hour') WHERE id = :rv_id \gset
SELECT allocation.mark_notification_failed(:rv_id, 'A: 550 late', true, :'claim_a') AS a_report;
SELECT claim::text = :'claim_b' AS b_claim_kept, claimed_until > clock_timestamp() AS b_lease_holds
  FROM allocation.notifications WHERE id = :rv_id;
SELECT allocation.retry_notification(:rv_id) AS revived;
SELECT count(*) AS c_claimed FROM allocation.claim_notifications(10000, interval '1 hour') WHERE id = :rv_id;
SELECT allocation.release_notifications(ARRAY[:rv_id]::bigint[], :'claim_b', 'B: server away') AS b_gave_back;
SELECT dead_at IS NULL AS alive, attempts, claimed_until IS NULL AS due_now
  FROM allocation.notifications WHERE id = :rv_id;
-- its own mailer reports it dead; revived, it is claimable at once
SELECT min(claim::text) AS claim_d
  FROM allocation.claim_notifications(10000, interval '1 day') WHERE id = :rv_id \gset
SELECT allocation.mark_notification_failed(:rv_id, '550 5.1.1 no such user', true, :'claim_d') AS d_report;
SELECT allocation.retry_notification(:rv_id) AS revived_again;
SELECT (SELECT claimed FROM allocation.mail_backlog) =
       (SELECT count(*) FROM allocation.notifications n
         WHERE n.id <> :rv_id AND n.sent_at IS NULL AND n.dead_at IS NULL
           AND n.claim IS NOT NULL AND n.claimed_until > now()) AS backlog_does_not_count_it_claimed;
SELECT count(*) AS claimable_now FROM allocation.claim_notifications(10000, interval '5 minutes') WHERE id = :rv_id;
ROLLBACK;

-- its arguments: NULLs 22004, more than 10000 ids 22023, an empty array
-- and unknown or NULL ids give back nothing
\set VERBOSITY sqlstate
SELECT allocation.release_notifications(NULL, gen_random_uuid(), 'x');
SELECT allocation.release_notifications('{1}', NULL, 'x');
SELECT allocation.release_notifications('{1}', gen_random_uuid(), NULL);
SELECT allocation.release_notifications(array_agg(g::bigint), gen_random_uuid(), 'x') FROM generate_series(1, 10001) g;
SELECT allocation.release_notifications('{}', gen_random_uuid(), 'x') AS empty,
       allocation.release_notifications('{-1,NULL}', gen_random_uuid(), 'x') AS unknown;
\set VERBOSITY terse
