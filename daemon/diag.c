/* diag.c - collected validation problems. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>

void diag_init(struct diag *d)
{
	d->n = 0;
	d->total = 0;
	d->warnings = 0;
}

static void keep(struct diag *d, const char *file, int line, const char *kind,
		 const char *fmt, va_list ap)
{
	char msg[512], full[1024];

	if (d->n >= DIAG_MAX)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(full, sizeof(full), "%s:%d: %s%s", file, line, kind, msg);
	else
		snprintf(full, sizeof(full), "%s: %s%s", file, kind, msg);
	d->msgs[d->n] = cs_strdup(full);
	if (d->msgs[d->n])
		d->n++;
}

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	d->total++;
	va_start(ap, fmt);
	keep(d, file, line, "", fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	d->warnings++;
	va_start(ap, fmt);
	keep(d, file, line, "warning: ", fmt, ap);
	va_end(ap);
}

void diag_print(const struct diag *d, FILE *f)
{
	for (int i = 0; i < d->n; i++)
		fprintf(f, "%s\n", d->msgs[i]);
	if (d->total + d->warnings > d->n)
		fprintf(f, "... and %d more problems\n",
			d->total + d->warnings - d->n);
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
	d->warnings = 0;
}
