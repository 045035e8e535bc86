-- test/pgtap/messages.sql: allocation.handle(message jsonb), the entry
-- point for other systems (the contract: events): the result of each of the four
-- message types, the idempotent receiver (message_id), every class of
-- malformed message with its SQLSTATE and message, JSON nulls (22004), the
-- commands' own errors, and the rights of the SQL functions.
--
-- Run with: pg_prove -d tap_bus test/pgtap/messages.sql
-- (a database with CREATE EXTENSION pgtap and CREATE EXTENSION allocation)
BEGIN;
SELECT plan(78);

-- everything handle may change, as one text (equal = nothing changed)
CREATE FUNCTION pg_temp.state() RETURNS text
LANGUAGE sql AS $$
SELECT format('%s|%s|%s|%s|%s',
  (SELECT string_agg(format('%s:%s', sku, version_number), ',' ORDER BY sku) FROM allocation.products WHERE sku LIKE 'MS-%'),
  (SELECT string_agg(format('%s:%s:%s:%s', reference, eta, purchased, allocated), ',' ORDER BY reference) FROM allocation.stock WHERE sku LIKE 'MS-%'),
  (SELECT string_agg(format('%s:%s:%s', orderid, sku, batchref), ',' ORDER BY orderid, sku) FROM allocation.order_lines WHERE sku LIKE 'MS-%'),
  (SELECT count(*) FROM allocation.outbox WHERE aggregateid LIKE 'MS-%'),
  (SELECT count(*) FROM allocation.inbox))
$$;

------------------------------------------------------------------------
-- The four message types and their results (12)
------------------------------------------------------------------------
SELECT is(allocation.handle('{"type": "CreateBatch", "ref": "MS-B1", "sku": "MS-SKU", "qty": 10}'),
          '{"type": "CreateBatch"}'::jsonb, 'CreateBatch returns its type');
SELECT is(allocation.handle('{"type": "CreateBatch", "ref": "MS-B2", "sku": "MS-SKU", "qty": 5, "eta": "2031-04-30"}'),
          '{"type": "CreateBatch"}'::jsonb, 'CreateBatch with an ISO eta');
SELECT results_eq($$SELECT reference, eta, purchased FROM allocation.stock WHERE sku = 'MS-SKU' ORDER BY reference$$,
                  $$VALUES ('MS-B1', NULL::date, 10), ('MS-B2', '2031-04-30'::date, 5)$$,
                  'CreateBatch added the batches with their eta and quantity');
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o1", "sku": "MS-SKU", "qty": 3}'),
          '{"type": "Allocate", "batchref": "MS-B1"}'::jsonb, 'Allocate returns the batch reference');
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o2", "sku": "MS-SKU", "qty": 99}'),
          '{"type": "Allocate", "batchref": null}'::jsonb, 'Allocate out of stock returns batchref null');
SELECT is((SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'MS-SKU' AND type = 'OutOfStock'),
          1::bigint, '... and records OutOfStock');
SELECT is(allocation.handle('{"type": "ChangeBatchQuantity", "ref": "MS-B2", "qty": 7}'),
          '{"type": "ChangeBatchQuantity"}'::jsonb, 'ChangeBatchQuantity returns its type');
SELECT is((SELECT purchased FROM allocation.stock WHERE reference = 'MS-B2'), 7, '... and changed the quantity');
SELECT is(allocation.handle('{"type": "Deallocate", "orderid": "MS-o1", "sku": "MS-SKU"}'),
          '{"type": "Deallocate", "batchref": "MS-B1"}'::jsonb, 'Deallocate returns the batch it freed');
SELECT is(allocation.handle('{"type": "Deallocate", "orderid": "MS-o1", "sku": "MS-SKU"}'),
          '{"type": "Deallocate", "batchref": null}'::jsonb, 'Deallocate of a line not allocated returns batchref null');
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o3", "sku": "MS-SKU", "qty": 1, "from": "shop"}'),
          '{"type": "Allocate", "batchref": "MS-B1"}'::jsonb, 'unknown fields are ignored');
SELECT is(allocation.handle('{"type": "CreateBatch", "ref": "MS-B3", "sku": "MS-SKU", "qty": 0, "eta": null}'),
          '{"type": "CreateBatch"}'::jsonb, 'a JSON null eta is a warehouse batch');

