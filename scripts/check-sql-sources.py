#!/usr/bin/env python3
"""check-sql-sources.py: each SQL function is written once, each right
given once (make unit).

The install script is src/sql/schema.sql + functions.sql + rights.sql;
the upgrade script src/sql/migrations/<from>--<version>.sql +
functions.sql + update-owners.sql + migrations/<from>--<version>-rights.sql
(Makefile, docs/architecture.md "SQL sources").  That is only sound when:

  1. every function, procedure, aggregate, view, trigger, rule, cast and
     operator is defined in functions.sql and nowhere else in src/sql
     (not in schema.sql, rights.sql, update-owners.sql or a migration,
     not inside a DO block of theirs), and so is every comment on one of
     them;
  2. every statement of functions.sql means the same whether or not its
     object exists already: CREATE OR REPLACE of those kinds or COMMENT
     ON, nothing else (no plain CREATE, no ALTER, no DROP, no DO, no
     data, no GRANT or REVOKE);
  3. rights on objects (GRANT/REVOKE ... ON, ALTER DEFAULT PRIVILEGES)
     are given in rights.sql (install: GRANT and REVOKE only) and in the
     rights part of a migration (GRANT, REVOKE, and DO for what needs
     more), nowhere else, DO blocks included: run again by an update on
     an object that exists, they would undo the site's own changes and
     record its grants as the extension's (pg_init_privs).  The rights
     part of a migration names its objects: no "ALL TABLES / FUNCTIONS /
     ... IN SCHEMA", which would reach the objects of the old version;
  4. src/sql holds nothing else: these sources, the migrations with their
     rights parts, and the frozen scripts of released versions
     (allocation--*.sql, *.control); a migration to another version than
     allocation.control's is not built, so it must have been frozen as
     src/sql/allocation--A--B.sql.

The statements are found by a small lexer that knows SQL comments (nested
ones too), quoted strings (E'' escapes included) and identifiers,
dollar-quoted bodies and psql backslash lines.
Usage: check-sql-sources.py [ROOT] (default: the parent of scripts/).
Exit status 1 and one line a finding when a rule is broken.
"""

import os
import re
import sys

DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EXTENSION = "allocation"

# what only functions.sql may create (after CREATE [OR REPLACE] [CONSTRAINT])
DEFINED_KINDS = r"(FUNCTION|PROCEDURE|AGGREGATE|VIEW|MATERIALIZED\s+VIEW|RECURSIVE\s+VIEW|TRIGGER|EVENT\s+TRIGGER|RULE|CAST|OPERATOR)"
DEFINES = re.compile(r"\bCREATE\s+(OR\s+REPLACE\s+)?(CONSTRAINT\s+)?(TEMP\w*\s+)?" + DEFINED_KINDS + r"\b", re.I)
COMMENTS_ON = re.compile(r"^COMMENT\s+ON\s+(FUNCTION|PROCEDURE|AGGREGATE|VIEW|MATERIALIZED\s+VIEW|TRIGGER|RULE|CAST|OPERATOR)\b", re.I)
# the statements functions.sql may hold
REPLACEABLE = re.compile(r"^(CREATE\s+OR\s+REPLACE\s+(FUNCTION|PROCEDURE|AGGREGATE|VIEW|TRIGGER)\b"
                         r"|COMMENT\s+ON\b)", re.I)
# a right on an object (GRANT role TO role, a membership, is not one)
RIGHTS = re.compile(r"\b(GRANT|REVOKE)\b[^;]*?\bON\b|\bALTER\s+DEFAULT\s+PRIVILEGES\b", re.I)
# what rights.sql and a migration's rights part may hold
RIGHTS_ONLY = re.compile(r"^(GRANT|REVOKE)\b", re.I)
RIGHTS_PART = re.compile(r"^(GRANT|REVOKE|DO)\b", re.I)
# rights on every object of a kind in a schema: the old version's too
ALL_IN_SCHEMA = re.compile(r"\bON\s+ALL\s+\w+\s+IN\s+SCHEMA\b", re.I)


IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\U0010ffff]")
DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\U0010ffff][A-Za-z0-9_\u0080-\U0010ffff]*)?\$")


def statements(path):
    """Yield (line, text, bodies) for each statement of a file: text with
    comments and dollar-quoted bodies left out, bodies their contents."""
    return split(open(path, encoding="utf-8").read())


