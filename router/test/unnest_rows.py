#!/usr/bin/env python3
"""router/test/unnest_rows.py - rows read from unnest() in logged plans.

Reads psql's stderr with auto_explain's plans (auto_explain.log_level =
notice, log_format = json, log_analyze = on, log_nested_statements = on)
on standard input, and prints two numbers: the plans read and the rows
that every "Function Scan" of unnest() in them read in all, counting
each loop and the rows a filter removed.  scripts/extra-tests/router.sh
uses it to check that allocate_many reads its array a bounded number of
times, however many rows come back: a subquery over the array per row
reads it once per row.
"""
import json
import sys


def walk(node):
    """Yield the plan node and every node below it."""
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def main():
    text = sys.stdin.read()
    decoder = json.JSONDecoder()
    plans = rows = 0
    pos = text.find("plan:")
    while pos >= 0:
        start = text.find("{", pos)
        if start < 0:
            break
        doc, end = decoder.raw_decode(text, start)
        plans += 1
        for node in walk(doc["Plan"]):
            if node.get("Node Type") == "Function Scan" and node.get("Function Name") == "unnest":
                loops = node.get("Actual Loops", 0)
                per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
                rows += int(round(per_loop * loops))
        pos = text.find("plan:", end)
    print(plans, rows)


if __name__ == "__main__":
    main()
