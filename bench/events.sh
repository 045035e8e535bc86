#!/usr/bin/env bash
# bench/events.sh - "make bench-events": events in production, with the
# relay attached (see bench/README.md, "Events").
#
# On a throwaway cluster of its own and a redis-server on a free loopback
# port, with the extension and the relay of this tree installed into
# PG_CONFIG's installation, it measures, and prints with PASS or MISS:
#   E1  (both sources) the book's scenario round trip (PUBLISH change_batch_quantity ->
#       the displaced line's line_allocated): p50 <= 5 ms, p99 <= 20 ms
#   E2  commit -> Redis subscriber (an allocate by another session): p50 <= 2 ms
#   E3  allocate at 8 and 1 clients with the relay running and keeping up,
#       against nobody listening (>= 0.9x) and against the PL/pgSQL peer
#       with its own consumer attached (>= 1.3x), back to back in each round;
#       the relay reading the outbox (LISTEN/NOTIFY) and reading the WAL
#       (--source wal, allocation.outbox_mode = wal) side by side
#   E4  the relay's throughput from a backlog of events to Redis (>= 50,000/s)
#
# Beside each throughput, the CPU time per allocate: the machine's busy CPU
# time (/proc/stat) from the start of the pgbench run until the relay has
# caught up, divided by the transactions: on a quiet machine, what the
# backends, pgbench, the walsender, the relay or the peer's consumer and
# Redis spent together.
#
# At 1 client each comparator also runs with pgbench and its backend pinned
# to the same CPU ("together") and to two different CPUs ("apart"), beside
# the kernel's own placement: on a virtual machine with idle cores a
# client's throughput depends mostly on which of these the scheduler picked,
# and its pick flips every few seconds and follows the other processes'
# activity (see bench/README.md, "Events").
#
# Environment: EVENTS_ROUNDS [5], EVENTS_SECONDS [5] per pgbench run,
# EVENTS_CLIENTS ["8 1"], EVENTS_PLACEMENTS at 1 client ["kernel together
# apart"], EVENTS_SKUS [1000], EVENTS_PROBES [200],
# EVENTS_BACKLOG [1000000] events, ALLOC_CLUSTER_DIR
# [/tmp/bench-events-cluster], ALLOC_PGPORT [5534], EVENTS_RELAY_BIN (the
# relay to measure; default relay/allocation-relay).  Results:
# bench/results/events.md (events-pgN.md for another major than 15).
# PG_CONFIG must not name a packaged server: the Makefile passes a private
# copy (scripts/private-pg.sh), since this installs into it.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$BENCH/.." && pwd -P)
# shellcheck source=../scripts/common.sh
. "$ROOT/scripts/common.sh"

ROUNDS=${EVENTS_ROUNDS:-5}
SECS=${EVENTS_SECONDS:-5}
CLIENTS=${EVENTS_CLIENTS:-"8 1"}
PLACEMENTS=${EVENTS_PLACEMENTS:-"kernel together apart"}
# each at most once, at least one: a repeated placement would count twice
# in one figure and once in another, and none would leave no 1-client row
seen=" "
for p in $PLACEMENTS; do
	case $p in kernel|together|apart) ;; *) echo "EVENTS_PLACEMENTS: '$p' is none of kernel, together, apart" >&2; exit 2 ;; esac
	[[ $seen == *" $p "* ]] && { echo "EVENTS_PLACEMENTS: '$p' is named twice" >&2; exit 2; }
	seen+="$p "
done
[ "$seen" != " " ] || { echo "EVENTS_PLACEMENTS: no placement named (kernel, together, apart)" >&2; exit 2; }
SKUS=${EVENTS_SKUS:-1000}
PROBES=${EVENTS_PROBES:-200}
BACKLOG=${EVENTS_BACKLOG:-1000000}
export ALLOC_CLUSTER_DIR=${ALLOC_CLUSTER_DIR:-/tmp/bench-events-cluster}
export ALLOC_PGPORT=${ALLOC_PGPORT:-5534}
: "${PG_CONFIG:?set PG_CONFIG}"
PGBIN=$("$PG_CONFIG" --bindir)
dpkg_owned "$PGBIN/postgres" &&
	die "$PG_CONFIG is a packaged server: run make bench-events (it measures a private copy), or pass scripts/private-pg.sh --pg-config $PG_CONFIG"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-events.XXXXXX")
