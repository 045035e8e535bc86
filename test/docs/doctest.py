#!/usr/bin/env python3
"""Run the SQL examples of the documentation and compare their output.

Usage: doctest.py [--list] [FILE.md ...]
(default: README.md, docs/*.md and every */README.md of the repository)

Every ```sql block of a Markdown file is an example, and runs with psql as
a reader would type it.  The conventions (docs/testing.md says the same
for writers):

  * A ```text block right after a ```sql block (only blank lines between)
    is what psql prints for it: results, command tags, NOTICE/WARNING and
    ERROR lines, in order.  The output must be equal, except for trailing
    spaces at the end of lines and blank lines at the end.
  * A ```sql block without a ```text block must run without ERROR,
    WARNING, FATAL or psql complaint; its output is not compared.
  * Each example runs in a fresh database that has the extension (as the
    playground database of "make run"), as the cluster's superuser.
  * <!-- doctest: session NAME --> on the line before a ```sql block (blank
    lines allowed between) puts it into the session NAME: the blocks of one
    session run in the order of the text, each in a new psql connection, in
    one database of their own.
  * <!-- doctest: skip (REASON) --> leaves a block out; the reason is
    required and is printed.

Connection: the usual libpq variables (PGHOST, PGPORT, PGUSER); psql is
$PG_BINDIR/psql, or psql on the PATH.  The databases are named
allocation_doctest_N and dropped at the end.

Exit status: 0 when every example gave its output, 1 otherwise (the
differences are printed as unified diffs, labelled FILE:LINE).
"""

import difflib
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DIRECTIVE = re.compile(r"^<!--\s*doctest:\s*(.*?)\s*-->\s*$")
SKIP = re.compile(r"^skip\s+\((.+)\)$")
SESSION = re.compile(r"^session\s+([A-Za-z0-9_-]+)$")
BAD_OUTPUT = re.compile(r"^(ERROR|WARNING|FATAL|PANIC):|^psql:", re.M)


class Example:
    def __init__(self, path, line, sql):
        self.path = path
        self.line = line           # line number of the ```sql fence
        self.sql = sql
        self.expected = None       # text of the ```text block, or None
        self.skip = None           # reason
        self.session = None

    def label(self):
        return f"{os.path.relpath(self.path, ROOT)}:{self.line}"


def parse(path):
    """The ```sql examples of one Markdown file, with their directives."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    examples = []
    directive = None      # (text, line) of the last directive, if it still applies
    i = 0
    while i < len(lines):
        line = lines[i]
        m = DIRECTIVE.match(line)
        if m:
            directive = (m.group(1), i + 1)
            i += 1
            continue
        if line.strip() == "```sql":
            start = i + 1
            i += 1
            body = []
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise SystemExit(f"{path}:{start}: ```sql block not closed")
            ex = Example(path, start, "\n".join(body) + "\n")
            if directive is not None:
                text, dline = directive
                s, k = SESSION.match(text), SKIP.match(text)
                if s:
                    ex.session = s.group(1)
                elif k:
                    ex.skip = k.group(1)
                else:
                    raise SystemExit(f"{path}:{dline}: unknown doctest directive {text!r}"
                                     " (session NAME, or skip (REASON))")
            directive = None
            # an output block right after it?
            j = i + 1
            while j < len(lines) and lines[j].strip() == "":
                j += 1
            if j < len(lines) and lines[j].strip() == "```text":
                j += 1
                out = []
                while j < len(lines) and lines[j].strip() != "```":
                    out.append(lines[j])
                    j += 1
                ex.expected = "\n".join(out) + "\n"
                i = j
            examples.append(ex)
        elif line.strip() != "":
            if directive is not None and line.startswith("```"):
                raise SystemExit(f"{path}:{directive[1]}: a doctest directive must precede a ```sql block")
            directive = None if not line.startswith("<!--") else directive
        i += 1
    return examples


def default_files():
    files = [os.path.join(ROOT, "README.md")]
    files += sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    files += sorted(glob.glob(os.path.join(ROOT, "*", "README.md")))
    return [f for f in files if os.path.isfile(f)]


def psql_bin():
    bindir = os.environ.get("PG_BINDIR")
    return os.path.join(bindir, "psql") if bindir else "psql"


def admin(sql):
    subprocess.run([psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres",
                    "-c", "SET client_min_messages = warning", "-c", sql], check=True)


def fresh_db(name):
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    subprocess.run([psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", name,
                    "-c", "CREATE EXTENSION allocation"], check=True)


def run_psql(db, sql):
    """What psql prints for sql typed into it (stdout and stderr in order)."""
    r = subprocess.run([psql_bin(), "-X", "-d", db], input=sql, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.stdout


def normalize(text):
    lines = [l.rstrip() for l in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def check(ex, got):
    """None when ex's output is right, else a message."""
    if ex.expected is None:
        m = BAD_OUTPUT.search(got)
        if m:
            return (f"{ex.label()}: the example failed (it shows no output, so it must"
                    f" run cleanly):\n{got}")
        return None
    want, have = normalize(ex.expected), normalize(got)
    if want == have:
        return None
    diff = difflib.unified_diff(want, have, f"{ex.label()} (shown)",
                                f"{ex.label()} (psql)", lineterm="")
    return "\n".join(diff)


def main(argv):
    list_only = "--list" in argv
    files = [os.path.abspath(a) for a in argv if a != "--list"] or default_files()
    examples = [ex for f in files for ex in parse(f)]

    # groups: one per stand-alone example, one per session (in text order)
    groups, sessions = [], {}
    for ex in examples:
        if ex.skip is not None:
            continue
        if ex.session is None:
            groups.append([ex])
        elif ex.session in sessions:
            sessions[ex.session].append(ex)
        else:
            sessions[ex.session] = [ex]
            groups.append(sessions[ex.session])

    if list_only:
        for ex in examples:
            what = (f"skip ({ex.skip})" if ex.skip is not None else
                    f"session {ex.session}" if ex.session else "alone")
            shown = "output shown" if ex.expected is not None else "no output shown"
            print(f"{ex.label()}: {what}, {shown}")
        return 0

    failures, ran = [], 0
    created = []
    try:
        for n, group in enumerate(groups, 1):
            db = f"allocation_doctest_{n}"
            fresh_db(db)
            created.append(db)
            for ex in group:
                ran += 1
                msg = check(ex, run_psql(db, ex.sql))
                if msg:
                    failures.append(msg)
    finally:
        for db in created:
            admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    for ex in examples:
        if ex.skip is not None:
            print(f"skipped {ex.label()}: {ex.skip}")
    for msg in failures:
        print(msg)
    print(f"doctest: {len(files)} files, {ran} examples run,"
          f" {sum(ex.skip is not None for ex in examples)} skipped,"
          f" {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
