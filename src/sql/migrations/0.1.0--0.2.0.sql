/* src/sql/migrations/0.1.0--0.2.0.sql: the schema changes from allocation 0.1.0 to 0.2.0 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION allocation UPDATE TO '0.2.0'" to load this file. \quit

--------------------------------------------------------------------------
-- What a fresh 0.2.0 install creates (src/sql/schema.sql), reached from
-- 0.1.0 without losing data: batches, order lines, products, the outbox,
-- the read model and notifications are kept as they are.  make builds
-- the upgrade script allocation--0.1.0--0.2.0.sql from this file, then
-- src/sql/functions.sql, which (re)defines every function, view and
-- trigger, then src/sql/update-owners.sql, then 0.1.0--0.2.0-rights.sql,
-- the rights of the objects new in 0.2.0.  This file holds only what
-- functions.sql cannot do: new tables, columns, types, indexes and roles,
-- changed columns, and the DROP of the views and functions that CREATE OR
-- REPLACE cannot change into their new form; no GRANT or REVOKE.
--
-- The rights of the objects 0.1.0 had stay as the site left them (grants
-- and revokes by hand included, to PUBLIC too), and out of the
-- extension's initial rights, so that pg_dump keeps them.  Not preserved:
-- privileges granted by hand on the views products and stock (they are
-- dropped and recreated: a view column cannot change its collation).
-- This update fails while a user object depends on those views (no
-- CASCADE).  Events recorded by 0.1.0 stay as they were written.
--------------------------------------------------------------------------

-- Roles, as in the install script: created NOLOGIN when missing
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_user') THEN
		CREATE ROLE allocation_user NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_admin') THEN
		CREATE ROLE allocation_admin NOLOGIN;
	END IF;
	IF NOT pg_catalog.pg_has_role('allocation_admin', 'allocation_user', 'MEMBER') THEN
		GRANT allocation_user TO allocation_admin;
	END IF;
END
$roles$;

-- Schema allocation becomes a member of the extension, as in a fresh
-- install, so that DROP EXTENSION removes it with its rights.  A schema
-- that holds its extension cannot be one of its members, so the extension
-- first moves to pg_catalog, where a fresh install registers it.
-- PostgreSQL has no command for that move: the catalog is updated
-- directly (this script runs as a superuser: the extension is not
-- trusted), the dependency on the old schema is dropped (pg_catalog is
-- pinned and needs none).
-- 0.1.0 took over a schema allocation that existed before it; a fresh
-- install refuses one (42P06).  The same here: a schema owned by another
-- role than the extension's, or holding objects that are not ours, stays
-- someone else's and the update stops (the database stays at 0.1.0).
DO $foreign$
DECLARE
	nsp pg_catalog.oid := 'allocation'::pg_catalog.regnamespace;
	ext pg_catalog.oid := (SELECT e.oid FROM pg_catalog.pg_extension e
							WHERE e.extname OPERATOR(pg_catalog.=) 'allocation');
BEGIN
	IF (SELECT n.nspowner FROM pg_catalog.pg_namespace n
		 WHERE n.oid OPERATOR(pg_catalog.=) nsp)
	   OPERATOR(pg_catalog.<>)
	   (SELECT e.extowner FROM pg_catalog.pg_extension e
		 WHERE e.oid OPERATOR(pg_catalog.=) ext)
	OR EXISTS (
		SELECT FROM (
			SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid
			  FROM pg_catalog.pg_class c
			 WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp
			   AND c.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['i', 'S', 't', 'c']::"char"[])
			UNION ALL
			SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid
			  FROM pg_catalog.pg_proc p
			 WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp
			UNION ALL
			SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid
			  FROM pg_catalog.pg_operator o
			 WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp
		) obj (classid, objid)
		 WHERE NOT EXISTS (
			SELECT FROM pg_catalog.pg_depend d
			 WHERE d.classid OPERATOR(pg_catalog.=) obj.classid
			   AND d.objid OPERATOR(pg_catalog.=) obj.objid
			   AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
			   AND d.refobjid OPERATOR(pg_catalog.=) ext
			   AND d.deptype OPERATOR(pg_catalog.=) 'e'))
	THEN
		RAISE EXCEPTION 'schema "allocation" is not the extension''s own'
			USING ERRCODE = '42P06',
				  DETAIL = 'It was made before the extension by another role, or holds objects that are not the extension''s.',
				  HINT = 'Give the schema to the extension''s owner and move the other objects out of it, then update again.';
	END IF;
END
$foreign$;

UPDATE pg_catalog.pg_extension
   SET extnamespace = 'pg_catalog'::pg_catalog.regnamespace
 WHERE extname = 'allocation';
DELETE FROM pg_catalog.pg_depend
 WHERE classid = 'pg_catalog.pg_extension'::pg_catalog.regclass
   AND objid = (SELECT e.oid FROM pg_catalog.pg_extension e
				 WHERE e.extname = 'allocation')
   AND refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
   AND refobjid = 'allocation'::pg_catalog.regnamespace
   AND deptype = 'n';
-- ALTER EXTENSION ... ADD records the schema's access list as it is, the
-- site's own grants included, as the extension's initial rights
-- (pg_init_privs), which pg_dump leaves out: the initial rights that
-- 0.1.0's install recorded for the schema are put back.
DO $add_schema$
DECLARE
	nsp pg_catalog.oid := 'allocation'::pg_catalog.regnamespace;
	init_before pg_catalog.aclitem[];
BEGIN
	SELECT ip.initprivs INTO init_before
	  FROM pg_catalog.pg_init_privs ip
	 WHERE ip.objoid OPERATOR(pg_catalog.=) nsp
	   AND ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
	   AND ip.objsubid OPERATOR(pg_catalog.=) 0;
	ALTER EXTENSION allocation ADD SCHEMA allocation;
	IF init_before IS NOT NULL THEN
		UPDATE pg_catalog.pg_init_privs ip
		   SET initprivs = init_before
		 WHERE ip.objoid OPERATOR(pg_catalog.=) nsp
		   AND ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
		   AND ip.objsubid OPERATOR(pg_catalog.=) 0;
	END IF;
END
$add_schema$;

--------------------------------------------------------------------------
-- Write model
--------------------------------------------------------------------------

-- product_state: room for HOT updates of the counters (set before the
-- rewrite below, so that it applies to the rewritten table)
ALTER TABLE allocation.product_state SET (fillfactor = 80);

-- product_state.event_key: xid8 -> bigint, the same number (NULL -> 0)
ALTER TABLE allocation.product_state
	ALTER COLUMN event_key TYPE bigint
		USING COALESCE(event_key::text::bigint, 0),
	ALTER COLUMN event_key SET DEFAULT 0,
	ALTER COLUMN event_key SET NOT NULL;

-- product_state.wal_only_seq: the last event written to the WAL only
-- (outbox_mode = wal, new in 0.2.0); 0.1.0 wrote every event to the table
ALTER TABLE allocation.product_state
	ADD COLUMN wal_only_seq bigint NOT NULL DEFAULT 0;

-- batches: room for HOT updates (before the rewrite by the new column)
ALTER TABLE allocation.batches SET (fillfactor = 80);

-- batches.has_stock: generated column, computed for the existing rows
ALTER TABLE allocation.batches
	ADD COLUMN has_stock boolean GENERATED ALWAYS AS
		(allocated_quantity < purchased_quantity) STORED;

-- batches: one CHECK instead of three (each is compiled again from its
-- text by every UPDATE); the rows satisfy it, since they satisfied the three
ALTER TABLE allocation.batches
	DROP CONSTRAINT batches_purchased_quantity_check,
	DROP CONSTRAINT batches_allocated_quantity_check,
	DROP CONSTRAINT batches_not_oversold,
	ADD CONSTRAINT batches_not_oversold
		CHECK (0 <= allocated_quantity AND allocated_quantity <= purchased_quantity);

-- batches_available: the partial index now tests has_stock, and holds
-- the batches with stock of each SKU in allocation preference order
-- (warehouse first, then earliest eta, then reference in the C collation
-- of the column), so that allocate reads them in that order and stops at
-- the first that can take the line
DROP INDEX allocation.batches_available;
CREATE INDEX batches_available ON allocation.batches (sku, eta NULLS FIRST, reference)
	WHERE has_stock;

--------------------------------------------------------------------------
-- Order tracking (new in 0.2.0)
--------------------------------------------------------------------------

-- new table orders
CREATE TABLE allocation.orders (
	orderid			text COLLATE "C" PRIMARY KEY,
	status			text NOT NULL CHECK (status IN ('created', 'allocated',
						'backordered', 'shipped', 'delivered', 'cancelled')),
	version_number	bigint NOT NULL DEFAULT 0,
	event_seq		bigint NOT NULL DEFAULT 0,
	event_key		bigint NOT NULL DEFAULT 0,
	updated_at		timestamptz NOT NULL
);

-- new table order_subscriptions
CREATE TABLE allocation.order_subscriptions (
	orderid			text COLLATE "C" NOT NULL REFERENCES allocation.orders,
	email			text NOT NULL,	-- validated, lower case
	subscribed_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (orderid, email)
);

--------------------------------------------------------------------------
-- Events, notifications, plugins
--------------------------------------------------------------------------

-- outbox.commit_key: xid8 -> bigint, the same number (the clock of 0.2.0
-- has offset 0 in the cluster where the keys were made: they stay in order)
ALTER TABLE allocation.outbox
	ALTER COLUMN commit_key TYPE bigint USING commit_key::text::bigint;

-- subscriptions.owner: oid -> regrole (dumped by name; no rewrite)
ALTER TABLE allocation.subscriptions
	ALTER COLUMN owner TYPE regrole USING owner::regrole;

-- A subscription whose function was dropped (0.1.0 kept its OID, which
-- now names nothing) cannot be carried over: its text would be the bare
-- OID, which no lookup of a name reads.  It is dropped, with a WARNING.
DO $$
DECLARE
	n bigint;
	types text;
	oids text;
BEGIN
	WITH dropped AS (
		DELETE FROM allocation.subscriptions s
		 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_proc p
							WHERE p.oid OPERATOR(pg_catalog.=) s.handler::pg_catalog.oid)
		RETURNING s.event_type, s.handler::pg_catalog.oid AS handler, s.owner)
	SELECT pg_catalog.count(*),
		   pg_catalog.string_agg(DISTINCT d.event_type, ', '),
		   pg_catalog.string_agg(pg_catalog.format('%s by role %s: function OID %s', d.event_type,
												   d.owner, d.handler), '; ' ORDER BY d.event_type, d.handler)
	  INTO n, types, oids FROM dropped d;
	IF n > 0 THEN
		RAISE WARNING 'dropped % plugin subscription(s) whose function no longer exists (events: %)', n, types
			USING DETAIL = 'Subscriptions: ' OPERATOR(pg_catalog.||) oids OPERATOR(pg_catalog.||) '.',
				  HINT = 'Subscribe the plugins again once their functions exist.';
	END IF;
END
$$;

-- subscriptions.handler: regprocedure -> text, the signature with its
-- schema (pg_upgrade refuses a regprocedure column).  Written under the
-- search_path the adapter pins, which names every schema but pg_catalog,
-- as subscribe() writes it; the script's own search_path is put back.
DO $$
DECLARE
	saved text := pg_catalog.current_setting('search_path');
BEGIN
	PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	ALTER TABLE allocation.subscriptions
		ALTER COLUMN handler TYPE text USING handler::pg_catalog.text;
	PERFORM pg_catalog.set_config('search_path', saved, true);
END
$$;

-- subscriptions.search_path: existing rows get what subscribe records for
-- a subscriber with PostgreSQL's default search_path
ALTER TABLE allocation.subscriptions ADD COLUMN search_path text;
UPDATE allocation.subscriptions SET search_path = '"$user", public, pg_temp';
ALTER TABLE allocation.subscriptions ALTER COLUMN search_path SET NOT NULL;

-- new table outbox_clock (empty: the first use sets this cluster's offset)
CREATE TABLE allocation.outbox_clock (
	id					boolean PRIMARY KEY DEFAULT true CHECK (id),
	system_identifier	bigint NOT NULL,
	key_offset			bigint NOT NULL
);

-- new table inbox
CREATE TABLE allocation.inbox (
	message_type	text NOT NULL,
	sender			regrole NOT NULL,	-- dumped by name
	message_id		jsonb NOT NULL,
	message			jsonb NOT NULL,
	result			jsonb,
	handled_at		timestamptz NOT NULL,
	PRIMARY KEY (message_type, sender, message_id)
);

-- new table settings: who receives the out-of-stock alerts, when an administrator chose it
-- (allocation.set_stock_alert_recipient); no row: the default.  The
-- setting allocation.stock_alert_recipient, when a superuser set it, wins.
CREATE TABLE allocation.settings (
	id						boolean PRIMARY KEY DEFAULT true CHECK (id),
	stock_alert_recipient	text NOT NULL	-- '' = no alerts
);

-- new table consumers
CREATE TABLE allocation.consumers (
	name			text PRIMARY KEY,
	last_key		bigint NOT NULL DEFAULT 0,
	last_position	bigint NOT NULL DEFAULT 0,
	registered_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	acked_at		timestamptz
);

-- pg_dump keeps the data of the new tables
SELECT pg_catalog.pg_extension_config_dump('allocation.inbox', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.settings', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.orders', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.order_subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.consumers', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox_clock', '');
-- and the identity sequences, or a restore would reuse numbers
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.notifications_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.subscriptions_id_seq', '');

--------------------------------------------------------------------------
-- Views whose columns change (identifiers in the database's default
-- collation): CREATE OR REPLACE VIEW cannot change a column's collation,
-- so they go here and functions.sql creates them again.
--------------------------------------------------------------------------

DROP VIEW allocation.products;
DROP VIEW allocation.stock;

--------------------------------------------------------------------------
-- New types
--------------------------------------------------------------------------

-- one line of allocate_many
CREATE TYPE allocation.order_line AS (orderid text, sku text, qty integer);

--------------------------------------------------------------------------
-- The mailer (relay/README.md, "allocation-mailer"): its role, the
-- delivery state of the notifications and the Message-ID token
--------------------------------------------------------------------------

-- the mailer's role, like the others: created NOLOGIN when missing, left
-- behind by DROP EXTENSION
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_mailer') THEN
		CREATE ROLE allocation_mailer NOLOGIN;
	END IF;
END
$roles$;

-- delivery state of each notification (defaults: the INSERT of the
-- extension names none of these columns)
ALTER TABLE allocation.notifications
	ADD COLUMN attempts integer NOT NULL DEFAULT 0,
	ADD COLUMN last_error text,
	ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
	ADD COLUMN claimed_until timestamptz,
	ADD COLUMN dead_at timestamptz,
	ADD COLUMN claim uuid;

-- what the mailers look for: unsent, not dead, by due time
CREATE INDEX notifications_due ON allocation.notifications (next_attempt_at, id)
	WHERE sent_at IS NULL AND dead_at IS NULL;

-- One row: a random value drawn by the first claim, part of every
-- Message-ID, so that the ids of two databases never collide and a mail
-- sent again after a crash carries the same id.  pg_dump keeps it (and so
-- a restored database goes on with the same ids); empty after CREATE
-- EXTENSION, so that a restore does not meet a row of its own.
CREATE TABLE allocation.mail_identity (
	id		boolean PRIMARY KEY DEFAULT true CHECK (id),
	token	text NOT NULL CHECK (token ~ '^[0-9a-f]{32}$')
);
SELECT pg_catalog.pg_extension_config_dump('allocation.mail_identity', '');

--------------------------------------------------------------------------
-- The events' signature in the WAL (allocation.outbox_mode = wal|both).
-- Any role may write a logical message with pg_logical_emit_message, so a
-- message is the extension's only when its prefix carries this
-- database's secret: "allocation:<token>".  The token is 128 bits drawn
-- from the server's strong random source by the first event written to the
-- WAL (or the first call of wal_message_prefix) and kept in this table,
-- which no role but the extension's owner may read.  pg_dump leaves it
-- out: a dump is read by more people than the WAL, and a restored
-- database, a new source of events with a new slot, draws a token of its
-- own.  Only a role that may read the WAL (REPLICATION) gets the prefix,
-- through wal_message_prefix(): such a role sees it in every message
-- anyway.  Not registered with pg_extension_config_dump, on purpose.
--------------------------------------------------------------------------
CREATE TABLE allocation.wal_secret (
	id		boolean PRIMARY KEY DEFAULT true CHECK (id),
	token	text NOT NULL CHECK (token ~ '^[0-9a-f]{32}$')
);
-- pg_read_all_data and pg_write_all_data act on every table, whatever its
-- grants: row level security without a policy hides the row from them
-- and refuses their writes.  The owner (the extension's functions) is not
-- subject to it (no FORCE).
ALTER TABLE allocation.wal_secret ENABLE ROW LEVEL SECURITY;
