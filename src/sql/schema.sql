/* src/sql/schema.sql: the schema of extension allocation (tables, types, roles) */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION allocation" to load this file. \quit

--------------------------------------------------------------------------
-- What this file holds, and what it does not.
--
-- The install script allocation--<version>.sql is built by make: this
-- file, then src/sql/functions.sql, then src/sql/rights.sql.  This file
-- holds what a later version cannot simply redefine: the schema, the
-- roles, tables, types, indexes and the registration of the tables whose
-- data pg_dump keeps.  Every function, view, trigger and comment on them
-- lives in functions.sql, written once, since the upgrade script runs the
-- same functions.sql after a hand-written migration (src/sql/migrations/);
-- every right on the extension's objects lives in rights.sql.
-- A change here needs the same change in the migration to the version
-- under development (docs/architecture.md, "SQL sources").
--------------------------------------------------------------------------

--------------------------------------------------------------------------
-- Schema allocation is created here, as a member of the extension, so that
-- DROP EXTENSION removes it with its rights and leaves nothing of ours in
-- the database.  (The extension itself is registered in pg_catalog: see
-- allocation.control.)  A schema allocation that exists already is someone
-- else's: refused, never adopted, since its owner could then plant objects
-- among ours or own them.
--------------------------------------------------------------------------
DO $schema$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'allocation') THEN
		RAISE EXCEPTION 'schema "allocation" already exists'
			USING ERRCODE = '42P06',
				  DETAIL = 'Extension allocation creates its own schema and does not take over one made before it.',
				  HINT = 'Drop or rename that schema, then create the extension again.';
	END IF;
END
$schema$;
CREATE SCHEMA allocation;

--------------------------------------------------------------------------
-- Roles (the contract: security model).  Roles belong to the cluster, not to a database:
-- created NOLOGIN when missing, reused when present, left behind by DROP
-- EXTENSION.  allocation_admin can do everything allocation_user can.
--------------------------------------------------------------------------
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

-- the mailer's role (relay/README.md, "allocation-mailer"), like the
-- others
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_mailer') THEN
		CREATE ROLE allocation_mailer NOLOGIN;
	END IF;
END
$roles$;

--------------------------------------------------------------------------
-- Write model: the Product aggregate.  Identifiers use the C collation, the
-- byte order rule 2 breaks ties with.  Only the extension's functions write
-- these tables (no role has any right on them).
--------------------------------------------------------------------------

-- One row a product: its version (rule 7) and the counters the aggregate
-- keeps.  Locked FOR NO KEY UPDATE by every command on the product.
CREATE TABLE allocation.product_state (
	sku				text COLLATE "C" PRIMARY KEY,
	version_number	bigint NOT NULL DEFAULT 0,
	line_seq		bigint NOT NULL DEFAULT 0,	-- last allocation number (rule 5)
	event_seq		bigint NOT NULL DEFAULT 0,	-- last outbox aggregate_seq
	event_key		bigint NOT NULL DEFAULT 0,	-- last outbox commit_key
	-- last aggregate_seq written to the WAL only (outbox_mode = wal), 0
	-- for none: the outbox table holds no row of it (check_invariants)
	wal_only_seq	bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 80);	-- room for HOT updates of the counters

CREATE TABLE allocation.batches (
	reference			text COLLATE "C" PRIMARY KEY,
	sku					text COLLATE "C" NOT NULL
						REFERENCES allocation.product_state (sku),
	purchased_quantity	integer NOT NULL,
	allocated_quantity	integer NOT NULL DEFAULT 0,
	eta					date,
	-- kept by PostgreSQL; indexed instead of the quantities, so that most
	-- allocations update the batch in place (HOT): has_stock changes only
	-- when a batch runs out or gets stock again
	has_stock			boolean GENERATED ALWAYS AS
						(allocated_quantity < purchased_quantity) STORED,
	-- the invariant "no batch has a negative available quantity", enforced
	-- by the database as a last line of defence behind the domain model;
	-- one constraint, which also implies purchased_quantity >= 0, because
	-- every UPDATE compiles each CHECK of the table again from its text
	CONSTRAINT batches_not_oversold
		CHECK (0 <= allocated_quantity AND allocated_quantity <= purchased_quantity)
) WITH (fillfactor = 80);

