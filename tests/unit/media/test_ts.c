/* Tests of the ingest's pure byte-stream parts: vw_chunked (HTTP/1.1 chunked bodies: slicing,
 * framing errors, where the body ends, bodies past 4 GiB) and vw_ts (MPEG-TS realignment, sync and
 * resync, rejection of other input, key chunks), the latter checked against FFmpeg: keyframes
 * counted by libavformat, and decoding that starts at every key chunk. */
#include "vw_chunked.h"
#include "vw_test.h"
#include "vw_ts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#define PKT VW_TS_PACKET
#define SAMPLE VW_TEST_MEDIA("sample-jsmpeg.ts")

static void fill(uint8_t *p, size_t n, size_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(((seed + i) * 2654435761u) >> 24);
}

/* Random bytes with no 0x47 in them. Junk that has one exactly 188 or 376 bytes before the real
 * stream would, by the three-sync-bytes rule, rightly take one junk packet along: exactness is
 * only to be expected without. */
static void junk(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)vw_test_rand(&seed, 256);
		if (p[i] == 0x47)
			p[i] = 0x48;
	}
}

static int pid_of(const uint8_t *p)
{
	return (p[1] & 0x1f) << 8 | p[2];
}

/* ==== vw_chunked ==== */

static void test_chunked_slices(void)
{
	size_t n = 300000;
	uint8_t *payload = malloc(n), *body = malloc(n + n / 4 + 100000), *out = malloc(n + 64);
	unsigned seed = 12345;
	fill(payload, n, 7);

	for (int round = 0; round < 40; round++) {
		size_t blen = vw_test_chunk_body(payload, n, body, round % 2, &seed);
		/* what follows the body is not its payload */
		strcpy((char *)body + blen, "POST /next HTTP/1.1\r\n");
		size_t total = blen + strlen((char *)body + blen), got = 0, pos = 0, used = 0;
		bool in_place = round % 2;
		struct vw_chunked d = {0};
		/* slices of 1..3 bytes, then up to 200, then up to 100 kB */
		unsigned max = round < 10 ? 3 : round < 20 ? 200 : 100000;
		while (pos < total) {
			size_t slice = 1 + vw_test_rand(&seed, max);
			if (slice > total - pos)
				slice = total - pos;
			size_t k = vw_chunked_feed(&d, body + pos, slice, in_place ? body + pos : out + got);
			if (in_place)
				memmove(out + got, body + pos, k);
			got += k;
			used += d.consumed;
			pos += slice;
		}
		CU_ASSERT_TRUE(d.done);
		CU_ASSERT_FALSE(d.error);
		CU_ASSERT_EQUAL(got, n);
		CU_ASSERT(got == n && memcmp(out, payload, n) == 0);
		CU_ASSERT_EQUAL(used, blen); /* not a byte of the next request */
	}
	free(payload);
	free(body);
	free(out);
}

static void test_chunked_errors(void)
{
	static const struct {
		const char *in;
		size_t at; /* where consuming stops: the offending byte */
	} bad[] = {
		{"zz\r\n", 0},                 /* not hex */
		{"\r\n", 0},                   /* no size */
		{"5\r\nabcdeX\r\n", 8},        /* no CRLF after the data */
		{"5\nabcde\r\n", 1},           /* bare LF */
		{"3;ext\nabc", 5},             /* bare LF after an extension */
		{"0\r\nX: y\rZ", 8},           /* broken trailer line */
		{"fffffffffffffffff\r\n", 16}, /* size overflow */
		{"3\r\nabc\r\n-1\r\n", 8},     /* negative */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vw_chunked d = {0};
		uint8_t out[64];
		vw_chunked_feed(&d, (const uint8_t *)bad[i].in, strlen(bad[i].in), out);
		CU_ASSERT_TRUE(d.error);
		CU_ASSERT_FALSE(d.done);
		CU_ASSERT_EQUAL(d.consumed, bad[i].at);
		/* an error is final */
		CU_ASSERT_EQUAL(vw_chunked_feed(&d, (const uint8_t *)"3\r\nabc\r\n", 8, out), 0);
		CU_ASSERT_EQUAL(d.consumed, 0);
		CU_ASSERT_TRUE(d.error);
	}
	/* an empty body is a body, and input after the end is left alone */
	struct vw_chunked d = {0};
	uint8_t out[64];
	CU_ASSERT_EQUAL(vw_chunked_feed(&d, (const uint8_t *)"0\r\n\r\n", 5, out), 0);
	CU_ASSERT_TRUE(d.done);
	CU_ASSERT_EQUAL(d.consumed, 5);
	CU_ASSERT_EQUAL(vw_chunked_feed(&d, (const uint8_t *)"3\r\nabc\r\n", 8, out), 0);
	CU_ASSERT_EQUAL(d.consumed, 0);
	CU_ASSERT_FALSE(d.error);
}

/* Every way of cutting a body in two, and in three around its framing, decodes the same, in
 * place and not, and stops right after the final CRLF. */
