/* vw_http: the local HTTP server. Owns the listening socket and its front door (a thread that
 * accepts, waits for the request head and hands /ts ingest connections to vw_ingest and every
 * other connection to libwebsockets on vw_net's loop), the limits (request heads of at most 8 KiB
 * within 10 s, else 431 or a drop; bodies of at most 64 KiB; [http] max_connections and
 * max_viewers, beyond them 503), token checks, static files (the preview page and the JSMpeg
 * player, never from outside the www directory, symlinks included), the /live/NAME websocket
 * viewers (hub subscribers that start at a keyframe and drop to a keyframe when slow), the /ws/
 * websockets (two-way topics: a client's messages go whole to the topic's hub and so to every
 * other client and relay on it; /ws/stream/NAME watches a stream as /live does; /ws/api takes
 * WS/JSON commands), and the responses. What a request means is the control plane's business: API requests are handed over
 * with on_request and answered later with vw_http_respond, from any thread. */
#ifndef VW_HTTP_H
#define VW_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_hub.h"
#include "vw_parse.h"
#include "vw_ingest.h"
#include "vw_log.h"
#include "vw_net.h"

#define VW_HTTP_VIEWER_QUEUE (2 * 1024 * 1024)       /* bytes a viewer may lag */
#define VW_HTTP_VIEWER_AGE_NS (1000 * 1000000LL)     /* ... or this much stream time */
#define VW_HTTP_MAX_BODY 65536                       /* API request bodies; larger ones get 413 */
#define VW_HTTP_MAX_HEAD 8192                        /* request line + headers; larger ones get 431 */
#define VW_HTTP_MAX_PENDING 64                       /* accepted, request head not whole yet */
#define VW_HTTP_ORIGINS_MAX 1024                     /* [http] origins, the whole list */
#define VW_HTTP_WS_MAX_MESSAGE (1024 * 1024)   /* a /ws/ message; a larger one closes with 1009 */
#define VW_HTTP_TOPIC_QUEUE (4 * 1024 * 1024)  /* bytes a /ws/ topic client may lag; then it loses what is queued */
#define VW_HTTP_TOPIC_CLIENTS 32               /* clients of one /ws/ topic; beyond: 503 */
#define VW_HTTP_WS_EARLY 16                    /* messages a topic client sends before it is attached, kept */
#define VW_HTTP_API_PENDING 16                 /* /ws/api commands in flight or replies unsent; beyond: closed */

#define VW_HTTP_DEFAULT_LISTEN "127.0.0.1:8888" /* vw's port; loopback until the operator opens it */
#define VW_HTTP_DEFAULT_MAX_CONNECTIONS 64 /* [http] max_connections: open HTTP/websocket connections */
#define VW_HTTP_DEFAULT_MAX_VIEWERS 16     /* [http] max_viewers: /live websockets */
/* [http] ws_timeout: a websocket client (/live, /ws/) heard from neither a message nor a pong this
 * long is closed; it is pinged after a third of it in silence. A laptop that went to sleep or a
 * NAT that forgot the connection would otherwise hold a viewer's or a topic's place for the
 * kernel's retransmission timeout (~15 min) or, when nothing is sent to it, for ever. */
#define VW_HTTP_DEFAULT_WS_TIMEOUT_NS (60 * VW_NS_PER_SEC)

/* [http]: the local server (API, preview, /live viewers, /ts ingest). */
struct vw_http_conf {
	char listen[VW_NAME_MAX]; /* "127.0.0.1:8888", "[::1]:8888", "0.0.0.0:8888", or "" for off */
	char api_token[VW_TOKEN_MAX];  /* "" : the API is open (it listens on loopback by default) */
	char view_token[VW_TOKEN_MAX]; /* "" : the preview and /live are open */
	char ingest_secret[VW_TOKEN_MAX]; /* "": /ts/FEED; else /ts/SECRET/FEED (JSMpeg relay style) */
	char www[VW_PATH_MAX];         /* preview page directory; "" : next to the binary or installed */
	int max_connections, max_viewers; /* beyond them: 503 (a reload changes them) */
	int64_t ws_timeout_ns;            /* 0: VW_HTTP_DEFAULT_WS_TIMEOUT_NS */
	/* "https://cam.example.com http://box:8888": origins other than the server's own that may
	 * upgrade and change state; their hosts are also accepted in Host */
	char origins[VW_HTTP_ORIGINS_MAX];
	int line;
};

enum vw_http_kind {
	VW_HTTP_API,    /* /api/... and /metrics: the control plane's route table says what it is */
	VW_HTTP_VIEW,   /* a /live/NAME websocket wants its stream: answer with vw_http_attach */
	VW_HTTP_TOPIC,  /* a /ws/NAME websocket wants its topic (path: NAME): vw_http_attach_topic */
	VW_HTTP_COMMAND, /* a /ws/api message (body): answer with vw_http_reply */
};

/* What a websocket request path asks for (pure): VW_HTTP_WS_LIVE (/live/NAME), VW_HTTP_WS_TOPIC
 * (/ws/NAME), VW_HTTP_WS_API (/ws/api), with NAME (query cut off) in name; 0 for any other path;
 * -EINVAL when NAME is not a valid name (letters, digits, '-', '_', '/' between parts). */
