/* diag.c - collected validation problems. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>

void diag_init(struct diag *d)
{
	d->n = 0;
	d->total = 0;
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[512], full[1024];
	va_list ap;

	d->total++;
	if (d->n >= DIAG_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s", file, line, msg);
	else
		snprintf(full, sizeof(full), "%s: %s", file, msg);
	d->msgs[d->n] = cs_strdup(full);
	if (d->msgs[d->n])
		d->n++;
}

void diag_print(const struct diag *d, FILE *f)
{
	for (int i = 0; i < d->n; i++)
		fprintf(f, "%s\n", d->msgs[i]);
	if (d->total > d->n)
		fprintf(f, "... and %d more problems\n", d->total - d->n);
}

const char *diag_first(const struct diag *d)
{
	return d->n ? d->msgs[0] : "";
}

void diag_free(struct diag *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->msgs[i]);
	d->n = 0;
	d->total = 0;
}
