/* Tests of the test relay vw_testsrv against real clients: an lws websocket client (plain and TLS,
 * with certificates from tests/make-certs) and plain TCP sockets writing HTTP by hand, so that
 * the chunk framing is ours. The chunked-body decoder it uses (vw_chunked) is tested in test_ts.c. */
#include "vw_test.h"
#include "vw_testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <libwebsockets.h>

static char *tmp; /* scratch directory of the whole suite */

static uint8_t pattern(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 24);
}

static void fill(uint8_t *p, size_t n, size_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(seed + i);
}

static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n)
{
	return vw_test_rand(&rnd_state, n);
}

/* ---- a websocket client on lws, serviced from the test thread ---- */

struct wsmsg {
	const uint8_t *p;
	size_t len;
	bool text;
	int frags; /* sent as this many ws fragments (frames); 0 or 1: one frame */
};

struct wsc {
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t tick;
	const char *bearer;
	const struct wsmsg *msgs;
	int n_msgs, next, frag;
	size_t frag_off;
	uint8_t *buf;
	size_t buf_size;
	int sndbuf;     /* SO_SNDBUF once connected, so that backpressure reaches lws_write soon; 0: default */
	int64_t gap_ns; /* pause between messages; 0: as fast as the socket takes them */
	int64_t next_due;
	bool established, failed, closed;
	bool want_ping;
	int pongs;
	int64_t t_written; /* when the last message was handed to the kernel, 0 before */
	char error[256];
};

static void wsc_tick(lws_sorted_usec_list_t *sul)
{
	struct wsc *c = lws_container_of(sul, struct wsc, tick);
	if (c->gap_ns && c->wsi && c->established && c->next < c->n_msgs && vw_test_now_ns() >= c->next_due)
		lws_callback_on_writable(c->wsi);
	/* keeps lws_service() returning, so that every wait loop stays bounded in time */
	lws_sul_schedule(c->ctx, 0, &c->tick, wsc_tick, 5 * 1000);
}

