/* router/sql/allocation_router.sql: install script of extension allocation_router */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION allocation_router CASCADE" to load this file. \quit

--------------------------------------------------------------------------
-- A router database in front of N node databases, each running the
-- ordinary extension "allocation".  Schema "allocation" here has the same
-- functions (names, arguments, results) and read views as on a node, so
-- an application's SQL runs unchanged; each call is forwarded with
-- PL/Proxy to the node that holds the product, by
--
--     partition = allocation.shard_key(sku) & (partitions - 1)
--
-- where partitions (a power of 2, more than the nodes) are mapped to node
-- connection strings by the foreign server "allocation_cluster"
-- (allocation.define_cluster).  Orders of order tracking are placed the
-- same way by their orderid.  Internals live in schema allocation_router.
--
-- Every call commits on its node when it returns: see router/README.md
-- for what that changes for an application.
--------------------------------------------------------------------------

-- Roles, as on a node (the contract: security model).
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_user') THEN
		CREATE ROLE allocation_user NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'allocation_admin') THEN
		CREATE ROLE allocation_admin NOLOGIN;
	END IF;
	IF NOT pg_catalog.pg_has_role('allocation_admin', 'allocation_user', 'MEMBER') THEN
		GRANT allocation_user TO allocation_admin;
	END IF;
END
$roles$;

REVOKE ALL ON SCHEMA allocation FROM PUBLIC;
GRANT USAGE ON SCHEMA allocation TO allocation_user;

CREATE SCHEMA allocation_router;
REVOKE ALL ON SCHEMA allocation_router FROM PUBLIC;
GRANT USAGE ON SCHEMA allocation_router TO allocation_user;
COMMENT ON SCHEMA allocation_router IS
	'Internals of the allocation router: PL/Proxy functions, routing state. Call the functions of schema allocation instead.';

