/* Tests of the fake V4L2 camera: FFmpeg's v4l2 input (in-process and the ffmpeg command line) and
 * the raw V4L2 API see a camera that paces, drops, unplugs and stalls like a real one. Runs with
 * libvwfakecam.so preloaded (see tests/CMakeLists.txt). */
#include "vw_fakecam.h"
#include "vw_test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>

#define DEV "/dev/video-vwtest"
#define MJPEG_FILE VW_TEST_MEDIA("camera-640x480-25fps.mjpeg")

static char *tmp;
static char unplug_path[512], stall_path[512], log_path[512];

/* Every test starts from the same camera: 640x480 YUYV at 25 fps, realtime, MJPEG offered. */
static void reset_env(void)
{
	setenv("VWFAKECAM_DEVICE", DEV, 1);
	setenv("VWFAKECAM_MJPEG", MJPEG_FILE, 1);
	unsetenv("VWFAKECAM_SIZES");
	unsetenv("VWFAKECAM_FPS");
	unsetenv("VWFAKECAM_PACE");
	unsetenv("VWFAKECAM_BUFFERS");
	setenv("VWFAKECAM_UNPLUG", unplug_path, 1);
	setenv("VWFAKECAM_STALL", stall_path, 1);
	setenv("VWFAKECAM_LOG", log_path, 1);
	unlink(unplug_path);
	unlink(stall_path);
}

static void touch(const char *path)
{
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(path, "", 0), 0);
}

static AVFormatContext *open_cam(const char *size, const char *input_format, int *err)
{
	AVFormatContext *ctx = NULL;
	AVDictionary *opts = NULL;
	const AVInputFormat *fmt = av_find_input_format("v4l2");

	av_dict_set(&opts, "framerate", "25", 0);
	if (size)
		av_dict_set(&opts, "video_size", size, 0);
	if (input_format)
		av_dict_set(&opts, "input_format", input_format, 0);
	*err = avformat_open_input(&ctx, DEV, fmt, &opts);
	av_dict_free(&opts);
	return *err < 0 ? NULL : ctx;
}

/* The luma of the barcode rows of a YUYV picture, then the barcode. */
static int yuyv_seq(const uint8_t *yuyv, int width, uint32_t *seq)
{
	uint8_t luma[16 * 4096];
	if (width > 4096)
		return -1;
	for (int y = 0; y < VW_FAKECAM_BAR_ROWS; y++)
		for (int x = 0; x < width; x++)
			luma[y * width + x] = yuyv[(y * width + x) * 2];
	return vw_fakecam_barcode_read(luma, width, width, seq);
}

