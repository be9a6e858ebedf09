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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
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

/* ---- raw ingest: the Go vw's README test plan ---- */

/* One message a relay received: its size and when (the relay's wall clock, ms). */
struct relay_msg {
	long bytes;
	long long t_ms;
};

/* The relay's "message" events so far, in order (at most max); how many. */
static int relay_messages(const struct vw_testrelay *r, struct relay_msg *m, int max)
{
	FILE *f = fopen(r->log, "r");
	char line[512];
	int n = 0;

	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		const char *b = strstr(line, "\"bytes\":"), *t = strstr(line, "\"t\":");
		if (!strstr(line, "\"event\":\"message\"") || !b || !t)
			continue;
		m[n].bytes = atol(b + 8);
		m[n].t_ms = atoll(t + 4);
		n++;
	}
	fclose(f);
	return n;
}

/* Waits up to timeout_ms for the relay to have logged `want` messages; how many it has. */
static int relay_wait_messages(const struct vw_testrelay *r, int want, int timeout_ms)
{
	int n = 0;
	for (int t = 0; t <= timeout_ms; t += 50) {
		if ((n = vw_testrelay_count(r, "\"event\":\"message\"")) >= want)
			break;
		vw_test_sleep_ms(50);
	}
	return n;
}

static long long wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* `len` bytes of seeded noise in a file under tmp; its path in `path`. Never MPEG-TS: the first
 * byte is not 0x47. */
static uint8_t *make_blob(size_t len, unsigned seed, char *path, size_t n)
{
	uint8_t *b = malloc(len ? len : 1);
	unsigned st = seed;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)vw_test_rand(&st, 256);
	if (len && b[0] == 0x47)
		b[0] = 0x48;
	snprintf(path, n, "%s/blob-%u-%zu.bin", tmp, seed, len);
	vw_test_write_file(path, b, len);
	return b;
}

/* curl --data-binary @file to /ts/NAME, as a script of the Go vw's users would; the HTTP status. */
static int curl_post_file(int port, const char *name, const char *file)
{
	char url[256], at[720], out[700], status[16] = "";
	uint8_t *text = NULL;
	size_t len = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ts/%s", port, name);
	snprintf(at, sizeof(at), "@%s", file);
	snprintf(out, sizeof(out), "%s/curl-post.txt", tmp);
	const char *const argv[] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H",
	                            "Content-Type: application/octet-stream", "--data-binary", at, url, NULL};
	const char *const env[] = {"LD_PRELOAD=", NULL};
	if (vw_test_run(argv, env, out, 30000) != 0 || vw_test_read_file(out, &text, &len) < 0)
		return -1;
	snprintf(status, sizeof(status), "%.*s", (int)(len < 15 ? len : 15), (char *)text);
	free(text);
	return atoi(status);
}

/* Whether the relay's file holds exactly want[0..len) from offset `off`. */
static bool relay_has(const struct vw_testrelay *r, size_t off, const uint8_t *want, size_t len)
{
	uint8_t *got = NULL;
	size_t got_len = 0;
	bool same = vw_test_read_file(r->out, &got, &got_len) == 0 && got_len >= off + len &&
	            !memcmp(got + off, want, len);
	free(got);
	return same;
}

static void add_dest(int port, const char *id, const char *stream, int relay_port)
{
	char rule[400];
	snprintf(rule, sizeof(rule), "{\"id\":\"%s\",\"stream\":\"%s\",\"destination\":\"ws://127.0.0.1:%d/in/%s\"}", id,
	         stream, relay_port, id);
	CU_ASSERT_EQUAL(curl_json(port, "POST", "/api/destinations", rule), 200);
}

/* Waits up to 5 s for `n` relay connections to be up. */
static bool relay_connected(const struct vw_testrelay *r, int n)
{
	for (int i = 0; i < 100; i++) {
		if (vw_testrelay_count(r, "\"connection\"") >= n)
			return true;
		vw_test_sleep_ms(50);
	}
	return false;
}

/* Any bytes POSTed to /ts/NAME reach the relays of NAME byte for byte, one message per POST, in
 * order, however large: the Go README's blob, two-server, maximum-size and order tests. */
