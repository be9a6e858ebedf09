/* Tests of the control plane: the rules logic on its own (every endpoint, vw's shapes, each
 * error leaving the state untouched, the WS/JSON verbs), then the real vw binary over HTTP on
 * 127.0.0.1: tokens, status codes, live mute/unmute, persistence across a restart and across
 * kill -9 in the middle of an API burst, /ts ingest from the real ffmpeg (byte-identical at a
 * relay, longer than libwebsockets' 100 MiB cap, garbage refused), and the WS/JSON control
 * channel through a bidirectional relay. */
#include "vw_api.h"
#include "vw_config.h"
#include "vw_state.h"
#include "vw_test.h"
#include "vw_testrelay.h"
#include "vw_testvw.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

static char *tmp;

/* CUnit's string assertions crash on NULL: a missing reply must fail, not abort the suite */
#define S(x) ((x) ? (x) : "(null)")
#define STR_EQ(a, b) CU_ASSERT_STRING_EQUAL(S(a), S(b))
#define STR_NE(a, b) CU_ASSERT_STRING_NOT_EQUAL(S(a), S(b))
/* A command over the WS/JSON channel whose whole answer is known. */
#define ANSWERS(f, cmd, answer)                   \
	do {                                      \
		json_decref(command((f), (cmd))); \
		STR_EQ((f)->r.body, (answer));    \
	} while (0)

/* ---- the rules on their own ---- */

static const char *base_text = "[feed cam]\ntype = testsrc\n[feed mic]\ntype = testsrc\n"
			       "[stream live]\nfeeds = cam, mic\nsize = 320x240\n";

struct fixture {
	struct vw_config *base, *eff;
	json_t *state;
	struct vw_api_reply r;
};

static void fx_init(struct fixture *f, const char *text)
{
	f->base = vw_test_config(text);
	f->eff = malloc(sizeof(*f->eff));
	f->state = vw_api_state_new();
	memset(&f->r, 0, sizeof(f->r));
}

static void fx_fini(struct fixture *f)
{
	free(f->r.body);
	free(f->base);
	free(f->eff);
	json_decref(f->state);
}

/* One request; returns the status and leaves the parsed body in *body (caller decrefs). */
static int call(struct fixture *f, const char *method, const char *path, const char *body, json_t **out)
{
	free(f->r.body);
	memset(&f->r, 0, sizeof(f->r));
	CU_ASSERT_EQUAL_FATAL(vw_api_http(f->base, f->state, method, path, body, body ? strlen(body) : 0, &f->r), 0);
	if (out)
		*out = f->r.body ? json_loads(f->r.body, JSON_DECODE_ANY, NULL) : NULL;
	return f->r.status;
}

static void effective(struct fixture *f)
{
	char err[700];
	int ret = vw_api_effective(f->base, f->state, f->eff, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "effective: %s\n", err);
	CU_ASSERT_EQUAL_FATAL(ret, 0);
}

static void test_streams(void)
{
	struct fixture f;
	json_t *j;

	fx_init(&f, base_text);
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/streams/all", NULL, &j), 200);
	STR_EQ(f.r.body, "{\"live\":[\"cam\",\"mic\"]}");
	json_decref(j);

	/* vw's example, leading slash and all */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"stream\":\"/stream/front/large\",\"feeds\":[\"cam\",\"mic\"]}", &j),
			200);
	CU_ASSERT_TRUE(f.r.changed);
	STR_EQ(json_string_value(json_object_get(j, "stream")), "stream/front/large");
	json_decref(j);
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/streams/stream/front/large", NULL, NULL), 200);
	STR_EQ(f.r.body, "[\"cam\",\"mic\"]");
	effective(&f);
	CU_ASSERT_EQUAL(f.eff->n_streams, 2);

	/* mute: the stream again without its audio feed; the track stays (same audio feed, silent) */
	CU_ASSERT_EQUAL(call(&f, "PUT", "/api/streams", "{\"stream\":\"live\",\"feeds\":[\"cam\"]}", NULL), 200);
	effective(&f);
	const struct vw_stream_conf *live = vw_config_stream(f.eff, "live");
	CU_ASSERT_TRUE(live->mute);
	STR_EQ(live->audio_feed, "mic");
	CU_ASSERT_EQUAL(live->width, 320); /* the file's parameters carry over */
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/streams/live", NULL, NULL), 200);
	STR_EQ(f.r.body, "[\"cam\"]");
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"stream\":\"live\",\"feeds\":[\"cam\",\"mic\"]}", NULL), 200);
	effective(&f);
	CU_ASSERT_FALSE(vw_config_stream(f.eff, "live")->mute);

	/* feeds nobody defined are encoders' ingest feeds: a passthrough, waiting for them */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"stream\":\"stream/ext\",\"feeds\":[\"video0\",\"audio0\"]}", NULL),
			200);
	effective(&f);
	CU_ASSERT_TRUE(vw_config_stream(f.eff, "stream/ext")->passthrough);
	CU_ASSERT_EQUAL(vw_config_feed(f.eff, "video0")->type, VW_FEED_INGEST);

	/* our fields */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams",
			     "{\"stream\":\"small\",\"feeds\":[\"cam\"],\"size\":\"160x120\",\"fps\":30,\"video_bitrate\":\"300k\"}",
			     NULL),
			200);
	effective(&f);
	const struct vw_stream_conf *small = vw_config_stream(f.eff, "small");
	CU_ASSERT_EQUAL(small->width, 160);
	CU_ASSERT_EQUAL(small->fps, 30);
	CU_ASSERT_EQUAL(small->gop, 60);
	CU_ASSERT_EQUAL(small->video_bitrate, 300000);

	/* delete: file streams stay deleted (remembered), and come back when posted again */
	CU_ASSERT_EQUAL(call(&f, "DELETE", "/api/streams/live", NULL, NULL), 200);
	STR_EQ(f.r.body, "\"live\"");
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/streams/live", NULL, NULL), 404);
	CU_ASSERT_EQUAL(call(&f, "DELETE", "/api/streams/live", NULL, NULL), 200); /* gone already: 200, as the Go vw */
	STR_EQ(f.r.body, "\"live\"");
	effective(&f);
	CU_ASSERT_PTR_NULL(vw_config_stream(f.eff, "live"));
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"stream\":\"live\",\"feeds\":[\"cam\",\"mic\"]}", NULL), 200);
	effective(&f);
	CU_ASSERT_PTR_NOT_NULL(vw_config_stream(f.eff, "live"));
	CU_ASSERT_EQUAL(call(&f, "DELETE", "/api/streams/all", NULL, NULL), 200);
	STR_EQ(f.r.body, "\"deleteAll\"");
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/streams/all", NULL, NULL), 200);
	STR_EQ(f.r.body, "{}");
	fx_fini(&f);
}

