/* Tests of vw_config: defaults, value syntax, and an exact "FILE:LINE: message" for each kind of
 * mistake; and that the vw program itself exits 2 with that message. */
#include "vw_config.h"
#include "vw_test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct vw_config cfg;
static char err[2048];

static void test_full_config_and_defaults(void)
{
	const char *text = "; comment\n"
			   "# another\n"
			   "[feed cam]\n"
			   "type = v4l2\n"
			   "device = /dev/video2\n"
			   "size = 1280x720\n"
			   "format = mjpeg\n"
			   "\n"
			   "[feed mic]\n"
			   "  type = alsa   ; indented lines are keys, not continuations\n"
			   "device = sysdefault:CARD=C920\n"
			   "channels = 1\n"
			   "[feed clip]\n"
			   "type = file\n"
			   "path = /srv/a.ts\n"
			   "loop = no\n"
			   "[stream stream/front/large]\n"
			   "feeds = cam, mic\n"
			   "size = 1280x720\n"
			   "fps = 30\n"
			   "video_bitrate = 2M\n"
			   "audio_bitrate = 96k\n"
			   "audio_rate = 48000\n"
			   "mute = yes\n"
			   "[stream small]\n"
			   "feeds = cam\n"
			   "[recorder rec]\n"
			   "stream = small\n"
			   "dir = /var/lib/vw/recordings\n"
			   "segment = 5m\n"
			   "keep = 2G\n";
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.n_feeds, 3);
	CU_ASSERT_EQUAL(cfg.n_streams, 2);
	CU_ASSERT_EQUAL(cfg.n_recorders, 1);
	const struct vw_feed_conf *cam = vw_config_feed(&cfg, "cam"), *mic = vw_config_feed(&cfg, "mic");
	CU_ASSERT_EQUAL_FATAL(cam && mic, 1);
	CU_ASSERT_EQUAL(cam->type, VW_FEED_V4L2);
	CU_ASSERT_STRING_EQUAL(cam->device, "/dev/video2");
	CU_ASSERT_EQUAL(cam->width, 1280);
	CU_ASSERT_EQUAL(cam->fps, 25);
	CU_ASSERT_EQUAL(cam->format, VW_FORMAT_MJPEG);
	CU_ASSERT_EQUAL(mic->type, VW_FEED_ALSA);
	CU_ASSERT_STRING_EQUAL(mic->device, "sysdefault:CARD=C920");
	CU_ASSERT_EQUAL(mic->channels, 1);
	CU_ASSERT_EQUAL(mic->rate, 48000);
	CU_ASSERT_FALSE(vw_config_feed(&cfg, "clip")->loop);
	const struct vw_stream_conf *big = vw_config_stream(&cfg, "stream/front/large");
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	CU_ASSERT_STRING_EQUAL(big->video_feed, "cam");
	CU_ASSERT_STRING_EQUAL(big->audio_feed, "mic");
	CU_ASSERT_EQUAL(big->fps, 30);
	CU_ASSERT_EQUAL(big->gop, 60);
	CU_ASSERT_EQUAL(big->video_bitrate, 2000000);
	CU_ASSERT_EQUAL(big->audio_bitrate, 96000);
	CU_ASSERT_TRUE(big->mute);
	const struct vw_stream_conf *small = vw_config_stream(&cfg, "small");
	CU_ASSERT_EQUAL(small->width, 640);
	CU_ASSERT_EQUAL(small->video_bitrate, 1000000);
	CU_ASSERT_EQUAL(small->audio_rate, 44100);
	CU_ASSERT_STRING_EQUAL(small->audio_feed, "");
	CU_ASSERT_EQUAL(cfg.recorders[0].segment_ns, 300LL * 1000000000LL);
	CU_ASSERT_EQUAL(cfg.recorders[0].keep_bytes, 2ULL << 30);
	CU_ASSERT_EQUAL(cfg.http.ws_timeout_ns, 60LL * 1000000000LL);
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "t.conf", "[http]\nws_timeout = 2m\n", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.http.ws_timeout_ns, 120LL * 1000000000LL);
}

