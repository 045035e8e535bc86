--
-- allocate(orderid text, sku text, qty integer) RETURNS text: the batch
-- reference, available quantity, the Allocated event, idempotency (rule 4),
-- the quantity conflict ZA003 and OutOfStock (rule 3).  SKUs, references and
-- order ids of this file start with "AL-".
--
\set VERBOSITY terse

-- one warehouse batch of 10
SELECT allocation.add_batch('AL-B1', 'AL-TABLE', 10);

-- allocate returns the reference of the batch that serves the line
SELECT allocation.allocate('AL-o1', 'AL-TABLE', 3);

-- the batch's available quantity dropped by the line's qty
SELECT reference, purchased, allocated, available
  FROM allocation.stock WHERE sku = 'AL-TABLE';

-- an Allocated event with orderid, sku, qty and batchref
SELECT aggregate_seq, aggregatetype, aggregateid, type, payload
  FROM allocation.outbox WHERE aggregateid = 'AL-TABLE' ORDER BY aggregate_seq;

-- the allocation increased the version (1 after add_batch, 2 now)
SELECT version_number FROM allocation.products WHERE sku = 'AL-TABLE';

-- rule 4: the same line again returns the same batch ...
SELECT count(*) AS events_before FROM allocation.outbox WHERE aggregateid = 'AL-TABLE' \gset
SELECT allocation.allocate('AL-o1', 'AL-TABLE', 3);
-- ... records no event, keeps the version and allocates nothing more
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'AL-TABLE') = :events_before AS no_new_event,
       (SELECT version_number FROM allocation.products WHERE sku = 'AL-TABLE') = 2 AS same_version,
       (SELECT available FROM allocation.stock WHERE reference = 'AL-B1') = 7 AS available_unchanged;

-- rule 4: the same (orderid, sku) with another qty is ZA003 ...
SELECT allocation.allocate('AL-o1', 'AL-TABLE', 4);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- ... and changes nothing: no event, same version, stock and read model
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'AL-TABLE') = :events_before AS no_new_event,
       (SELECT version_number FROM allocation.products WHERE sku = 'AL-TABLE') = 2 AS same_version,
       (SELECT available FROM allocation.stock WHERE reference = 'AL-B1') = 7 AS available_unchanged;
SELECT * FROM allocation.allocations('AL-o1');

-- rule 3: out of stock inside a transaction.  The result is NULL, an
-- OutOfStock event is recorded, and the transaction stays usable.
BEGIN;
SELECT allocation.allocate('AL-o2', 'AL-TABLE', 8) IS NULL AS out_of_stock;
SELECT type, payload FROM allocation.outbox
 WHERE aggregateid = 'AL-TABLE' ORDER BY aggregate_seq DESC LIMIT 1;
-- nothing was allocated for it
SELECT count(*) AS lines FROM allocation.allocations('AL-o2');
SELECT available FROM allocation.stock WHERE reference = 'AL-B1';
-- the next statements of the same transaction run: a line that fits exactly
SELECT allocation.allocate('AL-o3', 'AL-TABLE', 7);
SELECT available FROM allocation.stock WHERE reference = 'AL-B1';
COMMIT;

-- after COMMIT both the OutOfStock event and the Allocated of AL-o3 are there
SELECT aggregate_seq, type, payload ->> 'orderid' AS orderid, payload ->> 'qty' AS qty
  FROM allocation.outbox WHERE aggregateid = 'AL-TABLE' ORDER BY aggregate_seq;

-- OutOfStock did not change the version; the allocation of AL-o3 did
SELECT version_number FROM allocation.products WHERE sku = 'AL-TABLE';

-- OutOfStock on a product whose only batch is empty, outside a transaction
-- block: NULL, and the event is committed
SELECT allocation.add_batch('AL-EMPTY', 'AL-LAMP', 0);
SELECT allocation.allocate('AL-o4', 'AL-LAMP', 1) IS NULL AS out_of_stock;
SELECT type, payload FROM allocation.outbox
 WHERE aggregateid = 'AL-LAMP' AND type = 'OutOfStock';

-- the same line can be allocated once stock arrives
SELECT allocation.add_batch('AL-LATER', 'AL-LAMP', 1, '2031-05-01');
SELECT allocation.allocate('AL-o4', 'AL-LAMP', 1);
SELECT * FROM allocation.allocations('AL-o4');

-- an allocation in a rolled-back transaction vanishes: stock, event,
-- version and read model are as before
SELECT allocation.add_batch('AL-RB', 'AL-RUG', 5);
BEGIN;
SELECT allocation.allocate('AL-o5', 'AL-RUG', 2);
ROLLBACK;
SELECT (SELECT available FROM allocation.stock WHERE reference = 'AL-RB') AS available,
       (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'AL-RUG') AS events,
       (SELECT version_number FROM allocation.products WHERE sku = 'AL-RUG') AS version_number,
       (SELECT count(*) FROM allocation.allocations('AL-o5')) AS read_model_rows;

-- an OutOfStock in a rolled-back transaction vanishes too
BEGIN;
SELECT allocation.allocate('AL-o6', 'AL-RUG', 6) IS NULL AS out_of_stock;
ROLLBACK;
SELECT count(*) AS out_of_stock_events
  FROM allocation.outbox WHERE aggregateid = 'AL-RUG' AND type = 'OutOfStock';

-- a line is identified by (orderid, sku): one order id on two SKUs makes
-- two lines, each with its own quantity
SELECT allocation.allocate('AL-o7', 'AL-RUG', 1);
SELECT allocation.allocate('AL-o7', 'AL-TABLE', 1) IS NULL AS table_out_of_stock;
SELECT allocation.allocate('AL-o7', 'AL-LAMP', 5) IS NULL AS lamp_out_of_stock;
SELECT allocation.add_batch('AL-B2', 'AL-TABLE', 2);
SELECT allocation.allocate('AL-o7', 'AL-TABLE', 2);
SELECT * FROM allocation.allocations('AL-o7');

-- order ids are case-sensitive: "al-o7" is another line than "AL-o7"
SELECT allocation.allocate('al-o7', 'AL-RUG', 2);
SELECT reference, allocated, available FROM allocation.stock WHERE reference = 'AL-RB';

-- the arguments have the contract's names: named notation works
SELECT allocation.allocate(orderid => 'AL-o8', sku => 'AL-RUG', qty => 1);

-- a line of the largest integer quantity is simply out of stock
SELECT allocation.allocate('AL-o9', 'AL-RUG', 2147483647) IS NULL AS out_of_stock;
