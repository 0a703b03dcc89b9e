/* transport_sftp.c - a folder on an SFTP server through libcurl
 * (transport_sftp.h). */
#include "transport_sftp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>

#include "log.h"
#include "transport_files.h"

#define LIST_MAX_BYTES (16 * 1024 * 1024)

struct sftp {
	CURL *easy;
	const char *key;	/* "remote.inbox" or "remote.outbox", for logs */
	char *base;		/* the folder's URL, ending in '/' */
	char *dir;		/* its path in SFTP commands: absolute, or relative
				 * to the home directory; "" or ending in '/' */
	char *private_key;
	char *known_hosts;
	long connect_timeout_ms;
	long timeout_ms;
	int broken;		/* a connection-level failure happened */
	int key_match;		/* the last host key check, -1 before one */
};

int sftp_is_url(const char *where)
{
	return where && strncmp(where, "sftp://", 7) == 0;
}

/* Called by libcurl with the result of the known_hosts lookup: only an
 * exact match passes; nothing is ever added to the file. */
static int on_host_key(CURL *easy, const struct curl_khkey *knownkey,
		       const struct curl_khkey *foundkey,
		       enum curl_khmatch match, void *ud)
{
	struct sftp *s = ud;

	(void)easy;
	(void)knownkey;
	(void)foundkey;
	s->key_match = (int)match;
	return match == CURLKHMATCH_OK ? CURLKHSTAT_FINE : CURLKHSTAT_REJECT;
}

static size_t on_discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* Percent-encodes every byte but the unreserved ones. */
static void append_encoded(char *dst, const char *src)
{
	static const char hex[] = "0123456789ABCDEF";
	char *d = dst + strlen(dst);

	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			*d++ = (char)*p;
		} else {
			*d++ = '%';
			*d++ = hex[*p >> 4];
			*d++ = hex[*p & 15];
		}
	}
	*d = '\0';
}

/* The URL of sub/name (sub or name may be NULL); NULL when out of memory. */
static char *url_of(const struct sftp *s, const char *sub, const char *name)
{
	size_t len = strlen(s->base) + 3 * ((sub ? strlen(sub) : 0) +
					    (name ? strlen(name) : 0)) + 2;
	char *u = malloc(len);

	if (!u)
		return NULL;
	memcpy(u, s->base, strlen(s->base) + 1);
	if (sub) {
		append_encoded(u, sub);
		memcpy(u + strlen(u), "/", 2);
	}
	if (name)
		append_encoded(u, name);
	return u;
}

/* One path for an SFTP command, in double quotes, '"' and '\' escaped. */
static int append_quoted(char *dst, size_t dstsz, const struct sftp *s,
			 const char *sub, const char *name)
{
	const char *parts[] = { s->dir, sub, sub ? "/" : NULL, name };
	size_t len = strlen(dst);

	if (len + 2 >= dstsz)
		return CS_ELIMIT;
	dst[len++] = '"';
	for (size_t i = 0; i < CS_ARRAY_LEN(parts); i++)
		for (const char *p = parts[i]; p && *p; p++) {
			if (len + 3 >= dstsz)
				return CS_ELIMIT;
			if (*p == '"' || *p == '\\')
				dst[len++] = '\\';
			dst[len++] = *p;
		}
	dst[len++] = '"';
	dst[len] = '\0';
	return CS_OK;
}

/* A fresh request on the session's handle (the connection is kept). */
static void request_reset(struct sftp *s, const char *url)
{
	CURL *c = s->easy;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "sftp");
	curl_easy_setopt(c, CURLOPT_SSH_AUTH_TYPES, (long)CURLSSH_AUTH_PUBLICKEY);
	curl_easy_setopt(c, CURLOPT_SSH_PRIVATE_KEYFILE, s->private_key);
	/* Empty: libssh2 derives the public key from the private one. */
	curl_easy_setopt(c, CURLOPT_SSH_PUBLIC_KEYFILE, "");
	curl_easy_setopt(c, CURLOPT_SSH_KNOWNHOSTS, s->known_hosts);
	curl_easy_setopt(c, CURLOPT_SSH_KEYFUNCTION, on_host_key);
	curl_easy_setopt(c, CURLOPT_SSH_KEYDATA, (void *)s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_discard);
}

static int connection_failed(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_LOGIN_DENIED:
	case CURLE_AUTH_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_FAILED_INIT:
		return 1;
	default:
		return 0;
	}
}

