--
-- allocation.handle: the contract of a message's envelope.  The inbox key
-- is (type, sender, message_id), the sender being current_user at the
-- call; a message_id is a string (identifier rules) or an integer within
-- bigint, "7" and 7 being two ids and 1 and 1.0 one; a message without a
-- usable type and an eta that is not exactly YYYY-MM-DD are malformed
-- (22023), checked over generated cases; a refused message changes
-- nothing.  SKUs, references and order ids start with "HC-", roles with
-- "hc_".
--
\set VERBOSITY terse

CREATE ROLE hc_user NOLOGIN IN ROLE allocation_user;
CREATE ROLE hc_user2 NOLOGIN IN ROLE allocation_user;
CREATE ROLE hc_admin NOLOGIN IN ROLE allocation_admin;

-- The SQLSTATE of a call, or ok; a failed call is undone by its
-- subtransaction.
CREATE FUNCTION hc_try(m jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM allocation.handle(m);
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
GRANT EXECUTE ON FUNCTION hc_try(jsonb) TO PUBLIC;

-- What a refused message must not change: events, batches, inbox rows.
CREATE VIEW hc_state AS
SELECT (SELECT count(*) FROM allocation.outbox) AS events,
	   (SELECT count(*) FROM allocation.batches) AS batches,
	   (SELECT count(*) FROM allocation.inbox) AS inbox;

SELECT allocation.add_batch('HC-B1', 'HC-LAMP', 100);

------------------------------------------------------------------------
-- The scope of a message_id: command type and sender
------------------------------------------------------------------------

-- a user claims "hc-1" with an Allocate ...
SET ROLE hc_user;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o1", "sku": "HC-LAMP", "qty": 1, "message_id": "hc-1"}');
RESET ROLE;
-- ... an administrator's ChangeBatchQuantity with the same id still runs
-- and gets its own result
SET ROLE hc_admin;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HC-B1", "qty": 50, "message_id": "hc-1"}');
-- ... and so does its own Allocate with that id: another sender
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o2", "sku": "HC-LAMP", "qty": 1, "message_id": "hc-1"}');
RESET ROLE;
-- another user with the same id and type: its own message, executed
SET ROLE hc_user2;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o3", "sku": "HC-LAMP", "qty": 1, "message_id": "hc-1"}');
RESET ROLE;
-- the first sender repeating its message gets its first result, nothing runs
SET ROLE hc_user;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o4", "sku": "HC-LAMP", "qty": 1, "message_id": "hc-1"}');
RESET ROLE;
SELECT purchased, allocated FROM allocation.stock WHERE reference = 'HC-B1';
SELECT orderid FROM allocation.allocations_view WHERE sku = 'HC-LAMP' ORDER BY orderid;
SELECT message_type, sender, message_id, result FROM allocation.inbox
 WHERE message_id = '"hc-1"' ORDER BY message_type, sender::text;

------------------------------------------------------------------------
-- Which JSON values are ids, and which are the same id
------------------------------------------------------------------------

-- the string "7" and the number 7 are two ids: both run
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o5", "sku": "HC-LAMP", "qty": 1, "message_id": "7"}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o6", "sku": "HC-LAMP", "qty": 1, "message_id": 7}');
-- 1, 1.0, 1e0 and 10e-1 are one id: only the first runs
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o7", "sku": "HC-LAMP", "qty": 1, "message_id": 1}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o8", "sku": "HC-LAMP", "qty": 1, "message_id": 1.0}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o9", "sku": "HC-LAMP", "qty": 1, "message_id": 1e0}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o10", "sku": "HC-LAMP", "qty": 1, "message_id": 10e-1}');
SELECT orderid FROM allocation.allocations_view WHERE orderid IN ('HC-o5', 'HC-o6', 'HC-o7', 'HC-o8', 'HC-o9', 'HC-o10')
 ORDER BY orderid;
