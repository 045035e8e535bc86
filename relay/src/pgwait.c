/*
 * pgwait.c - a libpq connect and query that a stop signal ends (a query
 * a timeout too), and the cancel request that tells the server (see
 * pgwait.h).  Shared by allocation-relay and allocation-mailer.
 *
 * Notes: libpq's own waits (PQconnectdbParams, PQexec, PQcancel) poll
 * again on EINTR, so a program that blocks SIGTERM outside its waits (to
 * handle it between two steps) would ignore it for as long as a frozen
 * backend keeps a query open, or a silent server a connect.  Here the
 * wait is a ppoll with the program's wait mask: the stop signals come
 * through, and a given-up query is cancelled on the server by a child
 * process under a timer.
 */
#define _GNU_SOURCE
#include "pgwait.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bounded.h"
#include "link.h"
#include "log.h"

/*
 * PG_STOP_GRACE_S (pgwait.h) is counted from the first wait that saw the
 * signal, not again from each query, or the steps of a connection's
 * set-up (each of which may wait) would stretch the stop by this much
 * apiece.
 */

static double stop_seen;		/* when a wait first saw the stop; 0: not yet */

/* pgwait.h */
void
pg_one_line(const char *msg, char *buf, size_t buflen)
{
	size_t		j = 0;
	const char *p;

	for (p = msg; *p && j + 1 < buflen; p++)
	{
		if (*p == '\n')
		{
			while (p[1] == ' ' || p[1] == '\t')
				p++;
			if (p[1] == '\0' || p[1] == '\n')
				continue;
			if (j + 2 >= buflen)
				break;
			buf[j++] = ';';
			buf[j++] = ' ';
		}
		else
			buf[j++] = *p == '\t' ? ' ' : *p;
	}
	buf[j] = '\0';
	while (j > 0 && (buf[j - 1] == ' ' || buf[j - 1] == ';'))
		buf[--j] = '\0';
}

/*
 * The children that send cancel requests (cancel_query).  Each one gets
 * at most the --pg-timeout of the query it cancels, and never more than
 * PG_CANCEL_MAX_S (the connect_timeout the relay gives its connections:
 * a server that does not answer a connection within it is taken for
 * unreachable).  A cancel request is one connection and 16 bytes, so a
 * server that answers queries at all answers it well within that.  As
 * the next query is given up at the earliest --pg-timeout after this
 * one, the previous child has ended by then: however often queries are
 * given up, about one child runs at a time instead of one more per
 * give-up for as long as the server stays silent.
 */
#define PG_CANCEL_MAX_S 10.0

static pid_t cancel_pids[64];	/* the running children (a few at most) */
static int	ncancels;
static double cancel_bound;		/* the last child's bound, in seconds */

/* how a child that sends a cancel request ends, when it is not SIGALRM */
#define CANCEL_SENT		0		/* the server took the request */
#define CANCEL_FAILED	1		/* PQcancel's error, logged by the child */
#define CANCEL_NO_TIMER 2		/* no timer to bound it: nothing sent */

/*
 * A child is gone: forget it, and say what became of its request, from
 * how it ended only.  Its timer is off once PQcancel returned
 * (bounded_call), so SIGALRM means that PQcancel itself got no answer.
 */
static void
cancel_done(pid_t pid, int status)
{
	int			i;

	for (i = 0; i < ncancels; i++)
	{
		if (cancel_pids[i] != pid)
			continue;
		cancel_pids[i] = cancel_pids[--ncancels];
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
			log_warn("postgres: the cancel request of an abandoned query got no answer within %gs; given up",
					 cancel_bound);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == CANCEL_NO_TIMER)
			log_warn("postgres: could not cancel the abandoned query: no timer to bound the request");
		return;
	}
}

/* what the child bounds: PQcancel, CANCEL_SENT or CANCEL_FAILED */
typedef struct
{
	PGcancel   *cancel;
	char		errbuf[256];
} cancel_call;

static int
send_cancel(void *arg)
{
	cancel_call *c = arg;

	return PQcancel(c->cancel, c->errbuf, sizeof c->errbuf) ? CANCEL_SENT : CANCEL_FAILED;
}

/*
 * Reap the children that sent cancel requests (cancel_query), waiting at
 * most "seconds" for those still running.  Any child is reaped, not only
 * ours: run as the first process of a container the relay is also the
 * parent of every orphan there, and a child nobody reaps stays a zombie
 * for as long as the relay runs.
 */
