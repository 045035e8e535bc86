/*-------------------------------------------------------------------------
 *
 * al_core.h
 *	  Shared vocabulary of the pure-C domain core: statuses, the injected
 *	  allocator, identifier and quantity validation.
 *
 * Notes:
 *	1) Nothing here includes postgres.h.  The core is compiled on its own
 *	   (make unit) with no PostgreSQL include path, so a stray server
 *	   dependency fails to build.
 *	2) The core never reports errors itself: it returns an al_status and the
 *	   entry points choose the SQLSTATE (src/entry/errors.c).  ereport()
 *	   longjmps, so calling it from here would skip the core's bookkeeping.
 *	3) Memory comes from an al_allocator.  In the server it is palloc in a
 *	   per-call memory context, so nothing is freed one by one: the core
 *	   treats its allocator as an arena that lives for one command.
 *
 * src/core/al_core.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_CORE_H
#define AL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Outcome of every core and service operation. */
typedef enum al_status
{
	AL_OK = 0,
	AL_OUT_OF_STOCK,			/* rule 3: not an error */
	AL_NULL_ARGUMENT,			/* 22004 */
	AL_INVALID_ARGUMENT,		/* 22023 */
	AL_UNKNOWN_SKU,				/* ZA001 */
	AL_UNKNOWN_BATCH,			/* ZA002 */
	AL_QTY_MISMATCH,			/* ZA003 */
	AL_INVALID_TRANSITION,		/* ZA004 */
	AL_DUPLICATE_BATCH,			/* 23505 */
	AL_CONCURRENT_UPDATE,		/* 40001 */
	AL_NOT_ALLOWED,				/* 42501 */
	AL_UNKNOWN_ORDER,			/* order tracking: no such order */
	AL_DUPLICATE_ORDER			/* order tracking: order exists already */
} al_status;

/* A short name of a status, for messages ("concurrent update"...). */
extern const char *al_status_name(al_status status);

/*
 * Arena-style allocator injected by the caller.  alloc never returns NULL:
 * the server's palloc raises an ERROR instead, the unit tests' version
 * aborts.
 */
typedef struct al_allocator
{
	void	   *(*alloc) (void *ctx, size_t size);
	void	   *ctx;
} al_allocator;

extern void *al_alloc(const al_allocator *mem, size_t size);
extern char *al_strdup(const al_allocator *mem, const char *s);
/* Grow *array (of elem_size items, *cap slots) so that it holds need items. */
extern void al_grow(const al_allocator *mem, void **array, size_t elem_size,
					int *cap, int need);

/* Longest identifier, in characters (the contract: SQL interface). */
#define AL_IDENTIFIER_MAX_CHARS 255

/* Why an identifier was refused. */
typedef enum al_ident_problem
{
	AL_IDENT_OK = 0,
	AL_IDENT_EMPTY,
	AL_IDENT_BLANK,
	AL_IDENT_TOO_LONG,
	AL_IDENT_CONTROL_CHAR,
	AL_IDENT_BAD_ENCODING
} al_ident_problem;

/*
 * Check an identifier (SKU, batch reference, order id) of len bytes of
 * UTF-8: 1-255 characters, not only spaces, no control characters.
 */
extern al_ident_problem al_check_identifier(const char *s, size_t len);

/*
 * How an error shows a caller's value: in double quotes, control
 * characters written as \n, \r, \t, \xNN (C0, DEL) or \u00NN (C1), quotes
 * and backslashes escaped, at most AL_SHOWN_CHARS characters of it and
 * then "..." after the closing quote.  al_show_value writes it for a
 * value in UTF-8 (the CSV program's); the server's messages apply the
 * same rule to text of any server encoding (adapters/errors.c).
 */
#define AL_SHOWN_CHARS 64
#define AL_SHOWN_SIZE (AL_SHOWN_CHARS * 6 + 6)
extern void al_show_value(const char *s, size_t len, char out[AL_SHOWN_SIZE]);

/* Number of characters of a valid UTF-8 string of len bytes. */
extern size_t al_utf8_length(const char *s, size_t len);

/* An order line's quantity must be positive; a batch's must not be negative. */
static inline bool
al_line_qty_valid(int32_t qty)
{
	return qty > 0;
}

static inline bool
al_batch_qty_valid(int32_t qty)
{
	return qty >= 0;
}

#endif							/* AL_CORE_H */
