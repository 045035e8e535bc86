#!/usr/bin/env bash
# bench/run.sh - "make bench" and "make bench-large" (see bench/README.md).
#
# Builds the extension from a snapshot of the work tree, installs it into a
# private copy of the PostgreSQL 15 installation (make install DESTDIR=...;
# the system's installation is not touched), starts a throwaway cluster
# with the settings below, loads the data sets, runs every scenario with
# every comparator under pgbench in interleaved rounds, and writes
# bench/results/<name>.md with the figures, the targets T1-T5 with PASS or
# MISS, and PNG plots.  The cluster is stopped and removed at the end.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [5]          rounds; every comparator runs once per round
#   BENCH_SECONDS [4]         seconds of one throughput run
#   BENCH_LAT_SECONDS [3]     seconds of one latency-by-depth run
#   BENCH_CLIENTS ["1 8"]     client counts
#   BENCH_DEPTHS ["0 1000 10000 100000"]  past allocations of the history SKUs
#   BENCH_COLD_SKUS [1000]    SKUs of the cold data set (10 batches each)
#   BENCH_LARGE [0]           1: also the 1,000,000-SKU data set (make bench-large)
#   BENCH_LARGE_SKUS [1000000]
#   BENCH_BULK_LINES [10000]  lines of one allocate_many call (T5)
#   BENCH_SHARED_BUFFERS [1GB]
#   BENCH_SYNC_ON [1]         1: one round with synchronous_commit = on
#   BENCH_QUIET [15]          a round is "quiet" when other processes used at
#                             most this % of the machine's CPU during both runs
#   ALLOC_CLUSTER_DIR [/tmp/bench-cluster], ALLOC_PGPORT [5533]
#   BENCH_KEEP [0]            1: leave the cluster running at the end
#   BENCH_FLAT_BATCHES [1000] batches with stock of the wide SKU (T6)
#   BENCH_FLAT_LINES ["5000 50000"]  allocate_many sizes on one SKU (T7)
#   BENCH_FLAT_CALLS [2]      allocate_many calls of each size per round (T7)
#   BENCH_ONLY [all]          a subset of the runs, words among: flat (T6,
#                             T7), cold (T1, T2 and the other cold
#                             comparators), hot (T4), depth (T3 latency),
#                             bulk (T5; needs cold); e.g. BENCH_ONLY=flat
#                             for the flat-cost cases alone (about 2 min)
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=../scripts/common.sh
. "$BENCH/../scripts/common.sh"

ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECONDS:-4}
LAT_SECS=${BENCH_LAT_SECONDS:-3}
CLIENTS=${BENCH_CLIENTS:-"1 8"}
DEPTHS=${BENCH_DEPTHS:-"0 1000 10000 100000"}
COLD_SKUS=${BENCH_COLD_SKUS:-1000}
LARGE=${BENCH_LARGE:-0}
LARGE_SKUS=${BENCH_LARGE_SKUS:-1000000}
BULK_LINES=${BENCH_BULK_LINES:-10000}
BULK_CALLS=${BENCH_BULK_CALLS:-3}
SHARED_BUFFERS=${BENCH_SHARED_BUFFERS:-}
SYNC_ON=${BENCH_SYNC_ON:-1}
HUGE_PAGES=${BENCH_HUGE_PAGES:-}
export ALLOC_CLUSTER_DIR=${ALLOC_CLUSTER_DIR:-/tmp/bench-cluster}
export ALLOC_PGPORT=${ALLOC_PGPORT:-5533}
FLAT_BATCHES=${BENCH_FLAT_BATCHES:-1000}
FLAT_LINES=${BENCH_FLAT_LINES:-"5000 50000"}
FLAT_CALLS=${BENCH_FLAT_CALLS:-2}
ONLY=${BENCH_ONLY:-}
NAME=latest
# a+b: a pair that a target compares, run back to back (in alternating
# order) so that both see the same state of a shared machine
COLD_COMPS=(ext+peer ext_notify+floor_notify ext_nonotify floor select1)
HOT_COMPS=(ext+peer ext_notify+floor_notify)
LAT_COMPS=(ext peer)
BULK=1
FLAT=1
if [ -n "$ONLY" ]; then
	# only: is WORD among BENCH_ONLY's words?
	only() { [[ " $ONLY " == *" $1 "* ]]; }
	only cold || COLD_COMPS=()
	only hot || HOT_COMPS=()
	only depth || { LAT_COMPS=(); DEPTHS=""; }
	only bulk || BULK=0
	only flat || FLAT=0
	SYNC_ON=${BENCH_SYNC_ON:-0}
	NAME=only
