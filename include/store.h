/* store.h - the provider's PostgreSQL: mapped tables, change log, crosswalk,
 * base snapshots, cursors and cycles (libpq).
 *
 * Every statement is PQexecParams with data as parameters; the only text
 * put into SQL is identifiers from validated mappings, quoted with
 * PQescapeIdentifier. Errors are logged with the SQLSTATE, never with
 * libpq's message (it can quote a value). */
#ifndef CASESYNC_STORE_H
#define CASESYNC_STORE_H

#include <libpq-fe.h>
#include "buf.h"
#include "common.h"
#include "mapping.h"
#include "record.h"

struct audit_writer;

struct store {
	PGconn *conn;
	struct audit_writer *audit;	/* audit.h: entries of the open txn */
};

/* Connects (conninfo "" = libpq's environment) and sets the session up:
 * UTC, ISO dates, statement / lock / idle-in-transaction timeouts. */
struct store *store_connect(const char *conninfo, long long stmt_timeout_ms,
			    const char *application_name, char *err,
			    size_t errsz);
void store_close(struct store *s);

/* Runs one statement with text parameters; returns the result when its
 * status is TUPLES_OK or COMMAND_OK, else logs the SQLSTATE and returns
 * NULL. The caller PQclear()s. */
PGresult *store_exec(struct store *s, const char *what, const char *sql,
		     int n, const char *const *params);
/* Same, for statements whose result is not needed. */
int store_run(struct store *s, const char *what, const char *sql, int n,
	      const char *const *params) CS_MUST_CHECK;

/* Appends name (from a validated mapping) quoted as an identifier;
 * "schema.table" becomes "schema"."table". */
int store_append_ident(struct store *s, struct buf *b, const char *name)
	CS_MUST_CHECK;

/* BEGIN; with origin_remote set, what this transaction writes to mapped
 * tables is not captured as a local change (echo suppression). */
int store_begin(struct store *s, int origin_remote) CS_MUST_CHECK;
int store_commit(struct store *s) CS_MUST_CHECK;
void store_rollback(struct store *s);
int store_savepoint(struct store *s) CS_MUST_CHECK;
int store_release(struct store *s) CS_MUST_CHECK;
void store_rollback_to(struct store *s);

/* Cursors: *value is NULL when none is stored. */
int store_cursor_get(struct store *s, const char *name, char **value)
	CS_MUST_CHECK;
int store_cursor_set(struct store *s, const char *name, const char *value)
	CS_MUST_CHECK;

int store_crosswalk_by_remote(struct store *s, const char *entity,
			      const char *remote_id, char **local_key)
	CS_MUST_CHECK;
int store_crosswalk_by_local(struct store *s, const char *entity,
			     const char *local_key, char **remote_id)
	CS_MUST_CHECK;
int store_crosswalk_put(struct store *s, const char *entity,
			const char *local_key, const char *remote_id)
	CS_MUST_CHECK;

/* *base is NULL when the record has no agreed version yet. */
int store_base_get(struct store *s, const struct map_entity *e,
		   const char *local_key, struct record **base,
		   char **remote_version) CS_MUST_CHECK;
/* The same, with *deleted set when the agreed state is a tombstone
 * (deleted on both sides; *base then holds the last agreed values). */
int store_base_get_ex(struct store *s, const struct map_entity *e,
		      const char *local_key, struct record **base,
		      char **remote_version, int *deleted) CS_MUST_CHECK;
/* Stores the agreed values (and clears a tombstone). */
int store_base_put(struct store *s, const struct map_entity *e,
		   const char *local_key, const struct record *r,
		   const char *remote_version) CS_MUST_CHECK;
/* Records that both sides deleted the record: the base row stays as a
 * tombstone with the council's last version (NULL keeps the old one), so
 * a late or replayed feed item is recognised. */
int store_base_tombstone(struct store *s, const struct map_entity *e,
			 const char *local_key, const char *remote_version)
	CS_MUST_CHECK;
int store_base_forget(struct store *s, const char *entity,
		      const char *local_key) CS_MUST_CHECK;
/* Pairs local_key with remote_id, dropping any earlier pairing of either
 * (a record recreated on one side after a delete-versus-modify). */
int store_crosswalk_relink(struct store *s, const char *entity,
			   const char *local_key, const char *remote_id)
	CS_MUST_CHECK;

/* The mapped row as a canonical record; CS_ENOTFOUND when absent. */
int store_local_read(struct store *s, const struct map_entity *e,
		     const char *local_key, struct record **out) CS_MUST_CHECK;
/* Inserts the fields that may flow to the provider; returns the new key. */
int store_local_insert(struct store *s, const struct map_entity *e,
		       const struct record *r, char **local_key) CS_MUST_CHECK;
/* The same for a row of a nested collection, under its parent's key. */
int store_local_insert_under(struct store *s, const struct map_entity *e,
			     const char *parent_key, const struct record *rec,
			     char **local_key) CS_MUST_CHECK;

struct local_row {
	char *key;
	struct record *rec;
};
/* The rows of a nested collection under one parent, in key order. */
int store_local_children(struct store *s, const struct map_entity *e,
			 const char *parent_key, struct local_row **out,
			 size_t *n) CS_MUST_CHECK;
void store_local_rows_free(struct local_row *rows, size_t n);
/* The one row whose match-key columns hold rec's match-key values
 * (*local_key NULL when none; *many set when more than one). */
int store_local_find(struct store *s, const struct map_entity *e,
		     const struct record *rec, char **local_key, int *many)
	CS_MUST_CHECK;

