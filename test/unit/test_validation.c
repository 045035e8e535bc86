/*-------------------------------------------------------------------------
 *
 * test_validation.c
 *	  Identifiers and quantities (the contract: SQL interface): what the entry points
 *	  check before anything is looked up, and what the core refuses on its
 *	  own.
 *
 * test/unit/test_validation.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <stdlib.h>
#include <string.h>

/* n copies of the UTF-8 sequence unit, NUL-terminated; *len its bytes. */
static char *
repeat(const char *unit, int n, size_t *len)
{
	size_t		u = strlen(unit);
	char	   *s = malloc(u * (size_t) n + 1);

	if (s == NULL)
		abort();
	for (int i = 0; i < n; i++)
		memcpy(s + u * (size_t) i, unit, u);
	s[u * (size_t) n] = '\0';
	*len = u * (size_t) n;
	return s;
}

static al_ident_problem
check(const char *s)
{
	return al_check_identifier(s, strlen(s));
}

static void
empty_and_blank(fake_world *w)
{
	(void) w;
	is_int(al_check_identifier("", 0), AL_IDENT_EMPTY, "'' is empty");
	is_int(al_check_identifier("abc", 0), AL_IDENT_EMPTY,
		   "length 0 is empty whatever the bytes");
	is_int(check(" "), AL_IDENT_BLANK, "' ' is blank");
	is_int(check("     "), AL_IDENT_BLANK, "spaces are blank");
	is_int(check("\xc2\xa0"), AL_IDENT_BLANK, "a no-break space is blank");
	is_int(check(" \xc2\xa0 \xe3\x80\x80"), AL_IDENT_BLANK,
		   "spaces, NBSP and an ideographic space are blank");
	is_int(check("\xe2\x80\x83\xe2\x80\xaf"), AL_IDENT_BLANK,
		   "an em space and a narrow NBSP are blank");
	is_int(check(" a "), AL_IDENT_OK, "spaces around a letter are fine");
	is_int(check("a b"), AL_IDENT_OK, "a space inside is fine");
	is_int(check("\xc2\xa0x"), AL_IDENT_OK, "NBSP then a letter is fine");
}

static void
length_in_characters(fake_world *w)
{
	size_t		len;
	char	   *s;

	(void) w;
	s = repeat("a", 255, &len);
	is_int(al_check_identifier(s, len), AL_IDENT_OK, "255 ASCII chars: ok");
	free(s);
	s = repeat("a", 256, &len);
	is_int(al_check_identifier(s, len), AL_IDENT_TOO_LONG,
		   "256 ASCII chars: too long");
	free(s);
	s = repeat("\xc3\xa9", 255, &len);
	is_int(len, 510, "255 x U+00E9 is 510 bytes");
	is_int(al_check_identifier(s, len), AL_IDENT_OK,
		   "255 x U+00E9: ok (characters, not bytes)");
	is_int(al_utf8_length(s, len), 255, "al_utf8_length counts 255");
	free(s);
	s = repeat("\xc3\xa9", 256, &len);
	is_int(al_check_identifier(s, len), AL_IDENT_TOO_LONG,
		   "256 x U+00E9: too long");
	is_int(al_utf8_length(s, len), 256, "al_utf8_length counts 256");
	free(s);
	s = repeat("\xf0\x9f\xaa\x91", 255, &len);
	is_int(al_check_identifier(s, len), AL_IDENT_OK,
		   "255 four-byte characters (1020 bytes): ok");
	free(s);
	s = repeat(" ", 300, &len);
	is_int(al_check_identifier(s, len), AL_IDENT_BLANK,
		   "300 spaces are blank (the more useful message)");
	free(s);
}

