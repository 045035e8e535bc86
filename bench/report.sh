#!/usr/bin/env bash
# bench/report.sh WORK OUT - the Markdown report and the plots of a run.
#
# Called by bench/run.sh with the cluster still running: every figure
# comes from the tables of schema "bench" in the benchmark database
# (bench/sql/setup.sql).  Conditions come in BENCH_* variables.
set -euo pipefail
WORK=$1
OUT=$2
NAME=${BENCH_NAME:-latest}
PSQL=("$("$PG_CONFIG" --bindir)/psql" -X -q -At -v ON_ERROR_STOP=1)
MD=$OUT/$NAME.md
PNG_TPUT=$NAME-throughput.png
PNG_DEPTH=$NAME-latency-depth.png

q() { "${PSQL[@]}" -c "$1"; }

# the targets table rows (bench.targets in bench/sql/setup.sql)
target_rows() {
	q "
	SELECT format('| %s | %s | %s | %s | %s | %s | **%s** |', id, what,
				  coalesce(to_char(all_rounds, 'FM990.00'), '-'),
				  coalesce(to_char(quiet_ratio, 'FM990.00') || ' (' || quiet_n || ')', '-'),
				  coalesce(to_char(cpu, 'FM990.00'), '-'), goal, verdict)
	  FROM bench.targets($BENCH_DEEPEST, $BENCH_LARGE_SKUS, $BENCH_COLD_SKUS,
						 $BENCH_BULK_LINES, $BENCH_QUIET,
						 ${BENCH_FLAT_BATCHES:-1000}, ${BENCH_FLAT_LO:-5000}, ${BENCH_FLAT_HI:-50000})"
}

comparator_label="CASE comparator
	WHEN 'ext' THEN 'allocation.allocate'
	WHEN 'ext_notify' THEN 'allocation.allocate, notify_events on'
	WHEN 'ext_nonotify' THEN 'allocation.allocate, notify_events off'
	WHEN 'peer' THEN 'PL/pgSQL peer'
	WHEN 'floor_notify' THEN 'SQL floor + NOTIFY'
	WHEN 'floor' THEN 'SQL floor, no NOTIFY'
	WHEN 'select1' THEN 'SELECT 1'
	ELSE comparator END"
plot_label="CASE comparator
	WHEN 'ext' THEN 'allocate'
	WHEN 'ext_notify' THEN 'allocate\\nNOTIFY on'
	WHEN 'ext_nonotify' THEN 'allocate\\nNOTIFY off'
	WHEN 'peer' THEN 'PL/pgSQL\\npeer'
	WHEN 'floor_notify' THEN 'SQL floor\\n+ NOTIFY'
	WHEN 'floor' THEN 'SQL floor\\nno NOTIFY'
	ELSE comparator END"
comparator_order="array_position(ARRAY['ext','ext_notify','ext_nonotify','peer','floor_notify','floor','select1'], comparator)"

throughput_rows() {   # $1 = sync
	q "
	SELECT format('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |',
				  scenario, $comparator_label, clients,
				  to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY tps), 'FM999990'),
				  to_char(min(tps), 'FM999990') || ' - ' || to_char(max(tps), 'FM999990'),
				  to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY lat_ms), 'FM990.000'),
				  count(*), coalesce(sum(failed), 0)
				  || CASE WHEN bool_or(aborted) THEN ' (client aborted)' ELSE '' END,
				  percentile_disc(0.5) WITHIN GROUP (ORDER BY others_cpu) || ' %',
				  to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY
						  cpu_ticks * 1e6 / $BENCH_CLK_TCK / nullif(xacts, 0)), 'FM99990.0'))
	  FROM bench.runs
	 WHERE sync = '$1' AND scenario IN ('cold', 'hot', 'large')
	 GROUP BY scenario, comparator, clients
	 ORDER BY array_position(ARRAY['cold','large','hot'], scenario), clients, $comparator_order"
}

