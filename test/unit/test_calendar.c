/* SPDX-License-Identifier: MIT */
/* Unit tests for calendar: known dates around the epoch, leap days and centuries, and
 * the round trip over a wide range of days. */
#include "test_util.h"

#include "calendar.h"

static void test_known_dates(void **state)
{
	(void)state;
	assert_int_equal(acs_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(acs_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(acs_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(acs_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(acs_days_from_civil(1600, 1, 1), -135140);
	assert_int_equal(acs_days_from_civil(2100, 12, 31), 47846);
	int64_t y;
	unsigned m, d;
	acs_civil_from_days(19782, &y, &m, &d);
	assert_int_equal(y, 2024);
	assert_int_equal(m, 2);
	assert_int_equal(d, 29);
	acs_civil_from_days(-1, &y, &m, &d);
	assert_int_equal(y, 1969);
	assert_int_equal(m, 12);
	assert_int_equal(d, 31);
}

/* Every day maps to a valid date and back; consecutive days are consecutive dates. */
static void test_round_trip(void **state)
{
	(void)state;
	int64_t py = 0;
	unsigned pm = 0, pd = 0;
	for (int64_t z = -800000; z <= 800000; z++) {
		int64_t y;
		unsigned m, d;
		acs_civil_from_days(z, &y, &m, &d);
		assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
		assert_int_equal(acs_days_from_civil(y, m, d), z);
		if (z > -800000)
			assert_true((y == py && m == pm && d == pd + 1) ||
				    (y == py && m == pm + 1 && d == 1) ||
				    (y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31));
		py = y;
		pm = m;
		pd = d;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_dates),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
