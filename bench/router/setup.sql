-- bench/router/setup.sql - run on a node directly or through a router:
--   BS-1..BS-64: one batch each (BB-i), so large that no line is ever out
--                of stock; the allocate runs add lines to them
--   CS-1..CS-64: one batch each (CB-i) that no line is allocated to: the
--                change_batch_quantity runs, whose cost does not then
--                depend on how many lines the other runs left
SET client_min_messages = warning;
SELECT count(allocation.add_batch('BB-' || i, 'BS-' || i, 1000000000)) FROM generate_series(1, 64) i;
SELECT count(allocation.add_batch('CB-' || i, 'CS-' || i, 1000)) FROM generate_series(1, 64) i;
