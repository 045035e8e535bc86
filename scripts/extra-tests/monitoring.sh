#!/usr/bin/env bash
# scripts/extra-tests/monitoring.sh - contrib/prometheus/queries.yaml
# against the real prometheus-postgres-exporter (Debian package), on the
# throwaway cluster of "make test".
#
# A database with the extension, a consumer with events waiting, a dead
# notification, a handled message; the exporter runs as a login role that
# is only a member of allocation_admin, with the custom-queries file and
# the default metrics off, listening on a free loopback port.  /metrics,
# scraped with curl, must carry every figure of the file with the right
# value, and the exporter must report no failed query.  About 5 s.
#
# Environment (as "make test" exports it): PGHOST, PGPORT, PGUSER,
# PG_BINDIR (or PG_CONFIG).  EXPORTER_BIN: the exporter (default
# /usr/bin/prometheus-postgres-exporter).  MONITORING_KEEP_SCRAPE: a file
# to keep the scraped /metrics in.
set -uo pipefail
ROOT=${ALLOC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$ROOT" || exit 1

EXPORTER=${EXPORTER_BIN:-/usr/bin/prometheus-postgres-exporter}
QUERIES=$ROOT/contrib/prometheus/queries.yaml
DB=allocation_monitoring_test
ROLE=allocation_monitoring_test_login

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir) || { echo "monitoring: set PG_BINDIR or PG_CONFIG" >&2; exit 1; }
fi
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)
[ -x "$EXPORTER" ] ||
	{ echo "monitoring: $EXPORTER missing (run 'make deps': prometheus-postgres-exporter)" >&2; exit 1; }

export PGOPTIONS="-c client_min_messages=warning"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-monitoring-test.XXXXXX")
EXPORTER_PID=

npass=0
nfail=0
ok() { npass=$((npass + 1)); printf 'ok %d - %s\n' $((npass + nfail)) "$1"; }
not_ok() {
	nfail=$((nfail + 1))
	printf 'not ok %d - %s\n' $((npass + nfail)) "$1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$2"
}

cleanup() {
	[ -z "$EXPORTER_PID" ] || { kill "$EXPORTER_PID" 2>/dev/null; wait "$EXPORTER_PID" 2>/dev/null; }
	"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" 2>/dev/null
	"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

sql() { "${PSQL[@]}" -d "$DB" -c "$1"; }

# --- the data -----------------------------------------------------------------
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" || exit 1
"${PSQL[@]}" -d postgres -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE LOGIN IN ROLE allocation_admin" || exit 1
sql "CREATE EXTENSION allocation" || exit 1
sql "SELECT allocation.add_batch('MON-B1', 'MON-SKU', 5)" >/dev/null || exit 1
sql "SELECT allocation.register_consumer('mon-consumer')" >/dev/null || exit 1
sql "SELECT allocation.allocate('MON-o1', 'MON-SKU', 1)" >/dev/null || exit 1
sql "SELECT allocation.handle('{\"type\": \"Allocate\", \"orderid\": \"MON-o2\", \"sku\": \"MON-SKU\", \"qty\": 1, \"message_id\": \"mon-1\"}')" >/dev/null || exit 1
# an out-of-stock alert, given up on by a mailer
sql "SELECT allocation.allocate('MON-o3', 'MON-SKU', 100)" >/dev/null || exit 1
sql "SELECT allocation.mark_notification_failed(c.id, '550 no such user', true) FROM allocation.claim_notifications(10) c" >/dev/null || exit 1
expected_outbox=$(sql "SELECT count(*) FROM allocation.outbox")

# --- the exporter ---------------------------------------------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA_SOURCE_NAME="host=$PGHOST port=$PGPORT user=$ROLE dbname=$DB sslmode=disable" \
	"$EXPORTER" --web.listen-address="127.0.0.1:$PORT" --extend.query-path="$QUERIES" \
	--disable-default-metrics --disable-settings-metrics > "$WORK/exporter.log" 2>&1 &
EXPORTER_PID=$!

scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" > "$WORK/metrics" 2>/dev/null; }
deadline=$(($(date +%s) + 15))
until scrape; do
	if [ "$(date +%s)" -gt "$deadline" ] || ! kill -0 "$EXPORTER_PID" 2>/dev/null; then
		not_ok "the exporter answers on 127.0.0.1:$PORT"
		sed 's/^/#   /' "$WORK/exporter.log"
		echo "monitoring: $npass passed, $nfail failed"
		exit 1
	fi
	sleep 0.2
done
ok "the exporter answers on 127.0.0.1:$PORT"

# has METRIC LABELS VALUE: a series METRIC whose labels include LABELS
# (a regex, may be empty) with that value
has() {
	local metric=$1 labels=$2 value=$3 line
	line=$(grep -E "^$metric(\{|[[:space:]])" "$WORK/metrics" | grep -E -- "$labels" | head -n 1)
	if [ -n "$line" ] && awk -v v="$value" '{ exit !($NF == v) }' <<< "$line"; then
		ok "$metric${labels:+ [$labels]} = $value"
	else
		not_ok "$metric${labels:+ [$labels]} = $value" "got: ${line:-no such series}"
	fi
}
# positive METRIC LABELS: present and above 0
positive() {
	local metric=$1 labels=$2 line
	line=$(grep -E "^$metric(\{|[[:space:]])" "$WORK/metrics" | grep -E -- "$labels" | head -n 1)
	if [ -n "$line" ] && awk '{ exit !($NF > 0) }' <<< "$line"; then
		ok "$metric${labels:+ [$labels]} > 0"
	else
		not_ok "$metric${labels:+ [$labels]} > 0" "got: ${line:-no such series}"
	fi
}

has pg_up '' 1
has allocation_consumers '' 1
has allocation_outbox_events '' "$expected_outbox"
positive allocation_outbox_oldest_event_age_seconds ''
has allocation_inbox_messages '' 1
has allocation_notifications '' 1
has allocation_mail_unsent '' 0
has allocation_mail_retrying '' 0
has allocation_mail_claimed '' 0
has allocation_mail_dead '' 1
has allocation_mail_oldest_unsent_age_seconds '' 0
has allocation_consumer_pending_events 'consumer="mon-consumer"' "$expected_outbox"
has allocation_consumer_deliverable_events 'consumer="mon-consumer"' "$expected_outbox"
positive allocation_consumer_oldest_pending_age_seconds 'consumer="mon-consumer"'
positive allocation_consumer_last_ack_age_seconds 'consumer="mon-consumer"'
has allocation_consumer_holder_xact_age_seconds 'consumer="mon-consumer"' 0
# every query of the file ran: no error in the exporter's own figures
has pg_exporter_user_queries_load_error '' 0
has pg_exporter_last_scrape_error '' 0
cp "$WORK/metrics" "${MONITORING_KEEP_SCRAPE:-/dev/null}" 2>/dev/null
if grep -qiE 'level=(error|warn)' "$WORK/exporter.log"; then
	not_ok "the exporter logged no error or warning" "$(grep -iE 'level=(error|warn)' "$WORK/exporter.log" | head -n 3)"
else
	ok "the exporter logged no error or warning"
fi

echo "monitoring: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
