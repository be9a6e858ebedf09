/* vw_http: see vw_http.h. */
#include "vw_http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "vw_chunked.h"
#include "vw_sink.h"
#include "vw_util.h"

#define HEAD_DEADLINE_NS (10 * VW_NS_PER_SEC) /* an accepted connection must say what it wants by then */
#define DRAIN_NS (2 * VW_NS_PER_SEC)          /* a refused client has this long to stop sending */
#define PEEK_MIN_NS (5 * VW_NS_PER_MS)        /* a partial head is looked at again this soon ... */
#define PEEK_MAX_NS (200 * VW_NS_PER_MS)      /* ... backing off to this while it does not grow */
#define REFUSAL_LOG_NS (10 * VW_NS_PER_SEC)
#define BIND_RETRY_NS (2 * VW_NS_PER_SEC)
#define STATIC_MAX (4 * 1024 * 1024)

/* Per connection (lws allocates it zeroed as the protocol's per-session data). */
struct vw_http_conn {
	struct vw_http *h;
	struct lws *wsi;
	uint64_t id;
	bool listed;
	struct vw_http_conn *next;

	/* HTTP transaction */
	bool waiting;   /* handed to the control plane, response not here yet */
	bool have_resp;
	enum vw_http_kind kind;
	char method[8];
	char path[VW_PATH_MAX];
	char *body;
	size_t len;
	bool too_big, chunked;
	bool close_after; /* the rest of the connection cannot be framed: close once answered */
	bool view_only;   /* /api/status with the view token: the viewer's part only */
	bool body_pending; /* a request body is still arriving: an early answer waits for its end */
	struct vw_chunked dc;
	int status;
	char ctype[48];
	char *resp;
	size_t resp_len, sent;
	bool headers_sent;
	const char *extra_header; /* e.g. WWW-Authenticate on a 401 */

	/* websocket: a /live viewer, a /ws/ topic client or /ws/api */
	bool viewer, subscribed, closing;
	struct vw_sink sink;
	uint8_t *tx;
	char why[100];
	uint16_t close_code; /* with closing: 0 is going away */
	bool live;           /* /live/NAME: counts against max_viewers */
	bool topic, two_way; /* /ws/NAME; a data topic (its messages go to the hub) */
	bool api, api_ok;    /* /ws/api; its token checked (or none needed) */
	char name[VW_NAME_MAX];
	uint8_t *rx;         /* the message arriving */
	size_t rx_len, rx_cap;
	bool rx_active, rx_text;
	struct vw_chunk *early[VW_HTTP_WS_EARLY]; /* sent before it was attached */
	int n_early;
	uint64_t seen_overflows; /* of its queue, already logged */
	lws_sorted_usec_list_t ka; /* keepalive: ping the silent, close the dead */
	int64_t heard_ns, ping_ns; /* last message or pong from the client; last ping to it */
	bool ping_due;
	struct api_reply *replies; /* /ws/api: answers to send, in order */
	int n_replies, in_flight;
	size_t reply_off;
};

struct api_reply {
	char *text;
	size_t len;
	struct api_reply *next;
};

void vw_http_req_free(struct vw_http_req *r)
{
	if (r) {
		free(r->body);
		free(r);
	}
}

/* ---- connection list (service thread) ---- */

static void list_add(struct vw_http *h, struct vw_http_conn *c)
{
	if (c->listed)
		return;
	c->listed = true;
	c->next = h->conns;
	h->conns = c;
}

