/* vw_ts: an MPEG-TS byte stream from an external encoder, cut into chunks for the hub. Owns
 * packet alignment (pieces of any size in, whole 188-byte packets out, resynchronising on the
 * 0x47 sync byte after junk), telling MPEG-TS from anything else, and finding where a decoder can
 * start: a video PES that begins with an MPEG-1/2 sequence header (H.264: an IDR or SPS), or a
 * random-access flag, with the PAT/PMT just before it; for a stream without video, every audio
 * PES start. Pure: no threads, no I/O, no allocation. */
#ifndef VW_TS_H
#define VW_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_hub.h"

#define VW_TS_CHUNK_MAX (348 * VW_TS_PACKET) /* 65424: one websocket message */
#define VW_TS_SYNC_WINDOW 65536              /* junk tolerated before giving up on the input */
#define VW_TS_MAX_PROGRAMS 8                 /* PMTs followed; more programs are not looked at */

/* data is valid only during the call; flags: VW_CHUNK_KEY when a decoder can start there */
typedef void (*vw_ts_emit_fn)(void *opaque, const uint8_t *data, size_t len, uint32_t flags);

struct vw_ts_split_stats {
	uint64_t bytes_in;      /* everything fed */
	uint64_t packets;       /* emitted */
	uint64_t skipped_bytes; /* junk dropped while looking for sync */
	uint64_t resyncs;       /* times sync was lost after it had been found */
	uint64_t keyframes;     /* key chunks emitted */
	bool synced;            /* in step with the packets (false while looking for sync) */
	bool has_video;
	int video_pid; /* -1 until known */
};

struct vw_ts_split {
	/* in step: the start of a packet that continues in the next piece; looking for sync: the
	 * bytes from a candidate sync byte on, until the two after it can be checked */
	uint8_t carry[2 * VW_TS_PACKET + 1];
	size_t carry_len;
	uint64_t hunted; /* junk skipped since the search for sync began */
	bool bad;
	int pmt_pids[VW_TS_MAX_PROGRAMS];
	int n_pmt;
	int video_type; /* the PMT's stream_type for video_pid, 0 if no PMT said */
	uint8_t out[VW_TS_CHUNK_MAX]; /* packets of this call not yet handed out */
	size_t out_len;
	uint32_t out_flags;
	size_t pat_run; /* offset in out of the PAT(+PMT) run just before the next packet, or SIZE_MAX */
	struct vw_ts_split_stats st;
};

void vw_ts_split_init(struct vw_ts_split *s);
/* Nothing to release today (the splitter allocates nothing); owners call it after the last feed. */
void vw_ts_split_fini(struct vw_ts_split *s);
/* Feeds len bytes; every packet completed by them is emitted before it returns (no added
 * latency), in chunks of whole packets, at most VW_TS_CHUNK_MAX bytes each. Returns 0, or
 * -EBADMSG when the input is not (or no longer) MPEG-TS: no sync byte three times 188 bytes
 * apart within VW_TS_SYNC_WINDOW bytes, at the start or after sync was lost. After that every
 * call returns -EBADMSG. */
int vw_ts_split_feed(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque);

#endif
