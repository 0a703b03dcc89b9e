/* notify-latency.c - how soon a listener hears of a captured commit.
 *
 * One connection LISTENs on casesync_changes, as casesyncd does; another
 * inserts one row into a captured table per transaction. For each commit
 * the time from sending the INSERT to the listener reading the
 * notification is recorded, and p50, p99 and max are printed as
 * "commits p50_ms p99_ms max_ms".
 *
 * The table is the reference store's casestore.person, with capture on.
 * Usage: notify-latency COMMITS  (libpq's PG* environment) */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static PGconn *connect_or_die(void)
{
	PGconn *c = PQconnectdb("");

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "notify-latency: cannot connect: %s",
			PQerrorMessage(c));
		exit(1);
	}
	return c;
}

static int run_ok(PGconn *c, const char *sql, int n, const char *const *p)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "notify-latency: %s", PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* Waits up to 5 s for one notification; returns 0 when it came. */
static int wait_notify(PGconn *c)
{
	double deadline = now_ms() + 5000.0;

	for (;;) {
		PGnotify *n;
		struct pollfd pfd = { PQsocket(c), POLLIN, 0 };
		int left = (int)(deadline - now_ms());

		if (!PQconsumeInput(c))
			return -1;
		if ((n = PQnotifies(c)) != NULL) {
			PQfreemem(n);
			/* Drain any others from the same commit. */
			while ((n = PQnotifies(c)) != NULL)
				PQfreemem(n);
			return 0;
		}
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -1;
	}
}

int main(int argc, char **argv)
{
	PGconn *listener, *writer;
	double *lat;
	long n;

	if (argc != 2 || (n = strtol(argv[1], NULL, 10)) < 1 || n > 1000000) {
		fprintf(stderr, "usage: notify-latency COMMITS\n");
		return 2;
	}
	listener = connect_or_die();
	writer = connect_or_die();
	if (!run_ok(listener, "LISTEN casesync_changes", 0, NULL))
		return 1;
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		return 1;
	for (long i = 0; i < n; i++) {
		const char *p[] = { "Latency" };
		double t0 = now_ms();

		if (!run_ok(writer, "INSERT INTO casestore.person (family_name) "
			    "VALUES ($1)", 1, p))
			return 1;
		if (wait_notify(listener)) {
			fprintf(stderr, "notify-latency: no notification within 5 s\n");
			return 1;
		}
		lat[i] = now_ms() - t0;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("%ld %.3f %.3f %.3f\n", n, lat[(n - 1) * 50 / 100],
	       lat[(n - 1) * 99 / 100], lat[n - 1]);
	free(lat);
	PQfinish(listener);
	PQfinish(writer);
	return 0;
}
