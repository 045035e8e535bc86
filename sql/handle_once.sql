--
-- allocation.handle never runs a message_id twice.  A message is claimed
-- in allocation.inbox before its command runs and its result is stored
-- after; in between (while the command, its event handlers and plugins
-- run) the claim has no result yet.  A repeat in that window, or of a row
-- that holds no result, is a duplicate like any other: nothing runs, the
-- answer is SQL NULL, or {"duplicate": true} alone when asked.
--
-- Generated over the message types handle() accepts (every type, with and
-- without effect): each message is handled once, then again in one
-- transaction in every way we know of, each way from the same fixture and
-- undone afterwards; the stock, lines, read model, versions, events,
-- notifications and inbox afterwards must equal the state after handling
-- it once.  SKUs, references and order ids start with "HO-", tables and
-- functions with "ho_".
--
\set VERBOSITY terse

-- the messages, one or more per type; each carries its own message_id
CREATE TABLE ho_cases (name text PRIMARY KEY, message jsonb NOT NULL);
INSERT INTO ho_cases VALUES
	('CreateBatch, same SKU', '{"type": "CreateBatch", "ref": "HO-B3", "sku": "HO-LAMP", "qty": 2, "message_id": "ho-1"}'),
	('CreateBatch, new SKU', '{"type": "CreateBatch", "ref": "HO-S1", "sku": "HO-SOFA", "qty": 4, "eta": "2031-03-01", "message_id": "ho-2"}'),
	('Allocate, fits', '{"type": "Allocate", "orderid": "HO-o3", "sku": "HO-LAMP", "qty": 2, "message_id": 3}'),
	('Allocate, out of stock', '{"type": "Allocate", "orderid": "HO-o4", "sku": "HO-LAMP", "qty": 50, "message_id": "ho-4"}'),
	('Allocate, already allocated', '{"type": "Allocate", "orderid": "HO-o1", "sku": "HO-LAMP", "qty": 4, "message_id": "ho-5"}'),
	('ChangeBatchQuantity, displaces', '{"type": "ChangeBatchQuantity", "ref": "HO-B1", "qty": 5, "message_id": "ho-6"}'),
	('ChangeBatchQuantity, plain', '{"type": "ChangeBatchQuantity", "ref": "HO-B2", "qty": 9, "message_id": "ho-7"}'),
	('Deallocate, allocated', '{"type": "Deallocate", "orderid": "HO-o1", "sku": "HO-LAMP", "message_id": "ho-8"}'),
	('Deallocate, not allocated', '{"type": "Deallocate", "orderid": "HO-o9", "sku": "HO-LAMP", "message_id": "ho-9"}');

-- every type handle() accepts has a case
SELECT t AS type_without_case
  FROM unnest(ARRAY['Allocate', 'CreateBatch', 'ChangeBatchQuantity', 'Deallocate']) t
 WHERE NOT EXISTS (SELECT FROM ho_cases WHERE message->>'type' = t);

-- the state every case starts from: B1 holds o1 and o2, B2 is a shipment
CREATE FUNCTION ho_fixture() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM allocation.add_batch('HO-B1', 'HO-LAMP', 10);
	PERFORM allocation.add_batch('HO-B2', 'HO-LAMP', 5, '2031-01-01');
	PERFORM allocation.allocate('HO-o1', 'HO-LAMP', 4);
	PERFORM allocation.allocate('HO-o2', 'HO-LAMP', 3);
END
$$;

