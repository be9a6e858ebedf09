/* vw_encoder: see vw_encoder.h.
 *
 * Timing: stream time zero (t0) is a monotonic instant shortly before the encoder started. A
 * picture captured at t gets the frame number round((t - t0) * fps - phase), the phase fixed by
 * the first picture so that a camera on an exact grid maps to consecutive numbers; a picture that
 * lands on an already used number is skipped (freshest wins), and numbers a slower camera leaves
 * unused (29.97 fps into 30, a camera at 15 fps in low light) get the previous picture again,
 * encoded just before the next one, so the stream keeps its own rate. Audio is a continuous sample count
 * from t0: samples are placed where their capture time says, gaps over 100 ms are filled with
 * silence, overlaps dropped, and a missing or silent feed is covered by silence that follows the
 * clock, so the audio track never stops and players never see the programme change. */
#include "vw_encoder.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>

#include "vw_mux.h"
#include "vw_util.h"

#define MP2_FRAME 1152
#define AUDIO_TOLERANCE_NS (100 * VW_NS_PER_MS) /* capture-time error tolerated before filling or dropping */
#define SILENCE_LAG_NS (150 * VW_NS_PER_MS)     /* how far behind the clock silence is generated */
#define FIFO_MAX_NS (2 * VW_NS_PER_SEC)

/* ---- called from feed threads (under the feed's lock) and the hub (under its lock) ---- */

static void hub_wants_key(void *opaque)
{
	struct vw_encoder *s = opaque;
	atomic_store(&s->want_key, true);
}

