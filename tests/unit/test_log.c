/* test_log.c - log_escape, log_write line shape and filtering, levels. */
#include "testutil.h"

#include "log.h"

/* ---- log_escape ---- */

struct escape_case {
	const char *in;
	const char *out;
};

static const struct escape_case escape_cases[] = {
	{ "plain k=v", "plain k=v" },
	{ "a\nb", "a\\nb" },
	{ "a\rb", "a\\rb" },
	{ "a\tb", "a\\tb" },
	{ "a\\b", "a\\\\b" },
	{ "\x01", "\\x01" },
	{ "\x1b[31m", "\\x1b[31m" },
	{ "\x1f", "\\x1f" },
	{ "\x7f", "\\x7f" },
	{ "\x0b\x0c", "\\x0b\\x0c" },
	{ "\r\n", "\\r\\n" },
	{ "caf\xc3\xa9", "caf\xc3\xa9" },	/* UTF-8 passes through */
	{ "", "" },
};

static void test_escape_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(escape_cases); i++) {
		char dst[64];
		size_t n = log_escape(dst, sizeof(dst), escape_cases[i].in);

		tu_assert_str_case(i, dst, escape_cases[i].out);
		tu_assert_int_case(i, n, strlen(escape_cases[i].out));
	}
}

#define CANARY 0x5a

/* Escapes src into a dstsz-byte window of a larger buffer and checks that
 * nothing past the window was touched; returns the result in out. */
static size_t escape_in_window(const char *src, size_t dstsz, char *out,
			       size_t outsz)
{
	char buf[64];
	size_t n;

	assert_true(dstsz < sizeof(buf));
	memset(buf, CANARY, sizeof(buf));
	n = log_escape(buf, dstsz, src);
	for (size_t i = dstsz; i < sizeof(buf); i++)
		assert_int_equal((unsigned char)buf[i], CANARY);
	if (dstsz > 0) {
		assert_non_null(memchr(buf, '\0', dstsz));
		assert_int_equal(n, strlen(buf));
		snprintf(out, outsz, "%s", buf);
	}
	return n;
}

struct trunc_case {
	const char *in;
	size_t dstsz;
	const char *out;	/* NULL: nothing may be written at all */
};

static const struct trunc_case trunc_cases[] = {
	{ "abcdef", 0, NULL },
	{ "abcdef", 1, "" },
	{ "abcdef", 4, "abc" },
	{ "abc", 4, "abc" },
	/* An escape sequence is never cut in half. */
	{ "ab\ncd", 4, "ab" },
	{ "ab\ncd", 5, "ab\\n" },
	{ "\x01z", 4, "" },
	{ "\x01z", 5, "\\x01" },
	{ "\x01z", 6, "\\x01z" },
	{ "\\\\", 3, "\\\\" },
};

static void test_escape_truncates_and_terminates(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(trunc_cases); i++) {
		const struct trunc_case *c = &trunc_cases[i];
		char out[64] = "untouched";
		size_t n;

		n = escape_in_window(c->in, c->dstsz, out, sizeof(out));
		if (!c->out) {
			tu_assert_int_case(i, n, 0);
			tu_assert_str_case(i, out, "untouched");
			continue;
		}
		tu_assert_str_case(i, out, c->out);
		tu_assert_int_case(i, n, strlen(c->out));
	}
}

/* ---- log_write, through a memory stream ---- */

struct capture {
	FILE *f;
	char *mem;
	size_t len;
};

static int capture_setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->f = open_memstream(&c->mem, &c->len);
	if (!c->f) {
		free(c);
		return -1;
	}
	log_set_stream(c->f);
	log_set_level(LOG_LVL_INFO);
	*state = c;
	return 0;
}

static int capture_teardown(void **state)
{
	struct capture *c = *state;

	log_set_stream(NULL);
	log_set_level(LOG_LVL_INFO);
	fclose(c->f);
	free(c->mem);
	free(c);
	return 0;
}

/* What has been logged so far. */
static const char *captured(struct capture *c)
{
	assert_int_equal(fflush(c->f), 0);
	return c->mem ? c->mem : "";
}

static size_t count_char(const char *s, char ch)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_write_one_line(void **state)
{
	struct capture *c = *state;

	log_info("E", "k=%s", "v");
	assert_string_equal(captured(c), "casesync level=info event=E k=v\n");
}

static void test_write_without_tail(void **state)
{
	struct capture *c = *state;

	log_warn("started", "%s", "");
	assert_string_equal(captured(c), "casesync level=warn event=started\n");
}

static void test_write_cannot_forge_a_line(void **state)
{
	struct capture *c = *state;
	const char *out;

	log_info("E", "k=%s", "x\ncasesync level=error event=forged\r\n");
	out = captured(c);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_int_equal(count_char(out, '\r'), 0);
	assert_string_equal(out, "casesync level=info event=E "
			    "k=x\\ncasesync level=error event=forged\\r\\n\n");
}

static void test_write_long_value_stays_one_line(void **state)
{
	struct capture *c = *state;
	char *val = malloc(3001);
	const char *out;

	assert_non_null(val);
	memset(val, '\n', 3000);
	val[3000] = '\0';
	log_info("E", "k=%s", val);
	free(val);
	out = captured(c);
	assert_int_equal(count_char(out, '\n'), 1);
	assert_true(starts_with(out, "casesync level=info event=E k=\\n\\n"));
	assert_int_equal(out[strlen(out) - 1], '\n');
}

static void test_level_filtering(void **state)
{
	struct capture *c = *state;

	log_debug("hidden", "n=%d", 1);
	assert_string_equal(captured(c), "");
	log_error("shown", "n=%d", 2);
	assert_string_equal(captured(c), "casesync level=error event=shown n=2\n");

	log_set_level(LOG_LVL_DEBUG);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	log_debug("now", "n=%d", 3);
	assert_string_equal(captured(c), "casesync level=error event=shown n=2\n"
			    "casesync level=debug event=now n=3\n");
}

static void test_level_error_suppresses_warn_and_info(void **state)
{
	struct capture *c = *state;

	log_set_level(LOG_LVL_ERROR);
	log_warn("w", "n=%d", 1);
	log_info("i", "n=%d", 2);
	assert_string_equal(captured(c), "");
	log_error("e", "n=%d", 3);
	assert_string_equal(captured(c), "casesync level=error event=e n=3\n");
}

/* ---- log_parse_level ---- */

static void test_parse_level(void **state)
{
	static const struct {
		const char *name;
		enum log_level lv;
	} good[] = {
		{ "error", LOG_LVL_ERROR }, { "warn", LOG_LVL_WARN },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};
	static const char *const bad[] = {
		"", "INFO", "Info", "warning", "info ", " info", "debug2", "err",
		"trace",
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(good); i++) {
		enum log_level lv = (enum log_level)-1;

		assert_int_equal(log_parse_level(good[i].name, &lv), CS_OK);
		assert_int_equal(lv, good[i].lv);
	}
	for (size_t i = 0; i < CS_ARRAY_LEN(bad); i++) {
		enum log_level lv;

		tu_assert_int_case(i, log_parse_level(bad[i], &lv), CS_EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_table),
		cmocka_unit_test(test_escape_truncates_and_terminates),
		cmocka_unit_test_setup_teardown(test_write_one_line,
						capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_write_without_tail,
						capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_write_cannot_forge_a_line,
						capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_write_long_value_stays_one_line,
						capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_level_filtering,
						capture_setup, capture_teardown),
		cmocka_unit_test_setup_teardown(test_level_error_suppresses_warn_and_info,
						capture_setup, capture_teardown),
		cmocka_unit_test(test_parse_level),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
