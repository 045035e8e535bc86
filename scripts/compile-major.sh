#!/usr/bin/env bash
# scripts/compile-major.sh - compile the extension's C sources against the
# server headers of a PostgreSQL major that cannot be built or run here.
#
#   scripts/compile-major.sh MAJOR
#
# For a major whose source package the mirror does not serve (17 today:
# the Sources index lists it, its pool files answer 404), the binary
# package postgresql-server-dev-MAJOR of the suite that carries it may
# still be served.  Its headers are what an extension is compiled
# against, so compiling every adapter and entry point with them, warnings
# as errors, proves what a compiler can prove: every function we call
# exists with the arguments we pass (LogLogicalMessage's flush argument of
# 17, say), every type and macro we use is there.  It proves nothing about
# behaviour: nothing runs.
#
# The package is fetched with apt, from a private list of that suite's
# binary packages (build/pg/headers-MAJOR/apt: the machine's own apt
# sources are not touched), and unpacked with dpkg-deb -x; nothing is
# installed.  Cached: a second run fetches nothing.
#
# Exit status: 0 compiled; 3 the headers cannot be had either; 1 a source
# does not compile.
set -uo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit 1

major=${1:-}
[[ $major =~ ^[0-9]+$ ]] || die "usage: $0 MAJOR"
case ${ALLOC_PG_SUITE:-$major} in
	[a-z]*) suite=$ALLOC_PG_SUITE ;;
	15) suite=bookworm ;;
	17) suite=trixie ;;
	*) suite=sid ;;
esac

BASE=${ALLOC_PG_BUILD_DIR:-$ROOT/build/pg}/headers-$major
APT=$BASE/apt
ROOTFS=$BASE/root
INC=$ROOTFS/usr/include/postgresql/$major/server
pkg=postgresql-server-dev-$major
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial"

apt_private=(-q -o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts=/nonexistent
	-o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o Debug::NoLocking=1)

if [ ! -f "$INC/pg_config.h" ]; then
	sec=''
	case $suite in sid|unstable|experimental) ;;
		*) sec="deb http://deb.debian.org/debian-security $suite-security main" ;;
	esac
	printf '%s\n' "deb http://deb.debian.org/debian $suite main" "$sec" > "$APT/sources.list"
	say "compile-major: fetching $pkg ($suite) for its headers"
	if ! apt-get "${apt_private[@]}" update >"$BASE/apt.log" 2>&1 ||
	   ! (cd "$BASE" && apt-get "${apt_private[@]}" download "$pkg") >>"$BASE/apt.log" 2>&1; then
		tail -n 5 "$BASE/apt.log"
		say "compile-major: $pkg cannot be downloaded"
		exit 3
	fi
	rm -rf "$ROOTFS"
	dpkg-deb -x "$BASE"/"$pkg"_*.deb "$ROOTFS" || exit 1
	[ -f "$INC/pg_config.h" ] || die "$pkg has no $INC/pg_config.h"
fi
version=$(sed -n 's/^#define PG_VERSION "\([^ "]*\).*/\1/p' "$INC/pg_config.h")

# The flags PGXS would use with Debian's build of that major, plus ours
# ("make test"'s warnings as errors).  -fsyntax-only: nothing is linked.
cflags=(-std=gnu99 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Werror
	-Wmissing-prototypes -Wpointer-arith -Wdeclaration-after-statement -Werror=vla
	-Wendif-labels -Wmissing-format-attribute -Wimplicit-fallthrough=3
	-Wcast-function-type -Wformat-security -fno-strict-aliasing -fwrapv
	-DUSE_ASSERT_CHECKING -D_GNU_SOURCE)
extversion=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" allocation.control)
failed=0 n=0
for f in src/adapters/*.c src/entry/*.c; do
	n=$((n + 1))
	if ! "${CC:-gcc}" "${cflags[@]}" -DAL_EXTVERSION="\"$extversion\"" \
			-Isrc/core -Isrc/service -Isrc/adapters -Isrc/entry -I"$INC" "$f"; then
		say "compile-major: $f does not compile against PostgreSQL $version"
		failed=$((failed + 1))
	fi
done
if [ "$failed" -ne 0 ]; then
	say "compile-major: $failed of $n sources do not compile against PostgreSQL $version's headers"
	exit 1
fi
say "compile-major: all $n adapter and entry sources compile against PostgreSQL $version's headers ($pkg)"
