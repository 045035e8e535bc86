/*-------------------------------------------------------------------------
 *
 * errors.h
 *	  Our SQLSTATEs (class ZA, the contract's SQL interface) and the one place that turns
 *	  an al_status into an ERROR.
 *
 * src/adapters/errors.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_ERRORS_H
#define AL_ERRORS_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/date.h"

#include "al_core.h"
#include "pg_compat.h"

/* Class ZA: implementation-defined, so it cannot collide with the standard's */
#define ERRCODE_ZA_UNKNOWN_SKU			MAKE_SQLSTATE('Z','A','0','0','1')
#define ERRCODE_ZA_UNKNOWN_BATCH		MAKE_SQLSTATE('Z','A','0','0','2')
#define ERRCODE_ZA_QTY_MISMATCH			MAKE_SQLSTATE('Z','A','0','0','3')
#define ERRCODE_ZA_INVALID_TRANSITION	MAKE_SQLSTATE('Z','A','0','0','4')
/* not in the contract's error table: an order id that order tracking does not know */
#define ERRCODE_ZA_UNKNOWN_ORDER		MAKE_SQLSTATE('Z','A','0','0','5')

/* What the message of a failed command names. */
typedef struct al_error_context
{
	const char *function;		/* SQL function, e.g. "allocate" */
	const char *sku;
	const char *ref;
	const char *orderid;
	int32		qty;
	int32		existing_qty;
	const char *status;
	const char *previous_status;
} al_error_context;

/* The SQLSTATE of a failed status (0 for AL_OK and AL_OUT_OF_STOCK). */
extern int	al_status_sqlstate(al_status status);

/*
 * Raise the ERROR of a failed status, worded with ec.  Never returns; a
 * status that is no failure is an internal error.
 */
extern void al_raise(al_status status, const al_error_context *ec) pg_attribute_noreturn();

/* Raise the ERROR of status if it is a failure; return otherwise. */
static inline void
al_check_status(al_status status, const al_error_context *ec)
{
	if (status != AL_OK && status != AL_OUT_OF_STOCK)
		al_raise(status, ec);
}

/* Argument checks: 22004 for NULL, 22023 for values out of their domain. */
extern void al_check_not_null(FunctionCallInfo fcinfo, int argno,
							  const char *argname);
extern void al_check_identifier_value(const char *s, size_t len,
									  const char *argname);
extern char *al_identifier_arg(FunctionCallInfo fcinfo, int argno,
							   const char *argname);
/*
 * The quantity checks, one for every path: a SQL argument, a line of
 * allocate_many's array (line counts from 1), a field of a handle()
 * message (field names it).  22023 unless qty is valid for its kind.
 */
typedef enum al_qty_kind
{
	AL_QTY_LINE,				/* greater than zero */
	AL_QTY_BATCH				/* not negative */
} al_qty_kind;
typedef enum al_qty_source
{
	AL_QTY_FROM_ARGUMENT,
	AL_QTY_FROM_ARRAY,
	AL_QTY_FROM_MESSAGE
} al_qty_source;
extern void al_check_qty(int32 qty, al_qty_kind kind, al_qty_source source,
						 int line, const char *field);
extern int32 al_line_qty_arg(FunctionCallInfo fcinfo, int argno);
extern int32 al_batch_qty_arg(FunctionCallInfo fcinfo, int argno);

/* 22023 unless eta is a finite date from 0001-01-01 to 9999-12-31. */
extern void al_check_eta(DateADT eta, const char *argname);

/* A caller's value as an error shows it: quoted, escaped, cut short. */
extern char *al_shown_value(const char *s, size_t len);

/* The extension's roles, which CREATE EXTENSION makes (rights.sql). */
#define AL_ADMIN_ROLE "allocation_admin"
#define AL_USER_ROLE "allocation_user"
#define AL_MAILER_ROLE "allocation_mailer"

/* 42501 unless the current user is a member of role (or superuser). */
extern void al_require_role(const char *role, const char *function);
/* The same for a command message of handle(): the refusal names command. */
extern void al_require_role_for_command(const char *role, const char *command,
										const char *function);
/*
 * 25006 in a read-only transaction (SET TRANSACTION READ ONLY, a hot
 * standby): a command fails before its first statement, naming itself.
 */
extern void al_require_writable(const char *function);

#endif							/* AL_ERRORS_H */
