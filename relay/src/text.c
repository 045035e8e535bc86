/*
 * text.c - strings, JSON literals, excerpts (see text.h).
 */
#include "text.h"

#include <ctype.h>
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

/*
 * The length of the valid UTF-8 sequence at s[0..n), or 0: a byte that
 * starts none, a missing continuation, an overlong form, a surrogate, or
 * past U+10FFFF.
 */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
	size_t		len,
				k;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (k = 1; k < len; k++)
	{
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		(len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * The code point of a valid UTF-8 sequence of len bytes at s.
 */
static unsigned int
utf8_code_point(const unsigned char *s, size_t len)
{
	unsigned int cp = len == 1 ? s[0] : len == 2 ? (s[0] & 0x1fu) : len == 3 ? (s[0] & 0x0fu) : (s[0] & 0x07u);

	for (size_t k = 1; k < len; k++)
		cp = (cp << 6) | (s[k] & 0x3fu);
	return cp;
}

/*
 * Characters that are valid UTF-8 but would rearrange or break what a
 * terminal shows of a log line: the C1 controls, the bidirectional marks,
 * embeddings, overrides and isolates (a U+202E in a message id would show
 * the rest of the line reversed), the line and paragraph separators.
 */
static int
hidden_in_log(unsigned int cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
		(cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
		cp == 0x061c;
}

char *
text_excerpt(const char *s, size_t n, size_t max, char *buf, size_t buflen)
{
	size_t		i = 0,
				j = 0;

	if (buflen == 0)
		return buf;
	while (i < n && i < max)
	{
		const unsigned char *c = (const unsigned char *) s + i;
		size_t		len = utf8_sequence(c, n - i);

		/* control bytes and bytes that are not UTF-8: \xNN, the log stays UTF-8 */
		if (len == 0 || *c < 0x20 || *c == 0x7f)
		{
			if (j + 4 >= buflen)
				break;
			snprintf(buf + j, buflen - j, "\\x%02x", *c);
			j += 4;
			i++;
		}
		else if (len > 1 && hidden_in_log(utf8_code_point(c, len)))
		{
			/* \uXXXX: shown, not obeyed */
			if (j + 6 >= buflen || i + len > max)
				break;
			snprintf(buf + j, buflen - j, "\\u%04x", utf8_code_point(c, len));
			j += 6;
			i += len;
		}
		else
		{
			/* a character is copied whole, or not at all */
			if (j + len >= buflen || i + len > max)
				break;
			memcpy(buf + j, c, len);
			j += len;
			i += len;
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

static int
key_starts_at(const char *s, size_t i)
{
	/* libpq separates key/value pairs by isspace() */
	return i == 0 || isspace((unsigned char) s[i - 1]) ||
		s[i - 1] == '?' || s[i - 1] == '&' || s[i - 1] == '=';
}

/*
 * Is s[i..) the key "password" (or the end of "sslpassword") of a
 * conninfo, not the tail of another word?
 */
static int
password_key_at(const char *s, size_t i)
{
	if (strncmp(s + i, "password", 8) != 0)
		return 0;
	return key_starts_at(s, i) ||
		(i >= 3 && strncmp(s + i - 3, "ssl", 3) == 0 && key_starts_at(s, i - 3));
}

int
text_mask_redis_password(char *s)
{
	int			masked = 0;
	char	   *p;

	for (p = strstr(s, "redis://"); p != NULL; p = strstr(p, "redis://"))
	{
		char	   *start = p + 8;
		size_t		auth = strcspn(start, "/");
		char	   *at = memchr(start, '@', auth);
		char	   *colon = at ? memchr(start, ':', (size_t) (at - start)) : NULL;

		if (colon != NULL && colon + 1 < at)
		{
			memset(colon + 1, '*', (size_t) (at - colon - 1));
			masked++;
		}
		p = start;
	}
	for (p = strstr(s, "unix:"); p != NULL; p = strstr(p + 1, "unix:"))
	{
		char	   *q = strchr(p, '?');

		while (q != NULL)
		{
			q++;
			if (strncmp(q, "password=", 9) == 0)
			{
				size_t		len = strcspn(q + 9, "&");

				memset(q + 9, '*', len);
				masked += len > 0;
			}
			q = strchr(q, '&');
		}
	}
	return masked;
}

int
text_mask_dsn_password(char *s)
{
	size_t		i,
				n = strlen(s);
	int			masked = 0;

	for (i = 0; i < n; i++)
	{
		/* a URI: postgres[ql]://user:password@host... */
		if ((strncmp(s + i, "postgresql://", 13) == 0 || strncmp(s + i, "postgres://", 11) == 0))
		{
			size_t		start = i + (s[i + 8] == ':' ? 11 : 13);
			size_t		end = start,
						at = 0,
						colon = 0,
						k;

			/*
			 * libpq takes the user information up to the first '@' before
			 * the first '/': '?' and spaces may be in the password
			 */
			while (end < n && s[end] != '/')
				end++;
			for (k = start; k < end; k++)
				if (s[k] == '@')
					at = k;		/* the last '@': a password may hold one */
			for (k = start; at && k < at; k++)
				if (s[k] == ':')
				{
					colon = k;
					break;
				}
			if (colon)
			{
				for (k = colon + 1; k < at; k++)
					s[k] = '*';
				masked++;
			}
			/* on from the user information: ?password=... may follow */
			i = at ? at : start;
			continue;
		}
		if (password_key_at(s, i))
		{
			size_t		k = i + 8;
			size_t		key = i >= 3 && strncmp(s + i - 3, "ssl", 3) == 0 ? i - 3 : i;
			int			uri_param = key > 0 && (s[key - 1] == '?' || s[key - 1] == '&');

			while (!uri_param && k < n && isspace((unsigned char) s[k]))
				k++;
			if (k >= n || s[k] != '=')
				continue;
			k++;
			if (uri_param)
			{
				for (; k < n && s[k] != '&' && !isspace((unsigned char) s[k]); k++)
					s[k] = '*';
			}
			else
			{
				while (k < n && isspace((unsigned char) s[k]))
					k++;
				if (k < n && s[k] == '\'')
				{
					/* a quoted value: to the closing quote, \' and \\ escaped */
					for (k++; k < n && s[k] != '\''; k++)
					{
						if (s[k] == '\\' && k + 1 < n)
							s[k++] = '*';
						s[k] = '*';
					}
				}
				else
				{
					for (; k < n && !isspace((unsigned char) s[k]); k++)
					{
						if (s[k] == '\\' && k + 1 < n)
							s[k++] = '*';
						s[k] = '*';
					}
				}
			}
			masked++;
			i = k > i ? k - 1 : i;
		}
	}
	return masked;
}
