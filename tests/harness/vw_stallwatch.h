/* vw_stallwatch: tells when the machine itself stopped running us. One thread per CPU, pinned to
 * it at real-time priority (SCHED_FIFO, so nothing in this machine delays it but the kernel with
 * interrupts off), wakes every millisecond and records each wake-up later than `min_ns` as a
 * stall [due, woke]. On a virtual machine those are the moments the hypervisor did not run that
 * CPU (measured here: 2-25 ms late, a few hundred times a minute per CPU, with nothing else
 * running); a latency test can leave out what such a moment overlaps instead of failing on
 * it. Without the right to real-time priority it watches nothing and says so (`ok` false): a
 * normal-priority thread's lateness would include the load under test. */
#ifndef VW_STALLWATCH_H
#define VW_STALLWATCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define VW_STALLWATCH_CPUS 16

struct vw_stall {
	int64_t from_ns, to_ns; /* CLOCK_MONOTONIC */
};

struct vw_stallwatch;
struct vw_stallwatch_cpu {
	struct vw_stallwatch *w;
	int cpu;
	atomic_int ready; /* 1 watching, -1 could not */
};

struct vw_stallwatch {
	bool ok; /* every CPU watched at real-time priority */
	int ncpu, nthreads;
	int64_t min_ns;
	atomic_bool stop;
	pthread_t thread[VW_STALLWATCH_CPUS];
	struct vw_stallwatch_cpu cpus[VW_STALLWATCH_CPUS];
	pthread_mutex_t lock;
	struct vw_stall *stalls;
	int n, cap;
};

/* 0 or -errno; w->ok says whether it watches. Stop it with vw_stallwatch_stop in every case. */
int vw_stallwatch_start(struct vw_stallwatch *w, int64_t min_ns);
void vw_stallwatch_stop(struct vw_stallwatch *w);
/* Whether [from, to] overlaps a recorded stall. */
bool vw_stallwatch_hit(const struct vw_stallwatch *w, int64_t from_ns, int64_t to_ns);
void vw_stallwatch_free(struct vw_stallwatch *w);

#endif
