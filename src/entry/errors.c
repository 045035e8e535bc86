/*-------------------------------------------------------------------------
 *
 * errors.c
 *	  Argument checks and the mapping of al_status to SQLSTATEs: the one
 *	  place where the extension's errors are worded.
 *
 * Notes:
 *	1) Messages follow PostgreSQL's style: lower case, no period, values
 *	   quoted; the detail says what would have been accepted.
 *	2) Every ereport carries an errcode; nothing surfaces as XX000.
 *
 * src/entry/errors.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "errors.h"
#include "pg_compat.h"

void
al_raise(al_status status, const al_error_context *ec)
{
	switch (status)
	{
		case AL_OK:
		case AL_OUT_OF_STOCK:
			return;
		case AL_UNKNOWN_SKU:
			ereport(ERROR,
					(errcode(ERRCODE_ZA_UNKNOWN_SKU),
					 errmsg("invalid sku \"%s\"", ec->sku),
					 errdetail("No batch of this SKU has been added.")));
			break;
		case AL_UNKNOWN_BATCH:
			ereport(ERROR,
					(errcode(ERRCODE_ZA_UNKNOWN_BATCH),
					 errmsg("unknown batch reference \"%s\"", ec->ref)));
			break;
		case AL_QTY_MISMATCH:
			ereport(ERROR,
					(errcode(ERRCODE_ZA_QTY_MISMATCH),
					 errmsg("order line \"%s\" of sku \"%s\" is already allocated with quantity %d",
							ec->orderid, ec->sku, ec->existing_qty),
					 errdetail("It cannot be allocated again with quantity %d.",
							   ec->qty),
					 errhint("Deallocate the line first to change its quantity.")));
			break;
		case AL_INVALID_TRANSITION:
			ereport(ERROR,
					(errcode(ERRCODE_ZA_INVALID_TRANSITION),
					 errmsg("order \"%s\" cannot change from status \"%s\" to \"%s\"",
							ec->orderid, ec->previous_status, ec->status)));
			break;
		case AL_DUPLICATE_BATCH:
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("batch reference \"%s\" already exists", ec->ref)));
			break;
		case AL_CONCURRENT_UPDATE:
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access to product \"%s\" due to concurrent update",
							ec->sku ? ec->sku : ec->ref),
					 errhint("Retry the transaction.")));
			break;
		case AL_UNKNOWN_ORDER:
			ereport(ERROR,
					(errcode(ERRCODE_ZA_UNKNOWN_ORDER),
					 errmsg("unknown order \"%s\"", ec->orderid),
					 errhint("Orders are tracked once allocation.create_order has created them.")));
			break;
		case AL_DUPLICATE_ORDER:
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("order \"%s\" already exists", ec->orderid)));
			break;
		case AL_NULL_ARGUMENT:
		case AL_INVALID_ARGUMENT:
		case AL_NOT_ALLOWED:
			/* checked at the entry with their own messages */
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid argument to %s", ec->function)));
			break;
	}
}

void
al_check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" must not be null", argname)));
}

/*
 * Check an identifier of len bytes in the database encoding.  The rules
 * (characters, not bytes; control characters; blank) are the core's, which
 * reads UTF-8: text of another server encoding is converted to UTF-8 first
 * (every server encoding converts, LATIN1's C1 controls to U+0080-U+009F).
 * SQL_ASCII declares no encoding: its bytes are read as UTF-8, and bytes
 * that are not UTF-8 are refused.
 */
void
al_check_identifier_value(const char *s, size_t len, const char *argname)
{
	const char *u = s;
	size_t		ulen = len;
	int			enc = GetDatabaseEncoding();

	if (enc != PG_UTF8 && enc != PG_SQL_ASCII && len > 0)
	{
		Oid			proc;
		unsigned char *buf;
		int			done;

		/* far too long: said before any conversion buffer is sized for it */
		if (len > (size_t) AL_IDENTIFIER_MAX_CHARS * pg_encoding_max_length(enc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is too long (%d characters)", argname,
							pg_mbstrlen_with_len(s, (int) len)),
					 errdetail("Identifiers have at most %d characters.",
							   AL_IDENTIFIER_MAX_CHARS)));
		proc = FindDefaultConversionProc(enc, PG_UTF8);
		if (!OidIsValid(proc))
			elog(ERROR, "no conversion from %s to UTF8",
				 pg_encoding_to_char(enc));
		buf = palloc((size_t) len * MAX_CONVERSION_GROWTH + 1);
		done = pg_do_encoding_conversion_buf(proc, enc, PG_UTF8,
											 (unsigned char *) s, (int) len,
											 buf, (int) len * MAX_CONVERSION_GROWTH + 1,
											 true);
		/* a character with no Unicode equivalent: not text the rules know */
		if (done < (int) len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s has a character with no Unicode equivalent", argname),
					 errdetail("Identifiers are Unicode text; the database encoding is %s.",
							   GetDatabaseEncodingName())));
		u = (const char *) buf;
		ulen = strlen(u);
	}
	switch (al_check_identifier(u, ulen))
	{
		case AL_IDENT_OK:
			break;
		case AL_IDENT_EMPTY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not be empty", argname)));
			break;
		case AL_IDENT_BLANK:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not be blank", argname),
					 errdetail("The value \"%s\" has only spaces.",
							   pnstrdup(s, len))));
			break;
		case AL_IDENT_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s is too long (%zu characters)", argname,
							al_utf8_length(u, ulen)),
					 errdetail("Identifiers have at most %d characters.",
							   AL_IDENTIFIER_MAX_CHARS)));
			break;
		case AL_IDENT_BAD_ENCODING:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must be valid UTF-8", argname),
					 errdetail("In a SQL_ASCII database identifiers are read as UTF-8.")));
			break;
		case AL_IDENT_CONTROL_CHAR:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters", argname),
					 errdetail("The value was %s.",
							   quote_literal_cstr(pnstrdup(s, len)))));
			break;
	}
}

char *
al_identifier_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	text	   *t = PG_GETARG_TEXT_PP(argno);

	al_check_identifier_value(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), argname);
	return text_to_cstring(t);
}

int32
al_line_qty_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		qty = PG_GETARG_INT32(argno);

	if (!al_line_qty_valid(qty))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid quantity %d for an order line", qty),
				 errdetail("An order line's quantity must be greater than zero.")));
	return qty;
}

int32
al_batch_qty_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		qty = PG_GETARG_INT32(argno);

	if (!al_batch_qty_valid(qty))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid quantity %d for a batch", qty),
				 errdetail("A batch's quantity must not be negative.")));
	return qty;
}

void
al_require_role(const char *role, const char *function)
{
	Oid			roleid = get_role_oid(role, true);

	if (superuser())
		return;
	if (!OidIsValid(roleid) || !has_privs_of_role(GetUserId(), roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be a member of role \"%s\" to call %s", role, function),
				 errhint("A database administrator can grant it: GRANT %s TO <role>.", role)));
}
