/* Tests of vw_devices: discovery over fake sysfs/dev trees answered by the fake camera (one webcam
 * with its metadata node and microphone, two webcams, a metadata node alone, nothing), the
 * automatic choice on hand-built listings, the libasound path on this machine, and `vw devices`
 * itself. Runs with libvwfakecam.so preloaded. */
#include "vw_devices.h"
#include "vw_test.h"
#include "vw_testvw.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define USB1 "devices/pci0000:00/0000:00:14.0/usb1/1-1"
#define USB2 "devices/pci0000:00/0000:00:14.0/usb1/1-2"
#define HDA "devices/pci0000:00/0000:00:1f.3"
#define C920_ID "usb-046d_HD_Pro_Webcam_C920_ABCD1234-video-index"
#define MJPEG_FILE VW_TEST_MEDIA("camera-640x480-25fps.mjpeg")

static char *root;

/* ---- building a fake tree ---- */

static void mkdirs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mkdirs(const char *fmt, ...)
{
	char path[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(path, 0755);
			*p = '/';
		}
	CU_ASSERT(mkdir(path, 0755) == 0 || errno == EEXIST);
}

static void put(const char *rel, const char *text)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	CU_ASSERT_EQUAL(vw_test_write_file(path, text, strlen(text)), 0);
}

static void link_to(const char *target, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	CU_ASSERT_EQUAL(symlink(target, path), 0);
}

/* /sys/class/video4linux/videoN of a node on USB interface `iface` of `usb`, and /dev/videoN. */
static void v4l_node(int n, const char *usb, const char *iface)
{
	char rel[256], target[512];
	mkdirs("%s/sys/%s/%s", root, usb, iface);
	mkdirs("%s/sys/class/video4linux/video%d", root, n);
	mkdirs("%s/dev/v4l/by-id", root);
	snprintf(rel, sizeof(rel), "sys/class/video4linux/video%d/name", n);
	put(rel, "HD Pro Webcam C920\n");
	snprintf(rel, sizeof(rel), "sys/class/video4linux/video%d/index", n);
	put(rel, n % 2 ? "1\n" : "0\n");
	snprintf(rel, sizeof(rel), "sys/class/video4linux/video%d/device", n);
	snprintf(target, sizeof(target), "../../../%s/%s", usb, iface);
	link_to(target, rel);
	snprintf(rel, sizeof(rel), "dev/video%d", n);
	put(rel, "");
}

/* /sys/class/sound/cardN on `dev` (a USB interface or a PCI function) with the PCMs in `pcms`
 * ("pcmC1D0c pcmC1D0p"). */
static void sound_card(int n, const char *id, const char *dev, const char *pcms)
{
	char rel[256], target[512], num[16], idline[64];
	mkdirs("%s/sys/%s", root, dev);
	mkdirs("%s/sys/class/sound/card%d", root, n);
	snprintf(rel, sizeof(rel), "sys/class/sound/card%d/id", n);
	snprintf(idline, sizeof(idline), "%s\n", id);
	put(rel, idline);
	snprintf(rel, sizeof(rel), "sys/class/sound/card%d/number", n);
	snprintf(num, sizeof(num), "%d\n", n);
	put(rel, num);
	snprintf(rel, sizeof(rel), "sys/class/sound/card%d/device", n);
	snprintf(target, sizeof(target), "../../../%s", dev);
	link_to(target, rel);
	char list[256];
	snprintf(list, sizeof(list), "%s", pcms);
	for (char *save = NULL, *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save))
		mkdirs("%s/sys/class/sound/%s", root, t);
}

/* A Debian 12 box with a C920: video0 capture + video1 metadata on 1-1, card 0 the onboard HDA
 * (capture and playback, PCI), card 1 the C920's microphone. */
static void c920_tree(void)
{
	v4l_node(0, USB1, "1-1:1.0");
	v4l_node(1, USB1, "1-1:1.0");
	link_to("../../video0", "dev/v4l/by-id/" C920_ID "0");
	link_to("../../video1", "dev/v4l/by-id/" C920_ID "1");
	sound_card(0, "PCH", HDA, "pcmC0D0c pcmC0D0p");
	sound_card(1, "C920", USB1 "/1-1:1.3", "pcmC1D0c");
}

