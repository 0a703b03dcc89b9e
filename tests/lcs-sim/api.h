/* Request handling of the council simulator, independent of the HTTP
 * library: a parsed request goes in, a complete reply comes out. */
#ifndef LCS_SIM_API_H
#define LCS_SIM_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cin.h"
#include "faults.h"
#include "simclock.h"

#define API_MAX_BODY ((size_t)1 << 20)

struct api_request {
	const char *method;
	const char *path; /* decoded, without the query string */
	const char *body;
	size_t body_len;
	bool body_too_large;
	bool out_of_memory;
	const char *if_match;  /* NULL when absent */
	const char *authorization; /* never logged, NULL when absent */
	const char *idem_key;  /* Idempotency-Key, NULL when absent */
	const char *since;     /* query arguments, NULL when absent */
	const char *limit;
	const char *fault;     /* fault applied around the answer, or NULL */
	bool body_unread;      /* closed before the body was read */
};

struct api_reply {
	unsigned int status;
	char *body;     /* malloc'd JSON or XML text, or NULL for no body */
	char *etag;     /* malloc'd, or NULL */
	char *location; /* malloc'd, or NULL */
	const char *allow;
	const char *content_type;     /* NULL: application/json */
	const char *www_authenticate; /* static, or NULL */
	bool no_store;		      /* Cache-Control: no-store */
	bool replayed;
};

/* What the command line turned on. */
struct api_config {
	json_t *fixture;	     /* JSON fixture, or NULL */
	struct cin_batch cin;	     /* XML fixture records (may be empty) */
	const char *extract_dir;     /* NULL: /_sim/extract answers 404 */
	const char *import_dir;	     /* NULL: /_sim/import answers 404 */
	const char *oauth_client;    /* "ID:SECRET", NULL: no authentication */
	unsigned int oauth_ttl_s;
	long long clock_offset_s;    /* --clock-offset, within SIMCLOCK_MAX_OFFSET */
};

struct api;

/* Takes ownership of cfg->fixture and cfg->cin (cfg->cin is emptied). On
 * a fixture error returns NULL with err set; err is left empty when
 * memory ran out. */
struct api *api_new(struct api_config *cfg, char *err, size_t errlen);
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
/* Thread-safe. A request under /api/ or /xml/ began (its headers are in)
 * or ended (its answer is queued, or it was dropped), for max_inflight. */
void api_inflight_begin(struct api *api);
void api_inflight_end(struct api *api);
/* Thread-safe, without the lock. The simulator's time now, shifted by the
 * clock offset, as an HTTP-date for the Date header. */
void api_http_date(struct api *api, char out[SIMCLOCK_TEXT_SIZE]);
/* Whether requests to path count as in flight. */
bool api_counts_inflight(const char *path);

#endif
