--
-- Identifiers in databases that are not UTF8.  Identifiers are checked in
-- characters of the database encoding: in a LATIN1 database any LATIN1
-- text is an identifier (1-255 characters, not blank, no control
-- characters, C1 controls included).  A SQL_ASCII database declares no
-- encoding: identifiers are read as UTF-8 there, and bytes that are not
-- UTF-8 are refused (22023).  Each case runs in a database of its own.
--
SELECT current_database() AS en_home \gset

------------------------------------------------------------------------
-- LATIN1
------------------------------------------------------------------------
CREATE DATABASE en_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c en_latin1
\set VERBOSITY terse
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
-- non-ASCII identifiers work everywhere an identifier is taken
SELECT allocation.add_batch('Réf-1', 'CHAISE-ÉTÉ', 10);
SELECT allocation.allocate('commande-ü', 'CHAISE-ÉTÉ', 2);
SELECT * FROM allocation.allocations('commande-ü');
SELECT allocation.handle('{"type": "Allocate", "orderid": "commande-ß", "sku": "CHAISE-ÉTÉ", "qty": 1, "message_id": "clé-1"}');
SELECT allocation.deallocate('commande-ü', 'CHAISE-ÉTÉ');
-- the limit counts characters: 255 one-byte LATIN1 letters (510 bytes
-- in UTF-8) are accepted, 256 are too many
SELECT allocation.add_batch(repeat('é', 255), 'CHAISE-ÉTÉ', 1);
SELECT allocation.add_batch(repeat('é', 256), 'CHAISE-ÉTÉ', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- blank (the no-break space is a space) and control characters, C1 too
SELECT allocation.add_batch(E'\u00a0 ', 'CHAISE-ÉTÉ', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.add_batch(E'a\u0085b', 'CHAISE-ÉTÉ', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT allocation.add_batch(E'a\tb', 'CHAISE-ÉTÉ', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT left(reference, 8) AS reference, length(reference) AS characters, octet_length(reference) AS bytes, sku, purchased, allocated
  FROM allocation.stock ORDER BY reference COLLATE "C";
SELECT count(*) = 0 AS healthy FROM allocation.check_invariants();
\c :en_home
DROP DATABASE en_latin1;

------------------------------------------------------------------------
-- SQL_ASCII: identifiers read as UTF-8
------------------------------------------------------------------------
CREATE DATABASE en_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c en_sql_ascii
\set VERBOSITY terse
CREATE EXTENSION allocation;
SELECT allocation.add_batch('Réf-1', 'CHAISE-ÉTÉ', 10);
SELECT allocation.allocate('commande-ü', 'CHAISE-ÉTÉ', 2);
-- 255 two-byte UTF-8 characters are 255 characters
SELECT allocation.add_batch(repeat('é', 255), 'CHAISE-ÉTÉ', 1);
SELECT allocation.add_batch(repeat('é', 256), 'CHAISE-ÉTÉ', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
-- a byte that is not UTF-8 (LATIN1's é)
SELECT allocation.add_batch(convert_from('\x52e9662d32'::bytea, 'SQL_ASCII'), 'CHAISE-ÉTÉ', 1);
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS batches FROM allocation.stock;
\c :en_home
DROP DATABASE en_sql_ascii;
