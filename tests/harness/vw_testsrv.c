/* vw_testsrv: see vw_testsrv.h. Owns the lws server context, its service thread, the per-connection
 * state (pacing timers, message reassembly, chunked decoding) and the recorded data. Everything
 * below the accessors runs on the service thread; the recording is shared under `lock`. */
#include "vw_testsrv.h"

#include "vw_chunked.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

/* lws 4.1 reads up to this much per callback; large enough that a 64 KiB message usually comes
 * whole, and reassembly covers the rest. */
#define RX_BUFFER (128 * 1024)

struct vw_testsrv {
	struct vw_testsrv_opts o;
	char cert[PATH_MAX], key[PATH_MAX], bearer[512];
	struct lws_context *ctx;
	SSL_CTX *client_tls; /* see create() */
	pthread_t thread;
	atomic_bool stop;
	int port;

	pthread_mutex_t lock; /* guards everything below */
	uint8_t *data;
	size_t len, cap; /* bytes kept in data (at most o.keep_bytes) */
	struct vw_testsrv_arrival *arr;
	size_t n_arr, cap_arr;
	struct vw_testsrv_stats st;
	unsigned gen; /* bumped by reset, so a message straddling it is logged by its post-reset part */
};

/* Per connection (lws per-session data). lws zero-allocates it when it binds the protocol; an
 * HTTP keep-alive connection reuses it for the next request, so conn_begin() resets it. */
struct conn {
	lws_sorted_usec_list_t sul_rate;  /* re-enables rx after a read-rate pause */
	lws_sorted_usec_list_t sul_timer; /* pause_after_ms, or the delayed hang-up after a 401 */
	struct lws *wsi;
	bool counted; /* counted in st.open */
	bool chunked, has_length, refused, paused;
	lws_usec_t due_us; /* read-rate schedule: when the bytes read so far are "paid for" */
	size_t msg_len;    /* binary message being reassembled: bytes so far */
	size_t msg_rec;    /* of those, bytes recorded since the last reset */
	unsigned gen;
	char text[256];
	size_t text_len;
	struct vw_chunked dc;
};

/* ---- recording (service thread, under s->lock) ---- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : first;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* Appends payload bytes to the stream; keeps them if keep_bytes allows. Counting never fails:
 * a failed allocation only loses the copy, which a byte comparison in the test will show. */
static void keep(struct vw_testsrv *s, const uint8_t *p, size_t n)
{
	size_t room = n;
	if (s->o.keep_bytes) {
		size_t left = s->len < s->o.keep_bytes ? s->o.keep_bytes - s->len : 0;
		room = n < left ? n : left;
	}
	if (room && grow((void **)&s->data, &s->cap, s->len + room, 1, 1 << 20) == 0) {
		memcpy(s->data + s->len, p, room);
		s->len += room;
	}
	s->st.bytes += n;
}

static void arrival(struct vw_testsrv *s, size_t offset, size_t len)
{
	if (grow((void **)&s->arr, &s->cap_arr, s->n_arr + 1, sizeof(*s->arr), 1024) == 0)
		s->arr[s->n_arr++] = (struct vw_testsrv_arrival){now_ns(), offset, len};
}

/* ---- connections ---- */

static void conn_end(struct vw_testsrv *s, struct conn *c)
{
	lws_sul_cancel(&c->sul_rate);
	lws_sul_cancel(&c->sul_timer);
	if (c->counted) {
		c->counted = false;
		pthread_mutex_lock(&s->lock);
		s->st.open--;
		pthread_mutex_unlock(&s->lock);
	}
}

static void conn_begin(struct vw_testsrv *s, struct conn *c, struct lws *wsi)
{
	conn_end(s, c); /* timers first: they are linked into lws's lists */
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
}

static void copy_token(struct lws *wsi, char *dst, size_t size, const enum lws_token_indexes *tok, size_t n_tok)
{
	for (size_t i = 0; i < n_tok; i++)
		if (lws_hdr_total_length(wsi, tok[i]) > 0 && lws_hdr_copy(wsi, dst, (int)size, tok[i]) > 0)
			return;
	dst[0] = 0;
}