static void test_raw_blobs(void)
{
	struct vw_testrelay one, two;
	struct vw_testvw v;
	struct relay_msg msgs[256];
	char path[700];
	size_t off1 = 0;

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&one, tmp, "raw-one", "plain", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&two, tmp, "raw-two", "plain", NULL), 0);
	vw_testvw_init(&v, tmp, "raw");
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, args, NULL), 0);
	/* relay one takes the feed as it is; relay two a stream rule over another feed (practable) */
	add_dest(v.port, "one", "blob1", one.port);
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/streams", "{\"stream\":\"s2\",\"feeds\":[\"blob2\"]}"), 200);
	add_dest(v.port, "two", "s2", two.port);
	CU_ASSERT_TRUE_FATAL(relay_connected(&one, 1) && relay_connected(&two, 1));

	/* a blob arrives byte-identical, as one message */
	uint8_t *a = make_blob(100000, 1, path, sizeof(path));
	CU_ASSERT_EQUAL(curl_post_file(v.port, "blob1", path), 200);
	CU_ASSERT_EQUAL(relay_wait_messages(&one, 1, 5000), 1);
	CU_ASSERT_TRUE(relay_has(&one, 0, a, 100000));
	off1 += 100000;

	/* two different blobs to two servers: each gets its own */
	uint8_t *b = make_blob(70000, 2, path, sizeof(path));
	CU_ASSERT_EQUAL(curl_post_file(v.port, "blob2", path), 200);
	uint8_t *c = make_blob(90000, 3, path, sizeof(path));
	CU_ASSERT_EQUAL(curl_post_file(v.port, "blob1", path), 200);
	CU_ASSERT_EQUAL(relay_wait_messages(&two, 1, 5000), 1);
	CU_ASSERT_EQUAL(relay_wait_messages(&one, 2, 5000), 2);
	CU_ASSERT_TRUE(relay_has(&two, 0, b, 70000));
	CU_ASSERT_TRUE(relay_has(&one, off1, c, 90000));
	off1 += 90000;
	free(a);
	free(b);
	free(c);

	/* the Go vw's maximum (1,024,000 bytes) and three times it: nothing cut off; a message
	 * holds at most VW_INGEST_RAW_MSG_MAX (1 MiB), the rest follows in the next */
	static const size_t big[] = {1024000, 3072000};
	for (size_t i = 0; i < 2; i++) {
		int before = relay_wait_messages(&one, 0, 0);
		uint8_t *m = make_blob(big[i], 10 + (unsigned)i, path, sizeof(path));
		CU_ASSERT_EQUAL(curl_post_file(v.port, "blob1", path), 200);
		for (int t = 0; t < 100 && !relay_has(&one, off1, m, big[i]); t++)
			vw_test_sleep_ms(100);
		CU_ASSERT_TRUE(relay_has(&one, off1, m, big[i]));
		int n = relay_messages(&one, msgs, 256);
		long sum = 0, largest = 0;
		for (int k = before; k < n; k++) {
			sum += msgs[k].bytes;
			largest = msgs[k].bytes > largest ? msgs[k].bytes : largest;
		}
		printf("\n    %zu-byte blob: %d message(s), largest %ld bytes, all %ld bytes arrived", big[i], n - before,
		       largest, sum);
		CU_ASSERT_EQUAL(sum, (long)big[i]);
		CU_ASSERT_TRUE(largest <= 1048576);
		CU_ASSERT_EQUAL(n - before, (int)((big[i] + 1048575) / 1048576));
		off1 += big[i];
		free(m);
	}

	/* blobs of non-monotonic sizes in sequence: in order, each its own message(s), never merged */
	static const size_t sizes[] = {1000, 50000, 10, 300000, 4096, 1, 65000, 200, 2000000, 7};
	int before = relay_wait_messages(&one, 0, 0);
	size_t first = off1;
	uint8_t *all = malloc(2500000);
	size_t all_len = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *m = make_blob(sizes[i], 100 + (unsigned)i, path, sizeof(path));
		CU_ASSERT_EQUAL(curl_post_file(v.port, "blob1", path), 200);
		memcpy(all + all_len, m, sizes[i]);
		all_len += sizes[i];
		free(m);
	}
	for (int t = 0; t < 100 && !relay_has(&one, first, all, all_len); t++)
		vw_test_sleep_ms(100);
	CU_ASSERT_TRUE(relay_has(&one, first, all, all_len));
	free(all);
	int n = relay_messages(&one, msgs, 256), k = before;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		long got = 0;
		int parts = 0;
		while (k < n && got < (long)sizes[i]) {
			got += msgs[k++].bytes;
			parts++;
		}
		printf("\n    blob %zu: %zu bytes in %d message(s)", i, sizes[i], parts);
		CU_ASSERT_EQUAL(got, (long)sizes[i]); /* message boundaries are blob boundaries */
		CU_ASSERT_EQUAL(parts, (int)((sizes[i] + 1048575) / 1048576)); /* one per MiB begun */
	}
	CU_ASSERT_EQUAL(k, n);

	/* a body of unknown length (chunked, as a program streaming data sends it): a message per
	 * write burst, cut after 1 ms of quiet as the Go vw cut them */
	before = relay_wait_messages(&one, 0, 0);
	int fd = vw_test_connect(v.port, 5);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	const char head[] = "POST /ts/blob1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
	CU_ASSERT_EQUAL(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(head) - 1);
	static const size_t bursts[] = {3000, 17, 40000};
	uint8_t *chunk = malloc(50000);
	for (size_t i = 0; i < 3; i++) {
		/* one burst: two chunks in one write */
		int h = sprintf((char *)chunk, "%zx\r\n", bursts[i] - 5);
		memset(chunk + h, 'a' + (int)i, bursts[i] - 5);
		h += (int)bursts[i] - 5;
		h += sprintf((char *)chunk + h, "\r\n5\r\n%c%c%c%c%c\r\n", 'z', 'z', 'z', 'z', 'z');
		CU_ASSERT_EQUAL(send(fd, chunk, (size_t)h, MSG_NOSIGNAL), h);
		vw_test_sleep_ms(100);
	}
	CU_ASSERT_EQUAL(send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL), 5);
	char resp[512];
	bool closed = false;
	CU_ASSERT_EQUAL(vw_test_read_response(fd, resp, sizeof(resp), &closed), 200);
	close(fd);
	free(chunk);
	CU_ASSERT_EQUAL(relay_wait_messages(&one, before + 3, 5000), before + 3);
	n = relay_messages(&one, msgs, 256);
	for (int i = 0; i < 3 && before + i < n; i++) {
		printf("\n    chunked burst %d: %zu bytes written, a message of %ld", i, bursts[i], msgs[before + i].bytes);
		CU_ASSERT_EQUAL(msgs[before + i].bytes, (long)bursts[i]);
	}
	CU_ASSERT_EQUAL(n, before + 3);

	/* the feed is known as raw data; viewers are not served it */
	char *body = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"detected\":\"raw\"") && strstr(body, "not served: raw data"));
	free(body);
	/* a JSMpeg viewer of it is told so at once, not left waiting: a close frame with the reason */
	int ws = -1;
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/blob1", NULL, &ws, NULL, 0), 101);
	if (ws >= 0) {
		uint8_t frame[512];
		size_t got = 0;
		struct timeval tv = {5, 0};
		setsockopt(ws, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		for (ssize_t r; got < sizeof(frame) && (r = recv(ws, frame + got, sizeof(frame) - got, 0)) > 0;)
			got += (size_t)r;
		close(ws);
		const char want[] = "blob1 carries raw data, not MPEG-TS: /ws/blob1 relays it";
		printf("\n    /live/blob1: %zu bytes, first 0x%02x", got, got ? frame[0] : 0);
		CU_ASSERT_TRUE(got > 4 && frame[0] == 0x88 && memmem(frame, got, want, sizeof(want) - 1));
	}
	CU_ASSERT_EQUAL(vw_testrelay_count(&one, "\"connection\""), 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	vw_testrelay_stop(&one);
	vw_testrelay_stop(&two);
}

/* Arrival times at the relay, from the moment a POST starts, with and without the stream being
 * recorded; the recording holds what was sent. */
static void test_raw_latency_and_recording(void)
{
	struct vw_testrelay plain, rec;
	struct vw_testvw v;
	char conf[2000], recdir[700], path[700];
	enum { N = 30, SIZE = 20000 };

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&plain, tmp, "lat-plain", "plain", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&rec, tmp, "lat-rec", "plain", NULL), 0);
	snprintf(recdir, sizeof(recdir), "%s/recordings", tmp);
	snprintf(conf, sizeof(conf),
	         "[feed plain]\ntype = ingest\n[feed recorded]\ntype = ingest\nformat = raw\n"
	         "[recorder r]\nstream = recorded\ndir = %s\n"
	         "[destination p]\nstream = plain\nurl = ws://127.0.0.1:%d/in/p\n"
	         "[destination q]\nstream = recorded\nurl = ws://127.0.0.1:%d/in/q\n",
	         recdir, plain.port, rec.port);
	vw_testvw_init(&v, tmp, "latency");
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, conf, args, NULL), 0);
	CU_ASSERT_TRUE_FATAL(relay_connected(&plain, 1) && relay_connected(&rec, 1));
	uint8_t *blob = make_blob(SIZE, 7, path, sizeof(path));
	long long sent[2][N];
	for (int i = 0; i < N; i++)
		for (int w = 0; w < 2; w++) {
			blob[1] = (uint8_t)i; /* each POST its own bytes */
			sent[w][i] = wall_ms();
			CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", w ? "/ts/recorded" : "/ts/plain",
			                             "Content-Type: application/octet-stream\r\n", (const char *)blob, SIZE, NULL),
			                200);
			vw_test_sleep_ms(20);
		}
	const struct vw_testrelay *relays[2] = {&plain, &rec};
	for (int w = 0; w < 2; w++) {
		struct relay_msg m[N + 8];
		CU_ASSERT_EQUAL(relay_wait_messages(relays[w], N, 5000), N);
		int n = relay_messages(relays[w], m, N + 8);
		long long lat[N], worst = 0, sum = 0;
		for (int i = 0; i < N && i < n; i++) {
			lat[i] = m[i].t_ms - sent[w][i];
			worst = lat[i] > worst ? lat[i] : worst;
			sum += lat[i];
			CU_ASSERT_EQUAL(m[i].bytes, SIZE);
		}
		for (int i = 1; i < N; i++) /* a sort of 30 */
			for (int k = i; k > 0 && lat[k - 1] > lat[k]; k--) {
				long long x = lat[k];
				lat[k] = lat[k - 1];
				lat[k - 1] = x;
			}
		printf("\n    POST -> relay, %s recording: %d messages of %d bytes, median %lld ms, mean %.1f ms, max %lld ms",
		       w ? "with" : "without", n, SIZE, lat[N / 2], (double)sum / N, worst);
		CU_ASSERT_TRUE(worst < 500); /* generous: the 2-core machine is shared */
	}
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	/* the recording: every POST's bytes, in order */
	DIR *d = opendir(recdir);
	struct dirent *e;
	size_t total = 0;
	int files = 0;
	uint8_t *got = NULL;
	size_t got_len = 0;
	char seg[1500];
	while (d && (e = readdir(d)))
		if (strstr(e->d_name, "r-") == e->d_name) {
			snprintf(seg, sizeof(seg), "%s/%s", recdir, e->d_name);
			files++;
			if (vw_test_read_file(seg, &got, &got_len) == 0) {
				total += got_len;
				if (files == 1 && got_len >= SIZE) {
					blob[1] = 0;
					CU_ASSERT_EQUAL(memcmp(got, blob, SIZE), 0);
				}
				free(got);
				got = NULL;
			}
		}
	if (d)
		closedir(d);
	printf("\n    recording: %d segment(s), %zu bytes (sent %d)", files, total, N * SIZE);
	CU_ASSERT_EQUAL(files, 1);
	CU_ASSERT_EQUAL(total, (size_t)N * SIZE);
	free(blob);
	vw_testrelay_stop(&plain);
	vw_testrelay_stop(&rec);
}

