/* vw_devwatch: see vw_devwatch.h.
 *
 * inotify cannot watch a path that does not exist yet, so each path is watched through the
 * nearest directory above it that does; when the next directory down appears (or a watched one
 * goes), everything is re-armed from scratch on a new descriptor. Re-arming is rare (a plug or an
 * unplug) and starting over is simpler than patching watches, and it keeps one descriptor. */
#include "vw_devwatch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WATCH_MASK                                                                                            \
	(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |   \
	 IN_ONLYDIR)

bool vw_devwatch_match(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);
	if (n && pattern[n - 1] == '*')
		return strncmp(pattern, name, n - 1) == 0;
	return strcmp(pattern, name) == 0;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finds the nearest existing directory above the watched path and the component below it. */
static void locate(struct vw_devwatch *w, int i)
{
	char dir[VW_DEVWATCH_PATH_MAX], *slash;
	const char *path = w->w[i].path;

	snprintf(dir, sizeof(dir), "%s", path);
	w->w[i].last = true;
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		snprintf(w->w[i].next, sizeof(w->w[i].next), "%s", slash + 1);
		if (slash == dir)
			slash[1] = 0; /* the root */
		else
			*slash = 0;
		if (is_dir(dir))
			break;
		w->w[i].last = false;
		if (slash == dir)
			break;
	}
	snprintf(w->w[i].dir, sizeof(w->w[i].dir), "%s", dir);
}

static void arm(struct vw_devwatch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	for (int i = 0; i < w->n; i++) {
		w->w[i].wd = -1;
		if (w->fd < 0)
			continue;
		locate(w, i);
		w->w[i].wd = inotify_add_watch(w->fd, w->w[i].dir, WATCH_MASK);
	}
}

void vw_devwatch_open(struct vw_devwatch *w, const char *const *paths)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	for (; paths && *paths && w->n < VW_DEVWATCH_PATHS; paths++)
		if ((*paths)[0] == '/' && strlen(*paths) < VW_DEVWATCH_PATH_MAX)
			snprintf(w->w[w->n++].path, VW_DEVWATCH_PATH_MAX, "%s", *paths);
	if (w->n)
		arm(w);
}

void vw_devwatch_close(struct vw_devwatch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->n = 0;
}

static bool relevant(const struct vw_devwatch *w, const struct inotify_event *ev)
{
	if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED))
		return true;
	for (int i = 0; i < w->n; i++) {
		if (w->w[i].wd != ev->wd)
			continue;
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF))
			return true;
		if (ev->len && (w->w[i].last ? vw_devwatch_match(w->w[i].next, ev->name) : !strcmp(w->w[i].next, ev->name)))
			return true;
	}
	return false;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int vw_devwatch_wait(struct vw_devwatch *w, int64_t timeout_ns)
{
	int64_t deadline = now_ns() + timeout_ns;
	/* aligned for struct inotify_event; room for several events with names */
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		int64_t left = deadline - now_ns();
		if (left <= 0)
			return 0;
		if (w->fd < 0) {
			struct timespec ts = {left / 1000000000, left % 1000000000};
			nanosleep(&ts, NULL);
			return 0;
		}
		struct pollfd p = {.fd = w->fd, .events = POLLIN};
		int r = poll(&p, 1, (int)((left + 999999) / 1000000));
		if (r < 0 && errno != EINTR)
			return 0;
		if (r <= 0)
			continue;
		ssize_t len = read(w->fd, buf, sizeof(buf));
		if (len <= 0)
			continue;
		bool hit = false;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= len;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
			hit = hit || relevant(w, ev);
			off += (ssize_t)sizeof(*ev) + ev->len;
		}
		if (hit) {
			arm(w); /* a directory on the way may have come or gone */
			return 1;
		}
	}
}
