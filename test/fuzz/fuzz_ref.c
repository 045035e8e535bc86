/*-------------------------------------------------------------------------
 *
 * fuzz_ref.c
 *	  Reference implementations of the identifier, order-id and e-mail
 *	  rules (see fuzz_ref.h).  Deliberately written another way than
 *	  src/core, so that the fuzzers compare two readings of the contract.
 *
 * test/fuzz/fuzz_ref.c
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz_ref.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Well-formed UTF-8 byte sequences, Unicode 15 table 3-7: the first byte's
 * range and the allowed range of each following byte.
 */
static const struct
{
	unsigned char lo, hi;		/* first byte */
	int			n;				/* bytes in all */
	unsigned char next[3][2];	/* ranges of bytes 2..n */
}			utf8_table[] = {
	{0x00, 0x7F, 1, {{0}}},
	{0xC2, 0xDF, 2, {{0x80, 0xBF}}},
	{0xE0, 0xE0, 3, {{0xA0, 0xBF}, {0x80, 0xBF}}},
	{0xE1, 0xEC, 3, {{0x80, 0xBF}, {0x80, 0xBF}}},
	{0xED, 0xED, 3, {{0x80, 0x9F}, {0x80, 0xBF}}},
	{0xEE, 0xEF, 3, {{0x80, 0xBF}, {0x80, 0xBF}}},
	{0xF0, 0xF0, 4, {{0x90, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}}},
	{0xF1, 0xF3, 4, {{0x80, 0xBF}, {0x80, 0xBF}, {0x80, 0xBF}}},
	{0xF4, 0xF4, 4, {{0x80, 0x8F}, {0x80, 0xBF}, {0x80, 0xBF}}},
};

/* Length of the well-formed character at s, its code point in *cp; 0: none. */
static int
ref_utf8_char(const unsigned char *s, size_t len, uint32_t *cp)
{
	for (size_t t = 0; t < sizeof(utf8_table) / sizeof(utf8_table[0]); t++)
	{
		int			n = utf8_table[t].n;
		uint32_t	c;

		if (s[0] < utf8_table[t].lo || s[0] > utf8_table[t].hi)
			continue;
		if ((size_t) n > len)
			return 0;
		/* the payload bits of the first byte: 7, 5, 4 or 3 */
		c = s[0] & (n == 1 ? 0x7F : n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
		for (int i = 1; i < n; i++)
		{
			if (s[i] < utf8_table[t].next[i - 1][0] ||
				s[i] > utf8_table[t].next[i - 1][1])
				return 0;
			c = c * 64 + (s[i] - 0x80);
		}
		*cp = c;
		return n;
	}
	return 0;
}

/* Unicode's C0 and C1 control characters (general category Cc). */
static bool
ref_is_control(uint32_t cp)
{
	return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F);
}

/*
 * Unicode's White_Space characters that are not controls, plus the two
 * invisible ones the core also counts as "looking empty": ZERO WIDTH SPACE
 * (U+200B) and ZERO WIDTH NO-BREAK SPACE (U+FEFF).
 */
static bool
ref_is_space(uint32_t cp)
{
	static const uint32_t spaces[] = {
		0x0020, 0x00A0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
		0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028, 0x2029,
		0x202F, 0x205F, 0x3000,
		0x200B, 0xFEFF,
	};

	for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++)
		if (spaces[i] == cp)
			return true;
	return false;
}

ref_ident
ref_check_identifier(const unsigned char *s, size_t len)
{
	ref_ident	r;
	size_t		pos = 0;
	bool		only_spaces = true;

	memset(&r, 0, sizeof(r));
	r.empty = (len == 0);
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7F)
			r.control_byte = true;
	while (pos < len)
	{
		uint32_t	cp = 0;
		int			n = ref_utf8_char(s + pos, len - pos, &cp);

		if (n == 0)
		{
			r.bad_encoding = true;
			break;
		}
		if (ref_is_control(cp))
			r.control_in_prefix = true;
		if (!ref_is_space(cp))
			only_spaces = false;
		r.chars++;
		pos += (size_t) n;
	}
	r.valid_prefix = pos;
	if (r.bad_encoding)
		r.chars = 0;
	r.blank = !r.empty && !r.bad_encoding && only_spaces;
	r.valid = !r.empty && !r.bad_encoding && !r.control_in_prefix &&
		!r.blank && r.chars <= 255;
	return r;
}