ratio_rows() {
	q "
	SELECT format('| %s | %s | %s | %s | %s | %s |', s.scenario, c.clients, $comparator_label,
				  to_char(bench.ratio(s.scenario, 'ext', c.clients, s.scenario, comparator, c.clients), 'FM990.00'),
				  coalesce(to_char(bench.ratio(s.scenario, 'ext', c.clients, s.scenario, comparator, c.clients,
											   'tps', $BENCH_QUIET), 'FM990.00'), '-')
				  || ' (' || bench.pairs(s.scenario, 'ext', c.clients, s.scenario, comparator, c.clients,
										 $BENCH_QUIET) || ')',
				  to_char(bench.ratio(s.scenario, 'ext', c.clients, s.scenario, comparator, c.clients, 'cpu'), 'FM990.00'))
	  FROM (VALUES ('cold'), ('hot')) s(scenario),
		   (SELECT DISTINCT clients FROM bench.runs) c,
		   (VALUES ('ext_notify'), ('ext_nonotify'), ('peer'), ('floor_notify'), ('floor'), ('select1')) x(comparator)
	 WHERE EXISTS (SELECT FROM bench.runs r WHERE r.scenario = s.scenario AND r.comparator = x.comparator)
	 ORDER BY array_position(ARRAY['cold','hot'], s.scenario), c.clients, $comparator_order"
}

depth_rows() {
	q "
	WITH m AS (
		SELECT substr(scenario, 6)::int AS depth, comparator,
			   percentile_cont(0.5) WITHIN GROUP (ORDER BY lat_ms) AS lat
		  FROM bench.runs WHERE scenario LIKE 'depth%' AND sync = 'off'
		 GROUP BY 1, 2)
	SELECT format('| %s | %s | %s | %s | %s | %s |', e.depth, e.depth / 10,
				  to_char(e.lat, 'FM990.000'),
				  to_char(bench.ratio('depth' || e.depth, 'ext', 1, 'depth0', 'ext', 1, 'lat'), 'FM990.00'),
				  to_char(p.lat, 'FM990.000'),
				  to_char(bench.ratio('depth' || e.depth, 'peer', 1, 'depth0', 'peer', 1, 'lat'), 'FM990.00'))
	  FROM m e JOIN m p ON p.depth = e.depth AND p.comparator = 'peer'
	 WHERE e.comparator = 'ext' ORDER BY e.depth"
}

work_rows() {
	q "
	SELECT format('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |',
				  CASE comparator WHEN 'ext_large' THEN 'allocation.allocate, large set'
				  ELSE $comparator_label END,
				  to_char(heap_insert::float / allocs, 'FM990.00'),
				  to_char(heap_update::float / allocs, 'FM990.00'),
				  to_char(heap_hot_update::float / allocs, 'FM990.00'),
				  to_char(heap_lock::float / allocs, 'FM990.00'),
				  to_char((heap_insert + heap_update + heap_hot_update)::float / allocs, 'FM990.00'),
				  to_char(btree_insert::float / allocs, 'FM990.00'),
				  to_char(wal_bytes / allocs, 'FM99990'),
				  format('%s / %s / %s', to_char(tup_ins::float / allocs, 'FM990.00'),
						 to_char(tup_upd::float / allocs, 'FM990.00'),
						 to_char(tup_hot_upd::float / allocs, 'FM990.00')),
				  to_char(blks_read::float / allocs, 'FM990.00'),
				  to_char(backend_writes::float / allocs, 'FM990.00'))
	  FROM bench.work ORDER BY $comparator_order, comparator"
}

bulk_rows() {
	q "
	SELECT format('| %s | %s | %s | %s | %s | %s | %s | %s |', b.round, b.lines, to_char(b.lat_ms, 'FM999990.0'),
				  to_char(b.lines / (b.lat_ms / 1000), 'FM999990'),
				  to_char(b.cpu_ticks * 1e6 / $BENCH_CLK_TCK / b.lines, 'FM99990.0'),
				  to_char(r.tps, 'FM999990'),
				  to_char(r.cpu_ticks * 1e6 / $BENCH_CLK_TCK / nullif(r.xacts, 0), 'FM99990.0'),
				  b.others_cpu || ' % / ' || r.others_cpu || ' %')
	  FROM bench.bulk b
	  LEFT JOIN bench.runs r ON r.round = b.round AND r.scenario = 'cold'
		   AND r.comparator = 'ext' AND r.clients = 1 AND r.sync = 'off'
	 ORDER BY b.round"
}

