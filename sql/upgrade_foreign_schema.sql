--
-- ALTER EXTENSION allocation UPDATE from 0.1.0 where schema allocation was
-- made before the extension by another role (0.1.0 took such a schema
-- over).  A fresh install refuses that schema (42P06): its owner could
-- plant objects among ours or drop them.  The update must not leave the
-- extension's members in a schema that role owns: either it refuses
-- (42P06, the extension stays at 0.1.0) or the schema ends up owned by the
-- extension's owner, as in a fresh install.  Runs in a database of its own.
--
SELECT current_database() AS ru_home \gset
\set VERBOSITY terse
CREATE ROLE ru_owner NOLOGIN;
CREATE DATABASE ru_upgrade TEMPLATE template0;
\c ru_upgrade
\set VERBOSITY terse
GRANT CREATE ON DATABASE ru_upgrade TO ru_owner;
SET ROLE ru_owner;
CREATE SCHEMA allocation;
RESET ROLE;
CREATE EXTENSION allocation VERSION '0.1.0';
-- the update, its refusal (42P06) being one of the right answers
DO $$
BEGIN
	ALTER EXTENSION allocation UPDATE;
EXCEPTION WHEN duplicate_schema THEN
	NULL;
END
$$;
SELECT e.extversion = '0.1.0' OR n.nspowner = e.extowner AS schema_not_foreign
  FROM pg_extension e, pg_namespace n
 WHERE e.extname = 'allocation' AND n.nspname = 'allocation';
\c :ru_home
DROP DATABASE ru_upgrade;
DROP ROLE ru_owner;
