--
-- allocation.handle(message jsonb) RETURNS jsonb (the contract: events): the
-- four command messages and their results, the idempotent receiver
-- (message_id), malformed messages (22023 naming the problem), JSON null
-- fields (22004) and the rights of the functions.  SKUs, references and
-- order ids of this file start with "HM-"; roles start with "hm_".
--
\set VERBOSITY terse

-- How many events of each type does a SKU have?
PREPARE hm_events(text) AS
SELECT type, count(*) AS n
  FROM allocation.outbox WHERE aggregateid = $1
 GROUP BY type ORDER BY type;

------------------------------------------------------------------------
-- The four message types
------------------------------------------------------------------------

-- CreateBatch without eta: a warehouse batch; the result names the type
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-B1", "sku": "HM-LAMP", "qty": 10}');
-- CreateBatch with an ISO eta: a shipment
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-B2", "sku": "HM-LAMP", "qty": 5, "eta": "2031-02-28"}');
-- an explicit JSON null eta is allowed (eta is optional, NULL = in the warehouse)
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-B3", "sku": "HM-SOFA", "qty": 4, "eta": null}');
SELECT reference, sku, eta, purchased, allocated, available
  FROM allocation.stock WHERE sku IN ('HM-LAMP', 'HM-SOFA') ORDER BY reference;

-- Allocate returns the batch reference (warehouse batch first, rule 2)
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o1", "sku": "HM-LAMP", "qty": 3}');
-- Allocate when no batch can take the line: batchref null, an OutOfStock event
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o2", "sku": "HM-LAMP", "qty": 50}');
SELECT payload FROM allocation.outbox
 WHERE aggregateid = 'HM-LAMP' AND type = 'OutOfStock';

-- ChangeBatchQuantity changes the purchased quantity, records BatchQuantityChanged
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-B2", "qty": 7}');
SELECT purchased FROM allocation.stock WHERE reference = 'HM-B2';
SELECT payload FROM allocation.outbox
 WHERE aggregateid = 'HM-LAMP' AND type = 'BatchQuantityChanged';

-- Deallocate returns the batch the line was freed from ...
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o1", "sku": "HM-LAMP"}');
-- ... and batchref null when the line was not allocated
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o1", "sku": "HM-LAMP"}');
SELECT count(*) AS lines FROM allocation.allocations('HM-o1');

-- unknown fields are ignored (senders may add metadata)
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o3", "sku": "HM-LAMP", "qty": 2, "sender": "shop", "trace": [1, 2]}');

-- a handled message gives the same result and events as the SQL function
SELECT allocation.allocate('HM-o4', 'HM-LAMP', 1) AS by_function;
EXECUTE hm_events('HM-LAMP');

------------------------------------------------------------------------
-- Idempotent receiver: message_id
------------------------------------------------------------------------

-- the first message with an id runs ...
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o5", "sku": "HM-SOFA", "qty": 2, "message_id": "hm-msg-1"}');
-- ... the same id again returns the first result and runs nothing
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o5", "sku": "HM-SOFA", "qty": 2, "message_id": "hm-msg-1"}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o5", "sku": "HM-SOFA", "qty": 2, "message_id": "hm-msg-1"}');
-- one Allocated event, one line, version 2 (BatchCreated, Allocated)
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'HM-SOFA' AND type = 'Allocated') = 1 AS one_allocated_event,
       (SELECT available FROM allocation.stock WHERE reference = 'HM-B3') = 2 AS available_2,
       (SELECT version_number FROM allocation.products WHERE sku = 'HM-SOFA') = 2 AS version_2;

-- a repeated id is not executed again even when the message differs: the
-- first result comes back and the line of HM-o6 is never allocated
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o6", "sku": "HM-SOFA", "qty": 1, "message_id": "hm-msg-1"}');
SELECT count(*) = 0 AS hm_o6_not_allocated FROM allocation.allocations('HM-o6');

-- a repeated Deallocate does not free a line allocated after it
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o5", "sku": "HM-SOFA", "message_id": "hm-msg-2"}');
SELECT allocation.allocate('HM-o5', 'HM-SOFA', 2);
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o5", "sku": "HM-SOFA", "message_id": "hm-msg-2"}');
SELECT * FROM allocation.allocations('HM-o5');

-- a repeated CreateBatch is not a duplicate batch (23505) but the first result
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-B4", "sku": "HM-SOFA", "qty": 1, "message_id": "hm-msg-3"}');
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-B4", "sku": "HM-SOFA", "qty": 1, "message_id": "hm-msg-3"}');
SELECT count(*) = 1 AS one_batch_created_event FROM allocation.outbox
 WHERE aggregateid = 'HM-SOFA' AND type = 'BatchCreated' AND payload->>'ref' = 'HM-B4';

