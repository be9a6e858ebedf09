/* vw_config: see vw_config.h.
 *
 * inih does the INI lexing; our reader in front of it counts lines (inih's handler is not told
 * the line), refuses lines longer than inih's 200-byte buffer instead of letting it split them,
 * strips leading blanks (inih would take an indented line as a continuation of the previous
 * value) and registers section headers itself (inih never reports an empty section). Keys are
 * collected first and interpreted per section afterwards, because a feed's keys depend on its
 * type, which may come last. */
#include "vw_config.h"

#include "vw_controls.h"
#include "vw_util.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum section_kind { SEC_FEED, SEC_STREAM, SEC_RECORDER, SEC_DEST, SEC_HTTP, SEC_API, SEC_CONTROL };

struct section {
	enum section_kind kind;
	int index; /* into the config's array of that kind */
	int line;
};

struct entry {
	int section;
	int line;
	char key[64];
	char value[INI_MAX_LINE];
};

struct parse {
	struct vw_config *cfg;
	const char *name;
	FILE *file;
	const char *text;
	size_t pos;
	int lineno;
	struct section *sections;
	int n_sections;
	struct entry *entries;
	int n_entries, cap_entries;
	int err_line; /* 0: no error yet */
	char err[512];
};

static void fail(struct parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct parse *p, int line, const char *fmt, ...)
{
	va_list ap;
	if (p->err_line)
		return; /* the first error is the one to fix first */
	p->err_line = line > 0 ? line : -1;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
}

static bool next_line(struct parse *p, char *buf, size_t n)
{
	if (p->file)
		return fgets(buf, (int)n, p->file) != NULL;
	if (!p->text[p->pos])
		return false;
	size_t i = 0;
	while (p->text[p->pos] && p->text[p->pos] != '\n') {
		if (i + 1 < n)
			buf[i++] = p->text[p->pos];
		else
			i = n; /* too long; flagged below */
		p->pos++;
	}
	if (p->text[p->pos] == '\n')
		p->pos++;
	if (i >= n) {
		memset(buf, 'x', n - 1);
		buf[n - 1] = 0;
	} else {
		buf[i] = 0;
	}
	return true;
}

static char *trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

/* The three kinds of section, for registering a header generically. */
struct kind {
	const char *word;
	enum section_kind kind;
	bool slash;
	int max;
	int *count;
	char *base;
	size_t size, line_off;
	const char *rule;
};

_Static_assert(offsetof(struct vw_feed_conf, name) == 0, "name first");
_Static_assert(offsetof(struct vw_stream_conf, name) == 0, "name first");
_Static_assert(offsetof(struct vw_recorder_conf, name) == 0, "name first");
_Static_assert(offsetof(struct vw_dest_conf, name) == 0, "name first");

static void section_header(struct parse *p, char *line)
{
	struct vw_config *c = p->cfg;
	char *end = strchr(line, ']');
	char *body, *name;
	struct section *s;

	if (!end) {
		fail(p, p->lineno, "malformed section header (expected '[KIND NAME]')");
		return;
	}
	*end = 0;
	body = trim(line + 1);
	name = body;
	while (*name && !isspace((unsigned char)*name))
		name++;
	if (*name)
		*name++ = 0;
	name = trim(name);
	s = realloc(p->sections, sizeof(*s) * (size_t)(p->n_sections + 1));
	if (!s) {
		fail(p, p->lineno, "out of memory");
		return;
	}
	p->sections = s;
	s = &p->sections[p->n_sections];
	s->line = p->lineno;
	if (!strcmp(body, "http") || !strcmp(body, "api") || !strcmp(body, "control")) { /* one of each, no name */
		enum section_kind kind = body[0] == 'h' ? SEC_HTTP : body[0] == 'a' ? SEC_API : SEC_CONTROL;
		if (*name) {
			fail(p, p->lineno, "[%s] takes no name", body);
			return;
		}
		for (int i = 0; i < p->n_sections; i++)
			if (p->sections[i].kind == kind) {
				fail(p, p->lineno, "[%s] is defined twice (first on line %d)", body, p->sections[i].line);
				return;
			}
		s->kind = kind;
		s->index = 0;
		p->n_sections++;
		return;
	}
	const struct kind *k = NULL;
	const struct kind kinds[] = {
		{"feed", SEC_FEED, false, VW_MAX_FEEDS, &c->n_feeds, (char *)c->feeds, sizeof(c->feeds[0]),
		 offsetof(struct vw_feed_conf, line), "letters, digits, '-' and '_'"},
		{"stream", SEC_STREAM, true, VW_MAX_STREAMS, &c->n_streams, (char *)c->streams, sizeof(c->streams[0]),
		 offsetof(struct vw_stream_conf, line), "letters, digits, '-', '_' and '/' between parts"},
		{"recorder", SEC_RECORDER, false, VW_MAX_RECORDERS, &c->n_recorders, (char *)c->recorders,
		 sizeof(c->recorders[0]), offsetof(struct vw_recorder_conf, line), "letters, digits, '-' and '_'"},
		/* one place stays for the control channel ([api] or VW_API), as in the API's rules */
		{"destination", SEC_DEST, false, VW_MAX_DESTS - 1, &c->n_dests, (char *)c->dests, sizeof(c->dests[0]),
		 offsetof(struct vw_dest_conf, line), "letters, digits, '-' and '_'"},
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(body, kinds[i].word))
			k = &kinds[i];
	if (!k) {
		fail(p, p->lineno, "unknown section '[%s%s%s]' (expected [feed NAME], [stream NAME], [recorder NAME], [destination ID], [http], [api] or [control])", body,
		     *name ? " " : "", name);
		return;
	}
	s->kind = k->kind;
	if (!vw_name_valid(name, k->slash)) {
		fail(p, p->lineno, "invalid %s name '%s' (%s)", k->word, name, k->rule);
		return;
	}
	for (int i = 0; i < *k->count; i++)
		if (!strcmp(k->base + (size_t)i * k->size, name)) {
			fail(p, p->lineno, "%s '%s' is defined twice", k->word, name);
			return;
		}
	if (*k->count == k->max) {
		fail(p, p->lineno, "too many %ss (at most %d)", k->word, k->max);
		return;
	}
	s->index = (*k->count)++;
	char *el = k->base + (size_t)s->index * k->size; /* every *_conf struct starts with its name */
	vw_strlcpy(el, name, VW_NAME_MAX);
	memcpy(el + k->line_off, &p->lineno, sizeof(int));
	p->n_sections++;
}

