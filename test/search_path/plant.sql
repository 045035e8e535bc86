--
-- test/search_path/plant.sql - the hostile schema of the search_path class
-- test (scripts/extra-tests/search_path.sh).
--
-- Run by psql as a superuser, in a database without the extension (the
-- template of the test's databases).  Role sp_mallory, unprivileged, owns
-- schema sp_evil and creates in it, for every name our SQL uses:
--
--   exact shadows   the same signature as each pg_catalog function,
--                   aggregate and operator of that name: they win when
--                   sp_evil comes before pg_catalog in search_path;
--   mixed shadows   signatures over common types (and their arrays) for
--                   which pg_catalog has no exact match but resolves the
--                   call through a coercion or a polymorphic or variadic
--                   candidate: an exact match beats those, so these win
--                   even when sp_evil comes AFTER pg_catalog;
--   type shadows    a domain over each pg_catalog type named in our SQL,
--                   whose CHECK runs a shadow (a cast to an unqualified
--                   type name under a hostile search_path).
--
-- Every shadow calls sp_evil.hit(what): nextval('sp_evil.hits') (a
-- sequence: a shadow that ran in a command rolled back is still counted)
-- and a WARNING "sp-hit: <what> as <current_user> ..." for the report.
-- Then it does what the pg_catalog original does, where it can, so the
-- command goes on.  An argument type "unknown" cannot be declared by a
-- SQL or PL function: calls with a literal are covered by the pairs
-- (T, T) of the mixed shadows.
--
-- Input: the tables sp_evil.words (w) and sp_evil.ops (op), filled by the
-- caller from the text of our SQL; dropped at the end.
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET search_path = pg_catalog;
SET check_function_bodies = on;

SET ROLE sp_mallory;

CREATE SEQUENCE sp_evil.hits;
GRANT USAGE ON SCHEMA sp_evil TO PUBLIC;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE sp_evil.hits TO PUBLIC;

-- what an attacker's function would do, once it runs: here, count and tell
CREATE FUNCTION sp_evil.hit(what text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM nextval('sp_evil.hits');
	RAISE WARNING 'sp-hit: % as % (session user %)', what, current_user, session_user;
END
$$;
CREATE FUNCTION sp_evil.hit_check(what text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM sp_evil.hit(what);
	RETURN true;
END
$$;

-- the common types of the mixed shadows
CREATE TABLE sp_evil.common_types (t regtype PRIMARY KEY);
INSERT INTO sp_evil.common_types
SELECT unnest(ARRAY['int2', 'int4', 'int8', 'numeric', 'float8', 'text', 'varchar',
	'bpchar', 'name', 'bool', 'date', 'timestamp', 'timestamptz', 'interval', 'jsonb',
	'json', 'uuid', 'tid', 'oid', 'regrole', 'regprocedure', 'regclass', 'bytea',
	'"char"', 'xid8', 'text[]', 'int4[]', 'int8[]', 'jsonb[]', 'uuid[]']::regtype[]);
-- the types an "any" argument gets in mixed shadows (fewer: they multiply)
CREATE TABLE sp_evil.any_types (t regtype PRIMARY KEY);
INSERT INTO sp_evil.any_types
SELECT unnest(ARRAY['int4', 'int8', 'numeric', 'text', 'varchar', 'bool', 'date',
	'timestamptz', 'jsonb', 'uuid', 'oid', 'text[]']::regtype[]);


-- argtypes(proargtypes): as a 1-based array
CREATE FUNCTION sp_evil.argtypes(a oidvector) RETURNS regtype[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$ SELECT COALESCE(array_agg(x::regtype ORDER BY i), '{}') FROM unnest($1::oid[]) WITH ORDINALITY u(x, i) $$;

-- plant_aggregate(name, argument types, result type, what): an aggregate
-- whose state is its result; the transition function does what the
-- original does where it can (count, max, min, bool_or, ... of one type),
-- and the final function, which runs even over no row, counts the hit
CREATE FUNCTION sp_evil.plant_aggregate(name text, argtypes regtype[], rettype regtype, what text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	tag text := left(md5(what), 16);
BEGIN
	IF cardinality(argtypes) = 0 THEN		-- count(*)
		EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
					   'aggs_' || tag, rettype, rettype, 'SELECT $1 OPERATOR(pg_catalog.+) 1');
		EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
					   'aggf_' || tag, rettype, rettype,
					   format('SELECT sp_evil.hit(%L); SELECT $1', what));
		EXECUTE format('CREATE AGGREGATE sp_evil.%I(*) (SFUNC = sp_evil.%I, STYPE = %s, INITCOND = %L, FINALFUNC = sp_evil.%I)',
					   name, 'aggs_' || tag, rettype, '0', 'aggf_' || tag);
		RETURN;
	END IF;
	BEGIN
		EXECUTE format('CREATE FUNCTION sp_evil.%I(%s, %s) RETURNS %s LANGUAGE sql AS %L',
					   'aggs_' || tag, rettype, array_to_string(argtypes, ', '), rettype,
					   CASE WHEN name = 'count'
							THEN 'SELECT COALESCE($1, 0) OPERATOR(pg_catalog.+) CASE WHEN $2 IS NULL THEN 0 ELSE 1 END'
							WHEN cardinality(argtypes) = 1
							THEN format('SELECT pg_catalog.%I(x) FROM (VALUES ($1), ($2)) v(x)', name)
							ELSE 'SELECT $1' END);
	EXCEPTION WHEN OTHERS THEN
		-- no such delegation (sum(integer) is bigint, say): the state stays
		EXECUTE format('CREATE FUNCTION sp_evil.%I(%s, %s) RETURNS %s LANGUAGE sql AS %L',
					   'aggs_' || tag, rettype, array_to_string(argtypes, ', '), rettype, 'SELECT $1');
	END;
	EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
				   'aggf_' || tag, rettype, rettype, format('SELECT sp_evil.hit(%L); SELECT $1', what));
	EXECUTE format('CREATE AGGREGATE sp_evil.%I(%s) (SFUNC = sp_evil.%I, STYPE = %s, FINALFUNC = sp_evil.%I)',
				   name, array_to_string(argtypes, ', '), 'aggs_' || tag, rettype, 'aggf_' || tag);
END
$$;

-- coercible_to(t): the types a mixed shadow may take where pg_catalog
-- declares t: t itself and the common types with an implicit cast to it;
-- any common type for a polymorphic position (arrays for an array one),
-- the "any" types for "any"
CREATE FUNCTION sp_evil.coercible_to(t regtype) RETURNS SETOF regtype
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.t FROM sp_evil.any_types c WHERE $1 = '"any"'::regtype
	UNION
	SELECT c.t FROM sp_evil.common_types c
	 WHERE $1 IN ('anyelement', 'anynonarray', 'anycompatible', 'anycompatiblenonarray', 'anyenum')
	   AND NOT EXISTS (SELECT FROM pg_type e WHERE e.oid = c.t AND e.typcategory = 'A')
	UNION
	SELECT c.t FROM sp_evil.common_types c
	 WHERE $1 IN ('anyarray', 'anycompatiblearray')
	   AND EXISTS (SELECT FROM pg_type e WHERE e.oid = c.t AND e.typcategory = 'A')
	UNION
	SELECT $1 FROM pg_type e WHERE e.oid = $1 AND e.typtype <> 'p'
	UNION
	SELECT c.t FROM sp_evil.common_types c JOIN pg_cast k ON k.castsource = c.t
	 WHERE k.casttarget = $1 AND k.castcontext = 'i'
$$;

-- candidate_tuples(name, k): argument type tuples of k arguments for a
-- mixed shadow of name, without pg_catalog's own signatures
CREATE FUNCTION sp_evil.candidate_tuples(name text, k integer) RETURNS TABLE (tuple regtype[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	j		integer;
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS sp_tuples (tuple regtype[]);
	TRUNCATE sp_tuples;
	INSERT INTO sp_tuples VALUES ('{}');
	FOR j IN 1 .. k LOOP
		CREATE TEMP TABLE IF NOT EXISTS sp_pos (t regtype);
		TRUNCATE sp_pos;
		INSERT INTO sp_pos
		SELECT DISTINCT c
		  FROM pg_proc f,
			   LATERAL (SELECT CASE WHEN f.provariadic <> 0 AND j >= f.pronargs
									THEN f.provariadic::regtype
									ELSE (f.proargtypes::regtype[])[j - 1] END AS t) d,
			   LATERAL sp_evil.coercible_to(d.t) c
		 WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.proname = name
		   AND f.prokind IN ('f', 'a')
		   AND (f.pronargs = k OR (f.provariadic <> 0 AND k >= f.pronargs));
		CREATE TEMP TABLE sp_next AS SELECT s.tuple || p.t AS tuple FROM sp_tuples s, sp_pos p;
		TRUNCATE sp_tuples;
		INSERT INTO sp_tuples SELECT * FROM sp_next;
		DROP TABLE sp_next;
	END LOOP;
	RETURN QUERY
	SELECT s.tuple FROM sp_tuples s
	 WHERE NOT EXISTS (SELECT FROM pg_proc f
						WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.proname = name
						  AND sp_evil.argtypes(f.proargtypes) = s.tuple)
	 ORDER BY s.tuple::text
	 LIMIT 400;
END
$$;

-- srf_result(query): the result clause of a set-returning function that
-- gives what query gives (a temporary view says, without running it)
CREATE FUNCTION sp_evil.srf_result(query text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r text;
BEGIN
	EXECUTE 'CREATE TEMP VIEW sp_probe AS ' || query;
	SELECT CASE WHEN count(*) = 1 THEN 'SETOF ' || min(a.atttypid::regtype::text)
				ELSE 'TABLE(' || string_agg(format('%I %s', a.attname, a.atttypid::regtype), ', '
											ORDER BY a.attnum) || ')' END
	  INTO r
	  FROM pg_attribute a WHERE a.attrelid = 'pg_temp.sp_probe'::regclass AND a.attnum > 0;
	DROP VIEW pg_temp.sp_probe;
	RETURN r;
END
$$;

CREATE TABLE sp_evil.planted (kind text, name text, signature text, created boolean, error text);

DO $plant$
DECLARE
	p			record;
	o			record;
	n			integer := 0;
	ok			boolean;
	err			text;
	args		text;
	callargs	text;
	body		text;
	what		text;
	fname		text;
	rtype		text;
	tuple		regtype[];
BEGIN
	------------------------------------------------------------------
	-- exact shadows of functions
	------------------------------------------------------------------
	FOR p IN SELECT f.oid, f.proname, f.pronargs, f.provariadic, f.proretset,
					f.proargmodes, pg_get_function_arguments(f.oid) AS args,
					pg_get_function_result(f.oid) AS result,
					f.oid::regprocedure::text AS sig
			   FROM pg_proc f
			  WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.prokind = 'f'
				AND f.proname IN (SELECT w FROM sp_evil.words)
			  ORDER BY f.oid LOOP
		what := 'function ' || p.sig;
		SELECT string_agg(CASE WHEN i = p.pronargs AND p.provariadic <> 0 THEN 'VARIADIC ' ELSE '' END
						  || '$' || i, ', ' ORDER BY i)
		  INTO callargs FROM generate_series(1, p.pronargs) i;
		body := format('SELECT sp_evil.hit(%L); SELECT %s pg_catalog.%I(%s)', what,
					   CASE WHEN p.proretset OR p.proargmodes IS NOT NULL THEN '* FROM' ELSE '' END,
					   p.proname, COALESCE(callargs, ''));
		BEGIN
			EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
						   p.proname, p.args, p.result, body);
			INSERT INTO sp_evil.planted VALUES ('function', p.proname, p.sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO sp_evil.planted VALUES ('function', p.proname, p.sig, false, SQLERRM);
		END;
	END LOOP;

	------------------------------------------------------------------
	-- exact shadows of (plain) aggregates: the state is the result type;
	-- the final function counts the hit (it runs even over no row)
	------------------------------------------------------------------
	FOR p IN SELECT f.oid, f.proname, f.pronargs, sp_evil.argtypes(f.proargtypes) AS argtypes,
					f.prorettype::regtype AS rettype, f.oid::regprocedure::text AS sig
			   FROM pg_proc f JOIN pg_aggregate a ON a.aggfnoid = f.oid
			  WHERE f.pronamespace = 'pg_catalog'::regnamespace AND a.aggkind = 'n'
				AND f.proname IN (SELECT w FROM sp_evil.words)
			  ORDER BY f.oid LOOP
		BEGIN
			PERFORM sp_evil.plant_aggregate(p.proname, p.argtypes, p.rettype, 'aggregate ' || p.sig);
			INSERT INTO sp_evil.planted VALUES ('aggregate', p.proname, p.sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO sp_evil.planted VALUES ('aggregate', p.proname, p.sig, false, SQLERRM);
		END;
	END LOOP;

	------------------------------------------------------------------
	-- exact shadows of operators
	------------------------------------------------------------------
	FOR o IN SELECT op.oid, op.oprname, op.oprleft::regtype AS l, op.oprright::regtype AS r,
					op.oprresult::regtype AS res, f.proname AS code,
					op.oid::regoperator::text AS sig
			   FROM pg_operator op JOIN pg_proc f ON f.oid = op.oprcode
			  WHERE op.oprnamespace = 'pg_catalog'::regnamespace
				AND op.oprname IN (SELECT s.op FROM sp_evil.ops s)
			  ORDER BY op.oid LOOP
		what := 'operator ' || o.sig;
		fname := 'op_' || o.oid;
		BEGIN
			IF o.l = 0 THEN
				EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
							   fname, o.r, o.res,
							   format('SELECT sp_evil.hit(%L); SELECT pg_catalog.%I($1)', what, o.code));
				EXECUTE format('CREATE OPERATOR sp_evil.%s (RIGHTARG = %s, FUNCTION = sp_evil.%I)',
							   o.oprname, o.r, fname);
			ELSE
				EXECUTE format('CREATE FUNCTION sp_evil.%I(%s, %s) RETURNS %s LANGUAGE sql AS %L',
							   fname, o.l, o.r, o.res,
							   format('SELECT sp_evil.hit(%L); SELECT pg_catalog.%I($1, $2)', what, o.code));
				EXECUTE format('CREATE OPERATOR sp_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = sp_evil.%I)',
							   o.oprname, o.l, o.r, fname);
			END IF;
			INSERT INTO sp_evil.planted VALUES ('operator', o.oprname, o.sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			-- PL/pgSQL takes what SQL functions cannot (record)
			BEGIN
				IF o.l = 0 THEN
					RAISE EXCEPTION 'prefix';
				END IF;
				EXECUTE format('CREATE FUNCTION sp_evil.%I(%s, %s) RETURNS %s LANGUAGE plpgsql AS %L',
							   fname, o.l, o.r, o.res,
							   format('BEGIN PERFORM sp_evil.hit(%L); RETURN pg_catalog.%I($1, $2); END', what, o.code));
				EXECUTE format('CREATE OPERATOR sp_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = sp_evil.%I)',
							   o.oprname, o.l, o.r, fname);
				INSERT INTO sp_evil.planted VALUES ('operator', o.oprname, o.sig, true, NULL);
			EXCEPTION WHEN OTHERS THEN
				INSERT INTO sp_evil.planted VALUES ('operator', o.oprname, o.sig, false, SQLERRM);
			END;
		END;
	END LOOP;

	------------------------------------------------------------------
	-- mixed shadows of operators: (L, R) over the common types where
	-- pg_catalog has no exact operator but resolves "L op R" (the probe)
	------------------------------------------------------------------
	FOR o IN SELECT s.op, l.t AS l, r.t AS r
			   FROM (SELECT DISTINCT op.oprname AS op FROM pg_operator op
					  WHERE op.oprnamespace = 'pg_catalog'::regnamespace
						AND op.oprname IN (SELECT s.op FROM sp_evil.ops s)) s
			  CROSS JOIN (SELECT NULL::regtype AS t UNION ALL SELECT t FROM sp_evil.common_types) l
			  CROSS JOIN sp_evil.common_types r
			  WHERE NOT EXISTS (SELECT FROM pg_operator x
								 WHERE x.oprnamespace = 'pg_catalog'::regnamespace
								   AND x.oprname = s.op AND x.oprleft = COALESCE(l.t, 0)
								   AND x.oprright = r.t)
			  ORDER BY 1, 2, 3 LOOP
		BEGIN
			EXECUTE format('SELECT pg_typeof(CASE WHEN false THEN %s OPERATOR(pg_catalog.%s) NULL::%s END)::text',
						   CASE WHEN o.l IS NULL THEN '' ELSE format('NULL::%s', o.l) END, o.op, o.r)
			   INTO rtype;
		EXCEPTION WHEN OTHERS THEN
			CONTINUE;	-- pg_catalog cannot do it either: our SQL cannot use it
		END;
		n := n + 1;
		fname := 'opm_' || n;
		what := format('operator %s(%s, %s) (mixed)', o.op, COALESCE(o.l::text, 'NONE'), o.r);
		BEGIN
			IF o.l IS NULL THEN
				EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
							   fname, o.r, rtype,
							   format('SELECT sp_evil.hit(%L); SELECT OPERATOR(pg_catalog.%s) $1', what, o.op));
				EXECUTE format('CREATE OPERATOR sp_evil.%s (RIGHTARG = %s, FUNCTION = sp_evil.%I)',
							   o.op, o.r, fname);
			ELSE
				EXECUTE format('CREATE FUNCTION sp_evil.%I(%s, %s) RETURNS %s LANGUAGE sql AS %L',
							   fname, o.l, o.r, rtype,
							   format('SELECT sp_evil.hit(%L); SELECT $1 OPERATOR(pg_catalog.%s) $2', what, o.op));
				EXECUTE format('CREATE OPERATOR sp_evil.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = sp_evil.%I)',
							   o.op, o.l, o.r, fname);
			END IF;
			INSERT INTO sp_evil.planted VALUES ('mixed operator', o.op, what, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO sp_evil.planted VALUES ('mixed operator', o.op, what, false, SQLERRM);
		END;
	END LOOP;

	------------------------------------------------------------------
	-- mixed shadows of functions and aggregates: per name and number of
	-- arguments (variadic ones up to 3), each position takes the types
	-- that coerce implicitly to a candidate's type there (any common type
	-- for a polymorphic or "any" position); the tuples pg_catalog has
	-- exactly are left out, the others are probed
	------------------------------------------------------------------
	FOR p IN SELECT f.proname, k.k,
					bool_or(f.proretset) AS retset, bool_or(f.prokind = 'a') AS agg
			   FROM pg_proc f
			  CROSS JOIN LATERAL generate_series(f.pronargs,
					CASE WHEN f.provariadic <> 0 THEN greatest(f.pronargs, 3) ELSE f.pronargs END) k(k)
			  WHERE f.pronamespace = 'pg_catalog'::regnamespace AND f.prokind IN ('f', 'a')
				AND f.proname IN (SELECT w FROM sp_evil.words)
				AND k.k BETWEEN 1 AND 3
				AND NOT EXISTS (SELECT FROM pg_aggregate a WHERE a.aggfnoid = f.oid AND a.aggkind <> 'n')
			  GROUP BY 1, 2 ORDER BY 1, 2 LOOP
		FOR tuple IN SELECT t.tuple FROM sp_evil.candidate_tuples(p.proname, p.k) t LOOP
			callargs := (SELECT string_agg(format('NULL::%s', x), ', ') FROM unnest(tuple) x);
			BEGIN
				IF p.retset THEN
					rtype := sp_evil.srf_result(format('SELECT * FROM pg_catalog.%I(%s)', p.proname, callargs));
				ELSE
					EXECUTE format('SELECT pg_typeof(CASE WHEN false THEN pg_catalog.%I(%s) END)::text',
								   p.proname, callargs) INTO rtype;
				END IF;
			EXCEPTION WHEN OTHERS THEN
				CONTINUE;
			END;
			what := format('%s %s(%s) (mixed)', CASE WHEN p.agg THEN 'aggregate' ELSE 'function' END,
						   p.proname, array_to_string(tuple, ', '));
			n := n + 1;
			BEGIN
				IF p.agg THEN
					PERFORM sp_evil.plant_aggregate(p.proname, tuple, rtype::regtype, what);
				ELSE
					SELECT string_agg('$' || i, ', ') INTO args FROM generate_series(1, p.k) i;
					EXECUTE format('CREATE FUNCTION sp_evil.%I(%s) RETURNS %s LANGUAGE sql AS %L',
								   p.proname, array_to_string(tuple, ', '), rtype,
								   format('SELECT sp_evil.hit(%L); SELECT %s pg_catalog.%I(%s)', what,
										  CASE WHEN p.retset THEN '* FROM' ELSE '' END, p.proname, args));
				END IF;
				INSERT INTO sp_evil.planted VALUES (CASE WHEN p.agg THEN 'mixed aggregate' ELSE 'mixed function' END,
													p.proname, what, true, NULL);
			EXCEPTION WHEN OTHERS THEN
				INSERT INTO sp_evil.planted VALUES (CASE WHEN p.agg THEN 'mixed aggregate' ELSE 'mixed function' END,
													p.proname, what, false, SQLERRM);
			END;
		END LOOP;
	END LOOP;

	------------------------------------------------------------------
	-- type shadows: domains over the pg_catalog types our SQL names
	------------------------------------------------------------------
	FOR p IN SELECT t.typname, t.oid::regtype::text AS sig
			   FROM pg_type t
			  WHERE t.typnamespace = 'pg_catalog'::regnamespace
				AND t.typtype IN ('b', 'e', 'r', 'm') AND t.typcategory <> 'P'
				AND t.typname IN (SELECT w FROM sp_evil.words)
			  ORDER BY 1 LOOP
		BEGIN
			EXECUTE format('CREATE DOMAIN sp_evil.%I AS pg_catalog.%I CHECK (sp_evil.hit_check(%L))',
						   p.typname, p.typname, 'type ' || p.sig || ' (domain)');
			INSERT INTO sp_evil.planted VALUES ('type', p.typname, p.sig, true, NULL);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO sp_evil.planted VALUES ('type', p.typname, p.sig, false, SQLERRM);
		END;
	END LOOP;
END
$plant$;

-- the helpers go; the shadows stay
DROP FUNCTION sp_evil.argtypes(oidvector), sp_evil.plant_aggregate(text, regtype[], regtype, text), sp_evil.coercible_to(regtype),
	sp_evil.candidate_tuples(text, integer), sp_evil.srf_result(text);
DROP TABLE sp_evil.words, sp_evil.ops, sp_evil.common_types, sp_evil.any_types;
RESET ROLE;