static void pause_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_timer);
	c->paused = true;
	lws_sul_cancel(&c->sul_rate);
	lws_rx_flow_control(c->wsi, 0);
}

static void opened(struct vw_testsrv *s, struct conn *c)
{
	static const enum lws_token_indexes uri[] = {WSI_TOKEN_GET_URI, WSI_TOKEN_POST_URI, WSI_TOKEN_PUT_URI};
	static const enum lws_token_indexes args[] = {WSI_TOKEN_HTTP_URI_ARGS};
	char path[sizeof(s->st.last_path)], query[sizeof(s->st.last_query)];

	copy_token(c->wsi, path, sizeof(path), uri, sizeof(uri) / sizeof(uri[0]));
	copy_token(c->wsi, query, sizeof(query), args, 1);
	c->counted = true;
	c->due_us = lws_now_usecs();
	pthread_mutex_lock(&s->lock);
	s->st.connections++;
	s->st.open++;
	memcpy(s->st.last_path, path, sizeof(path));
	memcpy(s->st.last_query, query, sizeof(query));
	c->gen = s->gen;
	pthread_mutex_unlock(&s->lock);
	if (s->o.pause_after_ms > 0)
		lws_sul_schedule(s->ctx, 0, &c->sul_timer, pause_cb, (lws_usec_t)s->o.pause_after_ms * 1000);
}

/* Records the Authorization header and checks it against the bearer token. */
static bool authorised(struct vw_testsrv *s, struct lws *wsi)
{
	static const enum lws_token_indexes tok[] = {WSI_TOKEN_HTTP_AUTHORIZATION};
	char auth[sizeof(s->st.last_auth)], want[sizeof(s->bearer) + 8];
	bool ok = true;

	copy_token(wsi, auth, sizeof(auth), tok, 1);
	if (*s->bearer) {
		snprintf(want, sizeof(want), "Bearer %s", s->bearer);
		ok = strcmp(auth, want) == 0;
	}
	pthread_mutex_lock(&s->lock);
	memcpy(s->st.last_auth, auth, sizeof(auth));
	s->st.refused += !ok;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static void resume_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_rate);
	if (!c->paused)
		lws_rx_flow_control(c->wsi, 1);
}

/* Read-rate limit: having taken n more bytes, stop reading until the schedule has paid for them.
 * The schedule (rather than a sleep per read) keeps the average exact despite service latency. */
static void pace(struct vw_testsrv *s, struct conn *c, size_t n)
{
	if (s->o.read_rate <= 0 || c->paused)
		return;
	lws_usec_t now = lws_now_usecs();
	if (c->due_us < now)
		c->due_us = now; /* idle time earns no credit */
	c->due_us += (lws_usec_t)((double)n * 1e6 / (double)s->o.read_rate);
	if (c->due_us > now) {
		lws_rx_flow_control(c->wsi, 0);
		lws_sul_schedule(s->ctx, 0, &c->sul_rate, resume_cb, c->due_us - now);
	}
}

static void kill_cb(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_timer);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void count(struct vw_testsrv *s, int *field)
{
	pthread_mutex_lock(&s->lock);
	(*field)++;
	pthread_mutex_unlock(&s->lock);
}

/* ---- websocket ---- */

