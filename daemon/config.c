/* config.c - table-driven casesync.conf parsing. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inifile.h"
#include "log.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL, CFG_TRANSPORT };

#define CFG_RELOAD 1	/* may change on SIGHUP */

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t offset;
	const char *def;
	long long min, max;	/* CFG_INT bounds */
	int flags;
};

#define OFF(f) offsetof(struct config, f)

static const struct cfg_key keys[] = {
	{ "database", "conninfo", CFG_STR, OFF(db_conninfo), "", 0, 0, 0 },
	{ "database", "statement_timeout_ms", CFG_INT,
	  OFF(db_statement_timeout_ms), "30000", 0, 3600000, CFG_RELOAD },
	{ "database", "allow_privileged_role", CFG_BOOL,
	  OFF(db_allow_privileged_role), "false", 0, 0, 0 },
	{ "mappings", "dir", CFG_STR, OFF(mappings_dir),
	  "/etc/casesync/mappings", 0, 0, CFG_RELOAD },
	{ "mappings", "use", CFG_STR, OFF(mappings_use), "", 0, 0, CFG_RELOAD },
	{ "remote", "transport", CFG_TRANSPORT, OFF(remote_transport), "http",
	  0, 0, 0 },
	{ "remote", "url", CFG_STR, OFF(remote_url), "", 0, 0, CFG_RELOAD },
	{ "remote", "inbox", CFG_STR, OFF(remote_inbox), "", 0, 0, CFG_RELOAD },
	{ "remote", "outbox", CFG_STR, OFF(remote_outbox), "", 0, 0, CFG_RELOAD },
	{ "remote", "inbox_settle_s", CFG_INT, OFF(remote_inbox_settle_s), "10",
	  0, 3600, CFG_RELOAD },
	{ "remote", "allow_http_loopback", CFG_BOOL,
	  OFF(remote_allow_http_loopback), "false", 0, 0, CFG_RELOAD },
	{ "remote", "ca_file", CFG_STR, OFF(remote_ca_file), "", 0, 0, CFG_RELOAD },
	{ "remote", "client_cert", CFG_STR, OFF(remote_client_cert), "", 0, 0,
	  CFG_RELOAD },
	{ "remote", "client_key", CFG_STR, OFF(remote_client_key), "", 0, 0,
	  CFG_RELOAD },
	{ "remote", "oauth_token_url", CFG_STR, OFF(remote_oauth_token_url), "",
	  0, 0, CFG_RELOAD },
	{ "remote", "oauth_client_id", CFG_STR, OFF(remote_oauth_client_id), "",
	  0, 0, CFG_RELOAD },
	{ "remote", "oauth_client_secret_file", CFG_STR,
	  OFF(remote_oauth_client_secret_file), "", 0, 0, CFG_RELOAD },
	{ "remote", "oauth_scope", CFG_STR, OFF(remote_oauth_scope), "", 0, 0,
	  CFG_RELOAD },
	{ "remote", "oauth_refresh_margin_s", CFG_INT,
	  OFF(remote_oauth_refresh_margin_s), "60", 0, 3600, CFG_RELOAD },
	{ "remote", "max_concurrent", CFG_INT, OFF(remote_max_concurrent), "4",
	  1, 64, CFG_RELOAD },
	{ "remote", "ssh_private_key", CFG_STR, OFF(remote_ssh_private_key), "",
	  0, 0, CFG_RELOAD },
	{ "remote", "ssh_known_hosts", CFG_STR, OFF(remote_ssh_known_hosts), "",
	  0, 0, CFG_RELOAD },
	{ "remote", "connect_timeout_ms", CFG_INT, OFF(remote_connect_timeout_ms),
	  "10000", 1, 600000, CFG_RELOAD },
	{ "remote", "timeout_ms", CFG_INT, OFF(remote_timeout_ms), "60000", 1,
	  3600000, CFG_RELOAD },
	{ "remote", "max_response_bytes", CFG_INT,
	  OFF(remote_max_response_bytes), "16777216", 1024, 1073741824,
	  CFG_RELOAD },
	{ "remote", "page_size", CFG_INT, OFF(remote_page_size), "100", 1, 1000,
	  CFG_RELOAD },
	{ "remote", "max_retries", CFG_INT, OFF(remote_max_retries), "4", 0, 20,
	  CFG_RELOAD },
	{ "sync", "max_clock_skew_s", CFG_INT, OFF(sync_max_clock_skew_s), "30",
	  0, 86400, CFG_RELOAD },
	{ "sync", "claim_lease_s", CFG_INT, OFF(sync_claim_lease_s), "120", 5,
	  86400, CFG_RELOAD },
	{ "audit", "key_file", CFG_STR, OFF(audit_key_file), "", 0, 0, 0 },
	{ "audit", "previous_key_files", CFG_STR, OFF(audit_previous_key_files),
	  "", 0, 0, 0 },
	{ "audit", "signing_key_file", CFG_STR, OFF(audit_signing_key_file), "",
	  0, 0, CFG_RELOAD },
	{ "audit", "public_key_file", CFG_STR, OFF(audit_public_key_file), "", 0,
	  0, CFG_RELOAD },
	{ "audit", "checkpoint_interval_s", CFG_INT,
	  OFF(audit_checkpoint_interval_s), "3600", 0, 604800, CFG_RELOAD },
	{ "audit", "checkpoint_dir", CFG_STR, OFF(audit_checkpoint_dir), "", 0, 0,
	  CFG_RELOAD },
	{ "daemon", "instance", CFG_STR, OFF(daemon_instance), "", 0, 0, 0 },
	{ "daemon", "poll_interval_s", CFG_INT, OFF(daemon_poll_interval_s), "60",
	  1, 86400, CFG_RELOAD },
	{ "daemon", "log_level", CFG_STR, OFF(daemon_log_level), "info", 0, 0,
	  CFG_RELOAD },
};

