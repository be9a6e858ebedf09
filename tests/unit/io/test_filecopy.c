/* The copy of what a destination sends (io/vw_filecopy), with its writer thread and a real file: a
 * disk that fills up (here the file size limit, RLIMIT_FSIZE, which fails writes with EFBIG as a
 * full disk fails them with ENOSPC) pauses the copy with one error line, the file keeps whole
 * messages only, and once there is room again the copy resumes by itself with one line. */
#include "vw_filecopy.h"
#include "vw_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define MSG 1000

static char *dir;

static void add(struct vw_filecopy *fc, int seq)
{
	uint8_t m[MSG];
	memset(m, seq & 0xff, sizeof(m));
	vw_filecopy_add(fc, m, sizeof(m));
}

/* Waits up to ms for the copy's stats to satisfy `done`. */
static bool wait_for(struct vw_filecopy *fc, bool (*done)(const struct vw_filecopy_stats *), int ms,
		     struct vw_filecopy_stats *st)
{
	for (int i = 0; i <= ms / 20; i++) {
		vw_filecopy_get_stats(fc, st);
		if (done(st))
			return true;
		vw_test_sleep_ms(20);
	}
	return false;
}

static bool ten_written(const struct vw_filecopy_stats *st) { return st->bytes == 10 * MSG; }
static bool failed(const struct vw_filecopy_stats *st) { return st->failed; }

static void test_full_disk_pauses_and_resumes(void)
{
	char path[600], logpath[600];
	struct vw_filecopy fc;
	struct vw_filecopy_stats st;
	struct vw_log log;
	struct rlimit old, lim;
	int seq = 0;

	snprintf(path, sizeof(path), "%s/copy.bin", dir);
	snprintf(logpath, sizeof(logpath), "%s/copy.log", dir);
	FILE *lf = fopen(logpath, "w+");
	CU_ASSERT_PTR_NOT_NULL_FATAL(lf);
	CU_ASSERT_EQUAL_FATAL(vw_log_init(&log, VW_LOG_INFO, lf), 0);
	signal(SIGXFSZ, SIG_IGN); /* as vw's main() does: the write fails with EFBIG instead */
	CU_ASSERT_EQUAL_FATAL(vw_filecopy_start(&fc, path, "dest d", &log), 0);

	for (; seq < 10; seq++)
		add(&fc, seq);
	CU_ASSERT_TRUE(wait_for(&fc, ten_written, 5000, &st));

	/* room for two and a half more messages: the third fails part way and is cut back */
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 12 * MSG + MSG / 2;
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (; seq < 15; seq++)
		add(&fc, seq);
	CU_ASSERT_TRUE(wait_for(&fc, failed, 5000, &st));
	vw_test_sleep_ms(300); /* the rest of the batch is drained as lost */
	for (int i = 0; i < 3; i++, seq++) /* while paused: counted, not queued */
		add(&fc, seq);
	vw_filecopy_get_stats(&fc, &st);
	printf("\n    while full: %llu bytes written, %llu lost, error '%s'", (unsigned long long)st.bytes,
	       (unsigned long long)st.lost_bytes, st.error);
	CU_ASSERT_EQUAL(st.bytes, 12 * MSG);
	CU_ASSERT_EQUAL(st.lost_bytes, 6 * MSG);
	CU_ASSERT_PTR_NOT_NULL(strstr(st.error, "File too large"));
	struct stat sb;
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, 12 * MSG); /* the half message is gone */

	/* a retry a while later, still full: no second error line */
	vw_test_sleep_ms((int)(VW_FILECOPY_RETRY_NS / 1000000) + 300);
	for (int i = 0; i < 5; i++, seq++) {
		add(&fc, seq);
		vw_test_sleep_ms(50);
	}
	vw_filecopy_get_stats(&fc, &st);
	CU_ASSERT_TRUE(st.failed);

	/* room again: within a retry period it writes, by itself */
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &old), 0);
	int64_t t0 = vw_test_now_ns();
	bool resumed = false;
	while (!resumed && vw_test_now_ns() - t0 < 2 * VW_FILECOPY_RETRY_NS + VW_NS_PER_SEC) {
		add(&fc, seq++);
		vw_test_sleep_ms(50);
		vw_filecopy_get_stats(&fc, &st);
		resumed = !st.failed && st.bytes > 12 * MSG;
	}
	printf("\n    resumed %.2f s after the room came back", (double)(vw_test_now_ns() - t0) / 1e9);
	CU_ASSERT_TRUE(resumed);
	for (int i = 0; i < 5; i++, seq++)
		add(&fc, seq);
	vw_filecopy_stop(&fc);
	vw_filecopy_get_stats(&fc, &st);
	CU_ASSERT_FALSE(st.failed); /* stopped: no error left standing */

	/* the file: whole messages only, each one byte repeated, in the order sent */
	uint8_t *data = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(path, &data, &len), 0);
	CU_ASSERT_EQUAL(len % MSG, 0);
	bool whole = true, ordered = true;
	for (size_t m = 0; m < len / MSG; m++) {
		for (size_t i = 1; i < MSG; i++)
			whole = whole && data[m * MSG + i] == data[m * MSG];
		if (m)
			ordered = ordered && data[m * MSG] != data[(m - 1) * MSG];
	}
	printf("\n    file: %zu messages, whole %d, in order %d", len / MSG, whole, ordered);
	CU_ASSERT_TRUE(whole);
	CU_ASSERT_TRUE(ordered);
	free(data);

	fflush(lf);
	int stopped = vw_test_count_lines(logpath, "copy to file stopped"),
	    resumed_lines = vw_test_count_lines(logpath, "copy to file resumed");
	printf("\n    log: %d stopped, %d resumed", stopped, resumed_lines);
	CU_ASSERT_EQUAL(stopped, 1);
	CU_ASSERT_EQUAL(resumed_lines, 1);
	vw_log_destroy(&log);
	fclose(lf);
}

static int setup(void)
{
	return dir ? 0 : -1;
}

static const struct vw_test_suite suite = {.dir = &dir, .setup = setup};

VW_TEST_SUITE("filecopy", &suite, {"full_disk_pauses_and_resumes", test_full_disk_pauses_and_resumes})
