/* casesyncd.c - the sync daemon: one single-threaded loop that runs a cycle,
 * then waits for the poll interval or a NOTIFY from the capture triggers.
 * Signal handlers only set flags; the loop acts on them. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

#include "audit.h"
#include "config.h"
#include "diag.h"
#include "engine.h"
#include "failpoint.h"
#include "log.h"
#include "mapping.h"
#include "migrate.h"
#include "options.h"
#include "remote.h"
#include "store.h"
#include "transport_sftp.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: casesyncd [-c FILE] [--set section.key=value]... [--once]\n"
		"\n"
		"Keeps the provider's PostgreSQL case store and the council's system\n"
		"in agreement. Runs until SIGTERM; SIGHUP reloads config and mappings.\n"
		"\n"
		"  -c, --config FILE   config file (default $CASESYNC_CONFIG or %s)\n"
		"  --set S.K=V         override one config key for this run\n"
		"  --once              run one full cycle and exit (0 = success)\n"
		"  --help, --version\n", CONFIG_DEFAULT_PATH);
}

/* Everything a config reload replaces, built and validated as one. */
struct runtime {
	struct config *cfg;
	struct mapping_set *maps;
	struct remote *remote;
	struct audit_keys *keys;	/* the trail's HMAC key */
	struct audit_signkey *signer;	/* signs checkpoints; may be NULL */
};

static void runtime_free(struct runtime *rt)
{
	audit_signkey_free(rt->signer);
	audit_keys_free(rt->keys);
	remote_free(rt->remote);
	mapping_set_free(rt->maps);
	config_free(rt->cfg);
	memset(rt, 0, sizeof(*rt));
}

/* Loads config, mappings and remote; with cur set (a reload), keys that
 * need a restart keep their running values before anything is built. */
static int runtime_load(const struct options *o, const struct config *cur,
			struct runtime *rt)
{
	char err[256] = "";
	struct diag d;
	enum log_level lv;

	memset(rt, 0, sizeof(*rt));
	rt->cfg = options_load_config(o);
	if (!rt->cfg)
		return CS_EINVAL;
	if (cur && config_keep_fixed(rt->cfg, cur) < 0)
		goto fail;
	if (!*rt->cfg->mappings_use) {
		log_error("config_invalid", "problem=\"mappings.use is not set\"");
		goto fail;
	}
	diag_init(&d);
	rt->maps = mapping_set_load(rt->cfg->mappings_dir, rt->cfg->mappings_use, &d);
	if (!rt->maps) {
		for (int i = 0; i < d.n; i++)
			log_error("mapping_invalid", "problem=\"%s\"", d.msgs[i]);
		diag_free(&d);
		goto fail;
	}
	diag_free(&d);
	if (rt->cfg->remote_transport == TRANSPORT_FILES) {
		struct stat st;

		if (!sftp_is_url(rt->cfg->remote_inbox) &&
		    (stat(rt->cfg->remote_inbox, &st) || !S_ISDIR(st.st_mode))) {
			log_error("config_invalid", "problem=\"remote.inbox is not a "
				  "directory\"");
			goto fail;
		}
	} else if (!mapping_has_web_service(rt->maps, err, sizeof(err)) ||
		   !(rt->remote = remote_new(rt->cfg, err, sizeof(err)))) {
		log_error("config_invalid", "problem=\"%s\"", err);
		goto fail;
	}
	if (rt->remote)
		remote_set_cancel(rt->remote, &stop_requested);
	if (audit_keys_load(rt->cfg, &rt->keys, err, sizeof(err)) ||
	    (*rt->cfg->audit_signing_key_file &&
	     audit_signkey_load("audit.signing_key_file",
				rt->cfg->audit_signing_key_file, 1, &rt->signer,
				err, sizeof(err)))) {
		log_error("config_invalid", "problem=\"%s\"", err);
		goto fail;
	}
	if (log_parse_level(rt->cfg->daemon_log_level, &lv) == CS_OK)
		log_set_level(lv);
	return CS_OK;
fail:
	runtime_free(rt);
	return CS_EINVAL;
}

/* Capture must be installed as the mappings want it, or local changes
 * would be missed without a word. */
