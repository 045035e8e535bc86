#!/usr/bin/env bash
# scripts/run.sh - "make run": try the extension in a throwaway cluster.
#
# deps -> build and install (output in log/run-build.log) -> start the
# cluster (kept from an earlier run if it is there) -> recreate database
# allocation_demo with the extension and run scripts/demo.sql in it ->
# Redis and allocation-relay, one event on Redis -> recreate database
# playground, empty, with the extension (the README's psql session starts
# there) -> how to connect, last.  The cluster keeps running; "make stop"
# removes it.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

DB=allocation_demo
PLAYGROUND=playground   # scripts/cluster.sh env points PGDATABASE at it
BUILD_LOG=log/run-build.log

bash scripts/deps.sh
resolve_pg_config
PG_BINDIR=$(pg_bindir) || die "PostgreSQL server binaries not found (PG_CONFIG=$PG_CONFIG)"

mk() { "$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" "$@"; }
# build_and_install: the compiler's and install's output goes to BUILD_LOG,
# and is shown only when something fails.
build_and_install() {
	mk -j"$(nproc 2>/dev/null || echo 2)" all || return 1
	if [ "$(id -u)" -eq 0 ] ||
	   { [ -w "$("$PG_CONFIG" --pkglibdir)" ] && [ -w "$("$PG_CONFIG" --sharedir)/extension" ]; }; then
		mk install
	else
		sudo "$MAKE" --no-print-directory PG_CONFIG="$PG_CONFIG" install
	fi
}
mkdir -p "$(dirname "$BUILD_LOG")"
echo "run: building and installing the extension, allocation-relay and allocate-from-csv (output in $BUILD_LOG)"
if ! build_and_install >"$BUILD_LOG" 2>&1; then
	tail -n 40 "$BUILD_LOG" >&2
	die "the build or the install failed; the whole output is in $BUILD_LOG"
fi

bash scripts/cluster.sh start
eval "$(bash scripts/cluster.sh env)"

psql=("$PG_BINDIR/psql" -X -v ON_ERROR_STOP=1)
# recreate_db NAME: drop NAME (ending the sessions connected to it) and
# create it again with the extension, so that the demo and the README's
# session give the same result however often make run runs.
recreate_db() {
	"${psql[@]}" -q -d postgres -c 'SET client_min_messages = warning' \
		-c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
		-c "CREATE DATABASE $1"
	"${psql[@]}" -q -d "$1" -c 'CREATE EXTENSION allocation'
}
# The Maildir outlives a "make run" (until the cluster is removed), and a
# mailer an earlier run started may deliver this run's demo mails before
# step 9 restarts it: the mails shown are those delivered after this mark.
mark=$ALLOC_PGDATA.run-mark
touch "$mark"
echo "run: recreating database $DB for the demo (what an earlier make run left there is dropped)"
recreate_db "$DB"
echo
"${psql[@]}" --echo-queries -d "$DB" -f scripts/demo.sql

# --- the bridge to Redis (relay/README.md) --------------------------------------
# redis-server and allocation-relay next to the cluster (scripts/relay-ctl.sh;
# "make stop" stops them too), then one event travels to Redis.
echo
echo "== 8. The bridge to Redis =="
bash scripts/relay-ctl.sh start "$DB" --verbose
eval "$(bash scripts/relay-ctl.sh env)"
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# the relay has published the demo's events (acknowledged them) ...
for _ in $(seq 1 100); do
	[ "$("${psql[@]}" -At -d "$DB" -c "SELECT count(*) FROM allocation.outbox o, allocation.consumers c
	      WHERE c.name = 'allocation-relay' AND (o.commit_key, o.position) > (c.last_key, c.last_position)")" = 0 ] && break
	sleep 0.1
