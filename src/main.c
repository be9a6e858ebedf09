/* vw: command-line entry point. Parses options, loads the configuration, wires the components
 * together and turns signals into actions (TERM/INT: stop cleanly; HUP: reload). Everything with
 * logic lives in libvw so the tests exercise exactly what ships. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libwebsockets.h>

#include "vw_config.h"
#include "vw_control.h"
#include "vw_devices.h"
#include "vw_log.h"
#include "vw_notify.h"
#include "vw_util.h"
#include "vw_version.h"

#define DEFAULT_CONFIG "/etc/vw/vw.conf"
#define DEFAULT_STATE "/var/lib/vw/state.json"
#ifndef VW_WWW_INSTALL_DIR
#define VW_WWW_INSTALL_DIR "/usr/share/vw/www"
#endif

/* FFmpeg's and libwebsockets' log callbacks have no user pointer and are process-wide: the logger
 * they report to and the gates that keep a flood of their lines out of the journal (per library
 * and level: a few lines per window, then a count) are the globals here. Lines come from any
 * thread, so the gates have a lock. */
enum { LIB_LWS, LIB_FFMPEG, LIB_N };
#define LIB_LOG_WINDOW_NS (60 * VW_NS_PER_SEC)
#define LIB_LOG_BURST 5 /* an incident's few lines come through whole */

static struct {
	struct vw_log *log;
	pthread_mutex_t lock;
	struct vw_log_gate gate[LIB_N][VW_LOG_DEBUG + 1];
} lib_log = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void lib_log_init(struct vw_log *log)
{
	for (int l = 0; l < LIB_N; l++)
		for (int i = 0; i <= VW_LOG_DEBUG; i++)
			lib_log.gate[l][i] = (struct vw_log_gate){.window_ns = LIB_LOG_WINDOW_NS, .burst = LIB_LOG_BURST};
	lib_log.log = log;
}

static void lib_line(int lib, enum vw_log_level level, char *line)
{
	static const char *const module[LIB_N] = {"lws", "ffmpeg"};
	size_t n = strlen(line);
	char held[48];

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = 0;
	if (!n)
		return;
	/* written under the lock too: the logger may be detached at exit while a thread still logs */
	pthread_mutex_lock(&lib_log.lock);
	if (lib_log.log && level <= lib_log.log->level) {
		long h = vw_log_gate_pass(&lib_log.gate[lib][level], 1, vw_now_ns());
		if (h >= 0)
			vw_logf(lib_log.log, level, module[lib], "%s%s", line, vw_log_suppressed(held, sizeof(held), h));
	}
	pthread_mutex_unlock(&lib_log.lock);
}

static void lib_log_detach(void)
{
	pthread_mutex_lock(&lib_log.lock);
	lib_log.log = NULL;
	pthread_mutex_unlock(&lib_log.lock);
}

/* FFmpeg may build one line from several calls: the pieces are collected per thread until the
 * newline, and the line takes the level of its first piece. */
static void on_ffmpeg_log(void *avcl, int level, const char *fmt, va_list vl)
{
	static _Thread_local char line[1024];
	static _Thread_local int print_prefix = 1, line_level;
	size_t n = strlen(line);

	if (level > av_log_get_level())
		return;
	if (!n)
		line_level = level;
	av_log_format_line2(avcl, level, fmt, vl, line + n, (int)(sizeof(line) - n), &print_prefix);
	n = strlen(line);
	if (n && line[n - 1] != '\n' && n < sizeof(line) - 1)
		return;
	lib_line(LIB_FFMPEG,
		 line_level <= AV_LOG_ERROR     ? VW_LOG_ERROR
		 : line_level <= AV_LOG_WARNING ? VW_LOG_WARN
						: VW_LOG_DEBUG,
		 line);
	line[0] = 0;
}

/* lws hands over its formatted line (with its newline). Only ERR and WARN are ever enabled: its
 * NOTICE lines include, for a connection that holds a header table too long, every header of the
 * request (Authorization and all), and INFO and below are request detail; a token must never
 * reach the log through them. */
#define LWS_LOG_LEVELS (LLL_ERR | LLL_WARN)

