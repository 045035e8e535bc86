#!/usr/bin/env bash
# test/versions/compile_major_mutants.sh - does scripts/compile-major.sh
# catch a version test of src/adapters/pg_compat.h taken on the wrong side?
#
# pg_compat.h says that 17 is compiled, not run, and that "a wrong side of
# a version test above fails that compile".  For each "#if"/"#elif" on
# PG_VERSION_NUM in it, a mutant negates that one condition, in a copy of
# the sources, and compile-major.sh MAJOR (default 17) must then fail.  A
# mutant that compiles is a version test whose wrong side would ship
# untested: listed, and the script fails.
#
#   test/versions/compile_major_mutants.sh [MAJOR]
#
# Needs the headers compile-major.sh fetches (build/pg/headers-MAJOR);
# exit 3 when they cannot be had.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
major=${1:-17}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export ALLOC_PG_BUILD_DIR=${ALLOC_PG_BUILD_DIR:-$ROOT/build/pg}

bash "$ROOT/scripts/compile-major.sh" "$major" >/dev/null 2>&1
rc=$?
[ "$rc" -ne 3 ] || { echo "compile_major_mutants: SKIPPED: no headers of $major"; exit 3; }
[ "$rc" -eq 0 ] || { echo "compile_major_mutants: the unmutated sources do not compile"; exit 1; }

F=src/adapters/pg_compat.h
survivors=() n=0
while IFS=: read -r line text; do
	n=$((n + 1))
	rm -rf "$WORK/r" && mkdir -p "$WORK/r"
	cp -a "$ROOT/src" "$ROOT/scripts" "$ROOT/allocation.control" "$WORK/r/"
	# negate the condition of that line only
	sed -i "${line}s/^#\(el\)\?if \(.*\)$/#\1if !(\2)/" "$WORK/r/$F"
	if bash "$WORK/r/scripts/compile-major.sh" "$major" >"$WORK/out" 2>&1; then
		survivors+=("line $line: $text")
	fi
done < <(grep -n '^#\(el\)\?if .*PG_VERSION_NUM' "$ROOT/$F")
echo "compile_major_mutants: $n version tests, ${#survivors[@]} whose wrong side compiles against $major"
for s in "${survivors[@]}"; do echo "  $s"; done
[ "${#survivors[@]}" -eq 0 ]
