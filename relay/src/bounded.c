/*
 * bounded.c - a blocking call bounded by a process-ending timer (see
 * bounded.h).
 *
 * Notes:
 * 1) The timer is SIGALRM at its default action, not a handler: the call
 *    this bounds (libpq's PQcancel) retries on EINTR, so only the end of
 *    the process stops it.
 * 2) The timer is disarmed as soon as the call returns: otherwise, should
 *    it expire between the return and the caller's exit, the process
 *    would die by SIGALRM and its parent, which reads "no answer in time"
 *    from exactly that, would report a call that did return as one that
 *    did not (and lose the call's own result or error).
 */
#define _GNU_SOURCE
#include "bounded.h"

#include <signal.h>
#include <string.h>
#include <sys/time.h>

int
bounded_call(double seconds, int (*fn) (void *arg), void *arg)
{
	struct itimerval timer;
	sigset_t	alrm;
	int			rc;

	signal(SIGALRM, SIG_DFL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	if (seconds < 0.001)
		seconds = 0.001;		/* a zero it_value would disarm, not bound */
	memset(&timer, 0, sizeof timer);
	timer.it_value.tv_sec = (time_t) seconds;
	timer.it_value.tv_usec = (suseconds_t) ((seconds - (double) timer.it_value.tv_sec) * 1e6);
	if (setitimer(ITIMER_REAL, &timer, NULL) != 0)
		return -1;
	rc = fn(arg);
	/* note 2: off before anything else, so that it cannot end us now */
	memset(&timer, 0, sizeof timer);
	setitimer(ITIMER_REAL, &timer, NULL);
	return rc;
}