static void
control_characters(fake_world *w)
{
	(void) w;
	is_int(check("a\tb"), AL_IDENT_CONTROL_CHAR, "a tab");
	is_int(check("a\nb"), AL_IDENT_CONTROL_CHAR, "a newline");
	is_int(check("a\rb"), AL_IDENT_CONTROL_CHAR, "a carriage return");
	is_int(check("\x01"), AL_IDENT_CONTROL_CHAR, "U+0001");
	is_int(check("\x1f"), AL_IDENT_CONTROL_CHAR, "U+001F");
	is_int(check("a\x7f"), AL_IDENT_CONTROL_CHAR, "DEL (0x7f)");
	is_int(check("a\xc2\x85"), AL_IDENT_CONTROL_CHAR, "NEL (U+0085, C1)");
	is_int(check("\xc2\x80x"), AL_IDENT_CONTROL_CHAR, "U+0080 (C1)");
	is_int(check("\xc2\x9f"), AL_IDENT_CONTROL_CHAR, "U+009F (C1)");
	is_int(al_check_identifier("a\0b", 3), AL_IDENT_CONTROL_CHAR,
		   "an embedded NUL");
	is_int(check(" \t "), AL_IDENT_CONTROL_CHAR,
		   "a tab among spaces is a control character, not blank");
	is_int(check("\x20\x7e"), AL_IDENT_OK, "' ~': the printable ASCII ends");
	is_int(check("\xc2\xa1"), AL_IDENT_OK, "U+00A1, just after C1: ok");
}

static void
invalid_utf8(fake_world *w)
{
	(void) w;
	is_int(check("\xff"), AL_IDENT_BAD_ENCODING, "0xff");
	is_int(check("\x80"), AL_IDENT_BAD_ENCODING, "a lone continuation byte");
	is_int(check("ab\xc3"), AL_IDENT_BAD_ENCODING, "a truncated 2-byte char");
	is_int(check("\xe2\x82"), AL_IDENT_BAD_ENCODING,
		   "a truncated 3-byte char");
	is_int(check("\xc3(x"), AL_IDENT_BAD_ENCODING, "a bad continuation byte");
	is_int(al_check_identifier("ab\xc3\xa9", 3), AL_IDENT_BAD_ENCODING,
		   "a char cut by len");
	is_int(check("\xc0\xaf"), AL_IDENT_BAD_ENCODING, "overlong '/' (C0 AF)");
	is_int(check("\xc1\x81"), AL_IDENT_BAD_ENCODING, "overlong 'A' (C1 81)");
	is_int(check("\xe0\x80\xaf"), AL_IDENT_BAD_ENCODING,
		   "overlong 3-byte '/'");
	is_int(check("\xf0\x80\x80\xaf"), AL_IDENT_BAD_ENCODING,
		   "overlong 4-byte '/'");
	is_int(check("\xed\xa0\x80"), AL_IDENT_BAD_ENCODING,
		   "a UTF-16 surrogate (U+D800)");
	is_int(check("\xf4\x90\x80\x80"), AL_IDENT_BAD_ENCODING,
		   "beyond U+10FFFF");
	is_int(check("\xf5\x80\x80\x80"), AL_IDENT_BAD_ENCODING, "lead byte 0xf5");
	is_int(check("\xf8\x88\x80\x80\x80"), AL_IDENT_BAD_ENCODING,
		   "a 5-byte sequence");
	is_int(check("\xef\xbf\xbf"), AL_IDENT_OK,
		   "U+FFFF is a valid (if odd) character");
	is_int(check("\xf4\x8f\xbf\xbf"), AL_IDENT_OK, "U+10FFFF is valid");
}

static void
unicode_text_is_fine(fake_world *w)
{
	(void) w;
	is_int(check("RED-CHAIR"), AL_IDENT_OK, "RED-CHAIR");
	is_int(check("order-1"), AL_IDENT_OK, "order-1");
	is_int(check("x"), AL_IDENT_OK, "one character");
	is_int(check("Sessel-gr\xc3\xbcn"), AL_IDENT_OK, "Latin-1 letters");
	is_int(check("\xe6\xa4\x85\xe5\xad\x90"), AL_IDENT_OK, "CJK");
	is_int(check("\xd0\xa1\xd1\x82\xd1\x83\xd0\xbb"), AL_IDENT_OK, "Cyrillic");
	is_int(check("\xf0\x9f\xaa\x91-1"), AL_IDENT_OK, "an emoji");
	is_int(check("a'b\"c;--"), AL_IDENT_OK, "quotes and SQL punctuation");
}