static void test_chunked_every_boundary(void)
{
	static const char body[] = "5\r\nhello\r\n1;name=value\r\n,\r\nB\r\n 0123456789\r\n"
				   "00\r\nTrailer-One: 1\r\nTrailer-Two: 2\r\n\r\n";
	static const char after[] = "GET / HTTP/1.1\r\n";
	static const char payload[] = "hello, 0123456789";
	size_t blen = strlen(body), plen = strlen(payload);
	char in[sizeof(body) + sizeof(after)];
	uint8_t buf[sizeof(in)], out[sizeof(in)];
	size_t total;
	int bad = 0;

	snprintf(in, sizeof(in), "%s%s", body, after);
	total = strlen(in);
	for (size_t a = 0; a <= total; a++) {
		for (size_t b = a; b <= total; b++) {
			size_t cut[4] = {0, a, b, total}, got = 0, used = 0;
			bool in_place = (a + b) % 2;
			struct vw_chunked d = {0};
			memcpy(buf, in, total);
			for (int k = 0; k < 3; k++) {
				uint8_t *p = buf + cut[k];
				bool was_done = d.done;
				size_t n = vw_chunked_feed(&d, p, cut[k + 1] - cut[k], in_place ? p : out + got);
				if (in_place)
					memmove(out + got, p, n);
				got += n;
				used += d.consumed;
				if (d.done && !was_done && cut[k] + d.consumed != blen)
					bad++; /* the end is where the body ends, in whichever piece */
			}
			if (!d.done || d.error || got != plen || memcmp(out, payload, plen) || used != blen)
				bad++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* 70000 chunks of 64 KiB: 4.6 GB, past every 32-bit counter, without holding it. Decoded in
 * place, as the ingest does, where a piece that is all payload costs no copy; every 1000th chunk
 * goes through a separate buffer and is compared. */
static void test_chunked_over_4gib(void)
{
	enum { N = 70000, CH = 65536 };
	size_t hl = strlen("10000\r\n"), ulen = hl + CH + 2;
	uint64_t got = 0; /* a size_t would wrap on a 32-bit target: the decoder itself counts nothing */
	uint8_t *unit = malloc(ulen), *out = malloc(ulen);
	struct vw_chunked d = {0};
	int bad = 0;
	int64_t t0 = vw_test_now_ns();

	memcpy(unit, "10000\r\n", hl);
	fill(unit + hl, CH, 99);
	memcpy(unit + hl + CH, "\r\n", 2);
	for (int i = 0; i < N && !d.error; i++) {
		size_t n;
		if (i % 1000 == 0) {
			n = vw_chunked_feed(&d, unit, ulen, out);
			bad += n != CH || d.consumed != ulen || memcmp(out, unit + hl, CH) != 0;
		} else {
			n = vw_chunked_feed(&d, unit, hl, out); /* the size line: no payload */
			bad += n != 0 || d.consumed != hl;
			n = vw_chunked_feed(&d, unit + hl, CH + 2, unit + hl);
			bad += n != CH || d.consumed != CH + 2;
		}
		got += n;
	}
	CU_ASSERT_EQUAL(vw_chunked_feed(&d, (const uint8_t *)"0\r\n\r\nX", 6, out), 0);
	CU_ASSERT_EQUAL(d.consumed, 5);
	CU_ASSERT_TRUE(d.done);
	CU_ASSERT_FALSE(d.error);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(got, (uint64_t)N * CH);
	CU_ASSERT(got > 0xffffffffu);
	printf("\n    %" PRIu64 " payload bytes in %.2f s ", got, (double)(vw_test_now_ns() - t0) / 1e9);
	free(unit);
	free(out);
}

/* One chunk of 4 GiB + 16 bytes: legal HTTP, and the size must not depend on the width of size_t
 * (a 32-bit decoder refused the size line as an overflow). Decoded in place, 64 KiB at a time. */
static void test_chunked_one_chunk_over_4gib(void)
{
	enum { CH = 65536 };
	const uint64_t size = 0x100000010ULL;
	uint8_t *buf = malloc(CH), out[64];
	struct vw_chunked d = {0};
	uint64_t got = 0;
	int bad = 0;

	CU_ASSERT_FATAL(buf != NULL);
	fill(buf, CH, 7);
	CU_ASSERT_EQUAL(vw_chunked_feed(&d, (const uint8_t *)"100000010\r\n", 11, out), 0);
	CU_ASSERT_EQUAL(d.consumed, 11);
	CU_ASSERT_FALSE(d.error);
	CU_ASSERT_EQUAL(d.left, size);
	for (uint64_t i = 0; i < size / CH && !d.error; i++) {
		size_t n = vw_chunked_feed(&d, buf, CH, buf);
		bad += n != CH || d.consumed != CH;
		got += n;
	}
	/* the last 16 bytes of payload, the chunk's CRLF, the last chunk and the end; then what follows */
	static const char tail[] = "0123456789abcdef\r\n0\r\n\r\nGET";
	uint8_t t[sizeof(tail)];
	memcpy(t, tail, sizeof(tail));
	size_t n = vw_chunked_feed(&d, t, strlen(tail), t);
	got += n;
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(memcmp(t, "0123456789abcdef", 16), 0);
	CU_ASSERT_EQUAL(d.consumed, strlen(tail) - 3);
	CU_ASSERT_TRUE(d.done);
	CU_ASSERT_FALSE(d.error);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(got, size);
	free(buf);
}

/* ==== vw_ts ==== */

/* Everything the splitter hands out, and whether each chunk kept the rules. */
struct out {
	uint8_t *buf;
	size_t len, cap;
	size_t chunks, bad_chunks, biggest;
	size_t *keys; /* offsets in buf of the key chunks */
	size_t n_keys, keys_cap;
};

static void on_chunk(void *opaque, const uint8_t *data, size_t len, uint32_t flags)
{
	struct out *o = opaque;
	bool ok = len > 0 && len % PKT == 0 && len <= VW_TS_CHUNK_MAX;

	for (size_t i = 0; ok && i < len; i += PKT)
		ok = data[i] == 0x47;
	o->bad_chunks += !ok;
	o->chunks++;
	if (len > o->biggest)
		o->biggest = len;
	if (flags & VW_CHUNK_KEY) {
		if (o->n_keys == o->keys_cap) {
			o->keys_cap = o->keys_cap ? 2 * o->keys_cap : 64;
			o->keys = realloc(o->keys, o->keys_cap * sizeof(*o->keys));
		}
		o->keys[o->n_keys++] = o->len;
	}
	if (o->len + len > o->cap) {
		o->cap = 2 * (o->len + len);
		o->buf = realloc(o->buf, o->cap);
	}
	memcpy(o->buf + o->len, data, len);
	o->len += len;
}

static void out_free(struct out *o)
{
	free(o->buf);
	free(o->keys);
	memset(o, 0, sizeof(*o));
}

enum { WHOLE = 0, BYTES = 1 }; /* piece sizes for feed(): else random, 1..piece */

/* Feeds data in pieces (WHOLE, BYTES, or random sizes up to `piece` from `seed`) until the end
 * or the first error, which it returns; *fed: the bytes fed, the piece that failed included. */
static int feed(struct vw_ts_split *s, const uint8_t *data, size_t len, size_t piece, unsigned seed, struct out *o,
		size_t *fed)
{
	size_t pos = 0;
	int ret = 0;

	while (pos < len && ret == 0) {
		size_t n = piece == WHOLE ? len : piece == BYTES ? 1 : 1 + vw_test_rand(&seed, (unsigned)piece);
		if (n > len - pos)
			n = len - pos;
		ret = vw_ts_split_feed(s, data + pos, n, on_chunk, o);
		pos += n;
	}
	if (fed)
		*fed = pos;
	return ret;
}

static struct vw_ts_split *split_new(void)
{
	struct vw_ts_split *s = malloc(sizeof(*s));
	vw_ts_split_init(s);
	return s;
}

static void split_free(struct vw_ts_split *s)
{
	vw_ts_split_fini(s);
	free(s);
}

/* ---- FFmpeg's view, over bytes in memory ---- */

struct mem {
	const uint8_t *p;
	size_t len, pos;
	uint8_t *w; /* written */
	size_t wlen, wcap;
};

static int mem_read(void *opaque, uint8_t *buf, int size)
{
	struct mem *m = opaque;
	size_t n = m->len - m->pos < (size_t)size ? m->len - m->pos : (size_t)size;

	if (!n)
		return AVERROR_EOF;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (int)n;
}

static int mem_write(void *opaque, uint8_t *buf, int size)
{
	struct mem *m = opaque;

	if (m->wlen + (size_t)size > m->wcap) {
		m->wcap = 2 * (m->wlen + (size_t)size);
		m->w = realloc(m->w, m->wcap);
	}
	memcpy(m->w + m->wlen, buf, (size_t)size);
	m->wlen += (size_t)size;
	return size;
}

static AVFormatContext *open_mem(struct mem *m)
{
	AVFormatContext *fc = avformat_alloc_context();
	uint8_t *iob = av_malloc(4096);

	fc->pb = avio_alloc_context(iob, 4096, 0, m, mem_read, NULL, NULL);
	fc->flags |= AVFMT_FLAG_CUSTOM_IO;
	if (avformat_open_input(&fc, NULL, av_find_input_format("mpegts"), NULL) < 0)
		return NULL; /* leaks the AVIO context: the test fails anyway */
	if (avformat_find_stream_info(fc, NULL) < 0) {
		avformat_close_input(&fc);
		return NULL;
	}
	return fc;
}

static void close_mem(AVFormatContext *fc)
{
	AVIOContext *pb = fc->pb;

	avformat_close_input(&fc);
	av_freep(&pb->buffer);
	avio_context_free(&pb);
}

/* What libavformat says about the sample: its video keyframes, and the streams' PIDs. */
struct ref {
	int video_pid, audio_pid;
	size_t n_keys;
	int64_t key_pts[64];
};

static void reference(const uint8_t *data, size_t len, struct ref *r)
{
	struct mem m = {.p = data, .len = len};
	AVFormatContext *fc = open_mem(&m);
	AVPacket *pkt = av_packet_alloc();
	int vi, ai;

	memset(r, 0, sizeof(*r));
	r->video_pid = r->audio_pid = -1;
	CU_ASSERT_PTR_NOT_NULL_FATAL(fc);
	vi = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	ai = av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	if (vi >= 0)
		r->video_pid = fc->streams[vi]->id;
	if (ai >= 0)
		r->audio_pid = fc->streams[ai]->id;
	while (av_read_frame(fc, pkt) >= 0) {
		if (pkt->stream_index == vi && (pkt->flags & AV_PKT_FLAG_KEY) && r->n_keys < 64)
			r->key_pts[r->n_keys++] = pkt->pts;
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	close_mem(fc);
}

/* The first video frame libavcodec decodes from data on, with every error made fatal. */
struct first {
	bool got, key, clean;
	int pict_type, errors;
	int64_t pts;
};

static void decode_first(const uint8_t *data, size_t len, struct first *f)
{
	struct mem m = {.p = data, .len = len};
	AVFormatContext *fc = open_mem(&m);
	AVCodecContext *dc = NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	const AVCodec *codec = NULL;
	int vi, r;
	bool eof = false;

	memset(f, 0, sizeof(*f));
	if (!fc || (vi = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)) < 0) {
		f->errors++;
		goto end;
	}
	dc = avcodec_alloc_context3(codec);
	avcodec_parameters_to_context(dc, fc->streams[vi]->codecpar);
	dc->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM | AV_EF_BUFFER;
	if (avcodec_open2(dc, codec, NULL) < 0) {
		f->errors++;
		goto end;
	}
	while (!f->got && !eof) {
		if (av_read_frame(fc, pkt) < 0) {
			eof = true;
			r = avcodec_send_packet(dc, NULL); /* the decoder holds the last reference frame back */
		} else if (pkt->stream_index != vi) {
			av_packet_unref(pkt);
			continue;
		} else {
			r = avcodec_send_packet(dc, pkt);
			av_packet_unref(pkt);
		}
		f->errors += r < 0;
		while (!f->got && (r = avcodec_receive_frame(dc, fr)) >= 0) {
			f->got = true;
			f->key = fr->key_frame;
			f->pict_type = fr->pict_type;
			f->pts = fr->pts;
			f->clean = fr->decode_error_flags == 0 && !(fr->flags & AV_FRAME_FLAG_CORRUPT);
			av_frame_unref(fr);
		}
		f->errors += r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF;
	}
end:
	avcodec_free_context(&dc);
	av_packet_free(&pkt);
	av_frame_free(&fr);
	if (fc)
		close_mem(fc);
}

/* The sample, and what FFmpeg says about it, read once. */
static uint8_t *sample;
static size_t sample_len;
static struct ref sample_ref;

static void load_sample(void)
{
	if (sample)
		return;
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(SAMPLE, &sample, &sample_len), 0);
	reference(sample, sample_len, &sample_ref);
	CU_ASSERT_EQUAL_FATAL(sample_len % PKT, 0);
	/* the file is what the tests think: mpeg1video with a keyframe a second, and mp2 */
	CU_ASSERT_FATAL(sample_ref.n_keys >= 5 && sample_ref.video_pid > 0 && sample_ref.audio_pid > 0);
}

/* The packet at a key chunk's start is the picture itself: the video PID, starting a PES. */
static bool is_key_packet(const uint8_t *p, int video_pid)
{
	return pid_of(p) == video_pid && (p[1] & 0x40);
}

static void check_sample_split(size_t piece, unsigned seed)
{
	struct vw_ts_split *s = split_new();
	struct out o = {0};
	int bad_first = 0;
	size_t pat_first = 0, decoded = 0;

	CU_ASSERT_EQUAL(feed(s, sample, sample_len, piece, seed, &o, NULL), 0);
	CU_ASSERT_EQUAL(o.len, sample_len);
	CU_ASSERT(o.len == sample_len && memcmp(o.buf, sample, sample_len) == 0);
	CU_ASSERT_EQUAL(o.bad_chunks, 0);
	CU_ASSERT_EQUAL(o.n_keys, sample_ref.n_keys);
	CU_ASSERT_EQUAL(s->st.keyframes, sample_ref.n_keys);
	CU_ASSERT_EQUAL(s->st.bytes_in, sample_len);
	CU_ASSERT_EQUAL(s->st.packets, sample_len / PKT);
	CU_ASSERT_EQUAL(s->st.skipped_bytes, 0);
	CU_ASSERT_EQUAL(s->st.resyncs, 0);
	CU_ASSERT_TRUE(s->st.synced);
	CU_ASSERT_TRUE(s->st.has_video);
	CU_ASSERT_EQUAL(s->st.video_pid, sample_ref.video_pid);
	for (size_t k = 0; k < o.n_keys && o.len == sample_len; k++) {
		const uint8_t *p = o.buf + o.keys[k];
		pat_first += pid_of(p) == 0;
		bad_first += pid_of(p) != 0 && !is_key_packet(p, sample_ref.video_pid);
		if (k >= sample_ref.n_keys)
			continue;
		/* from here on, a demuxer finds the streams (from the PAT/PMT in front, or from the
		 * ones that follow) and the first picture is this keyframe */
		struct first f;
		decode_first(p, sample_len - o.keys[k], &f);
		CU_ASSERT_TRUE(f.got);
		CU_ASSERT_EQUAL(f.errors, 0);
		CU_ASSERT_TRUE(f.key);
		CU_ASSERT_TRUE(f.clean);
		CU_ASSERT_EQUAL(f.pict_type, AV_PICTURE_TYPE_I);
		CU_ASSERT_EQUAL(f.pts, sample_ref.key_pts[k]);
		decoded++;
	}
	CU_ASSERT_EQUAL(bad_first, 0);
	/* in one piece every PAT/PMT run is in the same call as its picture */
	if (piece == WHOLE)
		CU_ASSERT_EQUAL(pat_first, o.n_keys);
	/* one byte at a time, each packet is a call of its own and its own chunk, except the first
	 * two: they go out together, with the byte that confirms sync */
	if (piece == BYTES) {
		CU_ASSERT_EQUAL(o.chunks, sample_len / PKT - 1);
		CU_ASSERT_EQUAL(o.biggest, 2 * PKT);
		CU_ASSERT_EQUAL(pat_first, 0);
	}
	CU_ASSERT_EQUAL(decoded, o.n_keys);
	printf("\n    pieces of 1..%zu bytes: %zu chunks, %zu key (%zu with their PAT/PMT), %zu decode from there ",
	       piece == WHOLE ? sample_len : piece, o.chunks, o.n_keys, pat_first, decoded);
	out_free(&o);
	split_free(s);
}

static void test_ts_sample_whole(void)
{
	load_sample();
	check_sample_split(WHOLE, 0);
}

static void test_ts_sample_random_pieces(void)
{
	load_sample();
	for (unsigned seed = 1; seed <= 4; seed++)
		check_sample_split(5000, seed);
	/* pieces around the packet size and the chunk bound */
	check_sample_split(400, 77);
	check_sample_split(200000, 78);
}

static void test_ts_sample_bytes(void)
{
	load_sample();
	check_sample_split(BYTES, 0);
}

/* A long run without a place to cut, in one piece: chunks of 348 packets, the last one shorter. */
static void test_ts_chunk_bound(void)
{
	struct vw_ts_split *s = split_new();
	struct out o = {0};
	size_t n = 2000;
	uint8_t *stream = malloc(n * PKT);

	/* packets of a PID nobody announced, no PES start: nothing to cut at but the bound */
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = stream + i * PKT;
		memset(p, 0xff, PKT);
		p[0] = 0x47;
		p[1] = 0x01;
		p[2] = 0x23;
		p[3] = 0x10 | (i & 15);
	}
	CU_ASSERT_EQUAL(feed(s, stream, n * PKT, WHOLE, 0, &o, NULL), 0);
	CU_ASSERT_EQUAL(o.bad_chunks, 0);
	CU_ASSERT_EQUAL(o.len, n * PKT);
	CU_ASSERT_EQUAL(o.chunks, (n + 347) / 348);
	CU_ASSERT_EQUAL(o.n_keys, 0);
	CU_ASSERT_FALSE(s->st.has_video);
	CU_ASSERT_EQUAL(o.biggest, VW_TS_CHUNK_MAX);
	out_free(&o);
	split_free(s);
	free(stream);
}

static void check_junk_prefix(size_t jlen, size_t piece, unsigned seed)
{
	struct vw_ts_split *s = split_new();
	struct out o = {0};
	uint8_t *in = malloc(jlen + sample_len);

	junk(in, jlen, seed);
	memcpy(in + jlen, sample, sample_len);
	CU_ASSERT_EQUAL(feed(s, in, jlen + sample_len, piece, seed, &o, NULL), 0);
	CU_ASSERT_EQUAL(s->st.skipped_bytes, jlen);
	CU_ASSERT_EQUAL(s->st.resyncs, 0);
	CU_ASSERT_EQUAL(s->st.bytes_in, jlen + sample_len);
	CU_ASSERT_EQUAL(o.bad_chunks, 0);
	CU_ASSERT(o.len == sample_len && memcmp(o.buf, sample, sample_len) == 0);
	CU_ASSERT_EQUAL(o.n_keys, sample_ref.n_keys);
	out_free(&o);
	split_free(s);
	free(in);
}

static void test_ts_junk_prefix(void)
{
	load_sample();
	check_junk_prefix(1000, WHOLE, 1);
	check_junk_prefix(1000, 5000, 2);
	check_junk_prefix(1000, BYTES, 3);
	check_junk_prefix(1, 300, 4);
	/* the last length tolerated: sync found at offset 65535 */
	check_junk_prefix(VW_TS_SYNC_WINDOW - 1, 5000, 5);
	check_junk_prefix(VW_TS_SYNC_WINDOW - 1, WHOLE, 6);
}

/* Junk made of sync bytes at the wrong distances: candidates come and go before the real one. */
static void test_ts_junk_false_candidates(void)
{
	load_sample();
	struct vw_ts_split *s = split_new();
	struct out o = {0};
	size_t jlen = 5000;
	uint8_t *in = malloc(jlen + sample_len);

	junk(in, jlen, 9);
	/* pairs 188 apart, and a run of them; none can make a third with the stream's own */
	for (size_t i = 0; i <= 4000; i += 500)
		in[i] = in[i + PKT] = 0x47;
	memset(in + 2200, 0x47, 100);
	memcpy(in + jlen, sample, sample_len);
	CU_ASSERT_EQUAL(feed(s, in, jlen + sample_len, 1000, 9, &o, NULL), 0);
	CU_ASSERT_EQUAL(s->st.skipped_bytes, jlen);
	CU_ASSERT(o.len == sample_len && memcmp(o.buf, sample, sample_len) == 0);
	out_free(&o);
	split_free(s);
	free(in);
}

/* Junk after sync: at a packet boundary nothing is lost; inside a packet, that packet is damaged
 * (its tail is junk) and the stream continues in step after it. */
static void check_junk_midstream(size_t piece, unsigned seed)
{
	size_t a = 1000 * PKT, b = 2000 * PKT + 100, jl = 500;
	size_t len = sample_len + 2 * jl;
	uint8_t *in = malloc(len), *want = malloc(sample_len);
	struct vw_ts_split *s = split_new();
	struct out o = {0};

	/* sample[0..a) junk sample[a..b) junk sample[b..) */
	memcpy(in, sample, a);
	junk(in + a, jl, seed);
	memcpy(in + a + jl, sample + a, b - a);
	junk(in + jl + b, jl, seed + 1);
	memcpy(in + b + 2 * jl, sample + b, sample_len - b);
	/* the packet cut at b is completed with 88 bytes of junk; its real tail is skipped */
	memcpy(want, sample, sample_len);
	memcpy(want + b, in + jl + b, PKT - 100);

	CU_ASSERT_EQUAL(feed(s, in, len, piece, seed, &o, NULL), 0);
	CU_ASSERT_EQUAL(s->st.resyncs, 2);
	CU_ASSERT_EQUAL(s->st.skipped_bytes, 2 * jl);
	CU_ASSERT_TRUE(s->st.synced);
	CU_ASSERT_EQUAL(o.bad_chunks, 0);
	CU_ASSERT(o.len == sample_len && memcmp(o.buf, want, sample_len) == 0);
	CU_ASSERT_EQUAL(o.n_keys, sample_ref.n_keys);
	out_free(&o);
	split_free(s);
	free(in);
	free(want);
}

static void test_ts_junk_midstream(void)
{
	load_sample();
	check_junk_midstream(WHOLE, 1);
	check_junk_midstream(5000, 2);
	check_junk_midstream(BYTES, 3);
}

/* Sync lost for good: the splitter gives up VW_TS_SYNC_WINDOW bytes later, and stays given up. */
static void test_ts_sync_lost(void)
{
	load_sample();
	size_t keep = 500 * PKT, jl = 100000, fed;
	uint8_t *in = malloc(keep + jl);
	struct vw_ts_split *s = split_new();
	struct out o = {0};

	memcpy(in, sample, keep);
	junk(in + keep, jl, 5);
	CU_ASSERT_EQUAL(feed(s, in, keep + jl, 3000, 5, &o, &fed), -EBADMSG);
	CU_ASSERT(fed >= keep + VW_TS_SYNC_WINDOW && fed < keep + VW_TS_SYNC_WINDOW + 3000);
	CU_ASSERT_EQUAL(s->st.resyncs, 1);
	CU_ASSERT(s->st.skipped_bytes >= VW_TS_SYNC_WINDOW && s->st.skipped_bytes < VW_TS_SYNC_WINDOW + 3000);
	CU_ASSERT(o.len == keep && memcmp(o.buf, sample, keep) == 0);
	/* even good input is refused now */
	CU_ASSERT_EQUAL(vw_ts_split_feed(s, sample, sample_len, on_chunk, &o), -EBADMSG);
	CU_ASSERT_EQUAL(o.len, keep);
	out_free(&o);

	/* at the start: a junk prefix one byte longer than tolerated */
	vw_ts_split_init(s);
	free(in);
	in = malloc(VW_TS_SYNC_WINDOW + sample_len);
	junk(in, VW_TS_SYNC_WINDOW, 6);
	memcpy(in + VW_TS_SYNC_WINDOW, sample, sample_len);
	CU_ASSERT_EQUAL(feed(s, in, VW_TS_SYNC_WINDOW + sample_len, WHOLE, 0, &o, NULL), -EBADMSG);
	CU_ASSERT_EQUAL(o.len, 0);
	CU_ASSERT_FALSE(s->st.synced);
	out_free(&o);
	split_free(s);
	free(in);
}

static void check_not_ts(const char *what, const uint8_t *in, size_t len)
{
	static const size_t pieces[] = {WHOLE, BYTES, 1000, 9000};

	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct vw_ts_split *s = split_new();
		struct out o = {0};
		size_t fed;
		int ret = feed(s, in, len, pieces[i], 3, &o, &fed);
		if (ret != -EBADMSG || o.len || s->st.synced)
			printf("\n    %s, pieces %zu: %d after %zu bytes, %zu emitted ", what, pieces[i], ret, fed,
			       o.len);
		CU_ASSERT_EQUAL(ret, -EBADMSG);
		CU_ASSERT_EQUAL(o.len, 0);
		CU_ASSERT_FALSE(s->st.synced);
		/* refused as soon as the window is used up, not at the end of the input */
		CU_ASSERT(pieces[i] != BYTES || fed <= VW_TS_SYNC_WINDOW + 2 * PKT + 1);
		CU_ASSERT_EQUAL(vw_ts_split_feed(s, sample, sample_len, on_chunk, &o), -EBADMSG);
		CU_ASSERT_EQUAL(o.len, 0);
		out_free(&o);
		split_free(s);
	}
}

