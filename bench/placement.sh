# shellcheck shell=bash
# bench/placement.sh - where pgbench and its backend run, for the
# benchmarks at 1 client (sourced by run.sh and events.sh).  On a machine
# of few CPUs the kernel's choice decides most of one client's figure: a
# client and its backend on one CPU exchange each query and result
# without waking another CPU, on two they wake one at every message.
#
# Needs: PSQL (an array: psql and its connection options), APPNAME (the
# application_name pgbench runs with, by which its backend is found).
# Sets CPU_A and CPU_B: two CPUs this shell may run on (CPU_B empty when
# there are fewer, or no taskset).

# two_cpus LIST [ONLINE]: the first two CPUs of an affinity list ("0-3",
# "0,2,5-7") that are also in the list of online CPUs (the same lists; all
# of LIST when ONLINE is empty), space-separated; fewer when there are
# fewer.  A task's affinity may name CPUs that are offline (it starts as
# every possible CPU), and pinning to one of those fails.
two_cpus() {
	awk -v allowed="$1" -v online="${2:-$1}" '
		function expand(list, set, order,   parts, n, i, r, c, k) {
			n = split(list, parts, ","); k = 0
			for (i = 1; i <= n; i++)
				if (parts[i] ~ /^[0-9]+$/) { set[parts[i] + 0] = 1; order[++k] = parts[i] + 0 }
				else if (parts[i] ~ /^[0-9]+-[0-9]+$/) {
					split(parts[i], r, "-")
					for (c = r[1] + 0; c <= r[2] + 0; c++) { set[c] = 1; order[++k] = c }
				}
			return k
		}
		BEGIN {
			k = expand(allowed, a, seq); expand(online, o, unused); n = 0
			for (i = 1; i <= k && n < 2; i++)
				if (seq[i] in o) printf "%s%s", (n++ ? " " : ""), seq[i]
		}'
}
# pin_backend CPU SINCE: pin the backend of the pgbench started at SINCE
# (application_name $APPNAME, one client; not a backend of an earlier run
# still exiting, nor the session that looks) to CPU, as soon as it runs
# allocate (pgbench's first connection, which only reads the server's
# version, ends before its client connects).  Within 0.5 s of the start, or
# the run is no figure: a run pinned late would be reported as pinned
# (pinning takes 20-60 ms on a quiet machine).
pin_backend() {
	local pid t0
	t0=$(date +%s%N)
	while [ $(( $(date +%s%N) - t0 )) -lt 500000000 ]; do
		pid=$("${PSQL[@]}" -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$APPNAME'
		                        AND backend_type = 'client backend' AND backend_start >= '$2'
		                        AND pid <> pg_backend_pid() AND query LIKE '%.allocate(%'")
		if [[ $pid =~ ^[0-9]+$ ]]; then
			taskset -pc "$1" "$pid" > /dev/null && return 0
			return 1
		fi
		sleep 0.01
	done
	echo "pgbench's backend was not found running allocate within 0.5 s: not pinned" >&2
	return 1
}

# shellcheck disable=SC2034  # CPU_A and CPU_B are for the scripts that source this
read -r CPU_A CPU_B <<< "$(two_cpus "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)" \
	"$(cat /sys/devices/system/cpu/online 2> /dev/null)")" || true
# shellcheck disable=SC2034
command -v taskset > /dev/null || CPU_B=
