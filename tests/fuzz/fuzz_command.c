/* Fuzz target: vw_api_command, the WS/JSON control channel's commands (vw's VW_API verbs: add,
 * list, delete, healthcheck). Input: up to 8 messages separated by NUL bytes, applied in order
 * on one state document as vw_control applies them. Checked: every command is answered with
 * JSON and status 200 (the channel has none: errors travel as {"error":...}); a command that
 * changes nothing leaves the state as it was; a state the channel accepted validates, runs,
 * keeps the channel itself and survives a save and reload; tokens never come back. */
#include "vw_api.h"
#include "vw_fuzz.h"
#include "vw_fuzz_api.h"

#include <jansson.h>

#define MAX_COMMANDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *state = vw_api_state_new();
	struct vw_fuzz_records recs;
	const uint8_t *msg;
	size_t len;
	/* the file's token may come back only where a command put it (in a URL, say) */
	bool has_token = memmem(data, size, VW_FUZZ_FILE_TOKEN, strlen(VW_FUZZ_FILE_TOKEN)) != NULL;

	VW_FUZZ_CHECK(state);
	vw_fuzz_records_init(&recs, data, size, 0);
	for (int i = 0; i < MAX_COMMANDS && vw_fuzz_record(&recs, &msg, &len); i++) {
		struct vw_api_reply r = {0};
		json_t *before = json_deep_copy(state);
		VW_FUZZ_CHECK(vw_api_command(vw_fuzz_api_base(), state, (const char *)msg, len, &r) == 0); /* -ENOMEM only */
		vw_fuzz_api_check_reply(&r, has_token);
		VW_FUZZ_CHECK(r.status == 200);
		if (r.changed)
			vw_fuzz_api_check_state(vw_fuzz_api_base(), state, true);
		else
			VW_FUZZ_CHECK(json_equal(before, state));
		json_decref(before);
		free(r.body);
	}
	json_decref(state);
	return 0;
}
