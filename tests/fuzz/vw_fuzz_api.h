/* vw_fuzz_api: what the two API fuzz targets (fuzz_http, fuzz_command) share. Owns the file
 * configuration they run on (tokens set, capture and ingest feeds, a file destination with a token,
 * the control channel) and the checks every reply and every accepted state must pass. */
#ifndef VW_FUZZ_API_H
#define VW_FUZZ_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "vw_api.h"
#include "vw_config.h"

#define VW_FUZZ_API_TOKEN "api-s3cret"
#define VW_FUZZ_VIEW_TOKEN "view-s3cret"
#define VW_FUZZ_INGEST_SECRET "ingest-key"
#define VW_FUZZ_FILE_TOKEN "t0ken-of-relay" /* a destination's token in the file */

/* The file configuration every API input is answered against. It is parsed once by the
 * LLVMFuzzerInitialize this file gives the targets that use it (which also seeds jansson's hash
 * so that runs repeat); aborts when it does not parse. */
const struct vw_config *vw_fuzz_api_base(void);

/* A reply: JSON, no "token" member anywhere, and the file's token only if the input held it. */
void vw_fuzz_api_check_reply(const struct vw_api_reply *r, bool input_has_token);

/* A state the API accepted: it validates, it runs, and it comes back the same from what
 * vw_state saves. `channel`: the control channel must still be there (the channel may move
 * itself but never remove itself; the HTTP API may remove it). */
void vw_fuzz_api_check_state(const struct vw_config *base, const json_t *state, bool channel);

#endif
