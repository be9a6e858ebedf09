/* vw_devices: capture-device discovery, USB pairing, the automatic choice and the `vw devices`
 * listing (see vw_devices.h). */
#include "vw_devices.h"

#include <alsa/asoundlib.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vw_controls.h"
#include "vw_text.h"
#include "vw_util.h"

/* Sysfs directories hold a few dozen entries; more than this is not a capture box worth listing. */
#define MAX_ENTRIES 256

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;
	for (int i = 0; i < 8; i++) {
		r = ioctl(fd, req, arg);
		if (r >= 0 || errno != EINTR)
			break;
	}
	return r;
}

/* ---- small file helpers ---- */

static int read_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)n, f))
		*buf = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The USB device directory of the sysfs `device` link at `link`: the link resolves to a USB
 * interface ("1-1:1.0" for the camera, "1-1:1.3" for the audio), whose parent is the device ("1-1").
 * Anything else (PCI, platform) is not paired. `root_real` is stripped so the result reads as on the
 * box. "" when not on USB. */
static void usb_device(const char *link, const char *root_real, char *out, size_t n)
{
	char real[PATH_MAX];
	*out = 0;
	if (!realpath(link, real))
		return;
	char *base = strrchr(real, '/');
	if (!base || base == real)
		return;
	*base++ = 0;
	const char *pbase = strrchr(real, '/');
	pbase = pbase ? pbase + 1 : real;
	size_t pl = strlen(pbase);
	if (!pl || strncmp(base, pbase, pl) != 0 || base[pl] != ':' || !strchr(base + pl, '.'))
		return;
	size_t rl = strlen(root_real);
	const char *shown = real;
	if (rl > 1 && strncmp(real, root_real, rl) == 0 && real[rl] == '/')
		shown = real + rl;
	/* a cut path could equal another device's: better unpaired than paired wrongly */
	if (strlen(shown) < n)
		vw_strlcpy(out, shown, n);
}

/* Numbers N of directory entries named exactly "<prefix>N<suffix>", sorted, at most `max`. */
static int list_numbered(const char *dir, const char *prefix, const char *suffix, int *out, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t pl = strlen(prefix);
	int n = 0, seen = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && seen++ < MAX_ENTRIES && n < max) {
		char *end;
		if (strncmp(e->d_name, prefix, pl) != 0 || !e->d_name[pl] || e->d_name[pl] < '0' || e->d_name[pl] > '9')
			continue;
		long v = strtol(e->d_name + pl, &end, 10);
		if (strcmp(end, suffix) != 0 || v < 0 || v > 4096)
			continue;
		out[n++] = (int)v;
	}
	closedir(d);
	for (int i = 1; i < n; i++) /* insertion sort: a handful of entries */
		for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
			int t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* ---- V4L2 ---- */

static void fourcc_str(uint32_t f, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char ch = (char)((f >> (8 * i)) & 0xff);
		out[i] = ch >= 32 && ch < 127 ? ch : '?';
	}
	out[4] = 0;
}

static void add_rate(struct vw_dev_size *s, uint32_t interval_num, uint32_t interval_den)
{
	if (!interval_num || !interval_den || s->n_rates >= VW_DEV_MAX_RATES)
		return;
	s->rates[s->n_rates++] = (struct vw_dev_rate){interval_den, interval_num};
}

static void probe_rates(int fd, uint32_t fourcc, struct vw_dev_size *s)
{
	for (uint32_t i = 0; i < 64 && s->n_rates < VW_DEV_MAX_RATES; i++) {
		struct v4l2_frmivalenum fi = {.index = i, .pixel_format = fourcc, .width = s->width, .height = s->height};
		if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi) < 0)
			break;
		if (fi.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
			add_rate(s, fi.discrete.numerator, fi.discrete.denominator);
			continue;
		}
		/* a range: its fastest and slowest ends say enough for a choice */
		add_rate(s, fi.stepwise.min.numerator, fi.stepwise.min.denominator);
		add_rate(s, fi.stepwise.max.numerator, fi.stepwise.max.denominator);
		break;
	}
}

