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
 * src/adapters/errors.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"

#include "errors.h"
#include "pg_compat.h"

/*
 * The one table from a failed status to its SQLSTATE.  AL_OK and
 * AL_OUT_OF_STOCK are not failures and have none.  The argument statuses
 * are checked at the entry points with messages of their own (22004,
 * 22023, 42501); a service that still returns one has been given an
 * argument the entry let through, which is reported as 22023.
 */
static const int STATUS_SQLSTATE[] = {
	[AL_OK] = 0,
	[AL_OUT_OF_STOCK] = 0,
	[AL_NULL_ARGUMENT] = ERRCODE_INVALID_PARAMETER_VALUE,
	[AL_INVALID_ARGUMENT] = ERRCODE_INVALID_PARAMETER_VALUE,
	[AL_UNKNOWN_SKU] = ERRCODE_ZA_UNKNOWN_SKU,
	[AL_UNKNOWN_BATCH] = ERRCODE_ZA_UNKNOWN_BATCH,
	[AL_QTY_MISMATCH] = ERRCODE_ZA_QTY_MISMATCH,
	[AL_INVALID_TRANSITION] = ERRCODE_ZA_INVALID_TRANSITION,
	[AL_DUPLICATE_BATCH] = ERRCODE_UNIQUE_VIOLATION,
	[AL_CONCURRENT_UPDATE] = ERRCODE_T_R_SERIALIZATION_FAILURE,
	[AL_NOT_ALLOWED] = ERRCODE_INVALID_PARAMETER_VALUE,
	[AL_UNKNOWN_ORDER] = ERRCODE_ZA_UNKNOWN_ORDER,
	[AL_DUPLICATE_ORDER] = ERRCODE_UNIQUE_VIOLATION,
};

int
al_status_sqlstate(al_status status)
{
	if ((int) status < 0 || (int) status >= (int) lengthof(STATUS_SQLSTATE))
		return ERRCODE_INTERNAL_ERROR;
	return STATUS_SQLSTATE[status];
}

/* A caller's value as messages show it (al_shown_value), quotes included. */
static const char *
shown(const char *value)
{
	return value ? al_shown_value(value, strlen(value)) : "NULL";
}

void
al_raise(al_status status, const al_error_context *ec)
{
	int			sqlstate = al_status_sqlstate(status);

	switch (status)
	{
		case AL_OK:
		case AL_OUT_OF_STOCK:
			break;
		case AL_UNKNOWN_SKU:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid sku %s", shown(ec->sku)),
					 errdetail("No batch of this SKU has been added.")));
			break;
		case AL_UNKNOWN_BATCH:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("unknown batch reference %s", shown(ec->ref))));
			break;
		case AL_QTY_MISMATCH:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("order line %s of sku %s is already allocated with quantity %d",
							shown(ec->orderid), shown(ec->sku), ec->existing_qty),
					 errdetail("It cannot be allocated again with quantity %d.",
							   ec->qty),
					 errhint("Deallocate the line first to change its quantity.")));
			break;
		case AL_INVALID_TRANSITION:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("order %s cannot change from status %s to %s",
							shown(ec->orderid), shown(ec->previous_status),
							shown(ec->status))));
			break;
		case AL_DUPLICATE_BATCH:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("batch reference %s already exists", shown(ec->ref))));
			break;
		case AL_CONCURRENT_UPDATE:
			ereport(ERROR,
					(errcode(sqlstate),
					 ec->sku ?
					 errmsg("could not serialize access to product %s due to concurrent update",
							shown(ec->sku)) :
					 errmsg("could not serialize access to batch %s due to concurrent update",
							shown(ec->ref)),
					 errhint("Retry the transaction.")));
			break;
		case AL_UNKNOWN_ORDER:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("unknown order %s", shown(ec->orderid)),
					 errhint("Orders are tracked once allocation.create_order has created them.")));
			break;
		case AL_DUPLICATE_ORDER:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("order %s already exists", shown(ec->orderid))));
			break;
		case AL_NULL_ARGUMENT:
		case AL_INVALID_ARGUMENT:
		case AL_NOT_ALLOWED:
			ereport(ERROR,
					(errcode(sqlstate),
					 errmsg("invalid argument to %s", ec->function)));
			break;
	}
	/* not a failure (or not a status): the caller should not have asked */
	elog(ERROR, "no error for status %s of %s", al_status_name(status),
		 ec->function ? ec->function : "a command");
	pg_unreachable();
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
 * A value as an error message shows it, by the rule of al_core.h
 * (al_show_value, which the CSV program uses), in the database encoding.
 * Whatever the caller sent, the message stays
 * one short line: nothing it carries can pass for another log line, and a
 * value of megabytes is not copied into the error and the log.
 *
 * Characters are the database encoding's, and never cut: a message cut
 * inside a character is refused on its way to the client (22021), which
 * would replace the error.  In SQL_ASCII, which declares no encoding, a
 * valid UTF-8 sequence is one character (as the identifier rules read
 * it) and any other byte above 0x7F is written \xNN.  In the other
 * encodings a character without a Unicode equivalent (0x81 in WIN1252),
 * or that is a C1 control (0x85 in LATIN1), has its bytes written \xNN.
 */

