/*-------------------------------------------------------------------------
 *
 * command_api.h
 *	  The commands of the allocation context as the entry points run them:
 *	  role check, one service call in an SPI session, error mapping.  Used
 *	  by the SQL functions (command_api.c) and by allocation.handle
 *	  (messages.c), so both apply the same rights and rules.
 *
 * src/entry/command_api.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_ENTRY_COMMAND_API_H
#define AL_ENTRY_COMMAND_API_H

#include "postgres.h"

#include "utils/date.h"

#include "errors.h"				/* the roles: AL_ADMIN_ROLE, ... */
#include "fmgr.h"

/*
 * Run allocation._<name> for the SQL function allocation.<name> being
 * called, with the owner's rights (admin_proxy.c); the role is checked.
 */
extern Datum al_run_implementation(FunctionCallInfo fcinfo);

/*
 * The caller has checked the role and the arguments.  Each raises the
 * command's ERROR.
 */
extern void al_cmd_add_batch(const char *ref, const char *sku, int32 qty,
							 bool has_eta, DateADT eta);
/* The batch reference in the caller's memory, or NULL (out of stock). */
extern char *al_cmd_allocate(const char *orderid, const char *sku, int32 qty);
/* The batch freed, or NULL when the line was not allocated. */
extern char *al_cmd_deallocate(const char *orderid, const char *sku);
extern void al_cmd_change_batch_quantity(const char *ref, int32 qty);

#endif							/* AL_ENTRY_COMMAND_API_H */
