#!/usr/bin/env bash
# scripts/extra-tests/relay.sh - allocation-relay end to end, with a real
# redis-server (started here on a loopback port, data in a temporary
# directory) and the throwaway cluster of "make test".
#
#   config    bad flags exit 2 with a clear message (a too long streams
#             --inbound; a bad URL without its password); the Redis
#             password from a file or the URL, never in ps; a role outside
#             allocation_admin exits 1 with a hint; with PostgreSQL
#             unreachable, 64 MB of pushed commands leave the relay's
#             memory bounded; SIGTERM while connecting to a PostgreSQL or
#             a Redis that accepts and never answers, or drops the SYNs,
#             stops the relay within 3 s, exit 0; a list of hosts, or a
#             host name with two addresses (an /etc/hosts of its own in a
#             mount namespace), whose first is such a server: connected
#             through the next after connect_timeout, as libpq does;
#             connect_timeout values (edge cases and random ones) connect
#             or fail exactly as with psql, in libpq's words; a retry
#             without SSL on the same address gets no new connect_timeout
#             (as with psql), and the message is psql's; attempts
#             that fail again and again (PostgreSQL silent, Redis closing
#             at once) leave no descriptor open
#   pubsub    (relay as a member of allocation_admin, not a superuser)
#             the book's external-events test: change_batch_quantity on
#             Redis -> reallocation -> line_allocated with the order and the
#             new batch, read by a consumer written as the book's
#             (json.loads(message["data"])["orderid"], python3, raw socket)
#             that gets exactly {orderid, sku, qty, batchref}; the
#             --dsn password (key/value, URI) not in /proc/PID/cmdline; a
#             message_id logged as JSON ("4243" quoted, 4243 not), bytes
#             that are not UTF-8 escaped (the log stays UTF-8); SIGTERM
#             with 10 commands behind one retried for a lock: all run
#             within the stop's 3 s once the lock goes; a frozen backend
#             while 12 MB of commands arrive: the subscription is still
#             read (Redis does not disconnect it), the excess dropped and
#             counted; a hung Redis (SIGSTOP): "no reply within 10s"; a
#             redelivered message with a message_id runs once and is logged
#             as a duplicate (one whose inbox record kept no result says
#             so); without one every message runs ("qty 5, 7,
#             5" ends at 5); malformed messages are
#             logged and skipped (one with a NUL byte is not cut and run);
#             an error that does not say the message
#             is bad (25006 and other codes) keeps it and retries; a
#             failure that recurs after connecting (lock_timeout on ack)
#             backs off exponentially without reconnecting;
#             Redis killed and restarted under the relay:
#             nothing is acknowledged while Redis is down, events flow again
#             afterwards, the subscription comes back; SIGTERM exits 0
#   mode      each --source against each allocation.outbox_mode: a warning
#             at connection exactly where nothing would be published
#   wal       --source wal (allocation.outbox_mode = both): a role without
#             REPLICATION exits 1 with a hint; the book's scenario in the
#             book's shape; a command waiting for a product's lock
#             (a session idle in transaction): named in the log, an event
#             of another product still reaches Redis within 3 s, "5, 7,
#             5" queued behind it ends at 5, the connection kept; no
#             LISTEN; a session idle in transaction with
#             an xid delays no event; a non-transactional message of a
#             rolled-back transaction is not published, nor one written
#             by a role outside the extension (the plain prefix, a wrong
#             token): logged once, counted; the secret prefix is refused
#             to roles without REPLICATION and shows in no log; kill -9 three times
#             mid-stream: every committed event in Redis, copies alike,
#             aggregates in order; with Redis unreachable, 48 MB of events
#             leave the relay's memory bounded and the slot's retained WAL
#             above --slot-lag-warn is warned about; with wal_level =
#             replica (a server of its own) the relay exits 1 with a hint;
#             the extension dropped and created again under the relay: its
#             new events (a new token) still arrive; a relay that connects
#             while the first event's transaction is open (its read of the
#             prefix waits) still stops on SIGTERM, gives the read up
#             after --pg-timeout, and either way cancels it (no backend
#             of it left waiting on the lock); once the transaction
#             commits it connects and publishes; a set-up query waiting
#             on a lock (register_consumer) is given up after --pg-timeout and SIGTERM stops
#             the relay (exit 0, no backend left waiting); a new slot
#             waiting for a transaction with an xid is named in the log,
#             not given up, stopped by SIGTERM with nothing left behind,
#             and made once the transaction ends; an answer that stops
#             after its first result (a TCP proxy cuts it: the first
#             statement of "SET ...; LISTEN ...", a new slot's
#             CommandComplete without its ReadyForQuery): the rest waited
#             for at most --pg-timeout (none for the slot), SIGTERM stops
#             the relay within seconds, exit 0; a stop signal gives the
#             set-up's steps 3 s in all, not 3 s each (two of them waiting
#             on locks in turn)
#   streams   commands from a stream (consumer group, XACK after commit,
#             a repeated message_id runs once, a malformed entry is skipped
#             and acknowledged); the relay killed with SIGKILL again and
#             again while events are written: every committed event is in
#             Redis at least once, copies carry the same id and body, each
#             aggregate's events in order; Redis killed and restarted (AOF):
#             no event lost, the consumer group carries on; PostgreSQL
#             lost (backend terminated, server restarted): reconnects,
#             nothing lost; SIGTERM exits 0; a refused event (WRONGTYPE)
#             holds back the events after it; a frozen backend (SIGSTOP):
#             the query is given up after --pg-timeout, and SIGTERM still
#             stops the relay; a relay that is PID 1 of its namespace (a
#             container's entrypoint) gives many queries up and leaves no
#             zombies of the processes that sent the cancels; a server
#             side that never answers a cancel request (a frozen TCP
#             proxy): each sender of a cancel ends after its bound, and
#             they do not pile up, and (SIGCHLD and SIGALRM ignored, the
#             server silent for good) one is reaped and logged while the
#             server is silent; a session idle in transaction holding an
#             xid delays an event of --source outbox for at most
#             idle_in_transaction_session_timeout; entries left pending
#             by a relay killed with SIGKILL (one committed without XACK,
#             one failing with a retried 40001) are claimed by a relay
#             with another --consumer name: one runs once, the other is
#             skipped as a duplicate, nothing stays pending (not with
#             ALLOCATION_RELAY_CLAIM_IDLE=0); an entry whose XACK Redis
#             refuses is not run again in a tight loop
#
# Environment (as "make test" exports it): PGHOST, PGPORT, PGUSER,
# PG_BINDIR (or PG_CONFIG), ALLOC_ROOT, ALLOC_PGDATA (the server restart
# uses scripts/cluster.sh; without ALLOC_PGDATA it is skipped).
# RELAY_KILL_ROUNDS: SIGKILLs (default 5); RELAY_KILL_ITERATIONS: most
# rounds of each of the two writers (default 400, 2 events a round; they
# stop after the last restart); RELAY_BIN: the relay to test (default
# relay/allocation-relay).  About 12 s.  Every process started here is
# stopped on exit, failed or not.
set -uo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT" || exit 1

KILL_ROUNDS=${RELAY_KILL_ROUNDS:-5}
KILL_ITERATIONS=${RELAY_KILL_ITERATIONS:-400}
RELAY=${RELAY_BIN:-$ROOT/relay/allocation-relay}
DB_PS=allocation_relay_pubsub
DB_ST=allocation_relay_streams
DB_WAL=allocation_relay_wal
ROLE_WAL=allocation_relay_test_wal
ROLE_ADMIN=allocation_relay_test_bridge
ROLE_OUTSIDER=allocation_relay_test_outsider

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir) || { echo "relay: set PG_BINDIR or PG_CONFIG" >&2; exit 1; }
fi
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)

for tool in redis-server redis-cli; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "relay: $tool not found (Debian: redis-server; run 'make deps')" >&2; exit 1; }
done
[ -x "$RELAY" ] || { echo "relay: $RELAY not built (make relay)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-relay-test.XXXXXX")
REDIS_PORT=
REDIS_PID=
RELAY_PID=
SUB_PID=
BOOK_PID=
STORM_PID=
MEM_PID=
SEC_PID=
MUTE_PID=
CLOSER_PID=
FWD_PID=
GEN_PIDS=()
LOCKER_PID=
REPLICA_DATA=
REPLICA_DIR=
T0=$(date +%s.%N)

# --- results ---------------------------------------------------------------------

npass=0
nfail=0
ok() { npass=$((npass + 1)); printf 'ok %d - %s\n' $((npass + nfail)) "$1"; }
not_ok() {
	nfail=$((nfail + 1))
	printf 'not ok %d - %s\n' $((npass + nfail)) "$1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$2"
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3" "got '$1', want '$2'"; fi
}
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- processes -------------------------------------------------------------------

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# stop PID [SIGNAL]: signal it, wait for it (at most 5 s), then SIGKILL
stop() {
	local pid=$1 sig=${2:-TERM} _i
	{
		alive "$pid" || { wait "$pid"; return 0; }
		kill -s "$sig" "$pid"
		for _i in $(seq 1 50); do
			alive "$pid" || break
			sleep 0.1
		done
		alive "$pid" && kill -KILL "$pid"
		wait "$pid"
	} 2>/dev/null
	return 0
}

# hold DB RELEASE END SQL: a session in the background runs SQL in a
# transaction and ends it with END (COMMIT or ROLLBACK) once the file
# RELEASE exists, at the latest after 60 s; its pid in HOLD_PID
hold() {
	local _i
	{
		printf 'BEGIN;\n%s\n' "$4"
		for _i in $(seq 1 1200); do [ -e "$2" ] && break; sleep 0.05; done
		printf '%s;\n' "$3"
	} | "${PSQL[@]}" -d "$1" >/dev/null 2>&1 &
	HOLD_PID=$!
	GEN_PIDS+=("$HOLD_PID")
}

# stops_on_term WHAT: SIGTERM to RELAY_PID; it must end within 8 s, exit 0
stops_on_term() {
	local stopped=no status=killed _i
	kill -TERM "$RELAY_PID"
	for _i in $(seq 1 80); do
		alive "$RELAY_PID" || { stopped=yes; break; }
		sleep 0.1
	done
	is "$stopped" yes "$1: SIGTERM: the relay stops within 8 s"
	if [ "$stopped" = yes ]; then wait "$RELAY_PID" 2>/dev/null; status=$?; else stop "$RELAY_PID" KILL; fi
	is "$status" 0 "$1: ... with exit status 0"
	RELAY_PID=
}

cleanup() {
	local rc=$? f
	trap - EXIT INT TERM
	for pid in "${GEN_PIDS[@]}"; do stop "$pid"; done
	stop "$RELAY_PID"
	stop "$SUB_PID"
	stop "$BOOK_PID"
	stop "$STORM_PID"
	stop "$MEM_PID"
	stop "$SEC_PID"
	stop "$MUTE_PID"
	stop "$CLOSER_PID"
	stop "$FWD_PID"
	[ "$(type -t thaw)" = function ] && thaw
	[ -z "${FROZEN_FLOOD:-}" ] || kill -CONT "$FROZEN_FLOOD" 2>/dev/null
	[ -z "$REPLICA_DATA" ] || as_server_user "$PG_BINDIR/pg_ctl" -D "$REPLICA_DATA" -m immediate -w stop >/dev/null 2>&1
	[ -z "$REPLICA_DIR" ] || rm -rf "$REPLICA_DIR"
	stop "$REDIS_PID"
	"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS $DB_PS WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS $DB_ST WITH (FORCE)" \
		-c "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name LIKE 'relay_test%'" \
		-c "DROP DATABASE IF EXISTS $DB_WAL WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS allocation_relay_wal_re WITH (FORCE)" \
		-c "DROP DATABASE IF EXISTS allocation_relay_wal_hold WITH (FORCE)" \
		-c "DROP ROLE IF EXISTS $ROLE_WAL" \
		-c "DROP ROLE IF EXISTS $ROLE_ADMIN" \
		-c "DROP ROLE IF EXISTS $ROLE_OUTSIDER" >/dev/null 2>&1
	if [ "$nfail" -gt 0 ] || [ "$rc" -ne 0 ]; then
		for f in "$WORK"/relay-*.log; do
			[ -f "$f" ] || continue
			printf '\n---- last lines of %s ----\n' "$(basename "$f")"
			tail -n 40 "$f"
		done
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds
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

# start_redis [PORT]: a redis-server on 127.0.0.1 with its data (append-only
# file, fsync on every write) in $WORK/redis; a free port is picked when
# none is given, the same one again for a restart.
start_redis() {
	local port=${1:-} _try
	mkdir -p "$WORK/redis"
	for _try in 1 2 3 4 5 6 7 8; do
		[ -n "$port" ] || port=$(( 20000 + (RANDOM % 20000) ))
		redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/redis" \
			--save '' --appendonly yes --appendfsync always \
			--daemonize no --protected-mode yes \
			>> "$WORK/redis.log" 2>&1 &
		REDIS_PID=$!
		REDIS_PORT=$port
		if wait_until 5 redis_up && alive "$REDIS_PID"; then
			return 0
		fi
		stop "$REDIS_PID"
		[ -z "${1:-}" ] || break
		port=
	done
	echo "relay: could not start redis-server (log: $WORK/redis.log)" >&2
	tail -n 20 "$WORK/redis.log" >&2
	return 1
}

# start_relay LOG ARGS...: the relay in the background, RELAY_PID
start_relay() {
	local log=$1
	shift
	"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --backoff-max 1 \
		--poll-interval 0.5 "$@" >> "$log" 2>&1 &
	RELAY_PID=$!
}

# log_count LOG PATTERN: lines of LOG matching the fixed string PATTERN
log_count() { grep -cF -- "$2" "$1" 2>/dev/null || true; }
log_has() { [ "$(log_count "$1" "$2")" -ge "${3:-1}" ]; }

sql() { "${PSQL[@]}" -d "$1" -c "$2"; }
sql_is() { [ "$(sql "$1" "$2")" = "$3" ]; }

new_db() {
	"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" &&
		"${PSQL[@]}" -d "$1" -c 'CREATE EXTENSION allocation'
}

# the subscriber of the pub/sub tests: every event channel, into a file
start_subscriber() {
	redis-cli -h 127.0.0.1 -p "$REDIS_PORT" --raw PSUBSCRIBE line_allocated 'allocation.*' \
		>> "$WORK/pubsub.out" 2>&1 &
	SUB_PID=$!
	wait_until 5 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMPAT)\" -ge 2 ]"
}

# start_book_consumer: a subscriber to line_allocated written as the book's
# (redis-py's message dict, json.loads(message["data"])), over a raw socket
# so that it needs nothing but python3.  One line per message into
# $WORK/book.out: "ok<TAB>orderid<TAB>batchref", or "bad<TAB>why".
start_book_consumer() {
	cat > "$WORK/book_consumer.py" <<'PY'
import json, socket, sys

def read_reply(f):
    line = f.readline()
    if not line:
        sys.exit(0)
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [read_reply(f) for _ in range(int(rest))]
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b":":
        return int(rest)
    return rest

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$14\r\nline_allocated\r\n")
f = sock.makefile("rb")
out = open(sys.argv[2], "a", buffering=1)
while True:
    reply = read_reply(f)
    if not isinstance(reply, list) or reply[0] != b"message":
        continue
    message = {"type": "message", "channel": reply[1], "data": reply[2]}
    try:
        # the book's handler: json.loads(m["data"]) and its fields
        data = json.loads(message["data"])
        orderid, batchref = data["orderid"], data["batchref"]
        if sorted(data) != ["batchref", "orderid", "qty", "sku"]:
            raise ValueError("keys %s" % sorted(data))
        if type(data["qty"]) is not int:
            raise ValueError("qty %r is not a number" % (data["qty"],))
        out.write("ok\t%s\t%s\n" % (orderid, batchref))
    except Exception as e:
        out.write("bad\t%s: %r\n" % (type(e).__name__, e))
PY
	python3 "$WORK/book_consumer.py" "$REDIS_PORT" "$WORK/book.out" 2>> "$WORK/book.err" &
	BOOK_PID=$!
	wait_until 5 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB line_allocated | tail -n 1)\" -ge 1 ]"
}

# pubsub_messages: "channel<TAB>body" of each message the subscriber got
pubsub_messages() {
	awk 's == 0 && $0 == "pmessage" { s = 1; next }
	     s == 1 { s = 2; next }
	     s == 2 { ch = $0; s = 3; next }
	     s == 3 { printf "%s\t%s\n", ch, $0; s = 0 }' "$WORK/pubsub.out"
}

# stream_events FILE: "stream<TAB>body" of every event in the event streams
stream_events() {
	local key
	: > "$1"
	for key in $(rcli --raw KEYS '*' | grep -vx change_batch_quantity | sort); do
		rcli --raw XRANGE "$key" - + |
			awk -v k="$key" 'prev == "data" { printf "%s\t%s\n", k, $0 } { prev = $0 }' >> "$1"
	done
}

# load TSV DB TABLE: (n, src, body) rows from a "src<TAB>body" file
load() {
	sql "$2" "SET client_min_messages = warning; DROP TABLE IF EXISTS $3;
	          CREATE TABLE $3 (n serial, src text, body text)" &&
		"${PSQL[@]}" -d "$2" -c "\\copy $3 (src, body) FROM '$1' WITH (FORMAT csv, DELIMITER E'\\t', QUOTE E'\\x01')"
}

consumer_position() { sql "$1" "SELECT last_position FROM allocation.consumers WHERE name = '$2'"; }
outbox_end() { sql "$1" "SELECT COALESCE(max(position), 0) FROM allocation.outbox"; }
# every event acknowledged by consumer $2 (nothing left to read)
all_acked() {
	[ "$(sql "$1" "SELECT count(*) FROM allocation.outbox o, allocation.consumers c
	               WHERE c.name = '$2' AND (o.commit_key, o.position) > (c.last_key, c.last_position)")" = 0 ]
}

echo "# work directory $WORK"

# --- configuration ------------------------------------------------------------------

