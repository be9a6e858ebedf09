/* Tests of the capture -> encode -> hub -> recorder pipeline with the fake camera (preloaded) and
 * the fake microphone (ALSA plugin): what comes out is checked by libavformat/libavcodec and
 * ffprobe, never by our own parser alone. */
#include "vw_app.h"
#include "vw_fakecam.h"
#include "vw_stallwatch.h"
#include "vw_test.h"
#include "vw_testvw.h"
#include "vw_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libswscale/swscale.h>

#define CAM "/dev/video-vwpipe"

static char *tmp;
static char cam_log[600];
static struct vw_test_log tlog;

/* ---- helpers ---- */



struct buf {
	uint8_t *p;
	size_t len, cap;
	int chunks, misaligned, bad_sync;
	bool first_key;
	int64_t first_ns, last_ns;
	int64_t max_gap_ns; /* longest wait between two chunks */
};

static void buf_add(struct buf *b, const struct vw_chunk *c)
{
	int64_t now = vw_now_ns();
	if (b->chunks == 0) {
		b->first_key = c->flags & VW_CHUNK_KEY;
		b->first_ns = now;
	} else if (now - b->last_ns > b->max_gap_ns) {
		b->max_gap_ns = now - b->last_ns;
	}
	b->last_ns = now;
	b->chunks++;
	b->misaligned += c->len % 188 != 0;
	for (size_t i = 0; i < c->len; i += 188)
		b->bad_sync += c->data[i] != 0x47;
	if (b->len + c->len > b->cap) {
		b->cap = (b->len + c->len) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, c->data, c->len);
	b->len += c->len;
}

static int drain(struct vw_sub *s, struct buf *b)
{
	struct vw_chunk *c;
	bool eos = false;
	int n = 0;
	while ((c = vw_sub_pop(s, &eos))) {
		buf_add(b, c);
		vw_chunk_unref(c);
		n++;
	}
	return eos ? -1 : n;
}

static void collect(struct vw_sub *s, struct buf *b, int ms)
{
	int64_t end = vw_now_ns() + (int64_t)ms * VW_NS_PER_MS;
	while (vw_now_ns() < end) {
		drain(s, b);
		vw_test_sleep_ms(5);
	}
	drain(s, b);
}

struct report {
	int video_pid, audio_pid, video_sid, audio_sid;
	enum AVCodecID vcodec, acodec;
	int width, height;
	AVRational fps;
	int frames, key_frames, b_frames, first_is_key;
	int audio_frames;
	double video_s, audio_s;
	int audio_rate;
	double audio_peak_db;
	int decode_errors;
	uint32_t first_seq, last_seq;
	int seq_read;
	int audio_gaps; /* audio frames that do not start where the previous one ended (> 1 ms off) */
};

/* PID -> PES stream_id, read off the TS packets themselves. */
static void pes_ids(const uint8_t *p, size_t len, struct report *r)
{
	for (size_t i = 0; i + 188 <= len; i += 188) {
		const uint8_t *t = p + i;
		int pid = ((t[1] & 0x1f) << 8) | t[2], pusi = t[1] & 0x40, afc = (t[3] >> 4) & 3;
		size_t off = 4;
		if (!pusi || !(afc & 1))
			continue;
		if (afc == 3)
			off += 1 + t[4];
		if (off + 4 > 188 || t[off] || t[off + 1] || t[off + 2] != 1)
			continue;
		if (t[off + 3] == 0xE0) {
			r->video_pid = pid;
			r->video_sid = 0xE0;
		} else if (t[off + 3] == 0xC0) {
			r->audio_pid = pid;
			r->audio_sid = 0xC0;
		}
	}
}

static int analyze(const struct buf *b, const char *name, struct report *r)
{
	char path[700];
	AVFormatContext *ic = NULL;
	AVCodecContext *vd = NULL, *ad = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	int64_t v0 = AV_NOPTS_VALUE, v1 = 0, a0 = AV_NOPTS_VALUE, a1 = 0;
	double peak = 0;
	int ret, vi, ai;

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	if (b && vw_test_write_file(path, b->p, b->len) < 0)
		return -1;
	if (b)
		pes_ids(b->p, b->len, r);
	vw_test_av_errors_reset();
	ret = avformat_open_input(&ic, path, NULL, NULL);
	if (ret < 0 || avformat_find_stream_info(ic, NULL) < 0)
		return -1;
	vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	ai = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	if (vi >= 0) {
		const AVCodecParameters *p = ic->streams[vi]->codecpar;
		r->vcodec = p->codec_id;
		r->width = p->width;
		r->height = p->height;
		r->fps = ic->streams[vi]->avg_frame_rate.num ? ic->streams[vi]->avg_frame_rate : ic->streams[vi]->r_frame_rate;
		vd = avcodec_alloc_context3(avcodec_find_decoder(p->codec_id));
		avcodec_parameters_to_context(vd, p);
		avcodec_open2(vd, vd->codec, NULL);
	}
	if (ai >= 0) {
		const AVCodecParameters *p = ic->streams[ai]->codecpar;
		r->acodec = p->codec_id;
		r->audio_rate = p->sample_rate;
		ad = avcodec_alloc_context3(avcodec_find_decoder(p->codec_id));
		avcodec_parameters_to_context(ad, p);
		avcodec_open2(ad, ad->codec, NULL);
	}
	while (av_read_frame(ic, pkt) >= 0) {
		AVCodecContext *d = pkt->stream_index == vi ? vd : pkt->stream_index == ai ? ad : NULL;
		AVRational tb = ic->streams[pkt->stream_index]->time_base;
		if (d && avcodec_send_packet(d, pkt) < 0)
			r->decode_errors++;
		while (d && avcodec_receive_frame(d, fr) >= 0) {
			int64_t ts = av_rescale_q(fr->best_effort_timestamp, tb, (AVRational){1, 1000000});
			if (d == vd) {
				if (r->frames == 0)
					r->first_is_key = fr->key_frame;
				r->frames++;
				r->key_frames += fr->key_frame;
				r->b_frames += fr->pict_type == AV_PICTURE_TYPE_B;
				if (v0 == AV_NOPTS_VALUE)
					v0 = ts;
				v1 = ts + av_rescale_q(1, av_inv_q(r->fps), (AVRational){1, 1000000});
				uint32_t seq;
				if (vw_fakecam_barcode_read(fr->data[0], fr->linesize[0], fr->width, &seq) == 0) {
					if (!r->seq_read)
						r->first_seq = seq;
					r->last_seq = seq;
					r->seq_read++;
				}
			} else {
				r->audio_frames++;
				if (a0 == AV_NOPTS_VALUE)
					a0 = ts;
				else if (llabs(ts - a1) > 1000)
					r->audio_gaps++;
				a1 = ts + (int64_t)fr->nb_samples * 1000000 / fr->sample_rate;
				for (int c = 0; c < fr->ch_layout.nb_channels; c++) {
					for (int i = 0; i < fr->nb_samples; i++) {
						double v = 0;
						if (fr->format == AV_SAMPLE_FMT_S16P)
							v = ((int16_t *)fr->extended_data[c])[i] / 32768.0;
						else if (fr->format == AV_SAMPLE_FMT_FLTP)
							v = ((float *)fr->extended_data[c])[i];
						if (fabs(v) > peak)
							peak = fabs(v);
					}
				}
			}
			av_frame_unref(fr);
		}
		av_packet_unref(pkt);
	}
	if (getenv("VW_TEST_VERBOSE"))
		printf("\n    video %.3f..%.3f audio %.3f..%.3f", v0 / 1e6, v1 / 1e6, a0 / 1e6, a1 / 1e6);
	r->video_s = v0 == AV_NOPTS_VALUE ? 0 : (double)(v1 - v0) / 1e6;
	r->audio_s = a0 == AV_NOPTS_VALUE ? 0 : (double)(a1 - a0) / 1e6;
	r->audio_peak_db = peak > 0 ? 20 * log10(peak) : -200;
	r->decode_errors += vw_test_av_errors();
	avcodec_free_context(&vd);
	avcodec_free_context(&ad);
	avformat_close_input(&ic);
	av_frame_free(&fr);
	av_packet_free(&pkt);
	return 0;
}

/* Reads DIR/NAME and analyzes it as a stream of its own. */
static int analyze_file(const char *dir, const char *name, struct report *r)
{
	char p[2048];
	struct buf one = {0};
	memset(r, 0, sizeof(*r)); /* a file that cannot be read is an empty report, not stale fields */
	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p) || vw_test_read_file(p, &one.p, &one.len) < 0)
		return -1;
	int ret = analyze(&one, "file-copy.ts", r);
	free(one.p);
	return ret;
}


static void reset_camera(void)
{
	setenv("VWFAKECAM_DEVICE", CAM, 1);
	setenv("VWFAKECAM_LOG", cam_log, 1);
	unsetenv("VWFAKECAM_SIZES");
	unsetenv("VWFAKECAM_PACE");
	unlink(cam_log);
}

static const char *cam_mic_config = "[feed cam]\ntype = v4l2\ndevice = " CAM "\n"
				    "[feed mic]\ntype = alsa\ndevice = vwfake\n"
				    "[stream live]\nfeeds = cam, mic\nvideo_bitrate = 1000k\n";

/* vw's components on the fake camera (reset first) and microphone (cam_mic_config): the stream
 * "live". */
static struct vw_encoder *start_live(struct vw_app *app)
{
	reset_camera();
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(app, cam_mic_config, &tlog.log), 0);
	return vw_app_stream(app, "live");
}

/* ---- tests ---- */

