#!/usr/bin/env bash
# scripts/extra-tests/cancel.sh - statement_timeout stops a huge
# allocate_many while it decides its lines, and nothing is written.
#
# allocate_many decides all its lines in memory before it writes any of
# them.  That loop has no statement of its own, so unless the service asks
# whether the caller was interrupted, a cancel request or a statement
# timeout is only noticed by the first statement after the loop: the call
# runs its whole course first.  This suite builds a call whose loop is long
# (CANCEL_LINES lines of qty 2 on a SKU with CANCEL_BATCHES batches of
# which none can hold them: every line looks at every batch and is out of
# stock), runs it with statement_timeout = CANCEL_TIMEOUT, and checks that
#   1. it fails with 57014 (query_canceled);
#   2. the error was raised in the loop, not by one of the statements the
#      call runs after it (those would name themselves in a CONTEXT line:
#      the outbox clock, the outbox, the order lines, the read model);
#   3. nothing was written: order lines, outbox, read model, notifications,
#      batch quantities and the product's version are as before.
# It checks where the call stopped, never how long it took.  The loop must
# run several times longer than the timeout while everything before it
# takes well under it, on whatever machine runs the suite: so the suite
# first sizes the fixture.  It times the whole call once, without a
# timeout, in a transaction it rolls back, and adds batches (each line
# looks at every batch, so the loop grows with them) until the call takes
# at least CANCEL_MARGIN times the timeout.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or PG_CONFIG;
# CANCEL_LINES (150000), CANCEL_BATCHES (20000, the starting size),
# CANCEL_TIMEOUT (1, in seconds), CANCEL_MARGIN (5).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

LINES=${CANCEL_LINES:-150000}
BATCHES=${CANCEL_BATCHES:-20000}
TIMEOUT=${CANCEL_TIMEOUT:-1}
MARGIN=${CANCEL_MARGIN:-5}
DB=allocation_cancel
WORK=$(mktemp -d)
trap 'cleanup_dbs; rm -rf "$WORK"' EXIT

fresh_db "$DB"
step "a SKU with $BATCHES batches of one unit each"
# Written directly (the suite runs as superuser): through add_batch the
# fixture alone would take minutes.  One batch through add_batch, so that
# the product has its row, a version and an event like any other.
q "$DB" <<SQL >/dev/null
SELECT allocation.add_batch('CX-000000', 'CX', 1);
INSERT INTO allocation.batches (reference, sku, purchased_quantity)
SELECT 'CX-' || lpad(b::text, 6, '0'), 'CX', 1
  FROM generate_series(1, $BATCHES - 1) b;
ANALYZE allocation.batches;
SQL

# The call under test, as SQL (without a timeout it decides every line:
# all but the last are out of stock).
call="SELECT count(batchref) FROM allocation.allocate_many(ARRAY(
	SELECT ROW('cancel-' || g, 'CX', CASE WHEN g = $LINES THEN 1 ELSE 2 END)::allocation.order_line
	  FROM generate_series(1, $LINES) g))"

# size_call: seconds the whole call takes, in a transaction rolled back
size_call() {
	q "$DB" <<SQL | tail -n 1
SET allocation.stock_alert_recipient = '';
BEGIN;
CREATE TEMP TABLE t0 ON COMMIT DROP AS SELECT clock_timestamp() AS t;
$call;
SELECT ceil(extract(epoch FROM clock_timestamp() - t))::int FROM t0;
ROLLBACK;
SQL
}
for round in 1 2 3 4; do
	took=$(size_call)
	step "the call takes about ${took} s with $BATCHES batches (wanted: ${MARGIN} x ${TIMEOUT} s)"
	[ "$took" -lt $((MARGIN * TIMEOUT)) ] || break
	[ "$round" -lt 4 ] || fail "could not make the call last ${MARGIN} x ${TIMEOUT} s"
	more=$(( BATCHES * (MARGIN * TIMEOUT / (took > 0 ? took : 1)) ))
	q "$DB" <<SQL >/dev/null
INSERT INTO allocation.batches (reference, sku, purchased_quantity)
SELECT 'CX-' || lpad(b::text, 7, '0'), 'CX', 1
  FROM generate_series($BATCHES, $BATCHES + $more - 1) b;
ANALYZE allocation.batches;
SQL
	BATCHES=$((BATCHES + more))
done

# Everything the call could write, as one line.
state="SELECT (SELECT count(*) FROM allocation.order_lines) || ' lines, '
	|| (SELECT count(*) FROM allocation.outbox) || ' events, '
	|| (SELECT count(*) FROM allocation.allocations_view) || ' read-model rows, '
	|| (SELECT count(*) FROM allocation.notifications) || ' notifications, '
	|| (SELECT sum(allocated_quantity) FROM allocation.batches) || ' allocated, version '
	|| (SELECT version_number FROM allocation.product_state WHERE sku = 'CX')"
before=$(q "$DB" -c "$state")

step "allocate_many of $LINES lines that no batch can hold, statement_timeout = $TIMEOUT"
# the last line (qty 1) fits: the call's smallest quantity is 1, so every
# batch is a candidate that each line of qty 2 has to look at
q "$DB" -v VERBOSITY=default > "$WORK/out" 2>&1 <<SQL || true
\\set ON_ERROR_STOP 0
SET statement_timeout = '${TIMEOUT}s';
$call;
RESET statement_timeout;
SELECT 'sqlstate ' || :'LAST_ERROR_SQLSTATE';
SQL
sed 's/^/  | /' "$WORK/out"
grep -q '^sqlstate 57014$' "$WORK/out" ||
	fail "the call did not fail with 57014 (query_canceled)"
if grep -E '^CONTEXT:.*SQL statement "(INSERT|UPDATE|DELETE|SELECT system_identifier)' "$WORK/out" >/dev/null; then
	fail "the timeout was noticed only by a statement that runs after the lines were decided: the loop over the lines does not check for interrupts"
fi

after=$(q "$DB" -c "$state")
step "before: $before"
step "after:  $after"
[ "$before" = "$after" ] || fail "the cancelled call left something written"

step "the same call without a timeout still succeeds (every line out of stock but the last)"
got=$(q "$DB" -c "SET allocation.stock_alert_recipient = '';
	SELECT count(batchref) || ' of ' || count(*) FROM allocation.allocate_many(ARRAY(
	SELECT ROW('cancel-' || g, 'CX', CASE WHEN g = 2000 THEN 1 ELSE 2 END)::allocation.order_line
	  FROM generate_series(1, 2000) g))" | tail -n 1)
[ "$got" = "1 of 2000" ] || fail "a smaller call of the same shape returned \"$got\", expected \"1 of 2000\""
step "ok"
