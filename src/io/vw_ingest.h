/* vw_ingest: MPEG-TS from external encoders, vw's original job (POST /ts/FEED, as ffmpeg's
 * `-f mpegts http://HOST/ts/FEED` sends it), and any other bytes, as the Go vw forwarded them.
 * Owns the ingest feeds (a hub each, created on first use and kept while the registry lives, so
 * subscribers stay put while an encoder reconnects), the passthrough streams that forward one or
 * more of them as they are, and the HTTP connections that carry them: one thread per connection
 * reads the request (chunked, Content-Length, or until the encoder closes), tells MPEG-TS from raw
 * bytes by the first ones (or as the feed's `format` says), and publishes: MPEG-TS aligned to
 * 188-byte packets with the places a decoder can start marked; raw bytes as messages: a body of
 * known length (Content-Length: a blob) is one message, a body of unknown length (chunked, or until
 * the encoder closes: a stream of writes) one message per write burst, ended after
 * VW_INGEST_RAW_QUIET_MS without input as the Go vw cut them; and any message ends at
 * VW_INGEST_RAW_MSG_MAX bytes, where the next one begins (nothing is cut off).
 * These connections never reach libwebsockets: its server caps bodies of unknown length at 100 MiB
 * and passes chunked framing through, and an ingest runs for days. */
#ifndef VW_INGEST_H
#define VW_INGEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vw_feed_conf.h"
#include "vw_stream_conf.h"
#include "vw_hub.h"
#include "vw_log.h"
#include "vw_rate.h"
#include "vw_util.h"

#define VW_INGEST_MAX_CONNS 16
#define VW_INGEST_IDLE_S 15 /* an encoder silent this long is dropped (it reconnects) */
#define VW_INGEST_HEAD_MAX 8192
#define VW_INGEST_HEAD_S 10      /* the whole request head within this, as the front door's */
#define VW_INGEST_MAX_FEEDS 64   /* feeds no rule names that encoders may create; beyond: 503 */
#define VW_INGEST_FEED_IDLE_S 10 /* such a feed without encoder or subscriber is freed after this */
/* Raw ingest: a message of a body of unknown length ends after this long without input (the Go
 * vw's 1 ms); one of a body of known length at its end, or after VW_INGEST_RAW_HOLD_MS without
 * input (a client trickling a long body still has its bytes forwarded). The Go vw cut blobs too
 * wherever the client paused for 1 ms, so that one blob could arrive as several messages on a busy
 * machine; a blob is one message here. */
#define VW_INGEST_RAW_QUIET_MS 1
#define VW_INGEST_RAW_HOLD_MS 100
/* ... or at this size, where the next message begins (the Go vw cut everything beyond 1,024,000
 * bytes off; vw forwards it in the next message). */
#define VW_INGEST_RAW_MSG_MAX (1024 * 1024)
/* AUTO: bytes looked at before deciding (0x47 at 0, 188 and 376 is MPEG-TS) */
#define VW_INGEST_PROBE (2 * 188 + 1)

struct vw_passthrough;
struct vw_ingest_conn;

struct vw_ingest_stats {
	bool connected;
	uint64_t connections, rejected;
	uint64_t bytes, chunks, keyframes, skipped_bytes;
	double bitrate; /* bits per second over the last few seconds */
	int64_t last_ns; /* when data last arrived (CLOCK_MONOTONIC), 0 never */
	char detected[8]; /* what the last encoder sent: "ts", "raw", or "" (not known yet) */
	char format[8];   /* declared: "auto", "ts" or "raw" (filled by vw_ingest_feed_stats) */
	char peer[64];
	char error[256];
};

struct vw_ingest_feed {
	char name[VW_NAME_MAX];
	struct vw_hub hub;
	atomic_bool has_video;
	pthread_mutex_t lock; /* passthroughs, conn, stats */
	struct vw_passthrough *passthroughs[VW_MAX_STREAMS];
	int n_passthroughs;
	struct vw_ingest_conn *conn; /* the encoder feeding it now; a new one takes over */
	bool pinned;           /* named by the configuration or a rule: kept (registry lock) */
	enum vw_ingest_format format; /* declared; the next connection follows it */
	int64_t idle_since_ns; /* no encoder since then; 0 while one holds or is taking it */
	struct vw_ingest_stats st;
	struct vw_rate rate; /* bytes received over 2 s windows */
	struct vw_log_gate reject_log; /* an encoder sending junk again and again: a line per window */
	struct vw_ingest_feed *next;
};