/* An MPEG-TS file that ffmpeg pushes through one and through two relays: each relay has the file
 * from a keyframe on, unchanged (vw keeps the bytes; it only starts a relay at a keyframe). */
static void test_ffmpeg_ts_two_relays(void)
{
	struct vw_testrelay r[2];
	struct vw_testvw v;
	char ref[700], url[128], flog[700];
	uint8_t *want = NULL;
	size_t want_len = 0;

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&r[0], tmp, "ts-one", "plain", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&r[1], tmp, "ts-two", "plain", NULL), 0);
	vw_testvw_init(&v, tmp, "tsfile");
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, args, NULL), 0);
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/streams", "{\"stream\":\"video\",\"feeds\":[\"video0\"]}"), 200);
	add_dest(v.port, "a", "video", r[0].port);
	add_dest(v.port, "b", "video", r[1].port);
	CU_ASSERT_TRUE_FATAL(relay_connected(&r[0], 1) && relay_connected(&r[1], 1));
	snprintf(ref, sizeof(ref), "%s/ref.ts", tmp);
	snprintf(flog, sizeof(flog), "%s/ffmpeg-ts.log", tmp);
	/* 4 s of the clip, made by ffmpeg into a file: the reference */
	const char *mk[] = {"ffmpeg", "-nostdin", "-y", "-t", "4", "-i", VW_TEST_MEDIA("sample-jsmpeg.ts"), "-c", "copy", "-f",
	                    "mpegts", ref, NULL};
	const char *const env[] = {"LD_PRELOAD=", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_test_run(mk, env, flog, 60000), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ts/video0", v.port);
	const char *push[] = {"ffmpeg", "-nostdin", "-re", "-i", ref, "-c", "copy", "-f", "mpegts", url, NULL};
	CU_ASSERT_EQUAL(vw_test_run(push, env, flog, 60000), 0);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(ref, &want, &want_len), 0);
	for (int i = 0; i < 2; i++) {
		uint8_t *got = NULL;
		size_t got_len = 0;
		relay_bytes(&r[i], (long)want_len, 3000);
		CU_ASSERT_EQUAL_FATAL(vw_test_read_file(r[i].out, &got, &got_len), 0);
		bool found = false;
		size_t off = 0;
		for (; off + got_len <= want_len && !found; off += 188)
			found = got_len && !memcmp(want + off, got, got_len) && off + got_len == want_len;
		printf("\n    relay %d: %zu of the file's %zu bytes, %s", i + 1, got_len, want_len,
		       found ? "the file's tail from a keyframe, unchanged" : "NOT the file's tail");
		CU_ASSERT_TRUE(found);
		CU_ASSERT_TRUE(got_len > want_len / 2);
		CU_ASSERT_EQUAL(got_len % 188, 0);
		free(got);
	}
	free(want);
	char *body = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\"detected\":\"ts\""));
	free(body);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	vw_testrelay_stop(&r[0]);
	vw_testrelay_stop(&r[1]);
}

