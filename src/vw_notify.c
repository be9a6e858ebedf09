/* vw_notify: sd_notify messages and watchdog pacing (see vw_notify.h). */
#include "vw_notify.h"

#include <stdarg.h>
#include <stdio.h>

#include <systemd/sd-daemon.h>

#define NS_PER_USEC 1000

void vw_notify_init(struct vw_notify *n, int64_t now_ns)
{
	uint64_t usec = 0;

	n->watchdog_ns = 0;
	n->last_ping_ns = now_ns;
	n->ready = false;
	/* keep the variables: the API's status and child processes are none of libsystemd's business */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0 && usec < (uint64_t)INT64_MAX / NS_PER_USEC)
		n->watchdog_ns = (int64_t)usec * NS_PER_USEC;
}

bool vw_notify_watchdog_due(const struct vw_notify *n, int64_t now_ns)
{
	return n->watchdog_ns > 0 && now_ns - n->last_ping_ns >= n->watchdog_ns / 2;
}

void vw_notify_ready(struct vw_notify *n, const char *status)
{
	if (!n->ready)
		sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	else
		sd_notifyf(0, "STATUS=%s", status);
	n->ready = true;
}

bool vw_notify_watchdog(struct vw_notify *n, int64_t now_ns)
{
	if (!vw_notify_watchdog_due(n, now_ns))
		return false;
	n->last_ping_ns = now_ns;
	return sd_notify(0, "WATCHDOG=1") > 0;
}

void vw_notify_stopping(struct vw_notify *n)
{
	(void)n;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void vw_notify_status(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", line);
}
