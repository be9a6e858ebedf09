/* Tests of vw_hub without threads: ordering, start at a keyframe, drop-to-keyframe on overflow,
 * isolation of a slow subscriber from a fast one, resync, end of stream, TS alignment. */
#include "vw_hub.h"
#include "vw_mux.h"
#include "vw_test.h"

#include <string.h>

static int keys_asked, notified;

static void want_key(void *opaque)
{
	(void)opaque;
	keys_asked++;
}

static void on_notify(void *opaque)
{
	(void)opaque;
	notified++;
}

/* n packets of 188 bytes, first byte of payload = tag */
static struct vw_chunk *mk(int packets, bool key, uint8_t tag)
{
	uint8_t buf[188 * 16];
	memset(buf, tag, sizeof(buf));
	for (int i = 0; i < packets; i++)
		buf[i * 188] = 0x47;
	return vw_chunk_new(buf, (size_t)packets * 188, key ? VW_CHUNK_KEY : 0, tag);
}

static void pub(struct vw_hub *h, int packets, bool key, uint8_t tag)
{
	struct vw_chunk *c = mk(packets, key, tag);
	vw_hub_publish(h, c);
	vw_chunk_unref(c);
}

static int pop_tag(struct vw_sub *s)
{
	bool eos;
	struct vw_chunk *c = vw_sub_pop(s, &eos);
	int tag = c ? (int)c->capture_ns : (eos ? -2 : -1);
	vw_chunk_unref(c);
	return tag;
}

static void test_starts_at_keyframe_in_order(void)
{
	struct vw_hub h;
	struct vw_sub s;
	keys_asked = notified = 0;
	CU_ASSERT_EQUAL_FATAL(vw_hub_init(&h, want_key, NULL), 0);
	CU_ASSERT_EQUAL(vw_sub_init(&s, &h, 1 << 20, 0, on_notify, NULL), 0);
	CU_ASSERT_EQUAL(keys_asked, 1); /* a new subscriber asks for a keyframe */
	pub(&h, 1, false, 1);
	pub(&h, 1, false, 2);
	CU_ASSERT_EQUAL(pop_tag(&s), -1); /* nothing before the keyframe */
	pub(&h, 2, true, 3);
	pub(&h, 1, false, 4);
	pub(&h, 1, false, 5);
	CU_ASSERT_EQUAL(notified, 3);
	CU_ASSERT_EQUAL(pop_tag(&s), 3);
	CU_ASSERT_EQUAL(pop_tag(&s), 4);
	CU_ASSERT_EQUAL(pop_tag(&s), 5);
	CU_ASSERT_EQUAL(pop_tag(&s), -1);
	struct vw_sub_stats st;
	vw_sub_get_stats(&s, &st);
	CU_ASSERT_EQUAL(st.chunks, 3);
	CU_ASSERT_EQUAL(st.bytes, 4 * 188);
	CU_ASSERT_EQUAL(st.dropped_chunks, 0); /* waiting for the first keyframe is not a loss */
	vw_sub_fini(&s);
	vw_hub_destroy(&h);
}

