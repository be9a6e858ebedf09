/* vw_feed: see vw_feed.h.
 *
 * Devices are opened non-blocking: libavdevice's v4l2 input never polls and its ALSA input ignores
 * the interrupt callback, so a blocking read on a camera that stopped sending would hold the
 * thread forever.
 *
 * Camera pacing: the thread waits on the device itself, never on a guess of when the next frame is
 * due. After every frame it tries the next dequeue at once (a backlog is read out without
 * sleeping), and only when the driver has nothing done does it sleep, in poll() on the camera's
 * descriptor, which wakes it the moment the driver finishes a buffer. So the wake-up does not
 * depend on how long the previous frame took (time inside DQBUF, MJPEG decoding, a busy CPU), nor
 * on the camera's real rate (29.97 fps, or 15 fps in low light while it claims 30), nor on its
 * timestamps (uvcvideo stamps the start of exposure, tens of ms before the buffer is ready) or
 * its jitter: each frame is dequeued within the scheduler's wake-up time of being ready, and no
 * frames pile up to be dropped by "freshest wins". (An expectation computed from the end of the
 * previous frame's processing, as this thread once used, drifts later by every millisecond of
 * per-frame work above its margin until a frame is lost, then starts over: a latency sawtooth.)
 * libavdevice keeps the descriptor in its private context; it is used only after it answers
 * VIDIOC_QUERYCAP as a streaming capture device (and is the configured node, when that is a
 * device node). If it does not, the thread polls the device every millisecond instead: at most
 * 1 ms later, still without drift. The stall deadline (2 s without a frame) is the only timer.
 *
 * A microphone is still read on its expected period (read_wait without a descriptor): ALSA keeps the samples in its
 * ring buffer, so a late wake-up delays sound by a period but loses nothing. */
#include "vw_feed.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/buffer.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "vw_controls.h"
#include "vw_devices.h"
#include "vw_font.h"
#include "vw_util.h"

#define STALL_NS (2 * VW_NS_PER_SEC)    /* a camera silent this long is reopened */
#define RETRY_MIN_NS (250 * VW_NS_PER_MS)
#define RETRY_MAX_NS (1 * VW_NS_PER_SEC) /* short: a replugged camera is back within 2 s */