static int ws_receive(struct vw_testsrv *s, struct conn *c, struct lws *wsi, const uint8_t *in, size_t len)
{
	bool fin = lws_is_final_fragment(wsi);

	if (!lws_frame_is_binary(wsi)) {
		size_t n = len < sizeof(c->text) - 1 - c->text_len ? len : sizeof(c->text) - 1 - c->text_len;
		if (n)
			memcpy(c->text + c->text_len, in, n);
		c->text_len += n;
		c->text[c->text_len] = 0;
		if (fin) {
			pthread_mutex_lock(&s->lock);
			s->st.text_messages++;
			memcpy(s->st.last_text, c->text, sizeof(c->text));
			pthread_mutex_unlock(&s->lock);
			c->text_len = 0;
		}
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	if (c->gen != s->gen) {
		c->gen = s->gen;
		c->msg_rec = 0;
	}
	keep(s, in, len);
	c->msg_len += len;
	c->msg_rec += len;
	if (fin) {
		s->st.messages++;
		if (c->msg_len > s->st.max_message)
			s->st.max_message = c->msg_len;
		arrival(s, s->st.bytes - c->msg_rec, c->msg_rec);
		c->msg_len = c->msg_rec = 0;
	}
	pthread_mutex_unlock(&s->lock);
	pace(s, c, len);
	return 0;
}

/* ---- HTTP ---- */

static int http_request(struct vw_testsrv *s, struct conn *c, struct lws *wsi)
{
	char *uri, te[64];
	int uri_len, meth = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
	static const enum lws_token_indexes tok[] = {WSI_TOKEN_HTTP_TRANSFER_ENCODING};

	conn_begin(s, c, wsi);
	if (!authorised(s, wsi)) {
		if (lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL))
			return -1;
		if (meth != LWSHUMETH_POST && meth != LWSHUMETH_PUT)
			return lws_http_transaction_completed(wsi);
		/* Hanging up at once could reset the connection while the client is still sending,
		 * and destroy the 401 before it is read: discard the body for a moment instead. */
		c->refused = true;
		lws_sul_schedule(s->ctx, 0, &c->sul_timer, kill_cb, 1000 * 1000);
		return 0;
	}
	if (meth != LWSHUMETH_POST && meth != LWSHUMETH_PUT) {
		if (lws_return_http_status(wsi, HTTP_STATUS_OK, NULL))
			return -1;
		return lws_http_transaction_completed(wsi);
	}
	copy_token(wsi, te, sizeof(te), tok, 1);
	c->chunked = strcasestr(te, "chunked") != NULL;
	c->has_length = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
	opened(s, c);
	/* lws 4.1 drops a connection that holds its header table for over timeout_secs_ah_idle +
	 * 360 s (6 min 10 s by default), which a streamed body would; all we need is copied.
	 * (Not with Content-Length: lws still reads the table to handle "Content-Length: 0".) */
	if (!c->has_length)
		lws_http_headers_detach(wsi);
	return 0;
}

/* Answers and hangs up: returning -1 from the callback closes the connection. */
static int http_finish(struct vw_testsrv *s, struct conn *c, struct lws *wsi, int *field, unsigned status)
{
	count(s, field);
	conn_end(s, c);
	lws_return_http_status(wsi, status, NULL);
	return -1;
}

static int http_body(struct vw_testsrv *s, struct conn *c, struct lws *wsi, uint8_t *in, size_t len)
{
	size_t n = len;

	if (c->refused || !len)
		return 0;
	if (c->chunked)
		n = vw_chunked_feed(&c->dc, in, len, in); /* lws is done with its read buffer after us */
	if (n) {
		pthread_mutex_lock(&s->lock);
		keep(s, in, n);
		arrival(s, s->st.bytes - n, n);
		pthread_mutex_unlock(&s->lock);
	}
	/* lws would wait for more body after the zero-size chunk (it does not decode chunked
	 * requests), so the end of the body is ours to act on. */
	if (c->chunked && c->dc.error)
		return http_finish(s, c, wsi, &s->st.bad_bodies, HTTP_STATUS_BAD_REQUEST);
	if (c->chunked && c->dc.done)
		return http_finish(s, c, wsi, &s->st.bodies_complete, HTTP_STATUS_OK);
	pace(s, c, len);
	return 0;
}

