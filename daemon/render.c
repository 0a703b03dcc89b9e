/* render.c - one record from one side's representation to the other's. */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <libxml/tree.h>

#include "codec.h"
#include "codec_json.h"
#include "codec_xml.h"

static int parse_xml(const struct map_entity *e, const char *data,
		     size_t len, struct record **out, char *err, size_t errsz)
{
	xmlDocPtr doc = codec_xml_parse(data, len, RENDER_INPUT_MAX, err, errsz);
	xmlNodePtr node;
	int rc;

	if (!doc)
		return CS_EINVAL;
	node = xmlDocGetRootElement(doc);
	if (e->records_loc && node && e->xml_root &&
	    strcmp((const char *)node->name, e->xml_root)) {
		/* A whole document: take its first record. */
		void *comp = codec_xml_xpath_compile(e->records_loc, err, errsz);
		xmlNodePtr *items = NULL;
		size_t n = 0;

		rc = comp ? codec_xml_items(node, comp, &items, &n, err, errsz)
			  : CS_EINVAL;
		if (comp)
			codec_xml_xpath_free(comp);
		node = !rc && n ? items[0] : NULL;
		free(items);
		if (!rc && !node) {
			snprintf(err, errsz, "entity %s: the document holds no "
				 "record at %s", e->name, e->records_loc);
			rc = CS_EINVAL;
		}
		if (rc) {
			xmlFreeDoc(doc);
			return rc;
		}
	}
	if (!e->records_loc && e->items_loc && node) {
		/* A child alone: its element is the last step of its items. */
		const char *want = strrchr(e->items_loc, '/');
		want = want ? want + 1 : e->items_loc;
		if (strcmp((const char *)node->name, want)) {
			snprintf(err, errsz, "entity %s: expected a <%s> element",
				 e->name, want);
			xmlFreeDoc(doc);
			return CS_EINVAL;
		}
	}
	rc = codec_xml_decode_record(e, node, out, err, errsz);
	xmlFreeDoc(doc);
	return rc;
}

int render_parse(const struct map_entity *e, enum side from,
		 const char *data, size_t len, struct record **out,
		 char *err, size_t errsz)
{
	json_t *doc;
	int rc;

	*out = NULL;
	if (from == SIDE_REMOTE && e->codec == CODEC_XML)
		return parse_xml(e, data, len, out, err, errsz);
	doc = codec_json_parse(data, len, RENDER_INPUT_MAX, err, errsz);
	if (!doc)
		return CS_EINVAL;
	if (!json_is_object(doc)) {
		snprintf(err, errsz, "entity %s: expected a JSON object", e->name);
		json_decref(doc);
		return CS_EINVAL;
	}
	rc = from == SIDE_LOCAL ? codec_local_decode(e, doc, out, err, errsz)
				: codec_json_decode_record(e, doc, out, err, errsz);
	json_decref(doc);
	return rc;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	return s;
}

int render_emit(const struct record *r, enum side to, int all_fields,
		char **out, char *err, size_t errsz)
{
	const struct map_entity *e = r->ent;

	*out = NULL;
	if (to == SIDE_LOCAL) {
		*out = dump(codec_local_encode(r, all_fields));
	} else if (e->codec == CODEC_JSON) {
		json_t *doc = json_object();
		int rc = doc ? codec_json_encode_into(r, doc, all_fields, err,
						      errsz) : CS_ENOMEM;
		if (rc) {
			json_decref(doc);
			return rc;
		}
		*out = dump(doc);
	} else {
		xmlNodePtr root;
		xmlDocPtr doc = codec_xml_new_record_doc(e, &root);
		size_t len;
		int rc;

		if (!doc)
			return CS_ENOMEM;
		rc = codec_xml_encode_record(r, root, all_fields, err, errsz);
		if (!rc)
			rc = codec_xml_serialise(root, out, &len);
		xmlFreeDoc(doc);
		if (rc)
			return rc;
		/* xmlFree'd memory is malloc'd by default; copy to be sure. */
		{
			char *c = cs_strdup(*out);
			xmlFree(*out);
			*out = c;
		}
	}
	if (!*out) {
		snprintf(err, errsz, "entity %s: out of memory", e->name);
		return CS_ENOMEM;
	}
	return CS_OK;
}

char *render_canonical(const struct record *r)
{
	return dump(record_to_json(r));
}