/* What JSMpeg needs, checked by libavformat/libavcodec and ffprobe on 4 s of the stream. */
static void test_output_is_jsmpeg_mpegts(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0};
	struct report r;

	struct vw_encoder *s = start_live(&app);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	vw_sub_init(&sub, &s->hub, 8 << 20, 0, NULL, NULL);
	collect(&sub, &b, 4000);
	vw_sub_fini(&sub);
	vw_app_stop(&app);

	CU_ASSERT_EQUAL_FATAL(analyze(&b, "out.ts", &r), 0);
	printf("\n    %zu bytes in %d chunks; video %s %dx%d %d/%d fps, %d frames (%d key, %d B) over %.3f s; "
	       "audio %s %d Hz over %.3f s at %.1f dBFS; PES ids video 0x%X (pid %d) audio 0x%X (pid %d); "
	       "barcodes %u..%u (%d read); decode errors %d\n",
	       b.len, b.chunks, avcodec_get_name(r.vcodec), r.width, r.height, r.fps.num, r.fps.den, r.frames,
	       r.key_frames, r.b_frames, r.video_s, avcodec_get_name(r.acodec), r.audio_rate, r.audio_s,
	       r.audio_peak_db, r.video_sid, r.video_pid, r.audio_sid, r.audio_pid, r.first_seq, r.last_seq,
	       r.seq_read, r.decode_errors);
	CU_ASSERT_TRUE(b.first_key);
	CU_ASSERT_EQUAL(b.misaligned, 0);
	CU_ASSERT_EQUAL(b.bad_sync, 0);
	CU_ASSERT_EQUAL(r.vcodec, AV_CODEC_ID_MPEG1VIDEO);
	CU_ASSERT_EQUAL(r.acodec, AV_CODEC_ID_MP2);
	CU_ASSERT_EQUAL(r.video_sid, 0xE0);
	CU_ASSERT_EQUAL(r.audio_sid, 0xC0);
	CU_ASSERT_EQUAL(r.width, 640);
	CU_ASSERT_EQUAL(r.height, 480);
	CU_ASSERT_EQUAL(r.fps.num, 25);
	CU_ASSERT_EQUAL(r.fps.den, 1);
	CU_ASSERT_TRUE(r.first_is_key);
	CU_ASSERT_EQUAL(r.b_frames, 0);
	CU_ASSERT_EQUAL(r.audio_rate, 44100);
	CU_ASSERT(fabs(r.frames - r.video_s * 25) <= 0.02 * r.video_s * 25);
	CU_ASSERT(fabs(r.video_s - r.audio_s) <= 0.100);
	CU_ASSERT(r.video_s > 3.5 / vw_test_time_scale());
	CU_ASSERT(r.audio_peak_db > -20); /* the microphone's tone got through */
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	/* every camera frame, in order: the barcodes run without gaps (under emulation the encoder
	 * falls behind the camera, and the freshest frame wins by design: in order, not gapless) */
	CU_ASSERT_EQUAL(r.seq_read, r.frames);
	if (!vw_test_emulated())
		CU_ASSERT_EQUAL((int)(r.last_seq - r.first_seq) + 1, r.frames);
	CU_ASSERT(r.last_seq > r.first_seq);

	char path[700], log[700];
	snprintf(path, sizeof(path), "%s/out.ts", tmp);
	snprintf(log, sizeof(log), "%s/ffprobe.txt", tmp);
	const char *argv[] = {"ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", path, NULL};
	CU_ASSERT_EQUAL(vw_test_run(argv, (const char *[]){"LD_PRELOAD=", NULL}, log, 20000), 0);
	uint8_t *out = NULL;
	size_t len = 0;
	vw_test_read_file(log, &out, &len);
	CU_ASSERT_PTR_NOT_NULL(out && strstr((char *)out, "mpeg1video") && strstr((char *)out, "mp2") ? out : NULL);
	free(out);
	free(b.p);
}

/* A subscriber drained at 10% of the stream's rate gets a stream that still decodes cleanly and
 * stays current; a fast one beside it loses nothing. */
static void test_slow_subscriber_isolated(void)
{
	struct vw_app app;
	struct vw_sub slow, fast;
	struct buf bs = {0}, bf = {0};
	struct vw_sub_stats ss, fs;
	struct report r;

	struct vw_encoder *s = start_live(&app);
	vw_sub_init(&slow, &s->hub, 256 * 1024, VW_NS_PER_SEC, NULL, NULL);
	vw_sub_init(&fast, &s->hub, 8 << 20, 0, NULL, NULL);
	double rate = 1.15e6 / 8; /* bytes per second of the stream, roughly */
	double budget = 0;
	int64_t t = vw_now_ns(), end = t + 6 * VW_NS_PER_SEC, last_slow_ns = 0;
	while (vw_now_ns() < end) {
		drain(&fast, &bf);
		budget += rate * 0.10 * 0.005; /* 10% of the rate, in 5 ms steps */
		struct vw_chunk *c;
		while (budget > 0 && (c = vw_sub_pop(&slow, NULL))) {
			budget -= (double)c->len;
			buf_add(&bs, c);
			last_slow_ns = c->capture_ns;
			vw_chunk_unref(c);
		}
		vw_test_sleep_ms(5);
	}
	int64_t lag = vw_now_ns() - last_slow_ns;
	vw_sub_get_stats(&slow, &ss);
	vw_sub_get_stats(&fast, &fs);
	uint64_t published = s->hub.bytes;
	vw_sub_fini(&slow);
	vw_sub_fini(&fast);
	vw_app_stop(&app);
	printf("\n    fast: %zu bytes, %llu dropped; slow: %zu bytes, %llu chunks dropped in %llu overflows, "
	       "newest picture %.2f s old at the end; stream published %llu bytes\n",
	       bf.len, (unsigned long long)fs.dropped_chunks, bs.len, (unsigned long long)ss.dropped_chunks,
	       (unsigned long long)ss.overflows, (double)lag / 1e9, (unsigned long long)published);
	CU_ASSERT_EQUAL(fs.dropped_chunks, 0);
	CU_ASSERT(ss.overflows > 0);
	CU_ASSERT(lag < 2 * VW_NS_PER_SEC); /* bounded by the queue's age limit (1 s), not falling behind */
	CU_ASSERT_EQUAL_FATAL(analyze(&bs, "slow.ts", &r), 0);
	printf("    slow decodes: %d frames, %d decode errors\n", r.frames, r.decode_errors);
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	CU_ASSERT(r.frames >= 5); /* a keyframe and what follows it, several times over */
	CU_ASSERT_TRUE(r.first_is_key);
	CU_ASSERT_EQUAL_FATAL(analyze(&bf, "fast.ts", &r), 0);
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	CU_ASSERT(r.frames >= 145 / vw_test_time_scale()); /* 6 s at 25 fps, less the wait for the first keyframe */
	free(bs.p);
	free(bf.p);
}

/* A new subscriber's first chunk is a keyframe that arrives within a frame interval. */
static void test_keyframe_on_subscribe(void)
{
	struct vw_app app;
	int64_t worst = 0;

	struct vw_encoder *s = start_live(&app);
	vw_test_sleep_ms(500);
	for (int i = 0; i < 5; i++) {
		struct vw_sub sub;
		struct buf b = {0};
		int64_t t = vw_now_ns();
		vw_sub_init(&sub, &s->hub, 8 << 20, 0, NULL, NULL);
		while (b.chunks == 0 && vw_now_ns() - t < VW_NS_PER_SEC) {
			drain(&sub, &b);
			vw_test_sleep_ms(1);
		}
		int64_t wait = b.first_ns - t;
		if (wait > worst)
			worst = wait;
		CU_ASSERT_TRUE(b.first_key);
		vw_sub_fini(&sub);
		free(b.p);
		vw_test_sleep_ms(300); /* forced keyframes are rate-limited to one per 250 ms */
	}
	struct vw_encoder_stats st;
	vw_encoder_get_stats(s, &st);
	vw_app_stop(&app);
	printf("\n    worst wait for the first keyframe: %.1f ms; forced keyframes %llu\n", (double)worst / 1e6,
	       (unsigned long long)st.forced_keyframes);
	/* one frame interval, plus encode time */
	CU_ASSERT(worst <= (40 * VW_NS_PER_MS + 15 * VW_NS_PER_MS) * vw_test_time_scale());
	CU_ASSERT(st.forced_keyframes >= 5);
}

/* A keyframe asked for while the previous one is being published (a destination that connects
 * and resyncs at that moment) is still honoured: the next keyframe follows within the forced-key
 * rate limit, not a whole GOP (2 s) later. The request is made from the subscriber's notification,
 * which runs inside the publication of the first keyframe, so the timing is exact, not hoped for. */
struct key_race {
	struct vw_encoder *s;
	_Atomic int64_t asked_ns;
};

static void key_race_notify(void *opaque)
{
	struct key_race *k = opaque;
	int64_t zero = 0;
	if (atomic_compare_exchange_strong(&k->asked_ns, &zero, vw_now_ns()))
		vw_encoder_request_key(k->s);
}

static void test_keyframe_request_during_publish(void)
{
	struct vw_app app;
	int64_t worst = 0;
	int rounds = 0;

	struct key_race k = {.s = start_live(&app)};
	vw_test_sleep_ms(500);
	for (int i = 0; i < 4; i++) {
		struct vw_sub sub;
		int keys = 0;
		int64_t second = 0, t = vw_now_ns();
		atomic_store(&k.asked_ns, 0);
		vw_test_sleep_ms(300); /* past the rate limit of the previous round's forced keyframe */
		vw_sub_init(&sub, &k.s->hub, 8 << 20, 0, key_race_notify, &k);
		while (!second && vw_now_ns() - t < 4 * VW_NS_PER_SEC) {
			struct vw_chunk *c;
			while (!second && (c = vw_sub_pop(&sub, NULL))) {
				if ((c->flags & VW_CHUNK_KEY) && ++keys == 2)
					second = c->publish_ns;
				vw_chunk_unref(c);
			}
			vw_test_sleep_ms(2);
		}
		vw_sub_fini(&sub);
		CU_ASSERT_TRUE(second > 0);
		if (second && second - atomic_load(&k.asked_ns) > worst)
			worst = second - atomic_load(&k.asked_ns);
		rounds += second > 0;
	}
	vw_app_stop(&app);
	printf("\n    %d rounds; worst time from a request made during a keyframe's publication to the next keyframe: "
	       "%.0f ms (rate limit %lld ms, GOP 2000 ms)\n",
	       rounds, (double)worst / 1e6, VW_KEY_MIN_INTERVAL_NS / VW_NS_PER_MS);
	CU_ASSERT_EQUAL(rounds, 4);
	/* a frame interval and encode time */
	CU_ASSERT(worst <= VW_KEY_MIN_INTERVAL_NS + 150 * VW_NS_PER_MS * vw_test_time_scale());
}

/* Mute in place: the same PIDs, the stream is not restarted, and the audio is silence. */
static void test_mute_keeps_track(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf a = {0}, m = {0};
	struct report ra, rm;
	struct vw_apply_summary sum;

	struct vw_encoder *s = start_live(&app);
	vw_sub_init(&sub, &s->hub, 8 << 20, 0, NULL, NULL);
	collect(&sub, &a, 2000);
	char text[1024];
	snprintf(text, sizeof(text), "%smute = yes\n", cam_mic_config);
	struct vw_config *c = vw_test_config(text);
	CU_ASSERT_EQUAL(vw_app_apply(&app, c, &sum), 0);
	free(c);
	CU_ASSERT_PTR_EQUAL(vw_app_stream(&app, "live"), s); /* not restarted */
	CU_ASSERT_EQUAL(sum.changed_in_place, 1);
	CU_ASSERT_EQUAL(sum.stopped, 0);
	vw_test_sleep_ms(500 * vw_test_time_scale()); /* what was already in the encoder's FIFO is not silence yet */
	drain(&sub, &a);
	vw_sub_resync(&sub);
	collect(&sub, &m, 2000);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	CU_ASSERT_EQUAL_FATAL(analyze(&a, "unmuted.ts", &ra), 0);
	CU_ASSERT_EQUAL_FATAL(analyze(&m, "muted.ts", &rm), 0);
	printf("\n    unmuted %.1f dBFS, muted %.1f dBFS; pids video %d/%d audio %d/%d\n", ra.audio_peak_db,
	       rm.audio_peak_db, ra.video_pid, rm.video_pid, ra.audio_pid, rm.audio_pid);
	CU_ASSERT(ra.audio_peak_db > -20);
	CU_ASSERT(rm.audio_peak_db < -60);
	CU_ASSERT_EQUAL(ra.video_pid, rm.video_pid);
	CU_ASSERT_EQUAL(ra.audio_pid, rm.audio_pid);
	CU_ASSERT(rm.audio_s > 1.0);
	free(a.p);
	free(m.p);
}

