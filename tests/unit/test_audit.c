/* test_audit.c - the "changes" document of an audit row, the values'
 * digests, the entry hash and signed checkpoints (writing needs a database:
 * test_store.c and tests/integration/test_audit_chain.sh). */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit.h"

static struct map_field fields[] = {
	{ .name = "given_name", .local_col = "given_name", .remote_loc = "/g" },
	{ .name = "family_name", .local_col = "family_name", .remote_loc = "/f" },
	{ .name = "upn", .local_col = "upn", .remote_loc = "/u" },
	{ .name = "gender", .local_col = "gender", .remote_loc = "/x" },
};
static const struct map_entity ent = {
	.name = "person", .fields = fields, .nfields = CS_ARRAY_LEN(fields),
};
#define NF CS_ARRAY_LEN(fields)

static struct record *make(const char *const vals[NF])
{
	return tu_record_make(&ent, vals);
}

struct audit_case {
	const char *what;
	int has_old;
	const char *old_vals[NF];
	const char *new_vals[NF];
	const char *want;	/* expected JSON */
};

/* Checks audit_changes_json for each case of a table. */
static void check_cases(const struct audit_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct audit_case *c = &cases[i];
		struct record *o = c->has_old ? make(c->old_vals) : NULL;
		struct record *nw = make(c->new_vals);
		json_t *got = audit_changes_json(o, nw);
		json_t *want = json_loads(c->want, 0, NULL);
		int same = got && want && json_equal(got, want);

		if (!same) {
			char *s = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

			print_message("case %zu (%s): got %s\n", i, c->what,
				      s ? s : "NULL");
			free(s);
		}
		json_decref(got);
		json_decref(want);
		record_free(o);
		record_free(nw);
		if (!same)
			fail_msg("case %zu (%s): wrong changes", i, c->what);
	}
}

static void test_only_differing_fields(void **state)
{
	static const struct audit_case cases[] = {
		{ "two fields changed", 1,
		  { "Ann", "Lee", "U1", "F" }, { "Anne", "Lee", "U2", "F" },
		  "{\"given_name\": {\"old\": \"Ann\", \"new\": \"Anne\"},"
		  " \"upn\": {\"old\": \"U1\", \"new\": \"U2\"}}" },
		{ "every field changed", 1,
		  { "a", "b", "c", "d" }, { "A", "B", "C", "D" },
		  "{\"given_name\": {\"old\": \"a\", \"new\": \"A\"},"
		  " \"family_name\": {\"old\": \"b\", \"new\": \"B\"},"
		  " \"upn\": {\"old\": \"c\", \"new\": \"C\"},"
		  " \"gender\": {\"old\": \"d\", \"new\": \"D\"}}" },
		{ "nothing changed", 1,
		  { "Ann", NULL, "U1", "" }, { "Ann", NULL, "U1", "" }, "{}" },
	};

	(void)state;
	check_cases(cases, CS_ARRAY_LEN(cases));
}

static void test_null_values(void **state)
{
	static const struct audit_case cases[] = {
		{ "value set and value cleared", 1,
		  { NULL, "Lee", NULL, NULL }, { "Ann", NULL, NULL, NULL },
		  "{\"given_name\": {\"old\": null, \"new\": \"Ann\"},"
		  " \"family_name\": {\"old\": \"Lee\", \"new\": null}}" },
		{ "empty string is not null", 1,
		  { "", NULL, NULL, NULL }, { NULL, "", NULL, NULL },
		  "{\"given_name\": {\"old\": \"\", \"new\": null},"
		  " \"family_name\": {\"old\": null, \"new\": \"\"}}" },
	};

	(void)state;
	check_cases(cases, CS_ARRAY_LEN(cases));
}

static void test_creation(void **state)
{
	static const struct audit_case cases[] = {
		{ "every non-null field, old null", 0,
		  { NULL, NULL, NULL, NULL }, { "Ann", NULL, "U1", "" },
		  "{\"given_name\": {\"old\": null, \"new\": \"Ann\"},"
		  " \"upn\": {\"old\": null, \"new\": \"U1\"},"
		  " \"gender\": {\"old\": null, \"new\": \"\"}}" },
		{ "an empty record", 0,
		  { NULL, NULL, NULL, NULL }, { NULL, NULL, NULL, NULL }, "{}" },
	};

	(void)state;
	check_cases(cases, CS_ARRAY_LEN(cases));
}