/* Runs the prepared request; logs a failure as op on file (may be NULL). */
static CURLcode perform(struct sftp *s, const char *op, const char *file,
			int quiet_not_found)
{
	CURLcode cc;

	if (s->broken)
		return CURLE_COULDNT_CONNECT;
	s->key_match = -1;
	cc = curl_easy_perform(s->easy);
	if (cc == CURLE_OK ||
	    (quiet_not_found && cc == CURLE_REMOTE_FILE_NOT_FOUND))
		return cc;
	if (cc == CURLE_PEER_FAILED_VERIFICATION && s->key_match >= 0 &&
	    s->key_match != CURLKHMATCH_OK) {
		log_error("sftp_host_key_refused", "key=%s known_hosts=\"%s\" "
			  "problem=\"the server's host key is %s\"", s->key,
			  s->known_hosts, s->key_match == CURLKHMATCH_MISMATCH ?
			  "not the one in known_hosts" : "not in known_hosts");
	} else if (file) {
		log_error("sftp_failed", "key=%s op=%s file=\"%s\" problem=\"%s\"",
			  s->key, op, file, curl_easy_strerror(cc));
	} else {
		log_error("sftp_failed", "key=%s op=%s problem=\"%s\"", s->key, op,
			  curl_easy_strerror(cc));
	}
	if (connection_failed(cc))
		s->broken = 1;
	return cc;
}

static int cs_code(CURLcode cc)
{
	if (cc == CURLE_OK)
		return CS_OK;
	if (cc == CURLE_REMOTE_FILE_NOT_FOUND)
		return CS_ENOTFOUND;
	if (cc == CURLE_OUT_OF_MEMORY)
		return CS_ENOMEM;
	return CS_EIO;
}

