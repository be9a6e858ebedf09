/* vw_fakecam_picture: the fake camera's YUYV pictures, shared by the camera (which writes them into
 * V4L2 buffers) and the benchmark's libav-only floor (which encodes the same pictures without a
 * camera). Owns the moving test pattern and the per-frame barcode (geometry in vw_fakecam.h). */
#ifndef VW_FAKECAM_PICTURE_H
#define VW_FAKECAM_PICTURE_H

#include <stdint.h>

struct vw_fakecam_picture {
	uint32_t width, height;
	uint8_t *tile; /* YUYV pattern, twice the width, scrolled to make motion */
	uint8_t *bar;  /* one YUYV row holding the current frame's barcode */
};

/* (Re)builds the pattern for width x height (width even); brightness is the V4L2 control value
 * (0..255, 128 neutral). Returns 0 or -ENOMEM (the picture is then empty but safe to free). */
int vw_fakecam_picture_init(struct vw_fakecam_picture *p, uint32_t width, uint32_t height, int brightness);
void vw_fakecam_picture_free(struct vw_fakecam_picture *p);

/* Frame `seq`: writes its barcode row, then row y of the picture is vw_fakecam_picture_row(p, seq, y)
 * (width * 2 bytes). Rows point into the picture, so a frame is assembled without copying it twice. */
void vw_fakecam_picture_frame(struct vw_fakecam_picture *p, uint32_t seq);
const uint8_t *vw_fakecam_picture_row(const struct vw_fakecam_picture *p, uint32_t seq, uint32_t y);

#endif
