/* vw_mux: see vw_mux.h. */
#include "vw_mux.h"

#include <errno.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#define AVIO_BUF 65536

size_t vw_ts_whole_packets(size_t len)
{
	return len - len % VW_TS_PACKET;
}

/* FFmpeg 5.1 passes a non-const buffer. A negative return would poison the AVIOContext for good,
 * so running out of memory loses bytes (counted) rather than the stream. */
static int on_write(void *opaque, uint8_t *buf, int size)
{
	struct vw_mux *m = opaque;
	size_t need = m->len + (size_t)size;

	if (need > m->cap) {
		size_t cap = m->cap ? m->cap : 65536;
		while (cap < need)
			cap *= 2;
		uint8_t *p = av_realloc(m->pending, cap);
		if (!p) {
			m->lost_bytes += (uint64_t)size;
			return size;
		}
		m->pending = p;
		m->cap = cap;
	}
	memcpy(m->pending + m->len, buf, (size_t)size);
	m->len = need;
	return size;
}

static void commit(struct vw_mux *m, bool key, int64_t capture_ns)
{
	size_t n = vw_ts_whole_packets(m->len);
	struct vw_chunk *c;

	if (n == 0)
		return;
	c = vw_chunk_new(m->pending, n, key ? VW_CHUNK_KEY : 0, capture_ns);
	if (c) {
		vw_hub_publish(m->hub, c);
		vw_chunk_unref(c);
		m->chunks++;
		m->bytes += n;
	} else {
		m->lost_bytes += n;
	}
	/* a partial packet (never seen with a flush per frame, but cheap to honour) waits for the rest */
	memmove(m->pending, m->pending + n, m->len - n);
	m->len -= n;
	m->held = false;
}

static int add_stream(AVFormatContext *oc, const AVCodecContext *enc)
{
	AVStream *st = avformat_new_stream(oc, NULL);
	if (!st)
		return AVERROR(ENOMEM);
	st->time_base = enc->time_base;
	return avcodec_parameters_from_context(st->codecpar, enc);
}

int vw_mux_open(struct vw_mux *m, struct vw_hub *hub, const AVCodecContext *venc, const AVCodecContext *aenc)
{
	int ret;
	uint8_t *buf = NULL;
	AVDictionary *opts = NULL;

	memset(m, 0, sizeof(*m));
	m->hub = hub;
	ret = avformat_alloc_output_context2(&m->oc, NULL, "mpegts", NULL);
	if (ret < 0)
		goto end;
	buf = av_malloc(AVIO_BUF);
	if (!buf) {
		ret = AVERROR(ENOMEM);
		goto end;
	}
	m->oc->pb = avio_alloc_context(buf, AVIO_BUF, 1, m, NULL, on_write, NULL);
	if (!m->oc->pb) {
		av_free(buf);
		ret = AVERROR(ENOMEM);
		goto end;
	}
	m->oc->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_FLUSH_PACKETS;
	m->oc->max_delay = 0; /* PCR = DTS: the muxer holds nothing back */
	if ((ret = add_stream(m->oc, venc)) < 0 || (aenc && (ret = add_stream(m->oc, aenc)) < 0))
		goto end;
	/* one PES per frame; no CBR padding (adaptation fields inside video PES freeze JSMpeg) */
	av_dict_set(&opts, "pes_payload_size", "0", 0);
	ret = avformat_write_header(m->oc, &opts);
	if (ret < 0)
		goto end;
	m->header_written = true;
end:
	av_dict_free(&opts);
	if (ret < 0)
		vw_mux_close(m);
	return ret;
}

AVStream *vw_mux_video(struct vw_mux *m)
{
	return m->oc->streams[0];
}

AVStream *vw_mux_audio(struct vw_mux *m)
{
	return m->oc->nb_streams > 1 ? m->oc->streams[1] : NULL;
}

int vw_mux_write(struct vw_mux *m, AVPacket *pkt, bool key, int64_t capture_ns)
{
	bool video = pkt->stream_index == 0;
	int ret;

	/* a keyframe chunk starts with the keyframe (and the PAT/PMT the muxer puts before it) */
	if (video && key && m->held)
		commit(m, false, m->held_capture_ns);
	ret = av_write_frame(m->oc, pkt);
	avio_flush(m->oc->pb);
	if (!video && (!m->held || capture_ns - m->held_capture_ns < VW_MUX_AUDIO_HOLD_NS)) {
		if (!m->held)
			m->held_capture_ns = capture_ns;
		m->held = true;
		return ret;
	}
	commit(m, key, m->held && m->held_capture_ns < capture_ns ? m->held_capture_ns : capture_ns);
	return ret;
}

void vw_mux_close(struct vw_mux *m)
{
	if (m->oc) {
		if (m->header_written) {
			av_write_trailer(m->oc);
			avio_flush(m->oc->pb);
			commit(m, false, 0);
		}
		if (m->oc->pb) {
			av_freep(&m->oc->pb->buffer);
			avio_context_free(&m->oc->pb);
		}
		avformat_free_context(m->oc);
		m->oc = NULL;
	}
	av_freep(&m->pending);
	m->len = m->cap = 0;
}
