/* Fake microphone for tests: the "vwfake" ALSA external capture PCM (ioplug), loaded by alsa-lib as
 * libasound_module_pcm_vwfake.so through the tests' asound.conf, so FFmpeg's real ALSA input code
 * runs without a sound card.
 *
 * What it does:
 *  - Capture only, interleaved S16_LE at exactly the configured rate and channel count; wrap it
 *    in `type plug` to get any other format. RW access delivers straight into the reader's buffer;
 *    MMAP access is what plug's converters use (offered RW only, plug's route/rate conversions
 *    failed hw_params with EINVAL on alsa-lib 1.2.8), and there alsa-lib calls the transfer
 *    callback at every mmap_begin to fill the ring. Either way the bytes are a pure function of
 *    the absolute stream position, so refilling the same frames is harmless.
 *  - The hardware position advances one whole period at a time on CLOCK_MONOTONIC, counted from
 *    the moment the stream is started. A timerfd is the poll descriptor; it is armed for the
 *    period boundary at which avail reaches avail_min and kept readable while it is reached, so
 *    blocking snd_pcm_readi and poll-based readers both wake once per period.
 *  - Stream frame n carries the bytes of the source file at byte offset n * frame_size, the file
 *    being looped as a byte stream (a length that is not a whole number of frames simply carries
 *    over into the next lap, exactly like concatenating the file). No file means silence.
 *  - Overrun: when the reader is more than buffer_size frames behind, the pointer callback returns
 *    -EPIPE (the reader sees -EPIPE, as with a real device) until snd_pcm_prepare. The data clock
 *    is real time: the first start after open is file offset 0 at time t0, and every later start
 *    (after an overrun, or drop + prepare) begins at the file position that corresponds to the
 *    time elapsed since t0, i.e. what a live source would be producing at that moment. Samples
 *    "captured" while the reader was stalled are lost, as on a real device.
 *
 * Config keys (pcm definition with `type vwfake`):
 *   file        raw S16LE file to loop ("" or absent: silence)
 *   rate        Hz, default 48000          channels    default 2
 *   period_min  frames, default rate/100   period_max  frames, default buffer_max/2
 *   buffer_max  frames, default rate/2 (FFmpeg takes the largest buffer and the smallest period)
 * Environment, read at every open:
 *   VWFAKEMIC_FILE=path  overrides `file`; an empty value means silence.
 *   VWFAKEMIC_LOG=path   appends one line per event: open, hw_params, start, overrun, gone, stop,
 *                        close (first word is the event, then key=value pairs).
 *   VWFAKEMIC_FAIL=path  while that file exists: open fails with -ENOENT, a running stream's
 *                        pointer returns -ENODEV (alsa-lib 1.2.8 turns any pointer error into
 *                        XRUN, so the reader sees -EPIPE) and prepare/start fail with -ENODEV, so
 *                        recovery fails until the file is removed.
 *
 * No global state beyond the entry point ALSA looks up; everything lives in struct vwfake, which
 * embeds the ioplug handle and is freed by the close callback. */
#include <alsa/asoundlib.h>
#include <alsa/pcm_external.h>
#include "vw_fakealsa.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000LL
#define FILE_MAX_BYTES ((size_t)256 << 20)

struct vwfake {
	snd_pcm_ioplug_t io;
	int timer_fd;
	char *log_path;  /* NULL: no log */
	char *fail_path; /* NULL: never fails */
	uint8_t *data;   /* whole source file, NULL for silence */
	size_t size;
	unsigned rate, channels, frame_bytes;

