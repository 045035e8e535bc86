-- router/test/allocate_many.sql - allocate_many through the router: the
-- order of its rows over generated line sets, and the work it does per
-- line.
--
-- Run by scripts/extra-tests/router.sh with psql -At -v ON_ERROR_STOP=1
-- on the router database after scenarios.sql (cluster of 4 nodes).  Every
-- check prints "ok - <what>"; a failed check raises an error.

SET client_min_messages = warning;	-- PL/Proxy's "dropping stale conn"

\ir is.sql

-- 24 SKUs with ample stock, batch amr-b<i> for SKU AMR-<i>, over 4 nodes
SELECT pg_catalog.count(allocation.add_batch('amr-b' || i, 'AMR-' || i, 1000000))
  FROM pg_catalog.generate_series(1, 24) i \gset
SELECT pg_temp.is((SELECT pg_catalog.count(DISTINCT n.node) FROM pg_catalog.generate_series(1, 24) i, allocation.nodes() n
					WHERE allocation.partition_of('AMR-' || i) = ANY (n.partitions)),
				  4::bigint, 'the SKUs of the generated cases lie on 4 nodes');

-- Generated cases: random line sets of 1 to 80 lines from 4 order ids and
-- 24 SKUs, so that an order id recurs over SKUs, the lines of one SKU are
-- rarely adjacent, and the same line (order id and SKU, with the same
-- quantity) often recurs later in the call.  The rows must come back in
-- the order of the lines, row k for line k, as on a node, each with a
-- batch of its SKU.  Returns the number of cases and how many of them had
-- a line repeated after another line and a SKU split by other lines.
CREATE FUNCTION pg_temp.order_cases(cases integer)
RETURNS TABLE (n integer, repeated integer, split_sku integer) LANGUAGE plpgsql AS $$
DECLARE
	lines	allocation.order_line[];
	o		text;
	s		text;
	want	text[];
	got		text[];
	bad		bigint;
BEGIN
	n := 0; repeated := 0; split_sku := 0;
	PERFORM pg_catalog.setseed(0.4242);
	FOR c IN 1 .. cases LOOP
		lines := '{}';
		FOR k IN 1 .. 1 + (pg_catalog.random() * 79)::integer LOOP
			o := 'amr-' || c || '-' || (1 + (pg_catalog.random() * 3)::integer);
			s := 'AMR-' || (1 + (pg_catalog.random() * 23)::integer);
			lines := lines || ROW(o, s, 1 + pg_catalog.abs(pg_catalog.hashtext(o || s)) % 3)::allocation.order_line;
		END LOOP;
		want := ARRAY(SELECT u.orderid || '/' || u.sku
						FROM pg_catalog.unnest(lines) WITH ORDINALITY AS u(orderid, sku, qty, i) ORDER BY u.i);
		SELECT pg_catalog.array_agg(r.orderid || '/' || r.sku ORDER BY r.i),
			   pg_catalog.count(*) FILTER (WHERE r.batchref IS DISTINCT FROM 'amr-b' || pg_catalog.substr(r.sku, 5))
		  INTO got, bad
		  FROM allocation.allocate_many(lines) WITH ORDINALITY AS r(orderid, sku, batchref, i);
		IF got IS DISTINCT FROM want OR bad <> 0 THEN
			RAISE EXCEPTION 'not ok - allocate_many case %: lines % gave % (% rows with a batch of another SKU)',
				c, want, got, bad;
		END IF;
		n := n + 1;
		-- a line that recurs after some other line
		IF EXISTS (SELECT FROM pg_catalog.unnest(lines) WITH ORDINALITY AS a(o, s, q, i),
							   pg_catalog.unnest(lines) WITH ORDINALITY AS b(o, s, q, i)
					WHERE a.o = b.o AND a.s = b.s AND b.i > a.i + 1) THEN
			repeated := repeated + 1;
		END IF;
		-- a SKU whose lines are not adjacent
		IF EXISTS (SELECT FROM pg_catalog.unnest(lines) WITH ORDINALITY AS a(o, s, q, i),
							   pg_catalog.unnest(lines) WITH ORDINALITY AS b(o, s, q, i)
					WHERE a.s = b.s AND b.i > a.i + 1
					  AND EXISTS (SELECT FROM pg_catalog.unnest(lines) WITH ORDINALITY AS m(o, s, q, i)
								   WHERE m.i > a.i AND m.i < b.i AND m.s <> a.s)) THEN
			split_sku := split_sku + 1;
		END IF;
	END LOOP;
	RETURN NEXT;
END $$;

SELECT pg_temp.is(ROW(c.n >= 150, c.repeated >= 100, c.split_sku >= 100)::text, '(t,t,t)',
				  pg_catalog.format('allocate_many: %s generated line sets over 4 nodes (%s with a line repeated later, %s with a SKU split by other lines) come back in the order of their lines, row k for line k',
									c.n, c.repeated, c.split_sku))
  FROM pg_temp.order_cases(150) c;

