/* vw_routes: see vw_routes.h. */
#include "vw_routes.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vw_text.h"
#include "vw_util.h"

/* Whether path fits pattern; what a placeholder matched goes to arg. */
static bool match(const char *pattern, const char *path, char *arg, size_t arglen)
{
	const char *p = pattern, *s = path;

	while (*p) {
		if (!strcmp(p, "{...}")) {
			vw_strlcpy(arg, s, arglen);
			return true;
		}
		if (!strncmp(p, "{}", 2)) {
			size_t n = strcspn(s, "/");
			snprintf(arg, arglen, "%.*s", (int)n, s);
			s += n;
			p += 2;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == 0;
}

/* Whether `method` is one of the space-separated `methods`. */
static bool takes(const char *methods, const char *method)
{
	size_t n = strlen(method);
	for (const char *m = methods; *m;) {
		size_t k = strcspn(m, " ");
		if (k == n && !strncmp(m, method, n))
			return true;
		m += k;
		m += strspn(m, " ");
	}
	return false;
}

static char *error_body(const char *fmt, const char *path, const char *methods)
{
	char msg[VW_PATH_MAX + 64], clean[sizeof(msg)];
	snprintf(msg, sizeof(msg), fmt, path, methods);
	vw_strlcpy(clean, msg, sizeof(clean));
	vw_utf8_sanitize(clean); /* the path is the client's */
	json_t *j = json_pack("{ss}", "error", clean);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

int vw_routes_find(const struct vw_route *table, size_t n, const char *method, const char *path, char *arg,
		   size_t arglen, char **error_json)
{
	char allowed[64] = "";

	*error_json = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!match(table[i].pattern, path, arg, arglen))
			continue;
		if (takes(table[i].methods, method))
			return (int)i;
		/* "GET DELETE" -> "GET or DELETE"; several routes on one path add up */
		for (const char *m = table[i].methods; *m;) {
			size_t k = strcspn(m, " ");
			size_t o = strlen(allowed);
			snprintf(allowed + o, sizeof(allowed) - o, "%s%.*s", o ? " or " : "", (int)k, m);
			m += k;
			m += strspn(m, " ");
		}
	}
	if (*allowed) {
		*error_json = error_body("%s takes %s", path, allowed);
		return -405;
	}
	*error_json = error_body("no such endpoint: %s%s", path, "");
	return -404;
}
