/* casesync.c - the command-line tool for operators, data leads and
 * auditors: migrate, check-config, mapping render, import, reconcile,
 * status, conflicts, audit (trace, export, verify, checkpoint, erase).
 * Exit 2 is a usage error. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "cli_audit.h"
#include "cli_conflicts.h"
#include "config.h"
#include "diag.h"
#include "log.h"
#include "mapping.h"
#include "migrate.h"
#include "options.h"
#include "engine.h"
#include "importer.h"
#include "reconcile.h"
#include "render.h"
#include "status.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: casesync [-c FILE] [--set section.key=value]... COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  migrate [--with-demo-store]  install or upgrade schema casesync\n"
		"                               (and the reference store casestore)\n"
		"  check-config                 validate the config and every mapping\n"
		"  mapping render --entity E --from local|remote FILE\n"
		"                               show one record mapped to the other side\n"
		"  import --mapping NAME [--schema XSD] FILE\n"
		"                               take one council extract file in\n"
		"  reconcile [--entity E] [--format text|csv|json|html] [--output F]\n"
		"            [--all] [--show-values]\n"
		"                               compare both sides fully (0 in sync,\n"
		"                               1 differences, 2 no answer)\n"
		"  status [--format text|json]  counts per entity, backlog, last cycle\n"
		"  conflicts list|show ID|resolve ID (--take local|remote |\n"
		"            --value FIELD=VALUE...) --reason TEXT\n"
		"                               the records held for a person\n"
		"  audit trace ENTITY KEY [--format text|json]\n"
		"                               a record's history on both systems\n"
		"  audit export --format jsonl|csv [--from T] [--to T] [--redact]\n"
		"                               the trail for an auditor's own tools\n"
		"  audit verify [--checkpoint FILE]...\n"
		"                               check the chain, values and checkpoints\n"
		"                               (0 intact, 1 first bad entry, 2 unchecked)\n"
		"  audit checkpoint [--output FILE]\n"
		"                               sign the trail's head now, to keep elsewhere\n"
		"  audit erase --before T [--dry-run]\n"
		"                               erase values past their retention\n"
		"\n"
		"  -c, --config FILE   config file (default $CASESYNC_CONFIG or %s)\n"
		"  --set S.K=V         override one config key for this run\n"
		"Every command takes --help. Exit status 2 means a usage error.\n",
		CONFIG_DEFAULT_PATH);
}

static int wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

/* Change capture follows the mappings: every mapped table gets it, and a
 * table no longer mapped loses it. */
static int install_captures(struct store *s, const struct config *cfg)
{
	struct diag d;
	struct mapping_set *set;
	struct capture_info *have = NULL;
	size_t nhave = 0;
	int rc = CS_EIO;

	diag_init(&d);
	set = mapping_set_load(cfg->mappings_dir, cfg->mappings_use, &d);
	if (!set) {
		diag_print(&d, stderr);
		diag_free(&d);
		return CS_EINVAL;
	}
	diag_free(&d);
	for (size_t i = 0; i < set->nentities; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(set->entities[i].local_table,
				    set->entities[j].local_table)) {
				fprintf(stderr, "casesync: entities %s and %s both map "
					"table %s; change capture needs one entity "
					"per table\n", set->entities[j].name,
					set->entities[i].name,
					set->entities[i].local_table);
				goto out;
			}
	/* All of it or none of it. */
	if (store_begin(s, 0))
		goto out;
	if (store_captures_stale(s, set, &have, &nhave))
		goto out;
	for (size_t k = 0; k < nhave; k++) {
		if (store_remove_capture(s, have[k].table)) {
			fprintf(stderr, "casesync: cannot remove change capture from "
				"%s\n", have[k].label);
			goto out;
		}
		printf("change capture removed from %s (entity %s is no longer "
		       "mapped there)\n", have[k].label, have[k].entity);
	}
	for (size_t i = 0; i < set->nentities; i++) {
		const struct map_entity *e = &set->entities[i];
		int changed = 0;

		if (store_install_capture(s, e, &changed)) {
			fprintf(stderr, "casesync: cannot install change capture on %s "
				"(entity %s): does the table exist, with every mapped "
				"column, and may this role alter it?\n",
				e->local_table, e->name);
			goto out;
		}
		printf("change capture on %s (entity %s)%s\n", e->local_table,
		       e->name, changed ? "" : ": up to date");
	}
	if (store_commit(s))
		goto out;
	rc = CS_OK;
out:
	if (rc)
		store_rollback(s);
	store_captures_free(have, nhave);
	mapping_set_free(set);
	return rc;
}

