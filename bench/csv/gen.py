#!/usr/bin/env python3
"""bench/csv/gen.py - input of make bench-csv.

Writes FOLDER/batches.csv and FOLDER/orders.csv: SKUS SKUs, BATCHES batches
(a third in the warehouse, the rest with an eta over a year), ORDERS order
lines of 1-10 units on random SKUs, with enough stock for about 90 % of
them, so that the tail of each SKU goes out of stock.  Deterministic
(seed 42).

usage: gen.py FOLDER [ORDERS [SKUS [BATCHES]]]
"""
import datetime
import os
import random
import sys

folder = sys.argv[1]
orders = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
skus = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
batches = int(sys.argv[4]) if len(sys.argv) > 4 else 100_000
rng = random.Random(42)
os.makedirs(folder, exist_ok=True)

# average line 5.5 units; stock for 90 % of them, spread over the batches
per_batch = max(1, int(orders * 5.5 * 0.9 / batches))
base = datetime.date(2024, 1, 1)
with open(os.path.join(folder, "batches.csv"), "w", newline="") as f:
    f.write("ref,sku,qty,eta\n")
    for i in range(batches):
        sku = f"SKU-{i % skus:06d}"
        eta = "" if rng.random() < 1 / 3 else (base + datetime.timedelta(days=rng.randrange(365))).isoformat()
        f.write(f"batch-{i:07d},{sku},{rng.randint(per_batch // 2, per_batch * 3 // 2)},{eta}\n")
with open(os.path.join(folder, "orders.csv"), "w", newline="") as f:
    f.write("orderid,sku,qty\n")
    for i in range(orders):
        f.write(f"order-{i:08d},SKU-{rng.randrange(skus):06d},{rng.randint(1, 10)}\n")
