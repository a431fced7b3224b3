/* SPDX-License-Identifier: MIT */
/* Unit tests for mem.c: allocators and the bounded buffer. */
#include "test_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

static void test_buf_append_and_ceiling(void **state)
{
	(void)state;
	struct acs_buf b;
	acs_buf_init(&b, 10);
	assert_null(b.data);
	assert_int_equal(acs_buf_appends(&b, "hello"), 0);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.data, "hello");
	assert_int_equal(acs_buf_appends(&b, "world"), 0);
	assert_int_equal(b.len, 10);
	assert_string_equal(b.data, "helloworld");
	/* One byte past the ceiling fails and frees. */
	assert_int_equal(acs_buf_append(&b, "!", 1), ACS_ETOOBIG);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	acs_buf_free(&b);
}

static void test_buf_printf_consume_steal(void **state)
{
	(void)state;
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(acs_buf_printf(&b, "%d,", i), 0);
	assert_true(strncmp(b.data, "0,1,2,", 6) == 0);
	size_t before = b.len;
	acs_buf_consume(&b, 2);
	assert_int_equal(b.len, before - 2);
	assert_true(strncmp(b.data, "1,2,", 4) == 0);
	size_t len;
	char *s = acs_buf_steal(&b, &len);
	assert_int_equal(len, before - 2);
	assert_int_equal(strlen(s), len);
	assert_null(b.data);
	free(s);
	/* Stealing an empty buffer gives an empty string. */
	s = acs_buf_steal(&b, &len);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
}

static void test_buf_printf_over_ceiling(void **state)
{
	(void)state;
	struct acs_buf b;
	acs_buf_init(&b, 8);
	assert_int_equal(acs_buf_printf(&b, "%s", "123456789"), ACS_ETOOBIG);
	assert_null(b.data);
	assert_int_equal(acs_buf_printf(&b, "%s", "12345678"), 0);
	assert_string_equal(b.data, "12345678");
	acs_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	acs_buf_free(&b);
}

/* An unbounded ceiling must not wrap the capacity arithmetic. */
static void test_buf_no_ceiling(void **state)
{
	(void)state;
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX);
	for (int i = 0; i < 100; i++)
		assert_int_equal(acs_buf_appends(&b, "0123456789"), 0);
	assert_int_equal(b.len, 1000);
	assert_true(b.cap > b.len);
	acs_buf_free(&b);
}

/* reserve makes room once; put appends inline while it fits and like append past it. */
static void test_buf_reserve_and_put(void **state)
{
	(void)state;
	struct acs_buf b;
	acs_buf_init(&b, 100);
	assert_int_equal(acs_buf_reserve(&b, 50), 0);
	assert_non_null(b.data);
	assert_true(b.cap >= 51);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	char *first = b.data;
	for (int i = 0; i < 50; i++)
		assert_int_equal(acs_buf_put(&b, "x", 1), 0);
	assert_ptr_equal(b.data, first); /* no reallocation within the reservation */
	assert_int_equal(b.len, 50);
	assert_int_equal(acs_buf_put(&b, "0123456789", 10), 0); /* grows */
	assert_int_equal(b.len, 60);
	assert_int_equal(b.data[60], '\0');
	assert_int_equal(acs_buf_reserve(&b, 41), ACS_ETOOBIG); /* past the ceiling */
	assert_null(b.data);
	acs_buf_init(&b, 4);
	assert_int_equal(acs_buf_put(&b, "abcde", 5), ACS_ETOOBIG);
	acs_buf_free(&b);
}

static void test_xalloc(void **state)
{
	(void)state;
	char *s = acs_xasprintf("%s-%d", "a", 42);
	assert_string_equal(s, "a-42");
	free(s);
	s = acs_xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	int *z = acs_xcalloc(4, sizeof(int));
	for (int i = 0; i < 4; i++)
		assert_int_equal(z[i], 0);
	z = acs_xrealloc(z, 100 * sizeof(int));
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_and_ceiling),
		cmocka_unit_test(test_buf_printf_consume_steal),
		cmocka_unit_test(test_buf_printf_over_ceiling),
		cmocka_unit_test(test_buf_no_ceiling),
		cmocka_unit_test(test_buf_reserve_and_put),
		cmocka_unit_test(test_xalloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
