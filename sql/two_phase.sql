--
-- allocate inside a prepared transaction (two-phase commit).  NOTIFY
-- allocation_events is sent from the commit (src/adapters/listeners.c),
-- and PREPARE TRANSACTION sends none (PostgreSQL forbids NOTIFY in a
-- prepared transaction), so even with notify_events = on a transaction
-- that allocated can be prepared; its change and its events appear when
-- it is committed, and vanish when it is rolled back.
--
-- expected/two_phase_1.out is the output on a server with
-- max_prepared_transactions = 0 (the default), where PREPARE TRANSACTION
-- fails and nothing is allocated.  SKUs of this file start with "TP-".
--
\set VERBOSITY terse
SELECT allocation.add_batch('TP-B1', 'TP-LAMP', 10);
SET allocation.notify_events = on;

BEGIN;
SELECT allocation.allocate('TP-o1', 'TP-LAMP', 2);
PREPARE TRANSACTION 'tp_allocate';
-- prepared, not yet committed: not visible
SELECT count(*) AS lines FROM allocation.order_lines WHERE sku = 'TP-LAMP';
COMMIT PREPARED 'tp_allocate';
SELECT * FROM allocation.allocations('TP-o1');

BEGIN;
SELECT allocation.allocate('TP-o2', 'TP-LAMP', 3);
PREPARE TRANSACTION 'tp_rollback';
ROLLBACK PREPARED 'tp_rollback';
SELECT count(*) AS rows FROM allocation.allocations('TP-o2');

-- the events of the committed transaction only, in order
SELECT aggregate_seq, type, payload ->> 'orderid' AS orderid
  FROM allocation.outbox WHERE aggregateid = 'TP-LAMP' ORDER BY aggregate_seq;
SELECT allocated FROM allocation.stock WHERE reference = 'TP-B1';

RESET allocation.notify_events;

-- a transaction that wrote e-mails (an out-of-stock alert, a status change
-- told to a subscriber) can be prepared too: NOTIFY
-- allocation_notifications is sent from the commit, so PREPARE TRANSACTION
-- does not fail; the e-mails appear when it is committed
SET allocation.stock_alert_recipient = 'stock@tp.example.com';
SELECT allocation.create_order('TP-100');
SELECT allocation.subscribe_to_order('TP-100', 'buyer@tp.example.com');
BEGIN;
SELECT allocation.allocate('TP-100', 'TP-LAMP', 50);
SELECT allocation.change_order_status('TP-100', 'cancelled');
PREPARE TRANSACTION 'tp_mail';
COMMIT PREPARED 'tp_mail';
SELECT recipient, subject FROM allocation.notifications
 WHERE recipient LIKE '%@tp.example.com' ORDER BY recipient;
SELECT allocation.order_status('TP-100');
RESET allocation.stock_alert_recipient;
