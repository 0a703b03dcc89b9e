/* cli.c - what the casesync subcommands share (cli.h). */
#include "cli.h"

#include <string.h>

#include "migrate.h"

struct store *cli_open_store(const struct config *cfg, const char *cmd)
{
	char err[512];
	struct store *s = store_connect(cfg->db_conninfo,
					cfg->db_statement_timeout_ms, cmd, err,
					sizeof(err));

	if (!s) {
		fprintf(stderr, "%s: cannot connect to the database: %s\n", cmd,
			err);
		return NULL;
	}
	if (migrate_check_current(s, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		store_close(s);
		return NULL;
	}
	return s;
}

void cli_csv_field(FILE *f, const char *v, int last)
{
	size_t n = v ? strlen(v) : 0;

	if (v && (strpbrk(v, ",\"\r\n") ||
		  (n && (v[0] == ' ' || v[0] == '\t' || v[n - 1] == ' ' ||
			 v[n - 1] == '\t')))) {
		putc('"', f);
		for (const char *c = v; *c; c++) {
			if (*c == '"')
				putc('"', f);
			putc(*c, f);
		}
		putc('"', f);
	} else if (v) {
		fputs(v, f);
	}
	fputs(last ? "\r\n" : ",", f);
}

int cli_dispatch(const char *cmd, const struct cli_sub *subs,
		 void (*usage)(FILE *f), const struct options *o, int argc,
		 char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	for (const struct cli_sub *s = subs; s->name; s++)
		if (!strcmp(argv[0], s->name))
			return s->run(o, argc - 1, argv + 1);
	fprintf(stderr, "casesync %s: unknown subcommand '%s'\n", cmd, argv[0]);
	usage(stderr);
	return 2;
}