/* Each case: a config and the exact message it must produce. */
static void test_errors_name_file_and_line(void)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"[feed a]\ntype = v4l2\n[camera b]\n", "c.conf:3: unknown section '[camera b]'"},
		{"[feed a]\ntype = ingest\nformat = mjpeg\n", "c.conf:3: bad format 'mjpeg' for an ingest feed"},
		{"[control]\ndest_file_dir = files\n", "c.conf:2: bad dest_file_dir 'files'"},
		{"[control]\ndest_dir = /x\n", "c.conf:2: unknown key 'dest_dir' for [control]"},
		{"[http]\nws_timeout = 1s\n", "c.conf:2: bad ws_timeout '1s' (expected 3s to 1h, such as 60s)"},
		{"[http]\nws_timeout = soon\n", "c.conf:2: bad ws_timeout 'soon'"},
		{"[control]\n[control]\n", "c.conf:2: [control] is defined twice"},
		{"[feed a]\ntype = v4l2\nrate = 48000\n", "c.conf:3: unknown key 'rate' for a v4l2 feed"},
		{"[feed a]\ntype = v4l2\nsize = 641x480\n", "c.conf:3: bad size '641x480'"},
		{"[feed a]\ntype = v4l2\n[stream s]\nsize = 320x240\nfeeds = a, nomic\n",
		 "c.conf:5: stream 's' names feed 'nomic', which is not defined"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = b\n", "c.conf:4: stream 's' names feed 'b', which is not defined"},
		{"[feed a]\ntype = alsa\n[stream s]\nfeeds = a\n", "c.conf:4: stream 's': feed 'a' is alsa and gives no video"},
		{"[feed a]\ntype = v4l2\n[feed m]\ntype = v4l2\n[stream s]\nfeeds = a, m\n",
		 "c.conf:6: stream 's': feed 'm' is v4l2 and gives no audio"},
		{"[feed a]\ndevice = /dev/video0\n", "c.conf:1: feed 'a' has no 'type'"},
		{"[feed a]\ntype = webcam\n", "c.conf:2: unknown feed type 'webcam'"},
		{"[feed a]\ntype = v4l2\ntype = v4l2\n", "c.conf:3: 'type' is set twice in this section (first on line 2)"},
		{"fps = 25\n[feed a]\ntype = v4l2\n", "c.conf:1: 'fps' is outside any section"},
		{"[feed a]\ntype = v4l2\nthis is not ini\n", "c.conf:3: syntax error"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\nfps = 15\n", "c.conf:5: bad fps '15' (expected 24, 25, 30, 50 or 60)"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\naudio_rate = 16000\n", "c.conf:5: bad audio_rate '16000'"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\nmute = maybe\n", "c.conf:5: bad mute 'maybe'"},
		{"[feed a]\ntype = testsrc\n[stream a/../b]\nfeeds = a\n", "c.conf:3: invalid stream name 'a/../b'"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[recorder r]\nstream = t\ndir = /tmp\n",
		 "c.conf:6: recorder 'r' names stream 't', which is not defined"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[recorder r]\nstream = s\n", "c.conf:5: recorder 'r' has no 'dir'"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[recorder r]\nstream = s\ndir=/x\nkeep = 10k\n",
		 "c.conf:8: bad keep '10k'"},
		{"[feed a]\ntype = testsrc\n[feed a]\ntype = testsrc\n", "c.conf:3: feed 'a' is defined twice"},
		{"[feed a]\ntype = file\n", "c.conf:1: file feed 'a' has no 'path'"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = s\nurl = ftp://relay/x\n",
		 "c.conf:7: unsupported URL scheme 'ftp' (expected ws, wss, http or https)"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = s\nurl = relay.example.org\n",
		 "c.conf:7: 'relay.example.org' is not a URL"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = s\nurl = wss://h:99999/in\n",
		 "c.conf:7: bad port in 'wss://h:99999/in'"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = t\nurl = wss://h/in\n",
		 "c.conf:6: destination '0' names stream 't', which is not defined"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = s\nurl = wss://h/in\nauth = magic\n",
		 "c.conf:8: unknown auth 'magic' (expected bearer, first-message, access or none)"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = s\nurl = wss://h/in\nauth = bearer\n",
		 "c.conf:8: destination '0': auth bearer needs a 'token'"},
		{"[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination 0]\nstream = s\nurl = wss://h/in\nqueue = 5\n",
		 "c.conf:8: bad queue '5'"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 0;
		int r = vw_config_parse(&cfg, "c.conf", cases[i].text, err, sizeof(err));
		if (r != -EINVAL || strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			printf("\n    case %zu: got %d '%s', want '%s'", i, r, err, cases[i].msg);
		CU_ASSERT_EQUAL(r, -EINVAL);
		CU_ASSERT_NSTRING_EQUAL(err, cases[i].msg, strlen(cases[i].msg));
	}
}

/* A token without `auth` logs in as the Go vw and its relays expect: the first message on a
 * websocket, the access POST on http(s); bearer only when asked for. */
static void test_default_auth(void)
{
	static const struct {
		const char *url, *extra;
		enum vw_auth want;
	} cases[] = {
	    {"ws://r/in/s", "token = t\n", VW_AUTH_FIRST_MESSAGE},
	    {"wss://r/in/s", "token = t\n", VW_AUTH_FIRST_MESSAGE},
	    {"https://r/access/s", "token = t\n", VW_AUTH_ACCESS},
	    {"http://r/access/s", "token = t\n", VW_AUTH_ACCESS},
	    {"wss://r/in/s", "", VW_AUTH_NONE},
	    {"https://r/in/s", "", VW_AUTH_NONE},
	    {"wss://r/in/s", "token = t\nauth = bearer\n", VW_AUTH_BEARER},
	    {"https://r/in/s", "token = t\nauth = none\n", VW_AUTH_NONE},
	};
	char text[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination d]\nstream = s\n"
		         "url = %s\n%s", cases[i].url, cases[i].extra);
		CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "d.conf", text, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(cfg.dests[0].auth, cases[i].want);
		if (cfg.dests[0].auth != cases[i].want)
			fprintf(stderr, "\n  %s %s: got %s\n", cases[i].url, cases[i].extra, vw_auth_name(cfg.dests[0].auth));
	}
}