void
pg_reap_cancels(double seconds)
{
	double		until = now_mono() + seconds;

	for (;;)
	{
		int			status = 0;
		pid_t		pid = waitpid(-1, &status, WNOHANG);
		struct timespec pause = {0, 10 * 1000 * 1000};

		if (pid > 0)
		{
			cancel_done(pid, status);
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0 || now_mono() >= until)
			return;				/* no child left (ECHILD), or time is up */
		nanosleep(&pause, NULL);
	}
}

/*
 * Ask the server to cancel the query in hand, without waiting for it.
 * Closing the connection is not enough: a backend that waits (for a row
 * lock, say) notices that its client left only when its statement ends,
 * and until then it holds its place in the lock queue.  libpq 15's
 * PQcancel blocks with no timeout of its own (its connect waits for the
 * kernel's, about two minutes; then it waits for the server's answer for
 * ever, and a frozen postmaster or a proxy that accepts and forwards
 * nothing never answers), so a child process sends the request, under a
 * timer: SIGALRM, at its default action, ends it after "bound" seconds
 * (see cancel_bound above).  The timer is disarmed as soon as PQcancel
 * returns (bounded_call), so that the parent tells "no answer" from
 * PQcancel's own result by how the child ended, and by nothing else.
 * The relay does not wait on an unreachable
 * server, and the request goes out even when the relay stops right away.
 * The relay reaps its children itself (pg_reap_cancels: before each
 * query, and for a moment at exit) rather than leaving them to init by
 * forking twice: as a container's first process the relay is that init,
 * and each given-up query would leave a zombie behind.
 */
static void
cancel_query(PGconn *conn, double bound)
{
	PGcancel   *cancel;
	pid_t		child;

	pg_reap_cancels(0);
	cancel = PQgetCancel(conn);
	if (cancel == NULL)
		return;
	if (bound > PG_CANCEL_MAX_S)
		bound = PG_CANCEL_MAX_S;
	cancel_bound = bound;
	fflush(stderr);
	child = fork();
	if (child == 0)
	{
		cancel_call call;
		char		line[256];
		sigset_t	none;
		int			rc;

		/* none of the relay's sockets, its signals as by default */
		close_range(3, ~0U, 0);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* PQcancel retries on EINTR: only SIGALRM's default action stops it */
		call.cancel = cancel;
		call.errbuf[0] = '\0';
		rc = bounded_call(bound, send_cancel, &call);
		if (rc < 0)
			_exit(CANCEL_NO_TIMER);	/* an unbounded child is worse than no cancel */
		if (rc == CANCEL_FAILED)
		{
			pg_one_line(call.errbuf, line, sizeof line);
			log_warn("postgres: could not cancel the abandoned query: %s", line);
		}
		_exit(rc);
	}
	if (child < 0)
		log_warn("postgres: could not cancel the abandoned query: fork: %s", strerror(errno));
	else if (ncancels < (int) (sizeof cancel_pids / sizeof cancel_pids[0]))
		cancel_pids[ncancels++] = child;	/* else reaped, just not named */
	PQfreeCancel(cancel);
}

/*
 * pgwait.h.  Without parameters the query goes as a simple query: several
 * statements in one string, and the replication connection's commands,
 * which the extended protocol cannot carry.
 */
