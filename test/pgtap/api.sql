-- test/pgtap/api.sql: the SQL interface of the contract's SQL interface and events - schema,
-- function signatures and results, views and their columns, the outbox
-- columns and types, volatility and strictness of the commands - and the
-- results of allocations() and the stock view after a small scenario.
--
-- Run with: pg_prove -d allocation_tap test/pgtap/api.sql
-- (a database with CREATE EXTENSION pgtap and CREATE EXTENSION allocation)
BEGIN;
SELECT plan(66);

------------------------------------------------------------------------
-- schema and functions
------------------------------------------------------------------------
SELECT has_schema('allocation', 'schema allocation exists');

SELECT has_function('allocation', 'add_batch', ARRAY['text', 'text', 'integer', 'date'],
	'add_batch(text, text, integer, date) exists');
SELECT has_function('allocation', 'allocate', ARRAY['text', 'text', 'integer'],
	'allocate(text, text, integer) exists');
SELECT has_function('allocation', 'deallocate', ARRAY['text', 'text'],
	'deallocate(text, text) exists');
SELECT has_function('allocation', 'change_batch_quantity', ARRAY['text', 'integer'],
	'change_batch_quantity(text, integer) exists');
SELECT has_function('allocation', 'allocations', ARRAY['text'],
	'allocations(text) exists');

SELECT function_returns('allocation', 'add_batch', ARRAY['text', 'text', 'integer', 'date'], 'void',
	'add_batch returns void');
SELECT function_returns('allocation', 'allocate', ARRAY['text', 'text', 'integer'], 'text',
	'allocate returns text');
SELECT function_returns('allocation', 'deallocate', ARRAY['text', 'text'], 'text',
	'deallocate returns text');
SELECT function_returns('allocation', 'change_batch_quantity', ARRAY['text', 'integer'], 'void',
	'change_batch_quantity returns void');
SELECT function_returns('allocation', 'allocations', ARRAY['text'], 'setof record',
	'allocations returns a set of rows');

-- the argument names of the contract's SQL interface (they are the field names of the
-- messages of section 5, and callers may use named notation), and eta's
-- default
SELECT is(pg_get_function_arguments('allocation.add_batch(text, text, integer, date)'::regprocedure),
	'ref text, sku text, qty integer, eta date DEFAULT NULL::date',
	'add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL)');
SELECT is(pg_get_function_arguments('allocation.allocate(text, text, integer)'::regprocedure),
	'orderid text, sku text, qty integer',
	'allocate(orderid text, sku text, qty integer)');
SELECT is(pg_get_function_arguments('allocation.deallocate(text, text)'::regprocedure),
	'orderid text, sku text',
	'deallocate(orderid text, sku text)');
SELECT is(pg_get_function_arguments('allocation.change_batch_quantity(text, integer)'::regprocedure),
	'ref text, qty integer',
	'change_batch_quantity(ref text, qty integer)');
SELECT is(pg_get_function_arguments('allocation.allocations(text)'::regprocedure),
	'orderid text',
	'allocations(orderid text)');
SELECT is(pg_get_function_result('allocation.allocations(text)'::regprocedure),
	'TABLE(sku text, batchref text)',
	'allocations returns TABLE (sku text, batchref text)');

