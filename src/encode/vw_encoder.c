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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
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
	/* exact where ns * rate exceeds 64 bits (after 106 days at 48 kHz), and 32-bit targets have no
	 * 128-bit integers */
	return av_rescale_rnd(ns, rate, VW_NS_PER_SEC, AV_ROUND_ZERO);
}

static int64_t stream_samples(const struct vw_encoder *s, int n, int rate)
{
	return (int64_t)n * s->conf.audio_rate / rate;
}

/* Only a copy under the two locks (feed -> encoder): the encoder thread resamples. When that
 * thread is far behind, the oldest period goes, as the FIFO behind it drops its oldest sound. */
static void on_audio(void *opaque, const int16_t *samples, int n, int rate, int channels, int64_t t_ns)
{
	struct vw_encoder *s = opaque;
	size_t need = (size_t)n * (size_t)channels;

	if (n <= 0 || rate <= 0 || channels <= 0)
		return;
	pthread_mutex_lock(&s->lock);
	struct vw_audio_queue *q = s->aq_in;
	if (q->count == VW_AUDIO_PERIODS) {
		struct vw_audio_period *old = &q->p[q->head];
		int64_t k = stream_samples(s, old->n, old->rate);
		s->st.dropped_samples += (uint64_t)k;
		s->aq_samples -= k;
		q->head = (q->head + 1) % VW_AUDIO_PERIODS;
		q->count--;
	}
	struct vw_audio_period *p = &q->p[(q->head + q->count) % VW_AUDIO_PERIODS];
	if (p->cap < need) {
		int16_t *np = realloc(p->pcm, need * sizeof(int16_t));
		if (!np) {
			s->st.dropped_samples += (uint64_t)stream_samples(s, n, rate);
			goto end;
		}
		p->pcm = np;
		p->cap = need;
	}
	memcpy(p->pcm, samples, need * sizeof(int16_t));
	p->t_ns = t_ns;
	p->n = n;
	p->rate = rate;
	p->channels = channels;
	q->count++;
	s->aq_samples += stream_samples(s, n, rate);
	/* wake the encoder for whole MP2 frames only, not for every capture period */
	if (s->fifo_level + s->aq_samples >= MP2_FRAME) {
		s->audio_ready = true;
		pthread_cond_signal(&s->cond);
	}
end:
	pthread_mutex_unlock(&s->lock);
}

/* ---- the encoder thread's own state ---- */

struct vw_encoder_work {
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

	struct SwrContext *swr;
	int swr_rate, swr_channels;
	struct AVAudioFifo *fifo;
	int64_t fifo_end; /* stream-rate sample index just past the newest sample in the FIFO */
	bool audio_started;
	bool video_started;
	int64_t video_start; /* stream-rate sample index of the first picture: where audio begins */
	int16_t *resampled;  /* swr_convert's output */
	int resampled_cap;   /* samples */

	/* each logged at its first occurrence and when the error changes, counted always */
	struct vw_log_gate video_gate, audio_gate, mux_gate;
};

/* An encoder or muxer error: counted in the statistics, logged once. */
static void count_error(struct vw_encoder *s, struct vw_log_gate *gate, const char *what, int err)
{
	struct vw_encoder_work *e = s->work;
	pthread_mutex_lock(&s->lock);
	if (gate == &e->mux_gate)
		s->st.mux_errors++;
	else
		s->st.encode_errors++;
	pthread_mutex_unlock(&s->lock);
	/* once per error: the key is the error and what failed */
	vw_log_gated(s->log, gate, vw_log_key(what) ^ (uint64_t)(uint32_t)err, vw_now_ns(), VW_LOG_ERROR, s->mod,
		     "%s: %s (counted in the stream's statistics)", what, av_err2str(err));
}

static void add_stat(struct vw_encoder *s, uint64_t *counter, uint64_t n)
{
	pthread_mutex_lock(&s->lock);
	*counter += n;
	pthread_mutex_unlock(&s->lock);
}

/* Appends `n` samples of silence. */
static void fifo_silence(struct vw_encoder *s, int64_t n)
{
	struct vw_encoder_work *e = s->work;
	int16_t zero[1024 * 2] = {0};
	uint64_t added = 0;
	while (n > 0) {
		int k = n > 1024 ? 1024 : (int)n;
		void *p = zero;
		if (av_audio_fifo_write(e->fifo, &p, k) < k)
			break;
		e->fifo_end += k;
		added += (uint64_t)k;
		n -= k;
	}
	if (added)
		add_stat(s, &s->st.silence_samples, added);
}

