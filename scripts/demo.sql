-- scripts/demo.sql - a short tour of the allocation extension ("make run").
--
-- Runs in a fresh database where CREATE EXTENSION allocation was done; the
-- README lists the functions it calls.

\pset null '(null)'

\echo
\echo '== 1. Stock arrives =='
\echo 'RED-CHAIR: 20 in the warehouse (eta NULL) and 100 on a ship due in two weeks.'
\echo 'BLUE-LAMP: 5 in the warehouse.'
SELECT allocation.add_batch('warehouse-red-1', 'RED-CHAIR', 20);
SELECT allocation.add_batch('shipment-red-1', 'RED-CHAIR', 100, current_date + 14);
SELECT allocation.add_batch('warehouse-blue-1', 'BLUE-LAMP', 5);

\echo
\echo '== 2. Allocate order lines =='
\echo 'order-1 wants 10 RED-CHAIR: warehouse stock is preferred to shipments.'
SELECT allocation.allocate('order-1', 'RED-CHAIR', 10) AS batchref;
\echo 'order-2 wants 15 RED-CHAIR: only 10 are left in the warehouse, so the shipment serves it.'
SELECT allocation.allocate('order-2', 'RED-CHAIR', 15) AS batchref;
\echo 'order-1 also wants 2 BLUE-LAMP.'
SELECT allocation.allocate('order-1', 'BLUE-LAMP', 2) AS batchref;

\echo
\echo '== 3. Out of stock =='
\echo 'order-3 wants 10 BLUE-LAMP, but only 3 are left: the result is NULL and an'
\echo 'OutOfStock event is recorded. Not an error: the transaction goes on.'
\echo 'The stock clerk gets an e-mail (allocation-mailer sends it, see the end).'
SET allocation.stock_alert_recipient = 'stock@example.com';
SELECT allocation.allocate('order-3', 'BLUE-LAMP', 10) AS batchref;
SELECT recipient, subject FROM allocation.notifications ORDER BY id;

\echo
\echo '== 4. A batch shrinks =='
\echo 'Only 5 RED-CHAIR of warehouse-red-1 turn out usable. order-1 (10) no longer'
\echo 'fits there: it is deallocated and reallocated to the shipment.'
SELECT allocation.change_batch_quantity('warehouse-red-1', 5);

\echo
\echo '== 5. The read model =='
\echo 'Stock, one row a batch:'
SELECT * FROM allocation.stock ORDER BY sku, reference;
\echo 'Where the lines of order-1 went:'
SELECT * FROM allocation.allocations('order-1');
\echo 'Products and their versions (each change bumps version_number):'
SELECT * FROM allocation.products ORDER BY sku;

\echo
\echo '== 6. The outbox =='
\echo 'Every change recorded its events in the same transaction, in order:'
SELECT type, aggregateid, payload FROM allocation.outbox ORDER BY position;

\echo
\echo '== 7. Order tracking by e-mail =='
\echo 'ORDER-7 is created, ann follows it, and it ships: one e-mail to ann.'
SELECT allocation.create_order('ORDER-7');
SELECT allocation.subscribe_to_order('ORDER-7', 'ann@example.com');
SELECT allocation.change_order_status('ORDER-7', 'allocated');
SELECT allocation.change_order_status('ORDER-7', 'shipped');
SELECT recipient, subject, sent_at IS NOT NULL AS sent FROM allocation.notifications ORDER BY id;
