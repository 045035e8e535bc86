--
-- The values an error shows, in databases that are not UTF8 (see
-- error_values.sql for what is shown).  A value is cut after 64
-- characters of the database encoding, never inside one: a message cut
-- inside a character is refused on its way to a UTF8 client, which then
-- gets 22021 instead of the error.  In SQL_ASCII a valid UTF-8 sequence is
-- one character and any other byte is written \xNN; in LATIN1 the C1
-- controls (0x80-0x9F) are written \xNN.  The same cases run in each
-- database, with a multibyte (or non-ASCII) character of its encoding
-- (the statements are not echoed: they hold the raw control characters).
--
SELECT current_database() AS ev_home \gset
-- the cases, run in each database with its character in ev.mb
SELECT $q$
SELECT s FROM (VALUES
	(1, format('SELECT allocation.add_batch(%L, ''EV'', 1)', repeat(current_setting('ev.mb'), 70) || E'\n')),
	(2, format('SELECT allocation.add_batch(%L, ''EV'', 1)', repeat('a', 63) || repeat(current_setting('ev.mb'), 3) || E'\t')),
	(3, format('SELECT allocation.allocate(%L, ''EV'', 1)', E'\x1b[31m' || current_setting('ev.mb'))),
	(4, format('SELECT allocation.change_order_status(''EV-1'', %L)', repeat(current_setting('ev.mb'), 100))),
	(5, format('SELECT allocation.handle(%L)', jsonb_build_object('type', repeat(current_setting('ev.mb'), 65))))
) AS t(n, s) ORDER BY n
$q$ AS ev_cases \gset

CREATE DATABASE ev_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ev_latin1
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
SET ev.mb = 'é';
\set ECHO none
:ev_cases \gexec
\set ECHO all
-- a C1 control (NEL, 0x85 in LATIN1) is written \x85, not sent as it is
SELECT allocation.add_batch(E'a\u0085b', 'EV', 1);
\c :ev_home
DROP DATABASE ev_latin1;

CREATE DATABASE ev_sql_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ev_sql_ascii
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
SET ev.mb = '日';
\set ECHO none
:ev_cases \gexec
\set ECHO all
-- bytes that are not UTF-8 (LATIN1's "é", then a tab) are written \xNN
SELECT allocation.change_order_status('EV-1', convert_from('\x52e9662d09'::bytea, 'SQL_ASCII'));
\c :ev_home
DROP DATABASE ev_sql_ascii;

CREATE DATABASE ev_euc_jp ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ev_euc_jp
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
SET ev.mb = '日';
\set ECHO none
:ev_cases \gexec
\set ECHO all
\c :ev_home
DROP DATABASE ev_euc_jp;

-- Characters without a Unicode equivalent (WIN1252 leaves 0x81, 0x8D,
-- 0x8F, 0x90 and 0x9D undefined; EUC_CN's A4 FE is no character) have
-- their bytes written \xNN: copied, the message could not reach a UTF8
-- client (22P05 would replace the error).  Generated over every byte
-- 0x80-0xFF; each refusal must reach the client as 22023.
CREATE DATABASE ev_win1252 ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ev_win1252
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
\set VERBOSITY sqlstate
\set ECHO none
SELECT format('SELECT allocation.change_order_status(''EV-1'', convert_from(%L::bytea, ''WIN1252''))',
			  '\x78' || lpad(to_hex(b), 2, '0'))
  FROM generate_series(128, 255) b \gexec
\set ECHO all
\set VERBOSITY default
SELECT allocation.change_order_status('EV-1', convert_from('\x788178'::bytea, 'WIN1252'));
\c :ev_home
DROP DATABASE ev_win1252;
CREATE DATABASE ev_euc_cn ENCODING 'EUC_CN' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ev_euc_cn
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
SELECT allocation.change_order_status('EV-1', convert_from('\x78a4fe78'::bytea, 'EUC_CN'));
\c :ev_home
DROP DATABASE ev_euc_cn;
-- SQL_ASCII: a C1 control written in UTF-8 (C2 85) is \u0085, as in UTF8
CREATE DATABASE ev_sql_ascii2 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c ev_sql_ascii2
SET client_encoding = 'UTF8';
CREATE EXTENSION allocation;
SELECT allocation.change_order_status('EV-1', convert_from('\x78c2855b33316d'::bytea, 'SQL_ASCII'));
\c :ev_home
DROP DATABASE ev_sql_ascii2;