/* Two streams of different sizes from one camera: the camera is opened once. */
static void test_two_streams_one_camera(void)
{
	struct vw_app app;
	struct vw_sub s1, s2;
	struct buf b1 = {0}, b2 = {0};
	struct report r1, r2;

	reset_camera();
	setenv("VWFAKECAM_SIZES", "1280x720,640x480,320x240", 1);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app,
	                                        "[feed cam]\ntype = v4l2\ndevice = " CAM "\nsize = 1280x720\n"
	                                        "[stream big]\nfeeds = cam\nsize = 1280x720\nvideo_bitrate = 2M\n"
	                                        "[stream small]\nfeeds = cam\nsize = 320x240\nvideo_bitrate = 250k\n",
	                                        &tlog.log),
	                      0);
	vw_sub_init(&s1, &vw_app_stream(&app, "big")->hub, 8 << 20, 0, NULL, NULL);
	vw_sub_init(&s2, &vw_app_stream(&app, "small")->hub, 8 << 20, 0, NULL, NULL);
	int64_t end = vw_now_ns() + 3 * VW_NS_PER_SEC;
	while (vw_now_ns() < end) {
		drain(&s1, &b1);
		drain(&s2, &b2);
		vw_test_sleep_ms(5);
	}
	vw_sub_fini(&s1);
	vw_sub_fini(&s2);
	vw_app_stop(&app);
	CU_ASSERT_EQUAL(analyze(&b1, "big.ts", &r1), 0);
	CU_ASSERT_EQUAL(analyze(&b2, "small.ts", &r2), 0);
	int opens = vw_test_count_lines(cam_log, "open pid=");
	printf("\n    camera opened %d time(s); big %dx%d %d frames, small %dx%d %d frames\n", opens, r1.width,
	       r1.height, r1.frames, r2.width, r2.height, r2.frames);
	CU_ASSERT_EQUAL(opens, 1);
	CU_ASSERT_EQUAL(r1.width, 1280);
	CU_ASSERT_EQUAL(r2.width, 320);
	/* under emulation a 1280x720 picture takes most of a second to encode: both streams still run */
	CU_ASSERT(r1.frames >= (vw_test_emulated() ? 2 : 65));
	CU_ASSERT(r2.frames >= 65 / vw_test_time_scale());
	CU_ASSERT_EQUAL(r1.decode_errors + r2.decode_errors, 0);
	free(b1.p);
	free(b2.p);
}

static int list_segments(const char *dir, char names[][256], int max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max)
		if (de->d_name[0] != '.')
			snprintf(names[n++], 256, "%s", de->d_name);
	closedir(d);
	qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
	return n;
}

/* Recorder: 1 s segments, each playable alone and starting at a keyframe; retention by size;
 * nothing lost: the recording contains, unbroken, every byte a lossless subscriber saw. */
static void test_recorder_segments_retention_lossless(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0}, all = {0};
	char dir[700], text[2048], names[64][256];
	struct vw_recorder_stats rs;

	reset_camera();
	snprintf(dir, sizeof(dir), "%s/rec1", tmp);
	mkdir(dir, 0755);
	/* three old segments of 1 MiB each: retention (keep 2M) must delete the two oldest */
	static uint8_t junk[1 << 20];
	for (int i = 0; i < 3; i++) {
		char p[800];
		snprintf(p, sizeof(p), "%s/r-2000010%dT000000Z.ts", dir, i + 1);
		vw_test_write_file(p, junk, sizeof(junk));
	}
	snprintf(text, sizeof(text), "%s[recorder r]\nstream = live\ndir = %s\nsegment = 1s\nkeep = 2M\n", cam_mic_config,
		 dir);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log),
			      0);
	struct vw_encoder *s = vw_app_stream(&app, "live");
	vw_sub_init(&sub, &s->hub, 64 << 20, 0, NULL, NULL);
	collect(&sub, &b, 3500);
	vw_encoder_stop(s); /* end of stream: the recorder writes what is queued and closes */
	while (drain(&sub, &b) >= 0)
		vw_test_sleep_ms(1);
	vw_sub_fini(&sub);
	vw_recorder_get_stats(vw_app_recorder(&app, "r"), &rs);
	vw_app_stop(&app);

	int n = list_segments(dir, names, 64), segs = 0, bad = 0;
	for (int i = 0; i < n; i++) {
		char p[2048];
		struct report r;
		uint8_t *data;
		size_t len;
		snprintf(p, sizeof(p), "%s/%.255s", dir, names[i]);
		CU_ASSERT_PTR_NULL(strstr(names[i], ".part"));
		if (strncmp(names[i], "r-2000", 6) == 0)
			continue; /* a seeded old file that retention kept */
		segs++;
		struct buf one = {0};
		CU_ASSERT_EQUAL(vw_test_read_file(p, &data, &len), 0);
		one.p = data;
		one.len = len;
		CU_ASSERT_EQUAL(analyze(&one, "seg.ts", &r), 0);
		bool last = i == n - 1; /* cut short by the stop */
		/* the last one is cut short by the stop; under emulation it may hold sound only */
		int min_frames = last ? (vw_test_emulated() ? 0 : 1) : 20 / vw_test_time_scale();
		if (r.decode_errors || (r.frames && !r.first_is_key) || r.frames < min_frames) {
			printf("\n    bad segment %s: %d frames, first key %d, %d decode errors", names[i], r.frames,
			       r.first_is_key, r.decode_errors);
			bad++;
		}
		if (all.len + len > all.cap) {
			all.cap = (all.len + len) * 2;
			all.p = realloc(all.p, all.cap);
		}
		memcpy(all.p + all.len, data, len);
		all.len += len;
		free(data);
	}
	int old_left = 0;
	for (int i = 0; i < n; i++)
		old_left += strncmp(names[i], "r-2000", 6) == 0;
	printf("\n    %d segments (%llu chunks, %llu lost, %llu deleted by retention, %d old left), %zu bytes recorded, "
	       "subscriber saw %zu\n",
	       segs, (unsigned long long)rs.chunks, (unsigned long long)rs.lost_chunks, (unsigned long long)rs.deleted,
	       old_left, all.len, b.len);
	CU_ASSERT(segs >= 3);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(rs.lost_chunks, 0);
	CU_ASSERT(rs.deleted >= 2);
	CU_ASSERT(old_left <= 1);
	/* the subscriber joined a moment after the recorder: its bytes are the recording's tail */
	CU_ASSERT_FATAL(b.len > 0 && all.len >= b.len);
	CU_ASSERT_EQUAL(memcmp(all.p + all.len - b.len, b.p, b.len), 0);
	free(all.p);
	free(b.p);
}

/* Retention counts a segment over 2 GiB (a long segment at a high rate): on a 32-bit box without
 * large-file support stat() failed on it with EOVERFLOW, so it was never counted nor deleted and
 * the disk filled. A sparse 3 GiB old file, keep = 1G: it must go. */
static void test_recorder_retention_over_2gib(void)
{
	struct vw_app app;
	struct vw_recorder_stats rs;
	char dir[700], old[800], text[2048];
	struct stat64 sb; /* 64-bit calls here: the test must see the file whatever vw was built with */

	reset_camera();
	snprintf(dir, sizeof(dir), "%s/rec-big", tmp);
	mkdir(dir, 0755);
	snprintf(old, sizeof(old), "%s/r-20000101T000000Z.ts", dir);
	int fd = open(old, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate64(fd, (off64_t)3 << 30), 0);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(stat64(old, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, (off64_t)3 << 30);
	snprintf(text, sizeof(text), "%s[recorder r]\nstream = live\ndir = %s\nsegment = 1s\nkeep = 1G\n", cam_mic_config,
		 dir);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log), 0);
	for (int i = 0; i < 100 && stat64(old, &sb) == 0; i++) /* 10 s at most */
		vw_test_sleep_ms(100);
	vw_recorder_get_stats(vw_app_recorder(&app, "r"), &rs);
	vw_app_stop(&app);
	CU_ASSERT_NOT_EQUAL(stat64(old, &sb), 0);
	CU_ASSERT(rs.deleted >= 1);
	unlink(old);
}

/* A write error mid-run (file size limit: EFBIG) pauses the recording loudly while the stream
 * goes on, and recording resumes by itself once writes succeed. */
static void test_recorder_write_error_resumes(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0};
	char dir[700], text[2048];
	struct vw_recorder_stats during, after;
	struct rlimit old, lim;

	reset_camera();
	snprintf(dir, sizeof(dir), "%s/rec2", tmp);
	snprintf(text, sizeof(text), "%s[recorder r]\nstream = live\ndir = %s\nsegment = 60s\n", cam_mic_config, dir);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log),
			      0);
	struct vw_encoder *s = vw_app_stream(&app, "live");
	struct vw_recorder *rec = vw_app_recorder(&app, "r");
	vw_sub_init(&sub, &s->hub, 8 << 20, 0, NULL, NULL);
	collect(&sub, &b, 1000);
	lim = old;
	lim.rlim_cur = 100 * 1024; /* every file may grow to 100 KiB: the open segment fails soon */
	setrlimit(RLIMIT_FSIZE, &lim);
	b.max_gap_ns = 0; /* from here on: through the error and the resumption */
	collect(&sub, &b, 1500);
	vw_recorder_get_stats(rec, &during);
	size_t mid = b.len;
	setrlimit(RLIMIT_FSIZE, &old);
	collect(&sub, &b, 2500);
	vw_recorder_get_stats(rec, &after);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	int errs = vw_test_count_lines(tlog.path, "recording paused, the stream goes on");
	int resumed = vw_test_count_lines(tlog.path, "recording resumed");
	printf("\n    during: %s (%s); after: %s, %llu segments; stream went on: %zu -> %zu bytes, longest gap %.0f ms; "
	       "log: %d error line(s), %d resume line(s)\n",
	       vw_rec_state_name(during.state), during.error, vw_rec_state_name(after.state),
	       (unsigned long long)after.segments, mid, b.len, (double)b.max_gap_ns / 1e6, errs, resumed);
	CU_ASSERT_EQUAL(during.state, VW_REC_ERROR);
	CU_ASSERT_PTR_NOT_NULL(strstr(during.error, "File too large"));
	CU_ASSERT_EQUAL(after.state, VW_REC_RECORDING);
	CU_ASSERT(after.segments >= 2);
	/* the stream never paused: chunks kept coming through the error (which lasts over a second),
	 * judged by the longest gap rather than by a byte count that a loaded machine's dropped
	 * camera frames would shrink */
	CU_ASSERT(b.max_gap_ns < 800 * VW_NS_PER_MS);
	CU_ASSERT(b.len > mid + 50000);
	CU_ASSERT(errs >= 1 && errs <= 2); /* loud, but once, not per chunk */
	CU_ASSERT(resumed >= 1);
	char names[16][256];
	int n = list_segments(dir, names, 16);
	for (int i = 0; i < n; i++) {
		struct report r;
		CU_ASSERT_EQUAL(analyze_file(dir, names[i], &r), 0);
		CU_ASSERT(r.frames > 0);
		CU_ASSERT_TRUE(r.first_is_key);
	}
	free(b.p);
}

