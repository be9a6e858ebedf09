/* vw_api_controls: see vw_api_controls.h. */
#include "vw_api_controls.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vw_api.h"
#include "vw_app.h"
#include "vw_controls.h"
#include "vw_feed.h"
#include "vw_text.h"
#include "vw_util.h"

static int api_reply(struct vw_api_reply *r, int status, json_t *j)
{
	r->status = status;
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return r->body ? 0 : -ENOMEM;
}

static int api_error(struct vw_api_reply *r, int status, const char *msg)
{
	char text[1400];

	/* it quotes the URL's feed name and the file's values, which need not be UTF-8 */
	vw_strlcpy(text, msg, sizeof(text));
	vw_utf8_sanitize(text);
	return api_reply(r, status, json_pack("{ss}", "error", text));
}

/* A device that cannot be reached is 503; a request the device refuses is 400. */
static int device_status(int err)
{
	return err == -EINVAL || err == -ERANGE ? 400 : err == -ENOMEM ? 500 : 503;
}

static int api_listing(const struct vw_feed_conf *conf, struct vw_api_reply *r)
{
	struct vw_control_info *c = malloc(sizeof(*c) * VW_CONTROLS_MAX);
	char err[600], mixer[VW_NAME_MAX];
	json_t *list, *settings, *out;
	int n;

	if (!c)
		return -ENOMEM;
	if (conf->type == VW_FEED_V4L2)
		n = vw_controls_list_v4l2(conf->device, c, VW_CONTROLS_MAX, err, sizeof(err));
	else
		n = vw_controls_list_alsa(conf, c, err, sizeof(err));
	if (n < 0) {
		free(c);
		return api_error(r, device_status(n == -EINVAL ? -EIO : n), err);
	}
	list = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(list, vw_control_info_json(&c[i]));
	settings = json_object();
	for (int i = 0; i < conf->n_controls; i++)
		json_object_set_new(settings, conf->controls[i].name, json_string(conf->controls[i].value));
	out = json_pack("{ss ss ss so so}", "feed", conf->name, "type", vw_feed_type_name(conf->type), "device",
	                conf->device, "controls", list, "settings", settings);
	if (out && conf->type == VW_FEED_ALSA) {
		vw_controls_alsa_mixer(conf, mixer, sizeof(mixer));
		json_object_set_new(out, "mixer", json_string(mixer));
		json_object_set_new(out, "element", json_string(c[0].label));
	}
	free(c);
	return api_reply(r, 200, out);
}

/* The request body as settings: names normalized, values as the config would have them. */
static int api_settings(const char *body, size_t len, struct vw_control_setting *set, int *n, char *err, size_t errlen)
{
	json_error_t e;
	json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &e), *v;
	const char *k;
	int ret = 0;

	*n = 0;
	if (!j) {
		snprintf(err, errlen, "malformed JSON: %s (line %d, column %d)", e.text, e.line, e.column);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "expected a JSON object {\"control\": value, ...}");
		ret = -EINVAL;
		goto out;
	}
	json_object_foreach(j, k, v)
	{
		struct vw_control_setting *s = &set[*n];
		if (*n == VW_MAX_CONTROLS) {
			snprintf(err, errlen, "too many controls (at most %d)", VW_MAX_CONTROLS);
			ret = -EINVAL;
			goto out;
		}
		memset(s, 0, sizeof(*s));
		vw_control_normalize(k, s->name, sizeof(s->name));
		if (!*s->name || strlen(k) >= VW_CONTROL_NAME_MAX) {
			snprintf(err, errlen, "bad control name '%.100s'", k);
			ret = -EINVAL;
			goto out;
		}
		if (json_is_integer(v))
			snprintf(s->value, sizeof(s->value), "%lld", (long long)json_integer_value(v));
		else if (json_is_boolean(v))
			snprintf(s->value, sizeof(s->value), "%s", json_is_true(v) ? "1" : "0");
		else if (json_is_string(v) && *json_string_value(v) &&
		         strlen(json_string_value(v)) < VW_CONTROL_VALUE_MAX)
			snprintf(s->value, sizeof(s->value), "%s", json_string_value(v));
		else {
			snprintf(err, errlen,
			         "%s: expected a number, a boolean or a string such as \"60%%\" or \"50_hz\"", s->name);
			ret = -EINVAL;
			goto out;
		}
		for (int i = 0; i < *n; i++) {
			const char *alias = vw_control_alias(s->name);
			if (!strcmp(set[i].name, s->name) || (alias && !strcmp(set[i].name, alias))) {
				snprintf(err, errlen, "'%s' and '%s' name the same control", set[i].name, s->name);
				ret = -EINVAL;
				goto out;
			}
		}
		(*n)++;
	}
out:
	json_decref(j);
	return ret;
}

/* The settings that name a control the driver flags inactive (an auto mode owns its value), as
 * "a is" / "a and b are" in out; returns how many. Drivers refuse such a value (EACCES or EBUSY). */
