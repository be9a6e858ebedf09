/* vw_api: see vw_api.h. */
#include "vw_api.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vw_text.h"
#include "vw_util.h"

#define STATE_VERSION 1

static const char *const auth_words[] = {"none", "bearer", "first-message", "access"};

/* ---- replies ---- */

static int reply(struct vw_api_reply *r, int status, json_t *j)
{
	r->status = status;
	r->body = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	return r->body ? 0 : -ENOMEM;
}

/* {"error":msg}. The text may quote what a client sent, or be cut in the middle of a character;
 * jansson refuses strings that are not UTF-8, and a reply that cannot be built would become
 * -ENOMEM (a 500 without a body, or no answer on the channel): such bytes become '?'. */
static json_t *error_json(const char *msg)
{
	const unsigned char *s = (const unsigned char *)msg;
	char clean[700];
	size_t o = 0;

	while (*s) {
		size_t n = vw_utf8_len((const char *)s);
		if (o + (n ? n : 1) >= sizeof(clean))
			break;
		if (n)
			memcpy(clean + o, s, n);
		else
			clean[o] = '?';
		o += n ? n : 1;
		s += n ? n : 1;
	}
	clean[o] = 0;
	return json_pack("{ss}", "error", clean);
}

static int fail(struct vw_api_reply *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct vw_api_reply *r, int status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->changed = false;
	return reply(r, status, error_json(msg));
}

/* ---- state document ---- */

json_t *vw_api_state_new(void)
{
	return json_pack("{si s{} s{} s{s[] s[]}}", "version", STATE_VERSION, "streams", "destinations", "deleted",
			 "streams", "destinations");
}

static json_t *section(const json_t *state, const char *key)
{
	return json_object_get(state, key);
}

static json_t *deleted(const json_t *state, const char *key)
{
	return json_object_get(json_object_get(state, "deleted"), key);
}

static bool in_list(const json_t *list, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), name))
			return true;
	return false;
}

static void list_remove(json_t *list, const char *name)
{
	for (size_t i = json_array_size(list); i-- > 0;)
		if (!strcmp(json_string_value(json_array_get(list, i)) ?: "", name))
			json_array_remove(list, i);
}

static void list_add(json_t *list, const char *name)
{
	if (!in_list(list, name))
		json_array_append_new(list, json_string(name));
}

/* ---- rules ---- */

/* vw stored names without a leading '/' (a name starting with one could not be deleted). */
static const char *strip_slash(const char *s)
{
	return *s == '/' ? s + 1 : s;
}

static bool check_keys(const json_t *o, const char *const *keys, char *err, size_t n)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		const char *const *p;
		for (p = keys; *p && strcmp(*p, k); p++)
			;
		if (!*p) {
			snprintf(err, n, "unknown field '%s'", k);
			return false;
		}
	}
	return true;
}

static const char *const stream_keys[] = {"stream", "feeds", "size", "fps", "video_bitrate", "audio_bitrate", "gop",
                                          NULL};
static const char *const dest_keys[] = {"id", "stream", "destination", "token", "auth", "ca_file", "insecure", "queue",
                                        "file", NULL};

/* A rule as the Go vw's clients send it, read as Go's encoding/json read it: a field name matches
 * whatever its case ("Stream", "ID"; an exact match wins over another case), and fields it does
 * not know are ignored (named in r->ignored, which the caller logs at debug level) rather than
 * refused. Returns a new object with the known fields under their own names; a non-object is
 * returned as it is, for the rule's own check to refuse. */
static json_t *go_fields(json_t *in, const char *const *keys, struct vw_api_reply *r)
{
	const char *k;
	json_t *v, *out;

	if (!json_is_object(in))
		return json_incref(in);
	out = json_object();
	json_object_foreach(in, k, v)
	{
		const char *const *p;
		for (p = keys; *p && strcasecmp(*p, k); p++)
			;
		if (!*p) {
			size_t used = strlen(r->ignored);
			if (used + strlen(k) + 3 < sizeof(r->ignored))
				snprintf(r->ignored + used, sizeof(r->ignored) - used, "%s%s", used ? ", " : "", k);
			continue;
		}
		if (!strcmp(*p, k) || !json_object_get(in, *p)) /* the exact name, if given, wins */
			json_object_set(out, *p, v);
	}
	return out;
}

