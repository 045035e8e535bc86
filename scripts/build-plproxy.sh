#!/usr/bin/env bash
# scripts/build-plproxy.sh - build PL/Proxy from Debian's source package
# into a server that scripts/build-postgres.sh built, for the router
# (router/) and its suite on that server.
#
#   scripts/build-plproxy.sh --major N [--flavour cassert|release] [--force]
#   scripts/build-plproxy.sh --pg-config PATH [--force] [--into-packaged-server]
#
# Result: plproxy's extension files and library in
# build/pg/<major>-<flavour>/install/ (the server must be built first), or,
# with --pg-config, in the server that PATH describes (make test uses this
# for its PostgreSQL 15: a private copy of Debian's, scripts/private-pg.sh).
#
# A server whose files a Debian package owns (Debian's
# /usr/lib/postgresql/N) is refused: our build would replace
# postgresql-N-plproxy's plproxy.so and extension files, and the next
# apt-get upgrade or reinstall of that package puts Debian's back, after
# which clusters defined with our options fail (router/README.md,
# "Installing").  --into-packaged-server does it anyway, for an
# administrator who installs our PL/Proxy knowingly.
#
# Our patches router/plproxy-*.patch are applied to the upstream source
# (why: in each patch's header): the router needs them.
#
# Where from: the upstream tarball (orig.tar.*) of Debian's source package
# postgresql-plproxy, newest version first, from the suites bookworm,
# trixie and sid (deb-src entries for them are added to apt's sources when
# apt does not list the package, as build-postgres.sh does).  Only the
# upstream tarball is needed: PGXS builds it as it is.  On this machine's
# mirror only some files are served (trixie's 2.11.0 tarball is; the .dsc
# and Debian's patches are not), so a version counts when its tarball
# arrives, its checksum checked against apt's Sources index.
#
# Cached: build/pg/<major>-<flavour>/plproxy.stamp holds the version, the
# server's stamp and this script's hash; when they match nothing is done.
#
# Exit status: 0 built or up to date; 3 when no tarball is served or it
# does not build against this server (make test then reports the router
# suite on that server as skipped, with the reason); 4 when a packaged
# server is refused (above); 1 on other failures.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES

major=''
flavour=release
force=no
into_packaged=no
pgc_given=''
while [ $# -gt 0 ]; do
	case $1 in
		--major) major=${2:?}; shift 2 ;;
		--flavour|--flavor) flavour=${2:?}; shift 2 ;;
		--pg-config) pgc_given=${2:?}; shift 2 ;;
		--force) force=yes; shift ;;
		--into-packaged-server) into_packaged=yes; shift ;;
		-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
		*) die "usage: $0 --major N [--flavour cassert|release] [--force] | --pg-config PATH [--force] [--into-packaged-server]" ;;
	esac
done
[ -n "$pgc_given" ] || [[ $major =~ ^[0-9]+$ ]] || die "--major wants a number"

# Where scripts/build-postgres.sh put the server (common.sh).
BASE=$(pg_build_base)
SOURCES=$BASE/sources
PKG=postgresql-plproxy
if [ -n "$pgc_given" ]; then
	# a server of its own: its build folder is named after its pg_config
	PGC=$(readlink -f "$pgc_given")
	[ -x "$PGC" ] || die "no pg_config at $pgc_given"
	if [ "$into_packaged" = no ] &&
	   { dpkg_owned "$PGC" || dpkg_owned "$("$PGC" --bindir)/postgres"; }; then
		say "build-plproxy: refused: $PGC is a packaged server's (dpkg owns its files); our PL/Proxy would replace postgresql-N-plproxy's files there" >&2
		say "build-plproxy: test on a copy (scripts/private-pg.sh --pg-config $pgc_given), or pass --into-packaged-server" >&2
		exit 4
	fi
	DEST=$BASE/plproxy-$(printf '%s' "$PGC" | sha1sum | cut -c1-12)
	PREFIX=$("$PGC" --bindir)
	mkdir -p "$DEST"
	# what identifies the server: its version and where it lives
	printf '%s %s\n' "$("$PGC" --version)" "$PGC" > "$DEST/stamp"
else
	DEST=$BASE/$major-$flavour
	PREFIX=$DEST/install
	PGC=$PREFIX/bin/pg_config
	[ -x "$PGC" ] && [ -f "$DEST/stamp" ] ||
		die "no server in $DEST: run scripts/build-postgres.sh --major $major --flavour $flavour first"
