/* transport_files.c - extract files in an inbox, import files to an outbox
 * (transport_files.h). */
#include "transport_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "log.h"
#include "transport_sftp.h"

#define NAME_MAX_LEN 200
#define MAX_FILES 10000

/* A name we will handle: printable ASCII without '/', not hidden, not a
 * temporary, not a reason file, and short. */
static int name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > NAME_MAX_LEN || name[0] == '.')
		return 0;
	for (const char *c = name; *c; c++)
		if (*c < 0x21 || *c > 0x7e || *c == '/' || *c == '\\')
			return 0;
	if ((len > 4 && !strcmp(name + len - 4, ".tmp")) ||
	    (len > 5 && !strcmp(name + len - 5, ".part")) ||
	    (len > 7 && !strcmp(name + len - 7, ".reason")))
		return 0;
	return 1;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void files_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int files_inbox_scan(const char *dir, long settle_s, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	size_t cap = 0;
	int rc = CS_OK;

	*names = NULL;
	*n = 0;
	if (!d)
		return CS_EIO;
	while ((de = readdir(d)) != NULL && *n < MAX_FILES) {
		struct stat st;

		if (!name_ok(de->d_name))
			continue;
		/* Not following links: a symlink is not an extract file. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime < settle_s || now - st.st_ctime < settle_s)
			continue;	/* perhaps still being written */
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
		(*names)[*n] = cs_strdup(de->d_name);
		if (!(*names)[*n]) {
			rc = CS_ENOMEM;
			break;
		}
		(*n)++;
	}
	closedir(d);
	if (rc) {
		files_names_free(*names, *n);
		*names = NULL;
		*n = 0;
		return rc;
	}
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_names);
	return CS_OK;
}

int files_sha256(const char *path, char out[FILES_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int fd, rc = CS_EIO;
	ssize_t got;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return CS_EIO;
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		if (EVP_DigestUpdate(ctx, buf, (size_t)got) != 1)
			goto out;
	if (got < 0 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
		goto out;
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
	rc = CS_OK;
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return CS_EIO;
	rc = fsync(fd) ? CS_EIO : CS_OK;
	close(fd);
	return rc;
}

static int write_atomic(const char *dir, const char *name, const void *data,
			size_t len)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, name,
		     (long)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return CS_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return CS_EIO;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst))
		goto fail;
	return sync_dir(dir);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return CS_EIO;
}

int files_write_atomic(const char *dir, const char *name, const void *data,
		       size_t len)
{
	if (!name_ok(name))
		return CS_EINVAL;
	return write_atomic(dir, name, data, len);
}

int files_settle(const char *dir, const char *name, const char *sub,
		 const char *reason, char **moved_to)
{
	char subdir[4096], src[4096], dst[4096], final[NAME_MAX_LEN + 16];
	struct stat st;

	if (moved_to)
		*moved_to = NULL;
	if (!name_ok(name) ||
	    snprintf(subdir, sizeof(subdir), "%s/%s", dir, sub) >= (int)sizeof(subdir) ||
	    snprintf(src, sizeof(src), "%s/%s", dir, name) >= (int)sizeof(src))
		return CS_EINVAL;
	if (mkdir(subdir, 0750) && errno != EEXIST)
		return CS_EIO;
	snprintf(final, sizeof(final), "%s", name);
	for (int i = 1; ; i++) {
		if (snprintf(dst, sizeof(dst), "%s/%s", subdir, final) >=
		    (int)sizeof(dst))
			return CS_EINVAL;
		if (lstat(dst, &st) != 0 && errno == ENOENT)
			break;
		if (i > 9999)
			return CS_EIO;
		snprintf(final, sizeof(final), "%s.%d", name, i);
	}
	if (reason) {
		char rname[NAME_MAX_LEN + 32];

		snprintf(rname, sizeof(rname), "%s.reason", final);
		if (write_atomic(subdir, rname, reason, strlen(reason)))
			return CS_EIO;
	}
	if (rename(src, dst))
		return CS_EIO;
	if (sync_dir(subdir) || sync_dir(dir))
		return CS_EIO;
	if (moved_to && !(*moved_to = cs_strdup(final)))
		return CS_ENOMEM;
	return CS_OK;
}

/* --- the inbox: a local directory or an SFTP folder ---------------------- */

struct files_inbox {
	char *where;		/* remote.inbox */
	long settle_s;
	struct sftp *sftp;	/* an sftp:// inbox, else NULL */
	char *stage_dir;	/* its private staging directory */
	char path[4096];	/* what files_inbox_fetch gave out */
	int staged;		/* path is a staging copy */
};

/* What this process saw of each SFTP inbox file. An inbox lives for one
 * cycle, these for the process: a file is ready once it is still what it
 * was settle_s seconds ago. The daemon is single-threaded. */
struct sighting {
	char *box;
	char *name;
	long long size, mtime;
	long long since_ms;	/* monotonic: first seen in this state */
	int listed;		/* in the latest listing */
};