static void list_del(struct vw_http *h, struct vw_http_conn *c)
{
	if (!c->listed)
		return;
	for (struct vw_http_conn **p = &h->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->listed = false;
}

static struct vw_http_conn *find(struct vw_http *h, uint64_t id)
{
	for (struct vw_http_conn *c = h->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void viewer_release(struct vw_http_conn *c)
{
	lws_sul_cancel(&c->ka);
	if (c->subscribed) {
		vw_sink_leave(&c->sink);
		vw_sink_fini(&c->sink);
		c->subscribed = false;
	}
	free(c->tx);
	c->tx = NULL;
	free(c->rx);
	c->rx = NULL;
	c->rx_len = c->rx_cap = 0;
	c->rx_active = false;
	for (int i = 0; i < c->n_early; i++)
		vw_chunk_unref(c->early[i]);
	c->n_early = 0;
	while (c->replies) {
		struct api_reply *r = c->replies;
		c->replies = r->next;
		free(r->text);
		free(r);
	}
	c->n_replies = 0;
}

static void transaction_reset(struct vw_http_conn *c)
{
	free(c->body);
	free(c->resp);
	c->body = c->resp = NULL;
	c->len = c->resp_len = c->sent = 0;
	c->waiting = c->have_resp = c->headers_sent = c->too_big = c->chunked = c->body_pending = false;
	c->extra_header = NULL;
	c->close_after = c->view_only = false;
	memset(&c->dc, 0, sizeof(c->dc));
}

/* ---- responses ---- */

static void set_response(struct vw_http_conn *c, int status, const char *ctype, char *body, size_t len)
{
	free(c->resp);
	c->status = status;
	vw_strlcpy(c->ctype, ctype ? ctype : "application/json", sizeof(c->ctype));
	c->resp = body;
	c->resp_len = body ? len : 0;
	c->sent = 0;
	c->have_resp = true;
	c->waiting = false;
	if (!c->body_pending)
		lws_callback_on_writable(c->wsi);
}

static void respond_error(struct vw_http_conn *c, int status, const char *msg)
{
	char *b = NULL;
	int n = asprintf(&b, "{\"error\":\"%s\"}", msg); /* messages here are ours: no quoting needed */
	set_response(c, status, "application/json", n < 0 ? NULL : b, n < 0 ? 0 : (size_t)n);
}

static int write_response(struct vw_http_conn *c)
{
	uint8_t buf[LWS_PRE + 16384], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	struct lws *wsi = c->wsi;

	if (!c->have_resp)
		return 0;
	if (!c->headers_sent) {
		if (lws_add_http_common_headers(wsi, (unsigned)c->status, c->ctype, (lws_filepos_t)c->resp_len, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:", (const uint8_t *)"no-store", 8, &p,
						end))
			return -1;
		if (c->extra_header) {
			const char *colon = strchr(c->extra_header, ':');
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(colon - c->extra_header + 1), c->extra_header);
			if (lws_add_http_header_by_name(wsi, (const uint8_t *)name, (const uint8_t *)colon + 2,
							(int)strlen(colon + 2), &p, end))
				return -1;
		}
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		c->headers_sent = true;
		if (c->resp_len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		size_t n = c->resp_len - c->sent;
		if (n > sizeof(buf) - LWS_PRE - 1)
			n = sizeof(buf) - LWS_PRE - 1;
		memcpy(start, c->resp + c->sent, n);
		c->sent += n;
		bool last = c->sent >= c->resp_len;
		if (lws_write(wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	bool close = c->close_after;
	transaction_reset(c);
	/* lws may free the per-session data when a kept-alive transaction completes: the next
	 * request lists it again */
	list_del(c->h, c);
	if (close)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

struct respond_job {
	struct vw_http *h;
	uint64_t id;
	int status;
	char ctype[48];
	char *body;
	size_t len;
};

static void respond_job(void *arg)
{
	struct respond_job *j = arg;
	struct vw_http_conn *c = find(j->h, j->id);

	if (c && c->waiting && !c->viewer) {
		set_response(c, j->status, j->ctype, j->body, j->len);
		j->body = NULL;
	}
	free(j->body);
	free(j);
}

void vw_http_respond(struct vw_http *h, uint64_t id, int status, const char *content_type, char *body, size_t len)
{
	struct respond_job *j = calloc(1, sizeof(*j));

	if (!j) {
		free(body);
		return;
	}
	*j = (struct respond_job){.h = h, .id = id, .status = status, .body = body, .len = len};
	vw_strlcpy(j->ctype, content_type, sizeof(j->ctype));
	if (vw_net_post(h->net, respond_job, j) < 0) {
		free(body);
		free(j);
	}
}

/* ---- cross-site checks ---- */

/* "name", "name:port", "[v6]" or "[v6]:port" (n bytes): host (brackets off, lower case) and port
 * (0: none). */
static bool split_hostport(const char *s, size_t n, char *host, size_t hl, int *port)
{
	const char *h = s, *colon = NULL, *end = s + n;
	size_t k;

	*port = 0;
	if (n && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb || (rb + 1 < end && rb[1] != ':'))
			return false;
		h = s + 1;
		k = (size_t)(rb - h);
		colon = rb + 1 < end ? rb + 1 : NULL;
	} else {
		colon = memchr(s, ':', n);
		k = colon ? (size_t)(colon - s) : n;
		if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
			return false; /* an IPv6 literal must be in brackets */
	}
	if (!k || k >= hl)
		return false;
	for (size_t i = 0; i < k; i++) {
		unsigned char ch = (unsigned char)h[i];
		if (ch <= ' ' || ch == '/' || ch == '@' || ch >= 0x7f)
			return false;
		host[i] = (char)tolower(ch);
	}
	host[k] = 0;
	if (colon) {
		long v = 0;
		const char *d = colon + 1;
		if (d == end || end - d > 5)
			return false;
		for (; d < end; d++) {
			if (*d < '0' || *d > '9')
				return false;
			v = v * 10 + (*d - '0');
		}
		if (v < 1 || v > 65535)
			return false;
		*port = (int)v;
	}
	return true;
}

/* "http[s]://host[:port]" (a trailing '/' allowed, nothing else): host, port (the scheme's default
 * when absent) and whether it is https. */
static bool parse_origin(const char *o, size_t n, char *host, size_t hl, int *port, bool *tls)
{
	size_t sl;

	if (n >= 7 && !strncasecmp(o, "http://", 7))
		sl = 7, *tls = false;
	else if (n >= 8 && !strncasecmp(o, "https://", 8))
		sl = 8, *tls = true;
	else
		return false; /* "null" (a sandboxed or file: page) included */
	o += sl;
	n -= sl;
	if (n && o[n - 1] == '/')
		n--;
	if (memchr(o, '/', n) || !split_hostport(o, n, host, hl, port))
		return false;
	if (!*port)
		*port = *tls ? 443 : 80;
	return true;
}

/* Calls fn for each entry of a list separated by blanks or commas until it returns true. */
static bool each_origin(const char *list, bool (*fn)(const char *e, size_t n, void *arg), void *arg)
{
	const char *sep = " \t,";
	for (const char *p = list ? list : ""; *p;) {
		p += strspn(p, sep);
		size_t n = strcspn(p, sep);
		if (n && fn(p, n, arg))
			return true;
		p += n;
	}
	return false;
}

/* What an entry of the `origins` list is compared with: a host alone, a whole origin, or (err
 * set) nothing: the first entry that is not an origin is the answer, with its error. */
struct origin_match {
	const char *host; /* match the host only */
	const char *origin_host;
	int port;
	bool tls;
	char *err;
	size_t errlen;
};

static bool origin_matches(const char *e, size_t n, void *arg)
{
	struct origin_match *m = arg;
	char host[VW_NAME_MAX];
	int port;
	bool tls, ok = parse_origin(e, n, host, sizeof(host), &port, &tls);

	if (m->err) {
		if (!ok)
			snprintf(m->err, m->errlen, "bad origin '%.*s' (expected http://HOST[:PORT] or https://HOST[:PORT])",
				 (int)(n > 200 ? 200 : n), e);
		return !ok;
	}
	if (!ok)
		return false;
	if (m->host)
		return !strcmp(host, m->host);
	return !strcmp(host, m->origin_host) && port == m->port && tls == m->tls;
}

bool vw_http_host_ok(const char *host, const char *hostname, const char *origins)
{
	char name[VW_NAME_MAX];
	unsigned char addr[sizeof(struct in6_addr)];
	int port;

	if (!host || !*host)
		return true; /* not a browser: browsers always send one */
	if (!split_hostport(host, strlen(host), name, sizeof(name), &port))
		return false;
	if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1 || !strcmp(name, "localhost"))
		return true;
	if (hostname && *hostname) {
		size_t hl = strlen(hostname);
		if (!strcasecmp(name, hostname) || (!strncasecmp(name, hostname, hl) && !strcmp(name + hl, ".local")))
			return true;
	}
	struct origin_match m = {.host = name};
	return each_origin(origins, origin_matches, &m);
}

bool vw_http_origin_ok(const char *origin, const char *host, const char *origins)
{
	char oh[VW_NAME_MAX], hh[VW_NAME_MAX];
	int op, hp;
	bool tls;

	if (!origin)
		return true; /* not a browser (curl, scripts, relays): nothing cross-site about it */
	if (!parse_origin(origin, strlen(origin), oh, sizeof(oh), &op, &tls))
		return false;
	if (host && split_hostport(host, strlen(host), hh, sizeof(hh), &hp) && !strcmp(oh, hh) &&
	    (hp ? hp : tls ? 443 : 80) == op)
		return true; /* same origin: the page came from where this request goes */
	struct origin_match m = {.origin_host = oh, .port = op, .tls = tls};
	return each_origin(origins, origin_matches, &m);
}

int vw_http_origins_check(const char *origins, char *err, size_t errlen)
{
	struct origin_match m = {.err = err, .errlen = errlen};
	return each_origin(origins, origin_matches, &m) ? -EINVAL : 0;
}

/* The request's Host and Origin headers (empty: none); false when one is too long to hold. */
static bool cross_site_headers(struct lws *wsi, char *host, size_t hl, char *origin, size_t ol, bool *has_origin)
{
	int hn = lws_hdr_total_length(wsi, WSI_TOKEN_HOST), on = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);

	host[0] = origin[0] = 0;
	*has_origin = on > 0;
	if (hn >= (int)hl || on >= (int)ol)
		return false;
	if (hn > 0 && lws_hdr_copy(wsi, host, (int)hl, WSI_TOKEN_HOST) < 0)
		return false;
	if (on > 0 && lws_hdr_copy(wsi, origin, (int)ol, WSI_TOKEN_ORIGIN) < 0)
		return false;
	return true;
}

/* NULL when the request may go on; else why it is refused (403). Origin is checked on
 * upgrades and on requests that change state (`guard`). */
static const char *cross_site(struct vw_http *h, struct lws *wsi, bool guard)
{
	char host[VW_NAME_MAX], origin[VW_NAME_MAX + 16], origins[VW_HTTP_ORIGINS_MAX];
	bool has_origin;

	if (!cross_site_headers(wsi, host, sizeof(host), origin, sizeof(origin), &has_origin))
		return "Host or Origin header too long";
	pthread_mutex_lock(&h->lock);
	vw_strlcpy(origins, h->origins, sizeof(origins));
	pthread_mutex_unlock(&h->lock);
	if (!vw_http_host_ok(host, h->hostname, origins))
		return "the Host header does not name this server (add the name to [http] origins)";
	if (guard && !vw_http_origin_ok(has_origin ? origin : NULL, host, origins))
		return "cross-origin request refused (the page's origin is not this server or in [http] origins)";
	return NULL;
}

static void log_cross_site(struct vw_http *h, const char *what, const char *why)
{
	atomic_fetch_add(&h->refused, 1);
	vw_log_gated(h->log, &h->cross_site_log, 1, vw_now_ns(), VW_LOG_WARN, "http", "%s refused: %s", what, why);
}

/* ---- routing ---- */

static bool authorised(struct lws *wsi, const char *token, const char *token2)
{
	char auth[VW_TOKEN_MAX + 16], arg[VW_TOKEN_MAX + 8];
	const char *given = NULL;
	int n;

	if (!*token && !(token2 && *token2))
		return true;
	n = lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && !strncasecmp(auth, "Bearer ", 7))
		given = auth + 7;
	else /* browsers cannot set headers on a websocket: ?token= */
		given = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg));
	if (!given)
		return false;
	/* both compared, always: which one matched must not show in the timing */
	bool a = *token && vw_secret_equal(given, strlen(given), token);
	bool b = token2 && *token2 && vw_secret_equal(given, strlen(given), token2);
	return a || b;
}

static const char *method_of(struct lws *wsi)
{
	static const struct {
		enum lws_token_indexes tok;
		const char *name;
	} m[] = {{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},   {WSI_TOKEN_PUT_URI, "PUT"},
		 {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_PATCH_URI, "PATCH"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
		 {WSI_TOKEN_HEAD_URI, "HEAD"}};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (lws_hdr_total_length(wsi, m[i].tok))
			return m[i].name;
	return "?";
}

/* Reads www/file only if it resolves to a regular file inside www: a symlink (or a ../ that
 * lws left) leading elsewhere must not turn the preview into a file server. The www directory
 * itself may be a symlink. 0, -EACCES (outside; `why` says where it leads) or -errno. */
static int read_static(const char *www, const char *file, char **data, size_t *len, char *why, size_t whylen)
{
	char root[PATH_MAX], path[PATH_MAX + 64], real[PATH_MAX];
	struct stat st;
	ssize_t n = 0;
	int fd = -1, ret;

	*data = NULL;
	if (!realpath(www, root))
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", root, file);
	if (!realpath(path, real))
		return -errno;
	size_t rl = strlen(root);
	if (strcmp(root, "/") && (strncmp(real, root, rl) || real[rl] != '/')) {
		snprintf(why, whylen, "it leads to %s, outside %s", real, root);
		return -EACCES;
	}
	/* O_NONBLOCK: a fifo put there must not hang the service thread */
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_MAX) {
		ret = -EINVAL;
		snprintf(why, whylen, "not a regular file of at most %d bytes", STATIC_MAX);
		goto out;
	}
	ret = -ENOMEM;
	*data = malloc((size_t)st.st_size + 1);
	if (!*data)
		goto out;
	while (*len < (size_t)st.st_size && (n = read(fd, *data + *len, (size_t)st.st_size - *len)) > 0)
		*len += (size_t)n;
	ret = n < 0 ? -errno : 0;
out:
	if (ret < 0 && ret != -EINVAL && ret != -EACCES)
		snprintf(why, whylen, "%s", strerror(-ret));
	if (ret < 0) {
		free(*data);
		*data = NULL;
	}
	close(fd);
	return ret;
}

static void serve_static(struct vw_http_conn *c, const char *file, const char *ctype)
{
	char www[VW_PATH_MAX], why[2 * PATH_MAX + 64] = "";
	char *data;
	size_t len = 0;

	pthread_mutex_lock(&c->h->lock);
	vw_strlcpy(www, c->h->www, sizeof(www));
	pthread_mutex_unlock(&c->h->lock);
	int ret = read_static(www, file, &data, &len, why, sizeof(why));
	if (ret < 0) {
		vw_warn(c->h->log, "http", "cannot serve %s/%s: %s", www, file, *why ? why : strerror(-ret));
		if (ret == -EACCES)
			respond_error(c, 403, "this file is outside the www directory");
		else
			respond_error(c, 404, "the preview page is not installed (see [http] www)");
		return;
	}
	set_response(c, 200, ctype, data, len);
}

static void dispatch(struct vw_http_conn *c)
{
	struct vw_http_req *r = calloc(1, sizeof(*r));

	if (!r) {
		respond_error(c, 503, "out of memory");
		return;
	}
	r->id = c->id;
	r->kind = c->kind;
	vw_strlcpy(r->method, c->method, sizeof(r->method));
	vw_strlcpy(r->path, c->path, sizeof(r->path));
	r->view_only = c->view_only;
	r->body = c->body;
	r->len = c->len;
	c->body = NULL;
	c->len = 0;
	c->waiting = true;
	c->h->on_request(c->h->opaque, r);
}

/* Whether a Content-Type names JSON ("application/json", parameters allowed). */
static bool is_json_type(const char *t)
{
	size_t n = strlen("application/json");
	return !strncasecmp(t, "application/json", n) && (!t[n] || t[n] == ';' || t[n] == ' ' || t[n] == '\t');
}

/* LWS_CALLBACK_HTTP: a request head has arrived. Returns what the callback returns. */
static int on_http(struct vw_http_conn *c, struct lws *wsi, const char *uri)
{
	struct vw_http *h = c->h;
	char api_token[VW_TOKEN_MAX], view_token[VW_TOKEN_MAX], te[32], cl[32];
	bool get, has_body, has_length;

	transaction_reset(c);
	c->wsi = wsi;
	c->id = ++h->next_id;
	list_add(h, c);
	atomic_fetch_add(&h->requests, 1);
	vw_strlcpy(c->method, method_of(wsi), sizeof(c->method));
	vw_strlcpy(c->path, uri, sizeof(c->path));
	get = !strcmp(c->method, "GET");
	has_body = !strcmp(c->method, "POST") || !strcmp(c->method, "PUT") || !strcmp(c->method, "PATCH");
	has_length = lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
	c->chunked = lws_hdr_copy(wsi, te, sizeof(te), WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0 && !strcasecmp(te, "chunked");
	/* lws reports the end of a body only when it was given a length: without one (or chunked)
	 * nothing would ever answer, so such a request is refused at once and its connection closed */
	c->body_pending = has_body && has_length && strtoull(cl, NULL, 10) > 0;
	pthread_mutex_lock(&h->lock);
	vw_strlcpy(api_token, h->api_token, sizeof(api_token));
	vw_strlcpy(view_token, h->view_token, sizeof(view_token));
	pthread_mutex_unlock(&h->lock);

	if (has_body && (c->chunked || !has_length)) {
		c->body_pending = false;
		c->close_after = true;
		respond_error(c, 411, "a request body needs a Content-Length (chunked bodies are not taken)");
		return 0;
	}
	if (!strcmp(uri, "/healthcheck")) {
		if (!get)
			respond_error(c, 405, "/healthcheck takes GET");
		else
			set_response(c, 200, "application/json", strdup("\"ok\"\n"), 5);
		return 0;
	}
	/* what a browser could send for a page of another site: refused before anything else */
	const char *why = cross_site(h, wsi, !get && strcmp(c->method, "HEAD") && strcmp(c->method, "OPTIONS"));
	if (why) {
		log_cross_site(h, "request", why);
		respond_error(c, 403, why);
		return 0;
	}
	if (!strcmp(uri, "/") || !strcmp(uri, "/index.html") || !strcmp(uri, "/jsmpeg-player.umd.min.js")) {
		/* the page and the player hold no data: the data endpoints check the view token */
		if (!get)
			respond_error(c, 405, "static files take GET");
		else if (uri[1] == 'j')
			serve_static(c, "jsmpeg-player.umd.min.js", "application/javascript");
		else
			serve_static(c, "index.html", "text/html; charset=utf-8");
		return 0;
	}
	if (!strncmp(uri, "/live/", 6) || !strncmp(uri, "/ws/", 4)) {
		respond_error(c, 426, "/live/STREAM and /ws/TOPIC are websockets");
		return 0;
	}
	if (!strncmp(uri, "/ts/", 4)) {
		/* the front door sends ingest elsewhere; this is a later request on a kept-alive connection */
		if (strcmp(c->method, "POST") && strcmp(c->method, "PUT"))
			respond_error(c, 405, "ingest takes POST or PUT");
		else
			respond_error(c, 400, "/ts ingest must be the first request on its connection");
		return 0;
	}
	bool status = !strcmp(uri, "/api/status"), metrics = !strcmp(uri, "/metrics");
	if (!status && !metrics && strncmp(uri, "/api/", 5) != 0 && strcmp(uri, "/api")) {
		respond_error(c, 404, "no such endpoint");
		return 0;
	}
	if (!authorised(wsi, api_token, status ? view_token : NULL)) {
		c->extra_header = "www-authenticate: Bearer realm=\"vw\"";
		respond_error(c, 401, "missing or wrong token (Authorization: Bearer TOKEN)");
		return 0;
	}
	c->kind = VW_HTTP_API;
	/* the view token sees /api/status as a viewer needs it: no URLs, paths or directories */
	c->view_only = status && !authorised(wsi, api_token, NULL);
	if ((status || metrics) && !get) {
		respond_error(c, 405, "this endpoint takes GET");
		return 0;
	}
	if (!strcmp(c->method, "PATCH")) {
		respond_error(c, 405, "no endpoint takes PATCH");
		return 0;
	}
	if (has_body) {
		char type[64] = "";
		if (strtoull(cl, NULL, 10) > VW_HTTP_MAX_BODY) {
			respond_error(c, 413, "request body over 64 KiB");
			return 0;
		}
		/* a form or text/plain body is what another site's page can send without asking */
		if (c->body_pending && (lws_hdr_copy(wsi, type, sizeof(type), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0 ||
					!is_json_type(type))) {
			respond_error(c, 415, "API request bodies must be Content-Type: application/json");
			return 0;
		}
		if (c->body_pending)
			return 0; /* the body follows: HTTP_BODY, then HTTP_BODY_COMPLETION dispatches */
	}
	dispatch(c);
	return 0;
}

static void on_body(struct vw_http_conn *c, const uint8_t *in, size_t len)
{
	if (c->too_big)
		return;
	if (c->len + len > VW_HTTP_MAX_BODY + 64) { /* chunk framing counts a little */
		c->too_big = true;
		return;
	}
	char *b = realloc(c->body, c->len + len + 1);
	if (!b) {
		c->too_big = true;
		return;
	}
	c->body = b;
	if (c->chunked)
		c->len += vw_chunked_feed(&c->dc, in, len, (uint8_t *)c->body + c->len);
	else {
		memcpy(c->body + c->len, in, len);
		c->len += len;
	}
	c->body[c->len] = 0;
	if (c->len > VW_HTTP_MAX_BODY)
		c->too_big = true;
}

/* ---- websockets: /live viewers, /ws/ topics, /ws/api ---- */

int vw_http_ws_target(const char *uri, char *name, size_t n)
{
	int kind;
	size_t k;

	if (!strncmp(uri, "/live/", 6))
		kind = VW_HTTP_WS_LIVE, uri += 6;
	else if (!strncmp(uri, "/ws/", 4))
		kind = VW_HTTP_WS_TOPIC, uri += 4;
	else
		return 0;
	k = strcspn(uri, "?");
	if (k >= n)
		return -EINVAL;
	memcpy(name, uri, k);
	name[k] = 0;
	if (!vw_name_valid(name, true))
		return -EINVAL;
	if (kind == VW_HTTP_WS_TOPIC && !strcmp(name, "api"))
		kind = VW_HTTP_WS_API;
	return kind;
}

/* One message or fragment of one; 0 or -1 (the connection is done). */
static int ws_send(struct vw_http_conn *c, const uint8_t *data, size_t len, bool text, bool first, bool final)
{
	int flags = lws_write_ws_flags(text ? LWS_WRITE_TEXT : LWS_WRITE_BINARY, first, final);

	if (len)
		memcpy(c->tx + LWS_PRE, data, len);
	return lws_write(c->wsi, c->tx + LWS_PRE, len, (enum lws_write_protocol)flags) < (int)len ? -1 : 0;
}

static int ws_close(struct vw_http_conn *c)
{
	lws_close_reason(c->wsi, c->close_code ? (enum lws_close_status)c->close_code : LWS_CLOSE_STATUS_GOINGAWAY,
			 (unsigned char *)c->why, strlen(c->why));
	return -1;
}

/* Every second while a websocket is open: a client silent for a third of ws_timeout is pinged
 * (browsers, websocat, Python and Node clients answer by themselves); one not heard from for the
 * whole of it is closed. The close goes out politely when the connection can still be written,
 * and the connection is cut 2 s later regardless: a dead peer never makes it writable. */
static void keepalive_cb(lws_sorted_usec_list_t *sul)
{
	struct vw_http_conn *c = lws_container_of(sul, struct vw_http_conn, ka);
	int64_t now = vw_now_ns(), timeout = atomic_load(&c->h->ws_timeout_ns);

	if (!c->wsi || c->closing)
		return;
	if (now - c->heard_ns >= timeout) {
		vw_log_gated(c->h->log, &c->h->ws_log, 1, now, VW_LOG_WARN, "http",
			     "%s%s: a client silent for %lld s (no answer to pings) was closed", c->live ? "/live/" : "/ws/",
			     c->api ? "api" : c->name, (long long)(timeout / VW_NS_PER_SEC));
		c->closing = true;
		c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		snprintf(c->why, sizeof(c->why), "no answer to pings for %lld s", (long long)(timeout / VW_NS_PER_SEC));
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, 2);
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (now - c->heard_ns >= timeout / 3 && now - c->ping_ns >= timeout / 3) {
		c->ping_due = true;
		lws_callback_on_writable(c->wsi);
	}
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->ka, keepalive_cb, LWS_US_PER_SEC);
}

static void keepalive_start(struct vw_http_conn *c)
{
	c->heard_ns = c->ping_ns = vw_now_ns();
	lws_sul_schedule(lws_get_context(c->wsi), 0, &c->ka, keepalive_cb, LWS_US_PER_SEC);
}

/* The ping goes alone in its write, between messages: not between the fragments of one. It
 * carries a payload because lws (4.1) does not report an empty pong. */
static int send_ping(struct vw_http_conn *c)
{
	uint8_t buf[LWS_PRE + 8];

	c->ping_due = false;
	c->ping_ns = vw_now_ns();
	memcpy(buf + LWS_PRE, "vw-alive", 8);
	if (lws_write(c->wsi, buf + LWS_PRE, 8, LWS_WRITE_PING) < 8)
		return -1;
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* Says (once per window, with a count) that a slow topic client lost what was queued for it. */
static void note_overflow(struct vw_http_conn *c)
{
	struct vw_sub_stats st;

	vw_sub_get_stats(&c->sink.sub, &st);
	if (st.overflows == c->seen_overflows)
		return;
	c->seen_overflows = st.overflows;
	vw_log_gated(c->h->log, &c->h->ws_log, 1, vw_now_ns(), VW_LOG_WARN, "http",
		     "/ws/%s: a client too slow to read lost the messages queued for it (over %d KiB)", c->name,
		     VW_HTTP_TOPIC_QUEUE / 1024);
}

static int api_write(struct vw_http_conn *c)
{
	struct api_reply *r = c->replies;

	if (!r)
		return c->closing ? ws_close(c) : c->ping_due ? send_ping(c) : 0;
	if (c->ping_due && c->reply_off == 0)
		return send_ping(c);
	size_t left = r->len - c->reply_off, n = left < VW_TS_CHUNK_MAX ? left : VW_TS_CHUNK_MAX;
	if (ws_send(c, (const uint8_t *)r->text + c->reply_off, n, true, c->reply_off == 0, n == left) < 0)
		return -1;
	c->reply_off += n;
	if (n == left) {
		c->replies = r->next;
		c->n_replies--;
		c->reply_off = 0;
		free(r->text);
		free(r);
	}
	if (c->replies || c->closing)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static int viewer_write(struct vw_http_conn *c)
{
	struct vw_sink_msg m;
	int got;

	if (c->api)
		return api_write(c);
	if (c->closing)
		return ws_close(c);
	if (c->ping_due && !vw_sink_mid_message(&c->sink))
		return send_ping(c);
	if (!c->subscribed)
		return 0;
	got = vw_sink_next(&c->sink, &m);
	if (got < 0) {
		snprintf(c->why, sizeof(c->why), "the stream ended");
		return ws_close(c);
	}
	if (got == 0)
		return 0;
	if (c->two_way)
		note_overflow(c);
	if (ws_send(c, m.data, m.len, m.text, !m.cont, !m.more) < 0)
		return -1;
	vw_sink_sent(&c->sink, &m);
	lws_callback_on_writable(c->wsi); /* more may be queued; an idle wakeup costs nothing */
	return 0;
}

static void queue_reply(struct vw_http_conn *c, char *text)
{
	struct api_reply *r = text ? calloc(1, sizeof(*r)) : NULL, **p = &c->replies;

	if (!r || c->n_replies >= VW_HTTP_API_PENDING) {
		free(text);
		free(r);
		c->closing = true;
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		snprintf(c->why, sizeof(c->why), "too many commands waiting for their replies");
	} else {
		r->text = text;
		r->len = strlen(text);
		while (*p)
			p = &(*p)->next;
		*p = r;
		c->n_replies++;
	}
	lws_callback_on_writable(c->wsi);
}

/* A whole /ws/api message: the token first if one is needed, then commands for the control plane. */
static void api_message(struct vw_http_conn *c)
{
	struct vw_http *h = c->h;

	if (!c->api_ok) {
		char token[VW_TOKEN_MAX];
		const char *given = (const char *)c->rx;
		size_t glen = c->rx_len;
		json_t *j = json_loadb(given, glen, 0, NULL);
		if (json_is_string(json_object_get(j, "token"))) { /* {"token":"..."} or the token alone */
			given = json_string_value(json_object_get(j, "token"));
			glen = strlen(given);
		}
		pthread_mutex_lock(&h->lock);
		vw_strlcpy(token, h->api_token, sizeof(token));
		pthread_mutex_unlock(&h->lock);
		c->api_ok = c->rx_text && vw_secret_equal(given, glen, token);
		json_decref(j);
		if (!c->api_ok) {
			log_cross_site(h, "/ws/api", "wrong token in the first message");
			c->closing = true;
			c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
			snprintf(c->why, sizeof(c->why), "wrong token");
		}
		queue_reply(c, strdup(c->api_ok ? "{\"authorised\":true}" : "{\"authorised\":false}"));
		return;
	}
	if (!c->rx_text) {
		queue_reply(c, strdup("{\"error\":\"commands are JSON text messages\"}"));
		return;
	}
	struct vw_http_req *r = calloc(1, sizeof(*r));
	char *body = malloc(c->rx_len + 1);
	if (!r || !body || c->in_flight + c->n_replies >= VW_HTTP_API_PENDING) {
		free(r);
		free(body);
		queue_reply(c, NULL); /* closes it: a client that does not wait for replies */
		return;
	}
	memcpy(body, c->rx, c->rx_len);
	body[c->rx_len] = 0;
	*r = (struct vw_http_req){.id = c->id, .kind = VW_HTTP_COMMAND, .body = body, .len = c->rx_len};
	vw_strlcpy(r->method, "WS", sizeof(r->method));
	vw_strlcpy(r->path, "/ws/api", sizeof(r->path));
	c->in_flight++;
	h->on_request(h->opaque, r);
}

/* A whole message of a topic client: to the topic (never back to this client), or kept until the
 * client is attached. */
static void topic_message(struct vw_http_conn *c)
{
	if (c->subscribed && !c->two_way)
		return; /* a stream watched through /ws/: it has nothing to say to it */
	struct vw_chunk *k = vw_chunk_new(c->rx, c->rx_len, VW_CHUNK_KEY | VW_CHUNK_RAW | (c->rx_text ? VW_CHUNK_TEXT : 0),
					  vw_now_ns());
	if (!k)
		return;
	k->origin = (uintptr_t)&c->sink;
	if (c->subscribed)
		vw_hub_publish(c->sink.sub.hub, k);
	else if (c->n_early < VW_HTTP_WS_EARLY) {
		c->early[c->n_early++] = k;
		return;
	} else
		vw_log_gated(c->h->log, &c->h->ws_log, 1, vw_now_ns(), VW_LOG_WARN, "http",
			     "/ws/%s: a message sent before the topic was ready was dropped", c->name);
	vw_chunk_unref(k);
}

/* LWS_CALLBACK_RECEIVE: a piece of a message; a whole one goes on. 0, or -1 to close. */
static int ws_receive(struct vw_http_conn *c, const uint8_t *in, size_t len)
{
	c->heard_ns = vw_now_ns();
	if ((!c->topic && !c->api) || c->closing)
		return 0; /* /live viewers have nothing to say; a closing one is not listened to */
	if (!c->rx_active) {
		c->rx_active = true;
		c->rx_len = 0;
		c->rx_text = !lws_frame_is_binary(c->wsi);
	}
	if (c->rx_len + len > VW_HTTP_WS_MAX_MESSAGE) {
		vw_log_gated(c->h->log, &c->h->ws_log, 1, vw_now_ns(), VW_LOG_WARN, "http",
			     "/ws/%s: a message over %d KiB refused (closed with 1009)", c->name,
			     VW_HTTP_WS_MAX_MESSAGE / 1024);
		snprintf(c->why, sizeof(c->why), "message over %d KiB", VW_HTTP_WS_MAX_MESSAGE / 1024);
		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)c->why, strlen(c->why));
		return -1;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 4096;
		while (cap < c->rx_len + len)
			cap *= 2;
		if (cap > VW_HTTP_WS_MAX_MESSAGE)
			cap = VW_HTTP_WS_MAX_MESSAGE;
		uint8_t *b = realloc(c->rx, cap + 1);
		if (!b)
			return -1;
		c->rx = b;
		c->rx_cap = cap;
	}
	if (len)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(c->wsi))
		return 0;
	c->rx_active = false;
	if (c->api)
		api_message(c);
	else
		topic_message(c);
	return 0;
}

/* A refused websocket upgrade gets a real HTTP answer (JSON like the rest), not a hang-up. */
static int refuse_upgrade(struct vw_http *h, struct lws *wsi, int status, const char *msg, const char *extra)
{
	uint8_t buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	char body[200];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	const char *value = extra ? extra + strlen(extra) + 1 : NULL; /* extra: "name:\0value" */

	atomic_fetch_add(&h->refused, 1);
	if (lws_add_http_common_headers(wsi, (unsigned)status, "application/json", (lws_filepos_t)n, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const uint8_t *)"cache-control:", (const uint8_t *)"no-store", 8, &p,
					end) ||
	    (extra && lws_add_http_header_by_name(wsi, (const uint8_t *)extra, (const uint8_t *)value,
						  (int)strlen(value), &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end))
		return -1;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) != (int)(p - start) ||
	    lws_write(wsi, (uint8_t *)body, (size_t)n, LWS_WRITE_HTTP_FINAL) != n)
		return -1;
	return 1;
}

