#!/usr/bin/env bash
# scripts/extra-tests/router.sh - the PL/Proxy router (router/) in front of
# four allocation nodes, in the throwaway cluster.
#
#   1. five node databases (CREATE EXTENSION allocation) and a router
#      database (CREATE EXTENSION allocation_router CASCADE); the cluster is
#      nodes 1-4 with 16 partitions, node 5 is the one it grows to;
#   2. the router's shard_key gives the node's values (1,000+ SKUs, with
#      non-ASCII ones);
#   3. the contract's scenarios through the router (router/test/scenarios.sql):
#      rules, queries merged from every node, every error with its
#      SQLSTATE, messages, transaction semantics, order tracking across
#      nodes, outbox consumers;
#   3b. allocate_many (router/test/allocate_many.sql): generated line
#      sets over 4 nodes come back in the order of their lines, arrays of
#      other lower bounds and of two dimensions as on a node; one hash a
#      line and the gates once per call (track_functions); its array read
#      a bounded number of times, not once per row (auto_explain);
#   3c. what a routed call costs the router, counted (router/test/cost.sh):
#      once warm, no call parses more than its own statement, a PL/Proxy
#      call runs the gates once, a session keeps its node connections;
#   4. roles and grants on the router;
#   4b. trust between roles (generated where a class is concerned): shadows
#      of every operator and function the router's bodies use, planted in
#      public, never run; every router function a user or administrator
#      may execute waits for a pause (every generated call must exist);
#      every PL/Proxy function's CLUSTER gate covers the partitions of its
#      RUN ON (generated keys of different partitions); a role without
#      rights cannot take the gates; no deadlock between a pause and a
#      routed-then-all-nodes transaction; allocate_many held back by a
#      pause follows the move, and its caller gets 40P01 in a deadlock with
#      a pause; a silent node; READ ONLY transactions; a forged generation
#      setting (ROUTER_TEST_TRUST_ONLY=1 stops after this);
#   5. the spread of 1,000 SKUs over the nodes and partitions;
#   6. a partition move to node 5 (router/move_partition.sh): everything
#      arrives, undelivered events are delivered by the target, versions
#      continue, check_invariants() is empty on both nodes;
#   7. a concurrent pgbench workload through the router during which a
#      second partition moves to node 5; no client sees an error, every
#      event the old node recorded for the partition is on node 5 (no call
#      reached the old node after the export), and check_invariants() is
#      empty on every node.
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
ROLES=(alloc_rt_user alloc_rt_admin alloc_rt_nobody alloc_rt_evil)
WORK=$(mktemp -d)
PGBENCH_PID=
PGBENCH2_PID=
STALE_PID_SAVED=
declare -A S_PID=()

cleanup() {
	local p
	for p in "${S_PID[@]}" "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -z "$STALE_PID_SAVED" ] || kill "$STALE_PID_SAVED" 2>/dev/null || true
	[ -z "$PGBENCH_PID" ] || { kill "$PGBENCH_PID" 2>/dev/null || true; wait "$PGBENCH_PID" 2>/dev/null || true; }
	[ -z "$PGBENCH2_PID" ] || { kill "$PGBENCH2_PID" 2>/dev/null || true; wait "$PGBENCH2_PID" 2>/dev/null || true; }
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

# --- 3. the contract's scenarios through the router ------------------------------------------

if ! q "$ROUTER" -f "$T/scenarios.sql" > "$WORK/scenarios.out" 2>&1; then
	grep -E '^ok' "$WORK/scenarios.out" | tail -n 3 >&2 || true
	grep -vE '^(ok|$)' "$WORK/scenarios.out" | tail -n 15 >&2
	fail "a scenario failed (router/test/scenarios.sql)"
fi
step "scenarios: $(grep -c '^ok' "$WORK/scenarios.out") checks passed (router/test/scenarios.sql)"

# --- 3b. allocate_many: the order of its rows, and its work per line ---------------------------

if ! q "$ROUTER" -f "$T/allocate_many.sql" > "$WORK/allocate_many.out" 2>&1; then
	grep -vE '^(ok|$)' "$WORK/allocate_many.out" | tail -n 15 >&2
	fail "an allocate_many check failed (router/test/allocate_many.sql)"
fi
step "allocate_many: $(grep -c '^ok' "$WORK/allocate_many.out") checks passed (router/test/allocate_many.sql): $(sed -n 's/^ok - allocate_many: \([0-9]* generated line sets\).*/\1 in the order of their lines/p' "$WORK/allocate_many.out")"
# Its array is read a bounded number of times, not once per row: the rows
# that the plans of a call read from unnest(), counted with auto_explain
# (nested statements, actual rows), stay within 4 per line.
if [ ! -f "$("$PG_BINDIR/pg_config" --pkglibdir)/auto_explain.so" ]; then
	step "allocate_many: plans not counted: auto_explain is not installed"
else
	AM_LINES=300
	"${PSQL[@]}" -At -d "$ROUTER" -c "LOAD 'auto_explain'" -c 'SET auto_explain.log_min_duration = 0' \
		-c 'SET auto_explain.log_analyze = on' -c 'SET auto_explain.log_timing = off' \
		-c 'SET auto_explain.log_nested_statements = on' -c 'SET auto_explain.log_format = json' \
		-c 'SET auto_explain.log_level = notice' \
		-c "SELECT pg_catalog.count(*) FROM allocation.allocate_many(ARRAY(
				SELECT ROW('am-plan-' || g, 'AMR-' || (1 + g % 24), 1)::allocation.order_line
				  FROM pg_catalog.generate_series(1, $AM_LINES) g))" >"$WORK/am_rows" 2>"$WORK/am_plans"
	[ "$(cat "$WORK/am_rows")" = "$AM_LINES" ] || fail "allocate_many of $AM_LINES lines gave $(cat "$WORK/am_rows") rows"
	read -r am_plans am_unnest < <(python3 "$T/unnest_rows.py" < "$WORK/am_plans")
	[ "$am_plans" -gt 0 ] || fail "allocate_many: auto_explain logged no plan"
	[ "$am_unnest" -le $(( 4 * AM_LINES )) ] ||
		fail "allocate_many of $AM_LINES lines read $am_unnest rows from unnest() in $am_plans plans (at most $(( 4 * AM_LINES )) expected: is the array searched once per row?)"
	step "allocate_many: $AM_LINES lines read $am_unnest rows of their array in $am_plans plans (auto_explain): linear"