-- a numeric message_id is accepted too
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-B4", "qty": 3, "message_id": 42}');
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-B4", "qty": 3, "message_id": 42}');
SELECT count(*) = 1 AS one_quantity_event FROM allocation.outbox
 WHERE aggregateid = 'HM-SOFA' AND type = 'BatchQuantityChanged';

-- a failed command releases its message_id: retried after the cause is
-- fixed, the message runs
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o7", "sku": "HM-DESK", "qty": 1, "message_id": "hm-msg-4"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.add_batch('HM-D1', 'HM-DESK', 5);
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o7", "sku": "HM-DESK", "qty": 1, "message_id": "hm-msg-4"}');

-- a message handled in a transaction that rolls back is not remembered
BEGIN;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o8", "sku": "HM-DESK", "qty": 1, "message_id": "hm-msg-5"}');
ROLLBACK;
SELECT count(*) = 0 AS nothing_of_hm_o8 FROM allocation.outbox
 WHERE aggregateid = 'HM-DESK' AND payload->>'orderid' = 'HM-o8';
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o8", "sku": "HM-DESK", "qty": 1, "message_id": "hm-msg-5"}');
EXECUTE hm_events('HM-DESK');

------------------------------------------------------------------------
-- report_duplicate: the answer says whether the message ran now
------------------------------------------------------------------------

-- Generated over the four message types: each message (an id of its own)
-- is sent three times with "report_duplicate": true, then once without.
-- The first answer is the plain result with duplicate false, each repeat
-- the same result with duplicate true, and the repeat without the field
-- is exactly the plain first result (the inbox keeps no flag).
CREATE TEMP TABLE hm_rd (type text, n integer, answer jsonb);
DO $$
DECLARE
	m jsonb;
BEGIN
	FOR m IN SELECT x FROM pg_catalog.jsonb_array_elements('[
		{"type": "CreateBatch", "ref": "HM-RD1", "sku": "HM-RD", "qty": 5},
		{"type": "Allocate", "orderid": "HM-rd-o1", "sku": "HM-RD", "qty": 2},
		{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 4},
		{"type": "Deallocate", "orderid": "HM-rd-o1", "sku": "HM-RD"}]'::jsonb) AS x
	LOOP
		m := m || pg_catalog.jsonb_build_object('message_id', 'hm-rd-' || (m->>'type'));
		FOR n IN 1..3 LOOP
			INSERT INTO hm_rd VALUES (m->>'type', n,
				allocation.handle(m || '{"report_duplicate": true}'));
		END LOOP;
		INSERT INTO hm_rd VALUES (m->>'type', 4, allocation.handle(m));
	END LOOP;
END
$$;
SELECT type,
       pg_catalog.string_agg(COALESCE(answer->>'duplicate', '-'), ' ' ORDER BY n) AS duplicate,
       pg_catalog.count(DISTINCT answer - 'duplicate') = 1 AS one_result,
       pg_catalog.bool_and(n < 4 OR NOT answer ? 'duplicate') AS plain_without_field
  FROM hm_rd GROUP BY type ORDER BY type;
SELECT type, answer FROM hm_rd WHERE n = 4 ORDER BY type;
-- each ran once: one event of each kind
EXECUTE hm_events('HM-RD');

-- without a message_id nothing is a duplicate: both run, both say so
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 3, "report_duplicate": true}');
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 3, "report_duplicate": true}');
-- false and null ask for nothing
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 3, "report_duplicate": false}');
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 3, "report_duplicate": null}');
-- anything but a boolean is malformed (22023), and runs nothing
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 9, "report_duplicate": "yes"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-RD1", "qty": 9, "report_duplicate": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT purchased = 3 AS unchanged FROM allocation.stock WHERE reference = 'HM-RD1';

------------------------------------------------------------------------
-- Malformed messages: 22023 naming what is wrong; nothing runs
------------------------------------------------------------------------
SELECT count(*) AS events_before FROM allocation.outbox WHERE aggregateid LIKE 'HM-%' \gset

