#!/usr/bin/env bash
# test/bench/all_test.sh - bench/all.sh ("make bench"): which parts it runs
# for BENCH_ONLY, and with what, with every part replaced by a stub that
# writes down its call (nothing is measured or installed).
#
# Generated: every subset of the words flat, cold, hot, depth, bulk, router
# and events, in a shuffled order: bench/run.sh runs with the subset's words
# of its own (all of them when the subset is empty), the router (after our
# PL/Proxy is built into the server and the extension installed) when
# router is among them, events.sh when events is; always in that order.
# Also: an unknown word (a typo must not measure nothing and say "done"),
# a BENCH_ONLY of blanks (every part), a packaged server (refused before
# anything is built or installed into it), and BENCH_CLIENTS: bench/run.sh's
# list of client counts is not the router's one number.
# ALL_FROM=FILE tests another copy of bench/all.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bench/router" "$tmp/scripts" "$tmp/bin" "$tmp/pg/bin"
cp "${ALL_FROM:-$REPO/bench/all.sh}" "$tmp/bench/all.sh"
cp "$REPO/scripts/common.sh" "$tmp/scripts/common.sh"
# stub NAME FILE: a part that writes "NAME BENCH_ONLY=[..] CLIENTS=[..] ARGS"
stub() {
	cat > "$2" <<-EOF
	#!/usr/bin/env bash
	echo "$1 BENCH_ONLY=[\${BENCH_ONLY-unset}] CLIENTS=[\${BENCH_CLIENTS-unset}] \$*" >> "$tmp/calls"
	EOF
	chmod +x "$2"
}
stub run "$tmp/bench/run.sh"
stub router "$tmp/bench/router/run.sh"
stub events "$tmp/bench/events.sh"
stub plproxy "$tmp/scripts/build-plproxy.sh"
stub make "$tmp/bin/make"
# a server of our own (no package owns it)
cat > "$tmp/pg/bin/pg_config" <<EOF
#!/bin/sh
case \$1 in --bindir) echo "$tmp/pg/bin" ;; --version) echo "PostgreSQL 15.0" ;; esac
EOF
chmod +x "$tmp/pg/bin/pg_config"
touch "$tmp/pg/bin/postgres"

fail=0
# all ONLY [ENV...]: run all.sh; its status in $st, the calls in $calls
all() {
	local only=$1; shift
	: > "$tmp/calls"
	st=0
	env -u BENCH_CLIENTS PATH="$tmp/bin:$PATH" PG_CONFIG="${PGC:-$tmp/pg/bin/pg_config}" BENCH_ONLY="$only" "$@" \
		bash "$tmp/bench/all.sh" > "$tmp/out" 2>&1 || st=$?
	calls=$(sed 's/\(BENCH_ONLY=\[[^]]*\]\).*/\1/' "$tmp/calls" | tr '\n' ';')
}
not_ok() { echo "not ok: $*"; sed 's/^/    /' "$tmp/out"; fail=1; }

words=(flat cold hot depth bulk router events)
for (( m = 0; m < 1 << ${#words[@]}; m++ )); do
	sub=() core=()
	for (( i = 0; i < ${#words[@]}; i++ )); do
		(( m >> i & 1 )) || continue
		sub+=("${words[i]}")
		case ${words[i]} in router|events) ;; *) core+=("${words[i]}") ;; esac
	done
	read -ra sub <<< "$(printf '%s\n' ${sub[@]+"${sub[@]}"} | shuf | tr '\n' ' ')"
	read -ra core <<< "$(printf '%s\n' ${sub[@]+"${sub[@]}"} | grep -vx 'router\|events' | tr '\n' ' ')"
	only="${sub[*]+${sub[*]}}"
	has() { [ -z "$only" ] || [[ " $only " == *" $1 "* ]]; }
	want=''
	if [ -z "$only" ] || [ "${#core[@]}" -gt 0 ]; then want+="run BENCH_ONLY=[${core[*]+${core[*]}}];"; fi
	has router && want+="plproxy BENCH_ONLY=[$only];make BENCH_ONLY=[$only];router BENCH_ONLY=[$only];"
	has events && want+="events BENCH_ONLY=[$only];"
	all "$only"
	[ "$st" = 0 ] || { not_ok "BENCH_ONLY='$only': status $st"; continue; }
	[ "$calls" = "$want" ] || not_ok "BENCH_ONLY='$only': ran '$calls', expected '$want'"
done

for only in foo "flat foo" "Router" "router,events" "events routers"; do
	all "$only"
	[ "$st" != 0 ] || not_ok "BENCH_ONLY='$only': an unknown word was accepted (ran '$calls')"
	[ -z "$calls" ] || not_ok "BENCH_ONLY='$only': ran '$calls' before refusing"
done

all "   "
[ "$st" = 0 ] && [[ $calls == run*router*events* ]] ||
	not_ok "BENCH_ONLY of blanks: status $st, ran '$calls', expected every part"

all router BENCH_CLIENTS="1 8"
grep -q '^router .* CLIENTS=\[8\]' "$tmp/calls" ||
	not_ok "the router got BENCH_CLIENTS '$(sed -n 's/^router .*CLIENTS=\[\([^]]*\)\].*/\1/p' "$tmp/calls")' (bench/run.sh's list '1 8'), expected 8"
all "flat router" BENCH_CLIENTS="1 8" BENCH_ROUTER_CLIENTS=4
grep -q '^run .* CLIENTS=\[1 8\]' "$tmp/calls" && grep -q '^router .* CLIENTS=\[4\]' "$tmp/calls" ||
	not_ok "BENCH_CLIENTS='1 8' BENCH_ROUTER_CLIENTS=4: $(cat "$tmp/calls")"

# a packaged server: refused before anything is built or installed into it
pkg=/usr/lib/postgresql/15/bin/pg_config
if command -v dpkg-query > /dev/null && [ -x "$pkg" ] && dpkg-query -S "$("$pkg" --bindir)/postgres" > /dev/null 2>&1; then
	for only in "" router events flat; do
		PGC=$pkg all "$only"
		[ "$st" != 0 ] && [ -z "$calls" ] ||
			not_ok "PG_CONFIG=$pkg (packaged), BENCH_ONLY='$only': status $st, ran '$calls'"
	done
else
	echo "# no packaged PostgreSQL 15 here: its case skipped"
fi

[ "$fail" = 0 ] && echo "ok: bench/all.sh runs the parts BENCH_ONLY names"
exit "$fail"
