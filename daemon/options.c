/* options.c - shared command-line options. */
#include "options.h"

#include <stdio.h>
#include <string.h>

#include "diag.h"

int options_take(struct options *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "%s needs a file name\n", a);
			return -1;
		}
		o->config_path = argv[++*i];
		return 1;
	}
	if (!strncmp(a, "--config=", 9)) {
		o->config_path = a + 9;
		return 1;
	}
	if (!strcmp(a, "--set") || !strncmp(a, "--set=", 6)) {
		const char *v = a[5] == '=' ? a + 6 : NULL;

		if (!v) {
			if (*i + 1 >= argc) {
				fprintf(stderr, "--set needs section.key=value\n");
				return -1;
			}
			v = argv[++*i];
		}
		if (o->nsets >= OPTIONS_MAX_SET) {
			fprintf(stderr, "too many --set options\n");
			return -1;
		}
		o->sets[o->nsets++] = (char *)v;
		return 1;
	}
	return 0;
}

struct config *options_load_config(const struct options *o)
{
	const char *path = o->config_path ? o->config_path : config_default_path();
	struct diag d;
	struct config *c;

	diag_init(&d);
	c = config_load(path, o->sets, o->nsets, &d);
	if (!c)
		diag_print(&d, stderr);
	diag_free(&d);
	return c;
}
