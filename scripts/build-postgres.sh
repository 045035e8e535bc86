#!/usr/bin/env bash
# scripts/build-postgres.sh - build PostgreSQL from Debian's source package
# into the repository, for test runs on a server other than the packaged one.
#
#   scripts/build-postgres.sh [--major N] [--flavour cassert|release]
#                             [--print-pg-config] [--force]
#
#   --major N          PostgreSQL major version (default 15)
#   --flavour F        cassert: --enable-cassert --enable-debug, -O1
#                      (assertions, and freed memory is overwritten, so a
#                      use after free shows); release: --enable-debug, -O2
#   --print-pg-config  print only the built server's pg_config path on
#                      stdout (everything else goes to stderr)
#   --force            rebuild even when the stamp matches
#
# Result: build/pg/<major>-<flavour>/install/ (bin/pg_config, the server,
# psql, pg_regress and pg_isolation_regress where PGXS looks for them, and
# pgTAP's extension files).  build/ is git-ignored; ALLOC_PG_BUILD_DIR
# puts build/pg elsewhere, and so does a run as root where the cluster's
# owner cannot reach the repository (/var/tmp/allocation-pg-<hash>:
# pg_build_base in scripts/common.sh, the rule of every server build).
#
# The upstream source of the package (its orig tarball) is built without
# Debian's patches: those fit Debian's layout (one of them hard-codes
# /usr/lib/postgresql/<major>/lib as the library directory, so "make
# install" of an extension would write into the packaged server).  The
# script checks that every directory pg_config names lies in install/.
#
# Cached: build/pg/<major>-<flavour>/stamp holds the inputs of the build
# (source package and version, configure flags, this script's hash); when
# they match, nothing is downloaded or built.  The source package comes
# from the suite that carries that major (15: bookworm, 17: trixie,
# 18: sid; ALLOC_PG_SUITE overrides): a deb-src entry for it is added to
# apt's sources when apt does not know the package yet.  The newest
# version apt lists is used, unless the mirror does not serve its files:
# then the next older one (ALLOC_PG_VERSION pins one).  What the mirror
# did not serve is asked for again on every run that is not up to date
# (a few seconds of 404s), so that the day the mirror serves it, it is
# built.
#
# Needs root (or sudo) only to add the deb-src entry and to install the
# build dependencies (build-essential, bison, flex, perl, zlib1g-dev,
# dpkg-dev); builds and installs as the calling user.
#
# Exit status: 0 built or up to date; 3 when the mirror serves no version
# of the source package (make test then reports the suite as skipped):
# the last lines on stderr are then "build-postgres: not served: <URL>
# (<reason>)", one a file apt could not fetch; 1 on any other failure.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Called from make (make test-cassert), PostgreSQL's own build must not
# see the caller's make: at MAKELEVEL 0 it generates its headers first,
# and the caller's variables (PG_CONFIG=...) must not leak into it.
unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES

major=15
flavour=cassert
print_pg_config=no
force=no
while [ $# -gt 0 ]; do
	case $1 in
		--major) major=${2:?}; shift 2 ;;
		--flavour|--flavor) flavour=${2:?}; shift 2 ;;
		--print-pg-config) print_pg_config=yes; shift ;;
		--force) force=yes; shift ;;
		-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
		*) die "usage: $0 [--major N] [--flavour cassert|release] [--print-pg-config] [--force]" ;;
	esac
done
[[ $major =~ ^[0-9]+$ ]] || die "--major wants a number, not '$major'"

# With --print-pg-config stdout carries the path alone.
if [ "$print_pg_config" = yes ]; then
	exec 3>&1 1>&2
fi

case $flavour in
	cassert) configure_flags=(--enable-cassert --enable-debug) cflags='-O1 -g' ;;
	release) configure_flags=(--enable-debug) cflags='-O2 -g' ;;
	*) die "--flavour is cassert or release, not '$flavour'" ;;
esac
# Keep it small: no readline, ICU, LLVM, docs or contrib; zlib stays
# (pg_dump's default format).  --without-icu matters from 16 on.
configure_flags+=(--without-readline --without-icu --without-llvm)

case ${ALLOC_PG_SUITE:-$major} in
	[a-z]*) suite=$ALLOC_PG_SUITE ;;
	15) suite=bookworm ;;
	17) suite=trixie ;;
	*) suite=sid ;;
esac

# The servers run as the cluster's owner ("postgres" when we are root):
# when that user cannot reach the repository (a clone in a private
# mktemp -d folder, say), the build goes where it can (common.sh).
BASE=$(pg_build_base)
SOURCES=$BASE/sources           # downloaded source packages, kept
DEST=$BASE/$major-$flavour
PREFIX=$DEST/install
STAMP=$DEST/stamp
UNREACHABLE=$DEST/unreachable      # "package=version" lines the mirror did not serve
NOT_SERVED=$DEST/not-served        # the URLs of their files, with apt's reason
JOBS=$(nproc 2>/dev/null || echo 2)
mkdir -p "$SOURCES" "$DEST"