/* Updates the fields that differ from old and may flow to the provider. */
int store_local_update(struct store *s, const struct map_entity *e,
		       const char *local_key, const struct record *old,
		       const struct record *r) CS_MUST_CHECK;

/* Deletes a provider row and the rows of its nested collections. */
int store_local_delete(struct store *s, const struct map_entity *e,
		       const char *local_key) CS_MUST_CHECK;
/* The row's modification time (e->local_modified_col) as RFC 3339 UTC
 * with milliseconds; *ts NULL when the entity names none or the row is
 * gone. */
int store_local_modified(struct store *s, const struct map_entity *e,
			 const char *local_key, char **ts) CS_MUST_CHECK;
/* Inside a transaction: waits for any other daemon settling the same
 * record (an advisory lock released at commit or rollback). */
int store_xact_lock(struct store *s, const char *entity,
		    const char *local_key) CS_MUST_CHECK;

/* A session-level advisory lock on (space, name), taken only when free
 * (*got); released by store_unlock or when the connection ends. */
int store_try_lock(struct store *s, const char *space, const char *name,
		   int *got) CS_MUST_CHECK;
void store_unlock(struct store *s, const char *space, const char *name);
/* The same lock shared (waiting while someone holds it exclusively). */
int store_lock_shared(struct store *s, const char *space, const char *name)
	CS_MUST_CHECK;
void store_unlock_shared(struct store *s, const char *space, const char *name);

struct local_change {
	char *local_key;
	long long last_id;	/* change_pending.seq when the key was read */
	long long first_seq;
	int deleted;
};

/* Folds captured statements (casesync.change_log) into one pending row per
 * key (casesync.change_pending), in short transactions of their own. A
 * TRUNCATE of a mapped table is logged, not propagated. */
int store_changes_collect(struct store *s, long *folded) CS_MUST_CHECK;
/* Keys with pending changes other than deletes, oldest first change
 * first, at most limit. */
int store_changes_pending(struct store *s, const char *entity, long limit,
			  struct local_change **out, size_t *n) CS_MUST_CHECK;
void store_changes_free(struct local_change *c, size_t n);
/* Claims up to limit pending changes of an entity for this instance for
 * lease_s seconds (oldest first): rows unclaimed, with a lapsed lease, or
 * this instance's from an earlier cycle (after a restart); never those of
 * a record with an unsettled conflict. Committed at once (autocommit), FOR UPDATE SKIP LOCKED, so
 * several daemons share the backlog without taking the same row. */
int store_changes_claim(struct store *s, const char *entity,
			const char *instance, long long cycle, long limit,
			long lease_s,
			struct local_change **out, size_t *n) CS_MUST_CHECK;
/* Queues a push of the whole record, as if the provider had changed it
 * (a value only the provider assigns, for a record the council created). */
int store_change_enqueue(struct store *s, const char *entity,
			 const char *local_key) CS_MUST_CHECK;
/* The pending change's seq of one key (0 when none). */
int store_change_seq(struct store *s, const char *entity, const char *local_key,
		     long long *seq) CS_MUST_CHECK;

/* The outbox: a write to the council, stored with its idempotency key and
 * exact bytes before it is first sent (op "create", "update", "delete"). */
struct outbox_row {
	char *op;
	char *remote_id;	/* update, delete */
	char *if_match;
	char *idem;
	char *body;		/* "" for a delete */
	char *owner;		/* the daemon instance sending it */
	char *local_snapshot;	/* the provider's record (JSON) when made */
};
int store_outbox_get(struct store *s, const char *entity, const char *local_key,
		     struct outbox_row *o, int *found) CS_MUST_CHECK;
int store_outbox_put(struct store *s, const char *entity, const char *local_key,
		     const struct outbox_row *o) CS_MUST_CHECK;
/* The request was answered: removed, or with failed marked refused for
 * good (kept for reports). */
int store_outbox_done(struct store *s, const char *entity,
		      const char *local_key, int failed) CS_MUST_CHECK;
void store_outbox_row_clear(struct outbox_row *o);
/* Settles a key's pending change, unless a newer one was folded in after
 * it was read (inside the transaction that settles it). */
int store_changes_consume(struct store *s, const char *entity,
			  const char *local_key, long long last_id)
	CS_MUST_CHECK;

/* Installs (or re-installs) capture on a mapping's table: statement-level
 * triggers comparing the mapped columns, and the daemon's and data leads'
 * column grants. Needs the table owner's rights (casesync migrate). */
int store_install_capture(struct store *s, const struct map_entity *e,
			  int *changed) CS_MUST_CHECK;
int store_remove_capture(struct store *s, const char *table) CS_MUST_CHECK;

struct capture_info {
	char *table;	/* the table's oid, for store_remove_capture */
	char *entity;
	char *label;	/* its name, or "a dropped table" */
};
/* Installed captures that the mapping set no longer wants (its table or
 * entity is not mapped so). */
int store_captures_stale(struct store *s, const struct mapping_set *set,
			 struct capture_info **out, size_t *n) CS_MUST_CHECK;
void store_captures_free(struct capture_info *c, size_t n);

/* CS_EINVAL with a message naming the table when capture is not installed
 * as the entity's mapping wants it. */
int store_capture_check(struct store *s, const struct map_entity *e,
			char *err, size_t errsz) CS_MUST_CHECK;

/* CS_EINVAL when the connected role is a superuser, may bypass row-level
 * security, is a member of such a role or of pg_read_all_data /
 * pg_write_all_data, or owns (is a member of the owner of) schema casesync
 * or a captured table. */
int store_check_role(struct store *s, char *err, size_t errsz) CS_MUST_CHECK;

#endif
