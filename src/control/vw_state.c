/* vw_state: see vw_state.h. */
#include "vw_state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vw_util.h"

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int vw_state_save(const char *path, const json_t *doc, char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	char *text = json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS);
	int fd = -1, dfd = -1, ret = 0;

	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid()) >= sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		snprintf(err, errlen, "%s: path too long", path);
		goto end;
	}
	vw_strlcpy(dir, path, sizeof(dir));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); /* tokens live in it */
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(-ret));
		goto end;
	}
	if ((ret = write_all(fd, text, strlen(text))) < 0 || (ret = write_all(fd, "\n", 1)) < 0 ||
	    (fsync(fd) < 0 && (ret = -errno) < 0)) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-ret));
		goto end;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(-ret));
		goto end;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(-ret));
		goto end;
	}
	/* the rename itself is durable only once the directory is */
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && fsync(dfd) < 0 && errno != EINVAL) {
		ret = -errno;
		snprintf(err, errlen, "cannot sync the directory of %s: %s", path, strerror(-ret));
	}
end:
	if (fd >= 0)
		close(fd);
	if (ret < 0 && ret != -ENAMETOOLONG)
		unlink(tmp);
	if (dfd >= 0)
		close(dfd);
	free(text);
	return ret;
}

int vw_state_load(const char *path, json_t **doc, char *err, size_t errlen)
{
	json_error_t e;
	FILE *f = fopen(path, "r");

	*doc = NULL;
	if (!f) {
		int ret = -errno;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	*doc = json_loadf(f, JSON_REJECT_DUPLICATES, &e);
	fclose(f);
	if (!*doc) {
		snprintf(err, errlen, "%s:%d: %s", path, e.line, e.text);
		return -EINVAL;
	}
	return 0;
}

int vw_state_set_aside(const char *path, char *moved, size_t movedlen)
{
	snprintf(moved, movedlen, "%s.broken-%lld", path, (long long)time(NULL));
	return rename(path, moved) < 0 ? -errno : 0;
}