static void test_destinations(void)
{
	struct fixture f;
	json_t *j;

	fx_init(&f, base_text);
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations",
			     "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"wss://relay.example/in/video0\",\"token\":\"s3cret\"}",
			     &j),
			200);
	CU_ASSERT_PTR_NULL(json_object_get(j, "token")); /* never shown back */
	json_decref(j);
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/destinations/all", NULL, &j), 200);
	STR_EQ(json_string_value(json_object_get(json_object_get(j, "0"), "destination")),
			       "wss://relay.example/in/video0");
	CU_ASSERT_PTR_NULL(strstr(f.r.body, "s3cret"));
	json_decref(j);
	effective(&f);
	CU_ASSERT_EQUAL(f.eff->n_dests, 1);
	CU_ASSERT_EQUAL(f.eff->dests[0].auth, VW_AUTH_FIRST_MESSAGE); /* a token-only rule: the Go vw's login */
	STR_EQ(f.eff->dests[0].token, "s3cret");

	/* the same id again replaces it */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations",
			     "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/in/video1\",\"queue\":\"1s\"}", NULL),
			200);
	effective(&f);
	CU_ASSERT_EQUAL(f.eff->n_dests, 1);
	STR_EQ(f.eff->dests[0].url, "ws://127.0.0.1:9/in/video1");
	CU_ASSERT_EQUAL(f.eff->dests[0].auth, VW_AUTH_NONE);
	CU_ASSERT_EQUAL(f.eff->dests[0].queue_ns, 1000000000LL);

	/* a destination may name a feed directly: an encoder's, forwarded as it is */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations",
			     "{\"id\":\"raw\",\"stream\":\"video0\",\"destination\":\"https://relay.example/secret\"}", NULL),
			200);
	effective(&f);
	CU_ASSERT_EQUAL(vw_config_feed(f.eff, "video0")->type, VW_FEED_INGEST);
	/* ... but not a capture feed, which is pictures, not MPEG-TS */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations", "{\"id\":\"x\",\"stream\":\"cam\",\"destination\":\"ws://h/\"}", NULL),
			400);
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/destinations/raw", NULL, NULL), 200);
	CU_ASSERT_EQUAL(call(&f, "GET", "/api/destinations/nope", NULL, NULL), 404);
	CU_ASSERT_EQUAL(call(&f, "DELETE", "/api/destinations/0", NULL, NULL), 200);
	STR_EQ(f.r.body, "\"0\"");
	CU_ASSERT_EQUAL(call(&f, "DELETE", "/api/destinations/0", NULL, NULL), 200);
	CU_ASSERT_EQUAL(call(&f, "DELETE", "/api/destinations/all", NULL, NULL), 200);
	STR_EQ(f.r.body, "\"deleteAll\"");
	effective(&f);
	CU_ASSERT_EQUAL(f.eff->n_dests, 0);
	fx_fini(&f);
}

