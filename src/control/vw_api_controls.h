/* vw_api_controls: the API of device settings, /api/feeds/FEED/controls (a control's JSON is
 * vw_control_info_json, the shape `vw devices --json --controls` prints too). */
#ifndef VW_API_CONTROLS_H
#define VW_API_CONTROLS_H

#include <stddef.h>

#include "vw_config.h"
#include "vw_controls.h"

struct vw_app;
struct vw_api_reply;
/* GET / POST /api/feeds/FEED/controls (control thread): `eff` is the configuration that runs on
 * `app`. GET lists the device's controls; POST {"name": value, ...} checks every item against the
 * device first (nothing changes if one is bad), then sets them and remembers them in the running
 * feed. Statuses: 404 unknown feed, 400 not a v4l2/alsa feed or a bad item, 503 device absent.
 * Returns 0 (the reply says the outcome) or -ENOMEM. */
int vw_api_controls(struct vw_app *app, const struct vw_config *eff, const char *method, const char *feed,
                    const char *body, size_t len, struct vw_api_reply *r);

#endif
