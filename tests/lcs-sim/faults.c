#include "faults.h"

#include <string.h>

#define DEFAULT_HOLD_MS 60000u
#define DEFAULT_TRICKLE_MS 1000u
#define MAX_TIMES 1000000

#define K(kind) (1u << (kind))
#define ALL_KINDS (~0u)

static const char *const kind_names[] = {
	[FAULT_NONE] = "none",
	[FAULT_DELAY] = "delay",
	[FAULT_RESET] = "reset",
	[FAULT_BLACKHOLE] = "blackhole",
	[FAULT_TRICKLE] = "trickle",
	[FAULT_STATUS] = "status",
	[FAULT_TRUNCATED] = "truncated",
	[FAULT_BIG] = "big",
	[FAULT_MALFORMED] = "malformed",
};
#define N_KINDS (sizeof kind_names / sizeof kind_names[0])

/* Members a rule may have, and for which faults. */
static const struct {
	const char *name;
	unsigned int kinds;
} members[] = {
	{ "match", ALL_KINDS },
	{ "fault", ALL_KINDS },
	{ "times", ALL_KINDS },
	{ "ms", K(FAULT_DELAY) | K(FAULT_BLACKHOLE) | K(FAULT_TRICKLE) },
	{ "when", K(FAULT_RESET) },
	{ "status", K(FAULT_STATUS) },
	{ "retry_after", K(FAULT_STATUS) },
	{ "bytes", K(FAULT_BIG) | K(FAULT_TRICKLE) },
	{ "chunked", K(FAULT_BIG) },
};
#define N_MEMBERS (sizeof members / sizeof members[0])

const char *fault_name(enum fault_kind kind)
{
	return (size_t)kind < N_KINDS ? kind_names[kind] : "none";
}

void fault_table_init(struct fault_table *t)
{
	memset(t, 0, sizeof *t);
}

void fault_table_clear(struct fault_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		json_decref(t->rules[i].spec);
	fault_table_init(t);
}

static enum fault_kind parse_kind(const json_t *v)
{
	size_t i;

	if (!json_is_string(v))
		return FAULT_NONE;
	for (i = 1; i < N_KINDS; i++) {
		if (strcmp(json_string_value(v), kind_names[i]) == 0)
			return (enum fault_kind)i;
	}
	return FAULT_NONE;
}

/* "METHOD /prefix": METHOD is "*" or upper-case letters, the prefix
 * printable ASCII without spaces. */
static const char *parse_match(const json_t *v, struct fault_rule *r)
{
	const char *s = json_string_value(v);
	const char *sp;
	size_t n, i;

	if (s == NULL)
		return "match must be a string \"METHOD /path-prefix\"";
	sp = strchr(s, ' ');
	if (sp == NULL || sp == s || (size_t)(sp - s) > FAULT_MAX_METHOD)
		return "match must be a string \"METHOD /path-prefix\"";
	n = (size_t)(sp - s);
	for (i = 0; i < n; i++) {
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(n == 1 && s[i] == '*'))
			return "match: method must be upper-case letters or *";
	}
	memcpy(r->method, s, n);
	r->method[n] = '\0';
	s = sp + 1;
	n = strlen(s);
	if (s[0] != '/' || n > FAULT_MAX_PREFIX)
		return "match: path prefix must start with / (at most 256 bytes)";
	for (i = 0; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return "match: path prefix must be printable ASCII without spaces";
	}
	if (strncmp(s, "/_sim", 5) == 0)
		return "match: /_sim/ paths cannot be faulted";
	memcpy(r->prefix, s, n + 1);
	return NULL;
}

/* An integer member in [lo, hi]; absent gives deflt (or an error when
 * deflt is negative, i.e. the member is required). */
static const char *get_uint(const json_t *rule, const char *name,
			    long long deflt, long long lo, long long hi,
			    long long *out)
{
	const json_t *v = json_object_get(rule, name);

	if (v == NULL) {
		if (deflt < 0)
			return "a member this fault needs is missing";
		*out = deflt;
		return NULL;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return "an integer member is out of range";
	*out = json_integer_value(v);
	return NULL;
}

static const char *parse_retry_after(const json_t *rule, struct fault *f)
{
	const json_t *v = json_object_get(rule, "retry_after");
	const char *s;
	size_t n, i;

	if (v == NULL)
		return NULL;
	s = json_string_value(v);
	if (s == NULL)
		return "retry_after must be a string";
	n = json_string_length(v);
	if (n > FAULT_MAX_RETRY_AFTER)
		return "retry_after is longer than 128 bytes";
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return "retry_after must be printable ASCII";
	}
	memcpy(f->retry_after, s, n + 1);
	f->has_retry_after = true;
	return NULL;
}

