/* vw_bench: the benchmark harness. Owns the benchmark cases (vw, the ffmpeg command line with and
 * without a relay process, and the libav-only floor), running each against in-process receivers
 * on 127.0.0.1, turning what arrived into capture-to-arrival latency, and the markdown report.
 *
 * Latency of a picture = the instant the receiver had the last byte of its PES (CLOCK_MONOTONIC,
 * taken as each websocket message or HTTP body piece is read) minus the instant the fake camera
 * captured it (its barcode names the frame; the camera's log gives that frame's capture time).
 * CPU time and peak RSS come from wait4() of each measured process. Numbers are printed, never
 * asserted: the smoke test checks that the harness measures, not how fast anything is. */
#ifndef VW_BENCH_H
#define VW_BENCH_H

#include "vw_testsrv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct vw_bench_env {
	const char *vw, *fakecam, *floor;  /* binaries / library */
	const char *node, *push_relay;     /* node and tests/relay/push-relay.js */
	const char *ffmpeg, *tone;         /* ffmpeg CLI; the microphone's tone (for the floor) */
	const char *preload_prefix;        /* "libasan.so:" when the binaries are sanitized, else "" */
	const char *work;                  /* scratch directory (configs, logs, recordings) */
	double seconds;                    /* run time of each case */
	double warmup;                     /* pictures captured in the first `warmup` seconds are not counted */
};

/* The build tree's binaries, node, ffmpeg and the tone; work, seconds and warmup as given. Also
 * points ALSA at the fake microphone's configuration unless the caller already did. */
struct vw_bench_env vw_bench_env_default(const char *work, double seconds, double warmup);

enum vw_bench_kind { VW_BENCH_VW, VW_BENCH_FFMPEG, VW_BENCH_FFMPEG_RELAY, VW_BENCH_FLOOR };

struct vw_bench_case {
	const char *id, *title;
	enum vw_bench_kind kind;
	bool audio, recorder, two_streams;
	int dests; /* vw: destinations (the first is measured, the rest go to a second receiver) */
	/* the camera, when it is not the exact grid: time spent inside each DQBUF (ms), or MJPEG at
	 * 1280x720 (decoded by vw: a real per-frame cost) */
	double cost_ms;
	bool mjpeg720;
	const char *vw; /* the vw binary, when not the build's (vw_bench --compare) */
};

struct vw_bench_lat {
	int frames;     /* pictures captured in the window whose latency was measured */
	int expected;   /* camera frames captured in the window */
	int unreadable; /* decoded pictures whose barcode could not be read (whole run) */
	int repeats;    /* decoded pictures that repeat the previous one (a slow camera's gaps filled) */
	double p50, p90, p99, max; /* milliseconds */
	double *ms;                /* the frames' latencies, sorted (owned; vw_bench_result_free) */
};

struct vw_bench_rx {
	char label[48];
	struct vw_bench_lat lat;
	size_t bytes;
};

struct vw_bench_result {
	const struct vw_bench_case *c;
	int nrx;
	struct vw_bench_rx rx[2];
	double cpu_s, wall_s, rss_mb;  /* whole-run CPU (wait4) and peak RSS, summed over the processes */
	double win_cpu_s, win_s;       /* CPU used in the steady-state window, and its length */
	double feed_cpu_s;             /* of win_cpu_s, the main process's capture threads ("feed:...") */
	long anon_kb, file_kb, shmem_kb; /* the main process's resident memory by kind, near the end */
	char threads[400];             /* the main process's CPU seconds in the window by thread name */
	char procs[200];               /* per process: "ffmpeg 2.41 s 98 MB + relay 1.20 s 52 MB" */
	int rounds;                    /* rounds merged into this result (vw_bench_merge) */
	int error;                     /* 0, or negative: the case did not run properly (see errmsg) */
	char errmsg[1024];
};

/* Every case, in report order; *n gets the count. */
const struct vw_bench_case *vw_bench_cases(int *n);
const struct vw_bench_case *vw_bench_case(const char *id);

/* Runs one case for env->seconds and fills *r. Returns 0 or r->error. */
int vw_bench_run(const struct vw_bench_env *env, const struct vw_bench_case *c, struct vw_bench_result *r);

/* The fake camera's STREAMON record (the last one in its log). */
struct vw_bench_cam {
	uint32_t seq0;
	int64_t t0_ns;
	int tpf_num, tpf_den;
	int width, height;
	int frames; /* MJPEG: the clip's frame count (its barcodes are sequence numbers mod this); 0: YUYV */
};
int vw_bench_cam_log(const char *path, struct vw_bench_cam *cam);

/* Latency of every picture in ts[0..len) captured in [from_ns, to_ns), arrival times from arr
 * (sorted by offset). Returns 0, or -EINVAL when the bytes hold no MPEG-1 video. */
int vw_bench_latency(const uint8_t *ts, size_t len, const struct vw_testsrv_arrival *arr, size_t narr,
		     const struct vw_bench_cam *cam, int64_t from_ns, int64_t to_ns, struct vw_bench_lat *out);

/* Frees what a result owns (the latency samples). */
void vw_bench_result_free(struct vw_bench_result *r);
/* Combines rounds of one case: latency over all their pictures, CPU the median round's, peak
 * RSS the largest. *out owns new samples; the rounds are left as they were. */
int vw_bench_merge(const struct vw_bench_result *rounds, int n, struct vw_bench_result *out);

/* Nearest-rank percentile (0 < p <= 1) of v[0..n), which it sorts. 0 when n == 0. */
double vw_bench_percentile(double *v, size_t n, double p);

/* The report: results table, then targets with measured values, then where vw's memory is. */
void vw_bench_report(FILE *f, const struct vw_bench_result *r, int n);

#endif