static void test_ts_not_mpegts(void)
{
	size_t n = 100 * 1024;
	uint8_t *buf = malloc(n);
	uint8_t *tone;
	size_t tone_len;
	unsigned seed = 42;

	load_sample();
	/* an HTML page, as a misdirected browser or crawler would send */
	static const char page[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>vw</title></head>\n"
				   "<body><canvas id=\"video\"></canvas><script src=\"jsmpeg.min.js\"></script>\n"
				   "<p>Gallia est omnis divisa in partes tres, quarum unam incolunt Belgae.</p>\n";
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)page[i % (sizeof(page) - 1)];
	check_not_ts("html", buf, n);
	/* a PNG: signature, IHDR, then noise */
	static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)vw_test_rand(&seed, 256);
	memcpy(buf, png, sizeof(png));
	check_not_ts("png", buf, n);
	memset(buf, 0, n);
	check_not_ts("zeros", buf, n);
	/* near misses: sync bytes 187 apart, and pairs 188 apart that never make three */
	memset(buf, 0, n);
	for (size_t i = 0; i < n; i += 187)
		buf[i] = 0x47;
	check_not_ts("sync bytes 187 apart", buf, n);
	memset(buf, 0, n);
	for (size_t i = 0; i + PKT < n; i += 3 * PKT)
		buf[i] = buf[i + PKT] = 0x47;
	check_not_ts("sync byte pairs", buf, n);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(VW_TEST_MEDIA("tone-48k-stereo.s16le"), &tone, &tone_len), 0);
	check_not_ts("s16le", tone, tone_len);
	free(tone);
	free(buf);
}

