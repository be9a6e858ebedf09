/* vw_stallwatch: see vw_stallwatch.h. */
#include "vw_stallwatch.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void record(struct vw_stallwatch *w, int64_t from, int64_t to)
{
	pthread_mutex_lock(&w->lock);
	if (w->n == w->cap) {
		int cap = w->cap ? 2 * w->cap : 1024;
		struct vw_stall *s = realloc(w->stalls, (size_t)cap * sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&w->lock);
			return;
		}
		w->stalls = s;
		w->cap = cap;
	}
	w->stalls[w->n++] = (struct vw_stall){from, to};
	pthread_mutex_unlock(&w->lock);
}

static void *watch(void *arg)
{
	struct vw_stallwatch_cpu *me = arg;
	struct vw_stallwatch *w = me->w;
	struct sched_param sp = {.sched_priority = 10};
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(me->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0 ||
	    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0) {
		atomic_store(&me->ready, -1);
		return NULL;
	}
	atomic_store(&me->ready, 1);
	/* bounded: the owner stops it; 10 minutes at most regardless */
	int64_t due = mono_ns(), end = due + 600 * 1000000000LL;
	while (!atomic_load(&w->stop) && due < end) {
		due += 1000000;
		struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		int64_t now = mono_ns();
		if (now - due > w->min_ns) {
			record(w, due, now);
			due = now; /* the next tick from here, not a burst of catch-up ticks */
		}
	}
	return NULL;
}

int vw_stallwatch_start(struct vw_stallwatch *w, int64_t min_ns)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int ret = 0;

	memset(w, 0, sizeof(*w));
	w->min_ns = min_ns;
	w->ncpu = n < 1 ? 1 : n > VW_STALLWATCH_CPUS ? VW_STALLWATCH_CPUS : (int)n;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->lock, NULL);
	w->ok = true;
	for (int i = 0; i < w->ncpu; i++) {
		struct vw_stallwatch_cpu *me = &w->cpus[i];
		me->w = w;
		me->cpu = i;
		atomic_init(&me->ready, 0);
		if ((ret = -pthread_create(&w->thread[i], NULL, watch, me)) < 0) {
			w->ok = false;
			goto end;
		}
		w->nthreads++;
		for (int k = 0; k < 1000 && !atomic_load(&me->ready); k++)
			usleep(1000);
		if (atomic_load(&me->ready) != 1)
			w->ok = false;
	}
end:
	if (!w->ok) { /* all or nothing: a CPU left unwatched would hide its stalls */
		atomic_store(&w->stop, true);
		for (int i = 0; i < w->nthreads; i++)
			pthread_join(w->thread[i], NULL);
		w->nthreads = 0;
		w->n = 0;
	}
	return ret;
}

void vw_stallwatch_stop(struct vw_stallwatch *w)
{
	atomic_store(&w->stop, true);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->thread[i], NULL);
	w->nthreads = 0;
}

bool vw_stallwatch_hit(const struct vw_stallwatch *w, int64_t from_ns, int64_t to_ns)
{
	for (int i = 0; i < w->n; i++)
		if (w->stalls[i].from_ns < to_ns && w->stalls[i].to_ns > from_ns)
			return true;
	return false;
}

void vw_stallwatch_free(struct vw_stallwatch *w)
{
	free(w->stalls);
	w->stalls = NULL;
	w->n = w->cap = 0;
	pthread_mutex_destroy(&w->lock);
}
