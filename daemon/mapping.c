/* mapping.c - load and validate mapping files into struct mapping_set. */
#include "mapping.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inifile.h"

/* The [entity] keywords: name, where it goes, default (NULL: required). */
struct entity_key {
	const char *key;
	size_t offset;
	const char *def;
};

#define EOFF(f) offsetof(struct map_entity, f)

static const struct entity_key entity_keys[] = {
	{ "name", EOFF(name), NULL },
	{ "codec", EOFF(codec), "json" },
	{ "local.table", EOFF(local_table), NULL },
	{ "local.key", EOFF(local_key), NULL },
	{ "remote.collection", EOFF(remote_collection), NULL },
	{ "remote.id", EOFF(remote_id_ptr), "/id" },
	{ "remote.version", EOFF(remote_version_ptr), "/version" },
	{ "remote.deleted", EOFF(remote_deleted_ptr), "/deleted" },
	{ "remote.feed.items", EOFF(feed_items_ptr), "/items" },
	{ "remote.feed.next", EOFF(feed_next_ptr), "/next" },
	{ "remote.feed.more", EOFF(feed_more_ptr), "/more" },
};

struct name_val {
	const char *name;
	int val;
};

static const struct name_val types[] = {
	{ "string", FT_STRING }, { "date", FT_DATE }, { "int", FT_INT },
	{ "bool", FT_BOOL },
};
static const struct name_val dirs[] = {
	{ "both", DIR_BOTH }, { "to-local", DIR_TO_LOCAL },
	{ "to-remote", DIR_TO_REMOTE },
};
static const struct name_val sides[] = {
	{ "provider", SIDE_LOCAL }, { "council", SIDE_REMOTE },
};
static const struct name_val policies[] = {
	{ "owner", POLICY_OWNER }, { "newest", POLICY_NEWEST },
	{ "manual", POLICY_MANUAL },
};

static int lookup(const struct name_val *t, size_t n, const char *s, int *out)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].name, s)) {
			*out = t[i].val;
			return 0;
		}
	return -1;
}

const char *mapping_type_name(enum field_type t)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(types); i++)
		if (types[i].val == (int)t)
			return types[i].name;
	return "?";
}

const char *mapping_side_name(enum side s)
{
	return s == SIDE_LOCAL ? "provider" : "council";
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

int mapping_field_flows_to(const struct map_field *f, enum side to)
{
	if (f->dir == DIR_BOTH)
		return 1;
	return (to == SIDE_LOCAL) == (f->dir == DIR_TO_LOCAL);
}

struct load_state {
	struct map_entity *e;
	int key_line[CS_ARRAY_LEN(entity_keys)];
	struct map_field *cur;	/* field section being read, or NULL */
	int in_entity;
	int entity_seen;
};

static char **entity_slot(struct map_entity *e, const struct entity_key *k)
{
	return (char **)(void *)((char *)e + k->offset);
}

static int add_field(struct load_state *st, const char *name, const char *file,
		     int line, struct diag *d)
{
	struct map_entity *e = st->e;
	struct map_field *f;

	if (mapping_field_index(e, name) >= 0) {
		diag_add(d, file, line, "field '%s' defined twice", name);
		st->cur = NULL;
		return 0;
	}
	if (e->nfields >= MAPPING_MAX_FIELDS) {
		diag_add(d, file, line, "more than %d fields", MAPPING_MAX_FIELDS);
		st->cur = NULL;
		return 0;
	}
	if (!mapping_valid_sql_ident(name, 0)) {
		diag_add(d, file, line, "field name '%s' must match [a-z_][a-z0-9_]*",
			 name);
		st->cur = NULL;
		return 0;
	}
	f = &e->fields[e->nfields++];
	memset(f, 0, sizeof(*f));
	f->name = cs_strdup(name);
	f->line = line;
	f->owner = SIDE_REMOTE;
	if (!f->name)
		return 1;
	st->cur = f;
	return 0;
}

static int on_section(struct load_state *st, const char *section,
		      const char *file, int line, struct diag *d)
{
	st->cur = NULL;
	st->in_entity = 0;
	if (!strcmp(section, "entity")) {
		if (st->entity_seen++)
			diag_add(d, file, line, "[entity] appears twice");
		st->in_entity = 1;
		return 0;
	}
	if (!strncmp(section, "field ", 6))
		return add_field(st, section + 6, file, line, d);
	diag_add(d, file, line, "unknown section [%s] (expected [entity] or "
		 "[field NAME])", section);
	return 0;
}

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = cs_strdup(v);
}

static void on_entity_key(struct load_state *st, const char *key,
			  const char *value, const char *file, int line,
			  struct diag *d)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(entity_keys); i++) {
		if (strcmp(entity_keys[i].key, key))
			continue;
		if (st->key_line[i]) {
			diag_add(d, file, line, "'%s' set twice (first on line %d)",
				 key, st->key_line[i]);
			return;
		}
		st->key_line[i] = line;
		set_str(entity_slot(st->e, &entity_keys[i]), value);
		return;
	}
	diag_add(d, file, line, "unknown key '%s' in [entity]", key);
}

