/* vw_hub: fan-out of one stream's MPEG-TS to any number of subscribers (relays, viewers, the
 * recorder). Owns refcounted immutable chunks, one bounded queue per subscriber, and the drop
 * policy: a subscriber that cannot keep up loses whole chunks up to the next keyframe chunk and
 * never slows the publisher or the other subscribers. The hub stamps each chunk with the time it
 * was published, so a queue can be bounded in age as well as in bytes. A new subscriber starts at a keyframe chunk.
 * Thread-safe; the logic needs no threads, so it is tested directly. */
#ifndef VW_HUB_H
#define VW_HUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_TS_PACKET 188

enum vw_chunk_flags {
	VW_CHUNK_KEY = 1u << 0, /* starts with PAT/PMT and a video keyframe: a decoder can start here */
	VW_CHUNK_TEXT = 1u << 1, /* a text message (the control channel's replies), not MPEG-TS */
	/* Raw bytes from an ingest that is not MPEG-TS: one websocket message each, of any length, sent
	 * as they are (never cut at 188 bytes, never to a TS player). Every raw chunk is also KEY: any
	 * of them is a place to start. A /ws/ topic's messages are raw chunks too (TEXT for a text
	 * message). */
	VW_CHUNK_RAW = 1u << 2,
};

/* A queue takes raw chunks up to at least this many bytes whatever its own bound (which is sized
 * for a video bit rate): a few messages of the largest raw size in a row must not overflow it. */
#define VW_HUB_RAW_QUEUE_MIN (4u * 1024 * 1024)

struct vw_chunk {
	atomic_int refs;
	uint32_t flags;
	int64_t capture_ns; /* CLOCK_MONOTONIC capture time of the frame it carries, 0 if none */
	int64_t publish_ns; /* when the hub handed it out */
	uint64_t origin;    /* who sent it into a two-way /ws/ topic (0: none): it never goes back there */
	size_t len;         /* a whole number of 188-byte TS packets (raw chunks: any length) */
	uint8_t data[];
};

/* Copies `len` bytes; refs = 1. NULL on allocation failure. */
struct vw_chunk *vw_chunk_new(const void *data, size_t len, uint32_t flags, int64_t capture_ns);
struct vw_chunk *vw_chunk_ref(struct vw_chunk *c);
void vw_chunk_unref(struct vw_chunk *c);

struct vw_sub_stats {
	uint64_t chunks, bytes;   /* handed to the consumer */
	uint64_t dropped_chunks;  /* lost while consuming: overflow, and the wait for the keyframe after it */
	uint64_t dropped_bytes;
	uint64_t overflows;       /* times the queue overflowed */
	size_t queued_chunks, queued_bytes;
	size_t max_queued_bytes;
};

struct vw_hub;

/* Called with the hub's lock held whenever a chunk is queued for the subscriber: it must only
 * signal (pthread_cond_signal, lws_cancel_service, eventfd write) and never call into the hub. */
typedef void (*vw_sub_notify_fn)(void *opaque);

struct vw_sub {
	struct vw_hub *hub;
	struct vw_sub *next;
	size_t limit;       /* queue bound in bytes */
	int64_t max_age_ns; /* queue bound in time: the oldest queued chunk may be this old (0: none) */
	struct vw_chunk **ring;
	size_t cap, head, count, bytes;
	bool want_key; /* skipping until a keyframe chunk */
	bool consuming; /* has taken a chunk since it (re)started: only then are skips losses */
	vw_sub_notify_fn notify;
	void *opaque;
	struct vw_sub_stats st;
};

/* Asks the encoder for a keyframe soon (it rate-limits). Called with the hub lock held. */
typedef void (*vw_hub_key_fn)(void *opaque);

struct vw_hub {
	pthread_mutex_t lock;
	struct vw_sub *subs;
	int n_subs;
	vw_hub_key_fn want_key;
	void *key_opaque;
	uint64_t chunks, bytes, key_chunks;
	bool closed; /* the stream ended: consumers drain and then see end of stream */
};

struct vw_hub_stats {
	uint64_t chunks, bytes, key_chunks; /* published */
	int subs;
};

int vw_hub_init(struct vw_hub *hub, vw_hub_key_fn want_key, void *key_opaque);
/* The publication counts, read under the hub's lock. */
void vw_hub_get_stats(struct vw_hub *hub, struct vw_hub_stats *st);
/* All subscribers must have been removed. */
void vw_hub_destroy(struct vw_hub *hub);

/* Hands a chunk to every subscriber (each takes its own reference). Never blocks on consumers. */
void vw_hub_publish(struct vw_hub *hub, struct vw_chunk *chunk);
/* Asks the encoder for a keyframe soon, without touching any queue (recorder rotation). */
void vw_hub_request_key(struct vw_hub *hub);
/* Marks end of stream; consumers get what is queued, then vw_sub_pop reports the end. */
void vw_hub_close(struct vw_hub *hub);

/* A new subscriber whose queue holds at most `limit` bytes and, if max_age_ns > 0, nothing older
 * than max_age_ns; it starts at the next keyframe chunk and the encoder is asked for one.
 * Overflow drops what is queued (it is stale) and restarts at the next keyframe: a consumer that
 * cannot keep up gets fresh pictures with gaps, never an ever older stream. */
int vw_sub_init(struct vw_sub *sub, struct vw_hub *hub, size_t limit, int64_t max_age_ns, vw_sub_notify_fn notify,
		void *opaque);
/* Detaches and frees what is queued. */
void vw_sub_fini(struct vw_sub *sub);

/* Next chunk (the caller owns the reference), or NULL when the queue is empty. *eos is set when
 * the queue is empty and the hub is closed. */
struct vw_chunk *vw_sub_pop(struct vw_sub *sub, bool *eos);
/* After the consumer lost data of its own (a relay reconnected, a disk write failed): drop what
 * is queued and restart at the next keyframe chunk, asking the encoder for one. */
void vw_sub_resync(struct vw_sub *sub);
void vw_sub_get_stats(struct vw_sub *sub, struct vw_sub_stats *st);

#endif
