/* vw_ingest: see vw_ingest.h. */
#include "vw_ingest.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vw_chunked.h"
#include "vw_ts.h"

/* A client retrying a refused request in a loop must not become a line per attempt. */
#define REFUSAL_LOG_NS (10 * VW_NS_PER_SEC)

/* Logs `line` through `gate` at warn level; the gate is guarded by `lock`, the writing is not. */
static void log_gated(struct vw_log *log, pthread_mutex_t *lock, struct vw_log_gate *gate, const char *line)
{
	char held[48];

	pthread_mutex_lock(lock);
	long n = vw_log_gate_pass(gate, 1, vw_now_ns());
	pthread_mutex_unlock(lock);
	if (n >= 0)
		vw_warn(log, "ingest", "%s%s", line, vw_log_suppressed(held, sizeof(held), n));
}

struct vw_ingest_conn {
	struct vw_ingest *ing;
	pthread_t thread;
	int fd;
	char peer[64];
	atomic_bool done; /* the thread has finished: join it */
	struct vw_ingest_feed *feed;
	enum vw_ingest_format mode; /* AUTO while the first bytes are being looked at */
	uint8_t probe[VW_INGEST_PROBE];
	size_t probe_len;
	uint8_t *msg; /* raw: the message being gathered (VW_INGEST_RAW_MSG_MAX) */
	size_t msg_len;
	uint64_t bytes_in, messages;
	struct vw_ts_split split;
	struct vw_chunked chunked;
	struct vw_ingest_conn *next;
};

/* ---- what a body carries (pure) ---- */

enum vw_ingest_format vw_ingest_probe(const uint8_t *probe, size_t len, bool ended)
{
	if (!len)
		return ended ? VW_INGEST_RAW : VW_INGEST_AUTO;
	if (probe[0] != 0x47)
		return VW_INGEST_RAW;
	for (size_t off = VW_TS_PACKET; off < len && off < VW_INGEST_PROBE; off += VW_TS_PACKET)
		if (probe[off] != 0x47)
			return VW_INGEST_RAW;
	if (len >= VW_INGEST_PROBE)
		return VW_INGEST_TS;
	/* a whole body shorter than three packets: MPEG-TS only if it is whole packets */
	if (ended)
		return len % VW_TS_PACKET == 0 ? VW_INGEST_TS : VW_INGEST_RAW;
	return VW_INGEST_AUTO;
}

/* ---- request head (pure) ---- */

static bool header_is(const char *line, size_t n, const char *name, const char **value)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	const char *v = line + k + 1;
	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	*value = v;
	return true;
}

