#!/usr/bin/env bash
# bench/all.sh - "make bench": every part of the benchmark suite, one after
# the other on the same machine:
#   bench/run.sh         the extension against its peers (T1-T7, PASS or MISS)
#   bench/router/run.sh  the router: its cost per call, N nodes against one
#                        (figures, no goals)
#   bench/events.sh      events with the relay attached (E1-E4, PASS or MISS)
#
# PG_CONFIG: the server to measure; not a packaged one, which is refused
# (the parts install into it: the Makefile passes a private copy,
# scripts/private-pg.sh).  Our PL/Proxy is built into it for the router
# (scripts/build-plproxy.sh), only when the router part runs.
# BENCH_ONLY: unset or blank for every part; else words among flat, cold,
# hot, depth, bulk (bench/run.sh's), router and events; another word is an
# error.  BENCH_ROUTER_SECONDS [3] and BENCH_ROUTER_CLIENTS [8]: the
# router's BENCH_SECONDS and BENCH_CLIENTS (bench/run.sh's BENCH_CLIENTS is
# a list of client counts, the router's one number).
# test/bench/all_test.sh checks which parts run, with what.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$BENCH/.." && pwd -P)
# shellcheck source=../scripts/common.sh
. "$ROOT/scripts/common.sh"
pgbindir=$("$PG_CONFIG" --bindir) || die "no pg_config at $PG_CONFIG"
dpkg_owned "$pgbindir/postgres" &&
	die "$PG_CONFIG is a packaged server's: the benchmarks install into the server they measure; run make bench (it measures a private copy), or pass scripts/private-pg.sh --pg-config $PG_CONFIG"
read -ra words <<< "${BENCH_ONLY:-}"
for w in ${words[@]+"${words[@]}"}; do
	case $w in
		flat|cold|hot|depth|bulk|router|events) ;;
		*) die "BENCH_ONLY: unknown word '$w' (the words: flat cold hot depth bulk router events)" ;;
	esac
done
ONLY=${words[*]+${words[*]}}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
core=no
for w in flat cold hot depth bulk; do want "$w" && core=yes; done
T0=$(date +%s)

if [ "$core" = yes ]; then
	# bench/run.sh knows only its own words
	run_words=$(for w in $ONLY; do case $w in router|events) ;; *) printf '%s ' "$w" ;; esac; done)
	BENCH_ONLY=${run_words% } bash "$BENCH/run.sh"
fi
if want router; then
	bash "$ROOT/scripts/build-plproxy.sh" --pg-config "$PG_CONFIG" >&2
	make -s -C "$ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" WITH_RELAY=no install > /dev/null
	BENCH_SECONDS=${BENCH_ROUTER_SECONDS:-3} BENCH_CLIENTS=${BENCH_ROUTER_CLIENTS:-8} bash "$BENCH/router/run.sh"
fi
if want events; then
	bash "$BENCH/events.sh"
fi
printf '[bench] all parts done in %d s\n' "$(( $(date +%s) - T0 ))"