static void test_bad_requests_change_nothing(void)
{
	static const struct {
		const char *method, *path, *body;
		int status;
	} bad[] = {
		{"POST", "/api/streams", "{\"stream\":\"x\",\"feeds\":[\"cam\"", 400},        /* malformed JSON */
		{"POST", "/api/streams", "[1,2]", 400},                                       /* not an object */
		{"POST", "/api/streams", "{\"stream\":\"x\",\"feeds\":\"cam\"}", 400},        /* wrong type */
		{"POST", "/api/streams", "{\"stream\":7,\"feeds\":[\"cam\"]}", 400},          /* wrong type */
		{"POST", "/api/streams", "{\"feeds\":[\"cam\"]}", 400},                       /* missing field */
		{"POST", "/api/streams", "{\"stream\":\"x\"}", 400},                          /* missing field */
		{"POST", "/api/streams", "{\"stream\":\"a/../b\",\"feeds\":[\"cam\"]}", 400}, /* '..' */
		{"POST", "/api/streams", "{\"stream\":\"a//b\",\"feeds\":[\"cam\"]}", 400},   /* empty segment */
		{"POST", "/api/streams", "{\"stream\":\"a b\",\"feeds\":[\"cam\"]}", 400},
		{"POST", "/api/streams", "{\"stream\":\"\",\"feeds\":[\"cam\"]}", 400},
		{"POST", "/api/streams", "{\"stream\":\"all\",\"feeds\":[\"cam\"]}", 400},
		{"POST", "/api/streams", "{\"stream\":\"x\",\"feeds\":[]}", 400},
		{"POST", "/api/streams", "{\"stream\":\"x\",\"feeds\":[\"cam\",\"video0\"]}", 400}, /* capture + ingest */
		{"POST", "/api/streams", "{\"stream\":\"x\",\"feeds\":[\"mic\",\"cam\"],\"fps\":15}", 400},
		{"POST", "/api/destinations", "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"ftp://h/x\"}", 400},
		{"POST", "/api/destinations", "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"not a url\"}", 400},
		{"POST", "/api/destinations", "{\"stream\":\"live\",\"destination\":\"ws://h/x\"}", 400},
		{"POST", "/api/destinations", "{\"id\":\"0\",\"destination\":\"ws://h/x\"}", 400},
		{"POST", "/api/destinations", "{\"id\":\"0\",\"stream\":\"live\"}", 400},
		{"POST", "/api/destinations", "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"ws://h/x\",\"insecure\":\"yes\"}", 400},
		{"POST", "/api/destinations", "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"ws://h/x\",\"auth\":\"bearer\"}", 400},
		{"POST", "/api/destinations", "", 400},
		{"GET", "/api/streams/a/../b", NULL, 400},
		{"GET", "/api/nothing", NULL, 404},
		{"GET", "/api/streamsx", NULL, 404},
		{"GET", "/api/streams", NULL, 405},
		{"DELETE", "/api/destinations", NULL, 405},
		{"PATCH", "/api/streams/live", NULL, 405},
		{"POST", "/api/streams/live", "{}", 405},
	};
	struct fixture f;

	fx_init(&f, base_text);
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations", "{\"id\":\"keep\",\"stream\":\"live\",\"destination\":\"ws://h/x\"}", NULL),
			200);
	json_t *before = json_deep_copy(f.state);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = NULL;
		int st = call(&f, bad[i].method, bad[i].path, bad[i].body, &j);
		if (st != bad[i].status)
			fprintf(stderr, "%s %s %s: %d %s\n", bad[i].method, bad[i].path, bad[i].body ? bad[i].body : "", st, f.r.body);
		CU_ASSERT_EQUAL(st, bad[i].status);
		CU_ASSERT_FALSE(f.r.changed);
		CU_ASSERT_TRUE(json_is_string(json_object_get(j, "error"))); /* always {"error": "..."} */
		CU_ASSERT_TRUE(json_equal(before, f.state));
		json_decref(j);
	}
	json_decref(before);
	fx_fini(&f);
}

static json_t *command(struct fixture *f, const char *cmd)
{
	free(f->r.body);
	memset(&f->r, 0, sizeof(f->r));
	CU_ASSERT_EQUAL(vw_api_command(f->base, f->state, cmd, strlen(cmd), &f->r), 0);
	return f->r.body ? json_loads(f->r.body, JSON_DECODE_ANY, NULL) : NULL;
}

/* Rules as the Go vw's clients send them: field names in any case, fields vw does not know
 * ignored (and named for the debug log), an exact name winning over another case. */
static void test_go_leniency(void)
{
	struct fixture f;
	json_t *j;

	fx_init(&f, base_text);
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"Stream\":\"x\",\"Feeds\":[\"cam\"],\"colour\":\"red\"}", NULL),
	                200);
	STR_EQ(f.r.ignored, "colour");
	/* practable's "file" is honoured, so where no directory is configured for it, it is refused
	 * (test_compat writes copies) */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations",
	                     "{\"ID\":\"d\",\"Stream\":\"x\",\"Destination\":\"ws://h/x\",\"Token\":\"t\","
	                     "\"File\":\"/tmp/x\",\"extra\":1}",
	                     &j),
	                400);
	CU_ASSERT_TRUE(strstr(json_string_value(json_object_get(j, "error")) ?: "", "dest_file_dir") != NULL);
	json_decref(j);
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations",
	                     "{\"ID\":\"d\",\"Stream\":\"x\",\"Destination\":\"ws://h/x\",\"Token\":\"t\",\"extra\":1}",
	                     NULL),
	                200);
	STR_EQ(f.r.ignored, "extra");
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"Stream\":\"no\",\"stream\":\"y\",\"feeds\":[\"cam\"]}", NULL),
	                200);
	effective(&f);
	CU_ASSERT_PTR_NOT_NULL(vw_config_stream(f.eff, "x"));
	CU_ASSERT_PTR_NOT_NULL(vw_config_stream(f.eff, "y"));
	CU_ASSERT_PTR_NULL(vw_config_stream(f.eff, "no"));
	const struct vw_dest_conf *d = vw_config_dest(f.eff, "d");
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	STR_EQ(d->stream, "x");
	STR_EQ(d->token, "t");
	/* a passthrough stream merges as many ingest feeds as the Go vw's scripts give it */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams",
	                     "{\"stream\":\"many\",\"feeds\":[\"i1\",\"i2\",\"i3\",\"i4\",\"i5\",\"i6\"]}", NULL),
	                200);
	/* a known field with a wrong value is still refused */
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/streams", "{\"STREAM\":7,\"feeds\":[\"cam\"]}", &j), 400);
	json_decref(j);
	/* the WS/JSON channel reads rules the same way */
	json_decref(command(&f, "{\"verb\":\"add\",\"what\":\"stream\",\"rule\":{\"STREAM\":\"z\",\"FEEDS\":[\"cam\"],\"x\":1}}"));
	STR_EQ(f.r.ignored, "x");
	effective(&f);
	CU_ASSERT_PTR_NOT_NULL(vw_config_stream(f.eff, "z"));
	fx_fini(&f);
}