const char *vw_feed_state_name(enum vw_feed_state s)
{
	static const char *const names[] = {[VW_FEED_STARTING] = "starting", [VW_FEED_LIVE] = "live",
					    [VW_FEED_ABSENT] = "absent", [VW_FEED_ENDED] = "ended"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "?";
}

/* ---- slot, listeners, state ---- */

/* The running feed's settings (the API may have changed them) and the device it has open, which
 * is what `device = auto` chose rather than the word "auto". */
void vw_feed_settings(struct vw_feed *f, struct vw_feed_conf *out)
{
	pthread_mutex_lock(&f->lock);
	*out = f->conf;
	vw_strlcpy(out->device, f->device, sizeof(out->device));
	pthread_mutex_unlock(&f->lock);
}

int vw_feed_apply_controls(struct vw_feed *f)
{
	struct vw_feed_conf *snap = malloc(sizeof(*snap));
	int ret;

	if (!snap)
		return -ENOMEM;
	vw_feed_settings(f, snap);
	ret = vw_controls_apply_feed(snap, &f->controls_memo, f->log, f->mod); /* the memo: capture thread's */
	free(snap);
	return ret;
}

int vw_feed_remember_controls(struct vw_feed *f, const struct vw_control_setting *set, int n)
{
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < n && !ret; i++) {
		struct vw_feed_conf *c = &f->conf;
		int k;
		/* the file's names are only lowercased ("brightness_" is allowed there): compare normalized */
		for (k = 0; k < c->n_controls; k++)
			if (vw_control_name_matches(c->controls[k].name, set[i].name))
				break;
		if (k == c->n_controls && c->n_controls == VW_MAX_CONTROLS) {
			ret = -ENOSPC;
			break;
		}
		if (k == c->n_controls)
			c->n_controls++;
		c->controls[k] = set[i];
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}


static void publish_video(struct vw_feed *f, AVFrame *frame, int64_t t_ns, bool placeholder)
{
	pthread_mutex_lock(&f->lock);
	av_frame_free(&f->slot);
	f->slot = frame;
	f->slot_seq++;
	f->slot_ns = t_ns;
	f->slot_placeholder = placeholder;
	f->last_pub_ns = t_ns;
	if (placeholder)
		f->st.placeholder_frames++;
	else
		f->st.frames++;
	if (vw_rate_add(&f->fps, !placeholder, t_ns)) /* placeholders are not captured frames */
		f->st.fps = f->fps.per_sec;
	for (struct vw_feed_listener *l = f->listeners; l; l = l->next)
		if (l->on_video)
			l->on_video(l->opaque);
	pthread_mutex_unlock(&f->lock);
}

int vw_audio_peak(const int16_t *s, size_t n)
{
	int peak = 0;
	for (size_t i = 0; i < n; i++) {
		int a = s[i] < 0 ? -(int)s[i] : s[i];
		if (a > peak)
			peak = a;
	}
	return peak;
}

double vw_audio_peak_db(int peak)
{
	/* 16 bits cannot tell anything below one step: that is the floor */
	return peak > 0 ? 20.0 * log10((double)peak / 32768.0) : -96.0;
}

/* A meter wants a few readings a second, each the loudest moment since the last one. */
#define LEVEL_WINDOW_NS (200 * VW_NS_PER_MS)

static void publish_audio(struct vw_feed *f, const int16_t *s, int n, int rate, int channels, int64_t t_ns)
{
	int peak = vw_audio_peak(s, (size_t)n * (size_t)(channels > 0 ? channels : 1));
	pthread_mutex_lock(&f->lock);
	f->st.audio_samples += (uint64_t)n;
	if (peak > f->level_peak)
		f->level_peak = peak;
	if (t_ns - f->level_window_ns >= LEVEL_WINDOW_NS) {
		f->st.level_db = vw_audio_peak_db(f->level_peak);
		f->st.level_ns = t_ns;
		f->level_window_ns = t_ns;
		f->level_peak = 0;
	}
	for (struct vw_feed_listener *l = f->listeners; l; l = l->next)
		if (l->on_audio)
			l->on_audio(l->opaque, s, n, rate, channels, t_ns);
	pthread_mutex_unlock(&f->lock);
}

static void set_live(struct vw_feed *f, const char *format)
{
	char held[48];
	long was = vw_log_gate_clear(&f->absent_log); /* >= 0: it was absent, and said so */

	pthread_mutex_lock(&f->lock);
	f->st.state = VW_FEED_LIVE;
	f->st.opens++;
	vw_strlcpy(f->st.format, format, sizeof(f->st.format));
	f->st.error[0] = 0;
	pthread_mutex_unlock(&f->lock);
	const char *what = f->conf.type == VW_FEED_FILE ? f->conf.path : f->device;
	vw_info(f->log, f->mod, "%s%s%s%s%s%s", f->conf.type == VW_FEED_FILE ? "playing " : "capturing ", what,
		*what ? ": " : "", format, was >= 0 ? " (recovered)" : "", vw_log_suppressed(held, sizeof(held), was));
}

/* Warns once when the feed goes absent; while it stays absent a new reason is noted at info
 * level and a repeated one not at all. A real unplug fails in several ways in a row (the read:
 * ENODEV; the reopen: ENOENT until the node is back, then EACCES until udev has set its group),
 * which must not read as several unplugs. */
static void set_absent(struct vw_feed *f, const char *error)
{
	bool went = !f->absent_log.active; /* cleared when the feed goes live */
	char held[48];

	pthread_mutex_lock(&f->lock);
	f->st.state = VW_FEED_ABSENT;
	f->st.failures++;
	vw_strlcpy(f->st.error, error, sizeof(f->st.error));
	pthread_mutex_unlock(&f->lock);
	long n = vw_log_gate_pass(&f->absent_log, vw_log_key(error), vw_now_ns()); /* < 0: the same reason again */
	if (n >= 0 && went)
		vw_warn(f->log, f->mod, "%s; %s", error,
			vw_feed_has_video(&f->conf) && f->conf.type != VW_FEED_FILE ? "showing a placeholder and retrying"
										 : "retrying");
	else if (n >= 0)
		vw_info(f->log, f->mod, "still absent: %s%s", error, vw_log_suppressed(held, sizeof(held), n));
}

static bool stopping(struct vw_feed *f)
{
	return atomic_load_explicit(&f->stop, memory_order_relaxed);
}

/* Sleeps until t_ns in short steps so that stop is noticed within 50 ms. While the feed's device
 * is watched, a change to its node ends the sleep early and sets `woke`. */
static void nap_until(struct vw_feed *f, int64_t t_ns)
{
	while (!stopping(f) && !f->woke) {
		int64_t now = vw_now_ns();
		if (now >= t_ns)
			return;
		int64_t step = t_ns - now > 50 * VW_NS_PER_MS ? 50 * VW_NS_PER_MS : t_ns - now;
		if (f->watch.fd < 0)
			vw_sleep_until(now + step);
		else if (vw_devwatch_wait(&f->watch, step) > 0)
			f->woke = true;
	}
}

/* ---- pictures ---- */

/* A frame with its own buffers, or NULL. */
static AVFrame *new_frame(int format, int width, int height)
{
	AVFrame *fr = av_frame_alloc();

	if (!fr)
		return NULL;
	fr->format = format;
	fr->width = width;
	fr->height = height;
	if (av_frame_get_buffer(fr, 0) < 0)
		av_frame_free(&fr);
	return fr;
}

AVFrame *vw_placeholder_frame(int width, int height, const char *title, const char *detail, int64_t wall_s)
{
	AVFrame *fr = new_frame(AV_PIX_FMT_YUV420P, width, height);
	char clock[32];
	struct tm tm;
	time_t t = (time_t)wall_s;

	if (!fr)
		return NULL;
	for (int y = 0; y < height; y++)
		memset(fr->data[0] + y * fr->linesize[0], 40, (size_t)width);
	for (int p = 1; p < 3; p++)
		for (int y = 0; y < (height + 1) / 2; y++)
			memset(fr->data[p] + y * fr->linesize[p], 128, (size_t)(width + 1) / 2);
	gmtime_r(&t, &tm);
	strftime(clock, sizeof(clock), "%Y-%m-%d %H:%M:%S UTC", &tm);
	int big = width >= 480 ? 6 : width >= 240 ? 3 : 1, small = big > 1 ? big / 2 : 1;
	int y = height / 2 - 7 * big;
	vw_font_draw(fr->data[0], fr->linesize[0], width, height, (width - vw_font_width(title, big)) / 2, y, big, 235,
		     title);
	y += 10 * big;
	vw_font_draw(fr->data[0], fr->linesize[0], width, height, (width - vw_font_width(detail, small)) / 2, y, small,
		     200, detail);
	y += 10 * small;
	vw_font_draw(fr->data[0], fr->linesize[0], width, height, (width - vw_font_width(clock, small)) / 2, y, small,
		     200, clock);
	return fr;
}

static int64_t wall_seconds(void)
{
	return (int64_t)time(NULL);
}

static void show_placeholder(struct vw_feed *f, const char *title, int64_t t_ns)
{
	const char *what = f->conf.type == VW_FEED_FILE ? f->conf.path : *f->device ? f->device : "no device found";
	const char *base = strrchr(what, '/');
	AVFrame *fr = vw_placeholder_frame(f->conf.width, f->conf.height, title, base && base[1] ? base + 1 : what,
					   wall_seconds());
	if (fr)
		publish_video(f, fr, t_ns, true);
}

/* The next slot of the feed's frame grid that is not already past: placeholders continue the
 * phase of the last picture, so the stream's frame timing has no hole where live turns absent. */
static int64_t next_slot(const struct vw_feed *f, int64_t interval)
{
	int64_t now = vw_now_ns(), t = f->last_pub_ns ? f->last_pub_ns + interval : now;
	if (t < now - interval / 2)
		t += ((now - interval / 2 - t) / interval + 1) * interval;
	return t;
}

static int64_t frame_interval(const struct vw_feed *f)
{
	return VW_NS_PER_SEC / (f->conf.fps > 0 ? f->conf.fps : 25);
}

/* While absent: placeholder frames on the feed's frame grid until `until_ns`, or until the
 * device's node changes (then `woke` is set and the caller retries at once). */
static void absent_until(struct vw_feed *f, const char *title, int64_t until_ns)
{
	int64_t interval = frame_interval(f);

	if (!vw_feed_has_video(&f->conf)) {
		nap_until(f, until_ns);
		return;
	}
	for (int64_t t = next_slot(f, interval); !stopping(f) && !f->woke && t < until_ns; t += interval) {
		nap_until(f, t);
		if (f->woke)
			break;
		show_placeholder(f, title, t);
	}
	if (!f->woke)
		nap_until(f, until_ns);
}

/* ---- polling reads ---- */

/* av_read_frame on a non-blocking input: returns 0 with a packet, AVERROR(EAGAIN) when `deadline`
 * passed without one, AVERROR_EXIT when stopping, another negative code on failure. Tries at once;
 * then waits and tries again: until the device is readable when its descriptor is known (fd >= 0:
 * a camera's frame is taken the moment the driver hands it over), else until shortly before
 * `expect_ns`, when the next packet is due (a sound card: 0.3 ms polls from then on), or 1 ms
 * when nothing says when it is due (expect_ns 0). */
static int read_wait(struct vw_feed *f, AVFormatContext *ic, AVPacket *pkt, int fd, int64_t expect_ns,
		     int64_t deadline)
{
	for (;;) {
		int r = av_read_frame(ic, pkt);
		if (r != AVERROR(EAGAIN))
			return r;
		if (stopping(f))
			return AVERROR_EXIT;
		int64_t now = vw_now_ns();
		if (now >= deadline)
			return AVERROR(EAGAIN);
		int64_t step = deadline - now > 50 * VW_NS_PER_MS ? 50 * VW_NS_PER_MS : deadline - now; /* stop: 50 ms */
		if (fd >= 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int n = poll(&p, 1, (int)((step + VW_NS_PER_MS - 1) / VW_NS_PER_MS));
			if (n > 0 && !(p.revents & POLLIN))
				vw_sleep_ns(VW_NS_PER_MS); /* an error with nothing to dequeue: never spin on it */
		} else if (expect_ns && expect_ns - now > 2 * VW_NS_PER_MS) {
			vw_sleep_until(expect_ns - VW_NS_PER_MS < deadline ? expect_ns - VW_NS_PER_MS : deadline);
		} else {
			int64_t nap = expect_ns ? 300000 : VW_NS_PER_MS;
			vw_sleep_ns(step < nap ? step : nap);
		}
	}
}

/* ---- V4L2 camera ---- */

/* libavdevice's v4l2 input keeps its descriptor right after the AVClass pointer of its private
 * context (struct video_data in libavdevice/v4l2.c, laid out so since 2011). Trusted only when it
 * answers VIDIOC_QUERYCAP as a streaming capture device and, if `device` is a device node, is
 * that node; -1 otherwise. */
static int v4l2_fd(const AVFormatContext *ic, const char *device)
{
	struct v4l2_capability cap;
	struct stat a, b;
	int fd;

	if (!ic->priv_data || !ic->iformat || strncmp(ic->iformat->name, "video4linux2", 12) != 0)
		return -1;
	memcpy(&fd, (const char *)ic->priv_data + sizeof(void *), sizeof(fd));
	memset(&cap, 0, sizeof(cap));
	if (fd < 0 || ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0)
		return -1;
	uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE) || !(caps & V4L2_CAP_STREAMING))
		return -1;
	if (fstat(fd, &a) == 0 && S_ISCHR(a.st_mode) && stat(device, &b) == 0 && S_ISCHR(b.st_mode) &&
	    a.st_rdev != b.st_rdev)
		return -1;
	return fd;
}

