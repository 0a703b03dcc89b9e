/* inifile.c - strict line-oriented INI parsing with line numbers. */
#include "inifile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *s, char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-' || c == ' ' || c == '/'))
			return 0;
	}
	return 1;
}

static int parse_line(char *p, char *end, char *section, size_t secsz,
		      const char *name, int lineno, inifile_cb cb, void *ud,
		      struct diag *d)
{
	char *s = trim(p, end), *eq;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);

		if (s[n - 1] != ']') {
			diag_add(d, name, lineno, "section header without closing ']'");
			return 0;
		}
		s = trim(s + 1, s + n - 1);
		if (!valid_name(s) || strlen(s) >= secsz) {
			diag_add(d, name, lineno, "invalid section name");
			return 0;
		}
		memcpy(section, s, strlen(s) + 1);
		return cb(ud, section, NULL, NULL, name, lineno, d);
	}
	eq = strchr(s, '=');
	if (!eq) {
		diag_add(d, name, lineno, "expected 'key = value'");
		return 0;
	}
	{
		char *key = trim(s, eq);
		char *val = trim(eq + 1, eq + 1 + strlen(eq + 1));

		if (!valid_name(key) || strchr(key, ' ')) {
			diag_add(d, name, lineno, "invalid key name");
			return 0;
		}
		return cb(ud, section, key, val, name, lineno, d);
	}
}

int inifile_parse_string(const char *name, const char *text, size_t len,
			 inifile_cb cb, void *ud, struct diag *d)
{
	char section[256] = "";
	char line[INIFILE_MAX_LINE + 1];
	size_t pos = 0;
	int lineno = 0;

	if (len > INIFILE_MAX_SIZE) {
		diag_add(d, name, 0, "file larger than %d bytes", INIFILE_MAX_SIZE);
		return CS_OK;
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (n > INIFILE_MAX_LINE) {
			diag_add(d, name, lineno, "line longer than %d bytes",
				 INIFILE_MAX_LINE);
		} else if (memchr(text + pos, '\0', n)) {
			diag_add(d, name, lineno, "NUL byte in line");
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			if (parse_line(line, line + n, section, sizeof(section),
				       name, lineno, cb, ud, d))
				return CS_OK;
		}
		pos += n + (nl ? 1 : 0);
	}
	return CS_OK;
}

int inifile_parse_file(const char *path, inifile_cb cb, void *ud,
		       struct diag *d)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0;
	int rc = CS_EIO;

	if (!f) {
		diag_add(d, path, 0, "cannot open: %s", strerror(errno));
		return CS_EIO;
	}
	text = malloc(INIFILE_MAX_SIZE + 1);
	if (!text) {
		rc = CS_ENOMEM;
		goto out;
	}
	len = fread(text, 1, INIFILE_MAX_SIZE + 1, f);
	if (ferror(f)) {
		diag_add(d, path, 0, "read error");
		goto out;
	}
	rc = inifile_parse_string(path, text, len, cb, ud, d);
out:
	free(text);
	fclose(f);
	return rc;
}