static int wsc_write(struct wsc *c, struct lws *wsi)
{
	if (c->want_ping && c->frag == 0) {
		c->want_ping = false;
		if (lws_write(wsi, c->buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->next >= c->n_msgs) {
		if (!c->t_written)
			c->t_written = vw_test_now_ns();
		return 0;
	}
	if (c->gap_ns && c->frag == 0 && vw_test_now_ns() < c->next_due)
		return 0; /* the tick asks again */
	const struct wsmsg *m = &c->msgs[c->next];
	int frags = m->frags > 1 ? m->frags : 1;
	size_t piece = m->len / (size_t)frags, n = c->frag == frags - 1 ? m->len - c->frag_off : piece;
	int flags = lws_write_ws_flags(m->text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY, c->frag == 0, c->frag == frags - 1);
	memcpy(c->buf + LWS_PRE, m->p + c->frag_off, n);
	if (lws_write(wsi, c->buf + LWS_PRE, n, (enum lws_write_protocol)flags) < (int)n)
		return -1;
	c->frag_off += n;
	if (++c->frag == frags) {
		c->next++;
		c->frag = 0;
		c->frag_off = 0;
		c->next_due = vw_test_now_ns() + c->gap_ns;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int wsc_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct wsc *c = lws_context_user(lws_get_context(wsi));
	(void)user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		char v[256];
		if (!c->bearer)
			return 0;
		snprintf(v, sizeof(v), "Bearer %s", c->bearer);
		return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v, (int)strlen(v),
						    p, end);
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->established = true;
		if (c->sndbuf)
			setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &c->sndbuf, sizeof(c->sndbuf));
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return wsc_write(c, wsi);
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		c->pongs++;
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->failed = true;
		c->wsi = NULL;
		snprintf(c->error, sizeof(c->error), "%s", in ? (const char *)in : "(no reason)");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->closed = true;
		c->wsi = NULL;
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols wsc_protocols[] = {
	{"wsc", wsc_cb, 0, 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Connects to 127.0.0.1:port with no subprotocol; with ca, over TLS verifying the server as
 * "localhost" against it. Sends msgs once established. */
static int wsc_open(struct wsc *c, int port, const char *path, const char *ca, const char *bearer,
		    const struct wsmsg *msgs, int n_msgs)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	size_t max = 0;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < n_msgs; i++)
		max = msgs[i].len > max ? msgs[i].len : max;
	c->buf_size = LWS_PRE + max + 1;
	c->buf = malloc(c->buf_size);
	c->msgs = msgs;
	c->n_msgs = n_msgs;
	c->bearer = bearer;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = wsc_protocols;
	/* only when needed: see create() in vw_testsrv.c */
	info.options = ca ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	info.client_ssl_ca_filepath = ca;
	info.user = c;
	c->ctx = lws_create_context(&info);
	if (!c->ctx || !c->buf)
		return -ENOMEM;
	lws_sul_schedule(c->ctx, 0, &c->tick, wsc_tick, 5 * 1000);
	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.address = "127.0.0.1";
	ci.port = port;
	ci.path = path;
	ci.host = ca ? "localhost" : "127.0.0.1";
	ci.origin = ci.host;
	ci.local_protocol_name = "wsc"; /* .protocol stays NULL: no Sec-WebSocket-Protocol */
	ci.ssl_connection = ca ? LCCSCF_USE_SSL : 0;
	ci.pwsi = &c->wsi;
	if (!lws_client_connect_via_info(&ci))
		return -ECONNREFUSED;
	return 0;
}

/* Services the client until done(c, arg) or ms elapse. */
static bool wsc_run(struct wsc *c, bool (*done)(struct wsc *, void *), void *arg, int ms)
{
	int64_t end = vw_test_now_ns() + (int64_t)ms * 1000000;
	while (!done(c, arg) && vw_test_now_ns() < end)
		lws_service(c->ctx, 0);
	return done(c, arg);
}

static void wsc_close(struct wsc *c)
{
	if (c->ctx)
		lws_context_destroy(c->ctx);
	free(c->buf);
	c->ctx = NULL;
	c->buf = NULL;
}

static bool is_settled(struct wsc *c, void *arg)
{
	(void)arg;
	return c->established || c->failed || c->closed;
}

static bool is_written(struct wsc *c, void *arg)
{
	(void)arg;
	return c->t_written || c->failed || c->closed;
}

static bool is_gone(struct wsc *c, void *arg)
{
	(void)arg;
	return c->failed || c->closed;
}

/* The client is serviced while the server drains it. */
static bool server_has(struct wsc *c, void *arg)
{
	void **a = arg;
	struct vw_testsrv_stats st;
	vw_testsrv_stats(a[0], &st);
	return st.bytes >= *(size_t *)a[1] || c->failed || c->closed;
}

static bool wsc_deliver(struct wsc *c, struct vw_testsrv *s, size_t total, int ms)
{
	void *arg[2] = {s, &total};
	return wsc_run(c, server_has, arg, ms);
}

/* ---- plain TCP clients for HTTP ---- */

static int send_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Reads a response's head; returns its status code, 0 if the connection closed first, -errno. */
static int read_status(int fd)
{
	char buf[2048];
	size_t n = 0;
	while (n < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = 0;
	int code = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		return 0;
	return code;
}

/* ---- websocket ---- */

static void test_ws_messages(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {0};
	struct vw_testsrv_stats st;
	struct wsc c;
	static const size_t sizes[] = {1, 100, 4096, 65535, 65536, 65537, 200000, 1100000, 1153433, 70000, 3};
	static const int frags[] = {1, 1, 1, 1, 1, 1, 4, 1, 3, 2, 1};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	struct wsmsg msgs[N + 1];
	size_t total = 0;
	const char *hello = "hello, relay";

	for (int i = 0; i < N; i++)
		total += sizes[i];
	uint8_t *sent = malloc(total), *p = sent;
	fill(sent, total, 0);
	for (int i = 0, k = 0; i < N; i++, k++) {
		if (i == 4) /* a text message among them: counted, not recorded */
			msgs[k++] = (struct wsmsg){(const uint8_t *)hello, strlen(hello), true, 2};
		msgs[k] = (struct wsmsg){p, sizes[i], false, frags[i]};
		p += sizes[i];
	}

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL_FATAL(wsc_open(&c, vw_testsrv_port(srv), "/in/stream?k=v", NULL, NULL, msgs, N + 1), 0);
	CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
	CU_ASSERT_TRUE(c.established);
	CU_ASSERT_TRUE(wsc_deliver(&c, srv, total, 10000));
	double secs = (double)(vw_test_now_ns() - t0) / 1e9;
	vw_test_sleep_ms(50);
	vw_testsrv_stats(srv, &st);
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	struct vw_testsrv_arrival *arr;
	size_t n_arr = vw_testsrv_arrivals(srv, &arr);
	printf("\n    %zu bytes in %d binary + %d text messages (largest %zu) received in %.3f s; path %s query %s\n",
	       len, st.messages, st.text_messages, st.max_message, secs, st.last_path, st.last_query);
	CU_ASSERT_EQUAL(len, total);
	CU_ASSERT(got && len == total && memcmp(got, sent, total) == 0);
	CU_ASSERT_EQUAL(st.bytes, total);
	CU_ASSERT_EQUAL(st.messages, N);
	CU_ASSERT_EQUAL(st.text_messages, 1);
	CU_ASSERT_STRING_EQUAL(st.last_text, hello);
	CU_ASSERT_EQUAL(st.max_message, 1153433);
	CU_ASSERT_EQUAL(st.connections, 1);
	CU_ASSERT_EQUAL(st.open, 1);
	CU_ASSERT_EQUAL(st.refused, 0);
	CU_ASSERT_STRING_EQUAL(st.last_path, "/in/stream");
	CU_ASSERT_STRING_EQUAL(st.last_query, "k=v");
	/* one arrival per whole message, in order, each covering exactly that message */
	CU_ASSERT_EQUAL_FATAL(n_arr, N);
	size_t off = 0;
	for (size_t i = 0; i < n_arr; i++) {
		CU_ASSERT_EQUAL(arr[i].offset, off);
		CU_ASSERT_EQUAL(arr[i].len, sizes[i]);
		CU_ASSERT(i == 0 || arr[i].t_ns >= arr[i - 1].t_ns);
		off += arr[i].len;
	}
	/* reset forgets the recording, not the connection */
	vw_testsrv_reset(srv);
	vw_testsrv_stats(srv, &st);
	CU_ASSERT_EQUAL(st.bytes, 0);
	CU_ASSERT_EQUAL(st.messages, 0);
	CU_ASSERT_EQUAL(st.open, 1);
	wsc_close(&c);
	for (int i = 0; i < 100 && (vw_testsrv_stats(srv, &st), st.open); i++)
		vw_test_sleep_ms(10);
	CU_ASSERT_EQUAL(st.open, 0);
	free(arr);
	free(got);
	vw_testsrv_stop(srv);
	free(sent);
}

static void test_ws_bearer(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.bearer = "t0ken"};
	struct vw_testsrv_stats st;
	struct wsc c;
	uint8_t a[1000], b[777];
	struct wsmsg ma = {a, sizeof(a), false, 1}, mb = {b, sizeof(b), false, 1};
	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int port = vw_testsrv_port(srv);

	CU_ASSERT_EQUAL_FATAL(wsc_open(&c, port, "/in/x", NULL, "wrong", &mb, 1), 0);
	CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
	printf("\n    wrong token: %s", c.error);
	CU_ASSERT_TRUE(c.failed);
	CU_ASSERT_FALSE(c.established);
	wsc_close(&c);

	CU_ASSERT_EQUAL_FATAL(wsc_open(&c, port, "/in/x", NULL, NULL, &mb, 1), 0);
	CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
	printf("; no token: %s\n", c.error);
	CU_ASSERT_TRUE(c.failed);
	wsc_close(&c);

	vw_testsrv_stats(srv, &st);
	CU_ASSERT_EQUAL(st.refused, 2);
	CU_ASSERT_EQUAL(st.connections, 0);
	CU_ASSERT_EQUAL(st.bytes, 0);

	CU_ASSERT_EQUAL_FATAL(wsc_open(&c, port, "/in/ok", NULL, "t0ken", &ma, 1), 0);
	CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
	CU_ASSERT_TRUE(c.established);
	CU_ASSERT_TRUE(wsc_deliver(&c, srv, sizeof(a), 3000));
	wsc_close(&c);
	vw_testsrv_stats(srv, &st);
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	CU_ASSERT_EQUAL(st.refused, 2);
	CU_ASSERT_EQUAL(st.connections, 1);
	CU_ASSERT_EQUAL(st.messages, 1);
	CU_ASSERT(len == sizeof(a) && memcmp(got, a, len) == 0);
	CU_ASSERT_STRING_EQUAL(st.last_auth, "Bearer t0ken");
	free(got);
	vw_testsrv_stop(srv);
}

/* ---- HTTP ---- */

static void test_http_chunked(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {0};
	struct vw_testsrv_stats st;
	size_t n = 2000000;
	uint8_t *payload = malloc(n), *body = malloc(n + n / 4 + 100000);
	fill(payload, n, 3);
	size_t blen = vw_test_chunk_body(payload, n, body, true, &rnd_state);

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int fd = vw_test_connect(vw_testsrv_port(srv), 5);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_str(fd, "POST /secret HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
				     "Content-Type: video/mp2t\r\n\r\n"),
			0);
	/* arbitrary write sizes, with pauses so that lws sees them as separate reads */
	size_t pos = 0;
	int writes = 0;
	while (pos < blen) {
		size_t w = 1 + rnd(writes % 4 ? 9 : 200000);
		if (w > blen - pos)
			w = blen - pos;
		CU_ASSERT_EQUAL_FATAL(send_all(fd, body + pos, w), 0);
		pos += w;
		if (++writes % 16 == 0)
			vw_test_sleep_ms(1);
	}
	int code = read_status(fd);
	close(fd);
	vw_testsrv_stats(srv, &st);
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	printf("\n    chunked POST %s: %zu body bytes in %d writes -> %zu bytes de-chunked, status %d\n", st.last_path,
	       blen, writes, len, code);
	CU_ASSERT_EQUAL(code, 200);
	CU_ASSERT_EQUAL(len, n);
	CU_ASSERT(len == n && memcmp(got, payload, n) == 0);
	CU_ASSERT_STRING_EQUAL(st.last_path, "/secret");
	CU_ASSERT_EQUAL(st.connections, 1);
	CU_ASSERT_EQUAL(st.bodies_complete, 1);
	CU_ASSERT_EQUAL(st.bad_bodies, 0);
	CU_ASSERT_EQUAL(st.messages, 0);
	CU_ASSERT_EQUAL(st.open, 0);
	free(got);

	/* broken framing is answered 400 and counted */
	vw_testsrv_reset(srv);
	fd = vw_test_connect(vw_testsrv_port(srv), 5);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_str(fd, "POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\nQ\r\n"), 0);
	code = read_status(fd);
	close(fd);
	vw_testsrv_stats(srv, &st);
	CU_ASSERT_EQUAL(code, 400);
	CU_ASSERT_EQUAL(st.bad_bodies, 1);
	CU_ASSERT_EQUAL(st.bytes, 4);
	vw_testsrv_stop(srv);
	free(payload);
	free(body);
}

