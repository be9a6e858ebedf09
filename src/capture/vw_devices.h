/* vw_devices: what capture hardware the box has. Owns discovery (V4L2 capture nodes from sysfs and
 * their formats, sizes and rates from the device itself; ALSA capture PCMs), the pairing of a camera
 * with the microphone of the same USB device, the automatic choice of camera, format, size, rate
 * and microphone for a `device = auto` feed, and the `vw devices` listing. Discovery reads sysfs
 * and /dev under a root directory so tests can point it at a fake tree; the choice is pure. */
#ifndef VW_DEVICES_H
#define VW_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vw_feed_conf.h"

/* Bounds of one listing: a scan is one allocation of known size, whatever the hardware says. */
#define VW_DEV_MAX_CAMERAS 8
#define VW_DEV_MAX_MICS 16
#define VW_DEV_MAX_FORMATS 6
#define VW_DEV_MAX_SIZES 32
#define VW_DEV_MAX_RATES 10

struct vw_dev_rate {
	uint32_t num, den; /* frames per second = num / den (30/1, 30000/1001) */
};

struct vw_dev_size {
	uint32_t width, height;
	int n_rates;
	struct vw_dev_rate rates[VW_DEV_MAX_RATES];
};

struct vw_dev_format {
	uint32_t fourcc;       /* V4L2_PIX_FMT_* */
	char fourcc_str[5];    /* "YUYV", "MJPG" */
	char description[32];  /* the driver's, "YUYV 4:2:2" */
	int n_sizes;           /* discrete sizes only: stepwise ranges are not listed */
	struct vw_dev_size sizes[VW_DEV_MAX_SIZES];
};

struct vw_camera {
	int index;                /* N of videoN */
	char node[VW_PATH_MAX];   /* ROOT/dev/videoN */
	char by_id[VW_PATH_MAX];  /* ROOT/dev/v4l/by-id/... link to the node, "" when there is none */
	char path[VW_PATH_MAX];   /* what to configure: by_id when there is one, else node */
	char card[32], driver[16], bus_info[32]; /* VIDIOC_QUERYCAP */
	char usb[VW_PATH_MAX];    /* the USB device's sysfs directory (resolved), "" when not on USB */
	int mic;                  /* index in vw_devices.mics of the same USB device's microphone, -1 */
	int n_formats;
	struct vw_dev_format formats[VW_DEV_MAX_FORMATS];
};

struct vw_mic {
	int card, device;          /* ALSA card and PCM device numbers */
	char id[32];               /* card id, "C920" */
	char name[80];             /* card name ("HD Pro Webcam C920"); the id when only sysfs was read */
	char pcm[VW_NAME_MAX];     /* what to configure: "sysdefault:CARD=C920", "plughw:CARD=X,DEV=1" */
	char usb[VW_PATH_MAX];     /* as vw_camera.usb */
	int camera;                /* index in vw_devices.cameras of the same USB device's camera, -1 */
};

struct vw_devices {
	int n_cameras; /* in videoN order */
	struct vw_camera cameras[VW_DEV_MAX_CAMERAS];
	int n_mics; /* in card, then device order */
	struct vw_mic mics[VW_DEV_MAX_MICS];
	bool alsa_from_sysfs; /* the root was not "/": cards came from ROOT/sys/class/sound */
};

/* Lists the capture devices under `root` ("/" or NULL for the system). Nodes that do not capture
 * video (uvcvideo's metadata node) are skipped, and so is anything that cannot be opened or
 * queried. No devices is not an error. Returns 0 and a listing to free with vw_devices_free, or
 * -ENOMEM. Cheap enough to call at every reopen of a device. */
int vw_devices_scan(const char *root, struct vw_devices **out);
void vw_devices_free(struct vw_devices *list);

/* The automatic choice for a stream of want_w x want_h at want_fps. */
struct vw_auto_choice {
	int camera, mic; /* indexes in the listing, -1: none (mic -1 means ALSA's "default") */
	char video_device[VW_PATH_MAX];
	enum vw_video_format format;
	uint32_t fourcc;
	int width, height;
	struct vw_dev_rate rate;
	char audio_device[VW_NAME_MAX];
	char why[1024]; /* one line for the log, saying what was chosen and why */
};

/* Picks the first camera (by-id path when it has one); MJPEG when the wanted size is above 640x480
 * and MJPEG reaches it, else YUYV at the smallest size that reaches it (else the largest); the
 * lowest rate >= want_fps (else the highest); the microphone of the camera's USB device, else
 * "default". Returns 0, or -ENODEV when there is no camera (out->why says so, the microphone is
 * still chosen). Pure. */
int vw_devices_choose(const struct vw_devices *list, int want_w, int want_h, int want_fps,
		      struct vw_auto_choice *out);

/* "30", "7.5", "29.97" */
void vw_dev_rate_str(struct vw_dev_rate r, char *buf, size_t n);

/* `vw devices`: the listing, and `choice` if not NULL, as text or as JSON (malloc'd, NULL on
 * failure). With `controls`, each camera's V4L2 controls are read from its node and included. */
void vw_devices_print(const struct vw_devices *list, const struct vw_auto_choice *choice, bool controls, FILE *out);
char *vw_devices_json(const struct vw_devices *list, const struct vw_auto_choice *choice, bool controls);

#endif
