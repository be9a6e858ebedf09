/* Tests of the fake microphone (tests/fake/vw_fakemic.c) through the code paths that will use it:
 * libavdevice's ALSA input in-process, the ffmpeg command line, and alsa-lib directly (hw
 * constraints, a non-blocking poll reader). Bytes, pace, looping, overrun recovery and the
 * VWFAKEMIC_FAIL switch are all checked against measured values. */
#include "vw_test.h"

#include <alsa/asoundlib.h>
#include <errno.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RATE 48000
#define CHANNELS 2
#define FRAME_BYTES (CHANNELS * 2)
#define BYTES_PER_S (RATE * FRAME_BYTES)
#define BUFFER_S 0.5 /* the fake's default buffer_max, which FFmpeg takes whole */
#define TONE VW_TEST_MEDIA("tone-48k-stereo.s16le")

/* A failed precondition makes the rest of a test meaningless: record it and go to cleanup (a
 * fatal CUnit assert would longjmp past the cleanup and leak, which the sanitized run reports). */
#define REQUIRE(cond) \
	do { \
		bool ok_ = (cond); \
		CU_assertImplementation(ok_, __LINE__, "REQUIRE(" #cond ")", __FILE__, "", CU_FALSE); \
		if (!ok_) \
			goto out; \
	} while (0)

/* FFmpeg messages the tests look for, counted by log_cb. */
static int n_xrun_msgs;
static int n_recover_fail_msgs;

static void log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
	char line[1024];
	va_list copy;

	va_copy(copy, vl);
	vsnprintf(line, sizeof(line), fmt, copy);
	va_end(copy);
	if (strstr(line, "ALSA buffer xrun"))
		n_xrun_msgs++;
	if (strstr(line, "cannot recover"))
		n_recover_fail_msgs++;
	av_log_default_callback(avcl, level, fmt, vl);
}

/* A blocking av_read_frame has no timeout of its own; a stuck test must still end. */
static void watchdog_fired(int sig)
{
	static const char msg[] = "test_fakemic: watchdog expired, a read is stuck\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing left to try */
	}
	_exit(124);
}

static void watchdog(unsigned seconds)
{
	signal(SIGALRM, watchdog_fired);
	alarm(seconds);
}

static void clear_env(void)
{
	unsetenv("VWFAKEMIC_FILE");
	unsetenv("VWFAKEMIC_LOG");
	unsetenv("VWFAKEMIC_FAIL");
}

/* Deterministic bytes with no period a capture could alias with (xorshift32). */
static uint8_t *make_pattern(size_t len, uint32_t seed)
{
	uint8_t *p = malloc(len);
	uint32_t x = seed ? seed : 1;

	if (!p)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 24);
	}
	return p;
}

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int count_lines(const char *path, const char *prefix)
{
	uint8_t *data;
	size_t len;
	int n = 0;

	if (vw_test_read_file(path, &data, &len) < 0)
		return -1;
	data[len] = 0; /* vw_test_read_file leaves room for it */
	for (const char *l = (const char *)data; *l;) {
		const char *nl = strchr(l, '\n');

		if (!strncmp(l, prefix, strlen(prefix)))
			n++;
		if (!nl)
			break;
		l = nl + 1;
	}
	free(data);
	return n;
}

static int open_mic(const char *pcm, int rate, int channels, AVFormatContext **ctx)
{
	const AVInputFormat *fmt = av_find_input_format("alsa");
	AVDictionary *opts = NULL;
	char v[32];
	int ret;

	*ctx = NULL;
	if (!fmt)
		return AVERROR_DEMUXER_NOT_FOUND;
	snprintf(v, sizeof(v), "%d", rate);
	av_dict_set(&opts, "sample_rate", v, 0);
	snprintf(v, sizeof(v), "%d", channels);
	av_dict_set(&opts, "channels", v, 0);
	ret = avformat_open_input(ctx, pcm, fmt, &opts);
	av_dict_free(&opts);
	return ret;
}

struct capture {
	uint8_t *data;
	size_t len, cap;
};

