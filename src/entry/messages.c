/*-------------------------------------------------------------------------
 *
 * messages.c
 *	  allocation.handle(message jsonb): command messages from other systems
 *	  (the contract: events), with an idempotent receiver.
 *
 * Notes:
 *	1) A message is a JSON object with "type" (Allocate, CreateBatch,
 *	   ChangeBatchQuantity, Deallocate), the SQL function's argument names
 *	   as fields, and an optional "message_id".  Unknown fields are ignored
 *	   so that senders may add metadata.
 *	2) Missing field or wrong JSON type: 22023 naming the field.  A field
 *	   that is JSON null: 22004, like a NULL argument of the function.  A
 *	   message without a usable "type" (missing, null, not a string,
 *	   unknown) is malformed: 22023.
 *	3) "eta" is exactly YYYY-MM-DD: four digits of a year from 0001, a valid
 *	   calendar day; no sign, space, era, time or special value (22023).
 *	4) Idempotent receiver: the key of a handled message is (type, sender,
 *	   message_id), the sender being current_user at the call, so neither
 *	   another command type nor another role can claim a sender's id.  It
 *	   is claimed in allocation.inbox in the caller's transaction (INSERT
 *	   ... ON CONFLICT DO NOTHING waits for a concurrent claimer to finish),
 *	   the command runs, and its result is stored beside it.  A message
 *	   seen before returns the stored result without running anything.  A
 *	   failed command rolls its claim back with it, so the message can be
 *	   retried.
 *	5) A message_id is a JSON string with the rules of an identifier (1-255
 *	   characters, not blank, no control characters) or a JSON integer
 *	   within bigint (1 and 1.0 are the same id; 1.5 is refused).  The
 *	   string "7" and the number 7 are two ids: the inbox keeps the id as
 *	   jsonb.  Anything else is 22023.
 *	6) Rights: the command's role is checked before the inbox is read, so
 *	   a repeated message never tells its result to a role that could not
 *	   have run it.
 *	7) "report_duplicate": true asks for a "duplicate" boolean beside the
 *	   result (true: handled before, nothing ran now).  The inbox keeps
 *	   the plain result, so a repeat without the field still returns the
 *	   first result exactly.  A receiver such as the relay needs this
 *	   answer from the node itself: whether its own transaction took a
 *	   transaction id says nothing once a router stands in between.
 *	8) A message claimed before whose first handling stored no result is
 *	   a duplicate too: that handling is still running in this
 *	   transaction (a plugin, or anything the command calls, handles the
 *	   same message again), or the row was written by hand.  Running it
 *	   again would run the command twice, so it returns SQL NULL (no
 *	   result to repeat), or {"duplicate": true} alone when asked.
 *	9) Checks come in the order of the SQL function's: once the type is
 *	   known, the sender's role (42501), then every argument field and
 *	   message_id that is JSON null (22004), then each field's presence,
 *	   JSON type and value (22023), then message_id's.  So a message is
 *	   refused as its function would refuse the same values.
 *
 * src/entry/messages.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"

PG_FUNCTION_INFO_V1(allocation_handle);

typedef enum message_type
{
	MSG_ALLOCATE,
	MSG_CREATE_BATCH,
	MSG_CHANGE_BATCH_QUANTITY,
	MSG_DEALLOCATE
} message_type;

typedef struct message
{
	message_type type;
	const char *type_name;
	Jsonb	   *message_id;		/* a jsonb string or integer, or NULL */
	bool		report_duplicate;	/* answer with "duplicate" (note 7) */
	char	   *orderid;
	char	   *sku;
	char	   *ref;
	int32		qty;
	bool		has_eta;
	DateADT		eta;
} message;

static JsonbValue *
field(Jsonb *jb, const char *key)
{
	return getKeyJsonValueFromContainer(&jb->root, key, strlen(key), NULL);
}

static void
malformed(const char *fmt, const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed message: field \"%s\" %s", key, fmt)));
}

/* A required field that is present and not null. */
static JsonbValue *
required(Jsonb *jb, const char *key)
{
	JsonbValue *v = field(jb, key);

	if (v == NULL)
		malformed("is missing", key);
	if (v->type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message field \"%s\" must not be null", key)));
	return v;
}

