/* log.h - levelled, one-line key=value operational logs.
 *
 * Each line: "casesync level=L event=E k=v ...". The caller formats the
 * key=value tail; the whole line is then escaped so that control characters
 * and newlines can never forge a second log line. Never pass personal data:
 * record keys and counts are fine, names, dates of birth, payloads, tokens and
 * URLs with query strings are not. */
#ifndef CASESYNC_LOG_H
#define CASESYNC_LOG_H

#include <stdio.h>
#include <stddef.h>
#include "common.h"

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; 0 on success. */
int log_parse_level(const char *s, enum log_level *out) CS_MUST_CHECK;
/* Where lines go (default stderr); tests point it at a memory stream. */
void log_set_stream(FILE *f);

void log_write(enum log_level level, const char *event, const char *fmt, ...)
	CS_PRINTF(3, 4);

/* Escapes src into dst (size dstsz): \n \r \t \\ and \xHH for other control
 * bytes; always terminates; returns the length written. */
size_t log_escape(char *dst, size_t dstsz, const char *src);

#define log_error(ev, ...) log_write(LOG_LVL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_write(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) log_write(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) log_write(LOG_LVL_DEBUG, ev, __VA_ARGS__)

#endif
