--
-- ALTER EXTENSION allocation UPDATE in a 0.1.0 database that its site
-- changed: rights granted or revoked by hand on the extension's objects,
-- and an update run by another superuser than the one who created the
-- extension.  What the site did stays as it did it, and stays in what
-- pg_dump writes: rights recorded as the extension's initial rights
-- (pg_init_privs) are left out of a dump, so a user's grant recorded
-- there is lost by a dump and restore.  The objects of an updated
-- extension all belong to its owner, as after CREATE EXTENSION.
-- Names start with "uu_".
--
\set VERBOSITY terse
DROP EXTENSION allocation;
CREATE ROLE uu_reader NOLOGIN;

------------------------------------------------------------------------
-- 1. Rights given by hand at 0.1.0
------------------------------------------------------------------------
CREATE EXTENSION allocation VERSION '0.1.0';
GRANT USAGE ON SCHEMA allocation TO uu_reader;
GRANT SELECT ON allocation.batches TO uu_reader;
GRANT SELECT (sku, orderid) ON allocation.order_lines TO uu_reader;
GRANT EXECUTE ON FUNCTION allocation.allocations(text) TO uu_reader;
-- and a right of 0.1.0 the site took away
REVOKE EXECUTE ON FUNCTION allocation.deallocate(text, text) FROM allocation_user;
ALTER EXTENSION allocation UPDATE TO '0.2.0';

-- the site's grants are still there (expected: all true)
SELECT has_schema_privilege('uu_reader', 'allocation', 'USAGE') AS schema_usage,
	   has_table_privilege('uu_reader', 'allocation.batches', 'SELECT') AS batches,
	   has_column_privilege('uu_reader', 'allocation.order_lines', 'orderid', 'SELECT') AS order_lines_orderid,
	   has_function_privilege('uu_reader', 'allocation.allocations(text)', 'EXECUTE') AS allocations;
-- and pg_dump writes them: none is recorded as an initial right of the
-- extension (expected: no row)
SELECT pg_describe_object(ip.classoid, ip.objoid, ip.objsubid) AS object, ip.initprivs
  FROM pg_init_privs ip
 WHERE ip.privtype = 'e' AND ip.initprivs::text LIKE '%uu_reader%'
 ORDER BY 1;
-- the right the site revoked stays revoked (expected: false)
SELECT has_function_privilege('allocation_user', 'allocation.deallocate(text, text)', 'EXECUTE')
	AS user_may_deallocate;

------------------------------------------------------------------------
-- 2. Created by one superuser, updated by another
------------------------------------------------------------------------
DROP EXTENSION allocation;
CREATE ROLE uu_creator SUPERUSER NOLOGIN;
CREATE ROLE uu_updater SUPERUSER NOLOGIN;
SET ROLE uu_creator;
CREATE EXTENSION allocation VERSION '0.1.0';
SET ROLE uu_updater;
ALTER EXTENSION allocation UPDATE TO '0.2.0';
RESET ROLE;
SELECT extowner::regrole AS extension_owner FROM pg_extension WHERE extname = 'allocation';
-- every member of the extension that has an owner belongs to the
-- extension's owner, as after CREATE EXTENSION (expected: no row)
SELECT o.kind, o.owner::regrole, count(*)
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation'
  CROSS JOIN LATERAL (
	SELECT 'function', p.proowner FROM pg_proc p
	 WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid
	UNION ALL
	SELECT 'relation', c.relowner FROM pg_class c
	 WHERE d.classid = 'pg_class'::regclass AND c.oid = d.objid
	UNION ALL
	SELECT 'type', t.typowner FROM pg_type t
	 WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
	UNION ALL
	SELECT 'schema', n.nspowner FROM pg_namespace n
	 WHERE d.classid = 'pg_namespace'::regclass AND n.oid = d.objid) AS o(kind, owner)
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND o.owner <> e.extowner
 GROUP BY 1, 2 ORDER BY 1, 2;

------------------------------------------------------------------------
-- Clean up: the extension at the default version again, nothing else
------------------------------------------------------------------------
DROP EXTENSION allocation;
CREATE EXTENSION allocation;
DROP ROLE uu_creator;
DROP ROLE uu_updater;
DROP ROLE uu_reader;
SELECT extversion FROM pg_extension WHERE extname = 'allocation';
