/* vw_bench: see vw_bench.h. */
#include "vw_bench.h"

#include "vw_fakecam.h"
#include "vw_test.h"

#include <dirent.h>
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/mathematics.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS 1000000000LL
#define MAX_PROCS 3
#define STOP_GRACE_MS 10000

static const struct vw_bench_case cases[] = {
	{"vw-v", "vw, video only (silent audio track)", VW_BENCH_VW, false, false, false, 1, 0, false, NULL},
	{"vw-av", "vw, video + audio", VW_BENCH_VW, true, false, false, 1, 0, false, NULL},
	{"vw-av-rec", "vw, video + audio + recorder", VW_BENCH_VW, true, true, false, 1, 0, false, NULL},
	{"vw-av-rec-10", "vw, video + audio + recorder, 10 destinations", VW_BENCH_VW, true, true, false, 10, 0, false, NULL},
	{"vw-av-rec-100", "vw, video + audio + recorder, 100 destinations", VW_BENCH_VW, true, true, false, 100, 0, false, NULL},
	{"ffmpeg-v", "ffmpeg CLI, video only", VW_BENCH_FFMPEG, false, false, false, 1, 0, false, NULL},
	{"ffmpeg-av", "ffmpeg CLI, video + audio", VW_BENCH_FFMPEG, true, false, false, 1, 0, false, NULL},
	{"ffmpeg-relay-v", "ffmpeg CLI + relay process, video only", VW_BENCH_FFMPEG_RELAY, false, false, false, 1, 0, false, NULL},
	{"ffmpeg-relay-av", "ffmpeg CLI + relay process, video + audio", VW_BENCH_FFMPEG_RELAY, true, false, false, 1, 0, false, NULL},
	{"floor-av", "libav floor, video + audio", VW_BENCH_FLOOR, true, false, false, 0, 0, false, NULL},
	{"vw-2s", "vw, two streams from one camera", VW_BENCH_VW, true, false, true, 2, 0, false, NULL},
	{"ffmpeg-2s", "2 ffmpeg CLIs, one stream each", VW_BENCH_FFMPEG, true, false, true, 2, 0, false, NULL},
	{"floor-2s", "libav floor, two streams", VW_BENCH_FLOOR, true, false, true, 0, 0, false, NULL},
	{"vw-cost2", "vw, video + audio, camera with 2 ms per frame", VW_BENCH_VW, true, false, false, 1, 2, false, NULL},
	{"vw-mjpeg720", "vw, video + audio, MJPEG 1280x720 camera", VW_BENCH_VW, true, false, false, 1, 0, true, NULL},
};

struct vw_bench_env vw_bench_env_default(const char *work, double seconds, double warmup)
{
	struct vw_bench_env e = {
		.vw = VW_BIN,
		.fakecam = VW_FAKECAM_LIB,
		.floor = VW_BENCH_FLOOR_BIN,
		.node = "node",
		.push_relay = VW_SOURCE_DIR "/tests/relay/push-relay.js",
		.ffmpeg = "ffmpeg",
		.tone = VW_MEDIA_DIR "/tone-48k-stereo.s16le",
		.preload_prefix = VW_BENCH_PRELOAD_PREFIX,
		.work = work,
		.seconds = seconds,
		.warmup = warmup,
	};
	setenv("ALSA_CONFIG_PATH", VW_TEST_BUILD_DIR "/asound.conf", 0);
	return e;
}

const struct vw_bench_case *vw_bench_cases(int *n)
{
	*n = (int)(sizeof(cases) / sizeof(cases[0]));
	return cases;
}

const struct vw_bench_case *vw_bench_case(const char *id)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].id, id) == 0)
			return &cases[i];
	return NULL;
}

/* ---- analysis ---- */

int vw_bench_cam_log(const char *path, struct vw_bench_cam *cam)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct vw_bench_cam c;
		long long t0;
		unsigned seq0;
		const char *p = strstr(line, "seq0=");
		const char *sz = strstr(line, "size=");
		if (strncmp(line, "streamon ", 9) != 0 || !p || !sz)
			continue;
		if (sscanf(p, "seq0=%u t0_ns=%lld tpf=%d/%d", &seq0, &t0, &c.tpf_num, &c.tpf_den) != 4 ||
		    sscanf(sz, "size=%dx%d", &c.width, &c.height) != 2 || c.tpf_num <= 0 || c.tpf_den <= 0)
			continue;
		c.seq0 = seq0;
		c.t0_ns = t0;
		const char *fr = strstr(line, " frames=");
		if (!fr || sscanf(fr, " frames=%d", &c.frames) != 1 || c.frames < 0)
			c.frames = 0;
		*cam = c;
		found = 1;
	}
	fclose(f);
	return found ? 0 : -ENOENT;
}

static int64_t capture_ns(const struct vw_bench_cam *cam, uint64_t i)
{
	return cam->t0_ns + av_rescale_rnd((int64_t)i, NS * cam->tpf_num, cam->tpf_den, AV_ROUND_DOWN);
}