/* Keeps the FIFO bounded if the encoder falls far behind: the oldest audio goes. */
static void fifo_bound(struct vw_encoder *s)
{
	struct vw_encoder_work *e = s->work;
	int max = (int)ns_to_samples(FIFO_MAX_NS, s->conf.audio_rate);
	int size = av_audio_fifo_size(e->fifo);
	if (size > max) {
		av_audio_fifo_drain(e->fifo, size - max);
		add_stat(s, &s->st.dropped_samples, (uint64_t)(size - max));
	}
}

static int setup_swr(struct vw_encoder *s, int rate, int channels)
{
	struct vw_encoder_work *e = s->work;
	AVChannelLayout in, out;
	av_channel_layout_default(&in, channels);
	av_channel_layout_default(&out, s->conf.audio_channels);
	swr_free(&e->swr);
	int ret = swr_alloc_set_opts2(&e->swr, &out, AV_SAMPLE_FMT_S16, s->conf.audio_rate, &in, AV_SAMPLE_FMT_S16,
				      rate, 0, NULL);
	if (ret >= 0)
		ret = swr_init(e->swr);
	if (ret < 0) {
		swr_free(&e->swr);
		return ret;
	}
	e->swr_rate = rate;
	e->swr_channels = channels;
	return 0;
}

/* One captured period into the FIFO at the place its capture time says. */
static void place_audio(struct vw_encoder *s, const struct vw_audio_period *pd)
{
	struct vw_encoder_work *e = s->work;
	const int rate = pd->rate, channels = pd->channels;
	int n = pd->n;
	uint64_t dropped = 0;
	int ret;

	if ((!e->swr || e->swr_rate != rate || e->swr_channels != channels) && (ret = setup_swr(s, rate, channels)) < 0) {
		count_error(s, &e->audio_gate, "cannot resample the sound", ret);
		return;
	}
	int64_t target = ns_to_samples(pd->t_ns - s->t0_ns, s->conf.audio_rate);
	int64_t tol = ns_to_samples(AUDIO_TOLERANCE_NS, s->conf.audio_rate);
	bool first = !e->audio_started;
	if (first) {
		/* The programme begins with its first picture; sound from before it is not played. */
		if (!e->video_started)
			return;
		e->fifo_end = e->video_start;
		e->audio_started = true;
	}
	if (e->fifo_end < target - (first ? 0 : tol))
		fifo_silence(s, target - e->fifo_end);
	const uint8_t *in = (const uint8_t *)pd->pcm;
	while (n > 0) {
		int k = n > 1024 ? 1024 : n;
		int max = swr_get_out_samples(e->swr, k);
		if (max > e->resampled_cap) {
			int16_t *r = av_realloc_array(e->resampled, (size_t)max, sizeof(int16_t) * (size_t)s->conf.audio_channels);
			if (!r)
				break;
			e->resampled = r;
			e->resampled_cap = max;
		}
		uint8_t *out = (uint8_t *)e->resampled;
		int got = swr_convert(e->swr, &out, e->resampled_cap, &in, k);
		in += (size_t)k * (size_t)channels * sizeof(int16_t);
		n -= k;
		int64_t start = target;
		target += ns_to_samples((int64_t)k * VW_NS_PER_SEC / rate, s->conf.audio_rate);
		if (got <= 0)
			continue;
		int skip = 0;
		if (e->fifo_end > start + (first ? 0 : tol)) { /* before the start, or the source runs fast */
			skip = (int)(e->fifo_end - start < got ? e->fifo_end - start : got);
			dropped += (uint64_t)skip;
		}
		void *p = e->resampled + skip * s->conf.audio_channels;
		int w = av_audio_fifo_write(e->fifo, &p, got - skip);
		if (w > 0)
			e->fifo_end += w;
	}
	if (dropped)
		add_stat(s, &s->st.dropped_samples, dropped);
}

/* Takes what the feeds queued and resamples it into the FIFO, without the lock. */
static void take_audio(struct vw_encoder *s)
{
	pthread_mutex_lock(&s->lock);
	struct vw_audio_queue *q = s->aq_in;
	s->aq_in = q == &s->aq[0] ? &s->aq[1] : &s->aq[0];
	s->aq_samples = 0;
	pthread_mutex_unlock(&s->lock);
	if (!q->count)
		return;
	for (int i = 0; i < q->count; i++)
		place_audio(s, &q->p[(q->head + i) % VW_AUDIO_PERIODS]);
	q->head = q->count = 0;
	fifo_bound(s);
}

/* ---- encoders ---- */