OUT=$BENCH/results/events.md
major=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
[ -z "$major" ] || [ "$major" = 15 ] || OUT=$BENCH/results/events-pg$major.md
T0=$(date +%s)
log() { printf '[events %4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

REDIS_PID=
RELAY_PID=
PEER_PID=
stop_pid() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null; return 0; }
# cleanup: stop what runs and remove the cluster.  Not under set -e: the
# wait for a process that the TERM killed fails (143), and must not end the
# cleanup before the cluster is stopped.
cleanup() {
	local rc=$?
	set +e
	for p in "$RELAY_PID" "$PEER_PID" "$REDIS_PID"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	bash "$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT

log "build and install (PG_CONFIG=$PG_CONFIG)"
make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" all > "$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
make -s -C "$ROOT" PG_CONFIG="$PG_CONFIG" install RELAY_BINDIR="$WORK/bin" >> "$WORK/build.log" 2>&1 ||
	{ cat "$WORK/build.log"; exit 1; }
RELAY=${EVENTS_RELAY_BIN:-$ROOT/relay/allocation-relay}
PROBE=$WORK/events_probe
cc -std=c11 -O2 -I"$("$PG_CONFIG" --includedir)" -o "$PROBE" "$BENCH/events/events_probe.c" \
	-L"$("$PG_CONFIG" --libdir)" -lpq -lhiredis

bash "$ROOT/scripts/cluster.sh" start --fresh > "$WORK/cluster.log"
eval "$(bash "$ROOT/scripts/cluster.sh" env)"
PSQL=("$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1)
for s in "shared_buffers=512MB" "synchronous_commit=off" "max_wal_size=8GB" "checkpoint_timeout=30min" \
	"jit=off" "autovacuum=off"; do
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'"
done
bash "$ROOT/scripts/cluster.sh" restart > /dev/null
export PGDATABASE=bench
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
"${PSQL[@]}" -c "CREATE EXTENSION allocation" -f "$BENCH/peers/plpgsql_allocation.sql" > /dev/null

# start_redis: our redis-server on a free port.  A server that answers on
# the port is ours only when its process id is ours: on a port that another
# Redis holds (a test's, another benchmark's), ours exits and the other one
# would answer, and get our messages; then another port is tried.
start_redis() {
	local try
	for try in 1 2 3 4 5; do
		REDIS_PORT=$(( 20000 + RANDOM % 20000 ))
		redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --daemonize no \
			--dir "$WORK" > "$WORK/redis.log" 2>&1 &
		REDIS_PID=$!
		for _ in $(seq 1 50); do
			[ "$(redis_pid "$REDIS_PORT")" = "$REDIS_PID" ] && return 0
			kill -0 "$REDIS_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$REDIS_PID"; REDIS_PID=
		log "redis-server on port $REDIS_PORT did not start (attempt $try): $(tail -n 1 "$WORK/redis.log")"
	done
	die "could not start redis-server on a free port"
}
# redis_pid PORT: the process id of the Redis that answers on PORT, if any
redis_pid() { redis-cli -p "$1" INFO server 2>/dev/null | sed -n 's/^process_id:\([0-9]*\).*/\1/p'; }
start_redis

# --source wal: wal_level = logical (the throwaway cluster's), the publication
"${PSQL[@]}" -c "CREATE PUBLICATION allocation_events" > /dev/null
log "data: $SKUS SKUs x 10 batches on each side; $PROBES book scenarios"
"${PSQL[@]}" -c "SELECT count(allocation.add_batch('b' || s || '-' || b, 'C' || s, 1000000, CASE WHEN b > 3 THEN DATE '2030-01-01' + b END))
                   FROM generate_series(1, $SKUS) s, generate_series(1, 10) b" > /dev/null
"${PSQL[@]}" -c "SELECT count(peer.add_batch('b' || s || '-' || b, 'C' || s, 1000000, CASE WHEN b > 3 THEN DATE '2030-01-01' + b END))
                   FROM generate_series(1, $SKUS) s, generate_series(1, 10) b" > /dev/null
"${PSQL[@]}" -c "SELECT allocation.add_batch('E-SKU-b', 'E-SKU', 100000000);
                 SELECT count(allocation.add_batch('E-old-' || i, 'E-' || i, 10, DATE '2011-01-01')),
                        count(allocation.add_batch('E-new-' || i, 'E-' || i, 10, DATE '2011-01-02')),
                        count(allocation.allocate('E-o-' || i, 'E-' || i, 10))
                   FROM generate_series(0, $PROBES - 1) i" > /dev/null
"${PSQL[@]}" -c "VACUUM ANALYZE"

# start_relay CONSUMER [outbox|wal]: from now, a relay that keeps up, not one
# catching up on earlier runs (a new consumer; a new slot)
start_relay() {
	local source=${2:-outbox}
	"${PSQL[@]}" -c "SELECT allocation.unregister_consumer('${1:-relay}')" > /dev/null
	if [ "$source" = wal ]; then
		"${PSQL[@]}" -c "ALTER DATABASE bench SET allocation.outbox_mode = 'wal'" > /dev/null
		"${PSQL[@]}" -c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots" > /dev/null
	fi
	"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --consumer "${1:-relay}" --batch-size 100 \
		--from-now --source "$source" --slot relay_bench >> "$WORK/relay.log" 2>&1 &
	RELAY_PID=$!
	for _ in $(seq 1 50); do
		if [ "$(redis-cli -p "$REDIS_PORT" PUBSUB NUMSUB change_batch_quantity | tail -n 1)" = 1 ] &&
			{ [ "$source" = outbox ] || [ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_replication")" = 1 ]; }; then
			return 0
		fi
		sleep 0.1
	done
	echo "relay did not start" >&2; tail "$WORK/relay.log" >&2; return 1
}
stop_wal_relay() {
	stop_pid "$RELAY_PID"; RELAY_PID=
	"${PSQL[@]}" -c "ALTER DATABASE bench RESET allocation.outbox_mode" > /dev/null
	"${PSQL[@]}" -c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots" > /dev/null
}
# pNN FILE: the NN-th percentile of the numbers in FILE
# (nothing when FILE is empty: no figure, which misses its goal)
pct() { sort -n "$2" | awk -v p="$1" '{ v[NR] = $1 } END { if (NR) { i = int((NR - 1) * p / 100) + 1; printf "%.2f", v[i] } }'; }

log "E1/E2: latency probes, the relay reading the outbox, then the WAL"
"${PSQL[@]}" -c "SELECT count(allocation.add_batch('W-old-' || i, 'W-' || i, 10, DATE '2011-01-01')),
                        count(allocation.add_batch('W-new-' || i, 'W-' || i, 10, DATE '2011-01-02')),
                        count(allocation.allocate('W-o-' || i, 'W-' || i, 10))
                   FROM generate_series(0, $PROBES - 1) i" > /dev/null
"${PSQL[@]}" -c "SELECT allocation.add_batch('W-SKU-b', 'W-SKU', 100000000)" > /dev/null
# Latency with synchronous_commit = on, the default: with off, a commit's
# WAL waits for the WAL writer (wal_writer_delay, 200 ms) before a
# walsender may send it, and the WAL relay's latency would be that delay.
"${PSQL[@]}" -c "ALTER DATABASE bench SET synchronous_commit = on" > /dev/null
start_relay relay outbox
"$PROBE" roundtrip "dbname=bench" "$REDIS_PORT" E "$PROBES" > "$WORK/roundtrip.txt"
"$PROBE" commit "dbname=bench" "$REDIS_PORT" E "$PROBES" > "$WORK/commit.txt"
stop_pid "$RELAY_PID"; RELAY_PID=
start_relay relay wal
"$PROBE" roundtrip "dbname=bench" "$REDIS_PORT" W "$PROBES" > "$WORK/roundtrip-wal.txt"
"$PROBE" commit "dbname=bench" "$REDIS_PORT" W "$PROBES" > "$WORK/commit-wal.txt"
stop_wal_relay
"${PSQL[@]}" -c "ALTER DATABASE bench RESET synchronous_commit" > /dev/null
RT50=$(pct 50 "$WORK/roundtrip.txt"); RT99=$(pct 99 "$WORK/roundtrip.txt")
CM50=$(pct 50 "$WORK/commit.txt"); CM99=$(pct 99 "$WORK/commit.txt")
WRT50=$(pct 50 "$WORK/roundtrip-wal.txt"); WRT99=$(pct 99 "$WORK/roundtrip-wal.txt")
WCM50=$(pct 50 "$WORK/commit-wal.txt"); WCM99=$(pct 99 "$WORK/commit-wal.txt")

# busy: the machine's busy CPU time so far, in clock ticks (/proc/stat:
# user, nice, system, irq, softirq; not steal, the hypervisor's other guests)
busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
# pgbench's application_name (PGAPPNAME), by which its backend is found:
# not "pgbench", which a PGAPPNAME in the environment would override, or
# another pgbench on the machine might use
APPNAME=events-bench-$$

# shellcheck source=bench/placement.sh
. "$BENCH/placement.sh"
if [ -z "${CPU_B:-}" ] || ! command -v taskset > /dev/null; then
	[ "$PLACEMENTS" = kernel ] || log "fewer than two online CPUs allowed, or no taskset: 1 client runs in the kernel's placement only"
	PLACEMENTS=kernel
fi

# figures OUTPUT STATUS BUSY0 BUSY1: pgbench's OUTPUT and exit STATUS, the
# busy ticks before and after -> "tps cpu_us_per_allocate"; fails, saying
# why, when the run did not complete (pgbench failed, a transaction failed,
# none ran): such a run is no figure, and its tps must not reach a verdict
figures() {
	local tps xacts failed
	tps=$(awk '/^tps = / { print $3; exit }' <<< "$1")
	xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<< "$1")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<< "$1")
	if [ "$2" != 0 ] || [[ ! $tps =~ ^[0-9]+(\.[0-9]+)?$ ]] || [[ ! $xacts =~ ^[0-9]+$ ]] ||
		[ "$xacts" -eq 0 ] || [ "${failed:-0}" != 0 ]; then
		echo "pgbench: status $2, tps '$tps', transactions '$xacts', failed '${failed:-}'" >&2
		return 1
	fi
	echo "$tps $(( ($4 - $3) * TICK_US / xacts ))"
}

