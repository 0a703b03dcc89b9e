/* common.c - small helpers shared by every module. */
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *cs_strdup(const char *s)
{
	return s ? cs_strndup(s, strlen(s)) : NULL;
}

char *cs_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int cs_parse_int64(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* Plain decimal only: strtoll alone would take " 7" and "+7". */
	if (!s || !(*s == '-' ? s[1] >= '0' && s[1] <= '9' : *s >= '0' && *s <= '9'))
		return CS_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return CS_EINVAL;
	*out = v;
	return CS_OK;
}

int cs_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size == 0)
		return CS_ELIMIT;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return CS_ELIMIT;
	}
	memcpy(dst, src, n + 1);
	return CS_OK;
}

int cs_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int cs_credential_path(const char *key, const char *name, char *path,
		       size_t size, char *err, size_t errsz)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	int n;

	if (name[0] == '/') {
		n = snprintf(path, size, "%s", name);
	} else if (dir && *dir) {
		n = snprintf(path, size, "%s/%s", dir, name);
	} else {
		snprintf(err, errsz, "%s: a relative name needs "
			 "$CREDENTIALS_DIRECTORY", key);
		return CS_EINVAL;
	}
	if (n < 0 || (size_t)n >= size) {
		snprintf(err, errsz, "%s: the path is too long", key);
		return CS_ELIMIT;
	}
	return CS_OK;
}