static const char *parse_params(const json_t *rule, struct fault *f)
{
	const char *problem = NULL;
	const json_t *v;
	long long x = 0;

	switch (f->kind) {
	case FAULT_DELAY:
		problem = get_uint(rule, "ms", -1, 0, FAULT_MAX_MS, &x);
		f->ms = (unsigned int)x;
		break;
	case FAULT_BLACKHOLE:
		problem = get_uint(rule, "ms", DEFAULT_HOLD_MS, 1, FAULT_MAX_MS,
				   &x);
		f->ms = (unsigned int)x;
		break;
	case FAULT_TRICKLE:
		problem = get_uint(rule, "ms", DEFAULT_TRICKLE_MS, 1, FAULT_MAX_MS,
				   &x);
		f->ms = (unsigned int)x;
		if (problem == NULL)
			problem = get_uint(rule, "bytes", 1, 1, FAULT_MAX_STEP, &x);
		f->bytes = (size_t)x;
		break;
	case FAULT_RESET:
		v = json_object_get(rule, "when");
		if (v != NULL && !json_is_string(v))
			problem = "when must be \"headers\" or \"body\"";
		else if (v != NULL && strcmp(json_string_value(v), "headers") == 0)
			f->before_body = true;
		else if (v != NULL && strcmp(json_string_value(v), "body") != 0)
			problem = "when must be \"headers\" or \"body\"";
		break;
	case FAULT_STATUS:
		problem = get_uint(rule, "status", -1, 200, 599, &x);
		f->status = (unsigned int)x;
		if (problem == NULL)
			problem = parse_retry_after(rule, f);
		break;
	case FAULT_BIG:
		problem = get_uint(rule, "bytes", -1, 1, (long long)FAULT_MAX_BIG,
				   &x);
		f->bytes = (size_t)x;
		v = json_object_get(rule, "chunked");
		if (problem == NULL && v != NULL && !json_is_boolean(v))
			problem = "chunked must be true or false";
		f->chunked = json_is_true(v);
		break;
	case FAULT_NONE:
	case FAULT_TRUNCATED:
	case FAULT_MALFORMED:
		break;
	}
	return problem;
}

static const char *parse_rule(const json_t *rule, struct fault_rule *r)
{
	const char *key;
	const char *problem;
	const json_t *v;
	long long times = 0;
	size_t i;

	memset(r, 0, sizeof *r);
	if (!json_is_object(rule))
		return "a rule must be a JSON object";
	r->fault.kind = parse_kind(json_object_get(rule, "fault"));
	if (r->fault.kind == FAULT_NONE)
		return "fault must be one of delay, reset, blackhole, trickle, "
		       "status, truncated, big, malformed";
	json_object_foreach((json_t *)rule, key, v) {
		for (i = 0; i < N_MEMBERS; i++) {
			if (strcmp(key, members[i].name) == 0)
				break;
		}
		if (i == N_MEMBERS)
			return "unknown member in a rule";
		if (!(members[i].kinds & K(r->fault.kind)))
			return "a member does not apply to this fault";
	}
	problem = parse_match(json_object_get(rule, "match"), r);
	if (problem == NULL)
		problem = get_uint(rule, "times", 1, 1, MAX_TIMES, &times);
	if (problem == NULL)
		problem = parse_params(rule, &r->fault);
	r->remaining = (unsigned long long)times;
	return problem;
}

int fault_table_set(struct fault_table *t, const json_t *doc,
		    const char **problem, long *index)
{
	struct fault_table fresh;
	const json_t *rules = json_object_get(doc, "rules");
	size_t i;

	*index = -1;
	*problem = NULL;
	if (!json_is_object(doc) || json_object_size(doc) != 1 ||
	    !json_is_array(rules)) {
		*problem = "expected {\"rules\": [...]}";
		return -1;
	}
	if (json_array_size(rules) > FAULT_MAX_RULES) {
		*problem = "at most 64 rules";
		return -1;
	}
	fault_table_init(&fresh);
	for (i = 0; i < json_array_size(rules); i++) {
		struct fault_rule *r = &fresh.rules[i];

		*problem = parse_rule(json_array_get(rules, i), r);
		if (*problem == NULL) {
			r->spec = json_deep_copy(json_array_get(rules, i));
			if (r->spec == NULL)
				*problem = "out of memory";
		}
		if (*problem != NULL) {
			*index = (long)i;
			fault_table_clear(&fresh);
			return -1;
		}
		fresh.n++;
	}
	fault_table_clear(t);
	*t = fresh;
	return 0;
}

bool fault_table_take(struct fault_table *t, const char *method,
		      const char *path, struct fault *out)
{
	size_t i;

	memset(out, 0, sizeof *out);
	if (strncmp(path, "/_sim/", 6) == 0)
		return false;
	for (i = 0; i < t->n; i++) {
		struct fault_rule *r = &t->rules[i];

		if (r->remaining == 0 ||
		    (strcmp(r->method, "*") != 0 && strcmp(r->method, method) != 0) ||
		    strncmp(path, r->prefix, strlen(r->prefix)) != 0)
			continue;
		r->remaining--;
		r->applied++;
		*out = r->fault;
		return true;
	}
	return false;
}

json_t *fault_table_render(const struct fault_table *t)
{
	json_t *rules = json_array();
	size_t i;

	if (rules == NULL)
		return NULL;
	for (i = 0; i < t->n; i++) {
		const struct fault_rule *r = &t->rules[i];
		json_t *one = json_deep_copy(r->spec);

		if (one == NULL ||
		    json_object_set_new(one, "remaining",
					json_integer((json_int_t)r->remaining)) ||
		    json_object_set_new(one, "applied",
					json_integer((json_int_t)r->applied))) {
			json_decref(one);
			json_decref(rules);
			return NULL;
		}
		/* Takes one, also when it fails. */
		if (json_array_append_new(rules, one)) {
			json_decref(rules);
			return NULL;
		}
	}
	return json_pack("{s:o}", "rules", rules);
}
