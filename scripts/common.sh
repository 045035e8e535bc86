# scripts/common.sh - shared settings of the project's scripts (sourced, not run).
#
# Sets, for the scripts that source it:
#   ROOT        the repository's top directory
#   PG_CONFIG   pg_config to build and test with (PostgreSQL 15 preferred)
#   PG_BINDIR   its --bindir (initdb, pg_ctl, psql, ...)
#   MAKE        make program
#   SUDO, APT_OPTS  what to run apt-get with (see below)
# and defines small helpers: say, die, as_cluster_owner, pg_build_base.

# shellcheck disable=SC2034  # used by the scripts that source this file
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
MAKE=${MAKE:-make}

# PostgreSQL 15 is the default (other majors: docs/versions.md).  Debian's
# /usr/bin/pg_config picks the newest installed server-dev, so prefer 15's
# own pg_config when the caller did not name one.  Called again after "make deps" has run.
PG_MAJOR=${PG_MAJOR:-15}
resolve_pg_config() {
	if [ -z "${PG_CONFIG:-}" ] || [ "$PG_CONFIG" = pg_config ]; then
		if [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" ]; then
			PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
		else
			PG_CONFIG=pg_config
		fi
	fi
	export PG_CONFIG
}
resolve_pg_config

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# pg_bindir prints the server binaries' directory, or fails.
pg_bindir() {
	local d
	d=$("$PG_CONFIG" --bindir 2>/dev/null) || return 1
	[ -x "$d/pg_ctl" ] || return 1
	printf '%s\n' "$d"
}

# The throwaway cluster runs as "postgres" when we are root (initdb refuses
# to run as root), and as the calling user otherwise.  What needs root
# (apt-get, apt's sources) runs through SUDO: sudo unless we are root.
if [ "$(id -u)" -eq 0 ]; then
	CLUSTER_OWNER=postgres
	SUDO=()
else
	CLUSTER_OWNER=$(id -un)
	SUDO=(sudo)
fi
# apt-get's options in the build scripts: quiet, wait up to 5 minutes for
# another apt's lock (two builds at once), and try a download again when
# the network or the mirror fails for a moment.
APT_OPTS=(-q -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)

# apt_update: apt-get update, tried again (after 15, 30 and 60 s) when it
# fails: a mirror answers "Hash Sum mismatch" or "File has unexpected
# size" for the minutes it takes to sync a suite (sid changes several times
# a day), and one such answer must not fail a test run.  Returns
# apt-get's status of the last try; its output goes to stderr.
apt_update() {
	local try rc=0
	for try in 1 2 3 4; do
		rc=0
		"${SUDO[@]}" apt-get update "${APT_OPTS[@]}" >&2 || rc=$?
		[ "$rc" -ne 0 ] || return 0
		[ "$try" -lt 4 ] || break
		say "apt-get update failed (status $rc, try $try of 4); trying again in $((15 << (try - 1))) s" >&2
		sleep $((15 << (try - 1)))
	done
	return "$rc"
}

# as_cluster_owner CMD...: run CMD as the cluster's owner, from "/" so that
# an unreadable working directory does not get in the way.
as_cluster_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u "$CLUSTER_OWNER" -- "$@")
		else
			(cd / && su -s /bin/bash "$CLUSTER_OWNER" -c "$(printf '%q ' "$@")")
		fi
	else
		(cd / && "$@")
	fi
}

# dpkg_owned FILE: does an installed Debian package own FILE?  False where
# there is no dpkg.  The scripts never write into such a server: apt would
# put its own files back (and did not expect ours there).
dpkg_owned() {
	command -v dpkg-query >/dev/null 2>&1 || return 1
	dpkg-query -S "$(readlink -f "$1")" >/dev/null 2>&1
}

# pg_build_base: where the builds for the servers go (build/pg, or a
# folder the cluster's owner can reach when we are root and it cannot
# reach the repository: a clone in a private mktemp -d folder, say).
pg_build_base() {
	if [ -n "${ALLOC_PG_BUILD_DIR:-}" ]; then
		printf '%s\n' "$ALLOC_PG_BUILD_DIR"
	elif [ "$(id -u)" -ne 0 ] || as_cluster_owner test -x "$ROOT" 2>/dev/null; then
		printf '%s\n' "$ROOT/build/pg"
	else
		printf '%s\n' "/var/tmp/allocation-pg-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
	fi
}
