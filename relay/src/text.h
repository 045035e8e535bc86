/*
 * text.h - growable strings, JSON string literals, log excerpts and the
 * JSON message of a Redis stream entry.  Pure C, unit-tested.
 */
#ifndef RELAY_TEXT_H
#define RELAY_TEXT_H

#include <stddef.h>

typedef struct
{
	char	   *data;		/* always NUL-terminated once anything is added */
	size_t		len;
	size_t		cap;
} strbuf;

void		sb_init(strbuf *sb);
void		sb_free(strbuf *sb);
void		sb_reset(strbuf *sb);
void		sb_append(strbuf *sb, const char *s, size_t n);
void		sb_appends(strbuf *sb, const char *s);
/* s[0..n) as a JSON string literal, quotes included */
void		sb_json_string(strbuf *sb, const char *s, size_t n);

/*
 * A printable excerpt of s[0..n) for a log line: control bytes and bytes
 * that are not UTF-8 escaped (\xNN), and so are the characters that would
 * rearrange a terminal's line (C1 controls, bidirectional controls, line
 * and paragraph separators: \uXXXX); at most max bytes of s, "..." when
 * cut.  Returns buf.
 */
char	   *text_excerpt(const char *s, size_t n, size_t max, char *buf, size_t buflen);

/*
 * Does the JSON text s[0..n) nest arrays and objects deeper than max?
 * Brackets inside strings do not count; the text need not be valid JSON
 * (the server says what else is wrong with it).
 */
int			json_nests_deeper(const char *s, size_t n, int max);

/*
 * The JSON command message of a stream entry with nfields field/value
 * pairs.  A field "data" holds the whole JSON message (the same text as on
 * a pub/sub channel); otherwise the fields are the message: a value that is
 * a whole number (up to 18 digits) becomes a JSON number, the others
 * strings.  "batchref b1 qty 5" -> {"batchref": "b1", "qty": 5}.
 */
void		stream_fields_to_json(strbuf *out, const char *const *names,
								  const size_t *namelens,
								  const char *const *values,
								  const size_t *valuelens, size_t nfields);

/*
 * Overwrite with '*', in place, the passwords of a libpq connection
 * string anywhere in s: password=... in key/value form (quoted or not,
 * spaces around '=' allowed), the user:password@ of a postgres:// or
 * postgresql:// URI, and its ?password=... parameter.  For argv, as ps
 * and /proc/PID/cmdline show it.  Returns how many were masked.
 */
int			text_mask_dsn_password(char *s);

/*
 * The same for Redis URLs anywhere in s: the password of
 * redis://[user]:password@host (as written, %-escapes and all), and a
 * password=... parameter of a unix: URL.  Returns how many were masked.
 */
int			text_mask_redis_password(char *s);

/* Is s[0..n) an optional "-" and 1 to 18 digits? */
int			text_is_integer(const char *s, size_t n);

#endif
