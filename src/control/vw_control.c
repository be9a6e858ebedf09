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

static void apply(struct vw_control *ctl, const char *why, struct vw_apply_summary *sum)
{
	char err[700];

	if (vw_api_effective(ctl->base, ctl->state, ctl->eff, err, sizeof(err)) < 0) {
		/* only a reload can get here (every change is checked first): run the file alone */
		vw_err(ctl->log, "control", "the rules do not fit the configuration (%s): running %s without them", err,
		       ctl->base->file);
		*ctl->eff = *ctl->base;
	}
	if (vw_app_apply(&ctl->app, ctl->eff, sum) < 0) {
		vw_err(ctl->log, "control", "%s: out of memory, nothing changed", why);
		return;
	}
	vw_info(ctl->log, "control", "%s: %d started, %d stopped, %d changed in place, %d unchanged%s", why, sum->started,
		sum->stopped, sum->changed_in_place, sum->kept, sum->failed ? ", some could not start" : "");
}

/* The rules on disk. A state file that cannot be written (vw run as a user, as the Go vw was
 * installed, or a full disk) must not stop the box from being configured: the rules run from
 * memory, the log says so when it starts and when it ends, and /api/status shows it meanwhile. */
static void persist(struct vw_control *ctl)
{
	char err[600];

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
}

/* A change the API made to ctl->state: on disk first, then running. A change that cannot run
 * (an encoder refuses the stream's settings) is taken back to `before`, on disk and running, and
 * the caller answers with the reason in `err`: -EINVAL (400) when the settings were refused,
 * another negative code (500) otherwise. */
