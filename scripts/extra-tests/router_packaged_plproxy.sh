#!/usr/bin/env bash
# scripts/extra-tests/router_packaged_plproxy.sh - the router with the
# PL/Proxy its package depends on (Debian's postgresql-15-plproxy, without
# router/plproxy-timeouts.patch), and make test's promise not to replace
# that package's files.
#
# Checks:
#   0. the server of this run is not a packaged one (no file of its bin
#      and lib folders, plproxy.so included, is dpkg's: make test tests a
#      private copy of Debian's server, scripts/private-pg.sh), and
#      scripts/build-plproxy.sh refuses a packaged server's pg_config (run
#      with MAKE=false, so that it could not install even if it did not
#      refuse);
# and, each in a fresh database whose plproxy functions are pointed at the
# packaged library (pg_proc.probin; the server's own plproxy.so is left
# alone), what router/README.md ("Setting up") documents:
#   1. define_cluster with its defaults refuses with 0A000 and a hint
#      naming connect_timeout => 0; with connect_timeout => 0 the cluster
#      is defined and routes;
#   2. a cluster defined with our library (the defaults) fails its calls
#      with XX000 "Unknown config param: connect_timeout" once the packaged
#      library is back (what apt-get upgrade does), and routes again after
#      ALTER SERVER allocation_cluster OPTIONS (DROP connect_timeout).
# The packaged library comes from Debian's .deb (apt's cache, or apt-get
# download), unpacked into a folder of the test's: never from the system's
# /usr/lib/postgresql.  Checks 1 and 2 are skipped (0 still runs) when the
# package cannot be had.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG; PACKAGED_PLPROXY (a plproxy.so to use instead).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"

# shellcheck source=scripts/common.sh
. "$ROOT/scripts/common.sh"

step "0. the server of this run is not a packaged one"
pgc=${PG_CONFIG:-$PG_BINDIR/pg_config}
[ -n "${PG_BINDIR:-}" ] || PG_BINDIR=$("$pgc" --bindir)
pkglib=$("$pgc" --pkglibdir)
owned=()
for f in "$pgc" "$PG_BINDIR/postgres" "$pkglib/plproxy.so" "$pkglib/allocation.so" \
		"$("$pgc" --sharedir)/extension/plproxy.control"; do
	[ ! -e "$f" ] || ! dpkg_owned "$f" || owned+=("$f")
done
[ ${#owned[@]} -eq 0 ] ||
	fail "0: this run's server is a packaged one: a Debian package owns ${owned[*]} (make test must test a private copy: scripts/private-pg.sh)"
major=$("$pgc" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/')
sys_pgc=/usr/lib/postgresql/$major/bin/pg_config
if [ -x "$sys_pgc" ] && dpkg_owned "$sys_pgc"; then
	rc=0
	MAKE=false ALLOC_PG_BUILD_DIR=$(mktemp -d) bash "$ROOT/scripts/build-plproxy.sh" --pg-config "$sys_pgc" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 4 ] || fail "0: build-plproxy.sh does not refuse the packaged server's $sys_pgc (exit $rc, not 4)"
	cp="$(bash "$ROOT/scripts/private-pg.sh" --pg-config "$sys_pgc")"
	! dpkg_owned "$cp" || fail "0: private-pg.sh gives a packaged pg_config for $sys_pgc: $cp"
fi

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
	step "checks 1 and 2 skipped: no packaged, unpatched PL/Proxy at $PKG"
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

step "1. define_cluster on the packaged PL/Proxy ($PKG): 0A000 with its defaults, defined with connect_timeout => 0"
router_db "$R1"
use_packaged "$R1"
bad=()
if out=$(q "$R1" -v VERBOSITY=verbose -c "SELECT allocation.define_cluster(ARRAY['$node_conn'], 1)" 2>&1); then
	bad+=("1: define_cluster with its defaults succeeds on the packaged PL/Proxy (README: 0A000)")
elif ! grep -q '0A000' <<<"$out" || ! grep -q 'connect_timeout => 0' <<<"$out"; then
	bad+=("1: define_cluster with its defaults does not fail with 0A000 and the hint connect_timeout => 0: $(tr '\n' ' ' <<<"$out")")
fi
if out=$(q "$R1" -v VERBOSITY=verbose -c "SELECT allocation.define_cluster(ARRAY['$node_conn'], 1, connect_timeout => 0)" 2>&1); then
	q "$R1" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('pp-b1', 'PP-SKU', 5)" >/dev/null ||
		bad+=("1: the cluster defined with connect_timeout => 0 on the packaged PL/Proxy does not route")
else
	bad+=("1: define_cluster with connect_timeout => 0 fails on the packaged PL/Proxy: $(tr '\n' ' ' <<<"$out")")
fi

step "2. a cluster defined with our PL/Proxy, then the packaged one back (apt-get upgrade): XX000, then DROP connect_timeout"
router_db "$R2"
q "$R2" -c "SELECT allocation.define_cluster(ARRAY['$node_conn'], 1)" >/dev/null
q "$R2" -c "SET client_min_messages = warning" -c "SELECT allocation.add_batch('pp-b2', 'PP-SKU2', 5)" >/dev/null
use_packaged "$R2"
if out=$(q "$R2" -v VERBOSITY=verbose -c "SELECT allocation.allocate('pp-o1', 'PP-SKU2', 1)" 2>&1); then
	bad+=("2: a call succeeds once the packaged PL/Proxy is back (README: XX000)")
elif ! grep -q 'XX000' <<<"$out" || ! grep -q 'Unknown config param: connect_timeout' <<<"$out"; then
	bad+=("2: once the packaged PL/Proxy is back a call does not fail as documented: $(tr '\n' ' ' <<<"$out")")
fi
q "$R2" -c "ALTER SERVER allocation_cluster OPTIONS (DROP connect_timeout)" >/dev/null
out=$(q "$R2" -c "SELECT allocation.allocate('pp-o1', 'PP-SKU2', 1)" 2>&1) ||
	bad+=("2: after DROP connect_timeout the call still fails: $(tr '\n' ' ' <<<"$out")")
for b in "${bad[@]}"; do printf '%s: %s\n' "$SUITE_NAME" "$b" >&2; done
[ ${#bad[@]} -eq 0 ] || fail "${#bad[@]} failed"
step "ok"
