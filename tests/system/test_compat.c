/* A drop-in for the Go vw: the real `vw stream` binary with the commands, variables, rules and
 * logins that existing boxes use, against Node websocket relays (tests/relay/relay.js on the ws
 * package) and curl, not vw's own code on the other end. */
#include "vw_test.h"
#include "vw_testrelay.h"
#include "vw_testvw.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

/* Descriptors of `pid` that are timerfds: what the fake camera's descriptor is. */
static int timerfds(pid_t pid)
{
	char dir[64], link[400], target[300];
	struct dirent *e;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t len = readlink(link, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			n += strstr(target, "timerfd") != NULL;
		}
	}
	closedir(d);
	return n;
}

/* `vw stream` with no configuration captures nothing (the Go vw never opened a device; on a lab
 * box another program may use the camera), while plain `vw` is the appliance. */
static void test_stream_opens_no_device(void)
{
	struct vw_testvw v;
	char *body = NULL;

	vw_testvw_init(&v, tmp, "stream");
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, args, NULL), 0);
	vw_test_sleep_ms(500);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"feeds\":[]"));
	CU_ASSERT_EQUAL(timerfds(v.pid), 0); /* the fake camera (preloaded) was never opened */
	free(body);
	body = NULL;
	/* it says once how to listen as the Go vw did */
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "VW_LISTEN=0.0.0.0:"), 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);

	/* plain vw without a configuration file: the built-in camera + microphone */
	vw_testvw_init(&v, tmp, "plain");
	const char *const env[] = {"VW_CONFIG=/nonexistent/vw.conf", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, NULL, env), 0);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"camera\"") && strstr(body, "\"microphone\""));
	free(body);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

static void test_version_command(void)
{
	char path[700];
	uint8_t *out = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/version.txt", tmp);
	const char *const argv[] = {VW_BIN, "version", NULL};
	CU_ASSERT_EQUAL(vw_test_run(argv, NULL, path, 5000), 0);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(path, &out, &len), 0);
	CU_ASSERT_EQUAL(strncmp((char *)out, "vw ", 3), 0);
	free(out);
	/* a stray argument is still a usage error */
	const char *const bad[] = {VW_BIN, "stream", "now", NULL};
	CU_ASSERT_EQUAL(vw_test_run(bad, NULL, path, 5000), 2);
}

/* Waits up to 10 s for /healthcheck on `port`. */
static bool healthy(int port)
{
	for (int i = 0; i < 200; i++) {
		if (vw_test_http(port, "GET", "/healthcheck", NULL, NULL, 0, NULL) == 200)
			return true;
		vw_test_sleep_ms(50);
	}
	return false;
}

