/* vw_app: see vw_app.h.
 *
 * Applying is three phases over one table of kinds: keep (what survives moves to its place in
 * the new configuration), stop (the rest, consumers before producers) and start (what is
 * missing, producers before consumers). Each kind says how its parts are named, when a running
 * one may be kept, and how one is started and stopped. */
#include "vw_app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PASSTHROUGH_BITRATE 2000000 /* sizes a passthrough's queue when the encoder's rate is unknown */

/* One apply in progress: the configuration it moves to and the parts built for it. */
struct apply {
	struct vw_app *app;
	const struct vw_config *old, *next;
	struct vw_app_part *parts[VW_APP_KINDS];
	bool net_failed;
};

enum { KEEP_NO, KEEP_SAME, KEEP_CHANGED_IN_PLACE };
enum { START_OK, START_NOT_WANTED };

struct kind {
	const char *what; /* in log lines: "cannot start <what> NAME" */
	int max;
	int (*count)(const struct vw_config *c);
	const char *(*name)(const struct vw_config *c, int i);
	bool (*conf_equal)(const struct vw_config *a, int i, const struct vw_config *b, int j);
	/* Whether the running part `run` (part i of the old configuration) serves as part j of the
	 * new one; what it stands on has already been kept or not. */
	int (*keep)(struct apply *a, void *run, int i, int j);
	/* START_OK with *run set, START_NOT_WANTED, or a negative code with `why` filled. */
	int (*start)(struct apply *a, int j, void **run, char *why, size_t n);
	void (*stop)(struct vw_app *app, void *run);
};

/* ---- lookups ---- */

static bool feed_used(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_streams; i++)
		if (!c->streams[i].passthrough &&
		    (!strcmp(c->streams[i].video_feed, name) || !strcmp(c->streams[i].audio_feed, name)))
			return true;
	return false;
}

static int find_feed(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_feeds; i++)
		if (!strcmp(c->feeds[i].name, name))
			return i;
	return -1;
}

static int find_stream(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_streams; i++)
		if (!strcmp(c->streams[i].name, name))
			return i;
	return -1;
}

static int find_dest(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_dests; i++)
		if (!strcmp(c->dests[i].name, name))
			return i;
	return -1;
}

static int find_recorder(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_recorders; i++)
		if (!strcmp(c->recorders[i].name, name))
			return i;
	return -1;
}

/* The hub a consumer of `name` takes, among `parts` (built for configuration `c`). */
static struct vw_hub *source_hub(struct vw_app *app, const struct vw_config *c, struct vw_app_part *const *parts,
				 const char *name, bool create)
{
	for (int i = 0; i < c->n_streams; i++)
		if (!strcmp(c->streams[i].name, name)) {
			if (c->streams[i].passthrough) {
				struct vw_passthrough *r = parts[VW_APP_PASSTHROUGH][i].run;
				return r ? &r->hub : NULL;
			}
			struct vw_encoder *s = parts[VW_APP_ENCODER][i].run;
			return s ? &s->hub : NULL;
		}
	if (app->api_hub && !strcmp(name, VW_API_STREAM))
		return app->api_hub;
	const struct vw_feed_conf *f = vw_config_feed(c, name);
	if (f && f->type == VW_FEED_INGEST) {
		struct vw_ingest_feed *x = vw_ingest_feed(&app->ingest, name, create);
		return x ? &x->hub : NULL;
	}
	return NULL;
}

static int64_t source_bitrate(const struct vw_config *c, const char *name)
{
	const struct vw_stream_conf *s = vw_config_stream(c, name);
	if (s && !s->passthrough)
		return s->video_bitrate + s->audio_bitrate;
	return DEFAULT_PASSTHROUGH_BITRATE;
}

static void hub_gone(struct vw_app *app, struct vw_hub *hub)
{
	if (app->hub_gone)
		app->hub_gone(app->hub_gone_opaque, hub);
}

/* ---- feeds ---- */

static int feed_count(const struct vw_config *c)
{
	return c->n_feeds;
}

static const char *feed_name(const struct vw_config *c, int i)
{
	return c->feeds[i].name;
}

static bool feed_equal(const struct vw_config *a, int i, const struct vw_config *b, int j)
{
	return vw_feed_conf_equal(&a->feeds[i], &b->feeds[j]);
}

static int feed_keep(struct apply *a, void *run, int i, int j)
{
	(void)run;
	return feed_used(a->next, a->next->feeds[j].name) && feed_equal(a->old, i, a->next, j) ? KEEP_SAME : KEEP_NO;
}