/* Index of the first frame captured at or after t. */
static int64_t frame_at_or_after(const struct vw_bench_cam *cam, int64_t t)
{
	if (t <= cam->t0_ns)
		return 0;
	return av_rescale_rnd(t - cam->t0_ns, cam->tpf_den, NS * cam->tpf_num, AV_ROUND_UP);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double vw_bench_percentile(double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	size_t k = (size_t)ceil(p * (double)n);
	return v[k ? k - 1 : 0];
}

static void lat_stats(struct vw_bench_lat *out, double *ms, size_t n)
{
	out->ms = ms;
	out->frames = (int)n;
	out->p50 = vw_bench_percentile(ms, n, 0.50);
	out->p90 = vw_bench_percentile(ms, n, 0.90);
	out->p99 = vw_bench_percentile(ms, n, 0.99);
	out->max = n ? ms[n - 1] : 0;
}

void vw_bench_result_free(struct vw_bench_result *r)
{
	for (int k = 0; k < r->nrx; k++) {
		free(r->rx[k].lat.ms);
		r->rx[k].lat.ms = NULL;
	}
}

static int cmp_result_cpu(const void *a, const void *b)
{
	const struct vw_bench_result *x = *(const struct vw_bench_result *const *)a,
				     *y = *(const struct vw_bench_result *const *)b;
	double rx = x->win_s > 0 ? x->win_cpu_s / x->win_s : 0, ry = y->win_s > 0 ? y->win_cpu_s / y->win_s : 0;
	return rx < ry ? -1 : rx > ry;
}

int vw_bench_merge(const struct vw_bench_result *rounds, int n, struct vw_bench_result *out)
{
	const struct vw_bench_result *ok[64];
	int m = 0;

	for (int i = 0; i < n && m < 64; i++)
		if (!rounds[i].error)
			ok[m++] = &rounds[i];
	if (m == 0) { /* every round failed: report the first failure */
		*out = rounds[0];
		for (int k = 0; k < out->nrx; k++)
			out->rx[k].lat.ms = NULL;
		return out->error;
	}
	qsort(ok, (size_t)m, sizeof(ok[0]), cmp_result_cpu);
	*out = *ok[m / 2]; /* the median round gives CPU, threads and memory breakdown */
	for (int i = 0; i < m; i++)
		if (ok[i]->rss_mb > out->rss_mb)
			out->rss_mb = ok[i]->rss_mb;
	for (int k = 0; k < out->nrx; k++) {
		size_t total = 0, at = 0;
		int expected = 0, unreadable = 0, repeats = 0;
		for (int i = 0; i < m; i++) {
			total += (size_t)ok[i]->rx[k].lat.frames;
			expected += ok[i]->rx[k].lat.expected;
			unreadable += ok[i]->rx[k].lat.unreadable;
			repeats += ok[i]->rx[k].lat.repeats;
		}
		double *ms = malloc((total ? total : 1) * sizeof(*ms));
		if (!ms)
			return -ENOMEM;
		for (int i = 0; i < m; i++) {
			memcpy(ms + at, ok[i]->rx[k].lat.ms, (size_t)ok[i]->rx[k].lat.frames * sizeof(*ms));
			at += (size_t)ok[i]->rx[k].lat.frames;
		}
		lat_stats(&out->rx[k].lat, ms, total);
		out->rx[k].lat.expected = expected;
		out->rx[k].lat.unreadable = unreadable;
		out->rx[k].lat.repeats = repeats;
	}
	out->rounds = m;
	return 0;
}

static int64_t arrival_of(const struct vw_testsrv_arrival *arr, size_t n, size_t end)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first piece that reaches `end` */
		size_t mid = (lo + hi) / 2;
		if (arr[mid].offset + arr[mid].len >= end)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo < n ? arr[lo].t_ns : -1;
}

struct lat_run {
	const struct vw_testsrv_arrival *arr;
	size_t narr;
	const struct vw_bench_cam *cam;
	int64_t from, to;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *fr;
	size_t *ends; /* end offset of PES k, for the picture decoded with pts k */
	size_t n_pes, cap_pes;
	double *lat;
	size_t n_lat, cap_lat;
	int64_t last_seq;
	int unreadable, repeats;
};

static void take_frames(struct lat_run *L)
{
	while (avcodec_receive_frame(L->dec, L->fr) >= 0) {
		uint32_t seq;
		int64_t k = L->fr->pts;
		int64_t arr = k >= 0 && (size_t)k < L->n_pes ? arrival_of(L->arr, L->narr, L->ends[k]) : -1;
		bool ok = vw_fakecam_barcode_read_scaled(L->fr->data[0], L->fr->linesize[0], L->fr->width,
							 L->fr->height, L->cam->width, L->cam->height, &seq) == 0;
		if (ok && L->cam->frames > 0) {
			/* an MJPEG clip's barcode is the sequence number mod its length: the frame is the
			 * latest one with that remainder captured before the picture arrived */
			int64_t est = (int64_t)L->cam->seq0 + frame_at_or_after(L->cam, arr + 1) - 1;
			int64_t back = ((est - (int64_t)seq) % L->cam->frames + L->cam->frames) % L->cam->frames;
			ok = arr >= 0 && seq < (uint32_t)L->cam->frames && est - back >= 0;
			seq = ok ? (uint32_t)(est - back) : 0;
		}
		if (ok && (int64_t)seq == L->last_seq) {
			L->repeats++;
			av_frame_unref(L->fr);
			continue;
		}
		if (!ok || seq < L->cam->seq0 || (int64_t)seq < L->last_seq || arr < 0) {
			L->unreadable++;
			av_frame_unref(L->fr);
			continue;
		}
		L->last_seq = seq;
		int64_t cap = capture_ns(L->cam, seq - L->cam->seq0);
		if (cap >= L->from && cap < L->to && arr >= 0) {
			if (L->n_lat == L->cap_lat) {
				size_t nc = L->cap_lat ? 2 * L->cap_lat : 1024;
				double *p = realloc(L->lat, nc * sizeof(*p));
				if (!p)
					break;
				L->lat = p;
				L->cap_lat = nc;
			}
			L->lat[L->n_lat++] = (double)(arr - cap) / 1e6;
		}
		av_frame_unref(L->fr);
	}
}

