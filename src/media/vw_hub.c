/* vw_hub: see vw_hub.h. */
#include "vw_hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vw_util.h"

struct vw_chunk *vw_chunk_new(const void *data, size_t len, uint32_t flags, int64_t capture_ns)
{
	struct vw_chunk *c = malloc(sizeof(*c) + len);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->flags = flags;
	c->capture_ns = capture_ns;
	c->publish_ns = 0;
	c->origin = 0;
	c->len = len;
	if (len)
		memcpy(c->data, data, len);
	return c;
}

struct vw_chunk *vw_chunk_ref(struct vw_chunk *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void vw_chunk_unref(struct vw_chunk *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		free(c);
}

int vw_hub_init(struct vw_hub *hub, vw_hub_key_fn want_key, void *key_opaque)
{
	memset(hub, 0, sizeof(*hub));
	hub->want_key = want_key;
	hub->key_opaque = key_opaque;
	return -pthread_mutex_init(&hub->lock, NULL);
}

void vw_hub_destroy(struct vw_hub *hub)
{
	pthread_mutex_destroy(&hub->lock);
}

static void ask_key(struct vw_hub *hub)
{
	if (hub->want_key)
		hub->want_key(hub->key_opaque);
}

static void sub_clear(struct vw_sub *sub)
{
	while (sub->count) {
		vw_chunk_unref(sub->ring[sub->head]);
		sub->head = (sub->head + 1) % sub->cap;
		sub->count--;
	}
	sub->head = 0;
	sub->bytes = 0;
}

static int sub_push(struct vw_sub *sub, struct vw_chunk *c)
{
	if (sub->count == sub->cap) {
		size_t ncap = sub->cap ? sub->cap * 2 : 64;
		struct vw_chunk **r = malloc(ncap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		for (size_t i = 0; i < sub->count; i++)
			r[i] = sub->ring[(sub->head + i) % sub->cap];
		free(sub->ring);
		sub->ring = r;
		sub->cap = ncap;
		sub->head = 0;
	}
	sub->ring[(sub->head + sub->count) % sub->cap] = vw_chunk_ref(c);
	sub->count++;
	sub->bytes += c->len;
	return 0;
}

static bool over_bound(const struct vw_sub *sub, const struct vw_chunk *c)
{
	if (sub->count == 0)
		return false; /* an empty queue takes any chunk, however large: never starve */
	size_t limit = sub->limit;
	if ((c->flags & VW_CHUNK_RAW) && limit < VW_HUB_RAW_QUEUE_MIN)
		limit = VW_HUB_RAW_QUEUE_MIN;
	if (sub->bytes + c->len > limit)
		return true;
	return sub->max_age_ns > 0 && c->publish_ns - sub->ring[sub->head]->publish_ns > sub->max_age_ns;
}

/* The whole policy, for one subscriber and one chunk. */
static void offer(struct vw_hub *hub, struct vw_sub *sub, struct vw_chunk *c)
{
	bool key = c->flags & VW_CHUNK_KEY;

	if (over_bound(sub, c)) {
		/* Overflow: what is queued is stale, so it goes with this chunk, and the consumer
		 * resumes at the next keyframe, which is asked for now. It never sees a frame whose
		 * references it lacks, and it catches up with the present. */
		sub->st.overflows++;
		if (sub->consuming) {
			sub->st.dropped_chunks += sub->count + (key ? 0 : 1);
			sub->st.dropped_bytes += sub->bytes + (key ? 0 : c->len);
		}
		sub_clear(sub);
		sub->want_key = true;
		if (!key)
			ask_key(hub);
	}
	if (sub->want_key && !key)
		return; /* waiting to start (or restart) at a keyframe */
	if (sub_push(sub, c) < 0) {
		sub->st.dropped_chunks++;
		sub->st.dropped_bytes += c->len;
		sub->want_key = true;
		ask_key(hub);
		return;
	}
	sub->want_key = false;
	if (sub->bytes > sub->st.max_queued_bytes)
		sub->st.max_queued_bytes = sub->bytes;
	if (sub->notify)
		sub->notify(sub->opaque);
}

void vw_hub_publish(struct vw_hub *hub, struct vw_chunk *chunk)
{
	pthread_mutex_lock(&hub->lock);
	chunk->publish_ns = vw_now_ns();
	hub->chunks++;
	hub->bytes += chunk->len;
	if (chunk->flags & VW_CHUNK_KEY)
		hub->key_chunks++;
	for (struct vw_sub *s = hub->subs; s; s = s->next) {
		bool was_waiting = s->want_key;
		offer(hub, s, chunk);
		/* Chunks skipped while waiting for a keyframe after an overflow count as dropped. */
		if (was_waiting && s->want_key && s->consuming) {
			s->st.dropped_chunks++;
			s->st.dropped_bytes += chunk->len;
		}
	}
	pthread_mutex_unlock(&hub->lock);
}

void vw_hub_request_key(struct vw_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	ask_key(hub);
	pthread_mutex_unlock(&hub->lock);
}

void vw_hub_close(struct vw_hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	hub->closed = true;
	for (struct vw_sub *s = hub->subs; s; s = s->next)
		if (s->notify)
			s->notify(s->opaque);
	pthread_mutex_unlock(&hub->lock);
}

int vw_sub_init(struct vw_sub *sub, struct vw_hub *hub, size_t limit, int64_t max_age_ns, vw_sub_notify_fn notify,
		void *opaque)
{
	memset(sub, 0, sizeof(*sub));
	sub->hub = hub;
	sub->limit = limit;
	sub->max_age_ns = max_age_ns;
	sub->notify = notify;
	sub->opaque = opaque;
	sub->want_key = true;
	pthread_mutex_lock(&hub->lock);
	sub->next = hub->subs;
	hub->subs = sub;
	hub->n_subs++;
	ask_key(hub);
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

void vw_sub_fini(struct vw_sub *sub)
{
	struct vw_hub *hub = sub->hub;

	if (!hub)
		return;
	pthread_mutex_lock(&hub->lock);
	for (struct vw_sub **p = &hub->subs; *p; p = &(*p)->next) {
		if (*p == sub) {
			*p = sub->next;
			hub->n_subs--;
			break;
		}
	}
	sub_clear(sub);
	pthread_mutex_unlock(&hub->lock);
	free(sub->ring);
	sub->ring = NULL;
	sub->cap = 0;
	sub->hub = NULL;
}

struct vw_chunk *vw_sub_pop(struct vw_sub *sub, bool *eos)
{
	struct vw_chunk *c = NULL;
	struct vw_hub *hub = sub->hub;

	pthread_mutex_lock(&hub->lock);
	if (sub->count) {
		c = sub->ring[sub->head];
		sub->head = (sub->head + 1) % sub->cap;
		sub->count--;
		sub->bytes -= c->len;
		sub->st.chunks++;
		sub->st.bytes += c->len;
		sub->consuming = true;
	}
	if (eos)
		*eos = !c && hub->closed;
	pthread_mutex_unlock(&hub->lock);
	return c;
}

void vw_sub_resync(struct vw_sub *sub)
{
	struct vw_hub *hub = sub->hub;

	pthread_mutex_lock(&hub->lock);
	if (sub->consuming) { /* what a consumer never started on was not lost to it */
		sub->st.dropped_chunks += sub->count;
		sub->st.dropped_bytes += sub->bytes;
	}
	sub->consuming = false;
	sub_clear(sub);
	sub->want_key = true;
	ask_key(hub);
	pthread_mutex_unlock(&hub->lock);
}

void vw_sub_get_stats(struct vw_sub *sub, struct vw_sub_stats *st)
{
	pthread_mutex_lock(&sub->hub->lock);
	*st = sub->st;
	st->queued_chunks = sub->count;
	st->queued_bytes = sub->bytes;
	pthread_mutex_unlock(&sub->hub->lock);
}

void vw_hub_get_stats(struct vw_hub *hub, struct vw_hub_stats *st)
{
	pthread_mutex_lock(&hub->lock);
	st->chunks = hub->chunks;
	st->bytes = hub->bytes;
	st->key_chunks = hub->key_chunks;
	st->subs = hub->n_subs;
	pthread_mutex_unlock(&hub->lock);
}