static int feed_start(struct apply *a, int j, void **run, char *why, size_t n)
{
	const struct vw_feed_conf *c = &a->next->feeds[j];
	struct vw_feed *f;
	int ret;

	if (c->type == VW_FEED_INGEST) {
		vw_ingest_feed(&a->app->ingest, c->name, true); /* subscribers may wait on it now */
		return START_NOT_WANTED;
	}
	if (!feed_used(a->next, c->name))
		return START_NOT_WANTED;
	f = calloc(1, sizeof(*f));
	ret = f ? vw_feed_start(f, c, a->next->device_root, a->app->log) : -ENOMEM;
	if (ret < 0) {
		snprintf(why, n, "%s", strerror(-ret));
		free(f);
		return ret;
	}
	*run = f;
	return START_OK;
}

static void feed_stop(struct vw_app *app, void *run)
{
	(void)app;
	vw_feed_stop(run);
	free(run);
}

/* What every ingest feed carries as `next` declares it: its `format`, or auto for a feed that no
 * section declares (any more). Under the registry lock, then each feed's: the lock order's way. */
static void ingest_format(void *opaque, struct vw_ingest_feed *f)
{
	const struct vw_feed_conf *c = vw_config_feed(opaque, f->name);
	vw_ingest_feed_set_format(f, c && c->type == VW_FEED_INGEST ? c->ingest_format : VW_INGEST_AUTO);
}

/* ---- encoded streams ---- */

static int stream_count(const struct vw_config *c)
{
	return c->n_streams;
}

static const char *stream_name(const struct vw_config *c, int i)
{
	return c->streams[i].name;
}

static bool stream_equal(const struct vw_config *a, int i, const struct vw_config *b, int j)
{
	return vw_stream_conf_equal(&a->streams[i], &b->streams[j]);
}

/* Equal but for mute, which a running stream changes in place; and still on the same feeds. */
static int encoder_keep(struct apply *a, void *run, int i, int j)
{
	struct vw_encoder *s = run;
	const struct vw_stream_conf *o = &a->old->streams[i], *c = &a->next->streams[j];
	struct vw_stream_conf x = *o;
	struct vw_app_part *feeds = a->parts[VW_APP_FEED];

	x.mute = c->mute;
	if (!vw_stream_conf_equal(&x, c))
		return KEEP_NO;
	int v = find_feed(a->next, o->video_feed), au = *o->audio_feed ? find_feed(a->next, o->audio_feed) : -1;
	if (v < 0 || !feeds[v].run || feeds[v].run != s->vfeed || (*o->audio_feed && (au < 0 || !feeds[au].run)))
		return KEEP_NO;
	if (o->mute == c->mute)
		return KEEP_SAME;
	vw_encoder_set_mute(s, c->mute);
	vw_info(a->app->log, "app", "stream %s %s", o->name, c->mute ? "muted" : "unmuted");
	return KEEP_CHANGED_IN_PLACE;
}

