#!/usr/bin/env bash
# scripts/extra-tests/mailer.sh - allocation-mailer end to end, with a real
# SMTP server on loopback (scripts/smtp-sink.py: aiosmtpd writing a
# Maildir, answering 451 or 550 for marked recipients) and the throwaway
# cluster of "make test".  The mailer runs as a login role that is only a
# member of allocation_mailer.
#
#   config      no sender, a password flag: exit 2; the SMTP password from
#               the environment never appears in the log
#   delivery    a status change reaches every subscriber, headers and body
#               exactly as formatted (Date, From, To, Subject, Message-ID,
#               MIME); a non-ASCII subject in RFC 2047; the out-of-stock
#               alert "Out of stock for SKU"
#   retries     451 -> retried, then delivered; 550 -> dead, in the views,
#               retry_notification revives it; SMTP server down then up ->
#               delivered after retries
#   injection   CR/LF recipients and subjects refused when written; rows
#               forced in by a superuser (triggers off) are marked dead at
#               send time and no mail leaves
#   crash       kill -9 of the mailer in the middle of a batch: no mail
#               lost, a duplicate at most, with the same Message-ID
#   two         two mailers at once: every notification sent exactly once
#   SIGTERM     exit 0 after a summary line
#
# Environment (as "make test" exports it): PGHOST, PGPORT, PGUSER,
# PG_BINDIR (or PG_CONFIG).  MAILER_BIN: the mailer to test (default
# relay/allocation-mailer).  About 30 s.
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
# check DESCRIPTION COMMAND...
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }

cleanup() {
	local p
	for p in "${MAILER_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null
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

start_sink() {
	"$PY" scripts/smtp-sink.py "$MAILDIR" "$SMTP_PORT" >>"$WORK/sink.log" 2>&1 &
	SINK_PID=$!
	local i
	for i in $(seq 50); do
		"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT), 1)" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "mailer: the SMTP sink did not start" >&2
	cat "$WORK/sink.log" >&2
	return 1
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

# mails: the Maildir as JSON lines (python's email package parses them)
mails() {
	"$PY" - "$MAILDIR" <<'PYEOF'
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

# --- setup -----------------------------------------------------------------

"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" || exit 1
"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" \
	-c "CREATE ROLE $ROLE LOGIN IN ROLE allocation_mailer" || exit 1
sql "CREATE EXTENSION allocation" || exit 1
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
"$MAILER" --from "a@example.com
Bcc: x@example.com" >"$WORK/c4.log" 2>&1
check "config: a sender with a line break refused (exit 2)" [ $? -eq 2 ]

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

# SMTP server down, then up
stop_sink
sql "SELECT allocation.create_order('T-4')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-4', 'erin@example.com')" >/dev/null
sql "SELECT allocation.change_order_status('T-4', 'cancelled')" >/dev/null
check "server down: attempts fail and are counted" \
	wait_for 15 "SELECT attempts >= 2 AND sent_at IS NULL AND dead_at IS NULL FROM allocation.notifications WHERE recipient = 'erin@example.com'"
start_sink
check "server up again: delivered" \
	wait_for 20 "SELECT sent_at IS NOT NULL FROM allocation.notifications WHERE recipient = 'erin@example.com'"
check "... once" [ "$(count_mails "m['to'] == 'erin@example.com'")" = 1 ]

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
ALLOCATION_MAILER_SMTP_USER=shop ALLOCATION_MAILER_SMTP_PASSWORD=s3cret-XYZZY \
	"$MAILER" --dsn "dbname=$DB user=$ROLE" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
	--tls none --from shop@example.com -v >"$WORK/pw.log" 2>&1 &
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
check "kill -9: killed in the middle (after $KILLED_AT of 20 mails)" [ "$KILLED_AT" -ge 1 ] && [ "$KILLED_AT" -lt 20 ]
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
sql "SELECT allocation.create_order('T-6')" >/dev/null
sql "SELECT allocation.subscribe_to_order('T-6', format('two%s@example.com', g)) FROM generate_series(1, 40) g" >/dev/null
sql "SELECT allocation.change_order_status('T-6', 'cancelled')" >/dev/null
check "two mailers: all 40 sent" \
	wait_for 30 "SELECT count(*) = 40 FROM allocation.notifications WHERE subject = 'Order T-6 is now cancelled' AND sent_at IS NOT NULL"
check "two mailers: each exactly once" \
	[ "$(count_mails "m['to'].startswith('two')")" = 40 ]
check "two mailers: both worked" \
	[ "$(grep -c "sent to two" "$WORK/m4.log")" -gt 0 ] && [ "$(grep -c "sent to two" "$WORK/m5.log")" -gt 0 ]
check "nothing left in the backlog but the forced dead rows" \
	[ "$(sql "SELECT unsent = 0 AND dead = 4 FROM allocation.mail_backlog")" = t ]

if [ "$nfail" -gt 0 ]; then
	for f in "$WORK"/m*.log "$WORK/sink.log"; do printf -- '---- %s\n' "$f"; tail -n 30 "$f"; done
fi
printf '1..%d\n' $((npass + nfail))
[ "$nfail" -eq 0 ]
