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