static struct sighting *sightings;
static size_t nsightings, capsightings;

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sighting *sighting_find(const char *box, const char *name)
{
	for (size_t i = 0; i < nsightings; i++)
		if (!strcmp(sightings[i].name, name) &&
		    !strcmp(sightings[i].box, box))
			return &sightings[i];
	return NULL;
}

static void sighting_drop(size_t i)
{
	free(sightings[i].box);
	free(sightings[i].name);
	sightings[i] = sightings[--nsightings];
}

/* Records the file's state; *ready when it has not changed for settle_s. */
static int sighting_check(const char *box, const char *name, long long size,
			  long long mtime, long settle_s, long long now,
			  int *ready)
{
	struct sighting *s = sighting_find(box, name);

	*ready = 0;
	if (s && s->size == size && s->mtime == mtime) {
		s->listed = 1;
		*ready = now - s->since_ms >= (long long)settle_s * 1000;
		return CS_OK;
	}
	if (!s) {
		if (nsightings == capsightings) {
			size_t ncap = capsightings ? capsightings * 2 : 16;
			struct sighting *ns = realloc(sightings,
						      ncap * sizeof(*ns));

			if (!ns)
				return CS_ENOMEM;
			sightings = ns;
			capsightings = ncap;
		}
		s = &sightings[nsightings];
		memset(s, 0, sizeof(*s));
		s->box = cs_strdup(box);
		s->name = cs_strdup(name);
		if (!s->box || !s->name) {
			free(s->box);
			free(s->name);
			return CS_ENOMEM;
		}
		nsightings++;
	}
	s->size = size;
	s->mtime = mtime;
	s->since_ms = now;
	s->listed = 1;
	return CS_OK;
}

static void sighting_forget(const char *box, const char *name)
{
	struct sighting *s = sighting_find(box, name);

	if (s)
		sighting_drop((size_t)(s - sightings));
}

/* After a listing of box: what was not in it (taken, deleted, or another
 * inbox's before a reload) is forgotten. */
static void sightings_prune(const char *box)
{
	for (size_t i = nsightings; i-- > 0;) {
		if (sightings[i].listed && !strcmp(sightings[i].box, box))
			sightings[i].listed = 0;
		else
			sighting_drop(i);
	}
}

static int stage_dir_new(char **out)
{
	const char *base = getenv("STATE_DIRECTORY");
	char tmpl[4096];
	size_t blen;

	*out = NULL;
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	/* systemd lists several state directories separated by ':'. */
	blen = strcspn(base, ":");
	if (snprintf(tmpl, sizeof(tmpl), "%.*s/casesync-inbox.XXXXXX", (int)blen,
		     base) >= (int)sizeof(tmpl))
		return CS_EINVAL;
	if (!mkdtemp(tmpl)) {	/* mode 0700 */
		log_error("inbox_staging_failed", "problem=\"cannot create a "
			  "directory under %.*s\"", (int)blen, base);
		return CS_EIO;
	}
	if (!(*out = cs_strdup(tmpl))) {
		rmdir(tmpl);
		return CS_ENOMEM;
	}
	return CS_OK;
}

int files_inbox_open(const struct config *c, struct files_inbox **out)
{
	struct files_inbox *ib = calloc(1, sizeof(*ib));
	char err[512];
	int rc = CS_ENOMEM;

	*out = NULL;
	if (!ib || !(ib->where = cs_strdup(c->remote_inbox)))
		goto fail;
	ib->settle_s = (long)c->remote_inbox_settle_s;
	if (sftp_is_url(ib->where)) {
		ib->sftp = sftp_open(c, "remote.inbox", ib->where, err,
				     sizeof(err));
		if (!ib->sftp) {
			log_error("inbox_unusable", "problem=\"%s\"", err);
			rc = CS_EINVAL;
			goto fail;
		}
		if ((rc = stage_dir_new(&ib->stage_dir)))
			goto fail;
	}
	*out = ib;
	return CS_OK;
fail:
	files_inbox_close(ib);
	return rc;
}

void files_inbox_close(struct files_inbox *ib)
{
	if (!ib)
		return;
	files_inbox_release(ib);
	if (ib->stage_dir && rmdir(ib->stage_dir))
		log_warn("inbox_staging_left", "dir=\"%s\"", ib->stage_dir);
	free(ib->stage_dir);
	sftp_close(ib->sftp);
	free(ib->where);
	free(ib);
}

static int sftp_ready(struct files_inbox *ib, char ***names, size_t *n)
{
	char **all = NULL;
	size_t nall = 0, k = 0, i;
	long long now = mono_ms();
	int rc = sftp_list(ib->sftp, MAX_FILES, &all, &nall);

	*names = NULL;
	*n = 0;
	if (rc)
		return rc;
	for (i = 0; i < nall; i++) {
		long long size, mtime;
		int ready = 1;

		if (name_ok(all[i]) && ib->settle_s > 0) {
			rc = sftp_stat(ib->sftp, NULL, all[i], &size, &mtime);
			if (rc == CS_OK)
				rc = sighting_check(ib->where, all[i], size, mtime,
						    ib->settle_s, now, &ready);
			else if (rc == CS_ENOTFOUND) {
				rc = CS_OK;	/* gone meanwhile */
				ready = 0;
			}
			if (rc)
				break;
		}
		if (name_ok(all[i]) && ready)
			all[k++] = all[i];
		else
			free(all[i]);
	}
	if (rc) {
		/* [0, k) kept, [k, i) gone, [i, nall) untouched. */
		for (size_t j = i; j < nall; j++)
			free(all[j]);
		files_names_free(all, k);
		return rc;
	}
	sightings_prune(ib->where);
	if (k)
		qsort(all, k, sizeof(*all), cmp_names);
	*names = all;
	*n = k;
	return CS_OK;
}