static void test_ws_commands(void)
{
	struct fixture f;
	json_t *j;
	char text[2048];

	snprintf(text, sizeof(text), "%s[api]\nurl = ws://127.0.0.1:9/bi/control\n", base_text);
	fx_init(&f, text);
	ANSWERS(&f, "{\"verb\":\"healthcheck\"}", "{\"healthcheck\":\"ok\"}");
	j = command(&f, "{\"verb\":\"add\",\"what\":\"destination\",\"rule\":{\"stream\":\"video0\",\"destination\":\"wss://r.example/in/video0\",\"id\":\"0\"}}");
	STR_EQ(json_string_value(json_object_get(j, "destination")), "wss://r.example/in/video0");
	CU_ASSERT_TRUE(f.r.changed);
	json_decref(j);
	ANSWERS(
	    &f,
	    "{\"verb\":\"add\",\"what\":\"stream\",\"rule\":{\"stream\":\"video0\",\"feeds\":[\"video0\",\"audio0\"]}}",
	    "{\"stream\":\"video0\",\"feeds\":[\"video0\",\"audio0\"]}");
	ANSWERS(&f, "{\"verb\":\"list\",\"what\":\"stream\",\"which\":\"video0\"}",
	        "{\"feeds\":[\"video0\",\"audio0\"]}");
	ANSWERS(&f, "{\"verb\":\"list\",\"what\":\"stream\",\"which\":\"doesnotexist\"}", "{\"feeds\":null}");
	j = command(&f, "{\"verb\":\"list\",\"what\":\"destination\",\"which\":\"0\"}");
	STR_EQ(json_string_value(json_object_get(j, "id")), "0");
	json_decref(j);
	j = command(&f, "{\"verb\":\"list\",\"what\":\"destination\",\"which\":\"all\"}");
	CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "0"));
	STR_EQ(json_string_value(json_object_get(json_object_get(j, "apiRule"), "stream")), "api");
	json_decref(j);
	j = command(&f, "{\"verb\":\"list\",\"what\":\"stream\",\"which\":\"all\"}");
	CU_ASSERT_PTR_NOT_NULL(json_object_get(j, "live"));
	json_decref(j);
	ANSWERS(&f, "{\"verb\":\"delete\",\"what\":\"destination\",\"which\":\"apiRule\"}",
	        "{\"error\":\"Cannot delete apiRule\"}");
	CU_ASSERT_FALSE(f.r.changed);
	ANSWERS(&f, "{\"verb\":\"delete\",\"what\":\"stream\",\"which\":\"video0\"}", "{\"deleted\":\"video0\"}");
	ANSWERS(&f, "{\"verb\":\"delete\",\"what\":\"destination\",\"which\":\"all\"}", "{\"deleted\":\"deleteAll\"}");
	effective(&f); /* everything gone but the channel itself */
	CU_ASSERT_EQUAL(f.eff->n_dests, 1);
	STR_EQ(f.eff->dests[0].name, "apiRule");
	ANSWERS(&f, "{\"verb\":\"delete\",\"what\":\"stream\",\"which\":\"all\"}", "{\"deleted\":\"deleteAll\"}");
	static const char *const unrecognised[] = {
		"Not even JSON", "{\"verb\":\"fly\",\"what\":\"stream\"}", "{\"verb\":\"list\",\"what\":\"stream\"}",
		"{\"verb\":\"list\",\"what\":\"bananas\",\"which\":\"all\"}", "{\"verb\":\"add\",\"what\":\"stream\"}", "[]",
	};
	for (size_t i = 0; i < sizeof(unrecognised) / sizeof(unrecognised[0]); i++) {
		j = command(&f, unrecognised[i]);
		STR_EQ(f.r.body, "{\"error\":\"Unrecognised Command\"}");
		CU_ASSERT_FALSE(f.r.changed);
		json_decref(j);
	}
	j = command(&f, "{\"verb\":\"add\",\"what\":\"destination\",\"rule\":{\"stream\":\"live\",\"destination\":\"gopher://x\",\"id\":\"1\"}}");
	CU_ASSERT_TRUE(json_is_string(json_object_get(j, "error")));
	CU_ASSERT_FALSE(f.r.changed);
	json_decref(j);
	fx_fini(&f);
}