-- the commands are VOLATILE (they write) and not STRICT (a NULL argument
-- is error 22004, not a silent NULL result)
SELECT is(p.provolatile, 'v', format('%s is VOLATILE', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.oid IN ('allocation.add_batch(text, text, integer, date)'::regprocedure,
                 'allocation.allocate(text, text, integer)'::regprocedure,
                 'allocation.deallocate(text, text)'::regprocedure,
                 'allocation.change_batch_quantity(text, integer)'::regprocedure)
 ORDER BY p.proname;
SELECT is(p.proisstrict, false, format('%s is not STRICT', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.oid IN ('allocation.add_batch(text, text, integer, date)'::regprocedure,
                 'allocation.allocate(text, text, integer)'::regprocedure,
                 'allocation.deallocate(text, text)'::regprocedure,
                 'allocation.change_batch_quantity(text, integer)'::regprocedure)
 ORDER BY p.proname;

-- exactly one function of each command name: no overload that a call with
-- untyped literals could resolve to instead
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE pronamespace = 'allocation'::regnamespace AND proname = n), 1,
          format('one function allocation.%s', n))
  FROM unnest(ARRAY['add_batch', 'allocate', 'deallocate', 'change_batch_quantity', 'allocations']) n
 ORDER BY n;

------------------------------------------------------------------------
-- views: stock (one row a batch) and products (one row a product)
------------------------------------------------------------------------
SELECT has_view('allocation', 'stock', 'view allocation.stock exists');
SELECT has_column('allocation', 'stock', c, format('stock has column %s', c))
  FROM unnest(ARRAY['reference', 'sku', 'eta', 'purchased', 'allocated', 'available'])
       WITH ORDINALITY AS t(c, n)
 ORDER BY n;
SELECT col_type_is('allocation', 'stock', 'eta', 'date', 'stock.eta is a date');

-- products may be a table or a view (the contract: SQL interface)
SELECT has_relation('allocation', 'products', 'relation allocation.products exists');
SELECT ok((SELECT relkind IN ('r', 'v', 'm', 'p') FROM pg_class
            WHERE oid = 'allocation.products'::regclass),
          'allocation.products is a table or a view');
SELECT has_column('allocation', 'products', 'sku', 'products has column sku');
SELECT has_column('allocation', 'products', 'version_number', 'products has column version_number');

------------------------------------------------------------------------
-- the outbox: the columns outbox relays expect, with their types
------------------------------------------------------------------------
SELECT has_table('allocation', 'outbox', 'table allocation.outbox exists');
SELECT has_column('allocation', 'outbox', c, format('outbox has column %s', c))
  FROM unnest(ARRAY['id', 'aggregatetype', 'aggregateid', 'type', 'payload', 'occurred_at'])
       WITH ORDINALITY AS t(c, n)
 ORDER BY n;
SELECT col_type_is('allocation', 'outbox', c, ty, format('outbox.%s is %s', c, ty))
  FROM (VALUES (1, 'id', 'uuid'), (2, 'aggregatetype', 'text'), (3, 'aggregateid', 'text'),
               (4, 'type', 'text'), (5, 'payload', 'jsonb'),
               (6, 'occurred_at', 'timestamp with time zone')) AS t(n, c, ty)
 ORDER BY n;

------------------------------------------------------------------------
-- a small scenario, read back through allocations() and stock
------------------------------------------------------------------------

-- results_eq, but an error inside it (for example a comparison of the
-- rows that PostgreSQL refuses) is reported as a failed assertion with the
-- error as diagnostics, instead of ending the whole file
CREATE FUNCTION pg_temp.results_eq_or_fail(have text, want text, description text)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	RETURN results_eq(have, want, description);
EXCEPTION WHEN OTHERS THEN
	RETURN fail(description) || E'\n'
		|| diag(format('    results_eq raised %s: %s', SQLSTATE, SQLERRM));
END
$$;

SELECT lives_ok($$
	SELECT allocation.add_batch('API-W1', 'API-SHELF', 5);
	SELECT allocation.add_batch('API-S1', 'API-SHELF', 10, '2031-04-01');
	SELECT allocation.add_batch('API-W2', 'API-BOOK', 3);
	SELECT allocation.allocate('API-o1', 'API-SHELF', 4);
	SELECT allocation.allocate('API-o1', 'API-BOOK', 3);
	SELECT allocation.allocate('API-o2', 'API-SHELF', 2);
	SELECT allocation.allocate('API-o3', 'API-BOOK', 1)
$$, 'scenario: three batches, four allocations (one out of stock)');

-- the rows of allocations() and stock are rows of ordinary text, int and
-- date columns: they compare with rows built from plain literals (which is
-- what results_eq and any client-side row comparison do)
SELECT lives_ok(
	$$SELECT a = ROW('API-BOOK'::text, 'API-W2'::text) FROM allocation.allocations('API-o1') a$$,
	'a row of allocations() compares with a row of text values');
SELECT lives_ok(
	$$SELECT s = ROW('API-W2'::text, 'API-BOOK'::text, NULL::date, 3, 3, 0)
	    FROM allocation.stock s WHERE reference = 'API-W2'$$,
	'a row of stock compares with a row of plain values');

SELECT pg_temp.results_eq_or_fail(
	$$SELECT sku, batchref FROM allocation.allocations('API-o1')$$,
	$$VALUES ('API-BOOK'::text, 'API-W2'::text), ('API-SHELF', 'API-W1')$$,
	'allocations(API-o1): both lines, ordered by sku');
SELECT pg_temp.results_eq_or_fail(
	$$SELECT sku, batchref FROM allocation.allocations('API-o2')$$,
	$$VALUES ('API-SHELF'::text, 'API-S1'::text)$$,
	'allocations(API-o2): the line that did not fit the warehouse batch went to the shipment');
SELECT is_empty(
	$$SELECT * FROM allocation.allocations('API-o3')$$,
	'allocations(API-o3): an out-of-stock line has no allocation');
SELECT pg_temp.results_eq_or_fail(
	$$SELECT reference, sku, eta, purchased, allocated, available
	    FROM allocation.stock WHERE sku LIKE 'API-%' ORDER BY reference$$,
	$$VALUES ('API-S1'::text, 'API-SHELF'::text, date '2031-04-01', 10, 2, 8),
	         ('API-W1', 'API-SHELF', NULL, 5, 4, 1),
	         ('API-W2', 'API-BOOK', NULL, 3, 3, 0)$$,
	'stock: one row a batch with purchased, allocated and available');
SELECT pg_temp.results_eq_or_fail(
	$$SELECT sku, version_number FROM allocation.products WHERE sku LIKE 'API-%' ORDER BY sku$$,
	$$VALUES ('API-BOOK'::text, 2::bigint), ('API-SHELF', 4)$$,
	'products: one row a product with its version_number');

-- after a deallocation and a quantity change with reallocation
SELECT lives_ok($$
	SELECT allocation.deallocate('API-o1', 'API-BOOK');
	SELECT allocation.change_batch_quantity('API-W1', 3)
$$, 'scenario: deallocate API-o1 of API-BOOK, lower API-W1 to 3');
SELECT pg_temp.results_eq_or_fail(
	$$SELECT sku, batchref FROM allocation.allocations('API-o1')$$,
	$$VALUES ('API-SHELF'::text, 'API-S1'::text)$$,
	'allocations(API-o1): BOOK deallocated, SHELF displaced from API-W1 to API-S1');
SELECT pg_temp.results_eq_or_fail(
	$$SELECT reference, purchased, allocated, available
	    FROM allocation.stock WHERE sku LIKE 'API-%' ORDER BY reference$$,
	$$VALUES ('API-S1'::text, 10, 6, 4), ('API-W1', 3, 0, 3), ('API-W2', 3, 0, 3)$$,
	'stock after the deallocation and the reallocation');

SELECT * FROM finish();
ROLLBACK;
