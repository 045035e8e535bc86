#!/usr/bin/env bash
# test/scripts/apt_update_test.sh - apt_update (scripts/common.sh) and what
# scripts/build-postgres.sh makes of a mirror that does not serve apt's
# lists, with apt-get, apt-cache, sudo, tee and sleep replaced by stubs
# (nothing is downloaded, installed or written outside a temporary folder).
#
# Generated: apt-get update failing its first k tries, k = 0..5: apt_update
# succeeds after k + 1 tries when k < 4, and fails with apt-get's status
# after 4 tries otherwise, having waited 15, 30 and 60 s between them.
# build-postgres.sh: when apt-get update fails every time and apt knows no
# source package of the major, it exits 3 ("not served", which make test
# reports as skipped) naming the failed update; when apt-get update fails
# but apt knows the package from its lists, it goes on (exit status other
# than 3 or 1 from the deb-src step: the stubs stop it at the download).
# COMMON_FROM=FILE / BUILD_FROM=FILE test other copies of the scripts.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd "$HERE/../.." && pwd -P)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }

mkdir -p "$tmp/bin" "$tmp/scripts"
cp "${COMMON_FROM:-$REPO/scripts/common.sh}" "$tmp/scripts/common.sh"
cp "${BUILD_FROM:-$REPO/scripts/build-postgres.sh}" "$tmp/scripts/build-postgres.sh"
# apt-get: "update" fails while $tmp/fail-left > 0 (status 100), counting
# its calls; "source" fails as a missing file would (stops build-postgres).
cat > "$tmp/bin/apt-get" <<STUB
#!/usr/bin/env bash
case " \$* " in
*" update "*)
	echo update >> "$tmp/calls"
	left=\$(cat "$tmp/fail-left")
	if [ "\$left" -gt 0 ]; then
		echo \$((left - 1)) > "$tmp/fail-left"
		echo "E: Failed to fetch http://deb.debian.org/debian/dists/sid/main/source/Sources.xz  File has unexpected size (123 != 456). Mirror sync in progress? [IP: 1.2.3.4 80]" >&2
		exit 100
	fi
	exit 0 ;;
*" source "*) echo "E: stub: no downloads here" >&2; exit 100 ;;
*) exit 0 ;;
esac
STUB
# apt-cache showsrc: knows the package when $tmp/known exists
cat > "$tmp/bin/apt-cache" <<STUB
#!/usr/bin/env bash
[ -f "$tmp/known" ] && printf 'Package: postgresql-99\nVersion: 99.1-1\n'
exit 0
STUB
printf '#!/usr/bin/env bash\n"$@"\n' > "$tmp/bin/sudo"
printf '#!/usr/bin/env bash\ncat > /dev/null\n' > "$tmp/bin/tee"
printf '#!/usr/bin/env bash\necho "$1" >> "%s/sleeps"\n' "$tmp" > "$tmp/bin/sleep"
chmod +x "$tmp/bin/"*
export PATH="$tmp/bin:$PATH"

# --- apt_update: k failing tries --------------------------------------------
for k in 0 1 2 3 4 5; do
	echo "$k" > "$tmp/fail-left"
	rm -f "$tmp/calls" "$tmp/sleeps"
	rc=0
	( . "$tmp/scripts/common.sh"; SUDO=(); apt_update ) 2>/dev/null || rc=$?
	calls=$(lines "$tmp/calls")
	sleeps=$( [ ! -f "$tmp/sleeps" ] || tr '\n' ' ' < "$tmp/sleeps")
	if [ "$k" -lt 4 ]; then
		waits=(15 30 60)
		want_sleeps=""
		for ((i = 0; i < k; i++)); do want_sleeps+="${waits[i]} "; done
		check "apt_update, $k failing tries: succeeds after $((k + 1)) (rc $rc, $calls calls, waits [$sleeps])" \
			'[ "$rc" -eq 0 ] && [ "$calls" -eq $((k + 1)) ] && [ "$sleeps" = "$want_sleeps" ]'
	else
		check "apt_update, $k failing tries: gives up after 4 with apt-get's status (rc $rc, $calls calls, waits [$sleeps])" \
			'[ "$rc" -eq 100 ] && [ "$calls" -eq 4 ] && [ "$sleeps" = "15 30 60 " ]'
	fi
done

# --- build-postgres.sh: the deb-src step -------------------------------------
# (its build folder under $tmp: ALLOC_PG_BUILD_DIR)
run_build() {
	rm -f "$tmp/calls"
	rc=0
	(cd "$tmp" && ALLOC_PG_BUILD_DIR="$tmp/build" ALLOC_PG_SUITE=sid bash scripts/build-postgres.sh --major 99 --flavour release) \
		> "$tmp/out" 2>&1 || rc=$?
}
echo 9 > "$tmp/fail-left"; rm -f "$tmp/known"
run_build
check "build-postgres, lists never served, package unknown: exit 3 (got $rc)" '[ "$rc" -eq 3 ]'
check "... and says which update failed" \
	'grep -q "^build-postgres: not served: .*apt-get update failed 4 times, status 100" "$tmp/out"'
check "... after 4 tries" '[ "$(lines "$tmp/calls")" -eq 4 ]'

echo 9 > "$tmp/fail-left"; : > "$tmp/known"
run_build
check "build-postgres, lists not updated but the package known: no update tried, on to the download (rc $rc)" \
	'[ ! -s "$tmp/calls" ] && grep -q "stub: no downloads here" "$tmp/out"'

echo "1..$n"
if [ "$failed" -gt 0 ]; then
	echo "apt_update_test: $failed of $n failed"
	sed 's/^/    /' "$tmp/out"
	exit 1
fi
