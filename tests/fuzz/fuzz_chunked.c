/* Fuzz target: vw_chunked, the HTTP/1.1 chunked-body decoder that every ingest POST and chunked
 * API body goes through. Input: one byte k, then k % 8 piece-size bytes, then the body as it
 * arrives on the socket. The body is decoded three ways, which must agree byte for byte: in one
 * call, in pieces of the drawn sizes, and in place (out == in, as vw_http does). */
#include "vw_chunked.h"
#include "vw_fuzz.h"

struct result {
	size_t out_len, consumed;
	bool done, error;
};

/* Decodes in[0..len) in pieces; out has room for len bytes (may be in itself). */
static struct result decode(const uint8_t *in, size_t len, uint8_t *out, struct vw_fuzz_pieces *ps)
{
	struct vw_chunked d = {0};
	struct result r = {0};
	size_t off = 0;

	while (off < len && !d.done && !d.error) {
		size_t n = vw_fuzz_piece(ps, len - off);
		size_t o = vw_chunked_feed(&d, in + off, n, out + r.out_len);
		VW_FUZZ_CHECK(d.consumed <= n);
		VW_FUZZ_CHECK(o <= d.consumed); /* payload never outgrows its framing */
		/* a call stops early only at the end of the body or at an error */
		VW_FUZZ_CHECK(d.consumed == n || d.done || d.error);
		r.out_len += o;
		r.consumed += d.consumed;
		off += n;
	}
	if (d.done || d.error) { /* after either, nothing more is taken */
		uint8_t more[4] = {'1', '\r', '\n', 'x'}, sink[4];
		VW_FUZZ_CHECK(vw_chunked_feed(&d, more, sizeof(more), sink) == 0);
		VW_FUZZ_CHECK(d.consumed == 0);
	}
	r.done = d.done;
	r.error = d.error;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	size_t k = data[0] % 8u;
	if (size < 1 + k)
		return 0;
	struct vw_fuzz_pieces whole = {0}, bits = {.sizes = data + 1, .n = k};
	const uint8_t *in = data + 1 + k;
	size_t len = size - 1 - k;
	/* at least one byte each, so malloc(0) never muddies the comparison */
	uint8_t *a = malloc(len + 1), *b = malloc(len + 1), *c = malloc(len + 1);

	if (!a || !b || !c)
		goto out;
	struct result ra = decode(in, len, a, &whole);
	struct result rb = decode(in, len, b, &bits);
	memcpy(c, in, len);
	struct result rc = decode(c, len, c, &bits);

	VW_FUZZ_CHECK(ra.consumed <= len && !(ra.done && ra.error));
	VW_FUZZ_CHECK(ra.out_len == rb.out_len && ra.consumed == rb.consumed);
	VW_FUZZ_CHECK(ra.done == rb.done && ra.error == rb.error);
	VW_FUZZ_CHECK(!memcmp(a, b, ra.out_len));
	VW_FUZZ_CHECK(ra.out_len == rc.out_len && ra.consumed == rc.consumed && ra.done == rc.done);
	VW_FUZZ_CHECK(!memcmp(a, c, ra.out_len));
	/* input that is not all used stopped at the end of the body or at a bad byte */
	VW_FUZZ_CHECK(ra.consumed == len || ra.done || ra.error);
out:
	free(a);
	free(b);
	free(c);
	return 0;
}