const char *config_default_path(void)
{
	const char *env = getenv("CASESYNC_CONFIG");

	return env && *env ? env : CONFIG_DEFAULT_PATH;
}

static const struct cfg_key *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].key, key) == 0)
			return &keys[i];
	return NULL;
}

static int section_known(const char *section)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(keys); i++)
		if (strcmp(keys[i].section, section) == 0)
			return 1;
	return 0;
}

int config_key_reloadable(const char *section_dot_key)
{
	const char *dot = strchr(section_dot_key, '.');
	char section[64];
	const struct cfg_key *k;

	if (!dot || (size_t)(dot - section_dot_key) >= sizeof(section))
		return 0;
	memcpy(section, section_dot_key, (size_t)(dot - section_dot_key));
	section[dot - section_dot_key] = '\0';
	k = find_key(section, dot + 1);
	return k && (k->flags & CFG_RELOAD);
}

/* Sets one key; on a bad value adds a problem naming the key, not the value. */
static int set_value(struct config *c, const struct cfg_key *k,
		     const char *value, const char *file, int line,
		     struct diag *d)
{
	char *base = (char *)c;

	switch (k->type) {
	case CFG_STR: {
		char **slot = (char **)(void *)(base + k->offset);
		char *v = cs_strdup(value);

		if (!v)
			return CS_ENOMEM;
		free(*slot);
		*slot = v;
		return CS_OK;
	}
	case CFG_INT: {
		long long v;

		if (cs_parse_int64(value, k->min, k->max, &v)) {
			diag_add(d, file, line,
				 "%s.%s: expected an integer from %lld to %lld",
				 k->section, k->key, k->min, k->max);
			return CS_EINVAL;
		}
		*(long long *)(void *)(base + k->offset) = v;
		return CS_OK;
	}
	case CFG_BOOL: {
		int *slot = (int *)(void *)(base + k->offset);

		if (!strcmp(value, "true") || !strcmp(value, "yes") ||
		    !strcmp(value, "on") || !strcmp(value, "1")) {
			*slot = 1;
		} else if (!strcmp(value, "false") || !strcmp(value, "no") ||
			   !strcmp(value, "off") || !strcmp(value, "0")) {
			*slot = 0;
		} else {
			diag_add(d, file, line, "%s.%s: expected true or false",
				 k->section, k->key);
			return CS_EINVAL;
		}
		return CS_OK;
	}
	case CFG_TRANSPORT: {
		int *slot = (int *)(void *)(base + k->offset);

		if (!strcmp(value, "http")) {
			*slot = TRANSPORT_HTTP;
		} else if (!strcmp(value, "files")) {
			*slot = TRANSPORT_FILES;
		} else {
			diag_add(d, file, line, "%s.%s: expected http or files",
				 k->section, k->key);
			return CS_EINVAL;
		}
		return CS_OK;
	}
	}
	return CS_EINVAL;
}