int vw_ingest_parse_head(const char *buf, size_t len, const char *secret, struct vw_ingest_req *r, char *err,
			 size_t errlen)
{
	const char *end = NULL, *p, *eol;
	char method[8], path[VW_PATH_MAX];
	size_t n;

	memset(r, 0, sizeof(*r));
	/* the front door's rule: the head ends at the first empty line, "\r\n" or a bare "\n" */
	for (size_t i = 1; i < len && !end; i++)
		if (buf[i] == '\n' && (buf[i - 1] == '\n' || (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')))
			end = buf + i + 1;
	if (!end) {
		if (len >= VW_INGEST_HEAD_MAX) {
			snprintf(err, errlen, "request head longer than %d bytes", VW_INGEST_HEAD_MAX);
			return 413;
		}
		return -EAGAIN;
	}
	r->head_len = (size_t)(end - buf);
	eol = memchr(buf, '\n', r->head_len);
	const char *line_end = eol > buf && eol[-1] == '\r' ? eol - 1 : eol;
	p = memchr(buf, ' ', (size_t)(line_end - buf));
	if (!p || (size_t)(p - buf) >= sizeof(method)) {
		snprintf(err, errlen, "malformed request line");
		return 400;
	}
	memcpy(method, buf, (size_t)(p - buf));
	method[p - buf] = 0;
	const char *q = memchr(p + 1, ' ', (size_t)(line_end - p - 1));
	if (!q || (n = (size_t)(q - p - 1)) >= sizeof(path) || (size_t)(line_end - q - 1) < 7 ||
	    strncmp(q + 1, "HTTP/1.", 7) != 0) {
		snprintf(err, errlen, "malformed request line");
		return 400;
	}
	memcpy(path, p + 1, n);
	path[n] = 0;
	path[strcspn(path, "?")] = 0; /* a query (ffmpeg adds none) is not part of the feed name */
	if (strncmp(path, "/ts/", 4) != 0) {
		snprintf(err, errlen, "not an ingest path");
		return 404;
	}
	if (strcmp(method, "POST") && strcmp(method, "PUT")) {
		snprintf(err, errlen, "ingest takes POST or PUT, not %s", method);
		return 405;
	}
	const char *name = path + 4;
	if (secret && *secret) {
		/* the JSMpeg relay's layout: /ts/SECRET/FEED; compared without an early exit */
		size_t sl = strlen(secret), pl = strcspn(name, "/");
		unsigned diff = (unsigned)(sl ^ pl);
		for (size_t i = 0; i < sl; i++)
			diff |= (unsigned)(secret[i] ^ (i < pl ? name[i] : 0));
		if (diff || name[pl] != '/') {
			snprintf(err, errlen, "wrong or missing ingest secret");
			return 401;
		}
		name += pl + 1;
	}
	if (!vw_name_valid(name, true)) {
		snprintf(err, errlen, "invalid feed name (letters, digits, '-', '_' and '/' between parts)");
		return 400;
	}
	vw_strlcpy(r->feed, name, sizeof(r->feed));
	for (p = eol + 1; p < end; p = eol + 1) {
		const char *v;
		eol = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)(eol - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (!n)
			break; /* the empty line */
		const char *vend = p + n;
		if (header_is(p, n, "transfer-encoding", &v)) {
			if ((size_t)(vend - v) == 7 && !strncasecmp(v, "chunked", 7))
				r->chunked = true;
			else {
				snprintf(err, errlen, "unsupported transfer-encoding");
				return 400;
			}
		} else if (header_is(p, n, "content-length", &v)) {
			char num[24];
			char *e;
			size_t vl = (size_t)(vend - v);
			if (!vl || vl >= sizeof(num) || !isdigit((unsigned char)*v)) {
				snprintf(err, errlen, "bad content-length");
				return 400;
			}
			memcpy(num, v, vl);
			num[vl] = 0;
			errno = 0;
			r->length = strtoull(num, &e, 10);
			if (*e || errno) {
				snprintf(err, errlen, "bad content-length");
				return 400;
			}
			r->has_length = true;
		} else if (header_is(p, n, "expect", &v)) {
			r->expect_continue = (size_t)(vend - v) == 12 && !strncasecmp(v, "100-continue", 12);
		}
	}
	if (r->chunked)
		r->has_length = false; /* RFC 9112: chunked wins */
	return 0;
}

/* ---- feeds ---- */

static void feed_free(struct vw_ingest_feed *f)
{
	vw_hub_destroy(&f->hub);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* A new feed (not yet on the list), or NULL without memory. */
static struct vw_ingest_feed *feed_alloc(const char *name)
{
	struct vw_ingest_feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	vw_strlcpy(f->name, name, sizeof(f->name));
	pthread_mutex_init(&f->lock, NULL);
	vw_rate_init(&f->rate, 2 * VW_NS_PER_SEC);
	f->reject_log.window_ns = REFUSAL_LOG_NS;
	atomic_init(&f->has_video, false);
	/* an external encoder cannot be asked for a keyframe: new subscribers wait for its next one */
	vw_hub_init(&f->hub, NULL, NULL);
	return f;
}

/* With ing->lock held: the feed called `name`, or a new one put on the list (`by` says for whom,
 * `idle_since_ns` when it may be reaped if nobody uses it; 0: not while in use). `capped`: unpinned
 * feeds (those no rule names) are bounded in number, as a sender could otherwise make any count. */
static struct vw_ingest_feed *find_or_add(struct vw_ingest *ing, const char *name, bool capped, int64_t idle_since_ns,
					  const char *by)
{
	struct vw_ingest_feed *f;
	int unpinned = 0;

	for (f = ing->feeds; f; f = f->next) {
		if (!strcmp(f->name, name))
			return f;
		unpinned += !f->pinned;
	}
	if ((capped && unpinned >= VW_INGEST_MAX_FEEDS) || ing->stopping || !(f = feed_alloc(name)))
		return NULL;
	f->idle_since_ns = idle_since_ns;
	f->next = ing->feeds;
	ing->feeds = f;
	vw_debug(ing->log, "ingest", "feed %s created%s", name, by);
	return f;
}

struct vw_ingest_feed *vw_ingest_feed(struct vw_ingest *ing, const char *name, bool create)
{
	struct vw_ingest_feed *f;

	pthread_mutex_lock(&ing->lock);
	if (create) {
		f = find_or_add(ing, name, false, 0, "");
		if (f)
			f->pinned = true;
	} else {
		for (f = ing->feeds; f && strcmp(f->name, name); f = f->next)
			;
	}
	pthread_mutex_unlock(&ing->lock);
	return f;
}

/* The feed an encoder names, marked busy so that it is not reaped under it; NULL when it would
 * be one feed too many. */
static struct vw_ingest_feed *conn_feed(struct vw_ingest *ing, const char *name)
{
	struct vw_ingest_feed *f;

	pthread_mutex_lock(&ing->lock);
	f = find_or_add(ing, name, true, 0, " by an encoder");
	if (f) {
		pthread_mutex_lock(&f->lock);
		f->idle_since_ns = 0;
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&ing->lock);
	return f;
}

struct vw_ingest_feed *vw_ingest_topic(struct vw_ingest *ing, const char *name)
{
	struct vw_ingest_feed *f;

	pthread_mutex_lock(&ing->lock);
	/* no encoder: freed once its last subscriber has gone and the idle time has passed */
	f = find_or_add(ing, name, true, vw_now_ns(), " by a /ws/ client");
	pthread_mutex_unlock(&ing->lock);
	return f;
}

int vw_ingest_reap_feeds(struct vw_ingest *ing)
{
	int64_t now = vw_now_ns();
	int freed = 0;

	pthread_mutex_lock(&ing->lock);
	for (struct vw_ingest_feed **p = &ing->feeds; *p;) {
		struct vw_ingest_feed *f = *p;
		bool idle = false;
		if (!f->pinned) {
			pthread_mutex_lock(&f->lock);
			idle = !f->conn && !f->n_passthroughs && f->idle_since_ns &&
			       now - f->idle_since_ns >= VW_INGEST_FEED_IDLE_S * VW_NS_PER_SEC;
			pthread_mutex_unlock(&f->lock);
			if (idle) {
				pthread_mutex_lock(&f->hub.lock);
				idle = f->hub.n_subs == 0;
				pthread_mutex_unlock(&f->hub.lock);
			}
		}
		if (!idle) {
			p = &f->next;
			continue;
		}
		*p = f->next;
		vw_debug(ing->log, "ingest", "feed %s freed: no rule names it, no encoder or subscriber for %d s",
			 f->name, VW_INGEST_FEED_IDLE_S);
		feed_free(f);
		freed++;
	}
	pthread_mutex_unlock(&ing->lock);
	return freed;
}

void vw_ingest_feed_stats(struct vw_ingest_feed *f, struct vw_ingest_stats *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	vw_strlcpy(st->format, vw_ingest_format_name(f->format), sizeof(st->format));
	if (f->st.last_ns && vw_now_ns() - f->st.last_ns > 3 * VW_NS_PER_SEC)
		st->bitrate = 0; /* nothing arrived lately: the last window's rate is history */
	pthread_mutex_unlock(&f->lock);
}

void vw_ingest_feed_set_format(struct vw_ingest_feed *f, enum vw_ingest_format format)
{
	pthread_mutex_lock(&f->lock);
	f->format = format;
	pthread_mutex_unlock(&f->lock);
}

enum vw_ingest_format vw_ingest_feed_format(struct vw_ingest_feed *f)
{
	pthread_mutex_lock(&f->lock);
	enum vw_ingest_format format = f->format;
	pthread_mutex_unlock(&f->lock);
	return format;
}

void vw_ingest_each(struct vw_ingest *ing, void (*fn)(void *opaque, struct vw_ingest_feed *f), void *opaque)
{
	pthread_mutex_lock(&ing->lock);
	for (struct vw_ingest_feed *f = ing->feeds; f; f = f->next)
		fn(opaque, f);
	pthread_mutex_unlock(&ing->lock);
}

/* A merged passthrough may hold an audio-only feed next to a video one: its chunks are start
 * points only when no feed of the passthrough carries video (else a viewer would start mid-GOP). */
static void passthrough_forward(struct vw_passthrough *r, struct vw_ingest_feed *from, struct vw_chunk *c)
{
	bool other_video = false;

	if (r->n_feeds > 1 && (c->flags & VW_CHUNK_KEY) && !(c->flags & VW_CHUNK_RAW) && !atomic_load(&from->has_video))
		for (int i = 0; i < r->n_feeds; i++)
			other_video |= r->feeds[i] != from && atomic_load(&r->feeds[i]->has_video);
	if (!other_video) {
		vw_hub_publish(&r->hub, c);
		return;
	}
	struct vw_chunk *plain = vw_chunk_new(c->data, c->len, c->flags & ~VW_CHUNK_KEY, c->capture_ns);
	if (plain) {
		vw_hub_publish(&r->hub, plain);
		vw_chunk_unref(plain);
	}
}

struct emit_ctx {
	struct vw_ingest_conn *c;
	int64_t now;
};

static void on_packets(void *opaque, const uint8_t *data, size_t len, uint32_t flags)
{
	struct emit_ctx *e = opaque;
	struct vw_ingest_feed *f = e->c->feed;
	struct vw_chunk *chunk = vw_chunk_new(data, len, flags, e->now);

	if (!chunk)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->conn == e->c) { /* an encoder that was taken over publishes nothing more */
		vw_hub_publish(&f->hub, chunk);
		for (int i = 0; i < f->n_passthroughs; i++)
			passthrough_forward(f->passthroughs[i], f, chunk);
		f->st.chunks++;
		f->st.keyframes += (flags & VW_CHUNK_KEY) != 0;
	}
	pthread_mutex_unlock(&f->lock);
	vw_chunk_unref(chunk);
}

/* ---- connections ---- */

static void reply(int fd, int status, const char *msg)
{
	char buf[600], body[400];
	const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 401 ? "Unauthorized"
			   : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
			   : status == 413 ? "Content Too Large" : status == 503 ? "Service Unavailable" : "Error";
	int bl = snprintf(body, sizeof(body), status == 200 ? "%s\n" : "{\"error\":\"%s\"}\n", msg);
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			 status, reason, status == 200 ? "text/plain" : "application/json", bl, body);
	/* best effort: the encoder may be gone, and a refusal must not wait on it */
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;
}

/* Raw: the message gathered so far goes out as one chunk. */
static void raw_flush(struct vw_ingest_conn *c)
{
	struct vw_ingest_feed *f = c->feed;
	struct vw_chunk *chunk;

	if (!c->msg_len)
		return;
	chunk = vw_chunk_new(c->msg, c->msg_len, VW_CHUNK_RAW | VW_CHUNK_KEY, vw_now_ns());
	c->msg_len = 0;
	if (!chunk)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->conn == c) {
		vw_hub_publish(&f->hub, chunk);
		for (int i = 0; i < f->n_passthroughs; i++)
			passthrough_forward(f->passthroughs[i], f, chunk);
		f->st.chunks++;
	}
	pthread_mutex_unlock(&f->lock);
	c->messages++;
	vw_chunk_unref(chunk);
}

/* Bytes of the body in the mode decided; 0, -EBADMSG (not MPEG-TS) or -ENOMEM. */
static int take_decided(struct vw_ingest_conn *c, const uint8_t *data, size_t len, int64_t now)
{
	if (c->mode == VW_INGEST_TS) {
		struct emit_ctx e = {c, now};
		int ret = vw_ts_split_feed(&c->split, data, len, on_packets, &e);
		if (c->split.st.has_video)
			atomic_store(&c->feed->has_video, true);
		return ret;
	}
	if (!c->msg && !(c->msg = malloc(VW_INGEST_RAW_MSG_MAX)))
		return -ENOMEM;
	while (len) {
		size_t n = VW_INGEST_RAW_MSG_MAX - c->msg_len;
		n = n < len ? n : len;
		memcpy(c->msg + c->msg_len, data, n);
		c->msg_len += n;
		data += n;
		len -= n;
		if (c->msg_len == VW_INGEST_RAW_MSG_MAX)
			raw_flush(c); /* what follows starts the next message */
	}
	return 0;
}

/* The mode is known (or the end of the body settles it): says so, and passes the bytes held back
 * on together with `data` (the rest of the piece that settled it, may be empty): in one piece, as
 * the encoder wrote them, so that the splitter sees a PAT just before the keyframe it precedes. */
static int probe_decide(struct vw_ingest_conn *c, enum vw_ingest_format mode, const uint8_t *data, size_t len,
			int64_t now)
{
	struct vw_ingest_feed *f = c->feed;
	int ret;

	c->mode = mode;
	pthread_mutex_lock(&f->lock);
	if (f->conn == c)
		vw_strlcpy(f->st.detected, mode == VW_INGEST_TS ? "ts" : "raw", sizeof(f->st.detected));
	pthread_mutex_unlock(&f->lock);
	vw_debug(c->ing->log, "ingest", "feed %s: %s from %s", f->name,
		 mode == VW_INGEST_TS ? "MPEG-TS" : "raw data (not MPEG-TS), forwarded as messages", c->peer);
	size_t held = c->probe_len;
	c->probe_len = 0;
	if (!held || !len)
		return held ? take_decided(c, c->probe, held, now) : len ? take_decided(c, data, len, now) : 0;
	uint8_t *both = malloc(held + len);
	if (!both)
		return -ENOMEM;
	memcpy(both, c->probe, held);
	memcpy(both + held, data, len);
	ret = take_decided(c, both, held + len, now);
	free(both);
	return ret;
}

/* Decoded body bytes; 0, -EBADMSG when the input is not MPEG-TS where it must be, or -ENOMEM. */
static int take_body(struct vw_ingest_conn *c, const uint8_t *data, size_t len)
{
	struct vw_ingest_feed *f = c->feed;
	int64_t now = vw_now_ns();
	int ret = 0;

	c->bytes_in += len;
	if (c->mode != VW_INGEST_AUTO) {
		ret = take_decided(c, data, len, now);
	} else if (!c->probe_len && len >= VW_INGEST_PROBE) { /* the usual case: settled in place */
		ret = probe_decide(c, vw_ingest_probe(data, len, false), data, len, now);
	} else {
		size_t n = VW_INGEST_PROBE - c->probe_len;
		n = n < len ? n : len;
		memcpy(c->probe + c->probe_len, data, n);
		c->probe_len += n;
		enum vw_ingest_format m = vw_ingest_probe(c->probe, c->probe_len, false);
		if (m != VW_INGEST_AUTO)
			ret = probe_decide(c, m, data + n, len - n, now);
	}

	pthread_mutex_lock(&f->lock);
	if (f->conn == c) {
		f->st.bytes += len;
		f->st.last_ns = now;
		f->st.skipped_bytes = c->split.st.skipped_bytes;
		if (vw_rate_add(&f->rate, len, now))
			f->st.bitrate = f->rate.per_sec * 8;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* The body has ended (or the encoder went): what is held back goes out. */
static void body_end(struct vw_ingest_conn *c)
{
	if (c->mode == VW_INGEST_AUTO)
		probe_decide(c, vw_ingest_probe(c->probe, c->probe_len, true), NULL, 0, vw_now_ns());
	if (c->mode == VW_INGEST_RAW)
		raw_flush(c);
}

/* Raw: whether the encoder has been quiet for `ms` (the message is complete). */
static bool raw_quiet(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 0;
}

static void set_error(struct vw_ingest_feed *f, struct vw_ingest_conn *c, const char *msg)
{
	pthread_mutex_lock(&f->lock);
	if (f->conn == c)
		vw_strlcpy(f->st.error, msg, sizeof(f->st.error));
	pthread_mutex_unlock(&f->lock);
}

static void *conn_main(void *arg)
{
	struct vw_ingest_conn *c = arg;
	struct vw_ingest *ing = c->ing;
	struct vw_ingest_req req;
	char secret[VW_TOKEN_MAX], err[256];
	uint8_t *buf = malloc(65536);
	size_t have = 0;
	uint64_t left = 0;
	int status = 0;
	ssize_t n;
	bool ended = false;

	if (!buf)
		goto out;
	pthread_mutex_lock(&ing->lock);
	vw_strlcpy(secret, ing->secret, sizeof(secret));
	pthread_mutex_unlock(&ing->lock);

	/* the head: whole within VW_INGEST_HEAD_S, however it trickles in */
	int64_t head_deadline = vw_now_ns() + VW_INGEST_HEAD_S * VW_NS_PER_SEC;
	for (;;) {
		int64_t head_left = head_deadline - vw_now_ns();
		if (head_left <= 0)
			goto out; /* too slow to say what it wants: dropped, as the front door does */
		struct timeval tv = {(time_t)(head_left / VW_NS_PER_SEC), (suseconds_t)(head_left % VW_NS_PER_SEC / 1000) + 1};
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = recv(c->fd, buf + have, VW_INGEST_HEAD_MAX - have, 0);
		if (n <= 0)
			goto out; /* closed or silent before saying anything: nothing to answer */
		have += (size_t)n;
		status = vw_ingest_parse_head((const char *)buf, have, secret, &req, err, sizeof(err));
		if (status != -EAGAIN)
			break;
	}
	if (status) {
		char line[600];
		snprintf(line, sizeof(line), "refused %s: %d %s", c->peer, status, err);
		log_gated(ing->log, &ing->lock, &ing->refusal_log, line);
		reply(c->fd, status, err);
		goto out;
	}
	struct timeval idle = {VW_INGEST_IDLE_S, 0};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	/* neither chunked nor a length: HTTP/1.0 style, the body runs until the encoder closes */
	c->feed = conn_feed(ing, req.feed);
	if (!c->feed) {
		snprintf(err, sizeof(err), "too many ingest feeds that no rule names (at most %d)", VW_INGEST_MAX_FEEDS);
		char line[600];
		snprintf(line, sizeof(line), "refused %s: 503 %s", c->peer, err);
		log_gated(ing->log, &ing->lock, &ing->refusal_log, line);
		reply(c->fd, 503, err);
		goto out;
	}
	vw_ts_split_init(&c->split);
	memset(&c->chunked, 0, sizeof(c->chunked));
	c->mode = vw_ingest_feed_format(c->feed);
	if (req.expect_continue && send(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, MSG_NOSIGNAL) < 0)
		goto out;

	/* take the feed over: an encoder that reconnects resumes it, the stale connection ends */
	pthread_mutex_lock(&c->feed->lock);
	struct vw_ingest_conn *old = c->feed->conn;
	c->feed->conn = c;
	c->feed->st.connected = true;
	c->feed->st.connections++;
	c->feed->st.error[0] = 0;
	c->feed->st.detected[0] = 0;
	if (c->mode != VW_INGEST_AUTO)
		vw_strlcpy(c->feed->st.detected, c->mode == VW_INGEST_TS ? "ts" : "raw", sizeof(c->feed->st.detected));
	vw_strlcpy(c->feed->st.peer, c->peer, sizeof(c->feed->st.peer));
	if (old)
		shutdown(old->fd, SHUT_RDWR);
	pthread_mutex_unlock(&c->feed->lock);
	vw_info(ing->log, "ingest", "feed %s: encoder %s connected (%s)%s", req.feed, c->peer,
		req.chunked ? "chunked" : req.has_length ? "content-length" : "until close", old ? ", replacing the previous one" : "");

	left = req.length;
	have -= req.head_len;
	memmove(buf, buf + req.head_len, have);
	for (;;) {
		size_t use = have;
		if (req.chunked) {
			use = vw_chunked_feed(&c->chunked, buf, have, buf);
			if (c->chunked.error) {
				snprintf(err, sizeof(err), "malformed chunked body");
				status = 400;
				break;
			}
		} else if (req.has_length && use > left) {
			use = (size_t)left;
		}
		int took = use ? take_body(c, buf, use) : 0;
		if (took == -EBADMSG) {
			snprintf(err, sizeof(err), "not MPEG-TS (no 0x47 sync every 188 bytes)%s",
				 c->mode == VW_INGEST_TS && vw_ingest_feed_format(c->feed) == VW_INGEST_TS
					 ? "; this feed is declared format = ts" : "");
			status = 400;
			break;
		}
		if (took < 0) {
			snprintf(err, sizeof(err), "out of memory");
			status = 503;
			break;
		}
		if (req.has_length) {
			left -= use;
			if (!left) {
				ended = true;
				break;
			}
		}
		if (req.chunked && c->chunked.done) {
			ended = true;
			break;
		}
		/* raw: a message ends when the encoder pauses, as the Go vw cut them */
		if (c->mode == VW_INGEST_RAW && c->msg_len &&
		    raw_quiet(c->fd, req.has_length ? VW_INGEST_RAW_HOLD_MS : VW_INGEST_RAW_QUIET_MS))
			raw_flush(c);
		n = recv(c->fd, buf, 65536, 0);
		if (n == 0 && !req.chunked && !req.has_length) {
			ended = true;
			break;
		}
		if (n <= 0) {
			if (n == 0)
				snprintf(err, sizeof(err), "the encoder closed the connection mid-body");
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				snprintf(err, sizeof(err), "the encoder sent nothing for %d s", VW_INGEST_IDLE_S);
			else
				snprintf(err, sizeof(err), "receive failed: %s", strerror(errno));
			status = 0;
			break;
		}
		have = (size_t)n;
	}
	if (!status)
		body_end(c); /* what came is forwarded, even from an encoder that went away mid-body */
	if (ended) {
		if (c->mode == VW_INGEST_RAW)
			vw_info(ing->log, "ingest", "feed %s: encoder %s finished (%llu bytes of raw data, %llu messages)",
				req.feed, c->peer, (unsigned long long)c->bytes_in, (unsigned long long)c->messages);
		else
			vw_info(ing->log, "ingest", "feed %s: encoder %s finished (%llu bytes)", req.feed, c->peer,
				(unsigned long long)c->bytes_in);
		reply(c->fd, 200, "ok");
	} else if (status) {
		char line[600];
		snprintf(line, sizeof(line), "feed %s: rejected %s: %s", req.feed, c->peer, err);
		log_gated(ing->log, &c->feed->lock, &c->feed->reject_log, line);
		set_error(c->feed, c, err);
		pthread_mutex_lock(&c->feed->lock);
		c->feed->st.rejected++; /* counted before the answer: whoever reads the answer sees it */
		pthread_mutex_unlock(&c->feed->lock);
		reply(c->fd, status, err);
	} else {
		vw_info(ing->log, "ingest", "feed %s: encoder %s gone: %s", req.feed, c->peer, err);
		set_error(c->feed, c, err);
	}
out:
	if (c->feed) {
		pthread_mutex_lock(&c->feed->lock);
		if (c->feed->conn == c) {
			c->feed->conn = NULL;
			c->feed->st.connected = false;
		}
		if (!c->feed->conn)
			c->feed->idle_since_ns = vw_now_ns();
		pthread_mutex_unlock(&c->feed->lock);
	}
	vw_ts_split_fini(&c->split);
	free(c->msg);
	c->msg = NULL;
	/* Closed now that it is answered, not when the next encoder comes. What the client still
	 * sends is read first (a little, for a second at most): closing over unread data resets the
	 * connection, and the reset can overtake the answer. No feed points here any more, so no
	 * takeover can shut this descriptor down after the close. */
	shutdown(c->fd, SHUT_WR);
	struct timeval brief = {0, 200 * 1000};
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof(brief));
	int64_t drain_end = vw_now_ns() + VW_NS_PER_SEC;
	while (buf && vw_now_ns() < drain_end && recv(c->fd, buf, 65536, 0) > 0)
		;
	free(buf);
	pthread_mutex_lock(&ing->lock);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&ing->lock);
	atomic_store(&c->done, true);
	return NULL;
}

static void reap(struct vw_ingest *ing, bool all)
{
	struct vw_ingest_conn *dead = NULL;

	pthread_mutex_lock(&ing->lock);
	for (struct vw_ingest_conn **p = &ing->conns; *p;) {
		struct vw_ingest_conn *c = *p;
		if (all || atomic_load(&c->done)) {
			*p = c->next;
			c->next = dead;
			dead = c;
			ing->n_conns--;
		} else {
			p = &c->next;
		}
	}
	pthread_mutex_unlock(&ing->lock);
	while (dead) {
		struct vw_ingest_conn *c = dead;
		dead = c->next;
		pthread_join(c->thread, NULL);
		if (c->fd >= 0)
			close(c->fd);
		free(c);
	}
}

void vw_ingest_take(struct vw_ingest *ing, int fd, const char *peer)
{
	struct timeval tv = {VW_INGEST_IDLE_S, 0};
	struct vw_ingest_conn *c;

	reap(ing, false);
	pthread_mutex_lock(&ing->lock);
	bool full = ing->n_conns >= VW_INGEST_MAX_CONNS || ing->stopping;
	pthread_mutex_unlock(&ing->lock);
	c = full ? NULL : calloc(1, sizeof(*c));
	if (!c) {
		char line[200];
		snprintf(line, sizeof(line), "refused %s: %s", peer, full ? "too many encoders" : "out of memory");
		log_gated(ing->log, &ing->lock, &ing->refusal_log, line);
		reply(fd, 503, "too many encoders");
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	c->ing = ing;
	c->fd = fd;
	vw_strlcpy(c->peer, peer, sizeof(c->peer));
	atomic_init(&c->done, false);
	pthread_mutex_lock(&ing->lock);
	if (pthread_create(&c->thread, NULL, conn_main, c) != 0) {
		pthread_mutex_unlock(&ing->lock);
		reply(fd, 503, "cannot start a thread");
		close(fd);
		free(c);
		return;
	}
	vw_thread_name(c->thread, "ingest", "");
	c->next = ing->conns;
	ing->conns = c;
	ing->n_conns++;
	pthread_mutex_unlock(&ing->lock);
}

int vw_ingest_init(struct vw_ingest *ing, struct vw_log *log)
{
	memset(ing, 0, sizeof(*ing));
	ing->log = log;
	ing->refusal_log.window_ns = REFUSAL_LOG_NS;
	return -pthread_mutex_init(&ing->lock, NULL);
}

void vw_ingest_set_secret(struct vw_ingest *ing, const char *secret)
{
	pthread_mutex_lock(&ing->lock);
	vw_strlcpy(ing->secret, secret ? secret : "", sizeof(ing->secret));
	pthread_mutex_unlock(&ing->lock);
}

void vw_ingest_destroy(struct vw_ingest *ing)
{
	pthread_mutex_lock(&ing->lock);
	ing->stopping = true;
	for (struct vw_ingest_conn *c = ing->conns; c; c = c->next)
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR); /* wakes its recv */
	pthread_mutex_unlock(&ing->lock);
	reap(ing, true);
	while (ing->feeds) {
		struct vw_ingest_feed *f = ing->feeds;
		ing->feeds = f->next;
		vw_hub_close(&f->hub);
		feed_free(f);
	}
	pthread_mutex_destroy(&ing->lock);
}

/* ---- passthrough streams ---- */

/* Hooks r onto conf's feeds (r has none). -ENOMEM when a feed cannot be made. r->feeds is
 * complete before the first feed can forward to r: an encoder's thread reads it under its own
 * feed's lock, which it takes after ours. */
static int passthrough_attach(struct vw_passthrough *r, struct vw_ingest *ing, const struct vw_stream_conf *conf)
{
	struct vw_ingest_feed *fs[VW_STREAM_FEEDS];

	for (int i = 0; i < conf->n_feeds; i++)
		if (!(fs[i] = vw_ingest_feed(ing, conf->feeds[i], true)))
			return -ENOMEM;
	memcpy(r->feeds, fs, sizeof(fs[0]) * (size_t)conf->n_feeds);
	r->n_feeds = conf->n_feeds;
	for (int i = 0; i < r->n_feeds; i++) {
		struct vw_ingest_feed *f = r->feeds[i];
		pthread_mutex_lock(&f->lock);
		if (f->n_passthroughs < VW_MAX_STREAMS)
			f->passthroughs[f->n_passthroughs++] = r;
		pthread_mutex_unlock(&f->lock);
	}
	return 0;
}

static void passthrough_detach(struct vw_passthrough *r)
{
	for (int i = 0; i < r->n_feeds; i++) {
		struct vw_ingest_feed *f = r->feeds[i];
		pthread_mutex_lock(&f->lock);
		for (int k = 0; k < f->n_passthroughs; k++)
			if (f->passthroughs[k] == r) {
				f->passthroughs[k] = f->passthroughs[--f->n_passthroughs];
				break;
			}
		pthread_mutex_unlock(&f->lock);
	}
	r->n_feeds = 0;
}

int vw_passthrough_start(struct vw_passthrough *r, struct vw_ingest *ing, const struct vw_stream_conf *conf)
{
	int ret;

	memset(r, 0, sizeof(*r));
	vw_strlcpy(r->name, conf->name, sizeof(r->name));
	ret = vw_hub_init(&r->hub, NULL, NULL);
	if (ret < 0)
		return ret;
	ret = passthrough_attach(r, ing, conf);
	if (ret < 0) {
		vw_passthrough_stop(r);
		vw_passthrough_free(r);
	}
	return ret;
}

int vw_passthrough_set_feeds(struct vw_passthrough *r, struct vw_ingest *ing, const struct vw_stream_conf *conf)
{
	struct vw_stream_conf had;
	int ret;

	/* The hub stays: whoever subscribes to it (destinations and their relay connections,
	 * viewers, recorders) goes on with the new feeds' chunks, as the Go vw swapped feeds. */
	had.n_feeds = r->n_feeds;
	for (int i = 0; i < r->n_feeds; i++)
		vw_strlcpy(had.feeds[i], r->feeds[i]->name, sizeof(had.feeds[i]));
	passthrough_detach(r);
	ret = passthrough_attach(r, ing, conf);
	if (ret < 0)
		passthrough_attach(r, ing, &had); /* those feeds exist: nothing to allocate */
	return ret;
}

void vw_passthrough_stop(struct vw_passthrough *r)
{
	passthrough_detach(r);
	vw_hub_close(&r->hub);
}

void vw_passthrough_free(struct vw_passthrough *r)
{
	vw_hub_destroy(&r->hub);
}
