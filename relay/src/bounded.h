/*
 * bounded.h - a call that may block for ever, bounded by a timer whose
 * expiry ends the process (SIGALRM at its default action).  For a child
 * process that does one blocking thing and exits: the sender of a
 * cancel request (pgwait.c, in the relay and the mailer).  How the child
 * ended then says what happened: killed by SIGALRM, the call did not
 * return in time; any other end, it returned, and the timer can no longer
 * fire.
 */
#ifndef RELAY_BOUNDED_H
#define RELAY_BOUNDED_H

/*
 * Arm a timer of "seconds", call fn(arg), disarm the timer before
 * returning, and return fn's result; -1 without calling fn when the
 * timer cannot be armed (an unbounded call is not what the caller asked
 * for).  SIGALRM is set to its default action and unblocked first.
 */
int			bounded_call(double seconds, int (*fn) (void *arg), void *arg);

#endif
