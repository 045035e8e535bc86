#!/usr/bin/env bash
# scripts/relay-ctl.sh - Redis and allocation-relay next to the throwaway
# cluster ("make run" starts them, "make stop" stops them).
#
#   scripts/relay-ctl.sh start DB [RELAY ARGS]  start redis-server on
#                          127.0.0.1:$ALLOC_REDIS_PORT and allocation-relay
#                          for database DB of the cluster (restarted if
#                          they already run); extra arguments go to the relay
#   scripts/relay-ctl.sh stop [quiet]   stop both and remove their directory
#                                       (quiet: say nothing)
#   scripts/relay-ctl.sh status         say whether they run, and where
#   scripts/relay-ctl.sh env            print "export REDIS_PORT=..." lines
#
# Their directory (pid files, logs, Redis data) is
# /tmp/allocation-relay-<hash of the cluster's data directory>, or
# $ALLOC_RELAY_DIR.  The relay is relay/allocation-relay of this checkout
# (built by "make"), else allocation-relay on the PATH.
#
# Environment:
#   ALLOC_REDIS_PORT   Redis port on 127.0.0.1 (default 6479)
#   ALLOC_RELAY_DIR    their directory
#   and those of scripts/cluster.sh (ALLOC_PGPORT, ALLOC_CLUSTER_DIR, ...)
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REDIS_PORT=${ALLOC_REDIS_PORT:-6479}
MARKER=.allocation-relay   # only directories holding it are ever deleted

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

# The cluster's settings (PGHOST, PGPORT, ALLOC_PGDATA, ...) without starting it.
eval "$(bash "$ROOT/scripts/cluster.sh" env)"

if [ -n "${ALLOC_RELAY_DIR:-}" ]; then
	DIR=$ALLOC_RELAY_DIR
else
	DIR=/tmp/allocation-relay-$(printf '%s' "$ALLOC_PGDATA" | sha1sum | cut -c1-12)
fi

# pid_of NAME: the pid in $DIR/NAME.pid if that process is alive
pid_of() {
	local pid
	pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
	printf '%s\n' "$pid"
}

# stop_pid NAME: SIGTERM, up to 10 s, then SIGKILL
stop_pid() {
	local pid
	pid=$(pid_of "$1") || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

relay_bin() {
	if [ -x "$ROOT/relay/allocation-relay" ]; then
		printf '%s\n' "$ROOT/relay/allocation-relay"
	elif command -v allocation-relay >/dev/null 2>&1; then
		command -v allocation-relay
	else
		die "allocation-relay is not built: run 'make' (it needs libhiredis-dev: 'make deps')"
	fi
}

cmd_stop() {
	local quiet=${1:-}
	if [ ! -e "$DIR" ]; then
		[ "$quiet" = quiet ] || say "relay: not running (no $DIR)"
		return 0
	fi
	[ -f "$DIR/$MARKER" ] || die "$DIR exists but was not made by $0 (no $MARKER); not touching it"
	stop_pid relay
	stop_pid redis
	rm -rf -- "$DIR"
	[ "$quiet" = quiet ] || say "relay: stopped allocation-relay and redis-server, removed $DIR"
}

cmd_start() {
	local db=${1:-} bin
	[ -n "$db" ] || die "usage: $0 start DB [RELAY ARGS]"
	shift
	bin=$(relay_bin)
	command -v redis-server >/dev/null 2>&1 || die "redis-server not found: run 'make deps'"
	cmd_stop quiet
	mkdir -p "$DIR/redis"
	: > "$DIR/$MARKER"

	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" \
		--save '' --appendonly no --daemonize no < /dev/null > "$DIR/redis.log" 2>&1 &
	echo $! > "$DIR/redis.pid"
	for _ in $(seq 1 50); do
		[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
		pid_of redis >/dev/null || break
		sleep 0.1
	done
	if [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" != PONG ] || ! pid_of redis >/dev/null; then
		tail -n 5 "$DIR/redis.log" >&2
		cmd_stop quiet
		die "redis-server did not start on 127.0.0.1:$REDIS_PORT (another one there? set ALLOC_REDIS_PORT)"
	fi

	"$bin" --dsn "dbname=$db" --redis "redis://127.0.0.1:$REDIS_PORT" "$@" \
		< /dev/null > "$DIR/relay.log" 2>&1 &
	echo $! > "$DIR/relay.pid"
	for _ in $(seq 1 50); do
		grep -q 'postgres: connected' "$DIR/relay.log" &&
			grep -q 'redis: connected' "$DIR/relay.log" && break
		pid_of relay >/dev/null || break
		sleep 0.1
	done
	if ! pid_of relay >/dev/null; then
		cat "$DIR/relay.log" >&2
		cmd_stop quiet
		die "allocation-relay stopped at once (log above)"
	fi
	say "relay: redis-server on 127.0.0.1:$REDIS_PORT (pid $(pid_of redis)), allocation-relay for database $db (pid $(pid_of relay))"
	say "relay: logs in $DIR"
}

cmd_status() {
	local rc=0
	if pid=$(pid_of redis); then
		say "redis-server: running on 127.0.0.1:$REDIS_PORT (pid $pid)"
	else
		say "redis-server: not running"; rc=3
	fi
	if pid=$(pid_of relay); then
		say "allocation-relay: running (pid $pid), log $DIR/relay.log"
	else
		say "allocation-relay: not running"; rc=3
	fi
	return "$rc"
}

cmd_env() {
	printf 'export REDIS_PORT=%q\n' "$REDIS_PORT"
	printf 'export REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT"
	printf 'export ALLOC_RELAY_DIR=%q\n' "$DIR"
}

case "${1:-}" in
	start) shift; cmd_start "$@" ;;
	stop) shift; cmd_stop "$@" ;;
	status) cmd_status ;;
	env) cmd_env ;;
	-h|--help|help) usage ;;
	*) usage >&2; exit 2 ;;
esac