# one pgbench run: COMPARATOR CLIENTS [PLACEMENT] -> "tps cpu_us_per_allocate
# kept_up" (kept_up: t, or f when the relay had not caught up 5 s after the
# run).  PLACEMENT (1 client): kernel (the default), or pgbench on CPU_A and
# its backend pinned on CPU_A (together) or CPU_B (apart); its first
# transactions, before the backend is pinned, run where the kernel put it.
run() {
	local comp=$1 c=$2 placement=${3:-kernel} script j=1 out st=0 b0 b1 figs kept_up=t pin=() pb since=
	[ "$c" -gt 1 ] && j=2
	case $comp in
		ext_alone|ext_relay|ext_wal) script=$BENCH/pgbench/ext.sql ;;
		peer_consumer) script=$BENCH/pgbench/peer.sql ;;
	esac
	case $comp in
		ext_relay) start_relay relay outbox ;;
		ext_wal) start_relay relay wal ;;
		peer_consumer) "$PROBE" peer-consumer "dbname=bench" "$REDIS_PORT" 2>> "$WORK/peer.log" & PEER_PID=$! ; sleep 0.3 ;;
	esac
	if [ "$placement" != kernel ]; then
		pin=(taskset -c "$CPU_A")
		since=$("${PSQL[@]}" -c "SELECT clock_timestamp()")
	fi
	b0=$(busy)
	PGAPPNAME=$APPNAME "${pin[@]}" "$PGBIN/pgbench" -n -M prepared -c "$c" -j "$j" -T "$SECS" -f "$script" \
		-D prefix=C -D lo=1 -D hi="$SKUS" > "$WORK/pgbench.out" 2> "$WORK/pgbench.err" &
	pb=$!
	case $placement in
		together) pin_backend "$CPU_A" "$since" || st=3 ;;
		apart) pin_backend "$CPU_B" "$since" || st=3 ;;
	esac
	wait "$pb" || st=$?
	out=$(cat "$WORK/pgbench.out")
	case $comp in
		ext_relay)
			# keeping up: every event published within 5 s of the run's end
			for _ in $(seq 1 50); do
				[ "$("${PSQL[@]}" -c "SELECT count(*) FROM allocation.read_events('relay', 1)")" = 0 ] && break
				sleep 0.1
			done
			kept_up=$("${PSQL[@]}" -c "SELECT count(*) = 0 FROM allocation.read_events('relay', 1)")
			b1=$(busy)
			stop_pid "$RELAY_PID"; RELAY_PID= ;;
		ext_wal)
			# keeping up: the slot confirmed the run's WAL within 5 s of its end
			local end_lsn
			end_lsn=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
			for _ in $(seq 1 50); do
				[ "$("${PSQL[@]}" -c "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots")" = t ] && break
				sleep 0.1
			done
			kept_up=$("${PSQL[@]}" -c "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots")
			b1=$(busy)
			stop_wal_relay ;;
		peer_consumer) b1=$(busy); stop_pid "$PEER_PID"; PEER_PID= ;;
		*) b1=$(busy) ;;
	esac
	figs=$(figures "$out" "$st" "$b0" "$b1") || { tail -n 20 "$WORK/pgbench.err" >&2; return 1; }
	echo "$figs $kept_up"
}

