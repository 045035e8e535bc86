--
-- A required argument that is NULL is error 22004 in every function of
-- the extension, queries included (allocations(NULL) used to return no row
-- while order_status(NULL) raised 22004).  Generated from the catalog: every
-- function of the extension that takes arguments (not the _implementations)
-- is called with each argument NULL in turn, the others of their type's
-- sample value; a new function is covered without a new line here.  The
-- arguments for which NULL means something (set_stock_alert_recipient: back
-- to the default; add_batch's eta: in the warehouse; mark_notification_failed's
-- claim: a report that names no claim) are listed as allowed.  Names start with "na_".
--
\set VERBOSITY terse

-- the SQLSTATE of one call, or 'ok'
CREATE FUNCTION na_state(call text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE call;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;

WITH fns AS (
	SELECT p.oid, p.proname, p.proargtypes::oid[] AS types, p.pronargs
	  FROM pg_proc p
	  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
					  AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'allocation'
	 WHERE p.proname !~ '^_' AND p.pronargs > 0 AND p.prokind = 'f'
), cases AS (
	SELECT f.proname, i AS null_arg,
		   format('SELECT * FROM allocation.%I(%s)', f.proname,
				  (SELECT string_agg(CASE WHEN j = i THEN 'NULL::' || format_type(t, NULL)
									 ELSE CASE format_type(t, NULL)
										  WHEN 'text' THEN '''NA-1'''
										  WHEN 'integer' THEN '1'
										  WHEN 'bigint' THEN '9223372036854775807'
										  WHEN 'interval' THEN '''1 day'''
										  WHEN 'boolean' THEN 'true'
										  WHEN 'date' THEN 'DATE ''2026-01-01'''
										  WHEN 'uuid' THEN '''00000000-0000-0000-0000-000000000000''::uuid'
										  WHEN 'jsonb' THEN '''{}''::jsonb'
										  WHEN 'regprocedure' THEN '''pg_catalog.now()''::regprocedure'
										  ELSE 'NULL' END
									 END, ', ' ORDER BY j)
					 FROM unnest(f.types) WITH ORDINALITY u(t, j))) AS call,
		   (SELECT format_type(t, NULL) FROM unnest(f.types) WITH ORDINALITY u(t, j) WHERE j = i) AS arg_type
	  FROM fns f, generate_series(1, f.pronargs) i
)
SELECT proname, null_arg, arg_type, na_state(call) AS sqlstate,
	   CASE WHEN proname = 'set_stock_alert_recipient' THEN 'allowed: NULL is the default'
			WHEN proname = 'add_batch' AND null_arg = 4 THEN 'allowed: NULL eta is the warehouse'
			WHEN proname = 'mark_notification_failed' AND null_arg = 4 THEN 'allowed: NULL claim is none'
			WHEN na_state(call) = '22004' THEN 'ok'
			ELSE 'WRONG' END AS verdict
  FROM cases ORDER BY proname, null_arg;

DROP FUNCTION na_state(text);