	/* ALSA calls poll_revents and sw_params without its own lock held, so the callbacks that
	 * touch the fields below serialise on this one. It is innermost: nothing ALSA is called
	 * while it is held. */
	pthread_mutex_t lock;
	snd_pcm_uframes_t period, buffer, boundary, avail_min;
	bool clock_set; /* t0 valid */
	int64_t t0;     /* first start after open: file offset 0 */
	bool running;
	int64_t t_start; /* this run's start: stream frame 0 */
	uint64_t start_byte;
	uint64_t hw_rep; /* stream position (frames since t_start) last reported to ALSA */
	bool xrun, gone; /* latched until prepare */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Whole frames in ns nanoseconds, split so it cannot overflow for any uptime. */
static uint64_t frames_in(int64_t ns, unsigned rate)
{
	if (ns <= 0)
		return 0;
	return (uint64_t)(ns / NS_PER_S) * rate + (uint64_t)(ns % NS_PER_S) * rate / NS_PER_S;
}

/* The first nanosecond at which frames_in() reaches `frames` (rounded up, so a timer armed for it
 * never fires before the pointer callback agrees that the period is complete). */
static int64_t ns_for(uint64_t frames, unsigned rate)
{
	return (int64_t)(frames / rate) * NS_PER_S +
	       (int64_t)(((frames % rate) * (uint64_t)NS_PER_S + rate - 1) / rate);
}

__attribute__((format(printf, 2, 3)))
static void vf_log(const char *path, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, fd;

	if (!path)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 32, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 32)
		n = (int)sizeof(line) - 33; /* truncated: keep the room for the pid */
	n += snprintf(line + n, sizeof(line) - (size_t)n, " pid=%ld\n", (long)getpid());
	/* One write per line on an O_APPEND fd keeps lines whole when several processes log. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* a test log is best effort: a full disk must not break capture */
	}
	close(fd);
}

static bool failing(const struct vwfake *pd)
{
	return pd->fail_path && access(pd->fail_path, F_OK) == 0;
}

static uint64_t stream_hw(const struct vwfake *pd, int64_t now)
{
	if (!pd->running)
		return pd->hw_rep;
	return frames_in(now - pd->t_start, pd->rate) / pd->period * pd->period;
}

/* The application pointer as a stream position. ALSA's pointers wrap at the boundary, so derive it
 * from the distance to the hw pointer, which ALSA holds at exactly the value last reported. */
static uint64_t appl_abs(const struct vwfake *pd)
{
	snd_pcm_uframes_t hw = pd->io.hw_ptr, appl = pd->io.appl_ptr, behind;

	if (!pd->boundary)
		return pd->hw_rep;
	behind = (hw + pd->boundary - appl) % pd->boundary;
	return behind > pd->hw_rep ? 0 : pd->hw_rep - behind;
}

