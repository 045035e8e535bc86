#!/usr/bin/env bash
# scripts/extra-tests/router.sh - the PL/Proxy router (router/) in front of
# four allocation nodes, in the throwaway cluster.
#
#   1. five node databases (CREATE EXTENSION allocation) and a router
#      database (CREATE EXTENSION allocation_router CASCADE); the cluster is
#      nodes 1-4 with 16 partitions, node 5 is the one it grows to;
#   2. the router's shard_key gives the node's values (1,000+ SKUs, with
#      non-ASCII ones);
#   3. the SPEC's scenarios through the router (router/test/scenarios.sql):
#      rules, queries merged from every node, every error with its
#      SQLSTATE, messages, transaction semantics, order tracking across
#      nodes, outbox consumers;
#   4. roles and grants on the router;
#   5. the spread of 1,000 SKUs over the nodes and partitions;
#   6. a partition move to node 5 (router/move_partition.sh): everything
#      arrives, undelivered events are delivered by the target, versions
#      continue, check_invariants() is empty on both nodes;
#   7. a concurrent pgbench workload through the router during which a
#      second partition moves to node 5; no client sees an error, and
#      check_invariants() is empty on every node.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER (as "make test"
# exports them), PG_BINDIR or PG_CONFIG; ROUTER_TEST_SECONDS (pgbench
# duration, default 14), ROUTER_TEST_CLIENTS (6).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
fi
export PG_BINDIR PGUSER=${PGUSER:-postgres}
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)
PGBENCH=("$PG_BINDIR/pgbench")
started=$(date +%s)
SECONDS_TO_RUN=${ROUTER_TEST_SECONDS:-14}
CLIENTS=${ROUTER_TEST_CLIENTS:-6}
T=$ROOT/router/test

step() { printf "router: [%3ss] %s\n" "$(( $(date +%s) - started ))" "$*"; }
fail() { printf 'router: FAILED: %s\n' "$*" >&2; exit 1; }
q() { local db=$1; shift; "${PSQL[@]}" -At -d "$db" "$@"; }

NODES=(alloc_rt_node1 alloc_rt_node2 alloc_rt_node3 alloc_rt_node4 alloc_rt_node5)
ROUTER=alloc_rt_router
ROLES=(alloc_rt_user alloc_rt_admin alloc_rt_nobody)
WORK=$(mktemp -d)
PGBENCH_PID=
STALE_PID_SAVED=

cleanup() {
	[ -z "$STALE_PID_SAVED" ] || kill "$STALE_PID_SAVED" 2>/dev/null || true
	[ -z "$PGBENCH_PID" ] || { kill "$PGBENCH_PID" 2>/dev/null || true; wait "$PGBENCH_PID" 2>/dev/null || true; }
	local db r
	for db in "$ROUTER" "${NODES[@]}"; do
		"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
			-c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
	done
	for r in "${ROLES[@]}"; do
		"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
			-c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT


# how PL/Proxy (libpq, on the server) reaches a node: the cluster's socket
conn() { printf '%sport=%s dbname=%s' "${PGHOST:+host=$PGHOST }" "${PGPORT:-5432}" "$1"; }

# --- 1. databases --------------------------------------------------------------

[ "$(q postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name IN ('plproxy', 'allocation_router')")" = 2 ] ||
	fail "plproxy or allocation_router is not installed (make deps; make install)"
for db in "$ROUTER" "${NODES[@]}"; do
	"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\"" >/dev/null
done
for db in "${NODES[@]}"; do
	q "$db" -c 'CREATE EXTENSION allocation'
done
q "$ROUTER" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE'
q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['$(conn "${NODES[0]}")', '$(conn "${NODES[1]}")',
	'$(conn "${NODES[2]}")', '$(conn "${NODES[3]}")'], 16)" >/dev/null
step "cluster: $(q "$ROUTER" -c "SELECT string_agg(format('node %s: partitions %s', node, partitions), '; ') FROM allocation.nodes()")"
node_conn() { conn "${NODES[$(( $1 - 1 ))]}"; }

# --- 2. the same hash on the router and on a node --------------------------------