static void fake_env(const char *devices, const char *meta, const char *cards)
{
	char dev[1024] = "", m[1024] = "";
	char list[512];
	/* paths relative to the tree, comma-separated */
	snprintf(list, sizeof(list), "%s", devices);
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		snprintf(dev + strlen(dev), sizeof(dev) - strlen(dev), "%s%s/%s", *dev ? "," : "", root, t);
	snprintf(list, sizeof(list), "%s", meta);
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		snprintf(m + strlen(m), sizeof(m) - strlen(m), "%s%s/%s", *m ? "," : "", root, t);
	setenv("VWFAKECAM_DEVICE", dev, 1);
	setenv("VWFAKECAM_META", m, 1);
	setenv("VWFAKECAM_CARDS", cards, 1);
}

static int setup(void)
{
	root = vw_test_mkdtemp("devices");
	setenv("VWFAKECAM_SIZES", "640x480,320x240,1280x720", 1);
	setenv("VWFAKECAM_FPS", "30,15", 1);
	setenv("VWFAKECAM_MJPEG", MJPEG_FILE, 1);
	unsetenv("VWFAKECAM_UNPLUG");
	unsetenv("VWFAKECAM_STALL");
	return root ? 0 : -1;
}

static void teardown(void)
{
	vw_test_rmtree(root);
	free(root);
	root = NULL;
}

static const char *after_root(const char *path)
{
	size_t n = strlen(root);
	return strncmp(path, root, n) == 0 ? path + n : path;
}

/* ---- discovery ---- */

static void test_one_camera_with_microphone(void)
{
	struct vw_devices *l = NULL;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	c920_tree();
	fake_env("dev/video0", "dev/video1", "HD Pro Webcam C920");

	CU_ASSERT_EQUAL_FATAL(vw_devices_scan(root, &l), 0);
	CU_ASSERT_TRUE(l->alsa_from_sysfs);
	CU_ASSERT_EQUAL_FATAL(l->n_cameras, 1); /* video1, the metadata node, is not a camera */
	const struct vw_camera *c = &l->cameras[0];
	CU_ASSERT_EQUAL(c->index, 0);
	CU_ASSERT_STRING_EQUAL(after_root(c->node), "/dev/video0");
	CU_ASSERT_STRING_EQUAL(after_root(c->by_id), "/dev/v4l/by-id/" C920_ID "0");
	CU_ASSERT_STRING_EQUAL(c->path, c->by_id);
	CU_ASSERT_STRING_EQUAL(c->card, "HD Pro Webcam C920");
	CU_ASSERT_STRING_EQUAL(c->driver, "uvcvideo");
	CU_ASSERT_STRING_EQUAL(c->bus_info, "usb-0000:00:14.0-1");
	CU_ASSERT_STRING_EQUAL(c->usb, "/sys/" USB1);
	/* the by-id link opens the same fake camera, as the capture will open it */
	struct v4l2_capability cap = {0};
	int fd = open(c->by_id, O_RDWR | O_CLOEXEC);
	CU_ASSERT_TRUE_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(ioctl(fd, VIDIOC_QUERYCAP, &cap), 0);
	CU_ASSERT_STRING_EQUAL((char *)cap.card, "HD Pro Webcam C920");
	CU_ASSERT_TRUE(cap.device_caps & V4L2_CAP_VIDEO_CAPTURE);
	close(fd);

	CU_ASSERT_EQUAL_FATAL(c->n_formats, 2);
	const struct vw_dev_format *y = &c->formats[0], *m = &c->formats[1];
	CU_ASSERT_EQUAL(y->fourcc, V4L2_PIX_FMT_YUYV);
	CU_ASSERT_STRING_EQUAL(y->fourcc_str, "YUYV");
	CU_ASSERT_STRING_EQUAL(y->description, "YUYV 4:2:2");
	CU_ASSERT_EQUAL_FATAL(y->n_sizes, 3);
	CU_ASSERT_EQUAL(y->sizes[0].width, 640);
	CU_ASSERT_EQUAL(y->sizes[0].height, 480);
	CU_ASSERT_EQUAL(y->sizes[2].width, 1280);
	CU_ASSERT_EQUAL(y->sizes[2].height, 720);
	CU_ASSERT_EQUAL_FATAL(y->sizes[1].n_rates, 2);
	CU_ASSERT_EQUAL(y->sizes[1].rates[0].num, 30);
	CU_ASSERT_EQUAL(y->sizes[1].rates[0].den, 1);
	CU_ASSERT_EQUAL(y->sizes[1].rates[1].num, 15);
	CU_ASSERT_EQUAL(m->fourcc, V4L2_PIX_FMT_MJPEG);
	CU_ASSERT_STRING_EQUAL(m->fourcc_str, "MJPG");
	CU_ASSERT_EQUAL_FATAL(m->n_sizes, 1);
	CU_ASSERT_EQUAL(m->sizes[0].width, 640);
	CU_ASSERT_EQUAL(m->sizes[0].n_rates, 2);

	/* card 0 (PCI) captures too but is nobody's; card 1 is the webcam's */
	CU_ASSERT_EQUAL_FATAL(l->n_mics, 2);
	CU_ASSERT_STRING_EQUAL(l->mics[0].pcm, "sysdefault:CARD=PCH");
	CU_ASSERT_EQUAL(l->mics[0].camera, -1);
	CU_ASSERT_STRING_EQUAL(l->mics[0].usb, "");
	CU_ASSERT_EQUAL(l->mics[1].card, 1);
	CU_ASSERT_EQUAL(l->mics[1].device, 0);
	CU_ASSERT_STRING_EQUAL(l->mics[1].id, "C920");
	CU_ASSERT_STRING_EQUAL(l->mics[1].pcm, "sysdefault:CARD=C920");
	CU_ASSERT_EQUAL(l->mics[1].camera, 0);
	CU_ASSERT_EQUAL(c->mic, 1);

	/* the choice for the default stream: uncompressed 640x480, the webcam's own microphone */
	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 25, &ch), 0);
	CU_ASSERT_STRING_EQUAL(ch.video_device, c->by_id);
	CU_ASSERT_EQUAL(ch.format, VW_FORMAT_YUYV);
	CU_ASSERT_EQUAL(ch.width, 640);
	CU_ASSERT_EQUAL(ch.rate.num, 30);
	CU_ASSERT_STRING_EQUAL(ch.audio_device, "sysdefault:CARD=C920");
	vw_devices_free(l);
	teardown();
}