static int finish_pes(struct lat_run *L, const uint8_t *data, size_t len, size_t end)
{
	if (L->n_pes == L->cap_pes) {
		size_t nc = L->cap_pes ? 2 * L->cap_pes : 1024;
		size_t *p = realloc(L->ends, nc * sizeof(*p));
		if (!p)
			return -ENOMEM;
		L->ends = p;
		L->cap_pes = nc;
	}
	L->ends[L->n_pes] = end;
	if (av_new_packet(L->pkt, (int)len) < 0)
		return -ENOMEM;
	memcpy(L->pkt->data, data, len);
	/* the decoder hands the packet's pts to the picture it starts: pts = PES index */
	L->pkt->pts = (int64_t)L->n_pes++;
	avcodec_send_packet(L->dec, L->pkt);
	av_packet_unref(L->pkt);
	take_frames(L);
	return 0;
}

int vw_bench_latency(const uint8_t *ts, size_t len, const struct vw_testsrv_arrival *arr, size_t narr,
		     const struct vw_bench_cam *cam, int64_t from_ns, int64_t to_ns, struct vw_bench_lat *out)
{
	struct lat_run L = {.arr = arr, .narr = narr, .cam = cam, .from = from_ns, .to = to_ns, .last_seq = -1};
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MPEG1VIDEO);
	uint8_t *pes = NULL;
	size_t pes_len = 0, pes_cap = 0, pes_end = 0, o = 0;
	int video_pid = -1, ret = 0;
	bool open = false;

	memset(out, 0, sizeof(*out));
	L.dec = codec ? avcodec_alloc_context3(codec) : NULL;
	L.pkt = av_packet_alloc();
	L.fr = av_frame_alloc();
	if (!L.dec || !L.pkt || !L.fr) {
		ret = -ENOMEM;
		goto end;
	}
	L.dec->flags |= AV_CODEC_FLAG_LOW_DELAY; /* each picture out as soon as its packet is in */
	L.dec->thread_count = 1;
	if (avcodec_open2(L.dec, codec, NULL) < 0) {
		ret = -EINVAL;
		goto end;
	}
	while (o + 188 <= len) {
		const uint8_t *t = ts + o;
		if (t[0] != 0x47) { /* resynchronise on the next sync byte */
			o++;
			continue;
		}
		int pid = ((t[1] & 0x1f) << 8) | t[2], pusi = t[1] & 0x40, afc = (t[3] >> 4) & 3;
		size_t off = 4;
		if (afc == 3)
			off += 1 + (size_t)t[4];
		if (!(afc & 1) || off >= 188) {
			o += 188;
			continue;
		}
		bool pes_start = pusi && off + 9 <= 188 && !t[off] && !t[off + 1] && t[off + 2] == 1;
		if (video_pid < 0 && pes_start && t[off + 3] == 0xE0)
			video_pid = pid;
		if (pid != video_pid) {
			o += 188;
			continue;
		}
		if (pusi) {
			if (open && (ret = finish_pes(&L, pes, pes_len, pes_end)) < 0)
				goto end;
			open = pes_start;
			pes_len = 0;
			off += pes_start ? 9 + (size_t)t[off + 8] : 188;
		}
		if (open && off < 188) {
			size_t n = 188 - off;
			if (pes_len + n > pes_cap) {
				size_t nc = pes_cap ? 2 * pes_cap : 65536;
				uint8_t *p = realloc(pes, nc);
				if (!p) {
					ret = -ENOMEM;
					goto end;
				}
				pes = p;
				pes_cap = nc;
			}
			memcpy(pes + pes_len, t + off, n);
			pes_len += n;
		}
		pes_end = o + 188;
		o += 188;
	}
	if (video_pid < 0) {
		ret = -EINVAL;
		goto end;
	}
	/* the last PES may be cut short by the stop; its picture lies outside the window anyway */
	avcodec_send_packet(L.dec, NULL);
	take_frames(&L);
	out->frames = (int)L.n_lat;
	out->unreadable = L.unreadable;
	out->repeats = L.repeats;
	int64_t first = frame_at_or_after(cam, from_ns), last = frame_at_or_after(cam, to_ns);
	out->expected = (int)(last > first ? last - first : 0);
	lat_stats(out, L.lat, L.n_lat);
	L.lat = NULL;
end:
	free(pes);
	free(L.ends);
	free(L.lat);
	avcodec_free_context(&L.dec);
	av_packet_free(&L.pkt);
	av_frame_free(&L.fr);
	return ret;
}

/* ---- processes ---- */

struct proc {
	const char *name;
	pid_t pid;
	bool running;
	int status;
	double cpu_s;
	long maxrss_kb;
};

static int spawn(struct proc *p, const char *name, const char *const argv[], const char *const env[],
		 const char *log)
{
	p->name = name;
	int ret = vw_test_spawn(argv, env, log, &p->pid);
	p->running = ret == 0;
	return ret;
}

