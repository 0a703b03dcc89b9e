/* transport_sftp.h - a folder on an SFTP server, through libcurl (libssh2).
 *
 * One session is one curl easy handle, so the SSH connection is made once
 * and reused by every call until sftp_close(). The server's host key must
 * be in remote.ssh_known_hosts with a matching key (an unknown or changed
 * key is refused, and nothing is ever added to that file); the client
 * authenticates only with remote.ssh_private_key (public key
 * authentication, no passphrase, no password). Connect and whole-request
 * timeouts come from remote.connect_timeout_ms and remote.timeout_ms.
 *
 * Names given to the calls below are single path components inside the
 * session's folder (or inside one of its sub-folders); they are encoded
 * into the URL and quoted in SFTP commands here. Errors are logged with the
 * operation, the file name and curl's description, never with content.
 * After a connection-level failure (connect, host key, login, timeout) the
 * session fails every later call at once, without reconnecting. */
#ifndef CASESYNC_TRANSPORT_SFTP_H
#define CASESYNC_TRANSPORT_SFTP_H

#include <stddef.h>
#include "common.h"
#include "config.h"

#define SFTP_MAX_FILE_BYTES (4LL * 1024 * 1024 * 1024)

struct sftp;

/* Whether where is an sftp:// URL (as remote.inbox or remote.outbox). */
int sftp_is_url(const char *where);

/* A session for the folder url (sftp://user@host[:port]/path, "/~/path"
 * for a path under the user's home), with the [remote] ssh and timeout
 * settings of c. No connection is made yet. NULL with a message in err
 * (naming the key, not the URL's content) when the URL or settings are not
 * usable. Free with sftp_close(). */
struct sftp *sftp_open(const struct config *c, const char *key,
		       const char *url, char *err, size_t errsz);
void sftp_close(struct sftp *s);

/* Names of the regular files in the folder (not directories, not links),
 * at most max of them; free with files_names_free() (transport_files.h).
 * Every name is returned, the caller filters. */
int sftp_list(struct sftp *s, size_t max, char ***names, size_t *n)
	CS_MUST_CHECK;

/* Size and modification time (seconds since the epoch, -1 when the server
 * gives none) of sub/name (sub NULL: the folder itself). CS_ENOTFOUND when
 * there is no such file. */
int sftp_stat(struct sftp *s, const char *sub, const char *name,
	      long long *size, long long *mtime) CS_MUST_CHECK;

/* Downloads name into fd (written from its current offset); *bytes gets
 * the count. CS_ELIMIT beyond SFTP_MAX_FILE_BYTES. */
int sftp_get(struct sftp *s, const char *name, int fd, long long *bytes)
	CS_MUST_CHECK;

/* Uploads len bytes to sub/name (sub NULL: the folder) as a temporary file
 * named ".NAME.PID.tmp", then renames it to NAME, replacing a file of that
 * name; the temporary is removed when anything fails. */
int sftp_put_atomic(struct sftp *s, const char *sub, const char *name,
		    const void *data, size_t len) CS_MUST_CHECK;

/* Creates the sub-folder sub unless it exists. */
int sftp_mkdir(struct sftp *s, const char *sub) CS_MUST_CHECK;

/* Renames from_sub/from to to_sub/to (a NULL sub: the folder itself).
 * Fails when the target exists (SFTP version 3 semantics). */
int sftp_rename(struct sftp *s, const char *from_sub, const char *from,
		const char *to_sub, const char *to) CS_MUST_CHECK;

#endif