static void test_two_cameras(void)
{
	struct vw_devices *l = NULL;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	c920_tree();
	/* a second webcam on 1-2 with its own microphone as card 2 device 1, no by-id link */
	v4l_node(2, USB2, "1-2:1.0");
	sound_card(2, "Cam2", USB2 "/1-2:1.2", "pcmC2D1c");
	fake_env("dev/video0,dev/video2", "dev/video1", "HD Pro Webcam C920,Second Cam");

	CU_ASSERT_EQUAL_FATAL(vw_devices_scan(root, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l->n_cameras, 2);
	CU_ASSERT_EQUAL(l->cameras[0].index, 0);
	CU_ASSERT_EQUAL(l->cameras[1].index, 2);
	CU_ASSERT_STRING_EQUAL(l->cameras[1].card, "Second Cam");
	CU_ASSERT_STRING_EQUAL(l->cameras[1].bus_info, "usb-0000:00:14.0-2");
	CU_ASSERT_STRING_EQUAL(l->cameras[1].by_id, "");
	CU_ASSERT_STRING_EQUAL(after_root(l->cameras[1].path), "/dev/video2");
	CU_ASSERT_EQUAL_FATAL(l->n_mics, 3);
	CU_ASSERT_EQUAL_FATAL(l->cameras[0].mic, 1);
	CU_ASSERT_EQUAL_FATAL(l->cameras[1].mic, 2);
	CU_ASSERT_STRING_EQUAL(l->mics[2].pcm, "plughw:CARD=Cam2,DEV=1");
	CU_ASSERT_EQUAL(l->mics[2].camera, 1);

	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 25, &ch), 0);
	CU_ASSERT_EQUAL(ch.camera, 0);
	CU_ASSERT_STRING_EQUAL(ch.audio_device, "sysdefault:CARD=C920");
	vw_devices_free(l);
	teardown();
}

static void test_metadata_node_only(void)
{
	struct vw_devices *l = NULL;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	v4l_node(1, USB1, "1-1:1.0");
	v4l_node(3, USB1, "1-1:1.0"); /* a node the fake does not answer: not V4L2 at all */
	fake_env("dev/elsewhere", "dev/video1", "HD Pro Webcam C920");

	CU_ASSERT_EQUAL_FATAL(vw_devices_scan(root, &l), 0);
	CU_ASSERT_EQUAL(l->n_cameras, 0);
	CU_ASSERT_EQUAL(l->n_mics, 0);
	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 25, &ch), -ENODEV);
	vw_devices_free(l);
	teardown();
}

static void test_empty_tree(void)
{
	struct vw_devices *l = NULL;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	CU_ASSERT_EQUAL_FATAL(vw_devices_scan(root, &l), 0);
	CU_ASSERT_EQUAL(l->n_cameras, 0);
	CU_ASSERT_EQUAL(l->n_mics, 0);
	vw_devices_free(l);
	/* a root that does not exist is an empty one */
	CU_ASSERT_EQUAL_FATAL(vw_devices_scan("/nonexistent/vw-root", &l), 0);
	CU_ASSERT_EQUAL(l->n_cameras + l->n_mics, 0);
	vw_devices_free(l);
	/* a root too long to append /sys/class/video4linux to is refused, not cut into another path */
	char longroot[4096];
	memset(longroot, 'a', sizeof(longroot) - 1);
	longroot[0] = '/';
	longroot[sizeof(longroot) - 1] = 0;
	l = NULL;
	CU_ASSERT_EQUAL(vw_devices_scan(longroot, &l), -ENAMETOOLONG);
	CU_ASSERT_PTR_NULL(l);
	teardown();
}