static bool still_running(struct proc *p)
{
	siginfo_t si = {0};
	/* WNOWAIT: leave the child to vw_test_wait, which collects its resource usage */
	return p->running && waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

static void stop_proc(struct proc *p)
{
	struct rusage ru = {0};
	if (!p->running)
		return;
	kill(p->pid, SIGTERM);
	p->status = vw_test_wait(p->pid, STOP_GRACE_MS, &ru);
	p->running = false;
	p->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		   (double)ru.ru_stime.tv_usec / 1e6;
	p->maxrss_kb = ru.ru_maxrss;
}

static long status_kb(const char *status, const char *key)
{
	const char *p = strstr(status, key);
	return p ? atol(p + strlen(key)) : 0;
}

static void sample_memory(pid_t pid, struct vw_bench_result *r)
{
	char path[64], line[256];
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		r->anon_kb = r->anon_kb ? r->anon_kb : status_kb(line, "RssAnon:");
		r->file_kb = r->file_kb ? r->file_kb : status_kb(line, "RssFile:");
		r->shmem_kb = r->shmem_kb ? r->shmem_kb : status_kb(line, "RssShmem:");
	}
	fclose(f);
}

/* CPU time of a process by thread name (threads of one name summed), from the scheduler's exact
 * per-thread counters. */
struct cpu_snap {
	int n;
	char names[16][32]; /* as long as the comm line read into it */
	double secs[16];
};

static double snap_total(const struct cpu_snap *c)
{
	double t = 0;
	for (int k = 0; k < c->n; k++)
		t += c->secs[k];
	return t;
}

static void snap_threads(pid_t pid, struct cpu_snap *c)
{
	char path[128];
	DIR *d;
	struct dirent *de;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d)) && c->n < 16) {
		char comm[32] = "", sched[128] = "";
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm", (int)pid, de->d_name);
		if ((f = fopen(path, "r"))) { /* /proc files have no size: read, don't stat */
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/schedstat", (int)pid, de->d_name);
		if ((f = fopen(path, "r"))) {
			if (!fgets(sched, sizeof(sched), f))
				sched[0] = 0;
			fclose(f);
		}
		comm[strcspn(comm, "\n")] = 0;
		if (!*comm || !*sched)
			continue;
		int k = 0;
		while (k < c->n && strcmp(c->names[k], comm) != 0)
			k++;
		if (k == c->n)
			snprintf(c->names[c->n++], sizeof(c->names[0]), "%s", comm);
		c->secs[k] += atof(sched) / 1e9;
	}
	closedir(d);
}

/* "name seconds" per thread name, of what was used between the two snapshots; returns the part
 * used by capture threads ("feed:..."). */
static double snap_describe(const struct cpu_snap *a, const struct cpu_snap *b, char *out, size_t n)
{
	double feeds = 0;
	*out = 0;
	for (int k = 0; k < b->n; k++) {
		double before = 0;
		for (int j = 0; j < a->n; j++)
			if (!strcmp(a->names[j], b->names[k]))
				before = a->secs[j];
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s%s %.2f s", l ? ", " : "", b->names[k], b->secs[k] - before);
		if (!strncmp(b->names[k], "feed:", 5))
			feeds += b->secs[k] - before;
	}
	return feeds;
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static bool wait_for_line(const char *path, const char *needle, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		if (vw_test_count_lines(path, needle) > 0)
			return true;
		vw_test_sleep_ms(20);
	}
	return false;
}

/* ---- cases ---- */

static int write_vw_conf(const struct vw_bench_env *e, const struct vw_bench_case *c, const char *dir,
			 const char *path, int port_a, int port_b)
{
	size_t cap = 4096 + (size_t)c->dests * 128, n = 0;
	char *t = malloc(cap);
	int ret;
	if (!t)
		return -ENOMEM;
#define OUT(...) n += (size_t)snprintf(t + n, cap - n, __VA_ARGS__)
	OUT("# written by the benchmark\n[feed cam]\ntype = v4l2\ndevice = /dev/video0\nsize = %s\nfps = 25\n%s",
	    c->two_streams || c->mjpeg720 ? "1280x720" : "640x480", c->mjpeg720 ? "format = mjpeg\n" : "");
	if (c->audio)
		OUT("[feed mic]\ntype = alsa\ndevice = vwfake\nrate = 48000\nchannels = 2\n");
	/* audio_rate as the microphone's, as the ffmpeg command line keeps it */
	if (c->two_streams) {
		OUT("[stream large]\nfeeds = cam%s\nsize = 1280x720\nvideo_bitrate = 2000k\naudio_rate = 48000\n",
		    c->audio ? ", mic" : "");
		OUT("[stream small]\nfeeds = cam%s\nsize = 320x240\nvideo_bitrate = 250k\naudio_rate = 48000\n",
		    c->audio ? ", mic" : "");
		OUT("[destination large]\nstream = large\nurl = ws://127.0.0.1:%d/in/large\n", port_a);
		OUT("[destination small]\nstream = small\nurl = ws://127.0.0.1:%d/in/small\n", port_b);
	} else {
		OUT("[stream live]\nfeeds = cam%s\nsize = 640x480\nvideo_bitrate = 1000k\naudio_rate = 48000\n",
		    c->audio ? ", mic" : "");
		for (int i = 0; i < c->dests; i++)
			OUT("[destination d%d]\nstream = live\nurl = ws://127.0.0.1:%d/in/live\n", i, i ? port_b : port_a);
	}
	if (c->recorder)
		OUT("[recorder live]\nstream = live\ndir = %s/recordings\nsegment = 60s\nkeep = 200M\n", dir);
#undef OUT
	(void)e;
	ret = n < cap ? vw_test_write_file(path, t, n) : -ENOSPC;
	free(t);
	return ret;
}

