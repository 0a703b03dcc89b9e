/* The council simulator's wall clock: the real UTC clock shifted by an
 * offset in seconds (--clock-offset, POST /_sim/clock), for the records'
 * modified times and the Date header of every answer. The offset is
 * atomic, so the HTTP threads read it without the API lock. */
#ifndef LCS_SIM_SIMCLOCK_H
#define LCS_SIM_SIMCLOCK_H

#include <stdatomic.h>
#include <stdbool.h>

/* Ten years of 365.25 days. */
#define SIMCLOCK_MAX_OFFSET 315576000LL
/* Room for "2026-11-24T10:15:30.123Z" and "Tue, 24 Nov 2026 10:15:30 GMT",
 * and for any int in each field, so no format can be cut short. */
#define SIMCLOCK_TEXT_SIZE 96

struct simclock {
	_Atomic long long offset_s;
};

bool simclock_valid_offset(long long offset_s);
/* A signed decimal integer ("-600", "+3600", "0") in range; 0 or -1. */
int simclock_parse_offset(const char *text, long long *offset_s);

/* The offset must be valid. */
void simclock_set_offset(struct simclock *c, long long offset_s);
long long simclock_offset(struct simclock *c);
/* Milliseconds since the epoch (UTC), shifted by the offset. */
long long simclock_now_ms(struct simclock *c);

/* RFC 3339 in UTC with milliseconds: "2026-11-24T10:15:30.123Z". */
void simclock_rfc3339(long long ms, char out[SIMCLOCK_TEXT_SIZE]);
/* An HTTP-date (RFC 9110 IMF-fixdate): "Tue, 24 Nov 2026 10:15:30 GMT". */
void simclock_http_date(long long ms, char out[SIMCLOCK_TEXT_SIZE]);

#endif
