#!/usr/bin/env bash
# scripts/extra-tests/examples.sh - the application examples run as typed.
#
# examples/python (psycopg 3, Debian's python3-psycopg) and examples/node
# (pg from npm, installed into examples/node/node_modules by "npm ci" from
# the committed package-lock.json) each run in a fresh database of the
# throwaway cluster, as a member of allocation_admin (the cluster's
# superuser).  Each program checks its own results (allocate, NULL as out
# of stock, ZA003 by SQLSTATE, a real 40001 under REPEATABLE READ and its
# retry, the consumer API) and exits non-zero when one is wrong; its output
# must also equal expected_output.txt beside it.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG.  EXAMPLES: which ones to run (default "python node").
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"
cd "$ROOT"

trap cleanup_dbs EXIT
failed=()

# run_example NAME DB CMD...: run CMD against DB, compare with the expected output.
run_example() {
	local name=$1 db=$2 out rc=0
	shift 2
	out=$(mktemp)
	fresh_db "$db"
	step "$name: $*"
	PGDATABASE=$db "$@" >"$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$out"
		step "$name: exit status $rc"
		failed+=("$name")
	elif ! diff -u "examples/$name/expected_output.txt" "$out"; then
		step "$name: output differs from examples/$name/expected_output.txt"
		failed+=("$name")
	else
		step "$name: ok"
	fi
	rm -f "$out"
}

for ex in ${EXAMPLES:-python node}; do
	case $ex in
		python)
			# Debian's interpreter, which sees Debian's python3-psycopg
			# (a python3 earlier on the PATH, e.g. pyenv's, may not).
			py=/usr/bin/python3
			[ -x "$py" ] || py=python3
			"$py" -c 'import psycopg' 2>/dev/null ||
				fail "python: psycopg is missing (make deps: python3-psycopg)"
			run_example python allocation_ex_python "$py" examples/python/allocate_example.py
			;;
		node)
			command -v node >/dev/null 2>&1 || fail "node: node is missing (make deps)"
			command -v npm >/dev/null 2>&1 || fail "node: npm is missing (make deps)"
			step "node: npm ci (examples/node/package-lock.json)"
			(cd examples/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
				fail "node: npm ci failed"
			run_example node allocation_ex_node node examples/node/allocate_example.js
			;;
		*) fail "unknown example $ex" ;;
	esac
done

[ "${#failed[@]}" -eq 0 ] || fail "examples failed: ${failed[*]}"
step "all examples ok"