/* Whether a viewer may watch: no view token set, or the view token or the API token given (whoever
 * may change the streams may also watch them: the setup page opens with the API token). */
static bool may_view(struct vw_http *h, struct lws *wsi)
{
	char api_token[VW_TOKEN_MAX], view_token[VW_TOKEN_MAX];

	pthread_mutex_lock(&h->lock);
	vw_strlcpy(api_token, h->api_token, sizeof(api_token));
	vw_strlcpy(view_token, h->view_token, sizeof(view_token));
	pthread_mutex_unlock(&h->lock);
	return !*view_token || authorised(wsi, view_token, api_token);
}

/* Whether the handshake carries a token (Authorization or ?token=), right or wrong. */
static bool token_given(struct lws *wsi)
{
	char arg[VW_TOKEN_MAX + 8];
	return lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 ||
	       lws_get_urlarg_by_name(wsi, "token=", arg, sizeof(arg)) != NULL;
}

/* /ws/api: with an API token set, a token given with the handshake must be it; without one, the
 * first message must be (checked then). */
static bool api_handshake_ok(struct vw_http *h, struct lws *wsi, bool *authed)
{
	char api_token[VW_TOKEN_MAX];

	pthread_mutex_lock(&h->lock);
	vw_strlcpy(api_token, h->api_token, sizeof(api_token));
	pthread_mutex_unlock(&h->lock);
	*authed = authorised(wsi, api_token, NULL);
	return *authed || !token_given(wsi);
}