static void on_video(void *opaque)
{
	struct vw_encoder *s = opaque;
	pthread_mutex_lock(&s->lock);
	s->video_ready = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static int64_t ns_to_samples(int64_t ns, int rate)
{
	return (int64_t)((__int128)ns * rate / VW_NS_PER_SEC);
}

/* Appends `n` samples of silence; lock held. */
static void fifo_silence(struct vw_encoder *s, int64_t n)
{
	int16_t zero[1024 * 2] = {0};
	while (n > 0) {
		int k = n > 1024 ? 1024 : (int)n;
		void *p = zero;
		if (av_audio_fifo_write(s->fifo, &p, k) < k)
			break;
		s->fifo_end += k;
		s->st.silence_samples += (uint64_t)k;
		n -= k;
	}
}

/* Keeps the FIFO bounded if the encoder thread falls far behind: the oldest audio goes. */
static void fifo_bound(struct vw_encoder *s)
{
	int max = (int)ns_to_samples(FIFO_MAX_NS, s->conf.audio_rate);
	int size = av_audio_fifo_size(s->fifo);
	if (size > max) {
		av_audio_fifo_drain(s->fifo, size - max);
		s->st.dropped_samples += (uint64_t)(size - max);
	}
}

static int setup_swr(struct vw_encoder *s, int rate, int channels)
{
	AVChannelLayout in, out;
	av_channel_layout_default(&in, channels);
	av_channel_layout_default(&out, s->conf.audio_channels);
	swr_free(&s->swr);
	int ret = swr_alloc_set_opts2(&s->swr, &out, AV_SAMPLE_FMT_S16, s->conf.audio_rate, &in, AV_SAMPLE_FMT_S16,
				      rate, 0, NULL);
	if (ret >= 0)
		ret = swr_init(s->swr);
	if (ret < 0) {
		swr_free(&s->swr);
		return ret;
	}
	s->swr_rate = rate;
	s->swr_channels = channels;
	return 0;
}

static void on_audio(void *opaque, const int16_t *samples, int n, int rate, int channels, int64_t t_ns)
{
	struct vw_encoder *s = opaque;
	int16_t buf[8192 * 2];

	pthread_mutex_lock(&s->lock);
	if ((!s->swr || s->swr_rate != rate || s->swr_channels != channels) && setup_swr(s, rate, channels) < 0)
		goto end;
	int64_t target = ns_to_samples(t_ns - s->t0_ns, s->conf.audio_rate);
	int64_t tol = ns_to_samples(AUDIO_TOLERANCE_NS, s->conf.audio_rate);
	bool first = !s->audio_started;
	if (first) {
		/* The programme begins with its first picture; sound from before it is not played. */
		if (!s->video_started)
			goto end;
		s->fifo_end = s->video_start;
		s->audio_started = true;
	}
	if (s->fifo_end < target - (first ? 0 : tol))
		fifo_silence(s, target - s->fifo_end);
	const uint8_t *in = (const uint8_t *)samples;
	while (n > 0) {
		int k = n > 1024 ? 1024 : n; /* even 8 kHz to 48 kHz fits the output buffer */
		uint8_t *out = (uint8_t *)buf;
		int got = swr_convert(s->swr, &out, 8192, &in, k);
		in += (size_t)k * (size_t)channels * sizeof(int16_t);
		n -= k;
		int64_t start = target;
		target += ns_to_samples((int64_t)k * VW_NS_PER_SEC / rate, s->conf.audio_rate);
		if (got <= 0)
			continue;
		int skip = 0;
		if (s->fifo_end > start + (first ? 0 : tol)) { /* before the start, or the source runs fast */
			skip = (int)(s->fifo_end - start < got ? s->fifo_end - start : got);
			s->st.dropped_samples += (uint64_t)skip;
		}
		void *p = buf + skip * s->conf.audio_channels;
		int w = av_audio_fifo_write(s->fifo, &p, got - skip);
		if (w > 0)
			s->fifo_end += w;
	}
	fifo_bound(s);
	/* wake the encoder for whole MP2 frames only, not for every capture period */
	if (av_audio_fifo_size(s->fifo) >= MP2_FRAME) {
		s->audio_ready = true;
		pthread_cond_signal(&s->cond);
	}
end:
	pthread_mutex_unlock(&s->lock);
}

/* ---- encoders ---- */

struct enc {
	AVCodecContext *v, *a;
	struct vw_mux mux;
	struct SwsContext *sws;
	bool sws_failed; /* logged once until a conversion works again */
	AVFrame *yuv, *pcm;
	AVPacket *pkt;
	int64_t last_vpts;
	int64_t last_cap_ns; /* capture time of the picture in yuv */
	double phase;
	bool have_phase;
	int64_t last_forced_ns;
	uint64_t seq;
};

static int open_video(struct vw_encoder *s, struct enc *e)
{
	const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MPEG1VIDEO);
	AVCodecContext *v;

	if (!c || !(v = e->v = avcodec_alloc_context3(c)))
		return AVERROR_ENCODER_NOT_FOUND;
	v->width = s->conf.width;
	v->height = s->conf.height;
	v->pix_fmt = AV_PIX_FMT_YUV420P;
	v->time_base = (AVRational){1, s->conf.fps}; /* mpeg1video derives the frame rate from it */
	v->framerate = (AVRational){s->conf.fps, 1};
	v->bit_rate = s->conf.video_bitrate;
	v->gop_size = s->conf.gop;
	v->max_b_frames = 0;
	/* No reordering delay: a packet per picture, at once. FFmpeg allows LOW_DELAY for MPEG-1 only
	 * below normal compliance; MPEG-1 has no field for it, so the stream itself is unchanged. */
	v->flags |= AV_CODEC_FLAG_LOW_DELAY;
	v->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;
	v->thread_type = FF_THREAD_SLICE;
	v->thread_count = 1;
	return avcodec_open2(v, c, NULL);
}

static int open_audio(struct vw_encoder *s, struct enc *e)
{
	const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MP2);
	AVCodecContext *a;

	if (!c || !(a = e->a = avcodec_alloc_context3(c)))
		return AVERROR_ENCODER_NOT_FOUND;
	a->sample_fmt = AV_SAMPLE_FMT_S16;
	a->sample_rate = s->conf.audio_rate;
	a->bit_rate = s->conf.audio_bitrate;
	a->time_base = (AVRational){1, s->conf.audio_rate};
	av_channel_layout_default(&a->ch_layout, s->conf.audio_channels);
	return avcodec_open2(a, c, NULL);
}