static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char line[4096];
	char *s;

	if (!next_line(p, line, sizeof(line)))
		return NULL;
	p->lineno++;
	line[strcspn(line, "\r\n")] = 0;
	s = line;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strlen(s) >= (size_t)num - 1) {
		/* the likely culprit is a long token (a JWT is often 300-600 characters) */
		bool token = !strncmp(s, "token", 5) && strspn(s + 5, " \t=") > 0;
		fail(p, p->lineno, "line too long (at most %d characters)%s", num - 2,
		     token ? "; put a long token in a file and name it with token_file" : "");
		s = "";
	} else if (*s == '[') {
		char copy[4096];
		snprintf(copy, sizeof(copy), "%s", s);
		section_header(p, copy);
	}
	snprintf(str, (size_t)num, "%s\n", s);
	return str;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	struct entry *e;

	(void)section;
	if (p->n_sections == 0) {
		fail(p, p->lineno, "'%s' is outside any section", key);
		return 1;
	}
	if (p->n_entries == p->cap_entries) {
		int cap = p->cap_entries ? p->cap_entries * 2 : 64;
		e = realloc(p->entries, sizeof(*e) * (size_t)cap);
		if (!e) {
			fail(p, p->lineno, "out of memory");
			return 1;
		}
		p->entries = e;
		p->cap_entries = cap;
	}
	e = &p->entries[p->n_entries++];
	e->section = p->n_sections - 1;
	e->line = p->lineno;
	snprintf(e->key, sizeof(e->key), "%s", key);
	snprintf(e->value, sizeof(e->value), "%s", value);
	for (int i = 0; i < p->n_entries - 1; i++) {
		struct entry *o = &p->entries[i];
		if (o->section == e->section && !strcmp(o->key, e->key))
			fail(p, e->line, "'%s' is set twice in this section (first on line %d)", key, o->line);
	}
	return 1;
}

/* ---- interpretation ---- */

static void feed_defaults(struct vw_feed_conf *f)
{
	if (f->type == VW_FEED_V4L2)
		snprintf(f->device, sizeof(f->device), "/dev/video0");
	if (f->type == VW_FEED_ALSA)
		snprintf(f->device, sizeof(f->device), "default");
	f->width = 640;
	f->height = 480;
	f->fps = 25;
	f->format = VW_FORMAT_AUTO;
	f->rate = 48000;
	f->channels = 2;
	f->loop = true;
}

static bool key_in(const char *key, const char *const *keys)
{
	for (; *keys; keys++)
		if (!strcmp(key, *keys))
			return true;
	return false;
}

/* Device settings (vw_controls): the parser cannot know the device's controls, so a v4l2 feed's
 * other keys are kept as written, checked only for syntax, and resolved against the device. */
static bool control_name_ok(const char *k)
{
	for (const char *c = k; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			return false;
	return *k && strlen(k) < VW_CONTROL_NAME_MAX;
}

static bool gain_ok(const char *v)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v)
		return false;
	if (!*end)
		return d == (double)(long)d;
	if (!strcmp(end, "%"))
		return d >= 0 && d <= 100;
	while (*end == ' ')
		end++;
	return !strcasecmp(end, "db");
}

static void unknown_feed_key(struct parse *p, const struct vw_feed_conf *f, const struct entry *e,
                             const char *const *keys);

