/* test_config.c - casesync.conf: defaults, types, FILE:LINE problems,
 * overrides, validation and the small helpers around config_load. */
#include "testutil.h"

#include "config.h"

/* Writes text to a temporary file, loads it with the given overrides and
 * removes the file. path receives the file name (for FILE:LINE checks). */
static struct config *load_text(const char *text, char *const *ov, int n,
				struct diag *d, char path[TU_PATH_MAX])
{
	struct config *c;

	tu_temp_file(path, text);
	diag_init(d);
	c = config_load(path, ov, n, d);
	unlink(path);
	return c;
}

/* Loads text that must be valid; fails the test with the problems if not. */
static struct config *load_ok(const char *text, char *const *ov, int n)
{
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *c = load_text(text, ov, n, &d, path);

	if (!c || d.total) {
		tu_diag_dump(&d);
		diag_free(&d);
		config_free(c);
		fail_msg("config rejected");
	}
	diag_free(&d);
	return c;
}

/* Loads text that must be rejected with exactly one problem, reported as
 * "FILE:LINE: ...needle..." (line 0: "FILE: ...needle..."). */
static void expect_problem(const char *text, int line, const char *needle)
{
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *c = load_text(text, NULL, 0, &d, path);

	assert_null(c);
	if (d.total != 1)
		tu_diag_dump(&d);
	assert_int_equal(d.total, 1);
	tu_assert_diag_at(&d, path, line, needle);
	diag_free(&d);
}

/* Whole-config checks have no line: "FILE: ...needle...". */
static void expect_file_problem(const char *text, const char *needle)
{
	expect_problem(text, 0, needle);
}

/* ---- defaults and types ---- */

static void test_defaults(void **state)
{
	struct config *c = load_ok("[database]\n", NULL, 0);

	(void)state;
	assert_string_equal(c->db_conninfo, "");
	assert_int_equal(c->db_statement_timeout_ms, 30000);
	assert_string_equal(c->mappings_dir, "/etc/casesync/mappings");
	assert_string_equal(c->mappings_use, "");
	assert_int_equal(c->remote_transport, TRANSPORT_HTTP);
	assert_string_equal(c->remote_url, "");
	assert_string_equal(c->remote_inbox, "");
	assert_string_equal(c->remote_outbox, "");
	assert_int_equal(c->remote_allow_http_loopback, 0);
	assert_string_equal(c->remote_ca_file, "");
	assert_string_equal(c->remote_client_cert, "");
	assert_string_equal(c->remote_client_key, "");
	assert_int_equal(c->remote_connect_timeout_ms, 10000);
	assert_int_equal(c->remote_timeout_ms, 60000);
	assert_int_equal(c->remote_max_response_bytes, 16777216);
	assert_int_equal(c->remote_page_size, 100);
	assert_int_equal(c->remote_max_retries, 4);
	assert_int_equal(c->daemon_poll_interval_s, 60);
	assert_string_equal(c->daemon_log_level, "info");
	/* An empty instance falls back to the host name. */
	assert_non_null(c->daemon_instance);
	assert_true(c->daemon_instance[0] != '\0');
	config_free(c);
}