static int http_body_done(struct vw_testsrv *s, struct conn *c, struct lws *wsi)
{
	if (c->refused)
		return -1;
	/* Without Content-Length lws takes a POST body to be 100 MiB long and ends it there, after
	 * which it drops whatever else comes: hang up so that the client sees it. */
	if (!c->has_length) {
		count(s, &s->st.capped_bodies);
		conn_end(s, c);
		return -1;
	}
	count(s, &s->st.bodies_complete);
	conn_end(s, c);
	if (lws_return_http_status(wsi, HTTP_STATUS_OK, NULL))
		return -1;
	return lws_http_transaction_completed(wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct vw_testsrv *s = lws_context_user(lws_get_context(wsi));
	struct conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_HTTP:
	case LWS_CALLBACK_HTTP_BODY:
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!c)
			return -1; /* lws allocates session data before these; never seen */
		break;
	default:
		break;
	}

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		if (s->o.rcvbuf > 0)
			setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_RCVBUF, &s->o.rcvbuf, sizeof(s->o.rcvbuf));
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (authorised(s, wsi))
			return 0;
		/* > 0: we answered; lws completes the transaction */
		return lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, NULL) ? -1 : 1;
	case LWS_CALLBACK_ESTABLISHED:
		conn_begin(s, c, wsi);
		opened(s, c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return ws_receive(s, c, wsi, in, len);
	case LWS_CALLBACK_HTTP:
		return http_request(s, c, wsi);
	case LWS_CALLBACK_HTTP_BODY:
		return http_body(s, c, wsi, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return http_body_done(s, c, wsi);
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* lws frees the session data next */
		if (c)
			conn_end(s, c);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	/* First in the list: it takes websocket upgrades that name no subprotocol, and HTTP. */
	{"vw-testsrv", callback, sizeof(struct conn), RX_BUFFER, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- lifetime ---- */

static void *service(void *arg)
{
	struct vw_testsrv *s = arg;
	while (!atomic_load(&s->stop))
		if (lws_service(s->ctx, 0) < 0)
			break;
	return NULL;
}

/* Binds the loopback address (127.0.0.1, or ::1 for ipv6) at port (0: any) the way lws will,
 * with SO_REUSEADDR, so that a TIME_WAIT left by a stopped server does not count but a listener
 * does; returns the port, or -1 if taken. Probing first keeps lws from logging a bind error for
 * every retry. */
static int probe_port(int port, bool ipv6)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct sockaddr *a = ipv6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a4;
	socklen_t l = ipv6 ? sizeof(a6) : sizeof(a4);
	int fd = socket(a->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ret = -1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, a, l) == 0 && getsockname(fd, a, &l) == 0)
		ret = ntohs(ipv6 ? a6.sin6_port : a4.sin_port);
	close(fd);
	return ret;
}

static int copy_str(char *dst, size_t size, const char *src)
{
	if (!src) {
		dst[0] = 0;
		return 0;
	}
	if (strlen(src) >= size)
		return -ENAMETOOLONG;
	strcpy(dst, src);
	return 0;
}

static struct lws_context *create(struct vw_testsrv *s)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.port = s->port;
	info.iface = s->o.ipv6 ? "::1" : "127.0.0.1";
	info.protocols = protocols;
	info.user = s;
	info.options = s->o.ipv6 ? LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE
				 : LWS_SERVER_OPTION_DISABLE_IPV6;
	info.pt_serv_buf_size = RX_BUFFER;
	/* The default (20 s) would drop an HTTP body that pause_after_ms stopped reading: a test
	 * relay that stops reading must look stuck, not hang up. */
	info.timeout_secs = 300;
	if (*s->cert) {
		/* lws 4.1 re-allocates its process-wide OpenSSL ex-data indexes in every context made
		 * with this option, after which a context made earlier no longer finds the bookkeeping
		 * of its client SSL_CTX and leaks it when destroyed. Plain servers therefore leave
		 * OpenSSL alone, and a TLS server hands lws a client SSL_CTX of its own (never used:
		 * the server dials nowhere) that lws will not try to free. */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.provided_client_ssl_ctx = s->client_tls;
		info.ssl_cert_filepath = s->cert;
		info.ssl_private_key_filepath = s->key;
		info.alpn = "http/1.1"; /* no h2: its bodies and websockets take other paths */
	}
	return lws_create_context(&info);
}

