/* Examples of vw_ingest_parse_head, the /ts/ ingest's request-head parser (pure): what a POST or
 * PUT from ffmpeg or a JSMpeg-relay script is taken to mean, and each refusal's status. The same
 * parser is fuzzed by tests/fuzz/fuzz_http.c; the whole ingest runs in test_api against ffmpeg. */
#include "vw_ingest.h"
#include "vw_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *head, const char *secret, struct vw_ingest_req *r, char *err, size_t n)
{
	err[0] = 0;
	return vw_ingest_parse_head(head, strlen(head), secret, r, err, n);
}

static void test_content_length(void)
{
	static const char head[] = "POST /ts/cam1 HTTP/1.1\r\nHost: 127.0.0.1:8888\r\ncontent-length: 5\r\n\r\nhello";
	struct vw_ingest_req r;
	char err[200];

	CU_ASSERT_EQUAL(parse(head, NULL, &r, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(r.feed, "cam1");
	CU_ASSERT_TRUE(r.has_length);
	CU_ASSERT_EQUAL(r.length, 5);
	CU_ASSERT_FALSE(r.chunked);
	CU_ASSERT_FALSE(r.expect_continue);
	CU_ASSERT_EQUAL(r.head_len, strlen(head) - 5); /* the body is not part of the head */
}

static void test_chunked_wins(void)
{
	static const char head[] = "PUT /ts/front/cam?x=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n"
				   "Expect: 100-continue\r\n\r\n";
	struct vw_ingest_req r;
	char err[200];

	CU_ASSERT_EQUAL(parse(head, "", &r, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(r.feed, "front/cam"); /* parts kept, the query is not the name */
	CU_ASSERT_TRUE(r.chunked);
	CU_ASSERT_FALSE(r.has_length); /* RFC 9112: chunked wins over a length */
	CU_ASSERT_TRUE(r.expect_continue);
	CU_ASSERT_EQUAL(r.head_len, strlen(head));
}

static void test_secret(void)
{
	struct vw_ingest_req r;
	char err[200];

	CU_ASSERT_EQUAL(parse("POST /ts/s3cret/cam HTTP/1.1\r\n\r\n", "s3cret", &r, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(r.feed, "cam");
	CU_ASSERT_EQUAL(parse("POST /ts/s3cre/cam HTTP/1.1\r\n\r\n", "s3cret", &r, err, sizeof(err)), 401);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "secret"));
	CU_ASSERT_EQUAL(parse("POST /ts/s3crets/cam HTTP/1.1\r\n\r\n", "s3cret", &r, err, sizeof(err)), 401);
	CU_ASSERT_EQUAL(parse("POST /ts/cam HTTP/1.1\r\n\r\n", "s3cret", &r, err, sizeof(err)), 401);
}

static void test_more_needed(void)
{
	struct vw_ingest_req r;
	char err[200], *big = malloc(VW_INGEST_HEAD_MAX + 1);

	CU_ASSERT_EQUAL(parse("POST /ts/cam HTTP/1.1\r\nHost: x\r\n", NULL, &r, err, sizeof(err)), -EAGAIN);
	CU_ASSERT_EQUAL(parse("POST /ts/cam HTTP/1.1\r\n\r", NULL, &r, err, sizeof(err)), -EAGAIN);
	/* a head that never ends is refused once it reaches the limit */
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'a', VW_INGEST_HEAD_MAX);
	big[VW_INGEST_HEAD_MAX] = 0;
	CU_ASSERT_EQUAL(parse(big, NULL, &r, err, sizeof(err)), 413);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
	free(big);
}

static void test_refusals(void)
{
	static const struct {
		const char *head;
		int status;
		const char *why;
	} bad[] = {
		{"GET /ts/cam HTTP/1.1\r\n\r\n", 405, "not GET"},
		{"DELETE /ts/cam HTTP/1.1\r\n\r\n", 405, "not DELETE"},
		{"POST /api/streams HTTP/1.1\r\n\r\n", 404, "not an ingest path"},
		{"POST /ts/a/../b HTTP/1.1\r\n\r\n", 400, "invalid feed name"},
		{"POST /ts/ HTTP/1.1\r\n\r\n", 400, "invalid feed name"},
		{"POST /ts/a b HTTP/1.1\r\n\r\n", 400, "malformed request line"},
		{"POST /ts/cam HTTP/2\r\n\r\n", 400, "malformed request line"},
		{"POST\r\n\r\n", 400, "malformed request line"},
		{"SUBSCRIBE /ts/cam HTTP/1.1\r\n\r\n", 400, "malformed request line"}, /* no method that long */
		{"POST /ts/cam HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "transfer-encoding"},
		{"POST /ts/cam HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "content-length"},
		{"POST /ts/cam HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400, "content-length"},
		{"POST /ts/cam HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, "content-length"},
	};
	struct vw_ingest_req r;
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int st = parse(bad[i].head, NULL, &r, err, sizeof(err));
		if (st != bad[i].status || !strstr(err, bad[i].why))
			printf("\n    %s-> %d (%s)\n", bad[i].head, st, err);
		CU_ASSERT_EQUAL(st, bad[i].status);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].why));
	}
}

/* What a body carries, told from its first bytes: MPEG-TS only with 0x47 every 188 bytes. */
static void test_probe(void)
{
	static uint8_t b[VW_INGEST_PROBE + 100];

	memset(b, 0xAA, sizeof(b));
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 0, false), VW_INGEST_AUTO);
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 0, true), VW_INGEST_RAW); /* an empty body */
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 1, false), VW_INGEST_RAW); /* settled by the first byte */
	b[0] = b[188] = b[376] = 0x47;
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 100, false), VW_INGEST_AUTO); /* 'G' may begin either */
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 200, false), VW_INGEST_AUTO);
	CU_ASSERT_EQUAL(vw_ingest_probe(b, VW_INGEST_PROBE, false), VW_INGEST_TS);
	CU_ASSERT_EQUAL(vw_ingest_probe(b, sizeof(b), false), VW_INGEST_TS);
	/* a whole body shorter than the probe: TS when it is whole packets */
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 188, true), VW_INGEST_TS);
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 376, true), VW_INGEST_TS);
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 5, true), VW_INGEST_RAW); /* "Hello"-like, after a G */
	b[376] = 'x';
	CU_ASSERT_EQUAL(vw_ingest_probe(b, VW_INGEST_PROBE, false), VW_INGEST_RAW);
	b[188] = 'x';
	CU_ASSERT_EQUAL(vw_ingest_probe(b, 189, false), VW_INGEST_RAW); /* settled at the second sync */
}

