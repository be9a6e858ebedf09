/* vw_bench: runs the benchmark cases and prints a markdown report (progress on stderr).
 *   vw_bench [--seconds S] [--warmup S] [--rounds N] [--only ID[,ID...]] [--compare VW] [--keep]
 * --compare runs every selected vw case a second time with another vw binary (an older build, say),
 * interleaved with the build's, so a before/after comparison comes from one run.
 * Every case runs N times (default 3) for S seconds (default 10) against receivers on 127.0.0.1,
 * the cases interleaved; with the defaults the whole run takes about 8 minutes. --keep leaves the scratch directory (configs, logs) for inspection. */
#include "vw_bench.h"
#include "vw_test.h"

#include <libavcodec/avcodec.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

static void machine(FILE *f)
{
	char line[256], model[256] = "unknown CPU";
	FILE *c = fopen("/proc/cpuinfo", "r");
	struct utsname u;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	while (c && fgets(line, sizeof(line), c))
		if (strncmp(line, "model name", 10) == 0) {
			char *v = strchr(line, ':');
			snprintf(model, sizeof(model), "%s", v ? v + 2 : line);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	if (c)
		fclose(c);
	uname(&u);
	fprintf(f, "Machine: %ld × %s, Linux %s; libavcodec %s, libwebsockets %s\n\n", cpus, model, u.release,
		av_version_info(), lws_get_library_version());
}

int main(int argc, char **argv)
{
	struct vw_bench_env e = vw_bench_env_default(NULL, 10, 2);
	const char *only = NULL, *compare = NULL;
	int keep = 0, n, rounds = 3, failed = 0;
	const struct vw_bench_case *cases = vw_bench_cases(&n);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			e.seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
			e.warmup = atof(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else if (!strcmp(argv[i], "--compare") && i + 1 < argc)
			compare = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			keep = 1;
		else {
			fprintf(stderr, "usage: vw_bench [--seconds S] [--warmup S] [--rounds N] [--only ID[,ID...]] "
					"[--compare VW] [--keep]\n"
					"cases:");
			for (int k = 0; k < n; k++)
				fprintf(stderr, " %s", cases[k].id);
			fprintf(stderr, "\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (e.seconds < e.warmup + 2 || rounds < 1 || rounds > 64) {
		fprintf(stderr, "vw_bench: --seconds must leave 2 s after the warm-up; --rounds is 1..64\n");
		return 2;
	}
	char *work = vw_test_mkdtemp("bench");
	struct vw_bench_result *res = calloc((size_t)(2 * n * rounds), sizeof(*res)),
			       *merged = calloc((size_t)(2 * n), sizeof(*merged));
	const struct vw_bench_case **sel = calloc((size_t)(2 * n), sizeof(*sel));
	struct vw_bench_case *other = calloc((size_t)n, sizeof(*other));
	char (*titles)[160] = calloc((size_t)n, sizeof(*titles));
	int ns = 0;
	if (!work || !res || !merged || !sel || !other || !titles)
		return 1;
	e.work = work;
	lws_set_log_level(LLL_ERR, NULL);
	for (int i = 0; i < n; i++) {
		if (only) {
			const char *p = strstr(only, cases[i].id);
			size_t l = strlen(cases[i].id);
			if (!p || (p != only && p[-1] != ',') || (p[l] && p[l] != ','))
				continue;
		}
		sel[ns++] = &cases[i];
		if (compare && cases[i].kind == VW_BENCH_VW) {
			other[i] = cases[i];
			other[i].vw = compare;
			snprintf(titles[i], sizeof(titles[i]), "%s [%s]", cases[i].title, compare);
			other[i].title = titles[i];
			sel[ns++] = &other[i];
		}
	}
	n *= 2; /* room for the comparison's cases in the result table */
	/* Rounds interleave the cases, so a slow spell of a shared machine hits all of them alike. */
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < ns; i++) {
			struct vw_bench_result *x = &res[r * n + i];
			fprintf(stderr, "vw_bench: round %d/%d %-16s ... ", r + 1, rounds, sel[i]->id);
			fflush(stderr);
			if (vw_bench_run(&e, sel[i], x) < 0) {
				fprintf(stderr, "failed: %s\n", x->errmsg);
				continue;
			}
			fprintf(stderr, "%.2f CPU s/min", x->win_s > 0 ? x->win_cpu_s / x->win_s * 60 : 0);
			for (int k = 0; k < x->nrx; k++)
				fprintf(stderr, ", p50 %.1f ms p99 %.1f ms", x->rx[k].lat.p50, x->rx[k].lat.p99);
			fprintf(stderr, "\n");
		}
	}
	struct vw_bench_result per_case[64];
	for (int i = 0; i < ns; i++) {
		for (int r = 0; r < rounds; r++)
			per_case[r] = res[r * n + i];
		if (vw_bench_merge(per_case, rounds, &merged[i]) < 0)
			failed++;
	}
	printf("## vw benchmark\n\n");
	machine(stdout);
	printf("Each case ran %d times for %.0f s, the cases interleaved. Latency: every picture captured from %.0f s "
	       "after the start to 1 s before the stop, all rounds together. CPU: the median round, measured from "
	       "the end of the warm-up to 0.5 s before the stop.\n\n",
	       rounds, e.seconds, e.warmup);
	vw_bench_report(stdout, merged, ns);
	if (keep)
		fprintf(stderr, "vw_bench: kept %s\n", work);
	else
		vw_test_rmtree(work);
	for (int i = 0; i < n * rounds; i++)
		vw_bench_result_free(&res[i]);
	for (int i = 0; i < ns; i++)
		vw_bench_result_free(&merged[i]);
	free(work);
	free(res);
	free(merged);
	free(sel);
	free(other);
	free(titles);
	return failed ? 1 : 0;
}
