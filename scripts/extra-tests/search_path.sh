#!/usr/bin/env bash
# scripts/extra-tests/search_path.sh - no function, aggregate, operator or
# type of a hostile schema on the caller's search_path ever runs inside
# our functions: the class test of that rule (test/search_path/).
#
#   1. The names: every word and operator token of our SQL (the string
#      literals of src/**/*.c, src/sql/**/*.sql, router/sql/*.sql), kept
#      when pg_catalog has a function, aggregate, operator or type of
#      that name (test/search_path/corpus.pl, plant.sql).
#   2. The trap: an unprivileged role, sp_mallory, owns schema sp_evil and
#      plants there a shadow of each (same signatures, "better-matching"
#      signatures over common types that win even behind pg_catalog, and
#      domains over the types), all executable by PUBLIC, each counting
#      itself in the sequence sp_evil.hits and saying who ran it.  Checked
#      first: the trap catches a query of its own in each search_path.
#   3. The calls: every SQL-callable function and view of the extension
#      (test/search_path/calls.tsv; the test fails while one in the
#      catalog has no call there), each in a new backend (kept plans and
#      caches are per backend) and a transaction rolled back, as a
#      superuser, a member of allocation_admin and one of allocation_user,
#      with search_path
#         (i)   sp_evil, pg_catalog
#         (ii)  sp_evil                      (pg_catalog implicit, first)
#         (iii) pg_catalog, "$user", sp_evil (like a writable public)
#      in four databases: "created" (CREATE EXTENSION; the data of
#      fixture.sql; the outbox clock empty, as CREATE EXTENSION leaves it),
#      "updated" (CREATE EXTENSION VERSION '0.1.0', ALTER EXTENSION
#      UPDATE, the same data, the clock as the update leaves it),
#      "restored" (pg_dump/pg_restore of "steady" into a new database,
#      its clock from another cluster) and "steady" (the clock set).
#      Then, per role and search_path, one backend that makes every call
#      with a harmless search_path, sees the tables ANALYZEd (an
#      invalidation of every plan) and makes them again under the hostile
#      one.
#   4. The router (when PL/Proxy and allocation_router are installed): a
#      router database with the trap, over two nodes; every function and
#      view of schemas allocation and allocation_router
#      (test/search_path/router_calls.tsv), per role and search_path.
#
# Passes when sp_evil.hits was never called in any database and every
# call ended as it should (a superuser's call succeeds, another role's
# succeeds or is refused with 42501).  Otherwise it prints which shadows
# ran, with the statement that named them, in which call, state, role and
# search_path (test/search_path/report.pl); the psql logs it read stay in
# log/search_path/.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER (a superuser), as
# "make test" exports them; PG_BINDIR or PG_CONFIG.
# SEARCH_PATH_TEST_ROUTER=no skips step 4.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# shellcheck source=test/stress/lib.bash
. "$ROOT/test/stress/lib.bash"
SP=$ROOT/test/search_path
SUPER=$PGUSER
started=$(date +%s)
WORK=$(mktemp -d)
EVENT= NODES_SQL= EVPART= P1=

TEMPLATE=sp_template
STATES=(created updated restored steady)
ROUTER_DB=sp_router
RT_NODES=(sp_rt_node1 sp_rt_node2)
ROLES=(sp_admin sp_user sp_mallory)

declare -A PATHS=(
	[i]='sp_evil, pg_catalog'
	[ii]='sp_evil'
	[iii]='pg_catalog, "$user", sp_evil'
)
PATH_NAMES=(i ii iii)
declare -A ROLE_OF=([superuser]=$SUPER [admin]=sp_admin [user]=sp_user)
ROLE_NAMES=(superuser admin user)