/* Synthetic TS packets, for what the sample does not show. */
static void ts_packet(uint8_t *p, int pid, bool pusi, bool rai, const uint8_t *payload, size_t n)
{
	size_t hdr = 4;

	memset(p, 0xff, PKT);
	p[0] = 0x47;
	p[1] = (uint8_t)((pusi ? 0x40 : 0) | pid >> 8);
	p[2] = (uint8_t)pid;
	p[3] = 0x10;
	if (rai) {
		p[3] |= 0x20;
		p[4] = 1;
		p[5] = 0x40;
		hdr = 6;
	}
	memcpy(p + hdr, payload, n);
}

static void ts_pat(uint8_t *p, int pmt_pid)
{
	uint8_t s[] = {0, 0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, (uint8_t)(0xe0 | pmt_pid >> 8), (uint8_t)pmt_pid,
		       0, 0, 0, 0};
	ts_packet(p, 0, true, false, s, sizeof(s));
}

static void ts_pmt(uint8_t *p, int pmt_pid, int type, int es_pid)
{
	uint8_t hi = (uint8_t)(0xe0 | es_pid >> 8), lo = (uint8_t)es_pid;
	/* PCR on the stream itself, no program descriptors, one stream without descriptors, CRC */
	uint8_t s[] = {0, 0x02, 0xb0, 18, 0, 1, 0xc1, 0, 0, hi, lo, 0xf0, 0, (uint8_t)type, hi, lo, 0xf0, 0,
		       0, 0, 0, 0};
	ts_packet(p, pmt_pid, true, false, s, sizeof(s));
}

