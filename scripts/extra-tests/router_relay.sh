#!/usr/bin/env bash
# scripts/extra-tests/router_relay.sh - the relays of a router cluster, as
# router/README.md starts them: one outbound relay per node (--no-inbound)
# and one inbound relay on the router (--no-outbound), with a real
# redis-server, two nodes and a router of 16 partitions.
#
#   refuse    a relay that would read events from the router database
#             exits 1 and names the topology
#   streams   generated commands (two ChangeBatchQuantity per batch, the
#             batches spread over both nodes) on the stream
#             change_batch_quantity: each runs exactly once, on the node
#             that holds its batch (the node's BatchQuantityChanged events
#             are the commands' quantities, in order); the router relay
#             executed every one, the consumer group has nothing pending
#             and one consumer; every event reaches Redis
#   pubsub    the same on the channel change_batch_quantity: one receiver
#             (the router relay) per message
#   move      (both modes) a partition moves to the other node
#             (router/move_partition.sh) while its import is held back by a
#             lock, so the pause lasts; a command for a batch of that
#             partition sent during the pause changes nothing while the
#             pause lasts, then runs once, on the new node; nothing of it
#             on the old node
#   old       the topology this replaces (every node's relay also takes
#             commands on its own node): the same checks find lost
#             commands in streams mode (ZA002 on the node that lacks the
#             batch, acknowledged) and, in pub/sub mode, a command run on
#             the old node during the pause and lost by the move; the test
#             requires that it loses some (so that it can fail)
#   duplicates (both modes) messages sent three times with one message_id
#             each run once on their node, and the router's relay logs
#             the repeats as skipped duplicates, not as executed
#
# ROUTER_RELAY_TOPOLOGY=old runs the strict checks against the old
# topology instead (they fail: the way to see this test fail).
# Environment as "make test" exports it: PGHOST, PGPORT, PGUSER,
# PG_BINDIR or PG_CONFIG, ALLOC_ROOT; RELAY_BIN (default
# relay/allocation-relay).  About 70 s.
set -uo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT" || exit 1

RELAY=${RELAY_BIN:-$ROOT/relay/allocation-relay}
STRICT_TOPOLOGY=${ROUTER_RELAY_TOPOLOGY:-new}
if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir) || { echo "router_relay: set PG_BINDIR or PG_CONFIG" >&2; exit 1; }
fi
export PG_BINDIR PGUSER=${PGUSER:-postgres}
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)

for tool in redis-server redis-cli; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "router_relay: $tool not found (Debian: redis-server; run 'make deps')" >&2; exit 1; }
done
[ -x "$RELAY" ] || { echo "router_relay: $RELAY not built (make relay)" >&2; exit 1; }
[ "$("${PSQL[@]}" -d postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name IN ('plproxy', 'allocation_router')")" = 2 ] || {
	echo "router_relay: skipped: plproxy or allocation_router is not installed (make deps; make install)"
	exit 77
}

NODES=(alloc_rr_node1 alloc_rr_node2)
ROUTER=alloc_rr_router
ROLE=alloc_rr_relay
WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-router-relay.XXXXXX")
REDIS_PID=
REDIS_PORT=
RELAY_PIDS=()
BG_PIDS=()
PHASE=
T0=$(date +%s.%N)

# --- results -------------------------------------------------------------------

