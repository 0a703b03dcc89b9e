/* transport_files.h - extract files in a local inbox directory, and import
 * files written to an outbox.
 *
 * A file in the inbox is ready when it is a regular file, its name does
 * not start with '.' nor end in ".tmp" or ".part", and it has not changed
 * for settle_s seconds (so a file still being written is never read).
 * After it is taken it is moved, by rename(2) in the same file system, to
 * inbox/processed/ or inbox/rejected/, a rejected one with NAME.reason
 * beside it. Outbound files are written to a temporary name, synced and
 * renamed, so readers never see part of one.
 *
 * remote.inbox and remote.outbox may also be sftp:// folders
 * (transport_sftp.h), with the same rules: an SFTP inbox file is ready
 * once its size and modification time are what this process saw at least
 * settle_s seconds earlier (observations are kept in memory from cycle to
 * cycle: a process's first look never takes a file unless settle_s is 0);
 * it is downloaded to a private staging copy (0600, in a 0700 directory
 * under $STATE_DIRECTORY, else $TMPDIR, else /tmp), which is removed once
 * the file is taken, and moved on the server by SFTP renames. Outbound
 * files are uploaded to ".NAME.PID.tmp" and renamed. */
#ifndef CASESYNC_TRANSPORT_FILES_H
#define CASESYNC_TRANSPORT_FILES_H

#include <stddef.h>
#include "common.h"
#include "config.h"

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

/* The inbox of remote.inbox: a local directory or an sftp:// folder. */
struct files_inbox;

/* Opens c->remote_inbox (settle time c->remote_inbox_settle_s); an SFTP
 * inbox connects at its first use. Logs why when it fails. Close with
 * files_inbox_close(), which removes any staging copy. */
int files_inbox_open(const struct config *c, struct files_inbox **out)
	CS_MUST_CHECK;
void files_inbox_close(struct files_inbox *ib);

/* Names of the ready files, sorted; free with files_names_free. */
int files_inbox_list(struct files_inbox *ib, char ***names, size_t *n)
	CS_MUST_CHECK;

/* *path: a local file holding name's content (the file itself, or the
 * staging copy of an SFTP file), valid until files_inbox_release().
 * CS_ECONFLICT when an SFTP file changed again while it was being copied
 * (nothing is kept; a later cycle takes it once it has settled). */
int files_inbox_fetch(struct files_inbox *ib, const char *name,
		      const char **path) CS_MUST_CHECK;
/* Removes the staging copy, if any. */
void files_inbox_release(struct files_inbox *ib);

/* files_settle() on the inbox: name into sub/ (created when missing), a
 * reason file beside it when reason is set. */
int files_inbox_move(struct files_inbox *ib, const char *name,
		     const char *sub, const char *reason) CS_MUST_CHECK;

/* files_write_atomic() to c->remote_outbox, a local directory or an
 * sftp:// folder. */
int files_outbox_write(const struct config *c, const char *name,
		       const void *data, size_t len) CS_MUST_CHECK;

#endif
