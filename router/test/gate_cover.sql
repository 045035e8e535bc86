-- router/test/gate_cover.sql: every PL/Proxy function of the router gates
-- the partitions its RUN ON clause sends the call to.  Run by a superuser
-- on the router, with no other session locking the gates.
--
-- The RUN ON hashes take no gate of their own: only the function's
-- CLUSTER clause (evaluated first) does.  So a CLUSTER clause that names
-- the plain cluster, or gates another key than its hash reads (gate of
-- the order id, hash of the SKU), would send calls to a partition that a
-- move has paused, and nothing else would notice.
--
-- Generated: for each PL/Proxy function (CLUSTER, SPLIT and RUN ON read
-- from its body) and for each of 16 rotations, every argument gets a
-- value of a partition of its own (text: a key; integer: a partition; a
-- message with and without a SKU; lines of several partitions); in one
-- transaction the CLUSTER expression is evaluated, then the RUN ON
-- expression (once per element of a SPLIT array; ALL and ANY: every
-- partition), and each partition it names must be locked by this
-- transaction (its gate row's xmax).  Raises with the list of failures;
-- prints "gate_cover: <functions> functions, <cases> cases" otherwise.
DO $cover$
DECLARE
	mask	integer := (pg_catalog.pg_sequence_last_value('allocation_router.routing'::pg_catalog.regclass)
						OPERATOR(pg_catalog.&) 1023)::integer;
	keys	text[];
	f		record;
	clus	text;
	hash	text;
	split	text;
	vals	text[];
	hvals	text[];
	sel		text;
	hsel	text;
	parts	integer[];
	missed	integer[];
	bad		text[] := '{}';
	nfn		integer := 0;
	ncase	integer := 0;
	variant	integer;
BEGIN
	-- keys[p + 1]: a key of partition p
	SELECT pg_catalog.array_agg(k ORDER BY p) INTO keys
	  FROM (SELECT DISTINCT ON (allocation.partition_of(k)) allocation.partition_of(k) AS p, k
			  FROM (SELECT 'GC-' || i AS k FROM pg_catalog.generate_series(1, 2000) i) x
			 ORDER BY allocation.partition_of(k), k) y;
	IF pg_catalog.cardinality(keys) <> mask + 1 THEN
		RAISE EXCEPTION 'gate_cover: no key found for some partition (% of %)', pg_catalog.cardinality(keys), mask + 1;
	END IF;
	FOR f IN
		SELECT p.oid::pg_catalog.regprocedure AS fn, p.prosrc,
			   ARRAY(SELECT pg_catalog.format_type(t, NULL) FROM pg_catalog.unnest(p.proargtypes::oid[]) t) AS argt,
			   COALESCE(p.proargnames[1:p.pronargs], '{}') AS argn
		  FROM pg_catalog.pg_proc p
		  JOIN pg_catalog.pg_language l ON l.oid = p.prolang AND l.lanname = 'plproxy'
		  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e'
		  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation_router'
		 ORDER BY 1
	LOOP
		nfn := nfn + 1;
		clus := pg_catalog.btrim((pg_catalog.regexp_match(f.prosrc, 'CLUSTER\s+([^;]+);', 'i'))[1]);
		hash := pg_catalog.btrim((pg_catalog.regexp_match(f.prosrc, 'RUN\s+ON\s+([^;]+);', 'i'))[1]);
		split := pg_catalog.btrim((pg_catalog.regexp_match(f.prosrc, 'SPLIT\s+([^;]+);', 'i'))[1]);
		IF hash IS NULL THEN
			bad := bad || pg_catalog.format('%s: no RUN ON clause', f.fn);
			CONTINUE;
		END IF;
		FOR rot IN 0 .. mask LOOP
			-- message arguments: with a SKU (rotation even) or without (odd)
			variant := rot % 2;
			vals := ARRAY(
				SELECT CASE f.argt[i]
					WHEN 'text' THEN pg_catalog.format('%L::pg_catalog.text', keys[(rot + 5 * i) % (mask + 1) + 1])
					WHEN 'integer' THEN ((rot + 3 * i + 7) % (mask + 1))::text
					WHEN 'jsonb' THEN pg_catalog.format('%L::pg_catalog.jsonb', CASE variant
						WHEN 0 THEN pg_catalog.jsonb_build_object('type', 'Allocate', 'sku', keys[(rot + 1) % (mask + 1) + 1],
																  'orderid', keys[(rot + 2) % (mask + 1) + 1], 'qty', 1)
						ELSE pg_catalog.jsonb_build_object('type', 'ChangeBatchQuantity', 'ref', keys[(rot + 3) % (mask + 1) + 1],
														   'qty', 1) END)
					WHEN 'allocation.order_line[]' THEN pg_catalog.format(
						'ARRAY[ROW(%L, %L, 1), ROW(%L, %L, 1), ROW(%L, %L, 1)]::allocation.order_line[]',
						keys[(rot + 2) % (mask + 1) + 1], keys[(rot + 9) % (mask + 1) + 1],
						keys[(rot + 4) % (mask + 1) + 1], keys[(rot + 11) % (mask + 1) + 1],
						keys[(rot + 6) % (mask + 1) + 1], keys[(rot + 14) % (mask + 1) + 1])
					WHEN 'uuid' THEN 'pg_catalog.gen_random_uuid()'
					WHEN 'boolean' THEN 'true'
					WHEN 'regprocedure' THEN '''pg_catalog.now()''::pg_catalog.regprocedure'
					ELSE pg_catalog.format('NULL::%s', f.argt[i]) END
				  FROM pg_catalog.generate_series(1, pg_catalog.cardinality(f.argt)) i ORDER BY i);
			-- the RUN ON hash sees one element of a SPLIT array at a time
			hvals := ARRAY(
				SELECT CASE WHEN f.argn[i] = split THEN pg_catalog.format('pg_catalog.unnest(%s)', vals[i]) ELSE vals[i] END
				  FROM pg_catalog.generate_series(1, pg_catalog.cardinality(vals)) i ORDER BY i);
			IF pg_catalog.cardinality(vals) = 0 THEN
				sel := '(SELECT) AS a';
				hsel := sel;
			ELSE
				sel := pg_catalog.format('(SELECT %s) AS a(%s)', pg_catalog.array_to_string(vals, ', '),
										 (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(n), ', ') FROM pg_catalog.unnest(f.argn) n));
				hsel := pg_catalog.format('(SELECT %s) AS a(%s)', pg_catalog.array_to_string(hvals, ', '),
										  (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(n), ', ') FROM pg_catalog.unnest(f.argn) n));
			END IF;
			-- the CLUSTER clause: a function call (a gate), or a plain name
			IF clus IS NOT NULL AND clus !~ '^''' THEN
				EXECUTE pg_catalog.format('SELECT %s FROM %s', clus, sel);
			END IF;
			IF hash ~* '^(ALL|ANY)$' THEN
				parts := ARRAY(SELECT pg_catalog.generate_series(0, mask));
			ELSE
				EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(DISTINCT (%s) OPERATOR(pg_catalog.&) %s) FROM %s',
										  hash, mask, hsel) INTO parts;
			END IF;
			missed := ARRAY(
				SELECT q FROM pg_catalog.unnest(parts) q
				 WHERE NOT EXISTS (SELECT FROM allocation_router.partitions g
									WHERE g.partition OPERATOR(pg_catalog.=) q
									  AND g.xmax OPERATOR(pg_catalog.=) pg_catalog.xid(pg_catalog.pg_current_xact_id_if_assigned()))
				 ORDER BY q);
			IF pg_catalog.cardinality(missed) > 0 THEN
				bad := bad || pg_catalog.format('%s [%s] runs on partition(s) %s, not gated by CLUSTER %s',
												f.fn, pg_catalog.array_to_string(vals, ', '), missed, clus);
			END IF;
			ncase := ncase + 1;
			ROLLBACK;		-- the gates of this case
		END LOOP;
	END LOOP;
	IF nfn < 25 THEN
		RAISE EXCEPTION 'gate_cover: only % PL/Proxy functions found', nfn;
	END IF;
	IF pg_catalog.cardinality(bad) > 0 THEN
		RAISE EXCEPTION 'gate_cover: % case(s) not gated', pg_catalog.cardinality(bad)
			USING DETAIL = pg_catalog.array_to_string(bad[1:20], E'\n');
	END IF;
	RAISE NOTICE 'gate_cover: % functions, % cases', nfn, ncase;
END
$cover$;
