/*-------------------------------------------------------------------------
 *
 * al_core.c
 *	  Allocation helpers and the validation of identifiers (the contract: SQL interface).
 *
 * src/core/al_core.c
 *
 *-------------------------------------------------------------------------
 */
#include "al_core.h"

#include <string.h>

const char *
al_status_name(al_status status)
{
	switch (status)
	{
		case AL_OK:
			return "ok";
		case AL_OUT_OF_STOCK:
			return "out of stock";
		case AL_NULL_ARGUMENT:
			return "null argument";
		case AL_INVALID_ARGUMENT:
			return "invalid argument";
		case AL_UNKNOWN_SKU:
			return "unknown sku";
		case AL_UNKNOWN_BATCH:
			return "unknown batch";
		case AL_QTY_MISMATCH:
			return "quantity mismatch";
		case AL_INVALID_TRANSITION:
			return "invalid status transition";
		case AL_DUPLICATE_BATCH:
			return "duplicate batch";
		case AL_CONCURRENT_UPDATE:
			return "concurrent update";
		case AL_NOT_ALLOWED:
			return "not allowed";
		case AL_UNKNOWN_ORDER:
			return "unknown order";
		case AL_DUPLICATE_ORDER:
			return "duplicate order";
	}
	return "unknown status";
}

void *
al_alloc(const al_allocator *mem, size_t size)
{
	return mem->alloc(mem->ctx, size);
}

char *
al_strdup(const al_allocator *mem, const char *s)
{
	size_t		len = strlen(s);
	char	   *copy = al_alloc(mem, len + 1);

	memcpy(copy, s, len + 1);
	return copy;
}

void
al_grow(const al_allocator *mem, void **array, size_t elem_size, int *cap,
		int need)
{
	int			newcap;
	void	   *grown;

	if (need <= *cap)
		return;
	newcap = *cap > 0 ? *cap * 2 : 8;
	while (newcap < need)
		newcap *= 2;
	grown = al_alloc(mem, elem_size * (size_t) newcap);
	if (*cap > 0)
		memcpy(grown, *array, elem_size * (size_t) *cap);
	/* the old array stays in the arena until the command ends */
	*array = grown;
	*cap = newcap;
}

/*
 * Decode one UTF-8 character at s (at most len bytes).  Returns its length
 * in bytes and the code point in *cp, or 0 when the bytes are not UTF-8.
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t		n;
	uint32_t	c;

	if (s[0] < 0x80)
	{
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0)
	{
		n = 2;
		c = s[0] & 0x1F;
	}
	else if ((s[0] & 0xF0) == 0xE0)
	{
		n = 3;
		c = s[0] & 0x0F;
	}
	else if ((s[0] & 0xF8) == 0xF0)
	{
		n = 4;
		c = s[0] & 0x07;
	}
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	/* shortest form only, no UTF-16 surrogates, nothing past U+10FFFF */
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
		(n == 4 && c < 0x10000) || (c >= 0xD800 && c <= 0xDFFF) ||
		c > 0x10FFFF)
		return 0;
	*cp = c;
	return n;
}

/* C0 and C1 control characters and DEL. */
static bool
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

/* Characters that make an identifier look empty. */
static bool
is_space(uint32_t cp)
{
	return cp == 0x20 || cp == 0xA0 || cp == 0x1680 ||
		(cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 ||
		cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

al_ident_problem
al_check_identifier(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		pos = 0;
	size_t		chars = 0;
	bool		blank = true;

	if (len == 0)
		return AL_IDENT_EMPTY;
	while (pos < len)
	{
		uint32_t	cp;
		size_t		n = utf8_decode(p + pos, len - pos, &cp);

		if (n == 0)
			return AL_IDENT_BAD_ENCODING;
		if (is_control(cp))
			return AL_IDENT_CONTROL_CHAR;
		if (!is_space(cp))
			blank = false;
		pos += n;
		chars++;
	}
	if (blank)
		return AL_IDENT_BLANK;
	if (chars > AL_IDENTIFIER_MAX_CHARS)
		return AL_IDENT_TOO_LONG;
	return AL_IDENT_OK;
}

size_t
al_utf8_length(const char *s, size_t len)
{
	size_t		chars = 0;

	for (size_t i = 0; i < len; i++)
		if ((((const unsigned char *) s)[i] & 0xC0) != 0x80)
			chars++;
	return chars;
}

/*
 * s (len bytes of UTF-8) as an error shows a caller's value: see
 * al_core.h.  For an invalid byte, \xNN; the escapes are ASCII.
 */
void
al_show_value(const char *s, size_t len, char out[AL_SHOWN_SIZE])
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;
	size_t		o = 0;
	int			chars = 0;

	out[o++] = '"';
	while (i < len && chars < AL_SHOWN_CHARS)
	{
		uint32_t	cp;
		size_t		n = utf8_decode(p + i, len - i, &cp);

		chars++;
		if (n == 0 || cp < 0x20 || cp == 0x7F)
		{
			unsigned char c = p[i];

			out[o++] = '\\';
			if (n != 0 && c == '\n')
				out[o++] = 'n';
			else if (n != 0 && c == '\r')
				out[o++] = 'r';
			else if (n != 0 && c == '\t')
				out[o++] = 't';
			else
			{
				out[o++] = 'x';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 0xF];
			}
			i++;
			continue;
		}
		if (cp == '\\' || cp == '"')
		{
			out[o++] = '\\';
			out[o++] = (char) cp;
		}
		else if (cp >= 0x80 && cp <= 0x9F)
		{
			memcpy(out + o, "\\u00", 4);
			o += 4;
			out[o++] = hex[cp >> 4];
			out[o++] = hex[cp & 0xF];
		}
		else
		{
			memcpy(out + o, p + i, n);
			o += n;
		}
		i += n;
	}
	out[o++] = '"';
	if (i < len)
	{
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}