static void test_destination_and_url(void)
{
	struct vw_url u;
	char why[256];
	const char *text = "[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n"
			   "[destination 0]\nstream = s\nurl = wss://relay.example.org/in/s\ntoken = abc\n"
			   "[destination web]\nstream = s\nurl = http://[::1]:8081/secret\nqueue = 512k\ninsecure = yes\n";
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "d.conf", text, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.n_dests, 2);
	CU_ASSERT_EQUAL(cfg.dests[0].auth, VW_AUTH_FIRST_MESSAGE); /* a token on ws(s): the Go vw's login */
	CU_ASSERT_EQUAL(cfg.dests[0].queue_ns, 2000000000LL);
	CU_ASSERT_EQUAL(cfg.dests[1].auth, VW_AUTH_NONE);
	CU_ASSERT_EQUAL(cfg.dests[1].queue_bytes, 512 * 1024);
	CU_ASSERT_TRUE(cfg.dests[1].insecure);
	CU_ASSERT_EQUAL(vw_url_parse("wss://relay.example.org/in/s?x=1", &u, why, sizeof(why)), 0);
	CU_ASSERT_TRUE(u.tls && u.websocket);
	CU_ASSERT_EQUAL(u.port, 443);
	CU_ASSERT_STRING_EQUAL(u.path, "/in/s?x=1");
	CU_ASSERT_STRING_EQUAL(u.origin, "wss://relay.example.org:443"); /* logs show no path: it may be a secret */
	CU_ASSERT_EQUAL(vw_url_parse("http://[::1]:8081", &u, why, sizeof(why)), 0);
	CU_ASSERT_STRING_EQUAL(u.host, "::1");
	CU_ASSERT_STRING_EQUAL(u.origin, "http://[::1]:8081");
	CU_ASSERT_EQUAL(u.port, 8081);
	CU_ASSERT_STRING_EQUAL(u.path, "/");
	CU_ASSERT_FALSE(u.websocket || u.tls);
	CU_ASSERT_EQUAL(vw_url_parse("ws://127.0.0.1:8080/in/x", &u, why, sizeof(why)), 0);
	CU_ASSERT_TRUE(u.websocket);
	CU_ASSERT_FALSE(u.tls);
	CU_ASSERT_EQUAL(u.port, 8080);
	CU_ASSERT_EQUAL(vw_url_parse("https://h/s", &u, why, sizeof(why)), 0);
	CU_ASSERT_TRUE(u.tls && !u.websocket);
	CU_ASSERT_EQUAL(vw_url_parse("ws://bad host/", &u, why, sizeof(why)), -EINVAL);
	CU_ASSERT_EQUAL(vw_url_parse("ws:///nohost", &u, why, sizeof(why)), -EINVAL);
}

