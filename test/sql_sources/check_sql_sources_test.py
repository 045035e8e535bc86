#!/usr/bin/env python3
"""Self-test of scripts/check-sql-sources.py: it must refuse what breaks
its rules however the SQL is spelled, and accept what keeps them however
it is spelled.

Each case is a small source tree (allocation.control, src/sql/schema.sql,
functions.sql, rights.sql, update-owners.sql, migrations/0.1.0--0.2.0.sql
and its rights part) that differs from a clean one by one statement, put
into one file.  The statement is valid SQL that PostgreSQL runs as
written (the lexer tricks below are plain PostgreSQL syntax: a comment
is whitespace, E'' strings escape a quote with a backslash, block
comments nest, a $ inside an identifier is part of it), so the check
must exit 1 on it; the clean tree must pass.  A case it lets through is
printed as MISSED.

Besides the hand-picked cases, every lexeme of LEXEMES is put before
every breach of BREACHES, on the same line (where a lexeme the check
mis-reads as the start of a comment, string or body would hide the
breach): each must be refused.  And every lexeme is put, harmless, into
a statement each file may hold (a comment on a function, a string of a
DO block): each such tree must pass, or the check would see a statement
where PostgreSQL sees none.

Usage: check_sql_sources_test.py [ROOT] (default: the repository).
"""

import importlib.util
import os
import sys
import tempfile

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CHECK = os.environ.get("CHECK_SQL_SOURCES") or os.path.join(ROOT, "scripts", "check-sql-sources.py")

CONTROL = "default_version = '0.2.0'\n"
SCHEMA = "\\echo Use CREATE EXTENSION \\quit\nCREATE SCHEMA allocation;\nCREATE TABLE allocation.t (id int);\n"
FUNCTIONS = ("CREATE OR REPLACE FUNCTION allocation.f() RETURNS int LANGUAGE sql AS $$SELECT 1$$;\n"
             "COMMENT ON FUNCTION allocation.f() IS 'f';\n")
RIGHTS = ("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allocation FROM PUBLIC;\n"
          "GRANT EXECUTE ON FUNCTION allocation.f() TO allocation_user;\n")
OWNERS = "DO $owners$ BEGIN EXECUTE 'ALTER TABLE allocation.t OWNER TO ' || 'postgres'; END $owners$;\n"
MIGRATION = ("\\echo Use ALTER EXTENSION \\quit\nCREATE TABLE allocation.t2 (id int);\n"
             "DO $roles$ BEGIN GRANT allocation_user TO allocation_admin; END $roles$;\n")
MIGRATION_RIGHTS = ("REVOKE ALL ON allocation.t2 FROM PUBLIC;\n"
                    "DO $r$ BEGIN GRANT SELECT ON allocation.t2 TO allocation_user; END $r$;\n")

FILES = {
    "schema": "src/sql/schema.sql",
    "functions": "src/sql/functions.sql",
    "rights": "src/sql/rights.sql",
    "owners": "src/sql/update-owners.sql",
    "migration": "src/sql/migrations/0.1.0--0.2.0.sql",
    "migration rights": "src/sql/migrations/0.1.0--0.2.0-rights.sql",
}

FN = "CREATE FUNCTION allocation.g() RETURNS int LANGUAGE sql AS 'SELECT 2';\n"
# (name, file the statement is appended to, statement)
CASES = [
    # controls: spelled plainly
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
    ("function in rights.sql", "rights", FN),
    ("function in update-owners.sql", "owners", FN),
    ("function in the rights part of a migration", "migration rights", FN),
    ("DROP in functions.sql", "functions", "DROP TABLE allocation.t;\n"),
    ("DO in functions.sql", "functions", "DO $$ BEGIN NULL; END $$;\n"),
    # rights: only in rights.sql and the migration's rights part
    ("GRANT in functions.sql", "functions", "GRANT EXECUTE ON FUNCTION allocation.f() TO allocation_user;\n"),
    ("REVOKE in functions.sql", "functions", "REVOKE ALL ON FUNCTION allocation.f() FROM PUBLIC;\n"),
    ("GRANT in schema.sql", "schema", "GRANT SELECT ON allocation.t TO allocation_user;\n"),
    ("REVOKE in a migration", "migration", "REVOKE ALL ON ALL TABLES IN SCHEMA allocation FROM PUBLIC;\n"),
    ("GRANT in a DO block of a migration", "migration",
     "DO $do$ BEGIN EXECUTE 'GRANT SELECT ON allocation.t2 TO allocation_user'; END $do$;\n"),
    ("GRANT in update-owners.sql", "owners", "GRANT SELECT ON allocation.t TO allocation_user;\n"),
    ("default privileges in schema.sql", "schema",
     "ALTER DEFAULT PRIVILEGES IN SCHEMA allocation REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;\n"),
    ("ALL FUNCTIONS IN SCHEMA in the rights part of a migration", "migration rights",
     "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA allocation FROM PUBLIC;\n"),
    ("ALL TABLES IN SCHEMA in a DO block of the rights part", "migration rights",
     "DO $do$ BEGIN GRANT SELECT ON ALL TABLES IN SCHEMA allocation TO allocation_user; END $do$;\n"),
    ("ALTER in the rights part of a migration", "migration rights", "ALTER TABLE allocation.t2 OWNER TO postgres;\n"),
    ("DO in rights.sql", "rights", "DO $$ BEGIN NULL; END $$;\n"),
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
    # block comments nest
    ("function after a nested comment, in a migration", "migration",
     "/* outer /* inner */ it's still a comment */\n" + FN + "SELECT 'x';\n"),
]

