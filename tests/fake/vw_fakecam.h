/* vw_fakecam: the contract of the fake V4L2 camera (tests/fake/vw_fakecam.c), shared with the tests
 * and benchmarks that read what it produces. Owns the environment variable names and the frame
 * barcode geometry, so the camera and every receiver agree on them.
 *
 * Preload the library (LD_PRELOAD=libvwfakecam.so) and open VWFAKECAM_DEVICE like a real camera.
 *
 * Environment (read at every open of the device, so a test may change it between opens):
 *   VWFAKECAM_DEVICE   path that is the camera (default /dev/video0; it need not exist), or a
 *                      comma-separated list of paths, each its own camera
 *   VWFAKECAM_CARDS    comma-separated QUERYCAP card names of those cameras, in the same order
 *                      (default "vw fake camera", then "vw fake camera 2", ...); camera k's
 *                      bus_info is "usb-0000:00:14.0-<k+1>"
 *   VWFAKECAM_META     comma-separated paths that are metadata nodes, like uvcvideo's second
 *                      node: QUERYCAP says V4L2_CAP_META_CAPTURE | V4L2_CAP_STREAMING, every other
 *                      ioctl (ENUM_FMT for video capture included) fails with EINVAL. Metadata node
 *                      k has camera k's card name and bus_info.
 *                      A path under a .../v4l/ directory (a by-id or by-path link) that resolves to
 *                      a listed path opens that camera or node; other paths are compared as given.
 *   VWFAKECAM_SIZES    YUYV frame sizes offered, "640x480,320x240,1280x720" (the default); the
 *                      first is the power-on format
 *   VWFAKECAM_FPS      frame rates offered, "25,30,15,10,5" (default); the first is the default
 *   VWFAKECAM_MJPEG    file of concatenated JPEG frames: also offer MJPEG at that file's size
 *                      (per camera, see below)
 *   VWFAKECAM_PACE     "realtime" (default): frames on a CLOCK_MONOTONIC grid; "fast": a frame
 *                      whenever one is dequeued
 *   VWFAKECAM_BUFFERS  most buffers REQBUFS grants (default 32, as uvcvideo)
 *   VWFAKECAM_LOG      file to which the camera appends one line per event (see below)
 *   VWFAKECAM_UNPLUG   control file: while it exists the camera is unplugged: open fails with
 *                      ENOENT, ioctl and mmap on descriptors already open fail with ENODEV
 *   VWFAKECAM_STALL    control file: while it exists the camera is present but sends no frames
 *   VWFAKECAM_SLOW     control file: while it exists only every second frame of the grid is
 *                      delivered (low light: a 30 fps camera at 15 fps); the skipped frames'
 *                      sequence numbers are never seen
 *
 * Timing knobs, the real world's variety (per camera: comma-separated, item k for camera k, the
 * last item for cameras beyond the list; VWFAKECAM_MJPEG is per camera in the same way):
 *   VWFAKECAM_REAL_FPS the rate the camera really runs at, "30", "30000/1001", "7.5" (default: the
 *                      rate it claims, which S_PARM/G_PARM report whatever this says)
 *   VWFAKECAM_EXPOSURE_MS how long after its timestamp a frame becomes ready to dequeue (0..100;
 *                      uvcvideo stamps the start of exposure), default 0
 *   VWFAKECAM_JITTER_MS readiness jitter, +-this many ms (0..10, at most a quarter of the frame
 *                      period), pseudo-random but fixed per sequence number: see
 *                      vw_fakecam_ready_ns()
 *   VWFAKECAM_COST_MS  time each successful DQBUF spends inside the ioctl, e.g. "2" (sleeping) or
 *                      "2busy" (spinning on the CPU), as a slow driver or CPU does; default 0
 *
 * Controls (QUERYCTRL with NEXT_CTRL, QUERYMENU, G_CTRL, S_CTRL), uvcvideo-like:
 *   Brightness 0..255 (128; it shifts the picture's luma), Contrast 0..255 (128), Power Line
 *   Frequency menu 0..2 (1 "50 Hz"), Auto Exposure menu 0..3 offering only 1 "Manual Mode" and 3
 *   "Aperture Priority Mode" (3), Exposure Time, Absolute 3..2047 (250), Focus, Absolute 0..250
 *   step 5 (0), Focus, Automatic Continuous boolean (1). Integers are clamped into range and
 *   rounded down to the step; a menu index the menu does not offer is EINVAL. The two absolute
 *   values are refused with EACCES (and flagged INACTIVE) while their auto mode is on.
 *   Values belong to the device path, not the descriptor: every descriptor of it sees them, they
 *   are kept for the life of the process, and VWFAKECAM_UNPLUG resets them to the defaults. Each
 *   S_CTRL appends "s_ctrl pid=P device=D id=0xID value=V" to VWFAKECAM_LOG.
 *
 * Frame barcode (YUYV frames only; MJPEG frames are the file's bytes, untouched):
 *   rows 0..15 carry the frame's 32-bit V4L2 sequence number, most significant bit first, bit k in
 *   columns [k*W, (k+1)*W) with W = VW_FAKECAM_BAR_BIT_WIDTH(width) (16 for widths of 512 and
 *   more); luma 235 for 1 and 16 for 0, chroma 128. Sequence numbers run on across STREAMOFF and
 *   reopen within one process, so a barcode names one frame of that process.
 *
 * MJPEG frames carry no barcode of their own; a file made with a barcode of its frame index k
 * (the build's 1280x720 clip is) shows k = sequence number mod the file's frame count.
 *
 * Capture time: in realtime mode frame i after STREAMON is captured at
 *   t(i) = t0_ns + floor(i * 1e9 * tpf_num / tpf_den)     (CLOCK_MONOTONIC nanoseconds)
 * (tpf is the real frame period, VWFAKECAM_REAL_FPS) and its sequence number is seq0 + i. At
 * every STREAMON the camera appends to VWFAKECAM_LOG
 *   streamon pid=P device=D seq0=S t0_ns=T tpf=N/D interval_ns=I paced=1 format=YUYV size=WxH
 *            exposure_ns=E jitter_ns=J cost_ns=C frames=F claimed=N/D
 * (one line; F is the MJPEG file's frame count, 0 for YUYV) so a receiver that decodes barcode s
 * takes the last streamon line of that pid with seq0 <= s and computes
 * t0_ns + floor((s - seq0) * 1e9 * N / D). The buffer's timestamp is that instant (start of
 * exposure); the frame is ready to dequeue (poll says readable) at vw_fakecam_ready_ns().
 * Frames for which no buffer was queued at their tick are dropped: the sequence number skips.
 * In fast mode there is no grid (paced=0): a frame is captured at the moment it is dequeued. */
