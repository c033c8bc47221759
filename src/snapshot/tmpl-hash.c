/* sha256 of template files, with libcrypto's EVP (see tmpl-hash.h). */
#include "src/snapshot/tmpl-hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "src/snapshot/snapshot-internal.h"

#define CHUNK (1u << 20)

struct tmpl_hash *tmpl_hash_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return (struct tmpl_hash *)c;
}

int tmpl_hash_add(struct tmpl_hash *h, const void *p, size_t n)
{
	return EVP_DigestUpdate((EVP_MD_CTX *)h, p, n) == 1 ? 0 : -1;
}

void tmpl_hash_end(struct tmpl_hash *h, char out[TMPL_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!h)
		return;
	if (EVP_DigestFinal_ex((EVP_MD_CTX *)h, md, &n) == 1 && out)
		for (unsigned int i = 0; i < n && i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free((EVP_MD_CTX *)h);
}

int tmpl_hash_path(const char *path, char out[TMPL_SHA256_HEX], char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct tmpl_hash *h = NULL;
	unsigned char *buf = NULL;
	off_t off = 0;
	ssize_t n;
	int ret = -1;

	if (fd < 0) {
		snap_seterr(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!(h = tmpl_hash_new()) || !(buf = malloc(CHUNK))) {
		snap_seterr(err, "out of memory");
		goto out;
	}
	while ((n = pread(fd, buf, CHUNK, off)) > 0) {
		if (tmpl_hash_add(h, buf, (size_t)n) < 0) {
			snap_seterr(err, "hashing %s failed", path);
			goto out;
		}
		off += n;
	}
	if (n < 0) {
		snap_seterr(err, "reading %s: %s", path, strerror(errno));
		goto out;
	}
	tmpl_hash_end(h, out);
	h = NULL;
	ret = 0;
out:
	tmpl_hash_end(h, NULL);
	free(buf);
	close(fd);
	return ret;
}

int tmpl_hash_mismatch(const char *path, char **err)
{
	snap_seterr(err,
		    "%s does not match the sha256 recorded when the template was saved "
		    "(damaged template: make it again)",
		    path);
	return -1;
}

int tmpl_hash_check(const char *path, const char *recorded, char out[TMPL_SHA256_HEX], char **err)
{
	char hex[TMPL_SHA256_HEX];

	if (tmpl_hash_path(path, hex, err))
		return -1;
	if (out)
		memcpy(out, hex, sizeof(hex));
	return recorded && strcmp(hex, recorded) ? tmpl_hash_mismatch(path, err) : 0;
}
