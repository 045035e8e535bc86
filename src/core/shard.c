/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  The placement hash of a SKU; see shard.h.
 *
 * src/core/shard.c
 *
 *-------------------------------------------------------------------------
 */
#include "shard.h"

uint32_t
al_shard_hash(const char *key, size_t len)
{
	uint32_t	h = 2166136261u;	/* FNV offset basis */

	for (size_t i = 0; i < len; i++)
	{
		h ^= (unsigned char) key[i];
		h *= 16777619u;			/* FNV prime */
	}
	/* fmix32 */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}
