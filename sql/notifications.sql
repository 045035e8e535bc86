--
-- E-mail notifications (the contract: events and order tracking): an OutOfStock event writes
-- one row of allocation.notifications to the stock-alert recipient (the
-- setting allocation.stock_alert_recipient, else the default
-- postmaster@localhost), nothing when it is empty; every status change of
-- a tracked order writes one notification per subscriber.  SKUs,
-- references and order ids of this file start with "NT-"; e-mail
-- addresses end in "nt.example.com".
--
\set VERBOSITY terse

-- The notifications of this file, without their times.
PREPARE nt_mail AS
SELECT recipient, subject, body, sent_at IS NULL AS unsent, created_at IS NOT NULL AS has_created_at
  FROM allocation.notifications
 WHERE recipient LIKE '%nt.example.com'
 ORDER BY id;

SELECT allocation.add_batch('NT-B1', 'NT-VASE', 5);

------------------------------------------------------------------------
-- OutOfStock alerts
------------------------------------------------------------------------

-- a fresh install alerts someone: the setting is not set, no
-- administrator chose a recipient, so the default mailbox gets the alert
SHOW allocation.stock_alert_recipient;
SELECT allocation.stock_alert_recipient();
SELECT allocation.allocate('NT-o1', 'NT-VASE', 9) IS NULL AS out_of_stock;
SELECT count(*) = 1 AS out_of_stock_recorded FROM allocation.outbox
 WHERE aggregateid = 'NT-VASE' AND type = 'OutOfStock';
SELECT recipient, subject FROM allocation.notifications WHERE subject LIKE '%NT-VASE%';
DELETE FROM allocation.notifications WHERE subject LIKE '%NT-VASE%';

-- set in the session: one notification to the recipient, not yet sent
SET allocation.stock_alert_recipient = 'stock@nt.example.com';
SELECT allocation.allocate('NT-o2', 'NT-VASE', 9) IS NULL AS out_of_stock;
EXECUTE nt_mail;

-- a successful allocation writes none
SELECT allocation.allocate('NT-o3', 'NT-VASE', 4);
SELECT count(*) AS notifications FROM allocation.notifications WHERE subject LIKE '%NT-VASE%';

-- rule 5: a displaced line that finds no other batch is out of stock too,
-- and is alerted like any other
SELECT allocation.change_batch_quantity('NT-B1', 2);
EXECUTE nt_mail;

-- allocate_many and handle alert as allocate does, once per line
SELECT orderid, batchref FROM allocation.allocate_many(
	ARRAY[('NT-o5', 'NT-VASE', 7), ('NT-o6', 'NT-VASE', 1), ('NT-o7', 'NT-VASE', 8)]::allocation.order_line[]);
SELECT allocation.handle('{"type": "Allocate", "orderid": "NT-o8", "sku": "NT-VASE", "qty": 6}');
SELECT body FROM allocation.notifications WHERE subject LIKE '%NT-VASE%' ORDER BY id;

-- the notification rolls back with the command
BEGIN;
SELECT allocation.allocate('NT-o9', 'NT-VASE', 9) IS NULL AS out_of_stock;
SELECT count(*) = 1 AS visible_inside FROM allocation.notifications WHERE body LIKE '%NT-o9%';
ROLLBACK;
SELECT count(*) = 0 AS gone_after_rollback FROM allocation.notifications WHERE body LIKE '%NT-o9%';

-- an empty string turns the alerts off again
SET allocation.stock_alert_recipient = '';
SELECT allocation.allocate('NT-o10', 'NT-VASE', 9) IS NULL AS out_of_stock;
SELECT count(*) = 0 AS no_alert FROM allocation.notifications WHERE body LIKE '%NT-o10%';

-- SET LOCAL: the recipient of one transaction only
BEGIN;
SET LOCAL allocation.stock_alert_recipient = 'night-shift@nt.example.com';
SELECT allocation.allocate('NT-o11', 'NT-VASE', 9) IS NULL AS out_of_stock;
COMMIT;
SELECT allocation.allocate('NT-o12', 'NT-VASE', 9) IS NULL AS out_of_stock;
SELECT recipient, body FROM allocation.notifications
 WHERE body LIKE '%NT-o11 %' OR body LIKE '%NT-o12 %' ORDER BY id;
RESET allocation.stock_alert_recipient;

------------------------------------------------------------------------
-- Order status notifications: one per subscriber per change
------------------------------------------------------------------------
SELECT allocation.create_order('NT-100');
SELECT allocation.subscribe_to_order('NT-100', 'ann@nt.example.com');
SELECT allocation.subscribe_to_order('NT-100', 'bob@nt.example.com');
-- the same address again, in another case: still one subscription
SELECT allocation.subscribe_to_order('NT-100', 'Ann@NT.Example.com');

-- subscribing writes no notification
SELECT count(*) AS notifications FROM allocation.notifications WHERE subject LIKE 'Order NT-100 %';

-- a status change: one notification to each subscriber
SELECT allocation.change_order_status('NT-100', 'backordered');
SELECT recipient, subject, body FROM allocation.notifications
 WHERE subject LIKE 'Order NT-100 %' ORDER BY recipient, id;

-- a late subscriber hears of later changes only
SELECT allocation.subscribe_to_order('NT-100', 'cy@nt.example.com');
SELECT allocation.change_order_status('NT-100', 'allocated');
SELECT recipient, count(*) AS notifications FROM allocation.notifications
 WHERE subject LIKE 'Order NT-100 %' GROUP BY recipient ORDER BY recipient;

-- a refused change (ZA004) tells nobody
SELECT allocation.change_order_status('NT-100', 'created');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT count(*) AS notifications FROM allocation.notifications WHERE subject LIKE 'Order NT-100 %';

-- a change rolled back tells nobody
BEGIN;
SELECT allocation.change_order_status('NT-100', 'shipped');
ROLLBACK;
SELECT count(*) AS notifications FROM allocation.notifications WHERE subject LIKE 'Order NT-100 %';

-- an order nobody follows: changes write no notification
SELECT allocation.create_order('NT-200');
SELECT allocation.change_order_status('NT-200', 'cancelled');
SELECT count(*) AS notifications FROM allocation.notifications WHERE subject LIKE 'Order NT-200 %';

-- a change made by the allocation context (an Allocated event of a
-- tracked order) tells the subscribers too
SELECT allocation.add_batch('NT-B2', 'NT-BOWL', 10);
SELECT allocation.create_order('NT-300');
SELECT allocation.subscribe_to_order('NT-300', 'dee@nt.example.com');
SELECT allocation.allocate('NT-300', 'NT-BOWL', 1);
SELECT allocation.order_status('NT-300');
SELECT recipient, subject, body FROM allocation.notifications
 WHERE subject LIKE 'Order NT-300 %' ORDER BY id;

-- ... and an OutOfStock of a tracked order, with the stock alert beside it
SET allocation.stock_alert_recipient = 'stock@nt.example.com';
SELECT allocation.create_order('NT-400');
SELECT allocation.subscribe_to_order('NT-400', 'eve@nt.example.com');
SELECT allocation.allocate('NT-400', 'NT-BOWL', 50) IS NULL AS out_of_stock;
SELECT allocation.order_status('NT-400');
SELECT recipient, subject FROM allocation.notifications
 WHERE body LIKE '%NT-400%' ORDER BY recipient;
RESET allocation.stock_alert_recipient;

-- everything this file wrote, in order
EXECUTE nt_mail;

DEALLOCATE nt_mail;
