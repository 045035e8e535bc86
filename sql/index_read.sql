--
-- Allocate locks its product row (product_state_pkey), reads its line
-- (order_lines_pkey, then batches_pkey) and its candidates
-- (batches_available) through those indexes without running a statement,
-- and runs its statements instead wherever an index cannot be read that
-- way.  Each index changed below would give a wrong choice if
-- it were read; the choice must stay the rules' choice.  Each change is
-- rolled back.  SKUs, references and order ids start with "IR-".
--
\set VERBOSITY terse

-- rule 2 on a SKU whose preference differs from every other order of
-- its batches: warehouse first, ties by reference (IR-B-WH before
-- IR-Z-WH), then the earliest eta (IR-Y-EARLY before IR-A-LATE)
SELECT allocation.add_batch('IR-A-LATE', 'IR-SOFA', 10, '2031-03-01');
SELECT allocation.add_batch('IR-Y-EARLY', 'IR-SOFA', 10, '2031-01-01');
SELECT allocation.add_batch('IR-Z-WH', 'IR-SOFA', 1);
SELECT allocation.add_batch('IR-B-WH', 'IR-SOFA', 1);
CREATE FUNCTION pg_temp.choose() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  got text[];
BEGIN
  -- qty 1: a warehouse batch, the lower reference; qty 2: the earliest eta
  got := got || allocation.allocate('IR-o1', 'IR-SOFA', 1);
  got := got || allocation.allocate('IR-o2', 'IR-SOFA', 2);
  -- the same line again: its batch, read through the line's index
  got := got || allocation.allocate('IR-o2', 'IR-SOFA', 2);
  -- allocated in all: 3 (the line allocated twice would make it 5)
  RETURN array_to_string(got, ' ') || ', allocated ' ||
    (SELECT sum(allocated_quantity) FROM allocation.batches WHERE sku = 'IR-SOFA');
END $$;

-- as installed: read through the indexes
BEGIN;
SELECT pg_temp.choose() AS installed;
ROLLBACK;

-- reshaped under the same name: reference order, eta ignored
BEGIN;
DROP INDEX allocation.batches_available;
CREATE INDEX batches_available ON allocation.batches (sku, reference) WHERE has_stock;
SELECT pg_temp.choose() AS "no eta";
ROLLBACK;

-- NULLs (warehouse batches) last
BEGIN;
DROP INDEX allocation.batches_available;
CREATE INDEX batches_available ON allocation.batches (sku, eta, reference) WHERE has_stock;
SELECT pg_temp.choose() AS "nulls last";
ROLLBACK;

-- references descending
BEGIN;
DROP INDEX allocation.batches_available;
CREATE INDEX batches_available ON allocation.batches (sku, eta NULLS FIRST, reference DESC) WHERE has_stock;
SELECT pg_temp.choose() AS "reference desc";
ROLLBACK;

-- a narrower predicate: warehouse batches (NULL eta) missing from it
BEGIN;
DROP INDEX allocation.batches_available;
CREATE INDEX batches_available ON allocation.batches (sku, eta NULLS FIRST, reference)
 WHERE has_stock AND eta IS NOT NULL;
SELECT pg_temp.choose() AS "narrower predicate";
ROLLBACK;

-- the line's index made partial: the line of qty 2 missing from it
BEGIN;
ALTER TABLE allocation.order_lines DROP CONSTRAINT order_lines_pkey;
CREATE UNIQUE INDEX order_lines_pkey ON allocation.order_lines (sku, orderid)
 WHERE qty > 2;
SELECT pg_temp.choose() AS "partial line index";
ROLLBACK;

-- another operator class, ordering etas the other way round
BEGIN;
CREATE FUNCTION public.ir_date_rcmp(date, date) RETURNS integer
 LANGUAGE sql IMMUTABLE STRICT AS 'SELECT pg_catalog.date_cmp($2, $1)';
CREATE OPERATOR CLASS public.ir_date_reversed_ops FOR TYPE date USING btree AS
 OPERATOR 1 pg_catalog.> , OPERATOR 2 pg_catalog.>= , OPERATOR 3 pg_catalog.= ,
 OPERATOR 4 pg_catalog.<= , OPERATOR 5 pg_catalog.< ,
 FUNCTION 1 public.ir_date_rcmp(date, date);
DROP INDEX allocation.batches_available;
CREATE INDEX batches_available ON allocation.batches
 (sku, eta public.ir_date_reversed_ops NULLS FIRST, reference) WHERE has_stock;
SELECT pg_temp.choose() AS "reversed opclass";
ROLLBACK;

-- not ready, as a CREATE INDEX CONCURRENTLY that failed leaves it: rows
-- written since are missing from it (a new warehouse batch, a new line;
-- product_state_pkey cannot be: add_batch's INSERT ... ON CONFLICT needs it)
BEGIN;
UPDATE pg_catalog.pg_index SET indisready = false, indisvalid = false
 WHERE indexrelid IN ('allocation.batches_available'::regclass,
                      'allocation.order_lines_pkey'::regclass);
SELECT allocation.add_batch('IR-A-WH', 'IR-SOFA', 1);
SELECT pg_temp.choose() AS "not ready";
ROLLBACK;

-- renamed: not found
BEGIN;
ALTER INDEX allocation.batches_available RENAME TO batches_available_renamed;
ALTER INDEX allocation.order_lines_pkey RENAME TO order_lines_pkey_renamed;
ALTER INDEX allocation.product_state_pkey RENAME TO product_state_pkey_renamed;
SELECT pg_temp.choose() AS "renamed";
ROLLBACK;

-- the batch quantities are as before (every change above rolled back)
SELECT reference, allocated_quantity FROM allocation.batches
 WHERE sku = 'IR-SOFA' ORDER BY reference;

-- Row level security that applies to the extension owner (not a
-- superuser any more, the table's policies forced): a batch it hides is
-- not read, through the index or otherwise.  In a database of its own.
CREATE ROLE ir_owner SUPERUSER;
CREATE DATABASE ir_rls;
SELECT current_database() AS ir_home \gset
\c ir_rls
SET client_min_messages = warning;
SET ROLE ir_owner;
CREATE EXTENSION allocation;
RESET ROLE;
ALTER ROLE ir_owner NOSUPERUSER;
SELECT allocation.add_batch('IR-HIDDEN', 'IR-RUG', 10);
SELECT allocation.add_batch('IR-SHOWN', 'IR-RUG', 10, '2031-01-01');
ALTER TABLE allocation.batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE allocation.batches FORCE ROW LEVEL SECURITY;
CREATE POLICY ir_hide ON allocation.batches USING (reference <> 'IR-HIDDEN');
SELECT allocation.allocate('IR-o-rls', 'IR-RUG', 1);
\c :ir_home
DROP DATABASE ir_rls;
DROP ROLE ir_owner;
