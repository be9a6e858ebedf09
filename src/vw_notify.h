/* vw_notify: vw as seen by its service manager. Owns the sd_notify messages (READY once streaming
 * is set up, STATUS, STOPPING) and the watchdog's pacing: systemd asks for pings with
 * WatchdogSec= (WATCHDOG_USEC in our environment) and vw pings at half that interval, so one late
 * wake-up of the main loop is not yet a missed deadline. Outside systemd (no NOTIFY_SOCKET, no
 * WATCHDOG_USEC) every call does nothing. The object is owned by main.c; no global state. */
#ifndef VW_NOTIFY_H
#define VW_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

struct vw_notify {
	int64_t watchdog_ns;  /* the interval systemd expects pings within; 0: no watchdog */
	int64_t last_ping_ns; /* CLOCK_MONOTONIC of the last ping (or of init) */
	bool ready;           /* READY=1 was sent */
};

/* Reads the watchdog interval from the environment (sd_watchdog_enabled: only when WATCHDOG_PID,
 * if set, is this process). `now_ns` is CLOCK_MONOTONIC. */
void vw_notify_init(struct vw_notify *n, int64_t now_ns);

/* Pure: whether a ping is due at `now_ns` (half the interval since the last one has passed). */
bool vw_notify_watchdog_due(const struct vw_notify *n, int64_t now_ns);

/* READY=1 with a status line; sent once, later calls only update the status. */
void vw_notify_ready(struct vw_notify *n, const char *status);
/* WATCHDOG=1 when due (call as often as you like, e.g. at every wake-up of the main loop). Returns
 * true when a ping was sent. */
bool vw_notify_watchdog(struct vw_notify *n, int64_t now_ns);
void vw_notify_stopping(struct vw_notify *n);
/* STATUS=... (printf format): the one-line state `systemctl status vw` shows. */
void vw_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
