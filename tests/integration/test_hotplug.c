/* Hotplug: a camera unplugged and replugged, a camera that stops sending, a microphone that fails.
 * The fake camera (preloaded) is unplugged the way the kernel and udev do it: its node disappears
 * and open/ioctl fail; replugged, the node comes back by rename (udev's way of making nodes and
 * links). Everything else is real: the app with its encoder, recorder, a websocket destination on
 * a local relay and a subscriber standing in for a browser viewer. */
#include "vw_app.h"
#include "vw_devwatch.h"
#include "vw_test.h"
#include "vw_testsrv.h"
#include "vw_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>

static char *tmp;
static struct vw_test_log tlog;

static void touch(const char *p)
{
	CU_ASSERT_EQUAL(vw_test_write_file(p, "", 0), 0);
}

/* A node appears the way udev makes it: written elsewhere, renamed into place. */
static void make_node(const char *p)
{
	char t[800];
	if (snprintf(t, sizeof(t), "%s.tmp", p) >= (int)sizeof(t)) {
		CU_FAIL("node path too long");
		return;
	}
	touch(t);
	CU_ASSERT_EQUAL(rename(t, p), 0);
}

static int feed_state(struct vw_feed *f)
{
	struct vw_feed_stats st;
	vw_feed_get_stats(f, &st);
	return st.state;
}

/* Seconds until the feed is in `state`, or -1 after `max_s`. */
static double wait_state(struct vw_feed *f, int state, double max_s)
{
	int64_t t0 = vw_now_ns();
	while (feed_state(f) != state) {
		if (vw_now_ns() - t0 > (int64_t)(max_s * 1e9))
			return -1;
		vw_test_sleep_ms(2);
	}
	return (double)(vw_now_ns() - t0) / 1e9;
}

/* ---- the watch itself ---- */

static void test_devwatch(void)
{
	char root[700], a[720], b[740], node[800], other[800], devdir[720], vid[740], snd[740];
	struct vw_devwatch w;

	snprintf(root, sizeof(root), "%s/watch", tmp);
	mkdir(root, 0755);
	snprintf(a, sizeof(a), "%s/v4l", root);
	snprintf(b, sizeof(b), "%s/by-id", a);
	snprintf(node, sizeof(node), "%s/usb-cam-video-index0", b);
	snprintf(other, sizeof(other), "%s/usb-other", b);
	const char *paths[] = {node, NULL};
	vw_devwatch_open(&w, paths);
	CU_ASSERT_TRUE_FATAL(w.fd >= 0);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 50 * VW_NS_PER_MS), 0); /* nothing happened */
	/* directories on the way appear one by one (by-id exists only while a camera is plugged) */
	mkdir(a, 0755);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	mkdir(b, 0755);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	touch(other); /* another device: no reason to retry */
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 100 * VW_NS_PER_MS), 0);
	make_node(node);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	CU_ASSERT_EQUAL(chmod(node, 0660), 0); /* udev setting the group and mode */
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	unlink(node);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	/* the whole by-id directory goes with the last camera, and comes back */
	unlink(other);
	rmdir(b);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	mkdir(b, 0755);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	make_node(node);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	vw_devwatch_close(&w);

	/* a prefix: any capture node */
	snprintf(devdir, sizeof(devdir), "%s/snd", root);
	mkdir(devdir, 0755);
	snprintf(vid, sizeof(vid), "%s/pcmC*", devdir);
	const char *pat[] = {vid, NULL};
	vw_devwatch_open(&w, pat);
	snprintf(snd, sizeof(snd), "%s/controlC1", devdir);
	touch(snd);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 100 * VW_NS_PER_MS), 0);
	snprintf(snd, sizeof(snd), "%s/pcmC1D0c", devdir);
	make_node(snd);
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 200 * VW_NS_PER_MS), 1);
	vw_devwatch_close(&w);

	/* relative paths are not watched: the watcher is inert and only sleeps */
	const char *rel[] = {"video0", NULL};
	vw_devwatch_open(&w, rel);
	int64_t t0 = vw_now_ns();
	CU_ASSERT_EQUAL(vw_devwatch_wait(&w, 30 * VW_NS_PER_MS), 0);
	CU_ASSERT(vw_now_ns() - t0 >= 29 * VW_NS_PER_MS);
	vw_devwatch_close(&w);
}

