/* Hardened defaults and limits of the local HTTP server, against the real vw binary on 127.0.0.1:
 * the API listens on loopback unless configured; tokens never reach the log (at debug level),
 * /api/status, /metrics or the destination listings; request heads over 8 KiB get 431 and a
 * close, slow clients are dropped and cannot lock others out; [http] max_connections and
 * max_viewers answer 503 beyond them while the others go on; static files never come from
 * outside the www directory (traversal, encoded traversal, absolute URIs, symlinks); TLS checks
 * are off only per destination, with a warning at every connect. Request bodies over 64 KiB
 * (413) are covered by test_api (http_endpoints); a verifying destination refusing a self-signed
 * relay by test_dest (tls_verification). */
#include "vw_config.h"
#include "vw_test.h"
#include "vw_testvw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp;

#define S(x) ((x) ? (x) : "(null)")

static const char *source = "[feed cam]\ntype = testsrc\nsize = 160x120\n"
                            "[stream live]\nfeeds = cam\nsize = 160x120\nvideo_bitrate = 100k\n";

/* ---- raw HTTP on 127.0.0.1 ---- */

static int get_raw_path(int port, const char *path, char *out, size_t outlen)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
	return vw_test_raw(port, req, (size_t)n, out, outlen, NULL);
}

/* Bytes a viewer receives within ms milliseconds (websocket frames of MPEG-TS). */
static size_t ws_bytes(int fd, int ms)
{
	char buf[16384];
	size_t total = 0;
	int64_t end = vw_test_now_ns() + (int64_t)ms * 1000000;

	while (vw_test_now_ns() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 50) != 1)
			continue;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	return total;
}

/* ---- the API listens on loopback unless configured ---- */

/* Whether /proc/net/tcp{,6} lists a listening socket on `port`; its local address (hex) into addr. */
static bool listening_on(int port, char *addr, size_t addrlen)
{
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	char line[512];

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char local[64], remote[64];
			unsigned st;
			if (sscanf(line, " %*d: %63s %63s %x", local, remote, &st) != 3 || st != 0x0A)
				continue;
			char *colon = strrchr(local, ':');
			if (colon && (int)strtol(colon + 1, NULL, 16) == port) {
				*colon = 0;
				snprintf(addr, addrlen, "%s", local);
				fclose(f);
				return true;
			}
		}
		fclose(f);
	}
	return false;
}