/* Reads the capture-time origin the camera logged for `seq`: the formula of vw_fakecam.h. */
static int capture_time(uint32_t seq, int64_t *t_ns)
{
	FILE *f = fopen(log_path, "r");
	char line[512];
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned s0, num, den;
		long long t0;
		int pid;
		const char *p = strstr(line, "streamon ");
		if (!p || sscanf(p, "streamon pid=%d", &pid) != 1 || pid != getpid())
			continue;
		if (sscanf(strstr(p, "seq0="), "seq0=%u t0_ns=%lld tpf=%u/%u", &s0, &t0, &num, &den) == 4 && s0 <= seq) {
			*t_ns = t0 + av_rescale_rnd((int64_t)(seq - s0), 1000000000LL * num, den, AV_ROUND_ZERO);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* 3 s of real-time capture through libavdevice: 75 +- 1 frames, contiguous barcodes, pts on the
 * 40 ms grid, and each frame's timestamp equal to the logged capture time. */
static void test_realtime_capture(void)
{
	int err;
	AVFormatContext *ctx = open_cam("640x480", NULL, &err);
	AVPacket *pkt = av_packet_alloc();
	uint32_t first = 0, prev = 0;
	int frames = 0, bad = 0, gaps = 0, pts_bad = 0, ts_bad = 0;
	int64_t start = 0, prev_pts = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_EQUAL(ctx->streams[0]->codecpar->codec_id, AV_CODEC_ID_RAWVIDEO);
	CU_ASSERT_EQUAL(ctx->streams[0]->codecpar->format, AV_PIX_FMT_YUYV422);
	CU_ASSERT_EQUAL(ctx->streams[0]->codecpar->width, 640);
	CU_ASSERT_EQUAL(ctx->streams[0]->avg_frame_rate.num, 25);
	/* Count the frames whose capture time falls in [start, start + 3 s). */
	for (int64_t deadline = vw_test_now_ns() + 5000000000LL; vw_test_now_ns() < deadline;) {
		uint32_t seq;
		int64_t cap;
		if (av_read_frame(ctx, pkt) < 0)
			break;
		if (frames > 0 && pkt->pts - start >= 3000000) {
			av_packet_unref(pkt);
			break;
		}
		if (yuyv_seq(pkt->data, 640, &seq) < 0) {
			bad++;
		} else {
			if (capture_time(seq, &cap) < 0 || llabs(cap / 1000 - pkt->pts) > 1)
				ts_bad++;
			if (frames == 0) {
				first = seq;
				start = pkt->pts;
			} else {
				gaps += seq != prev + 1;
				pts_bad += pkt->pts - prev_pts != 40000;
			}
			prev = seq;
			prev_pts = pkt->pts;
		}
		frames++;
		av_packet_unref(pkt);
	}
	printf("\n    frames=%d first_seq=%u last_seq=%u unreadable=%d gaps=%d pts_off_grid=%d ts_mismatch=%d\n", frames,
	       first, prev, bad, gaps, pts_bad, ts_bad);
	CU_ASSERT(frames >= 74 && frames <= 76);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(gaps, 0);
	CU_ASSERT_EQUAL(pts_bad, 0);
	CU_ASSERT_EQUAL(ts_bad, 0);
	av_packet_free(&pkt);
	avformat_close_input(&ctx);
}

/* The wall-clock side of the same claim: 3 s of reading yields 75 +- 1 frames. */
static void test_pace_wall_clock(void)
{
	int err;
	AVFormatContext *ctx = open_cam("320x240", NULL, &err);
	AVPacket *pkt = av_packet_alloc();
	int frames = 0;
	uint32_t seq = 0, prev = 0;
	int gaps = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_EQUAL(ctx->streams[0]->codecpar->width, 320);
	CU_ASSERT_EQUAL_FATAL(av_read_frame(ctx, pkt), 0); /* the clock starts at the first frame */
	CU_ASSERT_EQUAL(yuyv_seq(pkt->data, 320, &prev), 0);
	av_packet_unref(pkt);
	int64_t t0 = vw_test_now_ns();
	while (vw_test_now_ns() - t0 < 3000000000LL - 20000000LL) {
		if (av_read_frame(ctx, pkt) < 0)
			break;
		CU_ASSERT_EQUAL(yuyv_seq(pkt->data, 320, &seq), 0);
		gaps += seq != prev + 1;
		prev = seq;
		av_packet_unref(pkt);
		frames++;
	}
	double secs = (double)(vw_test_now_ns() - t0) / 1e9;
	printf("\n    %d frames in %.3f s at 320x240 (barcode bit width %d), gaps=%d\n", frames, secs,
	       VW_FAKECAM_BAR_BIT_WIDTH(320), gaps);
	CU_ASSERT(frames >= 74 && frames <= 76);
	CU_ASSERT_EQUAL(gaps, 0);
	av_packet_free(&pkt);
	avformat_close_input(&ctx);
}

static int mjpeg_frames(uint8_t **data, size_t *len, size_t *off, size_t *size, size_t max)
{
	size_t n = 0;
	if (vw_test_read_file(MJPEG_FILE, data, len) < 0)
		return -1;
	for (size_t i = 0; i + 1 < *len && n < max; i++) {
		if ((*data)[i] == 0xFF && (*data)[i + 1] == 0xD8) {
			if (n)
				size[n - 1] = i - off[n - 1];
			off[n++] = i;
		}
	}
	if (n)
		size[n - 1] = *len - off[n - 1];
	return (int)n;
}

/* MJPEG mode hands out the file's JPEG frames untouched and in order. */
static void test_mjpeg_passthrough(void)
{
	static size_t off[1024], size[1024];
	uint8_t *file = NULL;
	size_t len = 0;
	int n = mjpeg_frames(&file, &len, off, size, 1024);
	int err, matched = 0, in_order = 0;
	long idx = -1;
	AVFormatContext *ctx;
	AVPacket *pkt = av_packet_alloc();

	CU_ASSERT_EQUAL_FATAL(n, 250);
	ctx = open_cam("640x480", "mjpeg", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_EQUAL(ctx->streams[0]->codecpar->codec_id, AV_CODEC_ID_MJPEG);
	for (int i = 0; i < 40 && av_read_frame(ctx, pkt) == 0; i++) {
		long found = -1;
		for (int k = 0; k < n && found < 0; k++)
			if ((size_t)pkt->size == size[k] && memcmp(pkt->data, file + off[k], size[k]) == 0)
				found = k;
		matched += found >= 0;
		in_order += idx >= 0 && found == (idx + 1) % n;
		idx = found;
		av_packet_unref(pkt);
	}
	printf("\n    40 packets: %d byte-identical to a file frame, %d in file order\n", matched, in_order);
	CU_ASSERT_EQUAL(matched, 40);
	CU_ASSERT_EQUAL(in_order, 39);
	av_packet_free(&pkt);
	avformat_close_input(&ctx);
	free(file);
}

/* The ffmpeg command line, preloaded with the fake camera alone, records 3 s from it. */
static void test_ffmpeg_cli(void)
{
	char out[600], log[600], preload[600];
	uint8_t *data = NULL;
	size_t len = 0;
	const size_t frame = 640 * 480 * 2;
	snprintf(out, sizeof(out), "%s/cli.yuv", tmp);
	snprintf(log, sizeof(log), "%s/cli.log", tmp);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", VW_FAKECAM_LIB);
	const char *argv[] = {"ffmpeg", "-hide_banner", "-nostdin", "-y", "-f", "v4l2", "-framerate", "25", "-video_size",
			      "640x480", "-i", DEV, "-t", "3", "-c:v", "rawvideo", "-f", "rawvideo", out, NULL};
	const char *env[] = {preload, "ASAN_OPTIONS=detect_leaks=0", NULL};

	int rc = vw_test_run(argv, env, log, 20000);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(out, &data, &len), 0);
	size_t frames = len / frame;
	int gaps = 0, bad = 0;
	uint32_t prev = 0, seq;
	for (size_t i = 0; i < frames; i++) {
		if (yuyv_seq(data + i * frame, 640, &seq) < 0) {
			bad++;
			continue;
		}
		gaps += i > 0 && seq != prev + 1;
		prev = seq;
	}
	printf("\n    ffmpeg wrote %zu frames (%zu bytes), unreadable=%d gaps=%d\n", frames, len, bad, gaps);
	CU_ASSERT_EQUAL(len % frame, 0);
	CU_ASSERT(frames >= 74 && frames <= 76);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(gaps, 0);
	free(data);
}

/* Unplug: reads fail with ENODEV and opening fails with ENOENT; replug: it opens and streams. */
static void test_unplug_replug(void)
{
	int err;
	AVFormatContext *ctx = open_cam("640x480", NULL, &err);
	AVPacket *pkt = av_packet_alloc();

	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	CU_ASSERT_EQUAL(av_read_frame(ctx, pkt), 0);
	av_packet_unref(pkt);
	touch(unplug_path);
	int64_t t = vw_test_now_ns();
	err = av_read_frame(ctx, pkt);
	printf("\n    read after unplug: %s after %.1f ms\n", av_err2str(err), (double)(vw_test_now_ns() - t) / 1e6);
	CU_ASSERT_EQUAL(err, AVERROR(ENODEV));
	avformat_close_input(&ctx);

	ctx = open_cam("640x480", NULL, &err);
	CU_ASSERT_PTR_NULL(ctx);
	CU_ASSERT_EQUAL(err, AVERROR(ENOENT));
	CU_ASSERT_EQUAL(open(DEV, O_RDWR), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);

	unlink(unplug_path);
	ctx = open_cam("640x480", NULL, &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx);
	for (int i = 0; i < 5; i++) {
		uint32_t seq;
		CU_ASSERT_EQUAL(av_read_frame(ctx, pkt), 0);
		CU_ASSERT_EQUAL(yuyv_seq(pkt->data, 640, &seq), 0);
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	avformat_close_input(&ctx);
}

/* Raw V4L2 helpers for the tests that need the device's own view. */
struct raw {
	int fd;
	int n;
	void *mem[8];
	size_t len[8];
};

static int raw_open(struct raw *r, int nbuf, int flags)
{
	struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_requestbuffers req = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;

	memset(r, 0, sizeof(*r));
	r->fd = open(DEV, O_RDWR | flags);
	if (r->fd < 0)
		return -errno;
	f.fmt.pix.width = 640;
	f.fmt.pix.height = 480;
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUYV;
	if (ioctl(r->fd, VIDIOC_S_FMT, &f) < 0)
		return -errno;
	req.count = (unsigned)nbuf;
	if (ioctl(r->fd, VIDIOC_REQBUFS, &req) < 0)
		return -errno;
	r->n = (int)req.count;
	for (int i = 0; i < r->n; i++) {
		struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = (unsigned)i};
		if (ioctl(r->fd, VIDIOC_QUERYBUF, &b) < 0)
			return -errno;
		r->len[i] = b.length;
		r->mem[i] = mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, b.m.offset);
		if (r->mem[i] == MAP_FAILED)
			return -errno;
		if (ioctl(r->fd, VIDIOC_QBUF, &b) < 0)
			return -errno;
	}
	if (ioctl(r->fd, VIDIOC_STREAMON, &type) < 0)
		return -errno;
	return 0;
}

static void raw_close(struct raw *r)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	ioctl(r->fd, VIDIOC_STREAMOFF, &type);
	for (int i = 0; i < r->n; i++)
		if (r->mem[i] && r->mem[i] != MAP_FAILED)
			munmap(r->mem[i], r->len[i]);
	close(r->fd);
}