static void on_lws_log(int level, const char *text)
{
	char line[1024];

	vw_strlcpy(line, text, sizeof(line));
	lib_line(LIB_LWS, level & LLL_ERR ? VW_LOG_ERROR : level & LLL_WARN ? VW_LOG_WARN : VW_LOG_DEBUG, line);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vw [-c|--config FILE] [--state FILE] [--log-level error|warn|info|debug]\n"
		"       vw stream [the same options]\n"
		"       vw devices [--json] [--controls] [--root DIR]\n"
		"       vw version | --version | --help\n"
		"\n"
		"Captures a webcam and microphone, encodes MPEG-1/MP2 in MPEG-TS and pushes it to\n"
		"websocket relays, local browser viewers and an on-disk recorder.\n"
		"\n"
		"  -c, --config FILE   configuration (default " DEFAULT_CONFIG "; without one, the built-in\n"
		"                      default: the first camera and its microphone, chosen automatically;\n"
		"                      a placeholder picture until a camera is plugged in)\n"
		"      --state FILE    where rules changed at run time are kept (default " DEFAULT_STATE ")\n"
		"      --log-level L   error, warn, info (default) or debug; VW_LOGLEVEL overrides\n"
		"\n"
		"vw stream starts as the Go vw did: without -c or VW_CONFIG it reads no configuration file\n"
		"and opens no device; it relays what is POSTed to /ts/NAME and takes rules through the API.\n"
		"\n"
		"vw devices lists the V4L2 cameras (by-id path, card, formats, sizes, frame rates) and ALSA\n"
		"microphones (the name to configure), says which belong to the same USB device, and what\n"
		"`device = auto` would pick for a 640x480@25 stream; then exits.\n"
		"      --json          the same as JSON\n"
		"      --controls      also each camera's controls (names to use as feed keys)\n"
		"      --root DIR      read sys/ and dev/ under DIR instead of / (tests, inspection)\n"
		"\n"
		"Environment: VW_LISTEN=ADDR:PORT replaces [http] listen; VW_PORT overrides its port;\n"
		"VW_API=URL dials a relay for\n"
		"the WS/JSON control channel (as [api] url); VW_LOGLEVEL sets the log level; VW_CONFIG\n"
		"names the configuration file in place of the default; VW_DEVICE_ROOT points device\n"
		"discovery at another root than / (for tests with a fake sysfs and /dev).\n"
		"\n"
		"Signals: TERM/INT stop cleanly, HUP reloads the configuration and applies the difference.\n");
}

static void version(void)
{
	printf("vw %s (libavformat %s, libavcodec %s, libavdevice %s, libwebsockets %s)\n", VW_VERSION,
	       AV_STRINGIFY(LIBAVFORMAT_VERSION), AV_STRINGIFY(LIBAVCODEC_VERSION),
	       AV_STRINGIFY(LIBAVDEVICE_VERSION), lws_get_library_version());
}

/* What an option parser ends with for -h (usage on stdout, 0) or anything it did not know (on
 * stderr, 2). */
static int help_or_usage(int c)
{
	usage(c == 'h' ? stdout : stderr);
	return c == 'h' ? 0 : 2;
}

/* `vw devices`: list, print, exit. 0, or 2 for a usage error, 1 when the listing fails. */
static int devices_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"controls", no_argument, NULL, 'C'},
		{"root", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *root = "/";
	bool json = false, controls = false;
	struct vw_devices *list = NULL;
	struct vw_auto_choice choice;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'C':
			controls = true;
			break;
		case 'r':
			root = optarg;
			break;
		default: /* -h, or a usage error */
			return help_or_usage(c);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vw devices: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	ret = vw_devices_scan(root, &list);
	if (ret < 0) {
		fprintf(stderr, "vw devices: %s\n", strerror(-ret));
		return 1;
	}
	/* the stream defaults: what a `device = auto` feed in a minimal configuration gets */
	vw_devices_choose(list, 640, 480, 25, &choice);
	if (json) {
		char *text = vw_devices_json(list, &choice, controls);
		ret = text ? 0 : -ENOMEM;
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		vw_devices_print(list, &choice, controls, stdout);
	}
	vw_devices_free(list);
	return ret < 0 || fflush(stdout) != 0 ? 1 : 0;
}

/* Without a configuration file: the camera and microphone chosen automatically (the first camera,
 * the microphone of the same USB device), one stream, the local preview. With no camera the stream
 * shows the placeholder until one is plugged in. */
static const char *builtin_config(void)
{
	return "[feed camera]\ntype = v4l2\ndevice = " VW_DEVICE_AUTO "\n"
	       "[feed microphone]\ntype = alsa\ndevice = " VW_DEVICE_AUTO "\n"
	       "[stream live]\nfeeds = camera, microphone\n";
}

/* vw's environment variables, over the file: VW_LISTEN (the whole [http] listen), VW_PORT (its
 * port), VW_API and VW_DEVICE_ROOT. */
