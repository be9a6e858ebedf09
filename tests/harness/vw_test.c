/* Test harness: see vw_test.h. */
#include "vw_test.h"

#include "vw_app.h"
#include "vw_config.h"

#include <CUnit/Basic.h>
#include <libavdevice/avdevice.h>
#include <libavutil/log.h>
#include <libwebsockets.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *filter;
static atomic_int av_errors; /* FFmpeg's error lines since vw_test_av_errors_reset() */

int vw_test_main(int argc, char **argv, const char *suite_name, const struct vw_test *tests)
{
	CU_pSuite suite;
	unsigned failures;

	filter = argc > 1 ? argv[1] : NULL;
	/* libwebsockets' logging is the process's (the vw program sets it in main): its errors and
	 * warnings on stderr, without the notices of every context started in a test */
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite = CU_add_suite(suite_name, NULL, NULL);
	if (!suite)
		goto fail;
	for (const struct vw_test *t = tests; t->name; t++) {
		if (filter && !strstr(t->name, filter))
			continue;
		if (!CU_add_test(suite, t->name, t->fn))
			goto fail;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	if (CU_get_number_of_tests_run() == 0)
		failures++; /* a filter that matches nothing is a mistake, not a pass */
	CU_cleanup_registry();
	return failures ? 1 : 0;
fail:
	fprintf(stderr, "%s: CUnit setup failed: %s\n", suite_name, CU_get_error_msg());
	CU_cleanup_registry();
	return 2;
}

static void av_setup(enum vw_test_av av);

int vw_test_main_suite(int argc, char **argv, const char *suite, const struct vw_test *tests,
		       const struct vw_test_suite *s)
{
	static const struct vw_test_suite none;
	char *dir = NULL;
	int ret;

	if (!s)
		s = &none;
	if (s->dir) {
		dir = *s->dir = vw_test_mkdtemp(suite);
		if (!dir) {
			fprintf(stderr, "%s: cannot make a temporary directory\n", suite);
			return 2;
		}
	}
	av_setup(s->av);
	if ((s->log && (!dir || vw_test_log_open(s->log, dir) < 0)) || (s->setup && s->setup() != 0)) {
		fprintf(stderr, "%s: setting up the suite failed\n", suite);
		ret = 2;
	} else {
		ret = vw_test_main(argc, argv, suite, tests);
		if (s->teardown)
			s->teardown();
	}
	if (s->log)
		vw_test_log_close(s->log);
	if (!dir)
		return ret;
	if (ret != 0 && s->keep_failed) {
		fprintf(stderr, "%s: kept %s for inspection\n", suite, dir);
	} else {
		vw_test_rmtree(dir);
	}
	free(dir);
	*s->dir = NULL;
	return ret;
}

int vw_test_main_dir(int argc, char **argv, const char *suite, const struct vw_test *tests, char **dir)
{
	const struct vw_test_suite s = {.dir = dir};
	return vw_test_main_suite(argc, argv, suite, tests, &s);
}

int vw_test_log_open(struct vw_test_log *l, const char *dir)
{
	int ret;

	snprintf(l->path, sizeof(l->path), "%s/vw.log", dir);
	l->file = fopen(l->path, "w");
	if (!l->file)
		return -errno;
	setvbuf(l->file, NULL, _IOLBF, 0);
	ret = vw_log_init(&l->log, VW_LOG_DEBUG, l->file);
	if (ret < 0) {
		fclose(l->file);
		l->file = NULL;
	}
	return ret;
}

void vw_test_log_close(struct vw_test_log *l)
{
	if (!l->file)
		return;
	vw_log_destroy(&l->log);
	fclose(l->file);
	l->file = NULL;
}

static void count_av_errors(void *avcl, int level, const char *fmt, va_list vl)
{
	(void)avcl;
	(void)fmt;
	(void)vl;
	if (level <= AV_LOG_ERROR)
		atomic_fetch_add(&av_errors, 1);
}

static void av_setup(enum vw_test_av av)
{
	if (av == VW_TEST_AV_KEEP)
		return;
	if (av == VW_TEST_AV_COUNT)
		av_log_set_callback(count_av_errors);
	av_log_set_level(av == VW_TEST_AV_QUIET ? AV_LOG_QUIET : AV_LOG_ERROR);
	avdevice_register_all();
}

void vw_test_av_errors_reset(void)
{
	atomic_store(&av_errors, 0);
}

int vw_test_av_errors(void)
{
	return atomic_load(&av_errors);
}

int64_t vw_test_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool vw_test_emulated(void)
{
	const char *e = getenv("VW_TEST_EMULATED");
	return e && strcmp(e, "1") == 0;
}

int vw_test_time_scale(void)
{
	return vw_test_emulated() ? VW_TEST_EMULATED_SCALE : 1;
}

void vw_test_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

char *vw_test_mkdtemp(const char *tag)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	size_t n = strlen(base) + strlen(tag) + 16;
	char *path = malloc(n);
	if (!path)
		return NULL;
	snprintf(path, n, "%s/vw-%s-XXXXXX", base, tag);
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void vw_test_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int vw_test_read_file(const char *path, uint8_t **data, size_t *len)
{
	int ret = 0;
	FILE *f = fopen(path, "rb");
	long size;

	*data = NULL;
	*len = 0;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		ret = -errno;
		goto end;
	}
	*data = malloc((size_t)size + 1);
	if (!*data) {
		ret = -ENOMEM;
		goto end;
	}
	if (fread(*data, 1, (size_t)size, f) != (size_t)size) {
		ret = -EIO;
		free(*data);
		*data = NULL;
		goto end;
	}
	(*data)[size] = 0; /* text files can be used as strings */
	*len = (size_t)size;
end:
	fclose(f);
	return ret;
}

