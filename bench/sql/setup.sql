-- bench/sql/setup.sql: the benchmark's own schema (results and data
-- generators).  Run as superuser in the benchmark database, after
-- CREATE EXTENSION allocation, bench/sql/floor.sql and the peer.
CREATE SCHEMA bench;

-- one pgbench run
CREATE TABLE bench.runs (
	round		integer NOT NULL,
	scenario	text NOT NULL,		-- cold, hot, depth<N>, large
	comparator	text NOT NULL,		-- ext, ext_notify, ext_nonotify, peer, floor, floor_notify, select1
	clients		integer NOT NULL,
	sync		text NOT NULL,		-- synchronous_commit of the run
	seconds		integer NOT NULL,
	tps			double precision,
	lat_ms		double precision,
	xacts		bigint,
	failed		bigint,
	aborted		boolean NOT NULL,
	others_cpu	integer,		-- % of the machine's CPU used by other processes meanwhile
	cpu_ticks	bigint			-- CPU time of the cluster and pgbench meanwhile (clock ticks)
);

-- rows and index entries written by a fixed number of allocations
CREATE TABLE bench.work (
	comparator	text PRIMARY KEY,
	allocs		integer NOT NULL,
	wal_bytes	numeric NOT NULL,	-- WAL record bytes, full-page images left out
	heap_insert	bigint, heap_update bigint, heap_hot_update bigint, heap_lock bigint,
	btree_insert bigint,		-- INSERT_LEAF + INSERT_POST + SPLIT_L + SPLIT_R
	tup_ins		bigint, tup_upd bigint, tup_hot_upd bigint,
	blks_read	bigint,		-- blocks read into shared buffers (pg_stat_database)
	backend_writes bigint	-- dirty buffers written by backends (pg_stat_bgwriter)
);

-- T5: one allocate_many call
CREATE TABLE bench.bulk (
	round		integer NOT NULL,
	lines		integer NOT NULL,
	lat_ms		double precision NOT NULL,
	others_cpu	integer,
	cpu_ticks	bigint
);

-- T7: one allocate_many call of many lines of one SKU
CREATE TABLE bench.bulk_sku (
	round		integer NOT NULL,
	lines		integer NOT NULL,
	lat_ms		double precision NOT NULL,
	others_cpu	integer,
	cpu_ticks	bigint
);

-- T6: a SKU with n batches with stock (a million units each, so that no
-- run depletes them), three in the warehouse and the rest on the way,
-- through the extension's add_batch.
CREATE FUNCTION bench.wide_sku(p_sku text, n integer)
RETURNS void
LANGUAGE sql
AS $$
	SELECT count(allocation.add_batch(format('%s-B%s', p_sku, lpad(b::text, 5, '0')), p_sku,
									  1000000, CASE WHEN b <= 3 THEN NULL ELSE DATE '2031-01-01' + b END))
	  FROM generate_series(1, n) b;
$$;

-- T7 per round: time (or, cpu, CPU time) per line of the call of hi lines
-- over that of the call of lo lines.
CREATE FUNCTION bench.bulk_sku_ratio(lo integer, hi integer, metric text,
									 max_others integer DEFAULT NULL)
RETURNS TABLE (ratio double precision, n bigint)
LANGUAGE sql STABLE
AS $$
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY
			CASE metric
				WHEN 'lat' THEN (h.lat_ms / h.lines) / (l.lat_ms / l.lines)
				ELSE (h.cpu_ticks::float / h.lines) / (l.cpu_ticks::float / l.lines)
			END), count(*)
	  FROM bench.bulk_sku h JOIN bench.bulk_sku l ON l.round = h.round
	 WHERE h.lines = hi AND l.lines = lo AND h.cpu_ticks > 0 AND l.cpu_ticks > 0
	   AND (max_others IS NULL OR (h.others_cpu <= max_others AND l.others_cpu <= max_others))
$$;