fi
if [ "$LARGE" = 1 ]; then
	# make bench-large measures what make bench cannot: allocate on the
	# large set against the cold set, in the same rounds.  The other
	# comparisons stay with make bench, whose cold data then has the
	# buffer cache to itself.
	NAME=large
	COLD_COMPS=(ext)
	HOT_COMPS=()
	LAT_COMPS=()
	DEPTHS=${BENCH_DEPTHS:-}
	BULK=0
	FLAT=0
	SYNC_ON=${BENCH_SYNC_ON:-0}
fi
# Another major than 15 (make bench BENCH_MAJOR=18, or PG_CONFIG of a
# server of scripts/build-postgres.sh) reports beside 15's, not over it:
# bench/results/latest-pg18.md.
PG_MAJOR_NUM=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
[ -z "$PG_MAJOR_NUM" ] || [ "$PG_MAJOR_NUM" = 15 ] || NAME=$NAME-pg$PG_MAJOR_NUM
SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
HUGE_PAGES=${HUGE_PAGES:-0}
if [ "$HUGE_PAGES" = auto ]; then
	HUGE_PAGES=0
	[ -w /proc/sys/vm/nr_hugepages ] && HUGE_PAGES=1
fi
DEEPEST=${DEPTHS##* }
DEEPEST=${DEEPEST:-100000}   # only names the T3 row when no depth runs

WORK=$BENCH/tmp                     # git-ignored scratch space
OUT=$BENCH/results
PRIV=${ALLOC_CLUSTER_DIR%/}-pg      # private PostgreSQL installation
SYS_PG_CONFIG=$PG_CONFIG
DB=bench
T0=$(date +%s)

log() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

# ---------------------------------------------------------------------------
# tools
# ---------------------------------------------------------------------------
command -v pgbench >/dev/null || [ -x "$("$SYS_PG_CONFIG" --bindir)/pgbench" ] ||
	die "pgbench not found (Debian: postgresql-client-15)"
if ! command -v gnuplot >/dev/null; then
	log "installing gnuplot-nox for the plots"
	if [ "$(id -u)" -eq 0 ]; then
		{ apt-get install -y -q gnuplot-nox || { apt-get update -q && apt-get install -y -q gnuplot-nox; }; } >/dev/null 2>&1 ||
			log "warning: could not install gnuplot-nox; no plots"
	else
		sudo apt-get install -y -q gnuplot-nox >/dev/null 2>&1 ||
			log "warning: could not install gnuplot-nox; no plots"
	fi
fi

rm -rf "$WORK"
mkdir -p "$WORK/raw" "$OUT"

HUGE_BEFORE=""
cleanup() {
	local rc=$?
	if [ "${BENCH_KEEP:-0}" != 1 ]; then
		PG_CONFIG=$PRIV_PG_CONFIG bash "$ROOT/scripts/cluster.sh" stop >/dev/null 2>&1 || true
		rm -rf "$PRIV"
		# give back the huge pages reserved for the cluster
		[ -z "$HUGE_BEFORE" ] || echo "$HUGE_BEFORE" > /proc/sys/vm/nr_hugepages || true
	elif [ -n "$HUGE_BEFORE" ]; then
		log "the kept cluster holds huge pages: after stopping it, give them back with" \
			"echo $HUGE_BEFORE > /proc/sys/vm/nr_hugepages"
	fi
	exit $rc
}

# ---------------------------------------------------------------------------
# build and install into a private copy of the installation
# ---------------------------------------------------------------------------
# A snapshot of the tree, so that edits made while the benchmark runs do
# not change what it measures, and a private installation, so that the
# benchmark neither changes the system's extension nor is changed by
# another "make install" while it runs.  PostgreSQL finds its libdir and
# sharedir relative to its binaries, so a copied tree works as it is.
log "build: snapshot of the work tree, make, make install DESTDIR=$PRIV"
SNAP=$WORK/src
mkdir -p "$SNAP"
# (tests are not needed to build; exit status 1 is "a file changed as we
# read it", e.g. a test corpus another session is writing)
tar -C "$ROOT" --exclude=./.git --exclude=./bench --exclude=./tmp_cluster \
	--exclude=./build --exclude='./tmp_cluster_*' \
	--exclude=./test --exclude=./results --exclude=./output_iso --exclude=./log \
	--exclude='./tmp_check*' --exclude='*.o' --exclude='*.bc' --exclude='*.so' \
	--exclude='.build-flags' --exclude='.*-flags' --warning=no-file-changed \
	-cf "$WORK/src.tar" . || [ $? -eq 1 ] || die "could not copy the work tree"
tar -C "$SNAP" -xf "$WORK/src.tar"
SYS_BINDIR=$("$SYS_PG_CONFIG" --bindir)
SYS_PKGLIB=$("$SYS_PG_CONFIG" --pkglibdir)
SYS_SHARE=$("$SYS_PG_CONFIG" --sharedir)
BASE=$(cd "$SYS_BINDIR/.." && pwd -P)  # e.g. /usr/lib/postgresql/15
rm -rf "$PRIV"
mkdir -p "$PRIV$(dirname "$BASE")"
cp -a "$BASE" "$PRIV$(dirname "$BASE")/"
# Debian's layout keeps the share directory apart (/usr/share/postgresql/15);
# a server of scripts/build-postgres.sh (build/pg/18-release/install) has
# everything under one prefix.
case $SYS_SHARE in
	"$BASE"/*) ;;
	*) mkdir -p "$PRIV$(dirname "$SYS_SHARE")"
	   cp -a "$SYS_SHARE" "$PRIV$(dirname "$SYS_SHARE")/" ;;
esac
case $SYS_PKGLIB in
	"$BASE"/lib|"$BASE"/lib/*) ;;
	*) die "unexpected layout: pkglibdir $SYS_PKGLIB is not under $BASE" ;;
esac
PRIV_PG_CONFIG=$PRIV$BASE/bin/pg_config
trap cleanup EXIT
# with_llvm=no: no JIT bitcode (the cluster runs with jit = off);
# WITH_RELAY=no: the Redis relay program is not part of the benchmark
"$MAKE" -s -C "$SNAP" -j"$(nproc)" PG_CONFIG="$SYS_PG_CONFIG" with_llvm=no WITH_RELAY=no all > "$WORK/build.log" 2>&1 ||
	{ cat "$WORK/build.log" >&2; die "build failed"; }
"$MAKE" -s -C "$SNAP" PG_CONFIG="$SYS_PG_CONFIG" with_llvm=no WITH_RELAY=no install DESTDIR="$PRIV" >> "$WORK/build.log" 2>&1 ||
	{ cat "$WORK/build.log" >&2; die "make install failed"; }
BUILD_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DIRTY=$(git -C "$ROOT" status --porcelain -- src Makefile 2>/dev/null | wc -l)

# ---------------------------------------------------------------------------
# cluster and settings
# ---------------------------------------------------------------------------
export PG_CONFIG=$PRIV_PG_CONFIG
PGBIN=$("$PG_CONFIG" --bindir)
bash "$ROOT/scripts/cluster.sh" start --fresh > "$WORK/cluster.log"
eval "$(bash "$ROOT/scripts/cluster.sh" env)"
export PGDATABASE=$DB
PGDATA_DIR=$ALLOC_PGDATA
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
PGBENCH=$PGBIN/pgbench
# pgbench's application_name, by which placement.sh finds its backend
APPNAME=bench-$$
# shellcheck source=bench/placement.sh
. "$BENCH/placement.sh"
# T3's latency by depth compares the cost of allocate on one SKU at two
# depths, so its runs keep pgbench and its backend on one CPU: left to the
# kernel, which CPUs they get (one or two, changing within a run) moves a
# client's latency by more than the depth does (bench/README.md)
DEPTH_PLACEMENT=kernel
[ -z "${CPU_B:-}" ] || DEPTH_PLACEMENT=together

# The settings of every run; synchronous_commit is also set per run.
SETTINGS=(
	"shared_buffers=$SHARED_BUFFERS"
	"synchronous_commit=off"
	"max_wal_size=16GB"
	"min_wal_size=2GB"
	"checkpoint_timeout=30min"
	"jit=off"
	"max_connections=50"
	# vacuum runs between the rounds (below), not in the middle of a
	# comparator's run on the tables another comparator filled
	"autovacuum=off"
)
for s in "${SETTINGS[@]}"; do
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'"
done
# BENCH_HUGE_PAGES=1: shared memory in 2 MB pages, as PostgreSQL's
# documentation advises for large shared_buffers (fewer TLB misses when
# every call touches pages all over a large buffer cache).  The kernel's
# pool (vm.nr_hugepages) is raised for the run and given back at the end.
if [ "$HUGE_PAGES" = 1 ]; then
	[ -w /proc/sys/vm/nr_hugepages ] || die "BENCH_HUGE_PAGES=1 needs a writable /proc/sys/vm/nr_hugepages (root)"
	SETTINGS+=("huge_pages=on")
	"${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET huge_pages = 'on'" >/dev/null
	# the size is computed by a stopped server from the settings above
	as_cluster_owner "$PGBIN/pg_ctl" -D "$ALLOC_PGDATA" -m fast -w stop >/dev/null
	need=$(as_cluster_owner "$PGBIN/postgres" -D "$ALLOC_PGDATA" -C shared_memory_size_in_huge_pages)
	[ "$need" -gt 0 ] 2>/dev/null || die "cannot compute the huge pages the cluster needs"
	HUGE_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
	echo $(( HUGE_BEFORE + need + 8 )) > /proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge $(( HUGE_BEFORE + need )) ] ||
		die "the kernel gave $(cat /proc/sys/vm/nr_hugepages) huge pages, $need more needed"
fi
bash "$ROOT/scripts/cluster.sh" restart >> "$WORK/cluster.log" 2>&1
log "cluster: $ALLOC_CLUSTER_DIR (port $ALLOC_PGPORT), settings: ${SETTINGS[*]}"

# ---------------------------------------------------------------------------
# database, comparators and data
# ---------------------------------------------------------------------------
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB"
"${PSQL[@]}" -c "CREATE EXTENSION allocation" \
	-f "$BENCH/sql/floor.sql" -f "$BENCH/peers/plpgsql_allocation.sql" \
	-f "$BENCH/sql/setup.sql"

# The floor reads the same partial index as allocate: its predicate, with
# the column references qualified for the floor's sub-select.
AVAILABLE=$("${PSQL[@]}" -At -c "
	SELECT pg_get_expr(i.indpred, i.indrelid)
	  FROM pg_index i
	 WHERE i.indexrelid = 'allocation.batches_available'::regclass")
[ -n "$AVAILABLE" ] || die "allocation.batches_available has no predicate"
AVAILABLE_Q=$(printf '%s' "$AVAILABLE" | sed -E 's/\b(has_stock|allocated_quantity|purchased_quantity)\b/a.\1/g')
KEY_TYPE=$("${PSQL[@]}" -At -c "
	SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	 WHERE attrelid = 'floor.product_state'::regclass AND attname = 'event_key'")
case $KEY_TYPE in
	xid8) XACT_ID="pg_current_xact_id()" ;;
	*) XACT_ID="pg_current_xact_id()::text::$KEY_TYPE" ;;
esac
sed -e "s/@AVAILABLE@/$AVAILABLE_Q/" -e "s/@XACT_ID@/$XACT_ID/" -e 's/@NOTIFY@//' \
	"$BENCH/pgbench/floor.sql.in" > "$WORK/floor.sql"
sed -e "s/@AVAILABLE@/$AVAILABLE_Q/" -e "s/@XACT_ID@/$XACT_ID/" \
	-e "s/@NOTIFY@/pg_notify('allocation_events', ''),/" \
	"$BENCH/pgbench/floor.sql.in" > "$WORK/floor_notify.sql"

log "data: cold ($COLD_SKUS SKUs x 10 batches) and hot (1 SKU), ours and the peer's"
"${PSQL[@]}" -v cold_skus="$COLD_SKUS" -f "$BENCH/sql/load_cold_hot.sql" > /dev/null
for d in $DEPTHS; do
	log "data: history SKU D$d: $d past allocations, $(( d / 10 )) depleted batches (allocate_many)"
	"${PSQL[@]}" -c "CALL bench.make_history('D$d', $d, 10)" > /dev/null
done
"${PSQL[@]}" -f "$BENCH/sql/copy_depth_to_peer.sql" > /dev/null
if [ "$FLAT" = 1 ]; then
	log "data: flat-cost SKUs: W1 with 1 batch with stock, W$FLAT_BATCHES with $FLAT_BATCHES, M1 for allocate_many"
	"${PSQL[@]}" -c "SELECT bench.wide_sku('W1', 1), bench.wide_sku('W$FLAT_BATCHES', $FLAT_BATCHES),
		bench.fresh_batches('allocation', 'M1', 100000000)" > /dev/null
fi
if [ "$LARGE" = 1 ]; then
	log "data: large ($LARGE_SKUS SKUs x 10 batches, direct load)"
	"${PSQL[@]}" -v large_skus="$LARGE_SKUS" -f "$BENCH/sql/load_large.sql" > /dev/null
fi
log "data: invariants and VACUUM ANALYZE"
BAD=$("${PSQL[@]}" -At -c "SELECT count(*) FROM allocation.check_invariants()")
[ "$BAD" = 0 ] || die "check_invariants() reports $BAD violations after the load"
"${PSQL[@]}" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"

# ---------------------------------------------------------------------------
# one pgbench run
# ---------------------------------------------------------------------------
# scenario_vars SCENARIO: the pgbench -D variables that choose the SKUs
scenario_vars() {
	case $1 in
		cold) echo "-D prefix=C -D lo=1 -D hi=$COLD_SKUS" ;;
		hot) echo "-D prefix=H -D lo=1 -D hi=1" ;;
		depth*) echo "-D prefix=D -D lo=${1#depth} -D hi=${1#depth}" ;;
		wide*) echo "-D prefix=W -D lo=${1#wide} -D hi=${1#wide}" ;;
		large) echo "-D prefix=L -D lo=1 -D hi=$LARGE_SKUS" ;;
		*) die "unknown scenario $1" ;;
	esac
}

# comparator_args COMPARATOR: "script|session settings"
comparator_args() {
	case $1 in
		ext) echo "$BENCH/pgbench/ext.sql|" ;;
		ext_notify) echo "$BENCH/pgbench/ext.sql|-c allocation.notify_events=on" ;;
		ext_nonotify) echo "$BENCH/pgbench/ext.sql|-c allocation.notify_events=off" ;;
		peer) echo "$BENCH/pgbench/peer.sql|" ;;
		# a prepared statement's generic plan: the floor plans once
		floor) echo "$WORK/floor.sql|-c plan_cache_mode=force_generic_plan" ;;
		floor_notify) echo "$WORK/floor_notify.sql|-c plan_cache_mode=force_generic_plan" ;;
		select1) echo "$BENCH/pgbench/select1.sql|" ;;
		*) die "unknown comparator $1" ;;
	esac
}

# cpu_snapshot: "machine_busy machine_total cluster" in clock ticks: the
# CPU time of the whole machine (/proc/stat), and that of the benchmark
# (the postmaster with its living and reaped children, plus the reaped
# children of this script, i.e. pgbench).  The difference is what other
# processes used while a run went on.
cpu_snapshot() {
	local pm kids
	pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
	kids=$({ cat /proc/[0-9]*/stat 2>/dev/null || true; } |
		awk -v pm="$pm" '{ sub(/^.*\) /, ""); if ($2 == pm) s += $12 + $13 } END { print s + 0 }')
	awk -v kids="$kids" -v pm="$pm" -v me="$$" '
		FILENAME == "/proc/stat" && $1 == "cpu" {
			busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6 }
		FILENAME ~ /^\/proc\/[0-9]+\/stat$/ {
			sub(/^.*\) /, ""); own += $12 + $13 + $14 + $15 }
		END { print busy, total, own + kids }' /proc/stat "/proc/$pm/stat" "/proc/$$/stat"
}

