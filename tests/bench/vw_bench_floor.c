/* vw_bench_floor: the benchmark's floor — what encoding the camera's pictures and the microphone's
 * samples costs with libav alone, in a process of its own so its CPU time and peak RSS can be
 * read like vw's. No capture, network or files: it renders the fake camera's frames itself (the
 * same pattern and barcode, vw_fakecam_picture), converts YUYV -> yuv420p with libswscale,
 * encodes MPEG-1 video and MP2 audio with libavcodec using vw's encoder settings, and muxes
 * MPEG-TS with libavformat into a write callback that counts and discards the bytes. It runs in
 * real time on the camera's 25 fps grid, so caches and clock speed behave as in the live cases.
 *
 *   vw_bench_floor SECONDS CAPTURE_WxH OUT_WxH:BITRATE[,OUT_WxH:BITRATE...] [TONE_FILE]
 *
 * One output per stream, as vw runs one encoder pair per stream; TONE_FILE (s16le, 48 kHz,
 * stereo, looped) adds an MP2 track to each. Prints one summary line and exits 0. */
#include "vw_fakecam_picture.h"

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FPS 25
#define RATE 48000
#define MP2_FRAME 1152
#define MAX_OUT 4

struct out {
	int w, h;
	long bitrate;
	struct SwsContext *sws;
	AVCodecContext *v, *a;
	AVFormatContext *oc;
	AVFrame *yuv, *pcm;
	AVPacket *pkt;
	long long bytes;
};

static volatile sig_atomic_t stop; /* main() owns the process: a signal flag is its only way in */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int on_write(void *opaque, uint8_t *buf, int len)
{
	(void)buf;
	((struct out *)opaque)->bytes += len;
	return len;
}

static int add_stream(AVFormatContext *oc, const AVCodecContext *c)
{
	AVStream *st = avformat_new_stream(oc, NULL);
	if (!st)
		return AVERROR(ENOMEM);
	st->time_base = c->time_base;
	return avcodec_parameters_from_context(st->codecpar, c);
}

/* The settings of vw_encoder.c/vw_mux.c, so the floor does the same work vw must do. */
static int open_out(struct out *o, int cap_w, int cap_h, bool audio)
{
	const AVCodec *vc = avcodec_find_encoder(AV_CODEC_ID_MPEG1VIDEO);
	const AVCodec *ac = avcodec_find_encoder(AV_CODEC_ID_MP2);
	AVDictionary *opts = NULL;
	int ret;
	uint8_t *buf;

	if (!vc || !ac || !(o->v = avcodec_alloc_context3(vc)))
		return AVERROR_ENCODER_NOT_FOUND;
	o->v->width = o->w;
	o->v->height = o->h;
	o->v->pix_fmt = AV_PIX_FMT_YUV420P;
	o->v->time_base = (AVRational){1, FPS};
	o->v->framerate = (AVRational){FPS, 1};
	o->v->bit_rate = o->bitrate;
	o->v->gop_size = 50;
	o->v->max_b_frames = 0;
	o->v->flags |= AV_CODEC_FLAG_LOW_DELAY;
	o->v->strict_std_compliance = FF_COMPLIANCE_UNOFFICIAL;
	o->v->thread_count = 1;
	if ((ret = avcodec_open2(o->v, vc, NULL)) < 0)
		return ret;
	if (audio) {
		if (!(o->a = avcodec_alloc_context3(ac)))
			return AVERROR(ENOMEM);
		o->a->sample_fmt = AV_SAMPLE_FMT_S16;
		o->a->sample_rate = RATE;
		o->a->bit_rate = 128000;
		o->a->time_base = (AVRational){1, RATE};
		av_channel_layout_default(&o->a->ch_layout, 2);
		if ((ret = avcodec_open2(o->a, ac, NULL)) < 0)
			return ret;
		o->pcm = av_frame_alloc();
		if (!o->pcm)
			return AVERROR(ENOMEM);
		o->pcm->format = AV_SAMPLE_FMT_S16;
		o->pcm->nb_samples = MP2_FRAME;
		o->pcm->sample_rate = RATE;
		av_channel_layout_default(&o->pcm->ch_layout, 2);
		if ((ret = av_frame_get_buffer(o->pcm, 0)) < 0)
			return ret;
	}
	int flags = cap_w == o->w && cap_h == o->h ? SWS_FAST_BILINEAR : SWS_BILINEAR;
	o->sws = sws_getContext(cap_w, cap_h, AV_PIX_FMT_YUYV422, o->w, o->h, AV_PIX_FMT_YUV420P, flags, NULL,
				NULL, NULL);
	o->yuv = av_frame_alloc();
	o->pkt = av_packet_alloc();
	if (!o->sws || !o->yuv || !o->pkt)
		return AVERROR(ENOMEM);
	o->yuv->format = AV_PIX_FMT_YUV420P;
	o->yuv->width = o->w;
	o->yuv->height = o->h;
	if ((ret = av_frame_get_buffer(o->yuv, 0)) < 0)
		return ret;

	if ((ret = avformat_alloc_output_context2(&o->oc, NULL, "mpegts", NULL)) < 0)
		return ret;
	if (!(buf = av_malloc(4096)))
		return AVERROR(ENOMEM);
	o->oc->pb = avio_alloc_context(buf, 4096, 1, o, NULL, on_write, NULL);
	if (!o->oc->pb) {
		av_free(buf);
		return AVERROR(ENOMEM);
	}
	o->oc->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_FLUSH_PACKETS;
	o->oc->max_delay = 0;
	if ((ret = add_stream(o->oc, o->v)) < 0 || (o->a && (ret = add_stream(o->oc, o->a)) < 0))
		return ret;
	av_dict_set(&opts, "pes_payload_size", "0", 0);
	ret = avformat_write_header(o->oc, &opts);
	av_dict_free(&opts);
	return ret;
}