int vw_test_write_file(const char *path, const void *data, size_t len)
{
	int ret = 0;
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len)
		ret = -EIO;
	if (fclose(f) != 0 && ret == 0)
		ret = -errno;
	return ret;
}

/* The ELF machine of the program at path, or -1 (not a path, not ELF). */
static int elf_machine(const char *path)
{
	unsigned char h[20];
	int fd, m = -1;

	if (!strchr(path, '/') || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if (read(fd, h, sizeof(h)) == (ssize_t)sizeof(h) && memcmp(h, "\177ELF", 4) == 0)
		m = h[5] == 2 ? h[18] << 8 | h[19] : h[18] | h[19] << 8; /* EI_DATA: big or little endian */
	close(fd);
	return m;
}

int vw_test_spawn(const char *const argv[], const char *const env_add[], const char *log_path, pid_t *pid)
{
	int ret;
	size_t n_env = 0, n_add = 0, n_argv = 0;
	char **env = NULL;
	const char **av = NULL;
	posix_spawn_file_actions_t fa;
	/* Under qemu-user (packaging/check-arch: no binfmt_misc), a program built for the target (the
	 * machine of this test program) is started through the emulator, with the preload that the
	 * emulated environment carries handed to it; a program of the build machine (ffmpeg, node)
	 * starts natively and without it (a target library cannot load there). */
	const char *emu = getenv("VW_TEST_EMULATOR");
	bool emulated = emu && *emu;
	bool target = emulated && elf_machine(argv[0]) == elf_machine("/proc/self/exe");
	const char *preload = NULL;

	while (environ[n_env])
		n_env++;
	while (env_add && env_add[n_add])
		n_add++;
	env = calloc(n_env + n_add + 1, sizeof(*env));
	if (!env)
		return -ENOMEM;
	/* An added "K=V" replaces the inherited K: duplicates would leave the winner to each reader. */
	size_t n = 0;
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		bool replaced = false;
		for (size_t j = 0; j < n_add && !replaced; j++)
			replaced = strncmp(environ[i], env_add[j], klen) == 0;
		if (!replaced)
			env[n++] = environ[i];
	}
	for (size_t j = 0; j < n_add; j++)
		env[n++] = (char *)env_add[j];
	env[n] = NULL;
	while (argv[n_argv])
		n_argv++;
	av = calloc(n_argv + 4, sizeof(*av));
	if (!av) {
		free(env);
		return -ENOMEM;
	}
	size_t na = 0;
	if (emulated) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (strncmp(env[i], "LD_PRELOAD=", 11) == 0)
				preload = env[i];
			else if (strncmp(env[i], "QEMU_SET_ENV=", 13) != 0)
				env[k++] = env[i];
		}
		env[k] = NULL;
		if (target) {
			av[na++] = emu;
			if (preload && preload[11]) {
				av[na++] = "-E";
				av[na++] = preload;
			}
		}
	}
	for (size_t i = 0; i < n_argv; i++)
		av[na++] = argv[i];
	av[na] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	ret = -posix_spawnp(pid, av[0], &fa, NULL, (char *const *)av, env);
	posix_spawn_file_actions_destroy(&fa);
	free(av);
	free(env);
	return ret;
}

