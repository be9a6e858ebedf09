/* vw_fuzz_api: see vw_fuzz_api.h. */
#include "vw_fuzz_api.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vw_fuzz.h"

static const char base_text[] = "[http]\napi_token = " VW_FUZZ_API_TOKEN "\nview_token = " VW_FUZZ_VIEW_TOKEN "\n"
				"[feed cam]\ntype = testsrc\n[feed mic]\ntype = testsrc\n"
				"[feed enc]\ntype = ingest\n"
				"[stream live]\nfeeds = cam, mic\nsize = 320x240\n"
				"[stream pass]\nfeeds = enc\n"
				"[recorder disk]\nstream = live\ndir = /nonexistent\n"
				"[destination relay]\nstream = live\nurl = ws://127.0.0.1:9/live\n"
				"token = " VW_FUZZ_FILE_TOKEN "\n"
				"[api]\nurl = ws://127.0.0.1:9/api\n";

/* Parsed once, read only (every vw_api call takes it const): a 1 MiB struct parsed per run would
 * cost more than the rest of the run. A fuzz target's own state, as libFuzzer intends. */
static struct vw_config *file_conf;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[700];

	(void)argc;
	(void)argv;
	json_object_seed(1); /* jansson seeds its hash from /dev/urandom otherwise: runs must repeat */
	file_conf = malloc(sizeof(*file_conf));
	VW_FUZZ_CHECK(file_conf && vw_config_parse(file_conf, "base.conf", base_text, err, sizeof(err)) == 0);
	return 0;
}

const struct vw_config *vw_fuzz_api_base(void)
{
	return file_conf;
}

static bool has_token_key(const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_array(j)) {
		json_array_foreach((json_t *)j, i, v)
		{
			if (has_token_key(v))
				return true;
		}
	}
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
		{
			if (!strcmp(k, "token") || has_token_key(v))
				return true;
		}
	}
	return false;
}

void vw_fuzz_api_check_reply(const struct vw_api_reply *r, bool input_has_token)
{
	VW_FUZZ_CHECK(r->status >= 200 && r->status <= 599 && r->body);
	json_t *j = json_loads(r->body, JSON_DECODE_ANY, NULL);
	VW_FUZZ_CHECK(j);
	/* tokens never come back: not in a listing, not in an echo */
	VW_FUZZ_CHECK(!has_token_key(j));
	VW_FUZZ_CHECK(input_has_token || !strstr(r->body, VW_FUZZ_FILE_TOKEN));
	json_decref(j);
}

void vw_fuzz_api_check_state(const struct vw_config *base, const json_t *state, bool channel)
{
	char err[700];
	struct vw_config *eff = malloc(sizeof(*eff));

	VW_FUZZ_CHECK(eff);
	VW_FUZZ_CHECK(vw_api_state_check(base, state, err, sizeof(err)) == 0);
	VW_FUZZ_CHECK(vw_api_effective(base, state, eff, err, sizeof(err)) == 0);
	VW_FUZZ_CHECK(eff->n_dests <= VW_MAX_DESTS && eff->n_streams <= VW_MAX_STREAMS && eff->n_feeds <= VW_MAX_FEEDS);
	if (channel)
		VW_FUZZ_CHECK(eff->has_api && vw_config_dest(eff, VW_API_RULE));
	free(eff);
	char *text = json_dumps(state, JSON_COMPACT);
	json_t *back = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
	VW_FUZZ_CHECK(back && json_equal(back, state)); /* equal, so it validates as well */
	json_decref(back);
	free(text);
}
