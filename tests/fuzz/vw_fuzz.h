/* vw_fuzz: what the libFuzzer targets under tests/fuzz share. Owns taking a fuzzer input apart
 * (records split at a separator byte, piece sizes drawn from a few leading bytes) and the one way
 * a target reports a broken invariant (abort, so libFuzzer keeps the input as a crash). Header
 * only: every target is one .c file linked with -fsanitize=fuzzer against libvw. */
#ifndef VW_FUZZ_H
#define VW_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A plain assert() disappears under NDEBUG (RelWithDebInfo): this one never does. */
#define VW_FUZZ_CHECK(cond)                                                                                            \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);                   \
			abort();                                                                                       \
		}                                                                                                      \
	} while (0)

/* The input as consecutive records ending at `sep` (the last one at the end of the input). */
struct vw_fuzz_records {
	const uint8_t *p;
	size_t left;
	bool more;
	uint8_t sep;
};

static inline void vw_fuzz_records_init(struct vw_fuzz_records *r, const uint8_t *data, size_t size, uint8_t sep)
{
	*r = (struct vw_fuzz_records){.p = data, .left = size, .more = true, .sep = sep};
}

static inline bool vw_fuzz_record(struct vw_fuzz_records *r, const uint8_t **rec, size_t *len)
{
	if (!r->more)
		return false;
	const uint8_t *e = memchr(r->p, r->sep, r->left);
	*rec = r->p;
	*len = e ? (size_t)(e - r->p) : r->left;
	r->more = e != NULL;
	r->p += *len + (e != NULL);
	r->left -= *len + (e != NULL);
	return true;
}

/* Piece sizes for feeding a byte stream in bits: each size byte b gives b + 1 bytes (b == 255:
 * everything left), and the sizes repeat, so a short table still covers a long input. */
struct vw_fuzz_pieces {
	const uint8_t *sizes;
	size_t n, next;
};

static inline size_t vw_fuzz_piece(struct vw_fuzz_pieces *ps, size_t left)
{
	if (!ps->n)
		return left;
	uint8_t b = ps->sizes[ps->next++ % ps->n];
	size_t n = b == 255 ? left : (size_t)b + 1;
	return n < left ? n : left;
}

/* A NUL-terminated, malloc'd copy (the parsers under test take C strings). */
static inline char *vw_fuzz_strndup(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

#endif
