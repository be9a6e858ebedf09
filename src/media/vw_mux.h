/* vw_mux: the MPEG-TS muxer of one stream writing into our own AVIOContext. Owns the muxer
 * settings that keep latency at zero (max_delay 0, one PES per frame, a flush per packet), the
 * write callback (never blocks, never fails: it appends to a pending buffer) and the cutting of
 * that buffer into hub chunks of whole 188-byte packets, flagged when they start a keyframe.
 *
 * Audio packets ride with the next picture: a chunk is a picture plus the sound encoded since the
 * last one. That is 25 chunks a second instead of 67 at 25 fps with MP2, and every chunk costs a
 * wakeup and a send per destination and a message per viewer. Sound waits at most
 * VW_MUX_AUDIO_HOLD_NS (when pictures are slow or stop), far inside what JSMpeg buffers. */
#ifndef VW_MUX_H
#define VW_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_hub.h"

struct AVFormatContext;
struct AVCodecContext;
struct AVStream;
struct AVPacket;

struct vw_mux {
	struct AVFormatContext *oc;
	struct vw_hub *hub;
	uint8_t *pending;
	size_t len, cap;
	uint64_t lost_bytes; /* bytes the write callback could not keep (out of memory) */
	uint64_t chunks, bytes;
	bool header_written;
	bool held;               /* pending holds audio waiting for the next picture */
	int64_t held_capture_ns; /* capture time of the oldest held audio */
};

/* Sets up MPEG-TS with a video stream (and an audio stream when `aenc` is not NULL) whose
 * parameters come from the opened encoders. */
int vw_mux_open(struct vw_mux *m, struct vw_hub *hub, const struct AVCodecContext *venc,
		const struct AVCodecContext *aenc);
struct AVStream *vw_mux_video(struct vw_mux *m);
struct AVStream *vw_mux_audio(struct vw_mux *m);

#define VW_MUX_AUDIO_HOLD_NS (100 * 1000000LL)

/* Writes one encoded packet (stream 0 video, 1 audio; timestamps in the stream's time base) and
 * publishes what the muxer produced for it: a picture as one chunk with any audio held before it,
 * audio when it has been held for VW_MUX_AUDIO_HOLD_NS. `key`: the packet is a video keyframe. */
int vw_mux_write(struct vw_mux *m, struct AVPacket *pkt, bool key, int64_t capture_ns);
/* Writes the trailer, publishes the rest and frees everything. */
void vw_mux_close(struct vw_mux *m);

/* How much of `len` pending bytes forms whole TS packets: what may be published now. Pure. */
size_t vw_ts_whole_packets(size_t len);

#endif
