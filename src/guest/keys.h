/*
 * The supervisor's ssh key, pushed into guests by the agent module.
 */
#ifndef VMSUP_KEYS_H
#define VMSUP_KEYS_H

#include "qmp/qmp.h"

/*
 * Make sure the ed25519 key pair at path (private key; public at path.pub)
 * exists: if neither exists it is generated once with
 * `ssh-keygen -t ed25519 -N '' -f PATH -C vmsupd` (the directory must
 * exist); if only the private key exists the public one is derived with
 * `ssh-keygen -y`. *pubkey receives the public key line (malloc'd, no
 * newline). ssh_keygen may be NULL for "ssh-keygen" from $PATH.
 * Returns 0, or -1 with err (class "GenericError").
 */
int keys_ensure(const char *path, const char *ssh_keygen, char **pubkey, struct qmp_error *err);

/* Read and validate a public key file ("ssh-..." or "ecdsa-..." line). */
int keys_read_pub(const char *pubpath, char **pubkey, struct qmp_error *err);

#endif
