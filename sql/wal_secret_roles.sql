--
-- The secret of the events in the WAL (allocation.wal_secret) against the
-- predefined roles that act on every table: pg_read_all_data and
-- pg_write_all_data.  Neither carries REPLICATION, so neither may learn
-- the token (a reader could sign a message as the extension does) nor
-- set it (a writer could then sign with a token of its choosing, and the
-- events of the backends that keep the old one would no longer be
-- recognised).  Each attempt reports "hidden" / "unchanged" when it
-- fails, whether by an error or by seeing no row.  SKUs of this file
-- start with "WSR-".
--
\set VERBOSITY terse
LOAD '$libdir/allocation';
SET allocation.outbox_mode = wal;
SELECT allocation.add_batch('WSR-b1', 'WSR-SKU', 10);
RESET allocation.outbox_mode;
SELECT count(*) AS tokens FROM allocation.wal_secret;
CREATE TEMP TABLE wsr_before AS SELECT token FROM allocation.wal_secret;
GRANT SELECT ON wsr_before TO PUBLIC;
CREATE ROLE wsr_reader IN ROLE pg_read_all_data;
CREATE ROLE wsr_writer IN ROLE pg_write_all_data;

-- the token, read directly
SET ROLE wsr_reader;
DO $$
BEGIN
	PERFORM 1 FROM allocation.wal_secret WHERE token IS NOT NULL;
	RAISE NOTICE 'read as pg_read_all_data: %', CASE WHEN FOUND THEN 'token readable' ELSE 'hidden' END;
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'read as pg_read_all_data: hidden';
END $$;
RESET ROLE;

-- the token, changed or removed without reading it
SET ROLE wsr_writer;
DO $$
BEGIN
	UPDATE allocation.wal_secret SET token = repeat('ab', 16);
EXCEPTION WHEN insufficient_privilege THEN
	NULL;
END $$;
DO $$
BEGIN
	DELETE FROM allocation.wal_secret;
	INSERT INTO allocation.wal_secret (token) VALUES (repeat('cd', 16));
EXCEPTION WHEN insufficient_privilege OR unique_violation THEN
	NULL;
END $$;
RESET ROLE;
SELECT CASE WHEN s.token = b.token THEN 'unchanged' ELSE 'changed by pg_write_all_data' END AS token
  FROM wsr_before b LEFT JOIN allocation.wal_secret s ON true;

-- a new backend signs with the token of the table: the writer's, if it
-- could set it
\c
SELECT allocation.wal_message_prefix() IN ('allocation:' || repeat('ab', 16), 'allocation:' || repeat('cd', 16))
	AS prefix_chosen_by_pg_write_all_data;

DROP ROLE wsr_reader, wsr_writer;
