/* mapping.c - load and validate the canonical model and a mapping set.
 *
 * Both are JSON, parsed by jansson with duplicate keys rejected. jansson
 * does not keep positions, so after a successful parse a small scanner
 * walks the same text once and records the line of every member and array
 * element under its JSON Pointer; every problem is then reported as
 * FILE:LINE: POINTER: message. Loading is all-or-nothing. */
#include "mapping.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "codec_json.h"
#include "codec_xml.h"
#include "transform.h"

#define MAPPING_FILE_MAX (4 * 1024 * 1024)
#define MODEL_FORMAT "casesync-model/1"
#define SET_FORMAT "casesync-mapping/1"
#define PTR_MAX 512

/* ---------------------------------------------------------------------
 * Positions: JSON Pointer -> line, from one pass over the source text. */

struct jpos {
	char *ptr;
	int line;
};

struct jposmap {
	struct jpos *v;
	size_t n, cap;
};

struct scan {
	const char *p, *end;
	int line;
	struct jposmap *map;
	int oom;
};

static void pos_add(struct scan *s, const char *ptr, int line)
{
	if (s->map->n == s->map->cap) {
		size_t cap = s->map->cap ? s->map->cap * 2 : 64;
		struct jpos *v = realloc(s->map->v, cap * sizeof(*v));
		if (!v) {
			s->oom = 1;
			return;
		}
		s->map->v = v;
		s->map->cap = cap;
	}
	s->map->v[s->map->n].ptr = cs_strdup(ptr);
	if (!s->map->v[s->map->n].ptr) {
		s->oom = 1;
		return;
	}
	s->map->v[s->map->n++].line = line;
}

static void pos_free(struct jposmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].ptr);
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

static void scan_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\r' || *s->p == '\n')) {
		if (*s->p == '\n')
			s->line++;
		s->p++;
	}
}

/* Reads a string token; when out is non-NULL appends its text, escaped as
 * a JSON Pointer segment (~0, ~1), truncating at outsz. */
static void scan_string(struct scan *s, char *out, size_t outsz)
{
	size_t o = 0;

	if (out && outsz)
		out[0] = '\0';
	s->p++;	/* opening quote */
	while (s->p < s->end && *s->p != '"') {
		char c = *s->p++;
		if (c == '\\' && s->p < s->end) {
			char e = *s->p++;
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				/* Rare in mapping keys; positions only. */
				s->p += (s->end - s->p >= 4) ? 4 : s->end - s->p;
				c = '?';
				break;
			default: c = e; break;
			}
		}
		if (!out)
			continue;
		if (c == '~' || c == '/') {
			if (o + 2 < outsz) {
				out[o++] = '~';
				out[o++] = c == '~' ? '0' : '1';
			}
		} else if (o + 1 < outsz) {
			out[o++] = c;
		}
		out[o] = '\0';
	}
	if (s->p < s->end)
		s->p++;	/* closing quote */
}

/* Consumes one value without recording positions (past the depth the
 * positions are kept for): brackets counted, strings respected. */
static void scan_skip(struct scan *s)
{
	int depth = 0;

	do {
		scan_ws(s);
		if (s->p >= s->end)
			return;
		if (*s->p == '"') {
			scan_string(s, NULL, 0);
		} else if (*s->p == '{' || *s->p == '[') {
			depth++;
			s->p++;
		} else if (*s->p == '}' || *s->p == ']') {
			depth--;
			s->p++;
		} else if (*s->p == ',' || *s->p == ':') {
			s->p++;
		} else {
			while (s->p < s->end && !strchr(",:]}[{\" \t\r\n", *s->p))
				s->p++;
		}
	} while (depth > 0);
}

static void scan_value(struct scan *s, char *path, size_t plen, int depth)
{
	scan_ws(s);
	if (s->p >= s->end || s->oom)
		return;
	if (depth > 64) {
		scan_skip(s);
		return;
	}
	if (*s->p == '{' || *s->p == '[') {
		int obj = *s->p == '{';
		size_t i = 0;
		s->p++;
		for (;;) {
			char seg[PTR_MAX];
			int line;
			scan_ws(s);
			if (s->p >= s->end || s->oom)
				return;
			if (*s->p == '}' || *s->p == ']') {
				s->p++;
				return;
			}
			if (*s->p == ',') {
				s->p++;
				continue;
			}
			line = s->line;
			if (obj) {
				scan_string(s, seg, sizeof(seg));
				scan_ws(s);
				if (s->p < s->end && *s->p == ':')
					s->p++;
			} else {
				snprintf(seg, sizeof(seg), "%zu", i++);
				scan_ws(s);
				line = s->line;
			}
			if (plen + 1 + strlen(seg) < PTR_MAX) {
				size_t nl = plen + 1 + strlen(seg);
				path[plen] = '/';
				memcpy(path + plen + 1, seg, strlen(seg) + 1);
				pos_add(s, path, line);
				scan_value(s, path, nl, depth + 1);
				path[plen] = '\0';
			} else {
				scan_value(s, path, plen, depth + 1);
			}
		}
	}
	if (*s->p == '"') {
		scan_string(s, NULL, 0);
		return;
	}
	while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
		s->p++;
}

static int jpos_cmp(const void *a, const void *b)
{
	const struct jpos *x = a, *y = b;
	int c = strcmp(x->ptr, y->ptr);

	/* The first occurrence wins (a truncated path repeats its parent). */
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int pos_build(struct jposmap *m, const char *text, size_t len)
{
	char path[PTR_MAX] = "";
	struct scan s = { text, text + len, 1, m, 0 };

	pos_add(&s, "", 1);
	scan_value(&s, path, 0, 0);
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), jpos_cmp);
	return s.oom ? CS_ENOMEM : 0;
}

static int pos_find(const struct jposmap *m, const char *ptr)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->v[mid].ptr, ptr);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n && !strcmp(m->v[lo].ptr, ptr) ? m->v[lo].line : -1;
}

/* ---------------------------------------------------------------------
 * Loader context and reporting. */

struct xlate {			/* a set's code translations, per code list */
	char **side[2];		/* [SIDE_LOCAL], [SIDE_REMOTE]; NULL: identity */
	char *where[2];		/* FILE:LINE of the definition, for duplicates */
};

struct mfield {
	char *name;
	enum field_type type;
	const struct codelist *cl;
	int multiple;
	enum value_check check;
	enum side owner;
	enum merge_policy policy;
};

struct mentity {
	char *name;
	struct mfield *f;
	size_t n;
};

struct model {
	struct mentity *e;
	size_t n;
	struct xlate *x;	/* one per set->codelists entry */
};

struct ld {
	const char *file;
	const char *dir;	/* directory of file */
	struct jposmap pos;
	struct diag *d;
	struct mapping_set *set;
	struct model *m;
};

static int line_of(struct ld *l, const char *ptr)
{
	char buf[PTR_MAX];

	cs_strlcpy(buf, ptr, sizeof(buf));
	for (;;) {
		char *slash;
		int line = pos_find(&l->pos, buf);
		if (line >= 0)
			return line;
		slash = strrchr(buf, '/');
		if (!slash)
			return 0;
		*slash = '\0';
	}
}

static void CS_PRINTF(3, 4) err(struct ld *l, const char *ptr,
				const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(l->d, l->file, line_of(l, ptr), "%s: %s", *ptr ? ptr : "/",
		 msg);
}

/* ptr + "/" + key (escaped); static rotating buffers are not used so that
 * callers can nest. */
static void sub(char *out, const char *ptr, const char *key)
{
	size_t o = strlen(ptr);

	if (o >= PTR_MAX - 1) {
		cs_strlcpy(out, ptr, PTR_MAX);
		return;
	}
	memcpy(out, ptr, o);
	out[o++] = '/';
	for (; *key && o + 2 < PTR_MAX; key++) {
		if (*key == '~' || *key == '/') {
			out[o++] = '~';
			out[o++] = *key == '~' ? '0' : '1';
		} else {
			out[o++] = *key;
		}
	}
	out[o] = '\0';
}

static int in_list(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(k, *list))
			return 1;
	return 0;
}

/* Reports every member of obj not in allowed. */
static void check_keys(struct ld *l, const char *ptr, json_t *obj,
		       const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		char p[PTR_MAX];
		if (in_list(k, allowed))
			continue;
		sub(p, ptr, k);
		err(l, p, "unknown key '%s'", k);
	}
}

/* A string member: NULL when absent (reported when required) or of the
 * wrong type (reported). */