static void test_overflow_drops_to_next_keyframe(void)
{
	struct vw_hub h;
	struct vw_sub slow, fast;
	struct vw_sub_stats st;
	keys_asked = 0;
	vw_hub_init(&h, want_key, NULL);
	vw_sub_init(&slow, &h, 3 * 188, 0, NULL, NULL);
	vw_sub_init(&fast, &h, 1 << 20, 0, NULL, NULL);
	keys_asked = 0;
	pub(&h, 1, true, 10);
	CU_ASSERT_EQUAL(pop_tag(&slow), 10); /* the consumer is taking data... */
	pub(&h, 1, false, 11);
	pub(&h, 1, false, 12);
	pub(&h, 1, false, 13);
	pub(&h, 1, false, 14); /* ...and falls behind: the stale queue and 14 go, and all until a key */
	CU_ASSERT_EQUAL(keys_asked, 1);
	pub(&h, 1, false, 15);
	CU_ASSERT_EQUAL(pop_tag(&slow), -1);
	pub(&h, 1, true, 16);
	pub(&h, 1, false, 17);
	CU_ASSERT_EQUAL(pop_tag(&slow), 16); /* resumes exactly at the keyframe, with the present */
	CU_ASSERT_EQUAL(pop_tag(&slow), 17);
	vw_sub_get_stats(&slow, &st);
	CU_ASSERT_EQUAL(st.overflows, 1);
	CU_ASSERT_EQUAL(st.dropped_chunks, 5); /* 11, 12, 13 queued; 14, 15 skipped */
	CU_ASSERT_EQUAL(st.max_queued_bytes, 3 * 188);
	for (int t = 10; t <= 17; t++) /* the fast one lost nothing */
		CU_ASSERT_EQUAL(pop_tag(&fast), t);
	vw_sub_get_stats(&fast, &st);
	CU_ASSERT_EQUAL(st.dropped_chunks, 0);
	vw_sub_fini(&slow);
	vw_sub_fini(&fast);
	vw_hub_destroy(&h);
}

/* A queue bounded in time: a chunk older than the bound makes the queue stale. */
static void test_age_bound(void)
{
	struct vw_hub h;
	struct vw_sub s;
	struct vw_sub_stats st;
	vw_hub_init(&h, NULL, NULL);
	vw_sub_init(&s, &h, 1 << 20, 20 * 1000000LL, NULL, NULL);
	pub(&h, 1, true, 1);
	CU_ASSERT_EQUAL(pop_tag(&s), 1);
	pub(&h, 1, false, 2);
	vw_test_sleep_ms(40);
	pub(&h, 1, false, 3); /* the head is 40 ms old: over the 20 ms bound */
	pub(&h, 1, true, 4);
	CU_ASSERT_EQUAL(pop_tag(&s), 4);
	vw_sub_get_stats(&s, &st);
	CU_ASSERT_EQUAL(st.overflows, 1);
	CU_ASSERT_EQUAL(st.dropped_chunks, 2);
	vw_sub_fini(&s);
	vw_hub_destroy(&h);
}

static void test_oversized_chunk_passes_when_empty(void)
{
	struct vw_hub h;
	struct vw_sub s;
	vw_hub_init(&h, NULL, NULL);
	vw_sub_init(&s, &h, 188, 0, NULL, NULL);
	pub(&h, 4, true, 1); /* larger than the bound, but the queue is empty: never starve */
	CU_ASSERT_EQUAL(pop_tag(&s), 1);
	vw_sub_fini(&s);
	vw_hub_destroy(&h);
}

/* Raw messages (up to 1 MiB each) queue up to VW_HUB_RAW_QUEUE_MIN whatever the subscriber's own
 * bound, sized for video: three maximum-size messages in a row arrive whole and in order; a TS
 * chunk over the bound still overflows. */
static void test_raw_queue_floor(void)
{
	struct vw_hub h;
	struct vw_sub s;
	static uint8_t big[1024 * 1024];

	vw_hub_init(&h, NULL, NULL);
	vw_sub_init(&s, &h, 65536, 0, NULL, NULL);
	for (int i = 1; i <= 3; i++) {
		struct vw_chunk *c = vw_chunk_new(big, sizeof(big), VW_CHUNK_RAW | VW_CHUNK_KEY, i);
		vw_hub_publish(&h, c);
		vw_chunk_unref(c);
	}
	for (int i = 1; i <= 3; i++)
		CU_ASSERT_EQUAL(pop_tag(&s), i);
	struct vw_sub_stats st;
	vw_sub_get_stats(&s, &st);
	CU_ASSERT_EQUAL(st.overflows, 0);
	pub(&h, 16, true, 7);
	for (int i = 0; i < 30; i++) /* 30 x 3008 bytes > 65536: TS keeps its own bound */
		pub(&h, 16, false, 8);
	vw_sub_get_stats(&s, &st);
	CU_ASSERT_TRUE(st.overflows >= 1);
	vw_sub_fini(&s);
	vw_hub_destroy(&h);
}