static void test_every_key_parses(void **state)
{
	struct config *c = load_ok(
		"[database]\n"
		"conninfo = host=db.internal dbname=cases sslmode=verify-full\n"
		"statement_timeout_ms = 0\n"
		"[mappings]\n"
		"dir = /srv/maps\n"
		"use = lcs-rest\n"
		"[remote]\n"
		"transport = files\n"
		"url = https://lcs.example.org/api\n"
		"inbox = /var/lib/casesync/in\n"
		"outbox = /var/lib/casesync/out\n"
		"allow_http_loopback = yes\n"
		"ca_file = /etc/ca.pem\n"
		"client_cert = /etc/c.pem\n"
		"client_key = /etc/c.key\n"
		"connect_timeout_ms = 600000\n"
		"timeout_ms = 1\n"
		"max_response_bytes = 1024\n"
		"page_size = 1000\n"
		"max_retries = 20\n"
		"[daemon]\n"
		"instance = node-1\n"
		"poll_interval_s = 86400\n"
		"log_level = debug\n", NULL, 0);

	(void)state;
	assert_string_equal(c->db_conninfo,
			    "host=db.internal dbname=cases sslmode=verify-full");
	assert_int_equal(c->db_statement_timeout_ms, 0);
	assert_string_equal(c->mappings_dir, "/srv/maps");
	assert_string_equal(c->mappings_use, "lcs-rest");
	assert_int_equal(c->remote_transport, TRANSPORT_FILES);
	assert_string_equal(c->remote_url, "https://lcs.example.org/api");
	assert_string_equal(c->remote_inbox, "/var/lib/casesync/in");
	assert_string_equal(c->remote_outbox, "/var/lib/casesync/out");
	assert_int_equal(c->remote_allow_http_loopback, 1);
	assert_string_equal(c->remote_ca_file, "/etc/ca.pem");
	assert_string_equal(c->remote_client_cert, "/etc/c.pem");
	assert_string_equal(c->remote_client_key, "/etc/c.key");
	assert_int_equal(c->remote_connect_timeout_ms, 600000);
	assert_int_equal(c->remote_timeout_ms, 1);
	assert_int_equal(c->remote_max_response_bytes, 1024);
	assert_int_equal(c->remote_page_size, 1000);
	assert_int_equal(c->remote_max_retries, 20);
	assert_string_equal(c->daemon_instance, "node-1");
	assert_int_equal(c->daemon_poll_interval_s, 86400);
	assert_string_equal(c->daemon_log_level, "debug");
	config_free(c);
}

static void test_real_config_file(void **state)
{
	struct diag d;
	struct config *c;

	(void)state;
	diag_init(&d);
	c = config_load("etc/casesync.conf", NULL, 0, &d);
	if (!c)
		tu_diag_dump(&d);
	assert_non_null(c);
	assert_int_equal(d.total, 0);
	assert_string_equal(c->path, "etc/casesync.conf");
	assert_string_equal(c->db_conninfo, "dbname=casesync");
	assert_string_equal(c->mappings_use, "lcs-rest");
	assert_int_equal(c->remote_transport, TRANSPORT_HTTP);
	assert_string_equal(c->remote_url, "https://lcs.example.invalid/api/v1");
	/* Commented-out keys keep their defaults. */
	assert_string_equal(c->remote_ca_file, "");
	config_free(c);
	diag_free(&d);
}

struct int_case {
	const char *text;
	int ok;
	long long want;		/* when ok */
};

static const struct int_case int_cases[] = {
	{ "[daemon]\npoll_interval_s = 1\n", 1, 1 },
	{ "[daemon]\npoll_interval_s = 86400\n", 1, 86400 },
	{ "[daemon]\npoll_interval_s = 007\n", 1, 7 },
	{ "[daemon]\npoll_interval_s = 0\n", 0, 0 },
	{ "[daemon]\npoll_interval_s = 86401\n", 0, 0 },
	{ "[daemon]\npoll_interval_s = -5\n", 0, 0 },
	{ "[daemon]\npoll_interval_s = 60s\n", 0, 0 },
	{ "[daemon]\npoll_interval_s = 0x10\n", 0, 0 },
	{ "[daemon]\npoll_interval_s = 1.5\n", 0, 0 },
	{ "[daemon]\npoll_interval_s =\n", 0, 0 },
	{ "[daemon]\npoll_interval_s = 99999999999999999999999\n", 0, 0 },
};