/* One stretch of reading: when it was called, when its first and last packets arrived. */
struct phase {
	size_t start;     /* capture offset of its first byte */
	size_t first_len; /* bytes in its first packet */
	int packets;
	int64_t t_call, t_first, t_last;
};

/* Appends packets until `want` more bytes arrived, av_read_frame fails, or timeout_ms passed.
 * Returns 0 or the AVERROR that stopped it. */
static int read_for(AVFormatContext *ctx, struct capture *c, size_t want, int timeout_ms, struct phase *ph)
{
	int ret = 0;
	AVPacket *pkt = av_packet_alloc();
	size_t target = c->len + want;
	int64_t deadline = vw_test_now_ns() + (int64_t)timeout_ms * 1000000;

	memset(ph, 0, sizeof(*ph));
	ph->start = c->len;
	ph->t_call = vw_test_now_ns();
	if (!pkt)
		return AVERROR(ENOMEM);
	while (c->len < target) {
		if (vw_test_now_ns() > deadline) {
			ret = AVERROR(ETIMEDOUT);
			break;
		}
		ret = av_read_frame(ctx, pkt);
		if (ret == AVERROR(EAGAIN)) {
			vw_test_sleep_ms(1);
			continue;
		}
		if (ret < 0)
			break;
		if (c->len + (size_t)pkt->size > c->cap) {
			size_t cap = (c->len + (size_t)pkt->size) * 2;
			uint8_t *d = realloc(c->data, cap);

			if (!d) {
				ret = AVERROR(ENOMEM);
				break;
			}
			c->data = d;
			c->cap = cap;
		}
		memcpy(c->data + c->len, pkt->data, (size_t)pkt->size);
		c->len += (size_t)pkt->size;
		ph->t_last = vw_test_now_ns();
		if (!ph->packets++) {
			ph->t_first = ph->t_last;
			ph->first_len = (size_t)pkt->size;
		}
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	return ret;
}

/* Real time between the first and last packet of a phase over the audio time it carried after
 * the first packet. */
static double pace_ratio(const struct capture *c, const struct phase *ph, int bytes_per_s)
{
	double audio_s = (double)(c->len - ph->start - ph->first_len) / bytes_per_s;
	double wall_s = (double)(ph->t_last - ph->t_first) / 1e9;

	printf("    pace: %.4f s of audio in %.4f s (ratio %.4f), %d packets, first packet %zu bytes\n",
	       audio_s, wall_s, audio_s > 0 ? wall_s / audio_s : 0.0, ph->packets, ph->first_len);
	return audio_s > 0 ? wall_s / audio_s : 0.0;
}

static int64_t cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

/* Offset of the first byte where `got` differs from `ref` looped, or -1 if it is all equal. */
static long first_mismatch(const uint8_t *got, size_t len, const uint8_t *ref, size_t ref_len, size_t ref_start)
{
	size_t pos = ref_start % ref_len;

	for (size_t i = 0; i < len; i++) {
		if (got[i] != ref[pos])
			return (long)i;
		if (++pos == ref_len)
			pos = 0;
	}
	return -1;
}

/* What a test holds, all released by mic_end whatever a REQUIRE left undone: its own directory
 * (made on first use) with the files the fake reads and writes, the bytes the capture should
 * equal, the input and what it captured. A watchdog bounds the test, and the fake's environment
 * is cleared at both ends. */
struct mic_test {
	char *dir;
	char *paths[4];
	int n_paths;
	uint8_t *ref; /* the tone or pattern the capture is compared with */
	size_t ref_len;
	AVFormatContext *ctx;
	struct capture c;
};

static void mic_begin(struct mic_test *t, unsigned watchdog_s)
{
	memset(t, 0, sizeof(*t));
	watchdog(watchdog_s);
	clear_env();
}

/* DIR/name, also set as the fake's environment variable `env` unless that is NULL; NULL when it
 * cannot be made. */
static char *mic_path(struct mic_test *t, const char *name, const char *env)
{
	char *p;

	if (!t->dir)
		t->dir = vw_test_mkdtemp("fakemic");
	if (!t->dir || t->n_paths == (int)(sizeof(t->paths) / sizeof(t->paths[0])))
		return NULL;
	p = path_in(t->dir, name);
	if (!p)
		return NULL;
	t->paths[t->n_paths++] = p;
	if (env)
		setenv(env, p, 1);
	return p;
}

/* The bundled tone as the reference (what the fake plays without a file of the test's own). */
static int mic_tone(struct mic_test *t)
{
	return vw_test_read_file(TONE, &t->ref, &t->ref_len);
}

/* make_pattern(len, seed) as the reference, written to the file the fake then plays. */
static int mic_pattern(struct mic_test *t, size_t len, uint32_t seed)
{
	const char *file = mic_path(t, "pattern.s16le", "VWFAKEMIC_FILE");

	t->ref = make_pattern(len, seed);
	t->ref_len = len;
	if (!file || !t->ref)
		return -ENOMEM;
	return vw_test_write_file(file, t->ref, len);
}

static void mic_end(struct mic_test *t)
{
	avformat_close_input(&t->ctx);
	free(t->c.data);
	free(t->ref);
	if (t->dir)
		vw_test_rmtree(t->dir);
	for (int i = 0; i < t->n_paths; i++)
		free(t->paths[i]);
	free(t->dir);
	clear_env();
	watchdog(0);
}

/* Capture `seconds` of the bundled tone (48 kHz stereo, so plug passes it through untouched) and
 * compare byte for byte from file offset 0. */
static void test_bytes_equal_file(void)
{
	struct mic_test t;
	struct phase ph;
	long mismatch;
	int ret;

	mic_begin(&t, 20);
	REQUIRE(mic_tone(&t) == 0);
	REQUIRE(open_mic("vwfake", RATE, CHANNELS, &t.ctx) == 0);
	ret = read_for(t.ctx, &t.c, 3 * BYTES_PER_S, 6000, &ph);
	CU_ASSERT_EQUAL(ret, 0);
	CU_ASSERT(t.c.len >= 3 * BYTES_PER_S);
	mismatch = first_mismatch(t.c.data, t.c.len, t.ref, t.ref_len, 0);
	printf("    captured %zu bytes in %d packets, first mismatch %ld\n", t.c.len, ph.packets, mismatch);
	CU_ASSERT_EQUAL(mismatch, -1);
out:
	mic_end(&t);
}

static void test_pace(void)
{
	struct mic_test t;
	struct phase ph;
	double ratio;
	int64_t cpu;

	mic_begin(&t, 20);
	REQUIRE(open_mic("vwfake", RATE, CHANNELS, &t.ctx) == 0);
	cpu = cpu_ns();
	REQUIRE(read_for(t.ctx, &t.c, 3 * BYTES_PER_S, 6000, &ph) == 0);
	cpu = cpu_ns() - cpu;
	printf("    first packet %.1f ms after the first read call; cpu %.3f s\n", (ph.t_first - ph.t_call) / 1e6,
	       cpu / 1e9);
	ratio = pace_ratio(&t.c, &ph, BYTES_PER_S);
	CU_ASSERT(ratio > 0.95 && ratio < 1.05);
	/* readers sleep on the timer between periods instead of spinning */
	CU_ASSERT(cpu < (ph.t_last - ph.t_call) / 4);
	/* the first period completes one period (10 ms) after start, not instantly */
	CU_ASSERT(ph.t_first - ph.t_call >= 5000000 && ph.t_first - ph.t_call < 100000000);
out:
	mic_end(&t);
}

/* A short pattern whose length is not even a whole number of frames, so wraps fall anywhere in a
 * period and in a frame: the capture must still be the file repeated, byte for byte. */
static void test_loop_exact(void)
{
	const size_t pat_len = BYTES_PER_S * 3 / 10 + 2; /* 0.3 s and one extra sample */
	struct mic_test t;
	struct phase ph;
	long mismatch;

	mic_begin(&t, 20);
	REQUIRE(mic_pattern(&t, pat_len, 12345) == 0);
	REQUIRE(open_mic("vwfake", RATE, CHANNELS, &t.ctx) == 0);
	REQUIRE(read_for(t.ctx, &t.c, 3 * BYTES_PER_S, 6000, &ph) == 0);
	mismatch = first_mismatch(t.c.data, t.c.len, t.ref, pat_len, 0);
	printf("    pattern %zu bytes, captured %zu bytes = %.2f laps, first mismatch %ld\n", pat_len, t.c.len,
	       (double)t.c.len / pat_len, mismatch);
	CU_ASSERT(t.c.len / pat_len >= 9);
	CU_ASSERT_EQUAL(mismatch, -1);
out:
	mic_end(&t);
}

/* Read 0.5 s, stall for twice the buffer, read 1 s more: exactly one overrun, FFmpeg recovers by
 * itself, and what arrives afterwards is the part of the file that real time has reached. */
static void test_overrun_recovery(void)
{
	const size_t pat_len = 5 * BYTES_PER_S; /* longer than the test: every position is unique */
	const int stall_ms = (int)(BUFFER_S * 2000);
	struct mic_test t;
	struct phase before, after;
	const uint8_t *hit;
	const char *log = NULL;
	double expect_frames, got_frames, err_ms, ratio;
	long mismatch;

	mic_begin(&t, 20);
	REQUIRE(mic_pattern(&t, pat_len, 777) == 0);
	REQUIRE((log = mic_path(&t, "mic.log", "VWFAKEMIC_LOG")) != NULL);
	n_xrun_msgs = 0;

	REQUIRE(open_mic("vwfake", RATE, CHANNELS, &t.ctx) == 0);
	REQUIRE(read_for(t.ctx, &t.c, BYTES_PER_S / 2, 3000, &before) == 0);
	CU_ASSERT_EQUAL(first_mismatch(t.c.data, t.c.len, t.ref, pat_len, 0), -1);
	CU_ASSERT_EQUAL(n_xrun_msgs, 0);

	vw_test_sleep_ms(stall_ms);
	REQUIRE(read_for(t.ctx, &t.c, BYTES_PER_S, 4000, &after) == 0);

	printf("    overruns in plugin log: %d, FFmpeg xrun messages: %d\n", count_lines(log, "overrun "), n_xrun_msgs);
	CU_ASSERT_EQUAL(count_lines(log, "overrun "), 1);
	CU_ASSERT_EQUAL(count_lines(log, "start "), 2);
	CU_ASSERT_EQUAL(n_xrun_msgs, 1);

	/* The stream clock started inside the first read call and restarted inside the first call
	 * after the stall, so the restart position is the real time between those calls. */
	REQUIRE(t.c.len >= after.start + 64);
	hit = memmem(t.ref, pat_len, t.c.data + after.start, 64);
	REQUIRE(hit != NULL);
	got_frames = (double)(hit - t.ref) / FRAME_BYTES;
	expect_frames = (double)(after.t_call - before.t_call) / 1e9 * RATE;
	err_ms = (got_frames - expect_frames) * 1000.0 / RATE;
	printf("    before stall %zu bytes; resumed at file frame %.0f, real time says %.0f (%+.2f ms)\n",
	       after.start, got_frames, expect_frames, err_ms);
	CU_ASSERT(fabs(err_ms) < 20.0);
	CU_ASSERT(got_frames * FRAME_BYTES > (double)after.start + BUFFER_S * BYTES_PER_S);

	mismatch = first_mismatch(t.c.data + after.start, t.c.len - after.start, t.ref, pat_len, (size_t)(hit - t.ref));
	printf("    after recovery %zu bytes, first mismatch %ld\n", t.c.len - after.start, mismatch);
	CU_ASSERT_EQUAL(mismatch, -1);
	ratio = pace_ratio(&t.c, &after, BYTES_PER_S);
	CU_ASSERT(ratio > 0.95 && ratio < 1.05);
out:
	mic_end(&t);
}

static void test_ffmpeg_cli(void)
{
	struct mic_test t;
	const char *out, *log = NULL;
	uint8_t *got = NULL;
	size_t got_len = 0;
	int64_t ns;
	int rc = -1;
	long mismatch;

	mic_begin(&t, 30);
	REQUIRE((out = mic_path(&t, "out.raw", NULL)) != NULL);
	REQUIRE((log = mic_path(&t, "ffmpeg.log", NULL)) != NULL);
	REQUIRE(mic_tone(&t) == 0);
	{
		const char *const argv[] = {"ffmpeg", "-hide_banner", "-nostdin", "-f", "alsa", "-i", "vwfake",
					    "-t", "2", "-f", "s16le", "-y", out, NULL};

		ns = vw_test_now_ns();
		rc = vw_test_run(argv, NULL, log, 15000);
		ns = vw_test_now_ns() - ns;
	}
	printf("    ffmpeg exit %d after %.2f s\n", rc, ns / 1e9);
	CU_ASSERT_EQUAL(rc, 0);
	REQUIRE(vw_test_read_file(out, &got, &got_len) == 0);
	mismatch = first_mismatch(got, got_len, t.ref, t.ref_len, 0);
	printf("    output %zu bytes (%.4f s), first mismatch %ld\n", got_len, (double)got_len / BYTES_PER_S, mismatch);
	CU_ASSERT(got_len > 2 * BYTES_PER_S * 98 / 100 && got_len < 2 * BYTES_PER_S * 102 / 100);
	CU_ASSERT_EQUAL(mismatch, -1);
	CU_ASSERT(ns > 1800000000LL && ns < 10000000000LL);
out:
	if (rc != 0 && log) {
		uint8_t *text;
		size_t n;

		if (vw_test_read_file(log, &text, &n) == 0) {
			text[n] = 0;
			printf("    ffmpeg log:\n%s\n", (char *)text);
			free(text);
		}
	}
	free(got);
	mic_end(&t);
}

/* 44.1 kHz mono through plug: the raw device still runs at 48 kHz stereo underneath, the reader
 * gets converted audio at its own rate in real time. Then 48 kHz mono, where plug only mixes
 * channels, so every sample can be checked against the file (this is the MMAP path of the fake,
 * which plug's converters read through). */
static void test_plug_conversion(void)
{
	const int rate = 44100, bytes_per_s = 44100 * 2;
	struct mic_test t;
	const char *log;
	struct phase ph;
	double sum = 0, rms, ratio;
	size_t n;
	int max_dev = 0;
	int64_t cpu;

	mic_begin(&t, 20);
	REQUIRE((log = mic_path(&t, "mic.log", "VWFAKEMIC_LOG")) != NULL);
	REQUIRE(mic_tone(&t) == 0);
	REQUIRE(open_mic("vwfake", rate, 1, &t.ctx) == 0);
	CU_ASSERT_EQUAL(t.ctx->streams[0]->codecpar->sample_rate, rate);
	CU_ASSERT_EQUAL(t.ctx->streams[0]->codecpar->ch_layout.nb_channels, 1);
	CU_ASSERT_EQUAL(count_lines(log, "hw_params rate=48000 channels=2 "), 1);
	cpu = cpu_ns();
	REQUIRE(read_for(t.ctx, &t.c, 2 * bytes_per_s, 5000, &ph) == 0);
	cpu = cpu_ns() - cpu;
	ratio = pace_ratio(&t.c, &ph, bytes_per_s);
	CU_ASSERT(ratio > 0.95 && ratio < 1.05);
	printf("    cpu %.3f s\n", cpu / 1e9);
	CU_ASSERT(cpu < (ph.t_last - ph.t_call) / 4);

	/* Both channels are -12 dBFS tones, so the mono mix is clearly not silence nor clipping. */
	n = t.c.len / 2;
	for (size_t i = 0; i < n; i++) {
		int16_t s = (int16_t)(t.c.data[2 * i] | t.c.data[2 * i + 1] << 8);

		sum += (double)s * s;
	}
	rms = n ? sqrt(sum / (double)n) : 0;
	printf("    %zu mono samples, rms %.0f\n", n, rms);
	CU_ASSERT(rms > 2000 && rms < 12000);
	avformat_close_input(&t.ctx);

	REQUIRE(open_mic("vwfake", RATE, 1, &t.ctx) == 0);
	t.c.len = 0;
	REQUIRE(read_for(t.ctx, &t.c, RATE / 2 * 2, 3000, &ph) == 0);
	n = t.c.len / 2;
	for (size_t i = 0; i < n && (i + 1) * FRAME_BYTES <= t.ref_len; i++) {
		const uint8_t *f = t.ref + i * FRAME_BYTES;
		int mix = ((int16_t)(f[0] | f[1] << 8) + (int16_t)(f[2] | f[3] << 8)) / 2;
		int got = (int16_t)(t.c.data[2 * i] | t.c.data[2 * i + 1] << 8);
		int dev = abs(got - mix);

		if (dev > max_dev)
			max_dev = dev;
	}
	printf("    48 kHz mono: %zu samples, largest difference from (L+R)/2: %d\n", n, max_dev);
	CU_ASSERT(n >= (size_t)RATE / 2);
	CU_ASSERT(max_dev <= 1);
out:
	mic_end(&t);
}

static void test_fail_switch(void)
{
	struct mic_test t;
	const char *fail, *log;
	struct phase ph;
	int64_t ns;
	int ret;

	mic_begin(&t, 20);
	REQUIRE((fail = mic_path(&t, "gone", "VWFAKEMIC_FAIL")) != NULL);
	REQUIRE((log = mic_path(&t, "mic.log", "VWFAKEMIC_LOG")) != NULL);
	REQUIRE(mic_tone(&t) == 0);

	/* Device gone: open fails. */
	REQUIRE(vw_test_write_file(fail, "", 0) == 0);
	ret = open_mic("vwfake", RATE, CHANNELS, &t.ctx);
	printf("    open while gone: %d (%s)\n", ret, av_err2str(ret));
	CU_ASSERT(ret < 0);
	CU_ASSERT_EQUAL(count_lines(log, "refused op=open"), 1);
	avformat_close_input(&t.ctx);

	/* Back: open works and captures; gone again mid-capture: the next read fails promptly. */
	REQUIRE(unlink(fail) == 0);
	REQUIRE(open_mic("vwfake", RATE, CHANNELS, &t.ctx) == 0);
	REQUIRE(read_for(t.ctx, &t.c, BYTES_PER_S / 4, 3000, &ph) == 0);
	CU_ASSERT_EQUAL(first_mismatch(t.c.data, t.c.len, t.ref, t.ref_len, 0), -1);
	REQUIRE(vw_test_write_file(fail, "", 0) == 0);
	n_recover_fail_msgs = 0;
	ns = vw_test_now_ns();
	ret = read_for(t.ctx, &t.c, BYTES_PER_S, 3000, &ph);
	ns = vw_test_now_ns() - ns;
	printf("    read while gone: %s after %.1f ms, %d packets first\n", av_err2str(ret), ns / 1e6, ph.packets);
	CU_ASSERT_EQUAL(ret, AVERROR(EIO));
	CU_ASSERT(ns < 200000000);
	CU_ASSERT_EQUAL(count_lines(log, "gone "), 1);
	CU_ASSERT_EQUAL(n_recover_fail_msgs, 1);
	avformat_close_input(&t.ctx);

	/* Removing the file brings the device back for the next open. */
	REQUIRE(unlink(fail) == 0);
	REQUIRE(open_mic("vwfake", RATE, CHANNELS, &t.ctx) == 0);
	t.c.len = 0;
	REQUIRE(read_for(t.ctx, &t.c, BYTES_PER_S / 4, 3000, &ph) == 0);
	CU_ASSERT_EQUAL(first_mismatch(t.c.data, t.c.len, t.ref, t.ref_len, 0), -1);
out:
	mic_end(&t);
}

/* The raw device offers exactly its configured format; plug accepts anything. */
static void test_raw_constraints(void)
{
	snd_pcm_t *pcm = NULL;
	snd_pcm_hw_params_t *hw = NULL;
	unsigned rmin = 0, rmax = 0, cmin = 0, cmax = 0;
	snd_pcm_uframes_t pmin = 0, bmax = 0;
	int dir = 0;

	watchdog(20);
	clear_env();
	REQUIRE(snd_pcm_hw_params_malloc(&hw) == 0);
	printf("    (an ALSA \"capture only\" error next is expected)\n");
	CU_ASSERT(snd_pcm_open(&pcm, "vwfake_raw", SND_PCM_STREAM_PLAYBACK, 0) < 0);
	pcm = NULL;

	REQUIRE(snd_pcm_open(&pcm, "vwfake_raw", SND_PCM_STREAM_CAPTURE, 0) == 0);
	REQUIRE(snd_pcm_hw_params_any(pcm, hw) >= 0);
	snd_pcm_hw_params_get_rate_min(hw, &rmin, &dir);
	snd_pcm_hw_params_get_rate_max(hw, &rmax, &dir);
	snd_pcm_hw_params_get_channels_min(hw, &cmin);
	snd_pcm_hw_params_get_channels_max(hw, &cmax);
	snd_pcm_hw_params_get_period_size_min(hw, &pmin, &dir);
	snd_pcm_hw_params_get_buffer_size_max(hw, &bmax);
	printf("    vwfake_raw: rate %u..%u, channels %u..%u, period >= %lu, buffer <= %lu\n", rmin, rmax, cmin,
	       cmax, pmin, bmax);
	CU_ASSERT(rmin == RATE && rmax == RATE && cmin == CHANNELS && cmax == CHANNELS);
	CU_ASSERT(pmin == RATE / 100 && bmax == RATE / 2);
	CU_ASSERT_EQUAL(snd_pcm_hw_params_test_format(pcm, hw, SND_PCM_FORMAT_S16_LE), 0);
	CU_ASSERT(snd_pcm_hw_params_test_format(pcm, hw, SND_PCM_FORMAT_S32_LE) < 0);
	CU_ASSERT(snd_pcm_hw_params_test_rate(pcm, hw, 44100, 0) < 0);
	CU_ASSERT(snd_pcm_hw_params_test_access(pcm, hw, SND_PCM_ACCESS_RW_NONINTERLEAVED) < 0);
	snd_pcm_close(pcm);
	pcm = NULL;

	REQUIRE(snd_pcm_open(&pcm, "vwfake_mono16k_raw", SND_PCM_STREAM_CAPTURE, 0) == 0);
	REQUIRE(snd_pcm_hw_params_any(pcm, hw) >= 0);
	snd_pcm_hw_params_get_rate_min(hw, &rmin, &dir);
	snd_pcm_hw_params_get_rate_max(hw, &rmax, &dir);
	snd_pcm_hw_params_get_channels_max(hw, &cmax);
	printf("    vwfake_mono16k_raw: rate %u..%u, channels <= %u\n", rmin, rmax, cmax);
	CU_ASSERT(rmin == 16000 && rmax == 16000 && cmax == 1);
	snd_pcm_close(pcm);
	pcm = NULL;

	REQUIRE(snd_pcm_open(&pcm, "vwfake", SND_PCM_STREAM_CAPTURE, 0) == 0);
	REQUIRE(snd_pcm_hw_params_any(pcm, hw) >= 0);
	CU_ASSERT_EQUAL(snd_pcm_hw_params_test_rate(pcm, hw, 44100, 0), 0);
	CU_ASSERT_EQUAL(snd_pcm_hw_params_test_format(pcm, hw, SND_PCM_FORMAT_FLOAT_LE), 0);
	CU_ASSERT_EQUAL(snd_pcm_hw_params_test_channels(pcm, hw, 6), 0);
out:
	if (pcm)
		snd_pcm_close(pcm);
	snd_pcm_hw_params_free(hw);
	watchdog(0);
}

/* A non-blocking reader driven by poll(): one wake-up per period, no busy loop, exact bytes. */
static void test_poll_reader(void)
{
	const snd_pcm_uframes_t period = 960; /* 20 ms */
	snd_pcm_t *pcm = NULL;
	snd_pcm_hw_params_t *hw = NULL;
	snd_pcm_uframes_t period_set = period, buffer = 8 * period;
	struct pollfd pfds[4];
	struct mic_test t;
	uint8_t *buf = NULL;
	size_t len = 0, want = BYTES_PER_S;
	int n_pfds, wakeups = 0, empty = 0, timeouts = 0;
	int64_t deadline, t0;

	mic_begin(&t, 20);
	REQUIRE(mic_tone(&t) == 0);
	REQUIRE((buf = malloc(want + period * FRAME_BYTES)) != NULL);
	REQUIRE(snd_pcm_open(&pcm, "vwfake", SND_PCM_STREAM_CAPTURE, SND_PCM_NONBLOCK) == 0);
	REQUIRE(snd_pcm_hw_params_malloc(&hw) == 0);
	REQUIRE(snd_pcm_hw_params_any(pcm, hw) >= 0);
	REQUIRE(snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED) == 0);
	REQUIRE(snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE) == 0);
	REQUIRE(snd_pcm_hw_params_set_channels(pcm, hw, CHANNELS) == 0);
	REQUIRE(snd_pcm_hw_params_set_rate(pcm, hw, RATE, 0) == 0);
	REQUIRE(snd_pcm_hw_params_set_period_size_near(pcm, hw, &period_set, NULL) == 0);
	REQUIRE(snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer) == 0);
	REQUIRE(snd_pcm_hw_params(pcm, hw) == 0);
	REQUIRE(period_set == period);
	n_pfds = snd_pcm_poll_descriptors(pcm, pfds, 4);
	REQUIRE(n_pfds >= 1);
	REQUIRE(snd_pcm_start(pcm) == 0);

	t0 = vw_test_now_ns();
	deadline = t0 + 3000000000LL;
	while (len < want && vw_test_now_ns() < deadline) {
		unsigned short revents = 0;
		snd_pcm_sframes_t r = 0;
		int got = 0;

		if (poll(pfds, (nfds_t)n_pfds, 200) == 0) {
			timeouts++;
			continue;
		}
		REQUIRE(snd_pcm_poll_descriptors_revents(pcm, pfds, (unsigned)n_pfds, &revents) == 0);
		if (!(revents & POLLIN))
			continue;
		wakeups++;
		while (len < want && (r = snd_pcm_readi(pcm, buf + len, period)) > 0) {
			len += (size_t)r * FRAME_BYTES;
			got = 1;
		}
		REQUIRE(len >= want || r == -EAGAIN);
		empty += !got;
	}
	printf("    %zu bytes in %.3f s: %d wake-ups, %d without data, %d poll timeouts (%.0f periods)\n", len,
	       (vw_test_now_ns() - t0) / 1e9, wakeups, empty, timeouts, (double)want / (period * FRAME_BYTES));
	CU_ASSERT(len >= want);
	CU_ASSERT_EQUAL(first_mismatch(buf, len, t.ref, t.ref_len, 0), -1);
	CU_ASSERT(wakeups >= 45 && wakeups <= 55);
	CU_ASSERT(empty <= 2);
	CU_ASSERT_EQUAL(timeouts, 0);
out:
	if (pcm)
		snd_pcm_close(pcm);
	snd_pcm_hw_params_free(hw);
	free(buf);
	mic_end(&t);
}

static int setup(void)
{
	avdevice_register_all();
	av_log_set_callback(log_cb);
	return 0;
}

/* alsa-lib keeps the parsed configuration and the dlopened plugin for the process lifetime;
 * release them so the leak checker sees only real leaks. */
static void teardown(void)
{
	snd_config_update_free_global();
}

static const struct vw_test_suite suite = {.setup = setup, .teardown = teardown};

VW_TEST_SUITE("fakemic", &suite,
	      {"bytes_equal_file", test_bytes_equal_file},
	      {"pace", test_pace},
	      {"loop_exact", test_loop_exact},
	      {"overrun_recovery", test_overrun_recovery},
	      {"ffmpeg_cli", test_ffmpeg_cli},
	      {"plug_conversion", test_plug_conversion},
	      {"fail_switch", test_fail_switch},
	      {"raw_constraints", test_raw_constraints},
	      {"poll_reader", test_poll_reader})