static void test_state_file(void)
{
	char path[700], err[600], moved[800];
	struct fixture f;
	json_t *back = NULL;
	struct stat st;

	fx_init(&f, base_text);
	snprintf(path, sizeof(path), "%s/state.json", tmp);
	CU_ASSERT_EQUAL(call(&f, "POST", "/api/destinations", "{\"id\":\"0\",\"stream\":\"live\",\"destination\":\"ws://h/x\",\"token\":\"t\"}", NULL),
			200);
	CU_ASSERT_EQUAL(vw_state_save(path, f.state, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600); /* it holds tokens */
	CU_ASSERT_EQUAL(vw_state_load(path, &back, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(json_equal(back, f.state));
	CU_ASSERT_EQUAL(vw_api_state_check(f.base, back, err, sizeof(err)), 0);
	json_decref(back);
	/* no temporary file is left behind */
	char tmpname[800];
	snprintf(tmpname, sizeof(tmpname), "%s.tmp-%ld", path, (long)getpid());
	CU_ASSERT_NOT_EQUAL(access(tmpname, F_OK), 0);

	vw_test_write_file(path, "{\"version\":1,\"streams\":", 23);
	CU_ASSERT_EQUAL(vw_state_load(path, &back, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "state.json:1"));
	back = json_loads("{\"version\":1,\"streams\":{\"x\":{\"stream\":\"y\",\"feeds\":[\"cam\"]}},\"destinations\":{},"
			  "\"deleted\":{\"streams\":[],\"destinations\":[]}}", 0, NULL);
	CU_ASSERT_EQUAL(vw_api_state_check(f.base, back, err, sizeof(err)), -EINVAL);
	json_decref(back);
	CU_ASSERT_EQUAL(vw_state_set_aside(path, moved, sizeof(moved)), 0);
	CU_ASSERT_EQUAL(access(moved, F_OK), 0);
	CU_ASSERT_EQUAL(vw_state_load(path, &back, err, sizeof(err)), -ENOENT);
	unlink(moved);
	fx_fini(&f);
}

/* ---- the real vw ---- */

/* vw on conf_text plus an [http] section (http_extra lines), at debug level. */
static bool vw_up(struct vw_testvw *v, const char *conf_text, const char *http_extra, const char *const env[])
{
	char text[4096];
	snprintf(text, sizeof(text), "%s\n[http]\nlisten = 127.0.0.1:0\n%s", conf_text, http_extra ? http_extra : "");
	return vw_testvw_start(v, text, VW_TESTVW_DEBUG, env) == 0;
}

static json_t *get_json(struct vw_testvw *v, const char *path, const char *hdr, int *status)
{
	char *r = NULL;
	*status = vw_test_http(v->port, "GET", path, hdr, NULL, 0, &r);
	json_t *j = r ? json_loads(r, JSON_DECODE_ANY, NULL) : NULL;
	free(r);
	return j;
}

static json_t *find_named(json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		if (!strcmp(json_string_value(json_object_get(v, key)) ?: "", name))
			return v;
	return NULL;
}

static const char *live_conf = "[feed cam]\ntype = testsrc\nsize = 320x240\n[feed mic]\ntype = testsrc\n"
			       "[stream live]\nfeeds = cam, mic\nsize = 320x240\nvideo_bitrate = 300k\n";
#define AUTH "Authorization: Bearer api-tok\r\n"

static void test_http_endpoints(void)
{
	struct vw_testvw v;
	char *r = NULL, big[70 * 1024];
	int st;
	json_t *j;

	vw_testvw_init(&v, tmp, "endpoints");
	CU_ASSERT_FATAL(vw_up(&v, live_conf, "api_token = api-tok\nview_token = view-tok\n", NULL));

	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/all", NULL, NULL, 0, NULL), 401);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/all", "Authorization: Bearer nope\r\n", NULL, 0, NULL), 401);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/all", "Authorization: Bearer view-tok\r\n", NULL, 0, NULL), 401);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/all", AUTH, NULL, 0, &r), 200);
	STR_EQ(r, "{\"live\":[\"cam\",\"mic\"]}");
	free(r);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/metrics", NULL, NULL, 0, NULL), 401);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/status", NULL, NULL, 0, NULL), 401);
	j = get_json(&v, "/api/status?token=view-tok", NULL, &st);
	CU_ASSERT_EQUAL(st, 200);
	json_t *s = find_named(json_object_get(j, "streams"), "name", "live");
	STR_EQ(json_string_value(json_object_get(s, "state")), "running");
	CU_ASSERT_FALSE(json_is_true(json_object_get(s, "muted")));
	json_decref(j);

	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/nothing", NULL, NULL, 0, &r), 404);
	CU_ASSERT_TRUE(r && strstr(r, "\"error\""));
	free(r);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams", AUTH, NULL, 0, NULL), 405);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/healthcheck", NULL, "{}", 2, NULL), 405);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/streams", AUTH, "{\"stream\":", strlen("{\"stream\":"), &r), 400);
	CU_ASSERT_TRUE(r && strstr(r, "malformed JSON"));
	free(r);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/streams", AUTH, big, sizeof(big), NULL), 413);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/all", AUTH, NULL, 0, &r), 200); /* still serving */
	STR_EQ(r, "{\"live\":[\"cam\",\"mic\"]}");
	free(r);

	/* mute and unmute a running stream: changed in place, the encoder goes on */
	j = get_json(&v, "/api/status", AUTH, &st);
	json_int_t frames0 = json_integer_value(json_object_get(find_named(json_object_get(j, "streams"), "name", "live"), "frames"));
	json_decref(j);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/streams", AUTH, "{\"stream\":\"live\",\"feeds\":[\"cam\"]}", strlen("{\"stream\":\"live\",\"feeds\":[\"cam\"]}"), NULL), 200);
	j = get_json(&v, "/api/status", AUTH, &st);
	s = find_named(json_object_get(j, "streams"), "name", "live");
	CU_ASSERT_TRUE(json_is_true(json_object_get(s, "muted")));
	CU_ASSERT_TRUE(json_integer_value(json_object_get(s, "frames")) >= frames0);
	json_decref(j);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/streams", AUTH, "{\"stream\":\"live\",\"feeds\":[\"cam\",\"mic\"]}", strlen("{\"stream\":\"live\",\"feeds\":[\"cam\",\"mic\"]}"), NULL), 200);
	j = get_json(&v, "/api/status", AUTH, &st);
	CU_ASSERT_FALSE(json_is_true(json_object_get(find_named(json_object_get(j, "streams"), "name", "live"), "muted")));
	json_decref(j);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "stream live muted"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "stream live unmuted"), 1);

	/* a destination to a relay that is not there: retried, everything else runs; then restart */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", AUTH,
				     "{\"id\":\"dead\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/in/x\",\"token\":\"relay-secret\"}", strlen("{\"id\":\"dead\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/in/x\",\"token\":\"relay-secret\"}"), NULL),
			200);
	vw_test_sleep_ms(500);
	j = get_json(&v, "/api/status", AUTH, &st);
	json_t *d = find_named(json_object_get(j, "destinations"), "id", "dead");
	CU_ASSERT_PTR_NOT_NULL(d);
	STR_NE(json_string_value(json_object_get(d, "state")), "connected");
	STR_EQ(json_string_value(json_object_get(find_named(json_object_get(j, "streams"), "name", "live"), "state")),
			       "running");
	char *text = json_dumps(j, 0);
	CU_ASSERT_PTR_NULL(strstr(text, "relay-secret"));
	free(text);
	json_decref(j);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/metrics", AUTH, NULL, 0, &r), 200);
	CU_ASSERT_TRUE(r && strstr(r, "vw_stream_running{stream=\"live\"} 1"));
	CU_ASSERT_TRUE(r && strstr(r, "# TYPE vw_destination_connected gauge"));
	free(r);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "relay-secret"), 0); /* tokens are never logged */

	CU_ASSERT_FATAL(vw_testvw_start(&v, NULL, NULL, NULL) == 0); /* the same file and state */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/destinations/dead", AUTH, NULL, 0, &r), 200);
	CU_ASSERT_TRUE(r && strstr(r, "ws://127.0.0.1:9/in/x"));
	free(r);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* A stream whose settings the encoder refuses (MP2 has no 100 kbit/s) is not "running": the
 * file's stream shows as failed with the reason, and an API request for one is answered with
 * the reason and taken back; the stream next to it runs on. Error counters are in the status
 * and in /metrics. */
