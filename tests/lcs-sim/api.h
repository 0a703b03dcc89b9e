/* Request handling of the council simulator, independent of the HTTP
 * library: a parsed request goes in, a complete reply comes out. */
#ifndef LCS_SIM_API_H
#define LCS_SIM_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "faults.h"

#define API_MAX_BODY ((size_t)1 << 20)

struct api_request {
	const char *method;
	const char *path; /* decoded, without the query string */
	const char *body;
	size_t body_len;
	bool body_too_large;
	bool out_of_memory;
	const char *if_match;  /* NULL when absent */
	const char *idem_key;  /* Idempotency-Key, NULL when absent */
	const char *since;     /* query arguments, NULL when absent */
	const char *limit;
	const char *fault;     /* fault applied around the answer, or NULL */
	bool body_unread;      /* closed before the body was read */
};

struct api_reply {
	unsigned int status;
	char *body;     /* malloc'd JSON text, or NULL for no body */
	char *etag;     /* malloc'd, or NULL */
	char *location; /* malloc'd, or NULL */
	const char *allow;
	bool replayed;
};

struct api;

/* Takes ownership of fixture (may be NULL). On a fixture error returns
 * NULL with err set; err is left empty when memory ran out. */
struct api *api_new(json_t *fixture, char *err, size_t errlen);
void api_free(struct api *api);
/* Thread-safe. The reply must be released with api_reply_free. */
void api_handle(struct api *api, const struct api_request *req,
		struct api_reply *reply);
void api_reply_free(struct api_reply *reply);
/* Thread-safe. Uses up one application of the first fault rule matching
 * the request (see faults.h); kind FAULT_NONE when none matches. */
void api_take_fault(struct api *api, const char *method, const char *path,
		    struct fault *out);
/* Thread-safe. Counts and records a request that an injected fault
 * answered with status, or left without an answer (status 0), instead of
 * the API. */
void api_note(struct api *api, const struct api_request *req,
	      unsigned int status);

#endif