/* What one open of a camera asks for: the configured device and format, or what auto chose. */
struct v4l2_want {
	char device[VW_PATH_MAX];
	int width, height;
	char rate[24];
	enum vw_video_format format;
};

static int v4l2_open(const struct v4l2_want *w, AVFormatContext **ic, AVCodecContext **dec, char *fmtdesc, size_t n)
{
	int ret;
	AVDictionary *opts = NULL;
	char size[32];
	const AVInputFormat *ifmt = av_find_input_format("video4linux2");
	const AVCodecParameters *par;

	snprintf(size, sizeof(size), "%dx%d", w->width, w->height);
	av_dict_set(&opts, "video_size", size, 0);
	av_dict_set(&opts, "framerate", w->rate, 0);
	if (w->format == VW_FORMAT_MJPEG)
		av_dict_set(&opts, "input_format", "mjpeg", 0);
	else if (w->format == VW_FORMAT_YUYV)
		av_dict_set(&opts, "input_format", "yuyv422", 0);
	*ic = avformat_alloc_context();
	if (!*ic) {
		ret = AVERROR(ENOMEM);
		goto end;
	}
	(*ic)->flags |= AVFMT_FLAG_NONBLOCK;
	ret = avformat_open_input(ic, w->device, ifmt, &opts);
	if (ret < 0)
		goto end;
	par = (*ic)->streams[0]->codecpar;
	if (par->codec_id != AV_CODEC_ID_RAWVIDEO) {
		const AVCodec *c = avcodec_find_decoder(par->codec_id);
		*dec = c ? avcodec_alloc_context3(c) : NULL;
		if (!*dec) {
			ret = AVERROR_DECODER_NOT_FOUND;
			goto end;
		}
		avcodec_parameters_to_context(*dec, par);
		(*dec)->thread_count = 1;
		ret = avcodec_open2(*dec, c, NULL);
		if (ret < 0)
			goto end;
	}
	snprintf(fmtdesc, n, "%s %dx%d@%d", par->codec_id == AV_CODEC_ID_RAWVIDEO ? av_get_pix_fmt_name(par->format)
										     : avcodec_get_name(par->codec_id),
		 par->width, par->height,
		 (*ic)->streams[0]->avg_frame_rate.den
			 ? (*ic)->streams[0]->avg_frame_rate.num / (*ic)->streams[0]->avg_frame_rate.den
			 : 0);
end:
	av_dict_free(&opts);
	if (ret < 0) {
		avcodec_free_context(dec);
		avformat_close_input(ic);
	}
	return ret;
}

