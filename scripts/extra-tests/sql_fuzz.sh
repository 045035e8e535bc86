#!/usr/bin/env bash
# scripts/extra-tests/sql_fuzz.sh - SQL-level fuzz pass over the extension.
#
# In a fresh database with the extension, test/fuzz/sql_fuzz.sql calls every
# function of schema allocation (listed from pg_proc, so new functions are
# covered) a few thousand times, as the superuser, as members of
# allocation_admin and allocation_user and as a role that is a member of
# neither, with random arguments: strings (empty, blank, control and
# invisible characters, random Unicode, very long, a NUL), NULLs, huge and
# negative numbers, odd dates, messages for handle() with missing, NULL and
# ill-typed fields and text that is not JSON, random functions for
# subscribe(), random arrays for allocate_many().  Each call runs in its own
# subtransaction; its SQLSTATE is recorded.
#
# What may appear (the suite fails on anything else):
#   - in the "call" phase, once the arguments are values, only the SQLSTATEs
#     of the contract's SQL interface: ZA001-ZA005, 22004, 22023, 23505, 40001, 42501
#     (42501 also comes from PostgreSQL itself when a role may not use the
#     schema or execute the function: that is the contract's meaning too);
#   - in the "input" phase, which evaluates the argument expressions alone
#     before the call, the codes PostgreSQL raises while parsing a literal
#     of the parameter's type, before any of our code runs: INPUT_CODES
#     below (a bad integer, date, JSON or UUID, a value out of range, a NUL
#     in text, a function name or type that does not exist for a
#     regprocedure).  These are not ours to choose: a caller who writes
#     '2024-02-30'::date meets them in any database.
# Then the server log must show no crash ("terminated by signal",
# "terminated abnormally", PANIC, TRAP) and allocation.check_invariants()
# must return no row.
#
# Environment: the cluster's PGHOST, PGPORT, PGUSER, ALLOC_PGLOG (as "make
# test" exports them), PG_BINDIR or PG_CONFIG; SQL_FUZZ_SECONDS (20),
# SQL_FUZZ_CALLS (20000), SQL_FUZZ_SEED (a number in [-1, 1]; random when
# unset, printed so that a failing run can be repeated),
# SQL_FUZZ_CALL_CODES to override the allowed call-phase codes (for proving
# that the suite can fail: give it a narrower set).
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT"

NAME=sql_fuzz
step() { printf '%s: %s\n' "$NAME" "$*"; }
fail() { printf '%s: FAILED: %s\n' "$NAME" "$*" >&2; exit 1; }

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}" --bindir)
fi
export PGUSER=${PGUSER:-postgres}
PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1)

SECONDS_BUDGET=${SQL_FUZZ_SECONDS:-20}
CALLS=${SQL_FUZZ_CALLS:-20000}
SEED=${SQL_FUZZ_SEED:-0.$RANDOM$RANDOM}
DB=allocation_sql_fuzz
ROLES=(allocation_fuzz_admin allocation_fuzz_user allocation_fuzz_nobody)

# The SQLSTATEs of our error table: what our functions may raise.
# (42883: unsubscribe(event_type, handler text) of a name that names no
# function and no subscription)
CALL_CODES=${SQL_FUZZ_CALL_CODES:-ZA001 ZA002 ZA003 ZA004 ZA005 22004 22023 23505 40001 42501 42883}
# PostgreSQL's own input parsing of the argument literals (see above):
#   22P02 invalid_text_representation   integer, uuid, boolean, JSON, arrays
#   22003 numeric_value_out_of_range    integer/bigint literals too large
#   22007 invalid_datetime_format       'garbage'::date
#   22008 datetime_field_overflow       '2024-02-30'::date, past the range
#   22P05 untranslatable_character      "\u0000" in jsonb
#   54000 program_limit_exceeded        chr(0) in text
#   54001 statement_too_complex         JSON nested too deep
#   42883 undefined_function            'nosuch(jsonb)'::regprocedure
#   42704 undefined_object              a regprocedure naming a missing type
#   3F000 invalid_schema_name           'nosuchschema.f(jsonb)'::regprocedure
#   42601 syntax_error                  ''::regprocedure
#   22023 invalid_parameter_value       a few input functions use it
INPUT_CODES="22P02 22003 22007 22008 22P05 54000 54001 42883 42704 3F000 42601 22023"

q() { "${PSQL[@]}" -At -d "$DB" "$@"; }
admin() { "${PSQL[@]}" -d postgres -c 'SET client_min_messages = warning' "$@"; }

log_offset() {
	if [ -n "${ALLOC_PGLOG:-}" ] && [ -r "$ALLOC_PGLOG" ]; then stat -c %s "$ALLOC_PGLOG"; else echo 0; fi
}

