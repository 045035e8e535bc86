#!/usr/bin/env bash
# router/move_partition.sh - move one partition of an allocation cluster to
# another node, with the partition's commands paused.
#
#   router/move_partition.sh ROUTER PARTITION TARGET
#
#   ROUTER     libpq connection string of the router database
#   PARTITION  the partition number (allocation.cluster_partitions())
#   TARGET     connection string of the target node, exactly as the router
#              will use it (this script connects with it too); the node
#              runs CREATE EXTENSION allocation already
#
# Run as a superuser of the router and of both nodes (the data is copied
# table by table, with psql's \copy through this machine).  Steps:
#
#   1. pause: allocation.pause_partition() in a transaction kept open; it
#      waits for the calls in flight and holds back new calls of the
#      partition and calls that ask every node (lock_timeout
#      MOVE_LOCK_TIMEOUT);
#   2. export the partition's rows from the source node, in one snapshot:
#      product_state, batches, order_lines, allocations_view rows, the
#      orders placed in the partition (shard_key(orderid)) with their
#      subscriptions, inbox records, and the outbox events that some
#      registered consumer has not acknowledged yet (all events when no
#      consumer is registered); events every consumer has acknowledged
#      are not copied (as purge_outbox would);
#   3. import them on the target in one transaction: versions, line and
#      event counters are kept; moved events get the target's transaction
#      id as commit_key and new positions, in their original order, so the
#      target's consumers deliver them after what they already read; the
#      source's consumers are registered on the target;
#   4. point the partition at the target (CALL allocation.set_partition_node,
#      in another session);
#   5. delete the partition's rows from the source, in one transaction;
#   6. resume (commit the pausing transaction), then check: same counts on the target, nothing left on the
#      source, check_invariants() empty on both nodes.
#
# A failure before step 4 changes nothing for the application (the pause
# ends with the session's transaction; rows left on the target are
# replaced by the next run).  After step 4 the target is authoritative: running the script
# again with the same arguments deletes what is left on the other nodes of
# the cluster (name a node that has left the cluster with MOVE_ALSO_CLEAN).
#
# Environment: PG_BINDIR or PG_CONFIG (psql), MOVE_LOCK_TIMEOUT (30s),
# MOVE_ALSO_CLEAN (connection strings of more nodes to clean, one a line).
set -euo pipefail

die() { printf 'move_partition: %s\n' "$*" >&2; exit 1; }
say() { printf 'move_partition: %s\n' "$*"; }

[ $# -eq 3 ] || die "usage: $0 ROUTER PARTITION TARGET"
ROUTER=$1 PART=$2 TARGET=$3
[[ "$PART" =~ ^[0-9]+$ ]] || die "partition must be a number, not \"$PART\""

if [ -z "${PG_BINDIR:-}" ]; then
	PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null) || PG_BINDIR=$(dirname "$(command -v psql)")
fi
PSQL=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)

# q CONNSTR SQL...: one psql call
q() { local c=$1; shift; "${PSQL[@]}" -d "$c" "$@"; }
lit() { printf "'%s'" "${1//\'/\'\'}"; }

