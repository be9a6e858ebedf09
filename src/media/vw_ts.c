/* vw_ts: see vw_ts.h. */
#include "vw_ts.h"

#include <errno.h>
#include <string.h>

#define NONE SIZE_MAX
#define SYNC 0x47
#define PROBE (2 * VW_TS_PACKET + 1) /* bytes from a candidate sync byte to its third one */
#define PID_NULL 0x1fff

void vw_ts_split_init(struct vw_ts_split *s)
{
	memset(s, 0, sizeof(*s));
	s->pat_run = NONE;
	s->st.video_pid = -1;
}

void vw_ts_split_fini(struct vw_ts_split *s)
{
	(void)s;
}

/* Hands out[0..upto) to the caller as one chunk and keeps the rest for the next one. */
static void flush(struct vw_ts_split *s, vw_ts_emit_fn emit, void *opaque, size_t upto)
{
	if (!upto)
		return;
	emit(opaque, s->out, upto, s->out_flags);
	memmove(s->out, s->out + upto, s->out_len - upto);
	s->out_len -= upto;
	s->out_flags = 0;
	s->pat_run = s->pat_run == NONE || s->pat_run < upto ? NONE : s->pat_run - upto;
}

static bool is_pmt(const struct vw_ts_split *s, int pid)
{
	for (int i = 0; i < s->n_pmt; i++)
		if (s->pmt_pids[i] == pid)
			return true;
	return false;
}

static bool is_video_type(int type)
{
	/* MPEG-1, MPEG-2, MPEG-4 part 2, H.264, HEVC */
	return type == 0x01 || type == 0x02 || type == 0x10 || type == 0x1b || type == 0x24;
}

/* A PAT or PMT section that starts in this packet's payload (p, n bytes). Only what fits in the
 * packet is read: ffmpeg's tables always do, and a longer one just goes unread. */
static void parse_psi(struct vw_ts_split *s, int pid, const uint8_t *p, size_t n)
{
	size_t start = 1 + (size_t)p[0]; /* pointer_field */

	if (start + 3 > n)
		return;
	const uint8_t *t = p + start;
	size_t len = 3 + (size_t)((t[1] & 0x0f) << 8 | t[2]);
	if (len > n - start)
		len = n - start;
	if (len < 16) /* header, one entry, CRC */
		return;
	len -= 4; /* CRC */
	if (pid == 0 && t[0] == 0x00) {
		s->n_pmt = 0;
		for (size_t i = 8; i + 4 <= len && s->n_pmt < VW_TS_MAX_PROGRAMS; i += 4) {
			int prog = t[i] << 8 | t[i + 1], pmt = (t[i + 2] & 0x1f) << 8 | t[i + 3];
			if (prog) /* 0 is the network PID, not a program */
				s->pmt_pids[s->n_pmt++] = pmt;
		}
	} else if (pid != 0 && t[0] == 0x02) {
		size_t i = 12 + (size_t)((t[10] & 0x0f) << 8 | t[11]);
		while (i + 5 <= len) {
			int type = t[i], es = (t[i + 1] & 0x1f) << 8 | t[i + 2];
			if (is_video_type(type)) {
				s->st.video_pid = es;
				s->video_type = type;
				break;
			}
			i += 5 + (size_t)((t[i + 3] & 0x0f) << 8 | t[i + 4]);
		}
	}
}

/* Whether elementary stream bytes hold the start of a picture a decoder can begin with. The
 * codec matters: an MPEG-1/2 slice start code (00 00 01 05) looks like an H.264 IDR. */
static bool starts_picture(int video_type, const uint8_t *es, size_t n)
{
	bool h264 = video_type == 0x1b;

	for (size_t i = 0; i + 4 <= n; i++) {
		if (es[i] || es[i + 1] || es[i + 2] != 1)
			continue;
		uint8_t c = es[i + 3];
		if (!h264 && c == 0xb3) /* sequence header: ffmpeg writes one before every I-frame */
			return true;
		if (h264 && !(c & 0x80) && ((c & 0x1f) == 5 || (c & 0x1f) == 7)) /* IDR slice or SPS */
			return true;
	}
	return false;
}

/* A PES starts in this packet's payload (p, n bytes): whether it is a place to start decoding. */
static bool pes_is_key(struct vw_ts_split *s, int pid, const uint8_t *p, size_t n, bool rai)
{
	if (n < 9 || p[0] || p[1] || p[2] != 1)
		return false;
	uint8_t sid = p[3];
	if (s->st.video_pid < 0 && sid >= 0xe0 && sid <= 0xef)
		s->st.video_pid = pid; /* no PMT has said (yet): the PES says it is video */
	if (pid == s->st.video_pid) {
		size_t h = 9 + (size_t)p[8];
		return rai || (h < n && starts_picture(s->video_type, p + h, n - h));
	}
	/* without video, every MPEG audio frame decodes on its own */
	return s->st.video_pid < 0 && sid >= 0xc0 && sid <= 0xdf;
}

