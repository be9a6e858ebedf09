/* vw_rate: see vw_rate.h. */
#include "vw_rate.h"

void vw_rate_init(struct vw_rate *r, int64_t window_ns)
{
	*r = (struct vw_rate){.window_ns = window_ns};
}

bool vw_rate_add(struct vw_rate *r, uint64_t n, int64_t now_ns)
{
	/* The first event only opens the window: n events over an interval are the ones after its
	 * start, so counting it too would overstate the first window. */
	if (!r->started) {
		r->started = true;
		r->start_ns = now_ns;
		r->count = 0;
		return false;
	}
	r->count += n;
	if (now_ns - r->start_ns < r->window_ns || now_ns <= r->start_ns) /* no time: no rate */
		return false;
	r->per_sec = (double)r->count * 1e9 / (double)(now_ns - r->start_ns);
	r->start_ns = now_ns;
	r->count = 0;
	return true;
}