static void test_long_line_is_an_error_not_a_split(void)
{
	char text[1024];
	char path[400];
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	snprintf(text, sizeof(text), "[feed a]\ntype = file\npath = /%s\n", path);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "l.conf", text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "l.conf:3: line too long"));
	CU_ASSERT_PTR_NULL(strstr(err, "token_file"));
	/* a JWT-sized token: the error says where a long token goes */
	char text2[1400];
	snprintf(text2, sizeof(text2), "[stream s]\nfeeds = a\n[destination d]\nstream = s\nurl = ws://h/x\ntoken = %s%s\n",
		 path, path);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text2, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:6: line too long"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "token_file"));
}

/* Nothing is cut to fit: a value longer than its field is an error with file and line, and the
 * destinations leave one place for the control channel. */
static void test_nothing_truncated(void)
{
	char text[64 * 1024], name[160], tok[900], tokfile[800];
	size_t n = 0;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	snprintf(text, sizeof(text), "[http]\nlisten = [%s]:8888\n", name);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2: bad listen"));
	snprintf(text, sizeof(text), "[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[recorder r]\nstream = %s\ndir = /tmp\n",
		 name);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:6: bad stream name"));
	snprintf(text, sizeof(text), "[feed a]\ntype = testsrc\n[stream s]\nfeeds = %s\n", name);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:4: bad feeds"));

	/* a token file holding more than a token fits */
	char *dir = vw_test_mkdtemp("config");
	snprintf(tokfile, sizeof(tokfile), "%s/token", dir);
	char big[VW_TOKEN_MAX + 10];
	memset(big, 't', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CU_ASSERT_EQUAL(vw_test_write_file(tokfile, big, strlen(big)), 0);
	snprintf(tok, sizeof(tok), "token_file = %s", tokfile);
	snprintf(text, sizeof(text), "[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n[destination d]\nstream = s\n"
				     "url = ws://127.0.0.1:1/\n%s\n", tok);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:8: the token in token_file"));
	CU_ASSERT_PTR_NULL(strstr(err, "tttttttt")); /* never echoed */
	big[VW_TOKEN_MAX - 1] = 0; /* exactly as long as a token may be */
	CU_ASSERT_EQUAL(vw_test_write_file(tokfile, big, strlen(big)), 0);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(strlen(cfg.dests[0].token), VW_TOKEN_MAX - 1);
	vw_test_rmtree(dir);
	free(dir);

	/* VW_MAX_DESTS - 1 destinations: one place stays for [api] */
	n = (size_t)snprintf(text, sizeof(text), "[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n");
	for (int i = 0; i < VW_MAX_DESTS - 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "[destination d%d]\nstream = s\nurl = ws://127.0.0.1:1/\n", i);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.n_dests, VW_MAX_DESTS - 1);
	n += (size_t)snprintf(text + n, sizeof(text) - n, "[destination one_more]\nstream = s\nurl = ws://127.0.0.1:1/\n");
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "t.conf", text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too many"));
	CU_ASSERT_TRUE(n < sizeof(text));
}

