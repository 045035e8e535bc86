--
-- Upgrade path (our versioning rule): a database created at 0.1.0, with data, and
-- updated by ALTER EXTENSION allocation UPDATE has the catalog of a fresh
-- install of the default version (0.2.0), keeps its data and works.
--
-- The catalog of a fresh install is snapshot into a temp table (temp
-- objects survive DROP EXTENSION), the extension is recreated at 0.1.0,
-- filled, updated, snapshot again, and the two snapshots are compared in
-- both directions: every row printed by the two EXCEPT queries is a
-- difference (none expected).  The file drops the extension and leaves it
-- recreated at the default version, with none of the other files' data.
-- SKUs, references and order ids start with "UP-", helpers with "up_".
--
\set VERBOSITY terse

------------------------------------------------------------------------
-- The catalog of the extension, one row an object (or one property of
-- it): kind, object (by name, never by OID) and detail (everything
-- compared).  It reads only pg_catalog, so it survives DROP EXTENSION.
------------------------------------------------------------------------
CREATE TEMP VIEW up_catalog (kind, object, detail) AS
-- the extension itself
SELECT 'extension', e.extname,
	   format('version=%s schema=%s relocatable=%s comment=%s',
			  e.extversion, n.nspname, e.extrelocatable,
			  obj_description(e.oid, 'pg_extension'))
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'allocation'
UNION ALL
-- its schema: owner, rights, comment
SELECT 'schema', n.nspname,
	   format('owner=%s acl=%s comment=%s', pg_get_userbyid(n.nspowner),
			  n.nspacl, obj_description(n.oid, 'pg_namespace'))
  FROM pg_namespace n
 WHERE n.nspname = 'allocation'
UNION ALL
-- functions: identity arguments, full arguments with names and defaults,
-- result, language, volatility, strictness, SECURITY DEFINER, SET
-- clauses, rights, comment, and the C library and symbol or (as an md5,
-- to keep a difference readable) the SQL or PL/pgSQL body
SELECT 'function', p.oid::regprocedure::text,
	   format('args=(%s) result=%s lang=%s kind=%s volatility=%s strict=%s '
			  'secdef=%s leakproof=%s parallel=%s retset=%s cost=%s rows=%s '
			  'config=%s owner=%s acl=%s comment=%s bin=%s src=%s',
			  pg_get_function_arguments(p.oid), pg_get_function_result(p.oid),
			  l.lanname, p.prokind, p.provolatile, p.proisstrict, p.prosecdef,
			  p.proleakproof, p.proparallel, p.proretset, p.procost, p.prorows,
			  p.proconfig, pg_get_userbyid(p.proowner), p.proacl,
			  obj_description(p.oid, 'pg_proc'), p.probin,
			  CASE WHEN l.lanname = 'c' THEN p.prosrc
				   ELSE 'md5:' || md5(p.prosrc) END)
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = 'allocation'
UNION ALL
-- relations (tables, views, sequences, indexes, composite types): kind,
-- storage options (fillfactor), rights, comment, a view's definition
SELECT 'relation', c.relname,
	   format('relkind=%s persistence=%s options=%s owner=%s acl=%s '
			  'rowsecurity=%s replident=%s comment=%s view=%s',
			  c.relkind, c.relpersistence, c.reloptions,
			  pg_get_userbyid(c.relowner), c.relacl, c.relrowsecurity,
			  c.relreplident, obj_description(c.oid, 'pg_class'),
			  CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid, true) END)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
