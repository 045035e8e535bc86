-- router/test/gen_calls.sql: writes a psql script that calls every function
-- of schema allocation_router, and every function of the router extension
-- in schema allocation except drop_cluster, that the current role may
-- execute, with arguments made from their types and names, and reads the
-- router's views the role may read.  Each statement is a plain top-level
-- query with every name and cast qualified (so that the script itself
-- uses nothing a search_path could shadow), preceded by "\echo CALL <name>".
-- Only the input arguments are passed (a function returning TABLE lists
-- its result columns among its argument names and modes).
-- psql variables: key (a SKU or order id), part (a partition number).
SELECT pg_catalog.format(E'\\echo CALL %s\nSELECT pg_catalog.count(*) FROM %I.%I(%s);', f.oid::pg_catalog.regprocedure,
		 f.pronamespace::pg_catalog.regnamespace, f.proname,
		 COALESCE((SELECT pg_catalog.string_agg(
				 CASE pg_catalog.format_type(t.t, NULL)
					WHEN 'text' THEN CASE t.n WHEN 'email' THEN '''shadow@example.com''::pg_catalog.text'
											  WHEN 'status' THEN '''allocated''::pg_catalog.text'
											  WHEN 'event_type' THEN '''Allocated''::pg_catalog.text'
											  WHEN 'consumer' THEN '''rt-consumer''::pg_catalog.text'
											  ELSE pg_catalog.quote_literal(:'key') || '::pg_catalog.text' END
					WHEN 'integer' THEN CASE WHEN t.n IN ('qty', 'max_events') THEN '1' WHEN t.n = 'partitions' THEN '16'
											 WHEN t.n IN ('query_timeout', 'connect_timeout') THEN '60' ELSE :'part' END
					WHEN 'bigint' THEN 'pg_catalog.pg_sequence_last_value(''allocation_router.routing''::pg_catalog.regclass)'
					WHEN 'boolean' THEN 'true'
					WHEN 'date' THEN 'NULL::pg_catalog.date'
					WHEN 'uuid' THEN 'pg_catalog.gen_random_uuid()'
					WHEN 'jsonb' THEN pg_catalog.quote_literal(pg_catalog.jsonb_build_object('type', 'Allocate', 'orderid', :'key',
											'sku', :'key', 'qty', 1)::text) || '::pg_catalog.jsonb'
					WHEN 'regprocedure' THEN '''pg_catalog.now()''::pg_catalog.regprocedure'
					WHEN 'allocation.order_line' THEN pg_catalog.format('ROW(%L::pg_catalog.text, %L::pg_catalog.text, 1)::allocation.order_line', :'key', :'key')
					WHEN 'allocation.order_line[]' THEN pg_catalog.format('ARRAY[ROW(%L::pg_catalog.text, %L::pg_catalog.text, 1)]::allocation.order_line[]', :'key', :'key')
					WHEN 'text[]' THEN 'ARRAY[''dbname=nowhere'']::pg_catalog.text[]'
					WHEN 'integer[]' THEN pg_catalog.format('ARRAY[%s]::pg_catalog.int4[]', :'part')
					ELSE 'NULL' END, ', ' ORDER BY t.i)
		   FROM ROWS FROM (pg_catalog.unnest(COALESCE(f.proallargtypes, f.proargtypes::oid[])), pg_catalog.unnest(f.proargnames),
						   pg_catalog.unnest(f.proargmodes)) WITH ORDINALITY AS t(t, n, m, i)
		  WHERE COALESCE(t.m, 'i') IN ('i', 'b', 'v')), ''))
  FROM pg_catalog.pg_proc f
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = f.oid AND d.deptype = 'e'
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation_router'
 WHERE f.prokind = 'f' AND f.proname <> 'drop_cluster'
   AND pg_catalog.has_function_privilege(f.oid, 'EXECUTE')
UNION ALL
SELECT pg_catalog.format(E'\\echo CALL %s\nSELECT pg_catalog.count(*) FROM %s;', c.oid::pg_catalog.regclass, c.oid::pg_catalog.regclass)
  FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'allocation'::pg_catalog.regnamespace AND c.relkind = 'v'
   AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
 ORDER BY 1;
