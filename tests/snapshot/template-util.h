/* Shared by the template tests and bench/vmsupd-template: a daemon, the test guest, helpers. */
#ifndef TESTS_VMSUPD_TEMPLATE_UTIL_H
#define TESTS_VMSUPD_TEMPLATE_UTIL_H

#include <json-c/json.h>

#include "tests/lib/daemon-harness.h"

/* The test guest's kernel/initrd ($VMSUP_GUEST_DIR, else /tmp/guest); skips without qemu. */
void tt_guest(char kernel[512], char initrd[512]);
/* The kernel command line of the test guest whose kernel tt_guest gave (its
 * DIR/append), "console=ttyS0" without one. */
void tt_guest_append(const char *kernel, char append[512]);
/* A VM spec body (JSON text, malloc'd) booting the test guest. */
char *tt_spec(const char *name, int mem_mib);
/* Start a daemon; also registers it for tt_kill_all at exit. */
void tt_start(struct tdaemon *d);
/* ... with more config lines (as td_start). */
void tt_start_conf(struct tdaemon *d, const char *extra_conf);
/* Stop it and kill every qemu under its run dir, template VMs (run/tmpl) included. */
void tt_stop(struct tdaemon *d);
/* Number of live qemu processes whose pidfile lies under d's run dir. */
int tt_qemus(struct tdaemon *d);

/* POST /v1/vms/NAME/exec of argv via sh -c; returns stdout (malloc'd) or NULL; *status. */
char *tt_sh(struct tdaemon *d, const char *vm, const char *script, int *status);
/* Wait (bounded) until GET /v1/vms/NAME says agent ready; the VM object or NULL. */
struct json_object *tt_wait_agent(struct tdaemon *d, const char *vm, int timeout_ms);

#endif