-- columns of all of them: position, type, collation, not-null, default,
-- identity, generation, storage, rights, comment
SELECT 'column', c.relname || '.' || a.attname,
	   format('num=%s type=%s collation=%s notnull=%s default=%s identity=%s '
			  'generated=%s storage=%s compression=%s acl=%s comment=%s '
			  'stattarget=%s options=%s',
			  a.attnum, format_type(a.atttypid, a.atttypmod), co.collname,
			  a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid), a.attidentity,
			  a.attgenerated, a.attstorage, a.attcompression, a.attacl,
			  col_description(c.oid, a.attnum),
			  a.attstattarget,
			  -- (without the server's own version stamp of a column)
			  (SELECT array_agg(o ORDER BY o) FROM unnest(a.attoptions) AS o
				WHERE o NOT LIKE 'pg\_attver=%'))
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
 WHERE n.nspname = 'allocation' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
-- indexes: their definition (columns, WHERE, WITH) and flags
SELECT 'index', ic.relname,
	   format('%s primary=%s unique=%s replident=%s clustered=%s',
			  pg_get_indexdef(i.indexrelid), i.indisprimary, i.indisunique,
			  i.indisreplident, i.indisclustered)
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_namespace n ON n.oid = ic.relnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
-- constraints of tables and types
SELECT 'constraint', COALESCE(c.relname, t.typname) || '.' || con.conname,
	   format('type=%s def=%s deferrable=%s validated=%s comment=%s',
			  con.contype, pg_get_constraintdef(con.oid), con.condeferrable,
			  con.convalidated, obj_description(con.oid, 'pg_constraint'))
  FROM pg_constraint con
  JOIN pg_namespace n ON n.oid = con.connamespace
  LEFT JOIN pg_class c ON c.oid = con.conrelid
  LEFT JOIN pg_type t ON t.oid = con.contypid
 WHERE n.nspname = 'allocation'
UNION ALL
-- sequences: parameters, and the column owning them
SELECT 'sequence', c.relname,
	   format('type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s '
			  'owned_by=%s',
			  format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
			  s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
			  (SELECT string_agg(pg_describe_object(d.refclassid, d.refobjid,
													d.refobjsubid) || ' ' || d.deptype::text, ', ')
				 FROM pg_depend d
				WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
				  AND d.refclassid = 'pg_class'::regclass))
  FROM pg_sequence s
  JOIN pg_class c ON c.oid = s.seqrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
-- types (composite, row and array types): kind, rights, comment
SELECT 'type', t.typname,
	   format('type=%s category=%s owner=%s acl=%s comment=%s',
			  t.typtype, t.typcategory, pg_get_userbyid(t.typowner), t.typacl,
			  obj_description(t.oid, 'pg_type'))
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
-- triggers made by the user (not those of foreign keys) and rules
SELECT 'trigger', c.relname || '.' || tg.tgname,
	   format('%s enabled=%s comment=%s', pg_get_triggerdef(tg.oid),
			  tg.tgenabled, obj_description(tg.oid, 'pg_trigger'))
  FROM pg_trigger tg
  JOIN pg_class c ON c.oid = tg.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'allocation' AND NOT tg.tgisinternal
UNION ALL
SELECT 'rule', r.tablename || '.' || r.rulename, r.definition
  FROM pg_rules r
 WHERE r.schemaname = 'allocation'
UNION ALL
-- row security policies
SELECT 'policy', p.tablename || '.' || p.policyname,
	   format('permissive=%s roles=%s cmd=%s qual=%s check=%s',
			  p.permissive, p.roles, p.cmd, p.qual, p.with_check)
  FROM pg_policies p
 WHERE p.schemaname = 'allocation'
UNION ALL
-- default privileges in the schema (the rights of what a later version
-- creates there)
SELECT 'default privileges', pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text,
	   format('acl=%s', d.defaclacl)
  FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
-- extended statistics objects
SELECT 'statistics', s.stxname,
	   format('%s owner=%s', pg_get_statisticsobjdef(s.oid), pg_get_userbyid(s.stxowner))
  FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
-- pg_extension_config_dump: the tables and sequences pg_dump dumps, and
-- their conditions (a set: the order of the calls does not matter)
SELECT 'config dump', COALESCE(c.relname, 'missing relation ' || u.reloid),
	   format('condition=%L', u.cond)
  FROM pg_extension e
 CROSS JOIN unnest(e.extconfig, e.extcondition) AS u(reloid, cond)
  LEFT JOIN pg_class c ON c.oid = u.reloid
 WHERE e.extname = 'allocation'