/*
 * The length of the character at s (of at most left bytes) to copy, or 0:
 * escape the byte.  A character of another encoding than UTF-8 is copied
 * only if it has a Unicode equivalent that is no C1 control (to_utf8: the
 * conversion, InvalidOid when there is none): a message with a character
 * that a UTF8 client cannot receive is replaced by a conversion error.
 */
static int
shown_char_length(const char *s, size_t left, int enc, Oid to_utf8)
{
	unsigned char c = (unsigned char) *s;
	unsigned char out[4 * MAX_CONVERSION_GROWTH + 1];
	int			l;

	if (c < 0x80)
		return 1;
	if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
	{
		l = pg_utf_mblen((const unsigned char *) s);
		return (size_t) l <= left && pg_utf8_islegal((const unsigned char *) s, l) ? l : 0;
	}
	l = pg_encoding_max_length(enc) == 1 ? 1 : pg_mblen(s);
	if (l < 1 || l > 4 || (size_t) l > left || !OidIsValid(to_utf8))
		return 0;
	if (pg_do_encoding_conversion_buf(to_utf8, enc, PG_UTF8, (unsigned char *) s, l,
									  out, sizeof out, true) < l)
		return 0;
	/* a C1 control: U+0080..U+009F, C2 80..C2 9F in UTF-8 */
	if (out[0] == 0xC2 && out[1] >= 0x80 && out[1] <= 0x9F)
		return 0;
	return l;
}

char *
al_shown_value(const char *s, size_t len)
{
	StringInfoData buf;
	size_t		i = 0;
	int			chars = 0;
	int			enc = GetDatabaseEncoding();
	bool		utf8 = enc == PG_UTF8 || enc == PG_SQL_ASCII;
	Oid			to_utf8 = utf8 ? InvalidOid : FindDefaultConversionProc(enc, PG_UTF8);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '"');
	while (i < len && chars < AL_SHOWN_CHARS)
	{
		unsigned char c = (unsigned char) s[i];
		int			l;

		chars++;
		if (c < 0x20 || c == 0x7f)
		{
			if (c == '\n')
				appendStringInfoString(&buf, "\\n");
			else if (c == '\r')
				appendStringInfoString(&buf, "\\r");
			else if (c == '\t')
				appendStringInfoString(&buf, "\\t");
			else
				appendStringInfo(&buf, "\\x%02X", c);
			i++;
			continue;
		}
		if (c == '\\' || c == '"')
		{
			appendStringInfoChar(&buf, '\\');
			appendStringInfoChar(&buf, (char) c);
			i++;
			continue;
		}
		if (utf8 && c == 0xC2 && i + 1 < len &&
			(unsigned char) s[i + 1] >= 0x80 && (unsigned char) s[i + 1] <= 0x9F)
		{
			appendStringInfo(&buf, "\\u%04X", (unsigned char) s[i + 1]);
			i += 2;
			continue;
		}
		l = shown_char_length(s + i, len - i, enc, to_utf8);
		if (l == 0)
		{
			appendStringInfo(&buf, "\\x%02X", c);
			i++;
			continue;
		}
		appendBinaryStringInfo(&buf, s + i, l);
		i += l;
	}
	appendStringInfoChar(&buf, '"');
	if (i < len)
		appendStringInfoString(&buf, "...");
	return buf.data;
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
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("identifiers cannot be checked in a database of encoding %s",
							GetDatabaseEncodingName()),
					 errdetail("Identifiers are checked as Unicode text, and PostgreSQL has no conversion from %s to UTF8.",
							   GetDatabaseEncodingName()),
					 errhint("Use a database of another encoding (UTF8 is best).")));
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
					 errdetail("The value %s has only spaces.",
							   al_shown_value(s, len))));
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
					 errdetail("The value was %s.", al_shown_value(s, len))));
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