/* The buffer's timestamp is the driver's CLOCK_MONOTONIC capture time (FFmpeg passes it through
 * in its default timestamp mode); anything implausible falls back to the arrival time. */
static int64_t capture_time(const AVPacket *pkt, int64_t now)
{
	if (pkt->pts != AV_NOPTS_VALUE) {
		int64_t t = pkt->pts * 1000;
		if (t <= now && now - t < VW_NS_PER_SEC)
			return t;
	}
	return now;
}

/* Copied out of the driver's buffer: libavdevice unmaps its buffers when the device closes even
 * while frames still point into them (an unplug would leave the encoder reading unmapped memory),
 * and a frame held by a slow consumer would keep its buffer from being requeued to the driver.
 * The copies come from a pool (one per open: the size is fixed until the camera is reopened): a
 * fresh allocation per frame is a fresh mapping above malloc's mmap threshold (always, under the
 * sanitizers' allocator), and faulting a whole picture's pages in again costs about as much as
 * copying it. A buffer goes back to the pool when its last consumer lets go of it. */
#define RAW_ALIGN 64 /* as av_frame_get_buffer aligns for the widest SIMD */

static AVBufferPool *raw_pool(const AVCodecParameters *par)
{
	int size = av_image_get_buffer_size(par->format, par->width, par->height, RAW_ALIGN);
	return size > 0 ? av_buffer_pool_init((size_t)size, NULL) : NULL;
}

static AVFrame *copy_raw(AVBufferPool *pool, const AVPacket *pkt, const AVCodecParameters *par)
{
	const uint8_t *src[4];
	int ls[4], need = av_image_get_buffer_size(par->format, par->width, par->height, 1);
	AVFrame *fr;

	if (!pool || need <= 0 || pkt->size < need || !(fr = av_frame_alloc()))
		return NULL;
	fr->format = par->format;
	fr->width = par->width;
	fr->height = par->height;
	fr->buf[0] = av_buffer_pool_get(pool);
	if (!fr->buf[0] ||
	    av_image_fill_arrays(fr->data, fr->linesize, fr->buf[0]->data, par->format, par->width, par->height,
				 RAW_ALIGN) < 0 ||
	    av_image_fill_arrays((uint8_t **)src, ls, pkt->data, par->format, par->width, par->height, 1) < 0) {
		av_frame_free(&fr);
		return NULL;
	}
	av_image_copy(fr->data, fr->linesize, src, ls, par->format, par->width, par->height);
	return fr;
}

/* One open of the camera: frames until it fails or stalls. Until the first frame arrives the
 * placeholder keeps running, so a reopened camera that takes a while to start leaves no hole. */
static void capture_v4l2(struct vw_feed *f, AVFormatContext *ic, AVCodecContext *dec, const char *desc,
			 const char **title, struct vw_backoff *bo, AVPacket *pkt)
{
	char err[VW_PATH_MAX + 128];
	int64_t interval = frame_interval(f), opened = vw_now_ns(), last = opened;
	const AVCodecParameters *par = ic->streams[0]->codecpar;
	AVFrame *dfr = av_frame_alloc();
	AVBufferPool *pool = dec ? NULL : raw_pool(par);
	bool first = true;
	int fd = v4l2_fd(ic, f->device);

	if (fd < 0)
		vw_info(f->log, f->mod, "cannot wait on %s's descriptor: polling it every millisecond", f->device);
	while (dfr) {
		/* until the first frame, placeholders go on on the feed's grid */
		int64_t expect = 0, deadline = last + STALL_NS;
		if (first && f->last_pub_ns) {
			expect = next_slot(f, interval);
			deadline = expect + interval / 2 < opened + STALL_NS ? expect + interval / 2 : opened + STALL_NS;
		}
		int r = read_wait(f, ic, pkt, fd, 0, deadline);
		if (r == AVERROR_EXIT)
			break;
		if (r == AVERROR(EAGAIN) && first && vw_now_ns() < opened + STALL_NS) {
			show_placeholder(f, *title, expect);
			continue;
		}
		if (r == AVERROR(EAGAIN)) {
			snprintf(err, sizeof(err), "camera %s sent no frame for %lld s", f->device,
				 (long long)(STALL_NS / VW_NS_PER_SEC));
			*title = "NO SIGNAL";
			set_absent(f, err);
			break;
		}
		if (r < 0) {
			snprintf(err, sizeof(err), "camera %s failed: %s", f->device, av_err2str(r));
			*title = "NO CAMERA";
			set_absent(f, err);
			break;
		}
		int64_t now = vw_now_ns(), t = capture_time(pkt, now);
		AVFrame *fr = NULL;
		last = now;
		if (!dec) {
			fr = copy_raw(pool, pkt, par);
		} else if (avcodec_send_packet(dec, pkt) >= 0 && avcodec_receive_frame(dec, dfr) >= 0) {
			fr = av_frame_clone(dfr);
			av_frame_unref(dfr);
		}
		av_packet_unref(pkt);
		if (!fr) {
			f->st.decode_errors++; /* a corrupt JPEG from the camera: skip it */
			continue;
		}
		if (first) {
			vw_debug(f->log, f->mod, "first frame %lld ms after the open",
				 (long long)((now - opened) / VW_NS_PER_MS));
			set_live(f, desc); /* live is a picture, not an open that might never deliver one */
			first = false;
		}
		vw_backoff_reset(bo);
		publish_video(f, fr, t, false);
	}
	av_frame_free(&dfr);
	av_buffer_pool_uninit(&pool);
}