static char *
jbv_string(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A text field holding an identifier (the contract's SQL interface). */
static char *
identifier_field(Jsonb *jb, const char *key)
{
	JsonbValue *v = required(jb, key);

	if (v->type != jbvString)
		malformed("must be a string", key);
	al_check_identifier_value(v->val.string.val, v->val.string.len, key);
	return jbv_string(v);
}

/*
 * An integer field within int32: a JSON number whose value is a whole
 * number, however it is written (5, 5.0 and 5e0 are the same quantity, as
 * they are the same message_id).
 */
static int32
int_field(Jsonb *jb, const char *key)
{
	JsonbValue *v = required(jb, key);
	char	   *digits;
	char	   *end;
	long		n;

	if (v->type != jbvNumeric)
		malformed("must be a number", key);
	digits = DatumGetCString(DirectFunctionCall1(numeric_out,
												 NumericGetDatum(v->val.numeric)));
	errno = 0;
	n = strtol(digits, &end, 10);
	/* numeric_out writes 5.0 as "5.0": a fraction of zeros is whole */
	if (*end == '.' && end != digits)
		for (end++; *end == '0'; end++)
			;
	if (*end != '\0')
		malformed("must be an integer", key);
	if (errno != 0 || n < PG_INT32_MIN || n > PG_INT32_MAX)
		malformed("is an integer out of range (from -2147483648 to 2147483647)", key);
	return (int32) n;
}

/* Is s[0..n) all ASCII digits? */
static bool
all_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* The number of the n ASCII digits at s. */
static int
digits_value(const char *s, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/*
 * An optional date or null.  Exactly YYYY-MM-DD, ASCII digits, year 0001 to
 * 9999, a day that exists in that month: no sign, no space, no era, no
 * time, no special value.  Anything else is 22023 naming the value.
 */
static void
date_field(Jsonb *jb, const char *key, bool *has, DateADT *value)
{
	JsonbValue *v = field(jb, key);
	const char *s;
	int			y,
				m,
				d;

	*has = false;
	if (v == NULL || v->type == jbvNull)
		return;
	if (v->type != jbvString)
		malformed("must be an ISO date string", key);
	s = v->val.string.val;
	if (v->val.string.len != 10 || !all_digits(s, 4) || s[4] != '-' ||
		!all_digits(s + 5, 2) || s[7] != '-' || !all_digits(s + 8, 2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed message: field \"%s\" must be an ISO date (YYYY-MM-DD), not %s",
						key, al_shown_value(s, v->val.string.len))));
	y = digits_value(s, 4);
	m = digits_value(s + 5, 2);
	d = digits_value(s + 8, 2);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > day_tab[isleap(y)][m - 1])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed message: field \"%s\" is not a valid date: %s",
						key, al_shown_value(s, v->val.string.len)),
				 errdetail("A date is YYYY-MM-DD with a year from 0001 to 9999 and a day of that month.")));
	*has = true;
	*value = date2j(y, m, d) - POSTGRES_EPOCH_JDATE;
}

/*
 * The optional message_id, as the jsonb scalar the inbox keys on: a string
 * with the rules of an identifier, or an integer within bigint written in
 * its canonical form (so 1, 1.0 and 1e0 are one id).
 */
static Jsonb *
message_id_field(Jsonb *jb)
{
	JsonbValue *v = field(jb, "message_id");
	JsonbValue	id;

	if (v == NULL)
		return NULL;
	/* a sender whose id went missing must not lose de-duplication unseen */
	if (v->type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message field \"message_id\" must not be null"),
				 errhint("Leave the field out for a message that is not de-duplicated.")));
	if (v->type == jbvString)
	{
		al_check_identifier_value(v->val.string.val, v->val.string.len,
								  "message_id");
		id = *v;
	}
	else if (v->type == jbvNumeric)
	{
		Datum		whole = DirectFunctionCall2(numeric_trunc,
												NumericGetDatum(v->val.numeric),
												Int32GetDatum(0));
		char	   *digits;
		char	   *end;
		long long	n;

		/* integral and within bigint, or refused */
		if (!DatumGetBool(DirectFunctionCall2(numeric_eq,
											  NumericGetDatum(v->val.numeric),
											  whole)))
			malformed("must be a string or an integer", "message_id");
		digits = DatumGetCString(DirectFunctionCall1(numeric_out, whole));
		errno = 0;
		n = strtoll(digits, &end, 10);
		if (*end != '\0' || errno != 0 || n < PG_INT64_MIN || n > PG_INT64_MAX)
			malformed("is an integer out of range (from -9223372036854775808 to 9223372036854775807)",
					  "message_id");
		id.type = jbvNumeric;
		id.val.numeric = int64_to_numeric((int64) n);
	}
	else
		malformed("must be a string or an integer", "message_id");
	return JsonbValueToJsonb(&id);
}

