/* Cross-site and cross-channel defences of the real vw binary on 127.0.0.1: the Origin, Host and
 * Content-Type rules of the local server (a page of another site can neither watch, nor change
 * rules, nor read the API through DNS rebinding), the control channel only on the [api] rule,
 * destinations that do not follow redirects with their token, ingest feeds that do not pile up and
 * connections that do not hold the encoder slots, and a view token that sees no secret. */
#include "vw_test.h"

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
#include <unistd.h>

static char *tmp;

#define S(x) ((x) ? (x) : "(null)")

/* ---- the real vw ---- */

struct vw {
	pid_t pid;
	int port;
	char conf[700], state[700], log[700];
};

static void vw_init(struct vw *v, const char *tag)
{
	memset(v, 0, sizeof(*v));
	v->port = vw_test_free_port();
	snprintf(v->conf, sizeof(v->conf), "%s/%s.conf", tmp, tag);
	snprintf(v->state, sizeof(v->state), "%s/%s-state.json", tmp, tag);
	snprintf(v->log, sizeof(v->log), "%s/%s.log", tmp, tag);
	unlink(v->state);
}

/* Starts vw on `text` (the test environment's VW_PORT=0 replaced by the test's port) and waits
 * up to 10 s for /healthcheck. */
static bool vw_up(struct vw *v, const char *text)
{
	const char *argv[] = {VW_BIN, "-c", v->conf, "--state", v->state, "--log-level", "debug", NULL};
	char port[32];
	const char *env[] = {port, NULL};

	snprintf(port, sizeof(port), "VW_PORT=%d", v->port);
	vw_test_write_file(v->conf, text, strlen(text));
	if (vw_test_spawn(argv, env, v->log, &v->pid) < 0)
		return false;
	for (int i = 0; i < 200; i++) {
		if (vw_test_http(v->port, "GET", "/healthcheck", NULL, NULL, 0, NULL) == 200)
			return true;
		vw_test_sleep_ms(50);
	}
	return false;
}

static int vw_down(struct vw *v)
{
	kill(v->pid, SIGTERM);
	return vw_test_wait(v->pid, 15000, NULL);
}

static const char *source = "[feed cam]\ntype = testsrc\nsize = 160x120\n"
                            "[stream live]\nfeeds = cam\nsize = 160x120\nvideo_bitrate = 100k\n";

/* ---- raw HTTP on 127.0.0.1 ---- */

/* Reads one response (head + content-length body) into out; returns the status or -errno. With
 * `closed`, also tells whether the server then closed the connection (within 3 s). */
static int read_response(int fd, char *out, size_t outlen, bool *closed)
{
	size_t have = 0;
	int status = -EPROTO;

	out[0] = 0;
	while (have + 1 < outlen) {
		ssize_t n = recv(fd, out + have, outlen - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		out[have] = 0;
		char *end = strstr(out, "\r\n\r\n");
		const char *cl = strcasestr(out, "content-length:");
		if (end && cl && have >= (size_t)(end + 4 - out) + strtoul(cl + 15, NULL, 10))
			break;
	}
	if (have >= 12 && !strncmp(out, "HTTP/1.", 7))
		status = atoi(out + 9);
	if (closed) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;
		*closed = poll(&p, 1, 3000) == 1 && recv(fd, &c, 1, 0) <= 0;
	}
	return status;
}

/* Sends `req` whole on a new connection; status of the answer, body into out (may be NULL). */
static int raw(int port, const char *req, size_t len, char *out, size_t outlen, bool *closed)
{
	char buf[8192];
	int fd = vw_test_connect(port, 5), st;

	if (fd < 0)
		return fd;
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may answer before taking it all */
		off += (size_t)w;
	}
	st = read_response(fd, buf, sizeof(buf), closed);
	if (out) {
		char *body = strstr(buf, "\r\n\r\n");
		snprintf(out, outlen, "%s", body ? body + 4 : "");
	}
	close(fd);
	return st;
}

/* A websocket handshake on `path` with `headers` (extra "Name: value\r\n" lines, may hold a
 * Host, else Host: 127.0.0.1:PORT); on 101 the connection stays open in *fd (else -1). */
