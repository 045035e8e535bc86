#!/usr/bin/env python3
"""test/csv/test_csv.py - the tests of allocate-from-csv (run by
scripts/extra-tests/csv.sh; TAP-like output, exit status 1 on failure).

Parts (each can be run alone: test_csv.py [scenarios|malformed|atomic|property]):
  scenarios  the book's CSV end-to-end tests and the rules: simple
             allocation, warehouse before shipment, preference and ties,
             out of stock, rerun with an existing allocations.csv,
             idempotent rerun, quantity conflicts, argument checks, CSV
             dialect (quoting, CRLF, BOM, no final newline)
  malformed  generated truncations and mutations of valid files, judged by
             an independent strict RFC 4180 reader written here: either a
             clear FILE:LINE:COL error and nothing written, or exactly the
             allocations the oracle's rows call for
  atomic     a folder the program may not write, and runs killed while
             they write: allocations.csv is the old file or the new one
  property   random batches and orders through the program and through the
             extension (add_batch and allocate in file order, one
             database session): the same allocations, the same
             out-of-stock lines, the same error messages

Environment: CSV_BIN (the program), CSV_PSQL (a psql command line for the
property part, e.g. "psql -X -d db"), CSV_CASES (property cases, 1000),
CSV_MUTATIONS (mutations per file, 300), CSV_SEED.
"""
import csv
import io
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.path.abspath(os.environ.get("CSV_BIN", "src/csv/allocate-from-csv"))
SEED = int(os.environ.get("CSV_SEED", str(int(time.time()))))
failures = 0
count = 0
WORK = tempfile.mkdtemp(prefix="csv-test-")


def ok(cond, name, diag=""):
    global failures, count
    count += 1
    if cond:
        print(f"ok {count} - {name}")
    else:
        failures += 1
        print(f"not ok {count} - {name}")
        for line in str(diag).splitlines()[:40]:
            print(f"#   {line}")
    return cond


