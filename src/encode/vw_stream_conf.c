/* vw_stream_conf: see vw_stream_conf.h. */
#include "vw_stream_conf.h"

#include <string.h>

void vw_stream_conf_defaults(struct vw_stream_conf *s)
{
	s->width = 640;
	s->height = 480;
	s->fps = 25;
	s->video_bitrate = 1000000;
	s->audio_bitrate = 128000;
	s->audio_rate = 44100;
	s->audio_channels = 2;
}

bool vw_stream_conf_equal(const struct vw_stream_conf *a, const struct vw_stream_conf *b)
{
	if (a->n_feeds != b->n_feeds || a->passthrough != b->passthrough)
		return false;
	for (int i = 0; i < a->n_feeds; i++)
		if (strcmp(a->feeds[i], b->feeds[i]))
			return false;
	return !strcmp(a->name, b->name) && !strcmp(a->video_feed, b->video_feed) &&
	       !strcmp(a->audio_feed, b->audio_feed) && a->width == b->width && a->height == b->height &&
	       a->fps == b->fps && a->video_bitrate == b->video_bitrate && a->audio_bitrate == b->audio_bitrate &&
	       a->audio_rate == b->audio_rate && a->audio_channels == b->audio_channels && a->gop == b->gop &&
	       a->mute == b->mute;
}