static const char *get_str(struct ld *l, const char *ptr, json_t *obj,
			   const char *key, int required)
{
	json_t *v = json_object_get(obj, key);
	char p[PTR_MAX];

	if (!v) {
		if (required)
			err(l, ptr, "missing required key '%s'", key);
		return NULL;
	}
	sub(p, ptr, key);
	if (!json_is_string(v)) {
		err(l, p, "'%s' must be a string", key);
		return NULL;
	}
	if (json_string_length(v) == 0 || json_string_length(v) !=
	    strlen(json_string_value(v))) {
		err(l, p, "'%s' must be a non-empty string without NUL", key);
		return NULL;
	}
	return json_string_value(v);
}

static json_t *get_obj(struct ld *l, const char *ptr, json_t *obj,
		       const char *key, int required)
{
	json_t *v = json_object_get(obj, key);
	char p[PTR_MAX];

	if (!v) {
		if (required)
			err(l, ptr, "missing required key '%s'", key);
		return NULL;
	}
	if (!json_is_object(v)) {
		sub(p, ptr, key);
		err(l, p, "'%s' must be an object", key);
		return NULL;
	}
	return v;
}

/* A boolean member; -1 when of the wrong type (reported), def when absent. */
static int get_bool(struct ld *l, const char *ptr, json_t *obj,
		    const char *key, int def)
{
	json_t *v = json_object_get(obj, key);
	char p[PTR_MAX];

	if (!v)
		return def;
	if (!json_is_boolean(v)) {
		sub(p, ptr, key);
		err(l, p, "'%s' must be true or false", key);
		return -1;
	}
	return json_is_true(v);
}

struct name_val {
	const char *name;
	int val;
};

static const struct name_val types[] = {
	{ "string", FT_STRING }, { "int", FT_INT }, { "bool", FT_BOOL },
	{ "date", FT_DATE }, { "datetime", FT_DATETIME }, { "code", FT_CODE },
	{ NULL, 0 }
};
static const struct name_val dirs[] = {
	{ "both", DIR_BOTH }, { "pull", DIR_PULL }, { "push", DIR_PUSH },
	{ NULL, 0 }
};
static const struct name_val sides[] = {
	{ "provider", SIDE_LOCAL }, { "council", SIDE_REMOTE }, { NULL, 0 }
};
static const struct name_val policies[] = {
	{ "owner", POLICY_OWNER }, { "newest", POLICY_NEWEST },
	{ "manual", POLICY_MANUAL }, { NULL, 0 }
};
static const struct name_val checks[] = {
	{ "nhs-number", CHECK_NHS_NUMBER }, { "upn", CHECK_UPN }, { NULL, 0 }
};
static const struct name_val codecs[] = {
	{ "json", CODEC_JSON }, { "xml", CODEC_XML }, { NULL, 0 }
};
static const struct name_val cases[] = {
	{ "upper", CASE_UPPER }, { "lower", CASE_LOWER }, { NULL, 0 }
};
static const struct name_val parts[] = {
	{ "first", PART_FIRST }, { "rest", PART_REST }, { "init", PART_INIT },
	{ "last", PART_LAST }, { NULL, 0 }
};

static const char *name_of(const struct name_val *t, int v)
{
	for (; t->name; t++)
		if (t->val == v)
			return t->name;
	return "?";
}

/* An enumerated string member: def when absent, -1 when wrong (reported,
 * listing the accepted values). */
static int get_enum(struct ld *l, const char *ptr, json_t *obj,
		    const char *key, const struct name_val *t, int def)
{
	const char *s;
	char p[PTR_MAX], accepted[200] = "";

	if (!json_object_get(obj, key))
		return def;
	s = get_str(l, ptr, obj, key, 0);
	if (!s)
		return -1;
	for (const struct name_val *i = t; i->name; i++)
		if (!strcmp(i->name, s))
			return i->val;
	for (const struct name_val *i = t; i->name; i++) {
		if (*accepted)
			strncat(accepted, ", ", sizeof(accepted) - strlen(accepted) - 1);
		strncat(accepted, i->name, sizeof(accepted) - strlen(accepted) - 1);
	}
	sub(p, ptr, key);
	err(l, p, "'%s' must be one of: %s", key, accepted);
	return -1;
}

const char *mapping_type_name(enum field_type t)
{
	return name_of(types, (int)t);
}

const char *mapping_side_name(enum side s)
{
	return name_of(sides, (int)s);
}

const char *mapping_dir_name(enum field_dir d)
{
	return name_of(dirs, (int)d);
}

const char *mapping_policy_name(enum merge_policy p)
{
	return name_of(policies, (int)p);
}

static int ident_part(const char **p)
{
	const char *s = *p;

	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	while ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')
		s++;
	if (s - *p > 63)
		return 0;
	*p = s;
	return 1;
}

int mapping_valid_sql_ident(const char *s, int allow_schema)
{
	if (!ident_part(&s))
		return 0;
	if (*s == '.' && allow_schema) {
		s++;
		if (!ident_part(&s))
			return 0;
	}
	return *s == '\0';
}

int mapping_valid_json_pointer(const char *s)
{
	if (*s == '\0')
		return 1;
	if (*s != '/')
		return 0;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20)
			return 0;
		if (*s == '~' && s[1] != '0' && s[1] != '1')
			return 0;
	}
	return 1;
}

static int valid_name(const char *s)
{
	return mapping_valid_sql_ident(s, 0);
}

/* An XML element name as the encoder writes it: NCName (ASCII subset),
 * optionally prefixed. */
static int valid_element(const char *s)
{
	int start = 1;

	if (!*s)
		return 0;
	for (; *s; s++) {
		char c = *s;
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    c == '_';
		if (c == ':' && !start) {
			start = 1;
			continue;
		}
		if (start ? !alpha : !(alpha || (c >= '0' && c <= '9') ||
				       c == '-' || c == '.'))
			return 0;
		start = 0;
	}
	return !start;
}

int mapping_field_flows_to(const struct map_field *f, enum side to)
{
	if (f->dir == DIR_BOTH)
		return 1;
	return (to == SIDE_LOCAL) == (f->dir == DIR_PULL);
}

const struct codelist *mapping_find_codelist(const struct mapping_set *s,
					     const char *name)
{
	for (size_t i = 0; i < s->ncodelists; i++)
		if (!strcmp(s->codelists[i].name, name))
			return &s->codelists[i];
	return NULL;
}

