/*
 * text.c - strings, JSON literals, excerpts (see text.h).
 */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sb_init(strbuf *sb)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
}

void
sb_free(strbuf *sb)
{
	free(sb->data);
	sb_init(sb);
}

void
sb_reset(strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = '\0';
}

static void
sb_reserve(strbuf *sb, size_t extra)
{
	size_t		need = sb->len + extra + 1;
	size_t		cap;
	char	   *d;

	if (need <= sb->cap)
		return;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	d = realloc(sb->data, cap);
	if (d == NULL)
	{
		fputs("allocation-relay: out of memory\n", stderr);
		exit(1);
	}
	sb->data = d;
	sb->cap = cap;
}

void
sb_append(strbuf *sb, const char *s, size_t n)
{
	sb_reserve(sb, n);
	if (n > 0)
		memcpy(sb->data + sb->len, s, n);
	sb->len += n;
	sb->data[sb->len] = '\0';
}

void
sb_appends(strbuf *sb, const char *s)
{
	sb_append(sb, s, strlen(s));
}

void
sb_json_string(strbuf *sb, const char *s, size_t n)
{
	size_t		i;

	sb_append(sb, "\"", 1);
	for (i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];
		char		esc[8];

		switch (c)
		{
			case '"':
				sb_append(sb, "\\\"", 2);
				break;
			case '\\':
				sb_append(sb, "\\\\", 2);
				break;
			case '\n':
				sb_append(sb, "\\n", 2);
				break;
			case '\r':
				sb_append(sb, "\\r", 2);
				break;
			case '\t':
				sb_append(sb, "\\t", 2);
				break;
			default:
				if (c < 0x20)
				{
					snprintf(esc, sizeof esc, "\\u%04x", c);
					sb_append(sb, esc, 6);
				}
				else
					sb_append(sb, (const char *) &s[i], 1);
		}
	}
	sb_append(sb, "\"", 1);
}

int
json_nests_deeper(const char *s, size_t n, int max)
{
	int			depth = 0;
	int			in_string = 0;

	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;			/* the escaped character, whatever it is */
			else if (c == '"')
				in_string = 0;
		}
		else if (c == '"')
			in_string = 1;
		else if (c == '[' || c == '{')
		{
			if (++depth > max)
				return 1;
		}
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
	}
	return 0;
}

char *
text_excerpt(const char *s, size_t n, size_t max, char *buf, size_t buflen)
{
	size_t		i,
				j = 0;

	if (buflen == 0)
		return buf;
	for (i = 0; i < n && i < max; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7f)
		{
			if (j + 4 >= buflen)
				break;
			snprintf(buf + j, buflen - j, "\\x%02x", c);
			j += 4;
		}
		else
		{
			if (j + 1 >= buflen)
				break;
			buf[j++] = (char) c;
		}
	}
	if (i < n && j + 3 < buflen)
	{
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

int
text_is_integer(const char *s, size_t n)
{
	size_t		i = 0;

	if (n > 0 && s[0] == '-')
		i = 1;
	if (n == i || n - i > 18)
		return 0;
	if (s[i] == '0' && n - i > 1)
		return 0;				/* JSON has no leading zeros: "007" stays a string */
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

void
stream_fields_to_json(strbuf *out, const char *const *names,
					  const size_t *namelens,
					  const char *const *values,
					  const size_t *valuelens, size_t nfields)
{
	size_t		i;

	sb_reset(out);
	for (i = 0; i < nfields; i++)
		if (namelens[i] == 4 && memcmp(names[i], "data", 4) == 0)
		{
			sb_append(out, values[i], valuelens[i]);
			return;
		}
	sb_append(out, "{", 1);
	for (i = 0; i < nfields; i++)
	{
		if (i > 0)
			sb_append(out, ", ", 2);
		sb_json_string(out, names[i], namelens[i]);
		sb_append(out, ": ", 2);
		if (text_is_integer(values[i], valuelens[i]))
			sb_append(out, values[i], valuelens[i]);
		else
			sb_json_string(out, values[i], valuelens[i]);
	}
	sb_append(out, "}", 1);
}
