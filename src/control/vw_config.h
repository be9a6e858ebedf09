/* vw_config: the configuration file. Owns parsing (INI through inih, sections named "KIND NAME"),
 * section defaults, and validation across sections; every error is reported as "FILE:LINE:
 * message". Each section's struct belongs to the component it configures (vw_feed_conf,
 * vw_stream_conf, vw_sink_conf, vw_http); value syntax is vw_parse. Pure: no devices, no threads. */
#ifndef VW_CONFIG_H
#define VW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_feed_conf.h"
#include "vw_http.h"
#include "vw_parse.h"
#include "vw_sink_conf.h"
#include "vw_stream_conf.h"

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
	/* [control] dest_file_dir: where a destination rule's `file` copy may be written ("": no
	 * rule may ask for one) */
	char dest_file_dir[VW_PATH_MAX];
	/* Not from the file: where device discovery looks for sys/ and dev/ ("" : /). main sets it
	 * (VW_DEVICE_ROOT, for tests with a fake sysfs and /dev). */
	char device_root[VW_PATH_MAX];
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
#define VW_API_STREAM "api"    /* the stream name of the control channel's destination */
#define VW_API_RULE "apiRule"  /* its id, as vw had it */

#endif
