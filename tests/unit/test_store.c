/* test_store.c - store, migrate and audit against a real PostgreSQL 15
 * (tests/run provides one through pg_virtualenv; PG* variables point at it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "diag.h"
#include "mapping.h"
#include "migrate.h"
#include "record.h"
#include "store.h"

static char dbname[64];
static char conninfo[128];
static struct mapping_set *maps;
static const struct map_entity *personp;
#define person (*personp)

static struct store *connect_or_fail(const char *ci)
{
	char err[256];
	struct store *s = store_connect(ci, 10000, "test_store", err, sizeof(err));

	if (!s)
		fail_msg("cannot connect: %s", err);
	return s;
}

static long long count(struct store *s, const char *sql)
{
	PGresult *r = store_exec(s, "count", sql, 0, NULL);
	long long v = -1;

	assert_non_null(r);
	assert_int_equal(cs_parse_int64(PQgetvalue(r, 0, 0), 0, 1LL << 40, &v), 0);
	PQclear(r);
	return v;
}

static int group_setup(void **state)
{
	struct store *admin;
	struct diag d;
	char sql[128];

	(void)state;
	if (!getenv("PGPORT") && !getenv("PGHOST")) {
		fprintf(stderr, "test_store needs PostgreSQL: run it through tests/run\n");
		return -1;
	}
	snprintf(dbname, sizeof(dbname), "cs_unit_store_%d", (int)getpid());
	snprintf(conninfo, sizeof(conninfo), "dbname=%s", dbname);
	admin = connect_or_fail("");
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	PQclear(PQexec(admin->conn, sql));
	store_close(admin);
	diag_init(&d);
	maps = mapping_set_load("mappings", "lcs-rest", &d);
	if (!maps || !(personp = mapping_find_entity(maps, "person"))) {
		diag_print(&d, stderr);
		return -1;
	}
	diag_free(&d);
	return 0;
}

static int group_teardown(void **state)
{
	struct store *admin = connect_or_fail("");
	char sql[128];

	(void)state;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", dbname);
	PQclear(PQexec(admin->conn, sql));
	store_close(admin);
	mapping_set_free(maps);
	return 0;
}

static int test_setup(void **state)
{
	struct store *s = connect_or_fail(conninfo);

	*state = s;
	return 0;
}

static int test_teardown(void **state)
{
	store_close(*state);
	return 0;
}

static void test_migrate_installs_and_is_idempotent(void **state)
{
	struct store *s = *state;
	char err[256];
	int known = migrate_known_version("casesync");

	assert_true(known >= 1);
	assert_int_equal(migrate_component(s, "casesync", NULL), 0);
	assert_int_equal(migrate_component(s, "casestore", NULL), 0);
	assert_int_equal(migrate_installed_version(s, "casesync"), known);
	/* A second run changes nothing. */
	assert_int_equal(migrate_component(s, "casesync", NULL), 0);
	assert_int_equal(count(s, "select count(*) from casesync.schema_version "
			       "where component = 'casesync'"), known);
	assert_int_equal(migrate_check_current(s, err, sizeof(err)), 0);
	{
		int changed = 0;

		assert_int_equal(store_install_capture(s, &person, &changed), 0);
		assert_int_equal(changed, 1);
		/* Installed exactly so already: left alone. */
		assert_int_equal(store_install_capture(s, &person, &changed), 0);
		assert_int_equal(changed, 0);
	}
}

static void test_newer_schema_refused(void **state)
{
	struct store *s = *state;
	char err[256];

	assert_int_equal(store_run(s, "t", "insert into casesync.schema_version "
				   "(component, version, name) values "
				   "('casesync', 9999, 'future')", 0, NULL), 0);
	assert_int_equal(migrate_component(s, "casesync", NULL), CS_EINVAL);
	assert_int_equal(migrate_check_current(s, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "upgrade casesync"));
	assert_int_equal(store_run(s, "t", "delete from casesync.schema_version "
				   "where version = 9999", 0, NULL), 0);
	assert_int_equal(migrate_check_current(s, err, sizeof(err)), 0);
}

static struct record *sample(void)
{
	struct record *r = record_new(&person);

	assert_non_null(r);
	assert_int_equal(record_set(r, (size_t)mapping_field_index(&person, "given_name"), "Fay"), 0);
	assert_int_equal(record_set(r, (size_t)mapping_field_index(&person, "family_name"), "Unittest"), 0);
	assert_int_equal(record_set(r, (size_t)mapping_field_index(&person, "date_of_birth"), "2017-06-05"), 0);
	return r;
}