/* `k` is the control's name: the key, or what follows `control.` */
static void control_key(struct parse *p, struct vw_feed_conf *f, const struct entry *e, const char *k)
{
	const char *v = e->value;
	char name[VW_CONTROL_NAME_MAX];

	if (f->type == VW_FEED_ALSA && (!strcmp(k, "mixer") || !strcmp(k, "mixer_element"))) {
		if (!*v || strlen(v) >= VW_NAME_MAX)
			fail(p, e->line, "bad %s '%s' (expected a name of at most %d characters)", k, v, VW_NAME_MAX - 1);
		else
			vw_strlcpy(k[5] ? f->mixer_element : f->mixer, v, VW_NAME_MAX);
		return;
	}
	if (f->type == VW_FEED_ALSA && strcmp(k, "gain")) {
		static const char *const keys[] = {"device", "rate", "channels", NULL};
		unknown_feed_key(p, f, e, keys);
		return;
	}
	if (!control_name_ok(k)) {
		fail(p, e->line, "bad control name '%s' (letters, digits and '_', as v4l2-ctl --list-ctrls shows it)", k);
		return;
	}
	if (!*v || strlen(v) >= VW_CONTROL_VALUE_MAX) {
		fail(p, e->line, "control '%s' needs a value (a number, NN%%, yes/no or a menu item; at most %d characters)",
		     k, VW_CONTROL_VALUE_MAX - 1);
		return;
	}
	if (f->type == VW_FEED_ALSA && !gain_ok(v)) {
		fail(p, e->line, "bad gain '%s' (expected a percentage such as 80%%, a dB value such as -6dB, or a raw number)", v);
		return;
	}
	vw_strlcpy(name, k, sizeof(name));
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	for (int i = 0; i < f->n_controls; i++) {
		const char *o = f->controls[i].name;
		const char *alias = vw_control_alias(name);
		if (!strcmp(o, name) || (alias && !strcmp(o, alias))) {
			fail(p, e->line, "'%s' names the same control as '%s' (line %d)", k, o, f->controls[i].line);
			return;
		}
	}
	if (f->n_controls == VW_MAX_CONTROLS) {
		fail(p, e->line, "too many controls (at most %d per feed)", VW_MAX_CONTROLS);
		return;
	}
	struct vw_control_setting *c = &f->controls[f->n_controls++];
	vw_strlcpy(c->name, name, sizeof(c->name));
	vw_strlcpy(c->value, v, sizeof(c->value));
	c->line = e->line;
}

/* A typo must not pass as a camera control (it would only be refused by the device, or never be
 * noticed): a v4l2 feed's plain keys are vw's own or controls the kernel defines. */
static bool lowered_standard(const char *k)
{
	char name[VW_CONTROL_NAME_MAX];

	if (strlen(k) >= sizeof(name))
		return false;
	vw_strlcpy(name, k, sizeof(name));
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return vw_control_standard(name);
}