/* ---- the recording ---- */

struct rec_report {
	int files, frames, decode_errors;
	double first_s, last_s, max_gap_s;
	int gaps; /* holes longer than one frame */
};

/* Every segment in dir, in name order, decoded; frame times are the stream's own (continuous
 * across segments), so holes show as gaps between successive timestamps. */
static void analyze_recording(const char *dir, struct rec_report *r)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	double prev = -1;

	memset(r, 0, sizeof(*r));
	r->first_s = -1;
	for (int i = 0; i < n; i++) {
		char p[1200];
		AVFormatContext *ic = NULL;
		AVCodecContext *vd = NULL;
		AVPacket *pkt = av_packet_alloc();
		AVFrame *fr = av_frame_alloc();
		if (names[i]->d_name[0] == '.' || !strstr(names[i]->d_name, ".ts"))
			goto next;
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]->d_name);
		if (avformat_open_input(&ic, p, NULL, NULL) < 0 || avformat_find_stream_info(ic, NULL) < 0) {
			r->decode_errors++;
			goto next;
		}
		r->files++;
		int vi = av_find_best_stream(ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
		if (vi < 0)
			goto next;
		vd = avcodec_alloc_context3(avcodec_find_decoder(ic->streams[vi]->codecpar->codec_id));
		avcodec_parameters_to_context(vd, ic->streams[vi]->codecpar);
		avcodec_open2(vd, vd->codec, NULL);
		AVRational tb = ic->streams[vi]->time_base;
		while (av_read_frame(ic, pkt) >= 0) {
			if (pkt->stream_index == vi && avcodec_send_packet(vd, pkt) < 0)
				r->decode_errors++;
			while (pkt->stream_index == vi && avcodec_receive_frame(vd, fr) >= 0) {
				double t = (double)fr->best_effort_timestamp * av_q2d(tb);
				if (r->first_s < 0)
					r->first_s = t;
				if (prev >= 0 && t - prev > r->max_gap_s)
					r->max_gap_s = t - prev;
				if (prev >= 0 && t - prev > 0.06)
					r->gaps++;
				prev = t;
				r->last_s = t;
				r->frames++;
				av_frame_unref(fr);
			}
			av_packet_unref(pkt);
		}
next:
		avcodec_free_context(&vd);
		avformat_close_input(&ic);
		av_frame_free(&fr);
		av_packet_free(&pkt);
		free(names[i]);
	}
	free(names);
}

/* ---- 20 unplug/replug cycles ---- */

