#!/usr/bin/env node
// Calling the allocation extension from Node.js (pg, node-postgres).
//
// Connects with the usual libpq settings (PGHOST, PGPORT, PGUSER,
// PGDATABASE, or a connection string as the first argument) to a database
// where CREATE EXTENSION allocation has run, as a member of
// allocation_admin (the set-up adds batches and reads the outbox; an
// application that only allocates needs allocation_user).
//
// It shows, and checks, what an application has to get right:
//
//   1. allocate returns the batch reference, or NULL (null) when out of
//      stock: that is an answer, not an error;
//   2. errors are told apart by SQLSTATE (err.code), never by message
//      text: ZA003 is "this order line is already allocated with another
//      quantity";
//   3. under REPEATABLE READ a command on a product that changed after the
//      transaction's snapshot fails with 40001: roll back and run the
//      whole transaction again (shown with a real conflict from a second
//      connection);
//   4. the events are read with the consumer API (register_consumer,
//      read_events, ack_events), which never skips a late commit.
//
// Run by scripts/extra-tests/examples.sh (after "npm ci" here), which
// compares its output with expected_output.txt beside this file.
'use strict';

const assert = require('node:assert/strict');
const { Client } = require('pg');

const SKU = 'JS-LAMP';

// allocate: one call in its own transaction; null means out of stock.
async function allocate(client, orderid, sku, qty) {
  const res = await client.query('SELECT allocation.allocate($1, $2, $3) AS batchref',
    [orderid, sku, qty]);
  return res.rows[0].batchref;
}

// allocateRepeatableRead: allocate under REPEATABLE READ, retrying on
// 40001.  before(attempt) runs inside the transaction after its snapshot
// was taken: the example uses it to make another connection change the
// product in between.
async function allocateRepeatableRead(client, orderid, sku, qty, before, attempts = 5) {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      // The first query takes the transaction's snapshot.
      await client.query('SELECT count(*) FROM allocation.stock');
      if (before) await before(attempt);
      const batch = await allocate(client, orderid, sku, qty);
      await client.query('COMMIT');
      console.log(`  attempt ${attempt}: allocated to ${batch}`);
      return batch;
    } catch (err) {
      await client.query('ROLLBACK');
      if (err.code !== '40001' || attempt === attempts) throw err;
      console.log(`  attempt ${attempt}: SQLSTATE 40001 (serialization failure), rolled back, retrying`);
    }
  }
  throw new Error('not reached');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// readEvents: read and acknowledge events until `want` of them came.
// read_events delivers an event once every transaction that could still
// record an earlier one has ended, so a reader polls (or LISTENs to
// allocation_events) rather than expecting everything at once.
async function readEvents(client, consumer, want, timeoutMs = 10000) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < want && Date.now() < deadline) {
    await client.query('BEGIN');
    try {
      const res = await client.query(
        'SELECT id, type, aggregateid, payload FROM allocation.read_events($1, 100)',
        [consumer]);
      for (const row of res.rows) {
        // deliver the event here, idempotently (by id)
        got.push(row);
      }
      if (res.rows.length > 0) {
        await client.query('SELECT allocation.ack_events($1, $2)',
          [consumer, res.rows[res.rows.length - 1].id]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
    if (got.length < want) await sleep(100);
  }
  return got;
}

async function main() {
  const config = process.argv[2] ? { connectionString: process.argv[2] } : {};
  const client = new Client(config);
  const other = new Client(config);
  await client.connect();
  await other.connect();

  console.log('set-up: two batches of', SKU);
  await client.query("SELECT allocation.register_consumer('js-example')");
  await client.query("SELECT allocation.add_batch('js-warehouse', $1, 10)", [SKU]);
  await client.query("SELECT allocation.add_batch('js-ship', $1, 5, DATE '2026-12-24')", [SKU]);

  console.log('1. allocate');
  let batch = await allocate(client, 'js-order-1', SKU, 8);
  console.log('  js-order-1, 8:', batch);
  assert.equal(batch, 'js-warehouse');
  batch = await allocate(client, 'js-order-2', SKU, 100);
  console.log('  js-order-2, 100:', batch === null ? 'out of stock' : batch);
  assert.equal(batch, null);

  console.log('2. the same order line with another quantity');
  try {
    await allocate(client, 'js-order-1', SKU, 3);
    assert.fail('ZA003 expected');
  } catch (err) {
    if (err.code !== 'ZA003') throw err;
    console.log('  SQLSTATE ZA003: already allocated with another quantity');
  }

  console.log('3. REPEATABLE READ and a concurrent change');
  batch = await allocateRepeatableRead(client, 'js-order-4', SKU, 1, async (attempt) => {
    if (attempt === 1) {
      // Another connection allocates on the same product and commits
      // after our snapshot was taken.
      const b = await allocate(other, 'js-order-3', SKU, 1);
      console.log(`  other connection: js-order-3, 1: ${b}`);
    }
  });
  assert.equal(batch, 'js-warehouse');

  console.log('4. events, with the consumer API');
  const events = await readEvents(client, 'js-example', 6);
  for (const e of events) {
    console.log(`  ${e.type} ${e.aggregateid} ${e.payload.orderid || e.payload.ref}`);
  }
  assert.deepEqual(events.map((e) => e.type), [
    'BatchCreated', 'BatchCreated', 'Allocated', 'OutOfStock', 'Allocated', 'Allocated']);
  assert.deepEqual(await readEvents(client, 'js-example', 1, 500), []);
  console.log('  nothing left to read');
  await client.query("SELECT allocation.unregister_consumer('js-example')");

  await other.end();
  await client.end();
  console.log('ok');
}

main().catch((err) => {
  console.error(`error: ${err.code ? `SQLSTATE ${err.code}: ` : ''}${err.message}`);
  process.exit(1);
});