static int open_video(struct vw_encoder *s, struct vw_encoder_work *e)
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

static int open_audio(struct vw_encoder *s, struct vw_encoder_work *e)
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

static void close_work(struct vw_encoder_work *e)
{
	if (!e)
		return;
	vw_mux_close(&e->mux);
	avcodec_free_context(&e->v);
	avcodec_free_context(&e->a);
	sws_freeContext(e->sws);
	av_frame_free(&e->yuv);
	av_frame_free(&e->pcm);
	av_packet_free(&e->pkt);
	swr_free(&e->swr);
	av_audio_fifo_free(e->fifo);
	av_free(e->resampled);
	free(e);
}

/* Everything the encoder thread needs, opened on the caller's thread so that a refusal reaches
 * the caller (and the API) instead of leaving a stream that looks alive and never sends. */
static int open_work(struct vw_encoder *s)
{
	struct vw_encoder_work *e = calloc(1, sizeof(*e));
	int ret;

	if (!e) {
		snprintf(s->error, sizeof(s->error), "out of memory");
		return AVERROR(ENOMEM);
	}
	s->work = e;
	e->last_vpts = -1;
	e->yuv = av_frame_alloc();
	e->pcm = av_frame_alloc();
	e->pkt = av_packet_alloc();
	e->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_S16, s->conf.audio_channels, s->conf.audio_rate);
	if (!e->yuv || !e->pcm || !e->pkt || !e->fifo) {
		ret = AVERROR(ENOMEM);
		snprintf(s->error, sizeof(s->error), "out of memory");
		goto end;
	}
	if ((ret = open_video(s, e)) < 0) {
		snprintf(s->error, sizeof(s->error), "the mpeg1video encoder refuses %dx%d at %d fps, %lld bit/s: %s",
			 s->conf.width, s->conf.height, s->conf.fps, (long long)s->conf.video_bitrate, av_err2str(ret));
		goto end;
	}
	if ((ret = open_audio(s, e)) < 0) {
		snprintf(s->error, sizeof(s->error), "the mp2 encoder refuses %d Hz, %d channel%s, %lld bit/s: %s",
			 s->conf.audio_rate, s->conf.audio_channels, s->conf.audio_channels > 1 ? "s" : "",
			 (long long)s->conf.audio_bitrate, av_err2str(ret));
		goto end;
	}
	e->yuv->format = AV_PIX_FMT_YUV420P;
	e->yuv->width = s->conf.width;
	e->yuv->height = s->conf.height;
	if ((ret = av_frame_get_buffer(e->yuv, 0)) < 0)
		goto fail;
	e->pcm->format = AV_SAMPLE_FMT_S16;
	e->pcm->nb_samples = MP2_FRAME;
	e->pcm->sample_rate = s->conf.audio_rate;
	av_channel_layout_default(&e->pcm->ch_layout, s->conf.audio_channels);
	if ((ret = av_frame_get_buffer(e->pcm, 0)) < 0)
		goto fail;
	if ((ret = vw_mux_open(&e->mux, &s->hub, e->v, e->a)) < 0) {
		snprintf(s->error, sizeof(s->error), "the MPEG-TS muxer cannot start: %s", av_err2str(ret));
		goto end;
	}
	return 0;
fail:
	snprintf(s->error, sizeof(s->error), "cannot set up the encoders: %s", av_err2str(ret));
end:
	close_work(e);
	s->work = NULL;
	return ret;
}

static void count_bytes(struct vw_encoder *s, uint64_t before, int64_t now)
{
	struct vw_encoder_work *e = s->work;
	pthread_mutex_lock(&s->lock);
	s->st.chunks = e->mux.chunks;
	s->st.bytes = e->mux.bytes;
	if (vw_rate_add(&s->rate, e->mux.bytes - before, now))
		s->st.bitrate = s->rate.per_sec * 8;
	pthread_mutex_unlock(&s->lock);
}

