/* vw_fakecam_picture: see vw_fakecam_picture.h. */
#include "vw_fakecam_picture.h"

#include "vw_fakecam.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

static uint8_t clamp_luma(int v)
{
	return (uint8_t)(v < 16 ? 16 : v > 235 ? 235 : v);
}

int vw_fakecam_picture_init(struct vw_fakecam_picture *p, uint32_t w, uint32_t h, int brightness)
{
	uint32_t tw = 2 * w;
	int bright = (brightness - 128) / 2;

	vw_fakecam_picture_free(p);
	p->tile = malloc((size_t)tw * 2 * h);
	p->bar = malloc((size_t)w * 2);
	if (!p->tile || !p->bar) {
		vw_fakecam_picture_free(p);
		return -ENOMEM;
	}
	p->width = w;
	p->height = h;
	/* Diagonal luma ramp with hue varying across and down: scrolling it moves every macroblock,
	 * which is what an encoder under test must cope with. */
	for (uint32_t y = 0; y < h; y++) {
		uint8_t *row = p->tile + (size_t)y * tw * 2;
		for (uint32_t x = 0; x < tw; x += 2) {
			uint32_t xx = x % w;
			row[2 * x + 0] = clamp_luma(16 + (int)((xx + y) * 219 / (w + h)) + bright);
			row[2 * x + 1] = (uint8_t)(64 + xx * 128 / w);
			row[2 * x + 2] = clamp_luma(16 + (int)((xx + 1 + y) * 219 / (w + h)) + bright);
			row[2 * x + 3] = (uint8_t)(64 + y * 128 / h);
		}
	}
	return 0;
}

void vw_fakecam_picture_free(struct vw_fakecam_picture *p)
{
	free(p->tile);
	free(p->bar);
	p->tile = p->bar = NULL;
	p->width = p->height = 0;
}

void vw_fakecam_picture_frame(struct vw_fakecam_picture *p, uint32_t seq)
{
	int bw = VW_FAKECAM_BAR_BIT_WIDTH((int)p->width);

	for (uint32_t x = 0; x < p->width; x++) {
		uint32_t bit = x / (uint32_t)bw;
		uint8_t luma = VW_FAKECAM_LUMA_ZERO;
		if (bit < VW_FAKECAM_BAR_BITS && (seq >> (VW_FAKECAM_BAR_BITS - 1 - bit)) & 1u)
			luma = VW_FAKECAM_LUMA_ONE;
		p->bar[2 * x] = luma;
		p->bar[2 * x + 1] = 128;
	}
}

const uint8_t *vw_fakecam_picture_row(const struct vw_fakecam_picture *p, uint32_t seq, uint32_t y)
{
	size_t stride = (size_t)p->width * 2;
	uint32_t shift = (seq * 8) % p->width & ~1u; /* 8 px to the left per frame */

	if (y < VW_FAKECAM_BAR_ROWS)
		return p->bar;
	return p->tile + (size_t)y * stride * 2 + (size_t)shift * 2;
}