int mapping_code_index(const struct codelist *cl, const char *code)
{
	for (size_t i = 0; i < cl->n; i++)
		if (!strcmp(cl->codes[i], code))
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------------
 * Reading a file. */

static json_t *read_json(struct ld *l)
{
	/* Non-blocking open so a FIFO named *.json cannot hang the loader;
	 * fstat then refuses anything but a regular file. */
	int fd = open(l->file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
	char *text;
	size_t len;
	json_t *root;
	json_error_t je;
	struct stat st;

	if (!f) {
		if (fd >= 0)
			close(fd);
		diag_add(l->d, l->file, 0, "cannot be opened");
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > MAPPING_FILE_MAX) {
		diag_add(l->d, l->file, 0, "not a regular file of at most %d bytes",
			 MAPPING_FILE_MAX);
		fclose(f);
		return NULL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		fclose(f);
		diag_add(l->d, l->file, 0, "out of memory");
		return NULL;
	}
	len = fread(text, 1, (size_t)st.st_size, f);
	fclose(f);
	text[len] = '\0';
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		diag_add(l->d, l->file, je.line, "invalid JSON: %s", je.text);
	} else if (!json_is_object(root)) {
		diag_add(l->d, l->file, 1, "the file must hold a JSON object");
		json_decref(root);
		root = NULL;
	} else if (pos_build(&l->pos, text, len)) {
		diag_add(l->d, l->file, 0, "out of memory");
		json_decref(root);
		root = NULL;
	}
	free(text);
	return root;
}

static void check_format(struct ld *l, json_t *root, const char *want)
{
	const char *f = get_str(l, "", root, "format", 1);

	if (f && strcmp(f, want))
		err(l, "/format", "unsupported format '%s' (this build reads "
		    "'%s')", f, want);
}

/* ---------------------------------------------------------------------
 * The canonical model. */

static const char *const model_keys[] = { "$schema", "format", "note",
	"codelists", "entities", NULL };
static const char *const codelist_keys[] = { "note", "codes", NULL };
static const char *const mentity_keys[] = { "note", "fields", NULL };
static const char *const mfield_keys[] = { "type", "codelist", "multiple",
	"check", "owner", "policy", "census", "note", NULL };

static void load_codelists(struct ld *l, json_t *obj)
{
	struct mapping_set *s = l->set;
	const char *name;
	json_t *v;

	s->codelists = calloc(json_object_size(obj) + 1, sizeof(*s->codelists));
	l->m->x = calloc(json_object_size(obj) + 1, sizeof(*l->m->x));
	if (!s->codelists || !l->m->x) {
		diag_add(l->d, l->file, 0, "out of memory");
		return;
	}
	json_object_foreach(obj, name, v) {
		char p[PTR_MAX], pc[PTR_MAX];
		struct codelist *cl = &s->codelists[s->ncodelists];
		json_t *codes;
		const char *code;
		json_t *label;

		sub(p, "/codelists", name);
		if (!valid_name(name)) {
			err(l, p, "code list name must match [a-z_][a-z0-9_]*");
			continue;
		}
		if (!json_is_object(v)) {
			err(l, p, "a code list must be an object");
			continue;
		}
		check_keys(l, p, v, codelist_keys);
		(void)get_str(l, p, v, "note", 0);
		codes = get_obj(l, p, v, "codes", 1);
		if (!codes)
			continue;
		sub(pc, p, "codes");
		if (json_object_size(codes) == 0) {
			err(l, pc, "a code list needs at least one code");
			continue;
		}
		cl->name = cs_strdup(name);
		cl->codes = calloc(json_object_size(codes), sizeof(char *));
		cl->labels = calloc(json_object_size(codes), sizeof(char *));
		cl->line = line_of(l, p);
		if (!cl->name || !cl->codes || !cl->labels) {
			diag_add(l->d, l->file, 0, "out of memory");
			return;
		}
		s->ncodelists++;
		json_object_foreach(codes, code, label) {
			char pk[PTR_MAX];
			sub(pk, pc, code);
			if (!*code || strchr(code, ',') || strlen(code) > 64) {
				err(l, pk, "a code must be 1-64 characters without ','");
				continue;
			}
			if (!json_is_string(label)) {
				err(l, pk, "a code's label must be a string");
				continue;
			}
			cl->codes[cl->n] = cs_strdup(code);
			cl->labels[cl->n] = cs_strdup(json_string_value(label));
			if (!cl->codes[cl->n] || !cl->labels[cl->n]) {
				diag_add(l->d, l->file, 0, "out of memory");
				return;
			}
			cl->n++;
		}
	}
}

static void load_model_field(struct ld *l, const char *p, const char *name,
			     json_t *v, struct mfield *f)
{
	int t;
	const char *cl;

	f->name = cs_strdup(name);
	if (!f->name) {
		diag_add(l->d, l->file, 0, "out of memory");
		return;
	}
	if (!valid_name(name))
		err(l, p, "field name must match [a-z_][a-z0-9_]*");
	if (!json_is_object(v)) {
		err(l, p, "a field must be an object");
		return;
	}
	check_keys(l, p, v, mfield_keys);
	t = get_enum(l, p, v, "type", types, -2);
	if (t == -2)
		err(l, p, "missing required key 'type'");
	f->type = t < 0 ? FT_STRING : (enum field_type)t;
	cl = get_str(l, p, v, "codelist", 0);
	if (t == FT_CODE && !cl && !json_object_get(v, "codelist")) {
		err(l, p, "a code field needs 'codelist'");
	} else if (cl && t != FT_CODE && t >= 0) {
		char pc[PTR_MAX];
		sub(pc, p, "codelist");
		err(l, pc, "'codelist' applies only to type code");
	} else if (cl) {
		f->cl = mapping_find_codelist(l->set, cl);
		if (!f->cl) {
			char pc[PTR_MAX];
			sub(pc, p, "codelist");
			err(l, pc, "unknown code list '%s'", cl);
		}
	}
	f->multiple = get_bool(l, p, v, "multiple", 0) == 1;
	if (f->multiple && f->type != FT_CODE)
		err(l, p, "'multiple' applies only to code fields");
	t = get_enum(l, p, v, "check", checks, CHECK_NONE);
	f->check = t < 0 ? CHECK_NONE : (enum value_check)t;
	if (f->check != CHECK_NONE && f->type != FT_STRING)
		err(l, p, "'check' applies only to string fields");
	t = get_enum(l, p, v, "owner", sides, -2);
	if (t == -2)
		err(l, p, "missing required key 'owner'");
	f->owner = t < 0 ? SIDE_REMOTE : (enum side)t;
	t = get_enum(l, p, v, "policy", policies, POLICY_OWNER);
	f->policy = t < 0 ? POLICY_OWNER : (enum merge_policy)t;
	(void)get_str(l, p, v, "census", 0);
	(void)get_str(l, p, v, "note", 0);
}

static void load_model(struct ld *l, json_t *root)
{
	json_t *cls, *ents, *v;
	const char *name;

	check_keys(l, "", root, model_keys);
	check_format(l, root, MODEL_FORMAT);
	(void)get_str(l, "", root, "$schema", 0);
	(void)get_str(l, "", root, "note", 0);
	cls = get_obj(l, "", root, "codelists", 1);
	ents = get_obj(l, "", root, "entities", 1);
	if (cls)
		load_codelists(l, cls);
	if (!ents)
		return;
	l->m->e = calloc(json_object_size(ents) + 1, sizeof(*l->m->e));
	if (!l->m->e) {
		diag_add(l->d, l->file, 0, "out of memory");
		return;
	}
	json_object_foreach(ents, name, v) {
		char p[PTR_MAX], pf[PTR_MAX];
		struct mentity *me = &l->m->e[l->m->n];
		json_t *fields, *fv;
		const char *fname;

		sub(p, "/entities", name);
		if (!valid_name(name))
			err(l, p, "entity name must match [a-z_][a-z0-9_]*");
		if (!json_is_object(v)) {
			err(l, p, "an entity must be an object");
			continue;
		}
		check_keys(l, p, v, mentity_keys);
		(void)get_str(l, p, v, "note", 0);
		fields = get_obj(l, p, v, "fields", 1);
		if (!fields)
			continue;
		if (json_object_size(fields) == 0) {
			err(l, p, "an entity needs at least one field");
			continue;
		}
		me->name = cs_strdup(name);
		me->f = calloc(json_object_size(fields) + 1, sizeof(*me->f));
		if (!me->name || !me->f) {
			diag_add(l->d, l->file, 0, "out of memory");
			free(me->name);
			free(me->f);
			me->name = NULL;
			me->f = NULL;
			return;
		}
		l->m->n++;
		sub(pf, p, "fields");
		json_object_foreach(fields, fname, fv) {
			char pp[PTR_MAX];
			sub(pp, pf, fname);
			load_model_field(l, pp, fname, fv, &me->f[me->n++]);
		}
	}
}

static const struct mentity *model_entity(const struct model *m,
					  const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->e[i].name, name))
			return &m->e[i];
	return NULL;
}

static const struct mfield *model_field(const struct mentity *e,
					const char *name)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->f[i].name && !strcmp(e->f[i].name, name))
			return &e->f[i];
	return NULL;
}

/* ---------------------------------------------------------------------
 * A mapping set file. */

static const char *const set_keys[] = { "$schema", "format", "note", "codec",
	"codelists", "entities", NULL };
static const char *const xlate_keys[] = { "note", "local", "remote", NULL };
static const char *const entity_keys[] = { "note", "codec", "parent", "local",
	"remote", "match", "fields", NULL };
static const char *const local_keys[] = { "table", "key", "parent_key",
	"modified", NULL };
static const char *const remote_json_keys[] = { "collection", "paths", "id",
	"version", "deleted", "modified", "feed", NULL };
static const char *const remote_xml_keys[] = { "records", "element", "id",
	"version", "deleted", "modified", "schema", "order", "collection",
	"paths", "feed", NULL };
/* "modified" is refused by name below rather than as an unknown key. */
static const char *const remote_child_keys[] = { "items", "order",
	"modified", NULL };
static const char *const paths_keys[] = { "item", "create", "changes", NULL };
static const char *const feed_keys[] = { "items", "next", "more", NULL };
static const char *const field_keys[] = { "local", "remote", "direction",
	"owner", "policy", "note", NULL };
static const char *const xform_local_keys[] = { "column", "trim", "case",
	"date_format", "split", NULL };
static const char *const xform_remote_keys[] = { "path", "trim", "case",
	"date_format", "split", NULL };
static const char *const split_keys[] = { "separator", "part", NULL };

