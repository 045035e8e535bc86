#!/usr/bin/env bash
# bench/router/run.sh - figures of the PL/Proxy router (router/).
#
# Standalone: starts its own throwaway cluster (scripts/cluster.sh), with
# the allocation and allocation_router extensions as installed for
# PG_CONFIG ("make install" first), runs pgbench, writes
# bench/router/results.md, and stops the cluster.
#
#   1. the cost of the router per call: one client, the same command
#      straight on a node and through a router of 4 nodes;
#   2. throughput of N clients: one node directly, a router in front of
#      the same single node (16 partitions on it), a router of 4 nodes;
#   3. one allocate_many of 10,000 lines (64 SKUs) on one node and through
#      a router of 4 nodes (psql's \timing of the call).
#
# Every figure is given with synchronous_commit = off on the nodes (what
# the router itself costs: no WAL flush hides it) and, for allocate, with
# = on (the durable default: each call commits, and so waits for a WAL
# flush, on its node).  On a machine with few cores all the databases
# share them: see the README for what this means for N machines.
#
# Each figure is the median of BENCH_ROUNDS runs, interleaved (the
# comparators of one table take turns), since disk flushes vary a lot.
#
# Environment: BENCH_SECONDS [5] per pgbench run, BENCH_ROUNDS [3], BENCH_CLIENTS [8] for
# the throughput runs, ALLOC_CLUSTER_DIR [/tmp/router-bench-cluster],
# ALLOC_PGPORT [5534], PG_CONFIG, BENCH_KEEP [0] (1: leave the cluster).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=../../scripts/common.sh
. "$HERE/../../scripts/common.sh"

SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CLIENTS=${BENCH_CLIENTS:-8}
export ALLOC_CLUSTER_DIR=${ALLOC_CLUSTER_DIR:-/tmp/router-bench-cluster}
export ALLOC_PGPORT=${ALLOC_PGPORT:-5534}
OUT=$HERE/results.md
# another major than 15 reports beside 15's (make bench BENCH_MAJOR=18)
major=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
[ -z "$major" ] || [ "$major" = 15 ] || OUT=$HERE/results-pg$major.md
T0=$(date +%s)
log() { printf '[router bench %4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

PG_BINDIR=$(pg_bindir) || die "PostgreSQL server binaries not found (PG_CONFIG=$PG_CONFIG)"
export PG_BINDIR
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)
q() { local db=$1; shift; "${PSQL[@]}" -d "$db" "$@"; }

bash "$ROOT/scripts/cluster.sh" start --fresh >/dev/null
stop_cluster() { [ "${BENCH_KEEP:-0}" = 1 ] || bash "$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 || true; }
trap stop_cluster EXIT
eval "$(bash "$ROOT/scripts/cluster.sh" env)"
[ "$(q postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name IN ('allocation', 'allocation_router', 'plproxy')")" = 3 ] ||
	die "allocation, allocation_router and plproxy must be installed (make deps && make install)"
log "cluster on port $PGPORT; $(nproc) cores; $("$PG_CONFIG" --version)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

conn() { printf 'host=%s port=%s dbname=%s' "$PGHOST" "$PGPORT" "$1"; }
NODES=(rb_single rb_n1 rb_n2 rb_n3 rb_n4)
for db in "${NODES[@]}" rb_router1 rb_router4; do
	q postgres -c "CREATE DATABASE $db"
done
for db in "${NODES[@]}"; do
	q "$db" -c 'CREATE EXTENSION allocation'
done
for r in rb_router1 rb_router4; do
	q "$r" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE'
done
q rb_router1 -c "SELECT allocation.define_cluster(ARRAY['$(conn rb_single)'])" >/dev/null
q rb_router4 -c "SELECT allocation.define_cluster(ARRAY['$(conn rb_n1)', '$(conn rb_n2)', '$(conn rb_n3)', '$(conn rb_n4)'])" >/dev/null
q rb_router1 -f "$HERE/setup.sql" >/dev/null		# on rb_single
q rb_router4 -f "$HERE/setup.sql" >/dev/null

# set_sync on|off: synchronous_commit of the node databases (new sessions)
set_sync() {
	local db
	for db in "${NODES[@]}"; do
		q postgres -c "ALTER DATABASE $db SET synchronous_commit = $1"
	done
}

RUN=0
declare -A R
# bench KEY DB CLIENTS SCRIPT: R[KEY] = "tps latency_ms" of a pgbench run.
# Each run has its own order ids (run number RUN), so that no allocate is
# a repeat (which would be an idempotent no-op).
bench() {
	local key=$1 out
	shift
	RUN=$((RUN + 1))
	out=$(cd "$HERE/pgbench" && "$PG_BINDIR/pgbench" -n -c "$2" -j "$(( $2 < 2 ? 1 : 2 ))" -T "$SECS" \
		-D n=0 -D run="$RUN" -D src="${SRC:-1}" -f "$3" "$1" 2>&1) || { printf '%s\n' "$out" >&2; die "pgbench failed on $1"; }
	grep -q '^number of failed transactions: 0 ' <<< "$out" || { printf '%s\n' "$out" >&2; die "pgbench saw errors on $1"; }
	R[$key]="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<< "$out") $(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<< "$out")"
}
# many KEY DB: R[KEY] = "lines/s ms" of one allocate_many of MANY_LINES
# new lines over the 64 SKUs, timed by psql
MANY_LINES=10000
many() {
	local ms
	RUN=$((RUN + 1))
	ms=$("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$2" -c '\timing on' -c "SELECT count(*) FROM allocation.allocate_many(ARRAY(
			SELECT ROW('mb-$RUN-' || g, 'BS-' || (1 + g % 64), 1)::allocation.order_line
			  FROM generate_series(1, $MANY_LINES) g))" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
	[ -n "$ms" ] || die "allocate_many of $MANY_LINES lines failed on $2"
	R[$1]="$(awk -v n="$MANY_LINES" -v ms="$ms" 'BEGIN { printf "%.0f", n / ms * 1000 }') $ms"
}
fmt() { awk -v t="$1" -v l="$2" 'BEGIN { printf "%.0f tps, %.3f ms", t, l }'; }
# median KEY: the run of median latency among KEY.1 .. KEY.ROUNDS
median() {
	local i
	for i in $(seq 1 "$ROUNDS"); do printf '%s\n' "${R[$1.$i]}"; done |
		sort -k2,2g | sed -n "$(( (ROUNDS + 1) / 2 ))p"
}
us() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.0f", (b - a) * 1000 }'; }

