/* The preview page in a real browser: the vw binary serves src/www/index.html and its test stream
 * over HTTP and websockets on 127.0.0.1, and Debian's chromium, driven by tests/browser/play.js
 * (puppeteer-core), plays it with JSMpeg. Asserts what a person opening the page would see: the
 * first picture within 300 ms of the socket's first data, then pictures at the stream's rate, no
 * errors in the page; and without the view token, the page says so and plays nothing. */
#include "vw_test.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TOKEN "secret-view"
#define PLAY_SECONDS "3"
#define PLAY_TIMEOUT_MS 20000

struct vw_proc {
	char *dir;
	char conf[600], state[600], log[600];
	int port;
	pid_t pid;
	bool running;
};

/* A blocking GET on 127.0.0.1 with `headers` (each line ending in \r\n) or Connection: close;
 * the reply (head and body) lands in `out`. Returns the HTTP status, or -errno. Bounded by socket
 * timeouts of 1 s per call. */
static int http_request(int port, const char *path, const char *headers, char *out, size_t n)
{
	char req[512];
	size_t got = 0;
	int fd = vw_test_connect(port, 1), status = -EIO;

	out[0] = 0;
	if (fd < 0)
		return fd;
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port,
			   headers ? headers : "Connection: close\r\n");
	if (send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
		goto end;
	for (int i = 0; i < 64 && got + 1 < n; i++) {
		ssize_t r = recv(fd, out + got, n - 1 - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
		out[got] = 0;
		if (headers && strstr(out, "\r\n\r\n"))
			break; /* an upgraded socket stays open: its head is all there is to read */
	}
	out[got] = 0;
	if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
		status = -EPROTO;
end:
	close(fd);
	return status;
}

static int http_get(int port, const char *path, char *out, size_t n)
{
	return http_request(port, path, NULL, out, n);
}

/* The status of a websocket handshake for `path` (101 when accepted). */
static int ws_handshake(int port, const char *path)
{
	char out[2048];
	return http_request(port, path,
			    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
			    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
			    out, sizeof(out));
}

static void print_log_tail(const char *path)
{
	uint8_t *data;
	size_t len;
	if (vw_test_read_file(path, &data, &len) < 0)
		return;
	const char *s = (const char *)data;
	if (len > 3000)
		s += len - 3000;
	printf("\n    --- %s (tail) ---\n%s\n    ---\n", path, s);
	free(data);
}

/* Starts the real vw on a test picture and tone, with the HTTP server on a free port, and waits
 * (at most 10 s) until it answers /healthcheck. */
static int vw_start(struct vw_proc *v)
{
	char text[600], body[4096];

	memset(v, 0, sizeof(*v));
	v->dir = vw_test_mkdtemp("browser");
	v->port = vw_test_free_port();
	if (!v->dir || v->port <= 0)
		return -EIO;
	snprintf(v->conf, sizeof(v->conf), "%s/vw.conf", v->dir);
	snprintf(v->state, sizeof(v->state), "%s/state.json", v->dir);
	snprintf(v->log, sizeof(v->log), "%s/vw.log", v->dir);
	int len = snprintf(text, sizeof(text),
			   "[feed test]\ntype = testsrc\n"
			   "[stream live]\nfeeds = test\nsize = 640x480\nfps = 25\n"
			   "[http]\nlisten = 127.0.0.1:%d\nview_token = " TOKEN "\n",
			   v->port);
	vw_test_write_file(v->conf, text, (size_t)len);

	const char *argv[] = {VW_BIN, "-c", v->conf, "--state", v->state, NULL};
	/* the environment's own VW_PORT / VW_API would override the file */
	const char *env[] = {"VW_PORT=", "VW_API=", NULL};
	int ret = vw_test_spawn(argv, env, v->log, &v->pid);
	if (ret < 0)
		return ret;
	v->running = true;
	int64_t end = vw_test_now_ns() + 10 * 1000000000LL;
	do {
		if (http_get(v->port, "/healthcheck", body, sizeof(body)) == 200 && strstr(body, "\"ok\""))
			return 0;
		vw_test_sleep_ms(50);
	} while (vw_test_now_ns() < end);
	printf("\n    vw did not answer /healthcheck on port %d within 10 s\n", v->port);
	return -ETIMEDOUT;
}

/* SIGTERM, then vw's exit status (-ETIMEDOUT, and SIGKILL, after 10 s). */
static int vw_stop(struct vw_proc *v)
{
	int ret = 0;
	if (v->running) {
		kill(v->pid, SIGTERM);
		ret = vw_test_wait(v->pid, 10000, NULL);
		v->running = false;
	}
	return ret;
}

static void vw_cleanup(struct vw_proc *v, bool failed)
{
	if (failed)
		print_log_tail(v->log);
	if (v->dir) {
		vw_test_rmtree(v->dir);
		free(v->dir);
		v->dir = NULL;
	}
}

/* Runs play.js with `extra` arguments; returns its JSON answer (the last line of its output that
 * is a JSON object) or NULL. */
static json_t *play(const struct vw_proc *v, const char *url, const char *const extra[])
{
	const char *argv[24] = {VW_NODE, VW_BROWSER_DIR "/play.js", "--url", url, "--seconds", PLAY_SECONDS,
				"--chromium", VW_CHROMIUM, "--timeout-ms", "20000"};
	char out[700];
	size_t n = 10;
	uint8_t *data = NULL;
	size_t len;
	json_t *j = NULL;

	for (size_t i = 0; extra[i] && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/play.out", v->dir);
	/* play.js bounds itself by --timeout-ms; this is the backstop should node itself hang */
	int ret = vw_test_run(argv, NULL, out, PLAY_TIMEOUT_MS + 20000);
	if (ret != 0)
		printf("\n    play.js exited with %d\n", ret);
	if (vw_test_read_file(out, &data, &len) == 0) {
		char *s = (char *)data, *save = NULL;
		for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (line[0] != '{')
				continue;
			json_t *t = json_loads(line, 0, NULL);
			if (t) {
				json_decref(j);
				j = t;
			}
		}
		if (!j)
			printf("\n    play.js said:\n%s\n", (char *)data);
		free(data);
	}
	return j;
}

static void print_list(json_t *j, const char *key)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(j, key), i, e)
		printf("    %s: %s\n", key, json_string_value(e));
}