/* The Go vw's way to switch (and mute) an ingest stream: the rule posted again with other feeds.
 * The relay keeps its one connection and gets the new feed's data after the change. */
static void test_feed_change_keeps_connection(void)
{
	struct vw_testrelay r;
	struct vw_testvw v;
	char path[700];

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&r, tmp, "switch", "plain", NULL), 0);
	vw_testvw_init(&v, tmp, "switch");
	const char *const args[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, args, NULL), 0);
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/streams", "{\"stream\":\"lab\",\"feeds\":[\"cam\",\"mic\"]}"), 200);
	add_dest(v.port, "out", "lab", r.port);
	CU_ASSERT_TRUE_FATAL(relay_connected(&r, 1));
	uint8_t *a = make_blob(30000, 21, path, sizeof(path));
	CU_ASSERT_EQUAL(curl_post_file(v.port, "mic", path), 200);
	CU_ASSERT_EQUAL(relay_wait_messages(&r, 1, 5000), 1);
	/* muted: the stream without its audio feed; then another camera */
	CU_ASSERT_EQUAL(curl_json(v.port, "POST", "/api/streams", "{\"stream\":\"lab\",\"feeds\":[\"cam\"]}"), 200);
	uint8_t *b = make_blob(40000, 22, path, sizeof(path));
	CU_ASSERT_EQUAL(curl_post_file(v.port, "mic", path), 200); /* no longer in the stream */
	CU_ASSERT_EQUAL(curl_json(v.port, "PUT", "/api/streams", "{\"stream\":\"lab\",\"feeds\":[\"cam2\"]}"), 200);
	uint8_t *c = make_blob(50000, 23, path, sizeof(path));
	CU_ASSERT_EQUAL(curl_post_file(v.port, "cam2", path), 200);
	CU_ASSERT_EQUAL(relay_wait_messages(&r, 2, 5000), 2);
	vw_test_sleep_ms(300);
	CU_ASSERT_TRUE(relay_has(&r, 0, a, 30000));
	CU_ASSERT_TRUE(relay_has(&r, 30000, c, 50000));
	CU_ASSERT_EQUAL(relay_bytes(&r, 0, 0), 80000);
	printf("\n    relay connections across two feed changes: %d", vw_testrelay_count(&r, "\"connection\""));
	CU_ASSERT_EQUAL(vw_testrelay_count(&r, "\"connection\""), 1);
	CU_ASSERT_EQUAL(vw_testrelay_count(&r, "\"close\""), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "its connections stay"), 2);
	free(a);
	free(b);
	free(c);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	vw_testrelay_stop(&r);
}

/* POSTs a destination rule with curl; the HTTP status, and the reply in `reply` (malloc'd). */
static int post_dest(int port, const char *rule, char **reply)
{
	*reply = NULL;
	return vw_test_http(port, "POST", "/api/destinations", NULL, rule, strlen(rule), reply);
}

/* practable's destination field "file": a copy of what the destination sends, written only inside
 * [control] dest_file_dir; anything else is refused with 400 and changes nothing. */
