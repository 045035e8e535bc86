--
-- Identifiers in an EUC_JP database.  Identifiers are checked in
-- characters of the database encoding; text that has no UTF-8 equivalent
-- (EUC_JP's user-defined area, 0xF5A1-0xFEFE) is bad input of the
-- argument: 22023, like any other identifier that breaks the rules, never
-- a conversion error (22P05) that names no argument.  Runs in a database of
-- its own.
--
SELECT current_database() AS rj_home \gset
CREATE DATABASE rj_eucjp ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c rj_eucjp
\set VERBOSITY sqlstate
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
-- 255 characters of three bytes (JIS X 0212) are 255 characters
SELECT allocation.add_batch(repeat(convert_from('\x8fb0a1'::bytea, 'EUC_JP'), 255), 'RJ-S', 1);
SELECT allocation.add_batch(repeat(convert_from('\x8fb0a1'::bytea, 'EUC_JP'), 256), 'RJ-S', 1);
-- no UTF-8 equivalent: in a function's argument and in a message
SELECT allocation.add_batch(convert_from('\xf5a1'::bytea, 'EUC_JP'), 'RJ-S', 1);
SELECT allocation.allocate('rj-o1', convert_from('\xf5a1'::bytea, 'EUC_JP'), 1);
SELECT allocation.handle(jsonb_build_object('type', 'CreateBatch',
		'ref', convert_from('\xf5a1'::bytea, 'EUC_JP'), 'sku', 'RJ-S', 'qty', 1));
SELECT allocation.handle(jsonb_build_object('type', 'CreateBatch',
		'ref', 'RJ-B2', 'sku', 'RJ-S', 'qty', 1,
		'message_id', convert_from('\xf5a1'::bytea, 'EUC_JP')));
SELECT count(*) AS batches FROM allocation.stock;
\c :rj_home
DROP DATABASE rj_eucjp;
