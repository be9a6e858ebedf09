/* vw_util: see vw_util.h. */
#include "vw_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t vw_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * VW_NS_PER_SEC + ts.tv_nsec;
}

void vw_sleep_until(int64_t t_ns)
{
	struct timespec ts = {.tv_sec = t_ns / VW_NS_PER_SEC, .tv_nsec = t_ns % VW_NS_PER_SEC};
	if (t_ns <= 0)
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void vw_sleep_ns(int64_t ns)
{
	if (ns > 0)
		vw_sleep_until(vw_now_ns() + ns);
}

void vw_backoff_init(struct vw_backoff *b, int64_t initial_ns, int64_t max_ns, double jitter, uint64_t seed)
{
	b->initial_ns = initial_ns;
	b->max_ns = max_ns;
	b->jitter = jitter;
	b->attempt = 0;
	b->seed = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

/* xorshift64*: reproducible in tests, good enough to spread reconnects of many boxes */
static double unit_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (double)((*s * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

int64_t vw_backoff_next(struct vw_backoff *b)
{
	unsigned n = b->attempt++;
	double d;

	if (n == 0)
		return 0;
	d = (double)b->initial_ns;
	for (unsigned i = 1; i < n && d < (double)b->max_ns; i++)
		d *= 2;
	if (d > (double)b->max_ns)
		d = (double)b->max_ns;
	d *= 1.0 + b->jitter * (2.0 * unit_random(&b->seed) - 1.0);
	return (int64_t)d;
}

void vw_backoff_reset(struct vw_backoff *b)
{
	b->attempt = 0;
}

void vw_thread_name(unsigned long thread, const char *prefix, const char *name)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%s%s%s", prefix, *name ? ":" : "", name);
	pthread_setname_np((pthread_t)thread, buf);
}

size_t vw_strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);
	if (n) {
		size_t c = len < n - 1 ? len : n - 1;
		memcpy(dst, src, c);
		dst[c] = 0;
	}
	return len;
}

bool vw_secret_equal(const char *given, size_t given_len, const char *secret)
{
	size_t n = strlen(secret);
	unsigned diff = given_len != n;

	/* every byte of the secret is compared whatever matched before: the time taken says
	 * nothing about how much of a guess was right */
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned)(secret[i] ^ (i < given_len ? given[i] : 0));
	return diff == 0;
}
