/* Fault injection rules of the council simulator, set per test through
 * /_sim/faults: each rule matches a method and a path prefix and applies
 * its fault to the next N matching requests. Independent of the HTTP
 * library; not thread-safe (the API lock serialises access). */
#ifndef LCS_SIM_FAULTS_H
#define LCS_SIM_FAULTS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define FAULT_MAX_RULES 64
#define FAULT_MAX_METHOD 15
#define FAULT_MAX_PREFIX 256
#define FAULT_MAX_RETRY_AFTER 128
#define FAULT_MAX_MS 600000u
#define FAULT_MAX_BIG ((size_t)64 << 20)
#define FAULT_MAX_STEP 65536u

enum fault_kind {
	FAULT_NONE,
	FAULT_DELAY,	 /* wait ms, then answer normally */
	FAULT_RESET,	 /* close with a TCP reset, no answer */
	FAULT_BLACKHOLE, /* read the request, never answer; close after ms */
	FAULT_TRICKLE,	 /* the real answer, bytes per step every ms */
	FAULT_STATUS,	 /* status (+ Retry-After), request not processed */
	FAULT_TRUNCATED, /* the real answer cut in half, then close */
	FAULT_BIG,	 /* the real answer padded to bytes */
	FAULT_MALFORMED, /* 200 with a body that is not JSON */
};

/* One application of a rule, copied out for the connection. */
struct fault {
	enum fault_kind kind;
	unsigned int ms;	/* delay, blackhole hold, trickle interval */
	bool before_body;	/* reset: without reading the request body */
	unsigned int status;	/* status */
	bool has_retry_after;
	char retry_after[FAULT_MAX_RETRY_AFTER + 1]; /* verbatim */
	size_t bytes;		/* big: total size; trickle: bytes per step */
	bool chunked;		/* big: no Content-Length */
};

struct fault_rule {
	char method[FAULT_MAX_METHOD + 1]; /* "*" matches any */
	char prefix[FAULT_MAX_PREFIX + 1];
	unsigned long long remaining;
	unsigned long long applied;
	struct fault fault;
	json_t *spec; /* the rule as given, for GET /_sim/faults */
};

struct fault_table {
	struct fault_rule rules[FAULT_MAX_RULES];
	size_t n;
};

void fault_table_init(struct fault_table *t);
void fault_table_clear(struct fault_table *t);
/* Replaces every rule with those of doc, {"rules":[...]}. On an error the
 * table is unchanged, *problem is a fixed text (never request data) and
 * *index the offending rule's position, or -1 for the document itself. */
int fault_table_set(struct fault_table *t, const json_t *doc,
		    const char **problem, long *index);
/* Uses up one application of the first rule matching method and path:
 * true with *out filled, false (kind FAULT_NONE) when none matches.
 * Paths under /_sim/ never match. */
bool fault_table_take(struct fault_table *t, const char *method,
		      const char *path, struct fault *out);
json_t *fault_table_render(const struct fault_table *t);
const char *fault_name(enum fault_kind kind);

#endif
