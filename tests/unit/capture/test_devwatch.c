/* Examples of vw_devwatch_match, the name test of the hotplug watcher (pure): which directory
 * entries count as the watched node. The watch itself (inotify, directories that come and go) is
 * tested in tests/integration/test_hotplug.c. */
#include "vw_devwatch.h"
#include "vw_test.h"

static void test_exact(void)
{
	CU_ASSERT_TRUE(vw_devwatch_match("video0", "video0"));
	CU_ASSERT_FALSE(vw_devwatch_match("video0", "video01")); /* a longer name is another node */
	CU_ASSERT_FALSE(vw_devwatch_match("video01", "video0"));
	CU_ASSERT_FALSE(vw_devwatch_match("video0", "Video0"));
	CU_ASSERT_FALSE(vw_devwatch_match("video0", ""));
}

static void test_prefix(void)
{
	CU_ASSERT_TRUE(vw_devwatch_match("pcmC*", "pcmC1D0c"));
	CU_ASSERT_TRUE(vw_devwatch_match("pcmC*", "pcmC")); /* the part before '*' alone */
	CU_ASSERT_FALSE(vw_devwatch_match("pcmC*", "controlC1"));
	CU_ASSERT_FALSE(vw_devwatch_match("pcmC*", "pcm"));
	CU_ASSERT_TRUE(vw_devwatch_match("*", "anything"));
	CU_ASSERT_FALSE(vw_devwatch_match("pcm*C", "pcmxC")); /* '*' means something only at the end */
	CU_ASSERT_TRUE(vw_devwatch_match("pcm*C", "pcm*C"));
}

VW_TEST_SUITE("devwatch", NULL,
	      {"exact", test_exact},
	      {"prefix", test_prefix})
