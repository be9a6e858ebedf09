/* vw_devwatch: notices device nodes appearing, disappearing or changing, so a capture thread
 * waiting for an unplugged camera or microphone retries the moment udev (or the kernel's devtmpfs)
 * makes the node, instead of at its next periodic retry. Owns one inotify descriptor per watcher
 * and the watches on the nearest existing ancestor directory of each watched path; the watches are
 * re-armed whenever a directory on the way appears or goes (/dev/v4l/by-id exists only while a
 * camera is plugged in). A watcher that cannot use inotify is inert: waits just sleep, and the
 * caller's periodic retry is the fallback. One thread per watcher; no global state. */
#ifndef VW_DEVWATCH_H
#define VW_DEVWATCH_H

#include <stdbool.h>
#include <stdint.h>

#define VW_DEVWATCH_PATHS 4
#define VW_DEVWATCH_PATH_MAX 1024

struct vw_devwatch {
	int fd; /* inotify, or -1: inert */
	int n;
	struct {
		/* The path; its last component may end in '*' ("/dev/video*": any node of that prefix). */
		char path[VW_DEVWATCH_PATH_MAX];
		int wd;          /* watch on `dir`, or -1 */
		char dir[VW_DEVWATCH_PATH_MAX];
		char next[256];  /* the component of `path` right below `dir` */
		bool last;       /* `next` is the path's last component */
	} w[VW_DEVWATCH_PATHS];
};

/* Watches up to VW_DEVWATCH_PATHS absolute paths (NULL-terminated list). Never fails: without
 * inotify the watcher is inert. */
void vw_devwatch_open(struct vw_devwatch *w, const char *const *paths);
/* Waits up to timeout_ns for a change to a watched path: 1 when one happened (a node appeared,
 * went or changed attributes, or a directory on the way did), 0 when the time ran out. */
int vw_devwatch_wait(struct vw_devwatch *w, int64_t timeout_ns);
void vw_devwatch_close(struct vw_devwatch *w);

/* Pure: whether directory entry `name` is `pattern` (or, when pattern ends in '*', starts with
 * the part before it). Exposed for tests. */
bool vw_devwatch_match(const char *pattern, const char *name);

#endif
