/* vw_text: see vw_text.h. */
#include "vw_text.h"

size_t vw_utf8_len(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	/* the second byte's range rules out overlong forms, surrogates and what lies beyond U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) /* a terminator is no continuation byte: no read beyond it */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

void vw_utf8_sanitize(char *s)
{
	while (*s) {
		size_t n = vw_utf8_len(s);
		if (!n) {
			*s++ = '?';
			continue;
		}
		s += n;
	}
}