static void test_encoder_refusal_reported(void)
{
	struct vw_testvw v;
	char *r = NULL;
	int st;
	json_t *j;
	static const char *conf = "[feed cam]\ntype = testsrc\nsize = 320x240\n[feed mic]\ntype = testsrc\n"
				  "[stream live]\nfeeds = cam, mic\nsize = 320x240\nvideo_bitrate = 300k\n"
				  "[stream bad]\nfeeds = cam, mic\nsize = 320x240\naudio_bitrate = 100k\n";
	static const char *post = "{\"stream\":\"worse\",\"feeds\":[\"cam\",\"mic\"],\"audio_bitrate\":\"100k\"}";

	vw_testvw_init(&v, tmp, "refusal");
	CU_ASSERT_FATAL(vw_up(&v, conf, "api_token = api-tok\n", NULL));
	j = get_json(&v, "/api/status", AUTH, &st);
	CU_ASSERT_EQUAL(st, 200);
	json_t *bad = find_named(json_object_get(j, "streams"), "name", "bad");
	json_t *live = find_named(json_object_get(j, "streams"), "name", "live");
	printf("\n    bad: %s (%s)\n", json_string_value(json_object_get(bad, "state")),
	       json_string_value(json_object_get(bad, "error")));
	STR_EQ(json_string_value(json_object_get(bad, "state")), "failed");
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(bad, "error")) ?: "", "mp2"));
	STR_EQ(json_string_value(json_object_get(live, "state")), "running");
	STR_EQ(json_string_value(json_object_get(live, "error")), "");
	CU_ASSERT_TRUE(json_is_integer(json_object_get(live, "encode_errors")));
	CU_ASSERT_TRUE(json_is_integer(json_object_get(live, "mux_errors")));
	json_decref(j);

	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/metrics", AUTH, NULL, 0, &r), 200);
	CU_ASSERT_TRUE(r && strstr(r, "vw_stream_running{stream=\"bad\"} 0"));
	CU_ASSERT_TRUE(r && strstr(r, "vw_stream_running{stream=\"live\"} 1"));
	CU_ASSERT_TRUE(r && strstr(r, "# TYPE vw_stream_encode_errors_total counter"));
	CU_ASSERT_TRUE(r && strstr(r, "vw_stream_encode_errors_total{stream=\"live\"} 0"));
	CU_ASSERT_TRUE(r && strstr(r, "vw_stream_mux_errors_total{stream=\"live\"} 0"));
	free(r);

	st = vw_test_http(v.port, "POST", "/api/streams", AUTH, post, strlen(post), &r);
	printf("    POST %s: %d %s\n", post, st, r ? r : "");
	CU_ASSERT_EQUAL(st, 400);
	CU_ASSERT_TRUE(r && strstr(r, "\"error\"") && strstr(r, "mp2"));
	free(r);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/api/streams/worse", AUTH, NULL, 0, NULL), 404);
	j = get_json(&v, "/api/status", AUTH, &st);
	CU_ASSERT_PTR_NULL(find_named(json_object_get(j, "streams"), "name", "worse"));
	STR_EQ(json_string_value(json_object_get(find_named(json_object_get(j, "streams"), "name", "live"), "state")),
	       "running");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "api_changes")), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	/* the file's broken stream is reported when it is started, not again at every change */
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "cannot start stream bad"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "cannot start stream worse"), 1);
}

/* kill -9 while requests are in flight: the file is always whole, and holds every change that
 * was acknowledged. */
struct burst {
	int port;
	atomic_int acked;
	atomic_bool stop;
};

static void *burst_main(void *arg)
{
	struct burst *b = arg;
	for (int i = 0; i < 2000 && !atomic_load(&b->stop); i++) {
		char body[256];
		int n = snprintf(body, sizeof(body), "{\"id\":\"d%d\",\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:9/in/%d\"}", i, i);
		if (vw_test_http(b->port, "POST", "/api/destinations", NULL, body, (size_t)n, NULL) != 200)
			break;
		atomic_store(&b->acked, i + 1);
	}
	return NULL;
}

