#!/usr/bin/env bash
# scripts/extra-tests/chunks.sh - allocate_many around the adapters' chunk
# size (1,024 rows) leaves exactly what the same lines given one by one to
# allocate leave.
#
# For each call size around the chunk boundaries (1023, 1024, 1025, 2047,
# 2048, 2049, 3100 lines) a generated call mixes: several SKUs, lines that
# run out of stock (OutOfStock events and stock alerts), tracked orders with
# a subscriber (order events and notifications), lines already allocated
# before the call, and the same line twice in the call.  One database runs
# allocate_many, another runs allocate for each line in the same order;
# order lines, batch quantities, product versions, the read model, every
# event (aggregate, aggregate_seq, type, payload) and every notification
# must be equal.  Then a call whose last line fails after the chunks were
# written must leave the database exactly as before.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

A=allocation_chunks_many
B=allocation_chunks_one
trap "${KEEP_DBS:+:} cleanup_dbs" EXIT

# the whole state a call can change, one text, deterministic
STATE="SELECT md5(string_agg(x, E'\n' ORDER BY x)) || ' ' || count(*) FROM (
  SELECT 'L ' || sku || ' ' || orderid || ' ' || qty || ' ' || batchref || ' ' || seq AS x FROM allocation.order_lines
  UNION ALL SELECT 'B ' || reference || ' ' || purchased_quantity || ' ' || allocated_quantity FROM allocation.batches
  UNION ALL SELECT 'P ' || (to_jsonb(p) - 'event_key')::text FROM allocation.product_state p
  UNION ALL SELECT 'V ' || orderid || ' ' || sku || ' ' || batchref || ' ' || qty FROM allocation.allocations_view
  UNION ALL SELECT 'E ' || aggregatetype || ' ' || aggregateid || ' ' || aggregate_seq || ' ' || type || ' ' || payload::text FROM allocation.outbox
  UNION ALL SELECT 'N ' || recipient || ' ' || subject || ' ' || body FROM allocation.notifications
) s"

# setup DB N SHAPE: mixed (some SKUs run out of stock, some orders are
# tracked: isolated handlers run between the events) or plain (every line
# fits, nothing tracked: the read model's rows pile up to full chunks)
setup() {
	local db=$1 n=$2 shape=${3:-mixed} small=3 tracked_step=97
	[ "$shape" = mixed ] || { small=1; tracked_step=$((n * 10)); }
	fresh_db "$db"
	q "$db" >/dev/null <<SQL
SELECT allocation.set_stock_alert_recipient('stock@example.com');
SELECT allocation.add_batch('K-A1', 'K-A', $n * 2);
SELECT allocation.add_batch('K-B1', 'K-B', $n * 2 / $small);
SELECT allocation.add_batch('K-B2', 'K-B', $n / 5, current_date + 3);
SELECT allocation.add_batch('K-C1', 'K-C', CASE WHEN $small = 1 THEN $n * 2 ELSE 7 END);
-- tracked orders with a subscriber
SELECT allocation.create_order('k-' || g) FROM generate_series(1, $n, $tracked_step) g;
SELECT allocation.subscribe_to_order('k-' || g, 'u' || g || '@example.com') FROM generate_series(1, $n, $tracked_step) g;
-- lines already allocated before the call
SELECT allocation.allocate('k-' || g, 'K-A', 1) FROM generate_series(3, $n, 211) g;
SQL
}

# line g of a call of n: sku, qty; line n/2 repeats line 5
LINES="SELECT CASE WHEN g = \$n / 2 THEN 'k-5' ELSE 'k-' || g END AS orderid,
	CASE WHEN g = \$n / 2 THEN 'K-' || chr(65 + 5 % 3)
	     WHEN g % 211 = 3 THEN 'K-A' ELSE 'K-' || chr(65 + g % 3) END AS sku,
	CASE WHEN g = \$n / 2 THEN 2 WHEN g % 211 = 3 THEN 1 ELSE 1 + g % 2 END AS qty, g
  FROM generate_series(1, \$n) g"

for shape in plain mixed; do
for n in 1023 1024 1025 2047 2048 2049 3100; do
	step "$n lines, $shape"
	setup "$A" "$n" "$shape"
	setup "$B" "$n" "$shape"
	l=${LINES//\$n/$n}
	q "$A" -c "SELECT count(*) FROM allocation.allocate_many(ARRAY(
		SELECT ROW(orderid, sku, qty)::allocation.order_line FROM ($l) x ORDER BY g))" >/dev/null
	q "$B" -c "SELECT count(*) FROM ($l) x, LATERAL (SELECT allocation.allocate(orderid, sku, qty)) a" >/dev/null 2>&1 ||
	q "$B" >/dev/null <<SQL
DO \$\$ DECLARE r record; BEGIN
  FOR r IN $l ORDER BY g LOOP
    BEGIN PERFORM allocation.allocate(r.orderid, r.sku, r.qty);
    EXCEPTION WHEN OTHERS THEN NULL; END;
  END LOOP; END \$\$;
SQL
	sa=$(q "$A" -c "$STATE")
	sb=$(q "$B" -c "$STATE")
	if [ "$sa" != "$sb" ]; then
		q "$A" -c "$STATE" >/dev/null
		fail "$n lines, $shape: allocate_many left $sa, the same lines one by one $sb"
	fi
	ia=$(q "$A" -c "SELECT count(*) FROM allocation.check_invariants()")
	[ "$ia" = 0 ] || fail "$n lines: check_invariants reports $ia problems"
done
done

step "a call that fails on its last line after 1,500 good ones leaves nothing"
setup "$A" 3000
before=$(q "$A" -c "$STATE")
out=$(q "$A" -v VERBOSITY=default 2>&1 <<SQL || true
\\set ON_ERROR_STOP 0
SELECT count(*) FROM allocation.allocate_many(ARRAY(
	SELECT ROW('f-' || g, CASE WHEN g = 1501 THEN 'K-NOSUCH' ELSE 'K-' || chr(65 + g % 2) END, 1)::allocation.order_line
	  FROM generate_series(1, 1501) g));
SELECT 'sqlstate ' || :'LAST_ERROR_SQLSTATE';
SQL
)
grep -q '^sqlstate ' <<<"$out" || fail "no error: $out"
after=$(q "$A" -c "$STATE")
[ "$before" = "$after" ] || fail "the failed call changed the database"
step "ok"
