/* vw_api: the rules that the HTTP/JSON and WS/JSON APIs change, in the Go vw's shapes: stream
 * rules {"stream","feeds"} and destination rules {"id","stream","destination","token"} (plus our
 * fields), held as a JSON state document on top of the configuration file. Owns request
 * validation (a bad request changes nothing), vw's replies, the state document's format, and
 * turning file + rules into the configuration that runs. Pure: no threads, and no I/O but
 * looking at the filesystem (realpath, lstat) to check a destination's `file`.
 *
 * State document: {"version":1, "streams":{NAME:RULE}, "destinations":{ID:RULE},
 *                  "deleted":{"streams":[NAME...], "destinations":[ID...]}}
 * "deleted" remembers file-defined entries removed through the API, so a restart keeps them
 * removed while entries the operator adds to the file later still appear. */
#ifndef VW_API_H
#define VW_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "vw_config.h"

#define VW_API_MAX_BODY 65536

struct vw_api_reply {
	int status;   /* HTTP status */
	char *body;   /* JSON text, malloc'd; the caller frees it */
	bool changed; /* the state changed: persist it, then apply it */
	char ignored[200]; /* fields of the request that were ignored, as Go's JSON decoding did ("" : none) */
};

/* An empty state document. */
json_t *vw_api_state_new(void);
/* Checks a loaded state document against the file configuration: 0, or -EINVAL with the reason. */
int vw_api_state_check(const struct vw_config *base, const json_t *state, char *err, size_t errlen);

/* One HTTP request on /api/... (path without query). On a change, `state` is updated in place;
 * on an error it is untouched. Returns 0 (the reply says the outcome) or -ENOMEM. */
int vw_api_http(const struct vw_config *base, json_t *state, const char *method, const char *path, const char *body,
		size_t len, struct vw_api_reply *r);
/* One WS/JSON command, as vw's VW_API channel took them. `api_url` is the control channel's own
 * destination (protected: it cannot be deleted from the channel). */
int vw_api_command(const struct vw_config *base, json_t *state, const char *msg, size_t len, struct vw_api_reply *r);

/* Where a destination rule's `file` may write: inside `dir` ([control] dest_file_dir), a relative
 * path taken from there, an absolute one only inside it; no "..", no symbolic link on the way out
 * of it (the directory the file is in must exist), the file itself not a link or a directory.
 * 0 with the absolute path in out, or -EINVAL with the reason in why. */
int vw_api_file_path(const char *dir, const char *file, char *out, size_t n, char *why, size_t wn);

/* The configuration that runs: `base` with the rules applied. 0, or -EINVAL with the reason. */
int vw_api_effective(const struct vw_config *base, const json_t *state, struct vw_config *out, char *err,
		     size_t errlen);

#endif