-- The batches that can still take a line, and only those: allocate reads
-- this index, so its cost does not grow with depleted batches.
-- batches_available: the batches with stock of each SKU in allocation
-- preference order (warehouse first, then earliest eta, then reference in
-- the C collation of the column), so that allocate reads them in that
-- order and stops at the first that can take the line
CREATE INDEX batches_available ON allocation.batches (sku, eta NULLS FIRST, reference)
	WHERE has_stock;

CREATE TABLE allocation.order_lines (
	sku			text COLLATE "C" NOT NULL,
	orderid		text COLLATE "C" NOT NULL,
	qty			integer NOT NULL CHECK (qty > 0),
	batchref	text COLLATE "C" NOT NULL,
	seq			bigint NOT NULL,	-- allocation order within the product
	PRIMARY KEY (sku, orderid)
);

-- rule 5 reads a batch's lines
CREATE INDEX order_lines_batch ON allocation.order_lines (batchref);

--------------------------------------------------------------------------
-- Order tracking (the contract: order tracking): a second bounded context.  It shares no
-- table with allocation; it hears of allocations through events.
--------------------------------------------------------------------------

CREATE TABLE allocation.orders (
	orderid			text COLLATE "C" PRIMARY KEY,
	status			text NOT NULL CHECK (status IN ('created', 'allocated',
						'backordered', 'shipped', 'delivered', 'cancelled')),
	version_number	bigint NOT NULL DEFAULT 0,
	event_seq		bigint NOT NULL DEFAULT 0,
	event_key		bigint NOT NULL DEFAULT 0,
	updated_at		timestamptz NOT NULL
);

CREATE TABLE allocation.order_subscriptions (
	orderid			text COLLATE "C" NOT NULL REFERENCES allocation.orders,
	email			text NOT NULL,	-- validated, lower case
	subscribed_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (orderid, email)
);

--------------------------------------------------------------------------
-- Events, read model, notifications, plugins (the contract: events)
--------------------------------------------------------------------------

-- The transactional outbox.  commit_key and position give consumers an
-- order that never skips a late-committing transaction (read_events).
CREATE TABLE allocation.outbox (
	id				uuid PRIMARY KEY,
	aggregatetype	text NOT NULL,
	aggregateid		text NOT NULL,
	type			text NOT NULL,
	payload			jsonb NOT NULL,
	occurred_at		timestamptz NOT NULL,
	aggregate_seq	bigint NOT NULL,	-- 1, 2, 3... per aggregate, no gaps
	position		bigint GENERATED ALWAYS AS IDENTITY,
	commit_key		bigint NOT NULL
);

CREATE INDEX outbox_delivery ON allocation.outbox (commit_key, position);

-- CQRS read model: one row an allocated order line.
CREATE TABLE allocation.allocations_view (
	orderid		text COLLATE "C" NOT NULL,
	sku			text COLLATE "C" NOT NULL,
	batchref	text COLLATE "C" NOT NULL,
	qty			integer NOT NULL,
	updated_at	timestamptz NOT NULL,
	PRIMARY KEY (orderid, sku)
);

-- E-mails waiting for a mailer (sent_at NULL) or sent, with their
-- delivery state (the mailer's functions in functions.sql; defaults: the
-- INSERT of the extension names none of the delivery columns).
CREATE TABLE allocation.notifications (
	id				bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	recipient		text NOT NULL,
	subject			text NOT NULL,
	body			text NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	sent_at			timestamptz,
	attempts		integer NOT NULL DEFAULT 0,
	last_error		text,
	next_attempt_at	timestamptz NOT NULL DEFAULT '-infinity',
	claimed_until	timestamptz,
	dead_at			timestamptz,
	claim			uuid			-- the claim that set claimed_until
);

