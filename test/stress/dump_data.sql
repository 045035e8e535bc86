-- test/stress/dump_data.sql - domain data of every kind, for dump_restore.sh
--
-- Fills every table of the extension: products and batches (warehouse
-- and shipments), allocations, an out-of-stock answer with its e-mail
-- alert, a quantity change that displaces and reallocates lines, a
-- deallocation, tracked orders with subscribers and status changes, a
-- plugin, an outbox consumer that has acknowledged part of the outbox,
-- and handled messages in the inbox.
SET client_min_messages = warning;
SET allocation.stock_alert_recipient = 'stock@example.com';

-- a plugin: a user function, subscribed to Allocated by the role
-- alloc_stress_plugin (a member of allocation_admin, made by
-- dump_restore.sh); it runs with that role's rights and says so
CREATE TABLE public.plugin_log (
	id		serial PRIMARY KEY,
	event	jsonb NOT NULL,
	ran_as	name NOT NULL DEFAULT current_user
);
GRANT INSERT ON public.plugin_log TO alloc_stress_plugin;
GRANT USAGE ON SEQUENCE public.plugin_log_id_seq TO alloc_stress_plugin;
CREATE FUNCTION public.log_event(event jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.plugin_log (event) VALUES (event); END $$;
SET ROLE alloc_stress_plugin;
SELECT allocation.subscribe('Allocated', 'public.log_event(jsonb)');
RESET ROLE;

-- batches
SELECT allocation.add_batch('WH-CHAIR', 'RED-CHAIR', 10);
SELECT allocation.add_batch('SHIP-CHAIR', 'RED-CHAIR', 20, DATE '2030-05-01');
SELECT allocation.add_batch('LATE-CHAIR', 'RED-CHAIR', 5, DATE '2030-09-01');
SELECT allocation.add_batch('WH-LAMP', 'BLUE-LAMP', 3);
SELECT allocation.add_batch('WH-TABLE', 'TABLE-ÉTÉ', 100);

-- tracked orders, one followed by e-mail
SELECT allocation.create_order('ORD-1');
SELECT allocation.create_order('ORD-2');
SELECT allocation.create_order('ORD-3');
SELECT allocation.subscribe_to_order('ORD-1', 'Alice@Example.com');
SELECT allocation.subscribe_to_order('ORD-1', 'bob@example.com');
SELECT allocation.subscribe_to_order('ORD-3', 'carol@example.com');

-- allocations: ORD-1 becomes allocated, ORD-2 backordered (out of stock)
SELECT allocation.allocate('ORD-1', 'RED-CHAIR', 8);
SELECT allocation.allocate('ORD-1', 'BLUE-LAMP', 2);
SELECT allocation.allocate('ORD-2', 'BLUE-LAMP', 5);
SELECT allocation.allocate('ORD-3', 'RED-CHAIR', 2);
SELECT allocation.allocate('web-17', 'RED-CHAIR', 15);
SELECT allocation.allocate('web-18', 'TABLE-ÉTÉ', 1);
SELECT allocation.allocate('web-19', 'TABLE-ÉTÉ', 4);

-- rule 5: the warehouse batch shrinks, ORD-3 then ORD-1 move to shipments
SELECT allocation.change_batch_quantity('WH-CHAIR', 1);
-- a shipment shrinks below what it holds: a displaced line goes out of stock
SELECT allocation.change_batch_quantity('LATE-CHAIR', 0);
-- a deallocation on request
SELECT allocation.deallocate('web-18', 'TABLE-ÉTÉ');

-- order status changes notify the subscribers
SELECT allocation.change_order_status('ORD-1', 'shipped');
SELECT allocation.change_order_status('ORD-3', 'cancelled');

-- messages from other systems, one of them sent twice
SELECT allocation.handle('{"type": "CreateBatch", "ref": "MSG-BATCH", "sku": "BLUE-LAMP", "qty": 7, "eta": "2030-06-01", "message_id": "m-1"}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "msg-order-1", "sku": "BLUE-LAMP", "qty": 3, "message_id": "m-2"}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "msg-order-1", "sku": "BLUE-LAMP", "qty": 3, "message_id": "m-2"}');
SELECT allocation.handle('{"type": "Deallocate", "orderid": "web-19", "sku": "TABLE-ÉTÉ", "message_id": 42}');

-- a consumer that has processed the first 10 events, and one that has not started
SELECT allocation.register_consumer('mailer');
SELECT allocation.ack_events('mailer',
	(SELECT id FROM allocation.read_events('mailer', 10) WITH ORDINALITY e ORDER BY ordinality DESC LIMIT 1));
SELECT allocation.register_consumer('warehouse');

-- the stock-alert recipient an administrator chose
SELECT allocation.set_stock_alert_recipient('stock@dump.example.com');

-- one e-mail sent already
UPDATE allocation.notifications SET sent_at = clock_timestamp()
 WHERE id = (SELECT min(id) FROM allocation.notifications);

-- the mailer's state: one notification retried once, one dead
SELECT allocation.mark_notification_failed((SELECT max(id) FROM allocation.notifications), '451 try later', false);
SELECT allocation.mark_notification_failed((SELECT min(id) FROM allocation.notifications WHERE sent_at IS NULL), '550 no such user', true);
-- a claim draws the database's Message-ID token (allocation.mail_identity)
SELECT count(*) >= 0 FROM allocation.claim_notifications(1, '1 second');
-- a reader of the WAL draws the database's secret (allocation.wal_secret);
-- dump_restore.sh checks that pg_dump leaves it out, pg_upgrade.sh that
-- an upgrade keeps it
SELECT allocation.wal_message_prefix() IS NOT NULL AS prefix_drawn;
