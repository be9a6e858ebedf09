/* vw_sink_conf: what the hub's consumers are configured with: a destination (its URL taken apart,
 * its login kind, its queue bound) and a recorder. Pure. */
#ifndef VW_SINK_CONF_H
#define VW_SINK_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_parse.h"

#define VW_MAX_RECORDERS 32
#define VW_MAX_DESTS 256

enum vw_auth { VW_AUTH_NONE, VW_AUTH_BEARER, VW_AUTH_FIRST_MESSAGE, VW_AUTH_ACCESS };

#define VW_DEST_QUEUE_MAX_NS (60 * 1000000000LL)      /* a queue beyond a minute of stream is a mistake */
#define VW_DEST_QUEUE_MAX_BYTES (256ULL * 1024 * 1024) /* ... and beyond this, memory the box lacks */

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
	char file[VW_PATH_MAX]; /* "" or where a copy of what it sends goes (checked by the API) */
	int line, stream_line, url_line;
};

struct vw_recorder_conf {
	char name[VW_NAME_MAX];
	char stream[VW_NAME_MAX];
	char dir[VW_PATH_MAX];
	int64_t segment_ns;
	uint64_t keep_bytes;
	int line, stream_line;
};

/* A destination URL taken apart: ws, wss, http or https; host (IPv6 without brackets); port
 * (default 80/443); path with query (default "/"). Returns 0, or -EINVAL with a reason in err. */
struct vw_url {
	char scheme[8];
	char host[256];
	int port;
	char path[VW_PATH_MAX];
	bool tls, websocket;
	char origin[8 + 256 + 10]; /* scheme://host:port, an IPv6 host in brackets: what logs may show */
};
int vw_url_parse(const char *url, struct vw_url *u, char *err, size_t errlen);
const char *vw_auth_name(enum vw_auth a);
int vw_auth_parse(const char *s, enum vw_auth *a);
/* The login of a destination that gives a token without `auth`, as the Go vw and its relays have
 * it: first-message (the token as the first text message, then {"authorised":true}) for ws:// and
 * wss://, access (POST the token to the URL, dial the returned uri) for http:// and https://; none
 * without a token. Bearer only when asked for. */
enum vw_auth vw_auth_default(const char *url, bool has_token); /* "none", "bearer", "first-message", "access" */
/* Validates a destination (url, auth needs a token); 0 or -EINVAL with the reason. */
int vw_dest_conf_check(const struct vw_dest_conf *d, char *err, size_t errlen);
bool vw_dest_conf_equal(const struct vw_dest_conf *a, const struct vw_dest_conf *b);
bool vw_recorder_conf_equal(const struct vw_recorder_conf *a, const struct vw_recorder_conf *b);

#endif
