-- test/fuzz/sql_fuzz.sql - SQL-level fuzz pass over every function of schema
-- allocation (run by scripts/extra-tests/sql_fuzz.sh, which reads the results
-- from table fuzz.calls and judges them).
--
-- Settings (SET before \i, read with current_setting):
--   fuzz.seed     setseed() argument in [-1, 1]: the same seed, the same calls
--   fuzz.calls    at most this many calls
--   fuzz.seconds  and at most this long
--
-- Each call:
--   1. picks a function of schema allocation from pg_proc (so that new ones
--      are covered without touching this file; trigger functions and
--      functions with pseudo-type arguments cannot be called and are left
--      out), a role (superuser, a member of allocation_admin, a member of
--      allocation_user, a member of neither), and an argument expression
--      for each parameter from a generator for its type; trailing
--      parameters with defaults are sometimes left out.  Half of the calls
--      are "plausible": arguments chosen by parameter name from valid
--      values of the seeded state (fuzz.gen_plausible), so that they reach
--      deep into the commands, not only the argument checks;
--   2. evaluates the arguments alone, cast to the parameter types ("input"
--      phase): an error there is PostgreSQL parsing a literal (a bad date,
--      an integer out of range, invalid JSON, a function name that does not
--      exist...), before any of our code runs;
--   3. calls the function as the role, in its own subtransaction ("call"
--      phase), and records the SQLSTATE or success.
-- Every 25 calls the transaction commits, so that the outbox consumer API
-- and NOTIFY see committed work.

\set ON_ERROR_STOP 1
SET client_min_messages = error;

CREATE SCHEMA fuzz;

CREATE TABLE fuzz.calls (
	id			bigserial PRIMARY KEY,
	fn			regprocedure NOT NULL,
	role		text NOT NULL,
	plausible	boolean NOT NULL,
	phase		text NOT NULL CHECK (phase IN ('input', 'call')),
	sqlstate	text,				-- NULL: success
	message		text,
	call		text NOT NULL		-- the SQL, cut at 400 characters
);