static int raw_dq(struct raw *r, struct v4l2_buffer *b)
{
	memset(b, 0, sizeof(*b));
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = V4L2_MEMORY_MMAP;
	return ioctl(r->fd, VIDIOC_DQBUF, b) < 0 ? -errno : 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* O_NONBLOCK: EAGAIN until a frame is due, poll() wakes on the frame grid, and a frame arrives
 * within a millisecond or two of its logged capture time (the median: on a loaded machine the
 * scheduler may still hold one wake-up back, but never by a whole frame). */
static void test_nonblock_poll(void)
{
	struct raw r;
	struct v4l2_buffer b;
	int frames = 0, eagain = 0;
	int64_t worst = 0, lat[20];

	CU_ASSERT_EQUAL_FATAL(raw_open(&r, 4, O_NONBLOCK), 0);
	CU_ASSERT_EQUAL(r.n, 4);
	for (int64_t deadline = vw_test_now_ns() + 1000000000LL; vw_test_now_ns() < deadline && frames < 20;) {
		struct pollfd p = {.fd = r.fd, .events = POLLIN};
		CU_ASSERT_EQUAL(poll(&p, 1, 200), 1);
		int e = raw_dq(&r, &b);
		if (e == -EAGAIN) {
			eagain++;
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(e, 0);
		int64_t now = vw_test_now_ns(), cap;
		uint32_t seq;
		CU_ASSERT_EQUAL(yuyv_seq(r.mem[b.index], 640, &seq), 0);
		CU_ASSERT_EQUAL(seq, b.sequence);
		CU_ASSERT_EQUAL(b.bytesused, 640u * 480 * 2);
		CU_ASSERT(b.flags & V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC);
		CU_ASSERT_EQUAL_FATAL(capture_time(seq, &cap), 0);
		CU_ASSERT_EQUAL(cap / 1000, (int64_t)b.timestamp.tv_sec * 1000000 + b.timestamp.tv_usec);
		if (now - cap > worst)
			worst = now - cap;
		lat[frames] = now - cap;
		CU_ASSERT_EQUAL(ioctl(r.fd, VIDIOC_QBUF, &b), 0);
		frames++;
		struct v4l2_buffer none;
		CU_ASSERT_EQUAL(raw_dq(&r, &none), -EAGAIN); /* the next frame is not due yet */
	}
	qsort(lat, (size_t)frames, sizeof(lat[0]), cmp_i64);
	int64_t median = frames ? lat[frames / 2] : 0;
	printf("\n    %d frames by poll, %d spurious wakeups, capture-to-dequeue median %.2f ms, worst %.2f ms\n", frames,
	       eagain, (double)median / 1e6, (double)worst / 1e6);
	CU_ASSERT_EQUAL(frames, 20);
	CU_ASSERT(median < 5000000);
	CU_ASSERT(worst < 40000000); /* one frame interval */
	raw_close(&r);
}

/* No buffer queued at a tick: that frame is lost and the sequence number skips, as on hardware.
 * Buffers queued before the tick are filled in order with the oldest frames. */
static void test_drop_when_no_buffer(void)
{
	struct raw r;
	struct v4l2_buffer b1, b2, b3;

	CU_ASSERT_EQUAL_FATAL(raw_open(&r, 2, 0), 0);
	vw_test_sleep_ms(400); /* ~10 ticks, only 2 buffers */
	CU_ASSERT_EQUAL_FATAL(raw_dq(&r, &b1), 0);
	CU_ASSERT_EQUAL_FATAL(raw_dq(&r, &b2), 0);
	CU_ASSERT_EQUAL(b2.sequence, b1.sequence + 1);
	CU_ASSERT_EQUAL(ioctl(r.fd, VIDIOC_QBUF, &b1), 0);
	CU_ASSERT_EQUAL_FATAL(raw_dq(&r, &b3), 0); /* blocking: waits for the next tick */
	printf("\n    sequences %u %u then %u (%u frames dropped)\n", b1.sequence, b2.sequence, b3.sequence,
	       b3.sequence - b2.sequence - 1);
	CU_ASSERT(b3.sequence - b2.sequence - 1 >= 7);
	uint32_t seq;
	CU_ASSERT_EQUAL(yuyv_seq(r.mem[b3.index], 640, &seq), 0);
	CU_ASSERT_EQUAL(seq, b3.sequence);
	raw_close(&r);
}

/* A stalled camera is open and streaming but sends nothing; frames return when the stall ends. */
static void test_stall(void)
{
	struct raw r;
	struct v4l2_buffer b;
	struct pollfd p;

	CU_ASSERT_EQUAL_FATAL(raw_open(&r, 4, O_NONBLOCK), 0);
	p = (struct pollfd){.fd = r.fd, .events = POLLIN};
	CU_ASSERT_EQUAL(poll(&p, 1, 200), 1);
	touch(stall_path);
	while (raw_dq(&r, &b) == 0)
		ioctl(r.fd, VIDIOC_QBUF, &b);
	int got = 0;
	for (int64_t end = vw_test_now_ns() + 300000000LL; vw_test_now_ns() < end;) {
		poll(&p, 1, 50);
		if (raw_dq(&r, &b) == 0) {
			got++;
			ioctl(r.fd, VIDIOC_QBUF, &b);
		}
	}
	CU_ASSERT_EQUAL(got, 0);
	unlink(stall_path);
	int64_t t = vw_test_now_ns();
	int e = -EAGAIN;
	while (e == -EAGAIN && vw_test_now_ns() - t < 500000000LL) {
		poll(&p, 1, 100);
		e = raw_dq(&r, &b);
	}
	printf("\n    frames during a 300 ms stall: %d; first frame %.1f ms after it ended\n", got,
	       (double)(vw_test_now_ns() - t) / 1e6);
	CU_ASSERT_EQUAL(e, 0);
	raw_close(&r);
}

/* Formats, sizes and rates are enumerated and negotiated like a UVC camera does. */
static void test_formats(void)
{
	int fd = open(DEV, O_RDWR);
	struct v4l2_fmtdesc fd0 = {.index = 0, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_fmtdesc fd1 = {.index = 1, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_fmtdesc fd2 = {.index = 2, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_frmsizeenum fs = {.pixel_format = V4L2_PIX_FMT_YUYV};
	struct v4l2_frmivalenum fi = {.pixel_format = V4L2_PIX_FMT_MJPEG, .width = 640, .height = 480};
	struct v4l2_format f = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct v4l2_capability cap;
	struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	int sizes = 0, rates = 0;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_QUERYCAP, &cap), 0);
	CU_ASSERT(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE);
	CU_ASSERT(cap.device_caps & V4L2_CAP_STREAMING);
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_ENUM_FMT, &fd0), 0);
	CU_ASSERT_EQUAL(fd0.pixelformat, V4L2_PIX_FMT_YUYV);
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_ENUM_FMT, &fd1), 0);
	CU_ASSERT_EQUAL(fd1.pixelformat, V4L2_PIX_FMT_MJPEG);
	CU_ASSERT(fd1.flags & V4L2_FMT_FLAG_COMPRESSED);
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_ENUM_FMT, &fd2), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	while (ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) == 0 && sizes < 32) {
		CU_ASSERT_EQUAL(fs.type, V4L2_FRMSIZE_TYPE_DISCRETE);
		fs.index = (unsigned)++sizes;
	}
	CU_ASSERT_EQUAL(sizes, 3);
	while (ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) == 0 && rates < 32)
		fi.index = (unsigned)++rates;
	CU_ASSERT_EQUAL(rates, 5);

	/* an unsupported format is replaced, an odd size snaps to the nearest offered one */
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_YUV420;
	f.fmt.pix.width = 1200;
	f.fmt.pix.height = 700;
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_FMT, &f), 0);
	CU_ASSERT_EQUAL(f.fmt.pix.pixelformat, V4L2_PIX_FMT_YUYV);
	CU_ASSERT_EQUAL(f.fmt.pix.width, 1280);
	CU_ASSERT_EQUAL(f.fmt.pix.height, 720);
	CU_ASSERT_EQUAL(f.fmt.pix.sizeimage, 1280u * 720 * 2);
	f.fmt.pix.pixelformat = V4L2_PIX_FMT_MJPEG;
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_TRY_FMT, &f), 0);
	CU_ASSERT_EQUAL(f.fmt.pix.width, 640); /* MJPEG comes at the file's size only */
	memset(&f.fmt, 0, sizeof(f.fmt));
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_G_FMT, &f), 0);
	CU_ASSERT_EQUAL(f.fmt.pix.width, 1280); /* TRY_FMT changed nothing */

	parm.parm.capture.timeperframe = (struct v4l2_fract){1, 29};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_PARM, &parm), 0);
	CU_ASSERT(parm.parm.capture.capability & V4L2_CAP_TIMEPERFRAME);
	CU_ASSERT_EQUAL(parm.parm.capture.timeperframe.denominator, 30);

	v4l2_std_id std;
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_G_STD, &std), -1);
	CU_ASSERT_EQUAL(errno, ENOTTY); /* a webcam has no TV standard */
	CU_ASSERT_EQUAL(ioctl(fd, 0x7fff0001, NULL), -1);
	CU_ASSERT_EQUAL(errno, ENOTTY);
	close(fd);
}