/* A USB product string cut by the driver inside a character: the listing stays JSON, camera and all. */
static void test_names_not_utf8(void)
{
	struct vw_devices *l = NULL;
	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	c920_tree();
	fake_env("dev/video0", "dev/video1", "Caf\xc3\xa9 Cam \xe2\x82");

	CU_ASSERT_EQUAL_FATAL(vw_devices_scan(root, &l), 0);
	CU_ASSERT_EQUAL_FATAL(l->n_cameras, 1);
	CU_ASSERT_STRING_EQUAL(l->cameras[0].card, "Caf\xc3\xa9 Cam ??");
	vw_devices_choose(l, 640, 480, 25, &ch);
	char *text = vw_devices_json(l, &ch, false);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	json_t *c = json_array_get(json_object_get(j, "cameras"), 0);
	CU_ASSERT_PTR_NOT_NULL(c);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "card")) ?: "", "Caf\xc3\xa9 Cam ??");
	CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(json_object_get(j, "auto"), "why")) ?: "",
				      "(Caf\xc3\xa9 Cam ?" "?)"));
	json_decref(j);
	free(text);
	vw_devices_free(l);
	teardown();
}

/* This machine through libasound: CI has no sound card, so only "returns, without error". */
static void test_system_alsa(void)
{
	struct vw_devices *l = NULL;
	CU_ASSERT_EQUAL_FATAL(vw_devices_scan("/", &l), 0);
	CU_ASSERT_FALSE(l->alsa_from_sysfs);
	CU_ASSERT(l->n_mics >= 0 && l->n_mics <= VW_DEV_MAX_MICS);
	for (int i = 0; i < l->n_mics; i++)
		CU_ASSERT(*l->mics[i].pcm != 0);
	vw_devices_free(l);
	CU_ASSERT_EQUAL_FATAL(vw_devices_scan(NULL, &l), 0);
	CU_ASSERT_FALSE(l->alsa_from_sysfs);
	vw_devices_free(l);
}

/* ---- the automatic choice on hand-built listings ---- */

static void add_size(struct vw_dev_format *f, uint32_t w, uint32_t h, const int *fps)
{
	struct vw_dev_size *s = &f->sizes[f->n_sizes++];
	s->width = w;
	s->height = h;
	for (; *fps; fps++)
		s->rates[s->n_rates++] = (struct vw_dev_rate){(uint32_t)*fps, 1};
}

/* A C920's menu: YUYV is fast only up to 640x480, MJPEG reaches 1080p at 30 fps. */
static struct vw_devices *c920_list(bool mjpeg, bool mic)
{
	struct vw_devices *l = calloc(1, sizeof(*l));
	struct vw_camera *c = &l->cameras[0];
	l->n_cameras = 1;
	c->mic = -1;
	snprintf(c->path, sizeof(c->path), "/dev/v4l/by-id/" C920_ID "0");
	snprintf(c->card, sizeof(c->card), "HD Pro Webcam C920");
	struct vw_dev_format *y = &c->formats[c->n_formats++];
	y->fourcc = V4L2_PIX_FMT_YUYV;
	snprintf(y->fourcc_str, sizeof(y->fourcc_str), "YUYV");
	add_size(y, 640, 480, (const int[]){30, 24, 15, 0});
	add_size(y, 320, 240, (const int[]){30, 15, 0});
	add_size(y, 1280, 720, (const int[]){10, 5, 0});
	add_size(y, 1920, 1080, (const int[]){5, 0});
	if (mjpeg) {
		struct vw_dev_format *m = &c->formats[c->n_formats++];
		m->fourcc = V4L2_PIX_FMT_MJPEG;
		snprintf(m->fourcc_str, sizeof(m->fourcc_str), "MJPG");
		add_size(m, 640, 480, (const int[]){30, 0});
		add_size(m, 1920, 1080, (const int[]){30, 24, 0});
		add_size(m, 1280, 720, (const int[]){30, 24, 0});
	}
	if (mic) {
		l->n_mics = 2;
		l->mics[0] = (struct vw_mic){.card = 0, .camera = -1, .pcm = "sysdefault:CARD=PCH"};
		l->mics[1] = (struct vw_mic){.card = 1, .camera = 0, .pcm = "sysdefault:CARD=C920"};
		c->mic = 1;
	}
	return l;
}

