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
#define VW_HTTP_DEFAULT_LISTEN "127.0.0.1:8888" /* vw's port; loopback until the operator opens it */
#define VW_HTTP_DEFAULT_MAX_CONNECTIONS 64 /* [http] max_connections: open HTTP/websocket connections */
#define VW_HTTP_DEFAULT_MAX_VIEWERS 16     /* [http] max_viewers: /live websockets */
#define VW_STREAM_FEEDS 4 /* feeds a passthrough stream may merge */

/* INGEST: MPEG-TS that an external encoder POSTs to /ts/NAME; streams of ingest feeds forward it
 * as it is (passthrough) instead of encoding. */
enum vw_feed_type { VW_FEED_V4L2, VW_FEED_ALSA, VW_FEED_FILE, VW_FEED_TESTSRC, VW_FEED_INGEST };
enum vw_video_format { VW_FORMAT_AUTO, VW_FORMAT_YUYV, VW_FORMAT_MJPEG };
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
	int rate, channels; /* alsa, testsrc tone */
	int line;           /* of the section header */
	/* Device settings, applied at every open (vw_controls): v4l2: any key that is not a feed key
	 * names a V4L2 control; alsa: "gain". Kept as written: only the device can resolve them. */
	struct vw_control_setting controls[VW_MAX_CONTROLS];
	int n_controls;
	char mixer[VW_NAME_MAX];         /* alsa: CTL name ("" : derived from the PCM name) */
	char mixer_element[VW_NAME_MAX]; /* alsa: simple element ("" : Capture, Mic, or the first with capture volume) */
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
	/* Every feed named, in order. A stream whose feeds are all ingest feeds is a passthrough:
	 * it forwards their MPEG-TS as it is, and the encoding fields above do not apply. */
	char feeds[VW_STREAM_FEEDS][VW_NAME_MAX];
	int n_feeds;
	bool passthrough;
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

/* [http]: the local server (API, preview, /live viewers, /ts ingest). */
struct vw_http_conf {
	char listen[VW_NAME_MAX]; /* "127.0.0.1:8888", "[::1]:8888", "0.0.0.0:8888", or "" for off */
	char api_token[VW_TOKEN_MAX];  /* "" : the API is open (it listens on loopback by default) */
	char view_token[VW_TOKEN_MAX]; /* "" : the preview and /live are open */
	char ingest_secret[VW_TOKEN_MAX]; /* "": /ts/FEED; else /ts/SECRET/FEED (JSMpeg relay style) */
	char www[VW_PATH_MAX];         /* preview page directory; "" : next to the binary or installed */
	int max_connections, max_viewers; /* beyond them: 503 (a reload changes them) */
	int line;
};

struct vw_config {
	char file[VW_PATH_MAX];
	struct vw_http_conf http;
	bool has_api;           /* [api] (or VW_API): the WS/JSON control channel */
	struct vw_dest_conf api; /* its connection: a destination named "apiRule" on stream "api" */
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
const struct vw_dest_conf *vw_config_dest(const struct vw_config *cfg, const char *name);
/* What a destination or recorder may send: a stream, or an ingest feed as it is. */
bool vw_config_source_known(const struct vw_config *cfg, const char *name);
/* Fills the derived fields of a stream whose feeds[] are set: video/audio feed or passthrough.
 * Returns 0 or -EINVAL with the reason in err. */
int vw_stream_conf_resolve(const struct vw_config *cfg, struct vw_stream_conf *s, char *err, size_t errlen);
/* Defaults of a stream section. */
void vw_stream_conf_defaults(struct vw_stream_conf *s);
/* Validates a destination (url, auth needs a token); 0 or -EINVAL with the reason. */
int vw_dest_conf_check(const struct vw_dest_conf *d, char *err, size_t errlen);
const char *vw_feed_type_name(enum vw_feed_type t);
#define VW_API_STREAM "api"    /* the stream name of the control channel's destination */
#define VW_API_RULE "apiRule"  /* its id, as vw had it */

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
int vw_parse_listen(const char *s, char *host, size_t hostlen, int *port); /* "host:port", "[v6]:port" */

#endif
