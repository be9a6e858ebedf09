/* The sound level a feed reports (capture/vw_feed: vw_audio_peak, vw_audio_peak_db), which the
 * setup page's microphone meter shows: the loudest sample of any channel, in dB below full scale,
 * with digital silence at the 16-bit floor. */
#include "vw_feed.h"
#include "vw_test.h"

#include <math.h>
#include <stdint.h>

static void test_peak(void)
{
	const int16_t quiet[] = {0, 0, 0, 0};
	const int16_t stereo[] = {100, -200, 300, -16384, 5, 0}; /* the loudest in the right channel */
	const int16_t extremes[] = {INT16_MAX, 0, INT16_MIN, 0};

	CU_ASSERT_EQUAL(vw_audio_peak(quiet, 4), 0);
	CU_ASSERT_EQUAL(vw_audio_peak(stereo, 6), 16384);
	CU_ASSERT_EQUAL(vw_audio_peak(stereo, 3), 300); /* only the samples it is given */
	CU_ASSERT_EQUAL(vw_audio_peak(extremes, 4), 32768);
	CU_ASSERT_EQUAL(vw_audio_peak(extremes, 0), 0);
}

static void test_peak_db(void)
{
	CU_ASSERT_DOUBLE_EQUAL(vw_audio_peak_db(32768), 0.0, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(vw_audio_peak_db(16384), -6.0206, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(vw_audio_peak_db(8192), -12.0412, 1e-3); /* the fake microphone's tone */
	CU_ASSERT_DOUBLE_EQUAL(vw_audio_peak_db(1), -90.309, 1e-3);
	CU_ASSERT_DOUBLE_EQUAL(vw_audio_peak_db(0), -96.0, 1e-9);
	CU_ASSERT_TRUE(isfinite(vw_audio_peak_db(0)));
}

VW_TEST_SUITE("level", NULL,
	      {"peak of interleaved samples", test_peak},
	      {"peak in dB below full scale", test_peak_db})
