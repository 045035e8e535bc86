/*-------------------------------------------------------------------------
 *
 * tap.h
 *	  A tiny Test Anything Protocol emitter for the unit tests, so that
 *	  `prove` reads the unit tests and the pgTAP tests alike (our house rule for test output).
 *
 * Notes:
 *	1) The assertions are macros so that a failure names the file and line
 *	   of the assertion, as Test::More does.
 *	2) The plan may be given up front (tap_plan) or at the end
 *	   (done_testing); done_testing returns the process exit status:
 *	   0 when every assertion passed and the plan was kept, else the number
 *	   of failures (at most 254), as Test::More.
 *	3) Descriptions are printf formats.  got/expected strings are printed
 *	   escaped, so a value with a newline or a stray byte cannot break the
 *	   TAP stream.
 *
 * test/unit/tap.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef UNIT_TAP_H
#define UNIT_TAP_H

#include <stdbool.h>

#if defined(__GNUC__)
#define TAP_PRINTF(fmt_arg, first_arg) \
	__attribute__((format(printf, fmt_arg, first_arg)))
#else
#define TAP_PRINTF(fmt_arg, first_arg)
#endif

extern void tap_plan(int n);
extern bool tap_ok_at(const char *file, int line, bool cond,
					  const char *fmt,...) TAP_PRINTF(4, 5);
extern bool tap_is_int_at(const char *file, int line, long long got,
						  long long want, const char *fmt,...) TAP_PRINTF(5, 6);
extern bool tap_is_str_at(const char *file, int line, const char *got,
						  const char *want, const char *fmt,...) TAP_PRINTF(5, 6);
/* A "# ..." line on stderr (diagnostics) or stdout (notes). */
extern void diag(const char *fmt,...) TAP_PRINTF(1, 2);
extern void note(const char *fmt,...) TAP_PRINTF(1, 2);
extern int	done_testing(void);
/* Number of assertions run / failed so far. */
extern int	tap_count(void);
extern int	tap_failures(void);

#define ok(cond, ...) \
	tap_ok_at(__FILE__, __LINE__, (cond) ? true : false, __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int_at(__FILE__, __LINE__, (long long) (got), (long long) (want), \
				  __VA_ARGS__)
/* NULL-safe: two NULLs are equal, NULL and a string are not. */
#define is_str(got, want, ...) \
	tap_is_str_at(__FILE__, __LINE__, (got), (want), __VA_ARGS__)

#endif							/* UNIT_TAP_H */
