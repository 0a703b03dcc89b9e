/* config.h - casesync.conf: one table of keys, defaults, types and flags.
 *
 * Loading order: built-in defaults, then the INI file, then every
 * "--set section.key=value". A config is immutable once loaded; a reload
 * builds a new one and swaps it only when it is valid. */
#ifndef CASESYNC_CONFIG_H
#define CASESYNC_CONFIG_H

#include "common.h"
#include "diag.h"

#define CONFIG_DEFAULT_PATH "/etc/casesync/casesync.conf"

enum remote_transport { TRANSPORT_HTTP, TRANSPORT_FILES };

struct config {
	char *path;			/* file it was read from */
	/* [database] */
	char *db_conninfo;
	long long db_statement_timeout_ms;
	int db_allow_privileged_role;
	/* [mappings] */
	char *mappings_dir;
	char *mappings_use;
	/* [remote] */
	int remote_transport;		/* enum remote_transport */
	long long remote_inbox_settle_s;
	char *remote_url;
	char *remote_inbox;
	char *remote_outbox;
	int remote_allow_http_loopback;
	char *remote_ca_file;
	char *remote_client_cert;
	char *remote_client_key;
	char *remote_oauth_token_url;	/* OAuth2 client credentials grant */
	char *remote_oauth_client_id;
	char *remote_oauth_client_secret_file; /* relative: $CREDENTIALS_DIRECTORY */
	char *remote_oauth_scope;
	long long remote_oauth_refresh_margin_s;
	long long remote_max_concurrent;
	char *remote_ssh_private_key;	/* sftp:// inbox/outbox */
	char *remote_ssh_known_hosts;
	long long remote_connect_timeout_ms;
	long long remote_timeout_ms;
	long long remote_max_response_bytes;
	long long remote_page_size;
	long long remote_max_retries;
	/* [sync] */
	long long sync_max_clock_skew_s;	/* the council's clock vs ours */
	long long sync_claim_lease_s;		/* how long a claim on changes holds */
	/* [audit] (relative file names: $CREDENTIALS_DIRECTORY) */
	char *audit_key_file;		/* HMAC key for the values' digests */
	char *audit_previous_key_files;	/* older keys, for verifying */
	char *audit_signing_key_file;	/* Ed25519 private key, PEM */
	char *audit_public_key_file;	/* Ed25519 public key, PEM */
	long long audit_checkpoint_interval_s;
	char *audit_checkpoint_dir;	/* signed checkpoints also go here */
	/* [daemon] */
	char *daemon_instance;
	long long daemon_poll_interval_s;
	char *daemon_log_level;
};

/* Where the config comes from: -c, else $CASESYNC_CONFIG, else the default. */
const char *config_default_path(void);

/* Reads path and applies overrides ("section.key=value", n of them). Problems
 * go to d; returns NULL when there were any (nothing half-loaded escapes).
 * The caller frees the result with config_free(). */
struct config *config_load(const char *path, char *const *overrides, int n,
			   struct diag *d);
void config_free(struct config *c);

/* True when key (section.key) may change on SIGHUP without a restart. */
int config_key_reloadable(const char *section_dot_key);

/* For a SIGHUP reload: every key without the reload flag keeps cur's value
 * in next (a warning names each key that would have changed; it takes a
 * restart). Returns how many keys were held back, or CS_ENOMEM. */
int config_keep_fixed(struct config *next, const struct config *cur);

/* Prints every key with its value (secrets are not in the config). */
void config_dump(const struct config *c, FILE *f);

#endif