/* VW_LOG_LEVEL as the Go vw's unit files set it, and VW_LISTEN. */
static void test_log_level_and_listen(void)
{
	static const struct {
		const char *level;
		bool debug_lines, info_lines, warning;
	} cases[] = {
	    {"trace", true, true, false},  {"PANIC", false, false, false}, {"fatal", false, false, false},
	    {"Info", false, true, false}, {"bogus", false, true, true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vw_testvw v;
		char level[64], listen[64];
		int port = vw_test_free_port();
		snprintf(level, sizeof(level), "VW_LOG_LEVEL=%s", cases[i].level);
		snprintf(listen, sizeof(listen), "VW_LISTEN=127.0.0.1:%d", port);
		const char *const env[] = {level, listen, "VW_PORT=", NULL};
		const char *const args[] = {"stream", NULL};
		vw_testvw_init(&v, tmp, "level");
		CU_ASSERT_EQUAL_FATAL(vw_testvw_spawn(&v, NULL, args, env), 0);
		CU_ASSERT_TRUE(healthy(port)); /* it started, on the address VW_LISTEN named */
		/* a field vw ignores is a debug line; a start is an info line */
		CU_ASSERT_EQUAL(vw_test_http(port, "POST", "/api/streams", NULL, "{\"stream\":\"s\",\"feeds\":[\"f\"],\"x\":1}",
		                             strlen("{\"stream\":\"s\",\"feeds\":[\"f\"],\"x\":1}"), NULL),
		                200);
		vw_test_sleep_ms(200);
		int debug = vw_test_count_lines(v.log, "ignored unknown fields"), warn = vw_test_count_lines(v.log, "VW_LOG_LEVEL: unknown");
		int info = vw_test_count_lines(v.log, "starting with");
		printf("\n    VW_LOG_LEVEL=%s: %d debug, %d info lines, %d warnings", cases[i].level, debug, info, warn);
		CU_ASSERT_EQUAL(debug > 0, cases[i].debug_lines);
		CU_ASSERT_EQUAL(info > 0, cases[i].info_lines);
		CU_ASSERT_EQUAL(warn, cases[i].warning ? 1 : 0);
		CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	}
	/* a VW_LISTEN that is not ADDRESS:PORT stops vw before it starts anything */
	struct vw_testvw v;
	const char *const env[] = {"VW_LISTEN=everywhere", NULL};
	const char *const args[] = {"stream", NULL};
	vw_testvw_init(&v, tmp, "badlisten");
	CU_ASSERT_EQUAL_FATAL(vw_testvw_spawn(&v, NULL, args, env), 0);
	CU_ASSERT_EQUAL(vw_test_wait(v.pid, 5000, NULL), 2);
	v.pid = 0;
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "VW_LISTEN: 'everywhere' is not ADDRESS:PORT") == 1);
}

/* curl, as the Go vw's scripts drive it; returns the HTTP status curl printed, or -1. */
static int curl_json(int port, const char *method, const char *path, const char *json)
{
	char url[256], out[700], status[16] = "";
	uint8_t *text = NULL;
	size_t len = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	snprintf(out, sizeof(out), "%s/curl.txt", tmp);
	const char *const argv[] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method,
	                            "-H", "Content-Type: application/json", "-d", json, url, NULL};
	/* curl is no program of ours: not with the sanitizer runtime or the fake camera preloaded
	 * (under both it hangs at start) */
	const char *const env[] = {"LD_PRELOAD=", NULL};
	if (vw_test_run(argv, env, out, 10000) != 0 || vw_test_read_file(out, &text, &len) < 0)
		return -1;
	snprintf(status, sizeof(status), "%.*s", (int)(len < 15 ? len : 15), (char *)text);
	free(text);
	return atoi(status);
}

/* Bytes the relay has recorded, waiting up to timeout_ms for at least `want`. */
static long relay_bytes(const struct vw_testrelay *r, long want, int timeout_ms)
{
	struct stat st = {0};
	for (int t = 0; t <= timeout_ms; t += 100) {
		if (stat(r->out, &st) == 0 && st.st_size >= want)
			break;
		vw_test_sleep_ms(100);
	}
	return stat(r->out, &st) == 0 ? (long)st.st_size : 0;
}

/* A token-only rule, posted with curl right after `vw stream` starts (as practable's start
 * scripts do), logs in as the Go vw and its relays expect: the token as the first message on a
 * websocket (crossbar), the access POST and the returned URI on http(s) (practable). */
