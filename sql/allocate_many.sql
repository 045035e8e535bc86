--
-- allocate_many(lines allocation.order_line[]) RETURNS TABLE (orderid,
-- sku, batchref): many lines in one call, with the rules and events of
-- allocate for each line in the order given.  SKUs, references and order
-- ids of this file start with "AM-".
--
\set VERBOSITY terse

-- Two identical set-ups: AM-X is served by allocate_many, AM-Y by
-- consecutive allocate calls.  Each has a warehouse batch of 5 and a
-- shipment of 5; AM-XT / AM-YT have one batch of 2.
SELECT allocation.add_batch('AM-X-B1', 'AM-X', 5);
SELECT allocation.add_batch('AM-X-B2', 'AM-X', 5, '2031-01-01');
SELECT allocation.add_batch('AM-X-T1', 'AM-XT', 2);
SELECT allocation.add_batch('AM-Y-B1', 'AM-Y', 5);
SELECT allocation.add_batch('AM-Y-B2', 'AM-Y', 5, '2031-01-01');
SELECT allocation.add_batch('AM-Y-T1', 'AM-YT', 2);
-- one line of each is allocated beforehand
SELECT allocation.allocate('AM-o0', 'AM-X', 1);
SELECT allocation.allocate('AM-o0', 'AM-Y', 1);

------------------------------------------------------------------------
-- The same results and events as consecutive allocate calls
------------------------------------------------------------------------

-- lines: a warehouse allocation, one that overflows to the shipment, an
-- out-of-stock one, the other SKU in between, the line allocated before
-- (rule 4), and lines competing for the last units (the first wins)
SELECT * FROM allocation.allocate_many(ARRAY[
	('AM-o1', 'AM-X', 3),
	('AM-o2', 'AM-XT', 2),
	('AM-o3', 'AM-X', 4),
	('AM-o4', 'AM-X', 20),
	('AM-o0', 'AM-X', 1),
	('AM-o5', 'AM-X', 1),
	('AM-o6', 'AM-X', 2),
	('AM-o7', 'AM-XT', 1)]::allocation.order_line[]);

SELECT allocation.allocate('AM-o1', 'AM-Y', 3) AS o1,
       allocation.allocate('AM-o2', 'AM-YT', 2) AS o2,
       allocation.allocate('AM-o3', 'AM-Y', 4) AS o3,
       allocation.allocate('AM-o4', 'AM-Y', 20) AS o4,
       allocation.allocate('AM-o0', 'AM-Y', 1) AS o0,
       allocation.allocate('AM-o5', 'AM-Y', 1) AS o5,
       allocation.allocate('AM-o6', 'AM-Y', 2) AS o6,
       allocation.allocate('AM-o7', 'AM-YT', 1) AS o7;

-- the events of X and Y are the same, one by one (names mapped X -> Y)
SELECT NOT EXISTS (
	SELECT replace(aggregateid, 'AM-X', 'AM-Y'), aggregate_seq, type,
	       replace(payload::text, 'AM-X', 'AM-Y')::jsonb
	  FROM allocation.outbox WHERE aggregateid IN ('AM-X', 'AM-XT')
	EXCEPT
	SELECT aggregateid, aggregate_seq, type, payload
	  FROM allocation.outbox WHERE aggregateid IN ('AM-Y', 'AM-YT'))
   AND NOT EXISTS (
	SELECT aggregateid, aggregate_seq, type, payload
	  FROM allocation.outbox WHERE aggregateid IN ('AM-Y', 'AM-YT')
	EXCEPT
	SELECT replace(aggregateid, 'AM-X', 'AM-Y'), aggregate_seq, type,
	       replace(payload::text, 'AM-X', 'AM-Y')::jsonb
	  FROM allocation.outbox WHERE aggregateid IN ('AM-X', 'AM-XT'))
       AS same_events;
-- the events of AM-X, in order
SELECT aggregate_seq, type, payload FROM allocation.outbox
 WHERE aggregateid = 'AM-X' ORDER BY aggregate_seq;
-- the same versions, stock and read model
SELECT sku, version_number FROM allocation.products
 WHERE sku IN ('AM-X', 'AM-XT', 'AM-Y', 'AM-YT') ORDER BY sku;
SELECT replace(reference, 'AM-X', 'AM-Y') AS reference, purchased, allocated FROM allocation.stock WHERE sku IN ('AM-X', 'AM-XT')
EXCEPT
SELECT reference, purchased, allocated FROM allocation.stock WHERE sku IN ('AM-Y', 'AM-YT');
SELECT * FROM allocation.allocations('AM-o1');

