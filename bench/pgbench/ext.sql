-- allocation.allocate, the extension (NOTIFY as configured: on by default).
\set n random(:lo, :hi)
\set oid random(1, 1000000000000)
SELECT allocation.allocate(:oid, :prefix || :n, 1);