/* A PES start with an MPEG-2 header (5 bytes of PTS), then es. */
static void ts_pes(uint8_t *p, int pid, int sid, bool rai, const uint8_t *es, size_t n)
{
	uint8_t b[PKT];
	uint8_t h[] = {0, 0, 1, (uint8_t)sid, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1};
	memcpy(b, h, sizeof(h));
	memcpy(b + sizeof(h), es, n);
	ts_packet(p, pid, true, rai, b, sizeof(h) + n);
}

static size_t split_all(const uint8_t *in, size_t len, struct out *o, struct vw_ts_split_stats *st)
{
	struct vw_ts_split *s = split_new();
	CU_ASSERT_EQUAL(feed(s, in, len, WHOLE, 0, o, NULL), 0);
	*st = s->st;
	split_free(s);
	return o->n_keys;
}

/* Which PES starts are key points, per codec, and how the PMT and the PES stream_id decide what
 * is video. */
static void test_ts_key_rules(void)
{
	static const uint8_t mpeg_i[] = {0, 0, 1, 0xb3, 0x28, 0x01, 0xe0, 0x14};
	/* a P picture whose first slices fit in the packet: slice 5 looks like an H.264 IDR */
	static const uint8_t mpeg_p[] = {0, 0, 1, 0x00, 0, 0x50, 0, 0, 1, 0x01, 0x12, 0, 0, 1, 0x05, 0x34,
					 0, 0, 1, 0x07};
	static const uint8_t h264_idr[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x65};
	static const uint8_t h264_p[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x41, 0x9a, 0x00};
	static const uint8_t mp2[] = {0xff, 0xfd, 0x84, 0x00};
	uint8_t in[32 * PKT];
	struct out o = {0};
	struct vw_ts_split_stats st;
	size_t n = 0;

	/* MPEG-2 video per the PMT: a sequence header or the random-access flag makes a key point */
	ts_pat(in + n++ * PKT, 0x1000);
	ts_pmt(in + n++ * PKT, 0x1000, 0x02, 0x100);
	ts_pes(in + n++ * PKT, 0x101, 0xc0, false, mp2, sizeof(mp2)); /* audio: not once video is known */
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_p, sizeof(mpeg_p));
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i)); /* key 1 */
	ts_packet(in + n++ * PKT, 0x100, false, false, mpeg_i, sizeof(mpeg_i)); /* not a PES start */
	ts_pes(in + n++ * PKT, 0x100, 0xe0, true, mpeg_p, sizeof(mpeg_p)); /* key 2: RAI */
	ts_pes(in + n++ * PKT, 0x101, 0xc0, false, mp2, sizeof(mp2));
	CU_ASSERT_EQUAL(split_all(in, n * PKT, &o, &st), 2);
	CU_ASSERT_EQUAL(st.video_pid, 0x100);
	CU_ASSERT_TRUE(st.has_video);
	CU_ASSERT_EQUAL(st.keyframes, 2);
	CU_ASSERT(o.n_keys == 2 && o.keys[0] == 4 * PKT && o.keys[1] == 6 * PKT);
	out_free(&o);

	/* H.264 per the PMT: IDR or SPS; an MPEG sequence header code means nothing there */
	n = 0;
	ts_pat(in + n++ * PKT, 0x1000);
	ts_pmt(in + n++ * PKT, 0x1000, 0x1b, 0x100);
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, h264_p, sizeof(h264_p));
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i));
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, h264_idr, sizeof(h264_idr)); /* key */
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, h264_p, sizeof(h264_p));
	CU_ASSERT_EQUAL(split_all(in, n * PKT, &o, &st), 1);
	CU_ASSERT(o.n_keys == 1 && o.keys[0] == 4 * PKT);
	out_free(&o);

	/* no PMT: audio PES starts are key points until a video stream_id shows up */
	n = 0;
	ts_pes(in + n++ * PKT, 0x101, 0xc0, false, mp2, sizeof(mp2)); /* key */
	ts_packet(in + n++ * PKT, 0x101, false, false, mp2, sizeof(mp2));
	ts_pes(in + n++ * PKT, 0x101, 0xc0, false, mp2, sizeof(mp2)); /* key */
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_p, sizeof(mpeg_p));
	ts_pes(in + n++ * PKT, 0x101, 0xc0, false, mp2, sizeof(mp2));
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i)); /* key */
	CU_ASSERT_EQUAL(split_all(in, n * PKT, &o, &st), 3);
	CU_ASSERT(o.n_keys == 3 && o.keys[0] == 0 && o.keys[1] == 2 * PKT && o.keys[2] == 5 * PKT);
	CU_ASSERT_EQUAL(st.video_pid, 0x100);
	out_free(&o);

	/* a PMT run split by something else is no run: the key chunk starts at the picture */
	n = 0;
	ts_pat(in + n++ * PKT, 0x1000);
	ts_pmt(in + n++ * PKT, 0x1000, 0x02, 0x100);
	ts_pes(in + n++ * PKT, 0x101, 0xc0, false, mp2, sizeof(mp2));
	ts_pmt(in + n++ * PKT, 0x1000, 0x02, 0x100);
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i)); /* key, alone */
	ts_pat(in + n++ * PKT, 0x1000);
	ts_pmt(in + n++ * PKT, 0x1000, 0x02, 0x100);
	ts_packet(in + n++ * PKT, 0x1fff, false, false, mp2, 0); /* stuffing does not break a run */
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i)); /* key, with PAT, PMT */
	CU_ASSERT_EQUAL(split_all(in, n * PKT, &o, &st), 2);
	CU_ASSERT(o.n_keys == 2 && o.keys[0] == 4 * PKT && o.keys[1] == 5 * PKT);
	CU_ASSERT_EQUAL(o.chunks, 3);
	out_free(&o);
}

