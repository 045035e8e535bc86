--
-- add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL):
-- creates the product on first use, adds a stock row, records BatchCreated
-- and increases the product's version.  SKUs and references of this file
-- start with "AB-".
--
\set VERBOSITY terse
-- pg_regress runs psql with DateStyle "Postgres, MDY": the payloads below
-- must carry ISO dates all the same
SHOW DateStyle;

-- before its first batch the product does not exist
SELECT count(*) = 0 AS no_product_yet FROM allocation.products WHERE sku = 'AB-CHAIR';

-- add_batch returns void
SELECT allocation.add_batch('AB-B1', 'AB-CHAIR', 20);

-- the first batch created the product, at version 1
SELECT sku, version_number FROM allocation.products WHERE sku = 'AB-CHAIR';

-- one stock row: in the warehouse (eta NULL), 20 purchased, 20 available
SELECT reference, sku, eta IS NULL AS in_warehouse, purchased, allocated, available
  FROM allocation.stock WHERE sku = 'AB-CHAIR' ORDER BY reference;

-- one BatchCreated event, aggregate product/AB-CHAIR, eta null in the payload
SELECT aggregatetype, aggregateid, type, payload
  FROM allocation.outbox WHERE aggregateid = 'AB-CHAIR' ORDER BY aggregate_seq;

-- the payload's eta is present and JSON null, not missing
SELECT payload ? 'eta' AS has_eta_key, jsonb_typeof(payload -> 'eta') AS eta_type
  FROM allocation.outbox WHERE aggregateid = 'AB-CHAIR' AND payload ->> 'ref' = 'AB-B1';

-- a second batch, a shipment with an eta, joins the same product: version 2
SELECT allocation.add_batch('AB-B2', 'AB-CHAIR', 5, '2031-02-03');
SELECT count(*) AS product_rows, max(version_number) AS version_number
  FROM allocation.products WHERE sku = 'AB-CHAIR';

-- its stock row carries the eta
SELECT reference, eta IS NULL AS in_warehouse, eta IS NOT DISTINCT FROM date '2031-02-03' AS eta_ok, purchased, allocated, available
  FROM allocation.stock WHERE sku = 'AB-CHAIR' ORDER BY reference;

-- BatchCreated carries the eta as an ISO date (YYYY-MM-DD) under the
-- session's "Postgres, MDY"
SELECT type, payload FROM allocation.outbox
 WHERE aggregateid = 'AB-CHAIR' AND payload ->> 'ref' = 'AB-B2';

-- ... and under "SQL, DMY" too: the payload does not follow DateStyle
SET DateStyle = 'SQL, DMY';
SELECT allocation.add_batch('AB-B3', 'AB-CHAIR', 7, '2031-12-25');
RESET DateStyle;
SELECT payload ->> 'eta' AS eta FROM allocation.outbox
 WHERE aggregateid = 'AB-CHAIR' AND payload ->> 'ref' = 'AB-B3';

-- the eta of a payload reads back as the date that was given
SELECT (payload ->> 'eta')::date = date '2031-12-25' AS eta_round_trips
  FROM allocation.outbox WHERE aggregateid = 'AB-CHAIR' AND payload ->> 'ref' = 'AB-B3';

-- 0 is a valid batch quantity (only a negative one is rejected)
SELECT allocation.add_batch('AB-B0', 'AB-CHAIR', 0);
SELECT reference, purchased, available FROM allocation.stock WHERE reference = 'AB-B0';

-- an explicit NULL eta is the default: a warehouse batch, not an error
SELECT allocation.add_batch('AB-B4', 'AB-CHAIR', 1, NULL);
SELECT eta IS NULL AS in_warehouse FROM allocation.stock WHERE reference = 'AB-B4';

-- every add_batch recorded exactly one BatchCreated, aggregate_seq 1..5, and
-- increased the version by one: version 5 after five batches
SELECT aggregate_seq, type, payload ->> 'ref' AS ref, payload ->> 'qty' AS qty
  FROM allocation.outbox WHERE aggregateid = 'AB-CHAIR' ORDER BY aggregate_seq;
SELECT version_number FROM allocation.products WHERE sku = 'AB-CHAIR';

-- the arguments have the contract's names: named notation works
SELECT allocation.add_batch(ref => 'AB-N1', sku => 'AB-NAMED', qty => 3, eta => '2031-01-01');
SELECT reference, sku, purchased, eta = date '2031-01-01' AS eta_ok
  FROM allocation.stock WHERE sku = 'AB-NAMED';

-- SKUs are case-sensitive: "ab-chair" is another product than "AB-CHAIR"
SELECT allocation.add_batch('AB-lower-1', 'ab-chair', 2);
SELECT sku, version_number FROM allocation.products
 WHERE sku IN ('AB-CHAIR', 'ab-chair') ORDER BY sku COLLATE "C";

-- identifiers may be any other Unicode text
SELECT allocation.add_batch('AB-Größe-①', 'AB-Stuhl-日本', 4);
SELECT reference, sku, purchased FROM allocation.stock WHERE sku = 'AB-Stuhl-日本';
SELECT payload ->> 'ref' AS ref, payload ->> 'sku' AS sku
  FROM allocation.outbox WHERE aggregateid = 'AB-Stuhl-日本';

-- identifiers of 255 characters (here 2-byte ones, 510 bytes) are accepted
SELECT allocation.add_batch('AB-' || repeat('é', 252), 'AB-' || repeat('ü', 252), 1);
SELECT length(reference) AS ref_chars, length(sku) AS sku_chars, purchased
  FROM allocation.stock WHERE sku = 'AB-' || repeat('ü', 252);

-- a batch added in a rolled-back transaction leaves no batch, no product
-- and no event behind
BEGIN;
SELECT allocation.add_batch('AB-RB1', 'AB-ROLLBACK', 9);
SELECT count(*) AS batches_inside FROM allocation.stock WHERE sku = 'AB-ROLLBACK';
ROLLBACK;
SELECT (SELECT count(*) FROM allocation.stock WHERE sku = 'AB-ROLLBACK') AS batches,
       (SELECT count(*) FROM allocation.products WHERE sku = 'AB-ROLLBACK') AS products,
       (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'AB-ROLLBACK') AS events;

-- the same reference again is 23505, also for another SKU, and that other
-- product is not created by the rejected call
SELECT allocation.add_batch('AB-B1', 'AB-CHAIR', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.add_batch('AB-B1', 'AB-OTHER', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT (SELECT count(*) FROM allocation.products WHERE sku = 'AB-OTHER') AS other_products,
       (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'AB-OTHER') AS other_events,
       (SELECT purchased FROM allocation.stock WHERE reference = 'AB-B1') AS b1_purchased,
       (SELECT version_number FROM allocation.products WHERE sku = 'AB-CHAIR') AS chair_version;

-- a negative quantity is 22023 and creates nothing
SELECT allocation.add_batch('AB-NEG', 'AB-NEGATIVE', -1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS negative_products FROM allocation.products WHERE sku = 'AB-NEGATIVE';
