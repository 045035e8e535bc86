/*-------------------------------------------------------------------------
 *
 * fuzz_ref.h
 *	  Reference implementations the fuzzers compare the core with.  They
 *	  are written from the contract's SQL interface and order tracking (and the comments of
 *	  al_core.h / order.h), independently of src/core: a different UTF-8
 *	  decoder (the byte-range table of the Unicode standard, table 3-7,
 *	  instead of bit arithmetic) and POSIX regular expressions for the
 *	  e-mail grammar.
 *
 * test/fuzz/fuzz_ref.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FUZZ_REF_H
#define FUZZ_REF_H

#include <stdbool.h>
#include <stddef.h>

/* Everything the reference knows about an identifier of len bytes. */
typedef struct ref_ident
{
	bool		empty;			/* len == 0 */
	bool		bad_encoding;	/* not well-formed UTF-8 */
	size_t		valid_prefix;	/* bytes of well-formed UTF-8 before the
								 * first ill-formed one (len if none) */
	bool		control_in_prefix;	/* a C0/C1 control or DEL in that prefix */
	bool		control_byte;	/* some byte < 0x20 or == 0x7F anywhere */
	bool		blank;			/* well-formed and only space characters */
	size_t		chars;			/* characters (well-formed strings only) */
	bool		valid;			/* an identifier the contract accepts */
} ref_ident;

extern ref_ident ref_check_identifier(const unsigned char *s, size_t len);

/* PREFIX-NUMBER: some '-' with a part before and after it, neither blank. */
extern bool ref_order_id_valid(const char *s);

/* local@domain.tld as order.h describes it (dot-atom, labels, TLD). */
extern bool ref_email_valid(const char *s);

/* The six statuses of the contract's order tracking, by name. */
extern bool ref_status_from_name(const char *s, int *status);

/*
 * Does the core's answer (an al_ident_problem) agree with the reference?
 * NULL when it does, else what is wrong.  The core may name any one problem
 * the string really has (the first it meets), but must accept exactly the
 * valid identifiers and call exactly the zero-length ones empty.
 */
extern const char *ref_ident_disagreement(const ref_ident *r, int problem,
										  size_t core_length);

/* Byte-wise comparison as unsigned chars (PostgreSQL's C collation). */
extern int	ref_bytecmp(const char *a, const char *b);

#endif							/* FUZZ_REF_H */