-- what the mailers look for: unsent, not dead, by due time
CREATE INDEX notifications_due ON allocation.notifications (next_attempt_at, id)
	WHERE sent_at IS NULL AND dead_at IS NULL;

-- Plugins: user functions called for an event type.
CREATE TABLE allocation.subscriptions (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_type	text NOT NULL,
	-- the function's signature with its schema, resolved at every load of
	-- the subscriptions: not a regprocedure column, which pg_upgrade
	-- refuses (it keeps no function OIDs)
	handler		text NOT NULL,
	owner		regrole NOT NULL,	-- who subscribed: the plugin's rights (dumped by name)
	search_path	text NOT NULL,	-- the subscriber's, the plugin's at every call
	UNIQUE (event_type, handler)
);

-- The clock of outbox commit keys: a key is a transaction id plus
-- key_offset.  The offset is 0 until the database is restored into another
-- cluster (another system_identifier, other transaction ids): the first
-- use there raises it so that every new key and the consumers' frontier
-- lie above every restored key (adapters/outbox.c, al_pg_clock_offset).
CREATE TABLE allocation.outbox_clock (
	id					boolean PRIMARY KEY DEFAULT true CHECK (id),
	system_identifier	bigint NOT NULL,
	key_offset			bigint NOT NULL
);

-- Idempotent receiver of allocation.handle: one row a message handled.  A
-- message_id counts within its command type and its sender (current_user
-- at the call): no sender can claim another's id.  message_id is the jsonb
-- string or integer, so "7" and 7 are two ids and 1.0 is 1.
CREATE TABLE allocation.inbox (
	message_type	text NOT NULL,
	sender			regrole NOT NULL,	-- dumped by name
	message_id		jsonb NOT NULL,
	message			jsonb NOT NULL,
	result			jsonb,
	handled_at		timestamptz NOT NULL,
	PRIMARY KEY (message_type, sender, message_id)
);

-- Who receives the out-of-stock alerts, when an administrator chose it
-- (allocation.set_stock_alert_recipient); no row: the default.  The
-- setting allocation.stock_alert_recipient, when a superuser set it, wins.
CREATE TABLE allocation.settings (
	id						boolean PRIMARY KEY DEFAULT true CHECK (id),
	stock_alert_recipient	text NOT NULL	-- '' = no alerts
);

-- Outbox consumers and how far each has acknowledged (read_events).
CREATE TABLE allocation.consumers (
	name			text PRIMARY KEY,
	last_key		bigint NOT NULL DEFAULT 0,
	last_position	bigint NOT NULL DEFAULT 0,
	registered_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	acked_at		timestamptz
);

-- One row: a random value drawn by the first claim, part of every
-- Message-ID, so that the ids of two databases never collide and a mail
-- sent again after a crash carries the same id.  pg_dump keeps it (and so
-- a restored database goes on with the same ids); empty after CREATE
-- EXTENSION, so that a restore does not meet a row of its own.
CREATE TABLE allocation.mail_identity (
	id		boolean PRIMARY KEY DEFAULT true CHECK (id),
	token	text NOT NULL CHECK (token ~ '^[0-9a-f]{32}$')
);

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

-- pg_dump keeps the data of these tables (they are the users' data)
SELECT pg_catalog.pg_extension_config_dump('allocation.product_state', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.batches', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.allocations_view', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.inbox', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.settings', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.orders', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.order_subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.consumers', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox_clock', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.mail_identity', '');
-- and the identity sequences behind them, or a restore would reuse numbers
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.notifications_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.subscriptions_id_seq', '');

--------------------------------------------------------------------------
-- Types
--------------------------------------------------------------------------

-- One line of allocate_many.
CREATE TYPE allocation.order_line AS (orderid text, sku text, qty integer);
