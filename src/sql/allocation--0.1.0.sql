/* src/sql/allocation--0.1.0.sql: install script of allocation 0.1.0 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION allocation" to load this file. \quit

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

REVOKE ALL ON SCHEMA allocation FROM PUBLIC;
GRANT USAGE ON SCHEMA allocation TO allocation_user;

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
	event_key		xid8						-- last outbox commit_key
);

CREATE TABLE allocation.batches (
	reference			text COLLATE "C" PRIMARY KEY,
	sku					text COLLATE "C" NOT NULL
						REFERENCES allocation.product_state (sku),
	purchased_quantity	integer NOT NULL CHECK (purchased_quantity >= 0),
	allocated_quantity	integer NOT NULL DEFAULT 0 CHECK (allocated_quantity >= 0),
	eta					date,
	-- the invariant "no batch has a negative available quantity", enforced
	-- by the database as a last line of defence behind the domain model
	CONSTRAINT batches_not_oversold CHECK (allocated_quantity <= purchased_quantity)
);

-- The batches that can still take a line, and only those: allocate reads
-- this index, so its cost does not grow with depleted batches (the contract's performance rules).
CREATE INDEX batches_available ON allocation.batches (sku)
	WHERE allocated_quantity < purchased_quantity;

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
	commit_key		xid8 NOT NULL
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

-- E-mails waiting for a mailer (sent_at NULL) or sent.
CREATE TABLE allocation.notifications (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	recipient	text NOT NULL,
	subject		text NOT NULL,
	body		text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	sent_at		timestamptz
);

-- Plugins: user functions called for an event type.
CREATE TABLE allocation.subscriptions (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_type	text NOT NULL,
	handler		regprocedure NOT NULL,
	owner		oid NOT NULL,	-- the role that subscribed: the plugin's rights
	UNIQUE (event_type, handler)
);

-- pg_dump keeps the data of these tables (they are the users' data)
SELECT pg_catalog.pg_extension_config_dump('allocation.product_state', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.batches', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.allocations_view', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.notifications', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.subscriptions', '');

--------------------------------------------------------------------------
-- Queries (read side)
--------------------------------------------------------------------------

CREATE VIEW allocation.products AS
	SELECT sku, version_number FROM allocation.product_state;
COMMENT ON VIEW allocation.products IS
	'One row a product: its SKU and version_number (rule 7).';

CREATE VIEW allocation.stock AS
	SELECT reference, sku, eta,
		   purchased_quantity AS purchased,
		   allocated_quantity AS allocated,
		   purchased_quantity - allocated_quantity AS available
	  FROM allocation.batches;
COMMENT ON VIEW allocation.stock IS
	'One row a batch: reference, sku, eta, purchased, allocated and available quantities.';

CREATE FUNCTION allocation.allocations(orderid text)
RETURNS TABLE (sku text, batchref text)
LANGUAGE sql STABLE
AS $$
	SELECT v.sku, v.batchref
	  FROM allocation.allocations_view v
	 WHERE v.orderid OPERATOR(pg_catalog.=) $1
	 ORDER BY v.sku
$$;
COMMENT ON FUNCTION allocation.allocations(text) IS
	'The lines of an order and their batches, from the read model, ordered by sku.';

--------------------------------------------------------------------------
-- Commands (C).  VOLATILE and not STRICT: a NULL argument is error 22004.
--------------------------------------------------------------------------

CREATE FUNCTION allocation.add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_add_batch'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.add_batch(text, text, integer, date) IS
	'Add a batch of stock (eta NULL: in the warehouse); creates the product on first use. Records BatchCreated.';

CREATE FUNCTION allocation.allocate(orderid text, sku text, qty integer)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_allocate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.allocate(text, text, integer) IS
	'Allocate an order line to the preferred batch; returns its reference, or NULL when out of stock. Records Allocated or OutOfStock.';

CREATE FUNCTION allocation.deallocate(orderid text, sku text)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_deallocate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.deallocate(text, text) IS
	'Free an order line; returns the batch it was freed from, or NULL when it was not allocated. Records Deallocated.';

CREATE FUNCTION allocation.change_batch_quantity(ref text, qty integer)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_change_batch_quantity'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.change_batch_quantity(text, integer) IS
	'Change a batch''s purchased quantity, deallocating and reallocating lines when it falls below what is allocated (rule 5).';

--------------------------------------------------------------------------
-- Rights (the contract: security model).  Nothing is granted to PUBLIC.  Admin-only
-- commands are executable by allocation_user so that a refusal can say
-- which role is needed (42501, checked in C).
--------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA allocation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allocation FROM PUBLIC;
GRANT SELECT ON allocation.products, allocation.stock TO allocation_user;
GRANT EXECUTE ON FUNCTION
	allocation.allocations(text),
	allocation.add_batch(text, text, integer, date),
	allocation.allocate(text, text, integer),
	allocation.deallocate(text, text),
	allocation.change_batch_quantity(text, integer)
	TO allocation_user;
GRANT SELECT ON allocation.allocations_view TO allocation_user;
GRANT SELECT ON allocation.outbox, allocation.notifications TO allocation_admin;
