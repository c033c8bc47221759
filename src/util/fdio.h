/* Whole writes to a file descriptor. */
#ifndef VMSUP_FDIO_H
#define VMSUP_FDIO_H

#include <stddef.h>

/* write(2) all n bytes, through EINTR and short writes; 0 or -1 (errno). */
int vmsup_write_all(int fd, const void *p, size_t n);

#endif
