/* vw_text: UTF-8 for text that ends up in JSON. Names from drivers and USB descriptors are cut at
 * a fixed length, possibly inside a character, and error messages may quote what a client sent;
 * jansson refuses a string that is not UTF-8 (and with it the whole object). Pure. */
#ifndef VW_TEXT_H
#define VW_TEXT_H

#include <stddef.h>

/* Bytes of the UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates, nothing beyond
 * U+10FFFF), or 0 if none starts there. Reads no further than a terminating 0. */
size_t vw_utf8_len(const char *s);
/* Replaces, in place, every byte of `s` that does not belong to a valid UTF-8 sequence with '?'. */
void vw_utf8_sanitize(char *s);

#endif
