/* common.h - small shared definitions: attributes, error codes, safe helpers. */
#ifndef CASESYNC_COMMON_H
#define CASESYNC_COMMON_H

#include <stddef.h>

#define CS_MUST_CHECK __attribute__((warn_unused_result))
#define CS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One way to fail: 0 is success, a negative cs_err is a failure. */
enum cs_err {
	CS_OK = 0,
	CS_ERR = -1,		/* generic failure, already logged */
	CS_ENOMEM = -2,
	CS_EINVAL = -3,		/* bad input: config, mapping or payload */
	CS_EIO = -4,		/* transport or database failure */
	CS_ECONFLICT = -5,	/* version precondition failed (HTTP 412) */
	CS_ENOTFOUND = -6,
	CS_ELIMIT = -7		/* a size or count limit was exceeded */
};

/* Allocation wrappers: abort on out-of-memory would hide a bug in tests, so
 * they return NULL like malloc and callers check. */
char *cs_strdup(const char *s);
char *cs_strndup(const char *s, size_t n);

/* strtoll with full checking; returns 0 on success. */
int cs_parse_int64(const char *s, long long min, long long max,
		   long long *out) CS_MUST_CHECK;

/* Bounded copy that always terminates; returns 0 or CS_ELIMIT if truncated. */
int cs_strlcpy(char *dst, const char *src, size_t size);

/* Constant-length equality for possibly NULL strings (NULL == NULL). */
int cs_streq(const char *a, const char *b);

/* Where a credential named by config key lives: an absolute name as given,
 * a relative one under $CREDENTIALS_DIRECTORY (systemd's LoadCredential=).
 * CS_EINVAL, with err naming the key, when relative and there is no such
 * directory; CS_ELIMIT when the path does not fit. */
int cs_credential_path(const char *key, const char *name, char *path,
		       size_t size, char *err, size_t errsz) CS_MUST_CHECK;

#endif
