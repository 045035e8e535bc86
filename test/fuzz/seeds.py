#!/usr/bin/env python3
"""test/fuzz/seeds.py - write the seed corpus of the fuzz targets.

    python3 test/fuzz/seeds.py        # rewrites test/fuzz/corpus/*/seed-*

The seeds are small, hand-made inputs that reach each command and rule
at once, so that a short run in "make test" starts deep instead of from
nothing.  The encoding is fuzz_commands.c's (decode_* there): one command
byte (low nibble: which command; 0x80: bypass the entry checks; 0x60 both
set: another transaction races), then its arguments, one byte each for an
identifier from the pool, a quantity from the table, an eta, an e-mail or
a status.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# command slots (OPS[] in fuzz_commands.c)
ADD, ALLOC, DEALLOC, CHANGE, REPLAY, MANY, ORDER, STATUS, SUB = (
    0x00, 0x03, 0x07, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F)
BYPASS, RACE = 0x80, 0x60

# identifier pool (POOL[])
A, B, a, RED, b1, b2, b3, o1, o2, x9, e1, ab, nbsp_x, Zemoji, obrien, LONG = range(16)
# quantity table (QTYS[]): index of each value
Q = {1: 0, 2: 1, 3: 2, 5: 3, 10: 4, 0: 5, 4: 8, 7: 9, 100: 10, -1: 11,
     'MAX': 12, 'MIN': 13, 'MAX-1': 14, 20: 15}
# eta byte: value % 11 < 4 is "no eta"; 4.. are 0, 1, -1, 9000, 9001, MIN, MAX
NOETA, ETA0, ETA9000, ETA9001, ETAMIN, ETAMAX = 0, 4, 7, 8, 9, 10
# statuses (STATUSES[])
CREATED, ALLOCATED, BACKORDERED, SHIPPED, DELIVERED, CANCELLED, EMPTY = range(7)
# e-mails (EMAILS[])
MAIL1, MAIL1_UPPER, MAIL2, MAIL3, MAIL_EMPTY, MAIL_NO_TLD = range(6)


def tok(*tokens):
    """An identifier built of tokens (TOKENS[] indexes)."""
    return [0xE0 | len(tokens)] + list(tokens)


def add(ref, sku, qty, eta=NOETA, flags=0):
    return [ADD | flags] + _id(ref) + _id(sku) + [Q[qty], eta]


def alloc(orderid, sku, qty, flags=0):
    return [ALLOC | flags] + _id(orderid) + _id(sku) + [Q[qty]]


def dealloc(orderid, sku, flags=0):
    return [DEALLOC | flags] + _id(orderid) + _id(sku)


def change(ref, qty, flags=0):
    return [CHANGE | flags] + _id(ref) + [Q[qty]]


def many(*lines, flags=0):
    out = [MANY | flags, len(lines) - 1]
    for orderid, sku, qty in lines:
        out += _id(orderid) + _id(sku) + [Q[qty]]
    return out


def _id(x):
    return list(x) if isinstance(x, list) else [x]


SEEDS = {
    'commands': {
        # rule 2: warehouse first, then earliest eta, then reference;
        # rule 4: a repeated allocate; rule 5: a shrinking batch
        'rules': add(b2, A, 10, ETA9000) + add(b3, A, 10, ETA9001) +
        add(b1, A, 10) + alloc(o1, A, 7) + alloc(o2, A, 3) + [REPLAY] +
        alloc(x9, A, 5) + change(b1, 4) + dealloc(o1, A) + dealloc(o1, A) +
        change(b2, 0) + alloc(o1, A, 4),
        # ties: same eta, references in byte order; unicode references
        'ties': add(b3, B, 5, ETA9000) + add(e1, B, 5, ETA9000) +
        add(b2, B, 5, ETA9000) + add(nbsp_x, B, 5, ETA9000) +
        alloc(o1, B, 5) + alloc(o2, B, 5) + alloc(x9, B, 5) + alloc(ab, B, 5) +
        alloc(obrien, B, 1),
        # order tracking: created -> allocated by an Allocated event,
        # subscribers told; then shipped, delivered, and a refused move
        'orders': [ORDER, o1] + [SUB, o1, MAIL1] + [SUB, o1, MAIL1_UPPER] +
        [SUB, o1, MAIL2] + add(b1, A, 1) + alloc(o1, A, 1) +
        [STATUS, o1, SHIPPED] + [STATUS, o1, CANCELLED] +
        [STATUS, o1, DELIVERED] + [STATUS, o1, CREATED] + [ORDER, o1] + [ORDER, A] + [SUB, o2, MAIL1],
        # out of stock backorders a created order, then it is allocated
        'backorder': [ORDER, o2] + [SUB, o2, MAIL3] + add(b1, RED, 2) +
        alloc(o2, RED, 5) + add(b2, RED, 5, ETA9001) + alloc(o2, RED, 5) +
        [STATUS, o2, CANCELLED] + [STATUS, o2, EMPTY],
        # reallocation after a quantity change, with orders tracked
        'realloc': [ORDER, o1] + [ORDER, o2] + add(b1, A, 10) +
        add(b2, A, 7, ETA0) + add(b3, A, 3, ETA9000) + alloc(o1, A, 5) +
        alloc(o2, A, 5) + alloc(x9, A, 3) + change(b1, 0) + change(b2, 100) +
        change(b1, 10),
        # allocate_many: several lines, one unknown SKU, a mismatch
        'many': add(b1, A, 10) + add(b2, B, 10) +
        many((o1, A, 2), (o2, B, 3), (o1, B, 1)) +
        many((o1, A, 2), (o2, RED, 1)) + many((o1, A, 3)) +
        many((x9, A, 5), (x9, A, 5), (x9, B, 10)),
        # hostile identifiers: tokens (control, spaces, ill-formed UTF-8,
        # 64-char runs) and the 255-character pool entry
        'hostile': add(tok(0, 4, 6), A, 5) + add(tok(10, 11), A, 5) +
        add(tok(15, 0), A, 5) + add(tok(20), A, 5) + add(tok(), A, 5) +
        add(tok(26, 26, 26, 26), A, 5) + add(tok(26, 26, 26, 0), A, 5) +
        add(tok(27, 27, 27, 27), A, 5) + add(tok(28), A, 5) +
        add(LONG, LONG, 5) + alloc(LONG, LONG, 5) + alloc(tok(18, 0), A, 1) +
        [ORDER] + tok(0, 2, 3) + [ORDER] + tok(2, 3) + [ORDER] + tok(0, 2),
        # extreme quantities, straight to the service and through it
        'quantities': add(b1, A, 'MAX') + alloc(o1, A, 'MAX-1') +
        alloc(o2, A, 'MAX') + alloc(x9, A, 1) + change(b1, 'MAX-1') +
        add(b2, A, 0) + add(b3, A, -1, flags=BYPASS) +
        alloc(ab, A, 0, flags=BYPASS) + alloc(ab, A, 'MIN', flags=BYPASS) +
        change(b1, -1, flags=BYPASS) + change(b1, 'MIN', flags=BYPASS) +
        add(b3, A, 'MIN') + [ALLOC, o1, A, 0xF8, 0x7F, 0xFF, 0xFF, 0xFF],
        # rule 7: another transaction commits right after each read
        'races': add(b1, A, 10) + add(b2, A, 5, flags=RACE) +
        alloc(o1, A, 2, flags=RACE) + alloc(o1, A, 2) +
        alloc(o1, A, 2, flags=RACE) + alloc(o2, A, 100, flags=RACE) +
        dealloc(o2, A, flags=RACE) + dealloc(o1, A, flags=RACE) +
        change(b1, 1, flags=RACE) + add(b3, B, 1, flags=RACE) +
        add(b1, A, 1, flags=RACE),
        # errors: unknown SKU, unknown batch, duplicate batch, mismatch
        'errors': alloc(o1, A, 1) + dealloc(o1, A) + change(b1, 1) +
        add(b1, A, 3) + add(b1, B, 3) + alloc(o1, A, 2) + alloc(o1, A, 3) +
        [STATUS, o1, SHIPPED] + [SUB, o1, MAIL1] + [SUB, o1, MAIL_NO_TLD],
    },
    'validate': {
        'ident': b'RED-CHAIR',
        'ident-unicode': 'é-1 Z😀'.encode(),
        'ident-blank': b' \xc2\xa0\xe3\x80\x80',
        'ident-control': b'a\x01b',
        'ident-c1': b'a\xc2\x85b',
        'ident-surrogate': b'a\xed\xa0\x80',
        'ident-overlong': b'\xc0\xaf',
        'ident-truncated': b'ab\xe2\x82',
        'ident-nul': b'a\x00b',
        'ident-255': 'é'.encode() * 255,
        'ident-256': b'x' * 256,
        'email': b'first.last+tag@sub.example.com',
        'email-upper': b'A.B@EXAMPLE.ORG',
        'email-bad': b'a..b@-c.d',
        'order-id': b'o-1',
        'order-id-bad': b'-1',
        'status': b'backordered',
    },
}


def main():
    for target, seeds in SEEDS.items():
        d = os.path.join(HERE, 'corpus', target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, 'seed-' + name), 'wb') as f:
                f.write(bytes(data))
    print('seeds written under', os.path.join(HERE, 'corpus'))


if __name__ == '__main__':
    main()
