/* vw_control: see vw_control.h. */
#include "vw_control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vw_api.h"
#include "vw_api_controls.h"
#include "vw_routes.h"
#include "vw_state.h"
#include "vw_util.h"
#include "vw_version.h"

#define REAP_EVERY_S 5 /* how often idle ingest feeds are looked for */

enum item_kind { ITEM_HTTP, ITEM_COMMAND, ITEM_RELOAD };

struct vw_control_item {
	enum item_kind kind;
	struct vw_http_req *req;  /* ITEM_HTTP */
	char *msg;                /* ITEM_COMMAND */
	size_t len;
	struct vw_config *cfg;    /* ITEM_RELOAD */
	struct vw_control_item *next;
};

static void enqueue(struct vw_control *ctl, struct vw_control_item *it)
{
	pthread_mutex_lock(&ctl->lock);
	if (ctl->stopping) {
		pthread_mutex_unlock(&ctl->lock);
		if (it->req)
			vw_http_respond(&ctl->http, it->req->id, 503, "application/json", strdup("{\"error\":\"stopping\"}"), 21);
		vw_http_req_free(it->req);
		free(it->msg);
		free(it->cfg);
		free(it);
		return;
	}
	if (ctl->tail)
		ctl->tail->next = it;
	else
		ctl->head = it;
	ctl->tail = it;
	pthread_cond_signal(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

/* From the event loop: queue and return. */
static void on_request(void *opaque, struct vw_http_req *req)
{
	struct vw_control *ctl = opaque;
	struct vw_control_item *it = calloc(1, sizeof(*it));

	if (!it) {
		vw_http_respond(&ctl->http, req->id, 503, "application/json", NULL, 0);
		vw_http_req_free(req);
		return;
	}
	it->kind = ITEM_HTTP;
	it->req = req;
	enqueue(ctl, it);
}

static void on_command(void *opaque, const char *msg, size_t len)
{
	struct vw_control *ctl = opaque;
	struct vw_control_item *it = calloc(1, sizeof(*it));

	if (!it || !(it->msg = malloc(len + 1))) {
		free(it);
		return;
	}
	memcpy(it->msg, msg, len);
	it->msg[len] = 0;
	it->len = len;
	it->kind = ITEM_COMMAND;
	enqueue(ctl, it);
}

static void hub_gone(void *opaque, struct vw_hub *hub)
{
	struct vw_control *ctl = opaque;
	vw_http_hub_gone(&ctl->http, hub);
}

/* ---- applying ---- */

static void apply(struct vw_control *ctl, const char *why)
{
	struct vw_apply_summary sum;
	char err[700];

	if (vw_api_effective(ctl->base, ctl->state, ctl->eff, err, sizeof(err)) < 0) {
		/* only a reload can get here (every change is checked first): run the file alone */
		vw_err(ctl->log, "control", "the rules do not fit the configuration (%s): running %s without them", err,
		       ctl->base->file);
		*ctl->eff = *ctl->base;
	}
	vw_app_apply(&ctl->app, ctl->eff, &sum);
	vw_info(ctl->log, "control", "%s: %d started, %d stopped, %d changed in place, %d unchanged", why, sum.started,
		sum.stopped, sum.changed_in_place, sum.kept);
}

/* A change the API made to ctl->state: on disk first, then running. */
static void commit(struct vw_control *ctl, const char *why)
{
	char err[600];

	/* A state file that cannot be written (vw run as a user, as the Go vw was installed, or a full
	 * disk) must not stop the box from being configured: the rules run from memory, the log says
	 * so when it starts and when it ends, and /api/status shows it meanwhile. */
	if (*ctl->state_path && vw_state_save(ctl->state_path, ctl->state, err, sizeof(err)) < 0) {
		vw_log_gated(ctl->log, &ctl->persist_log, vw_log_key(err), vw_now_ns(), VW_LOG_ERROR, "control",
			     "rules kept in memory only, not persisted: %s", err);
		vw_strlcpy(ctl->not_persisted, err, sizeof(ctl->not_persisted));
	} else {
		char held[48];
		long was = vw_log_gate_clear(&ctl->persist_log);
		if (was >= 0)
			vw_info(ctl->log, "control", "rules persisted again to %s%s", ctl->state_path,
				vw_log_suppressed(held, sizeof(held), was));
		ctl->not_persisted[0] = 0;
	}
	ctl->api_changes++;
	apply(ctl, why);
}

static void publish_text(struct vw_control *ctl, const char *text)
{
	/* every reply is a start point: a channel that reconnects must not wait for a "keyframe" */
	struct vw_chunk *c = vw_chunk_new(text, strlen(text), VW_CHUNK_TEXT | VW_CHUNK_KEY, vw_now_ns());
	if (c) {
		vw_hub_publish(&ctl->api_hub, c);
		vw_chunk_unref(c);
	}
}

static void handle_command(struct vw_control *ctl, const char *msg, size_t len)
{
	struct vw_api_reply r;

	if (vw_api_command(ctl->base, ctl->state, msg, len, &r) < 0)
		return;
	if (*r.ignored)
		vw_debug(ctl->log, "control", "control channel: ignored unknown fields: %s", r.ignored);
	if (r.changed)
		commit(ctl, "control channel");
	if (r.body)
		publish_text(ctl, r.body);
	free(r.body);
}

static void status_for_viewer(json_t *st);
/* /api/status and /metrics (control thread only; the system suites read them over HTTP). */
static json_t *vw_control_status(struct vw_control *ctl);
static char *vw_control_metrics(struct vw_control *ctl);

/* ---- the HTTP API's routes ---- */

static void route_metrics(void *opaque, void *request, const char *arg)
{
	struct vw_control *ctl = opaque;
	struct vw_http_req *req = request;
	char *m = vw_control_metrics(ctl);

	(void)arg;
	vw_http_respond(&ctl->http, req->id, m ? 200 : 500, "text/plain; version=0.0.4", m, m ? strlen(m) : 0);
}

static void route_status(void *opaque, void *request, const char *arg)
{
	struct vw_control *ctl = opaque;
	struct vw_http_req *req = request;
	json_t *st = vw_control_status(ctl);

	(void)arg;
	if (st && req->view_only)
		status_for_viewer(st);
	/* whether this caller may change things: the page shows controls only then */
	if (st)
		json_object_set_new(st, "control", json_boolean(!req->view_only));
	char *s = st ? json_dumps(st, JSON_COMPACT) : NULL;
	json_decref(st);
	vw_http_respond(&ctl->http, req->id, s ? 200 : 500, "application/json", s, s ? strlen(s) : 0);
}

static void route_controls(void *opaque, void *request, const char *feed)
{
	struct vw_control *ctl = opaque;
	struct vw_http_req *req = request;
	struct vw_api_reply r = {0};

	if (vw_api_controls(&ctl->app, ctl->eff, req->method, feed, req->body, req->len, &r) < 0)
		r.status = 500;
	else if (r.status >= 400)
		vw_info(ctl->log, "control", "%s %s: %d %s", req->method, req->path, r.status, r.body ? r.body : "");
	vw_http_respond(&ctl->http, req->id, r.status, "application/json", r.body, r.body ? strlen(r.body) : 0);
}

/* The rules (streams, destinations): what changes them is persisted, then applied. */
static void route_rules(void *opaque, void *request, const char *arg)
{
	struct vw_control *ctl = opaque;
	struct vw_http_req *req = request;
	struct vw_api_reply r = {0};
	char why[VW_PATH_MAX + 16];

	(void)arg;
	if (vw_api_http(ctl->base, ctl->state, req->method, req->path, req->body, req->len, &r) < 0) {
		vw_http_respond(&ctl->http, req->id, 500, "application/json", NULL, 0);
		return;
	}
	if (*r.ignored)
		vw_debug(ctl->log, "control", "%s %s: ignored unknown fields: %s", req->method, req->path, r.ignored);
	if (r.changed) {
		snprintf(why, sizeof(why), "%s %s", req->method, req->path);
		commit(ctl, why);
	} else if (r.status >= 400) {
		vw_info(ctl->log, "control", "%s %s: %d %s", req->method, req->path, r.status, r.body ? r.body : "");
	}
	vw_http_respond(&ctl->http, req->id, r.status, "application/json", r.body, r.body ? strlen(r.body) : 0);
}

/* Everything the HTTP server hands up (it answers static files, /live upgrades, /ts and
 * /healthcheck itself, at the door, before any token or Origin check). */
static const struct vw_route routes[] = {
	{"GET", "/metrics", route_metrics},
	{"GET", "/api/status", route_status},
	{"GET POST PUT", "/api/feeds/{}/controls", route_controls},
	{"POST PUT", "/api/streams", route_rules},
	{"GET DELETE", "/api/streams/{...}", route_rules},
	{"POST PUT", "/api/destinations", route_rules},
	{"GET DELETE", "/api/destinations/{...}", route_rules},
};

static void handle_http(struct vw_control *ctl, struct vw_http_req *req)
{
	char arg[VW_PATH_MAX], *error;
	int i;

	if (req->kind == VW_HTTP_VIEW) {
		struct vw_hub *hub = vw_name_valid(req->path, true) ? vw_app_source(&ctl->app, req->path, false) : NULL;
		vw_http_attach(&ctl->http, req->id, hub == &ctl->api_hub ? NULL : hub, "no such stream");
		return;
	}
	i = vw_routes_find(routes, sizeof(routes) / sizeof(routes[0]), req->method, req->path, arg, sizeof(arg), &error);
	if (i >= 0) {
		routes[i].handler(ctl, req, arg);
		return;
	}
	vw_info(ctl->log, "control", "%s %s: %d %s", req->method, req->path, -i, error ? error : "");
	vw_http_respond(&ctl->http, req->id, error ? -i : 500, "application/json", error, error ? strlen(error) : 0);
}

static void *control_main(void *arg)
{
	struct vw_control *ctl = arg;

	for (;;) {
		struct vw_control_item *it;
		/* Feeds that only an encoder named are freed here, on the thread that subscribes viewers
		 * and destinations to them: none can be half-subscribed while it runs. */
		vw_ingest_reap_feeds(&ctl->app.ingest);
		pthread_mutex_lock(&ctl->lock);
		if (!ctl->head && !ctl->stopping) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += REAP_EVERY_S;
			pthread_cond_timedwait(&ctl->cond, &ctl->lock, &until);
		}
		if (!ctl->head && !ctl->stopping) {
			pthread_mutex_unlock(&ctl->lock);
			continue;
		}
		it = ctl->head;
		if (it) {
			ctl->head = it->next;
			if (!ctl->head)
				ctl->tail = NULL;
		}
		pthread_mutex_unlock(&ctl->lock);
		if (!it)
			break; /* stopping, and the queue is empty */
		if (it->kind == ITEM_HTTP)
			handle_http(ctl, it->req);
		else if (it->kind == ITEM_COMMAND)
			handle_command(ctl, it->msg, it->len);
		else {
			char err[700];
			if (vw_api_state_check(it->cfg, ctl->state, err, sizeof(err)) < 0)
				vw_warn(ctl->log, "control", "the saved rules do not fit the new configuration: %s", err);
			*ctl->base = *it->cfg;
			vw_http_configure(&ctl->http, &ctl->base->http, ctl->www_default);
			apply(ctl, "reloaded");
		}
		vw_http_req_free(it->req);
		free(it->msg);
		free(it->cfg);
		free(it);
	}
	return NULL;
}

/* ---- status and metrics ---- */

/* "text" with every `what` in it replaced by `by`. */
static json_t *replaced(const char *text, const char *what, const char *by)
{
	char out[1024];
	size_t o = 0, wl = strlen(what);

	while (*text && o + 1 < sizeof(out)) {
		if (wl && !strncmp(text, what, wl)) {
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s", by);
			text += wl;
		} else {
			out[o++] = *text++;
		}
	}
	out[o < sizeof(out) ? o : sizeof(out) - 1] = 0;
	return json_string(out);
}

/* What a view-token holder may see: what a viewer needs. A relay URL only as scheme://host:port
 * (JSMpeg's relay keeps its publish secret in the path), no directories, files or state path. */
static void status_for_viewer(json_t *st)
{
	json_t *x;
	size_t i;

	json_object_del(st, "state_file");
	if (json_is_string(json_object_get(st, "persisted"))) /* the reason names the state path */
		json_object_set_new(st, "persisted", json_string("not persisted"));
	json_array_foreach(json_object_get(st, "destinations"), i, x)
	{
		struct vw_url u;
		char err[200], buf[VW_NAME_MAX + 32];
		const char *url = json_string_value(json_object_get(x, "url"));
		if (url && vw_url_parse(url, &u, err, sizeof(err)) == 0) {
			snprintf(buf, sizeof(buf), strchr(u.host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", u.scheme, u.host, u.port);
			json_object_set_new(x, "url", json_string(buf));
		} else {
			json_object_del(x, "url");
		}
	}
	json_array_foreach(json_object_get(st, "recorders"), i, x)
	{
		const char *dir = json_string_value(json_object_get(x, "dir"));
		const char *file = json_string_value(json_object_get(x, "file"));
		const char *error = json_string_value(json_object_get(x, "error"));
		if (file && strrchr(file, '/'))
			json_object_set_new(x, "file", json_string(strrchr(file, '/') + 1));
		if (error && dir && *dir)
			json_object_set_new(x, "error", replaced(error, dir, "(dir)"));
		json_object_del(x, "dir");
	}
}

static const char *redact_url(const char *url, char *buf, size_t n)
{
	/* a query may carry a token (relays that take ?token=): never shown */
	size_t q = strcspn(url, "?");
	snprintf(buf, n, "%.*s%s", (int)q, url, url[q] ? "?..." : "");
	return buf;
}

struct ingest_walk {
	json_t *feeds;
	const struct vw_config *eff;
};

static void ingest_status(void *opaque, struct vw_ingest_feed *f)
{
	struct ingest_walk *w = opaque;
	struct vw_ingest_stats st;

	vw_ingest_feed_stats(f, &st);
	json_array_append_new(
		w->feeds, json_pack("{ss ss ss sb sf sI sI sI sI sI ss ss}", "name", f->name, "type", "ingest", "state",
				    st.connected ? "live" : "waiting", "connected", st.connected, "bitrate", st.bitrate,
				    "bytes", (json_int_t)st.bytes, "chunks", (json_int_t)st.chunks, "keyframes",
				    (json_int_t)st.keyframes, "connections", (json_int_t)st.connections, "rejected",
				    (json_int_t)st.rejected, "peer", st.peer, "error", st.error));
}

static json_t *vw_control_status(struct vw_control *ctl)
{
	struct vw_app *app = &ctl->app;
	const struct vw_config *c = ctl->eff;
	json_t *feeds = json_array(), *streams = json_array(), *dests = json_array(), *recs = json_array();
	char buf[VW_PATH_MAX + 8];

	for (int i = 0; i < c->n_feeds; i++) {
		struct vw_feed *f = app->feeds[i];
		struct vw_feed_stats st;
		if (c->feeds[i].type == VW_FEED_INGEST)
			continue; /* listed below, with every encoder that connected */
		if (!f) {
			json_array_append_new(feeds, json_pack("{ss ss ss}", "name", c->feeds[i].name, "type",
							       vw_feed_type_name(c->feeds[i].type), "state", "unused"));
			continue;
		}
		vw_feed_get_stats(f, &st);
		json_array_append_new(feeds,
				      json_pack("{ss ss ss ss sf sI sI sI ss ss}", "name", c->feeds[i].name, "type",
						vw_feed_type_name(c->feeds[i].type), "state", vw_feed_state_name(st.state),
						"device", st.device, "fps", st.fps, "frames", (json_int_t)st.frames,
						"audio_samples", (json_int_t)st.audio_samples, "reopens", (json_int_t)st.failures,
						"format", st.format, "error", st.error));
		/* a meter that stopped moving would lie: only a reading of the last second is shown */
		if (st.level_ns && vw_now_ns() - st.level_ns < VW_NS_PER_SEC)
			json_object_set_new(json_array_get(feeds, json_array_size(feeds) - 1), "level_db",
					    json_real(st.level_db));
	}
	struct ingest_walk w = {feeds, c};
	vw_ingest_each(&app->ingest, ingest_status, &w);

	for (int i = 0; i < c->n_streams; i++) {
		const struct vw_stream_conf *sc = &c->streams[i];
		json_t *fl = json_array(), *s;
		for (int k = 0; k < sc->n_feeds; k++)
			json_array_append_new(fl, json_string(sc->feeds[k]));
		if (sc->passthrough) {
			struct vw_passthrough *r = app->passthroughs[i];
			bool live = false;
			for (int k = 0; r && k < r->n_feeds; k++) {
				struct vw_ingest_stats st;
				vw_ingest_feed_stats(r->feeds[k], &st);
				live |= st.connected;
			}
			s = json_pack("{ss ss sb so sI sI si}", "name", sc->name, "state", !r ? "stopped" : live ? "running" : "pending",
				      "passthrough", true, "feeds", fl, "chunks", (json_int_t)(r ? r->hub.chunks : 0), "keyframes",
				      (json_int_t)(r ? r->hub.key_chunks : 0), "viewers", r ? vw_http_viewers(&ctl->http, &r->hub) : 0);
		} else {
			struct vw_encoder *st = app->streams[i];
			struct vw_encoder_stats ss = {0};
			if (st)
				vw_encoder_get_stats(st, &ss);
			snprintf(buf, sizeof(buf), "%dx%d", sc->width, sc->height);
			s = json_pack("{ss ss sb so ss si sf sI sI sI sb si}", "name", sc->name, "state", st ? "running" : "stopped",
				      "passthrough", false, "feeds", fl, "size", buf, "fps", sc->fps, "bitrate", ss.bitrate,
				      "keyframes", (json_int_t)ss.keyframes, "frames", (json_int_t)ss.frames_encoded,
				      "placeholder_frames", (json_int_t)ss.placeholder_frames, "muted", sc->mute, "viewers",
				      st ? vw_http_viewers(&ctl->http, &st->hub) : 0);
			/* with now_ms below, a viewer turns a picture's PTS into its capture time */
			if (s && ss.pts_zero_ns)
				json_object_set_new(s, "pts_zero_ms", json_real((double)ss.pts_zero_ns / 1e6));
		}
		json_array_append_new(streams, s);
	}
	for (int i = 0; i < c->n_dests; i++) {
		const struct vw_dest_conf *dc = &c->dests[i];
		struct vw_dest *d = app->dests[i];
		struct vw_dest_stats st = {0};
		if (d)
			vw_dest_get_stats(d, &st);
		json_array_append_new(dests, json_pack("{ss ss ss ss ss sI sI sI sI sI ss}", "id", dc->name, "stream", dc->stream,
						       "url", redact_url(dc->url, buf, sizeof(buf)), "auth", vw_auth_name(dc->auth),
						       "state", d ? vw_dest_state_name(st.state) : "waiting", "bytes",
						       (json_int_t)st.bytes, "messages", (json_int_t)st.messages, "drops",
						       (json_int_t)st.dropped_chunks, "connects", (json_int_t)st.connects,
						       "reconnects", (json_int_t)st.failures, "last_error", st.last_error));
		if (d && st.state == VW_DEST_BACKOFF) {
			int64_t left = st.retry_at_ns - vw_now_ns();
			json_object_set_new(json_array_get(dests, json_array_size(dests) - 1), "retry_in_s",
					    json_real(left > 0 ? (double)left / 1e9 : 0.0));
		}
	}
	for (int i = 0; i < c->n_recorders; i++) {
		struct vw_recorder *r = app->recorders[i];
		struct vw_recorder_stats st = {0};
		if (r)
			vw_recorder_get_stats(r, &st);
		json_array_append_new(recs, json_pack("{ss ss ss ss sI sI sI sI ss ss}", "name", c->recorders[i].name, "stream",
						      c->recorders[i].stream, "dir", c->recorders[i].dir, "state",
						      r ? vw_rec_state_name(st.state) : "waiting", "bytes", (json_int_t)st.bytes,
						      "segments", (json_int_t)st.segments, "lost_chunks", (json_int_t)st.lost_chunks,
						      "free_bytes", (json_int_t)st.free_bytes, "file", st.file, "error", st.error));
	}
	/* now_ms: this clock (CLOCK_MONOTONIC), so a viewer can learn its offset from its own */
	char persisted[sizeof(ctl->not_persisted) + 32];
	snprintf(persisted, sizeof(persisted), "not persisted: %s", ctl->not_persisted);
	/* persisted: true, or "not persisted: REASON" while the rules live in memory only */
	return json_pack("{ss sf sf si sI ss so so so so so}", "version", VW_VERSION, "uptime_s",
			 (double)(vw_now_ns() - ctl->started_ns) / 1e9, "now_ms", (double)vw_now_ns() / 1e6, "http_port", vw_http_port(&ctl->http), "api_changes",
			 (json_int_t)ctl->api_changes, "state_file", ctl->state_path, "persisted",
			 *ctl->not_persisted ? json_string(persisted) : json_true(), "feeds", feeds, "streams", streams,
			 "destinations", dests, "recorders", recs);
}

/* Prometheus label values: backslash, quote and newline escaped. */
static void label(char *out, size_t n, const char *v)
{
	size_t o = 0;
	for (; *v && o + 3 < n; v++) {
		if (*v == '\\' || *v == '"')
			out[o++] = '\\';
		if (*v == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
			continue;
		}
		out[o++] = *v;
	}
	out[o] = 0;
}

struct metric {
	const char *name, *type, *help;
};

static char *vw_control_metrics(struct vw_control *ctl)
{
	json_t *st = vw_control_status(ctl);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	char l[VW_NAME_MAX * 2];
	size_t i;
	json_t *v;

	if (!f || !st) {
		if (f)
			fclose(f);
		json_decref(st);
		free(out);
		return NULL;
	}
	fprintf(f, "# HELP vw_uptime_seconds Time since vw started.\n# TYPE vw_uptime_seconds gauge\nvw_uptime_seconds %.3f\n",
		json_real_value(json_object_get(st, "uptime_s")));
	fprintf(f, "# HELP vw_api_changes_total Rule changes made through the APIs.\n# TYPE vw_api_changes_total counter\n"
		   "vw_api_changes_total %llu\n", (unsigned long long)ctl->api_changes);
	static const struct metric feed_m[] = {
		{"frames_total", "counter", "Pictures captured (or chunks received, for ingest feeds)."},
		{"fps", "gauge", "Pictures per second over the last second."},
		{"bytes_total", "counter", "Bytes received from an ingest encoder."},
		{"live", "gauge", "1 when the device or encoder is delivering."},
	};
	for (size_t m = 0; m < sizeof(feed_m) / sizeof(feed_m[0]); m++) {
		fprintf(f, "# HELP vw_feed_%s %s\n# TYPE vw_feed_%s %s\n", feed_m[m].name, feed_m[m].help, feed_m[m].name,
			feed_m[m].type);
		json_array_foreach(json_object_get(st, "feeds"), i, v)
		{
			label(l, sizeof(l), json_string_value(json_object_get(v, "name")));
			const char *state = json_string_value(json_object_get(v, "state"));
			double val = m == 0 ? (double)json_integer_value(json_object_get(v, json_object_get(v, "frames") ? "frames" : "chunks"))
				   : m == 1 ? json_real_value(json_object_get(v, "fps"))
				   : m == 2 ? (double)json_integer_value(json_object_get(v, "bytes"))
					    : (double)(state && !strcmp(state, "live"));
			fprintf(f, "vw_feed_%s{feed=\"%s\"} %.15g\n", feed_m[m].name, l, val);
		}
	}
	static const struct metric stream_m[] = {
		{"bitrate_bps", "gauge", "Encoded bits per second over the last seconds."},
		{"keyframes_total", "counter", "Keyframes produced (or forwarded, for passthrough streams)."},
		{"frames_total", "counter", "Pictures encoded."},
		{"viewers", "gauge", "Local /live viewers."},
		{"running", "gauge", "1 when the stream runs."},
	};
	for (size_t m = 0; m < sizeof(stream_m) / sizeof(stream_m[0]); m++) {
		fprintf(f, "# HELP vw_stream_%s %s\n# TYPE vw_stream_%s %s\n", stream_m[m].name, stream_m[m].help,
			stream_m[m].name, stream_m[m].type);
		json_array_foreach(json_object_get(st, "streams"), i, v)
		{
			label(l, sizeof(l), json_string_value(json_object_get(v, "name")));
			const char *state = json_string_value(json_object_get(v, "state"));
			double val = m == 0 ? json_real_value(json_object_get(v, "bitrate"))
				   : m == 1 ? (double)json_integer_value(json_object_get(v, "keyframes"))
				   : m == 2 ? (double)json_integer_value(json_object_get(v, "frames"))
				   : m == 3 ? (double)json_integer_value(json_object_get(v, "viewers"))
					    : (double)(state && !strcmp(state, "running"));
			fprintf(f, "vw_stream_%s{stream=\"%s\"} %.15g\n", stream_m[m].name, l, val);
		}
	}
	static const struct metric dest_m[] = {
		{"connected", "gauge", "1 when connected to the relay."},
		{"bytes_total", "counter", "Stream bytes sent to the relay."},
		{"dropped_chunks_total", "counter", "Chunks dropped because the relay could not keep up."},
		{"reconnects_total", "counter", "Connections that failed or ended."},
	};
	for (size_t m = 0; m < sizeof(dest_m) / sizeof(dest_m[0]); m++) {
		fprintf(f, "# HELP vw_destination_%s %s\n# TYPE vw_destination_%s %s\n", dest_m[m].name, dest_m[m].help,
			dest_m[m].name, dest_m[m].type);
		json_array_foreach(json_object_get(st, "destinations"), i, v)
		{
			label(l, sizeof(l), json_string_value(json_object_get(v, "id")));
			const char *state = json_string_value(json_object_get(v, "state"));
			double val = m == 0 ? (double)(state && !strcmp(state, "connected"))
				   : m == 1 ? (double)json_integer_value(json_object_get(v, "bytes"))
				   : m == 2 ? (double)json_integer_value(json_object_get(v, "drops"))
					    : (double)json_integer_value(json_object_get(v, "reconnects"));
			fprintf(f, "vw_destination_%s{id=\"%s\"} %.15g\n", dest_m[m].name, l, val);
		}
	}
	static const struct metric rec_m[] = {
		{"bytes_total", "counter", "Bytes written to segments."},
		{"lost_chunks_total", "counter", "Chunks the recorder could not write."},
		{"free_bytes", "gauge", "Free space on the recording's filesystem."},
		{"recording", "gauge", "1 when recording."},
	};
	for (size_t m = 0; m < sizeof(rec_m) / sizeof(rec_m[0]); m++) {
		fprintf(f, "# HELP vw_recorder_%s %s\n# TYPE vw_recorder_%s %s\n", rec_m[m].name, rec_m[m].help, rec_m[m].name,
			rec_m[m].type);
		json_array_foreach(json_object_get(st, "recorders"), i, v)
		{
			label(l, sizeof(l), json_string_value(json_object_get(v, "name")));
			const char *state = json_string_value(json_object_get(v, "state"));
			double val = m == 0 ? (double)json_integer_value(json_object_get(v, "bytes"))
				   : m == 1 ? (double)json_integer_value(json_object_get(v, "lost_chunks"))
				   : m == 2 ? (double)json_integer_value(json_object_get(v, "free_bytes"))
					    : (double)(state && !strcmp(state, "recording"));
			fprintf(f, "vw_recorder_%s{recorder=\"%s\"} %.15g\n", rec_m[m].name, l, val);
		}
	}
	fclose(f);
	json_decref(st);
	return out;
}

/* ---- lifecycle ---- */

static void restore(struct vw_control *ctl)
{
	char err[800], moved[VW_PATH_MAX + 32];
	json_t *doc = NULL;
	int ret;

	if (!*ctl->state_path)
		return;
	ret = vw_state_load(ctl->state_path, &doc, err, sizeof(err));
	if (ret == -ENOENT)
		return;
	if (ret == 0 && vw_api_state_check(ctl->base, doc, err, sizeof(err)) == 0) {
		json_decref(ctl->state);
		ctl->state = doc;
		vw_info(ctl->log, "control", "restored %zu stream and %zu destination rules from %s",
			json_object_size(json_object_get(doc, "streams")), json_object_size(json_object_get(doc, "destinations")),
			ctl->state_path);
		return;
	}
	json_decref(doc);
	/* Keep streaming on the file configuration, and keep the broken file for the operator. */
	if (ret != -EACCES && vw_state_set_aside(ctl->state_path, moved, sizeof(moved)) == 0)
		vw_err(ctl->log, "control", "state file unusable (%s): moved to %s, running the configuration file alone", err,
		       moved);
	else
		vw_err(ctl->log, "control", "state file unusable (%s): running the configuration file alone", err);
}

static void beat(void *arg)
{
	struct vw_control *ctl = arg;
	atomic_store(&ctl->beat_ns, vw_now_ns());
	atomic_store(&ctl->beat_pending, false);
}

bool vw_control_alive(struct vw_control *ctl, int64_t now_ns, int64_t within_ns)
{
	/* one heartbeat in flight at a time: a stuck loop does not pile them up */
	if (!atomic_exchange(&ctl->beat_pending, true) && vw_net_post(&ctl->app.net, beat, ctl) < 0)
		atomic_store(&ctl->beat_pending, false);
	return now_ns - atomic_load(&ctl->beat_ns) <= within_ns;
}

int vw_control_start(struct vw_control *ctl, const struct vw_config *base, const char *state_path,
		     const char *www_default, struct vw_log *log)
{
	int ret;

	memset(ctl, 0, sizeof(*ctl));
	ctl->log = log;
	ctl->started_ns = vw_now_ns();
	atomic_init(&ctl->beat_ns, ctl->started_ns);
	atomic_init(&ctl->beat_pending, false);
	vw_strlcpy(ctl->state_path, state_path ? state_path : "", sizeof(ctl->state_path));
	vw_strlcpy(ctl->www_default, www_default ? www_default : "", sizeof(ctl->www_default));
	ctl->base = malloc(sizeof(*ctl->base));
	ctl->eff = malloc(sizeof(*ctl->eff));
	ctl->state = vw_api_state_new();
	if (!ctl->base || !ctl->eff || !ctl->state) {
		ret = -ENOMEM;
		goto fail;
	}
	*ctl->base = *base;
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->cond, NULL);
	vw_hub_init(&ctl->api_hub, NULL, NULL);
	restore(ctl);

	ret = vw_app_init(&ctl->app, log);
	if (ret < 0)
		goto fail_sync;
	ctl->app.api_hub = &ctl->api_hub;
	ctl->app.api_text = on_command;
	ctl->app.api_opaque = ctl;
	ctl->app.hub_gone = hub_gone;
	ctl->app.hub_gone_opaque = ctl;
	/* the server first: viewers may arrive as soon as streams start */
	ret = vw_http_start(&ctl->http, &base->http, ctl->www_default, &ctl->app.net, &ctl->app.ingest, on_request, ctl,
			    log);
	if (ret < 0)
		vw_err(log, "control", "HTTP server not started: %s", strerror(-ret));
	apply(ctl, "started");
	ret = -pthread_create(&ctl->thread, NULL, control_main, ctl);
	if (ret < 0) {
		vw_http_stop(&ctl->http);
		vw_app_stop(&ctl->app);
		goto fail_sync;
	}
	vw_thread_name(ctl->thread, "control", "");
	ctl->running = true;
	return 0;
fail_sync:
	vw_hub_destroy(&ctl->api_hub);
	pthread_cond_destroy(&ctl->cond);
	pthread_mutex_destroy(&ctl->lock);
fail:
	json_decref(ctl->state);
	free(ctl->base);
	free(ctl->eff);
	return ret;
}

void vw_control_reload(struct vw_control *ctl, const struct vw_config *base)
{
	struct vw_control_item *it = calloc(1, sizeof(*it));

	if (!it || !(it->cfg = malloc(sizeof(*it->cfg)))) {
		free(it);
		return;
	}
	*it->cfg = *base;
	it->kind = ITEM_RELOAD;
	enqueue(ctl, it);
}

void vw_control_stop(struct vw_control *ctl)
{
	if (!ctl->running)
		return;
	/* new requests are refused, queued ones finish; then nothing is left to reach the app */
	pthread_mutex_lock(&ctl->lock);
	ctl->stopping = true;
	pthread_cond_signal(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
	pthread_join(ctl->thread, NULL);
	ctl->running = false;
	vw_http_stop(&ctl->http); /* before the app: the loop it serves on belongs to the app */
	vw_app_stop(&ctl->app);
	vw_hub_close(&ctl->api_hub);
	vw_hub_destroy(&ctl->api_hub);
	pthread_cond_destroy(&ctl->cond);
	pthread_mutex_destroy(&ctl->lock);
	json_decref(ctl->state);
	free(ctl->base);
	free(ctl->eff);
}
