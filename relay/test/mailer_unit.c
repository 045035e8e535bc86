/*
 * relay/test/mailer_unit.c - TAP tests of allocation-mailer's message
 * building (relay/mailer/message.c): no control character reaches a
 * header, RFC 2047 subjects and quoted-printable bodies decode back to
 * the text, the date and the Message-ID.  Generated cases: every control
 * character at every position, and random UTF-8 texts.  No server.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

static int	test_count;
static int	test_failed;

static void
ok(int cond, const char *fmt, ...)
{
	va_list		ap;

	test_count++;
	if (!cond)
		test_failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", test_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
is_str(const char *got, const char *want, const char *what)
{
	int			same = got && want && strcmp(got, want) == 0;

	ok(same, "%s", what);
	if (!same)
		printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)", want ? want : "(null)");
}

static int
b64val(char c)
{
	const char *t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(t, c) : NULL;

	return p ? (int) (p - t) : -1;
}

/* Decode a folded run of =?UTF-8?B?...?= words (or return a copy). */
static char *
decode_subject(const char *s)
{
	char	   *out = calloc(1, strlen(s) + 1);
	size_t		j = 0;

	if (strncmp(s, "=?UTF-8?B?", 10) != 0)
	{
		strcpy(out, s);
		return out;
	}
	while (*s)
	{
		const char *end;
		unsigned	v = 0;
		int			bits = 0;

		if (strncmp(s, "\r\n ", 3) == 0)
			s += 3;
		if (strncmp(s, "=?UTF-8?B?", 10) != 0)
			break;
		s += 10;
		end = strstr(s, "?=");
		for (; s < end; s++)
		{
			if (*s == '=')
				continue;
			v = (v << 6) | (unsigned) b64val(*s);
			bits += 6;
			if (bits >= 8)
			{
				bits -= 8;
				out[j++] = (char) ((v >> bits) & 0xFF);
			}
		}
		s = end + 2;
	}
	out[j] = '\0';
	return out;
}

/* Decode quoted-printable (soft breaks, =XX). */
static char *
decode_qp(const char *s)
{
	char	   *out = calloc(1, strlen(s) + 1);
	size_t		j = 0;

	while (*s)
	{
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n')
			s += 3;
		else if (s[0] == '=')
		{
			unsigned	v;

			sscanf(s + 1, "%2X", &v);
			out[j++] = (char) v;
			s += 3;
		}
		else
			out[j++] = *s++;
	}
	out[j] = '\0';
	return out;
}

/* Every line of s (CRLF separated) is at most max characters, ASCII only. */
static int
lines_ok(const char *s, size_t max)
{
	size_t		col = 0;

	for (; *s; s++)
	{
		if ((unsigned char) *s >= 0x80)
			return 0;
		if (s[0] == '\r' && s[1] == '\n')
		{
			col = 0;
			s++;
			continue;
		}
		if (*s == '\r' || *s == '\n')
			return 0;
		if (++col > max)
			return 0;
	}
	return 1;
}

static unsigned long rng = 12345;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return (unsigned) ((rng >> 33) % n);
}

/* A random UTF-8 text of up to n characters (no NUL; controls if asked). */
static void
random_text(char *buf, size_t n, int controls)
{
	static const char *const pieces[] = {
		"a", "Z", " ", "=", "?", "=?", "é", "ü", "€", "漢", "😀", ".", "\t", "-", "_"
	};
	size_t		j = 0;
	size_t		count = rnd((unsigned) n);

	for (size_t i = 0; i < count; i++)
	{
		const char *p = pieces[rnd(sizeof pieces / sizeof pieces[0])];

		if (controls && rnd(8) == 0)
			p = rnd(2) ? "\n" : "\r\n";
		if (!controls && strcmp(p, "\t") == 0)
			continue;
		memcpy(buf + j, p, strlen(p));
		j += strlen(p);
	}
	buf[j] = '\0';
}