/* A value that may come as a JSON string or number ("1000k" or 1000000). */
static bool scalar_text(const json_t *v, char *buf, size_t n)
{
	if (json_is_string(v))
		snprintf(buf, n, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else
		return false;
	return true;
}

/* Validates a stream rule; returns it normalised (new reference) or NULL with the reason. */
static json_t *stream_rule(const json_t *in, char *err, size_t n)
{
	const char *const *keys = stream_keys;
	const json_t *name = json_object_get(in, "stream"), *feeds = json_object_get(in, "feeds"), *v;
	json_t *out;
	size_t i;

	if (!json_is_object(in)) {
		snprintf(err, n, "a stream rule is a JSON object {\"stream\":NAME,\"feeds\":[FEED,...]}");
		return NULL;
	}
	if (!check_keys(in, keys, err, n))
		return NULL;
	if (!json_is_string(name)) {
		snprintf(err, n, "'stream' must be a string (the stream's name)");
		return NULL;
	}
	const char *s = strip_slash(json_string_value(name));
	if (!vw_name_valid(s, true) || !strcmp(s, "all") || !strcmp(s, VW_API_STREAM)) {
		snprintf(err, n, "invalid stream name '%.200s' (letters, digits, '-', '_' and '/' between parts; not 'all' or 'api')",
			 json_string_value(name));
		return NULL;
	}
	if (!json_is_array(feeds) || json_array_size(feeds) < 1 || json_array_size(feeds) > VW_STREAM_FEEDS) {
		snprintf(err, n, "'feeds' must be an array of 1 to %d feed names", VW_STREAM_FEEDS);
		return NULL;
	}
	json_array_foreach(feeds, i, v)
	{
		if (!json_is_string(v) || !vw_name_valid(strip_slash(json_string_value(v)), true)) {
			snprintf(err, n, "'feeds' must hold feed names (letters, digits, '-', '_' and '/' between parts)");
			return NULL;
		}
		for (size_t k = 0; k < i; k++)
			if (!strcmp(json_string_value(json_array_get(feeds, k)), json_string_value(v))) {
				snprintf(err, n, "feed '%s' is named twice", json_string_value(v));
				return NULL;
			}
	}
	out = json_pack("{ss s[]}", "stream", s, "feeds");
	json_array_foreach(feeds, i, v)
		json_array_append_new(json_object_get(out, "feeds"), json_string(strip_slash(json_string_value(v))));
	for (const char *const *k = keys + 2; *k; k++) {
		char text[64];
		int w, h;
		int64_t bps;
		long num;
		v = json_object_get(in, *k);
		if (!v)
			continue;
		bool ok = scalar_text(v, text, sizeof(text));
		if (!strcmp(*k, "size"))
			ok = ok && vw_parse_size(text, &w, &h) == 0;
		else if (!strcmp(*k, "fps"))
			ok = ok && vw_parse_int(text, 24, 60, &num) == 0 &&
			     (num == 24 || num == 25 || num == 30 || num == 50 || num == 60);
		else if (!strcmp(*k, "gop"))
			ok = ok && vw_parse_int(text, 1, 600, &num) == 0;
		else
			ok = ok && vw_parse_bitrate(text, &bps) == 0;
		if (!ok) {
			snprintf(err, n, "bad '%s' (size: WIDTHxHEIGHT; fps: 24, 25, 30, 50 or 60; gop: 1 to 600; bitrates: such as 1000k)",
				 *k);
			json_decref(out);
			return NULL;
		}
		json_object_set(out, *k, (json_t *)v);
	}
	return out;
}

static json_t *dest_rule(const json_t *in, char *err, size_t n)
{
	const char *const *keys = dest_keys;
	const json_t *id = json_object_get(in, "id"), *stream = json_object_get(in, "stream");
	const json_t *url = json_object_get(in, "destination"), *token = json_object_get(in, "token");
	const json_t *auth = json_object_get(in, "auth"), *ca = json_object_get(in, "ca_file");
	const json_t *insecure = json_object_get(in, "insecure"), *queue = json_object_get(in, "queue");
	const json_t *file = json_object_get(in, "file");
	struct vw_url u;
	char why[512];
	json_t *out;

	if (!json_is_object(in)) {
		snprintf(err, n, "a destination rule is a JSON object {\"id\":ID,\"stream\":NAME,\"destination\":URL}");
		return NULL;
	}
	if (!check_keys(in, keys, err, n))
		return NULL;
	if (!json_is_string(id) || !vw_name_valid(json_string_value(id), true) || !strcmp(json_string_value(id), "all")) {
		snprintf(err, n, "'id' must be a name (letters, digits, '-', '_' and '/' between parts; not 'all')");
		return NULL;
	}
	if (!json_is_string(stream) || !vw_name_valid(strip_slash(json_string_value(stream)), true)) {
		snprintf(err, n, "'stream' must be the name of a stream or feed");
		return NULL;
	}
	if (!json_is_string(url) || strlen(json_string_value(url)) >= VW_PATH_MAX) {
		snprintf(err, n, "'destination' must be a ws://, wss://, http:// or https:// URL");
		return NULL;
	}
	if (vw_url_parse(json_string_value(url), &u, why, sizeof(why)) < 0) {
		snprintf(err, n, "'destination': %s", why);
		return NULL;
	}
	if (token && (!json_is_string(token) || strlen(json_string_value(token)) >= VW_TOKEN_MAX)) {
		snprintf(err, n, "'token' must be a string of at most %d bytes", VW_TOKEN_MAX - 1);
		return NULL;
	}
	size_t a = 0;
	if (auth) {
		for (a = 0; json_is_string(auth) && a < 4 && strcmp(json_string_value(auth), auth_words[a]); a++)
			;
		if (a == 4 || !json_is_string(auth)) {
			snprintf(err, n, "'auth' must be none, bearer, first-message or access");
			return NULL;
		}
		if (a != 0 && !(token && *json_string_value(token))) {
			snprintf(err, n, "auth %s needs a 'token'", auth_words[a]);
			return NULL;
		}
	}
	if (ca && (!json_is_string(ca) || strlen(json_string_value(ca)) >= VW_PATH_MAX)) {
		snprintf(err, n, "'ca_file' must be a path");
		return NULL;
	}
	if (file && (!json_is_string(file) || strlen(json_string_value(file)) >= VW_PATH_MAX)) {
		snprintf(err, n, "'file' must be a path (where a copy of what the destination sends is written)");
		return NULL;
	}
	if (insecure && !json_is_boolean(insecure)) {
		snprintf(err, n, "'insecure' must be true or false");
		return NULL;
	}
	if (queue) {
		char text[64];
		int64_t ns;
		uint64_t bytes;
		if (!scalar_text(queue, text, sizeof(text)) ||
		    (vw_parse_duration(text, &ns) < 0 && vw_parse_bytes(text, &bytes) < 0)) {
			snprintf(err, n, "'queue' must be stream time (such as 2s) or bytes (such as 512k)");
			return NULL;
		}
	}
	out = json_pack("{ss ss ss}", "id", json_string_value(id), "stream", strip_slash(json_string_value(stream)),
			"destination", json_string_value(url));
	if (token)
		json_object_set(out, "token", (json_t *)token);
	if (auth)
		json_object_set(out, "auth", (json_t *)auth);
	if (ca)
		json_object_set(out, "ca_file", (json_t *)ca);
	if (insecure)
		json_object_set(out, "insecure", (json_t *)insecure);
	if (queue)
		json_object_set(out, "queue", (json_t *)queue);
	if (file && *json_string_value(file)) /* practable's "file": "" is no copy */
		json_object_set(out, "file", (json_t *)file);
	return out;
}

/* ---- a destination's copy file ---- */

int vw_api_file_path(const char *dir, const char *file, char *out, size_t n, char *why, size_t wn)
{
	char rdir[PATH_MAX], full[2 * PATH_MAX], parent[PATH_MAX];
	const char *rel = file;
	struct stat st;

	if (!*dir) {
		snprintf(why, wn, "'file' is not enabled on this box: set [control] dest_file_dir = DIRECTORY in the "
			 "configuration (copies may be written there only)");
		return -EINVAL;
	}
	if (!*file) {
		snprintf(why, wn, "'file' is empty");
		return -EINVAL;
	}
	for (const char *p = file; *p; p += strcspn(p, "/"), p += *p == '/')
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2])) {
			snprintf(why, wn, "'file' must not contain '..'");
			return -EINVAL;
		}
	if (!realpath(dir, rdir)) {
		snprintf(why, wn, "dest_file_dir %s: %s", dir, strerror(errno));
		return -EINVAL;
	}
	if (*file == '/') {
		size_t dl = strlen(dir), rl = strlen(rdir);
		while (dl > 1 && dir[dl - 1] == '/')
			dl--;
		if (!strncmp(file, dir, dl) && file[dl] == '/')
			rel = file + dl + 1;
		else if (!strncmp(file, rdir, rl) && file[rl] == '/')
			rel = file + rl + 1;
		else {
			snprintf(why, wn, "'file' must be inside %s (dest_file_dir)", dir);
			return -EINVAL;
		}
	}
	while (*rel == '/')
		rel++;
	snprintf(full, sizeof(full), "%s/%s", rdir, rel);
	char *slash = strrchr(full, '/');
	if (!rel[0] || !slash[1]) {
		snprintf(why, wn, "'file' names a directory, not a file");
		return -EINVAL;
	}
	*slash = 0;
	if (!realpath(full, parent)) {
		snprintf(why, wn, "'file': its directory %s: %s", full, strerror(errno));
		return -EINVAL;
	}
	size_t rl = strlen(rdir);
	if (strncmp(parent, rdir, rl) || (parent[rl] && parent[rl] != '/')) {
		snprintf(why, wn, "'file' leads out of %s through a symbolic link", dir);
		return -EINVAL;
	}
	int len = snprintf(out, n, "%s/%s", parent, slash + 1);
	if (len < 0 || (size_t)len >= n) {
		snprintf(why, wn, "'file': the path is too long");
		return -EINVAL;
	}
	if (lstat(out, &st) == 0 && (S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode))) {
		snprintf(why, wn, "'file' is a %s", S_ISLNK(st.st_mode) ? "symbolic link" : "directory");
		return -EINVAL;
	}
	return 0;
}