static void close_enc(struct enc *e)
{
	vw_mux_close(&e->mux);
	avcodec_free_context(&e->v);
	avcodec_free_context(&e->a);
	sws_freeContext(e->sws);
	av_frame_free(&e->yuv);
	av_frame_free(&e->pcm);
	av_packet_free(&e->pkt);
}

static int open_enc(struct vw_encoder *s, struct enc *e)
{
	int ret;

	memset(e, 0, sizeof(*e));
	e->last_vpts = -1;
	e->yuv = av_frame_alloc();
	e->pcm = av_frame_alloc();
	e->pkt = av_packet_alloc();
	if (!e->yuv || !e->pcm || !e->pkt) {
		ret = AVERROR(ENOMEM);
		goto end;
	}
	if ((ret = open_video(s, e)) < 0 || (ret = open_audio(s, e)) < 0)
		goto end;
	e->yuv->format = AV_PIX_FMT_YUV420P;
	e->yuv->width = s->conf.width;
	e->yuv->height = s->conf.height;
	if ((ret = av_frame_get_buffer(e->yuv, 0)) < 0)
		goto end;
	e->pcm->format = AV_SAMPLE_FMT_S16;
	e->pcm->nb_samples = MP2_FRAME;
	e->pcm->sample_rate = s->conf.audio_rate;
	av_channel_layout_default(&e->pcm->ch_layout, s->conf.audio_channels);
	if ((ret = av_frame_get_buffer(e->pcm, 0)) < 0)
		goto end;
	ret = vw_mux_open(&e->mux, &s->hub, e->v, e->a);
end:
	if (ret < 0)
		close_enc(e);
	return ret;
}

static void count_bytes(struct vw_encoder *s, uint64_t before, struct enc *e, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	s->st.chunks = e->mux.chunks;
	s->st.bytes = e->mux.bytes;
	if (vw_rate_add(&s->rate, e->mux.bytes - before, now))
		s->st.bitrate = s->rate.per_sec * 8;
	pthread_mutex_unlock(&s->lock);
}

static void drain_packets(struct vw_encoder *s, struct enc *e, AVCodecContext *c, AVStream *st, int64_t capture_ns)
{
	while (avcodec_receive_packet(c, e->pkt) >= 0) {
		bool key = c == e->v && (e->pkt->flags & AV_PKT_FLAG_KEY);
		uint64_t before = e->mux.bytes;
		e->pkt->stream_index = st->index;
		av_packet_rescale_ts(e->pkt, c->time_base, st->time_base);
		/* Before the keyframe is published, not after: a subscriber that resyncs in between
		 * (its queue cleared, a keyframe asked for) still gets this one, and a request made
		 * after the publication is not wiped out by it, which would cost that subscriber a
		 * whole GOP of waiting. */
		if (key)
			atomic_store(&s->want_key, false);
		vw_mux_write(&e->mux, e->pkt, key, capture_ns);
		av_packet_unref(e->pkt);
		int64_t now = vw_now_ns();
		count_bytes(s, before, e, now);
		if (c == e->v) {
			pthread_mutex_lock(&s->lock);
			s->st.frames_encoded++;
			s->st.keyframes += key;
			s->st.last_encode_ns = now - capture_ns;
			pthread_mutex_unlock(&s->lock);
		}
	}
}

static enum AVPixelFormat unjpeg(enum AVPixelFormat f, int *full_range)
{
	*full_range = 1;
	switch (f) {
	case AV_PIX_FMT_YUVJ420P:
		return AV_PIX_FMT_YUV420P;
	case AV_PIX_FMT_YUVJ422P:
		return AV_PIX_FMT_YUV422P;
	case AV_PIX_FMT_YUVJ444P:
		return AV_PIX_FMT_YUV444P;
	default:
		*full_range = 0;
		return f;
	}
}

