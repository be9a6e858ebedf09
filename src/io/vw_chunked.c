/* vw_chunked: see vw_chunked.h. */
#include "vw_chunked.h"

#include <string.h>

enum {
	DC_SIZE,         /* hex digits of a chunk size */
	DC_EXT,          /* chunk extension, ignored up to CR */
	DC_SIZE_LF,
	DC_DATA,
	DC_DATA_CR,
	DC_DATA_LF,
	DC_TRAILER,      /* after the zero-size chunk: a trailer line or the final empty line */
	DC_TRAILER_LINE, /* a trailer field, ignored up to CR */
	DC_TRAILER_LF,
	DC_END_LF,
	DC_DONE,
};

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t vw_chunked_feed(struct vw_chunked *d, const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < len && !d->done && !d->error) {
		uint8_t c = in[i];
		switch (d->state) {
		case DC_SIZE: {
			int v = hexval(c);
			if (v >= 0 && d->left <= (UINT64_MAX >> 4)) {
				d->left = d->left * 16 + (uint64_t)v;
				d->digits++;
				i++;
			} else if (v < 0 && d->digits && (c == ';' || c == ' ' || c == '\t')) {
				d->state = DC_EXT;
				i++;
			} else if (v < 0 && d->digits && c == '\r') {
				d->state = DC_SIZE_LF;
				i++;
			} else {
				d->error = true;
			}
			break;
		}
		case DC_EXT:
			if (c == '\n') {
				d->error = true;
				break;
			}
			if (c == '\r')
				d->state = DC_SIZE_LF;
			i++;
			break;
		case DC_SIZE_LF:
			if (c != '\n') {
				d->error = true;
				break;
			}
			i++;
			d->digits = 0;
			d->state = d->left ? DC_DATA : DC_TRAILER;
			break;
		case DC_DATA: {
			size_t n = (uint64_t)(len - i) < d->left ? len - i : (size_t)d->left;
			/* out may be in (o never passes i); a piece that is all payload is already in place */
			if (out + o != in + i)
				memmove(out + o, in + i, n);
			o += n;
			i += n;
			d->left -= n;
			if (!d->left)
				d->state = DC_DATA_CR;
			break;
		}
		case DC_DATA_CR:
		case DC_DATA_LF:
		case DC_TRAILER_LF:
		case DC_END_LF:
			if (c != (d->state == DC_DATA_CR ? '\r' : '\n')) {
				d->error = true;
				break;
			}
			i++;
			if (d->state == DC_END_LF)
				d->done = true;
			d->state = d->state == DC_DATA_CR  ? DC_DATA_LF
				   : d->state == DC_DATA_LF ? DC_SIZE
				   : d->state == DC_END_LF  ? DC_DONE
							    : DC_TRAILER;
			break;
		case DC_TRAILER:
			d->state = c == '\r' ? DC_END_LF : DC_TRAILER_LINE;
			i++;
			break;
		case DC_TRAILER_LINE:
			if (c == '\r')
				d->state = DC_TRAILER_LF;
			i++;
			break;
		default:
			d->error = true;
			break;
		}
	}
	d->consumed = i;
	return o;
}

