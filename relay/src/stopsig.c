/*
 * stopsig.c - the stop signals of the relay and the mailer (see stopsig.h).
 */
#define _GNU_SOURCE
#include "stopsig.h"

#include <string.h>

volatile sig_atomic_t stop_signal = 0;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

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