static void load_xlates(struct ld *l, json_t *obj)
{
	const char *name;
	json_t *v;

	json_object_foreach(obj, name, v) {
		char p[PTR_MAX];
		const struct codelist *cl = mapping_find_codelist(l->set, name);
		struct xlate *x;

		sub(p, "/codelists", name);
		if (!cl) {
			err(l, p, "unknown code list '%s' (not in the canonical "
			    "model)", name);
			continue;
		}
		if (!json_is_object(v)) {
			err(l, p, "a code list translation must be an object");
			continue;
		}
		x = &l->m->x[cl - l->set->codelists];
		check_keys(l, p, v, xlate_keys);
		(void)get_str(l, p, v, "note", 0);
		for (int side = 0; side < 2; side++) {
			const char *sk = side == SIDE_LOCAL ? "local" : "remote";
			json_t *tr = get_obj(l, p, v, sk, 0);
			char ps[PTR_MAX], where[PTR_MAX + 64];
			const char *code;
			json_t *val;

			if (!tr)
				continue;
			sub(ps, p, sk);
			if (x->where[side]) {
				err(l, ps, "code list '%s' already has a %s "
				    "translation (%s)", name, sk, x->where[side]);
				continue;
			}
			snprintf(where, sizeof(where), "%s:%d", l->file,
				 line_of(l, ps));
			x->where[side] = cs_strdup(where);
			x->side[side] = calloc(cl->n + 1, sizeof(char *));
			if (!x->where[side] || !x->side[side]) {
				diag_add(l->d, l->file, 0, "out of memory");
				return;
			}
			json_object_foreach(tr, code, val) {
				char pk[PTR_MAX];
				int i = mapping_code_index(cl, code);
				sub(pk, ps, code);
				if (i < 0) {
					err(l, pk, "unknown code '%s' in code list "
					    "'%s'", code, name);
					continue;
				}
				if (!json_is_string(val) ||
				    json_string_length(val) == 0 ||
				    json_string_length(val) !=
				    strlen(json_string_value(val))) {
					err(l, pk, "a translation must be a "
					    "non-empty string");
					continue;
				}
				if (side == SIDE_LOCAL &&
				    strchr(json_string_value(val), ',')) {
					err(l, pk, "a provider-side code cannot "
					    "contain ',' (lists of codes are stored "
					    "','-separated)");
					continue;
				}
				x->side[side][i] = cs_strdup(json_string_value(val));
				if (!x->side[side][i]) {
					diag_add(l->d, l->file, 0, "out of memory");
					return;
				}
			}
		}
	}
}

static char *dupe(struct ld *l, const char *s)
{
	char *r;

	if (!s)
		return NULL;
	r = cs_strdup(s);
	if (!r)
		diag_add(l->d, l->file, 0, "out of memory");
	return r;
}

/* Checks a remote location for the entity's codec. writable: the encoder
 * must be able to write there. Reports problems; returns the compiled
 * XPath (xml) through comp when non-NULL. */
static void check_loc(struct ld *l, const char *p, enum codec_kind codec,
		      const char *loc, int writable, void **comp)
{
	if (codec == CODEC_JSON) {
		const char *seg = loc;
		int n = 0;

		if (!*loc || !mapping_valid_json_pointer(loc)) {
			err(l, p, "not a valid JSON Pointer (RFC 6901, starting "
			    "with '/')");
			return;
		}
		while (seg && *seg) {
			const char *next = strchr(seg + 1, '/');
			size_t len = next ? (size_t)(next - seg - 1) : strlen(seg + 1);
			int numeric = len > 0 && strspn(seg + 1, "0123456789") >= len;

			if (++n > CODEC_JSON_MAX_DEPTH || len > 255) {
				err(l, p, "JSON Pointer longer than %d segments or "
				    "with a segment over 255 bytes",
				    CODEC_JSON_MAX_DEPTH);
				return;
			}
			if (writable && (numeric || (len == 1 && seg[1] == '-'))) {
				err(l, p, "a location written to the council cannot "
				    "address an array element");
				return;
			}
			seg = next;
		}
		return;
	}
	{
		char e[200];
		void *c = codec_xml_xpath_compile(loc, e, sizeof(e));
		if (!c) {
			/* e names the problem ("XPath does not compile (...)"). */
			err(l, p, "%s", e);
			return;
		}
		if (writable && !codec_xml_path_writable(loc))
			err(l, p, "XPath is outside the writable subset (element "
			    "steps, an optional final @attribute or text(); "
			    "needed to write this location)");
		if (comp)
			*comp = c;
		else
			codec_xml_xpath_free(c);
	}
}

static void load_xform(struct ld *l, const char *p, json_t *v,
		       const struct map_field *f, int local,
		       struct map_xform *x, char **where)
{
	const char *loc;
	int t;
	json_t *split;

	if (json_is_string(v)) {
		loc = json_string_value(v);
		if (!*loc)
			err(l, p, "must not be empty");
		*where = dupe(l, loc);
		return;
	}
	if (!json_is_object(v)) {
		err(l, p, "must be a string (%s) or an object", local ?
		    "a column" : "a location");
		return;
	}
	check_keys(l, p, v, local ? xform_local_keys : xform_remote_keys);
	loc = get_str(l, p, v, local ? "column" : "path", 1);
	*where = dupe(l, loc);
	t = get_bool(l, p, v, "trim", 0);
	x->trim = t == 1;
	t = get_enum(l, p, v, "case", cases, CASE_KEEP);
	x->tcase = t < 0 ? CASE_KEEP : (enum text_case)t;
	x->date_format = dupe(l, get_str(l, p, v, "date_format", 0));
	if (x->date_format) {
		char pd[PTR_MAX];
		sub(pd, p, "date_format");
		if (f->type != FT_DATE && f->type != FT_DATETIME)
			err(l, pd, "'date_format' applies only to date and "
			    "datetime fields");
		else if (!xform_date_format_valid(x->date_format, f->type))
			err(l, pd, "invalid date format (use %%Y %%y %%m %%d "
			    "%%H %%M %%S %%%% and literal text)");
	}
	split = get_obj(l, p, v, "split", 0);
	if (split) {
		char ps[PTR_MAX];
		sub(ps, p, "split");
		check_keys(l, ps, split, split_keys);
		x->split_sep = dupe(l, get_str(l, ps, split, "separator", 1));
		t = get_enum(l, ps, split, "part", parts, -2);
		if (t == -2)
			err(l, ps, "missing required key 'part'");
		x->split_part = t < 0 ? PART_NONE : (enum split_part)t;
		if (f->type != FT_STRING || f->multiple)
			err(l, ps, "'split' applies only to string fields");
	}
}

/* The newest policy orders the two sides' changes by their modification
 * times, so the entity must say where both keep them (local and remote are
 * read before the fields). A one-way field never reaches its policy. The
 * problem is reported at the field's "policy" key, or at the field when
 * the policy comes from the model. */
static void check_newest(struct ld *l, const char *p, json_t *v,
			 const struct map_entity *e, const struct map_field *f)
{
	char pp[PTR_MAX];

	if (f->policy != POLICY_NEWEST || f->dir != DIR_BOTH ||
	    (e->local_modified_col && e->remote_modified_loc))
		return;
	if (json_object_get(v, "policy"))
		sub(pp, p, "policy");
	else
		cs_strlcpy(pp, p, sizeof(pp));
	if (e->parent_name)
		err(l, pp, "policy newest needs modification times, which only "
		    "top-level entities have (local.modified, remote.modified)");
	else
		err(l, pp, "policy newest needs the entity's local.modified and "
		    "remote.modified");
}

static void load_field(struct ld *l, const char *p, const char *name,
		       json_t *v, const struct mentity *me,
		       struct map_entity *e, struct map_field *f)
{
	const struct mfield *mf = model_field(me, name);
	json_t *lv, *rv;
	int t;

	f->name = dupe(l, name);
	f->line = line_of(l, p);
	if (!mf) {
		err(l, p, "unknown field '%s' for entity '%s' (not in the "
		    "canonical model)", name, me->name);
		return;
	}
	if (!json_is_object(v)) {
		err(l, p, "a field must be an object");
		return;
	}
	f->type = mf->type;
	f->multiple = mf->multiple;
	f->codelist = mf->cl;
	f->check = mf->check;
	check_keys(l, p, v, field_keys);
	f->note = dupe(l, get_str(l, p, v, "note", 0));
	t = get_enum(l, p, v, "direction", dirs, DIR_BOTH);
	f->dir = t < 0 ? DIR_BOTH : (enum field_dir)t;
	t = get_enum(l, p, v, "owner", sides, (int)mf->owner);
	f->owner = t < 0 ? mf->owner : (enum side)t;
	t = get_enum(l, p, v, "policy", policies, (int)mf->policy);
	f->policy = t < 0 ? mf->policy : (enum merge_policy)t;
	check_newest(l, p, v, e, f);

