/* vw_controls: see vw_controls.h.
 *
 * Settings are resolved against the device at every apply rather than once at parse time: the
 * same name may be a menu on one camera and an integer on another, and a replugged camera may be
 * a different model. The legacy VIDIOC_QUERYCTRL/G_CTRL/S_CTRL calls are used (every driver has
 * them; 64-bit and compound controls are listed as "other" and not set). */
#include "vw_controls.h"

#include <alsa/asoundlib.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/videodev2.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vw_text.h"
#include "vw_util.h"

#define MAX_ENUM 1024 /* QUERYCTRL iterations: a driver bug must not loop us forever */

static const char *const type_names[] = {"int", "bool", "menu", "button", "other"};

const char *vw_control_type_name(enum vw_control_type t)
{
	return type_names[t];
}

json_t *vw_control_info_json(const struct vw_control_info *c)
{
	json_t *j = json_pack("{ss ss ss sI sI sI sI sI sb sb}", "name", c->name, "label", c->label, "type",
	                      vw_control_type_name(c->type), "min", (json_int_t)c->min, "max", (json_int_t)c->max,
	                      "step", (json_int_t)c->step, "default", (json_int_t)c->def, "value", (json_int_t)c->value,
	                      "inactive", c->inactive, "readonly", c->readonly);
	if (j && c->type == VW_CONTROL_MENU) {
		json_t *menu = json_array();
		for (int i = 0; i < c->n_menu; i++) {
			char norm[64];
			if (!c->menu[i][0])
				continue;
			vw_control_normalize(c->menu[i], norm, sizeof(norm));
			json_array_append_new(menu, json_pack("{sI ss ss}", "value", (json_int_t)(c->min + i), "name",
			                                      norm, "label", c->menu[i]));
		}
		json_object_set_new(j, "menu", menu);
	}
	if (j && c->has_db) {
		json_object_set_new(j, "db_min", json_real((double)c->db_min / 100.0));
		json_object_set_new(j, "db_max", json_real((double)c->db_max / 100.0));
		json_object_set_new(j, "db", json_real((double)c->db_value / 100.0));
	}
	return j;
}

/* ---- names ---- */

void vw_control_normalize(const char *label, char *out, size_t outlen)
{
	size_t o = 0;
	bool gap = false;

	if (!outlen)
		return;
	for (const char *c = label; *c; c++) {
		if (isalnum((unsigned char)*c)) {
			if (gap && o && o + 1 < outlen)
				out[o++] = '_';
			gap = false;
			if (o + 1 < outlen)
				out[o++] = (char)tolower((unsigned char)*c);
		} else {
			gap = true;
		}
	}
	out[o] = 0;
}

/* Kernel 5.x renamed several camera controls; configs written for either name must work. */
static const char *const aliases[][2] = {
    {"exposure_auto", "auto_exposure"},
    {"exposure_absolute", "exposure_time_absolute"},
    {"focus_auto", "focus_automatic_continuous"},
    {"white_balance_temperature_auto", "white_balance_automatic"},
    {"exposure_auto_priority", "exposure_dynamic_framerate"},
    {"hue_auto", "hue_automatic"},
    {"autogain", "gain_automatic"},
};

/* The names of v4l2_ctrl_get_name() (drivers/media/v4l2-core/v4l2-ctrls-defs.c) for the user and
 * camera classes, normalized; then the old names above. */
