/* src/sql/allocation.sql: install script of extension allocation */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION allocation" to load this file. \quit

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
-- Roles (SPEC section 7).  Roles belong to the cluster, not to a database:
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
	event_key		bigint NOT NULL DEFAULT 0	-- last outbox commit_key
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
-- Order tracking (SPEC section 6): a second bounded context.  It shares no
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
-- Events, read model, notifications, plugins (SPEC section 5)
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
-- and the identity sequences behind them, or a restore would reuse numbers
SELECT pg_catalog.pg_extension_config_dump('allocation.outbox_position_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.notifications_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('allocation.subscriptions_id_seq', '');

--------------------------------------------------------------------------
-- Queries (read side)
--------------------------------------------------------------------------

-- The read side shows identifiers in the database's default collation, so
-- that users can compare them with their own text values; the tables keep
-- the C collation (byte order, cheap comparisons) for the write side.
CREATE VIEW allocation.products AS
	SELECT sku COLLATE "default" AS sku, version_number
	  FROM allocation.product_state;
COMMENT ON VIEW allocation.products IS
	'One row a product: its SKU and version_number (rule 7).';

CREATE VIEW allocation.stock AS
	SELECT reference COLLATE "default" AS reference,
		   sku COLLATE "default" AS sku,
		   eta,
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
	SELECT v.sku COLLATE "default", v.batchref COLLATE "default"
	  FROM allocation.allocations_view v
	 WHERE v.orderid OPERATOR(pg_catalog.=) $1
	 ORDER BY v.sku
$$;
COMMENT ON FUNCTION allocation.allocations(text) IS
	'The lines of an order and their batches, from the read model, ordered by sku.';

--------------------------------------------------------------------------
-- Commands (C), VOLATILE.  A NULL argument is error 22004, never a silent NULL.
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

-- One line of allocate_many.
CREATE TYPE allocation.order_line AS (orderid text, sku text, qty integer);

CREATE FUNCTION allocation.allocate_many(lines allocation.order_line[])
RETURNS TABLE (orderid text, sku text, batchref text)
AS 'MODULE_PATHNAME', 'allocation_allocate_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.allocate_many(allocation.order_line[]) IS
	'Allocate many lines in one call: the same rules and events as allocate for each line in order; products are locked in SKU order, so concurrent calls cannot deadlock.';

CREATE FUNCTION allocation.handle(message jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'allocation_handle'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.handle(jsonb) IS
	'Execute a command message (Allocate, CreateBatch, ChangeBatchQuantity, Deallocate); a repeated message_id returns the first result without running again.';

--------------------------------------------------------------------------
-- Order tracking commands and query
--------------------------------------------------------------------------

CREATE FUNCTION allocation.create_order(orderid text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_create_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.create_order(text) IS
	'Track an order (id PREFIX-NUMBER) in status created; administrators only. Records OrderCreated.';

CREATE FUNCTION allocation.order_status(orderid text)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_order_status'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.order_status(text) IS
	'The status of a tracked order, NULL when the order is not tracked.';

CREATE FUNCTION allocation.change_order_status(orderid text, status text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_change_order_status'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.change_order_status(text, text) IS
	'Move an order along its state machine (ZA004 otherwise); administrators only. Records OrderStatusChanged and tells every subscriber.';

CREATE FUNCTION allocation.subscribe_to_order(orderid text, email text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_subscribe_to_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.subscribe_to_order(text, text) IS
	'Follow an order by e-mail: every later status change writes one notification to this address.';

--------------------------------------------------------------------------
-- Message bus: plugins and the disposable read model
--------------------------------------------------------------------------

CREATE FUNCTION allocation.subscribe(event_type text, handler regprocedure)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_subscribe'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.subscribe(text, regprocedure) IS
	'Call handler(event jsonb) for every event of this type, after the built-in handlers, in its own subtransaction, with the rights of the subscribing role.';

CREATE FUNCTION allocation.unsubscribe(event_type text, handler regprocedure)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_unsubscribe'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.unsubscribe(text, regprocedure) IS
	'Remove a plugin subscription; true when there was one.';

CREATE FUNCTION allocation.stock_alert_recipient()
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_stock_alert_recipient'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.stock_alert_recipient() IS
	'The address that receives out-of-stock alerts: the setting allocation.stock_alert_recipient if a superuser set it, else the one chosen by set_stock_alert_recipient, else postmaster@localhost; empty means no alerts.';

CREATE FUNCTION allocation.set_stock_alert_recipient(recipient text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_set_stock_alert_recipient'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.set_stock_alert_recipient(text) IS
	'Administrators: choose the address of the out-of-stock alerts (empty: no alerts; NULL: the default again).';

CREATE FUNCTION allocation.rebuild_read_model()
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_rebuild_read_model'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.rebuild_read_model() IS
	'Recreate allocations_view from the write model; returns the number of rows.';

--------------------------------------------------------------------------
-- Outbox consumers.  An event is delivered once every transaction that
-- could still write before it has ended: rows are read in (commit_key,
-- position) order and only while commit_key < the snapshot's xmin.  A
-- transaction still running has an xid >= xmin and its rows get a
-- commit_key >= its xid, so nothing can appear behind a consumer's
-- cursor: unlike "WHERE id > last_seen", no late commit is skipped.  The
-- commit_key of a product's event is never below its previous event's, so
-- the order is each aggregate's commit order too.
--------------------------------------------------------------------------

CREATE FUNCTION allocation._clock_offset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_clock_offset'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation._clock_offset() IS
	'The offset of outbox commit keys over transaction ids in this cluster (see table outbox_clock).';

CREATE FUNCTION allocation._register_consumer(consumer text, from_start boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF consumer IS NULL OR from_start IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN consumer IS NULL THEN 'consumer' ELSE 'from_start' END
			USING ERRCODE = '22004';
	END IF;
	IF btrim(consumer) = '' OR length(consumer) > 255 THEN
		RAISE EXCEPTION 'invalid consumer name "%"', consumer USING ERRCODE = '22023';
	END IF;
	INSERT INTO allocation.consumers (name, last_key, last_position)
	SELECT consumer, COALESCE(max(o.commit_key), 0), COALESCE(max(o.position), 0)
	  FROM allocation.outbox o
	 WHERE NOT from_start
	   AND o.commit_key < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
						  + allocation._clock_offset()
	ON CONFLICT (name) DO NOTHING;
END
$$;
COMMENT ON FUNCTION allocation._register_consumer(text, boolean) IS
	'Implementation of allocation.register_consumer, run with the owner''s rights by it.';

CREATE FUNCTION allocation.register_consumer(consumer text, from_start boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.register_consumer(text, boolean) IS
	'Register a named outbox consumer, from the first event kept (or, from_start false, from now on). Idempotent.';

CREATE FUNCTION allocation._unregister_consumer(consumer text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF consumer IS NULL THEN
		RAISE EXCEPTION 'argument "consumer" must not be null' USING ERRCODE = '22004';
	END IF;
	DELETE FROM allocation.consumers c WHERE c.name = consumer;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION allocation._unregister_consumer(text) IS
	'Implementation of allocation.unregister_consumer, run with the owner''s rights by it.';

CREATE FUNCTION allocation.unregister_consumer(consumer text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.unregister_consumer(text) IS
	'Forget a consumer, so that it no longer holds back purge_outbox.';

CREATE FUNCTION allocation._read_events(consumer text, max_events integer DEFAULT 100)
RETURNS SETOF allocation.outbox
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c allocation.consumers;
	frontier bigint;
BEGIN
	IF consumer IS NULL OR max_events IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN consumer IS NULL THEN 'consumer' ELSE 'max_events' END
			USING ERRCODE = '22004';
	END IF;
	SELECT * INTO c FROM allocation.consumers WHERE name = consumer;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown consumer "%"', consumer
			USING ERRCODE = '22023', HINT = 'Call allocation.register_consumer first.';
	END IF;
	IF max_events IS NULL OR max_events < 1 THEN
		RAISE EXCEPTION 'invalid max_events %', max_events USING ERRCODE = '22023';
	END IF;
	-- every transaction that could still write a key below this has ended
	frontier := pg_snapshot_xmin(pg_current_snapshot())::text::bigint
				+ allocation._clock_offset();
	RETURN QUERY
	SELECT o.*
	  FROM allocation.outbox o
	 WHERE (o.commit_key, o.position) > (c.last_key, c.last_position)
	   AND o.commit_key < frontier
	 ORDER BY o.commit_key, o.position
	 LIMIT max_events;
END
$$;
COMMENT ON FUNCTION allocation._read_events(text, integer) IS
	'Implementation of allocation.read_events, run with the owner''s rights by it.';

CREATE FUNCTION allocation.read_events(consumer text, max_events integer DEFAULT 100)
RETURNS SETOF allocation.outbox
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.read_events(text, integer) IS
	'The next events for a consumer, oldest first, never skipping a late-committing transaction. Unacknowledged events are read again (at least once).';

CREATE FUNCTION allocation._ack_events(consumer text, last_event uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e allocation.outbox;
BEGIN
	IF consumer IS NULL OR last_event IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN consumer IS NULL THEN 'consumer' ELSE 'last_event' END
			USING ERRCODE = '22004';
	END IF;
	SELECT * INTO e FROM allocation.outbox WHERE id = last_event;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown event "%"', last_event USING ERRCODE = '22023';
	END IF;
	-- only what read_events could have delivered: past the frontier, a
	-- transaction still running may yet commit an event before this one,
	-- and the cursor would pass it for good
	IF e.commit_key >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint
					   + allocation._clock_offset() THEN
		RAISE EXCEPTION 'event "%" is not readable yet', last_event
			USING ERRCODE = '22023',
				  DETAIL = 'A transaction that may still record an earlier event is running.',
				  HINT = 'Acknowledge only events that allocation.read_events returned.';
	END IF;
	UPDATE allocation.consumers
	   SET last_key = e.commit_key, last_position = e.position,
		   acked_at = clock_timestamp()
	 WHERE name = consumer
	   AND (last_key, last_position) < (e.commit_key, e.position);
	IF NOT FOUND AND NOT EXISTS (SELECT FROM allocation.consumers WHERE name = consumer) THEN
		RAISE EXCEPTION 'unknown consumer "%"', consumer USING ERRCODE = '22023';
	END IF;
END
$$;
COMMENT ON FUNCTION allocation._ack_events(text, uuid) IS
	'Implementation of allocation.ack_events, run with the owner''s rights by it.';

CREATE FUNCTION allocation.ack_events(consumer text, last_event uuid)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.ack_events(text, uuid) IS
	'Acknowledge every event up to and including last_event (the last one a consumer has processed).';

CREATE FUNCTION allocation._purge_outbox()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k bigint;
	p bigint;
	n bigint;
BEGIN
	-- the slowest consumer's cursor; no consumer: nothing may go
	SELECT last_key, last_position INTO k, p
	  FROM allocation.consumers ORDER BY last_key, last_position LIMIT 1;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	DELETE FROM allocation.outbox WHERE (commit_key, position) <= (k, p);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION allocation._purge_outbox() IS
	'Implementation of allocation.purge_outbox, run with the owner''s rights by it.';

CREATE FUNCTION allocation.purge_outbox()
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.purge_outbox() IS
	'Delete the events every registered consumer has acknowledged; returns how many.';

--------------------------------------------------------------------------
-- Routing hooks for scale-out: each node runs this extension unchanged; a
-- router places products by shard_key(sku).
--------------------------------------------------------------------------

CREATE FUNCTION allocation.shard_key(sku text)
RETURNS integer
AS 'MODULE_PATHNAME', 'allocation_shard_key'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION allocation.shard_key(text) IS
	'Placement hash of a SKU (FNV-1a + fmix32 over its UTF-8 bytes): owned by the extension, identical on every version and platform.';

CREATE FUNCTION allocation.change_batch_quantity_here(ref text, qty integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_change_batch_quantity_here'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.change_batch_quantity_here(text, integer) IS
	'change_batch_quantity for a router: false instead of ZA002 when this node does not have the batch.';

--------------------------------------------------------------------------
-- check_invariants(): like amcheck, one row per violation of SPEC section
-- 2's invariants; no row means healthy.  Event checks are made only for
-- aggregates whose outbox history is complete (never purged).
--------------------------------------------------------------------------
CREATE FUNCTION allocation._check_invariants()
RETURNS TABLE (invariant text, object text, detail text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	-- no batch has a negative available quantity
	SELECT 'batch oversold', b.reference,
		   format('allocated %s of %s purchased', b.allocated_quantity, b.purchased_quantity)
	  FROM allocation.batches b
	 WHERE b.allocated_quantity > b.purchased_quantity
	UNION ALL
	-- a batch's allocated quantity is the sum of its lines
	SELECT 'batch allocated quantity wrong', b.reference,
		   format('says %s, its lines hold %s', b.allocated_quantity, COALESCE(l.total, 0))
	  FROM allocation.batches b
	  LEFT JOIN (SELECT batchref, sum(qty) AS total FROM allocation.order_lines GROUP BY batchref) l
		ON l.batchref = b.reference
	 WHERE b.allocated_quantity <> COALESCE(l.total, 0)
	UNION ALL
	-- a line belongs to an existing batch of its own SKU
	SELECT 'line without its batch', l.orderid || '/' || l.sku,
		   format('batch %L', l.batchref)
	  FROM allocation.order_lines l
	  LEFT JOIN allocation.batches b ON b.reference = l.batchref
	 WHERE b.reference IS NULL OR b.sku <> l.sku
	UNION ALL
	-- each (orderid, sku) is allocated at most once
	SELECT 'line allocated twice', l.orderid || '/' || l.sku,
		   format('%s allocations', count(*))
	  FROM allocation.order_lines l
	 GROUP BY l.orderid, l.sku
	HAVING count(*) > 1
	UNION ALL
	-- the read model equals the write model
	SELECT 'read model differs', COALESCE(w.orderid, r.orderid) || '/' || COALESCE(w.sku, r.sku),
		   format('write model %s, read model %s',
				  COALESCE(w.batchref || ' x' || w.qty, 'none'),
				  COALESCE(r.batchref || ' x' || r.qty, 'none'))
	  FROM allocation.order_lines w
	  FULL JOIN allocation.allocations_view r ON r.orderid = w.orderid AND r.sku = w.sku
	 WHERE w.orderid IS NULL OR r.orderid IS NULL
		OR w.batchref <> r.batchref OR w.qty <> r.qty
	UNION ALL
	-- per-aggregate event numbers have no gap and match the aggregate's counter
	SELECT 'event sequence broken', p.sku,
		   format('counter %s, outbox has %s events numbered %s..%s',
				  p.event_seq, count(o.id), min(o.aggregate_seq), max(o.aggregate_seq))
	  FROM allocation.product_state p
	  LEFT JOIN allocation.outbox o ON o.aggregatetype = 'product' AND o.aggregateid = p.sku
	 GROUP BY p.sku, p.event_seq
	HAVING count(o.id) > 0 AND (max(o.aggregate_seq) <> p.event_seq
			OR count(o.id) <> max(o.aggregate_seq) - min(o.aggregate_seq) + 1)
	UNION ALL
	-- every version was made by a command that recorded at least one event
	SELECT 'version without events', p.sku,
		   format('version %s but only %s events', p.version_number, p.event_seq)
	  FROM allocation.product_state p
	 WHERE p.version_number > p.event_seq
	UNION ALL
	-- history complete: the latest allocation event of each line agrees with it
	SELECT CASE WHEN w.orderid IS NULL THEN 'event without its change'
				ELSE 'allocation without its event' END,
		   COALESCE(w.orderid, e.orderid) || '/' || COALESCE(w.sku, e.sku),
		   format('write model %s, last event %s',
				  COALESCE(w.batchref, 'none'),
				  COALESCE(e.type || ' ' || e.batchref, 'none'))
	  FROM (SELECT DISTINCT ON (o.aggregateid, o.payload->>'orderid')
				   o.aggregateid AS sku, o.payload->>'orderid' AS orderid,
				   o.type, o.payload->>'batchref' AS batchref
			  FROM allocation.outbox o
			 WHERE o.aggregatetype = 'product' AND o.type IN ('Allocated', 'Deallocated')
			 ORDER BY o.aggregateid, o.payload->>'orderid', o.aggregate_seq DESC) e
	  FULL JOIN allocation.order_lines w ON w.sku = e.sku AND w.orderid = e.orderid
	 WHERE COALESCE(w.sku, e.sku) IN (
			SELECT o.aggregateid FROM allocation.outbox o
			 WHERE o.aggregatetype = 'product'
			 GROUP BY o.aggregateid HAVING min(o.aggregate_seq) = 1)
	   AND (w.orderid IS NULL AND e.type = 'Allocated'
			OR w.orderid IS NOT NULL AND (e.type IS DISTINCT FROM 'Allocated'
										  OR e.batchref <> w.batchref))
	UNION ALL
	-- a batch exists with its BatchCreated event
	SELECT 'batch without its event', b.reference, format('sku %L', b.sku)
	  FROM allocation.batches b
	 WHERE b.sku IN (SELECT o.aggregateid FROM allocation.outbox o
					  WHERE o.aggregatetype = 'product'
					  GROUP BY o.aggregateid HAVING min(o.aggregate_seq) = 1)
	   AND NOT EXISTS (SELECT FROM allocation.outbox o
						WHERE o.aggregatetype = 'product' AND o.aggregateid = b.sku
						  AND o.type = 'BatchCreated' AND o.payload->>'ref' = b.reference)
$$;
COMMENT ON FUNCTION allocation._check_invariants() IS
	'Implementation of allocation.check_invariants, run with the owner''s rights by it.';

CREATE FUNCTION allocation.check_invariants()
RETURNS TABLE (invariant text, object text, detail text)
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.check_invariants() IS
	'One row per violated invariant (SPEC section 2): oversold batches, wrong counters, duplicate lines, read model drift, missing or orphan events. Empty means healthy.';

--------------------------------------------------------------------------
-- Rights (SPEC section 7).  Nothing is granted to PUBLIC.  Admin-only
-- functions are executable by allocation_user so that a refusal can say
-- which role is needed (42501, checked in C); the allocation._<name>
-- implementations behind them are granted to nobody.
--------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA allocation FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allocation FROM PUBLIC;
GRANT SELECT ON allocation.products, allocation.stock TO allocation_user;
GRANT EXECUTE ON FUNCTION
	allocation.allocations(text),
	allocation.add_batch(text, text, integer, date),
	allocation.allocate(text, text, integer),
	allocation.deallocate(text, text),
	allocation.change_batch_quantity(text, integer),
	allocation.handle(jsonb),
	allocation.subscribe(text, regprocedure),
	allocation.unsubscribe(text, regprocedure),
	allocation.rebuild_read_model(),
	allocation.create_order(text),
	allocation.order_status(text),
	allocation.change_order_status(text, text),
	allocation.subscribe_to_order(text, text),
	allocation.allocate_many(allocation.order_line[]),
	allocation.shard_key(text),
	allocation.change_batch_quantity_here(text, integer),
	allocation.register_consumer(text, boolean),
	allocation.unregister_consumer(text),
	allocation.read_events(text, integer),
	allocation.ack_events(text, uuid),
	allocation.purge_outbox(),
	allocation.check_invariants(),
	allocation.stock_alert_recipient(),
	allocation.set_stock_alert_recipient(text)
	TO allocation_user;
GRANT SELECT ON allocation.allocations_view TO allocation_user;
GRANT SELECT ON allocation.outbox, allocation.notifications TO allocation_admin;