/* ---- file + rules = the configuration that runs ---- */

static int add_ingest_feed(struct vw_config *c, const char *name, char *err, size_t n)
{
	if (vw_config_feed(c, name))
		return 0;
	if (c->n_feeds == VW_MAX_FEEDS) {
		snprintf(err, n, "too many feeds (at most %d)", VW_MAX_FEEDS);
		return -EINVAL;
	}
	struct vw_feed_conf *f = &c->feeds[c->n_feeds++];
	memset(f, 0, sizeof(*f));
	vw_strlcpy(f->name, name, sizeof(f->name));
	f->type = VW_FEED_INGEST; /* a name no section defines: an encoder will POST it to /ts/NAME */
	return 0;
}

static int stream_from_rule(struct vw_config *out, const struct vw_config *base, const json_t *rule, char *err,
			    size_t n)
{
	const char *name = json_string_value(json_object_get(rule, "stream"));
	const json_t *feeds = json_object_get(rule, "feeds"), *v;
	const struct vw_stream_conf *file = vw_config_stream(base, name);
	struct vw_stream_conf s;
	char text[64];
	size_t i;
	int idx = -1;

	for (int k = 0; k < out->n_streams; k++)
		if (!strcmp(out->streams[k].name, name))
			idx = k;
	if (file) {
		s = *file;
	} else {
		memset(&s, 0, sizeof(s));
		vw_strlcpy(s.name, name, sizeof(s.name));
		vw_stream_conf_defaults(&s);
	}
	s.n_feeds = 0;
	s.mute = false;
	json_array_foreach(feeds, i, v)
	{
		const char *f = json_string_value(v);
		if (add_ingest_feed(out, f, err, n) < 0)
			return -EINVAL;
		vw_strlcpy(s.feeds[s.n_feeds++], f, VW_NAME_MAX);
	}
	if ((v = json_object_get(rule, "size")) && scalar_text(v, text, sizeof(text)))
		vw_parse_size(text, &s.width, &s.height);
	if ((v = json_object_get(rule, "video_bitrate")) && scalar_text(v, text, sizeof(text)))
		vw_parse_bitrate(text, &s.video_bitrate);
	if ((v = json_object_get(rule, "audio_bitrate")) && scalar_text(v, text, sizeof(text)))
		vw_parse_bitrate(text, &s.audio_bitrate);
	if ((v = json_object_get(rule, "fps")) && scalar_text(v, text, sizeof(text))) {
		long num;
		if (vw_parse_int(text, 1, 60, &num) == 0) {
			s.fps = (int)num;
			s.gop = 2 * s.fps;
		}
	}
	if ((v = json_object_get(rule, "gop")) && scalar_text(v, text, sizeof(text))) {
		long num;
		if (vw_parse_int(text, 1, 600, &num) == 0)
			s.gop = (int)num;
	}
	if (!s.gop)
		s.gop = 2 * s.fps;
	/* vw's mute: the stream posted again without its audio feed. The track stays, silent. */
	if (s.n_feeds == 1 && file && *file->audio_feed && strcmp(file->audio_feed, s.feeds[0])) {
		const struct vw_feed_conf *only = vw_config_feed(out, s.feeds[0]);
		if (only && only->type != VW_FEED_INGEST) {
			vw_strlcpy(s.feeds[s.n_feeds++], file->audio_feed, VW_NAME_MAX);
			s.mute = true;
		}
	}
	if (vw_stream_conf_resolve(out, &s, err, n) < 0)
		return -EINVAL;
	if (idx < 0) {
		if (out->n_streams == VW_MAX_STREAMS) {
			snprintf(err, n, "too many streams (at most %d)", VW_MAX_STREAMS);
			return -EINVAL;
		}
		idx = out->n_streams++;
	}
	out->streams[idx] = s;
	return 0;
}

