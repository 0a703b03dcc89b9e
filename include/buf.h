/* buf.h - a growable byte buffer with a hard maximum (curl's dynbuf idea).
 * Every buffer filled from the network or a file is bounded by max. */
#ifndef CASESYNC_BUF_H
#define CASESYNC_BUF_H

#include <stddef.h>
#include "common.h"

struct buf {
	char *data;	/* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;	/* len may never exceed max */
};

void buf_init(struct buf *b, size_t max);
/* Appends n bytes; CS_ELIMIT when max would be exceeded (buffer unchanged). */
int buf_append(struct buf *b, const void *data, size_t n) CS_MUST_CHECK;
int buf_appends(struct buf *b, const char *s) CS_MUST_CHECK;
int buf_printf(struct buf *b, const char *fmt, ...) CS_PRINTF(2, 3) CS_MUST_CHECK;
void buf_reset(struct buf *b);
/* Gives the caller the data (caller frees); the buffer is left empty. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

#endif