/* The folder's path for SFTP commands, from the URL's decoded path. */
static int folder_path(const char *path, char **out)
{
	size_t len;

	for (const char *p = path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return CS_EINVAL;
	if (!strcmp(path, "/~"))
		path = "/~/";
	if (!strncmp(path, "/~/", 3))
		path += 3;	/* relative: the server resolves it from home */
	len = strlen(path);
	*out = malloc(len + 2);
	if (!*out)
		return CS_ENOMEM;
	memcpy(*out, path, len + 1);
	if (len && path[len - 1] != '/')
		memcpy(*out + len, "/", 2);
	return CS_OK;
}

static int check_url(struct sftp *s, const char *key, const char *url,
		     char *err, size_t errsz)
{
	CURLU *u = curl_url();
	char *user = NULL, *pass = NULL, *path = NULL, *host = NULL;
	int rc = CS_EINVAL;

	if (!u)
		return CS_ENOMEM;
	if (strchr(url, '?') || strchr(url, '#') ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errsz, "%s: expected sftp://user@host[:port]/path",
			 key);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
		snprintf(err, errsz, "%s: a password does not belong in the "
			 "URL (the key is remote.ssh_private_key)", key);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK || !*user) {
		snprintf(err, errsz, "%s: the URL needs a user name "
			 "(sftp://user@host/path)", key);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK ||
	    (rc = folder_path(path, &s->dir)) == CS_EINVAL) {
		snprintf(err, errsz, "%s: the URL's path is not usable", key);
		rc = CS_EINVAL;
		goto out;
	}
	if (rc)
		snprintf(err, errsz, "out of memory");
out:
	curl_free(user);
	curl_free(pass);
	curl_free(path);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

struct sftp *sftp_open(const struct config *c, const char *key,
		       const char *url, char *err, size_t errsz)
{
	struct sftp *s = calloc(1, sizeof(*s));
	size_t len = strlen(url);

	if (!s) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->key = key;
	s->key_match = -1;
	s->connect_timeout_ms = (long)c->remote_connect_timeout_ms;
	s->timeout_ms = (long)c->remote_timeout_ms;
	if (!sftp_is_url(url) || check_url(s, key, url, err, errsz))
		goto fail;
	if (!*c->remote_ssh_private_key || !*c->remote_ssh_known_hosts) {
		snprintf(err, errsz, "%s: sftp:// needs remote.ssh_private_key "
			 "and remote.ssh_known_hosts", key);
		goto fail;
	}
	if (access(c->remote_ssh_known_hosts, R_OK)) {
		snprintf(err, errsz, "remote.ssh_known_hosts: cannot read %s",
			 c->remote_ssh_known_hosts);
		goto fail;
	}
	if (access(c->remote_ssh_private_key, R_OK)) {
		snprintf(err, errsz, "remote.ssh_private_key: cannot read %s",
			 c->remote_ssh_private_key);
		goto fail;
	}
	s->base = malloc(len + 2);
	s->private_key = cs_strdup(c->remote_ssh_private_key);
	s->known_hosts = cs_strdup(c->remote_ssh_known_hosts);
	s->easy = curl_easy_init();
	if (!s->base || !s->private_key || !s->known_hosts || !s->easy) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	memcpy(s->base, url, len + 1);
	if (url[len - 1] != '/')
		memcpy(s->base + len, "/", 2);
	return s;
fail:
	sftp_close(s);
	return NULL;
}

void sftp_close(struct sftp *s)
{
	if (!s)
		return;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	free(s->base);
	free(s->dir);
	free(s->private_key);
	free(s->known_hosts);
	free(s);
}

/* --- listing ----------------------------------------------------------- */

struct listing {
	char *data;
	size_t len, cap;
	int over;
};

static size_t on_listing(char *p, size_t size, size_t n, void *ud)
{
	struct listing *l = ud;
	size_t add = size * n;

	if (add > LIST_MAX_BYTES - l->len) {
		l->over = 1;
		return 0;
	}
	if (l->len + add + 1 > l->cap) {
		size_t ncap = l->cap ? l->cap : 4096;
		char *nd;

		while (ncap < l->len + add + 1)
			ncap *= 2;
		nd = realloc(l->data, ncap);
		if (!nd)
			return 0;
		l->data = nd;
		l->cap = ncap;
	}
	memcpy(l->data + l->len, p, add);
	l->len += add;
	l->data[l->len] = '\0';
	return add;
}

/* One line of the server's long listing ("ls -l" style, as OpenSSH and
 * most servers give it): a regular file's line starts with '-', and its
 * name is the last field (a name with a blank is never taken anyway). */
static const char *regular_file_name(char *line)
{
	char *sp;
	size_t len = strlen(line);

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		line[--len] = '\0';
	if (line[0] != '-' || !(sp = strrchr(line, ' ')) || !sp[1])
		return NULL;
	return sp + 1;
}

int sftp_list(struct sftp *s, size_t max, char ***names, size_t *n)
{
	struct listing l = { NULL, 0, 0, 0 };
	size_t cap = 0;
	char *line, *next;
	CURLcode cc;
	int rc = CS_OK;

	*names = NULL;
	*n = 0;
	request_reset(s, s->base);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_listing);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, (void *)&l);
	cc = perform(s, "list", NULL, 0);
	if (cc != CURLE_OK) {
		free(l.data);
		return l.over ? CS_ELIMIT : cs_code(cc);
	}
	for (line = l.data; line && *line && *n < max; line = next) {
		const char *name;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!(name = regular_file_name(line)))
			continue;
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(*names, ncap * sizeof(*nn));

			if (!nn) {
				rc = CS_ENOMEM;
				break;
			}
			*names = nn;
			cap = ncap;
		}
		if (!((*names)[*n] = cs_strdup(name))) {
			rc = CS_ENOMEM;
			break;
		}
		(*n)++;
	}
	free(l.data);
	if (rc) {
		files_names_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

/* --- one file ------------------------------------------------------------ */

int sftp_stat(struct sftp *s, const char *sub, const char *name,
	      long long *size, long long *mtime)
{
	char *url = url_of(s, sub, name);
	curl_off_t len = -1, ft = -1;
	CURLcode cc;

	*size = -1;
	*mtime = -1;
	if (!url)
		return CS_ENOMEM;
	request_reset(s, url);
	curl_easy_setopt(s->easy, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(s->easy, CURLOPT_FILETIME, 1L);
	cc = perform(s, "stat", name, 1);
	free(url);
	if (cc != CURLE_OK)
		return cs_code(cc);
	if (curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			      &len) != CURLE_OK || len < 0)
		return CS_EIO;
	if (curl_easy_getinfo(s->easy, CURLINFO_FILETIME_T, &ft) != CURLE_OK)
		ft = -1;
	*size = (long long)len;
	*mtime = (long long)ft;
	return CS_OK;
}

struct download {
	int fd;
	long long bytes;
	int over;
};

static size_t on_download(char *p, size_t size, size_t n, void *ud)
{
	struct download *d = ud;
	size_t len = size * n, done = 0;

	if ((long long)len > SFTP_MAX_FILE_BYTES - d->bytes) {
		d->over = 1;
		return 0;
	}
	while (done < len) {
		ssize_t w = write(d->fd, p + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		done += (size_t)w;
	}
	d->bytes += (long long)len;
	return len;
}

int sftp_get(struct sftp *s, const char *name, int fd, long long *bytes)
{
	struct download d = { fd, 0, 0 };
	char *url = url_of(s, NULL, name);
	CURLcode cc;

	*bytes = 0;
	if (!url)
		return CS_ENOMEM;
	request_reset(s, url);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_download);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, (void *)&d);
	cc = perform(s, "get", name, 0);
	free(url);
	*bytes = d.bytes;
	if (d.over)
		return CS_ELIMIT;
	return cs_code(cc);
}

