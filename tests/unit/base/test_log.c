/* Tests of vw_log: one line per event with level and module, threshold, journald priority
 * prefixes, and the gate (once per condition or per window, with the count of held-back lines). */
#include "vw_log.h"
#include "vw_test.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static char *capture(enum vw_log_level threshold, void (*emit)(struct vw_log *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct vw_log log;

	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_EQUAL_FATAL(vw_log_init(&log, threshold, f), 0);
	emit(&log);
	vw_log_destroy(&log);
	fclose(f);
	return buf;
}

static void emit_mixed(struct vw_log *log)
{
	vw_err(log, "camera", "open %s: %s", "/dev/video0", strerror(ENOENT));
	vw_warn(log, "relay", "multi\nline\rmessage");
	vw_info(log, "main", "ready");
	vw_debug(log, "hub", "chunk %d", 7);
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_threshold_and_format(void)
{
	char *out = capture(VW_LOG_INFO, emit_mixed);
	CU_ASSERT_EQUAL(count_lines(out), 3); /* debug suppressed; the embedded newline did not split */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "error camera: open /dev/video0: No such file or directory\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "warn  relay: multi line message\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "info  main: ready\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "chunk 7"));
	CU_ASSERT_EQUAL(out[4], '-'); /* starts with an ISO 8601 UTC timestamp */
	free(out);

	out = capture(VW_LOG_ERROR, emit_mixed);
	CU_ASSERT_EQUAL(count_lines(out), 1);
	free(out);
	out = capture(VW_LOG_DEBUG, emit_mixed);
	CU_ASSERT_EQUAL(count_lines(out), 4);
	free(out);
	vw_err(NULL, "x", "dropped"); /* a NULL logger is allowed and silent */
}

static void emit_long(struct vw_log *log)
{
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	vw_info(log, "big", "%s", big);
}

static void test_long_message_is_one_line(void)
{
	char *out = capture(VW_LOG_INFO, emit_long);
	CU_ASSERT_EQUAL(count_lines(out), 1);
	CU_ASSERT(strlen(out) < 1100);
	CU_ASSERT_EQUAL(out[strlen(out) - 1], '\n');
	free(out);
}

static void test_journal_prefix(void)
{
	struct vw_log log;
	char *buf = NULL;
	size_t len = 0;

	/* journald is detected only for stderr; emulate by setting the flag after init */
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_EQUAL_FATAL(vw_log_init(&log, VW_LOG_DEBUG, f), 0);
	log.journal = true;
	vw_err(&log, "rec", "disk full");
	vw_debug(&log, "rec", "detail");
	vw_log_destroy(&log);
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "<3>rec: disk full\n<7>rec: detail\n");
	free(buf);
}

static void test_level_parse(void)
{
	enum vw_log_level l;
	CU_ASSERT_EQUAL(vw_log_level_parse("DEBUG", &l), 0);
	CU_ASSERT_EQUAL(l, VW_LOG_DEBUG);
	CU_ASSERT_EQUAL(vw_log_level_parse("warning", &l), 0);
	CU_ASSERT_EQUAL(l, VW_LOG_WARN);
	CU_ASSERT_EQUAL(vw_log_level_parse("error", &l), 0);
	CU_ASSERT_EQUAL(l, VW_LOG_ERROR);
	CU_ASSERT_EQUAL(vw_log_level_parse("verbose", &l), -EINVAL);
	CU_ASSERT_EQUAL(vw_log_level_parse(NULL, &l), -EINVAL);
	CU_ASSERT_STRING_EQUAL(vw_log_level_name(VW_LOG_INFO), "info");
}

#define SEC 1000000000LL

/* A relay refusing for an hour: one line, then nothing until the reason changes. */
static void test_gate_once_per_condition(void)
{
	struct vw_log_gate g = {0};
	uint64_t refused = vw_log_key("cannot connect: Connection refused");
	int logged = 0;

	for (int i = 0; i < 1000; i++)
		logged += vw_log_gate_pass(&g, refused, i * SEC) >= 0;
	CU_ASSERT_EQUAL(logged, 1);
	CU_ASSERT_EQUAL(g.suppressed, 999);
	/* a different reason is news, and says how many of the last one were held back */
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, vw_log_key("cannot connect: timed out"), 1000 * SEC), 999);
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, vw_log_key("cannot connect: timed out"), 1001 * SEC), -1);
	/* going back to the first reason is news again */
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, refused, 1002 * SEC), 1);
	CU_ASSERT_NOT_EQUAL(vw_log_key("a"), vw_log_key("b"));
	CU_ASSERT_EQUAL(vw_log_key("same text"), vw_log_key("same text"));
}