	lv = json_object_get(v, "local");
	rv = json_object_get(v, "remote");
	if (!lv)
		err(l, p, "missing required key 'local'");
	if (!rv)
		err(l, p, "missing required key 'remote'");
	if (lv) {
		char pl[PTR_MAX];
		sub(pl, p, "local");
		load_xform(l, pl, lv, f, 1, &f->local_x, &f->local_col);
		if (f->local_col && !mapping_valid_sql_ident(f->local_col, 0))
			err(l, pl, "not a plain SQL column name "
			    "([a-z_][a-z0-9_]*)");
	}
	if (rv) {
		char pr[PTR_MAX];
		sub(pr, p, "remote");
		load_xform(l, pr, rv, f, 0, &f->remote_x, &f->remote_loc);
		if (f->remote_loc && json_is_object(rv)) {
			char tmp[PTR_MAX];
			cs_strlcpy(tmp, pr, sizeof(tmp));
			sub(pr, tmp, "path");
		}
		if (f->remote_loc)
			check_loc(l, pr, e->codec, f->remote_loc,
				  mapping_field_flows_to(f, SIDE_REMOTE),
				  e->codec == CODEC_XML ? &f->remote_xpath : NULL);
	}
	/* Code translations are bound once every file is read
	 * (bind_codes): a set may define them in any of its files. */
}

/* A location without a final "/text()" or a leading "./" (they address
 * the same element). */
static size_t loc_len(const char *loc)
{
	size_t n = strlen(loc);

	if (n >= 7 && !strcmp(loc + n - 7, "/text()"))
		n -= 7;
	return n;
}

static const char *loc_start(const char *loc)
{
	return !strncmp(loc, "./", 2) ? loc + 2 : loc;
}

static int same_loc(const char *a, const char *b)
{
	const char *x = loc_start(a), *y = loc_start(b);
	size_t n = loc_len(x);

	return n == loc_len(y) && !strncmp(x, y, n);
}

/* Whether inner lies strictly inside outer ("/a" contains "/a/b"). */
static int loc_inside(const char *inner, const char *outer)
{
	const char *x = loc_start(inner), *y = loc_start(outer);
	size_t n = loc_len(y);

	if (!strcmp(y, "."))
		return 0;
	return loc_len(x) > n && !strncmp(x, y, n) && x[n] == '/';
}

/* Two fields may share a location only as the two halves of one split. */
static int split_pair(const struct map_xform *a, const struct map_xform *b)
{
	if (!a->split_sep || !b->split_sep || strcmp(a->split_sep, b->split_sep))
		return 0;
	return (a->split_part == PART_FIRST && b->split_part == PART_REST) ||
	       (a->split_part == PART_REST && b->split_part == PART_FIRST) ||
	       (a->split_part == PART_INIT && b->split_part == PART_LAST) ||
	       (a->split_part == PART_LAST && b->split_part == PART_INIT);
}

static void check_field_uses(struct ld *l, const char *pf, struct map_entity *e)
{
	for (size_t i = 0; i < e->nfields; i++) {
		struct map_field *a = &e->fields[i];
		char pa[PTR_MAX];
		int lshare = 0, rshare = 0;

		if (!a->name)
			continue;
		sub(pa, pf, a->name);
		for (size_t j = 0; j < e->nfields; j++) {
			struct map_field *b = &e->fields[j];
			if (i == j || !b->name)
				continue;
			if (a->local_col && b->local_col &&
			    !strcmp(a->local_col, b->local_col)) {
				lshare++;
				if (j < i && !split_pair(&a->local_x, &b->local_x))
					err(l, pa, "column '%s' is already mapped "
					    "by field '%s'", a->local_col, b->name);
			}
			if (a->remote_loc && b->remote_loc &&
			    same_loc(a->remote_loc, b->remote_loc)) {
				rshare++;
				if (j < i && !split_pair(&a->remote_x, &b->remote_x))
					err(l, pa, "location '%s' is already mapped "
					    "by field '%s'", a->remote_loc, b->name);
			} else if (a->remote_loc && b->remote_loc &&
				   mapping_field_flows_to(a, SIDE_REMOTE) &&
				   loc_inside(b->remote_loc, a->remote_loc)) {
				err(l, pa, "location '%s' contains field '%s''s "
				    "location '%s'", a->remote_loc, b->name,
				    b->remote_loc);
			}
			if (j < i && ((a->local_x.split_sep &&
				       b->local_x.split_sep &&
				       !strcmp(a->local_col, b->local_col)) ||
				      (a->remote_x.split_sep &&
				       b->remote_x.split_sep &&
				       same_loc(a->remote_loc, b->remote_loc))) &&
			    (a->dir != b->dir || a->owner != b->owner ||
			     a->policy != b->policy))
				err(l, pa, "the two parts of a split (with field "
				    "'%s') must have the same direction, owner and "
				    "policy", b->name);
		}
		if (a->local_x.split_sep && lshare == 0)
			err(l, pa, "a split needs its other part mapped to the "
			    "same column");
		if (a->remote_x.split_sep && rshare == 0)
			err(l, pa, "a split needs its other part mapped to the "
			    "same location");
	}
}

static void check_template(struct ld *l, const char *p, const char *tpl,
			   const char *need)
{
	const char *s = tpl;

	while ((s = strchr(s, '{'))) {
		const char *e = strchr(s, '}');
		size_t n = e ? (size_t)(e - s - 1) : 0;
		if (!e || !((n == 2 && !strncmp(s + 1, "id", 2)) ||
			    (n == 5 && !strncmp(s + 1, "since", 5)) ||
			    (n == 5 && !strncmp(s + 1, "limit", 5)) ||
			    (n == 10 && !strncmp(s + 1, "collection", 10)))) {
			err(l, p, "unknown placeholder in path template (use "
			    "{collection}, {id}, {since}, {limit})");
			return;
		}
		s = e + 1;
	}
	if (need && !strstr(tpl, need))
		err(l, p, "path template needs %s", need);
	if (*tpl == '/' || strstr(tpl, "..") || strstr(tpl, "://"))
		err(l, p, "path template must be relative to remote.url");
}

static void load_order(struct ld *l, const char *p, json_t *o,
		       struct map_entity *e)
{
	const char *parent;
	json_t *list;

	e->order_parent = calloc(json_object_size(o) + 1, sizeof(char *));
	e->order_children = calloc(json_object_size(o) + 1, sizeof(char **));
	if (!e->order_parent || !e->order_children) {
		diag_add(l->d, l->file, 0, "out of memory");
		return;
	}
	json_object_foreach(o, parent, list) {
		char pp[PTR_MAX];
		size_t i;
		json_t *n;
		char **names;

		sub(pp, p, parent);
		if (!valid_element(parent))
			err(l, pp, "not an XML element name");
		if (!json_is_array(list) || json_array_size(list) == 0) {
			err(l, pp, "must be a non-empty array of element names");
			continue;
		}
		names = calloc(json_array_size(list) + 1, sizeof(char *));
		if (!names) {
			diag_add(l->d, l->file, 0, "out of memory");
			return;
		}
		e->order_parent[e->norder] = dupe(l, parent);
		e->order_children[e->norder++] = names;
		{
			size_t k = 0;
			json_array_foreach(list, i, n) {
				char pi[PTR_MAX];
				char idx[24];
				snprintf(idx, sizeof(idx), "%zu", i);
				sub(pi, pp, idx);
				if (!json_is_string(n) ||
				    !valid_element(json_string_value(n))) {
					err(l, pi, "not an XML element name");
					continue;
				}
				/* No gaps: the list is NULL-terminated. */
				if ((names[k] = dupe(l, json_string_value(n))))
					k++;
			}
		}
	}
}

/* The web-service part of an entity's remote: collection and path
 * templates (JSON, and XML served over HTTP). */
static void parse_web_service(struct ld *l, const char *p, json_t *r,
			      struct map_entity *e, int need_collection)
{
	char pp[PTR_MAX];
	json_t *paths;