/* What the automatic choice on the C920's menu (with MJPEG or without) must take for what a stream
 * wants; a zero field (AUTO, NULL) is not checked. */
struct choice_case {
	bool mjpeg;
	int want_w, want_h, want_fps;
	enum vw_video_format format;
	int width, height;
	uint32_t rate;
	const char *why[2]; /* parts of the reason it gives */
};

static void check_choices(const struct choice_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct choice_case *k = &cases[i];
		struct vw_devices *l = c920_list(k->mjpeg, false);
		struct vw_auto_choice ch;
		unsigned failures = CU_get_number_of_failures();

		CU_ASSERT_EQUAL(vw_devices_choose(l, k->want_w, k->want_h, k->want_fps, &ch), 0);
		if (k->format)
			CU_ASSERT_EQUAL(ch.format, k->format);
		if (k->width)
			CU_ASSERT_EQUAL(ch.width, k->width);
		if (k->height)
			CU_ASSERT_EQUAL(ch.height, k->height);
		if (k->rate)
			CU_ASSERT_EQUAL(ch.rate.num, k->rate);
		for (int w = 0; w < 2; w++)
			if (k->why[w])
				CU_ASSERT_PTR_NOT_NULL(strstr(ch.why, k->why[w]));
		if (CU_get_number_of_failures() != failures)
			printf("\n    %s menu, %dx%d@%d wanted: %s\n", k->mjpeg ? "MJPEG" : "YUYV-only", k->want_w,
			       k->want_h, k->want_fps, ch.why);
		free(l);
	}
}

static void test_choose_mjpeg_above_vga(void)
{
	struct vw_devices *l = c920_list(true, true);
	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 1280, 720, 30, &ch), 0);
	CU_ASSERT_EQUAL(ch.format, VW_FORMAT_MJPEG);
	CU_ASSERT_EQUAL(ch.fourcc, V4L2_PIX_FMT_MJPEG);
	CU_ASSERT_EQUAL(ch.width, 1280); /* the smallest MJPEG size that reaches, not the first listed */
	CU_ASSERT_EQUAL(ch.height, 720);
	CU_ASSERT_EQUAL(ch.rate.num, 30);
	CU_ASSERT_STRING_EQUAL(ch.video_device, "/dev/v4l/by-id/" C920_ID "0");
	CU_ASSERT_PTR_NOT_NULL(strstr(ch.why, "first camera /dev/v4l/by-id/" C920_ID "0 (HD Pro Webcam C920)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ch.why, "MJPG 1280x720@30 because the stream wants 1280x720"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ch.why, "microphone sysdefault:CARD=C920 of the same USB device"));
	CU_ASSERT_PTR_NULL(strchr(ch.why, '\n'));
	free(l);

	static const struct choice_case cases[] = {
		/* at 640x480 uncompressed wins even though MJPEG is offered */
		{true, 640, 480, 25, VW_FORMAT_YUYV, 640, 0, 0, {NULL}},
		/* 1080p wanted: MJPEG 1920x1080 at the lowest rate that is enough */
		{true, 1920, 1080, 24, VW_FORMAT_MJPEG, 1920, 0, 24, {NULL}},
	};
	check_choices(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_choose_yuyv(void)
{
	static const struct choice_case cases[] = {
		/* smallest size that reaches the wanted one */
		{false, 320, 240, 25, VW_FORMAT_YUYV, 320, 0, 0, {NULL}},
		{false, 400, 300, 25, VW_FORMAT_AUTO, 640, 480, 0, {NULL}},
		/* no MJPEG: 1280x720 in YUYV at what it can do, and the reason says so */
		{false, 1280, 720, 30, VW_FORMAT_YUYV, 1280, 0, 10, {"only 10 fps there", "no MJPEG"}},
		/* nothing big enough: the largest */
		{false, 2560, 1440, 30, VW_FORMAT_AUTO, 1920, 1080, 0, {"the largest"}},
	};
	struct vw_devices *l;
	struct vw_auto_choice ch;

	check_choices(cases, sizeof(cases) / sizeof(cases[0]));

	/* MJPEG offered but too small for the stream: YUYV, which reaches */
	l = c920_list(true, false);
	l->cameras[0].formats[1].n_sizes = 1; /* MJPEG 640x480 only */
	CU_ASSERT_EQUAL(vw_devices_choose(l, 1280, 720, 5, &ch), 0);
	CU_ASSERT_EQUAL(ch.format, VW_FORMAT_YUYV);
	CU_ASSERT_EQUAL(ch.width, 1280);
	CU_ASSERT_EQUAL(ch.rate.num, 5);
	free(l);
}

static void test_choose_fps(void)
{
	static const struct choice_case cases[] = {
		{true, 640, 480, 20, VW_FORMAT_AUTO, 0, 0, 24, {NULL}}, /* the lowest rate >= 20 */
		{true, 640, 480, 30, VW_FORMAT_AUTO, 0, 0, 30, {NULL}},
		/* none reaches 60: the highest */
		{true, 640, 480, 60, VW_FORMAT_AUTO, 0, 0, 30, {"only 30 fps there (the stream wants 60)"}},
	};
	struct vw_devices *l = c920_list(true, false);
	struct vw_auto_choice ch;
	char r[16];

	check_choices(cases, sizeof(cases) / sizeof(cases[0]));
	/* NTSC-style rates compare exactly */
	struct vw_dev_size *s = &l->cameras[0].formats[0].sizes[0];
	s->n_rates = 2;
	s->rates[0] = (struct vw_dev_rate){30000, 1001};
	s->rates[1] = (struct vw_dev_rate){15, 2};
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 30, &ch), 0);
	CU_ASSERT_EQUAL(ch.rate.num, 30000);
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 5, &ch), 0);
	CU_ASSERT_EQUAL(ch.rate.num, 15);
	CU_ASSERT_EQUAL(ch.rate.den, 2);
	vw_dev_rate_str((struct vw_dev_rate){30000, 1001}, r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "29.97");
	vw_dev_rate_str((struct vw_dev_rate){15, 2}, r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "7.5");
	vw_dev_rate_str((struct vw_dev_rate){60, 2}, r, sizeof(r));
	CU_ASSERT_STRING_EQUAL(r, "30");
	free(l);
}