fi

# --- 3c. what a routed call costs the router, counted (router/test/cost.sh) ------------

cost_out=$(PG_BINDIR=$PG_BINDIR bash "$T/cost.sh" "$ROUTER" RED-CHAIR 0 "$WORK") || fail "cost: $cost_out"
step "cost: $(paste -sd';' <<< "$cost_out")"

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

# --- 4b. trust: what one role can do to another through the router ----------------
#
# Each check collects its failures in TRUST_FAILED and the section fails at
# its end, so that one run shows every check that fails.
TRUST_FAILED=()
tfail() { printf 'router: trust: FAILED: %s\n' "$*" >&2; TRUST_FAILED+=("$*"); }

# Background router sessions, driven through a FIFO: s_open NAME ROLE,
# s_send NAME SQL (returns at once), s_wait NAME [SECONDS] (until what was
# sent last has finished), s_close NAME (ends the session).
declare -A S_FD=() S_N=()
s_open() {
	local fd
	mkfifo "$WORK/$1.in"
	# (without the other sessions' FIFOs: each must see its own end)
	( for fd in "${S_FD[@]}"; do eval "exec $fd>&-"; done
	  exec "$PG_BINDIR/psql" -X -q -At -v VERBOSITY=verbose -U "$2" -d "$ROUTER" <"$WORK/$1.in" >"$WORK/$1.out" 2>&1 ) &
	S_PID[$1]=$!
	exec {fd}>"$WORK/$1.in"
	S_FD[$1]=$fd S_N[$1]=0
	s_send "$1" "SET client_min_messages = warning;"
}
s_send() {
	S_N[$1]=$(( S_N[$1] + 1 ))
	printf '%s\n\\echo __m%s__\n' "$2" "${S_N[$1]}" >&"${S_FD[$1]}"
}
s_wait() {
	local i
	for (( i = 0; i < ${2:-30} * 10; i++ )); do
		grep -qx "__m${S_N[$1]}__" "$WORK/$1.out" && return 0
		sleep 0.1
	done
	return 1
}
s_close() {
	[ -n "${S_PID[$1]:-}" ] || return 0
	eval "exec ${S_FD[$1]}>&-"
	wait "${S_PID[$1]}" 2>/dev/null || true
	unset "S_PID[$1]" "S_FD[$1]"
	rm -f "$WORK/$1.in"
}
BG_PIDS=()
# a key of partition $1 (SKUs and order ids hash alike)
key_of() { q "$ROUTER" -c "SELECT k FROM (SELECT '$2' || i k FROM generate_series(1, 500) i) x
	WHERE allocation.partition_of(k) = $1 ORDER BY k LIMIT 1"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
SILENT_PY=$T/silent_node.py

P=$(q "$ROUTER" -c "SELECT allocation.partition_of('TR-KEY-1')")
K=TR-KEY-1
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('tr-b1', '$K', 1000)" >/dev/null
Q=$(( (P + 1) % 16 ))
KQ=$(key_of "$Q" TR-Q-)
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('tr-b2', '$KQ', 1000)" >/dev/null

# --- 13. shadows: nothing on a caller's search_path runs inside the router ---
# A role owning schema public (on every role's default search_path, after
# pg_catalog) plants shadows of every operator and function the router's
# bodies use; every router function is then called by a superuser, an
# administrator and a user, with public after pg_catalog (the default) and
# before it.  A shadow that runs counts itself in public.hits.
"${PSQL[@]}" -d "$ROUTER" >/dev/null <<EOF
CREATE ROLE alloc_rt_evil LOGIN;
ALTER SCHEMA public OWNER TO alloc_rt_evil;
EOF
"${PSQL[@]}" -U alloc_rt_evil -d "$ROUTER" -f "$T/shadow.sql" 2>&1 | sed 's/^/router: trust: /'
hits() { q "$ROUTER" -c "SET search_path = pg_catalog" -c "SELECT coalesce(pg_sequence_last_value('public.hits'), 0)"; }
# the trap works: an unqualified expression of the caller's own meets a shadow
canary=$(q "$ROUTER" -c "SELECT 1::bigint & 1" >/dev/null; hits)
[ "$canary" -ge 1 ] || tfail "the shadows do not work (canary not counted)"
shadow_hits=()
for role in "$PGUSER" alloc_rt_admin alloc_rt_user; do
	"${PSQL[@]}" -At -U "$role" -d "$ROUTER" -v key="$K" -v part="$P" -f "$T/gen_calls.sql" > "$WORK/calls-$role.sql"
	for path in '"$user", public' 'public, pg_catalog'; do
		before=$(hits)
		"$PG_BINDIR/psql" -X -q -At -U "$role" -d "$ROUTER" -v VERBOSITY=verbose -c "SET search_path = $path" \
			-c 'SET client_min_messages = error' -f "$WORK/calls-$role.sql" >"$WORK/calls-$role.out" 2>&1 || true
		# a call the generator got wrong runs nothing: it proves nothing either
		! grep -q 'ERROR: *42883' "$WORK/calls-$role.out" ||
			tfail "as $role a generated call does not exist: $(grep -m 1 'ERROR: *42883' "$WORK/calls-$role.out")"
		if [ "$role" = "$PGUSER" ]; then		# the procedure, on partition 0 where it is
			"$PG_BINDIR/psql" -X -q -At -d "$ROUTER" -c "SET search_path = $path" -c 'SET client_min_messages = error' \
				-c "CALL allocation.set_partition_node(0, '$(q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = 0")')" \
				>/dev/null 2>&1 || tfail "set_partition_node failed with the shadows"
		fi
		after=$(hits)
		shadow_hits+=("$role[$path]: $(grep -c '^\\echo CALL' "$WORK/calls-$role.sql") calls, $(( after - before )) shadow runs")
		[ "$after" = "$before" ] || tfail "as $role with search_path $path the router ran $(( after - before )) shadow operators or functions"
	done
