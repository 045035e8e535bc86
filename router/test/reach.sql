-- router/test/reach.sql: the router's functions that reach a node: its
-- PL/Proxy functions and every function whose body names one of them
-- (transitively), and its views; one "<regprocedure or view>" a line.
WITH RECURSIVE fns AS (
	SELECT f.oid, f.pronamespace::pg_catalog.regnamespace::text || '.' || f.proname AS qn, f.prosrc,
		   l.lanname
	  FROM pg_catalog.pg_proc f
	  JOIN pg_catalog.pg_language l ON l.oid = f.prolang
	  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = f.oid AND d.deptype = 'e'
	  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation_router'
), reach AS (
	SELECT oid, qn FROM fns WHERE lanname = 'plproxy'
	UNION
	SELECT f.oid, f.qn FROM fns f, reach r WHERE pg_catalog.strpos(f.prosrc, r.qn || '(') > 0
)
SELECT oid::pg_catalog.regprocedure::text FROM reach
UNION
SELECT c.oid::pg_catalog.regclass::text FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'allocation'::pg_catalog.regnamespace AND c.relkind = 'v'
ORDER BY 1;