static void test_default_listen_is_loopback(void)
{
	struct vw_config *cfg = vw_test_config(source);
	struct vw_testvw v;
	char addr[64] = "";

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_STRING_EQUAL(cfg->http.listen, "127.0.0.1:8888");
	CU_ASSERT_EQUAL(cfg->http.max_connections, 64);
	CU_ASSERT_EQUAL(cfg->http.max_viewers, 16);
	free(cfg);
	cfg = vw_test_config("[http]\nmax_connections = 8\nmax_viewers = 2\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	CU_ASSERT_EQUAL(cfg->http.max_connections, 8);
	CU_ASSERT_EQUAL(cfg->http.max_viewers, 2);
	free(cfg);
	char err[300];
	cfg = malloc(sizeof(*cfg));
	CU_ASSERT_EQUAL(vw_config_parse(cfg, "t.conf", "[http]\nmax_viewers = 0\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2: bad max_viewers"));
	free(cfg);

	/* no [http] at all: the file's default address, VW_PORT's port; the socket itself is on 127.0.0.1 */
	vw_testvw_init(&v, tmp, "loopback");
	CU_ASSERT_FATAL(vw_testvw_start(&v, source, VW_TESTVW_DEBUG, NULL) == 0);
	CU_ASSERT_TRUE(listening_on(v.port, addr, sizeof(addr)));
	printf("\n    listening socket of port %d in /proc/net/tcp: %s\n", v.port, addr);
	CU_ASSERT_STRING_EQUAL(addr, "0100007F"); /* 127.0.0.1, not 00000000 (every address) */
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "http: listening on 127.0.0.1:"), 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- tokens stay secret ---- */

static void test_tokens_never_shown(void)
{
	static const char *const secrets[] = {"API-TOKEN-9f3",    "VIEW-TOKEN-4c1",    "DEST-TOKEN-77a",
	                                      "POSTED-TOKEN-e2d", "CONTROL-TOKEN-5b0", "WRONG-TOKEN-1aa"};
	struct vw_testvw v;
	char text[2048], body[512], *r = NULL;

	vw_testvw_init(&v, tmp, "tokens");
	snprintf(text, sizeof(text),
	         "%s[destination file]\nstream = live\nurl = ws://127.0.0.1:9/in/live\ntoken = DEST-TOKEN-77a\n"
	         "[api]\nurl = ws://127.0.0.1:9/bi/vw-control\ntoken = CONTROL-TOKEN-5b0\n"
	         "[http]\napi_token = API-TOKEN-9f3\nview_token = VIEW-TOKEN-4c1\n",
	         source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	const char *auth = "Authorization: Bearer API-TOKEN-9f3\r\n";
	int n = snprintf(body, sizeof(body),
	                 "{\"id\":\"posted\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/in/"
	                 "x\",\"token\":\"POSTED-TOKEN-e2d\"}");
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", auth, body, (size_t)n, &r), 200);
	free(r);
	/* wrong tokens, in a header and in the query, are refused and not written down either */
	CU_ASSERT_EQUAL(
	    vw_test_http(v.port, "GET", "/api/status", "Authorization: Bearer WRONG-TOKEN-1aa\r\n", NULL, 0, NULL),
	    401);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status?token=WRONG-TOKEN-1aa", NULL, NULL, 0, NULL), 401);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status?token=VIEW-TOKEN-4c1", NULL, NULL, 0, NULL), 200);
	vw_test_sleep_ms(1200); /* the destinations and the control channel try (and fail) to connect */

	static const char *const paths[] = {"/api/status",
	                                    "/metrics",
	                                    "/api/destinations/all",
	                                    "/api/destinations/posted",
	                                    "/api/destinations/file",
	                                    "/api/destinations/apiRule",
	                                    "/api/streams/all"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int st = vw_test_http(v.port, "GET", paths[i], auth, NULL, 0, &r);
		CU_ASSERT_EQUAL(st, 200);
		if (st != 200)
			printf("\n    %s: %d %s\n", paths[i], st, S(r));
		for (size_t k = 0; k < sizeof(secrets) / sizeof(secrets[0]); k++)
			if (r && strstr(r, secrets[k])) {
				printf("\n    %s shows %s\n", paths[i], secrets[k]);
				CU_FAIL("a token in a response");
			}
		if (!strcmp(paths[i], "/api/destinations/all")) /* it did list them (the check above means something) */
			CU_ASSERT_TRUE(r && strstr(r, "posted") && strstr(r, "file") && strstr(r, "apiRule"));
		free(r);
		r = NULL;
	}
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	/* the log (at debug level) did speak of what holds the tokens */
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "destination file:") > 0);
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "destination apiRule:") + vw_test_count_lines(v.log, "api:") > 0);
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "control: POST /api/destinations") > 0);
	for (size_t k = 0; k < sizeof(secrets) / sizeof(secrets[0]); k++)
		CU_ASSERT_EQUAL(vw_test_count_lines(v.log, secrets[k]), 0);
}

/* ---- request heads ---- */