static int dest_from_rule(struct vw_config *out, const json_t *rule, char *err, size_t n)
{
	const char *id = json_string_value(json_object_get(rule, "id"));
	const char *stream = json_string_value(json_object_get(rule, "stream"));
	const json_t *v;
	struct vw_dest_conf d;
	int idx = -1;

	memset(&d, 0, sizeof(d));
	vw_strlcpy(d.name, id, sizeof(d.name));
	vw_strlcpy(d.stream, stream, sizeof(d.stream));
	vw_strlcpy(d.url, json_string_value(json_object_get(rule, "destination")), sizeof(d.url));
	if ((v = json_object_get(rule, "token")))
		vw_strlcpy(d.token, json_string_value(v), sizeof(d.token));
	d.auth = vw_auth_default(d.url, *d.token);
	if ((v = json_object_get(rule, "auth")))
		for (int a = 0; a < 4; a++)
			if (!strcmp(json_string_value(v), auth_words[a]))
				d.auth = (enum vw_auth)a;
	if ((v = json_object_get(rule, "ca_file")))
		vw_strlcpy(d.ca_file, json_string_value(v), sizeof(d.ca_file));
	d.insecure = json_is_true(json_object_get(rule, "insecure"));
	if ((v = json_object_get(rule, "file"))) {
		char why[300];
		/* checked when the rule was added; a box whose dest_file_dir went away since runs the
		 * destination without its copy (add_dest refuses such a rule anew) */
		if (vw_api_file_path(out->dest_file_dir, json_string_value(v), d.file, sizeof(d.file), why, sizeof(why)) < 0)
			d.file[0] = 0;
	}
	d.queue_ns = 2 * VW_NS_PER_SEC;
	if ((v = json_object_get(rule, "queue"))) {
		char text[64];
		scalar_text(v, text, sizeof(text));
		if (vw_parse_duration(text, &d.queue_ns) < 0) {
			d.queue_ns = 0;
			vw_parse_bytes(text, &d.queue_bytes);
		}
	}
	if (vw_dest_conf_check(&d, err, n) < 0)
		return -EINVAL;
	if (strcmp(id, VW_API_RULE) && !strcmp(d.stream, VW_API_STREAM)) {
		/* that relay could list and change every rule: the control channel is the operator's to set */
		snprintf(err, n, "stream '%s' is the control channel's: only the [api] rule (VW_API) carries it",
			 VW_API_STREAM);
		return -EINVAL;
	}
	if (!strcmp(id, VW_API_RULE)) {
		/* vw let the channel move itself ("modify the apiRule"); it always carries the API */
		vw_strlcpy(d.stream, VW_API_STREAM, sizeof(d.stream));
		out->api = d;
		out->has_api = true;
		return 0;
	}
	if (!vw_config_source_known(out, d.stream) && add_ingest_feed(out, d.stream, err, n) < 0)
		return -EINVAL;
	for (int k = 0; k < out->n_dests; k++)
		if (!strcmp(out->dests[k].name, id))
			idx = k;
	if (idx < 0) {
		if (out->n_dests == VW_MAX_DESTS - 1) { /* one place stays for the control channel */
			snprintf(err, n, "too many destinations (at most %d)", VW_MAX_DESTS - 1);
			return -EINVAL;
		}
		idx = out->n_dests++;
	}
	out->dests[idx] = d;
	return 0;
}

