/* Cross-site and cross-channel defences of the real vw binary on 127.0.0.1: the Origin, Host and
 * Content-Type rules of the local server (a page of another site can neither watch, nor change
 * rules, nor read the API through DNS rebinding), the control channel only on the [api] rule,
 * destinations that do not follow redirects with their token, ingest feeds that do not pile up and
 * connections that do not hold the encoder slots, and a view token that sees no secret. */
#include "vw_test.h"
#include "vw_testvw.h"

#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* One request on a new connection with exactly these headers (no Host added) and body. */
static int request(int port, const char *method, const char *path, const char *headers, const char *body, char *out,
                   size_t outlen)
{
	char req[8192];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n%sConnection: close\r\n%s%zu\r\n\r\n%s", method, path,
	                 headers, body ? "Content-Length: " : "X-No-Body: ", body ? strlen(body) : (size_t)0,
	                 body ? body : "");
	return vw_test_raw(port, req, (size_t)n, out, outlen, NULL);
}

/* ---- 1. Origin, Host and Content-Type ---- */

static void test_cross_site(void)
{
	struct vw_testvw v;
	char text[2048], hdr[512], out[2048], *r = NULL;
	int fd, st;
	static const char dest[] = "{\"id\":\"evil\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\"}";

	vw_testvw_init(&v, tmp, "cross");
	snprintf(text, sizeof(text), "%s[http]\norigins = https://cam.example.com, http://proxy.example:8080\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);

	/* watching: another site's page is refused, a client without Origin (ffplay, a relay), the
	 * server's own page and a listed origin are not */
	st = vw_test_ws_open(v.port, "/live/live", "Origin: http://evil.example\r\n", &fd, out, sizeof(out));
	CU_ASSERT_EQUAL(st, 403);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "cross-origin"));
	if (fd >= 0)
		close(fd);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", "Origin: null\r\n", &fd, NULL, 0), 403);
	if (fd >= 0)
		close(fd);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", NULL, &fd, NULL, 0), 101);
	if (fd >= 0)
		close(fd);
	snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.1:%d\r\n", v.port);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", hdr, &fd, NULL, 0), 101);
	if (fd >= 0)
		close(fd);
	/* an ssh -L tunnel: the browser's Host and Origin both name the tunnel's end */
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", "Host: localhost:9999\r\nOrigin: http://localhost:9999\r\n", &fd,
	                        NULL, 0),
	                101);
	if (fd >= 0)
		close(fd);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", "Origin: https://cam.example.com\r\n", &fd, NULL, 0), 101);
	if (fd >= 0)
		close(fd);
	/* same host, another port: another origin */
	snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.1:%d\r\n", v.port + 1);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", hdr, &fd, NULL, 0), 403);
	if (fd >= 0)
		close(fd);

	/* changing rules: a form or text/plain POST from another site is refused and changes nothing */
	snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\n",
	         v.port);
	CU_ASSERT_EQUAL(request(v.port, "POST", "/api/destinations", hdr, dest, out, sizeof(out)), 403);
	snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\n",
	         v.port);
	CU_ASSERT_EQUAL(request(v.port, "POST", "/api/destinations", hdr, dest, out, sizeof(out)), 403);
	snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%d\r\nOrigin: http://evil.example\r\n", v.port);
	CU_ASSERT_EQUAL(request(v.port, "DELETE", "/api/streams/live", hdr, NULL, out, sizeof(out)), 403);
	/* without an Origin (curl, scripts) the body must still say it is JSON */
	snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%d\r\nContent-Type: text/plain\r\n", v.port);
	CU_ASSERT_EQUAL(request(v.port, "POST", "/api/destinations", hdr, dest, out, sizeof(out)), 415);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "application/json"));
	snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%d\r\n", v.port);
	CU_ASSERT_EQUAL(request(v.port, "POST", "/api/destinations", hdr, dest, out, sizeof(out)), 415);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/all", NULL, NULL, 0, &r), 200);
	CU_ASSERT_PTR_NULL(r ? strstr(r, "evil") : NULL);
	free(r);
	r = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/live", NULL, NULL, 0, NULL), 200);
	/* the server's own page, a listed origin and a script may */
	snprintf(hdr, sizeof(hdr),
	         "Host: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\nContent-Type: application/json; charset=utf-8\r\n",
	         v.port, v.port);
	CU_ASSERT_EQUAL(request(v.port, "POST", "/api/destinations", hdr, dest, out, sizeof(out)), 200);
	snprintf(hdr, sizeof(hdr), "Host: 127.0.0.1:%d\r\nOrigin: http://proxy.example:8080\r\n", v.port);
	CU_ASSERT_EQUAL(request(v.port, "DELETE", "/api/destinations/evil", hdr, NULL, out, sizeof(out)), 200);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, dest, strlen(dest), NULL), 200);

	/* DNS rebinding: a page of evil.example that now resolves to 127.0.0.1 reads nothing */
	CU_ASSERT_EQUAL(request(v.port, "GET", "/api/status", "Host: evil.example:8888\r\n", NULL, out, sizeof(out)), 403);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Host"));
	CU_ASSERT_EQUAL(request(v.port, "GET", "/", "Host: evil.example\r\n", NULL, out, sizeof(out)), 403);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/live", "Host: evil.example:8888\r\n", &fd, NULL, 0), 403);
	if (fd >= 0)
		close(fd);
	/* while its own names and addresses, listed hosts and plain clients go on */
	static const char *const hosts[] = {"Host: localhost\r\n", "Host: 127.0.0.1\r\n", "Host: [::1]:8888\r\n",
	                                    "Host: cam.example.com\r\n", "Host: 192.168.1.20:8888\r\n", ""};
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		st = request(v.port, "GET", "/api/status", hosts[i], NULL, out, sizeof(out));
		if (st != 200)
			printf("\n    %s-> %d %s\n", hosts[i], st, out);
		CU_ASSERT_EQUAL(st, 200);
	}
	CU_ASSERT_EQUAL(request(v.port, "GET", "/healthcheck", "Host: anything.example\r\n", NULL, out, sizeof(out)), 200);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "refused: cross-origin") >= 1);
}

