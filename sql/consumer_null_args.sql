--
-- The outbox consumer API refuses a NULL argument with 22004, as every
-- other function does (a required argument is NULL), before looking
-- anything up: never 22023 "unknown ...", never a silent false.  Each
-- function is called with every one of its arguments NULL in turn (the
-- others valid), and with all of them NULL.  Names start with "cn_".
--
\set VERBOSITY terse
SELECT allocation.add_batch('CN-B1', 'CN-SKU', 10);
SELECT allocation.register_consumer('cn_consumer');
SELECT id AS cn_event FROM allocation.outbox
 WHERE aggregateid = 'CN-SKU' ORDER BY commit_key, position LIMIT 1 \gset

-- the SQLSTATE of one call, or 'ok'
CREATE FUNCTION cn_state(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE call;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

-- generated: each argument NULL in turn, then all of them
WITH calls(fn, args) AS (VALUES
	('ack_events',          ARRAY['''cn_consumer''', quote_literal(:'cn_event') || '::uuid']),
	('read_events',         ARRAY['''cn_consumer''', '10']),
	('register_consumer',   ARRAY['''cn_consumer''', 'true']),
	('unregister_consumer', ARRAY['''cn_consumer'''])
), cases AS (
	SELECT fn, i AS null_arg,
		   format('SELECT * FROM allocation.%I(%s)', fn,
				  (SELECT string_agg(CASE WHEN j = i OR i = 0 THEN 'NULL' ELSE a END, ', ' ORDER BY j)
					 FROM unnest(args) WITH ORDINALITY u(a, j))) AS call
	  FROM calls, generate_series(0, cardinality(args)) i
)
SELECT fn, CASE null_arg WHEN 0 THEN 'all' ELSE null_arg::text END AS null_arg,
	   cn_state(call) AS sqlstate
  FROM cases ORDER BY fn, null_arg;

-- nothing changed: the consumer is still registered, its cursor unmoved
SELECT name, last_key = 0 AS cursor_unmoved FROM allocation.consumers WHERE name = 'cn_consumer';

-- clean up
DROP FUNCTION cn_state(text);
SELECT allocation.unregister_consumer('cn_consumer');
