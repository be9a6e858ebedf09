/* Smoke run of the benchmark harness: each kind of case runs for a few seconds and must produce
 * measurements that make sense (every picture accounted for, latencies positive and bounded, CPU
 * and memory read). Speed is not asserted here: that is what the benchmark prints. */
#include "vw_bench.h"
#include "vw_test.h"

#include <libavutil/log.h>
#include <stdlib.h>
#include <string.h>

static char *work;

static struct vw_bench_env env(double seconds)
{
	return vw_bench_env_default(work, seconds, 1.5);
}

static void print(const struct vw_bench_result *r)
{
	printf("\n    %s: %.2f CPU s/min, peak %.0f MB (%s)", r->c->title, r->win_s > 0 ? r->win_cpu_s / r->win_s * 60 : 0,
	       r->rss_mb, r->error ? r->errmsg : r->procs);
	for (int k = 0; k < r->nrx; k++)
		printf("\n    %s: %d/%d pictures, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d unreadable", r->rx[k].label,
		       r->rx[k].lat.frames, r->rx[k].lat.expected, r->rx[k].lat.p50, r->rx[k].lat.p99, r->rx[k].lat.max,
		       r->rx[k].lat.unreadable);
	printf("\n");
}

/* What every measured stream must show: all pictures of the window, each with a plausible latency. */
static void check_rx(const struct vw_bench_rx *rx, double max_ms)
{
	CU_ASSERT(rx->lat.expected >= 25 * 2); /* at least two seconds of window at 25 fps */
	CU_ASSERT(rx->lat.frames >= rx->lat.expected * 9 / 10);
	CU_ASSERT(rx->lat.frames <= rx->lat.expected);
	CU_ASSERT(rx->lat.p50 > 0);
	CU_ASSERT(rx->lat.p50 <= rx->lat.p99);
	CU_ASSERT(rx->lat.p99 <= rx->lat.max);
	CU_ASSERT(rx->lat.max < max_ms);
	CU_ASSERT(rx->bytes > 100000);
}

static void test_percentile_and_camera_log(void)
{
	double v[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
	CU_ASSERT_DOUBLE_EQUAL(vw_bench_percentile(v, 10, 0.5), 5, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(vw_bench_percentile(v, 10, 0.99), 10, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(vw_bench_percentile(v, 10, 0.1), 1, 1e-9);
	CU_ASSERT_DOUBLE_EQUAL(vw_bench_percentile(v, 0, 0.5), 0, 1e-9);

	char path[600];
	struct vw_bench_cam cam;
	snprintf(path, sizeof(path), "%s/camera.log", work);
	const char *log = "open pid=1 device=/dev/video0\n"
			  "streamon pid=1 device=/dev/video0 seq0=0 t0_ns=1000 tpf=1/25 interval_ns=40000000 paced=1 "
			  "format=YUYV size=640x480\n"
			  "streamon pid=1 device=/dev/video0 seq0=77 t0_ns=5000000000 tpf=1001/30000 "
			  "interval_ns=33366666 paced=1 format=YUYV size=1280x720\n";
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(path, log, strlen(log)), 0);
	CU_ASSERT_EQUAL_FATAL(vw_bench_cam_log(path, &cam), 0);
	CU_ASSERT_EQUAL(cam.seq0, 77); /* the last STREAMON counts */
	CU_ASSERT_EQUAL(cam.t0_ns, 5000000000LL);
	CU_ASSERT_EQUAL(cam.tpf_num, 1001);
	CU_ASSERT_EQUAL(cam.tpf_den, 30000);
	CU_ASSERT_EQUAL(cam.width, 1280);
	CU_ASSERT_EQUAL(cam.height, 720);
	snprintf(path, sizeof(path), "%s/missing.log", work);
	CU_ASSERT(vw_bench_cam_log(path, &cam) < 0);
}

/* vw with audio, recorder and 10 destinations, then the report built from two rounds of it. */
static void test_vw_case_and_report(void)
{
	struct vw_bench_env e = env(5);
	struct vw_bench_result r[2], merged;
	const struct vw_bench_case *c = vw_bench_case("vw-av-rec-10");

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(vw_bench_run(&e, c, &r[i]), 0);
		print(&r[i]);
		CU_ASSERT_EQUAL_FATAL(r[i].nrx, 1);
		check_rx(&r[i].rx[0], 1000);
		CU_ASSERT(r[i].win_cpu_s > 0);
		CU_ASSERT(r[i].feed_cpu_s > 0 && r[i].feed_cpu_s < r[i].win_cpu_s);
		CU_ASSERT(r[i].rss_mb > 10);
		CU_ASSERT(strstr(r[i].threads, "enc:live") && strstr(r[i].threads, "net"));
		CU_ASSERT(r[i].shmem_kb > 0); /* the camera's buffers */
	}
	CU_ASSERT_EQUAL_FATAL(vw_bench_merge(r, 2, &merged), 0);
	CU_ASSERT_EQUAL(merged.rounds, 2);
	CU_ASSERT_EQUAL(merged.rx[0].lat.frames, r[0].rx[0].lat.frames + r[1].rx[0].lat.frames);
	CU_ASSERT(merged.rx[0].lat.max >= r[0].rx[0].lat.max && merged.rx[0].lat.max >= r[1].rx[0].lat.max);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	vw_bench_report(f, &merged, 1);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "| vw, video + audio + recorder, 10 destinations: first destination |"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "| latency p50 ≤ 3 ms | not measured |")); /* that is the 1-destination case */
	free(text);
	vw_bench_result_free(&merged);
	for (int i = 0; i < 2; i++)
		vw_bench_result_free(&r[i]);
}

/* The comparison pipeline: ffmpeg's command line POSTing to a relay process that pushes to the
 * receiver, and two ffmpeg processes for two streams (the small one's barcode read scaled). */
static void test_ffmpeg_cases(void)
{
	struct vw_bench_env e = env(5);
	struct vw_bench_result r;

	CU_ASSERT_EQUAL(vw_bench_run(&e, vw_bench_case("ffmpeg-relay-av"), &r), 0);
	print(&r);
	CU_ASSERT_EQUAL_FATAL(r.nrx, 1);
	check_rx(&r.rx[0], 2000);
	CU_ASSERT_TRUE(strstr(r.procs, "ffmpeg") && strstr(r.procs, "relay"));
	vw_bench_result_free(&r);

	CU_ASSERT_EQUAL(vw_bench_run(&e, vw_bench_case("ffmpeg-2s"), &r), 0);
	print(&r);
	CU_ASSERT_EQUAL_FATAL(r.nrx, 2);
	check_rx(&r.rx[0], 2000);
	check_rx(&r.rx[1], 2000);
	vw_bench_result_free(&r);
}

static void test_floor_case(void)
{
	struct vw_bench_env e = env(4);
	struct vw_bench_result r;

	CU_ASSERT_EQUAL(vw_bench_run(&e, vw_bench_case("floor-2s"), &r), 0);
	print(&r);
	CU_ASSERT_EQUAL(r.nrx, 0);
	CU_ASSERT(r.win_cpu_s > 0);
	CU_ASSERT(r.rss_mb > 5);
	vw_bench_result_free(&r);
}

static const struct vw_test_suite suite = {.dir = &work, .keep_failed = true, .av = VW_TEST_AV_ERRORS};

VW_TEST_SUITE("bench", &suite,
	      {"percentile_and_camera_log", test_percentile_and_camera_log},
	      {"vw_case_and_report", test_vw_case_and_report},
	      {"ffmpeg_cases", test_ffmpeg_cases},
	      {"floor_case", test_floor_case})
