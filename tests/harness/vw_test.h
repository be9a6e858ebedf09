/* Test harness shared by the CUnit suites: one runner (verbose, prints CUnit's run summary, exit
 * status = failures) and small helpers for clocks, temp dirs, files and bounded child processes. */
#ifndef VW_TEST_H
#define VW_TEST_H

#include "vw_log.h"

#include <CUnit/CUnit.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vw_test {
	const char *name;
	CU_TestFunc fn;
};

/* Runs `tests` (terminated by {NULL, NULL}) as one suite. argv[1], if given, runs only tests whose
 * name contains it. Returns 0 when everything passed. */
int vw_test_main(int argc, char **argv, const char *suite, const struct vw_test *tests);
/* vw_test_main with a fresh directory for the suite's files in *dir (vw_test_mkdtemp(suite)),
 * removed with its contents afterwards. */
int vw_test_main_dir(int argc, char **argv, const char *suite, const struct vw_test *tests, char **dir);

/* What a suite wants of FFmpeg's log (other than KEEP: its devices registered too). */
enum vw_test_av {
	VW_TEST_AV_KEEP = 0, /* as FFmpeg has it */
	VW_TEST_AV_ERRORS,   /* error lines printed */
	VW_TEST_AV_QUIET,    /* nothing printed */
	VW_TEST_AV_COUNT,    /* error lines counted (vw_test_av_errors), not printed */
};

struct vw_test_log;
/* What a suite needs around its tests; every field may be left out. */
struct vw_test_suite {
	char **dir;             /* gets a fresh directory vw_test_mkdtemp(suite) for the suite's files */
	bool keep_failed;       /* after a failure *dir stays for inspection (its path is printed) */
	struct vw_test_log *log; /* with dir: vw_test_log_open(log, *dir) first, closed at the end */
	enum vw_test_av av;
	int (*setup)(void);     /* after *dir and log, before the tests; not 0: no test runs, exit 2 */
	void (*teardown)(void); /* after the tests (only when setup succeeded) */
};
/* vw_test_main inside what `s` (may be NULL) asks for. */
int vw_test_main_suite(int argc, char **argv, const char *suite, const struct vw_test *tests,
		       const struct vw_test_suite *s);
/* A suite's whole main(): VW_TEST_SUITE("name", &suite or NULL, {"test", fn}, ...). */
#define VW_TEST_SUITE(name, s, ...)                                                      \
	int main(int argc, char **argv)                                                   \
	{                                                                                 \
		static const struct vw_test vw_tests_[] = {__VA_ARGS__, {NULL, NULL}};    \
		return vw_test_main_suite(argc, argv, name, vw_tests_, s);                 \
	}

int64_t vw_test_now_ns(void); /* CLOCK_MONOTONIC */
void vw_test_sleep_ms(int ms);
/* Under CPU emulation (VW_TEST_EMULATED=1: packaging/check-arch runs the tests in qemu-user, several
 * times slower than the target's own CPU, on a machine shared with other builds) timing bounds are
 * scaled: a latency bound is multiplied by vw_test_time_scale(), a count that depends on keeping
 * up with real time divided by it. Functional assertions never are. 1 otherwise. 10: a keyframe
 * on subscribe was measured up to 330 ms late emulated (55 ms native bound), still far from the
 * 2 s GOP that the bound tells it from. */
#define VW_TEST_EMULATED_SCALE 10
bool vw_test_emulated(void);
int vw_test_time_scale(void);

/* A fresh directory under $TMPDIR (or /tmp); removed with its contents by vw_test_rmtree. */
char *vw_test_mkdtemp(const char *tag);
void vw_test_rmtree(const char *path);

/* Reads a whole file; *data is malloc'd and NUL-terminated. Returns 0 or -errno. */
int vw_test_read_file(const char *path, uint8_t **data, size_t *len);
int vw_test_write_file(const char *path, const void *data, size_t len);

/* Runs argv[0] (PATH lookup) with `env_add` ("K=V" strings, NULL-terminated, may be NULL) added to
 * the environment, stdout+stderr to `log_path` (or /dev/null). Kills it after timeout_ms.
 * Returns the exit status (0..255), 128+signal if it died, or -ETIMEDOUT / -errno. */