cat > "$WORK/keys.sql" <<'EOF'
SELECT md5(string_agg(allocation.shard_key(k)::text, ',' ORDER BY o)), count(*)
  FROM (SELECT k, row_number() OVER () AS o FROM (VALUES ('RED-CHAIR'), (''), (' '), ('a'), ('A'),
		('é'), ('e' || U&'\0301'), ('日本語-椅子'), ('🪑-CHAIR'), ('Ωmega'), ('ß'), (repeat('x', 255)),
		(repeat('ü', 255)), (U&'\00A0')) v(k)
		UNION ALL SELECT 'SPREAD-' || i, 100 + i FROM generate_series(1, 1000) i
		UNION ALL SELECT md5(i::text), 2000 + i FROM generate_series(1, 200) i) s
EOF
on_router=$(q "$ROUTER" -f "$WORK/keys.sql")
on_node=$(q "${NODES[0]}" -f "$WORK/keys.sql")
[ "$on_router" = "$on_node" ] || fail "shard_key differs: router $on_router, node $on_node"
step "shard_key: router and node agree on ${on_node#*|} keys (non-ASCII included): $(q "$ROUTER" -c \
	"SELECT string_agg(format('%s=%s', k, allocation.shard_key(k)), ' ') FROM (VALUES ('RED-CHAIR'), ('日本語-椅子'), ('🪑-CHAIR')) v(k)")"

# --- 3. SPEC scenarios through the router ------------------------------------------

if ! q "$ROUTER" -f "$T/scenarios.sql" > "$WORK/scenarios.out" 2>&1; then
	grep -E '^ok' "$WORK/scenarios.out" | tail -n 3 >&2 || true
	grep -vE '^(ok|$)' "$WORK/scenarios.out" | tail -n 15 >&2
	fail "a scenario failed (router/test/scenarios.sql)"
fi
step "scenarios: $(grep -c '^ok' "$WORK/scenarios.out") checks passed (router/test/scenarios.sql)"

# --- 4. roles and grants --------------------------------------------------------------

"${PSQL[@]}" -d postgres >/dev/null <<EOF
CREATE ROLE alloc_rt_user LOGIN IN ROLE allocation_user;
CREATE ROLE alloc_rt_admin LOGIN IN ROLE allocation_admin;
CREATE ROLE alloc_rt_nobody LOGIN;
EOF
# as ROLE SQL: the SQLSTATE of SQL run as a role ("00000" when it worked)
as() {
	local role=$1 sql=$2 out
	out=$("$PG_BINDIR/psql" -X -At -U "$role" -d "$ROUTER" -v VERBOSITY=verbose \
		-c 'SET client_min_messages = warning' -c "$sql" 2>&1) && { echo 00000; return; }
	printf '%s\n' "$out" | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1
}
expect_as() {
	local got
	got=$(as "$1" "$2")
	[ "$got" = "$3" ] || fail "as $1: $2 gave ${got:-no SQLSTATE}, expected $3"
}
expect_as alloc_rt_user "SELECT allocation.allocate('role-o1', 'RED-CHAIR', 1)" 00000
expect_as alloc_rt_user "SELECT * FROM allocation.allocations('role-o1')" 00000
expect_as alloc_rt_user "SELECT count(*) FROM allocation.stock" 00000
expect_as alloc_rt_user "SELECT allocation.add_batch('role-b1', 'RED-CHAIR', 1)" 42501
expect_as alloc_rt_user "SELECT allocation.change_batch_quantity('warehouse-1', 12)" 42501
expect_as alloc_rt_user "SELECT allocation.create_order('ROLE-1')" 42501
expect_as alloc_rt_user "SELECT count(*) FROM allocation.outbox" 42501
expect_as alloc_rt_user "SELECT * FROM allocation.check_invariants()" 42501
expect_as alloc_rt_admin "SELECT allocation.add_batch('role-b1', 'RED-CHAIR', 1)" 00000
expect_as alloc_rt_admin "SELECT allocation.change_batch_quantity('role-b1', 2)" 00000
expect_as alloc_rt_admin "SELECT count(*) FROM allocation.outbox" 00000
expect_as alloc_rt_admin "SELECT allocation.define_cluster(ARRAY['dbname=x'])" 42501
expect_as alloc_rt_nobody "SELECT allocation.allocate('role-o2', 'RED-CHAIR', 1)" 42501
expect_as alloc_rt_nobody "SELECT count(*) FROM allocation.stock" 42501
expect_as alloc_rt_nobody "SELECT allocation_router.allocate(0, 'role-o2', 'RED-CHAIR', 1)" 42501
[ "$(q "$ROUTER" -c "SELECT count(*) FROM allocation.allocations_view WHERE orderid = 'role-o1'")" = 1 ] ||
	fail "the user's allocation is not there"
