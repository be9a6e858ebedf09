/* vw_filecopy: a copy, in one file, of what a destination sends (the destination rule's `file`).
 * Owns the file, its writer thread and the queue between them: the destination hands each message
 * it has written over (a copy of the bytes, never a wait), the thread appends them, so a slow disk
 * never holds up the network thread. When writing fails (a full disk) the copy pauses, says so
 * once and in its stats, and is tried again every VW_FILECOPY_RETRY_NS until it can write; the
 * destination goes on all along. The file only ever holds whole messages. */
#ifndef VW_FILECOPY_H
#define VW_FILECOPY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vw_hub.h"
#include "vw_log.h"
#include "vw_parse.h"
#include "vw_util.h"

/* Bytes queued for the disk at most; beyond, messages are lost (and counted). */
#define VW_FILECOPY_QUEUE (16u * 1024 * 1024)
/* After a failure, writing is tried again this often (one message's write: nothing else). */
#define VW_FILECOPY_RETRY_NS (2 * VW_NS_PER_SEC)

struct vw_filecopy_stats {
	uint64_t bytes;      /* written */
	uint64_t lost_bytes; /* handed over but not written: queue overflow, or while writing failed */
	bool failed;         /* not writing now (retried): error says why */
	char error[300];
};

struct vw_filecopy {
	char path[VW_PATH_MAX];
	char mod[VW_NAME_MAX + 16];
	struct vw_log *log;
	struct vw_hub hub; /* what the destination hands over */
	struct vw_sub sub; /* what the thread writes */
	pthread_t thread;
	bool running;
	atomic_bool stop, failed;
	pthread_mutex_t lock; /* ready, stats */
	pthread_cond_t cond;
	bool ready;
	int fd;
	struct vw_filecopy_stats st; /* under lock; failed and error written by the writer thread only */
	int64_t retry_at_ns; /* writer thread only: when to take messages again after a failure */
};

/* Starts the writer of `path` (opened by the thread: appended to, created 0644, never through a
 * symbolic link). `mod` names it in log lines. 0 or -errno. */
int vw_filecopy_start(struct vw_filecopy *fc, const char *path, const char *mod, struct vw_log *log);
/* Any thread, never blocks: appends data[0..len) unless the copy has failed. */
void vw_filecopy_add(struct vw_filecopy *fc, const void *data, size_t len);
/* Writes what is queued, closes the file and joins the thread. */
void vw_filecopy_stop(struct vw_filecopy *fc);
void vw_filecopy_get_stats(struct vw_filecopy *fc, struct vw_filecopy_stats *st);

#endif
