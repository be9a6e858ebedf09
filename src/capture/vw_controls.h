/* vw_controls: device settings. Owns V4L2 controls (camera brightness, exposure, focus, ...) and the
 * ALSA capture gain: control-name normalization and the old kernel aliases, value syntax (integers,
 * NN% of the range, booleans, menu items by index or normalized name), resolving names against the
 * device, applying a feed's settings (auto modes before manual values; one bad setting never stops
 * the others) and listing what a device offers. The device is opened separately from the capture
 * (V4L2 controls and ALSA mixers are device-wide), so nothing here touches the capture thread. */
#ifndef VW_CONTROLS_H
#define VW_CONTROLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vw_feed_conf.h"
#include "vw_log.h"

#define VW_CONTROL_MENU_MAX 32 /* menu items kept per control (by index) */
#define VW_CONTROLS_MAX 128    /* controls a listing holds at most */

enum vw_control_type { VW_CONTROL_INT, VW_CONTROL_BOOL, VW_CONTROL_MENU, VW_CONTROL_BUTTON, VW_CONTROL_OTHER };

struct vw_control_info {
	char name[VW_CONTROL_NAME_MAX]; /* normalized: "auto_exposure" */
	char label[48];                 /* as the driver reports it: "Auto Exposure" */
	uint32_t id;                    /* V4L2 control id (0 for ALSA) */
	enum vw_control_type type;
	int64_t min, max, step, def, value;
	bool readonly, inactive; /* inactive: e.g. a manual value while its auto mode is on */
	/* MENU: menu[i] names item min + i ("" for indexes the driver skips); n_menu items. */
	char menu[VW_CONTROL_MENU_MAX][48];
	int n_menu;
	/* ALSA gain only: the element's dB range and value in 1/100 dB (has_db false if it has none). */
	bool has_db;
	int64_t db_min, db_max, db_value;
};

const char *vw_control_type_name(enum vw_control_type t);

/* A control as JSON, the one shape of both `vw devices --json --controls` and
 * GET /api/feeds/FEED/controls: {"name","label","type","min","max","step","default","value",
 * "inactive","readonly", "menu":[{"value","name","label"}] (menus), "db_min","db_max","db" (ALSA
 * gain, dB)}. NULL on allocation failure. */
struct json_t;
struct json_t *vw_control_info_json(const struct vw_control_info *c);

/* v4l2-ctl's normalization: lowercase, runs of non-alphanumerics become one '_', no '_' at either
 * end. "Power Line Frequency" -> "power_line_frequency". Always terminates out. */
void vw_control_normalize(const char *label, char *out, size_t outlen);
/* The other name of a control renamed in the kernel (exposure_auto <-> auto_exposure, ...), or NULL. */
const char *vw_control_alias(const char *name);
/* The controls the kernel itself defines (user and camera classes), by v4l2-ctl's normalized names,
 * the old names of renamed ones included: what a v4l2 feed may name without the `control.` prefix
 * that marks a driver's own control. */
extern const char *const vw_control_standard_names[];
extern const size_t vw_control_n_standard;
bool vw_control_standard(const char *name);
/* Whether `name` (as written by the user) designates the control normalized as `ctrl_name`. */
bool vw_control_name_matches(const char *name, const char *ctrl_name);

/* Resolves the text `value` for the control `c`: an integer, "NN%" of min..max (rounded to the
 * step), a boolean word for BOOL, a menu item by index or by normalized name for MENU. Returns 0,
 * or -EINVAL / -ERANGE with a message naming the valid range or menu items in err. */
int vw_control_value_parse(const struct vw_control_info *c, const char *value, int64_t *out, char *err, size_t errlen);

/* Lists the controls of the V4L2 device (menus resolved, current values read). Returns the count
 * (at most max) or -errno with the reason in err. */
int vw_controls_list_v4l2(const char *device, struct vw_control_info *out, int max, char *err, size_t errlen);

/* Checks every setting against the device's controls without changing anything: returns 0, or
 * -EINVAL/-ERANGE for the first bad one (unknown control: the message lists the known names), or
 * -errno if the device cannot be opened. */
int vw_controls_check_v4l2(const char *device, const struct vw_control_setting *set, int n, char *err, size_t errlen);

/* Applies the settings to the V4L2 device: auto modes first, each value read back and logged as one
 * line under `mod`; an unknown control or bad value is logged (naming the range or items) and
 * skipped. Returns the number of settings that failed (0: all applied), or -errno if the device
 * cannot be opened (logged too). Never touches the capture. */
int vw_controls_apply_v4l2(const char *device, const struct vw_control_setting *set, int n, struct vw_log *log,
                           const char *mod);

/* The ALSA mixer behind a feed: conf->mixer or, if empty, derived from the PCM name (hw:CARD=X for
 * sysdefault:CARD=X, hw:X, plughw:X, dsnoop:X...; else "default"). */
void vw_controls_alsa_mixer(const struct vw_feed_conf *conf, char *out, size_t outlen);

/* The capture gain of the feed's mixer element (conf->mixer_element, or the first element with a
 * capture volume, preferring "Capture" then "Mic") as one control named "gain": range, value
 * (raw units) and dB. Returns 1 or -errno with the reason in err. */
int vw_controls_list_alsa(const struct vw_feed_conf *conf, struct vw_control_info *out, char *err, size_t errlen);

/* Checks the settings of an ALSA feed (only "gain": "80%", "-6dB" or a raw number) against its
 * mixer without changing anything. 0 or a negative errno with the reason in err. */
int vw_controls_check_alsa(const struct vw_feed_conf *conf, const struct vw_control_setting *set, int n, char *err,
                           size_t errlen);

/* Applies the ALSA feed's gain (if set) to every capture channel and logs the result under `mod`.
 * Returns the number of failed settings or -errno if the mixer cannot be opened (logged). */
int vw_controls_apply_alsa(const struct vw_feed_conf *conf, const struct vw_control_setting *set, int n,
                           struct vw_log *log, const char *mod);

/* What the last apply at a device open logged. The capture thread reopens a failing device every
 * 0.25-1 s and applies the settings each time: with a memo, a warning the last apply gave already
 * goes to debug level (a setting that fails at every reopen is logged once, until the failures
 * change), and so does a value the device already held. Zero it to start. Not a vw_log_gate: a
 * gate follows one condition, an apply reports a set of them at once (one per failing setting),
 * and a repeat stays in the log at debug level instead of being counted away. */
struct vw_controls_memo {
	uint64_t seen[VW_MAX_CONTROLS + 1]; /* vw_log_key() of the last apply's warnings */
	int n_seen;
};

/* Dispatch on the feed's type: v4l2 -> device controls, alsa -> gain; other types have none (0).
 * `memo` may be NULL (everything logged at its level). */
int vw_controls_apply_feed(const struct vw_feed_conf *conf, struct vw_controls_memo *memo, struct vw_log *log,
                           const char *mod);

#endif
