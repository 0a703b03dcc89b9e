/* testutil.h - small helpers shared by the cmocka unit tests.
 *
 * Everything here is static inline so that each test binary takes only what
 * it uses. Temporary files and directories live under /tmp and are created
 * with mkstemp/mkdtemp; every helper that creates one has a matching helper
 * that removes it. */
#ifndef CASESYNC_TESTUTIL_H
#define CASESYNC_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "diag.h"
#include "record.h"

#define TU_PATH_MAX 512

/* Writes all of text to fd and closes it; fails the test on a short write. */
static inline void tu_write_fd(int fd, const char *text)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		assert_true(n > 0);
		off += (size_t)n;
	}
	assert_int_equal(close(fd), 0);
}

/* Creates /tmp/casesync-test-XXXXXX holding text; path receives its name.
 * Remove it with unlink(path). */
static inline void tu_temp_file(char path[TU_PATH_MAX], const char *text)
{
	int fd;

	snprintf(path, TU_PATH_MAX, "/tmp/casesync-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	tu_write_fd(fd, text);
}

/* Creates an empty directory /tmp/casesync-test-XXXXXX. */
static inline void tu_temp_dir(char path[TU_PATH_MAX])
{
	snprintf(path, TU_PATH_MAX, "/tmp/casesync-test-XXXXXX");
	assert_non_null(mkdtemp(path));
}

/* Writes dir/name with text (replacing it); out, when non-NULL, receives
 * the full path. */
static inline void tu_write_in_dir(const char *dir, const char *name,
				   const char *text, char out[TU_PATH_MAX])
{
	char path[TU_PATH_MAX];
	FILE *f;

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) <
		    (int)sizeof(path));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	if (out)
		memcpy(out, path, sizeof(path));
}

/* Removes a directory made by tu_temp_dir with everything in it. */
static inline void tu_remove_dir(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *de;

	assert_non_null(dh);
	while ((de = readdir(dh)) != NULL) {
		char path[TU_PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", dir,
				     de->d_name) < (int)sizeof(path));
		if (de->d_type == DT_DIR)
			tu_remove_dir(path);
		else
			assert_int_equal(unlink(path), 0);
	}
	closedir(dh);
	assert_int_equal(rmdir(dir), 0);
}

/* True when some kept diag message contains needle. */
static inline int tu_diag_has(const struct diag *d, const char *needle)
{
	for (int i = 0; i < d->n; i++)
		if (strstr(d->msgs[i], needle))
			return 1;
	return 0;
}

/* True when some kept message starts with "file:line: " and contains
 * needle (line <= 0: starts with "file: "). */
static inline int tu_diag_at(const struct diag *d, const char *file, int line,
			     const char *needle)
{
	char prefix[TU_PATH_MAX + 32];

	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", file);
	for (int i = 0; i < d->n; i++)
		if (!strncmp(d->msgs[i], prefix, strlen(prefix)) &&
		    strstr(d->msgs[i] + strlen(prefix), needle))
			return 1;
	return 0;
}

/* Prints the diag messages when an expectation about them fails, so that a
 * failing run shows what was reported instead. */
static inline void tu_diag_dump(const struct diag *d)
{
	for (int i = 0; i < d->n; i++)
		print_message("  diag[%d]: %s\n", i, d->msgs[i]);
}

#define tu_assert_diag_at(d, file, line, needle)                        \
	do {                                                            \
		if (!tu_diag_at((d), (file), (line), (needle))) {       \
			tu_diag_dump(d);                                \
			fail_msg("no diag \"%s:%d: ...%s...\"", (file), \
				 (line), (needle));                     \
		}                                                       \
	} while (0)

/* Table-driven checks that name the failing case instead of only a line. */
#define tu_assert_str_case(i, got, want)                                   \
	do {                                                               \
		const char *tu_g_ = (got), *tu_w_ = (want);                \
		if (!cs_streq(tu_g_, tu_w_))                               \
			fail_msg("case %zu: got \"%s\", expected \"%s\"",    \
				 (size_t)(i), tu_g_ ? tu_g_ : "(null)",    \
				 tu_w_ ? tu_w_ : "(null)");                \
	} while (0)

#define tu_assert_int_case(i, got, want)                                   \
	do {                                                               \
		long long tu_g_ = (long long)(got), tu_w_ = (long long)(want); \
		if (tu_g_ != tu_w_)                                        \
			fail_msg("case %zu: got %lld, expected %lld",      \
				 (size_t)(i), tu_g_, tu_w_);               \
	} while (0)

/* A record of ent holding vals (ent->nfields of them, NULL = absent). */
static inline struct record *tu_record_make(const struct map_entity *ent,
					    const char *const *vals)
{
	struct record *r = record_new(ent);

	assert_non_null(r);
	for (size_t i = 0; i < ent->nfields; i++)
		assert_int_equal(record_set(r, i, vals[i]), CS_OK);
	return r;
}

#endif