-- not an object: an array, a string, a number, JSON null
SELECT allocation.handle('[{"type": "Allocate"}]');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('"Allocate"');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('42');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('null');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- no type
SELECT allocation.handle('{"orderid": "HM-o9", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a type that is not a string
SELECT allocation.handle('{"type": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- unknown types, including a wrong case (types are case-sensitive)
SELECT allocation.handle('{"type": "Ship", "orderid": "HM-o9"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- a missing field of each command type
SELECT allocation.handle('{"type": "Allocate", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-D1"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o9"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- wrong JSON types: a number for a text field, a string or boolean for qty
SELECT allocation.handle('{"type": "Allocate", "orderid": 9, "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": ["HM-DESK"], "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": "1"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": true}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D9", "sku": "HM-DESK", "qty": 1, "eta": 20310101}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": 1, "message_id": {"id": 1}}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- a qty that is not an integer: a fraction, beyond integer's range
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": 1.5}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": 2147483648}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a qty out of its domain: 0 for a line, negative for a batch
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": 0}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-D1", "qty": -1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- bad dates: not a date, not ISO, an impossible day, a time stamp
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D9", "sku": "HM-DESK", "qty": 1, "eta": "tomorrow"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D9", "sku": "HM-DESK", "qty": 1, "eta": "01/02/2031"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D9", "sku": "HM-DESK", "qty": 1, "eta": "2031-02-29"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D9", "sku": "HM-DESK", "qty": 1, "eta": "2031-13-01"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D9", "sku": "HM-DESK", "qty": 1, "eta": "2031-01-01T10:00:00"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- identifiers follow the functions' rules: empty, blank, control character
SELECT allocation.handle('{"type": "Allocate", "orderid": "", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "   ", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-\u0007", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- none of the rejected messages changed anything
SELECT count(*) = :events_before AS no_new_event FROM allocation.outbox WHERE aggregateid LIKE 'HM-%';
SELECT count(*) = 0 AS no_batch_hm_d9 FROM allocation.stock WHERE reference = 'HM-D9';

------------------------------------------------------------------------
-- NULLs: 22004
------------------------------------------------------------------------

-- a JSON null field is a NULL argument
SELECT allocation.handle('{"type": "Allocate", "orderid": null, "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-DESK", "qty": null}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": null, "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- but a null type is no command at all: a malformed message (22023)
SELECT allocation.handle('{"type": null}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a SQL NULL message
SELECT allocation.handle(NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

------------------------------------------------------------------------
-- Errors of the commands themselves come through unchanged
------------------------------------------------------------------------
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o9", "sku": "HM-NOPE", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-NOPE", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o7", "sku": "HM-DESK", "qty": 2}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D1", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

------------------------------------------------------------------------
-- Rights: the same as the SQL functions
------------------------------------------------------------------------
CREATE ROLE hm_clerk LOGIN;
GRANT allocation_user TO hm_clerk;
CREATE ROLE hm_buyer LOGIN;
GRANT allocation_admin TO hm_buyer;
CREATE ROLE hm_stranger LOGIN;

SET ROLE hm_clerk;
-- an allocation_user may Allocate and Deallocate ...
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o10", "sku": "HM-DESK", "qty": 1}');
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o10", "sku": "HM-DESK"}');
-- ... but not CreateBatch or ChangeBatchQuantity: 42501 naming allocation_admin
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D2", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-D1", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- nor learn the result of an admin message handled before (rights come first)
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-B4", "sku": "HM-SOFA", "qty": 1, "message_id": "hm-msg-3"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;

SET ROLE hm_buyer;
-- an allocation_admin may send every type
SELECT allocation.handle('{"type": "CreateBatch", "ref": "HM-D2", "sku": "HM-DESK", "qty": 1}');
SELECT allocation.handle('{"type": "ChangeBatchQuantity", "ref": "HM-D2", "qty": 2}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o11", "sku": "HM-DESK", "qty": 4}');
SELECT allocation.handle('{"type": "Deallocate", "orderid": "HM-o11", "sku": "HM-DESK"}');
RESET ROLE;

SET ROLE hm_stranger;
-- a role in neither group cannot call handle at all
SELECT allocation.handle('{"type": "Allocate", "orderid": "HM-o12", "sku": "HM-DESK", "qty": 1}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;

-- the refused messages left no trace
SELECT count(*) = 0 AS no_hm_d2_change_by_clerk FROM allocation.outbox
 WHERE aggregateid = 'HM-DESK' AND type = 'BatchQuantityChanged' AND payload->>'ref' = 'HM-D1';
SELECT count(*) = 0 AS nothing_for_hm_o12 FROM allocation.outbox
 WHERE payload->>'orderid' = 'HM-o12';

-- the read model still equals the write model
SELECT count(*) = 0 AS healthy FROM allocation.check_invariants() WHERE object LIKE 'HM-%';

DROP ROLE hm_clerk;
DROP ROLE hm_buyer;
DROP ROLE hm_stranger;
DEALLOCATE hm_events;