npass=0
nfail=0
ok() { npass=$((npass + 1)); printf 'ok %d - %s\n' $((npass + nfail)) "$1"; }
not_ok() {
	nfail=$((nfail + 1))
	printf 'not ok %d - %s\n' $((npass + nfail)) "$1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$2"
}
is() { if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3" "got '$1', want '$2'"; fi; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- processes -------------------------------------------------------------------

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# stop PID: SIGTERM, wait at most 5 s, then SIGKILL
stop() {
	local pid=$1 _i
	{
		alive "$pid" || { wait "$pid"; return 0; }
		kill -TERM "$pid"
		for _i in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
		alive "$pid" && kill -KILL "$pid"
		wait "$pid"
	} 2>/dev/null
	return 0
}
stop_relays() {
	local p
	for p in "${RELAY_PIDS[@]}"; do stop "$p"; done
	RELAY_PIDS=()
}

cleanup() {
	local rc=$? p db f
	trap - EXIT INT TERM
	stop_relays
	for p in "${BG_PIDS[@]}"; do stop "$p"; done
	stop "$REDIS_PID"
	for db in "$ROUTER" "${NODES[@]}"; do
		"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
			-c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
	done
	"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' -c "DROP ROLE IF EXISTS $ROLE" >/dev/null 2>&1
	if [ "$nfail" -gt 0 ] || [ "$rc" -ne 0 ]; then
		for f in "$WORK"/*.log; do
			[ -f "$f" ] || continue
			printf '\n---- last lines of %s ----\n' "$(basename "$f")"
			tail -n 25 "$f"
		done
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() {
	local limit=$1 _i
	shift
	for _i in $(seq 1 $((limit * 10))); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}

rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
redis_up() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }
start_redis() {
	local port _try
	mkdir -p "$WORK/redis"
	for _try in 1 2 3 4 5 6 7 8; do
		port=$(( 20000 + (RANDOM % 20000) ))
		redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/redis" --save '' \
			--appendonly no --daemonize no --protected-mode yes >> "$WORK/redis.out" 2>&1 &
		REDIS_PID=$!
		REDIS_PORT=$port
		if wait_until 5 redis_up && alive "$REDIS_PID"; then
			return 0
		fi
		stop "$REDIS_PID"
	done
	echo "router_relay: could not start redis-server" >&2
	return 1
}

sql() { "${PSQL[@]}" -d "$1" -c "$2"; }
log_count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }
# how PL/Proxy (and the relays) reach a node: the cluster's socket
conn() { printf '%sport=%s dbname=%s' "${PGHOST:+host=$PGHOST }" "${PGPORT:-5432}" "$1"; }

# relay LOG ARGS...: a relay in the background (as the relay role)
relay() {
	local log=$1
	shift
	"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --backoff-max 1 --poll-interval 0.5 \
		"$@" >> "$WORK/$log.log" 2>&1 &
	RELAY_PIDS+=($!)
}

# fresh_cluster: two nodes and a router of 16 partitions (8 on each node),
# an empty Redis
fresh_cluster() {
	local db
	for db in "$ROUTER" "${NODES[@]}"; do
		"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
			-c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" -c "CREATE DATABASE \"$db\"" || return 1
	done
	for db in "${NODES[@]}"; do
		sql "$db" 'CREATE EXTENSION allocation' >/dev/null || return 1
	done
	"${PSQL[@]}" -d "$ROUTER" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE' >/dev/null &&
		sql "$ROUTER" "SELECT allocation.define_cluster(ARRAY['$(conn "${NODES[0]}")', '$(conn "${NODES[1]}")'], 16)" >/dev/null &&
		rcli FLUSHALL >/dev/null
}

# start_topology TOPOLOGY MODE: the relays (logs $WORK/$PHASE-*.log), and
# wait until they listen
#   new  one relay per node, events only; one relay on the router, commands only
#   old  one relay per node, events and the node's commands (what the
#        router's README used to start)
start_topology() {
	local topo=$1 mode=$2 i receivers
	for i in 1 2; do
		if [ "$topo" = new ]; then
			relay "$PHASE-node$i" --dsn "dbname=${NODES[$((i - 1))]} user=$ROLE" --mode "$mode" --no-inbound
		else
			relay "$PHASE-node$i" --dsn "dbname=${NODES[$((i - 1))]} user=$ROLE" --mode "$mode" \
				--consumer allocation-relay
		fi
	done
	if [ "$topo" = new ]; then
		relay "$PHASE-router" --dsn "dbname=$ROUTER user=$ROLE" --mode "$mode" --no-outbound \
			--consumer router-inbound
		receivers=1
	else
		receivers=2
	fi
	# every relay connected to both sides, and the inbound ones listening
	wait_until 10 sh -c "[ \$(cat $WORK/$PHASE-*.log | grep -c 'postgres: connected') -ge ${#RELAY_PIDS[@]} ]" || return 1
	wait_until 10 sh -c "[ \$(cat $WORK/$PHASE-*.log | grep -c 'redis: connected') -ge ${#RELAY_PIDS[@]} ]" || return 1
	if [ "$mode" = pubsub ]; then
		wait_until 10 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB change_batch_quantity | tail -n 1)\" -ge $receivers ]"
	else
		wait_until 10 sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT XINFO GROUPS change_batch_quantity 2>/dev/null | grep -qx allocation"
	fi
}

# send MODE BODY: one command message on change_batch_quantity
send() {
	if [ "$1" = pubsub ]; then
		rcli PUBLISH change_batch_quantity "$2" >/dev/null
	else
		rcli XADD change_batch_quantity '*' data "$2" >/dev/null
	fi
}

# the node (1 or 2) that holds batch $1, "" when none, "1 2" when both
node_of_batch() {
	local i out=
	for i in 1 2; do
		[ "$(sql "${NODES[$((i - 1))]}" "SELECT count(*) FROM allocation.batches WHERE reference = '$1'")" = 0 ] ||
			out="$out${out:+ }$i"
	done
	printf '%s' "$out"
}
# the quantities of batch $2's BatchQuantityChanged events on node $1, in order
qty_events() {
	sql "${NODES[$(($1 - 1))]}" "SELECT coalesce(string_agg(payload->>'qty', ',' ORDER BY aggregate_seq), '')
	  FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload->>'ref' = '$2'"
}

# --- set up ----------------------------------------------------------------------

start_redis || exit 1
"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' -c "DROP ROLE IF EXISTS $ROLE" \
	-c "CREATE ROLE $ROLE LOGIN IN ROLE allocation_admin" || exit 1
echo "# work directory $WORK, redis on port $REDIS_PORT"

# --- a relay that would read events from the router is refused ---------------------

fresh_cluster || exit 1
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --dsn "dbname=$ROUTER user=$ROLE" --backoff-max 1 \
	> "$WORK/refused.log" 2>&1 &
pid=$!
BG_PIDS+=("$pid")
wait_until 10 sh -c "! kill -0 $pid 2>/dev/null"
if alive "$pid"; then
	stop "$pid"
	rc=running
else
	wait "$pid"
	rc=$?
fi
is "$rc" 1 "a relay with outbound events on the router database exits 1"
is "$(log_count "$WORK/refused.log" "hint: run one relay with --no-outbound against the router")" 1 \
	"... and its hint names the topology"
is "$(sql "${NODES[0]}" "SELECT count(*) FROM allocation.consumers")" 0 \
	"... having registered no consumer on the nodes"

# --- every command once, on its node, through the router -----------------------------

# run_commands TOPOLOGY MODE N: N batches (generated names, both nodes),
# two commands each; prints "lost misplaced" (commands not run exactly
# once on their batch's node, batches not on one node) and records checks
# when TOPOLOGY is the strict one
run_commands() {
	local topo=$1 mode=$2 n=$3 i v ref node lost=0 expected got spread strict=0 log handled
	[ "$topo" = "$STRICT_TOPOLOGY" ] && strict=1
	PHASE=commands-$topo-$mode
	echo 0 > "$WORK/lost"
	fresh_cluster || return 1
	for i in $(seq 1 "$n"); do
		sql "$ROUTER" "SELECT allocation.add_batch('t-$mode-$i', 'TOPO-$mode-$i', 100)" >/dev/null || return 1
	done
	spread=$(for i in $(seq 1 "$n"); do node_of_batch "t-$mode-$i"; echo; done | sort | uniq -c | awk '{ printf "%s%s on node %s", s, $1, $2; s = ", " }')
	start_topology "$topo" "$mode" || { not_ok "$topo/$mode: the relays started"; stop_relays; return 1; }
	for i in $(seq 1 "$n"); do
		send "$mode" "{\"batchref\": \"t-$mode-$i\", \"qty\": $((50 + i))}"
	done
	for i in $(seq 1 "$n"); do
		send "$mode" "{\"batchref\": \"t-$mode-$i\", \"qty\": $((70 + i))}"
	done
	# every command handled (executed or skipped) by some relay
	# (old topology in pub/sub: both nodes' relays get every message)
	handled=$((2 * n))
	[ "$topo/$mode" != old/pubsub ] || handled=$((4 * n))
	wait_until 20 sh -c "[ \$(cat $WORK/$PHASE-*.log | grep -cE 'inbound: (ChangeBatchQuantity \\{|skipped)') -ge $handled ]"
	sleep 0.5
	for i in $(seq 1 "$n"); do
		ref=t-$mode-$i
		node=$(node_of_batch "$ref")
		expected="$((50 + i)),$((70 + i))"
		got=$( [ -n "$node" ] && [ "${node#* }" = "$node" ] && qty_events "$node" "$ref")
		[ "$got" = "$expected" ] || {
			# the commands of this batch that did not run exactly once
			for v in $((50 + i)) $((70 + i)); do
				[ "$(tr ',' '\n' <<< "$got" | grep -cx "$v")" = 1 ] || lost=$((lost + 1))
			done
			[ "$got" = "$expected" ] || [ "$lost" -gt 0 ] || lost=1	# right ones, wrong order
			[ "$strict" = 0 ] || printf '#   %s on node %s: quantities %s, want %s\n' "$ref" "$node" "${got:-none}" "$expected"
		}
	done
	if [ "$strict" = 1 ]; then
		is "$lost" 0 "$topo/$mode: $((2 * n)) commands for $n batches ($spread): each ran exactly once, in order, on its batch's node"
		if [ "$topo" = new ]; then
			log=$WORK/$PHASE-router.log
			is "$(log_count "$log" 'inbound: ChangeBatchQuantity {')/$(log_count "$log" 'inbound: skipped')" "$((2 * n))/0" \
				"$topo/$mode: the router's relay executed all $((2 * n)), skipped none"
			is "$(cat "$WORK/$PHASE-node1.log" "$WORK/$PHASE-node2.log" | grep -c 'inbound: \(ChangeBatchQuantity {\|skipped\)')" 0 \
				"$topo/$mode: the nodes' relays took no command"
			if [ "$mode" = streams ]; then
				is "$(rcli XPENDING change_batch_quantity allocation | head -n 1)" 0 \
					"$topo/$mode: every entry acknowledged (nothing pending in the group)"
				is "$(rcli XINFO CONSUMERS change_batch_quantity allocation | grep -A1 '^name$' | grep -v '^name$\|^--$' | tr '\n' ' ')" \
					"router-inbound " "$topo/$mode: one consumer in the group, the router's relay"
				# the nodes' outbound relays: every BatchQuantityChanged event in Redis
				wait_until 10 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT XLEN allocation.BatchQuantityChanged)\" -ge $((2 * n)) ]"
				is "$(rcli --raw XRANGE allocation.BatchQuantityChanged - + | grep -A1 -x event_id | grep -v -x 'event_id\|--' | sort -u | wc -l)" \
					"$((2 * n))" "$topo/$mode: the nodes' relays published the $((2 * n)) BatchQuantityChanged events"
			fi
		fi
	fi
	stop_relays
	echo "# $topo/$mode: $lost of $((2 * n)) commands not run exactly once on their node ($spread) [$(elapsed) s]" >&2
	printf '%s\n' "$lost" > "$WORK/lost"
}

# --- a command during a move waits for the gate and runs on the new node --------------

# run_move TOPOLOGY MODE: prints nothing; records checks (strict) and the
# number of failed expectations in $WORK/lost
run_move() {
	local topo=$1 mode=$2 i ref sku part src tgt tgtconn locker mover bad=0 strict=0
	[ "$topo" = "$STRICT_TOPOLOGY" ] && strict=1
	PHASE=move-$topo-$mode
	echo 0 > "$WORK/lost"
	fresh_cluster || return 1
	# a batch on node 1, so that its partition moves to node 2
	for i in $(seq 1 40); do
		sql "$ROUTER" "SELECT allocation.add_batch('m-$mode-$i', 'MOVE-$mode-$i', 100)" >/dev/null || return 1
		[ "$(node_of_batch "m-$mode-$i")" = 1 ] && break
	done
	ref=m-$mode-$i sku=MOVE-$mode-$i src=1 tgt=2
	part=$(sql "$ROUTER" "SELECT allocation.partition_of('$sku')")
	tgtconn=$(conn "${NODES[1]}")
	start_topology "$topo" "$mode" || { not_ok "$topo/$mode move: the relays started"; stop_relays; return 1; }
	# the import on the target waits for this lock, so the pause lasts
	# until the lock holder is cancelled below
	PGAPPNAME=rr_locker "${PSQL[@]}" -d "${NODES[1]}" \
		-c "BEGIN; LOCK TABLE allocation.batches IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT" \
		>/dev/null 2>&1 &
	locker=$!
	BG_PIDS+=("$locker")
	wait_until 5 sh -c "[ \"\$(\"$PG_BINDIR/psql\" -X -At -d ${NODES[1]} -c \"SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'allocation.batches'::regclass AND granted\")\" = 1 ]"
	PG_BINDIR=$PG_BINDIR MOVE_LOCK_TIMEOUT=20s bash router/move_partition.sh "$(conn "$ROUTER")" "$part" "$tgtconn" \
		> "$WORK/$PHASE-move_partition.log" 2>&1 &
	mover=$!
	BG_PIDS+=("$mover")
	# paused and exported: the import waits for the lock
	wait_until 20 sh -c "[ \"\$(\"$PG_BINDIR/psql\" -X -At -d ${NODES[1]} -c \"SELECT count(*) FROM pg_stat_activity WHERE datname = '${NODES[1]}' AND wait_event_type = 'Lock' AND application_name <> 'rr_locker'\")\" -ge 1 ]" ||
		{
			not_ok "$topo/$mode move: the move's import waits for the lock"
			sql postgres "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'rr_locker'" >/dev/null
			stop_relays
			return 1
		}
	send "$mode" "{\"batchref\": \"$ref\", \"qty\": 33}"
	sleep 1.5
	if [ "$(sql "${NODES[0]}" "SELECT purchased FROM allocation.stock WHERE reference = '$ref'")" != 100 ]; then
		bad=$((bad + 1))
		[ "$strict" = 0 ] || not_ok "$topo/$mode move: during the pause the command changed nothing on the old node"
	elif [ "$strict" = 1 ]; then
		ok "$topo/$mode move: during the pause (partition $part, import held back) the command changed nothing"
	fi
	sql postgres "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE application_name = 'rr_locker'" >/dev/null
	wait "$mover"
	i=$?
	[ "$strict" = 0 ] || is "$i" 0 "$topo/$mode move: router/move_partition.sh moved partition $part to node $tgt"
	wait "$locker" 2>/dev/null
	# (the old topology never runs it there: a short wait)
	wait_until "$([ "$topo" = new ] && echo 10 || echo 2)" sh -c "[ \"\$(\"$PG_BINDIR/psql\" -X -At -d ${NODES[1]} -c \"SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload->>'ref' = '$ref'\")\" -ge 1 ]"
	sleep 0.5
	if [ "$(node_of_batch "$ref")/$(qty_events "$tgt" "$ref")/$(sql "${NODES[1]}" "SELECT purchased FROM allocation.stock WHERE reference = '$ref'")" != "$tgt/33/33" ]; then
		bad=$((bad + 1))
		[ "$strict" = 0 ] || not_ok "$topo/$mode move: after the pause the command ran once, on the new node" \
			"batch on node $(node_of_batch "$ref"), events on node $tgt: $(qty_events "$tgt" "$ref"), purchased $(sql "${NODES[1]}" "SELECT purchased FROM allocation.stock WHERE reference = '$ref'")"
	elif [ "$strict" = 1 ]; then
		ok "$topo/$mode move: after the pause the command ran once, on the new node (batch at 33, one event)"
	fi
	if [ "$(sql "${NODES[0]}" "SELECT count(*) FROM allocation.batches WHERE reference = '$ref'")/$(qty_events "$src" "$ref")" != "0/" ]; then
		bad=$((bad + 1))
		[ "$strict" = 0 ] || not_ok "$topo/$mode move: nothing of it on the old node"
	elif [ "$strict" = 1 ]; then
		ok "$topo/$mode move: nothing of it on the old node"
	fi
	stop_relays
	echo "# $topo/$mode move: $bad expectation(s) failed [$(elapsed) s]" >&2
	printf '%s\n' "$bad" > "$WORK/lost"
}

# --- a repeated message_id through the router: run once, logged as skipped -------------

# run_duplicates MODE N: N batches (both nodes); each gets one command with
# a message_id of its own, sent three times (the repeats with another
# quantity).  The node runs the first and skips the repeats; the router's
# relay must log exactly that: N executed, 2N "skipped a duplicate" naming
# the ids.  Its own transaction cannot tell (the router's gates give it a
# transaction id either way): the node's answer must.
run_duplicates() {
	local mode=$1 n=$2 i rep log bad=0 got
	PHASE=duplicates-$mode
	fresh_cluster || return 1
	for i in $(seq 1 "$n"); do
		sql "$ROUTER" "SELECT allocation.add_batch('d-$mode-$i', 'DUP-$mode-$i', 100)" >/dev/null || return 1
	done
	start_topology new "$mode" || { not_ok "duplicates/$mode: the relays started"; stop_relays; return 1; }
	for rep in 0 1 2; do
		for i in $(seq 1 "$n"); do
			send "$mode" "{\"batchref\": \"d-$mode-$i\", \"qty\": $((40 + i + rep)), \"message_id\": \"rr-dup-$mode-$i\"}"
		done
	done
	log=$WORK/$PHASE-router.log
	wait_until 20 sh -c "[ \$(grep -cE 'inbound: (ChangeBatchQuantity \\{|skipped)' '$log') -ge $((3 * n)) ]"
	sleep 0.5
	for i in $(seq 1 "$n"); do
		got=$(qty_events "$(node_of_batch "d-$mode-$i")" "d-$mode-$i")
		[ "$got" = "$((40 + i))" ] || { bad=$((bad + 1)); echo "#   d-$mode-$i: quantities ${got:-none}, want $((40 + i))"; }
	done
	is "$bad" 0 "duplicates/$mode: each of $n messages sent three times ran once, with its first quantity, on its node"
	is "$(log_count "$log" 'inbound: ChangeBatchQuantity {')/$(log_count "$log" 'inbound: skipped a duplicate')" "$n/$((2 * n))" \
		"duplicates/$mode: the router's relay logged $n executed and $((2 * n)) skipped duplicates"
	bad=0
	for i in $(seq 1 "$n"); do
		[ "$(grep -F 'skipped a duplicate' "$log" | grep -cF "message_id \"rr-dup-$mode-$i\" ")" = 2 ] || bad=$((bad + 1))
		[ "$(grep -F 'inbound: ChangeBatchQuantity {' "$log" | grep -cF "\"message_id\": \"rr-dup-$mode-$i\"")" = 1 ] || bad=$((bad + 1))
	done
	is "$bad" 0 "duplicates/$mode: each id executed once and skipped twice in the log"
	stop_relays
	echo "# duplicates/$mode [$(elapsed) s]" >&2
}

echo "# the topology of router/README.md"
run_commands new streams 12; new_streams=$(cat "$WORK/lost")
run_commands new pubsub 12; new_pubsub=$(cat "$WORK/lost")
run_move new pubsub; new_move_pubsub=$(cat "$WORK/lost")
run_move new streams; new_move_streams=$(cat "$WORK/lost")
run_duplicates streams 6
run_duplicates pubsub 6

echo "# the topology it replaces: every node's relay also takes commands"
run_commands old streams 12; old_streams=$(cat "$WORK/lost")
run_move old pubsub; old_move_pubsub=$(cat "$WORK/lost")
if [ "$STRICT_TOPOLOGY" = new ]; then
	if [ "$old_streams" -gt 0 ]; then
		ok "old topology, streams: $old_streams of 24 commands lost (the check above can fail)"
	else
		not_ok "old topology, streams: loses commands" "none lost: the check cannot tell the topologies apart"
	fi
	if [ "$old_move_pubsub" -gt 0 ]; then
		ok "old topology, pub/sub: a command bypassed the pause and was lost by the move"
	else
		not_ok "old topology, pub/sub: bypasses the pause" "it did not: the check cannot tell the topologies apart"
	fi
fi
: "$new_streams $new_pubsub $new_move_pubsub $new_move_streams"

echo "1..$((npass + nfail))"
echo "# $npass passed, $nfail failed in $(elapsed) s"
[ "$nfail" -eq 0 ] || exit 1
