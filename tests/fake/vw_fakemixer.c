/* vw_fakemixer: the fake microphone's mixer, an ALSA external control plugin (ctl type "vwfake",
 * libasound_module_ctl_vwfake.so), so snd_mixer code runs on machines without a sound card.
 * Owns two elements that the simple mixer layer shows as one element "Capture" with a capture
 * volume and a capture switch:
 *   "Capture Volume"  integer, 2 channels, 0..100, dB scale -50.00 dB (0) to 0 dB (100), 0.5 dB/step
 *   "Capture Switch"  boolean, 2 channels
 * Values live in the file named by VWFAKEMIC_MIXER (or the plugin's `file` parameter), one line
 * "volume L R" and one "switch L R", rewritten at every write, so a test reads back across
 * processes what the program under test set. Without a file they live in this process only.
 * Defaults: volume 50 50, switch 1 1. Declared in tests/fake/asound.conf.in (ctl.!default,
 * ctl.vwfake). */
#include <alsa/asoundlib.h>
#include <alsa/control_external.h>
#include "vw_fakealsa.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { KEY_VOLUME, KEY_SWITCH, N_KEYS };

#define CHANNELS 2
#define VOL_MAX 100

struct fakemixer {
	snd_ctl_ext_t ext;
	char file[1024];
	long vol[CHANNELS], sw[CHANNELS];
};

/* DB_SCALE: type, length, min (1/100 dB), step (1/100 dB) */
static const unsigned int db_tlv[] = {SND_CTL_TLVT_DB_SCALE, 2 * sizeof(unsigned int), (unsigned int)-5000, 50};

static void load(struct fakemixer *m)
{
	FILE *f;
	char line[128];

	if (!*m->file || !(f = fopen(m->file, "r")))
		return;
	for (int i = 0; i < 8 && fgets(line, sizeof(line), f); i++) {
		long a, b;
		if (sscanf(line, "volume %ld %ld", &a, &b) == 2) {
			m->vol[0] = a;
			m->vol[1] = b;
		} else if (sscanf(line, "switch %ld %ld", &a, &b) == 2) {
			m->sw[0] = a;
			m->sw[1] = b;
		}
	}
	fclose(f);
}

static int save(struct fakemixer *m)
{
	char tmp[1100];
	FILE *f;

	if (!*m->file)
		return 0;
	/* a reader in another process never sees half a file */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", m->file, (int)getpid());
	if (!(f = fopen(tmp, "w")))
		return -errno;
	fprintf(f, "volume %ld %ld\nswitch %ld %ld\n", m->vol[0], m->vol[1], m->sw[0], m->sw[1]);
	if (fclose(f) != 0 || rename(tmp, m->file) != 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int elem_count(snd_ctl_ext_t *ext)
{
	(void)ext;
	return N_KEYS;
}

static int elem_list(snd_ctl_ext_t *ext, unsigned int offset, snd_ctl_elem_id_t *id)
{
	(void)ext;
	snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(id, offset == KEY_VOLUME ? "Capture Volume" : "Capture Switch");
	return 0;
}

static snd_ctl_ext_key_t find_elem(snd_ctl_ext_t *ext, const snd_ctl_elem_id_t *id)
{
	const char *name = snd_ctl_elem_id_get_name(id);
	(void)ext;
	if (!strcmp(name, "Capture Volume"))
		return KEY_VOLUME;
	if (!strcmp(name, "Capture Switch"))
		return KEY_SWITCH;
	return SND_CTL_EXT_KEY_NOT_FOUND;
}

static int get_attribute(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, int *type, unsigned int *acc, unsigned int *count)
{
	(void)ext;
	*type = key == KEY_VOLUME ? SND_CTL_ELEM_TYPE_INTEGER : SND_CTL_ELEM_TYPE_BOOLEAN;
	*acc = SND_CTL_EXT_ACCESS_READWRITE | (key == KEY_VOLUME ? SND_CTL_EXT_ACCESS_TLV_READ : 0);
	*count = CHANNELS;
	return 0;
}

static int get_integer_info(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *imin, long *imax, long *istep)
{
	(void)ext;
	*imin = 0;
	*imax = key == KEY_VOLUME ? VOL_MAX : 1;
	*istep = 1;
	return 0;
}

static int read_integer(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *value)
{
	struct fakemixer *m = ext->private_data;
	load(m);
	for (int c = 0; c < CHANNELS; c++)
		value[c] = key == KEY_VOLUME ? m->vol[c] : m->sw[c];
	return 0;
}

static int write_integer(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *value)
{
	struct fakemixer *m = ext->private_data;
	long *dst = key == KEY_VOLUME ? m->vol : m->sw;
	long max = key == KEY_VOLUME ? VOL_MAX : 1;
	int changed = 0, r;

	load(m);
	for (int c = 0; c < CHANNELS; c++) {
		if (value[c] < 0 || value[c] > max)
			return -EINVAL;
		changed |= dst[c] != value[c];
		dst[c] = value[c];
	}
	r = save(m);
	return r < 0 ? r : changed;
}

static int read_event(snd_ctl_ext_t *ext, snd_ctl_elem_id_t *id, unsigned int *event_mask)
{
	(void)ext;
	(void)id;
	(void)event_mask;
	return -EAGAIN;
}

static void fm_close(snd_ctl_ext_t *ext)
{
	free(ext->private_data);
}

static const snd_ctl_ext_callback_t callbacks = {
    .close = fm_close,
    .elem_count = elem_count,
    .elem_list = elem_list,
    .find_elem = find_elem,
    .get_attribute = get_attribute,
    .get_integer_info = get_integer_info,
    .read_integer = read_integer,
    .write_integer = write_integer,
    .read_event = read_event,
};

/* ALSA looks the entry point up by name; declared first like any other exported function. */
SND_CTL_PLUGIN_DEFINE_FUNC(vwfake);

SND_CTL_PLUGIN_DEFINE_FUNC(vwfake)
{
	const char *file = NULL, *env = getenv("VWFAKEMIC_MIXER");
	struct fakemixer *m;
	int err;

	(void)root;
	err = vw_fakealsa_fields(conf, "vwfake ctl", &file, NULL, NULL);
	if (err < 0)
		return err;
	if (env && *env) /* the environment wins: each test names its own file */
		file = env;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	snprintf(m->file, sizeof(m->file), "%s", file ? file : "");
	m->vol[0] = m->vol[1] = VOL_MAX / 2;
	m->sw[0] = m->sw[1] = 1;
	m->ext.version = SND_CTL_EXT_VERSION;
	m->ext.card_idx = 0;
	snprintf(m->ext.id, sizeof(m->ext.id), "vwfake");
	snprintf(m->ext.driver, sizeof(m->ext.driver), "vwfake");
	snprintf(m->ext.name, sizeof(m->ext.name), "vw fake microphone");
	snprintf(m->ext.longname, sizeof(m->ext.longname), "vw fake microphone mixer");
	snprintf(m->ext.mixername, sizeof(m->ext.mixername), "vw fake mixer");
	m->ext.poll_fd = -1;
	m->ext.callback = &callbacks;
	m->ext.private_data = m;
	m->ext.tlv.p = db_tlv;
	err = snd_ctl_ext_create(&m->ext, name, mode);
	if (err < 0) {
		free(m);
		return err;
	}
	*handlep = m->ext.handle;
	return 0;
}

SND_CTL_PLUGIN_SYMBOL(vwfake);