static void test_choose_microphone(void)
{
	struct vw_devices *l = c920_list(true, true);
	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 25, &ch), 0);
	CU_ASSERT_EQUAL(ch.mic, 1);
	CU_ASSERT_STRING_EQUAL(ch.audio_device, "sysdefault:CARD=C920");
	/* a card that is not the camera's is never taken for it */
	l->cameras[0].mic = -1;
	l->mics[1].camera = -1;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 25, &ch), 0);
	CU_ASSERT_EQUAL(ch.mic, -1);
	CU_ASSERT_STRING_EQUAL(ch.audio_device, "default");
	CU_ASSERT_PTR_NOT_NULL(strstr(ch.why, "the camera has none of its own"));
	free(l);
}

static void test_choose_no_camera(void)
{
	struct vw_devices *l = calloc(1, sizeof(*l));
	struct vw_auto_choice ch;
	CU_ASSERT_EQUAL(vw_devices_choose(l, 640, 480, 25, &ch), -ENODEV);
	CU_ASSERT_EQUAL(ch.camera, -1);
	CU_ASSERT_STRING_EQUAL(ch.video_device, "");
	CU_ASSERT_STRING_EQUAL(ch.audio_device, "default");
	CU_ASSERT_PTR_NOT_NULL(strstr(ch.why, "no camera"));
	free(l);
}

/* ---- vw devices ---- */

static json_t *run_json(const char *const argv[], int *status)
{
	char log[1024];
	uint8_t *data = NULL;
	size_t len;
	snprintf(log, sizeof(log), "%s/out.json", root);
	*status = vw_test_run(argv, NULL, log, 20000);
	if (vw_test_read_file(log, &data, &len) < 0)
		return NULL;
	json_t *j = json_loads((const char *)data, 0, NULL);
	if (!j)
		fprintf(stderr, "not JSON: %s\n", (const char *)data);
	free(data);
	return j;
}