for i in $(seq 1 "$ROUNDS"); do
	log "round $i/$ROUNDS: latency, 1 client, synchronous_commit = off"
	set_sync off
	bench a_direct_off.$i rb_single 1 allocate.sql
	SRC_D=$RUN
	bench a_router_off.$i rb_router4 1 allocate.sql
	SRC_R=$RUN
	# the orders of the two runs above
	SRC=$SRC_D bench r_direct.$i rb_single 1 allocations.sql
	SRC=$SRC_R bench r_router.$i rb_router4 1 allocations.sql
	bench c_direct.$i rb_single 1 change_quantity.sql
	bench c_router.$i rb_router4 1 change_quantity.sql
	log "round $i/$ROUNDS: allocate_many of $MANY_LINES lines, synchronous_commit = off"
	many m_direct.$i rb_single
	many m_router.$i rb_router4
	log "round $i/$ROUNDS: latency, 1 client, synchronous_commit = on"
	set_sync on
	bench a_direct_on.$i rb_single 1 allocate.sql
	bench a_router_on.$i rb_router4 1 allocate.sql
	for mode in off on; do
		log "round $i/$ROUNDS: throughput, $CLIENTS clients, synchronous_commit = $mode"
		set_sync "$mode"
		bench t_direct_$mode.$i rb_single "$CLIENTS" allocate.sql
		bench t_router1_$mode.$i rb_router1 "$CLIENTS" allocate.sql
		bench t_router4_$mode.$i rb_router4 "$CLIENTS" allocate.sql
	done
done
for k in a_direct_off a_router_off r_direct r_router c_direct c_router m_direct m_router a_direct_on a_router_on \
		t_direct_off t_router1_off t_router4_off t_direct_on t_router1_on t_router4_on; do
	R[$k]=$(median "$k")
done
spread=$(for db in rb_n1 rb_n2 rb_n3 rb_n4; do q "$db" -c "SELECT count(*) FROM allocation.order_lines"; done | paste -sd/)

row() { local k=$1; fmt ${R[$k]}; }
{
	echo "# Router figures"
	echo
	echo "Measured by \`bench/router/run.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)),"
	echo "$("$PG_CONFIG" --version), PL/Proxy $(q rb_router4 -c "SELECT extversion FROM pg_extension WHERE extname = 'plproxy'"),"
	echo "one throwaway cluster: all node databases and the routers share the machine's cores and disk."
	echo "Load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "(anything above 0 is other work on the machine, which the figures include)."
	echo "Each figure: the median of $ROUNDS interleaved pgbench runs of ${SECS}s; latency is pgbench's average"
	echo "per call, client round trip included."
	echo
	echo "## Cost of the router per call (1 client)"
	echo
	echo "| call | synchronous_commit | direct on a node | through a router of 4 nodes | router's cost per call |"
	echo "| --- | --- | --- | --- | --- |"
	echo "| \`allocate\` | off | $(row a_direct_off) | $(row a_router_off) | $(us "${R[a_direct_off]#* }" "${R[a_router_off]#* }") µs |"
	echo "| \`allocate\` | on | $(row a_direct_on) | $(row a_router_on) | $(us "${R[a_direct_on]#* }" "${R[a_router_on]#* }") µs |"
	echo "| \`allocations(orderid)\` (router: all 4 nodes) | - | $(row r_direct) | $(row r_router) | $(us "${R[r_direct]#* }" "${R[r_router]#* }") µs |"
	echo "| \`change_batch_quantity\` (router: all 4 nodes) | off | $(row c_direct) | $(row c_router) | $(us "${R[c_direct]#* }" "${R[c_router]#* }") µs |"
	echo
	echo "## allocate_many of $MANY_LINES lines over 64 SKUs (synchronous_commit = off)"
	echo
	echo "| set-up | one call | lines per second |"
	echo "| --- | --- | --- |"
	echo "| one node, direct | ${R[m_direct]#* } ms | ${R[m_direct]%% *} |"
	echo "| router of 4 nodes | ${R[m_router]#* } ms | ${R[m_router]%% *} |"
	echo
	echo "## Throughput of allocate, $CLIENTS clients, 64 SKUs"
	echo
	echo "| set-up | synchronous_commit = off | synchronous_commit = on |"
	echo "| --- | --- | --- |"
	echo "| one node, direct | $(row t_direct_off) | $(row t_direct_on) |"
	echo "| router, 16 partitions on that one node | $(row t_router1_off) | $(row t_router1_on) |"
	echo "| router, 16 partitions on 4 nodes | $(row t_router4_off) | $(row t_router4_on) |"
	echo
	echo "Lines allocated per node of the 4-node cluster over all runs: $spread (with only 64 SKUs, a node's share follows its number of SKUs)."
} > "$OUT"
cat "$OUT"
log "wrote $OUT"
