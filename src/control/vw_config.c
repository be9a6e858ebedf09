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

enum section_kind { SEC_FEED, SEC_STREAM, SEC_RECORDER, SEC_DEST, SEC_HTTP, SEC_API };

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

/* ---- value syntax ---- */

int vw_parse_int(const char *s, long min, long max, long *v)
{
	char *end;
	long x;
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	x = strtol(s, &end, 10);
	if (errno || *end || x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

int vw_parse_size(const char *s, int *w, int *h)
{
	unsigned a, b;
	char tail;
	if (!s || sscanf(s, "%ux%u%c", &a, &b, &tail) != 2)
		return -EINVAL;
	if (a < 16 || b < 16 || a > 4096 || b > 4096 || a % 2 || b % 2)
		return -EINVAL;
	*w = (int)a;
	*h = (int)b;
	return 0;
}

/* number with an optional suffix; returns the suffix in *suffix */
static int parse_scaled(const char *s, double *v, const char **suffix)
{
	char *end;
	if (!s || !*s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	errno = 0;
	*v = strtod(s, &end);
	if (errno || *v < 0)
		return -EINVAL;
	*suffix = end;
	return 0;
}

int vw_parse_bitrate(const char *s, int64_t *bps)
{
	double v;
	const char *u;
	if (parse_scaled(s, &v, &u) < 0)
		return -EINVAL;
	if (!strcmp(u, "") || !strcmp(u, "bps"))
		;
	else if (!strcasecmp(u, "k") || !strcasecmp(u, "kbps") || !strcasecmp(u, "kbit/s"))
		v *= 1e3;
	else if (!strcasecmp(u, "m") || !strcasecmp(u, "mbps") || !strcasecmp(u, "mbit/s"))
		v *= 1e6;
	else
		return -EINVAL;
	if (v < 8000 || v > 100e6)
		return -EINVAL;
	*bps = (int64_t)v;
	return 0;
}

int vw_parse_duration(const char *s, int64_t *ns)
{
	double v;
	const char *u;
	if (parse_scaled(s, &v, &u) < 0)
		return -EINVAL;
	if (!strcmp(u, "ms"))
		v *= 1e6;
	else if (!strcmp(u, "s") || !strcmp(u, ""))
		v *= 1e9;
	else if (!strcmp(u, "m") || !strcmp(u, "min"))
		v *= 60e9;
	else if (!strcmp(u, "h"))
		v *= 3600e9;
	else
		return -EINVAL;
	if (v > 7 * 24 * 3600e9)
		return -EINVAL;
	*ns = (int64_t)v;
	return 0;
}

int vw_parse_bytes(const char *s, uint64_t *bytes)
{
	double v;
	const char *u;
	if (parse_scaled(s, &v, &u) < 0)
		return -EINVAL;
	if (!strcmp(u, "") || !strcmp(u, "B"))
		;
	else if (!strcasecmp(u, "k") || !strcasecmp(u, "KiB") || !strcasecmp(u, "KB"))
		v *= 1024.0;
	else if (!strcasecmp(u, "M") || !strcasecmp(u, "MiB") || !strcasecmp(u, "MB"))
		v *= 1024.0 * 1024;
	else if (!strcasecmp(u, "G") || !strcasecmp(u, "GiB") || !strcasecmp(u, "GB"))
		v *= 1024.0 * 1024 * 1024;
	else if (!strcasecmp(u, "T") || !strcasecmp(u, "TiB") || !strcasecmp(u, "TB"))
		v *= 1024.0 * 1024 * 1024 * 1024;
	else
		return -EINVAL;
	if (v > 1e18)
		return -EINVAL;
	*bytes = (uint64_t)v;
	return 0;
}

int vw_parse_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; s && i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*b = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*b = false;
			return 0;
		}
	}
	return -EINVAL;
}

bool vw_name_valid(const char *s, bool allow_slash)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n >= VW_NAME_MAX)
		return false;
	if (allow_slash && (s[0] == '/' || s[n - 1] == '/' || strstr(s, "//")))
		return false; /* no empty path segments: names become URL paths and file names */
	for (const char *c = s; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || (allow_slash && *c == '/')))
			return false;
	return true;
}