static int captures_ready(struct store *s, const struct mapping_set *maps)
{
	char err[512];

	for (size_t i = 0; i < maps->nentities; i++)
		if (store_capture_check(s, &maps->entities[i], err, sizeof(err))) {
			log_error("capture_not_ready", "problem=\"%s\"", err);
			return CS_EINVAL;
		}
	return CS_OK;
}

static struct store *connect_db(const struct config *cfg,
				const struct mapping_set *maps,
				const struct audit_keys *keys)
{
	char err[512];
	struct store *s = store_connect(cfg->db_conninfo,
					cfg->db_statement_timeout_ms, "casesyncd",
					err, sizeof(err));

	if (!s) {
		log_error("db_connect_failed", "problem=\"%s\"", err);
		return NULL;
	}
	if (migrate_check_current(s, err, sizeof(err))) {
		log_error("schema_mismatch", "problem=\"%s\"", err);
		store_close(s);
		return NULL;
	}
	if (store_check_role(s, err, sizeof(err))) {
		if (!cfg->db_allow_privileged_role) {
			log_error("db_role_refused", "problem=\"%s\" action=\"set "
				  "database.allow_privileged_role = true only for "
				  "development\"", err);
			store_close(s);
			return NULL;
		}
		log_warn("db_role_privileged", "problem=\"%s\"", err);
	}
	if (captures_ready(s, maps) || audit_attach(s, keys) ||
	    store_run(s, "listen", "LISTEN casesync_changes", 0, NULL)) {
		store_close(s);
		return NULL;
	}
	return s;
}

/* Waits up to seconds for a signal flag or a NOTIFY; 1 when woken early. */
static int wait_for_work(struct store *s, long seconds)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { PQsocket(s->conn), POLLIN, 0 };
		long left_ms;
		PGnotify *n;
		int woke = 0;

		if (stop_requested || reload_requested)
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = seconds * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
					    (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left_ms <= 0)
			return 0;
		if (poll(&pfd, 1, (int)(left_ms > 1000 ? 1000 : left_ms)) < 0 &&
		    errno != EINTR)
			return 0;
		if (!PQconsumeInput(s->conn))
			return 0;	/* connection lost: the cycle will say so */
		while ((n = PQnotifies(s->conn)) != NULL) {
			woke = 1;
			PQfreemem(n);
		}
		if (woke)
			return 1;
	}
}

/* An audit entry for a configuration reload: taken or refused, and the
 * mapping set before and after. Written only when the database is there
 * to take it; the log line is written either way. */
static void audit_reload(struct store *db, const struct runtime *rt,
			 const char *next_set, const char *outcome)
{
	json_t *ch = json_pack("{s:{s:s,s:s?}}", "mapping_set", "old",
			       rt->maps->name, "new", next_set);
	struct audit_entry a = {
		.actor = rt->cfg->daemon_instance, .action = "config_reload",
		.entity_name = "config", .changes = ch, .source_name = "person",
		.outcome = outcome,
	};

	if (ch && db && PQstatus(db->conn) == CONNECTION_OK &&
	    (store_begin(db, 0) || audit_write(db, &a) || store_commit(db))) {
		store_rollback(db);
		log_warn("reload_not_audited", "outcome=%s", outcome);
	}
	json_decref(ch);
}

/* Signs the head of the trail when it has moved and the interval has
 * passed since the last checkpoint (force: at a stop, whatever the time). */
static void maybe_checkpoint(const struct runtime *rt, struct store *db,
			     struct timespec *last, int force)
{
	struct audit_checkpoint cp;
	struct timespec now;
	int made = 0, rc;

	if (!rt->signer || !db || PQstatus(db->conn) != CONNECTION_OK ||
	    (!force && rt->cfg->audit_checkpoint_interval_s == 0))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && last->tv_sec &&
	    now.tv_sec - last->tv_sec < rt->cfg->audit_checkpoint_interval_s)
		return;
	*last = now;
	rc = audit_checkpoint_make(db, rt->signer, rt->cfg->daemon_instance,
				   rt->cfg->audit_checkpoint_dir, &cp, &made);
	if (rc == CS_OK && made)
		log_info("audit_checkpoint", "entries=%lld head=%s key=%s",
			 cp.entries, cp.head, cp.key_id);
	else if (rc != CS_OK && rc != CS_ENOTFOUND)
		log_error("audit_checkpoint_failed", "rc=%d", rc);
}