echo "# configuration"
out=$("$RELAY" --help 2>&1); rc=$?
# shellcheck disable=SC2016  # the inner script's own variables
check "--help exits 0 and documents --dsn, --redis, --consumer, --batch-size, --mode" \
	sh -c '[ "$1" -eq 0 ] && for f in --dsn --redis --consumer --batch-size --mode; do
	         printf "%s" "$2" | grep -q -- "$f" || exit 1; done' _ "$rc" "$out"
bad_config() {
	local want=$1 out rc
	shift
	out=$(timeout 20 "$RELAY" "$@" 2>&1 </dev/null); rc=$?
	if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -qF -- "$want"; then
		ok "bad configuration ($*): exit 2, says \"$want\""
	else
		not_ok "bad configuration ($*): exit 2, says \"$want\"" "exit $rc: $out"
	fi
}
bad_config "--batch-size must be a whole number" --batch-size 0
bad_config "--mode must be pubsub or streams" --mode kafka
bad_config "bad --redis URL" --redis http://localhost:6379
bad_config "bad --dsn" --dsn "nonsense=1"
bad_config "unknown option --verbosity" --verbosity
bad_config "--inbound is longer than 200 bytes" --mode streams --inbound "$(printf 'c%.0s' $(seq 1 201))"
out=$(timeout 20 "$RELAY" --redis "redis://:pw-in-a-bad-url@localhost:port" 2>&1 </dev/null); rc=$?
if [ "$rc" -eq 2 ] && ! printf '%s' "$out" | grep -qF pw-in-a-bad-url; then
	ok "a bad --redis URL: exit 2, the password not printed"
else
	not_ok "a bad --redis URL: exit 2, the password not printed" "exit $rc: $out"
fi
out=$(ALLOCATION_RELAY_BATCH_SIZE=many "$RELAY" 2>&1); rc=$?
if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -qF ALLOCATION_RELAY_BATCH_SIZE; then
	ok "a bad environment variable: exit 2, named"
else
	not_ok "a bad environment variable: exit 2, named" "exit $rc: $out"
fi

start_redis || exit 1
echo "# redis-server on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"

new_db "$DB_PS" || exit 1
"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' \
	-c "DROP ROLE IF EXISTS $ROLE_ADMIN" -c "DROP ROLE IF EXISTS $ROLE_OUTSIDER" \
	-c "CREATE ROLE $ROLE_ADMIN LOGIN IN ROLE allocation_admin" \
	-c "CREATE ROLE $ROLE_OUTSIDER LOGIN" || exit 1

timeout 20 "$RELAY" --dsn "dbname=$DB_PS user=$ROLE_OUTSIDER" \
	--redis "redis://127.0.0.1:$REDIS_PORT" > "$WORK/relay-outsider.log" 2>&1; rc=$?
if [ "$rc" -eq 1 ] && log_has "$WORK/relay-outsider.log" "member of allocation_admin"; then
	ok "a role outside allocation_admin: exit 1 with a hint"
else
	not_ok "a role outside allocation_admin: exit 1 with a hint" "exit $rc"
	cat "$WORK/relay-outsider.log"
fi

# The Redis password: from a file, or from the URL; never visible in ps.
SECRET=relay-test-secret-$RANDOM$RANDOM
SECLOG=$WORK/relay-secret.log
rcli CONFIG SET requirepass "$SECRET" >/dev/null
printf '%s\n' "$SECRET" > "$WORK/redis.pw"
for how in file url; do
	if [ "$how" = file ]; then
		"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --redis-password-file "$WORK/redis.pw" \
			--dsn "dbname=$DB_PS user=$ROLE_ADMIN" --consumer relay-secret --from-now --no-inbound >> "$SECLOG" 2>&1 &
	else
		"$RELAY" --redis "redis://:$SECRET@127.0.0.1:$REDIS_PORT" \
			--dsn "dbname=$DB_PS user=$ROLE_ADMIN" --consumer relay-secret --from-now --no-inbound >> "$SECLOG" 2>&1 &
	fi
	SEC_PID=$!
	check "the Redis password from the $how: the relay connects" \
		wait_until 10 sh -c "[ \$(grep -cF 'redis: connected' '$SECLOG') -ge $([ "$how" = file ] && echo 1 || echo 2) ]"
	check "... and ps does not show the password" \
		sh -c "! tr '\\0' ' ' < /proc/$SEC_PID/cmdline | grep -qF '$SECRET'"
	check "... nor does its log" sh -c "! grep -qF '$SECRET' '$SECLOG'"
	stop "$SEC_PID"
	SEC_PID=
done
# The PostgreSQL password of --dsn, key/value or URI: hidden from ps too
# (the server trusts local connections, so any password connects).
# Also: a URI password holding "?" and a space (libpq reads the user
# information up to the "@"), key/value pairs split by a carriage
# return, and a DSN glued to -d.
PGSECRET=pg-test-secret-$RANDOM$RANDOM
PGHOST_URI="host=$(printf '%s' "${PGHOST:-/tmp}" | sed 's|/|%2F|g')&port=${PGPORT:-5432}"
for dsn in "dbname=$DB_PS user=$ROLE_ADMIN password=$PGSECRET" \
	"postgresql://$ROLE_ADMIN:$PGSECRET@/$DB_PS?$PGHOST_URI" \
	"postgresql://$ROLE_ADMIN:$PGSECRET?x y@/$DB_PS?$PGHOST_URI" \
	"dbname=$DB_PS user=$ROLE_ADMIN"$'\r'"password=$PGSECRET" \
	"-dpassword=$PGSECRET dbname=$DB_PS user=$ROLE_ADMIN"; do
	: > "$SECLOG"
	case $dsn in
		-d*) dsn_args=("$dsn") ;;
		*) dsn_args=(--dsn "$dsn") ;;
	esac
	"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" "${dsn_args[@]}" --consumer relay-secret \
		--from-now --no-inbound >> "$SECLOG" 2>&1 &
	SEC_PID=$!
	form=$(case $dsn in postgresql:*\?x*) echo "URI, ? and space" ;; postgresql:*) echo URI ;;
		-d*) echo "glued to -d" ;; *$'\r'*) echo "key/value, CR" ;; *) echo key/value ;; esac)
	check "a --dsn with a password ($form): the relay connects" wait_until 10 log_has "$SECLOG" "postgres: connected"
	check "... and /proc/PID/cmdline does not show the password" \
		sh -c "! tr '\\0' ' ' < /proc/$SEC_PID/cmdline | grep -qF '$PGSECRET'"
	check "... nor does its log" sh -c "! grep -qF '$PGSECRET' '$SECLOG'"
	stop "$SEC_PID"
	SEC_PID=
done
# a DSN libpq cannot parse: its error must not quote the password
for dsn in "postgresql://u:$PGSECRET@[::1/db" "postgresql://u:${PGSECRET}%zz@h/db"; do
	"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --dsn "$dsn" > "$SECLOG" 2>&1
	check "a --dsn libpq cannot parse ('${dsn%%:*}...'): exit 2, saying why, without the password" \
		sh -c "[ $? -eq 2 ] && grep -qF 'bad --dsn' '$SECLOG' && ! grep -qF '$PGSECRET' '$SECLOG'"
done
REDISCLI_AUTH=$SECRET rcli CONFIG SET requirepass '' >/dev/null 2>&1

# Bounded memory: PostgreSQL unreachable, Redis pushes 64 MB of commands
# (64 messages of 1 MB); the relay holds at most its bounds (16 MiB by
# default) and logs what it drops.
MEMLOG=$WORK/relay-memory.log
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --dsn "host=$WORK/no-such-socket-dir dbname=x" \
	--backoff-max 1 >> "$MEMLOG" 2>&1 &
MEM_PID=$!
if wait_until 10 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB change_batch_quantity | tail -n 1)\" = 1 ]"; then
	rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$MEM_PID/status"; }
	rss_before=$(rss)
	head -c 1048576 /dev/zero | tr '\0' 'x' > "$WORK/big.msg"
	for _ in $(seq 1 64); do rcli -x PUBLISH change_batch_quantity < "$WORK/big.msg" >/dev/null; done
	sleep 1
	rss_after=$(rss)
	echo "# memory: relay RSS $rss_before kB -> $rss_after kB after 64 MB pushed"
	check "64 MB pushed while PostgreSQL is down: the relay grows by less than 32 MB ($(( (rss_after - rss_before) / 1024 )) MB)" \
		[ $((rss_after - rss_before)) -lt 32768 ]
	check "... and logs that it dropped messages" wait_until 10 log_has "$MEMLOG" "inbound: dropped a"
else
	not_ok "the memory test's relay subscribed"
fi
stop "$MEM_PID"
MEM_PID=
rm -f "$WORK/big.msg"

# A stop signal while connecting: a server that accepts the connection and
# never says a word, or one whose SYNs go unanswered (a listener whose
# accept queue is full drops them, as a black hole would), makes each
# connection attempt wait for the connect timeout (10 s for PostgreSQL, 5
# s and a 10 s reply timeout for Redis); SIGTERM must not wait for it.
cat > "$WORK/mute_server.py" <<'PY'
import os, socket, sys, time
# mute_server.py PORT_FILE MODE SEEN_FILE: "silent" accepts and never
# answers (SEEN_FILE written at each accept); "closer" closes each
# connection as it accepts it (SEEN_FILE too); "blackhole" never accepts,
# its accept queue kept full by a connection of its own, so that the
# kernel drops every further SYN.
port_file, mode, seen = sys.argv[1:4]
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(0 if mode == "blackhole" else 16)
port = listener.getsockname()[1]
held = []
if mode == "blackhole":
    for _ in range(2):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        held.append(c)
    time.sleep(0.2)
with open(port_file + ".tmp", "w") as f:
    f.write(str(port))
os.rename(port_file + ".tmp", port_file)
while True:
    if mode == "blackhole":
        time.sleep(3600)
    conn, _ = listener.accept()
    if mode == "closer":
        conn.close()
    else:
        held.append(conn)
    with open(seen, "a") as f:
        f.write("accepted\n")
