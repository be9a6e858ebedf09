/* Tests of vw_controls: control keys in the configuration (syntax, aliases, "FILE:LINE: message"),
 * name normalization and value syntax, then against the fake camera (listing, applying with auto
 * modes first, read back through another descriptor, bad settings logged and skipped), the ALSA
 * gain through the fake mixer, and GET/POST /api/feeds/NAME/controls on the real vw binary. */
#include "vw_api.h"
#include "vw_api_controls.h"
#include "vw_app.h"
#include "vw_config.h"
#include "vw_controls.h"
#include "vw_feed.h"
#include "vw_log.h"
#include "vw_test.h"
#include "vw_testvw.h"
#include "vw_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>

static const char *S(const char *x)
{
	return x ? x : "(null)";
}
#define STR_EQ(a, b) CU_ASSERT_STRING_EQUAL(S(a), S(b))
#define CONTAINS(hay, needle)                                                                                          \
	do {                                                                                                           \
		const char *h_ = (hay);                                                                                \
		if (!h_ || !strstr(h_, (needle)))                                                                      \
			fprintf(stderr, "\n  expected \"%s\" in \"%s\"\n", (needle), S(h_));                           \
		CU_ASSERT_PTR_NOT_NULL(h_ ? strstr(h_, (needle)) : NULL);                                              \
	} while (0)

#define CAM "/dev/video0" /* the fake camera's default path */

static char *tmp;
static struct vw_config cfg;
static char err[2048];

/* ---- configuration ---- */

static void test_config_keys(void)
{
	const char *text = "[feed cam]\n"
	                   "type = v4l2\n"
	                   "Brightness = 60%\n"
	                   "power_line_frequency = 50 Hz\n"
	                   "exposure_auto = manual_mode\n"
	                   "exposure_absolute = 100\n"
	                   "focus_auto = no\n"
	                   "[feed mic]\n"
	                   "type = alsa\n"
	                   "device = sysdefault:CARD=C920\n"
	                   "gain = 80%\n"
	                   "mixer_element = Mic\n";
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "c.conf", text, err, sizeof(err)), 0);
	const struct vw_feed_conf *cam = vw_config_feed(&cfg, "cam"), *mic = vw_config_feed(&cfg, "mic");
	CU_ASSERT_EQUAL_FATAL(cam->n_controls, 5);
	STR_EQ(cam->controls[0].name, "brightness");
	STR_EQ(cam->controls[0].value, "60%");
	CU_ASSERT_EQUAL(cam->controls[0].line, 3);
	STR_EQ(cam->controls[1].value, "50 Hz");
	STR_EQ(cam->controls[4].name, "focus_auto");
	CU_ASSERT_EQUAL_FATAL(mic->n_controls, 1);
	STR_EQ(mic->controls[0].name, "gain");
	STR_EQ(mic->controls[0].value, "80%");
	STR_EQ(mic->mixer_element, "Mic");
	STR_EQ(mic->mixer, "");

	/* SIGHUP must see a changed control */
	struct vw_config *other = malloc(sizeof(*other));
	char changed[1024];
	snprintf(changed, sizeof(changed), "%s", text);
	memcpy(strstr(changed, "60%"), "70%", 3);
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(other, "c.conf", changed, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(vw_feed_conf_equal(cam, vw_config_feed(other, "cam")));
	CU_ASSERT_TRUE(vw_feed_conf_equal(mic, vw_config_feed(other, "mic")));
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(other, "c.conf", text, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(vw_feed_conf_equal(cam, vw_config_feed(other, "cam")));
	free(other);

	static const struct {
		const char *text, *err;
	} bad[] = {
	    {"[feed a]\ntype = v4l2\nexposure_auto = 1\nauto_exposure = 3\n",
	     "c.conf:4: 'auto_exposure' names the same control as 'exposure_auto' (line 3)"},
	    {"[feed a]\ntype = v4l2\ncontrol.bright-ness = 5\n", "c.conf:3: bad control name 'bright-ness'"},
	    {"[feed a]\ntype = v4l2\nbright-ness = 5\n",
	     "c.conf:3: unknown key 'bright-ness' for a v4l2 feed (did you mean 'brightness'?)"},
	    /* a typo is not taken for a camera control: the nearest key is suggested */
	    {"[feed x]\ntype = v4l2\nbogus_key = 1\n", "c.conf:3: unknown key 'bogus_key' for a v4l2 feed ("},
	    {"[feed x]\ntype = v4l2\nbrightnes = 60%\n",
	     "c.conf:3: unknown key 'brightnes' for a v4l2 feed (did you mean 'brightness'?)"},
	    {"[feed x]\ntype = v4l2\nsise = 640x480\n", "c.conf:3: unknown key 'sise' for a v4l2 feed (did you mean 'size'?)"},
	    {"[feed x]\ntype = alsa\ngian = 80%\n", "c.conf:3: unknown key 'gian' for an alsa feed (did you mean 'gain'?)"},
	    {"[feed a]\ntype = v4l2\nbrightness =\n", "c.conf:3: control 'brightness' needs a value"},
	    {"[feed a]\ntype = v4l2\nrate = 48000\n", "c.conf:3: unknown key 'rate' for a v4l2 feed"},
	    {"[feed a]\ntype = alsa\ngain = loud\n", "c.conf:3: bad gain 'loud'"},
	    {"[feed a]\ntype = alsa\ngain = 120%\n", "c.conf:3: bad gain '120%'"},
	    {"[feed a]\ntype = alsa\nbrightness = 5\n", "c.conf:3: unknown key 'brightness' for an alsa feed"},
	    {"[feed a]\ntype = testsrc\nbrightness = 5\n", "c.conf:3: unknown key 'brightness' for a testsrc feed"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		CU_ASSERT_EQUAL(vw_config_parse(&cfg, "c.conf", bad[i].text, err, sizeof(err)), -EINVAL);
		CU_ASSERT_EQUAL(strncmp(err, bad[i].err, strlen(bad[i].err)), 0);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)))
			fprintf(stderr, "\n  got '%s'\n  want '%s'\n", err, bad[i].err);
	}
	/* a bounded count per feed */
	char many[4096] = "[feed a]\ntype = v4l2\n";
	for (int i = 0; i <= VW_MAX_CONTROLS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "control.c%d = 1\n", i);
	CU_ASSERT_EQUAL(vw_config_parse(&cfg, "c.conf", many, err, sizeof(err)), -EINVAL);
	CONTAINS(err, "c.conf:35: too many controls (at most 32 per feed)");

	/* the kernel's names in any case, old names, and a driver's own control with `control.` */
	const char *good = "[feed a]\ntype = v4l2\nBrightness = 60%\nexposure_auto_priority = 0\n"
	                   "control.led1_mode = off\nfocus_automatic_continuous = 1\n";
	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "c.conf", good, err, sizeof(err)), 0);
	const struct vw_feed_conf *fa = vw_config_feed(&cfg, "a");
	CU_ASSERT_EQUAL_FATAL(fa->n_controls, 4);
	CU_ASSERT_STRING_EQUAL(fa->controls[0].name, "brightness");
	CU_ASSERT_STRING_EQUAL(fa->controls[2].name, "led1_mode");
	CU_ASSERT_STRING_EQUAL(fa->controls[2].value, "off");
	CU_ASSERT_EQUAL(fa->controls[2].line, 5);
}

