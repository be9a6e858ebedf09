/* vw_feed: one capture source and its thread. Owns the device (V4L2 camera or ALSA microphone
 * through libavdevice, a media file through libavformat, or the built-in test source), the
 * freshest-frame slot that encoders take video from, the push of audio samples to listeners, and
 * the absent state: a video feed whose device is missing, failing or silent shows a placeholder
 * picture while the device is reopened with backoff, and the device node is watched so a replugged
 * device is reopened at once. Every timestamp is CLOCK_MONOTONIC. */
#ifndef VW_FEED_H
#define VW_FEED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vw_feed_conf.h"
#include "vw_controls.h"
#include "vw_devwatch.h"
#include "vw_log.h"
#include "vw_rate.h"

struct AVFrame;

enum vw_feed_state {
	VW_FEED_STARTING,
	VW_FEED_LIVE,   /* frames or samples from the device */
	VW_FEED_ABSENT, /* device missing or failed: placeholder, retrying */
	VW_FEED_ENDED,  /* a file without loop reached its end */
};

const char *vw_feed_state_name(enum vw_feed_state s);

/* Callbacks run on the feed's thread with the feed's lock held: keep them short, never call back
 * into the feed. Samples are S16 interleaved. */
struct vw_feed_listener {
	void (*on_video)(void *opaque);
	void (*on_audio)(void *opaque, const int16_t *samples, int n, int rate, int channels, int64_t t_ns);
	void *opaque;
	struct vw_feed_listener *next;
};

struct vw_feed_stats {
	enum vw_feed_state state;
	uint64_t frames, placeholder_frames, audio_samples, decode_errors;
	uint64_t opens, failures;
	double fps; /* measured over the last second */
	/* Sound level: the peak of the last LEVEL window in dB below full scale (-96 for digital
	 * silence), and when it was measured (CLOCK_MONOTONIC ns; 0 before the first sound). */
	double level_db;
	int64_t level_ns;
	char format[64];
	char error[256];
	char device[VW_PATH_MAX]; /* in use: as configured, or what `device = auto` chose; "" while none */
};

struct vw_feed {
	struct vw_feed_conf conf;
	struct vw_log *log;
	char mod[VW_NAME_MAX + 8];
	pthread_t thread;
	bool running;
	atomic_bool stop;

	pthread_mutex_t lock;
	struct AVFrame *slot;
	uint64_t slot_seq;
	int64_t slot_ns;
	bool slot_placeholder;
	struct vw_feed_listener *listeners;
	struct vw_feed_stats st;
	struct vw_rate fps; /* captured frames over 1 s windows */
	int64_t level_window_ns;
	int level_peak;

	/* The capture thread's own: the device watch that cuts a retry wait short, whether it did,
	 * and when the last picture was published (placeholders continue its frame grid). */
	struct vw_devwatch watch;
	bool woke;
	int64_t last_pub_ns;
	char root[VW_PATH_MAX];      /* device discovery's root ("/"; tests point it elsewhere) */
	struct vw_controls_memo controls_memo; /* what applying the settings at the last open logged */
	struct vw_log_gate absent_log; /* why the device is missing, logged when the reason changes */
	struct vw_log_gate auto_log;   /* the last automatic choice, logged when it changes */

	/* The device in use: conf.device, or what `device = auto` chose ("" while none). Under lock. */
	char device[VW_PATH_MAX];
};

/* `root`: where device discovery reads sys/ and dev/ (NULL or "": /). */
int vw_feed_start(struct vw_feed *f, const struct vw_feed_conf *conf, const char *root, struct vw_log *log);
/* Stops the thread and closes the device; listeners must be gone. */
void vw_feed_stop(struct vw_feed *f);

void vw_feed_listen(struct vw_feed *f, struct vw_feed_listener *l);
void vw_feed_unlisten(struct vw_feed *f, struct vw_feed_listener *l);

/* A new reference to the freshest frame if it is newer than *seq (then *seq, *t_ns and
 * *placeholder are updated), else NULL. */
struct AVFrame *vw_feed_take_frame(struct vw_feed *f, uint64_t *seq, int64_t *t_ns, bool *placeholder);
void vw_feed_get_stats(struct vw_feed *f, struct vw_feed_stats *st);
/* The peak magnitude of n interleaved S16 samples (0..32768), and it in dB below full scale. */
int vw_audio_peak(const int16_t *s, size_t n);
double vw_audio_peak_db(int peak);

/* Draws the placeholder picture (YUV420P) for a feed that has no picture: `title` ("NO CAMERA"),
 * `detail` (the device) and the UTC time of `wall_s`. Exposed for tests. */
struct AVFrame *vw_placeholder_frame(int width, int height, const char *title, const char *detail, int64_t wall_s);

/* The running feed's settings (the API may have changed them since it started) with the device it
 * has open, which is what `device = auto` chose rather than the word "auto": a snapshot taken
 * under the feed's lock. */
void vw_feed_settings(struct vw_feed *f, struct vw_feed_conf *out);
/* Merges device settings into the running feed's (under its lock), so that a reopen applies the
 * API's live changes again; a setting of the same control (or its alias) is replaced. 0 or
 * -ENOSPC. The capture thread applies the settings after every successful open; a failure that
 * repeats at every reopen is logged once (struct vw_controls_memo). */
int vw_feed_remember_controls(struct vw_feed *f, const struct vw_control_setting *set, int n);
/* Applies the running feed's settings to its device (the capture thread, after every open).
 * Returns the number of settings that failed, or -errno if the device cannot be opened. */
int vw_feed_apply_controls(struct vw_feed *f);

#endif