PY
# forward.py ADDR PORT UNIX_PATH READY_FILE: each connection to ADDR:PORT
# piped to the Unix socket UNIX_PATH (the cluster's, which has no TCP)
cat > "$WORK/forward.py" <<'PY'
import os, socket, sys, threading
addr, port, path, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((addr, port))
listener.listen(16)
open(ready, "w").close()
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = listener.accept()
    u = socket.socket(socket.AF_UNIX)
    u.connect(path)
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
PY
# A host name with two addresses, 127.0.0.1 first, in an /etc/hosts of
# the relay's own (a mount namespace): none on this machine has two.
printf '127.0.0.1 two.relay.test\n127.0.0.2 two.relay.test\n' > "$WORK/hosts"
# IN_HOSTS COMMAND...: COMMAND sees that file as /etc/hosts; unshare and
# sh exec it, so that $! of "$IN_HOSTS ... &" is the command's own
IN_HOSTS=(unshare --mount sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' _ "$WORK/hosts")
NAME_TWO=
if [ "$("${IN_HOSTS[@]}" getent ahosts two.relay.test 2>/dev/null | awk '$2 == "STREAM" { printf "%s ", $1 }')" = "127.0.0.1 127.0.0.2 " ]; then
	NAME_TWO=1
fi
# connects_past_first LOG WHAT DSN [WRAPPER...]: a relay given DSN, whose
# first address does not answer, connects to the next one after
# connect_timeout, as libpq does (started under WRAPPER if given)
connects_past_first() {
	local log=$1 what=$2 dsn=$3
	shift 3
	"$@" "$RELAY" --backoff-max 1 --redis "redis://127.0.0.1:$REDIS_PORT" --consumer relay-test-hostlist \
		--from-now --no-inbound --dsn "$dsn" >> "$log" 2>&1 &
	RELAY_PID=$!
	wait_until 20 grep -qF 'postgres: connected' "$log"
	check "postgres $mute_mode $what: connected to the second after connect_timeout" \
		grep -qF 'postgres: connected' "$log"
	stop "$RELAY_PID"; RELAY_PID=
	"${PSQL[@]}" -d "$DB_PS" -c "SELECT allocation.unregister_consumer('relay-test-hostlist')" > /dev/null
}
# stops_promptly NAME LOG ARGS...: start a relay, wait until it connects to
# the mute server, SIGTERM it: exit 0 after the summary within 3 s
stops_promptly() {
	local name=$1 log=$2 t rc
	shift 2
	"$RELAY" --backoff-max 1 "$@" >> "$log" 2>&1 &
	RELAY_PID=$!
	# connecting: the silent server accepted, or (black hole) the SYN is out
	wait_until 5 sh -c "[ -s '$WORK/mute.seen' ] || ss -Htnp state syn-sent '( dport = :$MUTE_PORT )' | grep -qF 'pid=$RELAY_PID,'"
	sleep 0.5
	t=$(date +%s.%N)
	kill -TERM "$RELAY_PID"
	wait_until 3 sh -c "! kill -0 $RELAY_PID 2>/dev/null"
	if alive "$RELAY_PID"; then
		not_ok "$name: SIGTERM while connecting stops the relay within 3 s" "still running"
		stop "$RELAY_PID" KILL
	else
		wait "$RELAY_PID"; rc=$?
		echo "# $name: stopped $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after SIGTERM"
		check "$name: SIGTERM while connecting stops the relay within 3 s, exit 0 ($rc) after the summary" \
			sh -c "[ $rc -eq 0 ] && grep -qF 'stopped:' '$log'"
	fi
	RELAY_PID=
}
for mute_mode in silent blackhole; do
	rm -f "$WORK/mute.port" "$WORK/mute.seen"
	python3 "$WORK/mute_server.py" "$WORK/mute.port" "$mute_mode" "$WORK/mute.seen" 2>> "$WORK/mute.err" &
	MUTE_PID=$!
	wait_until 5 test -s "$WORK/mute.port"
	MUTE_PORT=$(cat "$WORK/mute.port" 2>/dev/null)
	stops_promptly "postgres $mute_mode" "$WORK/relay-mute-pg-$mute_mode.log" \
		--redis "redis://127.0.0.1:$REDIS_PORT" --dsn "host=127.0.0.1 port=$MUTE_PORT dbname=x"
	# a list of hosts whose first does not answer: on to the next one after
	# connect_timeout, as libpq does (not the first again and again)
	rm -f "$WORK/mute.seen"
	connects_past_first "$WORK/relay-mute-pg-list-$mute_mode.log" "first of two hosts" \
		"host=127.0.0.1,$PGHOST port=$MUTE_PORT,${PGPORT:-5432} connect_timeout=2 dbname=$DB_PS user=$ROLE_ADMIN"
	# one host name with two addresses whose first does not answer (an
	# IPv6 address that leads nowhere before the IPv4 one, say): on to the
	# second after connect_timeout, as libpq does
	if [ -n "$NAME_TWO" ]; then
		rm -f "$WORK/forward.ready"
		python3 "$WORK/forward.py" 127.0.0.2 "$MUTE_PORT" "$PGHOST/.s.PGSQL.${PGPORT:-5432}" "$WORK/forward.ready" \
			2>> "$WORK/forward.err" &
		FWD_PID=$!
		wait_until 5 test -e "$WORK/forward.ready"
		connects_past_first "$WORK/relay-mute-pg-name-$mute_mode.log" "first of a host name's two addresses" \
			"host=two.relay.test port=$MUTE_PORT connect_timeout=2 dbname=$DB_PS user=$ROLE_ADMIN" \
			"${IN_HOSTS[@]}"
		stop "$FWD_PID"; FWD_PID=
	else
		ok "# SKIP postgres $mute_mode first of a host name's two addresses (no mount namespace for an /etc/hosts of its own)"
	fi
	rm -f "$WORK/mute.seen"
	stops_promptly "redis $mute_mode" "$WORK/relay-mute-redis-$mute_mode.log" \
		--redis "redis://127.0.0.1:$MUTE_PORT" --dsn "host=$WORK/no-such-socket-dir dbname=x"
	stop "$MUTE_PID"
	MUTE_PID=
done

# connect_timeout is read as libpq reads it: with each value below (edge
# cases, then random strings of digits, signs, blanks and a letter) the
# relay connects, or fails in libpq's own words, exactly as psql (libpq's
# own connect) does with the same DSN.
CTLOG=$WORK/relay-connect-timeout.log
ct_values=(0 1 2 -1 -5 5s "" " " " 5" "5 " "$(printf '5\t')" +3 0x10 010 1e3 2147483647 2147483648
	-2147483648 -2147483649 99999999999999999999)
ct_chars="0123456789 -+s"
for _ in $(seq 1 10); do
	v=
	for _ in $(seq 1 $((RANDOM % 5 + 1))); do v+=${ct_chars:$((RANDOM % ${#ct_chars})):1}; done
	ct_values+=("$v")
done
ct_diff=
for v in "${ct_values[@]}"; do
	dsn="dbname=$DB_PS user=$ROLE_ADMIN connect_timeout='$v'"
	want=$("$PG_BINDIR/psql" -X -w -At -d "$dsn" -c 'SELECT 1' 2>&1 | head -n 1)
	if [ "$want" = 1 ]; then want=connected; else want=${want#psql: error: }; fi
	: > "$CTLOG"
	"$RELAY" --backoff-max 1 --redis "redis://127.0.0.1:$REDIS_PORT" --consumer relay-test-ct --from-now --no-inbound \
		--dsn "$dsn" >> "$CTLOG" 2>&1 &
	RELAY_PID=$!
	wait_until 10 grep -qE 'postgres: (connected|cannot connect)' "$CTLOG"
	stop "$RELAY_PID"; RELAY_PID=
	got=$(sed -n -e 's/.*postgres: cannot connect (\(.*\)); retrying with backoff.*/\1/p' \
		-e 's/.*postgres: connected .*/connected/p' "$CTLOG" | head -n 1)
	[ "$got" = "$want" ] || ct_diff+="connect_timeout='$v': relay \"$got\", libpq \"$want\"; "
done
"${PSQL[@]}" -d "$DB_PS" -c "SELECT allocation.unregister_consumer('relay-test-ct')" > /dev/null 2>&1
is "$ct_diff" "" "connect_timeout read as libpq reads it: ${#ct_values[@]} values, each connects or fails as with psql, in its words"

# connect_timeout counts once for an address, however many connections
# libpq opens to it: this server answers the first SSL request "S" after
# 1.5 s and closes (the handshake fails, libpq tries again without SSL on
# a new connection), then never answers the plain one.  With
# connect_timeout=4, psql and the relay give up 4 s after the first
# connection (psql between 3 and 4: it counts in whole seconds), not 4 s
# after the second (5.5 s).
cat > "$WORK/ssl_then_mute.py" <<'PY'
import os, socket, sys, time
# ssl_then_mute.py PORT_FILE OUT: at each first connection of a round the
# SSL request is answered "S" after 1.5 s and the connection closed; the
# next one is held until the client closes it, and the seconds from the
# first connection to that close are written to OUT.
port_file, out = sys.argv[1:3]
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    c, _ = listener.accept()
    first = time.monotonic()
    c.recv(8)
    time.sleep(1.5)
    c.sendall(b"S")
    c.close()
    c, _ = listener.accept()
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
    with open(out, "a") as f:
        f.write("%.1f\n" % (time.monotonic() - first))
PY
rm -f "$WORK/ssl.port" "$WORK/ssl.out"
python3 "$WORK/ssl_then_mute.py" "$WORK/ssl.port" "$WORK/ssl.out" 2>> "$WORK/mute.err" &
MUTE_PID=$!
wait_until 5 test -s "$WORK/ssl.port"
SSL_DSN="host=127.0.0.1 port=$(cat "$WORK/ssl.port") connect_timeout=4 sslmode=prefer dbname=x"
"$PG_BINDIR/psql" -X -w -d "$SSL_DSN" -c 'SELECT 1' > "$WORK/ssl.psql" 2>&1
wait_until 8 test -s "$WORK/ssl.out"
psql_s=$(head -n 1 "$WORK/ssl.out")
SSLLOG=$WORK/relay-ssl-retry.log
"$RELAY" --backoff-max 1 --redis "redis://127.0.0.1:$REDIS_PORT" --dsn "$SSL_DSN" >> "$SSLLOG" 2>&1 &
RELAY_PID=$!
wait_until 12 sh -c "[ \$(wc -l < '$WORK/ssl.out') -ge 2 ]"
relay_s=$(sed -n 2p "$WORK/ssl.out")
stop "$RELAY_PID"; RELAY_PID=
stop "$MUTE_PID"; MUTE_PID=
echo "# a retry without SSL: psql gave up ${psql_s:-?} s, the relay ${relay_s:-?} s after the first connection"
if [ -n "$psql_s" ]; then
	check "connect_timeout counts once for an address, SSL retry included, as with psql (psql ${psql_s:-?} s, relay ${relay_s:-?} s; 4 s, not 5.5)" \
		awk -v p="${psql_s:-99}" -v r="${relay_s:-99}" 'BEGIN { exit !(p < 5.2 && r < 5.2) }'
	# psql's lines as the relay joins them: "; ", without the indentation
	ssl_want=$(awk 'NR == 1 { sub(/^psql: error: /, "") } { sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "") }
		$0 != "" { printf "%s%s", (n++ ? "; " : ""), $0 }' "$WORK/ssl.psql")
	ssl_got=$(sed -n 's/.*postgres: cannot connect (\(.*\)); retrying with backoff.*/\1/p' "$SSLLOG" | head -n 1)
	is "$ssl_got" "$ssl_want" "... and the relay's message is psql's, word for word"
else
	# this major's psql (its libpq) did not retry without SSL after the
	# server closed the SSL handshake, so there is nothing to compare with
	ok "# SKIP connect_timeout and the SSL retry: this psql made no retry without SSL ($(head -n 1 "$WORK/ssl.psql"))"
	ok "# SKIP ... and the relay's message"
fi

# Failed attempts leave nothing behind: against a PostgreSQL that stays
# silent (each attempt ends at connect_timeout, in the relay's own wait)
# and a Redis that closes each connection as it accepts it, the relay
# holds as many descriptors after many attempts as after the first.
rm -f "$WORK/mute.port" "$WORK/mute.seen" "$WORK/closer.port" "$WORK/closer.seen"
python3 "$WORK/mute_server.py" "$WORK/mute.port" silent "$WORK/mute.seen" 2>> "$WORK/mute.err" &
MUTE_PID=$!
python3 "$WORK/mute_server.py" "$WORK/closer.port" closer "$WORK/closer.seen" 2>> "$WORK/mute.err" &
CLOSER_PID=$!
wait_until 5 sh -c "test -s '$WORK/mute.port' && test -s '$WORK/closer.port'"
FDLOG=$WORK/relay-descriptors.log
"$RELAY" --backoff-max 1 --redis "redis://127.0.0.1:$(cat "$WORK/closer.port")" \
	--dsn "host=127.0.0.1 port=$(cat "$WORK/mute.port") connect_timeout=2 dbname=x" >> "$FDLOG" 2>&1 &
RELAY_PID=$!
# the fewest descriptors open over 4 s: an attempt in progress holds
# some, and 4 s take in a pause between two PostgreSQL attempts (2 s of
# connect_timeout, then at most 1 s of backoff)
fd_least() {
	local least=100000 n _i
	for _i in $(seq 1 40); do
		n=$(find "/proc/$RELAY_PID/fd" -mindepth 1 2>/dev/null | wc -l)
		[ "$n" -lt "$least" ] && least=$n
		sleep 0.1
	done
	echo "$least"
}
seen_count() { cat "$1" 2>/dev/null | wc -l; }
wait_until 10 sh -c "grep -qsF 'postgres: cannot connect' '$FDLOG' && grep -qsF 'redis: cannot connect' '$FDLOG'"
fd_first=$(fd_least)
pg_before=$(seen_count "$WORK/mute.seen")
redis_before=$(seen_count "$WORK/closer.seen")
sleep 4
fd_last=$(fd_least)
pg_tries=$(( $(seen_count "$WORK/mute.seen") - pg_before ))
redis_tries=$(( $(seen_count "$WORK/closer.seen") - redis_before ))
echo "# descriptors: $fd_first, then $fd_last after $pg_tries PostgreSQL and $redis_tries Redis connections"
check "failed attempts leave no descriptor open ($fd_first, then $fd_last after $pg_tries silent PostgreSQL and $redis_tries closed Redis connections)" \
	sh -c "[ $fd_last -le $fd_first ] && [ $pg_tries -ge 2 ] && [ $redis_tries -ge 3 ]"
stop "$RELAY_PID"; RELAY_PID=
stop "$MUTE_PID"; MUTE_PID=
stop "$CLOSER_PID"; CLOSER_PID=

# --- pub/sub -------------------------------------------------------------------------

echo "# pub/sub mode ($(elapsed)s)"
PSLOG=$WORK/relay-pubsub.log
: > "$WORK/pubsub.out"
start_subscriber || { not_ok "subscriber ready"; exit 1; }
: > "$WORK/book.out"
start_book_consumer || { not_ok "the book's consumer subscribed"; cat "$WORK/book.err"; exit 1; }
start_relay "$PSLOG" --dsn "dbname=$DB_PS user=$ROLE_ADMIN" --consumer relay-test --mode pubsub
check "relay connects to PostgreSQL and Redis (as a member of allocation_admin)" \
	wait_until 10 sh -c "grep -qs 'postgres: connected' '$PSLOG' && grep -qs 'redis: connected' '$PSLOG'"
check "relay subscribed to change_batch_quantity" \
	wait_until 5 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB change_batch_quantity | tail -n 1)\" = 1 ]"

# The book's test_change_batch_quantity_leading_to_reallocation.
sql "$DB_PS" "SELECT allocation.add_batch('RT-old', 'RT-SKU', 10, '2011-01-01');
              SELECT allocation.add_batch('RT-newer', 'RT-SKU', 10, '2011-01-02')" >/dev/null
is "$(sql "$DB_PS" "SELECT allocation.allocate('RT-order', 'RT-SKU', 10)")" RT-old \
	"the order goes to the earlier batch"
rcli PUBLISH change_batch_quantity '{"batchref": "RT-old", "qty": 5}' >/dev/null
reallocated() {
	pubsub_messages | grep -F $'line_allocated\t' | grep -F '"orderid": "RT-order"' |
		grep -qF '"batchref": "RT-newer"'
}
if wait_until 10 reallocated; then
	ok "change_batch_quantity on Redis -> line_allocated on Redis with the order and the new batch"
else
	not_ok "change_batch_quantity on Redis -> line_allocated on Redis with the order and the new batch"
fi
book_reallocated() { grep -qxF $'ok\tRT-order\tRT-newer' "$WORK/book.out"; }
check "a consumer written as the book's reads the order and the new batch from line_allocated" \
	wait_until 5 book_reallocated
is "$(grep -c . "$WORK/book.out")/$(grep -c '^ok' "$WORK/book.out")" "2/2" \
	"every line_allocated message is exactly {orderid, sku, qty, batchref}, qty a number (first and new batch)"
grep '^bad' "$WORK/book.out" | sed 's/^/#   /'
pubsub_messages > "$WORK/pubsub.tsv"
load "$WORK/pubsub.tsv" "$DB_PS" received >/dev/null
is "$(sql "$DB_PS" "SELECT count(*) FROM received r JOIN allocation.outbox o ON r.body::jsonb = o.payload
                    WHERE r.src = 'line_allocated' AND o.type = 'Allocated'
                      AND o.payload ->> 'batchref' = 'RT-newer' AND o.aggregateid = 'RT-SKU'")" 1 \
	"the message on line_allocated is the outbox event's payload"
is "$(sql "$DB_PS" "SELECT count(*) FROM received r JOIN allocation.outbox o ON o.id = (r.body::jsonb ->> 'id')::uuid
                    WHERE r.src = 'allocation.BatchQuantityChanged' AND o.type = 'BatchQuantityChanged'
                      AND r.body::jsonb -> 'payload' = o.payload
                      AND (r.body::jsonb ->> 'aggregate_seq')::bigint = o.aggregate_seq
                      AND r.body::jsonb ->> 'aggregateid' = 'RT-SKU' AND r.body::jsonb ->> 'type' = o.type")" 1 \
	"the other channels carry the envelope: event id, type, aggregate, aggregate_seq and payload"
is "$(sql "$DB_PS" "SELECT string_agg(DISTINCT src, ',' ORDER BY src) FROM received")" \
	"allocation.BatchCreated,allocation.BatchQuantityChanged,allocation.Deallocated,line_allocated" \
	"channels: Allocated -> line_allocated, others -> allocation.<Type>"

# Redelivered messages: with a message_id they run once; without one
# nothing is a duplicate (pub/sub has no ids): "qty 5, 7, 5" ends at 5.
sql "$DB_PS" "SELECT allocation.add_batch('RT-dup-id', 'RT-DUP', 10);
              SELECT allocation.add_batch('RT-575', 'RT-DUP', 10)" >/dev/null
for _ in 1 2; do
	rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": 8, "message_id": "relay-test-m1"}' >/dev/null
done
for q in 5 7 5; do
	rcli PUBLISH change_batch_quantity "{\"batchref\": \"RT-575\", \"qty\": $q}" >/dev/null
done
check "both deliveries with a message_id and the three without one reached the relay" \
	wait_until 10 sh -c "[ \$(grep -E 'inbound: (ChangeBatchQuantity|skipped a duplicate)' '$PSLOG' | grep -cE 'RT-dup-id|RT-575') -ge 5 ]"
is "$(sql "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-dup-id'")" 1 \
	"a redelivered message with a message_id is executed once"
check "... and the second delivery is logged as a skipped duplicate" \
	sh -c "grep -F 'skipped a duplicate' '$PSLOG' | grep -qF relay-test-m1"
# A duplicate whose first handling kept no result (the inbox record's
# result removed by hand, as a repeat that meets a handling still running
# would find it): the log says so rather than show an empty result.
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": 9, "message_id": "relay-test-m2"}' >/dev/null
check "a message whose result will be removed from the inbox runs" \
	wait_until 10 sql_is "$DB_PS" "SELECT count(*) FROM allocation.inbox WHERE message_id = '\"relay-test-m2\"' AND result IS NOT NULL" 1
sql "$DB_PS" "UPDATE allocation.inbox SET result = NULL WHERE message_id = '\"relay-test-m2\"'" >/dev/null
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": 9, "message_id": "relay-test-m2"}' >/dev/null
check "... its repeat is logged as a duplicate whose result was not kept, not as an empty result" \
	wait_until 10 sh -c "grep -F 'skipped a duplicate: message_id \"relay-test-m2\" was handled before (its result was not kept):' '$PSLOG' | grep -qF RT-dup-id"
check "... and the line of a duplicate with a result still shows it" \
	sh -c "grep -F 'skipped a duplicate: message_id \"relay-test-m1\" was handled before (first result {' '$PSLOG' | grep -qF RT-dup-id"
is "$(sql "$DB_PS" "SELECT string_agg(payload ->> 'qty', ',' ORDER BY aggregate_seq) FROM allocation.outbox
                    WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-575'")" "5,7,5" \
	"qty 5, 7, 5 without message_ids: all three run, none is taken for a duplicate"
is "$(sql "$DB_PS" "SELECT purchased FROM allocation.stock WHERE reference = 'RT-575'")" 5 \
	"... and the batch ends at 5"
is "$(sql "$DB_PS" "SELECT count(*) FROM allocation.inbox WHERE message_id = '\"relay-test-m1\"'")" 1 \
	"the explicit message_id is the inbox key"
is "$(sql "$DB_PS" "SELECT count(*) FROM allocation.inbox WHERE message ->> 'ref' = 'RT-575'")" 0 \
	"a message without a message_id leaves no inbox row (never taken for a duplicate later)"

# The log quotes a message_id that is a string: "4243" and 4243 are two ids.
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": 11, "message_id": 4243}' >/dev/null
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": 12, "message_id": "4243"}' >/dev/null
check "a message_id that is a number is logged as one: (message_id 4243)" \
	wait_until 10 log_has "$PSLOG" "(message_id 4243)"
check "... one that is a string, quoted: (message_id \"4243\")" \
	wait_until 10 log_has "$PSLOG" '(message_id "4243")'
# Bytes that are not UTF-8 in a message are escaped in its log line (\xff),
# as control bytes are: the log stays valid UTF-8.
printf '{"batchref": "RT-bad-\377\376", "qty": 1}' | rcli -x PUBLISH change_batch_quantity >/dev/null
check "a message with bytes that are not UTF-8 is logged with them escaped (\\xff\\xfe)" \
	wait_until 10 log_has "$PSLOG" 'RT-bad-\xff\xfe'
check "... and the log is valid UTF-8" iconv -f UTF-8 -t UTF-8 -o /dev/null "$PSLOG"

# Malformed messages: one log line each, skipped, the relay goes on.
before=$(log_count "$PSLOG" "skipped a malformed message")
rcli PUBLISH change_batch_quantity 'this is not JSON' >/dev/null
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id"}' >/dev/null
rcli PUBLISH change_batch_quantity '[1, 2, 3]' >/dev/null
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": "lots"}' >/dev/null
rcli PUBLISH change_batch_quantity '{"batchref": "RT-nope", "qty": 1}' >/dev/null
rcli PUBLISH change_batch_quantity '{"batchref": "RT-dup-id", "qty": 6}' >/dev/null
check "four malformed messages: four log lines" \
	wait_until 10 sh -c "[ \$(grep -cF 'skipped a malformed message' '$PSLOG') -ge $((before + 4)) ]"
# A NUL byte: as a C string the message would be cut there and its prefix run.
printf '{"batchref": "RT-dup-id", "qty": 3}\0{"more": 1}' | rcli -x PUBLISH change_batch_quantity >/dev/null
check "a message with a NUL byte is skipped as malformed, not cut" \
	wait_until 10 sh -c "grep -F 'skipped a malformed message' '$PSLOG' | grep -qF 'NUL byte'"
is "$(sql "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-dup-id' AND payload ->> 'qty' = '3'")" 0 \
	"... and its prefix before the NUL is not executed"
# Nesting: past the server's stack depth its JSON parser fails with 54001,
# an error that says nothing of the message and would be retried for ever,
# holding every message behind it.  The relay refuses a message nested
# deeper than 64 levels itself; 64 levels run.
deep() { python3 -c "import sys; d=int(sys.argv[1]); print('{\"batchref\": \"RT-dup-id\", \"qty\": %s, \"x\": ' % sys.argv[2] + '['*(d-1) + ']'*(d-1) + '}', end='')" "$@"; }
deep 20000 4 | rcli -x PUBLISH change_batch_quantity >/dev/null
deep 65 5 | rcli -x PUBLISH change_batch_quantity >/dev/null
deep 64 7 | rcli -x PUBLISH change_batch_quantity >/dev/null
check "messages nested 20,000 and 65 levels deep are skipped as malformed" \
	wait_until 10 sh -c "[ \$(grep -F 'skipped a malformed message' '$PSLOG' | grep -cF 'deeper than 64 levels') -ge 2 ]"
check "... and the message behind them, nested 64 levels, runs" \
	wait_until 10 sql_is "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-dup-id' AND payload ->> 'qty' = '7'" 1
is "$(sql "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-dup-id' AND payload ->> 'qty' IN ('4', '5')")" 0 \
	"... the deep ones did not run"
check "a message for an unknown batch is logged as rejected" \
	wait_until 5 sh -c "grep -F 'skipped a rejected message' '$PSLOG' | grep -qF 'unknown batch reference'"
check "the relay keeps running and executes the next message" \
	wait_until 10 sql_is "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-dup-id' AND payload ->> 'qty' = '6'" 1
check "the relay is alive" alive "$RELAY_PID"

# Errors that do not say "this message is bad" keep the message and retry
# it: a trigger fences allocation.batches with a chosen SQLSTATE (a
# read-only fence 25006 as in a switchover, and other codes the relay has
# no special case for); once the fence is lifted the command runs.  A data
# exception (22023) from the same fence still drops the message.
sql "$DB_PS" "CREATE TABLE public.relay_fence (sqlstate text);
              GRANT SELECT ON public.relay_fence TO PUBLIC;
              CREATE SEQUENCE public.relay_fence_tries;
              GRANT USAGE ON SEQUENCE public.relay_fence_tries TO PUBLIC;
              CREATE FUNCTION public.relay_fence_check() RETURNS trigger LANGUAGE plpgsql AS
              \$f\$ DECLARE s text; BEGIN
                  SELECT f.sqlstate INTO s FROM public.relay_fence AS f LIMIT 1;
                  IF s IS NOT NULL THEN
                      PERFORM nextval('public.relay_fence_tries');
                      RAISE EXCEPTION 'fenced by the test' USING ERRCODE = s;
                  END IF;
                  RETURN NEW; END \$f\$;
              CREATE TRIGGER relay_fence BEFORE UPDATE ON allocation.batches
                  FOR EACH ROW EXECUTE FUNCTION public.relay_fence_check();
              SELECT allocation.add_batch('RT-fence', 'RT-FENCE', 100)" >/dev/null
qty=50
for state in 25006 0A000 P0001 72000 58030 54000; do
	qty=$((qty + 1))
	sql "$DB_PS" "INSERT INTO public.relay_fence VALUES ('$state')"
	before=$(log_count "$PSLOG" "failed for now")
	rcli PUBLISH change_batch_quantity "{\"batchref\": \"RT-fence\", \"qty\": $qty}" >/dev/null
	wait_until 10 sh -c "grep -F 'failed for now' '$PSLOG' | grep -F 'RT-fence' | grep -qF 'SQLSTATE $state'"
	sleep 0.5
	sql "$DB_PS" "DELETE FROM public.relay_fence"
	check "SQLSTATE $state is retried, not dropped: the command runs once the cause is gone" \
		wait_until 10 sql_is "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-fence' AND (payload ->> 'qty')::int = $qty" 1
done
for state in 22023; do
	sql "$DB_PS" "DELETE FROM public.relay_fence; INSERT INTO public.relay_fence VALUES ('$state')"
	before=$(log_count "$PSLOG" "skipped a malformed message")
	rcli PUBLISH change_batch_quantity '{"batchref": "RT-fence", "qty": 99}' >/dev/null
	check "SQLSTATE $state (a data exception) drops the message as malformed" \
		wait_until 10 sh -c "[ \$(grep -cF 'skipped a malformed message' '$PSLOG') -gt $before ]"
done
# A 55P03 at once (a NOWAIT, not the relay's --command-lock-timeout) is
# tried again with backoff, not four times a second (the sequence counts
# the tries: nextval is not rolled back)
sql "$DB_PS" "DELETE FROM public.relay_fence; INSERT INTO public.relay_fence VALUES ('55P03')"
tries_before=$(sql "$DB_PS" "SELECT nextval('public.relay_fence_tries')")
rcli PUBLISH change_batch_quantity '{"batchref": "RT-fence", "qty": 77}' >/dev/null
sleep 4
tries=$(( $(sql "$DB_PS" "SELECT nextval('public.relay_fence_tries')") - tries_before - 1 ))
sql "$DB_PS" "DELETE FROM public.relay_fence"
check "a 55P03 raised at once is tried again with backoff: $tries tries in 4 s (at most 8)" \
	eval '[ "$tries" -ge 2 ] && [ "$tries" -le 8 ]'
check "... and the command runs once the cause is gone" \
	wait_until 10 sql_is "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-fence' AND (payload ->> 'qty')::int = 77" 1
sql "$DB_PS" "DROP TRIGGER relay_fence ON allocation.batches; DROP TABLE public.relay_fence;
              DROP SEQUENCE public.relay_fence_tries" >/dev/null

# The relay speaks UTF-8 to PostgreSQL whatever the environment's client
# encoding: with PGCLIENTENCODING=LATIN1 a consumer named "x…" (checked at
# start as UTF-8) is registered as that name, not refused as a control
# character (the bytes of "…" read as LATIN1 hold a C1 control), nor
# registered under another name.
ENCLOG=$WORK/relay-encoding.log
# (the pub/sub relay of this part runs on: its RELAY_PID is kept)
MAIN_RELAY_PID=$RELAY_PID
PGCLIENTENCODING=LATIN1 start_relay "$ENCLOG" --dsn "dbname=$DB_PS" --consumer "rt-enc-x…" --from-now --no-inbound
ENC_PID=$RELAY_PID
RELAY_PID=$MAIN_RELAY_PID
wait_until 10 sh -c "grep -qF 'postgres: connected' '$ENCLOG' || grep -qF 'error' '$ENCLOG'"
check "PGCLIENTENCODING=LATIN1: the consumer \"rt-enc-x…\" is registered under its own name" \
	sql_is "$DB_PS" "SELECT count(*) FROM allocation.consumer_status WHERE consumer = 'rt-enc-x…'" 1
stop "$ENC_PID"; ENC_PID=
sql "$DB_PS" "SELECT allocation.unregister_consumer('rt-enc-x…')" >/dev/null

# A failure that recurs right after connecting: the relay's role has a
# 100 ms lock_timeout and another session holds the consumer's row, so
# every ack_events fails (55P03) after Redis took the event.  The relay
# keeps its connection and backs off exponentially (here to 4 s): a few
# copies of the event in 6 s, not one every quarter of a second.
STORMLOG=$WORK/relay-storm.log
sql "$DB_PS" "SELECT allocation.register_consumer('relay-storm', false)" >/dev/null
sql "$DB_PS" "SELECT allocation.add_batch('RT-storm', 'RT-STORM', 1)" >/dev/null
"${PSQL[@]}" -d "$DB_PS" -c "BEGIN" \
	-c "SELECT FROM allocation.consumers WHERE name = 'relay-storm' FOR UPDATE" \
	-c "SELECT pg_sleep(6)" -c "COMMIT" >/dev/null 2>&1 &
LOCKER_PID=$!
sleep 0.3
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --backoff-max 4 --poll-interval 0.5 --no-inbound \
	--dsn "dbname=$DB_PS user=$ROLE_ADMIN options='-c lock_timeout=100'" --consumer relay-storm \
	--channel-prefix relay-storm. -v >> "$STORMLOG" 2>&1 &
STORM_PID=$!
wait "$LOCKER_PID" 2>/dev/null
LOCKER_PID=
check "after the lock is gone the storm relay acknowledges the event" wait_until 10 all_acked "$DB_PS" relay-storm
copies=$(grep -F 'published BatchCreated' "$STORMLOG" | wc -l)
echo "# storm: $copies copies of the event, $(log_count "$STORMLOG" "ack_events failed") failed acks in 6 s"
check "a recurring transient query error backs off: at most 8 copies of the event in 6 s (got $copies)" \
	[ "$copies" -ge 1 -a "$copies" -le 8 ]
is "$(log_count "$STORMLOG" "postgres: connection lost")" 0 \
	"a transient query error (lock timeout) keeps the connection"
stop "$STORM_PID"

# A stop while commands wait behind one that waits for a lock: the role's
# own lock_timeout (100 ms) makes the first fail at once; the relay keeps
# trying it, and at SIGTERM goes on running the commands in hand, in
# order, for the stop's 3 s: the lock is released 1 s after the signal,
# and all of them run, none is dropped.
STOPLOG=$WORK/relay-stop.log
sql "$DB_PS" "SELECT allocation.add_batch('RT-stop', 'RT-STOP', 100)" >/dev/null
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --backoff-max 1 --no-outbound --inbound rt.stop \
	--dsn "dbname=$DB_PS user=$ROLE_ADMIN options='-c lock_timeout=100'" >> "$STOPLOG" 2>&1 &
STOP_PID=$!
GEN_PIDS+=("$STOP_PID")
wait_until 10 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB rt.stop | tail -n 1)\" = 1 ]"
rm -f "$WORK/stop.release"
hold "$DB_PS" "$WORK/stop.release" COMMIT "SELECT allocation.allocate('RT-stop-o', 'RT-STOP', 1);"
wait_until 5 sql_is "$DB_PS" "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = '$DB_PS'" 1
for q in $(seq 11 20); do rcli PUBLISH rt.stop "{\"batchref\": \"RT-stop\", \"qty\": $q}" >/dev/null; done
sleep 1.5
kill -TERM "$STOP_PID"
sleep 1
touch "$WORK/stop.release"
wait "$STOP_PID"; rc=$?
is "$rc" 0 "a stop with 10 commands behind one that waits for a lock: exit 0"
is "$(sql "$DB_PS" "SELECT string_agg(payload ->> 'qty', ',' ORDER BY aggregate_seq) FROM allocation.outbox
                    WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-stop'")" "11,12,13,14,15,16,17,18,19,20" \
	"... the lock released 1 s after SIGTERM: all 10 run, in order, within the stop's grace"
is "$(log_count "$STOPLOG" "dropping")" 0 "... and none is dropped"

# A query that waits (its backend frozen with SIGSTOP) does not stop the
# relay reading its subscription: with Redis's pubsub output buffer
# limited to 4 MB, 12 MB of commands published meanwhile would have Redis
# disconnect a subscriber that stopped reading, and lose them all.  The
# relay keeps reading into its queue (--inbound-max 50), drops the rest
# and says how many; the 50 run once the backend is back.
FLOODLOG=$WORK/relay-flood.log
sql "$DB_PS" "SELECT allocation.add_batch('RT-flood', 'RT-FLOOD', 100)" >/dev/null
"$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --backoff-max 1 --no-outbound --inbound rt.flood \
	--inbound-max 50 --dsn "dbname=$DB_PS user=$ROLE_ADMIN application_name=relay-flood" >> "$FLOODLOG" 2>&1 &
FLOOD_PID=$!
GEN_PIDS+=("$FLOOD_PID")
wait_until 10 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB rt.flood | tail -n 1)\" = 1 ]"
flood_backend=$(sql "$DB_PS" "SELECT pid FROM pg_stat_activity WHERE application_name = 'relay-flood' LIMIT 1")
rcli CONFIG SET client-output-buffer-limit "pubsub 4mb 2mb 60" >/dev/null
kill -STOP "$flood_backend"
FROZEN_FLOOD=$flood_backend
rcli PUBLISH rt.flood '{"batchref": "RT-flood", "qty": 9}' >/dev/null
sleep 0.5
python3 - "$REDIS_PORT" rt.flood 4000 <<'PY'
import socket, sys
port, ch, n = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
buf = bytearray()
for i in range(n):
    m = ('{"batchref": "RT-flood", "qty": %d, "pad": "%s"}' % (10 + i % 90, "x" * 3000)).encode()
    buf += b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(ch), ch, len(m), m)
s.sendall(buf)
f = s.makefile("rb")
for _ in range(n):
    f.readline()
PY
sleep 1
check "12 MB of commands while a query waits (frozen backend): the relay drops past --inbound-max and says so" \
	wait_until 5 log_has "$FLOODLOG" "inbound: dropped a"
kill -CONT "$flood_backend"
FROZEN_FLOOD=
check "... once the backend is back, the command in hand and the 50 queued run" \
	wait_until 20 sql_is "$DB_PS" "SELECT count(*) >= 50 FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-flood'" t
check "... and the log counts the dropped ones once the queue is empty, no message after them needed" \
	wait_until 5 sh -c "grep -E 'inbound: [0-9]+ messages dropped while the queue was full' '$FLOODLOG' |
		grep -qvE 'inbound: 0 messages'"
rcli CONFIG SET client-output-buffer-limit "pubsub 32mb 8mb 60" >/dev/null
# (a relay that stopped reading finds the closed connection once it has
# read what the kernel kept: well within these 2 s)
sleep 2
is "$(log_count "$FLOODLOG" "redis: connection lost")" 0 \
	"... and Redis did not disconnect it (it kept reading its subscription while the query waited)"
stop "$FLOOD_PID"

# --source outbox and a session idle in transaction holding a transaction
# id: the consumer API waits for it (it never skips a late commit), so an
# event waits as long as that session stays open; the stated bound is
# idle_in_transaction_session_timeout (relay/README.md).  With 3 s, an
# event committed meanwhile arrives within the timeout plus the poll
# interval, although the session meant to stay open 12 s.
sql "$DB_PS" "SELECT allocation.add_batch('RT-idle-b', 'RT-IDLE', 10)" >/dev/null
wait_until 5 all_acked "$DB_PS" relay-test
{ printf "SET idle_in_transaction_session_timeout = '3s';\nBEGIN;\nSELECT pg_current_xact_id();\n"; sleep 12; } |
	"${PSQL[@]}" -d "$DB_PS" >/dev/null 2>&1 &
GEN_PIDS+=("$!")
wait_until 5 sql_is "$DB_PS" "SELECT count(*) FROM pg_stat_activity
                               WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL" 1
sql "$DB_PS" "SELECT allocation.allocate('RT-idle', 'RT-IDLE', 1)" >/dev/null
sleep 1.5
is "$(grep -c 'RT-idle' "$WORK/book.out")" 0 \
	"outbox: an event committed while a session idles in transaction with an xid waits for it"
check "... at most idle_in_transaction_session_timeout (3 s) plus the poll interval: it arrives" \
	wait_until 8 sh -c "grep -qF 'ok	RT-idle	' '$WORK/book.out'"

# A hung Redis (SIGSTOP): a command that gets no reply within 10 s gives
# the connection up, and the log says so in those words.
kill -STOP "$REDIS_PID"
sql "$DB_PS" "SELECT allocation.add_batch('RT-hung', 'RT-HUNG', 1)" >/dev/null
check "a hung Redis: \"redis: connection lost (no reply within 10s)\"" \
	wait_until 25 log_has "$PSLOG" "redis: connection lost (no reply within 10s)"
kill -CONT "$REDIS_PID"
check "... and the relay connects again once it answers" wait_until 10 log_has "$PSLOG" "redis: connected" 2

# Redis killed and restarted under the relay.
echo "# redis restart under the pub/sub relay ($(elapsed)s)"
wait_until 10 all_acked "$DB_PS" relay-test
pos_before=$(consumer_position "$DB_PS" relay-test)
nlost=$(log_count "$PSLOG" "redis: connection lost")
nconn=$(log_count "$PSLOG" "redis: connected")
stop "$REDIS_PID" KILL
stop "$SUB_PID"
check "the relay notices that Redis is gone" wait_until 10 log_has "$PSLOG" "redis: connection lost" $((nlost + 1))
sql "$DB_PS" "SELECT allocation.add_batch('RT-gap', 'RT-GAP', 100);
              SELECT allocation.allocate('RT-gap-' || i, 'RT-GAP', 1) FROM generate_series(1, 5) AS i" >/dev/null
sleep 1.5
is "$(consumer_position "$DB_PS" relay-test)" "$pos_before" \
	"while Redis is down nothing is acknowledged (PUBLISH did not succeed)"
start_redis "$REDIS_PORT" || exit 1
: > "$WORK/pubsub.out"
start_subscriber
check "the relay reconnects to Redis" wait_until 10 log_has "$PSLOG" "redis: connected" $((nconn + 1))
check "the events written while Redis was down are published and acknowledged" \
	wait_until 10 all_acked "$DB_PS" relay-test
sql "$DB_PS" "SELECT allocation.allocate('RT-after', 'RT-GAP', 1)" >/dev/null
after_restart() { pubsub_messages | grep -F $'line_allocated\t' | grep -qF '"orderid": "RT-after"'; }
check "events keep flowing to subscribers after the restart" wait_until 10 after_restart
check "the relay subscribed again to change_batch_quantity" \
	wait_until 10 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT PUBSUB NUMSUB change_batch_quantity | tail -n 1)\" = 1 ]"
rcli PUBLISH change_batch_quantity '{"batchref": "RT-gap", "qty": 90}' >/dev/null
check "commands are executed again after the restart" \
	wait_until 10 sql_is "$DB_PS" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'RT-gap'" 1

kill -TERM "$RELAY_PID"
wait "$RELAY_PID"; rc=$?
RELAY_PID=
is "$rc" 0 "SIGTERM: the pub/sub relay exits 0"
check "SIGTERM: logged" log_has "$PSLOG" "stopped:"
stop "$SUB_PID"
SUB_PID=
stop "$BOOK_PID"
BOOK_PID=

# --- streams ---------------------------------------------------------------------------

echo "# streams mode ($(elapsed)s)"
STLOG=$WORK/relay-streams.log
new_db "$DB_ST" || exit 1
rcli FLUSHALL >/dev/null
start_relay "$STLOG" --dsn "dbname=$DB_ST" --consumer relay-stream --mode streams --batch-size 20
check "streams relay connects" \
	wait_until 10 sh -c "grep -qs 'postgres: connected' '$STLOG' && grep -qs 'redis: connected' '$STLOG'"

sql "$DB_ST" "SELECT allocation.add_batch('ST-old', 'ST-SKU', 10, '2011-01-01');
              SELECT allocation.add_batch('ST-newer', 'ST-SKU', 10, '2011-01-02');
              SELECT allocation.allocate('ST-order', 'ST-SKU', 10)" >/dev/null
rcli XADD change_batch_quantity '*' batchref ST-old qty 5 >/dev/null
stream_reallocated() {
	rcli --raw XRANGE line_allocated - + | grep -F '"orderid": "ST-order"' | grep -qF '"batchref": "ST-newer"'
}
check "streams: change_batch_quantity entry -> line_allocated entry with the order and the new batch" \
	wait_until 10 stream_reallocated
check "the command's entry is acknowledged (XACK) after it committed" wait_until 5 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT XPENDING change_batch_quantity allocation | head -n 1)\" = 0 ]"
msg='{"batchref": "ST-newer", "qty": 12, "message_id": "relay-test-s1"}'
rcli XADD change_batch_quantity '*' data "$msg" >/dev/null
rcli XADD change_batch_quantity '*' data "$msg" >/dev/null
rcli XADD change_batch_quantity '*' batchref ST-newer >/dev/null
rcli XADD change_batch_quantity '*' batchref ST-newer qty 11 >/dev/null
check "streams: every entry is handled or skipped" \
	wait_until 10 sql_is "$DB_ST" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'ST-newer' AND payload ->> 'qty' = '11'" 1
is "$(sql "$DB_ST" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'qty' = '12'")" 1 \
	"streams: a message_id sent twice is executed once"