WORK=$(mktemp -d)
PAUSER=
cleanup() {
	if [ -n "$PAUSER" ]; then
		kill "$PAUSER" 2>/dev/null || true		# its session's end ends the pause
		wait "$PAUSER" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- the cluster as the router sees it -------------------------------------

q "$ROUTER" -c "SELECT 1 FROM pg_extension WHERE extname = 'allocation_router'" | grep -q 1 ||
	die "no allocation_router extension in the router database"
MASK=$(q "$ROUTER" -c "SELECT count(*) - 1 FROM allocation.cluster_partitions()")
[ "$MASK" -ge 0 ] || die "the cluster is not defined"
[ "$PART" -le "$MASK" ] || die "no partition $PART (partitions are 0 to $MASK)"
owner() { q "$ROUTER" -c "SELECT connstr FROM allocation.cluster_partitions() WHERE partition = $PART"; }
SOURCE=$(owner)

# SQL: the rows of the partition on a node
SKUS="SELECT sku FROM allocation.product_state WHERE (allocation.shard_key(sku) & $MASK) = $PART"
ORDERS="SELECT orderid FROM allocation.orders WHERE (allocation.shard_key(orderid) & $MASK) = $PART"
INBOX="CASE WHEN jsonb_typeof(i.message->'sku') = 'string' THEN (allocation.shard_key(i.message->>'sku') & $MASK) = $PART
	 WHEN i.message->>'type' = 'ChangeBatchQuantity' THEN i.message->>'ref' IN
		(SELECT reference FROM allocation.batches WHERE (allocation.shard_key(sku) & $MASK) = $PART)
	 ELSE false END"

# delete_sql: removes the partition's rows from a node, in one transaction
delete_sql() {
	cat <<-EOF
	BEGIN;
	CREATE TEMP TABLE mv_skus ON COMMIT DROP AS $SKUS;
	CREATE TEMP TABLE mv_orders ON COMMIT DROP AS $ORDERS;
	DELETE FROM allocation.inbox i WHERE $INBOX;
	DELETE FROM allocation.allocations_view WHERE sku IN (SELECT sku FROM mv_skus);
	DELETE FROM allocation.order_lines WHERE sku IN (SELECT sku FROM mv_skus);
	DELETE FROM allocation.batches WHERE sku IN (SELECT sku FROM mv_skus);
	DELETE FROM allocation.outbox WHERE aggregatetype = 'product' AND aggregateid IN (SELECT sku FROM mv_skus);
	DELETE FROM allocation.product_state WHERE sku IN (SELECT sku FROM mv_skus);
	DELETE FROM allocation.order_subscriptions WHERE orderid IN (SELECT orderid FROM mv_orders);
	DELETE FROM allocation.outbox WHERE aggregatetype = 'order' AND aggregateid IN (SELECT orderid FROM mv_orders);
	DELETE FROM allocation.orders WHERE orderid IN (SELECT orderid FROM mv_orders);
	COMMIT;
	EOF
}

# count_sql: "products batches lines view_rows orders" of the partition
count_sql() {
	cat <<-EOF
	SELECT concat_ws(' ',
		(SELECT count(*) FROM ($SKUS) s),
		(SELECT count(*) FROM allocation.batches WHERE sku IN ($SKUS)),
		(SELECT count(*) FROM allocation.order_lines WHERE sku IN ($SKUS)),
		(SELECT count(*) FROM allocation.allocations_view WHERE sku IN ($SKUS)),
		(SELECT count(*) FROM ($ORDERS) o))
	EOF
}

invariants_clean() {
	local v
	v=$(q "$1" -F ' | ' -c "SELECT * FROM allocation.check_invariants()")
	[ -z "$v" ] || { printf '%s\n' "$v" | head -n 20 >&2; die "check_invariants() is not empty on $1"; }
}

clean_others() {
	local node left nodes=()
	mapfile -t nodes < <(q "$ROUTER" -c "SELECT DISTINCT connstr FROM allocation.cluster_partitions()
		WHERE connstr <> $(lit "$TARGET")")
	if [ -n "${MOVE_ALSO_CLEAN:-}" ]; then
		mapfile -t -O "${#nodes[@]}" nodes <<< "$MOVE_ALSO_CLEAN"
	fi
	for node in "${nodes[@]}"; do
		[ -n "$node" ] || continue
		left=$(q "$node" -c "$(count_sql)")
		if [ "$left" != "0 0 0 0 0" ]; then
			say "deleting leftovers of partition $PART on $node ($left)"
			delete_sql | q "$node" >/dev/null
			invariants_clean "$node"
		fi
	done
}

if [ "$SOURCE" = "$TARGET" ]; then
	say "partition $PART is on $TARGET already; cleaning leftovers elsewhere"
	clean_others
	exit 0
fi

ext_version() { q "$1" -c "SELECT extversion FROM pg_extension WHERE extname = 'allocation'"; }
sv=$(ext_version "$SOURCE") || die "cannot connect to the source node $SOURCE"
tv=$(ext_version "$TARGET") || die "cannot connect to the target node $TARGET"
[ -n "$tv" ] || die "the target node has no allocation extension: CREATE EXTENSION allocation there first"
[ "$sv" = "$tv" ] || die "allocation $sv on the source but $tv on the target"

# --- 1. pause -----------------------------------------------------------------

coproc RT { exec "${PSQL[@]}" -d "$ROUTER" 2>&1; }
PAUSER=$RT_PID
exec {rt_in}<&"${RT[0]}" {rt_out}>&"${RT[1]}"
# rt SQL: run SQL in the router session, print its output
rt() {
	local line
	printf '%s\n\\echo __move_done__\n' "$1" >&"$rt_out"
	while IFS= read -r -t 3600 line <&"$rt_in"; do
		[ "$line" = __move_done__ ] && return 0
		printf '%s\n' "$line"
	done
	return 1
}
t0=$(date +%s%N)
# the pause lasts as long as this session's transaction
rt "BEGIN; SET LOCAL lock_timeout = $(lit "${MOVE_LOCK_TIMEOUT:-30s}"); SELECT allocation.pause_partition($PART);" >/dev/null ||
	die "could not pause partition $PART"
t_paused=$(date +%s%N)
# the owner could have changed while we waited
[ "$(owner)" = "$SOURCE" ] || die "partition $PART moved meanwhile"
say "partition $PART paused after $(( (t_paused - t0) / 1000000 )) ms; moving it from $SOURCE to $TARGET"

# --- 2. export ----------------------------------------------------------------

# The tables this script knows.  A table it does not know could hold a
# product's data: refuse rather than leave it behind.  mail_identity (the
# node's Message-ID token) stays, like the notifications its mailer sends;
# so does wal_secret (the signature of the node's events in the WAL, read
# by the node's own relay).
KNOWN="allocations_view batches consumers inbox mail_identity notifications order_lines order_subscriptions orders outbox outbox_clock product_state settings subscriptions wal_secret"
tables=$(q "$SOURCE" -c "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class
	WHERE relnamespace = 'allocation'::regnamespace AND relkind IN ('r', 'p')")
[ "$tables" = "$KNOWN" ] || die "the node's tables are ($tables), this script knows ($KNOWN): update it first"

# cols TABLE: the columns a row can be inserted with (not generated, not
# GENERATED ALWAYS AS IDENTITY), as the source has them
cols() {
	q "$SOURCE" -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = 'allocation.$1'::regclass AND attnum > 0 AND NOT attisdropped
		  AND attgenerated = '' AND attidentity <> 'a'"
}
MOVED="product_state batches order_lines allocations_view orders order_subscriptions inbox outbox"

# The commit key an event written now on the target gets, as the node
# computes it (src/adapters/outbox.c): the transaction id (plus the
# cluster's clock offset, where commit keys are bigint).
case $(q "$TARGET" -c "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = 'allocation.outbox'::regclass AND attname = 'commit_key'") in
	xid8) KEY="pg_current_xact_id()" ;;
	bigint) KEY="(pg_current_xact_id()::text::bigint + allocation._clock_offset())" ;;
	*) die "unknown type of allocation.outbox.commit_key on the target: update this script" ;;
