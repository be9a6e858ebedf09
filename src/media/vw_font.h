/* vw_font: a 5x7 bitmap font drawn into 8-bit luma planes, so the placeholder and test pictures
 * can carry readable text ("NO CAMERA", the time) without a font library on the box. */
#ifndef VW_FONT_H
#define VW_FONT_H

#include <stdint.h>

/* Draws `text` (ASCII; lower case is shown as upper case, unknown characters as spaces) with its
 * top-left corner at (x, y), each font pixel a `scale` x `scale` square of value `luma`. Clips to
 * the plane. Returns the width drawn in pixels. */
int vw_font_draw(uint8_t *plane, int linesize, int width, int height, int x, int y, int scale, uint8_t luma,
		 const char *text);
/* Width in pixels that vw_font_draw would use. */
int vw_font_width(const char *text, int scale);

#endif