/* ---- reader and handler ---- */

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
	if (!strcmp(body, "http") || !strcmp(body, "api")) { /* one of each, no name */
		bool http = body[0] == 'h';
		if (*name) {
			fail(p, p->lineno, "[%s] takes no name", body);
			return;
		}
		for (int i = 0; i < p->n_sections; i++)
			if (p->sections[i].kind == (http ? SEC_HTTP : SEC_API)) {
				fail(p, p->lineno, "[%s] is defined twice (first on line %d)", body, p->sections[i].line);
				return;
			}
		s->kind = http ? SEC_HTTP : SEC_API;
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
		fail(p, p->lineno, "unknown section '[%s%s%s]' (expected [feed NAME], [stream NAME], [recorder NAME], [destination ID], [http] or [api])", body,
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
		fail(p, p->lineno, "line too long (at most %d characters)", num - 2);
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

static const char *const feed_types[] = {"v4l2", "alsa", "file", "testsrc", "ingest"};
#define N_FEED_TYPES 5

const char *vw_feed_type_name(enum vw_feed_type t)
{
	return feed_types[t];
}

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

static void control_key(struct parse *p, struct vw_feed_conf *f, const struct entry *e)
{
	const char *k = e->key, *v = e->value;
	char name[VW_CONTROL_NAME_MAX];

	if (f->type == VW_FEED_ALSA && (!strcmp(k, "mixer") || !strcmp(k, "mixer_element"))) {
		if (!*v || strlen(v) >= VW_NAME_MAX)
			fail(p, e->line, "bad %s '%s' (expected a name of at most %d characters)", k, v, VW_NAME_MAX - 1);
		else
			vw_strlcpy(k[5] ? f->mixer_element : f->mixer, v, VW_NAME_MAX);
		return;
	}
	if (f->type == VW_FEED_ALSA && strcmp(k, "gain")) {
		fail(p, e->line, "unknown key '%s' for an alsa feed (device, rate, channels, gain, mixer, mixer_element)", k);
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

static void feed_key(struct parse *p, struct vw_feed_conf *f, const struct entry *e)
{
	static const char *const keys[][8] = {
		[VW_FEED_V4L2] = {"type", "device", "size", "fps", "format", NULL},
		[VW_FEED_ALSA] = {"type", "device", "rate", "channels", NULL},
		[VW_FEED_FILE] = {"type", "path", "loop", NULL},
		[VW_FEED_TESTSRC] = {"type", "size", "fps", "rate", "channels", NULL},
		[VW_FEED_INGEST] = {"type", NULL},
	};
	const char *k = e->key, *v = e->value;
	long n;

	if (!key_in(k, keys[f->type])) {
		bool other = false; /* another type's key ("rate" in a v4l2 feed) is a mistake, not a control */
		for (size_t t = 0; t < N_FEED_TYPES; t++)
			other |= key_in(k, keys[t]);
		if (!other && (f->type == VW_FEED_V4L2 || f->type == VW_FEED_ALSA))
			control_key(p, f, e);
		else
			fail(p, e->line, "unknown key '%s' for a %s feed", k, feed_types[f->type]);
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

static const char *const auth_names[] = {"none", "bearer", "first-message", "access"};

const char *vw_auth_name(enum vw_auth a)
{
	return (unsigned)a < 4 ? auth_names[a] : "?";
}

int vw_url_parse(const char *url, struct vw_url *u, char *err, size_t errlen)
{
	const char *p, *host, *end;
	size_t hl;

	memset(u, 0, sizeof(*u));
	p = strstr(url, "://");
	if (!p || p - url >= (long)sizeof(u->scheme)) {
		snprintf(err, errlen, "'%s' is not a URL (expected ws://, wss://, http:// or https://HOST[:PORT]/PATH)", url);
		return -EINVAL;
	}
	memcpy(u->scheme, url, (size_t)(p - url));
	if (!strcmp(u->scheme, "ws") || !strcmp(u->scheme, "wss")) {
		u->websocket = true;
	} else if (strcmp(u->scheme, "http") != 0 && strcmp(u->scheme, "https") != 0) {
		snprintf(err, errlen, "unsupported URL scheme '%s' (expected ws, wss, http or https)", u->scheme);
		return -EINVAL;
	}
	u->tls = !strcmp(u->scheme, "wss") || !strcmp(u->scheme, "https");
	u->port = u->tls ? 443 : 80;
	host = p + 3;
	if (*host == '[') { /* [IPv6] */
		end = strchr(host, ']');
		if (!end) {
			snprintf(err, errlen, "unterminated '[' in '%s'", url);
			return -EINVAL;
		}
		hl = (size_t)(end - host - 1);
		if (hl == 0 || hl >= sizeof(u->host))
			goto bad_host;
		memcpy(u->host, host + 1, hl);
		end++;
	} else {
		end = host + strcspn(host, ":/?#");
		hl = (size_t)(end - host);
		if (hl == 0 || hl >= sizeof(u->host))
			goto bad_host;
		memcpy(u->host, host, hl);
	}
	for (const char *c = u->host; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '.' || *c == '-' || *c == ':' || *c == '_'))
			goto bad_host;
	if (*end == ':') {
		char *e;
		long port = strtol(end + 1, &e, 10);
		if (e == end + 1 || port < 1 || port > 65535 || (*e && *e != '/' && *e != '?')) {
			snprintf(err, errlen, "bad port in '%s'", url);
			return -EINVAL;
		}
		u->port = (int)port;
		end = e;
	}
	if (*end == '#' || strchr(end, ' ')) {
		snprintf(err, errlen, "bad path in '%s'", url);
		return -EINVAL;
	}
	snprintf(u->path, sizeof(u->path), "%s%s", *end == '/' ? "" : "/", end);
	return 0;
bad_host:
	snprintf(err, errlen, "bad host in '%s'", url);
	return -EINVAL;
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
		size_t i;
		for (i = 0; i < 4 && strcmp(v, auth_names[i]) != 0; i++)
			;
		if (i == 4)
			fail(p, e->line, "unknown auth '%s' (expected bearer, first-message, access or none)", v);
		else
			d->auth = (enum vw_auth)i;
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
	} else if (!strcmp(k, "max_connections") || !strcmp(k, "max_viewers")) {
		long n;
		if (vw_parse_int(v, 1, 4096, &n) < 0)
			fail(p, e->line, "bad %s '%s' (expected 1 to 4096)", k, v);
		else
			*(k[4] == 'c' ? &h->max_connections : &h->max_viewers) = (int)n;
	} else {
		fail(p, e->line,
		     "unknown key '%s' for [http] (listen, api_token, view_token, ingest_secret, www, max_connections, "
		     "max_viewers)",
		     k);
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
			size_t i;
			if (!t) {
				fail(p, sec->line, "feed '%s' has no 'type' (v4l2, alsa, file, testsrc or ingest)", f->name);
				return;
			}
			for (i = 0; i < N_FEED_TYPES && strcmp(t->value, feed_types[i]) != 0; i++)
				;
			if (i == N_FEED_TYPES) {
				fail(p, t->line, "unknown feed type '%s' (expected v4l2, alsa, file, testsrc or ingest)", t->value);
				return;
			}
			f->type = (enum vw_feed_type)i;
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
			if (!auth) /* bearer when a token is given, as relays expect */
				d->auth = *d->token ? VW_AUTH_BEARER : VW_AUTH_NONE;
			if (!*d->stream)
				fail(p, sec->line, "destination '%s' has no 'stream'", d->name);
			else if (!*d->url)
				fail(p, sec->line, "%s has no 'url'", api ? "[api]" : "destination");
			else if (vw_dest_conf_check(d, why, sizeof(why)) < 0)
				fail(p, auth ? auth->line : sec->line, "%s%s%s: %s", api ? "[api]" : "destination '",
				     api ? "" : d->name, api ? "" : "'", why);
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
		if (!vw_config_source_known(c, d->stream))
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

int vw_config_parse(struct vw_config *cfg, const char *name, const char *text, char *err, size_t errlen)
{
	struct parse p = {.cfg = cfg, .name = name, .text = text};
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", name);
	snprintf(cfg->http.listen, sizeof(cfg->http.listen), "%s", VW_HTTP_DEFAULT_LISTEN);
	cfg->http.max_connections = VW_HTTP_DEFAULT_MAX_CONNECTIONS;
	cfg->http.max_viewers = VW_HTTP_DEFAULT_MAX_VIEWERS;
	return run(&p, err, errlen);
}

int vw_config_load(struct vw_config *cfg, const char *path, char *err, size_t errlen)
{
	int ret;
	struct parse p = {.cfg = cfg, .name = path};

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->file, sizeof(cfg->file), "%s", path);
	snprintf(cfg->http.listen, sizeof(cfg->http.listen), "%s", VW_HTTP_DEFAULT_LISTEN);
	cfg->http.max_connections = VW_HTTP_DEFAULT_MAX_CONNECTIONS;
	cfg->http.max_viewers = VW_HTTP_DEFAULT_MAX_VIEWERS;
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

bool vw_feed_has_video(const struct vw_feed_conf *f)
{
	return f->type != VW_FEED_ALSA && f->type != VW_FEED_INGEST;
}

bool vw_feed_has_audio(const struct vw_feed_conf *f)
{
	return f->type != VW_FEED_V4L2 && f->type != VW_FEED_INGEST;
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

void vw_stream_conf_defaults(struct vw_stream_conf *s)
{
	s->width = 640;
	s->height = 480;
	s->fps = 25;
	s->video_bitrate = 1000000;
	s->audio_bitrate = 128000;
	s->audio_rate = 44100;
	s->audio_channels = 2;
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
			 v->name, feed_types[v->type]);
		return -EINVAL;
	}
	if (a && !vw_feed_has_audio(a)) {
		snprintf(err, errlen, "stream '%s': feed '%s' is %s and gives no audio", s->name, a->name, feed_types[a->type]);
		return -EINVAL;
	}
	vw_strlcpy(s->video_feed, v->name, sizeof(s->video_feed));
	vw_strlcpy(s->audio_feed, a ? a->name : "", sizeof(s->audio_feed));
	return 0;
}

int vw_dest_conf_check(const struct vw_dest_conf *d, char *err, size_t errlen)
{
	struct vw_url u;

	if (vw_url_parse(d->url, &u, err, errlen) < 0)
		return -EINVAL;
	if (d->auth != VW_AUTH_NONE && !*d->token) {
		snprintf(err, errlen, "auth %s needs a 'token'", vw_auth_name(d->auth));
		return -EINVAL;
	}
	return 0;
}

int vw_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon;
	long n;
	char num[16];

	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= hostlen || end == s + 1)
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = 0;
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s || (size_t)(colon - s) >= hostlen || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
	}
	if (strlen(colon + 1) >= sizeof(num) || vw_parse_int(colon + 1, 0, 65535, &n) < 0)
		return -EINVAL;
	*port = (int)n;
	return 0;
}

bool vw_feed_conf_equal(const struct vw_feed_conf *a, const struct vw_feed_conf *b)
{
	if (a->n_controls != b->n_controls || strcmp(a->mixer, b->mixer) || strcmp(a->mixer_element, b->mixer_element))
		return false;
	for (int i = 0; i < a->n_controls; i++) /* in order: the order is the order of application */
		if (strcmp(a->controls[i].name, b->controls[i].name) || strcmp(a->controls[i].value, b->controls[i].value))
			return false;
	return a->type == b->type && !strcmp(a->name, b->name) && !strcmp(a->device, b->device) &&
	       !strcmp(a->path, b->path) && a->loop == b->loop && a->width == b->width && a->height == b->height &&
	       a->fps == b->fps && a->format == b->format && a->rate == b->rate && a->channels == b->channels;
}

bool vw_stream_conf_equal(const struct vw_stream_conf *a, const struct vw_stream_conf *b)
{
	if (a->n_feeds != b->n_feeds || a->passthrough != b->passthrough)
		return false;
	for (int i = 0; i < a->n_feeds; i++)
		if (strcmp(a->feeds[i], b->feeds[i]))
			return false;
	return !strcmp(a->name, b->name) && !strcmp(a->video_feed, b->video_feed) &&
	       !strcmp(a->audio_feed, b->audio_feed) && a->width == b->width && a->height == b->height &&
	       a->fps == b->fps && a->video_bitrate == b->video_bitrate && a->audio_bitrate == b->audio_bitrate &&
	       a->audio_rate == b->audio_rate && a->audio_channels == b->audio_channels && a->gop == b->gop &&
	       a->mute == b->mute;
}

bool vw_dest_conf_equal(const struct vw_dest_conf *a, const struct vw_dest_conf *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->stream, b->stream) && !strcmp(a->url, b->url) &&
	       !strcmp(a->token, b->token) && a->auth == b->auth && !strcmp(a->ca_file, b->ca_file) &&
	       a->insecure == b->insecure && a->queue_ns == b->queue_ns && a->queue_bytes == b->queue_bytes;
}

bool vw_recorder_conf_equal(const struct vw_recorder_conf *a, const struct vw_recorder_conf *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->stream, b->stream) && !strcmp(a->dir, b->dir) &&
	       a->segment_ns == b->segment_ns && a->keep_bytes == b->keep_bytes;
}
