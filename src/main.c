/* vw: command-line entry point. Parses options, loads the configuration, wires the components
 * together and turns signals into actions (TERM/INT: stop cleanly; HUP: reload). Everything with
 * logic lives in libvw so the tests exercise exactly what ships. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libwebsockets.h>

#include "vw_app.h"
#include "vw_config.h"
#include "vw_log.h"
#include "vw_util.h"
#include "vw_version.h"

#define DEFAULT_CONFIG "/etc/vw/vw.conf"

/* FFmpeg's log callback has no user pointer: the logger it reports to is the one global here. */
static struct vw_log *ffmpeg_log;

static void on_ffmpeg_log(void *avcl, int level, const char *fmt, va_list vl)
{
	static int print_prefix = 1; /* FFmpeg's own line-assembly state; only FFmpeg's threads touch it */
	char line[1024];

	if (!ffmpeg_log || level > av_log_get_level())
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	line[strcspn(line, "\n")] = 0;
	if (*line)
		vw_debug(ffmpeg_log, "ffmpeg", "%s", line);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vw [-c|--config FILE] [--state FILE] [--log-level error|warn|info|debug]\n"
		"       vw --version | --help\n"
		"\n"
		"Captures a webcam and microphone, encodes MPEG-1/MP2 in MPEG-TS and pushes it to\n"
		"websocket relays, local browser viewers and an on-disk recorder.\n"
		"\n"
		"  -c, --config FILE   configuration (default " DEFAULT_CONFIG "; without one, the built-in\n"
		"                      default: the first camera, or a test picture when there is none)\n"
		"      --state FILE    where rules changed at run time are kept (default /var/lib/vw/state.json)\n"
		"      --log-level L   error, warn, info (default) or debug; VW_LOGLEVEL overrides\n"
		"\n"
		"Signals: TERM/INT stop cleanly, HUP reloads the configuration and applies the difference.\n");
}

static void version(void)
{
	printf("vw %s (libavformat %s, libavcodec %s, libavdevice %s, libwebsockets %s)\n", VW_VERSION,
	       AV_STRINGIFY(LIBAVFORMAT_VERSION), AV_STRINGIFY(LIBAVCODEC_VERSION),
	       AV_STRINGIFY(LIBAVDEVICE_VERSION), lws_get_library_version());
}

/* Without a configuration file: the first camera with the default microphone, or the test source. */
static const char *builtin_config(void)
{
	if (access("/dev/video0", F_OK) == 0)
		return "[feed camera]\ntype = v4l2\ndevice = /dev/video0\n"
		       "[feed microphone]\ntype = alsa\ndevice = default\n"
		       "[stream live]\nfeeds = camera, microphone\n";
	return "[feed test]\ntype = testsrc\n[stream live]\nfeeds = test\n";
}

static int load(struct vw_config *cfg, const char *path, bool explicit_path, char *err, size_t n)
{
	if (!explicit_path && access(path, F_OK) != 0)
		return vw_config_parse(cfg, "(built-in default)", builtin_config(), err, n);
	return vw_config_load(cfg, path, err, n);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"state", required_argument, NULL, 's'},
		{"log-level", required_argument, NULL, 'l'}, {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *config_path = DEFAULT_CONFIG;
	bool explicit_config = false;
	enum vw_log_level level = VW_LOG_INFO;
	const char *env_level = getenv("VW_LOGLEVEL") ? getenv("VW_LOGLEVEL") : getenv("VW_LOG_LEVEL");
	struct vw_log log;
	struct vw_app app;
	struct vw_config *cfg = NULL;
	char err[VW_PATH_MAX + 256];
	sigset_t sigs;
	int c, ret = 0;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			explicit_config = true;
			break;
		case 's':
			break; /* the state file belongs to the API, which is not built yet */
		case 'l':
			if (vw_log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "vw: --log-level: unknown level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vw: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (env_level && vw_log_level_parse(env_level, &level) < 0) {
		fprintf(stderr, "vw: VW_LOGLEVEL: unknown level '%s'\n", env_level);
		return 2;
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return 1;
	if (load(cfg, config_path, explicit_config, err, sizeof(err)) < 0) {
		fprintf(stderr, "vw: %s\n", err);
		free(cfg);
		return 2;
	}
	if (vw_log_init(&log, level, NULL) < 0) {
		free(cfg);
		return 1;
	}

	/* Signals are taken synchronously by this thread; every thread started later inherits the
	 * mask. A full disk must fail write() with EFBIG/ENOSPC, not kill the process. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);

	ffmpeg_log = &log;
	av_log_set_level(level >= VW_LOG_DEBUG ? AV_LOG_WARNING : AV_LOG_QUIET);
	av_log_set_callback(on_ffmpeg_log);
	avdevice_register_all();

	vw_info(&log, "main", "vw %s starting with %s (%d feeds, %d streams, %d recorders)", VW_VERSION, cfg->file,
		cfg->n_feeds, cfg->n_streams, cfg->n_recorders);
	vw_app_start(&app, cfg, &log);

	for (;;) {
		siginfo_t si;
		struct timespec tick = {1, 0};
		int sig = sigtimedwait(&sigs, &si, &tick);
		if (sig == SIGTERM || sig == SIGINT) {
			vw_info(&log, "main", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP) {
			struct vw_apply_summary sum;
			if (load(cfg, config_path, explicit_config, err, sizeof(err)) < 0) {
				vw_err(&log, "main", "reload refused, keeping the running configuration: %s", err);
				continue;
			}
			vw_app_apply(&app, cfg, &sum);
			vw_info(&log, "main", "reloaded %s: %d started, %d stopped, %d changed in place, %d unchanged",
				cfg->file, sum.started, sum.stopped, sum.changed_in_place, sum.kept);
		}
	}
	int64_t t = vw_now_ns();
	vw_app_stop(&app);
	vw_info(&log, "main", "stopped in %lld ms", (long long)((vw_now_ns() - t) / VW_NS_PER_MS));
	ffmpeg_log = NULL;
	free(cfg);
	vw_log_destroy(&log);
	return ret;
}
