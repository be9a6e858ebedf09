/* vw_ts: see vw_ts.h. */
#include "vw_ts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE SIZE_MAX

void vw_ts_split_init(struct vw_ts_split *s)
{
	memset(s, 0, sizeof(*s));
	s->psi_run = NONE;
	s->st.video_pid = -1;
}

void vw_ts_split_fini(struct vw_ts_split *s)
{
	free(s->search);
	s->search = NULL;
}

static void flush(struct vw_ts_split *s, vw_ts_emit_fn emit, void *opaque, size_t upto)
{
	if (!upto)
		return;
	emit(opaque, s->out, upto, s->out_flags);
	memmove(s->out, s->out + upto, s->out_len - upto);
	s->out_len -= upto;
	s->out_flags = 0;
	s->psi_run = s->psi_run == NONE || s->psi_run < upto ? NONE : s->psi_run - upto;
}

static bool is_pmt(const struct vw_ts_split *s, int pid)
{
	for (int i = 0; i < s->n_pmt; i++)
		if (s->pmt_pids[i] == pid)
			return true;
	return false;
}

/* The section a PUSI packet of PID 0 or a PMT starts: its bytes and length, or NULL. */
static const uint8_t *section(const uint8_t *p, size_t off, size_t *len)
{
	if (off >= VW_TS_PACKET)
		return NULL;
	size_t start = off + 1 + p[off]; /* pointer_field */
	if (start + 3 > VW_TS_PACKET)
		return NULL;
	size_t sl = (size_t)((p[start + 1] & 0x0f) << 8 | p[start + 2]);
	*len = start + 3 + sl <= VW_TS_PACKET ? sl + 3 : VW_TS_PACKET - start;
	return p + start;
}

static void parse_psi(struct vw_ts_split *s, const uint8_t *p, int pid, size_t off)
{
	size_t len;
	const uint8_t *t = section(p, off, &len);

	if (!t || len < 12)
		return;
	if (pid == 0 && t[0] == 0x00) {
		s->n_pmt = 0;
		for (size_t i = 8; i + 4 <= len - 4 && s->n_pmt < 8; i += 4) {
			int prog = t[i] << 8 | t[i + 1], pmt = (t[i + 2] & 0x1f) << 8 | t[i + 3];
			if (prog)
				s->pmt_pids[s->n_pmt++] = pmt;
		}
	} else if (t[0] == 0x02) {
		size_t i = 12 + (size_t)((t[10] & 0x0f) << 8 | t[11]);
		while (i + 5 <= len - 4) {
			int type = t[i], es = (t[i + 1] & 0x1f) << 8 | t[i + 2];
			/* MPEG-1/2 video, MPEG-4 part 2, H.264, HEVC */
			if (type == 0x01 || type == 0x02 || type == 0x10 || type == 0x1b || type == 0x24)
				s->st.video_pid = es;
			i += 5 + (size_t)((t[i + 3] & 0x0f) << 8 | t[i + 4]);
		}
	}
}

/* Whether the elementary stream bytes start a picture a decoder can begin with. */
static bool starts_picture(const uint8_t *es, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (es[i] == 0 && es[i + 1] == 0 && es[i + 2] == 1) {
			uint8_t c = es[i + 3];
			if (c == 0xb3) /* MPEG-1/2 sequence header: comes with every I-frame */
				return true;
			if ((c & 0x80) == 0 && ((c & 0x1f) == 5 || (c & 0x1f) == 7)) /* H.264 IDR or SPS */
				return true;
		}
	return false;
}