-- Plugins for allocation.subscribe: one that works, one that fails, one with
-- the wrong signature.
CREATE FUNCTION fuzz.good_handler(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN PERFORM event->>'type'; END $$;
CREATE FUNCTION fuzz.bad_handler(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'plugin failure on %', event->>'type'; END $$;
CREATE FUNCTION fuzz.wrong_handler(n integer) RETURNS integer
LANGUAGE sql AS $$ SELECT n $$;
GRANT USAGE ON SCHEMA fuzz TO PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fuzz TO PUBLIC;

CREATE FUNCTION fuzz.pick(VARIADIC choices text[]) RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT choices[1 + floor(random() * cardinality(choices))::int]
$$;

CREATE FUNCTION fuzz.rand_int(lo int, hi int) RETURNS int
LANGUAGE sql VOLATILE AS $$
	SELECT (lo + floor(random() * (hi::bigint - lo + 1)))::int
$$;

-- A random string of n code points from a random mix of ranges: ASCII
-- with controls, Latin-1 with C1 controls, the rest of the BMP (no
-- surrogates), the astral planes.
CREATE FUNCTION fuzz.rand_string(n int) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	s text := '';
	r float8;
	c int;
BEGIN
	FOR i IN 1..n LOOP
		r := random();
		IF r < 0.45 THEN
			c := fuzz.rand_int(32, 126);
		ELSIF r < 0.55 THEN
			c := fuzz.rand_int(1, 31);
		ELSIF r < 0.65 THEN
			c := fuzz.rand_int(127, 255);
		ELSIF r < 0.85 THEN
			c := fuzz.rand_int(256, 55295);
		ELSIF r < 0.92 THEN
			c := fuzz.rand_int(57344, 65535);
		ELSE
			c := fuzz.rand_int(65536, 1114111);
		END IF;
		s := s || chr(c);
	END LOOP;
	RETURN s;
END $$;

-- Generators: each returns an SQL expression (text) for a value of its kind.

-- text: NULL, the identifiers of the seeded state (so calls reach real
-- products, batches, orders and consumers), odd but legal text, hostile
-- text, random code points, very long strings, and a NUL (which PostgreSQL
-- itself refuses).
CREATE FUNCTION fuzz.gen_text() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
BEGIN
	IF r < 0.07 THEN
		RETURN 'NULL';
	ELSIF r < 0.45 THEN
		RETURN quote_literal(fuzz.pick(
			'SKU-1', 'SKU-2', 'SKU-3', 'SKU-NEW', 'b-1', 'b-2', 'b-3', 'b-4',
			'b-new', 'o-1', 'o-2', 'ORD-1', 'ORD-2', 'ORD-3', 'fuzz-1',
			'a@b.co', 'Someone@Example.ORG', 'created', 'allocated',
			'backordered', 'shipped', 'delivered', 'cancelled', 'Allocated',
			'Deallocated', 'OutOfStock', 'BatchCreated', 'BatchQuantityChanged',
			'OrderCreated', 'OrderStatusChanged', 'relay', 'c1', 'fuzz-consumer'));
	ELSIF r < 0.65 THEN
		RETURN quote_literal(fuzz.pick(
			'', ' ', '   ', E'\t', E'a\tb', E'line\nbreak', E'\r', 'é', 'ÉTÉ-1',
			'😀', 'Z😀-9', U&'\00A0', U&'\3000', U&'\200B', U&'\FEFF', U&'\200F',
			U&'\0085', U&'a\0301', E'\x01', E'\x1b[31m', E'\x7f', '''', '"',
			'\', '%s', '%', '_', '-', '--', 'o-', '-1', 'a@', '@b.co', 'a@b',
			'a b@c.de', 'a..b@c.de', 'x@-y.com', 'CREATED', 'shipped ',
			'null', '{}', '[]', 'NaN', 'Infinity', '0', '-0', '1e10',
			'''); DROP TABLE allocation.batches; --', '$1', 'SKU-1 ', ' SKU-1',
			'sku-1', 'b-1' || chr(9), E'\\x00', 'pg_temp', 'allocation.outbox'));
	ELSIF r < 0.85 THEN
		RETURN quote_literal(fuzz.rand_string(fuzz.rand_int(0, 12)));
	ELSIF r < 0.97 THEN
		RETURN fuzz.pick(
			'repeat(''x'', 255)', 'repeat(''x'', 256)', 'repeat(''é'', 255)',
			'repeat(''é'', 256)', 'repeat(''😀'', 256)', 'repeat('' '', 300)',
			'repeat(''x'', 100000)', 'repeat(''-'', 1000)',
			'repeat(''a'', 64) || ''@b.co''', 'repeat(''a'', 65) || ''@b.co''',
			'''a@'' || repeat(''b'', 250) || ''.co''');
	ELSE
		RETURN fuzz.pick('chr(0)', quote_literal(fuzz.rand_string(300)));
	END IF;
END $$;

-- integer: NULL, small values, 0 and negatives, the limits, and literals
-- outside the type (PostgreSQL refuses them in the input phase).
CREATE FUNCTION fuzz.gen_int() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
BEGIN
	IF r < 0.07 THEN
		RETURN 'NULL';
	ELSIF r < 0.55 THEN
		RETURN fuzz.rand_int(1, 12)::text;
	ELSIF r < 0.85 THEN
		RETURN fuzz.pick('0', '-1', '-2', '100', '1000000', '2147483647',
						 '2147483646', '(-2147483648)', '(-2147483647)');
	ELSIF r < 0.95 THEN
		RETURN fuzz.rand_int(-2147483647, 2147483647)::text;
	ELSE
		RETURN fuzz.pick('2147483648', '(-2147483649)', '''1e3''',
						 '''12abc''', '''''', '9223372036854775808');
	END IF;
END $$;

CREATE FUNCTION fuzz.gen_bigint() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT fuzz.pick('NULL', '0', '-1', '1', '9223372036854775807',
					 '(-9223372036854775808)', '9223372036854775808',
					 fuzz.rand_int(-1000, 1000)::text)
$$;

CREATE FUNCTION fuzz.gen_float() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT fuzz.pick('NULL', '0', '-1', '1.5', '''NaN''', '''Infinity''',
					 '''-Infinity''', '1e308', '1e-320')
$$;

-- date: NULL, ordinary dates, infinities, the extremes PostgreSQL accepts,
-- and dates it refuses (out of range, malformed, February 30).
CREATE FUNCTION fuzz.gen_date() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT fuzz.pick('NULL', 'NULL', 'NULL', 'current_date',
					 'current_date + 1', 'current_date - 1',
					 '''2000-01-01''', '''2024-02-29''', '''infinity''',
					 '''-infinity''', '''4713-01-01 BC''', '''5874897-12-31''',
					 '''5874898-01-01''', '''4714-01-01 BC''', '''2024-02-30''',
					 '''garbage''', '''''', '''2024-13-01''')
$$;

CREATE FUNCTION fuzz.gen_bool() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT fuzz.pick('NULL', 'true', 'false', 'true', 'false', '''maybe''')
$$;

-- uuid: NULL, fresh, zero, an id of the outbox, malformed.
CREATE FUNCTION fuzz.gen_uuid() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT fuzz.pick('NULL', 'gen_random_uuid()',
					 '''00000000-0000-0000-0000-000000000000''',
					 '''ffffffff-ffff-ffff-ffff-ffffffffffff''',
					 '(SELECT id FROM allocation.outbox ORDER BY random() LIMIT 1)',
					 '(SELECT max(id::text)::uuid FROM allocation.outbox)',
					 '''not-a-uuid''')
$$;

-- regprocedure: NULL, the test plugins, functions of every kind from
-- pg_proc, our own functions, an OID that no function has, and names that
-- do not resolve (refused by PostgreSQL in the input phase).
CREATE FUNCTION fuzz.gen_regprocedure() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	p text;
BEGIN
	IF r < 0.07 THEN
		RETURN 'NULL';
	ELSIF r < 0.45 THEN
		RETURN quote_literal(fuzz.pick('fuzz.good_handler(jsonb)',
									   'fuzz.bad_handler(jsonb)',
									   'fuzz.wrong_handler(integer)'));
	ELSIF r < 0.70 THEN
		SELECT oid::regprocedure::text INTO p FROM pg_proc
		 WHERE oid >= fuzz.rand_int(1, (SELECT max(oid)::int FROM pg_proc))::oid
		 ORDER BY oid LIMIT 1;
		RETURN quote_literal(coalesce(p, 'now()'));
	ELSIF r < 0.80 THEN
		SELECT oid::regprocedure::text INTO p FROM pg_proc
		 WHERE pronamespace = 'allocation'::regnamespace ORDER BY random() LIMIT 1;
		RETURN quote_literal(p);
	ELSIF r < 0.90 THEN
		RETURN fuzz.pick('4294967295::oid', '0::oid', '1::oid');
	ELSE
		RETURN quote_literal(fuzz.pick('nosuch(jsonb)', 'fuzz.nosuch()',
									   'nosuchschema.f(jsonb)', 'now',
									   'fuzz.good_handler(nosuchtype)', ''));
	END IF;
END $$;

-- A random JSON value for a field of a message: strings of every kind,
-- numbers in and out of the integer range, fractions, booleans, null,
-- arrays, objects.
CREATE FUNCTION fuzz.gen_json_value() RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	t text;
BEGIN
	IF r < 0.55 THEN
		BEGIN
			EXECUTE 'SELECT ' || fuzz.gen_text() INTO t;	-- may be NULL
		EXCEPTION WHEN OTHERS THEN
			t := 'not text: ' || SQLSTATE;	-- chr(0): PostgreSQL refuses it
		END;
		RETURN to_jsonb(t);
	ELSIF r < 0.80 THEN
		RETURN to_jsonb(fuzz.pick('1', '2', '5', '0', '-1', '2147483647',
								  '2147483648', '-2147483649', '1.5', '1e20',
								  '-0')::numeric);
	ELSE
		RETURN fuzz.pick('true', 'false', 'null', '[]', '{}', '[1, 2]',
						 '{"a": 1}', '"2024-02-30"', '"2030-01-01"',
						 '"infinity"')::jsonb;
	END IF;
END $$;

-- jsonb for allocation.handle: messages of each type with random fields
-- (missing, NULL, of the wrong JSON type, out of range), a message_id that
-- repeats, unknown types, non-objects, and text that is not JSON at all
-- (refused by PostgreSQL in the input phase).
CREATE FUNCTION fuzz.gen_jsonb() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	msg jsonb;
	k text;
BEGIN
	IF r < 0.05 THEN
		RETURN 'NULL';
	ELSIF r < 0.80 THEN
		msg := jsonb_build_object(
			'type', fuzz.pick('Allocate', 'CreateBatch', 'ChangeBatchQuantity',
							  'Deallocate', 'Allocate', 'CreateBatch',
							  'allocate', 'Unknown', ''),
			'orderid', fuzz.gen_json_value(),
			'sku', fuzz.gen_json_value(),
			'ref', fuzz.gen_json_value(),
			'qty', fuzz.gen_json_value(),
			'eta', fuzz.gen_json_value(),
			'message_id', to_jsonb(fuzz.pick('m-1', 'm-2', 'm-3', 'm-' || fuzz.rand_int(1, 1000000))));
		-- well-formed values most of the time, so that messages run
		IF random() < 0.6 THEN
			msg := msg || jsonb_build_object(
				'orderid', fuzz.pick('o-1', 'o-2', 'ORD-1'),
				'sku', fuzz.pick('SKU-1', 'SKU-2', 'SKU-3', 'SKU-NEW'),
				'ref', fuzz.pick('b-1', 'b-2', 'b-new', 'b-' || fuzz.rand_int(1, 100000)),
				'qty', fuzz.rand_int(1, 10),
				'eta', fuzz.pick('2030-01-01', '2031-06-15'));
		END IF;
		FOREACH k IN ARRAY ARRAY['type', 'orderid', 'sku', 'ref', 'qty', 'eta', 'message_id'] LOOP
			IF random() < 0.12 THEN
				msg := msg - k;
			ELSIF random() < 0.04 THEN
				msg := jsonb_set(msg, ARRAY[k], 'null');
			END IF;
		END LOOP;
		RETURN quote_literal(msg::text);
	ELSIF r < 0.92 THEN
		RETURN quote_literal(fuzz.pick('{}', '[]', 'null', '1', '"Allocate"',
									   '{"type": null}', '{"type": 1}',
									   '{"type": ["Allocate"]}',
									   '[{"type": "Allocate"}]',
									   '{"type": "Allocate", "type": "Deallocate"}',
									   '{"type": "Allocate", "qty": 1e400}'));
	ELSE
		RETURN quote_literal(fuzz.pick('{', '{"type":}', '[1, 2', '',
									   '{"type": "Allocate", "sku": "\u0000"}',
									   repeat('[', 100000), 'NaN', '{''a'': 1}'));
	END IF;
END $$;

-- Any other type: NULL, or a random text literal cast to it.
CREATE FUNCTION fuzz.gen_other() RETURNS text
LANGUAGE sql VOLATILE AS $$
	SELECT CASE WHEN random() < 0.5 THEN 'NULL' ELSE fuzz.gen_text() END
$$;

-- A plausible value for a parameter, by its name: mostly valid, drawn from
-- the seeded state, so that "plausible" calls go deep into the commands
-- instead of stopping at the argument checks.  NULL when the name is not
-- known here (the type's generator is used then).
CREATE FUNCTION fuzz.gen_plausible(argname text, typ regtype) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	lines text[];
BEGIN
	CASE argname
		WHEN 'orderid' THEN
			RETURN quote_literal(fuzz.pick('o-1', 'o-2', 'ORD-1', 'ORD-2', 'ORD-3',
										   'o-' || fuzz.rand_int(1, 40)));
		WHEN 'sku' THEN
			RETURN quote_literal(fuzz.pick('SKU-1', 'SKU-2', 'SKU-3', 'SKU-NEW'));
		WHEN 'ref' THEN
			RETURN quote_literal(fuzz.pick('b-1', 'b-2', 'b-3', 'b-4',
										   'b-' || fuzz.rand_int(1, 30)));
		WHEN 'qty' THEN
			RETURN fuzz.rand_int(0, 25)::text;
		WHEN 'eta' THEN
			RETURN fuzz.pick('NULL', 'current_date + ' || fuzz.rand_int(0, 30));
		WHEN 'email' THEN
			RETURN quote_literal(fuzz.pick('a@b.co', 'x.y@example.org', 'Someone@Example.ORG'));
		WHEN 'status' THEN
			RETURN quote_literal(fuzz.pick('created', 'allocated', 'backordered',
										   'shipped', 'delivered', 'cancelled'));
		WHEN 'event_type' THEN
			RETURN quote_literal(fuzz.pick('Allocated', 'Deallocated', 'OutOfStock',
										   'BatchCreated', 'BatchQuantityChanged',
										   'OrderCreated', 'OrderStatusChanged'));
		WHEN 'handler' THEN
			RETURN quote_literal(fuzz.pick('fuzz.good_handler(jsonb)', 'fuzz.bad_handler(jsonb)'));
		WHEN 'consumer' THEN
			RETURN quote_literal(fuzz.pick('c1', 'c2', 'relay'));
		WHEN 'max_events' THEN
			RETURN fuzz.rand_int(0, 200)::text;
		WHEN 'last_event' THEN
			RETURN '(SELECT id FROM allocation.outbox ORDER BY random() LIMIT 1)';
		WHEN 'message' THEN
			RETURN quote_literal(jsonb_build_object(
				'type', fuzz.pick('Allocate', 'CreateBatch', 'ChangeBatchQuantity', 'Deallocate'),
				'orderid', fuzz.pick('o-1', 'o-2', 'ORD-1', 'o-' || fuzz.rand_int(1, 40)),
				'sku', fuzz.pick('SKU-1', 'SKU-2', 'SKU-3'),
				'ref', 'b-' || fuzz.rand_int(1, 30),
				'qty', fuzz.rand_int(1, 10),
				'message_id', 'pm-' || fuzz.rand_int(1, 50))::text);
		WHEN 'lines' THEN
			FOR i IN 1..fuzz.rand_int(1, 5) LOOP
				lines := lines || format('ROW(%L, %L, %s)::allocation.order_line',
										 fuzz.pick('o-1', 'o-2', 'ORD-1', 'o-' || fuzz.rand_int(1, 40)),
										 fuzz.pick('SKU-1', 'SKU-2', 'SKU-3'),
										 fuzz.rand_int(1, 6));
			END LOOP;
			RETURN 'ARRAY[' || array_to_string(lines, ', ') || ']';
		ELSE
			IF typ = 'boolean'::regtype THEN
				RETURN fuzz.pick('true', 'false');
			END IF;
			RETURN NULL;
	END CASE;
END $$;

-- An expression of type typ (a regtype), by its kind.
CREATE FUNCTION fuzz.gen_for(typ regtype, depth int DEFAULT 0) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	t pg_type;
	e text;
	parts text[];
	n int;
	a record;
BEGIN
	SELECT * INTO t FROM pg_type WHERE oid = typ;
	IF t.typcategory = 'A' AND t.typelem <> 0 THEN
		-- arrays: NULL, empty, a NULL element, a few elements, sometimes
		-- a long array, or a malformed array literal
		IF random() < 0.07 OR depth > 1 THEN
			RETURN 'NULL';
		ELSIF random() < 0.08 THEN
			RETURN quote_literal(fuzz.pick('{}', '{NULL}', '{"(a,b"}', '{(,,)}', '{', '{"(o-1,SKU-1,1)"}'));
		END IF;
		n := CASE WHEN random() < 0.03 THEN 400 ELSE fuzz.rand_int(1, 4) END;
		FOR i IN 1..n LOOP
			parts := parts || fuzz.gen_for(t.typelem::regtype, depth + 1);
		END LOOP;
		RETURN 'ARRAY[' || array_to_string(
			ARRAY(SELECT format('(%s)::%s', p, t.typelem::regtype) FROM unnest(parts) p),
			', ') || ']';
	ELSIF t.typtype = 'c' THEN
		-- composite: NULL, or a ROW of fields from their own generators
		IF random() < 0.05 THEN
			RETURN 'NULL';
		END IF;
		FOR a IN SELECT atttypid FROM pg_attribute
				  WHERE attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped
				  ORDER BY attnum LOOP
			parts := parts || format('(%s)::%s', fuzz.gen_for(a.atttypid::regtype, depth + 1),
									 a.atttypid::regtype);
		END LOOP;
		RETURN 'ROW(' || array_to_string(parts, ', ') || ')';
	END IF;
	e := CASE typ
		WHEN 'text'::regtype THEN fuzz.gen_text()
		WHEN 'character varying'::regtype THEN fuzz.gen_text()
		WHEN 'name'::regtype THEN fuzz.gen_text()
		WHEN 'integer'::regtype THEN fuzz.gen_int()
		WHEN 'smallint'::regtype THEN fuzz.gen_int()
		WHEN 'bigint'::regtype THEN fuzz.gen_bigint()
		WHEN 'double precision'::regtype THEN fuzz.gen_float()
		WHEN 'numeric'::regtype THEN fuzz.gen_float()
		WHEN 'date'::regtype THEN fuzz.gen_date()
		WHEN 'timestamp with time zone'::regtype THEN fuzz.gen_date()
		WHEN 'boolean'::regtype THEN fuzz.gen_bool()
		WHEN 'uuid'::regtype THEN fuzz.gen_uuid()
		WHEN 'jsonb'::regtype THEN fuzz.gen_jsonb()
		WHEN 'json'::regtype THEN fuzz.gen_jsonb()
		WHEN 'regprocedure'::regtype THEN fuzz.gen_regprocedure()
		ELSE fuzz.gen_other()
	END;
	RETURN e;
END $$;

-- The functions to call: every function and procedure of schema allocation
-- that SQL can call (not trigger functions, no pseudo-type argument).
CREATE TABLE fuzz.functions AS
SELECT p.oid::regprocedure AS fn, p.proname, p.prokind, p.proretset,
	   p.pronargs, p.pronargdefaults,
	   ARRAY(SELECT t::regtype FROM unnest(p.proargtypes::oid[]) t) AS argtypes,
	   coalesce(p.proargnames, ARRAY[]::text[]) AS argnames
  FROM pg_proc p
 WHERE p.pronamespace = 'allocation'::regnamespace
   AND p.prokind IN ('f', 'p')
   AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
   AND NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[]) t
					 JOIN pg_type ty ON ty.oid = t
					WHERE ty.typtype = 'p')
 ORDER BY p.oid;