static void timer_set(const struct vwfake *pd, int64_t abs_ns)
{
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (abs_ns > 0) {
		its.it_value.tv_sec = abs_ns / NS_PER_S;
		its.it_value.tv_nsec = abs_ns % NS_PER_S;
	}
	timerfd_settime(pd->timer_fd, abs_ns > 0 ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

/* Makes the timerfd readable exactly when a reader with application pointer `appl` should wake:
 * now if avail_min is reached (or the stream is in error, so the reader finds out), otherwise at
 * the period boundary that reaches it. Re-arming also clears a previous expiry. */
static void rearm(const struct vwfake *pd, uint64_t appl, int64_t now)
{
	uint64_t hw, want, periods;

	if (!pd->running) {
		timer_set(pd, 0);
		return;
	}
	hw = stream_hw(pd, now);
	want = appl + (pd->avail_min ? pd->avail_min : 1);
	if (pd->xrun || pd->gone || hw >= want || hw > appl + pd->buffer) {
		timer_set(pd, 1); /* an absolute time long past: readable at once */
		return;
	}
	periods = (want + pd->period - 1) / pd->period;
	timer_set(pd, pd->t_start + ns_for(periods * pd->period, pd->rate));
}

static int vf_start(snd_pcm_ioplug_t *io)
{
	struct vwfake *pd = io->private_data;
	int64_t now = now_ns();
	int ret = 0;

	pthread_mutex_lock(&pd->lock);
	if (failing(pd)) {
		vf_log(pd->log_path, "refused op=start");
		ret = -ENODEV;
		goto out;
	}
	if (!pd->clock_set) {
		pd->clock_set = true;
		pd->t0 = now;
		pd->start_byte = 0;
	} else if (pd->data) {
		pd->start_byte = frames_in(now - pd->t0, pd->rate) % pd->size * pd->frame_bytes % pd->size;
	}
	pd->t_start = now;
	pd->running = true;
	pd->xrun = pd->gone = false;
	pd->hw_rep = 0;
	rearm(pd, 0, now);
	vf_log(pd->log_path, "start byte=%" PRIu64 " t_ms=%" PRId64 " period=%lu buffer=%lu avail_min=%lu",
	       pd->start_byte, (now - pd->t0) / 1000000, pd->period, pd->buffer, pd->avail_min);
out:
	pthread_mutex_unlock(&pd->lock);
	return ret;
}

static int vf_stop(snd_pcm_ioplug_t *io)
{
	struct vwfake *pd = io->private_data;

	pthread_mutex_lock(&pd->lock);
	if (pd->running)
		vf_log(pd->log_path, "stop frame=%" PRIu64, pd->hw_rep);
	pd->running = false;
	rearm(pd, 0, 0);
	pthread_mutex_unlock(&pd->lock);
	return 0;
}

static snd_pcm_sframes_t vf_pointer(snd_pcm_ioplug_t *io)
{
	struct vwfake *pd = io->private_data;
	snd_pcm_sframes_t ret;
	int64_t now = now_ns();
	uint64_t hw, appl;

	pthread_mutex_lock(&pd->lock);
	if (!pd->boundary) {
		ret = -EBADFD;
		goto out;
	}
	if (!pd->running) {
		ret = (snd_pcm_sframes_t)(pd->hw_rep % pd->boundary);
		goto out;
	}
	if (!pd->gone && failing(pd)) {
		pd->gone = true;
		vf_log(pd->log_path, "gone frame=%" PRIu64, pd->hw_rep);
		rearm(pd, 0, now);
	}
	if (pd->gone) {
		ret = -ENODEV;
		goto out;
	}
	if (pd->xrun) {
		ret = -EPIPE;
		goto out;
	}
	hw = stream_hw(pd, now);
	appl = appl_abs(pd);
	if (hw > appl + pd->buffer) {
		pd->xrun = true;
		vf_log(pd->log_path, "overrun frame=%" PRIu64 " appl=%" PRIu64 " behind=%" PRIu64,
		       hw, appl, hw - appl);
		rearm(pd, appl, now);
		ret = -EPIPE;
		goto out;
	}
	pd->hw_rep = hw;
	ret = (snd_pcm_sframes_t)(hw % pd->boundary);
out:
	pthread_mutex_unlock(&pd->lock);
	return ret;
}

static snd_pcm_sframes_t vf_transfer(snd_pcm_ioplug_t *io, const snd_pcm_channel_area_t *areas,
				     snd_pcm_uframes_t offset, snd_pcm_uframes_t size)
{
	struct vwfake *pd = io->private_data;
	bool mmap = io->access == SND_PCM_ACCESS_MMAP_INTERLEAVED;
	uint8_t *dst;
	size_t len = (size_t)size * pd->frame_bytes;
	uint64_t first, pos;

	/* Only interleaved access is offered, so the areas are one contiguous interleaved buffer. */
	if (areas[0].step != pd->frame_bytes * 8 || areas[0].first % 8)
		return -EINVAL;
	dst = (uint8_t *)areas[0].addr + areas[0].first / 8 + (size_t)offset * pd->frame_bytes;

	pthread_mutex_lock(&pd->lock);
	/* RW: offset is into the reader's buffer and the frames start at the application pointer.
	 * MMAP: offset is a ring position at or after the application pointer. */
	first = appl_abs(pd);
	if (mmap)
		first += (offset + pd->buffer - io->appl_ptr % pd->buffer) % pd->buffer;
	if (!pd->data) {
		memset(dst, 0, len);
	} else {
		pos = (pd->start_byte + first % pd->size * pd->frame_bytes) % pd->size;
		while (len) {
			size_t n = pd->size - (size_t)pos;

			if (n > len)
				n = len;
			memcpy(dst, pd->data + pos, n);
			dst += n;
			len -= n;
			pos = 0;
		}
	}
	/* An MMAP reader consumes at commit, which no callback sees; poll_revents catches up then. */
	if (!mmap)
		rearm(pd, first + size, now_ns());
	pthread_mutex_unlock(&pd->lock);
	return (snd_pcm_sframes_t)size;
}

static int vf_prepare(snd_pcm_ioplug_t *io)
{
	struct vwfake *pd = io->private_data;
	int ret = 0;

	pthread_mutex_lock(&pd->lock);
	pd->running = false;
	pd->xrun = pd->gone = false;
	pd->hw_rep = 0;
	rearm(pd, 0, 0);
	if (failing(pd)) {
		vf_log(pd->log_path, "refused op=prepare");
		ret = -ENODEV;
	}
	pthread_mutex_unlock(&pd->lock);
	return ret;
}

static int vf_hw_params(snd_pcm_ioplug_t *io, snd_pcm_hw_params_t *params)
{
	struct vwfake *pd = io->private_data;

	(void)params;
	pthread_mutex_lock(&pd->lock);
	pd->period = io->period_size;
	pd->buffer = io->buffer_size;
	vf_log(pd->log_path, "hw_params rate=%u channels=%u period=%lu buffer=%lu", io->rate, io->channels,
	       pd->period, pd->buffer);
	pthread_mutex_unlock(&pd->lock);
	return 0;
}

static int vf_sw_params(snd_pcm_ioplug_t *io, snd_pcm_sw_params_t *params)
{
	struct vwfake *pd = io->private_data;
	snd_pcm_uframes_t boundary = 0, avail_min = 0;
	int ret;

	ret = snd_pcm_sw_params_get_boundary(params, &boundary);
	if (ret < 0)
		return ret;
	ret = snd_pcm_sw_params_get_avail_min(params, &avail_min);
	if (ret < 0)
		return ret;
	if (!boundary)
		return -EINVAL;
	pthread_mutex_lock(&pd->lock);
	pd->boundary = boundary;
	pd->avail_min = avail_min;
	if (pd->running)
		rearm(pd, appl_abs(pd), now_ns());
	pthread_mutex_unlock(&pd->lock);
	return 0;
}

static int vf_poll_revents(snd_pcm_ioplug_t *io, struct pollfd *pfd, unsigned int nfds,
			   unsigned short *revents)
{
	struct vwfake *pd = io->private_data;
	int64_t now = now_ns();
	uint64_t hw, appl, drain;

	if (nfds != 1)
		return -EINVAL;
	*revents = pfd[0].revents & (POLLERR | POLLNVAL);
	pthread_mutex_lock(&pd->lock);
	if (!pd->running)
		goto out;
	if (pd->xrun || pd->gone) {
		*revents |= POLLIN | POLLERR; /* ALSA then reports the state's error, -EPIPE */
		goto out;
	}
	hw = stream_hw(pd, now);
	appl = appl_abs(pd);
	if (hw >= appl + (pd->avail_min ? pd->avail_min : 1) || hw > appl + pd->buffer) {
		*revents |= POLLIN;
		goto out;
	}
	/* Woken early (avail_min changed, or a reader polled right after reading): wait again. */
	if (read(pd->timer_fd, &drain, sizeof(drain)) < 0) {
		/* EAGAIN: nothing to drain */
	}
	rearm(pd, appl, now);
out:
	pthread_mutex_unlock(&pd->lock);
	return 0;
}

static void vf_free(struct vwfake *pd)
{
	if (pd->timer_fd >= 0)
		close(pd->timer_fd);
	pthread_mutex_destroy(&pd->lock);
	free(pd->data);
	free(pd->log_path);
	free(pd->fail_path);
	free(pd);
}

static int vf_close(snd_pcm_ioplug_t *io)
{
	struct vwfake *pd = io->private_data;

	vf_log(pd->log_path, "close");
	vf_free(pd);
	return 0;
}

static const unsigned vf_accesses[] = {SND_PCM_ACCESS_RW_INTERLEAVED, SND_PCM_ACCESS_MMAP_INTERLEAVED};
static const unsigned vf_formats[] = {SND_PCM_FORMAT_S16_LE};

static const snd_pcm_ioplug_callback_t vf_callbacks = {
	.start = vf_start,
	.stop = vf_stop,
	.pointer = vf_pointer,
	.transfer = vf_transfer,
	.close = vf_close,
	.hw_params = vf_hw_params,
	.sw_params = vf_sw_params,
	.prepare = vf_prepare,
	.poll_revents = vf_poll_revents,
};

static int load_file(const char *path, uint8_t **data, size_t *size)
{
	int ret = 0;
	struct stat st;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data = NULL;
	*size = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		ret = -EINVAL; /* looping nothing is a mistake in the test, not silence */
		goto out;
	}
	if ((uint64_t)st.st_size > FILE_MAX_BYTES) {
		ret = -EFBIG;
		goto out;
	}
	*data = malloc((size_t)st.st_size);
	if (!*data) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, *data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	*size = got;
out:
	if (ret < 0) {
		free(*data);
		*data = NULL;
	}
	close(fd);
	return ret;
}

static int get_uint(snd_config_t *n, const char *id, long min, long max, unsigned *out)
{
	long v;

	if (snd_config_get_integer(n, &v) < 0 || v < min || v > max) {
		SNDERR("vwfake: %s must be an integer in %ld..%ld", id, min, max);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* The numbers of the configuration block, each a field of its own with its range. */
struct vf_conf {
	unsigned rate, channels, period_min, period_max, buffer_max;
};

static int vf_field(snd_config_t *n, const char *id, void *ctx)
{
	struct vf_conf *c = ctx;
	const struct {
		const char *id;
		long min, max;
		unsigned *value;
	} fields[] = {
		{"rate", 1000, 768000, &c->rate},
		{"channels", 1, 32, &c->channels},
		{"period_min", 16, 1 << 24, &c->period_min},
		{"period_max", 16, 1 << 24, &c->period_max},
		{"buffer_max", 32, 1 << 25, &c->buffer_max},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(id, fields[i].id))
			return get_uint(n, id, fields[i].min, fields[i].max, fields[i].value);
	SNDERR("vwfake: unknown field %s", id);
	return -EINVAL;
}

/* *out = a copy of a non-empty environment value, else NULL. */
static int dup_env(const char *name, char **out)
{
	const char *v = getenv(name);

	*out = v && *v ? strdup(v) : NULL;
	return v && *v && !*out ? -ENOMEM : 0;
}

SND_PCM_PLUGIN_DEFINE_FUNC(vwfake);

SND_PCM_PLUGIN_DEFINE_FUNC(vwfake)
{
	struct vf_conf cf = {.rate = 48000, .channels = 2};
	struct vwfake *pd;
	const char *file = NULL, *env_file;
	unsigned fb;
	int ret;

	(void)root;
	ret = vw_fakealsa_fields(conf, "vwfake", &file, vf_field, &cf);
	if (ret < 0)
		return ret;
	unsigned rate = cf.rate, channels = cf.channels, period_min = cf.period_min, period_max = cf.period_max,
		 buffer_max = cf.buffer_max;
	if (stream != SND_PCM_STREAM_CAPTURE) {
		SNDERR("vwfake: capture only");
		return -EINVAL;
	}
	if (!period_min)
		period_min = rate / 100 > 16 ? rate / 100 : 16;
	if (!buffer_max)
		buffer_max = rate / 2 > 2 * period_min ? rate / 2 : 2 * period_min;
	if (!period_max)
		period_max = buffer_max / 2;
	fb = channels * 2;
	if (period_max < period_min || buffer_max < 2 * period_min ||
	    (uint64_t)buffer_max * fb > UINT32_MAX) {
		SNDERR("vwfake: need period_min <= period_max and 2 * period_min <= buffer_max");
		return -EINVAL;
	}

	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->timer_fd = -1;
	pthread_mutex_init(&pd->lock, NULL);
	pd->rate = rate;
	pd->channels = channels;
	pd->frame_bytes = fb;
	if ((ret = dup_env("VWFAKEMIC_LOG", &pd->log_path)) < 0 ||
	    (ret = dup_env("VWFAKEMIC_FAIL", &pd->fail_path)) < 0)
		goto fail;
	if (failing(pd)) {
		vf_log(pd->log_path, "refused op=open name=%s", name);
		ret = -ENOENT;
		goto fail;
	}
	env_file = getenv("VWFAKEMIC_FILE");
	if (env_file)
		file = env_file;
	if (file && *file) {
		ret = load_file(file, &pd->data, &pd->size);
		if (ret < 0) {
			SNDERR("vwfake: cannot load %s: %s", file, strerror(-ret));
			goto fail;
		}
	}
	pd->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pd->timer_fd < 0) {
		ret = -errno;
		goto fail;
	}

	pd->io.version = SND_PCM_IOPLUG_VERSION;
	pd->io.name = "vw fake microphone";
	pd->io.callback = &vf_callbacks;
	pd->io.private_data = pd;
	pd->io.poll_fd = pd->timer_fd;
	pd->io.poll_events = POLLIN;
	/* BOUNDARY_WA: a reader more than a buffer behind must still see the true distance. */
	pd->io.flags = SND_PCM_IOPLUG_FLAG_MONOTONIC | SND_PCM_IOPLUG_FLAG_BOUNDARY_WA;
	ret = snd_pcm_ioplug_create(&pd->io, name, stream, mode);
	if (ret < 0)
		goto fail;
	if ((ret = snd_pcm_ioplug_set_param_list(&pd->io, SND_PCM_IOPLUG_HW_ACCESS, 2, vf_accesses)) < 0 ||
	    (ret = snd_pcm_ioplug_set_param_list(&pd->io, SND_PCM_IOPLUG_HW_FORMAT, 1, vf_formats)) < 0 ||
	    (ret = snd_pcm_ioplug_set_param_minmax(&pd->io, SND_PCM_IOPLUG_HW_CHANNELS, channels, channels)) < 0 ||
	    (ret = snd_pcm_ioplug_set_param_minmax(&pd->io, SND_PCM_IOPLUG_HW_RATE, rate, rate)) < 0 ||
	    (ret = snd_pcm_ioplug_set_param_minmax(&pd->io, SND_PCM_IOPLUG_HW_PERIOD_BYTES,
						   period_min * fb, period_max * fb)) < 0 ||
	    (ret = snd_pcm_ioplug_set_param_minmax(&pd->io, SND_PCM_IOPLUG_HW_BUFFER_BYTES,
						   2 * period_min * fb, buffer_max * fb)) < 0 ||
	    (ret = snd_pcm_ioplug_set_param_minmax(&pd->io, SND_PCM_IOPLUG_HW_PERIODS, 2, 1024)) < 0)
		goto fail;

	vf_log(pd->log_path,
	       "open name=%s rate=%u channels=%u period_min=%u period_max=%u buffer_max=%u source=%s bytes=%zu",
	       name, rate, channels, period_min, period_max, buffer_max, pd->data ? file : "silence", pd->size);
	*pcmp = pd->io.pcm;
	return 0;

fail:
	if (pd->io.pcm)
		snd_pcm_ioplug_delete(&pd->io); /* calls vf_close, which frees pd */
	else
		vf_free(pd);
	return ret;
}

SND_PCM_PLUGIN_SYMBOL(vwfake);
