--
-- allocation.notify_events = auto sends no NOTIFY while no session of the
-- cluster listens, and one when some session does.  listeners.c learns
-- that from a structure private to PostgreSQL's async.c, whose layout
-- differs between major versions (src/adapters/pg_compat.h); this file
-- proves the read on every server the matrix runs (a wrong layout either
-- sees a listener where there is none, or none where there is one).
--
-- A NOTIFY is seen as accesses to the notification queue's pages: the
-- "notify" row of pg_stat_slru (named "Notify" before PostgreSQL 17),
-- whose counters this backend's commit moves when it queues one.  The
-- counters are flushed at the end of each statement
-- (pg_stat_force_next_flush).  SKUs of this file start with "NA-".
--
\set VERBOSITY terse
SELECT allocation.add_batch('NA-B1', 'NA-LAMP', 100);
CREATE TEMP TABLE na_seen (label text PRIMARY KEY, accesses bigint);
CREATE FUNCTION pg_temp.na_accesses() RETURNS bigint LANGUAGE sql AS $$
	SELECT blks_zeroed + blks_hit + blks_read + blks_written
	  FROM pg_catalog.pg_stat_slru WHERE lower(name) = 'notify' $$;
-- na_mark(label): the counters now, after flushing this backend's own
CREATE FUNCTION pg_temp.na_mark(label text) RETURNS void LANGUAGE sql AS $$
	SELECT pg_catalog.pg_stat_clear_snapshot();
	INSERT INTO na_seen VALUES (label, pg_temp.na_accesses()) $$;

-- nobody listens: auto sends nothing
SET allocation.notify_events = auto;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_temp.na_mark('auto, before');
SELECT allocation.allocate('NA-o1', 'NA-LAMP', 1) IS NOT NULL AS allocated;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_temp.na_mark('auto, after');

-- on: a NOTIFY, which the counters show (so the check above can fail)
SET allocation.notify_events = on;
SELECT pg_temp.na_mark('on, before');
SELECT allocation.allocate('NA-o2', 'NA-LAMP', 1) IS NOT NULL AS allocated;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_temp.na_mark('on, after');

-- a session listens (this one): auto sends it
LISTEN na_channel;
SET allocation.notify_events = auto;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_temp.na_mark('auto listening, before');
SELECT allocation.allocate('NA-o3', 'NA-LAMP', 1) IS NOT NULL AS allocated;
SELECT pg_catalog.pg_stat_force_next_flush();
SELECT pg_temp.na_mark('auto listening, after');
UNLISTEN *;

SELECT a.label AS case_, b.accesses > a.accesses AS notified
  FROM na_seen a JOIN na_seen b ON b.label = replace(a.label, 'before', 'after')
 WHERE a.label LIKE '%before' ORDER BY a.label;
RESET allocation.notify_events;