def folder(name):
    d = os.path.join(WORK, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    return d


def put(d, name, content):
    with open(os.path.join(d, name), "wb") as f:
        f.write(content.encode() if isinstance(content, str) else content)


def put_rows(d, name, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(r)
    put(d, name, buf.getvalue())


def run(d, *args):
    p = subprocess.run([BIN, *args, d], capture_output=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def rows_of(d):
    with open(os.path.join(d, "allocations.csv"), newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def raw(d, name="allocations.csv"):
    p = os.path.join(d, name)
    return open(p, "rb").read() if os.path.exists(p) else None


HEADER = ["orderid", "sku", "qty", "batchref"]

# ---------------------------------------------------------------------------


def scenarios():
    # the book: test_cli_app_reads_csvs_with_batches_and_orders_and_outputs_allocations
    d = folder("book1")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s1", 100, ""],
                                ["b2", "s2", 100, "2011-01-01"], ["b3", "s2", 100, "2011-01-02"]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o1", "s1", 3], ["o1", "s2", 12]])
    rc, _, err = run(d)
    ok(rc == 0 and rows_of(d) == [HEADER, ["o1", "s1", "3", "b1"], ["o1", "s2", "12", "b2"]],
       "book: reads batches and orders, writes allocations", f"rc={rc} {err} {raw(d)}")

    # the book: test_cli_app_also_reads_existing_allocations_and_can_append_to_them
    d = folder("book2")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["old", "s", 10, "2011-01-01"],
                                ["new", "s", 10, "2011-01-02"]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o-old", "s", 10], ["o-new", "s", 7]])
    put_rows(d, "allocations.csv", [HEADER, ["o-old", "s", 10, "old"]])
    rc, _, err = run(d)
    ok(rc == 0 and rows_of(d) == [HEADER, ["o-old", "s", "10", "old"], ["o-new", "s", "7", "new"]],
       "book: existing allocations are the state, new ones are appended", f"rc={rc} {err} {raw(d)}")

    d = folder("warehouse")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["ship", "s", 10, "2011-01-01"],
                                ["wh", "s", 10, ""]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o", "s", 5]])
    rc, _, err = run(d)
    ok(rc == 0 and rows_of(d)[1:] == [["o", "s", "5", "wh"]], "warehouse stock before shipments", err)

    d = folder("ties")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b", "s", 10, "2011-01-02"],
                                ["late", "s", 10, "2011-01-03"], ["a", "s", 10, "2011-01-02"],
                                ["B", "s", 10, "2011-01-02"], ["é", "s", 10, "2011-01-02"]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o1", "s", 10], ["o2", "s", 10],
                               ["o3", "s", 10], ["o4", "s", 10], ["o5", "s", 10]])
    rc, _, err = run(d)
    ok(rc == 0 and [r[3] for r in rows_of(d)[1:]] == ["B", "a", "b", "é", "late"],
       "earliest eta first, ties by reference in byte order", f"{rows_of(d)} {err}")

    d = folder("oos")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["big", "s", 11], ["fits", "s", 10], ["more", "s", 1]])
    rc, _, err = run(d)
    ok(rc == 1 and rows_of(d)[1:] == [["fits", "s", "10", "b1"]] and
       f"{d}/orders.csv:2: out of stock" in err and f"{d}/orders.csv:4: out of stock" in err,
       "out of stock: reported with its line, left out, exit status 1", f"rc={rc} {err}")
    before = raw(d)
    mtime = os.stat(os.path.join(d, "allocations.csv")).st_mtime_ns
    time.sleep(0.01)
    rc2, _, _ = run(d)
    ok(rc2 == 1 and raw(d) == before and os.stat(os.path.join(d, "allocations.csv")).st_mtime_ns == mtime,
       "a rerun changes nothing, not even the file's mtime")

    d = folder("idem")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o", "s", 4], ["o", "s", 4]])
    rc, _, err = run(d)
    first = raw(d)
    rc2, _, err2 = run(d)
    ok(rc == 0 and rc2 == 0 and rows_of(d)[1:] == [["o", "s", "4", "b1"]] and raw(d) == first,
       "rule 4: a repeated line and a rerun allocate once", f"{err}{err2}{first}")

    d = folder("za003")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
    put_rows(d, "allocations.csv", [HEADER, ["o", "s", 4, "b1"]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o", "s", 5], ["p", "s", 6]])
    rc, _, err = run(d)
    ok(rc == 2 and rows_of(d)[1:] == [["o", "s", "4", "b1"], ["p", "s", "6", "b1"]] and
       'orders.csv:2: order line "o" of sku "s" is already allocated with quantity 4' in err,
       "another quantity for an allocated line is refused (the extension's ZA003), the rest goes on", f"rc={rc} {err}")

    # CSV dialect: CRLF, BOM, quoted header, columns in another order, no final newline,
    # blank lines, identifiers that need quoting
    d = folder("dialect")
    put(d, "batches.csv", '\ufeffsku,"ref",eta,qty\r\n"s,1","b ""one""",,10\r\n\r\n"s\n1"x', )
    put(d, "batches.csv", '\ufeffsku,"ref",eta,qty\r\n"s,1","b ""one""",,10\r\n\r\nΩ,b2,2011-01-01,5')
    put(d, "orders.csv", 'qty,orderid,sku\n3,"o,1","s,1"\n\n2,"o""2",Ω')
    rc, _, err = run(d)
    text = raw(d).decode()
    ok(rc == 0 and rows_of(d)[1:] == [["o,1", "s,1", "3", 'b "one"'], ['o"2', "Ω", "2", "b2"]] and
       text.endswith('"o""2",Ω,2,b2\n'),
       "CRLF, BOM, blank lines, columns in any order, quoted fields in and out", f"rc={rc} {err} {text!r}")

    # argument checks, worded as the extension's (the property part compares them with it)
    long_id = "x" * 256
    cases = [
        (["o", "s", "0"], "invalid quantity 0 for an order line", 5),
        (["o", "s", "-2"], "invalid quantity -2 for an order line", 5),
        (["o", "s", "x1"], 'invalid input syntax for type integer: "x1"', 5),
        (["o", "s", "99999999999"], 'value "99999999999" is out of range for type integer', 5),
        (["", "s", "1"], "orderid must not be empty", 1),
        (["   ", "s", "1"], "orderid must not be blank", 1),
        (["o", long_id, "1"], "sku is too long (256 characters)", 3),
        (["o\tx", "s", "1"], "orderid must not contain control characters", 1),
        (["o", "nope", "1"], 'invalid sku "nope"', None),
    ]
    for fields, message, col in cases:
        d = folder("check")
        put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
        put_rows(d, "orders.csv", [["orderid", "sku", "qty"], fields, ["fine", "s", 1]])
        rc, _, err = run(d)
        col_text = "" if col is None else f"{col}:"
        ok(rc == 2 and f"orders.csv:2:{col_text} {message}" in err and rows_of(d)[1:] == [["fine", "s", "1", "b1"]],
           f"order line refused with the extension's message: {message[:40]}", f"rc={rc} {err}")
    d = folder("badutf8")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
    put(d, "orders.csv", b"orderid,sku,qty\no\xff,s,1\n")
    rc, _, err = run(d)
    ok(rc == 2 and "orderid must be valid UTF-8" in err, "invalid UTF-8 is refused", err)

    # batches.csv and allocations.csv problems stop the run, nothing is written
    bad_inputs = [
        ("batches.csv", "ref,sku,qty,eta\nb1,s,-1,\n", "batches.csv:2:6: invalid quantity -1 for a batch"),
        ("batches.csv", "ref,sku,qty,eta\nb1,s,1,\nb1,t,1,\n", 'batches.csv:3:1: batch reference "b1" already exists'),
        ("batches.csv", "ref,sku,qty,eta\nb1,s,1,2011-02-30\n", 'batches.csv:2:8: date/time field value out of range: "2011-02-30"'),
        ("batches.csv", "ref,sku,qty,eta\nb1,s,1,1/2/2011\n", 'batches.csv:2:8: invalid input syntax for type date: "1/2/2011"'),
        ("batches.csv", "ref,sku,qty\nb1,s,1\n", 'batches.csv:1: column "eta" is missing'),
        ("batches.csv", "ref,sku,qty,eta,note\n", 'batches.csv:1:17: unknown column "note"'),
        ("allocations.csv", "orderid,sku,qty,batchref\no,s,1,zz\n", 'allocations.csv:2:7: unknown batch reference "zz"'),
        ("allocations.csv", "orderid,sku,qty,batchref\no,t,1,b1\n", 'allocations.csv:2:7: batch "b1" holds sku "s", not "t"'),
        ("allocations.csv", "orderid,sku,qty,batchref\no,s,1,b1\no,s,1,b1\n", 'allocations.csv:3:1: order line "o" of sku "s" is allocated twice'),
        ("allocations.csv", "orderid,sku,qty,batchref\no,s,11,b1\n", 'allocations.csv:2:5: batch "b1" cannot hold this line'),
        ("orders.csv", "orderid,sku,qty\no,s,1,2\n", "orders.csv:2:7: 4 fields where the header has 3"),
        ("orders.csv", "orderid,sku,qty\no,s\n", "orders.csv:2:4: 2 fields where the header has 3"),
        ("orders.csv", "", "orders.csv: the file is empty"),
    ]
    # a carriage return alone is no empty line: the reader's error, in any of the three files
    bad_inputs += [(name, content, "carriage return not followed by a line feed")
                   for name in ("batches.csv", "orders.csv", "allocations.csv")
                   for content in (b"\r", b"\n\r\n\r", b"\xef\xbb\xbf\r")]
    for name, content, message in bad_inputs:
        d = folder("bad")
        put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
        put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o2", "s", 1]])
        put_rows(d, "allocations.csv", [HEADER])
        put(d, name, content)
        before = raw(d)
        rc, _, err = run(d)
        ok(rc == 3 and message in err and raw(d) == before, f"bad input stops the run: {name} {content[:20]!r}: {message[:50]}", f"rc={rc} {err}")
    # empty lines are skipped: a file of them alone has no header line, whatever its bytes
    blank_files = [b"\n", b"\r\n", b"\n\n\r\n\n", b"\xef\xbb\xbf\n", b"\xef\xbb\xbf\r\n\r\n"]
    for name in ("batches.csv", "orders.csv"):
        for content in blank_files:
            d = folder("blank")
            put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
            put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o2", "s", 1]])
            put(d, name, content)
            rc, _, err = run(d)
            ok(rc == 3 and f"{name}: the file is empty" in err and raw(d) is None,
               f"{name} of empty lines alone ({content!r}) is an empty file", f"rc={rc} {err}")
    # an empty allocations.csv (0 bytes, a byte order mark alone, empty lines) is no state, as a missing one
    for content in [b"", b"\xef\xbb\xbf"] + blank_files:
        d = folder("emptyalloc")
        put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
        put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o2", "s", 1]])
        put(d, "allocations.csv", content)
        rc, _, err = run(d)
        ok(rc == 0 and rows_of(d) == [HEADER, ["o2", "s", "1", "b1"]],
           f"an empty allocations.csv ({len(content)} bytes) is read as no state", f"rc={rc} {err}")
    d = folder("missing")
    rc, _, err = run(d)
    ok(rc == 3 and "batches.csv: cannot open" in err and raw(d) is None, "a missing file stops the run", err)

    # --dry-run and --summary
    d = folder("dry")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""], ["b2", "t", 1, ""]])
    put_rows(d, "allocations.csv", [HEADER, ["old", "s", 2, "b1"]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["old", "s", 2], ["n1", "s", 3], ["n2", "t", 5]])
    before = raw(d)
    rc, out, err = run(d, "--dry-run", "--summary")
    ok(rc == 1 and raw(d) == before and out ==
       "orderid,sku,qty,batchref\nn1,s,3,b1\n\n"
       "batch,sku,purchased,lines,allocated,available,new_lines,new_qty\n"
       "b1,s,10,2,5,5,1,3\nb2,t,1,0,0,1,0,0\n\nsku,out_of_stock_lines,out_of_stock_qty\nt,1,5\n",
       "--dry-run prints the new rows and writes nothing; --summary counts per batch and SKU", f"rc={rc}\n{out}\n{err}")
    rc, out, _ = run(d, "--bogus")
    ok(rc == 64 and raw(d) == before, "bad usage: exit status 64")


