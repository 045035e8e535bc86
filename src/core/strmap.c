/*-------------------------------------------------------------------------
 *
 * strmap.c
 *	  A hash map from a string to an int (see strmap.h).
 *
 * src/core/strmap.c
 *
 *-------------------------------------------------------------------------
 */
#include "strmap.h"

#include <string.h>

uint32_t
al_str_hash(const char *s)
{
	uint32_t	h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

static uint32_t
hash_of(const al_strmap *m, const char *key)
{
	return m->hash ? m->hash(key) : al_str_hash(key);
}

/* The slot of key, or the empty slot where it would go. */
static al_strmap_slot *
lookup(const al_strmap *m, const char *key, uint32_t h)
{
	uint32_t	mask = (uint32_t) m->cap - 1;

	for (uint32_t i = h & mask;; i = (i + 1) & mask)
	{
		al_strmap_slot *s = &m->slots[i];

		if (s->key == NULL ||
			(s->hash == h && strcmp(s->key, key) == 0))
			return s;
	}
}

int
al_strmap_get(const al_strmap *m, const char *key)
{
	al_strmap_slot *s;

	if (m->count == 0)
		return -1;
	s = lookup(m, key, hash_of(m, key));
	return s->key ? s->value : -1;
}

/* Move every entry into a table of cap slots. */
static void
rehash(const al_allocator *mem, al_strmap *m, int cap)
{
	al_strmap_slot *old = m->slots;
	int			oldcap = m->cap;

	m->slots = al_alloc(mem, sizeof(al_strmap_slot) * (size_t) cap);
	memset(m->slots, 0, sizeof(al_strmap_slot) * (size_t) cap);
	m->cap = cap;
	for (int i = 0; i < oldcap; i++)
		if (old[i].key != NULL)
			*lookup(m, old[i].key, old[i].hash) = old[i];
	/* the old table stays in the arena until the command ends */
}

void
al_strmap_put(const al_allocator *mem, al_strmap *m, const char *key,
			  int value)
{
	uint32_t	h = hash_of(m, key);
	al_strmap_slot *s;

	/* at most half full: probes stay short */
	if (2 * (m->count + 1) > m->cap)
		rehash(mem, m, m->cap > 0 ? 2 * m->cap : 16);
	s = lookup(m, key, h);
	if (s->key == NULL)
	{
		s->key = key;
		s->hash = h;
		m->count++;
	}
	s->value = value;
}