static void set_device(struct vw_feed *f, const char *device)
{
	pthread_mutex_lock(&f->lock);
	vw_strlcpy(f->device, device, sizeof(f->device));
	pthread_mutex_unlock(&f->lock);
}

/* `device = auto`: what is plugged in now, chosen as vw_devices_choose says; the choice is logged
 * whenever it differs from the last one. Fills the camera (w, may be NULL) and the microphone
 * (audio, may be NULL). Returns 0, or -ENODEV when there is no camera (the microphone is still
 * chosen), or -ENOMEM. */
static int choose_auto(struct vw_feed *f, struct v4l2_want *w, char *audio, size_t audio_n)
{
	struct vw_devices *list = NULL;
	struct vw_auto_choice *c = calloc(1, sizeof(*c));
	int ret = c ? vw_devices_scan(f->root, &list) : -ENOMEM;

	if (ret < 0)
		goto end;
	ret = vw_devices_choose(list, f->conf.width, f->conf.height, f->conf.fps, c);
	vw_log_gated(f->log, &f->auto_log, vw_log_key(c->why), vw_now_ns(), VW_LOG_INFO, f->mod, "auto: %s", c->why);
	if (ret == 0 && w) {
		vw_strlcpy(w->device, c->video_device, sizeof(w->device));
		w->width = c->width;
		w->height = c->height;
		w->format = c->format;
		snprintf(w->rate, sizeof(w->rate), "%u/%u", c->rate.num, c->rate.den ? c->rate.den : 1);
	}
	if (audio)
		vw_strlcpy(audio, c->audio_device, audio_n);
end:
	vw_devices_free(list);
	free(c);
	return ret;
}

static void auto_watch(struct vw_feed *f, bool video)
{
	char a[VW_PATH_MAX + 32], b[VW_PATH_MAX + 32];
	const char *paths[] = {a, b, NULL};
	const char *root = strcmp(f->root, "/") ? f->root : "";

	if (video) {
		snprintf(a, sizeof(a), "%s/dev/video*", root);
		snprintf(b, sizeof(b), "%s/dev/v4l/by-id/*", root);
	} else {
		snprintf(a, sizeof(a), "%s/dev/snd/pcmC*", root);
		paths[1] = NULL;
	}
	vw_devwatch_open(&f->watch, paths);
}

static void run_v4l2(struct vw_feed *f)
{
	struct vw_backoff bo;
	char err[VW_PATH_MAX + 128], desc[64];
	const char *title = "NO CAMERA";
	const char *watch[] = {f->conf.device, NULL};
	bool automatic = !strcmp(f->conf.device, VW_DEVICE_AUTO);
	AVPacket *pkt = av_packet_alloc();

	if (automatic)
		auto_watch(f, true);
	else
		vw_devwatch_open(&f->watch, watch);
	vw_backoff_init(&bo, RETRY_MIN_NS, RETRY_MAX_NS, 0.2, (uint64_t)(uintptr_t)f);
	while (!stopping(f) && pkt) {
		AVFormatContext *ic = NULL;
		AVCodecContext *dec = NULL;
		struct v4l2_want w = {.width = f->conf.width, .height = f->conf.height, .format = f->conf.format};
		int64_t delay = vw_backoff_next(&bo);
		if (delay)
			absent_until(f, title, vw_now_ns() + delay);
		if (f->woke) { /* the node changed: retry now, and quickly again if udev is not done yet */
			f->woke = false;
			vw_backoff_reset(&bo);
			vw_backoff_next(&bo);
		}
		if (stopping(f))
			break;
		vw_strlcpy(w.device, f->conf.device, sizeof(w.device));
		snprintf(w.rate, sizeof(w.rate), "%d", f->conf.fps);
		int r = automatic ? choose_auto(f, &w, NULL, 0) : 0;
		if (r < 0) {
			title = "NO CAMERA";
			set_device(f, "");
			set_absent(f, r == -ENODEV ? "no camera found (device = auto); waiting for one"
						   : "cannot list the cameras: out of memory");
			continue;
		}
		set_device(f, w.device);
		int64_t t0 = vw_now_ns();
		r = v4l2_open(&w, &ic, &dec, desc, sizeof(desc));
		if (r < 0) {
			snprintf(err, sizeof(err), "cannot open camera %s: %s", w.device, av_err2str(r));
			title = "NO CAMERA";
			set_absent(f, err);
			continue;
		}
		vw_debug(f->log, f->mod, "opened %s in %lld ms", w.device, (long long)((vw_now_ns() - t0) / VW_NS_PER_MS));
		vw_feed_apply_controls(f);
		capture_v4l2(f, ic, dec, desc, &title, &bo, pkt);
		avcodec_free_context(&dec);
		avformat_close_input(&ic);
	}
	av_packet_free(&pkt);
	vw_devwatch_close(&f->watch);
}

/* ---- ALSA microphone ---- */

/* FFmpeg stamps an ALSA packet with the wall-clock time of its first sample, corrected by what is
 * still in the device buffer (snd_pcm_delay); arrival time alone would be wrong whenever a backlog
 * is read out. Moved onto the monotonic clock; arrival minus one packet if implausible. */
static int64_t alsa_capture_time(const AVPacket *pkt, int64_t now, int64_t period)
{
	if (pkt->pts != AV_NOPTS_VALUE) {
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		int64_t t = pkt->pts * 1000 - ((int64_t)wall.tv_sec * VW_NS_PER_SEC + wall.tv_nsec - now);
		if (t <= now && now - t < VW_NS_PER_SEC)
			return t;
	}
	return now - period;
}

