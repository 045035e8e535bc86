#!/usr/bin/env bash
# scripts/test-deb.sh - "make test-deb": the packages, installed into a
# clean Debian 12 root, pass the regression suite against the installed
# files.
#
#   1. make deb (scripts/deb.sh) unless TEST_DEB_NO_BUILD=1
#   2. a minimal Debian 12 root from debootstrap (Debian's mirror), cached
#      as build/deb/bookworm-minbase.tar.gz, unpacked afresh into
#      build/deb/root
#   3. in it (chroot, /proc and /dev bound): apt installs the .deb files of
#      build/deb/out (15's, the relay and allocate-from-csv) with their
#      dependencies, and postgresql-server-dev-15
#      and make for pg_regress; no PostgreSQL cluster is created or started
#      by the packages
#   4. pg_buildext installcheck runs our regression and isolation suites in
#      a throwaway cluster (pg_virtualenv, trust authentication: tests
#      connect as roles they create) against the installed extension,
#      from a copy of the tests; the allocation-relay and allocate-from-csv
#      programs must run (--help)
#   5. the packages of a major that Debian 12 does not package (18): see
#      test_staged below
#
# Needs root (chroot, mount) and debootstrap.  Mirror: TEST_DEB_MIRROR
# (default http://deb.debian.org/debian).
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

