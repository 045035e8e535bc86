--
-- The extension's logical messages are signed: their prefix is
-- "allocation:<token>", the token a secret of the database drawn on first
-- use (allocation.wal_secret), since any role may write a message with the
-- prefix "allocation" (pg_logical_emit_message).  Shown here: the token is
-- drawn by the first event sent to the WAL and never by outbox_mode =
-- table; a token drawn by a transaction or subtransaction that rolls back
-- is not kept by the backend (the next event carries the token that was
-- committed); only roles that can read the WAL (REPLICATION) may have the
-- prefix; nobody else reads the table.  The messages are read from a
-- slot with pgoutput, as the relay does: a transactional message ('M',
-- flags 1) has its prefix from byte 11 to a NUL.  No token is printed.
-- SKUs and references of this file start with "WS-".
--
\set VERBOSITY terse
LOAD '$libdir/allocation';
-- start as a database that never sent an event to the WAL
DELETE FROM allocation.wal_secret;
CREATE PUBLICATION ws_pub;
SELECT 'ok' FROM pg_create_logical_replication_slot('ws_slot', 'pgoutput');
-- each message of ours read since the last call: its reference, and
-- whether its prefix is the secret one the table holds now
PREPARE ws_messages AS
SELECT substring(encode(m.data, 'escape') FROM '"ref": "([^"]*)"') AS ref,
       m.prefix OPERATOR(pg_catalog.=)
         ('allocation:' || (SELECT token FROM allocation.wal_secret)) AS signed
  FROM (SELECT c.lsn, c.data,
               convert_from(substring(c.data FROM 11
                                      FOR position('\x00'::bytea IN substring(c.data FROM 11)) - 1),
                            'UTF8') AS prefix
          FROM pg_logical_slot_get_binary_changes('ws_slot', NULL, NULL, 'proto_version', '1',
                                                  'publication_names', 'ws_pub', 'messages', 'true') c
         WHERE get_byte(c.data, 0) = ascii('M') AND get_byte(c.data, 1) = 1) m
 WHERE m.prefix LIKE 'allocation%'
 ORDER BY m.lsn;

-- outbox_mode = table draws no token and writes no message
SELECT allocation.add_batch('WS-table', 'WS-SKU', 10);
SELECT count(*) AS tokens FROM allocation.wal_secret;
EXECUTE ws_messages;

-- a token drawn by a transaction that rolls back goes with it: the next
-- event carries the token committed after it
SET allocation.outbox_mode = wal;
BEGIN;
SELECT allocation.add_batch('WS-rolled-back', 'WS-SKU', 10);
SELECT count(*) AS tokens FROM allocation.wal_secret;
ROLLBACK;
SELECT count(*) AS tokens FROM allocation.wal_secret;
SELECT allocation.add_batch('WS-committed', 'WS-SKU', 10);
SELECT count(*) AS tokens FROM allocation.wal_secret;
EXECUTE ws_messages;

-- the same with a subtransaction, in a new backend (an empty cache)
\c
\set VERBOSITY terse
PREPARE ws_messages AS
SELECT substring(encode(m.data, 'escape') FROM '"ref": "([^"]*)"') AS ref,
       m.prefix OPERATOR(pg_catalog.=)
         ('allocation:' || (SELECT token FROM allocation.wal_secret)) AS signed
  FROM (SELECT c.lsn, c.data,
               convert_from(substring(c.data FROM 11
                                      FOR position('\x00'::bytea IN substring(c.data FROM 11)) - 1),
                            'UTF8') AS prefix
          FROM pg_logical_slot_get_binary_changes('ws_slot', NULL, NULL, 'proto_version', '1',
                                                  'publication_names', 'ws_pub', 'messages', 'true') c
         WHERE get_byte(c.data, 0) = ascii('M') AND get_byte(c.data, 1) = 1) m
 WHERE m.prefix LIKE 'allocation%'
 ORDER BY m.lsn;
SET allocation.outbox_mode = wal;
DELETE FROM allocation.wal_secret;
BEGIN;
SAVEPOINT s;
SELECT allocation.add_batch('WS-savepoint', 'WS-SKU', 10);
ROLLBACK TO SAVEPOINT s;
SELECT allocation.add_batch('WS-after-savepoint', 'WS-SKU', 10);
COMMIT;
SELECT allocation.add_batch('WS-next', 'WS-SKU', 10);
EXECUTE ws_messages;

-- both: signed too
SET allocation.outbox_mode = 'both';
SELECT allocation.add_batch('WS-both', 'WS-SKU', 10);
EXECUTE ws_messages;
RESET allocation.outbox_mode;

-- who may have the prefix: roles that can read the WAL anyway
CREATE ROLE ws_nobody;
CREATE ROLE ws_admin IN ROLE allocation_admin;
CREATE ROLE ws_reader REPLICATION IN ROLE allocation_admin;
SET ROLE ws_nobody;
SELECT allocation.wal_message_prefix();
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT token FROM allocation.wal_secret;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;
-- an administrator without REPLICATION: refused, and the message tells no secret
SET ROLE ws_admin;
SELECT allocation.wal_message_prefix();
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT token FROM allocation.wal_secret;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
RESET ROLE;
-- the relay's role: REPLICATION and allocation_admin
SET SESSION AUTHORIZATION ws_reader;
SELECT allocation.wal_message_prefix() OPERATOR(pg_catalog.~) '^allocation:[0-9a-f]{32}$' AS well_formed;
RESET SESSION AUTHORIZATION;
SELECT allocation.wal_message_prefix() = 'allocation:' || token AS same_as_the_table FROM allocation.wal_secret;

SELECT pg_drop_replication_slot('ws_slot');
DROP PUBLICATION ws_pub;
DROP ROLE ws_nobody, ws_admin, ws_reader;
