/*-------------------------------------------------------------------------
 *
 * strmap.h
 *	  A hash map from a string to an int, for the product's lookups by
 *	  order id and by batch reference.
 *
 * Notes:
 *	1) Open addressing with linear probing, at most half full, so a lookup
 *	   costs O(1) on average whatever the number of lines of one SKU in a
 *	   command (allocate_many may hold tens of thousands).
 *	2) The map keeps the key pointer, not a copy: the product's strings
 *	   live in the command's arena as long as the map does.
 *	3) Memory comes from the injected allocator.  Growing allocates a
 *	   table twice the size and leaves the old one to the arena.
 *	4) hash is NULL for al_str_hash; the unit tests plug in a bad one to
 *	   make every key collide.
 *
 * src/core/strmap.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef AL_STRMAP_H
#define AL_STRMAP_H

#include "al_core.h"

typedef struct al_strmap_slot
{
	const char *key;			/* NULL: empty */
	uint32_t	hash;
	int			value;
} al_strmap_slot;

typedef struct al_strmap
{
	al_strmap_slot *slots;
	int			cap;			/* a power of two, or 0 */
	int			count;
	uint32_t	(*hash) (const char *key);	/* NULL: al_str_hash */
} al_strmap;

/* FNV-1a over the bytes of s. */
extern uint32_t al_str_hash(const char *s);

/* The value of key, or -1. */
extern int	al_strmap_get(const al_strmap *m, const char *key);

/* Map key (kept, not copied) to value, replacing any value it had. */
extern void al_strmap_put(const al_allocator *mem, al_strmap *m,
						  const char *key, int value);

#endif							/* AL_STRMAP_H */
