#!/usr/bin/env bash
# router/test/cost.sh - what a routed call costs the router, counted, not
# timed (scripts/extra-tests/router.sh runs it on its cluster).
#
#   cost.sh ROUTER_DB KEY PARTITION OUT_DIR
#
# Over every PL/Proxy function of the router and every function of schema
# allocation that forwards to one (generated from pg_proc, with the
# arguments router/test/gen_calls.sql makes), called as a superuser:
#
#   parses: once the session is warm, a call parses nothing but its own
#       statement (log_parser_stats counts every parse of a top-level
#       statement or of a SQL function's body; PL/pgSQL keeps its plans).
#       A SQL-language function on the way of a routed call is parsed
#       and planned again by every call;
#   gates: a PL/Proxy function runs the gates' machinery
#       (allocation_router.lock_partitions) once per call: its CLUSTER
#       clause; the RUN ON hash takes none again;
#   connections: the node backends serving the session are the same
#       after 20 more calls of each (no connection per call).
#
# Prints one line a check; exits 1 on the first failure.
# allocate_many and allocate_many_on are left out of "parses": their
# RUN ON hash line_hash is still a SQL function (one parse a line).
set -euo pipefail
DB=$1 KEY=$2 PART=$3 OUT=$4
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PSQL=("$PG_BINDIR/psql" -X -q -At)
fail() { printf 'cost: FAILED: %s\n' "$*" >&2; exit 1; }

# the calls: "\echo CALL <regprocedure>" + its statement, for every function
"${PSQL[@]}" -v ON_ERROR_STOP=1 -d "$DB" -v key="$KEY" -v part="$PART" -f "$HERE/gen_calls.sql" > "$OUT/cost-all.sql"
# in scope: PL/Proxy functions and the functions of schema allocation that
# call one
"${PSQL[@]}" -v ON_ERROR_STOP=1 -d "$DB" > "$OUT/cost-scope" <<'SQL'
SELECT f.oid::pg_catalog.regprocedure || '|' || (l.lanname = 'plproxy')
  FROM pg_catalog.pg_proc f
  JOIN pg_catalog.pg_language l ON l.oid = f.prolang
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = f.oid AND d.deptype = 'e'
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation_router'
 WHERE l.lanname = 'plproxy'
    OR (f.pronamespace = 'allocation'::pg_catalog.regnamespace
        AND EXISTS (SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language pl ON pl.oid = p.prolang
                     WHERE pl.lanname = 'plproxy'
                       AND f.prosrc ~ ('allocation_router\.' || p.proname || '\(')))
 ORDER BY 1
SQL
[ "$(wc -l < "$OUT/cost-scope")" -ge 20 ] || fail "only $(wc -l < "$OUT/cost-scope") routed functions found"

# stmt NAME: the statement gen_calls.sql made for function NAME
stmt() { awk -v n="\\echo CALL $1" '$0 == n { getline; print; exit }' "$OUT/cost-all.sql"; }

parse_script=$OUT/cost-parse.sql gate_script=$OUT/cost-gate.sql
printf '%s\n' "SET client_min_messages = log;" > "$parse_script"
printf '%s\n' "SET track_functions = 'all';" "\\set ON_ERROR_ROLLBACK on" "BEGIN;" > "$gate_script"
n=0
while IFS='|' read -r fn plproxy; do
	s=$(stmt "$fn")
	[ -n "$s" ] || fail "gen_calls.sql made no call of $fn"
	n=$((n + 1))
	case $fn in
		allocation.allocate_many\(*|allocation_router.allocate_many*) ;;
		*)
			# two calls to warm the session up, then the one counted
			printf '%s\n' "SET log_parser_stats = off;" "$s" "$s" "SET log_parser_stats = on;" \
				"\\warn COST-BEGIN $fn" "$s" "\\warn COST-END" >> "$parse_script" ;;
	esac
	if [ "$plproxy" = true ]; then
		printf '%s\n' "$s" \
			"SELECT COALESCE(pg_catalog.pg_stat_get_xact_function_calls('allocation_router.lock_partitions(integer[],boolean)'::pg_catalog.regprocedure), 0) AS before \\gset" \
			"$s" \
			"SELECT pg_catalog.format('GATES %s %s', '$fn', COALESCE(pg_catalog.pg_stat_get_xact_function_calls('allocation_router.lock_partitions(integer[],boolean)'::pg_catalog.regprocedure), 0) - :before);" \
			>> "$gate_script"
	fi
