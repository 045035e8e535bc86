#!/usr/bin/env bash
# scripts/extra-tests/router_packaged_plproxy.sh - the router with the
# PL/Proxy its package depends on (Debian's postgresql-15-plproxy, without
# router/plproxy-timeouts.patch).
#
# The router package declares Depends: postgresql-N-plproxy, and on a
# machine where "make install" or "make test" ran against the system's
# server, our patched plproxy.so sits in the file that package owns: the
# next apt-get upgrade (or reinstall) of it puts Debian's back.  Either way
# the router then runs on the packaged library.  Two checks, each in a
# fresh database whose plproxy functions are pointed at the packaged
# library (pg_proc.probin; the server's own plproxy.so is left alone):
#   1. define_cluster with its documented defaults (README, "Setting up")
#      defines the cluster;
#   2. a cluster defined with our library (the defaults) keeps routing once
#      the packaged library is back (what apt-get upgrade does).
# The packaged library comes from Debian's .deb (apt's cache, or apt-get
# download), unpacked into a folder of the test's: never from the system's
# /usr/lib/postgresql, which a "make test" as root may have replaced.
# Skipped when the package cannot be had.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG; PACKAGED_PLPROXY (a plproxy.so to use instead).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

WORK=$(mktemp -d)
chmod 755 "$WORK"		# the server reads the library from here
PKG=${PACKAGED_PLPROXY:-}
if [ -z "$PKG" ]; then
	major=$("$PG_BINDIR/pg_config" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
	deb=$(ls /var/cache/apt/archives/postgresql-"$major"-plproxy_*.deb 2>/dev/null | tail -n 1)
	if [ -z "$deb" ]; then
		(cd "$WORK" && apt-get -q download "postgresql-$major-plproxy" >/dev/null 2>&1) || true
		deb=$(ls "$WORK"/postgresql-"$major"-plproxy_*.deb 2>/dev/null | tail -n 1)
	fi
	if [ -n "$deb" ]; then
		dpkg-deb -x "$deb" "$WORK/pkg"
		PKG=$WORK/pkg/usr/lib/postgresql/$major/lib/plproxy.so
	fi
fi
if [ -z "$PKG" ] || [ ! -r "$PKG" ] || grep -qa 'query timeout on: ' "$PKG"; then
	step "SKIPPED: no packaged, unpatched PL/Proxy at $PKG"
	exit 0
fi
NODE=alloc_pp_node
R1=alloc_pp_router1
R2=alloc_pp_router2
trap 'cleanup_dbs; rm -rf "$WORK"' EXIT

fresh_db "$NODE"
node_conn="${PGHOST:+host=$PGHOST }port=${PGPORT:-5432} dbname=$NODE"
router_db() {
	drop_db "$1"
	"${PSQL[@]}" -d postgres -c "CREATE DATABASE $1"
	CREATED_DBS+=("$1")
	q "$1" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE' >/dev/null
}
# the packaged library for plproxy's functions, from the next session on
use_packaged() {
	local n
	n=$(q "$1" -c "WITH u AS (UPDATE pg_catalog.pg_proc SET probin = '${PKG%.so}'
		WHERE probin IN ('plproxy', '\$libdir/plproxy') RETURNING 1) SELECT count(*) FROM u")
	[ "$n" -ge 3 ] || fail "could not point plproxy's functions at $PKG ($n updated)"
}

step "1. define_cluster with its defaults on the packaged PL/Proxy ($PKG)"
router_db "$R1"
use_packaged "$R1"
bad=()
if out=$(q "$R1" -v VERBOSITY=verbose -c "SELECT allocation.define_cluster(ARRAY['$node_conn'], 1)" 2>&1); then
	q "$R1" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('pp-b1', 'PP-SKU', 5)" >/dev/null ||
		bad+=("1: the cluster defined on the packaged PL/Proxy does not route")
else
	bad+=("1: define_cluster with its defaults fails with the PL/Proxy the router package depends on: $(tr '\n' ' ' <<<"$out")")
fi

step "2. a cluster defined with our PL/Proxy, then the packaged one back (apt-get upgrade)"
router_db "$R2"
q "$R2" -c "SELECT allocation.define_cluster(ARRAY['$node_conn'], 1)" >/dev/null
q "$R2" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('pp-b2', 'PP-SKU2', 5)" >/dev/null
use_packaged "$R2"
out=$(q "$R2" -v VERBOSITY=verbose -c "SELECT allocation.allocate('pp-o1', 'PP-SKU2', 1)" 2>&1) ||
	bad+=("2: once the packaged PL/Proxy is back every call fails: $(tr '\n' ' ' <<<"$out")")
for b in "${bad[@]}"; do printf '%s: %s\n' "$SUITE_NAME" "$b" >&2; done
[ ${#bad[@]} -eq 0 ] || fail "${#bad[@]} of 2 checks"
step "ok"