check "streams: the malformed entry is logged" log_has "$STLOG" "skipped a malformed message"
check "streams: nothing left pending in the consumer group" \
	wait_until 5 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p $REDIS_PORT XPENDING change_batch_quantity allocation | head -n 1)\" = 0 ]"

# Kill -9 the relay again and again while two sessions write events.  The
# first kill is staged between PUBLISH and ack: a session locks the
# consumers table (a table lock takes no transaction id, so it does not hold
# back what read_events may return; a row lock would), so the relay's
# ack_events waits after Redis took the batch; the relay and its waiting
# backend are killed, so that batch must come again after the restart
# (duplicates with the same ids).  The other
# kills come at random moments.  The writers go on until the last restart.
echo "# kill test: $KILL_ROUNDS SIGKILLs while 2 sessions write events ($(elapsed)s)"
sql "$DB_ST" "CREATE TABLE relay_kill_stop (stop boolean)"
writer() {
	"${PSQL[@]}" -d "$DB_ST" -c "
	DO \$\$
	BEGIN
		FOR i IN 1..$KILL_ITERATIONS LOOP
			PERFORM allocation.add_batch('KB-$1-' || i, 'K-$1-' || (i % 5), 3);
			PERFORM allocation.allocate('KO-$1-' || i, 'K-$1-' || (i % 5), 2);
			COMMIT;
			EXIT WHEN EXISTS (SELECT FROM relay_kill_stop);
			PERFORM pg_sleep(0.005);
		END LOOP;
	END
	\$\$"
}
KDSN="dbname=$DB_ST application_name=relay-kill-test"
stop "$RELAY_PID"
pg_up_before=$(log_count "$STLOG" "postgres: connected")
start_relay "$STLOG" --dsn "$KDSN" --consumer relay-stream --mode streams --batch-size 20
# registered and listening before the consumers table gets locked
wait_until 10 log_has "$STLOG" "postgres: connected" $((pg_up_before + 1))
writer a > "$WORK/writer-a.log" 2>&1 &
GEN_PIDS+=($!)
writer b > "$WORK/writer-b.log" 2>&1 &
GEN_PIDS+=($!)
relay_waits_for_ack() {
	sql_is "$DB_ST" "SELECT count(*) > 0 FROM pg_stat_activity
	                  WHERE application_name = 'relay-kill-test' AND wait_event_type = 'Lock'
	                    AND query LIKE '%ack_events%'" t
}
kills=0
staged=no
for round in $(seq 1 "$KILL_ROUNDS"); do
	if [ "$round" -eq 1 ]; then
		"${PSQL[@]}" -d "$DB_ST" -c "SET application_name = 'relay-kill-locker'" -c "BEGIN" \
			-c "LOCK TABLE allocation.consumers IN EXCLUSIVE MODE" \
			-c "SELECT pg_sleep(20)" -c "COMMIT" > /dev/null 2>&1 &
		LOCKER_PID=$!
		GEN_PIDS+=("$LOCKER_PID")
		if wait_until 10 relay_waits_for_ack; then
			staged=yes
		else
			sql "$DB_ST" "SELECT application_name, state, wait_event_type, wait_event, left(query, 60)
			                FROM pg_stat_activity WHERE datname = current_database()" | sed 's/^/#   /'
		fi
	else
		sleep "0.$((1 + RANDOM % 4))"
	fi
	alive "$RELAY_PID" || break
	kill -KILL "$RELAY_PID"
	wait "$RELAY_PID" 2>/dev/null
	kills=$((kills + 1))
	if [ "$round" -eq 1 ]; then
		# the killed relay's backend would still run its ack once the lock goes
		sql "$DB_ST" "SET client_min_messages = error;
		              SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		              WHERE application_name IN ('relay-kill-test', 'relay-kill-locker')" >/dev/null
		wait_until 10 sql_is "$DB_ST" "SELECT count(*) FROM pg_stat_activity
		              WHERE application_name IN ('relay-kill-test', 'relay-kill-locker')" 0
	fi
	echo "# SIGKILL $kills$([ "$round" -eq 1 ] && echo ' (between PUBLISH and ack)') with $(consumer_position "$DB_ST" relay-stream) of $(outbox_end "$DB_ST") positions acknowledged"
	start_relay "$STLOG" --dsn "$KDSN" --consumer relay-stream --mode streams --batch-size 20