static void run_alsa(struct vw_feed *f)
{
	struct vw_backoff bo;
	char err[VW_PATH_MAX + 128], desc[64];
	char device[VW_PATH_MAX];
	bool automatic = !strcmp(f->conf.device, VW_DEVICE_AUTO);
	AVPacket *pkt = av_packet_alloc();

	/* a microphone's PCM name says little about its node, so any capture node change is worth a retry */
	auto_watch(f, false);
	vw_backoff_init(&bo, RETRY_MIN_NS, RETRY_MAX_NS, 0.2, (uint64_t)(uintptr_t)f);
	while (!stopping(f) && pkt) {
		AVFormatContext *ic = avformat_alloc_context();
		AVDictionary *opts = NULL;
		char rate[16], ch[8];
		int64_t delay = vw_backoff_next(&bo);
		if (delay)
			nap_until(f, vw_now_ns() + delay);
		if (f->woke) {
			f->woke = false;
			vw_backoff_reset(&bo);
			vw_backoff_next(&bo);
		}
		if (stopping(f) || !ic) {
			avformat_free_context(ic);
			break;
		}
		vw_strlcpy(device, f->conf.device, sizeof(device));
		if (automatic && choose_auto(f, NULL, device, sizeof(device)) == -ENOMEM) {
			avformat_free_context(ic);
			set_absent(f, "cannot list the microphones: out of memory");
			continue;
		}
		set_device(f, device);
		snprintf(rate, sizeof(rate), "%d", f->conf.rate);
		snprintf(ch, sizeof(ch), "%d", f->conf.channels);
		av_dict_set(&opts, "sample_rate", rate, 0);
		av_dict_set(&opts, "channels", ch, 0);
		ic->flags |= AVFMT_FLAG_NONBLOCK;
		int r = avformat_open_input(&ic, device, av_find_input_format("alsa"), &opts);
		av_dict_free(&opts);
		if (r < 0) {
			snprintf(err, sizeof(err), "cannot open microphone %s: %s", device, av_err2str(r));
			set_absent(f, err);
			continue;
		}
		vw_feed_apply_controls(f);
		const AVCodecParameters *par = ic->streams[0]->codecpar;
		int channels = par->ch_layout.nb_channels, srate = par->sample_rate;
		snprintf(desc, sizeof(desc), "s16 %d Hz %d ch", srate, channels);
		int64_t last = vw_now_ns(), period = 20 * VW_NS_PER_MS;
		bool first = true;
		for (;;) {
			/* xruns are recovered inside libavdevice (snd_pcm_prepare); what reaches here is a
			 * device that is gone or silent, and it is reopened like a camera */
			r = read_wait(f, ic, pkt, -1, last + period, last + STALL_NS);
			if (r == AVERROR_EXIT)
				break;
			if (r < 0) {
				snprintf(err, sizeof(err), "microphone %s %s", f->device,
					 r == AVERROR(EAGAIN) ? "sent no samples for 2 s" : av_err2str(r));
				set_absent(f, err);
				break;
			}
			int n = pkt->size / (2 * channels);
			int64_t now = vw_now_ns();
			if (first) {
				set_live(f, desc);
				first = false;
			}
			period = (int64_t)n * VW_NS_PER_SEC / srate;
			publish_audio(f, (const int16_t *)pkt->data, n, srate, channels, alsa_capture_time(pkt, now, period));
			last = now;
			vw_backoff_reset(&bo);
			av_packet_unref(pkt);
		}
		avformat_close_input(&ic);
	}
	av_packet_free(&pkt);
	vw_devwatch_close(&f->watch);
}

/* ---- media file, paced at real time ---- */

struct file_ctx {
	AVFormatContext *ic;
	AVCodecContext *vdec, *adec;
	int vi, ai;
	SwrContext *swr;
	int out_rate, out_ch;
	int16_t *abuf;
	int abuf_cap;
};

static void file_close(struct file_ctx *c)
{
	avcodec_free_context(&c->vdec);
	avcodec_free_context(&c->adec);
	swr_free(&c->swr);
	av_freep(&c->abuf);
	avformat_close_input(&c->ic);
}

static int open_decoder(AVFormatContext *ic, int idx, AVCodecContext **dec)
{
	const AVCodec *c = avcodec_find_decoder(ic->streams[idx]->codecpar->codec_id);
	int ret;
	if (!c)
		return AVERROR_DECODER_NOT_FOUND;
	*dec = avcodec_alloc_context3(c);
	if (!*dec)
		return AVERROR(ENOMEM);
	avcodec_parameters_to_context(*dec, ic->streams[idx]->codecpar);
	(*dec)->pkt_timebase = ic->streams[idx]->time_base;
	(*dec)->thread_count = 1;
	ret = avcodec_open2(*dec, c, NULL);
	return ret;
}