-- the inbox keeps an id as a jsonb string or integer
SELECT message_id, jsonb_typeof(message_id) FROM allocation.inbox
 WHERE message->>'orderid' IN ('HC-o5', 'HC-o6', 'HC-o7') ORDER BY message->>'orderid';
-- the limits that are accepted: 255 characters, bigint's range
SELECT hc_try(jsonb_build_object('type', 'Allocate', 'orderid', 'HC-o11', 'sku', 'HC-LAMP', 'qty', 1,
							  'message_id', repeat('é', 255))) AS chars_255;
SELECT hc_try('{"type": "Allocate", "orderid": "HC-o12", "sku": "HC-LAMP", "qty": 1, "message_id": -9223372036854775808}') AS bigint_min;
SELECT hc_try('{"type": "Allocate", "orderid": "HC-o13", "sku": "HC-LAMP", "qty": 1, "message_id": 9223372036854775807}') AS bigint_max;

-- every other id is 22023 and changes nothing: generated over JSON types
-- and the edges of strings and numbers
CREATE TEMP TABLE hc_before AS SELECT * FROM hc_state;
SELECT what, hc_try(jsonb_build_object('type', 'Allocate', 'orderid', 'HC-o14', 'sku', 'HC-LAMP', 'qty', 1)
					|| jsonb_build_object('message_id', id)) AS sqlstate
  FROM (VALUES ('empty', '""'::jsonb), ('blank', '" "'), ('blank, Unicode spaces', '"\u00a0\u3000"'),
			   ('C0 control', '"a\u0001b"'), ('DEL', '"a\u007fb"'), ('C1 control', '"a\u0085b"'),
			   ('new line', '"a\nb"'), ('256 characters', to_jsonb(repeat('x', 256))),
			   ('fraction', '1.5'), ('negative fraction', '-0.001'), ('tiny', '1e-20'),
			   ('bigint max + 1', '9223372036854775808'), ('bigint min - 1', '-9223372036854775809'),
			   ('1e19', '1e19'), ('3201 digits', to_jsonb(('1' || repeat('0', 3200))::numeric)),
			   ('true', 'true'), ('false', 'false'), ('empty array', '[]'), ('array', '[1]'),
			   ('empty object', '{}'), ('object', '{"id": 1}')) AS t(what, id);
SELECT (SELECT row(s.*) FROM hc_state s) = (SELECT row(b.*) FROM hc_before b) AS nothing_changed;
-- a JSON null message_id is refused (22004), not read as no id: a sender
-- whose id went missing would lose de-duplication without a word
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o15", "sku": "HC-LAMP", "qty": 1, "message_id": null}');
-- a message_id refused names the field and says what is accepted
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o14", "sku": "HC-LAMP", "qty": 1, "message_id": 1.5}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o14", "sku": "HC-LAMP", "qty": 1, "message_id": 99999999999999999999}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HC-o14", "sku": "HC-LAMP", "qty": 1, "message_id": ""}');

------------------------------------------------------------------------
-- A message without a usable type is malformed (22023): generated over
-- JSON types and near misses of every known type
------------------------------------------------------------------------
TRUNCATE hc_before;
INSERT INTO hc_before SELECT * FROM hc_state;
WITH known(t) AS (VALUES ('Allocate'), ('CreateBatch'), ('ChangeBatchQuantity'), ('Deallocate')),
types(v) AS (
	SELECT NULL::jsonb		-- no type field at all
	UNION ALL SELECT v::jsonb FROM (VALUES ('null'), ('1'), ('0'), ('true'), ('false'), ('[]'),
		('["Allocate"]'), ('{}'), ('{"type": "Allocate"}'), ('""'), ('" "')) AS j(v)
	UNION ALL SELECT to_jsonb(m) FROM known, LATERAL (VALUES (lower(t)), (upper(t)), (' ' || t),
		(t || ' '), (substr(t, 2)), (left(t, -1)), (t || 'd'), (t || E'\u00a0')) AS n(m)
	UNION ALL SELECT to_jsonb(m) FROM (VALUES ('Allocated'), ('OutOfStock'), ('BatchCreated'),
		('handle'), ('allocation.allocate')) AS e(m)),
