--
-- The extension's life in a database: CREATE EXTENSION refuses a schema
-- "allocation" made by someone else; DROP EXTENSION leaves nothing of ours
-- (no schema, no grant, no default or initial privileges, no shared
-- dependency on the roles), so that DROP OWNED and DROP ROLE work; the
-- roles stay, and a new CREATE EXTENSION makes them again when they are
-- gone.  It runs in a database of its own; the cluster's roles
-- allocation_user, allocation_admin and allocation_mailer are renamed away
-- meanwhile, so that the roles dropped here are ones this file made.
-- Names start with "lc_" and "LC-".
--
SELECT current_database() AS lc_home \gset
CREATE DATABASE lc_life;
\c lc_life
\set VERBOSITY terse

-- What of ours is in this database: one row a kind, with a count.
CREATE VIEW lc_ours AS
SELECT 'extension' AS kind, count(*) FROM pg_extension WHERE extname = 'allocation'
UNION ALL SELECT 'schema', count(*) FROM pg_namespace WHERE nspname = 'allocation'
UNION ALL SELECT 'default privileges', count(*) FROM pg_default_acl
UNION ALL SELECT 'initial privileges of an extension', count(*) FROM pg_init_privs WHERE privtype = 'e'
UNION ALL SELECT 'C functions of the module', count(*) FROM pg_proc WHERE probin LIKE '%allocation%'
-- (objects, not entries: on newer servers, 18 here, an object granted to
-- a role by the extension script has an initial-privileges entry too)
UNION ALL SELECT 'shared dependencies on our roles', count(DISTINCT (classid, objid, objsubid)) FROM pg_shdepend
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND refobjid IN (SELECT oid FROM pg_roles WHERE rolname IN ('allocation_user', 'allocation_admin', 'allocation_mailer'));

------------------------------------------------------------------------
-- A schema "allocation" that exists already is refused, not adopted
------------------------------------------------------------------------
CREATE ROLE lc_squatter NOLOGIN;
CREATE SCHEMA allocation AUTHORIZATION lc_squatter;
CREATE EXTENSION allocation;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'allocation';
DROP SCHEMA allocation;
DROP ROLE lc_squatter;

------------------------------------------------------------------------
-- Create, use, drop: nothing of ours remains, the roles can be dropped
------------------------------------------------------------------------
ALTER ROLE allocation_user RENAME TO lc_saved_user;
ALTER ROLE allocation_admin RENAME TO lc_saved_admin;
ALTER ROLE allocation_mailer RENAME TO lc_saved_mailer;
CREATE EXTENSION allocation;
-- the roles were made by CREATE EXTENSION
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'allocation\_%' ORDER BY 1;
SELECT extnamespace::regnamespace AS registered_in FROM pg_extension WHERE extname = 'allocation';
-- its schema is one of its members
SELECT count(*) AS schema_is_member FROM pg_depend
 WHERE classid = 'pg_namespace'::regclass AND objid = 'allocation'::regnamespace AND deptype = 'e';
-- used by a login role member of allocation_user and by the superuser
CREATE ROLE lc_clerk NOLOGIN IN ROLE allocation_user;
SELECT allocation.add_batch('LC-B1', 'LC-BOWL', 10);
SET ROLE lc_clerk;
SELECT allocation.allocate('LC-o1', 'LC-BOWL', 2);
SELECT allocation.handle('{"type": "Allocate", "orderid": "LC-o2", "sku": "LC-BOWL", "qty": 20, "message_id": 1}');
RESET ROLE;
SELECT allocation.set_stock_alert_recipient('stock@lc.example.com');
SELECT allocation.create_order('LC-100');
SELECT allocation.register_consumer('lc-consumer');
SELECT kind, count FROM lc_ours ORDER BY kind;

DROP EXTENSION allocation;
SELECT kind, count FROM lc_ours ORDER BY kind;
-- the roles stay (they belong to the cluster) ...
SELECT rolname FROM pg_roles WHERE rolname LIKE 'allocation\_%' ORDER BY 1;
-- ... and can now be dropped
DROP OWNED BY allocation_user, allocation_admin, allocation_mailer;
DROP ROLE lc_clerk;
DROP ROLE allocation_admin;
DROP ROLE allocation_user;
DROP ROLE allocation_mailer;
SELECT count(*) AS roles FROM pg_roles WHERE rolname LIKE 'allocation\_%';

-- a new CREATE EXTENSION makes them again and grants them their rights
CREATE EXTENSION allocation;
SELECT rolname FROM pg_roles WHERE rolname LIKE 'allocation\_%' ORDER BY 1;
SELECT has_function_privilege('allocation_user', 'allocation.allocate(text, text, integer)', 'EXECUTE') AS user_allocates,
	   has_schema_privilege('allocation_user', 'allocation', 'USAGE') AS user_uses_schema;
DROP EXTENSION allocation;
DROP ROLE allocation_admin;
DROP ROLE allocation_user;
DROP ROLE allocation_mailer;

-- the cluster's roles back
ALTER ROLE lc_saved_user RENAME TO allocation_user;
ALTER ROLE lc_saved_admin RENAME TO allocation_admin;
ALTER ROLE lc_saved_mailer RENAME TO allocation_mailer;
\c :lc_home
DROP DATABASE lc_life;