	e->remote_collection = dupe(l, get_str(l, p, r, "collection",
					       need_collection));
	if (e->remote_collection &&
	    !mapping_valid_sql_ident(e->remote_collection, 0)) {
		sub(pp, p, "collection");
		err(l, pp, "collection must match [a-z_][a-z0-9_]*");
	}
	paths = get_obj(l, p, r, "paths", 0);
	if (paths) {
		static const char *const need[] = { "{id}", NULL, "{since}" };
		char **slot[] = { &e->path_item, &e->path_create,
				  &e->path_changes };
		sub(pp, p, "paths");
		check_keys(l, pp, paths, paths_keys);
		for (int i = 0; i < 3; i++) {
			char pt[PTR_MAX];
			*slot[i] = dupe(l, get_str(l, pp, paths,
						   paths_keys[i], 0));
			sub(pt, pp, paths_keys[i]);
			if (*slot[i])
				check_template(l, pt, *slot[i], need[i]);
		}
	}
}

/* remote.modified of a top-level entity: read only, never written, so any
 * pointer or compiling XPath will do. No default: without it the entity's
 * fields cannot use the newest policy. */
static void load_remote_modified(struct ld *l, const char *p, json_t *r,
				 struct map_entity *e)
{
	char pp[PTR_MAX];

	e->remote_modified_loc = dupe(l, get_str(l, p, r, "modified", 0));
	if (!e->remote_modified_loc)
		return;
	sub(pp, p, "modified");
	check_loc(l, pp, e->codec, e->remote_modified_loc, 0,
		  e->codec == CODEC_XML ? &e->remote_modified_xpath : NULL);
}

static void load_remote(struct ld *l, const char *p, json_t *r,
			struct map_entity *e, int child)
{
	char pp[PTR_MAX];
	json_t *o;

	if (child) {
		check_keys(l, p, r, remote_child_keys);
		if (json_object_get(r, "modified")) {
			sub(pp, p, "modified");
			err(l, pp, "'modified' applies only to top-level "
			    "entities");
		}
		e->items_loc = dupe(l, get_str(l, p, r, "items", 1));
		if (e->items_loc) {
			sub(pp, p, "items");
			check_loc(l, pp, e->codec, e->items_loc, 1,
				  e->codec == CODEC_XML ? &e->items_xpath : NULL);
			if (e->codec == CODEC_XML &&
			    (strchr(e->items_loc, '@') ||
			     strstr(e->items_loc, "text()") ||
			     !strcmp(e->items_loc, ".")))
				err(l, pp, "items must be element steps (each item "
				    "is an element)");
		}
		if (e->codec == CODEC_XML && (o = get_obj(l, p, r, "order", 0))) {
			sub(pp, p, "order");
			load_order(l, pp, o, e);
		} else if (e->codec == CODEC_JSON && json_object_get(r, "order")) {
			sub(pp, p, "order");
			err(l, pp, "'order' applies only to the xml codec");
		}
		return;
	}
	if (e->codec == CODEC_JSON) {
		json_t *feed;
		check_keys(l, p, r, remote_json_keys);
		parse_web_service(l, p, r, e, 1);
		e->remote_id_loc = dupe(l, get_str(l, p, r, "id", 0));
		e->remote_version_loc = dupe(l, get_str(l, p, r, "version", 0));
		e->remote_deleted_loc = dupe(l, get_str(l, p, r, "deleted", 0));
		load_remote_modified(l, p, r, e);
		feed = get_obj(l, p, r, "feed", 0);
		if (feed) {
			sub(pp, p, "feed");
			check_keys(l, pp, feed, feed_keys);
			e->feed_items_ptr = dupe(l, get_str(l, pp, feed, "items", 0));
			e->feed_next_ptr = dupe(l, get_str(l, pp, feed, "next", 0));
			e->feed_more_ptr = dupe(l, get_str(l, pp, feed, "more", 0));
		}
		{
			static const char *const names[] = { "id", "version",
				"deleted", "feed/items", "feed/next", "feed/more" };
			static const char *const defs[] = { "/id", "/version",
				"/deleted", "/items", "/next", "/more" };
			char **slot[] = { &e->remote_id_loc,
				&e->remote_version_loc, &e->remote_deleted_loc,
				&e->feed_items_ptr, &e->feed_next_ptr,
				&e->feed_more_ptr };
			for (int i = 0; i < 6; i++) {
				char pt[PTR_MAX + 16];
				snprintf(pt, sizeof(pt), "%s/%s", p, names[i]);
				if (!*slot[i])
					*slot[i] = dupe(l, defs[i]);
				else
					check_loc(l, pt, CODEC_JSON, *slot[i], 0,
						  NULL);
			}
		}
		return;
	}
	check_keys(l, p, r, remote_xml_keys);
	if (json_object_get(r, "collection") || json_object_get(r, "paths") ||
	    json_object_get(r, "feed")) {
		/* Also served by an XML web service. */
		json_t *feed;
		parse_web_service(l, p, r, e, 1);
		feed = get_obj(l, p, r, "feed", 0);
		if (feed) {
			sub(pp, p, "feed");
			check_keys(l, pp, feed, feed_keys);
			e->feed_items_ptr = dupe(l, get_str(l, pp, feed, "items", 0));
			e->feed_next_ptr = dupe(l, get_str(l, pp, feed, "next", 0));
			e->feed_more_ptr = dupe(l, get_str(l, pp, feed, "more", 0));
		}
		{
			static const char *const names[] = { "items", "next",
							     "more" };
			static const char *const defs[] = { "/changes/*",
				"/changes/@next", "/changes/@more" };
			char **slot[] = { &e->feed_items_ptr,
				&e->feed_next_ptr, &e->feed_more_ptr };
			for (int i = 0; i < 3; i++) {
				char pt[PTR_MAX + 16];
				snprintf(pt, sizeof(pt), "%s/feed/%s", p, names[i]);
				if (!*slot[i])
					*slot[i] = dupe(l, defs[i]);
				else
					check_loc(l, pt, CODEC_XML, *slot[i], 0,
						  NULL);
			}
		}
	}
	e->records_loc = dupe(l, get_str(l, p, r, "records", 1));
	e->xml_root = dupe(l, get_str(l, p, r, "element", 1));
	e->remote_id_loc = dupe(l, get_str(l, p, r, "id", 1));
	e->remote_version_loc = dupe(l, get_str(l, p, r, "version", 0));
	e->remote_deleted_loc = dupe(l, get_str(l, p, r, "deleted", 0));
	load_remote_modified(l, p, r, e);
	{
		static const char *const names[] = { "records", "id", "version",
						     "deleted" };
		char *locs[] = { e->records_loc, e->remote_id_loc,
				 e->remote_version_loc, e->remote_deleted_loc };
		for (int i = 0; i < 4; i++) {
			if (!locs[i])
				continue;
			sub(pp, p, names[i]);
			check_loc(l, pp, CODEC_XML, locs[i], 0, NULL);
		}
	}
	if (e->xml_root && !valid_element(e->xml_root)) {
		sub(pp, p, "element");
		err(l, pp, "not an XML element name");
	}
	{
		const char *xsd = get_str(l, p, r, "schema", 0);
		if (xsd) {
			char path[4096];
			struct stat st;
			if (*xsd == '/')
				cs_strlcpy(path, xsd, sizeof(path));
			else
				snprintf(path, sizeof(path), "%s/%s", l->dir, xsd);
			e->xsd = dupe(l, path);
			sub(pp, p, "schema");
			if (stat(path, &st) || !S_ISREG(st.st_mode))
				err(l, pp, "schema file not found");
		}
	}
	if ((o = get_obj(l, p, r, "order", 0))) {
		sub(pp, p, "order");
		load_order(l, pp, o, e);
	}
}

/* local.modified: a column of the entity's table. Top-level entities only:
 * the engine orders changes record by record, and a child is merged as
 * part of its top-level record. */
static void load_local_modified(struct ld *l, const char *p, json_t *local,
				struct map_entity *e, int child)
{
	char pm[PTR_MAX];

	e->local_modified_col = dupe(l, get_str(l, p, local, "modified", 0));
	if (!e->local_modified_col)
		return;
	sub(pm, p, "modified");
	if (child)
		err(l, pm, "'modified' applies only to top-level entities");
	else if (!mapping_valid_sql_ident(e->local_modified_col, 0))
		err(l, pm, "modified must be a plain column name");
}

static void load_entity(struct ld *l, const char *name, json_t *v,
			enum codec_kind set_codec)
{
	struct mapping_set *s = l->set;
	char p[PTR_MAX], pp[PTR_MAX];
	const struct mentity *me;
	struct map_entity *e;
	json_t *local, *remote, *fields, *match, *fv;
	const char *fname, *parent;
	int t;

