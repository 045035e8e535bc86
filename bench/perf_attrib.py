#!/usr/bin/env python3
"""bench/perf_attrib.py - where a backend's time goes, from `perf script`.

Reads the text of `perf script` (samples recorded with --call-graph dwarf)
on standard input and prints two tables:

  1. by statement: the share of samples under each adapter function of the
     extension (one SPI statement each), under COMMIT, or elsewhere;
  2. by phase: inside the SPI statements, how much is executor start-up
     and shut-down, plan-cache checks, expression set-up (CHECK
     constraints, generated columns parsed per execution), index inserts,
     heap writes, WAL, and the rest of the run.

Used by bench/profile.sh; plain Python 3, no modules beyond the standard
library.
"""
import collections
import re
import sys

# innermost match wins for the statement (frames are read leaf first)
STATEMENTS = [
    ("repo_get_many", "products lock, set-based (SELECT ... = ANY FOR NO KEY UPDATE)"),
    ("repo_load_many", "lines and batches with stock, set-based"),
    ("repo_save_many", "set-based writes of lines, batches, products"),
    ("repo_get", "product lock (SELECT ... FOR NO KEY UPDATE)"),
    ("repo_load_line", "order-line probe, rule 4 (with the batches with stock when merged)"),
    ("repo_load_available", "batches with stock (partial index)"),
    ("save_line", "INSERT order_lines"),
    ("save_batch", "UPDATE batches"),
    ("al_pg_flush_outbox", "INSERT outbox"),
    ("al_pg_outbox_insert", "INSERT outbox"),
    ("al_pg_flush_views", "INSERT allocations_view"),
    ("view_allocated", "INSERT allocations_view"),
    ("any_order_exists", "order tracking: any order at all? (cached)"),
    ("order_is_tracked", "order-tracking probe (SELECT orders)"),
    ("order_get", "order lock (SELECT orders FOR NO KEY UPDATE)"),
    ("isolation_run", "subtransaction of an isolated handler"),
    ("plugins_dispatch", "plugin dispatch"),
    ("repo_save", "repo_save: UPDATE product_state, and INSERT order_lines when inlined"),
    ("al_pg_begin", "session set-up (SPI_connect, arena, user id)"),
    ("al_pg_end", "session end (SPI_finish, NOTIFY queueing)"),
    ("allocation_allocate_many", "allocate_many, outside the statements above"),
    ("allocation_allocate", "allocate, outside the statements above"),
    ("plpgsql_call_handler", "PL/pgSQL function body"),
    ("CommitTransactionCommand", "COMMIT (incl. NOTIFY, WAL, locks release)"),
    ("exec_bind_message", "protocol: bind"),
    ("exec_execute_message", "protocol: execute, outside the function"),
]

PHASES = [
    ("stringToNode", "expression set-up: parse stored expressions (CHECK, generated column)"),
    ("ExecInitExprRec", "expression set-up: compile expressions"),
    ("ExecBuildProjectionInfo", "expression set-up: compile expressions"),
    ("ExecInitQual", "expression set-up: compile expressions"),
    ("ExecInitNode", "executor start: plan tree"),
    ("InitPlan", "executor start: plan tree"),
    ("standard_ExecutorStart", "executor start: other"),
    ("standard_ExecutorEnd", "executor end"),
    ("GetCachedPlan", "plan cache: revalidation and locks"),
    ("btinsert", "index inserts"),
    ("ExecCheckIndexConstraints", "ON CONFLICT pre-check"),
    ("heap_insert", "heap insert"),
    ("heap_update", "heap update"),
    ("heap_lock_tuple", "row lock"),
    ("index_getnext_slot", "index scans"),
    ("XLogInsert", "WAL insert"),
    ("jsonb_in", "jsonb parsing of the payload"),
    ("gen_random_uuid", "gen_random_uuid"),
    ("standard_ExecutorRun", "executor run: other"),
    ("SPI_execute_plan", "SPI: other"),
    ("_SPI_execute_plan", "SPI: other"),
]

frame_re = re.compile(r"^\s*[0-9a-f]+\s+(\S+?)(?:\+0x[0-9a-f]+)?\s+\(")


def samples(stream):
    frames = []
    for line in stream:
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if not line.startswith((" ", "\t")):
            if frames:
                yield frames
            frames = []
            continue
        m = frame_re.match(line)
        if m:
            frames.append(m.group(1))
    if frames:
        yield frames


def main():
    by_stmt = collections.Counter()
    by_phase = collections.Counter()
    total = 0
    in_spi = 0
    for frames in samples(sys.stdin):
        total += 1
        names = set(frames)
        stmt = "elsewhere (protocol, idle wake-ups, kernel)"
        for fn, label in STATEMENTS:
            if fn in names:
                stmt = label
                break
        by_stmt[stmt] += 1
        if "SPI_execute_plan" in names or "_SPI_execute_plan" in names \
                or "SPI_execute_plan_with_paramlist" in names:
            in_spi += 1
            phase = "other"
            for fn, label in PHASES:
                if fn in names:
                    phase = label
                    break
            by_phase[phase] += 1
    if total == 0:
        print("no samples")
        return 1
    print(f"samples: {total}\n")
    print("| where | share of backend time |")
    print("| --- | ---: |")
    for label, n in by_stmt.most_common():
        print(f"| {label} | {100.0 * n / total:.1f} % |")
    print(f"\ninside SPI statements: {100.0 * in_spi / total:.1f} % of backend time\n")
    print("| phase (first match in priority order) | share of backend time |")
    print("| --- | ---: |")
    for label, n in by_phase.most_common():
        print(f"| {label} | {100.0 * n / total:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
