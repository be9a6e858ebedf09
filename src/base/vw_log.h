/* vw_log: one line per event, with a level and a module prefix, written to stderr so that under
 * systemd it reaches the journal with the right priority. Owns the logger object (threshold, sink,
 * line serialisation) and the log-once gate that keeps repeating errors from flooding the log.
 * There is no global logger: main.c owns one and hands a pointer to every component. */
#ifndef VW_LOG_H
#define VW_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

enum vw_log_level { VW_LOG_ERROR = 0, VW_LOG_WARN, VW_LOG_INFO, VW_LOG_DEBUG };

struct vw_log {
	enum vw_log_level level;
	FILE *out;
	bool journal; /* stderr is connected to journald: syslog priority prefix, no timestamp */
	pthread_mutex_t lock;
};

/* out == NULL means stderr. journald is detected from JOURNAL_STREAM. */
int vw_log_init(struct vw_log *log, enum vw_log_level level, FILE *out);
void vw_log_destroy(struct vw_log *log);

/* "error" | "warn" | "warning" | "info" | "debug" (case-insensitive); -EINVAL otherwise. */
int vw_log_level_parse(const char *s, enum vw_log_level *level);
const char *vw_log_level_name(enum vw_log_level level);

/* A NULL log discards the message, so components can be used without one in tests. */
void vw_logf(struct vw_log *log, enum vw_log_level level, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define vw_err(log, mod, ...) vw_logf((log), VW_LOG_ERROR, (mod), __VA_ARGS__)
#define vw_warn(log, mod, ...) vw_logf((log), VW_LOG_WARN, (mod), __VA_ARGS__)
#define vw_info(log, mod, ...) vw_logf((log), VW_LOG_INFO, (mod), __VA_ARGS__)
#define vw_debug(log, mod, ...) vw_logf((log), VW_LOG_DEBUG, (mod), __VA_ARGS__)

/* Log-once gate for a repeating condition identified by an error code (0 = healthy).
 * vw_log_gate_update() returns true when the code differs from the last one seen, i.e. when the
 * caller should log; repeats of the same code are only counted. */
struct vw_log_gate {
	int code;
	unsigned long repeats; /* occurrences of .code suppressed since it was last logged */
};

bool vw_log_gate_update(struct vw_log_gate *gate, int code);

#endif
