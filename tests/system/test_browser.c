/* The preview page in a real browser: the vw binary serves src/www/index.html and its test stream
 * over HTTP and websockets on 127.0.0.1, and Debian's chromium, driven by tests/browser/play.js
 * (puppeteer-core), plays it with JSMpeg. Asserts what a person opening the page would see: the
 * first picture within 300 ms of the socket's first data, then pictures at the stream's rate, no
 * errors in the page; and without the view token, the page says so and plays nothing. */
#include "vw_test.h"
#include "vw_testrelay.h"
#include "vw_testvw.h"

#include <errno.h>
#include <jansson.h>
#include <linux/videodev2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN "secret-view"
#define API_TOKEN "secret-api"
#define PLAY_SECONDS "3"
#define PLAY_TIMEOUT_MS 20000

/* A test's vw: the harness's process, in a directory of the test's own (removed after it). */
struct vw_proc {
	char *dir;
	struct vw_testvw vw;
	json_t *answer; /* play.js's last answer (freed by the next play, or at the end) */
};

/* Starts the real vw with `sections` (feeds, streams, destinations; NULL: a test picture and tone)
 * and `http` (more [http] lines, may be ""), `env` added to its environment (may be NULL), and
 * waits until it answers /healthcheck (a failed assertion if not). v->dir must be made already
 * (vw_prepare). */
static int vw_start_with(struct vw_proc *v, const char *sections, const char *http, const char *const env[])
{
	char text[3072];
	int ret = -EIO;

	if (!v->dir)
		goto end;
	vw_testvw_init(&v->vw, v->dir, "vw");
	snprintf(text, sizeof(text), "%s[http]\nlisten = 127.0.0.1:0\nview_token = " TOKEN "\n%s",
		 sections ? sections
			  : "[feed test]\ntype = testsrc\n"
			    "[stream live]\nfeeds = test\nsize = 640x480\nfps = 25\n",
		 http ? http : "");
	ret = vw_testvw_start(&v->vw, text, NULL, env);
end:
	CU_ASSERT_EQUAL(ret, 0);
	return ret;
}

static void vw_prepare(struct vw_proc *v)
{
	memset(v, 0, sizeof(*v));
	v->dir = vw_test_mkdtemp("browser");
}

/* vw on a test picture and tone. */
static int vw_start(struct vw_proc *v)
{
	vw_prepare(v);
	return vw_start_with(v, NULL, NULL, NULL);
}

/* SIGTERM, then vw's exit status (-ETIMEDOUT, and SIGKILL, after 10 s). */
static int vw_stop(struct vw_proc *v)
{
	return vw_testvw_stop(&v->vw, 10000);
}

/* The end of a test: vw stopped (it must exit with 0), the tail of its log printed if the test
 * failed, its directory removed. */
static void vw_finish(struct vw_proc *v, bool ok)
{
	int ret = vw_stop(v);
	CU_ASSERT_EQUAL(ret, 0);
	json_decref(v->answer);
	v->answer = NULL;
	if (!ok || ret != 0)
		vw_testvw_print_log(&v->vw, 3000);
	if (v->dir) {
		vw_test_rmtree(v->dir);
		free(v->dir);
		v->dir = NULL;
	}
}

/* The status of a websocket handshake for `path` (101 when accepted). */
static int ws_handshake(int port, const char *path)
{
	int fd, st = vw_test_ws_open(port, path, NULL, &fd, NULL, 0);
	if (fd >= 0)
		close(fd);
	return st;
}

/* Runs play.js with `extra` arguments; returns its JSON answer (the last line of its output that
 * is a JSON object, printed; v->answer) or NULL (a failed assertion). */
static json_t *play_ms(struct vw_proc *v, const char *url, const char *const extra[], int timeout_ms)
{
	char tmo[16];
	snprintf(tmo, sizeof(tmo), "%d", timeout_ms);
	const char *argv[40] = {VW_NODE, VW_BROWSER_DIR "/play.js", "--url", url, "--seconds", PLAY_SECONDS,
				"--chromium", VW_CHROMIUM, "--timeout-ms", tmo};
	char out[700];
	size_t n = 10;
	uint8_t *data = NULL;
	size_t len;
	json_t *j = NULL;

	for (size_t i = 0; extra[i] && n + 1 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	snprintf(out, sizeof(out), "%s/play.out", v->dir);
	/* play.js bounds itself by --timeout-ms; this is the backstop should node itself hang */
	int ret = vw_test_run(argv, NULL, out, timeout_ms + 20000);
	if (ret != 0)
		printf("\n    play.js exited with %d\n", ret);
	if (vw_test_read_file(out, &data, &len) == 0) {
		char *s = (char *)data, *save = NULL;
		for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (line[0] != '{')
				continue;
			json_t *t = json_loads(line, 0, NULL);
			if (t) {
				json_decref(j);
				j = t;
			}
		}
		if (!j)
			printf("\n    play.js said:\n%s\n", (char *)data);
		free(data);
	}
	CU_ASSERT_PTR_NOT_NULL(j);
	if (j) {
		char *dump = json_dumps(j, JSON_COMPACT);
		printf("\n    play.js: %s\n", dump);
		free(dump);
	}
	json_decref(v->answer);
	v->answer = j;
	return j;
}

