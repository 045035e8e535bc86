#!/usr/bin/env bash
# scripts/cluster.sh - a throwaway PostgreSQL 15 cluster for tests and demos.
#
#   scripts/cluster.sh start [--fresh]  start it (initdb first if needed);
#                                       --fresh throws away an old one first
#   scripts/cluster.sh stop             stop it and delete its directory
#   scripts/cluster.sh restart          restart it, keeping its data
#   scripts/cluster.sh status           say whether it runs, and where
#   scripts/cluster.sh env              print "export ..." lines for a shell:
#                                         eval "$(scripts/cluster.sh env)"
#                                       (PGDATABASE=playground, the database
#                                       of make run with the extension, when
#                                       the cluster has it; else postgres)
#   scripts/cluster.sh psql [ARGS]      run psql against it
#
# Where it lives: tmp_cluster/ in the repository (git-ignored), holding
# data/ (PGDATA), socket/ (the Unix socket: no TCP at all) and log/.
# The server runs as "postgres" when we are root (initdb refuses root) and
# as the calling user otherwise.  When that user cannot reach the
# repository (a parent directory without "x" for it, as in a mktemp -d
# clone) or the socket path would be too long for a Unix socket, the
# cluster goes to /tmp/allocation-cluster-<hash of the repo path> instead;
# "status" and "env" always say where.
#
# Environment:
#   ALLOC_PGPORT        port number (default 5499; only names the socket)
#   ALLOC_CLUSTER_DIR   put the cluster here instead
#   ALLOC_CLUSTER_NAME  name of the folder in the repository (default
#                       tmp_cluster; the /tmp fallback is then
#                       /tmp/allocation-<name>-<hash>): a second cluster,
#                       e.g. make test-cassert's, beside the usual one
#   PG_CONFIG           pg_config of the PostgreSQL to use (default: 15's)
#
# Clients connect as superuser "postgres" with trust authentication.
# "env" also exports ALLOC_PGDATA and ALLOC_PGLOG for tests that need the
# data directory or the server log (crash tests).
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PORT=${ALLOC_PGPORT:-5499}
MARKER=.allocation-cluster   # only directories holding it are ever deleted

# usage prints the comment block at the top of this file.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

# owner_can_use DIR: can the cluster's owner reach DIR and create in it?
owner_can_use() {
	if [ "$(id -u)" -eq 0 ]; then
		as_cluster_owner test -x "$1" 2>/dev/null
	else
		[ -x "$1" ] && [ -w "$1" ]
	fi
}