const char *const vw_control_standard_names[] = {
    "brightness", "contrast", "saturation", "hue", "audio_volume", "audio_balance", "audio_bass",
    "audio_treble", "audio_mute", "audio_loudness", "black_level", "white_balance_automatic",
    "do_white_balance", "red_balance", "blue_balance", "gamma", "exposure", "gain_automatic", "gain",
    "horizontal_flip", "vertical_flip", "power_line_frequency", "hue_automatic",
    "white_balance_temperature", "sharpness", "backlight_compensation", "chroma_agc", "chroma_gain",
    "color_killer", "color_effects", "brightness_automatic", "band_stop_filter", "rotate",
    "background_color", "color_effects_cbcr", "min_number_of_capture_buffers",
    "min_number_of_output_buffers", "alpha_component",
    "auto_exposure", "exposure_time_absolute", "exposure_dynamic_framerate", "pan_relative",
    "tilt_relative", "pan_reset", "tilt_reset", "pan_absolute", "tilt_absolute", "focus_absolute",
    "focus_relative", "focus_automatic_continuous", "zoom_absolute", "zoom_relative", "zoom_continuous",
    "privacy", "iris_absolute", "iris_relative", "auto_exposure_bias", "white_balance_auto_preset",
    "wide_dynamic_range", "image_stabilization", "iso_sensitivity", "iso_sensitivity_auto",
    "exposure_metering_mode", "lock_3a", "auto_focus_start", "auto_focus_stop", "auto_focus_status",
    "auto_focus_range", "pan_speed", "tilt_speed", "camera_orientation", "camera_sensor_rotation",
    "exposure_auto", "exposure_absolute", "focus_auto", "white_balance_temperature_auto",
    "exposure_auto_priority", "hue_auto", "autogain",
};
const size_t vw_control_n_standard = sizeof(vw_control_standard_names) / sizeof(vw_control_standard_names[0]);

bool vw_control_standard(const char *name)
{
	for (size_t i = 0; i < vw_control_n_standard; i++)
		if (!strcmp(name, vw_control_standard_names[i]))
			return true;
	return false;
}

const char *vw_control_alias(const char *name)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (!strcmp(name, aliases[i][0]))
			return aliases[i][1];
		if (!strcmp(name, aliases[i][1]))
			return aliases[i][0];
	}
	return NULL;
}

bool vw_control_name_matches(const char *name, const char *ctrl_name)
{
	char n[VW_CONTROL_NAME_MAX];
	const char *a;

	vw_control_normalize(name, n, sizeof(n));
	if (!strcmp(n, ctrl_name))
		return true;
	a = vw_control_alias(n);
	return a && !strcmp(a, ctrl_name);
}

/* ---- values ---- */

static void menu_list(const struct vw_control_info *c, char *buf, size_t n)
{
	size_t o = 0;
	buf[0] = 0;
	for (int i = 0; i < c->n_menu && o < n; i++) {
		char norm[64];
		if (!c->menu[i][0])
			continue;
		vw_control_normalize(c->menu[i], norm, sizeof(norm));
		o += (size_t)snprintf(buf + o, n - o, "%s%s (%lld)", o ? ", " : "", norm, (long long)(c->min + i));
	}
}

static bool parse_ll(const char *s, long long *v)
{
	char *end;
	if (!*s)
		return false;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return !errno && !*end;
}