static json_t *play(struct vw_proc *v, const char *url, const char *const extra[])
{
	return play_ms(v, url, extra, PLAY_TIMEOUT_MS);
}

static void print_list(json_t *j, const char *key)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(j, key), i, e)
		printf("    %s: %s\n", key, json_string_value(e));
}

/* The page with the view token: the stream's first picture within 300 ms of its socket's first
 * data, then at least 60 of the 75 pictures of the next 3 s, and no error in the page. */
static void test_plays(void)
{
	struct vw_proc v;
	char url[200];
	bool ok = false;

	if (vw_start(&v) < 0)
		goto end;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=" TOKEN, v.vw.port);
	const char *extra[] = {"--stream", "live", NULL};
	json_t *j = play(&v, url, extra);
	if (!j)
		goto end;

	json_t *first = json_object_get(j, "first_frame_ms");
	CU_ASSERT_TRUE(json_is_true(json_object_get(j, "ok")));
	CU_ASSERT_TRUE(json_is_number(first));
	CU_ASSERT_TRUE(json_number_value(first) <= 300.0);
	CU_ASSERT_TRUE(json_integer_value(json_object_get(j, "frames")) >= 60);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "console_errors")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "page_errors")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "failed_requests")), 0);
	print_list(j, "console_errors");
	print_list(j, "page_errors");
	print_list(j, "failed_requests");
	ok = json_is_true(json_object_get(j, "ok")) && json_number_value(first) <= 300.0;
end:
	vw_finish(&v, ok);
}

/* The page without the token: the status request is refused, the page says why, and no stream's
 * socket opens (the API and the sockets share the view token). */
static void test_no_token(void)
{
	struct vw_proc v;
	char url[200];
	bool ok = false;

	if (vw_start(&v) < 0)
		goto end;
	CU_ASSERT_EQUAL(vw_test_http(v.vw.port, "GET", "/api/status", NULL, NULL, 0, NULL), 401);
	/* the sockets are guarded too, not just the page's way to find them */
	int ws_without = ws_handshake(v.vw.port, "/live/live"), ws_with = ws_handshake(v.vw.port, "/live/live?token=" TOKEN);
	printf("\n    websocket handshake on /live/live: %d without the token, %d with it\n", ws_without, ws_with);
	CU_ASSERT_NOT_EQUAL(ws_without, 101);
	CU_ASSERT_EQUAL(ws_with, 101);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", v.vw.port);
	const char *extra[] = {"--expect-error", NULL};
	json_t *j = play(&v, url, extra);
	if (!j)
		goto end;
	const char *text = json_string_value(json_object_get(j, "error_text"));
	CU_ASSERT_TRUE(json_is_true(json_object_get(j, "ok")));
	CU_ASSERT_PTR_NOT_NULL(text);
	CU_ASSERT_PTR_NOT_NULL(text ? strstr(text, "401") : NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "players_opened")), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "page_errors")), 0);
	ok = text && strstr(text, "401");
end:
	vw_finish(&v, ok);
}

static double num(json_t *j, const char *a, const char *b)
{
	json_t *x = json_object_get(j, a);
	x = b ? json_object_get(x, b) : x;
	return json_is_number(x) ? json_number_value(x) : -1e9;
}

static const char *str(json_t *j, const char *a, const char *b)
{
	json_t *x = json_object_get(j, a);
	x = b ? json_object_get(x, b) : x;
	return json_is_string(x) ? json_string_value(x) : "";
}

static bool yes(json_t *j, const char *a, const char *b)
{
	json_t *x = json_object_get(j, a);
	return json_is_true(b ? json_object_get(x, b) : x);
}

/* The setup page with the API token, on the fake camera and microphone with a Node relay as the
 * destination: what it shows and changes, each checked where it lands. Screenshots of every state
 * go to VW_SHOTS_DIR for review (live.png is the README's). */
