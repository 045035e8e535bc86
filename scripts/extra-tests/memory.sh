#!/usr/bin/env bash
# scripts/extra-tests/memory.sh - a long session keeps its memory flat.
#
# One session allocates a line and deallocates it again MEMORY_CALLS times
# (default 200,000; "make stress" runs 1,000,000), committing every 100
# calls, with an outbox consumer reading, acknowledging and purging the
# events every 1000 (test/stress/memory.sql).  The backend's memory, the
# sum of pg_backend_memory_contexts.total_bytes, is read after a warm-up
# of 1000 calls and again at the end: it may not grow by more than
# MEMORY_MAX_GROWTH bytes (default 1 MiB).  On failure the contexts that
# grew are listed.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or PG_CONFIG;
# MEMORY_CALLS, MEMORY_MAX_GROWTH.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

CALLS=${MEMORY_CALLS:-200000}
MAX_GROWTH=${MEMORY_MAX_GROWTH:-1048576}
DB=allocation_memory
WORK=$(mktemp -d)
trap 'cleanup_dbs; rm -rf "$WORK"' EXIT

fresh_db "$DB"
q "$DB" -f "$STRESS_DIR/memory.sql" >/dev/null

# The backend's contexts, summed by name (several share one, e.g. the
# cached plans): "name<TAB>bytes" lines, in name order.
contexts="SELECT name, sum(total_bytes) FROM pg_backend_memory_contexts GROUP BY name ORDER BY name"
total="SELECT sum(total_bytes) FROM pg_backend_memory_contexts"

log_at_start=$(log_offset)
step "$CALLS allocate + deallocate calls in one session"
start=$(date +%s.%N)
# One psql, one backend.  The warm-up fills the caches (plans, catalog
# entries) and runs each measuring query once, so that their own caching
# is not counted as growth.
q "$DB" -F $'\t' <<SQL > "$WORK/session.out"
SET synchronous_commit = off;
CALL stress.churn(1000, 'warm');
\\o /dev/null
$contexts;
$total;
\\o
\\o $WORK/before.txt
$contexts;
\\o
SELECT 'before', ($total);
CALL stress.churn($CALLS, 'run');
SELECT 'after', ($total);
\\o $WORK/after.txt
$contexts;
\\o
SQL
end=$(date +%s.%N)
before=$(awk -F '\t' '$1 == "before" { print $2 }' "$WORK/session.out")
after=$(awk -F '\t' '$1 == "after" { print $2 }' "$WORK/session.out")
if [ -z "$before" ] || [ -z "$after" ]; then
	cat "$WORK/session.out" >&2
	fail "no memory figures"
fi
growth=$((after - before))
step "$(awk -v n="$CALLS" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f s, %.0f calls/s", e - s, n / (e - s) }')"
step "backend memory: $before bytes after the warm-up, $after after $CALLS calls: growth $growth bytes (limit $MAX_GROWTH)"

check_log_clean "$log_at_start"
violations=$(q "$DB" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
if [ -n "$violations" ]; then
	printf '%s\n' "$violations" | head -n 20 >&2
	fail "check_invariants() found violations"
fi
left=$(q "$DB" -c "SELECT count(*) FROM allocation.order_lines")
[ "$left" = 0 ] || fail "$left lines still allocated: the loop did not deallocate them all"

if [ "$growth" -gt "$MAX_GROWTH" ]; then
	echo "contexts that grew (name, bytes before, bytes after):" >&2
	LC_ALL=C join -t $'\t' -a 2 -e 0 -o 0,1.2,2.2 "$WORK/before.txt" "$WORK/after.txt" |
		awk -F '\t' '$3 > $2 { printf "  %-40s %12d %12d\n", $1, $2, $3 }' >&2
	fail "the backend's memory grew by $growth bytes over $CALLS calls"
fi
step "ok: memory flat over $CALLS calls"