/* ---- 2. the control channel only on the [api] rule ---- */

static void test_control_channel_only_api_rule(void)
{
	struct vw_testvw v;
	char text[2048], *r = NULL;
	static const char evil[] = "{\"id\":\"x\",\"stream\":\"api\",\"destination\":\"ws://127.0.0.1:9/attacker\"}";

	vw_testvw_init(&v, tmp, "channel");
	snprintf(text, sizeof(text), "%s[api]\nurl = ws://127.0.0.1:9/bi/vw-control\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, evil, strlen(evil), &r), 400);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, "control channel") : NULL);
	free(r);
	r = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/all", NULL, NULL, 0, &r), 200);
	CU_ASSERT_PTR_NULL(r ? strstr(r, "attacker") : NULL);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, "apiRule") : NULL); /* the operator's channel is there */
	free(r);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "destination x:"), 0);

	/* nor in the configuration file */
	vw_testvw_init(&v, tmp, "channel-conf");
	snprintf(text, sizeof(text), "%s[api]\nurl = ws://127.0.0.1:9/bi/c\n[destination x]\nstream = api\nurl = ws://127.0.0.1:9/a\n",
	         source);
	if (vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0) {
		CU_FAIL("vw started with a destination on the control channel");
		vw_testvw_stop(&v, 15000);
	} else {
		CU_ASSERT_TRUE(v.status != 0); /* it exited with the error (or would not stop serving) */
	}
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "only [api] carries the control channel"), 1);
}

/* ---- a relay on 127.0.0.1 that writes down what it is sent ---- */