/* A rejected input has no record: no field changed. A removal has only
 * the old record: every value it had goes. */
static void test_no_record_and_removal(void **state)
{
	const char *vals[NF] = { "Fay", NULL, "A123", "2" };
	struct record *o = make(vals);
	json_t *got = audit_changes_json(NULL, NULL);
	json_t *want = json_loads("{}", 0, NULL);

	(void)state;
	assert_non_null(got);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	got = audit_changes_json(o, NULL);
	want = json_loads("{\"given_name\": {\"old\": \"Fay\", \"new\": null},"
			  " \"upn\": {\"old\": \"A123\", \"new\": null},"
			  " \"gender\": {\"old\": \"2\", \"new\": null}}", 0, NULL);
	assert_non_null(got);
	assert_true(json_equal(got, want));
	json_decref(got);
	json_decref(want);
	record_free(o);
}

/* ---- the chain's pieces ---------------------------------------------------- */

/* A key file of 32 given bytes, private to this process. */
static struct audit_keys *key_of(const char *bytes32)
{
	char path[] = "/tmp/casesync-unit-key-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct audit_keys *k = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes32, 32), 32);
	close(fd);
	assert_int_equal(audit_keys_from_file(path, &k, err, sizeof(err)), 0);
	unlink(path);
	return k;
}

static json_t *digest(struct audit_keys *k, const char *seq, const char *json)
{
	json_t *ch = json_loads(json, 0, NULL), *d = NULL;

	assert_non_null(ch);
	assert_int_equal(audit_digest_changes(k, NULL, seq, ch, &d), 0);
	json_decref(ch);
	return d;
}

static const char *leaf(json_t *d, const char *f, const char *part)
{
	return json_string_value(json_object_get(json_object_get(d, f), part));
}

static int check(struct audit_keys *k, const char *seq, const char *changes,
		 json_t *d, int erased)
{
	json_t *ch = json_loads(changes, 0, NULL);
	char what[256];
	int rc = audit_check_values(k, audit_keys_current_id(k), seq, ch, d,
				    erased, what, sizeof(what));

	json_decref(ch);
	return rc;
}

static void test_value_digests(void **state)
{
	struct audit_keys *k = key_of("0123456789abcdef0123456789abcdef");
	struct audit_keys *k2 = key_of("fedcba9876543210fedcba9876543210");
	const char *ch = "{\"dob\": {\"old\": \"2014-05-02\", \"new\": null},"
			 " \"name\": {\"old\": \"2014-05-02\", \"new\": \"Ann\"}}";
	json_t *d = digest(k, "7", ch), *d8 = digest(k, "8", ch);
	json_t *dk2 = digest(k2, "7", ch), *bad;

	(void)state;
	assert_int_equal(strlen(leaf(d, "dob", "old")), 64);
	assert_true(json_is_null(json_object_get(json_object_get(d, "dob"), "new")));
	/* The same value under another field, entry or key: another digest. */
	assert_string_not_equal(leaf(d, "dob", "old"), leaf(d, "name", "old"));
	assert_string_not_equal(leaf(d, "dob", "old"), leaf(d8, "dob", "old"));
	assert_string_not_equal(leaf(d, "dob", "old"), leaf(dk2, "dob", "old"));
	assert_string_not_equal(audit_keys_current_id(k), audit_keys_current_id(k2));
	/* Checking: the values as written pass. */
	assert_int_equal(check(k, "7", ch, d, 0), 0);
	/* An edited value, a value moved to another entry, another key. */
	assert_int_equal(check(k, "7", "{\"dob\": {\"old\": \"2014-05-03\", \"new\": null},"
			       " \"name\": {\"old\": \"2014-05-02\", \"new\": \"Ann\"}}", d, 0), 1);
	assert_int_equal(check(k, "8", ch, d, 0), 1);
	assert_int_equal(check(k2, "7", ch, d, 0), 1);
	/* Values erased: null passes only when the entry is marked erased. */
	{
		const char *gone = "{\"dob\": {\"old\": null, \"new\": null},"
				   " \"name\": {\"old\": null, \"new\": null}}";

		assert_int_equal(check(k, "7", gone, d, 0), 1);
		assert_int_equal(check(k, "7", gone, d, 1), 0);
	}
	/* A field or part added or removed. */
	assert_int_equal(check(k, "7", "{\"dob\": {\"old\": \"2014-05-02\", \"new\": null}}", d, 0), 1);
	assert_int_equal(check(k, "7", "{\"dob\": {\"old\": \"2014-05-02\", \"new\": null, \"x\": null},"
			       " \"name\": {\"old\": \"2014-05-02\", \"new\": \"Ann\"}}", d, 0), 1);
	/* A value where the digest says there was none. */
	assert_int_equal(check(k, "7", "{\"dob\": {\"old\": \"2014-05-02\", \"new\": \"x\"},"
			       " \"name\": {\"old\": \"2014-05-02\", \"new\": \"Ann\"}}", d, 0), 1);
	/* Changes of another shape are refused when digesting. */
	bad = json_loads("{\"dob\": \"2014-05-02\"}", 0, NULL);
	{
		json_t *out = NULL;

		assert_int_equal(audit_digest_changes(k, NULL, "7", bad, &out), CS_EINVAL);
		assert_null(out);
	}
	json_decref(bad);
	json_decref(d);
	json_decref(d8);
	json_decref(dk2);
	audit_keys_free(k);
	audit_keys_free(k2);
}

