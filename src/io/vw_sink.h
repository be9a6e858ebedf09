/* vw_sink: one hub subscriber served on the vw_net loop, the part a destination and a /live viewer
 * share. Owns the subscription (a queue bounded in bytes and stream time that starts at a
 * keyframe, drops to the next keyframe when the consumer is slow and asks the encoder for one;
 * see vw_hub), the wakeup from the publisher's thread to the loop (the hub's notify only flags
 * and wakes; the loop's waker asks lws for a WRITEABLE on the sink's connection), and the chunk
 * being sent, cut into messages of whole TS packets of at most VW_TS_CHUNK_MAX bytes (text chunks
 * go whole; a raw chunk is one message, handed out in fragments of at most VW_TS_CHUNK_MAX bytes,
 * text or binary as it came), and, on a two-way /ws/ topic, leaving out what its own connection
 * sent. What a message is wrapped in and written to is the owner's business. */
#ifndef VW_SINK_H
#define VW_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_hub.h"
#include "vw_net.h"
#include "vw_ts.h"

struct lws;

struct vw_sink {
	struct vw_sub sub;
	struct vw_net *net;
	struct vw_net_waker waker;
	atomic_bool pending; /* the hub queued a chunk since the last wakeup */
	bool on_loop;        /* in the loop's wakers (service thread) */
	/* service thread only */
	struct lws *wsi;      /* the connection to wake; NULL while it cannot take data */
	struct vw_chunk *cur; /* chunk being sent */
	size_t cur_off;
	bool skip_raw; /* set by the owner before data flows: raw chunks are dropped (a TS player) */
	uint64_t self; /* chunks whose origin is this never go out here (0: none): a sender's own echo */
	uint64_t skipped; /* chunks taken from the hub and dropped for the two rules above */
};

/* One message, or one fragment of a raw one: `len` bytes at `data` (a text message if `text`).
 * `cont`: it continues the message of the previous fragment; `more`: the message goes on in the
 * next one (websocket continuation frames; an HTTP body just carries the bytes). */
struct vw_sink_msg {
	const uint8_t *data;
	size_t len;
	bool text;
	bool cont, more;
};

/* Subscribes to `hub` (any thread). `limit` and `max_age_ns` bound the queue (vw_sub_init). */
int vw_sink_init(struct vw_sink *s, struct vw_hub *hub, size_t limit, int64_t max_age_ns, struct vw_net *net);
/* Service thread: wakeups reach s->wsi from now on / no more. */
void vw_sink_join(struct vw_sink *s);
void vw_sink_leave(struct vw_sink *s);
/* Unsubscribes and drops the chunk being sent (any thread, once it has left the loop). */
void vw_sink_fini(struct vw_sink *s);

/* Service thread: the next message to send, 1 if there is one, 0 if nothing is queued, -1 at the
 * end of the stream. It stays the next one until vw_sink_sent. Between the fragments of a raw
 * message (vw_sink_mid_message) nothing else may be written on a websocket but control frames. */
int vw_sink_next(struct vw_sink *s, struct vw_sink_msg *m);
/* Service thread: a raw message is half sent. */
bool vw_sink_mid_message(const struct vw_sink *s);
/* Service thread: the message from vw_sink_next went out. */
void vw_sink_sent(struct vw_sink *s, const struct vw_sink_msg *m);
/* Service thread: the consumer lost data of its own (a reconnection): drop the chunk being sent
 * and what is queued and restart at the next keyframe, asking the encoder for one. */
void vw_sink_restart(struct vw_sink *s);
/* Drops the chunk being sent without touching the queue (a new connection starts afresh). */
void vw_sink_drop_current(struct vw_sink *s);

/* The queue bound in bytes: `bytes` if set, else `ns` of stream time at `bitrate` bits per second,
 * never below 64 KiB. Pure. */
size_t vw_sink_queue_bytes(size_t bytes, int64_t ns, int64_t bitrate);
/* How much of a chunk's `remaining` bytes one message carries: whole TS packets, at most
 * VW_TS_CHUNK_MAX. Pure. */
size_t vw_sink_message_len(size_t remaining);

#endif
