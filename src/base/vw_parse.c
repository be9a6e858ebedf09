/* vw_parse: see vw_parse.h. */
#include "vw_parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* A unit suffix and its factor; case matters where a letter means two things ("m": minutes in a
 * duration, mega in a bitrate). */
struct unit {
	const char *name;
	double factor;
	bool any_case;
};

/* A number with one of `units` after it, scaled, within [lo, hi]. */
static int parse_units(const char *s, const struct unit *units, double lo, double hi, double *out)
{
	double v;
	const char *u;
	if (parse_scaled(s, &v, &u) < 0)
		return -EINVAL;
	for (; units->name; units++) {
		if (units->any_case ? !strcasecmp(u, units->name) : !strcmp(u, units->name)) {
			v *= units->factor;
			if (v < lo || v > hi)
				return -EINVAL;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

int vw_parse_bitrate(const char *s, int64_t *bps)
{
	static const struct unit units[] = {
		{"", 1, false},	       {"bps", 1, false}, {"k", 1e3, true},    {"kbps", 1e3, true},
		{"kbit/s", 1e3, true}, {"m", 1e6, true},  {"mbps", 1e6, true}, {"mbit/s", 1e6, true},
		{NULL, 0, false},
	};
	double v;
	if (parse_units(s, units, 8000, 100e6, &v) < 0)
		return -EINVAL;
	*bps = (int64_t)v;
	return 0;
}

int vw_parse_duration(const char *s, int64_t *ns)
{
	static const struct unit units[] = {
		{"ms", 1e6, false},   {"s", 1e9, false}, {"", 1e9, false}, {"m", 60e9, false},
		{"min", 60e9, false}, {"h", 3600e9, false}, {NULL, 0, false},
	};
	double v;
	if (parse_units(s, units, 0, 7 * 24 * 3600e9, &v) < 0)
		return -EINVAL;
	*ns = (int64_t)v;
	return 0;
}

int vw_parse_bytes(const char *s, uint64_t *bytes)
{
#define KI 1024.0
	static const struct unit units[] = {
		{"", 1, false},		     {"B", 1, false},		 {"k", KI, true},	    {"KiB", KI, true},
		{"KB", KI, true},	     {"M", KI * KI, true},	 {"MiB", KI * KI, true},   {"MB", KI * KI, true},
		{"G", KI * KI * KI, true},   {"GiB", KI * KI * KI, true}, {"GB", KI * KI * KI, true},
		{"T", KI * KI * KI * KI, true}, {"TiB", KI * KI * KI * KI, true}, {"TB", KI * KI * KI * KI, true},
		{NULL, 0, false},
	};
#undef KI
	double v;
	if (parse_units(s, units, 0, 1e18, &v) < 0)
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

/* Levenshtein distance over at most 64 characters (longer words are never close to a key). */
static int edit_distance(const char *a, const char *b)
{
	int row[65], la = (int)strlen(a), lb = (int)strlen(b);

	if (la > 64 || lb > 64)
		return 1 << 20;
	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			int up = row[j];
			int sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			int best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
			row[j] = sub < best ? sub : best;
			diag = up;
		}
	}
	return row[lb];
}

const char *vw_nearest(const char *word, const char *const *candidates, size_t n)
{
	int limit = (int)strlen(word) / 3, best = 1 << 20;
	const char *found = NULL;

	if (limit < 2)
		limit = 2;
	for (size_t i = 0; i < n; i++) {
		int d = edit_distance(word, candidates[i]);
		if (d < best) {
			best = d;
			found = candidates[i];
		}
	}
	return best <= limit ? found : NULL;
}
