/* vw_rate: the rate meter behind every "per second" figure in the status (a feed's fps, an
 * encoder's and an ingest's bitrate). Owns nothing but its window: events are counted, and at the
 * end of each window the rate becomes that window's events per second. Pure: time is passed in.
 * Not locked: the owner serialises its use. */
#ifndef VW_RATE_H
#define VW_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct vw_rate {
	int64_t window_ns; /* set by the owner (vw_rate_init) */
	bool started;
	int64_t start_ns; /* the window opened with the first event seen, which it does not count */
	uint64_t count;   /* events since start_ns */
	double per_sec;   /* the last full window's rate; 0 until one has passed */
};

void vw_rate_init(struct vw_rate *r, int64_t window_ns);

/* Counts n events at now_ns (n may be 0: a clock tick that only closes a window). Returns true
 * when a window closed and per_sec changed. */
bool vw_rate_add(struct vw_rate *r, uint64_t n, int64_t now_ns);

#endif
