/* vw_parse: the value syntax and name rules shared by the configuration file and the API (sizes,
 * bit rates, durations, byte counts, booleans, integers, listen addresses, names) and the length
 * limits of names, paths and tokens. Pure. Every parser returns 0 or -EINVAL. */
#ifndef VW_PARSE_H
#define VW_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_TOKEN_MAX 1024
#define VW_NAME_MAX 128
#define VW_PATH_MAX 1024

int vw_parse_size(const char *s, int *w, int *h);     /* "640x480", even width */
int vw_parse_bitrate(const char *s, int64_t *bps);    /* "1000k", "2M", "128000" (SI) */
int vw_parse_duration(const char *s, int64_t *ns);    /* "60s", "500ms", "5m", "1h" */
int vw_parse_bytes(const char *s, uint64_t *bytes);   /* "1G", "500M", "64k" (binary) */
int vw_parse_bool(const char *s, bool *b);            /* yes/no, true/false, on/off, 1/0 */
int vw_parse_int(const char *s, long min, long max, long *v);
bool vw_name_valid(const char *s, bool allow_slash); /* letters, digits, '-', '_' (and '/') */
int vw_parse_listen(const char *s, char *host, size_t hostlen, int *port); /* "host:port", "[v6]:port" */

/* The candidate closest to `word` by edit distance (insertions, deletions, substitutions; case
 * ignored), or NULL when none is within max(2, strlen(word) / 3) edits: for "did you mean ...?"
 * in error messages. */
const char *vw_nearest(const char *word, const char *const *candidates, size_t n);

#endif
