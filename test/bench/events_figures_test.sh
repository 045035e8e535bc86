#!/usr/bin/env bash
# test/bench/events_figures_test.sh - bench/events.sh's figures from a
# pgbench run (figures), its percentiles (pct) and its verdicts (verdict):
# a run or a measure that failed must never pass a goal; and its cleanup
# after a failure (the cluster stopped, whatever the relay's exit status).
#
# figures, on generated pgbench outputs: a complete run gives its tps and
# the CPU per allocate, busy ticks x microseconds per tick / transactions
# (checked against awk's arithmetic); a run whose pgbench failed, with no
# or an empty tps line, no or 0 transactions, or failed transactions, is
# refused (before, its fields shifted: the CPU figure was read as tps).
# verdict: numbers around each target, both ways; a measure that is not a
# number ("", "-nan", "x") misses.  pct: an empty file gives no figure.
# two_cpus, on generated affinity and online lists (singles and ranges):
# the first two allowed CPUs that are online, or fewer.  ratio and med, on generated runs of several clients,
# placements and comparators: each figure from its own placement's runs
# only (checked against Python's medians).  run, with a fake pgbench and
# backend: each placement pins pgbench and the backend as it says, for the
# whole run; a pin or a pgbench that fails refuses the run.
# EVENTS_FROM=FILE tests another copy of bench/events.sh (PLACEMENT_FROM:
# of bench/placement.sh, default beside it).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SRC=${EVENTS_FROM:-$HERE/../../bench/events.sh}
# the placement helpers events.sh sources (two_cpus, pin_backend)
PLACE=${PLACEMENT_FROM:-$(dirname "$SRC")/placement.sh}
fail=0
not_ok() { echo "not ok: $*"; fail=1; }
# from FILE NAME: define function NAME as FILE defines it
from() {
	eval "$(sed -n "/^$2() {.*}\$/p; /^$2() {\( #.*\)\?\$/,/^}/p" "$1")"
	declare -F "$2" > /dev/null || not_ok "no $2() in $1"
}
for f in figures verdict pct ratio med; do from "$SRC" "$f"; done
from "$PLACE" two_cpus
TICK_US=10000

# out TPS XACTS FAILED: a pgbench report ("-" leaves a line out)
out() {
	echo "pgbench (15.20 (Debian 15.20-0+deb12u1))"
	echo "transaction type: ext.sql"
	echo "number of clients: 8"
	[ "$2" = - ] || echo "number of transactions actually processed: $2"
	[ "$3" = - ] || echo "number of failed transactions: $3 (0.000%)"
	echo "latency average = 0.905 ms"
	echo "initial connection time = 7.041 ms"
	[ "$1" = - ] || echo "tps = $1 (without initial connection time)"
}

declare -F figures > /dev/null || figures() { return 0; }
for _ in $(seq 1 200); do
	x=$(( RANDOM % 100000 + 1 )) b0=$(( RANDOM * 1000 + RANDOM )) d=$(( RANDOM % 2000 ))
	tps=$(( RANDOM % 20000 )).$(( RANDOM % 1000000 ))
	want="$tps $(awk -v d="$d" -v t="$TICK_US" -v x="$x" 'BEGIN { printf "%d", int(d * t / x) }')"
	got=$(figures "$(out "$tps" "$x" 0)" 0 "$b0" "$(( b0 + d ))" 2> /dev/null) || got="refused"
	[ "$got" = "$want" ] || not_ok "complete run ($tps tps, $x transactions, $d ticks): '$got', expected '$want'"
done
# PG_CONFIG of a server whose pgbench prints no failed transactions line
got=$(figures "$(out 100.5 500 -)" 0 10 20 2> /dev/null) || got="refused"
[ "$got" = "100.5 200" ] || not_ok "run without a failed transactions line: '$got'"

# the runs that are no figure
while IFS='|' read -r what tps x failed st; do
	if got=$(figures "$(out "$tps" "$x" "$failed")" "$st" 100 300 2> /dev/null); then
		not_ok "$what: taken as a figure: '$got'"
	fi
done <<'EOF'
pgbench failed (status 1)|5000.0|10000|0|1
clients aborted (status 2)|5000.0|10000|0|2
no tps line|-|10000|0|0
empty tps|   |10000|0|0
no transactions line|5000.0|-|0|0
0 transactions|0.000000|0|0|0
failed transactions|5000.0|10000|3|0
EOF
if got=$(figures "" 1 100 300 2> /dev/null); then not_ok "no output at all: taken as a figure: '$got'"; fi

for t in 0.9 1.3 2 5 20 50000; do
	for x in 0 0.5 0.89 0.9 0.91 1.29 1.3 1.31 1.99 2 2.01 4.99 5 5.01 19.99 20 20.01 49999 50000 50001 99999; do
		ge=$(awk -v x="$x" -v t="$t" 'BEGIN { print (x + 0 >= t + 0) ? "PASS" : "MISS" }')
		le=$(awk -v x="$x" -v t="$t" 'BEGIN { print (x + 0 <= t + 0) ? "PASS" : "MISS" }')
		[ "$(verdict "$x" ">=" "$t")" = "$ge" ] || not_ok "verdict $x >= $t: $(verdict "$x" ">=" "$t")"
		[ "$(verdict "$x" "<=" "$t")" = "$le" ] || not_ok "verdict $x <= $t: $(verdict "$x" "<=" "$t")"
	done
	for x in "" "-nan" "nan" "x" " "; do
		for op in ">=" "<="; do
			[ "$(verdict "$x" "$op" "$t")" = MISS ] || not_ok "verdict '$x' $op $t: $(verdict "$x" "$op" "$t")"
		done
	done
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
[ -z "$(pct 50 "$tmp")" ] || not_ok "pct of no probes: '$(pct 50 "$tmp")'"
[ "$(verdict "$(pct 99 "$tmp")" "<=" 20)" = MISS ] || not_ok "no probes passed a latency goal"
printf '%s\n' 3 1 2 10 4 > "$tmp"
[ "$(pct 50 "$tmp")" = 3.00 ] && [ "$(pct 99 "$tmp")" = 4.00 ] && [ "$(pct 100 "$tmp")" = 10.00 ] ||
	not_ok "pct 50/99/100 of 1 2 3 4 10: $(pct 50 "$tmp") $(pct 99 "$tmp") $(pct 100 "$tmp")"

# two_cpus: generated affinity lists and lists of online CPUs, as the
# kernel writes them (ascending, runs of CPUs as ranges or one by one): the
# first two allowed CPUs that are online (an affinity may name offline
# CPUs, which cannot be pinned to); an empty online list leaves the
# affinity list as it is
while read -r list online want; do
	[ "$online" = - ] && online=
	[ "$want" = - ] && want=
	got=$(two_cpus "$list" "$online")
	[ "${got// /,}" = "$want" ] || not_ok "two_cpus '$list' online '$online': '$got', expected '${want//,/ }'"
done < <(python3 - <<'PY'
import random
r = random.Random()
def fmt(cpus):
	parts, i = [], 0
	while i < len(cpus):
		j = i
		while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
			j += 1
		if j > i and r.random() < 0.8:
			parts.append("%d-%d" % (cpus[i], cpus[j]))
		else:
			parts.extend(str(c) for c in cpus[i:j + 1])
		i = j + 1
	return ",".join(parts)
for _ in range(300):
	cpus = sorted(r.sample(range(0, 64), r.randint(1, 12)))
	kind = r.random()
	if kind < 0.3:
		online = None	# not known: every allowed CPU counts
	elif kind < 0.6:
		online = list(range(0, 64))
	else:	# some allowed CPUs offline, often among the first ones
		online = sorted(c for c in range(0, 64) if c not in cpus[:3] or r.random() < 0.4)
	ok = [c for c in cpus if online is None or c in online]
	print(fmt(cpus), fmt(online) if online else "-", ",".join(str(c) for c in ok[:2]) or "-")
PY
)
[ -z "$(two_cpus "")" ] || not_ok "two_cpus of an empty list: '$(two_cpus "")'"

# ratio, med: generated runs (round, clients, placement, comparator, tps,
# CPU) in one runs.tsv per case; each figure from its own clients' and
# placement's runs
cases=$(mktemp -d)
while read -r n c p a b k want_r want_m; do
	WORK=$cases/$n
	got_r=$(ratio "$c" "$p" "$a" "$b" "$k"); got_m=$(med "$c" "$p" "$a" "$k")
	[ "$got_r" = "$want_r" ] || not_ok "ratio $c clients, $p, $a/$b, column $k: '$got_r', expected '$want_r'"
	[ "$got_m" = "$want_m" ] || not_ok "med $c clients, $p, $a, column $k: '$got_m', expected '$want_m'"
	if [ "$k" = 5 ]; then # tps, the default column
		[ "$(ratio "$c" "$p" "$a" "$b")" = "$want_r" ] || not_ok "ratio $c clients, $p, $a/$b: not of tps by default"
		[ "$(med "$c" "$p" "$a")" = "$want_m" ] || not_ok "med $c clients, $p, $a: not of tps by default"
	fi
done < <(python3 - "$cases" <<'PY'
import os, random, sys
r = random.Random()
comps = ("ext_wal", "ext_alone", "ext_relay", "peer_consumer")
for n in range(60):
	rounds = r.randint(1, 7)
	rows = []
	for rd in range(1, rounds + 1):
		for c in ("8", "1"):
			for p in (("kernel",) if c == "8" else ("kernel", "together", "apart")):
				for comp in comps:
					rows.append((rd, c, p, comp, round(r.uniform(100, 20000), 6), r.randint(50, 900)))
	r.shuffle(rows)
	os.mkdir(os.path.join(sys.argv[1], str(n)))
	with open(os.path.join(sys.argv[1], str(n), "runs.tsv"), "w") as f:
		for row in rows:
			f.write("\t".join(str(x) for x in row) + "\n")
	c = r.choice(("8", "1"))
	p = "kernel" if c == "8" else r.choice(("kernel", "together", "apart"))
	a, b = r.sample(comps, 2)
	k = r.choice((5, 6))
	def val(rd, comp):
		return [x for x in rows if x[:4] == (rd, c, p, comp)][0][k - 1]
	ratios = sorted(val(rd, a) / val(rd, b) for rd in range(1, rounds + 1))
	mine = sorted(val(rd, a) for rd in range(1, rounds + 1))
	mid = (rounds + 1) // 2 - 1
	print(n, c, p, a, b, k, "%.2f" % ratios[mid], "%.0f" % mine[mid])
PY
)
rm -rf "$cases"

# run, at 1 client: pgbench and the backend its client connects to (a
# process of its own, as a server's backend is) end where the placement
# says, for the whole run; a backend that cannot be pinned, or a pgbench
# that fails, refuses the run.  A fake pgbench and psql, the real taskset;
# skipped with fewer than two online CPUs or no taskset.
allowed=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
read -r CPU_A CPU_B <<< "$(two_cpus "$allowed" "$(cat /sys/devices/system/cpu/online 2> /dev/null)")" || true
if [ -n "${CPU_B:-}" ] && command -v taskset > /dev/null; then
	from "$SRC" run
	from "$PLACE" pin_backend
	d=$(mktemp -d)
	# shellcheck disable=SC2034  # read by run() eval'd above
	WORK=$d BENCH=$d PGBIN=$d SECS=1 SKUS=10 APPNAME=events-bench-test
	# shellcheck disable=SC2317  # busy and fake_psql are called by run() eval'd above
	busy() { echo 0; }
	# the fake psql: pg_stat_activity shows the client's backend once pgbench started
	fake_psql() {
		case "$*" in
			*clock_timestamp*) echo "2000-01-01 00:00:00+00" ;;
			*pg_stat_activity*) [ ! -e "$d/visible" ] || cat "$d/backend.pid" ;;
		esac
	}
	PSQL=(fake_psql)
	{
		echo '#!/usr/bin/env bash'
		echo "sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status > '$d/pgbench.cpus'"
		echo "touch '$d/started'"
		echo "( sleep \${FAKE_LATE:-0}; touch '$d/visible' ) &"
		echo "sleep 0.6"
		echo "sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' \"/proc/\$(cat '$d/backend.pid')/status\" > '$d/backend.cpus'"
		echo "echo 'number of transactions actually processed: 100'"
		echo "echo 'tps = 200.0 (without initial connection time)'"
		echo 'exit "${FAKE_STATUS:-0}"'
	} > "$d/pgbench"
	chmod +x "$d/pgbench"
	# case_run PLACEMENT alive|gone FAKE_STATUS: run() with a backend that
	# runs (or has exited) and a pgbench exiting with FAKE_STATUS
	case_run() {
		local st=0 be
		rm -f "$d/started" "$d/visible" "$d/pgbench.cpus" "$d/backend.cpus"
		sleep 30 & be=$!
		echo "$be" > "$d/backend.pid"
		[ "$2" = alive ] || { kill "$be"; wait "$be" 2> /dev/null || true; }
		FAKE_STATUS=$3 FAKE_LATE=${4:-0} run ext_alone 1 "$1" > /dev/null 2> /dev/null || st=$?
		kill "$be" 2> /dev/null || true
		wait "$be" 2> /dev/null || true
		return "$st"
	}
	while read -r pl want_pb want_be; do
		case_run "$pl" alive 0 || not_ok "run, $pl: refused a good run"
		got="$(cat "$d/pgbench.cpus" 2> /dev/null) $(cat "$d/backend.cpus" 2> /dev/null)"
		[ "$got" = "$want_pb $want_be" ] || not_ok "run, $pl: pgbench and its backend on '$got', expected '$want_pb $want_be'"
	done <<< "kernel $allowed $allowed