static void test_command_json(void)
{
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	c920_tree();
	fake_env("dev/video0", "dev/video1", "HD Pro Webcam C920");
	const char *argv[] = {VW_BIN, "devices", "--json", "--root", root, NULL};
	int status;
	json_t *j = run_json(argv, &status);
	CU_ASSERT_EQUAL(status, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	json_t *cams = json_object_get(j, "cameras"), *mics = json_object_get(j, "microphones");
	CU_ASSERT_EQUAL_FATAL(json_array_size(cams), 1);
	json_t *c = json_array_get(cams, 0);
	CU_ASSERT_STRING_EQUAL(after_root(json_string_value(json_object_get(c, "path"))),
			       "/dev/v4l/by-id/" C920_ID "0");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "card")), "HD Pro Webcam C920");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "microphone")), "sysdefault:CARD=C920");
	json_t *fmts = json_object_get(c, "formats");
	CU_ASSERT_EQUAL_FATAL(json_array_size(fmts), 2);
	json_t *yuyv = json_array_get(fmts, 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(yuyv, "fourcc")), "YUYV");
	json_t *s0 = json_array_get(json_object_get(yuyv, "sizes"), 0);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(s0, "width")), 640);
	CU_ASSERT_EQUAL(json_integer_value(json_array_get(json_object_get(s0, "fps"), 0)), 30);
	CU_ASSERT_EQUAL(json_array_size(mics), 2);
	json_t *m1 = json_array_get(mics, 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m1, "pcm")), "sysdefault:CARD=C920");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m1, "camera")),
			       json_string_value(json_object_get(c, "path")));
	CU_ASSERT_TRUE(json_is_null(json_object_get(json_array_get(mics, 0), "camera")));
	json_t *a = json_object_get(j, "auto");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "format")), "yuyv");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "audio_device")), "sysdefault:CARD=C920");
	json_decref(j);

	/* --controls: the camera's controls, by their normalized names, in the shape of
	 * GET /api/feeds/FEED/controls (menus as [{value, name, label}]) */
	const char *argv2[] = {VW_BIN, "devices", "--json", "--controls", "--root", root, NULL};
	j = run_json(argv2, &status);
	CU_ASSERT_EQUAL(status, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	json_t *ctl = json_object_get(json_array_get(json_object_get(j, "cameras"), 0), "controls");
	CU_ASSERT_TRUE(json_array_size(ctl) > 0);
	bool brightness = false;
	json_t *plf = NULL;
	for (size_t i = 0; i < json_array_size(ctl); i++) {
		const char *name = json_string_value(json_object_get(json_array_get(ctl, i), "name")) ?: "";
		brightness |= !strcmp(name, "brightness");
		if (!strcmp(name, "power_line_frequency"))
			plf = json_array_get(ctl, i);
	}
	CU_ASSERT_TRUE(brightness);
	CU_ASSERT_PTR_NOT_NULL_FATAL(plf);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(plf, "type")), "menu");
	CU_ASSERT_TRUE(json_is_integer(json_object_get(plf, "step")) && json_is_integer(json_object_get(plf, "default")));
	CU_ASSERT_TRUE(json_is_boolean(json_object_get(plf, "inactive")));
	json_t *item = json_array_get(json_object_get(plf, "menu"), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(item, "value")), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(item, "name")) ?: "", "50_hz");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(item, "label")) ?: "", "50 Hz");
	json_decref(j);
	teardown();
}

static void test_command_text_and_usage(void)
{
	char log[1024];
	uint8_t *data = NULL;
	size_t len;
	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	c920_tree();
	fake_env("dev/video0", "dev/video1", "HD Pro Webcam C920");
	snprintf(log, sizeof(log), "%s/out.txt", root);

	const char *argv[] = {VW_BIN, "devices", "--root", root, NULL};
	CU_ASSERT_EQUAL(vw_test_run(argv, NULL, log, 20000), 0);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(log, &data, &len), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, C920_ID "0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "microphone sysdefault:CARD=C920 (same USB device)"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "640x480: 30, 15 fps"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "device = auto would take: first camera"));
	free(data);

	const char *bad[] = {VW_BIN, "devices", "--bogus", NULL};
	CU_ASSERT_EQUAL(vw_test_run(bad, NULL, log, 20000), 2);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(log, &data, &len), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "usage:"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "vw devices [--json] [--controls] [--root DIR]"));
	free(data);
	const char *extra[] = {VW_BIN, "devices", "now", NULL};
	CU_ASSERT_EQUAL(vw_test_run(extra, NULL, log, 20000), 2);
	teardown();
}

/* The feed whose "name" is `name` in /api/status, or NULL. */
static json_t *status_feed(json_t *status, const char *name)
{
	json_t *feeds = json_object_get(status, "feeds");
	for (size_t i = 0; i < json_array_size(feeds); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(feeds, i), "name")) ?: "", name))
			return json_array_get(feeds, i);
	return NULL;
}

/* Polls /api/status until feed `name` is in `state` (and, if given, uses a device ending in
 * `device_tail`); returns the seconds it took, or -1 after max_s. */