static void probe_format(int fd, struct vw_dev_format *f)
{
	for (uint32_t i = 0; i < 256 && f->n_sizes < VW_DEV_MAX_SIZES; i++) {
		struct v4l2_frmsizeenum fs = {.index = i, .pixel_format = f->fourcc};
		if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0 || fs.type != V4L2_FRMSIZE_TYPE_DISCRETE)
			break;
		/* a driver that answers every index with the same entry is done */
		if (f->n_sizes && fs.discrete.width == f->sizes[f->n_sizes - 1].width &&
		    fs.discrete.height == f->sizes[f->n_sizes - 1].height)
			break;
		struct vw_dev_size *s = &f->sizes[f->n_sizes++];
		s->width = fs.discrete.width;
		s->height = fs.discrete.height;
		probe_rates(fd, f->fourcc, s);
	}
}

/* Fills the QUERYCAP and format fields of `c` from its node. -ENODEV for nodes that do not capture
 * video (metadata, output, radio), -errno when the node cannot be opened or is not V4L2. */
static int probe_camera(struct vw_camera *c)
{
	struct v4l2_capability cap = {0};
	int ret = 0, fd = open(c->node, O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (xioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
		ret = -errno;
		goto end;
	}
	uint32_t caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps : cap.capabilities;
	if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
		ret = -ENODEV;
		goto end;
	}
	snprintf(c->card, sizeof(c->card), "%.31s", (const char *)cap.card);
	snprintf(c->driver, sizeof(c->driver), "%.15s", (const char *)cap.driver);
	snprintf(c->bus_info, sizeof(c->bus_info), "%.31s", (const char *)cap.bus_info);
	/* uvcvideo's card is the USB product string cut to 31 bytes, perhaps inside a character */
	vw_utf8_sanitize(c->card);
	vw_utf8_sanitize(c->driver);
	vw_utf8_sanitize(c->bus_info);
	for (uint32_t i = 0; i < 64 && c->n_formats < VW_DEV_MAX_FORMATS; i++) {
		struct v4l2_fmtdesc fd_ = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
		if (xioctl(fd, VIDIOC_ENUM_FMT, &fd_) < 0 ||
		    (c->n_formats && fd_.pixelformat == c->formats[c->n_formats - 1].fourcc)) /* repeated: done */
			break;
		struct vw_dev_format *f = &c->formats[c->n_formats++];
		f->fourcc = fd_.pixelformat;
		fourcc_str(f->fourcc, f->fourcc_str);
		snprintf(f->description, sizeof(f->description), "%.31s", (const char *)fd_.description);
		vw_utf8_sanitize(f->description);
		probe_format(fd, f);
	}
end:
	close(fd);
	return ret;
}

