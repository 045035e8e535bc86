/*-------------------------------------------------------------------------
 *
 * alerts.c
 *	  Who receives the out-of-stock alerts: allocation.stock_alert_recipient()
 *	  and allocation.set_stock_alert_recipient(recipient text).
 *
 * Notes:
 *	1) Order of precedence: the setting allocation.stock_alert_recipient
 *	   when a superuser set it, else the row of allocation.settings that an
 *	   administrator wrote, else the default (settings.h).  "" turns the
 *	   alerts off.
 *	2) Only members of allocation_admin (and superusers) choose the
 *	   recipient: a user could otherwise steer alerts to its own address.
 *
 * src/entry/alerts.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "command_api.h"
#include "errors.h"
#include "session.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(allocation_stock_alert_recipient);
PG_FUNCTION_INFO_V1(allocation_set_stock_alert_recipient);

/* stock_alert_recipient() RETURNS text: the recipient in force */
Datum
allocation_stock_alert_recipient(PG_FUNCTION_ARGS)
{
	al_pg_session s;
	text	   *result;

	al_require_role(AL_USER_ROLE, "allocation.stock_alert_recipient");
	al_pg_begin(&s, true);
	result = cstring_to_text(al_stock_alert_recipient_get());
	{
		MemoryContext old = MemoryContextSwitchTo(s.caller_cxt);

		result = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(result));
		MemoryContextSwitchTo(old);
	}
	al_pg_end(&s);
	PG_RETURN_TEXT_P(result);
}

/*
 * set_stock_alert_recipient(recipient text) RETURNS void: an address, ""
 * for no alerts, or NULL for the default again.
 */
Datum
allocation_set_stock_alert_recipient(PG_FUNCTION_ARGS)
{
	al_pg_session s;
	char	   *recipient = NULL;

	al_require_role(AL_ADMIN_ROLE, "allocation.set_stock_alert_recipient");
	if (!PG_ARGISNULL(0))
	{
		recipient = text_to_cstring(PG_GETARG_TEXT_PP(0));
		if (!al_stock_alert_address_valid(recipient))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid e-mail address %s", al_shown_value(recipient, strlen(recipient))),
					 errdetail("An address has the form local@domain.tld or local@localhost, without spaces; empty turns alerts off.")));
	}

	al_pg_begin(&s, false);
	al_stock_alert_recipient_set(recipient);
	al_pg_end(&s);
	PG_RETURN_VOID();
}