esac
declare -A COLS
for t in $MOVED; do COLS[$t]=$(cols "$t"); done

# the rows of each moved table, as a WHERE clause on alias x
declare -A WHERE_OF=(
	[product_state]="x.sku IN (SELECT sku FROM mv_skus)"
	[batches]="x.sku IN (SELECT sku FROM mv_skus)"
	[order_lines]="x.sku IN (SELECT sku FROM mv_skus)"
	[allocations_view]="x.sku IN (SELECT sku FROM mv_skus)"
	[orders]="x.orderid IN (SELECT orderid FROM mv_orders)"
	[order_subscriptions]="x.orderid IN (SELECT orderid FROM mv_orders)"
	[inbox]="$(printf '%s' "$INBOX" | sed 's/\bi\./x./g' | tr '\n\t' '  ')"
)
EVENTS_OF_PART="((x.aggregatetype = 'product' AND x.aggregateid IN (SELECT sku FROM mv_skus)) OR (x.aggregatetype = 'order' AND x.aggregateid IN (SELECT orderid FROM mv_orders)))"

D=$WORK
{
	echo "BEGIN ISOLATION LEVEL REPEATABLE READ;"
	echo "CREATE TEMP TABLE mv_skus AS $SKUS;"
	echo "CREATE TEMP TABLE mv_orders AS $ORDERS;"
	# the slowest consumer's cursor: events after it are not delivered yet
	for t in product_state batches order_lines allocations_view orders order_subscriptions inbox; do
		echo "\\copy (SELECT ${COLS[$t]} FROM allocation.$t x WHERE ${WHERE_OF[$t]}) TO '$D/$t'"
	done
	# undelivered events, with their delivery order as a last column
	echo "\\copy (SELECT ${COLS[outbox]}, row_number() OVER (ORDER BY x.commit_key, x.position) FROM allocation.outbox x WHERE $EVENTS_OF_PART AND (NOT EXISTS (SELECT FROM allocation.consumers) OR (x.commit_key, x.position) > (SELECT c.last_key, c.last_position FROM allocation.consumers c ORDER BY c.last_key, c.last_position LIMIT 1))) TO '$D/outbox'"
	echo "\\copy (SELECT name FROM allocation.consumers) TO '$D/consumers'"
	echo "\\copy (SELECT count(*) FROM allocation.outbox x WHERE $EVENTS_OF_PART) TO '$D/all_events'"
	echo "COMMIT;"
} > "$WORK/export.sql"
q "$SOURCE" -f "$WORK/export.sql" >/dev/null || die "the export from $SOURCE failed: nothing changed"
rows() { wc -l < "$D/$1" | tr -d ' '; }
exported="$(rows product_state) $(rows batches) $(rows order_lines) $(rows allocations_view) $(rows orders)"