int vw_testsrv_restart_on(struct vw_testsrv **out, const struct vw_testsrv_opts *o, int port)
{
	static const struct vw_testsrv_opts defaults;
	struct vw_testsrv *s;
	int ret;

	*out = NULL;
	if (!o)
		o = &defaults;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	if ((ret = copy_str(s->cert, sizeof(s->cert), o->cert)) < 0 ||
	    (ret = copy_str(s->key, sizeof(s->key), o->key)) < 0 ||
	    (ret = copy_str(s->bearer, sizeof(s->bearer), o->bearer)) < 0)
		goto fail;
	s->o.cert = s->o.key = s->o.bearer = NULL; /* the copies above are the ones to use */
	/* lws would retry a bad path below, printing errors: check up front */
	if (*s->cert && (access(s->cert, R_OK) < 0 || access(s->key, R_OK) < 0)) {
		ret = -errno;
		goto fail;
	}
	if (*s->cert && !(s->client_tls = SSL_CTX_new(TLS_client_method()))) {
		ret = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->stop, false);
	/* lws's default level prints notices for every context; lower it to errors, but only if
	 * nobody (the code under test) has chosen a level already: the setting is process-wide. */
	if (lwsl_visible(LLL_NOTICE))
		lws_set_log_level(LLL_ERR, NULL);

	/* A fixed port may be held a moment longer by a server just stopped in another process;
	 * a free port found by bind(0) may be taken by someone else before lws binds it. */
	for (int attempt = 0; attempt < 20 && !s->ctx; attempt++) {
		if (attempt)
			usleep(50 * 1000);
		s->port = probe_port(port > 0 ? port : 0, s->o.ipv6);
		if (s->port > 0)
			s->ctx = create(s);
	}
	if (!s->ctx) {
		ret = -EADDRINUSE;
		goto fail_lock;
	}
	ret = -pthread_create(&s->thread, NULL, service, s);
	if (ret < 0)
		goto fail_ctx;
	*out = s;
	return 0;
fail_ctx:
	lws_context_destroy(s->ctx);
fail_lock:
	pthread_mutex_destroy(&s->lock);
fail:
	SSL_CTX_free(s->client_tls);
	free(s);
	return ret;
}

int vw_testsrv_start(struct vw_testsrv **out, const struct vw_testsrv_opts *o)
{
	return vw_testsrv_restart_on(out, o, 0);
}

int vw_testsrv_port(struct vw_testsrv *s)
{
	return s->port;
}

void vw_testsrv_stop(struct vw_testsrv *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	lws_cancel_service(s->ctx);
	pthread_join(s->thread, NULL);
	/* The service thread is gone, so this thread may now own the context: the destroy closes
	 * the listener and every connection (their CLOSED callbacks still find s intact). */
	lws_context_destroy(s->ctx);
	SSL_CTX_free(s->client_tls);
	pthread_mutex_destroy(&s->lock);
	free(s->data);
	free(s->arr);
	free(s);
}

void vw_testsrv_stats(struct vw_testsrv *s, struct vw_testsrv_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}

uint8_t *vw_testsrv_data(struct vw_testsrv *s, size_t *len)
{
	pthread_mutex_lock(&s->lock);
	uint8_t *d = malloc(s->len ? s->len : 1);
	if (d && s->len)
		memcpy(d, s->data, s->len);
	*len = d ? s->len : 0;
	pthread_mutex_unlock(&s->lock);
	return d;
}

size_t vw_testsrv_arrivals(struct vw_testsrv *s, struct vw_testsrv_arrival **out)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->n_arr;
	*out = malloc((n ? n : 1) * sizeof(**out));
	if (*out && n)
		memcpy(*out, s->arr, n * sizeof(**out));
	pthread_mutex_unlock(&s->lock);
	return *out ? n : 0;
}

void vw_testsrv_reset(struct vw_testsrv *s)
{
	pthread_mutex_lock(&s->lock);
	int open = s->st.open; /* a live tally, not a recording */
	s->len = 0;
	s->n_arr = 0;
	s->gen++;
	memset(&s->st, 0, sizeof(s->st));
	s->st.open = open;
	pthread_mutex_unlock(&s->lock);
}
