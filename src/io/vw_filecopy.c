/* vw_filecopy: see vw_filecopy.h. */
#include "vw_filecopy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vw_util.h"

/* The thread writes what has queued at least this often (and when woken for a batch). */
#define BATCH_MS 100
#define BATCH_BYTES (256u * 1024)

static void notify(void *opaque)
{
	struct vw_filecopy *fc = opaque;
	/* under the hub lock: only signal, and only for a batch */
	if (fc->sub.bytes < BATCH_BYTES)
		return;
	pthread_mutex_lock(&fc->lock);
	fc->ready = true;
	pthread_cond_signal(&fc->cond);
	pthread_mutex_unlock(&fc->lock);
}

/* Writing failed: the copy pauses, says so once for the whole outage, and is tried again every
 * VW_FILECOPY_RETRY_NS; what the destination sends meanwhile is counted as lost. */
static void fail(struct vw_filecopy *fc, const char *what, int err)
{
	bool was = fc->st.failed; /* only this thread writes it */

	pthread_mutex_lock(&fc->lock);
	fc->st.failed = true;
	snprintf(fc->st.error, sizeof(fc->st.error), "%s: %s", what, strerror(err)); /* the path is shown beside it */
	pthread_mutex_unlock(&fc->lock);
	atomic_store(&fc->failed, true);
	fc->retry_at_ns = vw_now_ns() + VW_FILECOPY_RETRY_NS;
	if (!was)
		vw_err(fc->log, fc->mod, "copy to file stopped: %s %s: %s (the destination goes on; tried again every %lld s)",
		       what, fc->path, strerror(err), (long long)(VW_FILECOPY_RETRY_NS / VW_NS_PER_SEC));
}

static void lost(struct vw_filecopy *fc, size_t len)
{
	pthread_mutex_lock(&fc->lock);
	fc->st.lost_bytes += len;
	pthread_mutex_unlock(&fc->lock);
}

/* One message, whole or not at all: a failure part way cuts the file back to where the message
 * began, so the copy stays a sequence of whole messages (and a full disk gets those bytes back). */
static void write_message(struct vw_filecopy *fc, const uint8_t *p, size_t len)
{
	off_t start = lseek(fc->fd, 0, SEEK_END);
	size_t done = 0;

	while (done < len) {
		ssize_t w = write(fc->fd, p + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = w < 0 ? errno : ENOSPC;
			bool cut = done == 0 || (start >= 0 && ftruncate(fc->fd, start) == 0);
			pthread_mutex_lock(&fc->lock);
			if (!cut) /* the part stays in the file */
				fc->st.bytes += done;
			fc->st.lost_bytes += cut ? len : len - done;
			pthread_mutex_unlock(&fc->lock);
			fail(fc, "cannot write", err);
			return;
		}
		done += (size_t)w;
	}
	bool resumed = fc->st.failed;
	pthread_mutex_lock(&fc->lock);
	fc->st.bytes += len;
	uint64_t lost_bytes = fc->st.lost_bytes;
	if (resumed) {
		fc->st.failed = false;
		fc->st.error[0] = 0;
	}
	pthread_mutex_unlock(&fc->lock);
	if (resumed) {
		vw_info(fc->log, fc->mod, "copy to file resumed: %s (%llu bytes lost in all)", fc->path,
			(unsigned long long)lost_bytes);
	}
}

static void drain(struct vw_filecopy *fc)
{
	struct vw_chunk *c;
	while ((c = vw_sub_pop(&fc->sub, NULL))) {
		if (!atomic_load(&fc->failed))
			write_message(fc, c->data, c->len);
		else
			lost(fc, c->len);
		vw_chunk_unref(c);
	}
}

static void open_file(struct vw_filecopy *fc)
{
	fc->fd = open(fc->path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fc->fd < 0)
		fail(fc, "cannot open", errno);
	else if (!fc->st.failed) /* a reopen after a failure says "resumed" at its first write */
		vw_info(fc->log, fc->mod, "copying what it sends to %s", fc->path);
}