int vw_api_effective(const struct vw_config *base, const json_t *state, struct vw_config *out, char *err,
		     size_t errlen)
{
	const char *key;
	json_t *rule;

	*out = *base;
	for (int i = out->n_streams; i-- > 0;)
		if (in_list(deleted(state, "streams"), out->streams[i].name))
			memmove(&out->streams[i], &out->streams[i + 1], sizeof(out->streams[0]) * (size_t)(--out->n_streams - i));
	for (int i = out->n_dests; i-- > 0;)
		if (in_list(deleted(state, "destinations"), out->dests[i].name))
			memmove(&out->dests[i], &out->dests[i + 1], sizeof(out->dests[0]) * (size_t)(--out->n_dests - i));
	if (in_list(deleted(state, "destinations"), VW_API_RULE))
		out->has_api = false;
	json_object_foreach((json_t *)section(state, "streams"), key, rule)
	{
		char why[600];
		if (stream_from_rule(out, base, rule, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "stream '%s': %s", key, why);
			return -EINVAL;
		}
	}
	json_object_foreach((json_t *)section(state, "destinations"), key, rule)
	{
		char why[600];
		if (dest_from_rule(out, rule, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "destination '%s': %s", key, why);
			return -EINVAL;
		}
	}
	if (out->has_api) { /* runs as a destination like the others, on the control channel's hub */
		for (int i = 0; i < out->n_dests; i++)
			if (!strcmp(out->dests[i].name, VW_API_RULE))
				out->has_api = false; /* an ordinary destination already took the name */
		if (out->has_api && out->n_dests == VW_MAX_DESTS) {
			snprintf(err, errlen, "too many destinations with the control channel (at most %d)",
				 VW_MAX_DESTS - 1);
			return -EINVAL;
		}
		if (out->has_api)
			out->dests[out->n_dests++] = out->api;
	}
	return 0;
}