-- A SKU with history: n_lines past allocations of qty 1 that filled (and
-- depleted) n_lines / per_batch batches of per_batch units, made through
-- the extension itself (add_batch, then allocate_many of the lines that
-- fill them), ten batches at a time so that every allocation sees at most
-- ten batches with stock.  Then ten fresh batches that never run out.
-- One transaction per ten batches: in a single transaction every update
-- of the product row would stay in its HOT chain (a running transaction's
-- own dead versions cannot be pruned), and each command would walk all of
-- them: quadratic time.
CREATE PROCEDURE bench.make_history(p_sku text, n_lines integer, per_batch integer)
LANGUAGE plpgsql
AS $$
DECLARE
	n_batches integer := n_lines / per_batch;
	k integer;
BEGIN
	FOR k IN 0 .. (n_batches + 9) / 10 - 1 LOOP
		PERFORM allocation.add_batch(format('%s-A%s', p_sku, lpad(i::text, 6, '0')),
									 p_sku, per_batch)
		   FROM generate_series(k * 10 + 1, least(k * 10 + 10, n_batches)) i;
		PERFORM count(*) FROM allocation.allocate_many(ARRAY(
			SELECT ROW(format('%s-h%s', p_sku, j), p_sku, 1)::allocation.order_line
			  FROM generate_series(k * 10 * per_batch + 1,
								   least(k * 10 + 10, n_batches) * per_batch) j));
		COMMIT;
	END LOOP;
	PERFORM bench.fresh_batches('allocation', p_sku, 100000000);
END
$$;

-- Ten batches of qty units for a SKU, three in the warehouse and seven on
-- the way, through the extension's or the peer's add_batch.
CREATE FUNCTION bench.fresh_batches(target text, p_sku text, qty integer)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
	IF target = 'allocation' THEN
		PERFORM allocation.add_batch(format('%s-F%s', p_sku, lpad(b::text, 2, '0')), p_sku, qty,
									 CASE WHEN b <= 3 THEN NULL ELSE DATE '2031-01-01' + b END)
		   FROM generate_series(1, 10) b;
	ELSE
		PERFORM peer.add_batch(format('%s-F%s', p_sku, lpad(b::text, 2, '0')), p_sku, qty,
							   CASE WHEN b <= 3 THEN NULL ELSE DATE '2031-01-01' + b END)
		   FROM generate_series(1, 10) b;
	END IF;
END
$$;

-- Median over the rounds of a per-round ratio between run a and run b of
-- the same round (synchronous_commit off):
--   tps: tps(a) / tps(b)            lat: latency(a) / latency(b)
--   cpu: cost(b) / cost(a), cost = CPU time of cluster and pgbench per
--        transaction (> 1: a is cheaper; robust to other processes)
--   cpulat: cost(a) / cost(b)
-- max_others: only rounds where other processes used at most that % of
-- the machine's CPU during both runs ("quiet" rounds).
CREATE FUNCTION bench.ratio(scen_a text, comp_a text, clients_a integer,
							scen_b text, comp_b text, clients_b integer,
							metric text DEFAULT 'tps', max_others integer DEFAULT NULL)
RETURNS double precision
LANGUAGE sql STABLE
AS $$
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY
			CASE metric
				WHEN 'tps' THEN a.tps / b.tps
				WHEN 'lat' THEN a.lat_ms / b.lat_ms
				WHEN 'cpu' THEN (b.cpu_ticks::float / b.xacts) / (a.cpu_ticks::float / a.xacts)
				WHEN 'cpulat' THEN (a.cpu_ticks::float / a.xacts) / (b.cpu_ticks::float / b.xacts)
			END)
	  FROM bench.runs a JOIN bench.runs b ON b.round = a.round AND b.sync = a.sync
	 WHERE a.sync = 'off'
	   AND a.scenario = scen_a AND a.comparator = comp_a AND a.clients = clients_a
	   AND b.scenario = scen_b AND b.comparator = comp_b AND b.clients = clients_b
	   AND a.tps > 0 AND b.tps > 0 AND a.cpu_ticks > 0 AND b.cpu_ticks > 0
	   AND (max_others IS NULL OR (a.others_cpu <= max_others AND b.others_cpu <= max_others))
