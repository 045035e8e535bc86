--
-- test/search_path/harness.sql - the test's own objects in the template
-- database (scripts/extra-tests/search_path.sh): a plugin that does
-- nothing (it must not trip a shadow itself: it names nothing).
--
\set ON_ERROR_STOP 1
CREATE SCHEMA sp_harness;
GRANT USAGE ON SCHEMA sp_harness TO PUBLIC;
CREATE FUNCTION sp_harness.plugin(event pg_catalog.jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN NULL; END $$;
GRANT EXECUTE ON FUNCTION sp_harness.plugin(pg_catalog.jsonb) TO PUBLIC;