# cluster_dir prints where the cluster lives (see the header).
cluster_dir() {
	if [ -n "${ALLOC_CLUSTER_DIR:-}" ]; then
		printf '%s\n' "$ALLOC_CLUSTER_DIR"
		return
	fi
	local name=${ALLOC_CLUSTER_NAME:-tmp_cluster}
	local d=$ROOT/$name
	# sun_path holds 107 bytes: "<dir>/socket/.s.PGSQL.<port>" must fit.
	if [ $(( ${#d} + 25 )) -lt 100 ] && owner_can_use "$ROOT"; then
		printf '%s\n' "$d"
	else
		[ "$name" != tmp_cluster ] || name=cluster
		printf '/tmp/allocation-%s-%s\n' "$name" \
			"$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
	fi
}

DIR=$(cluster_dir)
DATA=$DIR/data
SOCKDIR=$DIR/socket
LOGFILE=$DIR/log/postgresql.log

bindir() {
	PG_BINDIR=$(pg_bindir) ||
		die "PostgreSQL server binaries not found (PG_CONFIG=$PG_CONFIG); run 'make deps'"
	# A server built into the repository (make test-cassert) must be
	# reachable by the cluster's owner too.
	if [ "$(id -u)" -eq 0 ] && id -u "$CLUSTER_OWNER" >/dev/null 2>&1 &&
	   ! as_cluster_owner test -x "$PG_BINDIR/postgres"; then
		die "user $CLUSTER_OWNER cannot run $PG_BINDIR/postgres (a parent directory without x for it?)"
	fi
}

# postmaster_pid prints the pid from postmaster.pid if that process is alive
# (a zombie, as left by a kill -9 until it is reaped, counts as dead).
postmaster_pid() {
	local pid state
	pid=$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null) || return 1
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
	case $state in ""|Z|X|x) return 1 ;; esac
	printf '%s\n' "$pid"
}

is_running() { postmaster_pid >/dev/null; }

# remove_dir deletes the cluster directory, but only one this script made.
remove_dir() {
	[ -e "$DIR" ] || return 0
	if [ ! -f "$DIR/$MARKER" ]; then
		die "$DIR exists but was not made by $0 (no $MARKER); not deleting it"
	fi
	rm -rf -- "$DIR"
}

ensure_owner_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	id -u "$CLUSTER_OWNER" >/dev/null 2>&1 && return 0
	say "cluster: creating system user $CLUSTER_OWNER"
	useradd --system --user-group --no-create-home \
		--home-dir /var/lib/postgresql --shell /bin/bash "$CLUSTER_OWNER"
}

conf_quote() { printf "'%s'" "${1//\'/\'\'}"; }

do_initdb() {
	mkdir -p "$DIR"
	: > "$DIR/$MARKER"
	mkdir -p "$DATA" "$SOCKDIR" "$DIR/log"
	chmod 700 "$DATA"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$CLUSTER_OWNER:" "$DIR"
	fi
	if ! as_cluster_owner "$PG_BINDIR/initdb" -D "$DATA" -U postgres \
			--auth=trust --encoding=UTF8 --locale=C.UTF-8 \
			--no-sync --no-instructions > "$DIR/log/initdb.log" 2>&1; then
		cat "$DIR/log/initdb.log" >&2
		die "initdb failed"
	fi
	printf "\n# throwaway cluster settings, rewritten by scripts/cluster.sh at each start\ninclude 'allocation_cluster.conf'\n" \
		>> "$DATA/postgresql.conf"
}

write_settings() {
	local f=$DATA/allocation_cluster.conf
	{
		echo "listen_addresses = ''"
		echo "port = $PORT"
		echo "unix_socket_directories = $(conf_quote "$SOCKDIR")"
		echo "shared_preload_libraries = ''"
		# sql/two_phase.sql allocates in a prepared transaction
		echo "max_prepared_transactions = 4"
		# allocation-relay --source wal reads a logical replication slot
		echo "wal_level = logical"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
	} > "$f"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$CLUSTER_OWNER:" "$f"
	fi
}

cmd_start() {
	local fresh=no
	case "${1:-}" in
		"") ;;
		--fresh) fresh=yes ;;
		*) die "usage: $0 start [--fresh]" ;;
	esac
	bindir
	if [ "$fresh" = yes ]; then
		cmd_stop quiet
	elif is_running; then
		say "cluster: already running in $DIR (port $(running_port))"
		return 0
	fi
	ensure_owner_user
	# A data directory of another major version, or a half-made one, is
	# of no use: start over.
	local major
	major=$("$PG_CONFIG" --version | awk '{ split($2, v, "."); print v[1] }')
	if [ -e "$DIR" ] && [ "$(cat "$DATA/PG_VERSION" 2>/dev/null)" != "$major" ]; then
		remove_dir
	fi
	if [ ! -f "$DATA/PG_VERSION" ]; then
		say "cluster: initdb in $DATA"
		do_initdb
	else
		say "cluster: reusing $DATA"
	fi
	write_settings
	# After a crash the old server's children may hold its shared memory
	# for a moment ("pre-existing shared memory block is still in use"):
	# try again a little later.
	local try out
	for try in 1 2 3; do
		out=$(as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start 2>&1) && break
		if [ "$try" -eq 3 ]; then
			printf '%s\n' "$out" >&2
			tail -n 30 "$LOGFILE" >&2 || true
			die "could not start the cluster in $DATA (log: $LOGFILE)"
		fi
		sleep 2
	done
	say "cluster: running in $DIR (socket $SOCKDIR, port $PORT)"
}