/* A PAT/PMT run that lands at the end of a full chunk is kept for the key chunk after it. */
static void test_ts_pat_run_at_chunk_bound(void)
{
	static const uint8_t mpeg_i[] = {0, 0, 1, 0xb3, 0x28, 0x01, 0xe0, 0x14};
	static const uint8_t mpeg_p[] = {0, 0, 1, 0x00, 0, 0x50};
	size_t n = 0, total = 800;
	uint8_t *in = malloc(total * PKT);
	struct out o = {0};
	struct vw_ts_split_stats st;

	ts_pat(in + n++ * PKT, 0x1000);
	ts_pmt(in + n++ * PKT, 0x1000, 0x02, 0x100);
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i)); /* key chunk 0 */
	while (n < 347)
		ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_p, sizeof(mpeg_p));
	ts_pat(in + n++ * PKT, 0x1000); /* packet 348 of the chunk: the last that fits */
	ts_pmt(in + n++ * PKT, 0x1000, 0x02, 0x100);
	ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_i, sizeof(mpeg_i)); /* key chunk 1 */
	while (n < total)
		ts_pes(in + n++ * PKT, 0x100, 0xe0, false, mpeg_p, sizeof(mpeg_p));
	CU_ASSERT_EQUAL(split_all(in, n * PKT, &o, &st), 2);
	CU_ASSERT_EQUAL(o.bad_chunks, 0);
	CU_ASSERT(o.n_keys == 2 && o.keys[0] == 0 && o.keys[1] == 347 * PKT);
	CU_ASSERT(o.n_keys == 2 && pid_of(o.buf + o.keys[1]) == 0);
	CU_ASSERT_EQUAL(o.len, total * PKT);
	out_free(&o);
	free(in);
}