/* Controls are listed, read, set and clamped like the V4L2 core does; bad ids and menu entries are
 * refused. Values stay put across a reopen. */
static void test_controls(void)
{
	int fd = open(DEV, O_RDWR);
	struct v4l2_queryctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
	struct v4l2_control c;
	int n = 0;

	CU_ASSERT_FATAL(fd >= 0);
	while (ioctl(fd, VIDIOC_QUERYCTRL, &q) == 0 && n < 32) {
		n++;
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	CU_ASSERT_EQUAL(n, 7);
	q = (struct v4l2_queryctrl){.id = V4L2_CID_BRIGHTNESS};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_QUERYCTRL, &q), 0);
	CU_ASSERT_STRING_EQUAL((char *)q.name, "Brightness");
	CU_ASSERT_EQUAL(q.maximum, 255);

	c = (struct v4l2_control){.id = V4L2_CID_BRIGHTNESS, .value = 200};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_CTRL, &c), 0);
	c.value = 0;
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_G_CTRL, &c), 0);
	CU_ASSERT_EQUAL(c.value, 200);
	c = (struct v4l2_control){.id = V4L2_CID_CONTRAST, .value = 999};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_CTRL, &c), 0);
	CU_ASSERT_EQUAL(c.value, 255);
	c = (struct v4l2_control){.id = V4L2_CID_EXPOSURE_AUTO, .value = 2}; /* not offered by the menu */
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_CTRL, &c), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	c = (struct v4l2_control){.id = V4L2_CID_EXPOSURE_AUTO, .value = 1};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_CTRL, &c), 0);
	c = (struct v4l2_control){.id = V4L2_CID_HUE, .value = 1};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_S_CTRL, &c), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	struct v4l2_querymenu m = {.id = V4L2_CID_POWER_LINE_FREQUENCY, .index = 1};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_QUERYMENU, &m), 0);
	CU_ASSERT_STRING_EQUAL((char *)m.name, "50 Hz");
	close(fd);
}

