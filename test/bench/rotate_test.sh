#!/usr/bin/env bash
# test/bench/rotate_test.sh - bench/run.sh's rotate(), the order of the
# comparators in each round, over generated word counts (1 to 6: make bench
# rotates up to 5 cold comparators) and rounds: every round is a
# permutation of the words; in any count consecutive rounds each word runs
# first once; in any 2 x count consecutive rounds each two words come in
# each order equally often (a rotate that reversed every other round gave
# two words one order only) and no word always follows the same one.
# ROTATE_FROM=FILE tests the rotate() of another copy of bench/run.sh.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
eval "$(sed -n '/^rotate() {/,/^}/p' "${ROTATE_FROM:-$HERE/../../bench/run.sh}")"
declare -F rotate > /dev/null || { echo "not ok: no rotate() in bench/run.sh"; exit 1; }
fail=0
for k in 1 2 3 4 5 6; do
	words=()
	for (( i = 0; i < k; i++ )); do words+=("w$i"); done
	sorted=$(printf '%s\n' "${words[@]}" | sort | tr '\n' ' ')
	for (( start = 1; start <= 2 * k + 1; start++ )); do
		declare -A first=() before=() after=()
		for (( n = start; n < start + 2 * k; n++ )); do
			read -ra got <<< "$(rotate "$n" "${words[@]}")"
			if [ "$(printf '%s\n' "${got[@]}" | sort | tr '\n' ' ')" != "$sorted" ]; then
				echo "not ok: rotate $n ${words[*]} gave ${got[*]}"; fail=1
			fi
			(( n < start + k )) && first[${got[0]}]=1
			for (( a = 0; a < k; a++ )); do
				for (( b = a + 1; b < k; b++ )); do
					before[${got[a]},${got[b]}]=$(( ${before[${got[a]},${got[b]}]:-0} + 1 ))
				done
				(( a == 0 )) || after[${got[a]}]+="${got[a - 1]} "
			done
		done
		if [ "${#first[@]}" -lt "$k" ]; then
			echo "not ok: $k words, rounds $start..$(( start + k - 1 )): only ${!first[*]} ran first"; fail=1
		fi
		for x in "${words[@]}"; do
			for y in "${words[@]}"; do
				[ "$x" = "$y" ] || [ "${before[$x,$y]:-0}" = "$k" ] ||
					{ echo "not ok: $k words, rounds $start..$(( start + 2 * k - 1 )): $x before $y ${before[$x,$y]:-0} times of $(( 2 * k ))"; fail=1; }
			done
			if (( k > 2 )) && [ "$(tr ' ' '\n' <<< "${after[$x]:-}" | sed '/^$/d' | sort -u | wc -l)" -lt 2 ]; then
				echo "not ok: $k words, rounds $start..: $x always follows ${after[$x]:-nothing}"; fail=1
			fi
		done
		unset first before after
	done
done
[ "$fail" = 0 ] && echo "ok: bench rotate() orders"
exit "$fail"