/* Who may open this websocket; NULL, or why not (with the status in *status). */
static const char *ws_refusal(struct vw_http *h, struct lws *wsi, int *status, char *name, size_t n, int *kind)
{
	char uri[VW_PATH_MAX];
	bool authed;

	*status = 404;
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 || !(*kind = vw_http_ws_target(uri, name, n)))
		return "websockets are served on /live/STREAM, /ws/TOPIC and /ws/api only";
	*status = 400;
	if (*kind < 0)
		return "not a valid stream or topic name";
	*status = 401;
	if (*kind == VW_HTTP_WS_API ? !api_handshake_ok(h, wsi, &authed) : !may_view(h, wsi))
		return *kind == VW_HTTP_WS_API ? "wrong token (Authorization: Bearer TOKEN, ?token= or the first message)"
					       : "missing or wrong view token (?token=TOKEN)";
	return NULL;
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: /live/STREAM, /ws/TOPIC and /ws/api, from this server's own
 * pages or from clients that are not browsers, with the view token (the API token on /ws/api),
 * within max_viewers and VW_HTTP_TOPIC_CLIENTS. */
static int confirm_upgrade(struct vw_http *h, struct lws *wsi)
{
	char name[VW_NAME_MAX];
	int viewers = 0, clients = 0, max = atomic_load(&h->max_viewers), status, kind = 0;
	const char *why;

	if ((why = ws_refusal(h, wsi, &status, name, sizeof(name), &kind)) && status != 401)
		return refuse_upgrade(h, wsi, status, why, NULL);
	/* a websocket is not bound by the same-origin policy: any page could watch or talk without this */
	const char *xs = cross_site(h, wsi, true);
	if (xs) {
		log_cross_site(h, "websocket", xs);
		return refuse_upgrade(h, wsi, 403, xs, NULL);
	}
	if (why)
		return refuse_upgrade(h, wsi, 401, why, "www-authenticate:\0Bearer realm=\"vw\"");
	for (struct vw_http_conn *c = h->conns; c; c = c->next) {
		viewers += c->live;
		clients += c->topic && !strcmp(c->name, name);
	}
	if (kind == VW_HTTP_WS_LIVE && viewers >= max) {
		vw_log_gated(h->log, &h->viewer_refusal_log, 1, vw_now_ns(), VW_LOG_WARN, "http",
			     "viewer refused: %d watching, max_viewers = %d", viewers, max);
		return refuse_upgrade(h, wsi, 503, "too many viewers (max_viewers)", NULL);
	}
	if (kind == VW_HTTP_WS_TOPIC && clients >= VW_HTTP_TOPIC_CLIENTS) {
		vw_log_gated(h->log, &h->viewer_refusal_log, 1, vw_now_ns(), VW_LOG_WARN, "http",
			     "/ws/%s client refused: %d clients already", name, clients);
		return refuse_upgrade(h, wsi, 503, "too many clients on this topic", NULL);
	}
	return 0;
}