PGresult *
pg_exec_wait(PGconn *conn, const char *sql, int nparams, const char *const *params,
			 const pg_wait *w, char *why, size_t whylen)
{
	PGresult   *res,
			   *last = NULL;
	double		start = now_mono();
	double		deadline = w->timeout > 0 ? start + w->timeout : 0;
	double		stop_deadline = 0;
	int			noted = 0;
	int			sent;

	pg_reap_cancels(0);			/* the senders of earlier cancels */
	if (nparams > 0)
		sent = PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		sent = PQsendQuery(conn, sql);
	if (!sent)
	{
		pg_one_line(PQerrorMessage(conn), why, whylen);
		return NULL;
	}
	for (;;)
	{
		int			flush = PQflush(conn);
		struct pollfd pfds[1 + 4];
		struct timespec ts;
		double		now,
					until;
		int			rc,
					nhook = 0;

		if (flush < 0)
		{
			pg_one_line(PQerrorMessage(conn), why, whylen);
			PQclear(last);
			return NULL;
		}
		if (flush == 0 && !PQisBusy(conn))
		{
			/*
			 * A result is complete, so PQgetResult returns it at once.  Not
			 * every result of the query need have come with it (the first
			 * statement's of several, an error before the ReadyForQuery
			 * that ends it), and PQgetResult would wait for the next one
			 * without a timeout or the stop signals: take them one by one,
			 * each waited for here.
			 */
			ExecStatusType st;

			res = PQgetResult(conn);
			if (res == NULL)
				break;			/* the query has ended */
			st = PQresultStatus(res);
			PQclear(last);
			last = res;
			/* a COPY (START_REPLICATION) is the last result until it ends */
			if (st == PGRES_COPY_BOTH || st == PGRES_COPY_OUT || st == PGRES_COPY_IN)
				break;
			continue;
		}
		now = now_mono();
		if (w->stop && *w->stop && stop_deadline == 0)
		{
			if (stop_seen == 0)
				stop_seen = now;
			stop_deadline = stop_seen + PG_STOP_GRACE_S;
		}
		if (w->note && !noted && now - start >= w->note_after)
		{
			log_warn("%s", w->note);
			noted = 1;
		}
		until = deadline;
		if (stop_deadline > 0 && (until == 0 || stop_deadline < until))
			until = stop_deadline;
		if (until > 0 && now >= until)
		{
			if (until == stop_deadline)
				snprintf(why, whylen, "no answer within %.0fs of the stop signal; query cancelled, connection given up",
						 PG_STOP_GRACE_S);
			else
				snprintf(why, whylen, "no answer within %gs (--pg-timeout); query cancelled", w->timeout);
			/* the backend must not go on (or wait on) for nobody */
			cancel_query(conn, w->timeout > 0 ? w->timeout : PG_CANCEL_MAX_S);
			PQclear(last);
			return NULL;
		}
		/* without a deadline, wake up for the note, else once a second */
		if (until == 0)
			until = now + (w->note && !noted && start + w->note_after > now ?
						   start + w->note_after - now : 1.0);
		pfds[0].fd = PQsocket(conn);
		pfds[0].events = POLLIN | (flush == 1 ? POLLOUT : 0);
		pfds[0].revents = 0;
		/*
		 * The program's other sockets meanwhile: a relay that stops
		 * reading its Redis subscription while a query waits would be
		 * disconnected by Redis (client-output-buffer-limit pubsub), its
		 * received commands lost.
		 */
		if (w->hook)
			nhook = w->hook->watch(w->hook->arg, pfds + 1, 4);
		ts.tv_sec = (time_t) (until - now);
		ts.tv_nsec = (long) ((until - now - (double) ts.tv_sec) * 1e9);
		rc = ppoll(pfds, (nfds_t) (1 + nhook), &ts, w->waitmask);
		if (rc < 0 && errno != EINTR)
		{
			snprintf(why, whylen, "poll: %s", strerror(errno));
			PQclear(last);
			return NULL;
		}
		if (rc > 0 && nhook > 0)
			w->hook->ready(w->hook->arg, pfds + 1, nhook);
		if (rc > 0 && (pfds[0].revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(conn))
		{
			pg_one_line(PQerrorMessage(conn), why, whylen);
			PQclear(last);
			return NULL;
		}
	}
	return last;
}

/*
 * connect_timeout read as libpq reads it (strtol, a value that fits an int,
 * nothing but white space after it): none or at most 0, no limit; else at
 * least 2 s.  0 when libpq would refuse the value: its own connect then
 * says so, in its own words.
 */
static int
connect_timeout_of(PGconn *conn, double *seconds)
{
	PQconninfoOption *opts = PQconninfo(conn);
	PQconninfoOption *o;
	int			ok = 1;

	*seconds = 0;
	for (o = opts; o && o->keyword; o++)
	{
		char	   *end;
		long		v;

		if (strcmp(o->keyword, "connect_timeout") != 0 || o->val == NULL)
			continue;
		errno = 0;
		v = strtol(o->val, &end, 10);
		if (end == o->val || errno != 0 || v != (long) (int) v)
		{
			ok = 0;
			continue;
		}
		while (*end != '\0' && isspace((unsigned char) *end))
			end++;
		if (*end != '\0')
			ok = 0;
		else if (v > 0)
			*seconds = v < 2 ? 2 : (double) v;
	}
	PQconninfoFree(opts);
	return ok;
}

/*
 * Whether libpq may try more than one address: several hosts (or host
 * addresses), or one host name that resolves to several addresses.  A
 * socket directory, an address, or a name with one address is one.
 */
static int
several_addresses(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	PQconninfoOption *o;
	const char *host = NULL,
			   *hostaddr = NULL;
	int			several = 0;

	for (o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
	if ((host && strchr(host, ',')) || (hostaddr && strchr(hostaddr, ',')))
		several = 1;
	else if ((hostaddr == NULL || hostaddr[0] == '\0') && host && host[0] &&
			 host[0] != '/' && host[0] != '@')
	{
		struct addrinfo hints,
				   *res = NULL,
				   *a;
		int			n = 0;

		/* as libpq looks the name up */
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, NULL, &hints, &res) == 0)
		{
			for (a = res; a; a = a->ai_next)
				n++;
			freeaddrinfo(res);
		}
		several = n > 1;
	}
	PQconninfoFree(opts);
	return several;
}

