/* Fuzz target: vw_config_parse, the configuration file parser (inih underneath, then vw's own
 * sections, values and cross-checks). Input: the file's text. A refused file must say where and
 * why; an accepted one must hold only what the rest of vw relies on (valid names, URLs that
 * parse, a listen address that parses, limits kept), and must run: the API's effective
 * configuration over an empty state, which is what vw builds at start, has to succeed. */
#include "vw_api.h"
#include "vw_config.h"
#include "vw_fuzz.h"

#include <errno.h>

#include <jansson.h>

#define NAME "fuzz.conf"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	json_object_seed(1); /* jansson seeds its hash from /dev/urandom otherwise: runs must repeat */
	return 0;
}

static void check_accepted(const struct vw_config *cfg)
{
	char err[700], host[VW_NAME_MAX];
	int port;

	VW_FUZZ_CHECK(cfg->n_feeds >= 0 && cfg->n_feeds <= VW_MAX_FEEDS);
	VW_FUZZ_CHECK(cfg->n_streams >= 0 && cfg->n_streams <= VW_MAX_STREAMS);
	VW_FUZZ_CHECK(cfg->n_recorders >= 0 && cfg->n_recorders <= VW_MAX_RECORDERS);
	VW_FUZZ_CHECK(cfg->n_dests >= 0 && cfg->n_dests <= VW_MAX_DESTS);
	if (*cfg->http.listen)
		VW_FUZZ_CHECK(vw_parse_listen(cfg->http.listen, host, sizeof(host), &port) == 0);
	for (int i = 0; i < cfg->n_feeds; i++) {
		const struct vw_feed_conf *f = &cfg->feeds[i];
		VW_FUZZ_CHECK(vw_name_valid(f->name, false) && vw_config_feed(cfg, f->name) == f);
		VW_FUZZ_CHECK(f->n_controls >= 0 && f->n_controls <= VW_MAX_CONTROLS);
		VW_FUZZ_CHECK(vw_feed_conf_equal(f, f));
	}
	for (int i = 0; i < cfg->n_streams; i++) {
		const struct vw_stream_conf *s = &cfg->streams[i];
		VW_FUZZ_CHECK(vw_name_valid(s->name, true) && vw_config_stream(cfg, s->name) == s);
		VW_FUZZ_CHECK(s->n_feeds >= 1 && s->n_feeds <= VW_STREAM_FEEDS);
		for (int k = 0; k < s->n_feeds; k++)
			VW_FUZZ_CHECK(vw_config_feed(cfg, s->feeds[k]) != NULL);
		VW_FUZZ_CHECK(vw_stream_conf_equal(s, s));
	}
	for (int i = 0; i < cfg->n_recorders; i++)
		VW_FUZZ_CHECK(vw_config_source_known(cfg, cfg->recorders[i].stream));
	for (int i = 0; i < cfg->n_dests; i++) {
		const struct vw_dest_conf *d = &cfg->dests[i];
		VW_FUZZ_CHECK(vw_config_dest(cfg, d->name) == d && vw_config_source_known(cfg, d->stream));
		VW_FUZZ_CHECK(vw_dest_conf_check(d, err, sizeof(err)) == 0);
		VW_FUZZ_CHECK(vw_dest_conf_equal(d, d));
	}
	if (cfg->has_api)
		VW_FUZZ_CHECK(vw_dest_conf_check(&cfg->api, err, sizeof(err)) == 0);

	/* what vw does at start: the file plus the (here empty) API state */
	json_t *state = vw_api_state_new();
	struct vw_config *eff = malloc(sizeof(*eff));
	VW_FUZZ_CHECK(state && eff);
	VW_FUZZ_CHECK(vw_api_state_check(cfg, state, err, sizeof(err)) == 0);
	VW_FUZZ_CHECK(vw_api_effective(cfg, state, eff, err, sizeof(err)) == 0);
	VW_FUZZ_CHECK(eff->n_dests <= VW_MAX_DESTS && eff->n_feeds <= VW_MAX_FEEDS);
	free(eff);
	json_decref(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vw_config *cfg = malloc(sizeof(*cfg));
	char *text = vw_fuzz_strndup(data, size);
	char err[1024] = "";

	if (!cfg || !text)
		goto out;
	int ret = vw_config_parse(cfg, NAME, text, err, sizeof(err));
	VW_FUZZ_CHECK(ret == 0 || ret == -EINVAL);
	if (ret == 0)
		check_accepted(cfg);
	else /* "FILE:LINE: message" or "FILE: message" */
		VW_FUZZ_CHECK(!strncmp(err, NAME ":", sizeof(NAME)) && strlen(err) > sizeof(NAME) + 1);
out:
	free(text);
	free(cfg);
	return 0;
}