static void test_unplug_replug_cycles(void)
{
	enum { CYCLES = 20 };
	char dev[700], unplug[700], rec[700], text[4096];
	struct vw_app app;
	struct vw_testsrv *relay = NULL;
	struct vw_sub viewer;
	struct vw_testsrv_stats rs;
	struct vw_encoder_stats s0, s1;
	struct vw_dest_stats ds;
	double back[CYCLES], worst = 0, sum = 0;
	int fds0 = 0, threads0 = 0, fds1, threads1, viewer_ended = 0;
	size_t viewer_bytes = 0;

	snprintf(dev, sizeof(dev), "%s/video-hotplug", tmp);
	snprintf(unplug, sizeof(unplug), "%s/unplugged", tmp);
	snprintf(rec, sizeof(rec), "%s/rec", tmp);
	setenv("VWFAKECAM_DEVICE", dev, 1);
	setenv("VWFAKECAM_UNPLUG", unplug, 1);
	make_node(dev);
	CU_ASSERT_EQUAL_FATAL(vw_testsrv_start(&relay, NULL), 0);
	snprintf(text, sizeof(text),
		 "[feed cam]\ntype = v4l2\ndevice = %s\n"
		 "[stream live]\nfeeds = cam\nvideo_bitrate = 500k\n"
		 "[recorder r]\nstream = live\ndir = %s\nsegment = 20s\n"
		 "[destination relay]\nstream = live\nurl = ws://127.0.0.1:%d/in\n",
		 dev, rec, vw_testsrv_port(relay));
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log), 0);
	struct vw_feed *f = vw_app_feed(&app, "cam");
	struct vw_encoder *s = vw_app_stream(&app, "live");
	vw_sub_init(&viewer, &s->hub, 8 << 20, 0, NULL, NULL);
	CU_ASSERT_FATAL(wait_state(f, VW_FEED_LIVE, 3) >= 0);
	int64_t start = vw_now_ns();
	vw_encoder_get_stats(s, &s0);

	for (int i = 0; i < CYCLES; i++) {
		struct vw_chunk *c;
		bool eos = false;
		vw_test_sleep_ms(700);
		/* unplugged: ioctls on the open descriptor fail, then the node goes */
		touch(unplug);
		unlink(dev);
		if (wait_state(f, VW_FEED_ABSENT, 2) < 0)
			CU_FAIL("the feed did not notice the unplug within 2 s");
		vw_test_sleep_ms(500);
		/* replugged: the device answers, then udev makes the node */
		unlink(unplug);
		make_node(dev);
		back[i] = wait_state(f, VW_FEED_LIVE, 3);
		if (back[i] < 0)
			back[i] = 99;
		worst = back[i] > worst ? back[i] : worst;
		sum += back[i];
		while ((c = vw_sub_pop(&viewer, &eos))) {
			viewer_bytes += c->len;
			vw_chunk_unref(c);
		}
		viewer_ended += eos;
		if (i == 0) { /* after the first cycle everything that is ever made has been made */
			fds0 = vw_test_count_fds();
			threads0 = vw_test_count_dir("/proc/self/task");
		}
	}
	vw_test_sleep_ms(500);
	double wall = (double)(vw_now_ns() - start) / 1e9;
	fds1 = vw_test_count_fds();
	threads1 = vw_test_count_dir("/proc/self/task");
	vw_encoder_get_stats(s, &s1);
	vw_dest_get_stats(vw_app_dest(&app, "relay"), &ds);
	vw_testsrv_stats(relay, &rs);
	vw_sub_fini(&viewer);
	vw_app_stop(&app);
	vw_testsrv_stop(relay);
	unsetenv("VWFAKECAM_UNPLUG");

	struct rec_report r;
	analyze_recording(rec, &r);
	uint64_t encoded = s1.frames_encoded - s0.frames_encoded, ph = s1.placeholder_frames - s0.placeholder_frames;
	double span = r.last_s - r.first_s + 0.04;
	printf("\n    %d cycles in %.1f s: live again after replug mean %.3f s, worst %.3f s\n"
	       "    descriptors %d -> %d, threads %d -> %d; encoded %llu pictures (%llu placeholders) = %.1f/s\n"
	       "    relay: %d connection(s), %zu bytes; destination reconnects %llu; viewer %zu bytes, ended %d\n"
	       "    recording: %d file(s), %d frames over %.2f s = %.2f fps, %d hole(s) longer than a frame, longest "
	       "%.3f s, %d decode errors\n",
	       CYCLES, wall, sum / CYCLES, worst, fds0, fds1, threads0, threads1, (unsigned long long)encoded,
	       (unsigned long long)ph, (double)encoded / wall, rs.connections, rs.bytes,
	       (unsigned long long)(ds.connects ? ds.connects - 1 : 0), viewer_bytes, viewer_ended, r.files, r.frames,
	       span, r.frames / span, r.gaps, r.max_gap_s, r.decode_errors);
	CU_ASSERT(worst < 2.0);
	CU_ASSERT_EQUAL(fds1, fds0);
	CU_ASSERT_EQUAL(threads1, threads0);
	CU_ASSERT(ph >= (uint64_t)CYCLES * 10); /* placeholders covered every absence */
	CU_ASSERT_EQUAL(rs.connections, 1);      /* the destination never dropped */
	CU_ASSERT_EQUAL(viewer_ended, 0);
	CU_ASSERT(viewer_bytes > 100000);
	CU_ASSERT_EQUAL(r.decode_errors, 0);
	/* continuous: a frame per slot, bar the odd slot lost where the grid's phase changes at a replug */
	CU_ASSERT(r.files >= 1);
	CU_ASSERT(r.frames >= (int)(span * 25 * 0.97));
	CU_ASSERT(span >= wall - 1.5);
	CU_ASSERT(r.max_gap_s < 0.13);
}