static void test_kill9_mid_burst(void)
{
	struct vw_testvw v;
	struct burst b;
	pthread_t t;
	char err[600];
	json_t *doc = NULL;

	vw_testvw_init(&v, tmp, "burst");
	CU_ASSERT_FATAL(vw_up(&v, "[feed cam]\ntype = testsrc\nsize = 160x120\n[stream live]\nfeeds = cam\nsize = 160x120\n", NULL, NULL));
	b.port = v.port;
	atomic_init(&b.acked, 0);
	atomic_init(&b.stop, false);
	pthread_create(&t, NULL, burst_main, &b);
	for (int i = 0; i < 400 && atomic_load(&b.acked) < 40; i++)
		vw_test_sleep_ms(10);
	kill(v.pid, SIGKILL);
	atomic_store(&b.stop, true);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(vw_test_wait(v.pid, 5000, NULL), 128 + SIGKILL);
	int acked = atomic_load(&b.acked);
	printf("  kill -9 after %d acknowledged changes\n", acked);
	CU_ASSERT_TRUE(acked >= 10);
	CU_ASSERT_EQUAL_FATAL(vw_state_load(v.state, &doc, err, sizeof(err)), 0);
	struct vw_config *base = vw_test_config("[feed cam]\ntype = testsrc\n[stream live]\nfeeds = cam\n");
	CU_ASSERT_EQUAL(vw_api_state_check(base, doc, err, sizeof(err)), 0);
	free(base);
	int missing = 0;
	for (int i = 0; i < acked; i++) {
		char id[16];
		snprintf(id, sizeof(id), "d%d", i);
		missing += !json_object_get(json_object_get(doc, "destinations"), id);
	}
	CU_ASSERT_EQUAL(missing, 0);
	json_decref(doc);

	/* and it starts again from there */
	CU_ASSERT_FATAL(vw_testvw_start(&v, NULL, NULL, NULL) == 0);
	int st = 0;
	json_t *all = NULL;
	for (int i = 0; i < 200 && st != 200; i++) {
		json_decref(all);
		all = get_json(&v, "/api/destinations/all", NULL, &st);
		if (st != 200)
			vw_test_sleep_ms(50);
	}
	CU_ASSERT_TRUE((int)json_object_size(all) >= acked);
	json_decref(all);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- ingest ---- */

static void test_ingest_ffmpeg_byte_identical(void)
{
	struct vw_testvw v;
	struct vw_testrelay rl;
	char ref[700], url[128], body[300], ffmpeg_log[700];
	uint8_t *want = NULL, *got = NULL;
	size_t want_len = 0, got_len = 0;

	CU_ASSERT_FATAL(vw_testrelay_start(&rl, tmp, "ingest", "plain", NULL) == 0);
	vw_testvw_init(&v, tmp, "ingest");
	CU_ASSERT_FATAL(vw_up(&v, "", NULL, NULL));
	/* vw's order: the destination names the feed before any encoder has connected */
	int n = snprintf(body, sizeof(body), "{\"id\":\"r\",\"stream\":\"cam1\",\"destination\":\"ws://127.0.0.1:%d/in/cam1\"}", rl.port);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/destinations", NULL, body, (size_t)n, NULL), 200);
	vw_test_sleep_ms(300);

	/* what ffmpeg makes of the clip is the reference: the same command, to a file */
	snprintf(ref, sizeof(ref), "%s/ref.ts", tmp);
	snprintf(ffmpeg_log, sizeof(ffmpeg_log), "%s/ffmpeg.log", tmp);
	const char *mk[] = {"ffmpeg", "-nostdin", "-y", "-i", VW_TEST_MEDIA("sample-jsmpeg.ts"), "-c", "copy", "-f", "mpegts", ref, NULL};
	CU_ASSERT_EQUAL_FATAL(vw_test_run(mk, NULL, ffmpeg_log, 60000), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ts/cam1", v.port);
	const char *push[] = {"ffmpeg", "-nostdin", "-re", "-i", VW_TEST_MEDIA("sample-jsmpeg.ts"), "-c", "copy", "-f", "mpegts", url, NULL};
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL(vw_test_run(push, NULL, ffmpeg_log, 60000), 0); /* 0: vw answered 200 at the end */
	printf("  ffmpeg -re pushed for %.1f s\n", (double)(vw_test_now_ns() - t0) / 1e9);
	vw_test_sleep_ms(500);

	int st;
	json_t *j = get_json(&v, "/api/status", NULL, &st);
	json_t *feed = find_named(json_object_get(j, "feeds"), "name", "cam1");
	STR_EQ(json_string_value(json_object_get(feed, "type")), "ingest");
	CU_ASSERT_TRUE(json_integer_value(json_object_get(feed, "keyframes")) > 0);
	json_decref(j);
	vw_testrelay_stop(&rl);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);

	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(ref, &want, &want_len), 0);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(rl.out, &got, &got_len), 0);
	printf("  reference %zu bytes, relay got %zu\n", want_len, got_len);
	CU_ASSERT_TRUE(got_len > want_len / 2);
	CU_ASSERT_EQUAL(got_len % 188, 0);
	/* the relay starts at a keyframe (PAT first) and has everything after it, unchanged */
	CU_ASSERT_TRUE(got_len >= 4 && got[0] == 0x47 && got[1] == 0x40 && got[2] == 0x00);
	bool found = false;
	for (size_t off = 0; off + got_len <= want_len && !found; off += 188)
		found = !memcmp(want + off, got, got_len) && off + got_len == want_len;
	CU_ASSERT_TRUE(found);
	free(want);
	free(got);
}

static void test_ingest_over_100MiB_and_garbage(void)
{
	struct vw_testvw v;
	char url[128], *r = NULL, ffmpeg_log[700];
	int st;

	vw_testvw_init(&v, tmp, "big");
	/* junk is refused where the feed is declared MPEG-TS; elsewhere it is raw data (test_compat) */
	CU_ASSERT_FATAL(vw_up(&v, "[feed junk]\ntype = ingest\nformat = ts\n", NULL, NULL));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ts/big", v.port);
	snprintf(ffmpeg_log, sizeof(ffmpeg_log), "%s/ffmpeg-big.log", tmp);
	/* 160 loops of the 737 kB clip: 118 MB, as fast as ffmpeg remuxes, one chunked POST */
	const char *push[] = {"ffmpeg", "-nostdin", "-stream_loop", "160", "-i", VW_TEST_MEDIA("sample-jsmpeg.ts"), "-c", "copy",
			      "-f", "mpegts", url, NULL};
	int64_t t0 = vw_test_now_ns();
	CU_ASSERT_EQUAL(vw_test_run(push, NULL, ffmpeg_log, 240000), 0);
	json_t *j = NULL, *feed = NULL;
	/* ffmpeg may be gone before vw has read the last of its bytes: wait for the end of the body */
	for (int i = 0; i < 200; i++) {
		json_decref(j);
		j = get_json(&v, "/api/status", NULL, &st);
		feed = find_named(json_object_get(j, "feeds"), "name", "big");
		if (feed && !json_is_true(json_object_get(feed, "connected")))
			break;
		vw_test_sleep_ms(50);
	}
	double secs = (double)(vw_test_now_ns() - t0) / 1e9;
	json_int_t bytes = json_integer_value(json_object_get(feed, "bytes"));
	printf("  ingest of %lld bytes in %.1f s (%.0f Mbit/s)\n", (long long)bytes, secs, (double)bytes * 8 / secs / 1e6);
	CU_ASSERT_TRUE(bytes > 104857600LL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(feed, "rejected")), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "feed big: encoder"), 2); /* connected, finished */

	/* not MPEG-TS: refused with a reason, logged, nothing forwarded */
	static const char page[] = "<!doctype html><html><body>this is not a transport stream</body></html>\n";
	char *junk = malloc(200000);
	for (size_t i = 0; i < 200000; i++)
		junk[i] = page[i % (sizeof(page) - 1)];
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/ts/junk", NULL, junk, 200000, &r), 400);
	CU_ASSERT_TRUE(r && strstr(r, "not MPEG-TS") && strstr(r, "declared format = ts"));
	free(r);
	r = NULL;
	/* a feed nothing declares: the same bytes are forwarded as raw data */
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/ts/undeclared", NULL, junk, 200000, &r), 200);
	free(r);
	free(junk);
	CU_ASSERT_EQUAL(vw_test_count_lines(v.log, "feed junk: rejected"), 1);
	j = get_json(&v, "/api/status", NULL, &st);
	feed = find_named(json_object_get(j, "feeds"), "name", "junk");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(feed, "chunks")), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(feed, "rejected")), 1);
	STR_EQ(json_string_value(json_object_get(feed, "format")), "ts");
	feed = find_named(json_object_get(j, "feeds"), "name", "undeclared");
	STR_EQ(json_string_value(json_object_get(feed, "format")), "auto");
	STR_EQ(json_string_value(json_object_get(feed, "detected")), "raw");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(feed, "bytes")), 200000);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(feed, "rejected")), 0);
	json_decref(j);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "GET", "/ts/junk", NULL, NULL, 0, NULL), 405);
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/ts/a/../b", NULL, "x", 1, NULL), 400);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