/* ---- names and values ---- */

static void test_normalize_and_values(void)
{
	static const char *const cases[][2] = {
	    {"Auto Exposure", "auto_exposure"},
	    {"Power Line Frequency", "power_line_frequency"},
	    {"Exposure Time, Absolute", "exposure_time_absolute"},
	    {"White Balance Temperature, Auto", "white_balance_temperature_auto"},
	    {"  50 Hz ", "50_hz"},
	    {"Aperture Priority Mode", "aperture_priority_mode"},
	    {"--", ""},
	};
	char out[64];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vw_control_normalize(cases[i][0], out, sizeof(out));
		STR_EQ(out, cases[i][1]);
	}
	vw_control_normalize("Brightness", out, 4);
	STR_EQ(out, "bri");
	STR_EQ(vw_control_alias("exposure_auto"), "auto_exposure");
	STR_EQ(vw_control_alias("focus_automatic_continuous"), "focus_auto");
	STR_EQ(vw_control_alias("white_balance_temperature_auto"), "white_balance_automatic");
	CU_ASSERT_PTR_NULL(vw_control_alias("brightness"));
	CU_ASSERT_TRUE(vw_control_name_matches("exposure_absolute", "exposure_time_absolute"));
	CU_ASSERT_TRUE(vw_control_name_matches("Brightness", "brightness"));
	CU_ASSERT_FALSE(vw_control_name_matches("contrast", "brightness"));

	struct vw_control_info in = {.name = "focus_absolute", .type = VW_CONTROL_INT, .min = 0, .max = 250, .step = 5};
	int64_t v;
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "100%", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 250);
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "0%", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "33%", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 85); /* 82.5 rounded to the step */
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "120", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 120);
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "300", &v, err, sizeof(err)), -ERANGE);
	STR_EQ(err, "focus_absolute: 300 is out of range 0..250");
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "101%", &v, err, sizeof(err)), -ERANGE);
	CU_ASSERT_EQUAL(vw_control_value_parse(&in, "lots", &v, err, sizeof(err)), -EINVAL);
	CONTAINS(err, "range 0..250");

	struct vw_control_info menu = {.name = "power_line_frequency",
	                               .type = VW_CONTROL_MENU,
	                               .min = 0,
	                               .max = 2,
	                               .menu = {"Disabled", "50 Hz", "60 Hz"},
	                               .n_menu = 3};
	CU_ASSERT_EQUAL(vw_control_value_parse(&menu, "50_hz", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(vw_control_value_parse(&menu, "60 Hz", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 2);
	CU_ASSERT_EQUAL(vw_control_value_parse(&menu, "0", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(vw_control_value_parse(&menu, "3", &v, err, sizeof(err)), -EINVAL);
	STR_EQ(err, "power_line_frequency: '3' is not one of disabled (0), 50_hz (1), 60_hz (2)");

	struct vw_control_info b = {.name = "focus_automatic_continuous", .type = VW_CONTROL_BOOL, .max = 1, .step = 1};
	CU_ASSERT_EQUAL(vw_control_value_parse(&b, "off", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(vw_control_value_parse(&b, "Yes", &v, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(v, 1);
	CU_ASSERT_EQUAL(vw_control_value_parse(&b, "2", &v, err, sizeof(err)), -EINVAL);
	b.readonly = true;
	CU_ASSERT_EQUAL(vw_control_value_parse(&b, "1", &v, err, sizeof(err)), -EINVAL);
	CONTAINS(err, "read-only");
}

/* ---- the fake camera ---- */

/* Unplugging resets the fake device's values: every test starts from the defaults. */
static void cam_reset(void)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/unplug", tmp);
	setenv("VWFAKECAM_UNPLUG", path, 1);
	vw_test_write_file(path, "", 0);
	int fd = open(CAM, O_RDWR);
	CU_ASSERT_EQUAL(fd, -1);
	unlink(path);
	unsetenv("VWFAKECAM_UNPLUG");
}

static int32_t g_ctrl(int fd, uint32_t id)
{
	struct v4l2_control c = {.id = id, .value = -12345};
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_G_CTRL, &c), 0);
	return c.value;
}

static const struct vw_control_info *find(const struct vw_control_info *c, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return &c[i];
	return NULL;
}

static void test_list_v4l2(void)
{
	struct vw_control_info c[VW_CONTROLS_MAX];
	const struct vw_control_info *x;

	cam_reset();
	int n = vw_controls_list_v4l2(CAM, c, VW_CONTROLS_MAX, err, sizeof(err));
	CU_ASSERT_EQUAL_FATAL(n, 7);
	x = find(c, n, "brightness");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	STR_EQ(x->label, "Brightness");
	CU_ASSERT_EQUAL(x->type, VW_CONTROL_INT);
	CU_ASSERT_EQUAL(x->max, 255);
	CU_ASSERT_EQUAL(x->def, 128);
	CU_ASSERT_EQUAL(x->value, 128);
	x = find(c, n, "power_line_frequency");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(x->type, VW_CONTROL_MENU);
	CU_ASSERT_EQUAL(x->n_menu, 3);
	STR_EQ(x->menu[1], "50 Hz");
	x = find(c, n, "auto_exposure");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	STR_EQ(x->menu[0], ""); /* indexes the menu skips */
	STR_EQ(x->menu[3], "Aperture Priority Mode");
	CU_ASSERT_EQUAL(x->value, 3);
	x = find(c, n, "exposure_time_absolute");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_TRUE(x->inactive); /* auto exposure is on */
	x = find(c, n, "focus_automatic_continuous");
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	CU_ASSERT_EQUAL(x->type, VW_CONTROL_BOOL);
	CU_ASSERT_EQUAL(x->value, 1);

	CU_ASSERT_EQUAL(vw_controls_list_v4l2("/nonexistent/video9", c, VW_CONTROLS_MAX, err, sizeof(err)), -ENOENT);
	CONTAINS(err, "cannot open /nonexistent/video9");
}

static void test_apply_v4l2(void)
{
	char logpath[700], *text = NULL;
	struct vw_log log;
	size_t len;
	/* manual values first on purpose: they only take once their auto modes are off */
	struct vw_control_setting set[] = {
	    {"exposure_absolute", "100", 1},      {"focus_absolute", "50", 2}, {"brightness", "25%", 3},
	    {"power_line_frequency", "60 Hz", 4}, {"contrast", "300", 5},      {"nosuch", "1", 6},
	    {"exposure_auto", "manual_mode", 7},  {"focus_auto", "off", 8},
	};

	cam_reset();
	snprintf(logpath, sizeof(logpath), "%s/apply.log", tmp);
	FILE *out = fopen(logpath, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	vw_log_init(&log, VW_LOG_DEBUG, out);

	int other = open(CAM, O_RDWR); /* a descriptor that stays open, like the capture's */
	CU_ASSERT_FATAL(other >= 0);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_BRIGHTNESS), 128);

	/* checking changes nothing, and names the first bad setting */
	CU_ASSERT_EQUAL(vw_controls_check_v4l2(CAM, set, 5, err, sizeof(err)), -ERANGE);
	STR_EQ(err, "contrast: 300 is out of range 0..255");
	CU_ASSERT_EQUAL(vw_controls_check_v4l2(CAM, set + 5, 1, err, sizeof(err)), -EINVAL);
	CONTAINS(err, "unknown control 'nosuch' (brightness, contrast, ");
	CU_ASSERT_EQUAL(vw_controls_check_v4l2(CAM, set, 4, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_BRIGHTNESS), 128);

	CU_ASSERT_EQUAL(vw_controls_apply_v4l2(CAM, set, 8, &log, "feed:cam"), 2);
	fflush(out);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_BRIGHTNESS), 64); /* 25% of 0..255 */
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_POWER_LINE_FREQUENCY), 2);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_EXPOSURE_AUTO), V4L2_EXPOSURE_MANUAL);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_EXPOSURE_ABSOLUTE), 100);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_FOCUS_AUTO), 0);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_FOCUS_ABSOLUTE), 50);
	CU_ASSERT_EQUAL(g_ctrl(other, V4L2_CID_CONTRAST), 128); /* refused, untouched */
	close(other);

	CU_ASSERT_EQUAL(vw_test_read_file(logpath, (uint8_t **)&text, &len), 0);
	CONTAINS(text, "contrast: 300 is out of range 0..255");
	CONTAINS(text, "unknown control 'nosuch' (brightness, contrast, power_line_frequency");
	CONTAINS(text, "control brightness = 64 (asked 25%, was 128)");
	CONTAINS(text, "control power_line_frequency = 2 (60 Hz)");
	CONTAINS(text, "control auto_exposure = 1 (Manual Mode)");
	CONTAINS(text, "control exposure_time_absolute = 100");
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "not applied"), 2);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "refused by the driver"), 0);
	free(text);

	/* an auto mode left on: the driver refuses the manual value, and the log says why */
	struct vw_control_setting on[] = {{"focus_auto", "1", 1}, {"focus_absolute", "100", 2}};
	CU_ASSERT_EQUAL(vw_controls_apply_v4l2(CAM, on, 2, &log, "feed:cam"), 1);
	fflush(out);
	CU_ASSERT_EQUAL(
	    vw_test_count_lines(
	        logpath,
	        "control focus_absolute = 100 refused by the driver: Permission denied (is its auto mode on?)"),
	    1);

	/* no device: one line, and an error code */
	CU_ASSERT_EQUAL(vw_controls_apply_v4l2("/nonexistent/video9", set, 1, &log, "feed:cam"), -ENOENT);
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "controls not applied: cannot open /nonexistent/video9"), 1);
	vw_log_destroy(&log);
	fclose(out);
	cam_reset();
}