static int commit(struct vw_control *ctl, json_t *before, const char *why, char *err, size_t errlen)
{
	struct vw_apply_summary sum = {0};

	persist(ctl);
	apply(ctl, why, &sum);
	if (!sum.failed_changed) {
		ctl->api_changes++;
		return 0;
	}
	int err_code = sum.err; /* AVERROR(EINVAL) is -EINVAL */
	snprintf(err, errlen, "%s", sum.why);
	vw_err(ctl->log, "control", "change taken back: %s", err);
	json_object_update(ctl->state, before);
	persist(ctl);
	apply(ctl, "change taken back", &sum);
	return err_code < 0 ? err_code : -EIO;
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

/* One WS/JSON command, from the control channel or a /ws/api client: applied (persisted first) and
 * answered; the reply (malloc'd) or NULL. */
static char *run_command(struct vw_control *ctl, const char *msg, size_t len, const char *from)
{
	struct vw_api_reply r;
	json_t *before = json_deep_copy(ctl->state);
	char err[400];

	if (vw_api_command(ctl->base, ctl->state, msg, len, &r) < 0) {
		json_decref(before);
		return NULL;
	}
	if (*r.ignored)
		vw_debug(ctl->log, "control", "%s: ignored unknown fields: %s", from, r.ignored);
	if (r.changed && commit(ctl, before, from, err, sizeof(err)) < 0) {
		free(r.body);
		json_t *e = json_pack("{ss}", "error", err);
		r.body = json_dumps(e, JSON_COMPACT);
		json_decref(e);
	}
	json_decref(before);
	return r.body;
}

static void handle_command(struct vw_control *ctl, const char *msg, size_t len)
{
	char *reply = run_command(ctl, msg, len, "control channel");
	if (reply)
		publish_text(ctl, reply);
	free(reply);
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
	char err[400], why[VW_PATH_MAX + 16];

	(void)arg;
	json_t *before = json_deep_copy(ctl->state);
	if (vw_api_http(ctl->base, ctl->state, req->method, req->path, req->body, req->len, &r) < 0) {
		json_decref(before);
		vw_http_respond(&ctl->http, req->id, 500, "application/json", NULL, 0);
		return;
	}
	if (*r.ignored)
		vw_debug(ctl->log, "control", "%s %s: ignored unknown fields: %s", req->method, req->path, r.ignored);
	if (r.changed) {
		snprintf(why, sizeof(why), "%s %s", req->method, req->path);
		int ret = commit(ctl, before, why, err, sizeof(err));
		if (ret < 0) {
			free(r.body);
			json_t *e = json_pack("{ss}", "error", err);
			r.body = json_dumps(e, JSON_COMPACT);
			r.status = ret == -EINVAL ? 400 : 500;
			json_decref(e);
		}
	} else if (r.status >= 400) {
		vw_info(ctl->log, "control", "%s %s: %d %s", req->method, req->path, r.status, r.body ? r.body : "");
	}
	vw_http_respond(&ctl->http, req->id, r.status, "application/json", r.body, r.body ? strlen(r.body) : 0);
	json_decref(before);
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

/* /ws/NAME: a stream (NAME, or stream/NAME as the Go vw's stream topics were named) is watched as
 * on /live; any other name is a two-way topic, which shares its hub with the ingest feed of that
 * name (as the Go vw's /ts/NAME and /ws/NAME were one topic), so a destination of NAME carries it
 * to a relay and back. */
static void attach_topic(struct vw_control *ctl, struct vw_http_req *req)
{
	const char *name = req->path;
	struct vw_ingest_feed *f;
	char why[120];

	if (!vw_config_stream(ctl->eff, name) && !strncmp(name, "stream/", 7) && vw_config_stream(ctl->eff, name + 7))
		name += 7;
	if (vw_config_stream(ctl->eff, name)) {
		vw_http_attach_topic(&ctl->http, req->id, vw_app_source(&ctl->app, name, false), false,
				     "the stream is not running");
		return;
	}
	f = strcmp(name, VW_API_STREAM) ? vw_ingest_topic(&ctl->app.ingest, name) : NULL;
	snprintf(why, sizeof(why), "too many topics and ingest feeds (at most %d)", VW_INGEST_MAX_FEEDS);
	vw_http_attach_topic(&ctl->http, req->id, f ? &f->hub : NULL, true, why);
}

/* An ingest feed declared raw, or found raw in what its encoder sent: a JSMpeg viewer of it would
 * wait for ever (raw chunks never reach /live), so it is closed at once with the reason. */
static bool raw_feed(struct vw_control *ctl, const char *name, struct vw_hub *hub)
{
	struct vw_ingest_feed *f = vw_ingest_feed(&ctl->app.ingest, name, false);
	struct vw_ingest_stats st;

	if (!f || &f->hub != hub)
		return false;
	enum vw_ingest_format fmt = vw_ingest_feed_format(f);
	vw_ingest_feed_stats(f, &st);
	return fmt == VW_INGEST_RAW || (fmt == VW_INGEST_AUTO && !strcmp(st.detected, "raw"));
}

static void handle_http(struct vw_control *ctl, struct vw_http_req *req)
{
	char arg[VW_PATH_MAX], *error;
	int i;

	if (req->kind == VW_HTTP_VIEW) {
		struct vw_hub *hub = vw_name_valid(req->path, true) ? vw_app_source(&ctl->app, req->path, false) : NULL;
		char why[2 * VW_PATH_MAX + 64] = "no such stream";
		if (hub && raw_feed(ctl, req->path, hub)) {
			snprintf(why, sizeof(why), "%s carries raw data, not MPEG-TS: /ws/%s relays it", req->path, req->path);
			hub = NULL;
		}
		vw_http_attach(&ctl->http, req->id, hub == &ctl->api_hub ? NULL : hub, why);
		return;
	}
	if (req->kind == VW_HTTP_TOPIC) {
		attach_topic(ctl, req);
		return;
	}
	if (req->kind == VW_HTTP_COMMAND) {
		char *reply = run_command(ctl, req->body, req->len, "/ws/api");
		vw_http_reply(&ctl->http, req->id, reply ? reply : strdup("{\"error\":\"out of memory\"}"));
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
			struct vw_apply_summary sum;
			apply(ctl, "reloaded", &sum);
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
		char err[200];
		const char *url = json_string_value(json_object_get(x, "url"));
		if (url && vw_url_parse(url, &u, err, sizeof(err)) == 0) {
			json_object_set_new(x, "url", json_string(u.origin));
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

/* Everything /api/status and /metrics show, read once through the components' typed getters
 * (each under its own lock), and looked up by name in what runs. */
struct snap_feed {
	char name[VW_NAME_MAX];
	const char *type;
	bool ingest, running;
	struct vw_feed_stats st;    /* capture feeds */
	struct vw_ingest_stats ist; /* ingest feeds */
};

struct snap_stream {
	const struct vw_stream_conf *conf;
	bool running, live;         /* live: a passthrough whose encoder is connected */
	int err;                    /* why it does not run, when it could not start */
	const char *why;
	struct vw_encoder_stats es; /* encoded streams */
	struct vw_hub_stats hs;     /* passthrough streams */
	int viewers;
};

struct snap_dest {
	const struct vw_dest_conf *conf;
	bool running;
	struct vw_dest_stats st;
};

struct snap_rec {
	const struct vw_recorder_conf *conf;
	bool running;
	struct vw_recorder_stats st;
};

/* A /ws/ topic with clients, and what went through its hub. */
struct snap_topic {
	struct vw_http_topic t;
	struct vw_hub_stats hs;
};
#define SNAP_TOPICS (VW_INGEST_MAX_FEEDS + VW_MAX_STREAMS)

struct snapshot {
	int64_t now_ns;
	double uptime_s;
	struct snap_feed *feeds;
	int n_feeds, cap_feeds;
	struct snap_stream streams[VW_MAX_STREAMS];
	int n_streams;
	struct snap_dest *dests;
	int n_dests;
	struct snap_rec recs[VW_MAX_RECORDERS];
	int n_recs;
	struct snap_topic *topics;
	int n_topics;
	bool short_of_memory;
};

static struct snap_feed *snap_feed_add(struct snapshot *s)
{
	if (s->n_feeds == s->cap_feeds) {
		int cap = s->cap_feeds ? 2 * s->cap_feeds : VW_MAX_FEEDS;
		struct snap_feed *f = realloc(s->feeds, (size_t)cap * sizeof(*f));
		if (!f) {
			s->short_of_memory = true;
			return NULL;
		}
		s->feeds = f;
		s->cap_feeds = cap;
	}
	struct snap_feed *f = &s->feeds[s->n_feeds++];
	memset(f, 0, sizeof(*f));
	return f;
}

static void snap_ingest(void *opaque, struct vw_ingest_feed *f)
{
	struct snapshot *s = opaque;
	struct snap_feed *sf = snap_feed_add(s);
	if (!sf)
		return;
	vw_strlcpy(sf->name, f->name, sizeof(sf->name));
	sf->type = "ingest";
	sf->ingest = true;
	sf->running = true;
	vw_ingest_feed_stats(f, &sf->ist);
}

static void snapshot_free(struct snapshot *s)
{
	if (s) {
		free(s->feeds);
		free(s->dests);
		free(s->topics);
		free(s);
	}
}

static struct snapshot *snapshot_take(struct vw_control *ctl)
{
	struct vw_app *app = &ctl->app;
	const struct vw_config *c = ctl->eff;
	struct snapshot *s = calloc(1, sizeof(*s));

	struct vw_http_topic *tl = calloc(SNAP_TOPICS, sizeof(*tl));
	if (!s || !tl || !(s->dests = calloc(VW_MAX_DESTS, sizeof(*s->dests))) ||
	    !(s->topics = calloc(SNAP_TOPICS, sizeof(*s->topics)))) {
		free(tl);
		snapshot_free(s);
		return NULL;
	}
	/* the hubs stay: topics' ingest feeds are freed only on this thread */
	s->n_topics = vw_http_topics(&ctl->http, tl, SNAP_TOPICS);
	for (int i = 0; i < s->n_topics; i++) {
		s->topics[i].t = tl[i];
		if (tl[i].hub)
			vw_hub_get_stats(tl[i].hub, &s->topics[i].hs);
	}
	free(tl);
	s->now_ns = vw_now_ns();
	s->uptime_s = (double)(s->now_ns - ctl->started_ns) / 1e9;
	for (int i = 0; i < c->n_feeds; i++) {
		if (c->feeds[i].type == VW_FEED_INGEST)
			continue; /* listed below, with every encoder that connected */
		struct snap_feed *sf = snap_feed_add(s);
		if (!sf)
			break;
		struct vw_feed *f = vw_app_feed(app, c->feeds[i].name);
		vw_strlcpy(sf->name, c->feeds[i].name, sizeof(sf->name));
		sf->type = vw_feed_type_name(c->feeds[i].type);
		sf->running = f != NULL;
		if (f)
			vw_feed_get_stats(f, &sf->st);
	}
	vw_ingest_each(&app->ingest, snap_ingest, s);

	for (int i = 0; i < c->n_streams; i++) {
		struct snap_stream *ss = &s->streams[s->n_streams++];
		ss->conf = &c->streams[i];
		ss->err = vw_app_stream_failure(app, ss->conf->name, &ss->why);
		if (ss->conf->passthrough) {
			struct vw_passthrough *r = vw_app_passthrough(app, ss->conf->name);
			ss->running = r != NULL;
			for (int k = 0; r && k < r->n_feeds; k++) {
				struct vw_ingest_stats st;
				vw_ingest_feed_stats(r->feeds[k], &st);
				ss->live |= st.connected;
			}
			if (r) {
				vw_hub_get_stats(&r->hub, &ss->hs);
				ss->viewers = vw_http_viewers(&ctl->http, &r->hub);
			}
		} else {
			struct vw_encoder *e = vw_app_stream(app, ss->conf->name);
			ss->running = e != NULL;
			if (e) {
				vw_encoder_get_stats(e, &ss->es);
				ss->viewers = vw_http_viewers(&ctl->http, &e->hub);
			}
		}
	}
	for (int i = 0; i < c->n_dests; i++) {
		struct snap_dest *sd = &s->dests[s->n_dests++];
		struct vw_dest *d = vw_app_dest(app, c->dests[i].name);
		sd->conf = &c->dests[i];
		sd->running = d != NULL;
		if (d)
			vw_dest_get_stats(d, &sd->st);
	}
	for (int i = 0; i < c->n_recorders; i++) {
		struct snap_rec *sr = &s->recs[s->n_recs++];
		struct vw_recorder *r = vw_app_recorder(app, c->recorders[i].name);
		sr->conf = &c->recorders[i];
		sr->running = r != NULL;
		if (r)
			vw_recorder_get_stats(r, &sr->st);
	}
	return s;
}

static const char *stream_state(const struct snap_stream *ss)
{
	if (!ss->running)
		return ss->err ? "failed" : "stopped";
	return !ss->conf->passthrough || ss->live ? "running" : "pending";
}

static bool feed_live(const struct snap_feed *f)
{
	return f->ingest ? f->ist.connected : f->running && f->st.state == VW_FEED_LIVE;
}

static json_t *vw_control_status(struct vw_control *ctl)
{
	struct snapshot *s = snapshot_take(ctl);
	json_t *feeds = json_array(), *streams = json_array(), *dests = json_array(), *recs = json_array();
	char buf[VW_PATH_MAX + 8];

	if (!s) {
		json_decref(feeds);
		json_decref(streams);
		json_decref(dests);
		json_decref(recs);
		return NULL;
	}
	for (int i = 0; i < s->n_feeds; i++) {
		const struct snap_feed *f = &s->feeds[i];
		const struct vw_ingest_stats *st = &f->ist;
		if (f->ingest) {
			json_t *j = json_pack("{ss ss ss sb sf sI sI sI sI sI ss ss ss ss}", "name", f->name, "type", "ingest",
					      "state", st->connected ? "live" : "waiting", "connected", st->connected, "bitrate",
					      st->bitrate, "bytes", (json_int_t)st->bytes, "chunks", (json_int_t)st->chunks,
					      "keyframes", (json_int_t)st->keyframes, "connections", (json_int_t)st->connections,
					      "rejected", (json_int_t)st->rejected, "peer", st->peer, "error", st->error,
					      "format", st->format, "detected", st->detected);
			/* raw bytes go to destinations and recorders; JSMpeg could not play them */
			if (j && !strcmp(st->detected, "raw"))
				json_object_set_new(j, "viewers", json_string("not served: raw data is not MPEG-TS"));
			json_array_append_new(feeds, j);
		} else if (!f->running)
			json_array_append_new(feeds, json_pack("{ss ss ss}", "name", f->name, "type", f->type, "state", "unused"));
		else {
			json_t *j = json_pack("{ss ss ss ss sf sI sI sI ss ss}", "name", f->name, "type", f->type, "state",
					      vw_feed_state_name(f->st.state), "device", f->st.device, "fps", f->st.fps, "frames",
					      (json_int_t)f->st.frames, "audio_samples", (json_int_t)f->st.audio_samples,
					      "reopens", (json_int_t)f->st.failures, "format", f->st.format, "error",
					      f->st.error);
			/* a meter that stopped moving would lie: only a reading of the last second is shown */
			if (j && f->st.level_ns && s->now_ns - f->st.level_ns < VW_NS_PER_SEC)
				json_object_set_new(j, "level_db", json_real(f->st.level_db));
			json_array_append_new(feeds, j);
		}
	}
	for (int i = 0; i < s->n_streams; i++) {
		const struct snap_stream *ss = &s->streams[i];
		const struct vw_stream_conf *sc = ss->conf;
		json_t *fl = json_array(), *j;
		for (int k = 0; k < sc->n_feeds; k++)
			json_array_append_new(fl, json_string(sc->feeds[k]));
		if (sc->passthrough) {
			j = json_pack("{ss ss sb so sI sI si ss}", "name", sc->name, "state", stream_state(ss), "passthrough", true,
				      "feeds", fl, "chunks", (json_int_t)ss->hs.chunks, "keyframes", (json_int_t)ss->hs.key_chunks,
				      "viewers", ss->viewers, "error", ss->err ? ss->why : "");
		} else {
			snprintf(buf, sizeof(buf), "%dx%d", sc->width, sc->height);
			j = json_pack("{ss ss sb so ss si sf sI sI sI sb si sI sI ss}", "name", sc->name, "state", stream_state(ss),
				      "passthrough", false, "feeds", fl, "size", buf, "fps", sc->fps, "bitrate", ss->es.bitrate,
				      "keyframes", (json_int_t)ss->es.keyframes, "frames", (json_int_t)ss->es.frames_encoded,
				      "placeholder_frames", (json_int_t)ss->es.placeholder_frames, "muted", sc->mute, "viewers",
				      ss->viewers, "encode_errors", (json_int_t)ss->es.encode_errors, "mux_errors",
				      (json_int_t)ss->es.mux_errors, "error", ss->err ? ss->why : "");
			/* with now_ms below, a viewer turns a picture's PTS into its capture time */
			if (j && ss->es.pts_zero_ns)
				json_object_set_new(j, "pts_zero_ms", json_real((double)ss->es.pts_zero_ns / 1e6));
		}
		json_array_append_new(streams, j);
	}
	for (int i = 0; i < s->n_dests; i++) {
		const struct snap_dest *d = &s->dests[i];
		const struct vw_dest_conf *dc = d->conf;
		json_t *j = json_pack("{ss ss ss ss ss sI sI sI sI sI ss}", "id", dc->name, "stream", dc->stream,
						       "url", redact_url(dc->url, buf, sizeof(buf)), "auth", vw_auth_name(dc->auth),
						       "state", d->running ? vw_dest_state_name(d->st.state) : "waiting", "bytes",
						       (json_int_t)d->st.bytes, "messages", (json_int_t)d->st.messages, "drops",
						       (json_int_t)d->st.dropped_chunks, "connects", (json_int_t)d->st.connects,
						       "reconnects", (json_int_t)d->st.failures, "last_error", d->st.last_error);
		if (j && *dc->file) { /* the copy: where, how much, and why it stopped */
			json_object_set_new(j, "file", json_string(dc->file));
			json_object_set_new(j, "file_bytes", json_integer((json_int_t)d->st.copy.bytes));
			json_object_set_new(j, "file_lost_bytes", json_integer((json_int_t)d->st.copy.lost_bytes));
			json_object_set_new(j, "file_error", json_string(d->st.copy.error));
		}
		if (j && d->running && d->st.state == VW_DEST_BACKOFF) {
			int64_t left = d->st.retry_at_ns - s->now_ns;
			json_object_set_new(j, "retry_in_s", json_real(left > 0 ? (double)left / 1e9 : 0.0));
		}
		json_array_append_new(dests, j);
	}
	for (int i = 0; i < s->n_recs; i++) {
		const struct snap_rec *r = &s->recs[i];
		json_array_append_new(recs, json_pack("{ss ss ss ss sI sI sI sI ss ss}", "name", r->conf->name, "stream",
						      r->conf->stream, "dir", r->conf->dir, "state",
						      r->running ? vw_rec_state_name(r->st.state) : "waiting", "bytes",
						      (json_int_t)r->st.bytes, "segments", (json_int_t)r->st.segments, "lost_chunks",
						      (json_int_t)r->st.lost_chunks, "free_bytes", (json_int_t)r->st.free_bytes, "file",
						      r->st.file, "error", r->st.error));
	}
	/* /ws/ topics with clients: what went through their hub (clients, relays, /ts), what reached
	 * the clients, what slow ones lost */
	json_t *topics = json_array();
	for (int i = 0; i < s->n_topics; i++) {
		const struct snap_topic *t = &s->topics[i];
		json_array_append_new(topics, json_pack("{ss sb si sI sI sI sI}", "name", t->t.name, "two_way",
							t->t.two_way, "clients", t->t.clients, "messages",
							(json_int_t)t->hs.chunks, "bytes", (json_int_t)t->hs.bytes, "sent",
							(json_int_t)t->t.sent, "dropped", (json_int_t)t->t.dropped));
	}
	/* now_ms: this clock (CLOCK_MONOTONIC), so a viewer can learn its offset from its own */
	char persisted[sizeof(ctl->not_persisted) + 32];
	snprintf(persisted, sizeof(persisted), "not persisted: %s", ctl->not_persisted);
	/* persisted: true, or "not persisted: REASON" while the rules live in memory only */
	json_t *out = json_pack("{ss sf sf si sI ss so so so so so}", "version", VW_VERSION, "uptime_s", s->uptime_s,
				"now_ms", (double)s->now_ns / 1e6, "http_port", vw_http_port(&ctl->http), "api_changes",
				(json_int_t)ctl->api_changes, "state_file", ctl->state_path, "persisted",
				*ctl->not_persisted ? json_string(persisted) : json_true(), "feeds", feeds, "streams",
				streams, "destinations", dests, "recorders", recs);
	if (out)
		json_object_set_new(out, "topics", topics);
	else
		json_decref(topics);
	snapshot_free(s);
	return out;
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

/* One metric family: its value for each item of a kind. */
struct metric {
	const char *name, *type, *help;
	double (*value)(const void *item);
};

static double feed_frames(const void *p)
{
	const struct snap_feed *f = p;
	return f->ingest ? (double)f->ist.chunks : (double)f->st.frames;
}
static double feed_fps(const void *p)
{
	const struct snap_feed *f = p;
	return f->ingest ? 0 : f->st.fps;
}
static double feed_bytes(const void *p)
{
	const struct snap_feed *f = p;
	return f->ingest ? (double)f->ist.bytes : 0;
}
static double feed_live_value(const void *p)
{
	return feed_live(p);
}
static double stream_bitrate(const void *p)
{
	const struct snap_stream *s = p;
	return s->conf->passthrough ? 0 : s->es.bitrate;
}
static double stream_keyframes(const void *p)
{
	const struct snap_stream *s = p;
	return s->conf->passthrough ? (double)s->hs.key_chunks : (double)s->es.keyframes;
}
static double stream_frames(const void *p)
{
	const struct snap_stream *s = p;
	return (double)s->es.frames_encoded;
}
static double stream_viewers(const void *p)
{
	const struct snap_stream *s = p;
	return s->viewers;
}
static double stream_running(const void *p)
{
	return !strcmp(stream_state(p), "running");
}
static double stream_encode_errors(const void *p)
{
	const struct snap_stream *s = p;
	return (double)s->es.encode_errors;
}
static double stream_mux_errors(const void *p)
{
	const struct snap_stream *s = p;
	return (double)s->es.mux_errors;
}
static double dest_connected(const void *p)
{
	const struct snap_dest *d = p;
	return d->running && d->st.state == VW_DEST_CONNECTED;
}
static double dest_bytes(const void *p)
{
	const struct snap_dest *d = p;
	return (double)d->st.bytes;
}
static double dest_drops(const void *p)
{
	const struct snap_dest *d = p;
	return (double)d->st.dropped_chunks;
}
static double dest_reconnects(const void *p)
{
	const struct snap_dest *d = p;
	return (double)d->st.failures;
}
static double rec_bytes(const void *p)
{
	const struct snap_rec *r = p;
	return (double)r->st.bytes;
}
static double rec_lost(const void *p)
{
	const struct snap_rec *r = p;
	return (double)r->st.lost_chunks;
}
static double rec_free(const void *p)
{
	const struct snap_rec *r = p;
	return (double)r->st.free_bytes;
}
static double rec_recording(const void *p)
{
	const struct snap_rec *r = p;
	return r->running && r->st.state == VW_REC_RECORDING;
}

static const char *feed_label(const void *p)
{
	return ((const struct snap_feed *)p)->name;
}
static const char *stream_label(const void *p)
{
	return ((const struct snap_stream *)p)->conf->name;
}
static const char *dest_label(const void *p)
{
	return ((const struct snap_dest *)p)->conf->name;
}
static const char *rec_label(const void *p)
{
	return ((const struct snap_rec *)p)->conf->name;
}

/* Every family of one kind: prefix, label name, the items and how to name one. */
static void families(FILE *f, const char *prefix, const char *key, const struct metric *m, size_t n_m, const void *items,
		     size_t size, int n, const char *(*name)(const void *))
{
	char l[VW_NAME_MAX * 2];
	for (size_t k = 0; k < n_m; k++) {
		fprintf(f, "# HELP %s_%s %s\n# TYPE %s_%s %s\n", prefix, m[k].name, m[k].help, prefix, m[k].name, m[k].type);
		for (int i = 0; i < n; i++) {
			const void *it = (const char *)items + (size_t)i * size;
			label(l, sizeof(l), name(it));
			fprintf(f, "%s_%s{%s=\"%s\"} %.15g\n", prefix, m[k].name, key, l, m[k].value(it));
		}
	}
}

static double topic_clients(const void *p)
{
	return ((const struct snap_topic *)p)->t.clients;
}
static double topic_messages(const void *p)
{
	return (double)((const struct snap_topic *)p)->hs.chunks;
}
static double topic_bytes(const void *p)
{
	return (double)((const struct snap_topic *)p)->hs.bytes;
}
static double topic_dropped(const void *p)
{
	return (double)((const struct snap_topic *)p)->t.dropped;
}
static const char *topic_label(const void *p)
{
	return ((const struct snap_topic *)p)->t.name;
}

static char *vw_control_metrics(struct vw_control *ctl)
{
	static const struct metric feed_m[] = {
		{"frames_total", "counter", "Pictures captured (or chunks received, for ingest feeds).", feed_frames},
		{"fps", "gauge", "Pictures per second over the last second.", feed_fps},
		{"bytes_total", "counter", "Bytes received from an ingest encoder.", feed_bytes},
		{"live", "gauge", "1 when the device or encoder is delivering.", feed_live_value},
	};
	static const struct metric stream_m[] = {
		{"bitrate_bps", "gauge", "Encoded bits per second over the last seconds.", stream_bitrate},
		{"keyframes_total", "counter", "Keyframes produced (or forwarded, for passthrough streams).", stream_keyframes},
		{"frames_total", "counter", "Pictures encoded.", stream_frames},
		{"viewers", "gauge", "Local /live viewers.", stream_viewers},
		{"running", "gauge", "1 when the stream runs.", stream_running},
		{"encode_errors_total", "counter", "Pictures or sound the encoders refused or failed on.", stream_encode_errors},
		{"mux_errors_total", "counter", "Encoded packets the MPEG-TS muxer refused.", stream_mux_errors},
	};
	static const struct metric dest_m[] = {
		{"connected", "gauge", "1 when connected to the relay.", dest_connected},
		{"bytes_total", "counter", "Stream bytes sent to the relay.", dest_bytes},
		{"dropped_chunks_total", "counter", "Chunks dropped because the relay could not keep up.", dest_drops},
		{"reconnects_total", "counter", "Connections that failed or ended.", dest_reconnects},
	};
	static const struct metric topic_m[] = {
		{"clients", "gauge", "Clients of a /ws/ topic.", topic_clients},
		{"messages_total", "counter", "Messages (or chunks) through the topic's hub.", topic_messages},
		{"bytes_total", "counter", "Bytes through the topic's hub.", topic_bytes},
		{"dropped_total", "counter", "Messages its slow clients lost.", topic_dropped},
	};
	static const struct metric rec_m[] = {
		{"bytes_total", "counter", "Bytes written to segments.", rec_bytes},
		{"lost_chunks_total", "counter", "Chunks the recorder could not write.", rec_lost},
		{"free_bytes", "gauge", "Free space on the recording's filesystem.", rec_free},
		{"recording", "gauge", "1 when recording.", rec_recording},
	};
	struct snapshot *s = snapshot_take(ctl);
	char *out = NULL;
	size_t len = 0;
	FILE *f = s ? open_memstream(&out, &len) : NULL;

	if (!f) {
		snapshot_free(s);
		return NULL;
	}
	fprintf(f, "# HELP vw_uptime_seconds Time since vw started.\n# TYPE vw_uptime_seconds gauge\nvw_uptime_seconds %.3f\n",
		s->uptime_s);
	fprintf(f, "# HELP vw_api_changes_total Rule changes made through the APIs.\n# TYPE vw_api_changes_total counter\n"
		   "vw_api_changes_total %llu\n", (unsigned long long)ctl->api_changes);
#define N(a) (sizeof(a) / sizeof((a)[0]))
	families(f, "vw_feed", "feed", feed_m, N(feed_m), s->feeds, sizeof(*s->feeds), s->n_feeds, feed_label);
	families(f, "vw_stream", "stream", stream_m, N(stream_m), s->streams, sizeof(*s->streams), s->n_streams, stream_label);
	families(f, "vw_destination", "id", dest_m, N(dest_m), s->dests, sizeof(*s->dests), s->n_dests, dest_label);
	families(f, "vw_recorder", "recorder", rec_m, N(rec_m), s->recs, sizeof(*s->recs), s->n_recs, rec_label);
	families(f, "vw_topic", "topic", topic_m, N(topic_m), s->topics, sizeof(*s->topics), s->n_topics, topic_label);
#undef N
	fclose(f);
	snapshot_free(s);
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
	struct vw_apply_summary sum;
	apply(ctl, "started", &sum);
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