/* The optional "report_duplicate": a boolean; null or absent is false. */
static bool
report_duplicate_field(Jsonb *jb)
{
	JsonbValue *v = field(jb, "report_duplicate");

	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvBool)
		malformed("must be a boolean", "report_duplicate");
	return v->val.boolean;
}

/* The argument fields of each type, in the SQL function's order. */
static const char *const *
argument_fields(message_type type)
{
	static const char *const allocate[] = {"orderid", "sku", "qty", NULL};
	static const char *const create_batch[] = {"ref", "sku", "qty", NULL};
	static const char *const change_batch_quantity[] = {"ref", "qty", NULL};
	static const char *const deallocate[] = {"orderid", "sku", NULL};

	switch (type)
	{
		case MSG_ALLOCATE:
			return allocate;
		case MSG_CREATE_BATCH:
			return create_batch;
		case MSG_CHANGE_BATCH_QUANTITY:
			return change_batch_quantity;
		case MSG_DEALLOCATE:
			break;
	}
	return deallocate;
}

/* The message's type: what it asks for decides everything else (note 9). */
static void
parse_type(Jsonb *jb, message *msg)
{
	JsonbValue *type;

	memset(msg, 0, sizeof(*msg));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed message: a message must be a JSON object")));
	/* no usable type, null included, is malformed: there is no command */
	type = field(jb, "type");
	if (type == NULL)
		malformed("is missing", "type");
	if (type->type != jbvString)
		malformed("must be a string naming the message type", "type");
	msg->type_name = jbv_string(type);

	if (strcmp(msg->type_name, "Allocate") == 0)
		msg->type = MSG_ALLOCATE;
	else if (strcmp(msg->type_name, "CreateBatch") == 0)
		msg->type = MSG_CREATE_BATCH;
	else if (strcmp(msg->type_name, "ChangeBatchQuantity") == 0)
		msg->type = MSG_CHANGE_BATCH_QUANTITY;
	else if (strcmp(msg->type_name, "Deallocate") == 0)
		msg->type = MSG_DEALLOCATE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed message: unknown message type %s",
						al_shown_value(msg->type_name, strlen(msg->type_name))),
				 errhint("Known types: Allocate, CreateBatch, ChangeBatchQuantity, Deallocate.")));
}

/* The fields of a message whose type is known: NULLs first (note 9). */
static void
parse_fields(Jsonb *jb, message *msg)
{
	for (const char *const *key = argument_fields(msg->type); *key; key++)
	{
		JsonbValue *v = field(jb, *key);

		if (v != NULL && v->type == jbvNull)
			required(jb, *key);
	}
	if (field(jb, "message_id") != NULL && field(jb, "message_id")->type == jbvNull)
		(void) message_id_field(jb);

	/* then each field, in the same order, with the function's checks */
	for (const char *const *key = argument_fields(msg->type); *key; key++)
	{
		if (strcmp(*key, "qty") == 0)
		{
			msg->qty = int_field(jb, "qty");
			al_check_qty(msg->qty, msg->type == MSG_ALLOCATE ? AL_QTY_LINE : AL_QTY_BATCH,
						 AL_QTY_FROM_MESSAGE, 0, "qty");
		}
		else
		{
			char	   *value = identifier_field(jb, *key);

			if (strcmp(*key, "orderid") == 0)
				msg->orderid = value;
			else if (strcmp(*key, "sku") == 0)
				msg->sku = value;
			else
				msg->ref = value;
		}
	}
	/* eta is optional (NULL: in the warehouse), as the function's default */
	if (msg->type == MSG_CREATE_BATCH)
		date_field(jb, "eta", &msg->has_eta, &msg->eta);
	msg->message_id = message_id_field(jb);
	msg->report_duplicate = report_duplicate_field(jb);
}

