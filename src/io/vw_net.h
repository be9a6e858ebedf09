/* vw_net: the libwebsockets event loop. Owns the lws context, the one thread that services it,
 * and the hand-off of work from other threads onto it: libwebsockets is single-threaded, so
 * anything that touches a connection runs there, queued with vw_net_call; the only call other
 * threads make into lws is lws_cancel_service (vw_net_wake). */
#ifndef VW_NET_H
#define VW_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vw_log.h"

struct lws_context;
struct lws_vhost;
struct lws_protocols;
struct vw_dest;

struct vw_net_job {
	void (*fn)(void *arg);
	void *arg;
	bool done;
	bool owned; /* posted: freed once run, nobody waits */
	struct vw_net_job *next;
};

struct vw_net {
	struct lws_context *ctx;
	struct lws_vhost *vhost; /* default client vhost: the system CA store */
	struct vw_log *log;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* job completion */
	struct vw_net_job *jobs;
	struct vw_dest *dests; /* service thread only */
	atomic_bool wake_pending; /* a wakeup is on its way: more would only cost syscalls */
	/* Runs on the service thread after every wakeup, once the coalescing flag is cleared, so
	 * the HTTP server's viewers never miss one (set before anything can wake us). */
	void (*on_wake)(void *opaque);
	void *wake_opaque;
};

int vw_net_start(struct vw_net *n, struct vw_log *log);
void vw_net_stop(struct vw_net *n);

/* Runs fn(arg) on the service thread and waits for it to return. Must not be called from the
 * service thread itself. */
int vw_net_call(struct vw_net *n, void (*fn)(void *), void *arg);
/* Runs fn(arg) on the service thread later, without waiting. -ESRCH when the loop is not
 * running (fn is then never called: the caller still owns arg). Safe from any thread. */
int vw_net_post(struct vw_net *n, void (*fn)(void *), void *arg);
/* The protocol table every client vhost of the context uses. */
const struct lws_protocols *vw_net_protocols(void);
/* Wakes the service thread (safe from any thread). Wakeups coalesce until the service thread has
 * taken the last one (vw_net_woken), so a chunk for 100 destinations costs one syscall. */
void vw_net_wake(struct vw_net *n);
void vw_net_woken(struct vw_net *n);

#endif
