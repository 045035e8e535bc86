#!/usr/bin/env bash
# scripts/extra-tests/fuzz.sh - hostile input for the C core and service layer.
#
#   1. the C unit tests (test/unit) under AddressSanitizer + UBSan, then
#      under valgrind;
#   2. the libFuzzer targets of test/fuzz, built with clang
#      -fsanitize=fuzzer,address,undefined, both at once (2 cores), each for
#      FUZZ_SECONDS, starting from the committed seeds test/fuzz/corpus/:
#        fuzz_commands  random command sequences through the service and
#                       the fakes of test/unit, checked after every step
#                       against a reference model of the contract's rules
#        fuzz_validate  identifier, order-id, e-mail and status checks on
#                       raw bytes against reference implementations
#   3. the seeds and what the run found replayed under valgrind (a plain
#      build of the targets, test/fuzz/standalone.c).
# Any crash, sanitizer report, invariant violation or valgrind error fails
# the suite; a finding is kept in the run's directory (artifacts/) with the
# command that replays it (the run's directory under test/fuzz/build is
# kept when it fails, removed when it passes).  The number of executions is
# printed.
#
#   bash scripts/extra-tests/fuzz.sh            the short run of "make test"
#                                                (FUZZ_SECONDS=10)
#   bash scripts/extra-tests/fuzz.sh --long     "make fuzz": FUZZ_SECONDS=600,
#                                                and the corpus it grows is
#                                                kept in test/fuzz/build/long
#   bash scripts/extra-tests/fuzz.sh --mutants  proves that the fuzzers catch
#                                                deliberately broken rules
#                                                (scratch copies of src/, see
#                                                MUTANTS below)
#   bash scripts/extra-tests/fuzz.sh --build    only build the targets
#
# Environment: FUZZ_SECONDS (per target), FUZZ_CC (default clang-14, else
# clang), FUZZ_BUILD (default test/fuzz/build), MUTANT_SECONDS (60), CC (the
# unit tests' compiler, as "make unit").  Needs no server: it runs as an
# extra suite of "make test" and on its own.
set -euo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT"

mode=short
case "${1:-}" in
	"") ;;
	--long) mode=long ;;
	--mutants) mode=mutants ;;
	--build) mode=build ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "usage: $0 [--long|--mutants|--build]" >&2; exit 2 ;;
esac

NAME=fuzz
step() { printf '%s: %s\n' "$NAME" "$*"; }
fail() { printf '%s: FAILED: %s\n' "$NAME" "$*" >&2; exit 1; }

if [ "$mode" = long ]; then
	SECONDS_PER_TARGET=${FUZZ_SECONDS:-600}
else
	SECONDS_PER_TARGET=${FUZZ_SECONDS:-10}
fi
MUTANT_SECONDS=${MUTANT_SECONDS:-60}
BUILD_TOP=${FUZZ_BUILD:-$ROOT/test/fuzz/build}
BUILD=$BUILD_TOP/long
TARGETS=(fuzz_commands fuzz_validate)

# --- the compiler ---------------------------------------------------------------

FUZZ_CC=${FUZZ_CC:-}
if [ -z "$FUZZ_CC" ]; then
	for c in clang-14 clang; do
		if command -v "$c" >/dev/null 2>&1; then FUZZ_CC=$c; break; fi
	done
fi
[ -n "$FUZZ_CC" ] || fail "no clang (run 'make deps': clang-14, libclang-rt-14-dev)"