static void on_field_key(struct map_field *f, const char *key,
			 const char *value, const char *file, int line,
			 struct diag *d)
{
	int v;

	if (!strcmp(key, "local")) {
		if (!mapping_valid_sql_ident(value, 0))
			diag_add(d, file, line, "local: '%s' is not a column name",
				 value);
		set_str(&f->local_col, value);
	} else if (!strcmp(key, "remote")) {
		if (!mapping_valid_json_pointer(value) || !*value)
			diag_add(d, file, line, "remote: not a JSON Pointer "
				 "(expected /member/...)");
		set_str(&f->remote_ptr, value);
	} else if (!strcmp(key, "type")) {
		if (lookup(types, CS_ARRAY_LEN(types), value, &v))
			diag_add(d, file, line, "type: expected string, date, int "
				 "or bool");
		else
			f->type = (enum field_type)v;
	} else if (!strcmp(key, "direction")) {
		if (lookup(dirs, CS_ARRAY_LEN(dirs), value, &v))
			diag_add(d, file, line, "direction: expected both, "
				 "to-local or to-remote");
		else
			f->dir = (enum field_dir)v;
	} else if (!strcmp(key, "owner")) {
		if (lookup(sides, CS_ARRAY_LEN(sides), value, &v))
			diag_add(d, file, line, "owner: expected council or "
				 "provider");
		else
			f->owner = (enum side)v;
	} else if (!strcmp(key, "policy")) {
		if (lookup(policies, CS_ARRAY_LEN(policies), value, &v))
			diag_add(d, file, line, "policy: expected owner, newest "
				 "or manual");
		else
			f->policy = (enum merge_policy)v;
	} else {
		diag_add(d, file, line, "unknown key '%s' in [field %s]", key,
			 f->name);
	}
}

static int on_ini(void *ud, const char *section, const char *key,
		  const char *value, const char *file, int line, struct diag *d)
{
	struct load_state *st = ud;

	if (!key)
		return on_section(st, section, file, line, d);
	if (st->in_entity)
		on_entity_key(st, key, value, file, line, d);
	else if (st->cur)
		on_field_key(st->cur, key, value, file, line, d);
	else if (!*section)
		diag_add(d, file, line, "key '%s' outside any section", key);
	return 0;
}

static void validate_entity(struct load_state *st, const char *file,
			    struct diag *d)
{
	struct map_entity *e = st->e;

	for (size_t i = 0; i < CS_ARRAY_LEN(entity_keys); i++) {
		char **slot = entity_slot(e, &entity_keys[i]);

		if (*slot)
			continue;
		if (!entity_keys[i].def)
			diag_add(d, file, 0, "[entity] needs '%s'",
				 entity_keys[i].key);
		else
			set_str(slot, entity_keys[i].def);
	}
	if (e->name && !mapping_valid_sql_ident(e->name, 0))
		diag_add(d, file, st->key_line[0], "name must match [a-z_][a-z0-9_]*");
	if (e->codec && strcmp(e->codec, "json"))
		diag_add(d, file, st->key_line[1], "codec: only 'json' is "
			 "supported by this version");
	if (e->local_table && !mapping_valid_sql_ident(e->local_table, 1))
		diag_add(d, file, st->key_line[2], "local.table must be "
			 "[schema.]table in lower case");
	if (e->local_key && !mapping_valid_sql_ident(e->local_key, 0))
		diag_add(d, file, st->key_line[3], "local.key must be a column name");
	if (e->remote_collection &&
	    !mapping_valid_sql_ident(e->remote_collection, 0))
		diag_add(d, file, st->key_line[4], "remote.collection must match "
			 "[a-z_][a-z0-9_]*");
	for (size_t i = 5; i < CS_ARRAY_LEN(entity_keys); i++) {
		char **slot = entity_slot(e, &entity_keys[i]);

		if (*slot && !mapping_valid_json_pointer(*slot))
			diag_add(d, file, st->key_line[i], "%s: not a JSON Pointer",
				 entity_keys[i].key);
	}
	if (e->nfields == 0)
		diag_add(d, file, 0, "no [field NAME] sections");
	for (size_t i = 0; i < e->nfields; i++) {
		struct map_field *f = &e->fields[i];

		if (!f->local_col)
			diag_add(d, file, f->line, "[field %s] needs 'local'", f->name);
		if (!f->remote_ptr)
			diag_add(d, file, f->line, "[field %s] needs 'remote'", f->name);
		for (size_t j = 0; j < i && f->local_col; j++)
			if (cs_streq(f->local_col, e->fields[j].local_col))
				diag_add(d, file, f->line, "[field %s] maps column "
					 "'%s' already mapped by [field %s]",
					 f->name, f->local_col, e->fields[j].name);
	}
}