-- The roles a call runs as (created by sql_fuzz.sh): the superuser most
-- rarely, a member of neither role sometimes.
CREATE TABLE fuzz.roles (role text, weight int);
INSERT INTO fuzz.roles VALUES
	(current_user, 2), ('allocation_fuzz_admin', 4), ('allocation_fuzz_user', 3),
	('allocation_fuzz_nobody', 1);

-- Seeded state: products, batches, lines, orders, a subscriber, a consumer,
-- plugins, so that random calls meet real rows.
DO $seed$
BEGIN
	PERFORM allocation.add_batch('b-1', 'SKU-1', 20);
	PERFORM allocation.add_batch('b-2', 'SKU-1', 20, current_date + 10);
	PERFORM allocation.add_batch('b-3', 'SKU-2', 5, current_date + 3);
	PERFORM allocation.add_batch('b-4', 'SKU-3', 1000);
	PERFORM allocation.create_order('ORD-1');
	PERFORM allocation.create_order('ORD-2');
	PERFORM allocation.subscribe_to_order('ORD-1', 'a@b.co');
	PERFORM allocation.allocate('ORD-1', 'SKU-1', 3);
	PERFORM allocation.allocate('o-1', 'SKU-2', 2);
	PERFORM allocation.subscribe('Allocated', 'fuzz.good_handler(jsonb)');
	PERFORM allocation.subscribe('OutOfStock', 'fuzz.bad_handler(jsonb)');
	PERFORM allocation.register_consumer('c1');
