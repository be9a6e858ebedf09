/* vw_log: see vw_log.h. */
#include "vw_log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities (sd-daemon.h SD_ERR..SD_DEBUG) that journald reads from a "<N>" prefix */
static const int level_prio[] = {3, 4, 6, 7};

int vw_log_init(struct vw_log *log, enum vw_log_level level, FILE *out)
{
	int ret;

	log->level = level;
	log->out = out ? out : stderr;
	log->journal = out == NULL && getenv("JOURNAL_STREAM") != NULL;
	ret = -pthread_mutex_init(&log->lock, NULL);
	return ret;
}

void vw_log_destroy(struct vw_log *log)
{
	if (log)
		pthread_mutex_destroy(&log->lock);
}

int vw_log_level_parse(const char *s, enum vw_log_level *level)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level = (enum vw_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*level = VW_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *vw_log_level_name(enum vw_log_level level)
{
	return (unsigned)level < sizeof(level_names) / sizeof(level_names[0]) ? level_names[level] : "?";
}

void vw_logf(struct vw_log *log, enum vw_log_level level, const char *module, const char *fmt, ...)
{
	char line[1024];
	size_t n = 0;
	va_list ap;

	if (!log || level > log->level)
		return;

	if (log->journal) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>%s: ", level_prio[level], module);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s %s: ", ts.tv_nsec / 1000000L,
				      level_names[level], module);
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	size_t end = m < 0 ? n : n + (size_t)m;
	if (end > sizeof(line) - 2)
		end = sizeof(line) - 2; /* truncated: still one line */
	/* One event is one line: a message carrying a newline (say, from a peer) must not split it. */
	for (size_t i = n; i < end; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[end++] = '\n';

	pthread_mutex_lock(&log->lock);
	fwrite(line, 1, end, log->out);
	fflush(log->out);
	pthread_mutex_unlock(&log->lock);
}

uint64_t vw_log_key(const char *text)
{
	uint64_t h = 14695981039346656037ull;
	for (; text && *text; text++)
		h = (h ^ (unsigned char)*text) * 1099511628211ull;
	return h;
}

long vw_log_gate_pass(struct vw_log_gate *g, uint64_t key, int64_t now_ns)
{
	long held = g->suppressed > (unsigned long)LONG_MAX ? LONG_MAX : (long)g->suppressed;

	if (g->active && g->key == key) {
		if (g->window_ns <= 0 || (now_ns - g->window_start_ns < g->window_ns && g->passed >= (g->burst ? g->burst : 1))) {
			g->suppressed++;
			return -1;
		}
		if (now_ns - g->window_start_ns < g->window_ns) { /* within the window's burst */
			g->passed++;
			g->suppressed = 0;
			return held;
		}
	}
	g->active = true;
	g->key = key;
	g->window_start_ns = now_ns;
	g->passed = 1;
	g->suppressed = 0;
	return held;
}

long vw_log_gate_clear(struct vw_log_gate *g)
{
	long held = g->suppressed > (unsigned long)LONG_MAX ? LONG_MAX : (long)g->suppressed;

	if (!g->active)
		return -1;
	g->active = false;
	g->suppressed = 0;
	return held;
}

const char *vw_log_suppressed(char *buf, size_t n, long suppressed)
{
	if (suppressed > 0)
		snprintf(buf, n, " (%ld similar suppressed)", suppressed);
	else if (n)
		buf[0] = 0;
	return buf;
}

bool vw_log_gated(struct vw_log *log, struct vw_log_gate *g, uint64_t key, int64_t now_ns, enum vw_log_level level,
		  const char *module, const char *fmt, ...)
{
	char msg[900], tail[48]; /* room for the count after a long message */
	va_list ap;
	long held = vw_log_gate_pass(g, key, now_ns);

	if (held < 0)
		return false;
	if (!log || level > log->level)
		return true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vw_logf(log, level, module, "%s%s", msg, vw_log_suppressed(tail, sizeof(tail), held));
	return true;
}