static void test_local_insert_read_update(void **state)
{
	struct store *s = *state;
	struct record *r = sample(), *back = NULL, *changed;
	char *key = NULL;
	int fam = mapping_field_index(&person, "family_name");

	assert_int_equal(store_local_insert(s, &person, r, &key), 0);
	assert_non_null(key);
	assert_int_equal(store_local_read(s, &person, key, &back), 0);
	/* provider_id reads the key column (push-only: never written). */
	assert_int_equal(record_set(r, (size_t)mapping_field_index(&person,
					"provider_id"), key), 0);
	assert_true(record_equal(r, back));
	changed = record_dup(back);
	assert_int_equal(record_set(changed, (size_t)fam, "Renamed"), 0);
	assert_int_equal(store_local_update(s, &person, key, back, changed), 0);
	record_free(back);
	assert_int_equal(store_local_read(s, &person, key, &back), 0);
	assert_string_equal(record_get(back, (size_t)fam), "Renamed");
	assert_null(record_get(back, (size_t)mapping_field_index(&person, "upn")));
	{
		struct record *none = NULL;

		assert_int_equal(store_local_read(s, &person, "987654321", &none),
				 CS_ENOTFOUND);
		assert_null(none);
	}
	record_free(back);
	record_free(changed);
	record_free(r);
	free(key);
}

/* The change_log rows as "op:columns:keys" in statement order, where
 * columns are the distinct sets of changed columns of an update, '|'
 * between sets, and keys is how many keys the row holds. */
static char *log_rows(struct store *s)
{
	PGresult *r = store_exec(s, "t", "select coalesce(string_agg(op || ':' || "
				 "coalesce((select string_agg(x, '|' order by x) from "
				 "(select distinct case m when -1 then 'inserted' when -2 "
				 "then 'deleted' else array_to_string(casesync.mask_columns("
				 "m, l.columns), ',') end as x from unnest(l.masks) as m) d), "
				 "'-') || ':' || cardinality(keys), ' ' order by txid, op), "
				 "'') from casesync.change_log l", 0, NULL);
	char *v;

	assert_non_null(r);
	v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static void expect_log(struct store *s, const char *want)
{
	char *got = log_rows(s);

	assert_string_equal(got, want);
	free(got);
}

static void clear_changes(struct store *s)
{
	assert_int_equal(store_run(s, "t", "delete from casesync.change_log", 0,
				   NULL), 0);
	assert_int_equal(store_run(s, "t", "delete from casesync.change_pending",
				   0, NULL), 0);
}

static void test_capture_records_key_op_columns(void **state)
{
	struct store *s = *state;
	struct record *r = sample();
	char *key = NULL;
	long folded = 0;

	clear_changes(s);
	assert_int_equal(store_run(s, "t", "delete from casestore.person", 0,
				   NULL), 0);
	clear_changes(s);
	assert_int_equal(store_local_insert(s, &person, r, &key), 0);
	expect_log(s, "I:-:1");
	/* One statement writing many rows is one row holding every key. */
	assert_int_equal(store_run(s, "t", "insert into casestore.person "
				   "(family_name) select 'Many' from "
				   "generate_series(1, 50)", 0, NULL), 0);
	expect_log(s, "I:-:1 I:-:50");
	clear_changes(s);
	/* An UPDATE that changes nothing is not a change. */
	assert_int_equal(store_run(s, "t", "update casestore.person set "
				   "gender = gender", 0, NULL), 0);
	/* Nor is one that changes only columns no mapping reads. */
	assert_int_equal(store_run(s, "t", "update casestore.person set "
				   "updated_at = now() + interval '1 day'", 0,
				   NULL), 0);
	expect_log(s, "");
	/* Rows are grouped by the set of columns they changed. */
	assert_int_equal(store_run(s, "t", "update casestore.person set "
				   "gender = '1', upn = case when family_name = "
				   "'Unittest' then 'A123456789012' end", 0, NULL), 0);
	expect_log(s, "U:gender|gender,upn:51");
	/* Folded per key, with each key's own changed columns by name. */
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending "
			       "where op = 'U' and columns = '{gender}'"), 50);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending "
			       "where op = 'U' and columns = '{gender,upn}'"), 1);
	/* A later change to one of them adds its columns to the key's set. */
	assert_int_equal(store_run(s, "t", "update casestore.person set "
				   "given_name = 'Other' where family_name = "
				   "'Unittest'", 0, NULL), 0);
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending "
			       "where columns = '{gender,given_name,upn}'"), 1);
	clear_changes(s);
	/* What the daemon applies for the council is not captured. */
	assert_int_equal(store_begin(s, 1), 0);
	assert_int_equal(store_run(s, "t", "update casestore.person set gender = '2'",
				   0, NULL), 0);
	assert_int_equal(store_commit(s), 0);
	expect_log(s, "");
	/* A changed key is a delete of the old key and an insert of the new
	 * (marked in the update's row, folded as D and I). */
	assert_int_equal(store_run(s, "t", "update casestore.person set id = id + "
				   "1000000 where family_name = 'Unittest'", 0,
				   NULL), 0);
	expect_log(s, "U:deleted|inserted:2");
	assert_int_equal(store_run(s, "t", "delete from casestore.person where "
				   "family_name = 'Many'", 0, NULL), 0);
	expect_log(s, "U:deleted|inserted:2 D:-:50");
	/* Folded: one pending row per key, the last operation winning. */
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(folded, 2);
	expect_log(s, "");
	assert_int_equal(count(s, "select count(*) from casesync.change_pending "
			       "where op = 'D'"), 51);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending "
			       "where op = 'I'"), 1);
	/* TRUNCATE is recorded (and logged by the daemon, not propagated). */
	assert_int_equal(store_run(s, "t", "truncate casestore.person cascade", 0,
				   NULL), 0);
	expect_log(s, "T:-:0");
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(folded, 1);
	expect_log(s, "");
	record_free(r);
	free(key);
}