done
sleep 0.3
sql "$DB_ST" "INSERT INTO relay_kill_stop VALUES (true)"
writers_ok=yes
for pid in "${GEN_PIDS[@]}"; do
	[ "$pid" = "$LOCKER_PID" ] && { wait "$pid" 2>/dev/null; continue; }
	wait "$pid" || writers_ok=no
done
GEN_PIDS=()
is "$writers_ok" yes "the writers committed all their rounds"
is "$staged" yes "the first kill came while the relay waited to acknowledge a published batch"
is "$kills" "$KILL_ROUNDS" "the relay was killed $KILL_ROUNDS times while events were written"
check "the restarted relay catches up" wait_until 20 all_acked "$DB_ST" relay-stream

# verify: every event of the outbox is in Redis, copies alike
verify_streams() {
	local VDB=${VDB:-$DB_ST}
	stream_events "$WORK/streams.tsv"
	load "$WORK/streams.tsv" "$VDB" received >/dev/null
	total=$(sql "$VDB" "SELECT count(*) FROM allocation.outbox")
	got=$(sql "$VDB" "SELECT count(*) || ' ' || count(DISTINCT body::jsonb ->> 'id') FROM received")
	is "$(sql "$VDB" "SELECT count(*) FROM allocation.outbox o
	                    WHERE NOT EXISTS (SELECT FROM received r WHERE (r.body::jsonb ->> 'id')::uuid = o.id)")" 0 \
		"$1: every committed event ($total) is in Redis (received $got: messages, distinct ids)"
	is "$(sql "$VDB" "SELECT count(DISTINCT body::jsonb ->> 'id') FROM received")" "$total" \
		"$1: distinct ids in Redis = events in the outbox"
	is "$(sql "$VDB" "SELECT count(*) FROM (SELECT body::jsonb ->> 'id' FROM received GROUP BY 1
	                                          HAVING count(DISTINCT body::jsonb) > 1
	                                              OR count(DISTINCT src) > 1) AS d")" 0 \
		"$1: a duplicate carries the same id, body and stream"
	is "$(sql "$VDB" "SELECT count(*) FROM (SELECT body::jsonb ->> 'aggregateid', body::jsonb ->> 'aggregate_seq'
	                                          FROM received GROUP BY 1, 2
	                                          HAVING count(DISTINCT body::jsonb ->> 'id') > 1) AS d")" 0 \
		"$1: one id per (aggregate, aggregate_seq)"
	# first copies in stream order: each aggregate's aggregate_seq only grows
	is "$(sql "$VDB" "WITH firsts AS (
	                      SELECT src, body::jsonb ->> 'aggregateid' AS agg,
	                             (body::jsonb ->> 'aggregate_seq')::bigint AS seq, min(n) AS n
	                        FROM received GROUP BY 1, 2, 3),
	                    ordered AS (
	                      SELECT seq, lag(seq) OVER (PARTITION BY src, agg ORDER BY n) AS prev FROM firsts)
	                    SELECT count(*) FROM ordered WHERE prev >= seq")" 0 \
		"$1: in each stream, an aggregate's events come in aggregate_seq order"
	dups=$(sql "$VDB" "SELECT count(*) - count(DISTINCT body::jsonb ->> 'id') FROM received")
	echo "# $1: $total events, $dups duplicate deliveries"
}
verify_streams "kill test"
check "the batch published before the staged kill came again (duplicates: $dups)" [ "$dups" -gt 0 ]
echo "# SIGKILL restarts: $(log_count "$STLOG" 'starting: consumer') relay starts in all"

# Redis killed (SIGKILL) and restarted with its append-only file.
echo "# redis restart under the streams relay ($(elapsed)s)"
lost_before=$(log_count "$STLOG" "redis: connection lost")
connected_before=$(log_count "$STLOG" "redis: connected")
stop "$REDIS_PID" KILL
check "the streams relay notices that Redis is gone" \
	wait_until 10 log_has "$STLOG" "redis: connection lost" $((lost_before + 1))
sql "$DB_ST" "SELECT allocation.add_batch('SR-b', 'SR-SKU', 100);
              SELECT allocation.allocate('SR-o' || i, 'SR-SKU', 1) FROM generate_series(1, 20) AS i" >/dev/null
sleep 1
start_redis "$REDIS_PORT" || exit 1
check "the streams relay reconnects" \
	wait_until 10 log_has "$STLOG" "redis: connected" $((connected_before + 1))
check "the events written while Redis was down are published and acknowledged" \
	wait_until 15 all_acked "$DB_ST" relay-stream
verify_streams "after the Redis restart"
rcli XADD change_batch_quantity '*' batchref SR-b qty 50 >/dev/null
check "the consumer group carries on after the restart" \
	wait_until 10 sql_is "$DB_ST" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'SR-b'" 1

# PostgreSQL lost under the relay: its backend terminated, then the server
# restarted (scripts/cluster.sh restart, same data).
echo "# PostgreSQL lost under the streams relay ($(elapsed)s)"
pg_lost_before=$(log_count "$STLOG" "postgres: connection lost")
pg_up_before=$(log_count "$STLOG" "postgres: connected")
sql "$DB_ST" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'relay-kill-test'" >/dev/null
check "the relay notices that its backend is gone" \
	wait_until 10 log_has "$STLOG" "postgres: connection lost" $((pg_lost_before + 1))
check "... and reconnects" wait_until 10 log_has "$STLOG" "postgres: connected" $((pg_up_before + 1))
if [ -z "${ALLOC_PGDATA:-}" ]; then
	echo "# no ALLOC_PGDATA: the server restart is skipped"
elif bash "$ROOT/scripts/cluster.sh" restart >/dev/null; then
	check "the relay notices the server restart and reconnects" \
		wait_until 15 log_has "$STLOG" "postgres: connected" $((pg_up_before + 2))
else
	not_ok "restart the cluster (scripts/cluster.sh restart)"
fi
sql "$DB_ST" "SELECT allocation.allocate('PG-o' || i, 'SR-SKU', 1) FROM generate_series(1, 10) AS i" >/dev/null
check "events written after the reconnection are published and acknowledged" \
	wait_until 15 all_acked "$DB_ST" relay-stream
verify_streams "after the PostgreSQL restart"

kill -TERM "$RELAY_PID"
wait "$RELAY_PID"; rc=$?
RELAY_PID=
is "$rc" 0 "SIGTERM: exit status 0"
check "SIGTERM: logged" log_has "$STLOG" "stopping (SIGTERM)"

# Entries left pending by a relay that died, taken over by a relay with
# another --consumer name (a host name or pod name that changed).  host-a
# runs through a Redis user without XACK, so its first entry (CL-2 qty 8)
# runs and commits but stays pending; its second (CL-1 qty 7) fails with a
# retried error (a trigger raises 40001) while host-a is killed with
# SIGKILL.  The fence lifted, host-c (ALLOCATION_RELAY_CLAIM_IDLE=0) claims
# nothing; host-b (ALLOCATION_RELAY_CLAIM_IDLE=1; the environment, so
# that a relay without the setting runs too) claims both: CL-1 runs
# once, CL-2 is skipped as a duplicate, nothing stays pending.
echo "# streams: entries left pending by a killed consumer, claimed under another name ($(elapsed)s)"
CLA=$WORK/relay-claim-a.log
CLB=$WORK/relay-claim-b.log
CLC=$WORK/relay-claim-c.log
claim_pending() { rcli XPENDING claim.cmds allocation | head -n 1; }
claim_changes() {
	sql "$DB_ST" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchQuantityChanged'
	               AND payload ->> 'ref' = '$1' AND payload ->> 'qty' = '$2'"
}
sql "$DB_ST" "SELECT allocation.add_batch('CL-1', 'CL-SKU', 10), allocation.add_batch('CL-2', 'CL-SKU', 10);
              CREATE TABLE claim_fence (reference text PRIMARY KEY);
              INSERT INTO claim_fence VALUES ('CL-1');
              CREATE FUNCTION claim_fence() RETURNS trigger LANGUAGE plpgsql AS \$\$
              BEGIN
                  IF EXISTS (SELECT FROM public.claim_fence f WHERE f.reference = NEW.reference) THEN
                      RAISE EXCEPTION 'claim test fence' USING ERRCODE = '40001';
                  END IF;
                  RETURN NEW;
              END \$\$;
              CREATE TRIGGER claim_fence BEFORE UPDATE ON allocation.batches
                  FOR EACH ROW EXECUTE FUNCTION public.claim_fence()" >/dev/null
rcli ACL SETUSER claim-noack on '>claim-pw' '~*' '&*' '+@all' '-xack' >/dev/null
start_relay "$CLA" --dsn "dbname=$DB_ST" --consumer host-a --mode streams --no-outbound \
	--inbound claim.cmds --redis "redis://claim-noack:claim-pw@127.0.0.1:$REDIS_PORT"
wait_until 10 log_has "$CLA" "redis: connected"
ran_id=$(rcli XADD claim.cmds '*' batchref CL-2 qty 8)
fenced_id=$(rcli XADD claim.cmds '*' batchref CL-1 qty 7)
host_a_ran() {
	sql_is "$DB_ST" "SELECT purchased_quantity FROM allocation.batches WHERE reference = 'CL-2'" 8 &&
		log_has "$CLA" "XACK claim.cmds allocation $ran_id: NOPERM"
}
check "host-a ran the first entry (its XACK refused)" wait_until 10 host_a_ran
check "host-a retries the second one (40001)" wait_until 10 log_has "$CLA" "failed for now (claim test fence"
kill -KILL "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
RELAY_PID=
sql "$DB_ST" "DELETE FROM claim_fence" >/dev/null
is "$(rcli XPENDING claim.cmds allocation - + 10 | awk 'NR % 4 == 2' | sort | uniq -c | awk '{ print $1, $2 }')" "2 host-a" \
	"after the SIGKILL both entries are pending under host-a"
ALLOCATION_RELAY_CLAIM_IDLE=0 start_relay "$CLC" --dsn "dbname=$DB_ST" --consumer host-c --mode streams \
	--no-outbound --inbound claim.cmds
wait_until 10 log_has "$CLC" "redis: connected"
sleep 2
is "$(claim_pending) $(claim_changes CL-1 7)" "2 0" "ALLOCATION_RELAY_CLAIM_IDLE=0: another consumer claims nothing"
stop "$RELAY_PID"
ALLOCATION_RELAY_CLAIM_IDLE=1 start_relay "$CLB" --dsn "dbname=$DB_ST" --consumer host-b --mode streams \
	--no-outbound --inbound claim.cmds
check "host-b claims host-a's entries: the fenced command runs" \
	wait_until 15 sql_is "$DB_ST" "SELECT purchased_quantity FROM allocation.batches WHERE reference = 'CL-1'" 7
claim_acked() { [ "$(claim_pending)" = 0 ]; }
check "... and both are acknowledged (XPENDING empty)" wait_until 10 claim_acked
is "$(claim_changes CL-1 7)" 1 "the command left pending by its failure ran exactly once"
is "$(claim_changes CL-2 8)" 1 "the command host-a ran before the SIGKILL did not run twice"
check "... it was skipped as a duplicate by its entry's message_id" \
	log_has "$CLB" "skipped a duplicate: message_id \"redis-stream:claim.cmds:$ran_id\""
check "the claim is logged with both entry ids" \
	sh -c "grep -F 'claimed 2 stream entries' '$CLB' | grep -F '$ran_id' | grep -qF '$fenced_id'"
rcli XADD claim.cmds '*' batchref CL-2 qty 9 >/dev/null
check "host-b goes on with new entries" \
	wait_until 10 sql_is "$DB_ST" "SELECT purchased_quantity FROM allocation.batches WHERE reference = 'CL-2'" 9
stop "$RELAY_PID"
RELAY_PID=
# A refused XACK leaves the entry pending: a relay reading its own pending
# entries, or claiming idle ones, must not run it again and again at once.
CLN=$WORK/relay-claim-noack.log
noack_relay() {
	ALLOCATION_RELAY_CLAIM_IDLE=1 start_relay "$CLN" --dsn "dbname=$DB_ST" --consumer host-n --mode streams \
		--no-outbound --inbound claim.noack --redis "redis://claim-noack:claim-pw@127.0.0.1:$REDIS_PORT"
}
noack_relay
wait_until 10 log_has "$CLN" "redis: connected"
noack_id=$(rcli XADD claim.noack '*' batchref CL-2 qty 6)
wait_until 10 log_has "$CLN" "XACK claim.noack allocation $noack_id: NOPERM"
stop "$RELAY_PID"
noack_relay
noack_dup="skipped a duplicate: message_id \"redis-stream:claim.noack:$noack_id\""
wait_until 10 log_has "$CLN" "redis: connected" 2
wait_until 10 log_has "$CLN" "$noack_dup"
n0_dup=$(log_count "$CLN" "$noack_dup")
sleep 3
stop "$RELAY_PID"
RELAY_PID=
n_dup=$(( $(log_count "$CLN" "$noack_dup") - n0_dup ))
check "an entry whose XACK is refused is not run in a loop: read again at the restart ($n0_dup), then at most once per --claim-idle 1 s ($n_dup times more in 3 s)" \
	[ "$n0_dup" -ge 1 -a "$n_dup" -le 4 ]
is "$(claim_changes CL-2 6)" 1 "... and it ran once"
rcli ACL DELUSER claim-noack >/dev/null

# A refused event holds back the events after it: Redis refuses XADD on
# order.alloc (a string key: WRONGTYPE), which receives the Allocated event
# between two BatchCreated events of the same aggregate.  While it is
# refused, the second BatchCreated must not be in Redis; once the key is
# gone, all three arrive, each stream's entries after the refused one.
echo "# a refused event holds back the events after it ($(elapsed)s)"
ORLOG=$WORK/relay-order.log
rcli SET order.alloc blocked >/dev/null
start_relay "$ORLOG" --dsn "dbname=$DB_ST" --consumer relay-order --mode streams --no-inbound \
	--from-now --channel Allocated=order.alloc --channel-prefix order. -v