int files_inbox_list(struct files_inbox *ib, char ***names, size_t *n)
{
	if (!ib->sftp)
		return files_inbox_scan(ib->where, ib->settle_s, names, n);
	return sftp_ready(ib, names, n);
}

/* The copy must be what settled: a writer that came back meanwhile makes
 * it a partial or mixed copy. */
static int sftp_copy_settled(struct files_inbox *ib, const char *name,
			     long long bytes)
{
	struct sighting *s;
	long long size, mtime;
	int rc = sftp_stat(ib->sftp, NULL, name, &size, &mtime);

	if (rc)
		return rc;
	s = sighting_find(ib->where, name);
	if (s && s->size == size && s->mtime == mtime && bytes == size)
		return CS_OK;
	log_info("inbox_file_changed", "file=\"%s\" action=\"left for a later "
		 "cycle\"", name);
	sighting_forget(ib->where, name);
	return CS_ECONFLICT;
}

int files_inbox_fetch(struct files_inbox *ib, const char *name,
		      const char **path)
{
	long long bytes = 0;
	int fd, rc;

	*path = NULL;
	files_inbox_release(ib);
	if (!ib->sftp) {
		if (snprintf(ib->path, sizeof(ib->path), "%s/%s", ib->where,
			     name) >= (int)sizeof(ib->path))
			return CS_EINVAL;
		*path = ib->path;
		return CS_OK;
	}
	if (!name_ok(name) ||
	    snprintf(ib->path, sizeof(ib->path), "%s/in.XXXXXX",
		     ib->stage_dir) >= (int)sizeof(ib->path))
		return CS_EINVAL;
	fd = mkostemp(ib->path, O_CLOEXEC);	/* mode 0600 */
	if (fd < 0)
		return CS_EIO;
	rc = sftp_get(ib->sftp, name, fd, &bytes);
	if (close(fd) && rc == CS_OK)
		rc = CS_EIO;
	if (rc == CS_OK && ib->settle_s > 0)
		rc = sftp_copy_settled(ib, name, bytes);
	if (rc) {
		unlink(ib->path);
		return rc;
	}
	ib->staged = 1;
	*path = ib->path;
	return CS_OK;
}

void files_inbox_release(struct files_inbox *ib)
{
	if (ib && ib->staged) {
		unlink(ib->path);
		ib->staged = 0;
	}
}

/* files_settle() over SFTP: rename(2) becomes an SFTP rename, which never
 * replaces a file, so a free name is looked for first. */
static int sftp_settle(struct files_inbox *ib, const char *name,
		       const char *sub, const char *reason)
{
	char final[NAME_MAX_LEN + 16];
	long long size, mtime;
	int rc = sftp_mkdir(ib->sftp, sub);

	snprintf(final, sizeof(final), "%s", name);
	for (int i = 1; rc == CS_OK; i++) {
		rc = sftp_stat(ib->sftp, sub, final, &size, &mtime);
		if (rc == CS_ENOTFOUND) {
			rc = CS_OK;
			break;
		}
		if (rc == CS_OK && i > 9999)
			rc = CS_EIO;
		snprintf(final, sizeof(final), "%s.%d", name, i);
	}
	if (rc == CS_OK && reason) {
		char rname[NAME_MAX_LEN + 32];

		snprintf(rname, sizeof(rname), "%s.reason", final);
		rc = sftp_put_atomic(ib->sftp, sub, rname, reason, strlen(reason));
	}
	if (rc == CS_OK)
		rc = sftp_rename(ib->sftp, NULL, name, sub, final);
	if (rc == CS_OK)
		sighting_forget(ib->where, name);
	return rc;
}

int files_inbox_move(struct files_inbox *ib, const char *name,
		     const char *sub, const char *reason)
{
	if (!ib->sftp)
		return files_settle(ib->where, name, sub, reason, NULL);
	if (!name_ok(name))
		return CS_EINVAL;
	return sftp_settle(ib, name, sub, reason);
}

int files_outbox_write(const struct config *c, const char *name,
		       const void *data, size_t len)
{
	struct sftp *s;
	char err[512];
	int rc;

	if (!sftp_is_url(c->remote_outbox))
		return files_write_atomic(c->remote_outbox, name, data, len);
	if (!name_ok(name))
		return CS_EINVAL;
	s = sftp_open(c, "remote.outbox", c->remote_outbox, err, sizeof(err));
	if (!s) {
		log_error("outbox_unusable", "problem=\"%s\"", err);
		return CS_EINVAL;
	}
	rc = sftp_put_atomic(s, NULL, name, data, len);
	sftp_close(s);
	return rc;
}
