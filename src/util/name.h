/* VM names: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}; they become file names. */
#ifndef VMSUP_NAME_H
#define VMSUP_NAME_H

#define VMSUP_NAME_MAX 63

/* 0 if valid; -1 with *err saying why (err may be NULL). */
int vmsup_name_check(const char *name, char **err);

#endif
