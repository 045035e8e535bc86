--
-- test/search_path/fixture.sql - what the calls of calls.tsv work on, made
-- by a superuser with a harmless search_path in each database of the
-- search_path class test (scripts/extra-tests/search_path.sh).
--
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT allocation.add_batch('SP-B1', 'SP-SKU', 10);
SELECT allocation.add_batch('SP-B0', 'SP-SKU', 10, '2031-01-01');
SELECT allocation.add_batch('SP-B9', 'SP-SKU2', 10);
SELECT allocation.allocate('SP-o0', 'SP-SKU', 2);
SELECT allocation.create_order('SP-100');
SELECT allocation.subscribe_to_order('SP-100', 'watcher@sp.example.com');
SELECT allocation.create_order('SP-300');
SELECT allocation.subscribe_to_order('SP-300', 'watcher@sp.example.com');
SELECT allocation.handle('{"type": "Allocate", "orderid": "SP-o5", "sku": "SP-SKU", "qty": 1, "message_id": "sp-m1"}');
SELECT allocation.register_consumer('sp-consumer');
SELECT allocation.register_consumer('sp-laggard');
-- a plugin: runs as its subscriber, with the subscriber's search_path
SELECT allocation.subscribe('Allocated', 'sp_harness.plugin(pg_catalog.jsonb)');
