--
-- test/search_path/router_fixture.sql - what the calls of router_calls.tsv
-- work on, made through the router by a superuser with a harmless
-- search_path (scripts/extra-tests/search_path.sh).
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT allocation.add_batch('SP-B1', 'SP-SKU', 1000);
SELECT allocation.add_batch('SP-B9', 'SP-SKU2', 1000);
SELECT allocation.allocate('SP-o0', 'SP-SKU', 2);
SELECT allocation.create_order('SP-100');
SELECT allocation.register_consumer('sp-consumer');
-- never acknowledges: purge_outbox keeps every event
SELECT allocation.register_consumer('sp-laggard');
