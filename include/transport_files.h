/* transport_files.h - extract files in a local inbox directory, and import
 * files written to an outbox.
 *
 * A file in the inbox is ready when it is a regular file, its name does
 * not start with '.' nor end in ".tmp" or ".part", and it has not changed
 * for settle_s seconds (so a file still being written is never read).
 * After it is taken it is moved, by rename(2) in the same file system, to
 * inbox/processed/ or inbox/rejected/, a rejected one with NAME.reason
 * beside it. Outbound files are written to a temporary name, synced and
 * renamed, so readers never see part of one. */
#ifndef CASESYNC_TRANSPORT_FILES_H
#define CASESYNC_TRANSPORT_FILES_H

#include <stddef.h>
#include "common.h"

#define FILES_SHA256_HEX 65

/* Names of the ready files, sorted; free with files_names_free. */
int files_inbox_scan(const char *dir, long settle_s, char ***names,
		     size_t *n) CS_MUST_CHECK;
void files_names_free(char **names, size_t n);

/* SHA-256 (hex) of a file's content, read in blocks. */
int files_sha256(const char *path, char out[FILES_SHA256_HEX]) CS_MUST_CHECK;

/* Moves dir/name into dir/sub/ (created when missing), adding ".1", ".2"...
 * when the name is taken there; with reason, writes SUB/NAME.reason first.
 * *moved_to (may be NULL) receives the final name. */
int files_settle(const char *dir, const char *name, const char *sub,
		 const char *reason, char **moved_to) CS_MUST_CHECK;

/* Writes len bytes to dir/name atomically (temporary file, fsync, rename,
 * fsync of the directory). An existing file of that name is replaced. */
int files_write_atomic(const char *dir, const char *name, const void *data,
		       size_t len) CS_MUST_CHECK;

#endif
