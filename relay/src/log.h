/*
 * log.h - one line per event on standard error.
 *
 * Every line starts with a UTC timestamp, the program name and the level:
 *   2025-06-01T12:00:00.123Z allocation-relay[4242] info: redis: connected ...
 * debug lines appear only with --verbose.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#define RELAY_PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_init(const char *program, int verbose);
int log_verbose(void);

void log_debug(const char *fmt, ...) RELAY_PRINTF(1, 2);
void log_info(const char *fmt, ...) RELAY_PRINTF(1, 2);
void log_warn(const char *fmt, ...) RELAY_PRINTF(1, 2);
void log_error(const char *fmt, ...) RELAY_PRINTF(1, 2);

#endif