done < "$OUT/cost-scope"
echo "COMMIT;" >> "$gate_script"

# parses
"${PSQL[@]}" -d "$DB" -f "$parse_script" > "$OUT/cost-parse.out" 2>&1 || true
awk '/^COST-BEGIN /{ fn = $2; n = 0; on = 1; next }
     /^COST-END/{ print fn, n; on = 0; next }
     on && /PARSER STATISTICS/ { n++ }' "$OUT/cost-parse.out" > "$OUT/cost-parses"
checked=$(wc -l < "$OUT/cost-parses")
[ "$checked" -ge 15 ] || { tail -n 20 "$OUT/cost-parse.out" >&2; fail "parses: only $checked calls counted"; }
bad=$(awk '$2 != 1' "$OUT/cost-parses")
[ -z "$bad" ] || fail "parses per call once warm (expected 1, the call's own statement): $(tr '\n' ';' <<< "$bad")"
echo "parses: $checked routed functions, each call parses its own statement only"

# gates
"${PSQL[@]}" -d "$DB" -f "$gate_script" > "$OUT/cost-gate.out" 2>&1 || true
grep '^GATES ' "$OUT/cost-gate.out" | cut -d' ' -f2- > "$OUT/cost-gates" || true
checked=$(wc -l < "$OUT/cost-gates")
[ "$checked" -ge 15 ] || { tail -n 20 "$OUT/cost-gate.out" >&2; fail "gates: only $checked calls counted"; }
bad=$(awk '$2 != 1' "$OUT/cost-gates")
[ -z "$bad" ] || fail "gates per PL/Proxy call (expected 1, its CLUSTER clause): $(tr '\n' ';' <<< "$bad")"
echo "gates: $checked PL/Proxy functions, each call runs the gates once"

# connections: the node backends of one router session stay the same
conn_q="SELECT 'NODES ' || COALESCE(pg_catalog.string_agg(a.pid || '@' || a.backend_start, ',' ORDER BY a.pid), '') FROM pg_catalog.pg_stat_activity a WHERE a.backend_type = 'client backend' AND a.datname <> pg_catalog.current_database() AND a.datname <> 'postgres';"
# (a call that fails on a node closes that node's connection: the next
# call opens a new one, so only the calls that succeed here are repeated)
: > "$OUT/cost-ok.sql"
while IFS= read -r s; do
	if "${PSQL[@]}" -v ON_ERROR_STOP=1 -d "$DB" -c "SET client_min_messages = error" -c "$s" >/dev/null 2>&1; then
		printf '%s\n' "$s" >> "$OUT/cost-ok.sql"
	fi
done < <(grep -v '^\\echo' "$OUT/cost-all.sql")
[ "$(wc -l < "$OUT/cost-ok.sql")" -ge 15 ] || fail "connections: only $(wc -l < "$OUT/cost-ok.sql") calls succeed"
{
	echo "SET client_min_messages = error;"
	cat "$OUT/cost-ok.sql"
	echo "$conn_q"
	for _ in 1 2 3; do cat "$OUT/cost-ok.sql"; done
	echo "$conn_q"
} > "$OUT/cost-conn.sql"
"${PSQL[@]}" -d "$DB" -f "$OUT/cost-conn.sql" 2>/dev/null | grep '^NODES ' > "$OUT/cost-conns" || true
[ "$(wc -l < "$OUT/cost-conns")" = 2 ] || fail "connections: no node backends listed"
first=$(sed -n 1p "$OUT/cost-conns") last=$(sed -n 2p "$OUT/cost-conns")
[ "$first" != "NODES " ] || fail "connections: the router session has no node backends"
[ "$first" = "$last" ] || fail "connections: the node backends changed over 3 more rounds of calls: $first -> $last"
echo "connections: $(tr ',' '\n' <<< "${first#NODES }" | wc -l) node backends, the same after 3 more rounds of every call"
echo "scope: $n functions"
