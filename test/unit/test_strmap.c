/*-------------------------------------------------------------------------
 *
 * test_strmap.c
 *	  The hash map behind the product's lookups by order id and reference:
 *	  collisions, growth, and a product with many lines of one SKU.
 *
 * test/unit/test_strmap.c
 *
 *-------------------------------------------------------------------------
 */
#include "tests.h"

#include <stdio.h>
#include <string.h>

/* Every key in one bucket: only the key comparison tells them apart. */
static uint32_t
same_hash(const char *key)
{
	(void) key;
	return 7;
}

static void
strmap_collisions(fake_world *w)
{
	al_strmap	m = {0};
	char		key[32];
	char	   *keys[200];
	bool		all = true;

	m.hash = same_hash;
	is_int(al_strmap_get(&m, "none"), -1, "an empty map finds nothing");
	for (int i = 0; i < 200; i++)
	{
		snprintf(key, sizeof(key), "k%d", i);
		keys[i] = al_strdup(&w->call_mem, key);
		al_strmap_put(&w->call_mem, &m, keys[i], i);
	}
	for (int i = 0; i < 200; i++)
		all &= al_strmap_get(&m, keys[i]) == i;
	ok(all, "200 keys with one hash: each finds its own value");
	is_int(al_strmap_get(&m, "k200"), -1, "an absent key with that hash: -1");
	is_int(al_strmap_get(&m, "k1"), 1, "a key equal to a stored one, another pointer");
	al_strmap_put(&w->call_mem, &m, keys[5], 55);
	is_int(al_strmap_get(&m, "k5"), 55, "put again replaces the value");
	is_int(m.count, 200, "and adds no entry");
}

static void
strmap_growth(fake_world *w)
{
	al_strmap	m = {0};
	char		key[32];
	bool		all = true;

	for (int i = 0; i < 10000; i++)
	{
		snprintf(key, sizeof(key), "order-%d", i);
		al_strmap_put(&w->call_mem, &m, al_strdup(&w->call_mem, key), i);
	}
	is_int(m.count, 10000, "10,000 keys");
	ok(m.cap >= 2 * m.count && (m.cap & (m.cap - 1)) == 0,
	   "at most half full, a power of two slots (%d)", m.cap);
	for (int i = 0; i < 10000; i++)
	{
		snprintf(key, sizeof(key), "order-%d", i);
		all &= al_strmap_get(&m, key) == i;
	}
	ok(all, "every key found after growing");
	is_int(al_strmap_get(&m, ""), -1, "the empty string is absent");
	ok(al_str_hash("ab") != al_str_hash("ba"), "the hash depends on the order of bytes");
}

/* A product with many lines of one SKU: each found, none duplicated. */
static void
product_many_lines(fake_world *w)
{
	al_product	p;
	char		order[32];
	const char *ref;
	int32_t		existing;
	bool		all = true;

	al_product_init(&p, &w->call_mem, "SKU", 1, 0);
	/* colliding hashes too: correctness must not rest on the hash */
	p.line_index.hash = same_hash;
	al_product_load_batch(&p, "B", 1000000, 0, false, 0);
	for (int i = 0; i < 3000; i++)
	{
		snprintf(order, sizeof(order), "o%d", i);
		if (i % 2)
			al_product_load_line(&p, order, 1, "B", i);
		else
			all &= al_product_allocate(&p, order, 1, NULL, &ref, &existing) == AL_OK;
	}
	ok(all, "3,000 lines loaded or allocated");
	is_int(p.nlines, 3000, "3,000 lines in memory");
	all = true;
	for (int i = 0; i < 3000; i++)
	{
		snprintf(order, sizeof(order), "o%d", i);
		all &= al_product_find_line(&p, order) >= 0 &&
			strcmp(p.lines[al_product_find_line(&p, order)].orderid, order) == 0;
	}
	ok(all, "each found at its own index");
	al_product_load_line(&p, "o7", 1, "B", 7);
	is_int(p.nlines, 3000, "loading a line again adds nothing");
	is_int(al_product_allocate(&p, "o8", 1, NULL, &ref, &existing), AL_OK,
		   "allocating one again is idempotent (rule 4)");
	is_int(p.nlines, 3000, "and adds no line");
	is_int(p.batches[0].allocated, 1500, "1,500 allocated by this product");
	is_int(al_product_find_batch(&p, "B"), 0, "the batch is found by reference");
	is_int(al_product_find_batch(&p, "C"), -1, "another is not");
}

void
test_strmap(void)
{
	fake_run("strmap: collisions", strmap_collisions);
	fake_run("strmap: growth", strmap_growth);
	fake_run("strmap: a product with many lines of one SKU", product_many_lines);
}
