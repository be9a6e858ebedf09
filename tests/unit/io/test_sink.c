/* The hub subscriber shared by destinations and viewers (io/vw_sink), without a loop: messages of
 * whole TS packets of at most VW_TS_CHUNK_MAX, text chunks whole, the wakeup flag, a restart at the
 * next keyframe, the end of the stream, and the queue bound from stream time. */
#include "vw_sink.h"
#include "vw_test.h"

#include <stdlib.h>
#include <string.h>

static void publish(struct vw_hub *hub, size_t len, uint32_t flags, uint8_t fill)
{
	uint8_t *data = malloc(len);
	memset(data, fill, len);
	struct vw_chunk *c = vw_chunk_new(data, len, flags, 0);
	free(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	vw_hub_publish(hub, c);
	vw_chunk_unref(c);
}

static void test_pure(void)
{
	CU_ASSERT_EQUAL(vw_sink_message_len(1), 0);
	CU_ASSERT_EQUAL(vw_sink_message_len(188), 188);
	CU_ASSERT_EQUAL(vw_sink_message_len(189), 188);
	CU_ASSERT_EQUAL(vw_sink_message_len(1000 * 188), VW_TS_CHUNK_MAX);
	CU_ASSERT_EQUAL(VW_TS_CHUNK_MAX % 188, 0);
	CU_ASSERT(VW_TS_CHUNK_MAX <= 65536); /* the protocols' tx_packet_size */
	CU_ASSERT_EQUAL(vw_sink_queue_bytes(0, 1000000000LL, 1000000), 125000); /* 1 s at 1 Mbit/s */
	CU_ASSERT_EQUAL(vw_sink_queue_bytes(0, 100000000LL, 1000000), 65536);  /* never below 64 KiB */
	CU_ASSERT_EQUAL(vw_sink_queue_bytes(1 << 20, 100000000LL, 1000000), 1 << 20);
}

static void test_messages(void)
{
	struct vw_net net;
	struct vw_hub hub;
	struct vw_sink s;
	struct vw_sink_msg m;
	size_t got = 0, lens[8];
	int n = 0;

	memset(&net, 0, sizeof(net)); /* no loop: a wakeup is only the flag */
	vw_hub_init(&hub, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(vw_sink_init(&s, &hub, 4 << 20, 0, &net), 0);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 0);
	publish(&hub, 100 * 188, 0, 1); /* before any keyframe: never seen */
	CU_ASSERT_FALSE(atomic_load(&s.pending));
	publish(&hub, 1000 * 188, VW_CHUNK_KEY, 2);
	CU_ASSERT_TRUE(atomic_load(&s.pending));
	s.waker.wake(&s.waker); /* with no connection to wake, it only takes the flag */
	CU_ASSERT_FALSE(atomic_load(&s.pending));
	while (n < 8 && vw_sink_next(&s, &m) == 1) {
		CU_ASSERT_FALSE(m.text);
		CU_ASSERT_EQUAL(m.data[0], 2);
		/* not taken yet: the same message again */
		struct vw_sink_msg again;
		CU_ASSERT_EQUAL(vw_sink_next(&s, &again), 1);
		CU_ASSERT_PTR_EQUAL(again.data, m.data);
		lens[n++] = m.len;
		got += m.len;
		vw_sink_sent(&s, &m);
	}
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(lens[0], VW_TS_CHUNK_MAX);
	CU_ASSERT_EQUAL(lens[1], VW_TS_CHUNK_MAX);
	CU_ASSERT_EQUAL(lens[2], (1000 - 2 * 348) * 188);
	CU_ASSERT_EQUAL(got, 1000 * 188);

	/* a text chunk (a control reply) is one message, whatever its length */
	publish(&hub, 50, VW_CHUNK_TEXT | VW_CHUNK_KEY, 't');
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	CU_ASSERT_TRUE(m.text);
	CU_ASSERT_EQUAL(m.len, 50);
	vw_sink_sent(&s, &m);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 0);

	/* a restart mid-chunk drops the rest and waits for the next keyframe */
	publish(&hub, 500 * 188, VW_CHUNK_KEY, 3);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	vw_sink_sent(&s, &m);
	vw_sink_restart(&s);
	publish(&hub, 10 * 188, 0, 4);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 0);
	publish(&hub, 10 * 188, VW_CHUNK_KEY, 5);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	CU_ASSERT_EQUAL(m.data[0], 5);
	CU_ASSERT_EQUAL(m.len, 10 * 188);
	vw_sink_sent(&s, &m);

	/* the end of the stream, once what is queued is out */
	publish(&hub, 188, 0, 6);
	vw_hub_close(&hub);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	vw_sink_sent(&s, &m);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), -1);
	vw_sink_fini(&s);
	vw_hub_destroy(&hub);
}

