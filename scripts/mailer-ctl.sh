#!/usr/bin/env bash
# scripts/mailer-ctl.sh - a local SMTP sink and allocation-mailer next to
# the throwaway cluster ("make run" starts them, "make stop" stops them).
#
#   scripts/mailer-ctl.sh start DB [MAILER ARGS]  start scripts/smtp-sink.py
#                          on 127.0.0.1:$ALLOC_SMTP_PORT (a Maildir under the
#                          cluster's directory) and allocation-mailer for
#                          database DB (restarted if they already run)
#   scripts/mailer-ctl.sh stop [quiet]   stop both (the Maildir stays until
#                                        the cluster is removed)
#   scripts/mailer-ctl.sh status         say whether they run, and where
#   scripts/mailer-ctl.sh env            print "export ALLOC_MAILDIR=..." lines
#
# Their directory (pid files, logs, Maildir/) is mail/ next to the
# cluster's data directory.  The mailer is relay/allocation-mailer of this
# checkout (built by "make"), else allocation-mailer on the PATH.
#
# Environment:
#   ALLOC_SMTP_PORT    the sink's port on 127.0.0.1 (default 2525)
#   ALLOC_MAIL_DIR     their directory (default mail/ next to the cluster's
#                      data directory)
#   and those of scripts/cluster.sh (ALLOC_PGPORT, ALLOC_CLUSTER_DIR, ...)
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SMTP_PORT=${ALLOC_SMTP_PORT:-2525}
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

eval "$(bash "$ROOT/scripts/cluster.sh" env)"
DIR=${ALLOC_MAIL_DIR:-$(dirname "$ALLOC_PGDATA")/mail}

running() { [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

stop_one() {
	local pid
	running "$1" || { rm -f "$DIR/$1.pid"; return 0; }
	pid=$(cat "$DIR/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$DIR/$1.pid"
}

mailer_bin() {
	if [ -x "$ROOT/relay/allocation-mailer" ]; then echo "$ROOT/relay/allocation-mailer"
	else command -v allocation-mailer || die "allocation-mailer not built (make)"; fi
}

case ${1:-} in
	start)
		db=${2:?usage: mailer-ctl.sh start DB [MAILER ARGS]}
		shift 2
		stop_one mailer
		stop_one sink
		mkdir -p "$DIR"
		/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || die "python3-aiosmtpd missing (make deps)"
		# the sink's log is kept across starts: only a "listening" line
		# written after this start says that this sink listens (an earlier
		# one's would let the mailer connect before it, fail, and back off)
		seen=0
		[ ! -f "$DIR/sink.log" ] || seen=$(wc -l < "$DIR/sink.log")
		/usr/bin/python3 "$ROOT/scripts/smtp-sink.py" "$DIR/Maildir" "$SMTP_PORT" >>"$DIR/sink.log" 2>&1 &
		echo $! > "$DIR/sink.pid"
		listening=
		for _ in $(seq 1 50); do
			if tail -n +"$((seen + 1))" "$DIR/sink.log" 2>/dev/null | grep -q listening; then listening=1; break; fi
			running sink || break
			sleep 0.1
		done
		[ -n "$listening" ] || die "the SMTP sink did not start on 127.0.0.1:$SMTP_PORT (log: $DIR/sink.log)"
		# the sink takes no login: one from the environment is not for it
		ALLOCATION_MAILER_SMTP_USER= ALLOCATION_MAILER_SMTP_PASSWORD= ALLOCATION_MAILER_CREDENTIALS_FILE= \
		"$(mailer_bin)" --dsn "dbname=$db" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" --tls none \
			--from allocation@localhost --poll-interval 1 "$@" >>"$DIR/mailer.log" 2>&1 &
		echo $! > "$DIR/mailer.pid"
		echo "SMTP sink on 127.0.0.1:$SMTP_PORT (Maildir $DIR/Maildir), allocation-mailer for $db (log $DIR/mailer.log)"
		;;
	stop)
		stop_one mailer
		stop_one sink
		[ "${2:-}" = quiet ] || echo "SMTP sink and allocation-mailer stopped"
		;;
	status)
		for p in sink mailer; do
			if running "$p"; then echo "$p: running (pid $(cat "$DIR/$p.pid"))"; else echo "$p: not running"; fi
		done
		echo "Maildir: $DIR/Maildir"
		;;
	env)
		printf 'export ALLOC_MAILDIR=%q ALLOC_MAILER_LOG=%q SMTP_PORT=%q\n' \
			"$DIR/Maildir" "$DIR/mailer.log" "$SMTP_PORT"
		;;
	*) usage; exit 2 ;;
esac