-- everything a command can change, without ids or times
CREATE FUNCTION ho_state() RETURNS jsonb LANGUAGE sql AS $$
SELECT jsonb_build_object(
	'stock', (SELECT jsonb_agg(s ORDER BY s.reference)
				FROM allocation.stock s WHERE s.sku LIKE 'HO-%'),
	'products', (SELECT jsonb_agg(p ORDER BY p.sku)
				   FROM allocation.products p WHERE p.sku LIKE 'HO-%'),
	'lines', (SELECT jsonb_agg(jsonb_build_array(l.sku, l.orderid, l.qty, l.batchref, l.seq)
							   ORDER BY l.sku, l.orderid)
				FROM allocation.order_lines l WHERE l.sku LIKE 'HO-%'),
	'read_model', (SELECT jsonb_agg(jsonb_build_array(v.orderid, v.sku, v.batchref, v.qty)
									ORDER BY v.orderid, v.sku)
					 FROM allocation.allocations_view v WHERE v.sku LIKE 'HO-%'),
	'events', (SELECT jsonb_agg(jsonb_build_array(o.aggregateid, o.aggregate_seq, o.type, o.payload)
								ORDER BY o.aggregateid, o.aggregate_seq)
				 FROM allocation.outbox o WHERE o.aggregateid LIKE 'HO-%'),
	'notifications', (SELECT jsonb_agg(jsonb_build_array(n.recipient, n.subject, n.body)
									   ORDER BY n.id)
						FROM allocation.notifications n WHERE n.body LIKE '%HO-%'),
	'inbox', (SELECT jsonb_agg(jsonb_build_array(i.message_type, i.message_id, i.result)
							   ORDER BY i.message_type, i.message_id)
				FROM allocation.inbox i
			   WHERE i.message->>'orderid' LIKE 'HO-%' OR i.message->>'ref' LIKE 'HO-%'))
$$;

