#!/usr/bin/env python3
"""Calling the allocation extension from Python (psycopg 3).

Connects with the usual libpq settings (PGHOST, PGPORT, PGUSER, PGDATABASE
or a connection string as the first argument) to a database where
CREATE EXTENSION allocation has run, as a member of allocation_admin (the
set-up adds batches and reads the outbox; an application that only
allocates needs allocation_user).

It shows, and checks, what an application has to get right:

  1. allocate returns the batch reference, or NULL (None) when out of stock:
     that is an answer, not an error;
  2. errors are told apart by SQLSTATE, never by message text: ZA003 is
     "this order line is already allocated with another quantity";
  3. under REPEATABLE READ a command on a product that changed after the
     transaction's snapshot fails with 40001: roll back and run the whole
     transaction again (shown with a real conflict from a second
     connection);
  4. the events are read with the consumer API (register_consumer,
     read_events, ack_events), which never skips a late commit.

Run by scripts/extra-tests/examples.sh, which compares its output with
expected_output.txt beside this file.
"""

import sys
import time

import psycopg

SKU = "PY-LAMP"


def sqlstate_of(err):
    """The SQLSTATE of a database error (psycopg: .sqlstate)."""
    return getattr(err, "sqlstate", None)


def allocate(conn, orderid, sku, qty):
    """One allocate call in its own transaction; None means out of stock."""
    with conn.transaction():
        return conn.execute("SELECT allocation.allocate(%s, %s, %s)",
                            (orderid, sku, qty)).fetchone()[0]


def allocate_repeatable_read(conn, orderid, sku, qty, before=None,
                             attempts=5):
    """allocate under REPEATABLE READ, retrying on 40001.

    before(attempt) runs inside the transaction, after its snapshot was
    taken: the example uses it to make another connection change the
    product in between."""
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # The first query takes the transaction's snapshot.
                conn.execute("SELECT count(*) FROM allocation.stock").fetchone()
                if before is not None:
                    before(attempt)
                batch = conn.execute(
                    "SELECT allocation.allocate(%s, %s, %s)",
                    (orderid, sku, qty)).fetchone()[0]
            print(f"  attempt {attempt}: allocated to {batch}")
            return batch
        except psycopg.Error as err:
            if sqlstate_of(err) != "40001" or attempt == attempts:
                raise
            print(f"  attempt {attempt}: SQLSTATE 40001 "
                  "(serialization failure), rolled back, retrying")
    raise AssertionError("not reached")


def read_events(conn, consumer, want, timeout=10.0):
    """Read and acknowledge events until `want` of them came.

    read_events delivers an event once every transaction that could still
    record an earlier one has ended, so a reader polls (or LISTENs to
    allocation_events) rather than expecting everything at once."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, type, aggregateid, payload"
                " FROM allocation.read_events(%s, 100)", (consumer,)).fetchall()
            for _id, type_, aggregateid, payload in rows:
                # deliver the event here, idempotently (by id)
                got.append((type_, aggregateid, payload))
            if rows:
                conn.execute("SELECT allocation.ack_events(%s, %s)",
                             (consumer, rows[-1][0]))
        if len(got) < want:
            time.sleep(0.1)
    return got


def main():
    dsn = sys.argv[1] if len(sys.argv) > 1 else ""
    conn = psycopg.connect(dsn, autocommit=True)
    other = psycopg.connect(dsn, autocommit=True)

    print("set-up: two batches of", SKU)
    conn.execute("SELECT allocation.register_consumer('py-example')")
    conn.execute("SELECT allocation.add_batch('py-warehouse', %s, 10)", (SKU,))
    conn.execute("SELECT allocation.add_batch('py-ship', %s, 5, DATE '2026-12-24')",
                 (SKU,))

    print("1. allocate")
    batch = allocate(conn, "py-order-1", SKU, 8)
    print("  py-order-1, 8:", batch)
    assert batch == "py-warehouse", batch
    batch = allocate(conn, "py-order-2", SKU, 100)
    print("  py-order-2, 100:", "out of stock" if batch is None else batch)
    assert batch is None, batch

    print("2. the same order line with another quantity")
    try:
        allocate(conn, "py-order-1", SKU, 3)
        raise AssertionError("ZA003 expected")
    except psycopg.Error as err:
        if sqlstate_of(err) != "ZA003":
            raise
        print("  SQLSTATE ZA003: already allocated with another quantity")

    print("3. REPEATABLE READ and a concurrent change")

    def conflict(attempt):
        if attempt == 1:
            # Another connection allocates on the same product and commits
            # after our snapshot was taken.
            b = allocate(other, "py-order-3", SKU, 1)
            print(f"  other connection: py-order-3, 1: {b}")

    batch = allocate_repeatable_read(conn, "py-order-4", SKU, 1, before=conflict)
    assert batch == "py-warehouse", batch

    print("4. events, with the consumer API")
    events = read_events(conn, "py-example", 6)
    for type_, aggregateid, payload in events:
        detail = payload.get("orderid") or payload.get("ref")
        print(f"  {type_} {aggregateid} {detail}")
    assert [e[0] for e in events] == [
        "BatchCreated", "BatchCreated", "Allocated", "OutOfStock",
        "Allocated", "Allocated"], events
    assert read_events(conn, "py-example", 1, timeout=0.5) == []
    print("  nothing left to read")
    conn.execute("SELECT allocation.unregister_consumer('py-example')")

    other.close()
    conn.close()
    print("ok")


if __name__ == "__main__":
    main()
