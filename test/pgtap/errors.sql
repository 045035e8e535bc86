-- test/pgtap/errors.sql: every error path of the commands (the contract: SQL interface),
-- with its SQLSTATE and, where it is stable, its message; after each
-- rejection, a check that the rejected call changed nothing.
--
-- Run with: pg_prove -d allocation_tap test/pgtap/errors.sql
-- (a database with CREATE EXTENSION pgtap and CREATE EXTENSION allocation)
BEGIN;
SELECT plan(256);

-- The whole observable state of the extension as one text: row counts and
-- the contents of products (versions), stock, the read model, order lines,
-- and the outbox.  Equal before and after a call means the call changed
-- nothing.
CREATE FUNCTION pg_temp.state() RETURNS text
LANGUAGE sql AS $$
SELECT format('products=%s batches=%s order_lines=%s outbox=%s allocations_view=%s'
              ' notifications=%s versions=%s stock=%s view=%s lines=%s events=%s',
  (SELECT count(*) FROM allocation.products),
  (SELECT count(*) FROM allocation.batches),
  (SELECT count(*) FROM allocation.order_lines),
  (SELECT count(*) FROM allocation.outbox),
  (SELECT count(*) FROM allocation.allocations_view),
  (SELECT count(*) FROM allocation.notifications),
  (SELECT md5(coalesce(string_agg(sku || ':' || version_number, ',' ORDER BY sku), ''))
     FROM allocation.products),
  (SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s|%s', reference, sku, eta, purchased, allocated),
                                  ',' ORDER BY reference), ''))
     FROM allocation.stock),
  (SELECT md5(coalesce(string_agg(format('%s|%s|%s', orderid, sku, batchref), ',' ORDER BY orderid, sku), ''))
     FROM allocation.allocations_view),
  (SELECT md5(coalesce(string_agg(format('%s|%s|%s|%s', orderid, sku, qty, batchref), ',' ORDER BY orderid, sku), ''))
     FROM allocation.order_lines),
  (SELECT md5(coalesce(string_agg(format('%s|%s|%s', aggregateid, type, payload), ',' ORDER BY id), ''))
     FROM allocation.outbox))
$$;

-- rejects(call, sqlstate, message, description): two assertions, that the
-- call raises sqlstate (and message, unless NULL) and that the state is the
-- same afterwards as before.
CREATE FUNCTION pg_temp.rejects(call text, errcode text, errmsg text, description text)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	before text := pg_temp.state();
BEGIN
	RETURN NEXT throws_ok(call, errcode, errmsg, description);
	RETURN NEXT is(pg_temp.state(), before, description || ': nothing changed');
END
$$;

-- A known product ERR-SKU with one batch ERR-B1 (10) and one allocated line
-- ERR-o3 (qty 1), so that in each call below only the argument under test
-- is wrong: without the check, the call would succeed and change something.
SELECT lives_ok($$SELECT allocation.add_batch('ERR-B1', 'ERR-SKU', 10)$$,
	'setup: batch ERR-B1 of ERR-SKU');
SELECT is(allocation.allocate('ERR-o3', 'ERR-SKU', 1), 'ERR-B1',
	'setup: line ERR-o3 (qty 1) allocated to ERR-B1');

------------------------------------------------------------------------
-- 22004: a NULL for any argument of any command (eta excepted: NULL is
-- its default)
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.add_batch(NULL, 'ERR-SKU', 1)$$,
	'22004', 'argument "ref" must not be null', 'add_batch: NULL ref is 22004');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-NEW', NULL, 1)$$,
	'22004', 'argument "sku" must not be null', 'add_batch: NULL sku is 22004');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-NEW', 'ERR-SKU', NULL)$$,
	'22004', 'argument "qty" must not be null', 'add_batch: NULL qty is 22004');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-NEW', 'ERR-SKU', NULL, '2031-01-01')$$,
	'22004', 'argument "qty" must not be null', 'add_batch: NULL qty with an eta is 22004');
SELECT pg_temp.rejects($$SELECT allocation.allocate(NULL, 'ERR-SKU', 1)$$,
	'22004', 'argument "orderid" must not be null', 'allocate: NULL orderid is 22004');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', NULL, 1)$$,
	'22004', 'argument "sku" must not be null', 'allocate: NULL sku is 22004');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'ERR-SKU', NULL)$$,
	'22004', 'argument "qty" must not be null', 'allocate: NULL qty is 22004');
SELECT pg_temp.rejects($$SELECT allocation.deallocate(NULL, 'ERR-SKU')$$,
	'22004', 'argument "orderid" must not be null', 'deallocate: NULL orderid is 22004');