/* Camera unplugged while streaming: placeholder pictures keep the stream going; replugged: live
 * pictures are back within 2 s, from the same stream. */
static void test_unplug_placeholder_replug(void)
{
	struct vw_app app;
	char unplug[700];
	struct vw_feed_stats fs;
	struct vw_encoder_stats s0, s1;

	reset_camera();
	snprintf(unplug, sizeof(unplug), "%s/unplugged", tmp);
	setenv("VWFAKECAM_UNPLUG", unplug, 1);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, cam_mic_config, &tlog.log),
			      0);
	struct vw_feed *f = vw_app_feed(&app, "cam");
	struct vw_encoder *s = vw_app_stream(&app, "live");
	vw_test_sleep_ms(800);
	vw_test_write_file(unplug, "", 0);
	vw_test_sleep_ms(1000);
	vw_feed_get_stats(f, &fs);
	vw_encoder_get_stats(s, &s0);
	CU_ASSERT_EQUAL(fs.state, VW_FEED_ABSENT);
	vw_test_sleep_ms(1000);
	vw_encoder_get_stats(s, &s1);
	uint64_t placeholders = s1.placeholder_frames - s0.placeholder_frames;
	unlink(unplug);
	int64_t t = vw_now_ns();
	do {
		vw_test_sleep_ms(20);
		vw_feed_get_stats(f, &fs);
	} while (fs.state != VW_FEED_LIVE && vw_now_ns() - t < 4 * VW_NS_PER_SEC);
	double back = (double)(vw_now_ns() - t) / 1e9;
	vw_app_stop(&app);
	unsetenv("VWFAKECAM_UNPLUG");
	printf("\n    placeholder pictures encoded in 1 s while unplugged: %llu; live again %.2f s after replug\n",
	       (unsigned long long)placeholders, back);
	CU_ASSERT(placeholders >= 20);
	CU_ASSERT_EQUAL(fs.state, VW_FEED_LIVE);
	CU_ASSERT(back < 2.0);
}

/* Reload adds a recorder: the running stream and its subscriber go on without a gap. */
static void test_apply_keeps_unchanged_parts(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0};
	struct vw_apply_summary sum;
	struct vw_sub_stats st;
	char text[2048];

	struct vw_encoder *s = start_live(&app);
	struct vw_feed *f = vw_app_feed(&app, "cam");
	vw_sub_init(&sub, &s->hub, 8 << 20, 0, NULL, NULL);
	collect(&sub, &b, 1000);
	snprintf(text, sizeof(text), "%s[recorder r]\nstream = live\ndir = %s/rec3\n", cam_mic_config, tmp);
	struct vw_config *c = vw_test_config(text);
	CU_ASSERT_EQUAL(vw_app_apply(&app, c, &sum), 0);
	free(c);
	collect(&sub, &b, 1000);
	vw_sub_get_stats(&sub, &st);
	CU_ASSERT_PTR_EQUAL(vw_app_stream(&app, "live"), s);
	CU_ASSERT_PTR_EQUAL(vw_app_feed(&app, "cam"), f);
	CU_ASSERT_EQUAL(sum.started, 1);
	CU_ASSERT_EQUAL(sum.stopped, 0);
	CU_ASSERT_EQUAL(sum.kept, 3);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	struct report r;
	CU_ASSERT_EQUAL(analyze(&b, "reload.ts", &r), 0);
	printf("\n    %d started, %d kept; subscriber dropped %llu chunks; %d frames, barcodes %u..%u\n", sum.started,
	       sum.kept, (unsigned long long)st.dropped_chunks, r.frames, r.first_seq, r.last_seq);
	CU_ASSERT_EQUAL(st.dropped_chunks, 0);
	/* no gap across the reload (under emulation the freshest frame wins: in order, see above) */
	if (!vw_test_emulated())
		CU_ASSERT_EQUAL((int)(r.last_seq - r.first_seq) + 1, r.frames);
	CU_ASSERT(r.last_seq > r.first_seq);
	free(b.p);
}

/* ---- the test as the feed an encoder listens to ---- */

static void fake_feed_init(struct vw_feed *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	vw_strlcpy(f->conf.name, name, sizeof(f->conf.name));
}

static void fake_feed_picture(struct vw_feed *f, enum AVPixelFormat fmt, int64_t t_ns)
{
	AVFrame *fr = av_frame_alloc();
	fr->format = fmt;
	fr->width = 320;
	fr->height = 240;
	CU_ASSERT_EQUAL_FATAL(av_frame_get_buffer(fr, 0), 0);
	for (int p = 0; p < 4 && fr->buf[p]; p++)
		memset(fr->buf[p]->data, 0x80, fr->buf[p]->size);
	pthread_mutex_lock(&f->lock);
	av_frame_free(&f->slot);
	f->slot = fr;
	f->slot_seq++;
	f->slot_ns = t_ns;
	for (struct vw_feed_listener *l = f->listeners; l; l = l->next)
		if (l->on_video)
			l->on_video(l->opaque);
	pthread_mutex_unlock(&f->lock);
}

static void fake_feed_sound(struct vw_feed *f, const int16_t *pcm, int n, int rate, int64_t t_ns)
{
	pthread_mutex_lock(&f->lock);
	for (struct vw_feed_listener *l = f->listeners; l; l = l->next)
		if (l->on_audio)
			l->on_audio(l->opaque, pcm, n, rate, 1, t_ns);
	pthread_mutex_unlock(&f->lock);
}

static void fake_feed_fini(struct vw_feed *f)
{
	av_frame_free(&f->slot);
	pthread_mutex_destroy(&f->lock);
}

static bool wait_encoded(struct vw_encoder *s, uint64_t frames, uint64_t errors, int ms)
{
	struct vw_encoder_stats st;
	for (int i = 0; i < ms / 5; i++) {
		vw_encoder_get_stats(s, &st);
		if (st.frames_encoded >= frames && st.encode_errors >= errors)
			return true;
		vw_test_sleep_ms(5);
	}
	return false;
}

/* Settings the configuration lets through but an encoder refuses: vw_encoder_start says so and
 * why, instead of a stream that looks alive and never sends a byte. */
static void test_encoder_refusal_reaches_caller(void)
{
	static const struct {
		int width, height;
		int64_t audio_bitrate;
		const char *why;
	} bad[] = {
		{640, 480, 100000, "mp2"},      /* not a Layer II bit rate */
		{4096, 64, 128000, "mpeg1video"}, /* MPEG-1 stops at 4095 */
	};
	struct vw_feed f;

	fake_feed_init(&f, "fake");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vw_stream_conf c = {0};
		struct vw_encoder *s = calloc(1, sizeof(*s));
		vw_stream_conf_defaults(&c);
		vw_strlcpy(c.name, "refused", sizeof(c.name));
		c.width = bad[i].width;
		c.height = bad[i].height;
		c.audio_bitrate = bad[i].audio_bitrate;
		c.gop = 50;
		int ret = vw_encoder_start(s, &c, &f, &f, &tlog.log);
		printf("\n    %dx%d, audio %lld bit/s: %d (%s)", c.width, c.height, (long long)c.audio_bitrate, ret, s->error);
		CU_ASSERT(ret < 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(s->error, bad[i].why));
		CU_ASSERT_PTR_NULL(f.listeners); /* nothing left listening */
		if (ret == 0) {
			vw_encoder_stop(s);
			vw_encoder_free(s);
		}
		free(s);
	}
	fake_feed_fini(&f);

	/* through the app: counted in the summary, kept with the reason, the other stream runs */
	struct vw_app app;
	struct vw_apply_summary sum;
	const char *why = NULL;
	struct vw_config *c = vw_test_config("[feed cam]\ntype = testsrc\nsize = 320x240\n"
					     "[stream good]\nfeeds = cam\nsize = 320x240\n"
					     "[stream bad]\nfeeds = cam\nsize = 320x240\naudio_bitrate = 100k\n");
	CU_ASSERT_EQUAL_FATAL(vw_app_init(&app, &tlog.log), 0);
	CU_ASSERT_EQUAL(vw_app_apply(&app, c, &sum), 0);
	printf("\n    app: %d started, %d failed (%d changed): %s\n", sum.started, sum.failed, sum.failed_changed, sum.why);
	CU_ASSERT_EQUAL(sum.started, 2); /* the feed and the good stream */
	CU_ASSERT_EQUAL(sum.failed, 1);
	CU_ASSERT_EQUAL(sum.failed_changed, 1);
	CU_ASSERT_EQUAL(sum.err, -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(sum.why, "stream bad: the mp2 encoder"));
	CU_ASSERT_PTR_NULL(vw_app_stream(&app, "bad"));
	CU_ASSERT_PTR_NOT_NULL(vw_app_stream(&app, "good"));
	CU_ASSERT_EQUAL(vw_app_stream_failure(&app, "bad", &why), -EINVAL);
	CU_ASSERT_TRUE(why && strstr(why, "mp2"));
	CU_ASSERT_EQUAL(vw_app_stream_failure(&app, "good", NULL), 0);
	/* applied again unchanged: still failed, but nothing this apply brought */
	CU_ASSERT_EQUAL(vw_app_apply(&app, c, &sum), 0);
	CU_ASSERT_EQUAL(sum.failed, 1);
	CU_ASSERT_EQUAL(sum.failed_changed, 0);
	CU_ASSERT_EQUAL(sum.kept, 2);
	vw_app_stop(&app);
	free(c);
}

/* Sound delivered before stop is in the output, every sample of it, and the stream ends on it;
 * a picture the scaler cannot take is counted as an encoder error, and logged once. */