[ "$(id -u)" -eq 0 ] || die "test-deb needs root (chroot and mount)"
ALLOC_DEPS_PACKAGING=yes bash scripts/deps.sh
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing"
MIRROR=${TEST_DEB_MIRROR:-http://deb.debian.org/debian}
CACHE=build/deb/bookworm-minbase.tar.gz
ROOTFS=build/deb/root
start=$(date +%s)

[ "${TEST_DEB_NO_BUILD:-}" = 1 ] || bash scripts/deb.sh
compgen -G 'build/deb/out/*.deb' >/dev/null || die "no packages in build/deb/out (make deb)"

# --- 18 (and any other major Debian 12 does not package) ------------------
#
# Debian 12 has no postgresql-18 to install our package beside, and
# Debian's own postgresql-18 (sid) is built for a newer C library than
# this machine's.  So the server is the release build of
# scripts/build-postgres.sh (18.6, the upstream source of Debian's
# package), copied into a staging root in Debian's layout for that major:
# programs in /usr/lib/postgresql/N/bin, modules in /usr/lib/postgresql/N/lib,
# shared files in /usr/share/postgresql/N, without any file of ours.
# PostgreSQL finds its directories relative to its programs: the build's
# pkglibdir and sharedir are <prefix>/lib/postgresql and
# <prefix>/share/postgresql, so in the root lib/postgresql is a link to
# lib itself and share/postgresql one to /usr/share/postgresql/N; pg_config
# of the copy then names Debian's directories (checked).  The packages
# are unpacked into the same root with dpkg-deb -x: the server finds the
# extension only if the packages put their files where Debian's
# postgresql-N looks.  Then, on a cluster of
# that server: the backend has the package's allocation.so mapped,
# CREATE EXTENSION allocation and allocation_router (PL/Proxy of the same
# build standing in for postgresql-N-plproxy), an allocation, the
# regression and isolation suites against the installed files, DROP
# EXTENSION, and with the packages' files removed the extensions are no
# longer available.  What this does not test: apt resolving the Depends
# against Debian's real postgresql-N (checked by reading them instead).
staged_cleanup() {
	[ -n "${STAGED_DATA:-}" ] || return 0
	as_cluster_owner "${STAGED_STOP[@]}" >/dev/null 2>&1 || true
	rm -rf "$STAGED_DATA"
	STAGED_DATA=
}

test_staged() {
	local major=$1 pgc P S deb f port=5438 data log
	pgc=$(bash scripts/build-postgres.sh --major "$major" --flavour release --print-pg-config) ||
		die "PostgreSQL $major is not built"
	bash scripts/build-plproxy.sh --major "$major" --flavour release >/dev/null ||
		die "PL/Proxy for PostgreSQL $major is not built"
	P=$(dirname "$(dirname "$pgc")")
	S=$ROOT/build/deb/root-pg$major
	echo "test-deb: PostgreSQL $major in Debian's layout in $S, the packages unpacked into it"
	rm -rf "$S"
	local L=$S/usr/lib/postgresql/$major
	mkdir -p "$L/lib" "$L/share" "$S/usr/share/postgresql/$major"
	cp -a "$P/bin" "$P/include" "$L/"
	cp -a "$P/lib/postgresql/." "$L/lib/"
	ln -s . "$L/lib/postgresql"
	cp -a "$P/share/postgresql/." "$S/usr/share/postgresql/$major/"
	ln -s ../../../../share/postgresql/"$major" "$L/share/postgresql"
	# none of ours (make test installs the extension into the build)
	rm -f "$L/lib"/allocation*.so "$S/usr/share/postgresql/$major/extension"/allocation*
	[ "$(readlink -f "$("$L/bin/pg_config" --pkglibdir)")" = "$L/lib" ] &&
	[ "$(readlink -f "$("$L/bin/pg_config" --sharedir)")" = "$S/usr/share/postgresql/$major" ] ||
		die "the staged server's directories are not Debian's layout"

	for deb in build/deb/out/postgresql-"$major"-allocation*_*.deb; do
		case $deb in *-dbgsym_*) continue ;; esac
		echo "test-deb: $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
		dpkg-deb -f "$deb" Depends | grep -qw "postgresql-$major" || die "$deb does not depend on postgresql-$major"
		dpkg-deb -c "$deb" | awk '{ print $6 }' | grep -v '/$' | sed 's|^\./||' >> "$S/.package-files"
		dpkg-deb -x "$deb" "$S"
	done
	for f in usr/lib/postgresql/"$major"/lib/allocation.so usr/share/postgresql/"$major"/extension/allocation.control \
			usr/share/postgresql/"$major"/extension/allocation_router.control; do
		grep -qxF "$f" "$S/.package-files" || die "no $f in the packages"
	done

	data=$(mktemp -d /tmp/allocation-deb-pg"$major".XXXXXX)
	chown "$CLUSTER_OWNER" "$data"
	log=$data/server.log
	# the settings of the throwaway cluster (scripts/cluster.sh) that the
	# suites need: prepared transactions, logical decoding
	as_cluster_owner "$L/bin/initdb" -D "$data/data" -A trust -U postgres \
		--encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
	as_cluster_owner "$L/bin/pg_ctl" -D "$data/data" -l "$log" -w \
		-o "-p $port -k $data -c listen_addresses='' -c max_prepared_transactions=4 -c wal_level=logical" \
		start >/dev/null
	STAGED_STOP=("$L/bin/pg_ctl" -D "$data/data" -m fast stop)
	STAGED_DATA=$data
	trap 'staged_cleanup; cleanup' EXIT
	local psql=("$L/bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U postgres -At)
	"${psql[@]}" -d postgres -c 'CREATE DATABASE deb_test'
	local out
	out=$("${psql[@]}" -d deb_test <<'SQL'
CREATE EXTENSION allocation;
SELECT allocation.add_batch('b1', 'RED-CHAIR', 10);
SELECT allocation.allocate('o1', 'RED-CHAIR', 3);
SELECT available FROM allocation.stock WHERE reference = 'b1';
SQL
	) || die "CREATE EXTENSION or allocate failed on the staged PostgreSQL $major"
	printf '%s\n' "$out" | sed -n '1,3p' | tr '\n' ' ' | grep -q '^ *b1 7 ' ||
		die "unexpected result on PostgreSQL $major: $out"
	echo "test-deb: PostgreSQL $major: CREATE EXTENSION allocation, allocate -> b1, 7 left"
	# the library the backend loaded is the package's, in Debian's place
	out=$("${psql[@]}" -d deb_test -c "SELECT allocation.allocate('o2', 'RED-CHAIR', 1)" \
		-c "SELECT pg_read_file('/proc/' || pg_backend_pid() || '/maps')" | grep -o '/[^ ]*allocation\.so' | sort -u)
	[ "$out" = "$L/lib/allocation.so" ] ||
		die "the backend did not load the package's allocation.so (maps: ${out:-none})"
	echo "test-deb: PostgreSQL $major: the backend runs $out"
	# the router lives in a database of its own, in front of the nodes
	"${psql[@]}" -d postgres -c 'CREATE DATABASE deb_router' &&
	"${psql[@]}" -d deb_router -c 'SET client_min_messages = warning' \
		-c 'CREATE EXTENSION allocation_router CASCADE' -c 'DROP EXTENSION allocation_router' >/dev/null ||
		die "CREATE EXTENSION allocation_router failed on PostgreSQL $major"
	echo "test-deb: PostgreSQL $major: CREATE EXTENSION allocation_router (with PL/Proxy)"

	echo "test-deb: PostgreSQL $major: regression and isolation suites against the installed files (log: build/deb/installcheck-pg$major.log)"
	rm -rf "$data/tests" && mkdir -p "$data/tests"
	git ls-files -z -- Makefile allocation.control sql expected test/isolation src/sql router/Makefile router/allocation_router.control |
		tar --null -T - -cf - | tar -xf - -C "$data/tests"
	if ! PGHOST=$data PGPORT=$port PGUSER=postgres "$MAKE" --no-print-directory -C "$data/tests" installcheck \
			PG_CONFIG="$L/bin/pg_config" WITH_RELAY=no >"build/deb/installcheck-pg$major.log" 2>&1; then
		tail -n 40 "build/deb/installcheck-pg$major.log" >&2
		cat "$data/tests/regression.diffs" "$data/tests/output_iso/regression.diffs" 2>/dev/null | head -n 200 >&2
		die "the regression suite failed against the installed packages on PostgreSQL $major"
	fi
	grep -E 'tests passed|failed' "build/deb/installcheck-pg$major.log"

	"${psql[@]}" -d deb_test -c 'DROP EXTENSION allocation' \
		-c "SELECT count(*) FROM pg_namespace WHERE nspname = 'allocation'" | grep -qx 0 ||
		die "DROP EXTENSION allocation left the schema on PostgreSQL $major"
	# removing the packages' files (what dpkg --remove does) leaves nothing
	while read -r f; do rm -f "$S/$f"; done < "$S/.package-files"
	out=$("${psql[@]}" -d deb_test -c "SELECT count(*) FROM pg_available_extensions WHERE name LIKE 'allocation%'")
	[ "$out" = 0 ] || die "after removal, $out allocation extensions are still available"
	echo "test-deb: PostgreSQL $major: DROP EXTENSION, files removed: no allocation extension available"
	staged_cleanup
	trap cleanup EXIT
}

# --- 15: Debian 12's own, in a debootstrap root -----------------------------

mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[$i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT

test_chroot() {
	if [ ! -f "$CACHE" ]; then
		echo "test-deb: debootstrap bookworm (minbase) from $MIRROR, cached in $CACHE"
		rm -rf build/deb/root-cache
		debootstrap --variant=minbase bookworm build/deb/root-cache "$MIRROR" >build/deb/debootstrap.log 2>&1 ||
			{ tail -n 20 build/deb/debootstrap.log >&2; die "debootstrap failed (build/deb/debootstrap.log)"; }
		tar -C build/deb/root-cache -czf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
		rm -rf build/deb/root-cache
	fi

	rm -rf "$ROOTFS"
	mkdir -p "$ROOTFS"
	tar -C "$ROOTFS" -xzf "$CACHE"
	R=$(cd "$ROOTFS" && pwd -P)
	mount -t proc proc "$R/proc" && mounted+=("$R/proc")
	mount --bind /dev "$R/dev" && mounted+=("$R/dev")
	cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
	# a Debian 12 as installed: with its updates and security updates (the
	# packages depend on the PostgreSQL 15 minor version they were built with)
	cat > "$R/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${TEST_DEB_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security} bookworm-security main
SOURCES

	# the packages, without debug symbols, and a copy of the tests
	mkdir -p "$R/tmp/debs" "$R/tmp/allocation"
	cp build/deb/out/*.deb "$R/tmp/debs/"
	rm -f "$R"/tmp/debs/*-dbgsym_*.deb
	# the packages of majors Debian 12 does not have are tested below
	find "$R/tmp/debs" -name 'postgresql-[0-9]*' ! -name 'postgresql-15-*' -delete
	# relay/Makefile: pg_buildext ends with "make clean", which cleans the relay too
	git ls-files -z -- Makefile allocation.control sql expected test/isolation src/sql debian/pgversions router/Makefile router/allocation_router.control relay/Makefile |
		tar --null -T - -cf - | tar -xf - -C "$R/tmp/allocation"
	# no service starts in the chroot, and no cluster "main" is created
	printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
	chmod 755 "$R/usr/sbin/policy-rc.d"
	mkdir -p "$R/etc/postgresql-common"
	echo 'create_main_cluster = false' > "$R/etc/postgresql-common/createcluster.conf"

	echo "test-deb: installing the packages in $ROOTFS (log: build/deb/chroot-install.log)"
	if ! chroot "$R" /bin/sh -ec '
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends /tmp/debs/*.deb postgresql-server-dev-15 make
		dpkg -l "postgresql-15-allocation*" allocation-relay allocate-from-csv | tail -n 4
	' >build/deb/chroot-install.log 2>&1; then
		tail -n 30 build/deb/chroot-install.log >&2
		die "installing the packages failed"
	fi
	tail -n 4 build/deb/chroot-install.log

	echo "test-deb: the programs run"
	chroot "$R" /usr/bin/allocation-relay --help >/dev/null
	chroot "$R" /usr/bin/allocate-from-csv --help >/dev/null 2>&1 || {
		rc=$?; [ "$rc" -le 1 ] || die "allocate-from-csv --help exited $rc"; }
	chroot "$R" test -f /lib/systemd/system/allocation-relay.service
	chroot "$R" getent passwd allocation-relay >/dev/null

	echo "test-deb: pg_buildext installcheck against the installed files (log: build/deb/installcheck.log)"
	if ! chroot "$R" /bin/sh -ec '
		cd /tmp/allocation
		chmod -R a+rwX /tmp/allocation
		# trust: some tests connect as roles they create, without a password;
		# the settings of the throwaway cluster (scripts/cluster.sh) that the
		# suites need: prepared transactions, logical decoding
		pg_buildext -i --auth=trust -o max_prepared_transactions=4 -o wal_level=logical installcheck
	' >build/deb/installcheck.log 2>&1; then
		tail -n 80 build/deb/installcheck.log >&2
		die "the regression suite failed against the installed packages"
	fi
	grep -E 'tests passed|failed' build/deb/installcheck.log
}

# TEST_DEB_MAJORS: the majors to test (default: every major packaged in
# build/deb/out); 15 also tests the relay, the mailer and allocate-from-csv.
for major in ${TEST_DEB_MAJORS:-$(ls build/deb/out | sed -n 's/^postgresql-\([0-9]*\)-allocation_.*\.deb$/\1/p' | sort -u)}; do
	if [ "$major" = 15 ]; then
		test_chroot
	else
		test_staged "$major"
	fi
done
echo "test-deb: ok ($(($(date +%s) - start)) s)"