int vw_control_value_parse(const struct vw_control_info *c, const char *value, int64_t *out, char *err, size_t errlen)
{
	char v[VW_CONTROL_VALUE_MAX];
	size_t len;
	long long x;

	snprintf(v, sizeof(v), "%s", value);
	len = strlen(v);
	while (len && isspace((unsigned char)v[len - 1]))
		v[--len] = 0;
	if (c->readonly) {
		snprintf(err, errlen, "%s is read-only", c->name);
		return -EINVAL;
	}
	if (c->type == VW_CONTROL_OTHER) {
		snprintf(err, errlen, "%s cannot be set by vw (a 64-bit or compound control)", c->name);
		return -EINVAL;
	}
	if (c->type == VW_CONTROL_BOOL || c->type == VW_CONTROL_BUTTON) {
		bool b;
		if (vw_parse_bool(v, &b) < 0) {
			snprintf(err, errlen, "%s: '%s' is not a boolean (yes/no, on/off, true/false, 1/0)", c->name,
			         v);
			return -EINVAL;
		}
		*out = b;
		return 0;
	}
	if (c->type == VW_CONTROL_MENU) {
		char items[1024], norm[VW_CONTROL_VALUE_MAX];
		if (parse_ll(v, &x)) {
			if (x >= c->min && x <= c->max && x - c->min < c->n_menu && c->menu[x - c->min][0]) {
				*out = x;
				return 0;
			}
		} else {
			vw_control_normalize(v, norm, sizeof(norm));
			for (int i = 0; i < c->n_menu; i++) {
				char item[64];
				vw_control_normalize(c->menu[i], item, sizeof(item));
				if (c->menu[i][0] && !strcmp(item, norm)) {
					*out = c->min + i;
					return 0;
				}
			}
		}
		menu_list(c, items, sizeof(items));
		snprintf(err, errlen, "%s: '%s' is not one of %s", c->name, v, items);
		return -EINVAL;
	}
	if (len > 1 && v[len - 1] == '%') {
		char num[VW_CONTROL_VALUE_MAX];
		char *end;
		double pct;
		snprintf(num, sizeof(num), "%.*s", (int)(len - 1), v);
		errno = 0;
		pct = strtod(num, &end);
		if (errno || *end || end == num || !(pct >= 0 && pct <= 100)) {
			snprintf(err, errlen, "%s: '%s' is not a percentage from 0%% to 100%%", c->name, v);
			return -ERANGE;
		}
		double raw = (double)c->min + pct * (double)(c->max - c->min) / 100.0;
		int64_t step = c->step > 0 ? c->step : 1;
		*out = c->min + (int64_t)llround((raw - (double)c->min) / (double)step) * step;
		if (*out > c->max)
			*out = c->max;
		return 0;
	}
	if (!parse_ll(v, &x)) {
		snprintf(err, errlen, "%s: '%s' is not a number or a percentage (range %lld..%lld)", c->name, v,
		         (long long)c->min, (long long)c->max);
		return -EINVAL;
	}
	if (x < c->min || x > c->max) {
		snprintf(err, errlen, "%s: %lld is out of range %lld..%lld", c->name, x, (long long)c->min,
		         (long long)c->max);
		return -ERANGE;
	}
	*out = x;
	return 0;
}

/* ---- V4L2 ---- */

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	for (int i = 0; i < 100; i++) {
		r = ioctl(fd, req, arg);
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -errno : r;
	}
	return -EINTR;
}

static int open_v4l2(const char *device, char *err, size_t errlen)
{
	/* non-blocking: a control call must never wait for the capture's frames */
	int fd = open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open %s: %s", device, strerror(e));
		return -e;
	}
	return fd;
}

static void fill_info(int fd, const struct v4l2_queryctrl *q, struct vw_control_info *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->label, sizeof(c->label), "%.32s", (const char *)q->name);
	vw_utf8_sanitize(c->label);
	vw_control_normalize(c->label, c->name, sizeof(c->name));
	c->id = q->id;
	c->min = q->minimum;
	c->max = q->maximum;
	c->step = q->step;
	c->def = q->default_value;
	c->readonly = q->flags & V4L2_CTRL_FLAG_READ_ONLY;
	c->inactive = q->flags & V4L2_CTRL_FLAG_INACTIVE;
	c->type = q->type == V4L2_CTRL_TYPE_INTEGER ? VW_CONTROL_INT
		  : q->type == V4L2_CTRL_TYPE_BOOLEAN ? VW_CONTROL_BOOL
		  : q->type == V4L2_CTRL_TYPE_MENU || q->type == V4L2_CTRL_TYPE_INTEGER_MENU ? VW_CONTROL_MENU
		  : q->type == V4L2_CTRL_TYPE_BUTTON ? VW_CONTROL_BUTTON
						      : VW_CONTROL_OTHER;
	if (c->type == VW_CONTROL_MENU) {
		for (int64_t i = c->min; i <= c->max && i - c->min < VW_CONTROL_MENU_MAX; i++) {
			struct v4l2_querymenu m = {.id = q->id, .index = (uint32_t)i};
			char *dst = c->menu[i - c->min];
			if (xioctl(fd, VIDIOC_QUERYMENU, &m) == 0) {
				if (q->type == V4L2_CTRL_TYPE_INTEGER_MENU)
					snprintf(dst, sizeof(c->menu[0]), "%lld", (long long)m.value);
				else
					snprintf(dst, sizeof(c->menu[0]), "%.32s", (const char *)m.name);
				vw_utf8_sanitize(dst);
			}
			c->n_menu = (int)(i - c->min + 1);
		}
	}
	if (c->type != VW_CONTROL_BUTTON && c->type != VW_CONTROL_OTHER && !(q->flags & V4L2_CTRL_FLAG_WRITE_ONLY)) {
		struct v4l2_control g = {.id = q->id};
		c->value = xioctl(fd, VIDIOC_G_CTRL, &g) == 0 ? g.value : c->def;
	}
}

