/* vw: command-line entry point. Parses options and wires components together; everything with
 * logic lives in libvw so the tests exercise exactly what ships. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libwebsockets.h>

#include "vw_log.h"
#include "vw_version.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: vw [-c|--config FILE] [--state FILE] [--log-level error|warn|info|debug]\n"
		"       vw --version | --help\n");
}

static void version(void)
{
	printf("vw %s (libavformat %s, libavcodec %s, libavdevice %s, libwebsockets %s)\n", VW_VERSION,
	       AV_STRINGIFY(LIBAVFORMAT_VERSION), AV_STRINGIFY(LIBAVCODEC_VERSION),
	       AV_STRINGIFY(LIBAVDEVICE_VERSION), lws_get_library_version());
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"version", no_argument, NULL, 'V'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
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
	fprintf(stderr, "vw: the capture pipeline is not built yet; try --version\n");
	return 1;
}
