/* Fuzz target: the HTTP API as the server takes it apart, without sockets. Input: up to 8
 * requests separated by NUL bytes, each one
 *     METHOD SP PATH[?QUERY] LF (HEADER: VALUE LF)* LF BODY
 * and answered in order on one state document, the way vw_http and vw_control handle them:
 * the token check (Authorization: Bearer, or ?token=) with vw_secret_equal, the 64 KiB body
 * limit, chunked bodies decoded with vw_chunked, then vw_api_http for /api/streams and
 * /api/destinations. The same request, as raw HTTP/1.1 head, also goes through the /ts ingest
 * head parser (vw_ingest_parse_head), with and without an ingest secret.
 * Checked: a refused or failed request leaves the state as it was; every reply is JSON; a state
 * the API accepted always validates, runs (vw_api_effective) and survives a save and reload;
 * the token check accepts exactly the token. */
#include "vw_api.h"
#include "vw_chunked.h"
#include "vw_config.h"
#include "vw_fuzz.h"
#include "vw_fuzz_api.h"
#include "vw_http.h"
#include "vw_ingest.h"
#include "vw_util.h"

#include <errno.h>
#include <strings.h>

#include <jansson.h>

#define MAX_REQUESTS 8

struct request {
	char method[8];         /* as vw_http keeps it */
	char path[VW_PATH_MAX]; /* without the query */
	char query[VW_TOKEN_MAX + 16];
	char auth[VW_TOKEN_MAX + 16];
	char content_length[32];
	bool has_auth, chunked;
	const uint8_t *body;
	size_t body_len;
};

/* Copies a header value (up to LF) into dst, cut at its size as lws_hdr_copy cuts it. */
static void copy_value(char *dst, size_t n, const uint8_t *v, size_t len)
{
	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	if (len >= n)
		len = n - 1;
	memcpy(dst, v, len);
	dst[len] = 0;
}

static bool parse_request(const uint8_t *p, size_t len, struct request *rq)
{
	const uint8_t *end = p + len, *eol = memchr(p, '\n', len), *sp;

	memset(rq, 0, sizeof(*rq));
	if (!eol || !(sp = memchr(p, ' ', (size_t)(eol - p))))
		return false;
	copy_value(rq->method, sizeof(rq->method), p, (size_t)(sp - p));
	size_t ul = (size_t)(eol - sp - 1);
	const uint8_t *q = memchr(sp + 1, '?', ul);
	copy_value(rq->path, sizeof(rq->path), sp + 1, q ? (size_t)(q - sp - 1) : ul);
	if (q)
		copy_value(rq->query, sizeof(rq->query), q + 1, (size_t)(eol - q - 1));
	for (p = eol + 1; p < end;) {
		eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		const uint8_t *colon = memchr(p, ':', n);
		if (!n) {
			p++;
			break; /* the blank line: the body follows */
		}
		if (colon) {
			size_t kl = (size_t)(colon - p), vl = n - kl - 1;
			if (kl == 13 && !strncasecmp((const char *)p, "authorization", 13)) {
				copy_value(rq->auth, sizeof(rq->auth), colon + 1, vl);
				rq->has_auth = true;
			} else if (kl == 14 && !strncasecmp((const char *)p, "content-length", 14)) {
				copy_value(rq->content_length, sizeof(rq->content_length), colon + 1, vl);
			} else if (kl == 17 && !strncasecmp((const char *)p, "transfer-encoding", 17)) {
				char te[32];
				copy_value(te, sizeof(te), colon + 1, vl);
				rq->chunked = !strcasecmp(te, "chunked");
			}
		}
		p += n + (eol != NULL);
	}
	rq->body = p < end ? p : end;
	rq->body_len = (size_t)(end - rq->body);
	return true;
}

/* vw_http's check: a bearer token, else ?token= (browsers cannot set headers on a websocket). */
static bool authorised(const struct request *rq, const char *token, const char *token2)
{
	const char *given = NULL;

	if (!*token && !(token2 && *token2))
		return true;
	if (strlen(rq->auth) > 7 && !strncasecmp(rq->auth, "Bearer ", 7))
		given = rq->auth + 7;
	else if (!strncmp(rq->query, "token=", 6))
		given = rq->query + 6;
	if (!given)
		return false;
	bool a = *token && vw_secret_equal(given, strlen(given), token);
	bool b = token2 && *token2 && vw_secret_equal(given, strlen(given), token2);
	/* the constant-time comparison must say what a plain one says */
	VW_FUZZ_CHECK(a == (*token && !strcmp(given, token)));
	VW_FUZZ_CHECK(b == (token2 && *token2 && !strcmp(given, token2)));
	return a || b;
}

/* The raw head of the same request through the /ts ingest parser: the request line, then the
 * input's lines with CRLF endings. */