/* ---- the WS/JSON control channel ---- */

static void test_ws_channel(void)
{
	struct vw_testvw v;
	struct vw_testrelay rl;
	char env_api[128], cmd_log[700], dest[300];

	CU_ASSERT_FATAL(vw_testrelay_start(&rl, tmp, "bi", "bi", NULL) == 0);
	vw_testvw_init(&v, tmp, "wsapi");
	snprintf(env_api, sizeof(env_api), "VW_API=ws://127.0.0.1:%d/bi/vw-control", rl.port);
	const char *env[] = {env_api, NULL};
	CU_ASSERT_FATAL(vw_up(&v, live_conf, NULL, env));
	snprintf(dest, sizeof(dest), "{\"verb\":\"add\",\"what\":\"destination\",\"rule\":{\"stream\":\"live\",\"destination\":\"ws://127.0.0.1:%d/in/live\",\"id\":\"0\"}}",
		 rl.port);
	char url[128];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/bi/vw-control", rl.port);
	snprintf(cmd_log, sizeof(cmd_log), "%s/ws-command.out", tmp);
	const char *argv[] = {"node", VW_SOURCE_DIR "/tests/relay/ws-command.js", "--url", url,
			      "{\"verb\":\"healthcheck\"}",
			      dest,
			      "{\"verb\":\"add\",\"what\":\"stream\",\"rule\":{\"stream\":\"video0\",\"feeds\":[\"video0\",\"audio0\"]}}",
			      "{\"verb\":\"list\",\"what\":\"stream\",\"which\":\"video0\"}",
			      "{\"verb\":\"list\",\"what\":\"destination\",\"which\":\"all\"}",
			      "{\"verb\":\"delete\",\"what\":\"destination\",\"which\":\"apiRule\"}",
			      "{\"verb\":\"delete\",\"what\":\"stream\",\"which\":\"video0\"}",
			      "{\"verb\":\"delete\",\"what\":\"destination\",\"which\":\"all\"}",
			      "{\"verb\":\"list\",\"what\":\"destination\",\"which\":\"all\"}",
			      "Not even JSON",
			      NULL};
	CU_ASSERT_EQUAL(vw_test_run(argv, NULL, cmd_log, 60000), 0);
	FILE *f = fopen(cmd_log, "r");
	char line[4096];
	json_t *replies = json_array();
	while (f && fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);
		json_t *rep = json_object_get(o, "reply");
		json_array_append(replies, rep ? rep : json_null());
		json_decref(o);
	}
	if (f)
		fclose(f);
	CU_ASSERT_EQUAL_FATAL(json_array_size(replies), 10);
	char *s[10];
	for (int i = 0; i < 10; i++)
		s[i] = json_dumps(json_array_get(replies, (size_t)i), JSON_COMPACT | JSON_ENCODE_ANY);
	STR_EQ(s[0], "{\"healthcheck\":\"ok\"}");
	CU_ASSERT_PTR_NOT_NULL(strstr(s[1], "\"id\":\"0\""));
	STR_EQ(s[2], "{\"stream\":\"video0\",\"feeds\":[\"video0\",\"audio0\"]}");
	STR_EQ(s[3], "{\"feeds\":[\"video0\",\"audio0\"]}");
	CU_ASSERT_PTR_NOT_NULL(strstr(s[4], "\"apiRule\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(s[4], "\"0\""));
	STR_EQ(s[5], "{\"error\":\"Cannot delete apiRule\"}");
	STR_EQ(s[6], "{\"deleted\":\"video0\"}");
	STR_EQ(s[7], "{\"deleted\":\"deleteAll\"}");
	CU_ASSERT_PTR_NOT_NULL(strstr(s[8], "\"apiRule\"")); /* the channel survives "delete all" */
	CU_ASSERT_PTR_NULL(strstr(s[8], "\"0\""));
	STR_EQ(s[9], "{\"error\":\"Unrecognised Command\"}");
	for (int i = 0; i < 10; i++)
		free(s[i]);
	json_decref(replies);
	/* the destination the channel added really ran: the relay had a connection on /in/live */
	CU_ASSERT_TRUE(vw_test_count_lines(rl.log, "\"path\":\"/in/live\"") >= 1);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
	vw_testrelay_stop(&rl);
}

static const struct vw_test_suite suite = {.dir = &tmp};

VW_TEST_SUITE("api", &suite,
	      {"streams", test_streams},
	      {"destinations", test_destinations},
	      {"go_leniency", test_go_leniency},
	      {"bad_requests_change_nothing", test_bad_requests_change_nothing},
	      {"ws_commands", test_ws_commands},
	      {"state_file", test_state_file},
	      {"http_endpoints", test_http_endpoints},
	      {"kill9_mid_burst", test_kill9_mid_burst},
	      {"ingest_ffmpeg_byte_identical", test_ingest_ffmpeg_byte_identical},
	      {"ingest_over_100MiB_and_garbage", test_ingest_over_100MiB_and_garbage},
	      {"ws_channel", test_ws_channel},
	      {"encoder_refusal_reported", test_encoder_refusal_reported})