static void packet(struct vw_ts_split *s, const uint8_t *p, vw_ts_emit_fn emit, void *opaque)
{
	int pid = (p[1] & 0x1f) << 8 | p[2];
	bool tei = p[1] & 0x80, pusi = p[1] & 0x40;
	int afc = (p[3] >> 4) & 3;
	size_t off = 4 + ((afc & 2) ? 1 + (size_t)p[4] : 0);
	bool payload = !tei && (afc & 1) && off < VW_TS_PACKET;
	bool rai = (afc & 2) && p[4] > 0 && (p[5] & 0x40);
	bool pat = pid == 0, pmt = !pat && is_pmt(s, pid);
	bool key = false;

	if (pusi && payload && (pat || pmt))
		parse_psi(s, pid, p + off, VW_TS_PACKET - off);
	else if (pusi && payload && pid != PID_NULL)
		key = pes_is_key(s, pid, p + off, VW_TS_PACKET - off, rai);
	s->st.has_video = s->st.video_pid >= 0;

	/* The key chunk starts at the PAT/PMT written just before the picture, when they came in
	 * this call: a demuxer needs them to find the streams. A full buffer keeps such a run back
	 * for the same reason, unless the run is all there is. */
	if (key) {
		bool run = s->pat_run != NONE && s->out_len - s->pat_run < sizeof(s->out);
		flush(s, emit, opaque, run ? s->pat_run : s->out_len);
		s->out_flags = VW_CHUNK_KEY;
		s->st.keyframes++;
	} else if (s->out_len == sizeof(s->out)) {
		flush(s, emit, opaque, s->pat_run != NONE && s->pat_run > 0 ? s->pat_run : s->out_len);
	}
	if (pat && s->pat_run == NONE)
		s->pat_run = s->out_len;
	else if (!pat && !pmt && pid != PID_NULL) /* stuffing (CBR) does not break the run */
		s->pat_run = NONE;
	memcpy(s->out + s->out_len, p, VW_TS_PACKET);
	s->out_len += VW_TS_PACKET;
	s->st.packets++;
}

/* Drops junk while looking for sync; false once too much has gone by. */
static bool skip(struct vw_ts_split *s, size_t n)
{
	s->st.skipped_bytes += n;
	s->hunted += n;
	if (s->hunted >= VW_TS_SYNC_WINDOW)
		s->bad = true;
	return !s->bad;
}

/* Looks for a sync byte with two more 188 and 376 bytes after it; the candidate and what follows
 * it wait in carry until those can be checked. Returns the bytes of in used. */
static size_t hunt(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque)
{
	size_t used = 0;

	while (used < len) {
		if (!s->carry_len) {
			const uint8_t *c = memchr(in + used, SYNC, len - used);
			size_t junk = c ? (size_t)(c - (in + used)) : len - used;
			used += junk;
			if (!skip(s, junk) || !c)
				break;
		}
		size_t n = PROBE - s->carry_len < len - used ? PROBE - s->carry_len : len - used;
		memcpy(s->carry + s->carry_len, in + used, n);
		s->carry_len += n;
		used += n;
		if (s->carry_len < PROBE)
			break;
		if (s->carry[VW_TS_PACKET] == SYNC && s->carry[2 * VW_TS_PACKET] == SYNC) {
			s->st.synced = true;
			packet(s, s->carry, emit, opaque);
			packet(s, s->carry + VW_TS_PACKET, emit, opaque);
			s->carry[0] = SYNC;
			s->carry_len = 1;
			break;
		}
		/* not in step: the next candidate is the next sync byte already here */
		const uint8_t *c = memchr(s->carry + 1, SYNC, s->carry_len - 1);
		size_t drop = c ? (size_t)(c - s->carry) : s->carry_len;
		memmove(s->carry, s->carry + drop, s->carry_len - drop);
		s->carry_len -= drop;
		if (!skip(s, drop))
			break;
	}
	return used;
}

/* Takes packets while each starts with the sync byte; stops where one does not. Returns the
 * bytes of in used. */
static size_t in_step(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque)
{
	size_t used = 0;

	while (used < len) {
		if (s->carry_len) {
			size_t n = VW_TS_PACKET - s->carry_len < len - used ? VW_TS_PACKET - s->carry_len : len - used;
			memcpy(s->carry + s->carry_len, in + used, n);
			s->carry_len += n;
			used += n;
			if (s->carry_len == VW_TS_PACKET) {
				s->carry_len = 0;
				packet(s, s->carry, emit, opaque);
			}
		} else if (in[used] != SYNC) {
			s->st.synced = false;
			s->st.resyncs++;
			s->hunted = 0;
			break;
		} else if (len - used >= VW_TS_PACKET) {
			packet(s, in + used, emit, opaque); /* the common case: straight from the input */
			used += VW_TS_PACKET;
		} else {
			memcpy(s->carry, in + used, len - used);
			s->carry_len = len - used;
			used = len;
		}
	}
	return used;
}

int vw_ts_split_feed(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque)
{
	size_t used = 0;

	if (s->bad)
		return -EBADMSG;
	s->st.bytes_in += len;
	while (used < len && !s->bad)
		used += s->st.synced ? in_step(s, in + used, len - used, emit, opaque)
				     : hunt(s, in + used, len - used, emit, opaque);
	flush(s, emit, opaque, s->out_len); /* nothing waits for the next piece */
	return s->bad ? -EBADMSG : 0;
}