struct peer {
	int lfd, port, conns;
	char head[8192]; /* the first request head */
	const char *answer;
	pthread_t thread;
	atomic_bool stop;
	pthread_mutex_t lock;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	while (!atomic_load(&p->stop)) {
		struct pollfd pf = {.fd = p->lfd, .events = POLLIN};
		if (poll(&pf, 1, 100) != 1)
			continue;
		int fd = accept(p->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		char buf[8192];
		size_t have = 0;
		int64_t end = vw_test_now_ns() + 2000000000LL;
		buf[0] = 0;
		while (have + 1 < sizeof(buf) && !strstr(buf, "\r\n\r\n") && vw_test_now_ns() < end) {
			struct pollfd q = {.fd = fd, .events = POLLIN};
			if (poll(&q, 1, 100) != 1)
				continue;
			ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
			if (n <= 0)
				break;
			have += (size_t)n;
			buf[have] = 0;
		}
		pthread_mutex_lock(&p->lock);
		if (!p->conns++)
			snprintf(p->head, sizeof(p->head), "%s", buf);
		pthread_mutex_unlock(&p->lock);
		if (send(fd, p->answer, strlen(p->answer), MSG_NOSIGNAL) < 0) {
			/* gone: nothing to answer */
		}
		close(fd);
	}
	return NULL;
}

static bool peer_start(struct peer *p, const char *answer)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int one = 1;

	memset(p, 0, sizeof(*p));
	p->answer = answer;
	atomic_init(&p->stop, false);
	pthread_mutex_init(&p->lock, NULL);
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(p->lfd, 16) < 0 ||
	    getsockname(p->lfd, (struct sockaddr *)&a, &al) < 0)
		return false;
	p->port = ntohs(a.sin_port);
	return pthread_create(&p->thread, NULL, peer_main, p) == 0;
}

static void peer_stop(struct peer *p)
{
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	close(p->lfd);
	pthread_mutex_destroy(&p->lock);
}

/* ---- 3. a destination's token does not follow redirects ---- */

static void test_no_redirects(void)
{
	struct peer relay, other;
	struct vw_testvw v;
	char text[2048], answer[256];

	CU_ASSERT_FATAL(peer_start(&other, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
	snprintf(answer, sizeof(answer), "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/stolen\r\nContent-Length: 0\r\n\r\n",
	         other.port);
	CU_ASSERT_FATAL(peer_start(&relay, answer));
	vw_testvw_init(&v, tmp, "redirect");
	snprintf(text, sizeof(text),
	         "%s[destination ws]\nstream = live\nurl = ws://127.0.0.1:%d/in/live\ntoken = REDIRECT-SECRET-1\nauth = bearer\n"
	         "[destination post]\nstream = live\nurl = http://127.0.0.1:%d/in/live\ntoken = REDIRECT-SECRET-2\nauth = bearer\n",
	         source, relay.port, relay.port);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	vw_test_sleep_ms(3000); /* several attempts each */
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	pthread_mutex_lock(&relay.lock);
	printf("\n    relay saw %d connections, the host it redirects to %d\n", relay.conns, other.conns);
	CU_ASSERT_TRUE(relay.conns >= 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(relay.head, "Bearer REDIRECT-SECRET-")); /* it was sent where it belongs */
	pthread_mutex_unlock(&relay.lock);
	pthread_mutex_lock(&other.lock);
	CU_ASSERT_EQUAL(other.conns, 0);
	CU_ASSERT_PTR_NULL(strstr(other.head, "REDIRECT-SECRET"));
	pthread_mutex_unlock(&other.lock);
	peer_stop(&relay);
	peer_stop(&other);
	/* said once, not at every attempt */
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "destination ws: cannot connect to ws://127.0.0.1"), 1);
}

/* ---- 4. ingest: no pile of feeds, one end-of-head rule, answered sockets closed ---- */