static int ws_open(int port, const char *path, const char *headers, int *fd, char *out, size_t outlen)
{
	char req[2048], buf[4096], host[64] = "";
	int st;

	if (!headers || !strcasestr(headers, "host:"))
		snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", port);
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\n%s%sUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	                 path, host, headers ? headers : "");
	*fd = vw_test_connect(port, 5);
	if (*fd < 0)
		return *fd;
	if (send(*fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(*fd);
		*fd = -1;
		return -EIO;
	}
	size_t have = 0;
	buf[0] = 0;
	while (have + 1 < sizeof(buf) && !strstr(buf, "\r\n\r\n")) {
		ssize_t r = recv(*fd, buf + have, 1, 0);
		if (r <= 0)
			break;
		buf[++have] = 0;
	}
	st = have >= 12 && !strncmp(buf, "HTTP/1.", 7) ? atoi(buf + 9) : -EPROTO;
	if (out)
		out[0] = 0;
	if (st != 101) {
		const char *cl = strcasestr(buf, "content-length:");
		size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0, got = 0;
		char body[512] = "";
		while (got < want && got + 1 < sizeof(body)) {
			ssize_t r = recv(*fd, body + got, sizeof(body) - 1 - got, 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		body[got] = 0;
		if (out)
			snprintf(out, outlen, "%s", body);
		close(*fd);
		*fd = -1;
	}
	return st;
}

/* One request on a new connection with exactly these headers (no Host added) and body. */
static int request(int port, const char *method, const char *path, const char *headers, const char *body, char *out,
                   size_t outlen)
{
	char req[8192];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n%sConnection: close\r\n%s%zu\r\n\r\n%s", method, path,
	                 headers, body ? "Content-Length: " : "X-No-Body: ", body ? strlen(body) : (size_t)0,
	                 body ? body : "");
	return raw(port, req, (size_t)n, out, outlen, NULL);
}

/* ---- 1. Origin, Host and Content-Type ---- */

static void test_cross_site(void)
{
	struct vw v;
	char text[2048], hdr[512], out[2048], *r = NULL;
	int fd, st;
	static const char dest[] = "{\"id\":\"evil\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/x\"}";

	vw_init(&v, "cross");
	snprintf(text, sizeof(text), "%s[http]\norigins = https://cam.example.com, http://proxy.example:8080\n", source);
	CU_ASSERT_FATAL(vw_up(&v, text));

	/* watching: another site's page is refused, a client without Origin (ffplay, a relay), the
	 * server's own page and a listed origin are not */
	st = ws_open(v.port, "/live/live", "Origin: http://evil.example\r\n", &fd, out, sizeof(out));
	CU_ASSERT_EQUAL(st, 403);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "cross-origin"));
	if (fd >= 0)
		close(fd);
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", "Origin: null\r\n", &fd, NULL, 0), 403);
	if (fd >= 0)
		close(fd);
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", NULL, &fd, NULL, 0), 101);
	if (fd >= 0)
		close(fd);
	snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.1:%d\r\n", v.port);
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", hdr, &fd, NULL, 0), 101);
	if (fd >= 0)
		close(fd);
	/* an ssh -L tunnel: the browser's Host and Origin both name the tunnel's end */
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", "Host: localhost:9999\r\nOrigin: http://localhost:9999\r\n", &fd,
	                        NULL, 0),
	                101);
	if (fd >= 0)
		close(fd);
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", "Origin: https://cam.example.com\r\n", &fd, NULL, 0), 101);
	if (fd >= 0)
		close(fd);
	/* same host, another port: another origin */
	snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.1:%d\r\n", v.port + 1);
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", hdr, &fd, NULL, 0), 403);
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
	CU_ASSERT_EQUAL(ws_open(v.port, "/live/live", "Host: evil.example:8888\r\n", &fd, NULL, 0), 403);
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
	CU_ASSERT_EQUAL(vw_down(&v), 0);
	CU_ASSERT_TRUE(vw_test_count_lines(v.log, "refused: cross-origin") >= 1);
}

/* ---- 2. the control channel only on the [api] rule ---- */

