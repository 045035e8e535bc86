/*
 * pgwait.h - a libpq connect and query that a stop signal (or, for a
 * query, a timeout) ends: the relay's and the mailer's every connection
 * and query; and the reaping of the children that send the cancel
 * requests of given-up queries.
 */
#ifndef RELAY_PGWAIT_H
#define RELAY_PGWAIT_H

#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>

/*
 * After a stop signal, the queries still run get this long to finish, all
 * of them together (counted from the first wait that saw the signal).
 */
#define PG_STOP_GRACE_S 3.0

/*
 * Other work while a query waits: before each wait, watch fills at most
 * max pollfds (0: none for now); after it, ready gets them back with
 * their revents.  Neither may run a query on the waiting connection.
 */
typedef struct
{
	int			(*watch) (void *arg, struct pollfd *fds, int max);
	void		(*ready) (void *arg, const struct pollfd *fds, int n);
	void	   *arg;
} pg_wait_hook;

/* How pg_exec_wait waits. */
typedef struct
{
	double		timeout;		/* give the query up after this long; 0: never */
	double		note_after;		/* log note (a warning) once after this long */
	const char *note;			/* NULL: nothing to say while waiting */
	volatile sig_atomic_t *stop;	/* a stop signal came */
	const sigset_t *waitmask;	/* signal mask while waiting */
	const pg_wait_hook *hook;	/* other sockets served meanwhile, or NULL */
} pg_wait;

/*
 * Send a query on conn and wait for its last result (PQclear it), the stop
 * signals let through: a stop gives the queries a few seconds more, all
 * of them together from the first wait that saw it, then the one in hand
 * is cancelled, and so it is after w->timeout.  NULL: given up, why says
 * why in one line; the caller closes the connection.  Without parameters
 * the query goes as a simple query (several statements; replication
 * commands).
 */
PGresult   *pg_exec_wait(PGconn *conn, const char *sql, int nparams,
						 const char *const *params, const pg_wait *w,
						 char *why, size_t whylen);

/*
 * Reap the children that sent the cancel requests of given-up queries,
 * waiting at most SECONDS for those still running (0: only the finished).
 * Each child ends on its own after its query's timeout (10 s at most);
 * one ended so, its request unanswered, is logged as a warning.
 */
void		pg_reap_cancels(double seconds);

/*
 * PQconnectdbParams(keys, vals, 1) that a stop signal interrupts: the
 * connection made, or NULL with err set to why it failed (one line), or
 * NULL with err empty when *stop was set (a SIGTERM/SIGINT let through by
 * waitmask while it waited).  connect_timeout is enforced as libpq does
 * (for each address tried, at least 2 s; 0 or none: no limit).  With a
 * connect_timeout and several hosts or addresses, or a connect_timeout
 * that libpq refuses, the connect is libpq's own and a stop waits for it.
 */
PGconn	   *pg_connect_wait(const char *const *keys, const char *const *vals,
							volatile sig_atomic_t *stop, const sigset_t *waitmask,
							char *err, size_t errlen);

/* libpq's multi-line messages as one line, without the trailing newline */
void		pg_one_line(const char *msg, char *buf, size_t buflen);

#endif