static void ffmpeg_argv(const struct vw_bench_env *e, const struct vw_bench_case *c, const char *size, const char *rate,
			const char *url, const char **argv)
{
	int n = 0;
	argv[n++] = e->ffmpeg;
	argv[n++] = "-hide_banner";
	argv[n++] = "-nostdin";
	argv[n++] = "-loglevel";
	argv[n++] = "warning";
	argv[n++] = "-f";
	argv[n++] = "v4l2";
	argv[n++] = "-framerate";
	argv[n++] = "25";
	argv[n++] = "-video_size";
	argv[n++] = c->two_streams ? "1280x720" : "640x480";
	argv[n++] = "-i";
	argv[n++] = "/dev/video0";
	if (c->audio) {
		argv[n++] = "-f";
		argv[n++] = "alsa";
		argv[n++] = "-sample_rate";
		argv[n++] = "48000";
		argv[n++] = "-channels";
		argv[n++] = "2";
		argv[n++] = "-i";
		argv[n++] = "vwfake";
	}
	/* JSMpeg's recommended command line */
	argv[n++] = "-f";
	argv[n++] = "mpegts";
	argv[n++] = "-codec:v";
	argv[n++] = "mpeg1video";
	argv[n++] = "-s";
	argv[n++] = size;
	argv[n++] = "-b:v";
	argv[n++] = rate;
	argv[n++] = "-bf";
	argv[n++] = "0";
	if (c->audio) {
		argv[n++] = "-codec:a";
		argv[n++] = "mp2";
		argv[n++] = "-b:a";
		argv[n++] = "128k";
	}
	argv[n++] = "-muxdelay";
	argv[n++] = "0.001";
	argv[n++] = url;
	argv[n] = NULL;
}

static void fail(struct vw_bench_result *r, int err, const char *fmt, const char *arg)
{
	if (r->error)
		return;
	r->error = err < 0 ? err : -EIO;
	snprintf(r->errmsg, sizeof(r->errmsg), fmt, arg);
}

static void analyze_rx(struct vw_testsrv *srv, const char *cam_log, const char *label, int64_t from, int64_t to,
		       struct vw_bench_result *r)
{
	struct vw_bench_rx *rx = &r->rx[r->nrx++];
	struct vw_testsrv_arrival *arr = NULL;
	struct vw_bench_cam cam;
	size_t len = 0, narr;
	uint8_t *data;

	snprintf(rx->label, sizeof(rx->label), "%s", label);
	data = vw_testsrv_data(srv, &len);
	narr = vw_testsrv_arrivals(srv, &arr);
	rx->bytes = len;
	if (vw_bench_cam_log(cam_log, &cam) < 0)
		fail(r, -ENOENT, "no camera log at %s", cam_log);
	else if (vw_bench_latency(data, len, arr, narr, &cam, from, to, &rx->lat) < 0)
		fail(r, -EINVAL, "no MPEG-1 video arrived at %s", label);
	free(data);
	free(arr);
}