static void close_out(struct out *o)
{
	if (o->oc) {
		if (o->oc->pb) {
			av_freep(&o->oc->pb->buffer);
			avio_context_free(&o->oc->pb);
		}
		avformat_free_context(o->oc);
	}
	avcodec_free_context(&o->v);
	avcodec_free_context(&o->a);
	sws_freeContext(o->sws);
	av_frame_free(&o->yuv);
	av_frame_free(&o->pcm);
	av_packet_free(&o->pkt);
}

static int encode(struct out *o, AVCodecContext *c, AVFrame *f, int index)
{
	int ret = avcodec_send_frame(c, f);
	while (ret >= 0 && avcodec_receive_packet(c, o->pkt) >= 0) {
		o->pkt->stream_index = index;
		av_packet_rescale_ts(o->pkt, c->time_base, o->oc->streams[index]->time_base);
		ret = av_write_frame(o->oc, o->pkt);
		avio_flush(o->oc->pb);
		av_packet_unref(o->pkt);
	}
	return ret < 0 ? ret : 0;
}

static int parse_size(const char *s, int *w, int *h)
{
	return sscanf(s, "%dx%d", w, h) == 2 && *w > 0 && *h > 0 && *w % 2 == 0 ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	struct out outs[MAX_OUT] = {0};
	struct vw_fakecam_picture pic = {0};
	int n_out = 0, cap_w, cap_h, ret = 0;
	double seconds;
	uint8_t *tone = NULL, *yuyv = NULL;
	size_t tone_len = 0, tone_pos = 0;
	long long frames = 0, audio_frames = 0;

	if (argc < 4 || (seconds = atof(argv[1])) <= 0 || parse_size(argv[2], &cap_w, &cap_h) < 0) {
		fprintf(stderr, "usage: vw_bench_floor SECONDS CAPTURE_WxH OUT_WxH:BITRATE[,...] [TONE_FILE]\n");
		return 2;
	}
	if (argc > 4) {
		FILE *f = fopen(argv[4], "rb");
		if (!f || fseek(f, 0, SEEK_END) < 0 || (tone_len = (size_t)ftell(f)) < 4 * MP2_FRAME ||
		    fseek(f, 0, SEEK_SET) < 0 || !(tone = malloc(tone_len)) || fread(tone, 1, tone_len, f) != tone_len) {
			fprintf(stderr, "floor: cannot read %s\n", argv[4]);
			return 1;
		}
		fclose(f);
		tone_len -= tone_len % 4;
	}
	for (char *spec = strtok(argv[3], ","); spec && n_out < MAX_OUT; spec = strtok(NULL, ",")) {
		char *colon = strchr(spec, ':');
		struct out *o = &outs[n_out++];
		if (!colon || parse_size(spec, &o->w, &o->h) < 0 || (o->bitrate = atol(colon + 1)) <= 0) {
			fprintf(stderr, "floor: bad output %s\n", spec);
			return 2;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	yuyv = malloc((size_t)cap_w * cap_h * 2);
	if (!yuyv || vw_fakecam_picture_init(&pic, (uint32_t)cap_w, (uint32_t)cap_h, 128) < 0) {
		ret = 1;
		goto end;
	}
	for (int i = 0; i < n_out; i++) {
		int r = open_out(&outs[i], cap_w, cap_h, tone != NULL);
		if (r < 0) {
			fprintf(stderr, "floor: cannot set up output %d: %s\n", i, av_err2str(r));
			ret = 1;
			goto end;
		}
	}

	int64_t t0 = now_ns(), end_ns = t0 + (int64_t)(seconds * 1e9);
	for (int64_t i = 0; !stop; i++) {
		int64_t tick = t0 + i * 1000000000LL / FPS;
		if (tick >= end_ns)
			break;
		struct timespec ts = {.tv_sec = tick / 1000000000LL, .tv_nsec = tick % 1000000000LL};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
			;
		/* the camera's work: one frame assembled from pattern rows */
		uint32_t seq = (uint32_t)i;
		vw_fakecam_picture_frame(&pic, seq);
		for (int y = 0; y < cap_h; y++)
			memcpy(yuyv + (size_t)y * cap_w * 2, vw_fakecam_picture_row(&pic, seq, (uint32_t)y), (size_t)cap_w * 2);
		const uint8_t *src[4] = {yuyv};
		int src_ls[4] = {cap_w * 2};
		for (int k = 0; k < n_out; k++) {
			struct out *o = &outs[k];
			if (!av_frame_is_writable(o->yuv)) { /* as vw: a fresh buffer, not a copy */
				av_frame_unref(o->yuv);
				o->yuv->format = AV_PIX_FMT_YUV420P;
				o->yuv->width = o->w;
				o->yuv->height = o->h;
				if (av_frame_get_buffer(o->yuv, 0) < 0)
					continue;
			}
			sws_scale(o->sws, src, src_ls, 0, cap_h, o->yuv->data, o->yuv->linesize);
			o->yuv->pts = i;
			if (encode(o, o->v, o->yuv, 0) < 0)
				stop = 1;
		}
		frames++;
		/* the microphone's work: every MP2 frame that has become due */
		while (tone && (audio_frames + 1) * MP2_FRAME <= (tick - t0) * RATE / 1000000000LL) {
			for (int k = 0; k < n_out; k++) {
				struct out *o = &outs[k];
				size_t want = MP2_FRAME * 4, got = 0;
				if (av_frame_make_writable(o->pcm) < 0)
					continue;
				while (got < want) { /* the microphone plays the tone in a loop */
					size_t n = tone_len - tone_pos < want - got ? tone_len - tone_pos : want - got;
					memcpy(o->pcm->data[0] + got, tone + tone_pos, n);
					got += n;
					tone_pos = (tone_pos + n) % tone_len;
				}
				o->pcm->pts = audio_frames * MP2_FRAME;
				if (encode(o, o->a, o->pcm, 1) < 0)
					stop = 1;
			}
			audio_frames++;
		}
	}
	long long bytes = 0;
	for (int k = 0; k < n_out; k++) {
		encode(&outs[k], outs[k].v, NULL, 0);
		av_write_trailer(outs[k].oc);
		bytes += outs[k].bytes;
	}
	printf("floor: %lld frames, %lld audio frames, %lld bytes of MPEG-TS in %d output(s)\n", frames, audio_frames,
	       bytes, n_out);
end:
	for (int k = 0; k < n_out; k++)
		close_out(&outs[k]);
	vw_fakecam_picture_free(&pic);
	free(yuyv);
	free(tone);
	return ret;
}