# One build at a time per folder (two make test-cassert at once).
exec 9>"$DEST/.lock"
flock 9

# --- the source package ---------------------------------------------------

# ensure_deb_src PACKAGE: make apt know PACKAGE's source (adds the suite).
ensure_deb_src() {
	[ -z "$(apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p')" ] || return 0
	local f=/etc/apt/sources.list.d/allocation-src-$suite.sources sec=''
	if [ ! -f "$f" ]; then
		say "build-postgres: adding deb-src for $suite ($f)"
		case $suite in
			sid|unstable|experimental) ;;
			*) sec="
Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" ;;
		esac
		local suites=$suite
		case $suite in sid|unstable|experimental) ;; *) suites="$suite $suite-updates" ;; esac
		printf '%s\n' "# Added by the allocation extension's scripts/build-postgres.sh: source
# packages of PostgreSQL for test builds (assertions enabled).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
$sec" | "${SUDO[@]}" tee "$f" >/dev/null
	fi
	local rc=0
	apt_update || rc=$?
	[ -z "$(apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p')" ] || return 0
	if [ "$rc" -ne 0 ]; then
		# The mirror did not serve apt's lists: nothing of ours failed.
		printf 'http://deb.debian.org/debian (suite %s) (apt-get update failed 4 times, status %s)\n' \
			"$suite" "$rc" >> "$NOT_SERVED"
		say "build-postgres: no version of source package $1 is served" >&2
		sed 's/^/build-postgres: not served: /' "$NOT_SERVED" >&2
		exit 3
	fi
	die "apt knows no source package $1 (suite $suite)"
}

# versions PACKAGE: the versions apt lists, newest first, less the ones
# the mirror did not serve before.
versions() {
	apt-cache showsrc "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -u -r -V |
		while read -r v; do
			grep -qxF "$1=$v" "$UNREACHABLE" 2>/dev/null || printf '%s\n' "$v"
		done
}

# have_source DSC: are DSC and all its files here, with the right checksums?
have_source() {
	[ -f "$1" ] || return 1
	awk '/^Checksums-Sha256:/ { on = 1; next } on && /^ / { print $1 "  " $3; next } { on = 0 }' "$1" |
		(cd "$SOURCES" && sha256sum --check --status 2>/dev/null)
}

# fetch PACKAGE VERSION: download the source package into $SOURCES; the
# files apt could not fetch are added to $NOT_SERVED.
fetch() {
	have_source "$SOURCES/$1_${2#*:}.dsc" && return 0
	local log=$DEST/fetch.log rc=0
	(cd "$SOURCES" && apt-get source --download-only "${APT_OPTS[@]}" "$1=$2") >"$log" 2>&1 || rc=$?
	cat "$log" >&2
	[ "$rc" -ne 0 ] || return 0
	# "E: Failed to fetch http://.../postgresql-17_17.12.orig.tar.bz2  404  Not Found [IP: ...]"
	sed -n 's/^E: Failed to fetch \([a-z]*:\/\/[^ ]*\)  *\(.*\)$/\1 (\2)/p' "$log" |
		sed 's/ *\[IP:[^]]*\]//; s/%2[bB]/+/g; s/  */ /g' >> "$NOT_SERVED"
	return 1
}

# pick_source PACKAGE: print the newest version that can be downloaded.
pick_source() {
	local v
	if [ -n "${ALLOC_PG_VERSION:-}" ] && [ "$1" = "postgresql-$major" ]; then
		printf '%s\n' "$ALLOC_PG_VERSION"
		return
	fi
	for v in $(versions "$1"); do
		printf '%s\n' "$v"
		return
	done
	say "build-postgres: no version of source package $1 is served" >&2
	if [ -s "$NOT_SERVED" ]; then
		sed 's/^/build-postgres: not served: /' "$NOT_SERVED" >&2
	fi
	return 3
}

# download PACKAGE: fetch the newest reachable version, print it.
download() {
	local v
	while v=$(pick_source "$1"); do
		if fetch "$1" "$v"; then
			printf '%s\n' "$v"
			return 0
		fi
		[ -z "${ALLOC_PG_VERSION:-}" ] || die "cannot download $1=$v"
		say "build-postgres: $1=$v is listed but not served; trying an older version" >&2
		printf '%s=%s\n' "$1" "$v" >> "$UNREACHABLE"
	done
	return 3
}

# --- build dependencies ---------------------------------------------------

