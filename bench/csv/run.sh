#!/usr/bin/env bash
# bench/csv/run.sh - make bench-csv: allocate-from-csv on real sizes.
#
# Generates (once, in bench/csv/data/, kept between runs) 1,000,000 order
# lines over 10,000 SKUs and 100,000 batches (bench/csv/gen.py), then runs
# src/csv/allocate-from-csv under /usr/bin/time -v three times: a first
# run that writes allocations.csv, a rerun that reads it back and has
# nothing to add (rule 4), and a --dry-run --summary.  Prints wall time,
# order lines per second and peak memory (maximum resident set size).
#
# Environment: CSV_BENCH_ORDERS (1000000), CSV_BENCH_SKUS (10000),
# CSV_BENCH_BATCHES (100000).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
BIN=$ROOT/src/csv/allocate-from-csv
ORDERS=${CSV_BENCH_ORDERS:-1000000}
SKUS=${CSV_BENCH_SKUS:-10000}
BATCHES=${CSV_BENCH_BATCHES:-100000}
DATA=$ROOT/bench/csv/data/$ORDERS-$SKUS-$BATCHES
[ -x "$BIN" ] || { echo "build it first: make csv" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-csv needs /usr/bin/time (Debian: time)" >&2; exit 1; }

if [ ! -f "$DATA/orders.csv" ]; then
	echo "generating $ORDERS order lines, $SKUS SKUs, $BATCHES batches in $DATA"
	python3 "$ROOT/bench/csv/gen.py" "$DATA" "$ORDERS" "$SKUS" "$BATCHES"
fi
rm -f "$DATA/allocations.csv"
echo "input: $(du -sh "$DATA/orders.csv" | cut -f1) orders.csv, $(du -sh "$DATA/batches.csv" | cut -f1) batches.csv"

# measure NAME ARGS...: one run under /usr/bin/time -v
measure() {
	local name=$1 rc=0
	shift
	/usr/bin/time -v -o "$DATA/time.txt" "$BIN" "$@" "$DATA" >/dev/null 2>"$DATA/stderr.txt" || rc=$?
	# 0 and 1 (some lines out of stock) are the expected outcomes
	if [ "$rc" -gt 1 ]; then
		head -n 5 "$DATA/stderr.txt" >&2
		echo "$name: exit status $rc" >&2
		exit 1
	fi
	awk -v name="$name" -v n="$ORDERS" '
		/Elapsed \(wall clock\)/ { split($NF, t, ":"); s = (length(t) == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
		/Maximum resident set size/ { kb = $NF }
		END { printf "%-28s %7.2f s  %10.0f lines/s  peak %6.0f MiB\n", name, s, n / (s > 0 ? s : 0.01), kb / 1024 }
	' "$DATA/time.txt"
}

measure "first run (writes)"
echo "  allocated: $(($(wc -l < "$DATA/allocations.csv") - 1)) lines, out of stock: $(grep -c 'out of stock' "$DATA/stderr.txt" || true)"
before=$(md5sum < "$DATA/allocations.csv")
measure "rerun (nothing new)"
[ "$(md5sum < "$DATA/allocations.csv")" = "$before" ] || { echo "the rerun changed allocations.csv" >&2; exit 1; }
measure "--dry-run --summary" --dry-run --summary