static void packet(struct vw_ts_split *s, const uint8_t *p, vw_ts_emit_fn emit, void *opaque)
{
	int pid = (p[1] & 0x1f) << 8 | p[2];
	bool pusi = p[1] & 0x40;
	int afc = (p[3] >> 4) & 3;
	size_t off = 4 + ((afc & 2) ? 1 + (size_t)p[4] : 0);
	bool rai = (afc & 2) && p[4] > 0 && (p[5] & 0x40);
	bool psi = pid == 0 || is_pmt(s, pid);
	bool key = false;

	s->st.packets++;
	if (psi && pusi && (afc & 1))
		parse_psi(s, p, pid, off);
	if (!psi && (afc & 1) && off + 9 <= VW_TS_PACKET && pusi && p[off] == 0 && p[off + 1] == 0 && p[off + 2] == 1) {
		uint8_t sid = p[off + 3];
		if (sid >= 0xe0 && sid <= 0xef && s->st.video_pid < 0)
			s->st.video_pid = pid; /* no PMT seen (yet): the PES says it is video */
		if (pid == s->st.video_pid) {
			size_t es = off + 9 + p[off + 8];
			key = rai || (es < VW_TS_PACKET && starts_picture(p + es, VW_TS_PACKET - es));
		} else if (s->st.video_pid < 0 && sid >= 0xc0 && sid <= 0xdf) {
			key = true; /* no video: every audio frame is a place to start */
		}
	} else if (pid == s->st.video_pid && rai) {
		key = true;
	}
	s->st.has_video = s->st.video_pid >= 0;

	if (key) {
		s->st.keyframes++;
		/* the key chunk starts with the PAT/PMT written just before the picture */
		flush(s, emit, opaque, s->psi_run != NONE ? s->psi_run : s->out_len);
		s->out_flags = VW_CHUNK_KEY;
	}
	if (s->out_len + VW_TS_PACKET > sizeof(s->out))
		flush(s, emit, opaque, s->out_len);
	if (psi && s->psi_run == NONE)
		s->psi_run = s->out_len;
	else if (!psi)
		s->psi_run = NONE;
	memcpy(s->out + s->out_len, p, VW_TS_PACKET);
	s->out_len += VW_TS_PACKET;
}

static int synced_bytes(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque);

/* Looks for three sync bytes 188 apart in the search buffer; feeds what follows them. */
static int search(struct vw_ts_split *s, vw_ts_emit_fn emit, void *opaque)
{
	for (size_t o = 0; o + 2 * VW_TS_PACKET < s->search_len; o++)
		if (s->search[o] == 0x47 && s->search[o + VW_TS_PACKET] == 0x47 && s->search[o + 2 * VW_TS_PACKET] == 0x47) {
			uint8_t *buf = s->search;
			size_t n = s->search_len;
			s->st.skipped_bytes += o;
			s->search = NULL;
			s->search_len = 0;
			s->st.synced = true;
			int ret = synced_bytes(s, buf + o, n - o, emit, opaque);
			free(buf);
			return ret;
		}
	if (s->search_len >= VW_TS_SYNC_WINDOW) {
		s->bad = true;
		return -EBADMSG;
	}
	return 0;
}

static int hunt(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque)
{
	while (len) {
		if (!s->search && !(s->search = malloc(VW_TS_SYNC_WINDOW + 2 * VW_TS_PACKET + 1)))
			return -ENOMEM;
		size_t room = VW_TS_SYNC_WINDOW + 2 * VW_TS_PACKET + 1 - s->search_len;
		size_t n = len < room ? len : room;
		memcpy(s->search + s->search_len, in, n);
		s->search_len += n;
		in += n;
		len -= n;
		int ret = search(s, emit, opaque);
		if (ret < 0)
			return ret;
		if (s->st.synced && len) /* found it: the rest of the input is in step */
			return synced_bytes(s, in, len, emit, opaque);
	}
	return 0;
}

static int synced_bytes(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque)
{
	while (len) {
		if (s->pkt_len == 0 && len >= VW_TS_PACKET && in[0] == 0x47) {
			packet(s, in, emit, opaque); /* the common case: straight from the input */
			in += VW_TS_PACKET;
			len -= VW_TS_PACKET;
			continue;
		}
		if (s->pkt_len == 0 && in[0] != 0x47) {
			/* lost step: hunt again from here */
			s->st.synced = false;
			s->st.resyncs++;
			return hunt(s, in, len, emit, opaque);
		}
		size_t n = VW_TS_PACKET - s->pkt_len < len ? VW_TS_PACKET - s->pkt_len : len;
		memcpy(s->pkt + s->pkt_len, in, n);
		s->pkt_len += n;
		in += n;
		len -= n;
		if (s->pkt_len == VW_TS_PACKET) {
			s->pkt_len = 0;
			packet(s, s->pkt, emit, opaque);
		}
	}
	return 0;
}

int vw_ts_split_feed(struct vw_ts_split *s, const uint8_t *in, size_t len, vw_ts_emit_fn emit, void *opaque)
{
	int ret;

	if (s->bad)
		return -EBADMSG;
	s->st.bytes_in += len;
	ret = s->st.synced ? synced_bytes(s, in, len, emit, opaque) : hunt(s, in, len, emit, opaque);
	flush(s, emit, opaque, s->out_len); /* nothing waits for the next piece */
	return ret;
}
