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