static void test_stop_encodes_all_sound(void)
{
	enum { FRAMES = 40, PERIOD = 576, RATE = 44100 };
	struct vw_feed f;
	struct vw_encoder *s = calloc(1, sizeof(*s));
	struct vw_stream_conf c = {0};
	struct vw_sub sub;
	struct buf b = {0};
	struct report r;
	struct vw_encoder_stats st;
	static int16_t pcm[PERIOD];

	for (int i = 0; i < PERIOD; i++)
		pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * i / RATE));
	fake_feed_init(&f, "fake");
	vw_stream_conf_defaults(&c);
	vw_strlcpy(c.name, "flush", sizeof(c.name));
	c.width = 320;
	c.height = 240;
	c.audio_channels = 1;
	c.gop = 50;
	CU_ASSERT_EQUAL_FATAL(vw_encoder_start(s, &c, &f, &f, &tlog.log), 0);
	vw_sub_init(&sub, &s->hub, 64 << 20, 0, NULL, NULL);
	/* Two seconds after stream time zero, on the frame grid: the picture is frame 50 and the
	 * sound starts where it does. The clock's silence (150 ms behind real time, which began at
	 * t0 + 1 s) does not reach there for over a second, so only the sound pushed is encoded. */
	int64_t t = s->t0_ns + 2 * VW_NS_PER_SEC;
	fake_feed_picture(&f, AV_PIX_FMT_BGR4, t - 2 * VW_NS_PER_SEC / 25); /* swscale takes no bgr4 */
	CU_ASSERT_FATAL(wait_encoded(s, 0, 1, 1000));
	fake_feed_picture(&f, AV_PIX_FMT_BGR4, t - VW_NS_PER_SEC / 25);
	CU_ASSERT_FATAL(wait_encoded(s, 0, 2, 1000));
	fake_feed_picture(&f, AV_PIX_FMT_YUV420P, t);
	CU_ASSERT_FATAL(wait_encoded(s, 1, 2, 1000));
	for (int k = 0; k < FRAMES * 1152 / PERIOD; k++)
		fake_feed_sound(&f, pcm, PERIOD, RATE, t + (int64_t)k * PERIOD * VW_NS_PER_SEC / RATE);
	fake_feed_picture(&f, AV_PIX_FMT_YUV420P, t + VW_NS_PER_SEC / 25);
	CU_ASSERT(wait_encoded(s, 2, 2, 1000));
	vw_encoder_get_stats(s, &st);
	uint64_t before_stop = st.audio_frames;
	vw_encoder_stop(s);
	vw_encoder_get_stats(s, &st);
	bool eos = false;
	for (int i = 0; i < 100 && !eos; i++) {
		struct vw_chunk *ch;
		while ((ch = vw_sub_pop(&sub, &eos))) {
			buf_add(&b, ch);
			vw_chunk_unref(ch);
		}
	}
	vw_sub_fini(&sub);
	vw_encoder_free(s);
	free(s);
	fake_feed_fini(&f);

	CU_ASSERT_EQUAL_FATAL(analyze(&b, "flush.ts", &r), 0);
	printf("\n    %d audio frames in the output (%llu encoded, %llu before stop), %.4f s of sound; "
	       "silence %llu, dropped %llu samples; %d picture(s); encoder errors %llu, muxer errors %llu\n",
	       r.audio_frames, (unsigned long long)st.audio_frames, (unsigned long long)before_stop, r.audio_s,
	       (unsigned long long)st.silence_samples, (unsigned long long)st.dropped_samples, r.frames,
	       (unsigned long long)st.encode_errors, (unsigned long long)st.mux_errors);
	CU_ASSERT_EQUAL(st.audio_frames, FRAMES);
	CU_ASSERT_EQUAL(r.audio_frames, FRAMES);
	CU_ASSERT(fabs(r.audio_s - FRAMES * 1152.0 / RATE) < 0.001);
	CU_ASSERT_EQUAL(st.silence_samples, 0);
	CU_ASSERT_EQUAL(st.dropped_samples, 0);
	CU_ASSERT_EQUAL(st.frames_encoded, 2);
	CU_ASSERT(r.frames >= 1); /* the decoder holds the last picture back */
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	CU_ASSERT_EQUAL(st.encode_errors, 2);
	CU_ASSERT_EQUAL(st.mux_errors, 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(tlog.path, "stream flush: cannot convert"), 1);
	free(b.p);
}

/* The bundled sample file plays at real time. */
static void test_file_feed_real_time(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0};
	struct report r;

	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, "[feed clip]\ntype = file\npath = " VW_TEST_MEDIA("sample-jsmpeg.ts") "\n"
					      "[stream s]\nfeeds = clip\n", &tlog.log),
			      0);
	vw_sub_init(&sub, &vw_app_stream(&app, "s")->hub, 8 << 20, 0, NULL, NULL);
	collect(&sub, &b, 3000);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	CU_ASSERT_EQUAL(analyze(&b, "file.ts", &r), 0);
	printf("\n    3 s of the sample file: %d frames over %.2f s, audio %.2f s at %.1f dBFS\n", r.frames, r.video_s,
	       r.audio_s, r.audio_peak_db);
	CU_ASSERT(r.frames >= 65 && r.frames <= 80);
	CU_ASSERT(r.audio_peak_db > -30);
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	free(b.p);
}

/* An MJPEG camera: JPEG frames are decoded in the feed and encoded like any other picture. */
static void test_mjpeg_camera(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0};
	struct report r;
	struct vw_feed_stats fs;

	reset_camera();
	setenv("VWFAKECAM_MJPEG", VW_TEST_MEDIA("camera-640x480-25fps.mjpeg"), 1);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, "[feed cam]\ntype = v4l2\ndevice = " CAM "\nformat = mjpeg\n"
					      "[stream live]\nfeeds = cam\n", &tlog.log),
			      0);
	vw_sub_init(&sub, &vw_app_stream(&app, "live")->hub, 8 << 20, 0, NULL, NULL);
	collect(&sub, &b, 3000);
	vw_feed_get_stats(vw_app_feed(&app, "cam"), &fs);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	unsetenv("VWFAKECAM_MJPEG");
	CU_ASSERT_EQUAL(analyze(&b, "mjpeg.ts", &r), 0);
	printf("\n    feed format %s, %llu frames captured, %llu corrupt; stream %d frames %dx%d, %d decode errors\n",
	       fs.format, (unsigned long long)fs.frames, (unsigned long long)fs.decode_errors, r.frames, r.width,
	       r.height, r.decode_errors);
	CU_ASSERT_PTR_NOT_NULL(strstr(fs.format, "mjpeg"));
	CU_ASSERT_EQUAL(fs.decode_errors, 0);
	CU_ASSERT(r.frames >= 65);
	CU_ASSERT_EQUAL(r.width, 640);
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	free(b.p);
}

/* ---- capture pacing: cameras that are not an exact grid ---- */

/* One encoded picture as it reached the hub: its elementary stream bytes, when its last chunk was
 * handed out, and its PTS (90 kHz). A chunk's capture time is no name for the picture: audio
 * held back by the muxer rides in the next video chunk with its own, earlier, capture time. */
struct pace_frame {
	int64_t pub_ns, pts;
	uint8_t *es;
	size_t len, cap;
};

struct pace_rx {
	int vpid;
	struct pace_frame *fr;
	int n, cap;
	bool open;
};

static int64_t ts_pts(const uint8_t *p)
{
	return ((int64_t)(p[0] & 0x0e) << 29) | ((int64_t)p[1] << 22) | ((int64_t)(p[2] & 0xfe) << 14) |
	       ((int64_t)p[3] << 7) | (p[4] >> 1);
}

/* Follows the video PES boundaries in the chunks: a picture is complete when the next one starts. */
static void pace_chunk(struct pace_rx *rx, const struct vw_chunk *c)
{
	bool video = false;
	for (size_t i = 0; i + 188 <= c->len; i += 188) {
		const uint8_t *t = c->data + i;
		int pid = ((t[1] & 0x1f) << 8) | t[2], pusi = t[1] & 0x40, afc = (t[3] >> 4) & 3;
		size_t off = 4 + (afc == 3 ? 1 + (size_t)t[4] : 0);
		bool start = pusi && (afc & 1) && off + 14 <= 188 && !t[off] && !t[off + 1] && t[off + 2] == 1 &&
			     t[off + 3] == 0xE0;
		if (start && rx->vpid < 0)
			rx->vpid = pid;
		if (pid != rx->vpid)
			continue;
		video = true;
		if (start) {
			if (rx->n == rx->cap) {
				rx->cap = rx->cap ? 2 * rx->cap : 1024;
				rx->fr = realloc(rx->fr, (size_t)rx->cap * sizeof(*rx->fr));
			}
			rx->fr[rx->n++] = (struct pace_frame){c->publish_ns, (t[off + 7] & 0x80) ? ts_pts(t + off + 9) : -1,
							      NULL, 0, 0};
			rx->open = true;
			off += 9 + (size_t)t[off + 8];
		}
		if (!rx->open || off >= 188)
			continue;
		struct pace_frame *f = &rx->fr[rx->n - 1];
		if (f->len + 188 - off > f->cap) { /* doubling: this thread shares the two cores with vw's */
			f->cap = f->cap ? 2 * f->cap : 16384;
			f->es = realloc(f->es, f->cap);
		}
		memcpy(f->es + f->len, t + off, 188 - off);
		f->len += 188 - off;
	}
	if (video && rx->open)
		rx->fr[rx->n - 1].pub_ns = c->publish_ns;
}

/* The last STREAMON of `device` in the camera's log. */
struct pace_cam {
	uint32_t seq0;
	long long t0, exposure, jitter;
	unsigned num, den;
	int frames; /* MJPEG: the clip's length (its barcodes are sequence numbers mod this) */
};

static int pace_cam_log(const char *device, struct pace_cam *cam)
{
	FILE *f = fopen(cam_log, "r");
	char line[768], want[128];
	int found = -1;

	snprintf(want, sizeof(want), " device=%s ", device);
	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, "seq0="), *e = strstr(line, "exposure_ns=");
		struct pace_cam c;
		if (strncmp(line, "streamon ", 9) || !strstr(line, want) || !p || !e)
			continue;
		if (sscanf(p, "seq0=%u t0_ns=%lld tpf=%u/%u", &c.seq0, &c.t0, &c.num, &c.den) == 4 &&
		    sscanf(e, "exposure_ns=%lld jitter_ns=%lld cost_ns=%*d frames=%d", &c.exposure, &c.jitter, &c.frames) == 3 &&
		    c.num && c.den) {
			*cam = c;
			found = 0;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct pace_result {
	int frames, originals, lost, bad_pts, unreadable, guessed;
	int measured, stalled; /* latencies taken; left out because the machine stalled meanwhile */
	double p50, p99, max;
};

static void pace_free(struct pace_rx *rx)
{
	for (int i = 0; i < rx->n; i++)
		free(rx->fr[i].es);
	free(rx->fr);
}

/* The camera frame (tick after STREAMON) that each picture shows, from its barcode, decoded by
 * libavcodec; -1 when unreadable. An MJPEG clip's barcode is the tick mod the clip's length
 * (`clip` frames): the latest such tick captured before the picture reached the hub. */
static int64_t *pace_ticks(const struct pace_rx *rx, const struct pace_cam *cam, int cam_w, int cam_h)
{
	int clip = cam->frames;
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MPEG1VIDEO);
	AVCodecContext *d = avcodec_alloc_context3(codec);
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	int64_t *tick = malloc(((size_t)rx->n + 1) * sizeof(*tick));

	d->flags |= AV_CODEC_FLAG_LOW_DELAY;
	d->thread_count = 1;
	avcodec_open2(d, codec, NULL);
	for (int i = 0; i < rx->n; i++)
		tick[i] = -1;
	for (int i = 0; i <= rx->n; i++) {
		if (i < rx->n) {
			av_new_packet(pkt, (int)rx->fr[i].len);
			memcpy(pkt->data, rx->fr[i].es, rx->fr[i].len);
			pkt->pts = i;
			avcodec_send_packet(d, pkt);
			av_packet_unref(pkt);
		} else {
			avcodec_send_packet(d, NULL);
		}
		while (avcodec_receive_frame(d, fr) >= 0) {
			uint32_t code;
			int64_t k = fr->pts;
			if (k >= 0 && k < rx->n &&
			    vw_fakecam_barcode_read_scaled(fr->data[0], fr->linesize[0], fr->width, fr->height, cam_w, cam_h,
							   &code) == 0) {
				if (!clip) {
					tick[k] = (int64_t)code - cam->seq0;
				} else {
					int64_t latest = av_rescale_rnd(rx->fr[k].pub_ns - cam->t0, cam->den,
								       1000000000LL * cam->num, AV_ROUND_ZERO);
					int64_t seq = cam->seq0 + latest;
					tick[k] = seq - (((seq - (int64_t)code) % clip + clip) % clip) - cam->seq0;
				}
			}
			av_frame_unref(fr);
		}
	}
	avcodec_free_context(&d);
	av_packet_free(&pkt);
	av_frame_free(&fr);
	return tick;
}

