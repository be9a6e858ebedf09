/* vw_net: the libwebsockets event loop. Owns the lws context, the one thread that services it,
 * and the hand-off of work from other threads onto it: libwebsockets is single-threaded, so
 * anything that touches a connection runs there, queued with vw_net_call; the only call other
 * threads make into lws is lws_cancel_service (vw_net_wake). It knows none of its parties: their
 * client protocols come from above when the loop starts, and whoever has data for a connection
 * registers a waker, which the loop calls after every wakeup. */
#ifndef VW_NET_H
#define VW_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vw_log.h"

struct lws_context;
struct lws_vhost;
struct lws_protocols;

struct vw_net_job {
	void (*fn)(void *arg);
	void *arg;
	bool done;
	bool owned; /* posted: freed once run, nobody waits */
	struct vw_net_job *next;
};

/* Something served on the loop that other threads wake (a hub subscriber with a connection). */
struct vw_net_waker {
	void (*wake)(struct vw_net_waker *w); /* service thread, after every wakeup; must not block */
	struct vw_net_waker *next;            /* vw_net's list, service thread only */
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
	struct lws_protocols *protocols; /* vw_net's own first, then the parties' */
	struct vw_net_waker *wakers; /* service thread only */
	atomic_bool wake_pending; /* a wakeup is on its way: more would only cost syscalls */
};

/* Starts the loop. `protocols` (NULL-terminated by a NULL name, may be NULL) are the client
 * protocols of the parties above (destinations), on every client vhost; they are copied.
 * Certificate verification, which lws reports to the first protocol only, is passed on to the
 * protocol of the connection it concerns. */
int vw_net_start(struct vw_net *n, const struct lws_protocols *protocols, struct vw_log *log);
void vw_net_stop(struct vw_net *n);

/* Runs fn(arg) on the service thread and waits for it to return. Must not be called from the
 * service thread itself. */
int vw_net_call(struct vw_net *n, void (*fn)(void *), void *arg);
/* Runs fn(arg) on the service thread later, without waiting. -ESRCH when the loop is not
 * running (fn is then never called: the caller still owns arg). Safe from any thread. */
int vw_net_post(struct vw_net *n, void (*fn)(void *), void *arg);
/* The protocol table every client vhost of the context uses. */
const struct lws_protocols *vw_net_protocols(const struct vw_net *n);
/* Wakes the service thread (safe from any thread). Wakeups coalesce until the service thread has
 * taken the last one, so a chunk for 100 destinations costs one syscall; then every waker runs. */
void vw_net_wake(struct vw_net *n);
/* Service thread only: w is called after every wakeup from now on / no more. */
void vw_net_add_waker(struct vw_net *n, struct vw_net_waker *w);
void vw_net_remove_waker(struct vw_net *n, struct vw_net_waker *w);

#endif
