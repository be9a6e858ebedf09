/* vw_log: one line per event, with a level and a module prefix, written to stderr so that under
 * systemd it reaches the journal with the right priority. Owns the logger object (threshold, sink,
 * line serialisation) and the gate (log once / at most once per window, with a count of what it
 * held back) that keeps repeating conditions from flooding the log.
 * There is no global logger: main.c owns one and hands a pointer to every component. */
#ifndef VW_LOG_H
#define VW_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* The gate every repeating condition logs through, so that a relay down for an hour, a camera
 * missing all day or a flood of refused requests each cost a few lines, not one per attempt.
 * A gate is embedded in the struct of the component that owns the condition and used by one
 * thread at a time (the owner's thread or under the owner's lock); time is passed in, so the
 * gate is pure and testable.
 *
 * A condition is named by a key (vw_log_key() of its message, an error code, or a constant for
 * "any line of this kind"). A key the gate has not let through last is news and always passes.
 * A repeat of it passes again only when the gate has a window, at most `burst` lines (default
 * one) per window; otherwise it is held back until the condition changes or clears. Held-back
 * lines are counted, and the next line let through says how many (vw_log_gated appends
 * " (N similar suppressed)").
 * A condition that ends is cleared: vw_log_gate_clear() says whether it had been logged, so its
 * recovery is logged once and only after a failure was. */
struct vw_log_gate {
	int64_t window_ns;        /* set by the owner: 0 = once per condition; > 0 = repeats per window */
	unsigned burst;           /* set by the owner: lines let through per window (0 means 1) */
	bool active;              /* a condition was let through and has not cleared */
	uint64_t key;             /* ... which one */
	int64_t window_start_ns;  /* the window began with the first line it let through */
	unsigned passed;          /* lines let through in this window */
	unsigned long suppressed; /* lines held back since the last one let through */
};

/* The key of a condition described by text (FNV-1a). */
uint64_t vw_log_key(const char *text);

/* Whether a line for condition `key` at `now_ns` should be logged. When it should, returns the
 * number of lines held back since the last one let through (>= 0) and starts counting again;
 * when it should not, counts the line and returns -1. */
long vw_log_gate_pass(struct vw_log_gate *g, uint64_t key, int64_t now_ns);

/* The condition ended. Returns -1 when nothing was logged for it (no recovery to report), else
 * the number of its lines held back since the last one let through. */
long vw_log_gate_clear(struct vw_log_gate *g);

/* " (N similar suppressed)" for N > 0, "" otherwise, in buf (>= 48 bytes); returns buf. */
const char *vw_log_suppressed(char *buf, size_t n, long suppressed);

/* vw_logf through a gate: nothing when the gate holds the line back, else the message with the
 * count of held-back lines appended. Returns true when the line was let through (even when the
 * threshold then drops it). */
bool vw_log_gated(struct vw_log *log, struct vw_log_gate *g, uint64_t key, int64_t now_ns, enum vw_log_level level,
		  const char *module, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

#endif
