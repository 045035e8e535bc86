/*-------------------------------------------------------------------------
 *
 * listeners.c
 *	  NOTIFY allocation_events at commit, and only when it can wake someone;
 *	  NOTIFY allocation_notifications at commit.
 *
 * Notes:
 *	1) Why: every notifying commit takes one cluster-wide lock, from its
 *	   queue insert until the commit ends, so notifying commits run one at
 *	   a time; with no listening session that lock buys nothing.  With
 *	   allocation.notify_events = auto (the default) a transaction that
 *	   recorded events sends its NOTIFY only if some session of the
 *	   cluster is listening (to any channel) when it commits; 'on' always
 *	   sends it, 'off' never does.
 *	2) How we know: PostgreSQL keeps its listening backends in a list in
 *	   shared memory ("Async Queue Control", src/backend/commands/async.c)
 *	   whose head is the invalid backend number when nobody listens.  That
 *	   structure is private to async.c; its layout per major version is in
 *	   pg_compat.h, and it is read only when built for a version listed
 *	   there (anything else, a size that differs from ours, or a head that
 *	   is no backend number: always NOTIFY, as 'on').  One aligned integer
 *	   is read without a lock: a hint, as NOTIFY itself is one.
 *	3) When: at PRE_COMMIT (before PostgreSQL queues the transaction's
 *	   notifications), so that a session that started listening while the
 *	   transaction ran is seen.  A session whose LISTEN commits in the
 *	   microseconds between that check and our commit may miss this one
 *	   wake-up; it misses no event (they are in the outbox, which
 *	   consumers also poll).  A LISTEN in the same transaction as the
 *	   command is not seen either (PostgreSQL's "self-notify").  PREPARE
 *	   TRANSACTION sends no NOTIFY: PostgreSQL forbids one there.
 *	4) NOTIFY allocation_notifications, which wakes the mailer when an
 *	   e-mail was written (a stock alert, an order status change told to
 *	   its subscribers), goes out from the same callback, always (the
 *	   mailer is expected to listen).  Calling Async_Notify while the
 *	   command runs would make PREPARE TRANSACTION fail (0A000) for any
 *	   transaction that wrote an e-mail; from here a prepared transaction
 *	   sends none, and its e-mails wait for the mailer's next poll.
 *
 * src/adapters/listeners.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "pg_compat.h"
#include "listeners.h"
#include "settings.h"

#ifdef AL_ASYNC_LAYOUT_KNOWN

/* async.c's QueuePosition, QueueBackendStatus and AsyncQueueControl */
typedef struct al_queue_pos
{
	al_async_page page;
	int			offset;
} al_queue_pos;

typedef struct al_queue_backend
{
	int32		pid;
	Oid			dboid;
	al_proc_number next_listener;
	al_queue_pos pos;
} al_queue_backend;

typedef struct al_queue_control
{
	al_queue_pos head;
	al_queue_pos tail;
	al_async_page stop_page;
	al_proc_number first_listener;
	TimestampTz last_queue_fill_warn;
	al_queue_backend backend[FLEXIBLE_ARRAY_MEMBER];
} al_queue_control;

static volatile al_queue_control *queue_control = NULL;
#endif

static bool looked_up = false;

/* Is some session of the cluster listening?  True when we cannot tell. */
static bool
anyone_listening(void)
{
#ifdef AL_ASYNC_LAYOUT_KNOWN
	if (!looked_up)
	{
		MemoryContext cxt = CurrentMemoryContext;

		looked_up = true;
		PG_TRY();
		{
			bool		found;
			Size		size;

			/* the size async.c asks for: ShmemInitStruct checks it */
			size = mul_size(AL_ASYNC_BACKEND_SLOTS(MaxBackends),
							sizeof(al_queue_backend));
			size = add_size(size, offsetof(al_queue_control, backend));
			queue_control = ShmemInitStruct("Async Queue Control", size, &found);
			if (!found)
				queue_control = NULL;	/* cannot happen: async.c made it */
		}
		PG_CATCH();
		{
			/* a layout we do not know (ShmemInitStruct released its lock) */
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
			queue_control = NULL;
			ereport(LOG,
					(errmsg("allocation: cannot see the listening sessions; allocation.notify_events = auto works as on")));
		}
		PG_END_TRY();
	}
	if (queue_control != NULL)
	{
		al_proc_number first = queue_control->first_listener;

		/* not a backend number: a layout we misread, so say yes */
		if (first != AL_INVALID_PROC_NUMBER &&
			(first < 0 || first >= AL_ASYNC_BACKEND_SLOTS(MaxBackends)))
			return true;
		return first != AL_INVALID_PROC_NUMBER;
	}
#endif
	return true;
}

/* AL_NOTIFY_OFF: nothing to send; else the strongest mode asked for */
static int	pending = AL_NOTIFY_OFF;
/* an e-mail was written: wake the mailer */
static bool pending_mail = false;

/*
 * The outermost (sub)transaction nesting level at which each wake-up was
 * asked for, 0 when none is pending.  A subtransaction that aborts takes
 * back what was asked for at its level or deeper, as the rows that asked
 * for it are gone with it (a rolled-back savepoint, a plugin's failed
 * subtransaction); one that commits hands it to its parent.
 */
static int	pending_level = 0;
static int	pending_mail_level = 0;

static void
notify_at_commit(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_PRE_COMMIT)
	{
		if (pending != AL_NOTIFY_OFF &&
			(pending == AL_NOTIFY_ON || anyone_listening()))
			Async_Notify("allocation_events", "");
		if (pending_mail)
			Async_Notify("allocation_notifications", "");
	}
	/* every path out of the transaction forgets it */
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PRE_PREPARE &&
		event != XACT_EVENT_PARALLEL_PRE_COMMIT)
	{
		pending = AL_NOTIFY_OFF;
		pending_mail = false;
		pending_level = pending_mail_level = 0;
	}
}

/* Subtransaction ends: see pending_level. */
static void
notify_at_subxact_end(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		if (pending_level >= level)
		{
			pending = AL_NOTIFY_OFF;
			pending_level = 0;
		}
		if (pending_mail_level >= level)
		{
			pending_mail = false;
			pending_mail_level = 0;
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		if (pending_level == level)
			pending_level = level - 1;
		if (pending_mail_level == level)
			pending_mail_level = level - 1;
	}
}

/* Called once by _PG_init. */
void
al_pg_listeners_init(void)
{
	RegisterXactCallback(notify_at_commit, NULL);
	RegisterSubXactCallback(notify_at_subxact_end, NULL);
}

/* Lower *level to the current nesting level if that is outer to it. */
static void
asked_at(int *level)
{
	int			now = GetCurrentTransactionNestLevel();

	if (*level == 0 || now < *level)
		*level = now;
}

/* The command recorded events: wake the consumers when it commits. */
void
al_pg_notify_at_commit(void)
{
	if (al_notify_events == AL_NOTIFY_OFF)
		return;
	if (pending != AL_NOTIFY_ON)
		pending = al_notify_events;
	asked_at(&pending_level);
}

/* An e-mail was written to allocation.notifications: wake the mailer. */
void
al_pg_notify_mailer_at_commit(void)
{
	pending_mail = true;
	asked_at(&pending_mail_level);
}