static int cmd_migrate(const struct options *o, int argc, char **argv)
{
	struct config *cfg;
	struct store *s;
	char err[512];
	int demo = 0, rc = 1;

	if (wants_help(argc, argv)) {
		printf("usage: casesync migrate [--with-demo-store]\n\n"
		       "Installs or upgrades schema casesync (transactional and\n"
		       "idempotent), and with --with-demo-store the reference provider\n"
		       "store casestore, and the roles casesync_daemon, casesync_auditor\n"
		       "and casesync_datalead. When mappings.use is set, installs change\n"
		       "capture and the roles' grants on every mapped table, and removes\n"
		       "them from tables no longer mapped. Run it as the owner of the\n"
		       "schemas, with CREATEROLE (docs/database.md).\n");
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--with-demo-store")) {
			demo = 1;
		} else {
			fprintf(stderr, "casesync migrate: unknown argument '%s'\n",
				argv[i]);
			return 2;
		}
	}
	cfg = options_load_config(o);
	if (!cfg)
		return 1;
	s = store_connect(cfg->db_conninfo, cfg->db_statement_timeout_ms,
			  "casesync-migrate", err, sizeof(err));
	if (!s) {
		fprintf(stderr, "casesync: cannot connect to the database: %s\n", err);
		config_free(cfg);
		return 1;
	}
	if (migrate_component(s, "casesync", stdout))
		goto out;
	if (demo && migrate_component(s, "casestore", stdout))
		goto out;
	/* Entries written before the chain existed are chained now, with the
	 * key, which is read only when there are such entries. */
	switch (audit_seal_legacy(s, NULL, NULL)) {
	case CS_OK:
		break;
	case CS_EINVAL: {
		struct audit_keys *keys = NULL;
		int krc = *cfg->audit_key_file ?
			audit_keys_load(cfg, &keys, err, sizeof(err)) : CS_OK;

		if (krc) {
			fprintf(stderr, "casesync: %s\n", err);
			goto out;
		}
		krc = audit_seal_legacy(s, keys, stdout);
		audit_keys_free(keys);
		if (krc)
			goto out;
		break;
	}
	default:
		goto out;
	}
	if (!*cfg->mappings_use)
		printf("mappings.use is empty: change capture left as it is\n");
	else if (install_captures(s, cfg))
		goto out;
	rc = 0;
out:
	store_close(s);
	config_free(cfg);
	return rc;
}