/* The capture thread applies the settings at every reopen of a camera that keeps failing: what
 * fails is logged once, what the device already holds is not news, and what changes is logged. */
static void test_apply_running_logs_once(void)
{
	static struct vw_feed f; /* only what vw_feed_apply_controls reads */
	char logpath[700];
	struct vw_log log;

	cam_reset();
	snprintf(logpath, sizeof(logpath), "%s/running.log", tmp);
	FILE *out = fopen(logpath, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	vw_log_init(&log, VW_LOG_INFO, out);
	memset(&f, 0, sizeof(f));
	pthread_mutex_init(&f.lock, NULL);
	f.log = &log;
	snprintf(f.mod, sizeof(f.mod), "feed:cam");
	f.conf.type = VW_FEED_V4L2;
	snprintf(f.conf.device, sizeof(f.conf.device), "auto"); /* the device in use is f.device */
	snprintf(f.device, sizeof(f.device), "%s", CAM);
	const struct vw_control_setting set[] = {
	    {"brightness", "100", 1}, {"nosuch", "1", 2}, {"focus_absolute", "50", 3}, {"contrast", "900", 4}};
	memcpy(f.conf.controls, set, sizeof(set));
	f.conf.n_controls = 4;

	for (int i = 0; i < 5; i++) /* five reopens */
		CU_ASSERT_EQUAL(vw_feed_apply_controls(&f), 3);
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "unknown control 'nosuch'"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "control focus_absolute = 50 refused by the driver"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "contrast: 900 is out of range"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "control brightness = 100"), 1);

	/* the API fixes one and breaks another: only the new failure is news */
	const struct vw_control_setting fix[] = {{"contrast", "90", 0}, {"power_line_frequency", "70 Hz", 0}};
	CU_ASSERT_EQUAL(vw_feed_remember_controls(&f, fix, 2), 0);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(vw_feed_apply_controls(&f), 3);
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "'70 Hz' is not one of"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "control contrast = 90"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "unknown control 'nosuch'"), 1);

	/* replugged with its defaults: the values are set again, and that is logged */
	cam_reset();
	CU_ASSERT_EQUAL(vw_feed_apply_controls(&f), 3);
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "control brightness = 100"), 2);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "unknown control 'nosuch'"), 1);

	/* a failure that went away and came back is logged again */
	snprintf(f.device, sizeof(f.device), "/nonexistent/video9");
	CU_ASSERT_EQUAL(vw_feed_apply_controls(&f), -ENOENT);
	CU_ASSERT_EQUAL(vw_feed_apply_controls(&f), -ENOENT);
	snprintf(f.device, sizeof(f.device), "%s", CAM);
	CU_ASSERT_EQUAL(vw_feed_apply_controls(&f), 3);
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "controls not applied: cannot open /nonexistent/video9"), 1);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "unknown control 'nosuch'"), 2);

	/* the API's own applies always log */
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(vw_controls_apply_v4l2(CAM, set + 1, 1, &log, "feed:cam"), 1);
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "unknown control 'nosuch'"), 4);
	vw_log_destroy(&log);
	fclose(out);
	pthread_mutex_destroy(&f.lock);
	cam_reset();
}

