/* vw_feed_conf: see vw_feed_conf.h. */
#include "vw_feed_conf.h"

#include <errno.h>
#include <string.h>

static const char *const feed_types[] = {"v4l2", "alsa", "file", "testsrc", "ingest"};
#define N_FEED_TYPES 5

const char *vw_feed_type_name(enum vw_feed_type t)
{
	return (unsigned)t < N_FEED_TYPES ? feed_types[t] : "?";
}

int vw_feed_type_parse(const char *s, enum vw_feed_type *t)
{
	for (int i = 0; i < N_FEED_TYPES; i++)
		if (!strcmp(s, feed_types[i])) {
			*t = (enum vw_feed_type)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const ingest_formats[] = {"auto", "ts", "raw"};

const char *vw_ingest_format_name(enum vw_ingest_format f)
{
	return (unsigned)f < 3 ? ingest_formats[f] : "?";
}

int vw_ingest_format_parse(const char *s, enum vw_ingest_format *f)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, ingest_formats[i])) {
			*f = (enum vw_ingest_format)i;
			return 0;
		}
	return -EINVAL;
}

bool vw_feed_has_video(const struct vw_feed_conf *f)
{
	return f->type != VW_FEED_ALSA && f->type != VW_FEED_INGEST;
}

bool vw_feed_has_audio(const struct vw_feed_conf *f)
{
	return f->type != VW_FEED_V4L2 && f->type != VW_FEED_INGEST;
}

bool vw_feed_conf_equal(const struct vw_feed_conf *a, const struct vw_feed_conf *b)
{
	if (a->n_controls != b->n_controls || strcmp(a->mixer, b->mixer) || strcmp(a->mixer_element, b->mixer_element))
		return false;
	for (int i = 0; i < a->n_controls; i++) /* in order: the order is the order of application */
		if (strcmp(a->controls[i].name, b->controls[i].name) || strcmp(a->controls[i].value, b->controls[i].value))
			return false;
	return a->type == b->type && !strcmp(a->name, b->name) && !strcmp(a->device, b->device) &&
	       !strcmp(a->path, b->path) && a->loop == b->loop && a->width == b->width && a->height == b->height &&
	       a->fps == b->fps && a->format == b->format && a->ingest_format == b->ingest_format && a->rate == b->rate && a->channels == b->channels;
}