static void test_http_content_length(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.bearer = "pw"};
	struct vw_testsrv_stats st;
	char head[256];
	uint8_t a[300000], b[5000];
	fill(a, sizeof(a), 11);
	fill(b, sizeof(b), 12);

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int port = vw_testsrv_port(srv);

	/* no token: 401 and nothing recorded, even though the client goes on sending its body */
	int fd = vw_test_connect(port, 5);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(head, sizeof(head), "POST /in/a HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", sizeof(a));
	CU_ASSERT_EQUAL(send_str(fd, head), 0);
	CU_ASSERT_EQUAL(send_all(fd, a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(read_status(fd), 401);
	close(fd);

	/* two bodies on one keep-alive connection */
	fd = vw_test_connect(port, 5);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(head, sizeof(head), "POST /in/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pw\r\nContent-Length: %zu\r\n\r\n",
		 sizeof(a));
	CU_ASSERT_EQUAL(send_str(fd, head), 0);
	CU_ASSERT_EQUAL(send_all(fd, a, sizeof(a)), 0);
	CU_ASSERT_EQUAL(read_status(fd), 200);
	snprintf(head, sizeof(head), "PUT /in/b HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pw\r\nContent-Length: %zu\r\n\r\n",
		 sizeof(b));
	CU_ASSERT_EQUAL(send_str(fd, head), 0);
	CU_ASSERT_EQUAL(send_all(fd, b, sizeof(b)), 0);
	CU_ASSERT_EQUAL(read_status(fd), 200);
	/* an empty body is a complete one too */
	CU_ASSERT_EQUAL(send_str(fd, "POST /in/c HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer pw\r\nContent-Length: 0\r\n\r\n"),
			0);
	CU_ASSERT_EQUAL(read_status(fd), 200);
	close(fd);

	vw_testsrv_stats(srv, &st);
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	printf("\n    Content-Length POST + PUT + empty POST: %zu bytes, %d bodies complete, %d refused, last %s (%s)\n", len,
	       st.bodies_complete, st.refused, st.last_path, st.last_auth);
	CU_ASSERT_EQUAL(st.refused, 1);
	CU_ASSERT_EQUAL(st.connections, 3);
	CU_ASSERT_EQUAL(st.bodies_complete, 3);
	CU_ASSERT_EQUAL(st.open, 0);
	CU_ASSERT_STRING_EQUAL(st.last_path, "/in/c");
	CU_ASSERT_EQUAL(len, sizeof(a) + sizeof(b));
	CU_ASSERT(len == sizeof(a) + sizeof(b) && memcmp(got, a, sizeof(a)) == 0 &&
		  memcmp(got + sizeof(a), b, sizeof(b)) == 0);
	free(got);
	vw_testsrv_stop(srv);
}

/* lws 4.1 takes a POST without Content-Length to be 100 MiB long: a chunked stream is cut there
 * (counted, and the connection closed so the client sees it) rather than silently dropped. */
static void test_http_unknown_length_cap(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.keep_bytes = 1 << 20};
	struct vw_testsrv_stats st;
	size_t piece = 1 << 20;
	uint8_t *chunk = malloc(piece + 64);
	int n = sprintf((char *)chunk, "%zx\r\n", piece);
	fill(chunk + n, piece, 0);
	memcpy(chunk + n + piece, "\r\n", 2);
	size_t clen = (size_t)n + piece + 2, sent = 0;

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int fd = vw_test_connect(vw_testsrv_port(srv), 5);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(send_str(fd, "POST /long HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	int64_t t0 = vw_test_now_ns();
	while (sent < (size_t)110 << 20 && vw_test_now_ns() - t0 < 20 * 1000000000LL) {
		if (send_all(fd, chunk, clen) < 0)
			break;
		sent += clen;
	}
	close(fd);
	bool capped = false;
	for (int i = 0; i < 200 && !capped; i++) {
		vw_testsrv_stats(srv, &st);
		capped = st.capped_bodies == 1;
		if (!capped)
			vw_test_sleep_ms(10);
	}
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	printf("\n    sent %.1f MiB of chunked body in %.2f s; server took %.2f MiB of payload, capped %d\n",
	       (double)sent / (1 << 20), (double)(vw_test_now_ns() - t0) / 1e9, (double)st.bytes / (1 << 20),
	       st.capped_bodies);
	CU_ASSERT_TRUE(capped);
	CU_ASSERT(sent < (size_t)110 << 20); /* the server hung up */
	CU_ASSERT(st.bytes > (size_t)99 << 20 && st.bytes < (size_t)100 << 20);
	CU_ASSERT_EQUAL(len, (size_t)1 << 20); /* keep_bytes */
	CU_ASSERT(len == piece && memcmp(got, chunk + n, piece) == 0);
	CU_ASSERT_EQUAL(st.bodies_complete, 0);
	free(got);
	free(chunk);
	vw_testsrv_stop(srv);
}

/* ---- flow control ---- */

/* n binary messages of 64 KiB, fill(seed) bytes all in one buffer (returned; the caller frees it). */
static uint8_t *big_messages(struct wsmsg *msgs, int n, size_t seed)
{
	size_t total = (size_t)n * 65536;
	uint8_t *sent = malloc(total);

	CU_ASSERT_PTR_NOT_NULL_FATAL(sent);
	fill(sent, total, seed);
	for (int i = 0; i < n; i++)
		msgs[i] = (struct wsmsg){sent + (size_t)i * 65536, 65536, false, 1};
	return sent;
}

/* A server with `o`, and a client on `path` with a 32 KiB send buffer and gap_ns between its
 * messages, once its connection has settled. */
static void slow_pair(struct vw_testsrv **srv, const struct vw_testsrv_opts *o, struct wsc *c, const char *path,
		      const struct wsmsg *msgs, int n, int64_t gap_ns)
{
	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(srv, o), 0);
	CU_ASSERT_EQUAL_FATAL(wsc_open(c, vw_testsrv_port(*srv), path, NULL, NULL, msgs, n), 0);
	c->sndbuf = 32768;
	c->gap_ns = gap_ns;
	CU_ASSERT_TRUE_FATAL(wsc_run(c, is_settled, NULL, 3000));
}

static void test_read_rate(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.read_rate = 200000, .rcvbuf = 32768};
	struct wsc c;
	enum { N = 16 };
	size_t total = N * 65536;
	struct wsmsg msgs[N];
	uint8_t *sent = big_messages(msgs, N, 5);

	slow_pair(&srv, &o, &c, "/in/slow", msgs, N, 0);
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_TRUE(wsc_deliver(&c, srv, total, 15000));
	double secs = (double)(vw_test_now_ns() - t0) / 1e9;
	double client = c.t_written ? (double)(c.t_written - t0) / 1e9 : -1;
	struct vw_testsrv_arrival *arr;
	size_t n_arr = vw_testsrv_arrivals(srv, &arr);
	/* steady rate: from the first message's arrival to the last */
	double rate = n_arr > 1 ? (double)(total - arr[0].len) / ((double)(arr[n_arr - 1].t_ns - arr[0].t_ns) / 1e9) : 0;
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	printf("\n    1 MiB at 200 kB/s: all received after %.2f s (client had written everything after %.2f s), "
	       "steady rate %.0f B/s\n",
	       secs, client, rate);
	CU_ASSERT(secs >= 4.0 && secs < 7.5);
	CU_ASSERT(client >= 2.0); /* the client felt it: most of the data waited on its side */
	CU_ASSERT(rate > 160000 && rate < 220000); /* at most the rate; a little less when the client lags */
	CU_ASSERT(len == total && memcmp(got, sent, total) == 0);
	free(got);
	free(arr);
	wsc_close(&c);
	vw_testsrv_stop(srv);
	free(sent);
}