static int file_open(struct vw_feed *f, struct file_ctx *c, char *desc, size_t n)
{
	int ret;

	memset(c, 0, sizeof(*c));
	c->vi = c->ai = -1;
	ret = avformat_open_input(&c->ic, f->conf.path, NULL, NULL);
	if (ret < 0)
		goto end;
	ret = avformat_find_stream_info(c->ic, NULL);
	if (ret < 0)
		goto end;
	c->vi = av_find_best_stream(c->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	c->ai = av_find_best_stream(c->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	if (c->vi < 0 && c->ai < 0) {
		ret = AVERROR_STREAM_NOT_FOUND;
		goto end;
	}
	if (c->vi >= 0 && (ret = open_decoder(c->ic, c->vi, &c->vdec)) < 0)
		goto end;
	if (c->ai >= 0) {
		if ((ret = open_decoder(c->ic, c->ai, &c->adec)) < 0)
			goto end;
		AVChannelLayout out = AV_CHANNEL_LAYOUT_STEREO;
		c->out_ch = c->adec->ch_layout.nb_channels >= 2 ? 2 : 1;
		if (c->out_ch == 1)
			out = (AVChannelLayout)AV_CHANNEL_LAYOUT_MONO;
		c->out_rate = c->adec->sample_rate;
		ret = swr_alloc_set_opts2(&c->swr, &out, AV_SAMPLE_FMT_S16, c->out_rate, &c->adec->ch_layout,
					  c->adec->sample_fmt, c->adec->sample_rate, 0, NULL);
		if (ret < 0 || (ret = swr_init(c->swr)) < 0)
			goto end;
	}
	snprintf(desc, n, "%s%s%s", c->vdec ? c->vdec->codec->name : "", c->vdec && c->adec ? "+" : "",
		 c->adec ? c->adec->codec->name : "");
	if (c->vdec) {
		f->conf.width = c->vdec->width;
		f->conf.height = c->vdec->height;
		AVRational r = c->ic->streams[c->vi]->avg_frame_rate;
		f->conf.fps = r.num && r.den ? (int)lrint(av_q2d(r)) : 25;
	}
end:
	if (ret < 0)
		file_close(c);
	return ret;
}

static void file_audio(struct vw_feed *f, struct file_ctx *c, const AVFrame *fr, int64_t t)
{
	int max = swr_get_out_samples(c->swr, fr->nb_samples);
	if (max > c->abuf_cap) {
		av_freep(&c->abuf);
		c->abuf = av_malloc((size_t)max * (size_t)c->out_ch * sizeof(int16_t));
		c->abuf_cap = c->abuf ? max : 0;
	}
	if (!c->abuf)
		return;
	uint8_t *out = (uint8_t *)c->abuf;
	int n = swr_convert(c->swr, &out, max, (const uint8_t **)fr->extended_data, fr->nb_samples);
	if (n > 0)
		publish_audio(f, c->abuf, n, c->out_rate, c->out_ch, t);
}

static void run_file(struct vw_feed *f)
{
	struct file_ctx c;
	struct vw_backoff bo;
	char err[VW_PATH_MAX + 128], desc[64];
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();

	vw_backoff_init(&bo, RETRY_MIN_NS, 10 * VW_NS_PER_SEC, 0.2, (uint64_t)(uintptr_t)f);
	while (!stopping(f) && pkt && fr) {
		int64_t delay = vw_backoff_next(&bo);
		if (delay)
			nap_until(f, vw_now_ns() + delay);
		if (stopping(f))
			break;
		int r = file_open(f, &c, desc, sizeof(desc));
		if (r < 0) {
			snprintf(err, sizeof(err), "cannot play %s: %s", f->conf.path, av_err2str(r));
			set_absent(f, err);
			continue;
		}
		set_live(f, desc);
		/* file time -> monotonic time: base + (pts - first) ; a loop moves base by the length played */
		int64_t base = vw_now_ns(), first = AV_NOPTS_VALUE, last_end = 0;
		bool ended = false;
		while (!stopping(f)) {
			r = av_read_frame(c.ic, pkt);
			if (r == AVERROR_EOF || (r < 0 && avio_feof(c.ic->pb))) {
				if (!f->conf.loop) {
					ended = true;
					break;
				}
				base += last_end;
				first = AV_NOPTS_VALUE;
				last_end = 0;
				if (av_seek_frame(c.ic, -1, 0, AVSEEK_FLAG_BACKWARD) < 0)
					break;
				if (c.vdec)
					avcodec_flush_buffers(c.vdec);
				if (c.adec)
					avcodec_flush_buffers(c.adec);
				continue;
			}
			if (r < 0) {
				snprintf(err, sizeof(err), "reading %s failed: %s", f->conf.path, av_err2str(r));
				set_absent(f, err);
				break;
			}
			AVCodecContext *dec = pkt->stream_index == c.vi ? c.vdec : pkt->stream_index == c.ai ? c.adec : NULL;
			AVRational tb = c.ic->streams[pkt->stream_index]->time_base;
			if (dec && avcodec_send_packet(dec, pkt) >= 0) {
				while (avcodec_receive_frame(dec, fr) >= 0) {
					int64_t pts = fr->best_effort_timestamp;
					if (pts == AV_NOPTS_VALUE) {
						av_frame_unref(fr);
						continue;
					}
					int64_t ns = av_rescale_q(pts, tb, (AVRational){1, 1000000000});
					if (first == AV_NOPTS_VALUE)
						first = ns;
					int64_t due = base + ns - first;
					int64_t dur = dec == c.vdec ? VW_NS_PER_SEC / (f->conf.fps ? f->conf.fps : 25)
								    : (int64_t)fr->nb_samples * VW_NS_PER_SEC / fr->sample_rate;
					if (ns - first + dur > last_end)
						last_end = ns - first + dur;
					nap_until(f, due);
					if (dec == c.vdec) {
						AVFrame *out = av_frame_clone(fr);
						if (out)
							publish_video(f, out, due, false);
					} else {
						file_audio(f, &c, fr, due);
					}
					av_frame_unref(fr);
				}
			}
			av_packet_unref(pkt);
		}
		file_close(&c);
		if (ended) {
			pthread_mutex_lock(&f->lock);
			f->st.state = VW_FEED_ENDED;
			pthread_mutex_unlock(&f->lock);
			vw_info(f->log, f->mod, "%s ended", f->conf.path);
			while (!stopping(f))
				absent_until(f, "END OF FILE", vw_now_ns() + VW_NS_PER_SEC);
		}
	}
	av_frame_free(&fr);
	av_packet_free(&pkt);
}

/* ---- built-in test source ---- */

static AVFrame *test_picture(int w, int h, uint64_t n, int64_t wall_s)
{
	AVFrame *fr = new_frame(AV_PIX_FMT_YUV420P, w, h);
	char line[64];

	if (!fr)
		return NULL;
	/* colour bars scrolling sideways, a bright box bouncing: motion everywhere, like a camera */
	static const uint8_t bars[8][3] = {{235, 128, 128}, {210, 16, 146}, {170, 166, 16}, {145, 54, 34},
					   {106, 202, 222}, {81, 90, 240}, {41, 240, 110}, {16, 128, 128}};
	int shift = (int)(n * 4 % (uint64_t)w);
	for (int y = 0; y < h; y++) {
		uint8_t *Y = fr->data[0] + y * fr->linesize[0];
		for (int x = 0; x < w; x++)
			Y[x] = bars[((x + shift) % w) * 8 / w][0];
	}
	for (int y = 0; y < h / 2; y++) {
		uint8_t *U = fr->data[1] + y * fr->linesize[1], *V = fr->data[2] + y * fr->linesize[2];
		for (int x = 0; x < w / 2; x++) {
			int b = ((2 * x + shift) % w) * 8 / w;
			U[x] = bars[b][1];
			V[x] = bars[b][2];
		}
	}
	int box = h / 6, span = w - box, pos = (int)(n * 6 % (uint64_t)(2 * span));
	int bx = pos < span ? pos : 2 * span - pos, by = h / 2 - box / 2;
	for (int y = by; y < by + box; y++)
		memset(fr->data[0] + y * fr->linesize[0] + bx, 235, (size_t)box);
	struct tm tm;
	time_t t = (time_t)wall_s;
	gmtime_r(&t, &tm);
	strftime(line, sizeof(line), "%H:%M:%S", &tm);
	int s = w >= 480 ? 4 : 2;
	vw_font_draw(fr->data[0], fr->linesize[0], w, h, 8 * s, 8 * s, s, 16, "VW TEST");
	vw_font_draw(fr->data[0], fr->linesize[0], w, h, 8 * s, 18 * s, s, 16, line);
	snprintf(line, sizeof(line), "%llu", (unsigned long long)n);
	vw_font_draw(fr->data[0], fr->linesize[0], w, h, 8 * s, h - 16 * s, s, 16, line);
	return fr;
}

static void run_testsrc(struct vw_feed *f)
{
	const int rate = f->conf.rate, ch = f->conf.channels, period = rate / 50; /* 20 ms of audio */
	int16_t *pcm = av_malloc_array((size_t)period * (size_t)ch, sizeof(int16_t));
	int64_t t0 = vw_now_ns(), vnext = t0, anext = t0;
	uint64_t frames = 0, samples = 0;
	char desc[64];

	snprintf(desc, sizeof(desc), "testsrc %dx%d@%d + %d Hz tone", f->conf.width, f->conf.height, f->conf.fps, rate);
	set_live(f, desc);
	while (!stopping(f) && pcm) {
		if (vnext <= anext) {
			nap_until(f, vnext);
			AVFrame *fr = test_picture(f->conf.width, f->conf.height, frames, wall_seconds());
			if (fr)
				publish_video(f, fr, vnext, false);
			frames++;
			vnext = t0 + av_rescale_rnd((int64_t)frames, VW_NS_PER_SEC, f->conf.fps, AV_ROUND_ZERO);
		} else {
			nap_until(f, anext + 20 * VW_NS_PER_MS); /* the period is complete 20 ms after it began */
			for (int i = 0; i < period; i++) {
				double v = 0.2 * sin(2.0 * M_PI * 440.0 * (double)(samples + (uint64_t)i) / rate);
				for (int c = 0; c < ch; c++)
					pcm[i * ch + c] = (int16_t)(v * 32767);
			}
			publish_audio(f, pcm, period, rate, ch, anext);
			samples += (uint64_t)period;
			anext = t0 + av_rescale_rnd((int64_t)samples, VW_NS_PER_SEC, rate, AV_ROUND_ZERO);
		}
	}
	av_free(pcm);
}

/* ---- lifecycle ---- */

static void *feed_main(void *arg)
{
	struct vw_feed *f = arg;

	switch (f->conf.type) {
	case VW_FEED_V4L2:
		run_v4l2(f);
		break;
	case VW_FEED_ALSA:
		run_alsa(f);
		break;
	case VW_FEED_FILE:
		run_file(f);
		break;
	case VW_FEED_TESTSRC:
		run_testsrc(f);
		break;
	case VW_FEED_INGEST: /* vw_ingest's, never started here (vw_feed_start refuses) */
		break;
	}
	return NULL;
}

int vw_feed_start(struct vw_feed *f, const struct vw_feed_conf *conf, const char *root, struct vw_log *log)
{
	int ret;

	if (conf->type == VW_FEED_INGEST)
		return -EINVAL; /* an encoder's MPEG-TS: vw_ingest owns it */
	memset(f, 0, sizeof(*f));
	f->conf = *conf;
	f->log = log;
	f->watch.fd = -1;
	vw_rate_init(&f->fps, VW_NS_PER_SEC);
	/* discovery's root: "/" but in tests, which point it at a fake sysfs and /dev */
	vw_strlcpy(f->root, root && *root ? root : "/", sizeof(f->root));
	if (strcmp(conf->device, VW_DEVICE_AUTO) != 0)
		vw_strlcpy(f->device, conf->device, sizeof(f->device));
	snprintf(f->mod, sizeof(f->mod), "feed %s", conf->name);
	ret = -pthread_mutex_init(&f->lock, NULL);
	if (ret < 0)
		return ret;
	atomic_init(&f->stop, false);
	ret = -pthread_create(&f->thread, NULL, feed_main, f);
	if (ret < 0) {
		pthread_mutex_destroy(&f->lock);
		return ret;
	}
	vw_thread_name(f->thread, "feed", conf->name);
	f->running = true;
	return 0;
}

void vw_feed_stop(struct vw_feed *f)
{
	if (!f->running)
		return;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	f->running = false;
	av_frame_free(&f->slot);
	pthread_mutex_destroy(&f->lock);
}

void vw_feed_listen(struct vw_feed *f, struct vw_feed_listener *l)
{
	pthread_mutex_lock(&f->lock);
	l->next = f->listeners;
	f->listeners = l;
	pthread_mutex_unlock(&f->lock);
}

void vw_feed_unlisten(struct vw_feed *f, struct vw_feed_listener *l)
{
	pthread_mutex_lock(&f->lock);
	for (struct vw_feed_listener **p = &f->listeners; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	pthread_mutex_unlock(&f->lock);
}

AVFrame *vw_feed_take_frame(struct vw_feed *f, uint64_t *seq, int64_t *t_ns, bool *placeholder)
{
	AVFrame *fr = NULL;

	pthread_mutex_lock(&f->lock);
	if (f->slot && f->slot_seq != *seq) {
		fr = av_frame_clone(f->slot);
		*seq = f->slot_seq;
		*t_ns = f->slot_ns;
		*placeholder = f->slot_placeholder;
	}
	pthread_mutex_unlock(&f->lock);
	return fr;
}

void vw_feed_get_stats(struct vw_feed *f, struct vw_feed_stats *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->st;
	vw_strlcpy(st->device, f->device, sizeof(st->device));
	pthread_mutex_unlock(&f->lock);
}