/* Is s[0..len) no part of an order id: empty, or blank as an identifier? */
static bool
ref_spaces_only(const char *s, size_t len)
{
	ref_ident	r = ref_check_identifier((const unsigned char *) s, len);

	return r.empty || r.blank;
}

bool
ref_order_id_valid(const char *s)
{
	size_t		n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if (s[i] == '-' && !ref_spaces_only(s, i) && !ref_spaces_only(s + i + 1, n - i - 1))
			return true;
	return false;
}

/*
 * RFC 5322 dot-atom local part (at most 64 bytes), an '@', then a domain of
 * at least two labels: letters, digits and inner hyphens, at most 63 bytes
 * each, the last one (the TLD) at least two letters or "xn--" (any case)
 * and more (an internationalised TLD in ASCII); at most 254 bytes in all.
 */
bool
ref_email_valid(const char *s)
{
	static regex_t re;
	static bool compiled;
	const char *at;
	const char *label;

	if (!compiled)
	{
		const char *pattern =
			"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
			"@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)+"
			"([A-Za-z][A-Za-z]+|[Xx][Nn]--[A-Za-z0-9-]*[A-Za-z0-9])$";

		if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		{
			fprintf(stderr, "fuzz_ref: bad e-mail pattern\n");
			abort();
		}
		compiled = true;
	}
	if (strlen(s) > 254)
		return false;
	if (regexec(&re, s, 0, NULL, 0) != 0)
		return false;
	at = strchr(s, '@');
	if (at - s > 64)
		return false;
	/* each label of the domain: at most 63 bytes */
	label = at + 1;
	for (;;)
	{
		const char *dot = strchr(label, '.');
		size_t		n = dot ? (size_t) (dot - label) : strlen(label);

		if (n > 63)
			return false;
		if (dot == NULL)
			break;
		label = dot + 1;
	}
	return true;
}

bool
ref_status_from_name(const char *s, int *status)
{
	/* the contract's order tracking, in the order of al_order_status */
	static const char *const names[] = {
		"created", "allocated", "backordered", "shipped", "delivered",
		"cancelled",
	};

	for (int i = 0; i < 6; i++)
		if (strcmp(names[i], s) == 0)
		{
			*status = i;
			return true;
		}
	return false;
}

int
ref_bytecmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *) a;
	const unsigned char *y = (const unsigned char *) b;

	while (*x && *x == *y)
	{
		x++;
		y++;
	}
	return (int) *x - (int) *y;
}

/*
 * The one place that knows the core's enum: al_core.h is included here
 * only to name its values, none of its functions is used above.
 */
#include "al_core.h"

const char *
ref_ident_disagreement(const ref_ident *r, int problem, size_t core_length)
{
	switch ((al_ident_problem) problem)
	{
		case AL_IDENT_OK:
			if (!r->valid)
				return "the core accepts an identifier the reference refuses";
			if (r->control_byte)
				return "the core accepts an identifier with a control byte";
			if (core_length != r->chars)
				return "al_utf8_length disagrees with the reference's count";
			return NULL;
		case AL_IDENT_EMPTY:
			return r->empty ? NULL : "the core calls a non-empty value empty";
		case AL_IDENT_BAD_ENCODING:
			if (r->valid)
				return "the core refuses a valid identifier as bad UTF-8";
			return r->bad_encoding ? NULL :
				"the core calls well-formed UTF-8 bad";
		case AL_IDENT_CONTROL_CHAR:
			if (r->valid)
				return "the core refuses a valid identifier for a control character";
			return r->control_in_prefix ? NULL :
				"the core finds a control character the reference does not";
		case AL_IDENT_BLANK:
			if (r->valid)
				return "the core refuses a valid identifier as blank";
			return r->blank ? NULL : "the core calls a non-blank value blank";
		case AL_IDENT_TOO_LONG:
			if (r->valid)
				return "the core refuses a valid identifier as too long";
			return (!r->bad_encoding && !r->control_in_prefix && !r->blank &&
					r->chars > AL_IDENTIFIER_MAX_CHARS) ? NULL :
				"the core calls a value too long that is not";
	}
	return "the core answers an unknown al_ident_problem";
}
