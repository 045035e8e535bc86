/*-------------------------------------------------------------------------
 *
 * values_api.c
 *	  A caller's value shown in a message as the C functions show it
 *	  (errors.c), for the implementations written in PL/pgSQL, so that the
 *	  rule stays in one place.
 *
 * src/entry/values_api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "errors.h"

PG_FUNCTION_INFO_V1(allocation_shown_value);

/*
 * _shown_value(value text) RETURNS text: value as an error message shows
 * it: quoted, escaped, cut after 64 characters.
 */
Datum
allocation_shown_value(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(al_shown_value(VARDATA_ANY(value),
													VARSIZE_ANY_EXHDR(value))));
}
