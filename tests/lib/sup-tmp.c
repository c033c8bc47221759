#include "tests/lib/sup-tmp.h"

#include <stdio.h>

#include "src/util/log.h"

struct vmsup *test_sup_new(struct event_base *base, const char *dir, const char *qemu, char **err)
{
	struct vmsup_config cfg;
	struct vmsup *sup = NULL;
	char state[256], run[256];

	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	vmsup_log_setup(VMSUP_LOG_WARN, VMSUP_LOG_TEXT);
	if (vmsup_config_init(&cfg, err))
		return NULL;
	if (!vmsup_config_set(&cfg, "state_dir", state, err) &&
	    !vmsup_config_set(&cfg, "run_dir", run, err) &&
	    !vmsup_config_set(&cfg, "accel", "tcg", err) &&
	    (!qemu || !vmsup_config_set(&cfg, "qemu", qemu, err)) &&
	    !vmsup_config_finish(&cfg, err))
		sup = vmsup_new(base, &cfg, err);
	vmsup_config_release(&cfg);
	return sup;
}
