/* vw_state: the state file, where rules changed at run time are kept. Owns its atomic
 * replacement (a temporary file in the same directory, fsync, rename, fsync of the directory):
 * a crash or power cut at any moment leaves the old document or the new one, never a mix, and a
 * change is acknowledged only once it is on disk. Also owns setting a broken file aside. */
#ifndef VW_STATE_H
#define VW_STATE_H

#include <stddef.h>

#include <jansson.h>

/* Writes `doc` to `path` atomically and durably. 0, or -errno with the reason in err. */
int vw_state_save(const char *path, const json_t *doc, char *err, size_t errlen);
/* Reads `path`: 0 and *doc, -ENOENT when there is none yet, or -EINVAL/-errno with the reason. */
int vw_state_load(const char *path, json_t **doc, char *err, size_t errlen);
/* Renames a broken state file to PATH.broken-UNIXTIME so the next save does not destroy it;
 * writes the new name to `moved`. */
int vw_state_set_aside(const char *path, char *moved, size_t movedlen);

#endif
