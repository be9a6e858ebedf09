/* vw_app: the running appliance. Owns the feeds, streams and recorders built from a
 * configuration, and reconfiguration while running: a new configuration is applied as a
 * difference, so unchanged feeds, streams and recordings carry on untouched (a mute change is
 * applied in place). SIGHUP and the HTTP/WS APIs all come through vw_app_apply, on one thread.
 *
 * Lock order (the one place it is written; a lock is only ever taken after those above it):
 *
 *   control queue (vw_control.lock)          leaf: nothing is taken under it
 *   ingest registry (vw_ingest.lock)
 *   -> ingest feed (vw_ingest_feed.lock)     vw_ingest_each -> vw_ingest_feed_stats
 *   -> hub (vw_hub.lock)                     vw_ingest_reap_feeds: does a feed have subscribers
 *   feed (vw_feed.lock)
 *   -> encoder (vw_encoder.lock)             listener callbacks: flag a picture, copy sound
 *   ingest feed (vw_ingest_feed.lock)
 *   -> hub (vw_hub.lock)                     an encoder's chunks published, passthrough forwarded
 *      -> recorder (vw_recorder.lock)        subscriber notify: signal only
 *      -> event loop wake                    subscriber notify of destinations and viewers:
 *                                            lws_cancel_service, no lock of ours
 *   encoder, recorder, destination, http, net job queue, log: leaves (statistics, settings and
 *   queues copied in or out; the log line is written under the log's own lock only)
 *
 * Never under any of these: waiting for the event loop (vw_net_call, and so vw_http_hub_gone,
 * vw_http_viewers, vw_dest_start/stop), joining a thread, or heavy work. Resampling, scaling
 * and encoding run on the encoder's thread without a lock; a feed's thread holds its lock only
 * to hand over a picture reference or copy a period of sound. */
#ifndef VW_APP_H
#define VW_APP_H

#include "vw_config.h"
#include "vw_dest.h"
#include "vw_feed.h"
#include "vw_ingest.h"
#include "vw_log.h"
#include "vw_net.h"
#include "vw_recorder.h"
#include "vw_encoder.h"

/* The kinds of part the app runs, in the order they start (each stands on those before it). */
enum vw_app_kind {
	VW_APP_FEED,        /* struct vw_feed, by index in cfg->feeds */
	VW_APP_ENCODER,     /* struct vw_encoder, by index in cfg->streams (encoded streams) */
	VW_APP_PASSTHROUGH, /* struct vw_passthrough, by index in cfg->streams (passthrough streams) */
	VW_APP_RECORDER,    /* struct vw_recorder, by index in cfg->recorders */
	VW_APP_DEST,        /* struct vw_dest, by index in cfg->dests */
	VW_APP_KINDS
};

/* One configured part: what runs for it, or why it does not. */
struct vw_app_part {
	void *run;     /* NULL when it does not run */
	int err;       /* negative: the last apply could not start it */
	char why[200]; /* with err: the reason */
};

struct vw_app {
	struct vw_log *log;
	struct vw_config *cfg;
	struct vw_app_part *parts[VW_APP_KINDS]; /* per kind, indexed like that kind's section of cfg */
	struct vw_net net;       /* the event loop: destinations, and the HTTP server on top */
	struct vw_ingest ingest; /* encoders' feeds (/ts/FEED); they outlive reconfiguration */

	/* Set by the control plane before the first apply. */
	struct vw_hub *api_hub; /* what the control channel (stream "api") sends: its replies */
	void (*api_text)(void *opaque, const char *msg, size_t len); /* what it receives */
	void *api_opaque;
	/* Called before a hub closes for good, on the applying thread: local viewers let go of it. */
	void (*hub_gone)(void *opaque, struct vw_hub *hub);
	void *hub_gone_opaque;
};

struct vw_apply_summary {
	int started, stopped, kept, changed_in_place;
	int failed;   /* parts that could not start (each logged, and kept in the part's err/why) */
	int failed_changed; /* of those, parts whose configuration this apply added or changed */
	int err;            /* the first such failure: its code, and why ("stream x: ...") */
	char why[VW_NAME_MAX + 220];
};

/* Ready to apply a configuration: the event loop runs, nothing is captured yet. */
int vw_app_init(struct vw_app *app, struct vw_log *log);
/* vw_app_init + vw_app_apply. */
int vw_app_start(struct vw_app *app, const struct vw_config *cfg, struct vw_log *log);
/* Moves to `cfg`, restarting only what changed: parts that survive are kept, the others stopped
 * (consumers before producers), then the new ones started (producers first). A part that cannot
 * start is logged, recorded (vw_app_failure) and counted in `sum`; the rest runs. 0, or -ENOMEM
 * with nothing changed. */
int vw_app_apply(struct vw_app *app, const struct vw_config *cfg, struct vw_apply_summary *sum);
void vw_app_stop(struct vw_app *app);

struct vw_feed *vw_app_feed(struct vw_app *app, const char *name);
struct vw_encoder *vw_app_stream(struct vw_app *app, const char *name);
struct vw_recorder *vw_app_recorder(struct vw_app *app, const char *name);
struct vw_dest *vw_app_dest(struct vw_app *app, const char *name);
struct vw_passthrough *vw_app_passthrough(struct vw_app *app, const char *name);
/* Why the stream `name` does not run after the last apply: a negative code and the reason, or 0
 * (it runs, or nothing was tried: no such stream, or its feed is not there). */
int vw_app_stream_failure(struct vw_app *app, const char *name, const char **why);
/* What a destination, recorder or viewer of `name` subscribes to: an encoded stream, a
 * passthrough stream, an ingest feed (created on demand if `create`) or the control channel.
 * NULL when there is none running. Only the thread that applies configurations may use it. */
struct vw_hub *vw_app_source(struct vw_app *app, const char *name, bool create);

#endif