/* ---- a camera that stops sending ---- */

static void test_stalled_camera(void)
{
	char dev[700], stall[700], text[1024];
	struct vw_app app;
	struct vw_encoder_stats s0, s1;

	snprintf(dev, sizeof(dev), "%s/video-stall", tmp);
	snprintf(stall, sizeof(stall), "%s/stalled", tmp);
	setenv("VWFAKECAM_DEVICE", dev, 1);
	setenv("VWFAKECAM_STALL", stall, 1);
	snprintf(text, sizeof(text), "[feed cam]\ntype = v4l2\ndevice = %s\n[stream live]\nfeeds = cam\n", dev);
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log), 0);
	struct vw_feed *f = vw_app_feed(&app, "cam");
	struct vw_encoder *s = vw_app_stream(&app, "live");
	CU_ASSERT_FATAL(wait_state(f, VW_FEED_LIVE, 3) >= 0);
	vw_test_sleep_ms(500);
	touch(stall);
	double noticed = wait_state(f, VW_FEED_ABSENT, 4);
	vw_encoder_get_stats(s, &s0);
	vw_test_sleep_ms(2500); /* reopened at least once meanwhile, still silent */
	vw_encoder_get_stats(s, &s1);
	unlink(stall);
	double back = wait_state(f, VW_FEED_LIVE, 3);
	struct vw_feed_stats fs;
	vw_feed_get_stats(f, &fs);
	vw_app_stop(&app);
	unsetenv("VWFAKECAM_STALL");
	uint64_t ph = s1.placeholder_frames - s0.placeholder_frames;
	printf("\n    stall noticed after %.2f s; %llu placeholder pictures in 2.5 s; %llu opens; live %.2f s after "
	       "frames resumed\n",
	       noticed, (unsigned long long)ph, (unsigned long long)fs.opens, back);
	CU_ASSERT(noticed >= 1.5 && noticed < 3.0); /* 2 s without a frame, not sooner */
	CU_ASSERT(ph >= 55);                          /* 25 fps of "NO SIGNAL" */
	CU_ASSERT(back >= 0 && back < 2.0);
	CU_ASSERT_EQUAL(vw_test_count_lines(tlog.path, "sent no frame for 2 s"), 1); /* said once */
}

/* ---- a microphone that fails ---- */

static void test_microphone_fails_and_recovers(void)
{
	char fail[700], text[1024];
	struct vw_app app;
	struct vw_encoder_stats s0, s1;

	snprintf(fail, sizeof(fail), "%s/mic-failed", tmp);
	setenv("VWFAKEMIC_FAIL", fail, 1);
	snprintf(text, sizeof(text), "[feed test]\ntype = testsrc\n[feed mic]\ntype = alsa\ndevice = vwfake\n"
				     "[stream live]\nfeeds = test, mic\n");
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log), 0);
	struct vw_feed *f = vw_app_feed(&app, "mic");
	struct vw_encoder *s = vw_app_stream(&app, "live");
	CU_ASSERT_FATAL(wait_state(f, VW_FEED_LIVE, 3) >= 0);
	vw_test_sleep_ms(500);
	touch(fail); /* the running capture fails (device gone) and reopening fails */
	double noticed = wait_state(f, VW_FEED_ABSENT, 3);
	vw_encoder_get_stats(s, &s0);
	vw_test_sleep_ms(2000);
	vw_encoder_get_stats(s, &s1);
	unlink(fail);
	double back = wait_state(f, VW_FEED_LIVE, 3);
	vw_app_stop(&app);
	unsetenv("VWFAKEMIC_FAIL");
	uint64_t frames = s1.audio_frames - s0.audio_frames, silence = s1.silence_samples - s0.silence_samples;
	printf("\n    failure noticed after %.2f s; while failed: %llu MP2 frames, %llu samples of silence in 2 s; live "
	       "%.2f s after it was back\n",
	       noticed, (unsigned long long)frames, (unsigned long long)silence, back);
	CU_ASSERT(noticed >= 0 && noticed < 2.5);
	/* 44100 / 1152 = 38 MP2 frames a second: the audio track went on, in the bursts the silence
	 * clock makes (it runs a little behind real time), so at least three quarters of 2 s of it */
	CU_ASSERT(frames >= 57);
	CU_ASSERT(silence >= 66000);
	CU_ASSERT(back >= 0 && back < 2.0);
}

