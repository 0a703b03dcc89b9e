/* Insert-only string-keyed hash map (open addressing, linear probing).
 * Keys are borrowed: each key must stay valid as long as its entry,
 * typically because it lives inside the value it maps to. */
#ifndef LCS_SIM_STRMAP_H
#define LCS_SIM_STRMAP_H

#include <stddef.h>

struct strmap_slot {
	const char *key;
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap; /* power of two, or 0 before first insert */
	size_t len;
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
void *strmap_get(const struct strmap *m, const char *key);
/* Returns 0, or -1 on allocation failure. The key must not be present. */
int strmap_put(struct strmap *m, const char *key, void *value);
void strmap_each(const struct strmap *m, void (*fn)(void *value));

#endif
