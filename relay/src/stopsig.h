/*
 * stopsig.h - the stop signals (SIGTERM, SIGINT) of the relay and the
 * mailer.  They are blocked except while a program waits (ppoll with the
 * wait mask): a signal that comes while work is in hand stays pending
 * until the next wait or the next stop_requested(), so no wake-up is lost
 * and "the work in hand" (a query, a message, a batch) ends first.
 */
#ifndef RELAY_STOPSIG_H
#define RELAY_STOPSIG_H

#include <signal.h>

/* the stop signal that came (SIGTERM or SIGINT); 0: none yet */
extern volatile sig_atomic_t stop_signal;

/*
 * Handle SIGTERM and SIGINT (noted in stop_signal), block them, and set
 * waitmask to the mask that lets them through, for ppoll.  SIGPIPE is
 * ignored, and SIGCHLD set to its default action: started with it ignored
 * (an exec keeps that), the children that send cancel requests would be
 * reaped by the kernel, their ends unseen.
 */
void		stop_signals_init(sigset_t *waitmask);

/* Has a stop signal come, noted or pending while blocked? */
int			stop_requested(void);

#endif