enum { VW_HTTP_WS_LIVE = 1, VW_HTTP_WS_TOPIC, VW_HTTP_WS_API };
int vw_http_ws_target(const char *uri, char *name, size_t n);

/* One /ws/ topic as /api/status shows it (vw_http_topics). */
struct vw_http_topic {
	char name[VW_NAME_MAX];
	struct vw_hub *hub; /* what its clients share (NULL: not attached yet) */
	bool two_way;       /* a data topic, not a stream watched through /ws/ */
	int clients;
	uint64_t sent, dropped; /* messages its clients got / lost to a full queue */
};

/* A request for the control plane; it owns it and frees it with vw_http_req_free. */
struct vw_http_req {
	uint64_t id;
	enum vw_http_kind kind;
	char method[8];
	char path[VW_PATH_MAX]; /* without the query */
	bool view_only;         /* GET /api/status with the view token, not the API token */
	char *body;
	size_t len;
};
void vw_http_req_free(struct vw_http_req *r);

struct vw_http_conn;

struct vw_http {
	struct vw_log *log;
	struct vw_net *net;
	struct vw_ingest *ingest;
	struct lws_vhost *vhost;
	void (*on_request)(void *opaque, struct vw_http_req *req); /* service thread: must not block */
	void *opaque;

	/* front door */
	pthread_t thread;
	bool running;
	atomic_bool stop;
	int wake[2];
	char host[VW_NAME_MAX];
	int port;                 /* asked for; 0 picks a free one */
	atomic_int bound_port;    /* what it listens on, 0 until bound */
	struct vw_log_gate refusal_log; /* refusals: a line every few seconds at most, with a count */

	/* limits ([http]); open_conns: the connections lws holds (HTTP and websockets) */
	atomic_int max_connections, max_viewers, open_conns;
	_Atomic int64_t ws_timeout_ns;

	/* set at start; tokens and the www directory change only through vw_http_configure */
	pthread_mutex_t lock;
	char api_token[VW_TOKEN_MAX], view_token[VW_TOKEN_MAX];
	char www[VW_PATH_MAX];
	char origins[VW_HTTP_ORIGINS_MAX];
	char hostname[VW_NAME_MAX]; /* this machine's name: http://NAME:PORT/ and NAME.local are its own */

	/* service thread only */
	struct vw_http_conn *conns;
	uint64_t next_id;
	struct vw_log_gate viewer_refusal_log, cross_site_log, ws_log;
	atomic_uint_least64_t requests, viewers_total, refused;
};

/* Listens on conf->listen (retrying while the address is busy) and serves on `net`'s loop. */
int vw_http_start(struct vw_http *h, const struct vw_http_conf *conf, const char *default_www, struct vw_net *net,
		  struct vw_ingest *ingest, void (*on_request)(void *, struct vw_http_req *), void *opaque,
		  struct vw_log *log);
/* New tokens and www directory (a reload); the listening address needs a restart. */
void vw_http_configure(struct vw_http *h, const struct vw_http_conf *conf, const char *default_www);
/* Stops accepting and ends every connection; the loop goes on (it belongs to vw_net). */
void vw_http_stop(struct vw_http *h);

/* Answers request `id` (from any thread); takes `body` (malloc'd, may be NULL). */
void vw_http_respond(struct vw_http *h, uint64_t id, int status, const char *content_type, char *body, size_t len);
/* Control thread: starts viewer `id` on `hub` (NULL: closes it with `why`). Not on the loop. */
void vw_http_attach(struct vw_http *h, uint64_t id, struct vw_hub *hub, const char *why);
/* Control thread: starts /ws/ client `id` on `hub`: `two_way`, a data topic (what it sends goes to
 * the hub, and it gets every message but its own), else a stream to watch. NULL: closes it with
 * `why`. */
void vw_http_attach_topic(struct vw_http *h, uint64_t id, struct vw_hub *hub, bool two_way, const char *why);
/* Any thread: the answer (text, malloc'd, taken) to /ws/api client `id`'s command. */
void vw_http_reply(struct vw_http *h, uint64_t id, char *text);
/* Control thread: the /ws/ topics with clients, at most `max`; how many. */
int vw_http_topics(struct vw_http *h, struct vw_http_topic *out, int max);
/* Control thread: every viewer of `hub` is closed (the hub is going away; players reconnect). */
void vw_http_hub_gone(struct vw_http *h, struct vw_hub *hub);
/* Control thread: how many viewers watch `hub`. */
int vw_http_viewers(struct vw_http *h, struct vw_hub *hub);
int vw_http_port(struct vw_http *h);

/* Cross-site checks (pure, for the tests). A Host header (NULL: none) names this server when it is
 * absent, an IP literal (a page that DNS rebinding points here has a name in its Host), localhost,
 * `hostname` or hostname.local, or the host of an entry of `origins`. An Origin header (NULL: none,
 * a client that is not a browser) is allowed when its host:port is the Host the request came to
 * (default ports by scheme) or it is listed in `origins`. */
bool vw_http_host_ok(const char *host, const char *hostname, const char *origins);
bool vw_http_origin_ok(const char *origin, const char *host, const char *origins);
/* 0 when every entry of an [http] origins list is scheme://host[:port] (http or https), else -EINVAL
 * with the offending entry in err. */
int vw_http_origins_check(const char *origins, char *err, size_t errlen);

#endif
