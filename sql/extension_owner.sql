--
-- Whose rights the commands use: the extension's owner
-- (pg_extension.extowner), not the owner of schema allocation.  Handing
-- the schema to another role (ALTER SCHEMA ... OWNER TO) must not hand it
-- the commands' rights too, nor break them.  Names start with "eo_" /
-- "EO-".
--
\set VERBOSITY terse

CREATE ROLE eo_schema_owner NOLOGIN;
CREATE ROLE eo_admin NOLOGIN;
GRANT allocation_admin TO eo_admin;
SELECT nspowner::regrole AS eo_old_owner FROM pg_namespace
 WHERE nspname = 'allocation' \gset

-- a trigger on an extension table says whose rights the owner's
-- statements run with
CREATE FUNCTION eo_whoami() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'batches written as %',
		CASE WHEN current_user = (SELECT extowner::regrole::name
									FROM pg_extension WHERE extname = 'allocation')
			 THEN 'the extension owner' ELSE current_user::text END;
	RETURN NEW;
END
$$;
CREATE TRIGGER eo_whoami BEFORE INSERT OR UPDATE ON allocation.batches
	FOR EACH ROW EXECUTE FUNCTION eo_whoami();

SET ROLE eo_admin;
SELECT allocation.add_batch('EO-B1', 'EO-SKU', 10);
RESET ROLE;

-- the schema changes hands, committed: the commands still run as the
-- extension's owner (in this backend, whose cache was filled before, and
-- in a new one)
ALTER SCHEMA allocation OWNER TO eo_schema_owner;
SET ROLE eo_admin;
SELECT allocation.change_batch_quantity('EO-B1', 11);
RESET ROLE;
\c
\set VERBOSITY terse
SET ROLE eo_admin;
SELECT allocation.add_batch('EO-B2', 'EO-SKU', 10);
SELECT allocation.allocate('EO-o1', 'EO-SKU', 1);
RESET ROLE;

-- the schema's owner gained nothing on the tables
SELECT has_table_privilege('eo_schema_owner', 'allocation.batches', 'SELECT') AS schema_owner_reads;

-- give the schema back
ALTER SCHEMA allocation OWNER TO :"eo_old_owner";
DROP TRIGGER eo_whoami ON allocation.batches;
DROP FUNCTION eo_whoami();
DROP ROLE eo_schema_owner, eo_admin;