/* The audio of the sample alone, remuxed by libavformat into memory: an audio-only ingest. */
static void audio_only(uint8_t **data, size_t *len)
{
	struct mem in = {.p = sample, .len = sample_len}, out = {0};
	AVFormatContext *ic = open_mem(&in), *oc = NULL;
	AVPacket *pkt = av_packet_alloc();
	int ai;

	*data = NULL;
	*len = 0;
	CU_ASSERT_PTR_NOT_NULL_FATAL(ic);
	ai = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
	CU_ASSERT_FATAL(ai >= 0);
	CU_ASSERT_EQUAL_FATAL(avformat_alloc_output_context2(&oc, NULL, "mpegts", NULL), 0);
	AVStream *os = avformat_new_stream(oc, NULL);
	avcodec_parameters_copy(os->codecpar, ic->streams[ai]->codecpar);
	os->codecpar->codec_tag = 0;
	oc->pb = avio_alloc_context(av_malloc(4096), 4096, 1, &out, NULL, mem_write, NULL);
	CU_ASSERT_EQUAL_FATAL(avformat_write_header(oc, NULL), 0);
	while (av_read_frame(ic, pkt) >= 0) {
		if (pkt->stream_index == ai) {
			av_packet_rescale_ts(pkt, ic->streams[ai]->time_base, os->time_base);
			pkt->stream_index = 0;
			CU_ASSERT_EQUAL(av_interleaved_write_frame(oc, pkt), 0);
		}
		av_packet_unref(pkt);
	}
	CU_ASSERT_EQUAL(av_write_trailer(oc), 0);
	avio_flush(oc->pb);
	av_freep(&oc->pb->buffer);
	avio_context_free(&oc->pb);
	avformat_free_context(oc);
	av_packet_free(&pkt);
	close_mem(ic);
	*data = out.w;
	*len = out.wlen;
}