/* Descriptors that are not the camera are passed through untouched while it streams: a regular
 * file (read, write, mmap, ioctl), a pipe and a socket (FIONREAD goes to the kernel). */
static void test_other_descriptors(void)
{
	struct raw r;
	struct v4l2_buffer b;
	char path[600], buf[64];
	int pfd[2], sv[2], avail = -1;

	CU_ASSERT_EQUAL_FATAL(raw_open(&r, 4, 0), 0);
	snprintf(path, sizeof(path), "%s/plain.txt", tmp);
	int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(f >= 0);
	CU_ASSERT_EQUAL(write(f, "hello camera", 12), 12);
	char *m = mmap(NULL, 12, PROT_READ, MAP_SHARED, f, 0);
	CU_ASSERT_FATAL(m != MAP_FAILED);
	CU_ASSERT_EQUAL(memcmp(m, "hello camera", 12), 0);
	munmap(m, 12);
	CU_ASSERT_EQUAL(ioctl(f, FIONREAD, &avail), 0);
	CU_ASSERT_EQUAL(avail, 0); /* at EOF */
	int f2 = openat(AT_FDCWD, path, O_RDONLY);
	CU_ASSERT_FATAL(f2 >= 0);
	CU_ASSERT_EQUAL(read(f2, buf, sizeof(buf)), 12);
	close(f2);
	CU_ASSERT_EQUAL(open("/nonexistent/vw", O_RDONLY), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);

	CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
	CU_ASSERT_EQUAL(write(pfd[1], "abc", 3), 3);
	CU_ASSERT_EQUAL(ioctl(pfd[0], FIONREAD, &avail), 0);
	CU_ASSERT_EQUAL(avail, 3);
	CU_ASSERT_EQUAL(read(pfd[0], buf, 3), 3);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CU_ASSERT_EQUAL(send(sv[0], "12345", 5, 0), 5);
	CU_ASSERT_EQUAL(ioctl(sv[1], FIONREAD, &avail), 0);
	CU_ASSERT_EQUAL(avail, 5);
	CU_ASSERT_EQUAL(recv(sv[1], buf, sizeof(buf), 0), 5);
	/* The camera ioctls refuse a descriptor that is not the camera, as the kernel does. */
	CU_ASSERT_EQUAL(ioctl(pfd[0], VIDIOC_QUERYCAP, &(struct v4l2_capability){0}), -1);
	CU_ASSERT_EQUAL(errno, ENOTTY);
	close(pfd[0]);
	close(pfd[1]);
	close(sv[0]);
	close(sv[1]);
	close(f);

	CU_ASSERT_EQUAL(raw_dq(&r, &b), 0); /* and the camera still streams */
	raw_close(&r);
}

