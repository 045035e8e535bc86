/*-------------------------------------------------------------------------
 *
 * fuzz_validate.c
 *	  libFuzzer target: the core's checks of raw input against the
 *	  reference readings of the contract (fuzz_ref.c).
 *
 *	  - al_check_identifier on the raw bytes (NUL bytes included): accepts
 *	    exactly the valid identifiers, never one with a control byte or
 *	    ill-formed UTF-8, counts characters as the reference does, and any
 *	    problem it names is one the value really has;
 *	  - al_order_id_valid, al_email_valid and al_order_status_from_name on
 *	    the bytes up to the first NUL (they take C strings, as the entry
 *	    points hand them over): the same answer as the reference;
 *	  - a valid e-mail stays valid and equal in length once normalised,
 *	    and normalising is idempotent.
 *
 *	  Any disagreement or sanitizer finding aborts.
 *
 * test/fuzz/fuzz_validate.c
 *
 *-------------------------------------------------------------------------
 */
#include "al_core.h"
#include "order.h"

#include "fuzz_ref.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
disagree(const char *what, const uint8_t *data, size_t size)
{
	fprintf(stderr, "fuzz_validate: %s\n  input (%zu bytes):", what, size);
	for (size_t i = 0; i < size && i < 600; i++)
		fprintf(stderr, " %02x", data[i]);
	fprintf(stderr, "%s\n", size > 600 ? " ..." : "");
	abort();
}

static void *
heap_alloc(void *ctx, size_t size)
{
	/* a tiny arena: every block is listed in ctx and freed at the end */
	void	  **list = ctx;
	void	  **block = malloc(sizeof(void *) + (size ? size : 1));

	if (block == NULL)
		abort();
	block[0] = *list;
	*list = block;
	return block + 1;
}

static void
heap_free(void **list)
{
	while (*list)
	{
		void	  **block = *list;

		*list = block[0];
		free(block);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ref_ident	r = ref_check_identifier(data, size);
	al_ident_problem p = al_check_identifier((const char *) data, size);
	const char *why;
	char	   *cstr;
	size_t		clen;

	/* identifiers: the raw bytes, as a text datum can hold them */
	why = ref_ident_disagreement(&r, (int) p,
								 p == AL_IDENT_OK ?
								 al_utf8_length((const char *) data, size) : 0);
	if (why)
		disagree(why, data, size);
	if (al_check_identifier((const char *) data, size) != p)
		disagree("al_check_identifier answers twice differently", data, size);

	/* the C-string checks see the bytes up to the first NUL */
	{
		const uint8_t *nul = memchr(data, 0, size);

		clen = nul ? (size_t) (nul - data) : size;
	}
	cstr = malloc(clen + 1);
	if (cstr == NULL)
		abort();
	memcpy(cstr, data, clen);
	cstr[clen] = '\0';

	if (al_order_id_valid(cstr) != ref_order_id_valid(cstr))
		disagree(al_order_id_valid(cstr) ?
				 "al_order_id_valid accepts what the reference refuses" :
				 "al_order_id_valid refuses what the reference accepts",
				 data, size);

	if (al_email_valid(cstr) != ref_email_valid(cstr))
		disagree(al_email_valid(cstr) ?
				 "al_email_valid accepts what the reference refuses" :
				 "al_email_valid refuses what the reference accepts",
				 data, size);
	if (al_email_valid(cstr))
	{
		void	   *blocks = NULL;
		al_allocator mem = {heap_alloc, &blocks};
		char	   *norm = al_email_normalise(&mem, cstr);
		char	   *again = al_email_normalise(&mem, norm);

		if (strlen(norm) != clen || !al_email_valid(norm))
			disagree("a normalised e-mail is no longer valid", data, size);
		if (strcmp(norm, again) != 0)
			disagree("al_email_normalise is not idempotent", data, size);
		for (size_t i = 0; i < clen; i++)
			if ((unsigned char) cstr[i] <= 0x20 ||
				(unsigned char) cstr[i] >= 0x7F ||
				(norm[i] >= 'A' && norm[i] <= 'Z'))
				disagree("a valid e-mail with a space, a control or a "
						 "non-ASCII byte, or upper case after normalising",
						 data, size);
		heap_free(&blocks);
	}

	{
		al_order_status st = AL_ORDER__COUNT;
		int			ref_st = -1;
		bool		core = al_order_status_from_name(cstr, &st);
		bool		ref = ref_status_from_name(cstr, &ref_st);

		if (core != ref || (core && (int) st != ref_st))
			disagree("al_order_status_from_name disagrees with the contract's "
					 "six statuses", data, size);
		if (core && strcmp(al_order_status_name(st), cstr) != 0)
			disagree("status names do not round-trip", data, size);
	}

	free(cstr);
	return 0;
}
