/*
 * smtp.c - SMTP through libcurl (see smtp.h).
 *
 * Notes:
 *	1) One easy handle for the life of the program: libcurl keeps the
 *	   connection open between messages and opens a new one when the
 *	   server closed it.
 *	2) Only smtp and smtps are allowed (CURLOPT_PROTOCOLS_STR), so a URL
 *	   from the configuration can make libcurl speak nothing else.
 *	3) Where the transaction stopped decides.  Before the message's own
 *	   commands (RCPT TO, DATA, the end of the message), nothing of the
 *	   message was involved: a connection that fails or a server that
 *	   stays silent is SMTP_UNREACHABLE, and a 4xx or 5xx to the greeting,
 *	   EHLO/HELO, STARTTLS, AUTH or MAIL FROM (421 "busy", 554 "no
 *	   service", 530 "authentication required", a refused login 535) is
 *	   SMTP_REFUSED: the server's or the mailer's configuration, the same
 *	   for every message.  The caller counts no attempt for either (the
 *	   server is away).  During the message's own commands, a 5xx is
 *	   permanent, except one with the enhanced status 5.7.x (security or
 *	   policy: "relay access denied" at RCPT TO when the credentials are
 *	   missing), which is retried until the attempts run out, where a
 *	   5.1.x (no such mailbox) kills the message at once; a 4xx (a 421
 *	   too), a lost connection or a timeout is a temporary failure of
 *	   that message, counted: a message that makes a server drop the
 *	   connection each time ends dead rather than being tried for ever.
 *	   Which command a reply answers is followed by libcurl's debug
 *	   callback (the commands it sends), so CURLOPT_VERBOSE is always on;
 *	   what it would print goes to stderr only with --verbose --verbose.
 *	4) Dot-stuffing (a line that starts with ".") is done by libcurl.
 *	5) A transaction that failed leaves no connection behind: libcurl
 *	   (7.88) keeps one whose server did not answer the end of the message
 *	   within the timeout, and would then read that late answer as the
 *	   next message's, and wait for the answer to its QUIT (two minutes,
 *	   whatever the timeout) when the mailer stops.  Its socket is shut
 *	   down, so that libcurl finds it dead and drops it without a word.
 *	6) The stop signals are blocked while libcurl runs (mailer.c, note 6);
 *	   its progress callback, called at least once a second even while
 *	   the server is silent, asks settings.stop and abandons the
 *	   transaction stop_grace seconds after a stop.
 *	7) A deadline (the caller's: the end of a claim) shortens the timeout
 *	   of that one transaction; one that times out because of it during
 *	   the message's own commands is SMTP_EXPIRED, told apart from a
 *	   server slower than --timeout; before them, the server is away
 *	   (SMTP_UNREACHABLE, note 3), whichever clock ran out.
 *	8) Servers may end a connection after some messages, with a 421 to the
 *	   next MAIL FROM, or close it while it is idle.  A failure before the
 *	   message's own commands on a connection kept from an earlier message
 *	   is therefore tried once more at once on a new connection, within
 *	   the same timeout: nothing of the message was sent yet, so it cannot
 *	   go twice, and only a failure on a new connection says the server
 *	   is away.
 */
#define _GNU_SOURCE
#include "smtp.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct smtp_client
{
	CURL	   *curl;
	smtp_settings s;
	int			kept;			/* the last transaction left its connection open */
};

/* The message being uploaded. */
typedef struct
{
	const char *data;
	size_t		left;
} upload;

static size_t
read_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	upload	   *u = arg;
	size_t		n = size * nmemb;

	if (n > u->left)
		n = u->left;
	memcpy(buf, u->data, n);
	u->data += n;
	u->left -= n;
	return n;
}

/* The transaction in hand, for the progress callback (note 6). */
typedef struct
{
	const smtp_settings *s;
	double		stop_seen;		/* monotonic seconds; 0: no stop yet */
	int			stopped;		/* abandoned on the stop */
} progress;

static double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* libcurl's progress callback: nonzero abandons the transaction. */
static int
progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	progress   *p = arg;

	(void) dltotal;
	(void) dlnow;
	(void) ultotal;
	(void) ulnow;
	if (p->s->stop == NULL || !p->s->stop())
		return 0;
	if (p->stop_seen == 0)
		p->stop_seen = mono_seconds();
	if (mono_seconds() - p->stop_seen < p->s->stop_grace)
		return 0;
	p->stopped = 1;
	return 1;
}

/* The transaction's stage: which command the next reply answers (note 3). */
typedef struct
{
	int			message_stage;	/* RCPT TO or DATA sent: replies are the message's */
	int			print;			/* --verbose --verbose: print as libcurl would */
	char		reply[8];		/* the last 4xx/5xx reply's first 7 characters: "554 5.7" */
} stage;

static int
debug_cb(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
	stage	   *st = arg;

	(void) h;
	if (type == CURLINFO_HEADER_IN && size > 0 && (data[0] == '4' || data[0] == '5'))
		snprintf(st->reply, sizeof st->reply, "%.*s", (int) (size < 7 ? size : 7), data);
	if (type == CURLINFO_HEADER_OUT &&
		((size >= 4 && strncmp(data, "RCPT", 4) == 0) ||
		 (size >= 4 && strncmp(data, "DATA", 4) == 0)))
		st->message_stage = 1;
	else if (type == CURLINFO_HEADER_OUT && size >= 4 &&
			 strncmp(data, "MAIL", 4) == 0)
		st->message_stage = 0;
	if (st->print && (type == CURLINFO_TEXT || type == CURLINFO_HEADER_IN ||
					  type == CURLINFO_HEADER_OUT))
		fprintf(stderr, "%s%.*s", type == CURLINFO_TEXT ? "* " :
				type == CURLINFO_HEADER_IN ? "< " : "> ", (int) size, data);
	return 0;
}

