--
-- Plugins that run commands of their own, and what a plugin's subscription
-- keeps.  A plugin may call allocate, deallocate or change_batch_quantity:
-- the nested command changes the model while the outer command's events
-- are still being dispatched, and the read model must still equal the
-- write model at the end (check_invariants).  Then: a handler dropped and
-- created again, a subscriber that lost allocation_admin, and the
-- search_path a plugin runs with.  SKUs, references and order ids of this
-- file start with "PC-"; roles, tables and functions with "pc_".
--
\set VERBOSITY terse

CREATE TABLE pc_calls (n serial PRIMARY KEY, plugin text NOT NULL, orderid text);
CREATE TABLE pc_bad (round int, step int, invariant text, object text, detail text);

-- On Allocated: for about a third of the lines, shrink the batch that took
-- the line to less than it holds: its lines are displaced and reallocated.
CREATE FUNCTION pc_shrink(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	ref text := event->'payload'->>'batchref';
	held int;
BEGIN
	IF abs(hashtext(event->'payload'->>'orderid')) % 3 <> 0 THEN
		RETURN;
	END IF;
	SELECT allocated INTO held FROM allocation.stock WHERE reference = ref;
	INSERT INTO pc_calls (plugin, orderid) VALUES ('pc_shrink', event->'payload'->>'orderid');
	PERFORM allocation.change_batch_quantity(ref, greatest(held - 1 - abs(hashtext(ref)) % 3, 0));
END
$$;

-- On Allocated: lines whose order id ends in "-u" are freed again at once.
CREATE FUNCTION pc_undo(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF event->'payload'->>'orderid' LIKE '%-u' THEN
		INSERT INTO pc_calls (plugin, orderid) VALUES ('pc_undo', event->'payload'->>'orderid');
		PERFORM allocation.deallocate(event->'payload'->>'orderid', event->'payload'->>'sku');
	END IF;
END
$$;

-- On Deallocated: half the displaced lines order once more, as a new line
-- (not again for a line that is itself a repeat: the recursion ends).
CREATE FUNCTION pc_again(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF abs(hashtext(event->'payload'->>'orderid')) % 2 = 0
	   AND event->'payload'->>'orderid' NOT LIKE '%-r' THEN
		INSERT INTO pc_calls (plugin, orderid) VALUES ('pc_again', event->'payload'->>'orderid');
		PERFORM allocation.allocate(event->'payload'->>'orderid' || '-r',
									event->'payload'->>'sku',
									(event->'payload'->>'qty')::int);
	END IF;
END
$$;

SELECT allocation.subscribe('Allocated', 'pc_shrink(jsonb)');
SELECT allocation.subscribe('Allocated', 'pc_undo(jsonb)');
SELECT allocation.subscribe('Deallocated', 'pc_again(jsonb)');

-- The case first found: allocate_many of two lines, the first line's plugin
-- empties the batch both lines went to.  Before plugins ran after the
-- command's whole projection, the second line's row was written after the
-- plugin's command had moved that line, and stayed.
CREATE FUNCTION pc_empty(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF event->'payload'->>'orderid' LIKE 'PC-undo-%' THEN
		PERFORM allocation.change_batch_quantity(event->'payload'->>'batchref', 0);
	END IF;
END
$$;
SELECT allocation.subscribe('Allocated', 'pc_empty(jsonb)');
SELECT allocation.add_batch('PC-F-1', 'PC-F', 10);
SELECT allocation.add_batch('PC-F-2', 'PC-F', 10);
SELECT * FROM allocation.allocate_many(ARRAY[('PC-undo-1', 'PC-F', 1), ('PC-keep-1', 'PC-F', 1)]::allocation.order_line[]);
SELECT * FROM allocation.check_invariants();
SELECT orderid, batchref FROM allocation.allocations_view WHERE sku = 'PC-F' ORDER BY orderid;
SELECT allocation.unsubscribe('Allocated', 'pc_empty(jsonb)');

-- Generated: 40 products, each with 2 to 5 batches and a random run of
-- allocate, allocate_many and change_batch_quantity, with the three
-- plugins above re-entering; the invariants are checked after every step.
DO $$
DECLARE
	s text;
	nb int;
	lines allocation.order_line[];
	ref text;
BEGIN
	PERFORM setseed(0.2718);
	FOR r IN 1..40 LOOP
		s := 'PC-G' || r;
		nb := 2 + floor(random() * 4)::int;
		FOR k IN 1..nb LOOP
			PERFORM allocation.add_batch(s || '-b' || k, s, 2 + floor(random() * 12)::int,
				CASE WHEN random() < 0.4 THEN NULL ELSE DATE '2031-01-01' + k END);
		END LOOP;
		FOR step IN 1..8 LOOP
			IF random() < 0.35 THEN
				PERFORM allocation.allocate(s || '-o' || step || CASE WHEN random() < 0.3 THEN '-u' ELSE '' END,
											s, 1 + floor(random() * 3)::int);
			ELSIF random() < 0.7 THEN
				lines := '{}';
				FOR i IN 1..(1 + floor(random() * 6)::int) LOOP
					lines := lines || ROW(s || '-m' || step || '.' || i || CASE WHEN random() < 0.3 THEN '-u' ELSE '' END,
										  s, 1 + floor(random() * 3)::int)::allocation.order_line;
				END LOOP;
				PERFORM count(*) FROM allocation.allocate_many(lines);
			ELSE
				ref := s || '-b' || (1 + floor(random() * nb)::int);
				PERFORM allocation.change_batch_quantity(ref, floor(random() * 10)::int);
			END IF;
			INSERT INTO pc_bad SELECT r, step, i.* FROM allocation.check_invariants() i;
		END LOOP;
	END LOOP;
END
$$;
-- the plugins did run commands inside commands: every kind, many times
SELECT plugin, count(*) > 10 AS many FROM pc_calls GROUP BY plugin ORDER BY plugin;
-- and no invariant broke at any step
SELECT * FROM pc_bad;

SELECT allocation.unsubscribe('Allocated', 'pc_shrink(jsonb)');
SELECT allocation.unsubscribe('Allocated', 'pc_undo(jsonb)');
SELECT allocation.unsubscribe('Deallocated', 'pc_again(jsonb)');

-- A handler dropped and created again under the same name is the one that
-- runs: the backend's cache of plugins keeps no stale function.
CREATE FUNCTION pc_version(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO pc_calls (plugin, orderid) VALUES ('v1', event->'payload'->>'orderid'); END $$;
SELECT allocation.subscribe('Allocated', 'pc_version(jsonb)');
SELECT allocation.add_batch('PC-V-1', 'PC-V', 100);
SELECT allocation.allocate('PC-v1', 'PC-V', 1);
DROP FUNCTION pc_version(jsonb);
CREATE FUNCTION pc_version(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO pc_calls (plugin, orderid) VALUES ('v2', event->'payload'->>'orderid'); END $$;
SELECT allocation.allocate('PC-v2', 'PC-V', 1);
SELECT plugin, orderid FROM pc_calls WHERE orderid LIKE 'PC-v%' ORDER BY n;
SELECT allocation.unsubscribe('Allocated', 'pc_version(jsonb)');

-- A subscriber that is no longer an administrator: its plugin gets no
-- event (a WARNING says why); once granted again, it does.
CREATE ROLE pc_admin;
GRANT allocation_admin TO pc_admin;
CREATE TABLE pc_spied (orderid text);
GRANT INSERT ON pc_spied TO pc_admin;
CREATE FUNCTION pc_spy(event jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO public.pc_spied VALUES (event->'payload'->>'orderid') $$;
ALTER FUNCTION pc_spy(jsonb) OWNER TO pc_admin;
SET ROLE pc_admin;
SELECT allocation.subscribe('Allocated', 'pc_spy(jsonb)');
RESET ROLE;
SELECT allocation.allocate('PC-s1', 'PC-V', 1);
REVOKE allocation_admin FROM pc_admin;
SELECT allocation.allocate('PC-s2', 'PC-V', 1);
GRANT allocation_admin TO pc_admin;
SELECT allocation.allocate('PC-s3', 'PC-V', 1);
SELECT orderid FROM pc_spied ORDER BY orderid;

-- The search_path a plugin runs with: the subscriber's without any
-- temporary schema, then pg_temp last, even when the subscriber put
-- pg_temp first (the temporary schema would be the caller's).
SET ROLE pc_admin;
SET search_path = pg_temp, public, "Pc Schema", pg_temp_9;
SELECT allocation.subscribe('Allocated', 'pc_spy(jsonb)');
RESET search_path;
RESET ROLE;
SELECT search_path FROM allocation.subscriptions WHERE handler::text LIKE '%pc_spy(jsonb)';
SET ROLE pc_admin;
SELECT allocation.unsubscribe('Allocated', 'pc_spy(jsonb)');
RESET ROLE;

-- A plugin renamed (or dropped) after it was subscribed, and a subscriber
-- role dropped: each event warns, naming the plugin and what is wrong.
SET ROLE pc_admin;
SELECT allocation.subscribe('Allocated', 'pc_spy(jsonb)');
RESET ROLE;
ALTER FUNCTION pc_spy(jsonb) RENAME TO pc_spy_renamed;
SELECT allocation.allocate('PC-s4', 'PC-V', 1);
ALTER FUNCTION pc_spy_renamed(jsonb) RENAME TO pc_spy;
CREATE ROLE pc_gone;
GRANT allocation_admin TO pc_gone;
CREATE FUNCTION pc_quiet(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SET ROLE pc_gone;
SELECT allocation.subscribe('Allocated', 'pc_quiet(jsonb)');
RESET ROLE;
DROP ROLE pc_gone;
SELECT allocation.allocate('PC-s5', 'PC-V', 1);
SELECT allocation.unsubscribe('Allocated', 'pc_quiet(jsonb)');
DROP FUNCTION pc_quiet(jsonb);
-- a plugin dropped by the plugin before it, during the same dispatch: named too
CREATE FUNCTION pc_victim(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION pc_dropper(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN DROP FUNCTION public.pc_victim(jsonb); END $$;
SELECT allocation.subscribe('Allocated', 'pc_dropper(jsonb)');
SELECT allocation.subscribe('Allocated', 'pc_victim(jsonb)');
SELECT allocation.allocate('PC-s6', 'PC-V', 1);
CREATE FUNCTION pc_victim(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT allocation.unsubscribe('Allocated', 'pc_victim(jsonb)');
SELECT allocation.unsubscribe('Allocated', 'pc_dropper(jsonb)');
DROP FUNCTION pc_victim(jsonb), pc_dropper(jsonb);
SET ROLE pc_admin;
SELECT allocation.unsubscribe('Allocated', 'pc_spy(jsonb)');
RESET ROLE;

DROP FUNCTION pc_spy(jsonb);
DROP TABLE pc_spied;
DROP OWNED BY pc_admin;
DROP ROLE pc_admin;