{
	echo "# allocation benchmark ($NAME)"
	echo
	echo "Run of \`make bench$(case $NAME in large*) echo -large ;; esac)$(case $NAME in *-pg[0-9]*) echo " BENCH_MAJOR=${NAME##*-pg}" ;; esac)\` on $BENCH_DATE; total run time $BENCH_ELAPSED s."
	echo
	echo "**Conditions.** Machine: $BENCH_NPROC cores (\`nproc\`), $BENCH_CPU, $BENCH_RAM RAM."
	echo "PostgreSQL $BENCH_PGVER, throwaway cluster, settings: \`$BENCH_SETTINGS\`"
	echo "(synchronous_commit is set per run: off unless stated). Build: $BENCH_BUILD."
	echo "pgbench -M prepared, -j 2 for 8 clients; $BENCH_ROUNDS_N rounds, each comparator once per round"
	echo "in rotating order, $BENCH_SECS s per throughput run and $BENCH_LAT_SECS s per latency run;"
	echo "figures are medians over the rounds, ratios are medians of per-round ratios."
	echo "Load average (1/5/15 min) before -> after the rounds: $BENCH_LOAD. Other processes"
	echo "(other sessions on this machine) used a median $(q "SELECT coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY others_cpu), 0) FROM bench.runs") % of the machine's CPU during the runs"
	echo "(max $(q "SELECT coalesce(max(others_cpu), 0) FROM bench.runs") %; column \"others' CPU\": /proc/stat less the cluster's and pgbench's CPU time);"
	echo "the interleaved rounds spread that over all comparators, but 1-client figures are the most affected."
	echo "check_invariants() after the runs: $BENCH_BAD_AFTER violations. Raw figures: $NAME-runs.csv, $NAME-work.csv."
	echo
	echo "## Targets"
	echo
	echo "Each ratio is the median of per-round ratios. *all rounds*: every round; *quiet rounds*: only"
	echo "rounds in which other processes used at most $BENCH_QUIET % of the machine's CPU during both runs"
	echo "(their number in brackets); *CPU cost*: the same comparison by CPU time of the cluster and pgbench"
	echo "per call (for throughput: cost of the comparator / cost of allocate; for latency: the inverse),"
	echo "which other processes disturb much less. The verdict uses the quiet rounds when there are at"
	echo "least three, else all rounds."
	echo
	case $NAME in
		large*) echo "make bench-large runs only what make bench cannot: allocate on $BENCH_LARGE_SKUS SKUs against $BENCH_COLD_SKUS, same rounds; the other targets are make bench's (n/a here)."
			echo ;;
	esac
	echo "| target | measure | all rounds | quiet rounds (n) | CPU cost | goal | result |"
	echo "| --- | --- | ---: | ---: | ---: | --- | --- |"
	target_rows
	echo
	echo "## Throughput (synchronous_commit = off)"
	echo
	echo "cold: random SKU among $BENCH_COLD_SKUS, 10 batches each; hot: every call on one SKU;"
	echo "large: random SKU among $BENCH_LARGE_SKUS (make bench-large only). Every call allocates a new line of qty 1."
	echo
	echo "| scenario | comparator | clients | median tps | min - max | median latency ms | rounds | failed | others' CPU | CPU µs / call |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	throughput_rows off
	echo
	if [ "$(q "SELECT count(*) FROM bench.runs WHERE comparator <> 'ext'")" -gt 0 ]; then
	echo "allocate relative to each comparator (medians of per-round ratios; > 1: allocate is faster or cheaper):"
	echo
	echo "| scenario | clients | comparator | throughput ratio, all rounds | quiet rounds (n) | CPU cost ratio |"
	echo "| --- | ---: | --- | ---: | ---: | ---: |"
	ratio_rows
	echo
	fi
	echo "![throughput by clients]($PNG_TPUT)"
	echo
	if [ "$(q "SELECT count(*) FROM bench.runs WHERE scenario LIKE 'depth%'")" -gt 0 ]; then
	echo "## Latency by history depth (1 client)"
	echo
	echo "A SKU with N past allocations (qty 1) that depleted N/10 batches, plus 10 batches with stock."
	if [ "${DEPTH_PLACEMENT:-kernel}" = together ]; then
		echo "pgbench and its backend pinned to one CPU (taskset), so that the kernel's choice of CPUs"
		echo "does not move the latency more than the depth does."
	else
		echo "pgbench and its backend where the kernel puts them (fewer than two CPUs, or no taskset)."
	fi
	echo
	echo "| past allocations | depleted batches | allocate ms | allocate vs fresh | peer ms | peer vs fresh |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
	depth_rows
	echo
	echo "![latency by history depth]($PNG_DEPTH)"
	echo
	fi
	echo "## Work per allocate"
	echo
	echo "WAL records of 2,000 allocations at 1 client on the cold set (pg_waldump --stats), per allocation;"
	echo "WAL bytes leave out full-page images (they depend on when the last checkpoint was);"
	echo "index entries = Btree INSERT_LEAF + INSERT_POST + SPLIT_L + SPLIT_R. Last column: the"
	echo "pg_stat_user_tables deltas of the comparator's schema (n_tup_ins / n_tup_upd / n_tup_hot_upd);"
	echo "blocks read into shared buffers and dirty buffers the backend had to write itself, per allocation."
	echo
	echo "| comparator | heap inserts | non-HOT updates | HOT updates | row locks | rows written | index entries | WAL bytes | ins / upd / hot upd | blocks read | backend writes |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
	work_rows
	echo
	if [ "$(q "SELECT count(*) FROM bench.runs WHERE sync = 'on'")" -gt 0 ]; then
	echo "## synchronous_commit = on (one round)"
	echo
	echo "| scenario | comparator | clients | tps | min - max | latency ms | rounds | failed | others' CPU | CPU µs / call |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	throughput_rows on
	echo
	fi
	if [ "$(q "SELECT count(*) FROM bench.bulk")" -gt 0 ]; then
	echo "## Bulk allocation (T5)"
	echo
	echo "| round | lines | allocate_many ms | lines/s | CPU µs / line | allocate per transaction, tps (same round) | CPU µs / call | others' CPU (bulk / single) |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	bulk_rows
	fi
	if [ "$(q "SELECT count(*) FROM bench.bulk_sku")" -gt 0 ]; then
	echo
	echo "## Flat cost (T6, T7)"
	echo
	echo "allocate latency (1 client) on a SKU with one batch with stock and on one with $BENCH_FLAT_BATCHES:"
	echo
	echo "| batches with stock | median latency ms | CPU µs / call |"
	echo "| ---: | ---: | ---: |"
	q "SELECT format('| %s | %s | %s |', substr(scenario, 5),
				  to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY lat_ms), 'FM990.000'),
				  to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu_ticks * 1e6 / $BENCH_CLK_TCK / nullif(xacts, 0)), 'FM99990.0'))
	     FROM bench.runs WHERE scenario LIKE 'wide%' GROUP BY scenario ORDER BY substr(scenario, 5)::int"
	echo
	echo "allocate_many on one SKU (one call of each size per round, back to back):"
	echo
	echo "| round | lines | ms a call | µs a line | CPU µs / line | others' CPU |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
	q "SELECT format('| %s | %s | %s | %s | %s | %s |', round, lines, to_char(lat_ms, 'FM999990.0'),
				  to_char(1000 * lat_ms / lines, 'FM990.00'),
				  to_char(cpu_ticks * 1e6 / $BENCH_CLK_TCK / lines, 'FM99990.0'), others_cpu || ' %')
	     FROM bench.bulk_sku ORDER BY round, lines"
	fi
} > "$MD"