-- Generated shapes: a node takes an array of any shape (lower bounds,
-- two dimensions: order_line[] has no fixed shape) and answers its lines
-- in storage order; so must the router, whose PL/Proxy SPLIT splits one
-- dimension only.  Each case is 1 to 12 random lines, as one dimension
-- with a random lower bound or as r x c with random lower bounds.
CREATE FUNCTION pg_temp.shape_cases(cases integer)
RETURNS TABLE (n integer, two_dims integer) LANGUAGE plpgsql AS $$
DECLARE
	flat	allocation.order_line[];
	lines	allocation.order_line[];
	r		integer;
	c		integer;
	want	text[];
	got		text[];
BEGIN
	n := 0; two_dims := 0;
	PERFORM pg_catalog.setseed(0.2424);
	FOR k IN 1 .. cases LOOP
		r := 1 + (pg_catalog.random() * 2)::integer;
		c := 1 + (pg_catalog.random() * 3)::integer;
		flat := ARRAY(SELECT ROW('ams-' || k || '-' || (1 + (pg_catalog.random() * 2)::integer),
								 'AMR-' || (1 + (pg_catalog.random() * 23)::integer), 1)::allocation.order_line
						FROM pg_catalog.generate_series(1, r * c));
		IF k % 2 = 0 THEN
			lines := pg_catalog.format('[%s:%s][%s:%s]=', -k, -k + r - 1, k, k + c - 1)
					 || (SELECT pg_catalog.array_agg(flat[i * c + 1 : i * c + c] ORDER BY i)
						   FROM pg_catalog.generate_series(0, r - 1) i)::text;
			two_dims := two_dims + 1;
		ELSE
			lines := pg_catalog.format('[%s:%s]=', k, k + r * c - 1) || flat::text;
		END IF;
		want := ARRAY(SELECT u.orderid || '/' || u.sku
						FROM pg_catalog.unnest(flat) WITH ORDINALITY AS u(orderid, sku, qty, i) ORDER BY u.i);
		SELECT pg_catalog.array_agg(x.orderid || '/' || x.sku ORDER BY x.i) INTO got
		  FROM allocation.allocate_many(lines) WITH ORDINALITY AS x(orderid, sku, batchref, i);
		IF got IS DISTINCT FROM want THEN
			RAISE EXCEPTION 'not ok - allocate_many of % gave %, expected %', lines, got, want;
		END IF;
		n := n + 1;
	END LOOP;
	RETURN NEXT;
END $$;

SELECT pg_temp.is(ROW(c.n, c.two_dims >= 10)::text, '(40,t)',
				  pg_catalog.format('allocate_many: %s generated arrays with other lower bounds, %s of them two-dimensional, come back as on a node, in storage order',
									c.n, c.two_dims))
  FROM pg_temp.shape_cases(40) c;

-- The work per call: one hash a line (PL/Proxy's SPLIT), the gates and
-- the routing check once per call, not once per line.  Counted with
-- track_functions in this transaction.
BEGIN;
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE amr_work ON COMMIT DROP AS
SELECT pg_catalog.count(*) AS rows
  FROM allocation.allocate_many(ARRAY(
	SELECT ROW('amr-w' || g, 'AMR-' || (1 + g % 24), 1)::allocation.order_line
	  FROM pg_catalog.generate_series(1, 500) g));
SELECT pg_temp.is((SELECT rows FROM amr_work), 500::bigint, 'allocate_many of 500 lines: 500 rows');
SELECT pg_temp.is(ROW((SELECT COALESCE(pg_catalog.sum(f.calls), 0)
						 FROM pg_catalog.pg_stat_xact_user_functions f
						WHERE f.schemaname = 'allocation_router' AND f.funcname = 'line_hash'),
					  (SELECT COALESCE(pg_catalog.sum(f.calls), 0)
						 FROM pg_catalog.pg_stat_xact_user_functions f
						WHERE f.schemaname = 'allocation' AND f.funcname = 'shard_key') <= 1000)::text,
				  '(500,t)', 'allocate_many of 500 lines: one line_hash a line, at most 2 shard_key a line');
SELECT pg_temp.is(pg_catalog.string_agg(f.funcname || '=' || f.calls, ' ' ORDER BY f.funcname), NULL,
				  'allocate_many of 500 lines: no gate, routing check, mask or key_hash called more than twice')
  FROM pg_catalog.pg_stat_xact_user_functions f
 WHERE f.schemaname = 'allocation_router'
   AND f.funcname IN ('sync_routing', 'mask', 'key_partition', 'lock_partitions', 'key_hash',
					  'gate', 'gate_read', 'gate_all', 'gate_read_all', 'gate_lines')
   AND f.calls > 2;
COMMIT;

-- The order tracking integration catches up with the events of the calls
-- above, so that what runs after this file (router.sh's partition move)
-- finds no more than its own backlog.
SELECT pg_temp.is(allocation.sync_order_tracking('order_tracking', 100000) >= 0, true,
				  'the order tracking integration caught up with the events of these calls');
SELECT pg_temp.is((SELECT pg_catalog.count(*) FROM allocation.read_events('order_tracking', 100000)), 0::bigint,
				  'no event left for the order tracking integration');