static int count_in(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_ingest_bounds(void)
{
	struct vw_testvw v;
	char req[256], out[512], *r = NULL;
	int ok = 0, full = 0;
	bool closed = false;

	vw_testvw_init(&v, tmp, "ingest");
	CU_ASSERT_FATAL(vw_testvw_start(&v, source, VW_TESTVW_DEBUG, NULL) == 0);
	/* an answered ingest connection is closed at once, not when the next one comes */
	int n = snprintf(req, sizeof(req), "POST /ts/junk-first HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), &closed), 200);
	CU_ASSERT_TRUE(closed);
	printf("\n    answered and closed in %.0f ms\n", (double)(vw_test_now_ns() - t0) / 1e6);
	/* names nobody configured: a bounded number of feeds */
	for (int i = 0; i < 80; i++) {
		n = snprintf(req, sizeof(req), "POST /ts/junk%d HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", i);
		int st = vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), NULL);
		ok += st == 200;
		full += st == 503;
	}
	printf("    80 new names: %d taken, %d refused (503)\n", ok, full);
	CU_ASSERT_TRUE(ok >= 60 && ok <= 64);
	CU_ASSERT_EQUAL(ok + full, 80);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &r), 200);
	CU_ASSERT_TRUE(count_in(r, "\"name\":\"junk") <= 64);
	free(r);
	r = NULL;
	/* and they go once idle: no encoder, no subscriber, no rule */
	int left = -1;
	for (int i = 0; i < 60 && left; i++) {
		vw_test_sleep_ms(500);
		CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, &r), 200);
		left = count_in(r, "\"name\":\"junk");
		free(r);
		r = NULL;
	}
	CU_ASSERT_EQUAL(left, 0);
	n = snprintf(req, sizeof(req), "POST /ts/fresh HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), NULL), 200);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

static void test_ingest_head_rule(void)
{
	struct vw_testvw v;
	char text[1024], req[256], out[512];
	int fds[16];
	bool closed = false;

	vw_testvw_init(&v, tmp, "ingest-head");
	snprintf(text, sizeof(text), "%s[http]\ningest_secret = S3cret\n", source);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	/* heads that end in a bare "\n\n" (the front door's rule too), with the wrong secret, then
	 * a byte now and then: each is answered and closed, none holds an encoder slot */
	for (int i = 0; i < 16; i++) {
		fds[i] = vw_test_connect(v.port, 5);
		int n = snprintf(req, sizeof(req), "POST /ts/wrong/cam%d HTTP/1.1\r\nHost: x\n\n", i);
		if (fds[i] >= 0 && send(fds[i], req, (size_t)n, MSG_NOSIGNAL) != n) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	for (int k = 0; k < 3; k++) {
		vw_test_sleep_ms(500);
		for (int i = 0; i < 16; i++)
			if (fds[i] >= 0 && send(fds[i], "x", 1, MSG_NOSIGNAL) < 0) {
				/* closed by vw: as it should be */
			}
	}
	int n = snprintf(req, sizeof(req), "POST /ts/S3cret/cam HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), NULL), 200);
	int answered = 0;
	for (int i = 0; i < 16; i++) {
		if (fds[i] < 0)
			continue;
		answered += vw_test_read_response(fds[i], out, sizeof(out), &closed) == 401 && closed;
		close(fds[i]);
	}
	printf("\n    %d of 16 trickling heads answered 401 and closed\n", answered);
	CU_ASSERT_EQUAL(answered, 16);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- 5. what the view token sees ---- */

static void test_view_token_sees_no_secret(void)
{
	struct vw_testvw v;
	char text[2048], *r = NULL;

	vw_testvw_init(&v, tmp, "view");
	snprintf(text, sizeof(text),
	         "%s[destination relay]\nstream = live\nurl = http://127.0.0.1:9/Sup3rSecretRelayPath?code=Q\n"
	         "[recorder rec]\nstream = live\ndir = %s/RecDirSecret\n"
	         "[http]\napi_token = API-7\nview_token = VIEW-7\n",
	         source, tmp);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	vw_test_sleep_ms(1500); /* a segment is open, the relay has failed once */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status?token=VIEW-7", NULL, NULL, 0, &r), 200);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_PTR_NULL(strstr(r, "Sup3rSecretRelayPath"));
	CU_ASSERT_PTR_NULL(strstr(r, "RecDirSecret"));
	CU_ASSERT_PTR_NULL(strstr(r, "state_file"));
	CU_ASSERT_PTR_NULL(strstr(r, v.state));
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"url\":\"http://127.0.0.1:9\"")); /* where it streams, to the port */
	CU_ASSERT_PTR_NOT_NULL(strstr(r, "\"rec\"")); /* the recorder is there, without its directory */
	free(r);
	r = NULL;
	/* the API token sees it all (but the query) */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", "Authorization: Bearer API-7\r\n", NULL, 0, &r), 200);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, "Sup3rSecretRelayPath") : NULL);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, "RecDirSecret") : NULL);
	free(r);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- 6. every API request is answered; 7. /live names of any length ---- */

static void test_every_request_answered(void)
{
	struct vw_testvw v;
	char req[512], out[512];
	bool closed = false;
	int64_t t0;

	vw_testvw_init(&v, tmp, "answered");
	CU_ASSERT_FATAL(vw_testvw_start(&v, source, VW_TESTVW_DEBUG, NULL) == 0);
	static const char *const heads[] = {
	    /* chunked (one string over two lines) */
	    ("POST /api/streams HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
	     "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
	    /* no length at all */
	    "POST /api/streams HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n",
	    "PATCH /api/streams/all HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	};
	static const int want[] = {411, 411, 411};
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		t0 = vw_test_now_ns();
		int st = vw_test_raw(v.port, heads[i], strlen(heads[i]), out, sizeof(out), &closed);
		double ms = (double)(vw_test_now_ns() - t0) / 1e6;
		printf("\n    request %zu: %d in %.0f ms%s", i, st, ms, closed ? ", closed" : "");
		CU_ASSERT_EQUAL(st, want[i]);
		CU_ASSERT_TRUE(ms < 2000);
	}
	/* a PATCH with a body: no endpoint takes it */
	int n = snprintf(req, sizeof(req),
	                 "PATCH /api/streams/all HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
	                 "Content-Length: 2\r\n\r\n{}");
	CU_ASSERT_EQUAL(vw_test_raw(v.port, req, (size_t)n, out, sizeof(out), NULL), 405);
	printf("\n");
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

static void test_long_live_names(void)
{
	struct vw_testvw v;
	char text[1024];
	int fd;

	vw_testvw_init(&v, tmp, "livenames");
	snprintf(text, sizeof(text),
	         "[feed cam]\ntype = testsrc\nsize = 160x120\n"
	         "[stream stream/front/large]\nfeeds = cam\nsize = 160x120\nvideo_bitrate = 100k\n");
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	CU_ASSERT_EQUAL(vw_test_ws_open(v.port, "/live/stream/front/large", NULL, &fd, NULL, 0), 101);
	if (fd >= 0) {
		char buf[4096];
		ssize_t got = 0;
		for (int i = 0; i < 50 && got <= 0; i++) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, 100) == 1)
				got = recv(fd, buf, sizeof(buf), 0);
		}
		CU_ASSERT_TRUE(got > 0); /* the stream's bytes */
		close(fd);
	}
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- 10. recorders with prefix names in one directory ---- */

static void test_recorders_keep_to_their_files(void)
{
	struct vw_testvw v;
	char dir[700], text[2048], p[800];
	struct stat sb;
	static uint8_t junk[1 << 20];

	snprintf(dir, sizeof(dir), "%s/shared-rec", tmp);
	mkdir(dir, 0755);
	/* recorder cam-2's: a finished segment and the one it is writing */
	snprintf(p, sizeof(p), "%s/cam-2-20000101T000000Z.ts", dir);
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(p, junk, sizeof(junk)), 0);
	snprintf(p, sizeof(p), "%s/cam-2-20000102T000000Z.ts.part", dir);
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(p, junk, 4096), 0);
	/* recorder cam's own leftover from a crash: adopted */
	snprintf(p, sizeof(p), "%s/cam-20000103T000000Z.ts.part", dir);
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(p, junk, 4096), 0);

	vw_testvw_init(&v, tmp, "recorders");
	snprintf(text, sizeof(text), "%s[recorder cam]\nstream = live\ndir = %s\nsegment = 1s\nkeep = 1M\n", source, dir);
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, NULL) == 0);
	vw_test_sleep_ms(3500); /* segments close, retention runs (cam-2's 1 MiB would put cam over) */
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	snprintf(p, sizeof(p), "%s/cam-2-20000101T000000Z.ts", dir);
	CU_ASSERT_EQUAL(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/cam-2-20000102T000000Z.ts.part", dir);
	CU_ASSERT_EQUAL(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/cam-2-20000102T000000Z.ts", dir);
	CU_ASSERT_NOT_EQUAL(stat(p, &sb), 0);
	/* while cam's own leftover was adopted (its few segments stay under keep = 1M) */
	snprintf(p, sizeof(p), "%s/cam-20000103T000000Z.ts.part", dir);
	CU_ASSERT_NOT_EQUAL(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s/cam-20000103T000000Z.ts", dir);
	CU_ASSERT_EQUAL(stat(p, &sb), 0);
}

/* ---- 11. the API's destination fields within bounds ---- */

static void test_destination_fields_bounded(void)
{
	struct vw_testvw v;
	char *r = NULL;
	static const struct {
		const char *body;
		int status;
	} cases[] = {
	    {"{\"id\":\"q\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\",\"queue\":\"168h\"}", 400},
	    {"{\"id\":\"q\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\",\"queue\":\"1T\"}", 400},
	    {"{\"id\":\"q\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\\r\\nX-Injected:1\"}", 400},
	    {"{\"id\":\"q\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\",\"auth\":\"bearer\","
	     "\"token\":\"t\\r\\nX-Injected: 1\"}",
	     400},
	    {"{\"id\":\"q\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\",\"queue\":\"30s\"}", 200},
	    {"{\"id\":\"q\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\",\"queue\":\"64M\"}", 200},
	};

	vw_testvw_init(&v, tmp, "fields");
	CU_ASSERT_FATAL(vw_testvw_start(&v, source, VW_TESTVW_DEBUG, NULL) == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = vw_test_http(v.port, "POST", "/api/destinations", NULL, cases[i].body, strlen(cases[i].body), &r);
		if (st != cases[i].status)
			printf("\n    %s -> %d %s\n", cases[i].body, st, S(r));
		CU_ASSERT_EQUAL(st, cases[i].status);
		free(r);
		r = NULL;
	}
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "X-Injected"), 0);
}