static void test_ts_audio_only(void)
{
	static const size_t pieces[] = {WHOLE, BYTES, 5000};
	uint8_t *in;
	size_t len;
	struct ref ref;

	load_sample();
	audio_only(&in, &len);
	CU_ASSERT_FATAL(len > 100 * PKT && len % PKT == 0);
	reference(in, len, &ref);
	CU_ASSERT_EQUAL(ref.video_pid, -1);
	CU_ASSERT(ref.audio_pid > 0);
	/* the PES starts of the audio PID, counted off the packets */
	size_t pes = 0;
	for (size_t i = 0; i < len; i += PKT)
		pes += pid_of(in + i) == ref.audio_pid && (in[i + 1] & 0x40);
	CU_ASSERT(pes > 10);
	printf("\n    audio only: %zu bytes, %zu PES starts ", len, pes);

	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		struct vw_ts_split *s = split_new();
		struct out o = {0};
		int bad_first = 0;
		CU_ASSERT_EQUAL(feed(s, in, len, pieces[k], 11, &o, NULL), 0);
		CU_ASSERT(o.len == len && memcmp(o.buf, in, len) == 0);
		CU_ASSERT_EQUAL(o.bad_chunks, 0);
		CU_ASSERT_FALSE(s->st.has_video);
		CU_ASSERT_EQUAL(s->st.video_pid, -1);
		CU_ASSERT_EQUAL(o.n_keys, pes);
		CU_ASSERT_EQUAL(s->st.keyframes, pes);
		for (size_t i = 0; i < o.n_keys; i++) {
			const uint8_t *p = o.buf + o.keys[i];
			bad_first += pid_of(p) != 0 && !(pid_of(p) == ref.audio_pid && (p[1] & 0x40));
		}
		CU_ASSERT_EQUAL(bad_first, 0);
		out_free(&o);
		split_free(s);
	}
	free(in);
}

static void free_sample(void)
{
	free(sample);
}

static const struct vw_test_suite suite = {.av = VW_TEST_AV_ERRORS, .teardown = free_sample};

VW_TEST_SUITE("ts", &suite,
	      {"chunked_slices", test_chunked_slices},
	      {"chunked_errors", test_chunked_errors},
	      {"chunked_every_boundary", test_chunked_every_boundary},
	      {"chunked_over_4gib", test_chunked_over_4gib},
	      {"chunked_one_chunk_over_4gib", test_chunked_one_chunk_over_4gib},
	      {"ts_sample_whole", test_ts_sample_whole},
	      {"ts_sample_random_pieces", test_ts_sample_random_pieces},
	      {"ts_sample_bytes", test_ts_sample_bytes},
	      {"ts_chunk_bound", test_ts_chunk_bound},
	      {"ts_junk_prefix", test_ts_junk_prefix},
	      {"ts_junk_false_candidates", test_ts_junk_false_candidates},
	      {"ts_junk_midstream", test_ts_junk_midstream},
	      {"ts_sync_lost", test_ts_sync_lost},
	      {"ts_not_mpegts", test_ts_not_mpegts},
	      {"ts_key_rules", test_ts_key_rules},
	      {"ts_pat_run_at_chunk_bound", test_ts_pat_run_at_chunk_bound},
	      {"ts_audio_only", test_ts_audio_only})