static int list_fd(int fd, struct vw_control_info *out, int max)
{
	struct v4l2_queryctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};
	uint32_t last = 0;
	int n = 0;

	for (int i = 0; i < MAX_ENUM && n < max; i++) {
		int r = xioctl(fd, VIDIOC_QUERYCTRL, &q);
		if (r < 0)
			return r == -EINVAL || n ? n : r; /* EINVAL: past the last control */
		/* NEXT_CTRL answers with a higher id; a driver that repeats one would fill the listing with it */
		if (i && q.id <= last)
			break;
		last = q.id;
		if (!(q.flags & V4L2_CTRL_FLAG_DISABLED) && q.type != V4L2_CTRL_TYPE_CTRL_CLASS)
			fill_info(fd, &q, &out[n++]);
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	return n;
}

int vw_controls_list_v4l2(const char *device, struct vw_control_info *out, int max, char *err, size_t errlen)
{
	int fd = open_v4l2(device, err, errlen), ret;

	if (fd < 0)
		return fd;
	ret = list_fd(fd, out, max);
	if (ret < 0)
		snprintf(err, errlen, "%s: cannot list controls: %s", device, strerror(-ret));
	close(fd);
	return ret;
}

static const struct vw_control_info *find_control(const struct vw_control_info *c, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (vw_control_name_matches(name, c[i].name))
			return &c[i];
	return NULL;
}

static void unknown_control(const struct vw_control_info *c, int n, const char *name, char *err, size_t errlen)
{
	char names[1024];
	size_t o = 0;

	names[0] = 0;
	for (int i = 0; i < n && o < sizeof(names); i++)
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "", c[i].name);
	snprintf(err, errlen, "unknown control '%s' (%s)", name, n ? names : "the device has none");
}

/* Auto modes must be set before their manual values: drivers refuse a manual value (EACCES or
 * EBUSY) while the auto mode that owns it is on. */
static bool is_auto(const struct vw_control_info *c)
{
	return c->id == V4L2_CID_EXPOSURE_AUTO || c->id == V4L2_CID_FOCUS_AUTO ||
	       c->id == V4L2_CID_AUTO_WHITE_BALANCE || c->id == V4L2_CID_HUE_AUTO || c->id == V4L2_CID_AUTOGAIN ||
	       c->id == V4L2_CID_AUTOBRIGHTNESS || strstr(c->name, "auto") != NULL;
}

static int check_fd(int fd, const char *device, const struct vw_control_setting *set, int n, char *err, size_t errlen)
{
	struct vw_control_info *c = malloc(sizeof(*c) * VW_CONTROLS_MAX);
	int nc, ret = 0;
	int64_t v;

	if (!c)
		return -ENOMEM;
	nc = list_fd(fd, c, VW_CONTROLS_MAX);
	if (nc < 0) {
		snprintf(err, errlen, "%s: cannot list controls: %s", device, strerror(-nc));
		ret = nc;
		goto out;
	}
	for (int i = 0; i < n && !ret; i++) {
		const struct vw_control_info *ci = find_control(c, nc, set[i].name);
		if (!ci) {
			unknown_control(c, nc, set[i].name, err, errlen);
			ret = -EINVAL;
		} else {
			ret = vw_control_value_parse(ci, set[i].value, &v, err, errlen);
		}
	}
out:
	free(c);
	return ret;
}