/* A subscriber that has not started taking data loses nothing by waiting or being resynced. */
static void test_no_loss_before_consuming(void)
{
	struct vw_hub h;
	struct vw_sub s;
	struct vw_sub_stats st;
	vw_hub_init(&h, NULL, NULL);
	vw_sub_init(&s, &h, 2 * 188, 0, NULL, NULL);
	pub(&h, 1, true, 1);
	pub(&h, 1, false, 2);
	pub(&h, 1, false, 3); /* overflow before the consumer took anything */
	vw_sub_resync(&s);    /* a destination connecting */
	pub(&h, 1, false, 4);
	pub(&h, 1, true, 5);
	CU_ASSERT_EQUAL(pop_tag(&s), 5);
	vw_sub_get_stats(&s, &st);
	CU_ASSERT_EQUAL(st.dropped_chunks, 0);
	vw_sub_fini(&s);
	vw_hub_destroy(&h);
}

static void test_resync_and_eos(void)
{
	struct vw_hub h;
	struct vw_sub s;
	keys_asked = 0;
	vw_hub_init(&h, want_key, NULL);
	vw_sub_init(&s, &h, 1 << 20, 0, NULL, NULL);
	pub(&h, 1, true, 1);
	pub(&h, 1, false, 2);
	keys_asked = 0;
	vw_sub_resync(&s); /* the consumer lost its connection: start over at a keyframe */
	CU_ASSERT_EQUAL(keys_asked, 1);
	CU_ASSERT_EQUAL(pop_tag(&s), -1);
	pub(&h, 1, false, 3);
	pub(&h, 1, true, 4);
	vw_hub_close(&h);
	CU_ASSERT_EQUAL(pop_tag(&s), 4);
	CU_ASSERT_EQUAL(pop_tag(&s), -2); /* drained and closed: end of stream */
	vw_sub_fini(&s);
	vw_hub_destroy(&h);
}

static void test_many_subscribers_share_chunks(void)
{
	struct vw_hub h;
	static struct vw_sub subs[100];
	vw_hub_init(&h, NULL, NULL);
	for (int i = 0; i < 100; i++)
		vw_sub_init(&subs[i], &h, 1 << 20, 0, NULL, NULL);
	struct vw_chunk *c = mk(2, true, 9);
	vw_hub_publish(&h, c);
	CU_ASSERT_EQUAL(atomic_load(&c->refs), 101); /* one copy of the bytes, a reference each */
	vw_chunk_unref(c);
	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL(pop_tag(&subs[i]), 9);
		vw_sub_fini(&subs[i]);
	}
	CU_ASSERT_EQUAL(h.n_subs, 0);
	vw_hub_destroy(&h);
}

static void test_ts_whole_packets(void)
{
	CU_ASSERT_EQUAL(vw_ts_whole_packets(0), 0);
	CU_ASSERT_EQUAL(vw_ts_whole_packets(187), 0);
	CU_ASSERT_EQUAL(vw_ts_whole_packets(188), 188);
	CU_ASSERT_EQUAL(vw_ts_whole_packets(188 * 7 + 100), 188 * 7);
}

VW_TEST_SUITE("hub", NULL,
	      {"starts_at_keyframe_in_order", test_starts_at_keyframe_in_order},
	      {"overflow_drops_to_next_keyframe", test_overflow_drops_to_next_keyframe},
	      {"age_bound", test_age_bound},
	      {"oversized_chunk_passes_when_empty", test_oversized_chunk_passes_when_empty},
	      {"raw_queue_floor", test_raw_queue_floor},
	      {"no_loss_before_consuming", test_no_loss_before_consuming},
	      {"resync_and_eos", test_resync_and_eos},
	      {"many_subscribers_share_chunks", test_many_subscribers_share_chunks},
	      {"ts_whole_packets", test_ts_whole_packets})