/* Pictures published in [from, to): lost camera frames (a gap between the ticks of consecutive
 * new pictures), PTS steps other than one frame, and capture -> hub latency counted from the
 * instant the camera had the frame ready (its exposure and jitter are not vw's). */
static int pace_analyze(const struct pace_rx *rx, const struct pace_cam *cam, int fps, int cam_w, int cam_h,
			int64_t from, int64_t to, const struct vw_stallwatch *sw, struct pace_result *out)
{
	double *lat = malloc(((size_t)rx->n + 1) * sizeof(*lat));
	int64_t *ticks = pace_ticks(rx, cam, cam_w, cam_h);
	int64_t last_tick = -1, last_pts = -1, step = 90000 / fps;
	int n = 0;
	bool *guessed = calloc((size_t)rx->n + 1, sizeof(*guessed));

	memset(out, 0, sizeof(*out));
	if (!lat || !ticks || !guessed) {
		free(lat);
		free(ticks);
		free(guessed);
		return -1;
	}
	/* MPEG-1 sometimes smears a barcode whose bits change together (motion search finds a
	 * neighbouring cell, worst in small pictures): m unreadable pictures between ticks a and
	 * a + m + 1 show a + 1 .. a + m; between a and a, they show a */
	for (int i = 1; i + 1 < rx->n; i++) {
		int m = 0;
		while (i + m + 1 < rx->n && ticks[i + m] < 0)
			m++;
		if (!m || ticks[i - 1] < 0 || ticks[i + m] < 0 ||
		    (ticks[i + m] != ticks[i - 1] + m + 1 && ticks[i + m] != ticks[i - 1]))
			continue;
		for (int k = 0; k < m; k++) {
			ticks[i + k] = ticks[i + m] == ticks[i - 1] ? ticks[i - 1] : ticks[i - 1] + k + 1;
			guessed[i + k] = true;
		}
	}
	for (int i = 0; i + 1 < rx->n; i++) { /* the last picture may still be incomplete */
		const struct pace_frame *f = &rx->fr[i];
		if (f->pub_ns < from || f->pub_ns >= to) {
			if (ticks[i] > last_tick) /* a repeat early in the window is not its tick's first */
				last_tick = ticks[i];
			continue;
		}
		out->frames++;
		if (last_pts >= 0 && f->pts - last_pts != step)
			out->bad_pts++;
		last_pts = f->pts;
		int64_t tick = ticks[i];
		if (tick < 0) {
			if (getenv("VW_TEST_VERBOSE"))
				printf("      unreadable: picture %d pts %lld, %zu bytes\n", i, (long long)f->pts, f->len);
			out->unreadable++;
			continue;
		}
		if (tick <= last_tick)
			continue; /* the previous picture repeated in a slot the camera left empty */
		out->originals++;
		out->guessed += guessed[i];
		int64_t t = cam->t0 + av_rescale_rnd(tick, 1000000000LL * cam->num, cam->den, AV_ROUND_ZERO);
		int64_t ready = vw_fakecam_ready_ns(t, cam->seq0 + (uint32_t)tick, cam->exposure, cam->jitter);
		if (last_tick >= 0 && tick > last_tick + 1 && out->originals > 1)
			out->lost += (int)(tick - last_tick - 1);
		/* the first picture of this tick only if the one before is known: a guessed one might
		 * have been the first */
		if (guessed[i] || (i > 0 && guessed[i - 1])) {
			last_tick = tick;
			continue;
		}
		last_tick = tick;
		if (sw && vw_stallwatch_hit(sw, ready, f->pub_ns)) {
			out->stalled++; /* a CPU of the machine stood still meanwhile: not vw's latency */
			continue;
		}
		lat[n++] = (double)(f->pub_ns - ready) / 1e6;
		if (getenv("VW_TEST_VERBOSE"))
			printf("      tick %lld pts %lld latency %.1f ms\n", (long long)tick, (long long)f->pts, lat[n - 1]);
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_dbl);
	out->measured = n;
	if (n) {
		out->p50 = lat[(n - 1) / 2];
		out->p99 = lat[(int)ceil(0.99 * n) - 1];
		out->max = lat[n - 1];
	}
	free(lat);
	free(ticks);
	free(guessed);
	return 0;
}

/* What a frame of the 1280x720 MJPEG camera costs vw here: decoding it and scaling it to 512x288,
 * as vw does, over three passes of the clip (150 frames). The bound is on the 99th percentile of
 * the latency, so the cost it allows for is this cost's 99th percentile; samples that a stall of
 * the machine overlapped are left out, as they are from the latencies. */
static double mjpeg_decode_ms(double *median)
{
	struct SwsContext *sws = NULL;
	AVFrame *out = av_frame_alloc();
	AVFormatContext *ic = NULL;
	AVCodecContext *d = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	struct vw_stallwatch sw;
	double ms[192];
	int n = 0, left_out = 0;

	vw_stallwatch_start(&sw, VW_NS_PER_MS);
	for (int pass = 0; pass < 3; pass++) {
		if (avformat_open_input(&ic, VW_CAMERA_720P, NULL, NULL) < 0 || avformat_find_stream_info(ic, NULL) < 0)
			break;
		if (!d) {
			d = avcodec_alloc_context3(avcodec_find_decoder(ic->streams[0]->codecpar->codec_id));
			avcodec_parameters_to_context(d, ic->streams[0]->codecpar);
			d->thread_count = 1;
			avcodec_open2(d, d->codec, NULL);
		}
		while (n < 192 && av_read_frame(ic, pkt) >= 0) {
			int64_t t = vw_now_ns();
			if (avcodec_send_packet(d, pkt) >= 0 && avcodec_receive_frame(d, fr) >= 0) {
				/* one output picture, reused, as vw's encoder reuses its own */
				if (!out->data[0]) {
					out->format = AV_PIX_FMT_YUV420P;
					out->width = 512;
					out->height = 288;
					av_frame_get_buffer(out, 0);
				}
				/* the camera's full-range 4:2:2 to the stream's limited-range 4:2:0, as vw's
				 * encoder converts it (vw_encoder.c: unjpeg and the colorspace details) */
				sws = sws_getCachedContext(sws, fr->width, fr->height, AV_PIX_FMT_YUV422P, 512, 288,
							   AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
				if (sws) {
					const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
					sws_setColorspaceDetails(sws, coef, 1, coef, 0, 0, 1 << 16, 1 << 16);
				}
				if (sws && out->data[0])
					sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, out->data,
						  out->linesize);
				int64_t t1 = vw_now_ns();
				if (sw.ok && vw_stallwatch_hit(&sw, t, t1))
					left_out++;
				else
					ms[n++] = (double)(t1 - t) / 1e6;
			}
			av_frame_unref(fr);
			av_packet_unref(pkt);
		}
		avformat_close_input(&ic);
	}
	vw_stallwatch_stop(&sw);
	vw_stallwatch_free(&sw);
	avcodec_free_context(&d);
	av_frame_free(&fr);
	av_frame_free(&out);
	sws_freeContext(sws);
	av_packet_free(&pkt);
	qsort(ms, (size_t)n, sizeof(*ms), cmp_dbl);
	*median = n ? ms[n / 2] : 0;
	double p99 = n ? ms[(int)ceil(0.99 * n) - 1] : 0;
	printf("\n    MJPEG 1280x720 -> 512x288 decodes and scales in %.1f ms (median), %.1f ms (99th percentile) over "
	       "%d frames, %d left out for a machine stall\n",
	       *median, p99, n, left_out);
	return p99;
}

struct pace_case {
	const char *what;
	const char *real_fps; /* what the camera really runs at ("" : as it claims) */
	int claims, stream_fps;
	double exposure_ms, jitter_ms, cost_ms;
	bool mjpeg;
};

/* The matrix, one case at a time (one feed, camera and stream each), for 20 s each: no frame the
 * camera delivered is lost when the stream is at least as fast as the camera; capture -> hub p99
 * within the per-frame cost + 3 ms (MJPEG: its measured decode and scale time + 3 ms); the encoded
 * rate is the stream's (a PTS step of one frame, every picture) and no placeholder was shown. The
 * same bounds hold in the plain and the sanitizer builds. One at a time because seven encoders at
 * once on a two-core machine measure each other, not the capture loop.
 * This machine is a virtual one whose CPUs stand still now and then (a real-time thread pinned
 * to each CPU sees wake-ups 1-25 ms late, tens to hundreds of times a minute, more while the
 * machine is busy): a picture whose capture -> hub window overlaps such a moment
 * (tests/harness/vw_stallwatch) is left out of the latency figures, counted and printed; at
 * least 100 must remain (a third of a slow camera's new pictures). A case that still misses a timing bound (p99 or a lost frame) runs
 * again, up to three times in all, and must meet it in one: the capture loop's defects are
 * systematic (the old loop's sawtooth missed every run, with a median near half a frame and a
 * loss every ~50 frames), a busy moment of the machine is not; every run is printed. Rate,
 * order, placeholders and barcodes are asserted on every run.
 * Under CPU emulation (vw_test_emulated()) the latency bound is printed, not asserted, one frame in
 * 10 may be lost and half the new pictures are required; MJPEG 1280x720 at 25 fps is beyond the
 * emulated CPU, and only the absence of placeholders, readable barcodes (4 in 5) and a rate no
 * slower than the emulated decoder allows are asserted there. */
static bool pace_run(const struct pace_case *c, double decode_ms);