/* A /ws/ topic's messages (raw chunks): each goes whole, as one websocket message in fragments of at most
 * VW_TS_CHUNK_MAX when larger (never cut at TS packets), text or binary as sent, an empty one
 * too; what this subscriber itself sent is left out; a slow one loses what is queued, never a part
 * of a message. */
static void publish_msg(struct vw_hub *hub, size_t len, bool text, uint64_t origin, uint8_t fill)
{
	uint8_t *data = malloc(len + 1);
	memset(data, fill, len);
	struct vw_chunk *c = vw_chunk_new(data, len, VW_CHUNK_KEY | VW_CHUNK_RAW | (text ? VW_CHUNK_TEXT : 0), 0);
	free(data);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	c->origin = origin;
	vw_hub_publish(hub, c);
	vw_chunk_unref(c);
}

static void test_topic_messages(void)
{
	struct vw_net net;
	struct vw_hub hub;
	struct vw_sink s;
	struct vw_sink_msg m;

	memset(&net, 0, sizeof(net));
	vw_hub_init(&hub, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(vw_sink_init(&s, &hub, 4 << 20, 0, &net), 0);
	s.self = 42;
	publish_msg(&hub, 3, false, 7, 'a');           /* someone else's: whole, 3 bytes (not a TS packet) */
	publish_msg(&hub, 100, true, 42, 'x');         /* its own: never back */
	publish_msg(&hub, 0, true, 7, 'e');            /* an empty text message */
	publish_msg(&hub, 150000, false, 0, 'b');      /* a relay's 150 kB: three fragments */
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	CU_ASSERT_TRUE(!m.cont && !m.more && !m.text);
	CU_ASSERT_EQUAL(m.len, 3);
	CU_ASSERT_EQUAL(m.data[0], 'a');
	vw_sink_sent(&s, &m);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	CU_ASSERT_TRUE(!m.cont && !m.more && m.text);
	CU_ASSERT_EQUAL(m.len, 0);
	vw_sink_sent(&s, &m);
	size_t total = 0;
	int pieces = 0;
	bool firsts_ok = true;
	for (int guard = 0; guard < 10 && vw_sink_next(&s, &m) == 1; guard++) {
		firsts_ok &= m.cont == (pieces != 0) && !m.text && m.data[0] == 'b';
		CU_ASSERT(m.len <= VW_TS_CHUNK_MAX);
		total += m.len;
		pieces++;
		bool final = !m.more;
		vw_sink_sent(&s, &m);
		if (final)
			break;
	}
	CU_ASSERT_TRUE(firsts_ok);
	CU_ASSERT_EQUAL(pieces, 3);
	CU_ASSERT_EQUAL(total, 150000);
	/* a text message larger than one write: text fragments, not cut to one */
	publish_msg(&hub, 100000, true, 7, 't');
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	CU_ASSERT_TRUE(m.text && !m.cont && m.more);
	vw_sink_sent(&s, &m);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 1);
	CU_ASSERT_TRUE(m.text && m.cont && !m.more);
	CU_ASSERT_EQUAL(m.len, 100000 - VW_TS_CHUNK_MAX);
	vw_sink_sent(&s, &m);
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 0);

	/* over the bound (raw messages: at least VW_HUB_RAW_QUEUE_MIN): what was queued goes, whole
	 * messages only, and the newest is kept */
	vw_sink_fini(&s);
	CU_ASSERT_EQUAL_FATAL(vw_sink_init(&s, &hub, 1000, 0, &net), 0);
	for (int i = 0; i < 6; i++)
		publish_msg(&hub, 1000000, false, 7, (uint8_t)('0' + i));
	for (int want = '4'; want <= '5'; want++) {
		size_t got = 0;
		for (int guard = 0; guard < 40 && vw_sink_next(&s, &m) == 1; guard++) {
			CU_ASSERT_EQUAL(m.data[0], want);
			got += m.len;
			bool last = !m.more;
			vw_sink_sent(&s, &m);
			if (last)
				break;
		}
		CU_ASSERT_EQUAL(got, 1000000);
	}
	CU_ASSERT_EQUAL(vw_sink_next(&s, &m), 0);
	vw_sink_fini(&s);
	vw_hub_destroy(&hub);
}

VW_TEST_SUITE("sink", NULL,
	      {"pure", test_pure},
	      {"messages", test_messages},
	      {"topic_messages", test_topic_messages})