/* A writer with no rights on schema casesync is still captured: the
 * capture function runs with its owner's rights. */
static void test_capture_needs_no_grants_from_writers(void **state)
{
	struct store *s = *state;

	clear_changes(s);
	assert_int_equal(store_run(s, "t", "do $$ begin if not exists (select 1 "
				   "from pg_roles where rolname = 'cs_unit_app') then "
				   "create role cs_unit_app; end if; end $$", 0, NULL), 0);
	assert_int_equal(store_run(s, "t", "grant usage on schema casestore to "
				   "cs_unit_app", 0, NULL), 0);
	assert_int_equal(store_run(s, "t", "grant select, insert, update on "
				   "casestore.person to cs_unit_app", 0, NULL), 0);
	assert_int_equal(store_run(s, "t", "grant usage on sequence "
				   "casestore.person_id_seq to cs_unit_app", 0,
				   NULL), 0);
	assert_int_equal(store_begin(s, 0), 0);
	assert_int_equal(store_run(s, "t", "set local role cs_unit_app", 0, NULL),
			 0);
	assert_int_equal(store_run(s, "t", "insert into casestore.person "
				   "(family_name) values ('App')", 0, NULL), 0);
	/* ... and cannot read what was captured. */
	assert_null(store_exec(s, "t", "select * from casesync.change_log", 0,
			       NULL));
	store_rollback(s);
	assert_int_equal(store_begin(s, 0), 0);
	assert_int_equal(store_run(s, "t", "set local role cs_unit_app", 0, NULL),
			 0);
	assert_int_equal(store_run(s, "t", "insert into casestore.person "
				   "(family_name) values ('App')", 0, NULL), 0);
	assert_int_equal(store_commit(s), 0);
	expect_log(s, "I:-:1");
}

/* A change committed late by a long transaction is still consumed, and a
 * change folded in after a key was read is not consumed with it. */
static void test_overlapping_transactions_not_skipped(void **state)
{
	struct store *s = *state, *other = connect_or_fail(conninfo);
	struct local_change *ch = NULL;
	size_t n = 0;
	long folded;

	clear_changes(s);
	assert_int_equal(store_begin(other, 0), 0);
	assert_int_equal(store_run(other, "t", "insert into casestore.person "
				   "(family_name) values ('Early')", 0, NULL), 0);
	/* A later transaction commits first: its change log id is higher. */
	assert_int_equal(store_run(s, "t", "insert into casestore.person "
				   "(family_name) values ('Late')", 0, NULL), 0);
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(folded, 1);
	assert_int_equal(store_changes_pending(s, "person", 100, &ch, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_changes_consume(s, "person", ch[0].local_key,
					       ch[0].last_id), 0);
	store_changes_free(ch, n);
	assert_int_equal(store_commit(other), 0);
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(folded, 1);
	assert_int_equal(store_changes_pending(s, "person", 100, &ch, &n), 0);
	assert_int_equal(n, 1);
	assert_true(count(s, "select count(*) from casesync.change_pending c join "
			  "casestore.person p on p.id::text = c.local_key "
			  "where p.family_name = 'Early'") == 1);
	/* A newer change to the same key arrives while it is being pushed. */
	assert_int_equal(store_run(s, "t", "update casestore.person set "
				   "given_name = 'Again' where family_name = 'Early'",
				   0, NULL), 0);
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(store_changes_consume(s, "person", ch[0].local_key,
					       ch[0].last_id), 0);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending "
			       "where op = 'I' and columns is null"), 1);
	store_changes_free(ch, n);
	assert_int_equal(store_changes_pending(s, "person", 100, &ch, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_changes_consume(s, "person", ch[0].local_key,
					       ch[0].last_id), 0);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending"),
			 0);
	store_changes_free(ch, n);
	store_close(other);
}