static double wait_feed(int port, const char *name, const char *state, const char *device_tail, double max_s,
			char *device, size_t n)
{
	int64_t t0 = vw_test_now_ns();
	while (vw_test_now_ns() - t0 < (int64_t)(max_s * 1e9)) {
		char *body = NULL;
		if (vw_test_http(port, "GET", "/api/status", NULL, NULL, 0, &body) == 200) {
			json_t *j = json_loads(body, 0, NULL);
			json_t *f = j ? status_feed(j, name) : NULL;
			const char *st = f ? json_string_value(json_object_get(f, "state")) : NULL;
			const char *dev = f ? json_string_value(json_object_get(f, "device")) : NULL;
			size_t dl = dev ? strlen(dev) : 0, tl = device_tail ? strlen(device_tail) : 0;
			bool ok = st && !strcmp(st, state) &&
				  (!device_tail || (dev && dl >= tl && !strcmp(dev + dl - tl, device_tail)));
			if (ok && device)
				snprintf(device, n, "%s", dev ? dev : "");
			json_decref(j);
			free(body);
			if (ok)
				return (double)(vw_test_now_ns() - t0) / 1e9;
		} else {
			free(body);
		}
		vw_test_sleep_ms(20);
	}
	return -1;
}

/* No configuration file at all, no camera: vw starts, the stream shows the placeholder and the
 * microphone is ALSA's default. A webcam is plugged in (its sysfs entries, then its nodes): vw
 * notices, chooses it by its by-id path, says why, and streams it. */
static void test_no_config_then_plug(void)
{
	char cfg[1024], root_env[1100], dev[1024];
	uint8_t *data = NULL;
	size_t len;
	struct vw_testvw v;

	CU_ASSERT_EQUAL_FATAL(setup(), 0);
	mkdirs("%s/dev", root);
	mkdirs("%s/sys/class", root);
	fake_env("dev/video0", "dev/video1", "HD Pro Webcam C920");
	vw_testvw_init(&v, root, "vw"); /* no file: the built-in default */
	snprintf(cfg, sizeof(cfg), "VW_CONFIG=%s/no-such.conf", root);
	snprintf(root_env, sizeof(root_env), "VW_DEVICE_ROOT=%s", root);
	const char *env[] = {cfg, root_env, NULL};
	CU_ASSERT_FATAL(vw_testvw_start(&v, NULL, NULL, env) == 0);
	int port = v.port;

	double absent = wait_feed(port, "camera", "absent", NULL, 5, NULL, 0);
	double mic = wait_feed(port, "microphone", "live", "default", 5, NULL, 0);
	char *body = NULL;
	int code = vw_test_http(port, "GET", "/api/streams/live", NULL, NULL, 0, &body);
	free(body);
	vw_test_sleep_ms(300);
	int64_t plugged = vw_test_now_ns();
	c920_tree();
	double live = wait_feed(port, "camera", "live", "/dev/v4l/by-id/" C920_ID "0", 4, dev, sizeof(dev));
	double after_plug = live < 0 ? -1 : (double)(vw_test_now_ns() - plugged) / 1e9;
	int rc = vw_testvw_stop(&v, 5000);
	CU_ASSERT_EQUAL_FATAL(vw_test_read_file(v.log, &data, &len), 0);
	printf("\n    no camera: absent after %.2f s, microphone live on default after %.2f s, stream 'live' %d;"
	       " camera plugged: live %.2f s later on %s; exit %d\n",
	       absent, mic, code, after_plug, after_root(dev), rc);
	CU_ASSERT(absent >= 0);
	CU_ASSERT(mic >= 0);
	CU_ASSERT_EQUAL(code, 200);
	CU_ASSERT(live >= 0 && after_plug < 2.0);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "(built-in default)"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "auto: no camera: no V4L2 capture device found"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "auto: first camera "));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "YUYV 640x480@30"));
	CU_ASSERT_PTR_NOT_NULL(strstr((char *)data, "microphone sysdefault:CARD=C920 of the same USB device"));
	if (live < 0)
		printf("%s\n", (char *)data);
	free(data);
	teardown();
}

VW_TEST_SUITE("devices", NULL,
	      {"one_camera_with_microphone", test_one_camera_with_microphone},
	      {"two_cameras", test_two_cameras},
	      {"metadata_node_only", test_metadata_node_only},
	      {"empty_tree", test_empty_tree},
	      {"names_not_utf8", test_names_not_utf8},
	      {"system_alsa", test_system_alsa},
	      {"choose_mjpeg_above_vga", test_choose_mjpeg_above_vga},
	      {"choose_yuyv", test_choose_yuyv},
	      {"choose_fps", test_choose_fps},
	      {"choose_microphone", test_choose_microphone},
	      {"choose_no_camera", test_choose_no_camera},
	      {"command_json", test_command_json},
	      {"command_text_and_usage", test_command_text_and_usage},
	      {"no_config_then_plug", test_no_config_then_plug})