def split(src):
    """The statements of src, lexed as PostgreSQL does with
    standard_conforming_strings on: '' and U&'' strings end at a lone
    quote (a backslash is an ordinary character), E'' strings also take
    a backslash as escaping the next character; "" identifiers; $tag$
    bodies (a $ inside or after an identifier is part of it: a$$b$ is one
    identifier); -- comments; /* */ comments, which nest and separate
    words as whitespace does; psql backslash lines."""
    i, n, line = 0, len(src), 1
    text, bodies, start = [], [], None
    while i < n:
        c = src[i]
        if c == "\n":
            line += 1
        after_ident = i > 0 and IDENT_CHAR.match(src[i - 1]) is not None
        if src.startswith("--", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
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
        m = DOLLAR_TAG.match(src, i) if c == "$" and not after_ident else None
        if m:
            tag = m.group(0)
            j = src.find(tag, i + len(tag))
            j = n if j < 0 else j
            bodies.append(src[i + len(tag):j])
            line += src.count("\n", i, j)
            text.append(" $body$ ")
            i = j + len(tag)
            continue
        # a string's prefix (E, U&, B, X, N) is a word of its own: the
        # last letter of an identifier is no prefix (abe'x' is abe 'x')
        escapes = False
        k = i
        if not after_ident:
            if src[i] in "Ee" and src.startswith("'", i + 1):
                escapes, k = True, i + 1
            elif src[i] in "Uu" and src.startswith("&", i + 1) and i + 2 < n and src[i + 2] in "'\"":
                k = i + 2
        q = src[k]
        if q in "'\"":
            j = k + 1
            while j < n:
                if escapes and src[j] == "\\":
                    j += 2
                    continue
                if src[j] == q and src.startswith(q * 2, j):
                    j += 2
                    continue
                if src[j] == q:
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


def main(ROOT=DEFAULT_ROOT):
    """The findings (one line each) on the source tree at ROOT."""
    SQL = os.path.join(ROOT, "src", "sql")
    findings = []
    functions = os.path.join(SQL, "functions.sql")
    schema = os.path.join(SQL, "schema.sql")
    rights = os.path.join(SQL, "rights.sql")
    owners = os.path.join(SQL, "update-owners.sql")
    migdir = os.path.join(SQL, "migrations")
    control = open(os.path.join(ROOT, EXTENSION + ".control"), encoding="utf-8").read()
    version = re.search(r"^\s*default_version\s*=\s*'([^']*)'", control, re.M).group(1)

    entries = sorted(os.listdir(migdir)) if os.path.isdir(migdir) else []
    for path in [functions, schema, rights, owners]:
        if not os.path.isfile(path):
            findings.append(f"{os.path.relpath(path, ROOT)}: missing")
    if findings:
        return findings

    # rule 4: what src/sql may hold
    for f in sorted(os.listdir(SQL)):
        if f in ("functions.sql", "schema.sql", "rights.sql", "update-owners.sql", "migrations"):
            continue
        if re.fullmatch(re.escape(EXTENSION) + r"--[0-9.]+(--[0-9.]+)?\.(sql|control)", f):
            if f == f"{EXTENSION}--{version}.sql" or f.endswith(f"--{version}.sql"):
                findings.append(f"src/sql/{f}: make builds this script (from schema.sql, functions.sql and rights.sql, or from a migration); a copy here would be installed instead of it")
            continue
        findings.append(f"src/sql/{f}: unknown file (functions belong in functions.sql, schema objects in schema.sql, rights in rights.sql, changes in migrations/)")
    migrations, rights_parts = [], []
    for f in entries:
        p = os.path.join(migdir, f)
        m = re.fullmatch(r"([0-9.]+)--([0-9.]+)(-rights)?\.sql", f)
        if not m:
            findings.append(f"{os.path.relpath(p, ROOT)}: a migration is named <from>--<to>.sql, its rights part <from>--<to>-rights.sql")
            continue
        step = f"{m.group(1)}--{m.group(2)}"
        if m.group(3):
            rights_parts.append(p)
            if f"{step}.sql" not in entries:
                findings.append(f"{os.path.relpath(p, ROOT)}: the rights part of a migration that does not exist")
            continue
        migrations.append(p)
        if m.group(2) != version and not os.path.isfile(os.path.join(SQL, f"{EXTENSION}--{f}")):
            findings.append(f"{os.path.relpath(p, ROOT)}: migration to {m.group(2)}, not to {version}: not built; freeze its script as src/sql/{EXTENSION}--{f}")
        if m.group(2) == version and f"{step}-rights.sql" not in entries:
            findings.append(f"{os.path.relpath(p, ROOT)}: no rights part {step}-rights.sql (the rights of the objects new in {version}; make needs it, empty or not)")

    def rel(path):
        return os.path.relpath(path, ROOT)

    # rule 1: definitions only in functions.sql
    for path in [schema, rights, owners] + migrations + rights_parts:
        for line, text, bodies in statements(path):
            if DEFINES.search(text) or COMMENTS_ON.match(text):
                findings.append(f"{rel(path)}:{line}: defined outside src/sql/functions.sql: {head(text)}")
            for body in bodies:
                m = DEFINES.search(body)
                if m:
                    findings.append(f"{rel(path)}:{line}: defined outside src/sql/functions.sql (in a quoted body): {m.group(0)}")

    # rule 2: functions.sql is CREATE OR REPLACE and COMMENT
    for line, text, bodies in statements(functions):
        if not REPLACEABLE.match(text):
            findings.append(f"src/sql/functions.sql:{line}: not safe to run again on an existing object (only CREATE OR REPLACE, COMMENT ON): {head(text)}")

    # rule 3: rights only in rights.sql and the migrations' rights parts
    for path in [schema, functions, owners] + migrations:
        for line, text, bodies in statements(path):
            for where in [text] + bodies:
                m = RIGHTS.search(where)
                if m:
                    findings.append(f"{rel(path)}:{line}: a right outside src/sql/rights.sql and the migrations' rights parts: {head(m.group(0))}")
                    break
    for line, text, bodies in statements(rights):
        if not RIGHTS_ONLY.match(text):
            findings.append(f"src/sql/rights.sql:{line}: only GRANT and REVOKE here: {head(text)}")
    for path in rights_parts:
        for line, text, bodies in statements(path):
            if not RIGHTS_PART.match(text):
                findings.append(f"{rel(path)}:{line}: only GRANT, REVOKE and DO here: {head(text)}")
            for where in [text] + bodies:
                if ALL_IN_SCHEMA.search(where):
                    findings.append(f"{rel(path)}:{line}: a rights part names its objects (ALL ... IN SCHEMA reaches the old version's too): {head(text)}")
                    break
    return findings


if __name__ == "__main__":
    findings = main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_ROOT)
    for f in findings:
        print(f"check-sql-sources: {f}", file=sys.stderr)
    if findings:
        sys.exit(1)
    print("check-sql-sources: every function, view and trigger is defined once, in src/sql/functions.sql; rights only in rights.sql and the migrations' rights parts")