static void test_request_head_limits(void)
{
	struct vw_testvw v;
	char text[1024], out[1024], *req = malloc(64 * 1024);
	bool closed = false;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	vw_testvw_init(&v, tmp, "heads");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);

	/* one huge header */
	n = snprintf(req, 64 * 1024, "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ");
	memset(req + n, 'a', 16 * 1024);
	n += 16 * 1024;
	n += snprintf(req + n, 64 * 1024 - (size_t)n, "\r\n\r\n");
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), &closed), 431);
	CU_ASSERT_TRUE(closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"error\""));

	/* many small ones, 9 KiB in all */
	n = snprintf(req, 64 * 1024, "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n");
	for (int i = 0; i < 1536; i++)
		n += snprintf(req + n, 64 * 1024 - (size_t)n, "a: b\r\n");
	n += snprintf(req + n, 64 * 1024 - (size_t)n, "\r\n");
	closed = false;
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), &closed), 431);
	CU_ASSERT_TRUE(closed);

	/* within the limit: 7 KiB of headers, many of them, and one long one */
	n = snprintf(req, 64 * 1024, "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
	for (int i = 0; i < 600; i++)
		n += snprintf(req + n, 64 * 1024 - (size_t)n, "a: b\r\n");
	n += snprintf(req + n, 64 * 1024 - (size_t)n, "Cookie: ");
	memset(req + n, 'c', 3000);
	n += 3000;
	n += snprintf(req + n, 64 * 1024 - (size_t)n, "\r\n\r\n");
	printf("\n    %d-byte head: answered\n", n);
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), NULL), 200);
	CU_ASSERT_STRING_EQUAL(out, "\"ok\"\n");

	/* absolute-form targets are not ours to follow */
	n = snprintf(req, 64 * 1024, "GET http://127.0.0.1:%d/healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", v.port);
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), NULL), 400);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/healthcheck", NULL, NULL, 0, NULL), 200); /* still serving */
	/* refusals are logged, briefly: the first of a burst */
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "refused: 431 request head over 8 KiB") >= 1);
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "refused:") <= 2);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	free(req);
}

/* A client that never finishes its request is dropped after 10 s; a crowd of idle connections
 * (more than the front door holds) does not lock others out meanwhile. */
static void test_slow_clients(void)
{
	struct vw_testvw v;
	char text[1024], out[256];
	int idle[80], slow;

	vw_testvw_init(&v, tmp, "slow");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	for (int i = 0; i < 80; i++)
		idle[i] = vw_test_connect(v.port, 5);
	slow = vw_test_connect(v.port, 5);
	CU_ASSERT_FATAL(slow >= 0);
	int64_t t0 = vw_test_now_ns(), dropped_at = 0;
	CU_ASSERT_EQUAL(send(slow, "GET /healthcheck HTTP/1.1\r\n", 27, MSG_NOSIGNAL), 27);

	int64_t q0 = vw_test_now_ns();
	CU_ASSERT_EQUAL(get_raw_path(v.port, "/healthcheck", out, sizeof(out)), 200);
	double answer_ms = (double)(vw_test_now_ns() - q0) / 1e6;
	CU_ASSERT_TRUE(answer_ms < 1000);

	/* one more header line every 500 ms, for at most 15 s */
	for (int i = 0; i < 30 && !dropped_at; i++) {
		struct pollfd p = {.fd = slow, .events = POLLIN};
		if (poll(&p, 1, 500) == 1) {
			char c;
			if (recv(slow, &c, 1, MSG_DONTWAIT) <= 0)
				dropped_at = vw_test_now_ns();
			continue;
		}
		if (send(slow, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) != 11)
			dropped_at = vw_test_now_ns();
	}
	double dropped_s = dropped_at ? (double)(dropped_at - t0) / 1e9 : -1;
	printf("\n    with 80 idle connections open: answered in %.1f ms; a request trickling for ever dropped after "
	       "%.1f s\n",
	       answer_ms, dropped_s);
	CU_ASSERT_TRUE(dropped_s >= 9 && dropped_s <= 13);
	close(slow);
	for (int i = 0; i < 80; i++)
		if (idle[i] >= 0)
			close(idle[i]);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/healthcheck", NULL, NULL, 0, NULL), 200);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* A burst of clients while vw cannot accept (here: stopped; on a box, a busy moment) waits in the
 * kernel's queue instead of having its SYNs dropped, which would cost each client a second (the
 * first SYN retransmission); once vw runs again, every one of them gets an answer: 200, or 503
 * beyond max_connections. */