/* After a failure, at the retry time: take messages again (opening the file first if that was what
 * failed); the next write says whether the disk has room again. */
static void retry(struct vw_filecopy *fc)
{
	if (!atomic_load(&fc->failed) || vw_now_ns() < fc->retry_at_ns)
		return;
	if (fc->fd < 0) {
		open_file(fc);
		if (fc->fd < 0)
			return;
	}
	atomic_store(&fc->failed, false);
}

static void *writer(void *arg)
{
	struct vw_filecopy *fc = arg;

	open_file(fc);
	while (!atomic_load(&fc->stop)) {
		pthread_mutex_lock(&fc->lock);
		if (!fc->ready && !atomic_load(&fc->stop)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += BATCH_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&fc->cond, &fc->lock, &ts);
		}
		fc->ready = false;
		pthread_mutex_unlock(&fc->lock);
		drain(fc);
		retry(fc);
	}
	drain(fc);
	if (fc->fd >= 0) {
		close(fc->fd);
		fc->fd = -1;
	}
	return NULL;
}

int vw_filecopy_start(struct vw_filecopy *fc, const char *path, const char *mod, struct vw_log *log)
{
	int ret;

	memset(fc, 0, sizeof(*fc));
	vw_strlcpy(fc->path, path, sizeof(fc->path));
	vw_strlcpy(fc->mod, mod, sizeof(fc->mod));
	fc->log = log;
	fc->fd = -1;
	atomic_init(&fc->stop, false);
	atomic_init(&fc->failed, false);
	pthread_mutex_init(&fc->lock, NULL);
	pthread_cond_init(&fc->cond, NULL);
	ret = vw_hub_init(&fc->hub, NULL, NULL);
	if (ret < 0)
		goto fail;
	vw_sub_init(&fc->sub, &fc->hub, VW_FILECOPY_QUEUE, 0, notify, fc);
	ret = -pthread_create(&fc->thread, NULL, writer, fc);
	if (ret < 0) {
		vw_sub_fini(&fc->sub);
		vw_hub_destroy(&fc->hub);
		goto fail;
	}
	vw_thread_name(fc->thread, "copy", "");
	fc->running = true;
	return 0;
fail:
	pthread_cond_destroy(&fc->cond);
	pthread_mutex_destroy(&fc->lock);
	return ret;
}

void vw_filecopy_add(struct vw_filecopy *fc, const void *data, size_t len)
{
	struct vw_sub_stats before, after;
	struct vw_chunk *c;

	if (!fc->running || !len)
		return;
	if (atomic_load(&fc->failed)) { /* not writing now: counted, not queued */
		lost(fc, len);
		return;
	}
	/* KEY: every message stands alone here; an overflow loses whole messages, no more */
	c = vw_chunk_new(data, len, VW_CHUNK_KEY, 0);
	if (!c) {
		lost(fc, len);
		return;
	}
	vw_sub_get_stats(&fc->sub, &before);
	vw_hub_publish(&fc->hub, c);
	vw_chunk_unref(c);
	vw_sub_get_stats(&fc->sub, &after);
	if (after.overflows != before.overflows)
		lost(fc, before.queued_bytes);
}

void vw_filecopy_stop(struct vw_filecopy *fc)
{
	if (!fc->running)
		return;
	pthread_mutex_lock(&fc->lock);
	atomic_store(&fc->stop, true);
	pthread_cond_signal(&fc->cond);
	pthread_mutex_unlock(&fc->lock);
	pthread_join(fc->thread, NULL);
	fc->running = false;
	vw_sub_fini(&fc->sub);
	vw_hub_destroy(&fc->hub);
	pthread_cond_destroy(&fc->cond);
	pthread_mutex_destroy(&fc->lock);
}

void vw_filecopy_get_stats(struct vw_filecopy *fc, struct vw_filecopy_stats *st)
{
	if (!fc->running) {
		memset(st, 0, sizeof(*st));
		return;
	}
	pthread_mutex_lock(&fc->lock);
	*st = fc->st;
	pthread_mutex_unlock(&fc->lock);
}