static void test_setup_page(void)
{
	struct vw_proc v;
	char url[200], sections[2048], camlog[700], unplug[700], mixer[700];
	char env_cam[800], env_log[800], env_unplug[800], env_mixer[800], rpid[16], line[200];
	struct vw_testrelay relay = {0};
	bool ok = false;
	int ret;

	vw_prepare(&v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v.dir);
	snprintf(camlog, sizeof(camlog), "%s/cam.log", v.dir);
	snprintf(unplug, sizeof(unplug), "%s/unplug", v.dir);
	snprintf(mixer, sizeof(mixer), "%s/mixer", v.dir);
	const char *quiet[] = {"--quiet", "1", NULL};
	ret = vw_testrelay_start(&relay, v.dir, "relay", "plain", quiet);
	CU_ASSERT_EQUAL(ret, 0);

	snprintf(sections, sizeof(sections),
		 "[feed cam]\ntype = v4l2\ndevice = /dev/video0\nsize = 640x480\n"
		 "[feed mic]\ntype = alsa\ndevice = vwfake\n"
		 "[stream live]\nfeeds = cam, mic\nsize = 640x480\nfps = 25\n"
		 "[destination relay]\nstream = live\nurl = ws://127.0.0.1:%d/in/live\n"
		 "[recorder rec]\nstream = live\ndir = %s/rec\n",
		 relay.port, v.dir);
	/* the sanitizer runtime first when vw is sanitized, then the fake camera */
	snprintf(env_cam, sizeof(env_cam), "LD_PRELOAD=%s", VW_BROWSER_PRELOAD);
	snprintf(env_log, sizeof(env_log), "VWFAKECAM_LOG=%s", camlog);
	snprintf(env_unplug, sizeof(env_unplug), "VWFAKECAM_UNPLUG=%s", unplug);
	snprintf(env_mixer, sizeof(env_mixer), "VWFAKEMIC_MIXER=%s", mixer);
	const char *env[] = {env_cam, env_log, env_unplug, env_mixer, NULL};
	if (vw_start_with(&v, sections, "api_token = " API_TOKEN "\n", env) < 0)
		goto end;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=" API_TOKEN, v.vw.port);
	snprintf(rpid, sizeof(rpid), "%d", (int)relay.pid);
	const char *extra[] = {"--stream", "live", "--setup", "--shots", VW_SHOTS_DIR, "--camlog", camlog,
			       "--control", "cam:brightness=200", "--locked", "cam:exposure_time_absolute=100",
			       "--then", "cam:auto_exposure=1", "--then", "cam:exposure_time_absolute=100",
			       "--dest", "relay", "--relay-pid", rpid, "--unplug", unplug, NULL};
	json_t *j = play_ms(&v, url, extra, 90000);
	if (!j)
		goto end;
	CU_ASSERT_TRUE(yes(j, "ok", NULL));
	CU_ASSERT_TRUE(num(j, "frames", NULL) >= 60);

	/* the delay the page shows is the one the viewer gets: measured from the barcode of each
	 * decoded picture, its capture time in the camera's log and this machine's monotonic clock */
	double real = num(j, "delay", "real_median_ms"), off = num(j, "delay", "page_minus_real_median_ms");
	printf("    capture -> page: %.1f ms measured (median of %.0f pictures), the page's own figure %+.1f ms from it; "
	       "the page shows \"%s\"\n",
	       real, num(j, "delay", "matched"), off, str(j, "delay", "page_shows"));
	CU_ASSERT_TRUE(num(j, "delay", "matched") >= 40);
	CU_ASSERT_TRUE(real > 0 && real < 300);
	CU_ASSERT_TRUE(off > -20 && off < 20);
	CU_ASSERT_PTR_NOT_NULL(strstr(str(j, "delay", "page_shows"), "ms"));

	/* the API token: controls and the stream's mute, apart from the page's own sound */
	CU_ASSERT_STRING_EQUAL(str(j, "ui", "access"), "controls enabled");
	CU_ASSERT_TRUE(num(j, "ui", "control_widgets") >= 7);
	CU_ASSERT_EQUAL(num(j, "ui", "mute_buttons"), 1);
	CU_ASSERT_EQUAL(num(j, "ui", "sound_buttons"), 1);
	CU_ASSERT_TRUE(yes(j, "dest_connected", NULL));

	/* a slider moved on the page reaches the camera: its own log of S_CTRL, and its value read back
	 * through a descriptor of its own (the API opens the device anew) */
	CU_ASSERT_STRING_EQUAL(str(j, "control", "state"), "ok");
	CU_ASSERT_STRING_EQUAL(str(j, "control", "value"), "200");
	snprintf(line, sizeof(line), "s_ctrl pid=%d device=/dev/video0 id=0x%x value=200", (int)v.vw.pid, V4L2_CID_BRIGHTNESS);
	/* once from the page, once more when vw set it again after the replug below */
	CU_ASSERT_EQUAL(vw_test_count_lines(camlog, line), 2);
	char *listing = NULL;
	CU_ASSERT_EQUAL(vw_test_http(v.vw.port, "GET", "/api/feeds/cam/controls", "Authorization: Bearer " API_TOKEN "\r\n",
				     NULL, 0, &listing),
			200);
	CU_ASSERT_PTR_NOT_NULL(listing ? strstr(listing, "\"name\":\"brightness\",\"label\":\"Brightness\",\"type\":\"int\","
						    "\"min\":0,\"max\":255,\"step\":1,\"default\":128,\"value\":200")
				       : NULL);
	free(listing);
	/* a manual value under its auto mode: the page shows the refusal, the camera got nothing */
	CU_ASSERT_STRING_EQUAL(str(j, "locked", "state"), "refused");
	CU_ASSERT_PTR_NOT_NULL(strstr(str(j, "locked", "message"), "locked while its auto mode is on"));
	CU_ASSERT_STRING_EQUAL(str(j, "locked", "value"), "250");
	/* the auto mode to manual (the menu), then the value (the slider): both applied; the camera
	 * got the value from the page and again, after the auto mode, when vw set them after the replug */
	json_t *then = json_object_get(j, "then");
	CU_ASSERT_EQUAL(json_array_size(then), 2);
	CU_ASSERT_STRING_EQUAL(str(json_array_get(then, 0), "state", NULL), "ok");
	CU_ASSERT_STRING_EQUAL(str(json_array_get(then, 1), "state", NULL), "ok");
	CU_ASSERT_STRING_EQUAL(str(json_array_get(then, 1), "value", NULL), "100");
	snprintf(line, sizeof(line), "s_ctrl pid=%d device=/dev/video0 id=0x%x value=100", (int)v.vw.pid, V4L2_CID_EXPOSURE_ABSOLUTE);
	CU_ASSERT_EQUAL(vw_test_count_lines(camlog, line), 2);
	snprintf(line, sizeof(line), "s_ctrl pid=%d device=/dev/video0 id=0x%x", (int)v.vw.pid, V4L2_CID_EXPOSURE_ABSOLUTE);
	CU_ASSERT_EQUAL(vw_test_count_lines(camlog, line), 2); /* the refused one never reached it */

	CU_ASSERT_TRUE(yes(j, "mute", "muted"));
	CU_ASSERT_TRUE(yes(j, "mute", "unmuted"));
	CU_ASSERT_PTR_NOT_NULL(strstr(str(j, "mute", "page_sound"), "sound off"));
	CU_ASSERT_TRUE(yes(j, "large", "large"));

	/* a relay that stops: "retrying" */
	CU_ASSERT_TRUE(yes(j, "retrying", "shown"));
	printf("    relay stopped: \"retrying\" after %.0f ms; camera unplugged: absent after %.0f ms (%s), live again "
	       "after %.0f ms\n",
	       num(j, "retrying", "ms"), num(j, "unplug", "ms"), str(j, "unplug", "why"), num(j, "unplug", "live_again_ms"));
	/* an unplugged camera: absent, with why, within 2 s; and back */
	CU_ASSERT_TRUE(yes(j, "unplug", "absent"));
	CU_ASSERT_TRUE(num(j, "unplug", "ms") <= 2000);
	CU_ASSERT_PTR_NOT_NULL(strstr(str(j, "unplug", "why"), "absent: "));
	CU_ASSERT_TRUE(yes(j, "unplug", "live_again"));

	/* the only errors are the refusals the page asked for (the browser logs every 4xx) */
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(j, "console_errors"), i, e)
	{
		bool expected = strstr(json_string_value(e), "409 (Conflict)") != NULL;
		if (!expected)
			printf("    console error: %s\n", json_string_value(e));
		CU_ASSERT_TRUE(expected);
	}
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "page_errors")), 0);
	print_list(j, "page_errors");

	/* the view token: everything shown, nothing to change */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/?token=" TOKEN, v.vw.port);
	const char *ro[] = {"--stream", "live", "--setup", "--shots", VW_SHOTS_DIR, "--readonly", NULL};
	j = play(&v, url, ro);
	if (!j)
		goto end;
	CU_ASSERT_TRUE(yes(j, "ok", NULL));
	CU_ASSERT_TRUE(num(j, "frames", NULL) > 0); /* it plays (the rate is test_plays' business) */
	CU_ASSERT_PTR_NOT_NULL(strstr(str(j, "ui", "access"), "read-only"));
	CU_ASSERT_EQUAL(num(j, "ui", "control_widgets"), 0);
	CU_ASSERT_EQUAL(num(j, "ui", "mute_buttons"), 0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "console_errors")), 0);
	print_list(j, "console_errors");
	ok = yes(j, "ok", NULL);
end:
	vw_finish(&v, ok);
	vw_testrelay_stop(&relay); /* play.js stopped it already, unless it failed first */
}

VW_TEST_SUITE("browser", NULL,
	      {"plays the stream in chromium", test_plays},
	      {"without the token: an error, no player", test_no_token},
	      {"the setup page: controls, delay, mute, unplug, relay, read-only", test_setup_page})