static void test_row_hash_covers_everything(void **state)
{
	struct audit_keys *k = key_of("0123456789abcdef0123456789abcdef");
	json_t *d = digest(k, "1", "{\"a\": {\"old\": \"x\", \"new\": \"y\"}}");
	json_t *d2 = digest(k, "1", "{\"a\": {\"old\": \"x\", \"new\": \"z\"}}");
	json_t *d3 = digest(k, "1", "{\"b\": {\"old\": \"x\", \"new\": \"y\"}}");
	struct audit_row r = {
		"1", "2026-11-24T10:00:00.000001Z", "5", "inst", "update_local",
		"person", "L1", "R1", "council", "3", "applied", "00ff", d,
	};
	const char **cols[] = {
		&r.seq, &r.at, &r.cycle_id, &r.actor, &r.action, &r.entity,
		&r.local_key, &r.remote_id, &r.source, &r.version, &r.outcome,
		&r.key_id,
	};
	char base[AUDIT_HASH_HEX], h[AUDIT_HASH_HEX], h2[AUDIT_HASH_HEX];

	(void)state;
	assert_int_equal(audit_row_hash(NULL, &r, base), 0);
	assert_int_equal(audit_row_hash("", &r, h), 0);
	assert_string_equal(base, h);
	/* Each column: another value, or NULL instead of "", is another hash. */
	for (size_t i = 0; i < CS_ARRAY_LEN(cols); i++) {
		const char *keep = *cols[i];

		*cols[i] = "other";
		assert_int_equal(audit_row_hash(NULL, &r, h), 0);
		assert_string_not_equal(base, h);
		*cols[i] = NULL;
		assert_int_equal(audit_row_hash(NULL, &r, h2), 0);
		assert_string_not_equal(base, h2);
		*cols[i] = "";
		assert_int_equal(audit_row_hash(NULL, &r, h), 0);
		assert_string_not_equal(h, h2);
		*cols[i] = keep;
	}
	/* Moving bytes between neighbouring columns changes the hash. */
	r.local_key = "L1R";
	r.remote_id = "1";
	assert_int_equal(audit_row_hash(NULL, &r, h), 0);
	assert_string_not_equal(base, h);
	r.local_key = "L1";
	r.remote_id = "R1";
	/* Another digest (value), another field name. */
	r.digests = d2;
	assert_int_equal(audit_row_hash(NULL, &r, h), 0);
	assert_string_not_equal(base, h);
	r.digests = d3;
	assert_int_equal(audit_row_hash(NULL, &r, h), 0);
	assert_string_not_equal(base, h);
	r.digests = d;
	/* The previous hash is part of it: a chain. */
	assert_int_equal(audit_row_hash(base, &r, h), 0);
	assert_string_not_equal(base, h);
	assert_int_equal(audit_row_hash("zz", &r, h), CS_EINVAL);
	json_decref(d);
	json_decref(d2);
	json_decref(d3);
	audit_keys_free(k);
}