/* One folder at a time; the others return at once with nothing folded
 * and leave the rows for later. An insert then an update of one key,
 * folded together, is still an insert. */
static void test_folding_is_serialised(void **state)
{
	struct store *s = *state, *other = connect_or_fail(conninfo);
	long folded = -1;

	clear_changes(s);
	assert_int_equal(store_begin(other, 0), 0);
	assert_int_equal(store_run(other, "t", "select * from "
				   "casesync.collect_changes(100)", 0, NULL), 0);
	/* other holds the folding lock until it commits. */
	assert_int_equal(store_run(s, "t", "insert into casestore.person "
				   "(family_name) values ('Folded')", 0, NULL), 0);
	assert_int_equal(store_run(s, "t", "update casestore.person set "
				   "given_name = 'Then' where family_name = 'Folded'",
				   0, NULL), 0);
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(folded, 0);
	assert_int_equal(count(s, "select count(*) from casesync.change_log"), 2);
	assert_int_equal(store_commit(other), 0);
	assert_int_equal(store_changes_collect(s, &folded), 0);
	assert_int_equal(folded, 2);
	assert_int_equal(count(s, "select count(*) from casesync.change_pending p "
			       "join casestore.person r on r.id::text = p.local_key "
			       "where r.family_name = 'Folded' and p.op = 'I' and "
			       "p.columns is null"), 1);
	store_close(other);
}

/* The daemon's start-up checks: capture as the mapping wants it. */
static void test_capture_check(void **state)
{
	struct store *s = *state;
	char err[512];
	struct map_entity other = person;

	assert_int_equal(store_capture_check(s, &person, err, sizeof(err)), 0);
	other.local_table = "casestore.nosuchtable";
	assert_int_equal(store_capture_check(s, &other, err, sizeof(err)),
			 CS_EINVAL);
	assert_non_null(strstr(err, "casestore.nosuchtable"));
	other.local_table = person.local_table;
	other.name = "someone_else";
	assert_int_equal(store_capture_check(s, &other, err, sizeof(err)),
			 CS_EINVAL);
	assert_non_null(strstr(err, "run 'casesync migrate'"));
	assert_int_equal(store_run(s, "t", "alter table casestore.person disable "
				   "trigger casesync_capture_insert", 0, NULL), 0);
	assert_int_equal(store_capture_check(s, &person, err, sizeof(err)),
			 CS_EINVAL);
	assert_non_null(strstr(err, "missing or disabled"));
	{
		int changed = 0;

		assert_int_equal(store_install_capture(s, &person, &changed), 0);
		assert_int_equal(changed, 1);
	}
	assert_int_equal(store_capture_check(s, &person, err, sizeof(err)), 0);
	/* A replica-only trigger does not fire in normal sessions. */
	assert_int_equal(store_run(s, "t", "alter table casestore.person enable "
				   "replica trigger casesync_capture_update", 0,
				   NULL), 0);
	assert_int_equal(store_capture_check(s, &person, err, sizeof(err)),
			 CS_EINVAL);
	{
		int changed = 0;

		assert_int_equal(store_install_capture(s, &person, &changed), 0);
		assert_int_equal(changed, 1);
	}
	assert_int_equal(store_capture_check(s, &person, err, sizeof(err)), 0);
	/* The test connects as the cluster's superuser. */
	assert_int_equal(store_check_role(s, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "is a superuser"));
}