UNION ALL
-- the members of the extension (what DROP EXTENSION drops, what pg_dump
-- leaves out)
SELECT 'member', pg_describe_object(d.classid, d.objid, d.objsubid), ''
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND e.extname = 'allocation'
UNION ALL
-- the initial rights recorded for the extension's objects (pg_dump
-- dumps the rights that differ from these); an entry whose object no
-- longer exists is reported too
SELECT 'initial rights',
	   COALESCE(pg_describe_object(ip.classoid, ip.objoid, ip.objsubid),
				'missing object'),
	   format('%s %s', ip.privtype, ip.initprivs)
  FROM pg_init_privs ip
 WHERE ip.privtype = 'e'
   AND ((pg_identify_object(ip.classoid, ip.objoid, ip.objsubid)).schema = 'allocation'
		OR (pg_identify_object(ip.classoid, ip.objoid, ip.objsubid)).identity = 'allocation'
		OR pg_describe_object(ip.classoid, ip.objoid, ip.objsubid) IS NULL);

------------------------------------------------------------------------
-- 1. A fresh install of the default version, without any other file's
--    objects or rights
------------------------------------------------------------------------
DROP EXTENSION allocation;
CREATE EXTENSION allocation;
SELECT extversion FROM pg_extension WHERE extname = 'allocation';
CREATE TEMP TABLE up_fresh AS SELECT * FROM up_catalog;
-- what the snapshot holds, counted without what PostgreSQL 18 records and
-- 15 does not (the comparisons below cover it): NOT NULL constraints in
-- pg_constraint, and the row and array types that come with the
-- extension's relations as members of the extension
SELECT kind, count(*) FROM up_fresh
 WHERE NOT (kind = 'constraint' AND detail LIKE 'type=n %')
   AND NOT (kind = 'member' AND object IN (
		SELECT pg_describe_object('pg_type'::regclass, t.oid, 0)
		  FROM pg_type t
		  JOIN pg_namespace n ON n.oid = t.typnamespace
		  LEFT JOIN pg_class c ON c.oid = t.typrelid
		  LEFT JOIN pg_type e ON e.oid = t.typelem AND e.typarray = t.oid
		 WHERE n.nspname = 'allocation'
		   AND (c.relkind <> 'c' OR e.oid IS NOT NULL)))
 GROUP BY kind ORDER BY kind;

------------------------------------------------------------------------
-- 2. The same database at 0.1.0
------------------------------------------------------------------------
DROP EXTENSION allocation;
CREATE EXTENSION allocation VERSION '0.1.0';
SELECT extversion FROM pg_extension WHERE extname = 'allocation';

