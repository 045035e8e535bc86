#!/usr/bin/env bash
# scripts/run.sh - "make run": try the extension in a throwaway cluster.
#
# deps -> build -> install -> start the cluster (kept from an earlier run if
# it is there) -> recreate database allocation_demo with the extension ->
# scripts/demo.sql.  The cluster keeps running; "make stop" removes it.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

DB=allocation_demo

bash scripts/deps.sh
resolve_pg_config
PG_BINDIR=$(pg_bindir) || die "PostgreSQL server binaries not found (PG_CONFIG=$PG_CONFIG)"

mk() { "$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" "$@"; }
mk -j"$(nproc 2>/dev/null || echo 2)" all
if [ "$(id -u)" -eq 0 ] ||
   { [ -w "$("$PG_CONFIG" --pkglibdir)" ] && [ -w "$("$PG_CONFIG" --sharedir)/extension" ]; }; then
	mk install
else
	sudo "$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" install
fi

bash scripts/cluster.sh start
eval "$(bash scripts/cluster.sh env)"

psql=("$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1)
# Start from an empty database each time, so the demo gives the same result
# however often it runs; WITH (FORCE) ends sessions left connected to it.
"${psql[@]}" -q -d postgres -c 'SET client_min_messages = warning' \
	-c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
	-c "CREATE DATABASE $DB"
"${psql[@]}" -q -d "$DB" -c 'CREATE EXTENSION IF NOT EXISTS allocation'
echo
"${psql[@]}" --echo-queries -d "$DB" -f scripts/demo.sql

cat <<EOF

The cluster is still running. Connect with:

  $PG_BINDIR/psql -h $(printf '%q' "$PGHOST") -p $PGPORT -U postgres -d $DB

or put its settings in your shell:  eval "\$(scripts/cluster.sh env)"
Stop and remove it with:  make stop
EOF