static int encoder_start(struct apply *a, int j, void **run, char *why, size_t n)
{
	const struct vw_stream_conf *c = &a->next->streams[j];
	struct vw_app_part *feeds = a->parts[VW_APP_FEED];
	int v = find_feed(a->next, c->video_feed), au = *c->audio_feed ? find_feed(a->next, c->audio_feed) : -1;
	struct vw_encoder *s;
	int ret;

	if (c->passthrough || v < 0 || !feeds[v].run)
		return START_NOT_WANTED; /* a feed that failed to start has said so */
	struct vw_feed *af = au >= 0 ? feeds[au].run : vw_feed_has_audio(&a->next->feeds[v]) ? feeds[v].run : NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(why, n, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = vw_encoder_start(s, c, feeds[v].run, af, a->app->log);
	if (ret < 0) {
		snprintf(why, n, "%s", s->error);
		free(s);
		return ret;
	}
	*run = s;
	return START_OK;
}

static void encoder_stop(struct vw_app *app, void *run)
{
	hub_gone(app, &((struct vw_encoder *)run)->hub);
	vw_encoder_stop(run);
	vw_encoder_free(run);
	free(run);
}

/* ---- passthrough streams ---- */

/* Equal, or a passthrough still that only forwards other feeds: it moves to them in place, so its
 * destinations keep their relay connections (the Go vw's mute: the stream posted without its
 * audio feed). */
static int passthrough_keep(struct apply *a, void *run, int i, int j)
{
	const struct vw_stream_conf *o = &a->old->streams[i], *c = &a->next->streams[j];

	if (stream_equal(a->old, i, a->next, j))
		return KEEP_SAME;
	if (!o->passthrough || !c->passthrough || vw_passthrough_set_feeds(run, &a->app->ingest, c) < 0)
		return KEEP_NO;
	vw_info(a->app->log, "app", "stream %s forwards ingest feed%s %s%s now (its connections stay)", c->name,
		c->n_feeds > 1 ? "s" : "", c->feeds[0], c->n_feeds > 1 ? ", ..." : "");
	return KEEP_CHANGED_IN_PLACE;
}

static int passthrough_start(struct apply *a, int j, void **run, char *why, size_t n)
{
	const struct vw_stream_conf *c = &a->next->streams[j];
	struct vw_passthrough *r;
	int ret;

	if (!c->passthrough)
		return START_NOT_WANTED;
	r = calloc(1, sizeof(*r));
	ret = r ? vw_passthrough_start(r, &a->app->ingest, c) : -ENOMEM;
	if (ret < 0) {
		snprintf(why, n, "%s", strerror(-ret));
		free(r);
		return ret;
	}
	vw_info(a->app->log, "app", "stream %s forwards ingest feed%s %s%s", c->name, c->n_feeds > 1 ? "s" : "", c->feeds[0],
		c->n_feeds > 1 ? ", ..." : "");
	*run = r;
	return START_OK;
}

static void passthrough_stop(struct vw_app *app, void *run)
{
	struct vw_passthrough *r = run;
	hub_gone(app, &r->hub);
	vw_passthrough_stop(r);
	vw_passthrough_free(r);
	free(r);
}

/* ---- recorders ---- */

static int recorder_count(const struct vw_config *c)
{
	return c->n_recorders;
}

static const char *recorder_name(const struct vw_config *c, int i)
{
	return c->recorders[i].name;
}

static bool recorder_equal(const struct vw_config *a, int i, const struct vw_config *b, int j)
{
	return vw_recorder_conf_equal(&a->recorders[i], &b->recorders[j]);
}

/* A consumer is kept when its configuration is equal and its source survived. */
static int recorder_keep(struct apply *a, void *run, int i, int j)
{
	struct vw_hub *h = source_hub(a->app, a->next, a->parts, a->next->recorders[j].stream, false);
	return h && ((struct vw_recorder *)run)->sub.hub == h && recorder_equal(a->old, i, a->next, j) ? KEEP_SAME
												    : KEEP_NO;
}

static int recorder_start(struct apply *a, int j, void **run, char *why, size_t n)
{
	const struct vw_recorder_conf *c = &a->next->recorders[j];
	struct vw_hub *h = source_hub(a->app, a->next, a->parts, c->stream, true);
	struct vw_recorder *r;
	int ret;

	if (!h)
		return START_NOT_WANTED; /* waits for its stream */
	r = calloc(1, sizeof(*r));
	ret = r ? vw_recorder_start(r, c, h, a->app->log) : -ENOMEM;
	if (ret < 0) {
		snprintf(why, n, "%s", strerror(-ret));
		free(r);
		return ret;
	}
	*run = r;
	return START_OK;
}

static void recorder_stop(struct vw_app *app, void *run)
{
	(void)app;
	vw_recorder_stop(run);
	free(run);
}

/* ---- destinations ---- */

static int dest_count(const struct vw_config *c)
{
	return c->n_dests;
}

static const char *dest_name(const struct vw_config *c, int i)
{
	return c->dests[i].name;
}

static bool dest_equal(const struct vw_config *a, int i, const struct vw_config *b, int j)
{
	return vw_dest_conf_equal(&a->dests[i], &b->dests[j]);
}

static int dest_keep(struct apply *a, void *run, int i, int j)
{
	struct vw_hub *h = source_hub(a->app, a->next, a->parts, a->next->dests[j].stream, false);
	return h && ((struct vw_dest *)run)->sink.sub.hub == h && dest_equal(a->old, i, a->next, j) ? KEEP_SAME : KEEP_NO;
}

static int dest_start(struct apply *a, int j, void **run, char *why, size_t n)
{
	struct vw_app *app = a->app;
	const struct vw_dest_conf *c = &a->next->dests[j];
	struct vw_hub *h = source_hub(app, a->next, a->parts, c->stream, true);
	struct vw_dest *d;
	int ret;

	if (h && h == app->api_hub && strcmp(c->name, VW_API_RULE))
		h = NULL; /* only the [api] rule carries the control channel */
	if (!h || a->net_failed)
		return START_NOT_WANTED;
	if (!app->net.running && (ret = vw_net_start(&app->net, vw_dest_protocols(), app->log)) < 0) {
		vw_err(app->log, "app", "cannot start the network loop: %s", strerror(-ret));
		a->net_failed = true; /* said once; no destination can start */
		return START_NOT_WANTED;
	}
	d = calloc(1, sizeof(*d));
	ret = d ? vw_dest_start(d, c, h, source_bitrate(a->next, c->stream), &app->net, app->log) : -ENOMEM;
	if (ret < 0) {
		snprintf(why, n, "%s", strerror(-ret));
		free(d);
		return ret;
	}
	if (h == app->api_hub && app->api_text)
		vw_dest_set_text_handler(d, app->api_text, app->api_opaque);
	else if (!vw_config_stream(a->next, c->stream))
		vw_dest_set_two_way(d); /* an ingest feed is a /ws/ topic too: the relay may talk back */
	*run = d;
	return START_OK;
}

static void dest_stop(struct vw_app *app, void *run)
{
	(void)app;
	vw_dest_stop(run);
	free(run);
}

static const struct kind kinds[VW_APP_KINDS] = {
	[VW_APP_FEED] = {"feed", VW_MAX_FEEDS, feed_count, feed_name, feed_equal, feed_keep, feed_start, feed_stop},
	[VW_APP_ENCODER] = {"stream", VW_MAX_STREAMS, stream_count, stream_name, stream_equal, encoder_keep, encoder_start,
			    encoder_stop},
	[VW_APP_PASSTHROUGH] = {"stream", VW_MAX_STREAMS, stream_count, stream_name, stream_equal, passthrough_keep,
				passthrough_start, passthrough_stop},
	[VW_APP_RECORDER] = {"recorder", VW_MAX_RECORDERS, recorder_count, recorder_name, recorder_equal, recorder_keep,
			     recorder_start, recorder_stop},
	[VW_APP_DEST] = {"destination", VW_MAX_DESTS, dest_count, dest_name, dest_equal, dest_keep, dest_start, dest_stop},
};

/* ---- apply ---- */

static struct vw_app_part *parts_new(enum vw_app_kind k)
{
	return calloc((size_t)kinds[k].max, sizeof(struct vw_app_part));
}

static void parts_free(struct vw_app_part **parts)
{
	for (int k = 0; k < VW_APP_KINDS; k++) {
		free(parts[k]);
		parts[k] = NULL;
	}
}

/* Part j of `next` as it was in `old`, when it has the same name and configuration there: a
 * failure to start it is then not something this apply brought. NULL otherwise. */
static const struct vw_app_part *unchanged(const struct vw_app *app, enum vw_app_kind k, const struct vw_config *old,
					   const struct vw_config *next, int j)
{
	const struct kind *kd = &kinds[k];
	for (int i = 0; old && i < kd->count(old); i++)
		if (!strcmp(kd->name(old, i), kd->name(next, j)))
			return kd->conf_equal(old, i, next, j) ? &app->parts[k][i] : NULL;
	return NULL;
}

int vw_app_apply(struct vw_app *app, const struct vw_config *cfg, struct vw_apply_summary *sum)
{
	struct apply a = {.app = app, .old = app->cfg};
	struct vw_config *next = malloc(sizeof(*next));
	struct vw_apply_summary s = {0};

	for (int k = 0; k < VW_APP_KINDS; k++)
		if (!(a.parts[k] = parts_new(k))) {
			parts_free(a.parts);
			free(next);
			return -ENOMEM;
		}
	if (!next) {
		parts_free(a.parts);
		return -ENOMEM;
	}
	*next = *cfg;
	a.next = next;

	/* 1. Keep what survives: equal configuration, and everything it stands on survives too. */
	for (int k = 0; a.old && k < VW_APP_KINDS; k++) {
		const struct kind *kd = &kinds[k];
		for (int i = 0; i < kd->count(a.old); i++) {
			struct vw_app_part *p = &app->parts[k][i];
			int j = -1;
			for (int x = 0; p->run && x < kd->count(next); x++)
				if (!strcmp(kd->name(a.old, i), kd->name(next, x)))
					j = x;
			if (j < 0)
				continue;
			int keep = kd->keep(&a, p->run, i, j);
			if (keep == KEEP_NO)
				continue;
			a.parts[k][j].run = p->run;
			p->run = NULL;
			if (keep == KEEP_CHANGED_IN_PLACE)
				s.changed_in_place++;
			else
				s.kept++;
		}
	}

	/* 2. Stop the rest, consumers before producers. */
	for (int k = VW_APP_KINDS - 1; k >= 0; k--)
		for (int i = 0; app->parts[k] && i < kinds[k].max; i++)
			if (app->parts[k][i].run) {
				kinds[k].stop(app, app->parts[k][i].run);
				app->parts[k][i].run = NULL;
				s.stopped++;
			}

	/* 3. Start what is missing, producers before consumers. A part that fails to start is
	 * logged and recorded; the rest runs. */
	for (int k = 0; k < VW_APP_KINDS; k++) {
		const struct kind *kd = &kinds[k];
		for (int j = 0; j < kd->count(next); j++) {
			struct vw_app_part *p = &a.parts[k][j];
			if (p->run)
				continue;
			int ret = kd->start(&a, j, &p->run, p->why, sizeof(p->why));
			if (ret == START_OK) {
				s.started++;
				continue;
			}
			if (ret == START_NOT_WANTED) {
				p->why[0] = 0;
				continue;
			}
			const struct vw_app_part *was = unchanged(app, k, a.old, next, j);
			p->err = ret;
			/* retried at every apply, logged when it starts failing or fails differently */
			if (!was || was->err != ret || strcmp(was->why, p->why))
				vw_err(app->log, "app", "cannot start %s %s: %s", kd->what, kd->name(next, j), p->why);
			s.failed++;
			if (!was && !s.failed_changed++) {
				s.err = ret;
				snprintf(s.why, sizeof(s.why), "%s %s: %s", kd->what, kd->name(next, j), p->why);
			}
		}
	}

	vw_ingest_each(&app->ingest, ingest_format, next);
	parts_free(app->parts);
	memcpy(app->parts, a.parts, sizeof(a.parts));
	free(app->cfg);
	app->cfg = next;
	if (sum)
		*sum = s;
	return 0;
}

int vw_app_init(struct vw_app *app, struct vw_log *log)
{
	int ret;

	memset(app, 0, sizeof(*app));
	app->log = log;
	for (int k = 0; k < VW_APP_KINDS; k++)
		if (!(app->parts[k] = parts_new(k))) {
			parts_free(app->parts);
			return -ENOMEM;
		}
	ret = vw_ingest_init(&app->ingest, log);
	if (ret < 0) {
		parts_free(app->parts);
		return ret;
	}
	ret = vw_net_start(&app->net, vw_dest_protocols(), log);
	if (ret < 0)
		vw_err(log, "app", "cannot start the network loop: %s", strerror(-ret));
	return 0; /* capture and recording go on without the network */
}

int vw_app_start(struct vw_app *app, const struct vw_config *cfg, struct vw_log *log)
{
	int ret = vw_app_init(app, log);
	return ret < 0 ? ret : vw_app_apply(app, cfg, NULL);
}

struct hub_list {
	struct vw_hub **hubs;
	int n, cap;
	bool short_of_memory;
};

static void list_ingest_hub(void *opaque, struct vw_ingest_feed *f)
{
	struct hub_list *l = opaque;
	if (l->n == l->cap) {
		int cap = l->cap ? 2 * l->cap : 16;
		struct vw_hub **h = realloc(l->hubs, (size_t)cap * sizeof(*h));
		if (!h) {
			l->short_of_memory = true;
			return;
		}
		l->hubs = h;
		l->cap = cap;
	}
	l->hubs[l->n++] = &f->hub;
}

static void *part(struct vw_app *app, enum vw_app_kind k, int i)
{
	return app->parts[k] ? app->parts[k][i].run : NULL;
}

void vw_app_stop(struct vw_app *app)
{
	struct hub_list ingest_hubs = {0};

	/* Connections first; then the streams: encoders flush and close their hubs, so recorders
	 * write what is queued and close their segments cleanly; then the recorders; the devices
	 * last. */
	for (int i = 0; i < VW_MAX_DESTS; i++)
		if (part(app, VW_APP_DEST, i)) {
			dest_stop(app, part(app, VW_APP_DEST, i));
			app->parts[VW_APP_DEST][i].run = NULL;
		}
	for (int i = 0; i < VW_MAX_STREAMS; i++) /* viewers let go while the event loop still runs */
		if (part(app, VW_APP_ENCODER, i))
			hub_gone(app, &((struct vw_encoder *)part(app, VW_APP_ENCODER, i))->hub);
	/* Listed under the ingest lock, let go of outside it: letting go waits for the event loop. */
	vw_ingest_each(&app->ingest, list_ingest_hub, &ingest_hubs);
	for (int i = 0; i < ingest_hubs.n; i++)
		hub_gone(app, ingest_hubs.hubs[i]);
	free(ingest_hubs.hubs);
	if (ingest_hubs.short_of_memory)
		vw_warn(app->log, "app", "out of memory at stop: some viewers of ingest feeds are let go with the loop");
	for (int i = 0; i < VW_MAX_STREAMS; i++)
		if (part(app, VW_APP_PASSTHROUGH, i)) {
			passthrough_stop(app, part(app, VW_APP_PASSTHROUGH, i));
			app->parts[VW_APP_PASSTHROUGH][i].run = NULL;
		}
	vw_net_stop(&app->net);
	for (int i = 0; i < VW_MAX_STREAMS; i++)
		if (part(app, VW_APP_ENCODER, i))
			vw_encoder_stop(part(app, VW_APP_ENCODER, i));
	for (int i = 0; i < VW_MAX_RECORDERS; i++)
		if (part(app, VW_APP_RECORDER, i)) {
			recorder_stop(app, part(app, VW_APP_RECORDER, i));
			app->parts[VW_APP_RECORDER][i].run = NULL;
		}
	for (int i = 0; i < VW_MAX_STREAMS; i++)
		if (part(app, VW_APP_ENCODER, i)) {
			vw_encoder_free(part(app, VW_APP_ENCODER, i));
			free(part(app, VW_APP_ENCODER, i));
			app->parts[VW_APP_ENCODER][i].run = NULL;
		}
	for (int i = 0; i < VW_MAX_FEEDS; i++)
		if (part(app, VW_APP_FEED, i)) {
			feed_stop(app, part(app, VW_APP_FEED, i));
			app->parts[VW_APP_FEED][i].run = NULL;
		}
	vw_ingest_destroy(&app->ingest);
	parts_free(app->parts);
	free(app->cfg);
	app->cfg = NULL;
}

/* ---- lookups by name in what runs ---- */

static void *find_run(struct vw_app *app, enum vw_app_kind k, int (*find)(const struct vw_config *, const char *),
		      const char *name)
{
	int i = app->cfg ? find(app->cfg, name) : -1;
	return i >= 0 ? part(app, k, i) : NULL;
}

struct vw_passthrough *vw_app_passthrough(struct vw_app *app, const char *name)
{
	return find_run(app, VW_APP_PASSTHROUGH, find_stream, name);
}

struct vw_feed *vw_app_feed(struct vw_app *app, const char *name)
{
	return find_run(app, VW_APP_FEED, find_feed, name);
}

struct vw_encoder *vw_app_stream(struct vw_app *app, const char *name)
{
	return find_run(app, VW_APP_ENCODER, find_stream, name);
}

struct vw_dest *vw_app_dest(struct vw_app *app, const char *name)
{
	return find_run(app, VW_APP_DEST, find_dest, name);
}

struct vw_recorder *vw_app_recorder(struct vw_app *app, const char *name)
{
	return find_run(app, VW_APP_RECORDER, find_recorder, name);
}

int vw_app_stream_failure(struct vw_app *app, const char *name, const char **why)
{
	int i = app->cfg ? find_stream(app->cfg, name) : -1;
	if (i < 0 || !app->parts[VW_APP_ENCODER] || part(app, VW_APP_ENCODER, i) || part(app, VW_APP_PASSTHROUGH, i))
		return 0;
	const struct vw_app_part *p = app->cfg->streams[i].passthrough ? &app->parts[VW_APP_PASSTHROUGH][i]
								       : &app->parts[VW_APP_ENCODER][i];
	if (why)
		*why = p->err ? p->why : "";
	return p->err;
}

struct vw_hub *vw_app_source(struct vw_app *app, const char *name, bool create)
{
	struct vw_hub *h;
	struct vw_ingest_feed *f;

	if (!app->cfg)
		return NULL;
	h = source_hub(app, app->cfg, app->parts, name, create);
	if (!h && (f = vw_ingest_feed(&app->ingest, name, false))) /* an encoder no rule names yet */
		h = &f->hub;
	return h;
}