build_deps=(build-essential bison flex perl zlib1g-dev dpkg-dev)
install_build_deps() {
	local p missing=()
	for p in "${build_deps[@]}"; do
		[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	say "build-postgres: installing ${missing[*]}"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"${APT_OPTS[@]}" "${missing[@]}" >&2
}

# --- pgTAP (SQL only) -------------------------------------------------------

# install_pgtap: pgTAP's extension files into the built server.  Built
# from Debian's pgtap source (its upstream tarball is all it needs) when
# the mirror serves it; otherwise unpacked from the binary package
# postgresql-<major>-pgtap (or 15's: the SQL is the same) without
# installing that package.
install_pgtap() {
	local v up tarball deb work=$DEST/pgtap
	rm -rf "$work"
	mkdir -p "$work/src"
	for v in $(apt-cache showsrc pgtap 2>/dev/null | sed -n 's/^Version: //p' | sort -u -r -V); do
		up=${v#*:}
		up=${up%-*}
		have_source "$SOURCES/pgtap_${v#*:}.dsc" || fetch pgtap "$v" >/dev/null 2>&1 || true
		tarball=$(find "$SOURCES" -maxdepth 1 -name "pgtap_$up.orig.tar.*" | head -n 1)
		[ -n "$tarball" ] || continue
		say "build-postgres: pgTAP $up from Debian's source package"
		tar -xf "$tarball" -C "$work/src" --strip-components=1
		"$MAKE" -C "$work/src" PG_CONFIG="$PREFIX/bin/pg_config" install > "$work/make.log" 2>&1 ||
			{ tail -n 30 "$work/make.log"; return 1; }
		return 0
	done
	for deb in "postgresql-$major-pgtap" postgresql-15-pgtap; do
		if (cd "$work" && apt-get download "${APT_OPTS[@]}" "$deb" >/dev/null 2>&1); then
			say "build-postgres: pgTAP from the binary package $deb (its source is not served)"
			dpkg-deb -x "$work"/"$deb"_*.deb "$work/root"
			install -m 644 "$work"/root/usr/share/postgresql/*/extension/pgtap* \
				"$("$PREFIX/bin/pg_config" --sharedir)/extension/"
			return 0
		fi
	done
	die "pgTAP: neither its source nor postgresql-$major-pgtap could be downloaded"
}

# --- main -------------------------------------------------------------------

pkg=postgresql-$major
script_hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

# The stamp's inputs, with the version apt would pick now (no network:
# apt-cache reads the local lists).
stamp_text() {
	printf 'package: %s=%s\nconfigure: %s CFLAGS=%s\nscript: %s\n' \
		"$pkg" "$1" "${configure_flags[*]}" "$cflags" "$script_hash"
}

# Ask the mirror again for what it did not serve on an earlier run.
rm -f "$UNREACHABLE" "$NOT_SERVED"
want=''
if [ "$force" = no ] && [ -f "$STAMP" ] && [ -x "$PREFIX/bin/pg_config" ]; then
	if v=$(pick_source "$pkg" 2>/dev/null); then
		want=$(stamp_text "$v")
	fi
	if [ -n "$want" ] && [ "$want" = "$(cat "$STAMP")" ]; then
		say "build-postgres: $major-$flavour is up to date ($pkg=$v, $PREFIX)"
		[ "$print_pg_config" = no ] || printf '%s\n' "$PREFIX/bin/pg_config" >&3
		exit 0
	fi
fi

start=$(date +%s)
install_build_deps
ensure_deb_src "$pkg"
version=$(download "$pkg") || exit $?
# The version apt listed first may have turned out not to be served.
if [ "$force" = no ] && [ -x "$PREFIX/bin/pg_config" ] &&
   [ "$(stamp_text "$version")" = "$(cat "$STAMP" 2>/dev/null)" ]; then
	say "build-postgres: $major-$flavour is up to date ($pkg=$version, $PREFIX)"
	[ "$print_pg_config" = no ] || printf '%s\n' "$PREFIX/bin/pg_config" >&3
	exit 0
fi
say "build-postgres: building $pkg=$version ($flavour) into $PREFIX"

rm -f "$STAMP"
rm -rf "$DEST/src" "$PREFIX" "$DEST/pgtap"
dpkg-source --no-check --skip-patches -x "$SOURCES/${pkg}_${version#*:}.dsc" "$DEST/src" >/dev/null

(
	cd "$DEST/src"
	./configure --prefix="$PREFIX" "${configure_flags[@]}" CFLAGS="$cflags" \
		> "$DEST/configure.log" 2>&1 ||
		{ tail -n 40 "$DEST/configure.log"; exit 1; }
	say "build-postgres: make -j$JOBS (log: $DEST/make.log)"
	# "all" is src/ and config/: the server, the client programs,
	# pg_regress and pg_isolation_regress (installed under lib/pgxs/src/test,
	# where PGXS's installcheck looks); docs and contrib are left out.
	{ "$MAKE" -j"$JOBS" all && "$MAKE" install; } > "$DEST/make.log" 2>&1 ||
		{ tail -n 60 "$DEST/make.log"; exit 1; }
)

# Nothing of this server may point outside its folder (see the header).
for d in bindir pkglibdir sharedir pgxs includedir-server; do
	case $("$PREFIX/bin/pg_config" --"$d") in
		"$PREFIX"/*) ;;
		*) die "pg_config --$d is $("$PREFIX/bin/pg_config" --"$d"), outside $PREFIX" ;;
	esac
done

install_pgtap
stamp_text "$version" > "$STAMP"
say "build-postgres: built $pkg=$version ($flavour) in $(( $(date +%s) - start )) s: $PREFIX/bin/pg_config"
[ "$print_pg_config" = no ] || printf '%s\n' "$PREFIX/bin/pg_config" >&3