# settle: wait (2 s at most) until the client backends of the last
# connections have exited and been reaped, so that their CPU time is in
# the postmaster's account before a snapshot is taken.
AUX_PROCS=0
settle() {
	local pm i
	pm=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
	for (( i = 0; i < 100; i++ )); do
		[ "$(ps -o pid= --ppid "$pm" | wc -l)" -le "$AUX_PROCS" ] && return 0
		sleep 0.02
	done
}

RUN_NO=0
# run_pgbench ROUND SCENARIO COMPARATOR CLIENTS SECONDS SYNC
run_pgbench() {
	local round=$1 scen=$2 comp=$3 c=$4 secs=$5 sync=$6 placement=${7:-kernel}
	local args script opts j out tps lat xacts failed aborted m0 t0 o0 m1 t1 o1 others
	local pin=() since="" pb pinned=t
	args=$(comparator_args "$comp")
	script=${args%%|*}
	opts="-c synchronous_commit=$sync ${args#*|}"
	j=$(( c < 2 ? c : 2 ))
	RUN_NO=$(( RUN_NO + 1 ))
	out=$WORK/raw/$(printf '%03d' $RUN_NO)-r$round-$scen-$comp-c$c-$sync
	settle
	if [ "$placement" = together ]; then
		pin=(taskset -c "$CPU_A")
		since=$("${PSQL[@]}" -At -c "SELECT clock_timestamp()")
	fi
	read -r m0 t0 o0 <<< "$(cpu_snapshot)"
	# shellcheck disable=SC2046
	PGAPPNAME=$APPNAME PGOPTIONS="$opts" "${pin[@]}" "$PGBENCH" -n -M prepared -c "$c" -j "$j" -T "$secs" \
		$(scenario_vars "$scen") -f "$script" "$DB" > "$out.out" 2> "$out.err" &
	pb=$!
	if [ "$placement" = together ]; then
		pin_backend "$CPU_A" "$since" 2>> "$out.err" || pinned=f
	fi
	wait "$pb" || true
	settle
	read -r m1 t1 o1 <<< "$(cpu_snapshot)"
	# share of the machine's CPU capacity used by other processes
	others=$(awk -v m=$(( m1 - m0 )) -v t=$(( t1 - t0 )) -v o=$(( o1 - o0 )) \
		'BEGIN { x = t > 0 ? 100 * (m - o) / t : 0; if (x < 0) x = 0; printf "%.0f", x }')
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out.out")
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out.out")
	xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out.out")
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out.out")
	aborted=false
	if grep -qi -e 'aborted' -e 'error' "$out.err" || [ -z "$tps" ]; then aborted=true; fi
	# a run that was to be pinned and was not is no figure
	[ "$pinned" = t ] || { aborted=true; tps=; lat=; }
	"${PSQL[@]}" -c "INSERT INTO bench.runs VALUES ($round, '$scen', '$comp', $c, '$sync', $secs,
		${tps:-NULL}, ${lat:-NULL}, ${xacts:-NULL}, ${failed:-NULL}, $aborted, $others, $(( o1 - o0 )))"
	printf '[bench %4ds]   r%s %-11s %-13s c=%-2s sync=%-3s %9.0f tps %7s ms  others %3s%%%s\n' \
		"$(( $(date +%s) - T0 ))" "$round" "$scen" "$comp" "$c" "$sync" "${tps:-0}" "${lat:-?}" "$others" \
		"$([ "$aborted" = true ] && echo "  ERRORS: $(head -c 300 "$out.err" | tr '\n' ' ')")"
}

