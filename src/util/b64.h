/*
 * Base64 (RFC 4648, standard alphabet, padded), because QGA carries
 * guest-exec input and output in it and neither json-c nor libevent has a
 * codec.
 */
#ifndef VMSUP_B64_H
#define VMSUP_B64_H

#include <stddef.h>

/* Encoded length of n bytes, without the terminating NUL. */
size_t b64_encoded_len(size_t n);

/* Encode n bytes; returns a malloc'd NUL-terminated string, or NULL (ENOMEM). */
char *b64_encode(const void *data, size_t n);

/* Encode n bytes into out (b64_encoded_len(n) bytes, no NUL written). */
void b64_encode_into(const void *data, size_t n, char *out);

/*
 * Decode a padded base64 string of length n (whitespace not allowed).
 * Returns a malloc'd buffer (NUL-terminated for convenience, the NUL not
 * counted in *outlen), or NULL with errno = EINVAL on malformed input.
 */
unsigned char *b64_decode(const char *s, size_t n, size_t *outlen);

/*
 * The same into out (room for n / 4 * 3 + 1 bytes, NUL-terminated), which
 * may be s itself: the decoded bytes never overtake the text still to be
 * read, so a large output is decoded where it lies, without a second
 * buffer. 0, or -1 with errno = EINVAL (out then holds garbage).
 */
int b64_decode_into(const char *s, size_t n, unsigned char *out, size_t *outlen);

#endif
