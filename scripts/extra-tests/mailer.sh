#!/usr/bin/env bash
# scripts/extra-tests/mailer.sh - allocation-mailer end to end, with a real
# SMTP server on loopback (scripts/smtp-sink.py: aiosmtpd writing a
# Maildir, answering 451 or 550 for marked recipients) and the throwaway
# cluster of "make test".  The mailer runs as a login role that is only a
# member of allocation_mailer.
#
#   config      no sender, a password flag, a login with --tls none: exit 2;
#               the SMTP password from the environment never appears in
#               the log; --pg-timeout
#               (and its environment variable) and --poll-interval refuse
#               0 and NaN
#   delivery    a status change reaches every subscriber, headers and body
#               exactly as formatted (Date, From, To, Subject, Message-ID,
#               MIME); a non-ASCII subject in RFC 2047; the out-of-stock
#               alert "Out of stock for SKU"
#   retries     451 -> retried, then delivered; 550 -> dead, in the views,
#               retry_notification revives it; SMTP server down -> each
#               row given back untried, saying why, no attempt counted
#               however many claims the outage lasts; up again ->
#               delivered at once, at the first attempt; a 421 to the next
#               message on a kept connection -> a new connection at once,
#               no attempt
#   injection   CR/LF recipients and subjects refused when written; rows
#               forced in by a superuser (triggers off) are marked dead at
#               send time and no mail leaves
#   crash       kill -9 of the mailer in the middle of a batch: no mail
#               lost, a duplicate at most, with the same Message-ID
#   two         two mailers at once: every notification sent exactly once
#   SIGTERM     exit 0 after a summary line
#   PostgreSQL that does not answer (the mailer waits for it with the
#   stop signals let through, and gives a query up after --pg-timeout):
#     frozen    the mailer's backend frozen (SIGSTOP) while idle between
#               two queries: SIGTERM ends the mailer (exit 0) within 8 s;
#               with --pg-timeout 2 (in the environment) the query is
#               given up ("no answer within 2s"), the mailer reconnects
#               and delivers a notification written meanwhile
#     lock      a claim waiting on the notifications table, locked by
#               another session: SIGTERM ends the mailer within 8 s, and
#               its waiting backend is cancelled (none of its role waits
#               on the lock 2 s later)
#     send      SIGTERM while a batch is being sent: the mailer stops after
#               the message in hand (marked as sent) and gives the rest of
#               the batch back untried: the next mailer delivers it at
#               once (not after the first one's lease), each message once
#   lease       a batch that outlasts its claim: mailer A (--lease 2, a
#               batch of 8) sends to a sink that takes 0.8 s per message;
#               mailer B (a fast sink) starts once A's claim has run out.
#               Every notification arrives exactly once over both sinks
#               (by Message-ID), and A says that the rest of its batch was
#               left for the next claim (a mailer that sent its whole batch
#               regardless sends B's messages a second time)
#   outlast     a send that outlasts its claim: two mailers (--lease 1,
#               batches of 1) on a sink that answers each message 1.5 s
#               after its end; each send is given up before the claim
#               ends and counted as a failed attempt that says so; no
#               Message-ID arrives twice, no row is marked sent
#   SMTP that takes the message and never answers its end (a sink of the
#   script's own):
#     hold      SIGTERM with --timeout 30: the mailer stops within 8 s (exit
#               0), the message neither marked sent nor failed (its lease)
#     late      --timeout 2: the attempt fails; SIGTERM then stops the
#               mailer within 8 s, and its connection carried nothing after
#               the message (no next message, no QUIT)
#   refusals    a server that answers one command with one code, generated
#               over commands and codes: 4xx/5xx to the greeting, EHLO or
#               MAIL FROM kill no message and count no attempt (given
#               back untried, saying why); 5xx to RCPT TO, DATA
#               or the end of the data kills it after one attempt, unless
#               its status is 5.7.x (policy: retried); 4xx there is retried
#   ctl         scripts/mailer-ctl.sh (what "make run" uses) started over
#               the sink's log of an earlier start: the mailer reaches the
#               new sink at its first attempt and the mail is sent at once
#               (waiting on the old log's "listening" line, it connected
#               before the sink listened and backed off)
#
# Environment (as "make test" exports it): PGHOST, PGPORT, PGUSER,
# PG_BINDIR (or PG_CONFIG).  MAILER_BIN: the mailer to test (default
# relay/allocation-mailer).  About 70 s.
set -uo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT" || exit 1

