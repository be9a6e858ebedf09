/* vw_util: the one clock (CLOCK_MONOTONIC in nanoseconds), sleeping, and the retry backoff
 * schedule shared by every component that reconnects or reopens something. */
#ifndef VW_UTIL_H
#define VW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_NS_PER_SEC 1000000000LL
#define VW_NS_PER_MS 1000000LL

int64_t vw_now_ns(void);
/* Sleeps until the monotonic time `t_ns` (restarting after signals). */
void vw_sleep_until(int64_t t_ns);
void vw_sleep_ns(int64_t ns);

/* Exponential backoff with jitter: the first retry is immediate, then `initial` doubling up to
 * `max`, each scaled by a factor in [1 - jitter, 1 + jitter] drawn from *seed. */
struct vw_backoff {
	int64_t initial_ns, max_ns;
	double jitter;
	unsigned attempt;
	uint64_t seed;
};

void vw_backoff_init(struct vw_backoff *b, int64_t initial_ns, int64_t max_ns, double jitter, uint64_t seed);
/* Delay before the next attempt; advances the schedule. */
int64_t vw_backoff_next(struct vw_backoff *b);
void vw_backoff_reset(struct vw_backoff *b);

/* Names a thread "prefix:name" (cut to the kernel's 15 characters) so top -H, perf and the
 * journal's stack traces say which feed, stream or recorder it serves. */
void vw_thread_name(unsigned long thread, const char *prefix, const char *name);

/* Copies src into dst (size n), always terminating; returns strlen(src) like strlcpy. */
size_t vw_strlcpy(char *dst, const char *src, size_t n);
/* Compares a presented token with the secret in time that depends only on the secret's length. */
bool vw_secret_equal(const char *given, size_t given_len, const char *secret);

#endif
