#!/usr/bin/env bash
# scripts/extra-tests/docs.sh - every SQL example of the documentation runs as typed.
#
# test/docs/doctest.py runs each ```sql block of README.md, docs/*.md and
# */README.md with psql in a fresh database that has the extension (blocks
# of a named session in one database, in order) and compares what psql
# prints with the ```text block shown after it (docs/testing.md has the
# conventions).  First it runs on test/docs/fixtures/must_fail.md, whose
# three examples are wrong on purpose, and requires it to report exactly
# those three: a doc test that cannot fail would pass anything.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or PG_CONFIG.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"
cd "$ROOT"
export PG_BINDIR

py=/usr/bin/python3
[ -x "$py" ] || py=python3

step "the doc test refuses wrong examples (test/docs/fixtures/must_fail.md)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if "$py" test/docs/doctest.py test/docs/fixtures/must_fail.md >"$out" 2>&1; then
	cat "$out"
	fail "the doc test passed examples that are wrong"
fi
grep -q '^doctest: 1 files, 3 examples run, 1 skipped, 3 failed$' "$out" || {
	cat "$out"
	fail "the doc test did not report exactly the three wrong examples"
}

step "README.md, docs/*.md, */README.md"
"$py" test/docs/doctest.py || fail "a documented example does not give the output shown"
