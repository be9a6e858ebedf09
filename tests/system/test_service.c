/* Tests of what the systemd service relies on: the sd_notify messages and the watchdog's pacing
 * (vw_notify, against a real notification socket as systemd provides it), the real vw saying
 * READY only once it serves, pinging the watchdog and saying STOPPING on SIGTERM, encoding under
 * the unit's MemoryDenyWriteExecute, and the default configuration the package installs as
 * /etc/vw/vw.conf. */
#include "vw_config.h"
#include "vw_notify.h"
#include "vw_test.h"
#include "vw_testvw.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS 1000000LL

/* A datagram socket standing in for systemd's $NOTIFY_SOCKET. */
struct sink {
	char *dir;
	char path[600];
	int fd;
};

static int sink_open(struct sink *s)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	s->dir = vw_test_mkdtemp("notify");
	s->fd = -1;
	if (!s->dir)
		return -ENOMEM;
	snprintf(s->path, sizeof(s->path), "%s/notify", s->dir);
	if (strlen(s->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return 0;
}

static void sink_close(struct sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->dir) {
		vw_test_rmtree(s->dir);
		free(s->dir);
	}
}

/* The next message within timeout_ms into buf (NUL-terminated); its length, or -ETIMEDOUT. */
static int sink_recv(struct sink *s, char *buf, size_t n, int timeout_ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	if (poll(&p, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	ssize_t len = recv(s->fd, buf, n - 1, 0);
	if (len < 0)
		return -errno;
	buf[len] = 0;
	return (int)len;
}

static void set_env(const char *notify_socket, const char *usec, const char *pid)
{
	const char *names[] = {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"},
	           *values[] = {notify_socket, usec, pid};
	for (int i = 0; i < 3; i++) {
		if (values[i])
			setenv(names[i], values[i], 1);
		else
			unsetenv(names[i]);
	}
}

static void test_watchdog_pacing(void)
{
	struct vw_notify n;
	char pid[32], other[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(other, sizeof(other), "%d", (int)getpid() + 1);

	set_env(NULL, NULL, NULL);
	vw_notify_init(&n, 0);
	CU_ASSERT_EQUAL(n.watchdog_ns, 0);
	CU_ASSERT_FALSE(vw_notify_watchdog_due(&n, 3600000 * MS)); /* no watchdog: never due */

	set_env(NULL, "10000000", pid); /* WatchdogSec=10 */
	vw_notify_init(&n, 1000 * MS);
	CU_ASSERT_EQUAL(n.watchdog_ns, 10000 * MS);
	CU_ASSERT_FALSE(vw_notify_watchdog_due(&n, 1000 * MS));
	CU_ASSERT_FALSE(vw_notify_watchdog_due(&n, 5999 * MS));
	CU_ASSERT_TRUE(vw_notify_watchdog_due(&n, 6000 * MS)); /* half the interval */
	CU_ASSERT_FALSE(vw_notify_watchdog(&n, 6000 * MS));    /* due, but no socket to tell */
	CU_ASSERT_EQUAL(n.last_ping_ns, 6000 * MS);
	CU_ASSERT_FALSE(vw_notify_watchdog_due(&n, 10999 * MS));
	CU_ASSERT_TRUE(vw_notify_watchdog_due(&n, 11000 * MS));

	set_env(NULL, "10000000", other); /* meant for another process (a parent's watchdog) */
	vw_notify_init(&n, 0);
	CU_ASSERT_EQUAL(n.watchdog_ns, 0);
	set_env(NULL, "0", NULL);
	vw_notify_init(&n, 0);
	CU_ASSERT_EQUAL(n.watchdog_ns, 0);
	set_env(NULL, "garbage", NULL);
	vw_notify_init(&n, 0);
	CU_ASSERT_EQUAL(n.watchdog_ns, 0);
	set_env(NULL, NULL, NULL);
}

static void test_messages(void)
{
	struct sink s;
	struct vw_notify n;
	char buf[1024];

	CU_ASSERT_EQUAL_FATAL(sink_open(&s), 0);
	set_env(s.path, "2000000", NULL);
	vw_notify_init(&n, 0);
	CU_ASSERT_EQUAL(n.watchdog_ns, 2000 * MS);

	vw_notify_ready(&n, "streaming");
	CU_ASSERT_TRUE(sink_recv(&s, buf, sizeof(buf), 1000) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "READY=1\nSTATUS=streaming");
	vw_notify_ready(&n, "streaming again"); /* READY once; later calls are status updates */
	CU_ASSERT_TRUE(sink_recv(&s, buf, sizeof(buf), 1000) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "STATUS=streaming again");

	CU_ASSERT_FALSE(vw_notify_watchdog(&n, 999 * MS)); /* not due: nothing sent */
	CU_ASSERT_EQUAL(sink_recv(&s, buf, sizeof(buf), 50), -ETIMEDOUT);
	CU_ASSERT_TRUE(vw_notify_watchdog(&n, 1000 * MS));
	CU_ASSERT_TRUE(sink_recv(&s, buf, sizeof(buf), 1000) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "WATCHDOG=1");
	CU_ASSERT_FALSE(vw_notify_watchdog(&n, 1500 * MS));
	CU_ASSERT_EQUAL(sink_recv(&s, buf, sizeof(buf), 50), -ETIMEDOUT);

	vw_notify_status("%d feeds, %s", 2, "1 stream");
	CU_ASSERT_TRUE(sink_recv(&s, buf, sizeof(buf), 1000) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "STATUS=2 feeds, 1 stream");
	vw_notify_stopping(&n);
	CU_ASSERT_TRUE(sink_recv(&s, buf, sizeof(buf), 1000) > 0);
	CU_ASSERT_STRING_EQUAL(buf, "STOPPING=1\nSTATUS=stopping");

	set_env(NULL, NULL, NULL);
	sink_close(&s);
}

/* The real vw under a pretend systemd: READY=1 only once HTTP answers, WATCHDOG=1 at half of
 * WatchdogSec from the main loop, STOPPING=1 on SIGTERM, exit 0. */
static void test_vw_under_systemd(void)
{
	struct sink s;
	struct vw_testvw v;
	char sock[700], port_env[32], buf[1024];
	int port = vw_test_free_port(), ready = 0, pings = 0, stopping = 0;

	CU_ASSERT_EQUAL_FATAL(sink_open(&s), 0);
	vw_testvw_init(&v, s.dir, "vw");
	snprintf(sock, sizeof(sock), "NOTIFY_SOCKET=%s", s.path);
	/* the port chosen here, not read from the log: what READY promises is the very thing checked */
	snprintf(port_env, sizeof(port_env), "VW_PORT=%d", port);
	/* WatchdogSec=2: a ping every second, at each wake-up of the main loop */
	const char *env[] = {sock, "WATCHDOG_USEC=2000000", port_env, NULL};
	CU_ASSERT_EQUAL_FATAL(vw_testvw_spawn(&v, "[feed test]\ntype = testsrc\n[stream live]\nfeeds = test\n", NULL, env), 0);

	int64_t deadline = vw_test_now_ns() + 15000 * MS;
	while (!ready && vw_test_now_ns() < deadline) {
		if (sink_recv(&s, buf, sizeof(buf), 200) > 0 && strstr(buf, "READY=1")) {
			ready = 1;
			/* READY means set up: the API must answer at this very moment */
			CU_ASSERT_EQUAL(vw_test_http(port, "GET", "/healthcheck", NULL, NULL, 0, NULL), 200);
		}
	}
	CU_ASSERT_TRUE(ready);
	int64_t t0 = vw_test_now_ns();
	deadline = t0 + 3500 * MS;
	while (vw_test_now_ns() < deadline) {
		if (sink_recv(&s, buf, sizeof(buf), 100) > 0)
			pings += strcmp(buf, "WATCHDOG=1") == 0;
	}
	/* 3.5 s at one ping per second (interval 2 s, half of it 1 s, main loop wakes every second) */
	CU_ASSERT_TRUE(pings >= 2 && pings <= 5);
	if (pings < 2 || pings > 5)
		printf("\n    %d watchdog pings in 3.5 s\n", pings);

	kill(v.pid, SIGTERM);
	deadline = vw_test_now_ns() + 10000 * MS;
	while (!stopping && vw_test_now_ns() < deadline) {
		if (sink_recv(&s, buf, sizeof(buf), 200) > 0)
			stopping = strstr(buf, "STOPPING=1") != NULL;
	}
	CU_ASSERT_TRUE(stopping);
	CU_ASSERT_EQUAL(vw_testvw_stop(&v, 15000), 0); /* already asked: this waits for the exit */
	sink_close(&s);
}

/* device/vw.conf is installed as /etc/vw/vw.conf: it must load, and say what the package promises:
 * the camera and microphone chosen automatically, the preview on 127.0.0.1:8888, no destinations,
 * no recorder. */
static void test_packaged_config(void)
{
	struct vw_config *cfg = malloc(sizeof(*cfg));
	char err[1024];

	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
	int ret = vw_config_load(cfg, VW_SOURCE_DIR "/device/vw.conf", err, sizeof(err));
	if (ret < 0)
		printf("\n    %s\n", err);
	CU_ASSERT_EQUAL_FATAL(ret, 0);
	const struct vw_feed_conf *cam = vw_config_feed(cfg, "camera"), *mic = vw_config_feed(cfg, "microphone");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cam);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mic);
	CU_ASSERT_EQUAL(cam->type, VW_FEED_V4L2);
	CU_ASSERT_STRING_EQUAL(cam->device, VW_DEVICE_AUTO);
	CU_ASSERT_EQUAL(mic->type, VW_FEED_ALSA);
	CU_ASSERT_STRING_EQUAL(mic->device, VW_DEVICE_AUTO);
	CU_ASSERT_EQUAL(cfg->n_streams, 1);
	CU_ASSERT_PTR_NOT_NULL(vw_config_stream(cfg, "live"));
	CU_ASSERT_STRING_EQUAL(cfg->http.listen, "127.0.0.1:8888");
	CU_ASSERT_EQUAL(cfg->n_dests, 0);
	CU_ASSERT_EQUAL(cfg->n_recorders, 0);
	CU_ASSERT_FALSE(cfg->has_api);
	free(cfg);
}

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif

/* The unit's MemoryDenyWriteExecute=yes refuses memory that becomes executable after it was
 * writable. The kernel's own form of the rule (prctl PR_SET_MDWE, Linux 6.3) lets vw run under it
 * here, as it does under systemd: pictures must be encoded (libswscale's fast bilinear scaler,
 * which generates its code at run time on x86, left the stream without a single picture). */
static void test_encodes_under_mdwe(void)
{
	char *dir = vw_test_mkdtemp("service-mdwe"), conf[700], log[700], state[700], text[512];
	int port = vw_test_free_port();
	json_int_t frames = 0;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(conf, sizeof(conf), "%s/vw.conf", dir);
	snprintf(log, sizeof(log), "%s/vw.log", dir);
	snprintf(state, sizeof(state), "%s/state.json", dir);
	/* the same size in and out, a width the x86 fast scaler takes: what a webcam stream is */
	snprintf(text, sizeof(text),
		 "[feed test]\ntype = testsrc\nsize = 320x240\n[stream live]\nfeeds = test\nsize = 320x240\n"
		 "[http]\nlisten = 127.0.0.1:%d\n",
		 port);
	vw_test_write_file(conf, text, strlen(text));
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		char port_env[16];
		snprintf(port_env, sizeof(port_env), "%d", port);
		setenv("VW_PORT", port_env, 1); /* ctest sets VW_PORT=0, which would win over the file */
		if (prctl(PR_SET_MDWE, 1 /* PR_MDWE_REFUSE_EXEC_GAIN */, 0, 0, 0) != 0)
			_exit(77);
		execl(VW_BIN, VW_BIN, "-c", conf, "--state", state, (char *)NULL);
		_exit(127);
	}
	int64_t deadline = vw_test_now_ns() + 15000 * MS;
	while (frames < 25 && vw_test_now_ns() < deadline) {
		char *resp = NULL;
		int status = -1;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
				printf("\n    skipped: this kernel has no PR_SET_MDWE (Linux 6.3 or later)\n");
				vw_test_rmtree(dir);
				free(dir);
				return;
			}
			break;
		}
		if (vw_test_http(port, "GET", "/api/status", NULL, NULL, 0, &resp) == 200) {
			json_t *j = json_loads(resp, 0, NULL);
			frames = json_integer_value(json_object_get(json_array_get(json_object_get(j, "streams"), 0), "frames"));
			json_decref(j);
		}
		free(resp);
		vw_test_sleep_ms(200);
	}
	printf("\n    under MemoryDenyWriteExecute: %lld pictures encoded\n", (long long)frames);
	CU_ASSERT(pid > 0); /* still running */
	CU_ASSERT(frames >= 25);
	if (pid > 0) {
		kill(pid, SIGTERM);
		CU_ASSERT_EQUAL(vw_test_wait(pid, 15000, NULL), 0);
	}
	vw_test_rmtree(dir);
	free(dir);
}

VW_TEST_SUITE("service", NULL,
	      {"watchdog pacing", test_watchdog_pacing},
	      {"notify messages", test_messages},
	      {"vw under systemd", test_vw_under_systemd},
	      {"encodes under MemoryDenyWriteExecute", test_encodes_under_mdwe},
	      {"packaged config", test_packaged_config})