: > "$WORK/runs.tsv"
KEPT=yes
for round in $(seq 1 "$ROUNDS"); do
	for c in $CLIENTS; do
		places=kernel
		[ "$c" = 1 ] && places=$PLACEMENTS
		for pl in $places; do
			# the four back to back, the order turning from round to round
			order=(ext_wal ext_alone ext_relay peer_consumer)
			[ $((round % 2)) -eq 0 ] && order=(peer_consumer ext_relay ext_alone ext_wal)
			for comp in "${order[@]}"; do
				# (run's relay or consumer is stopped before it returns, failed or not)
				res=$(run "$comp" "$c" "$pl") || die "round $round, $c clients ($pl), $comp: the pgbench run failed (above)"
				read -r tps cpu kept_up <<< "$res"
				[ "$kept_up" = t ] || KEPT=no
				printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$c" "$pl" "$comp" "$tps" "$cpu" >> "$WORK/runs.tsv"
				log "round $round, $c clients ($pl), $comp: $tps tps, $cpu us of CPU per allocate"
			done
		done
	done
done

# drain_until QUERY: wait until QUERY says t; a relay that has not drained
# the backlog at 5,000 events/s (at least 60 s) stops the benchmark
drain_until() {
	local limit=$(( BACKLOG / 5000 > 60 ? BACKLOG / 5000 : 60 )) t=$SECONDS
	until [ "$("${PSQL[@]}" -c "$1")" = t ]; do
		if [ $(( SECONDS - t )) -ge "$limit" ]; then
			tail -n 20 "$WORK/relay-backlog.log" >&2
			die "E4: the relay did not drain the backlog in $limit s (its log above)"
		fi
		sleep 0.2
	done
}
log "E4: backlog of $BACKLOG events"
"${PSQL[@]}" -c "SELECT allocation.register_consumer('backlog', false)" > /dev/null
"${PSQL[@]}" -c "SELECT count(allocation.add_batch('bl-' || i, 'BL-' || (i % 100000), 10))
                   FROM generate_series(1, $BACKLOG) i" > /dev/null