static void
quantities(fake_world *w)
{
	al_product	p;
	const char *ref = "unset";
	int32_t		existing = -7;

	ok(!al_line_qty_valid(0), "a line of 0 is refused");
	ok(!al_line_qty_valid(-1), "a negative line is refused");
	ok(!al_line_qty_valid(INT32_MIN), "INT32_MIN is refused");
	ok(al_line_qty_valid(1), "a line of 1 is fine");
	ok(al_line_qty_valid(INT32_MAX), "INT32_MAX is fine");
	ok(al_batch_qty_valid(0), "a batch of 0 is fine");
	ok(al_batch_qty_valid(INT32_MAX), "a batch of INT32_MAX is fine");
	ok(!al_batch_qty_valid(-1), "a negative batch is refused");

	/* the core refuses them too, recording nothing */
	al_product_init(&p, &w->call_mem, "SKU", 0, 0);
	is_int(al_product_add_batch(&p, "b1", -1, false, 0), AL_INVALID_ARGUMENT,
		   "add_batch(-1): invalid");
	is_int(p.nbatches + p.events.count, 0, "no batch, no event");
	ok(!p.changed, "and no change");
	al_product_add_batch(&p, "b1", 10, false, 0);
	al_product_take_events(&p);
	p.changed = false;
	is_int(al_product_allocate(&p, "o1", 0, NULL, &ref, &existing),
		   AL_INVALID_ARGUMENT, "allocate(0): invalid");
	is_str(ref, NULL, "no batch comes back");
	is_int(al_product_allocate(&p, "o1", -3, NULL, &ref, &existing),
		   AL_INVALID_ARGUMENT, "allocate(-3): invalid");
	is_int(p.nlines + p.events.count + p.batches[0].allocated, 0,
		   "no line, no event, nothing allocated");
	is_int(al_product_change_batch_quantity(&p, "b1", -1),
		   AL_INVALID_ARGUMENT, "change_batch_quantity(-1): invalid");
	is_int(p.batches[0].purchased, 10, "the batch keeps its quantity");
	is_int(p.events.count, 0, "no event");
	ok(!p.changed, "no change");
}

/* How a message shows a value: quoted, escaped, cut after 64 characters. */
static void
shown_values(fake_world *w)
{
	static const struct
	{
		const char *in;
		const char *want;
	}			cases[] = {
		{"RED-CHAIR", "\"RED-CHAIR\""},
		{"a\"b\\c", "\"a\\\"b\\\\c\""},
		{"line\nLOG:  x\r\t", "\"line\\nLOG:  x\\r\\t\""},
		{"\x01\x1b[31m\x7f", "\"\\x01\\x1B[31m\\x7F\""},
		{"c1 \xc2\x85", "\"c1 \\u0085\""},
		{"bad \xff\xc3", "\"bad \\xFF\\xC3\""},
		{"\xc3\xa9\xf0\x9f\x98\x80", "\"\xc3\xa9\xf0\x9f\x98\x80\""},
		{"", "\"\""},
	};
	char		out[AL_SHOWN_SIZE];
	char		big[300];
	char		want[200];

	(void) w;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
	{
		al_show_value(cases[i].in, strlen(cases[i].in), out);
		is_str(out, cases[i].want, "shown value %zu", i);
	}
	/* 64 characters, then "..." after the quote, never inside a character */
	for (int k = 0; k < 100; k++)
		memcpy(big + 2 * k, "\xc3\xa9", 2);
	al_show_value(big, 200, out);
	want[0] = '"';
	memcpy(want + 1, big, 128);
	memcpy(want + 129, "\"...", 5);
	is_str(out, want, "a value of 100 two-byte characters: its first 64, then ...");
	/* the longest a shown value can be: 64 C1 controls, each \u00NN */
	for (int k = 0; k < 100; k++)
		memcpy(big + 2 * k, "\xc2\x85", 2);
	al_show_value(big, 200, out);
	is_int((int) strlen(out), 64 * 6 + 5, "64 C1 controls fit the buffer (%d bytes)", (int) strlen(out));
}

void
test_validation(void)
{
	fake_run("validation: empty and blank identifiers", empty_and_blank);
	fake_run("validation: identifier length in characters",
			 length_in_characters);
	fake_run("validation: control characters", control_characters);
	fake_run("validation: invalid UTF-8", invalid_utf8);
	fake_run("validation: Unicode text is fine", unicode_text_is_fine);
	fake_run("validation: quantities", quantities);
	fake_run("validation: shown values", shown_values);
}