wait_until 10 log_has "$ORLOG" "postgres: connected"
sql "$DB_ST" "SELECT allocation.add_batch('OR-1', 'OR-SKU', 10);
              SELECT allocation.allocate('OR-o', 'OR-SKU', 1);
              SELECT allocation.add_batch('OR-2', 'OR-SKU', 10)" >/dev/null
check "Redis refuses the Allocated event (WRONGTYPE), logged" \
	wait_until 10 sh -c "grep -F 'redis refused event' '$ORLOG' | grep -qF WRONGTYPE"
sleep 1.5
is "$(rcli --raw XRANGE order.BatchCreated - + | grep -o '"ref": "OR-[12]"' | tr '\n' ' ')" '"ref": "OR-1" ' \
	"while the Allocated event is refused, the BatchCreated after it is not published"
rcli DEL order.alloc >/dev/null
check "once Redis accepts it, everything is published and acknowledged" \
	wait_until 10 all_acked "$DB_ST" relay-order
entry_of() { rcli --raw XRANGE "$1" - + | awk -v p="$2" 'index($0, p) { print id; exit } /^[0-9]+-[0-9]+$/ { id = $0 }'; }
alloc_id=$(entry_of order.alloc '"orderid": "OR-o"')
b2_id=$(entry_of order.BatchCreated '"ref": "OR-2"')
check "the BatchCreated after the refused event entered Redis after it ($alloc_id < $b2_id)" \
	awk -v a="$alloc_id" -v b="$b2_id" 'BEGIN { split(a, x, "-"); split(b, y, "-");
		exit !(a != "" && b != "" && (x[1] < y[1] || (x[1] == y[1] && x[2] < y[2]))) }'
is "$(rcli --raw XRANGE order.BatchCreated - + | grep -o '"ref": "OR-[12]"' | tr '\n' ' ')" '"ref": "OR-1" "ref": "OR-2" ' \
	"each event once, in order"
stop "$RELAY_PID"
RELAY_PID=

# A frozen backend (SIGSTOP): a query waits at most --pg-timeout (2 s here,
# given in the environment), then the relay reconnects and goes on; and a
# SIGTERM while it waits for a frozen backend ends it within seconds.
echo "# a frozen backend ($(elapsed)s)"
FZLOG=$WORK/relay-freeze.log
backend_of() { sql "$DB_ST" "SELECT pid FROM pg_stat_activity WHERE application_name = 'relay-freeze' ORDER BY backend_start DESC LIMIT 1"; }
FROZEN=()
thaw() { local p; for p in "${FROZEN[@]}"; do kill -CONT "$p" 2>/dev/null; done; }
ALLOCATION_RELAY_PG_TIMEOUT=2 start_relay "$FZLOG" --dsn "dbname=$DB_ST application_name=relay-freeze" \
	--consumer relay-freeze --mode streams --no-inbound --from-now --channel-prefix freeze.
wait_until 10 log_has "$FZLOG" "postgres: connected"
b1=$(backend_of)
FROZEN+=("$b1")
# frozen between two queries, not holding a lock others would wait for
wait_until 5 sql_is "$DB_ST" "SELECT state FROM pg_stat_activity WHERE pid = $b1" idle
kill -STOP "$b1"
sql "$DB_ST" "SELECT allocation.add_batch('FZ-1', 'FZ-SKU', 1)" >/dev/null
check "a frozen backend: the relay gives the query up after --pg-timeout and reconnects" \
	wait_until 10 sh -c "grep -F 'postgres: connection lost' '$FZLOG' | grep -qF 'no answer within 2s' && [ \$(grep -cF 'postgres: connected' '$FZLOG') -ge 2 ]"
check "... and publishes the event written meanwhile" wait_until 10 all_acked "$DB_ST" relay-freeze
b2=$(backend_of)
FROZEN+=("$b2")
wait_until 5 sql_is "$DB_ST" "SELECT state FROM pg_stat_activity WHERE pid = $b2" idle
kill -STOP "$b2"
sleep 0.7
kill -TERM "$RELAY_PID"
stopped=no
for _ in $(seq 1 80); do alive "$RELAY_PID" || { stopped=yes; break; }; sleep 0.1; done
is "$stopped" yes "SIGTERM while the relay waits for a frozen backend: it stops within 8 s"
thaw
stop "$RELAY_PID"
RELAY_PID=
sql "$DB_ST" "SET client_min_messages = error; SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'relay-freeze'" >/dev/null

# Many queries given up (--pg-timeout) by a relay that is the first process
# of its PID namespace, as a container's entrypoint is: every orphan there
# is its child, the senders of its cancel requests included. They must be
# reaped (the last one may wait for the next query), not pile up as
# zombies, one per query given up. The command waits on the product's row
# lock, held by an open transaction, so each attempt times out
# (--command-lock-timeout 0: the lock wait is left to --pg-timeout).
echo "# many queries given up by the first process of a PID namespace ($(elapsed)s)"
if unshare --pid --fork true 2>/dev/null; then
	ZLOG=$WORK/relay-zombies.log
	sql "$DB_ST" "SELECT allocation.add_batch('ZB-1', 'ZB-SKU', 10)" >/dev/null
	ZRELEASE=$WORK/zombies-release
	hold "$DB_ST" "$ZRELEASE" ROLLBACK "SELECT allocation.change_batch_quantity('ZB-1', 9);"
	ZHOLD_PID=$HOLD_PID
	wait_until 5 sql_is "$DB_ST" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_ST' AND state = 'idle in transaction'" 1
	unshare --pid --fork "$RELAY" --redis "redis://127.0.0.1:$REDIS_PORT" --backoff-max 0.5 --pg-timeout 0.5 \
		--command-lock-timeout 0 --dsn "dbname=$DB_ST user=$ROLE_ADMIN" --mode streams --no-outbound \
		--inbound relay.zombies >> "$ZLOG" 2>&1 &
	ZNS_PID=$!
	GEN_PIDS+=("$ZNS_PID")
	rcli XADD relay.zombies '*' data '{"batchref": "ZB-1", "qty": 7, "message_id": "zb-1"}' >/dev/null
	wait_until 40 sh -c "[ \$(grep -cF 'no answer within 0.5s (--pg-timeout)' '$ZLOG') -ge 8 ]"
	zrelay=$(pgrep -P "$ZNS_PID" | head -n 1)
	check "a relay as PID 1 of a namespace gave 8 queries up (--pg-timeout)" \
		sh -c "[ \$(grep -cF 'no answer within 0.5s (--pg-timeout)' '$ZLOG') -ge 8 ] && [ -n '$zrelay' ]"
	# One sender may have ended since the last query, and on a loaded
	# machine a second may still have been running then: the count is
	# sampled until it is at most 1.  A relay that did not reap would show
	# one more zombie per query given up, never fewer.
	few_zombies() {
		[ -n "$zrelay" ] || return 1
		zombies=$(ps -o stat= --ppid "$zrelay" | grep -c '^Z')
		[ "$zombies" -le 1 ]
	}
	zombies=
	wait_until 10 few_zombies
	check "... and reaped the senders of its cancels: ${zombies:-?} zombie children, at most 1" \
		[ "${zombies:-2}" -le 1 ]
	[ "${zombies:-2}" -le 1 ] || tail -n 5 "$ZLOG" | sed 's/^/#   /'
	touch "$ZRELEASE"
	stop "$ZHOLD_PID"
	stop "$zrelay"
	stop "$ZNS_PID"
else
	ok "# SKIP a relay as PID 1 of a namespace (unshare --pid is not allowed here)"
fi

# A server side that accepts connections and never answers them: a frozen
# postmaster, or a half-dead proxy or load balancer in front of a live one.
# A TCP proxy stands between the relay and PostgreSQL. Frozen, it forwards
# nothing more on the connections it has, so the relay's query is given up
# after --pg-timeout (1 s here); the cancel request that follows it is
# accepted and never answered (libpq 15's PQcancel has no timeout of its
# own), and a new connection waits for the thaw. Five give-ups in a row:
# the process that sends each cancel must end after its bound (the
# query's --pg-timeout), not live on, one more per give-up, for as long as
# the server is silent. Its children are sampled every 0.1 s meanwhile.
echo "# cancel requests that get no answer ($(elapsed)s)"
CXLOG=$WORK/relay-cancel-silent.log
PX_FREEZE=$WORK/proxy-frozen
# The accept loop of the TCP proxies below (Python, appended to each):
# a loopback port, written to port_file once listening, and a thread per
# connection running the proxy's serve(conn).
PROXY_LOOP='
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
with open(port_file + ".tmp", "w") as f:
    f.write(str(listener.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'
cat > "$WORK/silent_proxy.py" <<'PY'
import os, socket, struct, sys, threading, time

port_file, freeze_file, pg_path, held_log = sys.argv[1:5]
CANCEL_REQUEST = 80877102
held = []   # frozen connections: kept open, never read again


def frozen():
    return os.path.exists(freeze_file)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            return None
        buf += part
    return buf


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data or frozen():
                break
            dst.sendall(data)
    except OSError:
        pass
    if frozen():
        held.extend((src, dst))
    else:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(client):
    head = recv_exact(client, 8)
    if head is None:
        client.close()
        return
    if struct.unpack("!II", head)[1] == CANCEL_REQUEST and frozen():
        held.append(client)     # accepted, never answered
        with open(held_log, "a") as f:
            f.write("cancel request held\n")
        return
    while frozen():
        time.sleep(0.05)        # a new session waits for the thaw
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(pg_path)
    upstream.sendall(head)
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    pump(upstream, client)

PY
printf '%s' "$PROXY_LOOP" >> "$WORK/silent_proxy.py"
python3 "$WORK/silent_proxy.py" "$WORK/proxy.port" "$PX_FREEZE" "$PGHOST/.s.PGSQL.${PGPORT:-5432}" "$WORK/proxy-held" \
	2>> "$WORK/proxy.err" &
PX_PID=$!
GEN_PIDS+=("$PX_PID")
wait_until 5 test -s "$WORK/proxy.port"
PX_PORT=$(cat "$WORK/proxy.port" 2>/dev/null)
start_relay "$CXLOG" --dsn "host=127.0.0.1 port=$PX_PORT dbname=$DB_ST application_name=relay-cancel" \
	--consumer relay-cancel --mode streams --no-inbound --from-now --channel-prefix cancel. --pg-timeout 1
CX_RELAY=$RELAY_PID
# the relay's children (the senders of its cancels): "time pid stat"
( while [ ! -e "$WORK/sampler-stop" ]; do
	ps -o pid=,stat= --ppid "$CX_RELAY" | awk -v t="$(date +%s.%N)" '{ print t, $0 }'
	sleep 0.1
  done ) > "$WORK/cancel-children.txt" 2>/dev/null &
CX_SAMPLER=$!
GEN_PIDS+=("$CX_SAMPLER")
gave_up=0
if wait_until 10 log_has "$CXLOG" "postgres: connected"; then
	for round in 1 2 3 4 5; do
		n_given=$(log_count "$CXLOG" "no answer within 1s (--pg-timeout)")
		n_conn=$(log_count "$CXLOG" "postgres: connected")
		touch "$PX_FREEZE"
		wait_until 20 sh -c "[ \$(grep -cF 'no answer within 1s (--pg-timeout)' '$CXLOG') -gt $n_given ]" || break
		# thawed once the proxy holds this give-up's cancel request
		wait_until 20 sh -c "[ \$(cat '$WORK/proxy-held' 2>/dev/null | wc -l) -ge $round ]" || break
		rm -f "$PX_FREEZE"
		wait_until 20 sh -c "[ \$(grep -cF 'postgres: connected' '$CXLOG') -gt $n_conn ]" || break
		gave_up=$round
	done
fi
rm -f "$PX_FREEZE"
is "$gave_up" 5 "a silent server: the relay gave 5 queries up (--pg-timeout 1), sent 5 cancel requests that got no answer, and reconnected after each"
check "... every sender of a cancel request ends (its bound: 1 s), none runs 10 s after the last give-up" \
	wait_until 10 sh -c "[ \$(ps -o stat= --ppid $CX_RELAY | grep -vc '^Z') -eq 0 ]"
check "... each unanswered cancel request is logged as given up" \
	wait_until 10 log_has "$CXLOG" "the cancel request of an abandoned query got no answer within 1s; given up" 5
touch "$WORK/sampler-stop"
stop "$CX_SAMPLER"
most=$(awk '$3 !~ /^Z/ { n[$1]++ } END { m = 0; for (t in n) if (n[t] > m) m = n[t]; print m }' "$WORK/cancel-children.txt")
# how long each was seen running, by the sampler's own clock (ps's
# elapsed time once read 4.1e9 s for one of them)
oldest=$(awk '$3 !~ /^Z/ { if (!($2 in first)) first[$2] = $1; last[$2] = $1 }
	END { m = 0; for (p in first) if (last[p] - first[p] > m) m = last[p] - first[p]; printf "%.1f", m }' "$WORK/cancel-children.txt")
seen=$(awk '{ print $2 }' "$WORK/cancel-children.txt" | sort -u | wc -l)
check "... at most 2 senders of cancels ran at once over the 5 give-ups ($most at most, $seen seen)" \
	[ "$seen" -ge 1 -a "$most" -le 2 ]
check "... none ran longer than its bound and 5 s of slack (the longest seen: ${oldest}s)" \
	awk -v o="$oldest" 'BEGIN { exit !(o <= 6) }'
stop "$RELAY_PID"
RELAY_PID=

# The same, with the relay started as a supervisor may leave a program it
# runs: SIGCHLD and SIGALRM ignored, SIGALRM blocked (an exec keeps all
# three). And this time the server stays silent after the give-up: the
# relay runs no query then, it only tries to connect again, and again.
# The sender of the cancel must still end after its bound, and be reaped
# and logged as given up while the server is silent, not once it is back.
echo "# a cancel request that gets no answer, the server silent for good, SIGCHLD and SIGALRM ignored ($(elapsed)s)"
CXLOG2=$WORK/relay-cancel-hostile.log
cat > "$WORK/hostile-relay" <<PY
#!/usr/bin/env python3
import os, signal, sys
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
os.execv("$RELAY", ["$RELAY"] + sys.argv[1:])
PY
chmod +x "$WORK/hostile-relay"
REAL_RELAY=$RELAY
RELAY=$WORK/hostile-relay
start_relay "$CXLOG2" --dsn "host=127.0.0.1 port=$PX_PORT dbname=$DB_ST application_name=relay-cancel-hostile" \
	--consumer relay-cancel-hostile --mode streams --no-inbound --from-now --channel-prefix cancel2. --pg-timeout 1
RELAY=$REAL_RELAY
CX_RELAY=$RELAY_PID
# SIGALRM (14, bit 0x2000) ignored and blocked in the relay itself: the
# wrapper did its part (the relay leaves both alone)
alrm_ignored_blocked() {
	local ign blk
	ign=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$1/status" 2>/dev/null)
	blk=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$ign" ] && [ -n "$blk" ] && (( (0x$ign & 0x2000) && (0x$blk & 0x2000) ))
}
still_silent() { [ -e "$PX_FREEZE" ] && ! log_has "$CXLOG2" "postgres: connected" 2; }
held_before=$(cat "$WORK/proxy-held" 2>/dev/null | wc -l)
given=no
if wait_until 10 log_has "$CXLOG2" "postgres: connected"; then
	check "a relay started with SIGALRM ignored and blocked (and SIGCHLD ignored)" \
		alrm_ignored_blocked "$CX_RELAY"
	touch "$PX_FREEZE"
	wait_until 20 log_has "$CXLOG2" "no answer within 1s (--pg-timeout)" &&
		wait_until 20 sh -c "[ \$(cat '$WORK/proxy-held' 2>/dev/null | wc -l) -gt $held_before ]" &&
		given=yes
fi
is "$given" yes "a query given up (--pg-timeout 1), its cancel request held unanswered, the server silent from then on"
check "... the sender of the cancel ends, SIGALRM at its default action in it, and is reaped while the server is silent" \
	wait_until 30 sh -c "[ -z \"\$(ps -o pid= --ppid $CX_RELAY)\" ]"
check "... and is logged as given up while the server is silent" \
	wait_until 30 log_has "$CXLOG2" "the cancel request of an abandoned query got no answer within 1s; given up"
check "... (still silent then: no new connection got through)" still_silent
rm -f "$PX_FREEZE"
stop "$RELAY_PID"
RELAY_PID=
stop "$PX_PID"

# --- events from the WAL (--source wal) ------------------------------------------
#
# allocation.outbox_mode = both (the outbox rows are the reference the
# checks compare with); the DBA made the publication; the relay's role has
# REPLICATION.
echo "# events from the WAL ($(elapsed)s)"
WLOG=$WORK/relay-wal.log
new_db "$DB_WAL" || exit 1
"${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' -c "DROP ROLE IF EXISTS $ROLE_WAL" \
	-c "CREATE ROLE $ROLE_WAL LOGIN REPLICATION IN ROLE allocation_admin" \
	-c "ALTER DATABASE $DB_WAL SET allocation.outbox_mode = 'both'" || exit 1
sql "$DB_WAL" "CREATE PUBLICATION allocation_events" >/dev/null
timeout 20 "$RELAY" --dsn "dbname=$DB_WAL user=$ROLE_ADMIN" --redis "redis://127.0.0.1:$REDIS_PORT" \
	--source wal --slot relay_test_norepl > "$WORK/relay-norepl.log" 2>&1; rc=$?
if [ "$rc" -eq 1 ] && log_has "$WORK/relay-norepl.log" "needs REPLICATION"; then
	ok "--source wal as a role without REPLICATION: exit 1 with a hint"
else
	not_ok "--source wal as a role without REPLICATION: exit 1 with a hint" "exit $rc"
	cat "$WORK/relay-norepl.log"
fi
# wal_level below logical: a server of its own with wal_level = replica;
# the relay stops with exit 1 and says what to set
as_server_user() {
	if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}
# (a directory of its own: the server's user cannot enter $WORK)
REPLICA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/allocation-relay-replica.XXXXXX")
mkdir -p -m 700 "$REPLICA_DIR/data"
mkdir -p "$REPLICA_DIR/sock"
[ "$(id -u)" -ne 0 ] || chown -R postgres: "$REPLICA_DIR"
if as_server_user "$PG_BINDIR/initdb" -D "$REPLICA_DIR/data" -U postgres --auth=trust --no-sync \
		--no-instructions > "$WORK/replica-initdb.log" 2>&1 &&
	as_server_user "$PG_BINDIR/pg_ctl" -D "$REPLICA_DIR/data" -l "$REPLICA_DIR/sock/log" -w -t 60 \
		-o "-c wal_level=replica -c listen_addresses='' -c unix_socket_directories='$REPLICA_DIR/sock' -c port=5432 -c fsync=off" \
		start > "$REPLICA_DIR/start.log" 2>&1; then
	REPLICA_DATA=$REPLICA_DIR/data
	"${PSQL[@]}" -h "$REPLICA_DIR/sock" -p 5432 -U postgres -d postgres -c "CREATE EXTENSION allocation" >/dev/null
	timeout 20 "$RELAY" --dsn "host=$REPLICA_DIR/sock port=5432 user=postgres dbname=postgres" \
		--redis "redis://127.0.0.1:$REDIS_PORT" --source wal --no-inbound > "$WORK/relay-replica.log" 2>&1; rc=$?
	if [ "$rc" -eq 1 ] && log_has "$WORK/relay-replica.log" "needs wal_level = logical"; then
		ok "--source wal with wal_level = replica: exit 1, saying it needs wal_level = logical"
	else
		not_ok "--source wal with wal_level = replica: exit 1, saying it needs wal_level = logical" "exit $rc"
		cat "$WORK/relay-replica.log"
	fi
	as_server_user "$PG_BINDIR/pg_ctl" -D "$REPLICA_DATA" -m fast -w stop >/dev/null 2>&1
	REPLICA_DATA=
else
	not_ok "a server with wal_level = replica starts"
	cat "$WORK/replica-initdb.log" "$REPLICA_DIR/start.log"
fi
# A relay whose --source does not read where allocation.outbox_mode writes
# would publish nothing: it says so at every connection.  Every source
# against every mode (set for the relay's role in the database).
for source in wal outbox; do
	for mode in table wal both; do
		MMLOG=$WORK/relay-mode-$source-$mode.log
		"${PSQL[@]}" -d postgres -c "ALTER ROLE $ROLE_WAL IN DATABASE $DB_WAL SET allocation.outbox_mode = '$mode'" >/dev/null
		start_relay "$MMLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL" --mode pubsub --source "$source" \
			--slot relay_test_mode --consumer relay-mode --no-inbound --channel-prefix relay-mode.
		wait_until 10 sh -c "grep -qE 'wal: connected|postgres: connected' '$MMLOG'"
		stop "$RELAY_PID"
		case $source:$mode in wal:table | outbox:wal) want=1 ;; *) want=0 ;; esac
		is "$(log_count "$MMLOG" "publishes none of them")" "$want" \
			"--source $source, outbox_mode $mode: $([ "$want" = 1 ] && echo "a warning that nothing will be published" || echo "no warning")"
	done
done
"${PSQL[@]}" -d postgres -c "ALTER ROLE $ROLE_WAL IN DATABASE $DB_WAL RESET allocation.outbox_mode" >/dev/null
sql "$DB_WAL" "SELECT pg_drop_replication_slot('relay_test_mode') FROM pg_replication_slots WHERE slot_name = 'relay_test_mode'" >/dev/null
rcli FLUSHALL >/dev/null
: > "$WORK/pubsub.out"
: > "$WORK/book.out"
start_subscriber
start_book_consumer
start_relay "$WLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL" --mode pubsub --source wal --slot relay_test_wal
check "wal: the relay creates its slot and streams" wait_until 10 log_has "$WLOG" "wal: connected"
check "wal: the relay's session does not LISTEN (no NOTIFY at every commit)" \
	sql_is "$DB_WAL" "SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE_WAL' AND query LIKE '%LISTEN%'" 0
sql "$DB_WAL" "SELECT allocation.add_batch('WT-old', 'WT-SKU', 10, '2011-01-01');
               SELECT allocation.add_batch('WT-newer', 'WT-SKU', 10, '2011-01-02');
               SELECT allocation.allocate('WT-order', 'WT-SKU', 10)" >/dev/null
check "wal: the first allocation reaches the book's consumer" wait_until 10 sh -c "grep -qxF 'ok	WT-order	WT-old' '$WORK/book.out'"
rcli PUBLISH change_batch_quantity '{"batchref": "WT-old", "qty": 5}' >/dev/null
check "wal: the book's scenario: line_allocated carries the order and the new batch, in the book's shape" \
	wait_until 10 sh -c "grep -qxF 'ok	WT-order	WT-newer' '$WORK/book.out'"
is "$(grep -c '^bad' "$WORK/book.out")" 0 "wal: every line_allocated message is the book's"
# A command that waits for a lock (a session holds its product's row,
# idle in transaction) holds up neither the events of other products nor
# the commands' order: it waits --command-lock-timeout (1 s) at a time
# and is tried again, the log names it, the connection is kept; "qty 5, 7,
# 5" queued behind it ends at 5 once the lock is gone.
sql "$DB_WAL" "SELECT allocation.add_batch('WT-lock', 'WT-LOCK', 100)" >/dev/null
rm -f "$WORK/wal-lock.release"
hold "$DB_WAL" "$WORK/wal-lock.release" COMMIT "SELECT allocation.allocate('WT-lock-o', 'WT-LOCK', 1);"
wait_until 5 sql_is "$DB_WAL" "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = '$DB_WAL'" 1
nlost=$(log_count "$WLOG" "postgres: connection lost")
for q in 5 7 5; do rcli PUBLISH change_batch_quantity "{\"batchref\": \"WT-lock\", \"qty\": $q}" >/dev/null; done
check "wal: a command that waits for a lock is named in the log" \
	wait_until 5 sh -c "grep -F 'waits for a lock' '$WLOG' | grep -qF WT-lock"
sql "$DB_WAL" "SELECT allocation.add_batch('WT-other', 'WT-OTHER', 10)" >/dev/null
t_other=$(date +%s.%N)
if wait_until 3 sh -c "grep -qF 'WT-OTHER' '$WORK/pubsub.out'"; then
	ok "wal: ... meanwhile an event of another product reaches Redis within 3 s ($(awk -v a="$t_other" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s)"
else
	not_ok "wal: ... meanwhile an event of another product reaches Redis within 3 s"
fi
sleep 2
touch "$WORK/wal-lock.release"
check "wal: ... once the lock is gone the three run in order: qty 5, 7, 5" \
	wait_until 10 sql_is "$DB_WAL" "SELECT string_agg(payload ->> 'qty', ',' ORDER BY aggregate_seq) FROM allocation.outbox
	                               WHERE type = 'BatchQuantityChanged' AND payload ->> 'ref' = 'WT-lock'" "5,7,5"
is "$(sql "$DB_WAL" "SELECT purchased FROM allocation.stock WHERE reference = 'WT-lock'")" 5 "wal: ... and the batch ends at 5"
check "wal: ... the log says when it no longer waits" log_has "$WLOG" "no longer waits for a lock"
is "$(log_count "$WLOG" "postgres: connection lost")" "$nlost" "wal: ... and the connection was kept"

# A session holding a transaction id, idle in transaction: with the WAL as
# the source it delays nothing (the outbox's consumer API would wait for it).
{ printf 'BEGIN;\nSELECT pg_current_xact_id();\n'; sleep 8; } | "${PSQL[@]}" -d "$DB_WAL" >/dev/null 2>&1 &
IDLE_PID=$!
GEN_PIDS+=("$IDLE_PID")
idle_holder() {
	sql_is "$DB_WAL" "SELECT count(*) FROM pg_stat_activity
	                  WHERE state = 'idle in transaction' AND backend_xid IS NOT NULL" 1
}
wait_until 5 idle_holder
sql "$DB_WAL" "SELECT allocation.allocate('WT-idle', 'WT-SKU', 1)" >/dev/null
check "wal: an event committed while another session idles in transaction with an xid arrives at once" \
	wait_until 4 sh -c "grep -qF 'ok	WT-idle	' '$WORK/book.out'"
check "... while the session still idles in transaction" idle_holder
# Only the extension's own messages are events: a non-transactional one
# (sent at once, even though its transaction then rolls back) is not, nor
# one that a role outside the extension writes with
# pg_logical_emit_message (executable by PUBLIC).
forged() { printf "E'00000000-0000-0000-0000-0000000000%s\\nAllocated\\n{\"id\" : \"00000000-0000-0000-0000-0000000000%s\", \"type\" : \"Allocated\", \"payload\" : {\"orderid\": \"FORGED-%s\"}}'" "$1" "$1" "$1"; }
sql "$DB_WAL" "BEGIN; SELECT pg_logical_emit_message(false, 'allocation', $(forged f1)); ROLLBACK" >/dev/null
"${PSQL[@]}" -U "$ROLE_OUTSIDER" -d "$DB_WAL" -c "SELECT pg_logical_emit_message(true, 'allocation', $(forged f2))" >/dev/null 2>&1
# ... nor one that guesses a token (the prefix is "allocation:<secret>")
"${PSQL[@]}" -U "$ROLE_OUTSIDER" -d "$DB_WAL" -c "SELECT pg_logical_emit_message(true, 'allocation:' || md5('guess'), $(forged f3))" >/dev/null 2>&1
sql "$DB_WAL" "SELECT allocation.allocate('WT-after-forged', 'WT-SKU', 1)" >/dev/null
check "wal: an event after the forged one arrives" wait_until 10 sh -c "grep -qF 'ok	WT-after-forged	' '$WORK/book.out'"
is "$(grep -c 'FORGED-f1' "$WORK/pubsub.out")" 0 \
	"wal: a non-transactional allocation message of a rolled-back transaction is not published"
is "$(grep -c 'FORGED-f2' "$WORK/pubsub.out")" 0 \
	"wal: an allocation message written by a role outside the extension is not published"
is "$(grep -c 'FORGED-f3' "$WORK/pubsub.out")" 0 \
	"wal: a message with a wrong token is not published"
is "$(log_count "$WLOG" "ignored a logical message with an \"allocation\" prefix")" 1 \
	"wal: the forged messages are logged once"
