/*
 * message.c - the e-mail of one notification (see message.h).
 *
 * Notes:
 *	1) Every header value comes from a check here: the recipient and the
 *	   sender must be plain addresses, the subject one line without control
 *	   characters.  The extension refuses such values when a notification is
 *	   written; this second check covers rows written around it, so a CR or
 *	   LF can never start a header of its own.
 *	2) The body goes out quoted-printable: any byte is safe there, lines
 *	   stay short, and a line of one "." is stuffed by libcurl.
 */
#define _GNU_SOURCE
#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; on out of memory the program stops (a small daemon). */
typedef struct
{
	char	   *data;
	size_t		len;
	size_t		cap;
} sbuf;

static void
sb_reserve(sbuf *b, size_t more)
{
	if (b->len + more + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (b->len + more + 1 > cap)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
		{
			fputs("allocation-mailer: out of memory\n", stderr);
			exit(1);
		}
		b->cap = cap;
	}
}

static void
sb_add(sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void
sb_str(sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_char(sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* Length of the UTF-8 sequence at s (valid or not: 0 when invalid). */
static size_t
utf8_seq(const unsigned char *s, size_t left, unsigned *cp)
{
	unsigned	c = s[0];
	size_t		n;
	unsigned	v;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, v = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, v = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, v = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

int
mail_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		i = 0;
	unsigned	cp;

	while (i < len)
	{
		size_t		n = utf8_seq(p + i, len - i, &cp);

		if (n == 0 || cp == 0)
			return 0;
		i += n;
	}
	return 1;
}

int
mail_address_valid(const char *addr, const char **why)
{
	const char *at = NULL;
	size_t		len = strlen(addr);

	*why = NULL;
	if (len == 0 || len > MAIL_ADDRESS_MAX)
	{
		*why = len == 0 ? "empty address" : "address too long";
		return 0;
	}
	for (const char *p = addr; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c < 0x20 || c == 0x7F)
		{
			*why = "control character in the address";
			return 0;
		}
		if (c == ' ' || c >= 0x80 || strchr("<>()[]\\,;:\"", c) != NULL)
		{
			*why = "space, non-ASCII or special character in the address";
			return 0;
		}
		if (c == '@')
		{
			if (at != NULL)
			{
				*why = "more than one @ in the address";
				return 0;
			}
			at = p;
		}
	}
	if (at == NULL || at == addr || at[1] == '\0')
	{
		*why = "not local@domain";
		return 0;
	}
	return 1;
}

int
mail_subject_valid(const char *subject, const char **why)
{
	const unsigned char *p = (const unsigned char *) subject;
	size_t		len = strlen(subject);
	size_t		i = 0;
	unsigned	cp;

	*why = NULL;
	while (i < len)
	{
		size_t		n = utf8_seq(p + i, len - i, &cp);

		if (n == 0)
		{
			*why = "subject is not valid UTF-8";
			return 0;
		}
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
		{
			*why = "control character in the subject";
			return 0;
		}
		i += n;
	}
	return 1;
}

static const char b64[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void
sb_base64(sbuf *b, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i += 3)
	{
		unsigned	v = (unsigned) s[i] << 16;
		size_t		k = n - i;

		if (k > 1)
			v |= (unsigned) s[i + 1] << 8;
		if (k > 2)
			v |= s[i + 2];
		sb_char(b, b64[(v >> 18) & 63]);
		sb_char(b, b64[(v >> 12) & 63]);
		sb_char(b, k > 1 ? b64[(v >> 6) & 63] : '=');
		sb_char(b, k > 2 ? b64[v & 63] : '=');
	}
}

/*
 * Input bytes per encoded-word: 45 bytes are 60 base64 characters, plus
 * "=?UTF-8?B?" and "?=" 72, under RFC 2047's 75.
 */
#define WORD_BYTES 45

char *
mail_encode_subject(const char *subject)
{
	sbuf		b = {0};
	const unsigned char *p = (const unsigned char *) subject;
	size_t		len = strlen(subject);
	int			plain = strstr(subject, "=?") == NULL && len <= 900;
	size_t		i = 0;

	for (size_t k = 0; plain && k < len; k++)
		if (p[k] < 0x20 || p[k] > 0x7E)
			plain = 0;
	if (plain)
	{
		sb_str(&b, subject);
		return b.data ? b.data : strdup("");
	}
	while (i < len)
	{
		size_t		n = 0;
		unsigned	cp;

		/* whole characters only (a valid subject: checked before) */
		while (i + n < len)
		{
			size_t		s = utf8_seq(p + i + n, len - i - n, &cp);

			if (s == 0)
				s = 1;
			if (n + s > WORD_BYTES)
				break;
			n += s;
		}
		if (i > 0)
			sb_str(&b, "\r\n ");
		sb_str(&b, "=?UTF-8?B?");
		sb_base64(&b, p + i, n);
		sb_str(&b, "?=");
		i += n;
	}
	return b.data ? b.data : strdup("");
}

/* Add one encoded unit to a quoted-printable line, breaking softly. */
static void
qp_add(sbuf *b, size_t *col, const char *unit, size_t n)
{
	if (*col + n > 75)
	{
		sb_str(b, "=\r\n");
		*col = 0;
	}
	sb_add(b, unit, n);
	*col += n;
}

char *
mail_encode_body(const char *body)
{
	sbuf		b = {0};
	size_t		col = 0;
	const unsigned char *p = (const unsigned char *) body;

	for (size_t i = 0; p[i]; i++)
	{
		unsigned char c = p[i];
		char		unit[4];
		int			eol;

		if (c == '\r' || c == '\n')
		{
			/* CRLF, LF and a lone CR all end a line */
			if (c == '\r' && p[i + 1] == '\n')
				i++;
			sb_str(&b, "\r\n");
			col = 0;
			continue;
		}
		eol = p[i + 1] == '\0' || p[i + 1] == '\r' || p[i + 1] == '\n';
		if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol))
		{
			unit[0] = (char) c;
			qp_add(&b, &col, unit, 1);
		}
		else
		{
			snprintf(unit, sizeof unit, "=%02X", c);
			qp_add(&b, &col, unit, 3);
		}
	}
	return b.data ? b.data : strdup("");
}