static void test_burst_while_busy(void)
{
	static const char req[] = "GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct vw_testvw v;
	char text[1024];
	int fds[200], n = 0, slow = 0, ok = 0, busy = 0;
	double worst = 0;

	vw_testvw_init(&v, tmp, "burst");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	CU_ASSERT_EQUAL(kill(v.pid, SIGSTOP), 0);
	for (; n < 200; n++) {
		int64_t t = vw_test_now_ns();
		fds[n] = vw_test_connect(v.port, 5);
		double ms = (double)(vw_test_now_ns() - t) / 1e6;
		if (ms > worst)
			worst = ms;
		slow += ms > 500;
		if (fds[n] < 0 || ms > 500)
			break; /* a dropped SYN: the point is made, and the rest would wait as long */
		if (send(fds[n], req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(req) - 1)
			break;
	}
	CU_ASSERT_EQUAL(kill(v.pid, SIGCONT), 0);
	for (int i = 0; i < n; i++) {
		char buf[256] = "";
		ssize_t got = fds[i] >= 0 ? recv(fds[i], buf, sizeof(buf) - 1, 0) : -1;
		ok += got > 12 && !memcmp(buf, "HTTP/1.1 200", 12);
		busy += got > 12 && !memcmp(buf, "HTTP/1.1 503", 12);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	printf("\n    %d clients while vw was stopped: slowest connect %.1f ms, %d slower than 0.5 s; then %d answered 200, "
	       "%d 503\n",
	       n, worst, slow, ok, busy);
	CU_ASSERT_EQUAL(n, 200);
	CU_ASSERT_EQUAL(slow, 0);
	CU_ASSERT_EQUAL(ok + busy, n);
	CU_ASSERT(ok >= 64); /* at least max_connections of them served */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/healthcheck", NULL, NULL, 0, NULL), 200);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- connection and viewer caps ---- */

static void test_connection_cap(void)
{
	struct vw_testvw v;
	char text[1024], out[1024];
	int keep[4], st;
	bool closed = false;

	vw_testvw_init(&v, tmp, "conncap");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\nmax_connections = 4\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	vw_test_sleep_ms(300); /* the start-up probes' connections are gone */
	static const char ka[] = "GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"; /* kept alive */
	for (int i = 0; i < 4; i++) {
		keep[i] = vw_test_connect(v.port, 5);
		CU_ASSERT_FATAL(keep[i] >= 0);
		CU_ASSERT_EQUAL(send(keep[i], ka, sizeof(ka) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(ka) - 1);
		CU_ASSERT_EQUAL(vw_test_read_response(keep[i], out, sizeof(out), NULL), 200);
	}
	st = vw_test_raw(v.port, ka, sizeof(ka) - 1, out, sizeof(out), &closed);
	printf("\n    a fifth connection with max_connections = 4: %d %s\n", st, out);
	CU_ASSERT_EQUAL(st, 503);
	CU_ASSERT_TRUE(closed);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "max_connections"));
	json_t *j = json_loads(out, 0, NULL);
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "error")));
	json_decref(j);
	/* the four go on */
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(send(keep[i], ka, sizeof(ka) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(ka) - 1);
		CU_ASSERT_EQUAL(vw_test_read_response(keep[i], out, sizeof(out), NULL), 200);
	}
	/* one leaves: room for another (within 2 s) */
	close(keep[3]);
	st = 0;
	for (int i = 0; i < 40 && st != 200; i++) {
		vw_test_sleep_ms(50);
		st = get_raw_path(v.port, "/healthcheck", out, sizeof(out));
	}
	CU_ASSERT_EQUAL(st, 200);
	for (int i = 0; i < 3; i++)
		close(keep[i]);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

static void test_viewer_cap(void)
{
	struct vw_testvw v;
	char text[1024], out[512];
	int a, b, c, st;

	vw_testvw_init(&v, tmp, "viewcap");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\nview_token = vt\nmax_viewers = 2\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);

	/* refusals are HTTP answers with a JSON error, not hang-ups */
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", NULL, &c, out, sizeof(out)), 401);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"error\""));
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/api/status?token=vt", NULL, &c, out, sizeof(out)), 404);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live?token=vt", NULL, &a, NULL, 0), 101);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live?token=vt", NULL, &b, NULL, 0), 101);
	CU_ASSERT_FATAL(a >= 0 && b >= 0);
	st = vw_test_ws_open(v.port, "/live/live?token=vt", NULL, &c, out, sizeof(out));
	printf("\n    a third viewer with max_viewers = 2: %d %s\n", st, out);
	CU_ASSERT_EQUAL(st, 503);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "max_viewers"));
	/* the two watch on, and the API still answers */
	CU_ASSERT_TRUE(ws_bytes(a, 600) > 1000);
	CU_ASSERT_TRUE(ws_bytes(b, 600) > 1000);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/healthcheck", NULL, NULL, 0, NULL), 200);
	/* one leaves: room for another (within 2 s) */
	close(b);
	st = 0;
	for (int i = 0; i < 40 && st != 101; i++) {
		vw_test_sleep_ms(50);
		st = vw_test_ws_open(v.port, "/live/live?token=vt", NULL, &b, NULL, 0);
	}
	CU_ASSERT_EQUAL(st, 101);
	if (b >= 0) {
		CU_ASSERT_TRUE(ws_bytes(b, 600) > 1000);
		close(b);
	}
	close(a);
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "viewer refused: 2 watching, max_viewers = 2") >= 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- static files stay inside www ---- */

