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

/*
 * Decode a padded base64 string of length n (whitespace not allowed).
 * Returns a malloc'd buffer (NUL-terminated for convenience, the NUL not
 * counted in *outlen), or NULL with errno = EINVAL on malformed input.
 */
unsigned char *b64_decode(const char *s, size_t n, size_t *outlen);

#endif
