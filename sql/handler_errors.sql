--
-- Which errors of an isolated handler or plugin become WARNINGs, and which
-- reach the caller.  A plugin's own failure is a WARNING that undoes only
-- its work; an error that belongs to the caller's transaction (class 40
-- transaction rollback, 53 insufficient resources, 55P03 lock not
-- available, 57 operator intervention, 58 system error, XX internal
-- error) rolls the plugin back and fails the command, as PL/pgSQL's own
-- WHEN OTHERS lets a cancel through.  SKUs and order ids start with "HE-";
-- tables and functions with "he_".
--
\set VERBOSITY terse

CREATE TABLE he_plugin_work (code text);

-- raises the SQLSTATE named by the setting he.code, after doing some work
CREATE FUNCTION he_raise(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_code text := current_setting('he.code');
BEGIN
	INSERT INTO he_plugin_work VALUES (v_code);
	RAISE EXCEPTION 'he_raise raises %', v_code USING ERRCODE = v_code;
END
$$;

SELECT allocation.add_batch('HE-B1', 'HE-LAMP', 1000);
SELECT allocation.subscribe('Allocated', 'he_raise(jsonb)');

------------------------------------------------------------------------
-- Generated: every code of the caller's classes that PostgreSQL defines
-- (src/backend/utils/errcodes.txt), a made-up code of each of those
-- classes, and a sample of the plugin's own failures
------------------------------------------------------------------------
CREATE TABLE he_codes (code text PRIMARY KEY);
INSERT INTO he_codes VALUES
	-- class 40
	('40000'), ('40001'), ('40002'), ('40003'), ('40P01'), ('40ZZ9'),
	-- class 53
	('53000'), ('53100'), ('53200'), ('53300'), ('53400'), ('53ZZ9'),
	-- lock not available, and its class's other codes (the plugin's)
	('55P03'), ('55000'), ('55006'), ('55P02'), ('55P04'),
	-- class 57
	('57000'), ('57014'), ('57P01'), ('57P02'), ('57P03'), ('57P04'),
	('57P05'), ('57ZZ9'),
	-- class 58
	('58000'), ('58030'), ('58P01'), ('58P02'), ('58ZZ9'),
	-- class XX
	('XX000'), ('XX001'), ('XX002'), ('XXZZ9'),
	-- the plugin's own failures
	('22012'), ('22023'), ('22004'), ('23505'), ('23503'), ('42501'),
	('42P01'), ('42883'), ('P0001'), ('P0002'), ('P0003'), ('P0004'),
	('54001'), ('38000'), ('39000'), ('0A000'), ('25006'), ('ZA001'),
	('ZA004'), ('HV000');

CREATE TABLE he_result (code text PRIMARY KEY, propagated text,
						committed boolean, plugin_work boolean);

SET client_min_messages = error;	-- one WARNING a code otherwise
DO $$
DECLARE
	v_code text;
	v_state text;
BEGIN
	FOR v_code IN SELECT code FROM he_codes ORDER BY code LOOP
		PERFORM set_config('he.code', v_code, false);
		v_state := NULL;
		BEGIN
			PERFORM allocation.allocate('HE-' || v_code, 'HE-LAMP', 1);
		EXCEPTION WHEN query_canceled OR OTHERS THEN
			v_state := SQLSTATE;
		END;
		INSERT INTO he_result VALUES (v_code, v_state,
			EXISTS (SELECT FROM allocation.order_lines
					 WHERE orderid = 'HE-' || v_code),
			EXISTS (SELECT FROM he_plugin_work WHERE code = v_code));
	END LOOP;
END
$$;
RESET client_min_messages;

-- the rule, written independently of the code that applies it
CREATE FUNCTION he_belongs_to_caller(code text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
	SELECT left(code, 2) IN ('40', '53', '57', '58', 'XX') OR code = '55P03'
$$;

-- every code: the caller's errors fail the command with their own SQLSTATE,
-- the others leave it committed; the plugin's work is undone either way
SELECT count(*) AS codes_checked FROM he_result;
SELECT code, propagated, committed, plugin_work,
	   he_belongs_to_caller(code) AS callers
  FROM he_result
 WHERE plugin_work
	OR CASE WHEN he_belongs_to_caller(code)
			THEN propagated IS DISTINCT FROM code OR committed
			ELSE propagated IS NOT NULL OR NOT committed END
 ORDER BY code;
-- the two outcomes, counted
SELECT propagated IS NOT NULL AS propagated, committed, count(*)
  FROM he_result GROUP BY 1, 2 ORDER BY 1, 2;

-- the WARNING of a plugin's own failure carries its SQLSTATE (not 40001)
\set VERBOSITY sqlstate
SET he.code = '22012';
SELECT allocation.allocate('HE-warning', 'HE-LAMP', 1);
-- an error of the caller's reaches it with its SQLSTATE
SET he.code = '40P01';
SELECT allocation.allocate('HE-deadlock', 'HE-LAMP', 1);
\set VERBOSITY terse
SELECT allocation.unsubscribe('Allocated', 'he_raise(jsonb)');

------------------------------------------------------------------------
-- statement_timeout and cancel stop a command whose plugin is slow
------------------------------------------------------------------------
CREATE FUNCTION he_slow(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_catalog.pg_sleep(3);
	INSERT INTO he_plugin_work VALUES ('slow');
END
$$;
SELECT allocation.subscribe('Allocated', 'he_slow(jsonb)');

-- the 3 s sleep is cut at 300 ms: 57014, nothing allocated
SET statement_timeout = '300ms';
SELECT allocation.allocate('HE-timeout', 'HE-LAMP', 1);
RESET statement_timeout;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS lines FROM allocation.order_lines WHERE orderid = 'HE-timeout';
SELECT count(*) AS slow_work FROM he_plugin_work WHERE code = 'slow';
SELECT allocation.unsubscribe('Allocated', 'he_slow(jsonb)');

-- a cancel request (here the plugin's own) stops the command the same way
CREATE FUNCTION he_cancel(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_catalog.pg_cancel_backend(pg_catalog.pg_backend_pid());
	PERFORM pg_catalog.pg_sleep(3);
	INSERT INTO he_plugin_work VALUES ('cancel');
END
$$;
SELECT allocation.subscribe('Allocated', 'he_cancel(jsonb)');
SELECT allocation.allocate('HE-cancel', 'HE-LAMP', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS lines FROM allocation.order_lines WHERE orderid = 'HE-cancel';
SELECT count(*) AS cancel_work FROM he_plugin_work WHERE code = 'cancel';
SELECT allocation.unsubscribe('Allocated', 'he_cancel(jsonb)');

DROP TABLE he_plugin_work, he_codes, he_result;
DROP FUNCTION he_raise(jsonb), he_slow(jsonb), he_cancel(jsonb),
	he_belongs_to_caller(text);
