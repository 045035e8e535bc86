#!/usr/bin/env bash
# scripts/extra-tests/csv.sh - allocate-from-csv, the core over CSV files.
#
# Runs test/csv/test_csv.py against the program built in the work tree
# (src/csv/allocate-from-csv) and the throwaway cluster: the book's CSV
# scenarios and the rules, generated malformed files (judged by an
# independent RFC 4180 reader), atomic replacement (read-only folder,
# killed runs), and the property that the program and the extension make
# the same decisions on CSV_CASES random inputs (default 1000), all in one
# database session.  About 25 s on a quiet machine.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, PG_BINDIR or
# PG_CONFIG; CSV_CASES, CSV_MUTATIONS, CSV_SEED (test/csv/test_csv.py).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"
cd "$ROOT"

BIN=src/csv/allocate-from-csv
[ -x "$BIN" ] || fail "$BIN is not built (make csv)"
command -v python3 >/dev/null 2>&1 || fail "python3 is needed (make deps)"

DB=allocation_csv
trap cleanup_dbs EXIT
fresh_db "$DB"

export CSV_BIN=$BIN
export CSV_PSQL="$PG_BINDIR/psql -X -d $DB"
python3 test/csv/test_csv.py