int vw_test_run(const char *const argv[], const char *const env_add[], const char *log_path, int timeout_ms);
/* vw_test_run in two halves, for children that run alongside the caller: spawn returns at once
 * (0 or -errno); wait gives the child timeout_ms to end (then SIGKILL), fills *ru (may be NULL)
 * with its CPU time and peak RSS, and returns what vw_test_run returns. */
int vw_test_spawn(const char *const argv[], const char *const env_add[], const char *log_path, pid_t *pid);
struct rusage;
int vw_test_wait(pid_t pid, int timeout_ms, struct rusage *ru);

/* The library's log for a suite that runs vw's components in its own process: every line (debug
 * level) line-buffered into DIR/vw.log, where the tests look for what was logged. */
struct vw_test_log {
	char path[600];
	FILE *file;
	struct vw_log log;
};
int vw_test_log_open(struct vw_test_log *l, const char *dir); /* 0 or -errno */
void vw_test_log_close(struct vw_test_log *l);

/* FFmpeg's error lines since the last reset, in a suite with VW_TEST_AV_COUNT (a decoder's
 * complaints are how a test sees a damaged stream). */
void vw_test_av_errors_reset(void);
int vw_test_av_errors(void);

struct vw_config;
struct vw_app;
struct vw_apply_summary;

/* Parses configuration text (printing the error, if any); NULL on error. Caller frees. */
struct vw_config *vw_test_config(const char *text);
/* Starts `app` on configuration text / applies configuration text to it; logs to `log`. */
int vw_test_app_start(struct vw_app *app, const char *text, struct vw_log *log);
int vw_test_app_apply(struct vw_app *app, const char *text, struct vw_apply_summary *sum);
/* Lines of the file at `path` that contain `needle`. */
int vw_test_count_lines(const char *path, const char *needle);

/* Entries of a directory such as /proc/self/fd or /proc/self/task (not "." or ".."), or -errno. */
int vw_test_count_dir(const char *path);
/* This process's open descriptors, not counting the one used to list them. */
int vw_test_count_fds(void);
/* A port on 127.0.0.1 that was free a moment ago. */
int vw_test_free_port(void);
/* A TCP connection to 127.0.0.1:port whose reads and writes give up after timeout_s seconds;
 * the descriptor, or -errno. */
int vw_test_connect(int port, int timeout_s);
/* One HTTP/1.1 request to 127.0.0.1:port. `headers`: extra "Name: value\r\n" lines or NULL; `body`
 * (with a Content-Length, and Content-Type: application/json unless `headers` gives one) or NULL.
 * Returns the status, or -errno; *resp (may be NULL) gets the response body, malloc'd. */
int vw_test_http(int port, const char *method, const char *path, const char *headers, const char *body, size_t len,
		 char **resp);

/* Reads one response (head, then a body of its Content-Length) from fd into out, NUL-terminated:
 * its status, or -EPROTO. With `closed`, also whether the server then closed the connection
 * (within 3 s). */
int vw_test_read_response(int fd, char *out, size_t outlen, bool *closed);
/* Sends req[0..len) as it is on a new connection to 127.0.0.1:port (however early the server
 * answers) and reads the answer as vw_test_read_response; the body (not the head) into out (may
 * be NULL). Returns the status, or -errno. */
int vw_test_raw(int port, const char *req, size_t len, char *out, size_t outlen, bool *closed);
/* A websocket handshake on `path` with `headers` (extra "Name: value\r\n" lines; Host:
 * 127.0.0.1:PORT unless they hold a Host). Returns the status; on 101 the connection stays open
 * in *fd, otherwise *fd is -1 and the refusal's body goes into out (may be NULL). */
int vw_test_ws_open(int port, const char *path, const char *headers, int *fd, char *out, size_t outlen);

/* A number below n from *state: a fixed sequence for a given seed (a linear congruential
 * generator), so a failing random case can be run again. */
unsigned vw_test_rand(unsigned *state, unsigned n);
/* Writes payload[0..n) as an HTTP/1.1 chunked body into out (room for n + n / 4 + 100 bytes at
 * least): random chunk sizes, tiny ones alternating with large ones, mixed-case hex, an extension
 * now and then, and a trailer field if asked. Returns its length. */
size_t vw_test_chunk_body(const uint8_t *payload, size_t n, uint8_t *out, bool trailer, unsigned *seed);

/* Media directory of the source tree and the test build directory (set by CMake). */
#define VW_TEST_MEDIA(file) VW_MEDIA_DIR "/" file

#endif