/* Muxes every packet the encoder `c` has ready. */
static void drain_packets(struct vw_encoder *s, AVCodecContext *c, AVStream *st, int64_t capture_ns)
{
	struct vw_encoder_work *e = s->work;
	bool video = c == e->v;
	int ret;

	while ((ret = avcodec_receive_packet(c, e->pkt)) >= 0) {
		bool key = video && (e->pkt->flags & AV_PKT_FLAG_KEY);
		uint64_t before = e->mux.bytes;
		e->pkt->stream_index = st->index;
		av_packet_rescale_ts(e->pkt, c->time_base, st->time_base);
		/* Before the keyframe is published, not after: a subscriber that resyncs in between
		 * (its queue cleared, a keyframe asked for) still gets this one, and a request made
		 * after the publication is not wiped out by it, which would cost that subscriber a
		 * whole GOP of waiting. */
		if (key)
			atomic_store(&s->want_key, false);
		int mret = vw_mux_write(&e->mux, e->pkt, key, capture_ns);
		av_packet_unref(e->pkt);
		if (mret < 0)
			count_error(s, &e->mux_gate, video ? "the muxer refused a picture" : "the muxer refused sound", mret);
		int64_t now = vw_now_ns();
		count_bytes(s, before, now);
		if (video) {
			pthread_mutex_lock(&s->lock);
			s->st.frames_encoded++;
			s->st.keyframes += key;
			s->st.last_encode_ns = now - capture_ns;
			pthread_mutex_unlock(&s->lock);
		}
	}
	/* EAGAIN: it wants the next frame; EOF: flushed. Anything else is a failure. */
	if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
		count_error(s, video ? &e->video_gate : &e->audio_gate,
			    video ? "the video encoder failed" : "the audio encoder failed", ret);
}

