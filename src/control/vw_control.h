/* vw_control: the control plane. Owns the running appliance (vw_app), the file configuration it
 * was started with, the rules changed at run time and their state file, the HTTP server, and the
 * one thread that changes any of them: API requests, WS/JSON commands from the control channel,
 * viewers asking for a stream and reloads are queued to it and handled in order, so the event
 * loop never waits for a reconfiguration and no two reconfigurations interleave. A change is
 * written to the state file before it is applied and acknowledged. Also builds /api/status and
 * /metrics from the components' statistics. */
#ifndef VW_CONTROL_H
#define VW_CONTROL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "vw_app.h"
#include "vw_config.h"
#include "vw_http.h"
#include "vw_log.h"

struct vw_control_item;

struct vw_control {
	struct vw_log *log;
	struct vw_app app;
	struct vw_http http;
	struct vw_hub api_hub; /* the control channel's replies */
	struct vw_config *base; /* the file configuration (with VW_PORT / VW_API applied) */
	struct vw_config *eff;  /* what runs: base + rules */
	json_t *state;
	char state_path[VW_PATH_MAX];
	char www_default[VW_PATH_MAX];
	int64_t started_ns;
	uint64_t api_changes;
	/* Why the rules in memory are not in the state file ("" : they are): vw run as a user who
	 * cannot write it, a full disk. The rules still apply; /api/status says so. */
	char not_persisted[600];
	struct vw_log_gate persist_log; /* the reason logged when it changes, and once when it ends */

	pthread_t thread;
	bool running;
	pthread_mutex_t lock; /* the queue */
	pthread_cond_t cond;
	struct vw_control_item *head, *tail;
	bool stopping;

	/* Liveness for the service manager's watchdog: the event loop answers a heartbeat. */
	_Atomic int64_t beat_ns;
	atomic_bool beat_pending;
};

/* Starts everything: restores the state file on top of `base` (a broken one is set aside,
 * loudly), applies, and serves HTTP. `state_path` may be "" for no persistence (tests).
 * `www_default`: the preview page's directory when [http] www is not set. */
int vw_control_start(struct vw_control *ctl, const struct vw_config *base, const char *state_path,
		     const char *www_default, struct vw_log *log);
/* Whether the event loop that carries destinations, viewers and the API answered a heartbeat in
 * the last `within_ns` (and posts the next one). The main loop pings systemd's watchdog only
 * then, so a hung loop gets the service restarted instead of a healthy-looking main thread
 * keeping it alive. Call from one thread. */
bool vw_control_alive(struct vw_control *ctl, int64_t now_ns, int64_t within_ns);
/* A new file configuration (SIGHUP): the rules stay on top of it. Returns at once. */
void vw_control_reload(struct vw_control *ctl, const struct vw_config *base);
void vw_control_stop(struct vw_control *ctl);

#endif