static void reload(const struct options *o, struct runtime *rt,
		   struct store *db)
{
	struct runtime next;

	log_info("reload_started", "config=%s", rt->cfg->path);
	if (runtime_load(o, rt->cfg, &next)) {
		log_error("reload_failed", "action=\"kept the running config\"");
		audit_reload(db, rt, NULL, "refused");
		return;
	}
	if (db && PQstatus(db->conn) == CONNECTION_OK &&
	    captures_ready(db, next.maps)) {
		log_error("reload_failed", "action=\"kept the running config\"");
		audit_reload(db, rt, next.maps->name, "refused");
		runtime_free(&next);
		return;
	}
	audit_reload(db, rt, next.maps->name, "applied");
	if (db && audit_attach(db, next.keys))
		audit_detach(db);	/* no entry can be written: changes fail */
	runtime_free(rt);
	*rt = next;
	log_info("reload_done", "mapping_set=%s entities=%zu", rt->maps->name,
		 rt->maps->nentities);
}

static void harden_process(void)
{
	struct rlimit no_core = { 0, 0 };

	/* Secrets live in this process's memory: never write it to disk. */
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int run(const struct options *o, int once)
{
	struct runtime rt;
	struct store *db = NULL;
	struct timespec last_cp = { 0, 0 };
	long backoff = 1;
	int rc = 1;

	if (runtime_load(o, NULL, &rt))
		return 1;
	log_info("starting", "version=%s instance=%s mapping_set=%s entities=%zu",
		 CASESYNC_VERSION, rt.cfg->daemon_instance, rt.maps->name,
		 rt.maps->nentities);
	while (!stop_requested) {
		struct engine en;
		struct engine_counts counts;
		int crc;

		if (reload_requested) {
			reload_requested = 0;
			reload(o, &rt, db);
		}
		if (!db || PQstatus(db->conn) != CONNECTION_OK) {
			store_close(db);
			db = connect_db(rt.cfg, rt.maps, rt.keys);
			if (!db) {
				if (once)
					break;
				log_warn("db_unavailable", "retry_in_s=%ld", backoff);
				sleep((unsigned)backoff);
				backoff = backoff < 60 ? backoff * 2 : 60;
				continue;
			}
			backoff = 1;
		}
		memset(&en, 0, sizeof(en));
		en.cfg = rt.cfg;
		en.maps = rt.maps;
		en.store = db;
		en.remote = rt.remote;
		en.actor = rt.cfg->daemon_instance;
		crc = engine_cycle(&en, &counts);
		if (crc == CS_OK)
			maybe_checkpoint(&rt, db, &last_cp, once);
		if (once) {
			rc = crc == CS_OK && counts.errors == 0 ? 0 : 1;
			break;
		}
		wait_for_work(db, crc == CS_OK ? (long)rt.cfg->daemon_poll_interval_s :
			      (backoff = backoff < 60 ? backoff * 2 : 60));
	}
	if (!once)
		rc = 0;
	if (!once)
		maybe_checkpoint(&rt, db, &last_cp, 1);
	log_info("stopped", "reason=%s", once ? "once" : "signal");
	store_close(db);
	runtime_free(&rt);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct sigaction sa;
	int once = 0, rc;

	for (int i = 1; i < argc; i++) {
		int t = options_take(&o, argc, argv, &i);

		if (t < 0)
			return 2;
		if (t)
			continue;
		if (!strcmp(argv[i], "--once")) {
			once = 1;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--list-failpoints") &&
			   failpoints_compiled()) {
			/* Test builds only (failpoint.h). */
			for (const char *const *n = failpoint_names; *n; n++)
				printf("%s\n", *n);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("casesyncd %s\n", CASESYNC_VERSION);
			return 0;
		} else {
			fprintf(stderr, "casesyncd: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	harden_process();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	rc = run(&o, once);
	curl_global_cleanup();
	return rc;
}