t_start=$(date +%s.%N)
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --consumer backlog --batch-size 1000 --no-inbound \
	>> "$WORK/relay-backlog.log" 2>&1 &
RELAY_PID=$!
drain_until "SELECT count(*) = 0 FROM allocation.read_events('backlog', 1)"
t_end=$(date +%s.%N)
stop_pid "$RELAY_PID"; RELAY_PID=
BL_RATE=$(awk -v a="$t_start" -v b="$t_end" -v n="$BACKLOG" 'BEGIN { printf "%.0f", n / (b - a) }')
# the same backlog from the WAL: a slot made before it, read by --source wal
"${PSQL[@]}" -c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots" > /dev/null
"${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('relay_backlog', 'pgoutput')" > /dev/null
PGOPTIONS="-c allocation.outbox_mode=wal" "${PSQL[@]}" -c "SELECT count(allocation.add_batch('wl-' || i, 'WL-' || (i % 100000), 10))
                   FROM generate_series(1, $BACKLOG) i" > /dev/null
end_lsn=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
t_start=$(date +%s.%N)
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --source wal --slot relay_backlog --batch-size 1000 --no-inbound \
	>> "$WORK/relay-backlog.log" 2>&1 &
RELAY_PID=$!
drain_until "SELECT confirmed_flush_lsn >= '$end_lsn' FROM pg_replication_slots WHERE slot_name = 'relay_backlog'"
t_end=$(date +%s.%N)
stop_pid "$RELAY_PID"; RELAY_PID=
WBL_RATE=$(awk -v a="$t_start" -v b="$t_end" -v n="$BACKLOG" 'BEGIN { printf "%.0f", n / (b - a) }')
"${PSQL[@]}" -c "SELECT pg_drop_replication_slot('relay_backlog')" > /dev/null