int vw_controls_check_v4l2(const char *device, const struct vw_control_setting *set, int n, char *err, size_t errlen)
{
	int fd = open_v4l2(device, err, errlen), ret;

	if (fd < 0)
		return fd;
	ret = check_fd(fd, device, set, n, err, errlen);
	close(fd);
	return ret;
}

static void describe(const struct vw_control_info *c, int64_t v, char *buf, size_t n)
{
	if (c->type == VW_CONTROL_MENU && v >= c->min && v - c->min < c->n_menu && c->menu[v - c->min][0])
		snprintf(buf, n, "%lld (%s)", (long long)v, c->menu[v - c->min]);
	else if (c->type == VW_CONTROL_BOOL)
		snprintf(buf, n, "%s", v ? "on" : "off");
	else
		snprintf(buf, n, "%lld", (long long)v);
}

/* Where an apply's lines go: the log, through the memo when there is one. */
struct report {
	struct vw_log *log;
	const char *mod;
	struct vw_controls_memo *memo;     /* NULL: every line at its own level */
	uint64_t now[VW_MAX_CONTROLS + 1]; /* this apply's warnings, as memo->seen */
	int n_now;
};

static void report_warn(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_warn(struct report *r, const char *fmt, ...)
{
	enum vw_log_level level = VW_LOG_WARN;
	char line[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->memo) {
		uint64_t h = vw_log_key(line);
		for (int i = 0; i < r->memo->n_seen; i++)
			if (r->memo->seen[i] == h)
				level = VW_LOG_DEBUG;
		if (r->n_now < (int)(sizeof(r->now) / sizeof(r->now[0])))
			r->now[r->n_now++] = h;
	}
	vw_logf(r->log, level, r->mod, "%s", line);
}

/* A setting that took: news unless, at a reopen, the device held the value already. */
static void report_set(struct report *r, bool changed, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report_set(struct report *r, bool changed, const char *fmt, ...)
{
	char line[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vw_logf(r->log, r->memo && !changed ? VW_LOG_DEBUG : VW_LOG_INFO, r->mod, "%s", line);
}

/* The memo remembers this apply's warnings only: one that stops and comes back is logged again. */
static void report_done(struct report *r)
{
	if (!r->memo)
		return;
	memcpy(r->memo->seen, r->now, sizeof(r->now[0]) * (size_t)r->n_now);
	r->memo->n_seen = r->n_now;
}

static int apply_v4l2(const char *device, const struct vw_control_setting *set, int n, struct report *rep)
{
	struct vw_control_info *c = NULL;
	char err[1200];
	int fd, nc, ret = 0;

	if (n <= 0)
		return 0;
	fd = open_v4l2(device, err, sizeof(err));
	if (fd < 0) {
		report_warn(rep, "controls not applied: %s", err);
		return fd;
	}
	c = malloc(sizeof(*c) * VW_CONTROLS_MAX);
	nc = c ? list_fd(fd, c, VW_CONTROLS_MAX) : -ENOMEM;
	if (nc < 0) {
		report_warn(rep, "controls not applied: %s: cannot list controls: %s", device, strerror(-nc));
		ret = nc;
		goto out;
	}
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			const struct vw_control_info *ci = find_control(c, nc, set[i].name);
			char was[96], now[96];
			int64_t v;
			if (!ci) {
				if (pass == 0) {
					unknown_control(c, nc, set[i].name, err, sizeof(err));
					report_warn(rep, "control not applied: %s", err);
					ret++;
				}
				continue;
			}
			if (is_auto(ci) != (pass == 0))
				continue;
			if (vw_control_value_parse(ci, set[i].value, &v, err, sizeof(err)) < 0) {
				report_warn(rep, "control not applied: %s", err);
				ret++;
				continue;
			}
			struct v4l2_control s = {.id = ci->id, .value = (int32_t)v};
			int r = xioctl(fd, VIDIOC_S_CTRL, &s);
			if (r < 0) {
				report_warn(rep, "control %s = %s refused by the driver: %s%s", ci->name, set[i].value,
				            strerror(-r), r == -EACCES || r == -EBUSY ? " (is its auto mode on?)" : "");
				ret++;
				continue;
			}
			struct v4l2_control g = {.id = ci->id};
			describe(ci, ci->value, was, sizeof(was));
			if (xioctl(fd, VIDIOC_G_CTRL, &g) == 0) {
				describe(ci, g.value, now, sizeof(now));
				report_set(rep, g.value != ci->value, "control %s = %s (asked %s, was %s)", ci->name,
				           now, set[i].value, was);
			} else {
				report_set(rep, v != ci->value, "control %s set to %s (was %s)", ci->name, set[i].value,
				           was);
			}
		}
out:
	free(c);
	close(fd);
	return ret;
}

int vw_controls_apply_v4l2(const char *device, const struct vw_control_setting *set, int n, struct vw_log *log,
                           const char *mod)
{
	struct report rep = {.log = log, .mod = mod};
	return apply_v4l2(device, set, n, &rep);
}

/* ---- ALSA ---- */

void vw_controls_alsa_mixer(const struct vw_feed_conf *conf, char *out, size_t outlen)
{
	static const char *const cards[] = {"hw:", "plughw:", "sysdefault:", "dsnoop:", "front:", "dmix:"};
	const char *d = conf->device;

	if (*conf->mixer) {
		snprintf(out, outlen, "%s", conf->mixer);
		return;
	}
	for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
		size_t l = strlen(cards[i]);
		if (!strncmp(d, cards[i], l) && d[l]) {
			const char *card = d + l;
			size_t n = strcspn(card, ",");
			snprintf(out, outlen, "hw:%.*s", (int)n, card);
			return;
		}
	}
	snprintf(out, outlen, "default");
}

struct mixer {
	snd_mixer_t *m;
	snd_mixer_elem_t *e;
	char name[VW_NAME_MAX];
};

static int mixer_open(const struct vw_feed_conf *conf, struct mixer *mx, char *err, size_t errlen)
{
	int r;

	memset(mx, 0, sizeof(*mx));
	vw_controls_alsa_mixer(conf, mx->name, sizeof(mx->name));
	if ((r = snd_mixer_open(&mx->m, 0)) < 0 || (r = snd_mixer_attach(mx->m, mx->name)) < 0 ||
	    (r = snd_mixer_selem_register(mx->m, NULL, NULL)) < 0 || (r = snd_mixer_load(mx->m)) < 0) {
		snprintf(err, errlen, "cannot open mixer %s: %s", mx->name, snd_strerror(r));
		if (mx->m)
			snd_mixer_close(mx->m);
		mx->m = NULL;
		return r;
	}
	if (*conf->mixer_element) {
		snd_mixer_selem_id_t *sid;
		snd_mixer_selem_id_alloca(&sid);
		snd_mixer_selem_id_set_name(sid, conf->mixer_element);
		mx->e = snd_mixer_find_selem(mx->m, sid);
		if (mx->e && !snd_mixer_selem_has_capture_volume(mx->e))
			mx->e = NULL;
	} else {
		snd_mixer_elem_t *first = NULL, *mic = NULL;
		for (snd_mixer_elem_t *e = snd_mixer_first_elem(mx->m); e; e = snd_mixer_elem_next(e)) {
			if (!snd_mixer_selem_is_active(e) || !snd_mixer_selem_has_capture_volume(e))
				continue;
			const char *n = snd_mixer_selem_get_name(e);
			if (!strcmp(n, "Capture") && !mx->e)
				mx->e = e;
			if (!strcmp(n, "Mic") && !mic)
				mic = e;
			if (!first)
				first = e;
		}
		if (!mx->e)
			mx->e = mic ? mic : first;
	}
	if (!mx->e) {
		if (*conf->mixer_element)
			snprintf(err, errlen, "mixer %s has no element '%s' with a capture volume", mx->name,
			         conf->mixer_element);
		else
			snprintf(err, errlen, "mixer %s has no element with a capture volume", mx->name);
		snd_mixer_close(mx->m);
		mx->m = NULL;
		return -ENOENT;
	}
	return 0;
}

static void mixer_info(struct mixer *mx, struct vw_control_info *c)
{
	long min = 0, max = 0, v = 0, dmin = 0, dmax = 0, dv = 0;

	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "gain");
	snprintf(c->label, sizeof(c->label), "%.40s", snd_mixer_selem_get_name(mx->e));
	vw_utf8_sanitize(c->label);
	c->type = VW_CONTROL_INT;
	snd_mixer_selem_get_capture_volume_range(mx->e, &min, &max);
	for (int ch = 0; ch <= SND_MIXER_SCHN_LAST; ch++)
		if (snd_mixer_selem_has_capture_channel(mx->e, (snd_mixer_selem_channel_id_t)ch)) {
			snd_mixer_selem_get_capture_volume(mx->e, (snd_mixer_selem_channel_id_t)ch, &v);
			if (snd_mixer_selem_get_capture_dB(mx->e, (snd_mixer_selem_channel_id_t)ch, &dv) < 0)
				dv = 0;
			break;
		}
	c->min = min;
	c->max = max;
	c->step = 1;
	c->def = max;
	c->value = v;
	if (snd_mixer_selem_get_capture_dB_range(mx->e, &dmin, &dmax) == 0 && dmin < dmax) {
		c->has_db = true;
		c->db_min = dmin;
		c->db_max = dmax;
		c->db_value = dv;
	}
}