static void
test_addresses(void)
{
	const char *why;
	char		buf[64];
	int			refused = 0,
				cases = 0;

	ok(mail_address_valid("ann@example.com", &why), "plain address accepted");
	ok(mail_address_valid("o'brien+tag@sub.example.co.uk", &why), "atext specials accepted");
	ok(!mail_address_valid("", &why), "empty refused");
	ok(!mail_address_valid("ann", &why), "no @ refused");
	ok(!mail_address_valid("@example.com", &why) && !mail_address_valid("ann@", &why),
	   "empty local part or domain refused");
	ok(!mail_address_valid("a@b@c", &why), "two @ refused");
	ok(!mail_address_valid("Ann <ann@example.com>", &why), "display name refused");
	ok(!mail_address_valid("ann@example.com, bob@example.com", &why), "a list refused");
	ok(!mail_address_valid("ánn@example.com", &why), "non-ASCII refused");
	/* every control character at every position of an address */
	for (int c = 0; c < 0x80; c++)
	{
		const char *base = "ann@example.com";

		if (c != 0 && c >= 0x20 && c != 0x7F)
			continue;
		for (size_t pos = 0; pos <= strlen(base); pos++)
		{
			if (c == 0)
				continue;		/* a C string cannot hold it: nothing to test */
			snprintf(buf, sizeof buf, "%.*s%c%s", (int) pos, base, c, base + pos);
			cases++;
			refused += !mail_address_valid(buf, &why);
		}
	}
	ok(cases > 0 && refused == cases, "every control character anywhere in an address is refused (%d/%d)",
	   refused, cases);
}

static void
test_subjects(void)
{
	const char *why;
	char		buf[128];
	int			refused = 0,
				cases = 0;

	ok(mail_subject_valid("Out of stock for RED-CHAIR", &why), "ASCII subject accepted");
	ok(mail_subject_valid("Commande 42 expédiée €", &why), "UTF-8 subject accepted");
	ok(!mail_subject_valid("a\r\nBcc: x@evil.com", &why), "CRLF refused");
	ok(!mail_subject_valid("a\xc2\x85" "b", &why), "C1 NEL refused");
	ok(!mail_subject_valid("a\xff", &why), "invalid UTF-8 refused");
	ok(!mail_subject_valid("\xc0\xaf", &why), "overlong UTF-8 refused");
	for (int c = 1; c < 0x20 || c == 0x7F; c = (c == 0x1F ? 0x7F : c + 1))
	{
		const char *base = "Order A-1 is now shipped";

		for (size_t pos = 0; pos <= strlen(base); pos++)
		{
			snprintf(buf, sizeof buf, "%.*s%c%s", (int) pos, base, c, base + pos);
			cases++;
			refused += !mail_subject_valid(buf, &why);
		}
		if (c == 0x7F)
			break;
	}
	ok(refused == cases, "every control character anywhere in a subject is refused (%d/%d)",
	   refused, cases);
}