/* LWS_CALLBACK_ESTABLISHED: what the websocket is; the control plane finds its stream or topic. */
static int ws_established(struct vw_http *h, struct vw_http_conn *c, struct lws *wsi)
{
	char name[VW_NAME_MAX];
	int status, kind = 0;
	bool authed = false;

	c->wsi = wsi;
	c->id = ++h->next_id;
	c->viewer = true;
	list_add(h, c);
	keepalive_start(c);
	if (ws_refusal(h, wsi, &status, name, sizeof(name), &kind))
		return -1;
	vw_strlcpy(c->name, name, sizeof(c->name));
	if (kind == VW_HTTP_WS_API) {
		c->api = true;
		api_handshake_ok(h, wsi, &authed);
		pthread_mutex_lock(&h->lock);
		c->api_ok = authed || !*h->api_token;
		pthread_mutex_unlock(&h->lock);
		c->tx = malloc(LWS_PRE + VW_TS_CHUNK_MAX);
		return c->tx ? 0 : -1;
	}
	struct vw_http_req *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	c->live = kind == VW_HTTP_WS_LIVE;
	c->topic = kind == VW_HTTP_WS_TOPIC;
	vw_strlcpy(r->path, name, sizeof(r->path));
	r->id = c->id;
	r->kind = c->live ? VW_HTTP_VIEW : VW_HTTP_TOPIC;
	vw_strlcpy(r->method, "GET", sizeof(r->method));
	h->on_request(h->opaque, r);
	return 0;
}

