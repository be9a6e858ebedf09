/* vw_sink_conf: see vw_sink_conf.h. */
#include "vw_sink_conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const auth_names[] = {"none", "bearer", "first-message", "access"};

const char *vw_auth_name(enum vw_auth a)
{
	return (unsigned)a < 4 ? auth_names[a] : "?";
}

enum vw_auth vw_auth_default(const char *url, bool has_token)
{
	if (!has_token)
		return VW_AUTH_NONE;
	return !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8) ? VW_AUTH_ACCESS : VW_AUTH_FIRST_MESSAGE;
}

int vw_auth_parse(const char *s, enum vw_auth *a)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, auth_names[i])) {
			*a = (enum vw_auth)i;
			return 0;
		}
	return -EINVAL;
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
	snprintf(u->origin, sizeof(u->origin), strchr(u->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", u->scheme, u->host,
		 u->port);
	return 0;
bad_host:
	snprintf(err, errlen, "bad host in '%s'", url);
	return -EINVAL;
}

int vw_dest_conf_check(const struct vw_dest_conf *d, char *err, size_t errlen)
{
	struct vw_url u;

	/* both go into the request head: a CR or LF would add headers of the sender's choosing */
	for (const char *const *f = (const char *const[]){d->url, d->token, NULL}; *f; f++)
		for (const unsigned char *c = (const unsigned char *)*f; *c; c++)
			if (*c < 0x20 || *c == 0x7f) {
				snprintf(err, errlen, "control characters in the %s", *f == d->url ? "URL" : "token");
				return -EINVAL;
			}
	if (vw_url_parse(d->url, &u, err, errlen) < 0)
		return -EINVAL;
	if (d->queue_ns > VW_DEST_QUEUE_MAX_NS || d->queue_bytes > VW_DEST_QUEUE_MAX_BYTES) {
		snprintf(err, errlen, "queue over %d s or %d MiB", (int)(VW_DEST_QUEUE_MAX_NS / 1000000000LL),
			 (int)(VW_DEST_QUEUE_MAX_BYTES >> 20));
		return -EINVAL;
	}
	if (d->auth != VW_AUTH_NONE && !*d->token) {
		snprintf(err, errlen, "auth %s needs a 'token'", vw_auth_name(d->auth));
		return -EINVAL;
	}
	return 0;
}

bool vw_dest_conf_equal(const struct vw_dest_conf *a, const struct vw_dest_conf *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->stream, b->stream) && !strcmp(a->url, b->url) &&
	       !strcmp(a->token, b->token) && a->auth == b->auth && !strcmp(a->ca_file, b->ca_file) &&
	       a->insecure == b->insecure && a->queue_ns == b->queue_ns && a->queue_bytes == b->queue_bytes &&
	       !strcmp(a->file, b->file);
}

bool vw_recorder_conf_equal(const struct vw_recorder_conf *a, const struct vw_recorder_conf *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->stream, b->stream) && !strcmp(a->dir, b->dir) &&
	       a->segment_ns == b->segment_ns && a->keep_bytes == b->keep_bytes;
}