static void test_crosswalk_base_cursor(void **state)
{
	struct store *s = *state;
	struct record *r = sample(), *back = NULL;
	char *v = NULL, *ver = NULL;

	assert_int_equal(store_crosswalk_put(s, "person", "L1", "R1"), 0);
	assert_int_equal(store_crosswalk_by_remote(s, "person", "R1", &v), 0);
	assert_string_equal(v, "L1");
	free(v);
	assert_int_equal(store_crosswalk_by_local(s, "person", "L1", &v), 0);
	assert_string_equal(v, "R1");
	free(v);
	assert_int_equal(store_crosswalk_by_local(s, "person", "nope", &v), 0);
	assert_null(v);
	/* One council id maps to one provider record. */
	assert_int_not_equal(store_crosswalk_put(s, "person", "L2", "R1"), 0);

	assert_int_equal(store_base_get(s, &person, "L1", &back, &ver), 0);
	assert_null(back);
	assert_int_equal(store_base_put(s, &person, "L1", r, "7"), 0);
	assert_int_equal(store_base_get(s, &person, "L1", &back, &ver), 0);
	assert_true(record_equal(r, back));
	assert_string_equal(ver, "7");
	{
		char hash[RECORD_HASH_HEX];
		PGresult *res = store_exec(s, "t", "select hash from casesync.base "
					   "where local_key = 'L1'", 0, NULL);

		record_hash(r, hash);
		assert_string_equal(PQgetvalue(res, 0, 0), hash);
		PQclear(res);
	}
	record_free(back);
	free(ver);

	assert_int_equal(store_cursor_get(s, "remote:person", &v), 0);
	assert_null(v);
	assert_int_equal(store_cursor_set(s, "remote:person", "41"), 0);
	assert_int_equal(store_cursor_set(s, "remote:person", "42"), 0);
	assert_int_equal(store_cursor_get(s, "remote:person", &v), 0);
	assert_string_equal(v, "42");
	free(v);
	record_free(r);
}

/* A key file of 32 fixed bytes, private to this process. */
static struct audit_keys *test_keys(void)
{
	char path[] = "/tmp/casesync-test-key-XXXXXX";
	int fd = mkstemp(path);
	struct audit_keys *k = NULL;
	char err[256];

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
	close(fd);
	assert_int_equal(audit_keys_from_file(path, &k, err, sizeof(err)), 0);
	unlink(path);
	return k;
}

static void test_audit_commits_with_the_change(void **state)
{
	struct store *s = *state;
	struct record *r = sample();
	struct audit_entry a = { 0 };
	struct audit_keys *keys = test_keys();
	long long before = count(s, "select count(*) from casesync.audit");

	a.actor = "unit";
	a.action = "create_local";
	a.entity = &person;
	a.local_key = "L9";
	a.new_rec = r;
	a.source = SIDE_REMOTE;
	a.outcome = "applied";
	/* No key, no entry: the change cannot be made unaudited. */
	assert_int_equal(store_begin(s, 1), 0);
	assert_int_equal(audit_write(s, &a), CS_EINVAL);
	store_rollback(s);
	assert_int_equal(audit_attach(s, keys), 0);
	assert_int_equal(store_begin(s, 1), 0);
	assert_int_equal(audit_write(s, &a), 0);
	store_rollback(s);
	assert_int_equal(count(s, "select count(*) from casesync.audit"), before);
	assert_int_equal(store_begin(s, 1), 0);
	assert_int_equal(audit_write(s, &a), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count(s, "select count(*) from casesync.audit where "
			       "local_key = 'L9' and source = 'council' and "
			       "changes->'family_name'->>'new' = 'Unittest'"), 1);
	/* An entry queued inside a savepoint that is rolled back goes with
	 * it; the next one takes the next number. */
	assert_int_equal(store_begin(s, 1), 0);
	assert_int_equal(store_savepoint(s), 0);
	a.local_key = "L10";
	assert_int_equal(audit_write(s, &a), 0);
	store_rollback_to(s);
	assert_int_equal(store_savepoint(s), 0);
	a.local_key = "L11";
	assert_int_equal(audit_write(s, &a), 0);
	assert_int_equal(store_release(s), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(count(s, "select count(*) from casesync.audit where "
			       "local_key = 'L10'"), 0);
	assert_int_equal(count(s, "select count(*) from casesync.audit where "
			       "local_key = 'L11' and seq = " "(select entries from "
			       "casesync.audit_head)"), 1);
	assert_int_equal(count(s, "select count(*) from casesync.audit"),
			 before + 2);
	assert_int_equal(count(s, "select max(seq) - min(seq) + 1 - count(*) "
			       "from casesync.audit"), 0);
	audit_detach(s);
	audit_keys_free(keys);
	record_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_installs_and_is_idempotent,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_local_insert_read_update,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_capture_records_key_op_columns,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_capture_needs_no_grants_from_writers,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_overlapping_transactions_not_skipped,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_folding_is_serialised,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_capture_check,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_crosswalk_base_cursor,
						test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_audit_commits_with_the_change,
						test_setup, test_teardown),
	};

	return cmocka_run_group_tests_name("store (real PostgreSQL)", tests,
					   group_setup, group_teardown);
}