static void test_dest_file(void)
{
	struct vw_testrelay r;
	struct vw_testvw v;
	char rule[4000], files[700], link[800], conf[1000], path[800], copy[800], *reply = NULL, *all = NULL;
	const char *const args[] = {"stream", NULL};

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&r, tmp, "filecopy", "plain", NULL), 0);
	/* without dest_file_dir: refused, saying how to enable it */
	vw_testvw_init(&v, tmp, "nofiles");
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, args, NULL), 0);
	snprintf(rule, sizeof(rule), "{\"id\":\"d\",\"stream\":\"feed\",\"destination\":\"ws://127.0.0.1:%d/in/d\",\"file\":\"copy.bin\"}",
	         r.port);
	CU_ASSERT_EQUAL(post_dest(v.port, rule, &reply), 400);
	CU_ASSERT_TRUE(reply && strstr(reply, "[control] dest_file_dir"));
	printf("\n    without dest_file_dir: %s", reply ? reply : "");
	free(reply);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/all", NULL, NULL, 0, &all), 200);
	CU_ASSERT_TRUE(all && !strcmp(all, "{}"));
	free(all);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);

	/* with it: inside only */
	snprintf(files, sizeof(files), "%s/files", tmp);
	CU_ASSERT_EQUAL(mkdir(files, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub", files);
	CU_ASSERT_EQUAL(mkdir(path, 0700), 0);
	snprintf(link, sizeof(link), "%s/out", files);
	CU_ASSERT_EQUAL(symlink(tmp, link), 0); /* a way out */
	snprintf(link, sizeof(link), "%s/sub/trap.bin", files);
	CU_ASSERT_EQUAL(symlink("/etc/hostname", link), 0);
	snprintf(conf, sizeof(conf), "[control]\ndest_file_dir = %s\n", files);
	vw_testvw_init(&v, tmp, "files");
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, conf, args, NULL), 0);
	char bad[4][800];
	snprintf(bad[0], sizeof(bad[0]), "../escape.bin");
	snprintf(bad[1], sizeof(bad[1]), "/etc/vw-copy.bin");
	snprintf(bad[2], sizeof(bad[2]), "out/escape.bin");
	snprintf(bad[3], sizeof(bad[3]), "sub/trap.bin");
	for (int i = 0; i < 4; i++) {
		snprintf(rule, sizeof(rule), "{\"id\":\"d\",\"stream\":\"feed\",\"destination\":\"ws://127.0.0.1:%d/in/d\",\"file\":\"%s\"}",
		         r.port, bad[i]);
		CU_ASSERT_EQUAL(post_dest(v.port, rule, &reply), 400);
		printf("\n    file %s: %s", bad[i], reply ? reply : "");
		free(reply);
	}
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/all", NULL, NULL, 0, &all), 200);
	CU_ASSERT_TRUE(all && !strcmp(all, "{}")); /* nothing changed */
	free(all);
	snprintf(path, sizeof(path), "%s/escape.bin", tmp);
	CU_ASSERT_TRUE(access(path, F_OK) != 0);
	/* a relative path, and an absolute one inside */
	snprintf(rule, sizeof(rule), "{\"id\":\"d\",\"stream\":\"feed\",\"destination\":\"ws://127.0.0.1:%d/in/d\",\"File\":\"copy.bin\"}",
	         r.port);
	CU_ASSERT_EQUAL(post_dest(v.port, rule, &reply), 200);
	free(reply);
	snprintf(rule, sizeof(rule), "{\"id\":\"e\",\"stream\":\"feed\",\"destination\":\"ws://127.0.0.1:%d/in/e\",\"file\":\"%s/sub/abs.bin\"}",
	         r.port, files);
	CU_ASSERT_EQUAL(post_dest(v.port, rule, &reply), 200);
	free(reply);
	CU_ASSERT_TRUE_FATAL(relay_connected(&r, 2));
	size_t total = 0;
	for (unsigned i = 0; i < 5; i++) {
		uint8_t *b = make_blob(30000 + 7000 * i, 40 + i, path, sizeof(path));
		CU_ASSERT_EQUAL(curl_post_file(v.port, "feed", path), 200);
		total += 30000 + 7000 * i;
		free(b);
	}
	relay_bytes(&r, (long)(2 * total), 5000);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0); /* the copies are complete once it has stopped */
	uint8_t *got = NULL, *want = NULL;
	size_t got_len = 0, want_len = 0;
	snprintf(copy, sizeof(copy), "%s/copy.bin", files);
	CU_ASSERT_EQUAL(vw_test_read_file(copy, &got, &got_len), 0);
	snprintf(copy, sizeof(copy), "%s/sub/abs.bin", files);
	CU_ASSERT_EQUAL(vw_test_read_file(copy, &want, &want_len), 0);
	printf("\n    copies: %zu and %zu bytes of %zu sent", got_len, want_len, total);
	CU_ASSERT_EQUAL(got_len, total);
	CU_ASSERT_TRUE(got && want && got_len == want_len && !memcmp(got, want, got_len));
	free(want);
	want = NULL;
	/* the relay got both destinations' messages, each what the copies hold */
	CU_ASSERT_EQUAL(vw_test_read_file(r.out, &want, &want_len), 0);
	CU_ASSERT_EQUAL(want_len, 2 * total);
	free(got);
	free(want);
	vw_testrelay_stop(&r);
}

/* A full disk stops the copy loudly (one log line, /api/status), never the destination: /dev/full
 * answers every write with ENOSPC. */
static void test_dest_file_disk_full(void)
{
	struct vw_testrelay r;
	struct vw_testvw v;
	char rule[600], path[700], *reply = NULL;
	const char *const args[] = {"stream", NULL};

	CU_ASSERT_EQUAL_FATAL(vw_testrelay_start(&r, tmp, "diskfull", "plain", NULL), 0);
	vw_testvw_init(&v, tmp, "diskfull");
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, "[control]\ndest_file_dir = /dev\n", args, NULL), 0);
	snprintf(rule, sizeof(rule), "{\"id\":\"d\",\"stream\":\"feed\",\"destination\":\"ws://127.0.0.1:%d/in/d\",\"file\":\"full\"}",
	         r.port);
	CU_ASSERT_EQUAL(post_dest(v.port, rule, &reply), 200);
	free(reply);
	CU_ASSERT_TRUE_FATAL(relay_connected(&r, 1));
	for (unsigned i = 0; i < 4; i++) {
		uint8_t *b = make_blob(50000, 60 + i, path, sizeof(path));
		CU_ASSERT_EQUAL(curl_post_file(v.port, "feed", path), 200);
		free(b);
		vw_test_sleep_ms(150);
	}
	CU_ASSERT_EQUAL(relay_bytes(&r, 200000, 5000), 200000); /* the destination went on */
	char *body = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body), 200);
	const char *e = body ? strstr(body, "\"file_error\"") : NULL;
	printf("\n    %.80s", e ? e : "(no file_error)");
	CU_ASSERT_TRUE(e && strstr(e, "No space left on device"));
	CU_ASSERT_TRUE(body && strstr(body, "\"state\":\"connected\""));
	free(body);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "copy to file stopped"), 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
	vw_testrelay_stop(&r);
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

/* ---- /ws/ topics and /ws/api, against Node websocket peers ---- */

/* node tests/relay/SCRIPT ARGS..., its output in DIR/TAG.out (path in out); started (pid) or run to
 * its end within timeout_ms (pid NULL: returns its exit status). */
