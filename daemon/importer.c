/* importer.c - one extract file into the provider store (importer.h). */
#include "importer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "codec.h"
#include "codec_xml.h"
#include "log.h"
#include "transport_files.h"

/* The council's id of a record element, when it can be read at all. */
static char *record_id(const struct map_entity *e, xmlNodePtr node)
{
	char err[256], **vals = NULL, *id = NULL;
	size_t n = 0;
	void *comp = codec_xml_xpath_compile(e->remote_id_loc, err, sizeof(err));

	if (comp && codec_xml_get(node, comp, &vals, &n, err, sizeof(err)) == 0 &&
	    n == 1 && vals[0][0] && strlen(vals[0]) <= 200)
		id = cs_strdup(vals[0]);
	codec_xml_vals_free(vals, n);
	codec_xml_xpath_free(comp);
	return id;
}

/* One top-level XML entity's records. */
static int import_entity(struct engine *en, const struct map_entity *e,
			 const char *path, const char *source, const char *xsd,
			 struct engine_counts *c, struct import_result *res,
			 char *err, size_t errsz)
{
	char serr[512];
	struct codec_xml_stream *s = codec_xml_stream_open(path, e->records_loc,
							   xsd, serr,
							   sizeof(serr));
	xmlNodePtr node;
	int line = 0, rc;

	if (!s) {
		snprintf(err, errsz, "%s: %s", source, serr);
		return CS_EINVAL;
	}
	while ((rc = codec_xml_stream_next(s, &node, &line, serr,
					   sizeof(serr))) == 1) {
		struct codec_item it;
		const char *why = NULL;
		char derr[512];

		memset(&it, 0, sizeof(it));
		res->records++;
		it.remote_id = record_id(e, node);
		rc = CS_OK;
		if (!it.remote_id)
			why = "no council id";
		else if (codec_xml_decode_record(e, node, &it.rec, derr,
						 sizeof(derr)))
			why = derr;	/* names the field, never the value */
		else if ((rc = store_savepoint(en->store)) == CS_OK) {
			int arc = engine_apply_remote(en, e, &it, c);

			if (arc == CS_OK) {
				rc = store_release(en->store);
				res->applied++;
			} else if (PQstatus(en->store->conn) != CONNECTION_OK) {
				rc = CS_EIO;
			} else {
				store_rollback_to(en->store);
				rc = store_release(en->store);
				why = arc == CS_EINVAL ? "not applied: ambiguous or "
					"invalid for the provider store" :
					"not applied: the provider store refused it";
			}
		}
		if (rc == CS_OK && why) {
			char where[600];

			snprintf(where, sizeof(where), "%s:%d", source, line);
			rc = engine_quarantine(en, e, it.remote_id, where, why);
			res->quarantined++;
		}
		free(it.remote_id);
		record_free(it.rec);
		if (rc) {
			snprintf(err, errsz, "%s:%d: the database failed", source,
				 line);
			codec_xml_stream_close(s);
			return CS_EIO;
		}
	}
	codec_xml_stream_close(s);
	if (rc) {
		snprintf(err, errsz, "%s: %s", source, serr);
		return CS_EINVAL;
	}
	return CS_OK;
}

static int inbox_record(struct engine *en, const char *name,
			const char *sha256, const char *status,
			const char *reason, long records)
{
	char n[32], cycle[32];
	const char *p[] = { name, sha256, status, reason, n, cycle };

	snprintf(n, sizeof(n), "%ld", records);
	snprintf(cycle, sizeof(cycle), "%lld", en->cycle_id);
	return store_run(en->store, "inbox_record",
			 "INSERT INTO casesync.inbox_files (name, sha256, status, "
			 "reason, records, cycle_id) VALUES ($1, $2, $3, $4, "
			 "$5::integer, nullif($6, '0')::bigint)", 6, p);
}

int import_file(struct engine *en, const char *path, const char *source,
		const char *xsd, const char *sha256, struct engine_counts *cc,
		struct import_result *res, char *err, size_t errsz)
{
	struct engine_counts own;
	struct engine_counts *c = cc ? cc : &own;
	int rc = CS_OK, any = 0, own_cycle = en->cycle_id == 0;

	memset(res, 0, sizeof(*res));
	memset(&own, 0, sizeof(own));
	en->nested = 1;
	if (store_begin(en->store, 1))
		return CS_EIO;
	if (own_cycle && engine_cycle_start(en)) {
		store_rollback(en->store);
		return CS_EIO;
	}
	for (size_t i = 0; i < en->maps->nentities && rc == CS_OK; i++) {
		const struct map_entity *e = &en->maps->entities[i];

		if (e->parent || e->codec != CODEC_XML || !e->records_loc)
			continue;
		any = 1;
		rc = import_entity(en, e, path, source, xsd ? xsd : e->xsd, c,
				   res, err, errsz);
	}
	if (rc == CS_OK && !any) {
		snprintf(err, errsz, "mapping set %s has no XML records to import",
			 en->maps->name);
		rc = CS_EINVAL;
	}
	c->rejected += res->quarantined;
	if (rc == CS_OK && sha256)
		rc = inbox_record(en, source, sha256, "processed", NULL,
				  res->records);
	if (rc == CS_OK && own_cycle)
		rc = engine_cycle_finish(en, c, 1);
	if (rc == CS_OK)
		rc = store_commit(en->store);
	if (rc)
		store_rollback(en->store);
	if (own_cycle)
		en->cycle_id = 0;
	return rc;
}

/* A rejected file is audited (by its name and content hash; the reason
 * stays in the register), in the transaction that registers it. */
static int audit_rejected(struct engine *en, const char *name,
			  const char *sha256)
{
	struct audit_entry a = {
		.cycle_id = en->cycle_id, .actor = en->actor,
		.action = "reject_file", .entity_name = "file",
		.remote_id = name, .source = SIDE_REMOTE, .version = sha256,
		.outcome = "rejected",
	};

	return audit_write(en->store, &a);
}

int import_inbox_rejected(struct engine *en, const char *name,
			  const char *sha256, const char *reason)
{
	int rc = store_begin(en->store, 0);

	if (rc == CS_OK)
		rc = inbox_record(en, name, sha256, "rejected", reason, 0);
	if (rc == CS_OK)
		rc = audit_rejected(en, name, sha256);
	if (rc == CS_OK)
		rc = store_commit(en->store);
	if (rc)
		store_rollback(en->store);
	return rc;
}

int import_audit_rejected(struct engine *en, const char *name,
			  const char *path)
{
	char sha[FILES_SHA256_HEX];
	int rc = store_begin(en->store, 0);

	if (rc == CS_OK)
		rc = audit_rejected(en, name, files_sha256(path, sha) ? NULL : sha);
	if (rc == CS_OK)
		rc = store_commit(en->store);
	if (rc)
		store_rollback(en->store);
	return rc;
}