done
q "$ROUTER" -c "SELECT count(*) FROM pg_operator WHERE oprnamespace = 'public'::regnamespace" > "$WORK/nshadow"
"${PSQL[@]}" -d "$ROUTER" >/dev/null <<EOF
SET client_min_messages = warning;
ALTER SCHEMA public OWNER TO pg_database_owner;
DROP OWNED BY alloc_rt_evil CASCADE;
EOF
step "trust 13: $(cat "$WORK/nshadow") shadow operators (and functions) in public; ${shadow_hits[*]}"

# --- 14. every executable router function passes the pause ---
# With partition P paused by another session, each function the user and
# the administrator may execute that reaches a node (a PL/Proxy function,
# or one that calls one) must wait (55P03 under lock_timeout) when called
# with P's key or partition, or be refused by the router itself before any
# node is reached.  Generated from pg_proc.
q "$ROUTER" -f "$T/reach.sql" > "$WORK/reach"
s_open pauser "$PGUSER"
s_send pauser "BEGIN; SELECT allocation.pause_partition($P);"
s_wait pauser || tfail "could not pause partition $P"
gate_summary=()
for role in alloc_rt_admin alloc_rt_user; do
	"${PSQL[@]}" -At -U "$role" -d "$ROUTER" -v key="$K" -v part="$P" -f "$T/gen_calls.sql" > "$WORK/gcalls-$role.sql"
	"$PG_BINDIR/psql" -X -q -At -U "$role" -d "$ROUTER" -v VERBOSITY=verbose -c 'SET client_min_messages = error' \
		-c "SET lock_timeout = '200ms'" -f "$WORK/gcalls-$role.sql" > "$WORK/gout-$role" 2>&1 || true
	# per call: its name and the first line after it (a result or an error)
	awk '/^CALL /{ if (name) print name "\t" res; name = substr($0, 6); res = "ok"; next }
		 /ERROR:/ && res == "ok" { sub(/^.*ERROR:/, "ERROR:"); res = $0 } END { if (name) print name "\t" res }' "$WORK/gout-$role" > "$WORK/gres-$role"
	gated=0 refused=0 local_=0
	while IFS=$'\t' read -r name res; do
		if [[ "$res" == *" 42883: "* ]]; then
			tfail "as $role, the generated call of $name does not exist: $res"
		elif ! grep -qxF "$name" "$WORK/reach"; then
			local_=$(( local_ + 1 ))
		elif [[ "$res" == *" 55P03: "* ]]; then
			gated=$(( gated + 1 ))
		elif [[ "$res" == ERROR:* && "$res" != *"REMOTE ERROR"* && "$res" != *" 55P03: "* && "$res" != *08*: ]]; then
			refused=$(( refused + 1 ))
		else
			tfail "as $role, $name did not wait for the pause of partition $P: ${res}"
		fi
	done < "$WORK/gres-$role"
	gate_summary+=("$role: $gated wait, $refused refused by the router, $local_ local")
done
s_send pauser "COMMIT;"
s_close pauser
step "trust 14: partition $P paused: ${gate_summary[*]}"

# --- 14b. every PL/Proxy function gates the partitions its RUN ON names ---
# The RUN ON hashes take no gate of their own (the CLUSTER clause's gate is
# taken first, once); a CLUSTER clause gating another key than the hash's,
# or none, would pass 14 (one key for every argument there).  Generated
# from pg_proc with a key of a different partition in each argument
# (router/test/gate_cover.sql).
if cover=$(q "$ROUTER" -c 'SET client_min_messages = notice' -f "$T/gate_cover.sql" 2>&1); then
	step "trust 14b: ${cover##*NOTICE:  }: each RUN ON partition is gated by the function's CLUSTER clause"
else
	tfail "a RUN ON partition outside its CLUSTER clause's gate: $cover"
fi