static void
test_encoding(void)
{
	char	   *s;
	char		text[1024];
	int			good = 0;
	int			n = 500;

	s = mail_encode_subject("Out of stock for RED-CHAIR");
	is_str(s, "Out of stock for RED-CHAIR", "ASCII subject as it is");
	free(s);
	s = mail_encode_subject("caf\xc3\xa9");
	is_str(s, "=?UTF-8?B?Y2Fmw6k=?=", "UTF-8 subject as an encoded-word");
	free(s);
	s = mail_encode_subject("a =?x?= b");
	ok(strncmp(s, "=?UTF-8?B?", 10) == 0, "ASCII subject with =? is encoded");
	free(s);

	/* random subjects: decode(encode(x)) == x, words <= 75, ASCII only */
	for (int i = 0; i < n; i++)
	{
		char	   *enc,
				   *dec;
		const char *why;

		random_text(text, 120, 0);
		if (!mail_subject_valid(text, &why))
			continue;
		enc = mail_encode_subject(text);
		dec = decode_subject(enc);
		if (strcmp(dec, text) == 0 && lines_ok(enc, 900) &&
			(strncmp(enc, "=?", 2) != 0 || lines_ok(enc, 76)))
			good++;
		else
			printf("# subject %d: \"%s\" -> \"%s\"\n", i, text, enc);
		free(enc);
		free(dec);
	}
	ok(good == n, "random subjects round-trip through RFC 2047 (%d/%d)", good, n);

	s = mail_encode_body("a=b\nline two \n.\n");
	is_str(s, "a=3Db\r\nline two=20\r\n.\r\n", "body: =, trailing space, CRLF");
	free(s);

	good = 0;
	for (int i = 0; i < n; i++)
	{
		char	   *enc,
				   *dec;
		char		want[1024];
		size_t		j = 0;

		random_text(text, 300, 1);
		/* the expected text: every line end CRLF */
		for (size_t k = 0; text[k]; k++)
		{
			if (text[k] == '\r' && text[k + 1] == '\n')
				continue;
			if (text[k] == '\n' || text[k] == '\r')
			{
				want[j++] = '\r';
				want[j++] = '\n';
			}
			else
				want[j++] = text[k];
		}
		want[j] = '\0';
		enc = mail_encode_body(text);
		dec = decode_qp(enc);
		if (strcmp(dec, want) == 0 && lines_ok(enc, 76))
			good++;
		else
			printf("# body %d: got \"%s\"\n", i, enc);
		free(enc);
		free(dec);
	}
	ok(good == n, "random bodies round-trip through quoted-printable, lines <= 76 (%d/%d)", good, n);
}

static void
test_headers(void)
{
	char		buf[256];
	char	   *msg;
	char		err[256];
	mail_input	in = {42, "0123456789abcdef0123456789abcdef", "shop@example.com",
		"ann@example.com", "Order A-1 is now shipped", "Hello.\n", 0};

	mail_format_date(0, buf, sizeof buf);
	is_str(buf, "Thu, 01 Jan 1970 00:00:00 +0000", "RFC 5322 date");
	mail_format_date(1751371200, buf, sizeof buf);
	is_str(buf, "Tue, 01 Jul 2025 12:00:00 +0000", "RFC 5322 date (2025)");

	ok(mail_message_id(42, in.token, in.from, buf, sizeof buf) == 0, "Message-ID built");
	is_str(buf, "<allocation.notification.42.0123456789abcdef0123456789abcdef@example.com>",
		   "Message-ID from id, token and the sender's domain");
	ok(mail_message_id(42, "nothex", in.from, buf, sizeof buf) == -1, "bad token refused");
	ok(mail_message_id(0, in.token, in.from, buf, sizeof buf) == -1, "bad id refused");

	ok(mail_build(&in, &msg, err, sizeof err) == 0, "message built");
	is_str(msg,
		   "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"
		   "From: shop@example.com\r\n"
		   "To: ann@example.com\r\n"
		   "Subject: Order A-1 is now shipped\r\n"
		   "Message-ID: <allocation.notification.42.0123456789abcdef0123456789abcdef@example.com>\r\n"
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=UTF-8\r\n"
		   "Content-Transfer-Encoding: quoted-printable\r\n"
		   "\r\n"
		   "Hello.\r\n", "the whole message");
	free(msg);

	in.to = "ann@example.com\r\nBcc: eve@example.com";
	ok(mail_build(&in, &msg, err, sizeof err) == -1 && msg == NULL, "CRLF recipient refused: %s", err);
	in.to = "ann@example.com";
	in.subject = "hi\nBcc: eve@example.com";
	ok(mail_build(&in, &msg, err, sizeof err) == -1 && msg == NULL, "LF subject refused: %s", err);
}

int
main(void)
{
	test_addresses();
	test_subjects();
	test_encoding();
	test_headers();
	printf("1..%d\n", test_count);
	return test_failed ? 1 : 0;
}
