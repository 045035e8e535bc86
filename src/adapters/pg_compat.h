/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  What differs between the PostgreSQL major versions the adapters are
 *	  built for (15, 17 and 18), in one place.
 *
 * Notes:
 *	1) Everything else the adapters and entry points use (SPI, the GUC
 *	   functions, the EXTENSIONOID syscache, set_config_option,
 *	   ShmemInitStruct) has the same signature on 15 to 18; only what
 *	   differs is here, so that the .c files carry no version tests of
 *	   their own.  Where a function was renamed, its 15 name is kept as a
 *	   shim, so that the callers read the same on every version.
 *	2) 16 replaced pg_proc_aclcheck by object_aclcheck (a catalog and an
 *	   object id), and took varatt.h (VARDATA_ANY, VARSIZE_ANY_EXHDR) out
 *	   of postgres.h.
 *	3) Backend numbers: 17 renamed BackendId (1-based, storage/backendid.h)
 *	   to ProcNumber (0-based, storage/procnumber.h).
 *	4) The private "Async Queue Control" of async.c (listeners.c reads
 *	   one field of it for allocation.notify_events = auto): its layout
 *	   per major, copied from that major's async.c.  13 to 16: page
 *	   numbers are int, backends are BackendIds and the backend array has
 *	   MaxBackends + 1 slots.  17 and 18: page numbers are int64 (64-bit
 *	   SLRU pages), ProcNumbers, MaxBackends slots.  AL_ASYNC_LAYOUT_KNOWN
 *	   is undefined for any other major: listeners.c then always notifies.
 *	   Checked against 15's and 18's source and run on both.  17 is taken
 *	   to be 18's (both its changes, 64-bit pages and ProcNumber, came in
 *	   17) but not run here: ShmemInitStruct's size check is the guard.
 *	5) 18 added an instrumentation argument to index_beginscan
 *	   (index_read.c passes none).
 *	6) 17 is compiled against its server headers by "make test" (suite
 *	   pg17, scripts/compile-major.sh) but not run: its source is not
 *	   served here.  A wrong side of a version test above fails that
 *	   compile.
 *
 * src/adapters/pg_compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_PG_COMPAT_H
#define AL_PG_COMPAT_H

#include "utils/acl.h"

/* 17 added LogLogicalMessage's "flush" argument: no flush, as before */
#if PG_VERSION_NUM >= 170000
#define al_log_logical_message(prefix, msg, len, transactional) \
	LogLogicalMessage(prefix, msg, len, transactional, false)
#else
#define al_log_logical_message(prefix, msg, len, transactional) \
	LogLogicalMessage(prefix, msg, len, transactional)
#endif

/* 18 added an instrumentation argument (EXPLAIN's index searches): none */
#if PG_VERSION_NUM >= 180000
#define al_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys)
#else
#define al_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan(heap, index, snapshot, nkeys, norderbys)
#endif

/* 18 replaced pg_attribute_noreturn() (after a declaration) by pg_noreturn */
#ifndef pg_attribute_noreturn
#define pg_attribute_noreturn() __attribute__((noreturn))
#endif

#if PG_VERSION_NUM >= 160000
#include "catalog/pg_proc.h"
#include "varatt.h"
#define pg_proc_aclcheck(proc, role, mode) \
	object_aclcheck(ProcedureRelationId, (proc), (role), (mode))
#endif

#if PG_VERSION_NUM >= 170000
#include "storage/procnumber.h"
typedef ProcNumber al_proc_number;
#define AL_INVALID_PROC_NUMBER INVALID_PROC_NUMBER
#else
#include "storage/backendid.h"
typedef BackendId al_proc_number;
#define AL_INVALID_PROC_NUMBER InvalidBackendId
#endif

#if PG_VERSION_NUM >= 130000 && PG_VERSION_NUM < 170000
#define AL_ASYNC_LAYOUT_KNOWN 1
typedef int al_async_page;
/* slots of AsyncQueueControl.backend[] */
#define AL_ASYNC_BACKEND_SLOTS(max_backends) ((max_backends) + 1)
#elif PG_VERSION_NUM >= 170000 && PG_VERSION_NUM < 190000
#define AL_ASYNC_LAYOUT_KNOWN 1
typedef int64 al_async_page;
#define AL_ASYNC_BACKEND_SLOTS(max_backends) (max_backends)
#endif

#endif							/* AL_PG_COMPAT_H */