/* The page with the view token: the stream's first picture within 300 ms of its socket's first
 * data, then at least 60 of the 75 pictures of the next 3 s, and no error in the page. */
static void test_plays(void)
{
	struct vw_proc v;
	char url[200];
	json_t *j = NULL;
	bool ok = false;

	int ret = vw_start(&v);
	CU_ASSERT_EQUAL(ret, 0);
	if (ret < 0)
		goto end;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=" TOKEN, v.port);
	const char *extra[] = {"--stream", "live", NULL};
	j = play(&v, url, extra);
	CU_ASSERT_PTR_NOT_NULL(j);
	if (!j)
		goto end;
	char *dump = json_dumps(j, JSON_COMPACT);
	printf("\n    play.js: %s\n", dump);
	free(dump);

	json_t *first = json_object_get(j, "first_frame_ms");
	CU_ASSERT_TRUE(json_is_true(json_object_get(j, "ok")));
	CU_ASSERT_TRUE(json_is_number(first));
	CU_ASSERT_TRUE(json_number_value(first) <= 300.0);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(j, "frames")) >= 60);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "console_errors")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "page_errors")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "failed_requests")), 0);
	print_list(j, "console_errors");
	print_list(j, "page_errors");
	print_list(j, "failed_requests");
	ok = json_is_true(json_object_get(j, "ok")) && json_number_value(first) <= 300.0;
end:
	ret = vw_stop(&v);
	CU_ASSERT_EQUAL(ret, 0);
	json_decref(j);
	vw_cleanup(&v, !ok || ret != 0);
}

/* The page without the token: the status request is refused, the page says why, and no stream's
 * socket opens (the API and the sockets share the view token). */
static void test_no_token(void)
{
	struct vw_proc v;
	char url[200], body[4096];
	json_t *j = NULL;
	bool ok = false;

	int ret = vw_start(&v);
	CU_ASSERT_EQUAL(ret, 0);
	if (ret < 0)
		goto end;
	CU_ASSERT_EQUAL(http_get(v.port, "/api/status", body, sizeof(body)), 401);
	/* the sockets are guarded too, not just the page's way to find them */
	int ws_without = ws_handshake(v.port, "/live/live"), ws_with = ws_handshake(v.port, "/live/live?token=" TOKEN);
	printf("\n    websocket handshake on /live/live: %d without the token, %d with it\n", ws_without, ws_with);
	CU_ASSERT_NOT_EQUAL(ws_without, 101);
	CU_ASSERT_EQUAL(ws_with, 101);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", v.port);
	const char *extra[] = {"--expect-error", NULL};
	j = play(&v, url, extra);
	CU_ASSERT_PTR_NOT_NULL(j);
	if (!j)
		goto end;
	char *dump = json_dumps(j, JSON_COMPACT);
	printf("\n    play.js: %s\n", dump);
	free(dump);
	const char *text = json_string_value(json_object_get(j, "error_text"));
	CU_ASSERT_TRUE(json_is_true(json_object_get(j, "ok")));
	CU_ASSERT_PTR_NOT_NULL(text);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "401") : NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "players_opened")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "page_errors")), 0);
	ok = text && strstr(text, "401");
end:
	ret = vw_stop(&v);
	CU_ASSERT_EQUAL(ret, 0);
	json_decref(j);
	vw_cleanup(&v, !ok || ret != 0);
}

int main(int argc, char **argv)
{
	static const struct vw_test tests[] = {
		{"plays the stream in chromium", test_plays},
		{"without the token: an error, no player", test_no_token},
		{NULL, NULL},
	};
	return vw_test_main(argc, argv, "browser", tests);
}