int vw_api_state_check(const struct vw_config *base, const json_t *state, char *err, size_t errlen)
{
	const char *key;
	json_t *rule;
	int ret;

	if (!json_is_object(state) || json_integer_value(json_object_get(state, "version")) != STATE_VERSION ||
	    !json_is_object(section(state, "streams")) || !json_is_object(section(state, "destinations")) ||
	    !json_is_array(deleted(state, "streams")) || !json_is_array(deleted(state, "destinations"))) {
		snprintf(err, errlen, "not a version %d state document", STATE_VERSION);
		return -EINVAL;
	}
	json_object_foreach((json_t *)section(state, "streams"), key, rule)
	{
		char why[600];
		json_t *ok = stream_rule(rule, why, sizeof(why));
		bool same = ok && !strcmp(json_string_value(json_object_get(ok, "stream")), key);
		json_decref(ok);
		if (!same) {
			snprintf(err, errlen, "stream rule '%s': %s", key, ok ? "name differs from its key" : why);
			return -EINVAL;
		}
	}
	json_object_foreach((json_t *)section(state, "destinations"), key, rule)
	{
		char why[600];
		json_t *ok = dest_rule(rule, why, sizeof(why));
		bool same = ok && !strcmp(json_string_value(json_object_get(ok, "id")), key);
		json_decref(ok);
		if (!same) {
			snprintf(err, errlen, "destination rule '%s': %s", key, ok ? "id differs from its key" : why);
			return -EINVAL;
		}
	}
	struct vw_config *tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	ret = vw_api_effective(base, state, tmp, err, errlen);
	free(tmp);
	return ret;
}

/* ---- listings, in vw's shapes ---- */

static json_t *stream_feeds(const struct vw_config *eff, const json_t *state, const struct vw_stream_conf *s)
{
	json_t *rule = json_object_get(section(state, "streams"), s->name), *a;
	if (rule)
		return json_deep_copy(json_object_get(rule, "feeds"));
	a = json_array();
	if (s->passthrough) {
		for (int i = 0; i < s->n_feeds; i++)
			json_array_append_new(a, json_string(s->feeds[i]));
		return a;
	}
	(void)eff;
	json_array_append_new(a, json_string(s->video_feed));
	if (*s->audio_feed && !s->mute) /* vw showed a muted stream as one without its audio feed */
		json_array_append_new(a, json_string(s->audio_feed));
	return a;
}

static json_t *dest_json(const struct vw_dest_conf *d)
{
	/* tokens are never shown: the API may be read by more people than should hold them */
	json_t *j = json_pack("{ss ss ss ss}", "id", d->name, "stream", d->stream, "destination", d->url, "auth",
			      auth_words[d->auth]);
	if (*d->ca_file)
		json_object_set_new(j, "ca_file", json_string(d->ca_file));
	if (d->insecure)
		json_object_set_new(j, "insecure", json_true());
	if (*d->file)
		json_object_set_new(j, "file", json_string(d->file));
	return j;
}

static json_t *streams_all(const struct vw_config *eff, const json_t *state)
{
	json_t *o = json_object();
	for (int i = 0; i < eff->n_streams; i++)
		json_object_set_new(o, eff->streams[i].name, stream_feeds(eff, state, &eff->streams[i]));
	return o;
}

static json_t *dests_all(const struct vw_config *eff)
{
	json_t *o = json_object();
	for (int i = 0; i < eff->n_dests; i++)
		json_object_set_new(o, eff->dests[i].name, dest_json(&eff->dests[i]));
	return o;
}

static json_t *echo_rule(const json_t *rule)
{
	json_t *e = json_deep_copy(rule);
	json_object_del(e, "token");
	return e;
}

/* ---- changes ---- */

/* Tries `candidate` as the new state: commits it into `state` if the result can run. */
static int commit(const struct vw_config *base, json_t *state, json_t *candidate, struct vw_api_reply *r, int status,
		  json_t *answer)
{
	struct vw_config *eff = malloc(sizeof(*eff));
	char err[700];
	int ret;

	if (!eff) {
		json_decref(candidate);
		json_decref(answer);
		return -ENOMEM;
	}
	if (vw_api_effective(base, candidate, eff, err, sizeof(err)) < 0) {
		json_decref(answer);
		ret = fail(r, 400, "%s", err);
	} else {
		json_object_update(state, candidate);
		r->changed = true;
		ret = reply(r, status, answer);
	}
	json_decref(candidate);
	free(eff);
	return ret;
}

static int add_stream(const struct vw_config *base, json_t *state, json_t *rule, struct vw_api_reply *r)
{
	const char *name = json_string_value(json_object_get(rule, "stream"));
	json_t *cand = json_deep_copy(state);

	json_object_set(section(cand, "streams"), name, rule);
	list_remove(deleted(cand, "streams"), name);
	return commit(base, state, cand, r, 200, echo_rule(rule));
}