int vw_bench_run(const struct vw_bench_env *e, const struct vw_bench_case *c, struct vw_bench_result *r)
{
	struct vw_testsrv *a = NULL, *b = NULL;
	struct proc procs[MAX_PROCS] = {0};
	int np = 0, port_a = 0, port_b = 0, ret;
	char dir[512], conf[600], state[600], log[MAX_PROCS][600], cam[2][600], url[2][128], secs[32], env_pre[1024],
		env_cam[2][1300], env_cost[64], env_mjpeg[700];
	const char *argv[64];

	memset(r, 0, sizeof(*r));
	r->c = c;
	snprintf(dir, sizeof(dir), "%s/%s", e->work, c->id);
	mkdir(dir, 0755);
	for (int i = 0; i < 2; i++) {
		snprintf(cam[i], sizeof(cam[i]), "%s/camera%d.log", dir, i);
		unlink(cam[i]);
		snprintf(env_cam[i], sizeof(env_cam[i]), "VWFAKECAM_LOG=%s", cam[i]);
	}
	for (int i = 0; i < MAX_PROCS; i++)
		snprintf(log[i], sizeof(log[i]), "%s/process%d.log", dir, i);
	snprintf(env_pre, sizeof(env_pre), "LD_PRELOAD=%s%s", e->preload_prefix, e->fakecam);
	snprintf(env_cost, sizeof(env_cost), "VWFAKECAM_COST_MS=%g", c->cost_ms);
	snprintf(env_mjpeg, sizeof(env_mjpeg), "VWFAKECAM_MJPEG=%s", c->mjpeg720 ? VW_CAMERA_720P : "");
	const char *env_vw[] = {env_pre, env_cam[0], "VWFAKECAM_DEVICE=/dev/video0", env_cost, env_mjpeg, NULL};
	/* ffmpeg is never sanitized: only the camera goes in */
	char env_ff_pre[700];
	snprintf(env_ff_pre, sizeof(env_ff_pre), "LD_PRELOAD=%s", e->fakecam);
	const char *env_ff[2][4] = {{env_ff_pre, env_cam[0], "VWFAKECAM_DEVICE=/dev/video0", NULL},
				    {env_ff_pre, env_cam[1], "VWFAKECAM_DEVICE=/dev/video0", NULL}};

	if (c->kind != VW_BENCH_FLOOR) {
		struct vw_testsrv_opts count_only = {.keep_bytes = 1};
		if ((ret = vw_testsrv_start(&a, NULL)) < 0) {
			fail(r, ret, "cannot start the receiver%s", "");
			goto end;
		}
		port_a = vw_testsrv_port(a);
		if (c->dests > 1 || c->two_streams) {
			if ((ret = vw_testsrv_start(&b, c->two_streams ? NULL : &count_only)) < 0) {
				fail(r, ret, "cannot start the second receiver%s", "");
				goto end;
			}
			port_b = vw_testsrv_port(b);
		}
	}

	int64_t t_start = vw_test_now_ns();
	switch (c->kind) {
	case VW_BENCH_VW:
		snprintf(conf, sizeof(conf), "%s/vw.conf", dir);
		if ((ret = write_vw_conf(e, c, dir, conf, port_a, port_b)) < 0) {
			fail(r, ret, "cannot write %s", conf);
			goto end;
		}
		snprintf(state, sizeof(state), "%s/state.json", dir); /* never the box's /var/lib/vw */
		argv[0] = c->vw ? c->vw : e->vw;
		argv[1] = "-c";
		argv[2] = conf;
		argv[3] = "--state";
		argv[4] = state;
		argv[5] = NULL;
		ret = spawn(&procs[np++], "vw", argv, env_vw, log[0]);
		break;
	case VW_BENCH_FFMPEG:
		snprintf(url[0], sizeof(url[0]), "http://127.0.0.1:%d/ts/%s", port_a, c->two_streams ? "large" : "live");
		ffmpeg_argv(e, c, c->two_streams ? "1280x720" : "640x480", c->two_streams ? "2000k" : "1000k", url[0], argv);
		ret = spawn(&procs[np++], "ffmpeg", argv, env_ff[0], log[0]);
		if (ret == 0 && c->two_streams) {
			snprintf(url[1], sizeof(url[1]), "http://127.0.0.1:%d/ts/small", port_b);
			ffmpeg_argv(e, c, "320x240", "250k", url[1], argv);
			ret = spawn(&procs[np++], "ffmpeg", argv, env_ff[1], log[1]);
		}
		break;
	case VW_BENCH_FFMPEG_RELAY: {
		int rp = free_port();
		char port_s[16], to[64];
		snprintf(port_s, sizeof(port_s), "%d", rp);
		snprintf(to, sizeof(to), "ws://127.0.0.1:%d", port_a);
		const char *rargv[] = {e->node, e->push_relay, "--port", port_s, "--to", to, NULL};
		ret = spawn(&procs[np++], "relay", rargv, NULL, log[1]);
		if (ret == 0 && !wait_for_line(log[1], "listening", 10000))
			ret = -ETIMEDOUT;
		if (ret == 0) {
			t_start = vw_test_now_ns();
			snprintf(url[0], sizeof(url[0]), "http://127.0.0.1:%d/ts/live", rp);
			ffmpeg_argv(e, c, "640x480", "1000k", url[0], argv);
			ret = spawn(&procs[np++], "ffmpeg", argv, env_ff[0], log[0]);
		}
		break;
	}
	case VW_BENCH_FLOOR: {
		char outs[96];
		snprintf(secs, sizeof(secs), "%.3f", e->seconds);
		snprintf(outs, sizeof(outs), "%s", c->two_streams ? "1280x720:2000000,320x240:250000" : "640x480:1000000");
		const char *fargv[] = {e->floor, secs, c->two_streams ? "1280x720" : "640x480", outs,
				       c->audio ? e->tone : NULL, NULL};
		ret = spawn(&procs[np++], "floor", fargv, NULL, log[0]);
		break;
	}
	}
	if (ret < 0) {
		fail(r, ret, "cannot start the case's processes (see %s)", dir);
		goto end;
	}

	/* run; a process that dies early spoils the case */
	/* CPU is measured over the steady state: from the end of the warm-up to half a second before
	 * the stop, so start-up (loading libraries, opening devices) and shutdown are not counted */
	int64_t t_end = t_start + (int64_t)(e->seconds * 1e9), t_win = t_start + (int64_t)(e->warmup * 1e9),
		t_sample = t_end - NS / 2, t_win_start = 0;
	struct cpu_snap snap0[MAX_PROCS], snap1[MAX_PROCS];
	bool sampled = false, win_started = false;
	while (vw_test_now_ns() < t_end) {
		for (int i = 0; i < np; i++)
			if (!still_running(&procs[i]) && c->kind != VW_BENCH_FLOOR)
				fail(r, -ECHILD, "%s ended early", procs[i].name);
		if (r->error || (c->kind == VW_BENCH_FLOOR && !still_running(&procs[0])))
			break;
		if (!win_started && vw_test_now_ns() >= t_win) {
			t_win_start = vw_test_now_ns();
			for (int i = 0; i < np; i++)
				snap_threads(procs[i].pid, &snap0[i]);
			win_started = true;
		}
		if (win_started && !sampled && vw_test_now_ns() >= t_sample) {
			r->win_s = (double)(vw_test_now_ns() - t_win_start) / 1e9;
			for (int i = 0; i < np; i++) {
				snap_threads(procs[i].pid, &snap1[i]);
				r->win_cpu_s += snap_total(&snap1[i]) - snap_total(&snap0[i]);
			}
			sample_memory(procs[np - 1].pid, r);
			r->feed_cpu_s = snap_describe(&snap0[np - 1], &snap1[np - 1], r->threads, sizeof(r->threads));
			sampled = true;
		}
		vw_test_sleep_ms(50);
	}
	int64_t t_stop = vw_test_now_ns();
	/* the encoder first, so the relay forwards what it still has */
	for (int i = np - 1; i >= 0; i--)
		stop_proc(&procs[i]);
	r->wall_s = (double)(vw_test_now_ns() - t_start) / 1e9;
	if (c->kind == VW_BENCH_FLOOR)
		r->wall_s = e->seconds;
	for (int i = 0; i < np; i++) {
		size_t n = strlen(r->procs);
		r->cpu_s += procs[i].cpu_s;
		r->rss_mb += (double)procs[i].maxrss_kb / 1024.0;
		snprintf(r->procs + n, sizeof(r->procs) - n, "%s%s %.2f s %.0f MB", n ? " + " : "", procs[i].name,
			 procs[i].cpu_s, (double)procs[i].maxrss_kb / 1024.0);
		if (procs[i].status == -ETIMEDOUT)
			fail(r, -ETIMEDOUT, "%s did not stop on SIGTERM", procs[i].name);
	}
	if (!sampled)
		fail(r, -EIO, "the case ended before its CPU was measured%s", "");
	if (r->error || c->kind == VW_BENCH_FLOOR)
		goto end;

	/* let the last bytes land, then measure pictures captured after the warm-up and at least a
	 * second before the stop (so every one of them had time to arrive) */
	vw_test_sleep_ms(200);
	int64_t from = t_start + (int64_t)(e->warmup * 1e9), to = t_stop - NS;
	if (c->two_streams) {
		analyze_rx(a, cam[0], "1280x720 2 Mbit/s", from, to, r);
		analyze_rx(b, cam[c->kind == VW_BENCH_VW ? 0 : 1], "320x240 250 kbit/s", from, to, r);
	} else {
		analyze_rx(a, cam[0], c->dests > 1 ? "first destination" : "", from, to, r);
		if (b) {
			struct vw_testsrv_stats st;
			vw_testsrv_stats(b, &st);
			if (st.connections < c->dests - 1)
				fail(r, -ENOTCONN, "only some destinations connected to the second receiver%s", "");
		}
	}
end:
	for (int i = 0; i < np; i++)
		stop_proc(&procs[i]);
	if (a)
		vw_testsrv_stop(a);
	if (b)
		vw_testsrv_stop(b);
	return r->error;
}