static int environment(struct vw_config *cfg, char *err, size_t n)
{
	const char *port = getenv("VW_PORT"), *api = getenv("VW_API"), *listen = getenv("VW_LISTEN");
	const char *root = getenv("VW_DEVICE_ROOT");
	char host[VW_NAME_MAX];
	long p;
	int old;

	if (root && *root)
		vw_strlcpy(cfg->device_root, root, sizeof(cfg->device_root));

	if (listen && *listen) {
		if (strlen(listen) >= sizeof(cfg->http.listen) ||
		    vw_parse_listen(listen, host, sizeof(host), &old) < 0) {
			snprintf(err, n, "VW_LISTEN: '%.200s' is not ADDRESS:PORT (127.0.0.1:8888, [::1]:8888, 0.0.0.0:8888)",
			         listen);
			return -EINVAL;
		}
		vw_strlcpy(cfg->http.listen, listen, sizeof(cfg->http.listen));
	}
	if (port && *port) {
		if (vw_parse_int(port, 0, 65535, &p) < 0) {
			snprintf(err, n, "VW_PORT: '%s' is not a port number", port);
			return -EINVAL;
		}
		if (!*cfg->http.listen || vw_parse_listen(cfg->http.listen, host, sizeof(host), &old) < 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		snprintf(cfg->http.listen, sizeof(cfg->http.listen), strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, p);
	}
	if (api && *api) {
		struct vw_dest_conf *d = &cfg->api;
		if (!cfg->has_api) {
			memset(d, 0, sizeof(*d));
			snprintf(d->name, sizeof(d->name), "%s", VW_API_RULE);
			snprintf(d->stream, sizeof(d->stream), "%s", VW_API_STREAM);
			d->queue_ns = 2 * VW_NS_PER_SEC;
		}
		snprintf(d->url, sizeof(d->url), "%s", api);
		if (vw_dest_conf_check(d, err, n) < 0) {
			char why[600];
			snprintf(why, sizeof(why), "VW_API: %s", err);
			snprintf(err, n, "%s", why);
			return -EINVAL;
		}
		cfg->has_api = true;
	}
	return 0;
}

/* `vw stream`, the Go vw's entry point, captures nothing unless a configuration asks: on a box
 * where another program uses the camera it must not take it. */
static int load(struct vw_config *cfg, const char *path, bool explicit_path, bool go_mode, char *err, size_t n)
{
	int ret;
	if (!explicit_path && go_mode)
		ret = vw_config_parse(cfg, "(no configuration: vw stream)", "", err, n);
	else if (!explicit_path && access(path, F_OK) != 0)
		ret = vw_config_parse(cfg, "(built-in default)", builtin_config(), err, n);
	else
		ret = vw_config_load(cfg, path, err, n);
	return ret < 0 ? ret : environment(cfg, err, n);
}

/* The preview page: next to a build tree's binary (BUILD/src/vw -> BUILD/www), else installed. */
static void www_dir(char *out, size_t n)
{
	char exe[VW_PATH_MAX], probe[VW_PATH_MAX + 32];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (len > 0) {
		exe[len] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			snprintf(probe, sizeof(probe), "%s/../www/index.html", exe);
			if (access(probe, R_OK) == 0) {
				probe[strlen(probe) - strlen("/index.html")] = 0;
				vw_strlcpy(out, probe, n);
				return;
			}
		}
	}
	snprintf(out, n, "%s", VW_WWW_INSTALL_DIR);
}