--------------------------------------------------------------------------
-- The placement hash, identical to the node's C function (src/core/shard.c):
-- 32-bit FNV-1a over the UTF-8 bytes, then MurmurHash3's fmix32, as a
-- signed integer.  PL/Proxy evaluates the partition on the router, so the
-- router needs the same function; scripts/extra-tests/router.sh proves
-- that both give the same values.  Arithmetic is done in bigint and kept
-- to 32 bits; the two fmix32 products are split in 16-bit halves so that
-- nothing overflows 63 bits.
--
-- Every function of this extension runs with search_path pinned to
-- pg_catalog, pg_temp, and names pg_catalog's operators explicitly where
-- their operands have different types (bigint # integer has no exact
-- operator in pg_catalog, so an exact one planted in a schema on the
-- caller's search_path would win): nothing a caller's search_path holds
-- runs inside the router's functions.
--------------------------------------------------------------------------
CREATE FUNCTION allocation.shard_key(sku text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	b	bytea;
	h	bigint := 2166136261;		-- FNV offset basis
BEGIN
	IF sku IS NULL THEN
		RAISE EXCEPTION 'argument "sku" must not be null' USING ERRCODE = '22004';
	END IF;
	b := pg_catalog.convert_to(sku, 'UTF8');
	FOR i IN 0 .. pg_catalog.length(b) OPERATOR(pg_catalog.-) 1 LOOP
		h := ((h OPERATOR(pg_catalog.#) pg_catalog.get_byte(b, i)::bigint)
			  OPERATOR(pg_catalog.*) 16777619::bigint)
			 OPERATOR(pg_catalog.&) 4294967295::bigint;	-- FNV prime
	END LOOP;
	-- fmix32: h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16
	h := h OPERATOR(pg_catalog.#) (h OPERATOR(pg_catalog.>>) 16);
	h := ((h OPERATOR(pg_catalog.*) 51819::bigint)	-- 0x85eb:0xca6b
		  OPERATOR(pg_catalog.+) (((h OPERATOR(pg_catalog.*) 34283::bigint) OPERATOR(pg_catalog.&) 65535::bigint)
								  OPERATOR(pg_catalog.<<) 16))
		 OPERATOR(pg_catalog.&) 4294967295::bigint;
	h := h OPERATOR(pg_catalog.#) (h OPERATOR(pg_catalog.>>) 13);
	h := ((h OPERATOR(pg_catalog.*) 44597::bigint)	-- 0xc2b2:0xae35
		  OPERATOR(pg_catalog.+) (((h OPERATOR(pg_catalog.*) 49842::bigint) OPERATOR(pg_catalog.&) 65535::bigint)
								  OPERATOR(pg_catalog.<<) 16))
		 OPERATOR(pg_catalog.&) 4294967295::bigint;
	h := h OPERATOR(pg_catalog.#) (h OPERATOR(pg_catalog.>>) 16);
	RETURN (CASE WHEN h OPERATOR(pg_catalog.>=) 2147483648::bigint
				 THEN h OPERATOR(pg_catalog.-) 4294967296::bigint ELSE h END)::integer;
END
$$;
COMMENT ON FUNCTION allocation.shard_key(text) IS
	'Placement hash of a SKU (FNV-1a + fmix32 over its UTF-8 bytes): the same values as the node''s C function.';

--------------------------------------------------------------------------
-- Routing state.
--
-- The sequence holds generation * 2048 + 1024 (when a cluster is defined)
-- + (partitions - 1): read without a snapshot (a sequence is not
-- transactional), so even a REPEATABLE READ router transaction sees a
-- cluster change at once.  0: never defined.
--
-- Gates: table allocation_router.partitions has one row per possible
-- partition; only the extension's owner has rights on it.  Every PL/Proxy
-- function takes its gate itself, in its CLUSTER clause (evaluated before
-- PL/Proxy loads the partition map): a row lock FOR SHARE on the
-- partition of its key (a SKU, an order id, the lines of allocate_many),
-- or on every partition in partition order for a call that asks every
-- node or one whole node.  pause_partition locks its row FOR UPDATE, so it
-- waits for the calls in flight and holds back new ones until its
-- transaction ends.  Gates are taken in partition order and a partition
-- already held is held again at no cost, so a transaction that makes a
-- routed call and then a call to every node cannot deadlock with a pause.
-- The gate functions are SECURITY DEFINER: a role can take a gate only
-- by calling the router (allocation_user); no other role can lock the
-- rows.  After the gate, a call compares the generation with the one its
-- session last saw; when it changed, it makes the backend process pending
-- catalog invalidations (a relation lock taken and released in a
-- subtransaction), so that PL/Proxy reloads the partition map before
-- forwarding the call.  A call that waited for a partition move therefore
-- goes to the new node.
--------------------------------------------------------------------------
CREATE SEQUENCE allocation_router.routing MINVALUE 0 NO CYCLE;
SELECT pg_catalog.setval('allocation_router.routing', 0, true);
SELECT pg_catalog.pg_extension_config_dump('allocation_router.routing', '');
COMMENT ON SEQUENCE allocation_router.routing IS
	'generation * 2048 + 1024 when defined + (partitions - 1): the cluster definition, as the router''s sessions see it.';

-- One row per possible partition (up to 1024), never updated: the gates.
CREATE TABLE allocation_router.partitions (partition integer PRIMARY KEY);
INSERT INTO allocation_router.partitions SELECT pg_catalog.generate_series(0, 1023);
COMMENT ON TABLE allocation_router.partitions IS
	'The gates of the router: callers lock their partitions'' rows FOR SHARE, pause_partition FOR UPDATE.';

-- A line of allocate_many.
CREATE TYPE allocation.order_line AS (orderid text, sku text, qty integer);

-- Locked only inside a subtransaction that is rolled back: the lock is
-- always new, so taking it processes pending invalidation messages.
CREATE TABLE allocation_router.invalidation_probe ();

-- A random key made at install time, readable by the extension's owner
-- only.  What a session last saw is kept in its setting
-- allocation_router.generation as a hash of this key and the generation:
-- any session can SET that setting, but without the key it cannot write
-- the value of a generation that is not yet published, so it cannot make
-- its next call skip the reload after a change.
CREATE TABLE allocation_router.generation_key (key text NOT NULL);
INSERT INTO allocation_router.generation_key
	SELECT pg_catalog.gen_random_uuid()::text OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text;
COMMENT ON TABLE allocation_router.generation_key IS
	'Secret of the router''s sessions'' generation tokens (owner only).';

-- sync_routing(r): raise when no cluster is defined; make PL/Proxy reload
-- the map when the generation changed since this session last looked.
-- Runs as the extension's owner (under the SECURITY DEFINER gates).
CREATE FUNCTION allocation_router.sync_routing(r bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	token	text;
BEGIN
	IF r IS NULL OR (r OPERATOR(pg_catalog.&) 1024::bigint) OPERATOR(pg_catalog.=) 0::bigint THEN
		RAISE EXCEPTION 'the allocation cluster is not defined'
			USING ERRCODE = '55000',
				  HINT = 'A superuser defines it with allocation.define_cluster(ARRAY[''<node connection string>'', ...]).';
	END IF;
	SELECT pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
			k.key OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) (r OPERATOR(pg_catalog.>>) 11)::text, 'UTF8')), 'hex')
	  INTO token
	  FROM allocation_router.generation_key k;
	IF pg_catalog.current_setting('allocation_router.generation', true) IS DISTINCT FROM token THEN
		BEGIN
			LOCK TABLE allocation_router.invalidation_probe IN ACCESS SHARE MODE;
			RAISE SQLSTATE 'ZR000';
		EXCEPTION WHEN SQLSTATE 'ZR000' THEN
			NULL;
		END;
		PERFORM pg_catalog.set_config('allocation_router.generation', token, false);
	END IF;
END
$$;

-- The functions a routed call runs on its way (the gates, the hashes,
-- mask, key_partition, the public wrappers of routed calls) are PL/pgSQL,
-- not SQL: a SQL function with a SET clause is never inlined, and its
-- body is parsed and planned again each time the statement that calls it
-- starts, which PL/Proxy's CLUSTER and RUN ON queries do on every call.
-- PL/pgSQL keeps its plans for the session.  scripts/extra-tests/router.sh
-- ("cost") checks that a routed call parses nothing once warm.

-- mask(): partitions - 1 of the current definition.
CREATE FUNCTION allocation_router.mask()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN (pg_catalog.pg_sequence_last_value('allocation_router.routing'::regclass)
			OPERATOR(pg_catalog.&) 1023::bigint)::integer;
END
$$;

-- key_partition(key): the partition of a key (partition 0 for NULL: its
-- node then reports the missing argument itself).
CREATE FUNCTION allocation_router.key_partition(key text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF key IS NULL THEN
		RETURN 0;
	END IF;
	RETURN allocation.shard_key(key) OPERATOR(pg_catalog.&) allocation_router.mask();
END
$$;

-- lock_partitions(parts, reading): the gates of some partitions, in
-- partition order; then the generation check.  Returns the cluster's
-- name, for the CLUSTER clause of a PL/Proxy function.
-- A READ ONLY transaction cannot lock rows.  There, a call that only
-- reads (reading) takes the read-only gate instead: the gates' table in
-- ROW EXCLUSIVE mode, which pause_partition's SHARE lock holds back (any
-- pause, not only its partition's); a call that writes is refused with
-- 25006, as a node refuses it.
CREATE FUNCTION allocation_router.lock_partitions(parts integer[], reading boolean DEFAULT false)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_read_only') OPERATOR(pg_catalog.=) 'on'::text THEN
		IF NOT reading THEN
			RAISE EXCEPTION 'cannot send a command through the router in a read-only transaction'
				USING ERRCODE = '25006';
		END IF;
		LOCK TABLE allocation_router.partitions IN ROW EXCLUSIVE MODE;
	ELSE
		PERFORM FROM allocation_router.partitions p
		  WHERE p.partition OPERATOR(pg_catalog.=) ANY (parts)
		  ORDER BY p.partition
		    FOR SHARE;
	END IF;
	PERFORM allocation_router.sync_routing(
		pg_catalog.pg_sequence_last_value('allocation_router.routing'::regclass));
	RETURN 'allocation_cluster';
END
$$;

-- The gates as PL/Proxy's CLUSTER clauses use them: SECURITY DEFINER,
-- so that the caller can lock the gates' rows through them only (the
-- functions above are the owner's).

-- gate(key): the gate of the partition of a SKU or an order id.
CREATE FUNCTION allocation_router.gate(key text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.lock_partitions(ARRAY[allocation_router.key_partition(key)]);
END
$$;

-- gate_all(): every partition's gate, for a call that asks every node or
-- a whole node.
CREATE FUNCTION allocation_router.gate_all()
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.lock_partitions(
		ARRAY(SELECT pg_catalog.generate_series(0, allocation_router.mask())));
END
$$;

-- gate_read(key), gate_read_all(): the same gates for calls that only
-- read, which a READ ONLY transaction may make.
CREATE FUNCTION allocation_router.gate_read(key text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.lock_partitions(ARRAY[allocation_router.key_partition(key)], true);
END
$$;

CREATE FUNCTION allocation_router.gate_read_all()
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.lock_partitions(
		ARRAY(SELECT pg_catalog.generate_series(0, allocation_router.mask())), true);
END
$$;

-- gate_lines(lines): the gates of the partitions of the lines' SKUs.
-- Each partition once, whatever the number of lines, and the mask read
-- once (key_partition would read it per line).
CREATE FUNCTION allocation_router.gate_lines(lines allocation.order_line[])
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.lock_partitions(ARRAY(
		SELECT DISTINCT CASE WHEN l.sku IS NULL THEN 0
							 ELSE allocation.shard_key(l.sku) OPERATOR(pg_catalog.&) m.mask END
		  FROM (SELECT allocation_router.mask() AS mask) m, pg_catalog.unnest(gate_lines.lines) l));
END
$$;

-- gate_message(message): the gate of the message's SKU; every gate for a
-- message without one (it then goes where the caller says, but no
-- partition can be moving meanwhile).
CREATE FUNCTION allocation_router.gate_message(message jsonb)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.jsonb_typeof(message OPERATOR(pg_catalog.->) 'sku'::text) OPERATOR(pg_catalog.=) 'string'::text THEN
		RETURN allocation_router.gate(message OPERATOR(pg_catalog.->>) 'sku'::text);
	END IF;
	RETURN allocation_router.gate_all();
END
$$;

-- The RUN ON hashes take no gate: PL/Proxy evaluates a function's CLUSTER
-- clause (its gate, which covers every partition the hash can name)
-- before its RUN ON clause, in every call, and each PL/Proxy function
-- below has a gate in its CLUSTER clause.  Taking the gate a second time
-- here changed nothing but doubled the gates' cost of every routed call.
CREATE FUNCTION allocation_router.key_hash(key text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN CASE WHEN key IS NULL THEN 0 ELSE allocation.shard_key(key) END;
END
$$;

CREATE FUNCTION allocation_router.all_hash(h integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN COALESCE(h, 0);
END
$$;

CREATE FUNCTION allocation_router.message_hash(h integer, message jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.jsonb_typeof(message OPERATOR(pg_catalog.->) 'sku'::text) OPERATOR(pg_catalog.=) 'string'::text THEN
		RETURN allocation_router.key_hash(message OPERATOR(pg_catalog.->>) 'sku'::text);
	END IF;
	RETURN allocation_router.all_hash(h);
END
$$;

--------------------------------------------------------------------------
-- The cluster definition: a PL/Proxy SQL/MED server with one option
-- p<i> = connection string per partition, and a user mapping.
--------------------------------------------------------------------------

CREATE FUNCTION allocation.cluster_partitions()
RETURNS TABLE (partition integer, connstr text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT pg_catalog.substr(o.option_name, 2)::integer, o.option_value
	  FROM pg_catalog.pg_foreign_server s,
		   pg_catalog.pg_options_to_table(s.srvoptions) o
	 WHERE s.srvname OPERATOR(pg_catalog.=) 'allocation_cluster'
	   AND o.option_name OPERATOR(pg_catalog.~) '^p[0-9]+$'
	 ORDER BY 1;
END
$$;
COMMENT ON FUNCTION allocation.cluster_partitions() IS
	'The partition map of the cluster: partition number and the connection string of its node.';

CREATE FUNCTION allocation.nodes()
RETURNS TABLE (node integer, connstr text, partitions integer[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN QUERY
	SELECT (pg_catalog.row_number() OVER (ORDER BY pg_catalog.min(c.partition)))::integer,
		   c.connstr,
		   pg_catalog.array_agg(c.partition ORDER BY c.partition)
	  FROM allocation.cluster_partitions() c
	 GROUP BY c.connstr
	 ORDER BY 1;
END
$$;
COMMENT ON FUNCTION allocation.nodes() IS
	'One row a node of the cluster (a distinct connection string): a number, its connection string and its partitions.';

CREATE FUNCTION allocation.partition_of(sku text)
RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT allocation.shard_key($1)
		   OPERATOR(pg_catalog.&) (pg_catalog.pg_sequence_last_value('allocation_router.routing'::regclass)
								   OPERATOR(pg_catalog.&) 1023::bigint)::integer
$$;
COMMENT ON FUNCTION allocation.partition_of(text) IS
	'The partition of a SKU (or of an order id) in the current cluster definition.';

-- define_cluster: the two bounds on a node that does not answer, in
-- seconds (0 for none), are PL/Proxy cluster options: connect_timeout on
-- opening a connection (a node that accepts it and never answers gives
-- 08001), query_timeout on the wait for a call's answer (08006).  Either
-- error aborts the caller's transaction, which releases its gates.  They
-- need our build of PL/Proxy (router/plproxy-timeouts.patch): the
-- packaged one refuses connect_timeout and never times out a node that
-- sends nothing at all.  connect_timeout => 0 leaves the option out, for
-- a PL/Proxy without the patch.  Change them later with ALTER SERVER
-- allocation_cluster OPTIONS (SET query_timeout '600').  A cluster
-- defined with connect_timeout fails every call with XX000 ("Unknown
-- config param: connect_timeout") once the packaged PL/Proxy replaces
-- ours (an apt-get upgrade of postgresql-N-plproxy): build ours again, or
-- ALTER SERVER allocation_cluster OPTIONS (DROP connect_timeout).
CREATE FUNCTION allocation.define_cluster(nodes text[], partitions integer DEFAULT 16,
										  query_timeout integer DEFAULT 60,
										  connect_timeout integer DEFAULT 10)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n		integer := pg_catalog.cardinality(nodes);
	opts	text;
BEGIN
	IF nodes IS NULL OR partitions IS NULL OR query_timeout IS NULL OR connect_timeout IS NULL THEN
		RAISE EXCEPTION 'argument "%" must not be null',
			CASE WHEN nodes IS NULL THEN 'nodes' WHEN partitions IS NULL THEN 'partitions'
				 WHEN query_timeout IS NULL THEN 'query_timeout' ELSE 'connect_timeout' END
			USING ERRCODE = '22004';
	END IF;
	IF n = 0 OR pg_catalog.array_position(nodes, NULL) IS NOT NULL
	   OR EXISTS (SELECT FROM pg_catalog.unnest(nodes) c WHERE pg_catalog.btrim(c) = '') THEN
		RAISE EXCEPTION 'nodes must be a non-empty array of connection strings' USING ERRCODE = '22023';
	END IF;
	IF (SELECT pg_catalog.count(DISTINCT c) FROM pg_catalog.unnest(nodes) c) <> n THEN
		RAISE EXCEPTION 'a node is listed twice' USING ERRCODE = '22023';
	END IF;
	IF partitions < n OR partitions > 1024
	   OR (partitions OPERATOR(pg_catalog.&) (partitions - 1)) <> 0 THEN
		RAISE EXCEPTION 'invalid number of partitions %', partitions
			USING ERRCODE = '22023',
				  DETAIL = 'It must be a power of 2, at least the number of nodes and at most 1024.';
	END IF;
	IF query_timeout < 0 OR connect_timeout < 0 THEN
		RAISE EXCEPTION 'invalid %', CASE WHEN query_timeout < 0 THEN pg_catalog.format('query_timeout %s', query_timeout)
										 ELSE pg_catalog.format('connect_timeout %s', connect_timeout) END
			USING ERRCODE = '22023', DETAIL = 'Timeouts are seconds, 0 for none.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_foreign_server WHERE srvname = 'allocation_cluster') THEN
		RAISE EXCEPTION 'the allocation cluster is already defined'
			USING ERRCODE = '42710',
				  HINT = 'Move partitions with router/move_partition.sh, or drop it with allocation.drop_cluster() first.';
	END IF;
	-- partition i on node i mod n: each node gets every n-th partition
	SELECT pg_catalog.string_agg(pg_catalog.format('p%s %L', i, nodes[i % n + 1]), ', ' ORDER BY i)
	  INTO opts
	  FROM pg_catalog.generate_series(0, partitions - 1) i;
	IF connect_timeout > 0 THEN
		opts := pg_catalog.format('connect_timeout %L, %s', connect_timeout, opts);
	END IF;
	BEGIN
		EXECUTE pg_catalog.format('CREATE SERVER allocation_cluster FOREIGN DATA WRAPPER plproxy '
								  'OPTIONS (query_timeout %L, %s)', query_timeout, opts);
	EXCEPTION WHEN internal_error THEN
		-- PL/Proxy's validator raises XX000 for an unknown option
		IF SQLERRM LIKE '%invalid server option: connect_timeout%' THEN
			RAISE EXCEPTION 'this PL/Proxy has no connect_timeout'
				USING ERRCODE = '0A000',
					  DETAIL = 'Without it a node that accepts connections and never answers holds a call for ever.',
					  HINT = 'Install PL/Proxy with the router''s patch (scripts/build-plproxy.sh; an upgrade of the packaged PL/Proxy undoes it and then calls fail with XX000), or pass connect_timeout => 0 (no bound on such a node).';
		END IF;
		RAISE;
	END;
	-- PL/Proxy connects as the session user; put passwords in ~/.pgpass of
	-- the router's server, or replace this mapping by per-role ones.
	CREATE USER MAPPING FOR PUBLIC SERVER allocation_cluster;
	GRANT USAGE ON FOREIGN SERVER allocation_cluster TO allocation_user;
	PERFORM pg_catalog.setval('allocation_router.routing',
		((pg_catalog.pg_sequence_last_value('allocation_router.routing'::regclass)
		  OPERATOR(pg_catalog.>>) 11) + 1) * 2048 + 1024 + partitions - 1, true);
END
$$;
COMMENT ON FUNCTION allocation.define_cluster(text[], integer, integer, integer) IS
	'Create the PL/Proxy cluster: server allocation_cluster with partitions (a power of 2) spread round-robin over the nodes'' connection strings, PL/Proxy''s query_timeout and connect_timeout (seconds), a PUBLIC user mapping, USAGE for allocation_user.';

CREATE FUNCTION allocation.drop_cluster()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DROP SERVER IF EXISTS allocation_cluster CASCADE;
	PERFORM pg_catalog.setval('allocation_router.routing',
		((pg_catalog.pg_sequence_last_value('allocation_router.routing'::regclass)
		  OPERATOR(pg_catalog.>>) 11) + 1) * 2048, true);
END
$$;
COMMENT ON FUNCTION allocation.drop_cluster() IS
	'Forget the cluster definition (the nodes and their data are untouched).';

-- Point one partition at another node.  A procedure: the server change
-- must be committed (its invalidation messages sent) before the new
-- generation is published, so CALL it outside a transaction block.  The
-- data must have moved first (router/move_partition.sh does it all, with
-- the partition paused by another session).
CREATE PROCEDURE allocation.set_partition_node(partition integer, connstr text)
LANGUAGE plpgsql
AS $$
-- No SET clause (a procedure with one cannot COMMIT): every name and
-- operator is qualified instead.
DECLARE
	r	pg_catalog.int8 := pg_catalog.pg_sequence_last_value('allocation_router.routing'::pg_catalog.regclass);
BEGIN
	IF (r OPERATOR(pg_catalog.&) 1024::pg_catalog.int8) OPERATOR(pg_catalog.=) 0::pg_catalog.int8 THEN
		PERFORM allocation_router.sync_routing(r);		-- raises "not defined"
	END IF;
	IF partition IS NULL OR connstr IS NULL
	   OR pg_catalog.btrim(connstr) OPERATOR(pg_catalog.=) ''::pg_catalog.text THEN
		RAISE EXCEPTION 'partition and connstr must not be null or empty' USING ERRCODE = '22004';
	END IF;
	IF partition OPERATOR(pg_catalog.<) 0
	   OR partition::pg_catalog.int8 OPERATOR(pg_catalog.>) (r OPERATOR(pg_catalog.&) 1023::pg_catalog.int8) THEN
		RAISE EXCEPTION 'invalid partition %', partition
			USING ERRCODE = '22023',
				  DETAIL = pg_catalog.format('Partitions are 0 to %s.', r OPERATOR(pg_catalog.&) 1023::pg_catalog.int8);
	END IF;
	EXECUTE pg_catalog.format('ALTER SERVER allocation_cluster OPTIONS (SET %I %L)',
							  pg_catalog.concat('p', partition), connstr);
	COMMIT;
	PERFORM pg_catalog.setval('allocation_router.routing'::pg_catalog.regclass,
		(((pg_catalog.pg_sequence_last_value('allocation_router.routing'::pg_catalog.regclass)
		   OPERATOR(pg_catalog.>>) 11) OPERATOR(pg_catalog.+) 1::pg_catalog.int8)
		 OPERATOR(pg_catalog.*) 2048::pg_catalog.int8)
		OPERATOR(pg_catalog.+) (r OPERATOR(pg_catalog.&) 2047::pg_catalog.int8), true);
END
$$;
COMMENT ON PROCEDURE allocation.set_partition_node(integer, text) IS
	'Map a partition to another node''s connection string and publish the change to every router session. CALL outside a transaction block, after the data moved.';

-- Pausing a partition: its gate locked FOR UPDATE until the end of the
-- caller's transaction (BEGIN; SELECT allocation.pause_partition(5); ...
-- COMMIT): waits for the calls in flight (lock_timeout applies) and holds
-- back new calls of the partition, calls that ask every node, and calls
-- made in READ ONLY transactions.
CREATE FUNCTION allocation.pause_partition(partition integer)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	mask	integer := allocation_router.mask();
BEGIN
	IF partition IS NULL THEN
		RAISE EXCEPTION 'argument "partition" must not be null' USING ERRCODE = '22004';
	END IF;
	IF partition < 0 OR partition > mask THEN
		RAISE EXCEPTION 'invalid partition %', partition
			USING ERRCODE = '22023', DETAIL = pg_catalog.format('Partitions are 0 to %s.', mask);
	END IF;
	PERFORM FROM allocation_router.partitions p WHERE p.partition = pause_partition.partition FOR UPDATE;
	-- and the read-only gate (compatible with the other partitions' row locks)
	LOCK TABLE allocation_router.partitions IN SHARE MODE;
END
$$;
COMMENT ON FUNCTION allocation.pause_partition(integer) IS
	'Hold back the calls routed to a partition and the calls that ask every node, after waiting for those in flight, until the end of the current transaction.';

--------------------------------------------------------------------------
-- PL/Proxy functions (internal).  Each takes its gate in its CLUSTER
-- clause, from its own arguments: routed ones from the SKU or order id
-- they act on ("RUN ON" the same key's hash), the others every partition
-- ("RUN ON ALL", each node once, or one node named by one of its
-- partitions).  So a caller reaches a node only through a gate, whether
-- it calls the functions of schema allocation or these.
-- A node's error reaches the caller with the node's SQLSTATE; PL/Proxy
-- prefixes the message with "allocation_router.<function>(<n>): [<node
-- database>] REMOTE ERROR: ".
--------------------------------------------------------------------------

CREATE FUNCTION allocation_router.add_batch(ref text, sku text, qty integer, eta date)
RETURNS void LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate(sku);
	RUN ON allocation_router.key_hash(sku);
	SELECT allocation.add_batch(ref, sku, qty, eta);
$$;

CREATE FUNCTION allocation_router.allocate(orderid text, sku text, qty integer)
RETURNS text LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate(sku);
	RUN ON allocation_router.key_hash(sku);
	SELECT allocation.allocate(orderid, sku, qty);
$$;

CREATE FUNCTION allocation_router.deallocate(orderid text, sku text)
RETURNS text LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate(sku);
	RUN ON allocation_router.key_hash(sku);
	SELECT allocation.deallocate(orderid, sku);
$$;

CREATE FUNCTION allocation_router.change_batch_quantity_here(ref text, qty integer)
RETURNS SETOF boolean LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT allocation.change_batch_quantity_here(ref, qty);
$$;

-- handle: by the message's SKU; a message without one goes to the node of
-- partition h, behind every gate.
CREATE FUNCTION allocation_router.handle(h integer, message jsonb)
RETURNS jsonb LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_message(message);
	RUN ON allocation_router.message_hash(h, message);
	SELECT allocation.handle(message);
$$;

CREATE FUNCTION allocation_router.create_order(orderid text)
RETURNS void LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate(orderid);
	RUN ON allocation_router.key_hash(orderid);
	SELECT allocation.create_order(orderid);
$$;

CREATE FUNCTION allocation_router.order_status(orderid text)
RETURNS text LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read(orderid);
	RUN ON allocation_router.key_hash(orderid);
	SELECT allocation.order_status(orderid);
$$;

CREATE FUNCTION allocation_router.change_order_status(orderid text, status text)
RETURNS void LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate(orderid);
	RUN ON allocation_router.key_hash(orderid);
	SELECT allocation.change_order_status(orderid, status);
$$;

CREATE FUNCTION allocation_router.subscribe_to_order(orderid text, email text)
RETURNS void LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate(orderid);
	RUN ON allocation_router.key_hash(orderid);
	SELECT allocation.subscribe_to_order(orderid, email);
$$;

-- Which nodes have a batch reference, and for which SKU.  Reads the view
-- (the only thing granted on a node); see router/README.md for the node
-- hook that would make this an index lookup.
CREATE FUNCTION allocation_router.batch_skus(ref text)
RETURNS SETOF text LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT s.sku FROM allocation.stock s WHERE s.reference OPERATOR(pg_catalog.=) ref;
$$;

-- allocate_many: each node gets its own lines (PL/Proxy SPLIT).

-- line_hash(line): PL/Proxy's SPLIT calls it once per line, so it does
-- the least a RUN ON hash must: its partition's gate and the hash, one
-- shard_key.  The call's CLUSTER clause (gate_lines) took every line's
-- gate and checked the routing already, so the gate here is taken again
-- at no cost, and the routing check (sync_routing) is left out; called
-- by itself, it still waits for a pause of its partition.  SECURITY
-- DEFINER, like the gate functions, to lock the gate's row.
CREATE FUNCTION allocation_router.line_hash(line allocation.order_line)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h		integer := CASE WHEN line.sku IS NULL THEN 0 ELSE allocation.shard_key(line.sku) END;
	part	integer;
BEGIN
	IF pg_catalog.current_setting('transaction_read_only') OPERATOR(pg_catalog.=) 'on'::text THEN
		LOCK TABLE allocation_router.partitions IN ROW EXCLUSIVE MODE;
	ELSE
		-- the mask as mask() reads it, in a variable: an index lookup
		part := h OPERATOR(pg_catalog.&)
				(pg_catalog.pg_sequence_last_value('allocation_router.routing'::regclass)
				 OPERATOR(pg_catalog.&) 1023::bigint)::integer;
		PERFORM FROM allocation_router.partitions p
		  WHERE p.partition OPERATOR(pg_catalog.=) part
		    FOR SHARE;
	END IF;
	RETURN h;
END
$$;

CREATE FUNCTION allocation_router.allocate_many(lines allocation.order_line[])
RETURNS TABLE (orderid text, sku text, batchref text) LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_lines(lines);
	SPLIT lines;
	RUN ON allocation_router.line_hash(lines);
	SELECT r.orderid, r.sku, r.batchref FROM allocation.allocate_many(lines) r;
$$;

-- the whole array to the node of partition h (lines the router cannot
-- place), behind every gate
CREATE FUNCTION allocation_router.allocate_many_on(h integer, lines allocation.order_line[])
RETURNS TABLE (orderid text, sku text, batchref text) LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON allocation_router.all_hash(h);
	SELECT r.orderid, r.sku, r.batchref FROM allocation.allocate_many(lines) r;
$$;

-- Queries, merged from every node.
CREATE FUNCTION allocation_router.allocations(orderid text)
RETURNS TABLE (sku text, batchref text) LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT a.sku, a.batchref FROM allocation.allocations(orderid) a;
$$;

CREATE FUNCTION allocation_router.stock()
RETURNS TABLE (reference text, sku text, eta date, purchased integer, allocated integer, available integer)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT s.reference, s.sku, s.eta, s.purchased, s.allocated, s.available FROM allocation.stock s;
$$;

CREATE FUNCTION allocation_router.products()
RETURNS TABLE (sku text, version_number bigint) LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT p.sku, p.version_number FROM allocation.products p;
$$;

CREATE FUNCTION allocation_router.allocations_view()
RETURNS TABLE (orderid text, sku text, batchref text, qty integer, updated_at timestamptz)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT v.orderid, v.sku, v.batchref, v.qty, v.updated_at FROM allocation.allocations_view v;
$$;

CREATE FUNCTION allocation_router.outbox()
RETURNS TABLE (id uuid, aggregatetype text, aggregateid text, type text, payload jsonb,
			   occurred_at timestamptz, aggregate_seq bigint, "position" bigint, commit_key bigint)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT o.id, o.aggregatetype, o.aggregateid, o.type, o.payload, o.occurred_at,
		   o.aggregate_seq, o."position", o.commit_key
	  FROM allocation.outbox o;
$$;

CREATE FUNCTION allocation_router.notifications()
RETURNS TABLE (id bigint, recipient text, subject text, body text, created_at timestamptz, sent_at timestamptz)
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT n.id, n.recipient, n.subject, n.body, n.created_at, n.sent_at FROM allocation.notifications n;
$$;

-- Plugins, read model, consumers, invariants: on every node.
CREATE FUNCTION allocation_router.subscribe(event_type text, handler regprocedure)
RETURNS SETOF boolean LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT true FROM allocation.subscribe(event_type, handler);
$$;

CREATE FUNCTION allocation_router.unsubscribe(event_type text, handler regprocedure)
RETURNS SETOF boolean LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT allocation.unsubscribe(event_type, handler);
$$;

CREATE FUNCTION allocation_router.rebuild_read_model()
RETURNS SETOF bigint LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT allocation.rebuild_read_model();
$$;

CREATE FUNCTION allocation_router.register_consumer(consumer text, from_start boolean)
RETURNS SETOF boolean LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT true FROM allocation.register_consumer(consumer, from_start);
$$;

CREATE FUNCTION allocation_router.unregister_consumer(consumer text)
RETURNS SETOF boolean LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT allocation.unregister_consumer(consumer);
$$;

-- Acknowledge on the node that has the event (and only there: the node's
-- ack_events raises 22023 for an event it does not have).
CREATE FUNCTION allocation_router.ack_events(consumer text, last_event uuid)
RETURNS SETOF boolean LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT true FROM allocation.outbox o,
		   LATERAL (SELECT allocation.ack_events(consumer, last_event)) a
	 WHERE o.id OPERATOR(pg_catalog.=) last_event;
$$;

CREATE FUNCTION allocation_router.purge_outbox()
RETURNS SETOF bigint LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON ALL;
	SELECT allocation.purge_outbox();
$$;

CREATE FUNCTION allocation_router.check_invariants()
RETURNS TABLE (invariant text, object text, detail text, node text) LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON ALL;
	SELECT c.invariant, c.object, c.detail, pg_catalog.current_database()::text AS node
	  FROM allocation.check_invariants() c;
$$;

-- One node, named by one of its partitions.

CREATE FUNCTION allocation_router.node_ack_events(part integer, consumer text, last_event uuid)
RETURNS void LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_all();
	RUN ON allocation_router.all_hash(part);
	SELECT allocation.ack_events(consumer, last_event);
$$;

CREATE FUNCTION allocation_router.node_batches(part integer)
RETURNS TABLE (reference text, sku text) LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON allocation_router.all_hash(part);
	SELECT s.reference, s.sku FROM allocation.stock s;
$$;

CREATE FUNCTION allocation_router.node_skus(part integer)
RETURNS SETOF text LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON allocation_router.all_hash(part);
	SELECT p.sku FROM allocation.products p;
$$;

--------------------------------------------------------------------------
-- The application's interface: same names, arguments and results as on a
-- node.  The PL/Proxy functions take their gates; the functions here
-- check what the router checks, and take every gate first where they read
-- the cluster's definition.  An identifier the router finds implausible
-- (loosely the node's check) is left to the node, which says why with its
-- SQLSTATE and message.
--------------------------------------------------------------------------

CREATE FUNCTION allocation.allocate(orderid text, sku text, qty integer)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.allocate($1, $2, $3);
END
$$;
COMMENT ON FUNCTION allocation.allocate(text, text, integer) IS
	'Router: allocate on the node of the SKU (commits there at once).';

CREATE FUNCTION allocation.deallocate(orderid text, sku text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.deallocate($1, $2);
END
$$;
COMMENT ON FUNCTION allocation.deallocate(text, text) IS
	'Router: deallocate on the node of the SKU (commits there at once).';

-- add_batch: batch references are unique across nodes.  The router asks
-- every node first; two concurrent add_batch of one new reference for SKUs
-- on different nodes can still both pass: duplicate_batch_references()
-- finds them.
CREATE FUNCTION allocation.add_batch(ref text, sku text, qty integer, eta date DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT pg_catalog.pg_has_role('allocation_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'must be a member of role "allocation_admin" to call allocation.add_batch'
			USING ERRCODE = '42501',
				  HINT = 'A database administrator can grant it: GRANT allocation_admin TO <role>.';
	END IF;
	IF (ref IS NOT NULL AND pg_catalog.length(ref) BETWEEN 1 AND 255
			 AND ref OPERATOR(pg_catalog.!~) '^[[:space:]]*$'
			 AND ref OPERATOR(pg_catalog.!~) '[\x01-\x1f\x7f-\x9f]') AND (sku IS NOT NULL AND pg_catalog.length(sku) BETWEEN 1 AND 255
			 AND sku OPERATOR(pg_catalog.!~) '^[[:space:]]*$'
			 AND sku OPERATOR(pg_catalog.!~) '[\x01-\x1f\x7f-\x9f]')
	   AND qty >= 0 THEN
		IF EXISTS (SELECT FROM allocation_router.batch_skus(ref)) THEN
			RAISE EXCEPTION 'batch reference "%" already exists', ref USING ERRCODE = '23505';
		END IF;
	END IF;
	PERFORM allocation_router.add_batch(ref, sku, qty, eta);
END
$$;
COMMENT ON FUNCTION allocation.add_batch(text, text, integer, date) IS
	'Router: add a batch on the node of the SKU, after checking that no node has the reference.';

-- change_batch_quantity: a batch reference does not say its SKU, so every
-- node is asked; the one that has it changes it.
CREATE FUNCTION allocation.change_batch_quantity(ref text, qty integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n	bigint;
BEGIN
	PERFORM allocation_router.gate_all();
	SELECT pg_catalog.count(*) FILTER (WHERE x) INTO n
	  FROM allocation_router.change_batch_quantity_here(ref, qty) x;
	IF n = 0 THEN
		RAISE EXCEPTION 'unknown batch reference "%"', ref USING ERRCODE = 'ZA002';
	ELSIF n > 1 THEN
		RAISE WARNING 'batch reference "%" exists on % nodes; all were changed', ref, n
			USING HINT = 'See allocation.duplicate_batch_references().';
	END IF;
END
$$;
COMMENT ON FUNCTION allocation.change_batch_quantity(text, integer) IS
	'Router: change the batch on whichever node has it (ZA002 when none has).';

CREATE FUNCTION allocation.change_batch_quantity_here(ref text, qty integer)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	RETURN (SELECT pg_catalog.bool_or(x) FROM allocation_router.change_batch_quantity_here(ref, qty) x);
END
$$;
COMMENT ON FUNCTION allocation.change_batch_quantity_here(text, integer) IS
	'Router: change_batch_quantity on every node; true when one had the batch.';

CREATE FUNCTION allocation.allocate_many(lines allocation.order_line[])
RETURNS TABLE (orderid text, sku text, batchref text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- An argument error must reject the whole call, as on a node: send
	-- such a call whole to one node, which rejects it before doing anything.
	IF lines IS NULL OR EXISTS (
			SELECT FROM pg_catalog.unnest(lines) l
			 WHERE l.orderid IS NULL OR l.sku IS NULL OR l.qty IS NULL OR l.qty <= 0
				OR NOT (l.orderid IS NOT NULL AND pg_catalog.length(l.orderid) BETWEEN 1 AND 255
					 AND l.orderid OPERATOR(pg_catalog.!~) '^[[:space:]]*$'
					 AND l.orderid OPERATOR(pg_catalog.!~) '[\x01-\x1f\x7f-\x9f]')
				OR NOT (l.sku IS NOT NULL AND pg_catalog.length(l.sku) BETWEEN 1 AND 255
					 AND l.sku OPERATOR(pg_catalog.!~) '^[[:space:]]*$'
					 AND l.sku OPERATOR(pg_catalog.!~) '[\x01-\x1f\x7f-\x9f]')) THEN
		RETURN QUERY SELECT r.orderid, r.sku, r.batchref
					   FROM allocation_router.allocate_many_on(0, lines) r;
		RETURN;
	END IF;
	IF pg_catalog.cardinality(lines) = 0 THEN
		RETURN;
	END IF;
	-- A node takes an array of any shape, its lines in storage order;
	-- PL/Proxy's SPLIT takes one dimension only (XX000 otherwise).
	IF pg_catalog.array_ndims(lines) > 1 THEN
		lines := ARRAY(SELECT l FROM pg_catalog.unnest(lines) l);
	END IF;
	-- In the order of the lines, whatever node answered first: row k for
	-- line k, as on a node.  A node answers its lines in their order, and
	-- all lines of one SKU go to one node, so the j-th row of an (orderid,
	-- sku) is the one of its j-th line.  Rows and lines are paired by
	-- sorting both together (never a search of the lines per row: that
	-- took time quadratic in the lines); "C" only makes the sort cheap,
	-- the pairing is by equality, which every deterministic collation
	-- shares.  A row without a line (none should exist) comes last.
	RETURN QUERY
	SELECT x.orderid, x.sku, x.batchref
	  FROM (SELECT y.orderid, y.sku, y.batchref, y.is_row,
				   pg_catalog.min(y.line_no) OVER (PARTITION BY y.okey, y.skey, y.occurrence) AS line_no
			  FROM (SELECT r.orderid, r.sku, r.batchref, true AS is_row, NULL::bigint AS line_no,
						   r.orderid COLLATE pg_catalog."C" AS okey, r.sku COLLATE pg_catalog."C" AS skey,
						   pg_catalog.row_number() OVER (PARTITION BY r.orderid COLLATE pg_catalog."C",
																	  r.sku COLLATE pg_catalog."C"
														 ORDER BY r.n) AS occurrence
					  FROM allocation_router.allocate_many(lines) WITH ORDINALITY AS r(orderid, sku, batchref, n)
					UNION ALL
					SELECT u.orderid, u.sku, NULL, false, u.i,
						   u.orderid COLLATE pg_catalog."C", u.sku COLLATE pg_catalog."C",
						   pg_catalog.row_number() OVER (PARTITION BY u.orderid COLLATE pg_catalog."C",
																	  u.sku COLLATE pg_catalog."C"
														 ORDER BY u.i)
					  FROM pg_catalog.unnest(lines) WITH ORDINALITY AS u(orderid, sku, qty, i)) y) x
	 WHERE x.is_row
	 ORDER BY x.line_no;
END
$$;
COMMENT ON FUNCTION allocation.allocate_many(allocation.order_line[]) IS
	'Router: each node allocates its own lines; atomic per node, not across nodes.';

-- handle: routed by the message's sku; ChangeBatchQuantity by the SKU of
-- its batch (behind every gate); a message the router cannot place goes
-- to partition 0's node,
-- which reports what is wrong with it.
CREATE FUNCTION allocation.handle(message jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t		text;
	key		text;
	h		integer;
BEGIN
	IF pg_catalog.jsonb_typeof(message) = 'object' THEN
		t := message->>'type';
		IF pg_catalog.jsonb_typeof(message->'sku') = 'string' THEN
			key := message->>'sku';
		END IF;
	END IF;
	IF t = 'ChangeBatchQuantity' AND pg_catalog.jsonb_typeof(message->'ref') = 'string' THEN
		PERFORM allocation_router.gate_all();
		SELECT s INTO key FROM allocation_router.batch_skus(message->>'ref') s LIMIT 1;
	END IF;
	h := CASE WHEN key IS NULL THEN 0 ELSE allocation.shard_key(key) END;
	-- a reference on a node of another SKU is a duplicate; on the target
	-- node the node itself decides (repeated message_id).
	IF t = 'CreateBatch' AND key IS NOT NULL AND pg_catalog.jsonb_typeof(message->'ref') = 'string'
	   AND ((message->>'ref') IS NOT NULL AND pg_catalog.length((message->>'ref')) BETWEEN 1 AND 255
			 AND (message->>'ref') OPERATOR(pg_catalog.!~) '^[[:space:]]*$'
			 AND (message->>'ref') OPERATOR(pg_catalog.!~) '[\x01-\x1f\x7f-\x9f]')
	   AND EXISTS (SELECT FROM allocation_router.batch_skus(message->>'ref') s
				   WHERE s IS DISTINCT FROM key) THEN
		IF NOT pg_catalog.pg_has_role('allocation_admin', 'MEMBER') THEN
			RAISE EXCEPTION 'must be a member of role "allocation_admin" to call allocation.add_batch'
				USING ERRCODE = '42501',
					  HINT = 'A database administrator can grant it: GRANT allocation_admin TO <role>.';
		END IF;
		RAISE EXCEPTION 'batch reference "%" already exists', message->>'ref' USING ERRCODE = '23505';
	END IF;
	RETURN allocation_router.handle(h, message);
END
$$;
COMMENT ON FUNCTION allocation.handle(jsonb) IS
	'Router: execute a command message on the node of its SKU (message_id de-duplication is per node).';

CREATE FUNCTION allocation.allocations(orderid text)
RETURNS TABLE (sku text, batchref text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY SELECT a.sku, a.batchref
				   FROM allocation_router.allocations(orderid) a
				  ORDER BY a.sku COLLATE "C";
END
$$;
COMMENT ON FUNCTION allocation.allocations(text) IS
	'Router: the lines of an order, from the read models of every node, ordered by sku.';

-- Order tracking: orders live on the node of shard_key(orderid).
CREATE FUNCTION allocation.create_order(orderid text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.create_order($1);
END
$$;

CREATE FUNCTION allocation.order_status(orderid text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RETURN allocation_router.order_status($1);
END
$$;

CREATE FUNCTION allocation.change_order_status(orderid text, status text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.change_order_status($1, $2);
END
$$;

CREATE FUNCTION allocation.subscribe_to_order(orderid text, email text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.subscribe_to_order($1, $2);
END
$$;

-- Plugins and the read model: every node.
CREATE FUNCTION allocation.subscribe(event_type text, handler regprocedure)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	PERFORM pg_catalog.count(*) FROM allocation_router.subscribe(event_type, handler);
END
$$;
COMMENT ON FUNCTION allocation.subscribe(text, regprocedure) IS
	'Router: subscribe on every node (the handler must exist on every node, and on the router to name it).';

CREATE FUNCTION allocation.unsubscribe(event_type text, handler regprocedure)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	RETURN (SELECT pg_catalog.bool_or(x) FROM allocation_router.unsubscribe(event_type, handler) x);
END
$$;

CREATE FUNCTION allocation.rebuild_read_model()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	RETURN (SELECT pg_catalog.sum(x)::bigint FROM allocation_router.rebuild_read_model() x);
END
$$;

--------------------------------------------------------------------------
-- Read views: merged from every node (a query on them reads every node;
-- PL/Proxy cannot push a WHERE clause down).
--------------------------------------------------------------------------

CREATE FUNCTION allocation_router.stock_view()
RETURNS TABLE (reference text, sku text, eta date, purchased integer, allocated integer, available integer)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY SELECT s.* FROM allocation_router.stock() s;
END
$$;

CREATE FUNCTION allocation_router.products_view()
RETURNS TABLE (sku text, version_number bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY SELECT p.* FROM allocation_router.products() p;
END
$$;

CREATE FUNCTION allocation_router.allocations_view_view()
RETURNS TABLE (orderid text, sku text, batchref text, qty integer, updated_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY SELECT v.* FROM allocation_router.allocations_view() v;
END
$$;

CREATE FUNCTION allocation_router.outbox_view()
RETURNS TABLE (id uuid, aggregatetype text, aggregateid text, type text, payload jsonb,
			   occurred_at timestamptz, aggregate_seq bigint, "position" bigint, commit_key bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY SELECT o.* FROM allocation_router.outbox() o;
END
$$;

CREATE FUNCTION allocation_router.notifications_view()
RETURNS TABLE (id bigint, recipient text, subject text, body text, created_at timestamptz, sent_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY SELECT n.* FROM allocation_router.notifications() n;
END
$$;

CREATE VIEW allocation.products AS
	SELECT p.sku, p.version_number FROM allocation_router.products_view() p;
COMMENT ON VIEW allocation.products IS
	'Router: one row a product, from every node.';

CREATE VIEW allocation.stock AS
	SELECT s.reference, s.sku, s.eta, s.purchased, s.allocated, s.available
	  FROM allocation_router.stock_view() s;
COMMENT ON VIEW allocation.stock IS
	'Router: one row a batch, from every node.';

CREATE VIEW allocation.allocations_view AS
	SELECT v.orderid, v.sku, v.batchref, v.qty, v.updated_at
	  FROM allocation_router.allocations_view_view() v;
COMMENT ON VIEW allocation.allocations_view IS
	'Router: the read models of every node.';

CREATE VIEW allocation.outbox AS
	SELECT o.id, o.aggregatetype, o.aggregateid, o.type, o.payload, o.occurred_at,
		   o.aggregate_seq, o."position", o.commit_key
	  FROM allocation_router.outbox_view() o;
COMMENT ON VIEW allocation.outbox IS
	'Router: the outboxes of every node (each node keeps its own; position and commit_key are per node).';

CREATE VIEW allocation.notifications AS
	SELECT n.id, n.recipient, n.subject, n.body, n.created_at, n.sent_at
	  FROM allocation_router.notifications_view() n;
COMMENT ON VIEW allocation.notifications IS
	'Router: the e-mail notifications of every node (ids are per node).';

--------------------------------------------------------------------------
-- Outbox consumers.  Each node has its own outbox and consumer cursors.
-- Through the router a consumer reads one node at a time: read_events
-- returns the next events of the node whose oldest pending event is the
-- oldest, so "read, process, ack the last one" loops work unchanged; each
-- event is still delivered at least once and never skipped on its node.
--------------------------------------------------------------------------

-- One node's next events (the node named by one of its partitions).
CREATE FUNCTION allocation_router.node_read_events(part integer, consumer text, max_events integer)
RETURNS SETOF allocation.outbox LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
	CLUSTER allocation_router.gate_read_all();
	RUN ON allocation_router.all_hash(part);
	SELECT e.id, e.aggregatetype, e.aggregateid, e.type, e.payload, e.occurred_at,
		   e.aggregate_seq, e."position", e.commit_key
	  FROM allocation.read_events(consumer, max_events) e;
$$;

CREATE FUNCTION allocation.register_consumer(consumer text, from_start boolean DEFAULT true)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	PERFORM pg_catalog.count(*) FROM allocation_router.register_consumer(consumer, from_start);
END
$$;

CREATE FUNCTION allocation.unregister_consumer(consumer text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	RETURN (SELECT pg_catalog.bool_or(x) FROM allocation_router.unregister_consumer(consumer) x);
END
$$;

CREATE FUNCTION allocation.read_events(consumer text, max_events integer DEFAULT 100)
RETURNS SETOF allocation.outbox
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n		record;
	first	timestamptz;
	best	integer;
	best_at	timestamptz;
BEGIN
	IF max_events IS NULL OR max_events < 1 THEN
		RAISE EXCEPTION 'invalid max_events %', max_events USING ERRCODE = '22023';
	END IF;
	PERFORM allocation_router.gate_read_all();
	FOR n IN SELECT * FROM allocation.nodes() LOOP
		SELECT e.occurred_at INTO first
		  FROM allocation_router.node_read_events(n.partitions[1], consumer, 1) e;
		IF FOUND AND (best IS NULL OR first < best_at) THEN
			best := n.partitions[1];
			best_at := first;
		END IF;
	END LOOP;
	IF best IS NOT NULL THEN
		RETURN QUERY SELECT e.* FROM allocation_router.node_read_events(best, consumer, max_events) e;
	END IF;
END
$$;
COMMENT ON FUNCTION allocation.read_events(text, integer) IS
	'Router: the next events of one node (the one with the oldest pending event), in that node''s delivery order.';

CREATE FUNCTION allocation.ack_events(consumer text, last_event uuid)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	IF NOT EXISTS (SELECT FROM allocation_router.ack_events(consumer, last_event)) THEN
		RAISE EXCEPTION 'unknown event "%"', last_event USING ERRCODE = '22023';
	END IF;
END
$$;
COMMENT ON FUNCTION allocation.ack_events(text, uuid) IS
	'Router: acknowledge up to last_event on the node that has it.';

CREATE FUNCTION allocation.purge_outbox()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_all();
	RETURN (SELECT COALESCE(pg_catalog.sum(x), 0)::bigint FROM allocation_router.purge_outbox() x);
END
$$;

--------------------------------------------------------------------------
-- Cluster health: reports (one row a problem; empty means healthy).
--------------------------------------------------------------------------

CREATE FUNCTION allocation.duplicate_batch_references()
RETURNS TABLE (reference text, skus text[], nodes text[])
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM allocation_router.gate_read_all();
	-- one node at a time (LATERAL, each call materialized): no temporary
	-- table, so that it runs in a READ ONLY transaction too
	RETURN QUERY
	SELECT b.reference, pg_catalog.array_agg(b.sku ORDER BY n.connstr),
		   pg_catalog.array_agg(n.connstr ORDER BY n.connstr)
	  FROM allocation.nodes() n,
		   LATERAL allocation_router.node_batches(n.partitions[1]) b
	 GROUP BY b.reference
	HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 1
	 ORDER BY 1;
END
$$;
COMMENT ON FUNCTION allocation.duplicate_batch_references() IS
	'Batch references that exist on more than one node (two concurrent add_batch through the router can let one through).';

CREATE FUNCTION allocation.check_placement()
RETURNS TABLE (kind text, key text, partition integer, found_on text, belongs_on text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n		record;
	mask	integer;
BEGIN
	PERFORM allocation_router.gate_read_all();
	-- (mask() is the owner's; the sequence is readable by allocation_user)
	mask := (pg_catalog.pg_sequence_last_value('allocation_router.routing'::pg_catalog.regclass)
			 OPERATOR(pg_catalog.&) 1023::bigint)::integer;
	FOR n IN SELECT * FROM allocation.nodes() LOOP
		RETURN QUERY
		SELECT 'product'::text, k.sku, allocation.shard_key(k.sku) OPERATOR(pg_catalog.&) mask, n.connstr, c.connstr
		  FROM allocation_router.node_skus(n.partitions[1]) AS k(sku)
		  JOIN allocation.cluster_partitions() c
			ON c.partition OPERATOR(pg_catalog.=) (allocation.shard_key(k.sku) OPERATOR(pg_catalog.&) mask)
		 WHERE c.connstr <> n.connstr;
	END LOOP;
END
$$;
COMMENT ON FUNCTION allocation.check_placement() IS
	'Products found on a node that does not own their partition (left behind by an interrupted move, or written to a node directly).';

CREATE FUNCTION allocation.check_invariants()
RETURNS TABLE (invariant text, object text, detail text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT pg_catalog.pg_has_role('allocation_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'must be a member of role "allocation_admin" to call allocation.check_invariants'
			USING ERRCODE = '42501',
				  HINT = 'A database administrator can grant it: GRANT allocation_admin TO <role>.';
	END IF;
	PERFORM allocation_router.gate_read_all();
	RETURN QUERY
	SELECT c.invariant, c.object, c.detail || ' (node ' || c.node || ')'
	  FROM allocation_router.check_invariants() c;
	RETURN QUERY
	SELECT 'batch reference on several nodes', d.reference,
		   pg_catalog.format('skus %s on %s', d.skus, d.nodes)
	  FROM allocation.duplicate_batch_references() d;
	RETURN QUERY
	SELECT p.kind || ' on the wrong node', p.key,
		   pg_catalog.format('partition %s belongs on %s, found on %s', p.partition, p.belongs_on, p.found_on)
	  FROM allocation.check_placement() p;
END
$$;
COMMENT ON FUNCTION allocation.check_invariants() IS
	'Router: every node''s check_invariants(), plus batch references on several nodes and products on the wrong node.';

--------------------------------------------------------------------------
-- Order tracking across nodes.  A node updates a tracked order from its
-- own Allocated/OutOfStock events only when it also holds the order.
-- sync_order_tracking is the cross-node integration: a consumer of every
-- node's outbox that applies the same rules to the order on its node
-- (created/backordered -> allocated on Allocated, created -> backordered
-- on OutOfStock).  At least once: a repeated event finds the order moved
-- on already and changes nothing.
--------------------------------------------------------------------------

CREATE FUNCTION allocation.sync_order_tracking(consumer text DEFAULT 'order_tracking',
											   max_events integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n		record;
	e		record;
	evs		allocation.outbox[];
	st		text;
	target	text;
	changed	integer := 0;
BEGIN
	PERFORM allocation_router.gate_all();
	PERFORM pg_catalog.count(*) FROM allocation_router.register_consumer(consumer, true);
	FOR n IN SELECT * FROM allocation.nodes() LOOP
		evs := ARRAY(SELECT e2 FROM allocation_router.node_read_events(n.partitions[1], consumer, max_events) e2);
		CONTINUE WHEN pg_catalog.cardinality(evs) = 0;
		FOR e IN SELECT * FROM pg_catalog.unnest(evs) LOOP
			CONTINUE WHEN e.aggregatetype <> 'product' OR e.type NOT IN ('Allocated', 'OutOfStock')
				OR e.payload->>'orderid' IS NULL;
			st := allocation.order_status(e.payload->>'orderid');
			target := CASE
				WHEN e.type = 'Allocated' AND st IN ('created', 'backordered') THEN 'allocated'
				WHEN e.type = 'OutOfStock' AND st = 'created' THEN 'backordered'
			END;
			CONTINUE WHEN target IS NULL;
			BEGIN
				PERFORM allocation.change_order_status(e.payload->>'orderid', target);
				changed := changed + 1;
			EXCEPTION WHEN SQLSTATE 'ZA004' THEN
				NULL;	-- moved on meanwhile (an administrator's change)
			END;
		END LOOP;
		PERFORM allocation_router.node_ack_events(n.partitions[1], consumer, evs[pg_catalog.cardinality(evs)].id);
	END LOOP;
	RETURN changed;
END
$$;
COMMENT ON FUNCTION allocation.sync_order_tracking(text, integer) IS
	'Apply Allocated/OutOfStock events of every node to tracked orders held by other nodes; returns how many status changes it made. Run it periodically (admin).';

--------------------------------------------------------------------------
-- Rights, as on a node: nothing to PUBLIC.  The wrappers run with the
-- caller's rights and PL/Proxy connects to the nodes as the session user,
-- so each node checks the caller's rights again.
--------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA allocation, allocation_router FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA allocation_router FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allocation, allocation_router FROM PUBLIC;
REVOKE ALL ON PROCEDURE allocation.set_partition_node(integer, text) FROM PUBLIC;
REVOKE ALL ON TYPE allocation.order_line FROM PUBLIC;
GRANT USAGE ON TYPE allocation.order_line TO allocation_user;

GRANT SELECT ON allocation.products, allocation.stock, allocation.allocations_view TO allocation_user;
GRANT SELECT ON allocation.outbox, allocation.notifications TO allocation_admin;
GRANT EXECUTE ON FUNCTION
	allocation.allocations(text),
	allocation.add_batch(text, text, integer, date),
	allocation.allocate(text, text, integer),
	allocation.deallocate(text, text),
	allocation.change_batch_quantity(text, integer),
	allocation.handle(jsonb),
	allocation.subscribe(text, regprocedure),
	allocation.unsubscribe(text, regprocedure),
	allocation.rebuild_read_model(),
	allocation.create_order(text),
	allocation.order_status(text),
	allocation.change_order_status(text, text),
	allocation.subscribe_to_order(text, text),
	allocation.allocate_many(allocation.order_line[]),
	allocation.shard_key(text),
	allocation.change_batch_quantity_here(text, integer),
	allocation.partition_of(text),
	-- as on a node, the nodes refuse them to non-administrators with 42501
	allocation.register_consumer(text, boolean),
	allocation.unregister_consumer(text),
	allocation.read_events(text, integer),
	allocation.ack_events(text, uuid),
	allocation.purge_outbox(),
	allocation.check_invariants()
	TO allocation_user;
GRANT EXECUTE ON FUNCTION
	allocation.cluster_partitions(),
	allocation.nodes(),
	allocation.duplicate_batch_references(),
	allocation.check_placement(),
	allocation.sync_order_tracking(text, integer),
	allocation.pause_partition(integer)
	TO allocation_admin;
-- define_cluster, drop_cluster, set_partition_node: superusers only.

-- Internals: called by the functions above with the caller's rights.  The
-- PL/Proxy functions and the gates (each takes its gates: nothing the
-- caller can run here reaches a node without them), and the functions of
-- the read views.  The gates' table and the routing helpers stay the
-- owner's.
DO $grants$
DECLARE
	f	regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
			  WHERE p.pronamespace = 'allocation_router'::regnamespace
				AND p.proname NOT IN ('sync_routing', 'mask', 'key_partition', 'lock_partitions') LOOP
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO allocation_user', f);
	END LOOP;
END
$grants$;
GRANT SELECT ON SEQUENCE allocation_router.routing TO allocation_user;
