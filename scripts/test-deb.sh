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

if [ ! -f "$CACHE" ]; then
	echo "test-deb: debootstrap bookworm (minbase) from $MIRROR, cached in $CACHE"
	rm -rf build/deb/root-cache
	debootstrap --variant=minbase bookworm build/deb/root-cache "$MIRROR" >build/deb/debootstrap.log 2>&1 ||
		{ tail -n 20 build/deb/debootstrap.log >&2; die "debootstrap failed (build/deb/debootstrap.log)"; }
	tar -C build/deb/root-cache -czf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
	rm -rf build/deb/root-cache
fi

mounted=()
cleanup() {
	local m
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[$i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT
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
echo "test-deb: ok ($(($(date +%s) - start)) s)"