step "roles: allocation_user, allocation_admin and a role of neither get the node's rights through the router"

# --- 5. spread of 1,000 SKUs ----------------------------------------------------------------

q "$ROUTER" -c "SET client_min_messages = warning" \
	-c "SELECT count(allocation.add_batch('SB-' || i, 'SPREAD-' || i, 10)) FROM generate_series(1, 1000) i" >/dev/null
per_node=()
for i in 1 2 3 4; do
	per_node+=("$(q "${NODES[$((i - 1))]}" -c "SELECT count(*) FROM allocation.product_state WHERE sku LIKE 'SPREAD-%'")")
done
step "spread: 1000 SKUs over 4 nodes: ${per_node[*]}; over 16 partitions: $(q "$ROUTER" -c \
	"SELECT string_agg(n::text, ' ' ORDER BY p) FROM (SELECT allocation.partition_of('SPREAD-' || i) p, count(*) n
	   FROM generate_series(1, 1000) i GROUP BY 1) x")"
[ $(( per_node[0] + per_node[1] + per_node[2] + per_node[3] )) -eq 1000 ] || fail "the SKUs do not add up to 1000"
for n in "${per_node[@]}"; do
	[ "$n" -ge 200 ] && [ "$n" -le 300 ] || fail "uneven spread over the nodes: ${per_node[*]}"
done
[ "$(q "$ROUTER" -c "SELECT min(n) >= 40 AND count(*) = 16 FROM (SELECT allocation.partition_of('SPREAD-' || i) p, count(*) n
	   FROM generate_series(1, 1000) i GROUP BY 1) x")" = t ] || fail "uneven spread over the partitions"
[ -z "$(q "$ROUTER" -c "SELECT * FROM allocation.check_placement()")" ] || fail "a product is on the wrong node"

# --- 6. moving a partition to node 5 ------------------------------------------------------------

# snapshot NODE PART: the partition's rows on a node, as text
cat > "$WORK/snapshot.sql" <<'EOF'
SELECT concat_ws(E'\n',
	(SELECT string_agg(format('%s v%s l%s e%s', sku, version_number, line_seq, event_seq), ' ' ORDER BY sku)
	   FROM allocation.product_state WHERE (allocation.shard_key(sku) & 15) = :p),
	(SELECT md5(string_agg(b::text, ',' ORDER BY reference)) FROM allocation.batches b WHERE (allocation.shard_key(sku) & 15) = :p),
	(SELECT md5(string_agg(l::text, ',' ORDER BY sku, orderid)) FROM allocation.order_lines l WHERE (allocation.shard_key(sku) & 15) = :p),
	(SELECT md5(string_agg(v::text, ',' ORDER BY sku, orderid)) FROM allocation.allocations_view v WHERE (allocation.shard_key(sku) & 15) = :p),
	(SELECT string_agg(format('%s %s v%s e%s', orderid, status, version_number, event_seq), ' ' ORDER BY orderid)
	   FROM allocation.orders WHERE (allocation.shard_key(orderid) & 15) = :p),
	(SELECT string_agg(orderid || ' ' || email, ' ' ORDER BY orderid, email) FROM allocation.order_subscriptions
	  WHERE (allocation.shard_key(orderid) & 15) = :p))
