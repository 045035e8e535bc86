/*
 * stopsig.c - the stop signals of the relay and the mailer (see stopsig.h).
 *
 * Notes: the handler only notes the signal; the work in hand ends at the
 * next check.  The signals are blocked outside the waits so that one that
 * comes between a check and the next wait is not lost: it stays pending,
 * and ppoll, given the wait mask, returns at once with EINTR.  A check
 * between two steps (stop_requested) also looks at the pending signals,
 * since a blocked signal reaches no handler until the next wait.
 */
#define _GNU_SOURCE
#include "stopsig.h"

#include <string.h>

volatile sig_atomic_t stop_signal = 0;

/* SIGTERM, SIGINT: note which one came */
static void
on_signal(int sig)
{
	stop_signal = sig;
}

/* stopsig.h: handlers, the blocking, and the wait mask */
void
stop_signals_init(sigset_t *waitmask)
{
	sigset_t	block;
	struct sigaction sa;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGTERM);
	sigdelset(waitmask, SIGINT);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
}

/* stopsig.h: a noted signal, or one pending while blocked (noted now) */
int
stop_requested(void)
{
	sigset_t	pending;

	if (stop_signal)
		return 1;
	if (sigpending(&pending) == 0)
	{
		if (sigismember(&pending, SIGTERM))
			stop_signal = SIGTERM;
		else if (sigismember(&pending, SIGINT))
			stop_signal = SIGINT;
	}
	return stop_signal != 0;
}