/* What each kind of quantity must be, worded once for every path. */
static const struct
{
	bool		(*valid) (int32 qty);
	const char *noun;			/* "invalid quantity %d for <noun>" */
	const char *rule;			/* "field \"qty\" <rule>" */
	const char *detail;
}			QTY_RULES[] = {
	[AL_QTY_LINE] = {al_line_qty_valid, "an order line",
		"must be greater than zero",
	"An order line's quantity must be greater than zero."},
	[AL_QTY_BATCH] = {al_batch_qty_valid, "a batch",
		"must not be negative",
	"A batch's quantity must not be negative."},
};

/*
 * 22023 unless eta is a finite date from 0001-01-01 to 9999-12-31: the
 * dates a message may carry (messages.c), so that an eta stored by
 * add_batch can travel in any event or message.
 */
void
al_check_eta(DateADT eta, const char *argname)
{
	DateADT		first = date2j(1, 1, 1) - POSTGRES_EPOCH_JDATE;
	DateADT		last = date2j(9999, 12, 31) - POSTGRES_EPOCH_JDATE;

	if (DATE_NOT_FINITE(eta) || eta < first || eta > last)
	{
		char	   *shown = DatumGetCString(DirectFunctionCall1(date_out,
																DateADTGetDatum(eta)));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a date from 0001-01-01 to 9999-12-31, not %s",
						argname, al_shown_value(shown, strlen(shown)))));
	}
}

/* 22023 unless qty is a valid quantity of kind; see errors.h. */
void
al_check_qty(int32 qty, al_qty_kind kind, al_qty_source source, int line,
			 const char *field)
{
	if (QTY_RULES[kind].valid(qty))
		return;
	switch (source)
	{
		case AL_QTY_FROM_ARGUMENT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid quantity %d for %s", qty,
							QTY_RULES[kind].noun),
					 errdetail_internal("%s", QTY_RULES[kind].detail)));
			break;
		case AL_QTY_FROM_ARRAY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid quantity %d for line %d", qty, line),
					 errdetail_internal("%s", QTY_RULES[kind].detail)));
			break;
		case AL_QTY_FROM_MESSAGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("malformed message: field \"%s\" %s", field,
							QTY_RULES[kind].rule)));
			break;
	}
}

/* An order line's quantity argument: 22023 unless greater than zero. */
int32
al_line_qty_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		qty = PG_GETARG_INT32(argno);

	al_check_qty(qty, AL_QTY_LINE, AL_QTY_FROM_ARGUMENT, 0, NULL);
	return qty;
}

/* A batch's quantity argument: 22023 if negative. */
int32
al_batch_qty_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		qty = PG_GETARG_INT32(argno);

	al_check_qty(qty, AL_QTY_BATCH, AL_QTY_FROM_ARGUMENT, 0, NULL);
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

/*
 * al_require_role_for_command
 *	  42501 unless the current user is a member of role (or superuser), for
 *	  a command that arrived as a message: the refusal names the command
 *	  the sender asked for ("CreateBatch"), not the function that carried it,
 *	  and the detail names the SQL function whose rights it needs.
 */
void
al_require_role_for_command(const char *role, const char *command,
							const char *function)
{
	Oid			roleid = get_role_oid(role, true);

	if (superuser())
		return;
	if (!OidIsValid(roleid) || !has_privs_of_role(GetUserId(), roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be a member of role \"%s\" to run %s", role, command),
				 errdetail("A %s message needs the rights of %s.", command, function),
				 errhint("A database administrator can grant it: GRANT %s TO <role>.", role)));
}

/*
 * al_require_writable
 *	  A command writes, so in a read-only transaction it fails at once, as
 *	  nextval() does: "cannot execute allocation.allocate() in a read-only
 *	  transaction".  Left to its first statement, the error would name
 *	  that statement (SELECT FOR NO KEY UPDATE, INSERT) and show our own
 *	  SQL as its context.  On a hot standby every transaction is read-only.
 */
void
al_require_writable(const char *function)
{
	if (XactReadOnly)
		PreventCommandIfReadOnly(psprintf("%s()", function));
}