/* ---- 8. a long bearer token is sent whole ---- */

static void test_long_bearer_token(void)
{
	struct peer relay;
	struct vw_testvw v;
	char token[1001], text[3072], want[1100];

	for (int i = 0; i < 1000; i++)
		token[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	token[1000] = 0;
	CU_ASSERT_FATAL(peer_start(&relay, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
	vw_testvw_init(&v, tmp, "longtoken");
	CU_ASSERT_FATAL(vw_testvw_start(&v, source, VW_TESTVW_DEBUG, NULL) == 0);
	int n = snprintf(text, sizeof(text),
	                 "{\"id\":\"d\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:%d/in/live\",\"token\":\"%s\","
	                 "\"auth\":\"bearer\"}",
	                 relay.port, token);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, text, (size_t)n, NULL), 200);
	for (int i = 0; i < 50; i++) {
		pthread_mutex_lock(&relay.lock);
		int got = relay.conns;
		pthread_mutex_unlock(&relay.lock);
		if (got)
			break;
		vw_test_sleep_ms(100);
	}
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	peer_stop(&relay);
	snprintf(want, sizeof(want), "Bearer %s\r\n", token);
	CU_ASSERT_TRUE(relay.conns >= 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(relay.head, want));
}

static const struct vw_test_suite suite = {.dir = &tmp};

VW_TEST_SUITE("security", &suite,
	      {"cross_site", test_cross_site},
	      {"control_channel_only_api_rule", test_control_channel_only_api_rule},
	      {"no_redirects", test_no_redirects},
	      {"ingest_bounds", test_ingest_bounds},
	      {"ingest_head_rule", test_ingest_head_rule},
	      {"view_token_sees_no_secret", test_view_token_sees_no_secret},
	      {"every_request_answered", test_every_request_answered},
	      {"long_live_names", test_long_live_names},
	      {"long_bearer_token", test_long_bearer_token},
	      {"recorders_keep_to_their_files", test_recorders_keep_to_their_files},
	      {"destination_fields_bounded", test_destination_fields_bounded})
