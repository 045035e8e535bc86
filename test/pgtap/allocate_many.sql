-- test/pgtap/allocate_many.sql: allocation.allocate_many(lines
-- allocation.order_line[]) gives, line by line, the results and events of
-- consecutive allocate calls; duplicates inside one call; out-of-stock
-- lines among others; NULLs (22004), invalid lines (22023) and unknown
-- SKUs (ZA001) change nothing; an empty array returns no row.
--
-- Run with: pg_prove -d tap_bus test/pgtap/allocate_many.sql
-- (a database with CREATE EXTENSION pgtap and CREATE EXTENSION allocation)
BEGIN;
SELECT plan(37);

SELECT has_function('allocation', 'allocate_many', ARRAY['allocation.order_line[]'],
	'allocate_many(order_line[]) exists');
SELECT function_returns('allocation', 'allocate_many', ARRAY['allocation.order_line[]'], 'setof record',
	'allocate_many returns a set of rows');

-- what allocate_many may change, as one text (equal = nothing changed)
CREATE FUNCTION pg_temp.state() RETURNS text
LANGUAGE sql AS $$
SELECT format('%s|%s|%s|%s|%s',
  (SELECT string_agg(format('%s:%s', sku, version_number), ',' ORDER BY sku) FROM allocation.products WHERE sku LIKE 'BM-%'),
  (SELECT string_agg(format('%s:%s', reference, allocated), ',' ORDER BY reference) FROM allocation.stock WHERE sku LIKE 'BM-%'),
  (SELECT string_agg(format('%s:%s:%s', orderid, sku, batchref), ',' ORDER BY orderid, sku) FROM allocation.order_lines WHERE sku LIKE 'BM-%'),
  (SELECT string_agg(format('%s:%s', orderid, sku), ',' ORDER BY orderid, sku) FROM allocation.allocations_view WHERE sku LIKE 'BM-%'),
  (SELECT count(*) FROM allocation.outbox WHERE aggregateid LIKE 'BM-%'))
$$;