static int locked_names(const char *device, const struct vw_control_setting *set, int n, char *out, size_t outlen)
{
	struct vw_control_info *c = malloc(sizeof(*c) * VW_CONTROLS_MAX);
	char err[600];
	int nc, locked = 0;
	size_t o = 0;

	out[0] = 0;
	if (!c)
		return 0;
	nc = vw_controls_list_v4l2(device, c, VW_CONTROLS_MAX, err, sizeof(err));
	for (int i = 0; i < n; i++)
		for (int k = 0; k < nc; k++)
			if (c[k].inactive && vw_control_name_matches(set[i].name, c[k].name) && o < outlen) {
				o += (size_t)snprintf(out + o, outlen - o, "%s%s", locked ? " and " : "", c[k].name);
				locked++;
				break;
			}
	if (locked && o < outlen)
		snprintf(out + o, outlen - o, " %s", locked > 1 ? "are" : "is");
	free(c);
	return locked;
}

int vw_api_controls(struct vw_app *app, const struct vw_config *eff, const char *method, const char *feed,
                    const char *body, size_t len, struct vw_api_reply *r)
{
	const struct vw_feed_conf *fc = vw_config_feed(eff, feed);
	struct vw_feed *running = NULL;
	struct vw_feed_conf *conf = NULL;
	struct vw_control_setting *set = NULL;
	char err[1200], msg[1300];
	int n = 0, ret;

	memset(r, 0, sizeof(*r));
	if (!fc) {
		snprintf(msg, sizeof(msg), "no feed '%.200s'", feed);
		return api_error(r, 404, msg);
	}
	if (fc->type != VW_FEED_V4L2 && fc->type != VW_FEED_ALSA) {
		snprintf(msg, sizeof(msg), "feed '%s' is a %s feed: only v4l2 and alsa feeds have controls", fc->name,
		         vw_feed_type_name(fc->type));
		return api_error(r, 400, msg);
	}
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST") || !strcmp(method, "PUT");
	if (!get && !post)
		return api_error(r, 405, "/api/feeds/FEED/controls takes GET or POST");
	conf = malloc(sizeof(*conf));
	set = malloc(sizeof(*set) * VW_MAX_CONTROLS);
	if (!conf || !set) {
		ret = -ENOMEM;
		goto out;
	}
	/* the running feed holds the settings the API changed since it started */
	running = vw_app_feed(app, feed);
	if (running) {
		vw_feed_settings(running, conf);
	} else {
		*conf = *fc;
	}
	/* "auto" is a word, not a node or PCM: only the running feed knows what it chose */
	if (!*conf->device || !strcmp(conf->device, VW_DEVICE_AUTO)) {
		snprintf(msg, sizeof(msg), "feed '%s' has no device in use (device = auto chooses one while it runs)",
		         fc->name);
		ret = api_error(r, 503, msg);
		goto out;
	}
	if (get) {
		ret = api_listing(conf, r);
		goto out;
	}
	if (api_settings(body, len, set, &n, err, sizeof(err)) < 0) {
		ret = api_error(r, 400, err);
		goto out;
	}
	ret = conf->type == VW_FEED_V4L2 ? vw_controls_check_v4l2(conf->device, set, n, err, sizeof(err))
	                                 : vw_controls_check_alsa(conf, set, n, err, sizeof(err));
	if (ret < 0) {
		ret = api_error(r, device_status(ret), err);
		goto out;
	}
	/* remembered first: a reopen racing with this request applies the new values too */
	if (running && vw_feed_remember_controls(running, set, n) < 0) {
		snprintf(msg, sizeof(msg), "feed '%s' already holds %d settings", feed, VW_MAX_CONTROLS);
		ret = api_error(r, 400, msg);
		goto out;
	}
	const char *mod = running ? running->mod : "controls";
	int failed = conf->type == VW_FEED_V4L2 ? vw_controls_apply_v4l2(conf->device, set, n, app->log, mod)
	                                        : vw_controls_apply_alsa(conf, set, n, app->log, mod);
	if (failed != 0) {
		int locked = 0;
		if (failed < 0)
			snprintf(msg, sizeof(msg), "the device went away: %s", strerror(-failed));
		else if (conf->type == VW_FEED_V4L2 && (locked = locked_names(conf->device, set, n, err, sizeof(err))) > 0)
			snprintf(msg, sizeof(msg), "%s locked while %s auto mode is on: set the auto mode to manual first",
			         err, locked > 1 ? "their" : "its");
		else
			snprintf(msg, sizeof(msg), "the device refused %d of the settings (see the log)", failed);
		/* a locked value is a conflict with the device's state, not a fault of vw */
		ret = api_error(r, failed < 0 ? 503 : locked > 0 ? 409 : 500, msg);
		goto out;
	}
	if (running)
		vw_feed_settings(running, conf);
	ret = api_listing(conf, r);
out:
	free(conf);
	free(set);
	return ret;
}