MAILER=${MAILER_BIN:-$ROOT/relay/allocation-mailer}
PY=/usr/bin/python3
DB=allocation_mailer_test
ROLE=allocation_mailer_test_login

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir) || { echo "mailer: set PG_BINDIR or PG_CONFIG" >&2; exit 1; }
fi
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)
[ -x "$MAILER" ] || { echo "mailer: $MAILER not built (make mailer)" >&2; exit 1; }
"$PY" -c 'import aiosmtpd' 2>/dev/null ||
	{ echo "mailer: python3-aiosmtpd missing (run 'make deps')" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-mailer-test.XXXXXX")
MAILDIR=$WORK/Maildir
SINK_PID=
MAILER_PIDS=()

npass=0
nfail=0
ok() { npass=$((npass + 1)); printf 'ok %d - %s\n' $((npass + nfail)) "$1"; }
not_ok() {
	nfail=$((nfail + 1))
	printf 'not ok %d - %s\n' $((npass + nfail)) "$1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$2"
}
# check DESCRIPTION COMMAND... (several conditions: eval '[ ... ] && [ ... ]',
# else the && after the first one is the script's, not check's)
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

cleanup() {
	local p
	for p in "${MAILER_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null
	[ -z "${SLOW_SINK:-}" ] || kill "$SLOW_SINK" 2>/dev/null
	[ -z "${SLOW2_SINK:-}" ] || kill "$SLOW2_SINK" 2>/dev/null
	wait 2>/dev/null
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" 2>/dev/null
	"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

sql() { "${PSQL[@]}" -d "$DB" -c "$1"; }

# wait_for SECONDS SQL: until the query returns t
wait_for() {
	local deadline=$(($(date +%s) + $1))
	while [ "$(date +%s)" -le "$deadline" ]; do
		[ "$(sql "$2" 2>/dev/null)" = t ] && return 0
		sleep 0.2
	done
	return 1
}

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
SMTP_PORT=$(free_port)

# sink_up PORT: a sink answers on PORT within 5 s
sink_up() {
	local i
	for i in $(seq 50); do
		"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "mailer: the SMTP sink did not start" >&2
	cat "$WORK/sink.log" >&2
	return 1
}
start_sink() {
	"$PY" scripts/smtp-sink.py "$MAILDIR" "$SMTP_PORT" >>"$WORK/sink.log" 2>&1 &
	SINK_PID=$!
	sink_up "$SMTP_PORT"
}
stop_sink() { kill "$SINK_PID" 2>/dev/null; wait "$SINK_PID" 2>/dev/null; SINK_PID=; }

# start_mailer LOGFILE [FLAGS]: a mailer as the test role
start_mailer() {
	local log=$1
	shift
	ALLOCATION_MAILER_SMTP_USER= ALLOCATION_MAILER_SMTP_PASSWORD= \
	"$MAILER" --dsn "dbname=$DB user=$ROLE" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
		--tls none --from shop@example.com --poll-interval 0.3 --lease 3 \
		--backoff-max 0.5 --timeout 10 -v "$@" >>"$log" 2>&1 &
	MAILER_PIDS+=($!)
	LAST_MAILER=$!
}

# mails [MAILDIR]: the Maildir (default $MAILDIR) as JSON lines (python's
# email package parses them)
mails() {
	"$PY" - "${1:-$MAILDIR}" <<'PYEOF'
import email.header, email.policy, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=True)
for key in sorted(box.keys()):
    raw = box.get_bytes(key)
    m = email.message_from_bytes(raw, policy=email.policy.default)
    print(json.dumps({
        "to": str(m["To"]), "from": str(m["From"]), "subject": str(m["Subject"]),
        "raw_subject": raw.split(b"\r\n\r\n")[0].decode("ascii", "replace").split("Subject: ", 1)[-1].split("\r\nMessage-ID")[0],
        "message_id": str(m["Message-ID"]), "date": str(m["Date"]),
        "mime": str(m["MIME-Version"]), "ctype": m.get_content_type() + "; charset=" + str(m.get_content_charset()),
        "cte": m.get("Content-Transfer-Encoding", ""), "body": m.get_content(),
        "header_names": [k for k in m.keys() if k != "X-Sink-Envelope-To"],
        "envelope": str(m["X-Sink-Envelope-To"]),
        "ascii_headers": all(b < 128 for b in raw.split(b"\r\n\r\n")[0]),
    }, ensure_ascii=False))
PYEOF
}
# count_mails FILTER: number of mails for which the python expression holds (m = the JSON)
count_mails() {
	mails | "$PY" -c "
import json, sys
print(sum(1 for l in sys.stdin if (lambda m: $1)(json.loads(l))))"
}

# notify_one ORDER ADDRESS: one notification for ADDRESS
notify_one() {
	sql "SELECT allocation.create_order('$1')" >/dev/null
	sql "SELECT allocation.subscribe_to_order('$1', '$2')" >/dev/null
	sql "SELECT allocation.change_order_status('$1', 'cancelled')" >/dev/null
}

# --- setup -----------------------------------------------------------------

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" || exit 1
# the extension first: on a fresh cluster it creates allocation_mailer
sql "CREATE EXTENSION allocation" || exit 1
"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" \
	-c "CREATE ROLE $ROLE LOGIN IN ROLE allocation_mailer" || exit 1
"${PSQL[@]}" -d postgres \
	-c "ALTER DATABASE $DB SET allocation.mail_retry_delay = 1" \
	-c "ALTER DATABASE $DB SET allocation.mail_retry_max_delay = 1" \
	-c "ALTER DATABASE $DB SET allocation.mail_max_attempts = 6" || exit 1
start_sink || exit 1

# --- config ------------------------------------------------------------------

"$MAILER" --dsn "dbname=$DB" >"$WORK/c1.log" 2>&1
check "config: no sender address: exit 2" [ $? -eq 2 ]
check "config: ... saying so" grep -q "no sender address" "$WORK/c1.log"
"$MAILER" --from a@example.com --password secret >"$WORK/c2.log" 2>&1
check "config: no password flag (exit 2)" [ $? -eq 2 ]
"$MAILER" --from a@example.com --smtp-url "smtp://u:p@127.0.0.1" >"$WORK/c3.log" 2>&1
check "config: credentials in the URL refused (exit 2)" [ $? -eq 2 ]
# a path would be libcurl's EHLO name: anything but a server is refused
for url in "smtp://127.0.0.1:$SMTP_PORT/evil.example" "smtp://127.0.0.1:$SMTP_PORT/a%20b" \
	"smtp://127.0.0.1:$SMTP_PORT/x%0d%0aRSET" "smtp://127.0.0.1:$SMTP_PORT?x" \
	"smtp://127.0.0.1:$SMTP_PORT#y" "smtp://" "smtp:///x" "smtp://127.0.0.1 :$SMTP_PORT" \
	"smtp://:25" "smtp://h:x" "smtp://h:99999" "smtp://h:0" "smtp://h\\evil" "smtp://h;x=y" "smtp://[]:25" \
	"smtp://[::1:25"; do
	timeout 5 "$MAILER" --from a@example.com --dsn "dbname=$DB user=$ROLE" --tls none \
		--smtp-url "$url" >"$WORK/c11.log" 2>&1
	check "config: SMTP URL '$url' refused (exit 2, saying so)" \
		bash -c "[ $? -eq 2 ] && grep -qF 'invalid SMTP URL' '$WORK/c11.log'"
done
for url in "smtp://localhost:$SMTP_PORT/" "smtp://[::1]:$SMTP_PORT" "smtp://mail_1.example-host.test:587"; do
	# (a database that does not exist: it keeps trying to connect, sends nothing)
	timeout 2 "$MAILER" --from a@example.com --dsn "dbname=${DB}_none user=$ROLE" --tls none \
		--smtp-url "$url" >"$WORK/c12.log" 2>&1
	check "config: SMTP URL '$url' taken (still running after 2 s)" [ $? -eq 124 ]
done
# a server that cannot be reached is tried once a round (each round
# gives the row back untried): no connection was kept, so there is none
# to try again on
sql "INSERT INTO allocation.notifications (recipient, subject, body) VALUES ('zed@example.com', 'z', 'z')" >/dev/null
ALLOCATION_MAILER_SMTP_USER= ALLOCATION_MAILER_SMTP_PASSWORD= timeout 3 "$MAILER" --dsn "dbname=$DB user=$ROLE" \
	--smtp-url "smtp://127.0.0.1:$(free_port)" --tls none --from shop@example.com --backoff-max 30 \
	-v -v >"$WORK/c13.log" 2>&1
# (the stop may cut the last round between its attempt and its report)
ROUNDS=$(grep -c 'given back untried (from' "$WORK/c13.log")
TRIES=$(grep -c 'Trying 127.0.0.1' "$WORK/c13.log")
check "unreachable server: one connection attempt a round ($TRIES in $ROUNDS rounds)" \
	bash -c "[ $ROUNDS -ge 2 ] && [ $TRIES -ge $ROUNDS ] && [ $TRIES -le $((ROUNDS + 1)) ]"
sql "DELETE FROM allocation.notifications WHERE recipient = 'zed@example.com'" >/dev/null
"$MAILER" --from "a@example.com
Bcc: x@example.com" >"$WORK/c4.log" 2>&1
check "config: a sender with a line break refused (exit 2)" [ $? -eq 2 ]
# a login over an unencrypted connection, however the password comes
printf 'user=u\npassword=clear-secret\n' > "$WORK/creds"
ALLOCATION_MAILER_SMTP_USER= ALLOCATION_MAILER_SMTP_PASSWORD= timeout 5 "$MAILER" --from a@example.com --dsn "dbname=$DB user=$ROLE" \
	--smtp-url "smtp://127.0.0.1:$SMTP_PORT" --tls none --credentials-file "$WORK/creds" >"$WORK/c8.log" 2>&1
check "config: --tls none with a credentials file refused (exit 2, saying why)" \
	bash -c "[ $? -eq 2 ] && grep -qF 'would send the SMTP login unencrypted' '$WORK/c8.log' && ! grep -q clear-secret '$WORK/c8.log'"
ALLOCATION_MAILER_SMTP_USER=u ALLOCATION_MAILER_SMTP_PASSWORD=clear-secret ALLOCATION_MAILER_TLS=none timeout 5 "$MAILER" \
	--from a@example.com --dsn "dbname=$DB user=$ROLE" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" >"$WORK/c9.log" 2>&1
check "config: ALLOCATION_MAILER_TLS=none with a password in the environment refused (exit 2)" \
	bash -c "[ $? -eq 2 ] && grep -qF 'unencrypted' '$WORK/c9.log'"
ALLOCATION_MAILER_SMTP_USER=u ALLOCATION_MAILER_SMTP_PASSWORD= timeout 5 "$MAILER" --tls none \
	--from a@example.com --dsn "dbname=$DB user=$ROLE" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" >"$WORK/c10.log" 2>&1
check "config: --tls none with a user name alone refused too (exit 2)" \
	bash -c "[ $? -eq 2 ] && grep -qF 'unencrypted' '$WORK/c10.log'"
# (under timeout: a mailer that took the value would run, and be killed: 124)
for bad in 0 nan 0.4 86401; do
	timeout 5 "$MAILER" --from a@example.com --dsn "dbname=$DB user=$ROLE" --pg-timeout "$bad" >"$WORK/c5.log" 2>&1
	check "config: --pg-timeout $bad refused (exit 2, saying so)" \
		bash -c "[ $? -eq 2 ] && grep -qF 'invalid pg timeout \"$bad\" (0.5 to 86400)' '$WORK/c5.log'"
done
ALLOCATION_MAILER_PG_TIMEOUT=nan timeout 5 "$MAILER" --from a@example.com --dsn "dbname=$DB user=$ROLE" >"$WORK/c6.log" 2>&1
check "config: ALLOCATION_MAILER_PG_TIMEOUT=nan refused (exit 2)" [ $? -eq 2 ]
timeout 5 "$MAILER" --from a@example.com --dsn "dbname=$DB user=$ROLE" --poll-interval nan >"$WORK/c7.log" 2>&1
check "config: --poll-interval nan refused (exit 2)" [ $? -eq 2 ]

# --- delivery ------------------------------------------------------------------

start_mailer "$WORK/m1.log"
M1=$LAST_MAILER
sql "SELECT allocation.create_order('T-1')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-1', 'ann@example.com'), allocation.subscribe_to_order('T-1', 'bob@example.com')" >/dev/null
sql "SELECT allocation.change_order_status('T-1', 'allocated')" >/dev/null
check "status change: both notifications marked sent" \
	wait_for 15 "SELECT count(*) = 2 FROM allocation.notifications WHERE sent_at IS NOT NULL AND subject LIKE 'Order T-1 %'"
TOKEN=$(sql "SELECT token FROM allocation.mail_identity")
for who in ann bob; do
	id=$(sql "SELECT id FROM allocation.notifications WHERE recipient = '$who@example.com'")
	body=$(sql "SELECT body FROM allocation.notifications WHERE id = $id")
	want_id="<allocation.notification.$id.$TOKEN@example.com>"
	got=$(count_mails "m['to'] == '$who@example.com' and m['from'] == 'shop@example.com'
		and m['subject'] == 'Order T-1 is now allocated' and m['message_id'] == '$want_id'
		and m['mime'] == '1.0' and m['ctype'] == 'text/plain; charset=utf-8'
		and m['cte'] == 'quoted-printable' and m['envelope'] == '$who@example.com'
		and m['body'].replace('\r\n', '\n').rstrip('\n') == '''$body'''
		and m['header_names'] == ['Date', 'From', 'To', 'Subject', 'Message-ID', 'MIME-Version', 'Content-Type', 'Content-Transfer-Encoding']
		and __import__('email.utils').utils.parsedate_to_datetime(m['date']) is not None")
	check "status change: $who's mail arrived once, headers and body as formatted" [ "$got" = 1 ]
done

# a non-ASCII order id: RFC 2047 subject, decoded back to the text
sql "SELECT allocation.create_order('Zäh-€-2')" >/dev/null
sql "SELECT allocation.subscribe_to_order('Zäh-€-2', 'ann@example.com')" >/dev/null
sql "SELECT allocation.change_order_status('Zäh-€-2', 'cancelled')" >/dev/null
wait_for 15 "SELECT count(*) = 0 FROM allocation.notifications WHERE sent_at IS NULL AND subject LIKE '%Zäh%'"
check "non-ASCII subject: encoded-word in the header, the text after decoding" \
	[ "$(count_mails "m['subject'] == 'Order Zäh-€-2 is now cancelled' and m['raw_subject'].startswith('=?UTF-8?B?') and m['ascii_headers'] and 'Zäh-€-2' in m['body']")" = 1 ]

# the out-of-stock alert (the book's subject)
sql "SELECT allocation.add_batch('T-B1', 'T-LAMP', 1)" >/dev/null
"${PSQL[@]}" -d "$DB" -c "SET allocation.stock_alert_recipient = 'stock@example.com'" \
	-c "SELECT allocation.allocate('T-o1', 'T-LAMP', 5)" >/dev/null
check "out of stock: alert marked sent" \
	wait_for 15 "SELECT count(*) = 1 FROM allocation.notifications WHERE sent_at IS NOT NULL AND recipient = 'stock@example.com'"
check "out of stock: the mail says 'Out of stock for T-LAMP' and names the order" \
	[ "$(count_mails "m['to'] == 'stock@example.com' and m['subject'] == 'Out of stock for T-LAMP' and 'T-o1' in m['body']")" = 1 ]

# --- retries -------------------------------------------------------------------

sql "SELECT allocation.create_order('T-3')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-3', 'carl+tempfail@example.com'), allocation.subscribe_to_order('T-3', 'dave+reject@example.com')" >/dev/null
sql "SELECT allocation.change_order_status('T-3', 'backordered')" >/dev/null
check "451: retried, then delivered (3 attempts, the 451 recorded)" \
	wait_for 20 "SELECT sent_at IS NOT NULL AND attempts = 3 AND last_error LIKE '%451%' FROM allocation.notifications WHERE recipient = 'carl+tempfail@example.com'"
check "451: one mail" [ "$(count_mails "m['to'] == 'carl+tempfail@example.com'")" = 1 ]
check "550: dead after one attempt" \
	wait_for 15 "SELECT dead_at IS NOT NULL AND attempts = 1 AND last_error LIKE '%550%' FROM allocation.notifications WHERE recipient = 'dave+reject@example.com'"
check "550: in mail_dead and counted by mail_backlog" \
	[ "$(sql "SELECT (SELECT count(*) FROM allocation.mail_dead WHERE recipient = 'dave+reject@example.com') = 1 AND (SELECT dead FROM allocation.mail_backlog) = 1")" = t ]
DEAD_ID=$(sql "SELECT id FROM allocation.mail_dead WHERE recipient = 'dave+reject@example.com'")
FIRST_DEAD=$(sql "SELECT dead_at FROM allocation.notifications WHERE id = $DEAD_ID")
check "retry_notification revives it" [ "$(sql "SELECT allocation.retry_notification($DEAD_ID)")" = t ]
check "... it is tried again (and dies again: the server still refuses)" \
	wait_for 15 "SELECT dead_at > '$FIRST_DEAD' AND attempts = 1 FROM allocation.notifications WHERE id = $DEAD_ID"
sql "SELECT allocation.retry_notification($DEAD_ID)" >/dev/null
sql "UPDATE allocation.notifications SET recipient = 'dave@example.com' WHERE id = $DEAD_ID" >/dev/null
check "... and delivered once the address is fixed" \
	wait_for 15 "SELECT sent_at IS NOT NULL FROM allocation.notifications WHERE id = $DEAD_ID"

# SMTP server down, then up.  The server being away says nothing about a
# message: no attempt is counted however long it lasts (with 6 attempts
# and a 1 s delay here, counting them would kill the rows in seconds),
# each row says why, and the first claim once it is back delivers them.
stop_sink
for k in 1 2 3; do
	sql "SELECT allocation.create_order('T-4$k')" >/dev/null
	sql "SELECT allocation.subscribe_to_order('T-4$k', 'erin$k@example.com')" >/dev/null
	sql "SELECT allocation.change_order_status('T-4$k', 'cancelled')" >/dev/null
done
OUTAGE="SELECT count(*) = 3 AND bool_and(attempts = 0 AND last_error LIKE '%connect%' AND sent_at IS NULL AND dead_at IS NULL)
          FROM allocation.notifications WHERE recipient LIKE 'erin_@example.com'"
check "server down: each row is given back untried, saying why, with no attempt counted" \
	wait_for 10 "$OUTAGE"
sleep 4
check "... still none counted after 4 s more of claims (the backoff's longest wait: 0.5 s)" \
	[ "$(sql "$OUTAGE")" = t ]
start_sink
check "server up again: all delivered within 5 s, each at its first attempt" \
	wait_for 5 "SELECT count(*) = 3 AND bool_and(sent_at IS NOT NULL AND attempts = 1) FROM allocation.notifications WHERE recipient LIKE 'erin_@example.com'"
check "... once each" [ "$(count_mails "m['to'].startswith('erin')")" = 3 ]

# A server that ends a connection after a message (421 to the next MAIL
# FROM, the sink's +quota): a new connection at once, no attempt lost
sql "INSERT INTO allocation.notifications (recipient, subject, body)
     SELECT 'gus+quota' || g || '@example.com', 'quota ' || g, 'b' FROM generate_series(1, 5) g" >/dev/null
check "421 after a message on a kept connection: all 5 delivered, one attempt each" \
	wait_for 15 "SELECT count(*) = 5 AND bool_and(sent_at IS NOT NULL AND attempts = 1) FROM allocation.notifications WHERE recipient LIKE 'gus+quota%'"
check "... once each" [ "$(count_mails "m['to'].startswith('gus+quota')")" = 5 ]

# --- header injection ----------------------------------------------------------

st=$("${PSQL[@]}" -d "$DB" -c "SELECT allocation.subscribe_to_order('T-4', E'eve@example.com\r\nBcc: mallory@example.com')" 2>&1)
check "write time: a CR/LF e-mail is refused by subscribe_to_order" grep -q "invalid e-mail" <<<"$st"
st=$("${PSQL[@]}" -d "$DB" -c "INSERT INTO allocation.notifications (recipient, subject, body) VALUES ('eve@example.com', E'hi\nBcc: mallory@example.com', 'x')" 2>&1)
check "write time: a subject with LF refused (22023)" grep -q "invalid notification subject" <<<"$st"
st=$("${PSQL[@]}" -d "$DB" -c "INSERT INTO allocation.notifications (recipient, subject, body) VALUES (E'eve@example.com\r\nBcc: mallory@example.com', 'hi', 'x')" 2>&1)
check "write time: a recipient with CR/LF refused (22023)" grep -q "invalid notification recipient" <<<"$st"
# (the library loaded first, so that the setting's own check runs)
st=$("${PSQL[@]}" -d "$DB" -c "SELECT allocation.stock_alert_recipient()" \
	-c "SET allocation.stock_alert_recipient = E'stock@example.com\nBcc: mallory@example.com'" 2>&1)
check "write time: a CR/LF stock-alert recipient is refused by the setting" grep -q "invalid" <<<"$st"
st=$("${PSQL[@]}" -d "$DB" -c "SELECT allocation.set_stock_alert_recipient(E'stock@example.com\nBcc: mallory@example.com')" 2>&1)
check "write time: ... and by set_stock_alert_recipient" grep -q "invalid e-mail" <<<"$st"
sql "SELECT allocation.allocate('T-o2', 'T-LAMP', 5)" >/dev/null
check "write time: the alert goes to the recipient in force, never to the CR/LF one" \
	[ "$(sql "SELECT count(*) FILTER (WHERE recipient LIKE '%mallory%') || '/' || count(*) FROM allocation.notifications WHERE body LIKE '%T-o2%'")" = 0/1 ]
# rows forced in by a superuser, around the trigger
"${PSQL[@]}" -d "$DB" -c "SET session_replication_role = replica" \
	-c "INSERT INTO allocation.notifications (recipient, subject, body) VALUES
		(E'eve@example.com\r\nBcc: mallory@example.com', 'forced 1', 'x'),
		('eve@example.com', E'forced 2\r\nBcc: mallory@example.com', 'x'),
		('eve@example.com', E'forced 3\nBcc: mallory@example.com', 'x'),
		('eve@example.com', E'forced 4\u0085', 'x')" || not_ok "forced rows written"
check "send time: forced rows marked dead with a clear error" \
	wait_for 15 "SELECT count(*) = 4 FROM allocation.notifications WHERE subject LIKE 'forced%' AND dead_at IS NOT NULL AND attempts = 1 AND last_error LIKE 'refused %'"
check "send time: no mail for them, no Bcc anywhere" \
	[ "$(count_mails "m['to'].startswith('eve') or 'mallory' in m['envelope'] or 'forced' in m['subject']")" = 0 ]

# --- SIGTERM ----------------------------------------------------------------------
kill -TERM "$M1"
wait "$M1"
check "SIGTERM: exit 0" [ $? -eq 0 ]
check "... after a summary line" grep -q "stopping on SIGTERM" "$WORK/m1.log"
# (starttls: a login is refused over --tls none; the sink offers no TLS, so
# each attempt fails, and its error must not show the password either)
ALLOCATION_MAILER_SMTP_USER=shop ALLOCATION_MAILER_SMTP_PASSWORD=s3cret-XYZZY \
	"$MAILER" --dsn "dbname=$DB user=$ROLE" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
	--tls starttls --from shop@example.com -v >"$WORK/pw.log" 2>&1 &
PW=$!
sleep 1
kill -TERM "$PW"; wait "$PW"
check "the log never shows the SMTP password" bash -c "! grep -q XYZZY '$WORK/pw.log' && grep -q 'with login' '$WORK/pw.log'"

# --- kill -9 in the middle of a batch ------------------------------------------------

sql "SELECT allocation.create_order('T-5')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-5', format('k%s+slow@example.com', g)) FROM generate_series(1, 20) g" >/dev/null
sql "SELECT allocation.change_order_status('T-5', 'cancelled')" >/dev/null
start_mailer "$WORK/m2.log" --batch-size 10
deadline=$(($(date +%s) + 15))
while [ "$(count_mails "m['to'].startswith('k')")" -lt 2 ] && [ "$(date +%s)" -le "$deadline" ]; do sleep 0.05; done
kill -9 "$LAST_MAILER"
KILLED_AT=$(count_mails "m['to'].startswith('k')")
check "kill -9: killed in the middle (after $KILLED_AT of 20 mails)" eval '[ "$KILLED_AT" -ge 1 ] && [ "$KILLED_AT" -lt 20 ]'
start_mailer "$WORK/m3.log" --batch-size 10
check "kill -9: every notification sent after the lease ran out" \
	wait_for 30 "SELECT count(*) = 20 FROM allocation.notifications WHERE subject = 'Order T-5 is now cancelled' AND sent_at IS NOT NULL"
check "kill -9: no mail lost (20 distinct Message-IDs), duplicates carry the same Message-ID" \
	[ "$(mails | "$PY" -c "
import json, sys, collections
ids = collections.defaultdict(set)
for l in sys.stdin:
    m = json.loads(l)
    if m['to'].startswith('k'):
        ids[m['message_id']].add((m['to'], m['subject'], m['body']))
print(len(ids) == 20 and all(len(v) == 1 for v in ids.values()))")" = True ]
kill -TERM "$LAST_MAILER"; wait "$LAST_MAILER"

# --- two mailers -----------------------------------------------------------------
start_mailer "$WORK/m4.log" --batch-size 3
start_mailer "$WORK/m5.log" --batch-size 3
# both connected before there is work, or the first may take it all
for _ in $(seq 1 100); do
	grep -q "postgres: connected" "$WORK/m4.log" 2>/dev/null &&
		grep -q "postgres: connected" "$WORK/m5.log" 2>/dev/null && break
	sleep 0.1
done
sql "SELECT allocation.create_order('T-6')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-6', format('two%s@example.com', g)) FROM generate_series(1, 40) g" >/dev/null
sql "SELECT allocation.change_order_status('T-6', 'cancelled')" >/dev/null
check "two mailers: all 40 sent" \
	wait_for 30 "SELECT count(*) = 40 FROM allocation.notifications WHERE subject = 'Order T-6 is now cancelled' AND sent_at IS NOT NULL"
check "two mailers: each exactly once" \
	[ "$(count_mails "m['to'].startswith('two')")" = 40 ]
check "two mailers: both worked" \
	eval '[ "$(grep -c "sent to two" "$WORK/m4.log")" -gt 0 ] && [ "$(grep -c "sent to two" "$WORK/m5.log")" -gt 0 ]'
check "nothing left in the backlog but the forced dead rows" \
	[ "$(sql "SELECT unsent = 0 AND dead = 4 FROM allocation.mail_backlog")" = t ]

# --- PostgreSQL that does not answer ------------------------------------------------
# (the two mailers above stop first: the role's backends are the next mailer's)
for p in "${MAILER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${MAILER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
MAILER_PIDS=()

# stops_within SECONDS PID: it ends within that long; STOP_RC is its exit code
stops_within() {
	local n=$(($1 * 10)) _i
	STOP_RC=
	for _i in $(seq 1 "$n"); do
		kill -0 "$2" 2>/dev/null || { wait "$2"; STOP_RC=$?; return 0; }
		sleep 0.1
	done
	return 1
}
# backend_of APPLICATION_NAME: the newest backend of that name
backend_of() {
	"${PSQL[@]}" -d postgres -c "SELECT pid FROM pg_stat_activity WHERE application_name = '$1' ORDER BY backend_start DESC LIMIT 1"
}
# thaw APPLICATION_NAME PIDS...: end the frozen backends first (they must
# not run the query they were sent), then let them go
thaw() {
	local app=$1 p
	shift
	"${PSQL[@]}" -d postgres -c "SET client_min_messages = error" \
		-c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '$app'" >/dev/null
	for p in "$@"; do kill -CONT "$p" 2>/dev/null; done
}
# log_count FILE TEXT: the lines of FILE with TEXT
log_count() { grep -cF "$2" "$1"; }

# frozen between two queries, then SIGTERM
start_mailer "$WORK/f1.log" --dsn "dbname=$DB user=$ROLE application_name=mailer-freeze1"
F1=$LAST_MAILER
wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'mailer-freeze1'"
fb1=$(backend_of mailer-freeze1)
wait_for 5 "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = ${fb1:-0}"
kill -STOP "$fb1"
sleep 2					# the next claim (every 0.3 s) waits for it
kill -TERM "$F1"
check "frozen: SIGTERM while the mailer waits for its frozen backend: it stops within 8 s" \
	stops_within 8 "$F1"
check "... exit 0" [ "${STOP_RC:-x}" = 0 ]
check "... after giving the query in hand up" grep -qF "no answer within 3s of the stop signal" "$WORK/f1.log"
[ -n "$STOP_RC" ] || kill -9 "$F1" 2>/dev/null
thaw mailer-freeze1 "$fb1"

# frozen, --pg-timeout 2 (in the environment): given up, reconnected
ALLOCATION_MAILER_PG_TIMEOUT=2 start_mailer "$WORK/f2.log" --dsn "dbname=$DB user=$ROLE application_name=mailer-freeze2"
F2=$LAST_MAILER
wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'mailer-freeze2'"
fb2=$(backend_of mailer-freeze2)
wait_for 5 "SELECT state = 'idle' FROM pg_stat_activity WHERE pid = ${fb2:-0}"
kill -STOP "$fb2"
sql "SELECT allocation.create_order('T-7')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-7', 'fay@example.com')" >/dev/null
sql "SELECT allocation.change_order_status('T-7', 'cancelled')" >/dev/null
check "frozen, --pg-timeout 2: the query is given up, the connection dropped, and the mailer reconnects" \
	bash -c "for i in \$(seq 100); do grep -F 'postgres: connection lost' '$WORK/f2.log' | grep -qF 'no answer within 2s' &&
		[ \$(grep -cF 'postgres: connected' '$WORK/f2.log') -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
check "... and delivers the notification written meanwhile" \
	wait_for 10 "SELECT sent_at IS NOT NULL FROM allocation.notifications WHERE recipient = 'fay@example.com'"
check "... once" [ "$(count_mails "m['to'] == 'fay@example.com'")" = 1 ]
kill -TERM "$F2"
stops_within 8 "$F2" || kill -9 "$F2" 2>/dev/null
thaw mailer-freeze2 "$fb2"

# a claim waiting on a lock, then SIGTERM
LRELEASE=$WORK/lock-release
start_mailer "$WORK/l1.log" --dsn "dbname=$DB user=$ROLE application_name=mailer-lock"
L1=$LAST_MAILER
wait_for 10 "SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'mailer-lock'"
# the holder (a superuser) rolls back when $LRELEASE appears (at the latest after 60 s)
{
	printf "BEGIN;\nLOCK TABLE allocation.notifications IN ACCESS EXCLUSIVE MODE;\n"
	for _i in $(seq 1 600); do [ -e "$LRELEASE" ] && break; sleep 0.1; done
	printf "ROLLBACK;\n"
} | "${PSQL[@]}" -d "$DB" >/dev/null 2>&1 &
LHOLD=$!
# lock_waiters N: the query "N backends of the mailer's role wait on a lock"
lock_waiters() { echo "SELECT count(*) = $1 FROM pg_stat_activity WHERE usename = '$ROLE' AND wait_event_type = 'Lock'"; }
check "lock: the mailer's claim waits for the lock" wait_for 5 "$(lock_waiters 1)"
kill -TERM "$L1"
check "lock: SIGTERM while the claim waits: the mailer stops within 8 s" stops_within 8 "$L1"
check "... exit 0" [ "${STOP_RC:-x}" = 0 ]
[ -n "$STOP_RC" ] || kill -9 "$L1" 2>/dev/null
check "lock: ... and its claim is cancelled: no backend of its role waits on the lock 5 s later" \
	wait_for 5 "$(lock_waiters 0)"
touch "$LRELEASE"
wait "$LHOLD"

# SIGTERM in the middle of a batch: the mailer ends after the message in hand
sql "SELECT allocation.create_order('T-8')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-8', format('s%s+slow@example.com', g)) FROM generate_series(1, 20) g" >/dev/null
sql "SELECT allocation.change_order_status('T-8', 'cancelled')" >/dev/null
start_mailer "$WORK/s1.log" --batch-size 20 --lease 120
S1=$LAST_MAILER
deadline=$(($(date +%s) + 15))
SEEN=0
while [ "$SEEN" -lt 1 ] && [ "$(date +%s)" -le "$deadline" ]; do
	SEEN=$(count_mails "m['to'].startswith('s') and m['to'].endswith('+slow@example.com')")
done
kill -TERM "$S1"
check "send: SIGTERM during a batch: the mailer stops within 8 s" stops_within 8 "$S1"
check "... exit 0" [ "${STOP_RC:-x}" = 0 ]
[ -n "$STOP_RC" ] || kill -9 "$S1" 2>/dev/null
SENT_AT_STOP=$(count_mails "m['to'].startswith('s') and m['to'].endswith('+slow@example.com')")
MARKED_AT_STOP=$(sql "SELECT count(*) FROM allocation.notifications WHERE subject = 'Order T-8 is now cancelled' AND sent_at IS NOT NULL")
# (the one in hand, and up to two more that may have ended while the
# Maildir was read, on a loaded machine)
check "... after the message in hand: $SENT_AT_STOP of 20 sent ($SEEN seen before the SIGTERM), each one marked ($MARKED_AT_STOP)" \
	eval '[ "$SEEN" -ge 1 ] && [ "$SENT_AT_STOP" -le $((SEEN + 3)) ] && [ "$SENT_AT_STOP" = "$MARKED_AT_STOP" ]'
check "... saying that the rest, untried, is given back" grep -qE "stopping: [0-9]+ claimed notifications given back untried" "$WORK/s1.log"
check "... with no attempt counted for it" \
	[ "$(sql "SELECT count(*) FROM allocation.notifications WHERE subject = 'Order T-8 is now cancelled' AND sent_at IS NULL AND (attempts > 0 OR claimed_until IS NOT NULL)")" = 0 ]
start_mailer "$WORK/s2.log" --batch-size 20
S2=$LAST_MAILER
check "send: the rest is delivered by the next mailer at once, not after the first one's 120 s lease" \
	wait_for 15 "SELECT count(*) = 20 FROM allocation.notifications WHERE subject = 'Order T-8 is now cancelled' AND sent_at IS NOT NULL"
check "... each message once" \
	[ "$(count_mails "m['to'].startswith('s') and m['to'].endswith('+slow@example.com')")" = 20 ]
kill -TERM "$S2"
stops_within 8 "$S2" || kill -9 "$S2" 2>/dev/null

# --- a batch that outlasts its claim ----------------------------------------
# A claims 8 notifications for 2 s and sends them to a sink that takes 0.8 s
# per message; B (the fast sink) starts after A's claim ran out, and claims
# whatever is claimable then.  A must not send what B may have claimed.
SLOW_MAILDIR=$WORK/SlowMaildir
SLOW_PORT=$(free_port)
"$PY" scripts/smtp-sink.py "$SLOW_MAILDIR" "$SLOW_PORT" 0.8 >>"$WORK/sink.log" 2>&1 &
SLOW_SINK=$!
sink_up "$SLOW_PORT" || not_ok "lease: the slow sink started"
sql "SELECT allocation.create_order('T-11')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-11', format('lease%s@example.com', g)) FROM generate_series(1, 8) g" >/dev/null
sql "SELECT allocation.change_order_status('T-11', 'cancelled')" >/dev/null
start_mailer "$WORK/a1.log" --smtp-url "smtp://127.0.0.1:$SLOW_PORT" --lease 2 --batch-size 8
A1=$LAST_MAILER
# A's first message comes 0.8 s after its claim: 1.5 s later the claim has run out
deadline=$(($(date +%s) + 15))
while [ "$(ls "$SLOW_MAILDIR/new" 2>/dev/null | wc -l)" -lt 1 ] && [ "$(date +%s)" -le "$deadline" ]; do sleep 0.05; done
sleep 1.5
start_mailer "$WORK/b1.log" --lease 2 --batch-size 8
B1=$LAST_MAILER
check "lease: all 8 marked sent" \
	wait_for 30 "SELECT count(*) = 8 FROM allocation.notifications WHERE subject = 'Order T-11 is now cancelled' AND sent_at IS NOT NULL"
sleep 1						# (a send of A's still under way would show now)
LEASE_COUNTS=$({ mails "$SLOW_MAILDIR"; mails; } | "$PY" -c "
import json, sys, collections
ids = collections.Counter(m['message_id'] for m in map(json.loads, sys.stdin) if m['to'].startswith('lease'))
print(len(ids), sum(ids.values()))")
check "lease: every notification delivered exactly once over both sinks (distinct Message-IDs, mails: $LEASE_COUNTS)" \
	[ "$LEASE_COUNTS" = "8 8" ]
check "lease: A left the rest of its batch for the next claim, saying so" \
	grep -qF "its claim ran out before its turn (--lease 2s" "$WORK/a1.log"
kill -TERM "$A1" "$B1"
stops_within 8 "$A1" || kill -9 "$A1" 2>/dev/null
stops_within 8 "$B1" || kill -9 "$B1" 2>/dev/null
kill "$SLOW_SINK" 2>/dev/null; wait "$SLOW_SINK" 2>/dev/null

# --- a send that outlasts its claim ---------------------------------------------
# Two mailers, --lease 1, batches of 1, both on a sink that answers each
# message 1.5 s after its end: every send outlasts its claim, and the
# other mailer may claim that row meanwhile.  A transaction that has not
# ended when its claim does is given up (it was not accepted) and counted
# as a failed attempt, so nothing is sent twice and such rows end dead
# rather than claimed for ever.
SLOW2_MAILDIR=$WORK/Slow2Maildir
SLOW2_PORT=$(free_port)
"$PY" scripts/smtp-sink.py "$SLOW2_MAILDIR" "$SLOW2_PORT" 1.5 >>"$WORK/sink.log" 2>&1 &
SLOW2_SINK=$!
sink_up "$SLOW2_PORT" || not_ok "outlast: the slow sink started"
sql "SELECT allocation.create_order('T-12')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-12', format('outlast%s@example.com', g)) FROM generate_series(1, 3) g" >/dev/null
sql "SELECT allocation.change_order_status('T-12', 'cancelled')" >/dev/null
start_mailer "$WORK/o1.log" --smtp-url "smtp://127.0.0.1:$SLOW2_PORT" --lease 1 --batch-size 1
O1=$LAST_MAILER
start_mailer "$WORK/o2.log" --smtp-url "smtp://127.0.0.1:$SLOW2_PORT" --lease 1 --batch-size 1
O2=$LAST_MAILER
check "outlast: a send that outlasts its claim is given up and counted as a failed attempt" \
	wait_for 15 "SELECT bool_and(attempts >= 2 AND last_error LIKE '%claim%ran out%') FROM allocation.notifications WHERE subject = 'Order T-12 is now cancelled'"
kill -TERM "$O1" "$O2"
stops_within 8 "$O1" || kill -9 "$O1" 2>/dev/null
stops_within 8 "$O2" || kill -9 "$O2" 2>/dev/null
sleep 2						# (a server's late acceptance would show now)
OUTLAST_DUPS=$(mails "$SLOW2_MAILDIR" | "$PY" -c "
import json, sys, collections
ids = collections.Counter(m['message_id'] for m in map(json.loads, sys.stdin))
print(sum(1 for v in ids.values() if v > 1))")
check "outlast: no message delivered twice (Message-IDs delivered more than once: $OUTLAST_DUPS)" \
	[ "$OUTLAST_DUPS" = 0 ]
check "outlast: no row marked sent" \
	[ "$(sql "SELECT count(*) FROM allocation.notifications WHERE subject = 'Order T-12 is now cancelled' AND sent_at IS NOT NULL")" = 0 ]
kill "$SLOW2_SINK" 2>/dev/null; wait "$SLOW2_SINK" 2>/dev/null
sql "UPDATE allocation.notifications SET dead_at = now() WHERE subject = 'Order T-12 is now cancelled' AND sent_at IS NULL" >/dev/null

# --- an SMTP server that takes the message and never answers its end --------
# (scripts/smtp-sink.py answers at once: this one, on its own port, takes
# each message and holds the answer, and logs whatever its connection
# carries after the message's end: nothing, if the mailer gave the
# connection up as it should)
cat >"$WORK/hold-sink.py" <<'PYEOF'
import socket, sys, threading
port, log = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
def note(text):
    with lock, open(log, "a") as f:
        f.write(text + "\n")
def serve(c, n):
    f = c.makefile("rb")
    c.sendall(b"220 hold ESMTP\r\n")
    data = held = False
    for line in f:
        if held:
            note("conn %d after the message end: %r" % (n, line))
        elif data:
            if line == b".\r\n":
                note("conn %d: message in" % n)
                held = True
        elif line[:4].upper() in (b"EHLO", b"HELO"):
            c.sendall(b"250 hold\r\n")
        elif line[:4].upper() == b"DATA":
            c.sendall(b"354 go on\r\n")
            data = True
        else:
            c.sendall(b"250 ok\r\n")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(5)
n = 0
while True:
    c, _ = s.accept()
    n += 1
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
PYEOF
HOLD_PORT=$(free_port)
"$PY" "$WORK/hold-sink.py" "$HOLD_PORT" "$WORK/hold.sink" >>"$WORK/sink.log" 2>&1 &
HOLD_SINK=$!
# sink_says SECONDS TEXT: TEXT appears in the holding sink's log within SECONDS
sink_says() {
	local _i
	for _i in $(seq 1 $(($1 * 10))); do grep -qF "$2" "$WORK/hold.sink" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

# SIGTERM while the server holds the answer (--timeout 30): the message in
# hand gets a few seconds, then it is left, unmarked, to its lease (the
# server may have kept it: it is sent again, with the same Message-ID)
notify_one T-9 hold@example.com
start_mailer "$WORK/h1.log" --smtp-url "smtp://127.0.0.1:$HOLD_PORT" --timeout 30 --lease 60
H1=$LAST_MAILER
check "hold: the server has the message and holds its answer" sink_says 10 "conn 1: message in"
kill -TERM "$H1"
check "hold: SIGTERM while the SMTP server holds its answer (--timeout 30): the mailer stops within 8 s" \
	stops_within 8 "$H1"
check "... exit 0" [ "${STOP_RC:-x}" = 0 ]
[ -n "$STOP_RC" ] || kill -9 "$H1" 2>/dev/null
check "... the message neither marked sent nor counted as a failed attempt: left to its lease" \
	[ "$(sql "SELECT sent_at IS NULL AND attempts = 0 AND claimed_until > now() FROM allocation.notifications WHERE recipient = 'hold@example.com'")" = t ]
check "... saying so" grep -qF "abandoned 3s after the stop signal" "$WORK/h1.log"
sql "UPDATE allocation.notifications SET dead_at = now() WHERE recipient = 'hold@example.com'" >/dev/null

# the answer does not come within --timeout (2 s): the attempt fails, and
# libcurl must not keep that connection, where a late answer would be read
# as the next message's, and where its QUIT at exit waits two minutes
notify_one T-10 late@example.com
start_mailer "$WORK/t1.log" --smtp-url "smtp://127.0.0.1:$HOLD_PORT" --timeout 2 --lease 60
T1=$LAST_MAILER
check "late: the attempt is given up after --timeout" \
	wait_for 10 "SELECT attempts >= 1 AND last_error LIKE '%timeout%' FROM allocation.notifications WHERE recipient = 'late@example.com'"
kill -TERM "$T1"
check "late: SIGTERM then ends the mailer within 8 s (no QUIT waited for)" stops_within 8 "$T1"
check "... exit 0" [ "${STOP_RC:-x}" = 0 ]
[ -n "$STOP_RC" ] || kill -9 "$T1" 2>/dev/null
check "late: the connection was given up: nothing more came on it after the message (no next message, no QUIT)" \
	bash -c "! grep -F 'after the message end' '$WORK/hold.sink'"
kill "$HOLD_SINK" 2>/dev/null; wait "$HOLD_SINK" 2>/dev/null
sql "UPDATE allocation.notifications SET dead_at = now() WHERE recipient = 'late@example.com'" >/dev/null

# --- a silent server -----------------------------------------------------------
# A server that takes the connection and never greets, with a claim
# shorter than --timeout: the claim's clock ends each try before the
# greeting.  That too is a server that is away: no attempt counted, no
# row dead however many claims, each saying why.
SILENT_PORT=$(free_port)
"$PY" -c "
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)
held = []
while True:
    held.append(s.accept()[0])" "$SILENT_PORT" >>"$WORK/sink.log" 2>&1 &
SILENT_SINK=$!
sink_up "$SILENT_PORT" || true
for k in 1 2 3; do notify_one "T-S$k" "silent$k@example.com"; done
start_mailer "$WORK/silent.log" --smtp-url "smtp://127.0.0.1:$SILENT_PORT" --lease 2 --timeout 10 --batch-size 10
SILENT_MAILER=$LAST_MAILER
sleep 8
kill -TERM "$SILENT_MAILER"
stops_within 8 "$SILENT_MAILER" || kill -9 "$SILENT_MAILER" 2>/dev/null
check "silent server, claim shorter than --timeout: after 8 s no attempt counted, none dead, each saying why" \
	[ "$(sql "SELECT count(*) FILTER (WHERE attempts = 0 AND dead_at IS NULL AND sent_at IS NULL AND last_error LIKE '%end of the claim%--lease%') FROM allocation.notifications WHERE recipient LIKE 'silent_@example.com'")" = 3 ]
check "... tried with backoff, one row at a time after the first claim" \
	eval '[ "$(grep -c "given back untried (from" "$WORK/silent.log")" -ge 2 ] && ! grep "given back untried (from" "$WORK/silent.log" | tail -n +2 | grep -qv " 1 of 1 claimed"'
check "... the reason said once, though its numbers change" \
	[ "$(grep -c "smtp: cannot connect" "$WORK/silent.log")" = 1 ]
# SIGTERM while the server has not greeted: the message in hand was not
# sent, so it goes back untried with the rest, not to its 60 s lease
sql "UPDATE allocation.notifications SET claimed_until = NULL WHERE recipient LIKE 'silent_@example.com'" >/dev/null
start_mailer "$WORK/silent2.log" --smtp-url "smtp://127.0.0.1:$SILENT_PORT" --lease 60 --timeout 30 --batch-size 10
SILENT_MAILER=$LAST_MAILER
wait_for 5 "SELECT count(*) = 3 FROM allocation.notifications WHERE recipient LIKE 'silent_@example.com' AND claimed_until > now()" ||
	echo "# silent: the second mailer did not claim the rows in 5 s" >&2
sleep 1
kill -TERM "$SILENT_MAILER"
stops_within 8 "$SILENT_MAILER" || kill -9 "$SILENT_MAILER" 2>/dev/null
check "silent server: SIGTERM before the greeting gives the message in hand back too (none claimed, no attempt)" \
	[ "$(sql "SELECT count(*) FILTER (WHERE claimed_until IS NULL AND attempts = 0) FROM allocation.notifications WHERE recipient LIKE 'silent_@example.com'")" = 3 ]
kill "$SILENT_SINK" 2>/dev/null; wait "$SILENT_SINK" 2>/dev/null
sql "UPDATE allocation.notifications SET dead_at = now() WHERE recipient LIKE 'silent_@example.com'" >/dev/null

# --- a blip after a long outage ---------------------------------------------
# The backoff starts over once the server was back for a while: a long
# outage that pushed it to --backoff-max does not make a later short one
# hold the mail that long, and the log counts the short one from its start.
start_mailer "$WORK/blip.log" --backoff-max 6 --lease 60
BLIP_MAILER=$LAST_MAILER
stop_sink
notify_one "T-B1" "blip1@example.com"
sleep 10
start_sink
check "blip: after a 10 s outage (backoff at its 6 s maximum) the mail is delivered" \
	wait_for 10 "SELECT sent_at IS NOT NULL FROM allocation.notifications WHERE recipient = 'blip1@example.com'"
sleep 7
stop_sink
notify_one "T-B2" "blip2@example.com"
sleep 0.3
start_sink
check "blip: a short outage 7 s after it: delivered within 3 s, not after the old 6 s backoff" \
	wait_for 3 "SELECT sent_at IS NOT NULL FROM allocation.notifications WHERE recipient = 'blip2@example.com'"
check "... logged as a connection lost, then back after less than 3 s down" \
	bash -c "grep -q 'smtp: connection lost' '$WORK/blip.log' &&
		grep 'smtp: connected' '$WORK/blip.log' | tail -1 | grep -qE 'after [0-2]\.[0-9]s down'"
# A temporary failure reported with the mailer's own claim ends that
# claim: the row comes back after its delay (1 s here, doubled), not after
# the 60 s lease
notify_one "T-B3" "tess+tempfail@example.com"
check "a 451 twice under a 60 s lease: delivered after the retry delays (within 10 s), not after the lease" \
	wait_for 10 "SELECT sent_at IS NOT NULL AND attempts = 3 FROM allocation.notifications WHERE recipient = 'tess+tempfail@example.com'"
kill -TERM "$BLIP_MAILER"
stops_within 8 "$BLIP_MAILER" || kill -9 "$BLIP_MAILER" 2>/dev/null

# --- refusals: which SMTP replies kill a message ---------------------------
# A server of the script's own answers one command with one code; every
# other command is accepted.  Generated over the commands and codes: a 4xx
# or 5xx before the message (greeting, EHLO/HELO, MAIL FROM) is the
# server's or the set-up's, so no message dies of it (each is retried
# with the backoff, the rest of the batch given back); a 5xx to the
# message's own commands (RCPT TO, DATA, the end of the data) kills that
# message, a 4xx there is retried.
cat >"$WORK/refuse-sink.py" <<'PYEOF'
import socket, sys, threading
port, stage, code, text = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def reply(c, st, ok):
    c.sendall(((code + " " + text + " refused at " + st) if st == stage else ok).encode() + b"\r\n")
    return st != stage
def serve(c):
    f = c.makefile("rb")
    try:
        if not reply(c, "greeting", "220 refuse.example ESMTP"):
            c.close(); return
        for line in f:
            u = line.decode("ascii", "replace").strip().upper()
            if u.startswith("EHLO") or u.startswith("HELO"):
                reply(c, "ehlo", "250 refuse.example")
            elif u.startswith("MAIL"):
                reply(c, "mail", "250 ok")
            elif u.startswith("RCPT"):
                reply(c, "rcpt", "250 ok")
            elif u == "DATA":
                if reply(c, "data", "354 go ahead"):
                    for l in f:
                        if l in (b".\r\n", b".\n"):
                            break
                    reply(c, "end", "250 accepted")
            elif u == "QUIT":
                c.sendall(b"221 bye\r\n"); break
            else:
                c.sendall(b"250 ok\r\n")
    except OSError:
        pass
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(5)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PYEOF
nref=0
for rule in greeting:421:4.3.2 greeting:554:5.3.2 ehlo:550:5.5.1 mail:451:4.3.0 \
	mail:530:5.7.0 mail:550:5.1.8 rcpt:450:4.2.1 rcpt:550:5.1.1 rcpt:554:5.7.1 \
	rcpt:421:4.4.2 data:451:4.3.0 data:554:5.6.0 end:452:4.3.1 end:554:5.6.0 \
	end:421:4.4.2 end:550:5.7.1; do
	stage=${rule%%:*} code=${rule#*:} text=${code#*:} code=${code%%:*} nref=$((nref + 1))
	# dead: a 5xx to the message's own commands, unless its status is 5.7 (policy)
	case $stage:$code:$text in greeting:* | ehlo:* | mail:* | *:4*:* | *:5.7.*) want_dead=0 ;; *) want_dead=1 ;; esac
	REF_PORT=$(free_port)
	"$PY" "$WORK/refuse-sink.py" "$REF_PORT" "$stage" "$code" "$text" >>"$WORK/sink.log" 2>&1 &
	REF_SINK=$!
	sink_up "$REF_PORT" || true
	for k in 1 2 3; do notify_one "R-$nref$k" "refused$nref@example.com"; done
	start_mailer "$WORK/r$nref.log" --smtp-url "smtp://127.0.0.1:$REF_PORT" --batch-size 10
	R1=$LAST_MAILER
	# every row has had its attempt (or died of it), or was given back untried
	wait_for 15 "SELECT bool_and(attempts >= 1 OR last_error IS NOT NULL) FROM allocation.notifications WHERE recipient = 'refused$nref@example.com'" ||
		echo "# refusals: $rule: not every row was attempted in 15 s" >&2
	kill -TERM "$R1"
	stops_within 8 "$R1" || kill -9 "$R1" 2>/dev/null
	kill "$REF_SINK" 2>/dev/null; wait "$REF_SINK" 2>/dev/null
	if [ "$want_dead" = 1 ]; then
		check "refusals: $code $text to the message's $stage: each message is dead after its one attempt" \
			[ "$(sql "SELECT count(*) FILTER (WHERE dead_at IS NOT NULL AND attempts = 1 AND last_error LIKE '%$code%') FROM allocation.notifications WHERE recipient = 'refused$nref@example.com'")" = 3 ]
	else
		# before the message's own commands: the server's, no attempt counted
		case $stage in greeting | ehlo | mail) attempted="attempts = 0" ;; *) attempted="attempts >= 1" ;; esac
		check "refusals: $code $text to the $stage: no message dies of it, each is to be retried, saying why ($attempted)" \
			[ "$(sql "SELECT count(*) FILTER (WHERE dead_at IS NULL AND sent_at IS NULL AND $attempted AND last_error LIKE '%$code%') FROM allocation.notifications WHERE recipient = 'refused$nref@example.com'")" = 3 ]
	fi
	sql "UPDATE allocation.notifications SET dead_at = coalesce(dead_at, now()) WHERE recipient = 'refused$nref@example.com'" >/dev/null
done

# --- scripts/mailer-ctl.sh over an earlier start's log -------------------------
for p in "${MAILER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
CTL_DB=${DB}_ctl
PGOPTIONS="-c client_min_messages=warning" "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $CTL_DB" -c "CREATE DATABASE $CTL_DB" &&
	"${PSQL[@]}" -d "$CTL_DB" -c "CREATE EXTENSION allocation" \
		-c "SELECT allocation.create_order('CTL-1')" \
		-c "SELECT allocation.subscribe_to_order('CTL-1', 'ctl@example.com')" \
		-c "SELECT allocation.change_order_status('CTL-1', 'cancelled')" >/dev/null
mkdir -p "$WORK/ctl"
CTL_PORT=$(free_port)
# a first start, with no sink log yet (a fresh cluster's, after make stop)
ALLOC_MAIL_DIR=$WORK/ctl-fresh ALLOC_SMTP_PORT=$CTL_PORT bash scripts/mailer-ctl.sh start "$CTL_DB" >"$WORK/ctl/fresh.out" 2>&1
# (the status read whole: grep -q ending the pipe early would fail it, under pipefail)
fresh_status=$(ALLOC_MAIL_DIR=$WORK/ctl-fresh bash scripts/mailer-ctl.sh status)
check "ctl: a first start (no sink log yet) starts the sink and the mailer" \
	eval 'grep -q "^SMTP sink on" "$WORK/ctl/fresh.out" && grep -q "mailer: running" <<< "$fresh_status"'
ALLOC_MAIL_DIR=$WORK/ctl-fresh bash scripts/mailer-ctl.sh stop quiet
for try in 1 2 3; do
	# what the sink of an earlier start left in the log they share
	echo "smtp-sink: listening on 127.0.0.1:$CTL_PORT, Maildir $WORK/ctl/Maildir" >> "$WORK/ctl/sink.log"
	ALLOC_MAIL_DIR=$WORK/ctl ALLOC_SMTP_PORT=$CTL_PORT bash scripts/mailer-ctl.sh start "$CTL_DB" >/dev/null 2>>"$WORK/ctl/ctl.err"
	ctl_sent=f
	for _ in $(seq 1 100); do
		ctl_sent=$("${PSQL[@]}" -d "$CTL_DB" -c "SELECT count(*) = 1 FROM allocation.notifications WHERE sent_at IS NOT NULL")
		[ "$ctl_sent" = t ] && break
		sleep 0.1
	done
	ALLOC_MAIL_DIR=$WORK/ctl bash scripts/mailer-ctl.sh stop quiet
	[ "$ctl_sent" = t ] || break
	"${PSQL[@]}" -d "$CTL_DB" -c "UPDATE allocation.notifications SET sent_at = NULL, attempts = 0" >/dev/null
done
check "ctl: mailer-ctl.sh start over an earlier sink's log: the mail is sent within 10 s, three starts in a row" [ "$ctl_sent" = t ]
# (the SMTP link's own message: a PostgreSQL connection refused under load
# says "postgres: cannot connect", which is not what this is about)
check "ctl: the mailer never found the sink not listening" eval '! grep -q "smtp: cannot connect" "$WORK/ctl/mailer.log"'
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $CTL_DB" >/dev/null

if [ "$nfail" -gt 0 ]; then
	for f in "$WORK/ctl/fresh.out" "$WORK/ctl-fresh/mailer.log" "$WORK/ctl-fresh/sink.log" "$WORK/ctl/mailer.log" "$WORK/ctl/ctl.err" "$WORK"/[mflshtabor][0-9]*.log "$WORK"/*.sink "$WORK/sink.log"; do printf -- '---- %s\n' "$f"; tail -n 30 "$f"; done
fi
printf '1..%d\n' $((npass + nfail))
[ "$nfail" -eq 0 ]
