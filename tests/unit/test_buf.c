/* test_buf.c - the bounded buffer every network read goes through. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "common.h"

static void test_append_grows_and_terminates(void **state)
{
	struct buf b;
	char chunk[100];

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 1000);
	for (int i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), CS_OK);
	assert_int_equal(b.len, 1000);
	assert_int_equal(b.data[1000], '\0');
	assert_int_equal(strlen(b.data), 1000);
	buf_free(&b);
}

static void test_limit_is_hard_and_leaves_buffer_unchanged(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_appends(&b, "12345"), CS_OK);
	assert_int_equal(buf_appends(&b, "6789"), CS_ELIMIT);
	assert_string_equal(b.data, "12345");
	assert_int_equal(buf_appends(&b, "678"), CS_OK);
	assert_int_equal(buf_append(&b, "", 0), CS_OK);
	assert_int_equal(buf_appends(&b, "9"), CS_ELIMIT);
	assert_int_equal(buf_printf(&b, "%d", 1), CS_ELIMIT);
	assert_string_equal(b.data, "12345678");
	buf_free(&b);
}

static void test_printf_reset_take(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_printf(&b, "%s=%d", "n", 42), CS_OK);
	assert_string_equal(b.data, "n=42");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(buf_appends(&b, "kept"), CS_OK);
	s = buf_take(&b);
	assert_string_equal(s, "kept");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	s = buf_take(&b);	/* an empty buffer still gives a string */
	assert_string_equal(s, "");
	free(s);
}

static void test_huge_append_does_not_overflow(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_appends(&b, "abc"), CS_OK);
	/* len + n would wrap around size_t: must be refused, not allocated. */
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 1), CS_ELIMIT);
	assert_string_equal(b.data, "abc");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_grows_and_terminates),
		cmocka_unit_test(test_limit_is_hard_and_leaves_buffer_unchanged),
		cmocka_unit_test(test_printf_reset_take),
		cmocka_unit_test(test_huge_append_does_not_overflow),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