/* Shut the connection of the last transaction down (note 5). */
static void
drop_connection(CURL *h)
{
	curl_socket_t fd = CURL_SOCKET_BAD;

	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK &&
		fd != CURL_SOCKET_BAD)
		shutdown(fd, SHUT_RDWR);
}

smtp_client *
smtp_open(const smtp_settings *s, char *err, size_t errlen)
{
	smtp_client *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
	{
		snprintf(err, errlen, "libcurl: cannot initialise");
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL || (c->curl = curl_easy_init()) == NULL)
	{
		free(c);
		snprintf(err, errlen, "libcurl: cannot create a handle");
		return NULL;
	}
	c->s = *s;
	return c;
}

void
smtp_close(smtp_client *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
	curl_global_cleanup();
}

/*
 * One SMTP transaction on the handle's connection, or on a new one when
 * fresh; its curl code, SMTP reply and stage come back through the
 * pointers, and *reused says whether it ran on a connection kept from an
 * earlier message.
 */
static CURLcode
transact(smtp_client *c, struct curl_slist *rcpts, const char *from,
		 const char *message, long timeout_ms, int fresh, progress *prog,
		 stage *st, char *curl_err, long *code, int *reused)
{
	CURL	   *h = c->curl;
	upload		u = {message, strlen(message)};
	CURLcode	rc;
	long		connects = 0;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, c->s.url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_USE_SSL,
					 c->s.tls == SMTP_TLS_STARTTLS ? (long) CURLUSESSL_ALL :
					 (long) CURLUSESSL_NONE);
	if (c->s.user)
	{
		curl_easy_setopt(h, CURLOPT_USERNAME, c->s.user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->s.password ? c->s.password : "");
	}
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &u);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, fresh ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, debug_cb);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, st);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, prog);

	rc = curl_easy_perform(h);
	*code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
	/* (no new connection also when connecting failed: that is not reuse) */
	*reused = c->kept && !fresh && connects == 0;
	c->kept = rc == CURLE_OK;
	/* the error buffer and prog must not outlive the caller's frame */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(h, CURLOPT_DEBUGDATA, NULL);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	if (rc != CURLE_OK)
		drop_connection(h);
	return rc;
}

smtp_result
smtp_send(smtp_client *c, const char *rcpt, const char *message,
		  double deadline, char *err, size_t errlen)
{
	struct curl_slist *rcpts = NULL;
	char		from[300];
	char		to[300];
	char		curl_err[CURL_ERROR_SIZE];
	progress	prog = {&c->s, 0, 0};
	stage		st;
	CURLcode	rc;
	long		code = 0;
	double		started = mono_seconds();
	double		end = started + (double) c->s.timeout;
	int			by_deadline = 0;
	int			reused = 0;
	long		timeout_ms = 0;

	snprintf(from, sizeof from, "<%s>", c->s.from);
	snprintf(to, sizeof to, "<%s>", rcpt);
	rcpts = curl_slist_append(NULL, to);
	if (deadline > 0 && deadline < end)
	{
		end = deadline;
		by_deadline = 1;
	}
	for (int attempt = 0; attempt < 2; attempt++)
	{
		double		left = (end - mono_seconds()) * 1000.0;

		/* (libcurl takes 0 for no timeout at all) */
		timeout_ms = left < 1.0 ? 1L : (long) left;
		curl_err[0] = '\0';
		memset(&st, 0, sizeof st);
		st.print = c->s.verbose > 1;
		rc = transact(c, rcpts, from, message, timeout_ms, attempt > 0,
					  &prog, &st, curl_err, &code, &reused);
		/*
		 * A kept connection that the server closes before the message (a
		 * 421 after its quota of messages a connection, or a socket found
		 * dead) says nothing about the server: once, on a new connection
		 * (note 8).
		 */
		if (rc == CURLE_OK || !reused || st.message_stage || prog.stopped ||
			rc == CURLE_OPERATION_TIMEDOUT)
			break;
	}
	curl_slist_free_all(rcpts);

	if (rc == CURLE_OK)
		return SMTP_SENT;
	if (prog.stopped)
	{
		snprintf(err, errlen, "abandoned %gs after the stop signal (SMTP %ld)",
				 c->s.stop_grace, code);
		/* before the message's own commands, nothing of it was sent */
		return st.message_stage ? SMTP_STOPPED : SMTP_STOPPED_UNSENT;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT && by_deadline)
	{
		/* before the message's own commands: a server that is away (note 3) */
		if (!st.message_stage)
		{
			snprintf(err, errlen, "no answer before the end of the claim, %.1fs into it (SMTP %ld); "
					 "a --lease longer than the server's answers is needed", end - started, code);
			return SMTP_UNREACHABLE;
		}
		snprintf(err, errlen, "given up unanswered at its deadline, %.1fs into it (SMTP %ld)",
				 end - started, code);
		return SMTP_EXPIRED;
	}
	snprintf(err, errlen, "%s%s%s (SMTP %ld)", curl_easy_strerror(rc),
			 curl_err[0] ? ": " : "", curl_err, code);
	if (!st.message_stage)
		return rc == CURLE_LOGIN_DENIED || (code >= 400 && code <= 599) ?
			SMTP_REFUSED : SMTP_UNREACHABLE;
	/* 5.7.x: the server's policy (relay access denied), not the mailbox */
	if (code >= 500 && code <= 599 && strncmp(st.reply + 3, " 5.7.", 4) == 0)
		return SMTP_TEMPORARY;
	if (code >= 500 && code <= 599)
		return SMTP_PERMANENT;
	/* a 4xx (421 too), a lost connection or a timeout during the message */
	return SMTP_TEMPORARY;
}