int vw_controls_list_alsa(const struct vw_feed_conf *conf, struct vw_control_info *out, char *err, size_t errlen)
{
	struct mixer mx;
	int r = mixer_open(conf, &mx, err, errlen);

	if (r < 0)
		return r;
	mixer_info(&mx, out);
	snd_mixer_close(mx.m);
	return 1;
}

/* "-6dB" / "-6.5 dB": 1/100 dB in *cdb; false if `v` is not a dB value. */
static bool parse_db(const char *v, long *cdb)
{
	char *end;
	double d;
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v)
		return false;
	while (*end == ' ')
		end++;
	if (strcasecmp(end, "db"))
		return false;
	*cdb = lround(d * 100.0);
	return true;
}

static int gain_check(const struct vw_control_info *c, const char *value, bool *db, long *cdb, int64_t *raw, char *err,
                      size_t errlen)
{
	*db = parse_db(value, cdb);
	if (!*db)
		return vw_control_value_parse(c, value, raw, err, errlen);
	if (!c->has_db) {
		snprintf(err, errlen,
		         "gain: '%s': the mixer element '%s' has no dB scale (use a percentage or %lld..%lld)", value,
		         c->label, (long long)c->min, (long long)c->max);
		return -EINVAL;
	}
	if (*cdb < c->db_min || *cdb > c->db_max) {
		snprintf(err, errlen, "gain: %s is out of range %.2fdB..%.2fdB", value, (double)c->db_min / 100.0,
		         (double)c->db_max / 100.0);
		return -ERANGE;
	}
	return 0;
}