/* Fast mode: frames as fast as they are dequeued, still numbered contiguously. */
static void test_fast_mode(void)
{
	struct raw r;
	struct v4l2_buffer b;
	uint32_t prev = 0;
	int gaps = 0;

	setenv("VWFAKECAM_PACE", "fast", 1);
	CU_ASSERT_EQUAL_FATAL(raw_open(&r, 4, 0), 0);
	int64_t t = vw_test_now_ns();
	for (int i = 0; i < 200; i++) {
		CU_ASSERT_EQUAL_FATAL(raw_dq(&r, &b), 0);
		gaps += i > 0 && b.sequence != prev + 1;
		prev = b.sequence;
		CU_ASSERT_EQUAL(ioctl(r.fd, VIDIOC_QBUF, &b), 0);
	}
	double secs = (double)(vw_test_now_ns() - t) / 1e9;
	printf("\n    200 frames in %.3f s (%.0f fps)\n", secs, 200 / secs);
	CU_ASSERT(secs < 4.0); /* 8 s at the paced 25 fps */
	CU_ASSERT_EQUAL(gaps, 0);
	raw_close(&r);
}

static void setup_each(void)
{
	reset_env();
}

static void run_with_setup(void (*fn)(void))
{
	setup_each();
	fn();
}
#define WRAP(fn)                                                                                                       \
	static void w_##fn(void) { run_with_setup(fn); }