/* ---- report ---- */

static const struct vw_bench_result *find(const struct vw_bench_result *r, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].c->id, id) == 0 && !r[i].error)
			return &r[i];
	return NULL;
}

static double cpu_per_min(const struct vw_bench_result *r)
{
	return r->win_s > 0 ? r->win_cpu_s / r->win_s * 60 : 0;
}

static void target(FILE *f, const char *what, bool have, double value, const char *unit, double limit, const char *how)
{
	if (!have) {
		fprintf(f, "| %s | not measured | – |\n", what);
		return;
	}
	fprintf(f, "| %s | %.2f%s (%s) | %s |\n", what, value, unit, how, value <= limit ? "met" : "**missed**");
}

void vw_bench_report(FILE *f, const struct vw_bench_result *r, int n)
{
	fprintf(f, "| Case | Pictures | p50 ms | p90 ms | p99 ms | max ms | CPU s/min | %% of a core | Peak RSS MB | "
		   "Processes (CPU, peak RSS) |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		const struct vw_bench_result *x = &r[i];
		if (x->error) {
			fprintf(f, "| %s | failed: %s |||||||||\n", x->c->title, x->errmsg);
			continue;
		}
		int rows = x->nrx ? x->nrx : 1;
		for (int k = 0; k < rows; k++) {
			char title[160], lat[160];
			const struct vw_bench_rx *rx = &x->rx[k];
			snprintf(title, sizeof(title), "%s%s%s", x->c->title, x->nrx && *rx->label ? ": " : "",
				 x->nrx ? rx->label : "");
			if (x->nrx)
				snprintf(lat, sizeof(lat), "%d/%d | %.1f | %.1f | %.1f | %.1f", rx->lat.frames,
					 rx->lat.expected, rx->lat.p50, rx->lat.p90, rx->lat.p99, rx->lat.max);
			else
				snprintf(lat, sizeof(lat), "– | – | – | – | –");
			fprintf(f, "| %s | %s | %.2f | %.1f | %.1f | %s |\n", title, lat, cpu_per_min(x),
				cpu_per_min(x) / 0.6, x->rss_mb, x->procs);
		}
	}

	const struct vw_bench_result *vw = find(r, n, "vw-av-rec"), *floor_ = find(r, n, "floor-av"),
				     *pipe = find(r, n, "ffmpeg-relay-av"), *ff = find(r, n, "ffmpeg-av"),
				     *d10 = find(r, n, "vw-av-rec-10"), *d100 = find(r, n, "vw-av-rec-100"),
				     *vw2 = find(r, n, "vw-2s"), *ff2 = find(r, n, "ffmpeg-2s"), *fl2 = find(r, n, "floor-2s");
	char how[160];

	fprintf(f, "\nTargets (640x480 25 fps, video + audio, 1 Mbit/s, one destination + recorder):\n\n");
	fprintf(f, "| Target | Measured | |\n|---|---|---|\n");
	target(f, "latency p50 ≤ 3 ms", vw, vw ? vw->rx[0].lat.p50 : 0, " ms", 3, "vw, video + audio + recorder");
	target(f, "latency p99 ≤ 8 ms", vw, vw ? vw->rx[0].lat.p99 : 0, " ms", 8, "vw, video + audio + recorder");
	if (vw && floor_)
		snprintf(how, sizeof(how), "%.2f vs %.2f CPU s/min", cpu_per_min(vw), cpu_per_min(floor_));
	target(f, "CPU ≤ 1.3 × libav floor", vw && floor_, vw && floor_ ? cpu_per_min(vw) / cpu_per_min(floor_) : 0, " ×",
	       1.3, how);
	if (vw && floor_)
		snprintf(how, sizeof(how), "%.2f vs %.2f CPU s/min: vw without its capture threads, which with the fake "
			 "devices also do the devices' work",
			 (vw->win_cpu_s - vw->feed_cpu_s) / vw->win_s * 60, cpu_per_min(floor_));
	target(f, "… the same, capture threads left out", vw && floor_,
	       vw && floor_ ? (vw->win_cpu_s - vw->feed_cpu_s) / vw->win_s * 60 / cpu_per_min(floor_) : 0, " ×", 1.3, how);
	if (vw && pipe)
		snprintf(how, sizeof(how), "%.2f vs %.2f CPU s/min of ffmpeg + relay", cpu_per_min(vw), cpu_per_min(pipe));
	target(f, "CPU ≤ 1/3 of the ffmpeg pipeline", vw && pipe, vw && pipe ? cpu_per_min(vw) / cpu_per_min(pipe) : 0,
	       " ×", 1.0 / 3, how);
	target(f, "peak RSS ≤ 40 MB", vw, vw ? vw->rss_mb : 0, " MB", 40, "vw, video + audio + recorder");
	if (vw && d100)
		snprintf(how, sizeof(how), "%.1f%% → %.1f%% of a core; %.1f ms CPU/min per added destination",
			 cpu_per_min(vw) / 0.6, cpu_per_min(d100) / 0.6,
			 (cpu_per_min(d100) - cpu_per_min(vw)) / 99 * 1000);
	target(f, "100 destinations cost ≤ 3% of a core over 1", vw && d100,
	       vw && d100 ? (cpu_per_min(d100) - cpu_per_min(vw)) / 0.6 : 0, "%", 3, how);
	target(f, "first destination p99 ≤ 10 ms with 100", d100, d100 ? d100->rx[0].lat.p99 : 0, " ms", 10,
	       "vw, 100 destinations");

	fprintf(f, "\nRatios:\n\n");
	if (vw && ff)
		fprintf(f, "- vw uses %.2f × the CPU of the ffmpeg CLI alone, %.2f × its peak RSS; p50 latency %.1f ms vs %.1f ms\n",
			cpu_per_min(vw) / cpu_per_min(ff), vw->rss_mb / ff->rss_mb, vw->rx[0].lat.p50, ff->rx[0].lat.p50);
	if (vw && pipe)
		fprintf(f, "- against ffmpeg + relay process: %.2f × the CPU, %.2f × the memory; p99 %.1f ms vs %.1f ms\n",
			cpu_per_min(vw) / cpu_per_min(pipe), vw->rss_mb / pipe->rss_mb, vw->rx[0].lat.p99, pipe->rx[0].lat.p99);
	if (vw && d10 && d100)
		fprintf(f, "- fan-out: 1 → 10 → 100 destinations: %.2f → %.2f → %.2f CPU s/min; first destination p99 "
			   "%.1f → %.1f → %.1f ms\n",
			cpu_per_min(vw), cpu_per_min(d10), cpu_per_min(d100), vw->rx[0].lat.p99, d10->rx[0].lat.p99,
			d100->rx[0].lat.p99);
	if (vw2 && ff2)
		fprintf(f, "- two streams: vw %.2f CPU s/min and %.0f MB in one process vs %.2f and %.0f MB in two ffmpeg "
			   "processes (%.2f × the CPU)%s\n",
			cpu_per_min(vw2), vw2->rss_mb, cpu_per_min(ff2), ff2->rss_mb, cpu_per_min(vw2) / cpu_per_min(ff2),
			fl2 ? "" : "");
	if (vw2 && fl2)
		fprintf(f, "- two streams against their libav floor: %.2f × (%.2f vs %.2f CPU s/min)\n",
			cpu_per_min(vw2) / cpu_per_min(fl2), cpu_per_min(vw2), cpu_per_min(fl2));
	if (vw && vw->anon_kb + vw->file_kb + vw->shmem_kb > 0)
		fprintf(f, "- vw's resident memory near the end (video + audio + recorder): %.1f MB anonymous (heap, "
			   "stacks, libraries' relocated data), %.1f MB mapped files (shared libraries), %.1f MB camera "
			   "buffers (shared memory)\n",
			(double)vw->anon_kb / 1024, (double)vw->file_kb / 1024, (double)vw->shmem_kb / 1024);
	for (int i = 0; i < n; i++)
		if (!r[i].error && r[i].c->kind == VW_BENCH_VW && *r[i].threads)
			fprintf(f, "- %s: CPU by thread over %.1f s of steady state: %s\n", r[i].c->title, r[i].win_s,
				r[i].threads);
	bool pacing = false;
	for (int i = 0; i < n; i++) {
		const struct vw_bench_result *x = &r[i];
		if (x->error || x->c->kind != VW_BENCH_VW || (!x->c->cost_ms && !x->c->mjpeg720 && strcmp(x->c->id, "vw-av")))
			continue;
		if (!pacing)
			fprintf(f, "\nCapture pacing (capture -> arrival; lost = camera frames of the window not measured, "
				   "which includes pictures whose barcode could not be read; repeats = pictures shown "
				   "again):\n\n| Case | p50 ms | p99 ms | max ms | lost frames | unreadable | repeats |\n"
				   "|---|---|---|---|---|---|---|\n");
		pacing = true;
		const struct vw_bench_lat *l = &x->rx[0].lat;
		fprintf(f, "| %s | %.1f | %.1f | %.1f | %d of %d | %d | %d |\n", x->c->title, l->p50, l->p99, l->max,
			l->expected - l->frames, l->expected, l->unreadable, l->repeats);
	}
	if (floor_)
		fprintf(f, "- the libav floor's peak RSS is %.0f MB: it loads libavcodec and libavformat but not "
			   "libavdevice, libwebsockets or a camera\n",
			floor_->rss_mb);
}