results AS (
	SELECT v, hc_try(jsonb_build_object('orderid', 'HC-t1', 'sku', 'HC-LAMP', 'qty', 1,
										'ref', 'HC-T1', 'message_id', 'hc-type')
					 || CASE WHEN v IS NULL THEN '{}' ELSE jsonb_build_object('type', v) END) AS sqlstate
	  FROM types)
SELECT count(*) AS cases, count(*) FILTER (WHERE sqlstate = '22023') AS malformed_22023,
	   string_agg(format('%s: %s', v, sqlstate), ', ') FILTER (WHERE sqlstate <> '22023') AS others
  FROM results;
SELECT (SELECT row(s.*) FROM hc_state s) = (SELECT row(b.*) FROM hc_before b) AS nothing_changed;
-- the messages
SELECT allocation.handle('{"orderid": "HC-t1", "sku": "HC-LAMP", "qty": 1}');
SELECT allocation.handle('{"type": null, "orderid": "HC-t1", "sku": "HC-LAMP", "qty": 1}');
SELECT allocation.handle('{"type": ["Allocate"], "orderid": "HC-t1", "sku": "HC-LAMP", "qty": 1}');
SELECT allocation.handle('{"type": "Allocate ", "orderid": "HC-t1", "sku": "HC-LAMP", "qty": 1}');
-- a JSON null in an argument field stays 22004, as the function's NULL
SELECT hc_try('{"type": "Allocate", "orderid": null, "sku": "HC-LAMP", "qty": 1}') AS null_orderid,
	   hc_try('{"type": "Allocate", "orderid": "HC-t1", "sku": "HC-LAMP", "qty": null}') AS null_qty,
	   hc_try('{"type": "ChangeBatchQuantity", "ref": null, "qty": 1}') AS null_ref;

------------------------------------------------------------------------
-- eta is exactly YYYY-MM-DD, a day that exists, years 0001 to 9999:
-- every single-character substitution, deletion and insertion of valid
-- dates, and the spellings date_in would take (spaces, signs, eras,
-- special values, long years).  The oracle is independent of the
-- extension: a regular expression and make_date.
------------------------------------------------------------------------
CREATE TEMP TABLE hc_eta (n serial, eta text);
WITH base(d) AS (VALUES ('2024-02-29'), ('0001-01-01'), ('9999-12-31')),
chars(c) AS (SELECT unnest(string_to_array('0 1 2 3 4 5 6 7 8 9 - + . / : T Z a é ２ ٢', ' '))
			 UNION ALL VALUES (' '), (E'\t'), (E'\n')),
pos(d, i) AS (SELECT d, i FROM base, generate_series(1, 10) AS i)
INSERT INTO hc_eta (eta)
SELECT DISTINCT e FROM (
	SELECT overlay(d PLACING c FROM i FOR 1) FROM pos, chars			-- substitution
	UNION ALL SELECT overlay(d PLACING '' FROM i FOR 1) FROM pos		-- deletion
	UNION ALL SELECT overlay(d PLACING c FROM i FOR 0) FROM pos, chars	-- insertion
	UNION ALL SELECT d || c FROM base, chars							-- insertion at the end
	UNION ALL SELECT v FROM (VALUES (' 2024-02-29'), ('2024-02-29 '), ('+2024-02-29'), ('-2024-02-29'),
		('2024-02-29 BC'), ('2024-02-29 AD'), ('0000-01-01'), ('+123-01-01'), (' 123-01-01'),
		('123-01-01'), ('02024-02-29'), ('12024-02-29'), ('99999-12-31'), ('10000-01-01'),
		('infinity'), ('-infinity'), ('epoch'), ('today'), ('now'), ('allballs'), (''),
		('2024-2-29'), ('2024-02-9'), ('20240229'), ('2024/02/29'), ('2024-02-29T00:00:00'),
		('2024-02-29 00:00'), ('2024-02-29Z'), ('2024-02-30'), ('2023-02-29'), ('1900-02-29'),
		('2000-02-29'), ('2024-00-10'), ('2024-13-10'), ('2024-12-00'), ('2024-12-32'),
		('2024-04-31'), ('J2460370'), ('Feb 29 2024'), ('29.02.2024'), ('２０２４-０２-２９'),
		('٢٠٢٤-٠٢-٢٩'), ('2024—02—29'), ('2024-02-29' || E'\u200b')) AS x(v)) AS m(e);