struct parse_state {
	struct config *c;
	int seen[CS_ARRAY_LEN(keys)];
};

static int on_ini(void *ud, const char *section, const char *key,
		  const char *value, const char *file, int line, struct diag *d)
{
	struct parse_state *st = ud;
	const struct cfg_key *k;

	if (!key) {
		if (!section_known(section))
			diag_add(d, file, line, "unknown section [%s]", section);
		return 0;
	}
	if (!*section) {
		diag_add(d, file, line, "key '%s' outside any section", key);
		return 0;
	}
	if (!section_known(section))
		return 0;	/* already reported at the header */
	k = find_key(section, key);
	if (!k) {
		diag_add(d, file, line, "unknown key '%s' in [%s]", key, section);
		return 0;
	}
	if (st->seen[k - keys]++) {
		diag_add(d, file, line, "%s.%s set twice", section, key);
		return 0;
	}
	return set_value(st->c, k, value, file, line, d) == CS_ENOMEM;
}

static int apply_override(struct config *c, const char *ov, struct diag *d)
{
	const char *dot = strchr(ov, '.'), *eq = strchr(ov, '=');
	char section[64], key[64];
	const struct cfg_key *k;
	size_t sl, kl;

	if (!dot || !eq || dot > eq) {
		diag_add(d, "--set", 0, "expected section.key=value");
		return CS_EINVAL;
	}
	sl = (size_t)(dot - ov);
	kl = (size_t)(eq - dot - 1);
	if (sl >= sizeof(section) || kl >= sizeof(key)) {
		diag_add(d, "--set", 0, "key name too long");
		return CS_EINVAL;
	}
	memcpy(section, ov, sl);
	section[sl] = '\0';
	memcpy(key, dot + 1, kl);
	key[kl] = '\0';
	k = find_key(section, key);
	if (!k) {
		diag_add(d, "--set", 0, "unknown key '%s.%s'", section, key);
		return CS_EINVAL;
	}
	return set_value(c, k, eq + 1, "--set", 0, d);
}

/* A password keyword, or a URI whose user-info has "user:secret@". */
static int conninfo_has_password(const char *ci)
{
	const char *p = ci, *at, *slash;

	for (p = strstr(ci, "password"); p; p = strstr(p + 1, "password")) {
		const char *q = p + 8;

		if (p != ci && !(p[-1] == ' ' || p[-1] == '\t' || p[-1] == '?' ||
				 p[-1] == '&'))
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		if (*q == '=')
			return 1;
	}
	if (strncmp(ci, "postgresql://", 13) && strncmp(ci, "postgres://", 11))
		return 0;
	p = strstr(ci, "://") + 3;
	at = strchr(p, '@');
	slash = strchr(p, '/');
	if (!at || (slash && slash < at))
		return 0;
	return memchr(p, ':', (size_t)(at - p)) != NULL;
}

static void validate(struct config *c, struct diag *d)
{
	const char *f = c->path;

	if (conninfo_has_password(c->db_conninfo)) {
		diag_add(d, f, 0, "database.conninfo must not hold a password: "
			 "use a passfile (passfile= or PGPASSFILE) or "
			 "$CREDENTIALS_DIRECTORY");
	}
	if (c->remote_transport == TRANSPORT_FILES &&
	    (!*c->remote_inbox || !*c->remote_outbox))
		diag_add(d, f, 0, "remote.transport = files needs remote.inbox "
			 "and remote.outbox");
	if (*c->remote_oauth_token_url &&
	    (!*c->remote_oauth_client_id ||
	     !*c->remote_oauth_client_secret_file))
		diag_add(d, f, 0, "remote.oauth_token_url needs "
			 "remote.oauth_client_id and "
			 "remote.oauth_client_secret_file");
	if (!strncmp(c->remote_inbox, "sftp://", 7) ||
	    !strncmp(c->remote_outbox, "sftp://", 7)) {
		if (!*c->remote_ssh_known_hosts || !*c->remote_ssh_private_key)
			diag_add(d, f, 0, "an sftp:// inbox or outbox needs "
				 "remote.ssh_known_hosts and "
				 "remote.ssh_private_key");
	}
	if (strchr(c->remote_url, '?'))
		diag_add(d, f, 0, "remote.url must not carry a query string");
	{
		enum log_level lv;

		if (log_parse_level(c->daemon_log_level, &lv))
			diag_add(d, f, 0, "daemon.log_level: expected error, warn, "
				 "info or debug");
	}
	if (!*c->daemon_instance) {
		char host[256];

		if (gethostname(host, sizeof(host)) != 0)
			cs_strlcpy(host, "casesyncd", sizeof(host));
		host[sizeof(host) - 1] = '\0';
		free(c->daemon_instance);
		c->daemon_instance = cs_strdup(host);
	}
}

