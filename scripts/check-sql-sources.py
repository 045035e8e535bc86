#!/usr/bin/env python3
"""check-sql-sources.py: each SQL function is written once (make unit).

The install script is src/sql/schema.sql + src/sql/functions.sql and the
upgrade script src/sql/migrations/<from>--<version>.sql + functions.sql
(Makefile, docs/architecture.md "SQL sources").  That is only sound when:

  1. every function, procedure, aggregate, view, trigger, rule, cast and
     operator is defined in functions.sql and nowhere else in src/sql
     (not in schema.sql, not in a migration, not inside a DO block of
     theirs), and so is every comment on one of them;
  2. every statement of functions.sql means the same whether or not its
     object exists already: CREATE OR REPLACE of those kinds, COMMENT ON,
     GRANT, REVOKE, nothing else (no plain CREATE, no ALTER, no DROP, no
     DO, no data);
  3. src/sql holds nothing else: the two sources, the migrations, and the
     frozen scripts of released versions (allocation--*.sql, *.control);
     a migration to another version than allocation.control's is not
     built, so it must have been frozen as src/sql/allocation--A--B.sql.

The statements are found by a small lexer that knows SQL comments, quoted
strings and identifiers, dollar-quoted bodies and psql backslash lines.
Usage: check-sql-sources.py [ROOT] (default: the parent of scripts/).
Exit status 1 and one line a finding when a rule is broken.
"""

import os
import re
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SQL = os.path.join(ROOT, "src", "sql")
EXTENSION = "allocation"

# what only functions.sql may create (after CREATE [OR REPLACE] [CONSTRAINT])
DEFINED_KINDS = r"(FUNCTION|PROCEDURE|AGGREGATE|VIEW|MATERIALIZED\s+VIEW|RECURSIVE\s+VIEW|TRIGGER|EVENT\s+TRIGGER|RULE|CAST|OPERATOR)"
DEFINES = re.compile(r"\bCREATE\s+(OR\s+REPLACE\s+)?(CONSTRAINT\s+)?(TEMP\w*\s+)?" + DEFINED_KINDS + r"\b", re.I)
COMMENTS_ON = re.compile(r"^COMMENT\s+ON\s+(FUNCTION|PROCEDURE|AGGREGATE|VIEW|MATERIALIZED\s+VIEW|TRIGGER|RULE|CAST|OPERATOR)\b", re.I)
# the statements functions.sql may hold
REPLACEABLE = re.compile(r"^(CREATE\s+OR\s+REPLACE\s+(FUNCTION|PROCEDURE|AGGREGATE|VIEW|TRIGGER)\b"
                         r"|COMMENT\s+ON\b|GRANT\b|REVOKE\b)", re.I)


def statements(path):
    """Yield (line, text, bodies) for each statement of a file: text with
    comments and dollar-quoted bodies left out, bodies their contents."""
    src = open(path, encoding="utf-8").read()
    i, n, line = 0, len(src), 1
    text, bodies, start = [], [], None
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
        if src.startswith("--", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += src.count("\n", i, j)
            text.append(" ")	# a comment separates words, as whitespace does
            i = j
            continue
        if c == "\\" and (i == 0 or src[i - 1] == "\n"):	# psql meta-command line
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if start is None and not c.isspace():
            start = line
        m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", src[i:]) if c == "$" else None
        if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            tag = m.group(0)
            j = src.find(tag, i + len(tag))
            j = n if j < 0 else j
            bodies.append(src[i + len(tag):j])
            line += src.count("\n", i, j)
            text.append(" $body$ ")
            i = j + len(tag)
            continue
        if c in "'\"":
            j = i + 1
            while j < n:
                if src[j] == c and src.startswith(c * 2, j):
                    j += 2
                    continue
                if src[j] == c:
                    break
                j += 1
            line += src.count("\n", i, j)
            text.append(src[i:j + 1])
            i = j + 1
            continue
        if c == ";":
            if start is not None:
                yield start, " ".join("".join(text).split()), bodies
            text, bodies, start = [], [], None
            i += 1
            continue
        text.append(c)
        i += 1
    if start is not None and "".join(text).strip():
        yield start, " ".join("".join(text).split()), bodies


def head(text, words=6):
    return " ".join(text.split()[:words])


def main():
    findings = []
    functions = os.path.join(SQL, "functions.sql")
    schema = os.path.join(SQL, "schema.sql")
    migdir = os.path.join(SQL, "migrations")
    control = open(os.path.join(ROOT, EXTENSION + ".control"), encoding="utf-8").read()
    version = re.search(r"^\s*default_version\s*=\s*'([^']*)'", control, re.M).group(1)

    migrations = sorted(os.path.join(migdir, f) for f in os.listdir(migdir)) if os.path.isdir(migdir) else []
    for path in [functions, schema]:
        if not os.path.isfile(path):
            findings.append(f"{os.path.relpath(path, ROOT)}: missing")
    if findings:
        return findings

    # rule 3: what src/sql may hold
    for f in sorted(os.listdir(SQL)):
        p = os.path.join(SQL, f)
        if f in ("functions.sql", "schema.sql", "migrations"):
            continue
        if re.fullmatch(re.escape(EXTENSION) + r"--[0-9.]+(--[0-9.]+)?\.(sql|control)", f):
            if f == f"{EXTENSION}--{version}.sql" or f.endswith(f"--{version}.sql"):
                findings.append(f"src/sql/{f}: make builds this script (schema.sql or a migration + functions.sql); a copy here would be installed instead of it")
            continue
        findings.append(f"src/sql/{f}: unknown file (functions belong in functions.sql, schema objects in schema.sql, changes in migrations/)")
    for p in migrations:
        f = os.path.basename(p)
        m = re.fullmatch(r"([0-9.]+)--([0-9.]+)\.sql", f)
        if not m:
            findings.append(f"{os.path.relpath(p, ROOT)}: a migration is named <from>--<to>.sql")
        elif m.group(2) != version and not os.path.isfile(os.path.join(SQL, f"{EXTENSION}--{f}")):
            findings.append(f"{os.path.relpath(p, ROOT)}: migration to {m.group(2)}, not to {version}: not built; freeze its script as src/sql/{EXTENSION}--{f}")

    # rule 1: definitions only in functions.sql
    for path in [schema] + [p for p in migrations if p.endswith(".sql")]:
        rel = os.path.relpath(path, ROOT)
        for line, text, bodies in statements(path):
            if DEFINES.search(text) or COMMENTS_ON.match(text):
                findings.append(f"{rel}:{line}: defined outside src/sql/functions.sql: {head(text)}")
            for body in bodies:
                m = DEFINES.search(body)
                if m:
                    findings.append(f"{rel}:{line}: defined outside src/sql/functions.sql (in a quoted body): {m.group(0)}")

    # rule 2: functions.sql is CREATE OR REPLACE, COMMENT, GRANT, REVOKE
    for line, text, bodies in statements(functions):
        if not REPLACEABLE.match(text):
            findings.append(f"src/sql/functions.sql:{line}: not safe to run again on an existing object (only CREATE OR REPLACE, COMMENT ON, GRANT, REVOKE): {head(text)}")
    return findings


if __name__ == "__main__":
    findings = main()
    for f in findings:
        print(f"check-sql-sources: {f}", file=sys.stderr)
    if findings:
        sys.exit(1)
    print("check-sql-sources: every function, view and trigger is defined once, in src/sql/functions.sql")
