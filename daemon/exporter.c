/* exporter.c - provider changes to the council as import files
 * (exporter.h). */
#include "exporter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "audit.h"
#include "codec.h"
#include "codec_xml.h"
#include "log.h"
#include "transport_files.h"

#define MAX_PER_FILE 10000

/* The provider's record with its nested collections. */
static int read_tree(struct engine *en, const struct map_entity *e,
		     const char *key, struct record **out)
{
	int rc = store_local_read(en->store, e, key, out);

	for (size_t ci = 0; rc == CS_OK && ci < e->nchildren; ci++) {
		const struct map_entity *ce = e->children[ci];
		struct local_row *rows = NULL;
		size_t n = 0;

		if (!ce->local_parent_col)
			continue;
		rc = store_local_children(en->store, ce, key, &rows, &n);
		for (size_t i = 0; rc == CS_OK && i < n; i++) {
			struct record *kid = NULL;

			rc = read_tree(en, ce, rows[i].key, &kid);
			if (rc == CS_OK)
				rc = record_add_child(*out, ci, kid);
		}
		store_local_rows_free(rows, n);
	}
	if (rc) {
		record_free(*out);
		*out = NULL;
	}
	return rc;
}

/* A document holding the records path's containers; *container is the
 * element the record elements go under. */
/* A document holding the records path's containers; *container is the
 * element the record elements (named *item) go under. */
static xmlDocPtr new_container(const char *records_path, xmlNodePtr *container,
			       const char **item)
{
	const char *p = records_path, *end;
	xmlDocPtr doc;
	xmlNodePtr node = NULL;

	*item = strrchr(records_path, '/') + 1;
	doc = xmlNewDoc(BAD_CAST "1.0");
	if (!doc)
		return NULL;
	/* Every step but the last is a container. */
	while (*p == '/' && (end = strchr(p + 1, '/')) != NULL) {
		char step[128];
		xmlNodePtr next;

		if ((size_t)(end - p - 1) >= sizeof(step))
			break;
		memcpy(step, p + 1, (size_t)(end - p - 1));
		step[end - p - 1] = '\0';
		next = node ? xmlNewChild(node, NULL, BAD_CAST step, NULL) :
			      xmlNewDocNode(doc, NULL, BAD_CAST step, NULL);
		if (!next)
			break;
		if (!node)
			xmlDocSetRootElement(doc, next);
		node = next;
		p = end;
	}
	if (!node || strchr(p + 1, '/')) {
		/* "/Child" (one record per file) or a failure. */
		xmlFreeDoc(doc);
		return NULL;
	}
	*container = node;
	return doc;
}

static int name_of(const char *set, const char *entity, const char *data,
		   size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char h[17];

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		return CS_ERR;
	for (int i = 0; i < 8; i++) {
		h[2 * i] = hex[md[i] >> 4];
		h[2 * i + 1] = hex[md[i] & 15];
	}
	h[16] = '\0';
	snprintf(out, outsz, "%s-%s-%s.xml", set, entity, h);
	return CS_OK;
}

static int export_entity(struct engine *en, const struct map_entity *e,
			 struct engine_counts *c, int *files)
{
	struct local_change *ch = NULL;
	struct record **recs = NULL;
	size_t n = 0;
	xmlDocPtr doc = NULL;
	xmlNodePtr container, root;
	const char *item;
	char *out = NULL, name[300], err[512];
	size_t len = 0;
	long written = 0;
	int rc;

	rc = store_changes_pending(en->store, e->name, MAX_PER_FILE, &ch, &n);
	if (rc || n == 0) {
		store_changes_free(ch, n);
		return rc;
	}
	rc = CS_ENOMEM;
	recs = calloc(n, sizeof(*recs));
	doc = recs ? new_container(e->records_loc, &container, &item) : NULL;
	if (!doc)
		goto out;
	for (size_t i = 0; i < n; i++) {
		xmlNodePtr node;

		rc = read_tree(en, e, ch[i].local_key, &recs[i]);
		if (rc == CS_ENOTFOUND) {
			rc = CS_OK;	/* deleted since: held with the deletes */
			continue;
		}
		if (rc)
			goto out;
		rc = CS_ENOMEM;
		node = xmlNewChild(container, NULL, BAD_CAST item, NULL);
		if (!node)
			goto out;
		rc = codec_xml_encode_record(recs[i], node, 0, err, sizeof(err));
		if (rc == CS_OK) {
			written++;
		} else {
			log_warn("record_rejected", "entity=%s local_key=%s "
				 "direction=to_council problem=\"%s\"", e->name,
				 ch[i].local_key, err);
			xmlUnlinkNode(node);
			xmlFreeNode(node);
			record_free(recs[i]);
			recs[i] = NULL;
			c->rejected++;
			rc = CS_OK;
		}
	}
	if (written == 0)
		goto out;
	root = xmlDocGetRootElement(doc);
	if ((rc = codec_xml_serialise(root, &out, &len)) ||
	    (rc = name_of(en->maps->name, e->name, out, len, name, sizeof(name))))
		goto out;
	/* The file first: if the commit below is lost, the next cycle writes
	 * the same content under the same name. */
	if ((rc = files_outbox_write(en->cfg, name, out, len))) {
		log_error("outbox_write_failed", "file=\"%s\"", name);
		goto out;
	}
	if ((rc = store_begin(en->store, 1)))
		goto out;
	for (size_t i = 0; i < n && rc == CS_OK; i++) {
		struct audit_entry a;

		if (recs[i]) {
			struct record *base = NULL;
			char *ver = NULL;

			rc = store_base_get(en->store, e, ch[i].local_key, &base, &ver);
			memset(&a, 0, sizeof(a));
			a.cycle_id = en->cycle_id;
			a.actor = en->actor;
			a.action = base ? "update_remote" : "create_remote";
			a.entity = e;
			a.local_key = ch[i].local_key;
			a.old_rec = base;
			a.new_rec = recs[i];
			a.source = SIDE_LOCAL;
			a.outcome = "written_to_outbox";
			if (rc == CS_OK)
				rc = audit_write(en->store, &a);
			if (rc == CS_OK)
				rc = store_base_put(en->store, e, ch[i].local_key,
						    recs[i], ver);
			record_free(base);
			free(ver);
			if (rc == CS_OK)
				c->pushed++;
		}
		if (rc == CS_OK && recs[i])
			rc = store_changes_consume(en->store, e->name,
						   ch[i].local_key, ch[i].last_id);
	}
	if (rc == CS_OK)
		rc = store_commit(en->store);
	if (rc)
		store_rollback(en->store);
	else {
		(*files)++;
		log_info("outbox_file_written", "file=\"%s\" entity=%s records=%ld",
			 name, e->name, written);
	}
out:
	for (size_t i = 0; recs && i < n; i++)
		record_free(recs[i]);
	free(recs);
	xmlFree(out);
	xmlFreeDoc(doc);
	store_changes_free(ch, n);
	return rc;
}

int export_pending(struct engine *en, struct engine_counts *c, int *files)
{
	int rc = CS_OK;

	*files = 0;
	for (size_t i = 0; i < en->maps->nentities && rc == CS_OK; i++) {
		const struct map_entity *e = &en->maps->entities[i];

		if (e->parent || e->codec != CODEC_XML || !e->records_loc)
			continue;
		rc = export_entity(en, e, c, files);
	}
	return rc;
}