static void test_static_confinement(void)
{
	struct vw_testvw v;
	char dir[500], www[600], outside[600], path[800], target[600], text[2048], out[1024];

	snprintf(dir, sizeof(dir), "%s/static", tmp);
	snprintf(www, sizeof(www), "%s/www", dir);
	snprintf(outside, sizeof(outside), "%s/outside.html", dir);
	mkdir(dir, 0700);
	mkdir(www, 0700);
	vw_test_write_file(outside, "OUTSIDE-SECRET\n", 15);
	snprintf(path, sizeof(path), "%s/jsmpeg-player.umd.min.js", www);
	vw_test_write_file(path, "var JSMpeg = {};\n", 17);
	snprintf(path, sizeof(path), "%s/index.html", www);
	CU_ASSERT_EQUAL_FATAL(symlink(outside, path), 0); /* a link out of the root */

	vw_testvw_init(&v, tmp, "static");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\nwww = %s\n", source, www);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	CU_ASSERT_EQUAL(get_raw_path(v.port, "/", out, sizeof(out)), 403);
	CU_ASSERT_PTR_NULL(strstr(out, "OUTSIDE-SECRET"));
	CU_ASSERT_EQUAL(get_raw_path(v.port, "/index.html", out, sizeof(out)), 403);
	CU_ASSERT_EQUAL(get_raw_path(v.port, "/jsmpeg-player.umd.min.js", out, sizeof(out)), 200);
	CU_ASSERT_STRING_EQUAL(out, "var JSMpeg = {};\n");
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "outside") >= 1);

	static const char *const attempts[] = {
	    "/../../../../etc/passwd",        "/../outside.html",
	    "/%2e%2e/outside.html",           "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
	    "/%252e%252e/outside.html",       "/..%2f..%2f..%2fetc/passwd",
	    "/..\\..\\..\\etc\\passwd",       "/.%2e/.%2e/etc/passwd",
	    "/x/../../outside.html",          "//etc/passwd",
	    "/index.html/../../outside.html", "/jsmpeg-player.umd.min.js/../../outside.html",
	};
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		int st = get_raw_path(v.port, attempts[i], out, sizeof(out));
		if (st == 200 || strstr(out, "OUTSIDE-SECRET") || strstr(out, "root:")) {
			printf("\n    %s: %d %s\n", attempts[i], st, out);
			CU_FAIL("served from outside www");
		}
		CU_ASSERT_TRUE(st >= 400 && st < 500);
	}
	char abs[200];
	snprintf(abs, sizeof(abs), "http://127.0.0.1:%d/../outside.html", v.port);
	CU_ASSERT_EQUAL(get_raw_path(v.port, abs, out, sizeof(out)), 400);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);

	/* the layouts that must work: www itself a symlink (to a directory of regular files, as
	 * installed in /usr/share/vw/www), and links that stay inside it */
	snprintf(target, sizeof(target), "%s/real", dir);
	mkdir(target, 0700);
	snprintf(path, sizeof(path), "%s/page.html", target);
	vw_test_write_file(path, "<p>inside</p>\n", 14);
	snprintf(path, sizeof(path), "%s/index.html", target);
	CU_ASSERT_EQUAL(symlink("page.html", path), 0);
	snprintf(path, sizeof(path), "%s/jsmpeg-player.umd.min.js", target);
	vw_test_write_file(path, "var JSMpeg = {};\n", 17);
	snprintf(path, sizeof(path), "%s/www-link", dir);
	CU_ASSERT_EQUAL(symlink(target, path), 0);
	vw_testvw_init(&v, tmp, "static2");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\nwww = %s\n", source, path);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	CU_ASSERT_EQUAL(get_raw_path(v.port, "/", out, sizeof(out)), 200);
	CU_ASSERT_STRING_EQUAL(out, "<p>inside</p>\n");
	CU_ASSERT_EQUAL(get_raw_path(v.port, "/jsmpeg-player.umd.min.js", out, sizeof(out)), 200);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- TLS verification: off only per destination, explicitly, loudly ---- */