SELECT pg_temp.rejects($$SELECT allocation.deallocate('ERR-o3', NULL)$$,
	'22004', 'argument "sku" must not be null', 'deallocate: NULL sku is 22004');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity(NULL, 1)$$,
	'22004', 'argument "ref" must not be null', 'change_batch_quantity: NULL ref is 22004');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('ERR-B1', NULL)$$,
	'22004', 'argument "qty" must not be null', 'change_batch_quantity: NULL qty is 22004');
-- every argument NULL at once (which one the message names is not specified)
SELECT pg_temp.rejects($$SELECT allocation.add_batch(NULL, NULL, NULL, NULL)$$,
	'22004', NULL, 'add_batch: all arguments NULL is 22004');
SELECT pg_temp.rejects($$SELECT allocation.allocate(NULL, NULL, NULL)$$,
	'22004', NULL, 'allocate: all arguments NULL is 22004');
SELECT pg_temp.rejects($$SELECT allocation.deallocate(NULL, NULL)$$,
	'22004', NULL, 'deallocate: all arguments NULL is 22004');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity(NULL, NULL)$$,
	'22004', NULL, 'change_batch_quantity: all arguments NULL is 22004');

------------------------------------------------------------------------
-- 22023: quantities out of their domain (qty <= 0 for a line, qty < 0 for
-- a batch)
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'ERR-SKU', 0)$$,
	'22023', 'invalid quantity 0 for an order line', 'allocate: qty 0 is 22023');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'ERR-SKU', -1)$$,
	'22023', 'invalid quantity -1 for an order line', 'allocate: qty -1 is 22023');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'ERR-SKU', -2147483648)$$,
	'22023', 'invalid quantity -2147483648 for an order line', 'allocate: the smallest integer qty is 22023');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-NEW', 'ERR-SKU', -1)$$,
	'22023', 'invalid quantity -1 for a batch', 'add_batch: qty -1 is 22023');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-NEW', 'ERR-NEWSKU', -2147483648)$$,
	'22023', 'invalid quantity -2147483648 for a batch', 'add_batch: the smallest integer qty is 22023 (and creates no product)');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('ERR-B1', -1)$$,
	'22023', 'invalid quantity -1 for a batch', 'change_batch_quantity: qty -1 is 22023');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('ERR-B1', -2147483648)$$,
	'22023', 'invalid quantity -2147483648 for a batch', 'change_batch_quantity: the smallest integer qty is 22023');

------------------------------------------------------------------------
-- 22023: identifiers out of their domain, in every identifier argument:
-- empty, blank (spaces only, no-break spaces only), over 255 characters
-- (ASCII or not), control characters (tab, newline, U+0085, DEL)
------------------------------------------------------------------------
SELECT pg_temp.rejects(format(c.call, v.value), '22023', format(v.message, c.arg),
                       format('%s: %s %s is 22023', c.fn, c.arg, v.label))
  FROM (VALUES
	(1, 'add_batch', 'ref', $$SELECT allocation.add_batch(%L, 'ERR-SKU', 1)$$),
	(2, 'add_batch', 'sku', $$SELECT allocation.add_batch('ERR-NEW', %L, 1)$$),
	(3, 'allocate', 'orderid', $$SELECT allocation.allocate(%L, 'ERR-SKU', 1)$$),
	(4, 'allocate', 'sku', $$SELECT allocation.allocate('ERR-o1', %L, 1)$$),
	(5, 'deallocate', 'orderid', $$SELECT allocation.deallocate(%L, 'ERR-SKU')$$),
	(6, 'deallocate', 'sku', $$SELECT allocation.deallocate('ERR-o3', %L)$$),
	(7, 'change_batch_quantity', 'ref', $$SELECT allocation.change_batch_quantity(%L, 1)$$)
  ) AS c(n, fn, arg, call),
  (VALUES
	(1, 'empty', '', '%s must not be empty'),
	(2, 'of spaces only', '   ', '%s must not be blank'),
	(3, 'of no-break spaces only', E'\u00A0\u00A0', '%s must not be blank'),
	(4, 'of 256 characters', repeat('x', 256), '%s is too long (256 characters)'),
	(5, 'of 256 two-byte characters', repeat('é', 256), '%s is too long (256 characters)'),
	(6, 'with a tab', E'ERR\tX', '%s must not contain control characters'),
	(7, 'with a newline', E'ERR-X\n', '%s must not contain control characters'),
	(8, 'with U+0085 (NEL)', E'ERR\u0085X', '%s must not contain control characters'),
	(9, 'with DEL', E'ERR\u007FX', '%s must not contain control characters'),
	(10, 'of a tab only', E'\t', '%s must not contain control characters')
  ) AS v(n, label, value, message)
 ORDER BY c.n, v.n;

