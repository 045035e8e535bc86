#!/usr/bin/env bash
# bench/profile.sh COMPARATOR [SECONDS [SCENARIO]] - where one backend's time goes.
# bench/profile.sh waits COMPARATOR CLIENTS [SCENARIO] [SECONDS]
#                                           - what the backends wait for.
#
# Needs a benchmark cluster left running by "BENCH_KEEP=1 make bench"
# (same ALLOC_CLUSTER_DIR / ALLOC_PGPORT) and perf.  Runs pgbench at one
# client on the cold data set with COMPARATOR (ext, ext_nonotify, peer,
# floor_notify, floor, or bulk for one allocate_many call after another),
# records the backend with perf --call-graph dwarf for SECONDS (default 5)
# and prints bench/perf_attrib.py's tables.  perf.data stays in
# bench/tmp/perf-COMPARATOR.data for "perf report -i".
# The "waits" form runs CLIENTS clients on SCENARIO (cold or hot) and
# samples pg_stat_activity every 10 ms: the share of backend samples on
# CPU and in each wait event ("Lock: object" at commit is the
# cluster-wide lock that serializes notifying commits).
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
COMP=${1:?usage: bench/profile.sh COMPARATOR [SECONDS]}
SECS=${2:-5}
SCEN=${3:-cold}
export ALLOC_CLUSTER_DIR=${ALLOC_CLUSTER_DIR:-/tmp/bench-cluster}
export ALLOC_PGPORT=${ALLOC_PGPORT:-5533}
PRIV=${ALLOC_CLUSTER_DIR%/}-pg
PG_CONFIG=$(ls "$PRIV"/usr/lib/postgresql/*/bin/pg_config 2>/dev/null | head -n 1)
[ -x "${PG_CONFIG:-}" ] || { echo "no benchmark installation in $PRIV: run BENCH_KEEP=1 make bench first" >&2; exit 1; }
export PG_CONFIG
eval "$(bash "$BENCH/../scripts/cluster.sh" env)"
export PGDATABASE=bench
BIN=$("$PG_CONFIG" --bindir)
command -v perf >/dev/null || { echo "perf not found" >&2; exit 1; }

opts=""
vars=(-D prefix=C -D lo=1 -D hi="$("$BIN/psql" -X -At -c "SELECT count(*) FROM allocation.product_state WHERE sku LIKE 'C%'")")
if [ "$COMP" = waits ]; then
	COMP=${2:?usage: bench/profile.sh waits COMPARATOR CLIENTS [SCENARIO] [SECONDS]}
	CLIENTS=${3:?usage: bench/profile.sh waits COMPARATOR CLIENTS [SCENARIO] [SECONDS]}
	[ "${4:-cold}" = hot ] && vars=(-D prefix=H -D lo=1 -D hi=1)
	SECS=${5:-5}
	case $COMP in
		ext) script=$BENCH/pgbench/ext.sql ;;
		ext_notify) script=$BENCH/pgbench/ext.sql; opts="-c allocation.notify_events=on" ;;
		ext_notify) script=$BENCH/pgbench/ext.sql; opts="-c allocation.notify_events=on" ;;
	ext_nonotify) script=$BENCH/pgbench/ext.sql; opts="-c allocation.notify_events=off" ;;
		peer) script=$BENCH/pgbench/peer.sql ;;
		floor|floor_notify) script=$BENCH/tmp/$COMP.sql; opts="-c plan_cache_mode=force_generic_plan" ;;
		*) echo "unknown comparator $COMP" >&2; exit 2 ;;
	esac
	mkdir -p "$BENCH/tmp"
	PGAPPNAME=bench-profile PGOPTIONS="$opts" "$BIN/pgbench" -n -M prepared -c "$CLIENTS" -j 2 \
		-T $(( SECS + 2 )) "${vars[@]}" -f "$script" > "$BENCH/tmp/waits-$COMP.pgbench" 2>&1 &
	PGB=$!
	sleep 1
	"$BIN/psql" -X -q -At <<SQL
CREATE TEMP TABLE s (w text);
DO \$\$
BEGIN
	FOR i IN 1 .. $SECS * 100 LOOP
		INSERT INTO s SELECT coalesce(wait_event_type || ': ' || wait_event, 'on CPU')
		  FROM pg_stat_activity
		 WHERE application_name = 'bench-profile' AND state = 'active';
		PERFORM pg_stat_clear_snapshot();
		PERFORM pg_sleep(0.01);
	END LOOP;
END
\$\$;
SELECT format('| %s | %s %% |', w, round(100.0 * count(*) / sum(count(*)) OVER (), 1))
  FROM s GROUP BY w ORDER BY count(*) DESC;
SQL
	wait "$PGB" || true
	grep -E '^(tps|latency average)' "$BENCH/tmp/waits-$COMP.pgbench" || true
	exit 0
fi
case $SCEN in
	hot) vars=(-D prefix=H -D lo=1 -D hi=1) ;;
	large) vars=(-D prefix=L -D lo=1 -D hi="$("$BIN/psql" -X -At -c "SELECT count(*) FROM allocation.product_state WHERE sku LIKE 'L%'")") ;;
esac
case $COMP in
	ext) script=$BENCH/pgbench/ext.sql ;;
	ext_notify) script=$BENCH/pgbench/ext.sql; opts="-c allocation.notify_events=on" ;;
	ext_nonotify) script=$BENCH/pgbench/ext.sql; opts="-c allocation.notify_events=off" ;;
	peer) script=$BENCH/pgbench/peer.sql ;;
	floor|floor_notify) script=$BENCH/tmp/$COMP.sql; opts="-c plan_cache_mode=force_generic_plan" ;;
	bulk) script=$BENCH/pgbench/bulk.sql; vars+=(-D lines=10000) ;;
	*) echo "unknown comparator $COMP" >&2; exit 2 ;;
esac
mkdir -p "$BENCH/tmp"
out=$BENCH/tmp/perf-$COMP-$SCEN
PGAPPNAME=bench-profile PGOPTIONS="$opts" "$BIN/pgbench" -n -M prepared -c 1 -j 1 \
	-T $(( SECS + 4 )) "${vars[@]}" -f "$script" > "$out.pgbench" 2>&1 &
PGB=$!
pid=""
for _ in $(seq 1 50); do
	pid=$("$BIN/psql" -X -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench-profile' AND state IS NOT NULL LIMIT 1")
	[ -n "$pid" ] && break
	sleep 0.1
done
[ -n "$pid" ] || { echo "pgbench backend not found" >&2; kill "$PGB" 2>/dev/null; exit 1; }
sleep 1
perf record -q -F 999 --call-graph dwarf,16384 -p "$pid" -o "$out.data" -- sleep "$SECS" 2>/dev/null
wait "$PGB" || true
grep -E '^(tps|latency average)' "$out.pgbench" || true
perf script -i "$out.data" 2>/dev/null | python3 "$BENCH/perf_attrib.py"
