/* vw_sink: see vw_sink.h. */
#include "vw_sink.h"

#include <libwebsockets.h>

#define MIN_QUEUE 65536

size_t vw_sink_queue_bytes(size_t bytes, int64_t ns, int64_t bitrate)
{
	size_t limit = bytes ? bytes : (size_t)(ns / 1000000 * (bitrate / 8) / 1000);
	return limit < MIN_QUEUE ? MIN_QUEUE : limit;
}

size_t vw_sink_message_len(size_t remaining)
{
	size_t n = remaining < VW_TS_CHUNK_MAX ? remaining : VW_TS_CHUNK_MAX;
	return n - n % VW_TS_PACKET;
}

static void notify(void *opaque)
{
	struct vw_sink *s = opaque;
	/* under the hub lock: only flag and wake; the service thread does the rest */
	if (!atomic_exchange(&s->pending, true))
		vw_net_wake(s->net);
}

static void wake(struct vw_net_waker *w)
{
	struct vw_sink *s = lws_container_of(w, struct vw_sink, waker);
	if (atomic_exchange(&s->pending, false) && s->wsi)
		lws_callback_on_writable(s->wsi);
}

int vw_sink_init(struct vw_sink *s, struct vw_hub *hub, size_t limit, int64_t max_age_ns, struct vw_net *net)
{
	s->net = net;
	s->waker = (struct vw_net_waker){.wake = wake};
	s->on_loop = false;
	s->wsi = NULL;
	s->cur = NULL;
	s->cur_off = 0;
	s->skip_raw = false;
	s->self = 0;
	s->skipped = 0;
	atomic_init(&s->pending, false);
	return vw_sub_init(&s->sub, hub, limit, max_age_ns, notify, s);
}

void vw_sink_join(struct vw_sink *s)
{
	if (!s->on_loop) {
		vw_net_add_waker(s->net, &s->waker);
		s->on_loop = true;
	}
}

void vw_sink_leave(struct vw_sink *s)
{
	if (s->on_loop) {
		vw_net_remove_waker(s->net, &s->waker);
		s->on_loop = false;
	}
	s->wsi = NULL;
}

void vw_sink_drop_current(struct vw_sink *s)
{
	vw_chunk_unref(s->cur);
	s->cur = NULL;
	s->cur_off = 0;
}

void vw_sink_fini(struct vw_sink *s)
{
	vw_sub_fini(&s->sub);
	vw_sink_drop_current(s);
}

int vw_sink_next(struct vw_sink *s, struct vw_sink_msg *m)
{
	bool eos = false;

	while (!s->cur) {
		s->cur = vw_sub_pop(&s->sub, &eos);
		s->cur_off = 0;
		if (!s->cur)
			return eos ? -1 : 0;
		if ((s->skip_raw && (s->cur->flags & VW_CHUNK_RAW)) ||
		    (s->self && s->cur->origin == s->self)) { /* a TS player; what this connection sent */
			vw_sink_drop_current(s);
			s->skipped++;
		}
	}
	m->text = (s->cur->flags & VW_CHUNK_TEXT) != 0;
	m->data = s->cur->data + s->cur_off;
	m->cont = m->more = false;
	if (s->cur->flags & VW_CHUNK_RAW) { /* one message, whatever its size or kind: in fragments */
		size_t left = s->cur->len - s->cur_off;
		m->len = left < VW_TS_CHUNK_MAX ? left : VW_TS_CHUNK_MAX;
		m->cont = s->cur_off > 0;
		m->more = m->len < left;
	} else if (m->text) { /* a control reply: one text message, whole */
		m->len = s->cur->len < VW_TS_CHUNK_MAX ? s->cur->len : VW_TS_CHUNK_MAX;
	} else {
		m->len = vw_sink_message_len(s->cur->len - s->cur_off);
	}
	return 1;
}

bool vw_sink_mid_message(const struct vw_sink *s)
{
	return s->cur && s->cur_off > 0 && (s->cur->flags & VW_CHUNK_RAW);
}

void vw_sink_sent(struct vw_sink *s, const struct vw_sink_msg *m)
{
	if (!s->cur)
		return;
	s->cur_off += m->len;
	if (s->cur->flags & VW_CHUNK_RAW) {
		if (!m->more)
			vw_sink_drop_current(s);
		return;
	}
	if (m->text || m->len == 0 || s->cur_off >= s->cur->len) /* len 0: a torn packet at the end */
		vw_sink_drop_current(s);
}

void vw_sink_restart(struct vw_sink *s)
{
	vw_sink_drop_current(s);
	vw_sub_resync(&s->sub);
}