# --- 3. import ------------------------------------------------------------------

{
	echo "BEGIN;"
	# leftovers of an interrupted move: the router does not route here yet
	delete_sql | sed -e '/^BEGIN;$/d' -e '/^COMMIT;$/d'
	for t in $MOVED; do
		echo "CREATE TEMP TABLE in_$t ON COMMIT DROP AS SELECT ${COLS[$t]} FROM allocation.$t WITH NO DATA;"
	done
	echo "ALTER TABLE in_outbox ADD COLUMN in_ord bigint;"
	echo "CREATE TEMP TABLE in_consumers (name text) ON COMMIT DROP;"
	for t in product_state batches order_lines allocations_view orders order_subscriptions inbox; do
		echo "\\copy in_$t (${COLS[$t]}) FROM '$D/$t'"
	done
	echo "\\copy in_outbox (${COLS[outbox]}, in_ord) FROM '$D/outbox'"
	echo "\\copy in_consumers FROM '$D/consumers'"
	cat <<-'EOF'
	-- the consumers of the source read the moved events here
	INSERT INTO allocation.consumers (name) SELECT name FROM in_consumers ON CONFLICT (name) DO NOTHING;
	-- moved events are delivered after what the target's consumers read:
	-- they get this transaction's id as commit_key, and an aggregate's
	-- next events must not get a lower one, so its event_key is the same
	EOF
	echo "UPDATE in_outbox SET commit_key = $KEY;"
	echo "UPDATE in_product_state SET event_key = $KEY WHERE event_key IS NOT NULL;"
	echo "UPDATE in_orders SET event_key = $KEY WHERE event_key IS NOT NULL;"
	for t in product_state batches order_lines allocations_view orders order_subscriptions; do
		echo "INSERT INTO allocation.$t (${COLS[$t]}) SELECT ${COLS[$t]} FROM in_$t;"
	done
	echo "INSERT INTO allocation.inbox (${COLS[inbox]}) SELECT ${COLS[inbox]} FROM in_inbox ON CONFLICT DO NOTHING;"
	echo "INSERT INTO allocation.outbox (${COLS[outbox]}) SELECT ${COLS[outbox]} FROM in_outbox ORDER BY in_ord;"
	echo "COMMIT;"
} > "$WORK/import.sql"
q "$TARGET" -f "$WORK/import.sql" >/dev/null || die "the import into $TARGET failed: nothing changed"
imported=$(q "$TARGET" -c "$(count_sql)")
[ "$imported" = "$exported" ] || die "the target has $imported rows of the partition, the source $exported: not switched"

# --- 4. switch, 5. clean the source, 6. resume ----------------------------------

# in a session of its own: the procedure commits, the pause goes on
q "$ROUTER" -c "CALL allocation.set_partition_node($PART, $(lit "$TARGET"))" >/dev/null ||
	die "could not switch partition $PART to $TARGET (the copy on the target is ignored until the next run)"
[ "$(owner)" = "$TARGET" ] || die "the router does not show the switch"
delete_sql | q "$SOURCE" >/dev/null ||
	die "partition $PART is on $TARGET, but deleting it from $SOURCE failed: run this script again"
rt "COMMIT;" >/dev/null || die "could not resume partition $PART"
t_resumed=$(date +%s%N)
printf '\\q\n' >&"$rt_out"
wait "$PAUSER" 2>/dev/null || true
PAUSER=

left=$(q "$SOURCE" -c "$(count_sql)")
[ "$left" = "0 0 0 0 0" ] || die "$SOURCE still has rows of partition $PART: $left"
invariants_clean "$SOURCE"
invariants_clean "$TARGET"
read -r np nb nl nv no <<< "$exported"
say "moved partition $PART: $np products, $nb batches, $nl order lines, $nv read-model rows, $no orders," \
	"$(rows inbox) inbox records, $(rows outbox) undelivered events (of $(cat "$D/all_events"));" \
	"paused for $(( (t_resumed - t_paused) / 1000000 )) ms"