static void test_capture_pacing_matrix(void)
{
	static const struct pace_case cases[] = {
		{"2 ms per frame", "", 25, 25, 0, 0, 2, false},
		{"8 ms per frame, exposure 35 ms, jitter 3 ms", "", 25, 25, 35, 3, 8, false},
		{"29.97 fps into 30, exposure 20 ms, jitter 3 ms, 2 ms per frame", "30000/1001", 30, 30, 20, 3, 2, false},
		{"30 fps into 25, exposure 10 ms, jitter 3 ms", "30", 30, 25, 10, 3, 0, false},
		{"15 fps claiming 30, jitter 3 ms", "15", 30, 25, 5, 3, 0, false},
		{"7.5 fps claiming 30, exposure 30 ms", "7.5", 30, 25, 30, 0, 0, false},
		{"MJPEG 1280x720, exposure 20 ms", "", 25, 25, 20, 0, 0, true},
	};
	int64_t t_all = vw_now_ns();
	int reruns = 0;

	reset_camera();
	double median;
	double decode_ms = mjpeg_decode_ms(&median);
	const char *only = getenv("VW_TEST_PACE"); /* a developer's filter: the cases whose name has it */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (only && !strstr(cases[i].what, only))
			continue;
		bool ok = pace_run(&cases[i], decode_ms);
		for (int again = 0; !ok && again < 2; again++) {
			reruns++;
			printf("    ^ missed a timing bound: again\n");
			ok = pace_run(&cases[i], decode_ms);
		}
		CU_ASSERT(ok);
	}
	printf("    the matrix took %.1f s, %d re-run(s)\n", (double)(vw_now_ns() - t_all) / 1e9, reruns);
}

/* Runs one case, asserts what is not timing and returns whether the timing bounds held. */
static bool pace_run(const struct pace_case *c, double decode_ms)
{
	static const char *const knobs[] = {"VWFAKECAM_DEVICE",      "VWFAKECAM_SIZES",    "VWFAKECAM_FPS",
					    "VWFAKECAM_REAL_FPS",    "VWFAKECAM_EXPOSURE_MS", "VWFAKECAM_JITTER_MS",
					    "VWFAKECAM_COST_MS",     "VWFAKECAM_MJPEG"};
	static const char *const dev = "/dev/video-vwpace0";
	char text[1024], num[4][32];
	struct pace_rx rx = {.vpid = -1};
	struct vw_sub sub;
	struct vw_encoder_stats st0 = {0}, st1 = {0};
	struct vw_app app;
	struct pace_cam cam = {0};
	struct pace_result r;
	int64_t t_run = vw_now_ns();

	reset_camera();
	/* small pictures (barcode cells still macroblock-aligned), the same stream in every case, so
	 * that the cases differ only by their camera: the MJPEG camera is decoded at 1280x720 and
	 * scaled to 512x288 (its per-frame cost, measured by mjpeg_decode_ms) */
	snprintf(text, sizeof(text),
		 "[feed c0]\ntype = v4l2\ndevice = %s\nsize = %s\nfps = %d\nformat = %s\n"
		 "[stream s0]\nfeeds = c0\nsize = %s\nfps = %d\nvideo_bitrate = %s\n",
		 dev, c->mjpeg ? "1280x720" : "512x288", c->claims, c->mjpeg ? "mjpeg" : "yuyv",
		 "512x288", c->stream_fps, "700k");
	snprintf(num[0], sizeof(num[0]), "%g", c->exposure_ms);
	snprintf(num[1], sizeof(num[1]), "%g", c->jitter_ms);
	snprintf(num[2], sizeof(num[2]), "%g", c->cost_ms);
	setenv("VWFAKECAM_DEVICE", dev, 1);
	setenv("VWFAKECAM_SIZES", "512x288,640x480", 1);
	setenv("VWFAKECAM_FPS", "25,30,15", 1);
	setenv("VWFAKECAM_REAL_FPS", *c->real_fps ? c->real_fps : "0", 1);
	setenv("VWFAKECAM_EXPOSURE_MS", num[0], 1);
	setenv("VWFAKECAM_JITTER_MS", num[1], 1);
	setenv("VWFAKECAM_COST_MS", num[2], 1);
	setenv("VWFAKECAM_MJPEG", c->mjpeg ? VW_CAMERA_720P : "", 1);
	/* the environment stays until the app stops: the feed opens its camera (and reads it) on its
	 * own thread, whenever it gets to it */
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log), 0);
	vw_sub_init(&sub, &vw_app_stream(&app, "s0")->hub, 8 << 20, 0, NULL, NULL);
	/* every moment of 1 ms or more that a CPU of the machine stood still: not vw's to count */
	struct vw_stallwatch sw;
	vw_stallwatch_start(&sw, VW_NS_PER_MS);
	/* 3 s to settle, then 20 s measured */
	int64_t from = vw_now_ns() + 3 * VW_NS_PER_SEC, to = from + 20 * VW_NS_PER_SEC;
	bool snapped = false;
	while (vw_now_ns() < to + 300 * VW_NS_PER_MS) {
		struct vw_chunk *ch;
		if (!snapped && vw_now_ns() >= from) {
			vw_encoder_get_stats(vw_app_stream(&app, "s0"), &st0);
			snapped = true;
		}
		while ((ch = vw_sub_pop(&sub, NULL))) {
			pace_chunk(&rx, ch);
			vw_chunk_unref(ch);
		}
		vw_test_sleep_ms(5);
	}
	vw_encoder_get_stats(vw_app_stream(&app, "s0"), &st1);
	vw_stallwatch_stop(&sw);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		unsetenv(knobs[i]);

	CU_ASSERT_EQUAL_FATAL(pace_cam_log(dev, &cam), 0);
	CU_ASSERT_EQUAL_FATAL(pace_analyze(&rx, &cam, c->stream_fps, c->mjpeg ? 1280 : 512, c->mjpeg ? 720 : 288, from,
					   to, sw.ok ? &sw : NULL, &r),
			      0);
	pace_free(&rx);
	int stalls = sw.n;
	vw_stallwatch_free(&sw);
	double camera_fps = (double)cam.den / cam.num, limit = (c->mjpeg ? decode_ms : c->cost_ms) + 3;
	bool lossless = c->stream_fps >= camera_fps - 0.01;
	uint64_t placeholders = st1.placeholder_frames - st0.placeholder_frames;
	printf("\n    %-64s %5.2f fps -> %d: %4d pictures (%d new, %d known by their neighbours, %d unreadable, %llu "
	       "repeats), lost %d, PTS steps off %d, placeholders %llu; p50 %.1f p99 %.1f max %.1f ms (limit %.1f) "
	       "over %d pictures, %d left out for a machine stall (%s); %.1f s",
	       c->what, camera_fps, c->stream_fps, r.frames, r.originals, r.guessed, r.unreadable,
	       (unsigned long long)(st1.frames_repeated - st0.frames_repeated), r.lost, r.bad_pts,
	       (unsigned long long)placeholders, r.p50, r.p99, r.max, limit, r.measured, r.stalled,
	       sw.ok ? "stalls seen" : "no real-time priority: stalls not watched", (double)(vw_now_ns() - t_run) / 1e9);
	if (sw.ok)
		printf(" [%d stalls of 1 ms or more in all]", stalls);
	/* under emulation MJPEG 1280x720 at 25 fps is more than the CPU decodes and encodes: the
	 * encoder falls seconds behind, so the window holds fewer pictures and a slot may be skipped */
	bool beyond = vw_test_emulated() && c->mjpeg;
	if (!beyond) {
		CU_ASSERT(r.frames >= 20 * c->stream_fps - 2);
		CU_ASSERT_EQUAL(r.bad_pts, 0);
	}
	double fps = camera_fps < c->stream_fps ? camera_fps : c->stream_fps;
	if (vw_test_emulated() && fps > 1000.0 / limit)
		fps = 1000.0 / limit; /* no faster than the emulated CPU decodes */
	CU_ASSERT(r.originals >= (int)(20 * fps * 0.95) / (vw_test_emulated() ? 2 : 1));
	CU_ASSERT_EQUAL(placeholders, 0);
	/* under emulation a new MJPEG 1280x720 picture comes every few hundred ms into a 25 fps
	 * stream, each coded with one frame's bits: a few come out too coarse for the barcode */
	if (beyond) {
		CU_ASSERT(r.unreadable <= r.originals / 5);
	} else {
		CU_ASSERT_EQUAL(r.unreadable, 0);
	}
	if (vw_test_emulated()) {
		if (lossless && !beyond)
			CU_ASSERT(r.lost <= r.frames / 10);
		printf("\n");
		return true;
	}
	printf("\n");
	/* a p99 needs pictures: with fewer than 100 measured (or a third of the new pictures of a
	 * slow camera) the machine stood still through the rest, there is no verdict, and the case
	 * runs again */
	int need = r.originals / 3 < 100 ? r.originals / 3 : 100;
	return (!lossless || r.lost == 0) && r.measured >= need && r.p99 <= limit;
}

/* Low light: a 30 fps camera drops to 15 fps for 4 s and comes back. The 25 fps stream keeps its
 * rate with repeated pictures (never a hole in its PTS, never a placeholder) and the sound goes on
 * without a gap. */