# ratios: per round, then the median; runs.tsv: round, clients, placement,
# comparator, tps, CPU per allocate
ratio() { # CLIENTS PLACEMENT A B [COLUMN] -> median over rounds of tps(A)/tps(B) (or of COLUMN)
	awk -F'\t' -v c="$1" -v p="$2" -v a="$3" -v b="$4" -v k="${5:-5}" '$2 == c && $3 == p && $4 == a { x[$1] = $k }
		$2 == c && $3 == p && $4 == b { y[$1] = $k }
		END { n = 0; for (r in x) if (y[r] > 0) v[++n] = x[r] / y[r];
		      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		      printf "%.2f", n ? v[int((n + 1) / 2)] : 0 }' "$WORK/runs.tsv"
}
med() { # CLIENTS PLACEMENT COMP [COLUMN] -> median tps (or of COLUMN)
	awk -F'\t' -v c="$1" -v p="$2" -v a="$3" -v k="${4:-5}" '$2 == c && $3 == p && $4 == a { print $k }' "$WORK/runs.tsv" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.0f", v[int((NR + 1) / 2)] }'
}
# verdict MEASURED OP TARGET: PASS or MISS; a measure that is not a number
# (nothing measured) misses
verdict() {
	awk -v x="$1" -v op="$2" -v y="$3" 'BEGIN {
		ok = x ~ /^[0-9]+(\.[0-9]*)?$/ && ((op == "<=") ? x + 0 <= y + 0 : x + 0 >= y + 0)
		print ok ? "PASS" : "MISS" }'
}

