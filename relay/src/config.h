/*
 * config.h - the relay's settings: command-line flags over environment
 * variables over defaults.  Pure C, no I/O besides getenv and reading
 * --redis-password-file, so that the unit tests (relay/test) can check it.
 */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* Where the events come from. */
typedef enum
{
	RELAY_SOURCE_OUTBOX,	/* the consumer API (read_events, ack_events), woken by NOTIFY */
	RELAY_SOURCE_WAL		/* a logical replication slot (pgoutput messages) */
} relay_source;

typedef enum
{
	RELAY_PUBSUB,		/* PUBLISH / SUBSCRIBE: fire and forget */
	RELAY_STREAMS		/* XADD / XREADGROUP + XACK: kept until acknowledged */
} relay_mode;

/* Where Redis is: redis://[[user]:password@]host[:port][/db] or unix:/path. */
typedef struct
{
	char	   *host;		/* NULL for a Unix socket */
	int			port;
	char	   *path;		/* Unix socket, or NULL */
	char	   *user;		/* ACL user (Redis 6+), or NULL */
	char	   *password;	/* or NULL: no AUTH */
	int			db;			/* SELECT db when > 0 */
} redis_target;

/* An event type and its channel (or stream); target NULL: not published. */
typedef struct
{
	char	   *type;
	char	   *target;
} relay_route;

typedef struct
{
	char	   *dsn;			/* libpq conninfo or URI; NULL: PG* variables */
	char	   *redis_url;
	char	   *redis_password_file;	/* --redis-password-file */
	redis_target redis;
	char	   *consumer;		/* outbox consumer, and Redis group consumer */
	int			batch_size;
	relay_mode	mode;
	relay_source source;
	char	   *slot;			/* --source wal: the replication slot */
	char	   *publication;	/* ... and the (empty) publication */
	char	   *inbound;		/* inbound channel or stream; NULL: none */
	int			outbound;		/* relay events (0: --no-outbound, commands only) */
	char	   *group;			/* consumer group of the inbound stream */
	double		claim_idle;		/* streams: claim the group's entries pending this
								 * long (seconds) from any consumer; 0: never */
	char	   *prefix;			/* channel of an event type without a route */
	relay_route *routes;
	size_t		nroutes;
	double		poll_interval;	/* seconds between polls without NOTIFY */
	double		backoff_max;	/* seconds, cap of the reconnect backoff */
	double		pg_timeout;		/* seconds: a query's answer, at most */
	double		command_lock_timeout;	/* seconds a command waits for a lock
										 * before it is retried; 0: no limit */
	int			slot_lag_warn;	/* --source wal: MB of retained WAL that warn; 0: never */
	double		slot_lag_interval;	/* ... checked (and warned) this often, seconds */
	int			from_now;		/* a new consumer starts at the end */
	int			envelope;		/* pub/sub: the envelope on named channels too */
	int			inbound_max;	/* pub/sub: messages in hand, at most */
	int			inbound_max_bytes;	/* ... and their bytes */
	int			verbose;
} relay_config;

typedef enum
{
	CONFIG_OK,
	CONFIG_HELP,			/* --help: print config_usage, exit 0 */
	CONFIG_VERSION,			/* --version */
	CONFIG_ERROR			/* err says what; exit 2 */
} config_result;

#define RELAY_VERSION "0.1.0"
#define RELAY_DEFAULT_REDIS "redis://127.0.0.1:6379"
#define RELAY_DEFAULT_CONSUMER "allocation-relay"
#define RELAY_DEFAULT_INBOUND "change_batch_quantity"
#define RELAY_DEFAULT_GROUP "allocation"
#define RELAY_DEFAULT_PREFIX "allocation."
#define RELAY_DEFAULT_SLOT "allocation_relay"
#define RELAY_DEFAULT_PUBLICATION "allocation_events"
#define RELAY_MAX_BATCH 10000
/* "redis-stream:" <stream> ":" <entry id, up to 41>: a message_id of 255 */
#define RELAY_MAX_STREAM_NAME 200
#define RELAY_DEFAULT_INBOUND_MAX 10000
#define RELAY_DEFAULT_INBOUND_MAX_BYTES (16 * 1024 * 1024)
#define RELAY_DEFAULT_CLAIM_IDLE 60.0
#define RELAY_DEFAULT_COMMAND_LOCK_TIMEOUT 1.0
/* --claim-idle: 0 (never), or from this many seconds */
#define RELAY_MIN_CLAIM_IDLE 1.0

config_result config_load(relay_config *cfg, int argc, char **argv,
						  char *err, size_t errlen);
void		config_free(relay_config *cfg);
void		config_usage(FILE *out);

/* The channel (stream) of an event type, or NULL when it is not published. */
const char *config_route(const relay_config *cfg, const char *type,
						 char *buf, size_t buflen);

/*
 * Is the channel of an event type one named for it (--channel, and the
 * built-in Allocated=line_allocated) rather than <prefix><Type>?  Named
 * pub/sub channels carry the book's message (the payload alone).
 */
int			config_route_named(const relay_config *cfg, const char *type);

/* Parse a Redis URL into *t (freed by redis_target_free); 0 or -1 + err. */
int			redis_url_parse(const char *url, redis_target *t,
							char *err, size_t errlen);
void		redis_target_free(redis_target *t);

/*
 * url with any password in it replaced by ***, for error messages about a
 * URL that may not parse.  Returns buf.
 */
char	   *redis_url_redact(const char *url, char *buf, size_t buflen);

/* The URL without its password, for log lines. */
void		redis_url_display(const redis_target *t, char *buf, size_t buflen);

const char *config_mode_name(relay_mode mode);

#endif
