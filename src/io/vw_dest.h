/* vw_dest: one destination, a relay that vw dials out to. Owns the client connection (websocket,
 * or one long chunked HTTP POST as ffmpeg's HTTP output does), its authentication, TLS settings,
 * reconnection with backoff, keepalive, and the hub subscription that feeds it: every
 * (re)connection starts at a keyframe, messages are whole TS packets of at most 64 KiB, and a relay
 * that cannot keep up loses whole chunks up to a keyframe without slowing anyone else. All
 * connection work runs on the vw_net service thread. */
#ifndef VW_DEST_H
#define VW_DEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "vw_filecopy.h"
#include "vw_sink.h"
#include "vw_sink_conf.h"
#include "vw_log.h"
#include "vw_util.h"

#define VW_DEST_PROTOCOL "vw-dest"

struct vw_net;

enum vw_dest_state {
	VW_DEST_IDLE,
	VW_DEST_CONNECTING,
	VW_DEST_AUTHENTICATING, /* first-message: token sent, waiting for the relay's verdict */
	VW_DEST_CONNECTED,
	VW_DEST_BACKOFF, /* waiting to reconnect */
	VW_DEST_CLOSING,
};

const char *vw_dest_state_name(enum vw_dest_state s);

struct vw_dest_stats {
	enum vw_dest_state state;
	uint64_t connects, failures;
	uint64_t bytes, messages;
	uint64_t dropped_chunks;
	size_t queued_bytes;
	int64_t connected_ns; /* time connected in the current connection, 0 if not connected */
	int64_t retry_at_ns;  /* in backoff: when (CLOCK_MONOTONIC) the next attempt starts */
	char last_error[256];
	struct vw_filecopy_stats copy; /* with conf.file */
};

struct vw_dest {
	lws_sorted_usec_list_t sul; /* reconnect, auth and keepalive timer (service thread) */
	struct vw_dest_conf conf;
	struct vw_url url;
	struct vw_log *log;
	struct vw_net *net;
	char mod[VW_NAME_MAX + 16];
	struct vw_sink sink; /* the hub subscription and the chunk being sent */
	struct vw_filecopy copy; /* with conf.file: what it sends, also written there */

	/* service thread only */
	struct lws *wsi;
	struct lws_vhost *vhost;
	enum vw_dest_state state;
	struct vw_backoff backoff;
	uint8_t *tx;           /* LWS_PRE + message */
	int64_t up_since_ns, auth_deadline_ns;
	int64_t last_pong_ns, last_ping_ns, last_write_ns;
	bool ping_due;
	char tls_error[400]; /* OpenSSL's verdict on the relay's certificate, or a refused redirect */
	bool http_started, token_sent;
	bool access_phase;      /* access auth: the POST that asks for the stream URI is in flight */
	bool ws;                /* the connection in flight is a websocket (not an HTTP POST) */
	bool have_access;       /* access auth: access_url holds the URI to dial */
	struct vw_url access_url;
	char resp[4096];        /* access auth: the relay's JSON reply */
	size_t resp_len;
	struct vw_log_gate fail_log; /* a failure is logged when its reason changes, not per attempt */

	/* a two-way topic: whole messages from the relay go to the hub (service thread) */
	bool two_way;
	struct vw_log_gate rx_log;

	/* the control channel: whole text messages from the relay (service thread) */
	void (*on_text)(void *opaque, const char *msg, size_t len);
	void *text_opaque;
	char *rx;
	size_t rx_len, rx_cap; /* rx_cap: a two-way topic's buffer (else VW_DEST_MAX_TEXT) */
	bool rx_overflow, rx_text;

	pthread_mutex_t lock; /* stats */
	struct vw_dest_stats st;
};

/* Starts sending `hub`'s stream to conf->url (already validated by the config). `bitrate` (bits
 * per second) turns a queue bound in stream time into bytes. */
int vw_dest_start(struct vw_dest *d, const struct vw_dest_conf *conf, struct vw_hub *hub, int64_t bitrate,
		  struct vw_net *net, struct vw_log *log);
/* Closes the connection and unsubscribes; on return nothing refers to d any more. */
void vw_dest_stop(struct vw_dest *d);
void vw_dest_get_stats(struct vw_dest *d, struct vw_dest_stats *st);
/* Makes this destination a control channel: text messages from the relay go to fn (on the
 * service thread; it must not block), and text chunks of the hub go out as text messages. */
void vw_dest_set_text_handler(struct vw_dest *d, void (*fn)(void *opaque, const char *msg, size_t len), void *opaque);
#define VW_DEST_MAX_TEXT 65536
/* Makes this destination a two-way pipe of a /ws/ topic: what the relay sends (text and binary,
 * message by message, at most VW_DEST_MAX_MESSAGE bytes each) is published to the topic's hub, for
 * its local clients and other relays, and never sent back to this relay. */
void vw_dest_set_two_way(struct vw_dest *d);
#define VW_DEST_MAX_MESSAGE (1024 * 1024)

/* The client protocols destinations use, for vw_net_start (terminated by a NULL name). */
const struct lws_protocols *vw_dest_protocols(void);

#define VW_DEST_PING_NS (10 * VW_NS_PER_SEC)   /* ping a relay this long after the last pong */
#define VW_DEST_HANGUP_NS (20 * VW_NS_PER_SEC) /* no pong (or no write progress) this long: hang up */
#define VW_DEST_SNDBUF (64 * 1024)             /* kernel send buffer: backpressure reaches our queue */

#endif
