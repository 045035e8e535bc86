#!/usr/bin/env bash
# scripts/private-pg.sh - a private copy of a packaged PostgreSQL server,
# for the test runs that install into the server they test.
#
#   scripts/private-pg.sh --pg-config PATH
#
# Prints on stdout the pg_config to build and test with: PATH itself when
# its server is not a packaged one (dpkg owns no file of it: a server of
# scripts/build-postgres.sh, a copy of this script's), else the pg_config
# of a relocated copy of that server, made here.
#
# Why: make test installs the extension, the router and our patched
# PL/Proxy (scripts/build-plproxy.sh) into the server it tests.  Into
# Debian's server that would replace files a package owns (plproxy.so of
# postgresql-N-plproxy): the next apt-get upgrade puts Debian's back, and
# clusters defined with our PL/Proxy's options stop working.  The copy is
# ours to write into.
#
# The copy: the server's bin and lib folders (--bindir's parent when the
# library folder lies in it), its share folder (--sharedir) and headers
# (--includedir), at the same places relative to each other under
# <build>/pkg-copy-<hash of PATH>/root, so that Debian's pg_config and
# postgres, which find them relative to their own folder, see the copy's.
# <build> is build/pg, or /var/tmp/allocation-pg-<hash> when we are root
# and the cluster's owner cannot reach the repository (as
# scripts/build-postgres.sh).  The extension's own files that were in the
# server are left out.  Cached: made again only when the files of the
# source changed (their names, sizes and times), the extension's own aside.
#
# Exit status: 0, or 1 when the copy cannot be made or does not describe
# itself (one of its folders outside the copy).
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pgc=''
while [ $# -gt 0 ]; do
	case $1 in
		--pg-config) pgc=${2:?}; shift 2 ;;
		-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
		*) die "usage: $0 --pg-config PATH" ;;
	esac
done
[ -n "$pgc" ] || die "usage: $0 --pg-config PATH"
PGC=$(command -v "$pgc" || true)
[ -n "$PGC" ] && PGC=$(readlink -f "$PGC")
[ -n "$PGC" ] && [ -x "$PGC" ] || die "no pg_config at $pgc"

bindir=$("$PGC" --bindir)
if ! dpkg_owned "$bindir/postgres" && ! dpkg_owned "$PGC"; then
	printf '%s\n' "$PGC"
	exit 0
fi

pkglibdir=$("$PGC" --pkglibdir)
sharedir=$("$PGC" --sharedir)
includedir=$("$PGC" --includedir)
trees=()
case $pkglibdir/ in
	"$(dirname "$bindir")"/*) trees+=("$(dirname "$bindir")") ;;
	*) trees+=("$bindir" "$pkglibdir") ;;
esac
trees+=("$sharedir")
[ ! -d "$includedir" ] || trees+=("$includedir")

# the folder the trees have in common: the copy keeps their places below it
common=$(dirname "${trees[0]}")
for t in "${trees[@]}"; do
	while [ "${t#"$common"/}" = "$t" ]; do common=$(dirname "$common"); done
done

BASE=$(pg_build_base)
DEST=$BASE/pkg-copy-$(printf '%s' "$PGC" | sha1sum | cut -c1-12)
COPY=$DEST/root
mkdir -p "$DEST"
exec 9>"$DEST/.lock"
flock 9

# (the extension's own files do not count: a "make install" into the source
# server, by hand or by another checkout, while a run uses the copy must
# not make it again, without this run's build in it)
stamp=$( { "$PGC" --version; printf '%s\n' "$PGC"
		   find "${trees[@]}" -name 'allocation*' -prune -o -printf '%p %s %T@\n' | sort; } |
		 sha256sum | cut -c1-32)
new_pgc=$COPY${PGC#"$common"}
if [ -f "$DEST/stamp" ] && [ "$(cat "$DEST/stamp")" = "$stamp" ] && [ -x "$new_pgc" ]; then
	printf '%s\n' "$new_pgc"
	exit 0
fi

say "private-pg: copying the packaged server of $PGC into $COPY" >&2
rm -rf "$COPY" "$DEST/stamp"
for t in "${trees[@]}"; do
	mkdir -p "$COPY$(dirname "${t#"$common"}")"
	cp -a "$t" "$COPY$(dirname "${t#"$common"}")/"
done
# The extension's files in the source are not the ones this run builds.
rm -f "$COPY${pkglibdir#"$common"}"/allocation*.so "$COPY${sharedir#"$common"}"/extension/allocation*
chmod -R a+rX "$DEST"
[ -x "$new_pgc" ] || die "private-pg: no pg_config in the copy ($new_pgc)"
for o in bindir pkglibdir sharedir includedir-server pgxs; do
	d=$("$new_pgc" --"$o")
	case $d in
		"$COPY"/*) ;;
		*) die "private-pg: the copy's pg_config --$o is $d, outside $COPY: it does not relocate" ;;
	esac
done
printf '%s\n' "$stamp" > "$DEST/stamp"
printf '%s\n' "$new_pgc"