static void test_control_channel_only_api_rule(void)
{
	struct vw v;
	char text[2048], *r = NULL;
	static const char evil[] = "{\"id\":\"x\",\"stream\":\"api\",\"destination\":\"ws://127.0.0.1:9/attacker\"}";

	vw_init(&v, "channel");
	snprintf(text, sizeof(text), "%s[api]\nurl = ws://127.0.0.1:9/bi/vw-control\n", source);
	CU_ASSERT_FATAL(vw_up(&v, text));
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, evil, strlen(evil), &r), 400);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, "control channel") : NULL);
	free(r);
	r = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/all", NULL, NULL, 0, &r), 200);
	CU_ASSERT_PTR_NULL(r ? strstr(r, "attacker") : NULL);
	CU_ASSERT_PTR_NOT_NULL(r ? strstr(r, "apiRule") : NULL); /* the operator's channel is there */
	free(r);
	CU_ASSERT_EQUAL(vw_down(&v), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "destination x:"), 0);

	/* nor in the configuration file */
	vw_init(&v, "channel-conf");
	snprintf(text, sizeof(text), "%s[api]\nurl = ws://127.0.0.1:9/bi/c\n[destination x]\nstream = api\nurl = ws://127.0.0.1:9/a\n",
	         source);
	if (vw_up(&v, text)) {
		CU_FAIL("vw started with a destination on the control channel");
		vw_down(&v);
	} else {
		CU_ASSERT_TRUE(vw_test_wait(v.pid, 5000, NULL) != 0);
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
	struct vw v;
	char text[2048], answer[256];

	CU_ASSERT_FATAL(peer_start(&other, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
	snprintf(answer, sizeof(answer), "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/stolen\r\nContent-Length: 0\r\n\r\n",
	         other.port);
	CU_ASSERT_FATAL(peer_start(&relay, answer));
	vw_init(&v, "redirect");
	snprintf(text, sizeof(text),
	         "%s[destination ws]\nstream = live\nurl = ws://127.0.0.1:%d/in/live\ntoken = REDIRECT-SECRET-1\nauth = bearer\n"
	         "[destination post]\nstream = live\nurl = http://127.0.0.1:%d/in/live\ntoken = REDIRECT-SECRET-2\nauth = bearer\n",
	         source, relay.port, relay.port);
	CU_ASSERT_FATAL(vw_up(&v, text));
	vw_test_sleep_ms(3000); /* several attempts each */
	CU_ASSERT_EQUAL(vw_down(&v), 0);
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

/* ---- 5. what the view token sees ---- */

static void test_view_token_sees_no_secret(void)
{
	struct vw v;
	char text[2048], *r = NULL;

	vw_init(&v, "view");
	snprintf(text, sizeof(text),
	         "%s[destination relay]\nstream = live\nurl = http://127.0.0.1:9/Sup3rSecretRelayPath?code=Q\n"
	         "[recorder rec]\nstream = live\ndir = %s/RecDirSecret\n"
	         "[http]\napi_token = API-7\nview_token = VIEW-7\n",
	         source, tmp);
	CU_ASSERT_FATAL(vw_up(&v, text));
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
	CU_ASSERT_EQUAL(vw_down(&v), 0);
}

/* ---- 8. a long bearer token is sent whole ---- */

static void test_long_bearer_token(void)
{
	struct peer relay;
	struct vw v;
	char token[1001], text[3072], want[1100];

	for (int i = 0; i < 1000; i++)
		token[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
	token[1000] = 0;
	CU_ASSERT_FATAL(peer_start(&relay, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
	vw_init(&v, "longtoken");
	CU_ASSERT_FATAL(vw_up(&v, source));
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
	CU_ASSERT_EQUAL(vw_down(&v), 0);
	peer_stop(&relay);
	snprintf(want, sizeof(want), "Bearer %s\r\n", token);
	CU_ASSERT_TRUE(relay.conns >= 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(relay.head, want));
}

int main(int argc, char **argv)
{
	static const struct vw_test tests[] = {
	    {"cross_site", test_cross_site},
	    {"control_channel_only_api_rule", test_control_channel_only_api_rule},
	    {"no_redirects", test_no_redirects},
	    {"view_token_sees_no_secret", test_view_token_sees_no_secret},
	    {"long_bearer_token", test_long_bearer_token},
	    {NULL, NULL},
	};
	int ret;

	tmp = vw_test_mkdtemp("security");
	ret = vw_test_main(argc, argv, "security", tests);
	vw_test_rmtree(tmp);
	return ret;
}