# Lexemes that a naive lexer mis-reads, each valid where it is put
# (SELECT <lexeme>;).  Each hides a breach on its line from a lexer that
# gets it wrong: it ends with something that opens a comment, a string
# or a body if the lexeme is misread.
LEXEMES = [
    ("E'' with an escaped quote and --", "E'\\'--'"),
    ("e'' with an escaped quote and /*", "e'it\\'s /*'"),
    ("E'' ending in an escaped backslash", "E'\\\\', '--'"),
    ("plain '' ending in a backslash", "'\\', '--'"),
    ("U&'' with an escaped backslash", "U&'\\\\', '--'"),
    ("type name ending in e before a string", "name'\\', '--'"),
    ("identifier holding $$", "1 AS a$$x$, '$x$--'"),
    ("dollar quotes with different tags", "$a$ $b$ -- $a$"),
    ("dollar quote holding a quote", "$q$it's$q$, '--'"),
    ("nested block comment holding a quote", "/* a /* b */ ' */ 1, '--'"),
    ("nested block comment holding --", "/* a /* b */ -- */ 1"),
    ("quoted identifier holding a quote", "1 AS \"it's\", '--'"),
    ("quoted identifier holding --", "1 AS \"--\""),
]
# (name, file, statement) that each breaks a rule; the lexeme goes into
# a statement the file may hold, before the breach on the same line
BREACHES = [
    ("function in schema.sql", "schema", FN),
    ("DROP in functions.sql", "functions", "DROP TABLE allocation.t;\n"),
    ("GRANT in functions.sql", "functions", "GRANT SELECT ON allocation.t TO allocation_user;\n"),
    ("REVOKE in a migration", "migration", "REVOKE ALL ON allocation.t FROM PUBLIC;\n"),
    ("GRANT in update-owners.sql", "owners", "GRANT SELECT ON allocation.t TO allocation_user;\n"),
]


def host(where, lexeme):
    """A statement holding lexeme that the file where may hold."""
    if where == "functions":
        return f"CREATE OR REPLACE VIEW allocation.v AS SELECT {lexeme};"
    return f"SELECT {lexeme};"


for lname, lexeme in LEXEMES:
    for bname, where, stmt in BREACHES:
        CASES.append((f"{bname}, after {lname} on its line", where, host(where, lexeme) + " " + stmt))

# (name, file, statement) that keeps every rule: each tree must pass
CLEAN = [
    ("a comment on a function holding E'it\\'s; DROP", "functions",
     "COMMENT ON FUNCTION allocation.f() IS E'it\\'s; DROP TABLE allocation.t; ok';\n"),
    ("a function body holding $$ and a quote", "functions",
     "CREATE OR REPLACE FUNCTION allocation.h() RETURNS text LANGUAGE sql AS $h$ SELECT '$$; DROP TABLE allocation.t; $$' $h$;\n"),
]
for lname, lexeme in LEXEMES:
    for where in ("schema", "functions", "owners", "migration"):
        CLEAN.append((f"{lname} in {FILES[where]}", where,
                      host(where, lexeme) + "\n" + host(where, "1") + "\n"))


def tree(base, extra_file=None, extra=""):
    """Write a source tree into base, with extra appended to one file."""
    files = {
        "allocation.control": CONTROL,
        FILES["schema"]: SCHEMA,
        FILES["functions"]: FUNCTIONS,
        FILES["rights"]: RIGHTS,
        FILES["owners"]: OWNERS,
        FILES["migration"]: MIGRATION,
        FILES["migration rights"]: MIGRATION_RIGHTS,
    }
    key = FILES.get(extra_file)
    if key:
        files[key] += extra
    for rel, text in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def load():
    """The check as a module (CHECK_SQL_SOURCES: another copy of it)."""
    spec = importlib.util.spec_from_file_location("check_sql_sources", CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CHECKER = load()


def run(base):
    """The check's exit status on the tree at base (1: findings)."""
    return 1 if CHECKER.main(base) else 0


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
        for i, (name, where, stmt) in enumerate(CLEAN):
            base = os.path.join(tmp, f"clean{i}")
            tree(base, where, stmt)
            if run(base) != 0:
                print(f"check-sql-sources self-test: REFUSED (clean): {name}")
                failures += 1
    total = len(CASES) + len(CLEAN) + 1
    if failures:
        print(f"check-sql-sources self-test: {failures} of {total} cases failed")
        return 1
    print(f"check-sql-sources self-test: {total} cases, all as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
