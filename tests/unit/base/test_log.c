/* Tests of vw_log: one line per event with level and module, threshold, journald priority
 * prefixes, and the log-once gate. */
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

static void test_gate_logs_changes_only(void)
{
	struct vw_log_gate g = {0};
	int logged = 0;

	for (int i = 0; i < 1000; i++)
		logged += vw_log_gate_update(&g, -ECONNREFUSED);
	CU_ASSERT_EQUAL(logged, 1);
	CU_ASSERT_EQUAL(g.repeats, 999);
	CU_ASSERT_TRUE(vw_log_gate_update(&g, -ETIMEDOUT)); /* a different error is news */
	CU_ASSERT_EQUAL(g.repeats, 0);
	CU_ASSERT_TRUE(vw_log_gate_update(&g, 0));  /* recovery is news */
	CU_ASSERT_FALSE(vw_log_gate_update(&g, 0)); /* staying healthy is not */
	CU_ASSERT_EQUAL(g.repeats, 0);
}

int main(int argc, char **argv)
{
	static const struct vw_test tests[] = {
		{"threshold_and_format", test_threshold_and_format},
		{"long_message_is_one_line", test_long_message_is_one_line},
		{"journal_prefix", test_journal_prefix},
		{"level_parse", test_level_parse},
		{"gate_logs_changes_only", test_gate_logs_changes_only},
		{NULL, NULL},
	};
	return vw_test_main(argc, argv, "log", tests);
}
