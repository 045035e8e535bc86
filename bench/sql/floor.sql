-- bench/sql/floor.sql
--
-- Schema "floor": copies of the extension's tables with the same columns,
-- constraints and indexes (LIKE ... INCLUDING ALL), so that the SQL floor
-- (bench/pgbench/floor*.sql) writes exactly the rows and index entries
-- allocation.allocate writes, with no domain logic around them.
CREATE SCHEMA floor;
CREATE TABLE floor.product_state (LIKE allocation.product_state INCLUDING ALL);
CREATE TABLE floor.batches (LIKE allocation.batches INCLUDING ALL);
CREATE TABLE floor.order_lines (LIKE allocation.order_lines INCLUDING ALL);
CREATE TABLE floor.outbox (LIKE allocation.outbox INCLUDING ALL);
CREATE TABLE floor.allocations_view (LIKE allocation.allocations_view INCLUDING ALL);
CREATE TABLE floor.orders (LIKE allocation.orders INCLUDING ALL);
