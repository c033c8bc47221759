#include "src/util/b64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

void b64_encode_into(const void *data, size_t n, char *o)
{
	const unsigned char *in = data;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = alphabet[v >> 6 & 63];
		*o++ = alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		*o++ = alphabet[v >> 18 & 63];
		*o++ = alphabet[v >> 12 & 63];
		*o++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*o++ = '=';
	}
}

char *b64_encode(const void *data, size_t n)
{
	char *out;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 2) {
		errno = ENOMEM;
		return NULL;
	}
	out = malloc(b64_encoded_len(n) + 1);
	if (!out)
		return NULL;
	b64_encode_into(data, n, out);
	out[b64_encoded_len(n)] = '\0';
	return out;
}

static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int b64_decode_into(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
	size_t i, o = 0, pad = 0;

	if (n % 4) {
		errno = EINVAL;
		return -1;
	}
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	/* each group is read whole before its (fewer) bytes are written, at
	 * or before where it began: out may be s */
	for (i = 0; i < n; i += 4) {
		int last = i + 4 == n;
		int v[4], k;

		for (k = 0; k < 4; k++) {
			if (last && s[i + k] == '=' && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			v[k] = sextet((unsigned char)s[i + k]);
			if (v[k] < 0)
				goto bad;
		}
		uint32_t w =
		    (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | v[3];
		out[o++] = w >> 16 & 0xff;
		if (!last || pad < 2)
			out[o++] = w >> 8 & 0xff;
		else if (w & 0xffff)
			goto bad; /* non-canonical: bits set under the padding */
		if (!last || pad < 1)
			out[o++] = w & 0xff;
		else if (w & 0xff)
			goto bad;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

unsigned char *b64_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out;

	if (n % 4) {
		errno = EINVAL;
		return NULL;
	}
	out = malloc(n / 4 * 3 + 1);
	if (!out)
		return NULL;
	if (b64_decode_into(s, n, out, outlen)) {
		free(out);
		errno = EINVAL;
		return NULL;
	}
	return out;
}
