/* The vw binary under test: see vw_testvw.h. */
#include "vw_testvw.h"

#include "vw_test.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define START_MS 15000
#define MAX_ARGS 24
#define MAX_ENV 24

void vw_testvw_init(struct vw_testvw *v, const char *dir, const char *tag)
{
	memset(v, 0, sizeof(*v));
	v->port = -1;
	snprintf(v->conf, sizeof(v->conf), "%s/%s.conf", dir, tag);
	snprintf(v->state, sizeof(v->state), "%s/%s-state.json", dir, tag);
	snprintf(v->log, sizeof(v->log), "%s/%s.log", dir, tag);
	unlink(v->state);
}

static bool env_sets(const char *const env[], const char *key)
{
	size_t k = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], key, k) && env[i][k] == '=')
			return true;
	return false;
}

int vw_testvw_spawn(struct vw_testvw *v, const char *conf_text, const char *const args[], const char *const env[])
{
	const char *argv[MAX_ARGS], *e[MAX_ENV];
	size_t na = 0, ne = 0;
	int ret;

	if (conf_text && (ret = vw_test_write_file(v->conf, conf_text, strlen(conf_text))) < 0)
		return ret;
	argv[na++] = VW_BIN;
	if (access(v->conf, F_OK) == 0) {
		argv[na++] = "-c";
		argv[na++] = v->conf;
	}
	argv[na++] = "--state";
	argv[na++] = v->state; /* never the box's /var/lib/vw */
	for (size_t i = 0; args && args[i]; i++) {
		if (na + 1 >= MAX_ARGS)
			return -E2BIG;
		argv[na++] = args[i];
	}
	argv[na] = NULL;
	/* a free port chosen by the kernel (see the header); a relay or an address from the developer's
	 * shell is no part of a test */
	if (!env_sets(env, "VW_PORT"))
		e[ne++] = "VW_PORT=0";
	if (!env_sets(env, "VW_API"))
		e[ne++] = "VW_API=";
	if (!env_sets(env, "VW_LISTEN"))
		e[ne++] = "VW_LISTEN=";
	for (size_t i = 0; env && env[i]; i++) {
		if (ne + 1 >= MAX_ENV)
			return -E2BIG;
		e[ne++] = env[i];
	}
	e[ne] = NULL;
	v->port = -1;
	v->status = 0;
	return vw_test_spawn(argv, e, v->log, &v->pid);
}

/* The port of the last "http: listening on HOST:PORT" line of the log, or -1. */
static int logged_port(const char *log)
{
	static const char key[] = "http: listening on ";
	uint8_t *data = NULL;
	size_t len;
	int port = -1;

	if (vw_test_read_file(log, &data, &len) < 0)
		return -1;
	for (char *p = strstr((char *)data, key); p; p = strstr(p + 1, key)) {
		char *addr = p + sizeof(key) - 1, *end = addr + strcspn(addr, " \n"), *colon = NULL;
		for (char *c = addr; c < end; c++)
			if (*c == ':')
				colon = c; /* the last one: [::1]:PORT */
		if (colon)
			port = atoi(colon + 1);
	}
	free(data);
	return port > 0 ? port : -1;
}

/* Reaps vw if it has exited: true then, with v->status set. */
static bool exited(struct vw_testvw *v)
{
	int st;
	if (v->pid <= 0)
		return true;
	if (waitpid(v->pid, &st, WNOHANG) != v->pid)
		return false;
	v->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	v->pid = 0;
	return true;
}

int vw_testvw_port(struct vw_testvw *v, int timeout_ms)
{
	int64_t end = vw_test_now_ns() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		v->port = logged_port(v->log);
		if (v->port > 0)
			return v->port;
		if (exited(v))
			return -ECHILD;
		if (vw_test_now_ns() > end)
			return -ETIMEDOUT;
		vw_test_sleep_ms(20);
	}
}

static bool healthy(int port)
{
	char *r = NULL;
	int st = vw_test_http(port, "GET", "/healthcheck", NULL, NULL, 0, &r);
	bool ok = st == 200 && r && !strcmp(r, "\"ok\"\n");
	free(r);
	return ok;
}

int vw_testvw_start(struct vw_testvw *v, const char *conf_text, const char *const args[], const char *const env[])
{
	int64_t end = vw_test_now_ns() + (int64_t)START_MS * 1000000;
	int ret = vw_testvw_spawn(v, conf_text, args, env);

	if (ret < 0) {
		printf("\n    cannot start %s: %s\n", VW_BIN, strerror(-ret));
		return ret;
	}
	ret = vw_testvw_port(v, START_MS);
	while (ret > 0 && !healthy(v->port)) {
		if (exited(v))
			ret = -ECHILD;
		else if (vw_test_now_ns() > end)
			ret = -ETIMEDOUT;
		else
			vw_test_sleep_ms(50);
	}
	if (ret > 0)
		return 0;
	if (ret == -ECHILD)
		printf("\n    vw exited (%d) before it served /healthcheck\n", v->status);
	else
		printf("\n    vw did not serve /healthcheck within %d s (port %d)\n", START_MS / 1000, v->port);
	vw_testvw_stop(v, 5000);
	vw_testvw_print_log(v, 3000);
	return ret;
}

int vw_testvw_stop(struct vw_testvw *v, int timeout_ms)
{
	if (v->pid > 0) {
		kill(v->pid, SIGTERM);
		v->status = vw_test_wait(v->pid, timeout_ms, NULL);
		v->pid = 0;
	}
	return v->status;
}

void vw_testvw_print_log(const struct vw_testvw *v, size_t bytes)
{
	uint8_t *data;
	size_t len;

	if (vw_test_read_file(v->log, &data, &len) < 0)
		return;
	printf("\n    --- %s%s ---\n%s\n    ---\n", v->log, len > bytes ? " (tail)" : "",
	       (const char *)data + (len > bytes ? len - bytes : 0));
	free(data);
}