-- two identical set-ups: X served by allocate_many, Y by allocate
CREATE FUNCTION pg_temp.setup(p text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM allocation.add_batch(p || '-B1', p, 4);
	PERFORM allocation.add_batch(p || '-B2', p, 6, '2031-01-01');
	PERFORM allocation.add_batch(p || '-B3', p, 6, '2030-01-01');
	PERFORM allocation.add_batch(p || '-T1', p || 'T', 1);
	PERFORM allocation.allocate('BM-o0', p, 1);
END
$$;
SELECT pg_temp.setup('BM-X'), pg_temp.setup('BM-Y') \g /dev/null

-- the lines, in order
CREATE TEMP TABLE lines (ord int, orderid text, sku text, qty int);
INSERT INTO lines VALUES
	(1, 'BM-o1', '', 3),	-- warehouse batch
	(2, 'BM-o2', 'T', 1),	-- the other SKU
	(3, 'BM-o3', '', 5),	-- earliest shipment (B3)
	(4, 'BM-o4', '', 50),	-- out of stock
	(5, 'BM-o0', '', 1),	-- allocated before the call (rule 4)
	(6, 'BM-o5', 'T', 1),	-- out of stock: o2 took the last unit
	(7, 'BM-o6', '', 6),	-- the later shipment (B2)
	(8, 'BM-o7', '', 1);	-- the last unit of B3

------------------------------------------------------------------------
-- The same as consecutive allocate calls (10)
------------------------------------------------------------------------
CREATE TEMP TABLE many AS
SELECT * FROM allocation.allocate_many(
	(SELECT array_agg((orderid, 'BM-X' || sku, qty)::allocation.order_line ORDER BY ord) FROM lines));
CREATE TEMP TABLE one_by_one (ord int, batchref text);
INSERT INTO one_by_one
SELECT ord, allocation.allocate(orderid, 'BM-Y' || sku, qty) FROM (SELECT * FROM lines ORDER BY ord) l;

SELECT results_eq(
	$$SELECT orderid, sku, batchref FROM many$$,
	$$SELECT orderid, 'BM-X' || sku, replace(batchref, 'BM-Y', 'BM-X') FROM lines JOIN one_by_one USING (ord) ORDER BY ord$$,
	'allocate_many returns, in the order of the lines, what allocate returns for each');
SELECT results_eq(
	$$SELECT batchref FROM many$$,
	$$VALUES ('BM-X-B1'), ('BM-X-T1'), ('BM-X-B3'), (NULL), ('BM-X-B1'), (NULL), ('BM-X-B2'), ('BM-X-B3')$$,
	'the batches follow the rules: warehouse, earliest eta, out of stock as NULL');
SELECT results_eq(
	$$SELECT aggregate_seq, type, replace(payload::text, 'BM-X', 'BM-Y')::jsonb FROM allocation.outbox
	   WHERE aggregateid = 'BM-X' ORDER BY aggregate_seq$$,
	$$SELECT aggregate_seq, type, payload FROM allocation.outbox
	   WHERE aggregateid = 'BM-Y' ORDER BY aggregate_seq$$,
	'the same events, in the same order, as consecutive allocate calls');
SELECT results_eq(
	$$SELECT aggregate_seq, type, replace(payload::text, 'BM-X', 'BM-Y')::jsonb FROM allocation.outbox
	   WHERE aggregateid = 'BM-XT' ORDER BY aggregate_seq$$,
	$$SELECT aggregate_seq, type, payload FROM allocation.outbox
	   WHERE aggregateid = 'BM-YT' ORDER BY aggregate_seq$$,
	'... for the other SKU too');
SELECT is((SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'BM-X' AND type = 'Allocated'
             AND payload->>'orderid' = 'BM-o0'), 1::bigint,
          'the line allocated before the call got no second Allocated event');
SELECT results_eq(
	$$SELECT replace(sku, 'BM-X', 'BM-Y'), version_number FROM allocation.products WHERE sku IN ('BM-X', 'BM-XT') ORDER BY sku$$,
	$$SELECT sku, version_number FROM allocation.products WHERE sku IN ('BM-Y', 'BM-YT') ORDER BY sku$$,
	'the same versions');
SELECT results_eq(
	$$SELECT replace(reference, 'BM-X', 'BM-Y'), purchased, allocated FROM allocation.stock WHERE sku IN ('BM-X', 'BM-XT') ORDER BY reference$$,
	$$SELECT reference, purchased, allocated FROM allocation.stock WHERE sku IN ('BM-Y', 'BM-YT') ORDER BY reference$$,
	'the same stock');
SELECT results_eq(
	$$SELECT orderid, batchref FROM allocation.allocations_view WHERE sku = 'BM-X' ORDER BY orderid$$,
	$$SELECT orderid, batchref FROM allocation.order_lines WHERE sku = 'BM-X' ORDER BY orderid$$,
	'the read model follows');
SELECT results_eq(
	$$SELECT orderid COLLATE "default" FROM allocation.order_lines WHERE sku = 'BM-X' ORDER BY seq$$,
	$$VALUES ('BM-o0'), ('BM-o1'), ('BM-o3'), ('BM-o6'), ('BM-o7')$$,
	'the lines were allocated in the order given (rule 5 reads it)');
SELECT is_empty($$SELECT * FROM allocation.check_invariants() WHERE object LIKE 'BM-%'$$,
	'check_invariants finds nothing wrong');

------------------------------------------------------------------------
-- Duplicates inside one call (5)
------------------------------------------------------------------------
SELECT allocation.add_batch('BM-D1', 'BM-DUP', 10) \g /dev/null
SELECT results_eq(
	$$SELECT * FROM allocation.allocate_many(ARRAY[('BM-d1', 'BM-DUP', 2), ('BM-d1', 'BM-DUP', 2)]::allocation.order_line[])$$,
	$$VALUES ('BM-d1', 'BM-DUP', 'BM-D1'), ('BM-d1', 'BM-DUP', 'BM-D1')$$,
	'the same line twice with the same qty: the same batch twice');
SELECT is((SELECT count(*) FROM allocation.outbox WHERE aggregateid = 'BM-DUP' AND type = 'Allocated'),
          1::bigint, '... and one Allocated event');
SELECT is((SELECT allocated FROM allocation.stock WHERE reference = 'BM-D1'), 2, '... and 2 allocated');
SELECT pg_temp.state() AS before_dup \gset
SELECT throws_ok(
	$$SELECT * FROM allocation.allocate_many(ARRAY[('BM-d2', 'BM-DUP', 1), ('BM-d3', 'BM-DUP', 1), ('BM-d3', 'BM-DUP', 3)]::allocation.order_line[])$$,
	'ZA003', 'order line "BM-d3" of sku "BM-DUP" is already allocated with quantity 1',
	'the same line with another qty in one call is ZA003');
SELECT is(pg_temp.state(), :'before_dup', '... and nothing of the call stays, not even the lines before it');

------------------------------------------------------------------------
-- NULLs, invalid lines, unknown SKUs: nothing changes (16 + 2)
------------------------------------------------------------------------
SELECT pg_temp.state() AS before_bad \gset
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(NULL)$$,
	'22004', 'argument "lines" must not be null', 'a NULL array is 22004');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-DUP', 1), NULL]::allocation.order_line[])$$,
	'22004', 'line 2 must not be null', 'a NULL line is 22004 naming its position');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[(NULL, 'BM-DUP', 1)]::allocation.order_line[])$$,
	'22004', 'orderid of line 1 must not be null', 'a NULL orderid is 22004');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', NULL, 1)]::allocation.order_line[])$$,
	'22004', 'sku of line 1 must not be null', 'a NULL sku is 22004');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-DUP', 1), ('BM-n2', 'BM-DUP', NULL)]::allocation.order_line[])$$,
	'22004', 'qty of line 2 must not be null', 'a NULL qty is 22004');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[NULL::allocation.order_line])$$,
	'22004', 'line 1 must not be null', 'an array of one NULL is 22004');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-DUP', 0)]::allocation.order_line[])$$,
	'22023', 'invalid quantity 0 for line 1', 'qty 0 is 22023');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-DUP', 1), ('BM-n2', 'BM-DUP', -1)]::allocation.order_line[])$$,
	'22023', 'invalid quantity -1 for line 2', 'a negative qty is 22023');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('', 'BM-DUP', 1)]::allocation.order_line[])$$,
	'22023', 'orderid must not be empty', 'an empty orderid is 22023');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', ' ', 1)]::allocation.order_line[])$$,
	'22023', 'sku must not be blank', 'a blank sku is 22023');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[(E'BM-\x01', 'BM-DUP', 1)]::allocation.order_line[])$$,
	'22023', 'orderid must not contain control characters', 'a control character is 22023');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[(repeat('o', 256), 'BM-DUP', 1)]::allocation.order_line[])$$,
	'22023', 'orderid is too long (256 characters)', 'an orderid over 255 characters is 22023');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-NOPE', 1), ('BM-n2', 'BM-DUP', 0)]::allocation.order_line[])$$,
	'22023', 'invalid quantity 0 for line 2', 'every line is checked before any SKU is looked up');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-NOPE', 1)]::allocation.order_line[])$$,
	'ZA001', 'invalid sku "BM-NOPE"', 'an unknown SKU is ZA001 naming it');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-DUP', 1), ('BM-n2', 'BM-X', 1), ('BM-n3', 'BM-NOPE', 1)]::allocation.order_line[])$$,
	'ZA001', 'invalid sku "BM-NOPE"', 'an unknown SKU after valid lines is ZA001');
SELECT throws_ok($$SELECT * FROM allocation.allocate_many(ARRAY[('BM-n1', 'BM-ZZZ-NOPE', 1), ('BM-n2', 'BM-AAA-NOPE', 1)]::allocation.order_line[])$$,
	'ZA001', NULL, 'several unknown SKUs are ZA001');
SELECT is(pg_temp.state(), :'before_bad', 'no rejected call changed anything');
SELECT is_empty($$SELECT 1 FROM allocation.products WHERE sku LIKE '%NOPE%'$$, 'no product was created for an unknown SKU');

------------------------------------------------------------------------
-- Empty arrays (2)
------------------------------------------------------------------------
SELECT is_empty($$SELECT * FROM allocation.allocate_many('{}')$$, 'an empty array returns no row');
SELECT is_empty($$SELECT * FROM allocation.allocate_many(ARRAY[]::allocation.order_line[])$$,
	'an empty typed array returns no row');

SELECT * FROM finish();
ROLLBACK;