/* The state file's directory, made if missing (a systemd unit's StateDirectory= makes it too). */
static void state_dir(const char *path, struct vw_log *log)
{
	char dir[VW_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (access(dir, W_OK) != 0 && mkdir(dir, 0700) != 0 && errno != EEXIST)
		vw_warn(log, "main", "cannot create %s (%s): changes made through the API run from memory until it exists", dir,
			strerror(errno));
}

/* VW_LOG_LEVEL as the Go vw took it (logrus's names, any case): a unit file written for it must
 * still start. Returns false for a name nobody knows (then: info, and a warning once logging runs). */
static bool env_log_level(const char *s, enum vw_log_level *level)
{
	if (vw_log_level_parse(s, level) == 0)
		return true;
	if (!strcasecmp(s, "trace")) {
		*level = VW_LOG_DEBUG;
		return true;
	}
	if (!strcasecmp(s, "panic") || !strcasecmp(s, "fatal")) {
		*level = VW_LOG_ERROR;
		return true;
	}
	*level = VW_LOG_INFO;
	return false;
}

/* The Go vw listened on every interface; vw keeps loopback unless told, and says how once. */
static void listen_hint(const struct vw_config *cfg, struct vw_log *log)
{
	char host[VW_NAME_MAX];
	int port;

	if (vw_parse_listen(cfg->http.listen, host, sizeof(host), &port) < 0)
		return;
	if (!strcmp(host, "127.0.0.1") || !strcmp(host, "::1") || !strcmp(host, "localhost"))
		vw_info(log, "main",
		        "listening on %s only; the Go vw listened on every interface: VW_LISTEN=0.0.0.0:%d (or [http] "
		        "listen) does that, best with api_token set",
		        cfg->http.listen, port);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"state", required_argument, NULL, 's'},
		{"log-level", required_argument, NULL, 'l'}, {"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *config_path = getenv("VW_CONFIG") && *getenv("VW_CONFIG") ? getenv("VW_CONFIG") : DEFAULT_CONFIG;
	const char *state_path = DEFAULT_STATE;
	char www[VW_PATH_MAX];
	bool explicit_config = false;
	enum vw_log_level level = VW_LOG_INFO;
	const char *env_level = getenv("VW_LOGLEVEL") ? getenv("VW_LOGLEVEL") : getenv("VW_LOG_LEVEL");
	bool go_mode = false, env_level_known = true;
	struct vw_log log;
	struct vw_control ctl;
	struct vw_notify notify;
	struct vw_config *cfg = NULL;
	char err[VW_PATH_MAX + 256];
	sigset_t sigs;
	int c, ret = 0;

	if (argc > 1 && strcmp(argv[1], "devices") == 0)
		return devices_main(argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "version") == 0) {
		version();
		return 0;
	}
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			explicit_config = true;
			break;
		case 's':
			state_path = optarg;
			break;
		case 'l':
			if (vw_log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "vw: --log-level: unknown level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'V':
			version();
			return 0;
		default: /* -h, or a usage error */
			return help_or_usage(c);
		}
	}
	/* `vw stream`, the Go vw's command, with vw's options before or after it */
	if (optind < argc && !strcmp(argv[optind], "stream")) {
		go_mode = true;
		optind++;
	}
	if (optind < argc) {
		fprintf(stderr, "vw: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (env_level && *env_level)
		env_level_known = env_log_level(env_level, &level);
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return 1;
	if (go_mode && getenv("VW_CONFIG") && *getenv("VW_CONFIG"))
		explicit_config = true; /* named: vw stream reads it */
	if (load(cfg, config_path, explicit_config, go_mode, err, sizeof(err)) < 0) {
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

	lib_log_init(&log);
	lws_set_log_level(LWS_LOG_LEVELS, on_lws_log);
	av_log_set_level(level >= VW_LOG_DEBUG ? AV_LOG_INFO : AV_LOG_WARNING);
	av_log_set_callback(on_ffmpeg_log);
	avdevice_register_all();

	vw_info(&log, "main", "vw %s starting with %s (%d feeds, %d streams, %d recorders)", VW_VERSION, cfg->file,
		cfg->n_feeds, cfg->n_streams, cfg->n_recorders);
	if (!env_level_known)
		vw_warn(&log, "main", "VW_LOG_LEVEL: unknown level '%.40s', using info (error, warn, info, debug; trace, "
		        "fatal and panic as the Go vw had them)", env_level);
	if (go_mode)
		listen_hint(cfg, &log);
	www_dir(www, sizeof(www));
	state_dir(state_path, &log);
	ret = vw_control_start(&ctl, cfg, state_path, www, &log);
	if (ret < 0) {
		vw_err(&log, "main", "cannot start: %s", strerror(-ret));
		free(cfg);
		vw_log_destroy(&log);
		return 1;
	}
	vw_notify_init(&notify, vw_now_ns());
	vw_notify_ready(&notify, "streaming");

	for (;;) {
		siginfo_t si;
		struct timespec tick = {1, 0};
		int sig = sigtimedwait(&sigs, &si, &tick);
		/* the watchdog hears from the event loop, not just from this thread */
		if (vw_control_alive(&ctl, vw_now_ns(), 5 * VW_NS_PER_SEC))
			vw_notify_watchdog(&notify, vw_now_ns());
		if (sig == SIGTERM || sig == SIGINT) {
			vw_info(&log, "main", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		}
		if (sig == SIGHUP) {
			if (load(cfg, config_path, explicit_config, go_mode, err, sizeof(err)) < 0) {
				vw_err(&log, "main", "reload refused, keeping the running configuration: %s", err);
				continue;
			}
			vw_info(&log, "main", "reloading %s", cfg->file);
			vw_control_reload(&ctl, cfg);
		}
	}
	int64_t t = vw_now_ns();
	vw_notify_stopping(&notify);
	vw_control_stop(&ctl);
	vw_info(&log, "main", "stopped in %lld ms", (long long)((vw_now_ns() - t) / VW_NS_PER_MS));
	lib_log_detach();
	free(cfg);
	vw_log_destroy(&log);
	return ret;
}