static int cmd_import(const struct options *o, int argc, char **argv)
{
	const char *set_name = NULL, *xsd = NULL, *file = NULL;
	struct config *cfg = NULL;
	struct mapping_set *set = NULL;
	struct store *s = NULL;
	struct engine en;
	struct import_result res;
	struct audit_keys *keys = NULL;
	struct diag d;
	char err[1024] = "out of memory";
	int rc = 1, member = 0;

	if (wants_help(argc, argv)) {
		printf("usage: casesync import --mapping NAME [--schema XSD] FILE\n\n"
		       "Takes one extract file (XML) from the council into the\n"
		       "provider store, the daemon's way: each record is merged with\n"
		       "what the provider holds, applied and audited, nested\n"
		       "collections matched by the mapping's match keys. A record\n"
		       "with a value outside its type or code list is quarantined and\n"
		       "the rest proceeds. A file that is not well-formed, has a\n"
		       "DOCTYPE or fails the schema (--schema, or the mapping's\n"
		       "schema) is rejected whole: nothing is written.\n"
		       "Exit 0 when applied, 1 when rejected, 2 on a usage error.\n"
		       "Run it with the daemon's database role.\n");
		return 0;
	}
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--mapping") && i + 1 < argc) {
			set_name = argv[++i];
		} else if (!strcmp(argv[i], "--schema") && i + 1 < argc) {
			xsd = argv[++i];
		} else if (argv[i][0] != '-' && !file) {
			file = argv[i];
		} else {
			fprintf(stderr, "casesync import: unexpected argument '%s'\n",
				argv[i]);
			return 2;
		}
	}
	if (!set_name || !file) {
		fprintf(stderr, "usage: casesync import --mapping NAME [--schema XSD] "
			"FILE\n");
		return 2;
	}
	cfg = options_load_config(o);
	if (!cfg)
		return 1;
	diag_init(&d);
	set = mapping_set_load(cfg->mappings_dir, set_name, &d);
	if (!set) {
		diag_print(&d, stderr);
		diag_free(&d);
		goto out;
	}
	diag_free(&d);
	s = store_connect(cfg->db_conninfo, cfg->db_statement_timeout_ms,
			  "casesync-import", err, sizeof(err));
	if (!s) {
		fprintf(stderr, "casesync: cannot connect to the database: %s\n", err);
		goto out;
	}
	if (migrate_check_current(s, err, sizeof(err)) ||
	    audit_keys_load(cfg, &keys, err, sizeof(err)) ||
	    audit_attach(s, keys)) {
		fprintf(stderr, "casesync: %s\n", err);
		goto out;
	}
	{
		PGresult *r = store_exec(s, "import_role",
					 "SELECT pg_has_role(session_user, "
					 "'casesync_daemon', 'MEMBER')", 0, NULL);

		member = r && PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
	}
	if (!member)
		fprintf(stderr, "casesync import: warning: not running as a member of "
			"casesync_daemon, so what it applies will be captured as "
			"provider changes, and its audit entries are refused unless "
			"they name this role\n");
	memset(&en, 0, sizeof(en));
	en.cfg = cfg;
	en.maps = set;
	en.store = s;
	en.actor = *cfg->daemon_instance ? cfg->daemon_instance : "casesync-import";
	en.per_entity = calloc(set->nentities + 1, sizeof(*en.per_entity));
	if (!en.per_entity)
		goto out;
	switch (import_file(&en, file, file, xsd, NULL, NULL, &res, err,
			    sizeof(err))) {
	case CS_OK:
		for (size_t i = 0; i < set->nentities; i++) {
			const struct engine_entity_counts *k = &en.per_entity[i];

			if (!k->created && !k->updated && !k->unchanged &&
			    !k->conflicts)
				continue;
			printf("%-14s %6ld created %6ld updated %6ld unchanged "
			       "%6ld conflicts\n", set->entities[i].name, k->created,
			       k->updated, k->unchanged, k->conflicts);
		}
		printf("%ld records read, %ld applied, %ld quarantined\n",
		       res.records, res.applied, res.quarantined);
		rc = 0;
		break;
	case CS_EINVAL:
		fprintf(stderr, "casesync import: rejected, nothing written: %s\n",
			err);
		if (import_audit_rejected(&en, file, file))
			fprintf(stderr, "casesync import: the rejection could not be "
				"audited\n");
		break;
	default:
		fprintf(stderr, "casesync import: failed, nothing written: %s\n",
			*err ? err : "the database failed");
		break;
	}
	free(en.per_entity);
out:
	store_close(s);
	audit_keys_free(keys);
	mapping_set_free(set);
	config_free(cfg);
	return rc;
}

/* Validates every mapping set (sub-directory) under mappings.dir. */
static int check_all_mappings(const struct config *cfg, struct diag *d,
			      int *sets)
{
	DIR *dh = opendir(cfg->mappings_dir);
	struct dirent *de;

	*sets = 0;
	if (!dh) {
		diag_add(d, cfg->mappings_dir, 0, "mappings.dir cannot be opened");
		return CS_EIO;
	}
	while ((de = readdir(dh)) != NULL) {
		char path[4096];
		struct stat st;
		struct mapping_set *set;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", cfg->mappings_dir,
			     de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		set = mapping_set_load(cfg->mappings_dir, de->d_name, d);
		if (set) {
			printf("mapping set %s: %zu entit%s ok\n", set->name,
			       set->nentities, set->nentities == 1 ? "y" : "ies");
			mapping_set_free(set);
		}
		/* The model is shared: report its problems once. */
		if (!set && d->total && strstr(diag_first(d), MAPPING_MODEL_FILE))
			break;
		(*sets)++;
	}
	closedir(dh);
	return CS_OK;
}

/* The audit keys, when this process can reach them: a relative name is a
 * systemd credential, there only for the service. */