done
# ... now a subscriber listens on line_allocated, as the book's other services do
relay_sub=$(mktemp)
rcli --raw SUBSCRIBE line_allocated > "$relay_sub" 2>&1 &
relay_sub_pid=$!
trap 'kill "$relay_sub_pid" 2>/dev/null || true; rm -f "$relay_sub"' EXIT
for _ in $(seq 1 50); do
	[ "$(rcli PUBSUB NUMSUB line_allocated | tail -n 1)" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
echo "A subscriber listens on the Redis channel line_allocated. order-4 wants 3 RED-CHAIR:"
"${psql[@]}" --echo-queries -d "$DB" -c "SELECT allocation.allocate('order-4', 'RED-CHAIR', 3) AS batchref"
relay_msg=
for _ in $(seq 1 100); do
	# --raw: "message", the channel, the payload, one per line
	relay_msg=$(awk 's == 2 { print; exit } s == 1 { s = 2; next } $0 == "message" { s = 1 }' "$relay_sub")
	[ -z "$relay_msg" ] || break
	sleep 0.1
done
[ -n "$relay_msg" ] || die "no message on line_allocated within 10 s (log: $ALLOC_RELAY_DIR/relay.log)"
echo "The relay read the Allocated event from the outbox and published it; the subscriber got:"
printf '%s\n' "SELECT jsonb_pretty(:'msg'::jsonb)" | "${psql[@]}" -At -d "$DB" -v msg="$relay_msg"
kill "$relay_sub_pid" 2>/dev/null || true
echo
echo "The relay's log ($ALLOC_RELAY_DIR/relay.log, --verbose) says:"
grep -F 'published Allocated' "$ALLOC_RELAY_DIR/relay.log" | tail -n 1

echo
echo "run: recreating database $PLAYGROUND: empty, with the extension, for the README's psql session"
recreate_db "$PLAYGROUND"

cat <<EOF

== Done ==

The cluster, Redis and allocation-relay keep running; "make stop" stops them.
The demo's data is in database $DB. To put the cluster's settings in
your shell (plain psql then opens $PLAYGROUND):  eval "\$(scripts/cluster.sh env)"

Redis listens on 127.0.0.1:$REDIS_PORT. Try:

  redis-cli -p $REDIS_PORT SUBSCRIBE line_allocated
  redis-cli -p $REDIS_PORT PUBLISH change_batch_quantity '{"batchref": "shipment-red-1", "qty": 10}'

Type the README's psql session into the empty playground database:

  $PG_BINDIR/psql -h $(printf '%q' "$PGHOST") -p $PGPORT -U postgres -d $PLAYGROUND
EOF

# --- e-mails (relay/README.md, "allocation-mailer") ------------------------------
# A local SMTP sink (a Maildir under the cluster's directory) and
# allocation-mailer next to the cluster (scripts/mailer-ctl.sh; "make stop"
# stops them too): the demo's stock alert and order mail are delivered.
echo
echo "== 9. E-mails =="
bash scripts/mailer-ctl.sh start "$DB" --verbose
eval "$(bash scripts/mailer-ctl.sh env)"
unsent=
for _ in $(seq 1 100); do
	unsent=$("${psql[@]}" -At -d "$DB" -c "SELECT count(*) FROM allocation.notifications WHERE sent_at IS NULL")
	[ "$unsent" = 0 ] && break
	sleep 0.1
done
"${psql[@]}" --echo-queries -d "$DB" -c "SELECT id, recipient, subject, sent_at IS NOT NULL AS sent, attempts FROM allocation.notifications ORDER BY id"
echo "The mailbox holds (delivered by this run):"
find "$ALLOC_MAILDIR/new" -type f -newer "$mark" 2>/dev/null | sort | while read -r f; do
	grep -m1 '^To:' "$f"; grep -m1 '^Subject:' "$f"
done
if [ "$unsent" != 0 ]; then
	"${psql[@]}" -d "$DB" -c "SELECT id, attempts, last_error FROM allocation.notifications WHERE sent_at IS NULL ORDER BY id"
	die "$unsent e-mail(s) not sent within 10 s (above; the mailer's log: $ALLOC_MAILER_LOG)"
fi
cat <<EOF2

The mails are in the Maildir $ALLOC_MAILDIR (one file each in new/;
the mailer's log: $ALLOC_MAILER_LOG).  "make stop" stops the sink and the mailer.
EOF2