struct config *config_load(const char *path, char *const *overrides, int n,
			   struct diag *d)
{
	struct parse_state st;
	struct config *c = calloc(1, sizeof(*c));
	int before = d->total;

	if (!c)
		return NULL;
	memset(&st, 0, sizeof(st));
	st.c = c;
	c->path = cs_strdup(path);
	for (size_t i = 0; i < CS_ARRAY_LEN(keys); i++)
		if (set_value(c, &keys[i], keys[i].def, "built-in", 0, d))
			goto fail;
	if (inifile_parse_file(path, on_ini, &st, d) != CS_OK)
		goto fail;
	for (int i = 0; i < n; i++)
		(void)apply_override(c, overrides[i], d);
	validate(c, d);
	if (d->total != before)
		goto fail;
	return c;
fail:
	config_free(c);
	return NULL;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CS_ARRAY_LEN(keys); i++)
		if (keys[i].type == CFG_STR)
			free(*(char **)(void *)((char *)c + keys[i].offset));
	free(c->path);
	free(c);
}

static int value_equal(const struct cfg_key *k, const struct config *a,
		       const struct config *b)
{
	const char *pa = (const char *)a + k->offset;
	const char *pb = (const char *)b + k->offset;

	switch (k->type) {
	case CFG_STR:
		return cs_streq(*(char *const *)(const void *)pa,
				*(char *const *)(const void *)pb);
	case CFG_INT:
		return *(const long long *)(const void *)pa ==
		       *(const long long *)(const void *)pb;
	case CFG_BOOL:
	case CFG_TRANSPORT:
		return *(const int *)(const void *)pa == *(const int *)(const void *)pb;
	}
	return 0;
}

int config_keep_fixed(struct config *next, const struct config *cur)
{
	int held = 0;

	for (size_t i = 0; i < CS_ARRAY_LEN(keys); i++) {
		const struct cfg_key *k = &keys[i];
		char *dst = (char *)next + k->offset;
		const char *src = (const char *)cur + k->offset;

		if ((k->flags & CFG_RELOAD) || value_equal(k, next, cur))
			continue;
		log_warn("reload_needs_restart", "key=%s.%s action=\"kept the "
			 "running value\"", k->section, k->key);
		held++;
		switch (k->type) {
		case CFG_STR: {
			char *v = cs_strdup(*(char *const *)(const void *)src);

			if (!v)
				return CS_ENOMEM;
			free(*(char **)(void *)dst);
			*(char **)(void *)dst = v;
			break;
		}
		case CFG_INT:
			*(long long *)(void *)dst = *(const long long *)(const void *)src;
			break;
		case CFG_BOOL:
		case CFG_TRANSPORT:
			*(int *)(void *)dst = *(const int *)(const void *)src;
			break;
		}
	}
	return held;
}

void config_dump(const struct config *c, FILE *f)
{
	const char *cur = "";

	for (size_t i = 0; i < CS_ARRAY_LEN(keys); i++) {
		const struct cfg_key *k = &keys[i];
		const char *base = (const char *)c;

		if (strcmp(cur, k->section)) {
			fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
			cur = k->section;
		}
		switch (k->type) {
		case CFG_STR:
			fprintf(f, "%s = %s\n", k->key,
				*(char *const *)(const void *)(base + k->offset));
			break;
		case CFG_INT:
			fprintf(f, "%s = %lld\n", k->key,
				*(const long long *)(const void *)(base + k->offset));
			break;
		case CFG_BOOL:
			fprintf(f, "%s = %s\n", k->key,
				*(const int *)(const void *)(base + k->offset) ?
				"true" : "false");
			break;
		case CFG_TRANSPORT:
			fprintf(f, "%s = %s\n", k->key,
				*(const int *)(const void *)(base + k->offset) ==
				TRANSPORT_FILES ? "files" : "http");
			break;
		}
	}
}