-- an answer without its "duplicate" flag; SQL NULL and JSON null are {}
CREATE FUNCTION ho_plain(x jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT CASE WHEN jsonb_typeof(x) = 'object' THEN x - 'duplicate' ELSE '{}' END
$$;

-- What nested handle() calls answered, in the case being run.
CREATE TABLE ho_nested (n serial PRIMARY KEY, event_type text, answer jsonb);

-- A plugin that handles the message of the setting ho.message again, from
-- inside its first handling (re-entrantly), on every event the command
-- records.  With ho.fail on it then fails: its subtransaction (a savepoint
-- taken after the claim) is rolled back before the result is stored, and
-- the WARNING shows what the nested call answered.  ho.depth bounds the
-- recursion of a receiver that would run the command again.
CREATE FUNCTION ho_again(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	m text := current_setting('ho.message', true);
	depth int := COALESCE(NULLIF(current_setting('ho.depth', true), ''), '0')::int;
	answer jsonb;
BEGIN
	IF COALESCE(m, '') = '' OR depth >= 3 THEN
		RETURN;
	END IF;
	PERFORM set_config('ho.depth', (depth + 1)::text, true);
	answer := allocation.handle(m::jsonb);
	PERFORM set_config('ho.depth', depth::text, true);
	IF current_setting('ho.fail', true) = 'on' THEN
		RAISE EXCEPTION 'ho_again fails after a nested answer %',
			COALESCE(answer::text, 'NULL');
	END IF;
	INSERT INTO ho_nested (event_type, answer) VALUES (event->>'type', answer);
END
$$;
SELECT allocation.subscribe(t, 'ho_again(jsonb)')
  FROM unnest(ARRAY['BatchCreated', 'BatchQuantityChanged', 'Allocated',
					'Deallocated', 'OutOfStock']) t;

-- One run: the fixture, then the case's message handled as the mode says,
-- then the state, the answers, the nested answers and the invariants'
-- violations are kept and everything else is undone.  An error is kept as
-- the state, so that it differs from every other.
CREATE TABLE ho_results (
	name		text,
	mode		text,
	state		jsonb,
	answers		jsonb,
	nested		jsonb,
	violations	bigint,
	PRIMARY KEY (name, mode)
);
CREATE FUNCTION ho_run(p_name text, p_mode text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	m jsonb := (SELECT message FROM ho_cases WHERE name = p_name);
	r jsonb := m || '{"report_duplicate": true}';
	a jsonb := '[]';
	v_state jsonb;
	v_nested jsonb;
	v_violations bigint;
BEGIN
	BEGIN
		PERFORM ho_fixture();
		CASE p_mode
		WHEN 'fixture only' THEN
			NULL;
		WHEN 'once' THEN
			a := a || jsonb_build_array(allocation.handle(m));
		WHEN 'twice' THEN
			a := a || jsonb_build_array(allocation.handle(r));
			a := a || jsonb_build_array(allocation.handle(r));
		WHEN 'twice in one statement' THEN
			a := (SELECT jsonb_agg(allocation.handle(r)) FROM generate_series(1, 2));
		WHEN 'nested' THEN
			PERFORM set_config('ho.message', m::text, true);
			a := a || jsonb_build_array(allocation.handle(m));
		WHEN 'nested, report_duplicate' THEN
			PERFORM set_config('ho.message', r::text, true);
			a := a || jsonb_build_array(allocation.handle(m));
			a := a || jsonb_build_array(allocation.handle(r));
		WHEN 'nested in a failing plugin' THEN
			PERFORM set_config('ho.message', r::text, true);
			PERFORM set_config('ho.fail', 'on', true);
			a := a || jsonb_build_array(allocation.handle(m));
			a := a || jsonb_build_array(allocation.handle(r));
		WHEN 'undone, then again' THEN
			BEGIN
				a := a || jsonb_build_array(allocation.handle(r));
				RAISE EXCEPTION USING ERRCODE = 'P0098';
			EXCEPTION WHEN SQLSTATE 'P0098' THEN
				NULL;
			END;
			a := a || jsonb_build_array(allocation.handle(r));
		WHEN 'again, undone' THEN
			a := a || jsonb_build_array(allocation.handle(r));
			BEGIN
				a := a || jsonb_build_array(allocation.handle(r));
				RAISE EXCEPTION USING ERRCODE = 'P0098';
			EXCEPTION WHEN SQLSTATE 'P0098' THEN
				NULL;
			END;
			a := a || jsonb_build_array(allocation.handle(r));
		WHEN 'claimed without a result' THEN
			INSERT INTO allocation.inbox
				(message_type, sender, message_id, message, result, handled_at)
			VALUES (m->>'type', current_user::regrole, m->'message_id', m, NULL,
					clock_timestamp());
			a := a || jsonb_build_array(allocation.handle(m));
			a := a || jsonb_build_array(allocation.handle(r));
		END CASE;
		PERFORM set_config('ho.message', '', true);
		PERFORM set_config('ho.fail', '', true);
		v_state := ho_state();
		v_nested := (SELECT jsonb_agg(answer ORDER BY n) FROM ho_nested);
		v_violations := (SELECT count(*) FROM allocation.check_invariants());
		RAISE EXCEPTION USING ERRCODE = 'P0099';
	EXCEPTION
		WHEN SQLSTATE 'P0099' THEN
			NULL;
		WHEN OTHERS THEN	-- a failed run is a state of its own
			v_state := jsonb_build_object('error', SQLERRM);
	END;
	INSERT INTO ho_results VALUES (p_name, p_mode, v_state, a, v_nested, v_violations);
END
$$;

CREATE TABLE ho_modes (ord int, mode text);
INSERT INTO ho_modes VALUES
	(0, 'fixture only'), (1, 'once'), (2, 'twice'),
	(3, 'twice in one statement'), (4, 'nested'),
	(5, 'nested, report_duplicate'), (6, 'nested in a failing plugin'),
	(7, 'undone, then again'), (8, 'again, undone'),
	(9, 'claimed without a result');
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT name, mode FROM ho_cases CROSS JOIN ho_modes
			  ORDER BY ho_modes.ord, name LOOP
		PERFORM ho_run(c.name, c.mode);
	END LOOP;
END
$$;
SELECT count(*) AS runs FROM ho_results;

------------------------------------------------------------------------
-- Results
------------------------------------------------------------------------

-- what handling each message once changes (so that an equal state below
-- is not trivially equal), and its answer
SELECT o.name,
	   (SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_object_keys(o.state) k
		 WHERE o.state->k IS DISTINCT FROM f.state->k) AS changes,
	   o.answers
  FROM ho_results o JOIN ho_results f ON f.name = o.name AND f.mode = 'fixture only'
 WHERE o.mode = 'once' ORDER BY o.name;

-- Every way of handling a message twice leaves the state of handling it
-- once: no command ran twice.  A row here is a message that ran twice (or
-- not at all).
SELECT r.name, r.mode, k.key AS differs_in
  FROM ho_results r
  JOIN ho_modes USING (mode)
  JOIN ho_results o ON o.name = r.name AND o.mode = 'once'
  CROSS JOIN LATERAL jsonb_object_keys(o.state) AS k(key)
 WHERE r.mode NOT IN ('fixture only', 'once', 'claimed without a result')
   AND r.state->k.key IS DISTINCT FROM o.state->k.key
 ORDER BY r.name, ho_modes.ord, k.key;

-- A key claimed without a result runs nothing: the state is the
-- fixture's, the inbox row aside.  A row here is a message that ran.
SELECT r.name, k.key AS differs_in
  FROM ho_results r
  JOIN ho_results f ON f.name = r.name AND f.mode = 'fixture only'
  CROSS JOIN LATERAL jsonb_object_keys(f.state) AS k(key)
 WHERE r.mode = 'claimed without a result' AND k.key <> 'inbox'
   AND r.state->k.key IS DISTINCT FROM f.state->k.key
 ORDER BY r.name, k.key;

-- no run broke an invariant
SELECT name, mode, violations FROM ho_results WHERE violations <> 0;

-- The answers.  The first handling answers its result (duplicate false);
-- a repeat after it the same result, duplicate true; a repeat while it
-- runs (nested), or of a key without a result, answers SQL NULL, or
-- {"duplicate": true} alone when asked.
SELECT r.mode,
	   count(*) AS cases,
	   string_agg(DISTINCT (SELECT string_agg(CASE WHEN x = 'null' THEN 'NULL'
												   ELSE COALESCE(x->>'duplicate', '-') END, ' ')
							  FROM jsonb_array_elements(r.answers) x), ', ') AS duplicate_flags,
	   bool_and((SELECT bool_and(ho_plain(x) = ho_plain(o.answers->0))
				   FROM jsonb_array_elements(r.answers) x
				  WHERE ho_plain(x) <> '{}')) AS results_as_once,
	   sum((SELECT count(*) FROM jsonb_array_elements(r.answers) x
			 WHERE ho_plain(x) = '{}')) AS answers_without_result
  FROM ho_results r
  JOIN ho_modes USING (mode)
  JOIN ho_results o ON o.name = r.name AND o.mode = 'once'
 WHERE r.mode NOT IN ('fixture only', 'once')
 GROUP BY r.mode, ho_modes.ord ORDER BY ho_modes.ord;

-- what the nested calls answered: one per event the first handling
-- recorded, each a duplicate without a result
SELECT r.mode, r.name, r.nested
  FROM ho_results r JOIN ho_modes USING (mode)
 WHERE r.nested IS NOT NULL
 ORDER BY ho_modes.ord, r.name;

------------------------------------------------------------------------
-- The same, by hand, in a psql transaction
------------------------------------------------------------------------

-- the message is handled from its own Allocated event: the nested call is
-- a duplicate (SQL NULL), one line, one event, the result stored once
BEGIN;
SELECT ho_fixture();
SELECT set_config('ho.message', '{"type": "Allocate", "orderid": "HO-o5", "sku": "HO-LAMP", "qty": 1, "message_id": "ho-10"}', true);
SELECT allocation.handle(current_setting('ho.message')::jsonb);
SELECT set_config('ho.message', '', true);
SELECT event_type, answer FROM ho_nested;
SELECT count(*) AS allocated_events FROM allocation.outbox
 WHERE aggregateid = 'HO-LAMP' AND type = 'Allocated' AND payload->>'orderid' = 'HO-o5';
SELECT result FROM allocation.inbox WHERE message_id = '"ho-10"';
-- a later repeat gets the stored result
SELECT allocation.handle('{"type": "Allocate", "orderid": "HO-o5", "sku": "HO-LAMP", "qty": 1, "message_id": "ho-10", "report_duplicate": true}');
ROLLBACK;

-- savepoints: a claim rolled back with its savepoint is forgotten (the
-- message runs again, once); a repeat inside a savepoint rolled back
-- leaves the first claim and its result
BEGIN;
SELECT ho_fixture();
SAVEPOINT a;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HO-B2", "qty": 8, "message_id": "ho-11", "report_duplicate": true}');
ROLLBACK TO SAVEPOINT a;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HO-B2", "qty": 8, "message_id": "ho-11", "report_duplicate": true}');
SAVEPOINT b;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HO-B2", "qty": 8, "message_id": "ho-11", "report_duplicate": true}');
ROLLBACK TO SAVEPOINT b;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HO-B2", "qty": 8, "message_id": "ho-11", "report_duplicate": true}');
SELECT count(*) AS quantity_events FROM allocation.outbox
 WHERE aggregateid = 'HO-LAMP' AND type = 'BatchQuantityChanged';
ROLLBACK;

-- an inbox row without a result (written by hand here): a duplicate, not
-- a new message
BEGIN;
SELECT ho_fixture();
INSERT INTO allocation.inbox (message_type, sender, message_id, message, result, handled_at)
VALUES ('Deallocate', current_user::regrole, '"ho-12"', '{}', NULL, clock_timestamp());
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HO-o1", "sku": "HO-LAMP", "message_id": "ho-12"}') IS NULL AS answer_is_null;
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HO-o1", "sku": "HO-LAMP", "message_id": "ho-12", "report_duplicate": true}');
SELECT * FROM allocation.allocations('HO-o1');
ROLLBACK;

SELECT allocation.unsubscribe(t, 'ho_again(jsonb)')
  FROM unnest(ARRAY['BatchCreated', 'BatchQuantityChanged', 'Allocated',
					'Deallocated', 'OutOfStock']) t;

------------------------------------------------------------------------
-- A plugin of another role
------------------------------------------------------------------------

-- A plugin runs as the role that subscribed it, so what it hands to
-- handle() is sent by that role, and a message_id counts per sender: the
-- same id is that role's own message.  It runs once as that role (a
-- second run, documented), and that role's re-entrant repeat is a
-- duplicate: one run per sender, never a recursion.  ho.depth only keeps
-- a receiver that would recurse from exhausting the stack.
CREATE ROLE ho_clerk;
GRANT allocation_user TO ho_clerk;
CREATE ROLE ho_admin;
GRANT allocation_admin TO ho_admin;
GRANT INSERT ON ho_nested TO ho_admin;
GRANT USAGE ON SEQUENCE ho_nested_n_seq TO ho_admin;
CREATE FUNCTION ho_as_sender(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	depth int := COALESCE(NULLIF(current_setting('ho.depth', true), ''), '0')::int;
	answer jsonb;
BEGIN
	IF depth >= 3 THEN
		RETURN;
	END IF;
	PERFORM set_config('ho.depth', (depth + 1)::text, true);
	answer := allocation.handle(current_setting('ho.message')::jsonb);
	PERFORM set_config('ho.depth', depth::text, true);
	INSERT INTO ho_nested (event_type, answer)
	VALUES (current_user || ' ' || (event->>'type'), answer);
END
$$;
ALTER FUNCTION ho_as_sender(jsonb) OWNER TO ho_admin;
SET ROLE ho_admin;
SELECT allocation.subscribe('OutOfStock', 'ho_as_sender(jsonb)');
RESET ROLE;
BEGIN;
SELECT ho_fixture();
SELECT set_config('ho.message', '{"type": "Allocate", "orderid": "HO-o6", "sku": "HO-LAMP", "qty": 50, "message_id": "ho-13", "report_duplicate": true}', true);
SET ROLE ho_clerk;
SELECT allocation.handle(current_setting('ho.message')::jsonb);
RESET ROLE;
-- innermost first: ho_admin's repeat is a duplicate, its first run is not
SELECT event_type, answer FROM ho_nested ORDER BY n;
SELECT count(*) AS out_of_stock_events FROM allocation.outbox
 WHERE aggregateid = 'HO-LAMP' AND type = 'OutOfStock' AND payload->>'orderid' = 'HO-o6';
SELECT sender, result FROM allocation.inbox WHERE message_id = '"ho-13"' ORDER BY sender::text;
ROLLBACK;
SET ROLE ho_admin;
SELECT allocation.unsubscribe('OutOfStock', 'ho_as_sender(jsonb)');
RESET ROLE;
DROP FUNCTION ho_as_sender(jsonb);
REVOKE ALL ON ho_nested, ho_nested_n_seq FROM ho_admin;
DROP ROLE ho_clerk, ho_admin;

DROP FUNCTION ho_run(text, text), ho_again(jsonb), ho_state(), ho_fixture(),
	ho_plain(jsonb);
DROP TABLE ho_cases, ho_modes, ho_results, ho_nested;
