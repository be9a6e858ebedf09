/* vw_net: see vw_net.h. */
#include "vw_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "vw_util.h"

/* Jobs and wakers run when lws reports the wakeup (LWS_CALLBACK_EVENT_WAIT_CANCELLED, which
 * reaches every protocol): this protocol, the first of the table, takes it. */
static void run_jobs(struct vw_net *n)
{
	struct vw_net_job *list;

	pthread_mutex_lock(&n->lock);
	list = n->jobs;
	n->jobs = NULL;
	pthread_mutex_unlock(&n->lock);
	/* oldest first: the list was built newest first */
	struct vw_net_job *rev = NULL;
	while (list) {
		struct vw_net_job *j = list;
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while (rev) {
		struct vw_net_job *j = rev;
		rev = j->next;
		j->fn(j->arg);
		if (j->owned) {
			free(j);
			continue;
		}
		pthread_mutex_lock(&n->lock);
		j->done = true;
		pthread_cond_broadcast(&n->cond);
		pthread_mutex_unlock(&n->lock);
	}
}

static int net_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
		/* lws asks the first protocol only: the connection's own protocol gives the verdict */
		const struct lws_protocols *p = wsi ? lws_get_protocol(wsi) : NULL;
		if (p && p->callback && p->callback != net_callback)
			return p->callback(wsi, reason, user, in, len);
		return 0;
	}
	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED) {
		struct vw_net *n = lws_context_user(lws_get_context(wsi));
		if (!n)
			return 0;
		run_jobs(n);
		/* before the wakers: data queued while they run wakes us again */
		atomic_store(&n->wake_pending, false);
		for (struct vw_net_waker *w = n->wakers, *next; w; w = next) {
			next = w->next; /* a waker may leave the list */
			w->wake(w);
		}
	}
	return 0;
}

const struct lws_protocols *vw_net_protocols(const struct vw_net *n)
{
	return n->protocols;
}

void vw_net_add_waker(struct vw_net *n, struct vw_net_waker *w)
{
	w->next = n->wakers;
	n->wakers = w;
}

void vw_net_remove_waker(struct vw_net *n, struct vw_net_waker *w)
{
	for (struct vw_net_waker **p = &n->wakers; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	w->next = NULL;
}

static void *service(void *arg)
{
	struct vw_net *n = arg;
	while (!atomic_load(&n->stop))
		lws_service(n->ctx, 0);
	return NULL;
}

int vw_net_start(struct vw_net *n, const struct lws_protocols *protocols, struct vw_log *log)
{
	struct lws_context_creation_info info;
	size_t count = 0;
	int ret;

	memset(n, 0, sizeof(*n));
	n->log = log;
	atomic_init(&n->stop, false);
	atomic_init(&n->wake_pending, false);
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	while (protocols && protocols[count].name)
		count++;
	/* ours first (it takes the wakeups and the certificate checks), theirs, the terminator */
	n->protocols = calloc(count + 2, sizeof(*n->protocols));
	if (!n->protocols) {
		ret = -ENOMEM;
		goto fail;
	}
	n->protocols[0] = (struct lws_protocols){.name = "vw-net", .callback = net_callback};
	if (count)
		memcpy(&n->protocols[1], protocols, count * sizeof(*protocols));

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = n->protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.user = n;
	info.timeout_secs = 10; /* connect and handshake */
	info.connect_timeout_secs = 10;
	/* lws stores a request head in its own layout (up to ~8 bytes more per header line): room for
	 * the 8 KiB / 100-line heads vw_http's front door lets through */
	info.max_http_header_data = 16384;
	n->ctx = lws_create_context(&info);
	if (!n->ctx) {
		ret = -ENOMEM;
		goto fail;
	}
	info.vhost_name = "client";
	n->vhost = lws_create_vhost(n->ctx, &info);
	if (!n->vhost) {
		ret = -EINVAL;
		goto fail_ctx;
	}
	ret = -pthread_create(&n->thread, NULL, service, n);
	if (ret < 0)
		goto fail_ctx;
	vw_thread_name(n->thread, "net", "");
	n->running = true;
	return 0;
fail_ctx:
	lws_context_destroy(n->ctx);
	n->ctx = NULL;
fail:
	free(n->protocols);
	n->protocols = NULL;
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	return ret;
}

void vw_net_wake(struct vw_net *n)
{
	if (n->ctx && !atomic_exchange(&n->wake_pending, true))
		lws_cancel_service(n->ctx);
}

int vw_net_call(struct vw_net *n, void (*fn)(void *), void *arg)
{
	struct vw_net_job job = {.fn = fn, .arg = arg};

	if (!n->running)
		return -ESRCH;
	pthread_mutex_lock(&n->lock);
	job.next = n->jobs;
	/* The job lives on this stack only until it is done, and this call waits for exactly that;
	 * the service thread reads job.next before running it and nothing after marking it done. */
	// cppcheck-suppress autoVariables
	n->jobs = &job;
	pthread_mutex_unlock(&n->lock);
	lws_cancel_service(n->ctx);
	pthread_mutex_lock(&n->lock);
	while (!job.done)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
	return 0;
}

int vw_net_post(struct vw_net *n, void (*fn)(void *), void *arg)
{
	struct vw_net_job *job;

	if (!n->running)
		return -ESRCH;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->fn = fn;
	job->arg = arg;
	job->owned = true;
	pthread_mutex_lock(&n->lock);
	job->next = n->jobs;
	n->jobs = job;
	pthread_mutex_unlock(&n->lock);
	lws_cancel_service(n->ctx);
	return 0;
}

void vw_net_stop(struct vw_net *n)
{
	if (!n->running)
		return;
	atomic_store(&n->stop, true);
	lws_cancel_service(n->ctx);
	pthread_join(n->thread, NULL);
	n->running = false;
	run_jobs(n); /* posted after the last wakeup: with the loop joined, this thread may run them */
	lws_context_destroy(n->ctx);
	n->ctx = NULL;
	free(n->protocols);
	n->protocols = NULL;
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
}