static void unknown_feed_key(struct parse *p, const struct vw_feed_conf *f, const struct entry *e,
                             const char *const *keys)
{
	const char *cand[8 + 128], *near;
	size_t n = 0;

	for (; *keys && n < 8; keys++)
		if (strcmp(*keys, "type"))
			cand[n++] = *keys;
	if (f->type == VW_FEED_ALSA) {
		cand[n++] = "gain";
		cand[n++] = "mixer";
		cand[n++] = "mixer_element";
	}
	if (f->type == VW_FEED_V4L2)
		for (size_t i = 0; i < vw_control_n_standard && n < sizeof(cand) / sizeof(cand[0]); i++)
			cand[n++] = vw_control_standard_names[i];
	near = vw_nearest(e->key, cand, n);
	if (f->type == VW_FEED_V4L2)
		fail(p, e->line,
		     "unknown key '%s' for a v4l2 feed%s%s%s (a control of the driver's own that the kernel does not define "
		     "is written control.%s; `vw devices --controls` lists the camera's)",
		     e->key, near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "", e->key);
	else
		fail(p, e->line, "unknown key '%s' for a%s %s feed%s%s%s", e->key, f->type == VW_FEED_ALSA ? "n" : "",
		     vw_feed_type_name(f->type), near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

static void feed_key(struct parse *p, struct vw_feed_conf *f, const struct entry *e)
{
	static const char *const keys[][8] = {
		[VW_FEED_V4L2] = {"type", "device", "size", "fps", "format", NULL},
		[VW_FEED_ALSA] = {"type", "device", "rate", "channels", NULL},
		[VW_FEED_FILE] = {"type", "path", "loop", NULL},
		[VW_FEED_TESTSRC] = {"type", "size", "fps", "rate", "channels", NULL},
		[VW_FEED_INGEST] = {"type", "format", NULL},
	};
	const char *k = e->key, *v = e->value;
	long n;

	if (!key_in(k, keys[f->type])) {
		bool other = false; /* another type's key ("rate" in a v4l2 feed) is a mistake, not a control */
		for (size_t t = 0; t < sizeof(keys) / sizeof(keys[0]); t++)
			other |= key_in(k, keys[t]);
		if (!other && f->type == VW_FEED_ALSA)
			control_key(p, f, e, k);
		else if (!other && f->type == VW_FEED_V4L2 && !strncmp(k, "control.", 8))
			control_key(p, f, e, k + 8); /* a driver's own control: any name the device may have */
		else if (!other && f->type == VW_FEED_V4L2 && lowered_standard(k))
			control_key(p, f, e, k);
		else
			unknown_feed_key(p, f, e, keys[f->type]);
		return;
	}
	if (!strcmp(k, "type"))
		return;
	if (!strcmp(k, "device") || !strcmp(k, "path")) {
		if (!*v || strlen(v) >= VW_PATH_MAX)
			fail(p, e->line, "'%s' must not be empty", k);
		vw_strlcpy(!strcmp(k, "device") ? f->device : f->path, v, VW_PATH_MAX);
	} else if (!strcmp(k, "size")) {
		if (vw_parse_size(v, &f->width, &f->height) < 0)
			fail(p, e->line, "bad size '%s' (expected WIDTHxHEIGHT, even numbers from 16 to 4096)", v);
	} else if (!strcmp(k, "fps")) {
		if (vw_parse_int(v, 1, 240, &n) < 0)
			fail(p, e->line, "bad fps '%s' (expected a whole number from 1 to 240)", v);
		else
			f->fps = (int)n;
	} else if (!strcmp(k, "format") && f->type == VW_FEED_INGEST) {
		if (vw_ingest_format_parse(v, &f->ingest_format) < 0)
			fail(p, e->line, "bad format '%s' for an ingest feed (expected auto, ts or raw)", v);
	} else if (!strcmp(k, "format")) {
		if (!strcmp(v, "auto"))
			f->format = VW_FORMAT_AUTO;
		else if (!strcmp(v, "yuyv"))
			f->format = VW_FORMAT_YUYV;
		else if (!strcmp(v, "mjpeg"))
			f->format = VW_FORMAT_MJPEG;
		else
			fail(p, e->line, "bad format '%s' (expected auto, yuyv or mjpeg)", v);
	} else if (!strcmp(k, "rate")) {
		if (vw_parse_int(v, 8000, 192000, &n) < 0)
			fail(p, e->line, "bad rate '%s' (expected Hz, 8000 to 192000)", v);
		else
			f->rate = (int)n;
	} else if (!strcmp(k, "channels")) {
		if (vw_parse_int(v, 1, 2, &n) < 0)
			fail(p, e->line, "bad channels '%s' (expected 1 or 2)", v);
		else
			f->channels = (int)n;
	} else if (!strcmp(k, "loop")) {
		if (vw_parse_bool(v, &f->loop) < 0)
			fail(p, e->line, "bad loop '%s' (expected yes or no)", v);
	}
}

static void stream_key(struct parse *p, struct vw_stream_conf *s, const struct entry *e)
{
	static const char *const keys[] = {"feeds", "size", "fps", "video_bitrate", "audio_bitrate",
					   "audio_rate", "audio_channels", "gop", "mute", NULL};
	const char *k = e->key, *v = e->value;
	long n;

	if (!key_in(k, keys)) {
		fail(p, e->line, "unknown key '%s' for a stream", k);
	} else if (!strcmp(k, "feeds")) {
		char buf[INI_MAX_LINE], *save = NULL, *a;
		snprintf(buf, sizeof(buf), "%s", v);
		s->feeds_line = e->line;
		s->n_feeds = 0;
		for (a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			a = trim(a);
			if (s->n_feeds == VW_STREAM_FEEDS || !vw_name_valid(a, false) || strlen(a) >= VW_NAME_MAX) {
				fail(p, e->line, "bad feeds '%s' (expected VIDEOFEED or VIDEOFEED, AUDIOFEED, or up to %d ingest feeds)", v,
				     VW_STREAM_FEEDS);
				return;
			}
			vw_strlcpy(s->feeds[s->n_feeds++], a, VW_NAME_MAX);
		}
		if (!s->n_feeds)
			fail(p, e->line, "bad feeds '%s' (expected VIDEOFEED or VIDEOFEED, AUDIOFEED)", v);
	} else if (!strcmp(k, "size")) {
		if (vw_parse_size(v, &s->width, &s->height) < 0)
			fail(p, e->line, "bad size '%s' (expected WIDTHxHEIGHT, even numbers from 16 to 4096)", v);
	} else if (!strcmp(k, "fps")) {
		/* what MPEG-1 can signal and JSMpeg plays */
		if (vw_parse_int(v, 1, 60, &n) < 0 || (n != 24 && n != 25 && n != 30 && n != 50 && n != 60))
			fail(p, e->line, "bad fps '%s' (expected 24, 25, 30, 50 or 60)", v);
		else
			s->fps = (int)n;
	} else if (!strcmp(k, "video_bitrate") || !strcmp(k, "audio_bitrate")) {
		int64_t *dst = k[0] == 'v' ? &s->video_bitrate : &s->audio_bitrate;
		if (vw_parse_bitrate(v, dst) < 0)
			fail(p, e->line, "bad %s '%s' (expected bits per second such as 1000k or 2M)", k, v);
	} else if (!strcmp(k, "audio_rate")) {
		/* MPEG-1 Layer II rates; others become MPEG-2 audio, which JSMpeg plays as silence */
		if (vw_parse_int(v, 32000, 48000, &n) < 0 || (n != 32000 && n != 44100 && n != 48000))
			fail(p, e->line, "bad audio_rate '%s' (expected 32000, 44100 or 48000)", v);
		else
			s->audio_rate = (int)n;
	} else if (!strcmp(k, "audio_channels")) {
		if (vw_parse_int(v, 1, 2, &n) < 0)
			fail(p, e->line, "bad audio_channels '%s' (expected 1 or 2)", v);
		else
			s->audio_channels = (int)n;
	} else if (!strcmp(k, "gop")) {
		if (vw_parse_int(v, 1, 600, &n) < 0)
			fail(p, e->line, "bad gop '%s' (expected frames, 1 to 600)", v);
		else
			s->gop = (int)n;
	} else if (!strcmp(k, "mute")) {
		if (vw_parse_bool(v, &s->mute) < 0)
			fail(p, e->line, "bad mute '%s' (expected yes or no)", v);
	}
}

static void recorder_key(struct parse *p, struct vw_recorder_conf *r, const struct entry *e)
{
	const char *k = e->key, *v = e->value;

	if (!strcmp(k, "stream")) {
		r->stream_line = e->line;
		if (!vw_name_valid(v, true) || strlen(v) >= sizeof(r->stream))
			fail(p, e->line, "bad stream name '%s'", v);
		vw_strlcpy(r->stream, v, sizeof(r->stream));
	} else if (!strcmp(k, "dir")) {
		if (!*v)
			fail(p, e->line, "'dir' must not be empty");
		vw_strlcpy(r->dir, v, sizeof(r->dir));
	} else if (!strcmp(k, "segment")) {
		if (vw_parse_duration(v, &r->segment_ns) < 0 || r->segment_ns < 1000000000LL)
			fail(p, e->line, "bad segment '%s' (expected a duration of at least 1s, such as 60s or 10m)", v);
	} else if (!strcmp(k, "keep")) {
		if (vw_parse_bytes(v, &r->keep_bytes) < 0 || r->keep_bytes < 1024 * 1024)
			fail(p, e->line, "bad keep '%s' (expected a size of at least 1M, such as 500M or 1G)", v);
	} else {
		fail(p, e->line, "unknown key '%s' for a recorder", k);
	}
}

static void dest_key(struct parse *p, struct vw_dest_conf *d, const struct entry *e)
{
	const char *k = e->key, *v = e->value;

	if (!strcmp(k, "stream")) {
		d->stream_line = e->line;
		if (!vw_name_valid(v, true) || strlen(v) >= sizeof(d->stream))
			fail(p, e->line, "bad stream name '%s'", v);
		vw_strlcpy(d->stream, v, sizeof(d->stream));
	} else if (!strcmp(k, "url")) {
		struct vw_url u;
		char why[512];
		d->url_line = e->line;
		if (vw_url_parse(v, &u, why, sizeof(why)) < 0)
			fail(p, e->line, "%s", why);
		vw_strlcpy(d->url, v, sizeof(d->url));
	} else if (!strcmp(k, "token")) {
		vw_strlcpy(d->token, v, sizeof(d->token));
	} else if (!strcmp(k, "token_file")) {
		/* a token longer than a config line (JWTs), kept in a file only vw can read */
		FILE *tf = fopen(v, "r");
		if (!tf) {
			fail(p, e->line, "cannot read token_file %s: %s", v, strerror(errno));
			return;
		}
		char line[VW_TOKEN_MAX + 2];
		if (!fgets(line, sizeof(line), tf))
			line[0] = 0;
		fclose(tf);
		line[strcspn(line, "\r\n")] = 0;
		/* a token cut to fit would only be refused by the relay, far from the cause */
		if (strlen(line) >= sizeof(d->token))
			fail(p, e->line, "the token in token_file %s is longer than %zu bytes", v, sizeof(d->token) - 1);
		else if (!*line)
			fail(p, e->line, "token_file %s is empty", v);
		vw_strlcpy(d->token, line, sizeof(d->token));
	} else if (!strcmp(k, "auth")) {
		if (vw_auth_parse(v, &d->auth) < 0)
			fail(p, e->line, "unknown auth '%s' (expected bearer, first-message, access or none)", v);
	} else if (!strcmp(k, "ca_file")) {
		vw_strlcpy(d->ca_file, v, sizeof(d->ca_file));
	} else if (!strcmp(k, "insecure")) {
		if (vw_parse_bool(v, &d->insecure) < 0)
			fail(p, e->line, "bad insecure '%s' (expected yes or no)", v);
	} else if (!strcmp(k, "queue")) {
		size_t l = strlen(v);
		if (l && (v[l - 1] == 's' || v[l - 1] == 'm' || v[l - 1] == 'h')) {
			if (vw_parse_duration(v, &d->queue_ns) < 0 || d->queue_ns < 100000000LL)
				fail(p, e->line, "bad queue '%s' (expected stream time of at least 100ms, or bytes such as 512k)", v);
		} else if (vw_parse_bytes(v, &d->queue_bytes) < 0 || d->queue_bytes < 65536) {
			fail(p, e->line, "bad queue '%s' (expected stream time such as 2s, or bytes of at least 64k)", v);
		}
	} else {
		fail(p, e->line, "unknown key '%s' for a destination", k);
	}
}

static void http_key(struct parse *p, struct vw_http_conf *h, const struct entry *e)
{
	const char *k = e->key, *v = e->value;
	char host[VW_NAME_MAX];
	int port;

	if (!strcmp(k, "listen")) {
		if (strcmp(v, "off") && (strlen(v) >= sizeof(h->listen) || vw_parse_listen(v, host, sizeof(host), &port) < 0))
			fail(p, e->line, "bad listen '%s' (expected ADDRESS:PORT such as 127.0.0.1:8888 or [::]:8888, or off)", v);
		vw_strlcpy(h->listen, strcmp(v, "off") ? v : "", sizeof(h->listen));
	} else if (!strcmp(k, "api_token") || !strcmp(k, "view_token") || !strcmp(k, "ingest_secret")) {
		char *dst = k[0] == 'a' ? h->api_token : k[0] == 'v' ? h->view_token : h->ingest_secret;
		if (!*v)
			fail(p, e->line, "'%s' must not be empty (leave it out for none)", k);
		else if (k[0] == 'i' && !vw_name_valid(v, false))
			fail(p, e->line, "bad ingest_secret (letters, digits, '-' and '_': it is part of a URL path)");
		vw_strlcpy(dst, v, VW_TOKEN_MAX);
	} else if (!strcmp(k, "www")) {
		vw_strlcpy(h->www, v, sizeof(h->www));
	} else if (!strcmp(k, "origins")) {
		char why[300];
		if (strlen(v) >= sizeof(h->origins))
			fail(p, e->line, "origins longer than %zu bytes", sizeof(h->origins) - 1);
		else if (vw_http_origins_check(v, why, sizeof(why)) < 0)
			fail(p, e->line, "%s", why);
		vw_strlcpy(h->origins, v, sizeof(h->origins));
	} else if (!strcmp(k, "max_connections") || !strcmp(k, "max_viewers")) {
		long n;
		if (vw_parse_int(v, 1, 4096, &n) < 0)
			fail(p, e->line, "bad %s '%s' (expected 1 to 4096)", k, v);
		else
			*(k[4] == 'c' ? &h->max_connections : &h->max_viewers) = (int)n;
	} else if (!strcmp(k, "ws_timeout")) {
		if (vw_parse_duration(v, &h->ws_timeout_ns) < 0 || h->ws_timeout_ns < 3 * VW_NS_PER_SEC ||
		    h->ws_timeout_ns > 3600 * VW_NS_PER_SEC)
			fail(p, e->line, "bad ws_timeout '%s' (expected 3s to 1h, such as 60s)", v);
	} else {
		fail(p, e->line,
		     "unknown key '%s' for [http] (listen, api_token, view_token, ingest_secret, www, origins, "
		     "max_connections, max_viewers, ws_timeout)",
		     k);
	}
}

/* [control]: what API rules may do on this box. */
static void control_section_key(struct parse *p, struct vw_config *c, const struct entry *e)
{
	if (!strcmp(e->key, "dest_file_dir")) {
		if (e->value[0] != '/' || strlen(e->value) >= sizeof(c->dest_file_dir))
			fail(p, e->line, "bad dest_file_dir '%s' (expected an absolute path: the directory destinations' "
			     "'file' copies may be written in)", e->value);
		vw_strlcpy(c->dest_file_dir, e->value, sizeof(c->dest_file_dir));
	} else {
		fail(p, e->line, "unknown key '%s' for [control] (dest_file_dir)", e->key);
	}
}

static const struct entry *find_entry(const struct parse *p, int section, const char *key)
{
	for (int i = 0; i < p->n_entries; i++)
		if (p->entries[i].section == section && !strcmp(p->entries[i].key, key))
			return &p->entries[i];
	return NULL;
}

static void interpret(struct parse *p)
{
	struct vw_config *c = p->cfg;

	for (int si = 0; si < p->n_sections && !p->err_line; si++) {
		const struct section *sec = &p->sections[si];
		if (sec->kind == SEC_FEED) {
			struct vw_feed_conf *f = &c->feeds[sec->index];
			const struct entry *t = find_entry(p, si, "type");
			if (!t) {
				fail(p, sec->line, "feed '%s' has no 'type' (v4l2, alsa, file, testsrc or ingest)", f->name);
				return;
			}
			if (vw_feed_type_parse(t->value, &f->type) < 0) {
				fail(p, t->line, "unknown feed type '%s' (expected v4l2, alsa, file, testsrc or ingest)", t->value);
				return;
			}
			feed_defaults(f);
			for (int k = 0; k < p->n_entries; k++)
				if (p->entries[k].section == si)
					feed_key(p, f, &p->entries[k]);
			if (f->type == VW_FEED_FILE && !*f->path)
				fail(p, sec->line, "file feed '%s' has no 'path'", f->name);
		} else if (sec->kind == SEC_STREAM) {
			struct vw_stream_conf *s = &c->streams[sec->index];
			vw_stream_conf_defaults(s);
			for (int k = 0; k < p->n_entries; k++)
				if (p->entries[k].section == si)
					stream_key(p, s, &p->entries[k]);
			if (!s->gop)
				s->gop = 2 * s->fps;
			if (!s->n_feeds)
				fail(p, sec->line, "stream '%s' has no 'feeds'", s->name);
		} else if (sec->kind == SEC_DEST || sec->kind == SEC_API) {
			bool api = sec->kind == SEC_API;
			struct vw_dest_conf *d = api ? &c->api : &c->dests[sec->index];
			const struct entry *auth = find_entry(p, si, "auth");
			char why[600];
			if (api) {
				c->has_api = true;
				vw_strlcpy(d->name, VW_API_RULE, sizeof(d->name));
				vw_strlcpy(d->stream, VW_API_STREAM, sizeof(d->stream));
				d->line = sec->line;
			}
			d->queue_ns = 2 * 1000000000LL;
			for (int k = 0; k < p->n_entries; k++)
				if (p->entries[k].section == si) {
					if (api && !strcmp(p->entries[k].key, "stream"))
						fail(p, p->entries[k].line, "unknown key 'stream' for [api] (it carries the API)");
					else
						dest_key(p, d, &p->entries[k]);
				}
			if (d->queue_bytes)
				d->queue_ns = 0;
			if (!auth)
				d->auth = vw_auth_default(d->url, *d->token);
			if (!*d->stream)
				fail(p, sec->line, "destination '%s' has no 'stream'", d->name);
			else if (!*d->url)
				fail(p, sec->line, "%s has no 'url'", api ? "[api]" : "destination");
			else if (vw_dest_conf_check(d, why, sizeof(why)) < 0)
				fail(p, auth ? auth->line : sec->line, "%s%s%s: %s", api ? "[api]" : "destination '",
				     api ? "" : d->name, api ? "" : "'", why);
		} else if (sec->kind == SEC_CONTROL) {
			for (int k = 0; k < p->n_entries; k++)
				if (p->entries[k].section == si)
					control_section_key(p, c, &p->entries[k]);
		} else if (sec->kind == SEC_HTTP) {
			struct vw_http_conf *h = &c->http;
			h->line = sec->line;
			for (int k = 0; k < p->n_entries; k++)
				if (p->entries[k].section == si)
					http_key(p, h, &p->entries[k]);
		} else {
			struct vw_recorder_conf *r = &c->recorders[sec->index];
			r->segment_ns = 60 * 1000000000LL;
			r->keep_bytes = 1024ULL * 1024 * 1024;
			for (int k = 0; k < p->n_entries; k++)
				if (p->entries[k].section == si)
					recorder_key(p, r, &p->entries[k]);
			if (!*r->stream)
				fail(p, sec->line, "recorder '%s' has no 'stream'", r->name);
			else if (!*r->dir)
				fail(p, sec->line, "recorder '%s' has no 'dir'", r->name);
		}
	}
}

/* A `device = auto` camera is chosen to fit its stream: without a size or rate of its own it
 * asks for those of the first stream that shows it. */
static void auto_sizes(struct parse *p)
{
	struct vw_config *c = p->cfg;

	for (int si = 0; si < p->n_sections; si++) {
		const struct section *sec = &p->sections[si];
		if (sec->kind != SEC_FEED)
			continue;
		struct vw_feed_conf *f = &c->feeds[sec->index];
		if (f->type != VW_FEED_V4L2 || strcmp(f->device, VW_DEVICE_AUTO) != 0)
			continue;
		for (int i = 0; i < c->n_streams; i++) {
			const struct vw_stream_conf *s = &c->streams[i];
			if (strcmp(s->video_feed, f->name) != 0)
				continue;
			if (!find_entry(p, si, "size")) {
				f->width = s->width;
				f->height = s->height;
			}
			if (!find_entry(p, si, "fps"))
				f->fps = s->fps;
			break;
		}
	}
}

/* References between sections, checked once every section is known. */
static void cross_check(struct parse *p)
{
	struct vw_config *c = p->cfg;

	for (int i = 0; i < c->n_streams && !p->err_line; i++) {
		struct vw_stream_conf *s = &c->streams[i];
		char why[600];
		if (vw_stream_conf_resolve(c, s, why, sizeof(why)) < 0)
			fail(p, s->feeds_line, "%s", why);
	}
	if (!p->err_line)
		auto_sizes(p);
	for (int i = 0; i < c->n_recorders && !p->err_line; i++) {
		struct vw_recorder_conf *r = &c->recorders[i];
		if (!vw_config_source_known(c, r->stream) || !strcmp(r->stream, VW_API_STREAM))
			fail(p, r->stream_line, "recorder '%s' names stream '%s', which is not defined", r->name, r->stream);
	}
	for (int i = 0; i < c->n_dests && !p->err_line; i++) {
		struct vw_dest_conf *d = &c->dests[i];
		if (!strcmp(d->stream, VW_API_STREAM))
			fail(p, d->stream_line, "destination '%s' names stream '%s': only [api] carries the control channel",
			     d->name, d->stream);
		else if (!vw_config_source_known(c, d->stream))
			fail(p, d->stream_line, "destination '%s' names stream '%s', which is not defined (a stream or an ingest feed)",
			     d->name, d->stream);
	}
}

static int run(struct parse *p, char *err, size_t errlen)
{
	int ret = 0;
	int syntax = ini_parse_stream(reader, p, handler, p);

	if (syntax > 0)
		fail(p, syntax, "syntax error (expected 'key = value', '[KIND NAME]' or a comment)");
	if (!p->err_line)
		interpret(p);
	if (!p->err_line)
		cross_check(p);
	if (p->err_line) {
		if (p->err_line > 0)
			snprintf(err, errlen, "%s:%d: %s", p->name, p->err_line, p->err);
		else
			snprintf(err, errlen, "%s: %s", p->name, p->err);
		ret = -EINVAL;
	}
	free(p->sections);
	free(p->entries);
	return ret;
}

/* An empty configuration named `name`, with the defaults a file may leave out. */
static void start(struct vw_config *cfg, const char *name)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", name);
	snprintf(cfg->http.listen, sizeof(cfg->http.listen), "%s", VW_HTTP_DEFAULT_LISTEN);
	cfg->http.max_connections = VW_HTTP_DEFAULT_MAX_CONNECTIONS;
	cfg->http.max_viewers = VW_HTTP_DEFAULT_MAX_VIEWERS;
	cfg->http.ws_timeout_ns = VW_HTTP_DEFAULT_WS_TIMEOUT_NS;
}

int vw_config_parse(struct vw_config *cfg, const char *name, const char *text, char *err, size_t errlen)
{
	struct parse p = {.cfg = cfg, .name = name, .text = text};
	start(cfg, name);
	return run(&p, err, errlen);
}

int vw_config_load(struct vw_config *cfg, const char *path, char *err, size_t errlen)
{
	int ret;
	struct parse p = {.cfg = cfg, .name = path};

	start(cfg, path);
	p.file = fopen(path, "r");
	if (!p.file) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-ret));
		return ret;
	}
	ret = run(&p, err, errlen);
	fclose(p.file);
	return ret;
}