# the prefix is for roles that read the WAL: not for the outsider, nor
# for an administrator without REPLICATION (42501 both)
for who in "$ROLE_OUTSIDER" "$ROLE_ADMIN"; do
	"${PSQL[@]}" -U "$who" -d "$DB_WAL" -c "SELECT allocation.wal_message_prefix()" > "$WORK/prefix.out" 2>&1
	is "$(grep -c '42501\|permission denied' "$WORK/prefix.out")" 1 "wal: $who cannot read the prefix (42501)"
done
stop "$RELAY_PID"
RELAY_PID=
check "wal: the summary counts the 3 forged messages" log_has "$WLOG" "3 forged messages ignored"
SECRET=$(sql "$DB_WAL" "SELECT token FROM allocation.wal_secret")
check "wal: the database has a secret" [ ${#SECRET} -eq 32 ]
is "$(grep -c "$SECRET" "$WLOG" "$WORK/pubsub.out" | awk -F: '{ n += $2 } END { print n + 0 }')" 0 \
	"wal: the secret shows neither in the relay's log nor in what it publishes"
if [ -n "${ALLOC_PGLOG:-}" ] && [ -f "$ALLOC_PGLOG" ]; then
	is "$(grep -c "$SECRET" "$ALLOC_PGLOG")" 0 "wal: the secret is not in the server's log"
fi
is "$(sql "$DB_WAL" "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%$SECRET%' AND pid <> pg_backend_pid()")" 0 \
	"wal: the secret is in no query text of pg_stat_activity"
# The extension dropped and created again (or a restore with --clean into
# the same database) while the relay reads the slot: the new extension
# draws a new token, and the events written after it are the extension's
# own. They must reach Redis, not be taken for forged messages and
# confirmed past (lost).
DB_RE=allocation_relay_wal_re
WRLOG=$WORK/relay-wal-reinstall.log
new_db "$DB_RE" >/dev/null || exit 1
"${PSQL[@]}" -d postgres -c "ALTER DATABASE $DB_RE SET allocation.outbox_mode = 'wal'" >/dev/null
sql "$DB_RE" "CREATE PUBLICATION allocation_events" >/dev/null
start_relay "$WRLOG" --dsn "dbname=$DB_RE user=$ROLE_WAL" --mode pubsub --source wal --slot relay_test_wal_re --no-inbound
check "wal reinstall: the relay streams" wait_until 10 log_has "$WRLOG" "wal: connected"
sql "$DB_RE" "SELECT allocation.add_batch('WR-before', 'WR-SKU', 10)" >/dev/null
check "wal reinstall: an event before the extension is created again arrives" \
	wait_until 10 sh -c "grep -qF '\"ref\": \"WR-before\"' '$WORK/pubsub.out'"
sql "$DB_RE" "SET client_min_messages = warning; DROP EXTENSION allocation CASCADE; CREATE EXTENSION allocation" >/dev/null
sql "$DB_RE" "SELECT allocation.add_batch('WR-after', 'WR-SKU', 10)" >/dev/null
check "wal reinstall: an event written after the extension was created again arrives (not taken for a forged one)" \
	wait_until 10 sh -c "grep -qF '\"ref\": \"WR-after\"' '$WORK/pubsub.out'"
stop "$RELAY_PID"
RELAY_PID=
sql postgres "SELECT count(pg_drop_replication_slot('relay_test_wal_re')) FROM pg_replication_slots WHERE slot_name = 'relay_test_wal_re'" >/dev/null
"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB_RE WITH (FORCE)" >/dev/null

# The relay reads the prefix when it connects; in a database whose first
# event is still being written (the token drawn by a transaction that has
# not ended: an application session idle in transaction), that read waits
# for the transaction. The relay must stay in control meanwhile: SIGTERM
# stops it (as with a frozen backend, streams section), and --pg-timeout
# gives the read up. Either way the read is cancelled on the server: a
# backend left waiting would keep its place in the lock queue for nobody
# until the transaction ends. Once the transaction commits, the relay
# reads the prefix and publishes. The slot exists already, so that nothing
# else of the connection waits.
DB_HOLD=allocation_relay_wal_hold
HLOG=$WORK/relay-wal-hold.log
HRELEASE=$WORK/wal-hold-release
new_db "$DB_HOLD" >/dev/null || exit 1
sql "$DB_HOLD" "CREATE PUBLICATION allocation_events" >/dev/null
sql "$DB_HOLD" "SELECT allocation.add_batch('WH-b1', 'WH-SKU', 10)" >/dev/null
sql "$DB_HOLD" "SELECT 1 FROM pg_create_logical_replication_slot('relay_test_wal_hold', 'pgoutput')" >/dev/null
"${PSQL[@]}" -d postgres -c "ALTER DATABASE $DB_HOLD SET allocation.outbox_mode = 'wal'" >/dev/null
# the holder commits when $HRELEASE appears
hold "$DB_HOLD" "$HRELEASE" COMMIT "SELECT allocation.allocate('WH-order', 'WH-SKU', 1);"
wait_until 5 sql_is "$DB_HOLD" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_HOLD' AND state = 'idle in transaction'" 1
# the backends that wait for the prefix (the relay's role: one at most)
prefix_waiters() {
	sql "$DB_HOLD" "SELECT coalesce(string_agg(pid::text, ' ' ORDER BY pid), '') FROM pg_stat_activity
	  WHERE usename = '$ROLE_WAL' AND query LIKE '%wal_message_prefix%' AND wait_event_type = 'Lock'"
}
start_relay "$HLOG" --dsn "dbname=$DB_HOLD user=$ROLE_WAL" --mode pubsub --source wal --slot relay_test_wal_hold --no-inbound --pg-timeout 2
check "wal hold: the relay's read of the prefix waits for the first event's transaction" \
	wait_until 5 sh -c "[ -n \"\$(\"$PG_BINDIR/psql\" -X -At -d $DB_HOLD -c \"SELECT 1 FROM pg_stat_activity WHERE usename = '$ROLE_WAL' AND query LIKE '%wal_message_prefix%' AND wait_event_type = 'Lock'\")\" ]"
stops_on_term "wal hold: the relay waits for the prefix"
check "wal hold: ... and its read is cancelled: no backend of it waits for the lock 5 s later" \
	wait_until 5 sh -c "[ -z \"\$(\"$PG_BINDIR/psql\" -X -At -d $DB_HOLD -c \"SELECT 1 FROM pg_stat_activity WHERE usename = '$ROLE_WAL' AND query LIKE '%wal_message_prefix%' AND wait_event_type = 'Lock'\")\" ]"
# --pg-timeout: the waiting backend of the attempt that timed out ends
# (the next attempt's backend, another pid, may wait meanwhile)
# (a backend the stopped relay left behind is not this relay's: left out)
left=$(prefix_waiters)
start_relay "$HLOG" --dsn "dbname=$DB_HOLD user=$ROLE_WAL" --mode pubsub --source wal --slot relay_test_wal_hold --no-inbound --pg-timeout 2
wait_until 5 sh -c "[ \"\$(\"$PG_BINDIR/psql\" -X -At -d $DB_HOLD -c \"SELECT count(*) FROM pg_stat_activity WHERE usename = '$ROLE_WAL' AND query LIKE '%wal_message_prefix%' AND wait_event_type = 'Lock'\")\" -gt $(wc -w <<< "$left") ]"
first=$(for p in $(prefix_waiters); do grep -qxF "$p" <<< "$(tr ' ' '\n' <<< "$left")" || echo "$p"; done)
timeouts=$(log_count "$HLOG" "no answer within 2s (--pg-timeout)")
check "wal hold: the read of the prefix is given up after --pg-timeout" \
	wait_until 5 sh -c "[ \$(grep -cF 'no answer within 2s (--pg-timeout)' '$HLOG') -gt $timeouts ]"
check "wal hold: ... and cancelled: its backend (${first:-none found}) waits no more 5 s later" \
	wait_until 5 sh -c "[ -n '$first' ] && ! \"$PG_BINDIR/psql\" -X -At -d $DB_HOLD -c \"SELECT pid FROM pg_stat_activity\" | grep -qxF '$first'"
connected=$(log_count "$HLOG" "wal: connected")
touch "$HRELEASE"
check "wal hold: once the transaction commits, the same relay reads the prefix and connects" \
	wait_until 10 sh -c "[ \$(grep -cF 'wal: connected' '$HLOG') -gt $connected ]"
check "wal hold: ... and publishes the transaction's event" \
	wait_until 10 sh -c "grep -qF '\"orderid\": \"WH-order\"' '$WORK/pubsub.out'"
stop "$RELAY_PID"
RELAY_PID=
stop "$HOLD_PID"
sql postgres "SELECT count(pg_drop_replication_slot('relay_test_wal_hold')) FROM pg_replication_slots WHERE slot_name = 'relay_test_wal_hold'" >/dev/null
"${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB_HOLD WITH (FORCE)" >/dev/null

# The set-up queries after the handshake wait as every other query does:
# at most --pg-timeout, and a stop signal comes through. One of them
# (register_consumer, --source outbox) writes the consumers table; a
# session holds it in ACCESS EXCLUSIVE mode, so each attempt waits on the
# lock.
SULOG=$WORK/relay-setup.log
SURELEASE=$WORK/setup-release
hold "$DB_WAL" "$SURELEASE" ROLLBACK "LOCK TABLE allocation.consumers IN ACCESS EXCLUSIVE MODE;"
SUHOLD_PID=$HOLD_PID
check "set-up: a session holds the consumers table" \
	wait_until 5 sql_is "$DB_WAL" "SELECT count(*) FROM pg_locks WHERE relation = 'allocation.consumers'::regclass AND mode = 'AccessExclusiveLock' AND granted" 1
SETUP_WAITERS="SELECT count(*) FROM pg_stat_activity WHERE application_name = 'relay-setup' AND wait_event_type = 'Lock'"
start_relay "$SULOG" --dsn "dbname=$DB_WAL user=$ROLE_ADMIN application_name=relay-setup" --consumer relay-setup \
	--mode pubsub --no-inbound --pg-timeout 1
check "set-up: a set-up query that waits on a lock is given up after --pg-timeout, as a failed attempt" \
	wait_until 8 log_has "$SULOG" "postgres: cannot connect (no answer within 1s (--pg-timeout); query cancelled)"
wait_until 5 sql_is "$DB_WAL" "$SETUP_WAITERS" 1
stops_on_term "set-up: a set-up query waits on a lock"
check "set-up: ... and no backend of it waits on the lock 5 s later" wait_until 5 sql_is "$DB_WAL" "$SETUP_WAITERS" 0
touch "$SURELEASE"
stop "$SUHOLD_PID"

# A new slot waits for every transaction that holds a transaction id when
# it is created, as long as it stays open: no timeout there (an attempt
# given up would wait again), but the relay says what it waits for, a stop
# signal still ends the wait (the command cancelled on the server), and
# once the transaction ends the slot is made and events flow.
SLLOG=$WORK/relay-wal-slot.log
SLRELEASE=$WORK/wal-slot-release
hold "$DB_WAL" "$SLRELEASE" COMMIT "SELECT pg_current_xact_id();"
SLHOLD_PID=$HOLD_PID
wait_until 5 sql_is "$DB_WAL" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_WAL' AND state = 'idle in transaction' AND backend_xid IS NOT NULL" 1
SLOT_WAITERS="SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'relay-slot' AND wait_event_type = 'Lock'"
start_relay "$SLLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL application_name=relay-slot" --mode pubsub --source wal \
	--slot relay_test_wal_new --no-inbound --pg-timeout 1
check "new slot: creating it waits for a transaction with an xid, and the relay says so" \
	wait_until 8 log_has "$SLLOG" "creating the replication slot relay_test_wal_new waits for the transactions open when it began"
check "new slot: ... past --pg-timeout (no attempt given up)" \
	sh -c "sleep 1.5; [ \"\$(\"$PG_BINDIR/psql\" -X -At -d postgres -c \"$SLOT_WAITERS\")\" = 1 ] && ! grep -qF 'no answer within' '$SLLOG'"
stops_on_term "new slot: the slot waits"
check "new slot: ... and its walsender waits no more 5 s later" wait_until 5 sql_is postgres "$SLOT_WAITERS" 0
is "$(sql postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'relay_test_wal_new'")" 0 \
	"new slot: ... and no slot was left behind"
start_relay "$SLLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL application_name=relay-slot" --mode pubsub --source wal \
	--slot relay_test_wal_new --no-inbound --pg-timeout 1
wait_until 8 sh -c "[ \$(grep -cF 'waits for the transactions open when it began' '$SLLOG') -ge 2 ]"
touch "$SLRELEASE"
check "new slot: once the transaction ends, the slot is made and the relay connects" \
	wait_until 10 log_has "$SLLOG" "wal: created the replication slot relay_test_wal_new"
wait_until 10 log_has "$SLLOG" "wal: connected"
sql "$DB_WAL" "SELECT allocation.add_batch('WS-1', 'WS-SKU', 3)" >/dev/null
sql "$DB_WAL" "SELECT allocation.allocate('WS-order', 'WS-SKU', 1)" >/dev/null
check "new slot: ... and publishes" \
	wait_until 10 sh -c "grep -qF '\"orderid\": \"WS-order\"' '$WORK/pubsub.out'"
stop "$RELAY_PID"
RELAY_PID=
stop "$SLHOLD_PID"
sql postgres "SELECT count(pg_drop_replication_slot('relay_test_wal_new')) FROM pg_replication_slots WHERE slot_name = 'relay_test_wal_new'" >/dev/null

# A query's results need not come all at once: the first statement's of
# "SET ...; LISTEN ...", or a replication command's CommandComplete before
# the ReadyForQuery that ends it. A TCP proxy forwards the server's answer
# to the query that names its marker up to the first CommandComplete and
# holds the rest back for good (a backend frozen, or a network that stalls,
# right there). The relay must wait for the rest as for any answer: given
# up after --pg-timeout where there is one, and a stop signal still ends it.
cat > "$WORK/split_proxy.py" <<'PY'
import os, socket, struct, sys, threading

port_file, pg_path, marker, cut_log = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4]
held = []   # cut connections: kept open, never answered again