/* The encoder keeps a reference to the picture it was given; av_frame_make_writable would then
 * copy the whole old picture just before sws_scale overwrites it. A fresh buffer costs nothing. */
static int writable_picture(struct vw_encoder *s, struct enc *e)
{
	if (av_frame_is_writable(e->yuv))
		return 0;
	av_frame_unref(e->yuv);
	e->yuv->format = AV_PIX_FMT_YUV420P;
	e->yuv->width = s->conf.width;
	e->yuv->height = s->conf.height;
	return av_frame_get_buffer(e->yuv, 0);
}

static void repeat_picture(struct vw_encoder *s, struct enc *e, int64_t pts)
{
	e->yuv->pict_type = AV_PICTURE_TYPE_NONE;
	e->yuv->pts = pts;
	if (avcodec_send_frame(e->v, e->yuv) < 0)
		return;
	e->last_vpts = pts;
	pthread_mutex_lock(&s->lock);
	s->st.frames_repeated++;
	pthread_mutex_unlock(&s->lock);
	drain_packets(s, e, e->v, vw_mux_video(&e->mux), e->last_cap_ns);
}

static void encode_picture(struct vw_encoder *s, struct enc *e, AVFrame *in, int64_t t_cap, bool placeholder)
{
	int full;
	enum AVPixelFormat fmt = unjpeg(in->format, &full);
	double x = (double)(t_cap - s->t0_ns) * s->conf.fps / 1e9;
	int64_t now = vw_now_ns();

	if (!e->have_phase) {
		e->phase = x - floor(x);
		e->have_phase = true;
		pthread_mutex_lock(&s->lock);
		s->st.pts_zero_ns = s->t0_ns + llround(e->phase * 1e9 / s->conf.fps);
		pthread_mutex_unlock(&s->lock);
	}
	int64_t pts = llround(x - e->phase);
	pthread_mutex_lock(&s->lock);
	s->st.frames_in++;
	s->st.placeholder_frames += placeholder;
	if (pts <= e->last_vpts || pts < 0)
		s->st.frames_skipped++;
	pthread_mutex_unlock(&s->lock);
	if (pts <= e->last_vpts || pts < 0)
		return;
	/* frame slots without a picture: the last one again (a skipped-macroblock P-frame, nearly
	 * free), up to a second; a longer hole is a stall, which the feed covers with placeholders */
	if (e->last_vpts >= 0 && pts - e->last_vpts <= s->conf.fps)
		for (int64_t p = e->last_vpts + 1; p < pts; p++)
			repeat_picture(s, e, p);

	/* Never SWS_FAST_BILINEAR: on x86 it generates its scaler code at run time in memory it makes
	 * executable, which the service's MemoryDenyWriteExecute refuses, and then no picture is ever
	 * encoded. */
	e->sws = sws_getCachedContext(e->sws, in->width, in->height, fmt, s->conf.width, s->conf.height,
				      AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	if (!e->sws) {
		if (!e->sws_failed)
			vw_err(s->log, s->mod, "cannot convert %dx%d %s pictures to %dx%d yuv420p; pictures are dropped",
			       in->width, in->height, av_get_pix_fmt_name(fmt), s->conf.width, s->conf.height);
		e->sws_failed = true;
		return;
	}
	e->sws_failed = false;
	if (writable_picture(s, e) < 0)
		return;
	if (full) {
		const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
		sws_setColorspaceDetails(e->sws, coef, 1, coef, 0, 0, 1 << 16, 1 << 16);
	}
	sws_scale(e->sws, (const uint8_t *const *)in->data, in->linesize, 0, in->height, e->yuv->data,
		  e->yuv->linesize);

	bool force = false;
	if (atomic_load(&s->want_key) && now - e->last_forced_ns >= VW_KEY_MIN_INTERVAL_NS) {
		force = true;
		e->last_forced_ns = now;
	}
	e->yuv->pict_type = force ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
	e->yuv->pts = pts;
	e->last_vpts = pts;
	e->last_cap_ns = t_cap;
	if (avcodec_send_frame(e->v, e->yuv) < 0)
		return;
	pthread_mutex_lock(&s->lock);
	s->st.forced_keyframes += force;
	if (!s->video_started) {
		s->video_started = true;
		s->video_start = pts * s->conf.audio_rate / s->conf.fps;
	}
	pthread_mutex_unlock(&s->lock);
	drain_packets(s, e, e->v, vw_mux_video(&e->mux), t_cap);
}

static void encode_audio(struct vw_encoder *s, struct enc *e)
{
	bool mute = atomic_load(&s->mute);

	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (av_audio_fifo_size(s->fifo) < MP2_FRAME) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
		if (av_frame_make_writable(e->pcm) < 0) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
		int64_t pts = s->fifo_end - av_audio_fifo_size(s->fifo);
		av_audio_fifo_read(s->fifo, (void **)e->pcm->data, MP2_FRAME);
		s->st.audio_frames++;
		pthread_mutex_unlock(&s->lock);
		if (mute) /* same track, same PIDs: only the samples go quiet */
			memset(e->pcm->data[0], 0, (size_t)MP2_FRAME * (size_t)s->conf.audio_channels * sizeof(int16_t));
		e->pcm->pts = pts;
		if (avcodec_send_frame(e->a, e->pcm) < 0)
			return;
		drain_packets(s, e, e->a, vw_mux_audio(&e->mux),
			      s->t0_ns + pts * VW_NS_PER_SEC / s->conf.audio_rate);
	}
}

