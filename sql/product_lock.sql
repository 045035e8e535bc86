--
-- The commands that lock a product row lock it through product_state_pkey
-- without a statement, and must behave exactly as their statement
-- (SELECT ... FOR NO KEY UPDATE) does.  Each command below runs twice:
-- through the index, and with the index renamed, which makes it run the
-- statement; both runs must give the same outcome.  SKUs, references and
-- order ids start with "PRL-".
--
\set VERBOSITY terse
SELECT allocation.add_batch('PRL-B1', 'PRL-LAMP', 10);
SELECT allocation.allocate('PRL-o1', 'PRL-LAMP', 1);

-- Run cmd in a transaction rolled back (READ ONLY or not), through the
-- index or through the statement: the SQLSTATE it fails with, or "ok"
-- and the read locks it holds on the product table and its index (the
-- rename's and the writes' own locks left out).
CREATE FUNCTION pg_temp.run(cmd text, via_statement boolean, read_only boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  outcome text := 'ok';
  locks text;
BEGIN
  BEGIN
    IF via_statement THEN
      ALTER INDEX allocation.product_state_pkey RENAME TO product_state_pkey_pl;
    END IF;
    IF read_only THEN
      SET LOCAL transaction_read_only = on;
    END IF;
    EXECUTE cmd;
    SELECT string_agg(CASE c.relkind WHEN 'i' THEN 'index' ELSE 'table' END
                      || ' ' || l.mode, ', ' ORDER BY c.relkind, l.mode)
      INTO locks
      FROM pg_catalog.pg_locks l
      JOIN pg_catalog.pg_class c ON c.oid = l.relation
     WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation'
       AND c.relname LIKE 'product_state%'
       AND l.mode IN ('AccessShareLock', 'RowShareLock');
    outcome := outcome || ', locks: ' || coalesce(locks, 'none');
    RAISE SQLSTATE 'PLRB0';
  EXCEPTION WHEN SQLSTATE 'PLRB0' THEN
    NULL;
  WHEN OTHERS THEN
    outcome := SQLSTATE;
  END;
  RETURN outcome;
END
$$;

-- Each command through the index and through the statement, once each.
CREATE FUNCTION pg_temp.compare(cmds text[], read_only boolean)
RETURNS TABLE (cmd text, "index" text, "statement" text, same boolean)
LANGUAGE sql AS $$
  SELECT c, i, st, i IS NOT DISTINCT FROM st
    FROM unnest(cmds) WITH ORDINALITY AS u(c, n),
         LATERAL pg_temp.run(c, false, read_only) AS i,
         LATERAL pg_temp.run(c, true, read_only) AS st
   ORDER BY n
$$;

-- A READ ONLY transaction: the commands refuse it (25006) before they
-- read anything, so both ways end alike, without locks, for a known SKU
-- and an unknown one.
SELECT * FROM pg_temp.compare(ARRAY[
    $$SELECT allocation.allocate('PRL-o2', 'PRL-LAMP', 1)$$,
    $$SELECT allocation.allocate('PRL-o2', 'PRL-NONE', 1)$$,
    $$SELECT allocation.deallocate('PRL-o9', 'PRL-LAMP')$$,
    $$SELECT allocation.deallocate('PRL-o9', 'PRL-NONE')$$,
    $$SELECT allocation.change_batch_quantity('PRL-B1', 10)$$], true);

-- In a writable transaction: the same outcome, and the same locks on the
-- table and its index (ROW SHARE on both, as the statement's plan takes).
SELECT * FROM pg_temp.compare(ARRAY[
    $$SELECT allocation.allocate('PRL-o2', 'PRL-LAMP', 1)$$,
    $$SELECT allocation.allocate('PRL-o2', 'PRL-NONE', 1)$$,
    $$SELECT allocation.deallocate('PRL-o1', 'PRL-LAMP')$$,
    $$SELECT allocation.deallocate('PRL-o9', 'PRL-NONE')$$], false);

-- nothing changed
SELECT reference, allocated_quantity FROM allocation.batches
 WHERE sku = 'PRL-LAMP' ORDER BY reference;
