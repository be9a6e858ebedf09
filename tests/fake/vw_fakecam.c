/* vw_fakecam: a V4L2 capture device in an LD_PRELOAD library, so libavdevice's real v4l2 code
 * runs on machines without a camera or kernel modules. Owns the interposed libc entry points
 * (open family, close, ioctl, mmap), the per-descriptor device state and the frame generator.
 * The contract (environment, barcode, capture-time formula) is in vw_fakecam.h.
 *
 * The descriptor handed to the application is a real timerfd that fires on the frame grid, so
 * poll/select/epoll behave; buffers live in a memfd that mmap maps. Descriptors that are not the
 * camera go straight to libc. Global state is unavoidable here: an interposer has no owner to
 * hand it a context. */
#include "vw_fakecam.h"
#include "vw_fakecam_picture.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/mathematics.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_OPEN 8
#define MAX_BUFFERS 64
#define MAX_SIZES 16
#define MAX_RATES 16
#define NS 1000000000LL

/* ---- the real functions ---- */

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real___open_2)(const char *, int);
static int (*real___open64_2)(const char *, int);
static int (*real___openat_2)(int, const char *, int);
static int (*real___openat64_2)(int, const char *, int);
static int (*real_close)(int);
static int (*real_ioctl)(int, unsigned long, ...);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void *(*real_mmap64)(void *, size_t, int, int, int, off64_t);
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

/* Lazily, because other libraries' constructors call open before ours would run. */
static void resolve(void)
{
#define R(name) *(void **)&real_##name = dlsym(RTLD_NEXT, #name)
	R(open);
	R(open64);
	R(openat);
	R(openat64);
	R(__open_2);
	R(__open64_2);
	R(__openat_2);
	R(__openat64_2);
	R(close);
	R(ioctl);
	R(mmap);
	R(mmap64);
#undef R
}

static void init(void)
{
	pthread_once(&resolve_once, resolve);
}

/* ---- configuration ---- */

struct size {
	uint32_t w, h;
};

struct config {
	char device[256]; /* this camera's path: one item of VWFAKECAM_DEVICE or VWFAKECAM_META */
	char card[32], bus_info[32];
	bool meta; /* a metadata node (uvcvideo's second node): QUERYCAP and nothing else */
	struct size sizes[MAX_SIZES];
	int n_sizes;
	uint32_t rates[MAX_RATES];
	int n_rates;
	bool paced;
	int max_buffers;
	char log[256];
	char unplug[256];
	char stall[256];
	char slow[256];
	char mjpeg[256];
	int index; /* k: which item of VWFAKECAM_DEVICE (or META) this is */
	/* timing knobs (vw_fakecam.h): the real grid (0/0: the claimed rate), readiness, cost */
	uint32_t real_num, real_den; /* time per frame */
	int64_t exposure_ns, jitter_ns, cost_ns;
	bool cost_busy;
};

static void env_str(char *dst, size_t n, const char *name, const char *def)
{
	const char *v = getenv(name);
	snprintf(dst, n, "%s", v && *v ? v : def);
}

static void load_config(struct config *c)
{
	char buf[512], *save = NULL;
	const char *v;

	memset(c, 0, sizeof(*c));
	env_str(c->device, sizeof(c->device), "VWFAKECAM_DEVICE", "/dev/video0");
	env_str(c->log, sizeof(c->log), "VWFAKECAM_LOG", "");
	env_str(c->unplug, sizeof(c->unplug), "VWFAKECAM_UNPLUG", "");
	env_str(c->stall, sizeof(c->stall), "VWFAKECAM_STALL", "");
	env_str(c->slow, sizeof(c->slow), "VWFAKECAM_SLOW", "");

	env_str(buf, sizeof(buf), "VWFAKECAM_SIZES", "640x480,320x240,1280x720");
	for (char *t = strtok_r(buf, ",", &save); t && c->n_sizes < MAX_SIZES; t = strtok_r(NULL, ",", &save)) {
		unsigned w, h;
		if (sscanf(t, "%ux%u", &w, &h) == 2 && w >= 64 && h >= 16 && w <= 4096 && h <= 4096)
			c->sizes[c->n_sizes++] = (struct size){w & ~1u, h};
	}
	if (!c->n_sizes)
		c->sizes[c->n_sizes++] = (struct size){640, 480};

	env_str(buf, sizeof(buf), "VWFAKECAM_FPS", "25,30,15,10,5");
	save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t && c->n_rates < MAX_RATES; t = strtok_r(NULL, ",", &save)) {
		unsigned r = (unsigned)strtoul(t, NULL, 10);
		if (r >= 1 && r <= 240)
			c->rates[c->n_rates++] = r;
	}
	if (!c->n_rates)
		c->rates[c->n_rates++] = 25;

	v = getenv("VWFAKECAM_PACE");
	c->paced = !(v && strcmp(v, "fast") == 0);
	v = getenv("VWFAKECAM_BUFFERS");
	c->max_buffers = v ? atoi(v) : 32;
	if (c->max_buffers < 2)
		c->max_buffers = 2;
	if (c->max_buffers > MAX_BUFFERS)
		c->max_buffers = MAX_BUFFERS;
}

static bool exists(const char *path)
{
	return *path && access(path, F_OK) == 0;
}

static bool list_item(const char *list, int k, char *out, size_t n);

/* Item k of the comma-separated environment variable `name`, or its last item when the list is
 * shorter; "" when it is unset. */
static void env_item(char *dst, size_t n, const char *name, int k)
{
	const char *v = getenv(name);
	*dst = 0;
	if (!v || !*v)
		return;
	for (; k >= 0; k--)
		if (list_item(v, k, dst, n))
			return;
}