static int check_alsa_settings(const struct vw_control_info *c, const struct vw_control_setting *set, int n, char *err,
                               size_t errlen)
{
	for (int i = 0; i < n; i++) {
		bool db;
		long cdb;
		int64_t raw;
		int r;
		if (strcmp(set[i].name, "gain")) {
			snprintf(err, errlen, "unknown control '%s' (gain)", set[i].name);
			return -EINVAL;
		}
		if ((r = gain_check(c, set[i].value, &db, &cdb, &raw, err, errlen)) < 0)
			return r;
	}
	return 0;
}

int vw_controls_check_alsa(const struct vw_feed_conf *conf, const struct vw_control_setting *set, int n, char *err,
                           size_t errlen)
{
	struct vw_control_info c;
	struct mixer mx;
	int r;

	for (int i = 0; i < n; i++)
		if (strcmp(set[i].name, "gain")) {
			snprintf(err, errlen, "unknown control '%s' (gain)", set[i].name);
			return -EINVAL;
		}
	if ((r = mixer_open(conf, &mx, err, errlen)) < 0)
		return r;
	mixer_info(&mx, &c);
	r = check_alsa_settings(&c, set, n, err, errlen);
	snd_mixer_close(mx.m);
	return r;
}

static int apply_alsa(const struct vw_feed_conf *conf, const struct vw_control_setting *set, int n, struct report *rep)
{
	struct vw_control_info c, after;
	struct mixer mx;
	char err[600];
	int r, failed = 0;

	if (n <= 0)
		return 0;
	if ((r = mixer_open(conf, &mx, err, sizeof(err))) < 0) {
		report_warn(rep, "gain not applied: %s", err);
		return r;
	}
	mixer_info(&mx, &c);
	for (int i = 0; i < n; i++) {
		bool db;
		long cdb;
		int64_t raw;
		if (strcmp(set[i].name, "gain")) {
			report_warn(rep, "control not applied: unknown control '%s' (gain)", set[i].name);
			failed++;
			continue;
		}
		if (gain_check(&c, set[i].value, &db, &cdb, &raw, err, sizeof(err)) < 0) {
			report_warn(rep, "control not applied: %s", err);
			failed++;
			continue;
		}
		r = db ? snd_mixer_selem_set_capture_dB_all(mx.e, cdb, 0)
		       : snd_mixer_selem_set_capture_volume_all(mx.e, (long)raw);
		if (r < 0) {
			report_warn(rep, "gain %s on %s '%s' refused: %s", set[i].value, mx.name, c.label,
			            snd_strerror(r));
			failed++;
			continue;
		}
		mixer_info(&mx, &after);
		if (after.has_db)
			report_set(rep, after.value != c.value,
			           "gain = %lld of %lld..%lld, %.2f dB (asked %s, was %lld) on %s '%s'",
			           (long long)after.value, (long long)after.min, (long long)after.max,
			           (double)after.db_value / 100.0, set[i].value, (long long)c.value, mx.name, c.label);
		else
			report_set(rep, after.value != c.value,
			           "gain = %lld of %lld..%lld (asked %s, was %lld) on %s '%s'", (long long)after.value,
			           (long long)after.min, (long long)after.max, set[i].value, (long long)c.value,
			           mx.name, c.label);
		c = after;
	}
	snd_mixer_close(mx.m);
	return failed;
}

int vw_controls_apply_alsa(const struct vw_feed_conf *conf, const struct vw_control_setting *set, int n,
                           struct vw_log *log, const char *mod)
{
	struct report rep = {.log = log, .mod = mod};
	return apply_alsa(conf, set, n, &rep);
}

int vw_controls_apply_feed(const struct vw_feed_conf *conf, struct vw_controls_memo *memo, struct vw_log *log,
                           const char *mod)
{
	struct report rep = {.log = log, .mod = mod, .memo = memo};
	int ret = 0;

	if (conf->type == VW_FEED_V4L2)
		ret = apply_v4l2(conf->device, conf->controls, conf->n_controls, &rep);
	else if (conf->type == VW_FEED_ALSA)
		ret = apply_alsa(conf, conf->controls, conf->n_controls, &rep);
	report_done(&rep);
	return ret;
}
