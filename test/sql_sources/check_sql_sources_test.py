#!/usr/bin/env python3
"""Self-test of scripts/check-sql-sources.py: it must refuse what breaks
its rules however the SQL is spelled.

Each case is a small source tree (allocation.control, src/sql/schema.sql,
functions.sql, migrations/0.1.0--0.2.0.sql) that differs from a clean one
by one statement, put into one file.  The statement is valid SQL that
PostgreSQL runs as written (the lexer tricks below are plain PostgreSQL
syntax: a comment is whitespace, E'' strings escape a quote with a
backslash, block comments nest), so the check must exit 1 on it; the
clean tree must pass.  A case it lets through is printed as MISSED.

Usage: check_sql_sources_test.py [ROOT] (default: the repository).
"""

import os
import subprocess
import sys
import tempfile

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CHECK = os.path.join(ROOT, "scripts", "check-sql-sources.py")

CONTROL = "default_version = '0.2.0'\n"
SCHEMA = "\\echo Use CREATE EXTENSION \\quit\nCREATE SCHEMA allocation;\nCREATE TABLE allocation.t (id int);\n"
FUNCTIONS = ("CREATE OR REPLACE FUNCTION allocation.f() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\n"
             "COMMENT ON FUNCTION allocation.f() IS 'f';\n"
             "REVOKE ALL ON FUNCTION allocation.f() FROM PUBLIC;\n")
MIGRATION = "\\echo Use ALTER EXTENSION \\quit\nCREATE TABLE allocation.t2 (id int);\n"

FN = "CREATE FUNCTION allocation.g() RETURNS int LANGUAGE sql AS 'SELECT 2';\n"
# (name, file the statement is appended to, statement)
CASES = [
    # controls: spelled plainly, caught today
    ("function in schema.sql", "schema", FN),
    ("function in a DO block of a migration", "migration",
     "DO $do$ BEGIN EXECUTE $q$CREATE OR REPLACE FUNCTION allocation.g() RETURNS int LANGUAGE sql AS 'SELECT 2'$q$; END $do$;\n"),
    ("aggregate in schema.sql", "schema",
     "CREATE AGGREGATE allocation.s(int) (sfunc = int4pl, stype = int);\n"),
    ("operator in schema.sql", "schema",
     "CREATE OPERATOR allocation.+++ (function = int4pl, leftarg = int, rightarg = int);\n"),
    ("cast in a migration", "migration",
     "CREATE CAST (allocation.t AS int) WITH INOUT;\n"),
    ("event trigger in schema.sql", "schema",
     "CREATE EVENT TRIGGER allocation_e ON ddl_command_end EXECUTE FUNCTION allocation.f();\n"),
    ("DROP in functions.sql", "functions", "DROP TABLE allocation.t;\n"),
    ("DO in functions.sql", "functions", "DO $$ BEGIN NULL; END $$;\n"),
    # a comment is whitespace to PostgreSQL
    ("function after a comment glued to CREATE, in schema.sql", "schema",
     "CREATE/**/FUNCTION allocation.g() RETURNS int LANGUAGE sql AS 'SELECT 2';\n"),
    ("comment on a function, glued, in a migration", "migration",
     "COMMENT/**/ON FUNCTION allocation.f() IS 'twice';\n"),
    # E'' strings: \' is a quote inside the string
    ("function after an E'' string, in schema.sql", "schema",
     "SELECT E'it\\'s';\n" + FN + "SELECT 'x';\n"),
    ("function on the line of an E'' string holding --, in schema.sql", "schema",
     "SELECT E'\\'--'; " + FN),
    ("DROP after an E'' string, in functions.sql", "functions",
     "COMMENT ON FUNCTION allocation.f() IS E'it\\'s';\nDROP TABLE allocation.t;\nCOMMENT ON FUNCTION allocation.f() IS 'f';\n"),
    # block comments nest (caught: the check ends the comment too early,
    # never too late)
    ("function after a nested comment, in a migration", "migration",
     "/* outer /* inner */ it's still a comment */\n" + FN + "SELECT 'x';\n"),
]


def tree(base, extra_file=None, extra=""):
    """Write a source tree into base, with extra appended to one file."""
    files = {
        "allocation.control": CONTROL,
        "src/sql/schema.sql": SCHEMA,
        "src/sql/functions.sql": FUNCTIONS,
        "src/sql/migrations/0.1.0--0.2.0.sql": MIGRATION,
    }
    key = {"schema": "src/sql/schema.sql", "functions": "src/sql/functions.sql",
           "migration": "src/sql/migrations/0.1.0--0.2.0.sql"}.get(extra_file)
    if key:
        files[key] += extra
    for rel, text in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def run(base):
    return subprocess.run([sys.executable, CHECK, base], capture_output=True, text=True).returncode


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = os.path.join(tmp, "clean")
        tree(base)
        if run(base) != 0:
            print("check-sql-sources self-test: FAILED: the clean tree is refused")
            failures += 1
        for i, (name, where, stmt) in enumerate(CASES):
            base = os.path.join(tmp, f"case{i}")
            tree(base, where, stmt)
            if run(base) != 1:
                print(f"check-sql-sources self-test: MISSED: {name}")
                failures += 1
    if failures:
        print(f"check-sql-sources self-test: {failures} of {len(CASES) + 1} cases failed")
        return 1
    print(f"check-sql-sources self-test: {len(CASES) + 1} cases, all as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