static uint32_t gcd32(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* The knobs that differ per camera; called once the camera's index is known. */
static void load_camera_knobs(struct config *c)
{
	char v[256];
	double d;

	env_item(c->mjpeg, sizeof(c->mjpeg), "VWFAKECAM_MJPEG", c->index);
	env_item(v, sizeof(v), "VWFAKECAM_REAL_FPS", c->index);
	unsigned a, b;
	if (sscanf(v, "%u/%u", &a, &b) == 2 && a && b && (double)a / b >= 0.5 && (double)a / b <= 240) {
		c->real_num = b;
		c->real_den = a;
	} else if (sscanf(v, "%lf", &d) == 1 && d >= 0.5 && d <= 240) {
		c->real_num = 1000;
		c->real_den = (uint32_t)(d * 1000 + 0.5);
	}
	if (c->real_num) {
		uint32_t g = gcd32(c->real_num, c->real_den);
		c->real_num /= g;
		c->real_den /= g;
	}
	env_item(v, sizeof(v), "VWFAKECAM_EXPOSURE_MS", c->index);
	if (sscanf(v, "%lf", &d) == 1 && d > 0 && d <= 100)
		c->exposure_ns = (int64_t)(d * 1e6);
	env_item(v, sizeof(v), "VWFAKECAM_JITTER_MS", c->index);
	if (sscanf(v, "%lf", &d) == 1 && d > 0 && d <= 10)
		c->jitter_ns = (int64_t)(d * 1e6);
	env_item(v, sizeof(v), "VWFAKECAM_COST_MS", c->index);
	if (sscanf(v, "%lf", &d) == 1 && d > 0 && d <= 1000) {
		c->cost_ns = (int64_t)(d * 1e6);
		c->cost_busy = strstr(v, "busy") != NULL;
	}
}

/* ---- MJPEG source ---- */

struct mjpeg {
	uint8_t *data;
	size_t len;
	size_t *off, *size;
	size_t n, max;
	uint32_t w, h;
};

static void mjpeg_free(struct mjpeg *m)
{
	free(m->data);
	free(m->off);
	free(m->size);
	memset(m, 0, sizeof(*m));
}

/* Length of the JPEG at p (SOI .. EOI), following markers rather than searching for FFD9, and the
 * picture size from its SOF. 0 when it is not a JPEG. */
static size_t jpeg_parse(const uint8_t *p, size_t n, uint32_t *w, uint32_t *h)
{
	size_t i = 2;

	if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
		return 0;
	while (i + 2 <= n) { /* the last frame's EOI may end the file */
		uint8_t m;
		if (p[i] != 0xFF)
			return 0;
		m = p[i + 1];
		if (m == 0xFF) {
			i++;
			continue;
		}
		if (m == 0xD9)
			return i + 2;
		if (m >= 0xD0 && m <= 0xD7) {
			i += 2;
			continue;
		}
		if (i + 4 > n)
			return 0;
		size_t seg = (size_t)p[i + 2] << 8 | p[i + 3];
		if (m >= 0xC0 && m <= 0xC3 && i + 9 <= n) {
			*h = (uint32_t)p[i + 5] << 8 | p[i + 6];
			*w = (uint32_t)p[i + 7] << 8 | p[i + 8];
		}
		i += 2 + seg;
		if (m == 0xDA) { /* entropy-coded data: ends at a marker that is not stuffing or RSTn */
			while (i + 1 < n && !(p[i] == 0xFF && p[i + 1] != 0x00 && !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7)))
				i++;
		}
	}
	return 0;
}

static int mjpeg_load(struct mjpeg *m, const char *path)
{
	int ret = 0;
	FILE *f = fopen(path, "rb");
	long len;
	size_t cap = 0;

	memset(m, 0, sizeof(*m));
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) < 0) {
		ret = -EINVAL;
		goto end;
	}
	m->data = malloc((size_t)len);
	if (!m->data || fread(m->data, 1, (size_t)len, f) != (size_t)len) {
		ret = -EIO;
		goto end;
	}
	m->len = (size_t)len;
	for (size_t pos = 0; pos < m->len;) {
		uint32_t w = 0, h = 0;
		size_t fl = jpeg_parse(m->data + pos, m->len - pos, &w, &h);
		if (!fl)
			break;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 256;
			size_t *o = realloc(m->off, cap * sizeof(*o));
			if (o)
				m->off = o;
			size_t *s = realloc(m->size, cap * sizeof(*s));
			if (s)
				m->size = s;
			if (!o || !s) {
				ret = -ENOMEM;
				goto end;
			}
		}
		if (!m->n) {
			m->w = w;
			m->h = h;
		}
		m->off[m->n] = pos;
		m->size[m->n] = fl;
		if (fl > m->max)
			m->max = fl;
		m->n++;
		pos += fl;
	}
	if (!m->n || !m->w || !m->h)
		ret = -EINVAL;
end:
	fclose(f);
	if (ret < 0)
		mjpeg_free(m);
	return ret;
}

/* ---- device-wide state ---- */

/* Control values belong to the device, as on real hardware: a second descriptor's S_CTRL is what
 * the capturing one sees. Kept while the process lives (like a plugged-in camera); back to the
 * defaults when the device is unplugged. */
#define MAX_DEVS 8

struct cam_dev {
	char path[256]; /* "" : free */
	int32_t brightness, contrast, exposure_auto, exposure_abs, power_line, focus_auto, focus_abs;
};

/* ---- per-descriptor camera state ---- */

enum buf_state { BUF_USER, BUF_QUEUED, BUF_DONE };

struct cam_buf {
	enum buf_state state;
	int64_t qtime_ns;
	uint32_t bytesused, sequence;
	int64_t ts_ns;
};

struct cam {
	int fd;    /* timerfd: what the application holds */
	int memfd; /* buffer memory */
	int refs;  /* users inside an ioctl, plus one for being open */
	bool closed;
	struct config cfg;
	struct mjpeg mj;

	uint32_t pixfmt, width, height, sizeimage;
	uint32_t tpf_num, tpf_den;   /* what S_PARM/G_PARM say */
	uint32_t grid_num, grid_den; /* the real time per frame while streaming */

	int nbuf;
	size_t buflen;
	struct cam_buf bufs[MAX_BUFFERS];
	int queue[MAX_BUFFERS], nqueue; /* QUEUED, in QBUF order */
	int done[MAX_BUFFERS], ndone;   /* DONE, in capture order */

	bool streaming;
	int64_t t0_ns;
	uint64_t next_tick;
	uint32_t seq0;
	bool unplug_logged;