EOF
# pending NODE CONSUMER PART: ids of the partition's events not yet acknowledged by CONSUMER
pending() {
	q "$1" -c "SELECT string_agg(e.id::text, ' ' ORDER BY e.aggregatetype, e.aggregateid, e.aggregate_seq)
		FROM allocation.read_events('$2', 100000) e
		WHERE (allocation.shard_key(e.aggregateid) & 15) = $3"
}
A=$(q "$ROUTER" -c "SELECT allocation.partition_of('RED-CHAIR')")
SRC=$(q "$ROUTER" -c "SELECT node FROM allocation.nodes() WHERE $A = ANY (partitions)")
SRC_DB=${NODES[$((SRC - 1))]}
# an order placed in partition A, followed by e-mail, allocated on a SKU of A
ORD=$(q "$ROUTER" -c "SELECT o FROM (SELECT 'MV-' || i o FROM generate_series(1, 500) i) c
	WHERE allocation.partition_of(o) = $A ORDER BY o LIMIT 1")
q "$ROUTER" >/dev/null <<EOF
SET client_min_messages = warning;
SELECT allocation.register_consumer('mv-audit');
-- deliver everything so far: the move must bring only what is undelivered
DO \$\$
DECLARE last uuid;
BEGIN
	LOOP
		SELECT id INTO last FROM (SELECT * FROM allocation.read_events('mv-audit', 500)) e
		 ORDER BY commit_key DESC, position DESC LIMIT 1;
		EXIT WHEN last IS NULL;
		PERFORM allocation.ack_events('mv-audit', last);
	END LOOP;
END \$\$;
SELECT allocation.sync_order_tracking();	-- the other consumer catches up too
SELECT allocation.create_order('$ORD');
SELECT allocation.subscribe_to_order('$ORD', 'mover@example.com');
SELECT allocation.allocate('$ORD', 'RED-CHAIR', 2);
SELECT allocation.allocate('mv-o2', 'RED-CHAIR', 3);
SELECT allocation.deallocate('mv-o2', 'RED-CHAIR');
SELECT allocation.handle('{"type": "Allocate", "orderid": "mv-o3", "sku": "RED-CHAIR", "qty": 1, "message_id": "mv-m1"}');
EOF
[ "$(q "$ROUTER" -c "SELECT allocation.order_status('$ORD')")" = allocated ] || fail "the order of partition $A was not allocated"
# A router session whose PL/Proxy map is stale on purpose: it called
# partition A, then opened a REPEATABLE READ transaction on another
# partition that stays open during the move; its next call of partition A
# must go to node 5 all the same.
coproc STALE { exec "${PSQL[@]}" -At -d "$ROUTER" 2>&1; }
STALE_PID_SAVED=$STALE_PID
exec {st_in}<&"${STALE[0]}" {st_out}>&"${STALE[1]}"
st() {
	local l
	printf '%s\n\\echo __st__\n' "$1" >&"$st_out"
	while IFS= read -r -t 60 l <&"$st_in"; do
		[ "$l" = __st__ ] && return 0
		printf '%s\n' "$l"
	done
	return 1
}
OTHER=$(q "$ROUTER" -c "SELECT s FROM (SELECT 'SPREAD-' || i s FROM generate_series(1, 100) i) x
	WHERE allocation.partition_of(s) <> $A ORDER BY s LIMIT 1")
st "SET client_min_messages = warning; SELECT allocation.allocate('stale-0', 'RED-CHAIR', 1);" >/dev/null ||
	fail "the long-lived router session failed"
st "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT allocation.allocate('stale-1', '$OTHER', 1);" >/dev/null ||
	fail "the long-lived router session failed"
before=$(q "$SRC_DB" -v p="$A" -f "$WORK/snapshot.sql")
undelivered=$(pending "$SRC_DB" mv-audit "$A")
[ "$(pending "$SRC_DB" order_tracking "$A")" = "$undelivered" ] || fail "the two consumers should be at the same point"
[ "$(wc -w <<< "$undelivered")" -ge 6 ] || fail "expected undelivered events in partition $A, got: $undelivered"
version=$(q "$SRC_DB" -c "SELECT version_number FROM allocation.product_state WHERE sku = 'RED-CHAIR'")

bash "$ROOT/router/move_partition.sh" "$(conn "$ROUTER")" "$A" "$(node_conn 5)" | sed 's/^/router: /'

[ "$(q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = $A")" = "$(node_conn 5)" ] ||
	fail "the router does not map partition $A to node 5"
after=$(q "${NODES[4]}" -v p="$A" -f "$WORK/snapshot.sql")
[ "$after" = "$before" ] || { diff <(echo "$before") <(echo "$after") >&2 || true; fail "partition $A differs after the move"; }
[ -z "$(q "$SRC_DB" -v p="$A" -f "$WORK/snapshot.sql" | tr -d '\n')" ] || fail "node $SRC still has rows of partition $A"
[ "$(q "$ROUTER" -c "SELECT allocation.handle('{\"type\": \"Allocate\", \"orderid\": \"mv-o3\", \"sku\": \"RED-CHAIR\", \"qty\": 1, \"message_id\": \"mv-m1\"}')->>'batchref'")" != "" ] ||
	fail "the inbox record did not move"
q "$ROUTER" -c "SELECT allocation.allocate('mv-o4', 'RED-CHAIR', 1)" >/dev/null
[ "$(q "${NODES[4]}" -c "SELECT version_number FROM allocation.product_state WHERE sku = 'RED-CHAIR'")" = $((version + 1)) ] ||
	fail "the version did not continue on the target"
[ "$(q "${NODES[4]}" -c "SELECT count(*) FROM allocation.order_lines WHERE orderid = 'mv-o4'")" = 1 ] || fail "mv-o4 is not on node 5"
got=$(st "SELECT allocation.allocate('stale-2', 'RED-CHAIR', 1); COMMIT;") ||
	fail "a router session whose transaction began before the move failed after it: ${got:-}"
[ "$(q "${NODES[4]}" -c "SELECT count(*) FROM allocation.order_lines WHERE orderid = 'stale-2'")" = 1 ] ||
	fail "a router session whose transaction began before the move did not reach node 5"
printf '\\q\n' >&"$st_out"
wait "$STALE_PID_SAVED" 2>/dev/null || true
STALE_PID_SAVED=
# (after the long router transaction ended: it has a transaction id, and
# the nodes of this test share its PostgreSQL instance, so their consumers
# wait for it before they deliver what committed after it began)
for c in mv-audit order_tracking; do
	# the events moved, in their order (the calls since add theirs after)
	got_p=$(pending "${NODES[4]}" "$c" "$A" | tr ' ' '\n' | grep -Fxf <(tr ' ' '\n' <<< "$undelivered") | paste -sd ' ')
	[ "$got_p" = "$undelivered" ] ||
		fail "the target does not deliver exactly the undelivered events of partition $A to $c"
	[ -z "$(pending "$SRC_DB" "$c" "$A")" ] || fail "the source still delivers events of partition $A to $c"
done
q "$ROUTER" -c "SELECT allocation.change_order_status('$ORD', 'shipped')" >/dev/null
[ "$(q "${NODES[4]}" -c "SELECT count(*) FROM allocation.notifications WHERE recipient = 'mover@example.com'")" = 1 ] ||
	fail "the moved order's subscriber was not told"
for db in "$SRC_DB" "${NODES[4]}"; do
	[ -z "$(q "$db" -c 'SELECT * FROM allocation.check_invariants()')" ] || fail "check_invariants() on $db after the move"
done
[ -z "$(q "$ROUTER" -c 'SELECT * FROM allocation.check_invariants()')" ] || fail "the router's check_invariants() after the move"
step "move: partition $A from node $SRC to node 5: $(wc -w <<< "$undelivered") undelivered events delivered by node 5, version $version -> $((version + 1)), a REPEATABLE READ router transaction begun before the move reached node 5 after it, invariants hold on both"

# The mechanism alone, without a move's catalog traffic (which, in one
# PostgreSQL cluster, can make an idle session catch up by itself): a
# session in the middle of a REPEATABLE READ transaction must follow a
# set_partition_node at its next call.  Partition C is pointed at node 5,
# which does not have its data (ZA001 from node 5 proves the route), and back.
C=$(q "$ROUTER" -c "SELECT allocation.partition_of('$OTHER')")
C_CONN=$(q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = $C")
coproc STALE { exec "$PG_BINDIR/psql" -X -q -At -d "$ROUTER" 2>&1; }
STALE_PID_SAVED=$STALE_PID
exec {st_in}<&"${STALE[0]}" {st_out}>&"${STALE[1]}"
st "SET client_min_messages = warning; SELECT allocation.allocate('gen-0', '$OTHER', 1);" >/dev/null
st "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT allocation.allocate('gen-1', 'RED-CHAIR', 1);" >/dev/null
q "$ROUTER" -c "CALL allocation.set_partition_node($C, '$(node_conn 5)')"
got=$(st "SELECT allocation.allocate('gen-2', '$OTHER', 1); ROLLBACK;")
q "$ROUTER" -c "CALL allocation.set_partition_node($C, '$C_CONN')"
printf '\\q\n' >&"$st_out"
wait "$STALE_PID_SAVED" 2>/dev/null || true
STALE_PID_SAVED=
grep -q "\[${NODES[4]}\] REMOTE ERROR: invalid sku \"$OTHER\"" <<< "$got" ||
	fail "a session in a REPEATABLE READ transaction did not follow set_partition_node: $got"
[ "$(q "$ROUTER" -c "SELECT allocation.allocate('gen-3', '$OTHER', 1)")" != "" ] || fail "partition $C is not back"
step "cluster generation: a session inside a REPEATABLE READ transaction follows set_partition_node at its next call"

# --- 7. pgbench through the router, and a move during it -------------------------------------------

q "$ROUTER" -f "$T/pgbench/setup.sql" >/dev/null
B=$(q "$ROUTER" -c "SELECT p FROM (SELECT allocation.partition_of('W-' || i) p FROM generate_series(1, 48) i) x
	WHERE p <> $A GROUP BY p ORDER BY count(*) DESC, p LIMIT 1")
B_SRC=$(q "$ROUTER" -c "SELECT node FROM allocation.nodes() WHERE $B = ANY (partitions)")
B_SKUS=$(q "$ROUTER" -c "SELECT string_agg(quote_literal('W-' || i), ',') FROM generate_series(1, 48) i WHERE allocation.partition_of('W-' || i) = $B")
step "pgbench: $CLIENTS clients, ${SECONDS_TO_RUN}s through the router; partition $B (SKUs $B_SKUS) moves from node $B_SRC to node 5 meanwhile"
(cd "$T/pgbench" && exec "${PGBENCH[@]}" -n -c "$CLIENTS" -j 2 -T "$SECONDS_TO_RUN" -D n=0 -D m=0 \
	-f allocate.sql@40 -f deallocate.sql@15 -f read.sql@15 -f allocate_many.sql@10 \
	-f change_quantity.sql@10 -f add_batch.sql@10 "$ROUTER") > "$WORK/pgbench.out" 2>&1 &
PGBENCH_PID=$!
sleep $(( SECONDS_TO_RUN / 3 ))
moved_at=$(q "$ROUTER" -c "SELECT clock_timestamp()")
bash "$ROOT/router/move_partition.sh" "$(conn "$ROUTER")" "$B" "$(node_conn 5)" | sed 's/^/router: /'
rc=0
wait "$PGBENCH_PID" || rc=$?
PGBENCH_PID=
grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' \
	"$WORK/pgbench.out" | sed 's/^/router:   /' || true
if [ "$rc" -ne 0 ] || grep -qE 'aborted|ERROR|FATAL' "$WORK/pgbench.out"; then
	grep -E 'aborted|ERROR|FATAL|error' "$WORK/pgbench.out" | head -n 20 >&2 || true
	fail "a pgbench client saw an error (exit status $rc)"
fi
grep -q '^number of failed transactions: 0 ' "$WORK/pgbench.out" || fail "pgbench reported failed transactions"
after_move=$(q "${NODES[4]}" -c "SELECT count(*) FROM allocation.outbox WHERE aggregateid IN ($B_SKUS)
	AND type = 'Allocated' AND occurred_at > '$moved_at'")
[ "$after_move" -gt 0 ] || fail "no allocation of partition $B reached node 5 after the move"
for db in "${NODES[@]}"; do
	v=$(q "$db" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
	[ -z "$v" ] || { printf '%s\n' "$v" | head -n 20 >&2; fail "check_invariants() on $db after the workload"; }
done
v=$(q "$ROUTER" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
[ -z "$v" ] || { printf '%s\n' "$v" | head -n 20 >&2; fail "the router's check_invariants() after the workload"; }
step "after the workload: check_invariants() empty on all 5 nodes and on the router (placement, duplicate references); $after_move allocations of partition $B on node 5 after its move"
# --- duplicates a race lets through ---------------------------------------------------------

# two nodes get the same new reference directly (as two concurrent add_batch
# through the router could): the report and check_invariants() find it
D1=$(q "$ROUTER" -c "SELECT s FROM (SELECT 'DUP-' || i s FROM generate_series(1, 100) i) x
	WHERE allocation.partition_of(s) = ANY ((SELECT partitions FROM allocation.nodes() WHERE node = 1)::int[]) ORDER BY s LIMIT 1")
D2=$(q "$ROUTER" -c "SELECT s FROM (SELECT 'DUP-' || i s FROM generate_series(1, 100) i) x
	WHERE allocation.partition_of(s) = ANY ((SELECT partitions FROM allocation.nodes() WHERE node = 2)::int[]) ORDER BY s LIMIT 1")
q "${NODES[0]}" -c "SELECT allocation.add_batch('dup-ref', '$D1', 5)" >/dev/null
q "${NODES[1]}" -c "SELECT allocation.add_batch('dup-ref', '$D2', 5)" >/dev/null
[ "$(q "$ROUTER" -c "SELECT format('%s %s', reference, array_length(nodes, 1)) FROM allocation.duplicate_batch_references()")" = "dup-ref 2" ] ||
	fail "duplicate_batch_references() does not report dup-ref on 2 nodes"
[ "$(q "$ROUTER" -c "SELECT count(*) FROM allocation.check_invariants() WHERE invariant = 'batch reference on several nodes'")" = 1 ] ||
	fail "the router's check_invariants() does not report the duplicate"
warn=$(q "$ROUTER" -c "SELECT allocation.change_batch_quantity('dup-ref', 7)" 2>&1)
grep -q 'exists on 2 nodes' <<< "$warn" || fail "no warning when a duplicate reference is changed: $warn"
step "duplicates: duplicate_batch_references() and check_invariants() report a reference on 2 nodes; change_batch_quantity warns"

# --- 8. defining the cluster -------------------------------------------------------------

sqlstate() { "$PG_BINDIR/psql" -X -At -d "$ROUTER" -v VERBOSITY=verbose -c 'SET client_min_messages = warning' -c "$1" 2>&1 |
	sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1; }
[ "$(sqlstate "SELECT allocation.define_cluster(ARRAY['dbname=x'])")" = 42710 ] || fail "define_cluster twice is not 42710"
[ "$(sqlstate "SELECT allocation.define_cluster(NULL)")" = 22004 ] || fail "define_cluster(NULL) is not 22004"
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.drop_cluster()" >/dev/null
[ "$(sqlstate "SELECT allocation.allocate('x', 'RED-CHAIR', 1)")" = 55000 ] || fail "a call without a cluster is not 55000"
[ "$(sqlstate "SELECT allocation.define_cluster(ARRAY['dbname=a', 'dbname=b', 'dbname=c'], 2)")" = 22023 ] ||
	fail "fewer partitions than nodes is not 22023"
[ "$(sqlstate "SELECT allocation.define_cluster(ARRAY['dbname=a', 'dbname=b'], 12)")" = 22023 ] ||
	fail "12 partitions is not 22023"
q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['$(node_conn 1)'], 1)" >/dev/null
[ "$(q "$ROUTER" -c "SELECT allocation.partition_of('RED-CHAIR')")" = 0 ] || fail "one partition: not 0"
step "cluster definition: defined twice 42710, bad arguments 22004/22023, no cluster 55000"

step "done in $(( $(date +%s) - started ))s"