# ---- an independent strict RFC 4180 reader (the oracle) ----------------------

class Bad(Exception):
    def __init__(self, line, col, what):
        super().__init__(f"{line}:{col}: {what}")
        self.line, self.col = line, col


def col_of(data, line_start, at):
    return 1 + sum(1 for b in data[line_start:at] if (b & 0xC0) != 0x80)


def oracle(data, width):
    """Records (lists of bytes) of data, or raises Bad at the first problem."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    line, ls = 1, pos
    records = []
    n = len(data)
    while pos < n:
        if data[pos:pos + 1] == b"\n" or data[pos:pos + 2] == b"\r\n":
            pos += 1 if data[pos:pos + 1] == b"\n" else 2
            line, ls = line + 1, pos
            continue
        fields = []  # (value, line, ls, raw_start, raw_end)
        while True:
            fl, fls, start = line, ls, pos
            if pos < n and data[pos:pos + 1] == b'"':
                r, val = pos + 1, bytearray()
                while True:
                    if r >= n:
                        raise Bad(fl, col_of(data, fls, start), "unclosed quote")
                    c = data[r:r + 1]
                    if c == b'"':
                        if data[r + 1:r + 2] == b'"':
                            val += b'"'
                            r += 2
                            continue
                        break
                    if c == b"\n":
                        line, ls = line + 1, r + 1
                    val += c
                    r += 1
                r += 1
                if r < n and data[r:r + 1] != b"," and data[r:r + 1] != b"\n" and data[r:r + 2] != b"\r\n":
                    raise Bad(line, col_of(data, ls, r), "after closing quote")
                pos = r
            else:
                m = re.compile(rb'[^,\r\n"]*').match(data, pos)
                r = m.end()
                if r < n and data[r:r + 1] == b'"':
                    raise Bad(line, col_of(data, ls, r), "quote in unquoted field")
                if r < n and data[r:r + 1] == b"\r" and data[r + 1:r + 2] != b"\n":
                    raise Bad(line, col_of(data, ls, r), "bare CR")
                val = data[pos:r]
                pos = r
            fields.append((bytes(val), fl, fls, start, pos))
            if pos >= n:
                break
            if data[pos:pos + 1] == b",":
                pos += 1
                continue
            pos += 2 if data[pos:pos + 1] == b"\r" else 1
            line, ls = line + 1, pos
            break
        if records and len(fields) != width:
            if len(fields) > width:
                f = fields[width]
                raise Bad(f[1], col_of(data, f[2], f[3]), "too many fields")
            f = fields[-1]
            raise Bad(f[1], col_of(data, f[2], f[3]) + col_of(data, f[3], f[4]) - 1, "too few fields")
        records.append([f[0] for f in fields])
    return records


def shown_value(q):
    """A value as a message shows it (quoted, escaped) back to the value;
    the property values are short, so never cut."""
    out, i, body = [], 0, q[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\":
            e = body[i + 1]
            if e == "x":
                out.append(chr(int(body[i + 2:i + 4], 16)))
                i += 4
                continue
            if e == "u":
                out.append(chr(int(body[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append({"n": "\n", "r": "\r", "t": "\t"}.get(e, e))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def valid_identifier(b):
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if not s or len(s) > 255 or s.strip(" \u00a0\u3000\ufeff\u2028\u2029\u202f\u205f\u1680" + "".join(map(chr, range(0x2000, 0x200c)))) == "":
        return False
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in s)


def pg_int(b):
    m = re.fullmatch(rb"[ \t\n\r\f\v]*([+-]?[0-9]+)[ \t\n\r\f\v]*", b)
    if not m:
        return None
    v = int(m.group(1))
    return v if -2**31 <= v < 2**31 else None


def malformed():
    rng = random.Random(SEED)
    n_mut = int(os.environ.get("CSV_MUTATIONS", "300"))
    batches = b'ref,sku,qty,eta\r\nb1,s1,1000,\r\n"b,""2""",s2,1000,2011-01-01\nb3,"s\xc3\xa9,3",1000,\n'
    orders_body = (b'o1,s1,3\r\n"o,2",s2,4\n"o""3","s\xc3\xa9,3",5\n\no4,s1,1\r\n'
                   b'"o\xce\xa95",s2,2\no6,s1,3')
    header = b"orderid,sku,qty\n"
    existing = b"orderid,sku,qty,batchref\nold,s1,1,b1\n"
    skus = {b"s1", b"s2", "sé,3".encode()}

    def mutate(body):
        body = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(body) + 1)
            op = rng.randrange(3)
            c = rng.choice([b'"', b",", b"\r", b"\n", b"x", b" ", b"0", b"\r\n", b'""'])
            if op == 0:
                body[i:i] = c
            elif op == 1 and i < len(body):
                del body[i]
            elif i < len(body):
                body[i:i + 1] = c
        return bytes(body)

    inputs = [orders_body[:k] for k in range(len(orders_body) + 1)]
    inputs += [mutate(orders_body) for _ in range(n_mut)]
    bad = 0
    agree = 0
    for body in inputs:
        data = header + body
        d = folder("mal")
        put(d, "batches.csv", batches)
        put(d, "allocations.csv", existing)
        put(d, "orders.csv", data)
        rc, _, err = run(d)
        try:
            recs = oracle(data, 3)
        except Bad as e:
            want = f"{d}/orders.csv:{e.line}:{e.col}: "
            if not ok(rc == 3 and want in err and raw(d) == existing,
                      "malformed orders.csv: error at FILE:LINE:COL, nothing written",
                      f"input {data!r}\noracle {e}\nrc={rc} {err}"):
                return
            bad += 1
            continue
        # the oracle's rows, allocated as the rules say (stock is ample here)
        state = {(b"old", b"s1"): 1}
        expect, refused = [], 0
        for o, s, q in recs[1:]:
            qty = pg_int(q)
            if not (valid_identifier(o) and valid_identifier(s)) or qty is None or qty <= 0 or s not in skus:
                refused += 1
                continue
            if (o, s) in state:
                refused += state[(o, s)] != qty
                continue
            state[(o, s)] = qty
            expect.append([o.decode(), s.decode(), str(qty)])
        got = [r[:3] for r in rows_of(d)[2:]] if raw(d) else None
        if not ok(rc == (2 if refused else 0) and got == expect,
                  "orders.csv that parses: exactly the oracle's allocations",
                  f"input {data!r}\nrc={rc} {err}\nexpected {expect}\ngot {got}"):
            return
        agree += 1
    print(f"# malformed: {len(inputs)} orders.csv variants, {bad} refused at the oracle's position, {agree} parsed alike")

    # batches.csv: truncations and mutations; an error names its position and writes nothing
    for body in [batches[:k] for k in range(16, len(batches) + 1)] + [mutate(batches[16:]) for _ in range(n_mut // 3)]:
        data = body if body.startswith(b"ref,") else b"ref,sku,qty,eta\r\n" + body
        d = folder("malb")
        put(d, "batches.csv", data)
        put(d, "allocations.csv", existing)
        put(d, "orders.csv", header + b"o1,s1,1\n")
        rc, _, err = run(d)
        try:
            oracle(data, 4)
            good = True
        except Bad as e:
            good = False
            # records are checked as they are read: an earlier bad value may be reported first
            m = re.search(r"/batches\.csv:(\d+):(\d+): ", err)
            if not ok(rc == 3 and m is not None and (int(m.group(1)), int(m.group(2))) <= (e.line, e.col)
                      and raw(d) == existing,
                      "malformed batches.csv: error at FILE:LINE:COL, nothing written", f"{data!r}\n{e}\nrc={rc} {err}"):
                return
        if good and rc == 3 and not (re.search(r"(batches|allocations)\.csv:\d+(:\d+)?: ", err) and raw(d) == existing):
            ok(False, "a refused batches.csv names its position and writes nothing", f"{data!r}\nrc={rc} {err}")
            return
    ok(True, "batches.csv truncations and mutations: every refusal positioned, nothing written")


def atomic():
    # the new file keeps the old one's permission bits, never its set-user-ID,
    # set-group-ID or sticky bits: a file planted in a shared folder must not
    # turn the runner's new allocations.csv into a set-ID file of the runner
    d = folder("setid")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o", "s", 1]])
    put_rows(d, "allocations.csv", [HEADER])
    os.chmod(os.path.join(d, "allocations.csv"), 0o7666)
    rc, _, err = run(d)
    mode = os.stat(os.path.join(d, "allocations.csv")).st_mode & 0o7777
    ok(rc == 0 and mode == 0o666, "set-ID and sticky bits of the old allocations.csv are not copied",
       f"rc={rc} mode={oct(mode)} {err}")

    # a folder the program may not write (as nobody: root writes anywhere)
    d = folder("ro")
    put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"], ["b1", "s", 10, ""]])
    put_rows(d, "orders.csv", [["orderid", "sku", "qty"], ["o", "s", 1]])
    put_rows(d, "allocations.csv", [HEADER, ["x", "s", 1, "b1"]])
    before = raw(d)
    binary = os.path.join(WORK, "allocate-from-csv")
    shutil.copy(BIN, binary)
    os.chmod(binary, 0o755)
    os.chmod(WORK, 0o755)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    os.chmod(d, 0o555)
    if shutil.which("setpriv") and os.geteuid() == 0:
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary, d],
                           capture_output=True)
        err = p.stderr.decode()
        ok(p.returncode == 4 and "allocations.csv is unchanged" in err and raw(d) == before and
           sorted(os.listdir(d)) == ["allocations.csv", "batches.csv", "orders.csv"],
           "read-only folder: exit status 4, the old allocations.csv intact", f"rc={p.returncode} {err}")
    else:
        print("# skipped: the read-only folder case needs root and setpriv")
    os.chmod(d, 0o755)

    # runs killed at random moments: the old file or the whole new one, never a part
    d = folder("kill")
    subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "csv", "gen.py"),
                    d, "150000", "2000", "20000"], check=True)
    put(d, "allocations.csv", "orderid,sku,qty,batchref\n")
    old = raw(d)
    ref = folder("kill-ref")
    for f in ("batches.csv", "orders.csv", "allocations.csv"):
        shutil.copy(os.path.join(d, f), ref)
    full = 0.0
    for _ in range(2):
        put(ref, "allocations.csv", old)
        t0 = time.monotonic()
        run(ref)
        full = max(full, time.monotonic() - t0)
    new = raw(ref)
    # a reader during the run sees the old file or the new one, never a part
    put(d, "allocations.csv", old)
    p = subprocess.Popen([BIN, d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reads, torn = 0, None
    while p.poll() is None:
        now = raw(d)
        reads += 1
        if now not in (old, new):
            torn = len(now)
    ok(torn is None and raw(d) == new, f"a reader during the run never sees a partial file ({reads} reads)",
       f"saw {torn} bytes; old {len(old)}, new {len(new)}")
    rng = random.Random(SEED)
    seen = {"old": 0, "new": 0}
    for i in range(16):
        put(d, "allocations.csv", old)
        sig = signal.SIGKILL if i % 3 else signal.SIGTERM
        p = subprocess.Popen([BIN, d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # spread over the whole run and a little past it, the write at the end included
        time.sleep(full * (0.25 + i / 16 + rng.uniform(0, 0.05)))
        p.send_signal(sig)
        p.wait()
        now = raw(d)
        state = "old" if now == old else "new" if now == new else "torn"
        if not ok(state != "torn", f"killed run ({signal.Signals(sig).name}): allocations.csv is whole",
                  f"{len(now)} bytes, old {len(old)}, new {len(new)}"):
            return
        seen[state] += 1
        left = [f for f in os.listdir(d) if f.startswith(".allocations.csv.")]
        if sig == signal.SIGTERM:
            ok(not left, "SIGTERM: no temporary file left behind", left)
        for f in left:
            os.unlink(os.path.join(d, f))
    print(f"# killed runs: {seen['old']} left the old file, {seen['new']} the new one (full run {full:.2f} s)")


# ---- the program against the extension ---------------------------------------

def sql_lit(s):
    return "'" + s.replace("'", "''") + "'"


def prop():
    psql = os.environ.get("CSV_PSQL")
    if not psql:
        ok(False, "property: CSV_PSQL is not set")
        return
    rng = random.Random(SEED)
    ncases = int(os.environ.get("CSV_CASES", "1000"))
    alphabet = ["a", "b", "B", "é", "Ω", ",", '"', " ", "1", "z"]
    dates = ["", "", "2011-01-01", "2011-01-02", "2011-01-02", "1999-12-31", "2040-02-29"]

    def ident(k):
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, k)))

    sql = ["\\set ON_ERROR_STOP 1", "SET client_min_messages = warning;",
           "CREATE FUNCTION pg_temp.try_allocate(o text, s text, q text) RETURNS text LANGUAGE plpgsql AS $$"
           " BEGIN PERFORM allocation.allocate(o, s, q::integer); RETURN NULL;"
           " EXCEPTION WHEN SQLSTATE 'ZA001' OR SQLSTATE 'ZA003' OR SQLSTATE '22023' OR SQLSTATE '22P02'"
           " OR SQLSTATE '22003' THEN RETURN SQLERRM; END $$;",
           "CREATE TEMP TABLE msgs (k int, n int, m text);",
           "BEGIN;"]
    cases = []
    for k in range(ncases):
        pre = f"{k}|"
        skus = list({pre + ident(2) for _ in range(rng.randint(1, 3))})
        batches, refs = [], set()
        # one case in eight is wide: many small batches on a SKU, with etas
        # that tie, and enough small lines to use them up page after page
        # (the candidates are read 1, 16, then up to 1,024 at a time)
        wide = rng.random() < 0.125
        for s in skus:
            nb = rng.randint(17, 70) if wide else \
                rng.randint(0, 4) if rng.random() < 0.15 else rng.randint(1, 4)
            for _ in range(nb):
                r = pre + ident(3) + (str(len(refs)) if wide and rng.random() < 0.5 else "")
                if r in refs:
                    continue
                refs.add(r)
                batches.append([r, s, str(rng.randint(0, 4) if wide else rng.randint(0, 15)),
                                rng.choice(dates)])
        oids = [pre + ident(2) + (str(i) if wide else "") for i in range(rng.randint(40, 120) if wide else rng.randint(1, 6))]
        orders = []
        for _ in range(rng.randint(60, 200) if wide else rng.randint(1, 14)):
            s = rng.choice(skus) if rng.random() < 0.93 else pre + "unknown"
            q = str(rng.randint(1, 4) if wide else rng.randint(1, 9))
            if rng.random() < 0.04:
                q = rng.choice(["0", "-1", "x", " 7"])
            orders.append([rng.choice(oids), s, q])
        split = rng.randint(0, len(orders))
        cases.append((pre, batches, orders[:split], orders[split:]))
        for r, s, q, e in batches:
            sql.append(f"SELECT allocation.add_batch({sql_lit(r)}, {sql_lit(s)}, {q}, {sql_lit(e) + '::date' if e else 'NULL'});")
        for n, (o, s, q) in enumerate(orders):
            sql.append(f"INSERT INTO msgs SELECT {k}, {n}, m FROM pg_temp.try_allocate({sql_lit(o)}, {sql_lit(s)}, {sql_lit(q)}) m WHERE m IS NOT NULL;")
    sql.append("COMMIT;")
    sql.append("\\echo ==view")
    sql.append("COPY (SELECT orderid, sku, qty, batchref FROM allocation.allocations_view WHERE orderid ~ '^[0-9]+\\|') TO STDOUT (FORMAT csv);")
    sql.append("\\echo ==oos")
    sql.append("COPY (SELECT aggregateid, payload->>'orderid' FROM allocation.outbox WHERE type = 'OutOfStock' AND aggregateid ~ '^[0-9]+\\|') TO STDOUT (FORMAT csv);")
    sql.append("\\echo ==msgs")
    sql.append("COPY (SELECT k, n, m FROM msgs) TO STDOUT (FORMAT csv);")
    t0 = time.monotonic()
    p = subprocess.run(shlex.split(psql) + ["-q", "-At"], input="\n".join(sql).encode(), capture_output=True)
    if not ok(p.returncode == 0, "property: the extension ran every case", p.stderr.decode()[-2000:]):
        return
    t_sql = time.monotonic() - t0
    out = p.stdout.decode()
    parts = dict(re.findall(r"==(\w+)\n(.*?)(?=\n==|\Z)", out, re.S))
    view, oos, msgs = {}, {}, {}
    for o, s, q, b in csv.reader(io.StringIO(parts.get("view", ""))):
        view.setdefault(o.split("|")[0], set()).add((o, s, q, b))
    for s, o in csv.reader(io.StringIO(parts.get("oos", ""))):
        oos.setdefault(s.split("|")[0], []).append((s, o))
    for k, n, m in csv.reader(io.StringIO(parts.get("msgs", ""))):
        msgs[(int(k), int(n))] = m

    t0 = time.monotonic()
    nmsgs = 0
    for k, (pre, batches, part_a, part_b) in enumerate(cases):
        d = folder("prop")
        put_rows(d, "batches.csv", [["ref", "sku", "qty", "eta"]] + batches)
        got_oos, errs = [], ""
        for part in (part_a, part_b):
            put_rows(d, "orders.csv", [["orderid", "sku", "qty"]] + part)
            rc, out, err = run(d, "--summary")
            errs += err
            for m in re.finditer(r'out of stock: order line ("(?:[^"\\]|\\.)*") of sku ("(?:[^"\\]|\\.)*") \(qty \d+\) is not allocated$', err, re.M):
                got_oos.append((shown_value(m.group(2)), shown_value(m.group(1))))
        mine = {tuple(r) for r in rows_of(d)[1:]}
        theirs = view.get(str(k), set())
        if not ok(mine == theirs, f"property case {k}: the same allocations as the extension",
                  f"batches {batches}\norders {part_a} | {part_b}\nprogram   {sorted(mine)}\nextension {sorted(theirs)}\n{errs}"):
            return
        if not ok(sorted(got_oos) == sorted(oos.get(str(k), [])), f"property case {k}: the same out-of-stock lines",
                  f"program {got_oos}\nextension {oos.get(str(k))}"):
            return
        allorders = part_a + part_b
        for n, (o, s, q) in enumerate(allorders):
            m = msgs.get((k, n))
            if m is None:
                continue
            nmsgs += 1
            if not ok(m in errs, f"property case {k}: the extension's error message for line {n}",
                      f"extension: {m}\nprogram: {errs}"):
                return
    count_ok = len(cases)
    print(f"# property: {count_ok} random cases ({sum(len(c[2]) + len(c[3]) for c in cases)} order lines, "
          f"{sum(len(v) for v in view.values())} allocations, {sum(len(v) for v in oos.values())} out of stock, "
          f"{nmsgs} error messages compared); extension {t_sql:.1f} s, program {time.monotonic() - t0:.1f} s")


def main():
    parts = sys.argv[1:] or ["scenarios", "malformed", "atomic", "property"]
    print(f"# seed {SEED} (CSV_SEED={SEED} repeats this run)")
    try:
        for part in parts:
            {"scenarios": scenarios, "malformed": malformed, "atomic": atomic, "property": prop}[part]()
    finally:
        subprocess.run(["chmod", "-R", "u+w", WORK])
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"1..{count}")
    if failures:
        print(f"# {failures} of {count} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