static void test_int_bounds(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(int_cases); i++) {
		const struct int_case *ic = &int_cases[i];
		char path[TU_PATH_MAX];
		struct diag d;
		struct config *c = load_text(ic->text, NULL, 0, &d, path);

		tu_assert_int_case(i, c != NULL, ic->ok);
		if (c)
			tu_assert_int_case(i, c->daemon_poll_interval_s, ic->want);
		else if (!tu_diag_at(&d, path, 2, "daemon.poll_interval_s: "
				     "expected an integer from 1 to 86400"))
			fail_msg("case %zu: wrong or missing message", i);
		config_free(c);
		diag_free(&d);
	}
}

static void test_bool_words(void **state)
{
	static const struct {
		const char *word;
		int want;	/* -1: rejected */
	} cases[] = {
		{ "true", 1 }, { "yes", 1 }, { "on", 1 }, { "1", 1 },
		{ "false", 0 }, { "no", 0 }, { "off", 0 }, { "0", 0 },
		{ "TRUE", -1 }, { "y", -1 }, { "2", -1 }, { "enabled", -1 },
		{ "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		char text[128], path[TU_PATH_MAX];
		struct diag d;
		struct config *c;

		snprintf(text, sizeof(text),
			 "[remote]\nallow_http_loopback = %s\n", cases[i].word);
		c = load_text(text, NULL, 0, &d, path);
		if (cases[i].want < 0) {
			tu_assert_int_case(i, c == NULL, 1);
			tu_assert_int_case(i, tu_diag_at(&d, path, 2,
					   "remote.allow_http_loopback: expected "
					   "true or false"), 1);
		} else {
			tu_assert_int_case(i, c != NULL, 1);
			tu_assert_int_case(i, c->remote_allow_http_loopback,
					   cases[i].want);
		}
		config_free(c);
		diag_free(&d);
	}
}

static void test_transport_words(void **state)
{
	struct config *c = load_ok("[remote]\ntransport = http\n", NULL, 0);

	(void)state;
	assert_int_equal(c->remote_transport, TRANSPORT_HTTP);
	config_free(c);
	c = load_ok("[remote]\ntransport = files\ninbox = /in\noutbox = /out\n",
		    NULL, 0);
	assert_int_equal(c->remote_transport, TRANSPORT_FILES);
	config_free(c);
	expect_problem("[remote]\ntransport = ftp\n", 2,
		       "remote.transport: expected http or files");
	expect_problem("[remote]\ntransport = HTTP\n", 2,
		       "expected http or files");
}

/* ---- problems named FILE:LINE ---- */

struct problem_case {
	const char *text;
	int line;
	const char *needle;
};

static const struct problem_case problem_cases[] = {
	{ "[database]\nconninfo = x\nbogus = 1\n", 3,
	  "unknown key 'bogus' in [database]" },
	{ "[database]\n[nosuch]\nkey = 1\n", 2, "unknown section [nosuch]" },
	{ "conninfo = x\n[database]\n", 1, "key 'conninfo' outside any section" },
	{ "[database]\nconninfo = a\n\nconninfo = b\n", 4,
	  "database.conninfo set twice" },
	{ "[database]\nstatement_timeout_ms = abc\n", 2,
	  "database.statement_timeout_ms: expected an integer" },
	{ "[database]\njust some words\n", 2, "expected 'key = value'" },
	{ "[database\n", 1, "section header without closing ']'" },
	{ "[data$base]\n", 1, "invalid section name" },
	{ "[daemon]\nbad key = 1\n", 2, "invalid key name" },
	/* The key exists, but in another section. */
	{ "[daemon]\nconninfo = x\n", 2, "unknown key 'conninfo' in [daemon]" },
};

static void test_problems_name_file_and_line(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(problem_cases); i++) {
		const struct problem_case *pc = &problem_cases[i];
		char path[TU_PATH_MAX];
		struct diag d;
		struct config *c = load_text(pc->text, NULL, 0, &d, path);

		tu_assert_int_case(i, c == NULL, 1);
		if (d.total != 1 || !tu_diag_at(&d, path, pc->line, pc->needle)) {
			tu_diag_dump(&d);
			fail_msg("case %zu: expected one problem at line %d: %s",
				 i, pc->line, pc->needle);
		}
		diag_free(&d);
	}
}

