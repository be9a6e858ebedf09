/* vw_routes: the one table of what the HTTP API answers. Owns the matching of a request's method
 * and path against a table of routes (method list + path pattern -> handler) and the JSON answers
 * when none matches: 404 when no pattern fits the path, 405 (naming the methods it takes) when one
 * does but not with this method. Patterns are literal segments and "{}" (one segment, no '/') or,
 * last, "{...}" (the rest, '/' included). The table itself is the control plane's (vw_control.c).
 * Pure. */
#ifndef VW_ROUTES_H
#define VW_ROUTES_H

#include <stddef.h>

#include "vw_parse.h"

struct vw_route {
	const char *methods; /* "GET", "GET DELETE", "POST PUT" */
	const char *pattern; /* "/api/status", "/api/feeds/{}/controls", "/api/streams/{...}" */
	void (*handler)(void *ctx, void *req, const char *arg);
};

/* The route for `method` and `path` (without the query): its index, with what "{}" or "{...}"
 * matched in arg (cut to arglen). Else -404 or -405 with the reason, as JSON {"error": ...},
 * malloc'd in *error_json (NULL if allocation failed). */
int vw_routes_find(const struct vw_route *table, size_t n, const char *method, const char *path, char *arg,
		   size_t arglen, char **error_json);

#endif
