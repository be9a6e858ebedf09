/* The Node relay of the tests (tests/relay/relay.js, on the ws package): a websocket server on
 * 127.0.0.1 that vw's destinations dial, written by others than vw's own websocket code. It
 * records what it receives to `out` and says each event as one JSON line in `log`. */
#ifndef VW_TESTRELAY_H
#define VW_TESTRELAY_H

#include <stdbool.h>
#include <sys/types.h>

struct vw_testrelay {
	pid_t pid;
	int port;
	char out[700], log[700];
};

/* node relay.js --port FREE --out DIR/TAG.bin --mode MODE [extra...] (extra: more "--key", "value"
 * pairs, NULL-terminated, may be NULL); waits up to 5 s for it to listen. 0 or -errno. */
int vw_testrelay_start(struct vw_testrelay *r, const char *dir, const char *tag, const char *mode,
                       const char *const extra[]);
/* SIGTERM and a bounded wait. */
void vw_testrelay_stop(struct vw_testrelay *r);
/* Events of the relay so far whose JSON line holds `needle` (e.g. "\"authorised\""). */
int vw_testrelay_count(const struct vw_testrelay *r, const char *needle);

#endif