/* The by-id link of each camera: the first (in name order) that resolves to its node. */
static void find_by_id(struct vw_devices *l, const char *prefix)
{
	char dir[VW_PATH_MAX], link[VW_PATH_MAX + 256], real[PATH_MAX], node_real[PATH_MAX];
	struct dirent **names = NULL;
	int n;

	snprintf(dir, sizeof(dir), "%s/dev/v4l/by-id", prefix);
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return;
	for (int i = 0; i < n && i < MAX_ENTRIES; i++) {
		if (names[i]->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, names[i]->d_name);
		/* a cut link would be configured and never open */
		if (strlen(link) >= sizeof(l->cameras[0].by_id) || !realpath(link, real))
			continue;
		for (int k = 0; k < l->n_cameras; k++) {
			struct vw_camera *c = &l->cameras[k];
			if (!*c->by_id && realpath(c->node, node_real) && strcmp(real, node_real) == 0)
				vw_strlcpy(c->by_id, link, sizeof(c->by_id));
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void scan_cameras(struct vw_devices *l, const char *prefix, const char *root_real)
{
	char dir[VW_PATH_MAX], link[VW_PATH_MAX + 64];
	int idx[64];
	int n;

	snprintf(dir, sizeof(dir), "%s/sys/class/video4linux", prefix);
	n = list_numbered(dir, "video", "", idx, 64);
	for (int i = 0; i < n && l->n_cameras < VW_DEV_MAX_CAMERAS; i++) {
		struct vw_camera *c = &l->cameras[l->n_cameras];
		memset(c, 0, sizeof(*c));
		c->index = idx[i];
		c->mic = -1;
		snprintf(c->node, sizeof(c->node), "%s/dev/video%d", prefix, idx[i]);
		if (probe_camera(c) < 0)
			continue;
		snprintf(link, sizeof(link), "%s/video%d/device", dir, idx[i]);
		usb_device(link, root_real, c->usb, sizeof(c->usb));
		l->n_cameras++;
	}
	find_by_id(l, prefix);
	for (int i = 0; i < l->n_cameras; i++) {
		struct vw_camera *c = &l->cameras[i];
		vw_strlcpy(c->path, *c->by_id ? c->by_id : c->node, sizeof(c->path));
	}
}

/* ---- ALSA ---- */

static struct vw_mic *add_mic(struct vw_devices *l, int card, int device, const char *id, const char *name)
{
	if (l->n_mics >= VW_DEV_MAX_MICS)
		return NULL;
	struct vw_mic *m = &l->mics[l->n_mics++];
	memset(m, 0, sizeof(*m));
	m->card = card;
	m->device = device;
	m->camera = -1;
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->name, sizeof(m->name), "%s", name && *name ? name : id);
	/* the card name is the USB product string (cut by the driver); JSON needs UTF-8 */
	vw_utf8_sanitize(m->id);
	vw_utf8_sanitize(m->name);
	/* sysdefault is what `arecord -L` offers for a card's first PCM; later PCMs need plughw so that
	 * the rate and format still convert. */
	if (device == 0)
		snprintf(m->pcm, sizeof(m->pcm), "sysdefault:CARD=%s", id);
	else
		snprintf(m->pcm, sizeof(m->pcm), "plughw:CARD=%s,DEV=%d", id, device);
	return m;
}

/* The system's cards through libasound (names included). */
static void mics_from_alsa(struct vw_devices *l)
{
	int card = -1;

	for (int guard = 0; guard < 32 && snd_card_next(&card) == 0 && card >= 0; guard++) {
		char hw[32];
		snd_ctl_t *ctl = NULL;
		snd_ctl_card_info_t *info;
		snd_pcm_info_t *pi;
		int dev = -1;

		snd_ctl_card_info_alloca(&info);
		snd_pcm_info_alloca(&pi);
		snprintf(hw, sizeof(hw), "hw:%d", card);
		if (snd_ctl_open(&ctl, hw, 0) < 0)
			continue;
		if (snd_ctl_card_info(ctl, info) < 0) {
			snd_ctl_close(ctl);
			continue;
		}
		for (int g = 0; g < 64 && snd_ctl_pcm_next_device(ctl, &dev) == 0 && dev >= 0; g++) {
			snd_pcm_info_set_device(pi, (unsigned)dev);
			snd_pcm_info_set_subdevice(pi, 0);
			snd_pcm_info_set_stream(pi, SND_PCM_STREAM_CAPTURE);
			if (snd_ctl_pcm_info(ctl, pi) < 0)
				continue; /* playback only */
			add_mic(l, card, dev, snd_ctl_card_info_get_id(info), snd_ctl_card_info_get_name(info));
		}
		snd_ctl_close(ctl);
	}
}

/* A tree's cards from ROOT/sys/class/sound: cardN/id and the pcmCNDMc entries (capture PCMs). */
static void mics_from_sysfs(struct vw_devices *l, const char *prefix)
{
	char dir[VW_PATH_MAX], path[VW_PATH_MAX + 64], id[64];
	int cards[32], n_cards;

	snprintf(dir, sizeof(dir), "%s/sys/class/sound", prefix);
	n_cards = list_numbered(dir, "card", "", cards, 32);
	for (int i = 0; i < n_cards; i++) {
		char pfx[32];
		int devs[32], n_devs;
		snprintf(path, sizeof(path), "%s/card%d/id", dir, cards[i]);
		if (read_line(path, id, sizeof(id)) < 0 || !*id)
			continue;
		snprintf(pfx, sizeof(pfx), "pcmC%dD", cards[i]);
		n_devs = list_numbered(dir, pfx, "c", devs, 32);
		for (int k = 0; k < n_devs; k++)
			add_mic(l, cards[i], devs[k], id, NULL);
	}
}

static void pair(struct vw_devices *l, const char *prefix, const char *root_real)
{
	char link[VW_PATH_MAX + 64];

	for (int i = 0; i < l->n_mics; i++) {
		struct vw_mic *m = &l->mics[i];
		snprintf(link, sizeof(link), "%s/sys/class/sound/card%d/device", prefix, m->card);
		usb_device(link, root_real, m->usb, sizeof(m->usb));
	}
	for (int k = 0; k < l->n_cameras; k++) {
		struct vw_camera *c = &l->cameras[k];
		for (int i = 0; i < l->n_mics && *c->usb; i++) {
			struct vw_mic *m = &l->mics[i];
			if (m->camera < 0 && strcmp(c->usb, m->usb) == 0) {
				c->mic = i;
				m->camera = k;
				break;
			}
		}
	}
}

int vw_devices_scan(const char *root, struct vw_devices **out)
{
	/* room left in every VW_PATH_MAX path built below for the longest part appended to the root */
	char prefix[VW_PATH_MAX - 64], root_real[PATH_MAX];
	struct vw_devices *l;
	size_t n;

	*out = NULL;
	if (root && strlen(root) >= sizeof(prefix))
		return -ENAMETOOLONG;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	/* "" or "/" is the system; any other root is a tree laid out like it */
	vw_strlcpy(prefix, root ? root : "", sizeof(prefix));
	n = strlen(prefix);
	while (n > 0 && prefix[n - 1] == '/')
		prefix[--n] = 0;
	if (!*prefix || !realpath(prefix, root_real))
		vw_strlcpy(root_real, "/", sizeof(root_real));

	scan_cameras(l, prefix, root_real);
	l->alsa_from_sysfs = *prefix != 0;
	if (l->alsa_from_sysfs)
		mics_from_sysfs(l, prefix);
	else
		mics_from_alsa(l);
	pair(l, prefix, root_real);
	*out = l;
	return 0;
}

void vw_devices_free(struct vw_devices *list)
{
	free(list);
}

/* ---- the automatic choice ---- */

static int rate_cmp(struct vw_dev_rate a, struct vw_dev_rate b)
{
	uint64_t x = (uint64_t)a.num * b.den, y = (uint64_t)b.num * a.den;
	return x < y ? -1 : x > y;
}

void vw_dev_rate_str(struct vw_dev_rate r, char *buf, size_t n)
{
	if (!r.den) {
		snprintf(buf, n, "?");
		return;
	}
	if (r.num % r.den == 0) {
		snprintf(buf, n, "%u", r.num / r.den);
		return;
	}
	snprintf(buf, n, "%.2f", (double)r.num / r.den);
	char *e = buf + strlen(buf);
	while (e > buf && e[-1] == '0')
		*--e = 0;
	if (e > buf && e[-1] == '.')
		e[-1] = 0;
}

static const struct vw_dev_format *find_format(const struct vw_camera *c, uint32_t fourcc)
{
	for (int i = 0; i < c->n_formats; i++)
		if (c->formats[i].fourcc == fourcc)
			return &c->formats[i];
	return NULL;
}

static uint64_t area(const struct vw_dev_size *s)
{
	return (uint64_t)s->width * s->height;
}

/* The smallest size that is at least w x h, or NULL. */
static const struct vw_dev_size *smallest_reaching(const struct vw_dev_format *f, int w, int h)
{
	const struct vw_dev_size *best = NULL;
	for (int i = 0; f && i < f->n_sizes; i++) {
		const struct vw_dev_size *s = &f->sizes[i];
		if (s->width >= (uint32_t)w && s->height >= (uint32_t)h && (!best || area(s) < area(best)))
			best = s;
	}
	return best;
}

static const struct vw_dev_size *largest(const struct vw_dev_format *f)
{
	const struct vw_dev_size *best = NULL;
	for (int i = 0; f && i < f->n_sizes; i++)
		if (!best || area(&f->sizes[i]) > area(best))
			best = &f->sizes[i];
	return best;
}

static struct vw_dev_rate max_rate(const struct vw_dev_size *s)
{
	struct vw_dev_rate best = {0, 0};
	for (int i = 0; s && i < s->n_rates; i++)
		if (!best.den || rate_cmp(s->rates[i], best) > 0)
			best = s->rates[i];
	return best;
}

/* The lowest rate of at least fps (the camera then sends no frames the stream would drop), else the
 * highest. {0, 0} when the driver lists none. */
static struct vw_dev_rate pick_rate(const struct vw_dev_size *s, int fps)
{
	struct vw_dev_rate want = {(uint32_t)fps, 1}, best = {0, 0};
	for (int i = 0; i < s->n_rates; i++)
		if (rate_cmp(s->rates[i], want) >= 0 && (!best.den || rate_cmp(s->rates[i], best) < 0))
			best = s->rates[i];
	return best.den ? best : max_rate(s);
}

/* Appends to out->why. */
static void why(struct vw_auto_choice *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(struct vw_auto_choice *out, const char *fmt, ...)
{
	size_t len = strlen(out->why);
	va_list ap;
	if (len + 1 >= sizeof(out->why))
		return;
	va_start(ap, fmt);
	vsnprintf(out->why + len, sizeof(out->why) - len, fmt, ap);
	va_end(ap);
}

static void choose_video(const struct vw_camera *c, int want_w, int want_h, int want_fps, struct vw_auto_choice *out)
{
	const struct vw_dev_format *mj = find_format(c, V4L2_PIX_FMT_MJPEG), *yu = find_format(c, V4L2_PIX_FMT_YUYV);
	const struct vw_dev_format *f;
	const struct vw_dev_size *s;
	bool big = want_w > 640 || want_h > 480, reaches;
	char r[16], r2[16];

	if (big && (s = smallest_reaching(mj, want_w, want_h))) {
		f = mj;
		reaches = true;
	} else {
		/* uncompressed when it can: no decode cost and no JPEG artefacts; else whatever there is */
		f = yu && yu->n_sizes ? yu : mj && mj->n_sizes ? mj : c->n_formats ? &c->formats[0] : NULL;
		s = smallest_reaching(f, want_w, want_h);
		reaches = s != NULL;
		if (!s)
			s = largest(f);
	}
	if (!f || !s) {
		/* the driver lists no discrete sizes: ask for the stream's and let it adjust */
		out->format = VW_FORMAT_AUTO;
		out->width = want_w;
		out->height = want_h;
		out->rate = (struct vw_dev_rate){(uint32_t)want_fps, 1};
		why(out, "; no discrete formats listed, asking for %dx%d@%d", want_w, want_h, want_fps);
		return;
	}
	out->fourcc = f->fourcc;
	out->format = f->fourcc == V4L2_PIX_FMT_MJPEG ? VW_FORMAT_MJPEG :
		      f->fourcc == V4L2_PIX_FMT_YUYV  ? VW_FORMAT_YUYV :
							VW_FORMAT_AUTO;
	out->width = (int)s->width;
	out->height = (int)s->height;
	out->rate = pick_rate(s, want_fps);
	if (!out->rate.den)
		out->rate = (struct vw_dev_rate){(uint32_t)want_fps, 1};
	vw_dev_rate_str(out->rate, r, sizeof(r));
	why(out, "; %s %ux%u@%s", f->fourcc_str, s->width, s->height, r);
	if (!reaches) {
		why(out, ", the largest it offers, as nothing reaches the stream's %dx%d", want_w, want_h);
	} else if (f == mj && big) {
		const struct vw_dev_size *ys = smallest_reaching(yu, want_w, want_h), *yl = largest(yu);
		why(out, " because the stream wants %dx%d", want_w, want_h);
		if (!yl) {
			why(out, " and there is no YUYV");
		} else if (!ys) {
			vw_dev_rate_str(max_rate(yl), r2, sizeof(r2));
			why(out, " and YUYV tops out at %s fps at %ux%u", r2, yl->width, yl->height);
		} else {
			vw_dev_rate_str(max_rate(ys), r2, sizeof(r2));
			why(out, " and uncompressed %ux%u (YUYV, up to %s fps) is too much for USB", ys->width, ys->height,
			    r2);
		}
	} else {
		why(out, " for the stream's %dx%d", want_w, want_h);
		if (big)
			why(out, mj ? " (MJPEG does not reach it)" : " (no MJPEG)");
	}
	if (rate_cmp(out->rate, (struct vw_dev_rate){(uint32_t)want_fps, 1}) < 0)
		why(out, ", only %s fps there (the stream wants %d)", r, want_fps);
}

int vw_devices_choose(const struct vw_devices *list, int want_w, int want_h, int want_fps,
		      struct vw_auto_choice *out)
{
	const struct vw_camera *c = list && list->n_cameras > 0 ? &list->cameras[0] : NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	out->camera = out->mic = -1;
	if (!c) {
		why(out, "no camera: no V4L2 capture device found");
		ret = -ENODEV;
	} else {
		out->camera = 0;
		vw_strlcpy(out->video_device, c->path, sizeof(out->video_device));
		why(out, "first camera %s (%s)", c->path, *c->card ? c->card : "no name");
		choose_video(c, want_w, want_h, want_fps, out);
	}
	if (c && c->mic >= 0 && c->mic < list->n_mics) {
		out->mic = c->mic;
		vw_strlcpy(out->audio_device, list->mics[c->mic].pcm, sizeof(out->audio_device));
		why(out, "; microphone %s of the same USB device", out->audio_device);
	} else {
		vw_strlcpy(out->audio_device, "default", sizeof(out->audio_device));
		why(out, "; microphone: ALSA's default (%s)",
		    !c ? "no camera to pair with" : list->n_mics ? "the camera has none of its own" : "no capture card found");
	}
	vw_utf8_sanitize(out->why); /* it may have been cut inside a character */
	return ret;
}

/* ---- rendering ---- */

/* The camera's controls, read from its node; NULL (and the reason in err) when there are none. */
static struct vw_control_info *read_controls(const struct vw_camera *c, int *n, char *err, size_t errlen)
{
	struct vw_control_info *ctl = calloc(VW_CONTROLS_MAX, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*n = vw_controls_list_v4l2(c->node, ctl, VW_CONTROLS_MAX, err, errlen);
	if (*n < 0) {
		free(ctl);
		return NULL;
	}
	return ctl;
}

static void print_control(const struct vw_control_info *k, FILE *out)
{
	fprintf(out, "      %s (%s) %s", k->name, k->label, vw_control_type_name(k->type));
	if (k->type == VW_CONTROL_INT || k->type == VW_CONTROL_MENU)
		fprintf(out, " %lld..%lld", (long long)k->min, (long long)k->max);
	if (k->type == VW_CONTROL_INT && k->step > 1)
		fprintf(out, " step %lld", (long long)k->step);
	if (k->type == VW_CONTROL_MENU) {
		fprintf(out, " [");
		for (int i = 0, first = 1; i < k->n_menu; i++)
			if (*k->menu[i]) {
				fprintf(out, "%s%lld: %s", first ? "" : ", ", (long long)(k->min + i), k->menu[i]);
				first = 0;
			}
		fprintf(out, "]");
	}
	if (k->type != VW_CONTROL_BUTTON)
		fprintf(out, ", default %lld, value %lld", (long long)k->def, (long long)k->value);
	fprintf(out, "%s%s\n", k->readonly ? ", read-only" : "", k->inactive ? ", inactive" : "");
}

void vw_devices_print(const struct vw_devices *l, const struct vw_auto_choice *choice, bool controls, FILE *out)
{
	char r[16];

	fprintf(out, "Cameras:%s\n", l->n_cameras ? "" : " none");
	for (int i = 0; i < l->n_cameras; i++) {
		const struct vw_camera *c = &l->cameras[i];
		fprintf(out, "  %s\n    %s, card \"%s\", driver %s, bus %s\n", c->path, c->node, c->card, c->driver,
			c->bus_info);
		if (c->mic >= 0)
			fprintf(out, "    microphone %s (same USB device)\n", l->mics[c->mic].pcm);
		for (int k = 0; k < c->n_formats; k++) {
			const struct vw_dev_format *f = &c->formats[k];
			fprintf(out, "    %s (%s):%s\n", f->fourcc_str, f->description, f->n_sizes ? "" : " no discrete sizes");
			for (int s = 0; s < f->n_sizes; s++) {
				fprintf(out, "      %ux%u:", f->sizes[s].width, f->sizes[s].height);
				for (int q = 0; q < f->sizes[s].n_rates; q++) {
					vw_dev_rate_str(f->sizes[s].rates[q], r, sizeof(r));
					fprintf(out, "%s%s", q ? ", " : " ", r);
				}
				fprintf(out, " fps\n");
			}
		}
		if (controls) {
			char err[256];
			int n = 0;
			struct vw_control_info *ctl = read_controls(c, &n, err, sizeof(err));
			if (!ctl)
				fprintf(out, "    controls: %s\n", err);
			else
				fprintf(out, "    controls:%s\n", n ? "" : " none");
			for (int k = 0; ctl && k < n; k++)
				print_control(&ctl[k], out);
			free(ctl);
		}
	}
	fprintf(out, "Microphones:%s\n", l->n_mics ? "" : " none");
	for (int i = 0; i < l->n_mics; i++) {
		const struct vw_mic *m = &l->mics[i];
		fprintf(out, "  %s\n    card %d \"%s\" (id %s), device %d", m->pcm, m->card, m->name, m->id, m->device);
		if (m->camera >= 0)
			fprintf(out, "; camera %s (same USB device)", l->cameras[m->camera].path);
		fprintf(out, "\n");
	}
	if (choice)
		fprintf(out, "device = auto would take: %s\n", choice->why);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *rate_json(struct vw_dev_rate r)
{
	if (r.den && r.num % r.den == 0)
		return json_integer(r.num / r.den);
	return r.den ? json_real((double)r.num / r.den) : json_null();
}

static json_t *camera_json(const struct vw_devices *l, const struct vw_camera *c, bool controls)
{
	json_t *o = json_pack("{s:i, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:o}", "index", c->index, "path", c->path,
			      "node", c->node, "by_id", str_or_null(c->by_id), "card", c->card, "driver", c->driver,
			      "bus_info", c->bus_info, "usb", str_or_null(c->usb), "microphone",
			      str_or_null(c->mic >= 0 ? l->mics[c->mic].pcm : NULL));
	json_t *fmts = json_array();
	for (int k = 0; o && fmts && k < c->n_formats; k++) {
		const struct vw_dev_format *f = &c->formats[k];
		json_t *sizes = json_array();
		for (int s = 0; sizes && s < f->n_sizes; s++) {
			json_t *fps = json_array();
			for (int q = 0; fps && q < f->sizes[s].n_rates; q++)
				json_array_append_new(fps, rate_json(f->sizes[s].rates[q]));
			json_array_append_new(sizes, json_pack("{s:i, s:i, s:o}", "width", (int)f->sizes[s].width, "height",
							       (int)f->sizes[s].height, "fps", fps));
		}
		json_array_append_new(fmts, json_pack("{s:s, s:s, s:o}", "fourcc", f->fourcc_str, "description",
						      f->description, "sizes", sizes));
	}
	json_object_set_new(o, "formats", fmts);
	if (o && controls) {
		char err[256];
		int n = 0;
		struct vw_control_info *ctl = read_controls(c, &n, err, sizeof(err));
		if (!ctl) {
			json_object_set_new(o, "controls_error", json_string(err));
		} else {
			json_t *arr = json_array();
			for (int k = 0; arr && k < n; k++)
				json_array_append_new(arr, vw_control_info_json(&ctl[k]));
			json_object_set_new(o, "controls", arr);
		}
		free(ctl);
	}
	return o;
}

char *vw_devices_json(const struct vw_devices *l, const struct vw_auto_choice *choice, bool controls)
{
	json_t *root = json_object(), *cams = json_array(), *mics = json_array();
	char *text = NULL;

	if (!root || !cams || !mics) {
		json_decref(cams);
		json_decref(mics);
		goto end;
	}
	for (int i = 0; i < l->n_cameras; i++)
		json_array_append_new(cams, camera_json(l, &l->cameras[i], controls));
	for (int i = 0; i < l->n_mics; i++) {
		const struct vw_mic *m = &l->mics[i];
		json_array_append_new(mics, json_pack("{s:i, s:i, s:s, s:s, s:s, s:o, s:o}", "card", m->card, "device",
						      m->device, "id", m->id, "name", m->name, "pcm", m->pcm, "usb",
						      str_or_null(m->usb), "camera",
						      str_or_null(m->camera >= 0 ? l->cameras[m->camera].path : NULL)));
	}
	json_object_set_new(root, "cameras", cams);
	json_object_set_new(root, "microphones", mics);
	json_object_set_new(root, "alsa_source", json_string(l->alsa_from_sysfs ? "sysfs" : "libasound"));
	if (choice) {
		char r[16];
		vw_dev_rate_str(choice->rate, r, sizeof(r));
		json_object_set_new(root, "auto",
				    json_pack("{s:o, s:s, s:i, s:i, s:o, s:s, s:s}", "video_device",
					      str_or_null(choice->video_device), "format",
					      choice->format == VW_FORMAT_MJPEG ? "mjpeg" :
					      choice->format == VW_FORMAT_YUYV  ? "yuyv" :
										  "auto",
					      "width", choice->width, "height", choice->height, "fps",
					      choice->camera >= 0 ? rate_json(choice->rate) : json_null(), "audio_device",
					      choice->audio_device, "why", choice->why));
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
end:
	json_decref(root);
	return text;
}