$$;

-- How many rounds bench.ratio(...) with max_others has.
CREATE FUNCTION bench.pairs(scen_a text, comp_a text, clients_a integer,
							scen_b text, comp_b text, clients_b integer,
							max_others integer)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
	SELECT count(*)
	  FROM bench.runs a JOIN bench.runs b ON b.round = a.round AND b.sync = a.sync
	 WHERE a.sync = 'off'
	   AND a.scenario = scen_a AND a.comparator = comp_a AND a.clients = clients_a
	   AND b.scenario = scen_b AND b.comparator = comp_b AND b.clients = clients_b
	   AND a.tps > 0 AND b.tps > 0
	   AND a.others_cpu <= max_others AND b.others_cpu <= max_others
$$;

-- T5 per round: lines/s of allocate_many over tps of allocate at 1 client
-- (cold), by wall clock or (cpu) by CPU time per line.
CREATE FUNCTION bench.bulk_ratio(metric text, max_others integer DEFAULT NULL)
RETURNS TABLE (ratio double precision, n bigint)
LANGUAGE sql STABLE
AS $$
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY
			CASE metric
				WHEN 'tps' THEN (b.lines / (b.lat_ms / 1000)) / r.tps
				ELSE (r.cpu_ticks::float / r.xacts) / (b.cpu_ticks::float / b.lines)
			END), count(*)
	  FROM bench.bulk b JOIN bench.runs r ON r.round = b.round
	 WHERE r.scenario = 'cold' AND r.comparator = 'ext' AND r.clients = 1 AND r.sync = 'off'
	   AND r.tps > 0 AND r.cpu_ticks > 0 AND b.cpu_ticks > 0
	   AND (max_others IS NULL OR (b.others_cpu <= max_others AND r.others_cpu <= max_others))
$$;

-- The benchmark targets.  all_rounds: median of the per-round ratios of
-- every round; quiet: of the quiet rounds only (n of them); cpu: the same
-- ratio of CPU cost per call.  The verdict uses the quiet rounds when
-- there are at least three of them, else all rounds (marked noisy).
CREATE FUNCTION bench.targets(deepest integer, large_skus integer, cold_skus integer,
							  bulk_lines integer, quiet integer, flat_batches integer DEFAULT 1000,
							  flat_lo integer DEFAULT 5000, flat_hi integer DEFAULT 50000)
RETURNS TABLE (ord integer, id text, what text, all_rounds double precision,
			   quiet_ratio double precision, quiet_n bigint, cpu double precision,
			   goal text, verdict text)