/* A condition that ends reports its recovery once, and only after it was logged. */
static void test_gate_clear_reports_recovery_once(void)
{
	struct vw_log_gate g = {0};

	CU_ASSERT_EQUAL(vw_log_gate_clear(&g), -1); /* healthy from the start: no recovery line */
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 5, 0), 0);
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 5, 1), -1);
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 5, 2), -1);
	CU_ASSERT_EQUAL(vw_log_gate_clear(&g), 2); /* recovered, after two held-back repeats */
	CU_ASSERT_EQUAL(vw_log_gate_clear(&g), -1); /* staying healthy is not news */
	/* the same condition coming back after the recovery is logged again, with nothing held back */
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 5, 3), 0);
}

/* With a window, a condition that keeps repeating is logged at most once per window, each line
 * saying how many were held back since the one before. */
static void test_gate_window(void)
{
	struct vw_log_gate g = {.window_ns = 10 * SEC};
	long got[100];
	int logged = 0;

	for (int i = 0; i < 100; i++) { /* one every 250 ms for 25 s */
		got[i] = vw_log_gate_pass(&g, 1, i * SEC / 4);
		logged += got[i] >= 0;
	}
	CU_ASSERT_EQUAL(logged, 3); /* at 0, 10 and 20 s */
	CU_ASSERT_EQUAL(got[0], 0);
	CU_ASSERT_EQUAL(got[40], 39);
	CU_ASSERT_EQUAL(got[80], 39);
	CU_ASSERT_EQUAL(got[79], -1);
	CU_ASSERT_EQUAL(g.suppressed, 19); /* 81..99: told by the next line that passes */
	/* after a quiet window, the next repeat passes at once */
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 1, 60 * SEC), 19);
}

/* A window with a burst: a few lines of one incident come through whole, a flood does not. */
static void test_gate_burst(void)
{
	struct vw_log_gate g = {.window_ns = 10 * SEC, .burst = 3};
	int logged = 0;

	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 7, i * SEC / 10), 0);
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 7, 3 * SEC / 10), -1);
	for (int i = 4; i < 1000; i++) /* a flood: 10 lines a second for 100 s */
		logged += vw_log_gate_pass(&g, 7, i * SEC / 10) >= 0;
	CU_ASSERT_EQUAL(logged, 3 * 9); /* windows beginning at 10, 20 .. 90 s: three lines each */
	CU_ASSERT_EQUAL(vw_log_gate_pass(&g, 7, 100 * SEC), 97); /* 90.3 .. 99.9 s */
}

static struct vw_log_gate flood_gate;

static void emit_flood(struct vw_log *log)
{
	flood_gate = (struct vw_log_gate){.window_ns = 10 * SEC};
	for (int i = 0; i < 50; i++) /* 50 refusals within 5 s, then one more after the window */
		vw_log_gated(log, &flood_gate, 1, i * SEC / 10, VW_LOG_WARN, "ingest", "refused %d", i);
	vw_log_gated(log, &flood_gate, 1, 11 * SEC, VW_LOG_WARN, "ingest", "refused %d", 50);
	/* below the threshold: counted by the gate all the same, printed by nobody */
	CU_ASSERT_TRUE(vw_log_gated(log, &flood_gate, 2, 12 * SEC, VW_LOG_DEBUG, "ingest", "quiet"));
}

static void test_gated_lines_say_what_was_suppressed(void)
{
	char *out = capture(VW_LOG_INFO, emit_flood);
	CU_ASSERT_EQUAL(count_lines(out), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "warn  ingest: refused 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "warn  ingest: refused 50 (49 similar suppressed)\n"));
	CU_ASSERT_PTR_NULL(strstr(out, "quiet"));
	free(out);
}

VW_TEST_SUITE("log", NULL,
	      {"threshold_and_format", test_threshold_and_format},
	      {"long_message_is_one_line", test_long_message_is_one_line},
	      {"journal_prefix", test_journal_prefix},
	      {"level_parse", test_level_parse},
	      {"gate_once_per_condition", test_gate_once_per_condition},
	      {"gate_clear_reports_recovery_once", test_gate_clear_reports_recovery_once},
	      {"gate_window", test_gate_window},
	      {"gate_burst", test_gate_burst},
	      {"gated_lines_say_what_was_suppressed", test_gated_lines_say_what_was_suppressed})
