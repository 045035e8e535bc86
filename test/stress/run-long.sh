#!/usr/bin/env bash
# test/stress/run-long.sh - "make stress": the long runs of the extra suites.
#
# Installs the extension, starts a throwaway cluster of its own (so that a
# "make run" demo cluster is left alone), and runs the suites of
# scripts/extra-tests/ with long settings:
#   stress        STRESS_SECONDS=300 (16 clients)
#   crash         CRASH_ROUNDS=6 (6 kill -9, then a clean round)
#   memory        MEMORY_CALLS=1000000
#   dump_restore  as in "make test"
# Any of these variables may be set to override.  STRESS_SUITES names the
# suites to run (default: all four).  Prints one "<suite>: ok|FAILED" line
# per suite at the end; exits non-zero if one failed.  The server log is
# kept in log/postgresql-stress.log.
#
# Environment: PG_CONFIG; ALLOC_CLUSTER_DIR and ALLOC_PGPORT (default: a
# directory under /tmp and port 5498) place the cluster.
set -uo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/common.sh"
cd "$ROOT" || exit 1

export STRESS_SECONDS=${STRESS_SECONDS:-300}
export CRASH_ROUNDS=${CRASH_ROUNDS:-6}
export MEMORY_CALLS=${MEMORY_CALLS:-1000000}
SUITES=${STRESS_SUITES:-stress crash memory dump_restore}
export ALLOC_CLUSTER_DIR=${ALLOC_CLUSTER_DIR:-/tmp/allocation-stress-$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)}
export ALLOC_PGPORT=${ALLOC_PGPORT:-5498}

PG_BINDIR=$(pg_bindir) || die "PostgreSQL server binaries not found (PG_CONFIG=$PG_CONFIG); run 'make deps'"
export PG_BINDIR

printf '\n======== install ========\n'
"$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" install >/dev/null ||
	die "make install failed"

printf '\n======== cluster ========\n'
bash scripts/cluster.sh start --fresh || die "the cluster does not start"
eval "$(bash scripts/cluster.sh env)"
# shellcheck disable=SC2317  # called by the trap
stop_cluster() {
	mkdir -p log
	cp -f "$ALLOC_PGLOG" log/postgresql-stress.log 2>/dev/null || true
	bash scripts/cluster.sh stop || true
}
trap stop_cluster EXIT

results=()
failed=0
for name in $SUITES; do
	f=scripts/extra-tests/$name.sh
	printf '\n======== %s (%s) ========\n' "$name" "$f"
	[ -f "$f" ] || { results+=("$name: FAILED (no $f)"); failed=1; continue; }
	if ! bash scripts/cluster.sh status >/dev/null 2>&1; then
		bash scripts/cluster.sh start || { results+=("$name: FAILED (server down)"); failed=1; continue; }
	fi
	t0=$(date +%s)
	if ALLOC_ROOT=$ROOT bash "$f"; then
		results+=("$name: ok ($(($(date +%s) - t0)) s)")
	else
		results+=("$name: FAILED ($(($(date +%s) - t0)) s)")
		failed=1
	fi
done

printf '\n======== summary ========\n'
printf '%s\n' "${results[@]}"
exit "$failed"