END
$seed$;

DO $fuzz$
DECLARE
	deadline timestamptz := clock_timestamp()
		+ make_interval(secs => current_setting('fuzz.seconds')::int);
	ncalls int := current_setting('fuzz.calls')::int;
	nfns int;
	f record;
	role text;
	args text[];
	nargs int;
	casts text;
	sql text;
	plausible boolean;
	e text;
	phase text;
	state text;
	msg text;
BEGIN
	PERFORM setseed(current_setting('fuzz.seed')::float8);
	SELECT count(*) INTO nfns FROM fuzz.functions;
	FOR i IN 1..ncalls LOOP
		EXIT WHEN clock_timestamp() > deadline;
		SELECT * INTO f FROM fuzz.functions ORDER BY fn::oid OFFSET floor(random() * nfns) LIMIT 1;
		-- half of the calls are plausible: valid-looking arguments by name,
		-- as a member of allocation_admin or the superuser
		plausible := random() < 0.5;
		IF plausible AND random() < 0.8 THEN
			role := fuzz.pick('allocation_fuzz_admin', current_user::text);
		ELSE
			SELECT r.role INTO role FROM fuzz.roles r, generate_series(1, r.weight)
			 ORDER BY random() LIMIT 1;
		END IF;

		-- arguments; trailing defaults left out a third of the time
		nargs := f.pronargs;
		IF f.pronargdefaults > 0 AND random() < 0.33 THEN
			nargs := nargs - fuzz.rand_int(1, f.pronargdefaults);
		END IF;
		args := ARRAY[]::text[];
		FOR j IN 1..nargs LOOP
			e := NULL;
			IF plausible AND random() < 0.9 THEN
				e := fuzz.gen_plausible(f.argnames[j], f.argtypes[j]);
			END IF;
			args := args || format('(%s)::%s', coalesce(e, fuzz.gen_for(f.argtypes[j])),
								   f.argtypes[j]);
		END LOOP;
		casts := array_to_string(args, ', ');
		IF f.prokind = 'p' THEN
			sql := format('CALL %s.%I(%s)', 'allocation', f.proname, casts);
		ELSIF f.proretset THEN
			sql := format('SELECT count(*) FROM %s.%I(%s)', 'allocation', f.proname, casts);
		ELSE
			sql := format('SELECT %s.%I(%s)', 'allocation', f.proname, casts);
		END IF;

		state := NULL;
		msg := NULL;
		phase := 'input';
		BEGIN
			IF nargs > 0 THEN
				EXECUTE 'SELECT ' || casts;
			END IF;
			phase := 'call';
			EXECUTE format('SET ROLE %I', role);
			EXECUTE sql;
			EXECUTE 'RESET ROLE';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		END;
		INSERT INTO fuzz.calls (fn, role, plausible, phase, sqlstate, message, call)
		VALUES (f.fn, role, plausible, phase, state, left(msg, 300), left(sql, 400));
		IF i % 25 = 0 THEN
			COMMIT;
		END IF;
	END LOOP;
END
$fuzz$;
