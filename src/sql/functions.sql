/* src/sql/functions.sql: functions, views and triggers of extension allocation */

--------------------------------------------------------------------------
-- Every function, view and trigger of the extension is defined here and
-- nowhere else, with its comment.  make appends this file to
-- src/sql/schema.sql for the install script and to the migration of
-- src/sql/migrations/ for the upgrade script, so the same text runs on a
-- fresh schema and on an updated one: every statement is CREATE OR
-- REPLACE or COMMENT, and means the same when the object is already
-- there (make unit checks it: scripts/check-sql-sources.py).  No rights
-- here: they are in src/sql/rights.sql (install) and in the migration's
-- rights part (the objects new in a version), because a GRANT or REVOKE
-- run again on an existing object would undo the site's own changes.
-- A signature or result type that changes, a view whose columns change,
-- a function removed: the migration drops the old one first.
--------------------------------------------------------------------------

--------------------------------------------------------------------------
-- Queries (read side)
--------------------------------------------------------------------------

-- The read side shows identifiers in the database's default collation, so
-- that users can compare them with their own text values; the tables keep
-- the C collation (byte order, cheap comparisons) for the write side.
CREATE OR REPLACE VIEW allocation.products AS
	SELECT sku COLLATE "default" AS sku, version_number
	  FROM allocation.product_state;
COMMENT ON VIEW allocation.products IS
	'One row a product: its SKU and version_number (rule 7).';

CREATE OR REPLACE VIEW allocation.stock AS
	SELECT reference COLLATE "default" AS reference,
		   sku COLLATE "default" AS sku,
		   eta,
		   purchased_quantity AS purchased,
		   allocated_quantity AS allocated,
		   purchased_quantity - allocated_quantity AS available
	  FROM allocation.batches;
COMMENT ON VIEW allocation.stock IS
	'One row a batch: reference, sku, eta, purchased, allocated and available quantities.';

-- A caller's value as the C functions' messages show it, for the
-- implementations written in PL/pgSQL (run as the owner, granted to nobody).
CREATE OR REPLACE FUNCTION allocation._shown_value(value text)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_shown_value'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION allocation._shown_value(text) IS
	'The value as an error message shows it: quoted, escaped, cut after 64 characters.';

