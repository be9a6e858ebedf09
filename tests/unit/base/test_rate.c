/* Tests of vw_rate: the window, the first event that only opens it, and events that arrive
 * unevenly or not at all. */
#include "vw_rate.h"
#include "vw_test.h"

#define SEC 1000000000LL
#define MS 1000000LL

/* 25 frames a second, one per 40 ms: after the first full second the rate is 25. */
static void test_steady_frames(void)
{
	struct vw_rate r;
	int closed = 0;

	vw_rate_init(&r, SEC);
	for (int i = 0; i <= 100; i++)
		closed += vw_rate_add(&r, 1, 5 * SEC + i * 40 * MS);
	CU_ASSERT_EQUAL(closed, 4); /* 4 s of frames: four windows */
	CU_ASSERT_DOUBLE_EQUAL(r.per_sec, 25.0, 1e-9);
}

/* Nothing is reported before a whole window has passed, and the event that opened it is not
 * counted in it. */
static void test_first_window(void)
{
	struct vw_rate r;

	vw_rate_init(&r, 2 * SEC);
	CU_ASSERT_FALSE(vw_rate_add(&r, 1000, 0)); /* opens the window at t = 0 */
	CU_ASSERT_FALSE(vw_rate_add(&r, 1000, SEC));
	CU_ASSERT_DOUBLE_EQUAL(r.per_sec, 0.0, 1e-9);
	CU_ASSERT_TRUE(vw_rate_add(&r, 1000, 2 * SEC));
	CU_ASSERT_DOUBLE_EQUAL(r.per_sec, 1000.0, 1e-9); /* 2000 bytes after t = 0, over 2 s */
}

/* Bytes arriving in bursts: the rate is the window's total over its real length, which can be
 * longer than the window when the next burst comes late. */
static void test_uneven_bursts(void)
{
	struct vw_rate r;

	vw_rate_init(&r, 2 * SEC);
	vw_rate_add(&r, 0, 10 * SEC);
	vw_rate_add(&r, 125000, 10 * SEC + 500 * MS);
	CU_ASSERT_TRUE(vw_rate_add(&r, 375000, 14 * SEC)); /* 500000 bytes in 4 s */
	CU_ASSERT_DOUBLE_EQUAL(r.per_sec * 8, 1e6, 1e-6);
	/* ticks without events (a placeholder picture is not a captured frame) close windows at 0 */
	CU_ASSERT_FALSE(vw_rate_add(&r, 0, 15 * SEC));
	CU_ASSERT_TRUE(vw_rate_add(&r, 0, 16 * SEC));
	CU_ASSERT_DOUBLE_EQUAL(r.per_sec, 0.0, 1e-9);
}

VW_TEST_SUITE("rate", NULL,
	      {"steady_frames", test_steady_frames},
	      {"first_window", test_first_window},
	      {"uneven_bursts", test_uneven_bursts})
