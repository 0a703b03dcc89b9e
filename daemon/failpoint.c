/* failpoint.c - the kill switch of test builds (failpoint.h). */
#include "failpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Between reading a change and committing it, in the order a record
 * travels. Keep in step with the FAILPOINT() calls (test_recovery.sh
 * checks that each one is reached). */
const char *const failpoint_names[] = {
	"collect.after",		/* changes folded, before the cycle uses them */
	"pull.after_fetch",		/* a feed page read, nothing applied */
	"pull.before_commit",		/* a page applied, cursor set, not committed */
	"pull.after_commit",
	"push.after_read",		/* local rows, crosswalk and base read */
	"push.after_get",		/* the council's current records fetched */
	"push.outbox_committed",	/* requests stored with their keys, not sent */
	"push.after_send",		/* the council answered, nothing settled */
	"push.before_commit",		/* settled in the transaction, not committed */
	"push.after_commit",
	"resolve.after_send",		/* a resolution written to the council */
	NULL
};

#ifdef CASESYNC_FAILPOINTS
void failpoint_hit(const char *name)
{
	static long hits;
	const char *want = getenv("CASESYNC_FAILPOINT");
	size_t n;
	long at = 1;

	if (!want || !*want)
		return;
	n = strcspn(want, ":");
	if (strlen(name) != n || strncmp(want, name, n))
		return;
	if (want[n] == ':')
		at = strtol(want + n + 1, NULL, 10);
	if (++hits < at)
		return;
	/* Async-signal-safe all the way: this may run anywhere. */
	if (write(STDERR_FILENO, "failpoint ", 10) < 0 ||
	    write(STDERR_FILENO, name, strlen(name)) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0) {
		/* nothing to do: dying anyway */
	}
	kill(getpid(), SIGKILL);
}
#endif

int failpoints_compiled(void)
{
#ifdef CASESYNC_FAILPOINTS
	return 1;
#else
	return 0;
#endif
}