int mapping_entity_load(const char *path, struct map_entity *out,
			struct diag *d)
{
	struct load_state st;
	int before = d->total, rc;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	out->fields = calloc(MAPPING_MAX_FIELDS, sizeof(*out->fields));
	out->file = cs_strdup(path);
	if (!out->fields || !out->file)
		return CS_ENOMEM;
	st.e = out;
	rc = inifile_parse_file(path, on_ini, &st, d);
	if (rc)
		return rc;
	if (!st.entity_seen)
		diag_add(d, path, 0, "no [entity] section");
	validate_entity(&st, path, d);
	return d->total == before ? CS_OK : CS_EINVAL;
}

void mapping_entity_clear(struct map_entity *e)
{
	for (size_t i = 0; i < CS_ARRAY_LEN(entity_keys); i++)
		free(*entity_slot(e, &entity_keys[i]));
	for (size_t i = 0; i < e->nfields; i++) {
		free(e->fields[i].name);
		free(e->fields[i].local_col);
		free(e->fields[i].remote_ptr);
	}
	free(e->fields);
	free(e->file);
	memset(e, 0, sizeof(*e));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.map files of dir, sorted; NULL-terminated; caller frees. */
static char **list_maps(const char *dir, struct diag *d, size_t *count)
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
	names = calloc(MAPPING_MAX_ENTITIES + 1, sizeof(*names));
	while (names && (de = readdir(dh)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 5 ||
		    strcmp(de->d_name + len - 4, ".map"))
			continue;
		if (n >= MAPPING_MAX_ENTITIES) {
			diag_add(d, dir, 0, "more than %d mapping files",
				 MAPPING_MAX_ENTITIES);
			break;
		}
		names[n++] = cs_strdup(de->d_name);
	}
	closedir(dh);
	if (names)
		qsort(names, n, sizeof(*names), name_cmp);
	*count = n;
	return names;
}

struct mapping_set *mapping_set_load(const char *mappings_dir,
				     const char *name, struct diag *d)
{
	struct mapping_set *s = calloc(1, sizeof(*s));
	char path[4096];
	char **files = NULL;
	size_t nfiles = 0;
	int before = d->total;

	if (!s)
		return NULL;
	if (!*name || strchr(name, '/') || name[0] == '.') {
		diag_add(d, "mappings.use", 0, "mapping set name must be a plain "
			 "directory name");
		goto fail;
	}
	if (snprintf(path, sizeof(path), "%s/%s", mappings_dir, name) >=
	    (int)sizeof(path)) {
		diag_add(d, "mappings.dir", 0, "path too long");
		goto fail;
	}
	s->name = cs_strdup(name);
	s->dir = cs_strdup(path);
	files = list_maps(path, d, &nfiles);
	if (!files)
		goto fail;
	if (nfiles == 0)
		diag_add(d, path, 0, "no *.map files in mapping set");
	s->entities = calloc(nfiles ? nfiles : 1, sizeof(*s->entities));
	if (!s->entities)
		goto fail;
	for (size_t i = 0; i < nfiles; i++) {
		char fpath[4096];
		struct map_entity *e = &s->entities[s->nentities];

		int n = snprintf(fpath, sizeof(fpath), "%s/%s", path, files[i]);

		if (n < 0 || (size_t)n >= sizeof(fpath)) {
			diag_add(d, path, 0, "path too long");
			goto fail;
		}
		s->nentities++;
		if (mapping_entity_load(fpath, e, d) == CS_ENOMEM)
			goto fail;
		for (size_t j = 0; j + 1 < s->nentities && e->name; j++)
			if (cs_streq(s->entities[j].name, e->name))
				diag_add(d, fpath, 0, "entity '%s' also defined "
					 "in %s", e->name, s->entities[j].file);
	}
	if (d->total != before)
		goto fail;
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	return s;
fail:
	for (size_t i = 0; files && i < nfiles; i++)
		free(files[i]);
	free(files);
	mapping_set_free(s);
	return NULL;
}

void mapping_set_free(struct mapping_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nentities; i++)
		mapping_entity_clear(&s->entities[i]);
	free(s->entities);
	free(s->name);
	free(s->dir);
	free(s);
}

const struct map_entity *mapping_find_entity(const struct mapping_set *s,
					     const char *name)
{
	for (size_t i = 0; i < s->nentities; i++)
		if (cs_streq(s->entities[i].name, name))
			return &s->entities[i];
	return NULL;
}

int mapping_field_index(const struct map_entity *e, const char *name)
{
	for (size_t i = 0; i < e->nfields; i++)
		if (cs_streq(e->fields[i].name, name))
			return (int)i;
	return -1;
}