void
mail_format_date(time_t t, char *buf, size_t buflen)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm	tm;

	gmtime_r(&t, &tm);
	snprintf(buf, buflen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
			 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int
mail_message_id(long long id, const char *token, const char *from,
				char *buf, size_t buflen)
{
	const char *at = strrchr(from, '@');
	size_t		n = strlen(token);
	int			len;

	if (n != 32 || strspn(token, "0123456789abcdef") != 32 || id <= 0 ||
		at == NULL || at[1] == '\0')
		return -1;
	len = snprintf(buf, buflen, "<allocation.notification.%lld.%s@%s>", id, token, at + 1);
	return len < 0 || (size_t) len >= buflen ? -1 : 0;
}

int
mail_build(const mail_input *in, char **out, char *err, size_t errlen)
{
	sbuf		b = {0};
	const char *why;
	char		date[64];
	char		msgid[512];
	char	   *subject;
	char	   *body;

	*out = NULL;
	if (!mail_address_valid(in->to, &why))
	{
		snprintf(err, errlen, "refused recipient: %s", why);
		return -1;
	}
	if (!mail_address_valid(in->from, &why))
	{
		snprintf(err, errlen, "refused sender: %s", why);
		return -1;
	}
	if (!mail_subject_valid(in->subject, &why))
	{
		snprintf(err, errlen, "refused subject: %s", why);
		return -1;
	}
	if (!mail_utf8_valid(in->body, strlen(in->body)))
	{
		snprintf(err, errlen, "refused body: not valid UTF-8");
		return -1;
	}
	if (mail_message_id(in->id, in->token, in->from, msgid, sizeof msgid) != 0)
	{
		snprintf(err, errlen, "no Message-ID: bad notification id or message token");
		return -1;
	}
	mail_format_date(in->date, date, sizeof date);
	subject = mail_encode_subject(in->subject);
	body = mail_encode_body(in->body);

	sb_str(&b, "Date: ");
	sb_str(&b, date);
	sb_str(&b, "\r\nFrom: ");
	sb_str(&b, in->from);
	sb_str(&b, "\r\nTo: ");
	sb_str(&b, in->to);
	sb_str(&b, "\r\nSubject: ");
	sb_str(&b, subject);
	sb_str(&b, "\r\nMessage-ID: ");
	sb_str(&b, msgid);
	sb_str(&b, "\r\nMIME-Version: 1.0"
		   "\r\nContent-Type: text/plain; charset=UTF-8"
		   "\r\nContent-Transfer-Encoding: quoted-printable"
		   "\r\n\r\n");
	sb_str(&b, body);
	if (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0)
		sb_str(&b, "\r\n");
	free(subject);
	free(body);
	*out = b.data;
	return 0;
}
