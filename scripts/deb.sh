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
#
# Majors: ALLOC_DEB_MAJORS (default "15 18"; "make deb PGMAJOR=18" builds
# one).  15 is Debian 12's: pg_buildext builds postgresql-15-allocation,
# postgresql-15-allocation-router, allocation-relay and allocate-from-csv.
# A major Debian 12 does not package (18) gets its two extension packages
# only (the programs do not depend on the server), built in a copy of its
# own with debian/control made from debian/control.in for that major and
# the pg_config of the server scripts/build-postgres.sh builds (a release
# build, cached; the same one make test uses), the files installed where
# Debian's postgresql-<major> looks for them.  If the mirror serves no
# source of that major, it is left out with a warning.  The .changes of
# such a build is kept in build/deb/out/pg<major>/ (its name would clash
# with 15's).
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

ALLOC_DEPS_PACKAGING=yes bash scripts/deps.sh
for tool in dpkg-buildpackage dh pg_buildext lintian; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

majors=${ALLOC_DEB_MAJORS:-15 18}
version=$(dpkg-parsechangelog -S Version | sed 's/-[^-]*$//')
out=build/deb/out
rm -rf build/deb/src "$out"
mkdir -p "$out"
: > build/deb/lintian.log

# copy_tree DIR: the work tree's files into DIR.
copy_tree() {
	mkdir -p "$1"
	git ls-files -z --cached --others --exclude-standard |
		grep -z -v -E '^(build|tmp_cluster|log)/' |
		tar --null -T - -cf - | tar -xf - -C "$1"
}

# build_in WORK SRC LOG [VAR=VALUE...]: dpkg-buildpackage in SRC, lintian
# on the result (an error fails), the .deb files into $out.
build_in() {
	local work=$1 src=$2 log=$3
	shift 3
	echo "deb: building in $src (log: $log)"
	# A PG_CONFIG of the environment must not leak into the packages' build.
	if ! (cd "$src" && env -u PG_CONFIG "$@" dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
		tail -n 60 "$log" >&2
		die "dpkg-buildpackage failed ($log)"
	fi
	echo "deb: lintian"
	lintian --fail-on error --tag-display-limit 0 "$work"/*.changes | tee -a build/deb/lintian.log
	mv "$work"/*.deb "$out"/
}

for major in $majors; do
	if [ "$major" = 15 ]; then
		work=build/deb/src
		copy_tree "$work/allocation-$version"
		build_in "$work" "$work/allocation-$version" build/deb/build.log
		mv "$work"/*.changes "$work"/*.buildinfo "$out"/ 2>/dev/null || true
		continue
	fi
	pgc=$(bash scripts/build-postgres.sh --major "$major" --flavour release --print-pg-config) || {
		rc=$?
		[ "$rc" -eq 3 ] || die "PostgreSQL $major could not be built"
		echo "deb: warning: no PostgreSQL $major source is served: no packages for $major" >&2
		continue
	}
	work=build/deb/src/pg$major
	src=$work/allocation-$version
	copy_tree "$src"
	# debian/control for this major: the source stanza and the two
	# postgresql-PGVERSION-* stanzas of control.in
	awk -v RS= -v ORS='\n\n' 'NR == 1 || /^Package: postgresql-PGVERSION-/' "$src/debian/control.in" |
		sed "s/PGVERSION/$major/g" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' > "$src/debian/control"
	for p in allocation allocation-router; do
		cp "$src/debian/postgresql-15-$p.docs" "$src/debian/postgresql-$major-$p.docs"
	done
	echo "$major" > "$src/debian/pgversions"
	build_in "$work" "$src" "build/deb/build-pg$major.log" ALLOC_DEB_PG_CONFIG="$pgc"
	mkdir -p "$out/pg$major"
	mv "$work"/*.changes "$work"/*.buildinfo "$out/pg$major"/ 2>/dev/null || true
done
ls -1 "$out"/*.deb
echo "deb: lintian: no error ($(grep -c '^W:' build/deb/lintian.log || true) warnings, build/deb/lintian.log)"