# ---------------------------------------------------------------------------
# warm-up, then rows and index entries per allocate
# ---------------------------------------------------------------------------
# the postmaster's children when no client is connected
sleep 0.5
AUX_PROCS=$(ps -o pid= --ppid "$(head -n 1 "$PGDATA_DIR/postmaster.pid")" | wc -l)
log "warm-up"
[ ${#COLD_COMPS[@]} -gt 0 ] || WARM_COMPS=ext
for comp in ${WARM_COMPS:-ext peer floor_notify floor select1}; do
	PGOPTIONS="$(comparator_args $comp | cut -d'|' -f2)" "$PGBENCH" -n -M prepared -c 2 -j 2 -T 1 \
		$(scenario_vars cold) -f "$(comparator_args $comp | cut -d'|' -f1)" "$DB" > /dev/null 2>&1 || true
done

# WAL records of N allocations at one client (pg_waldump), beside the
# pg_stat_user_tables counters of the comparator's schema and the buffer
# traffic (blocks read into shared buffers, dirty buffers written by the
# backends themselves to make room).
WORK_ALLOCS=2000
# Dirty buffers written by backends: pg_stat_bgwriter until 16, pg_stat_io
# (client backends) from 17 on.
if [ "$("${PSQL[@]}" -At -c 'SHOW server_version_num')" -ge 170000 ]; then
	BACKEND_WRITES="(SELECT COALESCE(sum(writes), 0)::bigint FROM pg_stat_io WHERE backend_type = 'client backend')"
else
	BACKEND_WRITES="(SELECT buffers_backend FROM pg_stat_bgwriter)"
fi
measure_work() {   # LABEL COMPARATOR SCHEMA SCENARIO
	local label=$1 comp=$2 schema=$3 scen=$4 args lsn0 lsn1 s0 s1 stats
	args=$(comparator_args "$comp")
	"${PSQL[@]}" -c "CHECKPOINT"
	s0=$("${PSQL[@]}" -At -F' ' -c "SELECT
		(SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE schemaname = '$schema'),
		(SELECT sum(n_tup_upd) FROM pg_stat_user_tables WHERE schemaname = '$schema'),
		(SELECT sum(n_tup_hot_upd) FROM pg_stat_user_tables WHERE schemaname = '$schema'),
		(SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),
		$BACKEND_WRITES")
	lsn0=$("${PSQL[@]}" -At -c "SELECT pg_current_wal_insert_lsn()")
	# shellcheck disable=SC2046
	PGOPTIONS="${args#*|}" "$PGBENCH" -n -M prepared -c 1 -j 1 -t "$WORK_ALLOCS" \
		$(scenario_vars "$scen") -f "${args%%|*}" "$DB" > "$WORK/raw/work-$comp-$scen.out" 2>&1 || true
	lsn1=$("${PSQL[@]}" -At -c "SELECT pg_current_wal_insert_lsn()")
	sleep 1   # the backend reports its counters as it exits
	s1=$("${PSQL[@]}" -At -F' ' -c "SELECT pg_stat_clear_snapshot();
		SELECT
		(SELECT sum(n_tup_ins) FROM pg_stat_user_tables WHERE schemaname = '$schema'),
		(SELECT sum(n_tup_upd) FROM pg_stat_user_tables WHERE schemaname = '$schema'),
		(SELECT sum(n_tup_hot_upd) FROM pg_stat_user_tables WHERE schemaname = '$schema'),
		(SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),
		$BACKEND_WRITES" | tail -n 1)
	"$PGBIN/pg_waldump" --stats=record -p "$PGDATA_DIR/pg_wal" -s "$lsn0" -e "$lsn1" \
		> "$WORK/raw/waldump-$comp-$scen.txt" 2>&1 || true
	# record sizes without full-page images (those depend on checkpoints)
	stats=$(awk '
		$1 ~ /^Heap\/INSERT(\+INIT)?$/ { hi += $2 } $1 ~ /^Heap\/UPDATE(\+INIT)?$/ { hu += $2 }
		$1 ~ /^Heap\/HOT_UPDATE(\+INIT)?$/ { hh += $2 } $1 == "Heap/LOCK" { hl += $2 }
		$1 ~ /^Btree\/(INSERT_LEAF|INSERT_POST|SPLIT_L|SPLIT_R)$/ { bt += $2 }
		$1 == "Total" { rec = $3 }
		END { printf "%d, %d, %d, %d, %d, %d", rec, hi, hu, hh, hl, bt }' "$WORK/raw/waldump-$comp-$scen.txt")
	read -r a0 b0 c0 d0 e0 <<< "$s0"
	read -r a1 b1 c1 d1 e1 <<< "$s1"
	"${PSQL[@]}" -c "INSERT INTO bench.work VALUES ('$label', $WORK_ALLOCS,
		$stats, $(( a1 - a0 )), $(( b1 - b0 )), $(( c1 - c0 )), $(( d1 - d0 )), $(( e1 - e0 )))"
}
if [ ${#COLD_COMPS[@]} -gt 0 ]; then
log "rows and index entries per allocate ($WORK_ALLOCS allocations each, pg_waldump)"
measure_work ext ext allocation cold
if [ "$LARGE" = 1 ]; then
	measure_work ext_large ext allocation large
else
	measure_work peer peer peer cold
	measure_work floor_notify floor_notify floor cold
fi
fi

# ---------------------------------------------------------------------------
# rounds
# ---------------------------------------------------------------------------
# pairs N WORDS...: the words, each a+b pair as "a b" in odd rounds and
# "b a" in even ones
pairs() {
	local n=$1 w; shift
	for w in "$@"; do
		if [[ $w == *+* ]]; then
			if (( n % 2 )); then printf '%s %s ' "${w%+*}" "${w#*+}"
			else printf '%s %s ' "${w#*+}" "${w%+*}"; fi
		else
			printf '%s ' "$w"
		fi
	done
}

# rotate N WORDS...: the words in round N: the (N mod count)-th first, then
# the others forwards, or backwards in every other run of count rounds.
# So in any count consecutive rounds each word runs first once, and in any
# 2 x count consecutive rounds two words come in each order in half the
# rounds and no comparator always runs right after the same one (and
# inherits what it leaves behind).
# test/bench/rotate_test.sh checks this for generated counts and rounds.
rotate() {
	local n=$1; shift
	local a=("$@") k=${#a[@]} i step=1
	(( (n / k) % 2 == 1 )) && step=$(( k - 1 ))
	for (( i = 0; i < k; i++ )); do printf '%s ' "${a[$(( (n + i * step) % k ))]}"; done
}

# run_bulk ROUND LINES CALLS VARS TABLE: CALLS allocate_many calls of LINES
# lines on one connection (pgbench/bulk.sql), one transaction each; the
# mean time of a call goes to bench.TABLE
run_bulk() {
	local r=$1 lines=$2 calls=$3 vars=$4 table=$5 m0 t0 o0 m1 t1 o1 others lat out
	out=$WORK/raw/$table-r$r-$lines.out
	settle
	read -r m0 t0 o0 <<< "$(cpu_snapshot)"
	# shellcheck disable=SC2086
	PGOPTIONS="-c synchronous_commit=off" "$PGBENCH" -n -M prepared -c 1 -j 1 -t "$calls" \
		$vars -D lines="$lines" -f "$BENCH/pgbench/bulk.sql" "$DB" > "$out" 2>&1 || true
	settle
	read -r m1 t1 o1 <<< "$(cpu_snapshot)"
	others=$(awk -v m=$(( m1 - m0 )) -v t=$(( t1 - t0 )) -v o=$(( o1 - o0 )) \
		'BEGIN { x = t > 0 ? 100 * (m - o) / t : 0; if (x < 0) x = 0; printf "%.0f", x }')
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$out")
	[ -n "$lat" ] || { cat "$out" >&2; die "allocate_many run failed"; }
	"${PSQL[@]}" -c "INSERT INTO bench.$table VALUES ($r, $lines, $lat, $others, $(( (o1 - o0) / calls )))"
	log "  r$r allocate_many of $lines lines ($table): $lat ms, $(awk -v l="$lat" -v n="$lines" 'BEGIN { printf "%.2f", 1000 * l / n }') µs a line, others $others%"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for (( r = 1; r <= ROUNDS; r++ )); do
	log "round $r of $ROUNDS (VACUUM ANALYZE first)"
	"${PSQL[@]}" -c "VACUUM (ANALYZE)"
	for c in $CLIENTS; do
		[ ${#COLD_COMPS[@]} -eq 0 ] ||
		for comp in $(pairs "$r" $(rotate "$r" "${COLD_COMPS[@]}")); do
			run_pgbench "$r" cold "$comp" "$c" "$SECS" off
		done
		if [ "$LARGE" = 1 ]; then
			run_pgbench "$r" large ext "$c" "$SECS" off
		fi
		[ ${#HOT_COMPS[@]} -eq 0 ] && continue
		for comp in $(pairs "$r" $(rotate "$r" "${HOT_COMPS[@]}")); do
			run_pgbench "$r" hot "$comp" "$c" "$SECS" off
		done
	done
	if [ ${#LAT_COMPS[@]} -gt 0 ] && [ -n "$DEPTHS" ]; then
		for d in $(rotate "$r" $DEPTHS); do
			for comp in $(rotate "$r" "${LAT_COMPS[@]}"); do
				run_pgbench "$r" "depth$d" "$comp" 1 "$LAT_SECS" off "$DEPTH_PLACEMENT"
			done
		done
	fi
	if [ "$FLAT" = 1 ]; then
		# T6: allocate latency on a SKU with FLAT_BATCHES batches with stock
		# against one with a single batch, back to back
		for w in $(rotate "$r" 1 "$FLAT_BATCHES"); do
			run_pgbench "$r" "wide$w" ext 1 "$LAT_SECS" off
		done
		# T7: allocate_many of each size on one SKU, back to back
		for l in $(rotate "$r" $FLAT_LINES); do
			run_bulk "$r" "$l" "$FLAT_CALLS" "-D prefix=M -D lo=1 -D hi=1" bulk_sku
		done
	fi
	[ "$BULK" = 1 ] || continue
	# T5: allocate_many calls of BULK_LINES lines, BULK_CALLS of them on one
	# connection (as allocate is measured on warm connections: the first
	# call also prepares the statements), one transaction each; pgbench's
	# latency average is the time of one call
	run_bulk "$r" "$BULK_LINES" "$BULK_CALLS" "$(scenario_vars cold)" bulk
done
if [ "$SYNC_ON" = 1 ]; then
	log "synchronous_commit = on (one round)"
	"${PSQL[@]}" -c "VACUUM (ANALYZE)"
	for c in $CLIENTS; do
		for comp in ext peer floor_notify; do
			run_pgbench 1 cold "$comp" "$c" "$SECS" on
		done
	done
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

log "invariants after the runs"
BAD_AFTER=$("${PSQL[@]}" -At -c "SELECT count(*) FROM allocation.check_invariants()")

# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
log "report: $OUT/$NAME.md"
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
RAM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
PGVER=$("${PSQL[@]}" -At -c "SHOW server_version")
ELAPSED=$(( $(date +%s) - T0 ))
export BENCH_NPROC=$(nproc) BENCH_CPU=$CPU BENCH_RAM=$RAM BENCH_PGVER=$PGVER
export BENCH_SETTINGS="${SETTINGS[*]}" BENCH_ROUNDS_N=$ROUNDS BENCH_SECS=$SECS
export BENCH_LAT_SECS=$LAT_SECS BENCH_LOAD="$LOAD_BEFORE -> $LOAD_AFTER"
export BENCH_BUILD="$BUILD_COMMIT$([ "$BUILD_DIRTY" -gt 0 ] && echo " + uncommitted changes in src/")"
export BENCH_ELAPSED=$ELAPSED BENCH_BAD_AFTER=$BAD_AFTER BENCH_LARGE_ON=$LARGE
export BENCH_DEEPEST=$DEEPEST BENCH_BULK_LINES=$BULK_LINES BENCH_COLD_SKUS=$COLD_SKUS
export BENCH_LARGE_SKUS=$LARGE_SKUS BENCH_NAME=$NAME BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
export BENCH_CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100) BENCH_QUIET=${BENCH_QUIET:-15}
export BENCH_FLAT_BATCHES=$FLAT_BATCHES BENCH_FLAT_LO=${FLAT_LINES%% *} BENCH_FLAT_HI=${FLAT_LINES##* }
if [ -n "$ONLY" ]; then
	# a partial run: the targets it measured, in the scratch space only
	OUT=$WORK
fi
DEPTH_PLACEMENT=$DEPTH_PLACEMENT bash "$BENCH/report.sh" "$WORK" "$OUT"
cat "$OUT/$NAME.md"
log "done in $(( $(date +%s) - T0 )) s"
