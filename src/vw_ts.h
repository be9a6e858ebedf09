/* vw_ts: an MPEG-TS byte stream from an external encoder, cut into chunks for the hub. Owns
 * packet alignment (pieces of any size in, whole 188-byte packets out, resynchronising on the
 * 0x47 sync byte after junk), telling MPEG-TS from anything else, and finding where a decoder can
 * start: a video PES that begins with an MPEG-1/2 sequence header (H.264: an IDR or SPS), or a
 * random-access flag, with the PAT/PMT just before it; for a stream without video, every audio
 * PES start. Pure: no threads, no I/O. */
#ifndef VW_TS_H
#define VW_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_hub.h"

#define VW_TS_CHUNK_MAX (348 * VW_TS_PACKET) /* 65424: one websocket message */
#define VW_TS_SYNC_WINDOW 65536              /* junk tolerated before giving up on the input */

/* data is valid only during the call; flags: VW_CHUNK_KEY when a decoder can start there */
typedef void (*vw_ts_emit_fn)(void *opaque, const uint8_t *data, size_t len, uint32_t flags);

struct vw_ts_split_stats {
	uint64_t bytes_in, packets, skipped_bytes, resyncs, keyframes;
	bool synced, has_video;
	int video_pid;
};

struct vw_ts_split {
	uint8_t pkt[VW_TS_PACKET];
	size_t pkt_len;
	uint8_t *search; /* bytes while looking for sync */
	size_t search_len;
	bool bad;
	int pmt_pids[8];
	int n_pmt;
	uint8_t out[VW_TS_CHUNK_MAX];
	size_t out_len;
	uint32_t out_flags;
	size_t psi_run; /* offset in out of the PAT/PMT packets just before the next one, or SIZE_MAX */
	struct vw_ts_split_stats st;
};

void vw_ts_split_init(struct vw_ts_split *s);
void vw_ts_split_fini(struct vw_ts_split *s);
/* Feeds len bytes; every whole packet is emitted before it returns (no added latency). Returns
 * 0, or -EBADMSG when the input is not (or no longer) MPEG-TS: no sync within
 * VW_TS_SYNC_WINDOW bytes. After that every call returns -EBADMSG. */
int vw_ts_split_feed(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque);

#endif