static void test_value_syntax(void)
{
	int w, h;
	int64_t v;
	uint64_t b;
	bool yes;
	CU_ASSERT_EQUAL(vw_parse_size("320x240", &w, &h), 0);
	CU_ASSERT_EQUAL(w * 1000 + h, 320240);
	CU_ASSERT_EQUAL(vw_parse_size("320x", &w, &h), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_size("320x240x", &w, &h), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_bitrate("1000k", &v), 0);
	CU_ASSERT_EQUAL(v, 1000000);
	CU_ASSERT_EQUAL(vw_parse_bitrate("1.5M", &v), 0);
	CU_ASSERT_EQUAL(v, 1500000);
	CU_ASSERT_EQUAL(vw_parse_bitrate("fast", &v), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_duration("500ms", &v), 0);
	CU_ASSERT_EQUAL(v, 500000000);
	CU_ASSERT_EQUAL(vw_parse_duration("2m", &v), 0);
	CU_ASSERT_EQUAL(v, 120000000000LL);
	CU_ASSERT_EQUAL(vw_parse_duration("-1s", &v), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_bytes("1G", &b), 0);
	CU_ASSERT_EQUAL(b, 1ULL << 30);
	CU_ASSERT_EQUAL(vw_parse_bytes("64k", &b), 0);
	CU_ASSERT_EQUAL(b, 65536);
	CU_ASSERT_EQUAL(vw_parse_bytes("1X", &b), -EINVAL);
	CU_ASSERT_EQUAL(vw_parse_bool("On", &yes), 0);
	CU_ASSERT_TRUE(yes);
	CU_ASSERT_EQUAL(vw_parse_bool("nope", &yes), -EINVAL);
	CU_ASSERT_TRUE(vw_name_valid("stream/front/large", true));
	CU_ASSERT_FALSE(vw_name_valid("stream/front/large", false));
	CU_ASSERT_FALSE(vw_name_valid("/abs", true));
	CU_ASSERT_FALSE(vw_name_valid("a//b", true));
	CU_ASSERT_FALSE(vw_name_valid("a/..", true));
	CU_ASSERT_FALSE(vw_name_valid("sp ace", true));
	CU_ASSERT_FALSE(vw_name_valid("", true));
}

static void test_equality_ignores_lines(void)
{
	struct vw_config *b = malloc(sizeof(*b));
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "a", "[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\n", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(b, "b", "\n\n[feed a]\ntype = testsrc\n[stream s]\nfeeds = a\nmute = no\n", err, sizeof(err)), 0);
	CU_ASSERT_TRUE(vw_feed_conf_equal(&cfg.feeds[0], &b->feeds[0]));
	CU_ASSERT_TRUE(vw_stream_conf_equal(&cfg.streams[0], &b->streams[0]));
	b->streams[0].mute = true;
	CU_ASSERT_FALSE(vw_stream_conf_equal(&cfg.streams[0], &b->streams[0]));
	free(b);
}

/* The program: a bad line is reported as FILE:LINE on stderr and it exits 2 without starting. */
static void test_vw_exits_2_with_file_line(void)
{
	char *dir = vw_test_mkdtemp("config");
	char conf[512], log[512];
	uint8_t *out = NULL;
	size_t len = 0;
	snprintf(conf, sizeof(conf), "%s/bad.conf", dir);
	snprintf(log, sizeof(log), "%s/out.txt", dir);
	const char *text = "[feed cam]\ntype = v4l2\n[stream s]\nfeeds = cam, mic\n";
	CU_ASSERT_EQUAL_FATAL(vw_test_write_file(conf, text, strlen(text)), 0);
	const char *argv[] = {VW_BIN, "-c", conf, NULL};
	CU_ASSERT_EQUAL(vw_test_run(argv, NULL, log, 10000), 2);
	CU_ASSERT_EQUAL(vw_test_read_file(log, &out, &len), 0);
	char want[600];
	snprintf(want, sizeof(want), "vw: %s:4: stream 's' names feed 'mic', which is not defined\n", conf);
	CU_ASSERT_STRING_EQUAL((char *)out, want);
	free(out);
	const char *missing[] = {VW_BIN, "-c", "/nonexistent/vw.conf", NULL};
	CU_ASSERT_EQUAL(vw_test_run(missing, NULL, log, 10000), 2);
	const char *badopt[] = {VW_BIN, "--log-level", "loud", NULL};
	CU_ASSERT_EQUAL(vw_test_run(badopt, NULL, log, 10000), 2);
	vw_test_rmtree(dir);
	free(dir);
}

VW_TEST_SUITE("config", NULL,
	      {"full_config_and_defaults", test_full_config_and_defaults},
	      {"errors_name_file_and_line", test_errors_name_file_and_line},
	      {"default_auth", test_default_auth},
	      {"destination_and_url", test_destination_and_url},
	      {"long_line_is_an_error_not_a_split", test_long_line_is_an_error_not_a_split},
	      {"nothing_truncated", test_nothing_truncated},
	      {"value_syntax", test_value_syntax},
	      {"equality_ignores_lines", test_equality_ignores_lines},
	      {"vw_exits_2_with_file_line", test_vw_exits_2_with_file_line})