	sub(p, "/entities", name);
	me = model_entity(l->m, name);
	if (!me) {
		err(l, p, "unknown entity '%s' (not in the canonical model)",
		    name);
		return;
	}
	for (size_t i = 0; i < s->nentities; i++)
		if (!strcmp(s->entities[i].name, name)) {
			err(l, p, "entity '%s' is already mapped in %s:%d", name,
			    s->entities[i].file, s->entities[i].line);
			return;
		}
	if (!json_is_object(v)) {
		err(l, p, "an entity must be an object");
		return;
	}
	if (s->nentities == MAPPING_MAX_ENTITIES) {
		err(l, p, "more than %d entities", MAPPING_MAX_ENTITIES);
		return;
	}
	e = &s->entities[s->nentities++];
	e->name = dupe(l, name);
	e->file = dupe(l, l->file);
	e->line = line_of(l, p);
	check_keys(l, p, v, entity_keys);
	e->note = dupe(l, get_str(l, p, v, "note", 0));
	t = get_enum(l, p, v, "codec", codecs, (int)set_codec);
	e->codec = t < 0 ? set_codec : (enum codec_kind)t;
	/* Resolved once every file is read (resolve_parents). */
	parent = get_str(l, p, v, "parent", 0);
	e->parent_name = dupe(l, parent);
	if (parent) {
		sub(pp, p, "parent");
		e->parent_line = line_of(l, pp);
	}

	local = get_obj(l, p, v, "local", 1);
	if (local) {
		sub(pp, p, "local");
		check_keys(l, pp, local, local_keys);
		e->local_table = dupe(l, get_str(l, pp, local, "table", 1));
		e->local_key = dupe(l, get_str(l, pp, local, "key", 1));
		e->local_parent_col = dupe(l, get_str(l, pp, local, "parent_key",
						      0));
		if (e->local_table && !mapping_valid_sql_ident(e->local_table, 1))
			err(l, pp, "table must be [schema.]name in lower case");
		if (e->local_key && !mapping_valid_sql_ident(e->local_key, 0))
			err(l, pp, "key must be a plain column name");
		if (parent && !e->local_parent_col && !json_object_get(local,
								       "parent_key"))
			err(l, pp, "a child entity needs 'parent_key' (the column "
			    "holding the parent's key)");
		if (!parent && e->local_parent_col)
			err(l, pp, "'parent_key' applies only to child entities");
		if (e->local_parent_col &&
		    !mapping_valid_sql_ident(e->local_parent_col, 0))
			err(l, pp, "parent_key must be a plain column name");
		load_local_modified(l, pp, local, e, parent != NULL);
	}
	remote = get_obj(l, p, v, "remote", 1);
	if (remote) {
		sub(pp, p, "remote");
		load_remote(l, pp, remote, e, parent != NULL);
	}

	fields = get_obj(l, p, v, "fields", 1);
	if (fields) {
		sub(pp, p, "fields");
		if (json_object_size(fields) == 0)
			err(l, pp, "an entity needs at least one field");
		e->fields = calloc(json_object_size(fields) + 1,
				   sizeof(*e->fields));
		if (!e->fields) {
			diag_add(l->d, l->file, 0, "out of memory");
			return;
		}
		json_object_foreach(fields, fname, fv) {
			char pf[PTR_MAX];
			if (e->nfields == MAPPING_MAX_FIELDS) {
				err(l, pp, "more than %d fields", MAPPING_MAX_FIELDS);
				break;
			}
			sub(pf, pp, fname);
			load_field(l, pf, fname, fv, me, e,
				   &e->fields[e->nfields++]);
		}
		check_field_uses(l, pp, e);
	}

	match = json_object_get(v, "match");
	sub(pp, p, "match");
	if (!match) {
		err(l, p, "missing required key 'match' (the fields that "
		    "identify a record on both sides)");
	} else if (!json_is_array(match) || json_array_size(match) == 0 ||
		   json_array_size(match) > MAPPING_MAX_KEYS) {
		err(l, pp, "'match' must be an array of 1 to %d field names",
		    MAPPING_MAX_KEYS);
	} else {
		size_t i;
		json_array_foreach(match, i, fv) {
			char pi[PTR_MAX], idx[24];
			int fi;
			snprintf(idx, sizeof(idx), "%zu", i);
			sub(pi, pp, idx);
			if (!json_is_string(fv)) {
				err(l, pi, "a match key must be a field name");
				continue;
			}
			fi = mapping_field_index(e, json_string_value(fv));
			if (fi < 0) {
				err(l, pi, "match key '%s' is not a mapped field",
				    json_string_value(fv));
				continue;
			}
			for (size_t k = 0; k < e->nmatch; k++)
				if (e->match[k] == (size_t)fi) {
					err(l, pi, "match key '%s' is listed twice",
					    json_string_value(fv));
					fi = -1;
					break;
				}
			if (fi >= 0)
				e->match[e->nmatch++] = (size_t)fi;
		}
	}
}

static void load_set_file(struct ld *l, json_t *root)
{
	json_t *cls, *ents, *v;
	const char *name;
	int t;

	check_keys(l, "", root, set_keys);
	check_format(l, root, SET_FORMAT);
	(void)get_str(l, "", root, "$schema", 0);
	(void)get_str(l, "", root, "note", 0);
	t = get_enum(l, "", root, "codec", codecs, CODEC_JSON);
	cls = get_obj(l, "", root, "codelists", 0);
	if (cls)
		load_xlates(l, cls);
	ents = get_obj(l, "", root, "entities", 0);
	if (ents)
		json_object_foreach(ents, name, v)
			load_entity(l, name, v, t < 0 ? CODEC_JSON :
				    (enum codec_kind)t);
}

/* Parents are named in files read in any order: link them at the end. */
static void resolve_parents(struct mapping_set *s, struct diag *d)
{
	for (size_t i = 0; i < s->nentities; i++) {
		struct map_entity *e = &s->entities[i];
		const char *pname = e->parent_name;
		struct map_entity *p = NULL;

		if (!pname)
			continue;
		for (size_t j = 0; j < s->nentities; j++)
			if (j != i && !strcmp(s->entities[j].name, pname))
				p = &s->entities[j];
		if (!strcmp(pname, e->name))
			diag_add(d, e->file, e->parent_line, "/entities/%s/parent: "
				 "an entity cannot be its own parent", e->name);
		else if (!p)
			diag_add(d, e->file, e->parent_line, "/entities/%s/parent: parent "
				 "entity '%s' is not mapped in this set", e->name,
				 pname);
		else if (p->codec != e->codec)
			diag_add(d, e->file, e->parent_line, "/entities/%s/parent: a "
				 "child entity must use its parent's codec", e->name);
		e->parent = p;
	}
	for (size_t i = 0; i < s->nentities; i++) {
		struct map_entity *e = &s->entities[i];
		const struct map_entity *a = e->parent;
		size_t depth = 0;

		for (; a && depth <= s->nentities; a = a->parent)
			depth++;
		if (a) {
			diag_add(d, e->file, e->parent_line, "/entities/%s/parent: "
				 "parents form a cycle", e->name);
			e->parent = NULL;	/* so nothing walks the cycle */
			continue;
		}
		if (e->parent) {
			struct map_entity *p = e->parent;
			struct map_entity **c = realloc(p->children,
				(p->nchildren + 1) * sizeof(*c));
			if (!c) {
				diag_add(d, e->file, 0, "out of memory");
				return;
			}
			p->children = c;
			p->children[p->nchildren++] = e;
		}
	}
}

/* Binds each code field to its set's translations, then checks what needs
 * the whole set: case folding that makes codes unreadable, and fields
 * mapped both ways that cannot round-trip (warnings). */
