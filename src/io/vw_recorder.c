/* vw_recorder: see vw_recorder.h. */
#include "vw_recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "vw_util.h"

#define RETRY_NS (1 * VW_NS_PER_SEC)
/* The thread writes what has queued every BATCH_NS, or as soon as BATCH_BYTES are waiting. */
#define BATCH_NS (200 * VW_NS_PER_MS)
#define BATCH_BYTES (256u * 1024)

const char *vw_rec_state_name(enum vw_rec_state s)
{
	static const char *const names[] = {[VW_REC_WAITING] = "waiting", [VW_REC_RECORDING] = "recording",
					    [VW_REC_ERROR] = "error", [VW_REC_DONE] = "stopped"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "?";
}

void vw_recorder_segment_name(char *buf, size_t n, const char *name, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char ts[32];
	gmtime_r(&tt, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(buf, n, "%s-%s.ts", name, ts);
}

static void notify(void *opaque)
{
	struct vw_recorder *r = opaque;
	/* Called under the hub lock: only signal, and only for a batch or the end. The thread drains
	 * on its own every BATCH_NS anyway; waking it for every chunk cost more CPU than the writing
	 * and competed with the network thread for a core at each picture. */
	if (r->sub.bytes < BATCH_BYTES && !r->sub.hub->closed)
		return;
	pthread_mutex_lock(&r->lock);
	r->ready = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void set_state(struct vw_recorder *r, enum vw_rec_state s, const char *error)
{
	pthread_mutex_lock(&r->lock);
	r->st.state = s;
	vw_strlcpy(r->st.error, error ? error : "", sizeof(r->st.error));
	pthread_mutex_unlock(&r->lock);
}

static int mkdirs(const char *dir)
{
	char p[VW_PATH_MAX];
	vw_strlcpy(p, dir, sizeof(p));
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether `name` is one of recorder `rec`'s segments: REC-YYYYMMDDTHHMMSSZ[-N]SUFFIX, exactly.
 * Anything looser takes another recorder's files in the same directory for its own ("cam" and
 * "cam-2"), and retention would delete them. */
static bool is_segment(const char *name, const char *rec, const char *suffix)
{
	static const char stamp[] = "ddddddddTddddddZ"; /* d: a digit */
	size_t n = strlen(rec), l = strlen(name), sl = strlen(suffix);
	const char *p = name + n + 1, *end = name + l - sl;

	if (l < n + 1 + (sizeof(stamp) - 1) + sl || strncmp(name, rec, n) || name[n] != '-' || strcmp(end, suffix))
		return false;
	for (size_t i = 0; i + 1 < sizeof(stamp); i++, p++)
		if (stamp[i] == 'd' ? !(*p >= '0' && *p <= '9') : *p != stamp[i])
			return false;
	if (p == end)
		return true;
	if (*p++ != '-' || p == end) /* the -N of a name taken twice in one second */
		return false;
	for (; p < end; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

struct seg {
	char name[256];
	uint64_t size;
};

static int seg_cmp(const void *a, const void *b)
{
	return strcmp(((const struct seg *)a)->name, ((const struct seg *)b)->name);
}

/* Deletes the oldest closed segments until the total fits `keep`; the newest always stays. */
static void retention(struct vw_recorder *r)
{
	DIR *d = opendir(r->conf.dir);
	struct seg *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat sb;
		char path[VW_PATH_MAX + 300];
		if (!is_segment(de->d_name, r->conf.name, ".ts"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", r->conf.dir, de->d_name);
		if (stat(path, &sb) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct seg *nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		vw_strlcpy(v[n].name, de->d_name, sizeof(v[n].name));
		v[n].size = (uint64_t)sb.st_size;
		total += v[n].size;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), seg_cmp);
	for (size_t i = 0; i + 1 < n && total > r->conf.keep_bytes; i++) {
		char path[VW_PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", r->conf.dir, v[i].name);
		if (unlink(path) == 0) {
			total -= v[i].size;
			pthread_mutex_lock(&r->lock);
			r->st.deleted++;
			pthread_mutex_unlock(&r->lock);
			vw_debug(r->log, r->mod, "retention: deleted %s", v[i].name);
		}
	}
	free(v);
}

/* A crash leaves a .part that is playable up to its last whole packet: give it its final name. */
static void adopt_leftovers(struct vw_recorder *r)
{
	DIR *d = opendir(r->conf.dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char from[VW_PATH_MAX + 300], to[VW_PATH_MAX + 300];
		if (!is_segment(de->d_name, r->conf.name, ".ts.part"))
			continue;
		snprintf(from, sizeof(from), "%s/%s", r->conf.dir, de->d_name);
		snprintf(to, sizeof(to), "%s", from);
		to[strlen(to) - 5] = 0;
		if (rename(from, to) == 0)
			vw_info(r->log, r->mod, "kept %s left by an earlier run", to);
	}
	closedir(d);
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Closes the segment: fsync, rename .part to .ts, fsync the directory. */
static void close_segment(struct vw_recorder *r)
{
	if (r->fd < 0)
		return;
	fsync(r->fd);
	close(r->fd);
	r->fd = -1;
	if (rename(r->part, r->final) < 0)
		vw_warn(r->log, r->mod, "cannot rename %s: %s", r->part, strerror(errno));
	fsync_dir(r->conf.dir);
	vw_debug(r->log, r->mod, "closed %s (%llu bytes)", r->final, (unsigned long long)r->seg_bytes);
	pthread_mutex_lock(&r->lock);
	r->st.file[0] = 0;
	pthread_mutex_unlock(&r->lock);
	retention(r);
}

static int open_segment(struct vw_recorder *r)
{
	char name[VW_NAME_MAX + 40];
	int ret = mkdirs(r->conf.dir);

	if (ret < 0)
		return ret;
	vw_recorder_segment_name(name, sizeof(name), r->conf.name, (int64_t)time(NULL));
	snprintf(r->final, sizeof(r->final), "%s/%s", r->conf.dir, name);
	/* two segments within one second (after an error, say) get a suffix rather than a clash */
	for (int i = 1; access(r->final, F_OK) == 0 && i < 100; i++)
		snprintf(r->final, sizeof(r->final), "%s/%.*s-%d.ts", r->conf.dir, (int)strlen(name) - 3, name, i);
	snprintf(r->part, sizeof(r->part), "%s.part", r->final);
	r->fd = open(r->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (r->fd < 0)
		return -errno;
	r->seg_start_ns = vw_now_ns();
	r->seg_bytes = 0;
	pthread_mutex_lock(&r->lock);
	r->st.segments++;
	vw_strlcpy(r->st.file, r->final, sizeof(r->st.file));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void fail(struct vw_recorder *r, const char *what, int err)
{
	char msg[VW_PATH_MAX + 400];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-err));
	/* the message names the segment, which is new at every retry: the error itself is the key */
	vw_log_gated(r->log, &r->fail_log, (uint64_t)(uint32_t)err, vw_now_ns(), VW_LOG_ERROR, r->mod,
		     "%s; recording paused, the stream goes on", msg);
	set_state(r, VW_REC_ERROR, msg);
	r->retry_ns = vw_now_ns() + RETRY_NS;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void start_segment(struct vw_recorder *r, bool was_error)
{
	int ret = open_segment(r);
	if (ret < 0) {
		char what[VW_PATH_MAX + 300];
		snprintf(what, sizeof(what), "cannot create a segment in %s", r->conf.dir);
		fail(r, what, ret);
		return;
	}
	/* After an error only the first write tells: a full disk still lets a file be created. */
	if (was_error)
		return;
	vw_info(r->log, r->mod, "recording to %s", r->final);
	set_state(r, VW_REC_RECORDING, NULL);
}

static void handle(struct vw_recorder *r, struct vw_chunk *c)
{
	bool key = c->flags & VW_CHUNK_KEY;
	int64_t now = vw_now_ns();
	enum vw_rec_state state = r->st.state; /* only this thread changes it */
	bool retry = false;

	if (state == VW_REC_ERROR) {
		if (!key || now < r->retry_ns) {
			pthread_mutex_lock(&r->lock);
			r->st.lost_chunks++;
			pthread_mutex_unlock(&r->lock);
			return;
		}
		start_segment(r, true);
		retry = true;
	} else if (state == VW_REC_WAITING) {
		if (!key)
			return;
		start_segment(r, false);
	} else if (key && now - r->seg_start_ns >= r->conf.segment_ns) {
		close_segment(r);
		start_segment(r, false);
	}
	if (r->fd < 0) {
		pthread_mutex_lock(&r->lock);
		r->st.lost_chunks++;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	int ret = write_all(r->fd, c->data, c->len);
	if (ret < 0) {
		char what[VW_PATH_MAX + 300];
		snprintf(what, sizeof(what), "writing %s failed", r->part);
		if (r->seg_bytes == 0) {
			/* nothing of it is on disk: no segment rather than an empty file that does not play */
			close(r->fd);
			r->fd = -1;
			unlink(r->part);
			pthread_mutex_lock(&r->lock);
			r->st.segments--;
			r->st.file[0] = 0;
			pthread_mutex_unlock(&r->lock);
		} else {
			/* keep the segment playable: cut the partial chunk, close it under its final name */
			if (ftruncate(r->fd, (off_t)r->seg_bytes) < 0) {
				/* the reader skips a partial packet at the end anyway */
			}
			close_segment(r);
		}
		fail(r, what, ret);
		pthread_mutex_lock(&r->lock);
		r->st.lost_chunks++;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	if (retry) {
		char held[48];
		vw_info(r->log, r->mod, "writing works again; recording resumed in %s%s", r->final,
			vw_log_suppressed(held, sizeof(held), vw_log_gate_clear(&r->fail_log)));
		set_state(r, VW_REC_RECORDING, NULL);
	}
	r->seg_bytes += c->len;
	pthread_mutex_lock(&r->lock);
	r->st.chunks++;
	r->st.bytes += c->len;
	pthread_mutex_unlock(&r->lock);
}

static void *recorder_main(void *arg)
{
	struct vw_recorder *r = arg;
	bool eos = false;

	adopt_leftovers(r);
	retention(r);
	while (!eos) {
		struct timespec ts;
		int64_t wake = vw_now_ns() + BATCH_NS;
		ts.tv_sec = wake / VW_NS_PER_SEC;
		ts.tv_nsec = wake % VW_NS_PER_SEC;
		pthread_mutex_lock(&r->lock);
		while (!r->ready && !atomic_load(&r->stop))
			if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
				break;
		r->ready = false;
		pthread_mutex_unlock(&r->lock);

		struct vw_chunk *c;
		while ((c = vw_sub_pop(&r->sub, &eos))) {
			handle(r, c);
			vw_chunk_unref(c);
		}
		int64_t now = vw_now_ns();
		/* ask for the keyframes that rotation and recovery are waiting for, instead of a GOP */
		if ((r->st.state == VW_REC_RECORDING && now - r->seg_start_ns >= r->conf.segment_ns) ||
		    (r->st.state == VW_REC_ERROR && now >= r->retry_ns))
			vw_hub_request_key(r->sub.hub);
		if (atomic_load(&r->stop) && !eos)
			break; /* removed while the stream goes on */
	}
	close_segment(r);
	set_state(r, VW_REC_DONE, r->st.state == VW_REC_ERROR ? r->st.error : NULL);
	return NULL;
}

int vw_recorder_start(struct vw_recorder *r, const struct vw_recorder_conf *conf, struct vw_hub *hub,
		      struct vw_log *log)
{
	int ret;
	pthread_condattr_t ca;

	memset(r, 0, sizeof(*r));
	r->conf = *conf;
	r->log = log;
	r->fd = -1;
	snprintf(r->mod, sizeof(r->mod), "recorder %s", conf->name);
	atomic_init(&r->stop, false);
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	r->st.state = VW_REC_WAITING;
	ret = vw_sub_init(&r->sub, hub, VW_RECORDER_QUEUE, 0, notify, r);
	if (ret < 0)
		goto fail;
	ret = -pthread_create(&r->thread, NULL, recorder_main, r);
	if (ret == 0)
		vw_thread_name(r->thread, "rec", conf->name);
	if (ret < 0) {
		vw_sub_fini(&r->sub);
		goto fail;
	}
	r->running = true;
	return 0;
fail:
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	return ret;
}

void vw_recorder_stop(struct vw_recorder *r)
{
	if (!r->running)
		return;
	atomic_store(&r->stop, true);
	pthread_mutex_lock(&r->lock);
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	r->running = false;
	vw_sub_fini(&r->sub);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
}

void vw_recorder_get_stats(struct vw_recorder *r, struct vw_recorder_stats *st)
{
	struct statvfs sv;
	struct vw_sub_stats ss;

	pthread_mutex_lock(&r->lock);
	*st = r->st;
	pthread_mutex_unlock(&r->lock);
	vw_sub_get_stats(&r->sub, &ss);
	st->lost_chunks += ss.dropped_chunks;
	if (statvfs(r->conf.dir, &sv) == 0)
		st->free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
}
