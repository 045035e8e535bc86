-- test/stress/memory.sql - the products and the loop of the memory test
--
-- stress.churn(calls, tag) allocates a line and deallocates it again,
-- calls times, over 50 SKUs (MEM-1 .. MEM-50, one batch of 10 each: stock
-- never runs out), committing every 100 calls as an application would;
-- line i is order "<tag>-<i>".  Every 1000 calls an outbox consumer
-- reads and acknowledges the events, and purge_outbox() deletes them, so
-- that a long run does not fill the disk (and the consumer API is in the
-- loop too).
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS stress CASCADE;
CREATE SCHEMA stress;

SELECT count(allocation.add_batch('MEMB-' || i, 'MEM-' || i, 10))
  FROM generate_series(1, 50) AS i;

SELECT allocation.register_consumer('memory-test');

CREATE PROCEDURE stress.churn(calls integer, tag text)
LANGUAGE plpgsql
AS $$
DECLARE
	sku text;
	ref text;
	last_event uuid;
BEGIN
	FOR i IN 1 .. calls LOOP
		sku := 'MEM-' || (1 + i % 50);
		ref := allocation.allocate(tag || '-' || i, sku, 1 + i % 3);
		IF ref IS NULL THEN
			RAISE EXCEPTION 'line %-% was not allocated', tag, i;
		END IF;
		IF allocation.deallocate(tag || '-' || i, sku) IS DISTINCT FROM ref THEN
			RAISE EXCEPTION 'line %-% was not deallocated from %', tag, i, ref;
		END IF;
		IF i % 100 = 0 THEN
			COMMIT;
		END IF;
		IF i % 1000 = 0 THEN
			SELECT e.id INTO last_event
			  FROM allocation.read_events('memory-test', 5000) WITH ORDINALITY AS e
			 ORDER BY e.ordinality DESC LIMIT 1;
			IF last_event IS NOT NULL THEN
				PERFORM allocation.ack_events('memory-test', last_event);
				PERFORM allocation.purge_outbox();
			END IF;
			COMMIT;
		END IF;
	END LOOP;
END
$$;