LANGUAGE sql STABLE
AS $$
	WITH t(ord, id, what, sa, ca, na, sb, cb, nb, kind, op, lim, goal) AS (VALUES
		(1, 'T1', 'allocate, NOTIFY on / SQL floor with NOTIFY, cold, 1 client',
		 'cold', 'ext_notify', 1, 'cold', 'floor_notify', 1, 'tps', '>=', 0.95, '>= 0.95'),
		(2, 'T1', 'allocate, NOTIFY on / SQL floor with NOTIFY, cold, 8 clients',
		 'cold', 'ext_notify', 8, 'cold', 'floor_notify', 8, 'tps', '>=', 0.95, '>= 0.95'),
		(3, 'T2', 'allocate (default: NOTIFY auto, nobody listens) / PL/pgSQL peer, cold, 1 client',
		 'cold', 'ext', 1, 'cold', 'peer', 1, 'tps', '>=', 1.10, '>= 1.10'),
		(4, 'T2', 'allocate (default: NOTIFY auto, nobody listens) / PL/pgSQL peer, cold, 8 clients',
		 'cold', 'ext', 8, 'cold', 'peer', 8, 'tps', '>=', 1.10, '>= 1.10'),
		(5, 'T3', format('allocate latency, %s past allocations / fresh SKU, 1 client', deepest),
		 'depth' || deepest, 'ext', 1, 'depth0', 'ext', 1, 'lat', '<=', 1.20, '<= 1.20'),
		(6, 'T3', format('allocate throughput, %s SKUs / %s SKUs, 1 client', large_skus, cold_skus),
		 'large', 'ext', 1, 'cold', 'ext', 1, 'tps', '>=', 0.80, '>= 0.80'),
		(7, 'T3', format('allocate throughput, %s SKUs / %s SKUs, 8 clients', large_skus, cold_skus),
		 'large', 'ext', 8, 'cold', 'ext', 8, 'tps', '>=', 0.80, '>= 0.80'),
		(8, 'T4', 'allocate, NOTIFY on / SQL floor with NOTIFY, hot SKU, 8 clients',
		 'hot', 'ext_notify', 8, 'hot', 'floor_notify', 8, 'tps', '>=', 0.95, '>= 0.95, no client error'),
		(10, 'T6', format('allocate latency, SKU with %s batches with stock / with 1, 1 client', flat_batches),
		 'wide' || flat_batches, 'ext', 1, 'wide1', 'ext', 1, 'lat', '<=', 1.20, '<= 1.20')
	), v AS (
		SELECT t.*, bench.ratio(sa, ca, na, sb, cb, nb, kind) AS a,
			   bench.ratio(sa, ca, na, sb, cb, nb, kind, quiet) AS q,
			   bench.pairs(sa, ca, na, sb, cb, nb, quiet) AS n,
			   bench.ratio(sa, ca, na, sb, cb, nb, CASE kind WHEN 'tps' THEN 'cpu' ELSE 'cpulat' END) AS c,
			   CASE WHEN t.id = 'T4' THEN
					(SELECT coalesce(sum(failed), 0) = 0 AND NOT bool_or(aborted)
					   FROM bench.runs WHERE scenario = 'hot' AND comparator IN ('ext', 'ext_notify'))
			   END AS clean
		  FROM t
		UNION ALL
		SELECT 9, 'T5', format('allocate_many of %s lines / one allocate per transaction (lines/s, 1 client)', bulk_lines),
			   NULL, NULL, NULL, NULL, NULL, NULL, 'tps', '>=', 5, '>= 5',
			   (SELECT ratio FROM bench.bulk_ratio('tps')),
			   (SELECT ratio FROM bench.bulk_ratio('tps', quiet)),
			   (SELECT n FROM bench.bulk_ratio('tps', quiet)),
			   (SELECT ratio FROM bench.bulk_ratio('cpu')), NULL
		UNION ALL
		SELECT 11, 'T7', format('allocate_many on one SKU, time per line: %s lines / %s lines', flat_hi, flat_lo),
			   NULL, NULL, NULL, NULL, NULL, NULL, 'lat', '<=', 1.20, '<= 1.20',
			   (SELECT ratio FROM bench.bulk_sku_ratio(flat_lo, flat_hi, 'lat')),
			   (SELECT ratio FROM bench.bulk_sku_ratio(flat_lo, flat_hi, 'lat', quiet)),
			   (SELECT n FROM bench.bulk_sku_ratio(flat_lo, flat_hi, 'lat', quiet)),
			   (SELECT ratio FROM bench.bulk_sku_ratio(flat_lo, flat_hi, 'cpu')), NULL
	)
	SELECT ord, id, what, a, q, n, c, goal,
		   CASE WHEN a IS NULL THEN CASE WHEN ord IN (6, 7) THEN 'not run (make bench-large)' ELSE 'n/a' END
		   ELSE
			   CASE WHEN (CASE op WHEN '>=' THEN (CASE WHEN n >= 3 THEN q ELSE a END) >= lim
								  ELSE (CASE WHEN n >= 3 THEN q ELSE a END) <= lim END)
						 AND coalesce(clean, true)
					THEN 'PASS' ELSE 'MISS' END
			   || CASE WHEN clean IS FALSE THEN ' (client errors)' ELSE '' END
			   || CASE WHEN n < 3 THEN format(' (noisy: %s quiet rounds, all rounds used)', n) ELSE '' END
		   END
	  FROM v ORDER BY ord
$$;
