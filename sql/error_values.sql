--
-- The values an error shows.  An error names the offending value, but in
-- a form the caller cannot turn against the log: quoted, control
-- characters escaped, cut after 64 characters.  Generated over every
-- function argument and message field whose refused value an error
-- repeats, with values of line breaks, other control characters, quotes,
-- backslashes and megabytes.  Then the argument checks found with it:
-- dates an eta may not hold, and integral JSON quantities.
-- SKUs and references of this file start with "EV-".
--
\set VERBOSITY terse

CREATE TABLE ev_bad (call text, sqlstate text, message text, detail text);
CREATE TABLE ev_seen (calls int);

DO $$
DECLARE
	-- each: a statement with %L where the refused value goes
	calls text[] := ARRAY[
		'SELECT allocation.allocate(%L, ''EV-S'', 1)',
		'SELECT allocation.allocate(''o-1'', %L, 1)',
		'SELECT allocation.deallocate(%L, ''EV-S'')',
		'SELECT allocation.add_batch(%L, ''EV-S'', 1)',
		'SELECT allocation.add_batch(''EV-B'', %L, 1)',
		'SELECT allocation.change_batch_quantity(%L, 1)',
		'SELECT allocation.create_order(%L)',
		'SELECT allocation.change_order_status(''EV-1'', %L)',
		'SELECT allocation.subscribe_to_order(''EV-1'', %L)',
		'SELECT allocation.set_stock_alert_recipient(%L)',
		'SELECT allocation.handle(jsonb_build_object(''type'', %L))',
		'SELECT allocation.handle(jsonb_build_object(''type'', ''CreateBatch'', ''ref'', ''EV-R'', ''sku'', ''EV-S'', ''qty'', 1, ''eta'', %L))',
		'SELECT allocation.handle(jsonb_build_object(''type'', ''Allocate'', ''orderid'', %L, ''sku'', ''EV-S'', ''qty'', 1))',
		'SELECT allocation.change_batch_quantity(%L, 1)',
		'SELECT * FROM allocation.allocations(%L)',
		'SELECT allocation.register_consumer(%L)',
		'SELECT * FROM allocation.read_events(%L)',
		'SELECT allocation.ack_events(%L, gen_random_uuid())',
		'SELECT allocation.subscribe(%L, ''pg_catalog.jsonb_typeof(jsonb)'')',
		'SELECT allocation.unsubscribe(''Allocated'', %L)'];
	pieces text[] := ARRAY[E'\n', E'\r', E'\t', E'\x01', E'\x1b[31m', E'\x7f', E'\u0085',
						   '"', '\', '''', ' ', 'a', 'é', '😀', '-', '@', 'x.y'];
	v text;
	state text;
	msg text;
	det text;
	n int := 0;
BEGIN
	PERFORM setseed(0.314);
	PERFORM allocation.create_order('EV-1');
	FOR c IN 1..array_length(calls, 1) LOOP
		FOR k IN 1..25 LOOP
			-- a random value of pieces; every fifth one huge
			SELECT string_agg(pieces[1 + floor(random() * array_length(pieces, 1))::int], '')
			  INTO v FROM generate_series(1, 1 + floor(random() * 40)::int);
			IF k % 5 = 0 THEN
				v := repeat(v, 100000 / length(v) + 1);
			END IF;
			BEGIN
				EXECUTE format(calls[c], v);
				-- accepted: only a value without a control character may be
				IF v ~ '[\x01-\x1f\x7f\u0080-\u009f]' THEN
					INSERT INTO ev_bad VALUES (calls[c], 'accepted', left(v, 200), NULL);
				END IF;
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE,
					msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
				n := n + 1;
				-- a message that quotes a value quotes this one as every
				-- message does (allocation._shown_value: escaped, cut)
				IF state NOT IN ('22023', 'ZA001', 'ZA002', 'ZA005', '22004', '42883', '42601', '22P02')
				   OR (strpos(msg || coalesce(det, ''), allocation._shown_value(v)) = 0
				       AND strpos(msg || coalesce(det, ''), '"' || left(v, 3)) > 0)
				   OR msg ~ '[\x01-\x1f\x7f\u0080-\u009f]'
				   OR coalesce(det, '') ~ '[\x01-\x1f\x7f\u0080-\u009f]'
				   OR length(msg) > 400 OR length(coalesce(det, '')) > 400 THEN
					INSERT INTO ev_bad VALUES (calls[c], state, left(msg, 200), left(det, 200));
				END IF;
			END;
		END LOOP;
	END LOOP;
	INSERT INTO ev_seen VALUES (n);
END
$$;
-- most generated values were refused, and every refusal kept to one short line
SELECT calls > 200 AS many_refused FROM ev_seen;
SELECT * FROM ev_bad;

-- What such a message looks like: the value quoted and escaped, cut short.
\set VERBOSITY default
SELECT allocation.allocate(E'line\nLOG:  forged "entry" \\ end', 'EV-S', 1);
SELECT allocation.change_order_status('EV-1', repeat('x', 300));
SELECT allocation.allocate(repeat(' ', 300), 'EV-S', 1);

\set VERBOSITY terse

-- An eta is a finite date from 0001-01-01 to 9999-12-31, the dates a
-- message may carry: what add_batch stores can travel in any event.
SELECT allocation.add_batch('EV-inf', 'EV-S', 1, 'infinity');
SELECT allocation.add_batch('EV-ninf', 'EV-S', 1, '-infinity');
SELECT allocation.add_batch('EV-bc', 'EV-S', 1, '0001-12-31 BC');
SELECT allocation.add_batch('EV-far', 'EV-S', 1, '10000-01-01');
SELECT allocation.add_batch('EV-first', 'EV-S', 10, '0001-01-01');
SELECT allocation.add_batch('EV-last', 'EV-S', 10, '9999-12-31');
SELECT reference, eta FROM allocation.stock WHERE sku = 'EV-S' ORDER BY reference;

-- A message's quantity is a whole JSON number, however written: 2, 2.0,
-- 2.00 and 2e0 are one quantity; 2.5 and 2e-1 are not whole.
SELECT allocation.handle(jsonb_build_object('type', 'Allocate', 'orderid', 'EV-q' || q, 'sku', 'EV-S', 'qty', q::jsonb))
  FROM unnest(ARRAY['1', '1.0', '1.00', '1e0', '10e-1']) q;
SELECT allocation.handle('{"type": "Allocate", "orderid": "EV-q5", "sku": "EV-S", "qty": 1.5}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "EV-q6", "sku": "EV-S", "qty": 1e-1}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "EV-q7", "sku": "EV-S", "qty": 1e400}');
-- a whole number past integer says so, as a message_id past bigint does
SELECT allocation.handle('{"type": "Allocate", "orderid": "EV-q8", "sku": "EV-S", "qty": 2147483648}');
SELECT allocation.handle('{"type": "Allocate", "orderid": "EV-q9", "sku": "EV-S", "qty": -2147483649}');
-- A JSON null message_id is refused (22004), not read as no id: a sender
-- whose id went missing would lose de-duplication without a word.  The
-- same message twice ran twice, and left nothing in the inbox.
SELECT allocation.handle('{"type": "Allocate", "orderid": "EV-n1", "sku": "EV-S", "qty": 1, "message_id": null}');
SELECT count(*) AS lines FROM allocation.order_lines WHERE orderid = 'EV-n1';
SELECT orderid, qty FROM allocation.order_lines WHERE sku = 'EV-S' ORDER BY orderid;
