/* src/sql/update-owners.sql: every member of extension allocation belongs to its owner, after an update */

--------------------------------------------------------------------------
-- make puts this file in every upgrade script, after the migration and
-- src/sql/functions.sql and before the migration's rights part.
--
-- An object that ALTER EXTENSION ... UPDATE creates belongs to the role
-- that runs the update, which may be another superuser than the one who
-- created the extension (CREATE OR REPLACE keeps the owner of an object
-- that exists).  A fresh install gives every object to the extension's
-- owner (pg_extension.extowner), so the objects an update created are
-- given to it here: the schema, relations, types and routines that are
-- members of the extension and belong to someone else.  Nothing changes
-- when the update runs as the extension's owner.  It runs before the
-- rights part, so that the rights of the new objects are granted by
-- their final owner, as in a fresh install.  ALTER TABLE ... OWNER also
-- moves a table's sequences and row type: hence tables first, and the
-- owner read again for each object.  (The reg* types' text is a quoted
-- name already.)  The extension has no members of
-- other kinds; one that is added needs its case here.
--------------------------------------------------------------------------
DO $owners$
DECLARE
	ext pg_catalog.oid;
	ext_owner pg_catalog.oid;
	member record;
	current_owner pg_catalog.oid;
BEGIN
	SELECT e.oid, e.extowner INTO ext, ext_owner
	  FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'allocation';
	FOR member IN
		SELECT d.classid, d.objid
		  FROM pg_catalog.pg_depend d
		  LEFT JOIN pg_catalog.pg_class c
			ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
		   AND c.oid OPERATOR(pg_catalog.=) d.objid
		 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) ext
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'
		 ORDER BY c.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'p']::"char"[]), d.classid, d.objid
	LOOP
		IF member.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass THEN
			SELECT c.relowner INTO current_owner
			  FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) member.objid;
			IF current_owner OPERATOR(pg_catalog.<>) ext_owner THEN
				EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %s',
										  member.objid::pg_catalog.regclass,
										  ext_owner::pg_catalog.regrole::pg_catalog.text);
			END IF;
		ELSIF member.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass THEN
			SELECT p.proowner INTO current_owner
			  FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) member.objid;
			IF current_owner OPERATOR(pg_catalog.<>) ext_owner THEN
				EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO %s',
										  member.objid::pg_catalog.regprocedure,
										  ext_owner::pg_catalog.regrole::pg_catalog.text);
			END IF;
		ELSIF member.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass THEN
			-- an array type follows its element type (and ALTER TYPE
			-- cannot name it); the catalog order may list it first
			SELECT t.typowner INTO current_owner
			  FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) member.objid
			   AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e
							   WHERE e.typarray OPERATOR(pg_catalog.=) t.oid);
			IF current_owner OPERATOR(pg_catalog.<>) ext_owner THEN
				EXECUTE pg_catalog.format('ALTER TYPE %s OWNER TO %s',
										  member.objid::pg_catalog.regtype,
										  ext_owner::pg_catalog.regrole::pg_catalog.text);
			END IF;
		ELSIF member.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN
			SELECT n.nspowner INTO current_owner
			  FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) member.objid;
			IF current_owner OPERATOR(pg_catalog.<>) ext_owner THEN
				EXECUTE pg_catalog.format('ALTER SCHEMA %s OWNER TO %s',
										  member.objid::pg_catalog.regnamespace::pg_catalog.text,
										  ext_owner::pg_catalog.regrole::pg_catalog.text);
			END IF;
		END IF;
	END LOOP;
END
$owners$;