def serve(client):
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(pg_path)
    state = {"armed": False, "cut": False}

    def forward_client():
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if marker in data:
                    state["armed"] = True
                upstream.sendall(data)
        except OSError:
            pass

    threading.Thread(target=forward_client, daemon=True).start()
    buf = b""
    try:
        while not state["cut"]:
            data = upstream.recv(65536)
            if not data:
                break
            buf += data
            out = b""
            while len(buf) >= 5:        # the server's messages: type, length
                n = struct.unpack("!I", buf[1:5])[0]
                if len(buf) < 1 + n:
                    break
                msg, buf = buf[:1 + n], buf[1 + n:]
                out += msg
                if state["armed"] and msg[:1] == b"C":
                    state["cut"] = True
                    with open(cut_log, "a") as f:
                        f.write("cut\n")
                    break
            client.sendall(out)
    except OSError:
        pass
    if state["cut"]:
        held.extend((client, upstream))
    else:
        client.close()

PY
printf '%s' "$PROXY_LOOP" >> "$WORK/split_proxy.py"
# split_case NAME MARKER ARGS...: the relay (ARGS) through a proxy cutting
# the answer to MARKER; sets SPLIT_LOG, SPLIT_PX and RELAY_PID
split_case() {
	local name=$1 marker=$2
	shift 2
	SPLIT_LOG=$WORK/relay-split-$name.log
	python3 "$WORK/split_proxy.py" "$WORK/split-$name.port" "$PGHOST/.s.PGSQL.${PGPORT:-5432}" "$marker" \
		"$WORK/split-$name.cut" 2>> "$WORK/split-proxy.err" &
	SPLIT_PX=$!
	GEN_PIDS+=("$SPLIT_PX")
	wait_until 5 test -s "$WORK/split-$name.port"
	start_relay "$SPLIT_LOG" "$@" --dsn "host=127.0.0.1 port=$(cat "$WORK/split-$name.port") sslmode=disable gssencmode=disable $SPLIT_DSN"
}
SPLIT_DSN="dbname=$DB_PS user=$ROLE_ADMIN application_name=relay-split"
split_case listen "LISTEN allocation_events" --consumer relay-split --mode pubsub --no-inbound --pg-timeout 1
check "set-up: \"SET ...; LISTEN ...\" answered up to the first statement only: the proxy cut it" \
	wait_until 5 test -s "$WORK/split-listen.cut"
check "set-up: ... the rest is waited for at most --pg-timeout, a failed attempt" \
	wait_until 5 log_has "$SPLIT_LOG" "postgres: cannot connect (no answer within 1s (--pg-timeout); query cancelled)"
check "set-up: ... and retried with backoff" \
	wait_until 5 sh -c "[ \$(grep -c . '$WORK/split-listen.cut') -ge 2 ]"
stops_on_term "set-up: a set-up query's answer cut after its first statement"
stop "$SPLIT_PX"
SPLIT_DSN="dbname=$DB_WAL user=$ROLE_WAL application_name=relay-split-slot"
split_case slot "CREATE_REPLICATION_SLOT" --mode pubsub --source wal --slot relay_test_wal_split --no-inbound --pg-timeout 1
check "new slot: its CommandComplete comes, not the ReadyForQuery after it: the proxy cut it" \
	wait_until 8 test -s "$WORK/split-slot.cut"
sleep 0.5
stops_on_term "new slot: an answer cut after the CommandComplete"
stop "$SPLIT_PX"
sql postgres "SELECT count(pg_drop_replication_slot('relay_test_wal_split')) FROM pg_replication_slots WHERE slot_name = 'relay_test_wal_split'" >/dev/null

# A stop signal gives the queries still run 3 s in all, not 3 s each: the
# set-up's steps come one after another, and each may wait. Two sessions
# hold the catalog read first (pg_extension) and the consumers table (the
# last step) in ACCESS EXCLUSIVE mode; SIGTERM while the first step waits,
# the first lock released 2.5 s later: the last step must not wait 3 s more.
SGLOG=$WORK/relay-stop-grace.log
rm -f "$WORK/sg-release-1" "$WORK/sg-release-2"
hold "$DB_PS" "$WORK/sg-release-1" ROLLBACK "LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE;"
SG1=$HOLD_PID
hold "$DB_PS" "$WORK/sg-release-2" ROLLBACK "LOCK TABLE allocation.consumers IN ACCESS EXCLUSIVE MODE;"
SG2=$HOLD_PID
wait_until 5 sql_is "$DB_PS" "SELECT count(*) FROM pg_locks WHERE relation IN ('pg_catalog.pg_extension'::regclass, 'allocation.consumers'::regclass) AND mode = 'AccessExclusiveLock' AND granted" 2
SG_WAITERS="SELECT count(*) FROM pg_stat_activity WHERE application_name = 'relay-stop-grace' AND wait_event_type = 'Lock'"
start_relay "$SGLOG" --dsn "dbname=$DB_PS user=$ROLE_ADMIN application_name=relay-stop-grace" --consumer relay-stop-grace \
	--mode pubsub --no-inbound --pg-timeout 60
wait_until 5 sql_is "$DB_PS" "$SG_WAITERS" 1
sg_t0=$(date +%s.%N)
kill -TERM "$RELAY_PID"
sleep 2.5
touch "$WORK/sg-release-1"
for _i in $(seq 1 100); do alive "$RELAY_PID" || break; sleep 0.05; done
sg_took=$(awk -v a="$sg_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
check "stop grace: SIGTERM during the set-up, one step after another waiting: stopped within 5 s of the signal, not 5.5 as with 3 s per step (${sg_took} s)" \
	awk -v t="$sg_took" 'BEGIN { exit !(t <= 5) }'
stop "$RELAY_PID"
RELAY_PID=
check "stop grace: ... and no backend of it waits on a lock 5 s later" wait_until 5 sql_is "$DB_PS" "$SG_WAITERS" 0
touch "$WORK/sg-release-2"
stop "$SG1"; stop "$SG2"

stop "$SUB_PID"; SUB_PID=
stop "$BOOK_PID"; BOOK_PID=

# kill -9 mid-stream: the slot's position is confirmed only after Redis
# took the events, so nothing committed is lost and a re-sent event is the
# same (streams mode keeps every copy for the check).
echo "# wal: kill test, 3 SIGKILLs while 2 sessions write events ($(elapsed)s)"
rcli FLUSHALL >/dev/null
sql "$DB_WAL" "TRUNCATE allocation.outbox; CREATE TABLE relay_kill_stop (stop boolean)" >/dev/null
wal_writer() {
	"${PSQL[@]}" -d "$DB_WAL" -c "
	DO \$\$
	BEGIN
		FOR i IN 1..300 LOOP
			PERFORM allocation.add_batch('WB-$1-' || i, 'W-$1-' || (i % 5), 3);
			PERFORM allocation.allocate('WO-$1-' || i, 'W-$1-' || (i % 5), 2);
			COMMIT;
			EXIT WHEN EXISTS (SELECT FROM relay_kill_stop);
			PERFORM pg_sleep(0.005);
		END LOOP;
	END
	\$\$"
}
start_relay "$WLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL" --mode streams --source wal --slot relay_test_wal_st --no-inbound --batch-size 20
wait_until 10 sh -c "[ \$(grep -cF 'wal: connected' '$WLOG') -ge 2 ]"
wal_writer a > "$WORK/wal-writer-a.log" 2>&1 &
WA=$!
wal_writer b > "$WORK/wal-writer-b.log" 2>&1 &
WB=$!
GEN_PIDS+=("$WA" "$WB")
for round in 1 2 3; do
	sleep "0.$((2 + RANDOM % 5))"
	kill -KILL "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null
	start_relay "$WLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL" --mode streams --source wal --slot relay_test_wal_st --no-inbound --batch-size 20
done
sleep 0.3
sql "$DB_WAL" "INSERT INTO relay_kill_stop VALUES (true)" >/dev/null
wait "$WA"; wait "$WB"
caught_up() {
	sql_is "$DB_WAL" "SELECT confirmed_flush_lsn >= pg_current_wal_insert_lsn() - 100000 AND
	                         (SELECT count(*) FROM allocation.outbox) > 0
	                    FROM pg_replication_slots WHERE slot_name = 'relay_test_wal_st'" t &&
		[ "$(rcli XLEN allocation.BatchCreated)" -ge "$(sql "$DB_WAL" "SELECT count(*) FROM allocation.outbox WHERE type = 'BatchCreated'")" ]
}
check "wal: the restarted relay catches up" wait_until 20 caught_up
VDB=$DB_WAL verify_streams "wal kill test"
stop "$RELAY_PID"
RELAY_PID=
entries() { local k n=0; for k in $(rcli --raw KEYS '*'); do n=$((n + $(rcli XLEN "$k"))); done; echo "$n"; }
before=$(entries)
start_relay "$WLOG" --dsn "dbname=$DB_WAL user=$ROLE_WAL" --mode streams --source wal --slot relay_test_wal_st --no-inbound --batch-size 20
wait_until 10 sh -c "[ \$(grep -cF 'wal: connected' '$WLOG') -ge 6 ]"
sleep 1.5
is "$(entries)" "$before" "wal: after SIGTERM the slot's position was confirmed: a restarted relay sends nothing again"
stop "$RELAY_PID"
RELAY_PID=

# Bounded memory with Redis unreachable: the relay holds a batch or two of
# events, not the slot's whole backlog (48 MB of events written meanwhile).
WMEMLOG=$WORK/relay-wal-memory.log
"$RELAY" --redis "redis://127.0.0.1:1" --backoff-max 1 --dsn "dbname=$DB_WAL user=$ROLE_WAL" \
	--source wal --slot relay_test_wal_mem --no-inbound --slot-lag-warn 16 --slot-lag-interval 0.5 >> "$WMEMLOG" 2>&1 &
RELAY_PID=$!
if wait_until 10 log_has "$WMEMLOG" "wal: connected"; then
	rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$RELAY_PID/status"; }
	rss_before=$(rss)
	sql "$DB_WAL" "DO \$\$ BEGIN FOR t IN 1..48 LOOP
	                 PERFORM pg_logical_emit_message(true, allocation.wal_message_prefix(),
	                   format(E'00000000-0000-0000-0000-%s\\nBig\\n{\"id\" : \"x\", \"payload\" : \"%s\"}',
	                          lpad(g::text, 12, '0'), repeat('x', 10000)))
	                   FROM generate_series(1, 100) g;
	                 COMMIT;
	               END LOOP; END \$\$" >/dev/null
	sleep 2
	rss_after=$(rss)
	echo "# memory: wal relay RSS $rss_before kB -> $rss_after kB after 48 MB of events with Redis down"
	check "wal: 48 MB of events while Redis is unreachable: the relay grows by less than 24 MB ($(( (rss_after - rss_before) / 1024 )) MB)" \
		[ $((rss_after - rss_before)) -lt 24576 ]
	# the slot's retained WAL grows meanwhile: --slot-lag-warn 16 (MB) says so,
	# at most once per --slot-lag-interval
	check "wal: the slot retains more than --slot-lag-warn while Redis is down: a warning" \
		wait_until 5 log_has "$WMEMLOG" "retains"
	n0=$(log_count "$WMEMLOG" "more than --slot-lag-warn 16 MB")
	sleep 2
	n_warn=$(( $(log_count "$WMEMLOG" "more than --slot-lag-warn 16 MB") - n0 ))
	check "... repeated while it lasts, at most once per --slot-lag-interval 0.5 s ($n_warn in 2 s)" \
		[ "$n_warn" -ge 1 -a "$n_warn" -le 5 ]
else
	not_ok "wal: the memory test's relay streams"
fi
stop "$RELAY_PID"
RELAY_PID=
sql "$DB_WAL" "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name LIKE 'relay_test%'" >/dev/null

echo "# relay tests took $(elapsed)s"
printf '%d passed, %d failed\n' "$npass" "$nfail"
[ "$nfail" -eq 0 ]
