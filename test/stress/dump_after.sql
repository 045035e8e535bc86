-- test/stress/dump_after.sql - does a restored database keep working?
--
-- Run by dump_restore.sh in a database restored from dump_data.sql's: new
-- commands on the restored aggregates, then one output line per thing
-- that is wrong (no line: all is well).  Run with ON_ERROR_STOP off, so
-- that an error is reported too and the other checks still run.
\set QUIET on
SET client_min_messages = warning;
SET allocation.stock_alert_recipient = 'stock@example.com';
CREATE TEMP TABLE old_events AS SELECT id FROM allocation.outbox;
CREATE TEMP TABLE before AS
SELECT (SELECT max(position) FROM allocation.outbox) AS max_position,
	   (SELECT count(*) FROM allocation.outbox) AS events,
	   (SELECT max(id) FROM allocation.notifications) AS max_notification,
	   (SELECT max(id) FROM allocation.subscriptions) AS max_subscription,
	   (SELECT version_number FROM allocation.products WHERE sku = 'RED-CHAIR') AS chair_version,
	   (SELECT max(aggregate_seq) FROM allocation.outbox
		 WHERE aggregatetype = 'product' AND aggregateid = 'RED-CHAIR') AS chair_seq,
	   (SELECT max(aggregate_seq) FROM allocation.outbox
		 WHERE aggregatetype = 'order' AND aggregateid = 'ORD-2') AS ord2_seq,
	   (SELECT version_number FROM allocation.orders WHERE orderid = 'ORD-2') AS ord2_version,
	   (SELECT count(*) FROM allocation.read_events('mailer', 1000)) AS mailer_backlog,
	   (SELECT count(*) FROM public.plugin_log) AS plugin_calls,
	   (SELECT COALESCE(max(id), 0) FROM public.plugin_log) AS max_plugin_log;

-- the restored consumers are where they were: mailer acknowledged 10
-- events, warehouse none
SELECT 'consumer mailer did not resume after its 10 acknowledged events: backlog '
	   || mailer_backlog || ' of ' || events
  FROM before WHERE mailer_backlog <> events - 10;