-- the same call again: same results (rule 4 for the allocated lines,
-- OutOfStock again for the others) and no Allocated event
SELECT count(*) AS n FROM allocation.outbox WHERE aggregateid = 'AM-X' AND type = 'Allocated' \gset
SELECT * FROM allocation.allocate_many(ARRAY[
	('AM-o1', 'AM-X', 3),
	('AM-o3', 'AM-X', 4),
	('AM-o4', 'AM-X', 20)]::allocation.order_line[]);
SELECT count(*) = :n AS no_new_allocated_event FROM allocation.outbox
 WHERE aggregateid = 'AM-X' AND type = 'Allocated';

------------------------------------------------------------------------
-- Duplicates inside one call
------------------------------------------------------------------------
SELECT allocation.add_batch('AM-D1', 'AM-DUP', 10);

-- the same line twice with the same qty: the same batch, one event
SELECT * FROM allocation.allocate_many(ARRAY[
	('AM-d1', 'AM-DUP', 2),
	('AM-d1', 'AM-DUP', 2)]::allocation.order_line[]);
SELECT count(*) AS allocated_events FROM allocation.outbox
 WHERE aggregateid = 'AM-DUP' AND type = 'Allocated';
SELECT available FROM allocation.stock WHERE reference = 'AM-D1';

