/* vw_fakealsa: what the fake ALSA plugins (the microphone vw_fakemic.c and its mixer
 * vw_fakemixer.c) share: reading their block of the ALSA configuration. Compiled into each plugin,
 * hidden in both. */
#ifndef VW_FAKEALSA_H
#define VW_FAKEALSA_H

#include <alsa/asoundlib.h>

/* Walks a plugin's configuration block: passes over the fields every block has (comment, type,
 * hint), reads `file` as a string into *file (left as it is when the block has none), and hands
 * every other field to field(n, id, ctx) (NULL: none is known). `who` starts the error lines.
 * 0, or the first error (-EINVAL for a field that is not a string or not known). */
__attribute__((visibility("hidden"))) int vw_fakealsa_fields(snd_config_t *conf, const char *who,
							     const char **file,
							     int (*field)(snd_config_t *n, const char *id, void *ctx),
							     void *ctx);

#endif