static void test_camera_slows_down_and_back(void)
{
	struct vw_app app;
	struct vw_sub sub;
	struct buf b = {0};
	struct pace_rx rx = {.vpid = -1};
	struct vw_encoder_stats s0, s1, s2;
	char slow[700];

	reset_camera();
	snprintf(slow, sizeof(slow), "%s/low-light", tmp);
	unlink(slow);
	setenv("VWFAKECAM_SLOW", slow, 1);
	setenv("VWFAKECAM_FPS", "30,25", 1);
	int started = vw_test_app_start(&app, "[feed cam]\ntype = v4l2\ndevice = " CAM "\nfps = 30\n"
					      "[feed mic]\ntype = alsa\ndevice = vwfake\n"
					      "[stream live]\nfeeds = cam, mic\nfps = 25\nvideo_bitrate = 1000k\n",
					      &tlog.log);
	CU_ASSERT_EQUAL_FATAL(started, 0);
	struct vw_encoder *s = vw_app_stream(&app, "live");
	vw_sub_init(&sub, &s->hub, 16 << 20, 0, NULL, NULL);
	int64_t t0 = vw_now_ns();
	/* 3 s at 30 fps, 4 s at 15 fps, 3 s at 30 fps again */
	for (int phase = 0; phase < 3; phase++) {
		if (phase == 1) {
			vw_encoder_get_stats(s, &s0);
			vw_test_write_file(slow, "", 0);
		} else if (phase == 2) {
			vw_encoder_get_stats(s, &s1);
			unlink(slow);
		}
		int64_t end = t0 + (phase == 0 ? 3 : phase == 1 ? 7 : 10) * VW_NS_PER_SEC;
		while (vw_now_ns() < end) {
			struct vw_chunk *c;
			while ((c = vw_sub_pop(&sub, NULL))) {
				buf_add(&b, c);
				pace_chunk(&rx, c);
				vw_chunk_unref(c);
			}
			vw_test_sleep_ms(5);
		}
	}
	vw_encoder_get_stats(s, &s2);
	struct vw_feed_stats fs;
	vw_feed_get_stats(vw_app_feed(&app, "cam"), &fs);
	vw_sub_fini(&sub);
	vw_app_stop(&app);
	unsetenv("VWFAKECAM_SLOW");
	unsetenv("VWFAKECAM_FPS");
	unlink(slow);

	struct pace_cam cam = {0};
	CU_ASSERT_EQUAL_FATAL(pace_cam_log(CAM, &cam), 0);
	int64_t *ticks = pace_ticks(&rx, &cam, 640, 480);
	int bad_pts = 0, longest = 0, run = 0, unreadable = 0;
	for (int i = 1; ticks && i + 1 < rx.n; i++) {
		bad_pts += rx.fr[i].pts - rx.fr[i - 1].pts != 90000 / 25;
		unreadable += ticks[i] < 0;
		run = ticks[i] == ticks[i - 1] ? run + 1 : 0; /* the same picture again */
		if (run > longest)
			longest = run;
	}
	free(ticks);
	struct report r;
	CU_ASSERT_EQUAL_FATAL(analyze(&b, "low-light.ts", &r), 0);
	printf("\n    repeated pictures: %llu at 30 fps, %llu at 15 fps, %llu back at 30 fps (longest run %d); "
	       "placeholders %llu; PTS steps off %d of %d; video %.2f s (%d frames), audio %.2f s, %llu samples of "
	       "silence filled in; feed %s\n",
	       (unsigned long long)s0.frames_repeated, (unsigned long long)(s1.frames_repeated - s0.frames_repeated),
	       (unsigned long long)(s2.frames_repeated - s1.frames_repeated), longest,
	       (unsigned long long)s2.placeholder_frames, bad_pts, rx.n, r.video_s, r.frames, r.audio_s,
	       (unsigned long long)s2.silence_samples, vw_feed_state_name(fs.state));
	CU_ASSERT_EQUAL(fs.state, VW_FEED_LIVE);
	CU_ASSERT_EQUAL(s2.placeholder_frames, 0);
	CU_ASSERT(s1.frames_repeated - s0.frames_repeated >= 4 * 10 * 0.9 - 2); /* 25 slots, 15 pictures a second */
	/* a picture at most 4 times (160 ms; 15 fps needs 2): no stall; under emulation, scaled */
	CU_ASSERT(longest <= 3 * vw_test_time_scale());
	CU_ASSERT_EQUAL(unreadable, 0);
	CU_ASSERT_EQUAL(bad_pts, 0);
	CU_ASSERT(fabs(r.frames - r.video_s * 25) <= 1);
	CU_ASSERT(r.video_s > 9.0);
	/* the sound: as long as the pictures, and no gap filled with silence after the start */
	CU_ASSERT(fabs(r.video_s - r.audio_s) <= 0.1);
	CU_ASSERT(r.audio_gaps == 0);
	CU_ASSERT(r.audio_peak_db > -20);
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	pace_free(&rx);
	free(b.p);
}

/* ---- the program ---- */

/* vw on conf_text for run_ms once it serves, then SIGTERM: its exit status (-ETIMEDOUT after 5 s),
 * the milliseconds it took to exit, and its log's path. */
static int run_vw_for(const char *conf_text, const char *name, int run_ms, int *exit_ms, char *logp, size_t logn)
{
	struct vw_testvw v;

	vw_testvw_init(&v, tmp, name);
	snprintf(logp, logn, "%s", v.log);
	*exit_ms = -1;
	if (vw_testvw_start(&v, conf_text, NULL, NULL) < 0)
		return -1;
	vw_test_sleep_ms(run_ms);
	int64_t t = vw_now_ns();
	int ret = vw_testvw_stop(&v, 5000);
	*exit_ms = (int)((vw_now_ns() - t) / VW_NS_PER_MS);
	return ret;
}

/* SIGTERM: exit 0 within 2 s, no .part left, the last segment closed and playable. */
static void test_sigterm_clean_exit(void)
{
	char text[1024], dir[700], logp[700], names[16][256];
	int exit_ms;

	reset_camera();
	snprintf(dir, sizeof(dir), "%s/rec4", tmp);
	snprintf(text, sizeof(text), "%s[recorder r]\nstream = live\ndir = %s\nsegment = 60s\n", cam_mic_config, dir);
	int rc = run_vw_for(text, "term", 3000, &exit_ms, logp, sizeof(logp));
	int n = list_segments(dir, names, 16);
	printf("\n    exit %d after %d ms; %d file(s): %s\n", rc, exit_ms, n, n ? names[n - 1] : "-");
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(exit_ms < 2000);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_PTR_NULL(strstr(names[0], ".part"));
	struct report r;
	CU_ASSERT_EQUAL_FATAL(analyze_file(dir, names[0], &r), 0);
	printf("    last segment: %d frames over %.2f s, %d decode errors\n", r.frames, r.video_s, r.decode_errors);
	/* whole up to the stop: a frame per slot, and most of the 3 s (start-up under the sanitizer and
	 * a loaded machine takes part of them) */
	CU_ASSERT(r.video_s >= 2.0);
	CU_ASSERT(r.frames >= (int)(r.video_s * 25 * 0.95));
	CU_ASSERT_EQUAL(r.decode_errors, 0);
}

/* SIGHUP: a good configuration is applied (a recorder added, the stream untouched); a bad one is
 * refused with its FILE:LINE and the running configuration stays. */
static void test_sighup_reload(void)
{
	char dir[700], text[2048];
	struct vw_testvw v;
	vw_testvw_init(&v, tmp, "hup");
	snprintf(dir, sizeof(dir), "%s/rec6", tmp);
	const char *base = "[feed test]\ntype = testsrc\n[stream live]\nfeeds = test\n";
	CU_ASSERT_FATAL(vw_testvw_start(&v, base, NULL, NULL) == 0);
	vw_test_sleep_ms(1000);
	snprintf(text, sizeof(text), "%s[recorder r]\nstream = live\ndir = %s\n", base, dir);
	vw_test_write_file(v.conf, text, strlen(text));
	kill(v.pid, SIGHUP);
	vw_test_sleep_ms(1500);
	const char *bad = "[feed test]\ntype = testsrc\n[stream live]\nfeeds = test\n[destination x]\nstream = live\nurl = ftp://x/\n";
	vw_test_write_file(v.conf, bad, strlen(bad));
	kill(v.pid, SIGHUP);
	vw_test_sleep_ms(1000);
	int rc = vw_testvw_stop(&v, 15000);
	char names[8][256];
	int n = list_segments(dir, names, 8);
	struct report r = {0};
	if (n == 1)
		analyze_file(dir, names[0], &r);
	int applied = vw_test_count_lines(v.log, "reloaded");
	int started_rec = vw_test_count_lines(v.log, "1 started, 0 stopped, 0 changed in place, 2 unchanged");
	int refused = vw_test_count_lines(v.log, "reload refused, keeping the running configuration: ");
	int refused_where = vw_test_count_lines(v.log, "hup.conf:7: unsupported URL scheme 'ftp'");
	printf("\n    exit %d; reload lines %d (recorder added, 2 unchanged: %d); refused %d (with file:line %d); "
	       "recording %d file(s), %d frames\n",
	       rc, applied, started_rec, refused, refused_where, n, r.frames);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(started_rec, 1);
	CU_ASSERT_EQUAL(refused, 1);
	CU_ASSERT_EQUAL(refused_where, 1);
	CU_ASSERT_EQUAL(n, 1);
	/* the recording ran on through the refused reload until SIGTERM */
	CU_ASSERT(r.frames >= 40 / vw_test_time_scale());
}

/* A camera path that does not exist: a placeholder and one clear log line, not an exit. */
static void test_missing_camera_placeholder(void)
{
	char text[1024], dir[700], logp[700], names[16][256];
	int exit_ms;

	snprintf(dir, sizeof(dir), "%s/rec5", tmp);
	snprintf(text, sizeof(text),
		 "[feed cam]\ntype = v4l2\ndevice = /dev/video-missing\n[stream live]\nfeeds = cam\n"
		 "[recorder r]\nstream = live\ndir = %s\n",
		 dir);
	int rc = run_vw_for(text, "missing", 3000, &exit_ms, logp, sizeof(logp));
	int lines = vw_test_count_lines(logp, "cannot open camera /dev/video-missing: No such file or directory; showing a "
					   "placeholder and retrying");
	int n = list_segments(dir, names, 16);
	printf("\n    exit %d; %d log line(s) about the camera; %d recording(s)\n", rc, lines, n);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_EQUAL(lines, 1); /* retried several times, said once */
	CU_ASSERT_EQUAL_FATAL(n, 1);
	struct report r;
	CU_ASSERT_EQUAL_FATAL(analyze_file(dir, names[0], &r), 0);
	printf("    placeholder recording: %d frames %dx%d\n", r.frames, r.width, r.height);
	CU_ASSERT(r.frames >= 50);
	CU_ASSERT_EQUAL(r.width, 640);
}

static int setup(void)
{
	snprintf(cam_log, sizeof(cam_log), "%s/camera.log", tmp);
	return 0;
}

static const struct vw_test_suite suite = {
    .dir = &tmp, .keep_failed = true, .log = &tlog, .av = VW_TEST_AV_COUNT, .setup = setup};

VW_TEST_SUITE("pipeline", &suite,
	      {"output_is_jsmpeg_mpegts", test_output_is_jsmpeg_mpegts},
	      {"slow_subscriber_isolated", test_slow_subscriber_isolated},
	      {"keyframe_on_subscribe", test_keyframe_on_subscribe},
	      {"keyframe_request_during_publish", test_keyframe_request_during_publish},
	      {"mute_keeps_track", test_mute_keeps_track},
	      {"two_streams_one_camera", test_two_streams_one_camera},
	      {"recorder_segments_retention_lossless", test_recorder_segments_retention_lossless},
	      {"recorder_retention_over_2gib", test_recorder_retention_over_2gib},
	      {"recorder_write_error_resumes", test_recorder_write_error_resumes},
	      {"unplug_placeholder_replug", test_unplug_placeholder_replug},
	      {"apply_keeps_unchanged_parts", test_apply_keeps_unchanged_parts},
	      {"file_feed_real_time", test_file_feed_real_time},
	      {"sigterm_clean_exit", test_sigterm_clean_exit},
	      {"missing_camera_placeholder", test_missing_camera_placeholder},
	      {"mjpeg_camera", test_mjpeg_camera},
	      {"sighup_reload", test_sighup_reload},
	      {"capture_pacing_matrix", test_capture_pacing_matrix},
	      {"camera_slows_down_and_back", test_camera_slows_down_and_back},
	      {"encoder_refusal_reaches_caller", test_encoder_refusal_reaches_caller},
	      {"stop_encodes_all_sound", test_stop_encodes_all_sound})