static void test_token_only_logins(void)
{
	struct vw_testrelay crossbar, practable;
	struct vw_testvw v;
	char rule[600];
	const char *const cb_args[] = {"--token", "crossbar-secret-1", NULL};
	const char *const pr_args[] = {"--token", "practable-secret-2", NULL};

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&crossbar, tmp, "crossbar", "first-message", cb_args), 0);
	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&practable, tmp, "practable", "access", pr_args), 0);
	vw_testvw_init(&v, tmp, "logins");
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(
	    vw_testvw_start(&v, "[feed pattern]\ntype = testsrc\nsize = 320x240\n[stream live]\nfeeds = pattern\n", args, NULL),
	    0);
	snprintf(rule, sizeof(rule),
	         "{\"id\":\"cb\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:%d/in/live\",\"token\":\"crossbar-secret-1\"}",
	         crossbar.port);
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/destinations", rule), 200);
	snprintf(rule, sizeof(rule),
	         "{\"id\":\"pr\",\"stream\":\"live\",\"destination\":\"http://127.0.0.1:%d/access\",\"token\":\"practable-secret-2\"}",
	         practable.port);
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/destinations", rule), 200);
	long cb = relay_bytes(&crossbar, 100000, 8000), pr = relay_bytes(&practable, 100000, 8000);
	printf("\n    crossbar-style relay: %ld bytes, %d authorised; practable-style: %ld bytes, %d access granted", cb,
	       vw_testrelay_count(&crossbar, "\"authorised\""), pr, vw_testrelay_count(&practable, "\"access-granted\""));
	CU_ASSERT(cb >= 100000);
	CU_ASSERT(pr >= 100000);
	CU_ASSERT(vw_testrelay_count(&crossbar, "\"authorised\"") >= 1);
	CU_ASSERT_EQUAL(vw_testrelay_count(&crossbar, "\"refused\""), 0);
	CU_ASSERT(vw_testrelay_count(&practable, "\"access-granted\"") >= 1);
	CU_ASSERT_EQUAL(vw_testrelay_count(&practable, "\"access-refused\"") + vw_testrelay_count(&practable, "bad-code"), 0);
	/* which login each uses is in the log, the tokens are not */
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "login: first-message"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "login: access"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "secret-"), 0);
	/* the Go vw's clients: any case, unknown fields ignored; a deletion of what is gone: 200 */
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/streams", "{\"Stream\":\"copy\",\"Feeds\":[\"pattern\"],\"note\":1}"), 200);
	CU_ASSERT_EQUAL(curl_json(v.port, "DELETE", "/api/destinations/never-there", "{}"), 200);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	vw_testrelay_stop(&crossbar);
	vw_testrelay_stop(&practable);
}

/* A state file vw cannot write (vw run as a user, as the Go vw was installed; here: its directory
 * is a file) must not turn every API change into a 500: the rules run from memory, the log says
 * so once, /api/status says why, and writing resumes when it can. */
static void test_state_not_writable(void)
{
	struct vw_testvw v;
	char blocker[600], *body = NULL;

	snprintf(blocker, sizeof(blocker), "%s/not-a-dir", tmp);
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(blocker, "x", 1), 0);
	vw_testvw_init(&v, tmp, "unwritable");
	snprintf(v.state, sizeof(v.state), "%s/state.json", blocker);
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, args, NULL), 0);
	for (int i = 0; i < 3; i++) {
		char rule[200];
		snprintf(rule, sizeof(rule), "{\"stream\":\"s%d\",\"feeds\":[\"in%d\"]}", i, i);
		CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/streams", rule), 200);
	}
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/all", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"s2\""));
	free(body);
	body = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"persisted\":\"not persisted: cannot create"));
	free(body);
	body = NULL;
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "not persisted"), 1);
	/* the directory appears: the next change is written, with every rule so far */
	unlink(blocker);
	CU_ASSERT_EQUAL(mkdir(blocker, 0700), 0);
	CU_ASSERT_EQUAL(curl_json(v.port, "DELETE", "/api/streams/s0", "{}"), 200);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "rules persisted again"), 1);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"persisted\":true"));
	free(body);
	uint8_t *saved = NULL;
	size_t len = 0;
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(v.state, &saved, &len), 0);
	CU_ASSERT_TRUE(strstr((char *)saved, "\"s1\"") && strstr((char *)saved, "\"s2\""));
	free(saved);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

int main(int argc, char **argv)
{
	static const struct vw_test tests[] = {
	    {"stream_opens_no_device", test_stream_opens_no_device},
	    {"version_command", test_version_command},
	    {"log_level_and_listen", test_log_level_and_listen},
	    {"token_only_logins", test_token_only_logins},
	    {"state_not_writable", test_state_not_writable},
	    {NULL, NULL},
	};
	return vw_test_main_dir(argc, argv, "compat", tests, &tmp);
}