/* The feeds /ws/ topics make (vw_ingest_topic): found again by name, never pinned, at most
 * VW_INGEST_MAX_FEEDS of them with the encoders' (feeds a rule names do not count), and not freed
 * while a client subscribes. */
static void test_topics(void)
{
	struct vw_ingest ing;
	char name[32];

	CU_ASSERT_EQUAL_FATAL(vw_ingest_init(&ing, NULL), 0); /* no log: its lines are discarded */
	struct vw_ingest_feed *ruled = vw_ingest_feed(&ing, "ruled", true);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ruled);
	struct vw_ingest_feed *first = vw_ingest_topic(&ing, "data");
	CU_ASSERT_PTR_NOT_NULL_FATAL(first);
	CU_ASSERT_FALSE(first->pinned);
	CU_ASSERT_PTR_EQUAL(vw_ingest_topic(&ing, "data"), first);
	CU_ASSERT_PTR_EQUAL(vw_ingest_topic(&ing, "ruled"), ruled); /* a rule's feed is its topic too */
	CU_ASSERT_TRUE(ruled->pinned);
	int made = 1;
	for (int i = 0; i < 2 * VW_INGEST_MAX_FEEDS; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		made += vw_ingest_topic(&ing, name) != NULL;
	}
	CU_ASSERT_EQUAL(made, VW_INGEST_MAX_FEEDS);
	CU_ASSERT_PTR_NULL(vw_ingest_topic(&ing, "one-more"));
	CU_ASSERT_PTR_NOT_NULL(vw_ingest_topic(&ing, "data")); /* an existing one is still found */
	/* just made: not idle long enough to go, subscribed or not */
	struct vw_sub sub;
	vw_sub_init(&sub, &first->hub, 1 << 20, 0, NULL, NULL);
	CU_ASSERT_EQUAL(vw_ingest_reap_feeds(&ing), 0);
	vw_sub_fini(&sub);
	vw_ingest_destroy(&ing);
}

VW_TEST_SUITE("ingest", NULL,
	      {"content_length", test_content_length},
	      {"chunked_wins", test_chunked_wins},
	      {"secret", test_secret},
	      {"more_needed", test_more_needed},
	      {"refusals", test_refusals},
	      {"probe", test_probe},
	      {"topics", test_topics})