static void test_problem_does_not_echo_value(void **state)
{
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *c = load_text("[daemon]\npoll_interval_s = SECRET42\n",
				     NULL, 0, &d, path);

	(void)state;
	assert_null(c);
	assert_int_equal(d.total, 1);
	assert_false(tu_diag_has(&d, "SECRET42"));
	diag_free(&d);
}

static void test_all_problems_reported(void **state)
{
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *c = load_text("[database]\nbogus = 1\n[daemon]\n"
				     "poll_interval_s = 0\nlog_level = loud\n",
				     NULL, 0, &d, path);

	(void)state;
	assert_null(c);
	assert_int_equal(d.total, 3);
	tu_assert_diag_at(&d, path, 2, "unknown key 'bogus'");
	tu_assert_diag_at(&d, path, 4, "daemon.poll_interval_s");
	tu_assert_diag_at(&d, path, 0, "daemon.log_level");
	diag_free(&d);
}

static void test_missing_file(void **state)
{
	struct diag d;
	struct config *c;

	(void)state;
	diag_init(&d);
	c = config_load("/nonexistent/casesync.conf", NULL, 0, &d);
	assert_null(c);
	assert_true(d.total >= 1);
	tu_assert_diag_at(&d, "/nonexistent/casesync.conf", 0, "cannot open");
	diag_free(&d);
}

/* ---- --set overrides ---- */

static void test_override_wins_over_file(void **state)
{
	char *ov[] = { "daemon.poll_interval_s=5", "remote.url=https://h/x",
		       "remote.allow_http_loopback=on" };
	struct config *c = load_ok("[daemon]\npoll_interval_s = 60\n"
				   "[remote]\nurl = https://old/\n", ov, 3);

	(void)state;
	assert_int_equal(c->daemon_poll_interval_s, 5);
	assert_string_equal(c->remote_url, "https://h/x");
	assert_int_equal(c->remote_allow_http_loopback, 1);
	config_free(c);
}