int vw_test_wait(pid_t pid, int timeout_ms, struct rusage *ru)
{
	struct rusage dummy;
	int status;
	int64_t deadline = vw_test_now_ns() + (int64_t)timeout_ms * 1000000LL;

	for (;;) {
		pid_t r = wait4(pid, &status, WNOHANG, ru ? ru : &dummy);
		if (r == pid)
			break;
		if (r < 0)
			return -errno;
		if (vw_test_now_ns() > deadline) {
			kill(pid, SIGKILL);
			wait4(pid, &status, 0, ru ? ru : &dummy);
			return -ETIMEDOUT;
		}
		vw_test_sleep_ms(5);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int vw_test_run(const char *const argv[], const char *const env_add[], const char *log_path, int timeout_ms)
{
	pid_t pid;
	int ret = vw_test_spawn(argv, env_add, log_path, &pid);
	return ret < 0 ? ret : vw_test_wait(pid, timeout_ms, NULL);
}

struct vw_config *vw_test_config(const char *text)
{
	char err[1024];
	struct vw_config *c = malloc(sizeof(*c));
	if (c && vw_config_parse(c, "test", text, err, sizeof(err)) < 0) {
		printf("\n    config error: %s\n", err);
		free(c);
		return NULL;
	}
	return c;
}

int vw_test_app_start(struct vw_app *app, const char *text, struct vw_log *log)
{
	struct vw_config *c = vw_test_config(text);
	if (!c)
		return -EINVAL;
	int r = vw_app_start(app, c, log);
	free(c);
	return r;
}

int vw_test_app_apply(struct vw_app *app, const char *text, struct vw_apply_summary *sum)
{
	struct vw_config *c = vw_test_config(text);
	if (!c)
		return -EINVAL;
	int r = vw_app_apply(app, c, sum);
	free(c);
	return r;
}

int vw_test_count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

int vw_test_count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -errno;
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

int vw_test_count_fds(void)
{
	int n = vw_test_count_dir("/proc/self/fd");
	return n < 0 ? n : n - 1;
}

int vw_test_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int vw_test_connect(int port, int timeout_s)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {timeout_s, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int vw_test_http(int port, const char *method, const char *path, const char *headers, const char *body, size_t len,
		 char **resp)
{
	char *head = NULL, *buf = NULL;
	size_t have = 0, cap = 0;
	int fd, status = -EPROTO, n;

	if (resp)
		*resp = NULL;
	fd = vw_test_connect(port, 10);
	if (fd < 0)
		return fd;
	/* an API body is JSON; a test that means otherwise says so in `headers` */
	n = asprintf(&head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s%s", method, path, port,
		     headers ? headers : "",
		     body && !(headers && strcasestr(headers, "content-type:")) ? "Content-Type: application/json\r\n" : "",
		     body ? "" : "\r\n");
	if (n < 0 || send(fd, head, (size_t)n, MSG_NOSIGNAL) != n)
		goto out;
	if (body) {
		char cl[64];
		int k = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", len);
		if (send(fd, cl, (size_t)k, MSG_NOSIGNAL) != k)
			goto out;
		for (size_t off = 0; off < len;) {
			ssize_t w = send(fd, body + off, len - off, MSG_NOSIGNAL);
			if (w <= 0)
				break; /* the server may answer (413) before taking it all */
			off += (size_t)w;
		}
	}
	for (;;) {
		if (have + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			char *nb = realloc(buf, cap);
			if (!nb)
				goto out;
			buf = nb;
		}
		ssize_t r = recv(fd, buf + have, cap - have - 1, 0);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = 0;
		/* lws keeps the connection open after a response with a length: stop once it is whole */
		char *end = strstr(buf, "\r\n\r\n");
		const char *clh = end ? strcasestr(buf, "\ncontent-length:") : NULL;
		if (end && clh && clh < end && have >= (size_t)(end + 4 - buf) + strtoull(clh + 16, NULL, 10))
			break;
	}
	if (buf && have > 12 && !strncmp(buf, "HTTP/1.", 7)) {
		status = atoi(buf + 9);
		char *end = strstr(buf, "\r\n\r\n");
		if (resp && end)
			*resp = strdup(end + 4);
	}
out:
	free(head);
	free(buf);
	close(fd);
	return status;
}

int vw_test_read_response(int fd, char *out, size_t outlen, bool *closed)
{
	size_t have = 0;
	int status = -EPROTO;

	out[0] = 0;
	while (have + 1 < outlen) {
		ssize_t n = recv(fd, out + have, outlen - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		out[have] = 0;
		char *end = strstr(out, "\r\n\r\n");
		const char *cl = strcasestr(out, "content-length:");
		if (end && cl && have >= (size_t)(end + 4 - out) + strtoul(cl + 15, NULL, 10))
			break;
	}
	if (have >= 12 && !strncmp(out, "HTTP/1.", 7))
		status = atoi(out + 9);
	if (closed) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char c;
		*closed = poll(&p, 1, 3000) == 1 && recv(fd, &c, 1, 0) <= 0;
	}
	return status;
}

int vw_test_raw(int port, const char *req, size_t len, char *out, size_t outlen, bool *closed)
{
	char buf[8192];
	int fd = vw_test_connect(port, 5), st;

	if (fd < 0)
		return fd;
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the server may answer before taking it all */
		off += (size_t)w;
	}
	st = vw_test_read_response(fd, buf, sizeof(buf), closed);
	if (out) {
		char *body = strstr(buf, "\r\n\r\n");
		snprintf(out, outlen, "%s", body ? body + 4 : "");
	}
	close(fd);
	return st;
}

int vw_test_ws_open(int port, const char *path, const char *headers, int *fd, char *out, size_t outlen)
{
	char req[2048], buf[4096], host[64] = "";
	int st;

	if (out)
		out[0] = 0;
	if (!headers || !strcasestr(headers, "host:"))
		snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", port);
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\n%s%sUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
			 path, host, headers ? headers : "");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		*fd = -1;
		return -E2BIG;
	}
	*fd = vw_test_connect(port, 5);
	if (*fd < 0)
		return *fd;
	if (send(*fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(*fd);
		*fd = -1;
		return -EIO;
	}
	/* the 101 head has no length: read up to its end only, the stream follows it */
	size_t have = 0;
	buf[0] = 0;
	while (have + 1 < sizeof(buf) && !strstr(buf, "\r\n\r\n")) {
		ssize_t r = recv(*fd, buf + have, 1, 0);
		if (r <= 0)
			break;
		buf[++have] = 0;
	}
	st = have >= 12 && !strncmp(buf, "HTTP/1.", 7) ? atoi(buf + 9) : -EPROTO;
	if (st != 101) {
		/* the rest of a refusal: its body */
		const char *cl = strcasestr(buf, "content-length:");
		size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0, got = 0;
		char body[512] = "";
		while (got < want && got + 1 < sizeof(body)) {
			ssize_t r = recv(*fd, body + got, sizeof(body) - 1 - got, 0);
			if (r <= 0)
				break;
			got += (size_t)r;
		}
		body[got] = 0;
		if (out)
			snprintf(out, outlen, "%s", body);
		close(*fd);
		*fd = -1;
	}
	return st;
}

unsigned vw_test_rand(unsigned *state, unsigned n)
{
	*state = *state * 1103515245u + 12345u;
	return (*state >> 8) % n;
}

size_t vw_test_chunk_body(const uint8_t *payload, size_t n, uint8_t *out, bool trailer, unsigned *seed)
{
	size_t o = 0, i = 0;
	/* tiny chunks alternate with large ones, so the framing stays under 5% of the payload */
	for (int k = 0; i < n; k++) {
		size_t c = k % 2 ? 1 + vw_test_rand(seed, 40) : 1000 + vw_test_rand(seed, 69000);
		if (c > n - i)
			c = n - i;
		o += (size_t)sprintf((char *)out + o, vw_test_rand(seed, 2) ? "%zx" : "%zX", c);
		if (vw_test_rand(seed, 4) == 0)
			o += (size_t)sprintf((char *)out + o, ";ext=\"x\"");
		o += (size_t)sprintf((char *)out + o, "\r\n");
		memcpy(out + o, payload + i, c);
		o += c;
		o += (size_t)sprintf((char *)out + o, "\r\n");
		i += c;
	}
	o += (size_t)sprintf((char *)out + o, trailer ? "0\r\nX-Trailer: yes\r\n\r\n" : "0\r\n\r\n");
	return o;
}