\o /dev/null
-- new commands on restored aggregates, and a new plugin: 6 events
-- (BatchCreated; Allocated and ORD-2's OrderStatusChanged; OutOfStock;
-- OrderStatusChanged; OutOfStock)
SELECT allocation.add_batch('NEW-CHAIR', 'RED-CHAIR', 50);
SELECT allocation.allocate('ORD-2', 'RED-CHAIR', 3);
SELECT allocation.allocate('ORD-5', 'BLUE-LAMP', 999);
SELECT allocation.change_order_status('ORD-2', 'cancelled');
CREATE FUNCTION public.log_event_2(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.plugin_log (event) VALUES (event); END $$;
SELECT allocation.subscribe('OutOfStock', 'public.log_event_2(jsonb)');
SELECT allocation.allocate('ORD-6', 'BLUE-LAMP', 999);
\o

CREATE TEMP TABLE new_events AS
SELECT o.* FROM allocation.outbox o WHERE NOT EXISTS (SELECT FROM old_events e WHERE e.id = o.id);

SELECT 'the new commands recorded ' || count(*) || ' events, not 6' FROM new_events HAVING count(*) <> 6;
SELECT 'new event ' || n.type || ' at outbox position ' || n.position
	   || ', not above the restored maximum ' || b.max_position
  FROM new_events n, before b WHERE n.position <= b.max_position;
SELECT 'outbox position ' || position || ' used ' || count(*) || ' times'
  FROM allocation.outbox GROUP BY position HAVING count(*) > 1;
SELECT 'RED-CHAIR version did not continue: ' || b.chair_version || ' -> ' || p.version_number
  FROM before b, allocation.products p
 WHERE p.sku = 'RED-CHAIR' AND p.version_number <> b.chair_version + 2;
SELECT 'RED-CHAIR events did not continue after ' || b.chair_seq || ': '
	   || COALESCE(string_agg(n.aggregate_seq::text, ', ' ORDER BY n.aggregate_seq), 'none')
  FROM before b LEFT JOIN new_events n ON n.aggregatetype = 'product' AND n.aggregateid = 'RED-CHAIR'
 GROUP BY b.chair_seq
HAVING array_agg(n.aggregate_seq ORDER BY n.aggregate_seq) <> ARRAY[b.chair_seq + 1, b.chair_seq + 2];
SELECT 'ORD-2 events did not continue after ' || b.ord2_seq || ': '
	   || COALESCE(string_agg(n.aggregate_seq::text, ', ' ORDER BY n.aggregate_seq), 'none')
  FROM before b LEFT JOIN new_events n ON n.aggregatetype = 'order' AND n.aggregateid = 'ORD-2'
 GROUP BY b.ord2_seq
HAVING array_agg(n.aggregate_seq ORDER BY n.aggregate_seq) <> ARRAY[b.ord2_seq + 1, b.ord2_seq + 2];
SELECT 'ORD-2 version did not continue: ' || b.ord2_version || ' -> ' || o.version_number
  FROM before b, allocation.orders o
 WHERE o.orderid = 'ORD-2' AND o.version_number <> b.ord2_version + 2;
SELECT 'ORD-2 is ' || allocation.order_status('ORD-2') || ', not cancelled'
 WHERE allocation.order_status('ORD-2') IS DISTINCT FROM 'cancelled';
SELECT 'expected 2 new stock alerts above notification id ' || b.max_notification || ', found '
	   || (SELECT count(*) FROM allocation.notifications n
			WHERE n.id > b.max_notification AND n.recipient = 'stock@example.com')
  FROM before b
 WHERE (SELECT count(*) FROM allocation.notifications n
		 WHERE n.id > b.max_notification AND n.recipient = 'stock@example.com') <> 2;
SELECT 'new plugin subscription id ' || s.id || ' not above the restored maximum ' || b.max_subscription
  FROM before b, allocation.subscriptions s
 WHERE to_regprocedure(s.handler) = 'public.log_event_2(jsonb)'::regprocedure AND s.id <= b.max_subscription;
SELECT 'the restored plugin ran as ' || string_agg(l.ran_as, ', ')
	   || ', not as its subscriber alloc_stress_plugin'
  FROM before b, public.plugin_log l
 WHERE l.id > b.max_plugin_log AND l.event->>'type' = 'Allocated'
HAVING bool_or(l.ran_as <> 'alloc_stress_plugin');
SELECT 'the plugins ran ' || (SELECT count(*) FROM public.plugin_log) - b.plugin_calls
	   || ' times for the new events, not 2 (restored Allocated plugin, new OutOfStock plugin)'
  FROM before b WHERE (SELECT count(*) FROM public.plugin_log) - b.plugin_calls <> 2;
SELECT 'consumer mailer reads ' || (SELECT count(*) FROM allocation.read_events('mailer', 1000))
	   || ' events, not its ' || b.mailer_backlog || ' old ones and the 6 new'
  FROM before b
 WHERE (SELECT count(*) FROM allocation.read_events('mailer', 1000)) <> b.mailer_backlog + 6;
SELECT 'consumer warehouse reads ' || (SELECT count(*) FROM allocation.read_events('warehouse', 1000))
	   || ' events, not all ' || (SELECT count(*) FROM allocation.outbox)
 WHERE (SELECT count(*) FROM allocation.read_events('warehouse', 1000))
	   <> (SELECT count(*) FROM allocation.outbox);
SELECT 'the handled message m-2 ran again after the restore: ' || r::text
  FROM allocation.handle('{"type": "Allocate", "orderid": "msg-order-1", "sku": "BLUE-LAMP", "qty": 3, "message_id": "m-2"}') r
 WHERE (SELECT count(*) FROM allocation.outbox WHERE payload->>'orderid' = 'msg-order-1') <> 1
	OR r IS DISTINCT FROM (SELECT result FROM allocation.inbox WHERE message_id = '"m-2"' AND message_type = 'Allocate');
SELECT 'check_invariants() after the new commands: '
	   || string_agg(concat_ws(' ', invariant, object, detail), '; ')
  FROM allocation.check_invariants() HAVING count(*) > 0;