/* The same pacing for an HTTP body, seen by a blocking socket writer. */
static void test_read_rate_http(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.read_rate = 200000, .rcvbuf = 32768};
	struct vw_testsrv_stats st;
	size_t n = 400000;
	uint8_t *payload = malloc(n), *body = malloc(n + n / 4 + 100000);
	fill(payload, n, 6);
	size_t blen = vw_test_chunk_body(payload, n, body, false, &rnd_state);
	int sndbuf = 32768;

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int fd = vw_test_connect(vw_testsrv_port(srv), 5);
	CU_ASSERT_FATAL(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL(send_str(fd, "POST /in/slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	CU_ASSERT_EQUAL(send_all(fd, body, blen), 0);
	double written = (double)(vw_test_now_ns() - t0) / 1e9;
	CU_ASSERT_EQUAL(read_status(fd), 200);
	double secs = (double)(vw_test_now_ns() - t0) / 1e9;
	close(fd);
	vw_testsrv_stats(srv, &st);
	size_t len;
	uint8_t *got = vw_testsrv_data(srv, &len);
	printf("\n    400 kB POST at 200 kB/s: written after %.2f s, answered after %.2f s\n", written, secs);
	/* Unthrottled, the write takes about a millisecond: being held back half a second shows the
	 * backpressure reached the writer (how much the kernel buffers on top varies from run to run);
	 * the answer time shows the rate. */
	CU_ASSERT(written >= 0.5);
	CU_ASSERT(secs >= 1.5 && secs < 3.5);
	CU_ASSERT(len == n && memcmp(got, payload, n) == 0);
	CU_ASSERT_EQUAL(st.bodies_complete, 1);
	free(got);
	vw_testsrv_stop(srv);
	free(payload);
	free(body);
}

/* A server that stops reading 300 ms in, under a client sending 6.5 MB/s: nothing more arrives,
 * and the client is held up once the socket buffers are full. */
static void test_pause(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.pause_after_ms = 300, .rcvbuf = 32768};
	struct vw_testsrv_stats st;
	struct wsc c;
	enum { N = 150 };
	struct wsmsg msgs[N];
	uint8_t *sent = big_messages(msgs, N, 9);

	slow_pair(&srv, &o, &c, "/in/mute", msgs, N, 10 * 1000000);
	int64_t t0 = vw_test_now_ns();
	wsc_run(&c, is_gone, NULL, 600);
	vw_testsrv_stats(srv, &st);
	size_t early = st.bytes;
	/* 1.5 s of sending would finish now if the server were reading */
	CU_ASSERT_FALSE(wsc_run(&c, is_written, NULL, 1500));
	vw_testsrv_stats(srv, &st);
	printf("\n    paused after 300 ms: %zu bytes read by 0.6 s, %zu more by %.1f s; client wrote %d of %d messages\n",
	       early, st.bytes - early, (double)(vw_test_now_ns() - t0) / 1e9, c.next, N);
	CU_ASSERT(early > 0 && early < 400 * 6554); /* what 300 ms (+ scheduling) of sending brings */
	CU_ASSERT_EQUAL(st.bytes, early);
	CU_ASSERT_EQUAL(st.open, 1);
	CU_ASSERT(c.next < N * 2 / 3);
	wsc_close(&c);
	vw_testsrv_stop(srv);
	free(sent);
}

static bool has_pong(struct wsc *c, void *arg)
{
	(void)arg;
	return c->pongs > 0 || c->failed || c->closed;
}

/* A relay that stops reading does not answer pings either: what a client's keepalive detects. */
static void test_pause_no_pong(void)
{
	struct vw_testsrv *srv;
	struct vw_testsrv_opts o = {.pause_after_ms = 300};
	struct wsc c;
	uint8_t a[100];
	struct wsmsg m = {a, sizeof(a), false, 1};
	fill(a, sizeof(a), 10);

	for (int paused = 0; paused < 2; paused++) {
		o.pause_after_ms = paused ? 300 : 0;
		CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
		CU_ASSERT_EQUAL_FATAL(wsc_open(&c, vw_testsrv_port(srv), "/in/ping", NULL, NULL, &m, 1), 0);
		CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
		CU_ASSERT_TRUE(wsc_deliver(&c, srv, sizeof(a), 3000));
		wsc_run(&c, is_gone, NULL, 400);
		c.want_ping = true;
		lws_callback_on_writable(c.wsi);
		bool pong = wsc_run(&c, has_pong, NULL, 1000) && c.pongs;
		printf("%s    %s server: %s\n", paused ? "" : "\n", paused ? "paused" : "reading", pong ? "pong" : "no pong in 1 s");
		CU_ASSERT_EQUAL(pong, !paused);
		wsc_close(&c);
		vw_testsrv_stop(srv);
	}
}

/* ---- TLS ---- */

static void test_wss(void)
{
	char certs[512], path[600], cert[600], key[600], ca[600];
	struct wsc c;
	uint8_t a[50000];
	struct wsmsg m = {a, sizeof(a), false, 1};
	fill(a, sizeof(a), 4);

	snprintf(certs, sizeof(certs), "%s/certs", tmp);
	const char *const mk[] = {VW_SOURCE_DIR "/tests/make-certs", certs, NULL};
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL_FATAL(vw_test_run(mk, NULL, NULL, 30000), 0);
	double make_s = (double)(vw_test_now_ns() - t0) / 1e9;
	struct stat st0, st1;
	snprintf(path, sizeof(path), "%s/server.pem", certs);
	CU_ASSERT_EQUAL(stat(path, &st0), 0);
	vw_test_sleep_ms(20);
	CU_ASSERT_EQUAL(vw_test_run(mk, NULL, NULL, 30000), 0); /* idempotent: nothing remade */
	CU_ASSERT_EQUAL(stat(path, &st1), 0);
	CU_ASSERT(st0.st_mtim.tv_sec == st1.st_mtim.tv_sec && st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
	printf("\n    make-certs: %.2f s\n", make_s);

	snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
	static const char *const names[] = {"server", "wrong", "untrusted"};
	for (int i = 0; i < 3; i++) {
		struct vw_testsrv *srv;
		struct vw_testsrv_stats st;
		snprintf(cert, sizeof(cert), "%s/%s.pem", certs, names[i]);
		snprintf(key, sizeof(key), "%s/%s.key", certs, names[i]);
		struct vw_testsrv_opts o = {.cert = cert, .key = key};
		CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
		CU_ASSERT_EQUAL_FATAL(wsc_open(&c, vw_testsrv_port(srv), "/in/tls", ca, NULL, &m, 1), 0);
		CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 5000));
		if (i == 0) {
			CU_ASSERT_TRUE(c.established);
			CU_ASSERT_TRUE(wsc_deliver(&c, srv, sizeof(a), 5000));
			size_t len;
			uint8_t *got = vw_testsrv_data(srv, &len);
			CU_ASSERT(len == sizeof(a) && memcmp(got, a, len) == 0);
			free(got);
			printf("    %s.pem: connected, %zu bytes through\n", names[i], len);
		} else {
			CU_ASSERT_TRUE(c.failed);
			CU_ASSERT_FALSE(c.established);
			printf("    %s.pem: refused by the client: %s\n", names[i], c.error);
		}
		wsc_close(&c);
		vw_testsrv_stats(srv, &st);
		CU_ASSERT_EQUAL(st.connections, i == 0);
		vw_testsrv_stop(srv);
	}
}