SAN_FLAGS=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
WARN_FLAGS=(-std=c11 -Wall -Wextra -Werror -g)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# sources SRC_DIR TARGET: the C files of one target, from a tree SRC_DIR
# (the repository, or a mutant's scratch copy of src/)
sources() {
	local src=$1
	case $2 in
		fuzz_commands)
			printf '%s\n' test/fuzz/fuzz_commands.c test/fuzz/fuzz_ref.c \
				"$src"/core/*.c "$src"/service/*.c test/unit/fakes.c test/unit/tap.c ;;
		fuzz_validate)
			printf '%s\n' test/fuzz/fuzz_validate.c test/fuzz/fuzz_ref.c "$src"/core/*.c ;;
	esac
}

# build_target SRC_DIR TARGET OUT KIND: KIND fuzzer (libFuzzer + ASan +
# UBSan) or plain (standalone main, for valgrind)
build_target() {
	local src=$1 target=$2 out=$3 kind=$4 files
	mapfile -t files < <(sources "$src" "$target")
	if [ "$kind" = fuzzer ]; then
		"$FUZZ_CC" "${WARN_FLAGS[@]}" -O1 -fsanitize=fuzzer "${SAN_FLAGS[@]}" \
			-I"$src"/core -I"$src"/service -Itest/unit -Itest/fuzz \
			-o "$out" "${files[@]}"
	else
		# gcc and DWARF 4: valgrind 3.19 cannot read clang 14's DWARF 5
		"${CC:-cc}" "${WARN_FLAGS[@]}" -gdwarf-4 -O0 \
			-I"$src"/core -I"$src"/service -Itest/unit -Itest/fuzz \
			-o "$out" test/fuzz/standalone.c "${files[@]}"
	fi
}

# run_fuzzer BIN NAME SECONDS CORPUS_DIR LOG: one bounded libFuzzer run
run_fuzzer() {
	local bin=$1 name=$2 secs=$3 corpus=$4 log=$5 dict=()
	[ -f "test/fuzz/$name.dict" ] && dict=(-dict="test/fuzz/$name.dict")
	mkdir -p "$corpus" "$BUILD/artifacts"
	"$bin" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 \
		-timeout=20 -rss_limit_mb=4096 -artifact_prefix="$BUILD/artifacts/$name-" \
		"${dict[@]}" "$corpus" "test/fuzz/corpus/${name#fuzz_}" > "$log" 2>&1
}

stat_of() { sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1; }

# --- mutants: the fuzzers must catch a broken rule --------------------------------
#
# Each mutant is a scratch copy of src/ with one deliberate bug: file, sed
# expression, what it breaks and the target that must catch it, separated
# by '#'.  The fuzz targets are built from the copy and
# run from the seeds for at most MUTANT_SECONDS; the mutant counts as caught
# when the target fails.  Nothing in src/ is touched.
MUTANTS=(
	"core/product.c#s/return strcmp(a->ref, b->ref);/return strcmp(b->ref, a->ref);/#rule 2: ties by reference reversed#fuzz_commands"
	"core/product.c#s/return a->eta < b->eta ? -1 : 1;/return a->eta > b->eta ? -1 : 1;/#rule 2: latest eta first#fuzz_commands"
	"core/product.c#s/return a->has_eta ? 1 : -1;/return a->has_eta ? -1 : 1;/#rule 2: shipments before warehouse stock#fuzz_commands"
	"core/product.c#s/if (al_batch_available(b) < qty)/if (al_batch_available(b) < qty - 1)/#rule 1: oversell by one unit#fuzz_commands"
	"core/product.c#s/p->lines\[i\].seq > p->lines\[newest\].seq/p->lines[i].seq < p->lines[newest].seq/#rule 5: oldest line displaced first#fuzz_commands"
	"core/product.c#s/if (l->qty != qty)/if (false \&\& l->qty != qty)/#rule 4: a different quantity answered as idempotent#fuzz_commands"
	"core/product.c#s/while (al_batch_available(b) < 0)/while (al_batch_available(b) < -1)/#rule 5: a batch left oversold by one#fuzz_commands"
	"service/allocation_handlers.c#s/al_product_deallocate(&p, orderid, false, &r.batchref)/al_product_deallocate(\&p, orderid, true, \&r.batchref)/#rule 6: a requested deallocation reallocated#fuzz_commands"
	"service/handlers.c#s/if (!ev->reallocate)/if (ev->reallocate)/#rule 5: displaced lines not reallocated#fuzz_commands"
	"core/order.c#s/\[AL_ORDER_DELIVERED\] = true,/[AL_ORDER_DELIVERED] = true, [AL_ORDER_CANCELLED] = true,/#the contract's order tracking: shipped -> cancelled allowed#fuzz_commands"
	"core/al_core.c#s/(cp >= 0x7F && cp <= 0x9F)/(cp == 0x7F)/#the contract's SQL interface: C1 controls accepted in identifiers#fuzz_validate"
	"core/al_core.c#s/if (chars > AL_IDENTIFIER_MAX_CHARS)/if (chars > AL_IDENTIFIER_MAX_CHARS + 1)/#the contract's SQL interface: 256 characters accepted#fuzz_validate"
	"core/order.c#s/if (local_len == 0 || local_len > 64)/if (local_len == 0)/#the contract's order tracking: over-long local part accepted#fuzz_validate"
)

run_mutants() {
	local caught=0 missed=0 i=0 m file expr what target copy diffs secs
	for m in "${MUTANTS[@]}"; do
		i=$((i + 1))
		IFS='#' read -r file expr what target <<< "$m"
		copy=$BUILD/mutant-$i/src
		rm -rf "$BUILD/mutant-$i"
		mkdir -p "$copy"
		cp -r src/core src/service "$copy/"
		sed -i "$expr" "$copy/$file"
		diffs=$(diff "src/$file" "$copy/$file" | grep -c '^>' || true)
		if [ "$diffs" -eq 0 ]; then
			step "mutant $i ($what): the sed matched nothing in src/$file; update MUTANTS"
			missed=$((missed + 1))
			continue
		fi
		build_target "$copy" "$target" "$BUILD/mutant-$i/$target" fuzzer ||
			fail "mutant $i did not build"
		SECONDS=0
		if run_fuzzer "$BUILD/mutant-$i/$target" "$target" "$MUTANT_SECONDS" \
				"$BUILD/mutant-$i/corpus" "$BUILD/mutant-$i/log"; then
			step "mutant $i MISSED in ${MUTANT_SECONDS}s: $what"
			missed=$((missed + 1))
		else
			secs=$SECONDS
			step "mutant $i caught by $target in ${secs}s: $what"
			grep -m 1 -E 'FAILED|fuzz_validate: |ERROR: AddressSanitizer|runtime error' \
				"$BUILD/mutant-$i/log" | sed "s/^/$NAME:     /" || true
			caught=$((caught + 1))
		fi
	done
	step "mutants: $caught caught, $missed missed"
	[ "$missed" -eq 0 ] || fail "$missed mutant(s) not caught"
}

# --- build ------------------------------------------------------------------------

# A run of its own in a fresh directory (several "make test" may share the
# tree), removed when the run passes and kept, with its findings, when not.
# "make fuzz" keeps the corpus it grows in test/fuzz/build/long.
if [ "$mode" = long ]; then
	mkdir -p "$BUILD"
	rm -rf "$BUILD/artifacts" "$BUILD"/*.log
else
	mkdir -p "$BUILD_TOP"
	BUILD=$(mktemp -d "$BUILD_TOP/$mode.XXXXXX")
	trap 'rc=$?; if [ "$rc" -eq 0 ] && [ "$mode" != build ]; then rm -rf "$BUILD"; elif [ "$rc" -ne 0 ]; then echo "$NAME: the build, logs and findings are kept in $BUILD" >&2; fi' EXIT
fi
step "compiler: $("$FUZZ_CC" --version | head -n 1)"

if [ "$mode" = mutants ]; then
	run_mutants
	exit 0
fi

for t in "${TARGETS[@]}"; do
	build_target src "$t" "$BUILD/$t" fuzzer || fail "building $t failed (libFuzzer: libclang-rt-14-dev)"
	build_target src "$t" "$BUILD/$t-plain" plain || fail "building $t (plain) failed"
done
step "built ${TARGETS[*]} in $BUILD"
[ "$mode" = build ] && exit 0

# --- 1. unit tests under ASan + UBSan, then valgrind ----------------------------

# The unit tests' own sources and flags (as "make unit"), built here into
# the build directory, never as test/unit/unit_tests.
UNIT_SRCS=(test/unit/*.c src/core/*.c src/service/*.c)
UNIT_FLAGS=(-std=c11 -Wall -Wextra -Werror -g -Isrc/core -Isrc/service -Itest/unit)
SECONDS=0
"${CC:-cc}" "${UNIT_FLAGS[@]}" "${SAN_FLAGS[@]}" -o "$BUILD/unit_tests_asan" "${UNIT_SRCS[@]}" ||
	fail "building the unit tests with AddressSanitizer + UBSan"
if ! "$BUILD/unit_tests_asan" > "$BUILD/unit-asan.log" 2>&1; then
	grep -vE '^ok ' "$BUILD/unit-asan.log" | tail -n 60 >&2
	fail "unit tests under AddressSanitizer + UBSan"
fi
step "unit tests under ASan+UBSan: $(grep -c '^ok ' "$BUILD/unit-asan.log") assertions passed, no finding (${SECONDS}s)"

have_valgrind=no
command -v valgrind >/dev/null 2>&1 && have_valgrind=yes
VALGRIND=(valgrind -q --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)
if [ "$have_valgrind" = yes ]; then
	SECONDS=0
	"${CC:-cc}" "${UNIT_FLAGS[@]}" -gdwarf-4 -O0 -o "$BUILD/unit_tests_plain" "${UNIT_SRCS[@]}" ||
		fail "building the unit tests for valgrind"
	rc=0
	"${VALGRIND[@]}" "$BUILD/unit_tests_plain" > "$BUILD/unit-valgrind.log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		grep -v '^ok' "$BUILD/unit-valgrind.log" | tail -n 60 >&2
		fail "unit tests under valgrind (exit status $rc)"
	fi
	step "unit tests under valgrind: $(grep -c '^ok ' "$BUILD/unit-valgrind.log") assertions passed, no error (${SECONDS}s)"
else
	step "valgrind not installed: skipping the valgrind runs ('make deps' installs it)"
fi

# --- 2. the fuzzers, both at once ---------------------------------------------------

step "running ${TARGETS[*]} for ${SECONDS_PER_TARGET}s each, in parallel"
SECONDS=0
pids=()
for t in "${TARGETS[@]}"; do
	run_fuzzer "$BUILD/$t" "$t" "$SECONDS_PER_TARGET" "$BUILD/corpus-$t" "$BUILD/$t.log" &
	pids+=($!)
done
failed=()
for i in "${!TARGETS[@]}"; do
	wait "${pids[$i]}" || failed+=("${TARGETS[$i]}")
done
wall=$SECONDS

total=0
for t in "${TARGETS[@]}"; do
	log=$BUILD/$t.log
	runs=$(stat_of "$log" number_of_executed_units)
	rate=$(stat_of "$log" average_exec_per_sec)
	added=$(stat_of "$log" new_units_added)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	total=$((total + ${runs:-0}))
	step "$t: ${runs:-?} executions (${rate:-?}/s), coverage ${cov:-?} edges, $(find "$BUILD/corpus-$t" -type f | wc -l) corpus units (${added:-0} new)"
done
step "fuzzing: $total executions in ${wall}s"

for t in "${failed[@]}"; do
	log=$BUILD/$t.log
	printf '\n---- %s (last lines of %s) ----\n' "$t" "$log" >&2
	grep -vE '^(#[0-9]|\s+NEW_FUNC|INFO:)' "$log" | grep -v '^  0x' | tail -n 80 >&2
	for a in "$BUILD"/artifacts/"$t"-*; do
		[ -e "$a" ] || continue
		printf '%s: finding kept in %s; replay: FUZZ_TRACE=1 %s %s\n' "$NAME" "$a" "$BUILD/$t" "$a" >&2
	done
done
[ "${#failed[@]}" -eq 0 ] || fail "${failed[*]} found a problem"
for a in "$BUILD"/artifacts/*; do
	[ -e "$a" ] && fail "the fuzzers left a finding: $a"
done

# --- 3. the seeds and the new corpus under valgrind ---------------------------------

if [ "$have_valgrind" = yes ]; then
	SECONDS=0
	for t in "${TARGETS[@]}"; do
		mapfile -t seeds < <(find "test/fuzz/corpus/${t#fuzz_}" -type f)
		mapfile -t found < <(find "$BUILD/corpus-$t" -type f | head -n 300)
		units=("${seeds[@]}" "${found[@]}")
		rc=0
		"${VALGRIND[@]}" "$BUILD/$t-plain" "${units[@]}" > "$BUILD/$t-valgrind.log" 2>&1 || rc=$?
		if [ "$rc" -ne 0 ]; then
			tail -n 60 "$BUILD/$t-valgrind.log" >&2
			fail "$t replay under valgrind (exit status $rc)"
		fi
		step "$t under valgrind: ${#seeds[@]} seeds and ${#found[@]} units of this run replayed, no error"
	done
	step "valgrind replays took ${SECONDS}s"
fi

step "ok"