/* An overrun: the capture thread is held up longer than the device's buffer (a listener that
 * sleeps on it, as a stalled machine would); the device reports the xrun, and capture goes on. */
struct stall_once {
	atomic_bool armed;
	atomic_int calls;
};

static void stall_on_audio(void *opaque, const int16_t *s, int n, int rate, int channels, int64_t t_ns)
{
	struct stall_once *st = opaque;
	(void)s, (void)n, (void)rate, (void)channels, (void)t_ns;
	atomic_fetch_add(&st->calls, 1);
	if (atomic_exchange(&st->armed, false))
		vw_test_sleep_ms(800); /* the fake microphone's buffer is 0.5 s */
}

static void test_microphone_xrun_recovers(void)
{
	char mic_log[700], text[1024];
	struct vw_app app;
	struct stall_once st;
	struct vw_feed_stats f0, f1;

	snprintf(mic_log, sizeof(mic_log), "%s/mic.log", tmp);
	unlink(mic_log);
	setenv("VWFAKEMIC_LOG", mic_log, 1);
	snprintf(text, sizeof(text), "[feed test]\ntype = testsrc\n[feed mic]\ntype = alsa\ndevice = vwfake\n"
				     "[stream live]\nfeeds = test, mic\n");
	CU_ASSERT_EQUAL_FATAL(vw_test_app_start(&app, text, &tlog.log), 0);
	struct vw_feed *f = vw_app_feed(&app, "mic");
	CU_ASSERT_FATAL(wait_state(f, VW_FEED_LIVE, 3) >= 0);
	atomic_init(&st.armed, false);
	atomic_init(&st.calls, 0);
	struct vw_feed_listener l = {.on_audio = stall_on_audio, .opaque = &st};
	vw_feed_listen(f, &l);
	vw_test_sleep_ms(300);
	vw_feed_get_stats(f, &f0);
	atomic_store(&st.armed, true);
	vw_test_sleep_ms(2000);
	vw_feed_get_stats(f, &f1);
	vw_feed_unlisten(f, &l);
	vw_app_stop(&app);
	unsetenv("VWFAKEMIC_LOG");
	int overruns = vw_test_count_lines(mic_log, "overrun");
	int opens = vw_test_count_lines(mic_log, "open");
	uint64_t samples = f1.audio_samples - f0.audio_samples;
	printf("\n    %d overrun(s) reported by the device; state %s; %llu samples in the 2 s around it (%.0f%% of "
	       "real time, the stall's 0.8 s lost); device opened %d time(s)\n",
	       overruns, vw_feed_state_name(f1.state), (unsigned long long)samples, samples / 960.0, opens);
	CU_ASSERT(overruns >= 1);
	CU_ASSERT_EQUAL(f1.state, VW_FEED_LIVE);
	CU_ASSERT(samples >= 48000 * 2 / 2); /* capture went on after the stall */
	CU_ASSERT_EQUAL(f1.failures, f0.failures); /* recovered in place, not by a reopen */
}

static const struct vw_test_suite suite = {.dir = &tmp, .keep_failed = true, .log = &tlog, .av = VW_TEST_AV_QUIET};

VW_TEST_SUITE("hotplug", &suite,
	      {"devwatch", test_devwatch},
	      {"unplug_replug_cycles", test_unplug_replug_cycles},
	      {"stalled_camera", test_stalled_camera},
	      {"microphone_fails_and_recovers", test_microphone_fails_and_recovers},
	      {"microphone_xrun_recovers", test_microphone_xrun_recovers})
