#include "simclock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bool simclock_valid_offset(long long offset_s)
{
	return offset_s >= -SIMCLOCK_MAX_OFFSET &&
	       offset_s <= SIMCLOCK_MAX_OFFSET;
}

int simclock_parse_offset(const char *text, long long *offset_s)
{
	const char *digits = text;
	char *end;
	long long v;

	if (*digits == '-' || *digits == '+')
		digits++;
	if (*digits < '0' || *digits > '9')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || !simclock_valid_offset(v))
		return -1;
	*offset_s = v;
	return 0;
}

void simclock_set_offset(struct simclock *c, long long offset_s)
{
	atomic_store(&c->offset_s, offset_s);
}

long long simclock_offset(struct simclock *c)
{
	return atomic_load(&c->offset_s);
}

long long simclock_now_ms(struct simclock *c)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((long long)ts.tv_sec + simclock_offset(c)) * 1000LL +
	       ts.tv_nsec / 1000000L;
}

/* Broken-down UTC time and the milliseconds of ms. */
static void split_ms(long long ms, struct tm *tm, int *millis)
{
	long long s = ms / 1000;
	long long rem = ms % 1000;
	time_t t;

	if (rem < 0) {
		rem += 1000;
		s--;
	}
	t = (time_t)s;
	gmtime_r(&t, tm);
	*millis = (int)rem;
}

void simclock_rfc3339(long long ms, char out[SIMCLOCK_TEXT_SIZE])
{
	struct tm tm;
	int millis;

	split_ms(ms, &tm, &millis);
	snprintf(out, SIMCLOCK_TEXT_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, millis);
}

void simclock_http_date(long long ms, char out[SIMCLOCK_TEXT_SIZE])
{
	/* Fixed English names: strftime would follow the locale. */
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
					 "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
					    "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int millis;

	split_ms(ms, &tm, &millis);
	snprintf(out, SIMCLOCK_TEXT_SIZE, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
