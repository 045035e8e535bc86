--
-- allocate reads batches in preference order and stops at the first that
-- can take the line: on a SKU with a thousand batches with stock it reads
-- a bounded number of batch rows (counted by pg_stat_xact_user_tables,
-- which sees this transaction's own reads), and allocate_many reads
-- further batches, in the same order, as its lines use them up.
-- SKUs, references and order ids of this file start with "AF-".
--
\set VERBOSITY terse

-- a SKU with 1,000 batches with stock: three in the warehouse, the rest
-- on the way, added in an order that is not the preference order
SELECT count(allocation.add_batch(format('AF-W-%s', lpad((1000 - b)::text, 4, '0')),
								  'AF-WIDE', 10,
								  CASE WHEN b <= 3 THEN NULL ELSE DATE '2031-01-01' + b % 97 END))
  FROM generate_series(1, 1000) b;

-- batch rows read by one allocate: at most a handful, not a thousand
BEGIN;
CREATE TEMP TABLE af_before AS
SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) AS n
  FROM pg_stat_xact_user_tables WHERE relid = 'allocation.batches'::regclass;
SELECT allocation.allocate('AF-o1', 'AF-WIDE', 1) AS batchref;
SELECT (SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0)
		  FROM pg_stat_xact_user_tables
		 WHERE relid = 'allocation.batches'::regclass) - n <= 5 AS few_batch_rows_read
  FROM af_before;
-- a line the first batch can no longer hold goes to the next warehouse
-- batch (AF-W-0998), read after it
SELECT allocation.allocate('AF-o2', 'AF-WIDE', 10) AS batchref;
ROLLBACK;


-- generated: 300 small batches with etas that tie, references whose byte
-- order differs from a linguistic one (upper/lower case, digits); one
-- allocate_many of as many lines of qty 1 as there are units uses them up
-- in preference order, page after page
SELECT count(allocation.add_batch(
		 format('AF-%s%s', CASE b % 3 WHEN 0 THEN 'a' WHEN 1 THEN 'B' ELSE 'b' END, (b * 37) % 301),
		 'AF-PAGED', 1 + b % 3,
		 CASE WHEN b % 5 = 0 THEN NULL ELSE DATE '2031-01-01' + (b * 7) % 11 END))
  FROM generate_series(1, 300) b;
SELECT count(*) AS allocated, count(batchref) AS placed
  FROM allocation.allocate_many(ARRAY(
	SELECT ROW(format('AF-m%s', lpad(g::text, 4, '0')), 'AF-PAGED', 1)::allocation.order_line
	  FROM generate_series(1, (SELECT sum(purchased)::int FROM allocation.stock
								WHERE sku = 'AF-PAGED')) g));
-- every batch used up, and the lines, in allocation order, went to the
-- batches in preference order (rule 2, C collation)
SELECT bool_and(available = 0) AS all_used FROM allocation.stock WHERE sku = 'AF-PAGED';
WITH ranked AS (
	SELECT reference, row_number() OVER (ORDER BY eta NULLS FIRST, reference COLLATE "C") AS r
	  FROM allocation.batches WHERE sku = 'AF-PAGED'),
	lines AS (
	SELECT l.seq, b.r FROM allocation.order_lines l JOIN ranked b ON b.reference = l.batchref
	 WHERE l.sku = 'AF-PAGED')
SELECT bool_and(r >= prev_r) AS in_preference_order
  FROM (SELECT r, lag(r, 1, 0::bigint) OVER (ORDER BY seq) AS prev_r FROM lines) x;
SELECT count(*) = 0 AS invariants_hold FROM allocation.check_invariants();