static struct audit_signkey *signkey(int private_part)
{
	char path[] = "/tmp/casesync-unit-sign-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct audit_signkey *k = NULL;

	assert_non_null(f);
	assert_non_null(p);
	assert_int_equal(private_part ?
			 PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL) :
			 PEM_write_PUBKEY(f, p), 1);
	fclose(f);
	EVP_PKEY_free(p);
	assert_int_equal(audit_signkey_load("audit.signing_key_file", path,
					    private_part, &k, err, sizeof(err)), 0);
	unlink(path);
	return k;
}

static void test_checkpoint_sign_write_read_verify(void **state)
{
	struct audit_signkey *k = signkey(1), *other = signkey(1);
	struct audit_checkpoint cp = { .entries = 42 }, back;
	char path[] = "/tmp/casesync-unit-cp-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	memset(cp.head, 'a', 64);
	strcpy(cp.at, "2026-11-24T10:00:00.000000Z");
	assert_int_equal(audit_checkpoint_sign(k, &cp), 0);
	assert_string_equal(cp.key_id, audit_signkey_id(k));
	assert_int_equal(strlen(cp.signature), 88);
	assert_int_equal(audit_checkpoint_verify(k, &cp), 0);
	assert_int_equal(audit_checkpoint_verify(other, &cp), 1);
	assert_int_equal(audit_checkpoint_write(&cp, f), 0);
	fclose(f);
	assert_int_equal(audit_checkpoint_read(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.entries, 42);
	assert_memory_equal(&back, &cp, sizeof(cp));
	assert_int_equal(audit_checkpoint_verify(k, &back), 0);
	/* Any part changed: the signature fails. */
	back.entries = 41;
	assert_int_equal(audit_checkpoint_verify(k, &back), 1);
	back.entries = 42;
	back.head[0] = 'b';
	assert_int_equal(audit_checkpoint_verify(k, &back), 1);
	back.head[0] = 'a';
	back.at[3] = '7';
	assert_int_equal(audit_checkpoint_verify(k, &back), 1);
	back.at[3] = '6';
	back.signature[10] ^= 1;
	assert_int_equal(audit_checkpoint_verify(k, &back), 1);
	/* A file that is not a checkpoint names its line. */
	f = fopen(path, "w");
	fputs("casesync audit checkpoint v1\nentries: 42\nhead: xyz\n", f);
	fclose(f);
	assert_int_equal(audit_checkpoint_read(path, &back, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, ":3: "));
	unlink(path);
	audit_signkey_free(k);
	audit_signkey_free(other);
}

static void test_key_files_refused(void **state)
{
	char path[] = "/tmp/casesync-unit-key-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct audit_keys *k = NULL;

	(void)state;
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(audit_keys_from_file(path, &k, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "between 32 and"));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
	close(fd);
	chmod(path, 0644);
	assert_int_equal(audit_keys_from_file(path, &k, err, sizeof(err)), CS_EINVAL);
	assert_non_null(strstr(err, "may be read by any user"));
	chmod(path, 0600);
	assert_int_equal(audit_keys_from_file(path, &k, err, sizeof(err)), 0);
	audit_keys_free(k);
	unlink(path);
	/* A relative name is a systemd credential. */
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(audit_keys_from_file("audit.key", &k, err, sizeof(err)),
			 CS_EINVAL);
	assert_non_null(strstr(err, "needs $CREDENTIALS_DIRECTORY"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_differing_fields),
		cmocka_unit_test(test_null_values),
		cmocka_unit_test(test_creation),
		cmocka_unit_test(test_no_record_and_removal),
		cmocka_unit_test(test_value_digests),
		cmocka_unit_test(test_row_hash_covers_everything),
		cmocka_unit_test(test_checkpoint_sign_write_read_verify),
		cmocka_unit_test(test_key_files_refused),
	};

	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