/*
 * libpq's own connect, its wait included (a stop signal waits for it):
 * the connection, or NULL with err set.
 */
static PGconn *
connect_blocking(const char *const *keys, const char *const *vals,
				 char *err, size_t errlen)
{
	PGconn	   *conn = PQconnectdbParams(keys, vals, 1);

	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	pg_one_line(PQerrorMessage(conn), err, errlen);
	if (err[0] == '\0')
		snprintf(err, errlen, "could not connect");
	PQfinish(conn);
	return NULL;
}

/*
 * pgwait.h.  libpq's own wait (PQconnectdbParams) polls again on EINTR, so a
 * SIGTERM would wait for the server, or for connect_timeout (10 s), for
 * every attempt: here libpq's state machine (PQconnectPoll) is driven from
 * a ppoll that lets the stop signals through, as the main loop's does.
 * When connect_timeout runs out the attempt ends; the message is libpq's.
 * libpq counts the timeout once for each address, however many sockets it
 * opens to it (a retry without SSL when the handshake fails), and so does
 * this wait, which serves one address.
 * On a timeout libpq alone goes on to the next address, and no public
 * libpq call asks it to: so when there may be one (several hosts listed,
 * or a host name with several addresses, an unreachable IPv6 one first,
 * say) the connect is libpq's own wait, and a stop signal waits for it.
 * So it is with a connect_timeout that libpq refuses: its connect then
 * says why in its own words.  Without a timeout there is nothing to tell
 * apart: libpq moves on only when an address fails.
 */
PGconn *
pg_connect_wait(const char *const *keys, const char *const *vals,
				volatile sig_atomic_t *stop, const sigset_t *waitmask,
				char *err, size_t errlen)
{
	PGconn	   *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	double		timeout,
				deadline = 0;

	err[0] = '\0';
	conn = PQconnectStartParams(keys, vals, 1);
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_BAD)
		goto failed;
	if (!connect_timeout_of(conn, &timeout) || (timeout > 0 && several_addresses(conn)))
	{
		PQfinish(conn);
		return connect_blocking(keys, vals, err, errlen);
	}
	deadline = now_mono() + timeout;
	for (;;)
	{
		struct pollfd pfd;
		struct timespec ts;
		double		now = now_mono();
		int			rc;

		if (st == PGRES_POLLING_OK)
			return conn;
		if (st == PGRES_POLLING_FAILED)
			goto failed;
		if (timeout > 0 && now >= deadline)
		{
			char		msg[1024];

			/*
			 * What libpq's own wait adds to the attempt's message, which
			 * begins with the server's name ("connection to server ...
			 * failed: "), however it ends.
			 */
			snprintf(msg, sizeof msg, "%stimeout expired", PQerrorMessage(conn));
			pg_one_line(msg, err, errlen);
			PQfinish(conn);
			return NULL;
		}
		pfd.fd = PQsocket(conn);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		/* at most 1 s at a time: the deadline is checked at the top */
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		if (timeout > 0 && deadline - now < 1.0)
		{
			ts.tv_sec = 0;
			ts.tv_nsec = (long) ((deadline - now) * 1e9);
		}
		/* a stop that came before (or during PQconnectPoll) waits for nothing */
		rc = (stop && *stop) ? 0 : ppoll(&pfd, 1, &ts, waitmask);
		if (stop && *stop)
		{
			PQfinish(conn);		/* err stays empty: stopped, not failed */
			return NULL;
		}
		if (rc < 0 && errno != EINTR)
		{
			snprintf(err, errlen, "poll: %s", strerror(errno));
			PQfinish(conn);
			return NULL;
		}
		if (rc > 0)
			st = PQconnectPoll(conn);
	}

failed:
	pg_one_line(PQerrorMessage(conn), err, errlen);
	if (err[0] == '\0')
		snprintf(err, errlen, "could not connect");
	PQfinish(conn);
	return NULL;
}