/* Silence that follows the clock when the audio feed is absent, slow or missing. */
static void audio_clock(struct vw_encoder *s, int64_t now)
{
	pthread_mutex_lock(&s->lock);
	int64_t due = ns_to_samples(now - s->t0_ns - SILENCE_LAG_NS, s->conf.audio_rate);
	if (!s->audio_started && s->video_started && due > s->video_start) {
		s->fifo_end = s->video_start;
		s->audio_started = true;
	}
	if (s->audio_started && s->fifo_end < due)
		fifo_silence(s, due - s->fifo_end);
	pthread_mutex_unlock(&s->lock);
}

static void *stream_main(void *arg)
{
	struct vw_encoder *s = arg;
	struct enc e;
	int ret = open_enc(s, &e);

	if (ret < 0) {
		vw_err(s->log, s->mod, "cannot set up the encoders: %s", av_err2str(ret));
		return NULL;
	}
	vw_info(s->log, s->mod, "encoding %dx%d@%d mpeg1video %lld bit/s + mp2 %d Hz %d ch %lld bit/s from %s%s%s",
		s->conf.width, s->conf.height, s->conf.fps, (long long)s->conf.video_bitrate, s->conf.audio_rate,
		s->conf.audio_channels, (long long)s->conf.audio_bitrate, s->vfeed->conf.name, s->afeed ? "+" : "",
		s->afeed ? s->afeed->conf.name : " (silent audio)");
	while (!atomic_load(&s->stop)) {
		struct timespec ts;
		/* pictures and sound wake it; this only paces the silence that covers a missing feed */
		int64_t wake = vw_now_ns() + 50 * VW_NS_PER_MS;
		ts.tv_sec = wake / VW_NS_PER_SEC;
		ts.tv_nsec = wake % VW_NS_PER_SEC;
		pthread_mutex_lock(&s->lock);
		while (!s->video_ready && !s->audio_ready && !atomic_load(&s->stop))
			if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
				break;
		bool video = s->video_ready;
		s->video_ready = s->audio_ready = false;
		pthread_mutex_unlock(&s->lock);

		if (video) {
			int64_t t;
			bool ph;
			AVFrame *fr = vw_feed_take_frame(s->vfeed, &e.seq, &t, &ph);
			if (fr) {
				encode_picture(s, &e, fr, t, ph);
				av_frame_free(&fr);
			}
		}
		audio_clock(s, vw_now_ns());
		encode_audio(s, &e);
	}
	/* Flush: neither encoder holds pictures back, but the muxer's trailer still has to go out. */
	avcodec_send_frame(e.v, NULL);
	drain_packets(s, &e, e.v, vw_mux_video(&e.mux), vw_now_ns());
	close_enc(&e);
	/* The final count, for checking a recording against what was encoded after the API is gone. */
	vw_info(s->log, s->mod, "stopped after %llu pictures (%llu placeholders), %llu keyframes",
		(unsigned long long)s->st.frames_encoded, (unsigned long long)s->st.placeholder_frames,
		(unsigned long long)s->st.keyframes);
	return NULL;
}