/* ---- ALSA gain through the fake mixer ---- */

static void read_mixer(const char *path, long *vol, long *sw)
{
	uint8_t *d = NULL;
	size_t n;
	*vol = *sw = -1;
	if (vw_test_read_file(path, &d, &n) == 0) {
		long b, c;
		if (sscanf((char *)d, "volume %ld %ld\nswitch %ld %ld", vol, &b, sw, &c) != 4)
			*vol = -1;
		else
			CU_ASSERT_EQUAL(*vol, b);
	}
	free(d);
}

static void test_alsa_gain(void)
{
	char mixer[700], logpath[700], name[VW_NAME_MAX];
	struct vw_feed_conf conf = {.type = VW_FEED_ALSA, .device = "vwfake"};
	struct vw_control_info c;
	struct vw_log log;
	long vol, sw;

	vw_controls_alsa_mixer(&conf, name, sizeof(name));
	STR_EQ(name, "default");
	static const char *const derive[][2] = {{"sysdefault:CARD=C920", "hw:CARD=C920"},
	                                        {"plughw:1,0", "hw:1"},
	                                        {"hw:CARD=Mic,DEV=0", "hw:CARD=Mic"},
	                                        {"dsnoop:2", "hw:2"}};
	for (size_t i = 0; i < sizeof(derive) / sizeof(derive[0]); i++) {
		struct vw_feed_conf d = {.type = VW_FEED_ALSA};
		vw_strlcpy(d.device, derive[i][0], sizeof(d.device));
		vw_controls_alsa_mixer(&d, name, sizeof(name));
		STR_EQ(name, derive[i][1]);
	}

	snprintf(mixer, sizeof(mixer), "%s/mixer", tmp);
	snprintf(logpath, sizeof(logpath), "%s/alsa.log", tmp);
	setenv("VWFAKEMIC_MIXER", mixer, 1);
	unlink(mixer);
	FILE *out = fopen(logpath, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	vw_log_init(&log, VW_LOG_DEBUG, out);

	CU_ASSERT_EQUAL_FATAL(vw_controls_list_alsa(&conf, &c, err, sizeof(err)), 1);
	STR_EQ(c.name, "gain");
	STR_EQ(c.label, "Capture");
	CU_ASSERT_EQUAL(c.min, 0);
	CU_ASSERT_EQUAL(c.max, 100);
	CU_ASSERT_EQUAL(c.value, 50);

	struct vw_control_setting gain = {"gain", "80%", 1};
	CU_ASSERT_EQUAL(vw_controls_apply_alsa(&conf, &gain, 1, &log, "feed:mic"), 0);
	read_mixer(mixer, &vol, &sw);
	CU_ASSERT_EQUAL(vol, 80);
	CU_ASSERT_EQUAL(sw, 1);
	vw_strlcpy(gain.value, "30", sizeof(gain.value));
	CU_ASSERT_EQUAL(vw_controls_apply_alsa(&conf, &gain, 1, &log, "feed:mic"), 0);
	read_mixer(mixer, &vol, &sw);
	CU_ASSERT_EQUAL(vol, 30);
	CU_ASSERT_EQUAL(vw_controls_list_alsa(&conf, &c, err, sizeof(err)), 1);
	CU_ASSERT_EQUAL(c.value, 30);
	CU_ASSERT_TRUE(c.has_db);
	CU_ASSERT_EQUAL(c.db_min, -5000);
	CU_ASSERT_EQUAL(c.db_max, 0);
	if (c.has_db) { /* the fake's scale: -50 dB at 0, 0.5 dB a step */
		vw_strlcpy(gain.value, "-6dB", sizeof(gain.value));
		CU_ASSERT_EQUAL(vw_controls_apply_alsa(&conf, &gain, 1, &log, "feed:mic"), 0);
		read_mixer(mixer, &vol, &sw);
		CU_ASSERT_EQUAL(vol, 88);
	}
	/* bad values: refused before anything is set, with the range */
	vw_strlcpy(gain.value, "150", sizeof(gain.value));
	CU_ASSERT_EQUAL(vw_controls_check_alsa(&conf, &gain, 1, err, sizeof(err)), -ERANGE);
	STR_EQ(err, "gain: 150 is out of range 0..100");
	struct vw_control_setting bogus = {"brightness", "1", 1};
	CU_ASSERT_EQUAL(vw_controls_check_alsa(&conf, &bogus, 1, err, sizeof(err)), -EINVAL);
	STR_EQ(err, "unknown control 'brightness' (gain)");
	CU_ASSERT_EQUAL(vw_controls_apply_alsa(&conf, &gain, 1, &log, "feed:mic"), 1);
	read_mixer(mixer, &vol, &sw);
	CU_ASSERT_TRUE(vol == 88 || vol == 30);

	/* a named element that is not there */
	vw_strlcpy(conf.mixer_element, "Boost", sizeof(conf.mixer_element));
	CU_ASSERT_EQUAL(vw_controls_list_alsa(&conf, &c, err, sizeof(err)), -ENOENT);
	STR_EQ(err, "mixer default has no element 'Boost' with a capture volume");
	fflush(out);
	CU_ASSERT_EQUAL(vw_test_count_lines(logpath, "gain = 80 of 0..100"), 1);
	vw_log_destroy(&log);
	fclose(out);
	unsetenv("VWFAKEMIC_MIXER");
}

/* One request to the controls API of `app` on cfg: the status of the answer, and the "error" of its
 * JSON body into `why` ("" without one). */
static int controls_request(struct vw_app *app, const char *method, const char *feed, const char *body, char *why,
			    size_t n)
{
	struct vw_api_reply r;
	const char *e;
	json_t *j;

	memset(&r, 0, sizeof(r));
	CU_ASSERT_EQUAL(vw_api_controls(app, &cfg, method, feed, body, body ? strlen(body) : 0, &r), 0);
	j = r.body ? json_loads(r.body, 0, NULL) : NULL;
	e = json_string_value(json_object_get(j, "error"));
	snprintf(why, n, "%s", e ? e : "");
	json_decref(j);
	free(r.body);
	return r.status;
}

/* Requests the control thread answers before it reaches a device. */
static void test_api_without_device(void)
{
	static struct vw_app app; /* no feed runs */
	char why[256];

	CU_ASSERT_EQUAL_FATAL(vw_config_parse(&cfg, "c.conf",
	                                      "[feed mic]\ntype = alsa\ndevice = auto\ngain = 50%\n"
	                                      "[feed cam]\ntype = v4l2\ndevice = auto\n",
	                                      err, sizeof(err)),
	                      0);
	/* "auto" is no PCM: the default mixer is not the microphone's, and nothing is set on it */
	CU_ASSERT_EQUAL(controls_request(&app, "GET", "mic", NULL, why, sizeof(why)), 503);
	CONTAINS(why, "feed 'mic' has no device in use");
	CU_ASSERT_EQUAL(controls_request(&app, "POST", "mic", "{\"gain\": \"10%\"}", why, sizeof(why)), 503);
	CU_ASSERT_EQUAL(controls_request(&app, "GET", "cam", NULL, why, sizeof(why)), 503);

	/* a feed name from the URL that is not UTF-8 still gets its JSON 404 */
	CU_ASSERT_EQUAL(controls_request(&app, "GET", "caf\xc3", NULL, why, sizeof(why)), 404);
	STR_EQ(why, "no feed 'caf?'");
}

/* ---- the API on the real vw ---- */


static int http_json(struct vw_testvw *v, const char *method, const char *path, const char *body, json_t **out)
{
	char *r = NULL;
	int st = vw_test_http(v->port, method, path, NULL, body, body ? strlen(body) : 0, &r);
	if (out)
		*out = r ? json_loads(r, 0, NULL) : NULL;
	free(r);
	return st;
}

static json_t *control(json_t *listing, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(listing, "controls"), i,
	                   c) if (!strcmp(json_string_value(json_object_get(c, "name")) ?: "", name)) return c;
	return NULL;
}