static void test_insecure_only_per_destination(void)
{
	struct vw_testvw v;
	char text[2048], err[300], *r = NULL;
	struct vw_config *cfg = malloc(sizeof(*cfg));

	/* there is no global switch: not in [http], not in [stream] */
	CU_ASSERT_EQUAL(vw_config_parse(cfg, "t.conf", "[http]\ninsecure = yes\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown key 'insecure'"));
	CU_ASSERT_EQUAL(vw_config_parse(cfg, "t.conf",
	                                "[feed cam]\ntype = testsrc\n[stream live]\nfeeds = cam\ninsecure = yes\n", err,
	                                sizeof(err)),
	                -EINVAL);
	/* and it defaults to off */
	snprintf(text, sizeof(text), "%s[destination d]\nstream = live\nurl = wss://127.0.0.1:9/in/live\n", source);
	CU_ASSERT_EQUAL(vw_config_parse(cfg, "t.conf", text, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(cfg->dests[0].insecure);
	free(cfg);

	/* the real vw: one insecure destination, one not, one insecure through the API; nothing
	 * listens on port 9, so each tries again and again: one warning per connect, only for those
	 * that asked */
	vw_testvw_init(&v, tmp, "insecure");
	snprintf(text, sizeof(text),
	         "%s[destination loose]\nstream = live\nurl = wss://127.0.0.1:9/in/live\ninsecure = yes\n"
	         "[destination strict]\nstream = live\nurl = wss://127.0.0.1:9/in/live\n",
	         source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	static const char posted[] =
	    "{\"id\":\"api\",\"stream\":\"live\",\"destination\":\"wss://127.0.0.1:9/in/x\",\"insecure\":true}";
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, posted, sizeof(posted) - 1, &r), 200);
	free(r);
	vw_test_sleep_ms(3000);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	int loose = vw_test_count_lines(v.log, "destination loose: connecting without verifying the certificate"),
	    strict = vw_test_count_lines(v.log, "destination strict: connecting without verifying"),
	    api = vw_test_count_lines(v.log, "destination api: connecting without verifying the certificate");
	printf("\n    warnings in 3 s: insecure = yes %d, via the API %d, verifying %d\n", loose, api, strict);
	CU_ASSERT_TRUE(loose >= 2); /* every connect, not once */
	CU_ASSERT_TRUE(api >= 1);
	CU_ASSERT_EQUAL(strict, 0);
}

/* The number in the last "(N similar suppressed)" of the log lines holding `needle`, -1 if none. */
static long suppressed_in(const char *path, const char *needle)
{
	uint8_t *data = NULL;
	size_t len = 0;
	long n = -1;

	if (vw_test_read_file(path, &data, &len) < 0)
		return -1;
	for (char *line = (char *)data, *end; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = 0;
		const char *s = strstr(line, needle) ? strstr(line, " similar suppressed)") : NULL;
		if (s) {
			while (s > line && s[-1] >= '0' && s[-1] <= '9')
				s--;
			n = strtol(s, NULL, 10);
		}
	}
	free(data);
	return n;
}

/* An encoder retrying with the wrong ingest secret in a loop: 50 refused POSTs make a line or
 * two, not 50, and the next line after the window says how many it held back. */
static void test_ingest_refusals_limited(void)
{
	struct vw_testvw v;
	int refused = 0;

	vw_testvw_init(&v, tmp, "ingest-refusals");
	CU_ASSERT_FATAL(vw_testvw_start(&v, "[http]\ningest_secret = right-secret-9f2\n", VW_TESTVW_DEBUG, NULL) == 0);
	int64_t t0 = vw_test_now_ns();
	for (int i = 0; i < 50; i++)
		refused += vw_test_http(v.port, "POST", "/ts/wrong-secret-77a/cam", NULL, "x", 1, NULL) == 401;
	double burst_s = (double)(vw_test_now_ns() - t0) / 1e9;
	vw_test_sleep_ms(300); /* the last refusal's thread has logged */
	int burst = vw_test_count_lines(v.log, "ingest: refused");
	vw_test_sleep_ms(10500); /* past the 10 s window */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/ts/wrong-secret-77a/cam", NULL, "x", 1, NULL), 401);
	vw_test_sleep_ms(300);
	int lines = vw_test_count_lines(v.log, "ingest: refused");
	long held = suppressed_in(v.log, "ingest: refused");
	printf("\n    50 refused POSTs in %.1f s: %d lines; after the window: %d lines, the last saying %ld suppressed\n",
	       burst_s, burst, lines, held);
	CU_ASSERT_EQUAL(refused, 50);
	CU_ASSERT_TRUE(burst >= 1 && burst <= 2);
	CU_ASSERT_EQUAL(lines, burst + 1);
	if (burst == 1)
		CU_ASSERT_EQUAL(held, 49);
	CU_ASSERT_TRUE(held >= 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "wrong or missing ingest secret"), lines);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "right-secret-9f2") + vw_test_count_lines(v.log, "wrong-secret-77a"), 0);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* A file feed whose video is damaged all through: FFmpeg's demuxer and decoder complain about
 * every packet. Their lines reach vw's log under "ffmpeg:" at their levels, a few per level and
 * minute, not hundreds. */