static int add_dest(const struct vw_config *base, json_t *state, json_t *rule, struct vw_api_reply *r, char *err,
		    size_t n)
{
	const char *id = json_string_value(json_object_get(rule, "id"));
	const char *stream = json_string_value(json_object_get(rule, "stream"));
	const struct vw_feed_conf *f = vw_config_feed(base, stream);
	json_t *cand;

	if (f && f->type != VW_FEED_INGEST && !vw_config_stream(base, stream)) {
		snprintf(err, n, "'%s' is a capture feed: name a stream that encodes it", stream);
		return 1;
	}
	const json_t *file = json_object_get(rule, "file");
	char path[VW_PATH_MAX];
	if (file && vw_api_file_path(base->dest_file_dir, json_string_value(file), path, sizeof(path), err, n) < 0)
		return 1;
	cand = json_deep_copy(state);
	json_object_set(section(cand, "destinations"), id, rule);
	list_remove(deleted(cand, "destinations"), id);
	return commit(base, state, cand, r, 200, echo_rule(rule));
}

/* Deletes one stream (or all with name NULL); false when there is no such stream. */
static bool delete_streams(const struct vw_config *eff, json_t *state, const char *name)
{
	bool found = false;
	for (int i = 0; i < eff->n_streams; i++) {
		const char *s = eff->streams[i].name;
		if (name && strcmp(s, name))
			continue;
		found = true;
		json_object_del(section(state, "streams"), s);
		list_add(deleted(state, "streams"), s);
	}
	return found;
}

static bool delete_dests(const struct vw_config *eff, json_t *state, const char *id)
{
	bool found = false;
	for (int i = 0; i < eff->n_dests; i++) {
		const char *d = eff->dests[i].name;
		if (id && strcmp(d, id))
			continue;
		found = true;
		json_object_del(section(state, "destinations"), d);
		list_add(deleted(state, "destinations"), d);
	}
	return found;
}

static json_t *parse_body(const char *body, size_t len, struct vw_api_reply *r, int *ret)
{
	json_error_t e;
	json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		*ret = fail(r, 400, "malformed JSON: %s (line %d, column %d)", e.text, e.line, e.column);
	return j;
}

int vw_api_http(const struct vw_config *base, json_t *state, const char *method, const char *path, const char *body,
		size_t len, struct vw_api_reply *r)
{
	struct vw_config *eff = NULL;
	bool streams = !strncmp(path, "/api/streams", 12), dests = !strncmp(path, "/api/destinations", 17);
	const char *rest = streams ? path + 12 : dests ? path + 17 : NULL;
	bool get = !strcmp(method, "GET"), del = !strcmp(method, "DELETE");
	bool post = !strcmp(method, "POST") || !strcmp(method, "PUT");
	char err[700];
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (!rest || (*rest && *rest != '/'))
		return fail(r, 404, "no such endpoint: %s", path);
	if (!*rest) { /* the collection: add or replace a rule */
		json_t *in, *rule;
		if (!post)
			return fail(r, 405, "%s takes POST or PUT", path);
		in = parse_body(body, len, r, &ret);
		if (!in)
			return ret;
		json_t *lenient = go_fields(in, streams ? stream_keys : dest_keys, r);
		json_decref(in);
		rule = streams ? stream_rule(lenient, err, sizeof(err)) : dest_rule(lenient, err, sizeof(err));
		json_decref(lenient);
		if (!rule)
			return fail(r, 400, "%s", err);
		if (streams)
			ret = add_stream(base, state, rule, r);
		else if ((ret = add_dest(base, state, rule, r, err, sizeof(err))) == 1)
			ret = fail(r, 400, "%s", err);
		json_decref(rule);
		return ret;
	}
	const char *name = rest + 1;
	if (!get && !del)
		return fail(r, 405, "%s takes GET or DELETE", path);
	if (strcmp(name, "all") && !vw_name_valid(name, true))
		return fail(r, 400, "invalid name '%.200s'", name);
	eff = malloc(sizeof(*eff));
	if (!eff)
		return -ENOMEM;
	if (vw_api_effective(base, state, eff, err, sizeof(err)) < 0) {
		ret = fail(r, 500, "the current rules do not apply: %s", err);
		goto out;
	}
	if (get && !strcmp(name, "all")) {
		ret = reply(r, 200, streams ? streams_all(eff, state) : dests_all(eff));
	} else if (get) {
		const struct vw_stream_conf *s = streams ? vw_config_stream(eff, name) : NULL;
		const struct vw_dest_conf *d = dests ? vw_config_dest(eff, name) : NULL;
		if (s)
			ret = reply(r, 200, stream_feeds(eff, state, s));
		else if (d)
			ret = reply(r, 200, dest_json(d));
		else
			ret = fail(r, 404, "no %s '%s'", streams ? "stream" : "destination", name);
	} else {
		bool all = !strcmp(name, "all");
		json_t *cand = json_deep_copy(state);
		bool found = streams ? delete_streams(eff, cand, all ? NULL : name) : delete_dests(eff, cand, all ? NULL : name);
		if (!found && !all) {
			/* the Go vw answered a deletion of what is not there with its name, 200: scripts
			 * that clean up before they start rely on it */
			json_decref(cand);
			ret = reply(r, 200, json_string(name));
		} else {
			/* vw answered a deletion with the name it deleted, or "deleteAll" */
			ret = commit(base, state, cand, r, 200, json_string(all ? "deleteAll" : name));
		}
	}
out:
	free(eff);
	return ret;
}

