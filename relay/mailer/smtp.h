/*
 * smtp.h - one message to one recipient through libcurl (smtp and smtps
 * only), and what the answer means for the notification.
 */
#ifndef MAILER_SMTP_H
#define MAILER_SMTP_H

#include <stddef.h>

typedef enum
{
	SMTP_TLS_NONE,				/* plain SMTP (a local relay) */
	SMTP_TLS_STARTTLS,			/* STARTTLS required */
	SMTP_TLS_IMPLICIT			/* smtps:// */
} smtp_tls;

typedef struct
{
	const char *url;			/* smtp://host:port or smtps://host:port */
	smtp_tls	tls;
	const char *user;			/* NULL: no AUTH */
	const char *password;
	const char *from;
	long		timeout;		/* seconds for one message */
	int			verbose;
	/*
	 * NULL, or whether a stop was asked for: a message in hand then gets
	 * stop_grace seconds more, after which its transaction is abandoned
	 * (SMTP_STOPPED), however long timeout would have let it run.
	 */
	int			(*stop) (void);
	double		stop_grace;
} smtp_settings;

typedef enum
{
	SMTP_SENT,					/* accepted (2xx) */
	SMTP_TEMPORARY,				/* 4xx, or the connection lost, during the
								 * message's own commands: try later */
	SMTP_PERMANENT,				/* 5xx to the message's own commands: dead */
	SMTP_UNREACHABLE,			/* no SMTP answer before the message's own
								 * commands: connection failed */
	SMTP_REFUSED,				/* 4xx/5xx before the message (greeting,
								 * login, MAIL FROM): the server's or our
								 * setup's, not the message's */
	SMTP_STOPPED,				/* abandoned on a stop: maybe delivered, maybe not */
	SMTP_STOPPED_UNSENT,		/* abandoned on a stop before the message's
								 * own commands: not delivered */
	SMTP_EXPIRED				/* no answer to the message's own commands
								 * before the deadline: given up */
} smtp_result;

typedef struct smtp_client smtp_client;

/* NULL when libcurl cannot start (or lacks smtp). */
smtp_client *smtp_open(const smtp_settings *s, char *err, size_t errlen);
void		smtp_close(smtp_client *c);
/*
 * Send message (CRLF lines) to rcpt; err says why when not SMTP_SENT.
 * deadline: 0, or the CLOCK_MONOTONIC second by which the transaction
 * must have ended (sooner than the timeout): past it, SMTP_EXPIRED.
 */
smtp_result smtp_send(smtp_client *c, const char *rcpt, const char *message,
					  double deadline, char *err, size_t errlen);

#endif
