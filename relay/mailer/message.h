/*
 * message.h - the e-mail of one notification, as allocation-mailer sends
 * it: checks that nothing from the database can inject a header, RFC 2047
 * subjects, a quoted-printable body, the RFC 5322 date and a deterministic
 * Message-ID.  Pure C, no I/O: relay/test/mailer_unit.c tests it.
 */
#ifndef MAILER_MESSAGE_H
#define MAILER_MESSAGE_H

#include <stddef.h>
#include <time.h>

/* Longest address we accept (RFC 5321's path limit less the brackets). */
#define MAIL_ADDRESS_MAX 254

/* What a notification row and the configuration give. */
typedef struct
{
	long long	id;				/* allocation.notifications.id */
	const char *token;			/* the database's message token (32 hex) */
	const char *from;			/* sender address */
	const char *to;				/* recipient */
	const char *subject;		/* UTF-8, one line */
	const char *body;			/* UTF-8, any line ends */
	time_t		date;
} mail_input;

/*
 * A plain address local@domain: printable ASCII without spaces, quotes,
 * brackets, commas, colons, semicolons or backslashes, one "@" with text on
 * both sides.  1 or 0; why says what is wrong.
 */
int			mail_address_valid(const char *addr, const char **why);
/* Valid UTF-8 without control characters (C0, DEL, C1): 1 or 0. */
int			mail_subject_valid(const char *subject, const char **why);
/* Valid UTF-8: 1 or 0. */
int			mail_utf8_valid(const char *s, size_t len);

/*
 * The Subject header's value: as it is when it is printable ASCII without
 * "=?", otherwise RFC 2047 encoded-words (UTF-8, base64) of at most 75
 * characters, folded with CRLF SP, never splitting a character.  malloc'ed.
 */
char	   *mail_encode_subject(const char *subject);

/*
 * The body in quoted-printable (RFC 2045): line ends become CRLF, lines
 * at most 76 characters, "=" and non-printable bytes escaped, spaces
 * at a line end escaped.  malloc'ed.
 */
char	   *mail_encode_body(const char *body);

/* "Tue, 01 Jul 2025 12:00:00 +0000" (RFC 5322, UTC, no locale). */
void		mail_format_date(time_t t, char *buf, size_t buflen);

/*
 * <allocation.notification.ID.TOKEN@DOMAIN>, DOMAIN the sender's: the same
 * for every copy of one notification, different in every database.
 * 0, or -1 when the token is not 32 hex digits or the buffer is too small.
 */
int			mail_message_id(long long id, const char *token, const char *from,
							char *buf, size_t buflen);

/*
 * The whole message (headers, blank line, body) with CRLF line ends, in
 * *out (malloc'ed).  0, or -1 with err saying which field is refused.
 */
int			mail_build(const mail_input *in, char **out, char *err, size_t errlen);

#endif
