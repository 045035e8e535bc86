#!/usr/bin/env bash
# scripts/deps.sh - install what building and testing the extension needs.
#
# Debian 12 (bookworm).  Fast when everything is there: it only asks dpkg.
# When something is missing it runs "apt-get update" once and installs it
# (as root, or through sudo when that is available).
#
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --check    only report; exit 1 if something is missing
#   scripts/deps.sh --dry-run  show what apt-get would do (apt-get -s)
#
# ALLOC_DEPS_PACKAGING=yes: also the tools of make deb and make test-deb.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mode=install
case "${1:-}" in
	"") ;;
	--check) mode=check ;;
	--dry-run) mode=dry-run ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "usage: $0 [--check|--dry-run]" >&2; exit 2 ;;
esac

PG_MAJOR=${PG_MAJOR:-15}

# package -> why
packages=(
	"postgresql-$PG_MAJOR"                       # server, initdb, pg_ctl
	"postgresql-server-dev-$PG_MAJOR"            # PGXS, headers, pg_regress, isolation tester
	"postgresql-$PG_MAJOR-pgtap"                 # CREATE EXTENSION pgtap
	"postgresql-$PG_MAJOR-plproxy"               # PL/Proxy: the router extension (router/)
	"libtap-parser-sourcehandler-pgtap-perl"     # pg_prove
	"clang-14"                                   # fuzz: libFuzzer targets (scripts/extra-tests/fuzz.sh)
	"libclang-rt-14-dev"                         # fuzz: clang 14's libFuzzer, ASan and UBSan runtimes
	"valgrind"                                   # fuzz: unit tests and fuzz replays under valgrind
	"libpq-dev"                                  # allocation-relay: libpq
	"libhiredis-dev"                             # allocation-relay: hiredis
	"redis-server"                               # relay tests and make run (brings redis-cli)
	"libcurl4-openssl-dev"                      # allocation-mailer: SMTP through libcurl
	"python3-aiosmtpd"                          # mailer tests and make run: a local SMTP server
	"python3-psycopg"                            # examples/python (psycopg 3)
	"pgxnclient"                                 # META.json read back (scripts/extra-tests/meta.sh)
	"prometheus-postgres-exporter"               # monitoring test: contrib/prometheus/queries.yaml against the real exporter
)
# make deb and make test-deb (scripts/deb.sh, scripts/test-deb.sh) only:
# ALLOC_DEPS_PACKAGING=yes adds Debian's packaging tools.
if [ "${ALLOC_DEPS_PACKAGING:-no}" = yes ]; then
	packages+=(
		"debhelper"                              # dh
		"dpkg-dev"                               # dpkg-buildpackage
		"fakeroot"
		"postgresql-server-dev-all"              # pg_buildext, dh --with pgxs_loop
		"lintian"
		"debootstrap"                            # the clean Debian 12 root of make test-deb
	)
fi

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

command -v dpkg-query >/dev/null 2>&1 ||
	{ echo "deps: dpkg-query not found: this script knows Debian/Ubuntu only." >&2
	  echo "deps: install PostgreSQL $PG_MAJOR with its server headers, pgTAP and pg_prove by hand." >&2
	  exit 1; }

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
# A C compiler, make and libc headers; build-essential brings all three.
if ! { command -v gcc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 &&
       installed libc6-dev; }; then
	missing+=(build-essential)
fi
# allocate-from-csv's tests (test/csv) are in Python.
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# examples/node: node and npm (Debian's nodejs and npm when there is none).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# prove (perl) runs the unit tests; perl comes with pg_prove, but say it.
command -v prove >/dev/null 2>&1 || installed perl || missing+=(perl)

if [ "${#missing[@]}" -eq 0 ]; then
	echo "deps: all present (PostgreSQL $PG_MAJOR, server-dev, pgTAP, pg_prove, compiler, libpq, hiredis, redis, libcurl, aiosmtpd, PL/Proxy, psycopg, node)"
	[ "$mode" = dry-run ] || exit 0
fi

if [ "$mode" = check ]; then
	echo "deps: missing: ${missing[*]}"
	exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		echo "deps: not root; using sudo to install: ${missing[*]}"
		SUDO=(sudo)
	else
		echo "deps: missing packages: ${missing[*]}" >&2
		echo "deps: not root and no sudo: install them as root, e.g." >&2
		echo "      apt-get update && apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)

if [ "$mode" = dry-run ]; then
	# Show what a fresh machine would get: simulate installing everything.
	want=("${packages[@]}" build-essential)
	echo "deps: dry run: apt-get install -s --reinstall ${want[*]}"
	"${SUDO[@]}" apt-get install -s --reinstall "${apt_opts[@]}" "${want[@]}"
	exit 0
fi

echo "deps: installing: ${missing[*]}"
apt_update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing[@]}"

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if [ "${#still[@]}" -ne 0 ]; then
	echo "deps: still missing after apt-get install: ${still[*]}" >&2
	exit 1
fi
echo "deps: installed: ${missing[*]}"