static int node(const char *script, const char *tag, const char *const args[], char *out, size_t outlen, pid_t *pid,
		int timeout_ms)
{
	char path[600];
	const char *argv[40] = {"node", path};
	int n = 2;

	snprintf(path, sizeof(path), "%s/tests/relay/%s", VW_SOURCE_DIR, script);
	snprintf(out, outlen, "%s/%s.out", tmp, tag);
	for (; args && *args && n < 38; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	/* node is no program of ours: not with the fake camera (or a sanitizer runtime) preloaded */
	const char *const env[] = {"LD_PRELOAD=", NULL};
	if (pid)
		return vw_test_spawn(argv, env, out, pid);
	return vw_test_run(argv, env, out, timeout_ms);
}

/* `/ws/data` as labs use it: two local clients and a relay (a destination of stream "data", which
 * no encoder has) in every direction, text and binary, messages from 3 bytes to 200 kB (larger than
 * one websocket write; one sent as three frames), sent back to back: each arrives once, whole, in
 * order, as the kind it was sent, at everyone but its sender. */
static void test_ws_topics(void)
{
	struct vw_testvw v;
	char out[700], rule[300], vwport[16], relayport[16];
	pid_t pid;
	int relay = vw_test_free_port();

	vw_testvw_init(&v, tmp, "topics");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, vargs, NULL), 0);
	snprintf(vwport, sizeof(vwport), "%d", v.port);
	snprintf(relayport, sizeof(relayport), "%d", relay);
	const char *const args[] = {"--mode", "exchange", "--vw", vwport, "--topic", "data", "--relay-port", relayport, NULL};
	CU_ASSERT_EQUAL_FATAL(node("ws-topic.js", "exchange", args, out, sizeof(out), &pid, 0), 0);
	for (int i = 0; i < 100 && !vw_test_count_lines(out, "\"listening\""); i++)
		vw_test_sleep_ms(50);
	snprintf(rule, sizeof(rule), "{\"id\":\"lab\",\"stream\":\"data\",\"destination\":\"ws://127.0.0.1:%d/bi/data\"}", relay);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, rule, strlen(rule), NULL), 200);
	CU_ASSERT_EQUAL(vw_test_wait(pid, 45000, NULL), 0);

	/* A's five messages reach B and the relay, B's two reach A and the relay, the relay's three
	 * reach A and B; nothing comes back to its sender, and each sender's order holds */
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"counts\":{\"A\":5,\"B\":8,\"R\":7}"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"in_order\":true,\"echo\":0"), 1);
	static const char *const whole[] = {
		"{\"at\":\"B\",\"from\":\"A\",\"seq\":1,\"kind\":\"text\",\"len\":20,\"intact\":true",
		"{\"at\":\"B\",\"from\":\"A\",\"seq\":2,\"kind\":\"binary\",\"len\":100000,\"intact\":true}",
		"{\"at\":\"B\",\"from\":\"A\",\"seq\":3,\"kind\":\"binary\",\"len\":3,\"intact\":true}",
		"{\"at\":\"B\",\"from\":\"A\",\"seq\":4,\"kind\":\"text\",\"len\":4,\"intact\":true",
		"{\"at\":\"R\",\"from\":\"A\",\"seq\":2,\"kind\":\"binary\",\"len\":100000,\"intact\":true}",
		"{\"at\":\"R\",\"from\":\"A\",\"seq\":5,\"kind\":\"binary\",\"len\":4,\"intact\":true}",
		"{\"at\":\"A\",\"from\":\"B\",\"seq\":1,\"kind\":\"binary\",\"len\":70000,\"intact\":true}",
		"{\"at\":\"R\",\"from\":\"B\",\"seq\":2,\"kind\":\"text\",\"len\":10,\"intact\":true",
		"{\"at\":\"A\",\"from\":\"R\",\"seq\":1,\"kind\":\"text\",\"len\":18,\"intact\":true",
		"{\"at\":\"A\",\"from\":\"R\",\"seq\":2,\"kind\":\"binary\",\"len\":200000,\"intact\":true}",
		"{\"at\":\"B\",\"from\":\"R\",\"seq\":2,\"kind\":\"binary\",\"len\":200000,\"intact\":true}",
		"{\"at\":\"B\",\"from\":\"R\",\"seq\":3,\"kind\":\"binary\",\"len\":5,\"intact\":true}",
	};
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
		int n = vw_test_count_lines(out, whole[i]);
		if (n != 1)
			printf("\n    expected once, seen %d times: %s", n, whole[i]);
		CU_ASSERT_EQUAL(n, 1);
	}
	/* /api/status: the topic, its two clients, and what went through it */
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"topic\":{\"name\":\"data\",\"two_way\":true,\"clients\":2,"), 1);
	/* `sent` is what the clients got: their own messages, dropped at vw, are not counted */
	int sent = -1, got = -2;
	uint8_t *text = NULL;
	size_t len = 0;
	vw_test_read_file(out, &text, &len);
	const char *at = text ? strstr((char *)text, "\"topic_sent\":") : NULL;
	CU_ASSERT_PTR_NOT_NULL(at);
	if (at)
		sscanf(at, "\"topic_sent\":%d,\"local_received\":%d", &sent, &got);
	free(text);
	printf("\n    topic sent %d, local clients received %d", sent, got);
	CU_ASSERT_EQUAL(sent, got);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "error"), 0);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

/* A websocket client that stops answering (a laptop gone to sleep, a NAT that forgot it) must not
 * hold a viewer's or a topic's place: vw pings the silent and closes the dead after ws_timeout,
 * on a quiet topic and on a busy stream alike; a client that answers stays. */