	struct vw_fakecam_picture pic;
	struct cam_dev *dev; /* controls: shared by every descriptor of the device */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cam *cams[MAX_OPEN];
static atomic_int n_cams;
static uint32_t next_seq; /* sequence numbers run on across streams within the process */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static void cam_log(const struct cam *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cam_log(const struct cam *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, fd;

	if (!*c->cfg.log)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* O_APPEND + one write: lines from several processes do not interleave */
	fd = real_open(c->cfg.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* nothing to do: the log is a test aid */
	}
	real_close(fd);
}

static struct cam *cam_get(int fd)
{
	if (fd < 0 || atomic_load(&n_cams) == 0)
		return NULL;
	for (int i = 0; i < MAX_OPEN; i++)
		if (cams[i] && cams[i]->fd == fd && !cams[i]->closed)
			return cams[i];
	return NULL;
}

static void cam_put(struct cam *c)
{
	if (--c->refs > 0)
		return;
	mjpeg_free(&c->mj);
	vw_fakecam_picture_free(&c->pic);
	free(c);
}

static int64_t tick_time(const struct cam *c, uint64_t i)
{
	return c->t0_ns + av_rescale_rnd((int64_t)i, NS * c->grid_num, c->grid_den, AV_ROUND_DOWN);
}

static uint64_t tick_at_or_after(const struct cam *c, int64_t t)
{
	if (t <= c->t0_ns)
		return 0;
	return (uint64_t)av_rescale_rnd(t - c->t0_ns, c->grid_den, NS * c->grid_num, AV_ROUND_UP);
}

static uint64_t tick_at_or_before(const struct cam *c, int64_t t)
{
	if (t <= c->t0_ns)
		return 0;
	return (uint64_t)av_rescale_rnd(t - c->t0_ns, c->grid_den, NS * c->grid_num, AV_ROUND_DOWN);
}

/* When tick i's frame can be dequeued: its timestamp plus exposure and jitter (vw_fakecam.h). */
static int64_t tick_ready(const struct cam *c, uint64_t i)
{
	return vw_fakecam_ready_ns(tick_time(c, i), c->seq0 + (uint32_t)i, c->cfg.exposure_ns, c->cfg.jitter_ns);
}

/* How many ticks are ready at `now` (ticks 0..n-1). Readiness grows with the tick, as the jitter
 * is below half a period. */
static uint64_t ticks_ready(const struct cam *c, int64_t now)
{
	int64_t t = now - c->cfg.exposure_ns + c->cfg.jitter_ns;
	if (t < c->t0_ns)
		return 0;
	uint64_t n = tick_at_or_before(c, t) + 1;
	while (n > 0 && tick_ready(c, n - 1) > now)
		n--;
	return n;
}

/* ---- pictures ---- */

static int make_tile(struct cam *c)
{
	return vw_fakecam_picture_init(&c->pic, c->width, c->height, c->dev->brightness);
}

/* Writes frame `seq` into the memfd at `off` with pwritev: rows come straight from the scrolled
 * tile, so the camera neither copies a frame nor maps the buffers a second time (which would
 * count them twice in the resident size of the process under test). */
static int write_yuyv(struct cam *c, off_t off, uint32_t seq)
{
	size_t stride = (size_t)c->width * 2;
	struct iovec iov[512];
	int n = 0;

	vw_fakecam_picture_frame(&c->pic, seq);
	for (uint32_t y = 0; y < c->height; y++) {
		iov[n].iov_base = (void *)vw_fakecam_picture_row(&c->pic, seq, y);
		iov[n++].iov_len = stride;
		if (n == (int)(sizeof(iov) / sizeof(iov[0])) || y + 1 == c->height) {
			ssize_t want = (ssize_t)(stride * (size_t)n);
			if (pwritev(c->memfd, iov, n, off) != want)
				return -EIO;
			off += want;
			n = 0;
		}
	}
	return 0;
}

/* Captures frame `seq` into buffer `idx`: it is now DONE. */
static int fill(struct cam *c, int idx, uint32_t seq, int64_t ts)
{
	struct cam_buf *b = &c->bufs[idx];
	off_t off = (off_t)(c->buflen * (size_t)idx);

	if (c->pixfmt == V4L2_PIX_FMT_MJPEG) {
		size_t k = seq % c->mj.n;
		if (pwrite(c->memfd, c->mj.data + c->mj.off[k], c->mj.size[k], off) != (ssize_t)c->mj.size[k])
			return -EIO;
		b->bytesused = (uint32_t)c->mj.size[k];
	} else {
		int ret = write_yuyv(c, off, seq);
		if (ret < 0)
			return ret;
		b->bytesused = c->sizeimage;
	}
	b->state = BUF_DONE;
	b->sequence = seq;
	b->ts_ns = ts;
	c->done[c->ndone++] = idx;
	return 0;
}

/* Plays the frame grid up to `now`: each tick fills the oldest buffer queued before it; a tick
 * that finds none is a dropped frame. Work is bounded by the number of buffers, however long the
 * application has been away. */
static void advance(struct cam *c, int64_t now)
{
	uint64_t n;
	bool stalled, slow;

	if (!c->streaming || !c->cfg.paced || now < c->t0_ns)
		return;
	n = ticks_ready(c, now);
	stalled = exists(c->cfg.stall);
	slow = exists(c->cfg.slow);
	while (!stalled && c->nqueue > 0) {
		int idx = c->queue[0];
		uint64_t t = tick_at_or_after(c, c->bufs[idx].qtime_ns);
		if (t < c->next_tick)
			t = c->next_tick;
		if (slow && (t & 1)) /* low light: every second exposure only */
			t++;
		if (t >= n)
			break;
		memmove(c->queue, c->queue + 1, (size_t)--c->nqueue * sizeof(int));
		if (fill(c, idx, c->seq0 + (uint32_t)t, tick_time(c, t)) < 0) {
			c->bufs[idx].state = BUF_QUEUED;
			c->queue[c->nqueue++] = idx;
			break;
		}
		c->next_tick = t + 1;
	}
	if (c->next_tick < n)
		c->next_tick = n;
}

static void sync_timer(struct cam *c);

static void arm_timer(struct cam *c, bool on)
{
	struct itimerspec its = {0};

	if (on && c->cfg.paced) {
		sync_timer(c);
		return;
	}
	if (on) {
		int64_t first = now_ns();
		int64_t period = c->cfg.paced ? (int64_t)NS * c->tpf_num / c->tpf_den : 1000;
		its.it_value.tv_sec = first / NS;
		its.it_value.tv_nsec = first % NS;
		its.it_interval.tv_sec = period / NS;
		its.it_interval.tv_nsec = period % NS;
	}
	timerfd_settime(c->fd, on ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

/* Paced mode: the timer is one-shot, so that poll() says readable exactly while a frame is done
 * (at once) or from the instant the next one will be ready (exposure and jitter included). */
static void sync_timer(struct cam *c)
{
	struct itimerspec its = {0};
	int64_t at;

	if (!c->streaming || !c->cfg.paced)
		return;
	at = c->ndone > 0 ? 1 : tick_ready(c, c->next_tick);
	its.it_value.tv_sec = at / NS;
	its.it_value.tv_nsec = at % NS;
	timerfd_settime(c->fd, TFD_TIMER_ABSTIME, &its, NULL); /* also clears pending expirations */
}

/* Consume expirations so poll() reports readable only when another frame tick has passed. */
static void drain_timer(struct cam *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	uint64_t n;

	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		if (read(c->fd, &n, sizeof(n)) < 0) {
			/* EAGAIN: raced with nothing to read; fine */
		}
	}
}

/* ---- formats ---- */

static bool size_offered(const struct cam *c, uint32_t fmt, uint32_t w, uint32_t h)
{
	if (fmt == V4L2_PIX_FMT_MJPEG)
		return c->mj.n && w == c->mj.w && h == c->mj.h;
	for (int i = 0; i < c->cfg.n_sizes; i++)
		if (c->cfg.sizes[i].w == w && c->cfg.sizes[i].h == h)
			return true;
	return false;
}

/* The driver's answer to S_FMT/TRY_FMT: like uvcvideo, it never refuses, it adjusts. */
static void negotiate(const struct cam *c, struct v4l2_pix_format *pix)
{
	uint32_t fmt = pix->pixelformat;
	if (!(fmt == V4L2_PIX_FMT_YUYV || (fmt == V4L2_PIX_FMT_MJPEG && c->mj.n)))
		fmt = V4L2_PIX_FMT_YUYV;
	if (fmt == V4L2_PIX_FMT_MJPEG) {
		pix->width = c->mj.w;
		pix->height = c->mj.h;
	} else {
		long best = -1;
		struct size pick = c->cfg.sizes[0];
		for (int i = 0; i < c->cfg.n_sizes; i++) {
			long d = labs((long)c->cfg.sizes[i].w - (long)pix->width) + labs((long)c->cfg.sizes[i].h - (long)pix->height);
			if (best < 0 || d < best) {
				best = d;
				pick = c->cfg.sizes[i];
			}
		}
		pix->width = pick.w;
		pix->height = pick.h;
	}
	pix->pixelformat = fmt;
	pix->field = V4L2_FIELD_NONE;
	pix->bytesperline = fmt == V4L2_PIX_FMT_YUYV ? pix->width * 2 : 0;
	pix->sizeimage = fmt == V4L2_PIX_FMT_YUYV ? pix->width * pix->height * 2 : (uint32_t)c->mj.max;
	pix->colorspace = V4L2_COLORSPACE_SRGB;
	pix->priv = 0;
	pix->flags = 0;
	pix->ycbcr_enc = V4L2_YCBCR_ENC_DEFAULT;
	pix->quantization = V4L2_QUANTIZATION_DEFAULT;
	pix->xfer_func = V4L2_XFER_FUNC_DEFAULT;
}

static uint32_t nearest_rate(const struct cam *c, uint32_t num, uint32_t den)
{
	double want = num ? (double)den / num : c->cfg.rates[0];
	uint32_t best = c->cfg.rates[0];
	for (int i = 1; i < c->cfg.n_rates; i++) {
		double d1 = c->cfg.rates[i] - want, d0 = best - want;
		if ((d1 < 0 ? -d1 : d1) < (d0 < 0 ? -d0 : d0))
			best = c->cfg.rates[i];
	}
	return best;
}

/* ---- controls ---- */

struct ctrl_desc {
	uint32_t id;
	const char *name;
	uint32_t type;
	int32_t min, max, step, def;
	size_t field; /* offset of the value in struct cam_dev */
};

static const struct ctrl_desc ctrls[] = {
	{V4L2_CID_BRIGHTNESS, "Brightness", V4L2_CTRL_TYPE_INTEGER, 0, 255, 1, 128, offsetof(struct cam_dev, brightness)},
	{V4L2_CID_CONTRAST, "Contrast", V4L2_CTRL_TYPE_INTEGER, 0, 255, 1, 128, offsetof(struct cam_dev, contrast)},
	{V4L2_CID_POWER_LINE_FREQUENCY, "Power Line Frequency", V4L2_CTRL_TYPE_MENU, 0, 2, 1, 1, offsetof(struct cam_dev, power_line)},
	{V4L2_CID_EXPOSURE_AUTO, "Auto Exposure", V4L2_CTRL_TYPE_MENU, 0, 3, 1, 3, offsetof(struct cam_dev, exposure_auto)},
	{V4L2_CID_EXPOSURE_ABSOLUTE, "Exposure Time, Absolute", V4L2_CTRL_TYPE_INTEGER, 3, 2047, 1, 250, offsetof(struct cam_dev, exposure_abs)},
	{V4L2_CID_FOCUS_ABSOLUTE, "Focus, Absolute", V4L2_CTRL_TYPE_INTEGER, 0, 250, 5, 0, offsetof(struct cam_dev, focus_abs)},
	{V4L2_CID_FOCUS_AUTO, "Focus, Automatic Continuous", V4L2_CTRL_TYPE_BOOLEAN, 0, 1, 1, 1, offsetof(struct cam_dev, focus_auto)},
};
#define N_CTRLS (sizeof(ctrls) / sizeof(ctrls[0]))

static const char *menu_item(uint32_t id, uint32_t index)
{
	static const char *const plf[] = {"Disabled", "50 Hz", "60 Hz"};
	if (id == V4L2_CID_POWER_LINE_FREQUENCY && index < 3)
		return plf[index];
	/* uvcvideo offers only these two exposure modes on most webcams */
	if (id == V4L2_CID_EXPOSURE_AUTO && index == 1)
		return "Manual Mode";
	if (id == V4L2_CID_EXPOSURE_AUTO && index == 3)
		return "Aperture Priority Mode";
	return NULL;
}

static const struct ctrl_desc *ctrl_find(uint32_t id, bool next)
{
	const struct ctrl_desc *best = NULL;
	for (size_t i = 0; i < N_CTRLS; i++) {
		if (!next && ctrls[i].id == id)
			return &ctrls[i];
		if (next && ctrls[i].id > id && (!best || ctrls[i].id < best->id))
			best = &ctrls[i];
	}
	return best;
}

static int32_t *ctrl_value(struct cam *c, const struct ctrl_desc *d)
{
	return (int32_t *)((char *)c->dev + d->field);
}

static struct cam_dev devs[MAX_DEVS];

static void dev_defaults(struct cam_dev *d)
{
	for (size_t i = 0; i < N_CTRLS; i++)
		*(int32_t *)((char *)d + ctrls[i].field) = ctrls[i].def;
}

/* The device of `path`, created with default values on its first open; NULL if the table is full. */
static struct cam_dev *dev_get(const char *path)
{
	struct cam_dev *d = NULL;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_DEVS && !d; i++)
		if (!strcmp(devs[i].path, path))
			d = &devs[i];
	for (int i = 0; i < MAX_DEVS && !d; i++)
		if (!devs[i].path[0]) {
			d = &devs[i];
			snprintf(d->path, sizeof(d->path), "%s", path);
			dev_defaults(d);
		}
	pthread_mutex_unlock(&lock);
	return d;
}

/* Unplugged: a replugged camera powers up with its defaults. Called with `lock` held. */
static void dev_unplugged_locked(const char *path)
{
	for (int i = 0; i < MAX_DEVS; i++)
		if (!strcmp(devs[i].path, path))
			dev_defaults(&devs[i]);
}

/* Manual values that uvcvideo refuses (EACCES) while the auto mode that owns them is on. */
static bool ctrl_locked_by_auto(const struct cam_dev *d, uint32_t id)
{
	return (id == V4L2_CID_EXPOSURE_ABSOLUTE && d->exposure_auto != V4L2_EXPOSURE_MANUAL) ||
	       (id == V4L2_CID_FOCUS_ABSOLUTE && d->focus_auto);
}

/* ---- ioctls ---- */

static int do_reqbufs(struct cam *c, struct v4l2_requestbuffers *r)
{
	if (r->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || r->memory != V4L2_MEMORY_MMAP)
		return -EINVAL;
	if (c->streaming)
		return -EBUSY;
	if (c->memfd >= 0)
		real_close(c->memfd);
	c->memfd = -1;
	c->nbuf = 0;
	c->nqueue = c->ndone = 0;
	if (r->count == 0)
		return 0;
	uint32_t n = r->count < 2 ? 2 : r->count;
	if (n > (uint32_t)c->cfg.max_buffers)
		n = (uint32_t)c->cfg.max_buffers;
	long page = sysconf(_SC_PAGESIZE);
	c->buflen = ((size_t)c->sizeimage + (size_t)page - 1) / (size_t)page * (size_t)page;
	c->memfd = memfd_create("vwfakecam", MFD_CLOEXEC);
	if (c->memfd < 0)
		return -errno;
	if (ftruncate(c->memfd, (off_t)(c->buflen * n)) < 0) {
		int e = -errno;
		real_close(c->memfd);
		c->memfd = -1;
		return e;
	}
	for (uint32_t i = 0; i < n; i++)
		c->bufs[i] = (struct cam_buf){.state = BUF_USER};
	c->nbuf = (int)n;
	r->count = n;
	r->capabilities = V4L2_BUF_CAP_SUPPORTS_MMAP;
	return 0;
}

static void describe_buf(const struct cam *c, int idx, struct v4l2_buffer *b)
{
	const struct cam_buf *cb = &c->bufs[idx];
	memset(b, 0, sizeof(*b));
	b->index = (uint32_t)idx;
	b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	b->memory = V4L2_MEMORY_MMAP;
	b->length = (uint32_t)c->buflen;
	b->m.offset = (uint32_t)(c->buflen * (size_t)idx);
	b->field = V4L2_FIELD_NONE;
	b->flags = V4L2_BUF_FLAG_MAPPED | V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_TSTAMP_SRC_SOE;
	if (cb->state == BUF_QUEUED)
		b->flags |= V4L2_BUF_FLAG_QUEUED;
	if (cb->state == BUF_DONE)
		b->flags |= V4L2_BUF_FLAG_DONE;
	b->bytesused = cb->bytesused;
	b->sequence = cb->sequence;
	b->timestamp.tv_sec = cb->ts_ns / NS;
	b->timestamp.tv_usec = (cb->ts_ns % NS) / 1000;
	if (c->pixfmt == V4L2_PIX_FMT_MJPEG)
		b->flags |= V4L2_BUF_FLAG_KEYFRAME;
}

static int do_streamon(struct cam *c)
{
	if (c->streaming)
		return 0;
	if (c->nbuf == 0)
		return -EINVAL;
	if (c->pixfmt == V4L2_PIX_FMT_YUYV && make_tile(c) < 0)
		return -ENOMEM;
	c->streaming = true;
	c->t0_ns = now_ns();
	c->next_tick = 0;
	c->seq0 = next_seq;
	c->grid_num = c->cfg.real_num ? c->cfg.real_num : c->tpf_num;
	c->grid_den = c->cfg.real_num ? c->cfg.real_den : c->tpf_den;
	int64_t period = (int64_t)(NS * c->grid_num / c->grid_den);
	if (c->cfg.jitter_ns > period / 4) /* readiness must stay in frame order */
		c->cfg.jitter_ns = period / 4;
	arm_timer(c, true);
	cam_log(c, "streamon pid=%d device=%s seq0=%u t0_ns=%lld tpf=%u/%u interval_ns=%lld paced=%d format=%s size=%ux%u "
		   "exposure_ns=%lld jitter_ns=%lld cost_ns=%lld frames=%zu claimed=%u/%u",
		(int)getpid(), c->cfg.device, c->seq0, (long long)c->t0_ns, c->grid_num, c->grid_den,
		(long long)period, c->cfg.paced ? 1 : 0, c->pixfmt == V4L2_PIX_FMT_MJPEG ? "MJPEG" : "YUYV", c->width,
		c->height, (long long)c->cfg.exposure_ns, (long long)c->cfg.jitter_ns, (long long)c->cfg.cost_ns,
		c->pixfmt == V4L2_PIX_FMT_MJPEG ? c->mj.n : (size_t)0, c->tpf_num, c->tpf_den);
	return 0;
}

static void do_streamoff(struct cam *c)
{
	if (!c->streaming)
		return;
	advance(c, now_ns());
	next_seq = c->cfg.paced ? c->seq0 + (uint32_t)c->next_tick : next_seq;
	c->streaming = false;
	arm_timer(c, false);
	drain_timer(c);
	for (int i = 0; i < c->nbuf; i++)
		c->bufs[i].state = BUF_USER;
	c->nqueue = c->ndone = 0;
	cam_log(c, "streamoff pid=%d device=%s next_seq=%u", (int)getpid(), c->cfg.device, next_seq);
}

/* A driver's or a slow CPU's time inside DQBUF. Called with `lock` held; drops it meanwhile so
 * that other cameras of the process go on (the caller holds a reference on the camera). */
static void spend(int64_t ns, bool busy)
{
	int64_t end = now_ns() + ns;
	struct timespec ts = {end / NS, end % NS};

	pthread_mutex_unlock(&lock);
	if (busy) {
		while (now_ns() < end)
			;
	} else {
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	pthread_mutex_lock(&lock);
}

/* Called with `lock` held; may drop it while a blocking DQBUF waits for the next frame. */
static int do_dqbuf(struct cam *c, struct v4l2_buffer *b)
{
	if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->memory != V4L2_MEMORY_MMAP)
		return -EINVAL;
	for (;;) {
		if (c->closed || !c->streaming)
			return -EINVAL;
		if (exists(c->cfg.unplug))
			return -ENODEV;
		if (c->cfg.paced) {
			advance(c, now_ns());
		} else if (c->nqueue > 0 && !exists(c->cfg.stall)) {
			int idx = c->queue[0];
			memmove(c->queue, c->queue + 1, (size_t)--c->nqueue * sizeof(int));
			if (fill(c, idx, next_seq, now_ns()) == 0)
				next_seq++;
		}
		if (c->ndone > 0) {
			int idx = c->done[0];
			memmove(c->done, c->done + 1, (size_t)--c->ndone * sizeof(int));
			c->bufs[idx].state = BUF_USER;
			describe_buf(c, idx, b);
			b->flags &= ~(uint32_t)V4L2_BUF_FLAG_DONE;
			if (!c->cfg.paced && c->ndone == 0)
				drain_timer(c);
			sync_timer(c);
			if (c->cfg.cost_ns > 0)
				spend(c->cfg.cost_ns, c->cfg.cost_busy);
			return 0;
		}
		sync_timer(c); /* a tick that found no buffer, or a skipped one: wait for the next */
		if (fcntl(c->fd, F_GETFL) & O_NONBLOCK)
			return -EAGAIN;
		/* Block until the next tick; wake at least every 100 ms to notice unplug or close. */
		int64_t now = now_ns(), wake = now + NS / 10;
		if (c->cfg.paced) {
			int64_t t = tick_ready(c, c->next_tick);
			if (t < wake)
				wake = t;
		} else {
			wake = now + NS / 1000;
		}
		struct timespec ts = {wake / NS, wake % NS};
		pthread_mutex_unlock(&lock);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		pthread_mutex_lock(&lock);
	}
}

static int cam_ioctl(struct cam *c, unsigned long req, void *arg)
{
	if (exists(c->cfg.unplug)) {
		if (!c->unplug_logged)
			cam_log(c, "unplugged pid=%d device=%s", (int)getpid(), c->cfg.device);
		c->unplug_logged = true;
		dev_unplugged_locked(c->dev->path);
		return -ENODEV;
	}
	/* A metadata node has no video formats: whatever asks about video capture is refused. */
	if (c->cfg.meta && req != VIDIOC_QUERYCAP)
		return -EINVAL;
	switch (req) {
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *cap = arg;
		memset(cap, 0, sizeof(*cap));
		snprintf((char *)cap->driver, sizeof(cap->driver), "uvcvideo");
		snprintf((char *)cap->card, sizeof(cap->card), "%s", c->cfg.card);
		snprintf((char *)cap->bus_info, sizeof(cap->bus_info), "%s", c->cfg.bus_info);
		cap->version = 0x060100;
		cap->device_caps = c->cfg.meta ? V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING :
						 V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING | V4L2_CAP_EXT_PIX_FORMAT;
		cap->capabilities = cap->device_caps | V4L2_CAP_DEVICE_CAPS;
		return 0;
	}
	case VIDIOC_G_INPUT:
		*(int *)arg = 0;
		return 0;
	case VIDIOC_S_INPUT:
		return *(int *)arg == 0 ? 0 : -EINVAL;
	case VIDIOC_ENUMINPUT: {
		struct v4l2_input *in = arg;
		if (in->index != 0)
			return -EINVAL;
		memset(in, 0, sizeof(*in));
		snprintf((char *)in->name, sizeof(in->name), "Camera 1");
		in->type = V4L2_INPUT_TYPE_CAMERA;
		return 0;
	}
	/* A webcam has no analogue TV standard: uvcvideo answers these with ENOTTY. */
	case VIDIOC_G_STD:
	case VIDIOC_S_STD:
	case VIDIOC_ENUMSTD:
	case VIDIOC_QUERYSTD:
		return -ENOTTY;
	case VIDIOC_ENUM_FMT: {
		struct v4l2_fmtdesc *f = arg;
		uint32_t idx = f->index;
		if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || idx > (c->mj.n ? 1u : 0u))
			return -EINVAL;
		memset(f, 0, sizeof(*f));
		f->index = idx;
		f->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		if (idx == 0) {
			f->pixelformat = V4L2_PIX_FMT_YUYV;
			snprintf((char *)f->description, sizeof(f->description), "YUYV 4:2:2");
		} else {
			f->pixelformat = V4L2_PIX_FMT_MJPEG;
			f->flags = V4L2_FMT_FLAG_COMPRESSED;
			snprintf((char *)f->description, sizeof(f->description), "Motion-JPEG");
		}
		return 0;
	}
	case VIDIOC_ENUM_FRAMESIZES: {
		struct v4l2_frmsizeenum *fs = arg;
		if (fs->pixel_format == V4L2_PIX_FMT_MJPEG && c->mj.n) {
			if (fs->index != 0)
				return -EINVAL;
			fs->discrete.width = c->mj.w;
			fs->discrete.height = c->mj.h;
		} else if (fs->pixel_format == V4L2_PIX_FMT_YUYV) {
			if (fs->index >= (uint32_t)c->cfg.n_sizes)
				return -EINVAL;
			fs->discrete.width = c->cfg.sizes[fs->index].w;
			fs->discrete.height = c->cfg.sizes[fs->index].h;
		} else {
			return -EINVAL;
		}
		fs->type = V4L2_FRMSIZE_TYPE_DISCRETE;
		return 0;
	}
	case VIDIOC_ENUM_FRAMEINTERVALS: {
		struct v4l2_frmivalenum *fi = arg;
		if (!size_offered(c, fi->pixel_format, fi->width, fi->height) || fi->index >= (uint32_t)c->cfg.n_rates)
			return -EINVAL;
		fi->type = V4L2_FRMIVAL_TYPE_DISCRETE;
		fi->discrete.numerator = 1;
		fi->discrete.denominator = c->cfg.rates[fi->index];
		return 0;
	}
	case VIDIOC_G_FMT: {
		struct v4l2_format *f = arg;
		if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
			return -EINVAL;
		memset(&f->fmt, 0, sizeof(f->fmt));
		f->fmt.pix.pixelformat = c->pixfmt;
		f->fmt.pix.width = c->width;
		f->fmt.pix.height = c->height;
		negotiate(c, &f->fmt.pix);
		return 0;
	}
	case VIDIOC_TRY_FMT:
	case VIDIOC_S_FMT: {
		struct v4l2_format *f = arg;
		if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
			return -EINVAL;
		negotiate(c, &f->fmt.pix);
		if (req == VIDIOC_TRY_FMT)
			return 0;
		if (c->nbuf > 0)
			return -EBUSY;
		c->pixfmt = f->fmt.pix.pixelformat;
		c->width = f->fmt.pix.width;
		c->height = f->fmt.pix.height;
		c->sizeimage = f->fmt.pix.sizeimage;
		return 0;
	}
	case VIDIOC_G_PARM:
	case VIDIOC_S_PARM: {
		struct v4l2_streamparm *p = arg;
		if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
			return -EINVAL;
		if (req == VIDIOC_S_PARM) {
			if (c->streaming)
				return -EBUSY;
			c->tpf_num = 1;
			c->tpf_den = nearest_rate(c, p->parm.capture.timeperframe.numerator, p->parm.capture.timeperframe.denominator);
		}
		memset(&p->parm, 0, sizeof(p->parm));
		p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
		p->parm.capture.timeperframe.numerator = c->tpf_num;
		p->parm.capture.timeperframe.denominator = c->tpf_den;
		return 0;
	}
	case VIDIOC_REQBUFS:
		return do_reqbufs(c, arg);
	case VIDIOC_QUERYBUF: {
		struct v4l2_buffer *b = arg;
		if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->index >= (uint32_t)c->nbuf)
			return -EINVAL;
		describe_buf(c, (int)b->index, b);
		return 0;
	}
	case VIDIOC_QBUF: {
		struct v4l2_buffer *b = arg;
		if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->memory != V4L2_MEMORY_MMAP || b->index >= (uint32_t)c->nbuf)
			return -EINVAL;
		struct cam_buf *cb = &c->bufs[b->index];
		if (cb->state != BUF_USER)
			return -EINVAL;
		if (c->streaming)
			advance(c, now_ns()); /* ticks that passed before this QBUF must not see this buffer */
		cb->state = BUF_QUEUED;
		cb->qtime_ns = now_ns();
		c->queue[c->nqueue++] = (int)b->index;
		b->flags |= V4L2_BUF_FLAG_QUEUED;
		return 0;
	}
	case VIDIOC_DQBUF:
		return do_dqbuf(c, arg);
	case VIDIOC_STREAMON:
		return *(int *)arg == V4L2_BUF_TYPE_VIDEO_CAPTURE ? do_streamon(c) : -EINVAL;
	case VIDIOC_STREAMOFF:
		if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE)
			return -EINVAL;
		do_streamoff(c);
		return 0;
	case VIDIOC_QUERYCTRL: {
		struct v4l2_queryctrl *q = arg;
		bool next = q->id & V4L2_CTRL_FLAG_NEXT_CTRL;
		const struct ctrl_desc *d = ctrl_find(q->id & ~(uint32_t)V4L2_CTRL_FLAG_NEXT_CTRL, next);
		if (!d)
			return -EINVAL;
		memset(q, 0, sizeof(*q));
		q->id = d->id;
		q->type = d->type;
		snprintf((char *)q->name, sizeof(q->name), "%s", d->name);
		q->minimum = d->min;
		q->maximum = d->max;
		q->step = d->step;
		q->default_value = d->def;
		if (ctrl_locked_by_auto(c->dev, d->id))
			q->flags |= V4L2_CTRL_FLAG_INACTIVE;
		return 0;
	}
	case VIDIOC_QUERYMENU: {
		struct v4l2_querymenu *m = arg;
		const struct ctrl_desc *d = ctrl_find(m->id, false);
		const char *name = d ? menu_item(m->id, m->index) : NULL;
		if (!name)
			return -EINVAL;
		snprintf((char *)m->name, sizeof(m->name), "%s", name);
		return 0;
	}
	case VIDIOC_G_CTRL:
	case VIDIOC_S_CTRL: {
		struct v4l2_control *ctl = arg;
		const struct ctrl_desc *d = ctrl_find(ctl->id, false);
		if (!d)
			return -EINVAL;
		if (req == VIDIOC_G_CTRL) {
			ctl->value = *ctrl_value(c, d);
			return 0;
		}
		int32_t v = ctl->value;
		if (d->type == V4L2_CTRL_TYPE_MENU) {
			if (v < d->min || v > d->max || !menu_item(d->id, (uint32_t)v))
				return -EINVAL;
		} else {
			/* the V4L2 core clamps integer controls into range rather than refusing them */
			v = v < d->min ? d->min : v > d->max ? d->max : v;
			v = d->min + (v - d->min) / d->step * d->step;
		}
		if (ctrl_locked_by_auto(c->dev, d->id))
			return -EACCES;
		ctl->value = v;
		*ctrl_value(c, d) = v;
		cam_log(c, "s_ctrl pid=%d device=%s id=0x%x value=%d", (int)getpid(), c->dev->path, d->id, v);
		/* every descriptor streaming this device shows the new brightness */
		for (int i = 0; d->id == V4L2_CID_BRIGHTNESS && i < MAX_OPEN; i++)
			if (cams[i] && cams[i]->dev == c->dev && cams[i]->streaming && cams[i]->pixfmt == V4L2_PIX_FMT_YUYV)
				make_tile(cams[i]);
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

/* ---- interposed entry points ---- */

/* Item `k` of the comma-separated `list` (not NULL) into out; false when there is none. */
static bool list_item(const char *list, int k, char *out, size_t n)
{
	for (int i = 0; *list; i++) {
		const char *e = strchr(list, ',');
		size_t len = e ? (size_t)(e - list) : strlen(list);
		if (i == k) {
			snprintf(out, n, "%.*s", (int)len, list);
			return len > 0;
		}
		if (!e)
			break;
		list = e + 1;
	}
	return false;
}

/* Position of `path` in `list`, or -1. A link under a .../v4l/ directory (by-id, by-path) is the
 * item it resolves to; other paths are compared as they are, so opens cost no extra system call. */
static int list_find(const char *list, const char *path)
{
	char item[256], real[PATH_MAX], item_real[PATH_MAX];
	bool link = strstr(path, "/v4l/") && realpath(path, real);

	for (int i = 0; i < 64 && list_item(list, i, item, sizeof(item)); i++)
		if (!strcmp(item, path) || (link && realpath(item, item_real) && !strcmp(real, item_real)))
			return i;
	return -1;
}

/* Which fake node `path` is: a camera of VWFAKECAM_DEVICE or a metadata node of VWFAKECAM_META.
 * Fills the identity of that node into cfg (path, QUERYCAP card and bus); false when it is none. */
static bool cam_identity(const char *path, struct config *cfg)
{
	const char *dev = getenv("VWFAKECAM_DEVICE"), *meta = getenv("VWFAKECAM_META");
	const char *cards = getenv("VWFAKECAM_CARDS");
	char device[256];
	int k;

	if (!dev || !*dev)
		dev = "/dev/video0";
	bool is_meta = (k = list_find(dev, path)) < 0 && meta && (k = list_find(meta, path)) >= 0;
	if (k < 0)
		return false;
	if (!cfg)
		return true;
	list_item(is_meta ? meta : dev, k, device, sizeof(device));
	snprintf(cfg->device, sizeof(cfg->device), "%s", device);
	cfg->meta = is_meta;
	cfg->index = k;
	/* camera k and metadata node k look like the two nodes of one USB webcam */
	if (!cards || !list_item(cards, k, cfg->card, sizeof(cfg->card))) {
		if (k == 0)
			snprintf(cfg->card, sizeof(cfg->card), "vw fake camera");
		else
			snprintf(cfg->card, sizeof(cfg->card), "vw fake camera %d", k + 1);
	}
	snprintf(cfg->bus_info, sizeof(cfg->bus_info), "usb-0000:00:14.0-%d", k + 1);
	return true;
}

static int cam_open(const char *path, int flags)
{
	struct cam *c = NULL;
	int ret, slot = -1;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	load_config(&c->cfg);
	cam_identity(path, &c->cfg);
	load_camera_knobs(&c->cfg);
	if (exists(c->cfg.unplug)) {
		pthread_mutex_lock(&lock);
		dev_unplugged_locked(c->cfg.device); /* by-id links share their node's state */
		pthread_mutex_unlock(&lock);
		ret = -ENOENT;
		goto fail;
	}
	c->memfd = -1;
	c->refs = 1;
	if (*c->cfg.mjpeg && mjpeg_load(&c->mj, c->cfg.mjpeg) < 0) {
		ret = -EIO;
		goto fail;
	}
	c->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | ((flags & O_NONBLOCK) ? TFD_NONBLOCK : 0));
	if (c->fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (!(flags & O_CLOEXEC))
		fcntl(c->fd, F_SETFD, 0);
	c->pixfmt = V4L2_PIX_FMT_YUYV;
	c->width = c->cfg.sizes[0].w;
	c->height = c->cfg.sizes[0].h;
	c->sizeimage = c->width * c->height * 2;
	c->tpf_num = 1;
	c->tpf_den = c->cfg.rates[0];
	c->dev = dev_get(c->cfg.device);
	if (!c->dev) {
		real_close(c->fd);
		ret = -EBUSY;
		goto fail;
	}

	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_OPEN; i++)
		if (!cams[i]) {
			slot = i;
			break;
		}
	if (slot >= 0) {
		cams[slot] = c;
		atomic_fetch_add(&n_cams, 1);
	}
	pthread_mutex_unlock(&lock);
	if (slot < 0) {
		real_close(c->fd);
		ret = -EBUSY;
		goto fail;
	}
	cam_log(c, "open pid=%d device=%s fd=%d", (int)getpid(), path, c->fd);
	return c->fd;
fail:
	mjpeg_free(&c->mj);
	free(c);
	return ret;
}

