/* UTF-8 checks (base/vw_text): what jansson would refuse becomes '?', byte by byte, and valid
 * text of every length is kept as it is. */
#include "vw_text.h"
#include "vw_test.h"

#include <string.h>

static void check(const char *in, const char *want)
{
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", in);
	vw_utf8_sanitize(buf);
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_len(void)
{
	CU_ASSERT_EQUAL(vw_utf8_len("a"), 1);
	CU_ASSERT_EQUAL(vw_utf8_len("\xc3\xa9"), 2);         /* é */
	CU_ASSERT_EQUAL(vw_utf8_len("\xe2\x82\xac"), 3);     /* € */
	CU_ASSERT_EQUAL(vw_utf8_len("\xf0\x9f\x93\xb7"), 4); /* camera emoji */
	CU_ASSERT_EQUAL(vw_utf8_len("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF, the last one */
	CU_ASSERT_EQUAL(vw_utf8_len("\xc0\xaf"), 0);         /* overlong '/' */
	CU_ASSERT_EQUAL(vw_utf8_len("\xe0\x80\xaf"), 0);     /* overlong, 3 bytes */
	CU_ASSERT_EQUAL(vw_utf8_len("\xf0\x80\x80\xaf"), 0); /* overlong, 4 bytes */
	CU_ASSERT_EQUAL(vw_utf8_len("\xed\xa0\x80"), 0);     /* a surrogate */
	CU_ASSERT_EQUAL(vw_utf8_len("\xf4\x90\x80\x80"), 0); /* beyond U+10FFFF */
	CU_ASSERT_EQUAL(vw_utf8_len("\xf5\x80\x80\x80"), 0);
	CU_ASSERT_EQUAL(vw_utf8_len("\x80"), 0);             /* a lone continuation byte */
	CU_ASSERT_EQUAL(vw_utf8_len("\xe2\x82"), 0);         /* cut by the terminator */
}

static void test_sanitize(void)
{
	check("", "");
	check("HD Pro Webcam C920", "HD Pro Webcam C920");
	check("Caméra € \xf0\x9f\x93\xb7", "Caméra € \xf0\x9f\x93\xb7");
	/* a name cut inside a character, as a fixed-size driver field leaves it */
	check("Cam\xc3", "Cam?");
	check("Cam\xe2\x82", "Cam??");
	check("Cam\xf0\x9f\x93", "Cam???");
	/* each bad byte on its own; what follows it is judged afresh */
	check("\xff\xfe" "ok", "??ok");
	check("\xc0\xaf", "??");
	check("\xed\xa0\x80x", "???x");
	check("\x80\xc3\xa9", "?\xc3\xa9");
	check("\xe2\x82" "A", "??A");
	check("ok \xc3\xa9 \xe2\x82\xac \xe2\x82 \xc0\xaf \xed\xa0\x80 \xf0\x9f\x98\x80 \xff",
	      "ok \xc3\xa9 \xe2\x82\xac ?? ?? ??? \xf0\x9f\x98\x80 ?");
}

VW_TEST_SUITE("text", NULL,
	      {"len", test_len},
	      {"sanitize", test_sanitize})