static long long value_of(struct vw_testvw *v, const char *name)
{
	json_t *j = NULL;
	long long x = -1;
	if (http_json(v, "GET", "/api/feeds/cam/controls", NULL, &j) == 200)
		x = json_integer_value(json_object_get(control(j, name), "value"));
	json_decref(j);
	return x;
}

/* The feed's state and the stream's encoded frames from /api/status. */
static void status(struct vw_testvw *v, char *state, size_t n, long long *frames)
{
	json_t *j = NULL, *x;
	size_t i;
	snprintf(state, n, "?");
	*frames = -1;
	if (http_json(v, "GET", "/api/status", NULL, &j) == 200) {
		json_array_foreach(json_object_get(j, "feeds"), i,
		                   x) if (!strcmp(json_string_value(json_object_get(x, "name")) ?: "", "cam"))
		    snprintf(state, n, "%s", json_string_value(json_object_get(x, "state")) ?: "?");
		json_array_foreach(json_object_get(j, "streams"), i,
		                   x) if (!strcmp(json_string_value(json_object_get(x, "name")) ?: "",
		                                  "live")) *frames = json_integer_value(json_object_get(x, "frames"));
	}
	json_decref(j);
}

static bool wait_live(struct vw_testvw *v, int ms)
{
	char st[32];
	long long frames;
	for (int64_t end = vw_test_now_ns() + (int64_t)ms * 1000000; vw_test_now_ns() < end;) {
		status(v, st, sizeof(st), &frames);
		if (!strcmp(st, "live") && frames > 0)
			return true;
		vw_test_sleep_ms(100);
	}
	return false;
}

