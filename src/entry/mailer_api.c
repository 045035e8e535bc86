/*-------------------------------------------------------------------------
 *
 * mailer_api.c
 *	  The functions a mailer calls (claim_notifications,
 *	  mark_notification_sent, mark_notification_failed,
 *	  retry_notification) and the settings of its retries.
 *
 * Notes:
 *	1) The functions are PL/pgSQL, allocation._<name>, granted to nobody;
 *	   allocation.<name> is allocation_mailer_proxy, which lets members of
 *	   allocation_mailer or allocation_admin (and superusers) in and runs
 *	   the implementation with the owner's rights, as admin_proxy.c does
 *	   for the administrators' functions.  So the mailer's role needs no
 *	   right on the table itself.
 *	2) The settings are PGC_SUSET: a mailer's role cannot give itself more
 *	   attempts or shorter delays; the implementation reads them with
 *	   current_setting.
 *
 * src/entry/mailer_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "command_api.h"
#include "mailer_api.h"

static int	al_mail_max_attempts = 10;
static int	al_mail_retry_delay = 60;
static int	al_mail_retry_max_delay = 3600;

PG_FUNCTION_INFO_V1(allocation_mailer_proxy);

/* Is the current user a member of role name? */
static bool
has_role(const char *name)
{
	Oid			roleid = get_role_oid(name, true);

	return OidIsValid(roleid) && has_privs_of_role(GetUserId(), roleid);
}

/* allocation.<name> for mailers and administrators */
Datum
allocation_mailer_proxy(PG_FUNCTION_ARGS)
{
	if (!superuser() && !has_role(AL_MAILER_ROLE) && !has_role(AL_ADMIN_ROLE))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be a member of role \"%s\" or \"%s\" to call allocation.%s",
						AL_MAILER_ROLE, AL_ADMIN_ROLE,
						get_func_name(fcinfo->flinfo->fn_oid)),
				 errhint("A database administrator can grant it: GRANT %s TO <role>.",
						 AL_MAILER_ROLE)));
	return al_run_implementation(fcinfo);
}

/* Define the retry settings of the mailer functions. */
void
al_mailer_define_settings(void)
{
	DefineCustomIntVariable("allocation.mail_max_attempts",
							"Attempts to deliver a notification before it is dead.",
							"A permanent SMTP refusal (5xx) makes it dead at once.",
							&al_mail_max_attempts,
							10, 1, 1000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("allocation.mail_retry_delay",
							"Wait after the first failed delivery attempt; doubled after each further one.",
							NULL,
							&al_mail_retry_delay,
							60, 1, 86400,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("allocation.mail_retry_max_delay",
							"Longest wait between two delivery attempts of a notification.",
							NULL,
							&al_mail_retry_max_delay,
							3600, 1, 7 * 86400,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
}
