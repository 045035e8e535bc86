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
#      build/deb/out with their dependencies, and postgresql-server-dev-15
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
# shared files in /usr/share/postgresql/N (PostgreSQL finds its
# directories relative to its programs, so the copy uses these), without
# any file of ours.  The packages are unpacked into the same root with
# dpkg-deb -x: the server finds the extension only if the packages put
# their files where Debian's postgresql-N looks.  Then, on a cluster of
# that server: the backend has the package's allocation.so mapped,
# CREATE EXTENSION allocation and allocation_router (PL/Proxy of the same
# build standing in for postgresql-N-plproxy), an allocation, the
# regression and isolation suites against the installed files, DROP
# EXTENSION, and with the packages' files removed the extensions are no
# longer available.  What this does not test: apt resolving the Depends
# against Debian's real postgresql-N (checked by reading them instead).
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
	mkdir -p "$S/usr/lib/postgresql/$major" "$S/usr/share/postgresql/$major"
	cp -a "$P/bin" "$P/lib" "$P/include" "$S/usr/lib/postgresql/$major/"
	cp -a "$P/share/." "$S/usr/share/postgresql/$major/"
	ln -s ../../../share/postgresql/"$major" "$S/usr/lib/postgresql/$major/share"
	# none of ours (make test installs the extension into the build)
	rm -f "$S/usr/lib/postgresql/$major/lib"/allocation*.so \
		"$S/usr/share/postgresql/$major/extension"/allocation*
	[ "$("$S/usr/lib/postgresql/$major/bin/pg_config" --pkglibdir)" = "$S/usr/lib/postgresql/$major/lib" ] ||
		die "the staged server's pkglibdir is not Debian's layout"

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
	as_cluster_owner "$S/usr/lib/postgresql/$major/bin/initdb" -D "$data/data" -A trust -U postgres >/dev/null
	as_cluster_owner "$S/usr/lib/postgresql/$major/bin/pg_ctl" -D "$data/data" -l "$log" -w \
		-o "-p $port -k $data -c listen_addresses=''" start >/dev/null
	staged_cleanup() {
		as_cluster_owner "$S/usr/lib/postgresql/$major/bin/pg_ctl" -D "$data/data" -m fast stop >/dev/null 2>&1 || true
		rm -rf "$data"
	}
	trap 'staged_cleanup; cleanup' EXIT
	local psql=("$S/usr/lib/postgresql/$major/bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U postgres -At)
	"${psql[@]}" -d postgres -c 'CREATE DATABASE deb_test'
	local out
	out=$("${psql[@]}" -d deb_test <<'SQL'
CREATE EXTENSION allocation;
SELECT allocation.add_batch('b1', 'RED-CHAIR', 10);
SELECT allocation.allocate('o1', 'RED-CHAIR', 3);
SELECT available FROM allocation.stock WHERE reference = 'b1';
SELECT pg_backend_pid();
SQL
	) || die "CREATE EXTENSION or allocate failed on the staged PostgreSQL $major"
	printf '%s\n' "$out" | sed -n '1,3p' | tr '\n' ' ' | grep -q '^ *b1 7 ' ||
		die "unexpected result on PostgreSQL $major: $out"
	echo "test-deb: PostgreSQL $major: CREATE EXTENSION allocation, allocate -> b1, 7 left"
	# the library the backend loaded is the package's, in Debian's place
	out=$("${psql[@]}" -d deb_test -c "SELECT allocation.allocate('o2', 'RED-CHAIR', 1)" \
		-c "SELECT pg_read_file('/proc/' || pg_backend_pid() || '/maps')" | grep -o '/[^ ]*allocation\.so' | sort -u)
	[ "$out" = "$S/usr/lib/postgresql/$major/lib/allocation.so" ] ||
		die "the backend did not load the package's allocation.so (maps: ${out:-none})"
	echo "test-deb: PostgreSQL $major: the backend runs $out"
	"${psql[@]}" -d deb_test -c 'CREATE EXTENSION allocation_router CASCADE' -c 'DROP EXTENSION allocation_router' >/dev/null ||
		die "CREATE EXTENSION allocation_router failed on PostgreSQL $major"
	echo "test-deb: PostgreSQL $major: CREATE EXTENSION allocation_router (with PL/Proxy)"

	echo "test-deb: PostgreSQL $major: regression and isolation suites against the installed files (log: build/deb/installcheck-pg$major.log)"
	rm -rf "$data/tests" && mkdir -p "$data/tests"
	git ls-files -z -- Makefile allocation.control sql expected test/isolation src/sql router/Makefile router/allocation_router.control |
		tar --null -T - -cf - | tar -xf - -C "$data/tests"
	if ! PGHOST=$data PGPORT=$port PGUSER=postgres "$MAKE" --no-print-directory -C "$data/tests" installcheck \
			PG_CONFIG="$S/usr/lib/postgresql/$major/bin/pg_config" WITH_RELAY=no >"build/deb/installcheck-pg$major.log" 2>&1; then
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
	git ls-files -z -- Makefile allocation.control sql expected test/isolation src/sql debian/pgversions router/Makefile router/allocation_router.control |
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
		# trust: some tests connect as roles they create, without a password
		pg_buildext -i --auth=trust installcheck
	' >build/deb/installcheck.log 2>&1; then
		tail -n 80 build/deb/installcheck.log >&2
		die "the regression suite failed against the installed packages"
	fi
	grep -E 'tests passed|failed' build/deb/installcheck.log
}

if compgen -G 'build/deb/out/postgresql-15-allocation_*.deb' >/dev/null; then
	test_chroot
fi
for major in $(ls build/deb/out | sed -n 's/^postgresql-\([0-9]*\)-allocation_.*\.deb$/\1/p' | sort -u); do
	[ "$major" = 15 ] || test_staged "$major"
done
echo "test-deb: ok ($(($(date +%s) - start)) s)"
