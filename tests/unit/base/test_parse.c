/* Value syntax and names (base/vw_parse): examples of each parser and of the "did you mean"
 * suggestion used by configuration errors. */
#include "vw_parse.h"
#include "vw_test.h"

#include <errno.h>
#include <string.h>

static void test_values(void)
{
	int w, h;
	int64_t v;
	uint64_t b;
	bool yes;
	long n;
	char host[64];
	int port;

	CU_ASSERT_EQUAL(vw_parse_size("640x480", &w, &h), 0);
	CU_ASSERT(w == 640 && h == 480);
	CU_ASSERT_EQUAL(vw_parse_size("641x480", &w, &h), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_bitrate("1000k", &v), 0);
	CU_ASSERT_EQUAL(v, 1000000);
	CU_ASSERT_EQUAL(vw_parse_bitrate("2M", &v), 0);
	CU_ASSERT_EQUAL(v, 2000000);
	CU_ASSERT_EQUAL(vw_parse_duration("500ms", &v), 0);
	CU_ASSERT_EQUAL(v, 500 * 1000000LL);
	CU_ASSERT_EQUAL(vw_parse_duration("5m", &v), 0);
	CU_ASSERT_EQUAL(v, 300 * 1000000000LL);
	CU_ASSERT_EQUAL(vw_parse_bytes("64k", &b), 0);
	CU_ASSERT_EQUAL(b, 65536);
	CU_ASSERT_EQUAL(vw_parse_bool("on", &yes), 0);
	CU_ASSERT_TRUE(yes);
	CU_ASSERT_EQUAL(vw_parse_bool("maybe", &yes), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_int("42", 0, 100, &n), 0);
	CU_ASSERT_EQUAL(n, 42);
	CU_ASSERT_EQUAL(vw_parse_int("420", 0, 100, &n), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_listen("[::1]:8888", host, sizeof(host), &port), 0);
	CU_ASSERT_STRING_EQUAL(host, "::1");
	CU_ASSERT_EQUAL(port, 8888);
	CU_ASSERT_EQUAL(vw_parse_listen("::1:8888", host, sizeof(host), &port), -EINVAL);
	CU_ASSERT_TRUE(vw_name_valid("front/large", true));
	CU_ASSERT_FALSE(vw_name_valid("front/large", false));
	CU_ASSERT_FALSE(vw_name_valid("a b", true));
}

static void test_nearest(void)
{
	static const char *const keys[] = {"device", "size", "fps", "format", "brightness", "power_line_frequency"};
	const size_t n = sizeof(keys) / sizeof(keys[0]);

	CU_ASSERT_STRING_EQUAL(vw_nearest("sise", keys, n), "size");
	CU_ASSERT_STRING_EQUAL(vw_nearest("brightnes", keys, n), "brightness");
	CU_ASSERT_STRING_EQUAL(vw_nearest("Brightness", keys, n), "brightness"); /* case is not a typo */
	CU_ASSERT_STRING_EQUAL(vw_nearest("powerline_frequency", keys, n), "power_line_frequency");
	CU_ASSERT_STRING_EQUAL(vw_nearest("devcie", keys, n), "device"); /* a swap is two edits */
	/* nothing close: no suggestion rather than a wrong one */
	CU_ASSERT_PTR_NULL(vw_nearest("bogus_key", keys, n));
	CU_ASSERT_PTR_NULL(vw_nearest("zoom", keys, n));
	CU_ASSERT_PTR_NULL(vw_nearest("size", keys, 0));
}

VW_TEST_SUITE("parse", NULL,
	      {"values", test_values},
	      {"nearest", test_nearest})