static void check_audit_keys(const struct config *cfg, const char *path,
			     struct diag *d)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	int can = !creds || !*creds;
	char err[512];

	if (!*cfg->audit_key_file) {
		diag_warn(d, path, 0, "audit.key_file is not set: casesyncd will "
			  "not start without the audit trail's key (docs/audit.md)");
		return;
	}
	if (cfg->audit_key_file[0] == '/' || !can) {
		struct audit_keys *k = NULL;

		if (audit_keys_load(cfg, &k, err, sizeof(err)))
			diag_add(d, path, 0, "%s", err);
		else
			printf("audit key %s: ok\n", audit_keys_current_id(k));
		audit_keys_free(k);
	}
	if (*cfg->audit_signing_key_file &&
	    (cfg->audit_signing_key_file[0] == '/' || !can)) {
		struct audit_signkey *k = NULL;

		if (audit_signkey_load("audit.signing_key_file",
				       cfg->audit_signing_key_file, 1, &k, err,
				       sizeof(err)))
			diag_add(d, path, 0, "%s", err);
		else
			printf("audit signing key %s: ok\n", audit_signkey_id(k));
		audit_signkey_free(k);
	}
}

static int cmd_check_config(const struct options *o, int argc, char **argv)
{
	const char *path = o->config_path ? o->config_path : config_default_path();
	struct config *cfg;
	struct diag d;
	int sets = 0, rc;

	if (wants_help(argc, argv)) {
		printf("usage: casesync check-config\n\n"
		       "Validates the config file and every mapping set under\n"
		       "mappings.dir. Exit 0 when valid, 1 with the problems listed\n"
		       "as FILE:LINE: message.\n");
		return 0;
	}
	if (argc > 0) {
		fprintf(stderr, "casesync check-config: unexpected argument '%s'\n",
			argv[0]);
		return 2;
	}
	diag_init(&d);
	cfg = config_load(path, o->sets, o->nsets, &d);
	if (cfg) {
		printf("config %s: ok\n", path);
		check_audit_keys(cfg, path, &d);
		(void)check_all_mappings(cfg, &d, &sets);
		if (sets == 0 && d.total == 0)
			diag_add(&d, cfg->mappings_dir, 0, "no mapping sets found");
		if (*cfg->mappings_use) {
			char p[4096];
			struct stat st;

			if (snprintf(p, sizeof(p), "%s/%s", cfg->mappings_dir,
				     cfg->mappings_use) >= (int)sizeof(p) ||
			    stat(p, &st) || !S_ISDIR(st.st_mode))
				diag_add(&d, path, 0, "mappings.use names a set that "
					 "does not exist under mappings.dir");
		}
	}
	rc = d.total ? 1 : 0;
	diag_print(&d, stderr);
	if (rc)
		fprintf(stderr, "%d problem%s found\n", d.total,
			d.total == 1 ? "" : "s");
	if (d.warnings)
		fprintf(stderr, "%d warning%s\n", d.warnings,
			d.warnings == 1 ? "" : "s");
	diag_free(&d);
	config_free(cfg);
	return rc;
}

static char *read_input(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *data;

	if (!f)
		return NULL;
	data = malloc(RENDER_INPUT_MAX + 1);
	if (data) {
		*len = fread(data, 1, RENDER_INPUT_MAX + 1, f);
		if (ferror(f) || *len > RENDER_INPUT_MAX) {
			free(data);
			data = NULL;
		} else {
			data[*len] = '\0';
		}
	}
	if (f != stdin)
		fclose(f);
	return data;
}

static int render_usage(FILE *f, int rc)
{
	fprintf(f, "usage: casesync mapping render --entity E --from local|remote\n"
		"                              [--mapping NAME] [--canonical] [--all] FILE\n\n"
		"Reads one record as one side holds it and prints it as the other\n"
		"side would receive it, through the mapping set mappings.use (or\n"
		"NAME), without touching either system. FILE is a JSON row of\n"
		"columns (from local; child collections as arrays named after the\n"
		"child entity) or the council's payload (from remote: JSON, or XML\n"
		"for an xml mapping). '-' reads standard input.\n"
		"  --canonical  print the canonical record instead\n"
		"  --all        include fields whose direction keeps them from\n"
		"               flowing to the other side\n"
		"Exit 0 when the record maps, 1 with the problem named.\n");
	return rc;
}