# the raw figures beside the report
q "COPY (SELECT * FROM bench.runs ORDER BY round, scenario, comparator, clients, sync)
	TO STDOUT WITH (FORMAT csv, HEADER)" > "$OUT/$NAME-runs.csv"
q "COPY (SELECT * FROM bench.work ORDER BY comparator) TO STDOUT WITH (FORMAT csv, HEADER)" > "$OUT/$NAME-work.csv"
if [ "$(q "SELECT count(*) FROM bench.bulk")" -gt 0 ]; then
	q "COPY (SELECT * FROM bench.bulk ORDER BY round) TO STDOUT WITH (FORMAT csv, HEADER)" > "$OUT/$NAME-bulk.csv"
fi

# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
	echo "gnuplot not found: no plots" >&2
	exit 0
fi
SCENS=$(q "SELECT string_agg(scenario, ' ' ORDER BY array_position(ARRAY['cold','large','hot'], scenario))
			FROM (SELECT DISTINCT scenario FROM bench.runs WHERE scenario IN ('cold', 'large', 'hot')) s")
for scen in $SCENS; do
	q "
	SELECT format('\"%s\" %s %s', $plot_label,
				  coalesce(max(t) FILTER (WHERE clients = 1), 0),
				  coalesce(max(t) FILTER (WHERE clients = 8), 0))
	  FROM (SELECT comparator, clients, percentile_cont(0.5) WITHIN GROUP (ORDER BY tps) AS t
			  FROM bench.runs WHERE scenario = '$scen' AND sync = 'off' AND comparator <> 'select1'
			 GROUP BY 1, 2) m
	 GROUP BY comparator ORDER BY $comparator_order" > "$WORK/tput-$scen.dat"
done
q "
SELECT format('\"%s\" %s %s', to_char(substr(e.scenario, 6)::int, 'FM999,999,999'), e.l, p.l)
  FROM (SELECT scenario, percentile_cont(0.5) WITHIN GROUP (ORDER BY lat_ms) l
		  FROM bench.runs WHERE comparator = 'ext' AND scenario LIKE 'depth%' GROUP BY 1) e
  JOIN (SELECT scenario, percentile_cont(0.5) WITHIN GROUP (ORDER BY lat_ms) l
		  FROM bench.runs WHERE comparator = 'peer' AND scenario LIKE 'depth%' GROUP BY 1) p
	USING (scenario)
 ORDER BY substr(e.scenario, 6)::int" > "$WORK/depth.dat"

title() {
	case $1 in
		cold) echo "cold: random SKU among $BENCH_COLD_SKUS" ;;
		large) echo "large: random SKU among $BENCH_LARGE_SKUS" ;;
		hot) echo "hot: one SKU" ;;
	esac
}
n=$(wc -w <<< "$SCENS")
{
	echo "set terminal pngcairo size $(( 500 * n + 50 )),560 font \"sans,10\""
	echo "set output \"$OUT/$PNG_TPUT\""
	echo "set termoption noenhanced"
	echo "set multiplot layout 1,$n title \"allocate throughput by clients (median tps, synchronous_commit off, $BENCH_NPROC cores)\""
	echo "set style data histograms"
	echo "set style histogram clustered gap 1"
	echo "set style fill solid 0.8 border -1"
	echo "set boxwidth 0.9"
	echo "set yrange [0:*]"
	echo "set grid ytics"
	echo "set ylabel \"transactions per second\""
	echo "set xtics font \"sans,8\""
	echo "set key below"
	echo "set bmargin 7"
	for scen in $SCENS; do
		echo "set title \"$(title "$scen")\""
		echo "plot \"$WORK/tput-$scen.dat\" using 2:xtic(1) title \"1 client\", '' using 3 title \"8 clients\""
	done
	echo "unset multiplot"
} > "$WORK/tput.gp"
gnuplot "$WORK/tput.gp" || echo "warning: gnuplot failed on the throughput plot" >&2

if [ -s "$WORK/depth.dat" ]; then
	gnuplot <<EOF || echo "warning: gnuplot failed on the depth plot" >&2
set terminal pngcairo size 800,480 font "sans,10"
set output "$OUT/$PNG_DEPTH"
set termoption noenhanced
set title "allocate latency by history depth (median, 1 client)"
set xlabel "past allocations of the SKU (depleted batches = 1/10)"
set ylabel "latency, ms"
set logscale y
set grid
set key top left
plot "$WORK/depth.dat" using 0:2:xtic(1) with linespoints lw 2 pt 7 title "allocation.allocate", \\
	 '' using 0:3 with linespoints lw 2 pt 5 title "PL/pgSQL peer"
EOF
fi