CREATE FUNCTION hc_valid_date(s text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF s !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' OR substr(s, 1, 4)::int < 1 THEN
		RETURN false;
	END IF;
	PERFORM make_date(substr(s, 1, 4)::int, substr(s, 6, 2)::int, substr(s, 9, 2)::int);
	RETURN true;
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
	RETURN false;
END
$$;
TRUNCATE hc_before;
INSERT INTO hc_before SELECT * FROM hc_state;
CREATE TEMP TABLE hc_eta_result AS
SELECT n, eta, hc_valid_date(eta) AS valid,
	   hc_try(jsonb_build_object('type', 'CreateBatch', 'ref', 'HC-E' || n, 'sku', 'HC-ETA',
								 'qty', 1, 'eta', eta)) AS sqlstate
  FROM hc_eta;
-- every malformed date is 22023; every valid one is taken as that date
SELECT count(*) AS cases, count(*) FILTER (WHERE NOT valid) AS malformed,
	   count(*) FILTER (WHERE NOT valid AND sqlstate = '22023') AS malformed_22023,
	   count(*) FILTER (WHERE valid AND sqlstate = 'ok') AS valid_ok
  FROM hc_eta_result;
SELECT eta, valid, sqlstate FROM hc_eta_result
 WHERE sqlstate <> CASE WHEN valid THEN 'ok' ELSE '22023' END ORDER BY n;
SELECT count(*) AS batches_as_sent FROM hc_eta_result r JOIN allocation.stock s ON s.reference = 'HC-E' || r.n
 WHERE s.eta = CASE WHEN r.valid THEN r.eta::date END;
-- the refused ones changed nothing: only the valid dates made batches
SELECT (SELECT batches FROM hc_state) - (SELECT batches FROM hc_before)
	   = (SELECT count(*) FROM hc_eta_result WHERE valid) AS only_valid_ones_changed;
-- the messages name the field and the value
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HC-E0", "sku": "HC-ETA", "qty": 1, "eta": "0000-01-01"}');
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HC-E0", "sku": "HC-ETA", "qty": 1, "eta": "+123-01-01"}');
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HC-E0", "sku": "HC-ETA", "qty": 1, "eta": " 123-01-01"}');
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HC-E0", "sku": "HC-ETA", "qty": 1, "eta": "10000-01-01"}');

------------------------------------------------------------------------
-- A message is refused as its function refuses the same values, by the
-- same role: generated over every type, every field being valid, JSON
-- null or out of its domain, and both roles.  Both calls are undone
-- (HC000 after a success), so every case starts from the same state.
------------------------------------------------------------------------
CREATE FUNCTION hc_code(q text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RAISE SQLSTATE 'HC000';
EXCEPTION WHEN OTHERS THEN
	RETURN CASE SQLSTATE WHEN 'HC000' THEN 'ok' ELSE SQLSTATE END;
END
$$;
GRANT EXECUTE ON FUNCTION hc_code(text) TO PUBLIC;
CREATE TEMP TABLE hc_cases AS
WITH types(type, fn, fields) AS (VALUES
	('Allocate', 'allocate', ARRAY['orderid', 'sku', 'qty']),
	('CreateBatch', 'add_batch', ARRAY['ref', 'sku', 'qty']),
	('ChangeBatchQuantity', 'change_batch_quantity', ARRAY['ref', 'qty']),
	('Deallocate', 'deallocate', ARRAY['orderid', 'sku'])),
-- per field: a valid value, NULL, and a value out of its domain
vals(f, v) AS (VALUES ('orderid', '"HC-c1"'::jsonb), ('orderid', 'null'), ('orderid', '""'),
	('sku', '"HC-LAMP"'), ('sku', 'null'), ('sku', '" "'),
	('ref', '"HC-B1"'), ('ref', 'null'), ('ref', '""'),
	('qty', '1'), ('qty', 'null'), ('qty', '-1')),
combos AS (
	SELECT t.type, t.fn, t.fields, c.values
	  FROM types t,
	  LATERAL (WITH RECURSIVE r(i, values) AS (
				  SELECT 0, ARRAY[]::jsonb[]
				  UNION ALL
				  SELECT r.i + 1, r.values || v.v FROM r JOIN vals v ON v.f = t.fields[r.i + 1]
				   WHERE r.i < cardinality(t.fields))
			   SELECT values FROM r WHERE i = cardinality(t.fields)) AS c)
SELECT type, fn, fields, values,
	   (SELECT jsonb_object_agg(fields[i], values[i]) FROM generate_subscripts(fields, 1) AS i)
	   || jsonb_build_object('type', type) AS message,
	   format('SELECT allocation.%s(%s)', fn,
			  (SELECT string_agg(CASE WHEN values[i] = 'null' THEN 'NULL'
									  ELSE quote_literal(values[i] #>> '{}') END
								 || CASE WHEN fields[i] = 'qty' THEN '::integer' ELSE '::text' END, ', '
								 ORDER BY i)
				 FROM generate_subscripts(fields, 1) AS i)) AS call
  FROM combos;
GRANT SELECT ON hc_cases TO PUBLIC;
SET ROLE hc_user;
CREATE TEMP TABLE hc_user_codes AS
SELECT type, call, message, hc_code(call) AS function_code,
	   hc_code(format('SELECT allocation.handle(%L)', message)) AS message_code FROM hc_cases;
RESET ROLE;
SET ROLE hc_admin;
CREATE TEMP TABLE hc_admin_codes AS
SELECT type, call, message, hc_code(call) AS function_code,
	   hc_code(format('SELECT allocation.handle(%L)', message)) AS message_code FROM hc_cases;
RESET ROLE;
SELECT who, count(*) AS cases, count(*) FILTER (WHERE function_code = message_code) AS same,
	   string_agg(DISTINCT function_code, ' ' ORDER BY function_code) AS codes
  FROM (SELECT 'user' AS who, * FROM hc_user_codes UNION ALL SELECT 'admin', * FROM hc_admin_codes) AS c
 GROUP BY who ORDER BY who;
SELECT 'user' AS who, call, message, function_code, message_code FROM hc_user_codes
 WHERE function_code <> message_code
UNION ALL
SELECT 'admin', call, message, function_code, message_code FROM hc_admin_codes
 WHERE function_code <> message_code
 ORDER BY 1, 2;
-- a null message_id beside another bad field: the null first
SELECT hc_try('{"type": "Allocate", "orderid": "HC-c1", "sku": "HC-LAMP", "qty": 0, "message_id": null}') AS null_id_first;

SELECT count(*) = 0 AS healthy FROM allocation.check_invariants() WHERE object LIKE 'HC-%';
DROP TABLE hc_user_codes, hc_admin_codes, hc_cases;
DROP FUNCTION hc_try(jsonb), hc_valid_date(text), hc_code(text);
DROP VIEW hc_state;
DROP ROLE hc_user, hc_user2, hc_admin;
