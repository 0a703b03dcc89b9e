/* log.c - one escaped key=value line per event. */
#include "log.h"

#include <stdarg.h>
#include <string.h>

static enum log_level cur_level = LOG_LVL_INFO;
static FILE *log_stream;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
	cur_level = level;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return CS_OK;
		}
	}
	return CS_EINVAL;
}

void log_set_stream(FILE *f)
{
	log_stream = f;
}

size_t log_escape(char *dst, size_t dstsz, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstsz == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
		char tmp[4];
		size_t n = 0;

		switch (*p) {
		case '\n': tmp[n++] = '\\'; tmp[n++] = 'n'; break;
		case '\r': tmp[n++] = '\\'; tmp[n++] = 'r'; break;
		case '\t': tmp[n++] = '\\'; tmp[n++] = 't'; break;
		case '\\': tmp[n++] = '\\'; tmp[n++] = '\\'; break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				tmp[n++] = '\\';
				tmp[n++] = 'x';
				tmp[n++] = hex[*p >> 4];
				tmp[n++] = hex[*p & 15];
			} else {
				tmp[n++] = (char)*p;
			}
		}
		if (o + n >= dstsz)
			break;
		memcpy(dst + o, tmp, n);
		o += n;
	}
	dst[o] = '\0';
	return o;
}

void log_write(enum log_level level, const char *event, const char *fmt, ...)
{
	char raw[2048], esc[4096];
	FILE *f = log_stream ? log_stream : stderr;
	va_list ap;

	if (level > cur_level)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	log_escape(esc, sizeof(esc), raw);
	if (esc[0])
		fprintf(f, "casesync level=%s event=%s %s\n", level_names[level],
			event, esc);
	else
		fprintf(f, "casesync level=%s event=%s\n", level_names[level], event);
	fflush(f);
}
