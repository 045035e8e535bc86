/*-------------------------------------------------------------------------
 *
 * mailer_api.h
 *	  The SQL side of allocation-mailer: its settings and the entry point
 *	  of its functions (mailer_api.c).
 *
 * src/entry/mailer_api.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_ENTRY_MAILER_API_H
#define AL_ENTRY_MAILER_API_H

/* allocation.mail_max_attempts and the retry delays, for _PG_init */
extern void al_mailer_define_settings(void);

#endif							/* AL_ENTRY_MAILER_API_H */