static void test_api(void)
{
	struct vw_testvw v;
	const char *text = "[feed cam]\ntype = v4l2\ndevice = " CAM "\nsize = 320x240\nbrightness = 100\n"
	                   "exposure_auto = manual_mode\n[feed tone]\ntype = testsrc\n[stream live]\nfeeds = cam, tone\n"
	                   "size = 320x240\nvideo_bitrate = 300k\n[http]\nlisten = 127.0.0.1:0\n";
	char camlog[700], unplug[700], camlog_env[800], unplug_env[800], st[32];
	json_t *j = NULL;
	long long f0, f1;

	vw_testvw_init(&v, tmp, "api");
	snprintf(camlog, sizeof(camlog), "%s/cam.log", tmp);
	snprintf(unplug, sizeof(unplug), "%s/api-unplug", tmp);
	snprintf(camlog_env, sizeof(camlog_env), "VWFAKECAM_LOG=%s", camlog);
	snprintf(unplug_env, sizeof(unplug_env), "VWFAKECAM_UNPLUG=%s", unplug);
	const char *env[] = {camlog_env, unplug_env, NULL};
	CU_ASSERT_FATAL(vw_testvw_start(&v, text, VW_TESTVW_DEBUG, env) == 0);
	CU_ASSERT_FATAL(wait_live(&v, 15000));

	/* the file's settings reached the device at open */
	CU_ASSERT_EQUAL(http_json(&v, "GET", "/api/feeds/cam/controls", NULL, &j), 200);
	STR_EQ(json_string_value(json_object_get(j, "device")), CAM);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(control(j, "brightness"), "value")), 100);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(control(j, "auto_exposure"), "value")), 1);
	json_t *plf = control(j, "power_line_frequency");
	STR_EQ(json_string_value(json_object_get(json_array_get(json_object_get(plf, "menu"), 1), "name")), "50_hz");
	STR_EQ(json_string_value(json_object_get(control(j, "brightness"), "type")), "int");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(control(j, "brightness"), "max")), 255);
	json_decref(j);

	/* a valid set: live, read back through the API and in the camera's own log */
	CU_ASSERT_EQUAL(
	    http_json(&v, "POST", "/api/feeds/cam/controls",
	              "{\"brightness\": 200, \"power_line_frequency\": \"50_hz\", \"exposure_absolute\": \"10%\","
	              " \"focus_auto\": false}",
	              &j),
	    200);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(control(j, "brightness"), "value")), 200);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(control(j, "power_line_frequency"), "value")), 1);
	STR_EQ(json_string_value(json_object_get(json_object_get(j, "settings"), "brightness")), "200");
	json_decref(j);
	CU_ASSERT_EQUAL(value_of(&v, "exposure_time_absolute"), 3 + (2047 - 3) / 10); /* 207.4 -> 207 */
	CU_ASSERT_EQUAL(value_of(&v, "focus_automatic_continuous"), 0);
	char line[200];
	snprintf(line, sizeof(line), "s_ctrl pid=%d device=%s id=0x%x value=200", (int)v.pid, CAM, V4L2_CID_BRIGHTNESS);
	CU_ASSERT_EQUAL(vw_test_count_lines(camlog, line), 1);

	/* invalid items: 400 with the reason, and nothing changed (the valid item was not applied) */
	char *r = NULL;
	const char *bad = "{\"contrast\": 10, \"foo\": 1}";
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/feeds/cam/controls", NULL, bad, strlen(bad), &r), 400);
	CONTAINS(r, "{\"error\":\"unknown control 'foo' (brightness, contrast, ");
	free(r);
	r = NULL;
	bad = "{\"contrast\": 10, \"brightness\": 300}";
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/feeds/cam/controls", NULL, bad, strlen(bad), &r), 400);
	STR_EQ(r, "{\"error\":\"brightness: 300 is out of range 0..255\"}");
	free(r);
	r = NULL;
	bad = "{\"power_line_frequency\": \"70 Hz\"}";
	CU_ASSERT_EQUAL(vw_test_http(v.port, "POST", "/api/feeds/cam/controls", NULL, bad, strlen(bad), &r), 400);
	CONTAINS(r, "'70 Hz' is not one of disabled (0), 50_hz (1), 60_hz (2)");
	free(r);
	CU_ASSERT_EQUAL(http_json(&v, "POST", "/api/feeds/cam/controls", "{\"brightness\": ", NULL), 400);
	CU_ASSERT_EQUAL(http_json(&v, "POST", "/api/feeds/cam/controls", "[1]", NULL), 400);
	CU_ASSERT_EQUAL(value_of(&v, "contrast"), 128);
	CU_ASSERT_EQUAL(value_of(&v, "brightness"), 200);
	snprintf(line, sizeof(line), "s_ctrl pid=%d device=%s id=0x%x", (int)v.pid, CAM, V4L2_CID_CONTRAST);
	CU_ASSERT_EQUAL(vw_test_count_lines(camlog, line), 0);

	CU_ASSERT_EQUAL(http_json(&v, "GET", "/api/feeds/nosuch/controls", NULL, &j), 404);
	CONTAINS(json_string_value(json_object_get(j, "error")), "no feed 'nosuch'");
	json_decref(j);
	CU_ASSERT_EQUAL(http_json(&v, "GET", "/api/feeds/tone/controls", NULL, NULL), 400);

	/* the stream never stopped */
	status(&v, st, sizeof(st), &f0);
	vw_test_sleep_ms(500);
	status(&v, st, sizeof(st), &f1);
	STR_EQ(st, "live");
	CU_ASSERT_TRUE(f1 > f0);

	/* unplugged: 503; replugged: the camera powers up with its defaults and vw sets the file's and
	 * the API's settings again */
	CU_ASSERT_EQUAL(vw_test_write_file(unplug, "", 0), 0);
	CU_ASSERT_EQUAL(http_json(&v, "GET", "/api/feeds/cam/controls", NULL, &j), 503);
	CONTAINS(json_string_value(json_object_get(j, "error")), "cannot open " CAM);
	json_decref(j);
	for (int i = 0; i < 50; i++) {
		status(&v, st, sizeof(st), &f0);
		if (strcmp(st, "live"))
			break;
		vw_test_sleep_ms(100);
	}
	STR_EQ(st, "absent");
	unlink(unplug);
	CU_ASSERT(wait_live(&v, 20000));
	CU_ASSERT_EQUAL(value_of(&v, "brightness"), 200);
	CU_ASSERT_EQUAL(value_of(&v, "auto_exposure"), 1);
	CU_ASSERT_EQUAL(value_of(&v, "exposure_time_absolute"), 207);
	CU_ASSERT_EQUAL(value_of(&v, "power_line_frequency"), 1);
	CU_ASSERT_EQUAL(value_of(&v, "focus_automatic_continuous"), 0);

	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0);
}

static const struct vw_test_suite suite = {.dir = &tmp};

VW_TEST_SUITE("controls", &suite,
	      {"config_keys", test_config_keys},
	      {"normalize_and_values", test_normalize_and_values},
	      {"list_v4l2", test_list_v4l2},
	      {"apply_v4l2", test_apply_v4l2},
	      {"apply_running_logs_once", test_apply_running_logs_once},
	      {"alsa_gain", test_alsa_gain},
	      {"api_without_device", test_api_without_device},
	      {"api", test_api})
