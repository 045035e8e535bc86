--
-- allocation.outbox_mode: where events go.  table (the default) writes
-- outbox rows; wal writes one transactional logical message per event and
-- no row; both writes the two.  Only superusers choose it.  The messages
-- are read here from a logical slot with pgoutput, as allocation-relay
-- --source wal does (the throwaway cluster runs with wal_level = logical).
-- SKUs and references of this file start with "OM-".
--
\set VERBOSITY terse
-- the settings exist once the library is loaded
LOAD '$libdir/allocation';

-- the default: the outbox table
SHOW allocation.outbox_mode;

-- only a superuser may choose it (a user must not hide events from the table)
CREATE ROLE om_user;
SET ROLE om_user;
SET allocation.outbox_mode = wal;
RESET ROLE;
DROP ROLE om_user;

-- a slot read with a publication made before it, as the relay does
CREATE PUBLICATION om_pub;
SELECT 'ok' FROM pg_create_logical_replication_slot('om_slot', 'pgoutput');
PREPARE om_messages AS
SELECT count(*) AS messages,
       count(*) FILTER (WHERE position(convert_to('"type" : "Allocated"', 'UTF8') IN data) > 0) AS allocated,
       count(*) FILTER (WHERE position(convert_to('"payload" : {', 'UTF8') IN data) > 0) AS with_payload
  FROM pg_logical_slot_get_binary_changes('om_slot', NULL, NULL, 'proto_version', '1',
                                          'publication_names', 'om_pub', 'messages', 'true')
 WHERE get_byte(data, 0) = ascii('M');

-- table: rows, no message
SELECT allocation.add_batch('OM-T', 'OM-TABLE', 10);
SELECT allocation.allocate('OM-t1', 'OM-TABLE', 1);
SELECT count(*) AS rows FROM allocation.outbox WHERE aggregateid = 'OM-TABLE';
EXECUTE om_messages;

-- wal: a message per event, in order, and no row
SET allocation.outbox_mode = wal;
SELECT allocation.add_batch('OM-W', 'OM-WAL', 10);
SELECT allocation.allocate('OM-w1', 'OM-WAL', 1);
SELECT count(*) AS rows FROM allocation.outbox WHERE aggregateid = 'OM-WAL';
EXECUTE om_messages;

-- a rolled-back command leaves no message
BEGIN;
SELECT allocation.allocate('OM-w2', 'OM-WAL', 1);
ROLLBACK;
EXECUTE om_messages;

-- both: the row and the message
SET allocation.outbox_mode = 'both';
SELECT allocation.allocate('OM-w3', 'OM-WAL', 1);
SELECT count(*) AS rows FROM allocation.outbox WHERE aggregateid = 'OM-WAL';
EXECUTE om_messages;
RESET allocation.outbox_mode;

SELECT pg_drop_replication_slot('om_slot');
DROP PUBLICATION om_pub;