say_step() { printf 'search_path: [%3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

all_dbs() { printf '%s\n' "${STATES[@]/#/sp_}" "$ROUTER_DB" "${RT_NODES[@]}" "$TEMPLATE"; }

# drop_all: the databases and roles of this test, in one session
drop_all() {
	local db r
	{
		echo 'SET client_min_messages = warning;'
		for db in $(all_dbs); do
			echo "DROP DATABASE IF EXISTS $db WITH (FORCE);"
		done
		for r in "${ROLES[@]}"; do
			echo "DROP ROLE IF EXISTS $r;"
		done
	} | "$PG_BINDIR/psql" -X -q -d postgres >/dev/null
}
cleanup() {
	drop_all 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. the names our SQL uses --------------------------------------------------

mapfile -t sources < <(cd "$ROOT" && ls src/*/*.c src/sql/*.sql src/sql/*/*.sql router/sql/*.sql 2>/dev/null)
perl "$SP/corpus.pl" "${sources[@]/#/$ROOT/}" > "$WORK/corpus.txt"
grep -oE '[A-Za-z_][A-Za-z0-9_]*' "$WORK/corpus.txt" | tr 'A-Z' 'a-z' | sort -u > "$WORK/words.txt"
# operator tokens, with their prefixes and characters: "=-1" is "=" and "-1"
grep -oE '[-+*/<>=~!@#%^&|`?]+' "$WORK/corpus.txt" |
	perl -ne 'chomp; my $t = $_; my %s; $s{substr($t, 0, $_)} = 1 for 1 .. length $t; $s{$_} = 1 for split //, $t; print "$_\n" for keys %s' |
	sort -u > "$WORK/ops.txt"
# implied by keywords: IN, BETWEEN, LIKE, DISTINCT FROM, CASE ... WHEN
printf '%s\n' '=' '<>' '<' '>' '<=' '>=' '~~' '!~~' >> "$WORK/ops.txt"

# --- 2. the trap -----------------------------------------------------------------

drop_all
# the extension's roles, as CREATE EXTENSION would make them (it reuses them)
"${PSQL[@]}" -d postgres >/dev/null <<'EOF'
SET client_min_messages = warning;
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_user') THEN
		CREATE ROLE allocation_user NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_admin') THEN
		CREATE ROLE allocation_admin NOLOGIN IN ROLE allocation_user;
	END IF;
END $$;
CREATE ROLE sp_mallory NOLOGIN;
CREATE ROLE sp_admin LOGIN IN ROLE allocation_admin;
CREATE ROLE sp_user LOGIN IN ROLE allocation_user;
EOF
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $TEMPLATE" >/dev/null
q "$TEMPLATE" >/dev/null <<EOF
CREATE SCHEMA sp_evil AUTHORIZATION sp_mallory;
SET ROLE sp_mallory;
CREATE TABLE sp_evil.words (w text);
CREATE TABLE sp_evil.ops (op text);
\copy sp_evil.words from '$WORK/words.txt'
\copy sp_evil.ops from '$WORK/ops.txt'
RESET ROLE;
\i $SP/harness.sql
\i $SP/plant.sql
EOF
say_step "trap: $(q "$TEMPLATE" -c "SELECT string_agg(format('%s %s', n, kind), ', ' ORDER BY kind)
	FROM (SELECT kind, count(*) n FROM sp_evil.planted WHERE created GROUP BY kind) x") shadows of $(wc -l < "$WORK/words.txt") words and $(wc -l < "$WORK/ops.txt") operator tokens"
q "$TEMPLATE" -F ' ' -c "SELECT 'not planted:', kind, signature, '-', error FROM sp_evil.planted WHERE NOT created ORDER BY 2, 3" |
	sed 's/^/search_path:   /'

# hits DB: how many times a shadow ran in DB
hits() { q "$1" -c "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM sp_evil.hits"; }

# The trap works: a query of our own is caught in each search_path (a
# same-signature shadow in (i), better-matching ones behind pg_catalog),
# and a harmless one is not.
control() {
	local path=$1 sql=$2 want=$3 before after
	before=$(hits "$TEMPLATE")
	q "$TEMPLATE" -c "SET search_path = ${PATHS[$path]}" -c "$sql" >/dev/null 2>&1 || true
	after=$(hits "$TEMPLATE")
	if [ "$want" = caught ] && [ "$after" -le "$before" ]; then
		fail "the trap does not work: ($path) $sql ran no shadow"
	elif [ "$want" = free ] && [ "$after" -ne "$before" ]; then
		fail "the trap is broken: ($path) $sql ran a shadow"
	fi
}
for p in "${PATH_NAMES[@]}"; do
	control "$p" "SELECT 1, current_user, 'x'" free
	control "$p" "SELECT 1::pg_catalog.int8 & 1::pg_catalog.int4" caught
	control "$p" "SELECT max(v) FROM (VALUES ('x'::pg_catalog.varchar)) t(v)" caught
	control "$p" "SELECT unnest(ARRAY['x'::pg_catalog.text])" caught
done
control i "SELECT 'a'::pg_catalog.text = 'a'::pg_catalog.text" caught
control i "SELECT max(v) FROM (VALUES (1::pg_catalog.int8)) t(v)" caught
control i "SELECT 'x'::text" caught
q "$TEMPLATE" -c "SELECT pg_catalog.setval('sp_evil.hits', 1, false)" >/dev/null
say_step "trap: catches a query of its own in each search_path, and only such"

# --- 3. the extension's databases --------------------------------------------------

new_db() { "${PSQL[@]}" -d postgres -c "CREATE DATABASE $1 TEMPLATE $TEMPLATE" >/dev/null; }
fixture() { q "$1" -f "$SP/fixture.sql" >/dev/null; }

new_db sp_created
q sp_created -c 'CREATE EXTENSION allocation'
fixture sp_created
q sp_created -c 'DELETE FROM allocation.outbox_clock' >/dev/null

new_db sp_updated
q sp_updated -c "CREATE EXTENSION allocation VERSION '0.1.0'" -c 'ALTER EXTENSION allocation UPDATE'
fixture sp_updated
q sp_updated -c 'DELETE FROM allocation.outbox_clock' >/dev/null

new_db sp_steady
q sp_steady -c 'CREATE EXTENSION allocation'
fixture sp_steady

new_db sp_restored
"$PG_BINDIR/pg_dump" -Fc -N sp_evil -N sp_harness -d sp_steady -f "$WORK/steady.dump"
"$PG_BINDIR/pg_restore" --exit-on-error -d sp_restored "$WORK/steady.dump"
# as if restored into another cluster: its clock is not this cluster's
q sp_restored -c 'UPDATE allocation.outbox_clock SET system_identifier = system_identifier + 1' >/dev/null

for s in "${STATES[@]}"; do
	[ "$(q "sp_$s" -c "SELECT count(*) FROM allocation.product_state WHERE sku LIKE 'SP-%'")" = 2 ] ||
		fail "database sp_$s has not the fixture's data"
done
say_step "databases: ${STATES[*]}"

# calls FILE: the lines of a calls file, comments and blank lines left out
calls() { grep -vE '^(#|[[:space:]]*$)' "$1"; }

# covered DB FILE SCHEMAS...: every function and view of SCHEMAS in DB has
# a line in FILE, and every line names functions that exist
covered() {
	local db=$1 file=$2 missing extra
	shift 2
	local schemas
	schemas=$(printf "'%s'," "$@")
	calls "$file" | cut -f1 | sed 's/ ; /\n/g' | sort -u > "$WORK/listed.txt"
	q "$db" -c "SELECT p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace::regnamespace::text IN (${schemas%,})
		UNION ALL
		SELECT 'view ' || c.oid::regclass::text FROM pg_class c
		WHERE c.relnamespace::regnamespace::text IN (${schemas%,}) AND c.relkind IN ('v', 'm')" |
		sort -u > "$WORK/catalog.txt"
	missing=$(comm -23 "$WORK/catalog.txt" "$WORK/listed.txt")
	extra=$(comm -13 "$WORK/catalog.txt" "$WORK/listed.txt")
	[ -z "$missing" ] || fail "$db: no call in ${file#"$ROOT"/} of: $(echo $missing)"
	[ -z "$extra" ] || fail "$db: ${file#"$ROOT"/} calls what does not exist: $(echo $extra)"
}
for s in "${STATES[@]}"; do
	covered "sp_$s" "$SP/calls.tsv" allocation
done
say_step "coverage: $(calls "$SP/calls.tsv" | wc -l) calls cover all $(wc -l < "$WORK/catalog.txt") functions and views of the schema, in each database"

# script DB STATE ROLE PATH [fresh]: psql commands that make every call of
# calls.tsv in DB as ROLE with search_path PATH, each in a new backend
# ("fresh") or all in one
call_script() {
	local db=$1 state=$2 role=$3 path=$4 mode=${5:-one} file=${6:-$SP/calls.tsv}
	local fns sql setpath marker
	if [ "$path" = clean ]; then
		setpath='SET search_path TO DEFAULT;'
	else
		setpath="SET search_path = ${PATHS[$path]};"
	fi
	[ "$mode" = fresh ] || printf '\\c %s %s\n%s\n' "$db" "${ROLE_OF[$role]}" "$setpath"
	while IFS=$'\t' read -r fns sql; do
		sql=${sql//@EVENT@/$EVENT}
		sql=${sql//@NODES@/$NODES_SQL}
		sql=${sql//@EVPART@/${EVPART:-}}
		sql=${sql//@P1@/${P1:-}}
		sql=${sql//@U@/$state$role$path}
		[ "$mode" != fresh ] || printf '\\c %s %s\n%s\n' "$db" "${ROLE_OF[$role]}" "$setpath"
		# quoted for psql: a meta-command's argument loses its quotes
		marker="@@call $state|$role|$path|$fns|$sql"
		printf "\\warn '%s'\n" "${marker//\'/\'\'}"
		case $sql in
			CALL*) printf '%s;\n' "$sql" ;;		# a procedure that commits
			*) printf 'BEGIN;\n%s;\n' "$sql" ;;
		esac
		printf '\\warn @@end :SQLSTATE\nROLLBACK;\n'
	done < <(calls "$file")
}

# run_psql LOG < SCRIPT: run a call script; its messages go to LOG
run_psql() {
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -v SHOW_CONTEXT=always \
		-d postgres >/dev/null 2>>"$1" || true
}

for s in "${STATES[@]}"; do
	EVENT=$(q "sp_$s" -c "SELECT id FROM allocation.outbox ORDER BY commit_key, position LIMIT 1")
	for r in "${ROLE_NAMES[@]}"; do
		for p in "${PATH_NAMES[@]}"; do
			# allocation_user is refused most calls before they do
			# anything: its calls share a backend (the first one that
			# records an event meets the empty clock)
			call_script "sp_$s" "$s" "$r" "$p" "$([ "$r" = user ] && echo one || echo fresh)"
		done
	done > "$WORK/calls-$s.psql"
	run_psql "$WORK/calls-$s.log" < "$WORK/calls-$s.psql" &
done
wait
say_step "calls: ${#STATES[@]} databases x ${#ROLE_NAMES[@]} roles x ${#PATH_NAMES[@]} search_paths, each call in a new backend (allocation_user's in one per database and search_path)"

# plans made under a harmless search_path, invalidated, then used under
# the hostile one
EVENT=$(q sp_steady -c "SELECT id FROM allocation.outbox ORDER BY commit_key, position LIMIT 1")
tables=$(q sp_steady -c "SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c
	WHERE c.relnamespace = 'allocation'::regnamespace AND c.relkind = 'r'")
for r in "${ROLE_NAMES[@]}"; do
	for p in "${PATH_NAMES[@]}"; do
		call_script sp_steady steady-invalidated "$r" clean
		printf '\\! %q -X -q -d sp_steady -c %q\n' "$PG_BINDIR/psql" "ANALYZE $tables"
		printf '%s\n' "SET search_path = ${PATHS[$p]};"
		call_script sp_steady steady-invalidated "$r" "$p" | tail -n +3
	done
done > "$WORK/invalidated.psql"
run_psql "$WORK/calls-invalidated.log" < "$WORK/invalidated.psql"
say_step "calls: plans made under a harmless search_path, invalidated by ANALYZE, used under the hostile one"

# --- 4. the router ---------------------------------------------------------------

router=no
if [ "${SEARCH_PATH_TEST_ROUTER:-yes}" = no ]; then
	say_step "router: skipped (SEARCH_PATH_TEST_ROUTER=no)"
elif [ "$(q postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name IN ('plproxy', 'allocation_router')")" != 2 ]; then
	say_step "router: skipped (plproxy or allocation_router is not installed)"
else
	router=yes
	conn() { printf '%sport=%s dbname=%s' "${PGHOST:+host=$PGHOST }" "${PGPORT:-5432}" "$1"; }
	for db in "${RT_NODES[@]}"; do
		"${PSQL[@]}" -d postgres -c "CREATE DATABASE $db" >/dev/null
		q "$db" -c 'CREATE EXTENSION allocation' -f "$SP/harness.sql" >/dev/null
	done
	new_db "$ROUTER_DB"
	NODES_SQL="'$(conn "${RT_NODES[0]}")', '$(conn "${RT_NODES[1]}")'"
	q "$ROUTER_DB" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation_router CASCADE' \
		-c "SELECT allocation.define_cluster(ARRAY[$NODES_SQL], 4)" >/dev/null
	q "$ROUTER_DB" -f "$SP/router_fixture.sql" >/dev/null
	covered "$ROUTER_DB" "$SP/router_calls.tsv" allocation allocation_router
	EVENT=$(q "$ROUTER_DB" -c "SELECT id FROM allocation.outbox ORDER BY occurred_at LIMIT 1")
	EVPART=$(q "$ROUTER_DB" -c "SELECT allocation.partition_of(aggregateid) FROM allocation.outbox WHERE id = '$EVENT'")
	P1=$(q "$ROUTER_DB" -c "SELECT quote_literal(connstr) FROM allocation.cluster_partitions() WHERE partition = 1")
	for r in "${ROLE_NAMES[@]}"; do
		for p in "${PATH_NAMES[@]}"; do
			call_script "$ROUTER_DB" router "$r" "$p" one "$SP/router_calls.tsv"
		done
	done > "$WORK/router.psql"
	run_psql "$WORK/calls-router.log" < "$WORK/router.psql"
	say_step "router: $(calls "$SP/router_calls.tsv" | wc -l) calls cover all $(wc -l < "$WORK/catalog.txt") functions and views of schemas allocation and allocation_router; run per role and search_path"
fi

# --- the verdict ---------------------------------------------------------------------

total=0
for s in "${STATES[@]}"; do
	total=$(( total + $(hits "sp_$s") ))
done
[ "$router" = no ] || total=$(( total + $(hits "$ROUTER_DB") ))
# the psql logs stay for a look after the run (log/ is git-ignored)
rm -rf "$ROOT/log/search_path"
mkdir -p "$ROOT/log/search_path"
cp "$WORK"/calls-*.log "$ROOT/log/search_path/"
rc=0
perl "$SP/report.pl" "$WORK"/calls-*.log | sed 's/^/search_path: /' || rc=$?
say_step "sp_evil.hits: $total"
if [ "$total" -ne 0 ] || [ "$rc" -ne 0 ]; then
	fail "a shadow of the caller's search_path ran inside the extension, or a call did not end as it should (above)"
fi
say_step "done: no shadow ran"