WRAP(test_realtime_capture)
WRAP(test_pace_wall_clock)
WRAP(test_mjpeg_passthrough)
WRAP(test_ffmpeg_cli)
WRAP(test_unplug_replug)
WRAP(test_nonblock_poll)
WRAP(test_drop_when_no_buffer)
WRAP(test_stall)
WRAP(test_formats)
WRAP(test_controls)
WRAP(test_other_descriptors)
WRAP(test_fast_mode)

static int setup(void)
{
	snprintf(unplug_path, sizeof(unplug_path), "%s/unplugged", tmp);
	snprintf(stall_path, sizeof(stall_path), "%s/stalled", tmp);
	snprintf(log_path, sizeof(log_path), "%s/camera.log", tmp);
	return 0;
}

static const struct vw_test_suite suite = {.dir = &tmp, .av = VW_TEST_AV_ERRORS, .setup = setup};

VW_TEST_SUITE("fakecam", &suite,
	      {"realtime_capture_75_frames", w_test_realtime_capture},
	      {"pace_wall_clock_320x240", w_test_pace_wall_clock},
	      {"mjpeg_passthrough_identical", w_test_mjpeg_passthrough},
	      {"ffmpeg_command_line", w_test_ffmpeg_cli},
	      {"unplug_replug", w_test_unplug_replug},
	      {"nonblock_poll", w_test_nonblock_poll},
	      {"drop_when_no_buffer", w_test_drop_when_no_buffer},
	      {"stall_and_resume", w_test_stall},
	      {"formats_negotiation", w_test_formats},
	      {"controls", w_test_controls},
	      {"other_descriptors_untouched", w_test_other_descriptors},
	      {"fast_mode", w_test_fast_mode})
