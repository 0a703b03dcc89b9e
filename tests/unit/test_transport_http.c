/* test_transport_http.c - the transport's pure policy pieces: which statuses
 * are retried, the backoff delay, the loopback check and path escaping.
 * Nothing here touches the network. */
#include "testutil.h"

#include <float.h>
#include <limits.h>

#include "transport_http.h"

/* The largest rnd the contract allows: the double just below 1. */
#define RND_MAX (1.0 - DBL_EPSILON / 2)

/* ---- retryable statuses ---- */

static void test_status_retryable(void **state)
{
	static const long retryable[] = { 408, 429, 502, 503, 504 };

	(void)state;
	for (long st = 100; st <= 599; st++) {
		int want = 0;

		for (size_t i = 0; i < CS_ARRAY_LEN(retryable); i++)
			want |= st == retryable[i];
		if (!!http_status_retryable(st) != want)
			fail_msg("status %ld: retryable should be %d", st, want);
	}
	assert_false(http_status_retryable(0));
	assert_false(http_status_retryable(-1));
	assert_false(http_status_retryable(600));
	assert_false(http_status_retryable(1429));
}

/* ---- backoff ---- */

struct backoff_case {
	int attempt;
	long base, cap;
	long want_max;	/* the delay for rnd just below 1 */
};

static const struct backoff_case backoff_cases[] = {
	{ 1, 200, 30000, 200 },
	{ 2, 200, 30000, 400 },
	{ 3, 200, 30000, 800 },
	{ 8, 200, 30000, 25600 },
	{ 9, 200, 30000, 30000 },	/* 51200 capped */
	{ 60, 200, 30000, 30000 },	/* 200 * 2^59 would overflow */
	{ 64, 200, 30000, 30000 },
	{ INT_MAX, 200, 30000, 30000 },
	{ 1, 50000, 30000, 30000 },	/* base above cap */
	{ 4, 1000, 1000, 1000 },
	{ 1, 0, 30000, 0 },
	{ 52, 1, 1L << 60, 1L << 51 },	/* large values stay exact */
};

static void test_backoff_bounds(void **state)
{
	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(backoff_cases); i++) {
		const struct backoff_case *c = &backoff_cases[i];

		tu_assert_int_case(i, http_backoff_ms(c->attempt, c->base, c->cap,
						      -1, 0.0), 0);
		tu_assert_int_case(i, http_backoff_ms(c->attempt, c->base, c->cap,
						      -1, RND_MAX), c->want_max);
	}
	/* Doubling towards a cap near LONG_MAX must not overflow (UBSan). */
	assert_true(http_backoff_ms(70, 1000, LONG_MAX, -1, 0.999999) >
		    LONG_MAX / 4);
}

static void test_backoff_is_a_uniform_draw(void **state)
{
	long prev = -1;

	(void)state;
	/* Attempt 3, base 200: uniform over [0, 800]. */
	assert_int_equal(http_backoff_ms(3, 200, 30000, -1, 0.5), 400);
	assert_int_equal(http_backoff_ms(3, 200, 30000, -1, 0.25), 200);
	/* Non-decreasing in rnd, covering the whole range. */
	for (int k = 0; k < 1000; k++) {
		long d = http_backoff_ms(3, 200, 30000, -1, k / 1000.0);

		assert_in_range(d, 0, 800);
		assert_true(d >= prev);
		prev = d;
	}
	assert_true(prev >= 799);
}

static void test_backoff_grows_with_attempts_up_to_cap(void **state)
{
	long prev = 0;

	(void)state;
	for (int attempt = 1; attempt <= 100; attempt++) {
		long d = http_backoff_ms(attempt, 200, 30000, -1, RND_MAX);

		assert_in_range(d, prev, 30000);
		prev = d;
	}
	assert_int_equal(prev, 30000);
}

static void test_backoff_retry_after(void **state)
{
	static const struct {
		long retry_after, want;
	} cases[] = {
		{ 0, 0 }, { 1, 1 }, { 5000, 5000 }, { 30000, 30000 },
		{ 30001, 30000 }, { 3600000, 30000 }, { LONG_MAX, 30000 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		/* The server's value is used as is: no jitter, any attempt. */
		tu_assert_int_case(i, http_backoff_ms(1, 200, 30000,
				   cases[i].retry_after, 0.0), cases[i].want);
		tu_assert_int_case(i, http_backoff_ms(7, 200, 30000,
				   cases[i].retry_after, RND_MAX), cases[i].want);
	}
	/* Negative means "none sent": back to the jittered delay. */
	assert_int_equal(http_backoff_ms(2, 200, 30000, -1, 0.0), 0);
	assert_int_equal(http_backoff_ms(2, 200, 30000, -1, RND_MAX), 400);
}

/* ---- loopback ---- */

static void test_url_is_loopback(void **state)
{
	static const struct {
		const char *url;
		int want;
	} cases[] = {
		{ "http://127.0.0.1:8080/x", 1 },
		{ "http://127.0.0.1/", 1 },
		{ "http://127.1.2.3/", 1 },
		{ "http://127.255.255.254:1/", 1 },
		{ "http://localhost/", 1 },
		{ "http://localhost:8080/api/v1", 1 },
		{ "http://[::1]:9/", 1 },
		{ "https://[::1]/", 1 },
		{ "https://localhost/", 1 },
		{ "http://10.0.0.1/", 0 },
		{ "ftp://127.0.0.1/", 0 },	/* loopback, but not http(s) */
		{ "http://128.0.0.1/", 0 },
		{ "http://126.255.255.255/", 0 },
		{ "http://0.0.0.0/", 0 },
		{ "https://example.org/", 0 },
		/* Names that merely look local are anyone's to register. */
		{ "http://127.example.org/", 0 },
		{ "http://127.0.0.1.nip.io/", 0 },
		{ "http://localhost.example.org/", 0 },
		{ "http://mylocalhost/", 0 },
		/* The host is what follows the userinfo, not what precedes. */
		{ "http://127.0.0.1@example.org/", 0 },
		{ "http://localhost:80@example.org/", 0 },
		{ "http://example.org#@127.0.0.1/", 0 },
		{ "http://example.org/?h=127.0.0.1", 0 },
		{ "http://[::2]/", 0 },
		{ "not a url", 0 },
		{ "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++)
		if (!!http_url_is_loopback(cases[i].url) != cases[i].want)
			fail_msg("case %zu: %s should %sbe loopback", i,
				 cases[i].url, cases[i].want ? "" : "not ");
}

/* ---- path segments ---- */

static void test_escape_segment(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "100101", "100101" },
		{ "a/b", "a%2Fb" },
		{ "a b", "a%20b" },
		{ "../admin", "..%2Fadmin" },
		{ "?x=1#f", "%3Fx%3D1%23f" },
		{ "50%", "50%25" },
		{ "a-b_c.d~e", "a-b_c.d~e" },
		{ "\xc3\xbc", "%C3%BC" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < CS_ARRAY_LEN(cases); i++) {
		char *got = http_escape_segment(cases[i].in);

		assert_non_null(got);
		tu_assert_str_case(i, got, cases[i].out);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_retryable),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_is_a_uniform_draw),
		cmocka_unit_test(test_backoff_grows_with_attempts_up_to_cap),
		cmocka_unit_test(test_backoff_retry_after),
		cmocka_unit_test(test_url_is_loopback),
		cmocka_unit_test(test_escape_segment),
	};

	return cmocka_run_group_tests_name("transport_http", tests, NULL, NULL);
}