static void test_ffmpeg_lines_limited(void)
{
	struct vw_testvw v;
	uint8_t *ts = NULL;
	size_t len = 0;
	char path[700], conf[1200];

	CU_ASSERT_FATAL(vw_test_read_file(VW_TEST_MEDIA("sample-jsmpeg.ts"), &ts, &len) == 0);
	for (size_t i = 5000; i < len; i += 997) /* past the first tables: the feed opens, then decodes junk */
		ts[i] ^= 0x5a;
	snprintf(path, sizeof(path), "%s/damaged.ts", tmp);
	vw_test_write_file(path, ts, len);
	free(ts);
	snprintf(conf, sizeof(conf), "[feed f]\ntype = file\npath = %s\nloop = yes\n\n[stream live]\nfeeds = f\n", path);
	vw_testvw_init(&v, tmp, "ffmpeg-lines");
	CU_ASSERT_FATAL(vw_testvw_start(&v, conf, VW_TESTVW_DEBUG, NULL) == 0);
	vw_test_sleep_ms(4000); /* the 2.9 s clip loops: hundreds of complaints */
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	int err = vw_test_count_lines(v.log, "error ffmpeg: ["), warn = vw_test_count_lines(v.log, "warn  ffmpeg: ["),
	    dbg = vw_test_count_lines(v.log, "debug ffmpeg: [");
	printf("\n    ffmpeg lines in 4 s of a damaged file: %d error, %d warn, %d debug\n", err, warn, dbg);
	CU_ASSERT_TRUE(err >= 1 && err <= 5);
	CU_ASSERT_TRUE(warn >= 1 && warn <= 5);
	CU_ASSERT_TRUE(dbg <= 5);
}

static const struct vw_test_suite suite = {.dir = &tmp};

VW_TEST_SUITE("limits", &suite,
	      {"default_listen_is_loopback", test_default_listen_is_loopback},
	      {"tokens_never_shown", test_tokens_never_shown},
	      {"request_head_limits", test_request_head_limits},
	      {"slow_clients", test_slow_clients},
	      {"burst_while_busy", test_burst_while_busy},
	      {"connection_cap", test_connection_cap},
	      {"viewer_cap", test_viewer_cap},
	      {"static_confinement", test_static_confinement},
	      {"insecure_only_per_destination", test_insecure_only_per_destination},
	      {"ingest_refusals_limited", test_ingest_refusals_limited},
	      {"ffmpeg_lines_limited", test_ffmpeg_lines_limited})