static void bind_codes(struct mapping_set *s, struct diag *d)
{
	const struct model *m = s->model;

	for (size_t i = 0; i < s->nentities; i++) {
		struct map_entity *e = &s->entities[i];

		for (size_t k = 0; k < e->nfields; k++) {
			struct map_field *f = &e->fields[k];
			struct map_xform *xs[2] = { &f->local_x, &f->remote_x };
			const char *why;

			if (!f->name)
				continue;
			if (f->type == FT_CODE && f->codelist && m->x) {
				const struct xlate *x =
					&m->x[f->codelist - s->codelists];
				f->local_x.codes = x->side[SIDE_LOCAL];
				f->remote_x.codes = x->side[SIDE_REMOTE];
			}
			for (int side = 0; side < 2; side++) {
				const struct map_xform *x = xs[side];
				const char *sname = side == SIDE_LOCAL ?
					"provider side" : "council side";

				if (f->type == FT_CODE && f->codelist &&
				    x->tcase != CASE_KEEP) {
					for (size_t c = 0; c < f->codelist->n; c++) {
						const char *v = x->codes && x->codes[c] ?
							x->codes[c] : f->codelist->codes[c];
						int bad = 0;
						for (const char *q = v; *q; q++)
							bad |= x->tcase == CASE_UPPER ?
								(*q >= 'a' && *q <= 'z') :
								(*q >= 'A' && *q <= 'Z');
						if (bad) {
							diag_add(d, e->file, f->line,
								 "/entities/%s/fields/%s: "
								 "case folding (%s) makes "
								 "code '%s' unreadable",
								 e->name, f->name, sname, v);
							break;
						}
					}
				}
				if (f->dir == DIR_BOTH && (why = xform_lossy(f, x)))
					diag_warn(d, e->file, f->line,
						  "/entities/%s/fields/%s: field "
						  "'%s' cannot round-trip (%s): %s",
						  e->name, f->name, f->name, sname,
						  why);
			}
		}
		/* A field location inside a child collection's items. */
		for (size_t c = 0; c < e->nchildren; c++)
			for (size_t k = 0; k < e->nfields; k++) {
				const struct map_field *f = &e->fields[k];
				const char *items = e->children[c]->items_loc;
				if (f->remote_loc && items &&
				    (same_loc(f->remote_loc, items) ||
				     loc_inside(f->remote_loc, items) ||
				     loc_inside(items, f->remote_loc)))
					diag_add(d, e->file, f->line,
						 "/entities/%s/fields/%s: location "
						 "'%s' overlaps the items of child "
						 "entity '%s'", e->name, f->name,
						 f->remote_loc, e->children[c]->name);
			}
	}
}

/* ---------------------------------------------------------------------
 * The set. */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && !strcmp(s + n - m, suf);
}

static char **list_json(const char *dir, struct diag *d, size_t *count)
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	*count = 0;
	if (!dh) {
		diag_add(d, dir, 0, "mapping set directory cannot be opened");
		return NULL;
	}
	while ((de = readdir(dh))) {
		char **nn;
		if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".json"))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn || !(nn[n] = cs_strdup(de->d_name))) {
			free(nn ? nn : names);
			closedir(dh);
			diag_add(d, dir, 0, "out of memory");
			return NULL;
		}
		names = nn;
		n++;
	}
	closedir(dh);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	*count = n;
	return names;
}

static int load_file(struct ld *l, const char *path, int model)
{
	json_t *root;
	char dir[4096], *slash;

	l->file = path;
	cs_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		cs_strlcpy(dir, ".", sizeof(dir));
	l->dir = dir;
	root = read_json(l);
	if (root) {
		if (model)
			load_model(l, root);
		else
			load_set_file(l, root);
		json_decref(root);
	}
	pos_free(&l->pos);
	l->dir = NULL;
	return root ? 0 : -1;
}

struct mapping_set *mapping_set_load(const char *mappings_dir,
				     const char *name, struct diag *d)
{
	struct mapping_set *s = calloc(1, sizeof(*s));
	struct model *m = calloc(1, sizeof(*m));
	struct ld l = { 0 };
	char path[4096];
	char **files;
	size_t nfiles;
	int before = d->total;

	if (!s || !m) {
		free(s);
		free(m);
		diag_add(d, mappings_dir, 0, "out of memory");
		return NULL;
	}
	codec_xml_init();
	s->model = m;
	s->name = cs_strdup(name);
	snprintf(path, sizeof(path), "%s/%s", mappings_dir, name);
	s->dir = cs_strdup(path);
	s->entities = calloc(MAPPING_MAX_ENTITIES, sizeof(*s->entities));
	if (!s->name || !s->dir || !s->entities) {
		diag_add(d, mappings_dir, 0, "out of memory");
		mapping_set_free(s);
		return NULL;
	}
	l.d = d;
	l.set = s;
	l.m = m;
	snprintf(path, sizeof(path), "%s/%s", mappings_dir, MAPPING_MODEL_FILE);
	if (load_file(&l, path, 1) || d->total > before) {
		mapping_set_free(s);
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", mappings_dir, name);
	files = list_json(path, d, &nfiles);
	if (files && !nfiles)
		diag_add(d, path, 0, "no mapping files (*.json) in the set");
	if (!files && d->total == before)
		diag_add(d, path, 0, "no mapping files (*.json) in the set");
	for (size_t i = 0; i < nfiles; i++) {
		char fp[4096 + 256];
		snprintf(fp, sizeof(fp), "%s/%s", path, files[i]);
		(void)load_file(&l, fp, 0);
		free(files[i]);
	}
	free(files);
	resolve_parents(s, d);
	if (d->total == before)
		bind_codes(s, d);
	if (d->total > before) {
		mapping_set_free(s);
		return NULL;
	}
	return s;
}

static void xform_clear(struct map_xform *x)
{
	free(x->date_format);
	free(x->split_sep);
}

static void entity_clear(struct map_entity *e)
{
	char **strs[] = { &e->name, &e->note, &e->file, &e->local_table,
		&e->local_key, &e->local_parent_col, &e->local_modified_col,
		&e->remote_collection, &e->path_item, &e->path_create,
		&e->path_changes, &e->remote_id_loc, &e->remote_version_loc,
		&e->remote_deleted_loc, &e->remote_modified_loc,
		&e->feed_items_ptr, &e->feed_next_ptr,
		&e->feed_more_ptr, &e->records_loc, &e->xml_root, &e->xsd,
		&e->items_loc, &e->parent_name };

	for (size_t i = 0; i < CS_ARRAY_LEN(strs); i++)
		free(*strs[i]);
	free(e->children);
	for (size_t i = 0; i < e->norder; i++) {
		for (char **c = e->order_children[i]; c && *c; c++)
			free(*c);
		free(e->order_children[i]);
		free(e->order_parent[i]);
	}
	free(e->order_parent);
	free(e->order_children);
	if (e->items_xpath)
		codec_xml_xpath_free(e->items_xpath);
	if (e->remote_modified_xpath)
		codec_xml_xpath_free(e->remote_modified_xpath);
	for (size_t i = 0; i < e->nfields; i++) {
		struct map_field *f = &e->fields[i];
		free(f->name);
		free(f->note);
		free(f->local_col);
		free(f->remote_loc);
		xform_clear(&f->local_x);
		xform_clear(&f->remote_x);
		if (f->remote_xpath)
			codec_xml_xpath_free(f->remote_xpath);
	}
	free(e->fields);
}

void mapping_set_free(struct mapping_set *s)
{
	struct model *m;

	if (!s)
		return;
	m = s->model;
	for (size_t i = 0; i < s->nentities; i++)
		entity_clear(&s->entities[i]);
	free(s->entities);
	if (m) {
		for (size_t i = 0; i < m->n; i++) {
			for (size_t j = 0; j < m->e[i].n; j++)
				free(m->e[i].f[j].name);
			free(m->e[i].f);
			free(m->e[i].name);
		}
		free(m->e);
		for (size_t i = 0; m->x && i < s->ncodelists; i++)
			for (int side = 0; side < 2; side++) {
				if (m->x[i].side[side])
					for (size_t j = 0; j < s->codelists[i].n; j++)
						free(m->x[i].side[side][j]);
				free(m->x[i].side[side]);
				free(m->x[i].where[side]);
			}
		free(m->x);
		free(m);
	}
	for (size_t i = 0; i < s->ncodelists; i++) {
		for (size_t j = 0; j < s->codelists[i].n; j++) {
			free(s->codelists[i].codes[j]);
			free(s->codelists[i].labels[j]);
		}
		free(s->codelists[i].codes);
		free(s->codelists[i].labels);
		free(s->codelists[i].name);
	}
	free(s->codelists);
	free(s->name);
	free(s->dir);
	free(s);
}

const struct map_entity *mapping_find_entity(const struct mapping_set *s,
					     const char *name)
{
	for (size_t i = 0; i < s->nentities; i++)
		if (!strcmp(s->entities[i].name, name))
			return &s->entities[i];
	return NULL;
}

int mapping_field_index(const struct map_entity *e, const char *name)
{
	for (size_t i = 0; i < e->nfields; i++)
		if (e->fields[i].name && !strcmp(e->fields[i].name, name))
			return (int)i;
	return -1;
}

int mapping_has_web_service(const struct mapping_set *m, char *err,
			    size_t errsz)
{
	for (size_t i = 0; i < m->nentities; i++) {
		const struct map_entity *e = &m->entities[i];

		if (!e->parent && !e->remote_collection) {
			snprintf(err, errsz, "mapping set %s: entity %s has no "
				 "web-service collection (remote.collection); "
				 "use remote.transport = files", m->name, e->name);
			return 0;
		}
	}
	return 1;
}
