/* vw_feed_conf: what a feed is configured with (its kind, device, size, rate, device settings),
 * as the configuration file and the API fill it in and the capture code reads it. Pure. */
#ifndef VW_FEED_CONF_H
#define VW_FEED_CONF_H

#include <stdbool.h>

#include "vw_parse.h"

#define VW_MAX_FEEDS 32

/* INGEST: MPEG-TS that an external encoder POSTs to /ts/NAME; streams of ingest feeds forward it
 * as it is (passthrough) instead of encoding. */
enum vw_feed_type { VW_FEED_V4L2, VW_FEED_ALSA, VW_FEED_FILE, VW_FEED_TESTSRC, VW_FEED_INGEST };
enum vw_video_format { VW_FORMAT_AUTO, VW_FORMAT_YUYV, VW_FORMAT_MJPEG };
/* What an ingest feed carries (`format` of an ingest feed): AUTO tells from each connection's first
 * bytes (0x47 at 0, 188 and 376: MPEG-TS; anything else: raw), TS refuses what is not MPEG-TS,
 * RAW forwards any bytes as messages. */
enum vw_ingest_format { VW_INGEST_AUTO, VW_INGEST_TS, VW_INGEST_RAW };
/* `device = auto`: the camera (or microphone) is chosen at every open from what is plugged in. */
#define VW_DEVICE_AUTO "auto"

#define VW_MAX_CONTROLS 32     /* device settings per feed */
#define VW_CONTROL_NAME_MAX 64 /* a normalized V4L2 control name fits in 32 */
#define VW_CONTROL_VALUE_MAX 64

/* One device setting as written in the config or posted to the API: "brightness" = "60%". */
struct vw_control_setting {
	char name[VW_CONTROL_NAME_MAX];
	char value[VW_CONTROL_VALUE_MAX];
	int line; /* in the config (0: from the API) */
};

struct vw_feed_conf {
	char name[VW_NAME_MAX];
	enum vw_feed_type type;
	char device[VW_PATH_MAX]; /* v4l2: path; alsa: PCM name; either may be VW_DEVICE_AUTO */
	char path[VW_PATH_MAX];   /* file */
	bool loop;                /* file */
	int width, height, fps;   /* v4l2, testsrc */
	enum vw_video_format format;
	enum vw_ingest_format ingest_format; /* ingest */
	int rate, channels; /* alsa, testsrc tone */
	int line;           /* of the section header */
	/* Device settings, applied at every open (vw_controls): v4l2: any key that is not a feed key
	 * names a V4L2 control; alsa: "gain". Kept as written: only the device can resolve them. */
	struct vw_control_setting controls[VW_MAX_CONTROLS];
	int n_controls;
	char mixer[VW_NAME_MAX];         /* alsa: CTL name ("" : derived from the PCM name) */
	char mixer_element[VW_NAME_MAX]; /* alsa: simple element ("" : Capture, Mic, or the first with capture volume) */
};

const char *vw_feed_type_name(enum vw_feed_type t);
int vw_feed_type_parse(const char *s, enum vw_feed_type *t); /* 0 or -EINVAL */
const char *vw_ingest_format_name(enum vw_ingest_format f);        /* "auto", "ts", "raw" */
int vw_ingest_format_parse(const char *s, enum vw_ingest_format *f); /* 0 or -EINVAL */
/* Whether a feed can give video / audio by its type (a file may have both; checked at open). */
bool vw_feed_has_video(const struct vw_feed_conf *f);
bool vw_feed_has_audio(const struct vw_feed_conf *f);
/* Equality of the parts that matter at run time (line numbers ignored): what a reload compares. */
bool vw_feed_conf_equal(const struct vw_feed_conf *a, const struct vw_feed_conf *b);

#endif
