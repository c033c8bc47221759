/*
 * A supervisor for the fuzz targets that need one (the API, the state
 * file): its run_dir, state_dir and socket in a fresh temp dir (in
 * /dev/shm, else /tmp; removed at exit), and in place of qemu a script that answers -version and
 * nothing else, so that no input can make a target run a VM.
 */
#ifndef VMSUP_FUZZ_SUP_H
#define VMSUP_FUZZ_SUP_H

#include <event2/event.h>

#include "src/core/supervisor.h"

struct fuzz_sup {
	struct event_base *base;
	struct vmsup *sup;
	char dir[64];  /* the temp dir */
	char sock[96]; /* dir/api.sock, for a target that serves the API */
};

/* Set up once (aborts on failure: a target without it tests nothing). */
struct fuzz_sup *fuzz_sup_get(void);

#endif