/* A passthrough stream: the chunks of its ingest feeds, merged as they come. */
struct vw_passthrough {
	char name[VW_NAME_MAX];
	struct vw_hub hub;
	struct vw_ingest_feed *feeds[VW_STREAM_FEEDS];
	int n_feeds;
};

struct vw_ingest {
	struct vw_log *log;
	pthread_mutex_t lock; /* feeds list, conns list, secret */
	struct vw_ingest_feed *feeds;
	struct vw_ingest_conn *conns;
	int n_conns;
	bool stopping;
	char secret[VW_TOKEN_MAX];
	struct vw_log_gate refusal_log; /* refused requests, from every thread: a line per window */
};

int vw_ingest_init(struct vw_ingest *ing, struct vw_log *log);
/* Ends every connection and frees the feeds; nothing may subscribe to them any more. */
void vw_ingest_destroy(struct vw_ingest *ing);
void vw_ingest_set_secret(struct vw_ingest *ing, const char *secret);

/* The feed called `name`, created if `create`; with `create` it is kept as long as the registry
 * (a rule names it). Feeds that only an encoder named go with vw_ingest_reap_feeds. */
struct vw_ingest_feed *vw_ingest_feed(struct vw_ingest *ing, const char *name, bool create);
/* The feed `name` as a /ws/ topic: found, or created without pinning it (counted against
 * VW_INGEST_MAX_FEEDS, NULL beyond); freed as an encoder's is once nothing uses it. Only on the
 * thread that reaps (the caller subscribes before the next reap). */
struct vw_ingest_feed *vw_ingest_topic(struct vw_ingest *ing, const char *name);
/* Frees the feeds no rule names that have had no encoder for VW_INGEST_FEED_IDLE_S and have no
 * subscriber; the number freed. Only on the thread that hands feeds' hubs to subscribers (and
 * subscribes them before it calls this again). */
int vw_ingest_reap_feeds(struct vw_ingest *ing);
void vw_ingest_feed_stats(struct vw_ingest_feed *f, struct vw_ingest_stats *st);
/* What the feed carries, as configured; connections that begin afterwards follow it. */
void vw_ingest_feed_set_format(struct vw_ingest_feed *f, enum vw_ingest_format format);
enum vw_ingest_format vw_ingest_feed_format(struct vw_ingest_feed *f);
/* Calls fn for every feed, under the registry lock (fn must not call back into the registry). */
void vw_ingest_each(struct vw_ingest *ing, void (*fn)(void *opaque, struct vw_ingest_feed *f), void *opaque);

/* Takes an accepted connection whose request is POST|PUT /ts/...: a thread reads it from here on.
 * `fd` is owned by the ingest afterwards (closed on refusal). */
void vw_ingest_take(struct vw_ingest *ing, int fd, const char *peer);

int vw_passthrough_start(struct vw_passthrough *r, struct vw_ingest *ing, const struct vw_stream_conf *conf);
/* Moves a running passthrough to conf's feeds: its hub, and so its subscribers and their
 * connections, stay. 0 or -ENOMEM (then it still forwards the feeds it had). */
int vw_passthrough_set_feeds(struct vw_passthrough *r, struct vw_ingest *ing, const struct vw_stream_conf *conf);
/* Detaches from the feeds and closes the hub (subscribers see the end). */
void vw_passthrough_stop(struct vw_passthrough *r);
/* Frees the hub; every subscriber must be gone. */
void vw_passthrough_free(struct vw_passthrough *r);

/* A request head taken apart (pure, for the tests). */
struct vw_ingest_req {
	char feed[VW_NAME_MAX];
	bool chunked, has_length, expect_continue;
	uint64_t length;
	size_t head_len; /* bytes up to and including the blank line */
};
/* What a body that begins with `probe[0..len)` carries, in AUTO: VW_INGEST_TS, VW_INGEST_RAW, or
 * VW_INGEST_AUTO while more bytes are needed (`ended`: there will be no more). Pure. */
enum vw_ingest_format vw_ingest_probe(const uint8_t *probe, size_t len, bool ended);

/* Parses the head in buf[0..len). Returns 0 when complete, -EAGAIN when more is needed, or an HTTP
 * status (400, 401, 404, 405, 411, 413) with a reason in err. */
int vw_ingest_parse_head(const char *buf, size_t len, const char *secret, struct vw_ingest_req *r, char *err,
			 size_t errlen);

#endif
