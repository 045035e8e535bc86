#!/usr/bin/env bash
# test/bench/rotate_test.sh - bench/run.sh's rotate(), the order of the
# comparators in each round, over generated word counts and rounds: in
# every 4 consecutive rounds each word runs first at least once when there
# are at most 4 words, and for 2 words each order comes twice (a rotate
# that reversed every other round gave two words one order only).
# ROTATE_FROM=FILE tests the rotate() of another copy of bench/run.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
eval "$(sed -n '/^rotate() {/,/^}/p' "${ROTATE_FROM:-$HERE/../../bench/run.sh}")"
declare -F rotate > /dev/null || { echo "not ok: no rotate() in bench/run.sh"; exit 1; }
fail=0
for k in 1 2 3 4; do
	words=()
	for (( i = 0; i < k; i++ )); do words+=("w$i"); done
	for start in 1 2 3 4 5; do
		declare -A first=() orders=()
		for (( n = start; n < start + 4; n++ )); do
			read -ra got <<< "$(rotate "$n" "${words[@]}")"
			# a permutation of the words
			if [ "$(printf '%s\n' "${got[@]}" | sort | tr '\n' ' ')" != "$(printf '%s\n' "${words[@]}" | sort | tr '\n' ' ')" ]; then
				echo "not ok: rotate $n ${words[*]} gave ${got[*]}"; fail=1
			fi
			first[${got[0]}]=1
			orders["${got[*]}"]=$(( ${orders["${got[*]}"]:-0} + 1 ))
		done
		if [ "${#first[@]}" -lt "$k" ]; then
			echo "not ok: $k words, rounds $start..$(( start + 3 )): only ${!first[*]} ran first"; fail=1
		fi
		if [ "$k" = 2 ]; then
			for o in "${!orders[@]}"; do
				[ "${orders[$o]}" = 2 ] || { echo "not ok: 2 words, rounds $start..: order '$o' ${orders[$o]} times of 4"; fail=1; }
			done
		fi
		unset first orders
	done
done
[ "$fail" = 0 ] && echo "ok: bench rotate() orders"
exit "$fail"