cmd_stop() {
	bindir
	local pid
	# Redis and allocation-relay of "make run" go first (scripts/relay-ctl.sh).
	[ ! -f "$ROOT/scripts/relay-ctl.sh" ] || bash "$ROOT/scripts/relay-ctl.sh" stop quiet || true
	[ ! -f "$ROOT/scripts/mailer-ctl.sh" ] || bash "$ROOT/scripts/mailer-ctl.sh" stop quiet || true
	if pid=$(postmaster_pid); then
		as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
			kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			is_running || break
			sleep 0.2
		done
		! is_running || die "could not stop the cluster in $DATA (postmaster $pid)"
	fi
	if [ -e "$DIR" ]; then
		remove_dir
		[ "${1:-}" = quiet ] || say "cluster: stopped and removed $DIR"
	else
		[ "${1:-}" = quiet ] || say "cluster: not running (no $DIR)"
	fi
}

cmd_restart() {
	bindir
	[ -f "$DATA/PG_VERSION" ] || die "no cluster in $DIR; use start"
	write_settings
	as_cluster_owner "$PG_BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -m fast -w -t 60 restart >/dev/null ||
		die "could not restart the cluster in $DATA (log: $LOGFILE)"
	say "cluster: restarted in $DIR"
}

# The running server's own word on its port and socket: postmaster.pid
# lines 4 and 5.
running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || echo "$PORT"; }
running_sockdir() { sed -n 5p "$DATA/postmaster.pid" 2>/dev/null || echo "$SOCKDIR"; }

cmd_env() {
	local host=$SOCKDIR port=$PORT
	if [ -f "$DATA/postmaster.pid" ]; then
		port=$(running_port)
		host=$(running_sockdir)
	fi
	printf 'export PGHOST=%q\n' "$host"
	printf 'export PGPORT=%q\n' "$port"
	printf 'export PGUSER=postgres\n'
	# The playground database of "make run" (empty, with the extension)
	# when the running cluster has it, so that plain psql opens a database
	# where the README's session works; else postgres.
	local db=postgres
	if [ -f "$DATA/postmaster.pid" ] && PG_BINDIR=$(pg_bindir 2>/dev/null) &&
	   [ "$("$PG_BINDIR/psql" -X -At -h "$host" -p "$port" -U postgres -d postgres \
	        -c "SELECT 1 FROM pg_catalog.pg_database WHERE datname = 'playground'" 2>/dev/null)" = 1 ]; then
		db=playground
	else
		printf '# no database "playground" (make run creates it): PGDATABASE=postgres, which has no extension\n'
	fi
	printf 'export PGDATABASE=%s\n' "$db"
	printf 'export ALLOC_PGDATA=%q\n' "$DATA"
	printf 'export ALLOC_PGLOG=%q\n' "$LOGFILE"
}

cmd_status() {
	bindir
	if is_running; then
		say "cluster: running in $DIR"
		say "  data:   $DATA"
		say "  socket: $(running_sockdir), port $(running_port)"
		say "  log:    $LOGFILE"
		say "  connect: $PG_BINDIR/psql -h $(running_sockdir) -p $(running_port) -U postgres"
		return 0
	fi
	if [ -e "$DIR" ]; then
		say "cluster: not running (stopped data directory in $DIR)"
	else
		say "cluster: not running (would live in $DIR)"
	fi
	return 3
}

cmd_psql() {
	bindir
	eval "$(cmd_env)"
	exec "$PG_BINDIR/psql" -X "$@"
}

case "${1:-}" in
	start) shift; cmd_start "$@" ;;
	stop) cmd_stop ;;
	restart) cmd_restart ;;
	status) cmd_status ;;
	env) cmd_env ;;
	psql) shift; cmd_psql "$@" ;;
	-h|--help|help) usage ;;
	*) usage >&2; exit 2 ;;
esac