-- The installed .so is 0.2.0's and expects 0.2.0's tables: a 0.1.0
-- database must be updated before use, and is told so (55000, with the
-- hint to run ALTER EXTENSION allocation UPDATE).
SELECT allocation.add_batch('UP-B0', 'UP-LAMP', 1);
-- Generated: every C function of the 0.1.0 catalog, called with sample
-- arguments, gives that error and hint, never a missing relation.
CREATE FUNCTION up_state(call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE call;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN SQLSTATE || ' ' || hint;
END
$$;
SELECT p.proname,
	   up_state(format('SELECT * FROM allocation.%I(%s)', p.proname,
			(SELECT coalesce(string_agg(CASE format_type(t, NULL)
									WHEN 'text' THEN '''UP-X'''
									WHEN 'integer' THEN '1'
									WHEN 'boolean' THEN 'true'
									WHEN 'date' THEN 'DATE ''2030-01-01'''
									WHEN 'uuid' THEN '''00000000-0000-0000-0000-000000000000''::uuid'
									WHEN 'jsonb' THEN '''{"type": "Allocate", "orderid": "UP-X", "sku": "UP-X", "qty": 1}''::jsonb'
									WHEN 'regprocedure' THEN '''pg_catalog.now()''::regprocedure'
									ELSE 'NULL' END, ', ' ORDER BY j), '')
			   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, j)))) AS outcome
  FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation'
  JOIN pg_language l ON l.oid = p.prolang
 WHERE l.lanname = 'c' AND p.prokind = 'f'
 ORDER BY p.proname;
DROP FUNCTION up_state(text);

-- So the data is written directly, as superuser: these are the rows
-- 0.1.0's own code wrote for the commands in the comments (taken from a
-- database made with the 0.1.0 build; the commit keys, transaction ids
-- there, are replaced by small ones, below any transaction id here):
--   add_batch('UP-B1', 'UP-LAMP', 10)                  key 101
--   add_batch('UP-B2', 'UP-LAMP', 20, '2030-01-15')    key 102
--   add_batch('UP-T1', 'UP-TABLE', 5)                  key 103
--   allocate('UP-o1', 'UP-LAMP', 3)     -> UP-B1       key 104
--   allocate('UP-o2', 'UP-LAMP', 8)     -> UP-B2       key 105
--   allocate('UP-o3', 'UP-TABLE', 5)    -> UP-T1       key 106
--   allocate('UP-o4', 'UP-TABLE', 1)    -> NULL, OutOfStock, key 107
--   change_batch_quantity('UP-B1', 5)                  key 108
--   deallocate('UP-o3', 'UP-TABLE')     -> UP-T1       key 109
-- plus a product row without any event yet (event_key NULL in 0.1.0), a
-- plugin subscription (0.1.0 had the table, owner an oid) and an e-mail.
INSERT INTO allocation.product_state (sku, version_number, line_seq, event_seq, event_key)
VALUES ('UP-LAMP', 5, 2, 5, '108'), ('UP-TABLE', 3, 1, 4, '109'),
	   ('UP-EMPTY', 0, 0, 0, NULL);
INSERT INTO allocation.batches (reference, sku, purchased_quantity, allocated_quantity, eta)
VALUES ('UP-B1', 'UP-LAMP', 5, 3, NULL), ('UP-B2', 'UP-LAMP', 20, 8, '2030-01-15'),
	   ('UP-T1', 'UP-TABLE', 5, 0, NULL);
INSERT INTO allocation.order_lines (sku, orderid, qty, batchref, seq)
VALUES ('UP-LAMP', 'UP-o1', 3, 'UP-B1', 1), ('UP-LAMP', 'UP-o2', 8, 'UP-B2', 2);
INSERT INTO allocation.allocations_view (orderid, sku, batchref, qty, updated_at)
VALUES ('UP-o1', 'UP-LAMP', 'UP-B1', 3, now()), ('UP-o2', 'UP-LAMP', 'UP-B2', 8, now());
INSERT INTO allocation.outbox (id, aggregatetype, aggregateid, type, payload,
							   occurred_at, aggregate_seq, commit_key)
SELECT gen_random_uuid(), 'product', sku, type, payload::jsonb, now(), seq, key::text::xid8
  FROM (VALUES
	('UP-LAMP', 'BatchCreated', '{"eta": null, "qty": 10, "ref": "UP-B1", "sku": "UP-LAMP"}', 1, 101),
	('UP-LAMP', 'BatchCreated', '{"eta": "2030-01-15", "qty": 20, "ref": "UP-B2", "sku": "UP-LAMP"}', 2, 102),
	('UP-TABLE', 'BatchCreated', '{"eta": null, "qty": 5, "ref": "UP-T1", "sku": "UP-TABLE"}', 1, 103),
	('UP-LAMP', 'Allocated', '{"qty": 3, "sku": "UP-LAMP", "orderid": "UP-o1", "batchref": "UP-B1"}', 3, 104),
	('UP-LAMP', 'Allocated', '{"qty": 8, "sku": "UP-LAMP", "orderid": "UP-o2", "batchref": "UP-B2"}', 4, 105),
	('UP-TABLE', 'Allocated', '{"qty": 5, "sku": "UP-TABLE", "orderid": "UP-o3", "batchref": "UP-T1"}', 2, 106),
	('UP-TABLE', 'OutOfStock', '{"qty": 1, "sku": "UP-TABLE", "orderid": "UP-o4"}', 3, 107),
	('UP-LAMP', 'BatchQuantityChanged', '{"qty": 5, "ref": "UP-B1", "sku": "UP-LAMP", "previous_qty": 10}', 5, 108),
	('UP-TABLE', 'Deallocated', '{"qty": 5, "sku": "UP-TABLE", "orderid": "UP-o3", "batchref": "UP-T1", "reallocate": false}', 4, 109)
  ) AS v(sku, type, payload, seq, key)
 ORDER BY key;
INSERT INTO allocation.notifications (recipient, subject, body)
VALUES ('ops@example.com', 'UP-TABLE', 'out of stock');
-- the plugin: says what it sees and with which search_path it runs
CREATE FUNCTION public.up_plugin(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'up_plugin as %: % of %, search_path %', current_user,
		event->>'type', event->'payload'->>'orderid', current_setting('search_path');
END
$$;
INSERT INTO allocation.subscriptions (event_type, handler, owner)
VALUES ('OutOfStock', 'public.up_plugin(jsonb)', 'allocation_admin'::regrole::oid);
-- and a plugin whose function was dropped at 0.1.0: its regprocedure reads
-- as a bare OID, which names no function; the update drops it, saying so
CREATE FUNCTION public.up_gone(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
INSERT INTO allocation.subscriptions (event_type, handler, owner)
VALUES ('Allocated', 'public.up_gone(jsonb)', 'allocation_admin'::regrole::oid);
DROP FUNCTION public.up_gone(jsonb);

------------------------------------------------------------------------
-- 3. The update, and the catalog compared with the fresh install's
------------------------------------------------------------------------
ALTER EXTENSION allocation UPDATE TO '0.2.0';
SELECT extversion FROM pg_extension WHERE extname = 'allocation';
CREATE TEMP TABLE up_updated AS SELECT * FROM up_catalog;

-- in a fresh install but not after the update (expected: no row)
SELECT kind, object, detail FROM up_fresh
EXCEPT
SELECT kind, object, detail FROM up_updated
ORDER BY kind, object;

-- after the update but not in a fresh install (expected: no row)
SELECT kind, object, detail FROM up_updated
EXCEPT
SELECT kind, object, detail FROM up_fresh
ORDER BY kind, object;

-- The comparison sees what makes two databases differ: each change below,
-- made to the updated database and rolled back, must show up as a
-- difference from the fresh install.  Generated from the catalog (every
-- trigger, table, constraint, column, index and function of the
-- extension), with kinds the comparison is known to see as controls; a
-- kind with "unseen" above 0 is a way for an update to differ from a
-- fresh install unnoticed.
CREATE FUNCTION up_detects(mutation text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	BEGIN
		EXECUTE mutation;
		SELECT count(*) INTO n FROM (
			(SELECT * FROM up_catalog EXCEPT SELECT * FROM up_fresh)
			UNION ALL
			(SELECT * FROM up_fresh EXCEPT SELECT * FROM up_catalog)) d;
		RAISE EXCEPTION USING ERRCODE = 'UP001', MESSAGE = n::text;
	EXCEPTION WHEN SQLSTATE 'UP001' THEN
		RETURN SQLERRM::bigint > 0;
	END;
END
$$;
CREATE TEMP TABLE up_mutations (kind text, mutation text);
INSERT INTO up_mutations
SELECT m.kind, format(m.stmt, c.relname, tg.tgname)
  FROM pg_trigger tg
  JOIN pg_class c ON c.oid = tg.tgrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN (VALUES
	('trigger disabled', 'ALTER TABLE allocation.%I DISABLE TRIGGER %I'),
	('trigger fires on replicas only', 'ALTER TABLE allocation.%I ENABLE REPLICA TRIGGER %I'),
	('trigger comment', 'COMMENT ON TRIGGER %2$I ON allocation.%1$I IS ''up''')) AS m(kind, stmt)
 WHERE n.nspname = 'allocation' AND NOT tg.tgisinternal
UNION ALL
SELECT m.kind, format(m.stmt, c.relname)
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN (VALUES
	('row security policy', 'CREATE POLICY up_policy ON allocation.%I USING (false)'),
	('table rights (control)', 'GRANT SELECT ON allocation.%I TO allocation_mailer')) AS m(kind, stmt)
 WHERE n.nspname = 'allocation' AND c.relkind = 'r'
UNION ALL
SELECT 'statistics object',
	   format('CREATE STATISTICS allocation.up_stats ON %s FROM allocation.%I',
			  (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
				 FROM pg_attribute a
				WHERE a.attrelid = c.oid AND a.attnum IN (1, 2)), c.relname)
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'allocation' AND c.relkind = 'r'
UNION ALL
SELECT 'constraint comment', format('COMMENT ON CONSTRAINT %I ON allocation.%I IS ''up''', con.conname, c.relname)
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'allocation'
UNION ALL
SELECT m.kind, format(m.stmt, c.relname, a.attname)
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN (VALUES
	('column statistics target', 'ALTER TABLE allocation.%I ALTER COLUMN %I SET STATISTICS 7'),
	('column options', 'ALTER TABLE allocation.%I ALTER COLUMN %I SET (n_distinct = 7)'),
	('column rights (control)', 'GRANT SELECT (%2$I) ON allocation.%1$I TO allocation_mailer')) AS m(kind, stmt)
 WHERE n.nspname = 'allocation' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'index clustered', format('ALTER TABLE allocation.%I CLUSTER ON %I', c.relname, ic.relname)
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_class c ON c.oid = i.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'allocation' AND i.indpred IS NULL
   AND ic.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')
UNION ALL
SELECT m.kind, format(m.stmt, p.oid::regprocedure)
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 CROSS JOIN (VALUES
	('function setting (control)', 'ALTER FUNCTION %s SET work_mem = ''1MB'''),
	('function owner (control)', 'ALTER FUNCTION %s OWNER TO allocation_admin'),
	('extension membership (control)', 'ALTER EXTENSION allocation DROP FUNCTION %s')) AS m(kind, stmt)
 WHERE n.nspname = 'allocation'
UNION ALL
SELECT 'default privileges', 'ALTER DEFAULT PRIVILEGES IN SCHEMA allocation ' || g
  FROM unnest(ARRAY['GRANT SELECT ON TABLES TO allocation_user',
					'GRANT EXECUTE ON FUNCTIONS TO allocation_user',
					'GRANT USAGE ON SEQUENCES TO allocation_user',
					'GRANT USAGE ON TYPES TO allocation_user']) AS g;
-- the controls: one object of each kind is enough
DELETE FROM up_mutations m
 WHERE m.kind LIKE '%(control)'
   AND m.mutation > (SELECT min(o.mutation) FROM up_mutations o WHERE o.kind = m.kind);
ALTER TABLE up_mutations ADD COLUMN seen boolean;
UPDATE up_mutations SET seen = up_detects(mutation);
SELECT kind, count(*) > 0 AS generated, count(*) FILTER (WHERE NOT seen) AS unseen
  FROM up_mutations
 GROUP BY kind ORDER BY kind;
-- the unseen ones, the first of each kind (expected: no row)
SELECT DISTINCT ON (kind) kind, mutation
  FROM up_mutations WHERE NOT seen
 ORDER BY kind, mutation;
DROP FUNCTION up_detects(text);

------------------------------------------------------------------------
-- 4. The data survived
------------------------------------------------------------------------
-- event_key converted (NULL -> 0), counters kept
SELECT sku, version_number, line_seq, event_seq, event_key
  FROM allocation.product_state ORDER BY sku;
-- has_stock computed for the existing batches
SELECT reference, sku, purchased_quantity, allocated_quantity, eta, has_stock
  FROM allocation.batches ORDER BY reference;
SELECT * FROM allocation.stock WHERE sku LIKE 'UP-%' ORDER BY reference;
SELECT * FROM allocation.products ORDER BY sku;
SELECT sku, orderid, qty, batchref, seq FROM allocation.order_lines ORDER BY sku, orderid;
SELECT * FROM allocation.allocations('UP-o2');
-- the outbox: every event, its number and its commit key (xid8 -> bigint)
SELECT position, aggregateid, type, aggregate_seq, commit_key, payload->>'orderid' AS orderid
  FROM allocation.outbox ORDER BY position;
SELECT id, recipient, subject FROM allocation.notifications ORDER BY id;
-- owner now by name, handler its signature with its schema; search_path:
-- the default given to existing rows
SELECT event_type, handler, owner, search_path FROM allocation.subscriptions;
-- healthy: the rows above are a complete 0.1.0 history
SELECT * FROM allocation.check_invariants();

------------------------------------------------------------------------
-- 5. It works after the update
------------------------------------------------------------------------
SELECT allocation.allocate('UP-o5', 'UP-LAMP', 2);
SELECT allocation.allocate('UP-o4', 'UP-TABLE', 1);
-- out of stock: the plugin of 0.1.0's table runs, as allocation_admin
SELECT allocation.allocate('UP-o6', 'UP-LAMP', 100);
-- rule 5: UP-o2 leaves UP-B2 and finds no room elsewhere
SELECT allocation.change_batch_quantity('UP-B2', 5);
SELECT allocation.add_batch('UP-B3', 'UP-LAMP', 10);
SELECT * FROM allocation.allocate_many(ARRAY[('UP-o2', 'UP-LAMP', 8)]::allocation.order_line[]);
-- has_stock follows the quantities: UP-B1 is full
SELECT reference, has_stock FROM allocation.batches ORDER BY reference;
SELECT allocation.deallocate('UP-o1', 'UP-LAMP');
SELECT * FROM allocation.allocations('UP-o2');
SELECT * FROM allocation.stock WHERE sku LIKE 'UP-%' ORDER BY reference;
-- new events are numbered on from the old ones and keyed above them
SELECT position, aggregateid, type, aggregate_seq, commit_key > 109 AS key_above_old
  FROM allocation.outbox WHERE position > 9 ORDER BY position;
-- same cluster: the clock of commit keys has no offset
SELECT key_offset FROM allocation.outbox_clock;
-- healthy, with the whole history still in the outbox
SELECT * FROM allocation.check_invariants();
-- a consumer reads the events of 0.1.0 first, in their order (only those
-- nine: whether a new one is readable yet depends on the transactions
-- running in the cluster), acknowledges them, and they can be purged
SELECT allocation.register_consumer('up-consumer');
SELECT position, type, aggregate_seq, commit_key
  FROM allocation.read_events('up-consumer', 9);
SELECT allocation.ack_events('up-consumer', id) FROM allocation.outbox WHERE position = 9;
SELECT allocation.purge_outbox();
SELECT min(position) FROM allocation.outbox;
SELECT extversion FROM pg_extension WHERE extname = 'allocation';

------------------------------------------------------------------------
-- Clean up: the extension at the default version again, nothing else
------------------------------------------------------------------------
DROP EXTENSION allocation;
CREATE EXTENSION allocation;
DROP FUNCTION public.up_plugin(jsonb);
SELECT extversion FROM pg_extension WHERE extname = 'allocation';