/* Hands `frame` (NULL: the end) to an encoder and muxes what it gives back. */
static void encode(struct vw_encoder *s, AVCodecContext *c, AVFrame *frame, int64_t capture_ns)
{
	struct vw_encoder_work *e = s->work;
	bool video = c == e->v;
	int ret = avcodec_send_frame(c, frame);

	if (ret < 0) {
		count_error(s, video ? &e->video_gate : &e->audio_gate,
			    video ? "the video encoder refused a picture" : "the audio encoder refused sound", ret);
		return;
	}
	drain_packets(s, c, video ? vw_mux_video(&e->mux) : vw_mux_audio(&e->mux), capture_ns);
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
static int writable_picture(struct vw_encoder *s, struct vw_encoder_work *e)
{
	if (av_frame_is_writable(e->yuv))
		return 0;
	av_frame_unref(e->yuv);
	e->yuv->format = AV_PIX_FMT_YUV420P;
	e->yuv->width = s->conf.width;
	e->yuv->height = s->conf.height;
	return av_frame_get_buffer(e->yuv, 0);
}

static void repeat_picture(struct vw_encoder *s, int64_t pts)
{
	struct vw_encoder_work *e = s->work;
	int ret;

	e->yuv->pict_type = AV_PICTURE_TYPE_NONE;
	e->yuv->pts = pts;
	if ((ret = avcodec_send_frame(e->v, e->yuv)) < 0) {
		count_error(s, &e->video_gate, "the video encoder refused a picture", ret);
		return;
	}
	e->last_vpts = pts;
	add_stat(s, &s->st.frames_repeated, 1);
	drain_packets(s, e->v, vw_mux_video(&e->mux), e->last_cap_ns);
}

static void encode_picture(struct vw_encoder *s, AVFrame *in, int64_t t_cap, bool placeholder)
{
	struct vw_encoder_work *e = s->work;
	int full, ret;
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
			repeat_picture(s, p);

	/* Never SWS_FAST_BILINEAR: on x86 it generates its scaler code at run time in memory it makes
	 * executable, which the service's MemoryDenyWriteExecute refuses, and then no picture is ever
	 * encoded. */
	e->sws = sws_getCachedContext(e->sws, in->width, in->height, fmt, s->conf.width, s->conf.height,
				      AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
	if (!e->sws) {
		add_stat(s, &s->st.encode_errors, 1);
		if (!e->sws_failed)
			vw_err(s->log, s->mod, "cannot convert %dx%d %s pictures to %dx%d yuv420p; pictures are dropped",
			       in->width, in->height, av_get_pix_fmt_name(fmt), s->conf.width, s->conf.height);
		e->sws_failed = true;
		return;
	}
	e->sws_failed = false;
	if ((ret = writable_picture(s, e)) < 0) {
		count_error(s, &e->video_gate, "cannot get a picture buffer", ret);
		return;
	}
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
	if ((ret = avcodec_send_frame(e->v, e->yuv)) < 0) {
		count_error(s, &e->video_gate, "the video encoder refused a picture", ret);
		return;
	}
	if (force)
		add_stat(s, &s->st.forced_keyframes, 1);
	if (!e->video_started) {
		e->video_started = true;
		e->video_start = pts * s->conf.audio_rate / s->conf.fps;
	}
	drain_packets(s, e->v, vw_mux_video(&e->mux), t_cap);
}

/* Every whole MP2 frame in the FIFO. */
static void encode_audio(struct vw_encoder *s)
{
	struct vw_encoder_work *e = s->work;
	bool mute = atomic_load(&s->mute);

	while (av_audio_fifo_size(e->fifo) >= MP2_FRAME && av_frame_make_writable(e->pcm) >= 0) {
		int64_t pts = e->fifo_end - av_audio_fifo_size(e->fifo);
		av_audio_fifo_read(e->fifo, (void **)e->pcm->data, MP2_FRAME);
		add_stat(s, &s->st.audio_frames, 1);
		if (mute) /* same track, same PIDs: only the samples go quiet */
			memset(e->pcm->data[0], 0, (size_t)MP2_FRAME * (size_t)s->conf.audio_channels * sizeof(int16_t));
		e->pcm->pts = pts;
		encode(s, e->a, e->pcm, s->t0_ns + pts * VW_NS_PER_SEC / s->conf.audio_rate);
	}
	pthread_mutex_lock(&s->lock);
	s->fifo_level = av_audio_fifo_size(e->fifo);
	pthread_mutex_unlock(&s->lock);
}

/* Silence that follows the clock when the audio feed is absent, slow or missing. */
static void audio_clock(struct vw_encoder *s, int64_t now)
{
	struct vw_encoder_work *e = s->work;
	int64_t due = ns_to_samples(now - s->t0_ns - SILENCE_LAG_NS, s->conf.audio_rate);
	if (!e->audio_started && e->video_started && due > e->video_start) {
		e->fifo_end = e->video_start;
		e->audio_started = true;
	}
	if (e->audio_started && e->fifo_end < due)
		fifo_silence(s, due - e->fifo_end);
}

static void *encoder_main(void *arg)
{
	struct vw_encoder *s = arg;
	struct vw_encoder_work *e = s->work;

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
			AVFrame *fr = vw_feed_take_frame(s->vfeed, &e->seq, &t, &ph);
			if (fr) {
				encode_picture(s, fr, t, ph);
				av_frame_free(&fr);
			}
		}
		take_audio(s);
		audio_clock(s, vw_now_ns());
		encode_audio(s);
	}
	/* The feeds let go before stop was set: the sound they queued is the last, and every whole
	 * frame of it goes out; then both encoders give up what they hold (neither holds frames
	 * back with these settings, but that is theirs to say). The muxer's trailer follows when
	 * the owner closes the work. */
	take_audio(s);
	encode_audio(s);
	encode(s, e->v, NULL, vw_now_ns());
	encode(s, e->a, NULL, vw_now_ns());
	/* The final count, for checking a recording against what was encoded after the API is gone. */
	struct vw_encoder_stats st;
	vw_encoder_get_stats(s, &st);
	vw_info(s->log, s->mod, "stopped after %llu pictures (%llu placeholders), %llu keyframes, %llu audio frames",
		(unsigned long long)st.frames_encoded, (unsigned long long)st.placeholder_frames,
		(unsigned long long)st.keyframes, (unsigned long long)st.audio_frames);
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
	s->aq_in = &s->aq[0];
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
	if (ret < 0) {
		snprintf(s->error, sizeof(s->error), "cannot set up the hub: %s", strerror(-ret));
		goto fail;
	}
	ret = open_work(s);
	if (ret < 0)
		goto fail_hub;
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
	ret = -pthread_create(&s->thread, NULL, encoder_main, s);
	if (ret < 0) {
		snprintf(s->error, sizeof(s->error), "cannot start the encoder thread: %s", strerror(-ret));
		goto fail_listen;
	}
	vw_thread_name(s->thread, "enc", conf->name);
	s->running = true;
	return 0;
fail_listen:
	vw_feed_unlisten(vfeed, &s->vlisten);
	if (afeed && afeed != vfeed)
		vw_feed_unlisten(afeed, &s->alisten);
	close_work(s->work);
	s->work = NULL;
fail_hub:
	vw_hub_destroy(&s->hub);
fail:
	for (int q = 0; q < 2; q++)
		for (int i = 0; i < VW_AUDIO_PERIODS; i++)
			free(s->aq[q].p[i].pcm);
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
	close_work(s->work); /* the muxer's trailer: the last chunk on the hub */
	s->work = NULL;
	vw_hub_close(&s->hub);
}

void vw_encoder_free(struct vw_encoder *s)
{
	vw_hub_destroy(&s->hub);
	for (int q = 0; q < 2; q++)
		for (int i = 0; i < VW_AUDIO_PERIODS; i++) {
			free(s->aq[q].p[i].pcm);
			s->aq[q].p[i].pcm = NULL;
		}
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
