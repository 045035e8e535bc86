/*-------------------------------------------------------------------------
 *
 * tap.c
 *	  The TAP emitter of tap.h.
 *
 * test/unit/tap.c
 *
 *-------------------------------------------------------------------------
 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int	planned = -1;		/* -1: no plan yet, done_testing prints it */
static int	run;
static int	failed;

void
tap_plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static void
vcomment(FILE *out, const char *fmt, va_list ap)
{
	char		buf[1024];
	char	   *line;
	char	   *next;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* every line of a multi-line message gets its own "# " */
	for (line = buf; line != NULL; line = next)
	{
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		fprintf(out, "# %s\n", line);
	}
	fflush(out);
}

void
diag(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	va_start(ap, fmt);
	vcomment(stderr, fmt, ap);
	va_end(ap);
}

void
note(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vcomment(stdout, fmt, ap);
	va_end(ap);
}

/* Print "ok N - description" or "not ok ..."; returns cond. */
static bool
report(const char *file, int line, bool cond, const char *fmt, va_list ap)
{
	char		desc[512];

	vsnprintf(desc, sizeof(desc), fmt, ap);
	/* a newline or a '#' in a description would end or comment the line */
	for (char *c = desc; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '#')
			*c = ' ';
	run++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", run, desc);
	fflush(stdout);
	if (!cond)
		diag("  Failed test '%s'\n  at %s line %d.", desc, file, line);
	return cond;
}

bool
tap_ok_at(const char *file, int line, bool cond, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	report(file, line, cond, fmt, ap);
	va_end(ap);
	return cond;
}

bool
tap_is_int_at(const char *file, int line, long long got, long long want,
			  const char *fmt,...)
{
	va_list		ap;
	bool		cond = got == want;

	va_start(ap, fmt);
	report(file, line, cond, fmt, ap);
	va_end(ap);
	if (!cond)
		diag("         got: %lld\n    expected: %lld", got, want);
	return cond;
}

/* "'text'" with non-printable bytes as \xNN, or "NULL". */
static void
quote(char *out, size_t size, const char *s)
{
	size_t		n = 0;

	if (s == NULL)
	{
		snprintf(out, size, "NULL");
		return;
	}
	out[n++] = '\'';
	for (const unsigned char *c = (const unsigned char *) s;
		 *c && n + 8 < size; c++)
	{
		if (*c >= 0x20 && *c < 0x7f && *c != '\\')
			out[n++] = (char) *c;
		else
			n += (size_t) snprintf(out + n, size - n, "\\x%02x", *c);
	}
	out[n++] = '\'';
	out[n] = '\0';
}

bool
tap_is_str_at(const char *file, int line, const char *got, const char *want,
			  const char *fmt,...)
{
	va_list		ap;
	bool		cond;

	if (got == NULL || want == NULL)
		cond = got == want;
	else
		cond = strcmp(got, want) == 0;
	va_start(ap, fmt);
	report(file, line, cond, fmt, ap);
	va_end(ap);
	if (!cond)
	{
		char		g[600];
		char		w[600];

		quote(g, sizeof(g), got);
		quote(w, sizeof(w), want);
		diag("         got: %s\n    expected: %s", g, w);
	}
	return cond;
}

int
tap_count(void)
{
	return run;
}

int
tap_failures(void)
{
	return failed;
}

int
done_testing(void)
{
	if (planned < 0)
		printf("1..%d\n", run);
	else if (planned != run)
	{
		diag("Looks like you planned %d tests but ran %d.", planned, run);
		fflush(stdout);
		return 255;
	}
	fflush(stdout);
	if (failed)
		diag("Looks like you failed %d test%s of %d.", failed,
			 failed == 1 ? "" : "s", run);
	return failed > 254 ? 254 : failed;
}
