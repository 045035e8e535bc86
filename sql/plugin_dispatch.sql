--
-- Which plugins an event reaches, and who may be trusted with a
-- subscriber's rights.  The set of plugins is fixed when an event is
-- dispatched: a plugin that subscribes or unsubscribes plugins (itself
-- included) changes what later events see, never who else gets this one.
-- The plugin cache of a backend is valid across rollbacks.  A plugin must
-- be owned by a role that already has the subscriber's privileges.  SKUs
-- and order ids start with "PD-"; tables, functions and roles with "pd_".
--
\set VERBOSITY terse

CREATE TABLE pd_calls (n serial PRIMARY KEY, scenario int, plugin text);
-- what the acting plugin does: subscribe or unsubscribe the target
CREATE TABLE pd_action (scenario int, actor text, op text, target text);
CREATE TABLE pd_now (scenario int);

CREATE FUNCTION pd_act(p_plugin text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_scenario int := (SELECT scenario FROM pd_now);
	a record;
BEGIN
	INSERT INTO pd_calls (scenario, plugin) VALUES (v_scenario, p_plugin);
	FOR a IN SELECT * FROM pd_action
			  WHERE scenario = v_scenario AND actor = p_plugin LOOP
		IF a.op = 'subscribe' THEN
			PERFORM allocation.subscribe('Allocated', (a.target || '(jsonb)')::regprocedure);
		ELSE
			PERFORM allocation.unsubscribe('Allocated', (a.target || '(jsonb)')::regprocedure);
		END IF;
	END LOOP;
END
$$;
CREATE FUNCTION pd_p0(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT pd_act('pd_p0') $$;
CREATE FUNCTION pd_p1(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT pd_act('pd_p1') $$;
CREATE FUNCTION pd_p2(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT pd_act('pd_p2') $$;
CREATE FUNCTION pd_p3(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT pd_act('pd_p3') $$;

SELECT allocation.add_batch('PD-B1', 'PD-DESK', 100000);

------------------------------------------------------------------------
-- Generated: pd_p0, pd_p1 and pd_p2 are subscribed, pd_p3 is not; in each
-- scenario one or two of them (each permutation of actors) unsubscribe a
-- subscribed plugin or subscribe pd_p3.  The first event reaches exactly
-- pd_p0, pd_p1, pd_p2; the second the set their changes left.
------------------------------------------------------------------------
CREATE TABLE pd_change (op text, target text);
INSERT INTO pd_change VALUES
	('unsubscribe', 'pd_p0'), ('unsubscribe', 'pd_p1'),
	('unsubscribe', 'pd_p2'), ('subscribe', 'pd_p3');
CREATE TABLE pd_scenario (scenario serial PRIMARY KEY, actors text[],
						  changes text[][]);
-- one actor and one change; then two different actors, two changes
INSERT INTO pd_scenario (actors, changes)
SELECT ARRAY[a], ARRAY[[c.op, c.target]]
  FROM unnest(ARRAY['pd_p0', 'pd_p1', 'pd_p2']) a, pd_change c
 ORDER BY a, c.op, c.target;
INSERT INTO pd_scenario (actors, changes)
SELECT ARRAY[a1, a2], ARRAY[[c1.op, c1.target], [c2.op, c2.target]]
  FROM unnest(ARRAY['pd_p0', 'pd_p1', 'pd_p2']) a1,
	   unnest(ARRAY['pd_p0', 'pd_p1', 'pd_p2']) a2,
	   pd_change c1, pd_change c2
 WHERE a1 <> a2 AND (c1.op, c1.target) < (c2.op, c2.target)
 ORDER BY a1, a2, c1.op, c1.target, c2.op, c2.target;
INSERT INTO pd_action
SELECT s.scenario, s.actors[i], s.changes[i][1], s.changes[i][2]
  FROM pd_scenario s, generate_subscripts(s.actors, 1) i;

CREATE TABLE pd_result (scenario int, event int, called text[], expected text[]);
DO $$
DECLARE
	s record;
	v_after text[];
BEGIN
	FOR s IN SELECT * FROM pd_scenario ORDER BY scenario LOOP
		PERFORM allocation.unsubscribe('Allocated', p::regprocedure)
		   FROM unnest(ARRAY['pd_p0(jsonb)', 'pd_p1(jsonb)', 'pd_p2(jsonb)',
							 'pd_p3(jsonb)']) p;
		PERFORM allocation.subscribe('Allocated', 'pd_p0(jsonb)');
		PERFORM allocation.subscribe('Allocated', 'pd_p1(jsonb)');
		PERFORM allocation.subscribe('Allocated', 'pd_p2(jsonb)');
		DELETE FROM pd_now;
		INSERT INTO pd_now VALUES (s.scenario);
		-- the set the changes leave, computed here
		SELECT array_agg(p ORDER BY p) INTO v_after
		  FROM unnest(ARRAY['pd_p0', 'pd_p1', 'pd_p2', 'pd_p3']) p
		 WHERE (p <> 'pd_p3' OR EXISTS (SELECT FROM pd_action
				 WHERE scenario = s.scenario AND op = 'subscribe'))
		   AND NOT EXISTS (SELECT FROM pd_action
				 WHERE scenario = s.scenario AND op = 'unsubscribe'
				   AND target = p);
		FOR e IN 1..2 LOOP
			PERFORM allocation.allocate(format('PD-s%s-e%s', s.scenario, e),
										'PD-DESK', 1);
			INSERT INTO pd_result
			SELECT s.scenario, e,
				   (SELECT array_agg(plugin ORDER BY plugin) FROM pd_calls
					 WHERE scenario = s.scenario),
				   CASE e WHEN 1 THEN ARRAY['pd_p0', 'pd_p1', 'pd_p2']
						  ELSE v_after END;
			DELETE FROM pd_calls WHERE scenario = s.scenario;
		END LOOP;
	END LOOP;
END
$$;
SELECT count(DISTINCT scenario) AS scenarios, count(*) AS events FROM pd_result;
-- every event reached exactly the expected plugins (no row: none differs)
SELECT r.scenario, s.actors, s.changes, r.event, r.called, r.expected
  FROM pd_result r JOIN pd_scenario s USING (scenario)
 WHERE r.called IS DISTINCT FROM r.expected
 ORDER BY r.scenario, r.event;
SELECT count(*) FILTER (WHERE allocation.unsubscribe('Allocated', p::regprocedure))
	   AS removed
  FROM unnest(ARRAY['pd_p0(jsonb)', 'pd_p1(jsonb)', 'pd_p2(jsonb)', 'pd_p3(jsonb)']) p;

------------------------------------------------------------------------
-- The plugin cache across rollbacks
------------------------------------------------------------------------
DELETE FROM pd_now;
INSERT INTO pd_now VALUES (0);
DELETE FROM pd_calls;

-- subscribed in a transaction that rolls back: called inside it, not after
BEGIN;
SELECT allocation.subscribe('Allocated', 'pd_p0(jsonb)');
SELECT allocation.allocate('PD-rb-1', 'PD-DESK', 1);
SELECT count(*) AS calls_inside FROM pd_calls;
ROLLBACK;
SELECT allocation.allocate('PD-rb-2', 'PD-DESK', 1);
SELECT count(*) AS calls_after_rollback FROM pd_calls;

-- unsubscribed in a transaction that rolls back: still called after it
SELECT allocation.subscribe('Allocated', 'pd_p0(jsonb)');
BEGIN;
SELECT allocation.unsubscribe('Allocated', 'pd_p0(jsonb)');
SELECT allocation.allocate('PD-rb-3', 'PD-DESK', 1);
SELECT count(*) AS calls_inside FROM pd_calls;
ROLLBACK;
SELECT allocation.allocate('PD-rb-4', 'PD-DESK', 1);
SELECT count(*) AS calls_after_rollback FROM pd_calls;

-- subscribed by a plugin whose subtransaction fails: never called
CREATE FUNCTION pd_subscribe_then_fail(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM allocation.subscribe('Allocated', 'pd_p1(jsonb)');
	RAISE EXCEPTION 'pd_subscribe_then_fail gives up';
END
$$;
SELECT allocation.unsubscribe('Allocated', 'pd_p0(jsonb)');
SELECT allocation.subscribe('Allocated', 'pd_subscribe_then_fail(jsonb)');
SELECT allocation.allocate('PD-rb-5', 'PD-DESK', 1);
SELECT allocation.allocate('PD-rb-6', 'PD-DESK', 1);
SELECT count(*) AS pd_p1_calls FROM pd_calls WHERE plugin = 'pd_p1';
SELECT allocation.unsubscribe('Allocated', 'pd_subscribe_then_fail(jsonb)');

------------------------------------------------------------------------
-- Who may be trusted with the subscriber's rights
------------------------------------------------------------------------
CREATE ROLE pd_admin;
GRANT allocation_admin TO pd_admin;
CREATE ROLE pd_clerk;
GRANT CREATE ON SCHEMA public TO pd_clerk, pd_admin;
CREATE TABLE pd_secret (n int);
GRANT ALL ON pd_secret TO pd_admin;
GRANT ALL ON pd_calls, pd_now, pd_action TO pd_admin, pd_clerk;
GRANT USAGE ON SEQUENCE pd_calls_n_seq TO pd_admin, pd_clerk;

-- a function of a less privileged role: its owner could replace its body
SET ROLE pd_clerk;
CREATE FUNCTION pd_clerks(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO pd_calls (plugin) VALUES ('pd_clerks'); END $$;
RESET ROLE;
SET ROLE pd_admin;
SELECT allocation.subscribe('Allocated', 'pd_clerks(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;
SELECT count(*) AS subscribed FROM allocation.subscriptions
 WHERE to_regprocedure(handler) = 'pd_clerks(jsonb)'::regprocedure;

-- the subscriber's own function, or a superuser's, is accepted
SET ROLE pd_admin;
CREATE FUNCTION pd_admins(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO pd_calls (plugin) VALUES ('pd_admins'); END $$;
SELECT allocation.subscribe('Allocated', 'pd_admins(jsonb)');
SELECT allocation.subscribe('Allocated', 'pd_p2(jsonb)');
RESET ROLE;
DELETE FROM pd_calls;
SELECT allocation.allocate('PD-own-1', 'PD-DESK', 1);
SELECT plugin FROM pd_calls ORDER BY n;

-- given away after subscribing: no longer called (a WARNING, the command stands)
ALTER FUNCTION pd_admins(jsonb) OWNER TO pd_clerk;
SET ROLE pd_clerk;
CREATE OR REPLACE FUNCTION pd_admins(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO pd_secret VALUES (1); END $$;
RESET ROLE;
DELETE FROM pd_calls;
SELECT allocation.allocate('PD-own-2', 'PD-DESK', 1);
SELECT plugin FROM pd_calls ORDER BY n;
SELECT count(*) AS secret_rows FROM pd_secret;
SELECT count(*) AS lines FROM allocation.order_lines WHERE orderid = 'PD-own-2';

SELECT allocation.unsubscribe('Allocated', 'pd_admins(jsonb)');
SELECT allocation.unsubscribe('Allocated', 'pd_p2(jsonb)');
SELECT allocation.unsubscribe('Allocated', 'pd_clerks(jsonb)') AS clerks_was_subscribed;
DROP FUNCTION pd_clerks(jsonb), pd_admins(jsonb);
DROP TABLE pd_calls, pd_action, pd_now, pd_change, pd_scenario, pd_result,
	pd_secret;
DROP FUNCTION pd_act(text), pd_p0(jsonb), pd_p1(jsonb), pd_p2(jsonb),
	pd_p3(jsonb), pd_subscribe_then_fail(jsonb);
REVOKE CREATE ON SCHEMA public FROM pd_clerk, pd_admin;
REVOKE ALL ON SCHEMA public FROM pd_clerk, pd_admin;
DROP ROLE pd_admin;
DROP ROLE pd_clerk;
