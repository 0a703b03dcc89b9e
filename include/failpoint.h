/* failpoint.h - named places where a test build can kill itself.
 *
 * A build with -DCASESYNC_FAILPOINTS (build/casesyncd-fp, made by
 * `make check` for the crash-recovery tests) checks each FAILPOINT(name)
 * against $CASESYNC_FAILPOINT ("NAME" or "NAME:N", N the hit that kills,
 * default 1) and, on a match, writes "failpoint NAME" to stderr and sends
 * itself SIGKILL: no cleanup, no flush, as a power cut or the OOM killer
 * would. Production builds compile every FAILPOINT to nothing. */
#ifndef CASESYNC_FAILPOINT_H
#define CASESYNC_FAILPOINT_H

#ifdef CASESYNC_FAILPOINTS
void failpoint_hit(const char *name);
#define FAILPOINT(name) failpoint_hit(name)
#else
#define FAILPOINT(name) ((void)0)
#endif

/* Every fail point's name, NULL-terminated, for `casesyncd
 * --list-failpoints` (test builds) and the tests. */
extern const char *const failpoint_names[];
/* 1 in a test build with fail points, else 0. */
int failpoints_compiled(void);

#endif
