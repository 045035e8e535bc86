# test/stress/silent_router.bash - the set-up and the watch of the router
# suites that call a node gone silent (scripts/extra-tests/router_cancel.sh,
# router_stall.sh); sourced after lib.bash.
#
# Both suites need the same stage: a node database, a router database
# whose one-node cluster reaches that node through router/test/
# silent_node.py (a relay that goes silent once a call contains SILENT,
# in the way its MODE says), and a call that must end within the
# router's query_timeout (+ 5 s).  What differs is the mode, the call and
# the error it must end with: that stays in each suite.
#
# Defines:
#   silent_router_setup MODE TAG   the stage; sets NODE (alloc_TAG_node),
#                      ROUTER (alloc_TAG_router), QT (the cluster's
#                      query_timeout and connect_timeout, s), SKU
#                      (TAG-SKU in capitals: one batch of 10 on the node),
#                      WORK (a scratch folder) and an EXIT trap that stops
#                      the relay and the call and drops the databases
#   silent_call PSQL_ARGS...       start psql on ROUTER in the background
#                      (output in $WORK/out); sets CALL_PID, T0 and LIMIT
#                      (the bound: QT + 5 s)
#   silent_call_wait   wait for the call up to LIMIT + 15 s; true when it
#                      ended (ELAPSED: its seconds), false while it waits
#   silent_call_free   for a call still waiting: pg_cancel_backend it, then
#                      stop the relay; sets AFTER_CANCEL, WAITED and FREED
#                      (phrases for the suite's failure message)

# shellcheck disable=SC2034   # read by the suites that source this file
PY_PID='' CALL_PID=''

# silent_router_cleanup: the EXIT trap of silent_router_setup.
silent_router_cleanup() {
	[ -z "$PY_PID" ] || kill "$PY_PID" 2>/dev/null || true
	[ -z "$CALL_PID" ] || kill "$CALL_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	cleanup_dbs
	rm -rf "$WORK"
}

# silent_router_setup MODE TAG: the node, the router, the relay in MODE
# between them, and a batch the router sees (see the header).
silent_router_setup() {
	local mode=$1 tag=$2 port
	NODE=alloc_${tag}_node
	ROUTER=alloc_${tag}_router
	SKU=${tag^^}-SKU
	QT=3
	WORK=$(mktemp -d)
	trap silent_router_cleanup EXIT

	fresh_db "$NODE"
	drop_db "$ROUTER"
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $ROUTER"
	CREATED_DBS+=("$ROUTER")
	q "$ROUTER" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE' >/dev/null

	python3 "$ROOT/router/test/silent_node.py" "$mode" "${PGHOST:-/tmp}/.s.PGSQL.${PGPORT:-5432}" > "$WORK/port" &
	PY_PID=$!
	for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
	port=$(head -n 1 "$WORK/port")
	q "$ROUTER" -c "SELECT allocation.define_cluster(ARRAY['host=127.0.0.1 port=$port dbname=$NODE'], 1,
		query_timeout => $QT, connect_timeout => $QT)" >/dev/null
	q "$ROUTER" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('$tag-b1', '$SKU', 10)" >/dev/null
	step "the router reaches the node through the relay"
}

# silent_call PSQL_ARGS...: the call under test, in the background.
silent_call() {
	T0=$(date +%s)
	LIMIT=$(( QT + 5 ))
	"$PG_BINDIR/psql" -X -At -d "$ROUTER" -v VERBOSITY=verbose "$@" > "$WORK/out" 2>&1 &
	CALL_PID=$!
}

# silent_call_wait: did the call end (within LIMIT + 15 s)?
silent_call_wait() {
	for _ in $(seq $(( (LIMIT + 15) * 10 ))); do
		kill -0 "$CALL_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$CALL_PID" 2>/dev/null && return 1
	wait "$CALL_PID" || true
	CALL_PID=''
	ELAPSED=$(( $(date +%s) - T0 ))
}

# silent_call_free: cancel the call still waiting, then take the silent
# node away, and say what each did.
silent_call_free() {
	q postgres -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE datname = '$ROUTER' AND query LIKE '%SILENT-%' AND pid <> pg_backend_pid()" >/dev/null
	sleep 2
	kill -0 "$CALL_PID" 2>/dev/null && AFTER_CANCEL="and pg_cancel_backend does not free it" || AFTER_CANCEL="(pg_cancel_backend freed it)"
	# unstick the backend: the silent node goes away, its connections close
	kill "$PY_PID"; PY_PID=''
	WAITED=$(( $(date +%s) - T0 ))
	for _ in $(seq 50); do kill -0 "$CALL_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$CALL_PID" 2>/dev/null && FREED="still waits" || FREED="ended at once"
}
