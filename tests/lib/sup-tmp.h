/*
 * The supervisor in-process for a test: its state_dir and run_dir under
 * a temp dir the test made (and removes), accel tcg.
 */
#ifndef VMSUP_TEST_SUP_TMP_H
#define VMSUP_TEST_SUP_TMP_H

#include "src/core/supervisor.h"

/* qemu: the emulator to probe and run (NULL: the configured default; a
 * test that runs none may pass /bin/true, which answers the probe).
 * NULL with *err on failure. */
struct vmsup *test_sup_new(struct event_base *base, const char *dir, const char *qemu, char **err);

#endif