#ifndef VW_FAKECAM_H
#define VW_FAKECAM_H

#include <stdint.h>

#define VW_FAKECAM_BAR_ROWS 16
#define VW_FAKECAM_BAR_BITS 32
#define VW_FAKECAM_LUMA_ONE 235
#define VW_FAKECAM_LUMA_ZERO 16

/* Readiness jitter of frame `seq` in ns, within [-jitter_ns, +jitter_ns] (microsecond steps). */
static inline int64_t vw_fakecam_jitter_ns(uint32_t seq, int64_t jitter_ns)
{
	uint32_t x = seq * 0x9E3779B1u;
	int64_t us = jitter_ns / 1000;

	if (us <= 0)
		return 0;
	x ^= x >> 15;
	x *= 0x85EBCA77u;
	x ^= x >> 13;
	return ((int64_t)(x % (uint32_t)(2 * us + 1)) - us) * 1000;
}

/* When frame `seq`, captured (time-stamped) at t_ns, is ready to dequeue: never before t_ns. */
static inline int64_t vw_fakecam_ready_ns(int64_t t_ns, uint32_t seq, int64_t exposure_ns, int64_t jitter_ns)
{
	int64_t r = t_ns + exposure_ns + vw_fakecam_jitter_ns(seq, jitter_ns);
	return r < t_ns ? t_ns : r;
}

/* Bit width in pixels: 16, or narrower (even, >= 2) when 32 bits of 16 px do not fit. */
static inline int VW_FAKECAM_BAR_BIT_WIDTH(int width)
{
	int w = width >= 16 * VW_FAKECAM_BAR_BITS ? 16 : (width / VW_FAKECAM_BAR_BITS) & ~1;
	return w < 2 ? 2 : w;
}

/* Reads the barcode from a luma plane of width x height (8-bit, `linesize` bytes per row) that
 * shows a camera picture of cam_width x cam_height, scaled or not: the cells are where the camera
 * drew them, scaled with the picture. Each bit is the mean of its cell's inner half, so codec
 * ringing at the edges does not matter. Returns 0 and the sequence number, or -1 when a cell is
 * neither clearly dark nor clearly light (not a fake-camera picture, or damaged beyond doubt). */
static inline int vw_fakecam_barcode_read_scaled(const uint8_t *luma, int linesize, int width, int height,
						 int cam_width, int cam_height, uint32_t *seq)
{
	int bw = VW_FAKECAM_BAR_BIT_WIDTH(cam_width);
	int y0 = VW_FAKECAM_BAR_ROWS / 4 * height / cam_height, y1 = VW_FAKECAM_BAR_ROWS * 3 / 4 * height / cam_height;
	uint32_t v = 0;

	if (cam_width < VW_FAKECAM_BAR_BITS * 2 || width <= 0 || height <= 0)
		return -1;
	if (y1 <= y0)
		y1 = y0 + 1;
	for (int k = 0; k < VW_FAKECAM_BAR_BITS; k++) {
		int x0 = (k * bw + bw / 4) * width / cam_width, x1 = ((k + 1) * bw - bw / 4) * width / cam_width;
		unsigned sum = 0, n = 0;
		if (x1 <= x0)
			x1 = x0 + 1;
		for (int y = y0; y < y1; y++)
			for (int x = x0; x < x1; x++, n++)
				sum += luma[y * linesize + x];
		unsigned mean = sum / n;
		if (mean > 170)
			v = (v << 1) | 1u;
		else if (mean < 80)
			v <<= 1;
		else
			return -1;
	}
	*seq = v;
	return 0;
}

/* The same for a picture at the camera's own size (at least 16 rows). */
static inline int vw_fakecam_barcode_read(const uint8_t *luma, int linesize, int width, uint32_t *seq)
{
	return vw_fakecam_barcode_read_scaled(luma, linesize, width, VW_FAKECAM_BAR_ROWS, width, VW_FAKECAM_BAR_ROWS,
					      seq);
}

#endif