CREATE OR REPLACE FUNCTION allocation._allocations(orderid text)
RETURNS TABLE (sku text, batchref text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.sku COLLATE "default", v.batchref COLLATE "default"
	  FROM allocation.allocations_view v
	 WHERE v.orderid OPERATOR(pg_catalog.=) $1
	 ORDER BY v.sku
$$;
COMMENT ON FUNCTION allocation._allocations(text) IS
	'Implementation of allocation.allocations, run with the owner''s rights by it.';

-- C: the order id is checked as every command checks it (22004, 22023)
CREATE OR REPLACE FUNCTION allocation.allocations(orderid text)
RETURNS TABLE (sku text, batchref text)
AS 'MODULE_PATHNAME', 'allocation_allocations'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.allocations(text) IS
	'The lines of an order and their batches, from the read model, ordered by sku.';

--------------------------------------------------------------------------
-- Commands (C), VOLATILE.  A NULL argument is error 22004, never a silent NULL.
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION allocation.add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_add_batch'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.add_batch(text, text, integer, date) IS
	'Add a batch of stock (eta NULL: in the warehouse); creates the product on first use. Records BatchCreated.';

CREATE OR REPLACE FUNCTION allocation.allocate(orderid text, sku text, qty integer)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_allocate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.allocate(text, text, integer) IS
	'Allocate an order line to the preferred batch; returns its reference, or NULL when out of stock. Records Allocated or OutOfStock.';

CREATE OR REPLACE FUNCTION allocation.deallocate(orderid text, sku text)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_deallocate'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.deallocate(text, text) IS
	'Free an order line; returns the batch it was freed from, or NULL when it was not allocated. Records Deallocated.';

CREATE OR REPLACE FUNCTION allocation.change_batch_quantity(ref text, qty integer)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_change_batch_quantity'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.change_batch_quantity(text, integer) IS
	'Change a batch''s purchased quantity, deallocating and reallocating lines when it falls below what is allocated (rule 5).';

CREATE OR REPLACE FUNCTION allocation.allocate_many(lines allocation.order_line[])
RETURNS TABLE (orderid text, sku text, batchref text)
AS 'MODULE_PATHNAME', 'allocation_allocate_many'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.allocate_many(allocation.order_line[]) IS
	'Allocate many lines in one call: the same rules and events as allocate for each line in order; products are locked in SKU order, so concurrent calls cannot deadlock.';

CREATE OR REPLACE FUNCTION allocation.handle(message jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'allocation_handle'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.handle(jsonb) IS
	'Execute a command message (Allocate, CreateBatch, ChangeBatchQuantity, Deallocate); a repeated message_id returns the first result without running again.';

--------------------------------------------------------------------------
-- Order tracking commands and query
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION allocation.create_order(orderid text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_create_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.create_order(text) IS
	'Track an order (id PREFIX-NUMBER) in status created; administrators only. Records OrderCreated.';

CREATE OR REPLACE FUNCTION allocation.order_status(orderid text)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_order_status'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.order_status(text) IS
	'The status of a tracked order, NULL when the order is not tracked.';

CREATE OR REPLACE FUNCTION allocation.change_order_status(orderid text, status text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_change_order_status'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.change_order_status(text, text) IS
	'Move an order along its state machine (ZA004 otherwise); administrators only. Records OrderStatusChanged and tells every subscriber.';

CREATE OR REPLACE FUNCTION allocation.subscribe_to_order(orderid text, email text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_subscribe_to_order'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.subscribe_to_order(text, text) IS
	'Follow an order by e-mail: every later status change writes one notification to this address.';

--------------------------------------------------------------------------
-- Message bus: plugins and the disposable read model
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION allocation.subscribe(event_type text, handler regprocedure)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_subscribe'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.subscribe(text, regprocedure) IS
	'Call handler(event jsonb) for every event of this type, after the built-in handlers, in its own subtransaction, with the rights of the subscribing role.';

CREATE OR REPLACE FUNCTION allocation.unsubscribe(event_type text, handler regprocedure)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_unsubscribe'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.unsubscribe(text, regprocedure) IS
	'Remove a plugin subscription; true when there was one.';

-- The same by name: a literal comes here (text is preferred for an
-- unknown), and a handler that was dropped or renamed can still be named,
-- as its subscription stores it (schema.name(argument types)).
CREATE OR REPLACE FUNCTION allocation.unsubscribe(event_type text, handler text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_unsubscribe_named'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.unsubscribe(text, text) IS
	'Remove a plugin subscription, the handler named as a regprocedure or, once dropped or renamed, as the subscription stores it; true when there was one.';

CREATE OR REPLACE FUNCTION allocation.stock_alert_recipient()
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_stock_alert_recipient'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.stock_alert_recipient() IS
	'The address that receives out-of-stock alerts: the setting allocation.stock_alert_recipient if a superuser set it, else the one chosen by set_stock_alert_recipient, else postmaster@localhost; empty means no alerts.';

CREATE OR REPLACE FUNCTION allocation.set_stock_alert_recipient(recipient text)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_set_stock_alert_recipient'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.set_stock_alert_recipient(text) IS
	'Administrators: choose the address of the out-of-stock alerts (empty: no alerts; NULL: the default again).';

CREATE OR REPLACE FUNCTION allocation.rebuild_read_model()
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

CREATE OR REPLACE FUNCTION allocation._clock_offset()
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_clock_offset'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation._clock_offset() IS
	'The offset of outbox commit keys over transaction ids in this cluster (see table outbox_clock).';

CREATE OR REPLACE FUNCTION allocation._register_consumer(consumer text, from_start boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF consumer IS NULL OR from_start IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN consumer IS NULL THEN 'consumer' ELSE 'from_start' END
			USING ERRCODE = '22004';
	END IF;
	-- (allocation.register_consumer checked the name as an identifier)
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

CREATE OR REPLACE FUNCTION allocation.register_consumer(consumer text, from_start boolean DEFAULT true)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.register_consumer(text, boolean) IS
	'Register a named outbox consumer, from the first event kept (or, from_start false, from now on). Idempotent.';

CREATE OR REPLACE FUNCTION allocation._unregister_consumer(consumer text)
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

CREATE OR REPLACE FUNCTION allocation.unregister_consumer(consumer text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.unregister_consumer(text) IS
	'Forget a consumer, so that it no longer holds back purge_outbox.';

CREATE OR REPLACE FUNCTION allocation._read_events(consumer text, max_events integer DEFAULT 100)
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
		RAISE EXCEPTION 'unknown consumer %', allocation._shown_value(consumer)
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

CREATE OR REPLACE FUNCTION allocation.read_events(consumer text, max_events integer DEFAULT 100)
RETURNS SETOF allocation.outbox
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.read_events(text, integer) IS
	'The next events for a consumer, oldest first, never skipping a late-committing transaction. Unacknowledged events are read again (at least once).';

CREATE OR REPLACE FUNCTION allocation._ack_events(consumer text, last_event uuid)
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
	IF NOT EXISTS (SELECT FROM allocation.consumers WHERE name = consumer) THEN
		RAISE EXCEPTION 'unknown consumer %', allocation._shown_value(consumer)
			USING ERRCODE = '22023', HINT = 'Call allocation.register_consumer first.';
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
END
$$;
COMMENT ON FUNCTION allocation._ack_events(text, uuid) IS
	'Implementation of allocation.ack_events, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.ack_events(consumer text, last_event uuid)
RETURNS void
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.ack_events(text, uuid) IS
	'Acknowledge every event up to and including last_event (the last one a consumer has processed).';

CREATE OR REPLACE FUNCTION allocation._purge_outbox()
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

CREATE OR REPLACE FUNCTION allocation.purge_outbox()
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.purge_outbox() IS
	'Delete the events every registered consumer has acknowledged; returns how many.';

--------------------------------------------------------------------------
-- Routing hooks for scale-out: each node runs this extension unchanged; a
-- router places products by shard_key(sku).
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION allocation.shard_key(sku text)
RETURNS integer
AS 'MODULE_PATHNAME', 'allocation_shard_key'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION allocation.shard_key(text) IS
	'Placement hash of a SKU (FNV-1a + fmix32 over its UTF-8 bytes): owned by the extension, identical on every version and platform.';

CREATE OR REPLACE FUNCTION allocation.change_batch_quantity_here(ref text, qty integer)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_change_batch_quantity_here'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.change_batch_quantity_here(text, integer) IS
	'change_batch_quantity for a router: false instead of ZA002 when this node does not have the batch.';

--------------------------------------------------------------------------
-- check_invariants(): like amcheck, one row per violation of the contract's
-- invariants; no row means healthy.  The outbox table holds a product's
-- events from product_state.wal_only_seq + 1 on (the events up to it may
-- be in the WAL only, allocation.outbox_mode = wal): the sequence check
-- looks at those, and the history checks are made only for products
-- whose outbox history is complete (nothing written to the WAL only,
-- never purged).
--------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION allocation._check_invariants()
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
	-- per-aggregate event numbers have no gap and match the aggregate's
	-- counter, after the last event written to the WAL only
	SELECT 'event sequence broken', p.sku,
		   format('counter %s, outbox has %s events numbered %s..%s',
				  p.event_seq, count(o.id), min(o.aggregate_seq), max(o.aggregate_seq))
	  FROM allocation.product_state p
	  LEFT JOIN allocation.outbox o ON o.aggregatetype = 'product' AND o.aggregateid = p.sku
		AND o.aggregate_seq > p.wal_only_seq
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
			  JOIN allocation.product_state p ON p.sku = o.aggregateid
			 WHERE o.aggregatetype = 'product' AND p.wal_only_seq = 0
			 GROUP BY o.aggregateid HAVING min(o.aggregate_seq) = 1)
	   AND (w.orderid IS NULL AND e.type = 'Allocated'
			OR w.orderid IS NOT NULL AND (e.type IS DISTINCT FROM 'Allocated'
										  OR e.batchref <> w.batchref))
	UNION ALL
	-- a batch exists with its BatchCreated event
	SELECT 'batch without its event', b.reference, format('sku %L', b.sku)
	  FROM allocation.batches b
	 WHERE b.sku IN (SELECT o.aggregateid FROM allocation.outbox o
					   JOIN allocation.product_state p ON p.sku = o.aggregateid
					  WHERE o.aggregatetype = 'product' AND p.wal_only_seq = 0
					  GROUP BY o.aggregateid HAVING min(o.aggregate_seq) = 1)
	   AND NOT EXISTS (SELECT FROM allocation.outbox o
						WHERE o.aggregatetype = 'product' AND o.aggregateid = b.sku
						  AND o.type = 'BatchCreated' AND o.payload->>'ref' = b.reference)
$$;
COMMENT ON FUNCTION allocation._check_invariants() IS
	'Implementation of allocation.check_invariants, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.check_invariants()
RETURNS TABLE (invariant text, object text, detail text)
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.check_invariants() IS
	'One row per violated invariant (the contract: allocation rules): oversold batches, wrong counters, duplicate lines, read model drift, missing or orphan events. Empty means healthy.';

--------------------------------------------------------------------------
-- The mailer (relay/README.md, "allocation-mailer"): it delivers
-- allocation.notifications by SMTP and changes them only through the
-- functions below.  A claim is a lease (claimed_until): rows of a mailer
-- that died come back when it runs out.  A failed attempt is retried with
-- a capped exponential backoff (allocation.mail_retry_delay, doubled per
-- attempt, at most allocation.mail_retry_max_delay seconds); after
-- allocation.mail_max_attempts attempts, or at once for a permanent
-- failure, the notification is dead until retry_notification revives it.
--------------------------------------------------------------------------

-- Headers are built from recipient and subject: neither may hold a control
-- character (a CR or LF would start a header of its own), and the
-- recipient must be one plain address.  Checked on every write, so a
-- command that would write such a notification fails with 22023.
CREATE OR REPLACE FUNCTION allocation._check_notification()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.recipient ~ '[[:cntrl:]]' OR NEW.recipient !~ '^[^[:space:]<>(),;:"\[\]\\@]+@[^[:space:]<>(),;:"\[\]\\@]+$' THEN
		RAISE EXCEPTION 'invalid notification recipient %', pg_catalog.to_json(NEW.recipient)
			USING ERRCODE = '22023',
				  DETAIL = 'A recipient is one e-mail address without control characters, spaces or brackets.';
	END IF;
	IF NEW.subject ~ '[[:cntrl:]]' THEN
		RAISE EXCEPTION 'invalid notification subject %', pg_catalog.to_json(NEW.subject)
			USING ERRCODE = '22023',
				  DETAIL = 'A subject is one line without control characters.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION allocation._check_notification() IS
	'Trigger of allocation.notifications: refuses recipients and subjects that could inject a mail header.';

CREATE OR REPLACE TRIGGER check_notification
	BEFORE INSERT OR UPDATE OF recipient, subject ON allocation.notifications
	FOR EACH ROW EXECUTE FUNCTION allocation._check_notification();

CREATE OR REPLACE FUNCTION allocation._claim_notifications(max integer, lease interval DEFAULT '5 minutes')
RETURNS TABLE (id bigint, recipient text, subject text, body text,
			   created_at timestamptz, attempts integer, message_token text, claim uuid)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	this_claim uuid := pg_catalog.gen_random_uuid();
BEGIN
	IF max IS NULL OR lease IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN max IS NULL THEN 'max' ELSE 'lease' END
			USING ERRCODE = '22004';
	END IF;
	IF max < 1 OR max > 10000 THEN
		RAISE EXCEPTION 'invalid max %', max
			USING ERRCODE = '22023', DETAIL = 'Claim 1 to 10000 notifications at a time.';
	END IF;
	IF lease <= interval '0' OR lease > interval '1 day' THEN
		RAISE EXCEPTION 'invalid lease %', lease
			USING ERRCODE = '22023', DETAIL = 'A lease is a positive interval of at most one day.';
	END IF;
	INSERT INTO allocation.mail_identity (token)
	VALUES (pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''))
	ON CONFLICT (id) DO NOTHING;
	-- SKIP LOCKED: mailers running at once take different rows; a row
	-- another one claimed meanwhile fails the re-checked WHERE clause
	RETURN QUERY
	WITH due AS (
		SELECT n.id
		  FROM allocation.notifications n
		 WHERE n.sent_at IS NULL AND n.dead_at IS NULL
		   AND n.next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()
		   AND (n.claimed_until IS NULL
				OR n.claimed_until OPERATOR(pg_catalog.<) pg_catalog.clock_timestamp())
		 ORDER BY n.next_attempt_at, n.id
		 LIMIT max
		   FOR UPDATE SKIP LOCKED
	), claimed AS (
		UPDATE allocation.notifications n
		   SET claimed_until = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) lease,
			   claim = this_claim
		  FROM due
		 WHERE n.id OPERATOR(pg_catalog.=) due.id
		RETURNING n.id, n.recipient, n.subject, n.body, n.created_at, n.attempts
	)
	SELECT c.id, c.recipient, c.subject, c.body, c.created_at, c.attempts, i.token, this_claim
	  FROM claimed c CROSS JOIN allocation.mail_identity i
	 ORDER BY c.id;
END
$$;
COMMENT ON FUNCTION allocation._claim_notifications(integer, interval) IS
	'Implementation of allocation.claim_notifications, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.claim_notifications(max integer, lease interval DEFAULT '5 minutes')
RETURNS TABLE (id bigint, recipient text, subject text, body text,
			   created_at timestamptz, attempts integer, message_token text, claim uuid)
AS 'MODULE_PATHNAME', 'allocation_mailer_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.claim_notifications(integer, interval) IS
	'For a mailer: lease up to max due notifications (unsent, not dead) for the lease; message_token is part of their Message-ID, claim identifies this claim for release_notifications. Several mailers never get the same row.';

-- Is this notification's row there?  Error 22004/22023 otherwise.
CREATE OR REPLACE FUNCTION allocation._notification_row(id bigint)
RETURNS allocation.notifications
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r allocation.notifications;
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION 'argument "id" must not be null' USING ERRCODE = '22004';
	END IF;
	SELECT * INTO r FROM allocation.notifications n WHERE n.id OPERATOR(pg_catalog.=) _notification_row.id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown notification %', id USING ERRCODE = '22023';
	END IF;
	RETURN r;
END
$$;
COMMENT ON FUNCTION allocation._notification_row(bigint) IS
	'The notification locked for an update, or error 22004/22023 (used by the mailer functions).';

CREATE OR REPLACE FUNCTION allocation._mark_notification_sent(id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r allocation.notifications := allocation._notification_row(id);
BEGIN
	IF r.sent_at IS NOT NULL THEN
		RETURN false;		-- sent twice (a lease ran out): keep the first time
	END IF;
	UPDATE allocation.notifications n
	   SET sent_at = pg_catalog.clock_timestamp(), claimed_until = NULL, claim = NULL, dead_at = NULL,
		   attempts = n.attempts OPERATOR(pg_catalog.+) 1
	 WHERE n.id OPERATOR(pg_catalog.=) r.id;
	RETURN true;
END
$$;
COMMENT ON FUNCTION allocation._mark_notification_sent(bigint) IS
	'Implementation of allocation.mark_notification_sent, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.mark_notification_sent(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_mailer_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.mark_notification_sent(bigint) IS
	'For a mailer: the SMTP server accepted this notification. False when it was already marked sent.';

CREATE OR REPLACE FUNCTION allocation._mark_notification_failed(id bigint, error text, permanent boolean,
																 claim uuid DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r allocation.notifications;
	max_attempts integer := pg_catalog.current_setting('allocation.mail_max_attempts')::integer;
	delay double precision := pg_catalog.current_setting('allocation.mail_retry_delay')::double precision;
	max_delay double precision := pg_catalog.current_setting('allocation.mail_retry_max_delay')::double precision;
	dead boolean;
	own boolean;
BEGIN
	IF error IS NULL OR permanent IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN error IS NULL THEN 'error' ELSE 'permanent' END
			USING ERRCODE = '22004';
	END IF;
	r := allocation._notification_row(id);	-- arguments first, then the lookup
	IF r.sent_at IS NOT NULL THEN
		RETURN 'sent';		-- another mailer delivered it: nothing to do
	END IF;
	dead := permanent OR r.attempts + 1 >= max_attempts;
	own := _mark_notification_failed.claim IS NOT NULL
		AND r.claim OPERATOR(pg_catalog.=) _mark_notification_failed.claim;
	UPDATE allocation.notifications n
	   SET attempts = r.attempts + 1,
		   -- the SMTP server's words, shown to administrators by mail_dead:
		   -- no control character (a terminal escape, a line break) of theirs
		   last_error = pg_catalog.left(pg_catalog.regexp_replace(error, '[[:cntrl:]]', ' ', 'g'), 2000),
		   -- The reporter's own claim ends: the row is due again after its
		   -- backoff, and no give-back may call it untried.  Any other
		   -- claim is kept: a report that comes after its claim ran out may
		   -- be from a mailer whose row another one claimed since, and
		   -- ending that one's lease would let a third send it too.
		   claimed_until = CASE WHEN own THEN NULL ELSE n.claimed_until END,
		   claim = CASE WHEN own THEN NULL ELSE n.claim END,
		   dead_at = CASE WHEN dead THEN pg_catalog.clock_timestamp() END,
		   next_attempt_at = pg_catalog.clock_timestamp() + pg_catalog.make_interval(
				secs => LEAST(delay * 2.0 ^ LEAST(r.attempts, 60), max_delay))
	 WHERE n.id OPERATOR(pg_catalog.=) r.id;
	RETURN CASE WHEN dead THEN 'dead' ELSE 'retry' END;
END
$$;
COMMENT ON FUNCTION allocation._mark_notification_failed(bigint, text, boolean, uuid) IS
	'Implementation of allocation.mark_notification_failed, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.mark_notification_failed(id bigint, error text, permanent boolean DEFAULT false,
																claim uuid DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_mailer_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.mark_notification_failed(bigint, text, boolean, uuid) IS
	'For a mailer: an attempt failed. Returns retry (tried again after a backoff) or dead (permanent, or allocation.mail_max_attempts reached); sent when it was already delivered. With the reporter''s claim, while it is still the row''s, the claim ends; another mailer''s claim is kept.';

-- Rows a mailer claimed and could not try (the SMTP server was away, or
-- the mailer stops): due again at once, with no attempt counted, so that
-- an outage of any length kills no notification and the mail flows as
-- soon as the server is back.  Only rows still held by the caller's claim
-- (the claim value claim_notifications returned with them) and not
-- reported since (mark_notification_sent and _failed end a row's claim)
-- change: once that claim ran out, another mailer may hold the row under
-- a claim of its own, and ending that one would let a third send it too.
CREATE OR REPLACE FUNCTION allocation._release_notifications(ids bigint[], claim uuid, error text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	released integer;
BEGIN
	IF ids IS NULL OR claim IS NULL OR error IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN ids IS NULL THEN 'ids' WHEN claim IS NULL THEN 'claim' ELSE 'error' END
			USING ERRCODE = '22004';
	END IF;
	IF pg_catalog.cardinality(ids) > 10000 THEN
		RAISE EXCEPTION 'invalid ids: % notifications', pg_catalog.cardinality(ids)
			USING ERRCODE = '22023', DETAIL = 'Release at most 10000 notifications at a time.';
	END IF;
	UPDATE allocation.notifications n
	   SET claimed_until = NULL,
		   claim = NULL,
		   -- an empty error keeps the last one (a mailer that stops)
		   last_error = CASE WHEN error OPERATOR(pg_catalog.=) '' THEN n.last_error
							 ELSE pg_catalog.left(pg_catalog.regexp_replace(error, '[[:cntrl:]]', ' ', 'g'), 2000) END
	 WHERE n.id OPERATOR(pg_catalog.=) ANY (ids)
	   AND n.claim OPERATOR(pg_catalog.=) _release_notifications.claim
	   AND n.sent_at IS NULL AND n.dead_at IS NULL;
	GET DIAGNOSTICS released = ROW_COUNT;
	RETURN released;
END
$$;
COMMENT ON FUNCTION allocation._release_notifications(bigint[], uuid, text) IS
	'Implementation of allocation.release_notifications, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.release_notifications(ids bigint[], claim uuid, error text)
RETURNS integer
AS 'MODULE_PATHNAME', 'allocation_mailer_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.release_notifications(bigint[], uuid, text) IS
	'For a mailer: claimed notifications it did not try (the SMTP server was away, or it stops). Those still held by this claim, not reported since, are due again at once, no attempt counted, error kept as last_error (an empty error keeps the last one). Returns how many were given back.';

CREATE OR REPLACE FUNCTION allocation._retry_notification(id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r allocation.notifications := allocation._notification_row(id);
BEGIN
	IF r.dead_at IS NULL THEN
		RETURN false;
	END IF;
	-- a claim that still holds is kept: a report that came late (after
	-- another mailer claimed the row) may have made it dead while that
	-- mailer still sends it, and ending its lease would let a third one
	-- send it too.  (The reporter's own claim ended with its report.)
	UPDATE allocation.notifications n
	   SET dead_at = NULL, attempts = 0, next_attempt_at = '-infinity',
		   claimed_until = CASE WHEN n.claim IS NOT NULL
								 AND n.claimed_until OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()
								THEN n.claimed_until END
	 WHERE n.id OPERATOR(pg_catalog.=) r.id;
	RETURN true;
END
$$;
COMMENT ON FUNCTION allocation._retry_notification(bigint) IS
	'Implementation of allocation.retry_notification, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.retry_notification(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'allocation_mailer_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.retry_notification(bigint) IS
	'Revive a dead notification: due now (once a lease another mailer holds on it ran out), with its attempts counted from zero (last_error kept). False when it was not dead.';

-- The backlog at a glance, one row (for monitoring).
CREATE OR REPLACE VIEW allocation.mail_backlog AS
SELECT pg_catalog.count(*) FILTER (WHERE n.dead_at IS NULL) AS unsent,
	   pg_catalog.count(*) FILTER (WHERE n.dead_at IS NULL AND n.attempts > 0) AS retrying,
	   pg_catalog.count(*) FILTER (WHERE n.dead_at IS NULL AND n.claim IS NOT NULL
									 AND n.claimed_until > pg_catalog.now()) AS claimed,
	   pg_catalog.count(*) FILTER (WHERE n.dead_at IS NOT NULL) AS dead,
	   pg_catalog.min(n.created_at) FILTER (WHERE n.dead_at IS NULL) AS oldest_unsent,
	   pg_catalog.now() - pg_catalog.min(n.created_at) FILTER (WHERE n.dead_at IS NULL) AS oldest_unsent_age
  FROM allocation.notifications n
 WHERE n.sent_at IS NULL;
COMMENT ON VIEW allocation.mail_backlog IS
	'Unsent notifications: how many, how many were tried and failed, how many a mailer holds, how many are dead, and the age of the oldest unsent one.';

-- The dead notifications, for retry_notification.
CREATE OR REPLACE VIEW allocation.mail_dead AS
SELECT n.id OPERATOR(pg_catalog.+) 0 AS id, n.recipient, n.subject, n.attempts, n.last_error, n.created_at, n.dead_at
  FROM allocation.notifications n
 WHERE n.sent_at IS NULL AND n.dead_at IS NOT NULL;
COMMENT ON VIEW allocation.mail_dead IS
	'Notifications given up on (a permanent SMTP refusal, or too many attempts), with the last error.';

--------------------------------------------------------------------------
-- Retention and monitoring (docs/monitoring.md).  The idempotent
-- receiver's inbox, the notifications sent or given up on and the events
-- every consumer has acknowledged grow for ever unless purged: an
-- operator purges them on a schedule (pg_cron or cron) and watches the
-- consumers, the mailer's backlog and the tables' sizes through
-- consumer_status and metrics().  Administrators only: PL/pgSQL
-- implementations allocation._<name> behind the C proxy, as the consumer
-- API.  Every purge takes an age, older_than: NULL is 22004, a negative
-- interval 22023, and it returns the number of rows it removed.
--------------------------------------------------------------------------

-- The cut-off of a purge: "at" (now()) minus older_than, after checking it.
-- NULL when nothing can be that old (an age beyond the range of
-- timestamps), so that a purge with such an age removes nothing.  An
-- interval compares as if a month were 30 days and a day 24 hours, but
-- subtracting it counts calendar months and days: '1 mon -29 days' is
-- positive, yet on the 1st of March it reaches a day into the future, and
-- a purge would take rows written a moment ago.  So the check is on the
-- cut-off itself: it may not lie after "at", nor on "at" for an age that
-- compares as positive ('-1 mon 31 days', a day, counts back to exactly
-- "at" on the 1st of August: an age of zero, which takes what was handled
-- a moment before, must be asked for as one).
CREATE OR REPLACE FUNCTION allocation._purge_cutoff(older_than interval, at timestamptz DEFAULT pg_catalog.now())
RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz;
BEGIN
	IF older_than IS NULL THEN
		RAISE EXCEPTION 'argument "older_than" must not be null' USING ERRCODE = '22004';
	END IF;
	IF at IS NULL THEN
		RAISE EXCEPTION 'argument "at" must not be null' USING ERRCODE = '22004';
	END IF;
	IF older_than < interval '0' THEN
		RAISE EXCEPTION 'invalid older_than "%"', older_than
			USING ERRCODE = '22023', DETAIL = 'An age is a positive interval, or zero.';
	END IF;
	BEGIN
		cutoff := at - older_than;
	EXCEPTION WHEN datetime_field_overflow THEN
		RETURN NULL;
	END;
	IF cutoff > at THEN
		RAISE EXCEPTION 'invalid older_than "%"', older_than
			USING ERRCODE = '22023',
				  DETAIL = format('Counted back from %s it ends at %s, later than that: an age is a positive interval, or zero.', at, cutoff);
	END IF;
	IF cutoff = at AND older_than > interval '0' THEN
		RAISE EXCEPTION 'invalid older_than "%"', older_than
			USING ERRCODE = '22023',
				  DETAIL = format('Counted back from %s it ends there, an age of zero: an age of zero is asked for as zero.', at);
	END IF;
	RETURN cutoff;
END
$$;
COMMENT ON FUNCTION allocation._purge_cutoff(interval, timestamptz) IS
	'at (now()) - older_than for the purge functions, or error 22004 (NULL) / 22023 (negative, a cut-off after at, or on at for a positive age); NULL when older than any timestamp.';

CREATE OR REPLACE FUNCTION allocation._purge_inbox(older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz := allocation._purge_cutoff(older_than);
	n bigint;
BEGIN
	DELETE FROM allocation.inbox i WHERE i.handled_at < cutoff;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION allocation._purge_inbox(interval) IS
	'Implementation of allocation.purge_inbox, run with the owner''s rights by it.';

-- A message handled before the cut-off is forgotten: if its sender sent
-- it again now, it would run again.  The default, 30 days, lies far
-- beyond any redelivery window of a sender or broker (the relay and
-- message queues retry within minutes or hours).
CREATE OR REPLACE FUNCTION allocation.purge_inbox(older_than interval DEFAULT '30 days')
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.purge_inbox(interval) IS
	'Forget the messages allocation.handle handled more than older_than ago (default 30 days; a message sent again after that runs again); returns how many.';

CREATE OR REPLACE FUNCTION allocation._purge_notifications(older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz := allocation._purge_cutoff(older_than);
	n bigint;
BEGIN
	-- sent, or dead (given up on); never one still to be sent.  A dead
	-- one that retry_notification revives meanwhile is re-checked after
	-- its lock and stays.
	DELETE FROM allocation.notifications n
	 WHERE n.sent_at < cutoff
		OR (n.sent_at IS NULL AND n.dead_at < cutoff);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION allocation._purge_notifications(interval) IS
	'Implementation of allocation.purge_notifications, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.purge_notifications(older_than interval DEFAULT '90 days')
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.purge_notifications(interval) IS
	'Delete the notifications sent, or dead, more than older_than ago (default 90 days); never one still to be sent. Returns how many.';

CREATE OR REPLACE FUNCTION allocation._purge_outbox(older_than interval)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff timestamptz := allocation._purge_cutoff(older_than);
	k bigint;
	p bigint;
	yk bigint;
	yp bigint;
	n bigint;
BEGIN
	-- the slowest consumer's cursor; no consumer: nothing may go
	SELECT c.last_key, c.last_position INTO k, p
	  FROM allocation.consumers c ORDER BY c.last_key, c.last_position LIMIT 1;
	IF NOT FOUND THEN
		RETURN 0;
	END IF;
	-- the first acknowledged event too young to go: it and every event
	-- after it stay, so that what goes is a prefix of the delivery order
	-- (each aggregate loses its oldest events only, its sequence keeps no
	-- gap).  occurred_at does not follow that order exactly, so an old
	-- event behind a younger one waits for it.
	SELECT o.commit_key, o.position INTO yk, yp
	  FROM allocation.outbox o
	 WHERE (o.commit_key, o.position) <= (k, p)
	   AND (cutoff IS NULL OR o.occurred_at >= cutoff)
	 ORDER BY o.commit_key, o.position
	 LIMIT 1;
	DELETE FROM allocation.outbox o
	 WHERE (o.commit_key, o.position) <= (k, p)
	   AND (yk IS NULL OR (o.commit_key, o.position) < (yk, yp));
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
COMMENT ON FUNCTION allocation._purge_outbox(interval) IS
	'Implementation of allocation.purge_outbox(interval), run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.purge_outbox(older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.purge_outbox(interval) IS
	'Delete the events every registered consumer has acknowledged and that occurred more than older_than ago (oldest first: an event stays while one delivered before it is younger); returns how many.';

-- Per consumer: what waits for it, since when, when it last acknowledged,
-- and who holds its delivery back.  read_events delivers an event only
-- once its commit key is below the frontier, the oldest transaction id
-- still running (in any database of the cluster, or prepared): that
-- transaction is the one to look at when events wait (pending_events >
-- deliverable_events).  Run with the owner's rights so that the session's
-- state and age are seen whoever started it.
CREATE OR REPLACE FUNCTION allocation._consumer_status()
RETURNS TABLE (consumer text, registered_at timestamptz, last_ack_at timestamptz,
			   pending_events bigint, deliverable_events bigint,
			   oldest_pending_at timestamptz, oldest_pending_age interval,
			   holder_pid integer, holder_prepared_gid text, holder_database name,
			   holder_state text, holder_xact_age interval)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	WITH frontier AS (
		SELECT s.xmin, s.xmin::text::bigint + allocation._clock_offset() AS key
		  FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) s
	), holder AS (
		SELECT h.*
		  FROM frontier f,
			   LATERAL (SELECT a.pid, NULL::text AS gid, a.datname, a.state,
							   now() - a.xact_start AS xact_age
						  FROM pg_stat_activity a
						 WHERE a.backend_xid = f.xmin::xid
						UNION ALL
						SELECT NULL, x.gid, x.database, 'prepared', now() - x.prepared
						  FROM pg_prepared_xacts x
						 WHERE x.transaction = f.xmin::xid
						 LIMIT 1) h
	)
	SELECT c.name, c.registered_at, c.acked_at,
		   q.pending, q.deliverable, q.oldest, now() - q.oldest,
		   w.pid, w.gid, w.datname, w.state, w.xact_age
	  FROM allocation.consumers c
	 CROSS JOIN frontier f
	 CROSS JOIN LATERAL (
			SELECT count(*) AS pending,
				   count(*) FILTER (WHERE o.commit_key < f.key) AS deliverable,
				   min(o.occurred_at) AS oldest
			  FROM allocation.outbox o
			 WHERE (o.commit_key, o.position) > (c.last_key, c.last_position)) q
	  LEFT JOIN holder w ON q.pending > q.deliverable
	 ORDER BY c.name
$$;
COMMENT ON FUNCTION allocation._consumer_status() IS
	'Implementation of allocation.consumer_status, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.consumer_status()
RETURNS TABLE (consumer text, registered_at timestamptz, last_ack_at timestamptz,
			   pending_events bigint, deliverable_events bigint,
			   oldest_pending_at timestamptz, oldest_pending_age interval,
			   holder_pid integer, holder_prepared_gid text, holder_database name,
			   holder_state text, holder_xact_age interval)
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.consumer_status() IS
	'Per outbox consumer: events not yet acknowledged (and how many read_events can deliver now), the oldest one''s age, the last acknowledgement, and the transaction that holds the others back.';

CREATE OR REPLACE VIEW allocation.consumer_status AS
SELECT s.consumer, s.registered_at, s.last_ack_at, s.pending_events, s.deliverable_events,
	   s.oldest_pending_at, s.oldest_pending_age, s.holder_pid, s.holder_prepared_gid,
	   s.holder_database, s.holder_state, s.holder_xact_age
  FROM allocation.consumer_status() s;
COMMENT ON VIEW allocation.consumer_status IS
	'allocation.consumer_status() as a view: one row an outbox consumer.';

-- What an operator graphs and alerts on, one row a number (seconds for
-- ages, 0 when there is nothing to be old); labels says which consumer.
CREATE OR REPLACE FUNCTION allocation._metrics()
RETURNS TABLE (name text, value double precision, labels jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.name, m.value, jsonb_build_object('consumer', s.consumer)
	  FROM allocation._consumer_status() s
	 CROSS JOIN LATERAL (VALUES
			('consumer_pending_events', s.pending_events::float8),
			('consumer_deliverable_events', s.deliverable_events::float8),
			('consumer_oldest_pending_age_seconds',
			 COALESCE(extract(epoch FROM s.oldest_pending_age)::float8, 0)),
			('consumer_last_ack_age_seconds',
			 extract(epoch FROM now() - COALESCE(s.last_ack_at, s.registered_at))::float8),
			('consumer_holder_xact_age_seconds',
			 COALESCE(extract(epoch FROM s.holder_xact_age)::float8, 0))) AS m(name, value)
	UNION ALL
	SELECT m.name, m.value, '{}'::jsonb
	  FROM (SELECT count(*) AS consumers FROM allocation.consumers) c,
		   (SELECT count(*) AS events,
				   COALESCE(extract(epoch FROM now() - min(o.occurred_at))::float8, 0) AS oldest
			  FROM allocation.outbox o) o,
		   (SELECT count(*) AS messages FROM allocation.inbox) i,
		   (SELECT count(*) AS mails FROM allocation.notifications) n,
		   allocation.mail_backlog b
	 CROSS JOIN LATERAL (VALUES
			('consumers', c.consumers::float8),
			('outbox_events', o.events::float8),
			('outbox_oldest_event_age_seconds', o.oldest),
			('inbox_messages', i.messages::float8),
			('notifications', n.mails::float8),
			('mail_unsent', b.unsent::float8),
			('mail_retrying', b.retrying::float8),
			('mail_claimed', b.claimed::float8),
			('mail_dead', b.dead::float8),
			('mail_oldest_unsent_age_seconds',
			 COALESCE(extract(epoch FROM b.oldest_unsent_age)::float8, 0))) AS m(name, value)
	UNION ALL
	-- the logical slots of this database (allocation-relay --source wal):
	-- the WAL each retains, and what its reader has not confirmed yet
	SELECT m.name, m.value, jsonb_build_object('slot', s.slot_name::text)
	  FROM pg_replication_slots s
	 CROSS JOIN LATERAL (VALUES
			('wal_slot_retained_bytes',
			 COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8, 0)),
			('wal_slot_unconfirmed_bytes',
			 COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), s.confirmed_flush_lsn)::float8, 0)),
			('wal_slot_active', CASE WHEN s.active THEN 1 ELSE 0 END::float8)) AS m(name, value)
	 WHERE s.slot_type = 'logical' AND s.database = current_database()
	   AND NOT pg_is_in_recovery()
$$;
COMMENT ON FUNCTION allocation._metrics() IS
	'Implementation of allocation.metrics, run with the owner''s rights by it.';

CREATE OR REPLACE FUNCTION allocation.metrics()
RETURNS TABLE (name text, value double precision, labels jsonb)
AS 'MODULE_PATHNAME', 'allocation_admin_proxy'
LANGUAGE C STABLE;
COMMENT ON FUNCTION allocation.metrics() IS
	'Monitoring figures, one row each: per consumer (labels: consumer) pending and deliverable events, oldest pending age, time since the last acknowledgement, age of the holding transaction; outbox, inbox and notification sizes; the mail backlog; per logical slot of the database (labels: slot) the WAL it retains and has not confirmed, in bytes, and whether a reader is attached. Ages in seconds.';

--------------------------------------------------------------------------
-- The events' signature in the WAL (allocation.outbox_mode = wal|both):
-- the secret part of the prefix "allocation:<token>" of the extension's
-- logical messages (the table and why: schema.sql).
--------------------------------------------------------------------------
COMMENT ON TABLE allocation.wal_secret IS
	'One row: the secret part of the prefix of the extension''s logical messages (readable by the extension''s owner only).';

CREATE OR REPLACE FUNCTION allocation.wal_message_prefix()
RETURNS text
AS 'MODULE_PATHNAME', 'allocation_wal_message_prefix'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION allocation.wal_message_prefix() IS
	'The prefix of the extension''s logical messages in this database, allocation:<secret token>: WAL readers take as events only the messages with this prefix.  For roles with REPLICATION (who can read it in the WAL anyway) that are members of allocation_admin.';