-- the same line with another qty: ZA003, and nothing of the call stays
-- (not even the lines before it)
SELECT count(*) AS n FROM allocation.outbox WHERE aggregateid = 'AM-DUP' \gset
SELECT * FROM allocation.allocate_many(ARRAY[
	('AM-d2', 'AM-DUP', 1),
	('AM-d3', 'AM-DUP', 1),
	('AM-d3', 'AM-DUP', 2)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'AM-DUP') = :n AS no_new_event,
       (SELECT available FROM allocation.stock WHERE reference = 'AM-D1') = 8 AS stock_unchanged,
       (SELECT count(*) FROM allocation.order_lines WHERE sku = 'AM-DUP') = 1 AS one_line,
       (SELECT version_number FROM allocation.products WHERE sku = 'AM-DUP') = 2 AS version_unchanged;
-- a line allocated before the call, with another qty: ZA003 as well
SELECT * FROM allocation.allocate_many(ARRAY[('AM-d1', 'AM-DUP', 3)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

------------------------------------------------------------------------
-- NULLs (22004), invalid lines (22023), unknown SKUs (ZA001)
------------------------------------------------------------------------
SELECT count(*) AS n FROM allocation.outbox WHERE aggregateid LIKE 'AM-%' \gset

SELECT * FROM allocation.allocate_many(NULL);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', 'AM-DUP', 1), NULL]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[(NULL, 'AM-DUP', 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', 'AM-DUP', 1), ('AM-n2', NULL, 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', 'AM-DUP', NULL)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- NULLs anywhere come first, then values, as a function's arguments: every
-- pair of lines made of a good line, a line with a NULL field and a line
-- with a field out of its domain, in both orders (the oracle: any NULL is
-- 22004, else any bad value 22023, else ok; the call is undone by HC000)
CREATE FUNCTION am_code(lines allocation.order_line[]) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM * FROM allocation.allocate_many(lines);
	RAISE SQLSTATE 'AM000';
EXCEPTION WHEN OTHERS THEN
	RETURN CASE SQLSTATE WHEN 'AM000' THEN 'ok' ELSE SQLSTATE END;
END
$$;
WITH kinds(kind, line) AS (VALUES
	('good', ROW('AM-g1', 'AM-DUP', 1)::allocation.order_line),
	('null', ROW(NULL, 'AM-DUP', 1)::allocation.order_line), ('null', ROW('AM-g2', NULL, 1)::allocation.order_line),
	('null', ROW('AM-g3', 'AM-DUP', NULL)::allocation.order_line), ('bad', ROW('', 'AM-DUP', 1)::allocation.order_line),
	('bad', ROW('AM-g4', ' ', 1)::allocation.order_line), ('bad', ROW('AM-g5', 'AM-DUP', 0)::allocation.order_line)),
cases AS (
	SELECT a.kind AS first, b.kind AS second, am_code(ARRAY[a.line, b.line]) AS code,
		   CASE WHEN 'null' IN (a.kind, b.kind) THEN '22004'
				WHEN 'bad' IN (a.kind, b.kind) THEN '22023' ELSE 'ok' END AS expected
	  FROM kinds a, kinds b)
SELECT count(*) AS cases, count(*) FILTER (WHERE code = expected) AS as_expected,
	   string_agg(DISTINCT format('%s+%s: %s', first, second, code), ', ') FILTER (WHERE code <> expected) AS others
  FROM cases;
DROP FUNCTION am_code(allocation.order_line[]);

SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', 'AM-DUP', 0)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', 'AM-DUP', 1), ('AM-n2', 'AM-DUP', -3)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('', 'AM-DUP', 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', '  ', 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[(E'AM-\tn1', 'AM-DUP', 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', repeat('s', 256), 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- arguments are checked before anything is looked up: an invalid qty
-- after an unknown SKU is 22023, not ZA001
SELECT * FROM allocation.allocate_many(ARRAY[('AM-n1', 'AM-NOPE', 1), ('AM-n2', 'AM-DUP', 0)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

-- an unknown SKU anywhere in the call: ZA001 naming it, nothing changed
SELECT * FROM allocation.allocate_many(ARRAY[
	('AM-n1', 'AM-DUP', 1),
	('AM-n2', 'AM-X', 1),
	('AM-n3', 'AM-NOPE', 1)]::allocation.order_line[]);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;

SELECT (SELECT count(*) FROM allocation.outbox WHERE aggregateid LIKE 'AM-%') = :n AS no_new_event,
       (SELECT count(*) FROM allocation.order_lines WHERE orderid LIKE 'AM-n%') = 0 AS no_line,
       (SELECT count(*) FROM allocation.allocations_view WHERE orderid LIKE 'AM-n%') = 0 AS no_read_model_row,
       (SELECT count(*) FROM allocation.products WHERE sku = 'AM-NOPE') = 0 AS no_product_created;

------------------------------------------------------------------------
-- Empty arrays; the result keeps the order of the lines
------------------------------------------------------------------------
SELECT count(*) AS rows FROM allocation.allocate_many('{}');
SELECT count(*) AS rows FROM allocation.allocate_many(ARRAY[]::allocation.order_line[]);

SELECT allocation.add_batch('AM-O1', 'AM-ORD', 10);
SELECT * FROM allocation.allocate_many(ARRAY[
	('AM-z', 'AM-ORD', 1),
	('AM-a', 'AM-ORD', 1),
	('AM-m', 'AM-ORD', 1)]::allocation.order_line[]);
-- and the lines were allocated in that order (rule 5 reads it)
SELECT orderid, seq FROM allocation.order_lines WHERE sku = 'AM-ORD' ORDER BY seq;

-- a member of allocation_user may call it
CREATE ROLE am_clerk LOGIN;
GRANT allocation_user TO am_clerk;
SET ROLE am_clerk;
SELECT * FROM allocation.allocate_many(ARRAY[('AM-u1', 'AM-ORD', 1)]::allocation.order_line[]);
RESET ROLE;
DROP ROLE am_clerk;

------------------------------------------------------------------------
-- A call larger than the chunks the adapters write (1,024 rows): lines,
-- events and read model of every chunk, events in the order of the lines
------------------------------------------------------------------------
SELECT allocation.add_batch('AM-C1', 'AM-CHUNK-A', 100000),
       allocation.add_batch('AM-C2', 'AM-CHUNK-B', 1500);
SELECT count(*) AS rows, count(batchref) AS allocated,
       count(*) FILTER (WHERE batchref IS NULL AND sku = 'AM-CHUNK-B') AS out_of_stock_b
  FROM allocation.allocate_many(ARRAY(
	SELECT ROW('AM-c' || g, CASE WHEN g % 2 = 0 THEN 'AM-CHUNK-A' ELSE 'AM-CHUNK-B' END,
			   CASE WHEN g % 2 = 0 THEN 1 ELSE 2 END)::allocation.order_line
	  FROM generate_series(1, 2600) g));
SELECT count(*) AS lines FROM allocation.order_lines WHERE orderid LIKE 'AM-c%';
SELECT count(*) AS read_model_rows FROM allocation.allocations_view WHERE orderid LIKE 'AM-c%';
-- one event a line (Allocated or OutOfStock), written in the order of the lines
SELECT count(*) AS events,
       bool_and(n = pos_rank) AS in_line_order
  FROM (SELECT substr(payload->>'orderid', 5)::int AS n,
			   rank() OVER (ORDER BY position) AS pos_rank
		  FROM allocation.outbox
		 WHERE aggregateid LIKE 'AM-CHUNK-%' AND type IN ('Allocated', 'OutOfStock')) e;

SELECT count(*) = 0 AS healthy FROM allocation.check_invariants() WHERE object LIKE 'AM-%';
