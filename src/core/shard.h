/*-------------------------------------------------------------------------
 *
 * shard.h
 *	  The placement hash of a SKU, owned by the extension so that it never
 *	  changes with PostgreSQL's major version (hashtext may).
 *
 * src/core/shard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_SHARD_H
#define AL_SHARD_H

#include "al_core.h"

/*
 * 32-bit FNV-1a over the key's bytes (UTF-8), finished with MurmurHash3's
 * fmix32 so that the low bits, which PL/Proxy uses to pick a partition,
 * are well mixed.  Frozen: changing it moves every SKU.
 */
extern uint32_t al_shard_hash(const char *key, size_t len);

#endif							/* AL_SHARD_H */