together $CPU_A $CPU_A
apart $CPU_A $CPU_B"
	for pl in together apart; do
		! case_run "$pl" gone 0 || not_ok "run, $pl: a backend that could not be pinned gave a figure"
		! case_run "$pl" alive 1 || not_ok "run, $pl: a failed pgbench gave a figure"
		! case_run "$pl" alive 0 0.9 || not_ok "run, $pl: a backend pinned 0.9 s into the run gave a figure"
	done
	rm -rf "$d"
else
	echo "# skipped run's placements: fewer than two online CPUs, or no taskset"
fi

# EVENTS_PLACEMENTS: generated lists; one with a word that is no placement,
# a placement named twice, or only blanks is refused (status 2) before
# anything starts; any other goes on (here to the missing PG_CONFIG)
words=(kernel together apart kernel together apart bogus "")
for _ in $(seq 1 60); do
	list="" n=$(( RANDOM % 4 ))
	for _ in $(seq 1 "$n"); do list+="${words[RANDOM % ${#words[@]}]} "; done
	[ $(( RANDOM % 5 )) = 0 ] && list=" "
	want=ok seen=" " any=
	for w in $list; do
		any=1
		case $w in kernel|together|apart) ;; *) want=refused ;; esac
		[[ $seen == *" $w "* ]] && want=refused
		seen+="$w "
	done
	[ -n "$any" ] || [ -z "$list" ] || want=refused
	st=0
	EVENTS_PLACEMENTS=$list PG_CONFIG=/nonexistent/pg_config bash "$SRC" > /dev/null 2> "$tmp.err" || st=$?
	got=ok
	[ "$st" = 2 ] && grep -q '^EVENTS_PLACEMENTS: ' "$tmp.err" && got=refused
	[ "$got" = "$want" ] || not_ok "EVENTS_PLACEMENTS='$list': $got, expected $want ($(head -n 1 "$tmp.err"))"