/* The role a message's command needs. */
static const char *
required_role(const message *msg)
{
	return (msg->type == MSG_CREATE_BATCH ||
			msg->type == MSG_CHANGE_BATCH_QUANTITY) ? AL_ADMIN_ROLE : AL_USER_ROLE;
}

/* The SQL function whose rights the message's command needs. */
static const char *
command_function(const message *msg)
{
	switch (msg->type)
	{
		case MSG_ALLOCATE:
			return "allocation.allocate";
		case MSG_CREATE_BATCH:
			return "allocation.add_batch";
		case MSG_CHANGE_BATCH_QUANTITY:
			return "allocation.change_batch_quantity";
		case MSG_DEALLOCATE:
			return "allocation.deallocate";
	}
	return "allocation.handle";
}

/* Run the command; returns its result as jsonb. */
static Jsonb *
execute(const message *msg)
{
	StringInfoData buf;
	char	   *batchref = NULL;
	bool		has_batchref = false;

	switch (msg->type)
	{
		case MSG_ALLOCATE:
			batchref = al_cmd_allocate(msg->orderid, msg->sku, msg->qty);
			has_batchref = true;
			break;
		case MSG_CREATE_BATCH:
			al_cmd_add_batch(msg->ref, msg->sku, msg->qty, msg->has_eta,
							 msg->eta);
			break;
		case MSG_CHANGE_BATCH_QUANTITY:
			al_cmd_change_batch_quantity(msg->ref, msg->qty);
			break;
		case MSG_DEALLOCATE:
			batchref = al_cmd_deallocate(msg->orderid, msg->sku);
			has_batchref = true;
			break;
	}
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"type\": ");
	escape_json(&buf, msg->type_name);
	if (has_batchref)
	{
		appendStringInfoString(&buf, ", \"batchref\": ");
		if (batchref)
			escape_json(&buf, batchref);
		else
			appendStringInfoString(&buf, "null");
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(buf.data)));
}

/*
 * Claim (type, current_user, message_id) in the inbox.  Returns true when
 * it is new (claimed now), false when it was claimed before; *result is
 * then the result stored by its first handling, or NULL when none is
 * stored (note 8).
 */
static bool
inbox_claim(const message *msg, Oid sender, Jsonb *message, Jsonb **result)
{
	al_pg_session s;
	bool		claimed;

	al_pg_begin(&s, false);
	claimed = al_pg_inbox_claim(&s, msg->type_name, sender, msg->message_id,
								message, result);
	al_pg_end(&s);
	return claimed;
}

/* Store the result of a claimed message beside its key. */
static void
inbox_store(const message *msg, Oid sender, Jsonb *result)
{
	al_pg_session s;

	al_pg_begin(&s, false);
	al_pg_inbox_store(&s, msg->type_name, sender, msg->message_id, result);
	al_pg_end(&s);
}

/*
 * The answer to a message: its result, with "duplicate" beside it when the
 * message asked for it (note 7).  A duplicate without a stored result
 * (note 8) answers SQL NULL, or the flag alone.
 */
static Datum
answer(FunctionCallInfo fcinfo, const message *msg, Jsonb *result,
	   bool duplicate)
{
	Datum		flag;

	if (!msg->report_duplicate)
	{
		if (result == NULL)
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(result);
	}
	flag = DirectFunctionCall1(jsonb_in,
							   CStringGetDatum(duplicate ? "{\"duplicate\": true}"
											   : "{\"duplicate\": false}"));
	if (result == NULL)
		return flag;
	return DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(result), flag);
}

/* handle(message jsonb) RETURNS jsonb */
Datum
allocation_handle(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb;
	message		msg;
	Jsonb	   *result;
	Oid			sender = GetUserId();	/* current_user at the call */

	al_require_role(AL_USER_ROLE, "allocation.handle");
	al_check_not_null(fcinfo, 0, "message");
	jb = PG_GETARG_JSONB_P(0);
	parse_type(jb, &msg);
	al_require_role_for_command(required_role(&msg), msg.type_name,
								command_function(&msg));
	parse_fields(jb, &msg);
	al_require_writable("allocation.handle");

	/* claimed before, even without a result yet: not again (note 8) */
	if (msg.message_id && !inbox_claim(&msg, sender, jb, &result))
		return answer(fcinfo, &msg, result, true);
	result = execute(&msg);
	if (msg.message_id)
		inbox_store(&msg, sender, result);
	return answer(fcinfo, &msg, result, false);
}
