/* Fuzz target: vw_ts, the MPEG-TS aligner and keyframe finder behind /ts ingest. Input: one byte
 * k, then k % 8 piece-size bytes, then the byte stream as an encoder sends it. Every emitted chunk
 * must be whole packets in sync; the stream is split twice, in one call and in pieces of the drawn
 * sizes, and both must hand out the same packets, find the same keyframes and agree on sync. */
#include "vw_fuzz.h"
#include "vw_ts.h"

#include <errno.h>

struct sink {
	uint8_t *buf;
	size_t cap, len;
	uint64_t chunks, keys;
};

static void on_chunk(void *opaque, const uint8_t *data, size_t len, uint32_t flags)
{
	struct sink *s = opaque;

	VW_FUZZ_CHECK(len > 0 && len % VW_TS_PACKET == 0 && len <= VW_TS_CHUNK_MAX);
	VW_FUZZ_CHECK(s->len + len <= s->cap); /* packets come from the input: never more of them */
	for (size_t i = 0; i < len; i += VW_TS_PACKET)
		VW_FUZZ_CHECK(data[i] == 0x47);
	VW_FUZZ_CHECK((flags & ~(uint32_t)VW_CHUNK_KEY) == 0);
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->chunks++;
	s->keys += (flags & VW_CHUNK_KEY) != 0;
}

static int split(struct vw_ts_split *ts, const uint8_t *in, size_t len, struct vw_fuzz_pieces *ps, struct sink *s)
{
	size_t off = 0;
	int ret = 0;

	vw_ts_split_init(ts);
	while (off < len) {
		size_t n = vw_fuzz_piece(ps, len - off);
		int r = vw_ts_split_feed(ts, in + off, n, on_chunk, s);
		VW_FUZZ_CHECK(r == 0 || r == -EBADMSG);
		VW_FUZZ_CHECK(ret == 0 || r == ret); /* once refused, always refused */
		ret = r;
		off += n;
	}
	VW_FUZZ_CHECK(ts->st.packets * VW_TS_PACKET == s->len);
	VW_FUZZ_CHECK(ts->st.keyframes == s->keys); /* every keyframe starts a chunk of its own */
	VW_FUZZ_CHECK(ts->st.bytes_in <= len && ts->st.skipped_bytes <= len);
	VW_FUZZ_CHECK(ts->st.has_video == (ts->st.video_pid >= 0));
	vw_ts_split_fini(ts);
	return ret;
}

/* The splitters are ~66 KiB each: on the heap, not the stack. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vw_ts_split *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct sink sa = {0}, sb = {0};

	if (!size || size < 1 + data[0] % 8u || !a || !b)
		goto out;
	size_t k = data[0] % 8u;
	struct vw_fuzz_pieces whole = {0}, bits = {.sizes = data + 1, .n = k};
	const uint8_t *in = data + 1 + k;
	size_t len = size - 1 - k;

	sa.cap = sb.cap = len;
	sa.buf = malloc(len + 1);
	sb.buf = malloc(len + 1);
	if (!sa.buf || !sb.buf)
		goto out;
	int ra = split(a, in, len, &whole, &sa);
	int rb = split(b, in, len, &bits, &sb);

	VW_FUZZ_CHECK(ra == rb);
	VW_FUZZ_CHECK(sa.len == sb.len && !memcmp(sa.buf, sb.buf, sa.len));
	VW_FUZZ_CHECK(a->st.keyframes == b->st.keyframes && a->st.resyncs == b->st.resyncs);
	VW_FUZZ_CHECK(a->st.synced == b->st.synced && a->st.video_pid == b->st.video_pid);
	if (!ra) /* a refusal may come at a different byte count, depending on where the pieces end */
		VW_FUZZ_CHECK(a->st.skipped_bytes == b->st.skipped_bytes);
out:
	free(sa.buf);
	free(sb.buf);
	free(a);
	free(b);
	return 0;
}