------------------------------------------------------------------------
-- Values at the edge of the domain are accepted
------------------------------------------------------------------------
SELECT lives_ok($$SELECT allocation.add_batch(repeat('R', 255), 'ERR-SKU', 1)$$,
	'add_batch: a ref of 255 characters is accepted');
SELECT lives_ok($$SELECT allocation.add_batch('ERR-B255', repeat('S', 255), 1)$$,
	'add_batch: a sku of 255 characters is accepted');
SELECT lives_ok($$SELECT allocation.add_batch(repeat('ü', 255), repeat('ß', 255), 1)$$,
	'add_batch: ref and sku of 255 two-byte characters are accepted');
SELECT is(allocation.allocate(repeat('o', 255), 'ERR-SKU', 1), 'ERR-B1',
	'allocate: an orderid of 255 characters is accepted');
SELECT is(allocation.allocate('ERR-o255', repeat('S', 255), 1), 'ERR-B255',
	'allocate: a sku of 255 characters is accepted');
SELECT is(allocation.deallocate(repeat('o', 255), 'ERR-SKU'), 'ERR-B1',
	'deallocate: an orderid of 255 characters is accepted');
SELECT is(allocation.deallocate('ERR-o255', repeat('S', 255)), 'ERR-B255',
	'deallocate: a sku of 255 characters is accepted');
SELECT lives_ok($$SELECT allocation.change_batch_quantity(repeat('R', 255), 2)$$,
	'change_batch_quantity: a ref of 255 characters is accepted');
SELECT is((SELECT purchased FROM allocation.stock WHERE reference = repeat('R', 255)), 2,
	'change_batch_quantity: ... and changed that batch');
SELECT lives_ok($$SELECT allocation.add_batch(' ERR B 2 ', 'ERR-SKU', 1, '2031-01-01')$$,
	'add_batch: spaces around and inside an identifier are not blank');
SELECT is(allocation.allocate('order 1', 'ERR-SKU', 1), 'ERR-B1',
	'allocate: an orderid with a space is accepted');
SELECT lives_ok($$SELECT allocation.add_batch('ERR-B0', 'ERR-SKU', 0)$$,
	'add_batch: qty 0 is accepted for a batch');
SELECT lives_ok($$SELECT allocation.change_batch_quantity('ERR-B0', 0)$$,
	'change_batch_quantity: qty 0 is accepted');
SELECT lives_ok($$SELECT allocation.add_batch('ERR-BNULL', 'ERR-SKU', 1, NULL)$$,
	'add_batch: a NULL eta is accepted (the batch is in the warehouse)');

------------------------------------------------------------------------
-- 23505: a batch reference that already exists, in the same SKU or in
-- another one (which must not be created)
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-B1', 'ERR-SKU', 1)$$,
	'23505', 'batch reference "ERR-B1" already exists', 'add_batch: a duplicate reference is 23505');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-B1', 'ERR-SKU', 10, '2031-01-01')$$,
	'23505', 'batch reference "ERR-B1" already exists', 'add_batch: a duplicate reference with an eta is 23505');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-B1', 'ERR-OTHER', 1)$$,
	'23505', 'batch reference "ERR-B1" already exists', 'add_batch: a duplicate reference in another SKU is 23505');
SELECT is((SELECT count(*) FROM allocation.products WHERE sku = 'ERR-OTHER'), 0::bigint,
	'add_batch: the rejected duplicate created no product ERR-OTHER');
SELECT lives_ok($$SELECT allocation.add_batch('err-b1', 'ERR-SKU', 1)$$,
	'add_batch: references are case-sensitive, "err-b1" is not "ERR-B1"');

------------------------------------------------------------------------
-- ZA001: unknown SKU in allocate and deallocate, the message names it
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'NOPE', 1)$$,
	'ZA001', 'invalid sku "NOPE"', 'allocate: an unknown SKU is ZA001');
SELECT pg_temp.rejects($$SELECT allocation.deallocate('ERR-o1', 'NOPE')$$,
	'ZA001', 'invalid sku "NOPE"', 'deallocate: an unknown SKU is ZA001');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'err-sku', 1)$$,
	'ZA001', 'invalid sku "err-sku"', 'allocate: SKUs are case-sensitive, "err-sku" is unknown');
SELECT pg_temp.rejects($$SELECT allocation.deallocate('ERR-o3', 'ERR-SKU ')$$,
	'ZA001', 'invalid sku "ERR-SKU "', 'deallocate: a trailing space makes another, unknown SKU');
SELECT is((SELECT count(*) FROM allocation.products WHERE sku IN ('NOPE', 'err-sku')), 0::bigint,
	'allocate: an unknown SKU does not create a product');