OUT=$(mktemp)
cleanup() {
	rm -f "$OUT"
	admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	for r in "${ROLES[@]}"; do
		admin -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT

# --- a fresh database and the roles ---------------------------------------------

cleanup
admin -c "CREATE DATABASE $DB" >/dev/null
q -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION allocation' >/dev/null
admin -c "CREATE ROLE allocation_fuzz_admin IN ROLE allocation_admin" \
	-c "CREATE ROLE allocation_fuzz_user IN ROLE allocation_user" \
	-c "CREATE ROLE allocation_fuzz_nobody" >/dev/null

nfns=$(q -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'allocation'::regnamespace")
step "seed $SEED: up to $CALLS calls in ${SECONDS_BUDGET}s over the $nfns functions of schema allocation"

log_at_start=$(log_offset)
SECONDS=0
rc=0
timeout $((SECONDS_BUDGET + 180)) "${PSQL[@]}" -d "$DB" \
	-c "SET fuzz.seed = '$SEED'" -c "SET fuzz.calls = '$CALLS'" \
	-c "SET fuzz.seconds = '$SECONDS_BUDGET'" \
	-f test/fuzz/sql_fuzz.sql > "$OUT" 2>&1 || rc=$?
elapsed=$SECONDS
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$OUT" >&2
	[ "$rc" -ne 124 ] || fail "the fuzz pass did not finish in $((SECONDS_BUDGET + 180))s (seed $SEED)"
	fail "the fuzz pass stopped with psql exit status $rc (seed $SEED): a crash or a broken generator"
fi

# --- what happened ----------------------------------------------------------------

in_list() { printf "'%s'," $1 | sed 's/,$//'; }
ALLOWED="(phase = 'call' AND sqlstate IN ($(in_list "$CALL_CODES")))
	OR (phase = 'input' AND sqlstate IN ($(in_list "$INPUT_CODES")))"

step "$(q -c "SELECT format('%s calls in ${elapsed}s: %s succeeded, %s refused by PostgreSQL''s input parsing, %s raised an error in the call',
	count(*), count(*) FILTER (WHERE sqlstate IS NULL),
	count(*) FILTER (WHERE phase = 'input'),
	count(*) FILTER (WHERE phase = 'call' AND sqlstate IS NOT NULL)) FROM fuzz.calls")"
step "SQLSTATEs seen (phase code count):"
q -F ' ' -c "SELECT phase, coalesce(sqlstate, 'ok'), count(*) FROM fuzz.calls
	GROUP BY 1, 2 ORDER BY 1, 3 DESC" | sed "s/^/$NAME:   /"
step "per function (calls, ok, call errors, input errors):"
q -F ' ' -c "SELECT f.fn, count(c.id), count(c.id) FILTER (WHERE c.sqlstate IS NULL),
		count(c.id) FILTER (WHERE c.phase = 'call' AND c.sqlstate IS NOT NULL),
		count(c.id) FILTER (WHERE c.phase = 'input')
	FROM fuzz.functions f LEFT JOIN fuzz.calls c ON c.fn = f.fn
	GROUP BY f.fn ORDER BY f.fn::text" | sed "s/^/$NAME:   /"

problems=()

bad=$(q -F ' | ' -c "SELECT fn, role, phase, sqlstate, message, call FROM (
		SELECT *, row_number() OVER (PARTITION BY fn, phase, sqlstate ORDER BY length(call), id) AS n
		  FROM fuzz.calls WHERE sqlstate IS NOT NULL AND NOT ($ALLOWED)) x
	WHERE n = 1 ORDER BY id")
if [ -n "$bad" ]; then
	nbad=$(q -c "SELECT count(*) FROM fuzz.calls WHERE sqlstate IS NOT NULL AND NOT ($ALLOWED)")
	printf '%s\n' "$bad" | head -n 40 | sed "s/^/$NAME:   unexpected: /" >&2
	problems+=("$nbad call(s) raised a SQLSTATE outside the allowed sets (the shortest call of each function and code above)")
fi

never=$(q -c "SELECT string_agg(f.fn::text, ', ') FROM fuzz.functions f
	WHERE NOT EXISTS (SELECT FROM fuzz.calls c WHERE c.fn = f.fn AND c.phase = 'call')")
[ -z "$never" ] || problems+=("never called with valid arguments: $never")

uncovered=$(q -c "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
	WHERE p.pronamespace = 'allocation'::regnamespace
	  AND NOT EXISTS (SELECT FROM fuzz.functions f WHERE f.fn = p.oid)")
[ -z "$uncovered" ] || step "not callable from SQL, left out: $uncovered"

# --- the server and the invariants afterwards -------------------------------------

if ! "${PSQL[@]}" -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
	problems+=("the server does not answer after the fuzz pass")
elif [ -n "${ALLOC_PGLOG:-}" ] && [ -r "$ALLOC_PGLOG" ]; then
	crashes=$(tail -c +"$((log_at_start + 1))" "$ALLOC_PGLOG" |
		grep -E 'terminated by signal|terminated abnormally|was terminated|PANIC|TRAP:' || true)
	if [ -n "$crashes" ]; then
		printf '%s\n' "$crashes" | head -n 20 >&2
		problems+=("the server log shows a crash")
	fi
else
	step "no readable server log (ALLOC_PGLOG): crash check skipped"
fi

violations=$(q -F ' | ' -c 'SELECT * FROM allocation.check_invariants()' 2>&1) ||
	problems+=("check_invariants() failed: $violations")
if [ -n "$violations" ]; then
	printf '%s\n' "$violations" | head -n 30 | sed "s/^/$NAME:   violation: /" >&2
	problems+=("check_invariants() reports $(printf '%s\n' "$violations" | wc -l) violation(s)")
fi

if [ "${#problems[@]}" -ne 0 ]; then
	for p in "${problems[@]}"; do printf '%s: FAILED: %s\n' "$NAME" "$p" >&2; done
	fail "repeat with SQL_FUZZ_SEED=$SEED SQL_FUZZ_CALLS=$CALLS bash $0"
fi
step "ok: only the contract's SQLSTATEs, no crash, check_invariants() empty (seed $SEED)"