{
	echo "# Events benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, commit $(git -C "$ROOT" rev-parse --short HEAD), $("$PG_CONFIG" --version))"
	echo
	echo "Relay in pub/sub mode. ext_wal: the relay reads a logical replication slot (--source wal) and"
	echo "allocation.outbox_mode = wal (the production setting); ext_relay: the relay reads the outbox"
	echo "(consumer API, LISTEN/NOTIFY); ext_alone: table mode, nobody listening; peer_consumer: the"
	echo "PL/pgSQL peer with its own consumer (LISTEN, read, PUBLISH). Throughput: synchronous_commit=off,"
	echo "$ROUNDS rounds of ${SECS} s per comparator, back to back; medians of per-round ratios. Latency"
	echo "(E1, E2): synchronous_commit=on, the default (with off, a walsender sends a commit only once"
	echo "the WAL writer flushed it: up to wal_writer_delay, 200 ms). Verdicts use throughput; \"by CPU per"
	echo "allocate\" is the same comparison by the machine's busy CPU time per allocate (all processes:"
	echo "backends, pgbench, walsender, relay or consumer, Redis), which at 1 client, where the cores"
	echo "are not saturated, says more about cost than throughput does. At 1 client each comparator"
	echo "also runs with pgbench and its backend pinned (taskset) to one CPU and to two CPUs: where the"
	echo "kernel places them decides most of a client's throughput on this machine, and it places them"
	echo "by what the other processes do (bench/README.md, \"Events\")."
	echo
	echo "| goal | measured | target | verdict |"
	echo "| --- | --- | --- | --- |"
	echo "| E1 book round trip p50, WAL (outbox: ${RT50} ms) | ${WRT50} ms | <= 5 ms | $(verdict "$WRT50" "<=" 5) |"
	echo "| E1 book round trip p99, WAL (outbox: ${RT99} ms) | ${WRT99} ms | <= 20 ms | $(verdict "$WRT99" "<=" 20) |"
	echo "| E2 commit -> subscriber p50, WAL (p99 ${WCM99} ms; outbox: p50 ${CM50}, p99 ${CM99} ms) | ${WCM50} ms | <= 2 ms | $(verdict "$WCM50" "<=" 2) |"
	for c in $CLIENTS; do
		places=kernel
		[ "$c" = 1 ] && places=$PLACEMENTS
		for pl in $places; do
			case $pl in
				kernel) where="" ;;
				together) where=", client and backend pinned to one CPU" ;;
				apart) where=", client and backend pinned to two CPUs" ;;
			esac
			r1=$(ratio "$c" "$pl" ext_wal ext_alone); r2=$(ratio "$c" "$pl" ext_wal peer_consumer)
			o1=$(ratio "$c" "$pl" ext_relay ext_alone); o2=$(ratio "$c" "$pl" ext_relay peer_consumer)
			# CPU per allocate, as a throughput ratio: cost(B) / cost(A)
			p1=$(ratio "$c" "$pl" ext_alone ext_wal 6); p2=$(ratio "$c" "$pl" peer_consumer ext_wal 6)
			echo "| E3 allocate, $c clients$where, WAL relay / nobody listening ($(med "$c" "$pl" ext_wal) / $(med "$c" "$pl" ext_alone) tps; outbox relay ${o1}x; by CPU per allocate ${p1}x: $(med "$c" "$pl" ext_wal 6) / $(med "$c" "$pl" ext_alone 6) us) | ${r1}x | >= 0.9x | $(verdict "$r1" ">=" 0.9) |"
			echo "| E3 allocate, $c clients$where, WAL relay / peer with its consumer ($(med "$c" "$pl" ext_wal) / $(med "$c" "$pl" peer_consumer) tps; outbox relay ${o2}x; by CPU per allocate ${p2}x: $(med "$c" "$pl" ext_wal 6) / $(med "$c" "$pl" peer_consumer 6) us) | ${r2}x | >= 1.3x | $(verdict "$r2" ">=" 1.3) |"
		done
	done
	echo "| E3 the relays kept up in every run | $KEPT | yes | $([ "$KEPT" = yes ] && echo PASS || echo MISS) |"
	echo "| E4 backlog of $BACKLOG events -> Redis, WAL (outbox: ${BL_RATE}/s) | ${WBL_RATE} events/s | >= 50000/s | $(verdict "$WBL_RATE" ">=" 50000) |"
	echo
	echo "Runs (round, clients, placement, comparator, tps, microseconds of the machine's CPU per allocate):"
	echo
	echo '```'
	cat "$WORK/runs.tsv"
	echo '```'
} > "$OUT"
cat "$OUT"
