/* vw_testsrv: a receiving relay for tests, in-process on 127.0.0.1. It owns its own lws context
 * and service thread and records every payload byte that arrives, with arrival times:
 *  - websocket on any path, no subprotocol needed, permessage-deflate off; binary messages are
 *    reassembled from frames and fragments, text messages are counted but not recorded;
 *  - HTTP POST/PUT on any path with Content-Length or "Transfer-Encoding: chunked" (the lws 4.1
 *    server passes chunk framing through untouched, so it is decoded here; see vw_chunked.h).
 * Options: plain or TLS, a bearer token (refusals answered 401 and counted), a per-connection
 * read rate and a point after which it stops reading (both by rx flow control, so the client sees
 * real TCP backpressure). Accessors may be called from any thread while the server runs. */
#ifndef VW_TESTSRV_H
#define VW_TESTSRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vw_testsrv;

struct vw_testsrv_opts {
	const char *cert, *key; /* PEM paths: serve wss/https (http/1.1 only); NULL: plain ws/http */
	const char *bearer;     /* require "Authorization: Bearer <bearer>"; refusals are 401 + counted */
	long read_rate;         /* bytes per second read per connection; 0: as fast as it comes */
	int pause_after_ms;     /* stop reading this long after a connection opens; 0: never */
	int rcvbuf;             /* SO_RCVBUF of accepted sockets, to make backpressure felt sooner; 0: kernel default */
	size_t keep_bytes;      /* keep at most this many payload bytes for vw_testsrv_data (all are counted); 0: all */
	bool ipv6;              /* listen on [::1] instead of 127.0.0.1 */
};

struct vw_testsrv_stats {
	int connections;     /* accepted ws connections + HTTP POST/PUT requests */
	int open;            /* of those, still open (a paused connection is not seen closing) */
	int refused;         /* 401s */
	int messages;        /* whole binary ws messages */
	int text_messages;   /* whole text ws messages */
	size_t max_message;  /* largest binary message */
	size_t bytes;        /* payload bytes: ws binary payload, de-chunked HTTP body */
	int bodies_complete; /* HTTP bodies that ended properly (zero-size chunk, or Content-Length reached) */
	int bad_bodies;      /* malformed chunked bodies (answered 400, connection closed) */
	int capped_bodies;   /* chunked bodies cut at lws's 100 MiB unknown-length cap (connection closed) */
	char last_path[256]; /* request path of the last connection, e.g. "/in/stream" or "/secret" */
	char last_query[256];
	char last_auth[512]; /* last Authorization header value seen (any request, refused or not) */
	char last_text[256]; /* last text message, truncated */
};

/* One entry per whole binary ws message (time it completed) or per HTTP body piece (time it was
 * read). offset is the position in the received byte stream, which may lie beyond what
 * vw_testsrv_data returns when keep_bytes is set. */
struct vw_testsrv_arrival {
	int64_t t_ns; /* CLOCK_MONOTONIC */
	size_t offset, len;
};

/* Listens on 127.0.0.1 on a free port; o may be NULL for the defaults. Returns 0 or -errno. */
int vw_testsrv_start(struct vw_testsrv **out, const struct vw_testsrv_opts *o);
/* The same on a given port, e.g. to bring a "relay" back where it was; -EADDRINUSE if it stays
 * taken for about a second. */
int vw_testsrv_restart_on(struct vw_testsrv **out, const struct vw_testsrv_opts *o, int port);
int vw_testsrv_port(struct vw_testsrv *s);
/* Closes every connection, stops the thread and frees; the port is free again on return. */
void vw_testsrv_stop(struct vw_testsrv *s);

void vw_testsrv_stats(struct vw_testsrv *s, struct vw_testsrv_stats *st);
/* Copy of the payload bytes received so far, in arrival order across connections; caller frees.
 * Never NULL unless out of memory. */
uint8_t *vw_testsrv_data(struct vw_testsrv *s, size_t *len);
size_t vw_testsrv_arrivals(struct vw_testsrv *s, struct vw_testsrv_arrival **out); /* caller frees */
/* Forgets recorded data, arrivals and counters (connections already open stay open). */
void vw_testsrv_reset(struct vw_testsrv *s);



#endif
