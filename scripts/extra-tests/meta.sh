#!/usr/bin/env bash
# scripts/extra-tests/meta.sh - META.json (PGXN) is valid and make dist's
# archive carries it.
#
# test/dist/check_meta.py checks META.json against the PGXN meta spec 1.0.0
# (required and typed fields, versions equal to the control files') and a
# zip of the last commit made as "make dist" makes it, which pgxnclient
# must read back.  Needs no server; about a second.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
version=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" allocation.control)
zip=$tmp/allocation-$version.zip
if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	git archive --format=zip --prefix="allocation-$version/" -o "$zip" HEAD
	"$py" test/dist/check_meta.py META.json "$zip"
else
	"$py" test/dist/check_meta.py META.json
fi
