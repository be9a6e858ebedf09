/* vw_fakealsa: see vw_fakealsa.h. */
#include "vw_fakealsa.h"

#include <errno.h>
#include <string.h>

int vw_fakealsa_fields(snd_config_t *conf, const char *who, const char **file,
		       int (*field)(snd_config_t *n, const char *id, void *ctx), void *ctx)
{
	snd_config_iterator_t i, next;
	int ret;

	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *id;

		if (snd_config_get_id(n, &id) < 0)
			continue;
		if (!strcmp(id, "comment") || !strcmp(id, "type") || !strcmp(id, "hint"))
			continue;
		if (!strcmp(id, "file")) {
			if (snd_config_get_string(n, file) < 0) {
				SNDERR("%s: file must be a string", who);
				return -EINVAL;
			}
			continue;
		}
		if (!field) {
			SNDERR("%s: unknown field %s", who, id);
			return -EINVAL;
		}
		ret = field(n, id, ctx);
		if (ret < 0)
			return ret;
	}
	return 0;
}
