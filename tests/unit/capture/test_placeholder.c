/* Examples of vw_placeholder_frame, the picture a feed without a camera shows (pure): its format
 * and size, a dark grey field with the title brighter than the detail and clock lines, nothing
 * drawn outside the picture at any size, and a picture that changes with the second it names. */
#include "vw_feed.h"
#include "vw_test.h"

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include <string.h>

/* How many luma samples of rows [y0, y1) have value v. */
static int count_rows(const AVFrame *f, int y0, int y1, int v)
{
	int n = 0;
	for (int y = y0 < 0 ? 0 : y0; y < y1 && y < f->height; y++)
		for (int x = 0; x < f->width; x++)
			n += f->data[0][y * f->linesize[0] + x] == v;
	return n;
}

static int count_all(const AVFrame *f, int v)
{
	return count_rows(f, 0, f->height, v);
}

static bool same_luma(const AVFrame *a, const AVFrame *b)
{
	for (int y = 0; y < a->height; y++)
		if (memcmp(a->data[0] + y * a->linesize[0], b->data[0] + y * b->linesize[0], (size_t)a->width))
			return false;
	return true;
}

static void test_picture(void)
{
	AVFrame *f = vw_placeholder_frame(640, 480, "NO CAMERA", "video0", 1767225600); /* 2026-01-01 */

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(f->format, AV_PIX_FMT_YUV420P);
	CU_ASSERT_EQUAL(f->width, 640);
	CU_ASSERT_EQUAL(f->height, 480);
	/* grey: no colour anywhere */
	int off = 0;
	for (int p = 1; p < 3; p++)
		for (int y = 0; y < 240; y++)
			for (int x = 0; x < 320; x++)
				off += f->data[p][y * f->linesize[p] + x] != 128;
	CU_ASSERT_EQUAL(off, 0);
	/* the field is dark, the corners and the top and bottom rows untouched */
	CU_ASSERT_EQUAL(f->data[0][0], 40);
	CU_ASSERT_EQUAL(f->data[0][479 * f->linesize[0] + 639], 40);
	CU_ASSERT_EQUAL(count_rows(f, 0, 100, 40), 640 * 100);
	CU_ASSERT_EQUAL(count_rows(f, 380, 480, 40), 640 * 100);
	/* the title (235) in the middle, above the detail and the clock (200); nothing else */
	int title = count_all(f, 235), lines = count_all(f, 200);
	CU_ASSERT_TRUE(title > 500);
	CU_ASSERT_TRUE(lines > 200);
	CU_ASSERT_EQUAL(count_rows(f, 240 - 42, 240, 235), title);
	CU_ASSERT_EQUAL(count_rows(f, 240, 320, 200), lines);
	CU_ASSERT_EQUAL(title + lines + count_all(f, 40), 640 * 480);
	av_frame_free(&f);
}

static void test_changes_with_what_it_says(void)
{
	AVFrame *a = vw_placeholder_frame(320, 240, "NO CAMERA", "video0", 1767225600);
	AVFrame *b = vw_placeholder_frame(320, 240, "NO CAMERA", "video0", 1767225600);
	AVFrame *c = vw_placeholder_frame(320, 240, "NO CAMERA", "video0", 1767225601);
	AVFrame *d = vw_placeholder_frame(320, 240, "NO CAMERA", "video1", 1767225600);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a && b && c && d ? a : NULL);
	CU_ASSERT_TRUE(same_luma(a, b)); /* the same second: the same picture */
	CU_ASSERT_FALSE(same_luma(a, c)); /* the clock moved */
	CU_ASSERT_FALSE(same_luma(a, d)); /* another device */
	av_frame_free(&a);
	av_frame_free(&b);
	av_frame_free(&c);
	av_frame_free(&d);
}

static void test_any_size(void)
{
	static const int sizes[][2] = {{160, 120}, {176, 144}, {2, 2}, {1920, 1080}};
	static const char long_detail[] = "usb-Some_Vendor_Some_Very_Long_Camera_Name_0123456789-video-index0";

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		AVFrame *f = vw_placeholder_frame(sizes[i][0], sizes[i][1], "NO CAMERA", long_detail, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(f->width, sizes[i][0]);
		CU_ASSERT_EQUAL(f->height, sizes[i][1]);
		/* text wider than the picture is clipped, never written past it (ASan would say) */
		CU_ASSERT_EQUAL(count_all(f, 40) + count_all(f, 235) + count_all(f, 200), sizes[i][0] * sizes[i][1]);
		av_frame_free(&f);
	}
}

VW_TEST_SUITE("placeholder", NULL,
	      {"picture", test_picture},
	      {"changes_with_what_it_says", test_changes_with_what_it_says},
	      {"any_size", test_any_size})
