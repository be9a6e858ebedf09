/* vw_stream_conf: what a stream is configured with: its feeds, picture size, rates, bit rates and
 * keyframe interval, or, when all its feeds are ingest feeds, passthrough. Pure. */
#ifndef VW_STREAM_CONF_H
#define VW_STREAM_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "vw_parse.h"

#define VW_MAX_STREAMS 32
#define VW_STREAM_FEEDS 16 /* feeds a passthrough stream may merge (the Go vw set no limit; 16 covers its uses) */

struct vw_stream_conf {
	char name[VW_NAME_MAX];
	char video_feed[VW_NAME_MAX];
	char audio_feed[VW_NAME_MAX]; /* "" = the video feed's own audio, if it has any */
	int width, height, fps;
	int64_t video_bitrate, audio_bitrate;
	int audio_rate, audio_channels;
	int gop; /* frames between scheduled keyframes */
	bool mute;
	/* Every feed named, in order. A stream whose feeds are all ingest feeds is a passthrough:
	 * it forwards their MPEG-TS as it is, and the encoding fields above do not apply. */
	char feeds[VW_STREAM_FEEDS][VW_NAME_MAX];
	int n_feeds;
	bool passthrough;
	int line, feeds_line;
};

/* Defaults of a stream section. */
void vw_stream_conf_defaults(struct vw_stream_conf *s);
bool vw_stream_conf_equal(const struct vw_stream_conf *a, const struct vw_stream_conf *b);

#endif