------------------------------------------------------------------------
-- The idempotent receiver (10)
------------------------------------------------------------------------
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o4", "sku": "MS-SKU", "qty": 2, "message_id": "ms-1"}'),
          '{"type": "Allocate", "batchref": "MS-B1"}'::jsonb, 'a message with an id runs');
SELECT pg_temp.state() AS after_first \gset
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o4", "sku": "MS-SKU", "qty": 2, "message_id": "ms-1"}'),
          '{"type": "Allocate", "batchref": "MS-B1"}'::jsonb, 'the same id returns the first result');
SELECT is(pg_temp.state(), :'after_first', '... and changes nothing');
SELECT is((SELECT count(*) FROM allocation.outbox WHERE type = 'Allocated' AND payload->>'orderid' = 'MS-o4'),
          1::bigint, 'one Allocated event for the repeated message');
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o5", "sku": "MS-SKU", "qty": 1, "message_id": "ms-1"}'),
          '{"type": "Allocate", "batchref": "MS-B1"}'::jsonb, 'a different message with a used id returns the first result');
SELECT is_empty($$SELECT 1 FROM allocation.order_lines WHERE orderid = 'MS-o5'$$, '... and is not executed');
SELECT is(allocation.handle('{"type": "Deallocate", "orderid": "MS-o4", "sku": "MS-SKU", "message_id": 7}'),
          '{"type": "Deallocate", "batchref": "MS-B1"}'::jsonb, 'a numeric message_id is accepted');
SELECT is(allocation.handle('{"type": "Deallocate", "orderid": "MS-o4", "sku": "MS-SKU", "message_id": 7}'),
          '{"type": "Deallocate", "batchref": "MS-B1"}'::jsonb, '... and remembered');
-- a failed command does not use up its id
SELECT throws_ok($$SELECT allocation.handle('{"type": "Allocate", "orderid": "MS-o6", "sku": "MS-LATER", "qty": 1, "message_id": "ms-2"}')$$,
                 'ZA001', 'invalid sku "MS-LATER"', 'a failed message raises its error');
SELECT allocation.add_batch('MS-L1', 'MS-LATER', 1) \g /dev/null
SELECT is(allocation.handle('{"type": "Allocate", "orderid": "MS-o6", "sku": "MS-LATER", "qty": 1, "message_id": "ms-2"}'),
          '{"type": "Allocate", "batchref": "MS-L1"}'::jsonb, '... and runs when sent again after the cause is fixed');

