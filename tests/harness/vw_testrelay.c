/* vw_testrelay: see vw_testrelay.h. */
#include "vw_testrelay.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "vw_test.h"

int vw_testrelay_start(struct vw_testrelay *r, const char *dir, const char *tag, const char *mode,
                       const char *const extra[])
{
	const char *argv[32] = {"node", VW_SOURCE_DIR "/tests/relay/relay.js", "--port", NULL, "--out", r->out,
	                        "--mode", mode};
	char port[16];
	int n = 8, ret;

	r->port = vw_test_free_port();
	snprintf(port, sizeof(port), "%d", r->port);
	argv[3] = port;
	snprintf(r->out, sizeof(r->out), "%s/%s.bin", dir, tag);
	snprintf(r->log, sizeof(r->log), "%s/%s-relay.log", dir, tag);
	unlink(r->out);
	for (; extra && *extra && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	ret = vw_test_spawn(argv, NULL, r->log, &r->pid);
	if (ret < 0)
		return ret;
	for (int i = 0; i < 200; i++) {
		if (vw_test_count_lines(r->log, "\"listening\"") > 0)
			return 0;
		vw_test_sleep_ms(25);
	}
	vw_testrelay_stop(r);
	return -ETIMEDOUT;
}

void vw_testrelay_stop(struct vw_testrelay *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		vw_test_wait(r->pid, 5000, NULL);
		r->pid = 0;
	}
}

int vw_testrelay_count(const struct vw_testrelay *r, const char *needle)
{
	return vw_test_count_lines(r->log, needle);
}
