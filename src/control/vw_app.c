/* vw_app: see vw_app.h. */
#include "vw_app.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool feed_used(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_streams; i++)
		if (!c->streams[i].passthrough &&
		    (!strcmp(c->streams[i].video_feed, name) || !strcmp(c->streams[i].audio_feed, name)))
			return true;
	return false;
}

#define DEFAULT_PASSTHROUGH_BITRATE 2000000 /* sizes a passthrough's queue when the encoder's rate is unknown */

/* The hub a consumer of `name` takes, among what `streams`/`passthroughs` hold. */
static struct vw_hub *source_hub(struct vw_app *app, const struct vw_config *c, struct vw_encoder **streams,
				 struct vw_passthrough **passthroughs, const char *name, bool create)
{
	for (int i = 0; i < c->n_streams; i++)
		if (!strcmp(c->streams[i].name, name)) {
			if (c->streams[i].passthrough)
				return passthroughs[i] ? &passthroughs[i]->hub : NULL;
			return streams[i] ? &streams[i]->hub : NULL;
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

static void stop_passthrough(struct vw_app *app, struct vw_passthrough **r)
{
	if (*r) {
		hub_gone(app, &(*r)->hub);
		vw_passthrough_stop(*r);
		vw_passthrough_free(*r);
		free(*r);
		*r = NULL;
	}
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

static void stop_dest(struct vw_dest **d)
{
	if (*d) {
		vw_dest_stop(*d);
		free(*d);
		*d = NULL;
	}
}

static int find_recorder(const struct vw_config *c, const char *name)
{
	for (int i = 0; i < c->n_recorders; i++)
		if (!strcmp(c->recorders[i].name, name))
			return i;
	return -1;
}

/* Equal but for mute, which a running stream changes in place. */
static bool stream_same(const struct vw_stream_conf *a, const struct vw_stream_conf *b)
{
	struct vw_stream_conf x = *a;
	x.mute = b->mute;
	return vw_stream_conf_equal(&x, b);
}

static void stop_recorder(struct vw_recorder **r)
{
	if (*r) {
		vw_recorder_stop(*r);
		free(*r);
		*r = NULL;
	}
}

static void stop_stream(struct vw_encoder **s)
{
	if (*s) {
		vw_encoder_stop(*s);
		vw_encoder_free(*s);
		free(*s);
		*s = NULL;
	}
}

static void stop_feed(struct vw_feed **f)
{
	if (*f) {
		vw_feed_stop(*f);
		free(*f);
		*f = NULL;
	}
}

int vw_app_apply(struct vw_app *app, const struct vw_config *cfg, struct vw_apply_summary *sum)
{
	const struct vw_config *old = app->cfg;
	struct vw_config *next = malloc(sizeof(*next));
	struct vw_feed *feeds[VW_MAX_FEEDS] = {0};
	struct vw_encoder *streams[VW_MAX_STREAMS] = {0};
	struct vw_passthrough *passthroughs[VW_MAX_STREAMS] = {0};
	struct vw_recorder *recorders[VW_MAX_RECORDERS] = {0};
	struct vw_dest **dests = calloc(VW_MAX_DESTS, sizeof(*dests));
	struct vw_apply_summary s = {0};
	int ret = 0;

	if (!next || !dests) {
		free(next);
		free(dests);
		return -ENOMEM;
	}
	*next = *cfg;

	/* 1. What survives: equal configuration, and everything it stands on survives too. */
	for (int i = 0; old && i < old->n_feeds; i++) {
		int j = find_feed(next, old->feeds[i].name);
		if (app->feeds[i] && j >= 0 && feed_used(next, next->feeds[j].name) &&
		    vw_feed_conf_equal(&old->feeds[i], &next->feeds[j])) {
			feeds[j] = app->feeds[i];
			app->feeds[i] = NULL;
			s.kept++;
		}
	}
	for (int i = 0; old && i < old->n_streams; i++) {
		const struct vw_stream_conf *o = &old->streams[i];
		int j = find_stream(next, o->name);
		if (app->passthroughs[i] && j >= 0 && vw_stream_conf_equal(o, &next->streams[j])) {
			passthroughs[j] = app->passthroughs[i];
			app->passthroughs[i] = NULL;
			s.kept++;
			continue;
		}
		if (!app->streams[i] || j < 0 || !stream_same(o, &next->streams[j]))
			continue;
		int v = find_feed(next, o->video_feed), a = *o->audio_feed ? find_feed(next, o->audio_feed) : -1;
		if (v < 0 || !feeds[v] || feeds[v] != app->streams[i]->vfeed || (*o->audio_feed && (a < 0 || !feeds[a])))
			continue;
		streams[j] = app->streams[i];
		app->streams[i] = NULL;
		if (o->mute != next->streams[j].mute) {
			vw_encoder_set_mute(streams[j], next->streams[j].mute);
			vw_info(app->log, "app", "stream %s %s", o->name, next->streams[j].mute ? "muted" : "unmuted");
			s.changed_in_place++;
		} else {
			s.kept++;
		}
	}
	for (int i = 0; old && i < old->n_recorders; i++) {
		int j = find_recorder(next, old->recorders[i].name);
		struct vw_hub *h = j >= 0 ? source_hub(app, next, streams, passthroughs, next->recorders[j].stream, false) : NULL;
		if (app->recorders[i] && h && app->recorders[i]->sub.hub == h &&
		    vw_recorder_conf_equal(&old->recorders[i], &next->recorders[j])) {
			recorders[j] = app->recorders[i];
			app->recorders[i] = NULL;
			s.kept++;
		}
	}

	for (int i = 0; old && i < old->n_dests; i++) {
		int j = find_dest(next, old->dests[i].name);
		struct vw_hub *h = j >= 0 ? source_hub(app, next, streams, passthroughs, next->dests[j].stream, false) : NULL;
		if (app->dests[i] && h && app->dests[i]->sink.sub.hub == h && vw_dest_conf_equal(&old->dests[i], &next->dests[j])) {
			dests[j] = app->dests[i];
			app->dests[i] = NULL;
			s.kept++;
		}
	}

	/* 2. Stop the rest, consumers before producers. */
	for (int i = 0; i < VW_MAX_DESTS; i++)
		if (app->dests[i]) {
			stop_dest(&app->dests[i]);
			s.stopped++;
		}
	for (int i = 0; i < VW_MAX_RECORDERS; i++)
		if (app->recorders[i]) {
			stop_recorder(&app->recorders[i]);
			s.stopped++;
		}
	for (int i = 0; i < VW_MAX_STREAMS; i++) {
		if (app->passthroughs[i]) {
			stop_passthrough(app, &app->passthroughs[i]);
			s.stopped++;
		}
		if (app->streams[i]) {
			hub_gone(app, &app->streams[i]->hub);
			stop_stream(&app->streams[i]);
			s.stopped++;
		}
	}
	for (int i = 0; i < VW_MAX_FEEDS; i++)
		if (app->feeds[i]) {
			stop_feed(&app->feeds[i]);
			s.stopped++;
		}

	/* 3. Start what is new, producers before consumers. A part that fails to start is logged
	 * and left out; the rest runs. */
	for (int i = 0; i < next->n_feeds; i++) {
		if (next->feeds[i].type == VW_FEED_INGEST) {
			vw_ingest_feed(&app->ingest, next->feeds[i].name, true); /* subscribers may wait on it now */
			continue;
		}
		if (feeds[i] || !feed_used(next, next->feeds[i].name))
			continue;
		feeds[i] = calloc(1, sizeof(*feeds[i]));
		if (!feeds[i] || (ret = vw_feed_start(feeds[i], &next->feeds[i], next->device_root, app->log)) < 0) {
			vw_err(app->log, "app", "cannot start feed %s: %s", next->feeds[i].name, strerror(ret ? -ret : ENOMEM));
			free(feeds[i]);
			feeds[i] = NULL;
			continue;
		}
		s.started++;
	}
	for (int i = 0; i < next->n_streams; i++) {
		const struct vw_stream_conf *c = &next->streams[i];
		if (c->passthrough) {
			if (passthroughs[i])
				continue;
			passthroughs[i] = calloc(1, sizeof(*passthroughs[i]));
			if (!passthroughs[i] || (ret = vw_passthrough_start(passthroughs[i], &app->ingest, c)) < 0) {
				vw_err(app->log, "app", "cannot start stream %s: %s", c->name, strerror(ret ? -ret : ENOMEM));
				free(passthroughs[i]);
				passthroughs[i] = NULL;
				continue;
			}
			vw_info(app->log, "app", "stream %s forwards ingest feed%s %s%s%s", c->name, c->n_feeds > 1 ? "s" : "",
				c->feeds[0], c->n_feeds > 1 ? ", ..." : "", "");
			s.started++;
			continue;
		}
		int v = find_feed(next, c->video_feed), a = *c->audio_feed ? find_feed(next, c->audio_feed) : -1;
		if (streams[i] || v < 0 || !feeds[v])
			continue;
		struct vw_feed *af = a >= 0 ? feeds[a] : (vw_feed_has_audio(&next->feeds[v]) ? feeds[v] : NULL);
		streams[i] = calloc(1, sizeof(*streams[i]));
		if (!streams[i] || (ret = vw_encoder_start(streams[i], c, feeds[v], af, app->log)) < 0) {
			vw_err(app->log, "app", "cannot start stream %s: %s", c->name, strerror(ret ? -ret : ENOMEM));
			free(streams[i]);
			streams[i] = NULL;
			continue;
		}
		s.started++;
	}
	for (int i = 0; i < next->n_recorders; i++) {
		struct vw_hub *h = source_hub(app, next, streams, passthroughs, next->recorders[i].stream, true);
		if (recorders[i] || !h)
			continue;
		recorders[i] = calloc(1, sizeof(*recorders[i]));
		if (!recorders[i] || (ret = vw_recorder_start(recorders[i], &next->recorders[i], h, app->log)) < 0) {
			vw_err(app->log, "app", "cannot start recorder %s: %s", next->recorders[i].name,
			       strerror(ret ? -ret : ENOMEM));
			free(recorders[i]);
			recorders[i] = NULL;
			continue;
		}
		s.started++;
	}

	for (int i = 0; i < next->n_dests; i++) {
		const struct vw_dest_conf *dc = &next->dests[i];
		struct vw_hub *h = source_hub(app, next, streams, passthroughs, dc->stream, true);
		if (h && h == app->api_hub && strcmp(dc->name, VW_API_RULE))
			h = NULL; /* only the [api] rule carries the control channel */
		if (dests[i] || !h)
			continue;
		if (!app->net.running && (ret = vw_net_start(&app->net, vw_dest_protocols(), app->log)) < 0) {
			vw_err(app->log, "app", "cannot start the network loop: %s", strerror(-ret));
			break;
		}
		dests[i] = calloc(1, sizeof(*dests[i]));
		ret = dests[i] ? vw_dest_start(dests[i], dc, h, source_bitrate(next, dc->stream), &app->net, app->log)
			       : -ENOMEM;
		if (ret == 0 && h == app->api_hub && app->api_text)
			vw_dest_set_text_handler(dests[i], app->api_text, app->api_opaque);
		if (ret < 0) {
			vw_err(app->log, "app", "cannot start destination %s: %s", dc->name, strerror(-ret));
			free(dests[i]);
			dests[i] = NULL;
			continue;
		}
		s.started++;
	}

	memcpy(app->dests, dests, VW_MAX_DESTS * sizeof(*dests));
	free(dests);
	memcpy(app->feeds, feeds, sizeof(feeds));
	memcpy(app->streams, streams, sizeof(streams));
	memcpy(app->passthroughs, passthroughs, sizeof(passthroughs));
	memcpy(app->recorders, recorders, sizeof(recorders));
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
	ret = vw_ingest_init(&app->ingest, log);
	if (ret < 0)
		return ret;
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

static void ingest_gone(void *opaque, struct vw_ingest_feed *f)
{
	hub_gone(opaque, &f->hub);
}

void vw_app_stop(struct vw_app *app)
{
	/* Connections first; then the streams: encoders flush and close their hubs, so recorders
	 * write what is queued and close their segments cleanly; then the recorders; the devices
	 * last. */
	for (int i = 0; i < VW_MAX_DESTS; i++)
		stop_dest(&app->dests[i]);
	for (int i = 0; i < VW_MAX_STREAMS; i++) /* viewers let go while the event loop still runs */
		if (app->streams[i])
			hub_gone(app, &app->streams[i]->hub);
	vw_ingest_each(&app->ingest, ingest_gone, app);
	for (int i = 0; i < VW_MAX_STREAMS; i++)
		stop_passthrough(app, &app->passthroughs[i]);
	vw_net_stop(&app->net);
	for (int i = 0; i < VW_MAX_STREAMS; i++)
		if (app->streams[i])
			vw_encoder_stop(app->streams[i]);
	for (int i = 0; i < VW_MAX_RECORDERS; i++)
		stop_recorder(&app->recorders[i]);
	for (int i = 0; i < VW_MAX_STREAMS; i++)
		if (app->streams[i]) {
			vw_encoder_free(app->streams[i]);
			free(app->streams[i]);
			app->streams[i] = NULL;
		}
	for (int i = 0; i < VW_MAX_FEEDS; i++)
		stop_feed(&app->feeds[i]);
	vw_ingest_destroy(&app->ingest);
	free(app->cfg);
	app->cfg = NULL;
}

struct vw_passthrough *vw_app_passthrough(struct vw_app *app, const char *name)
{
	int i = app->cfg ? find_stream(app->cfg, name) : -1;
	return i >= 0 ? app->passthroughs[i] : NULL;
}

struct vw_hub *vw_app_source(struct vw_app *app, const char *name, bool create)
{
	struct vw_hub *h;
	struct vw_ingest_feed *f;

	if (!app->cfg)
		return NULL;
	h = source_hub(app, app->cfg, app->streams, app->passthroughs, name, create);
	if (!h && (f = vw_ingest_feed(&app->ingest, name, false))) /* an encoder no rule names yet */
		h = &f->hub;
	return h;
}

struct vw_feed *vw_app_feed(struct vw_app *app, const char *name)
{
	int i = app->cfg ? find_feed(app->cfg, name) : -1;
	return i >= 0 ? app->feeds[i] : NULL;
}

struct vw_encoder *vw_app_stream(struct vw_app *app, const char *name)
{
	int i = app->cfg ? find_stream(app->cfg, name) : -1;
	return i >= 0 ? app->streams[i] : NULL;
}

struct vw_dest *vw_app_dest(struct vw_app *app, const char *name)
{
	int i = app->cfg ? find_dest(app->cfg, name) : -1;
	return i >= 0 ? app->dests[i] : NULL;
}

struct vw_recorder *vw_app_recorder(struct vw_app *app, const char *name)
{
	int i = app->cfg ? find_recorder(app->cfg, name) : -1;
	return i >= 0 ? app->recorders[i] : NULL;
}