static void test_ws_keepalive(void)
{
	struct vw_testvw v;
	char out[700], vwport[16];

	vw_testvw_init(&v, tmp, "keepalive");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v,
					      "[http]\nws_timeout = 3s\n[feed pattern]\ntype = testsrc\nsize = 320x240\n"
					      "[stream live]\nfeeds = pattern\n",
					      vargs, NULL),
			      0);
	snprintf(vwport, sizeof(vwport), "%d", v.port);
	static const char *const paths[] = {"/ws/data", "/live/live"};
	for (int i = 0; i < 2; i++) {
		const char *const args[] = {"--mode", "keepalive", "--vw", vwport, "--path", paths[i], "--ms", "8000", NULL};
		CU_ASSERT_EQUAL(node("ws-topic.js", "keepalive", args, out, sizeof(out), NULL, 30000), 0);
		uint8_t *text = NULL;
		size_t len = 0;
		vw_test_read_file(out, &text, &len);
		const char *r = text ? (const char *)text : "";
		printf("\n    %s: %s", paths[i], r);
		int pings = -1, after = -1;
		const char *at = strstr(r, "\"alive_pings\":");
		if (at)
			sscanf(at, "\"alive_pings\":%d", &pings);
		CU_ASSERT_TRUE(pings >= 2); /* one a second after a second of silence: about every 2 s */
		CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"alive_closed\":null"));
		at = strstr(r, "\"mute_closed\":{\"code\":1001,\"why\":\"no answer to pings for 3 s\",\"after_ms\":");
		CU_ASSERT_PTR_NOT_NULL(at);
		if (at)
			sscanf(strstr(at, "after_ms") + 10, "%d", &after);
		CU_ASSERT_TRUE(after >= 2500 && after <= 6000);
		CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"gone_closed\":{\"code\":"));
		free(text);
	}
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "silent for 3 s (no answer to pings) was closed") >= 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

/* /ws/stream/NAME (and /ws/NAME) watch a stream: the MPEG-TS that /live/NAME viewers get. */
static void test_ws_stream(void)
{
	struct vw_testvw v;
	char out[700], vwport[16];

	vw_testvw_init(&v, tmp, "wsstream");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(
	    vw_testvw_start(&v, "[feed pattern]\ntype = testsrc\nsize = 320x240\n[stream live]\nfeeds = pattern\n", vargs, NULL), 0);
	snprintf(vwport, sizeof(vwport), "%d", v.port);
	static const char *const paths[] = {"/ws/stream/live", "/ws/live"};
	for (int i = 0; i < 2; i++) {
		const char *const args[] = {"--mode", "stream", "--vw", vwport, "--path", paths[i], NULL};
		CU_ASSERT_EQUAL(node("ws-topic.js", "wsstream", args, out, sizeof(out), NULL, 20000), 0);
		uint8_t *text = NULL;
		size_t len = 0;
		vw_test_read_file(out, &text, &len);
		printf("\n    %s: %s", paths[i], text ? (char *)text : "(nothing)");
		free(text);
		CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"ts\":true,\"text\":0}"), 1);
	}
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

/* /ws/api takes the Go vw's WS/JSON commands with the API token, given with the handshake or as
 * the first message; a wrong one is refused either way. */
static void test_ws_api(void)
{
	struct vw_testvw v;
	char out[700], url[200], bad[200], bare[200], *body = NULL;

	vw_testvw_init(&v, tmp, "wsapi");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, "[http]\napi_token = tok-api-1\n", vargs, NULL), 0);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/api?token=tok-api-1", v.port);
	snprintf(bad, sizeof(bad), "ws://127.0.0.1:%d/ws/api?token=tok-wrong", v.port);
	snprintf(bare, sizeof(bare), "ws://127.0.0.1:%d/ws/api", v.port);
	const char *const add = "{\"verb\":\"add\",\"what\":\"destination\",\"rule\":{\"id\":\"d7\",\"stream\":\"data\","
				"\"destination\":\"ws://127.0.0.1:9/in/data\"}}";
	const char *const list = "{\"verb\":\"list\",\"what\":\"destination\",\"which\":\"all\"}";
	const char *const del = "{\"verb\":\"delete\",\"what\":\"destination\",\"which\":\"d7\"}";
	const char *const args[] = {"--url", url, add, list, NULL};
	CU_ASSERT_EQUAL(node("ws-command.js", "wsapi-add", args, out, sizeof(out), NULL, 30000), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"reply\":{\"id\":\"d7\",\"stream\":\"data\""), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"reply\":{\"d7\":{\"id\":\"d7\""), 1);
	/* the HTTP API sees the same rule */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/d7", "Authorization: Bearer tok-api-1\r\n", NULL, 0,
				     &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "ws://127.0.0.1:9/in/data"));
	free(body);
	body = NULL;
	/* the token as the first message, then a deletion */
	const char *const first[] = {"--url", bare, "--first", "tok-api-1", del, list, NULL};
	CU_ASSERT_EQUAL(node("ws-command.js", "wsapi-first", first, out, sizeof(out), NULL, 30000), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"first\":{\"authorised\":true}}"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"reply\":{\"deleted\":\"d7\"}"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"reply\":{}}"), 1);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/d7", "Authorization: Bearer tok-api-1\r\n", NULL, 0,
				     NULL), 404);
	/* a wrong token: refused at the handshake, or answered and closed (1008 policy) */
	const char *const wrong[] = {"--url", bad, list, NULL};
	CU_ASSERT_EQUAL(node("ws-command.js", "wsapi-wrong", wrong, out, sizeof(out), NULL, 30000), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"refused\":401}"), 1);
	const char *const wrong_first[] = {"--url", bare, "--first", "tok-wrong", add, NULL};
	node("ws-command.js", "wsapi-wrongfirst", wrong_first, out, sizeof(out), NULL, 30000);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"first\":{\"authorised\":false}}"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"closed\":1008}"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"reply\""), 0);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/d7", "Authorization: Bearer tok-api-1\r\n", NULL, 0,
				     NULL), 404);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "tok-"), 0); /* tokens never logged */
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

/* The cross-site rules on /ws/: another site's page is refused, a client without Origin (websocat,
 * Python) and this server's own page are not; the view token gates topics as it gates /live; a
 * message of 1 MiB goes through whole, one byte more closes its sender with 1009. */
