-- router/test/shadow.sql: run by a role that owns schema public of the
-- router database (and nothing else).  From the bodies of the router's
-- functions (pg_proc.prosrc of the allocation_router extension's members)
-- it collects every operator symbol and function name they use, and
-- plants in public, for each: the same signatures as pg_catalog's, and
-- better-matching mixed-type ones (an operand or argument of a type that
-- pg_catalog's version would reach only by an implicit cast).  Each
-- shadow counts itself in sequence public.hits (not transactional) and
-- returns pg_catalog's result.
CREATE SEQUENCE public.hits;
GRANT USAGE, SELECT ON SEQUENCE public.hits TO PUBLIC;
DO $gen$
DECLARE
	src		text;
	types	text[] := ARRAY['smallint', 'integer', 'bigint', 'numeric', 'double precision', 'text',
							'character varying', 'name', 'character', '"char"', 'jsonb', 'json', 'boolean',
							'oid', 'regclass', 'uuid', 'date', 'timestamp with time zone', 'bytea',
							'integer[]', 'text[]', 'bigint[]'];
	op		text;
	l		text;
	r		text;
	rt		text;
	f		record;
	args	text[];
	calls	text[];
	variant	text[];
	n		integer := 0;
	nops	integer := 0;
	nfns	integer := 0;
BEGIN
	SELECT pg_catalog.string_agg(p.prosrc, E'\n') INTO src
	  FROM pg_catalog.pg_proc p
	  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid
	  JOIN pg_catalog.pg_extension e ON d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
									AND d.refobjid = e.oid AND d.deptype = 'e'
	 WHERE e.extname = 'allocation_router';
	-- operators: every run of operator characters, and its pieces
	FOR op IN
		SELECT DISTINCT c.s
		  FROM (SELECT m[1] AS s FROM pg_catalog.regexp_matches(src, '([-+*/<>=~!@#%^&|`?]+)', 'g') m) t,
			   LATERAL (SELECT pg_catalog.substr(t.s, i, k) AS s
						  FROM pg_catalog.generate_series(1, pg_catalog.length(t.s)) i,
							   pg_catalog.generate_series(1, 3) k) c
		 WHERE EXISTS (SELECT FROM pg_catalog.pg_operator o
						WHERE o.oprname = c.s AND o.oprnamespace = 'pg_catalog'::pg_catalog.regnamespace)
	LOOP
		nops := nops + 1;
		FOREACH l IN ARRAY ARRAY['NONE'] || types LOOP
			FOREACH r IN ARRAY types LOOP
				BEGIN
					IF l = 'NONE' THEN
						EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof(OPERATOR(pg_catalog.%s) NULL::%s)::text', op, r) INTO rt;
					ELSE
						EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof(NULL::%s OPERATOR(pg_catalog.%s) NULL::%s)::text', l, op, r) INTO rt;
					END IF;
				EXCEPTION WHEN OTHERS THEN
					CONTINUE;
				END;
				n := n + 1;
				IF l = 'NONE' THEN
					EXECUTE pg_catalog.format('CREATE FUNCTION public.shadow_op_%s(%s) RETURNS %s LANGUAGE sql AS %L',
						n, r, rt, pg_catalog.format('SELECT pg_catalog.nextval(''public.hits''::pg_catalog.regclass); SELECT OPERATOR(pg_catalog.%s) $1', op));
					EXECUTE pg_catalog.format('CREATE OPERATOR public.%s (RIGHTARG = %s, FUNCTION = public.shadow_op_%s)', op, r, n);
				ELSE
					EXECUTE pg_catalog.format('CREATE FUNCTION public.shadow_op_%s(%s, %s) RETURNS %s LANGUAGE sql AS %L',
						n, l, r, rt, pg_catalog.format('SELECT pg_catalog.nextval(''public.hits''::pg_catalog.regclass); SELECT $1 OPERATOR(pg_catalog.%s) $2', op));
					EXECUTE pg_catalog.format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.shadow_op_%s)', op, l, r, n);
				END IF;
			END LOOP;
		END LOOP;
	END LOOP;
	-- functions: every name followed by "(" that names a plain function of
	-- pg_catalog, allocation or allocation_router; each overload whose
	-- types this role can use, and variants with one argument of a type
	-- that reaches it by an implicit cast
	FOR f IN
		SELECT p.oid, p.proname, p.pronamespace::pg_catalog.regnamespace::text AS nsp, p.proretset,
			   pg_catalog.format_type(p.prorettype, NULL) AS ret,
			   ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM pg_catalog.unnest(p.proargtypes::oid[]) t) AS argt,
			   ARRAY(SELECT t FROM pg_catalog.unnest(p.proargtypes::oid[]) t) AS argoid
		  FROM pg_catalog.pg_proc p
		 WHERE p.prokind = 'f' AND p.provariadic = 0
		   AND p.pronamespace::pg_catalog.regnamespace::text IN ('pg_catalog', 'allocation', 'allocation_router')
		   AND p.proname IN (SELECT DISTINCT pg_catalog.lower(m[1])
							   FROM pg_catalog.regexp_matches(src, '([A-Za-z_][A-Za-z_0-9]*)\s*\(', 'g') m)
		   AND p.pronargs BETWEEN 0 AND 4
		   AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proargtypes::oid[]) t
							 JOIN pg_catalog.pg_type y ON y.oid = t
							WHERE y.typtype = 'p' OR y.typnamespace NOT IN ('pg_catalog'::pg_catalog.regnamespace))
		   AND (SELECT y.typtype <> 'p' OR y.typname = 'void' FROM pg_catalog.pg_type y WHERE y.oid = p.prorettype)
		   AND (SELECT y.typnamespace = 'pg_catalog'::pg_catalog.regnamespace FROM pg_catalog.pg_type y WHERE y.oid = p.prorettype)
	LOOP
		nfns := nfns + 1;
		calls := ARRAY(SELECT pg_catalog.format('$%s::%s', i, f.argt[i]) FROM pg_catalog.generate_series(1, pg_catalog.cardinality(f.argt)) i);
		FOR variant IN
			SELECT f.argt
			UNION
			SELECT f.argt[1:i - 1] || pg_catalog.format_type(c.castsource, NULL) || f.argt[i + 1:]
			  FROM pg_catalog.generate_series(1, pg_catalog.cardinality(f.argt)) i
			  JOIN pg_catalog.pg_cast c ON c.casttarget = f.argoid[i] AND c.castcontext = 'i'
			 WHERE pg_catalog.format_type(c.castsource, NULL) = ANY (types)
		LOOP
			n := n + 1;
			BEGIN
				EXECUTE pg_catalog.format('CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE sql AS %L',
					f.proname, pg_catalog.array_to_string(variant, ', '), CASE WHEN f.proretset THEN 'SETOF ' ELSE '' END, f.ret,
					pg_catalog.format('SELECT pg_catalog.nextval(''public.hits''::pg_catalog.regclass); SELECT %s',
						CASE WHEN f.nsp = 'pg_catalog'
							 THEN pg_catalog.format('pg_catalog.%I(%s)', f.proname, pg_catalog.array_to_string(calls, ', '))
							 ELSE pg_catalog.format('NULL::%s', f.ret) END));
			EXCEPTION WHEN duplicate_function THEN
				NULL;
			END;
		END LOOP;
	END LOOP;
	RAISE NOTICE 'shadows: % operator symbols, % functions, % objects', nops, nfns, n;
END
$gen$;