------------------------------------------------------------------------
-- ZA002: unknown batch reference in change_batch_quantity
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('NOPE', 1)$$,
	'ZA002', 'unknown batch reference "NOPE"', 'change_batch_quantity: an unknown batch is ZA002');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('ERR-b1', 0)$$,
	'ZA002', 'unknown batch reference "ERR-b1"', 'change_batch_quantity: references are case-sensitive');

------------------------------------------------------------------------
-- ZA003: the same (orderid, sku) with another quantity
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o3', 'ERR-SKU', 2)$$,
	'ZA003', 'order line "ERR-o3" of sku "ERR-SKU" is already allocated with quantity 1',
	'allocate: a larger qty for an allocated line is ZA003');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o3', 'ERR-SKU', 1000)$$,
	'ZA003', NULL, 'allocate: a qty no batch could hold for an allocated line is ZA003, not out of stock');
SELECT is(allocation.allocate('ERR-o3', 'ERR-SKU', 1), 'ERR-B1',
	'allocate: the same qty is still answered with the same batch after the rejections');

------------------------------------------------------------------------
-- Arguments are checked (22004, 22023) before anything is looked up
------------------------------------------------------------------------
SELECT pg_temp.rejects($$SELECT allocation.allocate('', 'UNKNOWN', 1)$$,
	'22023', 'orderid must not be empty', 'allocate: an empty orderid on an unknown SKU is 22023, not ZA001');
SELECT pg_temp.rejects($$SELECT allocation.allocate(NULL, 'UNKNOWN', 0)$$,
	'22004', NULL, 'allocate: NULL orderid, unknown SKU and qty 0 is 22004');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'UNKNOWN', 0)$$,
	'22023', 'invalid quantity 0 for an order line', 'allocate: qty 0 on an unknown SKU is 22023, not ZA001');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o1', 'UNKNOWN', NULL)$$,
	'22004', 'argument "qty" must not be null', 'allocate: NULL qty on an unknown SKU is 22004, not ZA001');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o3', 'ERR-SKU', 0)$$,
	'22023', 'invalid quantity 0 for an order line', 'allocate: qty 0 for an allocated line is 22023, not ZA003');
SELECT pg_temp.rejects($$SELECT allocation.allocate('ERR-o3', 'ERR-SKU', NULL)$$,
	'22004', 'argument "qty" must not be null', 'allocate: NULL qty for an allocated line is 22004, not ZA003');
SELECT pg_temp.rejects($$SELECT allocation.deallocate('', 'UNKNOWN')$$,
	'22023', 'orderid must not be empty', 'deallocate: an empty orderid on an unknown SKU is 22023, not ZA001');
SELECT pg_temp.rejects($$SELECT allocation.deallocate(NULL, 'UNKNOWN')$$,
	'22004', 'argument "orderid" must not be null', 'deallocate: NULL orderid on an unknown SKU is 22004, not ZA001');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('UNKNOWN', -1)$$,
	'22023', 'invalid quantity -1 for a batch', 'change_batch_quantity: qty -1 on an unknown batch is 22023, not ZA002');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity('UNKNOWN', NULL)$$,
	'22004', 'argument "qty" must not be null', 'change_batch_quantity: NULL qty on an unknown batch is 22004, not ZA002');
SELECT pg_temp.rejects($$SELECT allocation.change_batch_quantity(repeat('U', 256), 1)$$,
	'22023', 'ref is too long (256 characters)', 'change_batch_quantity: an over-long unknown ref is 22023, not ZA002');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-B1', 'ERR-SKU', -1)$$,
	'22023', 'invalid quantity -1 for a batch', 'add_batch: qty -1 for an existing reference is 22023, not 23505');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-B1', '', 1)$$,
	'22023', 'sku must not be empty', 'add_batch: an empty sku for an existing reference is 22023, not 23505');
SELECT pg_temp.rejects($$SELECT allocation.add_batch('ERR-B1', 'ERR-SKU', NULL)$$,
	'22004', 'argument "qty" must not be null', 'add_batch: NULL qty for an existing reference is 22004, not 23505');

------------------------------------------------------------------------
-- A rejection inside a transaction block: the caller can roll back to a
-- savepoint and go on; nothing of the rejected call remains
------------------------------------------------------------------------
SELECT is(allocation.allocate('ERR-o9', 'ERR-SKU', 1), 'ERR-B1',
	'allocate: after all the rejections the transaction is still usable');
SELECT is((SELECT allocated FROM allocation.stock WHERE reference = 'ERR-B1'), 3,
	'stock: ERR-B1 holds exactly the three accepted lines (ERR-o3, "order 1", ERR-o9)');

SELECT * FROM finish();
ROLLBACK;