------------------------------------------------------------------------
-- Malformed messages: 22023 naming the problem (36 + 1)
------------------------------------------------------------------------
SELECT pg_temp.state() AS before_bad \gset
CREATE TEMP TABLE bad (ord serial, what text, message jsonb, errmsg text);
INSERT INTO bad (what, message, errmsg) VALUES
 ('an array', '[{"type": "Allocate"}]', 'malformed message: a message must be a JSON object'),
 ('a string', '"Allocate"', 'malformed message: a message must be a JSON object'),
 ('a number', '1', 'malformed message: a message must be a JSON object'),
 ('JSON null', 'null', 'malformed message: a message must be a JSON object'),
 ('an empty object', '{}', 'malformed message: field "type" is missing'),
 ('a numeric type', '{"type": 1}', 'malformed message: field "type" must be a string naming the message type'),
 ('an unknown type', '{"type": "Ship"}', 'malformed message: unknown message type "Ship"'),
 ('a type in the wrong case', '{"type": "allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": 1}', 'malformed message: unknown message type "allocate"'),
 ('Allocate without orderid', '{"type": "Allocate", "sku": "MS-SKU", "qty": 1}', 'malformed message: field "orderid" is missing'),
 ('Allocate without sku', '{"type": "Allocate", "orderid": "MS-x", "qty": 1}', 'malformed message: field "sku" is missing'),
 ('Allocate without qty', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU"}', 'malformed message: field "qty" is missing'),
 ('CreateBatch without ref', '{"type": "CreateBatch", "sku": "MS-SKU", "qty": 1}', 'malformed message: field "ref" is missing'),
 ('CreateBatch without sku', '{"type": "CreateBatch", "ref": "MS-x", "qty": 1}', 'malformed message: field "sku" is missing'),
 ('CreateBatch without qty', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU"}', 'malformed message: field "qty" is missing'),
 ('ChangeBatchQuantity without ref', '{"type": "ChangeBatchQuantity", "qty": 1}', 'malformed message: field "ref" is missing'),
 ('ChangeBatchQuantity without qty', '{"type": "ChangeBatchQuantity", "ref": "MS-B1"}', 'malformed message: field "qty" is missing'),
 ('Deallocate without orderid', '{"type": "Deallocate", "sku": "MS-SKU"}', 'malformed message: field "orderid" is missing'),
 ('Deallocate without sku', '{"type": "Deallocate", "orderid": "MS-x"}', 'malformed message: field "sku" is missing'),
 ('a numeric orderid', '{"type": "Allocate", "orderid": 5, "sku": "MS-SKU", "qty": 1}', 'malformed message: field "orderid" must be a string'),
 ('an object sku', '{"type": "Allocate", "orderid": "MS-x", "sku": {"id": 1}, "qty": 1}', 'malformed message: field "sku" must be a string'),
 ('a string qty', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": "1"}', 'malformed message: field "qty" must be a number'),
 ('a boolean qty', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": false}', 'malformed message: field "qty" must be a number'),
 ('a fractional qty', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": 2.5}', 'malformed message: field "qty" must be an integer'),
 ('a qty beyond integer', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": 1e10}', 'malformed message: field "qty" is an integer out of range (from -2147483648 to 2147483647)'),
 ('a zero line qty', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": 0}', 'malformed message: field "qty" must be greater than zero'),
 ('a negative batch qty', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": -1}', 'malformed message: field "qty" must not be negative'),
 ('a numeric eta', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": 1, "eta": 20310101}', 'malformed message: field "eta" must be an ISO date string'),
 ('a word for eta', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": 1, "eta": "soon"}', 'malformed message: field "eta" must be an ISO date (YYYY-MM-DD), not "soon"'),
 ('a US date', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": 1, "eta": "04/30/2031"}', 'malformed message: field "eta" must be an ISO date (YYYY-MM-DD), not "04/30/2031"'),
 ('February 30', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": 1, "eta": "2031-02-30"}', 'malformed message: field "eta" is not a valid date: "2031-02-30"'),
 ('month 13', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": 1, "eta": "2031-13-01"}', 'malformed message: field "eta" is not a valid date: "2031-13-01"'),
 ('a timestamp', '{"type": "CreateBatch", "ref": "MS-x", "sku": "MS-SKU", "qty": 1, "eta": "2031-01-01 10:00"}', 'malformed message: field "eta" must be an ISO date (YYYY-MM-DD), not "2031-01-01 10:00"'),
 ('a boolean message_id', '{"type": "Allocate", "orderid": "MS-x", "sku": "MS-SKU", "qty": 1, "message_id": true}', 'malformed message: field "message_id" must be a string or an integer'),
 ('an empty orderid', '{"type": "Allocate", "orderid": "", "sku": "MS-SKU", "qty": 1}', 'orderid must not be empty'),
 ('a blank sku', '{"type": "Allocate", "orderid": "MS-x", "sku": "  ", "qty": 1}', 'sku must not be blank'),
 ('a control character', '{"type": "Allocate", "orderid": "MS-\u0001", "sku": "MS-SKU", "qty": 1}', 'orderid must not contain control characters');

SELECT throws_ok(format('SELECT allocation.handle(%L)', b.message), '22023', b.errmsg,
                 format('%s: 22023 "%s"', b.what, b.errmsg))
  FROM (SELECT * FROM bad ORDER BY ord) b;
SELECT is(pg_temp.state(), :'before_bad', 'no malformed message changed anything');

------------------------------------------------------------------------
-- NULLs: 22004, but a null type is 22023 (5)
------------------------------------------------------------------------
SELECT throws_ok($$SELECT allocation.handle(NULL)$$, '22004', 'argument "message" must not be null',
	'a SQL NULL message is 22004');
SELECT throws_ok($$SELECT allocation.handle('{"type": null}')$$, '22023',
	'malformed message: field "type" must be a string naming the message type',
	'a JSON null type is no command: 22023');
SELECT throws_ok($$SELECT allocation.handle('{"type": "Allocate", "orderid": null, "sku": "MS-SKU", "qty": 1}')$$,
	'22004', 'message field "orderid" must not be null', 'a JSON null orderid is 22004');
SELECT throws_ok($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "MS-x", "sku": null, "qty": 1}')$$,
	'22004', 'message field "sku" must not be null', 'a JSON null sku is 22004');
SELECT throws_ok($$SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "MS-B1", "qty": null}')$$,
	'22004', 'message field "qty" must not be null', 'a JSON null qty is 22004');

------------------------------------------------------------------------
-- The commands' own errors come through (4)
------------------------------------------------------------------------
SELECT throws_ok($$SELECT allocation.handle('{"type": "Allocate", "orderid": "MS-x", "sku": "MS-NOPE", "qty": 1}')$$,
	'ZA001', 'invalid sku "MS-NOPE"', 'Allocate of an unknown SKU is ZA001');
SELECT throws_ok($$SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "MS-NOPE", "qty": 1}')$$,
	'ZA002', 'unknown batch reference "MS-NOPE"', 'ChangeBatchQuantity of an unknown batch is ZA002');
SELECT throws_ok($$SELECT allocation.handle('{"type": "Allocate", "orderid": "MS-o3", "sku": "MS-SKU", "qty": 2}')$$,
	'ZA003', 'order line "MS-o3" of sku "MS-SKU" is already allocated with quantity 1',
	'Allocate of an allocated line with another qty is ZA003');
SELECT throws_ok($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "MS-B1", "sku": "MS-SKU", "qty": 1}')$$,
	'23505', 'batch reference "MS-B1" already exists', 'CreateBatch of an existing reference is 23505');

------------------------------------------------------------------------
-- Rights: the same as the functions' (8 + 2)
------------------------------------------------------------------------
CREATE ROLE ms_user LOGIN;
GRANT allocation_user TO ms_user;
CREATE ROLE ms_admin LOGIN;
GRANT allocation_admin TO ms_admin;
CREATE ROLE ms_nobody LOGIN;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "MS-B9", "sku": "MS-SKU", "qty": 1, "message_id": "ms-admin-1"}') \g /dev/null

SET ROLE ms_user;
SELECT lives_ok($$SELECT allocation.handle('{"type": "Allocate", "orderid": "MS-u1", "sku": "MS-SKU", "qty": 1}')$$,
	'a member of allocation_user may send Allocate');
SELECT lives_ok($$SELECT allocation.handle('{"type": "Deallocate", "orderid": "MS-u1", "sku": "MS-SKU"}')$$,
	'a member of allocation_user may send Deallocate');
SELECT throws_ok($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "MS-u", "sku": "MS-SKU", "qty": 1}')$$,
	'42501', 'must be a member of role "allocation_admin" to run CreateBatch',
	'a member of allocation_user may not send CreateBatch: 42501 naming allocation_admin and the command');
SELECT throws_ok($$SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "MS-B1", "qty": 1}')$$,
	'42501', 'must be a member of role "allocation_admin" to run ChangeBatchQuantity',
	'a member of allocation_user may not send ChangeBatchQuantity: 42501 naming allocation_admin and the command');
SELECT throws_ok($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "MS-B9", "sku": "MS-SKU", "qty": 1, "message_id": "ms-admin-1"}')$$,
	'42501', 'must be a member of role "allocation_admin" to run CreateBatch',
	'nor replay an admin message handled before (the rights come first)');
RESET ROLE;

SET ROLE ms_admin;
SELECT lives_ok($$SELECT allocation.handle('{"type": "CreateBatch", "ref": "MS-A1", "sku": "MS-SKU", "qty": 1}')$$,
	'a member of allocation_admin may send CreateBatch');
SELECT lives_ok($$SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "MS-A1", "qty": 2}')$$,
	'a member of allocation_admin may send ChangeBatchQuantity');
RESET ROLE;

SET ROLE ms_nobody;
SELECT throws_ok($$SELECT allocation.handle('{"type": "Allocate", "orderid": "MS-n1", "sku": "MS-SKU", "qty": 1}')$$,
	'42501', NULL, 'a role in neither group may not call handle');
RESET ROLE;
SELECT is_empty($$SELECT 1 FROM allocation.outbox WHERE payload->>'ref' = 'MS-u' OR payload->>'orderid' = 'MS-n1'$$,
	'the refused messages left no event');

-- the messages' events and the read model agree with the write model
SELECT is_empty($$SELECT * FROM allocation.check_invariants() WHERE object LIKE 'MS-%'$$,
	'check_invariants finds nothing wrong after the messages');

SELECT * FROM finish();
ROLLBACK;