static void test_ws_origin_and_limits(void)
{
	struct vw_testvw v;
	char out[700], vwport[16], own[64];

	vw_testvw_init(&v, tmp, "wslimits");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, "[http]\nview_token = tok-view-2\n", vargs, NULL), 0);
	snprintf(vwport, sizeof(vwport), "%d", v.port);
	snprintf(own, sizeof(own), "http://127.0.0.1:%d", v.port);
	static const struct {
		const char *origin, *token, *expect;
	} cases[] = {
		{"http://evil.example", "tok-view-2", "{\"refused\":403}"},
		{"null", "tok-view-2", "{\"refused\":403}"},
		{NULL, "tok-view-2", "{\"opened\":true}"},
		{"OWN", "tok-view-2", "{\"opened\":true}"},
		{NULL, "tok-wrong", "{\"refused\":401}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[12] = {"--mode", "open", "--vw", vwport, "--path", "/ws/data", "--token", cases[i].token};
		int n = 8;
		if (cases[i].origin) {
			args[n++] = "--origin";
			args[n++] = strcmp(cases[i].origin, "OWN") ? cases[i].origin : own;
		}
		args[n] = NULL;
		CU_ASSERT_EQUAL(node("ws-topic.js", "wsopen", args, out, sizeof(out), NULL, 20000), 0);
		int seen = vw_test_count_lines(out, cases[i].expect);
		if (seen != 1)
			printf("\n    Origin %s, token %s: expected %s", cases[i].origin ? cases[i].origin : "(none)",
			       cases[i].token, cases[i].expect);
		CU_ASSERT_EQUAL(seen, 1);
	}
	const char *const big[] = {"--mode", "oversize", "--vw", vwport, "--topic", "bulk", "--token", "tok-view-2", NULL};
	CU_ASSERT_EQUAL(node("ws-topic.js", "wsbig", big, out, sizeof(out), NULL, 30000), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"max_delivered\":true,\"close\":1009}"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "a message over 1024 KiB refused"), 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

/* A client that stops reading loses what was queued for it (whole messages, never a part), said
 * once in the log; a client that reads gets every message, in order: one slow client holds up
 * nobody. */
static void test_ws_slow_client(void)
{
	struct vw_testvw v;
	char out[700], vwport[16];

	vw_testvw_init(&v, tmp, "wsslow");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, vargs, NULL), 0);
	snprintf(vwport, sizeof(vwport), "%d", v.port);
	const char *const args[] = {"--mode", "slow", "--vw", vwport, "--topic", "flood", NULL};
	CU_ASSERT_EQUAL(node("ws-topic.js", "wsslow", args, out, sizeof(out), NULL, 60000), 0);
	uint8_t *text = NULL;
	size_t len = 0;
	vw_test_read_file(out, &text, &len);
	printf("\n    %s", text ? (char *)text : "(nothing)");
	free(text);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"fast\":60,\"fast_in_order\":true,"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"slow_intact\":true"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "\"slow\":60,"), 0); /* it did lose some */
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "too slow to read lost the messages queued"), 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 5000), 0);
}

/* /ts/NAME and /ws/NAME are one topic, as in the Go vw: a blob POSTed to /ts/data reaches a
 * websocat-style client of /ws/data as one binary message. */
static void test_ws_hears_ts(void)
{
	struct vw_testvw v;
	char out[700], vwport[16], *body = NULL;
	uint8_t blob[5000];
	pid_t pid;
	bool attached = false;

	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 13 + 1); /* not MPEG-TS: no 0x47 every 188 bytes */
	vw_testvw_init(&v, tmp, "wsts");
	const char *const vargs[] = {"stream", NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_start(&v, NULL, vargs, NULL), 0);
	snprintf(vwport, sizeof(vwport), "%d", v.port);
	const char *const args[] = {"--mode", "stream", "--vw", vwport, "--path", "/ws/data", "--ms", "4000", NULL};
	CU_ASSERT_EQUAL_FATAL(node("ws-topic.js", "wsts", args, out, sizeof(out), &pid, 0), 0);
	for (int i = 0; i < 60 && !attached; i++) { /* /api/status lists the topic once its client is on it */
		vw_test_sleep_ms(50);
		if (vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &body) == 200)
			attached = strstr(body, "{\"name\":\"data\",\"two_way\":true,\"clients\":1,") != NULL;
		free(body);
		body = NULL;
	}
	CU_ASSERT_TRUE(attached);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/metrics", NULL, NULL, 0, &body), 200);
	CU_ASSERT_TRUE(body && strstr(body, "\nvw_topic_clients{topic=\"data\"} 1\n"));
	free(body);
	body = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/ts/data", "Content-Type: application/octet-stream\r\n",
				     (const char *)blob, sizeof(blob), NULL), 200);
	CU_ASSERT_EQUAL(vw_test_wait(pid, 15000, NULL), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(out, "{\"messages\":1,\"bytes\":5000,\"ts\":false,\"text\":0}"), 1);
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
	    {"raw_blobs", test_raw_blobs},
	    {"raw_latency_and_recording", test_raw_latency_and_recording},
	    {"ffmpeg_ts_two_relays", test_ffmpeg_ts_two_relays},
	    {"feed_change_keeps_connection", test_feed_change_keeps_connection},
	    {"ws_topics", test_ws_topics},
	    {"ws_keepalive", test_ws_keepalive},
	    {"ws_stream", test_ws_stream},
	    {"ws_api", test_ws_api},
	    {"ws_origin_and_limits", test_ws_origin_and_limits},
	    {"dest_file", test_dest_file},
	    {"dest_file_disk_full", test_dest_file_disk_full},
	    {"ws_slow_client", test_ws_slow_client},
	    {"ws_hears_ts", test_ws_hears_ts},
	    {NULL, NULL},
	};
	return vw_test_main_dir(argc, argv, "compat", tests, &tmp);
}
