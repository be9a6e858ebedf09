/* vw_recorder: one on-disk recording of a stream, a hub subscriber served by its own thread so a
 * slow disk never adds network latency. Owns the segment files (NAME-YYYYmmddTHHMMSSZ.ts, written
 * as .part, fsynced and renamed when closed, each starting at a keyframe so it plays on its own),
 * retention by total size (oldest first), and the error state: when writing fails it stops
 * recording loudly, keeps the stream untouched, and resumes by itself when writes succeed again. */
#ifndef VW_RECORDER_H
#define VW_RECORDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vw_sink_conf.h"
#include "vw_hub.h"
#include "vw_log.h"

enum vw_rec_state {
	VW_REC_WAITING,   /* for the first keyframe */
	VW_REC_RECORDING,
	VW_REC_ERROR,     /* writing failed: paused, retrying */
	VW_REC_DONE,
};

const char *vw_rec_state_name(enum vw_rec_state s);

struct vw_recorder_stats {
	enum vw_rec_state state;
	char file[VW_PATH_MAX];
	char error[256];
	uint64_t segments, bytes, chunks;
	uint64_t lost_chunks; /* produced by the stream but not written: errors or queue overflow */
	uint64_t deleted;     /* segments removed by retention */
	uint64_t free_bytes;  /* on the recording's filesystem */
};

/* Queue bound: about four minutes at 1 Mbit/s, so a disk that stalls for a while loses nothing. */
#define VW_RECORDER_QUEUE (32u * 1024 * 1024)

struct vw_recorder {
	struct vw_recorder_conf conf;
	struct vw_log *log;
	char mod[VW_NAME_MAX + 12];
	struct vw_sub sub;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ready;

	int fd;
	char final[VW_PATH_MAX + 256], part[VW_PATH_MAX + 262];
	int64_t seg_start_ns, retry_ns;
	uint64_t seg_bytes;
	struct vw_log_gate fail_log; /* the error being reported: retries that meet it again stay quiet */
	struct vw_recorder_stats st;
};

int vw_recorder_start(struct vw_recorder *r, const struct vw_recorder_conf *conf, struct vw_hub *hub,
		      struct vw_log *log);
/* Closes the current segment cleanly. If the stream has ended, what is queued is written first. */
void vw_recorder_stop(struct vw_recorder *r);
void vw_recorder_get_stats(struct vw_recorder *r, struct vw_recorder_stats *st);

/* Segment file name for `name` at UTC time `t`: NAME-YYYYmmddTHHMMSSZ.ts. Pure. */
void vw_recorder_segment_name(char *buf, size_t n, const char *name, int64_t t);

#endif
