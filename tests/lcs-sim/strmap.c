#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

static size_t find_slot(const struct strmap_slot *slots, size_t cap,
			const char *key)
{
	size_t mask = cap - 1;
	size_t i = (size_t)hash_str(key) & mask;

	while (slots[i].key != NULL && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & mask;
	return i;
}

void strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
}

void strmap_free(struct strmap *m)
{
	free(m->slots);
	strmap_init(m);
}

void *strmap_get(const struct strmap *m, const char *key)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = find_slot(m->slots, m->cap, key);
	return m->slots[i].key != NULL ? m->slots[i].value : NULL;
}

static int grow(struct strmap *m)
{
	size_t new_cap = m->cap == 0 ? 16 : m->cap * 2;
	struct strmap_slot *slots;
	size_t i;

	if (new_cap > SIZE_MAX / sizeof *slots)
		return -1;
	slots = calloc(new_cap, sizeof *slots);
	if (slots == NULL)
		return -1;
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key != NULL)
			slots[find_slot(slots, new_cap, m->slots[i].key)] =
				m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = new_cap;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	size_t i;

	/* Keep the load factor at or below one half so probes stay short. */
	if ((m->len + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	i = find_slot(m->slots, m->cap, key);
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->len++;
	return 0;
}

void strmap_each(const struct strmap *m, void (*fn)(void *value))
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key != NULL)
			fn(m->slots[i].value);
	}
}