/* ---- WS/JSON commands ---- */

static int unrecognised(struct vw_api_reply *r)
{
	r->changed = false;
	return reply(r, 200, json_pack("{ss}", "error", "Unrecognised Command"));
}

int vw_api_command(const struct vw_config *base, json_t *state, const char *msg, size_t len, struct vw_api_reply *r)
{
	json_error_t e;
	json_t *cmd = json_loadb(msg, len, 0, &e);
	const char *verb = json_string_value(json_object_get(cmd, "verb"));
	const char *what = json_string_value(json_object_get(cmd, "what"));
	const char *which = json_string_value(json_object_get(cmd, "which"));
	json_t *rule_in = json_object_get(cmd, "rule");
	struct vw_config *eff = NULL;
	char err[700];
	int ret = 0;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(cmd) || !verb) {
		ret = unrecognised(r);
		goto out;
	}
	if (!strcmp(verb, "healthcheck")) {
		ret = reply(r, 200, json_pack("{ss}", "healthcheck", "ok"));
		goto out;
	}
	bool streams = what && !strcmp(what, "stream"), dests = what && !strcmp(what, "destination");
	if (!streams && !dests) {
		ret = unrecognised(r);
		goto out;
	}
	if (!strcmp(verb, "add")) {
		json_t *lenient = rule_in ? go_fields(rule_in, streams ? stream_keys : dest_keys, r) : NULL;
		json_t *rule = lenient ? (streams ? stream_rule(lenient, err, sizeof(err)) : dest_rule(lenient, err, sizeof(err)))
				       : NULL;
		json_decref(lenient);
		if (!rule_in)
			ret = unrecognised(r);
		else if (!rule)
			ret = reply(r, 200, error_json(err));
		else if (streams)
			ret = add_stream(base, state, rule, r);
		else if ((ret = add_dest(base, state, rule, r, err, sizeof(err))) == 1)
			ret = reply(r, 200, error_json(err));
		if (r->status == 400) /* the channel has no status: errors travel as {"error":...} */
			r->status = 200;
		json_decref(rule);
		goto out;
	}
	if ((strcmp(verb, "list") && strcmp(verb, "delete")) || !which || !*which) {
		ret = unrecognised(r);
		goto out;
	}
	eff = malloc(sizeof(*eff));
	if (!eff) {
		ret = -ENOMEM;
		goto out;
	}
	if (vw_api_effective(base, state, eff, err, sizeof(err)) < 0) {
		ret = reply(r, 200, error_json(err));
		goto out;
	}
	bool all = !strcmp(which, "all");
	if (!strcmp(verb, "list")) {
		if (all)
			ret = reply(r, 200, streams ? streams_all(eff, state) : dests_all(eff));
		else if (streams) {
			const struct vw_stream_conf *s = vw_config_stream(eff, which);
			ret = reply(r, 200, json_pack("{so}", "feeds", s ? stream_feeds(eff, state, s) : json_null()));
		} else {
			const struct vw_dest_conf *d = vw_config_dest(eff, which);
			ret = reply(r, 200, d ? dest_json(d) : json_pack("{ss ss ss}", "id", "", "stream", "", "destination", ""));
		}
		goto out;
	}
	if (dests && !strcmp(which, VW_API_RULE)) {
		ret = reply(r, 200, json_pack("{ss}", "error", "Cannot delete apiRule"));
		goto out;
	}
	json_t *cand = json_deep_copy(state);
	if (streams) {
		delete_streams(eff, cand, all ? NULL : which);
	} else {
		delete_dests(eff, cand, all ? NULL : which);
		if (all) { /* vw put the channel straight back: the channel cannot lock itself out */
			list_remove(deleted(cand, "destinations"), VW_API_RULE);
			json_object_del(section(cand, "destinations"), VW_API_RULE);
		}
	}
	ret = commit(base, state, cand, r, 200, json_pack("{ss}", "deleted", all ? "deleteAll" : which));
	if (r->status == 400)
		r->status = 200;
out:
	free(eff);
	json_decref(cmd);
	return ret;
}