const struct vw_feed_conf *vw_config_feed(const struct vw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_feeds; i++)
		if (!strcmp(cfg->feeds[i].name, name))
			return &cfg->feeds[i];
	return NULL;
}

const struct vw_stream_conf *vw_config_stream(const struct vw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_streams; i++)
		if (!strcmp(cfg->streams[i].name, name))
			return &cfg->streams[i];
	return NULL;
}



const struct vw_dest_conf *vw_config_dest(const struct vw_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->n_dests; i++)
		if (!strcmp(cfg->dests[i].name, name))
			return &cfg->dests[i];
	return NULL;
}

bool vw_config_source_known(const struct vw_config *cfg, const char *name)
{
	const struct vw_feed_conf *f = vw_config_feed(cfg, name);
	return vw_config_stream(cfg, name) || (f && f->type == VW_FEED_INGEST) ||
	       (cfg->has_api && !strcmp(name, VW_API_STREAM));
}


int vw_stream_conf_resolve(const struct vw_config *c, struct vw_stream_conf *s, char *err, size_t errlen)
{
	int ingest = 0;

	s->passthrough = false;
	s->video_feed[0] = s->audio_feed[0] = 0;
	if (!s->n_feeds) {
		snprintf(err, errlen, "stream '%s' has no feeds", s->name);
		return -EINVAL;
	}
	for (int i = 0; i < s->n_feeds; i++) {
		const struct vw_feed_conf *f = vw_config_feed(c, s->feeds[i]);
		if (!f) {
			snprintf(err, errlen, "stream '%s' names feed '%s', which is not defined", s->name, s->feeds[i]);
			return -EINVAL;
		}
		ingest += f->type == VW_FEED_INGEST;
	}
	if (ingest == s->n_feeds) {
		s->passthrough = true;
		return 0;
	}
	if (ingest) {
		snprintf(err, errlen, "stream '%s' mixes ingest feeds (forwarded as they are) with capture feeds (encoded)",
			 s->name);
		return -EINVAL;
	}
	if (s->n_feeds > 2) {
		snprintf(err, errlen, "stream '%s' names %d capture feeds (expected VIDEOFEED or VIDEOFEED, AUDIOFEED)", s->name,
			 s->n_feeds);
		return -EINVAL;
	}
	const struct vw_feed_conf *v = vw_config_feed(c, s->feeds[0]);
	const struct vw_feed_conf *a = s->n_feeds > 1 ? vw_config_feed(c, s->feeds[1]) : NULL;
	if (!vw_feed_has_video(v)) {
		snprintf(err, errlen, "stream '%s': feed '%s' is %s and gives no video (list the video feed first)", s->name,
			 v->name, vw_feed_type_name(v->type));
		return -EINVAL;
	}
	if (a && !vw_feed_has_audio(a)) {
		snprintf(err, errlen, "stream '%s': feed '%s' is %s and gives no audio", s->name, a->name, vw_feed_type_name(a->type));
		return -EINVAL;
	}
	vw_strlcpy(s->video_feed, v->name, sizeof(s->video_feed));
	vw_strlcpy(s->audio_feed, a ? a->name : "", sizeof(s->audio_feed));
	return 0;
}






