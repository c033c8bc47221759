/*
 * What identifies a template's files: their sha256, recorded in meta.json
 * at save ("state_sha256", "ram_sha256") and checked before a restore, so
 * a file changed on disk (by hand, by a bug, by a disk) is refused with its
 * name instead of restored into guests that crash.
 */
#ifndef VMSUP_TMPL_HASH_H
#define VMSUP_TMPL_HASH_H

#include <stddef.h>

#define TMPL_SHA256_HEX 65 /* 64 hex digits and a NUL */

struct tmpl_hash;

/* Incremental: new, add any number of times, end (frees; out may be NULL). */
struct tmpl_hash *tmpl_hash_new(void);
int tmpl_hash_add(struct tmpl_hash *h, const void *p, size_t n);
void tmpl_hash_end(struct tmpl_hash *h, char out[TMPL_SHA256_HEX]);

/* The whole file at path. -1 with *err naming it. */
int tmpl_hash_path(const char *path, char out[TMPL_SHA256_HEX], char **err);

/* The whole file at path (into out, which may be NULL) against recorded
 * (hex; NULL: nothing was recorded, the file is only read). -1 with *err
 * naming the file (tmpl_hash_mismatch's words on a mismatch). */
int tmpl_hash_check(const char *path, const char *recorded, char out[TMPL_SHA256_HEX], char **err);

/* A file that no longer hashes as at save: always -1, *err names it. */
int tmpl_hash_mismatch(const char *path, char **err);

#endif
