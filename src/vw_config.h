/* vw_config: the configuration file. Owns parsing (INI through inih, sections named "KIND NAME"),
 * value syntax (sizes, rates, durations, byte counts, booleans, names), defaults, and validation
 * across sections; every error is reported as "FILE:LINE: message". Pure: no devices, no threads. */
#ifndef VW_CONFIG_H
#define VW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_MAX_FEEDS 32
#define VW_MAX_STREAMS 32
#define VW_MAX_RECORDERS 32
#define VW_MAX_DESTS 256
#define VW_TOKEN_MAX 1024
#define VW_NAME_MAX 128
#define VW_PATH_MAX 1024

enum vw_feed_type { VW_FEED_V4L2, VW_FEED_ALSA, VW_FEED_FILE, VW_FEED_TESTSRC };
enum vw_video_format { VW_FORMAT_AUTO, VW_FORMAT_YUYV, VW_FORMAT_MJPEG };

struct vw_feed_conf {
	char name[VW_NAME_MAX];
	enum vw_feed_type type;
	char device[VW_PATH_MAX]; /* v4l2: path; alsa: PCM name */
	char path[VW_PATH_MAX];   /* file */
	bool loop;                /* file */
	int width, height, fps;   /* v4l2, testsrc */
	enum vw_video_format format;
	int rate, channels; /* alsa, testsrc tone */
	int line;           /* of the section header */
};

struct vw_stream_conf {
	char name[VW_NAME_MAX];
	char video_feed[VW_NAME_MAX];
	char audio_feed[VW_NAME_MAX]; /* "" = the video feed's own audio, if it has any */
	int width, height, fps;
	int64_t video_bitrate, audio_bitrate;
	int audio_rate, audio_channels;
	int gop; /* frames between scheduled keyframes */
	bool mute;
	int line, feeds_line;
};

struct vw_recorder_conf {
	char name[VW_NAME_MAX];
	char stream[VW_NAME_MAX];
	char dir[VW_PATH_MAX];
	int64_t segment_ns;
	uint64_t keep_bytes;
	int line, stream_line;
};

enum vw_auth { VW_AUTH_NONE, VW_AUTH_BEARER, VW_AUTH_FIRST_MESSAGE, VW_AUTH_ACCESS };

struct vw_dest_conf {
	char name[VW_NAME_MAX]; /* the destination's id */
	char stream[VW_NAME_MAX];
	char url[VW_PATH_MAX];
	char token[VW_TOKEN_MAX]; /* never logged */
	enum vw_auth auth;
	char ca_file[VW_PATH_MAX];
	bool insecure;
	int64_t queue_ns;     /* queue bound as stream time (0: use queue_bytes) */
	uint64_t queue_bytes; /* queue bound in bytes (0: derived from queue_ns and the bit rate) */
	int line, stream_line, url_line;
};

struct vw_config {
	char file[VW_PATH_MAX];
	struct vw_feed_conf feeds[VW_MAX_FEEDS];
	int n_feeds;
	struct vw_stream_conf streams[VW_MAX_STREAMS];
	int n_streams;
	struct vw_recorder_conf recorders[VW_MAX_RECORDERS];
	int n_recorders;
	struct vw_dest_conf dests[VW_MAX_DESTS];
	int n_dests;
};

/* Parses `path`. On error returns -EINVAL (or -errno when the file cannot be read) and writes
 * "FILE:LINE: message" (or "FILE: message") to err. The config is heap-sized: allocate it. */
int vw_config_load(struct vw_config *cfg, const char *path, char *err, size_t errlen);
/* The same for text in memory; `name` stands for the file name in messages. */
int vw_config_parse(struct vw_config *cfg, const char *name, const char *text, char *err, size_t errlen);

const struct vw_feed_conf *vw_config_feed(const struct vw_config *cfg, const char *name);
const struct vw_stream_conf *vw_config_stream(const struct vw_config *cfg, const char *name);

/* Whether a feed can give video / audio by its type (a file may have both; checked at open). */
bool vw_feed_has_video(const struct vw_feed_conf *f);
bool vw_feed_has_audio(const struct vw_feed_conf *f);

/* Equality of the parts that matter at run time (line numbers ignored): what SIGHUP compares. */
bool vw_feed_conf_equal(const struct vw_feed_conf *a, const struct vw_feed_conf *b);
bool vw_stream_conf_equal(const struct vw_stream_conf *a, const struct vw_stream_conf *b);
bool vw_recorder_conf_equal(const struct vw_recorder_conf *a, const struct vw_recorder_conf *b);
bool vw_dest_conf_equal(const struct vw_dest_conf *a, const struct vw_dest_conf *b);

/* A destination URL taken apart: ws, wss, http or https; host (IPv6 without brackets); port
 * (default 80/443); path with query (default "/"). Returns 0, or -EINVAL with a reason in err. */
struct vw_url {
	char scheme[8];
	char host[256];
	int port;
	char path[VW_PATH_MAX];
	bool tls, websocket;
};
int vw_url_parse(const char *url, struct vw_url *u, char *err, size_t errlen);
const char *vw_auth_name(enum vw_auth a);

/* Value syntax, exposed for the API and tests. All return 0 or -EINVAL. */
int vw_parse_size(const char *s, int *w, int *h);                /* "640x480", even width */
int vw_parse_bitrate(const char *s, int64_t *bps);               /* "1000k", "2M", "128000" (SI) */
int vw_parse_duration(const char *s, int64_t *ns);               /* "60s", "500ms", "5m", "1h" */
int vw_parse_bytes(const char *s, uint64_t *bytes);              /* "1G", "500M", "64k" (binary) */
int vw_parse_bool(const char *s, bool *b);                       /* yes/no, true/false, on/off, 1/0 */
int vw_parse_int(const char *s, long min, long max, long *v);
bool vw_name_valid(const char *s, bool allow_slash); /* letters, digits, '-', '_' (and '/') */

#endif
