#!/usr/bin/env bash
# bench/all.sh - "make bench": every part of the benchmark suite, one after
# the other on the same machine, each printing its goals with PASS or MISS:
#   bench/run.sh         the extension against its peers (T1-T7)
#   bench/router/run.sh  the router: its cost per call, N nodes against one
#   bench/events.sh      events with the relay attached (E1-E4)
#
# PG_CONFIG: the server to measure; not a packaged one (the Makefile passes
# a private copy, scripts/private-pg.sh, with our PL/Proxy built into it).
# BENCH_ONLY: unset for every part; else words among flat, cold, hot,
# depth, bulk (bench/run.sh's), router and events.
set -euo pipefail
BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$BENCH/.." && pwd -P)
: "${PG_CONFIG:?set PG_CONFIG}"
ONLY=${BENCH_ONLY:-}
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
core=no
for w in flat cold hot depth bulk; do want "$w" && core=yes; done
T0=$(date +%s)

if [ "$core" = yes ]; then
	# bench/run.sh knows only its own words
	words=$(for w in $ONLY; do case $w in router|events) ;; *) printf '%s ' "$w" ;; esac; done)
	BENCH_ONLY=${words% } bash "$BENCH/run.sh"
fi
if want router; then
	make -s -C "$ROOT" --no-print-directory PG_CONFIG="$PG_CONFIG" WITH_RELAY=no install > /dev/null
	BENCH_SECONDS=${BENCH_ROUTER_SECONDS:-3} bash "$BENCH/router/run.sh"
fi
if want events; then
	bash "$BENCH/events.sh"
fi
printf '[bench] all parts done in %d s\n' "$(( $(date +%s) - T0 ))"