done
rm -f "$tmp.err"

# cleanup on the way out of a failed run (set -e, as events.sh): a relay
# that dies of the TERM it gets (status 143) must not stop it before the
# cluster is stopped and the scratch folder removed
d=$(mktemp -d)
mkdir -p "$d/scripts" "$d/work"
echo "echo \"\$1\" >> '$d/cluster.calls'" > "$d/scripts/cluster.sh"
(
	set -euo pipefail
	eval "$(sed -n '/^cleanup() {$/,/^}/p' "$SRC")"
	# shellcheck disable=SC2034  # read by the cleanup() eval'd above
	ROOT=$d WORK=$d/work PEER_PID='' REDIS_PID=''
	sleep 300 & RELAY_PID=$!
	echo "$RELAY_PID" > "$d/relay.pid"
	trap cleanup EXIT
	exit 1
) > /dev/null 2>&1 || true
grep -qx stop "$d/cluster.calls" 2> /dev/null || not_ok "cleanup after a relay killed by TERM: the cluster was not stopped"
[ ! -d "$d/work" ] || not_ok "cleanup after a relay killed by TERM: the scratch folder was left"
! kill -0 "$(cat "$d/relay.pid")" 2> /dev/null || { not_ok "cleanup: the relay still runs"; kill "$(cat "$d/relay.pid")"; }
rm -rf "$d"

[ "$fail" = 0 ] && echo "ok: bench/events.sh figures, percentiles, verdicts and cleanup"
exit "$fail"
