--
-- Rule 7: every command that changes a product increases its
-- version_number (read from allocation.products); commands that change
-- nothing (idempotent allocate, out of stock, deallocating a line that is
-- not allocated, rejected calls) leave it as it is.  SKUs, references and
-- order ids of this file start with "VE-".
--
\set VERBOSITY terse

-- allocation.products has the columns sku and version_number
SELECT column_name FROM information_schema.columns
 WHERE table_schema = 'allocation' AND table_name = 'products'
   AND column_name IN ('sku', 'version_number')
 ORDER BY column_name;

-- a product created by its first batch is at version 1
SELECT allocation.add_batch('VE-B1', 'VE-BED', 10);
SELECT sku, version_number FROM allocation.products WHERE sku = 'VE-BED';

-- add_batch on an existing product: +1
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
SELECT allocation.add_batch('VE-B2', 'VE-BED', 10, '2031-01-01');
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- allocate: +1
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
SELECT allocation.allocate('VE-o1', 'VE-BED', 4);
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- an idempotent allocate: unchanged
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
SELECT allocation.allocate('VE-o1', 'VE-BED', 4);
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- an out-of-stock allocate: unchanged (an event, but no change to the product)
SELECT allocation.allocate('VE-o2', 'VE-BED', 11) IS NULL AS out_of_stock;
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- a rejected allocate (ZA003): unchanged
SELECT allocation.allocate('VE-o1', 'VE-BED', 5);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- a rejected add_batch (23505): unchanged
SELECT allocation.add_batch('VE-B1', 'VE-BED', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- deallocate: +1
SELECT allocation.deallocate('VE-o1', 'VE-BED');
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- deallocating a line that is not allocated: unchanged
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
SELECT allocation.deallocate('VE-o1', 'VE-BED') IS NULL AS not_allocated;
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- change_batch_quantity without displacement: +1
SELECT allocation.change_batch_quantity('VE-B1', 12);
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- change_batch_quantity that displaces a line (reallocated to VE-B2):
-- the version increases
SELECT allocation.allocate('VE-o3', 'VE-BED', 6);
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
SELECT allocation.change_batch_quantity('VE-B1', 5);
SELECT * FROM allocation.allocations('VE-o3');
SELECT version_number > :v AS increased FROM allocation.products WHERE sku = 'VE-BED';

-- a command in a rolled-back transaction leaves the version as it was
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
BEGIN;
SELECT allocation.allocate('VE-o4', 'VE-BED', 1);
SELECT version_number - :v AS delta_inside FROM allocation.products WHERE sku = 'VE-BED';
ROLLBACK;
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- two commands in one transaction: +1 each
BEGIN;
SELECT allocation.allocate('VE-o5', 'VE-BED', 1);
SELECT allocation.allocate('VE-o6', 'VE-BED', 1);
COMMIT;
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';

-- a command on one product leaves the others' versions alone
SELECT allocation.add_batch('VE-C1', 'VE-CHAIR', 5);
SELECT version_number AS v FROM allocation.products WHERE sku = 'VE-BED' \gset
SELECT allocation.allocate('VE-o7', 'VE-CHAIR', 1);
SELECT allocation.change_batch_quantity('VE-C1', 4);
SELECT version_number - :v AS delta FROM allocation.products WHERE sku = 'VE-BED';
SELECT sku, version_number FROM allocation.products WHERE sku = 'VE-CHAIR';

-- one row a product: VE-BED and VE-CHAIR once each
SELECT sku, count(*) AS rows FROM allocation.products
 WHERE sku IN ('VE-BED', 'VE-CHAIR') GROUP BY sku ORDER BY sku;