/* ---- lifetime ---- */

static void test_stop_restart(void)
{
	struct vw_testsrv *srv, *other;
	struct vw_testsrv_opts o = {0};
	struct vw_testsrv_stats st;
	struct wsc c;
	uint8_t a[3000];
	struct wsmsg m = {a, sizeof(a), false, 1};
	fill(a, sizeof(a), 8);

	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&srv, &o), 0);
	int port = vw_testsrv_port(srv);
	CU_ASSERT_EQUAL_FATAL(wsc_open(&c, port, "/in/r", NULL, NULL, &m, 1), 0);
	CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
	CU_ASSERT_TRUE(wsc_deliver(&c, srv, sizeof(a), 3000));

	/* the port is taken while it runs */
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL(vw_testsrv_restart_on(&other, &o, port), -EADDRINUSE);
	double busy_s = (double)(vw_test_now_ns() - t0) / 1e9;

	t0 = vw_test_now_ns();
	vw_testsrv_stop(srv);
	double stop_s = (double)(vw_test_now_ns() - t0) / 1e9;
	CU_ASSERT_TRUE(wsc_run(&c, is_gone, NULL, 3000)); /* the client saw the connection go */
	wsc_close(&c);

	t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL_FATAL(vw_testsrv_restart_on(&srv, &o, port), 0);
	double start_s = (double)(vw_test_now_ns() - t0) / 1e9;
	CU_ASSERT_EQUAL(vw_testsrv_port(srv), port);
	CU_ASSERT_EQUAL_FATAL(wsc_open(&c, port, "/in/again", NULL, NULL, &m, 1), 0);
	CU_ASSERT_TRUE(wsc_run(&c, is_settled, NULL, 3000));
	CU_ASSERT_TRUE(wsc_deliver(&c, srv, sizeof(a), 3000));
	vw_testsrv_stats(srv, &st);
	printf("\n    stop with a client connected: %.3f s; restart on port %d: %.3f s; busy port refused after %.2f s\n",
	       stop_s, port, start_s, busy_s);
	CU_ASSERT(stop_s < 1.0);
	CU_ASSERT(start_s < 1.0);
	CU_ASSERT(busy_s < 3.0);
	CU_ASSERT_EQUAL(st.connections, 1);
	CU_ASSERT_EQUAL(st.bytes, sizeof(a));
	CU_ASSERT_STRING_EQUAL(st.last_path, "/in/again");
	wsc_close(&c);
	vw_testsrv_stop(srv);
	vw_testsrv_stop(NULL);
}

static const struct vw_test_suite suite = {.dir = &tmp};

VW_TEST_SUITE("testsrv", &suite,
	      {"ws_messages", test_ws_messages},
	      {"ws_bearer", test_ws_bearer},
	      {"http_chunked", test_http_chunked},
	      {"http_content_length", test_http_content_length},
	      {"http_unknown_length_cap", test_http_unknown_length_cap},
	      {"read_rate", test_read_rate},
	      {"read_rate_http", test_read_rate_http},
	      {"pause", test_pause},
	      {"pause_no_pong", test_pause_no_pong},
	      {"wss", test_wss},
	      {"stop_restart", test_stop_restart})