int vw_encoder_start(struct vw_encoder *s, const struct vw_stream_conf *conf, struct vw_feed *vfeed,
		    struct vw_feed *afeed, struct vw_log *log)
{
	int ret;
	pthread_condattr_t ca;

	memset(s, 0, sizeof(*s));
	s->conf = *conf;
	s->log = log;
	s->vfeed = vfeed;
	s->afeed = afeed;
	vw_rate_init(&s->rate, 2 * VW_NS_PER_SEC);
	snprintf(s->mod, sizeof(s->mod), "stream %s", conf->name);
	atomic_init(&s->stop, false);
	atomic_init(&s->want_key, false);
	atomic_init(&s->mute, conf->mute);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	ret = vw_hub_init(&s->hub, hub_wants_key, s);
	if (ret < 0)
		goto fail;
	s->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_S16, conf->audio_channels, conf->audio_rate);
	if (!s->fifo) {
		ret = -ENOMEM;
		goto fail_hub;
	}
	/* A second before now: the picture already waiting in the feed's slot has a place, and MP2's
	 * 481-sample encoder padding does not push the first audio timestamp below zero. */
	s->t0_ns = vw_now_ns() - VW_NS_PER_SEC;
	s->vlisten = (struct vw_feed_listener){.on_video = on_video, .opaque = s};
	s->alisten = (struct vw_feed_listener){.on_audio = on_audio, .opaque = s};
	if (afeed == vfeed) {
		s->vlisten.on_audio = on_audio;
		vw_feed_listen(vfeed, &s->vlisten);
	} else {
		vw_feed_listen(vfeed, &s->vlisten);
		if (afeed)
			vw_feed_listen(afeed, &s->alisten);
	}
	ret = -pthread_create(&s->thread, NULL, stream_main, s);
	if (ret < 0)
		goto fail_listen;
	vw_thread_name(s->thread, "enc", conf->name);
	s->running = true;
	return 0;
fail_listen:
	vw_feed_unlisten(vfeed, &s->vlisten);
	if (afeed && afeed != vfeed)
		vw_feed_unlisten(afeed, &s->alisten);
	av_audio_fifo_free(s->fifo);
fail_hub:
	vw_hub_destroy(&s->hub);
fail:
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	return ret;
}

void vw_encoder_stop(struct vw_encoder *s)
{
	if (!s->running)
		return;
	vw_feed_unlisten(s->vfeed, &s->vlisten);
	if (s->afeed && s->afeed != s->vfeed)
		vw_feed_unlisten(s->afeed, &s->alisten);
	atomic_store(&s->stop, true);
	pthread_mutex_lock(&s->lock);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->running = false;
	vw_hub_close(&s->hub);
}

void vw_encoder_free(struct vw_encoder *s)
{
	vw_hub_destroy(&s->hub);
	swr_free(&s->swr);
	av_audio_fifo_free(s->fifo);
	s->fifo = NULL;
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}

void vw_encoder_request_key(struct vw_encoder *s)
{
	atomic_store(&s->want_key, true);
}

void vw_encoder_set_mute(struct vw_encoder *s, bool mute)
{
	atomic_store(&s->mute, mute);
}

void vw_encoder_get_stats(struct vw_encoder *s, struct vw_encoder_stats *st)
{
	pthread_mutex_lock(&s->lock);
	*st = s->st;
	pthread_mutex_unlock(&s->lock);
}
