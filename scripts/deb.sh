#!/usr/bin/env bash
# scripts/deb.sh - "make deb": the Debian packages, built in build/deb/.
#
# Copies the work tree (tracked files and new files not ignored by git)
# into build/deb/src/allocation-<version>/, builds the binary packages
# there with dpkg-buildpackage (debian/: debhelper, dh --with pgxs_loop,
# pg_buildext over debian/pgversions), puts the .deb files in
# build/deb/out/ and runs lintian on them: an error fails, warnings are
# printed.  Installs what it needs first (scripts/deps.sh with
# ALLOC_DEPS_PACKAGING=yes: debhelper, postgresql-server-dev-all, lintian...).
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

ALLOC_DEPS_PACKAGING=yes bash scripts/deps.sh
for tool in dpkg-buildpackage dh pg_buildext lintian; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

version=$(dpkg-parsechangelog -S Version | sed 's/-[^-]*$//')
work=build/deb/src
src=$work/allocation-$version
out=build/deb/out
rm -rf "$work" "$out"
mkdir -p "$src" "$out"
git ls-files -z --cached --others --exclude-standard |
	grep -z -v -E '^(build|tmp_cluster|log)/' |
	tar --null -T - -cf - | tar -xf - -C "$src"

echo "deb: building in $src (log: build/deb/build.log)"
# A PG_CONFIG of the environment must not leak into the packages' build.
if ! (cd "$src" && env -u PG_CONFIG dpkg-buildpackage -us -uc -b) >build/deb/build.log 2>&1; then
	tail -n 60 build/deb/build.log >&2
	die "dpkg-buildpackage failed (build/deb/build.log)"
fi
mv "$work"/*.deb "$out"/
mv "$work"/*.changes "$work"/*.buildinfo "$out"/ 2>/dev/null || true
ls -1 "$out"/*.deb

echo "deb: lintian"
lintian --fail-on error --tag-display-limit 0 "$out"/*.changes | tee build/deb/lintian.log
echo "deb: lintian: no error ($(grep -c '^W:' build/deb/lintian.log || true) warnings, build/deb/lintian.log)"