static int http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct vw_http_conn *c = user;
	struct vw_http *h = lws_get_vhost_user(lws_get_vhost(wsi));

	if (!h)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	if (c && !c->h)
		c->h = h;
	switch (reason) {
	case LWS_CALLBACK_WSI_CREATE: /* every connection lws holds, whatever it turns into */
		atomic_fetch_add(&h->open_conns, 1);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(h, wsi);
	case LWS_CALLBACK_HTTP:
		return on_http(c, wsi, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_BODY:
		on_body(c, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!c->body_pending)
			return 0; /* no body was announced: the request is answered already */
		c->body_pending = false;
		if (c->have_resp) /* answered from the head already (401, 404, 413...) */
			lws_callback_on_writable(wsi);
		else if (c->too_big || (c->chunked && c->dc.error))
			respond_error(c, c->too_big ? 413 : 400, c->too_big ? "request body over 64 KiB" : "malformed chunked body");
		else
			dispatch(c);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_response(c);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char name[VW_NAME_MAX];
		int status, kind;
		/* confirm_upgrade has answered every refusal already; this is the last word */
		if (ws_refusal(h, wsi, &status, name, sizeof(name), &kind) || cross_site(h, wsi, true)) {
			vw_info(h->log, "http", "websocket refused");
			return 1;
		}
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		return ws_established(h, c, wsi);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return viewer_write(c);
	case LWS_CALLBACK_RECEIVE:
		return ws_receive(c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		c->heard_ns = vw_now_ns();
		return 0;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		if (reason == LWS_CALLBACK_WSI_DESTROY)
			atomic_fetch_sub(&h->open_conns, 1);
		if (c && c->h) {
			list_del(h, c);
			viewer_release(c);
			transaction_reset(c);
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols server_protocols[] = {
	{"vw-http", http_cb, sizeof(struct vw_http_conn), 4096, 0, NULL, 65536},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- jobs the control thread runs on the loop ---- */

struct attach_job {
	struct vw_http *h;
	uint64_t id;
	struct vw_hub *hub;
	const char *why;
	int count;
	bool topic, two_way;
};

static void attach_job(void *arg)
{
	struct attach_job *j = arg;
	struct vw_http_conn *c = find(j->h, j->id);

	if (!c || !c->viewer || c->subscribed || c->api || c->topic != j->topic)
		return;
	size_t limit = j->two_way ? VW_HTTP_TOPIC_QUEUE : VW_HTTP_VIEWER_QUEUE;
	int64_t age = j->two_way ? 0 : VW_HTTP_VIEWER_AGE_NS; /* data is not stale after a second */
	if (j->hub && (c->tx = malloc(LWS_PRE + VW_TS_CHUNK_MAX)) &&
	    vw_sink_init(&c->sink, j->hub, limit, age, j->h->net) == 0) {
		c->sink.wsi = c->wsi;
		c->two_way = j->two_way;
		if (c->two_way)
			c->sink.self = (uintptr_t)&c->sink;
		else /* JSMpeg takes MPEG-TS only: raw ingest bytes are not for a stream's viewers */
			c->sink.skip_raw = true;
		vw_sink_join(&c->sink);
		c->subscribed = true;
		atomic_fetch_add(&j->h->viewers_total, 1);
		for (int i = 0; i < c->n_early; i++) { /* what it said before it was attached */
			if (c->two_way)
				vw_hub_publish(j->hub, c->early[i]);
			vw_chunk_unref(c->early[i]);
		}
		c->n_early = 0;
		return;
	}
	c->closing = true;
	snprintf(c->why, sizeof(c->why), "%s", j->why ? j->why : "cannot serve this stream");
	lws_callback_on_writable(c->wsi);
}

void vw_http_attach(struct vw_http *h, uint64_t id, struct vw_hub *hub, const char *why)
{
	struct attach_job j = {h, id, hub, why, 0, false, false};
	vw_net_call(h->net, attach_job, &j);
}

void vw_http_attach_topic(struct vw_http *h, uint64_t id, struct vw_hub *hub, bool two_way, const char *why)
{
	struct attach_job j = {h, id, hub, why, 0, true, two_way};
	vw_net_call(h->net, attach_job, &j);
}

struct reply_job {
	struct vw_http *h;
	uint64_t id;
	char *text;
};

static void reply_job(void *arg)
{
	struct reply_job *j = arg;
	struct vw_http_conn *c = find(j->h, j->id);

	if (c && c->api && !c->closing) {
		c->in_flight--;
		queue_reply(c, j->text);
	} else
		free(j->text);
	free(j);
}

void vw_http_reply(struct vw_http *h, uint64_t id, char *text)
{
	struct reply_job *j = calloc(1, sizeof(*j));

	if (!j || !text) {
		free(text);
		free(j);
		return;
	}
	*j = (struct reply_job){h, id, text};
	if (vw_net_post(h->net, reply_job, j) < 0) {
		free(text);
		free(j);
	}
}

struct topics_job {
	struct vw_http *h;
	struct vw_http_topic *out;
	int max, n;
};

static void topics_job(void *arg)
{
	struct topics_job *j = arg;

	for (struct vw_http_conn *c = j->h->conns; c; c = c->next) {
		if (!c->topic)
			continue;
		int i = 0;
		while (i < j->n && strcmp(j->out[i].name, c->name))
			i++;
		if (i == j->n) {
			if (j->n == j->max)
				continue;
			memset(&j->out[j->n], 0, sizeof(j->out[0]));
			vw_strlcpy(j->out[j->n].name, c->name, sizeof(j->out[0].name));
			j->n++;
		}
		struct vw_http_topic *t = &j->out[i];
		t->clients++;
		if (c->subscribed) {
			struct vw_sub_stats st;
			vw_sub_get_stats(&c->sink.sub, &st);
			t->hub = c->sink.sub.hub;
			t->two_way = c->two_way;
			t->sent += st.chunks - c->sink.skipped; /* a sender's own messages never went out */
			t->dropped += st.dropped_chunks;
		}
	}
}

int vw_http_topics(struct vw_http *h, struct vw_http_topic *out, int max)
{
	struct topics_job j = {h, out, max, 0};
	if (h->vhost)
		vw_net_call(h->net, topics_job, &j);
	return j.n;
}

static void gone_job(void *arg)
{
	struct attach_job *j = arg;
	for (struct vw_http_conn *c = j->h->conns; c; c = c->next)
		if (c->viewer && c->subscribed && c->sink.sub.hub == j->hub) {
			viewer_release(c);
			c->closing = true;
			snprintf(c->why, sizeof(c->why), "the stream is being reconfigured");
			lws_callback_on_writable(c->wsi);
		}
}

void vw_http_hub_gone(struct vw_http *h, struct vw_hub *hub)
{
	struct attach_job j = {h, 0, hub, NULL, 0, false, false};
	if (h->vhost)
		vw_net_call(h->net, gone_job, &j);
}

static void count_job(void *arg)
{
	struct attach_job *j = arg;
	for (struct vw_http_conn *c = j->h->conns; c; c = c->next)
		j->count += c->viewer && c->subscribed && c->sink.sub.hub == j->hub;
}

int vw_http_viewers(struct vw_http *h, struct vw_hub *hub)
{
	struct attach_job j = {h, 0, hub, NULL, 0, false, false};
	if (h->vhost)
		vw_net_call(h->net, count_job, &j);
	return j.count;
}

int vw_http_port(struct vw_http *h)
{
	return atomic_load(&h->bound_port);
}

/* ---- the front door ---- */

struct pending {
	int fd;
	int64_t deadline, next_peek, delay;
	size_t seen;   /* bytes of the head there at the last look */
	bool draining; /* refused and answered: read until the client stops or DRAIN_NS */
	char peer[64];
};

static int open_listener(struct vw_http *h, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[16];
	int fd = -1, one = 1, ret;

	snprintf(port, sizeof(port), "%d", h->port);
	ret = getaddrinfo(h->host, port, &hints, &ai);
	if (ret) {
		snprintf(err, errlen, "bad address %s: %s", h->host, gai_strerror(ret));
		return -EINVAL;
	}
	/* The kernel's largest backlog: the door accepts at once and sheds load itself (the oldest
	 * silent connection makes room, 503 beyond max_connections); a short queue would instead
	 * drop SYNs whenever the door thread is late, and the client's retry comes a second later. */
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s:%d: %s", h->host, h->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return ret;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		atomic_store(&h->bound_port, ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
									: ((struct sockaddr_in *)&ss)->sin_port));
	return fd;
}

struct adopt_job {
	struct vw_http *h;
	int fd;
};

static void adopt_job(void *arg)
{
	struct adopt_job *j = arg;
	/* on failure lws has closed the descriptor itself */
	if (!lws_adopt_socket_vhost(j->h->vhost, j->fd))
		vw_warn(j->h->log, "http", "could not take a connection into the event loop");
}

static void peer_name(int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[64] = "?";
	int port = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(out, n, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* Reads and discards what a refused client still sends: 0 while it goes on, -1 once it is done. */
static int drain(int fd, char *scratch)
{
	for (int i = 0; i < 16; i++) { /* bounded: a fast sender must not hold the door */
		ssize_t n = recv(fd, scratch, VW_HTTP_MAX_HEAD + 1, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			return -1;
		if (n < 0)
			return 0;
	}
	return 0;
}

/* Answers a connection the door will not take, then keeps it to drain: closing with unread data
 * would reset the connection, and the reset could overtake the answer. Logged at most every
 * REFUSAL_LOG_NS, with a count (h->refusal_log): a flood of refusals must not become a flood of
 * log lines. */
static void refuse(struct vw_http *h, struct pending *p, char *scratch, int status, const char *reason,
		   const char *msg, int64_t now)
{
	char body[200], resp[512];
	int blen = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
	int len = snprintf(resp, sizeof(resp),
			   "HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
			   "cache-control: no-store\r\nconnection: close\r\n%s\r\n%s",
			   status, reason, blen, status == 503 ? "retry-after: 1\r\n" : "", body);

	atomic_fetch_add(&h->refused, 1);
	vw_log_gated(h->log, &h->refusal_log, 1, now, VW_LOG_WARN, "http", "%s refused: %d %s", p->peer, status, msg);
	drain(p->fd, scratch);
	if (send(p->fd, resp, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* gone or not reading: it is dropped all the same */
	}
	shutdown(p->fd, SHUT_WR);
	p->draining = true;
	p->deadline = now + DRAIN_NS;
	p->delay = 0;
}

/* Decides where a connection goes once its request head is whole: 1 decided (handed over, or
 * answered and draining), 0 wait, -1 drop. `b` has room for VW_HTTP_MAX_HEAD + 1 bytes. */
static int route(struct vw_http *h, struct pending *p, char *b, int64_t now)
{
	ssize_t n = recv(p->fd, b, VW_HTTP_MAX_HEAD + 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		return -1;
	if (n < 0)
		return 0;
	const char *crlf = memmem(b, (size_t)n, "\r\n\r\n", 4), *lf = memmem(b, (size_t)n, "\n\n", 2);
	if (!crlf && !lf) {
		if (n > VW_HTTP_MAX_HEAD) {
			refuse(h, p, b, 431, "Request Header Fields Too Large", "request head over 8 KiB", now);
			return 1;
		}
		/* a head in pieces: look again soon while it grows, less often while it does not */
		p->delay = (size_t)n > p->seen ? PEEK_MIN_NS : p->delay * 2 > PEEK_MAX_NS ? PEEK_MAX_NS : p->delay * 2;
		p->seen = (size_t)n;
		return 0;
	}
	/* origin-form only ("GET /path HTTP/1.1"): no absolute URIs, no proxying */
	const char *sp = memchr(b, ' ', (size_t)n);
	if (!sp || sp[1] != '/') {
		refuse(h, p, b, 400, "Bad Request", "the request target must be a path such as /api/status", now);
		return 1;
	}
	if ((n >= 9 && !memcmp(b, "POST /ts/", 9)) || (n >= 8 && !memcmp(b, "PUT /ts/", 8))) {
		vw_ingest_take(h->ingest, p->fd, p->peer);
		return 1;
	}
	int max = atomic_load(&h->max_connections);
	if (atomic_load(&h->open_conns) >= max) {
		char msg[96];
		snprintf(msg, sizeof(msg), "too many connections (max_connections = %d)", max);
		refuse(h, p, b, 503, "Service Unavailable", msg, now);
		return 1;
	}
	struct adopt_job j = {h, p->fd};
	if (vw_net_call(h->net, adopt_job, &j) < 0)
		close(p->fd);
	return 1;
}

/* The oldest connection that has not said what it wants (or one being drained) makes room for a
 * new one: a crowd of idle connections must not lock everyone else out for HEAD_DEADLINE_NS. */
static int victim(const struct pending *pend, int np)
{
	int v = 0;
	for (int i = 0; i < np; i++) {
		if (pend[i].draining)
			return i;
		if (pend[i].deadline < pend[v].deadline)
			v = i;
	}
	return v;
}

static void *door_main(void *arg)
{
	struct vw_http *h = arg;
	struct pending pend[VW_HTTP_MAX_PENDING];
	struct pollfd pfd[VW_HTTP_MAX_PENDING + 2];
	char *head = malloc(VW_HTTP_MAX_HEAD + 1);
	int np = 0, lfd = -1;
	int64_t retry_at = 0;
	char err[300], held[48];
	struct vw_log_gate bind_log = {0}; /* once per distinct reason, not every retry */

	while (head && !atomic_load(&h->stop)) {
		int64_t now = vw_now_ns(), wait_ns = VW_NS_PER_SEC;
		int nf = 0, li = -1;

		if (lfd < 0 && now >= retry_at) {
			lfd = open_listener(h, err, sizeof(err));
			if (lfd < 0) {
				vw_log_gated(h->log, &bind_log, vw_log_key(err), now, VW_LOG_ERROR, "http",
					     "%s; retrying every %lld s", err, (long long)(BIND_RETRY_NS / VW_NS_PER_SEC));
				retry_at = now + BIND_RETRY_NS;
			} else {
				long was = vw_log_gate_clear(&bind_log);
				vw_info(h->log, "http", "listening on %s%s%s:%d%s%s", strchr(h->host, ':') ? "[" : "",
					h->host, strchr(h->host, ':') ? "]" : "", vw_http_port(h),
					was >= 0 ? " (recovered)" : "", vw_log_suppressed(held, sizeof(held), was));
			}
		}
		pfd[nf++] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
		if (lfd >= 0) {
			li = nf;
			pfd[nf++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		}
		int first = nf;
		for (int i = 0; i < np; i++) {
			bool peek_now = pend[i].next_peek <= now;
			pfd[nf++] = (struct pollfd){.fd = peek_now ? pend[i].fd : -1, .events = POLLIN};
			int64_t due = peek_now ? pend[i].deadline : pend[i].next_peek;
			if (due - now < wait_ns)
				wait_ns = due - now;
		}
		if (lfd < 0 && retry_at - now < wait_ns)
			wait_ns = retry_at - now;
		if (wait_ns < 0)
			wait_ns = 0;
		if (poll(pfd, (nfds_t)nf, (int)(wait_ns / VW_NS_PER_MS) + 1) < 0 && errno != EINTR)
			break;
		now = vw_now_ns();
		if (pfd[0].revents) {
			char drain[64];
			while (read(h->wake[0], drain, sizeof(drain)) > 0)
				;
		}
		for (int i = np - 1; i >= 0; i--) {
			int r = 0;
			if (pfd[first + i].revents)
				r = pend[i].draining ? drain(pend[i].fd, head) : route(h, &pend[i], head, now);
			else if (now >= pend[i].deadline)
				r = -1;
			else
				continue;
			if (r == 0) {
				pend[i].next_peek = now + pend[i].delay;
				continue;
			}
			if (r < 0)
				close(pend[i].fd);
			if (r < 0 || !pend[i].draining) /* gone, or handed over; a refused one stays to drain */
				pend[i] = pend[--np];
		}
		if (li >= 0 && (pfd[li].revents & POLLIN)) {
			for (int k = 0; k < VW_HTTP_MAX_PENDING; k++) { /* bounded: the loop must come round */
				int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (fd < 0)
					break;
				if (np == VW_HTTP_MAX_PENDING) {
					int v = victim(pend, np);
					if (!pend[v].draining)
						vw_debug(h->log, "http", "%s dropped: too slow to send its request",
							 pend[v].peer);
					close(pend[v].fd);
					pend[v] = pend[--np];
				}
				pend[np] = (struct pending){
					.fd = fd, .deadline = now + HEAD_DEADLINE_NS, .delay = PEEK_MIN_NS};
				peer_name(fd, pend[np].peer, sizeof(pend[np].peer));
				np++;
			}
		}
	}
	if (!head)
		vw_err(h->log, "http", "out of memory: not serving");
	for (int i = 0; i < np; i++)
		close(pend[i].fd);
	if (lfd >= 0)
		close(lfd);
	free(head);
	return NULL;
}

/* ---- lifecycle ---- */

static void apply_conf(struct vw_http *h, const struct vw_http_conf *conf, const char *default_www)
{
	pthread_mutex_lock(&h->lock);
	vw_strlcpy(h->api_token, conf->api_token, sizeof(h->api_token));
	vw_strlcpy(h->view_token, conf->view_token, sizeof(h->view_token));
	vw_strlcpy(h->www, *conf->www ? conf->www : default_www ? default_www : "", sizeof(h->www));
	vw_strlcpy(h->origins, conf->origins, sizeof(h->origins));
	pthread_mutex_unlock(&h->lock);
	/* 0 (a conf not from the parser): the defaults */
	atomic_store(&h->max_connections,
		     conf->max_connections > 0 ? conf->max_connections : VW_HTTP_DEFAULT_MAX_CONNECTIONS);
	atomic_store(&h->max_viewers, conf->max_viewers > 0 ? conf->max_viewers : VW_HTTP_DEFAULT_MAX_VIEWERS);
	atomic_store(&h->ws_timeout_ns, conf->ws_timeout_ns > 0 ? conf->ws_timeout_ns : VW_HTTP_DEFAULT_WS_TIMEOUT_NS);
	vw_ingest_set_secret(h->ingest, conf->ingest_secret);
}

void vw_http_configure(struct vw_http *h, const struct vw_http_conf *conf, const char *default_www)
{
	apply_conf(h, conf, default_www);
}

struct vhost_job {
	struct vw_http *h;
	bool destroy;
};

static void vhost_job(void *arg)
{
	struct vhost_job *j = arg;
	struct lws_context_creation_info info;

	if (j->destroy) {
		/* the viewers first: their subscriptions point into hubs that outlive this */
		for (struct vw_http_conn *c = j->h->conns; c; c = c->next)
			viewer_release(c);
		lws_vhost_destroy(j->h->vhost);
		j->h->vhost = NULL;
		return;
	}
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the front door accepts; lws serves what it adopts */
	info.protocols = server_protocols;
	info.vhost_name = "http";
	info.user = j->h;
	info.keepalive_timeout = 30;
	j->h->vhost = lws_create_vhost(j->h->net->ctx, &info);
}

int vw_http_start(struct vw_http *h, const struct vw_http_conf *conf, const char *default_www, struct vw_net *net,
		  struct vw_ingest *ingest, void (*on_request)(void *, struct vw_http_req *), void *opaque,
		  struct vw_log *log)
{
	struct vhost_job vj = {h, false};
	int ret;

	memset(h, 0, sizeof(*h));
	h->log = log;
	h->net = net;
	h->ingest = ingest;
	h->on_request = on_request;
	h->opaque = opaque;
	h->wake[0] = h->wake[1] = -1;
	atomic_init(&h->stop, false);
	atomic_init(&h->bound_port, 0);
	atomic_init(&h->max_connections, VW_HTTP_DEFAULT_MAX_CONNECTIONS);
	atomic_init(&h->max_viewers, VW_HTTP_DEFAULT_MAX_VIEWERS);
	atomic_init(&h->ws_timeout_ns, VW_HTTP_DEFAULT_WS_TIMEOUT_NS);
	h->refusal_log.window_ns = REFUSAL_LOG_NS;
	h->viewer_refusal_log.window_ns = REFUSAL_LOG_NS; /* as the door's refusals */
	h->cross_site_log.window_ns = REFUSAL_LOG_NS;
	h->ws_log.window_ns = REFUSAL_LOG_NS;
	atomic_init(&h->open_conns, 0);
	pthread_mutex_init(&h->lock, NULL);
	if (gethostname(h->hostname, sizeof(h->hostname)) < 0)
		h->hostname[0] = 0;
	h->hostname[sizeof(h->hostname) - 1] = 0;
	apply_conf(h, conf, default_www);
	if (!*conf->listen)
		return 0; /* listen = off */
	ret = vw_parse_listen(conf->listen, h->host, sizeof(h->host), &h->port);
	if (ret < 0)
		return ret;
	ret = vw_net_call(net, vhost_job, &vj);
	if (ret < 0 || !h->vhost) {
		vw_err(log, "http", "cannot create the HTTP server");
		return ret < 0 ? ret : -ENOMEM;
	}
	if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = -pthread_create(&h->thread, NULL, door_main, h);
	if (ret < 0)
		goto fail;
	vw_thread_name(h->thread, "http", "");
	h->running = true;
	return 0;
fail:
	vj.destroy = true;
	vw_net_call(net, vhost_job, &vj);
	if (h->wake[0] >= 0) {
		close(h->wake[0]);
		close(h->wake[1]);
	}
	return ret;
}

void vw_http_stop(struct vw_http *h)
{
	struct vhost_job vj = {h, true};

	if (h->running) {
		atomic_store(&h->stop, true);
		if (write(h->wake[1], "x", 1) < 0) {
			/* the pipe is non-blocking and only ever holds wakeups: full means awake */
		}
		pthread_join(h->thread, NULL);
		h->running = false;
		close(h->wake[0]);
		close(h->wake[1]);
	}
	if (h->vhost)
		vw_net_call(h->net, vhost_job, &vj);
	pthread_mutex_destroy(&h->lock);
}