static bool is_cam_path(int dirfd, const char *path)
{
	if (!path || (dirfd != AT_FDCWD && path[0] != '/'))
		return false;
	return cam_identity(path, NULL);
}

static int open_result(int r)
{
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* The mode argument of a variadic open call: there only with O_CREAT or O_TMPFILE. */
static mode_t va_mode(int flags, va_list ap)
{
	return ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_MODE(flags, mode)                  \
	do {                                    \
		va_list ap_;                    \
		va_start(ap_, flags);           \
		(mode) = va_mode((flags), ap_); \
		va_end(ap_);                    \
	} while (0)

/* Every open call: a camera's node is opened here (*fd: its descriptor, or -1 with errno);
 * false for any other path, which the real call opens. */
static bool cam_opened(int dirfd, const char *path, int flags, int *fd)
{
	init();
	if (!is_cam_path(dirfd, path))
		return false;
	*fd = open_result(cam_open(path, flags));
	return true;
}

EXPORT int open(const char *path, int flags, ...)
{
	int fd;
	mode_t mode;
	OPEN_MODE(flags, mode);
	return cam_opened(AT_FDCWD, path, flags, &fd) ? fd : real_open(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	int fd;
	mode_t mode;
	OPEN_MODE(flags, mode);
	return cam_opened(AT_FDCWD, path, flags, &fd) ? fd : real_open64(path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	int fd;
	mode_t mode;
	OPEN_MODE(flags, mode);
	return cam_opened(dirfd, path, flags, &fd) ? fd : real_openat(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	int fd;
	mode_t mode;
	OPEN_MODE(flags, mode);
	return cam_opened(dirfd, path, flags, &fd) ? fd : real_openat64(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE turns open() without a mode into these; glibc declares them only then. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

EXPORT int __open_2(const char *path, int flags)
{
	int fd;
	return cam_opened(AT_FDCWD, path, flags, &fd) ? fd : real___open_2(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	int fd;
	return cam_opened(AT_FDCWD, path, flags, &fd) ? fd : real___open64_2(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int fd;
	return cam_opened(dirfd, path, flags, &fd) ? fd : real___openat_2(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int fd;
	return cam_opened(dirfd, path, flags, &fd) ? fd : real___openat64_2(dirfd, path, flags);
}

EXPORT int close(int fd)
{
	struct cam *c;

	init();
	if (atomic_load(&n_cams) == 0)
		return real_close(fd);
	pthread_mutex_lock(&lock);
	c = cam_get(fd);
	if (c) {
		do_streamoff(c);
		for (int i = 0; i < MAX_OPEN; i++)
			if (cams[i] == c)
				cams[i] = NULL;
		atomic_fetch_sub(&n_cams, 1);
		c->closed = true;
		cam_log(c, "close pid=%d device=%s fd=%d", (int)getpid(), c->cfg.device, fd);
		if (c->memfd >= 0)
			real_close(c->memfd);
		c->memfd = -1;
		cam_put(c);
	}
	pthread_mutex_unlock(&lock);
	return real_close(fd);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	struct cam *c;
	int r;

	init();
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (atomic_load(&n_cams) == 0)
		return real_ioctl(fd, req, arg);
	pthread_mutex_lock(&lock);
	c = cam_get(fd);
	if (!c) {
		pthread_mutex_unlock(&lock);
		return real_ioctl(fd, req, arg);
	}
	c->refs++; /* a blocking DQBUF drops the lock; a concurrent close must not free c under it */
	r = cam_ioctl(c, req, arg);
	cam_put(c);
	pthread_mutex_unlock(&lock);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

static void *cam_mmap(struct cam *c, void *addr, size_t len, int prot, int flags, off_t off)
{
	if (exists(c->cfg.unplug)) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	if (c->memfd < 0 || off < 0 || (size_t)off % c->buflen != 0 || (size_t)off / c->buflen >= (size_t)c->nbuf ||
	    len > c->buflen) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return real_mmap(addr, len, prot, flags, c->memfd, off);
}

/* mmap of a camera's buffer: true with *p (MAP_FAILED with errno on a refusal) when fd is a
 * camera's; false for any other descriptor, which the real call maps. */
static bool cam_mapped(void *addr, size_t len, int prot, int flags, int fd, off_t off, void **p)
{
	struct cam *c;

	init();
	if (atomic_load(&n_cams) == 0 || fd < 0)
		return false;
	pthread_mutex_lock(&lock);
	c = cam_get(fd);
	if (c)
		*p = cam_mmap(c, addr, len, prot, flags, off);
	pthread_mutex_unlock(&lock);
	return c != NULL;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p;
	return cam_mapped(addr, len, prot, flags, fd, off, &p) ? p : real_mmap(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	void *p;
	return cam_mapped(addr, len, prot, flags, fd, (off_t)off, &p) ? p : real_mmap64(addr, len, prot, flags, fd, off);
}
