/* Single-quoting for /bin/sh, for the scripts the executor writes into the
 * sandbox (the launcher, the health check). */
#ifndef VMEXEC_SHQUOTE_H
#define VMEXEC_SHQUOTE_H

#include <stdio.h>

/* s as one single-quoted /bin/sh word. */
void sh_quote(FILE *f, const char *s);

#endif