static void ingest_head(const struct request *rq, const uint8_t *raw, size_t raw_len, const char *secret)
{
	size_t cap = strlen(rq->method) + strlen(rq->path) + strlen(rq->query) + 2 * raw_len + 32;
	char *head = malloc(cap), err[256] = "";
	struct vw_ingest_req ir;

	VW_FUZZ_CHECK(head);
	size_t len = (size_t)snprintf(head, cap, "%s %s%s%s HTTP/1.1\r\n", rq->method, rq->path, *rq->query ? "?" : "",
				      rq->query);
	for (const uint8_t *p = (const uint8_t *)memchr(raw, '\n', raw_len) + 1; p < raw + raw_len; p++) {
		if (*p == '\n')
			head[len++] = '\r';
		head[len++] = (char)*p;
	}
	int ret = vw_ingest_parse_head(head, len, secret, &ir, err, sizeof(err));
	VW_FUZZ_CHECK(ret == 0 || ret == -EAGAIN || ret == 400 || ret == 401 || ret == 404 || ret == 405 ||
		      ret == 411 || ret == 413);
	if (ret == 0) {
		VW_FUZZ_CHECK(ir.head_len >= 4 && ir.head_len <= len && !memcmp(head + ir.head_len - 4, "\r\n\r\n", 4));
		VW_FUZZ_CHECK(vw_name_valid(ir.feed, true));
		VW_FUZZ_CHECK(!(ir.chunked && ir.has_length));
	} else if (ret > 0) {
		VW_FUZZ_CHECK(*err);
	}
	free(head);
}

static void answer(const struct vw_config *base, json_t *state, const uint8_t *raw, size_t raw_len,
		   bool input_has_token)
{
	struct request rq;
	struct vw_api_reply r = {0};
	char *body = NULL;
	size_t body_len;

	if (!parse_request(raw, raw_len, &rq))
		return;
	ingest_head(&rq, raw, raw_len, "");
	ingest_head(&rq, raw, raw_len, VW_FUZZ_INGEST_SECRET);

	bool status = !strcmp(rq.path, "/api/status");
	if (!status && strncmp(rq.path, "/api/", 5) && strcmp(rq.path, "/api"))
		return; /* static files, /live, /ts, /metrics: not the API's */
	/* no Authorization header and no ?token=: the API as vw runs it without api_token */
	bool open = !rq.has_auth && strncmp(rq.query, "token=", 6);
	if (!open && !authorised(&rq, base->http.api_token, status ? base->http.view_token : NULL))
		return; /* 401 */
	if (status || !strncmp(rq.path, "/api/feeds/", 11))
		return; /* live status and device controls need a running vw */
	if (*rq.content_length && strtoull(rq.content_length, NULL, 10) > VW_HTTP_MAX_BODY)
		return; /* 413 */
	body_len = rq.body_len < VW_HTTP_MAX_BODY + 64 ? rq.body_len : VW_HTTP_MAX_BODY + 64;
	body = malloc(body_len + 1);
	VW_FUZZ_CHECK(body);
	if (rq.chunked) { /* in place, in one piece, as vw_http's on_body */
		struct vw_chunked dc = {0};
		memcpy(body, rq.body, body_len);
		body_len = vw_chunked_feed(&dc, (uint8_t *)body, body_len, (uint8_t *)body);
	} else {
		memcpy(body, rq.body, body_len);
	}
	body[body_len] = 0;
	if (body_len > VW_HTTP_MAX_BODY)
		goto out; /* 413 */

	json_t *before = json_deep_copy(state);
	int ret = vw_api_http(base, state, rq.method, rq.path, body, body_len, &r);
	VW_FUZZ_CHECK(ret == 0); /* -ENOMEM only */
	vw_fuzz_api_check_reply(&r, input_has_token);
	if (r.changed) {
		VW_FUZZ_CHECK(r.status == 200);
		vw_fuzz_api_check_state(base, state, false);
	} else {
		VW_FUZZ_CHECK(json_equal(before, state)); /* a bad request changes nothing */
	}
	json_decref(before);
out:
	free(r.body);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *state = vw_api_state_new();
	struct vw_fuzz_records recs;
	const uint8_t *rec;
	size_t len;

	VW_FUZZ_CHECK(state);
	/* the file's token may come back only where a request put it (in a URL, say) */
	bool has_token = memmem(data, size, VW_FUZZ_FILE_TOKEN, strlen(VW_FUZZ_FILE_TOKEN)) != NULL;
	vw_fuzz_records_init(&recs, data, size, 0);
	for (int i = 0; i < MAX_REQUESTS && vw_fuzz_record(&recs, &rec, &len); i++)
		answer(vw_fuzz_api_base(), state, rec, len, has_token);
	json_decref(state);
	return 0;
}