/* Runs SFTP commands (CURLOPT_QUOTE) over the connection; file names the
 * operation in a failure's log line. */
static int run_commands(struct sftp *s, const char *op, const char *file,
			const char *const *cmds, size_t ncmds)
{
	struct curl_slist *list = NULL;
	CURLcode cc;

	for (size_t i = 0; i < ncmds; i++) {
		struct curl_slist *nl = curl_slist_append(list, cmds[i]);

		if (!nl) {
			curl_slist_free_all(list);
			return CS_ENOMEM;
		}
		list = nl;
	}
	request_reset(s, s->base);
	/* No body: the commands run, the folder itself is not listed. */
	curl_easy_setopt(s->easy, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(s->easy, CURLOPT_QUOTE, list);
	cc = perform(s, op, file, 0);
	curl_easy_setopt(s->easy, CURLOPT_QUOTE, NULL);
	curl_slist_free_all(list);
	return cs_code(cc);
}

static int command(struct sftp *s, const char *verb, const char *sub1,
		   const char *name1, const char *sub2, const char *name2,
		   char *out, size_t outsz)
{
	if (snprintf(out, outsz, "%s ", verb) >= (int)outsz ||
	    append_quoted(out, outsz, s, sub1, name1))
		return CS_ELIMIT;
	if (name2 && (cs_strlcpy(out + strlen(out), " ", outsz - strlen(out)) ||
		      append_quoted(out, outsz, s, sub2, name2)))
		return CS_ELIMIT;
	return CS_OK;
}

int sftp_rename(struct sftp *s, const char *from_sub, const char *from,
		const char *to_sub, const char *to)
{
	char cmd[8192];
	const char *cmds[] = { cmd };

	if (command(s, "rename", from_sub, from, to_sub, to, cmd, sizeof(cmd)))
		return CS_ELIMIT;
	return run_commands(s, "rename", from, cmds, 1);
}

static int sftp_remove(struct sftp *s, const char *sub, const char *name)
{
	char cmd[4096];
	const char *cmds[] = { cmd };

	if (command(s, "rm", sub, name, NULL, NULL, cmd, sizeof(cmd)))
		return CS_ELIMIT;
	return run_commands(s, "remove", name, cmds, 1);
}

int sftp_mkdir(struct sftp *s, const char *sub)
{
	char cmd[4096];
	const char *cmds[] = { cmd };

	/* "*": a failure (most often: it exists) is not an error here; a
	 * folder that could not be made fails the rename into it. */
	if (command(s, "*mkdir", NULL, sub, NULL, NULL, cmd, sizeof(cmd)))
		return CS_ELIMIT;
	return run_commands(s, "mkdir", sub, cmds, 1);
}

/* --- upload ------------------------------------------------------------ */

struct upload {
	const char *data;
	size_t left;
};

static size_t on_upload(char *p, size_t size, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t len = size * n;

	if (len > u->left)
		len = u->left;
	memcpy(p, u->data, len);
	u->data += len;
	u->left -= len;
	return len;
}

int sftp_put_atomic(struct sftp *s, const char *sub, const char *name,
		    const void *data, size_t len)
{
	struct upload up = { data, len };
	char tmp[512], *url;
	long long size, mtime;
	int rc;

	if (snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid()) >=
	    (int)sizeof(tmp))
		return CS_EINVAL;
	if (!(url = url_of(s, sub, tmp)))
		return CS_ENOMEM;
	request_reset(s, url);
	curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->easy, CURLOPT_READFUNCTION, on_upload);
	curl_easy_setopt(s->easy, CURLOPT_READDATA, (void *)&up);
	curl_easy_setopt(s->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(s->easy, CURLOPT_NEW_FILE_PERMS, 0640L);
	rc = cs_code(perform(s, "put", name, 0));
	free(url);
	if (rc == CS_OK && up.left)
		rc = CS_EIO;
	/* SFTP 3 renames only to a free name: a file already there goes
	 * first (readers see the old one or the new one, or for a moment
	 * none, never part of one). */
	if (rc == CS_OK) {
		rc = sftp_stat(s, sub, name, &size, &mtime);
		if (rc == CS_OK)
			rc = sftp_remove(s, sub, name);
		else if (rc == CS_ENOTFOUND)
			rc = CS_OK;
	}
	if (rc == CS_OK)
		rc = sftp_rename(s, sub, tmp, sub, name);
	if (rc && !s->broken && sftp_stat(s, sub, tmp, &size, &mtime) == CS_OK &&
	    sftp_remove(s, sub, tmp) != CS_OK)
		log_warn("sftp_temporary_left", "key=%s file=\"%s\"", s->key, tmp);
	return rc;
}
