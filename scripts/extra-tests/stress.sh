#!/usr/bin/env bash
# scripts/extra-tests/stress.sh - concurrent mixed workload, then the invariants.
#
# pgbench runs 16 clients under READ COMMITTED for STRESS_SECONDS (default
# 30; "make stress" runs 300) over 3 hot and 200 cold SKUs (test/stress/):
# allocate, deallocate, allocate_many, change_batch_quantity, add_batch and
# read queries.  The workload cannot provoke a domain error (order ids and
# batch references are unique per client), so any error a client sees is a
# failure: pgbench aborts that client and exits non-zero.  Afterwards
# allocation.check_invariants() must return no row and the server log must
# show no crash.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER (as "make test" exports
# them), PG_BINDIR or PG_CONFIG; STRESS_SECONDS, STRESS_CLIENTS (16),
# STRESS_JOBS (2).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

SECONDS_TO_RUN=${STRESS_SECONDS:-30}
CLIENTS=${STRESS_CLIENTS:-16}
JOBS=${STRESS_JOBS:-2}
DB=allocation_stress
WORK=$(mktemp -d)
trap 'cleanup_dbs; rm -rf "$WORK"' EXIT

fresh_db "$DB"
q "$DB" -f "$STRESS_DIR/setup.sql" >/dev/null
step "$(q "$DB" -c "SELECT format('setup: %s products, %s batches, %s units',
	count(DISTINCT sku), count(*), sum(purchased)) FROM allocation.stock")"

log_at_start=$(log_offset)
step "pgbench: $CLIENTS clients, $JOBS threads, ${SECONDS_TO_RUN}s, READ COMMITTED"
rc=0
(cd "$STRESS_DIR" &&
	"${PGBENCH[@]}" -n -c "$CLIENTS" -j "$JOBS" -T "$SECONDS_TO_RUN" \
		-D n=0 -D m=0 -D a=0 \
		-f allocate.sql@40 -f deallocate.sql@20 -f read.sql@20 \
		-f add_batch.sql@8 -f change_quantity.sql@6 -f allocate_many.sql@6 \
		"$DB" \
	) > "$WORK/pgbench.out" 2>&1 || rc=$?

# pgbench's report: the totals, and what went wrong if anything did
grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' \
	"$WORK/pgbench.out" | sed "s/^/$SUITE_NAME:   /" || true
problems=$(grep -E 'error|abort|FATAL|ERROR|WARNING|PANIC' "$WORK/pgbench.out" |
	grep -vE '^number of failed transactions: 0 ' || true)
if [ "$rc" -ne 0 ] || [ -n "$problems" ]; then
	printf '%s\n' "$problems" | head -n 30 >&2
	[ "$rc" -eq 0 ] || tail -n 30 "$WORK/pgbench.out" >&2
	fail "a client saw an error (pgbench exit status $rc)"
fi
grep -q '^number of failed transactions: 0 ' "$WORK/pgbench.out" ||
	fail "pgbench did not report 0 failed transactions"
ntx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/pgbench.out")
[ "${ntx:-0}" -gt 0 ] || fail "no transaction was processed"

check_log_clean "$log_at_start"

step "$(q "$DB" -c "SELECT format('after: %s lines allocated, %s batches, %s events (%s Allocated, %s Deallocated, %s OutOfStock, %s BatchQuantityChanged), hottest version %s',
	(SELECT count(*) FROM allocation.order_lines),
	(SELECT count(*) FROM allocation.batches),
	count(*), count(*) FILTER (WHERE type = 'Allocated'),
	count(*) FILTER (WHERE type = 'Deallocated'),
	count(*) FILTER (WHERE type = 'OutOfStock'),
	count(*) FILTER (WHERE type = 'BatchQuantityChanged'),
	(SELECT max(version_number) FROM allocation.products))
	FROM allocation.outbox")"

violations=$(q "$DB" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
if [ -n "$violations" ]; then
	printf '%s\n' "$violations" | head -n 50 >&2
	fail "check_invariants() found $(printf '%s\n' "$violations" | wc -l) violation(s)"
fi
# the workload really ran its commands: each kind left its events
kinds=$(q "$DB" -c "SELECT string_agg(t, ' ') FROM unnest(ARRAY['Allocated',
	'Deallocated', 'OutOfStock', 'BatchCreated', 'BatchQuantityChanged']) t
	WHERE NOT EXISTS (SELECT FROM allocation.outbox o WHERE o.type = t)")
[ -z "$kinds" ] || fail "the workload recorded no event of type: $kinds"

step "ok: $ntx transactions, $(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out") tps, check_invariants() empty"
