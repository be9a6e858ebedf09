/* vw_encoder: one encoded stream and its encoder thread. Owns the path from feeds to hub: the
 * freshest video frame scaled to the stream size and encoded as MPEG-1 (no B-frames, no encoder
 * delay), audio resampled into a FIFO and encoded as MP2 in 1152-sample frames, both stamped from
 * the feeds' monotonic capture times and muxed into MPEG-TS chunks on the stream's hub. Also owns
 * keyframe requests (rate-limited), mute (silence on the same track) and encoder statistics. */
#ifndef VW_ENCODER_H
#define VW_ENCODER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vw_stream_conf.h"
#include "vw_feed.h"
#include "vw_hub.h"
#include "vw_log.h"
#include "vw_rate.h"

#define VW_KEY_MIN_INTERVAL_NS (250 * 1000000LL) /* forced keyframes at most this often */

struct vw_encoder_stats {
	uint64_t frames_in;      /* pictures taken from the video feed */
	uint64_t frames_encoded; /* pictures encoded */
	uint64_t frames_skipped; /* pictures that arrived within the same frame slot (feed faster than stream) */
	uint64_t frames_repeated; /* frame slots no picture arrived for, filled with the previous picture */
	uint64_t placeholder_frames;
	uint64_t keyframes, forced_keyframes;
	uint64_t audio_frames, silence_samples, dropped_samples;
	uint64_t chunks, bytes;
	uint64_t encode_errors; /* pictures or sound the encoders refused, packets they failed to give */
	uint64_t mux_errors;    /* packets the muxer refused */
	double bitrate; /* bits per second over the last few seconds */
	int64_t last_encode_ns; /* time from capture to hub of the last picture */
	/* The capture instant (CLOCK_MONOTONIC ns) that a video PTS of 0 stands for: a picture with
	 * the TS PTS P (90 kHz) was captured at pts_zero_ns + P / 90 kHz, within half a frame for a
	 * camera off the stream's grid. 0 until the first picture. */
	int64_t pts_zero_ns;
};

/* Sound as the feed delivered it, waiting for the encoder thread to resample it. */
struct vw_audio_period {
	int64_t t_ns;
	int n, rate, channels;
	int16_t *pcm; /* n * channels interleaved */
	size_t cap;   /* samples * channels pcm holds */
};

#define VW_AUDIO_PERIODS 128 /* 2.5 s of 20 ms capture periods */

struct vw_audio_queue {
	struct vw_audio_period p[VW_AUDIO_PERIODS];
	int head, count;
};

struct vw_encoder_work; /* the encoder thread's own: codecs, muxer, scaler, resampler, sample FIFO */

struct vw_encoder {
	struct vw_stream_conf conf;
	struct vw_log *log;
	char mod[VW_NAME_MAX + 8];
	char error[200]; /* why vw_encoder_start failed */
	struct vw_feed *vfeed, *afeed;
	struct vw_feed_listener vlisten, alisten;
	struct vw_hub hub;
	int64_t t0_ns; /* stream time zero on the monotonic clock; set before the thread starts */
	struct vw_encoder_work *work;

	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_bool want_key;
	atomic_bool mute;

	/* Protects what feeds' threads and readers of the statistics touch: the fields below. A
	 * feed's thread holds its own lock when it calls in (feed lock -> encoder lock), so it
	 * only copies here; resampling and encoding happen on the encoder's thread without it. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool video_ready, audio_ready;
	struct vw_audio_queue aq[2];
	struct vw_audio_queue *aq_in; /* the one feeds append to; the encoder thread takes the other */
	int64_t aq_samples;  /* queued sound, in stream-rate samples */
	int64_t fifo_level;  /* samples the encoder thread left in its FIFO (less than one MP2 frame) */
	struct vw_encoder_stats st;
	struct vw_rate rate; /* muxed bytes over 2 s windows */
};

/* Opens the encoders and the muxer for `conf`, then starts encoding from the video feed `vfeed`
 * and the audio feed `afeed` (may be NULL for a silent track, or the video feed itself). The hub is
 * live on return. A negative AVERROR when an encoder refuses the settings (s->error says which
 * and why); nothing is left to stop or free then. */
int vw_encoder_start(struct vw_encoder *s, const struct vw_stream_conf *conf, struct vw_feed *vfeed,
		    struct vw_feed *afeed, struct vw_log *log);
/* Stops the encoder: what the feeds delivered before is encoded, both encoders are flushed, the
 * muxer's trailer goes out and the hub closes (subscribers drain, then see the end). */
void vw_encoder_stop(struct vw_encoder *s);
/* Frees the hub; every subscriber must be gone. */
void vw_encoder_free(struct vw_encoder *s);

/* Asks for a keyframe on the next picture (honoured at most every VW_KEY_MIN_INTERVAL_NS). */
void vw_encoder_request_key(struct vw_encoder *s);
void vw_encoder_set_mute(struct vw_encoder *s, bool mute);
void vw_encoder_get_stats(struct vw_encoder *s, struct vw_encoder_stats *st);

#endif