static int cmd_mapping(const struct options *o, int argc, char **argv)
{
	const char *entity = NULL, *from = NULL, *file = NULL, *set_name = NULL;
	int canonical = 0, all = 0, rc = 1;
	struct config *cfg = NULL;
	struct mapping_set *set = NULL;
	const struct map_entity *e;
	struct record *r = NULL;
	struct diag d;
	char *data = NULL, *out = NULL, err[512] = "out of memory";
	size_t len = 0;
	enum side side;

	if (argc < 1 || wants_help(argc, argv))
		return render_usage(argc < 1 ? stderr : stdout, argc < 1 ? 2 : 0);
	if (strcmp(argv[0], "render")) {
		fprintf(stderr, "casesync mapping: unknown subcommand '%s'\n",
			argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char **slot = !strcmp(argv[i], "--entity") ? &entity :
			!strcmp(argv[i], "--from") ? &from :
			!strcmp(argv[i], "--mapping") ? &set_name : NULL;
		if (slot) {
			if (i + 1 >= argc)
				return render_usage(stderr, 2);
			*slot = argv[++i];
		} else if (!strcmp(argv[i], "--canonical")) {
			canonical = 1;
		} else if (!strcmp(argv[i], "--all")) {
			all = 1;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "casesync mapping render: unknown option "
				"'%s'\n", argv[i]);
			return 2;
		} else if (!file) {
			file = argv[i];
		} else {
			return render_usage(stderr, 2);
		}
	}
	if (!entity || !from || !file ||
	    (strcmp(from, "local") && strcmp(from, "remote")))
		return render_usage(stderr, 2);
	side = !strcmp(from, "local") ? SIDE_LOCAL : SIDE_REMOTE;
	cfg = options_load_config(o);
	if (!cfg)
		return 1;
	if (!set_name)
		set_name = cfg->mappings_use;
	if (!*set_name) {
		fprintf(stderr, "casesync mapping render: no mapping set (set "
			"mappings.use or give --mapping NAME)\n");
		goto out;
	}
	diag_init(&d);
	set = mapping_set_load(cfg->mappings_dir, set_name, &d);
	if (!set)
		diag_print(&d, stderr);
	diag_free(&d);
	if (!set)
		goto out;
	e = mapping_find_entity(set, entity);
	if (!e) {
		fprintf(stderr, "casesync mapping render: mapping set %s has no "
			"entity '%s'\n", set->name, entity);
		goto out;
	}
	data = read_input(file, &len);
	if (!data) {
		fprintf(stderr, "casesync mapping render: %s: cannot be read (or "
			"larger than %d bytes)\n", file, RENDER_INPUT_MAX);
		goto out;
	}
	if (render_parse(e, side, data, len, &r, err, sizeof(err))) {
		fprintf(stderr, "casesync mapping render: %s: %s\n", file, err);
		goto out;
	}
	if (canonical) {
		out = render_canonical(r);
	} else if (render_emit(r, side == SIDE_LOCAL ? SIDE_REMOTE : SIDE_LOCAL,
			       all, &out, err, sizeof(err))) {
		fprintf(stderr, "casesync mapping render: %s: %s\n", file, err);
		goto out;
	}
	if (!out) {
		fprintf(stderr, "casesync mapping render: out of memory\n");
		goto out;
	}
	fputs(out, stdout);
	if (*out && out[strlen(out) - 1] != '\n')
		putchar('\n');
	rc = 0;
out:
	free(out);
	free(data);
	record_free(r);
	mapping_set_free(set);
	config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	int i;

	for (i = 1; i < argc; i++) {
		int t = options_take(&o, argc, argv, &i);

		if (t < 0)
			return 2;
		if (!t)
			break;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
	    !strcmp(argv[i], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[i], "--version")) {
		printf("casesync %s\n", CASESYNC_VERSION);
		return 0;
	}
	/* Shared options may also follow the command name. */
	{
		char *rest[256];
		int n = 0;

		for (int j = i + 1; j < argc; j++) {
			int t = options_take(&o, argc, argv, &j);

			if (t < 0)
				return 2;
			if (!t && n < (int)CS_ARRAY_LEN(rest))
				rest[n++] = argv[j];
		}
		if (!strcmp(argv[i], "migrate"))
			return cmd_migrate(&o, n, rest);
		if (!strcmp(argv[i], "check-config"))
			return cmd_check_config(&o, n, rest);
		if (!strcmp(argv[i], "mapping"))
			return cmd_mapping(&o, n, rest);
		if (!strcmp(argv[i], "import"))
			return cmd_import(&o, n, rest);
		if (!strcmp(argv[i], "conflicts"))
			return cmd_conflicts(&o, n, rest);
		if (!strcmp(argv[i], "audit"))
			return cmd_audit(&o, n, rest);
		if (!strcmp(argv[i], "reconcile"))
			return cmd_reconcile(&o, n, rest);
		if (!strcmp(argv[i], "status"))
			return cmd_status(&o, n, rest);
	}
	fprintf(stderr, "casesync: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return 2;
}