# --- 15. a node that stops answering ---
# The bounds are the router's own (define_cluster's connect_timeout and
# query_timeout, set to SILENT_T seconds here), not the caller's: no
# statement_timeout is set.  (a) connecting: partition P15 points at a
# listener that accepts and never answers; (b) mid-call: at a relay to the
# real node that stops forwarding (both ways) when the call arrives.  Each
# for a routed call (allocate) and a call to every node (allocations),
# in a transaction of the user's: the error has its SQLSTATE (08001 or
# 08006) after more than SILENT_T and within SILENT_T + 5 seconds (a
# correctness bound: PL/Proxy checks once a second); while the call waits
# it holds the gate (pause_partition waits: 55P03 under lock_timeout), and
# once it failed the gate is free although the caller has not yet ended
# its (aborted: 25P02) transaction; after ROLLBACK the session routes again.
SILENT_T=3
P15=$P K15=$K
P15_CONN=$(q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = $P15")
P15_DB=$(sed -n 's/.*dbname=\([^ ]*\).*/\1/p' <<< "$P15_CONN")
python3 "$SILENT_PY" mute > "$WORK/mute.port" & BG_PIDS+=($!)
python3 "$SILENT_PY" relay "${PGHOST:-/tmp}/.s.PGSQL.${PGPORT:-5432}" > "$WORK/relay.port" & BG_PIDS+=($!)
for f in mute relay; do for i in $(seq 50); do [ -s "$WORK/$f.port" ] && break; sleep 0.1; done; done
MUTE_PORT=$(head -n 1 "$WORK/mute.port") RELAY_PORT=$(head -n 1 "$WORK/relay.port")
q "$ROUTER" -c "ALTER SERVER allocation_cluster OPTIONS (SET query_timeout '$SILENT_T')"
q "$ROUTER" -c "ALTER SERVER allocation_cluster OPTIONS (SET connect_timeout '$SILENT_T')" ||
	tfail "15: PL/Proxy refuses the option connect_timeout (not built with router/plproxy-timeouts.patch?)"
# silent_case NAME SQL SQLSTATE: one call to a silent node, checked as above
silent_case() {
	local name=$1 sql=$2 want=$3 t0 ms i got held freed after
	s_open "$name" alloc_rt_user
	s_send "$name" "SET application_name = 'rt-$name'; BEGIN;"
	s_wait "$name" || { tfail "15 $name: the session did not start"; s_close "$name"; return; }
	t0=$(now_ms)
	s_send "$name" "$sql;"
	# the call is running (it takes its gates before PL/Proxy starts)
	for i in $(seq 50); do
		[ "$(q "$ROUTER" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rt-$name' AND state = 'active'")" = 1 ] && break
		sleep 0.1
	done
	sleep 0.3
	held=$("$PG_BINDIR/psql" -X -At -v VERBOSITY=verbose -d "$ROUTER" -c "SET lock_timeout = '300ms'" -c 'BEGIN' \
		-c "SELECT allocation.pause_partition($P15)" -c 'ROLLBACK' 2>&1 | sed -n 's/.*ERROR: *\([0-9A-Z]\{5\}\):.*/\1/p' | head -n 1 || true)
	[ "$held" = 55P03 ] || tfail "15 $name: while the call waits, pause_partition($P15) did not wait for its gate (${held:-no error})"
	if ! s_wait "$name" $(( SILENT_T + 20 )); then
		tfail "15 $name: no error after $(( $(now_ms) - t0 )) ms (the bound is $(( SILENT_T + 5 )) s)"
		q "$ROUTER" -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'rt-$name'" >/dev/null
		s_close "$name"
		return
	fi
	ms=$(( $(now_ms) - t0 ))
	got=$(sed -n "/^__m2__\$/,/^__m3__\$/s/.*ERROR: *\([0-9A-Z]\{5\}\): \(.*\)/\1 \2/p" "$WORK/$name.out" | head -n 1 || true)
	[ "${got%% *}" = "$want" ] || tfail "15 $name: wanted $want, got: ${got:-no error} ($(tr '\n' ' ' < "$WORK/$name.out"))"
	[ "$ms" -gt $(( SILENT_T * 1000 )) ] && [ "$ms" -lt $(( (SILENT_T + 5) * 1000 )) ] ||
		tfail "15 $name: the error came after $ms ms, not within (${SILENT_T} s, $(( SILENT_T + 5 )) s]"
	# the failed call released the gate, before the caller's ROLLBACK
	freed=$("$PG_BINDIR/psql" -X -At -v VERBOSITY=verbose -d "$ROUTER" -c "SET lock_timeout = '2s'" -c 'BEGIN' \
		-c "SELECT allocation.pause_partition($P15)" -c 'ROLLBACK' 2>&1 | grep -o 'ERROR: *[0-9A-Z]\{5\}' | head -n 1 || true)
	[ -z "$freed" ] || tfail "15 $name: after the error pause_partition($P15) still waits for the gate ($freed)"
	s_send "$name" "SELECT 1;"
	s_send "$name" "ROLLBACK;"
	s_send "$name" "SELECT allocation.allocate('after-$name', '$KQ', 1);"
	s_wait "$name" || tfail "15 $name: the session does not go on"
	after=$(sed -n '/^__m3__$/,/^__m4__$/p' "$WORK/$name.out" | grep -o 'ERROR: *[0-9A-Z]\{5\}' | head -n 1 || true)
	[ "$after" = "ERROR:  25P02" ] || [ "$after" = "ERROR: 25P02" ] ||
		tfail "15 $name: the caller's transaction is not aborted after the error (${after:-no error})"
	grep -qx 'tr-b2' "$WORK/$name.out" || tfail "15 $name: after ROLLBACK the session does not route ($(tail -n 3 "$WORK/$name.out" | tr '\n' ' '))"
	s_close "$name"
	silent_steps+=("$name: ${got%% *} after $ms ms")
}
silent_steps=()
q "$ROUTER" -c "CALL allocation.set_partition_node($P15, 'host=127.0.0.1 port=$MUTE_PORT dbname=$P15_DB')"
silent_case connect-routed "SELECT allocation.allocate('silent-1', '$K15', 1)" 08001
silent_case connect-all "SELECT count(*) FROM allocation.allocations('silent-2')" 08001
q "$ROUTER" -c "CALL allocation.set_partition_node($P15, 'host=127.0.0.1 port=$RELAY_PORT dbname=$P15_DB')"
ok_through_relay=$(q "$ROUTER" -c "SELECT allocation.allocate('relay-ok', '$K15', 1)" 2>&1)
[ "$ok_through_relay" = tr-b1 ] || tfail "15: a call through the relay does not work before it goes silent: $ok_through_relay"
silent_case query-routed "SELECT allocation.allocate('SILENT-3', '$K15', 1)" 08006
silent_case query-all "SELECT count(*) FROM allocation.allocations('SILENT-4')" 08006
for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
BG_PIDS=()
q "$ROUTER" -c "CALL allocation.set_partition_node($P15, '$P15_CONN')"
q "$ROUTER" -c "ALTER SERVER allocation_cluster OPTIONS (SET query_timeout '60')"
q "$ROUTER" -c "ALTER SERVER allocation_cluster OPTIONS (SET connect_timeout '10')" 2>/dev/null || true
step "trust 15: a silent node (connect_timeout and query_timeout ${SILENT_T} s, no statement_timeout): ${silent_steps[*]}; checked per call: the gate held while waiting and free after the error, the caller's transaction aborted"

# --- 16a. a role without allocation rights cannot take the gates ---
s_open nobody alloc_rt_nobody
s_send nobody "SELECT pg_advisory_lock(7261, -1); SELECT count(pg_advisory_lock(7261, p)) FROM generate_series(0, 1023) p;"
s_wait nobody || tfail "the role without rights could not run pg_advisory_lock"
for sql in "SELECT FROM allocation_router.partitions FOR UPDATE" "BEGIN; LOCK TABLE allocation_router.partitions; COMMIT" \
	"SELECT allocation.pause_partition($P)" "SELECT allocation_router.gate_all()" "SELECT allocation_router.gate('$K')"; do
	got=$(as alloc_rt_nobody "$sql")
	[ "$got" = 42501 ] || tfail "a role without rights: $sql gave ${got:-nothing}, not 42501"
done
for sql in "SELECT count(*) FROM allocation.stock" "SELECT allocation.allocate('tr-nobody', '$K', 1)" \
	"SELECT * FROM allocation.allocations('tr-nobody')"; do
	got=$(as alloc_rt_user "SET lock_timeout = '2s'; $sql")
	[ "$got" = 00000 ] || tfail "while a role without rights holds the old gate keys, the user's $sql gave $got"
done
s_close nobody
step "trust 16a: a role without allocation rights holds every advisory key the router used, is refused the gates (42501), and the user's calls go on"

# --- 16b. a routed call, then a call to every node, against a pause ---
# (i) the pause comes between the two calls; (ii) before the first.
# No session may see a deadlock (40P01); every call completes.
for order in between before; do
	s_open x alloc_rt_user
	s_open y "$PGUSER"
	s_send x "BEGIN; SET LOCAL lock_timeout = '20s';"
	s_send y "BEGIN; SET LOCAL lock_timeout = '20s';"
	s_wait x; s_wait y
	if [ "$order" = between ]; then
		s_send x "SELECT allocation.allocate('tr-dl-$order', '$K', 1);"; s_wait x
		s_send y "SELECT allocation.pause_partition($P);"; sleep 1
		s_send x "SELECT count(*) FROM allocation.allocations('tr-dl-$order'); COMMIT;"
		s_wait x 30 || tfail "($order) the transaction of the user did not finish"
		s_wait y 30 || tfail "($order) the pause did not finish"
		s_send y "COMMIT;"
	else
		s_send y "SELECT allocation.pause_partition($P);"; s_wait y
		s_send x "SELECT allocation.allocate('tr-dl-$order', '$K', 1);"
		s_send x "SELECT count(*) FROM allocation.allocations('tr-dl-$order'); COMMIT;"
		sleep 1
		s_send y "COMMIT;"
		s_close y
		s_wait x 30 || tfail "($order) the transaction of the user did not finish"
	fi
	s_close x; s_close y
	grep -h 'ERROR' "$WORK/x.out" "$WORK/y.out" | sed "s/^/($order) /" > "$WORK/dl.err" || true
	[ ! -s "$WORK/dl.err" ] || tfail "a routed call then a call to every node, pause $order: $(cat "$WORK/dl.err")"
done
step "trust 16b: a routed call and a call to every node in one transaction, with a pause between them or before: no deadlock"

# --- 16c. allocate_many across a move, and a deadlock with a pause ---
# allocate_many hashes each line without the routing check: the gates
# its CLUSTER clause took (in partition order, then the routing check)
# must keep every line on the node the map names once the gates are held.
# (i) A user session that has routed before waits in allocate_many for
# a pause of P while P is pointed at node 5 (which lacks P's SKU); once
# the pause ends, the line of P must reach node 5 (ZA001 from node 5),
# not its old node.  (ii) The user holds Q's gate (a routed call in its
# transaction) and waits in allocate_many for P, paused; the pauser then
# pauses Q too: a deadlock, whose 40P01 reaches the user's session as
# such (and the pauser's call completes).
blocked() {		# blocked APP: the session named APP waits for a lock
	local i
	for i in $(seq 100); do
		[ "$(q "$ROUTER" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND wait_event_type = 'Lock'")" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
P_CONN=$(q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = $P")
s_open am alloc_rt_user
s_send am "SET application_name = 'rt-am'; SELECT count(*) FROM allocation.allocate_many(ARRAY[('tr-am-0', '$KQ', 1), ('tr-am-0', '$K', 1)]::allocation.order_line[]);"
s_wait am || tfail "16c: allocate_many before the move failed"
s_open pauser "$PGUSER"
s_send pauser "BEGIN; SELECT allocation.pause_partition($P);"; s_wait pauser
s_send am "SELECT * FROM allocation.allocate_many(ARRAY[('tr-am-1', '$KQ', 1), ('tr-am-1', '$K', 1), ('tr-am-1', '$KQ', 1)]::allocation.order_line[]);"
blocked rt-am || tfail "16c (i): allocate_many with a line of partition $P did not wait for its pause"
q "$ROUTER" -c "CALL allocation.set_partition_node($P, '$(node_conn 5)')"
s_send pauser "COMMIT;"; s_close pauser
s_wait am || tfail "16c (i): allocate_many did not finish after the pause"
s_close am
q "$ROUTER" -c "CALL allocation.set_partition_node($P, '$P_CONN')"
grep -q "ZA001: .*\[${NODES[4]}\] REMOTE ERROR: invalid sku \"$K\"" "$WORK/am.out" ||
	tfail "16c (i): the line of partition $P, held back by its pause while it moved to node 5, did not reach node 5: $(grep -v '^__m' "$WORK/am.out" | head -n 3 | tr '\n' ' ')"
# (the user's session checks for a deadlock first: the pauser's check
# comes much later, and the user's only once the pauser waits too)
s_open am "$PGUSER"
s_open pauser "$PGUSER"
s_send am "SET deadlock_timeout = '3s'; SET ROLE alloc_rt_user; SET application_name = 'rt-am';"
s_send am "BEGIN; SELECT allocation.allocate('tr-am-2', '$KQ', 1);"; s_wait am
s_send pauser "SET deadlock_timeout = '60s'; BEGIN; SELECT allocation.pause_partition($P);"; s_wait pauser
s_send am "SELECT * FROM allocation.allocate_many(ARRAY[('tr-am-3', '$K', 1), ('tr-am-3', '$KQ', 1)]::allocation.order_line[]);"
blocked rt-am || tfail "16c (ii): allocate_many did not wait for the pause of $P"
s_send pauser "SELECT allocation.pause_partition($Q); COMMIT;"
s_wait am 30 || tfail "16c (ii): the user's session did not finish"
s_wait pauser 30 || tfail "16c (ii): the pauser did not finish"
s_send am "ROLLBACK;"; s_close am; s_close pauser
grep -q 'ERROR: *40P01: deadlock detected' "$WORK/am.out" ||
	tfail "16c (ii): the user's allocate_many in a deadlock with a pause did not end with 40P01: $(grep -v '^__m' "$WORK/am.out" | head -n 3 | tr '\n' ' ')"
! grep -q 'ERROR' "$WORK/pauser.out" || tfail "16c (ii): the pauser failed: $(grep ERROR "$WORK/pauser.out" | head -n 2)"
step "trust 16c: allocate_many held back by a pause reaches the partition's new node; in a deadlock with a pause its caller gets 40P01"

# --- read-only transactions ---
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.create_order('TR-RO-1')" \
	-c "SELECT allocation.register_consumer('rt-ro')" >/dev/null
for role in alloc_rt_user alloc_rt_admin; do
	for sql in "SELECT count(*) FROM allocation.stock" "SELECT count(*) FROM allocation.products" \
		"SELECT count(*) FROM allocation.allocations_view" "SELECT * FROM allocation.allocations('tr-nobody')" \
		"SELECT allocation.order_status('TR-RO-1')" "SELECT allocation.shard_key('$K')"; do
		got=$(as "$role" "BEGIN READ ONLY; $sql; COMMIT")
		[ "$got" = 00000 ] || tfail "as $role in a READ ONLY transaction: $sql gave $got"
	done
done
for sql in "SELECT count(*) FROM allocation.outbox" "SELECT count(*) FROM allocation.read_events('rt-ro', 5)" \
	"SELECT * FROM allocation.check_invariants()" "SELECT * FROM allocation.duplicate_batch_references()" \
	"SELECT * FROM allocation.check_placement()"; do
	got=$(as alloc_rt_admin "BEGIN READ ONLY; $sql; COMMIT")
	[ "$got" = 00000 ] || tfail "as the administrator in a READ ONLY transaction: $sql gave $got"
done
for sql in "SELECT allocation.allocate('tr-ro-w', '$K', 1)" "SELECT allocation.change_batch_quantity('tr-b1', 999)" \
	"SELECT allocation.create_order('TR-RO-2')"; do
	got=$(as alloc_rt_admin "BEGIN READ ONLY; $sql; COMMIT")
	[ "$got" = 25006 ] || tfail "a write in a READ ONLY transaction: $sql gave $got, not 25006"
done
[ "$(q "$ROUTER" -c "SELECT count(*) FROM allocation.allocations_view WHERE orderid = 'tr-ro-w'")" = 0 ] ||
	tfail "a write in a READ ONLY transaction reached its node"
# a pause holds back read-only calls too
s_open pauser "$PGUSER"
s_send pauser "BEGIN; SELECT allocation.pause_partition($P);"; s_wait pauser
got=$(as alloc_rt_user "BEGIN READ ONLY; SET LOCAL lock_timeout = '300ms'; SELECT count(*) FROM allocation.stock; COMMIT")
[ "$got" = 55P03 ] || tfail "a read in a READ ONLY transaction did not wait for a pause: $got"
s_send pauser "COMMIT;"; s_close pauser
step "trust: READ ONLY transactions read through the router (and wait for a pause); writes there are refused with 25006"

# --- the generation a session last saw cannot be forged ---
# A session in a REPEATABLE READ transaction sets every allocation_router.*
# setting to the next generation before partition Q is pointed at node 5:
# its next call of Q must still go to node 5.
Q_CONN=$(q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = $Q")
coproc STALE { exec "$PG_BINDIR/psql" -X -q -At -d "$ROUTER" 2>&1; }
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
st "SET client_min_messages = warning; SELECT allocation.allocate('forge-0', '$KQ', 1);" >/dev/null
st "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT allocation.allocate('forge-1', '$K', 1);" >/dev/null
st "SELECT count(set_config(name, ((pg_sequence_last_value('allocation_router.routing') >> 11) + 1)::text, false))
	FROM pg_settings WHERE name LIKE 'allocation_router.%';" >/dev/null
q "$ROUTER" -c "CALL allocation.set_partition_node($Q, '$(node_conn 5)')"
got=$(st "SELECT allocation.allocate('forge-2', '$KQ', 1); ROLLBACK;")
q "$ROUTER" -c "CALL allocation.set_partition_node($Q, '$Q_CONN')"
printf '\\q\n' >&"$st_out"
wait "$STALE_PID_SAVED" 2>/dev/null || true
STALE_PID_SAVED=
grep -q "\[${NODES[4]}\] REMOTE ERROR: invalid sku \"$KQ\"" <<< "$got" ||
	tfail "a session that forged its generation setting kept the old map: $got"
step "trust: a session that sets allocation_router.* to the next generation still follows set_partition_node"

[ ${#TRUST_FAILED[@]} -eq 0 ] || fail "trust: ${#TRUST_FAILED[@]} check(s) failed: ${TRUST_FAILED[*]}"
if [ -n "${ROUTER_TEST_TRUST_ONLY:-}" ]; then step "trust only: done"; exit 0; fi

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
# Every event the source node records for partition B during the workload
# must be on node 5 afterwards: a call that reached the source after the
# move's export (a gate that does not cover the call's partition) would
# commit there and be deleted with the partition, without an error that
# pgbench or check_invariants() could see.  An audit trigger on the
# source's outbox keeps the ids.
B_SRC_DB=${NODES[$((B_SRC - 1))]}
q "$B_SRC_DB" >/dev/null <<'EOF'
CREATE TABLE public.rt_audit (id uuid, aggregatetype text, aggregateid text);
GRANT INSERT ON public.rt_audit TO PUBLIC;
CREATE FUNCTION public.rt_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.rt_audit VALUES (NEW.id, NEW.aggregatetype, NEW.aggregateid);
	RETURN NULL;
END $$;
CREATE TRIGGER rt_audit AFTER INSERT ON allocation.outbox FOR EACH ROW EXECUTE FUNCTION public.rt_audit();
EOF
step "pgbench: $CLIENTS clients, ${SECONDS_TO_RUN}s through the router; partition $B (SKUs $B_SKUS) moves from node $B_SRC to node 5 meanwhile"
(cd "$T/pgbench" && exec "${PGBENCH[@]}" -n -c "$CLIENTS" -j 2 -T "$SECONDS_TO_RUN" -D n=0 -D m=0 \
	-f allocate.sql@40 -f deallocate.sql@15 -f read.sql@15 -f allocate_many.sql@10 \
	-f change_quantity.sql@10 -f add_batch.sql@10 "$ROUTER") > "$WORK/pgbench.out" 2>&1 &
PGBENCH_PID=$!
# and two clients that only allocate the moving partition's SKUs, for
# order ids of other partitions: the mixed clients soon all wait for the
# pause (a call to every node waits for any pause), these keep calling,
# and a gate taken on another argument than the SKU would let them through
cat > "$WORK/allocate_b.sql" <<EOF
\set n random(1, 1000000000)
SELECT allocation.allocate(o, (ARRAY[$B_SKUS])[1 + :n % $(tr -cd ',' <<< "$B_SKUS" | wc -c) + 1], 1)
  FROM (SELECT 'ob-' || :client_id || '-' || :n || '-' || i AS o FROM generate_series(1, 64) i) x
 WHERE allocation.partition_of(o) <> $B LIMIT 1;
EOF
"${PGBENCH[@]}" -n -c 2 -j 1 -T "$SECONDS_TO_RUN" -f "$WORK/allocate_b.sql" "$ROUTER" > "$WORK/pgbench2.out" 2>&1 &
PGBENCH2_PID=$!
sleep $(( SECONDS_TO_RUN / 3 ))
moved_at=$(q "$ROUTER" -c "SELECT clock_timestamp()")
bash "$ROOT/router/move_partition.sh" "$(conn "$ROUTER")" "$B" "$(node_conn 5)" | sed 's/^/router: /'
rc=0
wait "$PGBENCH_PID" || rc=$?
PGBENCH_PID=
wait "$PGBENCH2_PID" || rc=$?
PGBENCH2_PID=
cat "$WORK/pgbench2.out" >> "$WORK/pgbench.out"
grep -E '^(number of (transactions actually processed|failed transactions)|latency average|tps)' \
	"$WORK/pgbench.out" | sed 's/^/router:   /' || true
if [ "$rc" -ne 0 ] || grep -qE 'aborted|ERROR|FATAL' "$WORK/pgbench.out"; then
	grep -E 'aborted|ERROR|FATAL|error' "$WORK/pgbench.out" | head -n 20 >&2 || true
	fail "a pgbench client saw an error (exit status $rc)"
fi
[ "$(grep -c '^number of failed transactions: 0 ' "$WORK/pgbench.out")" = 2 ] || fail "pgbench reported failed transactions"
q "$B_SRC_DB" -c "\\copy (SELECT id FROM public.rt_audit WHERE aggregatetype = 'product' AND aggregateid IN ($B_SKUS)) TO '$WORK/audited'" \
	-c 'DROP TRIGGER rt_audit ON allocation.outbox' -c 'DROP TABLE public.rt_audit' -c 'DROP FUNCTION public.rt_audit()' >/dev/null
n_audited=$(wc -l < "$WORK/audited")
[ "$n_audited" -gt 0 ] || fail "no event of partition $B on node $B_SRC during the workload (the audit saw nothing)"
lost=$(q "${NODES[4]}" -c 'CREATE TEMP TABLE audited (id uuid)' -c "\\copy audited FROM '$WORK/audited'" \
	-c 'SELECT count(*) FROM audited a WHERE NOT EXISTS (SELECT FROM allocation.outbox o WHERE o.id = a.id)')
[ "$lost" = 0 ] || fail "$lost of the $n_audited events node $B_SRC recorded for partition $B during the workload are not on node 5: calls reached the old node during the move"
after_move=$(q "${NODES[4]}" -c "SELECT count(*) FROM allocation.outbox WHERE aggregateid IN ($B_SKUS)
	AND type = 'Allocated' AND occurred_at > '$moved_at'")
[ "$after_move" -gt 0 ] || fail "no allocation of partition $B reached node 5 after the move"
for db in "${NODES[@]}"; do
	v=$(q "$db" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
	[ -z "$v" ] || { printf '%s\n' "$v" | head -n 20 >&2; fail "check_invariants() on $db after the workload"; }
done
v=$(q "$ROUTER" -F ' | ' -c 'SELECT * FROM allocation.check_invariants()')
[ -z "$v" ] || { printf '%s\n' "$v" | head -n 20 >&2; fail "the router's check_invariants() after the workload"; }
step "after the workload: check_invariants() empty on all 5 nodes and on the router (placement, duplicate references); $after_move allocations of partition $B on node 5 after its move; none of the $n_audited events node $B_SRC recorded for partition $B was lost"
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

# --- synchronous_commit off for the application, as router/README.md advises ---
# Its command, run for alloc_rt_user, must turn the flush off on the
# router only: not on a node of the same server, which PL/Proxy reaches
# as the same role.
adv=$(grep -o 'ALTER ROLE <application role>[^`]*SET synchronous_commit = off' "$ROOT/router/README.md" | head -n 1)
[ -n "$adv" ] || fail "router/README.md no longer advises synchronous_commit = off: adapt this check"
adv=${adv//<application role>/alloc_rt_user}
q postgres -c "${adv//<router database>/$ROUTER}" >/dev/null
sc_router=$(q "$ROUTER" -U alloc_rt_user -c 'SHOW synchronous_commit')
sc_node=$(q "${NODES[0]}" -U alloc_rt_user -c 'SHOW synchronous_commit')
q postgres -c "ALTER ROLE alloc_rt_user RESET synchronous_commit" -c "ALTER ROLE alloc_rt_user IN DATABASE $ROUTER RESET synchronous_commit" >/dev/null
[ "$sc_router" = off ] || fail "the README's synchronous_commit advice ($adv) leaves it $sc_router on the router"
[ "$sc_node" = on ] || fail "the README's synchronous_commit advice ($adv) turns it $sc_node for the role's sessions on a node of the same server"
step "synchronous_commit: the README's advice turns it off on the router only (a node of the same server keeps on)"

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
[ "$(sqlstate "SELECT allocation.define_cluster(ARRAY['dbname=a'], 1, 60, NULL)")" = 22004 ] ||
	fail "a NULL connect_timeout is not 22004"
[ "$(sqlstate "SELECT allocation.define_cluster(ARRAY['dbname=a'], 1, connect_timeout => -1)")" = 22023 ] ||
	fail "a negative connect_timeout is not 22023"
[ "$(sqlstate "SELECT allocation.define_cluster(ARRAY['dbname=a'], 1, query_timeout => -1)")" = 22023 ] ||
	fail "a negative query_timeout is not 22023"
# the timeouts land on the server as PL/Proxy options; connect_timeout 0 leaves its option out
q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['$(node_conn 1)'], 1, connect_timeout => 0)" >/dev/null
[ "$(q "$ROUTER" -c "SELECT array_to_string(array(SELECT o FROM unnest(srvoptions) o WHERE o LIKE '%timeout%' ORDER BY o), ' ')
	FROM pg_foreign_server WHERE srvname = 'allocation_cluster'")" = "query_timeout=60" ] || fail "connect_timeout 0 did not leave the option out"
q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.drop_cluster()" >/dev/null
q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['$(node_conn 1)'], 1)" >/dev/null
[ "$(q "$ROUTER" -c "SELECT array_to_string(array(SELECT o FROM unnest(srvoptions) o WHERE o LIKE '%timeout%' ORDER BY o), ' ')
	FROM pg_foreign_server WHERE srvname = 'allocation_cluster'")" = "connect_timeout=10 query_timeout=60" ] ||
	fail "define_cluster's default timeouts are not on the server"
[ "$(q "$ROUTER" -c "SELECT allocation.partition_of('RED-CHAIR')")" = 0 ] || fail "one partition: not 0"
step "cluster definition: defined twice 42710, bad arguments 22004/22023 (timeouts included), no cluster 55000; default timeouts connect 10 s, query 60 s"

step "done in $(( $(date +%s) - started ))s"
