-- router/test/is.sql: the check the router's SQL tests share, included
-- with \ir.  is(got, expected, what) returns "ok - <what>" when got equals
-- expected (NULLs equal) and raises "not ok - ..." otherwise.
CREATE FUNCTION pg_temp.is(got anyelement, expected anyelement, what text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	IF got IS DISTINCT FROM expected THEN
		RAISE EXCEPTION 'not ok - %: got %, expected %', what, got, expected;
	END IF;
	RETURN 'ok - ' || what;
END $$;
