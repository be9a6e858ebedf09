/* vw_chunked: the HTTP/1.1 chunked transfer coding, decoded as it streams in (ffmpeg's HTTP
 * output sends its POST chunked, and the libwebsockets server passes the framing through). Owns
 * nothing but the decoder's state: no limit on the body's total length, so an ingest can run for
 * days. Pure. */
#ifndef VW_CHUNKED_H
#define VW_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vw_chunked {
	int state;
	int digits;
	uint64_t left; /* of the current chunk: HTTP allows any size, also past 4 GiB on a 32-bit box */
	size_t consumed; /* input bytes the last call used: what follows the body is not part of it */
	bool done;  /* the zero-size chunk and the trailer section have been read */
	bool error; /* malformed framing; further input is ignored */
};

/* Decodes in[0..len) into out, which has room for len bytes and may be in itself. Returns the
 * number of payload bytes written. Stops consuming at the end of the body (in[consumed..len) is
 * what follows it) or at an error (in[consumed] is the offending byte); after either, further
 * calls consume nothing. */
size_t vw_chunked_feed(struct vw_chunked *d, const uint8_t *in, size_t len, uint8_t *out);

#endif