fi
STAMP=$DEST/plproxy.stamp
PATCHES=("$ROOT"/router/plproxy-*.patch)
[ -f "${PATCHES[0]}" ] || PATCHES=()
mkdir -p "$SOURCES"

exec 9>"$DEST/.plproxy.lock"
flock 9

# versions: every version of the source package apt lists, newest first.
versions() {
	apt-cache showsrc "$PKG" 2>/dev/null | sed -n 's/^Version: //p' | sort -u -r -V
}

# ensure_suites: deb-src entries for the suites that carry PL/Proxy.
ensure_suites() {
	local s f added=no
	for s in bookworm trixie sid; do
		f=/etc/apt/sources.list.d/allocation-src-$s.sources
		[ ! -f "$f" ] || continue
		say "build-plproxy: adding deb-src for $s ($f)"
		printf '%s\n' "# Added by the allocation extension's scripts/build-plproxy.sh: source
# packages of PL/Proxy for test builds.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $s
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" | "${SUDO[@]}" tee "$f" >/dev/null
		added=yes
	done
	[ "$added" = no ] || apt_update
}

script_hash=$(cat "${BASH_SOURCE[0]}" "${PATCHES[@]}" | sha256sum | cut -c1-16)
stamp_text() {
	printf 'plproxy: %s\nserver: %s\nscript: %s\n' "$1" "$(tr '\n' ' ' < "$DEST/stamp")" "$script_hash"
}

# The newest version whose tarball we already have decides "up to date"
# without the network.
if [ "$force" = no ] && [ -f "$STAMP" ]; then
	for v in $(versions); do
		up=${v#*:}; up=${up%-*}
		if compgen -G "$SOURCES/${PKG}_$up.orig.tar.*" >/dev/null &&
		   [ "$(stamp_text "$up")" = "$(cat "$STAMP")" ] &&
		   cmp -s "$DEST/plproxy/plproxy.so" "$("$PGC" --pkglibdir)/plproxy.so"; then
			say "build-plproxy: PL/Proxy $up for $("$PGC" --version) is up to date"
			exit 0
		fi
	done
fi

ensure_suites
tarball='' up=''
for v in $(versions); do
	up=${v#*:}; up=${up%-*}
	tarball=$(find "$SOURCES" -maxdepth 1 -name "${PKG}_$up.orig.tar.*" | head -n 1)
	if [ -z "$tarball" ]; then
		# apt-get source fails as a whole when the .dsc is not served, but
		# keeps the files it did get (checked against the Sources index).
		(cd "$SOURCES" && apt-get source --download-only "${APT_OPTS[@]}" "$PKG=$v" >/dev/null 2>&1) || true
		tarball=$(find "$SOURCES" -maxdepth 1 -name "${PKG}_$up.orig.tar.*" | head -n 1)
	fi
	[ -z "$tarball" ] || break
	say "build-plproxy: $PKG=$v: its upstream tarball is not served"
done
if [ -z "$tarball" ]; then
	say "build-plproxy: no version of $PKG is served"
	exit 3
fi

work=$DEST/plproxy
rm -rf "$work" "$STAMP"
mkdir -p "$work"
tar -xf "$tarball" -C "$work" --strip-components=1
for p in "${PATCHES[@]}"; do
	if ! patch -d "$work" -p1 --quiet --forward < "$p" > "$work/patch.log" 2>&1; then
		cat "$work/patch.log"
		say "build-plproxy: $(basename "$p") does not apply to PL/Proxy $up"
		exit 3
	fi
done
say "build-plproxy: building PL/Proxy $up against $("$PGC" --version) (log: $work/make.log)"
if ! { "$MAKE" -C "$work" PG_CONFIG="$PGC" && "$MAKE" -C "$work" PG_CONFIG="$PGC" install; } \
		> "$work/make.log" 2>&1; then
	tail -n 30 "$work/make.log"
	say "build-plproxy: PL/Proxy $up does not build against PostgreSQL $major"
	exit 3
fi
stamp_text "$up" > "$STAMP"
say "build-plproxy: PL/Proxy $up${PATCHES[*]:+ with $(cd "$ROOT" && printf '%s ' "${PATCHES[@]#"$ROOT"/}")}installed for $("$PGC" --version) ($("$PGC" --pkglibdir))"
