/* The vw binary under test, for the suites that start it (tests/system, the program tests of
 * tests/integration): its configuration, state file and log in a directory of the suite's, started
 * with the test environment plus the suite's own variables, on the port it reports, and stopped with
 * SIGTERM and a bounded wait.
 *
 * The port: vw listens where VW_PORT says (the fixture passes VW_PORT=0 unless the suite's env gives
 * one), so the kernel chooses a free port and nothing can take it between choosing and binding;
 * vw's "http: listening on HOST:PORT" log line says which. */
#ifndef VW_TESTVW_H
#define VW_TESTVW_H

#include <sys/types.h>

struct vw_testvw {
	pid_t pid;  /* the running vw, 0 once it has been reaped */
	int port;   /* where it listens (from its log line), -1 until known */
	int status; /* how it ended (as vw_test_wait returns it), once it has */
	char conf[700], state[700], log[700];
};

/* The arguments of a suite that reads vw's debug lines. */
#define VW_TESTVW_DEBUG ((const char *const[]){"--log-level", "debug", NULL})

/* Names DIR/TAG.conf, DIR/TAG-state.json and DIR/TAG.log, and removes a state file left there. */
void vw_testvw_init(struct vw_testvw *v, const char *dir, const char *tag);

/* Starts VW_BIN [-c conf] --state state ARGS... (args NULL-terminated, may be NULL) with `env`
 * ("K=V", NULL-terminated, may be NULL) over the test environment; stdout and stderr go to v->log
 * (truncated). conf_text, when given, is written to v->conf first; -c is passed when v->conf
 * exists (so a restart reuses the file, and a suite that wants the built-in default writes none).
 * Returns at once: 0 or -errno. */
int vw_testvw_spawn(struct vw_testvw *v, const char *conf_text, const char *const args[], const char *const env[]);

/* Waits up to timeout_ms for vw's "http: listening on" line; v->port, or -ETIMEDOUT, or -ECHILD
 * when vw has exited (v->status says how). */
int vw_testvw_port(struct vw_testvw *v, int timeout_ms);

/* vw_testvw_spawn, then up to 15 s for the port and for /healthcheck to answer 200 "ok". On
 * failure vw is stopped (if it had not exited by itself: v->status), the tail of its log printed,
 * and the error returned. */
int vw_testvw_start(struct vw_testvw *v, const char *conf_text, const char *const args[], const char *const env[]);

/* SIGTERM, then up to timeout_ms for vw to exit (SIGKILL after that). Returns its exit status, 128 +
 * signal, or -ETIMEDOUT; when it had already ended, how it did. */
int vw_testvw_stop(struct vw_testvw *v, int timeout_ms);

/* Prints the last `bytes` of the log (for a failure's context). */
void vw_testvw_print_log(const struct vw_testvw *v, size_t bytes);

#endif
