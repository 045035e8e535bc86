--
-- Plugins (the contract: events): allocation.subscribe(event_type, handler) and
-- allocation.unsubscribe(event_type, handler).  A plugin is a function
-- (event jsonb) RETURNS void; it runs inside the command's transaction,
-- after the built-in handlers, each call in its own subtransaction (its
-- error is a WARNING and undoes only its own work), with the rights of the
-- role that subscribed it.  SKUs, references and order ids of this file
-- start with "PL-"; roles and tables start with "pl_".
--
\set VERBOSITY terse

-- what the plugins saw: one row a call
CREATE TABLE pl_seen (
	n		serial PRIMARY KEY,
	handler	text NOT NULL,
	event	jsonb,
	who		text NOT NULL DEFAULT current_user,
	note	text
);

-- records every event it receives
CREATE FUNCTION pl_record(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pl_seen (handler, event) VALUES ('pl_record', event);
END
$$;

-- does some work, then fails: its work must vanish, nothing else
CREATE FUNCTION pl_fail(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pl_seen (handler, event) VALUES ('pl_fail', event);
	RAISE EXCEPTION 'pl_fail refuses order %', event->'payload'->>'orderid'
		USING ERRCODE = 'P0001';
END
$$;

-- records who it runs as, and what the read model says at that moment
CREATE FUNCTION pl_after(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pl_seen (handler, event, note)
	SELECT 'pl_after', event,
		   format('allocations of %s: %s', event->'payload'->>'orderid',
				  (SELECT string_agg(batchref, ',')
					 FROM allocation.allocations(event->'payload'->>'orderid')));
END
$$;

------------------------------------------------------------------------
-- A plugin receives the event as jsonb
------------------------------------------------------------------------

-- subscribe returns void; the subscription is listed
SELECT allocation.subscribe('Allocated', 'pl_record(jsonb)');
SELECT allocation.subscribe('BatchCreated', 'pl_record(jsonb)');
SELECT event_type, handler FROM allocation.subscriptions ORDER BY id;

SELECT allocation.add_batch('PL-B1', 'PL-CHAIR', 10);
SELECT allocation.allocate('PL-o1', 'PL-CHAIR', 2);

-- one call per event, with type, aggregatetype, aggregateid and payload
SELECT handler, event FROM pl_seen ORDER BY n;
-- the payload is the one of the outbox row
SELECT count(*) = 2 AS payloads_equal_outbox
  FROM pl_seen s JOIN allocation.outbox o
    ON o.aggregatetype = s.event->>'aggregatetype'
   AND o.aggregateid = s.event->>'aggregateid'
   AND o.type = s.event->>'type'
   AND o.payload = s.event->'payload';

-- a plugin subscribed to one type does not see the others
SELECT allocation.deallocate('PL-o1', 'PL-CHAIR');
SELECT count(*) = 0 AS no_deallocated_seen FROM pl_seen WHERE event->>'type' = 'Deallocated';

-- subscribing the same function twice to a type keeps one subscription
SELECT allocation.subscribe('Allocated', 'pl_record(jsonb)');
SELECT count(*) AS subscriptions FROM allocation.subscriptions
 WHERE event_type = 'Allocated' AND to_regprocedure(handler) = 'pl_record(jsonb)'::regprocedure;

-- every event type can be subscribed: OutOfStock, Deallocated,
-- BatchQuantityChanged, OrderCreated and OrderStatusChanged (aggregate order)
SELECT allocation.subscribe(t, 'pl_record(jsonb)')
  FROM unnest(ARRAY['OutOfStock', 'Deallocated', 'BatchQuantityChanged',
                    'OrderCreated', 'OrderStatusChanged']) t;
TRUNCATE pl_seen;
SELECT allocation.allocate('PL-o2', 'PL-CHAIR', 50) IS NULL AS out_of_stock;
SELECT allocation.allocate('PL-o3', 'PL-CHAIR', 4);
SELECT allocation.change_batch_quantity('PL-B1', 3);
SELECT allocation.create_order('PL-100');
SELECT allocation.change_order_status('PL-100', 'cancelled');
SELECT event->>'type' AS type, event->>'aggregatetype' AS aggregatetype,
       event->>'aggregateid' AS aggregateid, event->'payload' AS payload
  FROM pl_seen ORDER BY n;

------------------------------------------------------------------------
-- A failing plugin: a WARNING, and only its own work is undone
------------------------------------------------------------------------
SELECT allocation.unsubscribe(t, 'pl_record(jsonb)')
  FROM unnest(ARRAY['BatchCreated', 'OutOfStock', 'Deallocated', 'BatchQuantityChanged',
                    'OrderCreated', 'OrderStatusChanged']) t;
SELECT allocation.subscribe('Allocated', 'pl_fail(jsonb)');
SELECT allocation.subscribe('Allocated', 'pl_after(jsonb)');
TRUNCATE pl_seen;

-- pl_record, pl_fail and pl_after run in the order they were subscribed;
-- pl_fail's error is a WARNING and the command returns its batch
SELECT allocation.add_batch('PL-B2', 'PL-TABLE', 10);
SELECT allocation.allocate('PL-o4', 'PL-TABLE', 3);
-- pl_fail's insert is gone; pl_record's and pl_after's stand, and
-- pl_after saw the read model already updated (built-in handlers first)
SELECT handler, event->'payload'->>'orderid' AS orderid, note FROM pl_seen ORDER BY n;
-- the command stands: line, stock, event and read model
SELECT * FROM allocation.allocations('PL-o4');
SELECT available FROM allocation.stock WHERE reference = 'PL-B2';
SELECT count(*) = 1 AS one_allocated_event FROM allocation.outbox
 WHERE aggregateid = 'PL-TABLE' AND type = 'Allocated';

-- in an explicit transaction the failure does not abort the transaction:
-- the next statement runs and the commit keeps everything
BEGIN;
SELECT allocation.allocate('PL-o5', 'PL-TABLE', 1);
SELECT allocation.allocate('PL-o6', 'PL-TABLE', 1);
COMMIT;
SELECT handler, event->'payload'->>'orderid' AS orderid FROM pl_seen WHERE n > 2 ORDER BY n;
SELECT count(*) AS lines FROM allocation.order_lines WHERE sku = 'PL-TABLE';

-- a plugin's work rolls back with the command's transaction
BEGIN;
SELECT allocation.allocate('PL-o7', 'PL-TABLE', 1);
ROLLBACK;
SELECT count(*) = 0 AS nothing_seen_of_pl_o7 FROM pl_seen WHERE event->'payload'->>'orderid' = 'PL-o7';

-- a plugin that fails for every event does not break a command that
-- records several (rule 5: Deallocated then Allocated, each dispatched)
SELECT allocation.add_batch('PL-B3', 'PL-TABLE', 5, '2031-01-01');
SELECT allocation.change_batch_quantity('PL-B2', 4);
SELECT orderid, batchref FROM allocation.order_lines WHERE sku = 'PL-TABLE' ORDER BY orderid;

------------------------------------------------------------------------
-- unsubscribe: true when there was a subscription, false otherwise
------------------------------------------------------------------------
SELECT allocation.unsubscribe('Allocated', 'pl_fail(jsonb)') AS removed;
SELECT allocation.unsubscribe('Allocated', 'pl_fail(jsonb)') AS removed_again;
SELECT allocation.unsubscribe('OutOfStock', 'pl_after(jsonb)') AS never_subscribed;
-- an unsubscribed plugin is no longer called
TRUNCATE pl_seen;
SELECT allocation.allocate('PL-o8', 'PL-TABLE', 1);
SELECT handler FROM pl_seen ORDER BY n;

------------------------------------------------------------------------
-- Rejected subscriptions
------------------------------------------------------------------------
CREATE FUNCTION pl_json(event json) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION pl_returns_int(event jsonb) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION pl_two_args(event jsonb, extra integer) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION pl_no_args() RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION pl_setof(event jsonb) RETURNS SETOF void LANGUAGE sql AS $$ SELECT $$;
CREATE PROCEDURE pl_proc(event jsonb) LANGUAGE sql AS $$ SELECT $$;

-- a handler whose signature does not fit: 22023
SELECT allocation.subscribe('Allocated', 'pl_json(json)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('Allocated', 'pl_returns_int(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('Allocated', 'pl_two_args(jsonb, integer)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('Allocated', 'pl_no_args()');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('Allocated', 'pl_setof(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('Allocated', 'pl_proc(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a function that does not exist fails in the regprocedure cast: 42883
SELECT allocation.subscribe('Allocated', 'pl_missing(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- an unknown event type: 22023, also for a wrong case; unsubscribe too
SELECT allocation.subscribe('Shipped', 'pl_record(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('allocated', 'pl_record(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.unsubscribe('Shipped', 'pl_record(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- NULL arguments: 22004
SELECT allocation.subscribe(NULL, 'pl_record(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.subscribe('Allocated', NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.unsubscribe('Allocated', NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- none of them was recorded
SELECT event_type, handler FROM allocation.subscriptions ORDER BY id;

------------------------------------------------------------------------
-- Who may subscribe: allocation_admin only
------------------------------------------------------------------------
CREATE ROLE pl_clerk LOGIN;
GRANT allocation_user TO pl_clerk;
CREATE ROLE pl_admin LOGIN;
GRANT allocation_admin TO pl_admin;

SET ROLE pl_clerk;
SELECT allocation.subscribe('Allocated', 'pl_record(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.unsubscribe('Allocated', 'pl_after(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;
-- pl_after is still subscribed
SELECT event_type, handler FROM allocation.subscriptions ORDER BY id;

------------------------------------------------------------------------
-- A plugin runs with the subscriber's rights, never the extension owner's
------------------------------------------------------------------------
SELECT allocation.unsubscribe('Allocated', 'pl_record(jsonb)');
SELECT allocation.unsubscribe('Allocated', 'pl_after(jsonb)');

-- a table only superusers may read
CREATE TABLE pl_secret (code text);
INSERT INTO pl_secret VALUES ('s3cr3t');
REVOKE ALL ON pl_secret FROM PUBLIC;
-- the admin may write the plugins' log, nothing more
GRANT INSERT ON pl_seen TO pl_admin;
GRANT USAGE ON SEQUENCE pl_seen_n_seq TO pl_admin;

-- records current_user, then reads the secret
CREATE FUNCTION pl_peek(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pl_seen (handler, event, note)
	VALUES ('pl_peek', event, 'session_user ' || session_user);
	INSERT INTO pl_seen (handler, event, note)
	SELECT 'pl_peek', event, 'read ' || code FROM pl_secret;
END
$$;

-- tries to write the extension's tables directly
CREATE FUNCTION pl_forge(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE allocation.batches SET purchased_quantity = 1000
	 WHERE sku = event->'payload'->>'sku';
END
$$;

-- subscribed by a superuser, pl_peek reads the secret
SELECT allocation.subscribe('Allocated', 'pl_peek(jsonb)');
TRUNCATE pl_seen;
SELECT allocation.add_batch('PL-B4', 'PL-DESK', 10);
SELECT allocation.allocate('PL-o9', 'PL-DESK', 1);
SELECT who, note FROM pl_seen ORDER BY n;

-- subscribed again by the non-superuser admin, it runs as pl_admin: the
-- read fails with a WARNING (permission denied), its first insert is
-- undone with it, and the command stands
SET ROLE pl_admin;
SELECT allocation.subscribe('Allocated', 'pl_peek(jsonb)');
SELECT allocation.subscribe('Allocated', 'pl_forge(jsonb)');
RESET ROLE;
TRUNCATE pl_seen;
SELECT allocation.allocate('PL-o10', 'PL-DESK', 1);
SELECT count(*) = 0 AS nothing_recorded FROM pl_seen;
SELECT * FROM allocation.allocations('PL-o10');
-- the forged quantity did not reach the batch
SELECT purchased, allocated FROM allocation.stock WHERE reference = 'PL-B4';

-- the same when an allocation_user runs the command: the extension's own
-- work runs as the schema owner (a superuser here), the plugin as pl_admin
SET ROLE pl_clerk;
SELECT allocation.allocate('PL-o11', 'PL-DESK', 1);
RESET ROLE;
SELECT count(*) = 0 AS nothing_recorded FROM pl_seen;
SELECT purchased, allocated FROM allocation.stock WHERE reference = 'PL-B4';

-- current_user inside the plugin is the subscriber, whoever runs the command
CREATE FUNCTION pl_whoami(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pl_seen (handler, event, note)
	VALUES ('pl_whoami', event, event->'payload'->>'orderid');
END
$$;
SELECT allocation.unsubscribe('Allocated', 'pl_peek(jsonb)');
SELECT allocation.unsubscribe('Allocated', 'pl_forge(jsonb)');
SET ROLE pl_admin;
SELECT allocation.subscribe('Allocated', 'pl_whoami(jsonb)');
RESET ROLE;
SELECT allocation.allocate('PL-o12', 'PL-DESK', 1);
SET ROLE pl_clerk;
SELECT allocation.allocate('PL-o13', 'PL-DESK', 1);
RESET ROLE;
SELECT note AS orderid, who FROM pl_seen ORDER BY n;

-- the subscriber must be able to execute the handler (42501) ...
CREATE FUNCTION pl_private(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
REVOKE EXECUTE ON FUNCTION pl_private(jsonb) FROM PUBLIC;
SET ROLE pl_admin;
SELECT allocation.subscribe('Allocated', 'pl_private(jsonb)');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;
-- ... and a right revoked after subscribing stops the plugin with a WARNING
REVOKE EXECUTE ON FUNCTION pl_whoami(jsonb) FROM PUBLIC;
TRUNCATE pl_seen;
SELECT allocation.allocate('PL-o14', 'PL-DESK', 1);
SELECT count(*) = 0 AS nothing_recorded FROM pl_seen;
SELECT count(*) AS lines FROM allocation.allocations('PL-o14');

-- clean up: no subscription is left behind for the other tests
SELECT allocation.unsubscribe('Allocated', 'pl_whoami(jsonb)');

-- a plugin cannot change the session of the role that ran the command:
-- settings it makes (here search_path, which would make the caller's next
-- unqualified names resolve in a schema of the plugin's choosing) do not
-- outlive its call
CREATE FUNCTION pl_settings(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('search_path', 'pl_trap, public', false);
	PERFORM set_config('allocation.notify_events', 'off', false);
END
$$;
SET ROLE pl_admin;
SELECT allocation.subscribe('Allocated', 'pl_settings(jsonb)');
RESET ROLE;
SHOW search_path;
SELECT allocation.allocate('PL-o16', 'PL-DESK', 1);
SHOW search_path;
SHOW allocation.notify_events;
RESET search_path;
RESET allocation.notify_events;
SELECT allocation.unsubscribe('Allocated', 'pl_settings(jsonb)');

-- a plugin may be written in any language: a LANGUAGE sql function
-- (event jsonb) RETURNS void works like a plpgsql one, without a WARNING
CREATE FUNCTION pl_sql(event jsonb) RETURNS void
LANGUAGE sql AS $$
	INSERT INTO pl_seen (handler, event) VALUES ('pl_sql', event)
$$;
SELECT allocation.subscribe('Allocated', 'pl_sql(jsonb)');
TRUNCATE pl_seen;
SELECT allocation.allocate('PL-o15', 'PL-DESK', 1);
SELECT handler, event->'payload'->>'orderid' AS orderid, who FROM pl_seen ORDER BY n;
SELECT allocation.unsubscribe('Allocated', 'pl_sql(jsonb)');

SELECT count(*) AS subscriptions FROM allocation.subscriptions;
SELECT count(*) = 0 AS healthy FROM allocation.check_invariants() WHERE object LIKE 'PL-%';
DROP TABLE pl_seen, pl_secret;
DROP FUNCTION pl_settings(jsonb), pl_sql(jsonb), pl_record(jsonb), pl_fail(jsonb), pl_after(jsonb), pl_peek(jsonb),
	pl_forge(jsonb), pl_whoami(jsonb), pl_private(jsonb), pl_json(json),
	pl_returns_int(jsonb), pl_two_args(jsonb, integer), pl_no_args(), pl_setof(jsonb);
DROP PROCEDURE pl_proc(jsonb);
DROP ROLE pl_clerk;
DROP ROLE pl_admin;

-- A handler that no longer exists under its name (dropped, renamed, moved
-- to another schema, its schema dropped) is unsubscribed by the name its
-- subscription stores, which each event's WARNING shows; generated over
-- every way of losing it and every event type of the product context.
CREATE SCHEMA pl_gone;
CREATE SCHEMA pl_elsewhere;
CREATE TABLE pl_lost (loss text, event_type text, stored_qualified boolean, unsubscribed boolean,
	still_subscribed boolean, bare_name text);
CREATE FUNCTION pl_lose_and_unsubscribe(loss text, event_type text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	stored text;
	still_subscribed boolean;
	unsubscribed boolean;
	bare text;
	sku text := 'PL-LOST-' || loss || '-' || event_type;
BEGIN
	EXECUTE 'CREATE FUNCTION pl_gone.lost(event jsonb) RETURNS void LANGUAGE sql AS $f$ SELECT $f$';
	-- (EXECUTE: a kept plan would keep the OID of the first loop's function)
	EXECUTE 'SELECT allocation.subscribe($1, $2::regprocedure)' USING event_type, 'pl_gone.lost(jsonb)';
	SELECT handler INTO stored FROM allocation.subscriptions s WHERE s.event_type = pl_lose_and_unsubscribe.event_type;
	CASE loss
		WHEN 'drop' THEN DROP FUNCTION pl_gone.lost(jsonb);
		WHEN 'rename' THEN ALTER FUNCTION pl_gone.lost(jsonb) RENAME TO lost_renamed;
		WHEN 'set_schema' THEN ALTER FUNCTION pl_gone.lost(jsonb) SET SCHEMA pl_elsewhere;
		WHEN 'drop_schema' THEN DROP SCHEMA pl_gone CASCADE;
	END CASE;
	-- every command of the product context, so that each event type occurs
	PERFORM allocation.add_batch(sku || '-b', sku, 1);
	PERFORM allocation.allocate(sku || '-o1', sku, 1);
	PERFORM allocation.allocate(sku || '-o2', sku, 1);
	PERFORM allocation.change_batch_quantity(sku || '-b', 2);
	PERFORM allocation.deallocate(sku || '-o1', sku);
	-- the unqualified name of a lost handler names nothing: 42883, with the way out
	BEGIN
		PERFORM allocation.unsubscribe(event_type, 'lost(jsonb)');
		bare := 'no error';
	EXCEPTION WHEN undefined_function THEN
		bare := SQLSTATE;
	END;
	unsubscribed := allocation.unsubscribe(event_type, stored);
	SELECT count(*) > 0 INTO still_subscribed FROM allocation.subscriptions s WHERE s.event_type = pl_lose_and_unsubscribe.event_type;
	INSERT INTO pl_lost VALUES (loss, event_type, stored = 'pl_gone.lost(jsonb)', unsubscribed, still_subscribed, bare);
	DROP FUNCTION IF EXISTS pl_gone.lost(jsonb);
	DROP FUNCTION IF EXISTS pl_gone.lost_renamed(jsonb);
	DROP FUNCTION IF EXISTS pl_elsewhere.lost(jsonb);
	CREATE SCHEMA IF NOT EXISTS pl_gone;
END
$$;
SET client_min_messages = error;
SELECT count(pl_lose_and_unsubscribe(l, t)) AS cases
FROM unnest(ARRAY['drop', 'rename', 'set_schema', 'drop_schema']) l,
     unnest(ARRAY['BatchCreated', 'Allocated', 'Deallocated', 'BatchQuantityChanged']) t;
RESET client_min_messages;
-- stored_qualified: the subscription keeps schema.name(types); none is
-- still subscribed after unsubscribe; bare_name: the SQLSTATE of the bare name
SELECT loss, bool_and(stored_qualified) AS stored_qualified, bool_and(unsubscribed) AS unsubscribed,
       bool_or(still_subscribed) AS still_subscribed, string_agg(DISTINCT bare_name, ',') AS bare_name, count(*)
FROM pl_lost GROUP BY loss ORDER BY loss;
-- one such loss seen from the caller: the WARNING names the stored name,
-- and after unsubscribe the next event warns no more
CREATE FUNCTION pl_gone.shown(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT allocation.subscribe('Allocated', 'pl_gone.shown(jsonb)');
DROP FUNCTION pl_gone.shown(jsonb);
SELECT allocation.add_batch('PL-SHOWN-b', 'PL-SHOWN', 10);
SELECT allocation.allocate('PL-SHOWN-o1', 'PL-SHOWN', 1);
SELECT allocation.unsubscribe('Allocated', 'pl_gone.shown(jsonb)');
SELECT allocation.allocate('PL-SHOWN-o2', 'PL-SHOWN', 1);
-- a name that neither exists nor is stored: 42883, with the hint
SELECT allocation.unsubscribe('Allocated', 'pl_gone.never(jsonb)');
-- ... and 42883 however the name is wrong (malformed, an unknown type or
-- schema, a megabyte), never a parser's code
CREATE TEMP TABLE pl_bad_names (name text);
INSERT INTO pl_bad_names VALUES (''), ('é'), ('pl_nothing'), ('('), ('f(jsonb'), ('a.b.c.d(jsonb)'),
	('public.f(nosuchtype)'), ('nosuchschema.f(jsonb)'), ('"unterminated(jsonb)'), (repeat('x(', 50000));
DO $$
DECLARE
	r record;
	codes text := '';
BEGIN
	FOR r IN SELECT name FROM pl_bad_names LOOP
		BEGIN
			PERFORM allocation.unsubscribe('Allocated', r.name);
			codes := codes || ' ok';
		EXCEPTION WHEN OTHERS THEN
			codes := codes || ' ' || SQLSTATE;
		END;
	END LOOP;
	RAISE NOTICE 'unsubscribe of bad names:%', codes;
END
$$;
DROP TABLE pl_bad_names;
-- the stored name works for an administrator who may not use the
-- handler's schema (another administrator's), dropped or not
CREATE ROLE pl_us_a;
GRANT allocation_admin TO pl_us_a;
CREATE ROLE pl_us_b;
GRANT allocation_admin TO pl_us_b;
CREATE SCHEMA pl_us AUTHORIZATION pl_us_a;
SET ROLE pl_us_a;
CREATE FUNCTION pl_us.kept(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
CREATE FUNCTION pl_us.gone(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT allocation.subscribe('Allocated', 'pl_us.kept(jsonb)');
SELECT allocation.subscribe('Allocated', 'pl_us.gone(jsonb)');
DROP FUNCTION pl_us.gone(jsonb);
SET ROLE pl_us_b;
SELECT allocation.unsubscribe('Allocated', 'pl_us.gone(jsonb)') AS gone_unsubscribed;
SELECT allocation.unsubscribe('Allocated', 'pl_us.kept(jsonb)') AS kept_unsubscribed;
RESET ROLE;
DROP SCHEMA pl_us CASCADE;
DROP ROLE pl_us_a, pl_us_b;
SELECT count(*) AS subscriptions FROM allocation.subscriptions;
DROP FUNCTION pl_lose_and_unsubscribe(text, text);
DROP TABLE pl_lost;
DROP SCHEMA pl_gone, pl_elsewhere;

-- A cursor a plugin leaves open is closed when it returns: it holds rows
-- read with the subscriber's rights, which the caller must not FETCH.
-- Generated over the ways PL/pgSQL and SQL open one; the caller's own
-- cursor, opened before the command, stays open where it was.
CREATE ROLE pl_cur_clerk;
GRANT allocation_user TO pl_cur_clerk;
CREATE TABLE pl_cur_secret (code text);
INSERT INTO pl_cur_secret VALUES ('s3cr3t');
REVOKE ALL ON pl_cur_secret FROM PUBLIC;
CREATE TABLE pl_cur_kinds (kind text PRIMARY KEY, decl text, body text);
INSERT INTO pl_cur_kinds VALUES
 ('bound', 'c CURSOR FOR SELECT code FROM public.pl_cur_secret;', 'OPEN c;'),
 ('named', 'c refcursor := ''pl_cur_named'';', 'OPEN c FOR SELECT code FROM public.pl_cur_secret;'),
 ('unnamed', 'c refcursor;', 'OPEN c FOR SELECT code FROM public.pl_cur_secret;'),
 ('declare', '', 'EXECUTE ''DECLARE pl_cur_decl CURSOR FOR SELECT code FROM public.pl_cur_secret'';'),
 ('scroll', '', 'EXECUTE ''DECLARE pl_cur_scroll SCROLL CURSOR FOR SELECT code FROM public.pl_cur_secret'';'),
 ('with_hold', '', 'EXECUTE ''DECLARE pl_cur_hold CURSOR WITH HOLD FOR SELECT code FROM public.pl_cur_secret'';'),
 ('three', 'a refcursor := ''pl_cur_a''; b refcursor := ''pl_cur_b''; c refcursor;',
  'OPEN a FOR SELECT code FROM public.pl_cur_secret; OPEN b FOR SELECT 1; OPEN c FOR SELECT 2;'),
 ('in_block', 'c refcursor := ''pl_cur_block'';',
  'BEGIN OPEN c FOR SELECT code FROM public.pl_cur_secret; EXCEPTION WHEN OTHERS THEN NULL; END;'),
 ('then_fails', 'c refcursor := ''pl_cur_fails'';',
  'OPEN c FOR SELECT code FROM public.pl_cur_secret; RAISE EXCEPTION ''plugin failed after OPEN'';');
SELECT format($f$CREATE FUNCTION pl_cur_%s(event jsonb) RETURNS void LANGUAGE plpgsql AS $b$ DECLARE %s BEGIN %s END $b$$f$,
              kind, decl, body)
FROM pl_cur_kinds ORDER BY kind \gexec
CREATE TABLE pl_cur_seen (kind text, plugin_cursors bigint);
GRANT INSERT ON pl_cur_seen TO pl_cur_clerk;
SELECT allocation.add_batch('PL-CUR-b', 'PL-CUR', 1000);
-- per kind: subscribe; as the clerk, a cursor of its own, then allocate,
-- then the cursors left besides the clerk's, and the clerk's next row (2)
SELECT format($s$SELECT allocation.subscribe('Allocated', 'pl_cur_%1$s(jsonb)') AS "subscribe %1$s"$s$, kind),
       'SET ROLE pl_cur_clerk',
       'BEGIN',
       'DECLARE pl_caller_c CURSOR FOR SELECT g FROM generate_series(1, 3) g',
       'MOVE 1 IN pl_caller_c',
       format($s$SELECT allocation.allocate('PL-CUR-%s', 'PL-CUR', 1) IS NOT NULL AS allocated$s$, kind),
       format($s$INSERT INTO pl_cur_seen SELECT %L, count(*) FROM pg_cursors WHERE name <> 'pl_caller_c'$s$, kind),
       'FETCH 1 FROM pl_caller_c',
       'COMMIT',
       'RESET ROLE',
       format($s$SELECT allocation.unsubscribe('Allocated', 'pl_cur_%s(jsonb)')$s$, kind)
FROM pl_cur_kinds ORDER BY kind \gexec
-- no plugin cursor is left in the caller's transaction
SELECT kind, plugin_cursors FROM pl_cur_seen ORDER BY kind;
-- A plugin that closes the caller's newest cursor and opens its own under
-- that name (PL/pgSQL's CLOSE is not refused in restricted mode): the
-- caller's next FETCH must not get the plugin's rows.  The first turn of
-- the loop prepares the OPEN, so that the second one reuses the memory of
-- the caller's portal, as a check of the newest portal's address alone
-- would have missed.
CREATE FUNCTION pl_cur_swap(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE c refcursor;
BEGIN
	FOR i IN 1..2 LOOP
		IF i = 1 THEN c := 'pl_cur_warm'; ELSE c := 'pl_cur_caller'; CLOSE c; END IF;
		OPEN c FOR SELECT code FROM public.pl_cur_secret;
		IF i = 1 THEN CLOSE c; END IF;
	END LOOP;
END $$;
SELECT allocation.subscribe('Allocated', 'pl_cur_swap(jsonb)');
SET ROLE pl_cur_clerk;
DO $$
DECLARE
	c refcursor := 'pl_cur_caller';
	r record;
	got text;
BEGIN
	FOR k IN 1..3 LOOP
		OPEN c FOR SELECT 'caller row'::text AS code;
		PERFORM allocation.allocate('PL-CUR-swap-' || k, 'PL-CUR', 1);
		BEGIN
			FETCH c INTO r;
			got := r.code;
			CLOSE c;
		EXCEPTION WHEN invalid_cursor_name THEN
			got := 'no such cursor';
		END;
		INSERT INTO public.pl_cur_seen VALUES ('swap ' || k || ': ' || got, NULL);
	END LOOP;
END
$$;
RESET ROLE;
SELECT kind FROM pl_cur_seen WHERE kind LIKE 'swap%' ORDER BY kind;
SELECT allocation.unsubscribe('Allocated', 'pl_cur_swap(jsonb)');
DROP FUNCTION pl_cur_swap(jsonb);
SELECT format('DROP FUNCTION pl_cur_%s(jsonb)', kind) FROM pl_cur_kinds \gexec
DROP TABLE pl_cur_kinds, pl_cur_seen, pl_cur_secret;
DROP ROLE pl_cur_clerk;
SELECT count(*) AS subscriptions FROM allocation.subscriptions;