static void test_override_problems(void **state)
{
	static const struct {
		const char *ov;
		const char *needle;
	} cases[] = {
		{ "daemon.nope=1", "unknown key 'daemon.nope'" },
		{ "nosection.poll_interval_s=1", "unknown key" },
		{ "daemon.poll_interval_s", "expected section.key=value" },
		{ "poll_interval_s=5", "expected section.key=value" },
		{ "daemon.poll_interval_s=0", "daemon.poll_interval_s: expected "
		  "an integer" },
		{ "remote.transport=smtp", "expected http or files" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		char *ov[1];
		char path[TU_PATH_MAX];
		struct diag d;
		struct config *c;

		ov[0] = (char *)cases[i].ov;
		c = load_text("[database]\n", ov, 1, &d, path);
		tu_assert_int_case(i, c == NULL, 1);
		if (d.total != 1 || !tu_diag_at(&d, "--set", 0, cases[i].needle)) {
			tu_diag_dump(&d);
			fail_msg("case %zu: expected \"--set: ...%s\"", i,
				 cases[i].needle);
		}
		diag_free(&d);
	}
}

/* ---- whole-config validation ---- */

static void test_conninfo_password_rejected(void **state)
{
	char *ov[] = { "database.conninfo=dbname=x password=hunter2" };
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *c;

	(void)state;
	expect_file_problem("[database]\nconninfo = host=db password=hunter2\n",
			    "must not hold a password");
	c = load_text("[database]\n", ov, 1, &d, path);
	assert_null(c);
	assert_true(tu_diag_has(&d, "must not hold a password"));
	assert_false(tu_diag_has(&d, "hunter2"));
	diag_free(&d);
	/* A password inside a URI's user-info is a password too. */
	expect_file_problem("[database]\nconninfo = postgresql://u:hunter2@db/x\n",
			    "must not hold a password");
}

static void test_conninfo_passfile_allowed(void **state)
{
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *c;

	(void)state;
	c = load_text("[database]\nconninfo = dbname=x passfile=/etc/password-store/pg "
		      "user=password_owner\n", NULL, 0, &d, path);
	assert_non_null(c);
	config_free(c);
	c = load_text("[database]\nconninfo = postgresql://u@db:5432/x\n", NULL, 0,
		      &d, path);
	assert_non_null(c);
	config_free(c);
	/* Integers are plain decimal: no sign, no blanks. */
	c = load_text("[daemon]\npoll_interval_s = +5\n", NULL, 0, &d, path);
	assert_null(c);
	assert_true(tu_diag_has(&d, "poll_interval_s"));
	diag_free(&d);
}

static void test_files_transport_needs_dirs(void **state)
{
	(void)state;
	expect_file_problem("[remote]\ntransport = files\n",
			    "needs remote.inbox and remote.outbox");
	expect_file_problem("[remote]\ntransport = files\ninbox = /in\n",
			    "needs remote.inbox and remote.outbox");
	expect_file_problem("[remote]\ntransport = files\noutbox = /out\n",
			    "needs remote.inbox and remote.outbox");
}

static void test_other_validation(void **state)
{
	(void)state;
	expect_file_problem("[remote]\nurl = https://h/api?token=abc\n",
			    "must not carry a query string");
	expect_file_problem("[daemon]\nlog_level = verbose\n",
			    "daemon.log_level");
}

/* ---- syntax details ---- */

static void test_comments_and_bom(void **state)
{
	struct config *c = load_ok("\xEF\xBB\xBF# comment\n"
				   "; another comment\n"
				   "\n"
				   "[database]\n"
				   "   # indented comment\n"
				   "\t; and another\n"
				   "conninfo = dbname=x\n", NULL, 0);

	(void)state;
	assert_string_equal(c->db_conninfo, "dbname=x");
	config_free(c);
}

static void test_bom_keeps_line_numbers(void **state)
{
	(void)state;
	expect_problem("\xEF\xBB\xBF[database]\nbogus = 1\n", 2,
		       "unknown key 'bogus'");
}

static void test_value_may_contain_hash(void **state)
{
	struct config *c = load_ok("[daemon]\ninstance = node#1 ; not a comment\n"
				   "[database]\nconninfo = dbname=a#b\n", NULL, 0);

	(void)state;
	assert_string_equal(c->daemon_instance, "node#1 ; not a comment");
	assert_string_equal(c->db_conninfo, "dbname=a#b");
	config_free(c);
}

static void test_crlf_and_whitespace_trimmed(void **state)
{
	struct config *c = load_ok("[database]\r\n  conninfo\t=\t dbname=x  \r\n"
				   "[ daemon ]\r\npoll_interval_s=9\r\n", NULL, 0);

	(void)state;
	assert_string_equal(c->db_conninfo, "dbname=x");
	assert_int_equal(c->daemon_poll_interval_s, 9);
	config_free(c);
}

/* ---- helpers around config_load ---- */

static void test_default_path_from_env(void **state)
{
	const char *old = getenv("CASESYNC_CONFIG");
	char *saved = old ? cs_strdup(old) : NULL;

	(void)state;
	assert_int_equal(setenv("CASESYNC_CONFIG", "/srv/other.conf", 1), 0);
	assert_string_equal(config_default_path(), "/srv/other.conf");
	assert_int_equal(setenv("CASESYNC_CONFIG", "", 1), 0);
	assert_string_equal(config_default_path(), CONFIG_DEFAULT_PATH);
	assert_int_equal(unsetenv("CASESYNC_CONFIG"), 0);
	assert_string_equal(config_default_path(), CONFIG_DEFAULT_PATH);
	if (saved)
		assert_int_equal(setenv("CASESYNC_CONFIG", saved, 1), 0);
	free(saved);
}

static void test_key_reloadable(void **state)
{
	static const struct {
		const char *key;
		int want;
	} cases[] = {
		{ "daemon.poll_interval_s", 1 },
		{ "daemon.log_level", 1 },
		{ "remote.url", 1 },
		{ "mappings.use", 1 },
		{ "database.conninfo", 0 },
		{ "remote.transport", 0 },
		{ "daemon.instance", 0 },
		{ "daemon.nope", 0 },
		{ "nope.poll_interval_s", 0 },
		{ "poll_interval_s", 0 },
		{ "", 0 },
		{ ".", 0 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++)
		tu_assert_int_case(i, !!config_key_reloadable(cases[i].key),
				   cases[i].want);
}

/* A reload keeps the running value of keys that need a restart. */
static void test_keep_fixed_on_reload(void **state)
{
	char path[TU_PATH_MAX];
	struct diag d;
	struct config *cur, *next;

	(void)state;
	cur = load_text("[database]\nconninfo = dbname=a\n[daemon]\n"
			"poll_interval_s = 10\n", NULL, 0, &d, path);
	next = load_text("[database]\nconninfo = dbname=b\n[daemon]\n"
			 "poll_interval_s = 20\n", NULL, 0, &d, path);
	assert_non_null(cur);
	assert_non_null(next);
	assert_int_equal(config_keep_fixed(next, cur), 1);
	assert_string_equal(next->db_conninfo, "dbname=a");
	assert_int_equal(next->daemon_poll_interval_s, 20);
	assert_int_equal(config_keep_fixed(next, cur), 0);
	config_free(cur);
	config_free(next);
}

static void test_dump_round_trips(void **state)
{
	char *ov[] = { "daemon.poll_interval_s=7" };
	struct config *c = load_ok("[remote]\ntransport = files\ninbox = /in\n"
				   "outbox = /out\n", ov, 1);
	char *mem = NULL, path[TU_PATH_MAX];
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	struct config *again;
	struct diag d;

	(void)state;
	assert_non_null(f);
	config_dump(c, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(mem, "[daemon]\n"));
	assert_non_null(strstr(mem, "poll_interval_s = 7\n"));
	assert_non_null(strstr(mem, "transport = files\n"));
	/* What config_dump prints is itself a valid config with the same values. */
	again = load_text(mem, NULL, 0, &d, path);
	assert_non_null(again);
	assert_int_equal(again->daemon_poll_interval_s, 7);
	assert_int_equal(again->remote_transport, TRANSPORT_FILES);
	assert_string_equal(again->remote_inbox, "/in");
	assert_string_equal(again->daemon_instance, c->daemon_instance);
	diag_free(&d);
	config_free(again);
	config_free(c);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key_parses),
		cmocka_unit_test(test_real_config_file),
		cmocka_unit_test(test_int_bounds),
		cmocka_unit_test(test_bool_words),
		cmocka_unit_test(test_transport_words),
		cmocka_unit_test(test_problems_name_file_and_line),
		cmocka_unit_test(test_problem_does_not_echo_value),
		cmocka_unit_test(test_all_problems_reported),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_override_wins_over_file),
		cmocka_unit_test(test_override_problems),
		cmocka_unit_test(test_conninfo_password_rejected),
		cmocka_unit_test(test_conninfo_passfile_allowed),
		cmocka_unit_test(test_files_transport_needs_dirs),
		cmocka_unit_test(test_other_validation),
		cmocka_unit_test(test_comments_and_bom),
		cmocka_unit_test(test_bom_keeps_line_numbers),
		cmocka_unit_test(test_value_may_contain_hash),
		cmocka_unit_test(test_crlf_and_whitespace_trimmed),
		cmocka_unit_test(test_default_path_from_env),
		cmocka_unit_test(test_key_reloadable),
		cmocka_unit_test(test_keep_fixed_on_reload),
		cmocka_unit_test(test_dump_round_trips),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
