/*
 * A template's RAM as restored clones see it: a sealed in-memory copy.
 *
 * A clone maps its template's RAM privately (copy-on-write), but qemu 7.2
 * opens the backing file read-write and, when the guest gives pages back
 * (balloon inflate, free page reporting), ram_block_discard_range()
 * fallocate(PUNCH_HOLE)s the file itself even for a share=off mapping: the
 * template loses those pages for every later clone. qemu 7.2 has no
 * "open read-only, map writable" option (rom=off came in 8.2), and any file
 * qemu cannot open read-write stops it from starting.
 *
 * So qemu never gets the template's file. The daemon copies it once into a
 * memfd and seals it (F_SEAL_WRITE, SHRINK, GROW, then SEAL): qemu opens
 * /proc/self/fd/N read-write and maps it privately as before, but the
 * kernel refuses every write to the memfd itself (write, shared writable
 * mmap, fallocate, ftruncate; EPERM), whoever asks, root or a compromised
 * qemu. A balloon discard in a clone then fails (qemu logs it) and the
 * page stays the clone's; the template stays byte-identical.
 *
 * One copy per template file, shared by every clone on the host (pages the
 * template never wrote stay holes); made at the first restore after the
 * daemon starts, again if the file changed (new inode, size or ctime).
 */
#ifndef VMSUP_TMPL_RAM_H
#define VMSUP_TMPL_RAM_H

#include <stdint.h>

/*
 * A descriptor (the caller closes it) of the sealed copy of ram_path,
 * which must be a regular file of exactly bytes and, when the copy is made,
 * hash to sha256 (hex; NULL: not recorded). -1 with *err naming the file.
 */
int tmpl_ram_fd(const char *ram_path, uint64_t bytes, const char *sha256, char **err);

/* Forget the copy of ram_path (its template is gone); clones keep theirs. */
void tmpl_ram_forget(const char *ram_path);

#endif
